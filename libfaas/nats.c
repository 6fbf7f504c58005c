/*
 * nats.c - distribution over NATS JetStream (optional: needs libnats). A producer publishes
 * the async calls the core offers it (faas__remote) to a work-queue stream; a worker pulls
 * the calls of its functions from one durable consumer per function, shared by every
 * worker, and runs them through its own scheduler (faas__sched_submit_once). This file owns
 * the connection, the stream and consumer setup and the delivery protocol below; it never
 * touches instances and never runs a handler itself.
 *
 * Protocol (P = subject_prefix; PID, WID = random ids of a producer's and a worker's
 * attachment; RID = the request id; every id is one subject token):
 *
 *   call         P.invoke.NAME, reply P.pack.PID.RID (the stream's PubAck comes back there),
 *                headers Nats-Msg-Id: RID (a republish within the duplicate window is
 *                dropped by the server) and, when the producer wants the outcome (a
 *                callback, a future or a dead letter of its own), Faas-Reply: P.reply.PID;
 *                the data is the payload, untouched.
 *   result       to Faas-Reply, reply P.wack.WID.TOKEN.r, header Faas-Result (RID, status,
 *                attempt and the record's numbers), data the response's. The producer
 *                confirms it on P.wack.WID.c, whose data lists the tokens it confirms (one
 *                message for all the results it had in hand): only then is the call acked.
 *                A result that is not confirmed is resent (at-least-once), and duplicates
 *                are dropped by request id at the producer, so a callback fires once.
 *   dead letter  P.deadletter.NAME (stored in the same stream), reply P.wack.WID.TOKEN.d,
 *                Nats-Msg-Id: dl-RID, data Lambda's on-failure record.
 *
 * A worker pulls with its own requests ($JS.API.CONSUMER.MSG.NEXT, replies to P.pull.WID.
 * NAME) and acknowledges with the protocol's bodies (+ACK, -NAK {"delay":ns}, +WPI, +TERM):
 * natsSubscription_Fetch of libnats 3.4.1 writes past its array when messages of an expired
 * request are still queued (seen after a server restart), and natsMsg_Ack needs its
 * subscription. It acks a message once the call is over (success, or the final failure
 * stored as a dead letter) and its result confirmed; naks a failed attempt with the backoff
 * delay; and sends in-progress acks while it holds a message over a third of AckWait. Every
 * publish that must arrive is kept until confirmed and resent by the keeper thread, so a
 * reconnect loses nothing; acks made while disconnected wait in the client's reconnect
 * buffer. Timing here (AckWait, resends) is real time, not the runtime's clock.
 */
#include "internal.h"
#include "abi.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if HAVE_NATS

#include <errno.h>
#include <inttypes.h>
#include <sched.h>

#include <jansson.h>
#include <nats/nats.h>

#define DEFAULT_STREAM          "FAAS"
#define DEFAULT_PREFIX          "faas"
#define DEFAULT_DUP_WINDOW_MS   120000u
#define DEFAULT_ACK_MARGIN_MS   5000u   /* AckWait = the function's timeout + this */
#define DEFAULT_INFLIGHT        256u
#define DEFAULT_BATCH           64u
#define DEFAULT_ACK_PENDING     65536
#define DEFAULT_RETRY_MS        1000u
#define DEFAULT_RESULT_TIMEOUT  300000u
#define FETCH_WAIT_MS           500     /* the longest a fetcher blocks: bounds detach */
#define TICK_MS                 100     /* the keeper's period */
#define RECONNECT_WAIT_MS       250
#define RECONNECT_BUF           (64 * 1024 * 1024)
#define API_WAIT_MS             5000    /* JetStream API requests (stream, consumer) */
#define SUBJECT_MAX             256

typedef struct nats_part nats_part;

/* ---- the producer's calls in flight ------------------------------------------------------ */

typedef struct pcall {
    UT_hash_handle hh;              /* in n->calls, by id */
    struct pcall  *prev, *next;     /* the unconfirmed FIFO, oldest first, while msg != NULL */
    faas__job     *job;
    natsMsg       *msg;             /* the envelope, until the stream confirms it */
    uint64_t       sent_ns;
    uint64_t       deadline_ns;     /* want_result: ends FAAS_ETIMEOUT without a result then */
    uint64_t       deadline_ms;     /* its length, for the message */
    faas__name    *name;            /* a reference, for the result's record */
    bool           want_result;
    char           id[37];
} pcall;

/* ---- the worker's messages in hand ------------------------------------------------------- */

typedef struct wfunc {
    nats_part        *n;
    char              name[FAAS__NAME_MAX + 1];
    char              subject[SUBJECT_MAX];
    char              durable[SUBJECT_MAX];
    char              next[SUBJECT_MAX + 64];   /* $JS.API.CONSUMER.MSG.NEXT.STREAM.DURABLE */
    char              inbox[SUBJECT_MAX + 32];  /* where the pulled messages come */
    natsSubscription *sub;          /* synchronous, on inbox */
    int64_t           max_deliver;
    uint64_t          progress_ns;  /* a third of AckWait: in-progress acks past this */
    pthread_t         thread;
    bool              started;
} wfunc;

enum hstate {
    H_RUNNING,                      /* the local call has not completed */
    H_DEAD_LETTER,                  /* out: the envelope, until the stream confirms it */
    H_RESULT,                       /* out: the result, until the producer confirms it */
    H_FINAL                         /* the ack (or nak) is due */
};

typedef struct held {
    UT_hash_handle hh;              /* in n->held_map, by token */
    struct held   *prev, *next;     /* in n->held_head */
    nats_part     *n;
    wfunc         *wf;
    natsMsg       *msg;
    uint64_t       token;
    int            attempt;         /* the server's NumDelivered */
    enum hstate    state;
    bool           nak;             /* H_FINAL: nak (with nak_ms delay) instead of ack */
    bool           term;            /* H_FINAL: +TERM instead of +ACK: the call ended at its
                                       last delivery without a stored dead letter */
    int64_t        nak_ms;
    uint64_t       touched_ns;      /* the server last heard of this message */
    uint64_t       sent_ns, first_sent_ns;   /* of out */
    natsMsg       *out;
    natsMsg       *result;          /* sent after the dead letter is stored */
    char          *reply;           /* Faas-Reply, or NULL */
    char           id[37];
} held;

struct nats_part {
    faas__attachment part;          /* kind "nats"; first, so the attachment is the struct */
    faas__remote    remote;
    faas_runtime   *rt;
    int             role;
    natsConnection *nc;
    jsCtx          *js;
    char            id[17];
    char           *stream, *prefix, *durable_prefix, *conn_name;
    faas_nats_options o;            /* defaults filled; strings point to the copies above */
    uint64_t        retry_ns, result_timeout_ns;

    /* The keeper thread, and the fetchers' wake-up after a reconnect or at stop. */
    pthread_mutex_t lock;           /* the condition's; stop and closing change under it */
    pthread_cond_t  cond;
    atomic_bool     stop;           /* fetchers: no new messages */
    atomic_bool     closing;        /* the keeper: exit */
    bool            conn_closed;    /* the client's closed callback ran (under lock) */
    pthread_t       keeper;
    bool            keeper_started;

    /* Subscription handlers in progress; a closed group's handlers drop their message. */
    atomic_uint     in_handlers;
    atomic_bool     producer_subs_closed, worker_subs_closed;

