#!/bin/sh
# docs.sh - every man page is clean under mandoc -Tlint, is installed, and every public
# function has a page; README's quick start has its two commands.
. "$top_srcdir/tests/tap.sh"
cd "$top_srcdir" || exit 1
if [ -n "$MANDOC" ] && [ -x "$MANDOC" ]; then
    for page in man/man*/*.[0-9]; do
        out=$("$MANDOC" -Tlint -W warning "$page" 2>&1)
        if [ -z "$out" ]; then ok "mandoc -Tlint $page"; else not_ok "mandoc -Tlint $page"; printf '%s\n' "$out" | sed 's/^/# /'; fi
    done
else
    skip "mandoc is not installed (apt-get install mandoc)"
fi
for page in man/man*/*.[0-9]; do
    if grep -q "$page" Makefile.am; then :; else not_ok "$page is listed in Makefile.am"; fi
done
ok "every page is listed in Makefile.am (dist_man_MANS)"
# Every public function is named by some page's .Nm.
missing=""
for fn in $(sed -n 's/^FAAS_API[^(]*[ *]\(faas_[a-z0-9_]*\)(.*/\1/p' include/faas.h); do
    grep -q "^\.Nm $fn\( ,\)\?$" man/man3/*.3 || missing="$missing $fn"
done
if [ -z "$missing" ]; then ok "every public function has a man page"; else not_ok "functions without a man page:$missing"; fi
check "README has a Quick start" grep -q "^## Quick start" README.md
done_testing
