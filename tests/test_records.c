/* test_records.c - one record per run and per throttle, billing and cost arithmetic against
 * hand-computed figures, CPU time, counters and latency quantiles, the REPORT line. */
#include "util.h"

static fixture *F;

static int make(void **state, const char *price_model, int cpu_time)
{
    faas_options o;
    fixture *f = fixture_new(&o);
    o.price_model = price_model;
    o.cpu_time = cpu_time;
    F = f;
    *state = f;
    return fixture_start(f, &o, 1);
}

static int setup(void **state) { return make(state, NULL, 0); }
static int setup_arm(void **state) { return make(state, "aws-lambda-arm64", 0); }
static int setup_cpu(void **state) { return make(state, NULL, 1); }

/* Runs for the number of microseconds in its payload, on the fake clock. */
static int takes(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)len;
    fake_advance(&F->clock, strtoull(payload, NULL, 10) * 1000u);
    return 0;
}

static int init_takes_5ms(void **st, const char *fn)
{
    (void)st; (void)fn;
    fake_advance(&F->clock, MS(5));
    return 0;
}

static faas_record run_us(fixture *f, const char *name, uint64_t us)
{
    char p[32];
    int n = snprintf(p, sizeof p, "%llu", (unsigned long long)us);
    faas_response res;
    int rc = faas_invoke(f->rt, name, p, (size_t)n, &res);
    faas_record r = res.record;
    assert_int_equal(rc, res.status);
    faas_response_free(&res);
    r.function = NULL;
    r.tag = NULL;
    return r;
}

static void cost_matches_published_aws_x86(void **state)
{
    fixture *f = *state;
    faas_config c;
    faas_config_init(&c);
    c.memory_mb = 512;
    ASSERT_OK(faas_register(f->rt, "w", takes, &c));
    ASSERT_OK(faas_warm(f->rt, "w", 1));
    /* 120 ms at 512 MB: $0.0000002 + 0.06 GB-s x $0.0000166667 = $0.0000012000020. */
    faas_record r = run_us(f, "w", 120000);
    assert_int_equal(r.duration_ns, MS(120));
    assert_int_equal(r.billed_ms, 120);
    assert_int_equal(r.cost_picousd, 1200002);
    /* x 1,000,000 calls = $1.200002, the figure of the cost issue. */
    assert_true(r.cost_picousd * 1000000ull == 1200002000000ull);
    /* 1 ms billing: 0.1 ms is billed as 1 ms, 10.0001 ms as 11. */
    r = run_us(f, "w", 100);
    assert_int_equal(r.billed_ms, 1);
    r = run_us(f, "w", 10001);
    assert_int_equal(r.billed_ms, 11);
    /* Round half up: 10 ms x 512 MB x 16,666,700 / 1,024,000 = 83,333.5 -> 83,334. */
    r = run_us(f, "w", 10000);
    assert_int_equal(r.cost_picousd, 200000 + 83334);
    r = run_us(f, "w", 0);
    assert_int_equal(r.billed_ms, 1);
    assert_int_equal(r.memory_mb, 512);
}

static void arm64_is_cheaper_per_gb_second(void **state)
{
    fixture *f = *state;
    faas_config c;
    faas_config_init(&c);
    c.memory_mb = 512;
    ASSERT_OK(faas_register(f->rt, "w", takes, &c));
    ASSERT_OK(faas_warm(f->rt, "w", 1));
    /* 120 ms x 512 MB x $0.0000133334 = $0.000000800004, plus $0.0000002. */
    faas_record r = run_us(f, "w", 120000);
    assert_int_equal(r.cost_picousd, 200000 + 800004);
}

static void cold_calls_bill_init(void **state)
{
    fixture *f = *state;
    faas_config c;
    faas_config_init(&c);
    c.init = init_takes_5ms;
    ASSERT_OK(faas_register(f->rt, "c", takes, &c));
    faas_record r = run_us(f, "c", 10200);
    assert_int_equal(r.cold, 1);
    assert_int_equal(r.init_ns, MS(5));
    assert_int_equal(r.duration_ns, 10200000);
    assert_int_equal(r.billed_ms, 16);              /* ceil(5 + 10.2), AWS since 2025-08 */
    r = run_us(f, "c", 10200);
    assert_int_equal(r.cold, 0);
    assert_int_equal(r.billed_ms, 11);
}

