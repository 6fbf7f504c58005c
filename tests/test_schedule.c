/* test_schedule.c - schedules on the injectable clock in manual mode: the Scheduled Event
 * payload, rate schedules on time without drift over 100 firings, missed firings not
 * stacked up (including a suspended host whose monotonic clock stood still), cron in a
 * time zone, unscheduling, and schedules made and removed from several threads while the
 * timer thread fires them. */
#include "util.h"

#include <time.h>

#include <jansson.h>

static fake_clock CLOCK;

#define SEC(n) ((uint64_t)(n) * 1000000000u)

/* ---- what the function received, and when ---------------------------------------------- */

#define MAX_CALLS 256

static struct {
    pthread_mutex_t mu;
    size_t          n;
    char           *payload[MAX_CALLS];
    int64_t         ran_at[MAX_CALLS];   /* the wall clock when the handler ran */
    gate           *done;
    size_t          want;
} got = { .mu = PTHREAD_MUTEX_INITIALIZER };

static int collect(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx;
    pthread_mutex_lock(&got.mu);
    if (got.n < MAX_CALLS) {
        got.payload[got.n] = strndup(payload, len);
        got.ran_at[got.n] = fake_wall(&CLOCK);
    }
    if (++got.n == got.want && got.done != NULL)
        gate_open(got.done);
    pthread_mutex_unlock(&got.mu);
    return 0;
}

static void got_reset(void)
{
    pthread_mutex_lock(&got.mu);
    for (size_t i = 0; i < got.n && i < MAX_CALLS; i++)
        free(got.payload[i]);
    got.n = got.want = 0;
    got.done = NULL;
    pthread_mutex_unlock(&got.mu);
}

static size_t got_count(void)
{
    pthread_mutex_lock(&got.mu);
    size_t n = got.n;
    pthread_mutex_unlock(&got.mu);
    return n;
}

