#!/bin/sh
# bench_tool.sh - faas bench: --calls gives that many calls, errors are counted, the cost
# forecast is priced on every preset, --memory repeats the run per size.
. "$top_srcdir/tests/tap.sh"
cd "$top_builddir" || exit 1
faas=./tools/faas
mods=$FAAS_MODULE_DIR
tmp=${TMPDIR:-/tmp}/faas-bench-$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
if ! command -v jq >/dev/null 2>&1; then skip "faas bench: jq is not installed"; done_testing; fi

$faas bench --calls 37 --concurrency 3 --json "$mods/echo.so" echo >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ] && [ "$(jq '.runs[0].calls' "$tmp/out")" = 37 ] &&
   [ "$(jq '.runs[0].errors' "$tmp/out")" = 0 ] &&
   [ "$(jq '.runs[0].cold + .runs[0].warm' "$tmp/out")" = 37 ] &&
   [ "$(jq '.runs[0].priced_calls' "$tmp/out")" = 37 ]; then ok "--calls 37 makes 37 calls, all priced"
else not_ok "--calls 37 (rc $rc)"; sed 's/^/# /' "$tmp/out" "$tmp/err"; fi
n=$(jq '.runs[0].million_calls_picousd | length' "$tmp/out")
if [ "$n" -ge 4 ] && [ "$(jq '.runs[0].million_calls_picousd["aws-lambda-x86"] >= 200000000000' "$tmp/out")" = true ]
then ok "1M calls priced on every preset ($n), at least AWS's request price"
else not_ok "1M calls priced on every preset"; sed 's/^/# /' "$tmp/out"; fi

# A functions file's alias: NAME:QUALIFIER is benched, the section's settings apply.
printf '[greet]\nmodule = %s/greet.so\nmemory_mb = 256\n[version greet:1]\n[alias greet:prod]\nversion = 1\n' "$mods" >"$tmp/v.ini"
$faas bench --calls 25 --json "$tmp/v.ini" greet:prod >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ] && [ "$(jq -r '.function' "$tmp/out")" = greet:prod ] &&
   [ "$(jq '.runs[0].calls' "$tmp/out")" = 25 ] && [ "$(jq '.runs[0].errors' "$tmp/out")" = 0 ] &&
   [ "$(jq '.runs[0].memory_mb' "$tmp/out")" = 256 ]; then ok "bench FILE NAME:ALIAS calls the alias"
else not_ok "bench FILE greet:prod (rc $rc)"; sed 's/^/# /' "$tmp/out" "$tmp/err"; fi
$faas bench --calls 5 "$tmp/v.ini" greet:5 >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 1 ] && grep -q "Function not found: greet:5" "$tmp/err"; then ok "bench of an unknown version says so"
else not_ok "bench FILE greet:5 (rc $rc)"; sed 's/^/# /' "$tmp/err"; fi

printf '[1]' >"$tmp/bad.json"
$faas bench --calls 20 --event "$tmp/bad.json" --json "$mods/wordcount.so" wordcount >"$tmp/out" 2>"$tmp/err"
if [ "$(jq '.runs[0].errors' "$tmp/out")" = 20 ] && [ "$(jq '.runs[0].errors_by_status.FAAS_EHANDLER' "$tmp/out")" = 20 ]
then ok "a failing function: every call counted as an error"
else not_ok "errors counted"; sed 's/^/# /' "$tmp/out" "$tmp/err"; fi

$faas bench --calls 10 --memory 128,1024 "$mods/echo.so" echo >"$tmp/out" 2>"$tmp/err"
if grep -q "^10 calls in .* at 128 MB" "$tmp/out" && grep -q "^10 calls in .* at 1024 MB" "$tmp/out" &&
   grep -q "Modelled: Lambda gives CPU in proportion" "$tmp/out" && grep -q "aws-lambda-x86" "$tmp/out"
then ok "--memory runs each size and prints the measured/modelled table"
else not_ok "--memory table"; sed 's/^/# /' "$tmp/out" "$tmp/err"; fi

printf '[f]\nmodule = %s\nsymbol = echo\nmemory_mb = 256\n' "$mods/echo.so" >"$tmp/fns.ini"
$faas bench --calls 5 --json "$tmp/fns.ini" f >"$tmp/out" 2>"$tmp/err"
if [ "$(jq '.runs[0].calls' "$tmp/out")" = 5 ] && [ "$(jq '.runs[0].memory_mb' "$tmp/out")" = 256 ]
then ok "a functions file's section, with its memory size"
else not_ok "functions file"; sed 's/^/# /' "$tmp/out" "$tmp/err"; fi

$faas bench --calls 5 "$tmp/fns.ini" nosuch >/dev/null 2>&1; rc=$?
if [ $rc -eq 2 ]; then ok "an unknown function exits 2"; else not_ok "unknown function (rc $rc)"; fi
$faas bench --calls 5 --duration 1 "$tmp/fns.ini" f >/dev/null 2>&1; rc=$?
if [ $rc -eq 2 ]; then ok "--calls with --duration exits 2"; else not_ok "--calls with --duration (rc $rc)"; fi

# Ctrl-C on a terminal, typed once the progress bar shows: what ran is summarised, exit 130.
py=${PYTHON3:-python3}
if command -v "$py" >/dev/null 2>&1; then
    $py "$top_srcdir/tests/pty_run.py" --interrupt ' [1-9][0-9]* calls ' "$tmp/int.tty" \
        "exec $faas bench --duration 600 '$mods/echo.so' echo >'$tmp/int.out'"; rc=$?
    if [ $rc -eq 130 ] && grep -q "^[0-9]* calls\{0,1\} in .* (interrupted)$" "$tmp/int.out" &&
       grep -q "^latency: mean" "$tmp/int.out" && grep -q "^  aws-lambda-x86 " "$tmp/int.out"
    then ok "Ctrl-C mid-run: the results of what ran, marked interrupted, exit 130"
    else not_ok "Ctrl-C mid-run (rc $rc)"; sed 's/^/# /' "$tmp/int.out"; fi
else
    skip "Ctrl-C mid-run: python3 (for a pseudo-terminal) is not installed"
fi
done_testing
