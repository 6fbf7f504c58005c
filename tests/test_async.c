/* test_async.c - the scheduler: one completion per accepted call, parking in FIFO order at
 * the concurrency limit, retries within their backoff bounds, dead-letter envelopes,
 * futures, backpressure, drain, and what shutdown does to calls still pending. */
#include "util.h"

#include <jansson.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/wait.h>

/* ---- handlers ------------------------------------------------------------------------------ */

static fake_clock *CLOCK;           /* the manual tests' clock, for handlers that take time */

static int echo(faas_ctx *ctx, const void *payload, size_t len)
{
    return faas_reply(ctx, payload, len);
}

static int always_fails(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload; (void)len;
    return faas_fail(ctx, "KeyError", "'action'");
}

static int too_slow(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)payload; (void)len;
    fake_advance(CLOCK, MS(3001));
    return 0;
}

/* Fails the first attempt of each payload, by remembering what it has seen. */
#define SEEN_MAX 4096
static char seen[SEEN_MAX];
static int fails_first_time(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)len;
    unsigned i = (unsigned)strtoul(payload, NULL, 10) % SEEN_MAX;
    if (!seen[i]) {
        seen[i] = 1;
        return faas_fail(ctx, "Transient", "first try of %u", i);
    }
    return faas_reply(ctx, payload, len);
}

/* ---- completions ---------------------------------------------------------------------------- */

typedef struct done_log {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    unsigned        n;
    int             status[64];
    char            request_id[64][37];
    char            data[64][256];
    int             attempt[64];
} done_log;

static void done_init(done_log *d)
{
    memset(d, 0, sizeof *d);
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
}

static void on_done(const faas_response *res, void *arg)
{
    done_log *d = arg;
    pthread_mutex_lock(&d->mu);
    if (d->n < 64) {
        d->status[d->n] = res->status;
        memcpy(d->request_id[d->n], res->record.request_id, 37);
        snprintf(d->data[d->n], sizeof d->data[0], "%.*s", (int)res->len,
                 (const char *)res->data);
        d->attempt[d->n] = res->record.attempt;
    }
    d->n++;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

static unsigned done_count(done_log *d)
{
    pthread_mutex_lock(&d->mu);
    unsigned n = d->n;
    pthread_mutex_unlock(&d->mu);
    return n;
}

/* ---- manual-mode fixture -------------------------------------------------------------------- */

static int setup_manual(void **state)
{
    faas_options o;
    fixture *f = fixture_new(&o);
    o.retry_base_ms = 100;
    o.retry_cap_ms = 1000;
    o.queue_capacity = 16;
    o.log = capture_line;
    o.log_arg = &f->cap;
    CLOCK = &f->clock;
    memset(seen, 0, sizeof seen);
    *state = f;
    return fixture_start(f, &o, 1);
}

static void async_call_runs_when_pending_work_runs(void **state)
{
    fixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "echo", echo, NULL));
    done_log d;
    done_init(&d);
    char id[37];
    ASSERT_OK(faas_invoke_async(f->rt, "echo", "hi", 2, on_done, &d, id));
    assert_int_equal(strlen(id), 36);
    assert_int_equal(id[14], '4');
    assert_int_equal(d.n, 0);                        /* manual: nothing runs by itself */
    assert_int_equal(faas_run_pending(f->rt), 1);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.status[0], FAAS_OK);
    assert_string_equal(d.data[0], "hi");
    assert_string_equal(d.request_id[0], id);
    assert_int_equal(d.attempt[0], 1);
    assert_int_equal(faas_run_pending(f->rt), 0);
    assert_int_equal(d.n, 1);                        /* exactly once */
    /* Without a callback, and through a handle. */
    ASSERT_OK(faas_invoke_async(f->rt, "echo", NULL, 0, NULL, NULL, NULL));
    faas_function *fn = faas_lookup(f->rt, "echo");
    ASSERT_OK(faas_invoke_fn_async(fn, "x", 1, on_done, &d, NULL));
    assert_int_equal(faas_run_pending(f->rt), 2);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.data[1], "x");
}

static void bad_submissions_are_refused_without_callback(void **state)
{
    fixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "echo", echo, NULL));
    done_log d;
    done_init(&d);
    assert_int_equal(faas_invoke_async(f->rt, "nobody", "x", 1, on_done, &d, NULL),
                     FAAS_ENOTFOUND);
    assert_int_equal(faas_invoke_async(f->rt, "bad name", "x", 1, on_done, &d, NULL),
                     FAAS_EINVAL);
    assert_int_equal(faas_invoke_async(f->rt, "echo", NULL, 3, on_done, &d, NULL),
                     FAAS_EINVAL);
    assert_int_equal(faas_invoke_async(NULL, "echo", "x", 1, on_done, &d, NULL), FAAS_EINVAL);
    assert_int_equal(faas_invoke_fn_async(NULL, "x", 1, on_done, &d, NULL), FAAS_EINVAL);
    /* Lambda's Event limit, 1 MB since October 2025: the limit itself is accepted. */
    size_t limit = 1048576;
    char *big = calloc(1, limit + 1);
    assert_int_equal(faas_invoke_async(f->rt, "echo", big, limit + 1, on_done, &d, NULL),
                     FAAS_ETOOLARGE);
    assert_string_equal(faas_last_error(), "1048577 byte payload is too large for the Event "
                                           "invocation type (limit 1048576 bytes)");
    ASSERT_OK(faas_invoke_async(f->rt, "echo", big, limit, on_done, &d, NULL));
    free(big);
    /* Backpressure: queue_capacity is 16 here. */
    for (int i = 1; i < 16; i++)
        ASSERT_OK(faas_invoke_async(f->rt, "echo", "q", 1, on_done, &d, NULL));
    assert_int_equal(faas_invoke_async(f->rt, "echo", "q", 1, on_done, &d, NULL), FAAS_EBUSY);
    assert_non_null(strstr(faas_last_error(), "queue is full"));
    assert_int_equal(d.n, 0);
    assert_int_equal(faas_run_pending(f->rt), 16);
    assert_int_equal(d.n, 16);
    ASSERT_OK(faas_invoke_async(f->rt, "echo", "q", 1, on_done, &d, NULL));  /* room again */
    faas_run_pending(f->rt);
    assert_int_equal(d.n, 17);
}

static void retries_back_off_then_fail_once(void **state)
{
    fixture *f = *state;
    faas_config c;
    faas_config_init(&c);
    c.max_retries = 2;
    ASSERT_OK(faas_register(f->rt, "bad", always_fails, &c));
    done_log d;
    done_init(&d);
    ASSERT_OK(faas_invoke_async(f->rt, "bad", "{}", 2, on_done, &d, NULL));
    assert_int_equal(faas_run_pending(f->rt), 1);        /* attempt 1 fails */
    assert_int_equal(d.n, 0);
    fake_advance(&f->clock, MS(100));                     /* the first ceiling: 100 ms */
    assert_true(faas_run_pending(f->rt) >= 1);            /* attempt 2 */
    assert_int_equal(d.n, 0);
    fake_advance(&f->clock, MS(200));                     /* the second: 200 ms */
    assert_true(faas_run_pending(f->rt) >= 1);            /* attempt 3, the last */
    assert_int_equal(d.n, 1);
    assert_int_equal(d.status[0], FAAS_EHANDLER);
    assert_int_equal(d.attempt[0], 3);
    assert_int_equal(f->cap.nrec, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(f->cap.records[i].attempt, i + 1);
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "bad", &st));
    assert_int_equal(st.invocations, 3);
    assert_int_equal(st.errors, 3);
    assert_int_equal(st.retries, 2);
    fake_advance(&f->clock, MS(100000));
    assert_int_equal(faas_run_pending(f->rt), 0);
    assert_int_equal(d.n, 1);
}

