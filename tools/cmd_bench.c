/*
 * cmd_bench.c - `faas bench`: a load test of one function, in this process, with a cost
 * forecast. N threads call it synchronously (faas_invoke_fn) for a number of calls or a
 * duration; then throughput, the latency histogram, cold against warm, errors, and what a
 * million calls and a month at the measured rate cost on every price preset — priced by
 * faas_cost_compare(3), the code path of `faas cost`. --memory repeats the run per size and
 * adds the cost/speed table a Lambda Power Tuning user expects. Public API only.
 */
#include <faas.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "functions_file.h"
#include "tool.h"

#define MAX_SIZES 16
#define MAX_THREADS 1024
#define SAMPLE_CALLS 65536u         /* records kept for pricing, over all threads */
#define NBUCKETS 496                /* log-linear: 8 per power of two, up to 2^64 ns */
#define MONTH_S 2592000u            /* 30 days: "a month at the measured rate" */
#define LAMBDA_VCPU_MB 1769u        /* Lambda: one full vCPU at 1,769 MB, in proportion below */
#define NSTATUS 32                  /* -status of every FAAS_E* code fits */

/* ---- latency histogram ------------------------------------------------------------------ */

/* Below 8 ns exact; above, 8 buckets per power of two (12.5 % wide). */
static unsigned bucket_of(uint64_t ns)
{
    if (ns < 8)
        return (unsigned)ns;
    unsigned o = 63u - (unsigned)__builtin_clzll(ns);
    return (o - 2) * 8 + (unsigned)((ns >> (o - 3)) & 7);
}

/* The first value past bucket b. */
static uint64_t bucket_end(unsigned b)
{
    if (b < 8)
        return b + 1;
    unsigned o = b / 8 + 2, sub = b % 8;
    if (o >= 63 && sub == 7)
        return UINT64_MAX;
    return (uint64_t)(9 + sub) << (o - 3);
}

/* ---- one thread's tally ----------------------------------------------------------------- */

typedef struct tally {
    uint64_t    calls, errors, throttles, cold;
    uint64_t    lat_sum, cold_lat_sum, init_sum, lat_max;
    uint64_t    by_status[NSTATUS];
    uint64_t    hist[NBUCKETS];
    char        first_error[160];
    faas_record *sample;            /* reservoir of records, for pricing */
    size_t      nsample, cap;
    uint64_t    rng;
    uint64_t    end_ns;             /* when this thread made its last call */
} tally;

typedef struct run {
    faas_function *fn;
    const char    *payload;
    size_t         len;
    const char    *name, *tag;      /* stable copies for the records we keep */
    uint64_t       calls_wanted;    /* 0: until stop */
    atomic_ullong  claimed, done;
    atomic_int     stop;
    tally         *t;
} run;

typedef struct worker_arg {
    run   *r;
    tally *t;
} worker_arg;

