#!/bin/sh
# callgrind_bindings.sh - instructions per call of the bindings' benchmark cases, under
# callgrind (deterministic, user space only: the number to compare on a noisy machine).
#
#   sh SRCDIR/tests/bench/callgrind_bindings.sh        (from a build directory)
#
# Each case runs twice, `--only CASE --reps 1 --iters K` with K = K1 and K = K2, and
# Ir/call = (Ir(K2) - Ir(K1)) / (K2 - K1): start-up and the fixed warm-up cancel.
# Environment: PY_CASES (direct json invoke invoke_c), LUA_CASES (the same), K1 (1000),
# K2 (6000), VALGRIND (valgrind), LUA (lua5.4), PYTHON (/usr/bin/python3).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(pwd)
k1=${K1:-1000}
k2=${K2:-6000}
valgrind=${VALGRIND:-valgrind}
tmp=${TMPDIR:-/tmp}/faas-cg-$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
export FAAS_MODULE_DIR="$build/examples/modules/.libs"
export FAAS_LIBRARY="$build/libfaas/.libs/libfaas.so.0"
export PYTHONPATH="$here/../../bindings/python" PYTHONDONTWRITEBYTECODE=1
export LUA_CPATH_5_4="$build/bindings/lua/.libs/?.so;;"
export LD_LIBRARY_PATH="$build/libfaas/.libs"

ir() {  # total Ir of a command
    "$valgrind" --tool=callgrind --callgrind-out-file="$tmp/out" "$@" >/dev/null 2>"$tmp/err" ||
        { cat "$tmp/err" >&2; exit 1; }
    sed -n 's/^summary: *//p' "$tmp/out"
}

count() {  # label, then the command without --only/--iters
    label=$1; shift
    case_=$1; shift
    a=$(ir "$@" --only "$case_" --reps 1 --iters "$k1")
    b=$(ir "$@" --only "$case_" --reps 1 --iters "$k2")
    echo "$label $case_: $(( (b - a) / (k2 - k1) )) Ir/call"
}

for c in ${PY_CASES:-direct json invoke invoke_c}; do
    count python "$c" "${PYTHON:-/usr/bin/python3}" "$here/bindings_python.py"
done
if [ -f "$build/bindings/lua/.libs/faas.so" ]; then
    for c in ${LUA_CASES:-direct json invoke invoke_c}; do
        count lua "$c" "${LUA:-lua5.4}" "$here/bindings_lua.lua"
    done
fi
