/*
 * bench_triggers.c - the event sources against their floors, in one process run:
 *
 *   watch latency     close() of a new file -> its handler starts (libfaas, 2
 *                     workers), against a bare inotify thread woken by the same close:
 *                     the floor of any inotify watcher. libfaas adds: reading the event,
 *                     hashing the file, the S3 record, the queue, a worker's wake-up.
 *   watch throughput  N files written back to back -> N handlers run, against the bare
 *                     thread counting N events.
 *   MD5               the eTag hash (md5.c) in MB/s, against GLib's GChecksum when built
 *                     with GLib.
 *   next firing       one cron next-firing search, against a naive minute-by-minute scan
 *                     of the same expression (which also checks the answers agree).
 *
 * Medians of several reps; ratios printed.
 * Run: ./tests/bench/bench_triggers [--quick] [--only next|md5|watch]
 */
#define _GNU_SOURCE
#include <faas.h>

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef HAVE_GLIB
#include <glib.h>
#endif

#include "bench.h"
#include "../../libfaas/cron.h"
#include "../../libfaas/md5.h"
#include "../../libfaas/tz.h"

static int quick;

/* ---- a one-slot mailbox: the time something happened, and how many times ------------------ */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    uint64_t        count, at_ns;
} box = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };

static void box_post(void)
{
    uint64_t now = bench_now_ns();
    pthread_mutex_lock(&box.mu);
    box.count++;
    box.at_ns = now;
    pthread_cond_broadcast(&box.cv);
    pthread_mutex_unlock(&box.mu);
}

/* Wait until count reaches n; returns the time of the last post. */
static uint64_t box_wait(uint64_t n)
{
    pthread_mutex_lock(&box.mu);
    while (box.count < n)
        pthread_cond_wait(&box.cv, &box.mu);
    uint64_t at = box.at_ns;
    pthread_mutex_unlock(&box.mu);
    return at;
}

static void box_reset(void)
{
    pthread_mutex_lock(&box.mu);
    box.count = 0;
    pthread_mutex_unlock(&box.mu);
}

/* ---- the two watchers ----------------------------------------------------------------------- */

static int on_file(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)payload; (void)len;
    box_post();
    return 0;
}

typedef struct bare {
    int       fd, wd;
    pthread_t thread;
} bare;

/* The floor: a thread blocked in read() on an inotify descriptor, posting each close. */
static void *bare_main(void *arg)
{
    bare *b = arg;
    _Alignas(struct inotify_event) char buf[16384];
    for (;;) {
        ssize_t n = read(b->fd, buf, sizeof buf);
        if (n <= 0)
            return NULL;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)(void *)p;
            if (ev->mask & IN_CLOSE_WRITE)
                box_post();
            if (ev->mask & IN_IGNORED)      /* the watch was removed: stop */
                return NULL;
            p += sizeof *ev + ev->len;
        }
    }
}

/* Write file i; returns the time just before its close(), which is what announces it (the
 * event is sent within close(), so a watcher may see it before close() returns). */
static uint64_t write_file(const char *dir, unsigned i)
{
    char path[4096], body[64];
    snprintf(path, sizeof path, "%s/f%06u.dat", dir, i);
    int len = snprintf(body, sizeof body, "file %u\n", i);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, body, (size_t)len) != len) {
        perror(path);
        exit(1);
    }
    uint64_t before = bench_now_ns();
    if (close(fd) != 0) {
        perror(path);
        exit(1);
    }
    return before;
}

static char *make_dir(void)
{
    char *dir = strdup("/tmp/faas-bench-watch-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    return dir;
}

static void clear_dir(const char *dir, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/f%06u.dat", dir, i);
        unlink(path);
    }
}

/* Latency of n files one at a time (median, us); throughput of n files back to back
 * (files/s). which: 0 libfaas, 1 bare. */
