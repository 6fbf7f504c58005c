/*
 * cmd_serve.c - `faas serve FUNCTIONS-FILE`: register the functions of a functions file
 * (functions_file.c) and serve the AWS Lambda Invoke API for them over HTTP until SIGINT
 * or SIGTERM, then drain. `faas serve --check FILE` only validates the file. With
 * --nats URL the runtime is a NATS producer: Event calls go to the stream, for workers.
 * Accepted Event calls are journaled in the spool (FILE.spool, or --spool DIR) before
 * their 202, and those a stop or a crash left are run again at the next start.
 */
#include <faas.h>

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "functions_file.h"
#include "tool.h"

#define EXIT_DROPPED 3              /* stopped with accepted calls lost (no spool) */
#define DRAIN_SLICE_MS 100u         /* how often the drain looks for a second signal */

/* Event calls a stop completed without running them (FAAS_ESHUTDOWN): kept in the spool,
 * or lost without one. Counted by every accepted Event call's callback. */
static atomic_ullong not_run;

static void event_done(const faas_response *res, void *arg)
{
    (void)arg;
    if (res->status == FAAS_ESHUTDOWN)
        atomic_fetch_add_explicit(&not_run, 1, memory_order_relaxed);
}

static void print_log(const char *line, void *arg)
{
    (void)arg;
    fprintf(stderr, "%s\n", line);
}

static int serve_usage(void)
{
    fprintf(stderr,
            "usage: %s serve [--listen ADDR] [--token TOKEN] [--threads N]\n"
            "                [--max-connections N] [--max-connections-per-address N]\n"
            "                [--header-timeout MS] [--nats URL] [--spool DIR | --no-spool]\n"
            "                [--drain-timeout MS] [--log] FILE\n"
            "       %s serve --check FILE\n"
            "FILE lists the functions (faas-functions(5)); ADDR defaults to 127.0.0.1:9001;\n"
            "TOKEN defaults to $FAAS_GATEWAY_TOKEN; DIR to FILE.spool. See faas(1).\n",
            prog, prog);
    return 2;
}

/* Is this address a loopback one? (Only what the gateway accepts: names and numbers.) */
static int loopback(const char *addr)
{
    return strncmp(addr, "127.", 4) == 0 || strncmp(addr, "[::1]:", 6) == 0 ||
           strncmp(addr, "localhost:", 10) == 0 || addr[0] == ':';
}


/* --check: parse, then register on a manual-mode runtime, which loads nothing and starts
 * no thread, so that every check the library makes is made, with the section's line; each
 * function is unregistered once checked (check_only), so the time and memory it takes
 * grow with the file and no more. */
static int check(const char *path)
{
    ff_file f;
    int rc = ff_load(path, &f);
    if (rc < 0) {
        ff_free(&f);
        return die(1, "%s: out of memory", path);
    }
    if (rc == 0) {
        faas_options o = { .size = sizeof(faas_options), .manual = 1 };
        faas_runtime *rt;
        if (faas_runtime_new(&rt, &o) != FAAS_OK) {
            ff_free(&f);
            return die(1, "%s", faas_last_error());
        }
        f.check_only = 1;
        ff_register(rt, &f, path);
        faas_runtime_free(rt);
    }
    ff_print_errors(&f);
    int bad = f.nerrors > 0;
    if (!bad) {
        char budgets[48] = "";
        if (f.nbudgets > 0)
            snprintf(budgets, sizeof budgets, ", %zu budget%s", f.nbudgets,
                     f.nbudgets == 1 ? "" : "s");
        printf("%s: %zu function%s%s, no error\n", path, f.n, f.n == 1 ? "" : "s", budgets);
    }
    ff_free(&f);
    return bad ? 1 : 0;
}

/* What the spool holds at start: calls from the last run queued again, damage found. */
static void report_spool(faas_runtime *rt, const char *spool, int replayed)
{
    faas_journal_stats st;
    if (faas_journal_stats_get(rt, &st) != FAAS_OK || !st.enabled)
        return;
    if (st.torn_bytes > 0)
        fprintf(stderr, "%s: spool %s: %llu bytes of a write cut short (by a crash) "
                "ignored\n", prog, spool, (unsigned long long)st.torn_bytes);
    if (st.corrupt_records > 0 || st.corrupt_bytes > 0)
        fprintf(stderr, "%s: spool %s: %llu damaged records (%llu bytes) skipped; the "
                "files are kept as *.damaged\n", prog, spool,
                (unsigned long long)st.corrupt_records, (unsigned long long)st.corrupt_bytes);
    if (replayed > 0)
        fprintf(stderr, "%s: spool %s: %d accepted calls of the last run queued again\n",
                prog, spool, replayed);
}

/* After the first stop signal: let accepted calls finish, for at most drain_ms (0: not at
 * all; UINT_MAX: until done), unless a second signal comes first. 1 if it was forced. */
