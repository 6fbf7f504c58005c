/*
 * nats_worker.c - the NATS worker: a durable consumer and a fetcher thread per function it
 * serves, each pulled call handed to the scheduler (faas__sched_submit_once), then its
 * message settled: the dead letter stored, the result confirmed by its producer, the ack or
 * the nak with backoff; in-progress acks while a call runs long, the hand-back at close.
 * The protocol is in nats.h; it never touches instances.
 */
#include "nats.h"

#include <jansson.h>

#define FETCH_WAIT_MS           500     /* the longest a fetcher blocks: bounds detach */

enum hstate {
    H_RUNNING,                      /* the local call has not completed */
    H_DEAD_LETTER,                  /* out: the envelope, until the stream confirms it */
    H_RESULT,                       /* out: the result, until the producer confirms it */
    H_FINAL                         /* the ack (or nak) is due */
};

struct held {
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
};

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
             " %" PRIu32 " %" PRIu64 " %" PRIu64 " %d %" PRIu32, h->id, status, h->attempt,
             r->cold, r->init_ns, r->duration_ns, r->cpu_ns, r->billed_ms, r->memory_mb,
             r->max_memory_bytes, r->cost_picousd, dead ? 1 : 0, r->version);
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
    uint64_t now = faas__sys_mono_ns();
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
    uint64_t now = faas__sys_mono_ns();
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
    if (!faas__nats_handler_enter(n, &n->worker_subs_closed, msg))
        return;
    const char *subject = natsMsg_GetSubject(msg);
    size_t plen = strlen(n->wack_prefix);
    uint64_t token = 0;
    char kind = 0;
    if (strncmp(subject, n->wack_prefix, plen) == 0 && strcmp(subject + plen, ".c") == 0) {
        confirmed(n, natsMsg_GetData(msg));
        natsMsg_Destroy(msg);
        faas__nats_handler_leave(n);
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
    uint64_t now = faas__sys_mono_ns();
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
    faas__nats_handler_leave(n);
}

/* Is reply a producer's result subject, PREFIX.reply.<16 hex digits>? Where a call says
 * its result goes (its Faas-Reply header) the worker publishes, with its own rights: a
 * client that may only publish calls could otherwise make it publish on any subject
 * ($JS.API... among them). Another one: the call is run as one nobody waits for. */
static bool reply_subject_ok(const nats_part *n, const char *reply)
{
    size_t pl = strlen(n->prefix);
    if (reply == NULL || strncmp(reply, n->prefix, pl) != 0 ||
        strncmp(reply + pl, ".reply.", 7) != 0)
        return false;
    const char *id = reply + pl + 7;
    return strlen(id) == 16 && strspn(id, "0123456789abcdef") == 16;
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
        !reply_subject_ok(n, reply))
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
    if (natsMsgHeader_Get(msg, "Faas-Reply", &reply) == NATS_OK && reply_subject_ok(n, reply))
        h->reply = strdup(reply);
    memcpy(h->id, id, 37);
    h->n = n;
    h->wf = wf;
    h->msg = msg;
    h->attempt = attempt;
    h->state = H_RUNNING;
    h->touched_ns = faas__sys_mono_ns();
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
    /* The qualifier travels in a header, the subject being NAME's (one stream subject and
     * one consumer per function): NAME:3 and NAME:prod resolve here, on this worker's
     * versions and aliases. A malformed one is refused by the scheduler as a bad name. */
    const char *qual = NULL;
    char qname[FAAS__NAME_MAX + 1 + FAAS__QUALIFIER_MAX + 2];
    const char *target = wf->name;
    if (natsMsgHeader_Get(msg, "Faas-Qualifier", &qual) == NATS_OK && qual != NULL) {
        snprintf(qname, sizeof qname, "%s:%.*s", wf->name, FAAS__QUALIFIER_MAX + 1, qual);
        target = qname;
    }
    int rc = faas__sched_submit_once(n->rt, target, natsMsg_GetData(msg),
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
    uint64_t deadline = faas__sys_mono_ns() + (uint64_t)FETCH_WAIT_MS * 1000000u;
    int got = 0;
    while (got < batch) {
        uint64_t now = faas__sys_mono_ns();
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
        /* Only what JetStream delivers: its reply is the message's ack subject. Another
         * client that may publish on the inbox's subject would otherwise hand this worker
         * calls past the stream, with an "ack" subject of its choosing. */
        const char *ack = natsMsg_GetReply(msg);
        if (ack == NULL || strncmp(ack, "$JS.ACK.", 8) != 0 || strstr(ack, wf->acks) == NULL) {
            natsMsg_Destroy(msg);
            continue;
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
void faas__nats_worker_tick(nats_part *n, uint64_t now)
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
void faas__nats_worker_release_all(nats_part *n)
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
                          faas__nats_why(s), (int)jerr);
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
                              wf->durable, faas__nats_why(s), (int)jerr);
        jsConsumerInfo_Destroy(ci);
    }
    wf->progress_ns = (uint64_t)ack_wait * 1000000u / 3;
    snprintf(wf->next, sizeof wf->next, "$JS.API.CONSUMER.MSG.NEXT.%s.%s", n->stream,
             wf->durable);
    snprintf(wf->inbox, sizeof wf->inbox, "%s.pull.%s.%s", n->prefix, n->id, wf->name);
    snprintf(wf->acks, sizeof wf->acks, ".%s.%s.", n->stream, wf->durable);
    s = natsConnection_SubscribeSync(&wf->sub, n->nc, wf->inbox);
    if (s == NATS_OK)
        s = natsSubscription_SetPendingLimits(wf->sub, -1, -1);
    if (s != NATS_OK)
        return faas__fail(FAAS_EINVAL, "nats: subscribe %s: %s", wf->inbox, faas__nats_why(s));
    return FAAS_OK;
}

/* The names the worker serves: opts->functions, or every function registered now. */
int faas__nats_collect_functions(nats_part *n, const faas_nats_options *opts)
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

int faas__nats_worker_start(nats_part *n)
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
        return faas__fail(FAAS_EINVAL, "nats: subscribe %s: %s", wild, faas__nats_why(s));
    for (size_t i = 0; i < n->nfuncs; i++) {
        int err = pthread_create(&n->funcs[i].thread, NULL, fetch_main, &n->funcs[i]);
        if (err != 0)
            return faas__fail(FAAS_ENOMEM, "nats: pthread_create: %s", strerror(err));
        n->funcs[i].started = true;
    }
    return FAAS_OK;
}
