dnl mk/ffi.m4 - included by configure.ac: the ffi part's checks.
