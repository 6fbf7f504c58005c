#!/bin/sh
# callgrind_async.sh - instructions per asynchronous call of bench_async's throughput case
# (tp1: one producer), split into the submitting thread and the pool's threads.
#
#   sh tests/bench/callgrind_async.sh [-d SYSTEM] [BENCH]
#
# Each system runs twice under callgrind --separate-threads=yes, as `BENCH --only SYSTEM,tp1
# --reps 1 --n K` with K = K1 and K = K2. A run submits 2K tasks (the warm-up rep and the
# timed one), so Ir/call = (Ir(K2) - Ir(K1)) / (2 (K2 - K1)) for each side: start-up and
# setup cancel. "submit" is the main thread: the producer (for libuv also the loop thread,
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

detail=
while [ $# -gt 0 ]; do
    case $1 in
    -d) [ $# -ge 2 ] || { echo "callgrind_async.sh: -d needs a system" >&2; exit 2; }
        detail=$2; shift 2 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    -*) echo "callgrind_async.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
    esac
done
bench=${1:-./tests/bench/bench_async}
systems=${SYSTEMS:-faas_nospin minimal libuv glib}
k1=${K1:-10000}
k2=${K2:-30000}
valgrind=${VALGRIND:-valgrind}

[ -x "$bench" ] || { echo "callgrind_async.sh: $bench: not found (build it: make bench)" >&2; exit 1; }
command -v "$valgrind" >/dev/null 2>&1 || { echo "callgrind_async.sh: no $valgrind" >&2; exit 1; }
[ "$k2" -gt "$k1" ] || { echo "callgrind_async.sh: K2 must be more than K1" >&2; exit 2; }

runner=
if head -c 2 "$bench" | grep -q '^#!'; then
    lt=${LIBTOOL:-$(dirname "$bench")/../../libtool}
    if [ -x "$lt" ]; then
        runner="$lt --mode=execute"
    else
        echo "callgrind_async.sh: $bench is a libtool wrapper and there is no $lt;" \
             "set LIBTOOL=path/to/libtool" >&2
        exit 1
    fi
else
    libdir=$(dirname "$bench")/../../../libfaas/.libs
    case $(dirname "$bench") in
    */.libs|.libs)
        if [ -d "$libdir" ]; then
            LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
            export LD_LIBRARY_PATH
        fi ;;
    esac
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/faas-callgrind-async.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
    echo "callgrind_async.sh: keeping $tmp" >&2
else
    trap 'rm -rf "$tmp"' EXIT
fi

# total FILE...: the sum of the files' total Ir (each file's "summary:", or "totals:").
total() {
    for f in "$@"; do
        [ -s "$f" ] || continue
        sed -n 's/^summary: *\([0-9]*\).*/\1/p; s/^totals: *\([0-9]*\).*/\1/p' "$f" |
            head -n 1
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
    # shellcheck disable=SC2086  # $runner is two words or empty
    if ! $runner "$valgrind" --tool=callgrind --separate-threads=yes \
            --callgrind-out-file="$tmp/$1.$2.out" \
            "$bench" --only "$1,tp1" --n "$2" --reps 1 >"$tmp/$1.$2.log" 2>&1; then
        echo "callgrind_async.sh: $1 --n $2 failed:" >&2
        tail -n 20 "$tmp/$1.$2.log" >&2
        exit 1
    fi
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
        'BEGIN { d = 2 * (k2 - k1); a = (m2 - m1) / d; b = (w2 - w1) / d
                 printf "%-13s %9.1f %9.1f %9.1f\n", s, a, b, a + b }'
done

[ -n "$detail" ] || exit 0

command -v callgrind_annotate >/dev/null 2>&1 || {
    echo "callgrind_async.sh: -d needs callgrind_annotate" >&2; exit 1; }
[ -f "$tmp/$detail.$k1.out-01" ] || { run "$detail" "$k1"; run "$detail" "$k2"; }

# breakdown SIDE "K1 FILES" "K2 FILES": per function Ir/call, exclusive and inclusive.
breakdown() {
    i=0
    for mode in no yes; do
        # shellcheck disable=SC2086  # lists of file names without spaces
        for f in $2; do
            i=$((i + 1))
            callgrind_annotate --inclusive=$mode --threshold=100 --auto=no "$f" \
                2>/dev/null >"$tmp/ann.$mode.minus.$i.txt"
        done
        # shellcheck disable=SC2086
        for f in $3; do
            i=$((i + 1))
            callgrind_annotate --inclusive=$mode --threshold=100 --auto=no "$f" \
                2>/dev/null >"$tmp/ann.$mode.plus.$i.txt"
        done
    done
    echo
    echo "$detail, $1: Ir per call by function (exclusive = its own code, inclusive ="
    echo "with callees; 'file:function' with no [object] is code inlined from that file)"
    awk -v d="$((2 * (k2 - k1)))" '
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
