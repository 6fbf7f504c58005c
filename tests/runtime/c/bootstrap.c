/*
 * bootstrap.c - a minimal custom runtime in C: a real Lambda Runtime API client for tests
 * and benchmarks (tests/bench/bench_process.c measures libfaas's own warm overhead with
 * it: no interpreter, no curl, one kept-alive connection).
 *
 * It reads AWS_LAMBDA_RUNTIME_API (host:port), opens one TCP connection (TCP_NODELAY) and
 * loops: GET /2018-06-01/runtime/invocation/next, then POST .../invocation/{id}/response
 * with the event as the answer. The response's Content-Length (or chunked body) and its
 * Lambda-Runtime-Aws-Request-Id header are parsed; a connection the server closes is
 * opened again. _HANDLER picks what it does:
 *   "echo" (or empty)  the answer is the event;
 *   "error"            POST .../invocation/{id}/error, type Handled.Error, the event as the
 *                      errorMessage's subject;
 *   "alloc"            the event is a number N: N MiB are mapped, written and unmapped
 *                      before the echo (a peak of its memory that is gone by the answer);
 *                      or "cN": a child it forks does that, and the answer is
 *                      {"exit":E,"signal":S}, how the child ended (E -1 if by a signal);
 *   "hostile"          the echo, from a runtime that misbehaves between calls: it keeps
 *                      a second connection waiting in its own next (a call may come on
 *                      either: it answers on the one that got it), after each answer it
 *                      sends garbage on a new connection, keeps a request it never
 *                      finishes open (slowloris), and sends every third next only 20 ms
 *                      after the 202;
 *   "flood"            the event is a number N: before its answer, it opens up to N
 *                      more connections to the API, each kept open for good once the API
 *                      has answered a request on it (a runtime that tries to run its host
 *                      out of file descriptors); it stops at the first one not answered
 *                      within a second; the answer is {"opened":K}, K those kept;
 *   "mem"              the event is a pid P: it opens /proc/P/mem for writing (as a
 *                      debugger would, to change P's memory); the answer is
 *                      {"opened":0|1,"errno":E,"uid":U,"self":S}, U its own user id,
 *                      S its pid as the host sees it;
 *   "spoil"            the event is a directory D (the host's journal): it counts what
 *                      it sees there, tries to create D/intruder and to remove every
 *                      entry, and answers {"seen":N,"created":0|1,"removed":R,"errno":E},
 *                      E the create's errno (or opendir's, if it could not list D);
 *   "deface"           the event is "D M": it tries to change the host's files (remount
 *                      / read-write, remove D/victim, make D/new, leave /tmp/M, look
 *                      for /tmp/M.host, open the root cgroup's cgroup.procs, the
 *                      disk of / and /proc/sys/kernel/core_pattern for writing,
 *                      remount in namespaces of its own) and answers
 *                      spoil.h's defaced_json(), an errno each (0: it worked);
 *   "escape"           before its answer, starts a process that leaves the instance's
 *                      process group and session (fork, setsid, fork), closes every
 *                      descriptor and waits for ever; the answer is {"pid":P,"self":S},
 *                      P that process's getpid() (named "faas-escaped"), S the
 *                      runtime's own getpid();
 *   "procs"            the event is a pid: answers {"seen":0|1,"count":N,"self":S},
 *                      whether /proc/PID exists, how many processes /proc shows, and
 *                      its own getpid();
 *   "signal"           the event is a pid: it sends that process SIGUSR1 and answers
 *                      {"rc":R,"errno":E}, kill()'s result;
 *   "fork"             the event is a number N: it forks N children that wait for ever
 *                      (they die with the instance), and answers {"forked":K}, K the
 *                      forks that succeeded;
 *   "steal"            the event is a port: it connects to 127.0.0.1:PORT (another
 *                      instance's Runtime API) and sends GET .../invocation/next there,
 *                      then answers {"sent":1} (or {"sent":0,"errno":E}); a child it
 *                      forks waits on that connection and, given a call, answers it
 *                      "stolen" (a hostile function reading and forging another's calls);
 *   "hoard"            the event is "same" or "other": it opens 4 more connections to
 *                      its endpoint and on each starts a POST .../invocation/ID/response
 *                      of 6 MiB (ID the call's own, or a made-up one) but leaves its
 *                      last byte unsent, keeping them (the host holds what it read of
 *                      them), then answers {"opened":N} on its own connection; any
 *                      other event is echoed;
 *   "lend"             the event is "hold NAME" or "lend NAME": hold listens on the
 *                      abstract Unix socket @NAME, and a child it forks takes one
 *                      descriptor sent there and keeps it for ever; lend sends its fd 3
 *                      (the pipe whose hang-up tells the host its processes are gone)
 *                      there, as one instance of a hostile function may hand it to
 *                      another; answers {"done":1} (or {"done":0,"errno":E});
 *   "once"             the echo, then exit 0 at once, without reading the 202 (a runtime
 *                      that dies right after answering: the next call finds it gone);
 *   anything else      POST /2018-06-01/runtime/init/error (Runtime.HandlerNotFound) and
 *                      exit 1, as a runtime whose handler cannot be loaded does.
 * Exit status 2: no AWS_LAMBDA_RUNTIME_API, or the API could not be reached.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "../../spoil.h"

#define API "/2018-06-01/runtime/"

typedef struct conn {
    char   host[256], port[16];
    int    fd;
    char  *buf;           /* what was read and not consumed: buf[off, end) */
    size_t off, end, cap;
} conn;

