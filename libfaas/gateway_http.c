/*
 * gateway_http.c - the gateway's HTTP server on libmicrohttpd: the listening socket, its
 * threads, connection and body limits, slow-client timeouts (libmicrohttpd's idle timeout,
 * and our header and body deadlines), the drain on stop. What a
 * request means is gateway.c's business: this file only carries bytes to and from
 * faas__gw_begin() / faas__gw_finish().
 */
#include "internal.h"

#include "gateway.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#define DEFAULT_ADDRESS "127.0.0.1:9001"
#define DEFAULT_CONNECTIONS 256u
#define DEFAULT_IDLE_MS 30000u
#define DEFAULT_DRAIN_MS 10000u
#define DEFAULT_HEADER_MS 30000u
#define REAP_EVERY_MS 250u          /* how often the header deadlines are looked at */

/* A connection, for the header deadline. libmicrohttpd's idle timeout restarts with every
 * byte, so a client sending its headers a byte at a time would hold the connection (and
 * with a thread per connection, a thread) for as long as it likes; the reaper shuts down
 * the socket of one whose request line and headers are not in by the deadline. It acts on
 * its own duplicate of the descriptor, closed when libmicrohttpd reports the connection
 * closed: the number is never another socket's while it is in the list. */
typedef struct conn {
    struct conn *next, *prev;       /* in faas_gateway.conns, under conn_lock */
    int          fd;                /* our dup of the connection's socket */
    uint64_t     since;             /* faas__now() when it began waiting for headers */
    bool         waiting;           /* between requests, or in a request's headers */
    bool         cut;               /* shut down by the reaper already */
} conn;
#define BODY_CHUNK 65536u           /* the first allocation for a body of unknown size */

struct faas_gateway {
    faas__gw           gw;
    struct MHD_Daemon *d;
    int                port;
    unsigned           drain_ms;
    pthread_mutex_t    lock;        /* protects in_flight; idle's mutex */
    pthread_cond_t     idle;        /* signalled when in_flight drops to 0 */
    unsigned           in_flight;   /* requests whose headers are in, not yet completed */
    uint64_t           header_ns;   /* the header deadline */
    pthread_mutex_t    conn_lock;   /* a leaf: protects conns, conn fields, stopping */
    pthread_cond_t     reap_wake;   /* signalled to stop the reaper */
    conn               conns;       /* the list's head (a sentinel) */
    bool               stopping;
    bool               reaping;     /* the reaper thread was started */
    pthread_t          reaper;
};

/* One request, from its URI to its completion. */
typedef struct request {
    faas__gw_call call;
    char         *target;           /* the request target as sent (not decoded) */
    bool          begun;            /* faas__gw_begin() ran: counted in in_flight */
    bool          reading;          /* the body is being read */
    bool          over;             /* the body went past call.limit: 413 at its end */
    bool          early;            /* resp is the answer, sent on the next call */
    faas__gw_resp resp;
    uint64_t      content_length;
    uint64_t      body_deadline;    /* faas__now() by which the body must be in */
    char         *body;
    size_t        len, cap;
} request;

/* libmicrohttpd's messages, kept for faas_last_error() when the daemon does not start
 * (its other messages, from its own threads, are dropped: the library never prints). */
static _Thread_local char mhd_error[256];

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    vsnprintf(mhd_error, sizeof mhd_error, fmt, ap);
    size_t n = strlen(mhd_error);
    while (n > 0 && (mhd_error[n - 1] == '\n' || mhd_error[n - 1] == ' '))
        mhd_error[--n] = '\0';
}

/* ---- per connection: the header deadline ------------------------------------------------- */

/* CLOCK_REALTIME ms from now, for pthread_cond_timedwait(). */
static struct timespec realtime_in(unsigned ms)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static void on_connection(void *cls, struct MHD_Connection *con, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    faas_gateway *g = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = NULL;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
        conn *c = ci ? calloc(1, sizeof *c) : NULL;
        if (c == NULL)
            return;                 /* out of memory: no header deadline for this one */
        c->fd = fcntl(ci->connect_fd, F_DUPFD_CLOEXEC, 0);
        if (c->fd < 0) {
            free(c);
            return;
        }
        c->since = faas__now(g->gw.rt);
        c->waiting = true;
        pthread_mutex_lock(&g->conn_lock);
        c->next = g->conns.next;
        c->prev = &g->conns;
        c->next->prev = c;
        g->conns.next = c;
        pthread_mutex_unlock(&g->conn_lock);
        *socket_context = c;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        conn *c = *socket_context;
        if (c == NULL)
            return;
        pthread_mutex_lock(&g->conn_lock);
        c->prev->next = c->next;
        c->next->prev = c->prev;
        pthread_mutex_unlock(&g->conn_lock);
        close(c->fd);
        free(c);
        *socket_context = NULL;
    }
}

