#!/bin/sh
# gateway.sh - build and run the gateway area's libFuzzer targets (fuzz_gateway_request,
# fuzz_gateway_json, fuzz_functions_file) with clang and -fsanitize=fuzzer,address,
# undefined. The library's sources are compiled into each target, so a target may call
# libfaas's private faas__ functions. `make fuzz-gateway` builds with the configured
# build's sources and flags; `make fuzz-gateway-run` also runs each target.
#
#   sh gateway.sh build            (from a configured build directory)
#   sh gateway.sh run [TARGET...]  run each for FUZZ_SECONDS (60) from its seeds in
#                                  corpus/TARGET/ (+ TARGET.dict): TAP, one line per
#                                  target; exit 1 on a crash, leak, UB or timeout, with
#                                  the input kept in $FUZZ_OUT/artifacts/
#
# Environment: FUZZ_SRCDIR, FUZZ_BUILDDIR (.), FUZZ_OUT (FUZZ_BUILDDIR/fuzz), FUZZ_CC
# (clang), FUZZ_LIB_SOURCES, FUZZ_LIB_CFLAGS, FUZZ_LIB_LIBS (set by make), FUZZ_SECONDS.
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=${FUZZ_SRCDIR:-$(cd "$here/../.." && pwd)}
build=${FUZZ_BUILDDIR:-$(pwd)}
out=${FUZZ_OUT:-$build/fuzz}
cc=${FUZZ_CC:-clang}
targets_all="fuzz_gateway_request fuzz_gateway_json fuzz_functions_file"

build() {
    command -v "$cc" >/dev/null 2>&1 || { echo "gateway.sh: $cc not found (apt-get install clang)" >&2; return 1; }
    [ -f "$build/config.h" ] || { echo "gateway.sh: $build/config.h not found: run it from a configured build (make fuzz-gateway)" >&2; return 1; }
    grep -q '^#define HAVE_GATEWAY 1' "$build/config.h" || { echo "gateway.sh: this build has no gateway" >&2; return 1; }
    sources=${FUZZ_LIB_SOURCES:?set by make fuzz-gateway}
    cflags=$(printf '%s\n' "${FUZZ_LIB_CFLAGS:-}" | sed 's/-Werror\b//g')
    libs=${FUZZ_LIB_LIBS:?set by make fuzz-gateway}
    common="-g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=all -DFAAS_BUILDING \
-I$build -I$src/include -I$build/include -iquote $src/libfaas $cflags"
    mkdir -p "$out/obj-gateway"
    objs=
    for s in $sources; do
        case $s in *.c) ;; *) continue ;; esac
        o=$out/obj-gateway/$(echo "$s" | tr / _ | sed 's/\.c$/.o/')
        # shellcheck disable=SC2086
        "$cc" $common -fsanitize=fuzzer-no-link,address,undefined -c "$src/$s" -o "$o" || return 1
        objs="$objs $o"
    done
    for t in $targets_all; do
        # shellcheck disable=SC2086
        "$cc" $common -fsanitize=fuzzer,address,undefined "$here/$t.c" $objs $libs \
            -o "$out/$t" || return 1
        echo "gateway.sh: $out/$t"
    done
}

run() {
    secs=${FUZZ_SECONDS:-60}
    targets=${*:-$targets_all}
    work=$(mktemp -d "${TMPDIR:-/tmp}/faas-fuzz-gw.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$out/artifacts"
    n=0 failed=0
    export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
    for t in $targets; do
        n=$((n + 1))
        mkdir -p "$work/$t/corpus" "$work/$t/art"
        dict=
        [ -f "$here/$t.dict" ] && dict=-dict=$here/$t.dict
        # New inputs go to a scratch corpus; the committed seeds are only read.
        # shellcheck disable=SC2086
        (cd "$work/$t" && "$out/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="$work/$t/art/" $dict \
            "$work/$t/corpus" "$here/corpus/$t") >"$work/$t.log" 2>&1
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
                echo "# input kept: $out/artifacts/$t-$a (replay: $out/$t $out/artifacts/$t-$a)"
            done
        fi
    done
    echo "1..$n"
    return $failed
}

case ${1:-} in
build) build ;;
run) shift; run "$@" ;;
*) sed -n '2,17p' "$0"; exit 2 ;;
esac
