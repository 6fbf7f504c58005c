dnl mk/packaging.m4 - included by configure.ac: what the CMake package config needs to know.
dnl libfaasConfigVersion.cmake is made here; libfaasConfig.cmake, which holds installation
dnl directories, at make time (mk/packaging.am).
dnl The pointer size goes into libfaasConfigVersion.cmake, so that a 32-bit CMake project
dnl does not pick up a 64-bit libfaas (and the reverse).
AC_CHECK_SIZEOF([void *])
FAAS_SIZEOF_VOID_P=$ac_cv_sizeof_void_p
AC_SUBST([FAAS_SIZEOF_VOID_P])
AC_PATH_PROG([CMAKE], [cmake], [])
AC_CONFIG_FILES([cmake/libfaasConfigVersion.cmake])