/* Attempt 2's delay after attempt 1, for many calls: uniform in [0, base]. */
static uint64_t attempt_time[SEEN_MAX][3];
static void time_attempts(const faas_record *r, void *arg)
{
    (void)arg;
    (void)r;
}

static int timed_fails_first(faas_ctx *ctx, const void *payload, size_t len)
{
    unsigned i = (unsigned)strtoul(payload, NULL, 10) % SEEN_MAX;
    attempt_time[i][seen[i] ? 1 : 0] = fake_mono(CLOCK);
    return fails_first_time(ctx, payload, len);
}

static void backoff_delays_are_within_their_bounds(void **state)
{
    fixture *f = *state;
    faas_on_record(f->rt, time_attempts, NULL);
    ASSERT_OK(faas_register(f->rt, "flaky", timed_fails_first, NULL));
    enum { N = 200 };
    done_log d;
    done_init(&d);
    for (int round = 0; round < N / 10; round++) {
        for (int i = 0; i < 10; i++) {
            char p[16];
            int n = snprintf(p, sizeof p, "%d", round * 10 + i);
            ASSERT_OK(faas_invoke_async(f->rt, "flaky", p, (size_t)n, on_done, &d, NULL));
        }
        faas_run_pending(f->rt);                          /* ten first attempts fail */
        for (int ms = 0; ms < 100 && done_count(&d) < (unsigned)(round + 1) * 10; ms++) {
            fake_advance(&f->clock, MS(1));
            faas_run_pending(f->rt);
        }
        assert_int_equal(d.n, (unsigned)(round + 1) * 10); /* all retried within 100 ms */
    }
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < N; i++) {
        uint64_t delay = attempt_time[i][1] - attempt_time[i][0];
        assert_true(delay <= MS(100));
        lo = delay < lo ? delay : lo;
        hi = delay > hi ? delay : hi;
    }
    /* Full jitter spreads them: 200 uniform draws all in one half has odds 2^-199. */
    assert_true(lo < MS(50));
    assert_true(hi > MS(50));
}

static void timeouts_count_as_failures(void **state)
{
    fixture *f = *state;
    faas_config c;
    faas_config_init(&c);
    c.max_retries = 1;
    ASSERT_OK(faas_register(f->rt, "slow", too_slow, &c));
    done_log d;
    done_init(&d);
    ASSERT_OK(faas_invoke_async(f->rt, "slow", NULL, 0, on_done, &d, NULL));
    faas_run_pending(f->rt);
    fake_advance(&f->clock, MS(100));
    faas_run_pending(f->rt);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.status[0], FAAS_ETIMEOUT);
    assert_int_equal(d.attempt[0], 2);
}

/* The dead-letter function keeps what it receives. */
static char dlq_payload[8192];
static unsigned dlq_calls;
static int dlq(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx;
    snprintf(dlq_payload, sizeof dlq_payload, "%.*s", (int)len, (const char *)payload);
    dlq_calls++;
    return 0;
}

static void dead_letter_gets_lambdas_envelope(void **state)
{
    fixture *f = *state;
    dlq_calls = 0;
    ASSERT_OK(faas_register(f->rt, "dlq", dlq, NULL));
    faas_config c;
    faas_config_init(&c);
    c.max_retries = 1;
    c.dead_letter = "dlq";
    ASSERT_OK(faas_register(f->rt, "bad", always_fails, &c));
    done_log d;
    done_init(&d);
    char id[37];
    ASSERT_OK(faas_invoke_async(f->rt, "bad", "{\"a\":1}", 7, on_done, &d, id));
    faas_run_pending(f->rt);
    fake_advance(&f->clock, MS(100));
    faas_run_pending(f->rt);                 /* attempt 2 fails; the envelope is queued */
    assert_int_equal(d.n, 1);                /* the caller's one completion */
    assert_int_equal(d.status[0], FAAS_EHANDLER);
    faas_run_pending(f->rt);                 /* the dead letter runs */
    assert_int_equal(dlq_calls, 1);

    json_error_t err;
    json_t *env = json_loads(dlq_payload, 0, &err);
    assert_non_null(env);
    assert_string_equal(json_string_value(json_object_get(env, "version")), "1.0");
    const char *ts = json_string_value(json_object_get(env, "timestamp"));
    assert_non_null(ts);
    assert_int_equal(strlen(ts), 24);                    /* 2026-11-26T00:00:00.100Z */
    assert_int_equal(ts[10], 'T');
    json_t *rc = json_object_get(env, "requestContext");
    assert_string_equal(json_string_value(json_object_get(rc, "requestId")), id);
    assert_string_equal(json_string_value(json_object_get(rc, "functionArn")), "bad");
    assert_string_equal(json_string_value(json_object_get(rc, "condition")),
                        "RetriesExhausted");
    assert_int_equal(json_integer_value(json_object_get(rc, "approximateInvokeCount")), 2);
    json_t *rp = json_object_get(env, "requestPayload");
    assert_int_equal(json_integer_value(json_object_get(rp, "a")), 1);
    json_t *resp = json_object_get(env, "responseContext");
    assert_int_equal(json_integer_value(json_object_get(resp, "statusCode")), 200);
    assert_string_equal(json_string_value(json_object_get(resp, "functionError")),
                        "Unhandled");
    json_t *out = json_object_get(env, "responsePayload");
    assert_string_equal(json_string_value(json_object_get(out, "errorType")), "KeyError");
    assert_string_equal(json_string_value(json_object_get(out, "errorMessage")), "'action'");
    json_decref(env);

    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "bad", &st));
    assert_int_equal(st.dead_letters, 1);

    /* A payload that is not JSON travels as a string. */
    ASSERT_OK(faas_invoke_async(f->rt, "bad", "plain text", 10, on_done, &d, NULL));
    faas_run_pending(f->rt);
    fake_advance(&f->clock, MS(100));
    faas_run_pending(f->rt);
    faas_run_pending(f->rt);
    env = json_loads(dlq_payload, 0, &err);
    assert_non_null(env);
    assert_string_equal(json_string_value(json_object_get(env, "requestPayload")),
                        "plain text");
    json_decref(env);
}

