/*
 * internal.h - the private interfaces between libfaas's core files. Never installed.
 *
 * Lock order (outer to inner; never take an outer lock while holding an inner one):
 *
 *     rt->reg_lock (rwlock)  ->  fn->lock  ->  rt->mod_lock  ->  mod->lock  ->  timers.lock
 *     fn->lock  ->  sched.lock
 *     rt->parts_lock is a leaf: no other lock is taken under it.
 *
 * No libfaas lock is held while user code runs (handlers, INIT/SHUTDOWN hooks, async
 * callbacks, the record hook, the log sink), with one exception: mod->lock is held around
 * dlopen() and dlclose(), so a module's own constructors and destructors run under it and
 * must not call back into libfaas for a function of the same module.
 */
#ifndef FAAS_INTERNAL_H
#define FAAS_INTERNAL_H

#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <uthash.h>

#include "faas.h"
#include "arena.h"
#include "cost.h"
#include "metrics.h"
#include "sched.h"
#include "timer.h"

#define FAAS__NAME_MAX 64
#define FAAS__LOG_TAIL 4096                   /* bytes of log kept for log_tail */
#define FAAS__DEFAULT_SYNC_LIMIT  6291456u    /* Lambda: 6 MiB request */
#define FAAS__DEFAULT_ASYNC_LIMIT 1048576u    /* Lambda Event since Oct 2025: 1 MiB */
#define FAAS__DEFAULT_QUEUE 65536u

#define faas__container_of(p, type, member) \
    ((type *)(void *)((char *)(p) - offsetof(type, member)))

/* ---- errors.c ------------------------------------------------------------------------ */

/* Set this thread's faas_last_error() text; returns status, so callers can
 * `return faas__fail(FAAS_EINVAL, "...")`. */
int faas__fail(int status, const char *fmt, ...) FAAS_PRINTF(2, 3);
bool faas__valid_name(const char *name, size_t *len_out);

/* A writable one-byte "" used for empty replies and logs; faas_response_free() knows it. */
extern char faas__empty[1];

/* ---- reqid.c: UUID v4 request ids from a per-thread generator, no syscall per id ------ */

void faas__request_id(char out[37]);
/* The same in two steps: 128 random bits now (cheap), their UUID text when needed. */
void faas__request_id_bits(uint64_t bits[2]);
void faas__request_id_format(const uint64_t bits[2], char out[37]);
/* 64 random bits from the same per-thread generator (backoff jitter). */
uint64_t faas__rand64(void);

/* ---- the refcounted name block a response may outlive its function with ------------- */

typedef struct faas__name {
    atomic_uint refs;
    char       *tag;        /* points into this block, or NULL */
    char        name[];     /* the function name, then the tag */
} faas__name;

faas__name *faas__name_new(const char *name, const char *tag);
void        faas__name_unref(faas__name *n);

/* ---- loader.c: one dlopen handle per path, refcounted by live instances --------------- */

typedef struct faas__module {
    UT_hash_handle  hh;         /* in rt->mods, keyed by path; under rt->mod_lock */
    unsigned        regs;       /* functions registered with this path; under rt->mod_lock */
    pthread_mutex_t lock;       /* protects handle and users */
    void           *handle;     /* NULL while unloaded */
    unsigned        users;      /* live instances using the handle */
    char            path[];
} faas__module;

faas__module *faas__module_get(faas_runtime *rt, const char *path);   /* at registration */
void          faas__module_put(faas_runtime *rt, faas__module *mod);  /* at unregistration */
/* Take a user reference, loading the module if it is not loaded; on failure a message
 * naming the path and the dlerror text is written to err. */
int   faas__module_acquire(faas__module *mod, char *err, size_t errlen);
void  faas__module_release(faas__module *mod);
/* Resolve a symbol of an acquired module; NULL if absent (err says why when required). */
void *faas__module_sym(faas__module *mod, const char *symbol, char *err, size_t errlen);

/* ---- instance.c: the per-function pool ------------------------------------------------- */