static int drain(faas_runtime *rt, sigset_t *stop, unsigned drain_ms)
{
    struct timespec start, now, zero = { 0, 0 };
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        unsigned left = drain_ms;
        if (drain_ms != UINT_MAX) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            uint64_t spent = (uint64_t)(now.tv_sec - start.tv_sec) * 1000u +
                             (uint64_t)(now.tv_nsec / 1000000) -
                             (uint64_t)(start.tv_nsec / 1000000);
            left = spent >= drain_ms ? 0 : drain_ms - (unsigned)spent;
        }
        if (faas_drain(rt, left < DRAIN_SLICE_MS ? left : DRAIN_SLICE_MS) == FAAS_OK)
            return 0;
        int sig = sigtimedwait(stop, NULL, &zero);
        if (sig == SIGINT || sig == SIGTERM) {
            fprintf(stderr, "%s: %s again: stopping now\n", prog,
                    sig == SIGINT ? "SIGINT" : "SIGTERM");
            return 1;
        }
        if (left == 0)
            return 0;
    }
}

/* What this run served, for the person who stopped it: the totals over every function. */
static void print_summary(faas_runtime *rt, const struct timespec *t0)
{
    faas_stats st;
    if (faas_stats_get(rt, NULL, &st) != FAAS_OK)
        return;
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
    char cost[32];
    faas_format_usd(st.cost_picousd, -1, cost, sizeof cost);
    fprintf(stderr, "%s: served %llu call%s in %.0f s: %llu errors (%llu timeouts), "
            "%llu throttled, %llu cold starts, p99 %.2f ms, cost %s\n", prog,
            (unsigned long long)st.invocations, st.invocations == 1 ? "" : "s", s,
            (unsigned long long)st.errors, (unsigned long long)st.timeouts,
            (unsigned long long)st.throttles, (unsigned long long)st.cold_starts, st.p99_ms,
            cost);
}