static void missing_dead_letter_is_logged_not_lost(void **state)
{
    fixture *f = *state;
    faas_config c;
    faas_config_init(&c);
    c.max_retries = 0;
    c.dead_letter = "nowhere";
    ASSERT_OK(faas_register(f->rt, "bad", always_fails, &c));
    done_log d;
    done_init(&d);
    ASSERT_OK(faas_invoke_async(f->rt, "bad", "{}", 2, on_done, &d, NULL));
    faas_run_pending(f->rt);
    assert_int_equal(d.n, 1);
    int logged = 0;
    for (size_t i = 0; i < f->cap.n; i++)
        logged |= strstr(f->cap.lines[i], "dead letter to nowhere not delivered") != NULL;
    assert_true(logged);
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "bad", &st));
    assert_int_equal(st.dead_letters, 0);
}

static void parked_calls_keep_fifo_order_manual(void **state)
{
    fixture *f = *state;
    faas_config c;
    faas_config_init(&c);
    c.max_concurrency = 1;
    ASSERT_OK(faas_register(f->rt, "one", echo, &c));
    done_log d;
    done_init(&d);
    for (int i = 0; i < 10; i++) {
        char p[16];
        int n = snprintf(p, sizeof p, "%d", i);
        ASSERT_OK(faas_invoke_async(f->rt, "one", p, (size_t)n, on_done, &d, NULL));
    }
    /* One runs per pass: each completion hands its slot to the next parked call. */
    for (int i = 0; i < 10; i++)
        assert_int_equal(faas_run_pending(f->rt), 1);
    assert_int_equal(d.n, 10);
    for (int i = 0; i < 10; i++) {
        char p[16];
        snprintf(p, sizeof p, "%d", i);
        assert_string_equal(d.data[i], p);
    }
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "one", &st));
    assert_int_equal(st.throttles, 0);                   /* parked, never refused */
    assert_int_equal(st.invocations, 10);
}

static void unregister_completes_queued_and_parked_calls(void **state)
{
    fixture *f = *state;
    faas_config c;
    faas_config_init(&c);
    c.max_concurrency = 1;
    ASSERT_OK(faas_register(f->rt, "lim", echo, &c));
    ASSERT_OK(faas_register(f->rt, "free", echo, NULL));
    done_log d;
    done_init(&d);
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(faas_invoke_async(f->rt, "lim", "x", 1, on_done, &d, NULL));
        ASSERT_OK(faas_invoke_async(f->rt, "free", "y", 1, on_done, &d, NULL));
    }
    ASSERT_OK(faas_unregister(f->rt, "lim"));
    assert_int_equal(d.n, 2);                    /* the two parked ones, at once */
    ASSERT_OK(faas_unregister(f->rt, "free"));
    faas_run_pending(f->rt);                     /* the queued ones find them gone */
    assert_int_equal(d.n, 6);
    for (int i = 0; i < 6; i++)
        assert_int_equal(d.status[i], FAAS_ENOTFOUND);
}

static void futures_in_manual_mode(void **state)
{
    fixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "echo", echo, NULL));
    faas_future *fut;
    ASSERT_OK(faas_invoke_future(f->rt, "echo", "fut", 3, &fut));
    assert_int_equal(strlen(faas_future_request_id(fut)), 36);
    faas_response res;
    ASSERT_OK(faas_future_wait(fut, 0, &res));           /* waiting runs the queue */
    assert_int_equal(res.status, FAAS_OK);
    assert_string_equal(res.data, "fut");
    assert_string_equal(res.record.request_id, faas_future_request_id(fut));
    faas_response again;
    assert_int_equal(faas_future_wait(fut, 0, &again), FAAS_EINVAL);  /* taken once */
    faas_response_free(&res);
    faas_future_free(fut);
    faas_future_free(NULL);

    /* A future never waited for is freed with its response. */
    ASSERT_OK(faas_invoke_future(f->rt, "echo", "unread", 6, &fut));
    faas_run_pending(f->rt);
    faas_future_free(fut);
    /* One freed before its call ran: the call completes unobserved. */
    ASSERT_OK(faas_invoke_future(f->rt, "echo", "orphan", 6, &fut));
    faas_future_free(fut);
    assert_int_equal(faas_run_pending(f->rt), 1);
    assert_int_equal(faas_invoke_future(f->rt, "nobody", "x", 1, &fut), FAAS_ENOTFOUND);
    assert_null(fut);
}

/* The handler ABI's NUL byte on the asynchronous paths: the payload is copied at submit
 * (the caller frees its buffer at once), and the copy is terminated. */
typedef struct nul_check {
    char  *want;                /* the payload's bytes, kept by the test */
    size_t n;
    int    status, calls;
    bool   same;
    char   message[256];
} nul_check;

static void on_nul_checked(const faas_response *res, void *arg)
{
    nul_check *c = arg;
    c->calls++;
    c->status = res->status;
    c->same = res->len == c->n && memcmp(res->data, c->want, c->n) == 0;
    snprintf(c->message, sizeof c->message, "%s", res->error_message ? res->error_message : "");
}

static void async_payloads_are_nul_terminated(void **state)
{
    fixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "term", nul_terminated_echo, NULL));
    faas_function *fn = faas_lookup(f->rt, "term");
    static const size_t sizes[] = { 0, 1, 2, 15, 16, 95, 96, 97, 300, 5000 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (int how = 0; how < 3; how++) {         /* by name, by handle, a future */
            size_t n = sizes[i];
            nul_check c = { pattern_payload(n, 0), n, 0, 0, false, "" };
            char *p = pattern_payload(n, how == 1);  /* exact size, or followed by 'X' */
            faas_future *fut = NULL;
            if (how == 0)
                ASSERT_OK(faas_invoke_async(f->rt, "term", p, n, on_nul_checked, &c, NULL));
            else if (how == 1)
                ASSERT_OK(faas_invoke_fn_async(fn, p, n, on_nul_checked, &c, NULL));
            else
                ASSERT_OK(faas_invoke_future(f->rt, "term", p, n, &fut));
            free(p);                                /* accepted: the call has its copy */
            if (fut != NULL) {
                faas_response res;
                ASSERT_OK(faas_future_wait(fut, 0, &res));
                on_nul_checked(&res, &c);
                faas_response_free(&res);
                faas_future_free(fut);
            } else {
                assert_int_equal(faas_run_pending(f->rt), 1);
            }
            if (c.calls != 1 || c.status != FAAS_OK || !c.same)
                fail_msg("%zu bytes, path %d: %d call(s), %s: %s", n, how, c.calls,
                         faas_err_name(c.status), c.message);
            free(c.want);
        }
    }
}

static void drain_in_manual_mode(void **state)
{
    fixture *f = *state;
    faas_config c;
    faas_config_init(&c);
    c.max_retries = 1;
    ASSERT_OK(faas_register(f->rt, "bad", always_fails, &c));
    ASSERT_OK(faas_register(f->rt, "echo", echo, NULL));
    done_log d;
    done_init(&d);
    for (int i = 0; i < 5; i++)
        ASSERT_OK(faas_invoke_async(f->rt, "echo", "e", 1, on_done, &d, NULL));
    ASSERT_OK(faas_invoke_async(f->rt, "bad", "b", 1, on_done, &d, NULL));
    /* The retry waits on the test's clock, which only the test moves. */
    assert_int_equal(faas_drain(f->rt, 1000), FAAS_ETIMEOUT);
    assert_int_equal(d.n, 5);
    fake_advance(&f->clock, MS(100));
    ASSERT_OK(faas_drain(f->rt, 1000));
    assert_int_equal(d.n, 6);
}

