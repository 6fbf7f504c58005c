#!/bin/sh
# tool.sh - the faas command: invoke, its exit codes and REPORT line, and the demo.
. "$top_srcdir/tests/tap.sh"
cd "$top_builddir" || exit 1
faas=./tools/faas
mods=$FAAS_MODULE_DIR
tmp=${TMPDIR:-/tmp}/faas-tool-$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

$faas invoke "$mods/echo.so" echo '{"a":1}' >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ] && [ "$(cat "$tmp/out")" = '{"a":1}' ]; then ok "invoke prints the reply"; else not_ok "invoke prints the reply (rc $rc)"; sed 's/^/# /' "$tmp/out" "$tmp/err"; fi
if grep -q "^REPORT RequestId: [0-9a-f-]*	Duration: [0-9.]* ms	Billed Duration: [0-9]* ms	Memory Size: 128 MB	Max Memory Used: 1 MB	Init Duration: [0-9.]* ms	$" "$tmp/err"; then ok "invoke prints AWS's REPORT line with Init Duration"; else not_ok "invoke prints the REPORT line"; sed 's/^/# /' "$tmp/err"; fi

printf '"from stdin, three words"' | $faas invoke --memory 256 "$mods/wordcount.so" wordcount - >"$tmp/out" 2>"$tmp/err"
if [ "$(cat "$tmp/out")" = '{"words":4,"chars":23}' ] && grep -q "Memory Size: 256 MB" "$tmp/err"; then ok "invoke reads the payload from stdin, --memory sets the size"; else not_ok "invoke - (stdin)"; sed 's/^/# /' "$tmp/out" "$tmp/err"; fi

$faas invoke "$mods/wordcount.so" wordcount '[1]' >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 1 ] && grep -q '"errorType":"InvalidInput"' "$tmp/out" && grep -q "FAAS_EHANDLER: InvalidInput" "$tmp/err"; then ok "a function error exits 1 with the error body"; else not_ok "function error (rc $rc)"; sed 's/^/# /' "$tmp/out" "$tmp/err"; fi

$faas invoke "$tmp/missing.so" f '{}' >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 1 ] && grep -q "FAAS_ELOAD: Runtime.LoadError: dlopen" "$tmp/err"; then ok "a missing module is Runtime.LoadError"; else not_ok "missing module (rc $rc)"; sed 's/^/# /' "$tmp/err"; fi

# --file: a functions file's versions and aliases, and a qualified name.
printf '[greet]\nmodule = %s/greet.so\n[version greet:1]\ndescription = first\n[alias greet:prod]\nversion = 1\n' "$mods" >"$tmp/fns.ini"
$faas invoke --file "$tmp/fns.ini" greet:prod '{}' >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ] && [ "$(cat "$tmp/out")" = '{"greeting":"hello"}' ] && grep -q "^faas: greet:prod ran version 1$" "$tmp/err" && grep -q "^REPORT RequestId" "$tmp/err"; then ok "invoke --file NAME:ALIAS runs the alias's version"; else not_ok "invoke --file greet:prod (rc $rc)"; sed 's/^/# /' "$tmp/out" "$tmp/err"; fi
$faas invoke --file "$tmp/fns.ini" greet '{}' >"$tmp/out" 2>"$tmp/err"
if grep -q '^faas: greet ran \$LATEST$' "$tmp/err"; then ok "invoke --file NAME runs \$LATEST"; else not_ok "invoke --file greet"; sed 's/^/# /' "$tmp/err"; fi
$faas invoke --file "$tmp/fns.ini" greet:9 '{}' >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 1 ] && grep -q "FAAS_ENOTFOUND: ResourceNotFoundException: Function not found: greet:9" "$tmp/err"; then ok "invoke --file of an unknown version is ResourceNotFoundException"; else not_ok "invoke --file greet:9 (rc $rc)"; sed 's/^/# /' "$tmp/err"; fi
printf '[greet]\nmodule = %s/greet.so\n[alias greet:prod]\nversion = 2\n' "$mods" >"$tmp/bad.ini"
$faas invoke --file "$tmp/bad.ini" greet:prod >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 2 ] && grep -q "bad.ini:3: \[alias greet:prod\]: version 2 is not declared" "$tmp/err"; then ok "invoke --file reports the file's errors with their lines"; else not_ok "invoke --file bad.ini (rc $rc)"; sed 's/^/# /' "$tmp/err"; fi

