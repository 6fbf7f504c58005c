#!/bin/sh
# bindings_lua.sh - the Lua binding's busted suite against the faas.so and libfaas just
# built, with lua5.4; busted's TAP output, one TAP case per test.
lua=${LUA54:-}
[ -n "$lua" ] || lua=$(command -v lua5.4 2>/dev/null)
mod="$top_builddir/bindings/lua/.libs/faas.so"
if [ ! -f "$mod" ]; then
    echo "1..0 # SKIP the Lua module was not built (configure found no Lua 5.4: apt-get install liblua5.4-dev)"
    exit 0
fi
if [ -z "$lua" ]; then
    echo "1..0 # SKIP no lua5.4 interpreter (apt-get install lua5.4)"
    exit 0
fi
busted=$(command -v busted 2>/dev/null)
if [ -z "$busted" ] || ! "$lua" -e 'require "busted.runner"' 2>/dev/null; then
    echo "1..0 # SKIP busted is not installed for Lua 5.4 (apt-get install lua-busted)"
    exit 0
fi
LUA_CPATH_5_4="$top_builddir/bindings/lua/.libs/?.so;;" \
LD_LIBRARY_PATH="$top_builddir/libfaas/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    "$lua" "$busted" --output=TAP "$top_srcdir/bindings/lua/tests"
rc=$?
# busted exits with the number of failures: those are "not ok" lines already.
[ $rc -lt 126 ] && exit 0
exit $rc
