/*
 * pin_threads.c - an LD_PRELOAD shim for benchmarks: every thread the process creates runs
 * on the one CPU named by $PIN_THREADS; the main thread is left where it is (taskset).
 *
 *   PIN_THREADS=1 LD_PRELOAD=tests/bench/.libs/pin_threads.so \
 *       taskset -c 0 tests/bench/.libs/bench_async --only faas,libuv,minimal,tp1
 *
 * With three threads on two CPUs (one producer, two workers), where the kernel puts a
 * worker it wakes decides a run's rate as much as the code does (the producer sharing its
 * CPU with a worker halves it). Pinned, the producer has a CPU of its own and every pool's
 * workers share the other: the runs compare the code, libfaas's and its peers' alike
 * (their threads are created through pthread_create too). A measuring aid only: no
 * library or test uses it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

struct start {
    void *(*fn)(void *);
    void *arg;
};

static void *pinned_start(void *p)
{
    struct start s = *(struct start *)p;
    free(p);
    const char *cpu = getenv("PIN_THREADS");
    if (cpu != NULL && *cpu != '\0') {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(atoi(cpu), &set);
        pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    }
    return s.fn(s.arg);
}

int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    static create_fn real;
    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "pthread_create");
    struct start *s = malloc(sizeof *s);
    if (s == NULL)
        return real(t, attr, fn, arg);
    s->fn = fn;
    s->arg = arg;
    int err = real(t, attr, pinned_start, s);
    if (err != 0)
        free(s);
    return err;
}
