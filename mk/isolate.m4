dnl mk/isolate.m4 - included by configure.ac: the isolate part's checks.
