/*
 * runtime.c - the faas_runtime lifecycle: options, the timer thread, manual mode, the
 * record hook, the version, and the teardown order. The only file that knows every part.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *faas_version(void)
{
    return FAAS_VERSION_STRING;
}

unsigned faas_version_number(void)
{
    return FAAS_VERSION_HEX;
}

#define WORKERS_MAX 4096u

int faas_runtime_new(faas_runtime **out, const faas_options *opts)
{
    if (out == NULL)
        return faas__fail(FAAS_EINVAL, "faas_runtime_new: out is NULL");
    *out = NULL;
    faas_options o;
    if (opts != NULL)
        o = *opts;
    else
        memset(&o, 0, sizeof o);

    const faas__price *price = faas__price_find(o.price_model ? o.price_model
                                                              : "aws-lambda-x86");
    if (price == NULL)
        return faas__fail(FAAS_EINVAL, "faas_runtime_new: unknown price model \"%.80s\"",
                          o.price_model);
    if (o.workers == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o.workers = n > 0 ? (unsigned)n : 1;
    }
    if (o.workers > WORKERS_MAX)
        return faas__fail(FAAS_EINVAL, "faas_runtime_new: %u workers is more than %u",
                          o.workers, WORKERS_MAX);
    if (o.queue_capacity == 0)
        o.queue_capacity = FAAS__DEFAULT_QUEUE;
    if (o.max_payload_sync == 0)
        o.max_payload_sync = FAAS__DEFAULT_SYNC_LIMIT;
    if (o.max_payload_async == 0)
        o.max_payload_async = FAAS__DEFAULT_ASYNC_LIMIT;
    o.price_model = price->name;
    if (price->cpu_basis)
        o.cpu_time = 1;                 /* a model that bills CPU time needs it measured */

    faas_runtime *rt = calloc(1, sizeof *rt);
    if (rt == NULL)
        return faas__fail(FAAS_ENOMEM, "faas_runtime_new: out of memory");
    rt->opts = o;
    rt->price = price;
    pthread_rwlock_init(&rt->reg_lock, NULL);
    pthread_mutex_init(&rt->mod_lock, NULL);
    pthread_mutex_init(&rt->hook_lock, NULL);
    atomic_init(&rt->hook, NULL);
    atomic_init(&rt->closing, false);
    atomic_init(&rt->remote, NULL);
    atomic_init(&rt->remote_users, 0);
    pthread_mutex_init(&rt->parts_lock, NULL);
    rt->parts = NULL;
    int rc = faas__timers_init(rt, !o.manual);
    if (rc == FAAS_OK) {
        rc = faas__sched_init(rt);
        if (rc != FAAS_OK) {
            faas__sched_destroy(rt);
            faas__timers_stop(rt);
        }
    } else {
        faas__timers_stop(rt);
    }
    if (rc != FAAS_OK) {
        faas__timers_destroy(rt);
        pthread_mutex_destroy(&rt->parts_lock);
        pthread_mutex_destroy(&rt->hook_lock);
        pthread_mutex_destroy(&rt->mod_lock);
        pthread_rwlock_destroy(&rt->reg_lock);
        free(rt);
        return rc;
    }
    *out = rt;
    return FAAS_OK;
}

void faas_runtime_free(faas_runtime *rt)
{
    if (rt == NULL)
        return;
    atomic_store(&rt->closing, true);     /* new calls: FAAS_ESHUTDOWN */
    /* The workers finish the call they are running and exit. The timer thread stops and
     * each timer still armed fires once, cancelled, on this thread: a call waiting for a
     * retry completes FAAS_ESHUTDOWN. So does every call still queued, then (in the
     * registry) every parked one; then each function's instances are shut down, and the
     * last user of a module unloads it. Attached parts (NATS) first stop taking work, and
     * are closed once every local call has completed: a call they handed to the scheduler
     * reports back to them until then. */
    pthread_mutex_lock(&rt->parts_lock);
    faas__part *parts = rt->parts;
    rt->parts = NULL;
    pthread_mutex_unlock(&rt->parts_lock);
    for (faas__part *p = parts; p != NULL; p = p->next)
        p->stop(p);
    faas__sched_stop(rt);
    faas__timers_stop(rt);
    faas__sched_cancel_queued(rt);
    faas__registry_close(rt);
    while (parts != NULL) {
        faas__part *next = parts->next;
        parts->close(parts);
        parts = next;
    }
    faas__sched_destroy(rt);
    faas__timers_destroy(rt);

    faas__hook *h = rt->hooks;
    while (h != NULL) {
        faas__hook *older = h->older;
        free(h);
        h = older;
    }
    pthread_mutex_destroy(&rt->parts_lock);
    pthread_mutex_destroy(&rt->hook_lock);
    pthread_mutex_destroy(&rt->mod_lock);
    pthread_rwlock_destroy(&rt->reg_lock);
    free(rt);
}

/* ---- attached parts ------------------------------------------------------------------------ */

