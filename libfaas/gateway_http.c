/*
 * gateway_http.c - the gateway's HTTP server on libmicrohttpd: the listening socket, its
 * threads, connection limits (in all, per client address, and which connection gives way
 * when they are reached), body limits, slow-client timeouts (libmicrohttpd's idle timeout,
 * and our header and body deadlines), strict framing (what could smuggle a request is
 * refused), bodies read and discarded so that an early answer can be read, the drain on
 * stop. What a request means is gateway.c's business: this file only carries bytes to and
 * from faas__gw_begin() / faas__gw_finish().
 */
#include "internal.h"

#include "abi.h"
#include "gateway.h"
#include "peer.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#define DEFAULT_ADDRESS "127.0.0.1:9001"
#define DEFAULT_CONNECTIONS 256u
#define DEFAULT_IDLE_MS 30000u
#define DEFAULT_DRAIN_MS 10000u
#define DEFAULT_HEADER_MS 10000u
#define REAP_EVERY_MS 250u          /* how often the header deadlines are looked at */

/* libmicrohttpd 0.9.77 and later refuse bare LF and folded lines themselves (their client
 * discipline level 1); before, they take both, and framing_error() checks the raw head. */
#if MHD_VERSION >= 0x00097701
# define MHD_DISCIPLINE 1
#else
# define HEAD_LAYOUT 1
#endif

/* A connection, for the header deadline and for choosing which gives way when all slots
 * are taken. libmicrohttpd's idle timeout restarts with every byte, so a client sending
 * its headers a byte at a time would hold the connection (and with a thread per
 * connection, a thread) for as long as it likes; the reaper shuts down the socket of one
 * whose request line and headers are not in by the deadline. It acts on its own duplicate
 * of the descriptor, closed when libmicrohttpd reports the connection closed: the number
 * is never another socket's while it is in the list. */
enum phase {
    WAITING,                        /* for a request's line and headers (between requests too) */
    BODY,                           /* reading a request's body */
    BUSY                            /* running the call, or sending the answer */
};
/* A client address and how many of the connections not cut are its own: the most crowded
 * address gives way first. */
typedef struct peer {
    unsigned char  key[17];         /* the family, then the address (4 or 16 bytes) */
    unsigned       conns;
    UT_hash_handle hh;
} peer;
typedef struct conn {
    struct conn *next, *prev;       /* in faas_gateway.conns, under conn_lock */
    int          fd;                /* our dup of the connection's socket */
    uint64_t     since;             /* faas__now() when its phase began */
    enum phase   phase;
    bool         cut;               /* shut down already (by the reaper, or given way) */
    bool         foreign;           /* a local process of another user (set at its start) */
    peer        *peer;              /* NULL once cut, or when its address is not known */
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
    size_t             max_discard; /* the longest refused body read to its end */
    unsigned           max_conns;   /* connections served at once */
    pthread_mutex_t    conn_lock;   /* a leaf: protects conns, conn fields, live, peers,
                                       stopping */
    unsigned           live;        /* connections in conns not cut */
    peer              *peers;       /* by address, those with a connection not cut */
    pthread_cond_t     reap_wake;   /* signalled to stop the reaper */
    conn               conns;       /* the list's head (a sentinel) */
    bool               stopping;
    bool               reaping;     /* the reaper thread was started */
    pthread_t          reaper;
    atomic_bool        peer_said;   /* "cannot tell a client's user" logged */
};

