#!/bin/sh
# run.sh - build every fuzz target (`make fuzz`) and run each one for FUZZ_SECONDS
# (default 60) from its committed seeds, tests/fuzz/corpus/TARGET/, plus the dictionary
# tests/fuzz/TARGET.dict if there is one. Prints TAP, one line per target; exits 1 when
# a target found a crash, a leak, undefined behaviour or a timeout, and keeps the input
# that did it in $FUZZ_OUT/artifacts/ (its path is printed: rerun the target on it to see).
#
#   cd BUILD && sh SRCDIR/tests/fuzz/run.sh [TARGET...]
#
# Environment: FUZZ_SECONDS (60), FUZZ_OUT (BUILD/fuzz), FUZZ_JOBS (1: one process per
# target; more runs libFuzzer's -fork=N), MAKE (make).
set -u
here=$(cd "$(dirname "$0")" && pwd)
secs=${FUZZ_SECONDS:-60}
out=${FUZZ_OUT:-$(pwd)/fuzz}
jobs=${FUZZ_JOBS:-1}

if ! ${MAKE:-make} fuzz >"${TMPDIR:-/tmp}/faas-fuzz-build.$$" 2>&1; then
    echo "not ok 1 - make fuzz"
    sed 's/^/# /' "${TMPDIR:-/tmp}/faas-fuzz-build.$$" | tail -40
    rm -f "${TMPDIR:-/tmp}/faas-fuzz-build.$$"
    echo "1..1"
    exit 1
fi
rm -f "${TMPDIR:-/tmp}/faas-fuzz-build.$$"

targets=${*:-$(cd "$here" && ls fuzz_*.c | sed 's/\.c$//')}
work=$(mktemp -d "${TMPDIR:-/tmp}/faas-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$out/artifacts"
n=0 failed=0
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
for t in $targets; do
    n=$((n + 1))
    bin=$out/$t
    if [ ! -x "$bin" ]; then
        echo "ok $n - $t # SKIP not built (an optional part this build lacks)"
        continue
    fi
    seeds=$here/corpus/$t
    mkdir -p "$work/$t/corpus" "$work/$t/art"
    dict=
    [ -f "$here/$t.dict" ] && dict=-dict=$here/$t.dict
    fork=
    [ "$jobs" -gt 1 ] && fork=-fork=$jobs
    # New inputs go to a scratch corpus; the committed seeds are only read.
    # shellcheck disable=SC2086
    (cd "$work/$t" && "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$work/$t/art/" $dict $fork \
        "$work/$t/corpus" "$seeds") >"$work/$t.log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -n 1)
    found=$(ls "$work/$t/art" 2>/dev/null)
    if [ $rc -eq 0 ] && [ -z "$found" ]; then
        echo "ok $n - $t: ${runs:-?} inputs in $secs s, no crash, leak or undefined behaviour"
    else
        failed=1
        echo "not ok $n - $t: exit $rc"
        grep -E 'ERROR|SUMMARY|runtime error|==[0-9]+==' "$work/$t.log" | head -20 | sed 's/^/# /'
        for a in $found; do
            cp "$work/$t/art/$a" "$out/artifacts/$t-$a"
            echo "# input kept: $out/artifacts/$t-$a (run: $bin $out/artifacts/$t-$a)"
        done
    fi
done
echo "1..$n"
exit $failed
