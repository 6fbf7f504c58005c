/*
 * sched.c - asynchronous invocation: jobs, the run queue and its worker threads, retries
 * with exponential backoff and full jitter, dead letters, futures, drain and the
 * cancellation of what is still pending at shutdown.
 *
 * Every accepted call is a job and ends in exactly one completion (callback or future):
 * success, final failure, or cancellation. A job holds a reference on its function, so a
 * queued call survives the function's unregistration (and then fails FAAS_ENOTFOUND).
 * Parking at max_concurrency lives in the pool (instance.c); this file only re-queues.
 */
#include "internal.h"
#include "lock.h"
#include "text.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define DEFAULT_RETRY_BASE_MS 100u
#define DEFAULT_RETRY_CAP_MS  10000u
#define DEFAULT_SPIN_US       50

struct faas_future {
    faas_runtime   *rt;         /* read only while the call is pending (manual mode) */
    bool            manual;     /* the runtime has no workers: waiting runs its queue */
    bool            system_clock;
    pthread_mutex_t lock;       /* protects everything below */
    pthread_cond_t  done_cv;
    bool            done;
    bool            taken;      /* the response was handed to a faas_future_wait() */
    bool            abandoned;  /* faas_future_free() came first */
    faas_response   res;
    char            request_id[37];
};

/* ---- jobs ----------------------------------------------------------------------------- */

static void retry_fire(faas__timer *t, int cancelled);

/* The runtime whose worker this thread is (NULL on any other thread), and its lane. */
static _Thread_local const faas_runtime *tls_worker_of __attribute__((tls_model("initial-exec")));
static _Thread_local unsigned tls_lane __attribute__((tls_model("initial-exec")));
/* The lane this thread pushed its last call to: a thread's calls go round the lanes. */
static _Thread_local unsigned tls_next_lane __attribute__((tls_model("initial-exec")));

bool faas__on_worker_of(const faas_runtime *rt)
{
    return tls_worker_of == rt;
}

/* This thread's lane if it is one of s's workers, else NULL. */
static faas__lane *worker_lane(const faas__sched *s)
{
    return tls_worker_of != NULL && &tls_worker_of->sched == s ? &s->lanes[tls_lane] : NULL;
}

/* The lines of a job the submitter writes (its first 128 bytes and a small payload's first
 * bytes, which share a line with request_id), fetched for writing while it finishes the
 * current call: a cached job was last read by a worker on the other core (and written, if
 * it came back through a stack), and without this every submit waited for its lines one
 * miss at a time. */
static inline void job_prefetch(const faas__job *job)
{
    /* Addresses at most a line apart up to the payload's 16th byte: every line of that
     * span holds one (a job starts 16-byte aligned, so the span is 3 or 4 lines). */
    const char *p = (const char *)job;
    __builtin_prefetch(p, 1, 3);
    __builtin_prefetch(p + FAAS__CACHELINE, 1, 3);
    __builtin_prefetch(p + 2 * FAAS__CACHELINE, 1, 3);
    __builtin_prefetch(&job->inline_buf[15], 1, 3);
}

/* Requires s->cache_lock and an empty cache: take the jobs some lane got back, trying the
 * lanes in turn from the one after the last taken. */
static void cache_refill(faas__sched *s)
{
    for (unsigned i = 0; i < s->nlanes && s->cache == NULL; i++) {
        unsigned k = s->cache_lane + 1 < s->nlanes ? s->cache_lane + 1 : 0;
        s->cache_lane = k;
        if (atomic_load_explicit(&s->lanes[k].returned, memory_order_relaxed) != NULL)
            s->cache = atomic_exchange_explicit(&s->lanes[k].returned, NULL,
                                                memory_order_acquire);
    }
}

/* The lines of the next job a worker will run, read on its next call: the submitter has
 * just written them on its own core, or, in a deep queue, long ago. A worker writes none
 * of them on the common path. */
static inline void job_prefetch_run(const faas__job *job)
{
    const char *p = (const char *)job;
    __builtin_prefetch(p, 0, 3);
    __builtin_prefetch(p + FAAS__CACHELINE, 0, 3);
    __builtin_prefetch(p + 2 * FAAS__CACHELINE, 0, 3);
}

#define SLOT_MASK (FAAS__LANE_SLOTS - 1)

/* Requires s->cache_lock: a job some lane's worker put back in its ring, the lanes tried in
 * turn from the last one that had one, or NULL. The next one is fetched meanwhile. */
static faas__job *back_take(faas__sched *s)
{
    for (unsigned i = 0; i < s->nlanes; i++) {
        faas__lane *l = &s->lanes[s->cache_lane];
        _Atomic(faas__job *) *slot = &l->back[l->back_head & SLOT_MASK];
        faas__job *job = atomic_load_explicit(slot, memory_order_acquire);
        if (job != NULL) {
            atomic_store_explicit(slot, NULL, memory_order_relaxed);
            l->back_head++;
            faas__job *next = atomic_load_explicit(&l->back[l->back_head & SLOT_MASK],
                                                   memory_order_relaxed);
            if (next != NULL)
                job_prefetch(next);
            return job;
        }
        s->cache_lane = s->cache_lane + 1 < s->nlanes ? s->cache_lane + 1 : 0;
    }
    return NULL;
}

/* A job from the cache, or a new one. */
static faas__job *job_get(faas__sched *s)
{
    faas__lock_take(&s->cache_lock);
    /* The cache first, then the lanes' rings, then their stacks. */
    faas__job *job = s->cache == NULL ? back_take(s) : NULL;
    if (job == NULL) {
        if (s->cache == NULL)
            cache_refill(s);
        job = s->cache;
        if (job != NULL)
            s->cache = job->next;
    }
    faas__job *next = s->cache;
    faas__lock_drop(&s->cache_lock);
    if (job != NULL) {
        if (next != NULL)
            job_prefetch(next);
        return job;
    }
    job = malloc(sizeof *job);
    if (job != NULL) {
        atomic_fetch_add_explicit(&s->allocated, 1, memory_order_relaxed);
        faas__timer_init(&job->retry, retry_fire);  /* once: idle again each time it is free */
    }
    return job;
}

/* A job that will not be reused. */
static void job_free(faas__sched *s, faas__job *job)
{
    atomic_fetch_sub_explicit(&s->allocated, 1, memory_order_relaxed);
    free(job);
}

/* A job goes back to the cache (or to free() while more than cache_max exist). Any
 * thread. Bounding the jobs that exist, instead of counting those cached, keeps the
 * cache at most cache_max (a job enters it only while no more than that exist) without an
 * atomic on a shared line per call: allocated changes only when one is malloc'd or freed. */
