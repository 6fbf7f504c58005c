/*
 * bench_idle.c - what a runtime costs when nothing is submitted: after a burst of trivial
 * async calls (which leaves the workers' spin budget at its maximum), the process's CPU
 * time (utime + stime from /proc/self/stat) over the next W seconds, in which the host
 * submits nothing. A worker may poll for its spin window (idle_spin_us) after its last
 * call, then it must sleep: the target is no CPU at all after that window.
 *
 * Each idle_spin_us setting (default 50 us, 200 us, -1: never spin) runs in its own
 * runtime, one after the other:
 *
 *   ./tests/bench/bench_idle [--seconds W] [--burst N] [--workers K]    (default 5, 100000, 2)
 *
 * Prints, per setting, the CPU time of the whole process in the idle window (ms, and as a
 * share of one CPU) and of the burst itself for scale; /proc/self/stat counts in clock
 * ticks (10 ms), so the idle window is also given from CLOCK_PROCESS_CPUTIME_ID (ns).
 */
#include "config.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <faas.h>

#include "bench.h"

static atomic_ulong done_calls;

static int h_empty(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx;
    (void)payload;
    (void)len;
    return 0;
}

static void cb(const faas_response *res, void *arg)
{
    (void)res;
    (void)arg;
    atomic_fetch_add_explicit(&done_calls, 1, memory_order_relaxed);
}

/* utime + stime of this process in ms, from /proc/self/stat (fields 14 and 15). */
static double cpu_ms(void)
{
    FILE *f = fopen("/proc/self/stat", "r");
    if (f == NULL) {
        perror("bench_idle: /proc/self/stat");
        exit(1);
    }
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');      /* the command name may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                            &ut, &st) != 2) {
        fprintf(stderr, "bench_idle: cannot parse /proc/self/stat\n");
        exit(1);
    }
    return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* The same, precisely: CLOCK_PROCESS_CPUTIME_ID in ms (/proc counts in ticks). */
static double cpu_precise_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die_faas(const char *what, int rc)
{
    fprintf(stderr, "bench_idle: %s: %s (%s)\n", what, faas_strerror(rc), faas_last_error());
    exit(1);
}

int main(int argc, char **argv)
{
    unsigned seconds = 5, workers = 2;
    unsigned long burst = 100000;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--seconds") == 0 && v) {
            seconds = (unsigned)bench_parse_count("bench_idle", v, "--seconds");
            i++;
        } else if (strcmp(argv[i], "--burst") == 0 && v) {
            burst = (unsigned long)bench_parse_count("bench_idle", v, "--burst");
            i++;
        } else if (strcmp(argv[i], "--workers") == 0 && v) {
            workers = (unsigned)bench_parse_count("bench_idle", v, "--workers");
            i++;
        } else {
            fprintf(stderr, "usage: bench_idle [--seconds W] [--burst N] [--workers K]\n");
            return 2;
        }
    }
    printf("bench_idle: %lu async calls, then %u s without any; %u workers; CPU time of "
           "the process (utime + stime, /proc/self/stat, %ld ticks/s)\n", burst, seconds,
           workers, sysconf(_SC_CLK_TCK));
    printf("%-14s %12s %14s %16s %18s\n", "idle_spin_us", "burst CPU ms", "idle CPU ms",
           "idle CPU share", "idle CPU ms, exact");
    static const int spins[] = { 0, 200, -1 };
    for (size_t k = 0; k < sizeof spins / sizeof spins[0]; k++) {
        faas_options o;
        memset(&o, 0, sizeof o);
        o.workers = workers;
        o.queue_capacity = burst + 1024;
        o.idle_spin_us = spins[k];
        faas_runtime *rt;
        int rc = faas_runtime_new(&rt, &o);
        if (rc != FAAS_OK)
            die_faas("faas_runtime_new", rc);
        if ((rc = faas_register(rt, "empty", h_empty, NULL)) != FAAS_OK)
            die_faas("faas_register", rc);
        faas_function *fn = faas_lookup(rt, "empty");
        if (fn == NULL)
            die_faas("faas_lookup", FAAS_ENOTFOUND);
        atomic_store(&done_calls, 0);
        double c0 = cpu_ms();
        for (unsigned long i = 0; i < burst; i++)
            if ((rc = faas_invoke_fn_async(fn, "{}", 2, cb, NULL, NULL)) != FAAS_OK)
                die_faas("faas_invoke_fn_async", rc);
        if ((rc = faas_drain(rt, 60000)) != FAAS_OK)
            die_faas("faas_drain", rc);
        double c1 = cpu_ms(), p1 = cpu_precise_ms();
        struct timespec ts = { (time_t)seconds, 0 };
        while (nanosleep(&ts, &ts) != 0)
            ;
        double c2 = cpu_ms(), p2 = cpu_precise_ms();
        if (atomic_load(&done_calls) != burst) {
            fprintf(stderr, "bench_idle: %lu calls completed of %lu\n",
                    (unsigned long)atomic_load(&done_calls), burst);
            return 1;
        }
        char name[16];
        snprintf(name, sizeof name, "%d%s", spins[k], spins[k] == 0 ? " (50)" : "");
        printf("%-14s %12.0f %14.0f %15.3f%% %18.3f\n", name, c1 - c0, c2 - c1,
               (c2 - c1) / (seconds * 10.0), p2 - p1);
        faas_runtime_free(rt);
    }
    return 0;
}
