/* mod_initfail.c - test fixture: INIT fails with a message, so no instance may be kept. */
#include <faas.h>

int faas_init(void **st, const char *function);
int handler(faas_ctx *ctx, const void *payload, size_t len);
extern int init_attempts;

int init_attempts;

int faas_init(void **st, const char *function)
{
    (void)st;
    init_attempts++;
    faas_fail(NULL, NULL, "cannot open config for %s: No such file or directory", function);
    return -1;
}

int handler(faas_ctx *ctx, const void *payload, size_t len)
{
    return faas_reply(ctx, payload, len);
}
