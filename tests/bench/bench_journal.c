/*
 * bench_journal.c - what the journal of accepted asynchronous calls costs an Event call
 * through the HTTP gateway: requests/s and p99 of `wrk` POSTing Event invocations
 * (X-Amz-Invocation-Type: Event, 202) to a gateway whose runtime journals every call
 * (faas_options.journal_dir: an fdatasync before each 202, shared by the calls that wait
 * at once) and to one that does not, side by side in one process, medians of several reps,
 * and the ratio. The function is an echo: the measure is the path to the 202.
 *
 *   bench_journal [--quick] [--reps N] [--seconds S] [--connections C] [--dir DIR]
 *
 * DIR (default $TMPDIR, else /var/tmp) receives the journal: it must be on the disk the
 * figures are meant for (a tmpfs makes fdatasync free, and the benchmark says so).
 */
#include <faas.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define TMPFS_MAGIC_ 0x01021994
#define MAX_REPS 32

static const char body[] = "{\"message\":\"hello from the benchmark\",\"n\":42}";

static int echo(faas_ctx *ctx, const void *payload, size_t len)
{
    return faas_reply(ctx, payload, len);
}

typedef struct result {
    double rps, p99_ms;
} result;

static double to_ms(const char *v)
{
    double x = atof(v);
    if (strstr(v, "us"))
        return x / 1000;
    if (strstr(v, "ms"))
        return x;
    if (strstr(v, "s"))
        return x * 1000;
    return x;
}

/* wrk -t1 -cC -dS --latency -s SCRIPT URL; a non-2xx answer or a socket error fails it. */
static int run_wrk(const char *url, const char *script, unsigned secs, unsigned conns,
                   result *out)
{
    char d[32], c[32];
    snprintf(d, sizeof d, "%us", secs);
    snprintf(c, sizeof c, "%u", conns);
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execlp("wrk", "wrk", "-t", "1", "-c", c, "-d", d, "--latency", "-s", script, url,
               (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[512];
    int errors = 0;
    out->rps = out->p99_ms = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        char v[64];
        if (sscanf(line, " 99%% %63s", v) == 1)
            out->p99_ms = to_ms(v);
        else if (sscanf(line, "Requests/sec: %63s", v) == 1)
            out->rps = atof(v);
        else if (strstr(line, "Non-2xx") || strstr(line, "Socket errors"))
            errors = 1, fprintf(stderr, "wrk: %s", line);
    }
    fclose(f);
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || out->rps == 0)
        return -1;
    return errors ? -1 : 0;
}

