/*
 * bench_process.c - process instances (faas_register_process) against the same bootstrap
 * run bare, side by side in one run:
 *   cold:  faas_invoke()'s first call of a new function (spawn + INIT + the call, through
 *          the pool and the runtime's Runtime API server) vs posix_spawn() of the same
 *          bootstrap against a minimal libmicrohttpd Runtime API stub here, until its first
 *          response arrives;
 *   warm:  a faas_invoke() round trip on the warm instance vs one event through the stub to
 *          a bootstrap kept running, and vs a bare loopback HTTP request/response of the
 *          same sizes on a kept-alive connection (a C client and server here, no runtime);
 *   memory: the PSS of a warm instance's process tree (/proc/PID/smaps_rollup) for the
 *          bash bootstrap and for Node (tests/runtime/node/bootstrap.js, and aws-lambda-ric
 *          when tests/npm has it built), as instances per GiB.
 *   the C bootstrap (tests/runtime/c/bootstrap, built by make check): its cold start
 *          against posix_spawn of it under the stub, and its warm round trip against the
 *          same bootstrap under the stub and the bare HTTP exchange, interleaved, with its
 *          PSS: libfaas's own overhead, no interpreter in the way; back to back (the next
 *          call offered as soon as the last returned) and isolated (300 us apart: the
 *          runtime is back in its next when the call is timed), and the host process's
 *          CPU time per call.
 * Medians of N (default 20) runs. Usage: bench_process SRCDIR/tests/runtime [N [c]]
 * (a third argument "c": the C bootstrap's part only). BENCH_JOURNAL_DIR, when set, gives
 * the C bootstrap's runtime a journal there (each instance then hides it in a mount
 * namespace of its own: what that costs a cold start).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* posix_spawn_file_actions_addclosefrom_np */
#endif
#include "bench.h"

#include <faas.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/socket.h>
#include <dirent.h>
#include <sys/wait.h>

#include <microhttpd.h>

extern char **environ;

/* ---- the bare stub: one pending event at a time, the response signalled ---------------- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static unsigned offered, taken, answered;
static uintptr_t gen;   /* the live stub daemon's number (its cls): an older daemon's
                           connection (a killed bootstrap's next, even one MHD reads late)
                           never takes an event */

static enum MHD_Result stub(void *cls, struct MHD_Connection *con, const char *url,
                            const char *method, const char *version, const char *data,
                            size_t *size, void **con_cls)
{
    (void)version; (void)data; (void)method;
    uintptr_t mine = (uintptr_t)cls;
    if (*con_cls == NULL) {
        *con_cls = (void *)1;
        return MHD_YES;
    }
    if (*size > 0) {
        *size = 0;
        return MHD_YES;
    }
    struct MHD_Response *r;
    unsigned code = 202;
    if (strstr(url, "/next") != NULL) {
        pthread_mutex_lock(&lock);
        while (offered == taken && mine == gen)
            pthread_cond_wait(&cond, &lock);
        if (mine != gen) {
            pthread_mutex_unlock(&lock);
            return MHD_NO;              /* its bootstrap was killed: not for a new one */
        }
        taken++;
        pthread_mutex_unlock(&lock);
        static const char ev[] = "{\"text\":\"Hello\"}";
        r = MHD_create_response_from_buffer(sizeof ev - 1, (void *)ev, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Lambda-Runtime-Aws-Request-Id",
                                "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
        MHD_add_response_header(r, "Lambda-Runtime-Deadline-Ms", "1542409706888");
        code = 200;
    } else {
        pthread_mutex_lock(&lock);
        answered++;
        pthread_cond_broadcast(&cond);
        pthread_mutex_unlock(&lock);
        static const char ok[] = "{\"status\":\"OK\"}";
        r = MHD_create_response_from_buffer(sizeof ok - 1, (void *)ok, MHD_RESPMEM_PERSISTENT);
    }
    enum MHD_Result rc = MHD_queue_response(con, code, r);
    MHD_destroy_response(r);
    return rc;
}

/* Offer one event and wait for its answer. */
static void stub_round(void)
{
    pthread_mutex_lock(&lock);
    unsigned want = answered + 1;
    offered++;
    pthread_cond_broadcast(&cond);
    while (answered < want)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
}

/* A stub daemon on 127.0.0.1 (its port in *port), the live one from now on. */
static struct MHD_Daemon *stub_start(unsigned *port)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    pthread_mutex_lock(&lock);
    uintptr_t g = ++gen;
    pthread_mutex_unlock(&lock);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL,
        0, NULL, NULL, stub, (void *)g, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_END);
    const union MHD_DaemonInfo *info = d ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_LISTEN_FD)
                                         : NULL;
    struct sockaddr_in b;
    socklen_t bl = sizeof b;
    if (info == NULL || getsockname(info->listen_fd, (struct sockaddr *)&b, &bl) != 0)
        exit(1);
    *port = ntohs(b.sin_port);
    return d;
}

