/*
 * bench_nats.c - throughput of async calls through NATS JetStream with 1, 2 and 3 worker
 * processes, side by side in one run with raw JetStream publish + fetch + ack of the same
 * payloads (the ratio is what libfaas costs on top of the engine). Systems:
 *
 *   raw        js_PublishAsync (no Nats-Msg-Id) to a work-queue stream; worker processes
 *              pull 64 at a time (as natsSubscription_Fetch(64) does) and ack each, on
 *              one shared durable
 *   raw_id     the same with a unique Nats-Msg-Id per message: the server's de-duplication,
 *              which libfaas uses to make a republish idempotent, is part of the gap
 *   faas       faas_invoke_async of a remote function with no callback (fire and forget)
 *              from a producer runtime; `faas worker`-like processes (one runtime each,
 *              faas_nats_attach worker) run an empty handler and ack
 *   faas_cb    the same with a callback: every result comes back to the producer and the
 *              callback fires once per call (what a caller who wants outcomes pays)
 *
 * raw and faas count completions where they happen, at the workers (each reports its count
 * every 10 ms on a core subject); faas_cb counts callbacks at the producer. A rep is N
 * calls; the time runs from the first publish to the last completion. The server is
 * started here (nats_server.h: file storage, max_payload 8MB) and stopped at the end.
 *
 * Run from the build directory: ./tests/bench/bench_nats [--quick] [--n N] [--reps R]
 * [--size BYTES] [--workers 1,2,3] [--systems raw,raw_id,faas,faas_cb] [--memory]. See
 * tests/bench/README.md.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <faas.h>
#include <nats/nats.h>

#include "bench.h"
#include "../nats_server.h"

#define MAX_WORKERS 3
#define MAX_REPS    15

static struct {
    unsigned n, reps, size, memory;
    unsigned workers[MAX_WORKERS], nworkers;
    unsigned systems;               /* bit per system (SYS_*) run; the ratio needs raw */
} opt = { 20000, 5, 100, 0, { 1, 2, 3 }, 3, 0xf };

static char self_path[4096];

/* The processes the bench started (0: none), for their CPU time and so that a failure does
 * not leave them running. A worker process has none. */
static pid_t server_pid, worker_pid[2][MAX_WORKERS];    /* [0] raw, [1] faas */
static unsigned worker_count_now;

static _Noreturn void fail(const char *what, const char *why)
{
    fprintf(stderr, "bench_nats: %s: %s\n", what, why);
    for (int k = 0; k < 2; k++)
        for (unsigned i = 0; i < MAX_WORKERS; i++)
            if (worker_pid[k][i] > 0)
                kill(worker_pid[k][i], SIGKILL);
    if (server_pid > 0)
        kill(server_pid, SIGKILL);
    exit(1);
}

static void check(natsStatus s, const char *what)
{
    if (s != NATS_OK)
        fail(what, natsStatus_GetText(s));
}

/* ---- worker processes (this binary again, with --raw-worker or --faas-worker) ------------- */

static atomic_uint_fast64_t worker_count;

/* Every 10 ms, the count of completed calls on bench.progress.PID, absolute. */
static void *reporter_main(void *arg)
{
    natsConnection *nc = arg;
    char subject[64];
    snprintf(subject, sizeof subject, "bench.progress.%ld", (long)getpid());
    uint64_t last = 0;
    for (;;) {
        struct timespec ts = { 0, 10000000 };
        nanosleep(&ts, NULL);
        uint64_t now = atomic_load(&worker_count);
        if (now != last) {
            char buf[32];
            int len = snprintf(buf, sizeof buf, "%llu", (unsigned long long)now);
            natsConnection_Publish(nc, subject, buf, len);
            natsConnection_Flush(nc);
            last = now;
        }
    }
    return NULL;
}

static void start_reporter(natsConnection *nc)
{
    pthread_t t;
    pthread_create(&t, NULL, reporter_main, nc);
    pthread_detach(t);
}

/* The raw peer pulls as natsSubscription_Fetch(64) does inside: a no_wait request for 64
 * messages, answered with what the stream has (a 404 status ends it); with nothing there,
 * a request that waits (450 ms), taken as soon as a message comes (with the others already
 * queued). The messages of a round are then acked, +ACK published to each one's reply, as
 * natsMsg_Ack does. Not natsSubscription_Fetch itself: in libnats 3.4.1 it writes past its
 * array when messages of an expired request are still queued, which killed a raw worker
 * now and then (glibc's "double free or corruption") and left its messages to the 30 s
 * AckWait: a rep at 666 calls/s, or with one worker a run that never ends. */
