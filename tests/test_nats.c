/* test_nats.c - distribution over NATS JetStream against a real nats-server started here:
 * round trips in one process, the payload limit, 10,000 calls spread over three `faas
 * worker` processes, a worker killed with SIGKILL and the server restarted in the middle
 * (nothing lost, exactly one completion per call), dead letters after exactly MaxDeliver
 * attempts, no nak at the last delivery (the call would be stranded), and the producer's
 * result deadline. Without libnats: the FAAS_ENOTSUP answers. */
#include "config.h"
#include "util.h"

#include <jansson.h>

#if FAAS_HAVE_NATS
#include <nats/nats.h>
#include "nats_server.h"

/* ---- completions, counted per call index ---------------------------------------------------- */

#define MAX_WORKERS 4

typedef struct tracker {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    unsigned        n, done, bad_status, dup, strays;
    unsigned char  *seen;               /* completions per index */
    long            pid[MAX_WORKERS];   /* the worker processes seen in replies */
    unsigned        per_pid[MAX_WORKERS], npid;
    int             status, attempt;    /* of the last completion */
    char            error_type[64];
    char            error_message[256];
    size_t          len;                /* of the last reply */
} tracker;

static void tracker_init(tracker *t, unsigned n)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    t->n = n;
    t->seen = calloc(n ? n : 1, 1);
}

static void tracker_free(tracker *t)
{
    free(t->seen);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
}