static void cost_never_overflows(void **state)
{
    fixture *f = *state;
    faas_config c;
    faas_config_init(&c);
    c.memory_mb = 1u << 20;
    c.timeout_ms = 4000000000u;
    ASSERT_OK(faas_register(f->rt, "huge", takes, &c));
    ASSERT_OK(faas_warm(f->rt, "huge", 1));
    faas_record r = run_us(f, "huge", 3999999999000ull);      /* 3,999,999,999 ms */
    assert_int_equal(r.status, FAAS_OK);
    assert_int_equal(r.billed_ms, 3999999999u);
    unsigned __int128 want = (unsigned __int128)3999999999u * (1u << 20) * 16666700u;
    want = (want + 512000) / 1024000 + 200000;
    assert_true(r.cost_picousd == (uint64_t)want);
}

static void one_record_per_run_and_per_throttle(void **state)
{
    fixture *f = *state;
    faas_config c;
    faas_config_init(&c);
    c.tag = "team-a";
    c.max_concurrency = 1;
    ASSERT_OK(faas_register(f->rt, "t", takes, &c));
    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, "t", "1", 1, &res));
    assert_int_equal(f->cap.nrec, 1);
    faas_record *r = &f->cap.records[0];
    assert_string_equal(r->request_id, res.record.request_id);
    assert_string_equal(r->function, "t");
    assert_int_equal(r->status, FAAS_OK);
    assert_int_equal(r->attempt, 1);
    assert_int_equal(r->cold, 1);
    assert_string_equal(res.record.tag, "team-a");
    faas_response_free(&res);
    assert_int_equal(faas_invoke(f->rt, "none", "1", 1, &res), FAAS_ENOTFOUND);
    faas_response_free(&res);
    assert_int_equal(f->cap.nrec, 1);
}

static int nested_throttle(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload; (void)len;
    faas_response inner;
    int rc = faas_invoke(F->rt, faas_ctx_function(ctx), "1", 1, &inner);
    assert_int_equal(rc, FAAS_ETHROTTLED);
    assert_int_equal(inner.record.status, FAAS_ETHROTTLED);
    assert_int_equal(inner.record.duration_ns, 0);
    assert_int_equal(inner.record.billed_ms, 0);
    assert_int_equal(inner.record.cost_picousd, 0);
    assert_string_equal(inner.record.function, "nt");
    faas_response_free(&inner);
    return 0;
}

static void throttle_record_has_no_cost(void **state)
{
    fixture *f = *state;
    faas_config c;
    faas_config_init(&c);
    c.max_concurrency = 1;
    ASSERT_OK(faas_register(f->rt, "nt", nested_throttle, &c));
    ASSERT_OK(faas_invoke(f->rt, "nt", NULL, 0, NULL));
    assert_int_equal(f->cap.nrec, 2);                 /* the throttle, then the run */
    assert_int_equal(f->cap.records[0].status, FAAS_ETHROTTLED);
    assert_int_equal(f->cap.records[1].status, FAAS_OK);
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "nt", &st));
    assert_int_equal(st.invocations, 1);
    assert_int_equal(st.throttles, 1);
    assert_int_equal(st.cost_picousd, f->cap.records[1].cost_picousd);
}

static int spin(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)payload; (void)len;
    volatile uint64_t x = 0;
    for (uint64_t i = 0; i < 20000000; i++)
        x += i;
    return x == 1 ? 1 : 0;              /* never 1: read so the work is not removed */
}

static void cpu_time_is_measured_only_when_asked(void **state)
{
    fixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "spin", spin, NULL));
    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, "spin", NULL, 0, &res));
    assert_true(res.record.cpu_ns > 1000000);         /* 20M additions: well over 1 ms */
    faas_response_free(&res);
}