static uint64_t round_u64(double v)
{
    return v <= 0 ? 0 : (uint64_t)(v + 0.5);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void keep_record(run *r, tally *t, const faas_record *rec)
{
    size_t slot;
    if (t->nsample < t->cap) {
        slot = t->nsample++;
    } else {                        /* reservoir sampling: every call equally likely kept */
        t->rng ^= t->rng << 13;
        t->rng ^= t->rng >> 7;
        t->rng ^= t->rng << 17;
        uint64_t j = t->rng % (t->calls - t->throttles);
        if (j >= t->cap)
            return;
        slot = (size_t)j;
    }
    t->sample[slot] = *rec;
    t->sample[slot].function = r->name;
    t->sample[slot].tag = r->tag;
}

static void *worker(void *arg)
{
    run *r = ((worker_arg *)arg)->r;
    tally *t = ((worker_arg *)arg)->t;
    for (;;) {
        if (atomic_load_explicit(&r->stop, memory_order_relaxed))
            break;
        if (r->calls_wanted != 0 &&
            atomic_fetch_add_explicit(&r->claimed, 1, memory_order_relaxed) >= r->calls_wanted)
            break;
        faas_response res;
        uint64_t t0 = now_ns();
        int rc = faas_invoke_fn(r->fn, r->payload, r->len, &res);
        uint64_t lat = now_ns() - t0;
        t->calls++;
        t->hist[bucket_of(lat)]++;
        t->lat_sum += lat;
        if (lat > t->lat_max)
            t->lat_max = lat;
        if (rc == FAAS_ETHROTTLED)
            t->throttles++;
        if (rc != FAAS_OK) {
            t->errors += rc != FAAS_ETHROTTLED;
            if (-rc > 0 && -rc < NSTATUS)
                t->by_status[-rc]++;
            if (t->first_error[0] == '\0')
                snprintf(t->first_error, sizeof t->first_error, "%s: %s: %s",
                         faas_err_name(rc), res.error_type ? res.error_type : "",
                         res.error_message ? res.error_message : "");
        }
        if (rc != FAAS_ETHROTTLED) {
            if (res.record.cold) {
                t->cold++;
                t->cold_lat_sum += lat;
                t->init_sum += res.record.init_ns;
            }
            keep_record(r, t, &res.record);
        }
        faas_response_free(&res);
        atomic_fetch_add_explicit(&r->done, 1, memory_order_relaxed);
    }
    t->end_ns = now_ns();
    return NULL;
}

/* ---- the options ------------------------------------------------------------------------ */

typedef struct bench_opts {
    unsigned    concurrency;
    double      duration_s;         /* 0: by calls */
    uint64_t    calls;
    const char *event;              /* a file, "-", or NULL: "{}" */
    unsigned    sizes[MAX_SIZES];
    size_t      nsizes;
    int         json;
} bench_opts;

static int bench_usage(void)
{
    fprintf(stderr,
            "usage: %s bench [--concurrency N] [--duration S | --calls N] [--event FILE]\n"
            "                [--memory MB,MB,...] [--json] FUNCTIONS-FILE NAME\n"
            "       %s bench [options] MODULE.so SYMBOL\n"
            "Calls the function in this process; without --duration or --calls, for 5 s.\n"
            "See faas(1).\n", prog, prog);
    return 2;
}

static int parse_memory_list(const char *s, bench_opts *o)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    o->nsizes = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        unsigned mb;
        if (o->nsizes == MAX_SIZES || parse_unsigned(tok, &mb) != 0 || mb == 0)
            return -1;
        o->sizes[o->nsizes++] = mb;
    }
    return o->nsizes > 0 ? 0 : -1;
}

static int parse_duration(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno != 0)
        return -1;
    if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        v *= 60;
    else if (*end != '\0' && strcmp(end, "s") != 0)
        return -1;
    if (!(v > 0) || v > 86400.0 * 365)
        return -1;
    *out = v;
    return 0;
}

