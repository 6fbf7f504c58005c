/*
 * cmd_serve.c - `faas serve FUNCTIONS-FILE`: register the functions of a functions file
 * (functions_file.c) and serve the AWS Lambda Invoke API for them over HTTP until SIGINT
 * or SIGTERM, then drain. `faas serve --check FILE` only validates the file. With
 * --nats URL the runtime is a NATS producer: Event calls go to the stream, for workers.
 */
#include <faas.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "functions_file.h"
#include "tool.h"

#define DRAIN_MS 10000u             /* how long queued Event calls get to finish */

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
            "                [--header-timeout MS] [--nats URL] [--log] FILE\n"
            "       %s serve --check FILE\n"
            "FILE lists the functions (faas-functions(5)); ADDR defaults to 127.0.0.1:9001;\n"
            "TOKEN defaults to $FAAS_GATEWAY_TOKEN. See faas(1).\n", prog, prog);
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
        faas_options o = { .manual = 1 };
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
    if (!bad)
        printf("%s: %zu function%s, no error\n", path, f.n, f.n == 1 ? "" : "s");
    ff_free(&f);
    return bad ? 1 : 0;
}

int cmd_serve(int argc, char **argv)
{
    const char *listen = "127.0.0.1:9001", *token = getenv("FAAS_GATEWAY_TOKEN");
    const char *file = NULL, *nats = NULL;
    int only_check = 0, show_log = 0;
    unsigned threads = 0, max_conns = 0, per_address = 0, header_ms = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--check") == 0) {
            only_check = 1;
        } else if (strcmp(argv[i], "--log") == 0) {
            show_log = 1;
        } else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen = argv[++i];
        } else if (strcmp(argv[i], "--nats") == 0 && i + 1 < argc) {
            nats = argv[++i];
        } else if (strcmp(argv[i], "--token") == 0 && i + 1 < argc) {
            token = argv[++i];
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

    ff_file f;
    int rc = ff_load_or_report(file, &f);
    if (rc != 0)
        return rc;
    /* Every thread the runtime and the gateway start inherits this mask, so the signals
     * reach only sigwait() below: no handler runs at an arbitrary point. */
    sigset_t stop;
    block_stop_signals(&stop);

    faas_options o = {0};
    if (show_log)
        o.log = print_log;
    faas_runtime *rt;
    if (faas_runtime_new(&rt, &o) != FAAS_OK) {
        ff_free(&f);
        return die(1, "%s", faas_last_error());
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
        faas_nats_options no = { .role = FAAS_NATS_PRODUCER, .publish_all = nremote == 0,
                                 .name = "faas serve" };
        if (faas_nats_attach(rt, nats, &no) != FAAS_OK) {
            rc = die(1, "%s", faas_last_error());
            faas_runtime_free(rt);
            return rc;
        }
    }

    faas_gateway_options go = { .token = token, .threads = threads,
                                .max_connections = max_conns,
                                .max_connections_per_address = per_address,
                                .header_timeout_ms = header_ms };
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

    int sig = 0;
    while (sigwait(&stop, &sig) != 0)
        ;
    fprintf(stderr, "%s: %s: draining\n", prog, sig == SIGINT ? "SIGINT" : "SIGTERM");
    faas_gateway_stop(gw);              /* requests in progress finish */
    rc = faas_drain(rt, DRAIN_MS);      /* so do accepted Event calls */
    if (rc != FAAS_OK)
        fprintf(stderr, "%s: %s; the calls still queued are cancelled\n", prog,
                faas_last_error());
    faas_runtime_free(rt);
    fprintf(stderr, "%s: stopped\n", prog);
    return 0;
}
