/*
 * bench_core.c - libfaas's core benchmark: a warm synchronous call, and a cold start,
 * each beside its physical floor, in one process run.
 *
 *   warm: direct call (volatile fn-pointer) | raw ffi_call | faas_invoke_fn | faas_invoke
 *         (by name) | faas_invoke_fn with cpu_time = 1 | with a record hook
 *   cold: faas_invoke_fn of a module with keep_alive_ms 0 (every call loads, INITs, shuts
 *         down and unloads) | a bare dlopen + dlsym + init + call + shutdown + dlclose
 *         of the same .so, interleaved cycle by cycle
 *
 * Run it from the build directory: ./tests/bench/bench_core [--quick] [--only NAME[,NAME]]
 * [--iters N] [--reps N] [--modules DIR] [--list]. See tests/bench/README.md.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <ffi.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <faas.h>

#include "bench.h"

#define WARMUP_CALLS 2000u   /* untimed calls before a warm case; fixed, so that callgrind
                              * differences over --iters cancel it */
#define COLD_WARMUP  5u      /* untimed cycles of each kind before a cold case */

/* ---- the function under test ------------------------------------------------------------ */

/* The empty handler: the direct call, ffi_call and every libfaas row call this one. */
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

/* ---- options ------------------------------------------------------------------------------ */

static struct {
    int         quick;
    unsigned    reps;        /* 0: the default */
    uint64_t    iters;       /* 0: each case's default */
    const char *only;        /* NULL: all; else a comma-separated list */
    const char *modules;     /* the directory of echo.so and primes.so */
} opt;

static int selected(const char *name)
{
    return bench_selected(opt.only, name);
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_core: %s: %s (%s)\n", what, faas_strerror(rc), faas_last_error());
    exit(1);
}

/* ---- warm-case state (set up lazily, only for the cases run) --------------------------- */

static faas_runtime  *rt_default, *rt_cpu, *rt_hook;
static faas_function *fn_default, *fn_cpu, *fn_hook;
static uint64_t       hook_calls;
static ffi_cif        cif;
static ffi_type      *cif_args[3];

static void on_record(const faas_record *r, void *arg)
{
    *(uint64_t *)arg += 1 + (uint64_t)(r->status != FAAS_OK);
}

/* A runtime with "empty" registered and one instance warm. */
static faas_runtime *make_runtime(const faas_options *o, faas_function **fn)
{
    faas_runtime *rt;
    int rc = faas_runtime_new(&rt, o);
    if (rc != FAAS_OK)
        die("faas_runtime_new", rc);
    if ((rc = faas_register(rt, "empty", empty, NULL)) != FAAS_OK)
        die("faas_register(empty)", rc);
    if ((rc = faas_warm(rt, "empty", 1)) != FAAS_OK)
        die("faas_warm(empty)", rc);
    if ((*fn = faas_lookup(rt, "empty")) == NULL)
        die("faas_lookup(empty)", FAAS_ENOTFOUND);
    return rt;
}

static void setup_default(void)
{
    if (rt_default == NULL)
        rt_default = make_runtime(NULL, &fn_default);     /* every default */
}

/* The default runtime's "empty" published as version 1, an alias "live" of it, and a
 * handle of each, one instance of the version warm. */
static faas_function *fn_version, *fn_alias;

static void setup_versions(void)
{
    setup_default();
    if (fn_version != NULL)
        return;
    int rc;
    if ((rc = faas_publish_version(rt_default, "empty", NULL, NULL)) != FAAS_OK)
        die("faas_publish_version(empty)", rc);
    if ((rc = faas_alias_set(rt_default, "empty", "live", 1, 0, 0.0)) != FAAS_OK)
        die("faas_alias_set(empty:live)", rc);
    if ((rc = faas_warm(rt_default, "empty", 1)) != FAAS_OK ||
        (fn_version = faas_lookup(rt_default, "empty:1")) == NULL ||
        (fn_alias = faas_lookup(rt_default, "empty:live")) == NULL)
        die("faas_lookup(empty:1, empty:live)", FAAS_ENOTFOUND);
    faas_response res;                  /* the version's instance: warm from here */
    faas_invoke(rt_default, "empty:1", payload, PAYLOAD_LEN, &res);
    faas_response_free(&res);
}

