#!/bin/sh
# callgrind_gateway.sh - user-space instructions per HTTP request: the gateway answering
# an echo call, and a bare libmicrohttpd server answering a fixed body, each sent K
# requests one after the other on one keep-alive connection (bench_gateway --requests).
# Ir/request = (Ir(K2) - Ir(K1)) / (K2 - K1): start-up cancels. Both sides are counted
# (the client's share is the same for both), the kernel is not: send/recv and the thread
# wake-ups are most of a request's time, so this is the CPU work a request adds, not its
# latency.
#
#   sh tests/bench/callgrind_gateway.sh [BENCH]     (from the build directory)
#
# Environment: MODES (default "perconn pool"), K1 (200), K2 (1200), VALGRIND (valgrind).
set -eu
bench=${1:-./tests/bench/bench_gateway}
modes=${MODES:-perconn pool}
k1=${K1:-200}
k2=${K2:-1200}
valgrind=${VALGRIND:-valgrind}
[ -x "$bench" ] || { echo "callgrind_gateway.sh: $bench: not found (make bench)" >&2; exit 1; }
runner=
if head -c 2 "$bench" | grep -q '^#!'; then
    runner="${LIBTOOL:-$(dirname "$bench")/../../libtool} --mode=execute"
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/faas-cg-gw.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

run() {  # server mode k
    out=$tmp/$1.$2.$3.out
    # shellcheck disable=SC2086
    $runner "$valgrind" --tool=callgrind --callgrind-out-file="$out" "$bench" \
        --requests "$3" --only "$1" --modes "$2" >"$tmp/log" 2>&1 ||
        { echo "callgrind_gateway.sh: $1 $2 failed" >&2; cat "$tmp/log" >&2; exit 1; }
    sed -n 's/^summary: *\([0-9]*\).*/\1/p; s/^totals: *\([0-9]*\).*/\1/p' "$out" | head -n 1
}

printf '%-8s %14s %14s %8s   (user-space Ir per request, client included; K1=%s K2=%s)\n' \
    mode gateway bare ratio "$k1" "$k2"
for m in $modes; do
    g=$(awk -v a="$(run gateway "$m" "$k1")" -v b="$(run gateway "$m" "$k2")" \
        -v k1="$k1" -v k2="$k2" 'BEGIN { printf "%.0f", (b - a) / (k2 - k1) }')
    b=$(awk -v a="$(run bare "$m" "$k1")" -v b="$(run bare "$m" "$k2")" \
        -v k1="$k1" -v k2="$k2" 'BEGIN { printf "%.0f", (b - a) / (k2 - k1) }')
    printf '%-8s %14s %14s %8s\n' "$m" "$g" "$b" "$(awk -v g="$g" -v b="$b" 'BEGIN { printf "%.2f", g / b }')"
done
