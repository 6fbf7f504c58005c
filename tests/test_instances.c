/* test_instances.c - the instance lifecycle of libfaas(7), transition by transition, on a
 * fake clock in manual mode (and once with the real timer thread). */
#include "util.h"

static fixture *F;                  /* the handlers below reach the test's clock here */
static atomic_int inits, shutdowns, serial;

typedef struct inst_state {
    int serial;
} inst_state;

static int counting_init(void **st, const char *fn)
{
    (void)fn;
    inst_state *s = malloc(sizeof *s);
    s->serial = atomic_fetch_add(&serial, 1) + 1;
    atomic_fetch_add(&inits, 1);
    fake_advance(&F->clock, MS(5));             /* INIT takes 5 ms on the fake clock */
    *st = s;
    return 0;
}

static void counting_shutdown(void *st)
{
    atomic_fetch_add(&shutdowns, 1);
    free(st);
}

static int serial_handler(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload; (void)len;
    inst_state *s = faas_ctx_state(ctx);
    char out[16];
    int n = snprintf(out, sizeof out, "%d", s->serial);
    return faas_reply(ctx, out, (size_t)n);
}

/* Takes the number of milliseconds in its payload, on the fake clock. */
static int sleepy(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)len;
    uint64_t ms = strtoull(payload, NULL, 10);
    faas_reply(ctx, "\"too late\"", 10);
    fake_advance(&F->clock, MS(ms));
    return 0;
}

static int setup(void **state)
{
    faas_options o;
    fixture *f = fixture_new(&o);
    F = f;
    atomic_store(&inits, 0);
    atomic_store(&shutdowns, 0);
    atomic_store(&serial, 0);
    *state = f;
    return fixture_start(f, &o, 0);
}

static faas_config hooks_config(void)
{
    faas_config c;
    faas_config_init(&c);
    c.init = counting_init;
    c.shutdown = counting_shutdown;
    return c;
}

static int call_serial(fixture *f, const char *name, faas_response *res)
{
    int rc = faas_invoke(f->rt, name, NULL, 0, res);
    return rc == FAAS_OK ? atoi(res->data) : rc;
}

static void cold_then_warm(void **state)
{
    fixture *f = *state;
    faas_config c = hooks_config();
    ASSERT_OK(faas_register(f->rt, "f", serial_handler, &c));
    assert_int_equal(atomic_load(&inits), 0);             /* registration runs no INIT */
    faas_response res;
    assert_int_equal(call_serial(f, "f", &res), 1);
    assert_int_equal(res.record.cold, 1);
    assert_int_equal(res.record.init_ns, MS(5));
    faas_response_free(&res);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(call_serial(f, "f", &res), 1);
        assert_int_equal(res.record.cold, 0);
        assert_int_equal(res.record.init_ns, 0);
        faas_response_free(&res);
    }
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "f", &st));
    assert_int_equal(st.invocations, 4);
    assert_int_equal(st.cold_starts, 1);
    assert_int_equal(st.instances_live, 1);
    assert_int_equal(st.instances_busy, 0);
}

static void most_recently_used_is_reused(void **state)
{
    fixture *f = *state;
    faas_config c = hooks_config();
    ASSERT_OK(faas_register(f->rt, "mru", serial_handler, &c));
    ASSERT_OK(faas_warm(f->rt, "mru", 3));
    assert_int_equal(atomic_load(&inits), 3);
    faas_response res;
    /* The last instance given back (serial 3) is on top, and stays on top. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(call_serial(f, "mru", &res), 3);
        assert_int_equal(res.record.cold, 0);
        faas_response_free(&res);
    }
}

/* A function that calls itself: with max_concurrency 1 the inner call is throttled. */
static int recursive(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload; (void)len;
    faas_response inner;
    int rc = faas_invoke(F->rt, faas_ctx_function(ctx), NULL, 0, &inner);
    char out[256];
    int n = snprintf(out, sizeof out, "%d|%s|%s", rc, inner.error_type ? inner.error_type : "",
                     inner.error_message ? inner.error_message : "");
    faas_response_free(&inner);
    return faas_reply(ctx, out, (size_t)n);
}

static void throttled_at_max_concurrency(void **state)
{
    fixture *f = *state;
    faas_config c;
    faas_config_init(&c);
    c.max_concurrency = 1;
    ASSERT_OK(faas_register(f->rt, "rec", recursive, &c));
    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, "rec", NULL, 0, &res));
    char want[256];
    snprintf(want, sizeof want, "%d|TooManyRequestsException|Rate exceeded: rec is at its "
             "concurrency limit of 1", FAAS_ETHROTTLED);
    assert_string_equal(res.data, want);
    faas_response_free(&res);
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "rec", &st));
    assert_int_equal(st.invocations, 1);
    assert_int_equal(st.throttles, 1);
    assert_int_equal(st.errors, 0);
    assert_int_equal(st.instances_live, 1);
}