static void job_put(faas__sched *s, faas__job *job)
{
    if (job->payload != job->inline_buf)
        free(job->payload);
    /* At most as many as can be pending at once: the cache is the high-water mark of the
     * queue, reused, instead of first-touch page faults on every burst. */
    if (atomic_load_explicit(&s->allocated, memory_order_relaxed) > s->cache_max) {
        if (atomic_fetch_sub_explicit(&s->allocated, 1, memory_order_relaxed) > s->cache_max) {
            free(job);
            return;
        }
        atomic_fetch_add_explicit(&s->allocated, 1, memory_order_relaxed);
    }
    /* A worker returns its jobs to its own lane's ring, so that neither the job's line
     * nor the ring's is also taken by the other workers. */
    faas__lane *mine = worker_lane(s);
    if (mine != NULL) {
        _Atomic(faas__job *) *slot = &mine->back[mine->back_tail & SLOT_MASK];
        if (atomic_load_explicit(slot, memory_order_relaxed) == NULL) {
            atomic_store_explicit(slot, job, memory_order_release);
            mine->back_tail++;
            return;
        }
    }
    /* A push-only stack emptied with one exchange: no ABA. */
    _Atomic(faas__job *) *returned = &(mine != NULL ? mine : &s->lanes[0])->returned;
    faas__job *head = atomic_load_explicit(returned, memory_order_relaxed);
    do
        job->next = head;
    while (!atomic_compare_exchange_weak_explicit(returned, &head, job,
                                                  memory_order_release,
                                                  memory_order_relaxed));
}

static void free_list(faas__job *job)
{
    while (job != NULL) {
        faas__job *next = job->next;
        free(job);
        job = next;
    }
}

static faas__job *job_new(faas__sched *s, faas_function *fn, const void *payload, size_t len)
{
    faas__job *job = job_get(s);
    if (job == NULL)
        return NULL;
    if (len < FAAS__JOB_INLINE) {
        job->payload = job->inline_buf;
    } else {
        job->payload = malloc(len + 1);
        if (job->payload == NULL) {
            job_free(s, job);
            return NULL;
        }
    }
    if (len > 0)
        memcpy(job->payload, payload, len);
    job->payload[len] = '\0';      /* not counted in len: a handler that forgets len is safe */
    job->len = len;
    job->next = NULL;
    job->fn = fn;
    job->cb = NULL;
    job->arg = NULL;
    job->future = NULL;
    job->attempt = 1;
    job->slotted = false;
    job->no_retry = false;
    job->id_text = false;
    job->jent.kind = FAAS__JE_NONE;
    return job;
}

const char *faas__job_id(faas__job *job)
{
    if (!job->id_text) {
        faas__request_id_format(job->id_bits, job->request_id);
        job->id_text = true;
    }
    return job->request_id;
}

/* The completions counted so far: read before accepted, the difference never falls below
 * the calls pending at the end (a completion follows its acceptance). */
static size_t completions(const faas__sched *s)
{
    size_t n = atomic_load(&s->completed_other);
    for (unsigned i = 0; i < s->nlanes; i++)
        n += atomic_load(&s->lanes[i].completed);
    return n;
}

static size_t sched_pending(const faas__sched *s)
{
    size_t done = completions(s);
    return atomic_load(&s->accepted) - done;
}

size_t faas__sched_pending(const faas_runtime *rt)
{
    return sched_pending(&rt->sched);
}

/* Free the retired functions if no call is pending (nothing can name them then). */
static void reclaim(faas__sched *s)
{
    pthread_mutex_lock(&s->retired_lock);
    faas_function *list = NULL;
    if (sched_pending(s) == 0) {
        list = s->retired;
        s->retired = NULL;
        atomic_store(&s->has_retired, false);
    }
    pthread_mutex_unlock(&s->retired_lock);
    while (list != NULL) {
        faas_function *next = list->retired_next;
        faas__fn_free(list);
        list = next;
    }
}

void faas__sched_retire(faas_runtime *rt, faas_function *fn)
{
    faas__sched *s = &rt->sched;
    pthread_mutex_lock(&s->retired_lock);
    fn->retired_next = s->retired;
    s->retired = fn;
    atomic_store(&s->has_retired, true);
    pthread_mutex_unlock(&s->retired_lock);
    reclaim(s);
}

/* One accepted call less (completed, or not accepted after all): on the worker's own line
 * if a worker of s completed it. The last one wakes faas_drain and frees retired
 * functions: with a drainer or a retired function, each completion looks whether it was
 * the last (the later of two racing completions sees both: seq_cst, each adds first). */
static void unaccept(faas__sched *s)
{
    faas__lane *mine = worker_lane(s);
    atomic_fetch_add(mine != NULL ? &mine->completed : &s->completed_other, 1);
    if ((atomic_load(&s->drainers) > 0 || atomic_load(&s->has_retired)) &&
        sched_pending(s) == 0) {
        if (atomic_load(&s->drainers) > 0) {
            pthread_mutex_lock(&s->lock);
            pthread_cond_broadcast(&s->quiet);
            pthread_mutex_unlock(&s->lock);
        }
        if (atomic_load_explicit(&s->has_retired, memory_order_relaxed))
            reclaim(s);
    }
}

/* The end of a job: recycle it and count it out of pending. The job no longer touches its
 * function after this (it may be freed by the next line). */
static void job_release(faas_runtime *rt, faas__job *job)
{
    faas__sched *s = &rt->sched;
    job_put(s, job);
    unaccept(s);
}

/* The journal learns how a journaled call ended: a call cancelled at shutdown did not run
 * and stays for the next start; any other completion is final. */
static inline void journal_end(faas_runtime *rt, faas__job *job, int status)
{
    if (__builtin_expect(job->jent.kind == FAAS__JE_NONE, 1))
        return;
    if (status == FAAS_ESHUTDOWN)
        faas__journal_keep(rt->journal, job);
    else
        faas__journal_done(rt->journal, job);
}

/* Hand res to whoever waits for the job, then release it. res is consumed. borrowed: its
 * record.function holds no reference (see faas__run). A journaled call leaves the journal
 * once its callback has returned. */
static void job_complete(faas_runtime *rt, faas__job *job, faas_response *res, bool borrowed)
{
    int status = res->status;
    faas_future *f = job->future;
    if (f != NULL) {
        if (borrowed)                       /* the future outlives the job: take one */
            atomic_fetch_add_explicit(&job->fn->name->refs, 1, memory_order_relaxed);
        pthread_mutex_lock(&f->lock);
        bool abandoned = f->abandoned;
        if (!abandoned) {
            f->res = *res;                  /* moved: the future owns it now */
            f->done = true;
            pthread_cond_broadcast(&f->done_cv);
        }
        pthread_mutex_unlock(&f->lock);
        if (abandoned) {
            faas_response_free(res);
            pthread_cond_destroy(&f->done_cv);
            pthread_mutex_destroy(&f->lock);
            free(f);
        }
    } else {
        if (job->cb != NULL)
            job->cb(res, job->arg);
        if (borrowed)
            faas__response_free_borrowed(res);
        else
            faas_response_free(res);
    }
    journal_end(rt, job, status);
    job_release(rt, job);
}

void faas__job_complete(faas_runtime *rt, faas__job *job, faas_response *res)
{
    job_complete(rt, job, res, false);
}