/* Replies are "PID INDEX" (mod_nats's work and slow) or INDEX alone (an in-process echo). */
static void on_done(const faas_response *res, void *arg)
{
    tracker *t = arg;
    pthread_mutex_lock(&t->mu);
    t->status = res->status;
    t->attempt = res->record.attempt;
    t->len = res->len;
    snprintf(t->error_type, sizeof t->error_type, "%s",
             res->error_type ? res->error_type : "");
    snprintf(t->error_message, sizeof t->error_message, "%s",
             res->error_message ? res->error_message : "");
    if (res->status != FAAS_OK)
        t->bad_status++;
    long pid = 0;
    unsigned long index = 0;
    const char *d = res->data;
    if (res->status == FAAS_OK && res->len > 0 && res->len < 200) {
        if (sscanf(d, "%ld %lu", &pid, &index) != 2) {
            pid = 0;
            index = strtoul(d, NULL, 10);
        }
        if (index < t->n) {
            if (t->seen[index]++ != 0)
                t->dup++;
        } else {
            t->strays++;
        }
        if (pid != 0) {
            unsigned i = 0;
            while (i < t->npid && t->pid[i] != pid)
                i++;
            if (i == t->npid && t->npid < MAX_WORKERS)
                t->pid[t->npid++] = pid;
            if (i < MAX_WORKERS)
                t->per_pid[i]++;
        }
    }
    t->done++;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

/* Wait until at least `want` completions, at most `seconds`; returns how many there were. */
static unsigned tracker_wait(tracker *t, unsigned want, unsigned seconds)
{
    struct timespec at;
    clock_gettime(CLOCK_REALTIME, &at);
    at.tv_sec += seconds;
    pthread_mutex_lock(&t->mu);
    while (t->done < want)
        if (pthread_cond_timedwait(&t->cv, &t->mu, &at) != 0)
            break;
    unsigned done = t->done;
    pthread_mutex_unlock(&t->mu);
    return done;
}

/* Every index completed exactly once, with a good status. */
static void assert_exactly_once(tracker *t)
{
    unsigned missing = 0, twice = 0;
    for (unsigned i = 0; i < t->n; i++) {
        missing += t->seen[i] == 0;
        twice += t->seen[i] > 1;
    }
    if (missing || twice || t->bad_status || t->strays)
        print_message("missing %u, twice %u, bad status %u (last %s), strays %u\n", missing,
                      twice, t->bad_status, faas_err_name(t->status), t->strays);
    assert_int_equal(missing, 0);
    assert_int_equal(twice, 0);
    assert_int_equal(t->bad_status, 0);
    assert_int_equal(t->done, t->n);
}


/* ---- fixtures: a server per test ------------------------------------------------------------- */

static int setup_server(void **state)
{
    if (nats_server_bin() == NULL)
        return 0;                       /* each test skips */
    nats_server *s = calloc(1, sizeof *s);
    if (s == NULL || nats_server_start(s) != 0) {
        print_message("nats-server did not start\n");
        free(s);
        return -1;
    }
    *state = s;
    return 0;
}

/* Worker processes still running when a test failed (an assertion leaves the test). */
#define LIVE_MAX 8
static pid_t live[LIVE_MAX];

static void live_add(pid_t pid)
{
    for (unsigned i = 0; i < LIVE_MAX; i++)
        if (live[i] == 0) {
            live[i] = pid;
            return;
        }
}

static void live_remove(pid_t pid)
{
    for (unsigned i = 0; i < LIVE_MAX; i++)
        if (live[i] == pid)
            live[i] = 0;
}

static int teardown_server(void **state)
{
    for (unsigned i = 0; i < LIVE_MAX; i++)
        if (live[i] > 0) {
            kill(live[i], SIGKILL);
            waitpid(live[i], NULL, 0);
            live[i] = 0;
        }
    nats_server *s = *state;
    if (s != NULL) {
        nats_server_destroy(s);
        free(s);
    }
    return 0;
}

#define NEED_SERVER(state)                                                             \
    nats_server *srv = *(state);                                                         \
    if (srv == NULL) {                                                                   \
        skip();                                                                          \
        return;                                                                          \
    }

static faas_runtime *threaded_runtime(unsigned workers)
{
    faas_options o;
    memset(&o, 0, sizeof o);
    o.workers = workers;
    o.idle_spin_us = -1;
    faas_runtime *rt = NULL;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    return rt;
}

static int echo(faas_ctx *ctx, const void *payload, size_t len)
{
    return faas_reply(ctx, payload, len);
}

static faas_config remote_config(void)
{
    faas_config c;
    faas_config_init(&c);
    c.remote = 1;
    c.timeout_ms = 1000;
    return c;
}

/* ---- worker processes --------------------------------------------------------------------- */

static const char *tool_path(void)
{
    const char *t = getenv("FAAS_TOOL");
    return t && t[0] ? t : "tools/faas";
}

static int start_workers(nats_worker *w, unsigned n, const char *url, const char *function)
{
    char module[4200];
    snprintf(module, sizeof module, "%s=%s:%s", function, test_module("mod_nats.so"),
             function);
    for (unsigned i = 0; i < n; i++) {
        char *argv[] = { (char *)tool_path(), "worker", "--nats", (char *)url,
                         "--module", module, "--concurrency", "2", "--timeout", "1000",
                         NULL };
        int rc = nats_worker_start(&w[i], argv);
        if (w[i].pid > 0)
            live_add(w[i].pid);
        if (rc != 0) {
            print_message("worker %u did not start: %s\n", i, w[i].last);
            return -1;
        }
    }
    return 0;
}

/* Stop them with sig: each exits 0 and its last line is its summary, which names the
 * signal. Returns the calls they say they acked. */
static uint64_t stop_workers_with(nats_worker *w, unsigned n, int sig)
{
    uint64_t acked = 0;
    char want[40];
    snprintf(want, sizeof want, ": stopped by signal %d: fetched ", sig);
    for (unsigned i = 0; i < n; i++)
        if (w[i].pid > 0) {
            live_remove(w[i].pid);
            int status = nats_worker_stop(&w[i], sig);
            print_message("%s", w[i].last);
            assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
            assert_non_null(strstr(w[i].last, want));
            const char *a = strstr(w[i].last, ", acked ");
            assert_non_null(a);
            acked += strtoull(a + 8, NULL, 10);
        }
    return acked;
}

static void stop_workers(nats_worker *w, unsigned n)
{
    stop_workers_with(w, n, SIGTERM);
}

/* A producer runtime whose calls of FUNCTION go to NATS (publish_all: it has no copy). */
static faas_runtime *producer(const char *url)
{
    faas_runtime *rt = threaded_runtime(2);
    faas_nats_options no;
    memset(&no, 0, sizeof no);
    no.role = FAAS_NATS_PRODUCER;
    no.publish_all = 1;
    int rc = faas_nats_attach(rt, url, &no);
    if (rc != FAAS_OK)
        print_message("attach: %s\n", faas_last_error());
    ASSERT_OK(rc);
    return rt;
}

static int submit(faas_runtime *rt, const char *function, unsigned i, tracker *t)
{
    char payload[32];
    int n = snprintf(payload, sizeof payload, "%u", i);
    return faas_invoke_async(rt, function, payload, (size_t)n, on_done, t, NULL);
}

/* What the server holds for FUNCTION's consumer, for the log of a failing test. */
static void print_consumer(const char *url, const char *function)
{
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsConsumerInfo *ci = NULL;
    jsStreamInfo *si = NULL;
    char durable[80];
    snprintf(durable, sizeof durable, "faas-%s", function);
    if (natsConnection_ConnectTo(&nc, url) == NATS_OK &&
        natsConnection_JetStream(&js, nc, NULL) == NATS_OK) {
        if (js_GetConsumerInfo(&ci, js, "FAAS", durable, NULL, NULL) == NATS_OK) {
            print_message("consumer %s: pending %llu, ack pending %lld, redelivered %lld, "
                          "delivered %llu, ack floor %llu\n", durable,
                          (unsigned long long)ci->NumPending, (long long)ci->NumAckPending,
                          (long long)ci->NumRedelivered,
                          (unsigned long long)ci->Delivered.Stream,
                          (unsigned long long)ci->AckFloor.Stream);
            jsConsumerInfo_Destroy(ci);
        }
        if (js_GetStreamInfo(&si, js, "FAAS", NULL, NULL) == NATS_OK) {
            print_message("stream FAAS: %llu messages, first %llu, last %llu\n",
                          (unsigned long long)si->State.Msgs,
                          (unsigned long long)si->State.FirstSeq,
                          (unsigned long long)si->State.LastSeq);
            jsStreamInfo_Destroy(si);
        }
    }
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
}

/* Wait (at most SECONDS) until RT's counter FIELD reaches WANT; returns its last value. */
#define WAIT_STAT(rt, field, want, seconds) \
    wait_stat((rt), offsetof(faas_nats_stats, field), (want), (seconds))

static uint64_t wait_stat(faas_runtime *rt, size_t offset, uint64_t want, unsigned seconds)
{
    struct timespec until, now;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += seconds;
    for (;;) {
        faas_nats_stats st;
        uint64_t v = 0;
        if (faas_nats_stats_get(rt, &st) == FAAS_OK)
            memcpy(&v, (const char *)&st + offset, sizeof v);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (v >= want || now.tv_sec >= until.tv_sec)
            return v;
        sched_yield();
    }
}

/* Wait (at most SECONDS) until the stream FAAS holds at most WANT messages; returns how
 * many it holds. A work-queue stream drops a message once it is acked or terminated. */
static uint64_t stream_msgs_wait(const char *url, uint64_t want, unsigned seconds)
{
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    uint64_t msgs = UINT64_MAX;
    if (natsConnection_ConnectTo(&nc, url) != NATS_OK ||
        natsConnection_JetStream(&js, nc, NULL) != NATS_OK)
        goto out;
    struct timespec until, now;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += seconds;
    for (;;) {
        jsStreamInfo *si = NULL;
        if (js_GetStreamInfo(&si, js, "FAAS", NULL, NULL) == NATS_OK) {
            msgs = si->State.Msgs;
            jsStreamInfo_Destroy(si);
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (msgs <= want || now.tv_sec >= until.tv_sec)
            break;
        sched_yield();
    }
out:
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return msgs;
}

/* The first dead-letter envelope stored under faas.deadletter.FUNCTION, parsed; NULL if
 * none came within 5 seconds. */
static json_t *first_dead_letter(const char *url, const char *function)
{
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    natsSubscription *sub = NULL;
    json_t *envelope = NULL;
    char subject[128];
    snprintf(subject, sizeof subject, "faas.deadletter.%s", function);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = "FAAS";
    natsMsgList list = { NULL, 0 };
    if (natsConnection_ConnectTo(&nc, url) == NATS_OK &&
        natsConnection_JetStream(&js, nc, NULL) == NATS_OK &&
        js_PullSubscribe(&sub, js, subject, "dl-first", NULL, &so, NULL) == NATS_OK &&
        natsSubscription_Fetch(&list, sub, 1, 5000, NULL) == NATS_OK && list.Count == 1) {
        envelope = json_loadb(natsMsg_GetData(list.Msgs[0]),
                              (size_t)natsMsg_GetDataLength(list.Msgs[0]), 0, NULL);
        natsMsg_Ack(list.Msgs[0], NULL);
    }
    natsMsgList_Destroy(&list);
    natsSubscription_Destroy(sub);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return envelope;
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void attach_refuses_bad_arguments(void **state)
{
    NEED_SERVER(state);
    assert_int_equal(faas_nats_attach(NULL, srv->url, NULL), FAAS_EINVAL);
    faas_runtime *rt = threaded_runtime(1);
    assert_int_equal(faas_nats_attach(rt, NULL, NULL), FAAS_EINVAL);
    assert_int_equal(faas_nats_detach(rt), FAAS_ENOTFOUND);
    faas_nats_stats st;
    assert_int_equal(faas_nats_stats_get(rt, &st), FAAS_ENOTFOUND);

    faas_nats_options no;
    memset(&no, 0, sizeof no);
    no.role = 7;
    assert_int_equal(faas_nats_attach(rt, srv->url, &no), FAAS_EINVAL);
    no.role = FAAS_NATS_PRODUCER;
    no.stream = "has.dot";
    assert_int_equal(faas_nats_attach(rt, srv->url, &no), FAAS_EINVAL);
    no.stream = NULL;
    no.role = FAAS_NATS_WORKER;          /* a worker with no function */
    assert_int_equal(faas_nats_attach(rt, srv->url, &no), FAAS_EINVAL);

    char dead[64];
    snprintf(dead, sizeof dead, "nats://127.0.0.1:%d", nats_free_port());
    assert_int_equal(faas_nats_attach(rt, dead, NULL), FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "cannot connect"));

    ASSERT_OK(faas_nats_attach(rt, srv->url, NULL));
    assert_int_equal(faas_nats_attach(rt, srv->url, NULL), FAAS_EEXIST);
    ASSERT_OK(faas_nats_stats_get(rt, &st));
    ASSERT_OK(faas_nats_detach(rt));
    ASSERT_OK(faas_nats_attach(rt, srv->url, NULL));     /* again after a detach */
    faas_runtime_free(rt);                                /* detaches */

    fake_clock c;
    faas_options mo = manual_options(&c);
    ASSERT_OK(faas_runtime_new(&rt, &mo));
    assert_int_equal(faas_nats_attach(rt, srv->url, NULL), FAAS_EINVAL);
    faas_runtime_free(rt);
}

/* One runtime both producer and worker: remote functions travel through the stream, the
 * others stay local, futures and faas_drain work as they do locally. */
static void round_trip_in_one_process(void **state)
{
    NEED_SERVER(state);
    faas_runtime *rt = threaded_runtime(2);
    faas_config rc = remote_config();
    ASSERT_OK(faas_register(rt, "echo", echo, &rc));
    ASSERT_OK(faas_register(rt, "local", echo, NULL));
    faas_nats_options no;
    memset(&no, 0, sizeof no);
    no.role = FAAS_NATS_BOTH;
    ASSERT_OK(faas_nats_attach(rt, srv->url, &no));

    tracker t;
    tracker_init(&t, 3);
    char id[37];
    ASSERT_OK(faas_invoke_async(rt, "echo", "0", 1, on_done, &t, id));
    assert_int_equal(strlen(id), 36);
    ASSERT_OK(faas_invoke_async(rt, "local", "1", 1, on_done, &t, NULL));
    assert_int_equal(tracker_wait(&t, 2, 30), 2);

    faas_future *f;
    ASSERT_OK(faas_invoke_future(rt, "echo", "{\"a\":2}", 7, &f));
    faas_response res;
    ASSERT_OK(faas_future_wait(f, 30000, &res));
    assert_int_equal(res.status, FAAS_OK);
    assert_string_equal(res.data, "{\"a\":2}");
    assert_string_equal(res.record.request_id, faas_future_request_id(f));
    assert_string_equal(res.record.function, "echo");
    assert_int_equal(res.record.attempt, 1);
    assert_true(res.record.billed_ms >= 1);
    faas_response_free(&res);
    faas_future_free(f);

    ASSERT_OK(faas_invoke_async(rt, "echo", "2", 1, NULL, NULL, NULL));  /* no outcome */
    ASSERT_OK(faas_drain(rt, 30000));
    faas_nats_stats st;
    ASSERT_OK(faas_nats_stats_get(rt, &st));
    assert_int_equal(st.published, 3);          /* "local" was not published */
    assert_int_equal(st.results, 2);            /* the third wanted no outcome */
    assert_int_equal(t.bad_status, 0);
    tracker_free(&t);

    /* A producer that publishes every name, registered here or not. */
    faas_runtime *p = producer(srv->url);
    tracker u;
    tracker_init(&u, 1);
    ASSERT_OK(faas_invoke_async(p, "echo", "0", 1, on_done, &u, NULL));
    assert_int_equal(tracker_wait(&u, 1, 30), 1);
    assert_exactly_once(&u);
    assert_int_equal(faas_invoke_async(p, "bad.name", "0", 1, on_done, &u, NULL),
                     FAAS_EINVAL);
    faas_runtime_free(p);
    tracker_free(&u);
    faas_runtime_free(rt);
}

/* Issue 15: a qualified name travels with the call (NAME's subject, the qualifier in a
 * header) and the worker resolves it on its own versions and aliases. */
static atomic_uint worker_v1_calls;

static void count_v1(const faas_record *rec, void *arg)
{
    (void)arg;
    if (rec->status == FAAS_OK && rec->version == 1)
        atomic_fetch_add(&worker_v1_calls, 1);
}

static void qualified_names_are_resolved_by_the_worker(void **state)
{
    NEED_SERVER(state);
    faas_runtime *worker = threaded_runtime(2);
    faas_config wc;
    faas_config_init(&wc);
    wc.max_retries = 0;
    wc.timeout_ms = 1000;
    ASSERT_OK(faas_register(worker, "vecho", echo, &wc));
    uint32_t v;
    ASSERT_OK(faas_publish_version(worker, "vecho", "one", &v));
    assert_int_equal(v, 1);
    ASSERT_OK(faas_alias_set(worker, "vecho", "prod", 1, 0, 0.0));
    faas_on_record(worker, count_v1, NULL);
    atomic_store(&worker_v1_calls, 0);
    faas_nats_options no;
    memset(&no, 0, sizeof no);
    no.role = FAAS_NATS_WORKER;
    ASSERT_OK(faas_nats_attach(worker, srv->url, &no));
    faas_runtime *prod = producer(srv->url);       /* vecho is not registered there */

    static const struct { const char *name; int status; uint32_t version; } calls[] = {
        { "vecho:prod", FAAS_OK, 1 }, { "vecho:1", FAAS_OK, 1 },
        { "vecho", FAAS_OK, 0 }, { "vecho:$LATEST", FAAS_OK, 0 },
        { "vecho:7", FAAS_ENOTFOUND, 0 }, { "vecho:nope", FAAS_ENOTFOUND, 0 },
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        faas_future *f;
        ASSERT_OK(faas_invoke_future(prod, calls[i].name, "{\"q\":1}", 7, &f));
        faas_response res;
        ASSERT_OK(faas_future_wait(f, 30000, &res));
        if (res.status != calls[i].status)
            fail_msg("%s: %s (%s)", calls[i].name, faas_err_name(res.status),
                     res.error_message ? res.error_message : "");
        if (res.status == FAAS_OK) {
            assert_string_equal(res.data, "{\"q\":1}");
            assert_int_equal(res.record.version, calls[i].version);
        } else {
            assert_string_equal(res.error_type, "ResourceNotFoundException");
        }
        faas_response_free(&res);
        faas_future_free(f);
    }
    assert_int_equal(atomic_load(&worker_v1_calls), 2);    /* the alias's and the version's */
    faas_runtime_free(prod);
    faas_runtime_free(worker);
}

/* The handler ABI on a NATS worker: the message's data reaches the handler followed by a
 * NUL byte, whatever its size (the producer's buffer is freed as soon as it is accepted). */
static void worker_payloads_are_nul_terminated(void **state)
{
    NEED_SERVER(state);
    faas_runtime *rt = threaded_runtime(2);
    faas_config rc = remote_config();
    ASSERT_OK(faas_register(rt, "term", nul_terminated_echo, &rc));
    faas_nats_options no;
    memset(&no, 0, sizeof no);
    no.role = FAAS_NATS_BOTH;
    ASSERT_OK(faas_nats_attach(rt, srv->url, &no));
    static const size_t sizes[] = { 0, 5, 300, 100000 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        tracker t;
        tracker_init(&t, 1);
        char *p = pattern_payload(sizes[i], 0);
        ASSERT_OK(faas_invoke_async(rt, "term", p, sizes[i], on_done, &t, NULL));
        free(p);
        assert_int_equal(tracker_wait(&t, 1, 30), 1);
        if (t.status != FAAS_OK)
            fail_msg("%zu bytes: %s: %s: %s", sizes[i], faas_err_name(t.status), t.error_type,
                     t.error_message);
        assert_int_equal(t.len, sizes[i]);
        tracker_free(&t);
    }
    faas_nats_stats st;
    ASSERT_OK(faas_nats_stats_get(rt, &st));
    assert_int_equal(st.published, 4);          /* they went through the stream */
    faas_runtime_free(rt);
}

/* The server's max_payload (8 MB here) refuses a bigger envelope at submit. */
static void too_large_is_refused_at_submit(void **state)
{
    NEED_SERVER(state);
    faas_options o;
    memset(&o, 0, sizeof o);
    o.workers = 2;
    o.max_payload_async = 16u << 20;
    o.max_payload_sync = 16u << 20;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    faas_config rc = remote_config();
    ASSERT_OK(faas_register(rt, "echo", echo, &rc));
    faas_nats_options no;
    memset(&no, 0, sizeof no);
    no.role = FAAS_NATS_BOTH;
    ASSERT_OK(faas_nats_attach(rt, srv->url, &no));
    size_t big = 9u << 20;
    char *payload = malloc(big);
    assert_non_null(payload);
    memset(payload, 'x', big);
    tracker t;
    tracker_init(&t, 1);
    assert_int_equal(faas_invoke_async(rt, "echo", payload, big, on_done, &t, NULL),
                     FAAS_ETOOLARGE);
    assert_non_null(strstr(faas_last_error(), "max_payload"));
    ASSERT_OK(faas_invoke_async(rt, "echo", payload, 4u << 20, on_done, &t, NULL));
    assert_int_equal(tracker_wait(&t, 1, 60), 1);
    assert_int_equal(t.status, FAAS_OK);
    assert_int_equal(t.len, 4u << 20);
    ASSERT_OK(faas_drain(rt, 10000));
    free(payload);
    tracker_free(&t);
    faas_runtime_free(rt);
}

/* 10,000 calls from one producer to three worker processes: each completes once, and every
 * worker takes a share. */
static void ten_thousand_calls_over_three_workers(void **state)
{
    NEED_SERVER(state);
    nats_worker w[3];
    memset(w, 0, sizeof w);
    assert_int_equal(start_workers(w, 3, srv->url, "work"), 0);
    faas_runtime *rt = producer(srv->url);
    unsigned n = scaled(10000);
    tracker t;
    tracker_init(&t, n);
    for (unsigned i = 0; i < n; i++)
        ASSERT_OK(submit(rt, "work", i, &t));
    unsigned done = tracker_wait(&t, n, 300);
    print_message("%u of %u calls completed; per worker:", done, n);
    for (unsigned i = 0; i < t.npid; i++)
        print_message(" %u", t.per_pid[i]);
    print_message("\n");
    assert_exactly_once(&t);
    assert_int_equal(t.npid, 3);               /* all three took part */
    /* Spread: at least 5% each, once there are more calls than two workers can hold (256
     * in flight each, nats_attach.c): below that (500 under valgrind) two workers that fetch
     * first may take nearly all, and a third that starts later gets a handful (5 of 500). */
    if (n >= 4 * 256)
        for (unsigned i = 0; i < t.npid; i++)
            assert_true(t.per_pid[i] >= n / 20);
    faas_nats_stats st;
    ASSERT_OK(faas_nats_stats_get(rt, &st));
    assert_int_equal(st.published, n);
    assert_int_equal(st.results, n);
    faas_runtime_free(rt);
    /* Ctrl-C: each worker stops cleanly and its summary accounts for every call. */
    assert_true(stop_workers_with(w, 3, SIGINT) >= n);
    tracker_free(&t);
}

/* A worker killed with SIGKILL in the middle: its calls are redelivered to the others. */
static void a_killed_worker_loses_nothing(void **state)
{
    NEED_SERVER(state);
    nats_worker w[3];
    memset(w, 0, sizeof w);
    assert_int_equal(start_workers(w, 3, srv->url, "slow"), 0);
    faas_runtime *rt = producer(srv->url);
    unsigned n = scaled(3000);
    tracker t;
    tracker_init(&t, n);
    for (unsigned i = 0; i < n; i++)
        ASSERT_OK(submit(rt, "slow", i, &t));
    unsigned before = tracker_wait(&t, n / 5, 120);
    assert_true(before >= n / 5);
    kill(w[0].pid, SIGKILL);
    waitpid(w[0].pid, NULL, 0);
    live_remove(w[0].pid);
    fclose(w[0].out);
    w[0].pid = 0;
    unsigned done = tracker_wait(&t, n, 300);
    faas_nats_stats st;
    ASSERT_OK(faas_nats_stats_get(rt, &st));
    print_message("killed a worker after %u of %u completions; %u completed; duplicate "
                  "results dropped at the producer: %llu\n", before, n, done,
                  (unsigned long long)st.duplicate_results);
    assert_exactly_once(&t);
    faas_runtime_free(rt);
    stop_workers(w, 3);
    tracker_free(&t);
}

/* The server restarted (file storage) while calls are in flight and more are submitted. */
static void a_server_restart_loses_no_accepted_call(void **state)
{
    NEED_SERVER(state);
    nats_worker w[2];
    memset(w, 0, sizeof w);
    assert_int_equal(start_workers(w, 2, srv->url, "work"), 0);
    faas_runtime *rt = producer(srv->url);
    unsigned n = scaled(4000);
    tracker t;
    tracker_init(&t, n);
    unsigned i = 0;
    for (; i < n / 2; i++)
        ASSERT_OK(submit(rt, "work", i, &t));
    unsigned before = tracker_wait(&t, n / 8, 120);
    assert_true(before >= n / 8);
    nats_server_stop(srv, SIGTERM);
    for (; i < 3 * n / 4; i++)                  /* accepted while the server is down */
        ASSERT_OK(submit(rt, "work", i, &t));
    { struct timespec ts = { 3, 0 }; nanosleep(&ts, NULL); }
    /* The outage lasts two seconds: long enough for unconfirmed calls to be published
     * again and for results to find no producer subscribed (the scenario's length; the
     * sleep waits for nothing to happen). */
    struct timespec outage = { 2, 0 };
    nanosleep(&outage, NULL);
    assert_int_equal(nats_server_start(srv), 0);
    for (; i < n; i++)
        ASSERT_OK(submit(rt, "work", i, &t));
    unsigned done = tracker_wait(&t, n, 120);
    faas_nats_stats st;
    ASSERT_OK(faas_nats_stats_get(rt, &st));
    print_message("server down 2 s after %u of %u completions; %u completed; republished "
                  "%llu, duplicate results %llu, reconnects %llu\n", before, n, done,
                  (unsigned long long)st.republished,
                  (unsigned long long)st.duplicate_results,
                  (unsigned long long)st.reconnects);
    if (done != n)
        print_consumer(srv->url, "work");
    stop_workers(w, 2);
    assert_exactly_once(&t);
    assert_true(st.reconnects >= 1);
    faas_runtime_free(rt);
    tracker_free(&t);
}

/* ---- dead letters ------------------------------------------------------------------------- */

static atomic_uint fail_runs;

static int fails(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload; (void)len;
    atomic_fetch_add(&fail_runs, 1);
    return faas_fail(ctx, "AlwaysFails", "no luck");
}

static gate dlq_gate = GATE_INIT;
static char dlq_envelope[4096];

static int dlq(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx;
    snprintf(dlq_envelope, sizeof dlq_envelope, "%.*s", (int)len, (const char *)payload);
    gate_open(&dlq_gate);
    return 0;
}

/* The approximateInvokeCount of a dead-letter envelope, -1 if it is not one. */
static int invoke_count(const char *text, size_t len, const char *want_id)
{
    json_t *j = json_loadb(text, len, 0, NULL);
    json_t *ctx = json_object_get(j, "requestContext");
    int count = -1;
    const char *cond = json_string_value(json_object_get(ctx, "condition"));
    const char *rid = json_string_value(json_object_get(ctx, "requestId"));
    if (cond && strcmp(cond, "RetriesExhausted") == 0 && rid && strcmp(rid, want_id) == 0)
        count = (int)json_integer_value(json_object_get(ctx, "approximateInvokeCount"));
    json_decref(j);
    return count;
}

/* A function that always fails ends in faas.deadletter.NAME after exactly MaxDeliver
 * (= max_retries + 1) attempts, and the producer's own dead letter gets the envelope. */
static void always_failing_ends_in_the_dead_letter_stream(void **state)
{
    NEED_SERVER(state);
    faas_options o;
    memset(&o, 0, sizeof o);
    o.workers = 2;
    o.retry_base_ms = 20;
    o.retry_cap_ms = 50;
    faas_runtime *worker, *prod;
    ASSERT_OK(faas_runtime_new(&worker, &o));
    faas_config wc;
    faas_config_init(&wc);
    wc.max_retries = 2;
    wc.timeout_ms = 1000;
    ASSERT_OK(faas_register(worker, "fails", fails, &wc));
    faas_nats_options no;
    memset(&no, 0, sizeof no);
    no.role = FAAS_NATS_WORKER;
    ASSERT_OK(faas_nats_attach(worker, srv->url, &no));

    ASSERT_OK(faas_runtime_new(&prod, &o));
    faas_config pc = remote_config();
    pc.dead_letter = "dlq";
    ASSERT_OK(faas_register(prod, "fails", fails, &pc));   /* runs remotely only */
    ASSERT_OK(faas_register(prod, "dlq", dlq, NULL));
    no.role = FAAS_NATS_PRODUCER;
    ASSERT_OK(faas_nats_attach(prod, srv->url, &no));

    tracker t;
    tracker_init(&t, 1);
    char id[37];
    atomic_store(&fail_runs, 0);
    ASSERT_OK(faas_invoke_async(prod, "fails", "{\"k\":1}", 7, on_done, &t, id));
    assert_int_equal(tracker_wait(&t, 1, 60), 1);
    assert_int_equal(t.status, FAAS_EHANDLER);
    assert_string_equal(t.error_type, "AlwaysFails");
    assert_int_equal(t.attempt, 3);
    assert_int_equal(atomic_load(&fail_runs), 3);
    assert_int_equal(gate_wait_for(&dlq_gate, 60), 0);
    assert_int_equal(invoke_count(dlq_envelope, strlen(dlq_envelope), id), 3);

    /* The envelope is stored in the stream under faas.deadletter.fails. */
    natsConnection *nc;
    assert_int_equal(natsConnection_ConnectTo(&nc, srv->url), NATS_OK);
    jsCtx *js;
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = "FAAS";
    natsSubscription *sub;
    assert_int_equal(js_PullSubscribe(&sub, js, "faas.deadletter.fails", "dl-reader", NULL,
                                      &so, NULL), NATS_OK);
    natsMsgList list = { NULL, 0 };
    assert_int_equal(natsSubscription_Fetch(&list, sub, 10, 5000, NULL), NATS_OK);
    assert_int_equal(list.Count, 1);
    assert_int_equal(invoke_count(natsMsg_GetData(list.Msgs[0]),
                                  (size_t)natsMsg_GetDataLength(list.Msgs[0]), id), 3);
    natsMsg_Ack(list.Msgs[0], NULL);
    natsMsgList_Destroy(&list);
    natsSubscription_Destroy(sub);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);

    /* No further attempt: the message was acked once dead-lettered. */
    faas_nats_stats st;
    ASSERT_OK(faas_nats_stats_get(worker, &st));
    assert_int_equal(st.dead_letters, 1);
    assert_int_equal(st.naked, 2);
    assert_int_equal(st.fetched, 3);
    faas_runtime_free(prod);
    faas_runtime_free(worker);
    assert_int_equal(atomic_load(&fail_runs), 3);
    tracker_free(&t);
}

/* A worker and a producer of "fails" (max_retries 0: MaxDeliver 1) with these options
 * and these runtime options; the producer's calls come back to t. */
static void failing_pair(const char *url, faas_nats_options *no, const faas_options *o,
                         faas_runtime **worker, faas_runtime **prod)
{
    ASSERT_OK(faas_runtime_new(worker, o));
    faas_config wc;
    faas_config_init(&wc);
    wc.max_retries = 0;
    wc.timeout_ms = 1000;
    ASSERT_OK(faas_register(*worker, "fails", fails, &wc));
    no->role = FAAS_NATS_WORKER;
    ASSERT_OK(faas_nats_attach(*worker, url, no));
    ASSERT_OK(faas_runtime_new(prod, o));
    no->role = FAAS_NATS_PRODUCER;
    no->publish_all = 1;
    ASSERT_OK(faas_nats_attach(*prod, url, no));
}

/* The stream refuses the dead letter (it is full), so the worker still holds the call when
 * it is detached. At MaxDeliver a nak never brings the call back: the producer's result,
 * which was to follow the stored dead letter, must go out at the hand-back, or the
 * producer's callback never runs. */
static void a_worker_detached_before_its_dead_letter_is_stored_still_answers(void **state)
{
    NEED_SERVER(state);
    faas_options o;
    memset(&o, 0, sizeof o);
    o.workers = 2;
    faas_nats_options no;
    memset(&no, 0, sizeof no);
    no.max_bytes = 1500;            /* the call fits; the call and its dead letter do not */
    faas_runtime *worker, *prod;
    failing_pair(srv->url, &no, &o, &worker, &prod);

    tracker t;
    tracker_init(&t, 1);
    char payload[600];
    memset(payload, 'x', sizeof payload);
    atomic_store(&fail_runs, 0);
    ASSERT_OK(faas_invoke_async(prod, "fails", payload, sizeof payload, on_done, &t, NULL));
    /* Detach once the dead letter has been refused: the worker then holds it. */
    faas_nats_stats st;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += 30;
    for (;;) {
        ASSERT_OK(faas_nats_stats_get(worker, &st));
        if (st.fetched == 1 && atomic_load(&fail_runs) == 1 && st.acked + st.naked == 0 &&
            st.dead_letters == 0)
            break;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        assert_true(now.tv_sec < until.tv_sec);
        sched_yield();
    }
    ASSERT_OK(faas_nats_detach(worker));
    assert_int_equal(tracker_wait(&t, 1, 20), 1);
    assert_int_equal(t.status, FAAS_EHANDLER);
    assert_string_equal(t.error_type, "AlwaysFails");
    /* Terminated, not naked: a nak at MaxDeliver would leave the call in the stream. */
    assert_int_equal(stream_msgs_wait(srv->url, 0, 10), 0);
    faas_runtime_free(prod);
    faas_runtime_free(worker);
    tracker_free(&t);
}

/* A dead letter bigger than the server's max_payload (the envelope is the payload plus the
 * record) is cut to fit, so the call ends: stored, acked, and answered at the producer. */
static void a_dead_letter_too_large_for_the_server_is_cut_to_fit(void **state)
{
    NEED_SERVER(state);
    faas_options o;
    memset(&o, 0, sizeof o);
    o.workers = 2;
    o.max_payload_async = 16u << 20;
    faas_nats_options no;
    memset(&no, 0, sizeof no);
    faas_runtime *worker, *prod;
    failing_pair(srv->url, &no, &o, &worker, &prod);

    size_t big = (8u << 20) - 400;  /* fits as a call (max_payload 8 MB), not as a record */
    char *payload = malloc(big);
    assert_non_null(payload);
    memset(payload, 'x', big);
    tracker t;
    tracker_init(&t, 1);
    char id[37];
    ASSERT_OK(faas_invoke_async(prod, "fails", payload, big, on_done, &t, id));
    free(payload);
    assert_int_equal(tracker_wait(&t, 1, 30), 1);
    assert_int_equal(t.status, FAAS_EHANDLER);
    faas_nats_stats st;
    ASSERT_OK(faas_nats_stats_get(worker, &st));
    assert_int_equal(st.dead_letters, 1);
    faas_runtime_free(prod);
    faas_runtime_free(worker);
    tracker_free(&t);
}

/* ---- the last delivery is never naked ------------------------------------------------------ */

/* The function was unregistered on the only worker that has its consumer (max_retries 1:
 * MaxDeliver 2). The first delivery is naked, since another worker may have the function;
 * the last one is not, since JetStream would never deliver it again: the call ends with a
 * dead letter saying the function was not found, that error at the producer, and the ack. */
static void a_worker_without_the_function_ends_its_last_delivery(void **state)
{
    NEED_SERVER(state);
    faas_runtime *worker = threaded_runtime(2);
    faas_config wc;
    faas_config_init(&wc);
    wc.max_retries = 1;
    wc.timeout_ms = 1000;
    ASSERT_OK(faas_register(worker, "gone", echo, &wc));
    faas_nats_options no;
    memset(&no, 0, sizeof no);
    no.role = FAAS_NATS_WORKER;
    ASSERT_OK(faas_nats_attach(worker, srv->url, &no));
    ASSERT_OK(faas_unregister(worker, "gone"));
    faas_runtime *prod = producer(srv->url);

    tracker t;
    tracker_init(&t, 1);
    char id[37];
    ASSERT_OK(faas_invoke_async(prod, "gone", "{\"k\":1}", 7, on_done, &t, id));
    assert_int_equal(tracker_wait(&t, 1, 20), 1);
    assert_int_equal(t.status, FAAS_ENOTFOUND);
    assert_string_equal(t.error_type, "ResourceNotFoundException");
    assert_int_equal(t.attempt, 2);
    assert_int_equal(WAIT_STAT(worker, acked, 1, 20), 1);
    faas_nats_stats st;
    ASSERT_OK(faas_nats_stats_get(worker, &st));
    assert_int_equal(st.fetched, 2);
    assert_int_equal(st.naked, 1);
    assert_int_equal(st.dead_letters, 1);

    json_t *env = first_dead_letter(srv->url, "gone");
    assert_non_null(env);
    json_t *ctx = json_object_get(env, "requestContext");
    assert_string_equal(json_string_value(json_object_get(ctx, "condition")),
                        "RetriesExhausted");
    assert_string_equal(json_string_value(json_object_get(ctx, "requestId")), id);
    assert_int_equal(json_integer_value(json_object_get(ctx, "approximateInvokeCount")), 2);
    json_t *rc = json_object_get(env, "responseContext");    /* it never ran: no 200 */
    assert_int_equal(json_integer_value(json_object_get(rc, "statusCode")), 404);
    assert_null(json_object_get(rc, "functionError"));
    json_t *response = json_object_get(env, "responsePayload");
    assert_string_equal(json_string_value(json_object_get(response, "errorType")),
                        "ResourceNotFoundException");
    json_decref(env);
    assert_int_equal(stream_msgs_wait(srv->url, 0, 10), 0);
    faas_runtime_free(prod);
    faas_runtime_free(worker);
    tracker_free(&t);
}

/* A worker detached while the producer has not confirmed the result of a call at its last
 * delivery (max_retries 0): a nak would leave the call in the stream for ever, and a
 * producer that missed the result would never complete it. The result goes out once more
 * and the message is acked. The producer here is a bare NATS client that never confirms;
 * retry_ms is long, so the worker resends nothing before it is detached. */
static void a_worker_detached_before_its_result_is_confirmed_ends_the_last_delivery(
    void **state)
{
    NEED_SERVER(state);
    faas_runtime *worker = threaded_runtime(2);
    faas_config wc;
    faas_config_init(&wc);
    wc.max_retries = 0;
    wc.timeout_ms = 1000;
    ASSERT_OK(faas_register(worker, "echo", echo, &wc));
    faas_nats_options no;
    memset(&no, 0, sizeof no);
    no.role = FAAS_NATS_WORKER;
    no.retry_ms = 600000;
    ASSERT_OK(faas_nats_attach(worker, srv->url, &no));

    natsConnection *nc;
    assert_int_equal(natsConnection_ConnectTo(&nc, srv->url), NATS_OK);
    jsCtx *js;
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    natsSubscription *replies;
    const char *to = "faas.reply.00000000000000aa";     /* a producer's shape */
    assert_int_equal(natsConnection_SubscribeSync(&replies, nc, to), NATS_OK);
    const char *rid = "00000000-0000-4000-8000-000000000001";
    natsMsg *call;
    assert_int_equal(natsMsg_Create(&call, "faas.invoke.echo", NULL, "42", 2), NATS_OK);
    assert_int_equal(natsMsgHeader_Set(call, "Nats-Msg-Id", rid), NATS_OK);
    assert_int_equal(natsMsgHeader_Set(call, "Faas-Reply", to), NATS_OK);
    assert_int_equal(js_PublishMsg(NULL, js, call, NULL, NULL), NATS_OK);
    natsMsg_Destroy(call);

    natsMsg *r = NULL;
    const char *hdr = NULL;
    assert_int_equal(natsSubscription_NextMsg(&r, replies, 20000), NATS_OK);
    assert_int_equal(natsMsgHeader_Get(r, "Faas-Result", &hdr), NATS_OK);
    assert_memory_equal(hdr, rid, 36);
    natsMsg_Destroy(r);                 /* not confirmed */

    ASSERT_OK(faas_nats_detach(worker));
    assert_int_equal(natsSubscription_NextMsg(&r, replies, 10000), NATS_OK);
    assert_int_equal(natsMsgHeader_Get(r, "Faas-Result", &hdr), NATS_OK);
    assert_memory_equal(hdr, rid, 36);
    natsMsg_Destroy(r);
    assert_int_equal(stream_msgs_wait(srv->url, 0, 10), 0);

    natsSubscription_Destroy(replies);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    faas_runtime_free(worker);
}

/* A call whose Faas-Reply names a subject that is no producer's result subject
 * (PREFIX.reply.<16 hex>) is run, and nothing is published there: the worker publishes a
 * result with its own rights, so a client allowed only to publish calls could otherwise
 * make it publish on any subject ($JS.API.STREAM.DELETE.FAAS, say). Before, the result went
 * to "test.evil", and the worker held the call for a confirmation nobody would send. */
static void a_call_cannot_name_where_the_worker_publishes(void **state)
{
    NEED_SERVER(state);
    faas_runtime *worker = threaded_runtime(2);
    ASSERT_OK(faas_register(worker, "echo", echo, NULL));
    faas_nats_options no;
    memset(&no, 0, sizeof no);
    no.role = FAAS_NATS_WORKER;
    ASSERT_OK(faas_nats_attach(worker, srv->url, &no));

    natsConnection *nc;
    assert_int_equal(natsConnection_ConnectTo(&nc, srv->url), NATS_OK);
    jsCtx *js;
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    natsSubscription *evil;
    assert_int_equal(natsConnection_SubscribeSync(&evil, nc, "test.evil"), NATS_OK);
    assert_int_equal(natsConnection_Flush(nc), NATS_OK);
    natsMsg *call;
    assert_int_equal(natsMsg_Create(&call, "faas.invoke.echo", NULL, "42", 2), NATS_OK);
    assert_int_equal(natsMsgHeader_Set(call, "Nats-Msg-Id",
                                       "00000000-0000-4000-8000-000000000002"), NATS_OK);
    assert_int_equal(natsMsgHeader_Set(call, "Faas-Reply", "test.evil"), NATS_OK);
    assert_int_equal(js_PublishMsg(NULL, js, call, NULL, NULL), NATS_OK);
    natsMsg_Destroy(call);
    /* Run and acked (the worker publishes a result before it acks): then anything it
     * published is on its way to this connection before the flush's answer. */
    assert_int_equal(stream_msgs_wait(srv->url, 0, 20), 0);
    faas_stats st;
    ASSERT_OK(faas_stats_get(worker, "echo", &st));
    assert_int_equal(st.invocations, 1);
    assert_int_equal(natsConnection_Flush(nc), NATS_OK);
    natsMsg *r = NULL;
    assert_int_equal(natsSubscription_NextMsg(&r, evil, 0), NATS_TIMEOUT);
    natsSubscription_Destroy(evil);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    faas_runtime_free(worker);
}

/* ---- the producer's result deadline ------------------------------------------------------- */

/* No worker has the function yet: the call ends once, FAAS_ETIMEOUT, after the producer's
 * result_deadline_ms, and faas_drain() does not wait beyond it. A worker attached later
 * runs the call (it is still in the stream); its result finds no call at the producer and
 * is counted as a duplicate. */
static void a_result_that_never_comes_ends_at_the_deadline(void **state)
{
    NEED_SERVER(state);
    faas_runtime *prod = threaded_runtime(2);
    faas_nats_options no;
    memset(&no, 0, sizeof no);
    no.role = FAAS_NATS_PRODUCER;
    no.publish_all = 1;
    no.result_deadline_ms = 300;
    ASSERT_OK(faas_nats_attach(prod, srv->url, &no));

    tracker t;
    tracker_init(&t, 1);
    ASSERT_OK(faas_invoke_async(prod, "late", "0", 1, on_done, &t, NULL));
    assert_int_equal(tracker_wait(&t, 1, 20), 1);
    assert_int_equal(t.status, FAAS_ETIMEOUT);
    assert_non_null(strstr(t.error_message, "never came"));
    assert_non_null(strstr(t.error_message, "300 ms"));
    ASSERT_OK(faas_drain(prod, 10000));

    faas_runtime *worker = threaded_runtime(2);
    faas_config wc;
    faas_config_init(&wc);
    wc.timeout_ms = 1000;
    ASSERT_OK(faas_register(worker, "late", echo, &wc));
    no.role = FAAS_NATS_WORKER;
    ASSERT_OK(faas_nats_attach(worker, srv->url, &no));
    assert_int_equal(WAIT_STAT(prod, duplicate_results, 1, 20), 1);
    assert_int_equal(WAIT_STAT(worker, acked, 1, 20), 1);   /* confirmed all the same */
    faas_nats_stats st;
    ASSERT_OK(faas_nats_stats_get(prod, &st));
    assert_int_equal(st.results, 0);
    assert_int_equal(tracker_wait(&t, 2, 0), 1);            /* completed once */
    faas_runtime_free(worker);
    faas_runtime_free(prod);
    tracker_free(&t);
}

/* Without result_deadline_ms the deadline comes from the function's settings here and the
 * attachment's options: MaxDeliver x (timeout_ms + AckWait) + max_retries x retry_cap_ms +
 * result_timeout_ms, here 1 x (100 + 100) + 0 + 200 = 400 ms. */
static void the_default_result_deadline_follows_the_function(void **state)
{
    NEED_SERVER(state);
    faas_runtime *prod = threaded_runtime(2);
    faas_config rc = remote_config();
    rc.timeout_ms = 100;
    rc.max_retries = 0;
    ASSERT_OK(faas_register(prod, "unserved", echo, &rc));
    faas_nats_options no;
    memset(&no, 0, sizeof no);
    no.role = FAAS_NATS_PRODUCER;
    no.ack_wait_ms = 100;
    no.result_timeout_ms = 200;
    ASSERT_OK(faas_nats_attach(prod, srv->url, &no));
    tracker t;
    tracker_init(&t, 1);
    ASSERT_OK(faas_invoke_async(prod, "unserved", "0", 1, on_done, &t, NULL));
    assert_int_equal(tracker_wait(&t, 1, 20), 1);
    assert_int_equal(t.status, FAAS_ETIMEOUT);
    assert_non_null(strstr(t.error_message, "400 ms"));
    faas_runtime_free(prod);
    tracker_free(&t);
}

/* ---- a worker freed while it holds calls ------------------------------------------------- */

static faas_runtime *held_worker;       /* the runtime the first call of "hold" blocks */
static atomic_uint hold_runs;

/* The first call holds its worker thread until faas_runtime_free() has begun and then
 * until its own deadline: the calls fetched behind it are still queued when the runtime
 * stops its scheduler. The other calls answer at once. */
static int hold(faas_ctx *ctx, const void *payload, size_t len)
{
    if (atomic_fetch_add(&hold_runs, 1) == 0) {
        faas_nats_stats st;
        while (faas_nats_stats_get(held_worker, &st) == FAAS_OK ||
               faas_ctx_remaining_ms(ctx) > 0)
            sched_yield();
        return faas_fail(ctx, "Held", "held past its deadline");
    }
    return faas_reply(ctx, payload, len);
}

static void *free_runtime(void *arg)
{
    faas_runtime_free(arg);
    return NULL;
}

/* faas_runtime_free() detaches as faas_nats_detach() does: the calls it fetched run before
 * the scheduler stops. Cancelled instead (FAAS_ESHUTDOWN, naked), calls at their last
 * delivery (max_retries 0: MaxDeliver 1) are never delivered again, and their producer's
 * callbacks never run. (Without that wait, the first call's deadline, a second after the
 * free began, is what lets the scheduler stop first.) */
static void a_freed_worker_runs_the_calls_it_fetched(void **state)
{
    NEED_SERVER(state);
    faas_options o;
    memset(&o, 0, sizeof o);
    o.workers = 1;
    o.idle_spin_us = -1;
    faas_runtime *worker, *prod;
    ASSERT_OK(faas_runtime_new(&worker, &o));
    faas_config wc;
    faas_config_init(&wc);
    wc.max_retries = 0;
    wc.timeout_ms = 1500;
    ASSERT_OK(faas_register(worker, "hold", hold, &wc));
    faas_nats_options no;
    memset(&no, 0, sizeof no);
    no.role = FAAS_NATS_WORKER;
    held_worker = worker;
    atomic_store(&hold_runs, 0);
    ASSERT_OK(faas_nats_attach(worker, srv->url, &no));
    prod = producer(srv->url);

    unsigned n = 5;
    tracker t;
    tracker_init(&t, n);
    for (unsigned i = 0; i < n; i++)
        ASSERT_OK(submit(prod, "hold", i, &t));
    faas_nats_stats st;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += 30;
    for (;;) {                          /* all fetched, the first one running */
        ASSERT_OK(faas_nats_stats_get(worker, &st));
        if (st.fetched == n && atomic_load(&hold_runs) == 1)
            break;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        assert_true(now.tv_sec < until.tv_sec);
        sched_yield();
    }
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, free_runtime, worker), 0);
    /* Whatever the freed worker handed back, a second worker runs. */
    faas_runtime *second;
    o.workers = 2;
    ASSERT_OK(faas_runtime_new(&second, &o));
    wc.timeout_ms = 1500;
    ASSERT_OK(faas_register(second, "hold", echo, &wc));
    ASSERT_OK(faas_nats_attach(second, srv->url, &no));
    pthread_join(th, NULL);
    unsigned done = tracker_wait(&t, n, 20);
    if (done != n)
        print_consumer(srv->url, "hold");
    assert_int_equal(done, n);
    faas_runtime_free(prod);
    faas_runtime_free(second);
    tracker_free(&t);
}

