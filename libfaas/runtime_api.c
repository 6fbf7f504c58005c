/*
 * runtime_api.c - the Lambda Runtime API (2018-06-01) on loopback, for process instances:
 * one libmicrohttpd listener per instance, on its own loopback port (a thread per
 * connection: a runtime's GET .../next blocks until it has a call), so that the endpoint is
 * the plain "host:port" every runtime interface client expects and an instance's port
 * serves only its own calls. It owns the listeners and the instances' mailboxes
 * (runtime_api.h); it never spawns or kills a process (process.c) and never touches the
 * pool or the records. The routes, status codes and bodies are libfaas/runtime_api.md's.
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
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <microhttpd.h>

#define API_PREFIX "/2018-06-01/runtime/"

struct faas__rapi_inst {
    faas__rapi     *srv;
    struct MHD_Daemon *d;         /* its own listener: 127.0.0.1:port serves only it */
    pthread_cond_t  cond;         /* a call was offered, or the instance closed */
    unsigned        refs;         /* the host's, and each request's that holds it */
    int             wake;         /* eventfd: the host has something to look at */
    bool            closed;
    bool            inited;       /* it has asked for its first call */
    bool            offered;      /* a call waits to be taken */
    bool            taken;        /* ... was taken and is not answered yet */
    bool            answered;
    bool            init_failed;
    char           *init_body, *init_type;
    /* the call, copied by faas__rapi_offer */
    char            rid[37];
    char           *payload;
    size_t          len;
    char           *headers[6];   /* deadline, arn, trace, client context, cognito: values */
    faas__rapi_answer ans;
    void          (*on_mark)(void *arg, bool taken);  /* a call is taken, or answered */
    void           *on_mark_arg;
    char            endpoint[32];
};

struct faas__rapi {
    pthread_mutex_t   lock;       /* protects every instance's fields */
    atomic_uint       refs;
    size_t            max_body;
};

/* ---- the runtime's part: the instances' shared state, made by the first process function - */

typedef struct rapi_part {
    faas__part  base;
    faas__rapi *srv;
} rapi_part;

static void server_free(faas__rapi *srv)
{
    pthread_mutex_destroy(&srv->lock);
    free(srv);
}

void faas__rapi_unref(faas__rapi *srv)
{
    if (srv != NULL && atomic_fetch_sub(&srv->refs, 1) == 1)
        server_free(srv);
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

typedef struct req {
    faas__rapi_inst *inst;        /* with a reference, or NULL: no such route */
    enum route       route;
    bool             bad_method;
    char             rid[64];
    char            *body;
    size_t           len, cap;
    bool             over;        /* the body went past max_body: not kept */
} req;

/* Requires srv->lock. */
static void inst_unref_locked(faas__rapi_inst *inst)
{
    if (--inst->refs > 0)
        return;
    pthread_cond_destroy(&inst->cond);
    close(inst->wake);
    free(inst->payload);
    for (size_t i = 0; i < sizeof inst->headers / sizeof *inst->headers; i++)
        free(inst->headers[i]);
    faas__rapi_answer_free(&inst->ans);
    free(inst->init_body);
    free(inst->init_type);
    free(inst);
}

static void wake_host(faas__rapi_inst *inst)
{
    uint64_t one = 1;
    ssize_t n = write(inst->wake, &one, sizeof one);
    (void)n;                            /* EAGAIN: the counter is already non-zero */
}

/* "/2018-06-01/runtime/..." on INST's listener -> the route, and INST (a reference). */
static void parse(faas__rapi_inst *inst, const char *url, const char *method, req *r)
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
    } else {
        return;
    }
    pthread_mutex_lock(&inst->srv->lock);
    r->inst = inst;
    inst->refs++;
    pthread_mutex_unlock(&inst->srv->lock);
}

static enum MHD_Result reply(struct MHD_Connection *con, unsigned status, char *body,
                             size_t len, bool owned)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
    if (resp == NULL) {
        if (owned)
            free(body);
        return MHD_NO;
    }
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
    return reply(con, status, body, (size_t)n, false);
}