void faas__job_cancel(faas__job *job, int status, const char *why)
{
    faas_runtime *rt = job->fn->rt;
    if (job->slotted) {
        job->slotted = false;
        faas__slot_release_held(job->fn, &job->slot);
    }
    faas_response res;
    faas__response_service_error(&res, status, faas__job_id(job), job->fn, "%s", why);
    res.record.attempt = job->attempt;      /* the attempt that did not run */
    job_complete(rt, job, &res, false);
}

/* ---- retries and dead letters ----------------------------------------------------------- */

bool faas__retryable(int status)
{
    switch (status) {
    case FAAS_EHANDLER: case FAAS_ETIMEOUT: case FAAS_EMEMORY: case FAAS_ECRASHED:
    case FAAS_ELOAD: case FAAS_EINIT: case FAAS_ENOMEM:
        return true;
    default:
        return false;
    }
}

/* Full jitter: a uniform delay in [0, min(cap, base x 2^(attempt-1))] ms, in ns. */
uint64_t faas__backoff_ns(const faas_runtime *rt, int attempt)
{
    uint64_t ceiling = rt->opts.retry_base_ms;
    for (int i = 1; i < attempt && ceiling < rt->opts.retry_cap_ms; i++)
        ceiling *= 2;
    if (ceiling > rt->opts.retry_cap_ms)
        ceiling = rt->opts.retry_cap_ms;
    uint64_t ceiling_ns = ceiling * 1000000u;
    return faas__rand64() % (ceiling_ns + 1);
}

/* A new call: to the run queue, or (a function at its concurrency limit) to the function's
 * FIFO, from which the pool queues it with a slot when one frees. FAAS_ENOTFOUND if the
 * function was unregistered meanwhile: then the call is not accepted, and the caller
 * disposes of the job without a completion. */
static int enqueue(faas_runtime *rt, faas__job *job)
{
    faas_function *fn = job->fn;
    if (fn->cfg.max_concurrency != 0) {
        int rc = faas__slot_take_or_park(fn, job);
        if (rc == FAAS__PARKED)
            return FAAS_OK;
        if (rc != FAAS_OK)
            return rc;
    }
    faas__sched_push(rt, job);
    return FAAS_OK;
}

/* A job that was never accepted: no completion, only its resources (and, if it was
 * journaled already, a DONE record that takes it out again). */
static void job_discard(faas_runtime *rt, faas__job *job)
{
    if (job->jent.kind != FAAS__JE_NONE)
        faas__journal_done(rt->journal, job);
    job_release(rt, job);
}

/* A retry's backoff is over: back to the run queue, where a worker runs (or parks) it.
 * Cancelled: the runtime is being freed, and this runs on the thread that frees it. */
static void retry_fire(faas__timer *t, int cancelled)
{
    faas__job *job = faas__container_of(t, faas__job, retry);
    faas_runtime *rt = job->fn->rt;
    if (cancelled) {
        faas__job_cancel(job, FAAS_ESHUTDOWN, "the runtime is shutting down");
    } else {
        job->queued_ns = faas__now(rt);
        faas__sched_push(rt, job);
    }
}

static int accept_call(faas_runtime *rt, faas_function *fn, const char *name,
                       const void *payload, size_t len, bool limits, bool may_remote,
                       faas__job **out);
static bool remote_takes_all(faas_runtime *rt);

/* The request payload as JSON: itself when it is JSON, else a string of its bytes. */
static json_t *payload_json(const unsigned char *payload, size_t len)
{
    json_t *j = json_loadb((const char *)payload, len, JSON_DECODE_ANY, NULL);
    if (j != NULL)
        return j;
    j = json_stringn((const char *)payload, len);
    if (j != NULL)
        return j;
    char *copy = malloc(len + 1);                  /* not UTF-8: replace the odd bytes */
    if (copy == NULL)
        return json_null();
    for (size_t i = 0; i < len; i++) {
        unsigned char c = payload[i];
        copy[i] = (c >= 0x80 || c == 0) ? '?' : (char)c;
    }
    j = json_stringn(copy, len);
    free(copy);
    return j ? j : json_null();
}

/* Lambda's on-failure destination record. condition: "RetriesExhausted" after the last
 * failed run (last is its response, attempts the runs made), or "BudgetExceeded" for a call
 * its tag's budget stopped (last is the FAAS_EBUDGET service error: no run, so no
 * functionError, and statusCode 429, a refusal as a throttle is). A call that found no
 * function to run (a NATS worker without it: FAAS_ENOTFOUND) did not run either: 404. */
