/*
 * bench_isolate.c - what process isolation costs, side by side with its floors in one run:
 *
 *   warm  isolated faas_invoke_fn  vs  in-process faas_invoke_fn  vs  a bare socketpair
 *         ping-pong between two processes (the IPC floor an isolated call cannot beat)
 *   cold  an isolated cold start (a fork of the zygote)  vs  an in-process cold start
 *         (dlopen + INIT)  vs  a fresh posix_spawn + dlopen + INIT (a zygote started for
 *         each instance: what the zygote saves)
 *
 * Warm reps run round-robin (rep 1 of every case, then rep 2, ...); cold cycles alternate
 * between the cases. Medians, [min-max], and ratios of medians. No timing is asserted.
 * BENCH_JOURNAL_DIR, when set, gives the runtime a journal there: each isolated instance
 * then hides it in a mount namespace of its own (what that costs a cold start).
 * See tests/bench/README.md.
 */
#include <faas.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "bench.h"

static struct {
    unsigned iters;         /* warm calls per rep */
    unsigned reps;          /* warm reps */
    unsigned cycles;        /* cold cycles per case */
    const char *modules;
} opt = { 20000, 9, 200, NULL };

/* <build>/X, from the binary's own path <build>/tests/bench[/.libs]/bench_isolate. */
static const char *from_build(const char *rel, char *out, size_t size)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash == NULL)
        return NULL;
    *slash = '\0';
    size_t l = strlen(exe);
    if (l >= 6 && strcmp(exe + l - 6, "/.libs") == 0)
        exe[l - 6] = '\0';
    int w = snprintf(out, size, "%s/../../%s", exe, rel);
    return w > 0 && (size_t)w < size ? out : NULL;
}

static const char *module_path(void)
{
    static char path[PATH_MAX + 32];
    char dir[PATH_MAX];
    const char *d = opt.modules ? opt.modules : getenv("FAAS_MODULE_DIR");
    if (d == NULL || *d == '\0')
        d = from_build("examples/modules/.libs", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/echo.so", d ? d : "examples/modules/.libs");
    return path;
}

/* The real faas-zygote program, not the build tree's libtool wrapper script: a fresh
 * spawn must not pay a shell. */
static void find_zygote(void)
{
    static char path[PATH_MAX];
    const char *env = getenv("FAAS_ZYGOTE");
    if (env != NULL && *env != '\0') {
        FILE *f = fopen(env, "r");
        char head[2] = "";
        if (f != NULL) {
            if (fread(head, 1, 2, f) != 2)
                head[0] = '\0';
            fclose(f);
        }
        if (head[0] != '#' || head[1] != '!')
            return;                                 /* already a binary */
    }
    if (from_build("tools/.libs/faas-zygote", path, sizeof path) && access(path, X_OK) == 0)
        setenv("FAAS_ZYGOTE", path, 1);
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_isolate: %s: %s: %s\n", what, faas_err_name(rc), faas_last_error());
    exit(1);
}

/* ---- the ping-pong floor ------------------------------------------------------------------- */

static int pp_fd = -1;
static pid_t pp_pid;

/* Forked before any runtime exists (no thread yet): echoes each message back. */
static void pingpong_start(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        perror("socketpair");
        exit(1);
    }
    pp_pid = fork();
    if (pp_pid == 0) {
        close(sv[0]);
        char b[256];
        ssize_t n;
        while ((n = recv(sv[1], b, sizeof b, 0)) > 0)
            if (send(sv[1], b, (size_t)n, MSG_NOSIGNAL) != n)
                break;
        _exit(0);
    }
    close(sv[1]);
    pp_fd = sv[0];
}

static void pingpong_stop(void)
{
    close(pp_fd);
    waitpid(pp_pid, NULL, 0);
}

/* ---- warm cases ---------------------------------------------------------------------------- */

typedef struct warm_case {
    const char    *name;
    faas_function *fn;              /* NULL: the ping-pong */
    double        *us;              /* per rep: microseconds per call */
} warm_case;

static double run_warm(warm_case *c, unsigned iters)
{
    uint64_t t0 = bench_now_ns();
    if (c->fn == NULL) {
        char b[16] = "{}";
        for (unsigned i = 0; i < iters; i++) {
            if (send(pp_fd, b, 2, MSG_NOSIGNAL) != 2 || recv(pp_fd, b, sizeof b, 0) != 2) {
                perror("ping-pong");
                exit(1);
            }
        }
    } else {
        for (unsigned i = 0; i < iters; i++) {
            faas_response res;
            int rc = faas_invoke_fn(c->fn, "{}", 2, &res);
            if (rc != FAAS_OK || res.record.cold)
                die(c->name, rc != FAAS_OK ? rc : FAAS_EINVAL);
            faas_response_free(&res);
        }
    }
    return (double)(bench_now_ns() - t0) / 1000.0 / iters;
}

