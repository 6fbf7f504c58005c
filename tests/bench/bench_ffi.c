/*
 * bench_ffi.c - the libffi bridge beside its floors, in one process run: for
 * `int (int, int)`, a direct call, a raw ffi_call with a prepared cif, faas_invoke_ffi
 * (the binary path) and faas_invoke_fn with a JSON payload; the core's warm call of an
 * empty handler (its own overhead); and the cost per argument, for 1, 2, 4 and 8 ints.
 *
 * Run it from the build directory: ./tests/bench/bench_ffi [--quick] [--only NAME[,NAME]]
 * [--iters N] [--reps N] [--list]. Its options are bench_core's, so tests/bench/callgrind.sh
 * counts its instructions too. See tests/bench/README.md.
 */
#include "config.h"

#include <errno.h>
#include <ffi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <faas.h>

#include "bench.h"

#define WARMUP_CALLS 2000u   /* untimed calls before a case (fixed: callgrind cancels it) */

/* ---- the functions under test: exported, so faas_register_ffi finds them with path NULL
 * (the program is linked with -export-dynamic) ------------------------------------------ */

int bench_ffi_add1(int a);
int bench_ffi_add2(int a, int b);
int bench_ffi_add4(int a, int b, int c, int d);
int bench_ffi_add8(int a, int b, int c, int d, int e, int f, int g, int h);

BENCH_NOINLINE int bench_ffi_add1(int a)
{
    __asm__ volatile("");
    return a;
}

BENCH_NOINLINE int bench_ffi_add2(int a, int b)
{
    __asm__ volatile("");
    return a + b;
}

BENCH_NOINLINE int bench_ffi_add4(int a, int b, int c, int d)
{
    __asm__ volatile("");
    return a + b + c + d;
}

BENCH_NOINLINE int bench_ffi_add8(int a, int b, int c, int d, int e, int f, int g, int h)
{
    __asm__ volatile("");
    return a + b + c + d + e + f + g + h;
}

/* The core's floor: an empty host handler. */
BENCH_NOINLINE static int empty(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx;
    (void)payload;
    (void)len;
    __asm__ volatile("");
    return 0;
}

static int (*volatile direct_ptr)(int, int) = bench_ffi_add2;

/* ---- options ------------------------------------------------------------------------------ */

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
    fprintf(stderr, "bench_ffi: %s: %s (%s)\n", what, faas_strerror(rc), faas_last_error());
    exit(1);
}

/* ---- set-up (lazy: only for the cases run) ------------------------------------------------- */

static faas_runtime  *rt;
static faas_function *fn_empty, *fn_add[9];     /* by argument count: 1, 2, 4, 8 */
static ffi_cif        cif[9];
static ffi_type      *cif_args[8];
static void          *sym[9];

static void setup_rt(void)
{
    if (rt != NULL)
        return;
    int rc = faas_runtime_new(&rt, NULL);       /* every default, as bench_core */
    if (rc != FAAS_OK)
        die("faas_runtime_new", rc);
    if ((rc = faas_register(rt, "empty", empty, NULL)) != FAAS_OK)
        die("faas_register(empty)", rc);
    static const char *const sigs[9] = {
        [1] = "int bench_ffi_add1(int)",
        [2] = "int bench_ffi_add2(int, int)",
        [4] = "int bench_ffi_add4(int, int, int, int)",
        [8] = "int bench_ffi_add8(int, int, int, int, int, int, int, int)",
    };
    for (int k = 1; k <= 8; k *= 2) {
        char name[16];
        snprintf(name, sizeof name, "add%d", k);
        if ((rc = faas_register_ffi(rt, name, NULL, NULL, sigs[k], NULL)) != FAAS_OK)
            die("faas_register_ffi", rc);
        if ((rc = faas_warm(rt, name, 1)) != FAAS_OK)
            die("faas_warm", rc);
        fn_add[k] = faas_lookup(rt, name);
    }
    if ((rc = faas_warm(rt, "empty", 1)) != FAAS_OK)
        die("faas_warm(empty)", rc);
    fn_empty = faas_lookup(rt, "empty");
}

