#!/bin/sh
# tool_ffi.sh - faas invoke --ffi: C functions of libm and of the faas process, the reply
# and the REPORT line, arguments from stdin, and the exit codes of bad signatures and
# bad arguments.
. "$top_srcdir/tests/tap.sh"
cd "$top_builddir" || exit 1
faas=./tools/faas
tmp=${TMPDIR:-/tmp}/faas-tool-ffi-$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

$faas invoke --ffi libm.so.6 cos 'double (double)' '[0]' >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ] && [ "$(cat "$tmp/out")" = '1.0' ]; then ok "cos of libm: 1.0"; else not_ok "cos of libm (rc $rc)"; sed 's/^/# /' "$tmp/out" "$tmp/err"; fi
if grep -q "^REPORT RequestId: [0-9a-f-]*	Duration: [0-9.]* ms	Billed Duration: [0-9]* ms	Memory Size: 128 MB	Max Memory Used: 1 MB	Init Duration: [0-9.]* ms	$" "$tmp/err"; then ok "the REPORT line of a cold call"; else not_ok "the REPORT line"; sed 's/^/# /' "$tmp/err"; fi

$faas invoke --ffi - strlen 'size_t strlen(const char *s)' '["h\u00e9llo"]' >"$tmp/out" 2>/dev/null
if [ "$(cat "$tmp/out")" = '6' ]; then ok "- is the process: strlen of the C library"; else not_ok "strlen of the process"; sed 's/^/# /' "$tmp/out"; fi

printf '[2, 10]' | $faas invoke --ffi --memory 256 libm.so.6 pow 'double pow(double, double)' - >"$tmp/out" 2>"$tmp/err"
if [ "$(cat "$tmp/out")" = '1024.0' ] && grep -q "Memory Size: 256 MB" "$tmp/err"; then ok "arguments from stdin, --memory with --ffi"; else not_ok "pow from stdin"; sed 's/^/# /' "$tmp/out" "$tmp/err"; fi

$faas invoke --ffi - getpid 'int getpid(void)' >"$tmp/out" 2>/dev/null
if grep -q '^[0-9][0-9]*$' "$tmp/out"; then ok "no arguments"; else not_ok "no arguments"; sed 's/^/# /' "$tmp/out"; fi

$faas invoke --ffi libm.so.6 cos 'double (double)' '["zero"]' >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 1 ] && [ "$(cat "$tmp/out")" = '{"errorMessage":"double (double): argument 1: expected double, got a string","errorType":"InvalidParameterValueException"}' ] &&
   grep -q "^faas: FAAS_EINVAL: InvalidParameterValueException: double (double): argument 1: expected double, got a string$" "$tmp/err"; then
    ok "arguments that do not match exit 1 with the message"
else
    not_ok "bad arguments (rc $rc)"; sed 's/^/# /' "$tmp/out" "$tmp/err"
fi

$faas invoke --ffi libm.so.6 cos 'double (doubel)' '[0]' >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 2 ] && grep -q 'bad signature "double (doubel)": unknown type "doubel" (column 9)' "$tmp/err"; then ok "a bad signature is a usage error (exit 2)"; else not_ok "bad signature (rc $rc)"; sed 's/^/# /' "$tmp/err"; fi

$faas invoke --ffi libm.so.6 no_such_function 'double (double)' '[0]' >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 1 ] && grep -q "FAAS_ELOAD: Runtime.LoadError: dlsym(\"libm.so.6\", \"no_such_function\")" "$tmp/err"; then ok "a missing symbol is Runtime.LoadError"; else not_ok "missing symbol (rc $rc)"; sed 's/^/# /' "$tmp/err"; fi

$faas invoke --ffi libm.so.6 cos >/dev/null 2>&1; rc=$?
if [ $rc -eq 2 ]; then ok "--ffi without a signature is a usage error"; else not_ok "--ffi without a signature (rc $rc)"; fi
done_testing
