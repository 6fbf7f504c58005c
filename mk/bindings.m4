dnl mk/bindings.m4 - included by configure.ac: the bindings part's checks.