static void shutdown_cancels_queued_parked_and_retrying(void **state)
{
    fixture *f = *state;
    faas_config lim;
    faas_config_init(&lim);
    lim.max_concurrency = 1;
    ASSERT_OK(faas_register(f->rt, "lim", echo, &lim));
    faas_config c;
    faas_config_init(&c);
    c.max_retries = 2;
    ASSERT_OK(faas_register(f->rt, "bad", always_fails, &c));
    ASSERT_OK(faas_register(f->rt, "echo", echo, NULL));
    done_log d;
    done_init(&d);
    ASSERT_OK(faas_invoke_async(f->rt, "bad", "r", 1, on_done, &d, NULL));
    faas_run_pending(f->rt);                      /* now waiting for its retry */
    ASSERT_OK(faas_invoke_async(f->rt, "echo", "q", 1, on_done, &d, NULL));   /* queued */
    for (int i = 0; i < 3; i++)                   /* one holds the slot, two are parked */
        ASSERT_OK(faas_invoke_async(f->rt, "lim", "p", 1, on_done, &d, NULL));
    ASSERT_OK(faas_register(f->rt, "dlq", echo, NULL));
    assert_int_equal(d.n, 0);
    faas_runtime_free(f->rt);
    f->rt = NULL;
    assert_int_equal(d.n, 5);                     /* each exactly once, on this thread */
    for (int i = 0; i < 5; i++)
        assert_int_equal(d.status[i], FAAS_ESHUTDOWN);
}

/* ---- threaded ------------------------------------------------------------------------------- */

static int seq_log[4096];
static atomic_int seq_n;
static int sequence(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)len;
    int i = atomic_fetch_add(&seq_n, 1);
    if (i < 4096)
        seq_log[i] = atoi(payload);
    return 0;
}

static void parked_calls_keep_fifo_order_on_workers(void **state)
{
    (void)state;
    faas_runtime *rt = plain_runtime(2, NULL, NULL);
    faas_config c;
    faas_config_init(&c);
    c.max_concurrency = 1;
    ASSERT_OK(faas_register(rt, "seq", sequence, &c));
    atomic_store(&seq_n, 0);
    enum { N = 2000 };
    for (int i = 0; i < N; i++) {
        char p[16];
        int n = snprintf(p, sizeof p, "%d", i);
        ASSERT_OK(faas_invoke_async(rt, "seq", p, (size_t)n, NULL, NULL, NULL));
    }
    ASSERT_OK(faas_drain(rt, 60000));
    assert_int_equal(atomic_load(&seq_n), N);
    for (int i = 0; i < N; i++)
        assert_int_equal(seq_log[i], i);
    faas_runtime_free(rt);
}

static gate hold_gate = GATE_INIT, hold_gate3 = GATE_INIT;
static atomic_int holding;
static int hold(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)payload; (void)len;
    atomic_fetch_add(&holding, 1);
    gate_wait(&hold_gate);
    return 0;
}

/* The first call waits until the runtime refuses new calls (faas_runtime_free has
 * begun on another thread: a running handler may still call in, and is refused). */
static faas_runtime *closing_rt;
static int hold_until_closing(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)payload; (void)len;
    if (atomic_fetch_add(&holding, 1) == 0)
        while (faas_invoke_async(closing_rt, "plain", "z", 1, NULL, NULL, NULL) !=
               FAAS_ESHUTDOWN)
            sched_yield();
    return 0;
}

typedef struct counter {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    unsigned        n;
} counter;

static void count_done(const faas_response *res, void *arg)
{
    (void)res;
    counter *c = arg;
    pthread_mutex_lock(&c->mu);
    c->n++;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static int counter_wait(counter *c, unsigned n, unsigned seconds)
{
    struct timespec at;
    clock_gettime(CLOCK_REALTIME, &at);
    at.tv_sec += seconds;
    pthread_mutex_lock(&c->mu);
    int rc = 0;
    while (c->n < n && rc == 0)
        rc = pthread_cond_timedwait(&c->cv, &c->mu, &at);
    int ok = c->n >= n;
    pthread_mutex_unlock(&c->mu);
    return ok ? 0 : -1;
}

static void a_function_at_its_limit_starves_no_one(void **state)
{
    (void)state;
    faas_runtime *rt = plain_runtime(2, NULL, NULL);
    faas_config c;
    faas_config_init(&c);
    c.max_concurrency = 1;
    ASSERT_OK(faas_register(rt, "stuck", hold, &c));
    ASSERT_OK(faas_register(rt, "echo", echo, NULL));
    counter stuck = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    counter others = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    atomic_store(&holding, 0);
    for (int i = 0; i < 100; i++)
        ASSERT_OK(faas_invoke_async(rt, "stuck", NULL, 0, count_done, &stuck, NULL));
    while (atomic_load(&holding) == 0)            /* the first one holds the instance */
        sched_yield();
    for (int i = 0; i < 1000; i++)
        ASSERT_OK(faas_invoke_async(rt, "echo", "x", 1, count_done, &others, NULL));
    /* The 99 parked calls hold no worker: the other function's calls all complete. */
    assert_int_equal(counter_wait(&others, 1000, 120), 0);
    assert_int_equal(atomic_load(&holding), 1);
    assert_int_equal(faas_drain(rt, 10), FAAS_ETIMEOUT);
    gate_open(&hold_gate);
    ASSERT_OK(faas_drain(rt, 60000));
    assert_int_equal(stuck.n, 100);
    faas_runtime_free(rt);
}

static int hold3(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)payload; (void)len;
    atomic_fetch_add(&holding, 1);
    gate_wait(&hold_gate3);
    return 0;
}

typedef struct unreg_arg {
    faas_runtime *rt;
    int           rc;
} unreg_arg;

static void *unregister_lim(void *p)
{
    unreg_arg *a = p;
    a->rc = faas_unregister(a->rt, "lim");
    return NULL;
}

/* A queued call holds a slot of a function being unregistered: unregistration does not
 * wait for it, and the call, when a worker reaches it, gives the slot back once. */