static char *read_file(const char *path, size_t *len)
{
    if (strcmp(path, "-") == 0)
        return read_stdin(len);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *bigger = realloc(buf, cap * 2);
        if (bigger == NULL) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    if (buf != NULL && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* ---- the target: a functions file's section, or a module's symbol ------------------------- */

typedef struct target {
    ff_file     file;
    int         have_file;
    ff_function *section;           /* in file, or NULL for a module */
    const char  *module, *symbol;
    char        name[64 + 1 + 128 + 1]; /* with a file: NAME, NAME:3 or NAME:alias */
    char        modpath[PATH_MAX];
    char        tag[128];
} target;

static int is_elf(const char *path)
{
    unsigned char magic[4];
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    size_t n = fread(magic, 1, 4, f);
    fclose(f);
    return n == 4 && memcmp(magic, "\177ELF", 4) == 0;
}

static int target_open(target *tg, const char *what, const char *name)
{
    memset(tg, 0, sizeof *tg);
    if (is_elf(what)) {
        tg->module = what;
        tg->symbol = name;
        if (strchr(what, '/') == NULL)
            snprintf(tg->modpath, sizeof tg->modpath, "./%s", what);
        else
            snprintf(tg->modpath, sizeof tg->modpath, "%s", what);
        snprintf(tg->name, sizeof tg->name, "%s", name);
        for (char *p = tg->name; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '-'))
                *p = '_';
        return 0;
    }
    int rc = ff_load_or_report(what, &tg->file);
    if (rc != 0)
        return rc;
    tg->have_file = 1;
    tg->file.no_sources = 1;        /* a bench runs no schedule and watches nothing */
    /* NAME[:QUALIFIER]: the section is NAME's; the calls go to the version or alias. */
    size_t base = strcspn(name, ":");
    for (size_t i = 0; i < tg->file.n; i++)
        if (strncmp(tg->file.fns[i].name, name, base) == 0 &&
            tg->file.fns[i].name[base] == '\0')
            tg->section = &tg->file.fns[i];
    if (tg->section == NULL)
        return die(2, "%s: no function [%.*s]", what, (int)base, name);
    if (strlen(name) >= sizeof tg->name)
        return die(2, "%s: too long for a qualified name", name);
    snprintf(tg->name, sizeof tg->name, "%s", name);
    if (tg->section->cfg.tag != NULL)
        snprintf(tg->tag, sizeof tg->tag, "%s", tg->section->cfg.tag);
    return 0;
}

/* Register the target on rt with memory_mb (0: as configured); 0 or an exit status. */
static int target_register(target *tg, faas_runtime *rt, unsigned memory_mb, const char *what)
{
    if (tg->section != NULL) {
        unsigned saved = tg->section->cfg.memory_mb;
        if (memory_mb != 0)
            tg->section->cfg.memory_mb = memory_mb;
        size_t before = tg->file.nerrors;
        ff_register(rt, &tg->file, what);
        tg->section->cfg.memory_mb = saved;
        if (!tg->section->registered) {
            for (size_t i = before; i < tg->file.nerrors; i++)
                fprintf(stderr, "%s\n", tg->file.errors[i]);
            return 2;
        }
        return 0;
    }
    faas_config cfg;
    faas_config_init(&cfg);
    if (memory_mb != 0)
        cfg.memory_mb = memory_mb;
    if (faas_register_module(rt, tg->name, tg->modpath, tg->symbol, &cfg) != FAAS_OK)
        return die(2, "%s", faas_last_error());
    return 0;
}

/* ---- results ---------------------------------------------------------------------------- */

typedef struct result {
    unsigned     memory_mb;
    double       elapsed_s;
    tally        all;               /* merged; sample is every thread's, concatenated */
    faas_cost_row *million, *month; /* faas_cost_compare at 1M calls and at the rate */
    size_t       nmillion, nmonth;
    uint64_t     monthly_calls;
    double       factor;            /* the modelled Lambda slowdown at this size (>= 1) */
    faas_cost_row *modelled;        /* 1M calls with durations x factor */
    size_t       nmodelled;
} result;

static void result_free(result *res)
{
    free(res->all.sample);
    faas_free(res->million);
    faas_free(res->month);
    faas_free(res->modelled);
}

static void merge(tally *into, const tally *t)
{
    into->calls += t->calls;
    into->errors += t->errors;
    into->throttles += t->throttles;
    into->cold += t->cold;
    into->lat_sum += t->lat_sum;
    into->cold_lat_sum += t->cold_lat_sum;
    into->init_sum += t->init_sum;
    if (t->lat_max > into->lat_max)
        into->lat_max = t->lat_max;
    for (unsigned i = 0; i < NSTATUS; i++)
        into->by_status[i] += t->by_status[i];
    for (unsigned i = 0; i < NBUCKETS; i++)
        into->hist[i] += t->hist[i];
    if (into->first_error[0] == '\0')
        memcpy(into->first_error, t->first_error, sizeof t->first_error);
    memcpy(into->sample + into->nsample, t->sample, t->nsample * sizeof *t->sample);
    into->nsample += t->nsample;
}

/* The q-quantile of the histogram, in ns: the end of its bucket, at most the maximum. */
static uint64_t quantile(const tally *t, double q)
{
    if (t->calls == 0)
        return 0;
    double w = q * (double)t->calls;
    uint64_t want = (uint64_t)w, seen = 0;
    if ((double)want < w)
        want++;
    if (want == 0)
        want = 1;
    for (unsigned b = 0; b < NBUCKETS; b++) {
        seen += t->hist[b];
        if (seen >= want) {
            uint64_t end = bucket_end(b) - 1;
            return end < t->lat_max ? end : t->lat_max;
        }
    }
    return t->lat_max;
}

static const faas_cost_row *total_row(const faas_cost_row *rows, size_t n, const char *model)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].group == FAAS_COST_TOTAL && strcmp(rows[i].model, model) == 0)
            return &rows[i];
    return NULL;
}

