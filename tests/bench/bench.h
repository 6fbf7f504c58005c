/*
 * bench.h - small helpers shared by libfaas's benchmarks: a monotonic nanosecond clock,
 * the median (and min/max) of N doubles, a sink that keeps the optimiser from deleting the
 * work being measured, and the --only and count options. Header-only; everything is
 * static inline.
 */
#ifndef FAAS_BENCH_H
#define FAAS_BENCH_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Keep a function out of line and uncloned, so that a call through a pointer is a real call. */
#if defined(__clang__)
# define BENCH_NOINLINE __attribute__((noinline))
#else
# define BENCH_NOINLINE __attribute__((noinline, noclone))
#endif

/* CLOCK_MONOTONIC in ns (the vDSO: ~28 ns per read on the reference machine). */
static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A value the compiler must assume is used: the computation producing it is kept. */
static volatile uint64_t bench_sink_;

static inline void bench_keep(uint64_t v)
{
    bench_sink_ += v;
}

/* An optimisation barrier for a pointer: the compiler must assume *p is read and written. */
static inline void bench_clobber(void *p)
{
    __asm__ volatile("" : : "g"(p) : "memory");
}

static inline int bench_cmp_double_(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sort v[0..n) in place (ascending). */
static inline void bench_sort(double *v, size_t n)
{
    qsort(v, n, sizeof *v, bench_cmp_double_);
}

/* The q-quantile of v[0..n) by linear interpolation (q = 0.5: the median); sorts v.
 * 0 for n == 0. */
static inline double bench_quantile(double *v, size_t n, double q)
{
    if (n == 0)
        return 0.0;
    bench_sort(v, n);
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    if (i + 1 >= n)
        return v[n - 1];
    return v[i] + (pos - (double)i) * (v[i + 1] - v[i]);
}

/* The median of v[0..n); sorts v (afterwards v[0] is the min and v[n-1] the max). */
static inline double bench_median(double *v, size_t n)
{
    return bench_quantile(v, n, 0.5);
}

/* median, min and max of n samples, without disturbing the caller's array. */
typedef struct bench_summary {
    double median, min, max, p90;
    size_t n;
} bench_summary;

static inline bench_summary bench_summarise(const double *v, size_t n)
{
    bench_summary s;
    memset(&s, 0, sizeof s);
    s.n = n;
    if (n == 0)
        return s;
    double *copy = malloc(n * sizeof *copy);
    if (copy == NULL)
        return s;
    memcpy(copy, v, n * sizeof *copy);
    s.median = bench_median(copy, n);
    s.min = copy[0];
    s.max = copy[n - 1];
    s.p90 = bench_quantile(copy, n, 0.9);
    free(copy);
    return s;
}

/* --only: is NAME in the comma-separated list ONLY (NULL: every case is)? */
static inline int bench_selected(const char *only, const char *name)
{
    if (only == NULL)
        return 1;
    size_t n = strlen(name);
    for (const char *p = only; *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && strncmp(p, name, n) == 0)
            return 1;
        if (e == NULL)
            break;
        p = e + 1;
    }
    return 0;
}

/* A positive count given to option WHAT of program PROG; a usage error (exit 2) if not. */
static inline uint64_t bench_parse_count(const char *prog, const char *s, const char *what)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0) {
        fprintf(stderr, "%s: %s: expected a positive number, not \"%s\"\n", prog, what, s);
        exit(2);
    }
    return (uint64_t)v;
}

#endif /* FAAS_BENCH_H */
