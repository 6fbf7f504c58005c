/*
 * process_none.c - process instances in a build without libmicrohttpd (no Runtime API
 * server to speak to them): faas_register_process() says so. The real parts are
 * process.c and runtime_api.c; mk/runtime_api.am chooses.
 */
#include "internal.h"

#include "process_code.h"

#include <stdlib.h>
#include <string.h>

int faas_register_process(faas_runtime *rt, const char *name, const faas_process_config *pc,
                          const faas_config *cfg)
{
    (void)rt;
    (void)pc;
    (void)cfg;
    return faas__fail(FAAS_ENOTSUP, "faas_register_process %.80s: this libfaas was built "
                      "without libmicrohttpd, which its Runtime API server needs",
                      name ? name : "(null)");
}

int faas__process_describe(faas_runtime *rt, const char *name, char **handler,
                           char **command, char ***env)
{
    (void)rt;
    (void)name;
    *handler = *command = NULL;
    *env = NULL;
    return FAAS_ENOTFOUND;
}

bool faas__process_is(const faas_function *fn)
{
    (void)fn;
    return false;
}

int faas__process_spec(const faas_function *fn, faas__proc_spec *out)
{
    (void)fn;
    memset(out, 0, sizeof *out);
    return FAAS_ENOTFOUND;
}

int faas__process_adopt(faas_function *fn, faas__proc_spec *spec, char *snapshot)
{
    (void)fn;
    faas__proc_spec_free(spec);
    faas__tree_remove(snapshot);
    free(snapshot);
    return FAAS_ENOTSUP;
}
