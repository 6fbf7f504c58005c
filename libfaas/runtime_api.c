/*
 * runtime_api.c - the Lambda Runtime API (2018-06-01) on loopback, for process instances:
 * one libmicrohttpd daemon per instance, on its own loopback port, so that the endpoint is
 * the plain "host:port" every runtime interface client expects and an instance's port
 * serves only its own calls. The daemons have no threads of their own: the thread that
 * owns an instance (the one running its INIT, then each call's, process.c) drives its
 * daemon while it waits on it (faas__rapi_fd, faas__rapi_run), so that the event goes out
 * and the answer comes in on that thread, with no hand-off to another. A GET .../next with
 * no call on offer is suspended until one is offered; between calls nobody drives the
 * daemon, and what the runtime sends then (its next GET) waits in the socket for the next
 * call, as in a frozen Lambda environment. It owns the listeners and the instances'
 * mailboxes (runtime_api.h); it never spawns or kills a process (process.c) and never
 * touches the pool or the records. The routes, status codes and bodies are
 * libfaas/runtime_api.md's.
 */
#include "internal.h"

#include "runtime_api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <microhttpd.h>

#define API_PREFIX "/2018-06-01/runtime/"

/* The connections an instance's listener keeps at once; it closes the rest as it accepts
 * them. Runtime clients use one or two (curl's bootstrap one per request); the cap keeps a
 * runtime from holding the host's descriptors and memory with connections. */
#define RAPI_CONNECTIONS 16

typedef struct req req;

/* One instance. Used by one thread at a time: the instance's owner (process.c: the thread
 * creating it, then each call's, then the one closing it; the pool's lock orders them).
 * Every callback below runs on that thread, inside faas__rapi_run or faas__rapi_inst_close. */
struct faas__rapi_inst {
    faas__rapi     *srv;
    struct MHD_Daemon *d;         /* its own listener: 127.0.0.1:port serves only it */
    int             epfd;         /* the daemon's epoll fd: readable when it has work */
    bool            closed;       /* being stopped: no next is served */
    bool            dying;        /* its process is gone: read what it sent, serve no call */
    bool            news;         /* something for the host since the last faas__rapi_run */
    bool            resumed;      /* a next was resumed: faas__rapi_run is due now */
    bool            inited;       /* it has asked for its first call */
    bool            init_failed;
    bool            offered;      /* a call waits to be taken */
    bool            taken;        /* ... was taken and is not answered yet */
    bool            handed;       /* the call on offer was taken (answered or not) */
    bool            answered;     /* ans holds the answer */
    bool            acked;        /* ... and the answer's request is over (its 202 sent) */
    req            *acking;       /* the answer's request, until it is over */
    req            *waiting;      /* suspended nexts (req->next_wait), to resume on an offer */
    char           *init_body, *init_type;
    faas__rapi_call call;         /* on offer: the strings are the caller's (the call's) */
    faas__rapi_answer ans;
    size_t          buffered;     /* bytes allocated for request bodies, at most max_body
                                     + 1 in all: an answer's or an init error's */
    req            *kept;         /* the requests holding them */
    unsigned        calls;        /* calls offered so far */
    void          (*on_mark)(void *arg, bool taken);  /* a call is taken, or answered */
    void           *on_mark_arg;
    bool          (*on_accept)(void *arg, const struct sockaddr_in *peer, uint16_t port);
    void           *on_accept_arg;
    uint16_t        port;
    char            endpoint[32];
};

struct faas__rapi {
    atomic_uint       refs;
    size_t            max_body;
};

/* ---- the runtime's part: the instances' shared state, made by the first process function - */

typedef struct rapi_part {
    faas__part  base;
    faas__rapi *srv;
} rapi_part;

void faas__rapi_unref(faas__rapi *srv)
{
    if (srv != NULL && atomic_fetch_sub(&srv->refs, 1) == 1)
        free(srv);
}

