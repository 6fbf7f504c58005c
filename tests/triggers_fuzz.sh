#!/bin/sh
# triggers_fuzz.sh - replays the seed corpus of the triggers' fuzz targets (fuzz_cron,
# fuzz_tzif) through the same code, built without libFuzzer: the targets keep building
# and their checks keep passing between fuzz runs (tests/fuzz/run.sh fuzzes them).
. "$top_srcdir/tests/tap.sh"
cd "$top_builddir" || exit 1
check "fuzz_cron: the seed corpus" \
    ./tests/fuzz/fuzz_cron_replay "$top_srcdir"/tests/fuzz/corpus/fuzz_cron/*
zones=""
for z in Europe/Berlin America/New_York Australia/Sydney Pacific/Chatham Europe/Dublin; do
    f=${TZDIR:-/usr/share/zoneinfo}/$z
    [ -f "$f" ] && zones="$zones $f"
done
if [ -n "$zones" ]; then
    # shellcheck disable=SC2086
    check "fuzz_tzif: the system's zone files" ./tests/fuzz/fuzz_tzif_replay $zones
else
    skip "fuzz_tzif: no zoneinfo on this system"
fi
check "fuzz_tzif: files that are not TZif" ./tests/fuzz/fuzz_tzif_replay \
    "$top_srcdir"/tests/fuzz/fuzz_cron.dict "$top_srcdir"/tests/fuzz/corpus/fuzz_cron/seed-1
done_testing