int main(int argc, char **argv)
{
    unsigned reps = 5, secs = 5, conns = 32;
    const char *tmp = getenv("TMPDIR");
    const char *base = tmp && *tmp ? tmp : "/var/tmp";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            reps = 1;
            secs = 1;
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = (unsigned)atoi(argv[++i]);
        } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            secs = (unsigned)atoi(argv[++i]);
        } else if (strcmp(argv[i], "--connections") == 0 && i + 1 < argc) {
            conns = (unsigned)atoi(argv[++i]);
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            base = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--quick] [--reps N] [--seconds S] [--connections C] "
                    "[--dir DIR]\n", argv[0]);
            return 2;
        }
    }
    if (reps < 1 || reps > MAX_REPS || secs < 1 || conns < 1) {
        fprintf(stderr, "bench_journal: bad numbers\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    char dir[4096];
    snprintf(dir, sizeof dir, "%s/bench_journal_XXXXXX", base);
    if (mkdtemp(dir) == NULL) {
        perror(dir);
        return 1;
    }
    struct statfs sf;
    bool tmpfs = statfs(dir, &sf) == 0 && sf.f_type == TMPFS_MAGIC_;
    char script[] = "/tmp/bench_journal_XXXXXX.lua";
    int sfd = mkstemps(script, 4);
    if (sfd < 0) {
        perror("mkstemps");
        return 1;
    }
    dprintf(sfd, "wrk.method = \"POST\"\nwrk.body = '%s'\n"
            "wrk.headers[\"X-Amz-Invocation-Type\"] = \"Event\"\n", body);
    close(sfd);

    /* Two runtimes, the same but for the journal, each behind its own gateway. */
    const char *names[2] = { "no journal", "journal (fdatasync before the 202)" };
    faas_runtime *rt[2];
    faas_gateway *gw[2];
    char urls[2][128];
    for (int k = 0; k < 2; k++) {
        faas_options o = {0};
        o.journal_dir = k == 1 ? dir : NULL;
        if (faas_runtime_new(&rt[k], &o) != FAAS_OK ||
            faas_register(rt[k], "echo", echo, NULL) != FAAS_OK ||
            faas_gateway_start(rt[k], "127.0.0.1:0", NULL, &gw[k]) != FAAS_OK) {
            fprintf(stderr, "bench_journal: %s\n", faas_last_error());
            return 1;
        }
        snprintf(urls[k], sizeof urls[k],
                 "http://127.0.0.1:%d/2015-03-31/functions/echo/invocations",
                 faas_gateway_port(gw[k]));
    }

    printf("wrk -t1 -c%u -d%us --latency, POST %zu bytes, X-Amz-Invocation-Type: Event, "
           "keep-alive; %u reps, medians; journal in %s%s\n", conns, secs, sizeof body - 1,
           reps, dir, tmpfs ? " (a tmpfs: fdatasync costs nothing there)" : "");
    double rps[2][MAX_REPS], p99[2][MAX_REPS], ratio[MAX_REPS], cpu_us[2][MAX_REPS];
    for (unsigned r = 0; r < reps; r++) {
        for (int k = 0; k < 2; k++) {           /* interleaved: drift hits both alike */
            result res = { 0, 0 };
            struct rusage before, after;
            getrusage(RUSAGE_SELF, &before);
            int wrc = run_wrk(urls[k], script, secs, conns, &res);
            getrusage(RUSAGE_SELF, &after);
            /* This process's CPU time (the gateway, the workers, the journal) per request. */
            double cpu = (double)(after.ru_utime.tv_sec - before.ru_utime.tv_sec +
                                  after.ru_stime.tv_sec - before.ru_stime.tv_sec) * 1e6 +
                         (double)(after.ru_utime.tv_usec - before.ru_utime.tv_usec +
                                  after.ru_stime.tv_usec - before.ru_stime.tv_usec);
            cpu_us[k][r] = res.rps > 0 ? cpu / (res.rps * secs) : 0;
            if (wrc != 0) {
                fprintf(stderr, "bench_journal: wrk failed against %s\n", names[k]);
                unlink(script);
                return 1;
            }
            rps[k][r] = res.rps;
            p99[k][r] = res.p99_ms;
            /* Let the queue empty, so that one target's backlog never slows the other. */
            faas_drain(rt[k], 60000);
        }
        ratio[r] = rps[1][r] / rps[0][r];
    }
    unlink(script);

    faas_journal_stats st;
    faas_journal_stats_get(rt[1], &st);
    printf("%-36s %12s %16s %9s %12s\n", "server", "requests/s", "[min-max]", "p99 ms",
           "CPU us/req");
    double med[2];
    for (int k = 0; k < 2; k++) {
        double lo = 1e18, hi = 0;
        for (unsigned r = 0; r < reps; r++) {
            lo = rps[k][r] < lo ? rps[k][r] : lo;
            hi = rps[k][r] > hi ? rps[k][r] : hi;
        }
        char range[40];
        snprintf(range, sizeof range, "[%.0f-%.0f]", lo, hi);
        med[k] = bench_quantile(rps[k], reps, 0.5);
        printf("%-36s %12.0f %16s %9.3f %12.1f\n", names[k], med[k], range,
               bench_quantile(p99[k], reps, 0.5), bench_quantile(cpu_us[k], reps, 0.5));
    }
    printf("ratio: journal over no journal, medians: %.2fx (median of the per-rep ratios "
           "%.2fx)\n", med[1] / med[0], bench_quantile(ratio, reps, 0.5));
    printf("journal: %llu calls, %llu fdatasync: %.1f calls per fdatasync; %llu "
           "compactions, %llu bytes now\n", (unsigned long long)st.appended,
           (unsigned long long)st.syncs,
           st.syncs ? (double)st.appended / (double)st.syncs : 0.0,
           (unsigned long long)st.compactions, (unsigned long long)st.bytes);

    for (int k = 0; k < 2; k++) {
        faas_gateway_stop(gw[k]);
        faas_drain(rt[k], 60000);
        faas_runtime_free(rt[k]);
    }
    /* The journal's files: the lock and one segment, after a drain. */
    char path[4200];
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    if (system(path) != 0)
        fprintf(stderr, "bench_journal: could not remove %s\n", dir);
    return 0;
}
