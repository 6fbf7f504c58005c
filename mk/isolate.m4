dnl mk/isolate.m4 - included by configure.ac: the isolate part's checks.
dnl Process isolation (zygote-forked instances, rlimits, seccomp) needs Linux (memfd,
dnl SCM_RIGHTS, prctl) and libseccomp. --with-isolation=auto (the default) builds it when
dnl both are there; =yes insists; =no leaves it out (isolation = process is FAAS_ENOTSUP).
AC_ARG_WITH([isolation],
  [AS_HELP_STRING([--with-isolation@<:@=yes|no|auto@:>@],
    [process isolation of functions: needs Linux and libseccomp (default: auto)])],
  [], [with_isolation=auto])
have_isolation=no
AS_IF([test "x$with_isolation" != xno], [
  PKG_CHECK_MODULES([SECCOMP], [libseccomp >= 2.4], [have_seccomp=yes], [have_seccomp=no])
  AC_CHECK_HEADERS([linux/seccomp.h sys/prctl.h spawn.h], [], [have_seccomp=no])
  AC_CHECK_FUNCS([memfd_create posix_spawn on_exit], [], [have_seccomp=no])
  AS_IF([test "x$have_seccomp" = xyes], [have_isolation=yes],
    [test "x$with_isolation" = xyes],
    [AC_MSG_ERROR([--with-isolation: needs Linux (memfd_create, posix_spawn, prctl) and libseccomp: apt-get install libseccomp-dev])])
])
AS_IF([test "x$have_isolation" = xyes],
  [AC_DEFINE([FAAS_HAVE_ISOLATION], [1], [Define to 1 when process isolation is built.])])
AM_CONDITIONAL([FAAS_HAVE_ISOLATION], [test "x$have_isolation" = xyes])
AC_MSG_NOTICE([process isolation: $have_isolation])
