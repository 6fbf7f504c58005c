/*
 * bench_cost.c - what recording costs on the warm path, beside the core's warm call, in one
 * process run: faas_invoke_fn with the default accounting (the same case as bench_core's
 * invoke_fn), without histograms, with a budget on the function's tag, on models that
 * take the slower paths of the billing arithmetic (a second dimension; observed memory),
 * and what a record-file sink formats per call. The exports are timed too, though they
 * are not on the call path.
 *
 * Run it from the build directory: ./tests/bench/bench_cost [--quick] [--only NAME[,...]]
 * [--iters N] [--reps N] [--list]; instructions per call with
 * CASES="invoke_fn nohist ..." sh tests/bench/callgrind.sh tests/bench/bench_cost.
 * See tests/bench/README.md.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <faas.h>

#include "bench.h"

#define WARMUP_CALLS 2000u      /* untimed, fixed: callgrind differences cancel it */

BENCH_NOINLINE static int empty(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx;
    (void)payload;
    (void)len;
    __asm__ volatile("");
    return 0;
}

static int (*volatile direct_ptr)(faas_ctx *, const void *, size_t) = empty;

static const char payload[] = "{}";
#define PAYLOAD_LEN (sizeof payload - 1)

static struct {
    int         quick;
    unsigned    reps;
    uint64_t    iters;
    const char *only;
} opt;

static int selected(const char *name)
{
    return bench_selected(opt.only, name);
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_cost: %s: %s (%s)\n", what, faas_strerror(rc), faas_last_error());
    exit(1);
}

/* ---- runtimes ---------------------------------------------------------------------------- */

enum { RT_DEFAULT, RT_NOHIST, RT_BUDGET, RT_GCP1, RT_AZURE, NRT };
static faas_runtime  *rts[NRT];
static faas_function *fns[NRT];

/* A runtime with "empty" registered (tagged when a budget is wanted), one instance warm. */
static void make(int which)
{
    if (rts[which] != NULL)
        return;
    faas_options o;
    memset(&o, 0, sizeof o);
    o.no_histograms = which == RT_NOHIST;
    o.price_model = which == RT_GCP1 ? "gcp-functions-gen1"
                  : which == RT_AZURE ? "azure-consumption" : NULL;
    int rc = faas_runtime_new(&rts[which], &o);
    if (rc != FAAS_OK)
        die("faas_runtime_new", rc);
    faas_config c;
    faas_config_init(&c);
    if (which == RT_BUDGET) {
        c.tag = "tenant";
        /* Never reached ($1,000,000 a minute): the check and the charge are what runs. */
        if ((rc = faas_budget_set(rts[which], "tenant", 1000000ull * 1000000000000ull,
                                  60000)) != FAAS_OK)
            die("faas_budget_set", rc);
    }
    if ((rc = faas_register(rts[which], "empty", empty, &c)) != FAAS_OK)
        die("faas_register", rc);
    if ((rc = faas_warm(rts[which], "empty", 1)) != FAAS_OK)
        die("faas_warm", rc);
    if ((fns[which] = faas_lookup(rts[which], "empty")) == NULL)
        die("faas_lookup", FAAS_ENOTFOUND);
}

static void setup_default(void) { make(RT_DEFAULT); }
static void setup_nohist(void)  { make(RT_NOHIST); }
static void setup_budget(void)  { make(RT_BUDGET); }
static void setup_gcp1(void)    { make(RT_GCP1); }
static void setup_azure(void)   { make(RT_AZURE); }
static void no_setup(void) {}

/* ---- loops: n operations, returning the number that failed or were cold (0) ---------------- */

static uint64_t loop_direct(uint64_t n)
{
    uint64_t acc = 0;
    for (uint64_t i = 0; i < n; i++)
        acc += (uint64_t)direct_ptr(NULL, payload, PAYLOAD_LEN);
    return acc;
}

static uint64_t invoke_loop(faas_function *fn, uint64_t n)
{
    uint64_t acc = 0;
    faas_response res;
    for (uint64_t i = 0; i < n; i++) {
        int rc = faas_invoke_fn(fn, payload, PAYLOAD_LEN, &res);
        acc += (uint64_t)(rc != FAAS_OK) + (uint64_t)res.record.cold;
        faas_response_free(&res);
    }
    return acc;
}