static void setup_cpu(void)
{
    if (rt_cpu == NULL) {
        faas_options o;
        memset(&o, 0, sizeof o);
        o.cpu_time = 1;
        rt_cpu = make_runtime(&o, &fn_cpu);
    }
}

static void setup_hook(void)
{
    if (rt_hook == NULL) {
        rt_hook = make_runtime(NULL, &fn_hook);
        faas_on_record(rt_hook, on_record, &hook_calls);
    }
}

static void setup_ffi(void)
{
    cif_args[0] = &ffi_type_pointer;
    cif_args[1] = &ffi_type_pointer;
    cif_args[2] = sizeof(size_t) == 8 ? &ffi_type_uint64 : &ffi_type_uint32;
    if (ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 3, &ffi_type_sint, cif_args) != FFI_OK) {
        fprintf(stderr, "bench_core: ffi_prep_cif failed\n");
        exit(1);
    }
}

/* ---- warm loops: each runs n operations and returns the sum of their results (0) ------- */

static uint64_t loop_empty(uint64_t n)
{
    uint64_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        acc += i;
        bench_clobber(&acc);
    }
    return acc - n * (n - 1) / 2;          /* 0 */
}

static uint64_t loop_direct(uint64_t n)
{
    uint64_t acc = 0;
    for (uint64_t i = 0; i < n; i++)
        acc += (uint64_t)direct_ptr(NULL, payload, PAYLOAD_LEN);
    return acc;
}

static uint64_t loop_ffi(uint64_t n)
{
    uint64_t acc = 0;
    faas_ctx *ctx = NULL;
    const void *p = payload;
    size_t len = PAYLOAD_LEN;
    void *args[3] = { &ctx, &p, &len };
    for (uint64_t i = 0; i < n; i++) {
        ffi_arg rc;
        ffi_call(&cif, FFI_FN(empty), &rc, args);
        acc += (uint64_t)(int)rc;
    }
    return acc;
}

static uint64_t clock_loop(clockid_t id, uint64_t n)
{
    uint64_t acc = 0;
    struct timespec ts;
    for (uint64_t i = 0; i < n; i++) {
        clock_gettime(id, &ts);
        acc += (uint64_t)ts.tv_nsec;
    }
    bench_keep(acc);
    return 0;
}

static uint64_t loop_clock_mono(uint64_t n) { return clock_loop(CLOCK_MONOTONIC, n); }
static uint64_t loop_clock_cpu(uint64_t n)  { return clock_loop(CLOCK_THREAD_CPUTIME_ID, n); }

static uint64_t invoke_fn_loop(faas_function *fn, uint64_t n)
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

static uint64_t loop_invoke_fn(uint64_t n) { return invoke_fn_loop(fn_default, n); }
static uint64_t loop_cpu_time(uint64_t n)  { return invoke_fn_loop(fn_cpu, n); }
static uint64_t loop_hook(uint64_t n)      { return invoke_fn_loop(fn_hook, n); }

static uint64_t loop_invoke(uint64_t n)
{
    uint64_t acc = 0;
    faas_response res;
    for (uint64_t i = 0; i < n; i++) {
        int rc = faas_invoke(rt_default, "empty", payload, PAYLOAD_LEN, &res);
        acc += (uint64_t)(rc != FAAS_OK) + (uint64_t)res.record.cold;
        faas_response_free(&res);
    }
    return acc;
}