static void unregister_with_a_held_slot_queued(void **state)
{
    (void)state;
    faas_runtime *rt = plain_runtime(2, NULL, NULL);
    faas_config c;
    faas_config_init(&c);
    c.max_concurrency = 3;
    ASSERT_OK(faas_register(rt, "lim", hold3, &c));
    ASSERT_OK(faas_register(rt, "other", hold3, NULL));
    done_log d;
    done_init(&d);
    atomic_store(&holding, 0);
    ASSERT_OK(faas_invoke_async(rt, "lim", NULL, 0, on_done, &d, NULL));   /* runs */
    ASSERT_OK(faas_invoke_async(rt, "other", NULL, 0, on_done, &d, NULL)); /* runs */
    while (atomic_load(&holding) < 2)                 /* both workers are busy */
        sched_yield();
    ASSERT_OK(faas_invoke_async(rt, "lim", NULL, 0, on_done, &d, NULL));   /* held, queued */
    unreg_arg a = { rt, -100 };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, unregister_lim, &a), 0);
    while (faas_lookup(rt, "lim") != NULL)            /* unregistration has begun */
        sched_yield();
    gate_open(&hold_gate3);
    pthread_join(t, NULL);
    ASSERT_OK(a.rc);
    ASSERT_OK(faas_drain(rt, 60000));
    assert_int_equal(d.n, 3);
    int notfound = 0;
    for (int i = 0; i < 3; i++)
        notfound += d.status[i] == FAAS_ENOTFOUND;
    assert_int_equal(notfound, 1);                    /* the queued one */
    faas_runtime_free(rt);
}

/* A long call holds its worker only: the calls queued behind it go to the other one. */
static gate long_gate = GATE_INIT;
static int long_call(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)payload; (void)len;
    gate_wait(&long_gate);
    return 0;
}

static void no_call_waits_behind_a_long_one(void **state)
{
    (void)state;
    faas_runtime *rt = plain_runtime(2, NULL, NULL);
    ASSERT_OK(faas_register(rt, "long", long_call, NULL));
    ASSERT_OK(faas_register(rt, "echo", echo, NULL));
    counter quick = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    ASSERT_OK(faas_invoke_async(rt, "long", NULL, 0, NULL, NULL, NULL));
    for (int i = 0; i < 60; i++)
        ASSERT_OK(faas_invoke_async(rt, "echo", "q", 1, count_done, &quick, NULL));
    /* The "long" call holds one worker; the 60 quick ones complete on the other. */
    assert_int_equal(counter_wait(&quick, 60, 120), 0);
    gate_open(&long_gate);
    ASSERT_OK(faas_drain(rt, 60000));
    faas_runtime_free(rt);
}

/* One worker, two submitters: each submitter's calls run in the order it made them (the
 * run queue is FIFO; the two submitters' pushes race on it), and none is lost. */
#define ORDER_N 20000
static struct {
    faas_runtime *rt;
    atomic_uint   ran;
    unsigned      last[2];      /* written only on the one worker */
    unsigned      out_of_order;
} ORDER;

static int record_order(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)len;
    unsigned who = 0, seq = 0;
    if (sscanf(payload, "%u %u", &who, &seq) == 2 && who < 2) {
        if (seq != ORDER.last[who] + 1)
            ORDER.out_of_order++;
        ORDER.last[who] = seq;
    }
    atomic_fetch_add(&ORDER.ran, 1);
    return 0;
}

static void *submit_in_order(void *arg)
{
    unsigned who = (unsigned)(uintptr_t)arg;
    for (unsigned seq = 1; seq <= scaled(ORDER_N); seq++) {
        char p[32];
        int n = snprintf(p, sizeof p, "%u %u", who, seq);
        while (faas_invoke_async(ORDER.rt, "order", p, (size_t)n, NULL, NULL, NULL) ==
               FAAS_EBUSY)
            sched_yield();
    }
    return NULL;
}

static void one_worker_runs_each_submitters_calls_in_order(void **state)
{
    (void)state;
    memset(&ORDER, 0, sizeof ORDER);
    ORDER.rt = plain_runtime(1, NULL, NULL);
    ASSERT_OK(faas_register(ORDER.rt, "order", record_order, NULL));
    pthread_t t[2];
    for (uintptr_t i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, submit_in_order, (void *)i), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    ASSERT_OK(faas_drain(ORDER.rt, 600000));
    assert_int_equal(atomic_load(&ORDER.ran), 2 * scaled(ORDER_N));
    assert_int_equal(ORDER.out_of_order, 0);
    assert_int_equal(ORDER.last[0], scaled(ORDER_N));
    assert_int_equal(ORDER.last[1], scaled(ORDER_N));
    faas_runtime_free(ORDER.rt);
}

/* A queue deeper than a worker's ring (FAAS__LANE_SLOTS, 256) keeps its order: the calls
 * that find the ring full wait in an overflow list, those that come while it has calls
 * go behind them, and once the worker takes the list, new calls go to the ring again
 * behind it. One worker, held while DEEP_N calls queue; then DEEP_N more while it runs
 * them. Every call runs once, in the order it was made. */
#define DEEP_N 1000
static gate deep_gate = GATE_INIT;
static int deep_hold(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)payload; (void)len;
    gate_wait(&deep_gate);
    return 0;
}

static void submit_seq(unsigned from, unsigned to)
{
    for (unsigned seq = from; seq <= to; seq++) {
        char p[32];
        int n = snprintf(p, sizeof p, "0 %u", seq);
        ASSERT_OK(faas_invoke_async(ORDER.rt, "order", p, (size_t)n, NULL, NULL, NULL));
    }
}

static void a_deep_queue_keeps_its_order(void **state)
{
    (void)state;
    memset(&ORDER, 0, sizeof ORDER);
    ORDER.rt = plain_runtime(1, NULL, NULL);
    ASSERT_OK(faas_register(ORDER.rt, "order", record_order, NULL));
    ASSERT_OK(faas_register(ORDER.rt, "hold", deep_hold, NULL));
    ASSERT_OK(faas_invoke_async(ORDER.rt, "hold", NULL, 0, NULL, NULL, NULL));
    submit_seq(1, DEEP_N);
    gate_open(&deep_gate);
    submit_seq(DEEP_N + 1, 2 * DEEP_N);
    ASSERT_OK(faas_drain(ORDER.rt, 600000));
    assert_int_equal(atomic_load(&ORDER.ran), 2 * DEEP_N);
    assert_int_equal(ORDER.out_of_order, 0);
    assert_int_equal(ORDER.last[0], 2 * DEEP_N);
    faas_runtime_free(ORDER.rt);
}

/* The same in manual mode: the host's faas_run_pending() runs ring and overflow in order. */
static void a_deep_manual_queue_keeps_its_order(void **state)
{
    (void)state;
    memset(&ORDER, 0, sizeof ORDER);
    faas_options o;
    memset(&o, 0, sizeof o);
    o.manual = 1;
    ASSERT_OK(faas_runtime_new(&ORDER.rt, &o));
    ASSERT_OK(faas_register(ORDER.rt, "order", record_order, NULL));
    submit_seq(1, DEEP_N);
    assert_int_equal(faas_run_pending(ORDER.rt), DEEP_N);
    submit_seq(DEEP_N + 1, DEEP_N + 300);
    assert_int_equal(faas_run_pending(ORDER.rt), 300);
    assert_int_equal(atomic_load(&ORDER.ran), DEEP_N + 300);
    assert_int_equal(ORDER.out_of_order, 0);
    assert_int_equal(ORDER.last[0], DEEP_N + 300);
    faas_runtime_free(ORDER.rt);
}