static void part_free(faas__part *p)
{
    rapi_part *rp = (rapi_part *)p;
    faas__rapi_unref(rp->srv);
    free(rp);
}

static const faas__part_ops part_ops = { NULL, part_free };

/* ---- requests ------------------------------------------------------------------------- */

enum route { R_NONE, R_NEXT, R_RESPONSE, R_ERROR, R_INIT_ERROR };

struct req {
    enum route       route;
    bool             bad_method;
    bool             suspended;   /* a next waiting for a call (on inst->waiting) */
    struct MHD_Connection *con;
    req             *next_wait;
    char             rid[64];
    char            *body;
    size_t           len, cap;    /* cap: bytes allocated, counted in inst->buffered */
    bool             keep;        /* its body is wanted (keep_body()), else dropped */
    req             *kept_next;   /* on inst->kept while it holds a body */
    unsigned         call;        /* inst->calls when it was kept: for that call */
    bool             over;        /* the body went past max_body: not kept */
};

/* "/2018-06-01/runtime/..." -> the route. */
static void parse(const char *url, const char *method, req *r)
{
    if (strncmp(url, API_PREFIX, sizeof API_PREFIX - 1) != 0)
        return;
    const char *rest = url + sizeof API_PREFIX - 1;
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    if (strcmp(rest, "invocation/next") == 0) {
        r->route = R_NEXT;
        r->bad_method = !get;
    } else if (strcmp(rest, "init/error") == 0) {
        r->route = R_INIT_ERROR;
        r->bad_method = !post;
    } else if (strncmp(rest, "invocation/", 11) == 0) {
        const char *id = rest + 11, *slash = strchr(id, '/');
        size_t n = slash ? (size_t)(slash - id) : 0;
        if (slash == NULL || n == 0 || n >= sizeof r->rid)
            return;
        if (strcmp(slash, "/response") == 0)
            r->route = R_RESPONSE;
        else if (strcmp(slash, "/error") == 0)
            r->route = R_ERROR;
        else
            return;
        memcpy(r->rid, id, n);
        r->rid[n] = '\0';
        r->bad_method = !post;
    }
}

