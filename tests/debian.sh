#!/bin/sh
# debian.sh - debian/ follows the tree: its symbols file lists the export list (libfaas.sym),
# its version is configure.ac's, and each man page the build installs goes into a package.
# Each would otherwise fail only the package build (dpkg-gensymbols -c4, debian/rules,
# dh_missing), which `make check` does not run.
. "$top_srcdir/tests/tap.sh"
deb=$top_srcdir/debian
if [ ! -d "$deb" ]; then
    echo "1..0 # SKIP no debian/ directory here (a release tarball ships none)"
    exit 0
fi
tmp=${TMPDIR:-/tmp}/faas-debian-$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

LC_ALL=C sort "$top_srcdir/libfaas.sym" > "$tmp/sym"
sed -n 's/^ \(([a-z]*)\)\{0,1\}\(faas[a-z0-9_]*\)@Base [0-9].*/\2/p' "$deb/libfaas0.symbols" |
    LC_ALL=C sort > "$tmp/deb"
if diff -u "$tmp/sym" "$tmp/deb" > "$tmp/diff"; then
    ok "debian/libfaas0.symbols lists the symbols of libfaas.sym"
else
    not_ok "debian/libfaas0.symbols lists the symbols of libfaas.sym (add ' NAME@Base VERSION'" \
        "lines, VERSION the first release that has NAME)"
    sed 's/^/# /' "$tmp/diff"
fi

version=$(sed -n 's/^Version: //p' "$top_builddir/libfaas.pc")
changelog=$(sed -n '1s/^libfaas (\([^)-]*\)-[^)]*).*/\1/p' "$deb/changelog")
if [ "$changelog" = "$version" ]; then
    ok "debian/changelog's upstream version is configure.ac's ($version)"
else
    not_ok "debian/changelog's upstream version is configure.ac's ($version; it says" \
        "'$changelog': add an entry with dch -v $version-1)"
fi

# Each installed man page is named by a line of a debian/*.install: the page, a glob, or
# its directory.
installs=$(cat "$deb"/*.install)
set -f      # the .install lines are patterns, not for the shell to expand
missing=
for page in $FAAS_MAN_PAGES; do
    want=usr/share/man/$(echo "$page" | sed 's|^man/||')
    found=no
    for line in $installs; do
        case $want in
        $line | "$line"*) found=yes; break ;;
        esac
    done
    [ $found = yes ] || missing="$missing $want"
done
if [ -z "$missing" ]; then
    ok "every installed man page goes into a Debian package"
else
    not_ok "every installed man page goes into a Debian package (add to debian/*.install):$missing"
fi
done_testing