char *faas__dead_letter_envelope(faas_runtime *rt, const char *request_id,
                                 const char *function, const char *condition, int attempts,
                                 const void *payload, size_t len, const faas_response *last)
{
    bool ran = last->status != FAAS_EBUDGET && last->status != FAAS_ENOTFOUND;
    char when[25];
    faas__format_time(faas__wall(rt), when);
    json_t *response = last->len ? json_loadb(last->data, last->len, 0, NULL) : NULL;
    if (response == NULL)
        response = json_pack("{s:s?, s:s?}", "errorMessage", last->error_message,
                             "errorType", last->error_type);
    json_t *context = ran
        ? json_pack("{s:i, s:s, s:s}", "statusCode", 200, "executedVersion", "$LATEST",
                    "functionError", "Unhandled")
        : json_pack("{s:i, s:s}", "statusCode", last->status == FAAS_EBUDGET ? 429 : 404,
                    "executedVersion", "$LATEST");
    json_t *env = json_pack(
        "{s:s, s:s, s:{s:s, s:s, s:s, s:i}, s:o, s:o, s:o}",
        "version", "1.0",
        "timestamp", when,
        "requestContext",
            "requestId", request_id,
            "functionArn", function,
            "condition", condition,
            "approximateInvokeCount", attempts,
        "requestPayload", payload_json(payload, len),
        "responseContext", context ? context : json_null(),
        "responsePayload", response ? response : json_null());
    char *text = env ? json_dumps(env, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(env);
    return text;
}

/* The envelope, to the function's dead letter (a local call). */
static void send_dead_letter(faas_runtime *rt, faas__job *job, const faas_response *last,
                             const char *condition)
{
    faas_function *fn = job->fn;
    bool ran = last->status != FAAS_EBUDGET;
    char *text = faas__dead_letter_envelope(rt, faas__job_id(job), fn->name->name, condition,
                                            ran ? job->attempt : job->attempt - 1,
                                            job->payload, job->len, last);
    int rc = FAAS_ENOMEM;
    if (text != NULL) {
        faas__job *dj;
        rc = accept_call(rt, NULL, fn->dead_letter, text, strlen(text), false, false, &dj);
        if (rc == FAAS_OK) {
            dj->no_retry = true;
            /* Journaled before the failed call's DONE: one of the two is always there. */
            if (rt->journal != NULL)
                rc = faas__journal_accept(rt->journal, dj, NULL);
            if (rc == FAAS_OK)
                rc = enqueue(rt, dj);
            if (rc != FAAS_OK)
                job_discard(rt, dj);
        }
        free(text);
    }
    if (rc == FAAS_OK) {
        atomic_fetch_add_explicit(&fn->counters[faas__shard()].dead_letters, 1,
                                  memory_order_relaxed);
    } else {
        char line[300];
        snprintf(line, sizeof line, "ERROR %s: dead letter to %s not delivered: %s",
                 faas__job_id(job), fn->dead_letter, faas_strerror(rc));
        faas__log_line(rt, line);
    }
}

void faas__job_dead_letter(faas_runtime *rt, faas__job *job, const faas_response *last)
{
    if (job->fn->dead_letter != NULL)
        send_dead_letter(rt, job, last, "RetriesExhausted");
}

/* ---- running a job ------------------------------------------------------------------------ */

/* The tag's budget is spent: the call goes to the dead letter (condition
 * "BudgetExceeded") instead of running, and completes with the FAAS_EBUDGET error. */
static void refuse_over_budget(faas_runtime *rt, faas__job *job, faas_response *res)
{
    faas_function *fn = job->fn;
    if (job->slotted) {
        job->slotted = false;
        faas__slot_release_held(fn, &job->slot);
    }
    faas__emit(rt, &res->record, false);
    if (fn->dead_letter != NULL && !job->no_retry)
        send_dead_letter(rt, job, res, "BudgetExceeded");
    job_complete(rt, job, res, false);
}

static void run_job(faas_runtime *rt, faas__job *job)
{
    faas_function *fn = job->fn;
    faas__slot slot;
    faas_response res;
    /* The id's text on this stack, not in the job: the record copies it, and a job line
     * this worker wrote would be a line the submitter reusing the job takes back from this
     * CPU. The rare paths below (retry, dead letter, cancel) format it in the job. */
    char idbuf[37];
    const char *id = job->request_id;
    if (!job->id_text) {
        faas__request_id_format(job->id_bits, idbuf);
        id = idbuf;
    }
    int rc = faas__budget_check(fn, id, job->attempt, &res);
    if (rc != FAAS_OK) {
        refuse_over_budget(rt, job, &res);
        return;
    }
    if (!job->slotted && fn->cfg.max_concurrency != 0) {
        /* A retry of a function with a limit: it takes its slot now, or waits its turn. */
        rc = faas__slot_take_or_park(fn, job);
        if (rc == FAAS__PARKED)
            return;
        if (rc != FAAS_OK) {
            faas__job_cancel(job, rc, "Function not found: it was unregistered");
            return;
        }
    }
    if (job->slotted) {
        /* The slot stops being "held" by a queued call: the call starts, or, if the
         * function was unregistered meanwhile, the slot goes back. */
        rc = faas__slot_claim(fn);
        slot = job->slot;
        job->slotted = false;
        if (rc != FAAS_OK) {
            if (slot.inst != NULL)
                faas__slot_give(fn, slot.inst, true, faas__now(rt));
            else
                faas__slot_cancel(fn);
            faas__job_cancel(job, rc, "Function not found: it was unregistered");
            return;
        }
    } else {
        rc = faas__slot_take(fn, &slot);    /* no limit: only an unregistration fails */
        if (rc != FAAS_OK) {
            faas__job_cancel(job, rc, "Function not found: it was unregistered");
            return;
        }
    }
    int status = faas__run(fn, &slot, job->payload, job->len, job->attempt, id, &res, true,
                           &job->queued_ns);
    if (status != FAAS_OK && faas__retryable(status) && !job->no_retry) {
        /* Armed even while the runtime stops: the timer then fires cancelled, and the
         * call ends FAAS_ESHUTDOWN like any other call waiting for a retry. */
        if ((unsigned)job->attempt <= fn->cfg.max_retries) {
            uint64_t due = faas__now(rt) + faas__backoff_ns(rt, job->attempt);
            job->attempt++;
            if (faas__timer_arm(rt, &job->retry, due) == FAAS_OK) {
                faas__response_free_borrowed(&res);
                return;
            }
            job->attempt--;             /* no memory for the timer: this failure is final */
        }
        if (fn->dead_letter != NULL)
            send_dead_letter(rt, job, &res, "RetriesExhausted");
    }
    job_complete(rt, job, &res, true);
}

/* ---- the run queue --------------------------------------------------------------------------- */

void faas__sched_push(faas_runtime *rt, faas__job *job)
{
    faas__sched *s = &rt->sched;
    unsigned k = tls_next_lane + 1;
    if (k >= s->nlanes)
        k = 0;
    tls_next_lane = k;
    faas__lane *l = &s->lanes[k];
    faas__lock_take(&l->push);
    _Atomic(faas__job *) *slot = &l->slot[l->ptail & SLOT_MASK];
    if (l->over_head == NULL && atomic_load_explicit(slot, memory_order_relaxed) == NULL) {
        atomic_store(slot, job);        /* seq_cst: a worker about to sleep looks at it */
        l->ptail++;
    } else {
        /* The ring is full, or was and its overflow has calls still: behind them. */
        job->next = NULL;
        if (l->over_head == NULL) {
            l->over_head = job;
            atomic_store(&l->overflowed, true);
        } else {
            l->over_tail->next = job;
        }
        l->over_tail = job;
    }
    faas__lock_drop(&l->push);
    /* A worker counts itself asleep, then looks at every lane, then waits (under the
     * lock); this pushes, then looks at the count: one of the two sees the other (a call
     * appended to an overflow list that has calls already is seen through overflowed,
     * stored when the list began). Any
     * worker woken takes the call (from another's lane if need be). A sleeper that a
     * wake-up is already on its way to (wakes) will look once it runs, so a burst wakes
     * each sleeper once instead of taking the lock on every submit. */
    if (atomic_load(&s->sleeping) > atomic_load(&s->wakes)) {
        pthread_mutex_lock(&s->lock);
        if (atomic_load(&s->sleeping) > atomic_load(&s->wakes)) {
            atomic_fetch_add(&s->wakes, 1);
            pthread_cond_signal(&s->work);
        }
        pthread_mutex_unlock(&s->lock);
    }
}

/* Requires l->lock and l->push. If the ring is empty, the overflow list becomes the backlog
 * (its calls are older than any a submitter puts in the ring from now on). If it is not,
 * nothing: between the caller's look at the ring and its look at overflowed, submitters
 * filled the ring and began a new overflow list, whose calls are younger than the ring's.
 * (That window is a few instructions wide: no test reaches it.) */
static void lane_take_overflow(faas__lane *l)
{
    if (atomic_load_explicit(&l->slot[atomic_load_explicit(&l->chead, memory_order_relaxed)
                                      & SLOT_MASK], memory_order_relaxed) != NULL)
        return;                 /* filled since it was looked at: the ring's calls first */
    atomic_store_explicit(&l->backlog, l->over_head, memory_order_release);
    l->over_head = NULL;
    l->over_tail = NULL;
    atomic_store_explicit(&l->overflowed, false, memory_order_release);
}

/* Requires l->lock. The oldest job of lane l, or NULL if it has none. */
static faas__job *lane_pop(faas__lane *l)
{
    faas__job *job = atomic_load_explicit(&l->backlog, memory_order_relaxed);
    if (job != NULL) {
        atomic_store_explicit(&l->backlog, job->next, memory_order_relaxed);
        return job;
    }
    unsigned h = atomic_load_explicit(&l->chead, memory_order_relaxed);
    _Atomic(faas__job *) *slot = &l->slot[h & SLOT_MASK];
    job = atomic_load_explicit(slot, memory_order_acquire);
    if (job == NULL) {
        if (!atomic_load_explicit(&l->overflowed, memory_order_acquire))
            return NULL;                                /* empty */
        faas__lock_take(&l->push);
        lane_take_overflow(l);
        faas__lock_drop(&l->push);
        return lane_pop(l);
    }
    atomic_store_explicit(slot, NULL, memory_order_relaxed);
    atomic_store_explicit(&l->chead, h + 1, memory_order_relaxed);
    return job;
}

/* Requires l->lock: the job lane_pop would return next, or NULL (not looking past the
 * ring into the overflow list). */
static faas__job *lane_peek(faas__lane *l)
{
    faas__job *job = atomic_load_explicit(&l->backlog, memory_order_relaxed);
    if (job == NULL) {
        unsigned h = atomic_load_explicit(&l->chead, memory_order_relaxed);
        job = atomic_load_explicit(&l->slot[h & SLOT_MASK], memory_order_acquire);
    }
    return job;
}

/* The oldest job of a lane, or NULL; the next one is fetched while this one runs (in a
 * deep queue it was written long ago by its submitter). */
static faas__job *lane_take(faas__lane *l)
{
    faas__lock_take(&l->lock);
    faas__job *job = lane_pop(l);
    if (job != NULL) {
        faas__job *next = lane_peek(l);
        if (next != NULL)
            job_prefetch_run(next);
    }
    faas__lock_drop(&l->lock);
    return job;
}

/* Has lane l a job? Any thread, no lock. seq_cst, as the submitter's store into the ring
 * (see faas__sched_push). A worker taking from the lane meanwhile may make this miss a
 * call; that worker looks again before it sleeps. */
static inline bool lane_busy(faas__lane *l)
{
    unsigned h = atomic_load(&l->chead);
    return atomic_load(&l->slot[h & SLOT_MASK]) != NULL || atomic_load(&l->overflowed) ||
           atomic_load(&l->backlog) != NULL;
}

/* Requires l->lock: when the oldest job of lane l was queued; 0 if its calls wait only in
 * the overflow list (the oldest, then), UINT64_MAX if it has none. */
static uint64_t lane_oldest_ns(faas__lane *l)
{
    faas__job *job = lane_peek(l);
    if (job != NULL)
        return job->queued_ns;
    return atomic_load_explicit(&l->overflowed, memory_order_acquire) ? 0 : UINT64_MAX;
}

/* Every STEAL_EVERY calls a worker with a lane of its own to run looks whether another
 * lane's oldest job waited longer than its own, and takes it if so: a lane whose worker
 * is held by a long call is emptied by the others even while their own lanes never are
 * (without this, its calls would wait for that call to end under a steady load). Only
 * a lane whose lock is free at once is looked at. */
#define STEAL_EVERY 16

static faas__job *take_older(faas__sched *s, unsigned own)
{
    faas__lane *mine = &s->lanes[own];
    faas__lock_take(&mine->lock);
    uint64_t my_oldest = lane_oldest_ns(mine);
    faas__lock_drop(&mine->lock);
    for (unsigned i = 1; i < s->nlanes; i++) {
        faas__lane *l = &s->lanes[(own + i) % s->nlanes];
        if (!lane_busy(l) || !faas__lock_try(&l->lock))
            continue;
        faas__job *job = lane_oldest_ns(l) < my_oldest ? lane_pop(l) : NULL;
        faas__lock_drop(&l->lock);
        if (job != NULL)
            return job;
    }
    return NULL;
}

/* The oldest job of lane `own`, or else of the first other lane that has one; now and
 * then the oldest of another lane if it is older (take_older). */
static faas__job *take_one(faas__sched *s, unsigned own, unsigned *turn)
{
    if (s->nlanes > 1 && ++*turn % STEAL_EVERY == 0) {
        faas__job *older = take_older(s, own);
        if (older != NULL)
            return older;
    }
    faas__job *job = lane_take(&s->lanes[own]);
    for (unsigned i = 1; job == NULL && i < s->nlanes; i++) {
        faas__lane *l = &s->lanes[(own + i) % s->nlanes];
        if (lane_busy(l))
            job = lane_take(l);
    }
    return job;
}

static inline bool work_visible(faas__sched *s)
{
    for (unsigned i = 0; i < s->nlanes; i++)
        if (lane_busy(&s->lanes[i]))
            return true;
    return atomic_load_explicit(&s->stop, memory_order_relaxed);
}

/* An idle worker polls for up to *budget ns before it sleeps, so that a call arriving in
 * that window costs no wake-up. Only one worker polls at a time (the others would take
 * the CPU from the threads that submit), and the budget adapts: it doubles (up to spin_ns)
 * when polling found work and halves when it did not, so sparse calls cost little. */
static bool spin_for_work(faas__sched *s, uint64_t *budget)
{
    unsigned expected = 0;
    if (*budget == 0 ||
        !atomic_compare_exchange_strong(&s->spinners, &expected, 1))
        return false;
    uint64_t start = faas__sys_mono_ns();
    bool found = false;
    for (unsigned i = 1;; i++) {
        if (work_visible(s)) {
            found = true;
            break;
        }
        faas__cpu_relax();
        if ((i & 63) == 0 && faas__sys_mono_ns() - start > *budget)
            break;
    }
    atomic_store(&s->spinners, 0);
    if (found)
        *budget = *budget * 2 > s->spin_ns ? s->spin_ns : *budget * 2;
    else if (*budget > s->spin_ns / 16)
        *budget /= 2;
    return found;
}

static void *worker_main(void *arg)
{
    faas_runtime *rt = arg;
    faas__sched *s = &rt->sched;
    unsigned own = atomic_fetch_add(&s->lanes_taken, 1) % s->nlanes;
    tls_worker_of = rt;
    tls_lane = own;
    uint64_t budget = s->spin_ns;
    unsigned turn = 0;
    while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
        /* One call at a time: a call taken in a batch would wait behind a long handler
         * while another worker sits idle. */
        faas__job *job = take_one(s, own, &turn);
        if (job != NULL) {
            run_job(rt, job);
            continue;
        }
        if (spin_for_work(s, &budget))
            continue;
        /* Counted asleep, then a last look (seq_cst both, as faas__sched_push's push and
         * its look at sleeping: one of the two sees the other), then the wait. */
        pthread_mutex_lock(&s->lock);
        atomic_fetch_add_explicit(&s->sleeping, 1, memory_order_seq_cst);
        if (!work_visible(s))
            pthread_cond_wait(&s->work, &s->lock);
        atomic_fetch_sub_explicit(&s->sleeping, 1, memory_order_relaxed);
        /* Awake (or never asleep): a wake-up on its way is one less. At most as many wakes
         * as sleepers with a signal still to come, so none is ever counted that is not. */
        if (atomic_load_explicit(&s->wakes, memory_order_relaxed) > 0)
            atomic_fetch_sub(&s->wakes, 1);
        pthread_mutex_unlock(&s->lock);
    }
    return NULL;
}

