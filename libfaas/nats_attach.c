/*
 * nats_attach.c - the NATS part's attachment: faas_nats_attach(), faas_nats_detach() and
 * faas_nats_stats_get(), the options and their defaults, the connection and its events, the
 * stream, the keeper thread that drives both roles' resends, and the teardown. The producer
 * and the worker are in nats_producer.c and nats_worker.c, the protocol in nats.h.
 */
#include "nats.h"
#include "userinfo.h"
#include "abi.h"

#include <sched.h>

#define DEFAULT_STREAM          "FAAS"
#define DEFAULT_PREFIX          "faas"
#define DEFAULT_DUP_WINDOW_MS   120000u
#define DEFAULT_INFLIGHT        256u
#define DEFAULT_BATCH           64u
#define DEFAULT_ACK_PENDING     65536
#define DEFAULT_RETRY_MS        1000u
#define DEFAULT_RESULT_TIMEOUT  300000u
#define TICK_MS                 100     /* the keeper's period */
#define RECONNECT_WAIT_MS       250
#define RECONNECT_BUF           (64 * 1024 * 1024)
#define API_WAIT_MS             5000    /* JetStream API requests (stream, consumer) */

/* ---- the keeper thread and connection events ------------------------------------------------ */

static void *keeper_main(void *arg)
{
    nats_part *n = arg;
    pthread_mutex_lock(&n->lock);
    while (!atomic_load(&n->closing)) {
        struct timespec at;
        clock_gettime(CLOCK_MONOTONIC, &at);
        at.tv_nsec += TICK_MS * 1000000L;
        at.tv_sec += at.tv_nsec / 1000000000L;
        at.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&n->cond, &n->lock, &at);
        if (atomic_load(&n->closing))
            break;
        pthread_mutex_unlock(&n->lock);
        uint64_t now = faas__sys_mono_ns();
        if (n->role & FAAS_NATS_PRODUCER) {
            faas__nats_producer_tick(n, now);
            faas__nats_producer_expire(n, now);
        }
        if (n->role & FAAS_NATS_WORKER)
            faas__nats_worker_tick(n, now);
        pthread_mutex_lock(&n->lock);
    }
    pthread_mutex_unlock(&n->lock);
    return NULL;
}

static void on_closed(natsConnection *nc, void *closure)
{
    (void)nc;
    nats_part *n = closure;
    pthread_mutex_lock(&n->lock);
    n->conn_closed = true;
    pthread_cond_broadcast(&n->cond);
    pthread_mutex_unlock(&n->lock);
}

static void on_reconnected(natsConnection *nc, void *closure)
{
    (void)nc;
    nats_part *n = closure;
    COUNT(n, reconnects);
    pthread_mutex_lock(&n->lock);
    pthread_cond_broadcast(&n->cond);       /* fetchers waiting out a disconnect */
    pthread_mutex_unlock(&n->lock);
}

/* ---- setup: the stream and the consumers --------------------------------------------------- */

static bool has_subject(jsStreamInfo *si, const char *subject)
{
    for (int i = 0; si->Config != NULL && i < si->Config->SubjectsLen; i++)
        if (strcmp(si->Config->Subjects[i], subject) == 0)
            return true;
    return false;
}

static int ensure_stream(nats_part *n)
{
    char invoke[SUBJECT_MAX], dead[SUBJECT_MAX];
    snprintf(invoke, sizeof invoke, "%s.invoke.>", n->prefix);
    snprintf(dead, sizeof dead, "%s.deadletter.>", n->prefix);
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, n->js, n->stream, NULL, &jerr);
    if (s == NATS_OK) {
        bool ok = has_subject(si, invoke) && has_subject(si, dead) &&
                  si->Config->Retention == js_WorkQueuePolicy;
        jsStreamInfo_Destroy(si);
        if (!ok)
            return faas__fail(FAAS_EINVAL, "nats: stream %s exists but is not a work-queue "
                              "stream of %s and %s", n->stream, invoke, dead);
        return FAAS_OK;
    }
    if (s != NATS_NOT_FOUND)
        return faas__fail(FAAS_EINVAL, "nats: stream %s: %s (JetStream enabled?)", n->stream,
                          faas__nats_why(s));
    const char *subjects[] = { invoke, dead };
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = n->stream;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 2;
    cfg.Retention = js_WorkQueuePolicy;
    cfg.Storage = n->o.memory_storage ? js_MemoryStorage : js_FileStorage;
    cfg.Replicas = n->o.replicas;
    cfg.MaxAge = (int64_t)n->o.max_age_ms * 1000000;                 /* ns */
    cfg.MaxBytes = n->o.max_bytes > 0 ? n->o.max_bytes : -1;
    cfg.Discard = js_DiscardNew;        /* full: refuse new calls (resent), never drop old */
    cfg.Duplicates = (int64_t)n->o.duplicate_window_ms * 1000000;    /* ns */
    s = js_AddStream(&si, n->js, &cfg, NULL, &jerr);
    if (s == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return FAAS_OK;
    }
    /* Another process may have created it meanwhile. */
    if (js_GetStreamInfo(&si, n->js, n->stream, NULL, NULL) == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return FAAS_OK;
    }
    return faas__fail(FAAS_EINVAL, "nats: cannot create stream %s: %s (error %d)", n->stream,
                      faas__nats_why(s), (int)jerr);
}

