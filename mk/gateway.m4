dnl mk/gateway.m4 - included by configure.ac: the gateway part's checks.
