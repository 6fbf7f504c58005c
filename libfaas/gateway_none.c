/*
 * gateway_none.c - the HTTP gateway's entry points in a build without libmicrohttpd:
 * each answers FAAS_ENOTSUP and says how to get the real one.
 */
#include "internal.h"

int faas_gateway_start(faas_runtime *rt, const char *address,
                       const faas_gateway_options *opts, faas_gateway **out)
{
    (void)rt; (void)address; (void)opts;
    if (out != NULL)
        *out = NULL;
    return faas__fail(FAAS_ENOTSUP, "faas_gateway_start: this libfaas was built without "
                      "the HTTP gateway (apt-get install libmicrohttpd-dev, then configure "
                      "--with-gateway)");
}

int faas_gateway_port(const faas_gateway *gw)
{
    (void)gw;
    return faas__fail(FAAS_ENOTSUP, "faas_gateway_port: built without the HTTP gateway");
}

void faas_gateway_stop(faas_gateway *gw)
{
    (void)gw;
}