static void cpu_time_off_is_zero(void **state)
{
    fixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "spin", spin, NULL));
    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, "spin", NULL, 0, &res));
    assert_int_equal(res.record.cpu_ns, 0);
    faas_response_free(&res);
}

static int fails_odd(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)len;
    unsigned long v = strtoul(payload, NULL, 10);
    fake_advance(&F->clock, MS(v));
    if (v % 2)
        return faas_fail(ctx, "Odd", "%lu is odd", v);
    return 0;
}

static void stats_count_and_quantiles(void **state)
{
    fixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "q", fails_odd, NULL));
    ASSERT_OK(faas_register(f->rt, "other", takes, NULL));
    uint64_t cost = 0;
    for (int i = 1; i <= 100; i++) {
        char p[16];
        int n = snprintf(p, sizeof p, "%d", i);
        faas_response res;
        faas_invoke(f->rt, "q", p, (size_t)n, &res);
        cost += res.record.cost_picousd;
        faas_response_free(&res);
    }
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "q", &st));
    assert_int_equal(st.invocations, 100);
    assert_int_equal(st.errors, 50);
    assert_int_equal(st.cold_starts, 1);
    assert_int_equal(st.timeouts, 0);
    assert_int_equal(st.cost_picousd, cost);
    /* Durations 1..100 ms: nearest-rank quantiles, within the histogram's 1%. */
    assert_true(st.p50_ms > 50 * 0.99 && st.p50_ms < 50 * 1.01);
    assert_true(st.p90_ms > 90 * 0.99 && st.p90_ms < 90 * 1.01);
    assert_true(st.p99_ms > 99 * 0.99 && st.p99_ms < 99 * 1.01);
    assert_true(st.max_ms == 100.0);
    run_us(f, "other", 1000);
    faas_stats all;
    ASSERT_OK(faas_stats_get(f->rt, NULL, &all));
    assert_int_equal(all.invocations, 101);
    assert_int_equal(all.instances_live, 2);
    assert_int_equal(faas_stats_get(f->rt, "nobody", &st), FAAS_ENOTFOUND);
    assert_int_equal(faas_stats_get(f->rt, NULL, NULL), FAAS_EINVAL);
}

static void report_line_is_exact(void **state)
{
    (void)state;
    faas_record r;
    memset(&r, 0, sizeof r);
    memcpy(r.request_id, "dbda340c-1234-4031-8810-11bb609b4c71", 37);
    r.duration_ns = 38660000;
    r.billed_ms = 39;
    r.memory_mb = 128;
    r.max_memory_bytes = 54u << 20;
    r.cold = 1;
    r.init_ns = 203690000;
    char buf[256];
    int n = faas_record_format(&r, buf, sizeof buf);
    const char *want = "REPORT RequestId: dbda340c-1234-4031-8810-11bb609b4c71\t"
                       "Duration: 38.66 ms\tBilled Duration: 39 ms\tMemory Size: 128 MB\t"
                       "Max Memory Used: 54 MB\tInit Duration: 203.69 ms\t";
    assert_string_equal(buf, want);
    assert_int_equal(n, (int)strlen(want));
    assert_int_equal(faas_record_format(&r, NULL, 0), n);   /* the size it needs */
    char small[10];
    assert_int_equal(faas_record_format(&r, small, sizeof small), n);
    assert_int_equal(strlen(small), 9);
    assert_int_equal(faas_record_format(NULL, buf, sizeof buf), FAAS_EINVAL);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, fixture_teardown)
    const struct CMUnitTest tests[] = {
        T(cost_matches_published_aws_x86),
        cmocka_unit_test_setup_teardown(arm64_is_cheaper_per_gb_second, setup_arm,
                                        fixture_teardown),
        T(cold_calls_bill_init),
        T(cost_never_overflows),
        T(one_record_per_run_and_per_throttle),
        T(throttle_record_has_no_cost),
        cmocka_unit_test_setup_teardown(cpu_time_is_measured_only_when_asked, setup_cpu,
                                        fixture_teardown),
        T(cpu_time_off_is_zero),
        T(stats_count_and_quantiles),
        cmocka_unit_test(report_line_is_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