/* Kill a bare bootstrap's group and stop its stub daemon (a next left pending ends). */
static void bare_kill(pid_t pid, struct MHD_Daemon *d)
{
    kill(-pid, SIGKILL);
    waitpid(pid, NULL, 0);
    pthread_mutex_lock(&lock);
    gen++;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    MHD_stop_daemon(d);
}

/* LD_LIBRARY_PATH for spawn_bare: unset, or (lambda_ldpath) Lambda's full list for the cwd
 * DIR, unpruned (process.c keeps only its directories that exist): every exec then searches
 * those directories (and their glibc-hwcaps subdirectories) for each library first. */
static bool lambda_ldpath;

static pid_t spawn_bare(const char *command, char *const *argv, const char *dir,
                        const char *handler, unsigned port)
{
    char ld[3000];
    snprintf(ld, sizeof ld, "LD_LIBRARY_PATH=/lib64:/usr/lib64:%s:%s/lib:%s:%s/lib:/opt/lib",
             dir, dir, dir, dir);
    char api[64], root[600], tmp[600], hd[200];
    snprintf(api, sizeof api, "AWS_LAMBDA_RUNTIME_API=127.0.0.1:%u", port);
    snprintf(root, sizeof root, "LAMBDA_TASK_ROOT=%s", dir);
    snprintf(tmp, sizeof tmp, "TMPDIR=%s", "/tmp");
    snprintf(hd, sizeof hd, "_HANDLER=%s", handler);
    char path[4096];
    snprintf(path, sizeof path, "PATH=%s", getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    char *env[] = { api, root, tmp, path, hd, lambda_ldpath ? ld : NULL, NULL };
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);  /* not the bare sockets' ends */
    pid_t pid;
    if (posix_spawn(&pid, command, &fa, &at, argv, env) != 0)
        exit(1);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return pid;
}

/* ---- a bare kept-alive HTTP exchange: the floor of a warm round trip -------------------- */