/* ---- teardown: stop (no new work), close (hand back, disconnect, free) --------------------- */

/* Close a group of subscriptions: a drain delivers what already arrived (a result that
 * came in completes its call); then no handler of the group runs any more. */
static bool connected(nats_part *n)
{
    return n->nc != NULL && natsConnection_Status(n->nc) == NATS_CONN_STATUS_CONNECTED;
}

static void close_group(nats_part *n, natsSubscription **subs, size_t count,
                        atomic_bool *closed)
{
    /* Disconnected, nothing more can arrive: no drain (it would wait for a server). */
    for (size_t i = 0; i < count; i++)
        if (subs[i] != NULL && connected(n) && natsSubscription_Drain(subs[i]) == NATS_OK)
            natsSubscription_WaitForDrainCompletion(subs[i], 5000);
    atomic_store(closed, true);
    /* Handlers that began before the flag are short (no user code but a callback's): the
     * wait is theirs. */
    while (atomic_load(&n->in_handlers) != 0)
        sched_yield();
    for (size_t i = 0; i < count; i++)
        if (subs[i] != NULL) {
            natsSubscription_Unsubscribe(subs[i]);
            natsSubscription_Destroy(subs[i]);
            subs[i] = NULL;
        }
}

static void part_stop(faas__attachment *p)
{
    nats_part *n = (nats_part *)p;
    if (n->remote_set) {
        faas__remote_clear(n->rt);
        n->remote_set = false;
    }
    natsSubscription *subs[2] = { n->pack_sub, n->reply_sub };
    close_group(n, subs, 2, &n->producer_subs_closed);
    n->pack_sub = n->reply_sub = NULL;
    faas__nats_confirm_flush_all(n);    /* the last results' confirmations */
    pthread_mutex_lock(&n->lock);
    atomic_store(&n->stop, true);
    pthread_cond_broadcast(&n->cond);
    pthread_mutex_unlock(&n->lock);
    pthread_mutex_lock(&n->hlock);
    pthread_cond_broadcast(&n->room);
    pthread_mutex_unlock(&n->hlock);
    for (size_t i = 0; i < n->nfuncs; i++) {
        if (n->funcs[i].started)
            pthread_join(n->funcs[i].thread, NULL);
        n->funcs[i].started = false;
        if (n->funcs[i].sub != NULL) {
            natsSubscription_Unsubscribe(n->funcs[i].sub);  /* the durable stays */
            natsSubscription_Destroy(n->funcs[i].sub);
            n->funcs[i].sub = NULL;
        }
    }
    /* The calls handed to the scheduler run (their own timeouts bound this), here too when
     * faas_runtime_free() stops the part: cancelled, they would be naked, and a call at its
     * last delivery (MaxDeliver) is never delivered again. */
    pthread_mutex_lock(&n->hlock);
    while (n->running > 0)
        pthread_cond_wait(&n->idle, &n->hlock);
    pthread_mutex_unlock(&n->hlock);
}

/* Requires every call handed to the scheduler completed (n->running == 0). */
static void part_close(faas__attachment *p)
{
    nats_part *n = (nats_part *)p;
    pthread_mutex_lock(&n->lock);
    atomic_store(&n->closing, true);
    pthread_cond_broadcast(&n->cond);
    pthread_mutex_unlock(&n->lock);
    if (n->keeper_started) {
        pthread_join(n->keeper, NULL);
        n->keeper_started = false;
    }
    close_group(n, &n->wack_sub, 1, &n->worker_subs_closed);
    faas__nats_producer_cancel(n);
    faas__nats_worker_release_all(n);
    jsCtx_Destroy(n->js);
    if (n->nc != NULL) {
        if (connected(n))
            natsConnection_FlushTimeout(n->nc, 2000);   /* the last acks and naks */
        /* After the closed callback the client calls none of ours any more. */
        natsConnection_Close(n->nc);
        struct timespec at;
        clock_gettime(CLOCK_MONOTONIC, &at);
        at.tv_sec += 5;
        pthread_mutex_lock(&n->lock);
        while (!n->conn_closed)
            if (pthread_cond_timedwait(&n->cond, &n->lock, &at) != 0)
                break;
        pthread_mutex_unlock(&n->lock);
        natsConnection_Destroy(n->nc);
    }
    pthread_cond_destroy(&n->idle);
    pthread_cond_destroy(&n->room);
    pthread_mutex_destroy(&n->hlock);
    pthread_mutex_destroy(&n->plock);
    pthread_cond_destroy(&n->cond);
    pthread_mutex_destroy(&n->lock);
    free(n->funcs);
    free(n->stream);
    free(n->prefix);
    free(n->durable_prefix);
    free(n->conn_name);
    free(n);
}

