/*
 * fuzz_gateway_request.c - the gateway's request path with no socket: method, target,
 * headers and body in (faas__gw_begin, then faas__gw_finish as gateway_http.c calls
 * them), status, headers and body out. The input is HTTP-like text:
 *
 *     METHOD TARGET\n
 *     Name: value\n          (any number)
 *     \n
 *     body
 *
 * Its first byte picks the gateway: bit 0 a token ("tok"), bit 1 a chunked body (no
 * Content-Length). Checked on every answer: a status of 100-599, a request id, headers
 * that are printable one-liners, a body that is JSON for every error, and the
 * invariants of the API (200 carries X-Amz-Executed-Version, 202/204 no body).
 * "echo" has version 1 and the alias "live" (to 1), for qualified calls and the
 * version/alias routes; an input that
 * reaches those routes gets a fresh "echo" afterwards, so that aliases made by inputs
 * (kept until their function goes) do not pile up.
 *
 * fuzz-requires: FAAS_HAVE_GATEWAY (make fuzz skips it in a build without the gateway)
 */
#include "internal.h"

#include "gateway.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

static uint64_t now_ns = 1000000000;
static uint64_t mono(void *arg) { (void)arg; return now_ns; }
static int64_t wall(void *arg) { (void)arg; return INT64_C(1795651200) * 1000000000; }

static int echo(faas_ctx *ctx, const void *p, size_t n) { return faas_reply(ctx, p, n); }
static int fail(faas_ctx *ctx, const void *p, size_t n)
{
    faas_ctx_log(ctx, "failing on %zu bytes: %.*s", n, (int)n, (const char *)p);
    return faas_fail(ctx, "KeyError", "'%.*s'", (int)(n > 40 ? 40 : n), (const char *)p);
}
static int slow(faas_ctx *ctx, const void *p, size_t n)
{
    (void)ctx; (void)p; (void)n;
    now_ns += 4000000000u;              /* past its 3 s deadline: Sandbox.Timedout */
    return 0;
}

static faas_runtime *rt;
static faas__gw gws[2];

static void setup(void)
{
    faas_options o = { .manual = 1, .clock = { mono, wall, NULL } };
    if (faas_runtime_new(&rt, &o) != FAAS_OK)
        abort();
    faas_config limited;
    faas_config_init(&limited);
    limited.max_concurrency = 1;
    if (faas_register(rt, "echo", echo, NULL) || faas_register(rt, "fail", fail, NULL) ||
        faas_register(rt, "slow", slow, NULL) || faas_register(rt, "one", echo, &limited))
        abort();
    if (faas_publish_version(rt, "echo", "one", NULL) ||
        faas_alias_set(rt, "echo", "live", 1, 0, 0.0))
        abort();
    faas_gateway_options g = { .max_payload_sync = 512, .max_payload_async = 256 };
    if (faas__gw_init(&gws[0], rt, &g) != FAAS_OK)
        abort();
    g.token = "tok";
    if (faas__gw_init(&gws[1], rt, &g) != FAAS_OK)
        abort();
}

#define MAX_HEADERS 16

typedef struct hdrs {
    size_t n;
    char  *name[MAX_HEADERS], *value[MAX_HEADERS];
} hdrs;

static const char *lookup(void *arg, const char *name)
{
    hdrs *h = arg;
    for (size_t i = 0; i < h->n; i++)
        if (strcasecmp(h->name[i], name) == 0)
            return h->value[i];
    return NULL;
}

static void check(const faas__gw *gw, const faas__gw_call *call, const faas__gw_resp *r)
{
    (void)gw;
    if (r->status < 100 || r->status > 599)
        abort();
    bool rid = false, version = false;
    for (size_t i = 0; i < r->nheaders; i++) {
        const char *n = r->headers[i].name, *v = r->headers[i].value;
        if (n == NULL || v == NULL)
            abort();
        for (const char *c = v; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                abort();                /* a header value must stay one line */
        if (strcmp(n, "x-amzn-RequestId") == 0)
            rid = strlen(v) == 36;
        if (strcmp(n, "X-Amz-Executed-Version") == 0)
            version = true;
    }
    if (!rid || (r->len > 0 && r->body == NULL))
        abort();
    if (r->status == 200 && call->route == FAAS__GW_INVOKE && !version)
        abort();
    if ((r->status == 202 && call->route == FAAS__GW_INVOKE) || r->status == 204)
        if (r->len != 0)
            abort();
    if (r->status >= 400) {             /* every service error has a JSON body */
        json_error_t e;
        json_t *j = json_loadb(r->body, r->len, 0, &e);
        if (j == NULL || !json_is_object(j))
            abort();
        json_decref(j);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (rt == NULL)
        setup();
    if (size < 1)
        return 0;
    unsigned flags = data[0];
    char *in = malloc(size);
    memcpy(in, data + 1, size - 1);
    size_t n = size - 1;

    /* The request line. */
    size_t i = 0;
    while (i < n && in[i] != '\n')
        i++;
    char *line = strndup(in, i);
    char *sp = strchr(line, ' ');
    const char *method = line, *target = "";
    if (sp != NULL) {
        *sp = '\0';
        target = sp + 1;
    }
    /* The headers, to an empty line. */
    hdrs h = { 0 };
    if (i < n)
        i++;
    while (i < n && in[i] != '\n') {
        size_t s = i;
        while (i < n && in[i] != '\n')
            i++;
        char *hl = strndup(in + s, i - s);
        char *colon = strchr(hl, ':');
        if (colon != NULL && h.n < MAX_HEADERS) {
            *colon = '\0';
            char *v = colon + 1;
            while (*v == ' ')
                v++;
            h.name[h.n] = hl;
            h.value[h.n] = strdup(v);
            h.n++;
        } else {
            free(hl);
        }
        if (i < n)
            i++;
    }
    if (i < n)
        i++;
    const char *body = in + i;
    size_t len = n - i;

    faas__gw *gw = &gws[flags & 1];
    faas__gw_req req = { .method = method, .target = target, .header = lookup,
                         .header_arg = &h,
                         .content_length = (flags & 2) ? FAAS__GW_NO_LENGTH : len };
    faas__gw_call call;
    faas__gw_resp resp;
    if (!faas__gw_begin(gw, &req, &call, &resp)) {
        if (len > call.limit) {         /* what gateway_http.c does with a long body */
            faas__gw_too_large(gw, &call, FAAS__GW_NO_LENGTH, &resp);
        } else {
            req.body = body;
            req.len = len;
            faas__gw_finish(gw, &call, &req, &resp);
        }
    }
    check(gw, &call, &resp);
    faas__gw_resp_free(&resp);
    faas_run_pending(rt);               /* the Event calls it queued run (and are freed) */
    if (call.route >= FAAS__GW_PUBLISH &&
        (faas_unregister(rt, "echo") || faas_register(rt, "echo", echo, NULL) ||
         faas_publish_version(rt, "echo", "one", NULL) ||
         faas_alias_set(rt, "echo", "live", 1, 0, 0.0)))
        abort();

    for (size_t k = 0; k < h.n; k++) {
        free(h.name[k]);
        free(h.value[k]);
    }
    free(line);
    free(in);
    return 0;
}