static uint64_t loop_invoke_fn(uint64_t n) { return invoke_loop(fns[RT_DEFAULT], n); }
static uint64_t loop_nohist(uint64_t n)    { return invoke_loop(fns[RT_NOHIST], n); }
static uint64_t loop_budget(uint64_t n)    { return invoke_loop(fns[RT_BUDGET], n); }
static uint64_t loop_gcp1(uint64_t n)      { return invoke_loop(fns[RT_GCP1], n); }
static uint64_t loop_azure(uint64_t n)     { return invoke_loop(fns[RT_AZURE], n); }

/* What a record-file sink formats per call (faas_record_write without its write(2)). */
static uint64_t loop_json(uint64_t n)
{
    faas_record r;
    memset(&r, 0, sizeof r);
    memcpy(r.request_id, "3f0c2a9e-7b1d-4c55-9a0e-2d6f1b8c4e71", 37);
    r.function = "resize";
    r.tag = "team-a";
    r.attempt = 1;
    r.duration_ns = 120000000;
    r.billed_ms = 120;
    r.memory_mb = 512;
    r.cost_picousd = 1200002;
    char line[1024];
    uint64_t bad = 0;
    for (uint64_t i = 0; i < n; i++) {
        r.duration_ns += i;
        bad += faas_record_json(&r, line, sizeof line) <= 0;
        bench_clobber(line);
    }
    return bad;
}

/* The exports of the default runtime (one function): a scrape, not a call. */
static uint64_t loop_prom(uint64_t n)
{
    uint64_t bad = 0;
    for (uint64_t i = 0; i < n; i++) {
        char *text;
        size_t len;
        bad += faas_metrics_prometheus(rts[RT_DEFAULT], &text, &len) != FAAS_OK;
        bench_keep(len);
        faas_free(text);
    }
    return bad;
}

static uint64_t loop_stats(uint64_t n)
{
    uint64_t bad = 0;
    for (uint64_t i = 0; i < n; i++) {
        faas_stats st;
        bad += faas_stats_get(rts[RT_DEFAULT], "empty", &st) != FAAS_OK;
        bench_keep(st.invocations);
    }
    return bad;
}

typedef struct warm_case {
    const char *name, *what;
    uint64_t  (*loop)(uint64_t n);
    void      (*setup)(void);
    uint64_t    iters;
    double     *ns;
    int         ran;
    bench_summary s;
} warm_case;

static warm_case cases[] = {
    { "direct", "direct call, volatile fn-pointer, noinline", loop_direct, no_setup,
      20000000u, NULL, 0, { 0, 0, 0, 0, 0 } },
    { "invoke_fn", "faas_invoke_fn, defaults (the core's warm call)", loop_invoke_fn,
      setup_default, 300000u, NULL, 0, { 0, 0, 0, 0, 0 } },
    { "nohist", "the same, no_histograms = 1", loop_nohist, setup_nohist, 300000u, NULL, 0,
      { 0, 0, 0, 0, 0 } },
    { "budget", "the same, its tag has a budget", loop_budget, setup_budget, 300000u, NULL,
      0, { 0, 0, 0, 0, 0 } },
    { "gcp1", "the same, gcp-functions-gen1 (GHz-s, 100 ms)", loop_gcp1, setup_gcp1, 300000u,
      NULL, 0, { 0, 0, 0, 0, 0 } },
    { "azure", "the same, azure-consumption (observed MB)", loop_azure, setup_azure, 300000u,
      NULL, 0, { 0, 0, 0, 0, 0 } },
    { "json", "faas_record_json of one record", loop_json, no_setup, 1000000u, NULL, 0,
      { 0, 0, 0, 0, 0 } },
    { "stats", "faas_stats_get of one function", loop_stats, setup_default, 20000u, NULL, 0,
      { 0, 0, 0, 0, 0 } },
    { "prom", "faas_metrics_prometheus, one function", loop_prom, setup_default, 5000u,
      NULL, 0, { 0, 0, 0, 0, 0 } },
};
#define NCASES (sizeof cases / sizeof cases[0])

