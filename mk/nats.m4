dnl mk/nats.m4 - included by configure.ac: the nats part's checks.
dnl libnats (cnats, Debian's libnats-dev) for distribution over NATS JetStream; nats-server
dnl for its tests. --with-nats forces it (an error if missing), --without-nats leaves it out:
dnl faas_nats_attach() then answers FAAS_ENOTSUP.
AC_ARG_WITH([nats],
  [AS_HELP_STRING([--with-nats], [distribution over NATS JetStream (libnats) @<:@default=check@:>@])],
  [], [with_nats=check])
have_nats=no
AS_IF([test "x$with_nats" != xno], [
  PKG_CHECK_MODULES([NATS], [libnats >= 3.3], [have_nats=yes], [
    AS_IF([test "x$with_nats" = xyes],
      [AC_MSG_ERROR([--with-nats: libnats not found: apt-get install libnats-dev])])
  ])
])
AS_IF([test "x$have_nats" = xyes],
  [AC_DEFINE([FAAS_HAVE_NATS], [1], [Define to 1 to build the NATS JetStream part.])])
AM_CONDITIONAL([FAAS_HAVE_NATS], [test "x$have_nats" = xyes])
AC_PATH_PROG([NATS_SERVER], [nats-server], [], [$PATH:/usr/sbin:/usr/local/sbin])
AC_SUBST([NATS_SERVER])
