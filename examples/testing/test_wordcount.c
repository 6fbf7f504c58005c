/* test_wordcount.c - how a user unit-tests a function module with libfaas: a runtime in
 * manual mode on a fake clock, so deadlines and keep-alive are driven by the test, with no
 * sleep. It asserts on responses and on the records the calls produce.
 * Run: ./test_wordcount [MODULE_DIR]; exit status 0 when every check passes. */
#include <faas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                          \
        }                                                                        \
    } while (0)

/* The test's clock: time moves only when the test says so. */
static uint64_t now_ns = 1000000000;
static uint64_t mono(void *arg) { (void)arg; return now_ns; }
static int64_t wall(void *arg) { (void)arg; return 1795651200000000000 + (int64_t)now_ns; }

static faas_record last;
static void keep_record(const faas_record *r, void *arg)
{
    (void)arg;
    last = *r;                       /* its strings are valid only inside the hook */
    last.function = last.tag = NULL;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : getenv("FAAS_MODULE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/wordcount.so", dir ? dir : ".");

    faas_options opts = FAAS_OPTIONS_INIT;
    opts.manual = 1;                  /* no background thread: faas_run_pending drives it */
    opts.clock.mono_ns = mono;
    opts.clock.wall_ns = wall;
    faas_runtime *rt;
    if (faas_runtime_new(&rt, &opts) != FAAS_OK)
        return 1;
    faas_on_record(rt, keep_record, NULL);

    faas_config cfg;
    faas_config_init(&cfg);
    cfg.keep_alive_ms = 60000;
    cfg.memory_mb = 256;
    if (faas_register_module(rt, "wordcount", path, "wordcount", &cfg) != FAAS_OK) {
        fprintf(stderr, "register: %s\n", faas_last_error());
        return 1;
    }

    /* 1. The reply, and the first call is cold. */
    faas_response res;
    const char *text = "\"the quick brown fox\"";
    CHECK(faas_invoke(rt, "wordcount", text, strlen(text), &res) == FAAS_OK);
    CHECK(strcmp(res.data, "{\"words\":4,\"chars\":19}") == 0);
    CHECK(res.record.cold == 1);
    CHECK(strstr(res.log_tail, "counted 4 words") != NULL);
    faas_response_free(&res);

    /* 2. Bad input is the function's own error, Lambda-shaped. */
    CHECK(faas_invoke(rt, "wordcount", "{\"a\":1}", 7, &res) == FAAS_EHANDLER);
    CHECK(strcmp(res.error_type, "InvalidInput") == 0);
    CHECK(strstr(res.data, "\"errorType\":\"InvalidInput\"") != NULL);
    CHECK(last.status == FAAS_EHANDLER && last.cold == 0);
    faas_response_free(&res);

    /* 3. Billing: on the fake clock the call took 0 ns, billed as 1 ms at 256 MB. */
    CHECK(faas_invoke(rt, "wordcount", "a b", 3, &res) == FAAS_OK);
    CHECK(res.record.billed_ms == 1 && res.record.memory_mb == 256);
    CHECK(res.record.cost_picousd == 200000 + 4167);   /* $0.0000002 + 1 ms x 0.25 GB */
    faas_response_free(&res);

    /* 4. Keep-alive: a minute idle, and the instance is gone; the next call is cold. */
    now_ns += 60000ull * 1000000ull;
    faas_run_pending(rt);
    faas_stats st;
    CHECK(faas_stats_get(rt, "wordcount", &st) == FAAS_OK && st.instances_live == 0);
    CHECK(faas_invoke(rt, "wordcount", "x", 1, &res) == FAAS_OK && res.record.cold == 1);
    faas_response_free(&res);

    faas_runtime_free(rt);
    if (failures == 0)
        printf("test_wordcount: all checks passed\n");
    return failures != 0;
}
