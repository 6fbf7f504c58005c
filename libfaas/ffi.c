/*
 * ffi.c - the libffi bridge: C signatures, prepared calls, JSON marshalling.
 * Not built yet: faas_register_ffi() answers FAAS_ENOTSUP (issue 4).
 */
#include "internal.h"

#include "ffi.h"

int faas_register_ffi(faas_runtime *rt, const char *name, const char *path,
                      const char *symbol, const char *signature, const faas_config *cfg)
{
    (void)rt; (void)name; (void)path; (void)symbol; (void)signature; (void)cfg;
    return faas__fail(FAAS_ENOTSUP, "faas_register_ffi: the libffi bridge is not built yet");
}

int faas__ffi_instance(faas_function *fn, faas__instance *inst, char *err, size_t errlen)
{
    (void)fn; (void)inst; (void)err; (void)errlen;
    return FAAS_ENOTSUP;
}

void faas__ffi_free(faas_function *fn)
{
    (void)fn;
}