static enum MHD_Result reply_accepted(struct MHD_Connection *con)
{
    static const char ok[] = "{\"status\":\"OK\"}";
    return reply(con, 202, (char *)ok, sizeof ok - 1, false);
}

static const char *const header_names[] = {
    "Lambda-Runtime-Deadline-Ms", "Lambda-Runtime-Invoked-Function-Arn",
    "Lambda-Runtime-Trace-Id", "Lambda-Runtime-Client-Context",
    "Lambda-Runtime-Cognito-Identity",
};

/* GET .../invocation/next: block until a call is offered (or the instance closes). */
static enum MHD_Result serve_next(faas__rapi *srv, struct MHD_Connection *con, req *r)
{
    faas__rapi_inst *inst = r->inst;
    pthread_mutex_lock(&srv->lock);
    if (!inst->inited) {
        inst->inited = true;
        wake_host(inst);                /* INIT is over: the cold start ends here */
    }
    while (!inst->offered && !inst->closed)
        pthread_cond_wait(&inst->cond, &srv->lock);
    if (inst->closed) {
        pthread_mutex_unlock(&srv->lock);
        return MHD_NO;                  /* the instance is being killed: drop the line */
    }
    inst->offered = false;
    inst->taken = true;
    if (inst->on_mark != NULL)
        inst->on_mark(inst->on_mark_arg, true);   /* before the runtime can see the call */
    char *payload = inst->payload;
    size_t len = inst->len;
    inst->payload = NULL;
    char rid[37];
    memcpy(rid, inst->rid, sizeof rid);
    char *values[5];
    for (size_t i = 0; i < 5; i++) {
        values[i] = inst->headers[i];
        inst->headers[i] = NULL;
    }
    /* Taken: a death from now on is a crash. The host is not woken for it (it asks
     * faas__rapi_taken only once the process has died): a wake-up here cost the host a
     * poll/read/poll cycle per call, on the CPU the runtime needs next. */
    pthread_mutex_unlock(&srv->lock);

    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, payload ? payload : (char *)"", payload ? MHD_RESPMEM_MUST_FREE
                                                     : MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ok = MHD_NO;
    if (resp != NULL) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        MHD_add_response_header(resp, "Lambda-Runtime-Aws-Request-Id", rid);
        for (size_t i = 0; i < 5; i++)
            if (values[i] != NULL)
                MHD_add_response_header(resp, header_names[i], values[i]);
        ok = MHD_queue_response(con, 200, resp);
        MHD_destroy_response(resp);
    } else {
        free(payload);
    }
    for (size_t i = 0; i < 5; i++)
        free(values[i]);
    return ok;
}

/* POST .../{id}/response and .../{id}/error. */
static enum MHD_Result serve_answer(faas__rapi *srv, struct MHD_Connection *con, req *r)
{
    faas__rapi_inst *inst = r->inst;
    const char *etype = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
                                                    "Lambda-Runtime-Function-Error-Type");
    pthread_mutex_lock(&srv->lock);
    if (!inst->taken || strcmp(r->rid, inst->rid) != 0) {
        pthread_mutex_unlock(&srv->lock);
        return reply_error(con, 400, "InvalidRequestID", "Invalid request ID");
    }
    inst->taken = false;
    inst->answered = true;
    if (inst->on_mark != NULL)
        inst->on_mark(inst->on_mark_arg, false);  /* before the runtime hears the 202 */
    faas__rapi_answer *a = &inst->ans;
    a->error = r->route == R_ERROR;
    a->too_large = r->over;
    a->body = r->over ? NULL : r->body;
    a->len = r->over ? 0 : r->len;
    a->error_type = etype && a->error ? strdup(etype) : NULL;
    if (!r->over)
        r->body = NULL;
    pthread_mutex_unlock(&srv->lock);
    wake_host(inst);                    /* unlocked: the host wakes to take it at once */
    if (r->over) {
        char msg[128];
        snprintf(msg, sizeof msg, "Exceeded maximum allowed payload size (%zu bytes).",
                 srv->max_body);
        return reply_error(con, 413, "RequestEntityTooLarge", msg);
    }
    return reply_accepted(con);
}

