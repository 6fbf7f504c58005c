#!/bin/sh
# nats_tool.sh - `faas worker`: its usage errors and what it says when it cannot attach.
# (Its work is tested against a real server by test_nats.)
. "$top_srcdir/tests/tap.sh"
cd "$top_builddir" || exit 1
faas=./tools/faas
mod="$FAAS_TEST_MODULES/mod_nats.so"

$faas worker >/dev/null 2>&1; rc=$?
if [ $rc -eq 2 ]; then ok "worker without options exits 2"; else not_ok "worker without options (rc $rc)"; fi
$faas worker --nats nats://127.0.0.1:1 >/dev/null 2>&1; rc=$?
if [ $rc -eq 2 ]; then ok "worker without --module exits 2"; else not_ok "worker without --module (rc $rc)"; fi
$faas worker --nats nats://127.0.0.1:1 --module nocolon >/dev/null 2>&1; rc=$?
if [ $rc -eq 2 ]; then ok "a bad --module exits 2"; else not_ok "a bad --module (rc $rc)"; fi
$faas worker --nats nats://127.0.0.1:1 --module work="$mod":work --concurrency 0 >/dev/null 2>&1; rc=$?
if [ $rc -eq 2 ]; then ok "--concurrency 0 exits 2"; else not_ok "--concurrency 0 (rc $rc)"; fi
out=$($faas worker --nats nats://127.0.0.1:1 --module work="$mod":work 2>&1); rc=$?
if grep -q "FAAS_HAVE_NATS 1" config.h 2>/dev/null; then
    if [ $rc -eq 1 ] && echo "$out" | grep -q "cannot connect to nats://127.0.0.1:1"; then
        ok "no server: exits 1 and says so"
    else
        not_ok "no server (rc $rc)"; echo "$out" | sed 's/^/# /'
    fi
else
    if [ $rc -eq 1 ] && echo "$out" | grep -q "without NATS support"; then
        ok "built without libnats: exits 1 and says so"
    else
        not_ok "built without libnats (rc $rc)"; echo "$out" | sed 's/^/# /'
    fi
fi
# A functions file instead of --module: its errors, with their lines, before any attach.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/faas-worker.XXXXXX")
printf '[work]\nmodule = %s\nsymbol = work\nmemory_mb = lots\n' "$mod" >"$tmp/fns.ini"
out=$($faas worker --nats nats://127.0.0.1:1 "$tmp/fns.ini" 2>&1); rc=$?
if [ $rc -eq 2 ] && echo "$out" | grep -q "fns.ini:4: memory_mb = lots: not a whole number"; then
    ok "a bad functions file exits 2 with the line"
else
    not_ok "a bad functions file (rc $rc)"; echo "$out" | sed 's/^/# /'
fi
printf '[work]\nmodule = %s\nsymbol = work\nremote = true\n' "$mod" >"$tmp/fns.ini"
out=$($faas worker --nats nats://127.0.0.1:1 "$tmp/fns.ini" 2>&1); rc=$?
if [ $rc -eq 1 ]; then ok "a good functions file gets as far as the attach"
else not_ok "a good functions file (rc $rc)"; echo "$out" | sed 's/^/# /'; fi
rm -rf "$tmp"
done_testing