static enum MHD_Result reply(struct MHD_Connection *con, unsigned status, const char *body,
                             size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body,
                                                                MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result ok = MHD_queue_response(con, status, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* An error body as [E] renders it: {"errorMessage":..., "errorType":...}. */
static enum MHD_Result reply_error(struct MHD_Connection *con, unsigned status,
                                   const char *type, const char *msg)
{
    char body[512];
    int n = snprintf(body, sizeof body, "{\"errorMessage\":\"%s\",\"errorType\":\"%s\"}",
                     msg, type);
    return reply(con, status, body, (size_t)n);
}

static enum MHD_Result reply_accepted(struct MHD_Connection *con)
{
    static const char ok[] = "{\"status\":\"OK\"}";
    return reply(con, 202, ok, sizeof ok - 1);
}

static void unwait(faas__rapi_inst *inst, req *r)
{
    for (req **p = &inst->waiting; *p != NULL; p = &(*p)->next_wait)
        if (*p == r) {
            *p = r->next_wait;
            break;
        }
    r->next_wait = NULL;
}

/* GET .../invocation/next: the call on offer, or (none yet) the connection is suspended
 * until one is offered (faas__rapi_offer resumes it and this runs again). */
static enum MHD_Result serve_next(faas__rapi_inst *inst, struct MHD_Connection *con, req *r)
{
    r->suspended = false;
    if (inst->closed || inst->dying)
        return MHD_NO;                  /* the instance is being stopped: drop the line */
    if (!inst->inited) {
        inst->inited = true;            /* INIT is over: the cold start ends here */
        inst->news = true;
    }
    if (!inst->offered) {
        r->con = con;
        r->suspended = true;
        r->next_wait = inst->waiting;
        inst->waiting = r;
        MHD_suspend_connection(con);
        return MHD_YES;
    }
    /* Taken: a death from now on is a crash. */
    inst->offered = false;
    inst->taken = inst->handed = true;
    if (inst->on_mark != NULL)
        inst->on_mark(inst->on_mark_arg, true);   /* before the runtime can see the call */
    const faas__rapi_call *c = &inst->call;
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        c->len, (void *)(c->len ? c->payload : ""), MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;
    char deadline[24];
    snprintf(deadline, sizeof deadline, "%lld", (long long)c->deadline_ms);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, "Lambda-Runtime-Aws-Request-Id", c->request_id);
    MHD_add_response_header(resp, "Lambda-Runtime-Deadline-Ms", deadline);
    if (c->arn != NULL)
        MHD_add_response_header(resp, "Lambda-Runtime-Invoked-Function-Arn", c->arn);
    if (c->trace_id != NULL)
        MHD_add_response_header(resp, "Lambda-Runtime-Trace-Id", c->trace_id);
    if (c->client_context != NULL)
        MHD_add_response_header(resp, "Lambda-Runtime-Client-Context", c->client_context);
    if (c->cognito_identity != NULL)
        MHD_add_response_header(resp, "Lambda-Runtime-Cognito-Identity",
                                c->cognito_identity);
    enum MHD_Result ok = MHD_queue_response(con, 200, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* r no longer holds a body: off inst->kept, its bytes given back. */
static void unkeep(faas__rapi_inst *inst, req *r)
{
    if (r->cap == 0)
        return;                         /* it holds none: not on the list */
    for (req **p = &inst->kept; *p != NULL; p = &(*p)->kept_next)
        if (*p == r) {
            *p = r->kept_next;
            break;
        }
    r->kept_next = NULL;
    inst->buffered -= r->cap;
    r->cap = 0;
}

/* A new call: bodies kept for an answer to an earlier one, or for an init error once INIT
 * is over (a runtime that never finished sending them), are dropped, so that they cannot
 * hold the instance's budget for ever. */
static void drop_stale(faas__rapi_inst *inst)
{
    for (req *r = inst->kept, *next; r != NULL; r = next) {
        next = r->kept_next;
        if (r->route == R_INIT_ERROR ? inst->inited : r->call != inst->calls) {
            unkeep(inst, r);
            free(r->body);
            r->body = NULL;
            r->len = 0;
            r->keep = false;
        }
    }
}

/* POST .../{id}/response and .../{id}/error. */
static enum MHD_Result serve_answer(faas__rapi_inst *inst, struct MHD_Connection *con, req *r)
{
    if (!inst->taken || strcmp(r->rid, inst->call.request_id) != 0)
        return reply_error(con, 400, "InvalidRequestID", "Invalid request ID");
    const char *etype = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
                                                    "Lambda-Runtime-Function-Error-Type");
    inst->taken = false;
    inst->answered = true;
    inst->acking = r;                   /* the host waits until its 202 is out */
    if (inst->on_mark != NULL)
        inst->on_mark(inst->on_mark_arg, false);  /* before the runtime hears the 202 */
    faas__rapi_answer *a = &inst->ans;
    a->error = r->route == R_ERROR;
    a->too_large = r->over;
    a->body = r->over ? NULL : r->body;
    a->len = r->over ? 0 : r->len;
    a->error_type = etype && a->error ? strdup(etype) : NULL;
    if (!r->over) {
        r->body = NULL;
        unkeep(inst, r);                /* the caller's now */
    }
    if (r->over) {
        char msg[128];
        snprintf(msg, sizeof msg, "Exceeded maximum allowed payload size (%zu bytes).",
                 inst->srv->max_body);
        return reply_error(con, 413, "RequestEntityTooLarge", msg);
    }
    return reply_accepted(con);
}

/* POST .../init/error: only before the first next. */
static enum MHD_Result serve_init_error(faas__rapi_inst *inst, struct MHD_Connection *con,
                                        req *r)
{
    if (inst->inited || inst->init_failed)
        return reply_error(con, 403, "InvalidStateTransition",
                           "State transition from Ready to InitError failed");
    const char *etype = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
                                                    "Lambda-Runtime-Function-Error-Type");
    inst->init_failed = true;
    inst->init_body = r->body ? r->body : strdup("");
    r->body = NULL;
    unkeep(inst, r);                    /* the host's now */
    inst->init_type = etype ? strdup(etype) : NULL;
    inst->news = true;
    return reply_accepted(con);
}

/* Is r's body wanted, as far as its headers say? Only an answer to the call the instance
 * has taken (its id) and an init error while INIT lasts: any other body (a wrong id, an
 * unknown route, a next with a body) is read and dropped, so that a runtime cannot make
 * the host hold max_body bytes on each of its connections. */
static bool keep_body(const faas__rapi_inst *inst, const req *r)
{
    if (r->bad_method)
        return false;
    if (r->route == R_RESPONSE || r->route == R_ERROR)
        return inst->taken && strcmp(r->rid, inst->call.request_id) == 0;
    return r->route == R_INIT_ERROR && !inst->inited && !inst->init_failed;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    faas__rapi_inst *inst = cls;
    (void)version;
    req *r = *con_cls;
    if (r == NULL) {
        r = calloc(1, sizeof *r);
        if (r == NULL)
            return MHD_NO;
        parse(url, method, r);
        r->keep = keep_body(inst, r);
        r->call = inst->calls;          /* the call it may answer, as its headers came */
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        size_t n = *upload_size, max = inst->srv->max_body;
        *upload_size = 0;
        if (!r->keep)
            return MHD_YES;             /* nobody wants it: read, not kept */
        size_t need = r->len + n + 1, cap = r->cap ? r->cap : 4096;
        while (cap < need && cap <= max)
            cap *= 2;
        if (cap > max + 1)
            cap = max + 1;
        if (r->over || need > max + 1 || inst->buffered - r->cap + cap > max + 1) {
            /* Past max_body, or past what the instance may make the host hold at once
             * (its other requests' bodies): read to the end, keep nothing. */
            r->over = true;
            unkeep(inst, r);
            free(r->body);
            r->body = NULL;
            r->len = 0;
            return MHD_YES;
        }
        if (need > r->cap) {
            char *b = realloc(r->body, cap);
            if (b == NULL)
                return MHD_NO;
            if (r->cap == 0) {
                r->kept_next = inst->kept;
                inst->kept = r;
            }
            inst->buffered += cap - r->cap;
            r->body = b;
            r->cap = cap;
        }
        memcpy(r->body + r->len, upload, n);
        r->len += n;
        r->body[r->len] = '\0';
        return MHD_YES;
    }
    if (r->route == R_NONE)
        return reply_error(con, 404, "NotFound", "No such route");
    if (r->bad_method)
        return reply_error(con, 405, "MethodNotAllowed", "Method not allowed");
    switch (r->route) {
    case R_NEXT:       return serve_next(inst, con, r);
    case R_RESPONSE:
    case R_ERROR:      return serve_answer(inst, con, r);
    case R_INIT_ERROR: return serve_init_error(inst, con, r);
    case R_NONE:       break;
    }
    return MHD_NO;
}

static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    faas__rapi_inst *inst = cls;
    (void)con;
    (void)why;
    req *r = *con_cls;
    if (r == NULL)
        return;
    if (r->suspended)
        unwait(inst, r);
    if (inst->acking == r) {            /* the answer's 202 is out (or its line is gone) */
        inst->acking = NULL;
        inst->acked = true;
        inst->news = true;
    }
    unkeep(inst, r);
    free(r->body);
    free(r);
    *con_cls = NULL;
}

