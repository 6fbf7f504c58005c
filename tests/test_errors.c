/* test_errors.c - status codes, their names and words, faas_last_error(), the version;
 * every public function given a NULL handle. */
#include "config.h"

#include "util.h"

#include <stdbool.h>

static const int all_codes[] = {
    FAAS_OK, FAAS_EINVAL, FAAS_ENOMEM, FAAS_ENOTFOUND, FAAS_EEXIST, FAAS_ELOAD, FAAS_EINIT,
    FAAS_EHANDLER, FAAS_ETIMEOUT, FAAS_ETHROTTLED, FAAS_ETOOLARGE, FAAS_EBUSY, FAAS_ESHUTDOWN,
    FAAS_EBUDGET, FAAS_ECRASHED, FAAS_EMEMORY, FAAS_ENOTSUP, FAAS_EIO,
};
#define NCODES (sizeof all_codes / sizeof all_codes[0])

static void codes_have_contract_values(void **state)
{
    (void)state;
    /* design.md's numbers: append-only, never renumbered. */
    for (size_t i = 0; i < NCODES; i++)
        assert_int_equal(all_codes[i], -(int)i);
}

static void strerror_names_every_code(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCODES; i++) {
        const char *s = faas_strerror(all_codes[i]);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        assert_string_not_equal(s, "unknown error");
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(s, faas_strerror(all_codes[j]));
    }
    assert_string_equal(faas_strerror(-999), "unknown error");
    assert_string_equal(faas_strerror(1), "unknown error");
    assert_string_equal(faas_strerror(FAAS_ETHROTTLED), "function at its concurrency limit");
}

static void err_name_is_the_macro_name(void **state)
{
    (void)state;
    assert_string_equal(faas_err_name(FAAS_OK), "FAAS_OK");
    assert_string_equal(faas_err_name(FAAS_ETHROTTLED), "FAAS_ETHROTTLED");
    assert_string_equal(faas_err_name(FAAS_ENOTSUP), "FAAS_ENOTSUP");
    assert_string_equal(faas_err_name(FAAS_EIO), "FAAS_EIO");
    assert_string_equal(faas_err_name(-18), "FAAS_EUNKNOWN");
}

static void *fresh_thread_last_error(void *arg)
{
    (void)arg;
    return strdup(faas_last_error());
}

static void last_error_is_per_thread_and_sticky(void **state)
{
    (void)state;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, NULL));
    assert_int_equal(faas_register(rt, "bad.name", NULL, NULL), FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "handler is NULL"));
    assert_int_equal(faas_register_module(rt, "bad.name", "x.so", "f", NULL), FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "bad.name"));
    char before[512];
    snprintf(before, sizeof before, "%s", faas_last_error());

    /* Another thread starts with "" and does not see this thread's message. */
    pthread_t t;
    void *other;
    assert_int_equal(pthread_create(&t, NULL, fresh_thread_last_error, NULL), 0);
    pthread_join(t, &other);
    assert_string_equal(other, "");
    free(other);

    /* A success does not clear it. */
    faas_config cfg;
    faas_config_init(&cfg);
    assert_non_null(faas_version());
    faas_stats st;
    assert_int_equal(faas_stats_get(rt, NULL, &st), FAAS_OK);
    assert_string_equal(faas_last_error(), before);
    faas_runtime_free(rt);
}

static void version_matches_header(void **state)
{
    (void)state;
    assert_string_equal(faas_version(), FAAS_VERSION_STRING);
    assert_int_equal(faas_version_number(), FAAS_VERSION_HEX);
    unsigned maj, min, pat;
    assert_int_equal(sscanf(faas_version(), "%u.%u.%u", &maj, &min, &pat), 3);
    assert_int_equal(faas_version_number(), (maj << 16) | (min << 8) | pat);
}