static const char bare_req[] =
    "POST /2018-06-01/runtime/invocation/x/response HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    "Content-Length: 16\r\n\r\n{\"text\":\"Hello\"}";
static const char bare_resp[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 36\r\nContent-Type: application/json\r\n\r\n"
    "Echoing request: '{\"text\":\"Hello\"}'";

/* Read one whole message of exactly n bytes (the peer's are fixed). */
static bool read_n(int fd, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

static void *bare_server(void *arg)
{
    int lfd = *(int *)arg;
    int fd = accept(lfd, NULL, NULL);
    char buf[512];
    while (fd >= 0 && read_n(fd, buf, sizeof bare_req - 1))
        if (write(fd, bare_resp, sizeof bare_resp - 1) < 0)
            break;
    if (fd >= 0)
        close(fd);
    return NULL;
}

typedef struct bare_conn {
    int       lfd, fd;
    pthread_t t;
} bare_conn;

static void bare_open(bare_conn *b)
{
    b->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (bind(b->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(b->lfd, 1) != 0 ||
        getsockname(b->lfd, (struct sockaddr *)&sa, &sl) != 0)
        exit(1);
    pthread_create(&b->t, NULL, bare_server, &b->lfd);
    b->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(b->fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        exit(1);
}

/* One request/response round trip (us) on the kept-alive loopback connection. */
static double bare_round(bare_conn *b)
{
    char buf[512];
    uint64_t t0 = bench_now_ns();
    if (write(b->fd, bare_req, sizeof bare_req - 1) < 0 ||
        !read_n(b->fd, buf, sizeof bare_resp - 1))
        exit(1);
    return (double)(bench_now_ns() - t0) / 1e3;
}

static void bare_close(bare_conn *b)
{
    close(b->fd);
    pthread_join(b->t, NULL);
    close(b->lfd);
}

/* N request/response round trips (us each) on one kept-alive loopback connection. */
static void bare_http(double *out, size_t n)
{
    bare_conn b;
    bare_open(&b);
    for (size_t i = 0; i < n; i++)
        out[i] = bare_round(&b);
    bare_close(&b);
}

/* ---- memory: the PSS of a process group ------------------------------------------------- */

typedef struct tree {
    pid_t  parent;        /* find the child of this process ... */
    pid_t  pgid;          /* ... or sum this group's PSS */
    pid_t  child;
    long   pss_kb, rss_kb;
    int    procs;
} tree;

static void tree_visit(tree *t)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        char path[300], buf[1024];
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *fp = fopen(path, "r");
        if (fp == NULL)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, fp);
        fclose(fp);
        buf[len] = '\0';
        char *rp = strrchr(buf, ')');
        int ppid, pgrp;
        char st;
        if (rp == NULL || sscanf(rp + 1, " %c %d %d", &st, &ppid, &pgrp) != 3)
            continue;
        if (t->pgid == 0 && ppid == t->parent && st != 'Z')
            t->child = atoi(e->d_name);
        if (t->pgid != 0 && pgrp == t->pgid) {
            t->procs++;
            snprintf(path, sizeof path, "/proc/%s/smaps_rollup", e->d_name);
            fp = fopen(path, "r");
            while (fp != NULL && fgets(buf, sizeof buf, fp) != NULL) {
                long kb;
                if (sscanf(buf, "Pss: %ld kB", &kb) == 1)
                    t->pss_kb += kb;
                else if (sscanf(buf, "Rss: %ld kB", &kb) == 1)
                    t->rss_kb += kb;
            }
            if (fp != NULL)
                fclose(fp);
        }
    }
    if (d != NULL)
        closedir(d);
}

/* The comm of pid into out ("" if gone). */
static void comm_of(pid_t pid, char *out, size_t n)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    FILE *fp = fopen(path, "r");
    out[0] = '\0';
    if (fp != NULL && fgets(out, (int)n, fp) != NULL)
        out[strcspn(out, "\n")] = '\0';
    if (fp != NULL)
        fclose(fp);
}

/* The process tree of the only process function instance that is warm now: the group of
 * the host's child, or, when that child is the runtime's spawner (faas-spawner), the
 * largest group among the spawner's children (an instance's init and its runtime; the
 * spare init waiting for the next cold start is a group of one). The spawner itself is
 * shared by all of a runtime's instances: not counted. */
static tree instance_tree(void)
{
    tree t = { getpid(), 0, 0, 0, 0, 0 };
    tree_visit(&t);
    char comm[32];
    comm_of(t.child, comm, sizeof comm);
    if (t.child != 0 && strcmp(comm, "faas-spawner") == 0) {
        tree best = t;
        best.procs = 0;
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d != NULL && (e = readdir(d)) != NULL) {
            pid_t pid = (pid_t)atoi(e->d_name);
            char c[32];
            if (pid <= 0)
                continue;
            comm_of(pid, c, sizeof c);
            if (strcmp(c, "faas-init") != 0)
                continue;
            tree g = { 0, pid, pid, 0, 0, 0 };
            tree_visit(&g);
            if (g.procs > best.procs)
                best = g;
        }
        if (d != NULL)
            closedir(d);
        return best;
    }
    if (t.child != 0) {
        t.pgid = t.child;
        tree_visit(&t);
    }
    return t;
}

/* Register a function running argv in cwd; report its warm round trip (median of n, and
 * its ratio to the bare HTTP exchange's median) and its warm instance's PSS. */