static void keep_alive_reaps_after_exactly_its_time(void **state)
{
    fixture *f = *state;
    faas_config c = hooks_config();
    c.keep_alive_ms = 1000;
    ASSERT_OK(faas_register(f->rt, "ka", serial_handler, &c));
    faas_response res;
    call_serial(f, "ka", &res);
    faas_response_free(&res);
    fake_advance(&f->clock, MS(999));
    faas_run_pending(f->rt);
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "ka", &st));
    assert_int_equal(st.instances_live, 1);
    assert_int_equal(atomic_load(&shutdowns), 0);
    fake_advance(&f->clock, MS(1));
    assert_int_equal(faas_run_pending(f->rt), 1);
    ASSERT_OK(faas_stats_get(f->rt, "ka", &st));
    assert_int_equal(st.instances_live, 0);
    assert_int_equal(atomic_load(&shutdowns), 1);
    assert_int_equal(faas_run_pending(f->rt), 0);     /* nothing left armed */
    /* The next call is cold again. */
    assert_int_equal(call_serial(f, "ka", &res), 2);
    assert_int_equal(res.record.cold, 1);
    faas_response_free(&res);
}

static void recently_used_instance_survives_the_reaper(void **state)
{
    fixture *f = *state;
    faas_config c = hooks_config();
    c.keep_alive_ms = 1000;
    ASSERT_OK(faas_register(f->rt, "busy", serial_handler, &c));
    ASSERT_OK(faas_warm(f->rt, "busy", 2));          /* serials 1, 2; both idle at t0 */
    fake_advance(&f->clock, MS(600));
    faas_response res;
    assert_int_equal(call_serial(f, "busy", &res), 2);  /* 2 is used again at t0+600 */
    faas_response_free(&res);
    fake_advance(&f->clock, MS(400));                /* t0+1000: 1 is due, 2 is not */
    faas_run_pending(f->rt);
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "busy", &st));
    assert_int_equal(st.instances_live, 1);
    assert_int_equal(call_serial(f, "busy", &res), 2);
    faas_response_free(&res);
    fake_advance(&f->clock, MS(1000));
    faas_run_pending(f->rt);
    ASSERT_OK(faas_stats_get(f->rt, "busy", &st));
    assert_int_equal(st.instances_live, 0);
    assert_int_equal(atomic_load(&shutdowns), 2);
}

static void min_warm_is_provisioned_and_kept(void **state)
{
    fixture *f = *state;
    faas_config c = hooks_config();
    c.min_warm = 2;
    c.keep_alive_ms = 100;
    ASSERT_OK(faas_register(f->rt, "prov", serial_handler, &c));
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "prov", &st));
    assert_int_equal(st.instances_live, 0);          /* initialised in the background */
    assert_true(faas_run_pending(f->rt) >= 1);
    ASSERT_OK(faas_stats_get(f->rt, "prov", &st));
    assert_int_equal(st.instances_live, 2);
    assert_int_equal(atomic_load(&inits), 2);
    faas_response res;
    call_serial(f, "prov", &res);
    assert_int_equal(res.record.cold, 0);
    faas_response_free(&res);
    /* A third instance (warm 3) is reaped after keep-alive; the two provisioned stay. */
    ASSERT_OK(faas_warm(f->rt, "prov", 3));
    fake_advance(&f->clock, MS(100000));
    faas_run_pending(f->rt);
    ASSERT_OK(faas_stats_get(f->rt, "prov", &st));
    assert_int_equal(st.instances_live, 2);
    assert_int_equal(atomic_load(&shutdowns), 1);
}

static int (*next_init)(void **, const char *);
static int failing_then_ok_init(void **st, const char *fn)
{
    if (atomic_load(&inits) == 0) {
        atomic_fetch_add(&inits, 1);
        faas_fail(NULL, NULL, "not yet");
        return -1;
    }
    return next_init(st, fn);
}

