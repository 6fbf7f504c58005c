#!/bin/sh
# bindings_python.sh - the Python binding's pytest suite against the libfaas just built,
# with /usr/bin/python3; one TAP case per pytest case (bindings/python/tests/faas_tap.py).
py=/usr/bin/python3
if [ ! -x "$py" ]; then
    echo "1..0 # SKIP $py is not installed"
    exit 0
fi
if ! "$py" -c "import pytest" 2>/dev/null; then
    echo "1..0 # SKIP pytest is not installed (apt-get install python3-pytest)"
    exit 0
fi
lib="$top_builddir/libfaas/.libs/libfaas.so.0"
if [ ! -f "$lib" ]; then
    echo "Bail out! $lib was not built"
    exit 1
fi
# A sanitizer build's libfaas must have its runtime loaded first in an interpreter that is
# not instrumented: preload the ones it links (none in a normal build).
sanitizers=$(ldd "$lib" 2>/dev/null | awk '/lib(asan|ubsan|tsan)\.so/ {printf "%s ", $3}')
if [ -n "$sanitizers" ]; then
    # Python's interpreter does not free everything at exit: not its tests' leaks to report.
    export LD_PRELOAD="$sanitizers" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
    # Children inherit the preload: run the isolation helper itself, not its libtool
    # wrapper script (a shell, ls and sed under the sanitizer runtime).
    zygote="$top_builddir/tools/.libs/faas-zygote"
    if [ -x "$zygote" ]; then
        export FAAS_ZYGOTE="$zygote"
        export LD_LIBRARY_PATH="$top_builddir/libfaas/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
fi
tmp=${TMPDIR:-/tmp}/faas-pytest-$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
# The source tree may be read-only (make distcheck): no bytecode, no pytest cache there.
FAAS_LIBRARY="$lib" PYTHONDONTWRITEBYTECODE=1 \
PYTHONPATH="$top_srcdir/bindings/python:$top_srcdir/bindings/python/tests" \
    "$py" -m pytest -p no:cacheprovider -p faas_tap --tap-file="$tmp/tap" -q \
    --rootdir="$top_srcdir/bindings/python" "$top_srcdir/bindings/python/tests" \
    >"$tmp/out" 2>&1
rc=$?
if [ ! -s "$tmp/tap" ]; then
    sed 's/^/# /' "$tmp/out"
    echo "Bail out! pytest ended with status $rc and wrote no results"
    exit 1
fi
cat "$tmp/tap"
[ $rc -eq 0 ] || sed 's/^/# /' "$tmp/out"
# 1: some cases failed (already "not ok" above); anything else is pytest itself failing.
case $rc in 0|1) exit 0 ;; *) exit $rc ;; esac
