/*
 * timer.c - the timer heap and the thread that fires it (see timer.h). It knows nothing
 * of what its timers do; owners embed a faas__timer and get it back in the callback.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

/* ---- the heap ----------------------------------------------------------------------- */

static inline bool earlier(const faas__timer *a, const faas__timer *b)
{
    return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

static void place(faas__timers *ts, size_t i, faas__timer *t)
{
    ts->heap[i] = t;
    t->index = i;
}

static void sift_up(faas__timers *ts, size_t i)
{
    faas__timer *t = ts->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!earlier(t, ts->heap[parent]))
            break;
        place(ts, i, ts->heap[parent]);
        i = parent;
    }
    place(ts, i, t);
}

static void sift_down(faas__timers *ts, size_t i)
{
    faas__timer *t = ts->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= ts->n)
            break;
        if (child + 1 < ts->n && earlier(ts->heap[child + 1], ts->heap[child]))
            child++;
        if (!earlier(ts->heap[child], t))
            break;
        place(ts, i, ts->heap[child]);
        i = child;
    }
    place(ts, i, t);
}

/* Requires ts->lock. */
static void heap_remove(faas__timers *ts, faas__timer *t)
{
    size_t i = t->index;
    t->index = FAAS__TIMER_IDLE;
    ts->n--;
    if (i == ts->n)
        return;
    place(ts, i, ts->heap[ts->n]);
    /* The moved timer goes down if it is later than a child, else up if earlier than its
     * parent; a child that rose into slot i is never earlier than i's parent. */
    sift_down(ts, i);
    sift_up(ts, i);
}

/* ---- the API ------------------------------------------------------------------------- */

void faas__timer_init(faas__timer *t, faas__timer_fn fire)
{
    t->due_ns = 0;
    t->seq = 0;
    t->index = FAAS__TIMER_IDLE;
    t->fire = fire;
}

int faas__timer_arm(faas_runtime *rt, faas__timer *t, uint64_t due_ns)
{
    faas__timers *ts = &rt->timers;
    pthread_mutex_lock(&ts->lock);
    if (t->index != FAAS__TIMER_IDLE) {
        heap_remove(ts, t);
    } else if (ts->n == ts->cap) {
        size_t cap = ts->cap ? ts->cap * 2 : 64;
        faas__timer **heap = realloc(ts->heap, cap * sizeof *heap);
        if (heap == NULL) {
            pthread_mutex_unlock(&ts->lock);
            return FAAS_ENOMEM;
        }
        ts->heap = heap;
        ts->cap = cap;
    }
    t->due_ns = due_ns;
    t->seq = ts->seq++;
    place(ts, ts->n++, t);
    sift_up(ts, t->index);
    if (t->index == 0 && ts->has_thread)
        pthread_cond_signal(&ts->wake);
    pthread_mutex_unlock(&ts->lock);
    return FAAS_OK;
}

bool faas__timer_disarm(faas_runtime *rt, faas__timer *t)
{
    faas__timers *ts = &rt->timers;
    pthread_mutex_lock(&ts->lock);
    bool armed = t->index != FAAS__TIMER_IDLE;
    if (armed)
        heap_remove(ts, t);
    while (ts->running == t && !pthread_equal(ts->runner, pthread_self()))
        pthread_cond_wait(&ts->done, &ts->lock);
    pthread_mutex_unlock(&ts->lock);
    return armed;
}

/* Pop and fire due timers one at a time, the lock released around each callback. */
static int run_due_locked(faas_runtime *rt, faas__timers *ts)
{
    int fired = 0;
    while (ts->n > 0) {
        /* The clock is read with the lock held: a test clock must not call into libfaas. */
        uint64_t now = faas__now(rt);
        faas__timer *t = ts->heap[0];
        if (t->due_ns > now)
            break;
        heap_remove(ts, t);
        ts->running = t;
        ts->runner = pthread_self();
        pthread_mutex_unlock(&ts->lock);
        t->fire(t, 0);
        pthread_mutex_lock(&ts->lock);
        ts->running = NULL;
        pthread_cond_broadcast(&ts->done);
        fired++;
    }
    return fired;
}

