/*
 * bench_gateway.c - the HTTP gateway under wrk, side by side in one run with a minimal
 * libmicrohttpd server that reads the same POST and answers a fixed body: requests/s and
 * p99 latency of each, medians of several reps, and the ratio. All servers live in this
 * process; wrk (Debian's) runs as a child, keep-alive on, the same script for all, the
 * targets interleaved within each rep.
 *
 *   bench_gateway [--quick] [--reps N] [--seconds S] [--connections C] [--wrk-threads T]
 *                 [--threads N] [--modes LIST]
 *   bench_gateway --requests K --only gateway|bare [--modes MODE]
 *
 * The second form starts one server and sends it K requests, one at a time on one
 * keep-alive connection, from a thread of this process, and exits: what
 * callgrind_gateway.sh counts the instructions of (user space, both sides; the client's
 * share is the same for both servers).
 *
 * --modes picks the thread models measured, each for the gateway and for the bare
 * server: perconn (a thread per connection: the gateway's default), pool (epoll, a pool
 * of --threads threads; default: the CPUs), epoll1 (one epoll thread). Default:
 * perconn,pool.
 */
#include <faas.h>

#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <microhttpd.h>

#include "bench.h"

static const char body[] = "{\"message\":\"hello from the benchmark\",\"n\":42}";

/* ---- the minimal server: read the body, answer a fixed one ---------------------------- */

static enum MHD_Result bare_handler(void *cls, struct MHD_Connection *con, const char *url,
                                    const char *method, const char *version,
                                    const char *upload, size_t *upload_size, void **req)
{
    (void)cls; (void)url; (void)method; (void)version; (void)upload;
    static int marker;
    if (*req == NULL) {
        *req = &marker;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        *upload_size = 0;
        return MHD_YES;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(sizeof body - 1, (void *)body,
                                                             MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ok = MHD_queue_response(con, 200, r);
    MHD_destroy_response(r);
    return ok;
}

static struct MHD_Daemon *bare_start(const char *mode, unsigned threads, int *port)
{
    struct MHD_Daemon *d;
    if (strcmp(mode, "perconn") == 0)
        d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                             MHD_USE_POLL, 0, NULL, NULL, bare_handler, NULL,
                             MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_END);
    else if (strcmp(mode, "epoll1") == 0)
        d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD, 0, NULL, NULL, bare_handler, NULL,
                             MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_END);
    else
        d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD, 0, NULL, NULL, bare_handler, NULL,
                             MHD_OPTION_THREAD_POOL_SIZE, threads,
                             MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_END);
    if (d != NULL)
        *port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
    return d;
}

/* ---- the gateway: an echo function -------------------------------------------------------- */

static int echo(faas_ctx *ctx, const void *payload, size_t len)
{
    return faas_reply(ctx, payload, len);
}

/* ---- wrk -------------------------------------------------------------------------------- */

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

static int run_wrk(const char *url, const char *script, unsigned secs, unsigned conns,
                   unsigned wthreads, result *out)
{
    char d[32], c[32], t[32];
    snprintf(d, sizeof d, "%us", secs);
    snprintf(c, sizeof c, "%u", conns);
    snprintf(t, sizeof t, "%u", wthreads);
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execlp("wrk", "wrk", "-t", t, "-c", c, "-d", d, "--latency", "-s", script, url,
               (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[512];
    out->rps = out->p99_ms = 0;
    int errors = 0;
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

/* ---- one client, K requests in a row (for callgrind) ------------------------------------- */

static int client_loop(int port, const char *path, unsigned k)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return -1;
    char req[512], buf[4096];
    int rn = snprintf(req, sizeof req, "POST %s HTTP/1.1\r\nHost: bench\r\n"
                      "Content-Length: %zu\r\n\r\n%s", path, sizeof body - 1, body);
    for (unsigned i = 0; i < k; i++) {
        if (write(fd, req, (size_t)rn) != rn)
            return -1;
        size_t n = 0, need = 0;
        for (;;) {
            ssize_t r = read(fd, buf + n, sizeof buf - 1 - n);
            if (r <= 0)
                return -1;
            n += (size_t)r;
            buf[n] = '\0';
            char *end = strstr(buf, "\r\n\r\n");
            if (end == NULL)
                continue;
            char *cl = strstr(buf, "Content-Length: ");
            need = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 16, NULL, 10) : 0);
            if (n >= need)
                break;
        }
        if (strncmp(buf, "HTTP/1.1 200", 12) != 0)
            return -1;
    }
    close(fd);
    return 0;
}

