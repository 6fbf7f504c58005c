/*
 * sched.h - the asynchronous scheduler's private interface: jobs (one per accepted async
 * call), the run queue and its workers, parking at the concurrency limit, retries and
 * dead letters. See sched.c.
 */
#ifndef FAAS_SCHED_H
#define FAAS_SCHED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "lock.h"
#include "timer.h"

typedef struct faas_runtime faas_runtime;
typedef struct faas_function faas_function;
typedef struct faas_response faas_response;

#define FAAS__JOB_INLINE 96     /* payloads shorter than this live in the job itself */

typedef struct faas__instance faas__instance;

/* The right to run one call: an idle instance taken, or (inst NULL) a reservation to
 * create one, which makes the call cold. */
typedef struct faas__slot {
    faas__instance *inst;
} faas__slot;

typedef struct faas__job faas__job;
/* Ordered by who touches what on every call. The submitter writes the first 128 bytes and
 * the payload's first bytes; a worker reads them and puts the job back in a ring, writing
 * none of its lines on the common path: it makes the request id's text on its own stack,
 * so that the submitter reusing the job does not take a line back that the worker wrote
 * (request_id is written in the job only for a caller that asked for it, a retry, a dead
 * letter or a cancellation). The rest is read only on the paths that need it (parking,
 * retries). In a deep queue each line a call touches is a miss on both sides, so the
 * common path keeps to as few lines as it can (3 or 4 of the 312 bytes' 5 or 6 lines for a
 * small payload; every call used to write and read all of them). */
struct faas__job {
    /* 64 bytes: the queue, the call and its accounting */
    faas__job      *next;           /* a lane's overflow list or backlog, a batch taken
                                       whole, its function's parked list, the cache or a
                                       stack of returned jobs */
    faas_function  *fn;             /* a reference is held until the job is released */
    void          (*cb)(const faas_response *res, void *arg);
    void           *arg;
    uint64_t        queued_ns;      /* accepted, or due again after a backoff: the queue
                                       wait of its next run starts here */
    uint64_t        id_bits[2];     /* the request id, drawn at submission */
    int             attempt;        /* of the next run, from 1 */
    bool            slotted;        /* slot is held (functions with max_concurrency) */
    bool            no_retry;       /* a dead-letter envelope, or a call whose retries a remote
                                       part drives: never retried nor dead-lettered here */
    bool            id_text;        /* request_id holds the text of id_bits */
    /* 64 bytes: the payload's place, the future, the journal (kind read on every call) */
    struct faas_future *future;     /* or NULL */
    size_t          len;
    unsigned char  *payload;        /* inline_buf, or a malloc'd copy; NUL-terminated */
    faas__jentry    jent;           /* its place in the journal (kind NONE: not in one) */
    /* request_id, then the payload: the line the id's text is written into (see above)
     * is the one a small payload starts in */
    char            request_id[37]; /* its text, made when first needed (see above) */
    unsigned char   inline_buf[FAAS__JOB_INLINE];
    /* Off the common path, not reset per call: prev is never read (a parked list is walked
     * from its head), slot is read only while slotted, and retry is initialised once when
     * the job is allocated and is idle again whenever the job is free. */
    faas__job      *prev;           /* its function's parked list */
    faas__slot      slot;
    faas__timer     retry;          /* the backoff before the next attempt */
};

/* A job's request id as text (formatted on first use, by whichever thread owns the job). */
const char *faas__job_id(faas__job *job);

/* Cache lines apart: what submitters write, what workers write, and the counters. */
#define FAAS__CACHELINE 64

/* Zeroed memory that starts a cache line. calloc's 16-byte alignment does not honour a
 * struct's _Alignas(FAAS__CACHELINE) members: the groups they separate would straddle two
 * lines each, and share them with their neighbours, in a pattern set by where the block
 * landed. For the runtime and its functions. NULL without memory; free() frees it. */
static inline void *faas__zalloc_lines(size_t size)
{
    void *p;
    if (posix_memalign(&p, FAAS__CACHELINE, size) != 0)
        return NULL;
    memset(p, 0, size);
    return p;
}

/* Slots in a lane's ring (a power of two): the calls a lane holds before its submitters
 * append to its overflow list instead. */
#define FAAS__LANE_SLOTS 256

