dnl mk/triggers.m4 - included by configure.ac: the triggers part's checks.
dnl The triggers themselves need nothing beyond Linux's inotify and the core's jansson;
dnl libpng is only for the s3-thumbnail example (built and tested when it is found).
AC_CHECK_HEADER([sys/inotify.h], [],
  [AC_MSG_ERROR([sys/inotify.h not found: directory watches need Linux inotify])])
PKG_CHECK_MODULES([LIBPNG], [libpng >= 1.6], [have_libpng=yes], [have_libpng=no])
AM_CONDITIONAL([HAVE_LIBPNG], [test "x$have_libpng" = xyes])
AS_IF([test "x$have_libpng" != xyes],
  [AC_MSG_WARN([libpng not found: the s3-thumbnail example is not built (apt-get install libpng-dev)])])