/* Requires nothing. Every job queued now, lane after lane, each lane's oldest first (the
 * lanes are emptied), linked by next. */
static faas__job *take_all(faas__sched *s)
{
    faas__job *all = NULL, **end = &all;
    for (unsigned i = 0; i < s->nlanes; i++) {
        faas__lane *l = &s->lanes[i];
        faas__lock_take(&l->lock);
        faas__job *job;
        while ((job = lane_pop(l)) != NULL) {
            *end = job;
            end = &job->next;
        }
        faas__lock_drop(&l->lock);
    }
    *end = NULL;
    return all;
}

int faas__sched_run_queued(faas_runtime *rt)
{
    faas__job *batch = take_all(&rt->sched);
    int ran = 0;
    while (batch != NULL) {
        faas__job *job = batch;
        batch = job->next;
        job->next = NULL;
        run_job(rt, job);
        ran++;
    }
    return ran;
}

/* ---- lifecycle -------------------------------------------------------------------------------- */

int faas__sched_init(faas_runtime *rt)
{
    faas__sched *s = &rt->sched;
    faas_options *o = &rt->opts;
    if (o->retry_base_ms == 0)
        o->retry_base_ms = DEFAULT_RETRY_BASE_MS;
    if (o->retry_cap_ms == 0)
        o->retry_cap_ms = DEFAULT_RETRY_CAP_MS;
    if (o->retry_cap_ms < o->retry_base_ms)
        o->retry_cap_ms = o->retry_base_ms;
    int spin = o->idle_spin_us == 0 ? DEFAULT_SPIN_US : o->idle_spin_us;
    s->spin_ns = spin > 0 ? (uint64_t)spin * 1000u : 0;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);   /* faas_drain's deadline */
    pthread_cond_init(&s->quiet, &ca);
    pthread_condattr_destroy(&ca);
    faas__lock_init(&s->cache_lock);
    pthread_mutex_init(&s->retired_lock, NULL);
    s->cache_max = o->queue_capacity;
    s->retired = NULL;
    atomic_init(&s->has_retired, false);
    atomic_init(&s->allocated, 0);
    atomic_init(&s->sleeping, 0);
    atomic_init(&s->wakes, 0);
    atomic_init(&s->spinners, 0);
    atomic_init(&s->lanes_taken, 0);
    atomic_init(&s->accepted, 0);
    atomic_init(&s->completed_seen, 0);
    atomic_init(&s->completed_other, 0);
    atomic_init(&s->drainers, 0);
    atomic_init(&s->stop, false);
    s->cache = NULL;
    s->cache_lane = 0;
    s->nthreads = 0;
    s->threads = NULL;
    unsigned nlanes = o->manual || o->workers == 0 ? 1 : o->workers;
    s->lanes = faas__zalloc_lines(nlanes * sizeof *s->lanes);
    if (s->lanes == NULL)       /* nlanes stays 0: faas__sched_destroy looks at none */
        return faas__fail(FAAS_ENOMEM, "faas_runtime_new: out of memory for %u run queues",
                          nlanes);
    s->nlanes = nlanes;
    for (unsigned i = 0; i < s->nlanes; i++) {
        faas__lane *l = &s->lanes[i];
        faas__lock_init(&l->push);
        faas__lock_init(&l->lock);
        atomic_init(&l->completed, 0);
        l->ptail = 0;
        l->over_head = NULL;
        l->over_tail = NULL;
        atomic_init(&l->overflowed, false);
        atomic_init(&l->chead, 0);
        atomic_init(&l->backlog, NULL);
        l->back_head = 0;
        l->back_tail = 0;
        for (unsigned j = 0; j < FAAS__LANE_SLOTS; j++) {
            atomic_init(&l->slot[j], NULL);
            atomic_init(&l->back[j], NULL);
        }
        atomic_init(&l->returned, NULL);
    }
    if (o->manual)
        return FAAS_OK;
    s->threads = calloc(o->workers, sizeof *s->threads);
    if (s->threads == NULL)
        return faas__fail(FAAS_ENOMEM, "faas_runtime_new: out of memory for %u workers",
                          o->workers);
    for (unsigned i = 0; i < o->workers; i++) {
        int err = pthread_create(&s->threads[i], NULL, worker_main, rt);
        if (err != 0) {
            faas__sched_stop(rt);
            return faas__fail(FAAS_ENOMEM, "pthread_create (worker %u): %s", i,
                              strerror(err));
        }
        s->nthreads++;
    }
    return FAAS_OK;
}