int cmd_serve(int argc, char **argv)
{
    const char *listen = "127.0.0.1:9001", *token = getenv("FAAS_GATEWAY_TOKEN");
    const char *file = NULL, *nats = NULL, *spool = NULL;
    int only_check = 0, show_log = 0, no_spool = 0;
    unsigned threads = 0, max_conns = 0, per_address = 0, header_ms = 0, drain_ms = UINT_MAX;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--check") == 0) {
            only_check = 1;
        } else if (strcmp(argv[i], "--log") == 0) {
            show_log = 1;
        } else if (strcmp(argv[i], "--no-spool") == 0) {
            no_spool = 1;
        } else if (strcmp(argv[i], "--spool") == 0 && i + 1 < argc) {
            spool = argv[++i];
            if (spool[0] == '\0')
                return die(2, "--spool wants a directory");
        } else if (strcmp(argv[i], "--drain-timeout") == 0 && i + 1 < argc) {
            if (parse_unsigned(argv[++i], &drain_ms) != 0 || drain_ms == UINT_MAX)
                return die(2, "--drain-timeout wants milliseconds, not \"%s\"", argv[i]);
        } else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen = argv[++i];
        } else if (strcmp(argv[i], "--nats") == 0 && i + 1 < argc) {
            if ((nats = keep_secret(argv[++i], false)) == NULL)
                return die(1, "out of memory");
        } else if (strcmp(argv[i], "--token") == 0 && i + 1 < argc) {
            if ((token = keep_secret(argv[++i], true)) == NULL)
                return die(1, "out of memory");
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            if (parse_unsigned(argv[++i], &threads) != 0 || threads == 0)
                return die(2, "--threads wants a number above 0, not \"%s\"", argv[i]);
        } else if (strcmp(argv[i], "--max-connections") == 0 && i + 1 < argc) {
            if (parse_unsigned(argv[++i], &max_conns) != 0 || max_conns == 0)
                return die(2, "--max-connections wants a number above 0, not \"%s\"",
                           argv[i]);
        } else if (strcmp(argv[i], "--max-connections-per-address") == 0 && i + 1 < argc) {
            if (parse_unsigned(argv[++i], &per_address) != 0 || per_address == 0)
                return die(2, "--max-connections-per-address wants a number above 0, not "
                           "\"%s\"", argv[i]);
        } else if (strcmp(argv[i], "--header-timeout") == 0 && i + 1 < argc) {
            if (parse_unsigned(argv[++i], &header_ms) != 0 || header_ms == 0)
                return die(2, "--header-timeout wants milliseconds above 0, not \"%s\"",
                           argv[i]);
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return serve_usage();
        } else if (file == NULL) {
            file = argv[i];
        } else {
            return serve_usage();
        }
    }
    if (file == NULL)
        return serve_usage();
    if (only_check)
        return check(file);
    if (spool != NULL && no_spool)
        return die(2, "--spool and --no-spool: choose one");
    char spool_default[4096];
    if (spool == NULL && !no_spool) {
        if (snprintf(spool_default, sizeof spool_default, "%s.spool", file) >=
            (int)sizeof spool_default)
            return die(2, "%s: the path is too long for a spool beside it: use --spool", file);
        spool = spool_default;
    }

    ff_file f;
    int rc = ff_load_or_report(file, &f);
    if (rc != 0)
        return rc;
    /* Every thread the runtime and the gateway start inherits this mask, so the signals
     * reach only sigwait() below: no handler runs at an arbitrary point. */
    sigset_t stop;
    block_stop_signals(&stop);

    faas_options o = FAAS_OPTIONS_INIT;
    if (show_log)
        o.log = print_log;
    o.journal_dir = spool;
    faas_runtime *rt;
    if (faas_runtime_new(&rt, &o) != FAAS_OK) {
        ff_free(&f);
        rc = die(1, "%s", faas_last_error());
        if (spool != NULL && strstr(faas_last_error(), "journal") != NULL)
            fprintf(stderr, "%s: (the spool keeps accepted Event calls: --spool DIR puts it "
                    "elsewhere, --no-spool goes without)\n", prog);
        return rc;
    }
    if (ff_register(rt, &f, file) > 0) {
        ff_print_errors(&f);
        ff_free(&f);
        faas_runtime_free(rt);
        return 1;
    }
    size_t nfns = f.n, nremote = 0;
    for (size_t i = 0; i < f.n; i++)
        nremote += f.fns[i].cfg.remote != 0;
    ff_free(&f);
    /* Event calls (and those of schedules and watches) go to the stream: of the functions
     * marked remote, or of every function when none is. RequestResponse calls run here. */
    if (nats != NULL) {
        faas_nats_options no = { .size = sizeof(faas_nats_options),
                                 .role = FAAS_NATS_PRODUCER, .publish_all = nremote == 0,
                                 .name = "faas serve" };
        if (faas_nats_attach(rt, nats, &no) != FAAS_OK) {
            rc = die(1, "%s", faas_last_error());
            faas_runtime_free(rt);
            return rc;
        }
    }

    /* Every Event call's callback counts what a stop leaves, but with NATS: a callback
     * makes the producer wait for each call's result, where a call is done once the
     * stream has stored it. */
    faas_callback counted = nats != NULL ? NULL : event_done;
    /* Functions registered and the producer attached: what the last run left runs now. */
    int replayed = faas_journal_replay(rt, counted, NULL);
    if (replayed < 0)
        fprintf(stderr, "%s: spool %s: %s\n", prog, spool, faas_last_error());
    report_spool(rt, spool, replayed);

    faas_gateway_options go = { .size = sizeof(faas_gateway_options),
                                .token = token, .threads = threads,
                                .max_connections = max_conns,
                                .max_connections_per_address = per_address,
                                .header_timeout_ms = header_ms, .event_done = counted };
    faas_gateway *gw;
    if (faas_gateway_start(rt, listen, &go, &gw) != FAAS_OK) {
        rc = die(1, "%s", faas_last_error());
        faas_runtime_free(rt);
        return rc;
    }
    if (!loopback(listen) && (token == NULL || token[0] == '\0'))
        fprintf(stderr, "%s: warning: %s is not a loopback address and there is no token: "
                "anyone who can reach it can run these functions\n", prog, listen);
    /* The port line is what scripts and tests wait for (with port 0, the real port). */
    char shown[300];
    snprintf(shown, sizeof shown, "%s", listen);
    char *colon = strrchr(shown, ':');
    if (colon != NULL)
        snprintf(colon + 1, sizeof shown - (size_t)(colon + 1 - shown), "%d",
                 faas_gateway_port(gw));
    printf("faas: serving %zu function%s on http://%s%s\n", nfns, nfns == 1 ? "" : "s",
           shown[0] == ':' ? "127.0.0.1" : "", shown);
    fflush(stdout);

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int sig = 0;
    while (sigwait(&stop, &sig) != 0)
        ;
    fprintf(stderr, "%s: %s: draining (again to stop now)\n", prog,
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    faas_gateway_stop(gw);              /* requests in progress finish */
    drain(rt, &stop, drain_ms);         /* so do accepted Event calls, unless cut short */
    print_summary(rt, &t0);
    /* The running calls finish in faas_runtime_free(); the others complete FAAS_ESHUTDOWN
     * there, without running: kept in the spool for the next start, or lost, which the
     * exit status says. */
    faas_runtime_free(rt);
    unsigned long long left = atomic_load(&not_run);
    rc = 0;
    if (left > 0 && spool != NULL) {
        fprintf(stderr, "%s: %llu accepted calls not run stay in the spool %s: they run at "
                "the next start\n", prog, left, spool);
    } else if (left > 0) {
        fprintf(stderr, "%s: %llu accepted calls were dropped, not run (no spool)\n", prog,
                left);
        rc = EXIT_DROPPED;
    }
    fprintf(stderr, "%s: stopped\n", prog);
    return rc;
}