/* A worker's own run queue. Submitters spread calls over the lanes in turn; a worker runs
 * its own lane's calls, oldest first, and only when its lane is empty takes the oldest of
 * another's, so two workers do not take turns on one lock and one list for every call
 * (that hand-off was most of an async call's cost). Each group of fields is written by
 * different threads, hence a line each.
 *
 * A call waits in one of three places, in this order of age: the backlog (calls the lane's
 * worker took from the overflow list at once, oldest first), the ring, the overflow list.
 * The ring is an array of job pointers, NULL where free: a submitter fills the slot at
 * ptail, the lane's worker (or another taking a call from it) empties the one at chead,
 * and neither writes the other's index, so while the workers keep up the only lines that
 * cross between the CPUs are the slots' (eight to a line) and the jobs'. A linked queue
 * moved its tail's line, and a stub's, to the worker and back on every call. A submitter
 * that finds the ring full appends to the overflow list, and keeps appending there while
 * the list has calls (so none overtakes an older one); a worker that finds the ring empty
 * takes the whole list as its backlog. */
typedef struct faas__lane {
    /* Submitters' line. */
    _Alignas(FAAS__CACHELINE) faas__lock push; /* protects ptail and the overflow list */
    unsigned        ptail;          /* the slot the next call goes to (modulo the size) */
    faas__job      *over_head;      /* the overflow list, oldest first, linked by next */
    faas__job      *over_tail;
    /* over_head is not NULL; written only when that changes, read by whoever finds the
     * ring empty (the lane's worker, another taking from it, an idle worker looking). */
    _Alignas(FAAS__CACHELINE) atomic_bool overflowed;
    /* Finished jobs come back for reuse (the job cache) instead of a malloc and a
     * cross-thread free per call: the lane's worker puts them in the ring back, other
     * threads (and the worker when back is full) push them on the stack returned, a
     * lock-free stack submitters take whole. back is a ring as the run queue's is: the
     * worker fills the slot at back_tail, a submitter (under the cache's lock) empties the
     * one at back_head, so a worker writes no line of a job it returns. */
    _Alignas(FAAS__CACHELINE) _Atomic(faas__job *) returned;
    unsigned        back_head;      /* under the sched's cache_lock */
    _Alignas(FAAS__CACHELINE) unsigned back_tail;   /* the lane's worker's */
    /* The lane's worker takes this lock on every call; another worker only when its own
     * lane is empty, or now and then to take an older call. */
    _Alignas(FAAS__CACHELINE) faas__lock lock;  /* protects chead and the backlog */
    atomic_uint     chead;          /* the slot of the oldest call in the ring */
    _Atomic(faas__job *) backlog;   /* calls older than the ring's, linked by next */
    atomic_size_t   completed;      /* calls its worker completed (only it writes) */
    _Alignas(FAAS__CACHELINE) _Atomic(faas__job *) slot[FAAS__LANE_SLOTS];
    _Alignas(FAAS__CACHELINE) _Atomic(faas__job *) back[FAAS__LANE_SLOTS];
} faas__lane;

typedef struct faas__sched {
    /* The calls pending (accepted, not yet completed: queued, parked, waiting for a retry,
     * or running) are accepted minus the completions, counted apart: submitters add to
     * accepted, each worker to its lane's completed, other threads to completed_other (see
     * faas__sched_pending). One count that every call added to and took from moved its line
     * between the CPUs twice a call. */
    _Alignas(FAAS__CACHELINE) atomic_size_t accepted;
    atomic_size_t   completed_seen; /* the completions at a recent look: queue_capacity's
                                       check reads them again only once it seems reached */
    atomic_size_t   completed_other;
    /* What submitters read on every call and idle workers write. */
    _Alignas(FAAS__CACHELINE) atomic_uint sleeping; /* workers asleep on work: a submitter
                                       must wake one */
    atomic_uint     wakes;          /* signals sent to sleepers not yet awake (under lock) */

    /* Read on every call, written at start and stop. */
    _Alignas(FAAS__CACHELINE) faas__lane *lanes; /* one per worker (one in manual mode) */
    unsigned        nlanes;
    atomic_uint     lanes_taken;    /* workers that have taken their lane */
    atomic_bool     stop;           /* workers finish their current call and exit */
    uint64_t        spin_ns;        /* the longest an idle worker polls before it sleeps */
    size_t          cache_max;      /* queue_capacity: no more jobs are kept for reuse */

    pthread_mutex_t lock;           /* the conds' mutex: sleeping workers, drain */
    pthread_cond_t  work;           /* idle workers sleep here */
    pthread_cond_t  quiet;          /* faas_drain() waits here for pending == 0 */
    atomic_uint     drainers;       /* threads in faas_drain() */
    atomic_uint     spinners;       /* at most one idle worker polls at a time */

    /* Written only when a job is malloc'd or freed, not per call. */
    _Alignas(FAAS__CACHELINE) atomic_size_t allocated; /* jobs that exist: running, queued
                                                          or cached */

    /* The submitters' line: the cache they pop from. */
    _Alignas(FAAS__CACHELINE) faas__lock cache_lock; /* protects cache, cache_lane and
                                                        each lane's back_head */
    faas__job      *cache;
    unsigned        cache_lane;     /* the lane whose returned jobs the cache takes next */

    /* Unregistered functions an async call may still name: freed when pending is 0. */
    pthread_mutex_t retired_lock;   /* protects retired */
    faas_function  *retired;
    atomic_bool     has_retired;

    pthread_t      *threads;
    unsigned        nthreads;
} faas__sched;

