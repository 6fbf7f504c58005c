#!/bin/sh
# examples.sh - builds nothing: runs every example program, so the examples cannot rot.
. "$top_srcdir/tests/tap.sh"
cd "$top_builddir" || exit 1
check "examples/host registers a host function and a module, calls both" \
    ./examples/host "$FAAS_MODULE_DIR"
out=$(./examples/host "$FAAS_MODULE_DIR" 2>&1)
case $out in
    *"greet      -> hello, world (cold"*"wordcount  -> {\"words\":3,\"chars\":13} (cold"*) ok "host output shows cold then warm calls";;
    *) not_ok "host output shows cold then warm calls"; printf '%s\n' "$out" | sed 's/^/# /';;
esac
check "examples/testing/test_wordcount: a user's unit test with a fake clock" \
    ./examples/testing/test_wordcount "$FAAS_MODULE_DIR"
done_testing