static faas_function *reg(faas_runtime *rt, const char *name, int isolation, unsigned keep)
{
    faas_config c;
    faas_config_init(&c);
    c.isolation = isolation;
    c.keep_alive_ms = keep;
    int rc = faas_register_module(rt, name, module_path(), "echo", &c);
    if (rc != FAAS_OK)
        die(name, rc);
    if (keep != 0 && (rc = faas_warm(rt, name, 1)) != FAAS_OK)    /* warm cases */
        die(name, rc);
    return faas_lookup(rt, name);
}

/* ---- cold cases ---------------------------------------------------------------------------- */

/* One cold call of fn: its init_ns (the instance made ready) and its whole wall time. */
static void cold_call(faas_function *fn, const char *name, double *init_us, double *wall_us)
{
    faas_response res;
    uint64_t t0 = bench_now_ns();
    int rc = faas_invoke_fn(fn, "{}", 2, &res);
    uint64_t t1 = bench_now_ns();
    if (rc != FAAS_OK || !res.record.cold)
        die(name, rc != FAAS_OK ? rc : FAAS_EINVAL);
    *init_us = (double)res.record.init_ns / 1000.0;
    *wall_us = (double)(t1 - t0) / 1000.0;
    faas_response_free(&res);
}

/* A fresh process per instance: register, one call (posix_spawn of faas-zygote, dlopen,
 * INIT, then the fork that serves the call), unregister (the zygote exits). */
static void fresh_call(faas_runtime *rt, double *init_us, double *wall_us)
{
    faas_function *fn = reg(rt, "fresh", FAAS_ISOLATE_PROCESS, 0);
    cold_call(fn, "fresh", init_us, wall_us);
    int rc = faas_unregister(rt, "fresh");
    if (rc != FAAS_OK)
        die("unregister fresh", rc);
}