/* Positive on purpose: never a status a caller sees. */
#define FAAS__PARKED 1

int  faas__sched_init(faas_runtime *rt);
/* Async calls accepted and not yet completed. Never below the true count at the moment it
 * returns (the completions are read first); exact when none is submitted or completed
 * meanwhile. 0 therefore means none is pending. */
size_t faas__sched_pending(const faas_runtime *rt);
/* Stop the workers after their current call (and its callback); join them. */
void faas__sched_stop(faas_runtime *rt);
/* Complete every queued job with FAAS_ESHUTDOWN, on this thread. */
void faas__sched_cancel_queued(faas_runtime *rt);
void faas__sched_destroy(faas_runtime *rt);
/* Put a job at the end of the run queue, as it is (a parked call given its slot). */
void faas__sched_push(faas_runtime *rt, faas__job *job);
/* Manual mode: run the jobs queued now on this thread; returns how many. */
int  faas__sched_run_queued(faas_runtime *rt);
/* fn was unregistered: free it now if no async call is pending, else when none is. */
void faas__sched_retire(faas_runtime *rt, faas_function *fn);
/* Complete a job without running it: a service-error response with that status. */
void faas__job_cancel(faas__job *job, int status, const char *why);
/* Is the calling thread one of rt's workers (running an async call or its callback)? */
bool faas__on_worker_of(const faas_runtime *rt);
/* Would a failure with this status be retried (a function error, not a service error)? */
bool faas__retryable(int status);
/* The backoff before attempt + 1, in ns: full jitter under the runtime's ceilings. */
uint64_t faas__backoff_ns(const faas_runtime *rt, int attempt);
/* Lambda's on-failure destination record as compact JSON, malloc'd; NULL without memory.
 * condition: "RetriesExhausted" or "BudgetExceeded" (last->status FAAS_EBUDGET). */
char *faas__dead_letter_envelope(faas_runtime *rt, const char *request_id,
                                 const char *function, const char *condition, int attempts,
                                 const void *payload, size_t len, const faas_response *last);

/* ---- remote parts --------------------------------------------------------------------------
 * An optional part that runs async calls elsewhere (nats_producer.c) registers a faas__remote; the
 * async entry points test one pointer and, when it is set, offer it the accepted call. With
 * none set the local path is unchanged but for that one predictable branch. */

typedef struct faas__remote faas__remote;
struct faas__remote {
    bool all;       /* every call by name, registered here or not; else cfg.remote only */
    /* Take an accepted call (job->fn: the function here, or NULL for a name only workers
     * know; name: its name; cb, arg, future are set). FAAS_OK: the part completes it
     * exactly once with faas__job_complete(). An error: not accepted (faas_last_error()
     * says why), and the core releases the job without a completion. */
    int (*submit)(faas__remote *r, faas__job *job, const char *name);
};

/* Offer async calls to r; FAAS_EEXIST if another part is registered. */
int  faas__remote_set(faas_runtime *rt, faas__remote *r);
/* Stop offering; returns once no submitter is still inside r->submit. */
void faas__remote_clear(faas_runtime *rt);
/* The end of a taken call: its callback or future gets res (consumed; record.function a
 * reference or NULL), then the job is released. Any thread, no libfaas lock held. */
void faas__job_complete(faas_runtime *rt, faas__job *job, faas_response *res);
/* A taken call exhausted its retries elsewhere: send job->fn's dead letter (if it has one)
 * the envelope, with job->attempt attempts. Requires job->fn. */
void faas__job_dead_letter(faas_runtime *rt, faas__job *job, const faas_response *last);
/* Run a call here for a remote part: one attempt numbered attempt, with that request id,
 * never retried nor dead-lettered here (the part decides), completed through cb. No
 * payload limit and no queue_capacity (the part bounds what it holds). FAAS_ENOTFOUND if
 * NAME is not registered; FAAS_ESHUTDOWN once the runtime is closing. */
int  faas__sched_submit_once(faas_runtime *rt, const char *name, const void *payload,
                             size_t len, const char *request_id, int attempt,
                             void (*cb)(const faas_response *res, void *arg), void *arg);

#endif /* FAAS_SCHED_H */
