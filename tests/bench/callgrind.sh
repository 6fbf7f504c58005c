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
# Environment: CASES (default "direct ffi invoke_fn invoke version alias version_fn
# alias_fn cpu_time hook"), K1 (1000),
# K2 (11000), VALGRIND (valgrind), KEEP=1 keeps the callgrind.out files (path printed).
#
# Callgrind counts user-space instructions only. Under valgrind, glibc's clock_gettime()
# does not use the vDSO: it is a ~10-instruction syscall wrapper, so a native call runs
# some 30-60 more instructions per clock read (2 per faas call) than counted here, and
# kernel time (cpu_time's syscalls) is not counted at all.
set -eu

cg_name=callgrind.sh cg_what=case cg_help=2,23 cg_tmp=faas-callgrind
cg_bench=./tests/bench/bench_core cg_k1=1000 cg_k2=11000
# shellcheck source=callgrind_common.sh source-path=SCRIPTDIR
. "$(dirname "$0")/callgrind_common.sh"
cases=${CASES:-direct ffi invoke_fn invoke version alias version_fn alias_fn cpu_time hook}

# run CASE K: writes $tmp/CASE.K.out and prints its total Ir.
run() {
    out=$tmp/$1.$2.out
    cg_callgrind "$1 --iters $2" "$tmp/$1.$2.log" --callgrind-out-file="$out" \
        "$bench" --only "$1" --iters "$2" --reps 1
    cg_ir "$out"
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
cg_need_annotate
[ -f "$tmp/$detail.$k1.out" ] || { run "$detail" "$k1" >/dev/null; run "$detail" "$k2" >/dev/null; }
for mode in no yes; do
    for k in "$k1" "$k2"; do
        cg_annotate "$mode" "$tmp/$detail.$k.out" "$tmp/ann.$mode.$k.txt"
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
