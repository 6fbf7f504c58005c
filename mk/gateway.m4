dnl mk/gateway.m4 - included by configure.ac: the gateway part's checks.
dnl
dnl libmicrohttpd (the HTTP gateway) is optional: auto-detected, --with-gateway forces it
dnl (an error if missing), --without-gateway leaves it out (faas_gateway_start() then
dnl answers FAAS_ENOTSUP).
AC_ARG_WITH([gateway],
  [AS_HELP_STRING([--with-gateway],
    [the HTTP gateway speaking the AWS Lambda Invoke API, on libmicrohttpd (default: if found)])],
  [], [with_gateway=check])
have_gateway=no
AS_IF([test "x$with_gateway" != xno],
  [PKG_CHECK_MODULES([MHD], [libmicrohttpd >= 0.9.71], [have_gateway=yes],
    [AS_IF([test "x$with_gateway" = xyes],
      [AC_MSG_ERROR([--with-gateway: libmicrohttpd >= 0.9.71 not found: apt-get install libmicrohttpd-dev])])])])
AS_IF([test "x$have_gateway" = xyes],
  [AC_DEFINE([FAAS_HAVE_GATEWAY], [1], [Define to 1 to build the HTTP gateway (libmicrohttpd).])])
AC_MSG_CHECKING([whether to build the HTTP gateway])
AC_MSG_RESULT([$have_gateway])
AM_CONDITIONAL([FAAS_HAVE_GATEWAY], [test "x$have_gateway" = xyes])
AC_SUBST([MHD_CFLAGS])
AC_SUBST([MHD_LIBS])