/* POST .../init/error: only before the first next. */
static enum MHD_Result serve_init_error(faas__rapi *srv, struct MHD_Connection *con, req *r)
{
    faas__rapi_inst *inst = r->inst;
    const char *etype = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
                                                    "Lambda-Runtime-Function-Error-Type");
    pthread_mutex_lock(&srv->lock);
    if (inst->inited || inst->init_failed) {
        pthread_mutex_unlock(&srv->lock);
        return reply_error(con, 403, "InvalidStateTransition",
                           "State transition from Ready to InitError failed");
    }
    inst->init_failed = true;
    inst->init_body = r->body ? r->body : strdup("");
    r->body = NULL;
    inst->init_type = etype ? strdup(etype) : NULL;
    wake_host(inst);
    pthread_mutex_unlock(&srv->lock);
    return reply_accepted(con);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    faas__rapi_inst *inst = cls;
    faas__rapi *srv = inst->srv;
    (void)version;
    req *r = *con_cls;
    if (r == NULL) {
        r = calloc(1, sizeof *r);
        if (r == NULL)
            return MHD_NO;
        parse(inst, url, method, r);
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (r->over || r->len + n > srv->max_body) {
            r->over = true;
            return MHD_YES;             /* read to the end, keep nothing */
        }
        if (r->len + n + 1 > r->cap) {
            size_t cap = r->cap ? r->cap : 4096;
            while (cap < r->len + n + 1)
                cap *= 2;
            char *b = realloc(r->body, cap);
            if (b == NULL)
                return MHD_NO;
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
    case R_NEXT:       return serve_next(srv, con, r);
    case R_RESPONSE:
    case R_ERROR:      return serve_answer(srv, con, r);
    case R_INIT_ERROR: return serve_init_error(srv, con, r);
    case R_NONE:       break;
    }
    return MHD_NO;
}

static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    faas__rapi *srv = ((faas__rapi_inst *)cls)->srv;
    (void)con;
    (void)why;
    req *r = *con_cls;
    if (r == NULL)
        return;
    if (r->inst != NULL) {
        pthread_mutex_lock(&srv->lock);
        inst_unref_locked(r->inst);
        pthread_mutex_unlock(&srv->lock);
    }
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
    pthread_mutex_init(&srv->lock, NULL);
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

/* INST's listener on 127.0.0.1, an ephemeral port; its port, or 0. */
static unsigned listen_for(faas__rapi_inst *inst)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    inst->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
            MHD_USE_ITC | MHD_USE_ERROR_LOG,
        0, NULL, NULL, on_request, inst,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, inst,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, 0u,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 8u,
        MHD_OPTION_END);
    if (inst->d == NULL)
        return 0;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(inst->d,
                                                           MHD_DAEMON_INFO_LISTEN_FD);
    struct sockaddr_in bound;
    socklen_t blen = sizeof bound;
    if (info == NULL || getsockname(info->listen_fd, (struct sockaddr *)&bound, &blen) != 0)
        return 0;
    return ntohs(bound.sin_port);
}

int faas__rapi_inst_new(faas__rapi *srv, faas__rapi_inst **out)
{
    faas__rapi_inst *inst = calloc(1, sizeof *inst);
    if (inst == NULL)
        return FAAS_ENOMEM;
    inst->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (inst->wake < 0) {
        free(inst);
        return FAAS_ENOMEM;
    }
    pthread_cond_init(&inst->cond, NULL);
    inst->srv = srv;
    inst->refs = 1;
    unsigned port = listen_for(inst);
    if (port == 0) {
        faas__rapi_inst_close(inst);
        return FAAS_ENOMEM;
    }
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
    pthread_mutex_lock(&inst->srv->lock);
    inst->on_mark = fn;
    inst->on_mark_arg = arg;
    pthread_mutex_unlock(&inst->srv->lock);
}