static void runtime_options_are_checked(void **state)
{
    (void)state;
    faas_runtime *rt = (faas_runtime *)0x1;
    faas_options o;
    memset(&o, 0, sizeof o);
    o.price_model = "aws-lambda-mainframe";
    assert_int_equal(faas_runtime_new(&rt, &o), FAAS_EINVAL);
    assert_null(rt);
    assert_non_null(strstr(faas_last_error(), "aws-lambda-mainframe"));
    o.price_model = NULL;
    o.workers = 100000;
    assert_int_equal(faas_runtime_new(&rt, &o), FAAS_EINVAL);
    assert_int_equal(faas_runtime_new(NULL, NULL), FAAS_EINVAL);
    faas_runtime_free(NULL);                         /* a no-op */
    o.workers = 0;
    o.price_model = "aws-lambda-arm64";
    ASSERT_OK(faas_runtime_new(&rt, &o));
    faas_runtime_free(rt);
}


/* ---- a NULL handle, for every public function that takes one ------------------------------- */

static int noop_handler(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)payload; (void)len;
    return 0;
}

static faas_response null_res;          /* what the invoke rows fill; freed after each row */

/* One call each, every other argument valid, so that only the handle is wrong. */
static int n_run_pending(void) { return faas_run_pending(NULL); }
static int n_drain(void) { return faas_drain(NULL, 0); }
static int n_register(void) { return faas_register(NULL, "echo", noop_handler, NULL); }
static int n_register_module(void)
{
    return faas_register_module(NULL, "echo", test_module("mod_basic.so"), "echo", NULL);
}
static int n_register_ffi(void)
{
    return faas_register_ffi(NULL, "cos", NULL, "cos", "double (double)", NULL);
}
static int n_unregister(void) { return faas_unregister(NULL, "echo"); }
static int n_lookup(void) { return faas_lookup(NULL, "echo") == NULL ? FAAS_EINVAL : FAAS_OK; }
static int n_invoke(void) { return faas_invoke(NULL, "echo", "{}", 2, &null_res); }
static int n_invoke_fn(void) { return faas_invoke_fn(NULL, "{}", 2, &null_res); }
static int n_invoke_async(void)
{
    char id[37];
    return faas_invoke_async(NULL, "echo", "{}", 2, NULL, NULL, id);
}
static int n_invoke_fn_async(void)
{
    char id[37];
    return faas_invoke_fn_async(NULL, "{}", 2, NULL, NULL, id);
}
static int n_invoke_future(void)
{
    faas_future *f;
    return faas_invoke_future(NULL, "echo", "{}", 2, &f);
}
static int n_future_wait(void) { return faas_future_wait(NULL, 0, &null_res); }
static int n_warm(void) { return faas_warm(NULL, "echo", 1); }
static int n_stats_get(void)
{
    faas_stats st;
    return faas_stats_get(NULL, "echo", &st);
}
static int n_invoke_ffi(void)
{
    double x = 0.0, r;
    void *args[] = { &x };
    return faas_invoke_ffi(NULL, args, &r, &null_res);
}
static int n_cost_totals(void)
{
    faas_cost_row *rows;
    size_t n;
    return faas_cost_totals(NULL, 0, &rows, &n);
}
static int n_budget_set(void) { return faas_budget_set(NULL, "team", 1000, 1000); }
static int n_budget_get(void)
{
    faas_budget b;
    return faas_budget_get(NULL, "team", &b);
}
static int n_budget_remove(void) { return faas_budget_remove(NULL, "team"); }
static int n_metrics_json(void)
{
    char *t;
    size_t n;
    return faas_metrics_json(NULL, &t, &n);
}
static int n_metrics_prometheus(void)
{
    char *t;
    size_t n;
    return faas_metrics_prometheus(NULL, &t, &n);
}
static int n_list(void)
{
    faas_function_info *i;
    size_t n;
    return faas_list(NULL, &i, &n);
}
static int n_describe(void)
{
    faas_function_info *i;
    return faas_describe(NULL, "echo", &i);
}
static int n_gateway_start(void)
{
    faas_gateway *gw;
    return faas_gateway_start(NULL, "127.0.0.1:0", NULL, &gw);
}
static int n_gateway_port(void) { return faas_gateway_port(NULL); }
static int n_schedule(void)
{
    faas_trigger_id id;
    return faas_schedule(NULL, "echo", "rate(1 minute)", &id);
}
static int n_schedule_ex(void)
{
    faas_trigger_id id;
    return faas_schedule_ex(NULL, "echo", "rate(1 minute)", NULL, &id);
}
static int n_unschedule(void) { return faas_unschedule(NULL, 1); }
static int n_watch(void)
{
    faas_trigger_id id;
    return faas_watch(NULL, "echo", "/", NULL, &id);
}
static int n_unwatch(void) { return faas_unwatch(NULL, 1); }
static int n_nats_attach(void) { return faas_nats_attach(NULL, "nats://127.0.0.1:4222", NULL); }
static int n_nats_detach(void) { return faas_nats_detach(NULL); }
static int n_nats_stats_get(void)
{
    faas_nats_stats st;
    return faas_nats_stats_get(NULL, &st);
}
static int n_reply(void) { return faas_reply(NULL, "{}", 2); }
static int n_fail_body(void) { return faas_fail_body(NULL, "{}", 2); }

