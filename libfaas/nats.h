/*
 * nats.h - distribution over NATS JetStream (optional: needs libnats), private to its files:
 * nats_attach.c (faas_nats_attach/detach/stats_get, the connection, the stream, the keeper
 * thread, teardown), nats_producer.c (the calls published, their results) and nats_worker.c
 * (the calls pulled, run and settled); nats_none.c answers FAAS_ENOTSUP without libnats.
 *
 * A producer publishes the async calls the core offers it (faas__remote) to a work-queue
 * stream; a worker pulls the calls of its functions from one durable consumer per function,
 * shared by every worker, and runs them through its own scheduler (faas__sched_submit_once).
 * The part owns the connection, the stream and consumer setup and the delivery protocol
 * below; it never touches instances and never runs a handler itself.
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
#ifndef FAAS_NATS_H
#define FAAS_NATS_H

#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>

#include <nats/nats.h>

#define DEFAULT_ACK_MARGIN_MS   5000u   /* AckWait = the function's timeout + this */
#define SUBJECT_MAX             256

typedef struct nats_part nats_part;
typedef struct pcall pcall;             /* nats_producer.c */
typedef struct held held;               /* nats_worker.c */

/* ---- one function a worker serves: its consumer and fetcher thread ---------------------- */

typedef struct wfunc {
    nats_part        *n;
    char              name[FAAS__NAME_MAX + 1];
    char              subject[SUBJECT_MAX];
    char              durable[SUBJECT_MAX];
    char              next[SUBJECT_MAX + 64];   /* $JS.API.CONSUMER.MSG.NEXT.STREAM.DURABLE */
    char              inbox[SUBJECT_MAX + 32];  /* where the pulled messages come */
    char              acks[SUBJECT_MAX + 32];   /* ".STREAM.DURABLE.": in every one's ack
                                                   subject ($JS.ACK...), which JetStream
                                                   gives it as its reply */
    natsSubscription *sub;          /* synchronous, on inbox */
    int64_t           max_deliver;
    uint64_t          progress_ns;  /* a third of AckWait: in-progress acks past this */
    pthread_t         thread;
    bool              started;
} wfunc;

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

/* ---- helpers of every file of the part ---------------------------------------------------- */

static inline const char *faas__nats_why(natsStatus s)
{
    const char *last = nats_GetLastError(NULL);
    return last != NULL && last[0] != '\0' ? last : natsStatus_GetText(s);
}

/* A subscription handler may run only while its group is open; close_group() waits for
 * the ones in progress, so nothing they touch is freed under them. */
static inline bool faas__nats_handler_enter(nats_part *n, atomic_bool *closed, natsMsg *msg)
{
    atomic_fetch_add(&n->in_handlers, 1);
    if (atomic_load(closed)) {
        atomic_fetch_sub(&n->in_handlers, 1);
        natsMsg_Destroy(msg);
        return false;
    }
    return true;
}

static inline void faas__nats_handler_leave(nats_part *n)
{
    atomic_fetch_sub(&n->in_handlers, 1);
}

/* ---- nats_producer.c ------------------------------------------------------------------------ */

/* Subscribe to the stream's acks and the results, then take over faas_invoke_async. */
int faas__nats_producer_start(nats_part *n);
/* The keeper's work: resend what the stream has not confirmed; end the calls past their
 * result deadline. */
void faas__nats_producer_tick(nats_part *n, uint64_t now);
void faas__nats_producer_expire(nats_part *n, uint64_t now);
/* Send the confirmations of results still batched. */
void faas__nats_confirm_flush_all(nats_part *n);
/* At close: every call still in flight ends FAAS_ESHUTDOWN. */
void faas__nats_producer_cancel(nats_part *n);

/* ---- nats_worker.c -------------------------------------------------------------------------- */

/* The names the worker serves (n->funcs), before connecting. */
int faas__nats_collect_functions(nats_part *n, const faas_nats_options *opts);
/* The consumers, the subscription of the confirmations, one fetcher thread a function. */
int faas__nats_worker_start(nats_part *n);
/* The keeper's work: in-progress acks, resends, acks that could not be sent. */
void faas__nats_worker_tick(nats_part *n, uint64_t now);
/* At close: what is still held goes back to the stream, or ends at its last delivery. */
void faas__nats_worker_release_all(nats_part *n);

#endif /* FAAS_NATS_H */