void faas__sched_stop(faas_runtime *rt)
{
    faas__sched *s = &rt->sched;
    pthread_mutex_lock(&s->lock);
    atomic_store(&s->stop, true);
    pthread_cond_broadcast(&s->work);
    pthread_mutex_unlock(&s->lock);
    for (unsigned i = 0; i < s->nthreads; i++)
        pthread_join(s->threads[i], NULL);
    s->nthreads = 0;
}

void faas__sched_cancel_queued(faas_runtime *rt)
{
    faas__job *jobs;
    while ((jobs = take_all(&rt->sched)) != NULL) {
        while (jobs != NULL) {
            faas__job *next = jobs->next;
            faas__job_cancel(jobs, FAAS_ESHUTDOWN, "the runtime is shutting down");
            jobs = next;
        }
    }
}

void faas__sched_destroy(faas_runtime *rt)
{
    faas__sched *s = &rt->sched;
    free(s->threads);
    s->threads = NULL;
    free_list(s->cache);
    s->cache = NULL;
    reclaim(s);                         /* nothing is pending any more (before the lanes
                                           go: their completions count) */
    for (unsigned i = 0; s->lanes != NULL && i < s->nlanes; i++) {
        free_list(atomic_exchange(&s->lanes[i].returned, NULL));
        for (unsigned j = 0; j < FAAS__LANE_SLOTS; j++)
            free(atomic_exchange(&s->lanes[i].back[j], NULL));
    }
    free(s->lanes);
    s->lanes = NULL;
    s->nlanes = 0;
    pthread_mutex_destroy(&s->retired_lock);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->quiet);
    pthread_mutex_destroy(&s->lock);
}

/* ---- submitting ------------------------------------------------------------------------------ */

/* Accept a call of fn, or of NAME when fn is NULL: a job, not queued yet. The call counts
 * as pending before the name is looked up, so that an unregistration meanwhile cannot free
 * the function under it (see faas__sched_retire). limits: apply the async payload limit
 * and queue_capacity (a dead-letter envelope is exempt). may_remote: a name not registered
 * here is accepted (job->fn NULL) when a remote part takes every call. */