/* One request, from its URI to its completion. */
typedef struct request {
    faas__gw_call call;
    char         *target;           /* the request target as sent (not decoded) */
    bool          begun;            /* faas__gw_begin() ran: counted in in_flight */
    bool          reading;          /* the body is being read */
    bool          over;             /* the body went past call.limit: 413 at its end */
    bool          early;            /* resp is the answer, sent once the body is in */
    faas__gw_resp resp;
    uint64_t      content_length;
    uint64_t      body_deadline;    /* faas__now() by which the body must be in */
    char         *body;
    size_t        len, cap;
    uint64_t      discarded;        /* body bytes read and thrown away */
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

/* ---- per connection: the header deadline, who gives way ---------------------------------- */

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

/* Requires g->conn_lock. Count c as its address's (NULL: not known). */
static void join_peer(faas_gateway *g, conn *c, const struct sockaddr *sa)
{
    unsigned char key[17] = {0};
    if (sa != NULL && sa->sa_family == AF_INET) {
        key[0] = 4;
        memcpy(key + 1, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
    } else if (sa != NULL && sa->sa_family == AF_INET6) {
        key[0] = 6;
        memcpy(key + 1, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
    } else {
        return;
    }
    peer *p;
    HASH_FIND(hh, g->peers, key, sizeof key, p);
    if (p == NULL) {
        p = calloc(1, sizeof *p);
        if (p == NULL)
            return;                 /* out of memory: counted as an address of its own */
        memcpy(p->key, key, sizeof key);
        HASH_ADD(hh, g->peers, key, sizeof p->key, p);
    }
    p->conns++;
    c->peer = p;
}

/* Requires g->conn_lock. */
static void leave_peer(faas_gateway *g, conn *c)
{
    peer *p = c->peer;
    c->peer = NULL;
    if (p != NULL && --p->conns == 0) {
        HASH_DELETE(hh, g->peers, p);
        free(p);
    }
}

/* Requires g->conn_lock. */
static void cut(faas_gateway *g, conn *c)
{
    shutdown(c->fd, SHUT_RDWR);     /* libmicrohttpd sees the end and closes */
    c->cut = true;
    g->live--;
    leave_peer(g, c);
}

/* Requires g->conn_lock. Is a a better choice than b to give way? The connections of the
 * address that has the most give way first, then those waiting for their headers before
 * those waiting for the rest of their body, then the oldest. */
static bool gives_way_before(const conn *a, const conn *b)
{
    unsigned na = a->peer ? a->peer->conns : 1, nb = b->peer ? b->peer->conns : 1;
    if (na != nb)
        return na > nb;
    if (a->phase != b->phase)
        return a->phase < b->phase;
    return a->since <= b->since;    /* the list runs from the newest: <= keeps the oldest */
}

/* Requires g->conn_lock. All slots are taken and fresh wants one: a connection waiting for
 * its request (for its headers, else for the rest of its body) gives way, chosen by
 * gives_way_before(); one running a call or sending its answer never does. Slow clients
 * (slowloris) hold slots only while nobody else needs them, and a client on an address of
 * its own keeps its connection while an address with more connections has one that can
 * give way. False if none can. */
static bool make_room(faas_gateway *g, conn *fresh)
{
    conn *victim = NULL;
    for (conn *c = g->conns.next; c != &g->conns; c = c->next) {
        if (c == fresh || c->cut || c->phase == BUSY)
            continue;
        if (victim == NULL || gives_way_before(c, victim))
            victim = c;
    }
    if (victim == NULL)
        return false;
    cut(g, victim);
    return true;
}

/* Without a token the gateway serves the processes of its own user (and root's) only:
 * every local process may connect to it, a function's runtime or isolated instance among
 * them (run as nobody by a host run as root), which could otherwise run any function.
 * Is fd's other end a process of this machine run as another user? A loopback client the
 * kernel does not find (closed at once, or bound to a device to hide) is. Where the
 * kernel cannot say (no sock_diag) it is taken as not, and the log says so once; a client
 * of another machine (no such socket here) is not: it reached an address the host chose
 * to listen on. */
static bool foreign_user(faas_gateway *g, int fd)
{
    uint32_t uid;
    int rc = faas__peer_uid(fd, &uid);
    if (rc == 0)
        return uid != 0 && uid != (uint32_t)geteuid();
    if (rc == -ESRCH)
        return true;                    /* a loopback client the kernel will not name */
    if (rc != -ENOENT && !atomic_exchange(&g->peer_said, true)) {
        char line[240];
        snprintf(line, sizeof line, "WARNING gateway: the user of a local client cannot be "
                 "told here (%s): without a token every local process is served",
                 strerror(-rc));
        faas__log_line(g->gw.rt, line);
    }
    return false;
}

/* The verdict foreign_user() gave con's connection when it started; a connection not
 * tracked (out of memory then) is taken as foreign. */
static bool conn_foreign(struct MHD_Connection *con)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    const conn *c = ci ? ci->socket_context : NULL;
    return c == NULL || c->foreign;
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
            return;                 /* out of memory: not tracked (libmicrohttpd's cap holds) */
        c->fd = fcntl(ci->connect_fd, F_DUPFD_CLOEXEC, 0);
        if (c->fd < 0) {
            free(c);
            return;
        }
        c->since = faas__now(g->gw.rt);
        c->phase = WAITING;
        c->foreign = g->gw.token == NULL && foreign_user(g, c->fd);
        const union MHD_ConnectionInfo *ai =
            MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        pthread_mutex_lock(&g->conn_lock);
        c->next = g->conns.next;
        c->prev = &g->conns;
        c->next->prev = c;
        g->conns.next = c;
        g->live++;
        join_peer(g, c, ai ? ai->client_addr : NULL);
        if (g->live > g->max_conns && !make_room(g, c))
            cut(g, c);              /* every slot is busy: this one is refused */
        pthread_mutex_unlock(&g->conn_lock);
        *socket_context = c;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        conn *c = *socket_context;
        if (c == NULL)
            return;
        pthread_mutex_lock(&g->conn_lock);
        c->prev->next = c->next;
        c->next->prev = c->prev;
        if (!c->cut)
            g->live--;
        leave_peer(g, c);
        pthread_mutex_unlock(&g->conn_lock);
        close(c->fd);
        free(c);
        *socket_context = NULL;
    }
}

/* Where a connection's request is: its headers are in (BODY), its answer is being made
 * (BUSY), or its answer went out and the next request is awaited (WAITING). */
static void set_phase(faas_gateway *g, struct MHD_Connection *con, enum phase phase)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn *c = ci ? ci->socket_context : NULL;
    if (c == NULL)
        return;
    pthread_mutex_lock(&g->conn_lock);
    c->phase = phase;
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
            if (c->phase == WAITING && !c->cut && now > c->since &&
                now - c->since > g->header_ns)
                cut(g, c);
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
    set_phase(g, con, WAITING);     /* the next request's headers are due from now */
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

/* ---- strict framing ---------------------------------------------------------------------- */

/* A request whose end a proxy in front of us could see elsewhere than we do (two
 * Content-Lengths, Content-Length with Transfer-Encoding, "Transfer-Encoding :", a folded
 * or bare-LF line...) could carry a second, smuggled request: such a request is refused
 * with a 400, unread, and its connection closed. libmicrohttpd 0.9.75's own strictness
 * (MHD_OPTION_STRICT_FOR_CLIENT) does little of this: at 1 it only wants Host and refuses
 * a space in the target, at -1 only a space before a colon, and at no level does it refuse
 * a bare LF or a folded line; and what it refuses it answers with an HTML page. So the
 * checks are ours, and answered as Lambda does. */

typedef struct head_scan {
    unsigned    lengths, encodings, hosts;
    const char *encoding;       /* the Transfer-Encoding value */
    const char *why;            /* the first fault, or NULL */
#ifdef HEAD_LAYOUT
    /* libmicrohttpd before 0.9.77 parses the head in place: every name and value it hands
     * out points into its read buffer, each line's CRLF turned into two NULs and each
     * colon into one. From where the previous line's content ends (pos) to where the next
     * name starts there must be exactly that CRLF: one byte is a bare LF, and a folded
     * line's name is moved out of the buffer. */
    bool        layout;         /* pos and end are known */
    uintptr_t   pos;            /* the end of the previous line's content */
    uintptr_t   end;            /* the end of the head (past its empty line) */
#endif
} head_scan;

static const char bad_line[] = "a line that does not end with CRLF (a bare LF) or a folded "
                               "header line (obs-fold)";

static bool tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool name_is(const char *key, size_t klen, const char *name)
{
    return klen == strlen(name) && strncasecmp(key, name, klen) == 0;
}

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t klen, const char *value, size_t vlen)
{
    (void)kind;
    head_scan *h = cls;
    for (size_t i = 0; i < klen; i++)
        if (!tchar((unsigned char)key[i])) {
            h->why = "a header name that is not a token (a space before its colon?)";
            return MHD_NO;
        }
    if (klen == 0)
        h->why = "a header line with no name";
    for (size_t i = 0; i < vlen && h->why == NULL; i++) {
        unsigned char c = (unsigned char)value[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            h->why = "a control character (a CR alone?) in a header value";
    }
#ifdef HEAD_LAYOUT
    if (h->why == NULL && h->layout) {
        uintptr_t k = (uintptr_t)key, v = (uintptr_t)value;
        if (k != h->pos + 2 || v < k + klen + 1 || v + vlen > h->end ||
            ((const char *)h->pos)[0] != '\0' || ((const char *)h->pos)[1] != '\0' ||
            key[klen] != '\0') {
            h->why = bad_line;
        } else {
            for (const char *p = key + klen + 1; p < value; p++)
                if (*p != ' ' && *p != '\t')
                    h->why = bad_line;
            h->pos = v + vlen;
        }
    }
#endif
    if (h->why != NULL)
        return MHD_NO;
    if (name_is(key, klen, MHD_HTTP_HEADER_CONTENT_LENGTH))
        h->lengths++;
    else if (name_is(key, klen, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
        h->encodings++;
        h->encoding = value;
    } else if (name_is(key, klen, MHD_HTTP_HEADER_HOST)) {
        h->hosts++;
    }
    return MHD_YES;
}

/* NULL if the request's framing is unambiguous, else what is wrong with it. method, url
 * and version are what libmicrohttpd handed the access handler. */
static const char *framing_error(struct MHD_Connection *con, const request *r,
                                 const char *method, const char *url, const char *version)
{
    head_scan h = {0};
    for (const unsigned char *t = (const unsigned char *)r->target; *t; t++)
        if (*t <= 0x20 || *t == 0x7f)
            return "a space or a control character in the request target";
#ifdef HEAD_LAYOUT
    /* The request line: METHOD SP TARGET SP VERSION CRLF, in place. */
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    uintptr_t m = (uintptr_t)method, u = (uintptr_t)url, v = (uintptr_t)version;
    if (ci != NULL && m < u && u < v && v < m + ci->header_size) {
        if (u != m + strlen(method) + 1 || v != u + strlen(r->target) + 1)
            return "more than one space between the parts of the request line";
        h.layout = true;
        h.pos = v + strlen(version);
        h.end = m + ci->header_size;
    }
#else
    (void)method; (void)url;
#endif
    MHD_get_connection_values_n(con, MHD_HEADER_KIND, scan_header, &h);
    if (h.why != NULL)
        return h.why;
#ifdef HEAD_LAYOUT
    if (h.layout) {
        const char *p = (const char *)h.pos;
        if (h.end != h.pos + 4 || p[0] != '\0' || p[1] != '\0' || p[2] != '\0' || p[3] != '\0')
            return bad_line;
    }
#endif
    bool v10 = strcmp(version, MHD_HTTP_VERSION_1_0) == 0;
    if (h.lengths > 1)
        return "more than one Content-Length header";
    if (h.encodings > 1)
        return "more than one Transfer-Encoding header";
    if (h.encodings > 0 && h.lengths > 0)
        return "both Content-Length and Transfer-Encoding";
    if (h.encodings > 0 && strcasecmp(h.encoding, "chunked") != 0)
        return "a Transfer-Encoding other than chunked";
    if (h.encodings > 0 && v10)
        return "Transfer-Encoding in an HTTP/1.0 request";
    if (h.hosts > 1)
        return "more than one Host header";
    if (h.hosts == 0 && !v10)
        return "no Host header (HTTP/1.1 requires one)";
    return NULL;
}

/* ---- the body ---------------------------------------------------------------------------- */

/* The body's length: FAAS__GW_NO_LENGTH when chunked (framing_error() allows no other
 * coding, nor one with a Content-Length), 0 when there is none. */
static uint64_t content_length(struct MHD_Connection *con)
{
    if (MHD_lookup_connection_value(con, MHD_HEADER_KIND,
                                    MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL)
        return FAAS__GW_NO_LENGTH;
    const char *cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl == NULL)
        return 0;
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

/* The client waits for "100 Continue" before it sends its body. */
static bool expects_continue(struct MHD_Connection *con, const char *version)
{
    const char *e = MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    return e != NULL && strcasecmp(e, "100-continue") == 0 &&
           strcmp(version, MHD_HTTP_VERSION_1_1) == 0;
}

/* Send resp now, with the rest of the body unread: the connection is closed after it. */
static enum MHD_Result answer_unread(faas_gateway *g, struct MHD_Connection *con,
                                    request *r, faas__gw_resp *resp)
{
    r->reading = r->early = false;
    resp->close = true;
    set_phase(g, con, BUSY);
    return send_resp(con, resp);
}

/* ---- the access handler ------------------------------------------------------------------ */

/* The first call of a request: its headers are in, its body not yet. */
static enum MHD_Result on_headers(faas_gateway *g, struct MHD_Connection *con, request *r,
                                  const char *method, const char *url, const char *version)
{
    r->begun = true;
    set_phase(g, con, BODY);
    pthread_mutex_lock(&g->lock);
    g->in_flight++;
    pthread_mutex_unlock(&g->lock);
    r->body_deadline = faas__now(g->gw.rt) + (uint64_t)g->gw.body_timeout_ms * 1000000u;

    const char *why = framing_error(con, r, method, url, version);
    if (why != NULL) {
        faas__gw_bad_framing(&g->gw, why, &r->resp);
        return answer_unread(g, con, r, &r->resp);
    }
    faas__gw_req req = {
        .method = method, .target = r->target, .header = header_of, .header_arg = con,
        .content_length = r->content_length = content_length(con),
        .foreign = conn_foreign(con),
    };
    if (!faas__gw_begin(&g->gw, &req, &r->call, &r->resp)) {
        r->reading = true;          /* the body comes in the next calls */
        return MHD_YES;
    }
    /* The answer is known from the headers. A body on its way is read and thrown away
     * first, so that a client that writes all of it before reading (the AWS SDK for
     * JavaScript) reads the answer rather than EPIPE, and the connection stays usable;
     * but no more than max_discard bytes of it (a longer Content-Length is answered now,
     * and the connection closed; a longer chunked body ends the connection), nor for
     * longer than the body deadline. With no body, the answer goes in the call that
     * follows, once libmicrohttpd has seen the request complete, so that it keeps the
     * connection. */
    r->early = true;
    if (r->content_length == 0)
        return MHD_YES;
    if ((r->content_length != FAAS__GW_NO_LENGTH && r->content_length > g->max_discard) ||
        expects_continue(con, version))
        return answer_unread(g, con, r, &r->resp);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    faas_gateway *g = cls;
    request *r = *con_cls;
    if (r == NULL)
        return fail_500(con);
    if (!r->begun)
        return on_headers(g, con, r, method, url, version);
    if (!r->early && !r->reading)
        return MHD_NO;              /* a response was queued: nothing more to do */

    faas__gw_resp resp;
    if (*upload_data_size > 0) {
        /* A slow client: dropped when the body is not in by its deadline. */
        if (faas__now(g->gw.rt) > r->body_deadline)
            return MHD_NO;
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->early || r->over || r->len + n > r->call.limit) {
            if (r->reading && !r->over) {   /* a chunked body past the limit: 413 */
                r->over = true;
                r->discarded = r->len;
                free(r->body);
                r->body = NULL;
                r->len = r->cap = 0;
            }
            /* libmicrohttpd takes an answer only before the body or after all of it:
             * a chunked body longer than max_discard ends its connection unanswered. */
            r->discarded += n;
            return r->discarded <= g->max_discard ? MHD_YES : MHD_NO;
        }
        return append(r, upload_data, n) ? MHD_YES : fail_500(con);
    }
    set_phase(g, con, BUSY);        /* the body is in */
    if (r->early) {
        r->early = false;
        return send_resp(con, &r->resp);
    }
    r->reading = false;
    if (r->over) {
        faas__gw_too_large(&g->gw, &r->call, r->discarded, &resp);
    } else {
        faas__gw_req req = {
            .method = method, .target = r->target, .header = header_of, .header_arg = con,
            .content_length = r->content_length, .body = r->body ? r->body : "",
            .len = r->len, .foreign = conn_foreign(con),
        };
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
    peer *p, *tmp;
    HASH_ITER(hh, g->peers, p, tmp) {    /* none once every connection closed */
        HASH_DELETE(hh, g->peers, p);
        free(p);
    }
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
    rc = faas__abi_copy(&o, sizeof o, opts, FAAS__GATEWAY_OPTIONS_V1, "faas_gateway_start");
    if (rc != FAAS_OK)
        return rc;

    faas_gateway *g = calloc(1, sizeof *g);
    if (g == NULL)
        return faas__fail(FAAS_ENOMEM, "faas_gateway_start: out of memory");
    rc = faas__gw_init(&g->gw, rt, &o);
    if (rc != FAAS_OK) {
        free(g);
        return rc;
    }
    g->gw.loopback = faas__addr_loopback(&ss);
    g->drain_ms = o.drain_timeout_ms ? o.drain_timeout_ms : DEFAULT_DRAIN_MS;
    g->header_ns = (uint64_t)(o.header_timeout_ms ? o.header_timeout_ms : DEFAULT_HEADER_MS) *
                   1000000u;
    g->max_conns = o.max_connections ? o.max_connections : DEFAULT_CONNECTIONS;
    unsigned per_address = o.max_connections_per_address ? o.max_connections_per_address
                                                         : (g->max_conns + 1) / 2;
    g->max_discard = o.max_discard ? o.max_discard
                                   : (g->gw.max_body > SIZE_MAX / 2 ? SIZE_MAX
                                                                    : 2 * g->gw.max_body);
    /* libmicrohttpd's own cap is higher: a connection past max_conns is let in, and one
     * already there gives way (on_connection()); the margin holds those still closing.
     * At its cap libmicrohttpd closes a connection it has accepted: measured with 500 slow
     * clients reconnecting at once when cut, a margin of a quarter was reached (and the
     * good client's connection reset), a half was not. */
    unsigned hard_cap = g->max_conns > UINT_MAX / 3 ? UINT_MAX
                                                    : g->max_conns + g->max_conns / 2 + 16;
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
        MHD_OPTION_CONNECTION_LIMIT, hard_cap,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_address,
#ifdef MHD_DISCIPLINE
        MHD_OPTION_CLIENT_DISCIPLINE_LVL, (int)MHD_DISCIPLINE,
#endif
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
