/*
 * nats_none.c - the NATS part's entry points in a build without libnats: each answers
 * FAAS_ENOTSUP and says how to get the real one.
 */
#include "internal.h"

#include <string.h>

#define NOT_BUILT "libfaas was built without NATS support (configure found no libnats: " \
                  "apt-get install libnats-dev, then configure --with-nats)"

int faas_nats_attach(faas_runtime *rt, const char *url, const faas_nats_options *opts)
{
    (void)rt; (void)url; (void)opts;
    return faas__fail(FAAS_ENOTSUP, "faas_nats_attach: " NOT_BUILT);
}

int faas_nats_detach(faas_runtime *rt)
{
    (void)rt;
    return faas__fail(FAAS_ENOTSUP, "faas_nats_detach: " NOT_BUILT);
}

int faas_nats_stats_get(faas_runtime *rt, faas_nats_stats *out)
{
    (void)rt;
    if (out != NULL)
        memset(out, 0, sizeof *out);
    return faas__fail(FAAS_ENOTSUP, "faas_nats_stats_get: " NOT_BUILT);
}
