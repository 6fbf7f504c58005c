/* metrics_dump.c - runs a small workload touching every metric (cold and warm calls,
 * failures, timeouts, throttles, retries, a dead letter, async queue waits, budgets, a
 * tag that needs escaping) and prints faas_metrics_prometheus() ("prom") or
 * faas_metrics_json() ("json"). tests/prometheus.sh feeds it to promtool and python. */
#include <faas.h>

#include <stdio.h>
#include <string.h>

static int ok(faas_ctx *ctx, const void *payload, size_t len)
{
    return faas_reply(ctx, payload, len);
}

static int broken(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload; (void)len;
    return faas_fail(ctx, "Broken", "always");
}

static int slow(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload; (void)len;
    while (faas_ctx_remaining_ms(ctx) >= 0)
        ;
    return 0;
}

static faas_runtime *rt;

/* At its concurrency limit of 1, calling itself is throttled. */
static int nest(faas_ctx *ctx, const void *payload, size_t len)
{
    faas_invoke(rt, "nest", "inner", 5, NULL);
    return faas_reply(ctx, payload, len);
}

static int check(int rc, const char *what)
{
    if (rc != FAAS_OK)
        fprintf(stderr, "metrics_dump: %s: %s (%s)\n", what, faas_strerror(rc),
                faas_last_error());
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "prom") != 0 && strcmp(argv[1], "json") != 0)) {
        fprintf(stderr, "usage: metrics_dump prom|json\n");
        return 2;
    }
    faas_options o;
    memset(&o, 0, sizeof o);
    o.manual = 1;
    o.retry_base_ms = 1;
    o.retry_cap_ms = 1;
    if (check(faas_runtime_new(&rt, &o), "faas_runtime_new"))
        return 1;
    faas_config c;
    faas_config_init(&c);
    c.tag = "team \"a\"\\north";
    c.max_concurrency = 1;
    if (check(faas_register(rt, "ok", ok, &c), "register ok") ||
        check(faas_register(rt, "nest", nest, &c), "register nest"))
        return 1;
    faas_invoke(rt, "nest", "outer", 5, NULL);
    c.tag = NULL;
    c.max_concurrency = 0;
    c.dead_letter = "dlq";
    c.max_retries = 1;
    if (check(faas_register(rt, "dlq", ok, NULL), "register dlq") ||
        check(faas_register(rt, "broken", broken, &c), "register broken"))
        return 1;
    c.dead_letter = NULL;
    c.timeout_ms = 1;
    c.tag = "slow";
    if (check(faas_register(rt, "slow", slow, &c), "register slow"))
        return 1;
    for (int i = 0; i < 50; i++)
        faas_invoke(rt, "ok", "{}", 2, NULL);
    faas_invoke(rt, "broken", "{}", 2, NULL);
    faas_invoke(rt, "slow", "{}", 2, NULL);
    for (int i = 0; i < 5; i++)
        faas_invoke_async(rt, "ok", "{}", 2, NULL, NULL, NULL);
    faas_invoke_async(rt, "broken", "{}", 2, NULL, NULL, NULL);
    if (check(faas_drain(rt, 10000), "faas_drain"))
        return 1;
    check(faas_budget_set(rt, "slow", 0, 60000), "faas_budget_set");
    faas_invoke(rt, "slow", "{}", 2, NULL);             /* refused: over budget */
    check(faas_budget_set(rt, "team \"a\"\\north", 1000000000000ull, 3600000),
          "faas_budget_set");

    char *text;
    size_t len;
    int rc = strcmp(argv[1], "prom") == 0 ? faas_metrics_prometheus(rt, &text, &len)
                                          : faas_metrics_json(rt, &text, &len);
    if (check(rc, argv[1]))
        return 1;
    fwrite(text, 1, len, stdout);
    if (argv[1][0] == 'j')
        fputc('\n', stdout);
    faas_free(text);
    faas_runtime_free(rt);
    return 0;
}
