#!/bin/sh
# abi.sh - the exported symbols match libfaas.sym, and <faas.h> stands alone as C99 and C++,
# its FAAS_*_INIT macros included. (The structs' layouts, and callers built with an older
# or a newer header, are test_abi's.)
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
cat > "$tmp/c99.c" <<'EOF'
#include <faas.h>
static const faas_options defaults = FAAS_OPTIONS_INIT;
int main(void)
{
    faas_gateway_options g = FAAS_GATEWAY_OPTIONS_INIT;
    faas_nats_options n = FAAS_NATS_OPTIONS_INIT;
    faas_schedule_options s = FAAS_SCHEDULE_OPTIONS_INIT;
    faas_watch_options w = FAAS_WATCH_OPTIONS_INIT;
    return faas_version() == 0 || defaults.size != sizeof defaults || g.size != sizeof g ||
           n.size != sizeof n || s.size != sizeof s || w.size != sizeof w;
}
EOF
check "faas.h and its INIT macros compile alone with -std=c99 -pedantic -Wextra -Werror" \
    ${CC:-cc} -std=c99 -pedantic -Wall -Wextra -Werror -I"$top_srcdir/include" -Iinclude -c "$tmp/c99.c" -o "$tmp/c99.o"
if command -v "${CXX:-c++}" >/dev/null 2>&1; then
    cat > "$tmp/cxx.cc" <<'EOF'
#include <faas.h>
int main()
{
    faas_options o = faas_options();
    faas_options i = FAAS_OPTIONS_INIT;
    faas_watch_options w = FAAS_WATCH_OPTIONS_INIT;
    return o.size != 0 || i.size != sizeof i || w.size != sizeof w ? 1 : FAAS_OK;
}
EOF
    check "faas.h and its INIT macros compile as C++11 (-pedantic -Wextra -Werror)" \
        ${CXX:-c++} -std=c++11 -pedantic -Wall -Wextra -Werror -I"$top_srcdir/include" \
        -Iinclude -c "$tmp/cxx.cc" -o "$tmp/cxx.o"
else
    skip "no C++ compiler"
fi
check "faas.h includes no build internals" sh -c "! grep -E '#include [<\"](config.h|pthread.h|dlfcn.h)' '$top_srcdir/include/faas.h'"
done_testing