/* Price the sample: 1M calls, and the measured rate for a month; then the modelled run. */
static int price(result *res)
{
    tally *a = &res->all;
    if (a->nsample == 0)
        return 0;
    uint64_t billed = a->calls - a->throttles;
    double rate = res->elapsed_s > 0 ? (double)billed / res->elapsed_s : 0;
    res->monthly_calls = round_u64(rate * MONTH_S);
    if (res->monthly_calls == 0)
        res->monthly_calls = 1;
    if (faas_cost_compare(a->sample, a->nsample, 1000000, NULL, 0, &res->million,
                          &res->nmillion) != FAAS_OK ||
        faas_cost_compare(a->sample, a->nsample, res->monthly_calls, NULL, 0, &res->month,
                          &res->nmonth) != FAAS_OK)
        return -1;
    /* Lambda gives a function CPU in proportion to its memory (one vCPU at 1,769 MB); this
     * machine ran it on a whole core whatever the size. Modelled: all of the time was CPU,
     * so below 1,769 MB it stretches by 1,769 / MB. */
    res->factor = res->memory_mb < LAMBDA_VCPU_MB ? (double)LAMBDA_VCPU_MB / res->memory_mb
                                                  : 1.0;
    faas_record *scaled = malloc(a->nsample * sizeof *scaled);
    if (scaled == NULL)
        return -1;
    for (size_t i = 0; i < a->nsample; i++) {
        scaled[i] = a->sample[i];
        scaled[i].duration_ns = round_u64((double)scaled[i].duration_ns * res->factor);
        scaled[i].init_ns = round_u64((double)scaled[i].init_ns * res->factor);
        scaled[i].cpu_ns = round_u64((double)scaled[i].cpu_ns * res->factor);
    }
    int rc = faas_cost_compare(scaled, a->nsample, 1000000, NULL, 0, &res->modelled,
                               &res->nmodelled);
    free(scaled);
    return rc == FAAS_OK ? 0 : -1;
}

/* Mean duration of the sample's handler runs, in ns. */
static double mean_duration(const tally *a)
{
    double sum = 0;
    for (size_t i = 0; i < a->nsample; i++)
        sum += (double)a->sample[i].duration_ns;
    return a->nsample ? sum / (double)a->nsample : 0;
}

/* ---- progress and stop ------------------------------------------------------------------ */

static atomic_int interrupted;

static void progress(const bench_opts *o, run *r, double elapsed, int tty, double *last_line)
{
    uint64_t done = atomic_load_explicit(&r->done, memory_order_relaxed);
    double frac = o->duration_s > 0 ? elapsed / o->duration_s
                                    : (double)done / (double)(r->calls_wanted ? r->calls_wanted
                                                                              : 1);
    if (frac > 1)
        frac = 1;
    if (tty) {
        char bar[31];
        int fill = (int)(frac * 30);
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\r[%s] %3.0f%%  %llu calls  %.1f s  %.0f/s ", bar, frac * 100,
                (unsigned long long)done, elapsed, elapsed > 0 ? (double)done / elapsed : 0);
        fflush(stderr);
    } else if (elapsed - *last_line >= 1.0) {
        fprintf(stderr, "%s: bench: %llu calls, %.1f s\n", prog, (unsigned long long)done,
                elapsed);
        *last_line = elapsed;
    }
}

