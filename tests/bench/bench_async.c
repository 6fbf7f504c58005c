/*
 * bench_async.c - libfaas's asynchronous-invocation benchmark: throughput of trivial
 * async calls from one and from two producer threads, and the round trip of one call at a
 * time, for libfaas and, in the same process run, its peers:
 *
 *   faas          faas_invoke_fn_async, default options (idle_spin_us 0 = 50 us)
 *   faas_nospin   the same with idle_spin_us = -1 (workers never spin before sleeping)
 *   faas_spin200  the same with idle_spin_us = 200
 *   libuv         uv_queue_work, after_work_cb on the loop thread        (if built with it)
 *   glib          GThreadPool, exclusive, g_thread_pool_push             (if built with it)
 *   minimal       a mutex + condvar ring-buffer pool (minpool.h), signal only when idle
 *
 * Every system gets the same number of worker threads (--workers, default 2). The cases:
 *
 *   tp1   N trivial tasks submitted back-to-back by one thread; time until all completed
 *   tp2   the same from two threads, N/2 each
 *   rt    one task at a time: submit, wait (mutex + condvar) for its completion, repeat
 *
 * Run it from the build directory: ./tests/bench/bench_async [--quick] [--n N] [--warmup-n N]
 * [--reps R] [--trips T] [--workers W] [--only NAME[,NAME]] [--gap-us G] [--capacity C]
 * [--list]. See tests/bench/README.md.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <faas.h>

#ifdef HAVE_LIBUV
# include <uv.h>
#endif
#ifdef HAVE_GLIB
# include <glib.h>
#endif

#include "bench.h"
#include "minpool.h"

#define RT_WARMUP      200u     /* untimed round trips before each system's rt reps */
#define PAUSE_US       2000u    /* between reps: lets spinning workers of the last system park */
#define WAIT_LIMIT_S   300      /* a rep that has not completed by then is a lost task */

static const char payload[] = "{}";
#define PAYLOAD_LEN (sizeof payload - 1)

/* ---- options -------------------------------------------------------------------------- */

static struct {
    int         quick;
    int         verbose;    /* print every rep as it ends */
    uint64_t    n;          /* tasks per throughput rep */
    uint64_t    warmup_n;   /* tasks of a throughput warm-up rep; 0: n */
    unsigned    reps;
    unsigned    trips;      /* round trips per rt rep */
    unsigned    workers;
    unsigned    gap_us;     /* pause between round trips */
    long long   capacity;   /* libfaas queue_capacity; -1: tasks_most() + 1024 (never EBUSY) */
    const char *only;
} opt = { .capacity = -1 };

/* The most tasks one throughput rep submits (the warm-up may be the larger). */
static uint64_t tasks_most(void)
{
    return opt.warmup_n > opt.n ? opt.warmup_n : opt.n;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_async: %s\n", what);
    exit(1);
}

static void die_faas(const char *what, int rc)
{
    fprintf(stderr, "bench_async: %s: %s (%s)\n", what, faas_strerror(rc), faas_last_error());
    exit(1);
}

