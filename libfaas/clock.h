/*
 * clock.h - the runtime's default monotonic clock (faas_options.clock.mono_ns NULL):
 * CLOCK_MONOTONIC, or, where the kernel says the TSC is stable, the TSC read with one
 * unfenced rdtsc and scaled to CLOCK_MONOTONIC's rate (issue 17: the vDSO's fenced read
 * was 11-12% of every thread's samples in bench_async).
 *
 * Eligible: x86-64, the kernel's current clocksource is "tsc" (it keeps the TSC only while
 * its watchdog finds it sane) and the first CPU's flags in /proc/cpuinfo have constant_tsc
 * and nonstop_tsc. FAAS_CLOCK=system in the environment forces CLOCK_MONOTONIC;
 * FAAS_CLOCK=tsc forces the TSC wherever the CPU has one (tests and benchmarks only: the
 * kernel's word is what makes it safe). Decided once per process, at the first runtime.
 *
 * Calibration is lazy: faas__tsc_start() takes a (TSC, CLOCK_MONOTONIC) sample; reads stay
 * on CLOCK_MONOTONIC until one finds CALIBRATE_NS passed, takes a second sample and sets
 * the scale from the two. Each sample brackets its clock_gettime between two rdtscs (the
 * narrowest of a few tries); the scale is accepted only when the two brackets together
 * are at most MAX_PPM of the interval; else it tries again CALIBRATE_NS later from the
 * same first sample (the interval grows until the brackets are small against it), unless
 * the first was much wider than the second, which then takes its place. Afterwards
 * ns = ns0 + (tsc - tsc0) * scale, anchored at the second sample's earliest TSC, so a TSC
 * read is never earlier than a CLOCK_MONOTONIC read before the switch (up to the scale's
 * error times the time since).
 */
#ifndef FAAS_CLOCK_H
#define FAAS_CLOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

enum { FAAS__TSC_OFF = 0, FAAS__TSC_CALIBRATING = 1, FAAS__TSC_ON = 2 };
/* A runtime's clock (rt->clock_kind). */
enum { FAAS__CLOCK_SYSTEM = 0, FAAS__CLOCK_USER = 1, FAAS__CLOCK_TSC = 2 };

typedef struct faas__tsc {
    _Atomic int state;     /* FAAS__TSC_*; the fields below are read after an acquire of ON */
    uint64_t    tsc0;      /* the anchor: a TSC value ... */
    uint64_t    ns0;       /* ... and CLOCK_MONOTONIC then */
    uint64_t    mult;      /* ns per TSC tick, 32.32 fixed point */
    _Atomic uint64_t due;  /* CALIBRATING: CLOCK_MONOTONIC at which to take the second sample */
} faas__tsc;

extern faas__tsc faas__tsc_clock;

/* Decide once per process (environment, kernel, CPU) and take the first sample; true if
 * the TSC is (or will be, once calibrated) the default clock. */
bool faas__tsc_start(void);
/* "tsc", "system", or "calibrating": which clock libfaas's default reads now. */
const char *faas__tsc_source(void);

static inline uint64_t faas__sys_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#if defined(__x86_64__)
static inline uint64_t faas__rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}
#endif

/* CLOCK_MONOTONIC, and a step of the calibration while it is going on. */
uint64_t faas__mono_ns_slow(void);

/* The default monotonic clock, in ns: the TSC path inline, the rest out of line (under
 * callgrind the system path was +11 instructions a read with both inline). */
static inline uint64_t faas__default_mono_ns(void)
{
#if defined(__x86_64__)
    if (__builtin_expect(atomic_load_explicit(&faas__tsc_clock.state, memory_order_acquire) ==
                             FAAS__TSC_ON, 1)) {
        uint64_t t = faas__rdtsc();
        uint64_t d = t > faas__tsc_clock.tsc0 ? t - faas__tsc_clock.tsc0 : 0;
        return faas__tsc_clock.ns0 +
               (uint64_t)(((unsigned __int128)d * faas__tsc_clock.mult) >> 32);
    }
#endif
    return faas__mono_ns_slow();
}

#endif /* FAAS_CLOCK_H */