static void min_warm_is_restored_after_a_retirement(void **state)
{
    fixture *f = *state;
    faas_config c = hooks_config();
    c.min_warm = 2;
    ASSERT_OK(faas_register(f->rt, "prov", sleepy, &c));
    faas_run_pending(f->rt);
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "prov", &st));
    assert_int_equal(st.instances_live, 2);
    faas_response res;
    assert_int_equal(faas_invoke(f->rt, "prov", "3001", 4, &res), FAAS_ETIMEOUT);
    faas_response_free(&res);
    ASSERT_OK(faas_stats_get(f->rt, "prov", &st));
    assert_int_equal(st.instances_live, 1);              /* retired */
    faas_run_pending(f->rt);                              /* replaced in the background */
    ASSERT_OK(faas_stats_get(f->rt, "prov", &st));
    assert_int_equal(st.instances_live, 2);

    /* A provisioning INIT that fails is tried again a second later. */
    atomic_store(&inits, 0);
    next_init = counting_init;
    faas_config k;
    faas_config_init(&k);
    k.min_warm = 1;
    k.init = failing_then_ok_init;
    k.shutdown = counting_shutdown;
    ASSERT_OK(faas_register(f->rt, "retry", serial_handler, &k));
    faas_run_pending(f->rt);
    ASSERT_OK(faas_stats_get(f->rt, "retry", &st));
    assert_int_equal(st.instances_live, 0);
    fake_advance(&f->clock, MS(1000));
    faas_run_pending(f->rt);
    ASSERT_OK(faas_stats_get(f->rt, "retry", &st));
    assert_int_equal(st.instances_live, 1);
}

static void keep_alive_zero_shuts_down_at_once(void **state)
{
    fixture *f = *state;
    faas_config c = hooks_config();
    c.keep_alive_ms = 0;
    ASSERT_OK(faas_register(f->rt, "once", serial_handler, &c));
    faas_response res;
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(call_serial(f, "once", &res), i);
        assert_int_equal(res.record.cold, 1);
        faas_response_free(&res);
        assert_int_equal(atomic_load(&shutdowns), i);
    }
    /* ... unless min_warm keeps it. */
    faas_config k = hooks_config();
    k.keep_alive_ms = 0;
    k.min_warm = 1;
    ASSERT_OK(faas_register(f->rt, "kept", serial_handler, &k));
    faas_run_pending(f->rt);
    int s = call_serial(f, "kept", &res);
    assert_int_equal(res.record.cold, 0);
    faas_response_free(&res);
    assert_int_equal(call_serial(f, "kept", &res), s);
    faas_response_free(&res);
}

static void warm_is_a_total_capped_by_max_concurrency(void **state)
{
    fixture *f = *state;
    faas_config c = hooks_config();
    c.max_concurrency = 4;
    ASSERT_OK(faas_register(f->rt, "w", serial_handler, &c));
    faas_stats st;
    ASSERT_OK(faas_warm(f->rt, "w", 3));
    ASSERT_OK(faas_stats_get(f->rt, "w", &st));
    assert_int_equal(st.instances_live, 3);
    ASSERT_OK(faas_warm(f->rt, "w", 2));              /* a total, not an addition */
    ASSERT_OK(faas_stats_get(f->rt, "w", &st));
    assert_int_equal(st.instances_live, 3);
    ASSERT_OK(faas_warm(f->rt, "w", 10));             /* capped */
    ASSERT_OK(faas_stats_get(f->rt, "w", &st));
    assert_int_equal(st.instances_live, 4);
    assert_int_equal(st.cold_starts, 0);              /* no call was cold */
    faas_response res;
    call_serial(f, "w", &res);
    assert_int_equal(res.record.cold, 0);
    faas_response_free(&res);
    assert_int_equal(faas_warm(f->rt, "nobody", 1), FAAS_ENOTFOUND);
    assert_int_equal(faas_warm(f->rt, "bad name", 1), FAAS_EINVAL);
    ASSERT_OK(faas_warm(f->rt, "w", 0));
}

/* ---- timeouts and the arena retire their instance ---------------------------------------- */

