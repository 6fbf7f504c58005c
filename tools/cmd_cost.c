/*
 * cmd_cost.c - `faas cost RECORDS-FILE`: what a recorded workload would cost on each cloud,
 * scaled to a monthly volume with the free tiers applied, and per function and per tag.
 * The records are the JSON lines faas_record_write(3) appends; the pricing is
 * faas_cost_compare(3). Public API only.
 */
#include <faas.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

#define MAX_MODELS 32

static void cost_usage(FILE *to)
{
    fprintf(to,
            "usage: %s cost [--monthly N] [--model NAME|FILE]... [--by function|tag|all|none]\n"
            "                RECORDS-FILE\n"
            "See faas(1).\n", prog);
}

/* "1000000", "1,000,000", "250k", "3M", "2B" as a number. */
static int parse_count(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    int digits = 0;
    for (; *s; s++) {
        if (*s >= '0' && *s <= '9') {
            if (v > (UINT64_MAX - 9) / 10)
                return -1;
            v = v * 10 + (uint64_t)(*s - '0');
            digits++;
        } else if (*s == ',' || *s == '_') {
            continue;
        } else {
            break;
        }
    }
    uint64_t mult = 1;
    if (*s == 'k' || *s == 'K')
        mult = 1000;
    else if (*s == 'm' || *s == 'M')
        mult = 1000000;
    else if (*s == 'b' || *s == 'B' || *s == 'g' || *s == 'G')
        mult = 1000000000;
    if (mult != 1)
        s++;
    if (*s != '\0' || digits == 0 || v > UINT64_MAX / mult)
        return -1;
    *out = v * mult;
    return 0;
}

/* 1234567 as "1,234,567". */
static const char *grouped(uint64_t v, char *buf, size_t size)
{
    char raw[32];
    int n = snprintf(raw, sizeof raw, "%llu", (unsigned long long)v);
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = raw[i];
    }
    buf[o] = '\0';
    return buf;
}

/* Dollars exact below a cent, else to the micro-dollar; trailing zeros dropped. */
static const char *dollars(uint64_t pusd, char *buf, size_t size)
{
    faas_format_usd(pusd, pusd < 10000000000u ? -1 : 6, buf, size);
    char *dot = strchr(buf, '.');
    if (dot != NULL) {
        size_t n = strlen(buf);
        while (n > (size_t)(dot - buf) + 3 && buf[n - 1] == '0')
            buf[--n] = '\0';
    }
    return buf;
}

/* x / scale with one decimal and thousands separators: GB-s from MB-ms, and so on. */
static const char *amount(uint64_t x, uint64_t scale, char *buf, size_t size)
{
    uint64_t tenths = (uint64_t)(((unsigned __int128)x * 10 + scale / 2) / scale);
    char whole[32];
    snprintf(buf, size, "%s.%u", grouped(tenths / 10, whole, sizeof whole),
             (unsigned)(tenths % 10));
    return buf;
}

/* ---- progress on a terminal --------------------------------------------------------------
 * faas_records_load(3) reads a whole file in one call and has no progress callback, and the
 * library has no public per-line parser. So on a terminal the loader is given the read end
 * of a pipe (/dev/fd/N) and a thread feeds it the file: what the progress line counts is
 * what the loader has taken, at most the pipe's buffer (64 KB on Linux) behind. Elsewhere
 * the file is loaded by path, as before, and nothing is drawn. */

static atomic_int progress_drawn;       /* a line is on stderr: erase it on SIGINT */

static void erase_progress(void)
{
    if (atomic_exchange(&progress_drawn, 0)) {
        static const char erase[] = "\r\033[K";
        ssize_t w = write(STDERR_FILENO, erase, sizeof erase - 1);
        (void)w;
    }
}

/* Ctrl-C: no partial table, at once, even in the middle of the loader. */
static void on_interrupt(int sig)
{
    (void)sig;
    erase_progress();
    _exit(130);
}