/* A runtime whose run queues cannot be allocated fails with FAAS_ENOMEM and frees what it
 * made (it used to look at its queues' completions through NULL on the way out). This
 * binary runs again as a fresh process (a fork would inherit the free heap space the
 * earlier tests left, mapped already) with its address space bounded to what it maps plus
 * 14 MiB: the timer thread's stack fits, 4096 workers' queues (over 16 MiB) do not. */
static int no_memory_child(void)
{
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL || fscanf(f, "%ld", &pages) != 1)
        return 2;
    fclose(f);
    rlim_t most = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (14u << 20);
    struct rlimit rl = { most, most };
    if (setrlimit(RLIMIT_AS, &rl) != 0)
        return 3;
    faas_options o = FAAS_OPTIONS_INIT;
    o.workers = 4096;
    faas_runtime *rt = (faas_runtime *)&o;
    int rc = faas_runtime_new(&rt, &o);
    if (rc != FAAS_ENOMEM || rt != NULL || strstr(faas_last_error(), "run queues") == NULL) {
        fprintf(stderr, "# rc %d, rt %p: %s\n", rc, (void *)rt, faas_last_error());
        return 4;
    }
    return 0;
}

static void a_runtime_without_memory_for_its_queues_fails_cleanly(void **state)
{
    (void)state;
    if (!plain_malloc()) {
        print_message("# skipped: a sanitizer's or valgrind's memory does not fit under "
                      "RLIMIT_AS\n");
        skip();
    }
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("TEST_ASYNC_NO_MEMORY", "1", 1);
        execl("/proc/self/exe", "test_async", (char *)NULL);
        _exit(5);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* queue_capacity counts the calls pending exactly, round after round, with the workers'
 * completions counted apart from the submitters' acceptances: C calls that hold their
 * workers (or wait for one) fill it, the next is refused, and once they complete there is
 * room for C again. */
#define CAP_C 8
static struct {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    unsigned        open_round;
} CAP = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };

static int cap_hold(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)len;
    unsigned round = (unsigned)strtoul(payload, NULL, 10);
    pthread_mutex_lock(&CAP.mu);
    while (CAP.open_round < round)
        pthread_cond_wait(&CAP.cv, &CAP.mu);
    pthread_mutex_unlock(&CAP.mu);
    return 0;
}

/* Two workers and a queue_capacity of CAP_C. */
static faas_runtime *small_queue_runtime(void)
{
    faas_options o;
    memset(&o, 0, sizeof o);
    o.workers = 2;
    o.queue_capacity = CAP_C;
    faas_runtime *rt = NULL;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    return rt;
}

static void queue_capacity_is_exact_on_workers(void **state)
{
    (void)state;
    faas_runtime *rt = small_queue_runtime();
    ASSERT_OK(faas_register(rt, "hold", cap_hold, NULL));
    for (unsigned round = 1; round <= 50; round++) {
        char p[16];
        int n = snprintf(p, sizeof p, "%u", round);
        for (unsigned i = 0; i < CAP_C; i++)
            ASSERT_OK(faas_invoke_async(rt, "hold", p, (size_t)n, NULL, NULL, NULL));
        assert_int_equal(faas_invoke_async(rt, "hold", p, (size_t)n, NULL, NULL, NULL),
                         FAAS_EBUSY);
        assert_non_null(strstr(faas_last_error(), "8 calls pending"));
        pthread_mutex_lock(&CAP.mu);
        CAP.open_round = round;
        pthread_cond_broadcast(&CAP.cv);
        pthread_mutex_unlock(&CAP.mu);
        ASSERT_OK(faas_drain(rt, 60000));
    }
    faas_runtime_free(rt);
}

/* A worker held by a long call does not hold the calls queued behind it while the other
 * worker's own queue never empties. Each quick call, run on the free worker, queues two
 * more (calls from one thread go round the workers' queues: one to each), so that
 * worker's queue is never empty when it looks; the calls queued for the held worker must
 * still be run, oldest first, long before the chain ends. */
#define CHAIN_N 2000
static struct {
    faas_runtime *rt;
    atomic_uint   queued;       /* quick calls queued so far */
    atomic_uint   done;         /* quick calls completed so far */
    unsigned      seed_done[2]; /* when each of the first two completed (1-based) */
    gate          release;
    gate          go;           /* the chain starts once both seeds are queued */
    atomic_int    long_running;
} CHAIN = { .release = GATE_INIT, .go = GATE_INIT };

static int chain_long(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)payload; (void)len;
    atomic_store(&CHAIN.long_running, 1);
    gate_wait(&CHAIN.release);
    return 0;
}

static int chain_quick(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)len;
    unsigned seq = (unsigned)strtoul(payload, NULL, 10);
    if (seq <= 2)
        gate_wait(&CHAIN.go);
    for (int i = 0; i < 2; i++) {
        unsigned next = atomic_fetch_add(&CHAIN.queued, 1) + 1;
        if (next > CHAIN_N) {
            atomic_fetch_sub(&CHAIN.queued, 1);
            break;
        }
        char p[16];
        int n = snprintf(p, sizeof p, "%u", next);
        if (faas_invoke_async(CHAIN.rt, "quick", p, (size_t)n, NULL, NULL, NULL) != FAAS_OK)
            atomic_fetch_sub(&CHAIN.queued, 1);
    }
    unsigned order = atomic_fetch_add(&CHAIN.done, 1) + 1;
    if (seq == 1 || seq == 2)
        CHAIN.seed_done[seq - 1] = order;
    return 0;
}

static void a_held_worker_s_queue_is_taken_under_load(void **state)
{
    (void)state;
    CHAIN.rt = plain_runtime(2, NULL, NULL);
    ASSERT_OK(faas_register(CHAIN.rt, "long", chain_long, NULL));
    ASSERT_OK(faas_register(CHAIN.rt, "quick", chain_quick, NULL));
    ASSERT_OK(faas_invoke_async(CHAIN.rt, "long", NULL, 0, NULL, NULL, NULL));
    while (atomic_load(&CHAIN.long_running) == 0)     /* one worker is held */
        sched_yield();
    atomic_store(&CHAIN.queued, 2);
    ASSERT_OK(faas_invoke_async(CHAIN.rt, "quick", "1", 1, NULL, NULL, NULL));
    ASSERT_OK(faas_invoke_async(CHAIN.rt, "quick", "2", 1, NULL, NULL, NULL));
    gate_open(&CHAIN.go);
    while (atomic_load(&CHAIN.done) < CHAIN_N)        /* all run on the free worker */
        sched_yield();
    print_message("# the first two quick calls completed %u and %u of %u\n",
                  CHAIN.seed_done[0], CHAIN.seed_done[1], CHAIN_N);
    /* One of them was queued for the held worker. Taken only once the free worker's own
     * queue emptied, it would complete after about half of the chain. */
    assert_true(CHAIN.seed_done[0] < CHAIN_N / 4);
    assert_true(CHAIN.seed_done[1] < CHAIN_N / 4);
    gate_open(&CHAIN.release);
    ASSERT_OK(faas_drain(CHAIN.rt, 60000));
    faas_runtime_free(CHAIN.rt);
}