/* A request's headers are in (waiting = false), or its response went out (true). */
static void set_waiting(faas_gateway *g, struct MHD_Connection *con, bool waiting)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn *c = ci ? ci->socket_context : NULL;
    if (c == NULL)
        return;
    pthread_mutex_lock(&g->conn_lock);
    c->waiting = waiting;
    c->since = faas__now(g->gw.rt);
    pthread_mutex_unlock(&g->conn_lock);
}

static void *reap(void *arg)
{
    faas_gateway *g = arg;
    pthread_mutex_lock(&g->conn_lock);
    while (!g->stopping) {
        uint64_t now = faas__now(g->gw.rt);
        for (conn *c = g->conns.next; c != &g->conns; c = c->next)
            if (c->waiting && !c->cut && now > c->since && now - c->since > g->header_ns) {
                shutdown(c->fd, SHUT_RDWR);     /* libmicrohttpd sees the end and closes */
                c->cut = true;
            }
        struct timespec until = realtime_in(REAP_EVERY_MS);
        pthread_cond_timedwait(&g->reap_wake, &g->conn_lock, &until);
    }
    pthread_mutex_unlock(&g->conn_lock);
    return NULL;
}

/* ---- per request -------------------------------------------------------------------------- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *con)
{
    (void)cls; (void)con;
    request *r = calloc(1, sizeof *r);
    if (r != NULL) {
        r->target = strdup(uri ? uri : "");
        if (r->target == NULL) {
            free(r);
            r = NULL;
        }
    }
    return r;                       /* NULL: the access handler answers 500 */
}

static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    (void)why;
    faas_gateway *g = cls;
    set_waiting(g, con, true);      /* the next request's headers are due from now */
    request *r = *con_cls;
    if (r == NULL)
        return;
    if (r->begun) {
        pthread_mutex_lock(&g->lock);
        if (--g->in_flight == 0)
            pthread_cond_broadcast(&g->idle);
        pthread_mutex_unlock(&g->lock);
    }
    if (r->early)
        faas__gw_resp_free(&r->resp);   /* the connection ended before it was sent */
    free(r->body);
    free(r->target);
    free(r);
    *con_cls = NULL;
}

static const char *header_of(void *arg, const char *name)
{
    return MHD_lookup_connection_value(arg, MHD_HEADER_KIND, name);
}

static enum MHD_Result send_resp(struct MHD_Connection *con, faas__gw_resp *gr)
{
    struct MHD_Response *resp;
    if (gr->body_owned) {
        resp = MHD_create_response_from_buffer_with_free_callback(gr->len, gr->body, free);
        if (resp != NULL)
            gr->body_owned = false;         /* libmicrohttpd frees it now */
    } else {
        resp = MHD_create_response_from_buffer(gr->len, gr->body, MHD_RESPMEM_PERSISTENT);
    }
    if (resp == NULL) {
        faas__gw_resp_free(gr);
        return MHD_NO;                      /* out of memory: close the connection */
    }
    for (size_t i = 0; i < gr->nheaders; i++)
        MHD_add_response_header(resp, gr->headers[i].name, gr->headers[i].value);
    if (gr->close)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(con, gr->status, resp);
    MHD_destroy_response(resp);
    faas__gw_resp_free(gr);                 /* the headers were copied */
    return ok;
}

static enum MHD_Result fail_500(struct MHD_Connection *con)
{
    static const char body[] = "{\"Type\":\"Service\",\"Message\":\"out of memory\"}";
    struct MHD_Response *resp = MHD_create_response_from_buffer(sizeof body - 1,
                                                                (void *)body,
                                                                MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, "x-amzn-ErrorType", "ServiceException");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(con, 500, resp);
    MHD_destroy_response(resp);
    return ok;
}

static uint64_t content_length(struct MHD_Connection *con)
{
    /* Chunked wins over a Content-Length sent with it (RFC 9112 6.3), as libmicrohttpd
     * reads the body: taking the Content-Length then (say 0) would answer "early" while
     * chunks are still to come, and the connection would drop unanswered. */
    const char *te = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (te != NULL && strcasecmp(te, "chunked") == 0)
        return FAAS__GW_NO_LENGTH;  /* not known yet */
    const char *cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl == NULL)                 /* another coding: not known; else there is no body */
        return te != NULL ? FAAS__GW_NO_LENGTH : 0;
    /* libmicrohttpd has parsed it already (a malformed one never gets here). */
    uint64_t v = 0;
    for (; *cl >= '0' && *cl <= '9'; cl++)
        v = v > (UINT64_MAX - 9) / 10 ? FAAS__GW_NO_LENGTH - 1 : v * 10 + (uint64_t)(*cl - '0');
    return v;
}