$faas invoke >/dev/null 2>&1; rc=$?
if [ $rc -eq 2 ]; then ok "usage errors exit 2"; else not_ok "usage errors exit 2 (got $rc)"; fi
$faas invoke --memory lots "$mods/echo.so" echo >/dev/null 2>&1; rc=$?
if [ $rc -eq 2 ]; then ok "a bad --memory exits 2"; else not_ok "a bad --memory exits 2 (got $rc)"; fi
check "faas version" sh -c "$faas version | grep -q '^faas [0-9]*\.[0-9]*\.[0-9]*$'"

$faas demo --modules "$mods" >"$tmp/demo" 2>&1
rc=$?
if [ $rc -eq 0 ]; then ok "faas demo runs"; else not_ok "faas demo runs (rc $rc)"; sed 's/^/# /' "$tmp/demo"; fi
for want in "  1    cold" "  2    warm" "FAAS_ETHROTTLED: TooManyRequestsException" \
            "first call: warm" "instances live = 0, wordcount.so mapped = no" \
            "call 2: cold again" "1,000,000 calls like these a month" \
            "load-tests a function and prices it" "shows a web console at /console" \
            "published greet:1, then the rebuilt module as greet:2" \
            "200 calls of greet:live: 180 ran version 1, 20 ran version 2" \
            "the canary report of greet:live (faas_canary_get)" \
            "   greet:1       90 %     180       0" "   greet:2       10 %      20       0" \
            "promoted: live = 2 alone; the next 20 calls ran version 2 20 times"; do
    if grep -qF "$want" "$tmp/demo"; then ok "demo shows: $want"; else not_ok "demo shows: $want"; fi
done
$faas demo --modules "$tmp" >/dev/null 2>&1; rc=$?
if [ $rc -eq 1 ]; then ok "demo without modules fails clearly"; else not_ok "demo without modules (rc $rc)"; fi
# serve --check grows with the file, in time and memory: 100,000 sections (a tag each, a
# dead_letter every tenth) within 10 s and 200 MB. It was quadratic (a linear search per
# section; 95,000 sections: 21-35 s) and held every function registered (366 MB).
awk -v mod="$mods/echo.so" 'BEGIN {
    for (i = 0; i < 100000; i++) {
        printf "[f%d]\nmodule = %s\nsymbol = echo\ntag = t%d\n", i, mod, i % 100
        if (i % 10 == 1) printf "dead_letter = f%d\n", i - 1
        print ""
    } }' >"$tmp/big.ini"
if command -v python3 >/dev/null 2>&1; then
    python3 - "$faas" "$tmp/big.ini" >"$tmp/out" 2>&1 <<'PY'
import resource, subprocess, sys, time
t = time.monotonic()
try:
    r = subprocess.run([sys.argv[1], "serve", "--check", sys.argv[2]], capture_output=True,
                       text=True, timeout=10)
except subprocess.TimeoutExpired:
    print("more than 10 s")
    sys.exit(1)
s = time.monotonic() - t
mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print("%.2f s, %.0f MB: %s%s" % (s, mb, r.stdout.strip(), r.stderr.strip()))
sys.exit(0 if r.returncode == 0 and "100000 functions, no error" in r.stdout and mb < 200
         else 1)
PY
    rc=$?
    if [ $rc -eq 0 ]; then ok "serve --check of 100,000 sections: $(cat "$tmp/out")"
    else not_ok "serve --check of 100,000 sections within 10 s and 200 MB"; sed 's/^/# /' "$tmp/out"; fi
else
    timeout 10 $faas serve --check "$tmp/big.ini" >"$tmp/out" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then ok "serve --check of 100,000 sections within 10 s (no python3: memory not measured)"
    else not_ok "serve --check of 100,000 sections within 10 s (rc $rc)"; sed 's/^/# /' "$tmp/out"; fi
fi
done_testing
