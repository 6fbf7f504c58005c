#!/bin/sh
# triggers.sh [SECONDS] - build the triggers' libFuzzer targets (fuzz_cron: the schedule
# expression parser and next-firing search; fuzz_tzif: the time zone reader) with clang,
# ASan and UBSan, and run each for SECONDS (default 60) from its seed corpus. A crash, a
# leak or undefined behaviour stops the run with a reproducer in $FUZZ_OUT (default
# /tmp/faas-fuzz-triggers) and a non-zero exit.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-60}
out=${FUZZ_OUT:-/tmp/faas-fuzz-triggers}
cc=${FUZZ_CC:-clang}
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"
mkdir -p "$out/cron" "$out/tzif"

$cc $flags -I"$top/libfaas" "$top/tests/fuzz/fuzz_cron.c" "$top/libfaas/cron.c" \
    "$top/libfaas/tz.c" -o "$out/fuzz_cron"
$cc $flags -I"$top/libfaas" "$top/tests/fuzz/fuzz_tzif.c" "$top/libfaas/tz.c" \
    -o "$out/fuzz_tzif"

# Seeds for the zone reader: the system's own zone files, when there are any.
for z in Europe/Berlin America/New_York Australia/Sydney Pacific/Chatham Asia/Kolkata \
         Europe/Dublin UTC; do
    f=${TZDIR:-/usr/share/zoneinfo}/$z
    [ -f "$f" ] && cp "$f" "$out/tzif/seed-$(echo "$z" | tr / -)"
done

cd "$out"
echo "fuzz_cron for ${secs}s"
./fuzz_cron -max_total_time="$secs" -dict="$top/tests/fuzz/cron.dict" -print_final_stats=1 \
    "$out/cron" "$top/tests/fuzz/corpus/cron"
echo "fuzz_tzif for ${secs}s"
./fuzz_tzif -max_total_time="$secs" -print_final_stats=1 "$out/tzif"
