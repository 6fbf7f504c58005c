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
lib="$top_builddir/libfaas/.libs/libfaas.so.0"
# A sanitizer build's libfaas must have its runtime loaded first in an interpreter that is
# not instrumented: preload the ones it links (none in a normal build).
sanitizers=$(ldd "$lib" 2>/dev/null | awk '/lib(asan|ubsan|tsan)\.so/ {printf "%s ", $3}')
if [ -n "$sanitizers" ]; then
    export LD_PRELOAD="$sanitizers"
    # Children inherit it: run the isolation helper itself, not its libtool wrapper script,
    # whose ls and sed would then be leak-checked too.
    zygote="$top_builddir/tools/.libs/faas-zygote"
    [ -x "$zygote" ] && export FAAS_ZYGOTE="$zygote"
fi
err=${TMPDIR:-/tmp}/faas-busted-$$.err
# The watched directories of trigger_spec.lua, one per test (their names are the buckets').
export FAAS_LUA_TESTDIR=${TMPDIR:-/tmp}/faas-busted-$$.d
mkdir -p "$FAAS_LUA_TESTDIR/uploads" "$FAAS_LUA_TESTDIR/inbox" "$FAAS_LUA_TESTDIR/x"
trap 'rm -rf "$err" "$FAAS_LUA_TESTDIR"' EXIT
LUA_CPATH_5_4="$top_builddir/bindings/lua/.libs/?.so;;" \
LD_LIBRARY_PATH="$top_builddir/libfaas/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    "$lua" "$busted" --output=TAP "$top_srcdir/bindings/lua/tests" 2>"$err"
rc=$?
sed 's/^/# /' "$err"
if grep -q -E 'ERROR: [A-Za-z]+Sanitizer|WARNING: ThreadSanitizer|runtime error:' "$err"; then
    echo "Bail out! a sanitizer reported an error (above)"
    exit 1
fi
# busted exits with the number of failures, which are "not ok" lines already; a signal or
# the interpreter failing is an error.
[ $rc -lt 126 ] && exit 0
exit $rc