/* Run the calls with o->concurrency threads, watching the clock and the stop signals. */
static int drive(const bench_opts *o, run *r, sigset_t *stop, result *res)
{
    unsigned n = o->concurrency;
    pthread_t th[MAX_THREADS];
    worker_arg args[MAX_THREADS];
    size_t cap = SAMPLE_CALLS / n > 1024 ? SAMPLE_CALLS / n : 1024;
    if (r->calls_wanted != 0 && r->calls_wanted < cap)
        cap = (size_t)r->calls_wanted;
    r->t = calloc(n, sizeof *r->t);
    if (r->t == NULL)
        return -1;
    for (unsigned i = 0; i < n; i++) {
        r->t[i].cap = cap;
        r->t[i].rng = 0x9E3779B97F4A7C15ull * (i + 1);
        r->t[i].sample = malloc(cap * sizeof *r->t[i].sample);
        if (r->t[i].sample == NULL)
            goto fail;
    }
    int tty = isatty(STDERR_FILENO) && !o->json;
    double last_line = 0;
    uint64_t start = now_ns();
    unsigned started = 0;
    for (; started < n; started++) {
        args[started] = (worker_arg){ r, &r->t[started] };
        if (pthread_create(&th[started], NULL, worker, &args[started]) != 0)
            break;
    }
    if (started == 0)
        goto fail;
    for (;;) {
        double elapsed = (double)(now_ns() - start) / 1e9;
        uint64_t done = atomic_load_explicit(&r->done, memory_order_relaxed);
        if (r->calls_wanted != 0 ? done >= r->calls_wanted : elapsed >= o->duration_s)
            break;
        progress(o, r, elapsed, tty, &last_line);
        /* Every 100 ms, or at the end of the duration; with --calls the run's end is
         * taken from the workers (end_ns), not from this wake-up. */
        double left = o->duration_s > 0 ? o->duration_s - elapsed : 0.1;
        if (left > 0.1)
            left = 0.1;
        struct timespec slice = { 0, (long)(left * 1e9) };
        if (sigtimedwait(stop, NULL, &slice) > 0) {
            atomic_store(&interrupted, 1);
            break;
        }
    }
    atomic_store(&r->stop, 1);
    uint64_t end = start;
    for (unsigned i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        if (r->t[i].end_ns > end)
            end = r->t[i].end_ns;
    }
    res->elapsed_s = (double)(end - start) / 1e9;
    if (tty)
        fprintf(stderr, "\r%*s\r", 70, "");

    size_t total = 0;
    for (unsigned i = 0; i < n; i++)
        total += r->t[i].nsample;
    res->all.sample = malloc((total ? total : 1) * sizeof *res->all.sample);
    if (res->all.sample == NULL)
        goto fail;
    for (unsigned i = 0; i < n; i++)
        merge(&res->all, &r->t[i]);
    for (unsigned i = 0; i < n; i++)
        free(r->t[i].sample);
    free(r->t);
    return 0;
fail:
    for (unsigned i = 0; i < n; i++)
        free(r->t[i].sample);
    free(r->t);
    return -1;
}

static int bench_one(const bench_opts *o, target *tg, const char *what, const char *payload,
                     size_t len, unsigned memory_mb, sigset_t *stop, result *res)
{
    memset(res, 0, sizeof *res);
    faas_options fo = { .size = sizeof(faas_options), .workers = 1 };
    faas_runtime *rt;
    if (faas_runtime_new(&rt, &fo) != FAAS_OK)
        return die(1, "%s", faas_last_error());
    int rc = target_register(tg, rt, memory_mb, what);
    if (rc != 0) {
        faas_runtime_free(rt);
        return rc;
    }
    run r = { .payload = payload, .len = len, .name = tg->name,
              .tag = tg->tag[0] ? tg->tag : NULL, .calls_wanted = o->calls };
    r.fn = faas_lookup(rt, tg->name);
    faas_function_info *info = NULL;
    /* The configuration is the section's, whichever version runs. */
    const char *described = tg->section != NULL ? tg->section->name : tg->name;
    if (r.fn == NULL || faas_describe(rt, described, &info) != FAAS_OK) {
        faas_runtime_free(rt);
        return die(1, "%s: %s", tg->name, faas_last_error());
    }
    res->memory_mb = info->config.memory_mb;
    faas_info_free(info);
    if (drive(o, &r, stop, res) != 0) {
        faas_runtime_free(rt);
        return die(1, "out of memory");
    }
    faas_runtime_free(rt);
    if (price(res) != 0)
        return die(1, "pricing: %s", faas_last_error());
    return 0;
}

/* ---- printing --------------------------------------------------------------------------- */

static const char *ms(uint64_t ns, char *buf, size_t size)
{
    double v = (double)ns / 1e6;
    snprintf(buf, size, v < 0.01 ? "%.4f ms" : v < 10 ? "%.3f ms" : "%.1f ms", v);
    return buf;
}

static const char *money(uint64_t pusd, char *buf, size_t size)
{
    faas_format_usd(pusd, pusd < 10000000000u ? -1 : 2, buf, size);
    return buf;
}