typedef struct resp {
    int    status;
    char   rid[128];      /* Lambda-Runtime-Aws-Request-Id, or "" */
    char  *body;          /* malloc'd, NUL-terminated */
    size_t len;
    bool   close;         /* Connection: close */
} resp;

static void die(const char *what)
{
    fprintf(stderr, "bootstrap.c: %s: %s\n", what, errno ? strerror(errno) : "failed");
    exit(2);
}

static bool dial(conn *c)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai;
    if (getaddrinfo(c->host, c->port, &hints, &ai) != 0)
        return false;
    c->fd = -1;
    for (struct addrinfo *a = ai; a != NULL && c->fd < 0; a = a->ai_next) {
        c->fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (c->fd >= 0 && connect(c->fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(c->fd);
            c->fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (c->fd < 0)
        return false;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->off = c->end = 0;
    return true;
}

static void hang_up(conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->off = c->end = 0;
}

/* Read more into the buffer (growing it): false at EOF or on an error. */
static bool fill(conn *c)
{
    if (c->off > 0 && c->off == c->end)
        c->off = c->end = 0;
    if (c->end == c->cap) {
        if (c->off > 0) {
            memmove(c->buf, c->buf + c->off, c->end - c->off);
            c->end -= c->off;
            c->off = 0;
        } else {
            size_t cap = c->cap ? c->cap * 2 : 65536;
            char *b = realloc(c->buf, cap);
            if (b == NULL)
                die("out of memory");
            c->buf = b;
            c->cap = cap;
        }
    }
    for (;;) {
        ssize_t n = read(c->fd, c->buf + c->end, c->cap - c->end);
        if (n > 0) {
            c->end += (size_t)n;
            return true;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return false;
    }
}

/* The next line (without its CRLF) at c->buf + c->off, reading as needed; NULL at EOF. */
static char *line(conn *c, size_t *len)
{
    for (;;) {
        char *s = c->buf + c->off;
        char *nl = c->end > c->off ? memchr(s, '\n', c->end - c->off) : NULL;
        if (nl != NULL) {
            size_t n = (size_t)(nl - s);
            c->off += n + 1;
            if (n > 0 && s[n - 1] == '\r')
                n--;
            s[n] = '\0';
            *len = n;
            return s;
        }
        if (!fill(c))
            return NULL;
    }
}

/* Append n body bytes to r. */
static bool take(conn *c, resp *r, size_t n)
{
    char *b = realloc(r->body, r->len + n + 1);
    if (b == NULL)
        die("out of memory");
    r->body = b;
    while (n > 0) {
        if (c->off == c->end && !fill(c))
            return false;
        size_t k = c->end - c->off < n ? c->end - c->off : n;
        memcpy(r->body + r->len, c->buf + c->off, k);
        c->off += k;
        r->len += k;
        n -= k;
    }
    r->body[r->len] = '\0';
    return true;
}

static bool chunked_body(conn *c, resp *r)
{
    for (;;) {
        size_t ll;
        char *l = line(c, &ll);
        if (l == NULL)
            return false;
        char *end;
        unsigned long long n = strtoull(l, &end, 16);
        if (end == l)
            return false;
        if (n == 0)
            break;
        if (!take(c, r, (size_t)n) || line(c, &ll) == NULL)
            return false;
    }
    for (;;) {                          /* trailers, up to the empty line */
        size_t ll;
        if (line(c, &ll) == NULL)
            return false;
        if (ll == 0)
            return true;
    }
}

/* One response: status line, headers, body. False if the connection failed. */
static bool read_resp(conn *c, resp *r)
{
    memset(r, 0, sizeof *r);
    size_t ll;
    char *l = line(c, &ll);
    if (l == NULL || strncmp(l, "HTTP/1.", 7) != 0 || ll < 12)
        return false;
    r->status = atoi(l + 9);
    r->close = l[7] == '0';             /* HTTP/1.0: closes unless told otherwise */
    long long clen = -1;
    bool chunked = false;
    while ((l = line(c, &ll)) != NULL && ll > 0) {
        char *colon = strchr(l, ':');
        if (colon == NULL)
            continue;
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t vl = strlen(v);
        while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            v[--vl] = '\0';
        if (strcasecmp(l, "Content-Length") == 0) {
            char *end;
            clen = strtoll(v, &end, 10);
            if (end == v || *end != '\0' || clen < 0)
                return false;
        } else if (strcasecmp(l, "Transfer-Encoding") == 0) {
            chunked = strcasestr(v, "chunked") != NULL;
        } else if (strcasecmp(l, "Lambda-Runtime-Aws-Request-Id") == 0) {
            snprintf(r->rid, sizeof r->rid, "%s", v);
        } else if (strcasecmp(l, "Connection") == 0) {
            r->close = strcasecmp(v, "close") == 0;
        }
    }
    if (l == NULL)
        return false;
    if (chunked)
        return chunked_body(c, r);
    return take(c, r, clen > 0 ? (size_t)clen : 0);
}

/* Write one request (one writev, as long as it takes): the bytes sent, total if all. */
static size_t send_req(conn *c, const char *method, const char *path, const char *extra,
                       const char *body, size_t len, size_t *total)
{
    char head[1024];
    int hl = snprintf(head, sizeof head,
                      "%s " API "%s HTTP/1.1\r\nHost: %s:%s\r\n%s%s"
                      "Content-Length: %zu\r\n\r\n",
                      method, path, c->host, c->port, extra ? extra : "",
                      body ? "Content-Type: application/json\r\n" : "", len);
    *total = 1;
    if (hl < 0 || (size_t)hl >= sizeof head)
        return 0;
    struct iovec iov[2] = { { head, (size_t)hl }, { (void *)body, len } };
    size_t sent = 0;
    *total = (size_t)hl + len;
    while (sent < *total) {
        ssize_t n = writev(c->fd, iov, body ? 2 : 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        sent += (size_t)n;
        for (int i = 0; i < 2; i++) {   /* advance the vectors past what was sent */
            size_t k = iov[i].iov_len < (size_t)n ? iov[i].iov_len : (size_t)n;
            iov[i].iov_base = (char *)iov[i].iov_base + k;
            iov[i].iov_len -= k;
            n -= (ssize_t)k;
        }
    }
    return sent;
}

/* Send one request and read its response; reconnect once if the kept-alive connection
 * had been closed by the server before the request went out. */
static bool exchange(conn *c, const char *method, const char *path, const char *extra,
                     const char *body, size_t len, resp *r)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (c->fd < 0 && !dial(c))
            return false;
        size_t total, sent = send_req(c, method, path, extra, body, len, &total);
        bool ok = sent == total;
        if (ok && read_resp(c, r)) {
            if (r->close)
                hang_up(c);
            return true;
        }
        free(r->body);
        r->body = NULL;
        hang_up(c);
        if (sent > 0 && attempt == 0 && strcmp(method, "GET") != 0)
            return false;               /* a POST may have arrived: do not send it twice */
    }
    return false;
}

/* Up to N more connections to the API, each kept open once the API has answered a request
 * on it (so each is one the host accepted and holds); stops at the first one the API does
 * not answer within a second (a listener at its connection limit leaves it in the kernel's
 * backlog). The connections it kept: never closed, on purpose. */
static unsigned flood_api(const conn *c, unsigned n)
{
    unsigned kept = 0;
    for (; kept < n; kept++) {
        conn x = { .fd = -1 };
        memcpy(x.host, c->host, sizeof x.host);
        memcpy(x.port, c->port, sizeof x.port);
        if (!dial(&x))
            break;
        struct timeval tv = { .tv_sec = 1 };
        setsockopt(x.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        size_t total;
        resp rr;
        bool ok = send_req(&x, "GET", "flood", NULL, NULL, 0, &total) == total &&
                  read_resp(&x, &rr);
        if (ok)
            free(rr.body);
        free(x.buf);
        if (!ok) {
            close(x.fd);
            break;
        }
    }
    return kept;
}

/* A process out of the runtime's process group and session (fork, setsid, fork: a
 * daemon), holding none of its descriptors, that waits for ever: its getpid() (in the
 * runtime's PID namespace, where there is one), or -1. */
static long escapee(void)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pid_t child = fork();
    if (child == 0) {
        setsid();
        if (fork() == 0) {
            char self[32];
            int n = snprintf(self, sizeof self, "%d", (int)getpid());
            prctl(PR_SET_NAME, "faas-escaped", 0, 0, 0);    /* for the host to find it */
            if (write(p[1], self, (size_t)n) != n)
                _exit(1);
            for (int fd = 0; fd < 1024; fd++)
                close(fd);
            for (;;)
                pause();
        }
        _exit(0);
    }
    close(p[1]);
    char buf[32] = "";
    ssize_t n = child > 0 ? read(p[0], buf, sizeof buf - 1) : -1;
    close(p[0]);
    if (child > 0)
        waitpid(child, NULL, 0);
    return n > 0 ? strtol(buf, NULL, 10) : -1;
}

/* A second connection to the same API (its own buffer). */
static void dial_like(const conn *c, conn *out)
{
    memset(out, 0, sizeof *out);
    memcpy(out->host, c->host, sizeof out->host);
    memcpy(out->port, c->port, sizeof out->port);
    if (!dial(out))
        die("connect");
}

static void send_or_die(conn *c, const char *method, const char *path, const char *body,
                        size_t len)
{
    size_t total;
    if (send_req(c, method, path, NULL, body, len, &total) != total)
        die(path);
}

/* "hostile" (see the top). Dies (exit 2) if an answer is not accepted with a 202: a call
 * handed out twice, or answered after it was over, shows as a dead runtime. */
_Noreturn static void hostile(conn *c)
{
    static const char garbage[] = "NOT HTTP AT ALL\r\n\r\n";
    static const char partial[] = "GET " API "invocation/ne";
    conn x, slow, noise = { .fd = -1 };
    dial_like(c, &x);
    dial_like(c, &slow);
    if (write(slow.fd, partial, sizeof partial - 1) < 0)   /* never finished */
        die("write");
    if (!dial(c))
        die("connect");
    conn *cs[2] = { c, &x };
    for (int i = 0; i < 2; i++)
        send_or_die(cs[i], "GET", "invocation/next", NULL, 0);
    for (unsigned calls = 0;; calls++) {
        conn *got = NULL;
        while (got == NULL) {
            for (int i = 0; i < 2 && got == NULL; i++)
                if (cs[i]->end > cs[i]->off)
                    got = cs[i];            /* already read */
            if (got != NULL)
                break;
            struct pollfd p[2] = { { c->fd, POLLIN, 0 }, { x.fd, POLLIN, 0 } };
            if (poll(p, 2, -1) < 0 && errno != EINTR)
                die("poll");
            got = p[0].revents ? c : p[1].revents ? &x : NULL;
        }
        resp r, a;
        if (!read_resp(got, &r) || r.status != 200 || r.rid[0] == '\0')
            die("next");
        char path[200];
        snprintf(path, sizeof path, "invocation/%s/response", r.rid);
        send_or_die(got, "POST", path, r.body, r.len);
        free(r.body);
        if (!read_resp(got, &a) || a.status != 202) {
            errno = 0;
            die("the answer was not accepted");
        }
        free(a.body);
        if (noise.fd >= 0)
            hang_up(&noise);
        dial_like(c, &noise);               /* left open, its 400 never read */
        if (write(noise.fd, garbage, sizeof garbage - 1) < 0)
            die("write");
        if (calls % 3 == 2) {
            struct timespec ts = { 0, 20 * 1000 * 1000 };
            nanosleep(&ts, NULL);           /* the next comes late */
        }
        send_or_die(got, "GET", "invocation/next", NULL, 0);
    }
}

/* Map and touch mib MiB, then unmap them; false if they could not be mapped. */
static bool touch_mib(unsigned long mib)
{
    size_t n = (size_t)mib << 20;
    void *m = n ? mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                : MAP_FAILED;
    if (m == MAP_FAILED)
        return false;
    memset(m, 1, n);
    munmap(m, n);
    return true;
}

/* The "spoil" handler's answer in *out (malloc'd), its length returned. */
static size_t spoil_answer(const char *dir, char **out)
{
    spoiled r = spoil_dir(dir);
    int n = asprintf(out, "{\"seen\":%u,\"created\":%d,\"removed\":%u,\"errno\":%d}", r.seen,
                     r.created, r.removed, r.err);
    return n > 0 ? (size_t)n : 0;
}

int main(void)
{
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    const char *handler = getenv("_HANDLER");
    if (api == NULL || *api == '\0') {
        errno = 0;
        die("AWS_LAMBDA_RUNTIME_API is not set");
    }
    conn c = { .fd = -1 };
    const char *colon = strrchr(api, ':');
    if (colon == NULL || (size_t)(colon - api) >= sizeof c.host ||
        strlen(colon + 1) >= sizeof c.port) {
        errno = 0;
        die("AWS_LAMBDA_RUNTIME_API is not host:port");
    }
    memcpy(c.host, api, (size_t)(colon - api));
    strcpy(c.port, colon + 1);
    if (handler == NULL)
        handler = "";
    bool fail = strcmp(handler, "error") == 0, alloc = strcmp(handler, "alloc") == 0;
    bool once = strcmp(handler, "once") == 0, flood = strcmp(handler, "flood") == 0;
    bool escape = strcmp(handler, "escape") == 0, sig = strcmp(handler, "signal") == 0;
    bool forks = strcmp(handler, "fork") == 0, mem = strcmp(handler, "mem") == 0;
    bool spoil = strcmp(handler, "spoil") == 0, deface = strcmp(handler, "deface") == 0;
    bool procs = strcmp(handler, "procs") == 0, steal = strcmp(handler, "steal") == 0;
    bool hoard = strcmp(handler, "hoard") == 0, lend = strcmp(handler, "lend") == 0;
    resp r;
    if (strcmp(handler, "hostile") == 0)
        hostile(&c);
    if (!fail && !alloc && !once && !flood && !escape && !sig && !forks && !mem && !spoil &&
        !deface && !procs && !steal && !hoard && !lend &&
        *handler != '\0' &&
        strcmp(handler, "echo") != 0) {
        char body[512];
        int n = snprintf(body, sizeof body,
                         "{\"errorMessage\":\"no handler named %.200s\","
                         "\"errorType\":\"Runtime.HandlerNotFound\"}", handler);
        if (!exchange(&c, "POST", "init/error",
                      "Lambda-Runtime-Function-Error-Type: Runtime.HandlerNotFound\r\n",
                      body, (size_t)n, &r))
            die("POST init/error");
        free(r.body);
        return 1;
    }
    for (;;) {
        if (!exchange(&c, "GET", "invocation/next", NULL, NULL, 0, &r))
            die("GET invocation/next");
        if (r.status != 200 || r.rid[0] == '\0') {
            fprintf(stderr, "bootstrap.c: next: status %d\n", r.status);
            free(r.body);
            return 2;
        }
        char path[200];
        resp a;
        bool ok;
        if (fail) {
            char *msg = NULL;
            int n = asprintf(&msg, "{\"errorMessage\":\"failed on an event of %zu bytes\","
                             "\"errorType\":\"Handled.Error\"}", r.len);
            if (n < 0)
                die("out of memory");
            snprintf(path, sizeof path, "invocation/%s/error", r.rid);
            ok = exchange(&c, "POST", path,
                          "Lambda-Runtime-Function-Error-Type: Handled.Error\r\n",
                          msg, (size_t)n, &a);
            free(msg);
        } else {
            if (alloc && r.body != NULL && r.body[0] == 'c') {
                /* "cN": a child touches N MiB; the answer says how it ended. */
                pid_t kid = fork();
                if (kid == 0)
                    _exit(touch_mib(strtoul(r.body + 1, NULL, 10)) ? 0 : 3);
                int st = 0;
                while (kid > 0 && waitpid(kid, &st, 0) < 0 && errno == EINTR)
                    ;
                free(r.body);
                r.len = (size_t)asprintf(&r.body, "{\"exit\":%d,\"signal\":%d}",
                                         kid > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1,
                                         kid > 0 && WIFSIGNALED(st) ? WTERMSIG(st) : 0);
            } else if (alloc && r.body != NULL) {
                touch_mib(strtoul(r.body, NULL, 10));
            }
            snprintf(path, sizeof path, "invocation/%s/response", r.rid);
            if (flood && r.body != NULL) {
                unsigned n = (unsigned)strtoul(r.body, NULL, 10);
                free(r.body);
                r.len = (size_t)asprintf(&r.body, "{\"opened\":%u}", flood_api(&c, n));
            }
            if (sig && r.body != NULL) {
                pid_t target = (pid_t)strtol(r.body, NULL, 10);
                errno = 0;
                int rc = target > 0 ? kill(target, SIGUSR1) : -1;
                int e = errno;
                free(r.body);
                r.len = (size_t)asprintf(&r.body, "{\"rc\":%d,\"errno\":%d}", rc, e);
            }
            if (mem && r.body != NULL) {
                char file[64];
                snprintf(file, sizeof file, "/proc/%ld/mem", strtol(r.body, NULL, 10));
                errno = 0;
                int fd = open(file, O_RDWR | O_CLOEXEC);
                int e = errno;
                if (fd >= 0)
                    close(fd);
                char self[32] = "";
                if (readlink("/proc/self", self, sizeof self - 1) < 0)
                    self[0] = '\0';
                free(r.body);
                r.len = (size_t)asprintf(&r.body, "{\"opened\":%d,\"errno\":%d,\"uid\":%d,"
                                         "\"self\":%ld}", fd >= 0, fd >= 0 ? 0 : e,
                                         (int)getuid(), strtol(self, NULL, 10));
            }
            if (procs && r.body != NULL) {
                char dir[64];
                snprintf(dir, sizeof dir, "/proc/%ld", strtol(r.body, NULL, 10));
                int seen = access(dir, F_OK) == 0, count = 0;
                DIR *d = opendir("/proc");
                for (struct dirent *de; d != NULL && (de = readdir(d)) != NULL;)
                    count += de->d_name[0] >= '1' && de->d_name[0] <= '9';
                if (d != NULL)
                    closedir(d);
                free(r.body);
                r.len = (size_t)asprintf(&r.body, "{\"seen\":%d,\"count\":%d,\"self\":%d}",
                                         seen, count, (int)getpid());
            }
            if (spoil && r.body != NULL) {
                char *dir = r.body;
                r.body = NULL;
                r.len = spoil_answer(dir, &r.body);
                free(dir);
            }
            if (deface && r.body != NULL) {
                char *dir, *marker;
                defaced d = { EINVAL, EINVAL, EINVAL, EINVAL, 0, EINVAL, EINVAL, EINVAL,
                              EINVAL };
                if (deface_event(r.body, &dir, &marker) == 0)
                    d = deface_dir(dir, marker);
                free(r.body);
                int n = defaced_json(&d, &r.body);
                r.len = n > 0 ? (size_t)n : 0;
            }
            if (hoard && r.body != NULL &&
                (strcmp(r.body, "\"same\"") == 0 || strcmp(r.body, "\"other\"") == 0)) {
                static char junk[1 << 16];
                const size_t big = 6291456;
                char head[400];
                int hl = snprintf(head, sizeof head, "POST " API "invocation/%s/response "
                                  "HTTP/1.1\r\nHost: %s:%s\r\nContent-Length: %zu\r\n\r\n",
                                  strcmp(r.body, "\"same\"") == 0 ? r.rid : "made-up-id",
                                  c.host, c.port, big);
                unsigned opened = 0;
                memset(junk, 'a', sizeof junk);
                for (int i = 0; i < 4; i++) {
                    conn h = { .fd = -1 };
                    memcpy(h.host, c.host, sizeof h.host);
                    memcpy(h.port, c.port, sizeof h.port);
                    if (!dial(&h))
                        break;
                    bool wrote = write(h.fd, head, (size_t)hl) == hl;
                    for (size_t sent = 0; wrote && sent < big - 1;) {
                        size_t k = big - 1 - sent < sizeof junk ? big - 1 - sent : sizeof junk;
                        ssize_t w = write(h.fd, junk, k);
                        wrote = w > 0;
                        sent += wrote ? (size_t)w : 0;
                    }
                    opened += wrote;            /* h.fd kept open: the request unfinished */
                }
                free(r.body);
                r.len = (size_t)asprintf(&r.body, "{\"opened\":%u}", opened);
            }
            if (lend && r.body != NULL && r.len > 6) {
                bool hold = strncmp(r.body + 1, "hold ", 5) == 0;
                struct sockaddr_un un = { .sun_family = AF_UNIX };
                size_t nl = r.len - 7 < sizeof un.sun_path - 2 ? r.len - 7
                                                                 : sizeof un.sun_path - 2;
                memcpy(un.sun_path + 1, r.body + 6, nl);    /* "\"hold NAME\"": NAME */
                socklen_t ul = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + nl);
                int u = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), done = 0, e = 0;
                if (hold && u >= 0 && bind(u, (struct sockaddr *)&un, ul) == 0 &&
                    listen(u, 1) == 0) {
                    done = 1;
                    if (fork() == 0) {
                        int got = accept(u, NULL, NULL);
                        char byte, space[CMSG_SPACE(sizeof(int))];
                        struct iovec iv = { &byte, 1 };
                        struct msghdr m = { .msg_iov = &iv, .msg_iovlen = 1,
                                            .msg_control = space,
                                            .msg_controllen = sizeof space };
                        if (got >= 0)
                            (void)recvmsg(got, &m, 0);      /* the descriptor, kept */
                        for (;;)
                            pause();
                    }
                } else if (!hold && u >= 0 && connect(u, (struct sockaddr *)&un, ul) == 0) {
                    char byte = 'x', space[CMSG_SPACE(sizeof(int))];
                    memset(space, 0, sizeof space);
                    struct iovec iv = { &byte, 1 };
                    struct msghdr m = { .msg_iov = &iv, .msg_iovlen = 1,
                                        .msg_control = space, .msg_controllen = sizeof space };
                    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
                    cm->cmsg_level = SOL_SOCKET;
                    cm->cmsg_type = SCM_RIGHTS;
                    cm->cmsg_len = CMSG_LEN(sizeof(int));
                    int three = 3;
                    memcpy(CMSG_DATA(cm), &three, sizeof three);
                    done = sendmsg(u, &m, 0) == 1;
                }
                e = done ? 0 : errno;
                if (u >= 0)
                    close(u);
                free(r.body);
                r.len = (size_t)asprintf(&r.body, done ? "{\"done\":1}"
                                                       : "{\"done\":0,\"errno\":%d}", e);
            }
            if (steal && r.body != NULL) {
                conn t = { .host = "127.0.0.1", .fd = -1 };
                snprintf(t.port, sizeof t.port, "%.15s", r.body);
                size_t total = 0;
                errno = 0;
                bool sent = dial(&t) &&
                            send_req(&t, "GET", "invocation/next", NULL, NULL, 0, &total) ==
                                total;
                int e = errno;
                if (sent && fork() == 0) {
                    resp x, y;
                    if (read_resp(&t, &x) && x.status == 200 && x.rid[0] != '\0') {
                        char to[200];
                        snprintf(to, sizeof to, "invocation/%s/response", x.rid);
                        if (exchange(&t, "POST", to, NULL, "\"stolen\"", 8, &y))
                            free(y.body);
                    }
                    _exit(0);
                }
                hang_up(&t);
                free(t.buf);
                free(r.body);
                r.len = (size_t)asprintf(&r.body, sent ? "{\"sent\":1}"
                                                       : "{\"sent\":0,\"errno\":%d}", e);
            }
            if (forks && r.body != NULL) {
                unsigned n = (unsigned)strtoul(r.body, NULL, 10), made = 0;
                for (unsigned i = 0; i < n; i++) {
                    pid_t p = fork();
                    if (p == 0) {
                        for (;;)
                            pause();
                    }
                    made += p > 0;
                }
                free(r.body);
                r.len = (size_t)asprintf(&r.body, "{\"forked\":%u}", made);
            }
            if (escape) {
                free(r.body);
                r.len = (size_t)asprintf(&r.body, "{\"pid\":%ld,\"self\":%d}", escapee(),
                                         (int)getpid());
            }
            if (once) {
                send_or_die(&c, "POST", path, r.body, r.len);
                free(r.body);
                free(c.buf);
                return 0;                   /* gone before the 202 */
            }
            ok = exchange(&c, "POST", path, NULL, r.body, r.len, &a);
        }
        free(r.body);
        if (!ok)
            die("POST the answer");
        if (a.status != 202)
            fprintf(stderr, "bootstrap.c: answer: status %d: %s\n", a.status,
                    a.body ? a.body : "");
        free(a.body);
    }
}