static uint64_t invoke_name_loop(const char *name, uint64_t n)
{
    uint64_t acc = 0;
    faas_response res;
    for (uint64_t i = 0; i < n; i++) {
        int rc = faas_invoke(rt_default, name, payload, PAYLOAD_LEN, &res);
        acc += (uint64_t)(rc != FAAS_OK) + (uint64_t)res.record.cold;
        faas_response_free(&res);
    }
    return acc;
}

static uint64_t loop_version(uint64_t n)    { return invoke_name_loop("empty:1", n); }
static uint64_t loop_alias(uint64_t n)      { return invoke_name_loop("empty:live", n); }
static uint64_t loop_version_fn(uint64_t n) { return invoke_fn_loop(fn_version, n); }
static uint64_t loop_alias_fn(uint64_t n)   { return invoke_fn_loop(fn_alias, n); }

typedef struct warm_case {
    const char *name;
    const char *what;
    uint64_t  (*loop)(uint64_t n);
    void      (*setup)(void);
    uint64_t    iters;        /* default operations per rep (~50 ms each here) */
    /* results */
    double     *ns;           /* ns/op of each rep */
    int         ran;
    bench_summary s;
} warm_case;

static void no_setup(void) {}

static warm_case warm[] = {
    { .name = "loop", .what = "empty loop iteration (harness overhead)",
      .loop = loop_empty, .setup = no_setup, .iters = 50000000u },
    { .name = "direct", .what = "direct call, volatile fn-pointer, noinline",
      .loop = loop_direct, .setup = no_setup, .iters = 20000000u },
    { .name = "ffi", .what = "ffi_call, prepared cif, same fn (3 args)",
      .loop = loop_ffi, .setup = setup_ffi, .iters = 2000000u },
    { .name = "clock_mono", .what = "clock_gettime(CLOCK_MONOTONIC), one read",
      .loop = loop_clock_mono, .setup = no_setup, .iters = 2000000u },
    { .name = "clock_cpu", .what = "clock_gettime(CLOCK_THREAD_CPUTIME_ID), one",
      .loop = loop_clock_cpu, .setup = no_setup, .iters = 50000u },
    { .name = "invoke_fn", .what = "faas_invoke_fn, warm, defaults + free",
      .loop = loop_invoke_fn, .setup = setup_default, .iters = 300000u },
    { .name = "invoke", .what = "faas_invoke by name, warm + free",
      .loop = loop_invoke, .setup = setup_default, .iters = 300000u },
    { .name = "version", .what = "faas_invoke of \"empty:1\", warm + free",
      .loop = loop_version, .setup = setup_versions, .iters = 300000u },
    { .name = "alias", .what = "faas_invoke of alias \"empty:live\" (-> 1)",
      .loop = loop_alias, .setup = setup_versions, .iters = 300000u },
    { .name = "version_fn", .what = "faas_invoke_fn, handle of \"empty:1\"",
      .loop = loop_version_fn, .setup = setup_versions, .iters = 300000u },
    { .name = "alias_fn", .what = "faas_invoke_fn, handle of alias \"empty:live\"",
      .loop = loop_alias_fn, .setup = setup_versions, .iters = 300000u },
    { .name = "cpu_time", .what = "faas_invoke_fn, cpu_time = 1",
      .loop = loop_cpu_time, .setup = setup_cpu, .iters = 20000u },
    { .name = "hook", .what = "faas_invoke_fn, trivial record hook",
      .loop = loop_hook, .setup = setup_hook, .iters = 300000u },
};
#define NWARM (sizeof warm / sizeof warm[0])

static warm_case *warm_find(const char *name)
{
    for (size_t i = 0; i < NWARM; i++)
        if (strcmp(warm[i].name, name) == 0 && warm[i].ran)
            return &warm[i];
    return NULL;
}

/* ---- cold cases ------------------------------------------------------------------------- */