static _Noreturn void raw_worker(const char *url)
{
    natsConnection *nc;
    check(natsConnection_ConnectTo(&nc, url), "connect");
    char inbox[64];
    snprintf(inbox, sizeof inbox, "bench.pull.%ld", (long)getpid());
    natsSubscription *sub;
    check(natsConnection_SubscribeSync(&sub, nc, inbox), "subscribe");
    check(natsSubscription_SetPendingLimits(sub, -1, -1), "pending limits");
    start_reporter(nc);
    printf("raw worker %ld: ready:\n", (long)getpid());
    fflush(stdout);
    static const char next[] = "$JS.API.CONSUMER.MSG.NEXT.RAW.raw";
    static const char now_req[] = "{\"batch\":64,\"no_wait\":true}";
    static const char wait_req[] = "{\"batch\":64,\"expires\":450000000}";
    bool waiting = false;
    for (;;) {
        const char *req = waiting ? wait_req : now_req;
        check(natsConnection_PublishRequest(nc, next, inbox, req, (int)strlen(req)), "pull");
        natsMsg *got[64];
        int count = 0;
        while (count < 64) {
            int pending = 0;
            if (waiting && count > 0 &&
                (natsSubscription_GetPending(sub, &pending, NULL) != NATS_OK || pending == 0))
                break;                      /* waited for one: take what came with it */
            natsMsg *msg = NULL;
            if (natsSubscription_NextMsg(&msg, sub, 500) != NATS_OK)
                break;
            const char *status = NULL;
            if (natsMsgHeader_Get(msg, "Status", &status) == NATS_OK && status != NULL) {
                natsMsg_Destroy(msg);       /* 404 none now, 408 expired: request over */
                break;
            }
            got[count++] = msg;
        }
        for (int i = 0; i < count; i++) {
            const char *reply = natsMsg_GetReply(got[i]);
            if (reply != NULL)
                natsConnection_Publish(nc, reply, "+ACK", 4);
            natsMsg_Destroy(got[i]);
        }
        atomic_fetch_add(&worker_count, (uint64_t)count);
        waiting = count == 0;
    }
}

static int noop(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)payload; (void)len;
    return 0;
}

static void count_record(const faas_record *r, void *arg)
{
    (void)r; (void)arg;
    atomic_fetch_add(&worker_count, 1);
}

static _Noreturn void faas_worker(const char *url)
{
    faas_runtime *rt;
    faas_options o;
    memset(&o, 0, sizeof o);
    o.workers = 2;
    o.idle_spin_us = -1;    /* as `faas worker`: work arrives at network pace, spinning only
                               takes the CPU from the server and the other processes */
    if (faas_runtime_new(&rt, &o) != FAAS_OK)
        fail("faas_runtime_new", faas_last_error());
    faas_on_record(rt, count_record, NULL);
    if (faas_register(rt, "noop", noop, NULL) != FAAS_OK)
        fail("faas_register", faas_last_error());
    faas_nats_options no;
    memset(&no, 0, sizeof no);
    no.role = FAAS_NATS_WORKER;
    if (faas_nats_attach(rt, url, &no) != FAAS_OK)
        fail("faas_nats_attach", faas_last_error());
    natsConnection *nc;
    check(natsConnection_ConnectTo(&nc, url), "connect");
    start_reporter(nc);
    printf("faas worker %ld: ready:\n", (long)getpid());
    fflush(stdout);
    for (;;)
        pause();
}

/* ---- the producer side ---------------------------------------------------------------------- */

typedef struct progress {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    long            pid[2 * MAX_WORKERS];
    uint64_t        count[2 * MAX_WORKERS], base[2 * MAX_WORKERS];
    unsigned        npid;
    uint64_t        callbacks;
} progress;

static progress prog = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, { 0 }, { 0 },
                         { 0 }, 0, 0 };

static void on_progress(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *c)
{
    (void)nc; (void)sub; (void)c;
    long pid = atol(strrchr(natsMsg_GetSubject(msg), '.') + 1);
    uint64_t v = strtoull(natsMsg_GetData(msg), NULL, 10);
    pthread_mutex_lock(&prog.mu);
    unsigned i = 0;
    while (i < prog.npid && prog.pid[i] != pid)
        i++;
    if (i == prog.npid && i < 2 * MAX_WORKERS)
        prog.pid[prog.npid++] = pid;
    if (i < 2 * MAX_WORKERS && v > prog.count[i])
        prog.count[i] = v;
    pthread_cond_broadcast(&prog.cv);
    pthread_mutex_unlock(&prog.mu);
    natsMsg_Destroy(msg);
}