static void pause_us(unsigned us)
{
    struct timespec ts = { (time_t)(us / 1000000u), (long)(us % 1000000u) * 1000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The whole process's CPU time (user + system, and system alone, in ns), its voluntary
 * context switches (a thread blocked: futex waits, mostly) and its minor page faults. */
typedef struct proc_usage {
    uint64_t cpu_ns, sys_ns, vcsw, minflt;
} proc_usage;

static proc_usage process_usage(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    proc_usage u;
    u.sys_ns = (uint64_t)ru.ru_stime.tv_sec * 1000000000u + (uint64_t)ru.ru_stime.tv_usec * 1000u;
    u.cpu_ns = u.sys_ns + (uint64_t)ru.ru_utime.tv_sec * 1000000000u +
               (uint64_t)ru.ru_utime.tv_usec * 1000u;
    u.vcsw = (uint64_t)ru.ru_nvcsw;
    u.minflt = (uint64_t)ru.ru_minflt;
    return u;
}

/* ---- completion: an auto-reset event, and a countdown --------------------------------- */

typedef struct event {
    pthread_mutex_t lock;
    pthread_cond_t  cv;
    int             set;
} event;

#define EVENT_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 }

static void event_set(event *e)
{
    pthread_mutex_lock(&e->lock);
    e->set = 1;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->lock);
}

/* Wait until set, then clear it. */
static void event_wait(event *e)
{
    struct timespec at;
    clock_gettime(CLOCK_REALTIME, &at);
    at.tv_sec += WAIT_LIMIT_S;
    pthread_mutex_lock(&e->lock);
    while (!e->set)
        if (pthread_cond_timedwait(&e->cv, &e->lock, &at) == ETIMEDOUT && !e->set)
            die("a task never completed (lost wake-up or lost task)");
    e->set = 0;
    pthread_mutex_unlock(&e->lock);
}

/* Throughput: every completion counts down; the last one sets done. */
static event                done_ev = EVENT_INIT;
static atomic_uint_fast64_t done_count;
static uint64_t             done_target;
static atomic_uint_fast64_t task_errors;

static inline void tp_done(void)
{
    if (atomic_fetch_add_explicit(&done_count, 1, memory_order_acq_rel) + 1 == done_target)
        event_set(&done_ev);
}

/* Round trip: the task stamps its start, the completion stamps its end and sets rt_ev. */
static event             rt_ev = EVENT_INIT;
static volatile uint64_t stamp_start, stamp_done;

static inline void rt_started(void)
{
    stamp_start = bench_now_ns();
}

static inline void rt_done(void)
{
    stamp_done = bench_now_ns();
    event_set(&rt_ev);
}

/* The trivial task body every system runs. */
BENCH_NOINLINE static void trivial(void)
{
    __asm__ volatile("");
}

/* ---- the systems ---------------------------------------------------------------------- */

typedef struct sys sys;
struct sys {
    const char *name;
    const char *what;
    int         peer;                    /* 0: libfaas; 1: a library peer; 2: the plain pool */
    int         spin_us;                 /* libfaas: idle_spin_us */
    int       (*setup)(sys *s);          /* 0, or < 0: not available in this build */
    void      (*teardown)(sys *s);
    /* Submit count throughput tasks as producer p (of the rep's producers); returns the
     * number of submissions refused with "busy" and retried. */
    uint64_t  (*submit)(sys *s, unsigned p, uint64_t first, uint64_t count);
    void      (*producer_end)(sys *s, unsigned p);   /* NULL: nothing */
    void      (*rt_submit)(sys *s);
    void      (*rt_wait)(sys *s);
    void       *state;
    int         ready;
};

/* ---- libfaas ---- */

typedef struct faas_state {
    faas_runtime  *rt;
    faas_function *empty, *stamp;
    uint64_t       submitted;         /* throughput calls, checked against the stats */
} faas_state;

BENCH_NOINLINE static int h_empty(faas_ctx *ctx, const void *p, size_t len)
{
    (void)ctx;
    (void)p;
    (void)len;
    trivial();
    return 0;
}

static int h_stamp(faas_ctx *ctx, const void *p, size_t len)
{
    (void)ctx;
    (void)p;
    (void)len;
    rt_started();
    return 0;
}

static void cb_tp(const faas_response *res, void *arg)
{
    (void)arg;
    if (res->status != FAAS_OK)
        atomic_fetch_add_explicit(&task_errors, 1, memory_order_relaxed);
    tp_done();
}

static void cb_rt(const faas_response *res, void *arg)
{
    (void)arg;
    if (res->status != FAAS_OK)
        atomic_fetch_add_explicit(&task_errors, 1, memory_order_relaxed);
    rt_done();
}

static size_t faas_capacity(void)
{
    if (opt.capacity >= 0)
        return (size_t)opt.capacity;          /* 0: the library's default, 65536 */
    return (size_t)tasks_most() + 1024;
}

static int faas_setup(sys *s)
{
    faas_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        die("out of memory");
    faas_options o;
    memset(&o, 0, sizeof o);                  /* default accounting: cpu_time 0, no hook */
    o.workers = opt.workers;
    o.queue_capacity = faas_capacity();
    o.idle_spin_us = s->spin_us;
    int rc = faas_runtime_new(&st->rt, &o);
    if (rc != FAAS_OK)
        die_faas("faas_runtime_new", rc);
    if ((rc = faas_register(st->rt, "empty", h_empty, NULL)) != FAAS_OK)
        die_faas("faas_register(empty)", rc);
    if ((rc = faas_register(st->rt, "stamp", h_stamp, NULL)) != FAAS_OK)
        die_faas("faas_register(stamp)", rc);
    if ((rc = faas_warm(st->rt, "empty", opt.workers)) != FAAS_OK ||
        (rc = faas_warm(st->rt, "stamp", opt.workers)) != FAAS_OK)
        die_faas("faas_warm", rc);
    st->empty = faas_lookup(st->rt, "empty");
    st->stamp = faas_lookup(st->rt, "stamp");
    if (st->empty == NULL || st->stamp == NULL)
        die_faas("faas_lookup", FAAS_ENOTFOUND);
    s->state = st;
    return 0;
}

static void faas_teardown(sys *s)
{
    faas_state *st = s->state;
    int rc = faas_drain(st->rt, 60000);
    if (rc != FAAS_OK)
        die_faas("faas_drain", rc);
    faas_stats stats;
    if ((rc = faas_stats_get(st->rt, "empty", &stats)) != FAAS_OK)
        die_faas("faas_stats_get", rc);
    if (stats.invocations != st->submitted || stats.errors != 0) {
        fprintf(stderr, "bench_async: %s: %llu calls submitted, stats count %llu (%llu "
                "errors)\n", s->name, (unsigned long long)st->submitted,
                (unsigned long long)stats.invocations, (unsigned long long)stats.errors);
        exit(1);
    }
    faas_runtime_free(st->rt);
    free(st);
}

static uint64_t faas_submit(sys *s, unsigned p, uint64_t first, uint64_t count)
{
    (void)p;
    (void)first;
    faas_state *st = s->state;
    faas_function *fn = st->empty;
    uint64_t busy = 0;
    for (uint64_t i = 0; i < count; i++) {
        int rc;
        while ((rc = faas_invoke_fn_async(fn, payload, PAYLOAD_LEN, cb_tp, NULL, NULL))
               == FAAS_EBUSY) {
            busy++;
            sched_yield();
        }
        if (rc != FAAS_OK)
            die_faas("faas_invoke_fn_async", rc);
    }
    __atomic_fetch_add(&st->submitted, count, __ATOMIC_RELAXED);
    return busy;
}

static void faas_rt_submit(sys *s)
{
    faas_state *st = s->state;
    int rc = faas_invoke_fn_async(st->stamp, payload, PAYLOAD_LEN, cb_rt, NULL, NULL);
    if (rc != FAAS_OK)
        die_faas("faas_invoke_fn_async", rc);
}

static void ev_rt_wait(sys *s)
{
    (void)s;
    event_wait(&rt_ev);
}

/* ---- libuv: one loop per producer thread; the pool is libuv's global one ---- */

#ifdef HAVE_LIBUV
typedef struct uv_state {
    uv_loop_t  loops[2];
    uv_work_t *reqs;           /* tasks_most() of them, one per throughput task */
    uv_work_t  rt_req;
} uv_state;

static void uv_tp_work(uv_work_t *req)
{
    (void)req;
    trivial();
}

static void uv_tp_after(uv_work_t *req, int status)
{
    (void)req;
    if (status != 0)
        atomic_fetch_add_explicit(&task_errors, 1, memory_order_relaxed);
    tp_done();
}

static void uv_rt_work(uv_work_t *req)
{
    (void)req;
    rt_started();
}

static void uv_rt_after(uv_work_t *req, int status)
{
    (void)req;
    if (status != 0)
        atomic_fetch_add_explicit(&task_errors, 1, memory_order_relaxed);
    stamp_done = bench_now_ns();     /* on the loop thread, which is the waiter: no event */
}

static int uv_setup(sys *s)
{
    char n[16];
    snprintf(n, sizeof n, "%u", opt.workers);
    setenv("UV_THREADPOOL_SIZE", n, 1);       /* read once, at the pool's first use */
    uv_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        die("out of memory");
    for (int i = 0; i < 2; i++)
        if (uv_loop_init(&st->loops[i]) != 0)
            die("uv_loop_init failed");
    st->reqs = malloc(tasks_most() * sizeof *st->reqs);
    if (st->reqs == NULL)
        die("out of memory for the uv_work_t requests");
    memset(st->reqs, 0, tasks_most() * sizeof *st->reqs);  /* first touch now, not timed */
    s->state = st;
    return 0;
}

static void uv_teardown(sys *s)
{
    uv_state *st = s->state;
    for (int i = 0; i < 2; i++) {
        uv_run(&st->loops[i], UV_RUN_DEFAULT);
        uv_loop_close(&st->loops[i]);
    }
    free(st->reqs);
    free(st);
}

static uint64_t uv_submit(sys *s, unsigned p, uint64_t first, uint64_t count)
{
    uv_state *st = s->state;
    uv_loop_t *loop = &st->loops[p];
    for (uint64_t i = first; i < first + count; i++)
        if (uv_queue_work(loop, &st->reqs[i], uv_tp_work, uv_tp_after) != 0)
            die("uv_queue_work failed");
    return 0;
}

/* The producer thread is its loop's thread: it runs the after_work callbacks. */
static void uv_producer_end(sys *s, unsigned p)
{
    uv_state *st = s->state;
    uv_run(&st->loops[p], UV_RUN_DEFAULT);
}

static void uv_rt_submit(sys *s)
{
    uv_state *st = s->state;
    if (uv_queue_work(&st->loops[0], &st->rt_req, uv_rt_work, uv_rt_after) != 0)
        die("uv_queue_work failed");
}

static void uv_rt_wait(sys *s)
{
    uv_state *st = s->state;
    uv_run(&st->loops[0], UV_RUN_DEFAULT);
}
#endif

/* ---- GLib: one exclusive GThreadPool; the task's data says which kind it is ---- */

#ifdef HAVE_GLIB
static int glib_tp_token, glib_rt_token;

static void glib_func(gpointer data, gpointer user_data)
{
    (void)user_data;
    if (data == &glib_tp_token) {
        trivial();
        tp_done();
    } else {
        rt_started();
        rt_done();
    }
}

static int glib_setup(sys *s)
{
    GError *err = NULL;
    GThreadPool *pool = g_thread_pool_new(glib_func, NULL, (gint)opt.workers, TRUE, &err);
    if (pool == NULL) {
        fprintf(stderr, "bench_async: g_thread_pool_new: %s\n", err ? err->message : "?");
        exit(1);
    }
    s->state = pool;
    return 0;
}

static void glib_teardown(sys *s)
{
    g_thread_pool_free(s->state, FALSE, TRUE);
}

static uint64_t glib_submit(sys *s, unsigned p, uint64_t first, uint64_t count)
{
    (void)p;
    (void)first;
    GThreadPool *pool = s->state;
    for (uint64_t i = 0; i < count; i++)
        g_thread_pool_push(pool, &glib_tp_token, NULL);
    return 0;
}

static void glib_rt_submit(sys *s)
{
    g_thread_pool_push(s->state, &glib_rt_token, NULL);
}
#endif

#if !defined(HAVE_LIBUV) || !defined(HAVE_GLIB)
static int unavailable(sys *s)      /* a peer this build has no library for */
{
    (void)s;
    return -1;
}
#endif

/* ---- the minimal pool ---- */

static void min_tp_task(void *arg)
{
    (void)arg;
    trivial();
    tp_done();
}

static void min_rt_task(void *arg)
{
    (void)arg;
    rt_started();
    rt_done();
}

static int min_setup(sys *s)
{
    minpool *p = malloc(sizeof *p);
    if (p == NULL || minpool_init(p, opt.workers, (size_t)tasks_most()) != 0)
        die("minpool_init failed");
    s->state = p;
    return 0;
}

static void min_teardown(sys *s)
{
    minpool_free(s->state);
    free(s->state);
}

static uint64_t min_submit(sys *s, unsigned p, uint64_t first, uint64_t count)
{
    (void)p;
    (void)first;
    minpool *pool = s->state;
    for (uint64_t i = 0; i < count; i++)
        if (minpool_submit(pool, min_tp_task, NULL) != 0)
            die("minpool_submit: out of memory");
    return 0;
}

static void min_rt_submit(sys *s)
{
    if (minpool_submit(s->state, min_rt_task, NULL) != 0)
        die("minpool_submit: out of memory");
}

#define FAAS_SYS(nm, spin, text)                                                        \
    { .name = nm, .what = text, .peer = 0, .spin_us = spin, .setup = faas_setup,       \
      .teardown = faas_teardown, .submit = faas_submit, .rt_submit = faas_rt_submit,  \
      .rt_wait = ev_rt_wait }

static sys systems[] = {
    FAAS_SYS("faas", 0, "libfaas, idle_spin_us default (50 us)"),
    FAAS_SYS("faas_nospin", -1, "libfaas, idle_spin_us = -1 (never spin)"),
    FAAS_SYS("faas_spin200", 200, "libfaas, idle_spin_us = 200"),
#ifdef HAVE_LIBUV
    { .name = "libuv", .what = "libuv uv_queue_work", .peer = 1, .setup = uv_setup,
      .teardown = uv_teardown, .submit = uv_submit, .producer_end = uv_producer_end,
      .rt_submit = uv_rt_submit, .rt_wait = uv_rt_wait },
#else
    { .name = "libuv", .what = "libuv (not built in)", .peer = 1, .setup = unavailable },
#endif
#ifdef HAVE_GLIB
    { .name = "glib", .what = "GLib GThreadPool (exclusive)", .peer = 1,
      .setup = glib_setup, .teardown = glib_teardown, .submit = glib_submit,
      .rt_submit = glib_rt_submit, .rt_wait = ev_rt_wait },
#else
    { .name = "glib", .what = "GLib (not built in)", .peer = 1, .setup = unavailable },
#endif
    { .name = "minimal", .what = "mutex+condvar ring pool", .peer = 2, .setup = min_setup,
      .teardown = min_teardown, .submit = min_submit, .rt_submit = min_rt_submit,
      .rt_wait = ev_rt_wait },
};
#define NSYS (sizeof systems / sizeof systems[0])

/* ---- the cases ------------------------------------------------------------------------- */

enum { CASE_TP1, CASE_TP2, CASE_RT, NCASES };
static const char *const case_names[NCASES] = { "tp1", "tp2", "rt" };
static const char *const case_what[NCASES] = {
    "throughput, 1 producer: N tasks back-to-back, until all completed",
    "throughput, 2 producers: N/2 tasks each, until all completed",
    "round trip: one task at a time, submit -> completion seen by the submitter",
};

typedef struct tp_result {      /* one per (case, system); arrays over reps */
    double  *calls_s, *submit_ns, *cpu_ns, *sys_ns, *csw, *flt; /* csw, flt: per 1000 calls */
    uint64_t busy;
} tp_result;

typedef struct rt_result {
    double *p50, *p99, *cpu_us;          /* per rep */
    double *all_rt, *all_start, *all_done; /* every timed trip, pooled, in us */
    size_t  n_all;
} rt_result;

static tp_result tp_res[2][NSYS];
static rt_result rt_res[NSYS];

/* ---- throughput ---- */

typedef struct producer {
    sys              *s;
    unsigned          idx;
    uint64_t          first, count, busy;
    uint64_t          t0, t1;            /* its submit loop */
    pthread_barrier_t *go;
    pthread_t         thread;
} producer;

static void produce(producer *p)
{
    p->t0 = bench_now_ns();
    p->busy = p->s->submit(p->s, p->idx, p->first, p->count);
    p->t1 = bench_now_ns();
    if (p->s->producer_end != NULL)
        p->s->producer_end(p->s, p->idx);
}

static void *producer_main(void *arg)
{
    producer *p = arg;
    pthread_barrier_wait(p->go);
    produce(p);
    return NULL;
}

/* One throughput rep into rep r of t (r < 0: a warm-up, nothing kept). */
static void tp_rep(sys *s, unsigned nprod, uint64_t n, tp_result *t, int r)
{
    producer prod[2];
    pthread_barrier_t go;
    atomic_store(&done_count, 0);
    done_target = n;
    memset(prod, 0, sizeof prod);
    for (unsigned i = 0; i < nprod; i++) {
        prod[i].s = s;
        prod[i].idx = i;
        prod[i].first = n / nprod * i;
        prod[i].count = i + 1 < nprod ? n / nprod : n - n / nprod * i;
        prod[i].go = &go;
    }
    uint64_t t0, t1;
    proc_usage c0, c1;
    if (nprod == 1) {
        c0 = process_usage();
        t0 = bench_now_ns();
        produce(&prod[0]);
        event_wait(&done_ev);
        t1 = bench_now_ns();
        c1 = process_usage();
    } else {
        pthread_barrier_init(&go, NULL, nprod + 1);
        for (unsigned i = 0; i < nprod; i++)
            if (pthread_create(&prod[i].thread, NULL, producer_main, &prod[i]) != 0)
                die("pthread_create failed");
        c0 = process_usage();
        pthread_barrier_wait(&go);
        t0 = bench_now_ns();
        event_wait(&done_ev);
        t1 = bench_now_ns();
        c1 = process_usage();
        for (unsigned i = 0; i < nprod; i++)
            pthread_join(prod[i].thread, NULL);
        pthread_barrier_destroy(&go);
    }
    uint64_t errs = atomic_exchange(&task_errors, 0);
    if (errs != 0) {
        fprintf(stderr, "bench_async: %s: %llu tasks failed\n", s->name,
                (unsigned long long)errs);
        exit(1);
    }
    if (opt.verbose) {
        uint64_t b = 0;
        for (unsigned i = 0; i < nprod; i++)
            b += prod[i].busy;
        printf("  [%s rep %d %s] %.3f M calls/s, submit %.0f ns, cpu %.0f ns, sys %.0f ns, "
               "csw %.1f/1000, faults %.1f/1000, busy %llu\n", nprod == 1 ? "tp1" : "tp2", r, s->name,
               (double)n / ((double)(t1 - t0) / 1e3),
               (double)(prod[0].t1 - prod[0].t0) / (double)prod[0].count,
               (double)(c1.cpu_ns - c0.cpu_ns) / (double)n,
               (double)(c1.sys_ns - c0.sys_ns) / (double)n,
               (double)(c1.vcsw - c0.vcsw) * 1000.0 / (double)n,
               (double)(c1.minflt - c0.minflt) * 1000.0 / (double)n, (unsigned long long)b);
    }
    if (r < 0)
        return;
    double sub = 0;
    for (unsigned i = 0; i < nprod; i++) {
        sub += (double)(prod[i].t1 - prod[i].t0) / (double)prod[i].count;
        t->busy += prod[i].busy;
    }
    t->calls_s[r] = (double)n / ((double)(t1 - t0) / 1e9);
    t->submit_ns[r] = sub / nprod;
    t->cpu_ns[r] = (double)(c1.cpu_ns - c0.cpu_ns) / (double)n;
    t->sys_ns[r] = (double)(c1.sys_ns - c0.sys_ns) / (double)n;
    t->csw[r] = (double)(c1.vcsw - c0.vcsw) * 1000.0 / (double)n;
    t->flt[r] = (double)(c1.minflt - c0.minflt) * 1000.0 / (double)n;
}

/* ---- round trip ---- */

static void rt_rep(sys *s, unsigned trips, double *rt_us, double *start_us, double *done_us,
                   double *cpu_us)
{
    uint64_t c0 = process_usage().cpu_ns;
    for (unsigned i = 0; i < trips; i++) {
        uint64_t t0 = bench_now_ns();
        s->rt_submit(s);
        s->rt_wait(s);
        uint64_t t1 = bench_now_ns();
        if (rt_us != NULL) {
            rt_us[i] = (double)(t1 - t0) / 1e3;
            start_us[i] = (double)(stamp_start - t0) / 1e3;
            done_us[i] = (double)(stamp_done - t0) / 1e3;
        }
        if (opt.gap_us)
            pause_us(opt.gap_us);
    }
    if (cpu_us != NULL)
        *cpu_us = (double)(process_usage().cpu_ns - c0) / 1e3 / trips;
    if (atomic_exchange(&task_errors, 0) != 0) {
        fprintf(stderr, "bench_async: %s: a round-trip task failed\n", s->name);
        exit(1);
    }
}

/* ---- reporting ---- */

static double *alloc_reps(unsigned reps)
{
    double *v = calloc(reps, sizeof *v);
    if (v == NULL)
        die("out of memory");
    return v;
}

/* The peer with the best median (highest if higher_better), or -1. libs_only: among the
 * library peers (libuv, GLib), leaving the plain pool out. */
static int best_peer(const bench_summary *sum, const int *ran, int higher_better,
                     int libs_only)
{
    int best = -1;
    for (size_t k = 0; k < NSYS; k++) {
        if (!systems[k].peer || !ran[k] || (libs_only && systems[k].peer != 1))
            continue;
        if (best < 0 || (higher_better ? sum[k].median > sum[best].median
                                       : sum[k].median < sum[best].median))
            best = (int)k;
    }
    return best;
}

/* Median over reps of a[r] / b[r]: the ratio within reps that ran close together. */
static double paired_ratio(const double *a, const double *b, unsigned reps)
{
    double *r = alloc_reps(reps);
    for (unsigned i = 0; i < reps; i++)
        r[i] = b[i] > 0 ? a[i] / b[i] : 0;
    double m = bench_median(r, reps);
    free(r);
    return m;
}

static void fmt_rate(char *buf, size_t size, double v)
{
    if (v >= 1e6)
        snprintf(buf, size, "%.2f M", v / 1e6);
    else
        snprintf(buf, size, "%.0f k", v / 1e3);
}

static void print_tp(int c, unsigned reps, const int *ran)
{
    bench_summary sum[NSYS];
    memset(sum, 0, sizeof sum);
    for (size_t k = 0; k < NSYS; k++)
        if (ran[k])
            sum[k] = bench_summarise(tp_res[c][k].calls_s, reps);
    int best = best_peer(sum, ran, 1, 0), lib = best_peer(sum, ran, 1, 1);
    printf("\n%s (%s)\n", case_what[c], case_names[c]);
    printf("  calls/s: median [min - max] of %u reps. Per call, medians: submit = the "
           "producer's submit loop; cpu, sys = process CPU time (all threads), of which "
           "system; csw, flt = voluntary context switches, minor page faults per 1000 calls\n",
           reps);
    printf("  x best = ratio of medians to the best peer (%s); paired = median of per-rep "
           "ratios; x lib = ratio to the best library peer (%s)\n",
           best >= 0 ? systems[best].name : "-", lib >= 0 ? systems[lib].name : "-");
    printf("  %-13s %9s %21s %7s %6s %6s %6s %6s %7s %7s %6s %6s\n", "system", "calls/s",
           "[min - max]", "submit", "cpu", "sys", "csw", "flt", "x best", "paired", "x lib",
           "EBUSY");
    for (size_t k = 0; k < NSYS; k++) {
        if (!ran[k])
            continue;
        tp_result *t = &tp_res[c][k];
        char med[32], lo[32], hi[32], range[80], ratio[16] = "-", paired[16] = "-",
             xlib[16] = "-", busy[24] = "-";
        fmt_rate(med, sizeof med, sum[k].median);
        fmt_rate(lo, sizeof lo, sum[k].min);
        fmt_rate(hi, sizeof hi, sum[k].max);
        snprintf(range, sizeof range, "[%s - %s]", lo, hi);
        if (best >= 0) {
            snprintf(ratio, sizeof ratio, "%.2f", sum[k].median / sum[best].median);
            snprintf(paired, sizeof paired, "%.2f",
                     paired_ratio(t->calls_s, tp_res[c][best].calls_s, reps));
        }
        if (lib >= 0)
            snprintf(xlib, sizeof xlib, "%.2f", sum[k].median / sum[lib].median);
        if (!systems[k].peer)
            snprintf(busy, sizeof busy, "%llu", (unsigned long long)t->busy);
        bench_summary ss = bench_summarise(t->submit_ns, reps);
        bench_summary sc = bench_summarise(t->cpu_ns, reps);
        bench_summary sy = bench_summarise(t->sys_ns, reps);
        bench_summary cs = bench_summarise(t->csw, reps);
        bench_summary sf = bench_summarise(t->flt, reps);
        printf("  %-13s %9s %21s %7.0f %6.0f %6.0f %6.1f %6.1f %7s %7s %6s %6s\n",
               systems[k].name, med, range, ss.median, sc.median, sy.median, cs.median,
               sf.median, ratio, paired, xlib, busy);
    }
}

static void print_rt(unsigned reps, unsigned trips, const int *ran)
{
    bench_summary sum[NSYS];
    memset(sum, 0, sizeof sum);
    for (size_t k = 0; k < NSYS; k++)
        if (ran[k])
            sum[k] = bench_summarise(rt_res[k].p50, reps);
    int best = best_peer(sum, ran, 0, 0), lib = best_peer(sum, ran, 0, 1);
    printf("\n%s (rt)\n", case_what[CASE_RT]);
    printf("  us; p50 = median [min - max] over reps of each rep's p50 (%u trips/rep%s); "
           "p99, start, done: pooled over all trips\n", trips,
           opt.gap_us ? ", with a pause between trips" : ", back to back");
    printf("  start = submit -> task start, done = submit -> completion signalled, p50 = "
           "submit -> submitter resumed\n");
    printf("  cpu/trip = process CPU time per round trip; x best = ratio of p50 medians to "
           "the best peer (%s), lower is better; x lib = to the best library peer (%s)\n",
           best >= 0 ? systems[best].name : "-", lib >= 0 ? systems[lib].name : "-");
    printf("  %-13s %7s %17s %8s %8s %8s %8s %7s %7s %6s\n", "system", "p50", "[min - max]",
           "p99", "start", "done", "cpu/trip", "x best", "paired", "x lib");
    for (size_t k = 0; k < NSYS; k++) {
        if (!ran[k])
            continue;
        rt_result *r = &rt_res[k];
        char range[48], ratio[16] = "-", paired[16] = "-", xlib[16] = "-";
        snprintf(range, sizeof range, "[%.1f - %.1f]", sum[k].min, sum[k].max);
        if (lib >= 0)
            snprintf(xlib, sizeof xlib, "%.2f", sum[k].median / sum[lib].median);
        if (best >= 0) {
            snprintf(ratio, sizeof ratio, "%.2f", sum[k].median / sum[best].median);
            snprintf(paired, sizeof paired, "%.2f",
                     paired_ratio(r->p50, rt_res[best].p50, reps));
        }
        double p99 = bench_quantile(r->all_rt, r->n_all, 0.99);
        double st = bench_quantile(r->all_start, r->n_all, 0.5);
        double dn = bench_quantile(r->all_done, r->n_all, 0.5);
        bench_summary cpu = bench_summarise(r->cpu_us, reps);
        printf("  %-13s %7.1f %17s %8.1f %8.1f %8.1f %8.1f %7s %7s %6s\n", systems[k].name,
               sum[k].median, range, p99, st, dn, cpu.median, ratio, paired, xlib);
    }
}

/* libfaas's spinning against not spinning, from the tables above. */
static void print_spin(unsigned reps, const int *ran_case, int ran[NCASES][NSYS])
{
    int base = 1;       /* faas_nospin */
    if (!ran[CASE_TP1][base] && !ran[CASE_TP2][base] && !ran[CASE_RT][base])
        return;
    printf("\nIdle spinning (libfaas): ratio of medians to faas_nospin (paired ratio)\n");
    printf("  %-13s %16s %16s %16s %9s %12s\n", "system", "tp1 calls/s", "tp2 calls/s",
           "rt p50", "rt p99", "rt cpu/trip");
    for (size_t k = 0; k < 3; k++) {
        if (k == (size_t)base)
            continue;
        char col[5][40];
        for (int c = 0; c < 2; c++) {
            strcpy(col[c], "-");
            if (ran_case[c] && ran[c][k] && ran[c][base]) {
                bench_summary a = bench_summarise(tp_res[c][k].calls_s, reps);
                bench_summary b = bench_summarise(tp_res[c][base].calls_s, reps);
                snprintf(col[c], sizeof col[c], "%.2fx (%.2fx)", a.median / b.median,
                         paired_ratio(tp_res[c][k].calls_s, tp_res[c][base].calls_s, reps));
            }
        }
        strcpy(col[2], "-");
        strcpy(col[3], "-");
        strcpy(col[4], "-");
        if (ran_case[CASE_RT] && ran[CASE_RT][k] && ran[CASE_RT][base]) {
            bench_summary a = bench_summarise(rt_res[k].p50, reps);
            bench_summary b = bench_summarise(rt_res[base].p50, reps);
            snprintf(col[2], sizeof col[2], "%.2fx (%.2fx)", a.median / b.median,
                     paired_ratio(rt_res[k].p50, rt_res[base].p50, reps));
            a = bench_summarise(rt_res[k].cpu_us, reps);
            b = bench_summarise(rt_res[base].cpu_us, reps);
            snprintf(col[3], sizeof col[3], "%.2fx", a.median / b.median);
            double pa = bench_quantile(rt_res[k].all_rt, rt_res[k].n_all, 0.99);
            double pb = bench_quantile(rt_res[base].all_rt, rt_res[base].n_all, 0.99);
            snprintf(col[4], sizeof col[4], "%.2fx", pb > 0 ? pa / pb : 0.0);
        }
        printf("  %-13s %16s %16s %16s %9s %12s\n", systems[k].name, col[0], col[1], col[2],
               col[4], col[3]);
    }
}

/* ---- main ------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_async [--quick] [--n N] [--warmup-n N] [--reps R] [--trips T]\n"
            "                   [--workers W] [--only NAME[,NAME...]] [--gap-us G]\n"
            "                   [--capacity C] [-v]\n"
            "                   [--list]\n"
            "  --quick       N = 50,000, 3 reps, 500 trips (a CI smoke run; rough numbers)\n"
            "  --n N         tasks per throughput rep (default 1,000,000)\n"
            "  --warmup-n N  tasks of the throughput warm-up rep (default: --n); the same\n"
            "                for two --n runs, the difference of their counts is the timed\n"
            "                calls alone (callgrind_async.sh)\n"
            "  --reps R      timed reps per case and system (default 5), after 1 warm-up\n"
            "  --trips T     round trips per rt rep (default 2,000)\n"
            "  --workers W   worker threads of every system (default 2)\n"
            "  --only NAMES  systems and/or cases to run (see --list); a list without a\n"
            "                system name runs every system, one without a case every case\n"
            "  --gap-us G    pause G us between round trips (default 0: back to back)\n"
            "  --capacity C  libfaas queue_capacity (default the larger N + 1024: never busy; 0: the\n"
            "                library default); a busy submit is retried after sched_yield()\n"
            "  -v, --verbose print every rep as it ends (warm-ups included)\n"
            "  --list        the systems and cases, then exit\n");
}

static uint64_t parse_count(const char *s, const char *what, int zero_ok)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || *s == '-' || (v == 0 && !zero_ok)) {
        fprintf(stderr, "bench_async: %s: expected a %s number, not \"%s\"\n", what,
                zero_ok ? "non-negative" : "positive", s);
        exit(2);
    }
    return (uint64_t)v;
}

/* The load average: the machine may be shared, so say how busy it was. The 4th field of
 * /proc/loadavg is "runnable/total" tasks; at start only this thread should be runnable. */
static void print_load(const char *when, int warn)
{
    char line[128] = "?";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f != NULL) {
        if (fgets(line, sizeof line, f) != NULL)
            line[strcspn(line, "\n")] = '\0';
        fclose(f);
    }
    printf("  load average %s: %s\n", when, line);
    double l1, l5, l15;
    int running = 0;
    if (warn && sscanf(line, "%lf %lf %lf %d/", &l1, &l5, &l15, &running) == 4 && running > 1)
        printf("  WARNING: %d other runnable task(s) at start: another process is using the "
               "CPUs, and the numbers are not comparable with a quiet run\n", running - 1);
}