static void timeout_discards_reply_and_retires(void **state)
{
    fixture *f = *state;
    faas_config c = hooks_config();
    ASSERT_OK(faas_register(f->rt, "t", sleepy, &c));
    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, "t", "3000", 4, &res));     /* exactly at the deadline */
    faas_response_free(&res);
    assert_int_equal(faas_invoke(f->rt, "t", "3001", 4, &res), FAAS_ETIMEOUT);
    assert_string_equal(res.error_type, "Sandbox.Timedout");
    assert_string_equal(res.error_message, "Task timed out after 3.00 seconds");
    assert_null(strstr(res.data, "too late"));
    assert_non_null(strstr(res.log_tail, "Task timed out after 3.00 seconds"));
    faas_response_free(&res);
    assert_int_equal(atomic_load(&shutdowns), 1);            /* retired, not reused */
    ASSERT_OK(faas_invoke(f->rt, "t", "1", 1, &res));
    assert_int_equal(res.record.cold, 1);
    faas_response_free(&res);
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "t", &st));
    assert_int_equal(st.timeouts, 1);
    assert_int_equal(st.errors, 1);
    assert_int_equal(st.cold_starts, 2);
    /* Below a hundredth of a second the message rounds up, never to "0.00". */
    faas_config quick = hooks_config();
    quick.timeout_ms = 5;
    ASSERT_OK(faas_register(f->rt, "quick", sleepy, &quick));
    assert_int_equal(faas_invoke(f->rt, "quick", "6", 1, &res), FAAS_ETIMEOUT);
    assert_string_equal(res.error_message, "Task timed out after 0.01 seconds");
    faas_response_free(&res);
}

static int hungry(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)len;
    size_t n = strtoull(payload, NULL, 10);
    unsigned char *p = faas_ctx_alloc(ctx, n);
    if (p != NULL)
        memset(p, 0xab, n);                          /* the memory is really there */
    return faas_reply(ctx, p ? "\"fed\"" : "\"starved\"", p ? 5 : 9);
}

static void arena_limit_is_ememory_and_retires(void **state)
{
    fixture *f = *state;
    faas_config c = hooks_config();
    c.memory_mb = 1;
    ASSERT_OK(faas_register(f->rt, "h", hungry, &c));
    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, "h", "1000000", 7, &res));
    assert_true(res.record.max_memory_bytes >= 1000000);
    faas_response_free(&res);
    assert_int_equal(faas_invoke(f->rt, "h", "1048577", 7, &res), FAAS_EMEMORY);
    assert_string_equal(res.error_type, "Runtime.OutOfMemory");
    assert_non_null(strstr(res.error_message, "faas_ctx_alloc(1048577)"));
    assert_non_null(strstr(res.error_message, "1 MB"));
    faas_response_free(&res);
    assert_int_equal(atomic_load(&shutdowns), 1);
    ASSERT_OK(faas_invoke(f->rt, "h", "10", 2, &res));
    assert_int_equal(res.record.cold, 1);
    faas_response_free(&res);
}

/* ---- the real timer thread reaps in a host that makes no further call --------------------- */

static gate reaped = GATE_INIT;

static void signalling_shutdown(void *st)
{
    (void)st;
    gate_open(&reaped);
}

static int noop(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)payload; (void)len;
    return 0;
}

static void background_reaper_needs_no_calls(void **state)
{
    (void)state;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, NULL));
    faas_config c;
    faas_config_init(&c);
    c.keep_alive_ms = 20;
    c.shutdown = signalling_shutdown;
    ASSERT_OK(faas_register(rt, "bg", noop, &c));
    ASSERT_OK(faas_invoke(rt, "bg", NULL, 0, NULL));
    /* Waits on the shutdown hook itself; the bound is only a guard against a hang. */
    assert_int_equal(gate_wait_for(&reaped, 30), 0);
    faas_stats st;
    ASSERT_OK(faas_stats_get(rt, "bg", &st));
    assert_int_equal(st.instances_live, 0);
    faas_runtime_free(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(cold_then_warm, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(most_recently_used_is_reused, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(throttled_at_max_concurrency, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(keep_alive_reaps_after_exactly_its_time, setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(recently_used_instance_survives_the_reaper, setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(min_warm_is_provisioned_and_kept, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(min_warm_is_restored_after_a_retirement, setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(keep_alive_zero_shuts_down_at_once, setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(warm_is_a_total_capped_by_max_concurrency, setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(timeout_discards_reply_and_retires, setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(arena_limit_is_ememory_and_retires, setup,
                                        fixture_teardown),
        cmocka_unit_test(background_reaper_needs_no_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
