#!/bin/sh
# abi.sh - the exported symbols match libfaas.sym, and <faas.h> stands alone as C99 and C++.
. "$top_srcdir/tests/tap.sh"
cd "$top_builddir" || exit 1
tmp=${TMPDIR:-/tmp}/faas-abi-$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
so=libfaas/.libs/libfaas.so
if command -v nm >/dev/null 2>&1 && [ -f "$so" ]; then
    nm -D --defined-only "$so" | awk '$2 ~ /^[TDBR]$/ {print $3}' | sort > "$tmp/actual"
    if diff -u "$top_srcdir/libfaas.sym" "$tmp/actual" > "$tmp/diff"; then
        ok "exported symbols match libfaas.sym"
    else
        not_ok "exported symbols match libfaas.sym (update it if the change is meant)"
        sed 's/^/# /' "$tmp/diff"
    fi
    if grep -qv '^faas_' "$tmp/actual"; then not_ok "every export is faas_-prefixed"; grep -v '^faas_' "$tmp/actual" | sed 's/^/# /'; else ok "every export is faas_-prefixed"; fi
else
    skip "nm -D or the shared library is missing"
    skip "nm -D or the shared library is missing"
fi
printf '#include <faas.h>\nint main(void) { return faas_version() == 0; }\n' > "$tmp/c99.c"
check "faas.h compiles alone with -std=c99 -pedantic -Werror" \
    ${CC:-cc} -std=c99 -pedantic -Wall -Wextra -Werror -I"$top_srcdir/include" -Iinclude -c "$tmp/c99.c" -o "$tmp/c99.o"
if command -v "${CXX:-c++}" >/dev/null 2>&1; then
    printf '#include <faas.h>\nint main() { faas_options o = faas_options(); (void)o; return FAAS_OK; }\n' > "$tmp/cxx.cc"
    check "faas.h compiles as C++" ${CXX:-c++} -std=c++11 -pedantic -Wall -Werror -I"$top_srcdir/include" -Iinclude -c "$tmp/cxx.cc" -o "$tmp/cxx.o"
else
    skip "no C++ compiler"
fi
check "faas.h includes no build internals" sh -c "! grep -E '#include [<\"](config.h|pthread.h|dlfcn.h)' '$top_srcdir/include/faas.h'"
done_testing
