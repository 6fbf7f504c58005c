#!/bin/sh
# callgrind.sh - instructions per call of bench_core's warm cases, under callgrind.
#
#   sh tests/bench/callgrind.sh [-d CASE] [BENCH]
#
# Each case runs twice, `BENCH --only CASE --iters K --reps 1` with K = K1 and K = K2, and
# Ir/call = (Ir(K2) - Ir(K1)) / (K2 - K1): start-up, setup and the fixed warm-up cancel,
# what is left is the loop body (the call, the response free, and the loop itself, ~3 Ir).
#
# BENCH defaults to ./tests/bench/bench_core (run from the build directory). If it is a
# libtool wrapper, the build directory's ./libtool runs valgrind on the real binary with
# the uninstalled libfaas (`libtool --mode=execute`).
#
# -d CASE  also print where CASE's instructions go: per function, the Ir/call of
#          callgrind_annotate's exclusive and inclusive counts, differenced the same way.
#
# Environment: CASES (default "direct ffi invoke_fn invoke cpu_time hook"), K1 (1000),
# K2 (11000), VALGRIND (valgrind), KEEP=1 keeps the callgrind.out files (path printed).
#
# Callgrind counts user-space instructions only. Under valgrind, glibc's clock_gettime()
# does not use the vDSO: it is a ~10-instruction syscall wrapper, so a native call runs
# some 30-60 more instructions per clock read (2 per faas call) than counted here, and
# kernel time (cpu_time's syscalls) is not counted at all.
set -eu

detail=
while [ $# -gt 0 ]; do
    case $1 in
    -d) [ $# -ge 2 ] || { echo "callgrind.sh: -d needs a case" >&2; exit 2; }
        detail=$2; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    -*) echo "callgrind.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
    esac
done
bench=${1:-./tests/bench/bench_core}
cases=${CASES:-direct ffi invoke_fn invoke cpu_time hook}
k1=${K1:-1000}
k2=${K2:-11000}
valgrind=${VALGRIND:-valgrind}

[ -x "$bench" ] || { echo "callgrind.sh: $bench: not found (build it: make bench)" >&2; exit 1; }
command -v "$valgrind" >/dev/null 2>&1 || { echo "callgrind.sh: no $valgrind" >&2; exit 1; }
[ "$k2" -gt "$k1" ] || { echo "callgrind.sh: K2 must be more than K1" >&2; exit 2; }

# A libtool wrapper script needs libtool to find the real binary and libfaas/.libs.
runner=
if head -c 2 "$bench" | grep -q '^#!'; then
    lt=${LIBTOOL:-$(dirname "$bench")/../../libtool}
    if [ -x "$lt" ]; then
        runner="$lt --mode=execute"
    else
        echo "callgrind.sh: $bench is a libtool wrapper and there is no $lt;" \
             "set LIBTOOL=path/to/libtool" >&2
        exit 1
    fi
else
    # The real binary of an uninstalled build (<build>/tests/bench/.libs/bench_core):
    # it finds the uninstalled libfaas only through LD_LIBRARY_PATH.
    libdir=$(dirname "$bench")/../../../libfaas/.libs
    case $(dirname "$bench") in
    */.libs|.libs)
        if [ -d "$libdir" ]; then
            LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
            export LD_LIBRARY_PATH
        fi ;;
    esac
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/faas-callgrind.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
    echo "callgrind.sh: keeping $tmp" >&2
else
    trap 'rm -rf "$tmp"' EXIT
fi

# run CASE K: writes $tmp/CASE.K.out and prints its total Ir.
run() {
    out=$tmp/$1.$2.out
    # shellcheck disable=SC2086  # $runner is two words or empty
    if ! $runner "$valgrind" --tool=callgrind --callgrind-out-file="$out" \
            "$bench" --only "$1" --iters "$2" --reps 1 >"$tmp/$1.$2.log" 2>&1; then
        echo "callgrind.sh: $1 --iters $2 failed:" >&2
        tail -n 20 "$tmp/$1.$2.log" >&2
        exit 1
    fi
    sed -n 's/^summary: *\([0-9]*\).*/\1/p; s/^totals: *\([0-9]*\).*/\1/p' "$out" | head -n 1
}

printf '%-10s %10s %9s   (K1=%s, K2=%s; user-space Ir per call, loop included)\n' \
    case Ir/call 'x direct' "$k1" "$k2"
direct=
for c in $cases; do
    i1=$(run "$c" "$k1")
    i2=$(run "$c" "$k2")
    per=$(awk -v a="$i1" -v b="$i2" -v k1="$k1" -v k2="$k2" \
          'BEGIN { printf "%.1f", (b - a) / (k2 - k1) }')
    [ "$c" = direct ] && direct=$per
    ratio=$(awk -v p="$per" -v d="${direct:-0}" \
            'BEGIN { if (d > 0) printf "%.1f", p / d; else printf "-" }')
    printf '%-10s %10s %9s\n' "$c" "$per" "$ratio"
done

[ -n "$detail" ] || exit 0

# Per-function breakdown of one case: difference the annotations of the K1 and K2 runs.
command -v callgrind_annotate >/dev/null 2>&1 || {
    echo "callgrind.sh: -d needs callgrind_annotate" >&2; exit 1; }
[ -f "$tmp/$detail.$k1.out" ] || { run "$detail" "$k1" >/dev/null; run "$detail" "$k2" >/dev/null; }
for mode in no yes; do
    for k in "$k1" "$k2"; do
        callgrind_annotate --inclusive=$mode --threshold=100 --auto=no "$tmp/$detail.$k.out" \
            2>/dev/null >"$tmp/ann.$mode.$k.txt"
    done
done
echo
echo "$detail: Ir per call by function (exclusive = its own code, inclusive = with callees;"
echo "'file:function' with no [object] is code inlined from that file)"
awk -v k1="$k1" -v k2="$k2" '
    # callgrind_annotate lines: "1,234 (12.3%)  file:function [object]"
    FNR == 1 { f++ }
    /^ *[0-9,]+ \([ 0-9.]+%\) / {
        n = $1; gsub(",", "", n)
        key = $0; sub(/^ *[0-9,]+ \([ 0-9.]+%\) +/, "", key)
        sub(/ \[[^]]*\]$/, "", key)               # drop the object, keep file:function
        if (key ~ /PROGRAM TOTALS/) next
        v[f, key] += n; keys[key] = 1
    }
    END {
        # files: 1 = exclusive K1, 2 = exclusive K2, 3 = inclusive K1, 4 = inclusive K2
        for (key in keys) {
            ex = (v[2, key] - v[1, key]) / (k2 - k1)
            in_ = (v[4, key] - v[3, key]) / (k2 - k1)
            if (ex >= 0.5 || in_ >= 0.5)
                printf "%9.1f %9.1f  %s\n", ex, in_, key
        }
    }' "$tmp/ann.no.$k1.txt" "$tmp/ann.no.$k2.txt" "$tmp/ann.yes.$k1.txt" "$tmp/ann.yes.$k2.txt" |
    sort -k1,1nr | { printf '%9s %9s  %s\n' exclusive inclusive function; cat; }