    /* producer */
    natsSubscription *pack_sub, *reply_sub;
    char            reply_subject[SUBJECT_MAX];
    pthread_mutex_t plock;          /* protects calls and the FIFO; held around publishes */
    /* Confirmations of results not sent yet, per worker; only the reply subscription's
     * delivery thread touches them (and close, once that subscription is closed). */
    struct confirm {
        char   subject[SUBJECT_MAX];    /* P.wack.WID.c */
        char   tokens[2048];
        size_t len;
    } confirm[8];
    unsigned        nconfirm;
    pcall          *calls;
    pcall          *fifo_head, *fifo_tail;
    uint64_t        next_deadline_ns;   /* no call's deadline is earlier (under plock) */
    bool            remote_set;

    /* worker */
    wfunc          *funcs;
    size_t          nfuncs;
    natsSubscription *wack_sub;
    char            wack_prefix[SUBJECT_MAX];
    pthread_mutex_t hlock;          /* protects the held list and map, inflight, running */
    pthread_cond_t  room;           /* fetchers wait here for inflight < max_inflight */
    pthread_cond_t  idle;           /* detach waits here for running == 0 */
    held           *held_head;
    held           *held_map;
    unsigned        inflight, running;
    uint64_t        next_token;

    struct {
        atomic_uint_fast64_t published, republished, results, duplicate_results, fetched,
            redelivered, acked, naked, dead_letters, in_progress, results_resent,
            results_undelivered, reconnects;
    } st;
};

#define COUNT(n, field) atomic_fetch_add_explicit(&(n)->st.field, 1, memory_order_relaxed)

static uint64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char *nats_why(natsStatus s)
{
    const char *last = nats_GetLastError(NULL);
    return last != NULL && last[0] != '\0' ? last : natsStatus_GetText(s);
}

/* ---- responses rebuilt at the producer ------------------------------------------------ */

/* The numbers of a record, in the order Faas-Result carries them after the id. */
#define RESULT_FMT "%36s %d %d %d %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu32 " %" SCNu32 \
                   " %" SCNu64 " %" SCNu64 " %d"

static void pcall_free(pcall *pc)
{
    if (pc->msg != NULL)
        natsMsg_Destroy(pc->msg);
    faas__name_unref(pc->name);
    free(pc);
}

/* Requires n->plock. */
static void fifo_remove(nats_part *n, pcall *pc)
{
    if (pc->prev != NULL)
        pc->prev->next = pc->next;
    else
        n->fifo_head = pc->next;
    if (pc->next != NULL)
        pc->next->prev = pc->prev;
    else
        n->fifo_tail = pc->prev;
    pc->prev = pc->next = NULL;
}

/* Requires n->plock. */
static void fifo_append(nats_part *n, pcall *pc)
{
    pc->next = NULL;
    pc->prev = n->fifo_tail;
    if (n->fifo_tail != NULL)
        n->fifo_tail->next = pc;
    else
        n->fifo_head = pc;
    n->fifo_tail = pc;
}

/* A call is over at the producer: its callback or future gets res. No lock held. */
static void pcall_complete(nats_part *n, pcall *pc, faas_response *res)
{
    faas__job_complete(n->rt, pc->job, res);
    pc->job = NULL;
    pcall_free(pc);
}

/* A call that wanted no outcome ends once the stream holds it. */
static void complete_stored(nats_part *n, pcall *pc)
{
    faas_response res;
    memset(&res, 0, sizeof res);
    res.status = FAAS_OK;
    res.data = faas__empty;
    res.log_tail = faas__empty;
    memcpy(res.record.request_id, pc->id, 37);
    res.record.attempt = 1;
    pcall_complete(n, pc, &res);
}

/* ---- producer: submit, the stream's acks, results, resends ------------------------------- */

/* How long a call that wants its outcome waits for its result, in ms: result_deadline_ms,
 * or the longest its workers can take to answer, from the function's settings here (the
 * defaults of faas_config_init() for a name not registered here) and this attachment's
 * options, which its workers are assumed to share: every delivery can last its AckWait
 * plus the function's timeout, each retry waits at most retry_cap_ms, and a worker resends
 * a result for result_timeout_ms. What remains of that last term is the call's time
 * waiting in the stream. */
static uint64_t result_deadline_ms(const nats_part *n, const faas__job *job)
{
    if (n->o.result_deadline_ms != 0)
        return n->o.result_deadline_ms;
    faas_config cfg;
    if (job->fn != NULL)
        cfg = job->fn->cfg;
    else
        faas_config_init(&cfg);
    uint64_t ack_wait = n->o.ack_wait_ms ? n->o.ack_wait_ms
                                         : (uint64_t)cfg.timeout_ms + DEFAULT_ACK_MARGIN_MS;
    uint64_t deliveries = (uint64_t)cfg.max_retries + 1;
    return deliveries * (cfg.timeout_ms + ack_wait) +
           (uint64_t)cfg.max_retries * n->rt->opts.retry_cap_ms + n->o.result_timeout_ms;
}

static int producer_submit(faas__remote *r, faas__job *job, const char *name)
{
    nats_part *n = faas__container_of(r, nats_part, remote);
    pcall *pc = calloc(1, sizeof *pc);
    if (pc == NULL)
        return faas__fail(FAAS_ENOMEM, "nats: out of memory publishing a call of %s", name);
    memcpy(pc->id, faas__job_id(job), 37);
    pc->job = job;
    pc->want_result = job->cb != NULL || job->future != NULL ||
                      (job->fn != NULL && job->fn->dead_letter != NULL);
    char subject[SUBJECT_MAX], reply[SUBJECT_MAX];
    snprintf(subject, sizeof subject, "%s.invoke.%s", n->prefix, name);
    snprintf(reply, sizeof reply, "%s.pack.%s.%s", n->prefix, n->id, pc->id);
    natsStatus s = natsMsg_Create(&pc->msg, subject, reply, (const char *)job->payload,
                                  (int)job->len);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(pc->msg, "Nats-Msg-Id", pc->id);
    if (s == NATS_OK && pc->want_result)
        s = natsMsgHeader_Set(pc->msg, "Faas-Reply", n->reply_subject);
    if (s != NATS_OK) {
        pcall_free(pc);
        return faas__fail(FAAS_ENOMEM, "nats: cannot build the message for %s: %s", name,
                          nats_why(s));
    }
    if (pc->want_result) {
        if (job->fn != NULL) {
            atomic_fetch_add_explicit(&job->fn->name->refs, 1, memory_order_relaxed);
            pc->name = job->fn->name;
        } else {
            pc->name = faas__name_new(name, NULL);
        }
    }
    pthread_mutex_lock(&n->plock);
    HASH_ADD_STR(n->calls, id, pc);
    fifo_append(n, pc);
    pc->sent_ns = real_ns();
    if (pc->want_result) {
        pc->deadline_ms = result_deadline_ms(n, job);
        pc->deadline_ns = pc->sent_ns + pc->deadline_ms * 1000000u;
        if (pc->deadline_ns < n->next_deadline_ns)
            n->next_deadline_ns = pc->deadline_ns;
    }
    /* Under plock: the stream's ack may arrive before this returns, and it destroys msg. */
    s = natsConnection_PublishMsg(n->nc, pc->msg);
    if (s == NATS_MAX_PAYLOAD) {
        HASH_DEL(n->calls, pc);
        fifo_remove(n, pc);
    }
    pthread_mutex_unlock(&n->plock);
    if (s == NATS_MAX_PAYLOAD) {
        int64_t max = natsConnection_GetMaxPayload(n->nc);
        size_t len = job->len;
        pc->job = NULL;
        pcall_free(pc);
        return faas__fail(FAAS_ETOOLARGE, "%zu byte payload is too large for the NATS "
                          "server (max_payload %" PRId64 " bytes, headers included): raise "
                          "max_payload in the server's configuration", len, max);
    }
    /* Any other failure (reconnecting with a full buffer) is the keeper's to resend: the
     * call is accepted and kept. */
    COUNT(n, published);
    return FAAS_OK;
}