static void warm_and_memory(faas_runtime *rt, const char *what, const char *command,
                            const char **argv, const char *handler, const char *cwd,
                            size_t n, double bare_us)
{
    faas_process_config pc = FAAS_PROCESS_CONFIG_INIT;
    const char *env[] = { "TMPDIR=/tmp", NULL };
    pc.command = command;
    pc.argv = argv;
    pc.handler = handler;
    pc.environment = env;
    pc.cwd = cwd;
    static const char ev[] = "{\"text\":\"Hello\"}";
    faas_response res;
    if (faas_register_process(rt, "mem", &pc, NULL) != FAAS_OK ||
        faas_invoke(rt, "mem", ev, sizeof ev - 1, &res) != FAAS_OK) {
        printf("  %-28s (did not run)\n", what);
        faas_unregister(rt, "mem");
        return;
    }
    faas_response_free(&res);
    double *warm = calloc(n, sizeof *warm);
    for (size_t i = 0; i < n; i++) {
        uint64_t t0 = bench_now_ns();
        faas_invoke(rt, "mem", ev, sizeof ev - 1, &res);
        warm[i] = (double)(bench_now_ns() - t0) / 1e3;
        faas_response_free(&res);
    }
    tree t = instance_tree();
    long kb = t.pss_kb;
    printf("  %-26s warm %8.1f us (%.0fx bare HTTP)  %d procs, PSS %5.1f MiB (RSS %5.1f)"
           "  %5.0f instances/GiB\n", what, bench_median(warm, n),
           bench_median(warm, n) / bare_us, t.procs, (double)kb / 1024,
           (double)t.rss_kb / 1024, kb > 0 ? 1024.0 * 1024.0 / (double)kb : 0.0);
    free(warm);
    faas_unregister(rt, "mem");
}

/* ---- the Runtime API's own floor: the C bootstrap against raw sockets ------------------- */

/* One thread is both the caller and the server, with no HTTP library: it writes the event
 * as the response to the pending next, reads the POST (the answer: one exchange), then
 * writes the 202 and reads the next GET (the protocol's second exchange). What a host that
 * did the Runtime API's I/O on the invoking thread itself could reach. */
typedef struct raw_api {
    int    lfd, fd;
    pid_t  pid;
    char   buf[8192];
    size_t have;
} raw_api;

/* Read one request (head and Content-Length body) off the connection. */
static bool raw_request(raw_api *r)
{
    for (;;) {
        r->buf[r->have] = '\0';
        char *end = strstr(r->buf, "\r\n\r\n");
        if (end != NULL) {
            size_t head = (size_t)(end - r->buf) + 4, body = 0;
            for (char *l = strstr(r->buf, "\r\n"); l != NULL && l < end;
                 l = strstr(l + 2, "\r\n"))
                if (strncasecmp(l + 2, "Content-Length:", 15) == 0)
                    body = (size_t)strtoul(l + 17, NULL, 10);
            if (head + body > sizeof r->buf - 1)
                return false;
            if (r->have >= head + body) {
                memmove(r->buf, r->buf + head + body, r->have - head - body);
                r->have -= head + body;
                return true;
            }
        }
        if (r->have == sizeof r->buf - 1)
            return false;
        ssize_t n = read(r->fd, r->buf + r->have, sizeof r->buf - 1 - r->have);
        if (n <= 0)
            return false;
        r->have += (size_t)n;
    }
}

static void raw_open(raw_api *r, const char *cboot, const char *dir)
{
    memset(r, 0, sizeof *r);
    r->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (bind(r->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(r->lfd, 1) != 0 ||
        getsockname(r->lfd, (struct sockaddr *)&sa, &sl) != 0)
        exit(1);
    char *cargv[] = { (char *)"bootstrap", NULL };
    r->pid = spawn_bare(cboot, cargv, dir, "echo", ntohs(sa.sin_port));
    r->fd = accept(r->lfd, NULL, NULL);
    int one = 1;
    setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (r->fd < 0 || !raw_request(r))     /* its first next */
        exit(1);
}

/* One call: *answer_us until the POST is in, *cycle_us until the next GET is in. */
static void raw_call(raw_api *r, double *answer_us, double *cycle_us)
{
    static const char event[] =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        "Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\n"
        "Lambda-Runtime-Deadline-Ms: 1542409706888\r\n"
        "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:000000000000:"
        "function:cwarm\r\n"
        "Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;"
        "Parent=9a9197af755a6419;Sampled=0\r\n"
        "Content-Length: 16\r\n\r\n{\"text\":\"Hello\"}";
    static const char accepted[] =
        "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n"
        "\r\n{\"status\":\"OK\"}";
    uint64_t t0 = bench_now_ns();
    if (write(r->fd, event, sizeof event - 1) < 0 || !raw_request(r))
        exit(1);
    *answer_us = (double)(bench_now_ns() - t0) / 1e3;
    if (write(r->fd, accepted, sizeof accepted - 1) < 0 || !raw_request(r))
        exit(1);
    *cycle_us = (double)(bench_now_ns() - t0) / 1e3;
}

static void raw_close(raw_api *r)
{
    kill(-r->pid, SIGKILL);
    waitpid(r->pid, NULL, 0);
    close(r->fd);
    close(r->lfd);
}

/* ---- the C bootstrap (tests/runtime/c/bootstrap): libfaas's own overhead ---------------- */

/* Where make built it: next to this program's build directory (libtool may run us from
 * tests/bench/.libs). */
static bool find_cboot(char *out, size_t n)
{
    char self[4096];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k <= 0)
        return false;
    self[k] = '\0';
    for (int up = 0; up < 3; up++) {
        char *slash = strrchr(self, '/');
        if (slash == NULL)
            return false;
        *slash = '\0';
        snprintf(out, n, "%s/runtime/c/bootstrap", self);
        if (access(out, X_OK) == 0)
            return true;
        snprintf(out, n, "%s/tests/runtime/c/bootstrap", self);
        if (access(out, X_OK) == 0)
            return true;
    }
    return false;
}