static int accept_call(faas_runtime *rt, faas_function *fn, const char *name,
                       const void *payload, size_t len, bool limits, bool may_remote,
                       faas__job **out)
{
    faas__sched *s = &rt->sched;
    if (atomic_load_explicit(&rt->closing, memory_order_relaxed))
        return faas__fail(FAAS_ESHUTDOWN, "the runtime is shutting down");
    if (payload == NULL && len > 0)
        return faas__fail(FAAS_EINVAL, "payload is NULL with length %zu", len);
    if (limits && len > rt->opts.max_payload_async)
        return faas__fail(FAAS_ETOOLARGE, "%zu byte payload is too large for the Event "
                          "invocation type (limit %zu bytes)", len, rt->opts.max_payload_async);
    /* The calls pending before this one: the acceptances before it less completions
     * counted before it was accepted. Those are completions of calls accepted earlier, so
     * the count is too high (by what completed since), never too low: queue_capacity is
     * never exceeded. Only when the count seems to reach it is the call withdrawn and the
     * completions counted again, then accepted anew against them: exact but for calls that
     * complete meanwhile, and of two calls racing for the last place one gets it. */
    size_t seen = atomic_load_explicit(&s->completed_seen, memory_order_acquire);
    size_t before = atomic_fetch_add(&s->accepted, 1) - seen;
    if (limits && before >= rt->opts.queue_capacity) {
        unaccept(s);
        seen = completions(s);
        atomic_store_explicit(&s->completed_seen, seen, memory_order_release);
        before = atomic_fetch_add(&s->accepted, 1) - seen;
    }
    if (limits && before >= rt->opts.queue_capacity) {
        unaccept(s);
        return faas__fail(FAAS_EBUSY, "the queue is full: %zu calls pending (queue_capacity)",
                          before);
    }
    if (fn == NULL) {
        int rc;
        fn = faas__lookup_fn(rt, name, &rc);
        if (fn == NULL && !(rc == FAAS_ENOTFOUND && may_remote && remote_takes_all(rt))) {
            unaccept(s);
            return rc == FAAS_EINVAL
                ? faas__fail(rc, "invalid function name \"%.80s\"", name ? name : "(null)")
                : faas__fail(rc, "Function not found: %.200s", name);
        }
    }
    faas__job *job = job_new(s, fn, payload, len);
    if (job == NULL) {
        unaccept(s);
        return faas__fail(FAAS_ENOMEM, "out of memory queueing a %zu byte call", len);
    }
    faas__request_id_bits(job->id_bits);   /* the text is made when someone reads it */
    job->queued_ns = faas__now(rt);
    *out = job;
    return FAAS_OK;
}

/* ---- remote parts ------------------------------------------------------------------------ */

static bool remote_takes_all(faas_runtime *rt)
{
    faas__remote *r = atomic_load_explicit(&rt->remote, memory_order_acquire);
    return r != NULL && r->all;
}

int faas__remote_set(faas_runtime *rt, faas__remote *r)
{
    faas__remote *none = NULL;
    if (!atomic_compare_exchange_strong(&rt->remote, &none, r))
        return faas__fail(FAAS_EEXIST, "another part already takes this runtime's async calls");
    return FAAS_OK;
}

void faas__remote_clear(faas_runtime *rt)
{
    atomic_store(&rt->remote, NULL);
    /* A submitter counts itself in before it loads the pointer (remote_queue), so once the
     * count is seen at zero after the store, nobody can still be using the old part. The
     * wait is a publish long at most. */
    while (atomic_load(&rt->remote_users) != 0)
        sched_yield();
}

/* The remote part may take the call: counted in first, then the pointer loaded again (the
 * part may have been cleared since queue_call looked). Not taken: the local path. */
static int remote_queue(faas_runtime *rt, faas__job *job, const char *name)
{
    atomic_fetch_add(&rt->remote_users, 1);
    faas__remote *r = atomic_load(&rt->remote);
    int rc;
    if (r != NULL && (job->fn == NULL || r->all || job->fn->cfg.remote)) {
        rc = r->submit(r, job, job->fn ? job->fn->key : name);  /* "NAME:3" for a version */
        atomic_fetch_sub(&rt->remote_users, 1);
        if (rc != FAAS_OK)
            job_discard(rt, job);
        return rc;
    }
    atomic_fetch_sub(&rt->remote_users, 1);
    if (job->fn == NULL) {             /* the part that would have taken it went away */
        job_discard(rt, job);
        return faas__fail(FAAS_ENOTFOUND, "Function not found: %.80s", name);
    }
    rc = enqueue(rt, job);
    if (rc != FAAS_OK) {
        faas__fail(rc, "Function not found: %s was unregistered", job->fn->name->name);
        job_discard(rt, job);
    }
    return rc;
}

int faas__sched_submit_once(faas_runtime *rt, const char *name, const void *payload,
                            size_t len, const char *request_id, int attempt,
                            void (*cb)(const faas_response *res, void *arg), void *arg)
{
    faas__job *job = NULL;
    int rc = accept_call(rt, NULL, name, payload, len, false, false, &job);
    if (rc != FAAS_OK)
        return rc;
    memcpy(job->request_id, request_id, 36);
    job->request_id[36] = '\0';
    job->id_text = true;
    job->attempt = attempt > 0 ? attempt : 1;
    job->no_retry = true;
    job->cb = cb;
    job->arg = arg;
    rc = enqueue(rt, job);
    if (rc != FAAS_OK) {
        faas__fail(rc, "Function not found: %s was unregistered", name);
        job_discard(rt, job);
    }
    return rc;
}

/* ---- submitting (continued) ------------------------------------------------------------------- */

/* Queue an accepted call; a function unregistered meanwhile refuses it (no completion).
 * name: what the caller named (NULL through a handle). */
static int queue_call(faas_runtime *rt, faas__job *job, faas_callback cb, void *arg,
                      char request_id[37], const char *name)
{
    job->cb = cb;
    job->arg = arg;
    /* Accepted means durable: in the journal (synced) before anything can run it. A call
     * replayed from the journal is in it already. */
    if (rt->journal != NULL && job->jent.kind == FAAS__JE_NONE) {
        int rc = faas__journal_accept(rt->journal, job, name);
        if (rc != FAAS_OK) {
            job_discard(rt, job);
            return rc;
        }
    }
    if (request_id != NULL)             /* before it is queued: a worker may free it at once */
        memcpy(request_id, faas__job_id(job), 37);
    /* The one branch a remote part costs the local path (job->fn is NULL only for a name
     * accepted because a part took every call). */
    if (__builtin_expect(atomic_load_explicit(&rt->remote, memory_order_relaxed) != NULL ||
                         job->fn == NULL, 0))
        return remote_queue(rt, job, name);
    int rc = enqueue(rt, job);
    if (rc != FAAS_OK) {
        faas__fail(rc, "Function not found: %s was unregistered", job->fn->name->name);
        job_discard(rt, job);
    }
    return rc;
}

int faas_invoke_async(faas_runtime *rt, const char *name, const void *payload, size_t len,
                      faas_callback cb, void *arg, char request_id[37])
{
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_invoke_async: runtime is NULL");
    faas__job *job = NULL;
    int rc = accept_call(rt, NULL, name, payload, len, true, true, &job);
    return rc == FAAS_OK ? queue_call(rt, job, cb, arg, request_id, name) : rc;
}

