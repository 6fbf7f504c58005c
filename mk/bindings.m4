dnl mk/bindings.m4 - included by configure.ac: the bindings part's checks.
dnl
dnl Lua 5.4 (the C module bindings/lua/faas.so): auto-detected, --with-lua to force it or
dnl --without-lua to leave it out. The module is built against the headers only: the symbols
dnl of Lua come from the interpreter or host that loads it (Debian's lua5.4 links Lua in
dnl statically, so a module linked with liblua would run a second copy of Lua).
dnl Python needs nothing at build time (the package is ctypes over libfaas); its tests use
dnl /usr/bin/python3 and pytest when they are there.
AC_ARG_WITH([lua],
  [AS_HELP_STRING([--with-lua], [build the Lua 5.4 binding (default: if Lua 5.4 is found)])],
  [], [with_lua=auto])
have_lua=no
AS_IF([test "x$with_lua" != xno], [
  PKG_CHECK_MODULES([LUA], [lua5.4], [have_lua=yes], [
    PKG_CHECK_MODULES([LUA], [lua-5.4], [have_lua=yes], [
      PKG_CHECK_MODULES([LUA], [lua >= 5.4 lua < 5.5], [have_lua=yes], [have_lua=no])])])
])
AS_IF([test "x$with_lua" = xyes && test "x$have_lua" != xyes],
  [AC_MSG_ERROR([--with-lua: Lua 5.4 headers not found: apt-get install liblua5.4-dev])])
AM_CONDITIONAL([HAVE_LUA], [test "x$have_lua" = xyes])
AC_ARG_WITH([lua-cmoddir],
  [AS_HELP_STRING([--with-lua-cmoddir=DIR],
    [where to install the Lua module faas.so (default: LIBDIR/lua/5.4)])],
  [luacmoddir=$withval], [luacmoddir='${libdir}/lua/5.4'])
AC_SUBST([luacmoddir])
AC_PATH_PROGS([LUA54], [lua5.4 lua54], [])
AC_SUBST([LUA54])
AC_MSG_NOTICE([Lua 5.4 binding: $have_lua (module directory $luacmoddir)])