/* The stream's PubAck for P.pack.PID.RID. */
/* A subscription handler may run only while its group is open; close_group() waits for
 * the ones in progress, so nothing they touch is freed under them. */
static bool handler_enter(nats_part *n, atomic_bool *closed, natsMsg *msg)
{
    atomic_fetch_add(&n->in_handlers, 1);
    if (atomic_load(closed)) {
        atomic_fetch_sub(&n->in_handlers, 1);
        natsMsg_Destroy(msg);
        return false;
    }
    return true;
}

static void handler_leave(nats_part *n)
{
    atomic_fetch_sub(&n->in_handlers, 1);
}

static void on_pack(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc; (void)sub;
    nats_part *n = closure;
    if (!handler_enter(n, &n->producer_subs_closed, msg))
        return;
    const char *subject = natsMsg_GetSubject(msg);
    const char *rid = strrchr(subject, '.');
    const char *data = natsMsg_GetData(msg);
    bool ok = !natsMsg_IsNoResponders(msg) && data != NULL &&
              strstr(data, "\"error\"") == NULL;
    pcall *done = NULL;
    if (ok && rid != NULL) {
        pcall *pc = NULL;
        pthread_mutex_lock(&n->plock);
        HASH_FIND_STR(n->calls, rid + 1, pc);
        if (pc != NULL && pc->msg != NULL) {
            fifo_remove(n, pc);
            natsMsg_Destroy(pc->msg);
            pc->msg = NULL;
            if (!pc->want_result) {
                HASH_DEL(n->calls, pc);
                done = pc;
            }
        }
        pthread_mutex_unlock(&n->plock);
    }
    /* Not ok (no stream, stream full, ...): the keeper resends it after retry_ms. */
    natsMsg_Destroy(msg);
    if (done != NULL)
        complete_stored(n, done);
    handler_leave(n);
}

/* Fill res from a result message; false if it is not one. */
static bool parse_result(natsMsg *msg, char id[37], int *dead, faas_response *res)
{
    const char *hdr = NULL;
    if (natsMsgHeader_Get(msg, "Faas-Result", &hdr) != NATS_OK || hdr == NULL)
        return false;
    memset(res, 0, sizeof *res);
    faas_record *r = &res->record;
    if (sscanf(hdr, RESULT_FMT, id, &res->status, &r->attempt, &r->cold, &r->init_ns,
               &r->duration_ns, &r->cpu_ns, &r->billed_ms, &r->memory_mb,
               &r->max_memory_bytes, &r->cost_picousd, dead) != 12)
        return false;
    id[36] = '\0';
    memcpy(r->request_id, id, 37);
    r->status = res->status;
    int len = natsMsg_GetDataLength(msg);
    res->log_tail = faas__empty;
    res->data = faas__empty;
    res->len = 0;
    if (len > 0) {
        char *data = malloc((size_t)len + 1);
        if (data != NULL) {
            memcpy(data, natsMsg_GetData(msg), (size_t)len);
            data[len] = '\0';
            res->data = data;
            res->len = (size_t)len;
        }
    }
    if (res->status != FAAS_OK) {
        /* The data of a failed call is Lambda's {"errorMessage", "errorType"} body. */
        json_t *body = json_loadb(res->data, res->len, 0, NULL);
        const char *type = json_string_value(json_object_get(body, "errorType"));
        const char *message = json_string_value(json_object_get(body, "errorMessage"));
        char *block = faas__error_block(type ? type : faas_err_name(res->status),
                                  message ? message : faas_strerror(res->status));
        json_decref(body);
        res->error_type = block;
        res->error_message = block ? block + strlen(block) + 1 : NULL;
    }
    return true;
}

static void confirm_flush(nats_part *n, struct confirm *c)
{
    if (c->len > 0)
        natsConnection_Publish(n->nc, c->subject, c->tokens, (int)c->len);
    c->len = 0;
}

static void confirm_flush_all(nats_part *n)
{
    for (unsigned i = 0; i < n->nconfirm; i++)
        confirm_flush(n, &n->confirm[i]);
    n->nconfirm = 0;
}

/* Confirm the result whose reply was P.wack.WID.TOKEN.r: batched per worker, sent when no
 * other result is waiting (or a batch is full), so a burst of results costs one message. */
static void confirm_add(nats_part *n, const char *reply, natsSubscription *sub)
{
    const char *kind = strrchr(reply, '.');
    const char *token = NULL;
    for (const char *p = kind - 1; kind != NULL && p > reply; p--)
        if (*p == '.') {
            token = p + 1;
            break;
        }
    size_t plen = token ? (size_t)(token - reply) : 0;    /* "P.wack.WID." */
    size_t tlen = token ? (size_t)(kind - token) : 0;
    if (token == NULL || plen + 2 > SUBJECT_MAX || tlen == 0 || tlen > 20) {
        natsConnection_Publish(n->nc, reply, NULL, 0);   /* not ours: answer it alone */
        return;
    }
    struct confirm *c = NULL;
    for (unsigned i = 0; i < n->nconfirm && c == NULL; i++)
        if (strncmp(n->confirm[i].subject, reply, plen) == 0 &&
            strcmp(n->confirm[i].subject + plen, "c") == 0)
            c = &n->confirm[i];
    if (c == NULL) {
        if (n->nconfirm == sizeof n->confirm / sizeof n->confirm[0])
            confirm_flush_all(n);
        c = &n->confirm[n->nconfirm++];
        memcpy(c->subject, reply, plen);
        memcpy(c->subject + plen, "c", 2);
        c->len = 0;
    }
    if (c->len + tlen + 1 > sizeof c->tokens)
        confirm_flush(n, c);
    if (c->len > 0)
        c->tokens[c->len++] = ' ';
    memcpy(c->tokens + c->len, token, tlen);
    c->len += tlen;
    int pending = 0;
    if (natsSubscription_GetPending(sub, &pending, NULL) != NATS_OK || pending == 0)
        confirm_flush_all(n);
}

/* A result on P.reply.PID: complete the call once, confirm it to the worker always. */
static void on_result(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    nats_part *n = closure;
    if (!handler_enter(n, &n->producer_subs_closed, msg))
        return;
    char id[37];
    int dead = 0;
    faas_response res;
    if (!parse_result(msg, id, &dead, &res)) {
        natsMsg_Destroy(msg);
        handler_leave(n);
        return;
    }
    pcall *pc = NULL;
    pthread_mutex_lock(&n->plock);
    HASH_FIND_STR(n->calls, id, pc);
    if (pc != NULL) {
        HASH_DEL(n->calls, pc);
        if (pc->msg != NULL)            /* the result came before the stream's ack */
            fifo_remove(n, pc);
    }
    pthread_mutex_unlock(&n->plock);
    const char *reply = natsMsg_GetReply(msg);
    if (reply != NULL)
        confirm_add(n, reply, sub);
    natsMsg_Destroy(msg);
    if (pc == NULL) {
        COUNT(n, duplicate_results);
        faas_response_free(&res);
        handler_leave(n);
        return;
    }
    COUNT(n, results);
    if (pc->name != NULL) {
        res.record.function = pc->name->name;   /* the reference moves to the response */
        res.record.tag = pc->name->tag;
        pc->name = NULL;
    }
    if (dead && pc->job->fn != NULL) {
        pc->job->attempt = res.record.attempt;
        faas__job_dead_letter(n->rt, pc->job, &res);
    }
    pcall_complete(n, pc, &res);
    handler_leave(n);
}

/* Resend what the stream has not confirmed within retry_ms (same Nats-Msg-Id: a copy that
 * did arrive is dropped by the server). */