int faas_invoke_fn_async(faas_function *fn, const void *payload, size_t len,
                         faas_callback cb, void *arg, char request_id[37])
{
    if (fn == NULL)
        return faas__fail(FAAS_EINVAL, "faas_invoke_fn_async: function is NULL");
    if (fn->kind == FAAS__ALIAS) {          /* routed now: the call runs that version */
        faas_function *v = faas__route_pick(fn);
        if (v == NULL)
            return faas__fail(FAAS_ENOTFOUND, "Function not found: %.200s (the alias was "
                              "deleted)", fn->key);
        fn = v;
    }
    faas__job *job = NULL;
    int rc = accept_call(fn->rt, fn, NULL, payload, len, true, false, &job);
    return rc == FAAS_OK ? queue_call(fn->rt, job, cb, arg, request_id, NULL) : rc;
}

/* ---- calls found in the journal ------------------------------------------------------------ */

int faas__sched_replay(faas_runtime *rt, faas__jreplay *rep,
                       void (*cb)(const faas_response *res, void *arg), void *arg)
{
    faas__jcall c;
    faas__journal_call(rep, &c);
    char name[256], id[37];
    snprintf(name, sizeof name, "%s", c.name);  /* rep goes once its job adopts it */
    faas__request_id_format(c.id, id);
    faas__job *job = NULL;
    int rc = accept_call(rt, NULL, name, c.payload, c.len, false, true, &job);
    if (rc == FAAS_ESHUTDOWN)
        return rc;
    if (rc == FAAS_OK) {
        job->id_bits[0] = c.id[0];
        job->id_bits[1] = c.id[1];
        job->no_retry = c.no_retry;
        faas__journal_adopt(rt->journal, rep, job);
        rep = NULL;
        rc = queue_call(rt, job, cb, arg, NULL, name);  /* a refusal writes its DONE */
        if (rc == FAAS_OK)
            return FAAS_OK;
    }
    /* It cannot run here (its function is not registered): it completes now, for good. */
    faas_response res;
    if (rc == FAAS_ENOTFOUND)
        faas__response_service_error(&res, rc, id, NULL, "Function not found: %.80s", name);
    else
        faas__response_service_error(&res, rc, id, NULL, "%s", faas_last_error());
    char line[400];
    snprintf(line, sizeof line, "ERROR %s: a call of %.80s replayed from the journal "
             "completes %s: %s", id, name, faas_err_name(rc), res.error_message);
    faas__log_line(rt, line);
    if (cb != NULL)
        cb(&res, arg);
    faas_response_free(&res);
    if (rep != NULL)
        faas__journal_drop(rt->journal, rep);
    return FAAS_OK;
}

/* ---- futures ------------------------------------------------------------------------------ */

int faas_invoke_future(faas_runtime *rt, const char *name, const void *payload, size_t len,
                       faas_future **out)
{
    if (out == NULL)
        return faas__fail(FAAS_EINVAL, "faas_invoke_future: out is NULL");
    *out = NULL;
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_invoke_future: runtime is NULL");
    if (atomic_load_explicit(&rt->closing, memory_order_relaxed))
        return faas__fail(FAAS_ESHUTDOWN, "the runtime is shutting down");
    faas_future *f = calloc(1, sizeof *f);
    if (f == NULL)
        return faas__fail(FAAS_ENOMEM, "faas_invoke_future: out of memory");
    faas__job *job = NULL;
    int rc = accept_call(rt, NULL, name, payload, len, true, true, &job);
    if (rc != FAAS_OK) {
        free(f);
        return rc;
    }
    f->rt = rt;
    f->manual = rt->opts.manual != 0;
    f->system_clock = rt->opts.clock.mono_ns == NULL;
    pthread_mutex_init(&f->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&f->done_cv, &ca);
    pthread_condattr_destroy(&ca);
    memcpy(f->request_id, faas__job_id(job), 37);
    job->future = f;
    rc = queue_call(rt, job, NULL, NULL, NULL, name);
    if (rc != FAAS_OK) {
        pthread_cond_destroy(&f->done_cv);
        pthread_mutex_destroy(&f->lock);
        free(f);
        return rc;
    }
    *out = f;
    return FAAS_OK;
}

const char *faas_future_request_id(const faas_future *f)
{
    return f ? f->request_id : NULL;
}

static bool future_done(faas_future *f)
{
    pthread_mutex_lock(&f->lock);
    bool done = f->done;
    pthread_mutex_unlock(&f->lock);
    return done;
}

/* Manual mode has no worker: waiting means running the queue on this thread, and, with
 * the system clock, sleeping until a retry is due (a test clock only moves when the test
 * moves it). */
static void help_manual(faas_future *f, uint64_t deadline)
{
    faas_runtime *rt = f->rt;
    while (!future_done(f)) {
        if (faas_run_pending(rt) > 0)
            continue;
        uint64_t now = faas__now(rt), next = faas__timers_next_due(rt);
        if (!f->system_clock || next == UINT64_MAX || now >= deadline)
            return;
        uint64_t until = next < deadline ? next : deadline;
        if (until > now) {
            struct timespec ts = { (time_t)((until - now) / 1000000000u),
                                   (long)((until - now) % 1000000000u) };
            nanosleep(&ts, NULL);
        }
    }
}

int faas_future_wait(faas_future *f, unsigned timeout_ms, faas_response *res)
{
    if (f == NULL)
        return faas__fail(FAAS_EINVAL, "faas_future_wait: future is NULL");
    if (res == NULL)
        return faas__fail(FAAS_EINVAL, "faas_future_wait: res is NULL");
    struct timespec at;
    clock_gettime(CLOCK_MONOTONIC, &at);
    uint64_t deadline = (uint64_t)at.tv_sec * 1000000000u + (uint64_t)at.tv_nsec +
                        (uint64_t)timeout_ms * 1000000u;
    if (f->manual && !future_done(f))
        help_manual(f, deadline);
    pthread_mutex_lock(&f->lock);
    if (!f->done && timeout_ms > 0) {
        at.tv_sec = (time_t)(deadline / 1000000000u);
        at.tv_nsec = (long)(deadline % 1000000000u);
        while (!f->done) {
            if (pthread_cond_timedwait(&f->done_cv, &f->lock, &at) == ETIMEDOUT)
                break;
        }
    }
    int rc;
    if (!f->done) {
        rc = FAAS_ETIMEOUT;
    } else if (f->taken) {
        rc = faas__fail(FAAS_EINVAL, "faas_future_wait: the response was already taken");
    } else {
        *res = f->res;                      /* moved to the caller */
        f->taken = true;
        rc = FAAS_OK;
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

void faas_future_free(faas_future *f)
{
    if (f == NULL)
        return;
    pthread_mutex_lock(&f->lock);
    bool done = f->done;
    if (!done)
        f->abandoned = true;                /* the job frees it when it completes */
    pthread_mutex_unlock(&f->lock);
    if (!done)
        return;
    if (!f->taken)
        faas_response_free(&f->res);
    pthread_cond_destroy(&f->done_cv);
    pthread_mutex_destroy(&f->lock);
    free(f);
}