typedef struct faas__instance {
    struct faas__instance *prev, *next;  /* idle list, most recently used first */
    faas_handler      handler;
    faas_shutdown_fn  shutdown;
    void             *state;
    uint64_t          idle_since_ns;
    uint64_t          calls;             /* calls served; 0 until its first call */
    faas__arena       arena;
} faas__instance;

enum faas__kind { FAAS__HOST, FAAS__MODULE, FAAS__FFI };

struct faas_function {
    UT_hash_handle   hh;          /* in rt->fns, keyed by name; under rt->reg_lock */
    faas_runtime    *rt;
    struct faas_function *retired_next; /* unregistered, waiting for no call to be pending */
    faas__name      *name;        /* name->name is the key; tag lives there too */
    enum faas__kind  kind;
    faas_handler     handler;     /* FAAS__HOST */
    faas_init_fn     init;        /* FAAS__HOST */
    faas_shutdown_fn shutdown;    /* FAAS__HOST */
    faas__module    *mod;         /* FAAS__MODULE and FAAS__FFI with a path */
    char            *symbol;
    void            *ffi;         /* ffi.c's prepared call, FAAS__FFI */
    faas_config      cfg;         /* strings point into name block / dead_letter copy */
    char            *dead_letter;
    uint64_t         mem_price;   /* memory_mb x the model's pico-USD per GB-s */

    pthread_mutex_t  lock;        /* protects the fields down to maint_armed */
    pthread_cond_t   quiet;       /* signalled when the last busy instance is released */
    faas__instance  *idle_head, *idle_tail;
    unsigned         live;        /* instances alive or being initialised */
    unsigned         idle;        /* instances in the idle list */
    atomic_bool      dead;        /* unregistered: no new calls (written under lock) */
    unsigned         closers;     /* threads waiting in faas__pool_close() for quiet */
    atomic_bool      maint_armed; /* maint is in the timer heap (written under lock) */
    uint64_t         maint_due;   /* when, if armed */
    faas__timer      maint;       /* keep-alive reaper and min_warm top-up */
    faas__job       *parked_head, *parked_tail; /* async calls at max_concurrency, FIFO */
    unsigned         held;        /* slots held by queued async calls not yet started */

    faas__counters   counters[FAAS__SHARDS];   /* atomics, no lock: see metrics.h */
    /* Idle instances of functions without max_concurrency, one per thread shard, taken
     * and given back without fn->lock (the warm fast path). They count as live, not as
     * idle; the reaper, warm, unregistration and a thread whose slot is empty collect
     * them under the lock. */
    _Atomic(faas__instance *) hot[FAAS__SHARDS];
    faas__hist       hist;        /* lock-free latency histogram */
};

/* faas__slot, the right to run one call (an instance, or NULL: create one, a cold call),
 * is in sched.h: a queued async job can hold one. */

/* Take an idle instance or reserve the right to create one. FAAS_ETHROTTLED at
 * max_concurrency, FAAS_ENOTFOUND if the function was unregistered. */
int  faas__slot_take(faas_function *fn, faas__slot *slot);
/* An async call to a function with max_concurrency: take its slot now (job->slotted; the
 * slot is "held" while the job waits in the run queue), or, at the limit or behind calls
 * already waiting, join the function's FIFO (FAAS__PARKED). A freed slot is handed
 * straight to the first parked call, which is then queued. */
int  faas__slot_take_or_park(faas_function *fn, faas__job *job);
/* A held slot's job starts: FAAS_ENOTFOUND if the function was unregistered meanwhile
 * (then give the slot back with faas__slot_release_held). */
int  faas__slot_claim(faas_function *fn);
/* Give back the held slot of a job that will not run. */
void faas__slot_release_held(faas_function *fn, faas__slot *slot);
/* Create an instance for a reserved slot: load, resolve, INIT. On failure err holds the
 * message (status FAAS_ELOAD or FAAS_EINIT) and the caller still holds the slot: it gives
 * it back with faas__slot_cancel() once it no longer touches fn. */
int  faas__instance_create(faas_function *fn, faas__instance **out, char *err, size_t errlen);
/* Give an instance back after a call, at time now; retire = shut it down instead. After
 * this (or faas__slot_cancel) the caller must not touch fn: it may be unregistered. */
