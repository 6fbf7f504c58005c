/* test_clock.c - the default monotonic clock (CLOCK_MONOTONIC, or the calibrated TSC where
 * the kernel vouches for it; clock.h): which one is in use, that a handler busy for 5 ms of
 * CLOCK_MONOTONIC is recorded, billed and histogrammed as 5 ms on each, sync and async, that
 * no duration wraps below zero, and that an injected clock still governs everything.
 * The program runs itself again with FAAS_CLOCK=system and FAAS_CLOCK=tsc: the choice is
 * made once per process. */
#include "util.h"

#include <fcntl.h>
#include <stdbool.h>
#include <sys/wait.h>

static uint64_t sys_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Busy for 5 ms of CLOCK_MONOTONIC. */
static int busy_5ms(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)payload; (void)len;
    uint64_t t0 = sys_ns();
    while (sys_ns() - t0 < MS(5)) {
    }
    return 0;
}

static int noop(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)payload; (void)len;
    return 0;
}

static bool kernel_vouches(void)
{
    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    char cs[64] = "";
    if (f != NULL) {
        if (fgets(cs, sizeof cs, f) == NULL)
            cs[0] = '\0';
        fclose(f);
    }
    return strcmp(cs, "tsc\n") == 0;     /* the library also wants the CPU flags */
}

static faas_runtime *default_runtime(void)
{
    faas_options o = FAAS_OPTIONS_INIT;
    o.workers = 2;
    faas_runtime *rt = NULL;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    return rt;
}

/* Calls until the TSC's scale is measured (>= 20 ms of calls; bounded at 2 s). */
static void past_calibration(faas_runtime *rt, faas_function *fn)
{
    uint64_t t0 = sys_ns();
    while (strcmp(faas_clock_source(rt), "calibrating") == 0 && sys_ns() - t0 < MS(2000)) {
        faas_response res;
        ASSERT_OK(faas_invoke_fn(fn, "{}", 2, &res));
        faas_response_free(&res);
    }
    assert_string_not_equal(faas_clock_source(rt), "calibrating");
}

/* NAME registered as H on RT, called until the clock is past its calibration. */
static faas_function *calibrated(faas_runtime *rt, const char *name, faas_handler h)
{
    ASSERT_OK(faas_register(rt, name, h, NULL));
    faas_function *fn = faas_lookup(rt, name);
    assert_non_null(fn);
    past_calibration(rt, fn);
    return fn;
}

static void the_expected_source(void **state)
{
    (void)state;
    faas_runtime *rt = default_runtime();
    calibrated(rt, "noop", noop);
    const char *env = getenv("FAAS_CLOCK");
    const char *src = faas_clock_source(rt);
    fprintf(stderr, "# FAAS_CLOCK=%s: clock source %s\n", env ? env : "(unset)", src);
#if defined(__x86_64__)
    if (env != NULL && strcmp(env, "tsc") == 0)
        assert_string_equal(src, "tsc");
    else if (env != NULL && strcmp(env, "system") == 0)
        assert_string_equal(src, "system");
    else if (!kernel_vouches())
        assert_string_equal(src, "system");
    else
        assert_true(strcmp(src, "tsc") == 0 || strcmp(src, "system") == 0);
#else
    assert_string_equal(src, "system");
#endif
    assert_string_equal(faas_clock_source(NULL), "");
    faas_runtime_free(rt);
}

static void check_5ms(const faas_record *r)
{
    assert_int_equal(r->status, FAAS_OK);
    /* At least 5 ms less the scale's 50 ppm; at most a generous second of preemption. */
    assert_true(r->duration_ns >= MS(5) - 1000);
    assert_true(r->duration_ns < MS(1005));
    assert_true(r->billed_ms >= 5 && r->billed_ms <= 1006);
}

typedef struct collected {
    pthread_mutex_t lock;
    faas_record     r[8];
    int             n;
} collected;

static void collect(const faas_response *res, void *arg)
{
    collected *c = arg;
    pthread_mutex_lock(&c->lock);
    if (c->n < 8)
        c->r[c->n++] = res->record;
    pthread_mutex_unlock(&c->lock);
}