enum { ALWAYS, GATEWAY, NATS };     /* the part a row needs: without it, FAAS_ENOTSUP */

static const struct null_case {
    const char *prefix;             /* what faas_last_error() starts with */
    const char *handle;             /* and the handle it names */
    int (*call)(void);
    int part;
} null_cases[] = {
    { "faas_run_pending:", "runtime is NULL", n_run_pending, ALWAYS },
    { "faas_drain:", "runtime is NULL", n_drain, ALWAYS },
    { "faas_register:", "runtime is NULL", n_register, ALWAYS },
    { "faas_register_module:", "runtime is NULL", n_register_module, ALWAYS },
    { "faas_register_ffi:", "runtime is NULL", n_register_ffi, ALWAYS },
    { "faas_unregister:", "runtime is NULL", n_unregister, ALWAYS },
    { "faas_lookup:", "runtime is NULL", n_lookup, ALWAYS },
    { "faas_invoke:", "runtime is NULL", n_invoke, ALWAYS },
    { "faas_invoke_fn:", "function is NULL", n_invoke_fn, ALWAYS },
    { "faas_invoke_async:", "runtime is NULL", n_invoke_async, ALWAYS },
    { "faas_invoke_fn_async:", "function is NULL", n_invoke_fn_async, ALWAYS },
    { "faas_invoke_future:", "runtime is NULL", n_invoke_future, ALWAYS },
    { "faas_future_wait:", "future is NULL", n_future_wait, ALWAYS },
    { "faas_warm:", "runtime is NULL", n_warm, ALWAYS },
    { "faas_stats_get:", "runtime is NULL", n_stats_get, ALWAYS },
    { "faas_invoke_ffi:", "function is NULL", n_invoke_ffi, ALWAYS },
    { "faas_cost_totals:", "runtime is NULL", n_cost_totals, ALWAYS },
    { "faas_budget_set:", "runtime is NULL", n_budget_set, ALWAYS },
    { "faas_budget_get:", "runtime is NULL", n_budget_get, ALWAYS },
    { "faas_budget_remove:", "runtime is NULL", n_budget_remove, ALWAYS },
    { "faas_metrics_json:", "runtime is NULL", n_metrics_json, ALWAYS },
    { "faas_metrics_prometheus:", "runtime is NULL", n_metrics_prometheus, ALWAYS },
    { "faas_list:", "runtime is NULL", n_list, ALWAYS },
    { "faas_describe:", "runtime is NULL", n_describe, ALWAYS },
    { "faas_gateway_start:", "runtime is NULL", n_gateway_start, GATEWAY },
    { "faas_gateway_port:", "gateway is NULL", n_gateway_port, GATEWAY },
    { "faas_schedule:", "runtime is NULL", n_schedule, ALWAYS },
    { "faas_schedule:", "runtime is NULL", n_schedule_ex, ALWAYS },
    { "faas_unschedule:", "runtime is NULL", n_unschedule, ALWAYS },
    { "faas_watch:", "runtime is NULL", n_watch, ALWAYS },
    { "faas_unwatch:", "runtime is NULL", n_unwatch, ALWAYS },
    { "faas_nats_attach:", "runtime is NULL", n_nats_attach, NATS },
    { "faas_nats_detach:", "runtime is NULL", n_nats_detach, NATS },
    { "faas_nats_stats_get:", "runtime is NULL", n_nats_stats_get, NATS },
    { "faas_reply:", "ctx is NULL", n_reply, ALWAYS },
    { "faas_fail_body:", "ctx is NULL", n_fail_body, ALWAYS },
};

