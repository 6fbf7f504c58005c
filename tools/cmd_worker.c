/*
 * cmd_worker.c - `faas worker --nats URL [--concurrency N] [FUNCTIONS-FILE]
 * [--module NAME=PATH:SYMBOL...]`: a NATS JetStream worker process. It registers the
 * functions of the file (faas-functions(5)) and of the --module options, attaches as a
 * worker, prints one "ready" line, and runs calls until SIGINT or SIGTERM; then it
 * finishes the calls it fetched, prints its counters and exits 0.
 */
#include <faas.h>

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "functions_file.h"
#include "tool.h"

#define MODULES_MAX 64

static void worker_usage(void)
{
    fprintf(stderr,
            "usage: %s worker --nats URL [--concurrency N] FUNCTIONS-FILE\n"
            "       %s worker --nats URL --module NAME=PATH:SYMBOL [--module ...]\n"
            "                   [--concurrency N] [--memory MB] [--timeout MS] "
            "[--retries N]\n"
            "                   [--stream NAME] [--subject-prefix P] [--durable-prefix P]\n"
            "See faas(1).\n", prog, prog);
}

/* NAME=PATH:SYMBOL, split in place; the symbol is after the last colon. */
static int split_module(char *spec, char **name, char **path, char **symbol)
{
    char *eq = strchr(spec, '=');
    char *colon = strrchr(spec, ':');
    if (eq == NULL || colon == NULL || colon < eq || eq == spec || colon == eq + 1 ||
        colon[1] == '\0')
        return -1;
    *eq = '\0';
    *colon = '\0';
    *name = spec;
    *path = eq + 1;
    *symbol = colon + 1;
    return 0;
}

int cmd_worker(int argc, char **argv)
{
    const char *url = NULL, *shown = NULL, *file = NULL;
    char *modules[MODULES_MAX];
    size_t nmodules = 0;
    unsigned concurrency = 0;
    faas_config cfg;
    faas_config_init(&cfg);
    faas_nats_options no;
    memset(&no, 0, sizeof no);
    no.role = FAAS_NATS_WORKER;
    no.name = "faas worker";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-' && file == NULL) {
            file = a;
            continue;
        }
        if (v == NULL) {
            worker_usage();
            return 2;
        }
        i++;
        if (strcmp(a, "--nats") == 0) {
            if ((url = keep_secret(argv[i], false)) == NULL)
                return die(1, "out of memory");
            shown = argv[i];                    /* wiped: what may be printed */
        } else if (strcmp(a, "--module") == 0) {
            if (nmodules == MODULES_MAX)
                return die(2, "at most %d --module options", MODULES_MAX);
            modules[nmodules++] = argv[i];
        } else if (strcmp(a, "--concurrency") == 0) {
            if (parse_unsigned(v, &concurrency) != 0 || concurrency == 0)
                return die(2, "--concurrency wants a positive number, not \"%s\"", v);
        } else if (strcmp(a, "--memory") == 0) {
            if (parse_unsigned(v, &cfg.memory_mb) != 0)
                return die(2, "--memory wants a number of MB, not \"%s\"", v);
        } else if (strcmp(a, "--timeout") == 0) {
            if (parse_unsigned(v, &cfg.timeout_ms) != 0)
                return die(2, "--timeout wants a number of ms, not \"%s\"", v);
        } else if (strcmp(a, "--retries") == 0) {
            if (parse_unsigned(v, &cfg.max_retries) != 0)
                return die(2, "--retries wants a number, not \"%s\"", v);
        } else if (strcmp(a, "--stream") == 0) {
            no.stream = v;
        } else if (strcmp(a, "--subject-prefix") == 0) {
            no.subject_prefix = v;
        } else if (strcmp(a, "--durable-prefix") == 0) {
            no.durable_prefix = v;
        } else {
            worker_usage();
            return 2;
        }
    }
    if (url == NULL || (nmodules == 0 && file == NULL)) {
        worker_usage();
        return 2;
    }
    ff_file f;
    memset(&f, 0, sizeof f);
    if (file != NULL) {
        int rc = ff_load_or_report(file, &f);
        if (rc != 0)
            return rc;
    }

    /* SIGINT and SIGTERM are taken by sigwait() below: blocked before any thread starts,
     * so that none of the library's threads receives them. */
    sigset_t stop;
    block_stop_signals(&stop);

    faas_options opts;
    memset(&opts, 0, sizeof opts);
    opts.workers = concurrency;
    /* Calls arrive at the network's pace: a worker thread that polls for them before it
     * sleeps only takes the CPU from the client's threads and the server. */
    opts.idle_spin_us = -1;
    faas_runtime *rt;
    if (faas_runtime_new(&rt, &opts) != FAAS_OK) {
        ff_free(&f);
        return die(1, "%s", faas_last_error());
    }
    /* A worker runs calls: the schedules and watches of the file are its producer's. */
    f.no_sources = 1;
    if (file != NULL && ff_register(rt, &f, file) > 0) {
        ff_print_errors(&f);
        ff_free(&f);
        faas_runtime_free(rt);
        return 1;
    }
    size_t nfns = nmodules + f.n;
    ff_free(&f);
    for (size_t i = 0; i < nmodules; i++) {
        char *name, *path, *symbol;
        if (split_module(modules[i], &name, &path, &symbol) != 0) {
            faas_runtime_free(rt);
            return die(2, "--module wants NAME=PATH:SYMBOL, not \"%s\"", modules[i]);
        }
        char resolved[PATH_MAX];
        /* dlopen() searches the library path for a name without a slash: a file here wins. */
        if (strchr(path, '/') == NULL && access(path, F_OK) == 0)
            snprintf(resolved, sizeof resolved, "./%s", path);
        else
            snprintf(resolved, sizeof resolved, "%s", path);
        if (faas_register_module(rt, name, resolved, symbol, &cfg) != FAAS_OK) {
            fprintf(stderr, "%s: %s\n", prog, faas_last_error());
            faas_runtime_free(rt);
            return 2;
        }
    }
    if (faas_nats_attach(rt, url, &no) != FAAS_OK) {
        fprintf(stderr, "%s: %s\n", prog, faas_last_error());
        faas_runtime_free(rt);
        return 1;
    }
    printf("faas worker %ld: ready: %zu function%s from %s\n", (long)getpid(), nfns,
           nfns == 1 ? "" : "s", shown);
    fflush(stdout);

    int sig = 0;
    sigwait(&stop, &sig);
    faas_nats_stats st;
    faas_nats_stats_get(rt, &st);
    faas_runtime_free(rt);              /* detaches: the fetched calls run first */
    printf("faas worker %ld: stopped by signal %d: fetched %llu, redelivered %llu, "
           "acked %llu, naked %llu, dead letters %llu, in-progress %llu, reconnects %llu\n",
           (long)getpid(), sig, (unsigned long long)st.fetched,
           (unsigned long long)st.redelivered, (unsigned long long)st.acked,
           (unsigned long long)st.naked, (unsigned long long)st.dead_letters,
           (unsigned long long)st.in_progress, (unsigned long long)st.reconnects);
    return 0;
}