int main(void)
{
    tap_fix_skips();                    /* its skip()s are TAP skips, not failures */
#define S(name) cmocka_unit_test_setup_teardown(name, setup_server, teardown_server)
    const struct CMUnitTest tests[] = {
        S(attach_refuses_bad_arguments),
        S(round_trip_in_one_process),
        S(qualified_names_are_resolved_by_the_worker),
        S(worker_payloads_are_nul_terminated),
        S(too_large_is_refused_at_submit),
        S(always_failing_ends_in_the_dead_letter_stream),
        S(a_worker_detached_before_its_dead_letter_is_stored_still_answers),
        S(a_dead_letter_too_large_for_the_server_is_cut_to_fit),
        S(a_worker_without_the_function_ends_its_last_delivery),
        S(a_worker_detached_before_its_result_is_confirmed_ends_the_last_delivery),
        S(a_call_cannot_name_where_the_worker_publishes),
        S(a_result_that_never_comes_ends_at_the_deadline),
        S(the_default_result_deadline_follows_the_function),
        S(a_freed_worker_runs_the_calls_it_fetched),
        S(ten_thousand_calls_over_three_workers),
        S(a_killed_worker_loses_nothing),
        S(a_server_restart_loses_no_accepted_call),
    };
    if (getenv("FAAS_TEST_FILTER") != NULL)      /* one test by name, for debugging */
        cmocka_set_test_filter(getenv("FAAS_TEST_FILTER"));
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    nats_Close();                       /* the client library's own threads and memory */
    return rc;
}

#else /* !FAAS_HAVE_NATS */

static void without_libnats_every_call_is_enotsup(void **state)
{
    (void)state;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, NULL));
    assert_int_equal(faas_nats_attach(rt, "nats://127.0.0.1:4222", NULL), FAAS_ENOTSUP);
    assert_non_null(strstr(faas_last_error(), "without NATS"));
    assert_int_equal(faas_nats_detach(rt), FAAS_ENOTSUP);
    faas_nats_stats st;
    assert_int_equal(faas_nats_stats_get(rt, &st), FAAS_ENOTSUP);
    faas_runtime_free(rt);
}

int main(void)
{
    tap_fix_skips();                    /* its skip()s are TAP skips, not failures */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(without_libnats_every_call_is_enotsup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