typedef struct cold_case {
    const char *name;
    const char *file;         /* in the modules directory */
    const char *symbol;       /* the handler */
    const char *call_payload; /* what the libfaas call sends */
    unsigned    cycles;       /* default cycles */
    /* results, per cycle, in ns */
    double     *faas, *bare, *init;
    int         ran;
    unsigned    n;
    bench_summary sf, sb, si;
    double      paired_ratio; /* median of per-cycle faas/bare over adjacent pairs */
} cold_case;

static cold_case cold[] = {
    { .name = "cold_echo", .file = "echo.so", .symbol = "echo", .call_payload = "x",
      .cycles = 200u },
    { .name = "cold_primes", .file = "primes.so", .symbol = "primes", .call_payload = "97",
      .cycles = 30u },
};
#define NCOLD (sizeof cold / sizeof cold[0])

static int sink_state_used;

/* The bare floor: what any loader has to do for one call of a fresh instance. The handler
 * runs with a NULL ctx and no payload (there is no faas_ctx outside libfaas); both example
 * handlers then return at once through faas_reply()/faas_fail()'s argument check. */
__attribute__((noinline)) static uint64_t bare_cycle(const char *path, const char *symbol)
{
    uint64_t t0 = bench_now_ns();
    void *h = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
    if (h == NULL) {
        fprintf(stderr, "bench_core: dlopen(%s): %s\n", path, dlerror());
        exit(1);
    }
    faas_handler handler = (faas_handler)dlsym(h, symbol);
    faas_init_fn init = (faas_init_fn)dlsym(h, "faas_init");
    faas_shutdown_fn shutdown = (faas_shutdown_fn)dlsym(h, "faas_shutdown");
    if (handler == NULL) {
        fprintf(stderr, "bench_core: dlsym(%s, %s): %s\n", path, symbol, dlerror());
        exit(1);
    }
    void *state = NULL;
    if (init != NULL && init(&state, symbol) != 0) {
        fprintf(stderr, "bench_core: %s: faas_init failed\n", path);
        exit(1);
    }
    int rc = handler(NULL, NULL, 0);
    if (shutdown != NULL)
        shutdown(state);
    dlclose(h);
    uint64_t t1 = bench_now_ns();
    sink_state_used += rc;
    return t1 - t0;
}

__attribute__((noinline)) static uint64_t faas_cycle(faas_function *fn, const char *p,
                                                  uint64_t *init_ns)
{
    faas_response res;
    uint64_t t0 = bench_now_ns();
    int rc = faas_invoke_fn(fn, p, strlen(p), &res);
    int was_cold = res.record.cold;
    *init_ns = res.record.init_ns;
    faas_response_free(&res);
    uint64_t t1 = bench_now_ns();
    if (rc != FAAS_OK || !was_cold) {
        fprintf(stderr, "bench_core: cold call: status %s, cold %d (%s)\n",
                faas_err_name(rc), was_cold, faas_last_error());
        exit(1);
    }
    return t1 - t0;
}