void faas__slot_give(faas_function *fn, faas__instance *inst, bool retire, uint64_t now);
/* Give back a reserved slot whose instance could not be created. */
void faas__slot_cancel(faas_function *fn);
/* Unregistration and runtime teardown: refuse new calls, wait for busy instances, shut
 * every one down, and complete the parked calls (FAAS_ENOTFOUND, or FAAS_ESHUTDOWN when
 * the runtime is closing). */
void faas__pool_close(faas_function *fn);
/* Set up the maintenance timer of a new function; arm it (min_warm top-up) once the
 * function is registered. */
void faas__pool_init(faas_function *fn);
void faas__pool_start(faas_function *fn);
/* Live instances and those running a call, for faas_stats_get(). */
void faas__pool_counts(faas_function *fn, unsigned *live, unsigned *busy);
/* faas_warm(): reserve slots up to a total of n live instances (capped by max_concurrency;
 * 0 if the function is unregistered), then create that many instances. */
unsigned faas__pool_reserve(faas_function *fn, unsigned n);
int  faas__pool_fill(faas_function *fn, unsigned reserved);
/* faas_fail(NULL, ...) during a faas_init hook: the INIT failure's message. */
void faas__init_report(const char *msg);
/* Is this thread running fn's INIT hook? */
bool faas__initialising(const faas_function *fn);

/* ---- invoke.c ------------------------------------------------------------------------- */

struct faas_ctx {
    faas_runtime   *rt;
    faas_function  *fn;
    faas__instance *inst;
    faas_ctx       *outer;        /* the call this thread was running when this one began */
    uint64_t        start_ns, deadline_ns;
    char           *reply;        /* malloc'd, NUL-terminated */
    size_t          reply_len;
    char           *err;          /* malloc'd "type\0message\0" block, or NULL */
    bool            failed;       /* faas_fail() was called */
    bool            oom;          /* the arena refused an allocation */
    bool            too_large;    /* a reply was over the limit */
    char           *log;          /* what the call logged, at most 2 x FAAS__LOG_TAIL */
    size_t          log_len, log_cap;
    const char     *request_id;   /* the response record's */
};

/* Run one call of fn: take a slot, create an instance if needed, run the handler, account,
 * and fill *res. attempt counts from 1; request_id NULL means a new one. */
int faas__call(faas_function *fn, const void *payload, size_t len, int attempt,
               const char *request_id, faas_response *res);
/* Run a call whose slot is taken (slot->inst NULL: create the instance first). */
int faas__run(faas_function *fn, faas__slot *slot, const void *payload, size_t len,
              int attempt, const char *request_id, faas_response *res, bool borrow_name);
/* borrow_name: record.function is lent (the caller holds fn, so its name, for as long as
 * it uses the response) and no reference is taken: two atomics fewer per call. Such a
 * response is freed with faas__response_free_borrowed(). */
void faas__response_free_borrowed(faas_response *res);
/* Fill res for a call refused at the concurrency limit and count it; the caller then
 * emits the record with faas__emit() once it holds no lock. */
int faas__throttled(faas_function *fn, const char *request_id, int attempt,
                    faas_response *res);
/* Hand a record to the record hook and, when a handler ran, END/REPORT to the log sink. */
void faas__emit(faas_runtime *rt, const faas_record *r, bool handler_ran);
/* Is this thread running a call of fn (directly or further up its chain)? */
bool faas__in_call_of(const faas_function *fn);
/* Fill res as a service error (no handler ran): error_type and message, empty data. */
int faas__response_service_error(faas_response *res, int status, const char *request_id,
                                 faas_function *fn, const char *fmt, ...) FAAS_PRINTF(5, 6);
/* Format the wall time (ns since the epoch) as 2026-11-26T22:00:00.123Z into out[25]. */
void faas__format_time(int64_t wall_ns, char out[25]);

/* ---- registry.c ----------------------------------------------------------------------- */