static const char *field(size_t i, const char *name, json_t **root)
{
    *root = json_loads(got.payload[i], 0, NULL);
    assert_non_null(*root);
    json_t *v = json_object_get(*root, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The "time" of call i. */
static void time_of(size_t i, char out[32])
{
    json_t *root;
    snprintf(out, 32, "%s", field(i, "time", &root));
    json_decref(root);
}

static void iso(int64_t ns, char out[32])
{
    time_t s = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static faas_runtime *manual_runtime(capture *log)
{
    faas_options o = manual_options(&CLOCK);       /* wall: 2026-11-26T00:00:00Z */
    if (log != NULL) {
        o.log = capture_line;
        o.log_arg = log;
    }
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    ASSERT_OK(faas_register(rt, "collect", collect, NULL));
    got_reset();
    return rt;
}

/* ---- tests ------------------------------------------------------------------------------------ */

static void scheduled_event_payload(void **state)
{
    (void)state;
    faas_runtime *rt = manual_runtime(NULL);
    faas_trigger_id id = 0;
    ASSERT_OK(faas_schedule(rt, "collect", "cron(0 12 * * ? *)", &id));
    assert_true(id != 0);
    fake_advance(&CLOCK, SEC(12 * 3600));
    faas_run_pending(rt);
    assert_int_equal(got_count(), 1);

    json_t *root = json_loads(got.payload[0], 0, NULL);
    assert_non_null(root);
    /* Exactly EventBridge's fields, in its order. */
    static const char *const keys[] = { "version", "id", "detail-type", "source", "account",
                                        "time", "region", "resources", "detail" };
    const char *key;
    json_t *value;
    size_t k = 0;
    json_object_foreach(root, key, value) {
        assert_true(k < 9);
        assert_string_equal(key, keys[k++]);
    }
    assert_int_equal(k, 9);
    (void)value;
    assert_string_equal(json_string_value(json_object_get(root, "version")), "0");
    const char *uuid = json_string_value(json_object_get(root, "id"));
    assert_int_equal(strlen(uuid), 36);
    assert_int_equal(uuid[14], '4');
    assert_string_equal(json_string_value(json_object_get(root, "detail-type")),
                        "Scheduled Event");
    assert_string_equal(json_string_value(json_object_get(root, "source")), "aws.events");
    assert_string_equal(json_string_value(json_object_get(root, "account")), "000000000000");
    assert_string_equal(json_string_value(json_object_get(root, "time")),
                        "2026-11-26T12:00:00Z");
    assert_string_equal(json_string_value(json_object_get(root, "region")), "us-east-1");
    json_t *res = json_object_get(root, "resources");
    assert_int_equal(json_array_size(res), 1);
    char arn[128];
    snprintf(arn, sizeof arn, "arn:aws:events:us-east-1:000000000000:rule/collect-schedule-%llu",
             (unsigned long long)id);
    assert_string_equal(json_string_value(json_array_get(res, 0)), arn);
    json_t *detail = json_object_get(root, "detail");
    assert_true(json_is_object(detail));
    assert_int_equal(json_object_size(detail), 0);
    json_decref(root);

    /* Options name the rule, the account and the region. */
    faas_schedule_options o = { .name = "nightly.report", .account = "123456789012",
                                .region = "eu-west-1" };
    ASSERT_OK(faas_schedule_ex(rt, "collect", "rate(1 minute)", &o, NULL));
    fake_advance(&CLOCK, SEC(60));
    faas_run_pending(rt);
    assert_int_equal(got_count(), 2);
    root = json_loads(got.payload[1], 0, NULL);
    assert_string_equal(json_string_value(json_array_get(json_object_get(root, "resources"), 0)),
                        "arn:aws:events:eu-west-1:123456789012:rule/nightly.report");
    assert_string_equal(json_string_value(json_object_get(root, "account")), "123456789012");
    assert_string_equal(json_string_value(json_object_get(root, "region")), "eu-west-1");
    json_decref(root);
    faas_runtime_free(rt);
    got_reset();
}

/* 100 firings of rate(1 minute): each exactly at start + k minutes, not a nanosecond early,
 * at once when due, and the hundredth as exact as the first. */
static void rate_fires_on_time_without_drift(void **state)
{
    (void)state;
    faas_runtime *rt = manual_runtime(NULL);
    int64_t start = fake_wall(&CLOCK);
    ASSERT_OK(faas_schedule(rt, "collect", "rate(1 minute)", NULL));
    for (size_t k = 1; k <= 100; k++) {
        fake_advance(&CLOCK, SEC(60) - 1);
        faas_run_pending(rt);
        assert_int_equal(got_count(), k - 1);         /* 1 ns early: nothing */
        fake_advance(&CLOCK, 1);
        faas_run_pending(rt);
        assert_int_equal(got_count(), k);
        int64_t due = start + (int64_t)k * (int64_t)SEC(60);
        assert_true(got.ran_at[k - 1] == due);        /* ran at the due instant */
        char want[32], have[32];
        iso(due, want);
        time_of(k - 1, have);
        assert_string_equal(have, want);
    }
    faas_runtime_free(rt);
    got_reset();

    /* A longer rate with the clock moved a minute at a time (the timer looks at the wall
     * clock at least every minute): firings every 5 minutes, on the grid, 20 times. */
    rt = manual_runtime(NULL);
    start = fake_wall(&CLOCK);
    ASSERT_OK(faas_schedule(rt, "collect", "rate(5 minutes)", NULL));
    for (int m = 1; m <= 100; m++) {
        fake_advance(&CLOCK, SEC(60));
        faas_run_pending(rt);
        assert_int_equal(got_count(), (size_t)(m / 5));
    }
    char want[32], have[32];
    iso(start + 100 * (int64_t)SEC(60), want);
    time_of(19, have);
    assert_string_equal(have, want);
    faas_runtime_free(rt);
    got_reset();
}

/* The host slept an hour: one catch-up firing carrying the first missed time, then the
 * schedule goes on from now; the 59 firings in between are dropped, not stacked up. */
static void missed_firings_are_not_stacked_up(void **state)
{
    (void)state;
    faas_runtime *rt = manual_runtime(NULL);
    ASSERT_OK(faas_schedule(rt, "collect", "rate(1 minute)", NULL));
    fake_advance(&CLOCK, SEC(3600) + SEC(1) / 2);     /* to 01:00:00.5 */
    faas_run_pending(rt);
    faas_run_pending(rt);
    assert_int_equal(got_count(), 1);
    char t[32];
    time_of(0, t);
    assert_string_equal(t, "2026-11-26T00:01:00Z");
    fake_advance(&CLOCK, SEC(59) + SEC(1) / 2 - 1);   /* 01:00:59.999999999 */
    faas_run_pending(rt);
    assert_int_equal(got_count(), 1);
    fake_advance(&CLOCK, 1);                          /* 01:01:00: back on the grid */
    faas_run_pending(rt);
    assert_int_equal(got_count(), 2);
    time_of(1, t);
    assert_string_equal(t, "2026-11-26T01:01:00Z");
    faas_runtime_free(rt);
    got_reset();

    /* A suspended host: the wall clock jumps three days, the monotonic clock stands still
     * (CLOCK_MONOTONIC does not count suspend). The timer, never armed more than a minute
     * ahead, notices within a minute of monotonic time; one noon firing, the first missed. */
    rt = manual_runtime(NULL);
    ASSERT_OK(faas_schedule(rt, "collect", "cron(0 12 * * ? *)", NULL));
    atomic_fetch_add(&CLOCK.wall, (int64_t)SEC(3 * 86400));
    faas_run_pending(rt);
    assert_int_equal(got_count(), 0);                 /* no monotonic time has passed */
    atomic_fetch_add(&CLOCK.mono, SEC(60));
    faas_run_pending(rt);
    assert_int_equal(got_count(), 1);
    time_of(0, t);
    assert_string_equal(t, "2026-11-26T12:00:00Z");
    fake_advance(&CLOCK, SEC(12 * 3600));             /* to 2026-11-29T12:01:00 */
    faas_run_pending(rt);
    assert_int_equal(got_count(), 2);
    time_of(1, t);
    assert_string_equal(t, "2026-11-29T12:00:00Z");
    faas_runtime_free(rt);
    got_reset();
}

static void cron_in_a_time_zone_fires_at_local_time(void **state)
{
    (void)state;
    faas_runtime *rt = manual_runtime(NULL);
    faas_schedule_options o = { .time_zone = "Europe/Berlin" };
    ASSERT_OK(faas_schedule_ex(rt, "collect", "cron(0 9 * * ? *)", &o, NULL));
    fake_advance(&CLOCK, SEC(8 * 3600) - 1);          /* 08:59:59.999999999 CET */
    faas_run_pending(rt);
    assert_int_equal(got_count(), 0);
    fake_advance(&CLOCK, 1);
    faas_run_pending(rt);
    assert_int_equal(got_count(), 1);
    char t[32];
    time_of(0, t);
    assert_string_equal(t, "2026-11-26T08:00:00Z");   /* the event's time is UTC */
    faas_runtime_free(rt);
    got_reset();
}

static void unschedule_and_bad_arguments(void **state)
{
    (void)state;
    capture log;
    capture_init(&log);
    faas_runtime *rt = manual_runtime(&log);
    faas_trigger_id id;
    ASSERT_OK(faas_schedule(rt, "collect", "rate(1 minute)", &id));
    ASSERT_OK(faas_unschedule(rt, id));
    assert_int_equal(faas_unschedule(rt, id), FAAS_ENOTFOUND);
    assert_int_equal(faas_unwatch(rt, id), FAAS_ENOTFOUND);   /* not a watch's id */
    fake_advance(&CLOCK, SEC(600));
    faas_run_pending(rt);
    assert_int_equal(got_count(), 0);

    assert_int_equal(faas_schedule(rt, "collect", "cron(0 12 * * * *)", NULL), FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "position 15"));
    assert_int_equal(faas_schedule(rt, "nobody", "rate(1 minute)", NULL), FAAS_ENOTFOUND);
    assert_int_equal(faas_schedule(rt, "no/name", "rate(1 minute)", NULL), FAAS_EINVAL);
    assert_int_equal(faas_schedule(NULL, "collect", "rate(1 minute)", NULL), FAAS_EINVAL);
    assert_int_equal(faas_schedule(rt, "collect", NULL, NULL), FAAS_EINVAL);
    faas_schedule_options bad_zone = { .time_zone = "Europe/Atlantis" };
    assert_int_equal(faas_schedule_ex(rt, "collect", "rate(1 minute)", &bad_zone, NULL),
                     FAAS_EINVAL);
    faas_schedule_options bad_name = { .name = "has space" };
    assert_int_equal(faas_schedule_ex(rt, "collect", "rate(1 minute)", &bad_name, NULL),
                     FAAS_EINVAL);
    faas_schedule_options bad_account = { .account = "12345" };
    assert_int_equal(faas_schedule_ex(rt, "collect", "rate(1 minute)", &bad_account, NULL),
                     FAAS_EINVAL);
    faas_schedule_options bad_region = { .region = "\"}" };
    assert_int_equal(faas_schedule_ex(rt, "collect", "rate(1 minute)", &bad_region, NULL),
                     FAAS_EINVAL);

    /* The function goes away: each firing says so in the log, and the schedule goes on. */
    ASSERT_OK(faas_register(rt, "shortlived", collect, NULL));
    ASSERT_OK(faas_schedule(rt, "shortlived", "rate(1 minute)", &id));
    ASSERT_OK(faas_unregister(rt, "shortlived"));
    fake_advance(&CLOCK, SEC(60));
    faas_run_pending(rt);
    fake_advance(&CLOCK, SEC(60));
    faas_run_pending(rt);
    size_t errors = 0;
    for (size_t i = 0; i < log.n; i++)
        if (strstr(log.lines[i], "ERROR schedule") != NULL &&
            strstr(log.lines[i], "not delivered to shortlived") != NULL)
            errors++;
    assert_int_equal(errors, 2);
    faas_runtime_free(rt);                      /* with a schedule still armed */
    capture_free(&log);
    got_reset();
}

/* A never-firing schedule (a past year) is accepted and stays quiet. */
static void a_schedule_with_no_firing_left(void **state)
{
    (void)state;
    faas_runtime *rt = manual_runtime(NULL);
    faas_trigger_id id;
    ASSERT_OK(faas_schedule(rt, "collect", "cron(0 0 1 1 ? 2020)", &id));
    fake_advance(&CLOCK, SEC(366 * 86400));
    faas_run_pending(rt);
    assert_int_equal(got_count(), 0);
    ASSERT_OK(faas_unschedule(rt, id));
    faas_runtime_free(rt);
}

/* ---- threads ----------------------------------------------------------------------------------- */

static faas_runtime *threaded_runtime(void)
{
    faas_options o = manual_options(&CLOCK);
    o.manual = 0;
    o.workers = 2;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    /* The test moves the clock while a worker may be running the handler: a deadline a day
     * away, and no retry, so that a call is never timed out by the test's own minutes. */
    faas_config cfg;
    faas_config_init(&cfg);
    cfg.timeout_ms = 86400000;
    cfg.max_retries = 0;
    ASSERT_OK(faas_register(rt, "collect", collect, &cfg));
    got_reset();
    return rt;
}

/* The timer thread fires a schedule when the test clock reaches it (it looks at the test
 * clock at least every 50 ms of real time); the test waits on a gate, never sleeps. */
static void timer_thread_fires_schedules(void **state)
{
    (void)state;
    faas_runtime *rt = threaded_runtime();
    ASSERT_OK(faas_schedule(rt, "collect", "rate(1 minute)", NULL));
    for (size_t k = 1; k <= 3; k++) {
        gate done = GATE_INIT;
        pthread_mutex_lock(&got.mu);
        got.want = k;
        got.done = &done;
        pthread_mutex_unlock(&got.mu);
        fake_advance(&CLOCK, SEC(60));
        faas_run_pending(rt);                  /* threaded: only kicks the timer thread */
        assert_int_equal(gate_wait_for(&done, 60), 0);
        pthread_mutex_lock(&got.mu);
        got.done = NULL;
        pthread_mutex_unlock(&got.mu);
    }
    faas_runtime_free(rt);                     /* with the schedule armed */
    assert_int_equal(got_count(), 3);
    got_reset();
}

typedef struct churn_arg {
    faas_runtime *rt;
    int           failures;
} churn_arg;

static void *churn(void *arg)
{
    churn_arg *c = arg;
    for (int i = 0; i < 100; i++) {
        faas_trigger_id id;
        const char *expr = i % 2 ? "rate(1 minute)" : "cron(* * * * ? *)";
        if (faas_schedule(c->rt, "collect", expr, &id) != FAAS_OK ||
            faas_unschedule(c->rt, id) != FAAS_OK)
            c->failures++;
    }
    return NULL;
}

/* Schedules made and removed on four threads while the timer thread fires others: every
 * call succeeds, and (under ThreadSanitizer) nothing races. */
static void schedules_from_many_threads(void **state)
{
    (void)state;
    faas_runtime *rt = threaded_runtime();
    for (int i = 0; i < 8; i++)
        ASSERT_OK(faas_schedule(rt, "collect", "rate(1 minute)", NULL));
    pthread_t th[4];
    churn_arg args[4];
    for (int t = 0; t < 4; t++) {
        args[t] = (churn_arg){ rt, 0 };
        assert_int_equal(pthread_create(&th[t], NULL, churn, &args[t]), 0);
    }
    for (int i = 0; i < 20; i++) {
        fake_advance(&CLOCK, SEC(60));
        faas_run_pending(rt);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(args[t].failures, 0);
    }
    ASSERT_OK(faas_drain(rt, 60000));
    faas_runtime_free(rt);
    got_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scheduled_event_payload),
        cmocka_unit_test(rate_fires_on_time_without_drift),
        cmocka_unit_test(missed_firings_are_not_stacked_up),
        cmocka_unit_test(cron_in_a_time_zone_fires_at_local_time),
        cmocka_unit_test(unschedule_and_bad_arguments),
        cmocka_unit_test(a_schedule_with_no_firing_left),
        cmocka_unit_test(timer_thread_fires_schedules),
        cmocka_unit_test(schedules_from_many_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