static void mhd_log(void *arg, const char *fmt, va_list ap)
{
    (void)arg;
    (void)fmt;
    (void)ap;                           /* a runtime's bad request is its own business */
}

/* ---- the server ----------------------------------------------------------------------- */

static faas__part *part_create(faas_runtime *rt)
{
    rapi_part *rp = calloc(1, sizeof *rp);
    faas__rapi *srv = calloc(1, sizeof *srv);
    if (rp == NULL || srv == NULL) {
        free(rp);
        free(srv);
        faas__fail(FAAS_ENOMEM, "the Runtime API server: out of memory");
        return NULL;
    }
    atomic_init(&srv->refs, 1);         /* the part's */
    srv->max_body = rt->opts.max_payload_sync;
    rp->base.ops = &part_ops;
    rp->srv = srv;
    return &rp->base;
}

int faas__rapi_get(faas_runtime *rt, faas__rapi **out, char *err, size_t errlen)
{
    rapi_part *rp = (rapi_part *)faas__part_get(rt, &part_ops, part_create);
    if (rp == NULL) {
        snprintf(err, errlen, "%s", faas_last_error());
        return FAAS_ENOMEM;
    }
    atomic_fetch_add(&rp->srv->refs, 1);
    *out = rp->srv;
    return FAAS_OK;
}