static void producer_tick(nats_part *n, uint64_t now)
{
    pthread_mutex_lock(&n->plock);
    for (unsigned i = 0; i < 4096 && n->fifo_head != NULL; i++) {
        pcall *pc = n->fifo_head;
        if (now - pc->sent_ns < n->retry_ns)
            break;
        fifo_remove(n, pc);
        natsConnection_PublishMsg(n->nc, pc->msg);
        pc->sent_ns = now;
        fifo_append(n, pc);
        COUNT(n, republished);
    }
    pthread_mutex_unlock(&n->plock);
}

/* Calls whose result did not come by their deadline end FAAS_ETIMEOUT (once: a result that
 * comes later finds no call and is counted as a duplicate). Their envelopes are no longer
 * resent. The table is scanned only once the earliest deadline has passed. */
static void producer_expire(nats_part *n, uint64_t now)
{
    pcall *expired = NULL;
    pthread_mutex_lock(&n->plock);
    if (now >= n->next_deadline_ns) {
        uint64_t next = UINT64_MAX;
        pcall *pc, *tmp;
        HASH_ITER(hh, n->calls, pc, tmp) {
            if (!pc->want_result)
                continue;
            if (pc->deadline_ns > now) {
                if (pc->deadline_ns < next)
                    next = pc->deadline_ns;
                continue;
            }
            HASH_DEL(n->calls, pc);
            if (pc->msg != NULL)
                fifo_remove(n, pc);
            pc->next = expired;         /* out of the FIFO: the link is free */
            expired = pc;
        }
        n->next_deadline_ns = next;
    }
    pthread_mutex_unlock(&n->plock);
    while (expired != NULL) {
        pcall *pc = expired;
        expired = pc->next;
        faas_response res;
        faas__response_service_error(&res, FAAS_ETIMEOUT, pc->id, NULL,
                                     "nats: the result of this call of %s never came: none "
                                     "within its result deadline of %" PRIu64 " ms (the "
                                     "call may still run on a worker; a later result is "
                                     "dropped)", pc->name ? pc->name->name : "a function",
                                     pc->deadline_ms);
        if (pc->name != NULL) {
            res.record.function = pc->name->name;   /* the reference moves to res */
            res.record.tag = pc->name->tag;
            pc->name = NULL;
        }
        pcall_complete(n, pc, &res);
    }
}

/* Every call still in flight ends FAAS_ESHUTDOWN: it may still run on a worker, but its
 * outcome will not be seen here. Requires the result subscriptions closed. */
static void producer_cancel(nats_part *n)
{
    pthread_mutex_lock(&n->plock);
    pcall *all = n->calls;
    n->calls = NULL;
    n->fifo_head = n->fifo_tail = NULL;
    pthread_mutex_unlock(&n->plock);
    pcall *pc, *tmp;
    HASH_ITER(hh, all, pc, tmp) {
        HASH_DELETE(hh, all, pc);
        faas_response res;
        faas__response_service_error(&res, FAAS_ESHUTDOWN, pc->id, NULL,
                                     "detached from NATS before the call's outcome came "
                                     "back (it may still run on a worker)");
        pcall_complete(n, pc, &res);
    }
}

/* ---- worker: fetch, run, settle --------------------------------------------------------- */

static void held_free(held *h)
{
    if (h->msg != NULL)
        natsMsg_Destroy(h->msg);
    if (h->out != NULL)
        natsMsg_Destroy(h->out);
    if (h->result != NULL)
        natsMsg_Destroy(h->result);
    free(h->reply);
    free(h);
}

/* Free a list of held messages linked by next (settled ones, taken out of the table). */
static void held_free_list(held *h)
{
    while (h != NULL) {
        held *next = h->next;
        held_free(h);
        h = next;
    }
}

/* Requires n->hlock. Take h out of the worker's hands; the caller frees it unlocked. */
static void held_remove(nats_part *n, held *h)
{
    HASH_DEL(n->held_map, h);
    if (h->prev != NULL)
        h->prev->next = h->next;
    else
        n->held_head = h->next;
    if (h->next != NULL)
        h->next->prev = h->prev;
    n->inflight--;
    pthread_cond_signal(&n->room);
}

/* An acknowledgement of a pulled message: +ACK, -NAK, -NAK {"delay":ns}, +WPI or +TERM.
 * While disconnected it waits in the client's reconnect buffer. */
static natsStatus js_ack(nats_part *n, natsMsg *msg, const char *body)
{
    const char *reply = natsMsg_GetReply(msg);
    if (reply == NULL)
        return NATS_INVALID_ARG;
    return natsConnection_Publish(n->nc, reply, body, (int)strlen(body));
}

static natsStatus js_nak(nats_part *n, natsMsg *msg, int64_t delay_ms)
{
    char body[64];
    if (delay_ms <= 0)
        return js_ack(n, msg, "-NAK");
    snprintf(body, sizeof body, "-NAK {\"delay\":%" PRId64 "}", delay_ms * 1000000);  /* ns */
    return js_ack(n, msg, body);
}

/* The delivery count of a pulled message, from its reply subject:
 * $JS.ACK.STREAM.CONSUMER.DELIVERED.SSEQ.CSEQ.TIME.PENDING, or with the domain and account
 * hash after ACK (12 tokens). 1 if it cannot be read. */
static int delivery_count(natsMsg *msg)
{
    const char *reply = natsMsg_GetReply(msg);
    if (reply == NULL || strncmp(reply, "$JS.ACK.", 8) != 0)
        return 1;
    const char *tok[16];
    int count = 0;
    for (const char *p = reply; p != NULL && count < 16; p = strchr(p, '.'), p = p ? p + 1 : p)
        tok[count++] = p;
    const char *delivered = count == 9 ? tok[4] : count >= 11 ? tok[6] : NULL;
    long v = delivered ? strtol(delivered, NULL, 10) : 1;
    return v > 0 && v < 1000000 ? (int)v : 1;
}

/* Requires n->hlock. Do h's next step; true if h is settled (removed: free it unlocked). */
static bool advance(nats_part *n, held *h, uint64_t now)
{
    switch (h->state) {
    case H_RUNNING:
        return false;
    case H_DEAD_LETTER:
    case H_RESULT:
        natsConnection_PublishMsg(n->nc, h->out);  /* a failure: the keeper resends */
        h->sent_ns = now;
        return false;
    case H_FINAL: {
        natsStatus s = h->nak ? js_nak(n, h->msg, h->nak_ms)
                              : js_ack(n, h->msg, h->term ? "+TERM" : "+ACK");
        if (s != NATS_OK)
            return false;           /* the keeper tries again */
        if (h->nak)
            COUNT(n, naked);
        else
            COUNT(n, acked);
        held_remove(n, h);
        return true;
    }
    }
    return false;
}

static natsMsg *make_out(nats_part *n, held *h, const char *subject, char kind,
                         const char *data, size_t len)
{
    char reply[SUBJECT_MAX + 32];
    snprintf(reply, sizeof reply, "%s.%" PRIu64 ".%c", n->wack_prefix, h->token, kind);
    natsMsg *m = NULL;
    if (natsMsg_Create(&m, subject, reply, data, (int)len) != NATS_OK)
        return NULL;
    return m;
}