static void setup_ffi(void)
{
    if (sym[1] != NULL)
        return;
    for (int i = 0; i < 8; i++)
        cif_args[i] = &ffi_type_sint;
    sym[1] = (void *)bench_ffi_add1;
    sym[2] = (void *)bench_ffi_add2;
    sym[4] = (void *)bench_ffi_add4;
    sym[8] = (void *)bench_ffi_add8;
    for (int k = 1; k <= 8; k *= 2)
        if (ffi_prep_cif(&cif[k], FFI_DEFAULT_ABI, (unsigned)k, &ffi_type_sint, cif_args) !=
            FFI_OK) {
            fprintf(stderr, "bench_ffi: ffi_prep_cif failed\n");
            exit(1);
        }
}

static void setup_all(void)
{
    setup_rt();
    setup_ffi();
}

/* ---- loops: each runs n operations and returns how many went wrong (0) ------------------- */

static int ints[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static void *int_args[8] = { &ints[0], &ints[1], &ints[2], &ints[3],
                             &ints[4], &ints[5], &ints[6], &ints[7] };
static const int sums[9] = { [1] = 1, [2] = 3, [4] = 10, [8] = 36 };
static const char *const payloads[9] = {
    [1] = "[1]", [2] = "[1, 2]", [4] = "[1, 2, 3, 4]", [8] = "[1, 2, 3, 4, 5, 6, 7, 8]",
};

static uint64_t loop_empty(uint64_t n)
{
    uint64_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        acc += i;
        bench_clobber(&acc);
    }
    return acc - n * (n - 1) / 2;
}

static uint64_t loop_direct(uint64_t n)
{
    uint64_t bad = 0;
    for (uint64_t i = 0; i < n; i++)
        bad += direct_ptr(1, 2) != 3;
    return bad;
}

static uint64_t ffi_loop(int k, uint64_t n)
{
    uint64_t bad = 0;
    for (uint64_t i = 0; i < n; i++) {
        ffi_arg r;
        ffi_call(&cif[k], FFI_FN(sym[k]), &r, int_args);
        bad += (int)r != sums[k];
    }
    return bad;
}

static uint64_t loop_ffi(uint64_t n)  { return ffi_loop(2, n); }
static uint64_t loop_ffi1(uint64_t n) { return ffi_loop(1, n); }
static uint64_t loop_ffi4(uint64_t n) { return ffi_loop(4, n); }
static uint64_t loop_ffi8(uint64_t n) { return ffi_loop(8, n); }

static uint64_t loop_invoke_fn(uint64_t n)
{
    uint64_t bad = 0;
    faas_response res;
    for (uint64_t i = 0; i < n; i++) {
        int rc = faas_invoke_fn(fn_empty, "{}", 2, &res);
        bad += (uint64_t)(rc != FAAS_OK) + (uint64_t)res.record.cold;
        faas_response_free(&res);
    }
    return bad;
}

static uint64_t binary_loop(int k, uint64_t n)
{
    uint64_t bad = 0;
    for (uint64_t i = 0; i < n; i++) {
        int r = 0;
        bad += (uint64_t)(faas_invoke_ffi(fn_add[k], int_args, &r, NULL) != FAAS_OK) +
               (uint64_t)(r != sums[k]);
    }
    return bad;
}

static uint64_t loop_binary(uint64_t n) { return binary_loop(2, n); }
static uint64_t loop_bin1(uint64_t n)   { return binary_loop(1, n); }
static uint64_t loop_bin4(uint64_t n)   { return binary_loop(4, n); }
static uint64_t loop_bin8(uint64_t n)   { return binary_loop(8, n); }