static void print_histogram(const tally *a)
{
    /* One bar per power of two of nanoseconds, from the first to the last filled one. */
    uint64_t oct[66] = { 0 };
    int lo = -1, hi = -1;
    for (unsigned b = 0; b < NBUCKETS; b++) {
        if (a->hist[b] == 0)
            continue;
        int k = b < 8 ? (b == 0 ? 0 : 63 - __builtin_clzll(b)) : (int)(b / 8 + 2);
        oct[k] += a->hist[b];
        if (lo < 0 || k < lo)
            lo = k;
        if (k > hi)
            hi = k;
    }
    if (lo < 0)
        return;
    uint64_t top = 0;
    for (int k = lo; k <= hi; k++)
        if (oct[k] > top)
            top = oct[k];
    printf("latency (calls by time, each bar a doubling):\n");
    for (int k = lo; k <= hi; k++) {
        char from[32], to[32];
        int w = (int)((oct[k] * 40 + top - 1) / top);
        printf("  %12s - %-12s |", ms(k == 0 ? 0 : 1ull << k, from, sizeof from),
               ms(k >= 63 ? UINT64_MAX : 1ull << (k + 1), to, sizeof to));
        for (int i = 0; i < w; i++)
            putchar('#');
        printf(" %llu\n", (unsigned long long)oct[k]);
    }
}

static void print_run(const bench_opts *o, const result *res)
{
    const tally *a = &res->all;
    char b1[40], b2[40], b3[40], b4[40], b5[40];
    uint64_t runs = a->calls - a->throttles;
    printf("%llu call%s in %.2f s with %u thread%s at %u MB: %.1f calls/s%s\n",
           (unsigned long long)a->calls, a->calls == 1 ? "" : "s", res->elapsed_s,
           o->concurrency,
           o->concurrency == 1 ? "" : "s", res->memory_mb,
           res->elapsed_s > 0 ? (double)a->calls / res->elapsed_s : 0,
           atomic_load(&interrupted) ? " (interrupted)" : "");
    printf("errors %llu, throttled %llu", (unsigned long long)a->errors,
           (unsigned long long)a->throttles);
    for (int s = 1; s < NSTATUS; s++)
        if (a->by_status[s])
            printf("; %s %llu", faas_err_name(-s),
                   (unsigned long long)a->by_status[s]);
    printf("\n");
    if (a->first_error[0])
        printf("  first error: %s\n", a->first_error);
    if (a->calls == 0)
        return;
    printf("latency: mean %s, p50 %s, p90 %s, p99 %s, max %s\n",
           ms(a->lat_sum / a->calls, b1, sizeof b1), ms(quantile(a, 0.5), b2, sizeof b2),
           ms(quantile(a, 0.9), b3, sizeof b3), ms(quantile(a, 0.99), b4, sizeof b4),
           ms(a->lat_max, b5, sizeof b5));
    if (runs > 0) {
        uint64_t warm = runs - a->cold;
        printf("cold %llu (mean %s, of which init %s), warm %llu (mean %s)\n",
               (unsigned long long)a->cold,
               ms(a->cold ? a->cold_lat_sum / a->cold : 0, b1, sizeof b1),
               ms(a->cold ? a->init_sum / a->cold : 0, b2, sizeof b2),
               (unsigned long long)warm,
               ms(warm ? (a->lat_sum - a->cold_lat_sum) / warm : 0, b3, sizeof b3));
    }
    print_histogram(a);
    if (res->million == NULL)
        return;
    char rate[40];
    snprintf(rate, sizeof rate, "%llu", (unsigned long long)res->monthly_calls);
    printf("cost, priced by faas_cost_compare(3) as `faas cost` does, from %zu recorded "
           "call%s:\n", a->nsample, a->nsample == 1 ? "" : "s");
    printf("  %-24s %18s %24s\n", "model", "1M calls (list)", "a month at this rate");
    for (size_t i = 0; i < res->nmillion; i++) {
        const faas_cost_row *m = &res->million[i];
        if (m->group != FAAS_COST_TOTAL)
            continue;
        const faas_cost_row *mo = total_row(res->month, res->nmonth, m->model);
        printf("  %-24s %18s %24s\n", m->model,
               money(m->request_picousd + m->compute_picousd, b1, sizeof b1),
               mo ? money(mo->total_picousd, b2, sizeof b2) : "-");
    }
    printf("  (a month: %s calls, 30 days at the measured rate; free tiers and fees "
           "applied)\n", rate);
}

