/*
 * runtime.c - the faas_runtime lifecycle: options, the timer thread, manual mode, the
 * record hook, the version, and the teardown order. The only file that knows every part.
 */
#include "internal.h"
#include "abi.h"

#include <stdio.h>
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
    int rc = faas__abi_copy(&o, sizeof o, opts, FAAS__OPTIONS_V1, "faas_runtime_new");
    if (rc != FAAS_OK)
        return rc;

    const faas_price_model *model = o.price;
    if (model != NULL) {
        rc = faas__price_check(model);
        if (rc != FAAS_OK) {
            char why[512];
            snprintf(why, sizeof why, "%s", faas_last_error());
            return faas__fail(rc, "faas_runtime_new: %s", why);
        }
    } else {
        model = faas_price_model_find(o.price_model ? o.price_model : "aws-lambda-x86");
        if (model == NULL)
            return faas__fail(FAAS_EINVAL, "faas_runtime_new: unknown price model "
                              "\"%.80s\"", o.price_model);
    }
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
    if (model->time_basis == FAAS_TIME_CPU)
        o.cpu_time = 1;                 /* a model that bills CPU time needs it measured */
    int clock_kind = o.clock.mono_ns != NULL ? FAAS__CLOCK_USER
                     : faas__tsc_start() ? FAAS__CLOCK_TSC   /* where the kernel vouches */
                                         : FAAS__CLOCK_SYSTEM;

    faas_runtime *rt = faas__zalloc_lines(sizeof *rt);   /* the scheduler's lines */
    faas_price_model *price = faas__price_dup(model);    /* the caller's may go away */
    if (rt == NULL || price == NULL) {
        free(rt);
        free(price);
        return faas__fail(FAAS_ENOMEM, "faas_runtime_new: out of memory");
    }
    o.price_model = price->name;
    o.price = price;
    rt->opts = o;
    rt->price = price;
    rt->clock_kind = clock_kind;
    pthread_rwlock_init(&rt->reg_lock, NULL);
    pthread_mutex_init(&rt->mod_lock, NULL);
    pthread_mutex_init(&rt->hook_lock, NULL);
    pthread_mutex_init(&rt->budget_lock, NULL);
    pthread_mutex_init(&rt->part_lock, NULL);
    atomic_init(&rt->parts, NULL);
    atomic_init(&rt->hook, NULL);
    atomic_init(&rt->closing, false);
    atomic_init(&rt->remote, NULL);
    atomic_init(&rt->remote_users, 0);
    atomic_init(&rt->route_rng, faas__rand64());  /* alias routing; faas_routing_seed() */
    pthread_mutex_init(&rt->attach_lock, NULL);
    rt->attachments = NULL;
    rt->journal = NULL;
    rt->opts.journal_dir = NULL;          /* the caller's string is not kept */
    if (o.journal_dir != NULL)
        rc = faas__journal_open(rt, o.journal_dir, o.journal_segment_bytes, &rt->journal);
    if (rc != FAAS_OK) {
        pthread_mutex_destroy(&rt->attach_lock);
        pthread_mutex_destroy(&rt->budget_lock);
        pthread_mutex_destroy(&rt->part_lock);
        pthread_mutex_destroy(&rt->hook_lock);
        pthread_mutex_destroy(&rt->mod_lock);
        pthread_rwlock_destroy(&rt->reg_lock);
        free(rt->price);
        free(rt);
        return rc;
    }
    rc = faas__timers_init(rt, !o.manual);
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
        faas__journal_close(rt->journal);
        pthread_mutex_destroy(&rt->attach_lock);
        pthread_mutex_destroy(&rt->budget_lock);
        pthread_mutex_destroy(&rt->part_lock);
        pthread_mutex_destroy(&rt->hook_lock);
        pthread_mutex_destroy(&rt->mod_lock);
        pthread_rwlock_destroy(&rt->reg_lock);
        free(rt->price);
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
    /* Calls cancelled from now on stay in the journal's files as they are. */
    if (rt->journal != NULL)
        faas__journal_closing(rt->journal);
    /* The optional parts stop first, so that nothing submits calls any more (what they
     * still try is refused). */
    faas__part *part = atomic_load(&rt->parts);
    while (part != NULL) {
        faas__part *next = part->next;
        part->ops->free(part);
        part = next;
    }
    /* The workers finish the call they are running and exit. The timer thread stops and
     * each timer still armed fires once, cancelled, on this thread: a call waiting for a
     * retry completes FAAS_ESHUTDOWN. So does every call still queued, then (in the
     * registry) every parked one; then each function's instances are shut down, and the
     * last user of a module unloads it. Attachments (NATS) first stop taking work, and
     * are closed once every local call has completed: a call they handed to the scheduler
     * reports back to them until then. */
    pthread_mutex_lock(&rt->attach_lock);
    faas__attachment *attached = rt->attachments;
    rt->attachments = NULL;
    pthread_mutex_unlock(&rt->attach_lock);
    for (faas__attachment *a = attached; a != NULL; a = a->next)
        a->stop(a);
    faas__sched_stop(rt);
    faas__timers_stop(rt);
    faas__sched_cancel_queued(rt);
    faas__registry_close(rt);
    while (attached != NULL) {
        faas__attachment *next = attached->next;
        attached->close(attached);
        attached = next;
    }
    /* Every call has completed: what the journal buffered is written and synced. */
    faas__journal_close(rt->journal);
    faas__sched_destroy(rt);
    faas__timers_destroy(rt);

    faas__recent_free(rt->recent);
    faas__hook *h = rt->hooks;
    while (h != NULL) {
        faas__hook *older = h->older;
        free(h);
        h = older;
    }
    pthread_mutex_destroy(&rt->attach_lock);
    faas__budgets_free(rt);
    pthread_mutex_destroy(&rt->budget_lock);
    pthread_mutex_destroy(&rt->part_lock);
    pthread_mutex_destroy(&rt->hook_lock);
    pthread_mutex_destroy(&rt->mod_lock);
    pthread_rwlock_destroy(&rt->reg_lock);
    free(rt->price);
    free(rt);
}

