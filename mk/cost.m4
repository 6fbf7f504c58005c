dnl mk/cost.m4 - included by configure.ac: the cost part's checks.