static uint64_t loop_binary_res(uint64_t n)
{
    uint64_t bad = 0;
    faas_response res;
    for (uint64_t i = 0; i < n; i++) {
        int r = 0;
        int rc = faas_invoke_ffi(fn_add[2], int_args, &r, &res);
        bad += (uint64_t)(rc != FAAS_OK) + (uint64_t)res.record.cold + (uint64_t)(r != 3);
        faas_response_free(&res);
    }
    return bad;
}

static uint64_t json_loop(int k, uint64_t n)
{
    uint64_t bad = 0;
    const char *p = payloads[k];
    size_t len = strlen(p);
    char want[8];
    snprintf(want, sizeof want, "%d", sums[k]);
    faas_response res;
    for (uint64_t i = 0; i < n; i++) {
        int rc = faas_invoke_fn(fn_add[k], p, len, &res);
        bad += (uint64_t)(rc != FAAS_OK) + (uint64_t)res.record.cold +
               (uint64_t)(strcmp((const char *)res.data, want) != 0);
        faas_response_free(&res);
    }
    return bad;
}

static uint64_t loop_json(uint64_t n)  { return json_loop(2, n); }
static uint64_t loop_json1(uint64_t n) { return json_loop(1, n); }
static uint64_t loop_json4(uint64_t n) { return json_loop(4, n); }
static uint64_t loop_json8(uint64_t n) { return json_loop(8, n); }

typedef struct bcase {
    const char *name;
    const char *what;
    uint64_t  (*loop)(uint64_t n);
    void      (*setup)(void);
    uint64_t    iters;        /* default operations per rep (~30-60 ms each here) */
    int         nargs;        /* for the per-argument fits: 0 = not part of one */
    double     *ns;
    int         ran;
    bench_summary s;
} bcase;

static void no_setup(void) {}

#define CASE(n, w, l, s, it, na) \
    { .name = n, .what = w, .loop = l, .setup = s, .iters = it, .nargs = na }

static bcase cases[] = {
    CASE("loop", "empty loop iteration (harness overhead)", loop_empty, no_setup, 50000000u, 0),
    CASE("direct", "int add(int, int), volatile fn-pointer", loop_direct, no_setup, 20000000u, 0),
    CASE("ffi", "ffi_call, prepared cif, int (int, int)", loop_ffi, setup_ffi, 2000000u, 0),
    CASE("invoke_fn", "faas_invoke_fn, empty host handler + free", loop_invoke_fn, setup_rt,
      400000u, 0),
    CASE("binary", "faas_invoke_ffi, int (int, int), res NULL", loop_binary, setup_all,
      400000u, 0),
    CASE("binary_res", "faas_invoke_ffi, with a response + free", loop_binary_res, setup_all,
      400000u, 0),
    CASE("json", "faas_invoke_fn \"[1, 2]\" -> \"3\" + free", loop_json, setup_all, 200000u, 0),
    CASE("ffi1", "ffi_call, 1 int", loop_ffi1, setup_ffi, 2000000u, 1),
    CASE("ffi4", "ffi_call, 4 ints", loop_ffi4, setup_ffi, 2000000u, 4),
    CASE("ffi8", "ffi_call, 8 ints", loop_ffi8, setup_ffi, 2000000u, 8),
    CASE("bin1", "faas_invoke_ffi, 1 int", loop_bin1, setup_all, 400000u, 1),
    CASE("bin4", "faas_invoke_ffi, 4 ints", loop_bin4, setup_all, 400000u, 4),
    CASE("bin8", "faas_invoke_ffi, 8 ints", loop_bin8, setup_all, 400000u, 8),
    CASE("json1", "faas_invoke_fn, JSON, 1 int", loop_json1, setup_all, 200000u, 1),
    CASE("json4", "faas_invoke_fn, JSON, 4 ints", loop_json4, setup_all, 200000u, 4),
    CASE("json8", "faas_invoke_fn, JSON, 8 ints", loop_json8, setup_all, 200000u, 8),
};
#define NCASES (sizeof cases / sizeof cases[0])

