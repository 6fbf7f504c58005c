/*
 * bench_cachelock.c - the job cache's lock under contention: the futex lock of sched.c
 * (libfaas/lock.h) against a pthread mutex and the spin lock it replaced (commit 504786d),
 * with several submitting threads on the machine's first two CPUs.
 *
 * Each thread does what a submit does with the cache (sched.c job_get/job_put): take the
 * lock, refill the local list from the lock-free "returned" stack if it is empty, pop one
 * job, drop the lock; do WORK iterations of other work (the rest of a submit); push the job
 * back lock-free. The cases, each with 2, 4 and 8 threads pinned to 2 CPUs:
 *
 *   plain     as above
 *   preempt   the same, but every 256th holder is descheduled while it holds the lock
 *             (sched_yield() inside the critical section: the worst moment to lose the CPU)
 *
 * Per case and lock: operations per second (wall clock), CPU time per operation
 * (getrusage utime + stime of the process over the rep, so spinning shows), and the
 * longest wait for the lock seen in the rep. Reps run round-robin over the locks; the
 * medians of the reps are printed.
 *
 *   ./tests/bench/bench_cachelock [--reps R] [--ops N] [--work W] [--quick]
 */
#define _GNU_SOURCE
#include "config.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "../../libfaas/lock.h"
#include "bench.h"

/* The spin lock the job cache had in commit 504786d, kept here as the measured alternative:
 * test-and-test-and-set, sched_yield() every 64 spins. */
static inline void spin_lock(atomic_bool *l)
{
    unsigned spins = 0;
    while (atomic_exchange_explicit(l, true, memory_order_acquire)) {
        do {
            if (++spins % 64 == 0)
                sched_yield();
            else
                faas__cpu_relax();
        } while (atomic_load_explicit(l, memory_order_relaxed));
    }
}

static inline void spin_unlock(atomic_bool *l)
{
    atomic_store_explicit(l, false, memory_order_release);
}

typedef struct node { struct node *next; char pad[56]; } node;

enum { LOCK_SPIN, LOCK_MUTEX, LOCK_FUTEX, NLOCKS };
static const char *const lock_names[NLOCKS] = { "spin", "mutex", "futex" };

static struct {
    unsigned reps;
    unsigned long ops;      /* per thread per rep */
    unsigned work;
} opt = { 5, 200000, 200 };

typedef struct shared {
    _Alignas(64) _Atomic(node *) returned;
    _Alignas(64) atomic_bool spin;
    faas__lock futex;
    pthread_mutex_t mutex;
    node *cache;
    int kind;
    bool preempt;
    pthread_barrier_t start;
} shared;

typedef struct worker {
    shared *sh;
    uint64_t max_wait_ns;
    pthread_t tid;
} worker;

static inline void lock(shared *sh)
{
    if (sh->kind == LOCK_SPIN)
        spin_lock(&sh->spin);
    else if (sh->kind == LOCK_FUTEX)
        faas__lock_take(&sh->futex);
    else
        pthread_mutex_lock(&sh->mutex);
}

static inline void unlock(shared *sh)
{
    if (sh->kind == LOCK_SPIN)
        spin_unlock(&sh->spin);
    else if (sh->kind == LOCK_FUTEX)
        faas__lock_drop(&sh->futex);
    else
        pthread_mutex_unlock(&sh->mutex);
}

static void pin_two(void)
{
    cpu_set_t all, two;
    CPU_ZERO(&two);
    if (sched_getaffinity(0, sizeof all, &all) == 0) {
        int got = 0;
        for (int c = 0; c < CPU_SETSIZE && got < 2; c++)
            if (CPU_ISSET(c, &all)) {
                CPU_SET(c, &two);
                got++;
            }
        pthread_setaffinity_np(pthread_self(), sizeof two, &two);
    }
}

/* The critical section's work lands here, so the compiler keeps it. */
static volatile unsigned sink;