/* ---- instances (the host's side) ------------------------------------------------------ */

/* MHD's accept policy: a connection stays only if the instance's hook says it is its own
 * (runtime_api.md, "Endpoint"); closed unanswered otherwise. */
static enum MHD_Result accept_ok(void *cls, const struct sockaddr *addr, socklen_t len)
{
    faas__rapi_inst *inst = cls;
    if (inst->on_accept == NULL)
        return MHD_YES;
    if (addr == NULL || len < sizeof(struct sockaddr_in) || addr->sa_family != AF_INET)
        return MHD_NO;                  /* the listener is 127.0.0.1's: never */
    return inst->on_accept(inst->on_accept_arg, (const struct sockaddr_in *)addr, inst->port)
               ? MHD_YES : MHD_NO;
}

/* INST's listener on 127.0.0.1, an ephemeral port, driven by its owner (no thread of its
 * own); its port, or 0. */
static unsigned listen_for(faas__rapi_inst *inst)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    inst->d = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
        0, accept_ok, inst, on_request, inst,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, inst,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, 0u,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)RAPI_CONNECTIONS,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 8u,
        MHD_OPTION_END);
    if (inst->d == NULL)
        return 0;
    const union MHD_DaemonInfo *ep = MHD_get_daemon_info(inst->d, MHD_DAEMON_INFO_EPOLL_FD);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(inst->d,
                                                           MHD_DAEMON_INFO_LISTEN_FD);
    struct sockaddr_in bound;
    socklen_t blen = sizeof bound;
    if (ep == NULL || info == NULL ||
        getsockname(info->listen_fd, (struct sockaddr *)&bound, &blen) != 0)
        return 0;
    inst->epfd = ep->epoll_fd;
    return ntohs(bound.sin_port);
}

int faas__rapi_inst_new(faas__rapi *srv, faas__rapi_inst **out)
{
    faas__rapi_inst *inst = calloc(1, sizeof *inst);
    if (inst == NULL)
        return FAAS_ENOMEM;
    inst->srv = srv;
    inst->epfd = -1;
    unsigned port = listen_for(inst);
    if (port == 0) {
        faas__rapi_inst_close(inst);
        return FAAS_ENOMEM;
    }
    inst->port = (uint16_t)port;
    snprintf(inst->endpoint, sizeof inst->endpoint, "127.0.0.1:%u", port);
    *out = inst;
    return FAAS_OK;
}

const char *faas__rapi_endpoint(const faas__rapi_inst *inst)
{
    return inst->endpoint;
}

void faas__rapi_on_mark(faas__rapi_inst *inst, void (*fn)(void *arg, bool taken), void *arg)
{
    inst->on_mark = fn;
    inst->on_mark_arg = arg;
}