/* ---- attachments ---------------------------------------------------------------------------- */

int faas__attach_add(faas_runtime *rt, faas__attachment *a)
{
    int rc = FAAS_OK;
    pthread_mutex_lock(&rt->attach_lock);
    faas__attachment *q = rt->attachments;
    while (q != NULL && strcmp(q->kind, a->kind) != 0)
        q = q->next;
    if (atomic_load(&rt->closing))
        rc = faas__fail(FAAS_ESHUTDOWN, "the runtime is shutting down");
    else if (q != NULL)
        rc = faas__fail(FAAS_EEXIST, "a %s part is already attached to this runtime", a->kind);
    else {
        a->next = rt->attachments;
        rt->attachments = a;
    }
    pthread_mutex_unlock(&rt->attach_lock);
    return rc;
}

faas__attachment *faas__attach_take(faas_runtime *rt, const char *kind)
{
    pthread_mutex_lock(&rt->attach_lock);
    faas__attachment **pp = &rt->attachments;
    while (*pp != NULL && strcmp((*pp)->kind, kind) != 0)
        pp = &(*pp)->next;
    faas__attachment *a = *pp;
    if (a != NULL)
        *pp = a->next;
    pthread_mutex_unlock(&rt->attach_lock);
    return a;
}

bool faas__attach_with(faas_runtime *rt, const char *kind,
                       void (*fn)(faas__attachment *a, void *arg), void *arg)
{
    pthread_mutex_lock(&rt->attach_lock);
    faas__attachment *a = rt->attachments;
    while (a != NULL && strcmp(a->kind, kind) != 0)
        a = a->next;
    if (a != NULL)
        fn(a, arg);
    pthread_mutex_unlock(&rt->attach_lock);
    return a != NULL;
}

/* ---- optional parts --------------------------------------------------------------------------- */

faas__part *faas__part_find(faas_runtime *rt, const faas__part_ops *ops)
{
    faas__part *p = atomic_load_explicit(&rt->parts, memory_order_acquire);
    while (p != NULL && p->ops != ops)
        p = p->next;
    return p;
}

faas__part *faas__part_get(faas_runtime *rt, const faas__part_ops *ops,
                           faas__part *(*create)(faas_runtime *rt))
{
    faas__part *p = faas__part_find(rt, ops);
    if (p != NULL)
        return p;
    pthread_mutex_lock(&rt->part_lock);
    p = faas__part_find(rt, ops);           /* made meanwhile by another thread? */
    if (p == NULL) {
        p = create(rt);
        if (p != NULL) {
            p->ops = ops;
            p->next = atomic_load_explicit(&rt->parts, memory_order_relaxed);
            atomic_store_explicit(&rt->parts, p, memory_order_release);
        }
    }
    pthread_mutex_unlock(&rt->part_lock);
    return p;
}

/* Manual mode: what the optional parts have ready becomes queued calls. */
static int poll_parts(faas_runtime *rt)
{
    int n = 0;
    for (faas__part *p = atomic_load_explicit(&rt->parts, memory_order_acquire); p != NULL;
         p = p->next)
        if (p->ops->poll != NULL) {
            int k = p->ops->poll(p);
            if (k > 0)
                n += k;
        }
    return n;
}

