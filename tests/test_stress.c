/* test_stress.c - 8 threads x 10,000 calls (x FAAS_STRESS_SCALE) on one function with
 * max_concurrency 4: the limit is never passed and every counter reconciles exactly. */
#include "util.h"

static atomic_int running, peak;
static atomic_uint_fast64_t records_ok, records_throttled, records_other;

static int counted(faas_ctx *ctx, const void *payload, size_t len)
{
    int now = atomic_fetch_add(&running, 1) + 1;
    int p = atomic_load(&peak);
    while (now > p && !atomic_compare_exchange_weak(&peak, &p, now))
        ;
    /* A little work, and a chance for the others to pile up. */
    volatile unsigned x = 0;
    for (unsigned i = 0; i < 200; i++)
        x += i;
    (void)x;
    if (len > 0 && ((const char *)payload)[0] == 'y')
        sched_yield();
    atomic_fetch_sub(&running, 1);
    return faas_reply(ctx, payload, len);
}

static void on_record(const faas_record *r, void *arg)
{
    (void)arg;
    if (r->status == FAAS_OK)
        atomic_fetch_add(&records_ok, 1);
    else if (r->status == FAAS_ETHROTTLED)
        atomic_fetch_add(&records_throttled, 1);
    else
        atomic_fetch_add(&records_other, 1);
}

typedef struct worker {
    faas_runtime *rt;
    faas_function *fn;
    unsigned calls, ok, throttled, other;
    int id;
} worker;

static void *hammer(void *p)
{
    worker *w = p;
    char payload[32];
    for (unsigned i = 0; i < w->calls; i++) {
        int n = snprintf(payload, sizeof payload, "%c%d-%u", i % 7 ? 'n' : 'y', w->id, i);
        faas_response res;
        /* Half the calls by name, half through the handle. */
        int rc = (i & 1) ? faas_invoke(w->rt, "hot", payload, (size_t)n, &res)
                         : faas_invoke_fn(w->fn, payload, (size_t)n, &res);
        if (rc == FAAS_OK && res.len == (size_t)n && memcmp(res.data, payload, n) == 0)
            w->ok++;
        else if (rc == FAAS_ETHROTTLED && res.record.status == FAAS_ETHROTTLED)
            w->throttled++;
        else
            w->other++;
        faas_response_free(&res);
    }
    return NULL;
}

static void eight_threads_on_a_limit_of_four(void **state)
{
    (void)state;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, NULL));
    faas_on_record(rt, on_record, NULL);
    faas_config c;
    faas_config_init(&c);
    c.max_concurrency = 4;
    c.timeout_ms = 600000;      /* a stalled CI machine must not turn a call into a timeout */
    ASSERT_OK(faas_register(rt, "hot", counted, &c));
    faas_function *fn = faas_lookup(rt, "hot");
    assert_non_null(fn);

    enum { THREADS = 8 };
    unsigned calls = scaled(10000);
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){ rt, fn, calls, 0, 0, 0, i };
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
    }
    uint64_t ok = 0, throttled = 0, other = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        ok += w[i].ok;
        throttled += w[i].throttled;
        other += w[i].other;
    }
    uint64_t total = (uint64_t)THREADS * calls;
    assert_int_equal(other, 0);
    assert_int_equal(ok + throttled, total);
    assert_true(atomic_load(&peak) <= 4);
    assert_true(atomic_load(&peak) >= 1);

    faas_stats st;
    ASSERT_OK(faas_stats_get(rt, "hot", &st));
    assert_int_equal(st.invocations, ok);
    assert_int_equal(st.throttles, throttled);
    assert_int_equal(st.errors, 0);
    assert_true(st.cold_starts >= 1 && st.cold_starts <= 4);
    assert_true(st.instances_live >= 1 && st.instances_live <= 4);
    assert_int_equal(st.instances_busy, 0);
    assert_int_equal(atomic_load(&records_ok), ok);
    assert_int_equal(atomic_load(&records_throttled), throttled);
    assert_int_equal(atomic_load(&records_other), 0);
    print_message("# %llu calls: %llu ok, %llu throttled, peak concurrency %d, %llu cold\n",
                  (unsigned long long)total, (unsigned long long)ok,
                  (unsigned long long)throttled, atomic_load(&peak),
                  (unsigned long long)st.cold_starts);
    faas_runtime_free(rt);
}

/* Calls keep coming while instances are reaped: keep_alive 0 makes every call create and
 * destroy its instance, so creation, reuse and teardown race all the time. */
static void churning_instances(void **state)
{
    (void)state;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, NULL));
    faas_config c;
    faas_config_init(&c);
    c.max_concurrency = 3;
    c.timeout_ms = 600000;
    c.keep_alive_ms = 0;
    ASSERT_OK(faas_register(rt, "hot", counted, &c));
    faas_function *fn = faas_lookup(rt, "hot");
    enum { THREADS = 4 };
    pthread_t t[THREADS];
    worker w[THREADS];
    unsigned calls = scaled(3000);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){ rt, fn, calls, 0, 0, 0, i };
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
    }
    uint64_t ok = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].other, 0);
        ok += w[i].ok;
    }
    faas_stats st;
    ASSERT_OK(faas_stats_get(rt, "hot", &st));
    assert_int_equal(st.invocations, ok);
    assert_int_equal(st.cold_starts, ok);            /* keep_alive 0: every run was cold */
    assert_int_equal(st.instances_live, 0);
    faas_runtime_free(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(eight_threads_on_a_limit_of_four),
        cmocka_unit_test(churning_instances),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