static void on_callback(const faas_response *res, void *arg)
{
    (void)arg;
    if (res->status != FAAS_OK)
        fail("a call failed", res->error_message ? res->error_message : "?");
    pthread_mutex_lock(&prog.mu);
    prog.callbacks++;
    if (prog.callbacks % 256 == 0 || prog.callbacks >= opt.n)
        pthread_cond_broadcast(&prog.cv);
    pthread_mutex_unlock(&prog.mu);
}

/* Completions since the rep began: at the workers, or callbacks. */
static uint64_t completed(int callbacks)
{
    if (callbacks)
        return prog.callbacks;
    uint64_t sum = 0;
    for (unsigned i = 0; i < prog.npid; i++)
        sum += prog.count[i] - prog.base[i];
    return sum;
}

static void rep_begin(void)
{
    pthread_mutex_lock(&prog.mu);
    for (unsigned i = 0; i < prog.npid; i++)
        prog.base[i] = prog.count[i];
    prog.callbacks = 0;
    pthread_mutex_unlock(&prog.mu);
}

static void wait_for(uint64_t n, int callbacks)
{
    struct timespec at;
    clock_gettime(CLOCK_REALTIME, &at);
    at.tv_sec += 300;
    pthread_mutex_lock(&prog.mu);
    while (completed(callbacks) < n)
        if (pthread_cond_timedwait(&prog.cv, &prog.mu, &at) != 0)
            fail("wait", "calls did not complete within 300 s");
    pthread_mutex_unlock(&prog.mu);
}

/* ---- where the CPU goes: per call, per process, per system ---------------------------- */

