/*
 * ffi.h - the libffi bridge's interface to the core: a FAAS__FFI function gets its
 * handler and per-instance state here. See ffi.c.
 */
#ifndef FAAS_FFI_H
#define FAAS_FFI_H

#include "internal.h"

/* Resolve the function's symbol for a new instance (module already acquired). */
int  faas__ffi_instance(faas_function *fn, faas__instance *inst, char *err, size_t errlen);
/* Free what registration prepared (fn->ffi). */
void faas__ffi_free(faas_function *fn);

#endif /* FAAS_FFI_H */