/* Find NAME and take a slot on it under the registry lock, so that unregistration cannot
 * free it in between. FAAS_EINVAL for a bad name, FAAS_ENOTFOUND; on FAAS_ETHROTTLED res
 * is filled (faas__throttled) while the function cannot go away, and the caller emits it. */
int faas__lookup_slot(faas_runtime *rt, const char *name, faas_function **fn,
                      faas__slot *slot, faas_response *res);

/* Register a FAAS__FFI function whose call ffi.c has prepared (ffi is owned on success
 * and on failure). */
int faas__register_prepared(faas_runtime *rt, const char *name, const faas_config *cfg,
                            const char *path, const char *symbol, void *ffi,
                            faas_function **out);
/* Runtime teardown: unregister everything (waiting for running calls). */
void faas__registry_close(faas_runtime *rt);
/* NAME, or NULL with *status FAAS_EINVAL (a bad name) or FAAS_ENOTFOUND. No reference is
 * taken: an async submitter counts itself pending first, and an unregistered function is
 * only freed once nothing is pending (faas__sched_retire). */
faas_function *faas__lookup_fn(faas_runtime *rt, const char *name, int *status);
void faas__fn_free(faas_function *fn);

/* ---- runtime.c ------------------------------------------------------------------------- */

typedef struct faas__hook {
    struct faas__hook *older;     /* every hook ever set, freed with the runtime */
    faas_record_hook   fn;
    void              *arg;
} faas__hook;

/* An optional part attached to a runtime (nats.c): faas_runtime_free() calls stop before
 * the workers stop (take no new work), and close once every queued and parked call has
 * completed and the functions are gone (hand back what it holds, free itself). */
typedef struct faas__part faas__part;
struct faas__part {
    faas__part *next;             /* under rt->parts_lock */
    const char *kind;             /* the part's own name, to find it again */
    void      (*stop)(faas__part *p);
    void      (*close)(faas__part *p);
};

struct faas_runtime {
    faas_options     opts;        /* copied; price_model points to the model's name */
    const faas__price *price;

    pthread_rwlock_t reg_lock;    /* protects fns */
    faas_function   *fns;

    pthread_mutex_t  mod_lock;    /* protects mods and every module's regs */
    faas__module    *mods;

    faas__timers     timers;
    faas__sched      sched;

    pthread_mutex_t  hook_lock;   /* serialises faas_on_record() */
    _Atomic(faas__hook *) hook;   /* the current record hook, or NULL */
    faas__hook      *hooks;       /* every hook ever set */

    atomic_bool      closing;     /* faas_runtime_free() has begun */

    _Atomic(faas__remote *) remote; /* the part async calls are offered to, or NULL */
    atomic_uint      remote_users;  /* submitters inside remote->submit */
    pthread_mutex_t  parts_lock;    /* protects parts */
    faas__part      *parts;
};

/* Attach a part; FAAS_EEXIST if one of that kind is attached, FAAS_ESHUTDOWN if closing. */
int  faas__part_add(faas_runtime *rt, faas__part *p);
/* Detach and return the part of that kind (NULL if none); the caller stops and closes it. */
faas__part *faas__part_take(faas_runtime *rt, const char *kind);
/* Run fn on the attached part of that kind under rt->parts_lock (so it cannot be taken
 * meanwhile); fn must be short and run no user code. False if none is attached. */
bool faas__part_with(faas_runtime *rt, const char *kind, void (*fn)(faas__part *p, void *arg),
                     void *arg);

static inline uint64_t faas__now(const faas_runtime *rt)
{
    if (rt->opts.clock.mono_ns)
        return rt->opts.clock.mono_ns(rt->opts.clock.arg);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline int64_t faas__wall(const faas_runtime *rt)
{
    if (rt->opts.clock.wall_ns)
        return rt->opts.clock.wall_ns(rt->opts.clock.arg);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline uint64_t faas__thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Emit one line to the log sink, if any. */
static inline void faas__log_line(faas_runtime *rt, const char *line)
{
    if (rt->opts.log)
        rt->opts.log(line, rt->opts.log_arg);
}

#endif /* FAAS_INTERNAL_H */
