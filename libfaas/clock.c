/*
 * clock.c - the TSC clock's decision and calibration (see clock.h).
 */
#include "clock.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

faas__tsc faas__tsc_clock;

/* Wait at least this long between the two samples ... */
#define CALIBRATE_NS 20000000u
/* ... and accept the scale when the samples' uncertainty is at most this, in parts per
 * million of the interval (50 ppm at worst: 250 ns on a 5 ms duration, 180 ms an hour against
 * CLOCK_MONOTONIC; brackets of ~50 ns over 20 ms give ~5 ppm). */
#define MAX_PPM 50u
/* Tries per sample; the narrowest bracket wins (a preempted try is wide). */
#define SAMPLE_TRIES 5

#if defined(__x86_64__)

typedef struct sample {
    uint64_t tsc;          /* the rdtsc before the clock read */
    uint64_t width;        /* ticks to the rdtsc after it */
    uint64_t ns;
} sample;

static sample first;                       /* under calib_busy */
static atomic_flag calib_busy = ATOMIC_FLAG_INIT;

static sample take_sample(void)
{
    sample best = { 0, UINT64_MAX, 0 };
    for (int i = 0; i < SAMPLE_TRIES; i++) {
        uint64_t t1 = faas__rdtsc();
        uint64_t ns = faas__sys_mono_ns();
        uint64_t t2 = faas__rdtsc();
        if (t2 >= t1 && t2 - t1 < best.width)
            best = (sample){ t1, t2 - t1, ns };
    }
    return best;
}

/* The first "flags" line of /proc/cpuinfo has both words. */
static bool cpu_flags_ok(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL)
        return false;
    char line[8192];
    bool ok = false;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "flags", 5) != 0)
            continue;
        char *list = strchr(line, ':');
        if (list == NULL)
            break;
        bool constant = false, nonstop = false;
        for (char *save = NULL, *w = strtok_r(list + 1, " \t\n", &save); w != NULL;
             w = strtok_r(NULL, " \t\n", &save)) {
            constant |= strcmp(w, "constant_tsc") == 0;
            nonstop |= strcmp(w, "nonstop_tsc") == 0;
        }
        ok = constant && nonstop;
        break;
    }
    fclose(f);
    return ok;
}

static bool clocksource_is_tsc(void)
{
    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    if (f == NULL)
        return false;
    char cs[64] = "";
    bool ok = fgets(cs, sizeof cs, f) != NULL && strcmp(cs, "tsc\n") == 0;
    fclose(f);
    return ok;
}

static void decide(void)
{
    const char *env = getenv("FAAS_CLOCK");
    bool force = env != NULL && strcmp(env, "tsc") == 0;
    if (env != NULL && strcmp(env, "system") == 0)
        return;
    if (!force && !(clocksource_is_tsc() && cpu_flags_ok()))
        return;
    first = take_sample();
    if (first.width == UINT64_MAX)
        return;
    atomic_store_explicit(&faas__tsc_clock.due, first.ns + CALIBRATE_NS, memory_order_relaxed);
    atomic_store_explicit(&faas__tsc_clock.state, FAAS__TSC_CALIBRATING, memory_order_release);
}

bool faas__tsc_start(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, decide);
    return atomic_load_explicit(&faas__tsc_clock.state, memory_order_acquire) != FAAS__TSC_OFF;
}

static void calibrate(uint64_t ns)
{
    if (ns < atomic_load_explicit(&faas__tsc_clock.due, memory_order_relaxed) ||
        atomic_flag_test_and_set_explicit(&calib_busy, memory_order_acquire))
        return;                            /* another thread is at it */
    if (atomic_load_explicit(&faas__tsc_clock.state, memory_order_relaxed) !=
            FAAS__TSC_CALIBRATING || ns < first.ns + CALIBRATE_NS) {
        atomic_flag_clear_explicit(&calib_busy, memory_order_release);
        return;
    }
    sample second = take_sample();
    uint64_t dt = second.tsc - first.tsc, dns = second.ns - first.ns;
    /* The two brackets bound the error of dt; MHz sanity: 50 MHz to 50 GHz. */
    bool sane = second.width != UINT64_MAX && second.tsc > first.tsc && second.ns > first.ns &&
                dt / 50 <= dns && dt >= dns / 20;
    if (sane && (first.width + second.width) * (1000000u / MAX_PPM) <= dt) {
        faas__tsc_clock.tsc0 = second.tsc;
        faas__tsc_clock.ns0 = second.ns;
        faas__tsc_clock.mult = (uint64_t)(((unsigned __int128)dns << 32) / dt);
        atomic_store_explicit(&faas__tsc_clock.state, FAAS__TSC_ON, memory_order_release);
    } else {
        /* Not yet precise enough (wide brackets: a preempted sample, or valgrind's slow
         * system calls): try again in CALIBRATE_NS from the same first sample, so the
         * interval grows until the brackets are small against it; unless the first was
         * much wider than this one (preempted) or this one is not sane. */
        if (!sane || first.width > 4 * second.width)
            first = second;
        atomic_store_explicit(&faas__tsc_clock.due, ns + CALIBRATE_NS, memory_order_relaxed);
    }
    atomic_flag_clear_explicit(&calib_busy, memory_order_release);
}

uint64_t faas__mono_ns_slow(void)
{
    uint64_t ns = faas__sys_mono_ns();
    if (__builtin_expect(atomic_load_explicit(&faas__tsc_clock.state, memory_order_relaxed) ==
                             FAAS__TSC_CALIBRATING, 0))
        calibrate(ns);
    return ns;
}

#else /* not x86-64: CLOCK_MONOTONIC always */

bool faas__tsc_start(void)
{
    return false;
}

uint64_t faas__mono_ns_slow(void)
{
    return faas__sys_mono_ns();
}

#endif

const char *faas__tsc_source(void)
{
    switch (atomic_load_explicit(&faas__tsc_clock.state, memory_order_acquire)) {
    case FAAS__TSC_ON:          return "tsc";
    case FAAS__TSC_CALIBRATING: return "calibrating";
    default:                    return "system";
    }
}