static void print_row(const char *name, const double *v, size_t n, double base, const char *of)
{
    bench_summary s = bench_summarise(v, n);
    printf("  %-34s %9.2f us  [%8.2f - %9.2f]", name, s.median, s.min, s.max);
    if (base > 0)
        printf("  %6.2fx %s", s.median / base, of);
    printf("\n");
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            opt.iters = 2000;
            opt.reps = 3;
            opt.cycles = 20;
        } else if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc) {
            opt.iters = (unsigned)atoi(argv[++i]);
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            opt.reps = (unsigned)atoi(argv[++i]);
        } else if (strcmp(argv[i], "--cycles") == 0 && i + 1 < argc) {
            opt.cycles = (unsigned)atoi(argv[++i]);
        } else if (strcmp(argv[i], "--modules") == 0 && i + 1 < argc) {
            opt.modules = argv[++i];
        } else {
            fprintf(stderr, "usage: bench_isolate [--quick] [--iters N] [--reps N] "
                    "[--cycles N] [--modules DIR]\n");
            return 2;
        }
    }
    if (opt.iters == 0 || opt.reps == 0 || opt.cycles == 0)
        return 2;
    find_zygote();
    pingpong_start();

    double load[3] = { 0, 0, 0 };
    FILE *la = fopen("/proc/loadavg", "r");
    if (la != NULL) {
        if (fscanf(la, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
            load[0] = -1;
        fclose(la);
    }
    printf("bench_isolate: %u reps x %u warm calls, %u cold cycles; load average %.2f %.2f "
           "%.2f\n  module %s\n  zygote %s\n", opt.reps, opt.iters, opt.cycles, load[0],
           load[1], load[2], module_path(), getenv("FAAS_ZYGOTE") ? getenv("FAAS_ZYGOTE")
                                                                  : "(compiled-in path)");

    faas_options o;
    memset(&o, 0, sizeof o);
    o.workers = 1;
    o.journal_dir = getenv("BENCH_JOURNAL_DIR");
    faas_runtime *rt;
    int rc = faas_runtime_new(&rt, &o);
    if (rc != FAAS_OK)
        die("faas_runtime_new", rc);

    /* ---- warm ---- */
    warm_case warm[3] = {
        { "socketpair ping-pong (2 processes)", NULL, NULL },
        { "in-process faas_invoke_fn", reg(rt, "inproc", FAAS_ISOLATE_NONE, 600000), NULL },
        { "isolated faas_invoke_fn", reg(rt, "isolated", FAAS_ISOLATE_PROCESS, 600000), NULL },
    };
    for (int c = 0; c < 3; c++) {
        warm[c].us = calloc(opt.reps, sizeof(double));
        run_warm(&warm[c], 2000);                   /* warm-up: instances, caches */
    }
    for (unsigned r = 0; r < opt.reps; r++)
        for (int c = 0; c < 3; c++)
            warm[c].us[r] = run_warm(&warm[c], opt.iters);
    bench_summary pp = bench_summarise(warm[0].us, opt.reps);
    bench_summary in = bench_summarise(warm[1].us, opt.reps);
    printf("\nwarm call (\"{}\" in, \"{}\" out), per call, median of %u reps:\n", opt.reps);
    print_row(warm[0].name, warm[0].us, opt.reps, 0, "");
    print_row(warm[1].name, warm[1].us, opt.reps, pp.median, "ping-pong");
    print_row(warm[2].name, warm[2].us, opt.reps, pp.median, "ping-pong");
    bench_summary is = bench_summarise(warm[2].us, opt.reps);
    printf("  isolated / in-process: %.1fx; isolated / ping-pong: %.2fx (target <= 1.5x)\n",
           is.median / in.median, is.median / pp.median);

    /* ---- cold ---- */
    /* The warm functions go: an in-process cold start must find echo.so unloaded. */
    if ((rc = faas_unregister(rt, "inproc")) != FAAS_OK ||
        (rc = faas_unregister(rt, "isolated")) != FAAS_OK)
        die("unregister", rc);
    faas_function *cold_iso = reg(rt, "cold_isolated", FAAS_ISOLATE_PROCESS, 0);
    faas_function *cold_in = reg(rt, "cold_inproc", FAAS_ISOLATE_NONE, 0);
    double *ci = calloc(opt.cycles, sizeof(double)), *cw = calloc(opt.cycles, sizeof(double));
    double *ii = calloc(opt.cycles, sizeof(double)), *iw = calloc(opt.cycles, sizeof(double));
    double *fi = calloc(opt.cycles, sizeof(double)), *fw = calloc(opt.cycles, sizeof(double));
    double scratch1, scratch2;
    for (int w = 0; w < 5; w++) {                   /* page cache, lazy binding, malloc */
        cold_call(cold_iso, "cold_isolated", &scratch1, &scratch2);
        cold_call(cold_in, "cold_inproc", &scratch1, &scratch2);
        fresh_call(rt, &scratch1, &scratch2);
    }
    for (unsigned i = 0; i < opt.cycles; i++) {     /* interleaved, order rotating */
        for (unsigned k = 0; k < 3; k++) {
            switch ((i + k) % 3) {
            case 0: cold_call(cold_iso, "cold_isolated", &ci[i], &cw[i]); break;
            case 1: cold_call(cold_in, "cold_inproc", &ii[i], &iw[i]); break;
            default: fresh_call(rt, &fi[i], &fw[i]); break;
            }
        }
    }
    bench_summary fresh = bench_summarise(fi, opt.cycles);
    bench_summary fork_ = bench_summarise(ci, opt.cycles);
    printf("\ncold start: the record's init_ns (instance ready), median of %u cycles:\n",
           opt.cycles);
    print_row("fresh posix_spawn + dlopen + INIT", fi, opt.cycles, 0, "");
    print_row("isolated (fork of the zygote)", ci, opt.cycles, fresh.median, "fresh");
    print_row("in-process (dlopen + INIT)", ii, opt.cycles, fresh.median, "fresh");
    printf("cold call: the whole faas_invoke_fn, instance shut down after it:\n");
    bench_summary fresh_w = bench_summarise(fw, opt.cycles);
    print_row("fresh posix_spawn + dlopen + INIT", fw, opt.cycles, 0, "");
    print_row("isolated (fork of the zygote)", cw, opt.cycles, fresh_w.median, "fresh");
    print_row("in-process (dlopen + INIT)", iw, opt.cycles, fresh_w.median, "fresh");
    printf("  isolated cold start / fresh spawn: %.2fx (target <= 0.5x); / in-process: %.1fx\n",
           fork_.median / fresh.median, fork_.median / bench_summarise(ii, opt.cycles).median);

    faas_runtime_free(rt);
    pingpong_stop();
    for (int c = 0; c < 3; c++)
        free(warm[c].us);
    free(ci); free(cw); free(ii); free(iw); free(fi); free(fw);
    return 0;
}
