dnl mk/ffi.m4 - included by configure.ac: the ffi part's checks.
dnl The bridge's number checks use libm (floor, fabs, isinf): gcc may inline them, clang
dnl calls them. In LIBS, so that libfaas.pc's Libs.private names it for static links.
AC_SEARCH_LIBS([floor], [m], [],
  [AC_MSG_ERROR([floor() not found: the C library's libm is needed (apt-get install libc6-dev)])])