/* Detach outside faas_runtime_free: stop (the calls handed to the scheduler finish and
 * settle their messages while the connection is up), then close. */
static void part_detach(nats_part *n)
{
    part_stop(&n->part);
    part_close(&n->part);
}

/* ---- the public API ------------------------------------------------------------------------ */

static char *dup_or(const char *s, const char *dflt)
{
    return strdup(s != NULL && s[0] != '\0' ? s : dflt);
}

/* url as it may be shown (an error message, a log): at most size - 1 bytes of it, its
 * user information hidden. */
static const char *url_shown(const char *url, char *buf, size_t size)
{
    snprintf(buf, size, "%s", url ? url : "(null)");
    return faas__hide_userinfo(buf);
}

/* A subject token: no dot, space or wildcard. */
static bool token_ok(const char *s, bool dots)
{
    if (s == NULL || s[0] == '\0' || strlen(s) > 64)
        return false;
    for (const char *c = s; *c; c++)
        if (*c == ' ' || *c == '*' || *c == '>' || (unsigned char)*c < 0x21 ||
            (*c == '.' && (!dots || c == s || c[1] == '\0' || c[1] == '.')))
            return false;
    return true;
}

static int connect_to(nats_part *n, const char *url)
{
    natsOptions *no = NULL;
    natsStatus s = natsOptions_Create(&no);
    if (s == NATS_OK)
        s = natsOptions_SetURL(no, url);
    if (s == NATS_OK)
        s = natsOptions_SetName(no, n->conn_name);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(no, -1);            /* for ever: never lose a call */
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(no, RECONNECT_WAIT_MS);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectBufSize(no, RECONNECT_BUF);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectedCB(no, on_reconnected, n);
    if (s == NATS_OK)
        s = natsOptions_SetClosedCB(no, on_closed, n);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(no, 2000);
    if (s == NATS_OK)
        s = natsConnection_Connect(&n->nc, no);
    natsOptions_Destroy(no);
    if (s != NATS_OK) {
        n->nc = NULL;
        char shown[256];
        return faas__fail(FAAS_EINVAL, "nats: cannot connect to %s: %s",
                          url_shown(url, shown, sizeof shown), faas__nats_why(s));
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = API_WAIT_MS;                                  /* ms */
    s = natsConnection_JetStream(&n->js, n->nc, &jo);
    if (s != NATS_OK)
        return faas__fail(FAAS_ENOMEM, "nats: JetStream context: %s", faas__nats_why(s));
    return FAAS_OK;
}

int faas_nats_attach(faas_runtime *rt, const char *url, const faas_nats_options *opts)
{
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_nats_attach: runtime is NULL");
    if (url == NULL || url[0] == '\0')
        return faas__fail(FAAS_EINVAL, "faas_nats_attach: a URL is required");
    if (rt->opts.manual)
        return faas__fail(FAAS_EINVAL, "faas_nats_attach: a runtime in manual mode has no "
                          "threads for NATS to complete calls on");
    faas_nats_options o;
    int bad = faas__abi_copy(&o, sizeof o, opts, FAAS__NATS_OPTIONS_V1, "faas_nats_attach");
    if (bad != FAAS_OK)
        return bad;
    if (o.role == 0)
        o.role = FAAS_NATS_PRODUCER;
    if (o.role < FAAS_NATS_PRODUCER || o.role > FAAS_NATS_BOTH)
        return faas__fail(FAAS_EINVAL, "faas_nats_attach: role %d is not a faas_nats_role",
                          o.role);
    if ((o.stream && !token_ok(o.stream, false)) ||
        (o.subject_prefix && !token_ok(o.subject_prefix, true)) ||
        (o.durable_prefix && !token_ok(o.durable_prefix, false)))
        return faas__fail(FAAS_EINVAL, "faas_nats_attach: stream, subject_prefix and "
                          "durable_prefix must be subject tokens (no spaces or wildcards)");
    if (o.replicas < 0 || o.replicas > 5)
        return faas__fail(FAAS_EINVAL, "faas_nats_attach: replicas must be 1 to 5");
    if (o.replicas == 0)
        o.replicas = 1;
    if (o.duplicate_window_ms == 0)
        o.duplicate_window_ms = DEFAULT_DUP_WINDOW_MS;
    if (o.max_inflight == 0)
        o.max_inflight = DEFAULT_INFLIGHT;
    if (o.fetch_batch == 0)
        o.fetch_batch = DEFAULT_BATCH;
    if (o.max_ack_pending == 0)
        o.max_ack_pending = DEFAULT_ACK_PENDING;
    if (o.retry_ms == 0)
        o.retry_ms = DEFAULT_RETRY_MS;
    if (o.result_timeout_ms == 0)
        o.result_timeout_ms = DEFAULT_RESULT_TIMEOUT;

    nats_part *n = calloc(1, sizeof *n);
    if (n == NULL)
        return faas__fail(FAAS_ENOMEM, "faas_nats_attach: out of memory");
    n->part.kind = "nats";
    n->part.stop = part_stop;
    n->part.close = part_close;
    n->rt = rt;
    n->role = o.role;
    n->stream = dup_or(o.stream, DEFAULT_STREAM);
    n->prefix = dup_or(o.subject_prefix, DEFAULT_PREFIX);
    n->durable_prefix = dup_or(o.durable_prefix, DEFAULT_PREFIX);
    n->conn_name = dup_or(o.name, "libfaas");
    o.stream = n->stream;
    o.subject_prefix = n->prefix;
    o.durable_prefix = n->durable_prefix;
    o.name = n->conn_name;
    o.functions = NULL;
    n->o = o;
    n->retry_ns = (uint64_t)o.retry_ms * 1000000u;
    n->result_timeout_ns = (uint64_t)o.result_timeout_ms * 1000000u;
    n->next_deadline_ns = UINT64_MAX;
    snprintf(n->id, sizeof n->id, "%016" PRIx64, faas__rand64());
    pthread_mutex_init(&n->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&n->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&n->plock, NULL);
    pthread_mutex_init(&n->hlock, NULL);
    pthread_cond_init(&n->room, NULL);
    pthread_cond_init(&n->idle, NULL);
    /* The counters are atomics zeroed by calloc. */

    int rc = FAAS_OK;
    if (n->stream == NULL || n->prefix == NULL || n->durable_prefix == NULL ||
        n->conn_name == NULL)
        rc = faas__fail(FAAS_ENOMEM, "faas_nats_attach: out of memory");
    if (rc == FAAS_OK && (o.role & FAAS_NATS_WORKER))
        rc = faas__nats_collect_functions(n, &o);
    if (rc == FAAS_OK)
        rc = faas__attach_add(rt, &n->part);
    bool added = rc == FAAS_OK;
    if (rc == FAAS_OK)
        rc = connect_to(n, url);
    if (rc == FAAS_OK)
        rc = ensure_stream(n);
    if (rc == FAAS_OK && (o.role & FAAS_NATS_WORKER))
        rc = faas__nats_worker_start(n);
    if (rc == FAAS_OK && (o.role & FAAS_NATS_PRODUCER))
        rc = faas__nats_producer_start(n);
    if (rc == FAAS_OK) {
        int err = pthread_create(&n->keeper, NULL, keeper_main, n);
        if (err != 0)
            rc = faas__fail(FAAS_ENOMEM, "nats: pthread_create: %s", strerror(err));
        else
            n->keeper_started = true;
    }
    if (rc != FAAS_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", faas_last_error());
        if (added)
            faas__attach_take(rt, "nats");
        part_detach(n);
        return faas__fail(rc, "%s", why);
    }
    return FAAS_OK;
}

int faas_nats_detach(faas_runtime *rt)
{
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_nats_detach: runtime is NULL");
    faas__attachment *p = faas__attach_take(rt, "nats");
    if (p == NULL)
        return faas__fail(FAAS_ENOTFOUND, "faas_nats_detach: not attached");
    part_detach((nats_part *)p);
    return FAAS_OK;
}

static void copy_stats(faas__attachment *p, void *arg)
{
    nats_part *n = (nats_part *)p;
    faas_nats_stats *out = arg;
#define LOAD(f) out->f = atomic_load_explicit(&n->st.f, memory_order_relaxed)
    LOAD(published); LOAD(republished); LOAD(results); LOAD(duplicate_results);
    LOAD(fetched); LOAD(redelivered); LOAD(acked); LOAD(naked); LOAD(dead_letters);
    LOAD(in_progress); LOAD(results_resent); LOAD(results_undelivered); LOAD(reconnects);
#undef LOAD
}

int faas_nats_stats_get(faas_runtime *rt, faas_nats_stats *out)
{
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_nats_stats_get: runtime is NULL");
    if (out == NULL)
        return faas__fail(FAAS_EINVAL, "faas_nats_stats_get: out is NULL");
    memset(out, 0, sizeof *out);
    if (!faas__attach_with(rt, "nats", copy_stats, out))
        return faas__fail(FAAS_ENOTFOUND, "faas_nats_stats_get: not attached");
    return FAAS_OK;
}
