/* mod_basic.c - test fixture module: several handlers, INIT/SHUTDOWN hooks that count,
 * and module globals that start over each time the module is loaded again; a handler that
 * checks the handler ABI's NUL byte and one that never replies. */
#include <faas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int faas_init(void **st, const char *function);
void faas_shutdown(void *st);
int echo(faas_ctx *ctx, const void *payload, size_t len);
int whoami(faas_ctx *ctx, const void *payload, size_t len);
int fail(faas_ctx *ctx, const void *payload, size_t len);
int terminated(faas_ctx *ctx, const void *payload, size_t len);
int silent(faas_ctx *ctx, const void *payload, size_t len);

static int inits;               /* reset to 0 by a fresh dlopen after a dlclose */
static int live_states;

typedef struct state {
    int serial;                 /* which INIT made it: 1, 2, ... since this load */
    unsigned calls;
} state;

int faas_init(void **st, const char *function)
{
    state *s = malloc(sizeof *s);
    if (s == NULL)
        return -1;
    s->serial = ++inits;
    s->calls = 0;
    live_states++;
    *st = s;
    (void)function;
    return 0;
}

void faas_shutdown(void *st)
{
    live_states--;
    free(st);
}

int echo(faas_ctx *ctx, const void *payload, size_t len)
{
    return faas_reply(ctx, payload, len);
}

/* Replies {"serial":S,"calls":C,"inits":I,"live":L}: which instance served the call. */
int whoami(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload; (void)len;
    state *s = faas_ctx_state(ctx);
    char out[96];
    int n = snprintf(out, sizeof out, "{\"serial\":%d,\"calls\":%u,\"inits\":%d,\"live\":%d}",
                     s->serial, ++s->calls, inits, live_states);
    return faas_reply(ctx, out, (size_t)n);
}

int fail(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload; (void)len;
    return faas_fail(ctx, "KeyError", "'action'");
}

/* The handler ABI: replies with the payload when it is not NULL and payload[len] is NUL;
 * fails with NotTerminated otherwise. */
int terminated(faas_ctx *ctx, const void *payload, size_t len)
{
    if (payload == NULL || ((const unsigned char *)payload)[len] != 0)
        return faas_fail(ctx, "NotTerminated", "%zu byte payload %s", len,
                         payload == NULL ? "is NULL" : "is not followed by a NUL byte");
    return faas_reply(ctx, payload, len);
}

/* Succeeds without a reply: through the gateway, the body null. */
int silent(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)payload; (void)len;
    return 0;
}