/* Four threads race to submit to a full queue whose calls never complete meanwhile, and
 * every refusal is counted as a completion of the call it withdrew: never more than
 * queue_capacity calls are accepted, and the last place is not lost to the race. */
static struct {
    faas_runtime *rt;
    atomic_uint   accepted;
    gate          release;
} RACE = { .release = GATE_INIT };

static int race_hold(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)payload; (void)len;
    gate_wait(&RACE.release);
    return 0;
}

static void *race_submit(void *arg)
{
    (void)arg;
    for (unsigned refused = 0; refused < 20000;) {
        int rc = faas_invoke_async(RACE.rt, "hold", "r", 1, NULL, NULL, NULL);
        if (rc == FAAS_OK)
            atomic_fetch_add(&RACE.accepted, 1);
        else
            refused++;
    }
    return NULL;
}

static void queue_capacity_holds_when_submitters_race(void **state)
{
    (void)state;
    RACE.rt = small_queue_runtime();
    ASSERT_OK(faas_register(RACE.rt, "hold", race_hold, NULL));
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, race_submit, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&RACE.accepted), CAP_C);
    gate_open(&RACE.release);
    ASSERT_OK(faas_drain(RACE.rt, 60000));
    faas_runtime_free(RACE.rt);
}

static void drain_with_ten_thousand_queued(void **state)
{
    (void)state;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, NULL));
    ASSERT_OK(faas_register(rt, "echo", echo, NULL));
    counter n = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    unsigned total = scaled(10000);
    for (unsigned i = 0; i < total; i++)
        ASSERT_OK(faas_invoke_async(rt, "echo", "x", 1, count_done, &n, NULL));
    ASSERT_OK(faas_drain(rt, 120000));
    assert_int_equal(n.n, total);                /* drain returned after the last one */
    faas_runtime_free(rt);
}

static void futures_on_workers(void **state)
{
    (void)state;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, NULL));
    ASSERT_OK(faas_register(rt, "echo", echo, NULL));
    faas_future *fut[50];
    for (int i = 0; i < 50; i++) {
        char p[16];
        int n = snprintf(p, sizeof p, "%d", i);
        ASSERT_OK(faas_invoke_future(rt, "echo", p, (size_t)n, &fut[i]));
    }
    for (int i = 0; i < 50; i++) {
        faas_response res;
        ASSERT_OK(faas_future_wait(fut[i], 60000, &res));
        assert_int_equal(atoi(res.data), i);
        faas_response_free(&res);
        faas_future_free(fut[i]);
    }
    faas_runtime_free(rt);
}

/* A callback may call back into the runtime: invoke and register. */
static faas_runtime *reenter_rt;
static void reenter(const faas_response *res, void *arg)
{
    (void)res;
    counter *c = arg;
    char name[32];
    snprintf(name, sizeof name, "late-%u", (unsigned)(uintptr_t)res->record.request_id[0]);
    faas_register(reenter_rt, name, echo, NULL);
    faas_invoke(reenter_rt, "echo", "y", 1, NULL);
    count_done(res, c);
}

static void callbacks_may_reenter(void **state)
{
    (void)state;
    ASSERT_OK(faas_runtime_new(&reenter_rt, NULL));
    ASSERT_OK(faas_register(reenter_rt, "echo", echo, NULL));
    counter n = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    for (int i = 0; i < 200; i++)
        ASSERT_OK(faas_invoke_async(reenter_rt, "echo", "x", 1, reenter, &n, NULL));
    ASSERT_OK(faas_drain(reenter_rt, 60000));
    assert_int_equal(n.n, 200);
    faas_runtime_free(reenter_rt);
}

/* faas_drain from an async call's handler or from a callback, on the runtime's own worker,
 * would wait for itself (the call is pending until it returns): FAAS_EBUSY at once. The
 * host's thread still drains. */
static faas_runtime *drain_rt;
static atomic_int drain_in_handler, drain_in_callback;

static int drains(faas_ctx *ctx, const void *payload, size_t len)
{
    atomic_store(&drain_in_handler, faas_drain(drain_rt, 30000));
    return faas_reply(ctx, payload, len);
}

static void drain_cb(const faas_response *res, void *arg)
{
    (void)res;
    atomic_store(&drain_in_callback, faas_drain(drain_rt, 30000));
    atomic_fetch_add((atomic_int *)arg, 1);
}

static void drain_on_a_worker_is_refused(void **state)
{
    (void)state;
    ASSERT_OK(faas_runtime_new(&drain_rt, NULL));
    ASSERT_OK(faas_register(drain_rt, "drains", drains, NULL));
    atomic_store(&drain_in_handler, 1);
    atomic_store(&drain_in_callback, 1);
    atomic_int called = 0;
    ASSERT_OK(faas_invoke_async(drain_rt, "drains", "x", 1, drain_cb, &called, NULL));
    ASSERT_OK(faas_drain(drain_rt, 60000));
    assert_int_equal(atomic_load(&called), 1);
    assert_int_equal(atomic_load(&drain_in_handler), FAAS_EBUSY);
    assert_int_equal(atomic_load(&drain_in_callback), FAAS_EBUSY);
    faas_runtime_free(drain_rt);
}

/* ---- exactly once under load ---------------------------------------------------------------- */

typedef struct load {
    faas_runtime *rt;
    atomic_uchar *calls;              /* completions per call index */
    atomic_uint_fast64_t ok, failed, cancelled, busy_retries;
    unsigned      per_producer;
} load;

typedef struct load_arg {
    load    *l;
    unsigned base;
    unsigned accepted;
} load_arg;

/* The callback's arg encodes the call's index; the load is global to the test. */
static load LOAD;
static void load_cb(const faas_response *res, void *arg)
{
    uintptr_t idx = (uintptr_t)arg;
    atomic_fetch_add(&LOAD.calls[idx], 1);
    if (res->status == FAAS_OK)
        atomic_fetch_add(&LOAD.ok, 1);
    else if (res->status == FAAS_ESHUTDOWN)
        atomic_fetch_add(&LOAD.cancelled, 1);
    else
        atomic_fetch_add(&LOAD.failed, 1);
}

static int sometimes_fails(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)len;
    unsigned long v = strtoul(payload, NULL, 10);
    /* About one attempt in eight fails (keyed by value and request id: retries differ). */
    if (((v * 2654435761u) ^ (unsigned char)faas_ctx_request_id(ctx)[0]) % 8 == 0 &&
        faas_ctx_request_id(ctx)[35] < '8')
        return faas_fail(ctx, "Flaky", "unlucky %lu", v);
    return 0;
}

