#!/bin/sh
# docs.sh - every man page is clean under mandoc -Tlint, is installed, and every public
# function has a page; README has its quick start, and its C example compiles.
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
# Areas list their pages in their own fragment, mk/AREA.am.
unlisted=""
for page in man/man*/*.[0-9]; do
    grep -q "$page" Makefile.am mk/*.am || unlisted="$unlisted $page"
done
if [ -z "$unlisted" ]; then ok "every page is listed in Makefile.am or mk/*.am (dist_man_MANS)"
else not_ok "pages not listed in Makefile.am or mk/*.am:$unlisted"; fi
# Every public function is named by some page's .Nm.
missing=""
for fn in $(sed -n 's/^FAAS_API[^(]*[ *]\(faas_[a-z0-9_]*\)(.*/\1/p' include/faas.h); do
    grep -q "^\.Nm $fn\( ,\)\?$" man/man3/*.3 || missing="$missing $fn"
done
if [ -z "$missing" ]; then ok "every public function has a man page"; else not_ok "functions without a man page:$missing"; fi
check "README has a Quick start" grep -q "^## Quick start" README.md

# The EXAMPLES of every man3 page compile (as objects: a module example has no main).
tmp=${TMPDIR:-/tmp}/faas-docs-$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
for page in man/man3/*.3; do
    base=$(basename "$page" .3)
    awk '/^\.Sh EXAMPLES/ {ex=1; next} /^\.Sh / {ex=0} ex && /^\.Bd -literal/ {n++; out=1; next}
         ex && /^\.Ed/ {out=0; next} out {print > (dir "/" base "-" n ".c")}' \
        dir="$tmp" base="$base" "$page"
    found=0
    for src in "$tmp/$base"-*.c; do
        [ -f "$src" ] || continue
        found=1
        # mdoc escapes: \e is a backslash, \(aq a quote, \& nothing, \- a minus.
        sed -i -e 's/\\e/\\/g' -e 's/\\(aq/'"'"'/g' -e 's/\\&//g' -e 's/\\-/-/g' "$src"
        if out=$(${CC:-cc} -std=c11 -Wall -Wextra -Werror -fPIC -I"$top_srcdir/include" \
                 -I"$top_builddir/include" -c "$src" -o "$src.o" 2>&1); then
            ok "the EXAMPLES of $page compile ($(basename "$src"))"
        else
            not_ok "the EXAMPLES of $page compile ($(basename "$src"))"
            printf '%s\n' "$out" | sed 's/^/# /'
        fi
    done
    [ $found = 1 ] || not_ok "$page has a compilable EXAMPLES block"
done

# README's embedding example (its ```c blocks) compiles too.
awk '/^```c$/ {n++; out=1; next} /^```$/ {out=0; next} out {print > (dir "/README-" n ".c")}' \
    dir="$tmp" README.md
found=0
for src in "$tmp"/README-*.c; do
    [ -f "$src" ] || continue
    found=1
    if out=$(${CC:-cc} -std=c11 -Wall -Wextra -Werror -I"$top_srcdir/include" \
             -I"$top_builddir/include" -c "$src" -o "$src.o" 2>&1); then
        ok "README's C example compiles ($(basename "$src"))"
    else
        not_ok "README's C example compiles ($(basename "$src"))"
        printf '%s\n' "$out" | sed 's/^/# /'
    fi
done
[ $found = 1 ] || not_ok "README has a C example"
done_testing