static void run_cold(cold_case *c, unsigned cycles)
{
    char path[PATH_MAX], rel[PATH_MAX];
    snprintf(rel, sizeof rel, "%s/%s", opt.modules, c->file);
    if (realpath(rel, path) == NULL) {
        fprintf(stderr, "bench_core: %s: %s (use --modules DIR or FAAS_MODULE_DIR)\n", rel,
                strerror(errno));
        exit(1);
    }
    faas_runtime *rt;
    int rc = faas_runtime_new(&rt, NULL);
    if (rc != FAAS_OK)
        die("faas_runtime_new", rc);
    faas_config cfg;
    faas_config_init(&cfg);
    cfg.keep_alive_ms = 0;                 /* every call is cold */
    if ((rc = faas_register_module(rt, c->symbol, path, c->symbol, &cfg)) != FAAS_OK)
        die("faas_register_module", rc);
    faas_function *fn = faas_lookup(rt, c->symbol);
    if (fn == NULL)
        die("faas_lookup", FAAS_ENOTFOUND);

    uint64_t init_ns;
    for (unsigned i = 0; i < COLD_WARMUP; i++) {   /* page cache, allocator, lazy binding */
        bare_cycle(path, c->symbol);
        faas_cycle(fn, c->call_payload, &init_ns);
    }
    c->faas = calloc(cycles, sizeof *c->faas);
    c->bare = calloc(cycles, sizeof *c->bare);
    c->init = calloc(cycles, sizeof *c->init);
    double *ratio = calloc(cycles, sizeof *ratio);
    if (c->faas == NULL || c->bare == NULL || c->init == NULL || ratio == NULL) {
        fprintf(stderr, "bench_core: out of memory\n");
        exit(1);
    }
    /* Interleaved, alternating which goes first, so that drift and order effects hit both
     * sides alike. */
    for (unsigned i = 0; i < cycles; i++) {
        if (i & 1) {
            c->faas[i] = (double)faas_cycle(fn, c->call_payload, &init_ns);
            c->bare[i] = (double)bare_cycle(path, c->symbol);
        } else {
            c->bare[i] = (double)bare_cycle(path, c->symbol);
            c->faas[i] = (double)faas_cycle(fn, c->call_payload, &init_ns);
        }
        c->init[i] = (double)init_ns;
        ratio[i] = c->faas[i] / c->bare[i];
    }
    faas_stats st;
    if (faas_stats_get(rt, c->symbol, &st) == FAAS_OK &&
        st.cold_starts != st.invocations) {
        fprintf(stderr, "bench_core: %s: %llu of %llu calls were cold\n", c->name,
                (unsigned long long)st.cold_starts, (unsigned long long)st.invocations);
        exit(1);
    }
    faas_runtime_free(rt);
    c->n = cycles;
    c->sf = bench_summarise(c->faas, cycles);
    c->sb = bench_summarise(c->bare, cycles);
    c->si = bench_summarise(c->init, cycles);
    c->paired_ratio = bench_median(ratio, cycles);
    free(ratio);
    c->ran = 1;
}

/* ---- the module directory ----------------------------------------------------------------- */

static const char *find_modules(void)
{
    static char dir[PATH_MAX];
    if (opt.modules != NULL)
        return opt.modules;
    const char *env = getenv("FAAS_MODULE_DIR");
    if (env != NULL && *env)
        return env;
    if (access("examples/modules/.libs/echo.so", R_OK) == 0)
        return "examples/modules/.libs";
    /* Next to the binary: <build>/tests/bench[/.libs]/bench_core. */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash != NULL) {
            *slash = '\0';
            size_t l = strlen(exe);
            if (l >= 6 && strcmp(exe + l - 6, "/.libs") == 0)
                exe[l - 6] = '\0';
            int w = snprintf(dir, sizeof dir, "%s/../../examples/modules/.libs", exe);
            if (w > 0 && (size_t)w < sizeof dir)
                return dir;
        }
    }
    return "examples/modules/.libs";
}