/* The CPU time a process has used (every thread), ns; 0 if it cannot be read. */
static uint64_t cpu_ns(pid_t pid)
{
    clockid_t id;
    struct timespec ts;
    if (pid == 0)
        id = CLOCK_PROCESS_CPUTIME_ID;
    else if (clock_getcpuclockid(pid, &id) != 0)
        return 0;
    if (clock_gettime(id, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

enum { CPU_SERVER, CPU_PRODUCER, CPU_WORKERS, NCPU };
static void cpu_sample(uint64_t out[NCPU])
{
    out[CPU_SERVER] = cpu_ns(server_pid);
    out[CPU_PRODUCER] = cpu_ns(0);
    out[CPU_WORKERS] = 0;           /* both kinds: the idle ones' polling counts too */
    for (unsigned k = 0; k < 2; k++)
        for (unsigned i = 0; i < worker_count_now; i++)
            out[CPU_WORKERS] += cpu_ns(worker_pid[k][i]);
}

enum { SYS_RAW, SYS_RAW_ID, SYS_FAAS, SYS_FAAS_CB, NSYS };
static uint64_t cpu_used[NSYS][NCPU], cpu_calls[NSYS];
static const char *sys_name[NSYS] = { "raw", "raw_id", "faas", "faas_cb" };
static uint64_t next_id;

typedef struct ctx {
    jsCtx        *js;
    faas_runtime *rt;
    char         *payload;
} ctx;

static double run_rep(ctx *c, int sys, unsigned n, bool counted)
{
    rep_begin();
    uint64_t cpu0[NCPU];
    cpu_sample(cpu0);
    uint64_t t0 = bench_now_ns();
    if (sys == SYS_RAW || sys == SYS_RAW_ID) {
        jsPubOptions id;
        jsPubOptions_Init(&id);
        char msgid[32];
        id.MsgId = msgid;
        for (unsigned i = 0; i < n; i++) {
            snprintf(msgid, sizeof msgid, "raw-%llu", (unsigned long long)++next_id);
            check(js_PublishAsync(c->js, "raw.work", c->payload, (int)opt.size,
                                  sys == SYS_RAW_ID ? &id : NULL), "js_PublishAsync");
        }
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = 60000;
        check(js_PublishAsyncComplete(c->js, &po), "js_PublishAsyncComplete");
    } else {
        for (unsigned i = 0; i < n; i++) {
            int rc = faas_invoke_async(c->rt, "noop", c->payload, opt.size,
                                       sys == SYS_FAAS_CB ? on_callback : NULL, NULL, NULL);
            if (rc != FAAS_OK)
                fail("faas_invoke_async", faas_last_error());
        }
    }
    wait_for(n, sys == SYS_FAAS_CB);
    if (sys >= SYS_FAAS && faas_drain(c->rt, 60000) != FAAS_OK)
        fail("faas_drain", faas_last_error());
    double rate = (double)n / ((double)(bench_now_ns() - t0) / 1e9);
    if (counted) {
        uint64_t cpu1[NCPU];
        cpu_sample(cpu1);
        for (int k = 0; k < NCPU; k++)
            cpu_used[sys][k] += cpu1[k] - cpu0[k];
        cpu_calls[sys] += n;
    }
    return rate;
}

/* Start k workers of kind into w, their pids into pids (at once: a failure stops them). */
static void start_workers(nats_worker *w, pid_t *pids, unsigned k, const char *kind,
                          const char *url)
{
    for (unsigned i = 0; i < k; i++) {
        char *argv[] = { self_path, (char *)kind, (char *)url, NULL };
        int rc = nats_worker_start(&w[i], argv);
        pids[i] = w[i].pid;
        if (rc != 0)
            fail("worker", w[i].last);
    }
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (strcmp(a, "--quick") == 0) {
            opt.n = 2000;
            opt.reps = 2;
        } else if (strcmp(a, "--n") == 0) {
            opt.n = (unsigned)atoi(v);
            i++;
        } else if (strcmp(a, "--reps") == 0) {
            opt.reps = (unsigned)atoi(v);
            i++;
        } else if (strcmp(a, "--size") == 0) {
            opt.size = (unsigned)atoi(v);
            i++;
        } else if (strcmp(a, "--systems") == 0) {
            opt.systems = 0;        /* names as in the table, comma-separated */
            char list[256];
            snprintf(list, sizeof list, ",%s,", v);
            for (int sys = 0; sys < 4; sys++) {
                char item[16];
                snprintf(item, sizeof item, ",%s,", sys_name[sys]);
                if (strstr(list, item) != NULL)
                    opt.systems |= 1u << sys;
            }
            i++;
        } else if (strcmp(a, "--memory") == 0) {
            opt.memory = 1;
        } else if (strcmp(a, "--workers") == 0) {
            opt.nworkers = 0;
            for (const char *p = v; *p && opt.nworkers < MAX_WORKERS; p++)
                if (*p >= '1' && *p <= '3')
                    opt.workers[opt.nworkers++] = (unsigned)(*p - '0');
            i++;
        } else {
            fprintf(stderr, "usage: bench_nats [--quick] [--n N] [--reps R] [--size BYTES] "
                            "[--workers 1,2,3] [--systems raw,raw_id,faas,faas_cb] "
                            "[--memory]\n");
            exit(2);
        }
    }
    if (opt.n == 0 || opt.reps == 0 || opt.reps > MAX_REPS || opt.size == 0 ||
        opt.systems == 0)
        fail("options", "n, reps (at most 15), size and the systems must be positive");
}

int main(int argc, char **argv)
{
    ssize_t len = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    if (len <= 0)
        fail("readlink", "/proc/self/exe");
    self_path[len] = '\0';
    if (argc == 3 && strcmp(argv[1], "--raw-worker") == 0)
        raw_worker(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--faas-worker") == 0)
        faas_worker(argv[2]);
    parse_args(argc, argv);

    nats_server srv;
    memset(&srv, 0, sizeof srv);
    int started = nats_server_start(&srv);
    server_pid = srv.pid;
    if (started != 0)
        fail("nats-server", "did not start (is it installed? apt-get install nats-server)");

    natsConnection *nc;
    jsCtx *js;
    check(natsConnection_ConnectTo(&nc, srv.url), "connect");
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = 4096;
    check(natsConnection_JetStream(&js, nc, &jo), "jetstream");
    const char *subjects[] = { "raw.work" };
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = "RAW";
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Retention = js_WorkQueuePolicy;
    sc.Storage = opt.memory ? js_MemoryStorage : js_FileStorage;
    check(js_AddStream(NULL, js, &sc, NULL, NULL), "add stream RAW");
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = "raw";
    cc.AckPolicy = js_AckExplicit;
    cc.AckWait = (int64_t)30 * 1000000000;
    cc.MaxAckPending = 65536;
    check(js_AddConsumer(NULL, js, "RAW", &cc, NULL, NULL), "add consumer raw");
    natsSubscription *psub;
    check(natsConnection_Subscribe(&psub, nc, "bench.progress.*", on_progress, NULL),
          "subscribe");

    faas_runtime *rt;
    faas_options o;
    memset(&o, 0, sizeof o);
    o.workers = 2;
    o.queue_capacity = opt.n + 1024;
    if (faas_runtime_new(&rt, &o) != FAAS_OK)
        fail("faas_runtime_new", faas_last_error());
    faas_nats_options no;
    memset(&no, 0, sizeof no);
    no.role = FAAS_NATS_PRODUCER;
    no.publish_all = 1;
    no.memory_storage = (int)opt.memory;
    if (faas_nats_attach(rt, srv.url, &no) != FAAS_OK)
        fail("faas_nats_attach", faas_last_error());

    ctx c = { js, rt, malloc(opt.size) };
    for (unsigned i = 0; i < opt.size; i++)
        c.payload[i] = (char)('a' + i % 26);

    double load[3];
    getloadavg(load, 3);
    printf("bench_nats: %u calls of %u bytes per rep, %u reps, %s storage, nats-server on "
           "%s; load average %.2f %.2f %.2f\n", opt.n, opt.size, opt.reps,
           opt.memory ? "memory" : "file", srv.url, load[0], load[1], load[2]);
    printf("calls/s: median [min - max]; ratio = median / raw's median with as many "
           "workers\n\n");
    printf("  %-8s %-8s %10s %25s %7s\n", "workers", "system", "calls/s", "[min - max]",
           "x raw");
    for (unsigned wi = 0; wi < opt.nworkers; wi++) {
        unsigned k = opt.workers[wi];
        nats_worker raw_w[MAX_WORKERS], faas_w[MAX_WORKERS];
        memset(raw_w, 0, sizeof raw_w);
        memset(faas_w, 0, sizeof faas_w);
        start_workers(raw_w, worker_pid[0], k, "--raw-worker", srv.url);
        start_workers(faas_w, worker_pid[1], k, "--faas-worker", srv.url);
        worker_count_now = k;
        memset(cpu_used, 0, sizeof cpu_used);
        memset(cpu_calls, 0, sizeof cpu_calls);
        double v[NSYS][MAX_REPS];
        memset(v, 0, sizeof v);
        for (int sys = 0; sys < NSYS; sys++)       /* warm-up: connections, instances */
            if (opt.systems & (1u << sys))
                run_rep(&c, sys, opt.n / 10 + 1, false);
        for (unsigned r = 0; r < opt.reps; r++)
            for (int sys = 0; sys < NSYS; sys++)   /* interleaved: drift hits all alike */
                if (opt.systems & (1u << sys))
                    v[sys][r] = run_rep(&c, sys, opt.n, true);
        bench_summary raw = bench_summarise(v[SYS_RAW], opt.reps);
        for (int sys = 0; sys < NSYS; sys++) {
            if (!(opt.systems & (1u << sys)))
                continue;
            bench_summary s = bench_summarise(v[sys], opt.reps);
            char range[64];
            snprintf(range, sizeof range, "[%.0f - %.0f]", s.min, s.max);
            if (opt.systems & 1u)
                printf("  %-8u %-8s %10.0f %25s %7.2f\n", k, sys_name[sys], s.median, range,
                       s.median / raw.median);
            else                        /* no raw row: no ratio */
                printf("  %-8u %-8s %10.0f %25s %7s\n", k, sys_name[sys], s.median, range,
                       "-");
        }
        /* CPU per call over every counted rep (every process shares the two cores, so
         * the rate is about what the calls cost in all): the server, this producer, the
         * workers (their row's kind; the idle kind's polling is included). */
        printf("  %-8s %-8s %10s %10s %10s %10s   (CPU us per call, all reps)\n", "", "",
               "server", "producer", "workers", "total");
        for (int sys = 0; sys < NSYS; sys++) {
            if (!(opt.systems & (1u << sys)) || cpu_calls[sys] == 0)
                continue;
            double per[NCPU], total = 0;
            for (int i = 0; i < NCPU; i++) {
                per[i] = (double)cpu_used[sys][i] / 1e3 / (double)cpu_calls[sys];
                total += per[i];
            }
            printf("  %-8u %-8s %10.2f %10.2f %10.2f %10.2f\n", k, sys_name[sys],
                   per[CPU_SERVER], per[CPU_PRODUCER], per[CPU_WORKERS], total);
        }
        fflush(stdout);
        for (unsigned i = 0; i < k; i++) {
            nats_worker_stop(&raw_w[i], SIGKILL);
            nats_worker_stop(&faas_w[i], SIGKILL);
        }
        memset(worker_pid, 0, sizeof worker_pid);   /* reaped: no longer ours */
        pthread_mutex_lock(&prog.mu);
        prog.npid = 0;                  /* the next workers are new processes */
        memset(prog.count, 0, sizeof prog.count);
        pthread_mutex_unlock(&prog.mu);
    }
    faas_runtime_free(rt);
    free(c.payload);
    natsSubscription_Destroy(psub);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    nats_server_destroy(&srv);
    return 0;
}