/* The result message for h's producer (the reply cut to an error if it cannot fit). */
static natsMsg *make_result(nats_part *n, held *h, const faas_response *res, bool dead)
{
    const faas_record *r = &res->record;
    int status = res->status;
    const char *data = res->data ? res->data : "";
    size_t len = res->len;
    char *body = NULL, *too_large = NULL;
    if (status != FAAS_OK && len == 0 && res->error_type != NULL) {
        /* A service error (no handler ran) has no body: the producer reads the error's
         * type and message from one, as it does for a handler's error. */
        json_t *o = json_pack("{s:s, s:s}", "errorMessage",
                              res->error_message ? res->error_message : "", "errorType",
                              res->error_type);
        body = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(o);
        if (body != NULL) {
            data = body;
            len = strlen(body);
        }
    }
    int64_t max = natsConnection_GetMaxPayload(n->nc);
    if (max > 0 && (int64_t)len + 1024 > max) {
        json_t *o = json_pack("{s:s, s:s}", "errorMessage",
                              "The reply is larger than the NATS server's max_payload",
                              "errorType", "Function.ResponseSizeTooLarge");
        too_large = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(o);
        status = FAAS_ETOOLARGE;
        data = too_large ? too_large : "";
        len = strlen(data);
    }
    char hdr[512];
    snprintf(hdr, sizeof hdr, "%s %d %d %d %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu32
             " %" PRIu32 " %" PRIu64 " %" PRIu64 " %d", h->id, status, h->attempt, r->cold,
             r->init_ns, r->duration_ns, r->cpu_ns, r->billed_ms, r->memory_mb,
             r->max_memory_bytes, r->cost_picousd, dead ? 1 : 0);
    natsMsg *m = make_out(n, h, h->reply, 'r', data, len);
    if (m != NULL && natsMsgHeader_Set(m, "Faas-Result", hdr) != NATS_OK) {
        natsMsg_Destroy(m);
        m = NULL;
    }
    free(body);
    free(too_large);
    return m;
}

/* The envelope carries the payload and the reply, so it can be larger than the call: one
 * the server would refuse (max_payload) could never be stored, and its call would be held
 * for ever. Then the request payload is cut (halved until it fits), and, if that is not
 * enough, the response's body (its error type and message stay). */
static natsMsg *make_dead_letter(nats_part *n, held *h, const faas_response *res)
{
    int64_t max = natsConnection_GetMaxPayload(n->nc);
    size_t room = max > 1024 ? (size_t)max - 1024 : 0;     /* subject, headers */
    size_t plen = (size_t)natsMsg_GetDataLength(h->msg);
    faas_response cut = *res;
    char *text;
    for (;;) {
        text = faas__dead_letter_envelope(n->rt, h->id, h->wf->name, "RetriesExhausted",
                                          h->attempt, natsMsg_GetData(h->msg), plen, &cut);
        if (text == NULL || max <= 0 || strlen(text) <= room || (plen == 0 && cut.len == 0))
            break;
        free(text);
        if (plen > 0) {
            plen /= 2;
        } else {
            cut.data = NULL;
            cut.len = 0;
        }
    }
    if (text == NULL)
        return NULL;
    char subject[SUBJECT_MAX], msgid[48];
    snprintf(subject, sizeof subject, "%s.deadletter.%s", n->prefix, h->wf->name);
    snprintf(msgid, sizeof msgid, "dl-%s", h->id);
    natsMsg *m = make_out(n, h, subject, 'd', text, strlen(text));
    free(text);
    if (m != NULL && natsMsgHeader_Set(m, "Nats-Msg-Id", msgid) != NATS_OK) {
        natsMsg_Destroy(m);
        m = NULL;
    }
    return m;
}

/* The body of the error result a worker sends when it runs out of memory at a call's last
 * delivery: static, so it needs none. */
static const char oom_body[] =
    "{\"errorMessage\":\"The worker ran out of memory finishing the call's last delivery; "
    "no dead letter was stored\",\"errorType\":\"ServiceException\"}";

static void oom_response(faas_response *res, const char *id, int attempt)
{
    memset(res, 0, sizeof *res);
    res->status = FAAS_ENOMEM;
    res->data = (char *)oom_body;
    res->len = sizeof oom_body - 1;
    res->log_tail = faas__empty;
    memcpy(res->record.request_id, id, 37);
    res->record.status = FAAS_ENOMEM;
    res->record.attempt = attempt;
}

/* Is this the last delivery JetStream makes of h's message? A nak then is never followed by
 * another delivery, so the call must end here. */
static bool last_delivery(const held *h)
{
    return h->attempt >= h->wf->max_deliver;
}

/* The local call of h is over (a scheduler worker, or the thread freeing the runtime).
 * Before the last delivery a call that did not run here (the function is not registered
 * on this worker, the runtime is closing, the queue is full) or failed retryably is naked,
 * for another attempt, perhaps on another worker. At the last delivery nothing is naked:
 * the call ends with its dead letter, its result, then the ack; without the memory for
 * them, with what could be built and a +TERM. */
static void worker_done(const faas_response *res, void *arg)
{
    held *h = arg;
    nats_part *n = h->n;
    int status = res->status;
    bool last = last_delivery(h);
    bool not_run = status == FAAS_ESHUTDOWN || status == FAAS_ENOTFOUND ||
                   status == FAAS_EBUSY;
    natsMsg *dead = NULL, *result = NULL;
    bool nak = false, term = false;
    int64_t nak_ms = 0;
    faas_response own;
    bool own_used = false;
    if (not_run && !last) {
        nak = true;                 /* not a run: hand it back for another worker */
    } else if (status != FAAS_OK && faas__retryable(status) && !last) {
        nak = true;
        nak_ms = (int64_t)(faas__backoff_ns(n->rt, h->attempt) / 1000000u);
    } else {
        if (not_run && res->error_type == NULL) {
            /* Refused before it ran (faas__sched_submit_once): say why, as Lambda would. */
            if (status == FAAS_ENOTFOUND)
                faas__response_service_error(&own, status, h->id, NULL,
                                             "Function not found: %s is not registered on "
                                             "the worker that took its last delivery",
                                             h->wf->name);
            else
                faas__response_service_error(&own, status, h->id, NULL,
                                             "%s could not run on the worker that took its "
                                             "last delivery: %s", h->wf->name,
                                             faas_strerror(status));
            own.record.attempt = h->attempt;
            own_used = true;
            res = &own;
        }
        if (status != FAAS_OK)
            dead = make_dead_letter(n, h, res);
        if (h->reply != NULL)
            result = make_result(n, h, res, status != FAAS_OK);
        bool no_memory = (status != FAAS_OK && dead == NULL) ||
                         (h->reply != NULL && result == NULL);
        if (no_memory && !last) {
            /* No memory for what must be sent: not acked, so not lost; tried again. */
            if (dead != NULL)
                natsMsg_Destroy(dead);
            if (result != NULL)
                natsMsg_Destroy(result);
            dead = result = NULL;
            nak = true;
            nak_ms = 1000;
        } else if (no_memory) {
            /* The last delivery: a nak would strand the call. What could be built goes
             * out (the result, or a static error for the producer), and the message is
             * terminated, not acked: the server's terminated advisory records it. */
            if (dead != NULL)
                natsMsg_Destroy(dead);
            dead = NULL;
            if (h->reply != NULL && result == NULL) {
                faas_response oom;
                oom_response(&oom, h->id, h->attempt);
                result = make_result(n, h, &oom, false);
            }
            term = true;
        }
    }
    if (own_used)
        faas_response_free(&own);
    uint64_t now = real_ns();
    pthread_mutex_lock(&n->hlock);
    n->running--;
    if (n->running == 0)
        pthread_cond_broadcast(&n->idle);
    h->nak = nak;
    h->term = term;
    h->nak_ms = nak_ms;
    if (dead != NULL) {
        h->state = H_DEAD_LETTER;
        h->out = dead;
        h->result = result;
        h->first_sent_ns = now;
    } else if (result != NULL) {
        h->state = H_RESULT;
        h->out = result;
        h->first_sent_ns = now;
    } else {
        h->state = H_FINAL;
    }
    bool settled = advance(n, h, now);
    pthread_mutex_unlock(&n->hlock);
    if (settled)
        held_free(h);
}

