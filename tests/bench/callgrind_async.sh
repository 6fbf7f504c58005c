#!/bin/sh
# callgrind_async.sh - instructions per asynchronous call of bench_async's throughput case
# (tp1: one producer), split into the submitting thread and the pool's threads.
#
#   sh tests/bench/callgrind_async.sh [-d SYSTEM] [BENCH]
#
# Each system runs twice under callgrind --separate-threads=yes, as `BENCH --only SYSTEM,tp1
# --reps 1 --warmup-n K2 --n K` with K = K1 and K = K2. Both runs make the same warm-up rep
# (K2 tasks), then a timed rep of K, so Ir/call = (Ir(K2) - Ir(K1)) / (K2 - K1) for each
# side is the timed calls alone: start-up, setup, the warm-up and the teardown cancel. (Until
# 2026-12-06 the warm-up was K tasks too and the divisor 2 (K2 - K1): the warm-up's first
# jobs, malloc'd as the producer ran ahead of the workers under valgrind and freed at
# teardown, were counted in, 0-180 Ir a call depending on valgrind's thread scheduling.) "submit" is the main thread: the producer (for libuv also the loop thread,
# which runs after_work_cb). "pool" is every other thread: the workers, and libfaas's timer
# thread. Both include the benchmark's own per-task work (the completion countdown, ~10 Ir).
#
# BENCH defaults to ./tests/bench/bench_async (run from the build directory); a libtool
# wrapper is run through the build directory's ./libtool, as callgrind.sh does.
#
# -d SYSTEM  also print, for each side, where SYSTEM's instructions go: per function, the
#            Ir/call of callgrind_annotate's exclusive and inclusive counts.
#
# Environment: SYSTEMS (default "faas_nospin minimal libuv glib"), K1 (10000), K2 (30000),
# VALGRIND (valgrind), KEEP=1 keeps the callgrind.out files.
#
# Use faas_nospin, not faas: under valgrind only one thread runs at a time, so a spinning
# worker's polling loop would be counted, in amounts that depend on valgrind's scheduling.
# Thread interleaving under valgrind also differs from a native run (the producer tends to
# run far ahead, the workers find long queues): the counts are of the code paths, while
# lock contention, cache-line transfers and kernel time are not counted at all.
set -eu

cg_name=callgrind_async.sh cg_what=system cg_help=2,28 cg_tmp=faas-callgrind-async
cg_bench=./tests/bench/bench_async cg_k1=10000 cg_k2=30000
# shellcheck source=callgrind_common.sh source-path=SCRIPTDIR
. "$(dirname "$0")/callgrind_common.sh"
systems=${SYSTEMS:-faas_nospin minimal libuv glib}

# total FILE...: the sum of the files' total Ir (each file's "summary:", or "totals:").
total() {
    for f in "$@"; do
        [ -s "$f" ] || continue
        cg_ir "$f"
    done | awk '{ s += $1 } END { printf "%d", s }'
}

# pool_files PREFIX: the per-thread files of every thread but the main one.
pool_files() {
    for f in "$1"-*; do
        case $f in *-01) ;; *) [ -f "$f" ] && printf '%s\n' "$f" ;; esac
    done
}

# run SYSTEM K: writes $tmp/SYSTEM.K.out-NN, one per thread (01 = main).
run() {
    cg_callgrind "$1 --n $2" "$tmp/$1.$2.log" --separate-threads=yes \
        --callgrind-out-file="$tmp/$1.$2.out" "$bench" --only "$1,tp1" --warmup-n "$k2" --n "$2" --reps 1
}

printf '%-13s %9s %9s %9s   (K1=%s, K2=%s; user-space Ir per call, tp1)\n' \
    system submit pool total "$k1" "$k2"
for s in $systems; do
    run "$s" "$k1"
    run "$s" "$k2"
    m1=$(total "$tmp/$s.$k1.out-01"); m2=$(total "$tmp/$s.$k2.out-01")
    # shellcheck disable=SC2046  # file names from mktemp and our own suffixes: no spaces
    w1=$(total /dev/null $(pool_files "$tmp/$s.$k1.out"))
    # shellcheck disable=SC2046
    w2=$(total /dev/null $(pool_files "$tmp/$s.$k2.out"))
    awk -v s="$s" -v m1="$m1" -v m2="$m2" -v w1="$w1" -v w2="$w2" -v k1="$k1" -v k2="$k2" \
        'BEGIN { d = k2 - k1; a = (m2 - m1) / d; b = (w2 - w1) / d
                 printf "%-13s %9.1f %9.1f %9.1f\n", s, a, b, a + b }'
done

[ -n "$detail" ] || exit 0

cg_need_annotate
[ -f "$tmp/$detail.$k1.out-01" ] || { run "$detail" "$k1"; run "$detail" "$k2"; }

# breakdown SIDE "K1 FILES" "K2 FILES": per function Ir/call, exclusive and inclusive.
breakdown() {
    i=0
    for mode in no yes; do
        # shellcheck disable=SC2086  # lists of file names without spaces
        for f in $2; do
            i=$((i + 1))
            cg_annotate "$mode" "$f" "$tmp/ann.$mode.minus.$i.txt"
        done
        # shellcheck disable=SC2086
        for f in $3; do
            i=$((i + 1))
            cg_annotate "$mode" "$f" "$tmp/ann.$mode.plus.$i.txt"
        done
    done
    echo
    echo "$detail, $1: Ir per call by function (exclusive = its own code, inclusive ="
    echo "with callees; 'file:function' with no [object] is code inlined from that file)"
    awk -v d="$((k2 - k1))" '
        /^ *[0-9,]+ \([ 0-9.]+%\) / {
            n = $1; gsub(",", "", n)
            key = $0; sub(/^ *[0-9,]+ \([ 0-9.]+%\) +/, "", key)
            sub(/ \[[^]]*\]$/, "", key)                 # drop the object
            if (key ~ /PROGRAM TOTALS|below main|libc_start|^\?\?\?:0x/) next
            mode = FILENAME ~ /ann\.no\./ ? "ex" : "in"
            sign = FILENAME ~ /\.minus\./ ? -1 : 1
            v[mode, key] += sign * n; keys[key] = 1
        }
        END {
            for (key in keys) {
                ex = v["ex", key] / d; in_ = v["in", key] / d
                if (ex >= 1 || in_ >= 1)
                    printf "%9.1f %9.1f  %s\n", ex, in_, key
            }
        }' "$tmp"/ann.*.txt | sort -k2,2nr | { printf '%9s %9s  %s\n' exclusive inclusive function; cat; }
    rm -f "$tmp"/ann.*.txt
}

breakdown "submitting thread" "$tmp/$detail.$k1.out-01" "$tmp/$detail.$k2.out-01"
breakdown "pool threads" "$(pool_files "$tmp/$detail.$k1.out")" \
    "$(pool_files "$tmp/$detail.$k2.out")"
