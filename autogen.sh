#!/bin/sh
# autogen.sh - make ./configure from a git checkout (a release tarball has it already).
set -e
cd "$(dirname "$0")"
autoreconf -fi
# automake ships the TAP driver but installs it only on request.
cp -f "$(automake --print-libdir)/tap-driver.sh" build-aux/tap-driver.sh