static void *produce(void *p)
{
    load_arg *a = p;
    static const char *names[] = { "plain", "flaky", "limited" };
    for (unsigned i = 0; i < a->l->per_producer; i++) {
        unsigned idx = a->base + i;
        char payload[16];
        int n = snprintf(payload, sizeof payload, "%u", idx);
        for (;;) {
            int rc = faas_invoke_async(a->l->rt, names[idx % 3], payload, (size_t)n, load_cb,
                                       (void *)(uintptr_t)idx, NULL);
            if (rc == FAAS_OK) {
                a->accepted++;
                break;
            }
            if (rc != FAAS_EBUSY) {
                fail_msg("submit %u: %s", idx, faas_strerror(rc));
            }
            atomic_fetch_add(&a->l->busy_retries, 1);
            sched_yield();                             /* backpressure: try again */
        }
    }
    return NULL;
}

static void one_completion_per_call_under_load(void **state)
{
    (void)state;
    faas_options o;
    memset(&o, 0, sizeof o);
    o.retry_base_ms = 1;
    o.retry_cap_ms = 2;
    o.queue_capacity = 4096;
    ASSERT_OK(faas_runtime_new(&LOAD.rt, &o));
    faas_config c;
    faas_config_init(&c);
    ASSERT_OK(faas_register(LOAD.rt, "plain", echo, &c));
    c.max_retries = 2;
    ASSERT_OK(faas_register(LOAD.rt, "flaky", sometimes_fails, &c));
    c.max_concurrency = 2;
    ASSERT_OK(faas_register(LOAD.rt, "limited", sometimes_fails, &c));
    unsigned total = scaled(1000000);
    LOAD.per_producer = total / 2;
    total = LOAD.per_producer * 2;
    LOAD.calls = calloc(total, sizeof *LOAD.calls);
    pthread_t t[2];
    load_arg args[2] = { { &LOAD, 0, 0 }, { &LOAD, LOAD.per_producer, 0 } };
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, produce, &args[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    ASSERT_OK(faas_drain(LOAD.rt, 600000));
    uint64_t accepted = args[0].accepted + args[1].accepted;
    assert_int_equal(accepted, total);
    for (unsigned i = 0; i < total; i++)
        if (atomic_load(&LOAD.calls[i]) != 1)
            fail_msg("call %u completed %u times", i, atomic_load(&LOAD.calls[i]));
    uint64_t ok = atomic_load(&LOAD.ok), failed = atomic_load(&LOAD.failed);
    assert_int_equal(ok + failed + atomic_load(&LOAD.cancelled), accepted);
    assert_int_equal(atomic_load(&LOAD.cancelled), 0);
    faas_stats st;
    ASSERT_OK(faas_stats_get(LOAD.rt, NULL, &st));
    /* Every run is counted: first attempts plus retries. */
    assert_int_equal(st.invocations, accepted + st.retries);
    assert_int_equal(st.throttles, 0);
    print_message("# %llu calls: %llu ok, %llu failed after retries, %llu retries, %llu "
                  "resubmits after EBUSY\n", (unsigned long long)accepted,
                  (unsigned long long)ok, (unsigned long long)failed,
                  (unsigned long long)st.retries,
                  (unsigned long long)atomic_load(&LOAD.busy_retries));
    faas_runtime_free(LOAD.rt);
    free(LOAD.calls);
}

static void *free_runtime(void *rt)
{
    faas_runtime_free(rt);
    return NULL;
}

/* Shutdown with calls running, queued and parked: every accepted call completes once. */
static void shutdown_under_load_loses_nothing(void **state)
{
    (void)state;
    memset(&LOAD, 0, sizeof LOAD);
    LOAD.rt = plain_runtime(2, NULL, NULL);
    faas_config c;
    faas_config_init(&c);
    c.max_concurrency = 1;
    closing_rt = LOAD.rt;
    ASSERT_OK(faas_register(LOAD.rt, "stuck", hold_until_closing, &c));
    ASSERT_OK(faas_register(LOAD.rt, "plain", echo, NULL));
    unsigned n = 5000;
    LOAD.calls = calloc(n, sizeof *LOAD.calls);
    atomic_store(&holding, 0);
    unsigned accepted = 0;
    for (unsigned i = 0; i < n; i++) {
        const char *name = i % 10 == 0 ? "stuck" : "plain";
        if (faas_invoke_async(LOAD.rt, name, "s", 1, load_cb, (void *)(uintptr_t)i, NULL) ==
            FAAS_OK)
            accepted++;
    }
    assert_int_equal(accepted, n);
    while (atomic_load(&holding) == 0)          /* one "stuck" call is running */
        sched_yield();
    /* Free on another thread; the running call ends once new calls are refused. */
    pthread_t freer;
    assert_int_equal(pthread_create(&freer, NULL, free_runtime, LOAD.rt), 0);
    pthread_join(freer, NULL);
    uint64_t total = atomic_load(&LOAD.ok) + atomic_load(&LOAD.failed) +
                     atomic_load(&LOAD.cancelled);
    assert_int_equal(total, accepted);
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(atomic_load(&LOAD.calls[i]), 1);
    assert_true(atomic_load(&LOAD.cancelled) > 0);     /* the parked "stuck" calls at least */
    free(LOAD.calls);
}

int main(void)
{
    if (getenv("TEST_ASYNC_NO_MEMORY") != NULL)
        return no_memory_child();
    tap_fix_skips();                    /* its skip()s are TAP skips, not failures */
#define M(name) cmocka_unit_test_setup_teardown(name, setup_manual, fixture_teardown)
    const struct CMUnitTest tests[] = {
        M(async_call_runs_when_pending_work_runs),
        M(bad_submissions_are_refused_without_callback),
        M(retries_back_off_then_fail_once),
        M(backoff_delays_are_within_their_bounds),
        M(timeouts_count_as_failures),
        M(dead_letter_gets_lambdas_envelope),
        M(missing_dead_letter_is_logged_not_lost),
        M(parked_calls_keep_fifo_order_manual),
        M(unregister_completes_queued_and_parked_calls),
        M(futures_in_manual_mode),
        M(async_payloads_are_nul_terminated),
        M(drain_in_manual_mode),
        M(shutdown_cancels_queued_parked_and_retrying),
        cmocka_unit_test(parked_calls_keep_fifo_order_on_workers),
        cmocka_unit_test(a_function_at_its_limit_starves_no_one),
        cmocka_unit_test(unregister_with_a_held_slot_queued),
        cmocka_unit_test(no_call_waits_behind_a_long_one),
        cmocka_unit_test(one_worker_runs_each_submitters_calls_in_order),
        cmocka_unit_test(queue_capacity_is_exact_on_workers),
        cmocka_unit_test(a_held_worker_s_queue_is_taken_under_load),
        cmocka_unit_test(queue_capacity_holds_when_submitters_race),
        cmocka_unit_test(a_deep_queue_keeps_its_order),
        cmocka_unit_test(a_deep_manual_queue_keeps_its_order),
        cmocka_unit_test(a_runtime_without_memory_for_its_queues_fails_cleanly),
        cmocka_unit_test(drain_with_ten_thousand_queued),
        cmocka_unit_test(futures_on_workers),
        cmocka_unit_test(callbacks_may_reenter),
        cmocka_unit_test(drain_on_a_worker_is_refused),
        cmocka_unit_test(one_completion_per_call_under_load),
        cmocka_unit_test(shutdown_under_load_loses_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
