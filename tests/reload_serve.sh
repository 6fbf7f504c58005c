#!/bin/sh
# reload_serve.sh - `faas serve` with `reload = true`: a module rebuilt and renamed into
# place, or copied over in place, is the code the next HTTP call runs; a broken one keeps
# the old code serving. Skips without the HTTP gateway or curl.
. "$top_srcdir/tests/tap.sh"
cd "$top_builddir" || exit 1
if ! grep -q '^#define FAAS_HAVE_GATEWAY 1' config.h 2>/dev/null; then
    echo "1..0 # SKIP built without the HTTP gateway (libmicrohttpd)"
    exit 0
fi
if ! command -v curl >/dev/null 2>&1; then
    echo "1..0 # SKIP curl is missing"
    exit 0
fi
faas=./tools/faas
mods=$FAAS_TEST_MODULES
tmp=${TMPDIR:-/tmp}/faas-reload-$$
mkdir -p "$tmp"
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT

# A build writes its output beside the target and renames it into place.
install_mod() { cp "$mods/$1" "$tmp/fn.so.tmp" && mv -f "$tmp/fn.so.tmp" "$tmp/fn.so"; }
call() { curl -s -X POST --data '{}' "$url/2015-03-31/functions/fn/invocations"; }
# The answer WANT within 10 s (the follower waits 100 ms for the file to be quiet); each
# try is a call, no sleep.
await() {
    end=$(( $(date +%s) + 10 ))
    while [ "$(call)" != "$1" ] && [ "$(date +%s)" -lt "$end" ]; do :; done
    [ "$(call)" = "$1" ]
}

install_mod mod_update_a.so
cat >"$tmp/functions.ini" <<INI
[fn]
module = $tmp/fn.so
symbol = answer
reload = true
INI
mkfifo "$tmp/out"
$faas serve --listen 127.0.0.1:0 --no-spool "$tmp/functions.ini" >"$tmp/out" 2>"$tmp/err" &
pid=$!
exec 3<"$tmp/out"
read -r line <&3
url=${line##* on }
case $line in
    *serving*) ok "serve with reload = true starts ($url)" ;;
    *) not_ok "serve with reload = true starts: $line"; sed 's/^/# /' "$tmp/err"; done_testing ;;
esac

if [ "$(call)" = A ]; then ok "the registered code answers"; else not_ok "the registered code answers"; fi
install_mod mod_update_b.so
if await B; then ok "a module renamed into place answers the next calls"; else not_ok "renamed module: $(call)"; sed 's/^/# /' "$tmp/err"; fi
cp "$mods/mod_update_a.so" "$tmp/fn.so"
if await A; then ok "a module copied over in place answers the next calls"; else not_ok "copied module: $(call)"; sed 's/^/# /' "$tmp/err"; fi
install_mod mod_update_bad.so
# The failed update is not visible over HTTP but in the calls: give it the same 10 s to
# (not) happen, then one more good rename proves the follower still follows.
end=$(( $(date +%s) + 2 ))
bad=0
while [ "$(date +%s)" -lt "$end" ]; do [ "$(call)" = A ] || bad=1; done
if [ $bad -eq 0 ]; then ok "a module whose INIT fails keeps the old code serving"; else not_ok "a broken module: $(call)"; fi
install_mod mod_update_b.so
if await B; then ok "the follower follows on after a failed update"; else not_ok "after a failed update: $(call)"; fi

kill $pid
wait $pid
rc=$?
pid=
if [ $rc -eq 0 ]; then ok "serve stops cleanly on SIGTERM"; else not_ok "serve exit status $rc"; sed 's/^/# /' "$tmp/err"; fi
done_testing