static void print_table(const result *res, size_t n)
{
    const char *model = faas_price_model_preset(0)->name;
    char b1[40], b2[40], b3[40], b4[40];
    printf("\nmemory sizes, on %s (Power Tuning's view):\n", model);
    printf("  %9s %12s %14s %14s %18s %18s\n", "memory MB", "calls/s", "p99",
           "mean modelled", "1M calls measured", "1M calls modelled");
    for (size_t i = 0; i < n; i++) {
        const tally *a = &res[i].all;
        const faas_cost_row *m = total_row(res[i].million, res[i].nmillion, model);
        const faas_cost_row *md = total_row(res[i].modelled, res[i].nmodelled, model);
        printf("  %9u %12.1f %14s %14s %18s %18s\n", res[i].memory_mb,
               res[i].elapsed_s > 0 ? (double)a->calls / res[i].elapsed_s : 0,
               ms(quantile(a, 0.99), b1, sizeof b1),
               ms((uint64_t)(mean_duration(a) * res[i].factor), b2, sizeof b2),
               m ? money(m->request_picousd + m->compute_picousd, b3, sizeof b3) : "-",
               md ? money(md->request_picousd + md->compute_picousd, b4, sizeof b4) : "-");
    }
    printf("Measured here: calls/s, p99 and the \"measured\" cost, on this machine's cores,\n"
           "which give every size a whole CPU. Modelled: Lambda gives CPU in proportion to\n"
           "memory (one vCPU at %u MB), so the handler's time is stretched by %u/MB below\n"
           "that, as if all of it were CPU (an upper bound for code that waits on I/O).\n",
           LAMBDA_VCPU_MB, LAMBDA_VCPU_MB);
}

static void json_rows(const char *key, const faas_cost_row *rows, size_t n, int with_total)
{
    printf(",\"%s\":{", key);
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].group != FAAS_COST_TOTAL)
            continue;
        printf("%s\"%s\":%llu", first ? "" : ",", rows[i].model,
               (unsigned long long)(with_total ? rows[i].total_picousd
                                               : rows[i].request_picousd +
                                                     rows[i].compute_picousd));
        first = 0;
    }
    printf("}");
}

static void print_json(const bench_opts *o, const target *tg, const result *res, size_t n)
{
    printf("{\"function\":\"%s\",\"concurrency\":%u,\"interrupted\":%s,\"runs\":[", tg->name,
           o->concurrency, atomic_load(&interrupted) ? "true" : "false");
    for (size_t i = 0; i < n; i++) {
        const tally *a = &res[i].all;
        uint64_t runs = a->calls - a->throttles, warm = runs - a->cold;
        printf("%s{\"memory_mb\":%u,\"calls\":%llu,\"errors\":%llu,\"throttles\":%llu,"
               "\"cold\":%llu,\"warm\":%llu,\"elapsed_s\":%.6f,\"calls_per_s\":%.3f,",
               i ? "," : "", res[i].memory_mb, (unsigned long long)a->calls,
               (unsigned long long)a->errors, (unsigned long long)a->throttles,
               (unsigned long long)a->cold, (unsigned long long)warm, res[i].elapsed_s,
               res[i].elapsed_s > 0 ? (double)a->calls / res[i].elapsed_s : 0);
        printf("\"latency_ms\":{\"mean\":%.6f,\"p50\":%.6f,\"p90\":%.6f,\"p99\":%.6f,"
               "\"max\":%.6f,\"cold_mean\":%.6f,\"warm_mean\":%.6f,\"init_mean\":%.6f},",
               a->calls ? (double)a->lat_sum / a->calls / 1e6 : 0,
               (double)quantile(a, 0.5) / 1e6, (double)quantile(a, 0.9) / 1e6,
               (double)quantile(a, 0.99) / 1e6, (double)a->lat_max / 1e6,
               a->cold ? (double)a->cold_lat_sum / a->cold / 1e6 : 0,
               warm ? (double)(a->lat_sum - a->cold_lat_sum) / warm / 1e6 : 0,
               a->cold ? (double)a->init_sum / a->cold / 1e6 : 0);
        printf("\"errors_by_status\":{");
        int first = 1;
        for (int s = 1; s < NSTATUS; s++)
            if (a->by_status[s]) {
                printf("%s\"%s\":%llu", first ? "" : ",", faas_err_name(-s),
                       (unsigned long long)a->by_status[s]);
                first = 0;
            }
        printf("},\"histogram\":[");
        first = 1;
        for (unsigned b = 0; b < NBUCKETS; b++)
            if (a->hist[b]) {
                printf("%s{\"below_ns\":%llu,\"count\":%llu}", first ? "" : ",",
                       (unsigned long long)bucket_end(b), (unsigned long long)a->hist[b]);
                first = 0;
            }
        printf("],\"priced_calls\":%zu,\"monthly_calls\":%llu", a->nsample,
               (unsigned long long)res[i].monthly_calls);
        if (res[i].million != NULL) {
            json_rows("million_calls_picousd", res[i].million, res[i].nmillion, 0);
            json_rows("month_at_rate_picousd", res[i].month, res[i].nmonth, 1);
            printf(",\"modelled\":{\"lambda_cpu_factor\":%.6f,\"mean_duration_ms\":%.6f",
                   res[i].factor, mean_duration(a) * res[i].factor / 1e6);
            json_rows("million_calls_picousd", res[i].modelled, res[i].nmodelled, 0);
            printf("}");
        }
        printf("}");
    }
    printf("]}\n");
}

