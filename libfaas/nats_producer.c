/*
 * nats_producer.c - the NATS producer: publishes the async calls the core offers it
 * (faas__remote), resends what the stream has not confirmed, completes each call with the
 * result a worker sends back (confirmed to that worker, a duplicate dropped), and ends the
 * calls whose result never came. The protocol is in nats.h; it never runs a handler.
 */
#include "nats.h"
#include "text.h"

#include <jansson.h>

/* ---- the producer's calls in flight ------------------------------------------------------ */

struct pcall {
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
};

/* ---- responses rebuilt at the producer ------------------------------------------------ */

/* The numbers of a record, in the order Faas-Result carries them after the id; the last,
 * the version that ran, was added with qualified names (absent: $LATEST). */
#define RESULT_FMT "%36s %d %d %d %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu32 " %" SCNu32 \
                   " %" SCNu64 " %" SCNu64 " %d %" SCNu32

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
    /* NAME:QUALIFIER goes to NAME's subject with the qualifier in a header: the worker
     * resolves it (its versions and aliases). */
    const char *colon = strchr(name, ':');
    int name_len = colon ? (int)(colon - name) : (int)strlen(name);
    char subject[SUBJECT_MAX], reply[SUBJECT_MAX];
    snprintf(subject, sizeof subject, "%s.invoke.%.*s", n->prefix, name_len, name);
    snprintf(reply, sizeof reply, "%s.pack.%s.%s", n->prefix, n->id, pc->id);
    natsStatus s = natsMsg_Create(&pc->msg, subject, reply, (const char *)job->payload,
                                  (int)job->len);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(pc->msg, "Nats-Msg-Id", pc->id);
    if (s == NATS_OK && colon != NULL)
        s = natsMsgHeader_Set(pc->msg, "Faas-Qualifier", colon + 1);
    if (s == NATS_OK && pc->want_result)
        s = natsMsgHeader_Set(pc->msg, "Faas-Reply", n->reply_subject);
    if (s != NATS_OK) {
        pcall_free(pc);
        return faas__fail(FAAS_ENOMEM, "nats: cannot build the message for %s: %s", name,
                          faas__nats_why(s));
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
    pc->sent_ns = faas__sys_mono_ns();
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
static void on_pack(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc; (void)sub;
    nats_part *n = closure;
    if (!faas__nats_handler_enter(n, &n->producer_subs_closed, msg))
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
    faas__nats_handler_leave(n);
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
               &r->max_memory_bytes, &r->cost_picousd, dead, &r->version) < 12)
        return false;                   /* the version that ran: a worker before it, 0 */
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

void faas__nats_confirm_flush_all(nats_part *n)
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
            faas__nats_confirm_flush_all(n);
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
        faas__nats_confirm_flush_all(n);
}

/* A result on P.reply.PID: complete the call once, confirm it to the worker always. */
static void on_result(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    nats_part *n = closure;
    if (!faas__nats_handler_enter(n, &n->producer_subs_closed, msg))
        return;
    char id[37];
    int dead = 0;
    faas_response res;
    if (!parse_result(msg, id, &dead, &res)) {
        natsMsg_Destroy(msg);
        faas__nats_handler_leave(n);
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
        faas__nats_handler_leave(n);
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
    faas__nats_handler_leave(n);
}

/* Resend what the stream has not confirmed within retry_ms (same Nats-Msg-Id: a copy that
 * did arrive is dropped by the server). */
void faas__nats_producer_tick(nats_part *n, uint64_t now)
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
void faas__nats_producer_expire(nats_part *n, uint64_t now)
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
void faas__nats_producer_cancel(nats_part *n)
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

int faas__nats_producer_start(nats_part *n)
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
        return faas__fail(FAAS_EINVAL, "nats: subscribe: %s", faas__nats_why(s));
    n->remote.all = n->o.publish_all != 0;
    n->remote.submit = producer_submit;
    int rc = faas__remote_set(n->rt, &n->remote);
    if (rc == FAAS_OK)
        n->remote_set = true;
    return rc;
}