/* P.wack.WID.c: a producer confirms the results of these tokens: ack their calls. */
static void confirmed(nats_part *n, const char *tokens)
{
    held *settled = NULL;
    uint64_t now = real_ns();
    pthread_mutex_lock(&n->hlock);
    for (const char *p = tokens; p != NULL && *p != '\0';) {
        char *end;
        uint64_t token = strtoull(p, &end, 10);
        if (end == p)
            break;
        p = end;
        held *h = NULL;
        HASH_FIND(hh, n->held_map, &token, sizeof token, h);
        if (h != NULL && h->state == H_RESULT) {
            natsMsg_Destroy(h->out);
            h->out = NULL;
            h->state = H_FINAL;
            if (advance(n, h, now)) {
                h->next = settled;
                settled = h;
            }
        }
    }
    pthread_mutex_unlock(&n->hlock);
    held_free_list(settled);
}

/* P.wack.WID.TOKEN.{d,r}: the stream stored a dead letter, or a producer has a result. */
static void on_wack(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc; (void)sub;
    nats_part *n = closure;
    if (!handler_enter(n, &n->worker_subs_closed, msg))
        return;
    const char *subject = natsMsg_GetSubject(msg);
    size_t plen = strlen(n->wack_prefix);
    uint64_t token = 0;
    char kind = 0;
    if (strncmp(subject, n->wack_prefix, plen) == 0 && strcmp(subject + plen, ".c") == 0) {
        confirmed(n, natsMsg_GetData(msg));
        natsMsg_Destroy(msg);
        handler_leave(n);
        return;
    }
    if (strncmp(subject, n->wack_prefix, plen) == 0 && subject[plen] == '.') {
        char *end;
        token = strtoull(subject + plen + 1, &end, 10);
        if (end[0] == '.')
            kind = end[1];
    }
    /* A result published while its producer had no subscription (a reconnect in progress)
     * comes back as the server's "503 no responders" status: not a confirmation, the
     * keeper resends it. */
    const char *data = natsMsg_GetData(msg);
    bool no_responders = natsMsg_IsNoResponders(msg);
    bool stored_ok = kind == 'd' && !no_responders && data != NULL &&
                     strstr(data, "\"error\"") == NULL;
    if (no_responders)
        kind = 0;
    held *h = NULL;
    bool settled = false;
    pthread_mutex_lock(&n->hlock);
    HASH_FIND(hh, n->held_map, &token, sizeof token, h);
    uint64_t now = real_ns();
    if (h != NULL && h->state == H_DEAD_LETTER && stored_ok) {
        COUNT(n, dead_letters);
        natsMsg_Destroy(h->out);
        h->out = h->result;
        h->result = NULL;
        h->state = h->out != NULL ? H_RESULT : H_FINAL;
        h->first_sent_ns = now;
        settled = advance(n, h, now);
    } else if (h != NULL && h->state == H_RESULT && kind == 'r') {
        natsMsg_Destroy(h->out);
        h->out = NULL;
        h->state = H_FINAL;
        settled = advance(n, h, now);
    }
    pthread_mutex_unlock(&n->hlock);
    natsMsg_Destroy(msg);
    if (settled)
        held_free(h);
    handler_leave(n);
}

/* Out of memory at the last delivery of msg, before it is held: send its producer (if it
 * wants the outcome) the static out-of-memory error, built without a held entry of its own
 * (token 0 is never held, so the confirmation is ignored). Best effort: if even that fails,
 * the producer's result deadline ends the call. */
static void answer_out_of_memory(nats_part *n, wfunc *wf, natsMsg *msg, int attempt)
{
    const char *id = NULL, *reply = NULL;
    if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) != NATS_OK || id == NULL ||
        strlen(id) != 36 || natsMsgHeader_Get(msg, "Faas-Reply", &reply) != NATS_OK ||
        reply == NULL)
        return;
    held tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.n = n;
    tmp.wf = wf;
    tmp.attempt = attempt;
    tmp.reply = (char *)reply;          /* borrowed from msg for make_result */
    memcpy(tmp.id, id, 37);
    faas_response oom;
    oom_response(&oom, tmp.id, attempt);
    natsMsg *m = make_result(n, &tmp, &oom, false);
    if (m != NULL) {
        natsConnection_PublishMsg(n->nc, m);
        natsMsg_Destroy(m);
    }
}

/* A fetched message: hold it and hand its call to the scheduler. Takes msg. */
static void take_message(nats_part *n, wfunc *wf, natsMsg *msg)
{
    COUNT(n, fetched);
    int attempt = delivery_count(msg);
    if (attempt > 1)
        COUNT(n, redelivered);
    const char *id = NULL, *reply = NULL;
    held *h = calloc(1, sizeof *h);
    if (h == NULL || natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) != NATS_OK || id == NULL ||
        strlen(id) != 36) {
        /* Not a call made by libfaas: terminate it rather than loop on it. No memory: try
         * again later, but at the last delivery, where a nak would strand the call, answer
         * the producer with a static error and terminate it. */
        if (h == NULL && attempt < wf->max_deliver) {
            js_nak(n, msg, 1000);
        } else {
            if (h == NULL)
                answer_out_of_memory(n, wf, msg, attempt);
            js_ack(n, msg, "+TERM");
        }
        free(h);
        natsMsg_Destroy(msg);
        return;
    }
    if (natsMsgHeader_Get(msg, "Faas-Reply", &reply) == NATS_OK && reply != NULL)
        h->reply = strdup(reply);
    memcpy(h->id, id, 37);
    h->n = n;
    h->wf = wf;
    h->msg = msg;
    h->attempt = attempt;
    h->state = H_RUNNING;
    h->touched_ns = real_ns();
    pthread_mutex_lock(&n->hlock);
    h->token = ++n->next_token;
    HASH_ADD(hh, n->held_map, token, sizeof h->token, h);
    h->next = n->held_head;
    if (n->held_head != NULL)
        n->held_head->prev = h;
    n->held_head = h;
    n->inflight++;
    n->running++;
    pthread_mutex_unlock(&n->hlock);
    int rc = faas__sched_submit_once(n->rt, wf->name, natsMsg_GetData(msg),
                                     (size_t)natsMsg_GetDataLength(msg), h->id, attempt,
                                     worker_done, h);
    if (rc != FAAS_OK) {
        /* Not accepted here (unregistered, shutting down): nobody completes it, so this
         * thread settles it as a completion would. */
        faas_response res;
        memset(&res, 0, sizeof res);
        res.status = rc;
        worker_done(&res, h);
    }
}

/* One pull request for up to batch messages; each is handed on as it arrives. Returns how
 * many came, or -1 if the request could not be made (disconnected). A message of an earlier
 * request that arrives late is taken as well; its status line (404, 408) may end this
 * round early, which costs one more request. */
static int pull(nats_part *n, wfunc *wf, int batch)
{
    char req[96];
    int len = snprintf(req, sizeof req, "{\"batch\":%d,\"expires\":%" PRId64 "}", batch,
                       (int64_t)(FETCH_WAIT_MS - 50) * 1000000);    /* ns */
    if (natsConnection_PublishRequest(n->nc, wf->next, wf->inbox, req, len) != NATS_OK)
        return -1;
    uint64_t deadline = real_ns() + (uint64_t)FETCH_WAIT_MS * 1000000u;
    int got = 0;
    while (got < batch) {
        uint64_t now = real_ns();
        if (now >= deadline)
            break;
        natsMsg *msg = NULL;
        natsStatus s = natsSubscription_NextMsg(&msg, wf->sub,
                                                (int64_t)((deadline - now) / 1000000u) + 1);
        if (s == NATS_TIMEOUT)
            break;
        if (s != NATS_OK)
            return got > 0 ? got : -1;
        const char *status = NULL;
        if (natsMsgHeader_Get(msg, "Status", &status) == NATS_OK && status != NULL) {
            natsMsg_Destroy(msg);       /* 404 nothing now, 408 expired, 409 ... */
            break;
        }
        take_message(n, wf, msg);
        got++;
    }
    return got;
}