static void draw_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void draw_progress(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
    atomic_store(&progress_drawn, 1);
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

typedef struct feeder {
    const char *path;               /* in the progress line */
    int         in, out;            /* the records file, the pipe's write end */
    uint64_t    size;               /* of the file, from fstat */
} feeder;

/* Copy the file into the pipe, redrawing the line at most every 100 ms (and at the end).
 * A write fails with EPIPE once the loader is done with the pipe (a bad line stops it). */
static void *feed(void *arg)
{
    feeder *f = arg;
    sigset_t pipe_sig;
    sigemptyset(&pipe_sig);
    sigaddset(&pipe_sig, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_sig, NULL);    /* EPIPE, not the process killed */
    static char buf[65536];
    uint64_t bytes = 0, lines = 0, last = 0;
    int ended = 0;
    for (;;) {
        ssize_t got = read(f->in, buf, sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            ended = got == 0;
            break;
        }
        size_t off = 0;
        while (off < (size_t)got) {
            ssize_t w = write(f->out, buf + off, (size_t)got - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                goto out;
            off += (size_t)w;
        }
        bytes += (uint64_t)got;
        for (const char *c = buf; (c = memchr(c, '\n', (size_t)(buf + got - c))) != NULL; c++)
            lines++;
        uint64_t now = mono_ms();
        if (last == 0 || now - last >= 100) {
            char l[32];
            draw_progress("%s: %.1f MB read, %s lines (%u%%)", f->path, (double)bytes / 1e6,
                          grouped(lines, l, sizeof l),
                          (unsigned)(f->size ? bytes * 100 / f->size : 100));
            last = now;
        }
    }
    if (ended) {
        char l[32];
        draw_progress("%s: %.1f MB read, %s lines (100%%)", f->path, (double)bytes / 1e6,
                      grouped(lines, l, sizeof l));
    }
out:
    close(f->out);                  /* the loader sees the end of the file */
    return NULL;
}

/* Replace the first "/dev/fd/N" in msg by path, so that errors name the real file. */
static const char *renamed(const char *msg, const char *pipe_name, const char *path,
                           char *buf, size_t size)
{
    const char *at = strstr(msg, pipe_name);
    if (at == NULL)
        return msg;
    snprintf(buf, size, "%.*s%s%s", (int)(at - msg), msg, path, at + strlen(pipe_name));
    return buf;
}

/* faas_records_load(path), with a progress line when show is set. */
static int load_records(const char *path, int show, faas_record **recs, size_t *nrecs)
{
    struct stat st;
    /* The pipe reaches the loader by name: without /dev/fd, no progress. */
    int in = show && access("/dev/fd/0", F_OK) == 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (in < 0 || fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (in >= 0)
            close(in);
        if (faas_records_load(path, recs, nrecs) != FAAS_OK)
            return die(1, "%s", faas_last_error());
        return 0;
    }
    int fds[2];
    if (pipe(fds) != 0) {
        close(in);
        return die(1, "pipe: %s", strerror(errno));
    }
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    feeder f = { path, in, fds[1], (uint64_t)st.st_size };
    pthread_t th;
    if (pthread_create(&th, NULL, feed, &f) != 0) {
        close(in);
        close(fds[0]);
        close(fds[1]);
        return die(1, "cannot start a thread");
    }
    char pipe_name[32];
    snprintf(pipe_name, sizeof pipe_name, "/dev/fd/%d", fds[0]);
    int rc = faas_records_load(pipe_name, recs, nrecs);
    close(fds[0]);                  /* a feeder still writing gets EPIPE */
    pthread_join(th, NULL);
    close(in);
    if (rc != FAAS_OK) {
        erase_progress();
        char msg[1200];
        return die(1, "%s", renamed(faas_last_error(), pipe_name, path, msg, sizeof msg));
    }
    return 0;
}

static const faas_price_model *find_model(const faas_price_model *const *models, size_t n,
                                          const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(models[i]->name, name) == 0)
            return models[i];
    return NULL;
}

static void print_totals(const faas_cost_row *rows, size_t n,
                         const faas_price_model *const *models, size_t nmodels)
{
    printf("%-24s %13s %14s %18s %14s %16s %15s %11s %16s\n", "model", "requests", "GB-s",
           "second dimension", "requests $", "compute $", "free tier $", "fee $",
           "total $");
    int estimated = 0;
    for (size_t i = 0; i < n; i++) {
        const faas_cost_row *r = &rows[i];
        if (r->group != FAAS_COST_TOTAL)
            continue;
        const faas_price_model *m = find_model(models, nmodels, r->model);
        char calls[32], gbs[48], u2[320] = "-", req[40], comp[40], free_[40], fee[40],
             total[40], tmp[40];
        if (m != NULL && m->unit2 != NULL)
            snprintf(u2, sizeof u2, "%s %s", amount(r->unit2_ms, 1000000u, tmp, sizeof tmp),
                     m->unit2);
        const char *gbs_unit = m != NULL && m->memory_basis == FAAS_MEMORY_NONE ? "s" : "";
        snprintf(gbs, sizeof gbs, "%s%s", amount(r->mb_ms, 1024000u, tmp, sizeof tmp),
                 gbs_unit);
        char minus[42];
        snprintf(minus, sizeof minus, "-%s", dollars(r->free_picousd, free_, sizeof free_));
        printf("%-24s %13s %14s %18s %14s %16s %15s %11s %16s%s\n", r->model,
               grouped(r->calls, calls, sizeof calls), gbs, u2,
               dollars(r->request_picousd, req, sizeof req),
               dollars(r->compute_picousd, comp, sizeof comp),
               r->free_picousd ? minus : "$0.00", dollars(r->fixed_picousd, fee, sizeof fee),
               dollars(r->total_picousd, total, sizeof total),
               r->cpu_estimated ? " *" : "");
        estimated |= r->cpu_estimated;
    }
    if (estimated)
        printf("* bills CPU time, which the records do not have (cpu_time was off): their "
               "wall time was used, an upper bound.\n");
    printf("GB-s: billed memory x billed time (1 GB = 1024 MB); \"s\": CPU-seconds of a "
           "model that ignores memory.\n");
}

static void print_groups(const faas_cost_row *rows, size_t n, int group)
{
    const char *what = group == FAAS_COST_FUNCTION ? "function" : "tag";
    printf("\nBy %s (before the free tier and fees, which apply to the whole account):\n",
           what);
    printf("%-24s %13s  %-24s %14s %16s\n", what, "calls", "model", "GB-s", "cost $");
    /* Rows come model by model; print group by group, each with every model. */
    for (size_t i = 0; i < n; i++) {
        if (rows[i].group != group)
            continue;
        int first_of_group = 1;
        for (size_t j = 0; j < i; j++)
            if (rows[j].group == group &&
                ((rows[j].name == NULL && rows[i].name == NULL) ||
                 (rows[j].name && rows[i].name && strcmp(rows[j].name, rows[i].name) == 0)))
                first_of_group = 0;
        if (!first_of_group)
            continue;
        int line = 0;
        for (size_t k = i; k < n; k++) {
            const faas_cost_row *r = &rows[k];
            if (r->group != group ||
                !((r->name == NULL && rows[i].name == NULL) ||
                  (r->name && rows[i].name && strcmp(r->name, rows[i].name) == 0)))
                continue;
            char calls[32], gbs[40], cost[40];
            const char *label = rows[i].name ? rows[i].name : "(untagged)";
            printf("%-24s %13s  %-24s %14s %16s\n", line ? "" : label,
                   line ? "" : grouped(r->calls, calls, sizeof calls), r->model,
                   amount(r->mb_ms, 1024000u, gbs, sizeof gbs),
                   dollars(r->total_picousd, cost, sizeof cost));
            line++;
        }
    }
}

int cmd_cost(int argc, char **argv)
{
    uint64_t monthly = 0;
    const char *by = "all";
    const faas_price_model *models[MAX_MODELS];
    faas_price_model *loaded[MAX_MODELS];
    size_t nmodels = 0, nloaded = 0;
    int rc = 2, i = 1;
    faas_record *recs = NULL;
    size_t nrecs = 0;
    faas_cost_row *rows = NULL;
    size_t nrows = 0;

    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--monthly") == 0 && i + 1 < argc) {
            if (parse_count(argv[++i], &monthly) != 0 || monthly == 0) {
                rc = die(2, "--monthly wants a number of calls, e.g. 1000000 or 1M, not "
                         "\"%s\"", argv[i]);
                goto out;
            }
        } else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
            const char *arg = argv[++i];
            if (nmodels == MAX_MODELS) {
                rc = die(2, "at most %d models", MAX_MODELS);
                goto out;
            }
            const faas_price_model *p = faas_price_model_find(arg);
            if (p == NULL) {
                faas_price_model *m;
                if (faas_price_model_load(arg, &m) != FAAS_OK) {
                    rc = die(2, "--model %s: not a preset, and %s", arg, faas_last_error());
                    goto out;
                }
                loaded[nloaded++] = m;
                p = m;
            }
            models[nmodels++] = p;
        } else if (strcmp(argv[i], "--by") == 0 && i + 1 < argc) {
            by = argv[++i];
            if (strcmp(by, "function") != 0 && strcmp(by, "tag") != 0 &&
                strcmp(by, "all") != 0 && strcmp(by, "none") != 0) {
                rc = die(2, "--by is function, tag, all or none, not \"%s\"", by);
                goto out;
            }
        } else {
            cost_usage(stderr);
            goto out;
        }
    }
    if (argc - i != 1) {
        cost_usage(stderr);
        goto out;
    }
    if (nmodels == 0)
        for (; nmodels < MAX_MODELS && faas_price_model_preset(nmodels); nmodels++)
            models[nmodels] = faas_price_model_preset(nmodels);

    /* A line redrawn in place while loading and pricing, on a terminal only: scripts and
     * CI that read stderr see nothing of it. */
    int show = isatty(STDERR_FILENO);
    struct sigaction sa = { .sa_handler = on_interrupt };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    if ((rc = load_records(argv[i], show, &recs, &nrecs)) != 0)
        goto out;
    if (show) {
        char n[32];
        draw_progress("%s: pricing %s records on %zu models", argv[i],
                      grouped(nrecs, n, sizeof n), nmodels);
    }
    rc = faas_cost_compare(recs, nrecs, monthly, models, nmodels, &rows, &nrows);
    erase_progress();
    if (rc != FAAS_OK) {
        rc = die(1, "%s", faas_last_error());
        goto out;
    }

    size_t billed = 0, nfn = 0, ntag = 0;
    for (size_t k = 0; k < nrecs; k++)
        billed += recs[k].status != FAAS_ETHROTTLED && recs[k].status != FAAS_EBUDGET;
    for (size_t k = 0; k < nrows && strcmp(rows[k].model, rows[0].model) == 0; k++) {
        nfn += rows[k].group == FAAS_COST_FUNCTION;
        ntag += rows[k].group == FAAS_COST_TAG && rows[k].name != NULL;
    }
    char a[32], b[32], c[32];
    printf("%s: %s record%s, %s billed call%s of %zu function%s (%zu tag%s); ",
           argv[i], grouped(nrecs, a, sizeof a), nrecs == 1 ? "" : "s",
           grouped(billed, b, sizeof b), billed == 1 ? "" : "s", nfn, nfn == 1 ? "" : "s",
           ntag, ntag == 1 ? "" : "s");
    if (monthly)
        printf("priced as %s calls a month.\n", grouped(monthly, c, sizeof c));
    else
        printf("priced as recorded, as one month.\n");
    printf("Prices as published (first volume tier, no egress or storage); see "
           "faas_price_model(3) for each figure's source and date.\n\n");
    print_totals(rows, nrows, models, nmodels);
    if (strcmp(by, "function") == 0 || strcmp(by, "all") == 0)
        print_groups(rows, nrows, FAAS_COST_FUNCTION);
    if (strcmp(by, "tag") == 0 || strcmp(by, "all") == 0)
        print_groups(rows, nrows, FAAS_COST_TAG);
    rc = 0;
out:
    faas_free(rows);
    faas_records_free(recs, nrecs);
    for (size_t k = 0; k < nloaded; k++)
        faas_price_model_free(loaded[k]);
    return rc;
}