static void busy_5ms_is_5ms(void **state)
{
    (void)state;
    faas_runtime *rt = default_runtime();
    faas_function *fn = calibrated(rt, "busy", busy_5ms);

    for (int i = 0; i < 5; i++) {               /* sync */
        faas_response res;
        ASSERT_OK(faas_invoke_fn(fn, "{}", 2, &res));
        check_5ms(&res.record);
        faas_response_free(&res);
    }
    static collected c;
    pthread_mutex_init(&c.lock, NULL);
    c.n = 0;
    for (int i = 0; i < 8; i++)                 /* async */
        ASSERT_OK(faas_invoke_fn_async(fn, "{}", 2, collect, &c, NULL));
    ASSERT_OK(faas_drain(rt, 30000));
    assert_int_equal(c.n, 8);
    for (int i = 0; i < 8; i++)
        check_5ms(&c.r[i]);

    faas_stats st;
    ASSERT_OK(faas_stats_get(rt, "busy", &st));
    assert_true(st.p50_ms >= 4.9 && st.p50_ms < 1005.0);
    assert_true(st.max_ms >= 4.9);
    faas_runtime_free(rt);
}

/* Short calls back to back, sync and async: a duration or queue wait never wraps. */
static void no_duration_wraps(void **state)
{
    (void)state;
    faas_runtime *rt = default_runtime();
    faas_function *fn = calibrated(rt, "noop", noop);
    for (int i = 0; i < 20000; i++) {
        faas_response res;
        ASSERT_OK(faas_invoke_fn(fn, "{}", 2, &res));
        assert_true(res.record.duration_ns < MS(1000));
        faas_response_free(&res);
    }
    for (int i = 0; i < 20000; i++)
        ASSERT_OK(faas_invoke_fn_async(fn, "{}", 2, NULL, NULL, NULL));
    ASSERT_OK(faas_drain(rt, 30000));
    faas_stats st;
    ASSERT_OK(faas_stats_get(rt, "noop", &st));
    assert_true(st.max_ms < 1000.0);
    assert_true(st.queue_max_ms < 30000.0);
    faas_runtime_free(rt);
}

/* An injected clock: the source is "custom", and a handler busy for 5 ms of real time that
 * moves the test clock by 7 ms lasted 7 ms. */
static fake_clock Fake;

static int busy_real_7ms_fake(faas_ctx *ctx, const void *payload, size_t len)
{
    busy_5ms(ctx, payload, len);
    fake_advance(&Fake, MS(7));
    return 0;
}

static void injected_clock_governs(void **state)
{
    (void)state;
    faas_options o = manual_options(&Fake);
    faas_runtime *rt = NULL;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    assert_string_equal(faas_clock_source(rt), "custom");
    ASSERT_OK(faas_register(rt, "b", busy_real_7ms_fake, NULL));
    ASSERT_OK(faas_warm(rt, "b", 1));
    faas_response res;
    ASSERT_OK(faas_invoke(rt, "b", "{}", 2, &res));
    assert_int_equal(res.record.duration_ns, MS(7));
    assert_int_equal(res.record.billed_ms, 7);
    faas_response_free(&res);
    faas_runtime_free(rt);
}

/* This program again with FAAS_CLOCK=value; its exit status. */
static int run_with(const char *value)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    pid_t pid = fork();
    if (pid == 0) {
        setenv("FAAS_CLOCK", value, 1);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, 1);              /* its TAP lines are not ours; failures go to stderr */
        execl(self, self, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void with_the_system_clock(void **state)
{
    (void)state;
    assert_int_equal(run_with("system"), 0);
}

static void with_the_tsc_forced(void **state)
{
    (void)state;
    assert_int_equal(run_with("tsc"), 0);
}

int main(void)
{
    tap_fix_skips();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_expected_source),
        cmocka_unit_test(busy_5ms_is_5ms),
        cmocka_unit_test(no_duration_wraps),
        cmocka_unit_test(injected_clock_governs),
        cmocka_unit_test(with_the_system_clock),
        cmocka_unit_test(with_the_tsc_forced),
    };
    /* In a rerun (FAAS_CLOCK set), the first four only. */
    size_t n = getenv("FAAS_CLOCK") != NULL ? 4 : sizeof tests / sizeof tests[0];
    return _cmocka_run_group_tests("test_clock", tests, n, NULL, NULL);
}
