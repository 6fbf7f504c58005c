dnl mk/triggers.m4 - included by configure.ac: the triggers part's checks.