int faas_run_pending(faas_runtime *rt)
{
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_run_pending: runtime is NULL");
    if (!rt->opts.manual) {
        faas__timers_kick(rt);          /* a test clock may have jumped: look again */
        return 0;
    }
    int n = poll_parts(rt);             /* events that arrived join the queue */
    n += faas__timers_run_due(rt);      /* so do due retries and schedules */
    return n + faas__sched_run_queued(rt);
}

/* Manual mode: run on this thread until nothing is pending. With the system clock, wait
 * for the next timer (a retry's backoff) in real time; with a test clock, time moves only
 * when the test moves it, so stop when nothing can run. */
static int drain_manual(faas_runtime *rt, uint64_t deadline, uint64_t real_deadline)
{
    for (;;) {
        int ran = faas_run_pending(rt);
        if (faas__sched_pending(rt) == 0)
            return FAAS_OK;
        if (ran > 0 && faas__sys_mono_ns() < real_deadline)  /* callbacks queueing work */
            continue;
        uint64_t now = faas__now(rt);
        uint64_t next = faas__timers_next_due(rt);
        if (rt->opts.clock.mono_ns != NULL || next == UINT64_MAX || next > deadline ||
            now >= deadline)
            return faas__fail(FAAS_ETIMEOUT, "faas_drain: %zu calls still pending",
                              faas__sched_pending(rt));
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
    /* The call (or callback) on this thread is pending until it returns. */
    if (faas__on_worker_of(rt))
        return faas__fail(FAAS_EBUSY, "faas_drain: called from an asynchronous call or its "
                          "callback on this runtime's own worker: it would wait for itself");
    uint64_t real_deadline = faas__sys_mono_ns() + (uint64_t)timeout_ms * 1000000u;
    if (rt->opts.manual)
        return drain_manual(rt, faas__now(rt) + (uint64_t)timeout_ms * 1000000u,
                            real_deadline);
    struct timespec at = { (time_t)(real_deadline / 1000000000u),
                           (long)(real_deadline % 1000000000u) };
    int rc = FAAS_OK;
    pthread_mutex_lock(&s->lock);
    atomic_fetch_add(&s->drainers, 1);
    while (faas__sched_pending(rt) > 0) {
        if (pthread_cond_timedwait(&s->quiet, &s->lock, &at) != 0 &&
            faas__sched_pending(rt) > 0) {
            rc = faas__fail(FAAS_ETIMEOUT, "faas_drain: %zu calls still pending after %u ms",
                            faas__sched_pending(rt), timeout_ms);
            break;
        }
    }
    atomic_fetch_sub(&s->drainers, 1);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int faas__hook_publish_locked(faas_runtime *rt)
{
    faas__hook *h = NULL;
    bool keep = rt->recent != NULL && rt->recent_users > 0;
    if (keep || rt->user_hook != NULL) {
        h = calloc(1, sizeof *h);
        if (h == NULL)
            return faas__fail(FAAS_ENOMEM, "record hook: out of memory");
        if (keep) {
            h->fn = faas__recent_hook;
            h->arg = h;
            h->user = rt->user_hook;
            h->user_arg = rt->user_hook_arg;
            h->recent = rt->recent;
        } else {
            h->fn = rt->user_hook;
            h->arg = rt->user_hook_arg;
        }
        /* Old hooks stay allocated until the runtime is freed: a call on another thread
         * may still be using the one it loaded. */
        h->older = rt->hooks;
        rt->hooks = h;
    }
    atomic_store_explicit(&rt->hook, h, memory_order_release);
    return FAAS_OK;
}

void faas_on_record(faas_runtime *rt, faas_record_hook hook, void *arg)
{
    if (rt == NULL)
        return;
    pthread_mutex_lock(&rt->hook_lock);
    faas_record_hook was = rt->user_hook;
    void *was_arg = rt->user_hook_arg;
    rt->user_hook = hook;
    rt->user_hook_arg = arg;
    if (faas__hook_publish_locked(rt) != FAAS_OK) {
        rt->user_hook = was;                /* the failure is said; nothing changed */
        rt->user_hook_arg = was_arg;
    }
    pthread_mutex_unlock(&rt->hook_lock);
}

const char *faas_clock_source(const faas_runtime *rt)
{
    if (rt == NULL)
        return "";
    return rt->opts.clock.mono_ns != NULL ? "custom" : faas__tsc_source();
}