/* ---- faas bench ------------------------------------------------------------------------- */

int cmd_bench(int argc, char **argv)
{
    bench_opts o = { .concurrency = 1 };
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            o.json = 1;
        } else if (i + 1 >= argc) {
            return bench_usage();
        } else if (strcmp(a, "--concurrency") == 0) {
            if (parse_unsigned(argv[++i], &o.concurrency) != 0 || o.concurrency == 0 ||
                o.concurrency > MAX_THREADS)
                return die(2, "--concurrency wants 1 to %d, not \"%s\"", MAX_THREADS, argv[i]);
        } else if (strcmp(a, "--duration") == 0) {
            if (parse_duration(argv[++i], &o.duration_s) != 0)
                return die(2, "--duration wants seconds (\"10\", \"2.5s\", \"1m\"), not "
                           "\"%s\"", argv[i]);
        } else if (strcmp(a, "--calls") == 0) {
            unsigned c;
            if (parse_unsigned(argv[++i], &c) != 0 || c == 0)
                return die(2, "--calls wants a number of calls, not \"%s\"", argv[i]);
            o.calls = c;
        } else if (strcmp(a, "--event") == 0) {
            o.event = argv[++i];
        } else if (strcmp(a, "--memory") == 0) {
            if (parse_memory_list(argv[++i], &o) != 0)
                return die(2, "--memory wants MB sizes such as 128,512,1024 (at most %d), "
                           "not \"%s\"", MAX_SIZES, argv[i]);
        } else {
            return bench_usage();
        }
    }
    if (argc - i != 2)
        return bench_usage();
    if (o.calls != 0 && o.duration_s > 0)
        return die(2, "--duration and --calls: one or the other");
    if (o.calls == 0 && o.duration_s == 0)
        o.duration_s = 5;
    if (o.nsizes == 0)
        o.sizes[o.nsizes++] = 0;        /* as configured */

    size_t len = 2;
    char *payload = NULL;
    if (o.event != NULL && (payload = read_file(o.event, &len)) == NULL)
        return die(1, "--event %s: %s", o.event, strerror(errno));

    target tg;
    int rc = target_open(&tg, argv[i], argv[i + 1]);
    result res[MAX_SIZES];
    size_t nres = 0;
    sigset_t stop;
    block_stop_signals(&stop);
    for (size_t k = 0; rc == 0 && k < o.nsizes && !atomic_load(&interrupted); k++) {
        if (!o.json && o.nsizes > 1)
            fprintf(stderr, "%s: bench: %u MB\n", prog, o.sizes[k]);
        rc = bench_one(&o, &tg, argv[i], payload ? payload : "{}", len, o.sizes[k], &stop,
                       &res[nres]);
        if (rc == 0)
            nres++;
    }
    if (nres > 0) {
        if (o.json) {
            print_json(&o, &tg, res, nres);
        } else {
            for (size_t k = 0; k < nres; k++) {
                if (k)
                    printf("\n");
                print_run(&o, &res[k]);
            }
            if (o.nsizes > 1)
                print_table(res, nres);
        }
        fflush(stdout);
    }
    for (size_t k = 0; k < nres; k++)
        result_free(&res[k]);
    if (tg.have_file)
        ff_free(&tg.file);
    free(payload);
    if (rc == 0 && atomic_load(&interrupted))
        return 130;
    return rc;
}