/* Busy CPU time of the whole machine so far, in ns (from /proc/stat's first line; 0 if
 * unreadable). With the process's own CPU time it tells how much other processes ran. */
static uint64_t machine_busy_ns(void)
{
    unsigned long long v[8] = { 0 };
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL)
        return 0;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 8)
        return 0;
    /* user nice system idle iowait irq softirq steal: all but idle and iowait */
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    long hz = sysconf(_SC_CLK_TCK);
    return hz > 0 ? (uint64_t)(busy * (1000000000ull / (unsigned long long)hz)) : 0;
}

static void print_header(unsigned reps, unsigned trips)
{
    char cs[64] = "?";
    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    if (f != NULL) {
        if (fgets(cs, sizeof cs, f) != NULL)
            cs[strcspn(cs, "\n")] = '\0';
        fclose(f);
    }
    printf("libfaas %s bench_async: %ld online CPUs, clocksource %s, %u workers per system, "
           "N = %llu, %u reps (+1 warm-up), %u round trips/rep%s\n",
           faas_version(), sysconf(_SC_NPROCESSORS_ONLN), cs, opt.workers,
           (unsigned long long)opt.n, reps, trips, opt.quick ? " (--quick: rough numbers)" : "");
    size_t cap = faas_capacity();
    printf("  libfaas: faas_invoke_fn_async(empty host handler, 2-byte payload, callback), "
           "default accounting; queue_capacity %zu%s\n", cap ? cap : (size_t)65536,
           cap ? "" : " (default)");
#ifdef HAVE_LIBUV
    printf("  libuv %s: uv_queue_work; each producer is its loop's thread (submit, then "
           "uv_run), UV_THREADPOOL_SIZE=%u\n", uv_version_string(), opt.workers);
#endif
#ifdef HAVE_GLIB
    printf("  GLib %u.%u.%u: g_thread_pool_new(func, data, %u, exclusive TRUE), "
           "g_thread_pool_push\n", glib_major_version, glib_minor_version,
           glib_micro_version, opt.workers);
#endif
    printf("  completion: tasks count down an atomic; the last one signals a mutex+condvar "
           "event (libfaas: from its callback; libuv: from after_work_cb)\n");
    print_load("at start", 1);
}