static double cpu_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double quant(const double *v, size_t n, double q)
{
    double *c = malloc(n * sizeof *c);
    memcpy(c, v, n * sizeof *c);
    double r = bench_quantile(c, n, q);
    free(c);
    return r;
}

/* Cold start, warm round trip and memory of a process function running the C bootstrap,
 * side by side with the same bootstrap under the stub and the bare HTTP exchange;
 * warm samples interleaved in blocks so that the machine's load falls on all three alike. */
static void c_runtime(const char *cboot, const char *dir, size_t n)
{
    double *cold = calloc(n, sizeof *cold), *cold_bare = calloc(n, sizeof *cold_bare);
    double *init = calloc(n, sizeof *init), *cold_ld = calloc(n, sizeof *cold_ld);
    faas_runtime *rt;
    faas_options o;
    memset(&o, 0, sizeof o);
    o.journal_dir = getenv("BENCH_JOURNAL_DIR");
    if (faas_runtime_new(&rt, &o) != FAAS_OK)
        exit(1);
    faas_process_config pc = FAAS_PROCESS_CONFIG_INIT;
    pc.command = cboot;
    pc.handler = "echo";
    pc.cwd = dir;
    static const char ev[] = "{\"text\":\"Hello\"}";
    faas_response res;
    char *cargv[] = { (char *)"bootstrap", NULL };
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "ccold%zu", i);
        if (faas_register_process(rt, name, &pc, NULL) != FAAS_OK)
            exit(1);
        uint64_t t0 = bench_now_ns();
        if (faas_invoke(rt, name, ev, sizeof ev - 1, &res) != FAAS_OK)
            exit(1);
        cold[i] = (double)(bench_now_ns() - t0) / 1e3;
        init[i] = (double)res.record.init_ns / 1e3;
        faas_response_free(&res);
        faas_unregister(rt, name);

        unsigned port;
        struct MHD_Daemon *d = stub_start(&port);
        t0 = bench_now_ns();
        pid_t pid = spawn_bare(cboot, cargv, dir, "echo", port);
        stub_round();
        cold_bare[i] = (double)(bench_now_ns() - t0) / 1e3;
        bare_kill(pid, d);

        d = stub_start(&port);          /* the same, with Lambda's LD_LIBRARY_PATH */
        lambda_ldpath = true;
        t0 = bench_now_ns();
        pid = spawn_bare(cboot, cargv, dir, "echo", port);
        stub_round();
        cold_ld[i] = (double)(bench_now_ns() - t0) / 1e3;
        lambda_ldpath = false;
        bare_kill(pid, d);
    }

    /* warm: one instance, one bootstrap under the stub, one bare connection */
    size_t m = n * 100 < 2000 ? 2000 : n * 100, block = 50;
    double *wf = calloc(m, sizeof *wf), *ws = calloc(m, sizeof *ws), *wh = calloc(m, sizeof *wh);
    double *wa = calloc(m, sizeof *wa), *wc = calloc(m, sizeof *wc), junk;
    double *wfi = calloc(m, sizeof *wfi), *wsi = calloc(m, sizeof *wsi);
    double *whi = calloc(m, sizeof *whi);
    /* Isolated calls: each after a pause (bench spacing, not synchronisation) long enough
     * for the protocol's second exchange (the 202 and the runtime's next GET, ~15 us) to
     * be over, so the runtime is already waiting in its next when the call is timed: what
     * a caller that does not call back to back sees. */
    const struct timespec gap = { 0, 300000 };
    if (faas_register_process(rt, "cwarm", &pc, NULL) != FAAS_OK ||
        faas_invoke(rt, "cwarm", ev, sizeof ev - 1, &res) != FAAS_OK)
        exit(1);
    faas_response_free(&res);
    unsigned port;
    struct MHD_Daemon *d = stub_start(&port);
    pid_t pid = spawn_bare(cboot, cargv, dir, "echo", port);
    stub_round();
    bare_conn b;
    bare_open(&b);
    raw_api raw;
    raw_open(&raw, cboot, dir);
    for (size_t i = 0; i < 200; i++) {  /* warm-up of all four */
        faas_invoke(rt, "cwarm", ev, sizeof ev - 1, &res);
        faas_response_free(&res);
        stub_round();
        bare_round(&b);
        raw_call(&raw, &junk, &junk);
    }
    /* The host process's CPU time (every thread of it: the caller's, the MHD connection
     * thread's) per back-to-back call, faas blocks and stub blocks apart: less at the
     * mercy of the machine's load than the wall time. */
    double cpu_f = 0, cpu_s = 0;
    for (size_t i = 0; i < m; i += block) {
        double c0 = cpu_now_us();
        for (size_t k = i; k < i + block && k < m; k++) {
            uint64_t t0 = bench_now_ns();
            faas_invoke(rt, "cwarm", ev, sizeof ev - 1, &res);
            wf[k] = (double)(bench_now_ns() - t0) / 1e3;
            if (res.status != FAAS_OK || res.len != sizeof ev - 1)
                exit(1);
            faas_response_free(&res);
        }
        double c1 = cpu_now_us();
        for (size_t k = i; k < i + block && k < m; k++) {
            uint64_t t0 = bench_now_ns();
            stub_round();
            ws[k] = (double)(bench_now_ns() - t0) / 1e3;
        }
        cpu_f += c1 - c0;
        cpu_s += cpu_now_us() - c1;
        for (size_t k = i; k < i + block && k < m; k++)
            wh[k] = bare_round(&b);
        for (size_t k = i; k < i + block && k < m; k++)
            raw_call(&raw, &wa[k], &wc[k]);
        for (size_t k = i; k < i + block && k < m; k++) {
            nanosleep(&gap, NULL);
            uint64_t t0 = bench_now_ns();
            faas_invoke(rt, "cwarm", ev, sizeof ev - 1, &res);
            wfi[k] = (double)(bench_now_ns() - t0) / 1e3;
            faas_response_free(&res);
        }
        for (size_t k = i; k < i + block && k < m; k++) {
            nanosleep(&gap, NULL);
            uint64_t t0 = bench_now_ns();
            stub_round();
            wsi[k] = (double)(bench_now_ns() - t0) / 1e3;
        }
        for (size_t k = i; k < i + block && k < m; k++) {
            nanosleep(&gap, NULL);
            whi[k] = bare_round(&b);
        }
    }
    bare_close(&b);
    raw_close(&raw);
    bare_kill(pid, d);
    tree t = instance_tree();
    faas_unregister(rt, "cwarm");
    faas_runtime_free(rt);

    double f50 = quant(wf, m, 0.5), s50 = quant(ws, m, 0.5), h50 = quant(wh, m, 0.5);
    printf("C bootstrap (tests/runtime/c/bootstrap), cold medians of %zu, warm of %zu "
           "interleaved in blocks of %zu:\n", n, m, block);
    printf("  cold start, faas_invoke first call      %8.0f us  (record init_ns %.0f us)\n",
           bench_median(cold, n), bench_median(init, n));
    printf("  cold start, bare posix_spawn + 1st req  %8.0f us  ratio %.2f\n",
           bench_median(cold_bare, n), bench_median(cold, n) / bench_median(cold_bare, n));
    printf("  ... bare given Lambda's full LD_LIBRARY_PATH %3.0f us  ratio %.2f\n",
           bench_median(cold_ld, n), bench_median(cold, n) / bench_median(cold_ld, n));
    printf("  warm round trip, faas_invoke            %8.1f us  (p10 %.1f, p90 %.1f)\n", f50,
           quant(wf, m, 0.1), quant(wf, m, 0.9));
    printf("  warm round trip, same bootstrap, stub   %8.1f us  (p10 %.1f, p90 %.1f)  "
           "faas/stub %.2f\n", s50, quant(ws, m, 0.1), quant(ws, m, 0.9), f50 / s50);
    printf("  warm round trip, bare kept-alive HTTP   %8.1f us  (p10 %.1f, p90 %.1f)  "
           "faas/bare %.2f (target <= 1.5)\n", h50, quant(wh, m, 0.1), quant(wh, m, 0.9),
           f50 / h50);
    double fi50 = quant(wfi, m, 0.5), si50 = quant(wsi, m, 0.5), hi50 = quant(whi, m, 0.5);
    printf("  host process CPU per back-to-back call (all its threads): faas %.1f us, stub "
           "%.1f us\n", cpu_f / (double)m, cpu_s / (double)m);
    printf("  isolated warm call (300 us apart, the runtime back in its next):\n");
    printf("    faas_invoke                           %8.1f us  (p10 %.1f, p90 %.1f)  "
           "faas/bare %.2f, faas/answer floor %.2f\n", fi50, quant(wfi, m, 0.1),
           quant(wfi, m, 0.9), fi50 / hi50, fi50 / quant(wa, m, 0.5));
    printf("    same bootstrap, stub                  %8.1f us  (p10 %.1f, p90 %.1f)  "
           "faas/stub %.2f\n", si50, quant(wsi, m, 0.1), quant(wsi, m, 0.9), fi50 / si50);
    printf("    bare kept-alive HTTP                  %8.1f us  (p10 %.1f, p90 %.1f)\n", hi50,
           quant(whi, m, 0.1), quant(whi, m, 0.9));
    printf("  Runtime API floor, raw sockets, caller = server thread: event -> answer %.1f us "
           "(%.2fx bare), whole cycle (+ 202, next GET) %.1f us (%.2fx bare); faas/cycle %.2f\n",
           quant(wa, m, 0.5), quant(wa, m, 0.5) / h50, quant(wc, m, 0.5),
           quant(wc, m, 0.5) / h50, f50 / quant(wc, m, 0.5));
    printf("  warm instance: %d procs, PSS %.2f MiB (RSS %.2f)  %.0f instances/GiB "
           "(RSS: %.0f)\n", t.procs, (double)t.pss_kb / 1024, (double)t.rss_kb / 1024,
           t.pss_kb > 0 ? 1024.0 * 1024.0 / (double)t.pss_kb : 0.0,
           t.rss_kb > 0 ? 1024.0 * 1024.0 / (double)t.rss_kb : 0.0);
    free(cold); free(cold_bare); free(init); free(cold_ld); free(wf); free(ws); free(wh);
    free(wa); free(wc); free(wfi); free(wsi); free(whi);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s SRCDIR/tests/runtime [N [c]]\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    const char *dir = argv[1];
    size_t n = argc > 2 ? (size_t)atoi(argv[2]) : 20;
    bool only_c = argc > 3 && strcmp(argv[3], "c") == 0;  /* the C bootstrap only */
    char bootstrap[4096];
    snprintf(bootstrap, sizeof bootstrap, "%s/bootstrap", dir);
    double *cold = calloc(n, sizeof *cold), *cold_bare = calloc(n, sizeof *cold_bare);
    double *init = calloc(n, sizeof *init);
    double *warm = calloc(n, sizeof *warm), *warm_bare = calloc(n, sizeof *warm_bare);
    double *warm_http = calloc(n, sizeof *warm_http);

    /* libfaas */
    faas_runtime *rt;
    if (faas_runtime_new(&rt, NULL) != FAAS_OK)
        return 1;
    const char *args[] = { "bash", bootstrap, NULL };
    const char *env[] = { "TMPDIR=/tmp", NULL };
    faas_process_config pc = FAAS_PROCESS_CONFIG_INIT;
    pc.command = "/bin/bash";
    pc.argv = args;
    pc.handler = "function.handler";
    pc.environment = env;
    pc.cwd = dir;
    static const char ev[] = "{\"text\":\"Hello\"}";
    int devnull = open("/dev/null", O_WRONLY), saved = dup(2);
    dup2(devnull, 2);                   /* the handler logs each event to stderr */
    for (size_t i = 0; !only_c && i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "cold%zu", i);
        if (faas_register_process(rt, name, &pc, NULL) != FAAS_OK)
            return 1;
        faas_response res;
        uint64_t t0 = bench_now_ns();
        int rc = faas_invoke(rt, name, ev, sizeof ev - 1, &res);
        cold[i] = (double)(bench_now_ns() - t0) / 1e6;
        init[i] = (double)res.record.init_ns / 1e6;
        if (rc != FAAS_OK)
            return 1;
        faas_response_free(&res);
        if (i == 0)
            for (size_t k = 0; k < n; k++) {
                t0 = bench_now_ns();
                faas_invoke(rt, name, ev, sizeof ev - 1, &res);
                warm[k] = (double)(bench_now_ns() - t0) / 1e3;
                faas_response_free(&res);
            }
        faas_unregister(rt, name);
    }
    faas_runtime_free(rt);

    /* bare: the stub and posix_spawn */
    for (size_t i = 0; !only_c && i < n; i++) {
        unsigned port;
        struct MHD_Daemon *d = stub_start(&port);
        uint64_t t0 = bench_now_ns();
        char *bash_argv0[] = { (char *)"bash", bootstrap, NULL };
        pid_t pid = spawn_bare("/bin/bash", bash_argv0, dir, "function.handler", port);
        stub_round();
        cold_bare[i] = (double)(bench_now_ns() - t0) / 1e6;
        if (i == 0)
            for (size_t k = 0; k < n; k++) {
                t0 = bench_now_ns();
                stub_round();
                warm_bare[k] = (double)(bench_now_ns() - t0) / 1e3;
            }
        bare_kill(pid, d);
    }
    bare_http(warm_http, n);
    char cboot[4200];
    bool have_c = find_cboot(cboot, sizeof cboot);
    if (have_c)             /* stderr still /dev/null: instances closed mid-POST say so */
        c_runtime(cboot, dir, n);
    else
        printf("C bootstrap: tests/runtime/c/bootstrap not built (make check builds it)\n");
    dup2(saved, 2);
    if (only_c)
        return 0;

    printf("process instances, AWS's tutorial bootstrap (bash + curl), medians of %zu:\n", n);
    printf("  cold start, faas_invoke first call      %8.2f ms  (record init_ns %.2f ms)\n",
           bench_median(cold, n), bench_median(init, n));
    printf("  cold start, bare posix_spawn + 1st req  %8.2f ms  ratio %.2f\n",
           bench_median(cold_bare, n), bench_median(cold, n) / bench_median(cold_bare, n));
    printf("  warm round trip, faas_invoke            %8.0f us\n", bench_median(warm, n));
    printf("  warm round trip, bare stub              %8.0f us  ratio %.2f\n",
           bench_median(warm_bare, n), bench_median(warm, n) / bench_median(warm_bare, n));
    printf("  warm round trip, bare kept-alive HTTP   %8.1f us  ratio %.2f\n",
           bench_median(warm_http, n), bench_median(warm, n) / bench_median(warm_http, n));

    /* memory of a warm instance, bash and Node */
    if (faas_runtime_new(&rt, NULL) != FAAS_OK)
        return 1;
    char node_dir[4200], node_boot[4300], ric[4300];
    snprintf(node_dir, sizeof node_dir, "%s/node", dir);
    snprintf(node_boot, sizeof node_boot, "%s/bootstrap.js", node_dir);
    snprintf(ric, sizeof ric, "%s/../npm/node_modules/aws-lambda-ric/bin/index.mjs", dir);
    dup2(devnull, 2);                   /* the instances' output */
    const char *bash_argv[] = { "bash", bootstrap, NULL };
    const char *node_argv[] = { "env", "node", node_boot, "index.handler", NULL };
    const char *ric_argv[] = { "env", "node", ric, "index.handler", NULL };
    double bare = bench_median(warm_http, n);
    printf("warm instances (process tree PSS from /proc/PID/smaps_rollup):\n");
    warm_and_memory(rt, "bash bootstrap (tutorial)", "/bin/bash", bash_argv,
                    "function.handler", dir, n, bare);
    warm_and_memory(rt, "node bootstrap.js", "/usr/bin/env", node_argv, "index.handler",
                    node_dir, n, bare);
    if (access(ric, R_OK) == 0)
        warm_and_memory(rt, "node aws-lambda-ric", "/usr/bin/env", ric_argv, "index.handler",
                        node_dir, n, bare);
    else
        printf("  node aws-lambda-ric: not installed in tests/npm\n");
    faas_runtime_free(rt);
    dup2(saved, 2);
    return 0;
}
