#!/bin/sh
# cmake.sh - find_package(libfaas CONFIG) works: the library, its headers and the CMake
# package config are installed into a staging directory (DESTDIR), and tests/cmake-consumer/
# is configured against it, built with libfaas::libfaas, and run.
. "$top_srcdir/tests/tap.sh"
cmake=${CMAKE:-}
if [ -z "$cmake" ] || [ ! -x "$cmake" ]; then
    echo "1..0 # SKIP cmake is not installed (apt-get install cmake), then ./configure again"
    exit 0
fi
cd "$top_builddir" || exit 1
tmp=${TMPDIR:-/tmp}/faas-cmake-$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
# Only what a consumer needs is installed: a whole `make install` would relink the modules
# in place while other tests use them. No jobserver of the calling make is passed on.
quiet_make() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make "$@"; }
stage=$tmp/stage
prefix=$(sed -n 's/^prefix = //p' Makefile)
check "the library, headers, .pc and CMake config install into a staging directory" \
    quiet_make install-libLTLIBRARIES install-includeHEADERS \
    install-nodist_faasincludeHEADERS install-pkgconfigDATA install-cmakeconfigDATA \
    install-nodist_cmakeconfigDATA \
    DESTDIR="$stage"
root=$stage$prefix
version=$(sed -n 's/^Version: //p' libfaas.pc)

# $1: build directory; the rest: cmake options.
configure() {
    b=$1; shift
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "$cmake" -S "$top_srcdir/tests/cmake-consumer" \
        -B "$b" -DCMAKE_PREFIX_PATH="$root" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF "$@" \
        >"$b.out" 2>&1
}
if configure "$tmp/b"; then
    ok "find_package(libfaas 0.1 CONFIG) finds the staged install"
else
    not_ok "find_package(libfaas 0.1 CONFIG) finds the staged install"
    sed 's/^/# /' "$tmp/b.out"
fi
# Relative to the config file, so the staged copy, not the configured prefix, is used.
line=$(grep "libfaas [0-9.]*: include" "$tmp/b.out")
case $line in
*"include $root/"*", library $root/"*) ok "the imported target points into the staged install" ;;
*) not_ok "the imported target points into the staged install"; echo "# $line" ;;
esac
if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "$cmake" --build "$tmp/b" >"$tmp/build.out" 2>&1
then
    ok "the consumer builds with libfaas::libfaas"
else
    not_ok "the consumer builds with libfaas::libfaas"
    sed 's/^/# /' "$tmp/build.out"
fi
out=$("$tmp/b/consumer" 2>&1)
if [ "$out" = "\"ab\"\"ab\" $version" ]; then
    ok "the consumer runs: its call is answered by libfaas $version"
else
    not_ok "the consumer runs: its call is answered by libfaas $version"
    echo "# $out"
fi
# A shared libfaas is found at run time in the staged directory (CMake's build RPATH).
if [ -n "$(find "$root" -name libfaas.so)" ]; then
    if ldd "$tmp/b/consumer" | grep -q "libfaas.so.[0-9]* => $root/"; then
        ok "the consumer loads the staged libfaas.so"
    else
        not_ok "the consumer loads the staged libfaas.so"
        ldd "$tmp/b/consumer" | sed 's/^/# /'
    fi
else
    skip "no shared library (--disable-shared): the consumer links libfaas.a"
fi
# Where only the static library is installed, the target is libfaas.a with its own
# private dependencies as the link interface.
cp -R "$stage" "$tmp/astage"
find "$tmp/astage" -name 'libfaas.so*' -exec rm -f {} +
if [ -n "$(find "$tmp/astage" -name libfaas.a)" ]; then
    if configure "$tmp/ba" -DCMAKE_PREFIX_PATH="$tmp/astage$prefix" &&
       env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "$cmake" --build "$tmp/ba" >>"$tmp/ba.out" 2>&1 &&
       [ "$("$tmp/ba/consumer" 2>&1)" = "\"ab\"\"ab\" $version" ] &&
       ! ldd "$tmp/ba/consumer" | grep -q libfaas; then
        ok "with only libfaas.a installed, the consumer links it statically and runs"
    else
        not_ok "with only libfaas.a installed, the consumer links it statically and runs"
        sed 's/^/# /' "$tmp/ba.out"
    fi
else
    skip "no static library (--disable-static)"
fi
# The version file: same major version only.
if configure "$tmp/b1" -DFAAS_WANT=1.0; then
    not_ok "find_package(libfaas 1.0) is refused by libfaasConfigVersion.cmake"
else
    # "version: unknown" there would mean that no version file was read.
    if grep -q "libfaasConfig.cmake, version: $version\$" "$tmp/b1.out"; then
        ok "find_package(libfaas 1.0) is refused by libfaasConfigVersion.cmake"
    else
        not_ok "find_package(libfaas 1.0) is refused by libfaasConfigVersion.cmake"
        sed 's/^/# /' "$tmp/b1.out"
    fi
fi
done_testing