void faas__rapi_on_accept(faas__rapi_inst *inst,
                          bool (*fn)(void *arg, const struct sockaddr_in *peer, uint16_t port),
                          void *arg)
{
    inst->on_accept = fn;
    inst->on_accept_arg = arg;
}

int faas__rapi_fd(const faas__rapi_inst *inst)
{
    return inst->epfd;
}

int faas__rapi_timeout(faas__rapi_inst *inst)
{
    MHD_UNSIGNED_LONG_LONG t;
    if (inst->resumed)
        return 0;                       /* MHD's timeout does not count a resume */
    if (MHD_get_timeout(inst->d, &t) != MHD_YES)
        return -1;
    return t > INT32_MAX ? INT32_MAX : (int)t;
}

bool faas__rapi_run(faas__rapi_inst *inst)
{
    inst->resumed = false;
    MHD_run(inst->d);
    bool news = inst->news;
    inst->news = false;
    return news;
}

void faas__rapi_settle(faas__rapi_inst *inst)
{
    inst->dying = true;
    /* Bounded: a process still writing (a child the kill has not reached) cannot hold the
     * host here. */
    for (int i = 0; i < 64; i++) {
        MHD_run(inst->d);
        if (faas__rapi_timeout(inst) == 0)
            continue;
        struct pollfd p = { inst->epfd, POLLIN, 0 };
        if (poll(&p, 1, 0) <= 0)
            break;
    }
    inst->news = false;
}

int faas__rapi_init_state(faas__rapi_inst *inst, char **body, char **type)
{
    if (inst->init_failed) {
        *body = inst->init_body;
        *type = inst->init_type;
        inst->init_body = inst->init_type = NULL;
        return -1;
    }
    return inst->inited ? 1 : 0;
}

/* Resume every suspended next; faas__rapi_run is then due at once. */
static void resume_waiting(faas__rapi_inst *inst)
{
    while (inst->waiting != NULL) {
        req *r = inst->waiting;
        inst->waiting = r->next_wait;
        r->next_wait = NULL;
        MHD_resume_connection(r->con);
        inst->resumed = true;
    }
}

void faas__rapi_offer(faas__rapi_inst *inst, const faas__rapi_call *call)
{
    inst->call = *call;
    inst->offered = true;
    inst->taken = inst->handed = inst->answered = inst->acked = false;
    inst->calls++;
    drop_stale(inst);
    /* A next waiting for it runs again at the next faas__rapi_run (due at once:
     * faas__rapi_timeout is 0; MHD's epoll fd is not woken by a resume without a thread). */
    resume_waiting(inst);
}

bool faas__rapi_taken(faas__rapi_inst *inst)
{
    return inst->handed;
}

bool faas__rapi_answer_take(faas__rapi_inst *inst, faas__rapi_answer *ans, bool unsent)
{
    if (!inst->answered || !(inst->acked || unsent))
        return false;
    *ans = inst->ans;
    memset(&inst->ans, 0, sizeof inst->ans);
    inst->answered = false;
    return true;
}

void faas__rapi_withdraw(faas__rapi_inst *inst)
{
    inst->offered = inst->taken = false;
    memset(&inst->call, 0, sizeof inst->call);
}

void faas__rapi_answer_free(faas__rapi_answer *ans)
{
    free(ans->body);
    free(ans->error_type);
    memset(ans, 0, sizeof *ans);
}

void faas__rapi_inst_close(faas__rapi_inst *inst)
{
    inst->closed = true;
    /* MHD may not be stopped with a suspended connection: each is resumed, then closed
     * with the rest (its request completed as the daemon shuts down). */
    resume_waiting(inst);
    if (inst->d != NULL)
        MHD_stop_daemon(inst->d);
    faas__rapi_answer_free(&inst->ans);
    free(inst->init_body);
    free(inst->init_type);
    free(inst);
}