int main(int argc, char **argv)
{
    opt.n = 1000000u;
    opt.workers = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0) {
            opt.quick = 1;
        } else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
            opt.verbose = 1;
        } else if (strcmp(a, "--n") == 0 && v) {
            opt.n = parse_count(v, "--n", 0);
            i++;
        } else if (strcmp(a, "--warmup-n") == 0 && v) {
            opt.warmup_n = parse_count(v, "--warmup-n", 0);
            i++;
        } else if (strcmp(a, "--reps") == 0 && v) {
            opt.reps = (unsigned)parse_count(v, "--reps", 0);
            i++;
        } else if (strcmp(a, "--trips") == 0 && v) {
            opt.trips = (unsigned)parse_count(v, "--trips", 0);
            i++;
        } else if (strcmp(a, "--workers") == 0 && v) {
            opt.workers = (unsigned)parse_count(v, "--workers", 0);
            i++;
        } else if (strcmp(a, "--gap-us") == 0 && v) {
            opt.gap_us = (unsigned)parse_count(v, "--gap-us", 1);
            i++;
        } else if (strcmp(a, "--capacity") == 0 && v) {
            opt.capacity = (long long)parse_count(v, "--capacity", 1);
            i++;
        } else if (strcmp(a, "--only") == 0 && v) {
            opt.only = v;
            i++;
        } else if (strcmp(a, "--list") == 0) {
            for (size_t k = 0; k < NSYS; k++)
                printf("%-13s %s%s\n", systems[k].name, systems[k].what,
                       systems[k].peer ? " (peer)" : "");
            for (int c = 0; c < NCASES; c++)
                printf("%-13s %s\n", case_names[c], case_what[c]);
            return 0;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (opt.quick && opt.n == 1000000u)
        opt.n = 50000u;
    unsigned reps = opt.reps ? opt.reps : opt.quick ? 3u : 5u;
    unsigned trips = opt.trips ? opt.trips : opt.quick ? 500u : 2000u;

    /* --only: names of systems, of cases, or both. */
    int want_sys[NSYS], want_case[NCASES], any_sys = 0, any_case = 0;
    for (size_t k = 0; k < NSYS; k++)
        any_sys += want_sys[k] = opt.only ? bench_selected(opt.only, systems[k].name) : 0;
    for (int c = 0; c < NCASES; c++)
        any_case += want_case[c] = opt.only ? bench_selected(opt.only, case_names[c]) : 0;
    if (opt.only != NULL && any_sys + any_case == 0) {
        fprintf(stderr, "bench_async: --only %s: no such system or case (see --list)\n",
                opt.only);
        return 2;
    }
    for (size_t k = 0; k < NSYS; k++)
        want_sys[k] = any_sys ? want_sys[k] : 1;
    for (int c = 0; c < NCASES; c++)
        want_case[c] = any_case ? want_case[c] : 1;

    /* A pause between round trips sleeps for real: without this, Linux's default timer
     * slack (50 us) would stretch a 20 us pause past the idle workers' spin window. */
    if (opt.gap_us)
        prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    print_header(reps, trips);

    uint64_t run_t0 = bench_now_ns(), busy0 = machine_busy_ns(), own0 = process_usage().cpu_ns;
    size_t active[NSYS], nact = 0;
    for (size_t k = 0; k < NSYS; k++) {
        if (!want_sys[k])
            continue;
        if (systems[k].setup(&systems[k]) != 0) {
            printf("  %s: not built in (configure found no %s); skipped\n", systems[k].name,
                   systems[k].name);
            continue;
        }
        systems[k].ready = 1;
        active[nact++] = k;
    }
    if (nact == 0)
        die("no system to run");

    int ran[NCASES][NSYS];
    memset(ran, 0, sizeof ran);
    for (int c = 0; c < NCASES; c++) {
        if (!want_case[c])
            continue;
        for (size_t j = 0; j < nact; j++) {
            size_t k = active[j];
            ran[c][k] = 1;
            if (c == CASE_RT) {
                rt_result *r = &rt_res[k];
                r->p50 = alloc_reps(reps);
                r->p99 = alloc_reps(reps);
                r->cpu_us = alloc_reps(reps);
                r->all_rt = calloc((size_t)reps * trips, sizeof(double));
                r->all_start = calloc((size_t)reps * trips, sizeof(double));
                r->all_done = calloc((size_t)reps * trips, sizeof(double));
                if (r->all_rt == NULL || r->all_start == NULL || r->all_done == NULL)
                    die("out of memory");
            } else {
                tp_result *t = &tp_res[c][k];
                t->calls_s = alloc_reps(reps);
                t->submit_ns = alloc_reps(reps);
                t->cpu_ns = alloc_reps(reps);
                t->sys_ns = alloc_reps(reps);
                t->csw = alloc_reps(reps);
                t->flt = alloc_reps(reps);
            }
        }
        /* rep -1 is the untimed warm-up. The systems run round-robin within a rep, and
         * the one that starts rotates, so that a noisy second and order effects are
         * spread over every system. */
        for (int rep = -1; rep < (int)reps; rep++) {
            for (size_t j = 0; j < nact; j++) {
                size_t k = active[(j + (size_t)(rep + 1)) % nact];
                sys *s = &systems[k];
                pause_us(PAUSE_US);
                if (c == CASE_RT) {
                    rt_result *r = &rt_res[k];
                    if (rep < 0) {
                        rt_rep(s, RT_WARMUP, NULL, NULL, NULL, NULL);
                        continue;
                    }
                    double *rt_us = r->all_rt + (size_t)rep * trips;
                    double *st_us = r->all_start + (size_t)rep * trips;
                    double *dn_us = r->all_done + (size_t)rep * trips;
                    rt_rep(s, trips, rt_us, st_us, dn_us, &r->cpu_us[rep]);
                    double *copy = malloc(trips * sizeof *copy);
                    if (copy == NULL)
                        die("out of memory");
                    memcpy(copy, rt_us, trips * sizeof *copy);
                    r->p50[rep] = bench_quantile(copy, trips, 0.5);
                    r->p99[rep] = bench_quantile(copy, trips, 0.99);
                    if (opt.verbose)
                        printf("  [rt rep %d %s] p50 %.1f us, p99 %.1f us, cpu %.1f us/trip\n",
                               rep, s->name, r->p50[rep], r->p99[rep], r->cpu_us[rep]);
                    free(copy);
                    r->n_all += trips;
                } else {
                    uint64_t n = rep < 0 && opt.warmup_n != 0 ? opt.warmup_n : opt.n;
                    tp_rep(s, c == CASE_TP1 ? 1 : 2, n, &tp_res[c][k], rep);
                }
            }
        }
        if (c == CASE_RT)
            print_rt(reps, trips, ran[c]);
        else
            print_tp(c, reps, ran[c]);
    }
    print_spin(reps, want_case, ran);
    printf("\n");
    print_load("at end", 0);
    uint64_t wall = bench_now_ns() - run_t0;
    uint64_t busy = machine_busy_ns() - busy0, own = process_usage().cpu_ns - own0;
    if (busy0 != 0 && wall > 0) {
        double other = busy > own ? (double)(busy - own) / (double)wall : 0.0;
        printf("  other processes used %.0f%% of one CPU during the run%s\n", other * 100,
               other > 0.05 ? ": WARNING, the machine was not quiet" : "");
    }

    for (size_t j = 0; j < nact; j++)
        systems[active[j]].teardown(&systems[active[j]]);
    return 0;
}