static void *fetch_main(void *arg)
{
    wfunc *wf = arg;
    nats_part *n = wf->n;
    for (;;) {
        /* Room for a whole batch: a fetch is a round trip, and fetching the one message
         * that just left would make it one per message. */
        unsigned want = n->o.fetch_batch < n->o.max_inflight ? n->o.fetch_batch
                                                             : n->o.max_inflight;
        pthread_mutex_lock(&n->hlock);
        while (n->inflight + want > n->o.max_inflight && !atomic_load(&n->stop))
            pthread_cond_wait(&n->room, &n->hlock);
        unsigned room = n->o.max_inflight - n->inflight;
        bool stop = atomic_load(&n->stop);
        pthread_mutex_unlock(&n->hlock);
        if (stop)
            break;
        int batch = (int)(room < n->o.fetch_batch ? room : n->o.fetch_batch);
        if (pull(n, wf, batch) < 0) {
            /* Disconnected (or the consumer is gone): wait for a reconnect or the stop,
             * at most a fetch's time, then try again. */
            struct timespec at;
            clock_gettime(CLOCK_MONOTONIC, &at);
            at.tv_nsec += FETCH_WAIT_MS * 1000000L;
            at.tv_sec += at.tv_nsec / 1000000000L;
            at.tv_nsec %= 1000000000L;
            pthread_mutex_lock(&n->lock);
            if (!atomic_load(&n->stop))
                pthread_cond_timedwait(&n->cond, &n->lock, &at);
            pthread_mutex_unlock(&n->lock);
        }
    }
    return NULL;
}

/* In-progress acks for what is held long, resends of unconfirmed envelopes and results,
 * acks that could not be sent. */
static void worker_tick(nats_part *n, uint64_t now)
{
    held *settled = NULL;
    pthread_mutex_lock(&n->hlock);
    for (held *h = n->held_head, *next; h != NULL; h = next) {
        next = h->next;
        if (h->state != H_FINAL && now - h->touched_ns >= h->wf->progress_ns) {
            if (js_ack(n, h->msg, "+WPI") == NATS_OK) {
                h->touched_ns = now;
                COUNT(n, in_progress);
            }
        }
        if (h->state == H_RESULT && now - h->first_sent_ns >= n->result_timeout_ns) {
            /* The producer is gone: its callbacks are gone with it. */
            COUNT(n, results_undelivered);
            natsMsg_Destroy(h->out);
            h->out = NULL;
            h->state = H_FINAL;
        }
        if ((h->state == H_DEAD_LETTER || h->state == H_RESULT) &&
            now - h->sent_ns >= n->retry_ns) {
            if (h->state == H_RESULT)
                COUNT(n, results_resent);
            advance(n, h, now);
        } else if (h->state == H_FINAL && advance(n, h, now)) {
            h->next = settled;
            settled = h;
        }
    }
    pthread_mutex_unlock(&n->hlock);
    held_free_list(settled);
}

/* At close: what is still held goes back to the stream for another worker (a nak, which
 * may make a duplicate run: handlers de-duplicate by request id). Not at its last delivery,
 * where a nak is never followed by another: a call whose outcome is known ends here, its
 * unconfirmed dead letter and result sent once more (best effort, flushed at close) and
 * the message acked, or terminated if its dead letter was never stored. */
static void worker_release_all(nats_part *n)
{
    pthread_mutex_lock(&n->hlock);
    held *all = n->held_head;
    n->held_head = NULL;
    HASH_CLEAR(hh, n->held_map);
    n->inflight = 0;
    pthread_mutex_unlock(&n->hlock);
    while (all != NULL) {
        held *next = all->next;
        bool last = last_delivery(all);
        if (all->state == H_DEAD_LETTER) {
            /* Its producer gets the result now or never (a non-retryable failure is not
             * run again for it, and the last delivery is not delivered again). */
            if (last)
                natsConnection_PublishMsg(n->nc, all->out);
            if (all->result != NULL)
                natsConnection_PublishMsg(n->nc, all->result);
            if (last)
                js_ack(n, all->msg, "+TERM");
            else
                js_nak(n, all->msg, 0);
        } else if (all->state == H_RESULT && last) {
            natsConnection_PublishMsg(n->nc, all->out);
            js_ack(n, all->msg, all->term ? "+TERM" : "+ACK");
        } else if (all->state == H_FINAL && !all->nak) {
            js_ack(n, all->msg, all->term ? "+TERM" : "+ACK");
        } else {
            js_nak(n, all->msg, 0);
        }
        held_free(all);
        all = next;
    }
}

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
        uint64_t now = real_ns();
        if (n->role & FAAS_NATS_PRODUCER) {
            producer_tick(n, now);
            producer_expire(n, now);
        }
        if (n->role & FAAS_NATS_WORKER)
            worker_tick(n, now);
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
                          nats_why(s));
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
                      nats_why(s), (int)jerr);
}

/* The durable consumer of one function, created if missing, its timing set to ours. */
static int ensure_consumer(nats_part *n, wfunc *wf, const faas_config *cfg)
{
    unsigned ack_wait = n->o.ack_wait_ms ? n->o.ack_wait_ms
                                         : cfg->timeout_ms + DEFAULT_ACK_MARGIN_MS;
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = wf->durable;
    cc.FilterSubject = wf->subject;
    cc.AckPolicy = js_AckExplicit;
    cc.DeliverPolicy = js_DeliverAll;
    cc.AckWait = (int64_t)ack_wait * 1000000;                 /* ns */
    cc.MaxDeliver = wf->max_deliver;
    cc.MaxAckPending = n->o.max_ack_pending;
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetConsumerInfo(&ci, n->js, n->stream, wf->durable, NULL, &jerr);
    if (s == NATS_NOT_FOUND) {
        s = js_AddConsumer(&ci, n->js, n->stream, &cc, NULL, &jerr);
        if (s != NATS_OK)       /* another worker made it meanwhile: align it below */
            s = js_GetConsumerInfo(&ci, n->js, n->stream, wf->durable, NULL, &jerr);
    }
    if (s != NATS_OK)
        return faas__fail(FAAS_EINVAL, "nats: consumer %s: %s (error %d)", wf->durable,
                          nats_why(s), (int)jerr);
    bool same = ci->Config != NULL && ci->Config->AckWait == cc.AckWait &&
                ci->Config->MaxDeliver == cc.MaxDeliver &&
                ci->Config->MaxAckPending == cc.MaxAckPending;
    jsConsumerInfo_Destroy(ci);
    ci = NULL;
    if (!same) {
        /* Workers of one function should agree; the last one to attach sets the timing. */
        s = js_UpdateConsumer(&ci, n->js, n->stream, &cc, NULL, &jerr);
        if (s != NATS_OK)
            return faas__fail(FAAS_EINVAL, "nats: cannot update consumer %s: %s (error %d)",
                              wf->durable, nats_why(s), (int)jerr);
        jsConsumerInfo_Destroy(ci);
    }
    wf->progress_ns = (uint64_t)ack_wait * 1000000u / 3;
    snprintf(wf->next, sizeof wf->next, "$JS.API.CONSUMER.MSG.NEXT.%s.%s", n->stream,
             wf->durable);
    snprintf(wf->inbox, sizeof wf->inbox, "%s.pull.%s.%s", n->prefix, n->id, wf->name);
    s = natsConnection_SubscribeSync(&wf->sub, n->nc, wf->inbox);
    if (s == NATS_OK)
        s = natsSubscription_SetPendingLimits(wf->sub, -1, -1);
    if (s != NATS_OK)
        return faas__fail(FAAS_EINVAL, "nats: subscribe %s: %s", wf->inbox, nats_why(s));
    return FAAS_OK;
}