static warm_case *find(const char *name)
{
    for (size_t i = 0; i < NCASES; i++)
        if (strcmp(cases[i].name, name) == 0 && cases[i].ran)
            return &cases[i];
    return NULL;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0) {
            opt.quick = 1;
        } else if (strcmp(a, "--only") == 0 && v) {
            opt.only = v;
            i++;
        } else if (strcmp(a, "--iters") == 0 && v) {
            opt.iters = bench_parse_count("bench_cost", v, "--iters");
            i++;
        } else if (strcmp(a, "--reps") == 0 && v) {
            opt.reps = (unsigned)bench_parse_count("bench_cost", v, "--reps");
            i++;
        } else if (strcmp(a, "--list") == 0) {
            for (size_t k = 0; k < NCASES; k++)
                printf("%-10s %s\n", cases[k].name, cases[k].what);
            return 0;
        } else {
            fprintf(stderr, "usage: bench_cost [--quick] [--only NAME[,NAME...]] [--iters N]"
                            " [--reps N] [--list]\n");
            return 2;
        }
    }
    unsigned reps = opt.reps ? opt.reps : opt.quick ? 3u : 9u;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("libfaas %s bench_cost: %ld online CPUs, %u reps%s\n", faas_version(),
           sysconf(_SC_NPROCESSORS_ONLN), reps, opt.quick ? " (--quick: rough numbers)" : "");
    int any = 0;
    for (size_t k = 0; k < NCASES; k++) {
        warm_case *w = &cases[k];
        if (!selected(w->name))
            continue;
        if (opt.iters)
            w->iters = opt.iters;
        else if (opt.quick)
            w->iters = w->iters / 100 ? w->iters / 100 : 1;
        w->setup();
        if (w->loop(WARMUP_CALLS) != 0) {
            fprintf(stderr, "bench_cost: %s: an operation failed or a call was cold\n",
                    w->name);
            return 1;
        }
        w->ns = calloc(reps, sizeof *w->ns);
        if (w->ns == NULL)
            return 1;
        w->ran = any = 1;
    }
    if (!any) {
        fprintf(stderr, "bench_cost: --only %s: no such case (see --list)\n", opt.only);
        return 2;
    }
    /* Round-robin, rep by rep: a noisy second hits every case, not one. */
    for (unsigned r = 0; r < reps; r++) {
        for (size_t k = 0; k < NCASES; k++) {
            warm_case *w = &cases[k];
            if (!w->ran)
                continue;
            uint64_t t0 = bench_now_ns();
            uint64_t bad = w->loop(w->iters);
            uint64_t t1 = bench_now_ns();
            if (bad != 0) {
                fprintf(stderr, "bench_cost: %s: %llu operations failed or were cold\n",
                        w->name, (unsigned long long)bad);
                return 1;
            }
            w->ns[r] = (double)(t1 - t0) / (double)w->iters;
        }
    }
    warm_case *base = find("invoke_fn");
    printf("\nns/op, median [min - max] of %u reps%s\n", reps,
           base ? "; x invoke_fn = ratio of medians to the default warm call" : "");
    printf("%-10s %-48s %10s %23s %13s\n", "case", "what", "ns/op", "[min - max]",
           base ? "x invoke_fn" : "");
    for (size_t k = 0; k < NCASES; k++) {
        warm_case *w = &cases[k];
        if (!w->ran)
            continue;
        w->s = bench_summarise(w->ns, reps);
    }
    for (size_t k = 0; k < NCASES; k++) {
        warm_case *w = &cases[k];
        if (!w->ran)
            continue;
        char range[48], ratio[16] = "";
        snprintf(range, sizeof range, "[%.2f - %.2f]", w->s.min, w->s.max);
        if (base != NULL && base->s.median > 0)
            snprintf(ratio, sizeof ratio, "%.3f", w->s.median / base->s.median);
        printf("%-10s %-48s %10.2f %23s %13s\n", w->name, w->what, w->s.median, range, ratio);
    }
    static const struct { const char *a, *b, *what; } deltas[] = {
        { "invoke_fn", "nohist", "the latency histogram adds" },
        { "budget", "invoke_fn", "a budget on the tag adds" },
        { "gcp1", "invoke_fn", "a second price dimension + 100 ms quantum adds" },
        { "azure", "invoke_fn", "observed memory in buckets adds" },
    };
    int printed = 0;
    for (size_t k = 0; k < sizeof deltas / sizeof deltas[0]; k++) {
        warm_case *a = find(deltas[k].a), *b = find(deltas[k].b);
        if (a == NULL || b == NULL)
            continue;
        double *diff = calloc(reps, sizeof *diff);
        if (diff == NULL)
            return 1;
        for (unsigned r = 0; r < reps; r++)
            diff[r] = a->ns[r] - b->ns[r];
        bench_summary s = bench_summarise(diff, reps);
        free(diff);
        if (!printed++)
            printf("\nAdded cost: median of per-rep differences [min - max], ns/op\n");
        printf("  %-48s %7.2f ns  [%.2f - %.2f]\n", deltas[k].what, s.median, s.min, s.max);
    }
    for (int i = 0; i < NRT; i++)
        faas_runtime_free(rts[i]);
    for (size_t k = 0; k < NCASES; k++)
        free(cases[k].ns);
    return 0;
}
