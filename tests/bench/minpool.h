/*
 * minpool.h - the smallest reasonable thread pool, the floor that bench_async compares
 * libfaas's scheduler with: one mutex, one condition variable, a ring buffer of
 * (function, argument) pairs, and a submit that signals only when a worker is idle.
 * Workers take one task per lock acquisition. No per-task allocation: the ring grows
 * (doubling) only when it is full, so a ring sized for the run never allocates.
 *
 * This is the "minimal mutex+condvar pool" of ../shared/facts/baselines.md section 6.
 * Header-only; everything is static.
 */
#ifndef FAAS_BENCH_MINPOOL_H
#define FAAS_BENCH_MINPOOL_H

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct minpool_task {
    void (*fn)(void *arg);
    void  *arg;
} minpool_task;

typedef struct minpool {
    pthread_mutex_t lock;       /* protects everything below */
    pthread_cond_t  work;       /* idle workers wait here */
    minpool_task   *ring;
    size_t          mask;       /* capacity - 1; the capacity is a power of two */
    size_t          head, tail; /* head: next to run; tail: next free; free-running */
    unsigned        idle;       /* workers waiting on work */
    int             stop;
    pthread_t      *threads;
    unsigned        nthreads;
} minpool;

static void *minpool_worker_(void *arg)
{
    minpool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->head == p->tail && !p->stop) {
            p->idle++;
            pthread_cond_wait(&p->work, &p->lock);
            p->idle--;
        }
        if (p->head == p->tail)         /* stop, and nothing left */
            break;
        minpool_task t = p->ring[p->head++ & p->mask];
        pthread_mutex_unlock(&p->lock);
        t.fn(t.arg);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* capacity: the initial ring size (rounded up to a power of two). 0 on success. */
static int minpool_init(minpool *p, unsigned nthreads, size_t capacity)
{
    memset(p, 0, sizeof *p);
    size_t cap = 64;
    while (cap < capacity)
        cap *= 2;
    p->ring = malloc(cap * sizeof *p->ring);
    p->threads = calloc(nthreads, sizeof *p->threads);
    if (p->ring == NULL || p->threads == NULL) {
        free(p->ring);
        free(p->threads);
        return -1;
    }
    memset(p->ring, 0, cap * sizeof *p->ring);     /* touch it now, not while timed */
    p->mask = cap - 1;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    for (unsigned i = 0; i < nthreads; i++) {
        if (pthread_create(&p->threads[i], NULL, minpool_worker_, p) != 0)
            return -1;
        p->nthreads++;
    }
    return 0;
}

/* Requires p->lock: double the ring, unwrapping it. */
static int minpool_grow_(minpool *p)
{
    size_t cap = p->mask + 1, n = p->tail - p->head;
    minpool_task *r = malloc(2 * cap * sizeof *r);
    if (r == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        r[i] = p->ring[(p->head + i) & p->mask];
    free(p->ring);
    p->ring = r;
    p->head = 0;
    p->tail = n;
    p->mask = 2 * cap - 1;
    return 0;
}

/* Queue fn(arg); 0, or -1 if the ring was full and could not grow. */
static inline int minpool_submit(minpool *p, void (*fn)(void *), void *arg)
{
    pthread_mutex_lock(&p->lock);
    if (p->tail - p->head > p->mask && minpool_grow_(p) != 0) {
        pthread_mutex_unlock(&p->lock);
        return -1;
    }
    minpool_task *t = &p->ring[p->tail++ & p->mask];
    t->fn = fn;
    t->arg = arg;
    if (p->idle > 0)
        pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

/* Run what is queued, then join the workers and free the pool. */
static void minpool_free(minpool *p)
{
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->lock);
    free(p->ring);
    free(p->threads);
}

#endif /* FAAS_BENCH_MINPOOL_H */