int faas__timers_run_due(faas_runtime *rt)
{
    faas__timers *ts = &rt->timers;
    pthread_mutex_lock(&ts->lock);
    int fired = run_due_locked(rt, ts);
    pthread_mutex_unlock(&ts->lock);
    return fired;
}

uint64_t faas__timers_next_due(faas_runtime *rt)
{
    faas__timers *ts = &rt->timers;
    pthread_mutex_lock(&ts->lock);
    uint64_t due = ts->n > 0 ? ts->heap[0]->due_ns : UINT64_MAX;
    pthread_mutex_unlock(&ts->lock);
    return due;
}

void faas__timers_kick(faas_runtime *rt)
{
    faas__timers *ts = &rt->timers;
    pthread_mutex_lock(&ts->lock);
    if (ts->has_thread)
        pthread_cond_signal(&ts->wake);
    pthread_mutex_unlock(&ts->lock);
}

/* The timer thread: fire what is due, then sleep until the earliest timer. With a test
 * clock the wait is measured on that clock but slept in real time, capped at 50 ms so a
 * jump of the test clock is noticed. */
static void *timer_main(void *arg)
{
    faas_runtime *rt = arg;
    faas__timers *ts = &rt->timers;
    pthread_mutex_lock(&ts->lock);
    while (!ts->stop) {
        run_due_locked(rt, ts);
        if (ts->stop)
            break;
        if (ts->n == 0) {
            pthread_cond_wait(&ts->wake, &ts->lock);
            continue;
        }
        uint64_t now = faas__now(rt);
        uint64_t due = ts->heap[0]->due_ns;
        if (due <= now)
            continue;
        uint64_t wait = due - now;
        if (rt->opts.clock.mono_ns != NULL && wait > 50000000u)
            wait = 50000000u;
        struct timespec at;
        clock_gettime(CLOCK_MONOTONIC, &at);
        uint64_t ns = (uint64_t)at.tv_nsec + wait % 1000000000u;
        at.tv_sec += (time_t)(wait / 1000000000u + ns / 1000000000u);
        at.tv_nsec = (long)(ns % 1000000000u);
        pthread_cond_timedwait(&ts->wake, &ts->lock, &at);
    }
    pthread_mutex_unlock(&ts->lock);
    return NULL;
}

int faas__timers_init(faas_runtime *rt, bool start_thread)
{
    faas__timers *ts = &rt->timers;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&ts->lock, NULL);
    pthread_cond_init(&ts->wake, &ca);
    pthread_cond_init(&ts->done, NULL);
    pthread_condattr_destroy(&ca);
    ts->heap = NULL;
    ts->n = ts->cap = 0;
    ts->seq = 0;
    ts->running = NULL;
    ts->stop = false;
    ts->has_thread = false;
    if (start_thread) {
        int err = pthread_create(&ts->thread, NULL, timer_main, rt);
        if (err != 0)
            return faas__fail(FAAS_ENOMEM, "pthread_create (timer thread): error %d", err);
        ts->has_thread = true;
    }
    return FAAS_OK;
}

void faas__timers_stop(faas_runtime *rt)
{
    faas__timers *ts = &rt->timers;
    pthread_mutex_lock(&ts->lock);
    ts->stop = true;
    pthread_cond_signal(&ts->wake);
    pthread_mutex_unlock(&ts->lock);
    if (ts->has_thread)
        pthread_join(ts->thread, NULL);
    ts->has_thread = false;
    pthread_mutex_lock(&ts->lock);
    while (ts->n > 0) {
        faas__timer *t = ts->heap[0];
        heap_remove(ts, t);
        pthread_mutex_unlock(&ts->lock);
        t->fire(t, 1);
        pthread_mutex_lock(&ts->lock);
    }
    pthread_mutex_unlock(&ts->lock);
}

void faas__timers_destroy(faas_runtime *rt)
{
    faas__timers *ts = &rt->timers;
    free(ts->heap);
    ts->heap = NULL;
    pthread_cond_destroy(&ts->wake);
    pthread_cond_destroy(&ts->done);
    pthread_mutex_destroy(&ts->lock);
}