/* Append a chunk of the body, growing the buffer geometrically: the buffer follows what
 * arrived, not what Content-Length promised, so idle connections pin no memory. */
static bool append(request *r, const char *data, size_t n)
{
    if (r->len + n > r->cap) {
        size_t want = r->cap ? r->cap : BODY_CHUNK;
        while (want < r->len + n)
            want *= 2;
        if (r->content_length != FAAS__GW_NO_LENGTH && want > r->content_length &&
            r->content_length >= r->len + n)
            want = (size_t)r->content_length;
        if (want > r->call.limit && r->call.limit >= r->len + n)
            want = r->call.limit;
        char *b = realloc(r->body, want + 1);
        if (b == NULL)
            return false;
        r->body = b;
        r->cap = want;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)url; (void)version;
    faas_gateway *g = cls;
    request *r = *con_cls;
    if (r == NULL)
        return fail_500(con);
    faas__gw_req req = {
        .method = method, .target = r->target, .header = header_of, .header_arg = con,
        .content_length = r->content_length,
    };
    faas__gw_resp resp;

    if (!r->begun) {
        r->begun = true;
        set_waiting(g, con, false);
        pthread_mutex_lock(&g->lock);
        g->in_flight++;
        pthread_mutex_unlock(&g->lock);
        r->content_length = req.content_length = content_length(con);
        if (faas__gw_begin(&g->gw, &req, &r->call, &r->resp)) {
            if (r->content_length != 0)
                return send_resp(con, &r->resp);    /* the body stays unread */
            /* No body: answer in the call that follows, so that libmicrohttpd sees the
             * request complete and keeps the connection. */
            r->early = true;
            return MHD_YES;
        }
        r->reading = true;
        r->body_deadline = faas__now(g->gw.rt) +
                           (uint64_t)g->gw.body_timeout_ms * 1000000u;
        return MHD_YES;             /* the body comes in the next calls */
    }
    if (r->early) {
        r->early = false;
        return send_resp(con, &r->resp);
    }
    if (!r->reading)
        return MHD_NO;              /* a response was queued: nothing more to do */
    if (*upload_data_size > 0) {
        /* A slow client: dropped when the body is not in by its deadline. */
        if (faas__now(g->gw.rt) > r->body_deadline)
            return MHD_NO;
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->over || r->len + n > r->call.limit) {
            r->over = true;         /* a chunked body: discard the rest, 413 at the end */
            return MHD_YES;
        }
        return append(r, upload_data, n) ? MHD_YES : fail_500(con);
    }
    r->reading = false;
    if (r->over)
        faas__gw_too_large(&g->gw, &r->call, FAAS__GW_NO_LENGTH, &resp);
    else {
        req.body = r->body ? r->body : "";
        req.len = r->len;
        faas__gw_finish(&g->gw, &r->call, &req, &resp);
    }
    return send_resp(con, &resp);
}

/* ---- the server ----------------------------------------------------------------------------- */