/* ---- main --------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_core [--quick] [--only NAME[,NAME...]] [--iters N] [--reps N]\n"
            "                  [--modules DIR] [--list]\n"
            "  --quick       few iterations and 3 reps (a CI smoke run; numbers are rough)\n"
            "  --only NAMES  run only these cases (see --list)\n"
            "  --iters N     operations per rep of a warm case, cycles of a cold case\n"
            "  --reps N      timed reps of each warm case (default 9)\n"
            "  --modules DIR where echo.so and primes.so are (default: $FAAS_MODULE_DIR,\n"
            "                else examples/modules/.libs of the build directory)\n");
}

static void print_header(unsigned reps)
{
    char cs[64] = "?";
    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    if (f != NULL) {
        if (fgets(cs, sizeof cs, f) != NULL)
            cs[strcspn(cs, "\n")] = '\0';
        fclose(f);
    }
    printf("libfaas %s bench_core: %ld online CPUs, clocksource %s, %u reps%s\n",
           faas_version(), sysconf(_SC_NPROCESSORS_ONLN), cs, reps,
           opt.quick ? " (--quick: rough numbers)" : "");
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0) {
            opt.quick = 1;
        } else if (strcmp(a, "--only") == 0 && v) {
            opt.only = v;
            i++;
        } else if (strcmp(a, "--iters") == 0 && v) {
            opt.iters = bench_parse_count("bench_core", v, "--iters");
            i++;
        } else if (strcmp(a, "--reps") == 0 && v) {
            opt.reps = (unsigned)bench_parse_count("bench_core", v, "--reps");
            i++;
        } else if (strcmp(a, "--modules") == 0 && v) {
            opt.modules = v;
            i++;
        } else if (strcmp(a, "--list") == 0) {
            for (size_t k = 0; k < NWARM; k++)
                printf("%-12s %s\n", warm[k].name, warm[k].what);
            for (size_t k = 0; k < NCOLD; k++)
                printf("%-12s cold start of %s vs bare dlopen cycle\n", cold[k].name,
                       cold[k].file);
            return 0;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (opt.only != NULL) {
        int known = 0;
        for (size_t k = 0; k < NWARM; k++)
            known += selected(warm[k].name);
        for (size_t k = 0; k < NCOLD; k++)
            known += selected(cold[k].name);
        if (known == 0) {
            fprintf(stderr, "bench_core: --only %s: no such case (see --list)\n", opt.only);
            return 2;
        }
    }
    opt.modules = find_modules();
    unsigned reps = opt.reps ? opt.reps : opt.quick ? 3u : 9u;
    setvbuf(stdout, NULL, _IOLBF, 0);
    print_header(reps);

    /* ---- warm: set up, warm up, then round-robin over the cases rep by rep, so that a
     * noisy second hits every case instead of one. */
    int any_warm = 0;
    for (size_t k = 0; k < NWARM; k++) {
        warm_case *w = &warm[k];
        if (!selected(w->name))
            continue;
        if (opt.iters)
            w->iters = opt.iters;
        else if (opt.quick)
            w->iters = w->iters / 100 ? w->iters / 100 : 1;
        w->setup();
        if (w->loop(WARMUP_CALLS) != 0) {
            fprintf(stderr, "bench_core: %s: a call failed or was cold\n", w->name);
            return 1;
        }
        w->ns = calloc(reps, sizeof *w->ns);
        if (w->ns == NULL)
            return 1;
        w->ran = 1;
        any_warm = 1;
    }
    for (unsigned r = 0; r < reps; r++) {
        for (size_t k = 0; k < NWARM; k++) {
            warm_case *w = &warm[k];
            if (!w->ran)
                continue;
            uint64_t t0 = bench_now_ns();
            uint64_t bad = w->loop(w->iters);
            uint64_t t1 = bench_now_ns();
            if (bad != 0) {
                fprintf(stderr, "bench_core: %s: %llu calls failed or were cold\n", w->name,
                        (unsigned long long)bad);
                return 1;
            }
            w->ns[r] = (double)(t1 - t0) / (double)w->iters;
        }
    }
    if (any_warm) {
        for (size_t k = 0; k < NWARM; k++)
            if (warm[k].ran)
                warm[k].s = bench_summarise(warm[k].ns, reps);
        warm_case *d = warm_find("direct");
        printf("\nWarm calls: ns/op, median [min - max] of %u reps%s\n", reps,
               d ? "; x direct = ratio of medians to the direct call" : "");
        printf("%-10s %-44s %10s %23s %9s %10s\n", "case", "what", "ns/op", "[min - max]",
               d ? "x direct" : "", "iters/rep");
        for (size_t k = 0; k < NWARM; k++) {
            warm_case *w = &warm[k];
            if (!w->ran)
                continue;
            char range[48], ratio[16] = "";
            snprintf(range, sizeof range, "[%.2f - %.2f]", w->s.min, w->s.max);
            if (d != NULL && d->s.median > 0)
                snprintf(ratio, sizeof ratio, "%.1f", w->s.median / d->s.median);
            printf("%-10s %-44s %10.2f %23s %9s %10llu\n", w->name, w->what, w->s.median,
                   range, ratio, (unsigned long long)w->iters);
        }
        /* Added costs: the median of per-rep differences (reps are adjacent in time). */
        static const struct { const char *a, *b, *what; } deltas[] = {
            { "cpu_time", "invoke_fn", "cpu_time = 1 adds (2 x CLOCK_THREAD_CPUTIME_ID)" },
            { "hook", "invoke_fn", "a trivial record hook adds" },
            { "invoke", "invoke_fn", "lookup by name adds" },
            { "version", "invoke", "a version's qualified name adds" },
            { "alias", "version", "routing through an alias adds" },
            { "alias_fn", "version_fn", "an alias handle's routing adds" },
            { "invoke_fn", "ffi", "faas_invoke_fn over raw ffi_call" },
        };
        int printed = 0;
        for (size_t k = 0; k < sizeof deltas / sizeof deltas[0]; k++) {
            warm_case *a = warm_find(deltas[k].a), *b = warm_find(deltas[k].b);
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
            printf("  %-50s %9.1f ns  [%.1f - %.1f]  (%s / %s = %.2fx)\n", deltas[k].what,
                   s.median, s.min, s.max, deltas[k].a, deltas[k].b,
                   b->s.median > 0 ? a->s.median / b->s.median : 0.0);
        }
    }

    warm_case *h = warm_find("hook");
    if (h != NULL && hook_calls != WARMUP_CALLS + (uint64_t)reps * h->iters) {
        fprintf(stderr, "bench_core: the record hook ran %llu times, not %llu\n",
                (unsigned long long)hook_calls,
                (unsigned long long)(WARMUP_CALLS + (uint64_t)reps * h->iters));
        return 1;
    }
    faas_runtime_free(rt_default);
    faas_runtime_free(rt_cpu);
    faas_runtime_free(rt_hook);

    /* ---- cold ---- */
    int any_cold = 0;
    for (size_t k = 0; k < NCOLD; k++) {
        cold_case *c = &cold[k];
        if (!selected(c->name))
            continue;
        unsigned cycles = opt.iters ? (unsigned)opt.iters
                          : opt.quick ? (c->cycles / 20 > 3 ? c->cycles / 20 : 3) : c->cycles;
        if (!any_cold++)
            printf("\nCold start: us per cycle, median [min - max] p90 over single cycles; "
                   "libfaas and bare interleaved\n");
        run_cold(c, cycles);
        printf("%-12s %-34s %9.1f us [%.1f - %.1f] p90 %.1f\n", c->name,
               "libfaas faas_invoke_fn, cold", c->sf.median / 1e3, c->sf.min / 1e3,
               c->sf.max / 1e3, c->sf.p90 / 1e3);
        printf("%-12s %-34s %9.1f us [%.1f - %.1f] p90 %.1f\n", "",
               "  of which record.init_ns", c->si.median / 1e3, c->si.min / 1e3,
               c->si.max / 1e3, c->si.p90 / 1e3);
        printf("%-12s %-34s %9.1f us [%.1f - %.1f] p90 %.1f\n", "",
               "bare dlopen+dlsym+init+call+fini", c->sb.median / 1e3, c->sb.min / 1e3,
               c->sb.max / 1e3, c->sb.p90 / 1e3);
        printf("%-12s %-34s %9.3fx (median of pairs %.3fx), %+.1f us, %u cycles\n", "",
               "ratio libfaas / bare", c->sf.median / c->sb.median, c->paired_ratio,
               (c->sf.median - c->sb.median) / 1e3, c->n);
    }
    bench_keep((uint64_t)sink_state_used);
    return 0;
}