/* The names the worker serves: opts->functions, or every function registered now. */
static int collect_functions(nats_part *n, const faas_nats_options *opts)
{
    faas_runtime *rt = n->rt;
    size_t count = 0;
    pthread_rwlock_rdlock(&rt->reg_lock);
    if (opts != NULL && opts->functions != NULL)
        while (opts->functions[count] != NULL)
            count++;
    else
        count = HASH_COUNT(rt->fns);
    n->funcs = count ? calloc(count, sizeof *n->funcs) : NULL;
    if (count > 0 && n->funcs == NULL) {
        pthread_rwlock_unlock(&rt->reg_lock);
        return faas__fail(FAAS_ENOMEM, "nats: out of memory");
    }
    int rc = FAAS_OK;
    faas_function *fn, *tmp;
    size_t i = 0;
    if (opts != NULL && opts->functions != NULL) {
        for (; i < count && rc == FAAS_OK; i++) {
            const char *name = opts->functions[i];
            fn = NULL;
            if (faas__valid_name(name, NULL))
                HASH_FIND_STR(rt->fns, name, fn);
            if (fn == NULL)
                rc = faas__fail(FAAS_ENOTFOUND, "nats: worker function %.80s is not "
                                "registered", name ? name : "(null)");
            else
                snprintf(n->funcs[i].name, sizeof n->funcs[i].name, "%s", name);
        }
    } else {
        HASH_ITER(hh, rt->fns, fn, tmp)
            snprintf(n->funcs[i++].name, sizeof n->funcs[0].name, "%s", fn->name->name);
    }
    pthread_rwlock_unlock(&rt->reg_lock);
    n->nfuncs = count;
    if (rc == FAAS_OK && count == 0)
        rc = faas__fail(FAAS_EINVAL, "nats: a worker needs at least one registered function");
    return rc;
}

static int start_worker(nats_part *n)
{
    for (size_t i = 0; i < n->nfuncs; i++) {
        wfunc *wf = &n->funcs[i];
        wf->n = n;
        faas_config cfg;
        faas_function *fn = NULL;
        pthread_rwlock_rdlock(&n->rt->reg_lock);
        HASH_FIND_STR(n->rt->fns, wf->name, fn);
        if (fn != NULL)
            cfg = fn->cfg;
        pthread_rwlock_unlock(&n->rt->reg_lock);
        if (fn == NULL)
            return faas__fail(FAAS_ENOTFOUND, "nats: %s was unregistered", wf->name);
        wf->max_deliver = (int64_t)cfg.max_retries + 1;
        snprintf(wf->subject, sizeof wf->subject, "%s.invoke.%s", n->prefix, wf->name);
        snprintf(wf->durable, sizeof wf->durable, "%s-%s", n->durable_prefix, wf->name);
        int rc = ensure_consumer(n, wf, &cfg);
        if (rc != FAAS_OK)
            return rc;
    }
    snprintf(n->wack_prefix, sizeof n->wack_prefix, "%s.wack.%s", n->prefix, n->id);
    char wild[SUBJECT_MAX + 4];
    snprintf(wild, sizeof wild, "%s.>", n->wack_prefix);
    natsStatus s = natsConnection_Subscribe(&n->wack_sub, n->nc, wild, on_wack, n);
    if (s == NATS_OK)
        s = natsSubscription_SetPendingLimits(n->wack_sub, -1, -1);
    if (s != NATS_OK)
        return faas__fail(FAAS_EINVAL, "nats: subscribe %s: %s", wild, nats_why(s));
    for (size_t i = 0; i < n->nfuncs; i++) {
        int err = pthread_create(&n->funcs[i].thread, NULL, fetch_main, &n->funcs[i]);
        if (err != 0)
            return faas__fail(FAAS_ENOMEM, "nats: pthread_create: %s", strerror(err));
        n->funcs[i].started = true;
    }
    return FAAS_OK;
}

static int start_producer(nats_part *n)
{
    char pack[SUBJECT_MAX];
    snprintf(pack, sizeof pack, "%s.pack.%s.*", n->prefix, n->id);
    snprintf(n->reply_subject, sizeof n->reply_subject, "%s.reply.%s", n->prefix, n->id);
    natsStatus s = natsConnection_Subscribe(&n->pack_sub, n->nc, pack, on_pack, n);
    if (s == NATS_OK)
        s = natsSubscription_SetPendingLimits(n->pack_sub, -1, -1);
    if (s == NATS_OK)
        s = natsConnection_Subscribe(&n->reply_sub, n->nc, n->reply_subject, on_result, n);
    if (s == NATS_OK)
        s = natsSubscription_SetPendingLimits(n->reply_sub, -1, -1);
    if (s == NATS_OK)
        s = natsConnection_Flush(n->nc);    /* the subscriptions exist before any publish */
    if (s != NATS_OK)
        return faas__fail(FAAS_EINVAL, "nats: subscribe: %s", nats_why(s));
    n->remote.all = n->o.publish_all != 0;
    n->remote.submit = producer_submit;
    int rc = faas__remote_set(n->rt, &n->remote);
    if (rc == FAAS_OK)
        n->remote_set = true;
    return rc;
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
    confirm_flush_all(n);               /* the last results' confirmations */
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
    producer_cancel(n);
    worker_release_all(n);
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
        return faas__fail(FAAS_EINVAL, "nats: cannot connect to %.200s: %s", url,
                          nats_why(s));
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = API_WAIT_MS;                                  /* ms */
    s = natsConnection_JetStream(&n->js, n->nc, &jo);
    if (s != NATS_OK)
        return faas__fail(FAAS_ENOMEM, "nats: JetStream context: %s", nats_why(s));
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
        rc = collect_functions(n, &o);
    if (rc == FAAS_OK)
        rc = faas__attach_add(rt, &n->part);
    bool added = rc == FAAS_OK;
    if (rc == FAAS_OK)
        rc = connect_to(n, url);
    if (rc == FAAS_OK)
        rc = ensure_stream(n);
    if (rc == FAAS_OK && (o.role & FAAS_NATS_WORKER))
        rc = start_worker(n);
    if (rc == FAAS_OK && (o.role & FAAS_NATS_PRODUCER))
        rc = start_producer(n);
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

#else /* !HAVE_NATS: the functions exist and say why they cannot work */

#define NOT_BUILT "libfaas was built without NATS support (configure found no libnats: " \
                  "apt-get install libnats-dev, then configure --with-nats)"

int faas_nats_attach(faas_runtime *rt, const char *url, const faas_nats_options *opts)
{
    (void)rt; (void)url; (void)opts;
    return faas__fail(FAAS_ENOTSUP, "faas_nats_attach: " NOT_BUILT);
}

int faas_nats_detach(faas_runtime *rt)
{
    (void)rt;
    return faas__fail(FAAS_ENOTSUP, "faas_nats_detach: " NOT_BUILT);
}

int faas_nats_stats_get(faas_runtime *rt, faas_nats_stats *out)
{
    (void)rt;
    if (out != NULL)
        memset(out, 0, sizeof *out);
    return faas__fail(FAAS_ENOTSUP, "faas_nats_stats_get: " NOT_BUILT);
}

#endif /* HAVE_NATS */