static void *worker_main(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    pin_two();
    pthread_barrier_wait(&sh->start);
    uint64_t max_wait = 0;
    for (unsigned long i = 0; i < opt.ops; i++) {
        /* One clock read per op in every case and lock, so the comparison stays fair; the
         * wait measured is lock() alone. */
        uint64_t t0 = (i & 15) == 0 ? bench_now_ns() : 0;
        lock(sh);
        if (t0 != 0) {
            uint64_t d = bench_now_ns() - t0;
            if (d > max_wait)
                max_wait = d;
        }
        if (sh->cache == NULL)
            sh->cache = atomic_exchange_explicit(&sh->returned, NULL, memory_order_acquire);
        node *n = sh->cache;
        if (n != NULL)
            sh->cache = n->next;
        if (sh->preempt && (i & 255) == 0)
            sched_yield();
        unlock(sh);
        for (unsigned k = 0; k < opt.work; k++)
            sink += k;
        if (n != NULL) {
            n->pad[0] = (char)i;
            node *head = atomic_load_explicit(&sh->returned, memory_order_relaxed);
            do
                n->next = head;
            while (!atomic_compare_exchange_weak_explicit(&sh->returned, &head, n,
                                                          memory_order_release,
                                                          memory_order_relaxed));
        }
    }
    w->max_wait_ns = max_wait;
    return NULL;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

typedef struct result { double ops_s, cpu_ns, max_wait_us; } result;

static result run_once(int kind, unsigned nthreads, bool preempt)
{
    static node pool[1024];
    shared sh;
    memset(&sh, 0, sizeof sh);
    sh.kind = kind;
    sh.preempt = preempt;
    atomic_init(&sh.spin, false);
    faas__lock_init(&sh.futex);
    pthread_mutex_init(&sh.mutex, NULL);
    for (size_t i = 0; i < sizeof pool / sizeof pool[0]; i++) {
        pool[i].next = sh.cache;
        sh.cache = &pool[i];
    }
    pthread_barrier_init(&sh.start, NULL, nthreads + 1);
    worker w[16];
    for (unsigned t = 0; t < nthreads; t++) {
        w[t].sh = &sh;
        if (pthread_create(&w[t].tid, NULL, worker_main, &w[t]) != 0) {
            perror("pthread_create");
            exit(1);
        }
    }
    double c0 = cpu_s();
    uint64_t t0 = bench_now_ns();
    pthread_barrier_wait(&sh.start);
    uint64_t max_wait = 0;
    for (unsigned t = 0; t < nthreads; t++) {
        pthread_join(w[t].tid, NULL);
        if (w[t].max_wait_ns > max_wait)
            max_wait = w[t].max_wait_ns;
    }
    uint64_t t1 = bench_now_ns();
    double c1 = cpu_s();
    pthread_barrier_destroy(&sh.start);
    pthread_mutex_destroy(&sh.mutex);
    double ops = (double)opt.ops * nthreads;
    return (result){ ops / ((double)(t1 - t0) / 1e9), (c1 - c0) * 1e9 / ops,
                     (double)max_wait / 1e3 };
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0) {
            opt.reps = 2;
            opt.ops = 20000;
        } else if (strcmp(a, "--reps") == 0 && v) {
            opt.reps = (unsigned)bench_parse_count("bench_cachelock", v, "--reps");
            i++;
        } else if (strcmp(a, "--ops") == 0 && v) {
            opt.ops = (unsigned long)bench_parse_count("bench_cachelock", v, "--ops");
            i++;
        } else if (strcmp(a, "--work") == 0 && v) {
            opt.work = (unsigned)strtoul(v, NULL, 10);
            i++;
        } else {
            fprintf(stderr, "usage: bench_cachelock [--quick] [--reps R] [--ops N] "
                            "[--work W]\n");
            return 2;
        }
    }
    printf("bench_cachelock: %lu ops per thread per rep, work %u, %u reps, threads on 2 "
           "CPUs; medians of the reps\n", opt.ops, opt.work, opt.reps);
    printf("%-8s %7s %-6s %14s %12s %14s\n", "case", "threads", "lock", "ops/s",
           "CPU ns/op", "max wait us");
    static const unsigned threads[] = { 2, 4, 8 };
    for (int p = 0; p < 2; p++)
        for (size_t ti = 0; ti < sizeof threads / sizeof threads[0]; ti++) {
            double v[NLOCKS][3][64];
            for (unsigned r = 0; r < opt.reps && r < 64; r++)
                for (int k = 0; k < NLOCKS; k++) {
                    result res = run_once(k, threads[ti], p == 1);
                    v[k][0][r] = res.ops_s;
                    v[k][1][r] = res.cpu_ns;
                    v[k][2][r] = res.max_wait_us;
                }
            unsigned n = opt.reps < 64 ? opt.reps : 64;
            for (int k = 0; k < NLOCKS; k++)
                printf("%-8s %7u %-6s %14.0f %12.1f %14.1f\n", p ? "preempt" : "plain",
                       threads[ti], lock_names[k], bench_median(v[k][0], n),
                       bench_median(v[k][1], n), bench_median(v[k][2], n));
        }
    return 0;
}