int faas__part_add(faas_runtime *rt, faas__part *p)
{
    int rc = FAAS_OK;
    pthread_mutex_lock(&rt->parts_lock);
    faas__part *q = rt->parts;
    while (q != NULL && strcmp(q->kind, p->kind) != 0)
        q = q->next;
    if (atomic_load(&rt->closing))
        rc = faas__fail(FAAS_ESHUTDOWN, "the runtime is shutting down");
    else if (q != NULL)
        rc = faas__fail(FAAS_EEXIST, "a %s part is already attached to this runtime", p->kind);
    else {
        p->next = rt->parts;
        rt->parts = p;
    }
    pthread_mutex_unlock(&rt->parts_lock);
    return rc;
}

faas__part *faas__part_take(faas_runtime *rt, const char *kind)
{
    pthread_mutex_lock(&rt->parts_lock);
    faas__part **pp = &rt->parts;
    while (*pp != NULL && strcmp((*pp)->kind, kind) != 0)
        pp = &(*pp)->next;
    faas__part *p = *pp;
    if (p != NULL)
        *pp = p->next;
    pthread_mutex_unlock(&rt->parts_lock);
    return p;
}

bool faas__part_with(faas_runtime *rt, const char *kind, void (*fn)(faas__part *p, void *arg),
                     void *arg)
{
    pthread_mutex_lock(&rt->parts_lock);
    faas__part *p = rt->parts;
    while (p != NULL && strcmp(p->kind, kind) != 0)
        p = p->next;
    if (p != NULL)
        fn(p, arg);
    pthread_mutex_unlock(&rt->parts_lock);
    return p != NULL;
}

int faas_run_pending(faas_runtime *rt)
{
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_run_pending: runtime is NULL");
    if (!rt->opts.manual) {
        faas__timers_kick(rt);          /* a test clock may have jumped: look again */
        return 0;
    }
    int n = faas__timers_run_due(rt);   /* due retries join the queue */
    return n + faas__sched_run_queued(rt);
}

/* Manual mode: run on this thread until nothing is pending. With the system clock, wait
 * for the next timer (a retry's backoff) in real time; with a test clock, time moves only
 * when the test moves it, so stop when nothing can run. */
static uint64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int drain_manual(faas_runtime *rt, uint64_t deadline, uint64_t real_deadline)
{
    faas__sched *s = &rt->sched;
    for (;;) {
        int ran = faas_run_pending(rt);
        if (atomic_load(&s->pending) == 0)
            return FAAS_OK;
        if (ran > 0 && real_ns() < real_deadline)   /* callbacks that keep queueing work */
            continue;
        uint64_t now = faas__now(rt);
        uint64_t next = faas__timers_next_due(rt);
        if (rt->opts.clock.mono_ns != NULL || next == UINT64_MAX || next > deadline ||
            now >= deadline)
            return faas__fail(FAAS_ETIMEOUT, "faas_drain: %zu calls still pending",
                              atomic_load(&s->pending));
        if (next > now) {
            struct timespec ts = { (time_t)((next - now) / 1000000000u),
                                   (long)((next - now) % 1000000000u) };
            nanosleep(&ts, NULL);
        }
    }
}

int faas_drain(faas_runtime *rt, unsigned timeout_ms)
{
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_drain: runtime is NULL");
    faas__sched *s = &rt->sched;
    uint64_t real_deadline = real_ns() + (uint64_t)timeout_ms * 1000000u;
    if (rt->opts.manual)
        return drain_manual(rt, faas__now(rt) + (uint64_t)timeout_ms * 1000000u,
                            real_deadline);
    struct timespec at = { (time_t)(real_deadline / 1000000000u),
                           (long)(real_deadline % 1000000000u) };
    int rc = FAAS_OK;
    pthread_mutex_lock(&s->lock);
    atomic_fetch_add(&s->drainers, 1);
    while (atomic_load(&s->pending) > 0) {
        if (pthread_cond_timedwait(&s->quiet, &s->lock, &at) != 0 &&
            atomic_load(&s->pending) > 0) {
            rc = faas__fail(FAAS_ETIMEOUT, "faas_drain: %zu calls still pending after %u ms",
                            atomic_load(&s->pending), timeout_ms);
            break;
        }
    }
    atomic_fetch_sub(&s->drainers, 1);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void faas_on_record(faas_runtime *rt, faas_record_hook hook, void *arg)
{
    if (rt == NULL)
        return;
    faas__hook *h = NULL;
    if (hook != NULL) {
        h = malloc(sizeof *h);
        if (h == NULL) {
            faas__fail(FAAS_ENOMEM, "faas_on_record: out of memory");
            return;
        }
        h->fn = hook;
        h->arg = arg;
    }
    /* Old hooks stay allocated until the runtime is freed: a call on another thread may
     * still be using the one it loaded. */
    pthread_mutex_lock(&rt->hook_lock);
    if (h != NULL) {
        h->older = rt->hooks;
        rt->hooks = h;
    }
    atomic_store_explicit(&rt->hook, h, memory_order_release);
    pthread_mutex_unlock(&rt->hook_lock);
}
