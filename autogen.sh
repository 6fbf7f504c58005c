#!/bin/sh
# autogen.sh - make ./configure from a git checkout (a release tarball has it already).
# The same as what Debian's tooling and most packagers run: configure.ac declares every
# auxiliary file (the TAP driver too), so `autoreconf -fi` installs them all.
set -e
cd "$(dirname "$0")"
autoreconf -fi