static bool part_built(int part)
{
#if !FAAS_HAVE_GATEWAY
    if (part == GATEWAY)
        return false;
#endif
#if !FAAS_HAVE_NATS
    if (part == NATS)
        return false;
#endif
    (void)part;
    return true;
}

/* Every row: FAAS_EINVAL, and faas_last_error() names the function and the NULL handle
 * (not, as faas_warm and faas_unregister once did, 'invalid name "echo"'). */
static void a_null_handle_is_named(void **state)
{
    (void)state;
    size_t bad = 0;
    for (size_t i = 0; i < sizeof null_cases / sizeof null_cases[0]; i++) {
        const struct null_case *c = &null_cases[i];
        faas_runtime_new(NULL, NULL);           /* another message first: this row's is new */
        memset(&null_res, 0x5a, sizeof null_res);
        int rc = c->call();
        const char *msg = faas_last_error();
        bool ok;
        if (!part_built(c->part))
            ok = rc == FAAS_ENOTSUP && strncmp(msg, c->prefix, strlen(c->prefix)) == 0;
        else
            ok = rc == FAAS_EINVAL && strncmp(msg, c->prefix, strlen(c->prefix)) == 0 &&
                 strstr(msg, c->handle) != NULL;
        if (!ok) {
            print_error("%s %s, \"%s\" (wanted FAAS_EINVAL and \"%s ... %s\")\n", c->prefix,
                        faas_err_name(rc), msg, c->prefix, c->handle);
            bad++;
        }
        if (c->call == n_invoke || c->call == n_invoke_fn || c->call == n_invoke_ffi) {
            assert_int_equal(null_res.status, rc);  /* the response is filled, as always */
            assert_non_null(strstr(null_res.error_message, c->handle));
            faas_response_free(&null_res);
        }
    }
    assert_int_equal(bad, 0);

    /* The ones without a status: no crash, and the "nothing" answer. */
    faas_runtime_free(NULL);
    faas_on_record(NULL, NULL, NULL);
    faas_future_free(NULL);
    assert_null(faas_future_request_id(NULL));
    faas_gateway_stop(NULL);
    assert_null(faas_ctx_alloc(NULL, 1));
    assert_null(faas_ctx_state(NULL));
    assert_null(faas_ctx_request_id(NULL));
    assert_null(faas_ctx_function(NULL));
    assert_int_equal(faas_ctx_remaining_ms(NULL), 0);
    faas_ctx_log(NULL, "x");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(codes_have_contract_values),
        cmocka_unit_test(strerror_names_every_code),
        cmocka_unit_test(err_name_is_the_macro_name),
        cmocka_unit_test(last_error_is_per_thread_and_sticky),
        cmocka_unit_test(version_matches_header),
        cmocka_unit_test(runtime_options_are_checked),
        cmocka_unit_test(a_null_handle_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