/* ---- main ------------------------------------------------------------------------------------ */

#define MAX_TARGETS 6
#define MAX_REPS 32

int main(int argc, char **argv)
{
    unsigned reps = 5, secs = 5, conns = 32, wthreads = 1, threads = 0, requests = 0;
    const char *modes = "perconn,pool", *only = NULL;
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
        } else if (strcmp(argv[i], "--wrk-threads") == 0 && i + 1 < argc) {
            wthreads = (unsigned)atoi(argv[++i]);
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            threads = (unsigned)atoi(argv[++i]);
        } else if (strcmp(argv[i], "--modes") == 0 && i + 1 < argc) {
            modes = argv[++i];
        } else if (strcmp(argv[i], "--requests") == 0 && i + 1 < argc) {
            requests = (unsigned)atoi(argv[++i]);
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--quick] [--reps N] [--seconds S] [--connections C] "
                    "[--wrk-threads T] [--threads N] [--modes pool,epoll1,perconn]\n"
                    "       %s --requests K --only gateway|bare [--modes MODE]\n", argv[0],
                    argv[0]);
            return 2;
        }
    }
    if (reps < 1 || reps > MAX_REPS || secs < 1 || conns < 1 || wthreads < 1) {
        fprintf(stderr, "bench_gateway: bad numbers\n");
        return 2;
    }
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)n : 1;
    }
    signal(SIGPIPE, SIG_IGN);
    if (requests > 0) {                 /* the callgrind form: one server, one client */
        char mode[32];
        snprintf(mode, sizeof mode, "%.*s", (int)strcspn(modes, ","), modes);
        int port = 0, rc;
        if (only != NULL && strcmp(only, "gateway") == 0) {
            faas_runtime *rt;
            faas_gateway *gw;
            faas_gateway_options go = { .threads = strcmp(mode, "pool") == 0 ? threads
                                                   : strcmp(mode, "epoll1") == 0 ? 1 : 0 };
            if (faas_runtime_new(&rt, NULL) != FAAS_OK ||
                faas_register(rt, "echo", echo, NULL) != FAAS_OK ||
                faas_gateway_start(rt, "127.0.0.1:0", &go, &gw) != FAAS_OK) {
                fprintf(stderr, "bench_gateway: %s\n", faas_last_error());
                return 1;
            }
            rc = client_loop(faas_gateway_port(gw), "/2015-03-31/functions/echo/invocations",
                             requests);
            faas_gateway_stop(gw);
            faas_runtime_free(rt);
        } else if (only != NULL && strcmp(only, "bare") == 0) {
            struct MHD_Daemon *d = bare_start(mode, threads, &port);
            if (d == NULL)
                return 1;
            rc = client_loop(port, "/", requests);
            MHD_stop_daemon(d);
        } else {
            fprintf(stderr, "bench_gateway: --requests needs --only gateway or bare\n");
            return 2;
        }
        if (rc != 0)
            fprintf(stderr, "bench_gateway: a request failed\n");
        return rc == 0 ? 0 : 1;
    }

    char script[] = "/tmp/bench_gateway_XXXXXX.lua";
    int sfd = mkstemps(script, 4);
    if (sfd < 0) {
        perror("mkstemps");
        return 1;
    }
    dprintf(sfd, "wrk.method = \"POST\"\nwrk.body = '%s'\n", body);
    close(sfd);

    const char *names[MAX_TARGETS];
    char urls[MAX_TARGETS][128];
    bool is_gateway[MAX_TARGETS] = {0};
    struct MHD_Daemon *bare[MAX_TARGETS] = {0};
    faas_gateway *gws[MAX_TARGETS] = {0};
    static char labels[MAX_TARGETS][64];
    int n = 0;

    faas_runtime *rt;
    if (faas_runtime_new(&rt, NULL) != FAAS_OK || faas_register(rt, "echo", echo, NULL)) {
        fprintf(stderr, "bench_gateway: %s\n", faas_last_error());
        return 1;
    }
    char list[128];
    snprintf(list, sizeof list, "%s", modes);
    for (char *save = NULL, *m = strtok_r(list, ",", &save); m && n + 2 <= MAX_TARGETS;
         m = strtok_r(NULL, ",", &save)) {
        faas_gateway_options go = {0};
        if (strcmp(m, "pool") == 0)
            go.threads = threads;
        else if (strcmp(m, "epoll1") == 0)
            go.threads = 1;
        else if (strcmp(m, "perconn") != 0) {
            fprintf(stderr, "bench_gateway: unknown mode %s\n", m);
            return 2;
        }
        if (faas_gateway_start(rt, "127.0.0.1:0", &go, &gws[n]) != FAAS_OK) {
            fprintf(stderr, "bench_gateway: %s\n", faas_last_error());
            return 1;
        }
        is_gateway[n] = true;
        snprintf(labels[n], sizeof labels[n], "libfaas gateway (echo), %s", m);
        names[n] = labels[n];
        snprintf(urls[n], sizeof urls[n],
                 "http://127.0.0.1:%d/2015-03-31/functions/echo/invocations",
                 faas_gateway_port(gws[n]));
        n++;
        int port;
        bare[n] = bare_start(m, threads, &port);
        if (bare[n] == NULL) {
            fprintf(stderr, "bench_gateway: cannot start the %s server\n", m);
            return 1;
        }
        snprintf(labels[n], sizeof labels[n], "bare libmicrohttpd, %s", m);
        names[n] = labels[n];
        snprintf(urls[n], sizeof urls[n], "http://127.0.0.1:%d/", port);
        n++;
    }

    printf("wrk -t%u -c%u -d%us --latency, POST %zu bytes, keep-alive; %u reps, medians; "
           "servers: %u threads\n", wthreads, conns, secs, sizeof body - 1, reps, threads);
    double rps[MAX_TARGETS][MAX_REPS], p99[MAX_TARGETS][MAX_REPS];
    for (unsigned r = 0; r < reps; r++)
        for (int k = 0; k < n; k++) {           /* interleaved: drift hits all alike */
            result res;
            if (run_wrk(urls[k], script, secs, conns, wthreads, &res) != 0) {
                fprintf(stderr, "bench_gateway: wrk failed against %s\n", names[k]);
                unlink(script);
                return 1;
            }
            rps[k][r] = res.rps;
            p99[k][r] = res.p99_ms;
        }
    unlink(script);

    printf("%-34s %12s %16s %9s %14s\n", "server", "requests/s", "[min-max]", "p99 ms",
           "x best bare");
    double med[MAX_TARGETS], best = 0, best_gw = 0;
    for (int k = 0; k < n; k++) {
        double copy[MAX_REPS];
        memcpy(copy, rps[k], reps * sizeof copy[0]);
        med[k] = bench_quantile(copy, reps, 0.5);
        if (!is_gateway[k] && med[k] > best)
            best = med[k];
        if (is_gateway[k] && med[k] > best_gw)
            best_gw = med[k];
    }
    for (int k = 0; k < n; k++) {
        double lo = 1e18, hi = 0;
        for (unsigned r = 0; r < reps; r++) {
            lo = rps[k][r] < lo ? rps[k][r] : lo;
            hi = rps[k][r] > hi ? rps[k][r] : hi;
        }
        char range[40];
        snprintf(range, sizeof range, "[%.0f-%.0f]", lo, hi);
        printf("%-34s %12.0f %16s %9.3f %14.2f\n", names[k], med[k], range,
               bench_quantile(p99[k], reps, 0.5), best > 0 ? med[k] / best : 0);
    }
    for (int k = 0; k + 1 < n; k += 2)
        printf("ratio, %s: the gateway over the bare server of the same model: %.2fx\n",
               names[k + 1] + strlen("bare libmicrohttpd, "), med[k] / med[k + 1]);
    printf("ratio: the best gateway over the best bare server: %.2fx\n",
           best > 0 ? best_gw / best : 0);

    for (int k = 0; k < n; k++) {
        if (is_gateway[k])
            faas_gateway_stop(gws[k]);
        else
            MHD_stop_daemon(bare[k]);
    }
    faas_runtime_free(rt);
    return 0;
}