static void run_watch(int which, unsigned n, double *lat_us, double *files_per_s)
{
    char *dir = make_dir();
    faas_runtime *rt = NULL;
    bare b = { -1, -1, 0 };
    if (which == 0) {
        faas_options o = { .workers = 2 };
        faas_trigger_id id;
        if (faas_runtime_new(&rt, &o) != FAAS_OK ||
            faas_register(rt, "on_file", on_file, NULL) != FAAS_OK ||
            faas_watch(rt, "on_file", dir, NULL, &id) != FAAS_OK) {
            fprintf(stderr, "%s\n", faas_last_error());
            exit(1);
        }
    } else {
        b.fd = inotify_init1(IN_CLOEXEC);
        if (b.fd < 0 || (b.wd = inotify_add_watch(b.fd, dir, IN_CLOSE_WRITE)) < 0 ||
            pthread_create(&b.thread, NULL, bare_main, &b) != 0) {
            perror("inotify");
            exit(1);
        }
    }
    double *lat = malloc(n * sizeof *lat);
    box_reset();
    for (unsigned i = 0; i < n; i++) {
        uint64_t closing = write_file(dir, i);
        lat[i] = (double)(box_wait(i + 1) - closing) / 1e3;
    }
    *lat_us = bench_median(lat, n);
    free(lat);
    clear_dir(dir, n);

    box_reset();
    uint64_t t0 = bench_now_ns();
    for (unsigned i = 0; i < n; i++)
        write_file(dir, i);
    uint64_t t1 = box_wait(n);
    *files_per_s = n / ((double)(t1 - t0) / 1e9);

    if (which == 0) {
        faas_runtime_free(rt);
    } else {
        inotify_rm_watch(b.fd, b.wd);       /* IN_IGNORED: the thread ends */
        pthread_join(b.thread, NULL);
        close(b.fd);
    }
    clear_dir(dir, n);
    rmdir(dir);
    free(dir);
}

static void bench_watch(void)
{
    unsigned n = quick ? 50 : 500, reps = quick ? 1 : 5;
    double lat[2][8], thr[2][8];
    for (unsigned r = 0; r < reps; r++)
        for (int which = 0; which < 2; which++)
            run_watch(which, n, &lat[which][r], &thr[which][r]);
    double l0 = bench_median(lat[0], reps), l1 = bench_median(lat[1], reps);
    double t0 = bench_median(thr[0], reps), t1 = bench_median(thr[1], reps);
    printf("watch latency, close -> handler (median of %u files, median of %u reps)\n", n,
           reps);
    printf("  libfaas faas_watch          %8.1f us\n", l0);
    printf("  bare inotify thread (floor) %8.1f us    ratio %.2fx\n", l1, l0 / l1);
    printf("watch throughput, %u files written back to back\n", n);
    printf("  libfaas faas_watch          %8.0f files/s\n", t0);
    printf("  bare inotify thread (floor) %8.0f files/s    ratio %.2fx\n", t1, t0 / t1);
}

/* ---- MD5 ------------------------------------------------------------------------------------ */

static void bench_md5(void)
{
    size_t size = quick ? (4u << 20) : (64u << 20);
    unsigned reps = quick ? 1 : 5;
    unsigned char *buf = malloc(size);
    for (size_t i = 0; i < size; i++)
        buf[i] = (unsigned char)(i * 2654435761u >> 24);
    double ours[8], theirs[8];
    char hex[33];
    for (unsigned r = 0; r < reps; r++) {
        uint64_t t0 = bench_now_ns();
        faas__md5 m;
        faas__md5_init(&m);
        faas__md5_update(&m, buf, size);
        faas__md5_hex(&m, hex);
        ours[r] = (double)size / 1e6 / ((double)(bench_now_ns() - t0) / 1e9);
#ifdef HAVE_GLIB
        t0 = bench_now_ns();
        gchar *g = g_compute_checksum_for_data(G_CHECKSUM_MD5, buf, size);
        theirs[r] = (double)size / 1e6 / ((double)(bench_now_ns() - t0) / 1e9);
        if (strcmp(g, hex) != 0) {
            fprintf(stderr, "MD5 differs from GLib's: %s %s\n", hex, g);
            exit(1);
        }
        g_free(g);
#else
        theirs[r] = 0;
#endif
    }
    double a = bench_median(ours, reps), b = bench_median(theirs, reps);
    printf("MD5 (eTag) of %zu MiB\n", size >> 20);
    printf("  libfaas md5.c               %8.0f MB/s\n", a);
    if (b > 0)
        printf("  GLib GChecksum MD5          %8.0f MB/s    ratio %.2fx\n", b, a / b);
    else
        printf("  GLib GChecksum MD5          (not built with GLib)\n");
    free(buf);
}

/* ---- next firing -------------------------------------------------------------------------- */

/* The naive search: every minute from the next one, until the fields match; for day
 * fields of plain values only (no L, W or #). -1: not that kind of expression. */