int faas__rapi_wake_fd(const faas__rapi_inst *inst)
{
    return inst->wake;
}

void faas__rapi_drain(faas__rapi_inst *inst)
{
    uint64_t n;
    ssize_t rc = read(inst->wake, &n, sizeof n);
    (void)rc;
}

int faas__rapi_init_state(faas__rapi_inst *inst, char **body, char **type)
{
    int st = 0;
    pthread_mutex_lock(&inst->srv->lock);
    if (inst->init_failed) {
        st = -1;
        *body = inst->init_body;
        *type = inst->init_type;
        inst->init_body = inst->init_type = NULL;
    } else if (inst->inited) {
        st = 1;
    }
    pthread_mutex_unlock(&inst->srv->lock);
    return st;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

int faas__rapi_offer(faas__rapi_inst *inst, const faas__rapi_call *call)
{
    char deadline[24];
    snprintf(deadline, sizeof deadline, "%lld", (long long)call->deadline_ms);
    char *payload = malloc(call->len ? call->len : 1);
    char *h[5] = { strdup(deadline), dup_or_null(call->arn), dup_or_null(call->trace_id),
                   dup_or_null(call->client_context), dup_or_null(call->cognito_identity) };
    if (payload == NULL || h[0] == NULL) {
        free(payload);
        for (size_t i = 0; i < 5; i++)
            free(h[i]);
        return FAAS_ENOMEM;
    }
    memcpy(payload, call->payload, call->len);
    faas__rapi *srv = inst->srv;
    pthread_mutex_lock(&srv->lock);
    free(inst->payload);
    inst->payload = payload;
    inst->len = call->len;
    for (size_t i = 0; i < 5; i++) {
        free(inst->headers[i]);
        inst->headers[i] = h[i];
    }
    snprintf(inst->rid, sizeof inst->rid, "%s", call->request_id);
    inst->offered = true;
    inst->taken = inst->answered = false;
    pthread_mutex_unlock(&srv->lock);
    /* Signalled unlocked (the waiter re-checks offered): the runtime's connection thread
     * wakes to take the call, not to wait for the lock. The host's reference keeps cond. */
    pthread_cond_broadcast(&inst->cond);
    return FAAS_OK;
}

bool faas__rapi_taken(faas__rapi_inst *inst)
{
    pthread_mutex_lock(&inst->srv->lock);
    bool t = !inst->offered;
    pthread_mutex_unlock(&inst->srv->lock);
    return t;
}

bool faas__rapi_answer_take(faas__rapi_inst *inst, faas__rapi_answer *ans)
{
    pthread_mutex_lock(&inst->srv->lock);
    bool a = inst->answered;
    if (a) {
        *ans = inst->ans;
        memset(&inst->ans, 0, sizeof inst->ans);
        inst->answered = false;
    }
    pthread_mutex_unlock(&inst->srv->lock);
    return a;
}

void faas__rapi_answer_free(faas__rapi_answer *ans)
{
    free(ans->body);
    free(ans->error_type);
    memset(ans, 0, sizeof *ans);
}

void faas__rapi_inst_close(faas__rapi_inst *inst)
{
    faas__rapi *srv = inst->srv;
    pthread_mutex_lock(&srv->lock);
    inst->closed = true;
    pthread_cond_broadcast(&inst->cond);
    pthread_mutex_unlock(&srv->lock);
    /* Its port closes; the connection threads (a next woken above) are joined. */
    if (inst->d != NULL)
        MHD_stop_daemon(inst->d);
    pthread_mutex_lock(&srv->lock);
    inst_unref_locked(inst);
    pthread_mutex_unlock(&srv->lock);
}
