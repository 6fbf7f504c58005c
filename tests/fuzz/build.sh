#!/bin/sh
# build.sh - build every libFuzzer target, tests/fuzz/fuzz_*.c, with clang and
# -fsanitize=fuzzer,address,undefined. The library's sources are compiled into each
# target (instrumented), so a target may call libfaas's private faas__ functions.
# `make fuzz` runs it with the configured build's settings:
#
#   FUZZ_SRCDIR       the source tree (default: two levels above this script)
#   FUZZ_BUILDDIR     a configured build directory, for config.h and include/faas/version.h
#                     (default: the current directory)
#   FUZZ_OUT          where the targets go (default: $FUZZ_BUILDDIR/fuzz)
#   FUZZ_LIB_SOURCES  the library's sources relative to FUZZ_SRCDIR; non-.c names are
#                     skipped (default: every libfaas/*.c but the *_none.c stand-ins
#                     for left-out parts and the *_main.c programs)
#   FUZZ_LIB_GENERATED  the library's generated sources, relative to FUZZ_BUILDDIR
#                     (default: those of them the build directory has, e.g. the
#                     console's page, libfaas/console_html.c)
#   FUZZ_LIB_CFLAGS   compiler flags of the library and its dependencies (-Werror is
#                     dropped: a clang warning must not stop a fuzzing run)
#   FUZZ_LIB_LIBS     what the library links with (default: libffi, jansson, -ldl -lpthread)
#   FUZZ_CC           the compiler (default: clang)
#
# Adding a target: drop tests/fuzz/fuzz_NAME.c (defining LLVMFuzzerTestOneInput) and its
# seeds in tests/fuzz/corpus/fuzz_NAME/; see tests/fuzz/README.md. A target that needs an
# optional part names its config.h macro in a comment, "fuzz-requires: FAAS_HAVE_GATEWAY", and
# is skipped by a build without it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=${FUZZ_SRCDIR:-$(cd "$here/../.." && pwd)}
build=${FUZZ_BUILDDIR:-$(pwd)}
out=${FUZZ_OUT:-$build/fuzz}
cc=${FUZZ_CC:-clang}

command -v "$cc" >/dev/null 2>&1 || { echo "build.sh: $cc not found (apt-get install clang)" >&2; exit 1; }
[ -f "$build/config.h" ] || { echo "build.sh: $build/config.h not found: run it from a configured build directory (make fuzz)" >&2; exit 1; }

sources=${FUZZ_LIB_SOURCES:-$(cd "$src" && ls libfaas/*.c | grep -v -e '_none\.c$' -e '_main\.c$')}
cflags=${FUZZ_LIB_CFLAGS:-$(pkg-config --cflags libffi jansson) -pthread}
libs=${FUZZ_LIB_LIBS:-$(pkg-config --libs libffi jansson) -ldl -lpthread}
cflags=$(printf '%s\n' "$cflags" | sed 's/-Werror\b//g')
common="-g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=all -DFAAS_BUILDING \
-I$build -I$src/include -I$build/include -iquote $src/libfaas $cflags"

generated=${FUZZ_LIB_GENERATED-$(cd "$build" && ls libfaas/console_html.c 2>/dev/null || true)}

mkdir -p "$out/obj"
objs=
for s in $sources $generated; do
    case $s in *.c) ;; *) continue ;; esac
    from=$src/$s
    [ -f "$from" ] || from=$build/$s          # a generated source
    o=$out/obj/$(echo "$s" | tr / _ | sed 's/\.c$/.o/')
    # shellcheck disable=SC2086
    "$cc" $common -fsanitize=fuzzer-no-link,address,undefined -c "$from" -o "$o"
    objs="$objs $o"
done

built=0
for t in "$here"/fuzz_*.c; do
    [ -f "$t" ] || continue
    name=$(basename "$t" .c)
    # A target of an optional part says so: "fuzz-requires: FAAS_HAVE_GATEWAY" in its text.
    need=$(sed -n 's/.*fuzz-requires: *\([A-Z_0-9]*\).*/\1/p' "$t" | head -n 1)
    if [ -n "$need" ] && ! grep -q "^#define $need 1" "$build/config.h"; then
        rm -f "$out/$name"
        echo "build.sh: $name skipped: this build has no $need"
        continue
    fi
    # shellcheck disable=SC2086
    "$cc" $common -fsanitize=fuzzer,address,undefined "$t" $objs $libs -o "$out/$name"
    echo "build.sh: $out/$name"
    built=$((built + 1))
done
[ "$built" -gt 0 ] || { echo "build.sh: no tests/fuzz/fuzz_*.c" >&2; exit 1; }