static bcase *find(const char *name)
{
    for (size_t i = 0; i < NCASES; i++)
        if (strcmp(cases[i].name, name) == 0 && cases[i].ran)
            return &cases[i];
    return NULL;
}

/* The median of per-rep differences a - b (reps adjacent in time). */
static bench_summary diff(const bcase *a, const bcase *b, unsigned reps)
{
    double *d = calloc(reps, sizeof *d);
    bench_summary s;
    memset(&s, 0, sizeof s);
    if (d == NULL)
        return s;
    for (unsigned r = 0; r < reps; r++)
        d[r] = a->ns[r] - b->ns[r];
    s = bench_summarise(d, reps);
    free(d);
    return s;
}

/* Least-squares slope of the medians over argument counts: ns per argument. A family is
 * PREFIX1, PREFIX2 (its two-argument case is named two), PREFIX4, PREFIX8. */
static int slope(const char *prefix, const char *two, double *per_arg, double *at0)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    int n = 0;
    for (int k = 1; k <= 8; k *= 2) {
        char name[16];
        if (k == 2)
            snprintf(name, sizeof name, "%s", two);
        else
            snprintf(name, sizeof name, "%s%d", prefix, k);
        bcase *c = find(name);
        if (c == NULL)
            return 0;
        sx += k;
        sy += c->s.median;
        sxx += (double)k * k;
        sxy += k * c->s.median;
        n++;
    }
    *per_arg = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    *at0 = (sy - *per_arg * sx) / n;
    return 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_ffi [--quick] [--only NAME[,NAME...]] [--iters N] [--reps N] "
               "[--list]\n");
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
            opt.iters = bench_parse_count("bench_ffi", v, "--iters");
            i++;
        } else if (strcmp(a, "--reps") == 0 && v) {
            opt.reps = (unsigned)bench_parse_count("bench_ffi", v, "--reps");
            i++;
        } else if (strcmp(a, "--list") == 0) {
            for (size_t k = 0; k < NCASES; k++)
                printf("%-11s %s\n", cases[k].name, cases[k].what);
            return 0;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    int known = 0;
    for (size_t k = 0; k < NCASES; k++)
        known += selected(cases[k].name);
    if (known == 0) {
        fprintf(stderr, "bench_ffi: --only %s: no such case (see --list)\n", opt.only);
        return 2;
    }
    unsigned reps = opt.reps ? opt.reps : opt.quick ? 3u : 9u;
    setvbuf(stdout, NULL, _IOLBF, 0);
    double load[3] = { -1, -1, -1 };
    FILE *la = fopen("/proc/loadavg", "r");
    if (la != NULL) {
        if (fscanf(la, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
            load[0] = -1;
        fclose(la);
    }
    printf("libfaas %s bench_ffi: %ld online CPUs, load average %.2f %.2f %.2f, %u reps%s\n",
           faas_version(), sysconf(_SC_NPROCESSORS_ONLN), load[0], load[1], load[2], reps,
           opt.quick ? " (--quick: rough numbers)" : "");

    for (size_t k = 0; k < NCASES; k++) {
        bcase *c = &cases[k];
        if (!selected(c->name))
            continue;
        if (opt.iters)
            c->iters = opt.iters;
        else if (opt.quick)
            c->iters = c->iters / 100 ? c->iters / 100 : 1;
        c->setup();
        if (c->loop(WARMUP_CALLS) != 0) {
            fprintf(stderr, "bench_ffi: %s: a call failed, was cold or gave a wrong result "
                    "(%s)\n", c->name, faas_last_error());
            return 1;
        }
        if ((c->ns = calloc(reps, sizeof *c->ns)) == NULL)
            return 1;
        c->ran = 1;
    }
    /* Round-robin over the cases rep by rep: a noisy second hits every case alike. */
    for (unsigned r = 0; r < reps; r++)
        for (size_t k = 0; k < NCASES; k++) {
            bcase *c = &cases[k];
            if (!c->ran)
                continue;
            uint64_t t0 = bench_now_ns();
            uint64_t bad = c->loop(c->iters);
            uint64_t t1 = bench_now_ns();
            if (bad != 0) {
                fprintf(stderr, "bench_ffi: %s: %llu calls went wrong\n", c->name,
                        (unsigned long long)bad);
                return 1;
            }
            c->ns[r] = (double)(t1 - t0) / (double)c->iters;
        }
    for (size_t k = 0; k < NCASES; k++)
        if (cases[k].ran)
            cases[k].s = bench_summarise(cases[k].ns, reps);

    bcase *d = find("direct"), *f = find("ffi");
    printf("\nns/call, median [min - max] of %u reps; ratios of medians to the direct call "
           "and to raw ffi_call\n", reps);
    printf("%-11s %-44s %9s %21s %9s %7s %9s\n", "case", "what", "ns/call", "[min - max]",
           "x direct", "x ffi", "iters/rep");
    for (size_t k = 0; k < NCASES; k++) {
        bcase *c = &cases[k];
        if (!c->ran)
            continue;
        char range[48], rd[16] = "", rf[16] = "";
        snprintf(range, sizeof range, "[%.2f - %.2f]", c->s.min, c->s.max);
        if (d != NULL && d->s.median > 0)
            snprintf(rd, sizeof rd, "%.1f", c->s.median / d->s.median);
        if (f != NULL && f->s.median > 0)
            snprintf(rf, sizeof rf, "%.2f", c->s.median / f->s.median);
        printf("%-11s %-44s %9.2f %21s %9s %7s %9llu\n", c->name, c->what, c->s.median, range,
               rd, rf, (unsigned long long)c->iters);
    }

    static const struct { const char *a, *b, *what; } deltas[] = {
        { "binary", "ffi", "the binary path over raw ffi_call" },
        { "binary_res", "invoke_fn", "binary path (with response) over the core's warm call" },
        { "json", "binary_res", "the JSON path over the binary path (with response)" },
        { "json", "invoke_fn", "the JSON path over the core's warm call" },
    };
    int printed = 0;
    for (size_t k = 0; k < sizeof deltas / sizeof deltas[0]; k++) {
        bcase *a = find(deltas[k].a), *b = find(deltas[k].b);
        if (a == NULL || b == NULL)
            continue;
        bench_summary s = diff(a, b, reps);
        if (!printed++)
            printf("\nAdded cost: median of per-rep differences [min - max], ns/call\n");
        printf("  %-56s %8.1f ns  [%.1f - %.1f]  (%s / %s = %.2fx)\n", deltas[k].what,
               s.median, s.min, s.max, deltas[k].a, deltas[k].b, a->s.median / b->s.median);
    }

    bcase *bin = find("binary"), *core = find("invoke_fn");
    if (bin != NULL && f != NULL && core != NULL) {
        double target = 2 * f->s.median + core->s.median;
        printf("\nTarget: binary path <= 2 x raw ffi_call + the core's warm call = 2 x %.1f + "
               "%.1f = %.1f ns: %.1f ns, %s (%.2f of the budget)\n", f->s.median,
               core->s.median, target, bin->s.median, bin->s.median <= target ? "met"
                                                                             : "NOT met",
               bin->s.median / target);
    }
    double pa, a0;
    int any = 0;
    static const struct { const char *prefix, *two, *what; } fits[] = {
        { "ffi", "ffi", "raw ffi_call" },
        { "bin", "binary", "binary path" },
        { "json", "json", "JSON path" },
    };
    for (size_t k = 0; k < sizeof fits / sizeof fits[0]; k++)
        if (slope(fits[k].prefix, fits[k].two, &pa, &a0)) {
            if (!any++)
                printf("\nCost per argument (least squares over 1, 2, 4, 8 ints): ns/call = "
                       "fixed + per-argument x n\n");
            printf("  %-14s %8.1f ns fixed + %6.1f ns per argument\n", fits[k].what, a0, pa);
        }
    faas_runtime_free(rt);
    return 0;
}