static int64_t naive_next(const faas__cron *c, const faas__tz *tz, int64_t after)
{
    if (c->dom == FAAS__DOM_LAST || c->dom == FAAS__DOM_LAST_WEEKDAY ||
        c->dom == FAAS__DOM_NEAREST_WEEKDAY || c->dow == FAAS__DOW_LAST ||
        c->dow == FAAS__DOW_NTH)
        return -1;
    for (int64_t u = (after / 60 + 1) * 60; u < INT64_C(7258118400); u += 60) {
        int64_t local = u + faas__tz_offset(tz, u), y, days = local / 86400;
        unsigned mo, d;
        faas__civil_from_days(days, &y, &mo, &d);
        unsigned h = (unsigned)(local % 86400 / 3600), mi = (unsigned)(local % 3600 / 60);
        unsigned wd = (unsigned)((days + 4) % 7) + 1, yi = (unsigned)(y - 1970);
        int64_t back;
        bool first = faas__tz_to_utc(tz, local, &back) > 0 && back == u;   /* no repeat */
        if (first && (c->minutes >> mi & 1) && (c->hours >> h & 1) && (c->months >> mo & 1) &&
            (c->years[yi / 64] >> (yi % 64) & 1) &&
            (c->dom == FAAS__DOM_ANY || (c->days >> d & 1)) &&
            (c->dow == FAAS__DOW_ANY || (c->weekdays >> wd & 1)))
            return u;
    }
    return -1;
}

static void bench_next(void)
{
    static const struct { const char *expr, *zone; } cases[] = {
        { "cron(0 12 * * ? *)", NULL },
        { "cron(0/15 * * * ? *)", "Europe/Berlin" },
        { "cron(0 10 ? * 6#3 *)", "Europe/Berlin" },
        { "cron(0 9 LW * ? *)", "America/New_York" },
        { "cron(0 0 29 2 ? *)", NULL },
        { "cron(30 2 ? * MON-FRI *)", "Europe/Berlin" },
    };
    unsigned iters = quick ? 2000 : 200000;
    printf("next firing, ns per search from 2026-11-26T00:00:00Z (naive: minute by minute)\n");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        faas__cron c;
        faas__tz *tz = NULL;
        char err[300];
        if (faas__cron_parse(cases[i].expr, &c, err, sizeof err) != 0 ||
            (cases[i].zone && faas__tz_load(cases[i].zone, &tz, err, sizeof err) != 0)) {
            fprintf(stderr, "%s: %s\n", cases[i].expr, err);
            exit(1);
        }
        int64_t after = INT64_C(1795651200), next = 0;
        double reps[5];
        for (int r = 0; r < 5; r++) {
            uint64_t t0 = bench_now_ns();
            for (unsigned k = 0; k < iters; k++) {
                faas__cron_next(&c, tz, after + (int64_t)(k % 1024), &next);
                bench_keep((uint64_t)next);
            }
            reps[r] = (double)(bench_now_ns() - t0) / iters;
        }
        double ours = bench_median(reps, 5);
        /* The naive scan, timed over a few runs (it is slow), and its answer compared. */
        unsigned naive_iters = quick ? 1 : 5;
        uint64_t t0 = bench_now_ns();
        int64_t slow = 0;
        for (unsigned k = 0; k < naive_iters; k++)
            slow = naive_next(&c, tz, after);
        double naive = (double)(bench_now_ns() - t0) / naive_iters;
        faas__cron_next(&c, tz, after, &next);
        if (slow >= 0 && slow != next) {
            fprintf(stderr, "%s: %lld, naive %lld\n", cases[i].expr, (long long)next,
                    (long long)slow);
            exit(1);
        }
        if (slow >= 0)
            printf("  %-24s %-16s %7.0f ns   naive %11.0f ns   ratio %.5fx\n",
                   cases[i].expr, cases[i].zone ? cases[i].zone : "UTC", ours, naive,
                   ours / naive);
        else
            printf("  %-24s %-16s %7.0f ns   (no naive form)\n", cases[i].expr,
                   cases[i].zone ? cases[i].zone : "UTC", ours);
        faas__tz_free(tz);
    }
}

int main(int argc, char **argv)
{
    const char *only = "";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--quick] [--only next|md5|watch]\n", argv[0]);
            return 2;
        }
    }
    if (!*only || strcmp(only, "next") == 0)
        bench_next();
    if (!*only || strcmp(only, "md5") == 0)
        bench_md5();
    if (!*only || strcmp(only, "watch") == 0)
        bench_watch();
    return 0;
}
