/*
 * isolate_none.c - process isolation in a build without it (configure --without-isolation,
 * or no libseccomp): faas__isolation (registry.c) stays NULL, so a registration asking for
 * isolation = process gets FAAS_ENOTSUP, and the zygote program's entry point, exported for
 * faas-zygote alone, fails. The real parts are isolate.c, isolate_child.c,
 * isolate_seccomp.c and isolate_cgroup.c; mk/isolate.am chooses.
 */
#include "internal.h"

#include "isolate.h"

int faas__isolate_main(int argc, char **argv, volatile uint64_t *oom_request)
{
    (void)argc;
    (void)argv;
    (void)oom_request;
    return 2;                           /* this libfaas has no process isolation */
}