/* HOST:PORT, [V6]:PORT or :PORT (loopback) into a socket address. */
static int parse_address(const char *address, struct sockaddr_storage *ss)
{
    char host[256];
    const char *colon = strrchr(address, ':');
    if (colon == NULL || colon[1] == '\0')
        return faas__fail(FAAS_EINVAL, "faas_gateway_start: address \"%.80s\" is not "
                          "HOST:PORT", address);
    const char *port = colon + 1;
    size_t hl = (size_t)(colon - address);
    if (hl >= sizeof host)
        return faas__fail(FAAS_EINVAL, "faas_gateway_start: host name too long");
    memcpy(host, address, hl);
    host[hl] = '\0';
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    for (const char *p = port; *p; p++)
        if (*p < '0' || *p > '9')
            return faas__fail(FAAS_EINVAL, "faas_gateway_start: port \"%.20s\" is not a "
                              "number", port);
    if (strtoul(port, NULL, 10) > 65535)
        return faas__fail(FAAS_EINVAL, "faas_gateway_start: port %.20s is out of range",
                          port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    int rc = getaddrinfo(host[0] ? host : "127.0.0.1", port, &hints, &res);
    if (rc != 0 || res == NULL)
        return faas__fail(FAAS_EINVAL, "faas_gateway_start: %.80s: %s", address,
                          rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return FAAS_OK;
}

/* What faas_gateway_start() made, once no thread uses it. */
static void gateway_free(faas_gateway *g)
{
    faas__gw_free(&g->gw);
    pthread_cond_destroy(&g->reap_wake);
    pthread_mutex_destroy(&g->conn_lock);
    pthread_cond_destroy(&g->idle);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

int faas_gateway_start(faas_runtime *rt, const char *address,
                       const faas_gateway_options *opts, faas_gateway **out)
{
    if (out != NULL)
        *out = NULL;
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_gateway_start: runtime is NULL");
    if (out == NULL)
        return faas__fail(FAAS_EINVAL, "faas_gateway_start: out is NULL");
    if (atomic_load(&rt->closing))
        return faas__fail(FAAS_ESHUTDOWN, "faas_gateway_start: the runtime is shutting down");
    struct sockaddr_storage ss;
    int rc = parse_address(address ? address : DEFAULT_ADDRESS, &ss);
    if (rc != FAAS_OK)
        return rc;
    faas_gateway_options o;
    if (opts != NULL)
        o = *opts;
    else
        memset(&o, 0, sizeof o);

    faas_gateway *g = calloc(1, sizeof *g);
    if (g == NULL)
        return faas__fail(FAAS_ENOMEM, "faas_gateway_start: out of memory");
    rc = faas__gw_init(&g->gw, rt, &o);
    if (rc != FAAS_OK) {
        free(g);
        return rc;
    }
    g->drain_ms = o.drain_timeout_ms ? o.drain_timeout_ms : DEFAULT_DRAIN_MS;
    g->header_ns = (uint64_t)(o.header_timeout_ms ? o.header_timeout_ms : DEFAULT_HEADER_MS) *
                   1000000u;
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->idle, NULL);
    pthread_mutex_init(&g->conn_lock, NULL);
    pthread_cond_init(&g->reap_wake, NULL);
    g->conns.next = g->conns.prev = &g->conns;

    unsigned idle_ms = o.idle_timeout_ms ? o.idle_timeout_ms : DEFAULT_IDLE_MS;
    /* A synchronous call runs on the thread that read its request. With a thread per
     * connection (the default) a long call holds up only its own connection, and wrk
     * measured the same throughput as a pool with the best p99 (tests/bench/README.md).
     * A pool of N epoll threads serves many connections per thread instead: a long
     * call then stalls the other connections of its thread. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    flags |= o.threads ? MHD_USE_EPOLL : MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    mhd_error[0] = '\0';
    g->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, g,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, g,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, g,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, g,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)(o.max_connections ? o.max_connections
                                                                  : DEFAULT_CONNECTIONS),
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)((idle_ms + 999) / 1000),
        MHD_OPTION_THREAD_POOL_SIZE, o.threads > 1 ? o.threads : 0u,
        MHD_OPTION_END);
    if (g->d == NULL) {
        rc = faas__fail(FAAS_EINVAL, "faas_gateway_start: cannot listen on %.80s: %s",
                        address ? address : DEFAULT_ADDRESS,
                        mhd_error[0] ? mhd_error : "libmicrohttpd did not start");
        gateway_free(g);
        return rc;
    }
    /* Without the reaper the server still works, only without the header deadline. */
    g->reaping = pthread_create(&g->reaper, NULL, reap, g) == 0;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(g->d, MHD_DAEMON_INFO_BIND_PORT);
    g->port = info ? (int)info->port : 0;
    *out = g;
    return FAAS_OK;
}

int faas_gateway_port(const faas_gateway *gw)
{
    if (gw == NULL)
        return faas__fail(FAAS_EINVAL, "faas_gateway_port: gateway is NULL");
    return gw->port;
}

void faas_gateway_stop(faas_gateway *g)
{
    if (g == NULL)
        return;
    /* No new connection; responses from now on close theirs; requests in progress get
     * drain_ms to finish, then libmicrohttpd closes whatever is left. */
    atomic_store(&g->gw.draining, true);
    MHD_socket listener = MHD_quiesce_daemon(g->d);
    struct timespec until = realtime_in(g->drain_ms);
    pthread_mutex_lock(&g->lock);
    while (g->in_flight > 0)
        if (pthread_cond_timedwait(&g->idle, &g->lock, &until) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&g->lock);
    MHD_stop_daemon(g->d);          /* every connection closed: the list is empty */
    if (listener != MHD_INVALID_SOCKET)
        close(listener);            /* ours once quiesced, closed after the threads end */
    if (g->reaping) {
        pthread_mutex_lock(&g->conn_lock);
        g->stopping = true;
        pthread_cond_signal(&g->reap_wake);
        pthread_mutex_unlock(&g->conn_lock);
        pthread_join(g->reaper, NULL);
    }
    gateway_free(g);
}
