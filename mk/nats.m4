dnl mk/nats.m4 - included by configure.ac: the nats part's checks.
