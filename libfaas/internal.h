/*
 * internal.h - the private interfaces between libfaas's core files. Never installed.
 *
 * Lock order (outer to inner; never take an outer lock while holding an inner one):
 *
 *     rt->reg_lock (rwlock)  ->  fn->lock  ->  rt->mod_lock  ->  mod->lock  ->  timers.lock
 *     upd->lock (update.c: one code update of a function at a time)  ->  rt->reg_lock
 *     fn->lock  ->  sched.lock
 *     rt->attach_lock is a leaf: no other lock is taken under it.
 *     rt->reg_lock  ->  rt->budget_lock  ->  budget->roll
 *     rt->part_lock is a leaf: nothing else is taken under it.
 *     The journal's lock (journal.c) is a leaf: nothing else is taken under it, and its
 *     holder never runs user code (it may wait there for the disk, as the group leader).
 *
 * An optional part's own locks come before every core lock: it may call the core (submit
 * a call, arm a timer) while it holds them, and the core never calls it back under one.
 *
 * An isolated function's zygote lock (isolate.c) is a leaf: it is taken with no other lock
 * held, and nothing is locked under it.
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
#include "clock.h"
#include "cost.h"
#include "metrics.h"
#include "qname.h"
#include "sched.h"
#include "timer.h"

#define FAAS__NAME_MAX 64
#define FAAS__TAG_MAX 256                     /* bytes of a function's tag */
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
    int             fd;         /* the private copy path names (/proc/self/fd/N, a memfd
                                   of faas_update_code()), closed with the module; -1 */
    char            path[];
} faas__module;

faas__module *faas__module_get(faas_runtime *rt, const char *path);   /* at registration */
void          faas__module_put(faas_runtime *rt, faas__module *mod);  /* at unregistration */
/* The module of the private copy in fd (a memfd): its path is /proc/self/fd/FD, which
 * nothing else names while fd is open; the module owns fd from then on (closed at its last
 * put, and here on failure). */
faas__module *faas__module_adopt(faas_runtime *rt, int fd);
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
    uint64_t          created_ns;        /* on the runtime's clock, before its INIT */
    faas__module     *mod;               /* the module it runs (acquired), or NULL */
    uint64_t          gen;               /* fn->gen when it was made: its code's update */
    faas__arena       arena;
} faas__instance;

/* FAAS__ALIAS: an alias (version.c), a handle that routes each call to a version; it has
 * no pool, no counters and no code of its own. */
enum faas__kind { FAAS__HOST, FAAS__MODULE, FAAS__FFI, FAAS__ALIAS };

typedef struct faas__versions faas__versions;   /* version.c */
typedef struct faas__route faas__route;         /* version.c */
typedef struct faas__update faas__update;       /* update.c */

struct faas_function {
    UT_hash_handle   hh;          /* in rt->fns, keyed by name; under rt->reg_lock */
    faas_runtime    *rt;
    struct faas_function *retired_next; /* unregistered, waiting for no call to be pending */
    faas__name      *name;        /* name->name is the unqualified name; tag lives there */
    const char      *key;         /* its key: name->name in rt->fns, or "NAME:3" (a version),
                                     "NAME:prod" (an alias) in rt->quals */
    uint32_t         version;     /* a published version's number; 0: $LATEST (or alias) */
    int              code_fd;     /* a module version's private copy of its file (a memfd
                                     that mod's path, /proc/self/fd/N, names); -1: none */
    enum faas__kind  kind;
    faas__versions  *vers;        /* $LATEST: its versions and aliases, NULL before the
                                     first; under rt->reg_lock (version.c) */
    _Atomic(faas__route *) route; /* FAAS__ALIAS: its routing now (version.c) */
    bool             isolated;    /* cfg.isolation != NONE: instances are processes, made
                                     by faas__isolation; the host never loads mod */
    char            *user;        /* cfg.user's copy (an isolated function's), or NULL */
    int              run_uid, run_gid; /* isolated: the user its instances run as (-1: the
                                     host's own) */
    void            *iso;         /* the isolation part's per-function state (its zygote),
                                     or a process function's (process.c) */
    const struct faas__isolation_hooks *iso_ops; /* who makes isolated's instances:
                                     faas__isolation, or process.c's hooks */
    faas_handler     handler;     /* FAAS__HOST */
    faas_init_fn     init;        /* FAAS__HOST */
    faas_shutdown_fn shutdown;    /* FAAS__HOST */
    faas__module    *mod;         /* FAAS__MODULE and FAAS__FFI with a path */
    char            *symbol;
    void            *ffi;         /* ffi.c's prepared call, FAAS__FFI */
    faas_config      cfg;         /* strings point into name block / dead_letter copy */
    char            *dead_letter;
    char           **env;         /* cfg.environment's copy, NULL-terminated, or NULL */
    faas__fnprice    price;       /* what a billed ms costs at memory_mb (cost.h) */
    bool             hist_on;     /* keep latency histograms (not opts.no_histograms) */
    _Atomic(faas__budget *) budget; /* its tag's budget, or NULL (no lock: cost.h) */

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
    /* Code updates (update.c): gen counts fn->mod's replacements (written under the lock,
     * read without by the call path: an instance of an older gen is never used again). */
    _Atomic uint64_t gen;
    unsigned         gen_live;    /* module instances of gen alive (or being made) */
    unsigned         stale_live;  /* ... of older gens, still running or shutting down */
    unsigned         pins;        /* faas__pool_pin(): unregistration waits for none */
    faas__update    *upd;         /* $LATEST's last code update, NULL before the first;
                                     under rt->reg_lock (update.c) */

    faas__counters   counters[FAAS__SHARDS];   /* atomics, no lock: see metrics.h */
    /* Idle instances of functions without max_concurrency, one per thread shard, taken
     * and given back without fn->lock (the warm fast path). They count as live, not as
     * idle; the reaper, warm, unregistration and a thread whose slot is empty collect
     * them under the lock. */
    struct {                      /* one line each: two workers' exchanges never share one */
        _Alignas(FAAS__CACHELINE) _Atomic(faas__instance *) p;
    } hot[FAAS__SHARDS];
    faas__hist       hist;        /* lock-free histogram of handler durations */
    faas__hist       init_hist;   /* ... of INIT durations (cold calls) */
    faas__hist       queue_hist;  /* ... of async queue waits (acceptance to start) */
};

/* faas__slot, the right to run one call (an instance, or NULL: create one, a cold call),
 * is in sched.h: a queued async job can hold one. */

/* Take an idle instance or reserve the right to create one. FAAS_ETHROTTLED at
 * max_concurrency, FAAS_ENOTFOUND if the function was unregistered. */
int  faas__slot_take_slow(faas_function *fn, faas__slot *slot);
void faas__slot_give_slow(faas_function *fn, faas__instance *inst, bool retire, uint64_t now);
static inline int faas__slot_take(faas_function *fn, faas__slot *slot)
{
    if (fn->cfg.max_concurrency == 0) {
        /* The fast path, inline (every warm call): this thread's shard's last instance,
         * without the lock. */
        faas__instance *inst = atomic_exchange(&fn->hot[faas__shard()].p, NULL);
        if (inst != NULL) {
            if (__builtin_expect(!atomic_load(&fn->dead), 1)) {
                slot->inst = inst;
                return FAAS_OK;
            }
            faas__slot_give_slow(fn, inst, true, 0);   /* unregistered meanwhile */
            return FAAS_ENOTFOUND;
        }
    }
    return faas__slot_take_slow(fn, slot);
}
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
void faas__slot_give_older(faas_function *fn, faas__instance *older);
static inline void faas__slot_give(faas_function *fn, faas__instance *inst, bool retire,
                                   uint64_t now)
{
    /* An instance of replaced code (faas_update_code) is retired, never reused. */
    if (!retire && inst->gen == atomic_load_explicit(&fn->gen, memory_order_relaxed) &&
        fn->cfg.max_concurrency == 0 && fn->cfg.keep_alive_ms != 0 &&
        atomic_load(&fn->maint_armed) && !atomic_load(&fn->dead)) {
        /* The fast path, inline (every warm call): into this thread's shard's hot slot,
         * without the lock. No call can be parked (there is no limit) and the reaper is
         * armed, so it will find the instance there. The one the slot held (older) goes to
         * the idle list.
         * Once inst is in the slot, fn must not be touched: an unregistration may collect
         * it, find the function quiet and free it. If that unregistration began between
         * the test of dead above and the exchange, it is waiting for inst, and it looks in
         * the hot slots again while it waits (see faas__pool_close). */
        inst->idle_since_ns = now;
        faas__instance *older = atomic_exchange(&fn->hot[faas__shard()].p, inst);
        if (older != NULL)
            faas__slot_give_older(fn, older);
        return;
    }
    faas__slot_give_slow(fn, inst, retire, now);
}
/* Give back a reserved slot whose instance could not be created. */
void faas__slot_cancel(faas_function *fn);
/* Shut down an instance found dead but keep its slot: a new one is created in its place. */
void faas__instance_discard(faas_function *fn, faas__instance *inst);
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
/* One idle instance as the console shows it (ns on the runtime's clock). */
typedef struct faas__idle_info {
    uint64_t created_ns, idle_since_ns, calls;
} faas__idle_info;
/* The idle instances of fn, most recently used first, at most max into out (the
 * fast path's slots are emptied into the idle list first); returns how many there are. */
size_t faas__pool_idle(faas_function *fn, faas__idle_info *out, size_t max);
/* faas_warm(): reserve slots up to a total of n live instances (capped by max_concurrency;
 * 0 if the function is unregistered), then create that many instances. */
unsigned faas__pool_reserve(faas_function *fn, unsigned n);
int  faas__pool_fill(faas_function *fn, unsigned reserved);
/* Code updates (update.c). Keep fn from being freed (unregistration waits for the pin),
 * FAAS_ENOTFOUND if it is being unregistered; unpin when done, then fn must not be
 * touched. */
int  faas__pool_pin(faas_function *fn);
void faas__pool_unpin(faas_function *fn);
/* Make an instance of fn running mod (not fn->mod: a code update's first, made before the
 * update is committed; it is of gen fn->gen + 1 and not counted live). */
int  faas__instance_probe(faas_function *fn, faas__module *mod, faas__instance **out,
                          char *err, size_t errlen);
/* Requires rt->reg_lock held for writing. Commit a code update: fn runs mod from now on,
 * every instance alive becomes stale, probe (faas__instance_probe's) is counted as the
 * first of the new code: *keep_probe says if it took a slot (give it to the pool with
 * faas__slot_give) or would pass max_concurrency (destroy it). Returns the module replaced (the caller puts it once no stale
 * instance is left) and in *victims the idle stale instances taken out of the pool, to be
 * given to faas__instances_destroy() outside every lock. */
faas__module *faas__pool_swap_code(faas_function *fn, faas__module *mod, faas__instance *probe,
                                   bool *keep_probe, faas__instance **victims);
/* Shut down a list of instances taken out of fn's pool (no lock held). */
void faas__instances_destroy(faas_function *fn, faas__instance *list);
/* Take the stale idle instances out of fn's pool into *victims; returns how many stale
 * instances are still alive besides those (running a call, or shutting down). */
unsigned faas__pool_take_stale(faas_function *fn, faas__instance **victims);
/* Wait up to timeout_ms (CLOCK_REALTIME, a poll: instances are given back lock-free) for
 * fn's pool to change. */
void faas__pool_wait(faas_function *fn, unsigned timeout_ms);
/* faas_fail(NULL, ...) during a faas_init hook: the INIT failure's message. */
void faas__init_report(const char *msg);
/* Is this thread running fn's INIT hook? */
bool faas__initialising(const faas_function *fn);

/* ---- the hook table of the optional process isolation ------------------------------
 * The core never names the isolation part: when it is built, it sets faas__isolation from
 * a constructor, before any runtime exists; NULL means "not built" (FAAS_ENOTSUP).
 *
 * attach/detach bracket an isolated function's life (registration, fn_free). create makes
 * an instance for a reserved slot, as faas__instance_create does: it sets inst->handler to
 * a handler that runs the call in the instance's process and reproduces its outcome on the
 * host's faas_ctx (faas_reply, faas_fail, faas_ctx_log), inst->state to its own data and
 * inst->shutdown to what ends the process. Outcomes the ctx API cannot express are set on
 * the ctx directly, so that faas__run's status rule needs no extra test on the warm path:
 *   - killed at the deadline: deadline_ns = 0, so "the deadline passed" (FAAS_ETIMEOUT);
 *   - out of memory: oom, err = the error block (FAAS_EMEMORY);
 *   - crashed: oom and crashed, err = a Runtime.ExitError block (FAAS_ECRASHED);
 *   - died before the call reached it (nothing ran): crashed, and stale; the call then runs
 *     on a new instance, once, and the death is counted (instance_deaths), not the call;
 *   - the process's peak memory: inst->arena.used, which the record reads as the arena's
 *     high-water (an isolated instance's host-side arena is never allocated from). */
typedef struct faas__isolation_hooks faas__isolation_hooks;
struct faas__isolation_hooks {
    int  (*attach)(faas_function *fn);
    void (*detach)(faas_function *fn);
    int  (*create)(faas_function *fn, faas__instance *inst, char *err, size_t errlen);
};

extern const faas__isolation_hooks *faas__isolation;

/* Register a function whose instances ops make (a process function, process.c): fn->iso
 * is state, fn->isolated is set, and ops->detach frees state with the function, on
 * failure too. */
/* NAME's registration as a process function (process.c): its _HANDLER, command and own
 * environment ("NAME=value", NULL-terminated), malloc'd copies (free *env's strings and
 * the array). FAAS_ENOTFOUND: NAME is not a process function. */
int faas__process_describe(faas_runtime *rt, const char *name, char **handler,
                           char **command, char ***env);
int faas__register_hooked(faas_runtime *rt, const char *name, const faas_config *cfg,
                          const faas__isolation_hooks *ops, void *state);

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
    char           *err_body;     /* faas_fail_body()'s whole error body, or NULL: kept
                                     only while it is the call's last word on failing */
    size_t          err_body_len;
    bool            failed;       /* faas_fail() was called */
    bool            oom;          /* the arena refused an allocation (or, with crashed,
                                     an isolated instance died: faas__isolation_hooks) */
    bool            too_large;    /* a reply was over the limit */
    bool            crashed;      /* with oom: FAAS_ECRASHED, not FAAS_EMEMORY */
    bool            stale;        /* with oom and crashed: the instance had died before the
                                     call reached it; nothing ran (faas__isolation_hooks) */
    char           *log;          /* what the call logged, at most 2 x FAAS__LOG_TAIL */
    size_t          log_len, log_cap;
    const char     *request_id;   /* the response record's */
    void           *call_data;    /* an internal caller's arguments instead of a payload
                                     (ffi.c's binary path); NULL for every public entry */
    int             fail_status;  /* what a failure ends as: 0 = FAAS_EHANDLER, else set
                                     by faas__ctx_fail() */
    const char     *client_context; /* faas_invoke_ex()'s, compact JSON, or NULL */
};

/* Is text (len bytes) a client context: a JSON object of at most FAAS_CLIENT_CONTEXT_MAX
 * bytes? FAAS_OK, FAAS_EINVAL (not a JSON object), FAAS_ETOOLARGE, FAAS_ENOMEM; *compact
 * (NULL: not wanted) gets it as one line of JSON, malloc'd. */
int faas__client_context_check(const char *text, size_t len, char **compact);

/* Fail the call as faas_fail() does, but ending with status (e.g. FAAS_EINVAL: the ffi
 * bridge's arguments did not match the signature) instead of FAAS_EHANDLER. */
int faas__ctx_fail(faas_ctx *ctx, int status, const char *error_type, const char *fmt, ...)
    FAAS_PRINTF(4, 5);
/* faas_invoke_fn() with no payload and call_data for the handler (ctx->call_data): the
 * same slot, instance, deadline, record and accounting. res NULL: discard the response. */
int faas__invoke_data(faas_function *fn, void *call_data, faas_response *res);
/* Run one call of fn: take a slot, create an instance if needed, run the handler, account,
 * and fill *res. attempt counts from 1; request_id NULL means a new one. */
int faas__call(faas_function *fn, const void *payload, size_t len, int attempt,
               const char *request_id, faas_response *res);
/* Run a call whose slot is taken (slot->inst NULL: create the instance first). queued_ns:
 * when an async call was queued (its queue wait ends when this run starts); NULL: sync. */
int faas__run(faas_function *fn, faas__slot *slot, const void *payload, size_t len,
              int attempt, const char *request_id, faas_response *res, bool borrow_name,
              const uint64_t *queued_ns);
/* borrow_name: record.function is lent (the caller holds fn, so its name, for as long as
 * it uses the response) and no reference is taken: two atomics fewer per call. Such a
 * response is freed with faas__response_free_borrowed(). */
void faas__response_free_borrowed(faas_response *res);
/* Fill res for a call refused at the concurrency limit and count it; the caller then
 * emits the record with faas__emit() once it holds no lock. */
int faas__throttled(faas_function *fn, const char *request_id, int attempt,
                    faas_response *res);
/* Is fn's tag over its budget now? If so fill res as a FAAS_EBUDGET service error with its
 * record (no handler ran, no cost), count it, and return FAAS_EBUDGET; the caller emits
 * the record with faas__emit() once it holds no lock. Else FAAS_OK. */
static inline int faas__budget_check(faas_function *fn, const char *request_id, int attempt,
                                     faas_response *res);
int faas__budget_refused(faas_function *fn, const char *request_id, int attempt,
                         faas_response *res);
/* Hand a record to the record hook and, when a handler ran, END/REPORT to the log sink. */
void faas__emit(faas_runtime *rt, const faas_record *r, bool handler_ran);
/* Is this thread running a call of fn (directly or further up its chain)? */
bool faas__in_call_of(const faas_function *fn);
/* Fill res as a service error (no handler ran): error_type and message, empty data. */
int faas__response_service_error(faas_response *res, int status, const char *request_id,
                                 faas_function *fn, const char *fmt, ...) FAAS_PRINTF(5, 6);

/* ---- registry.c ----------------------------------------------------------------------- */

/* Is name a function name (1 to 64 characters of [A-Za-z0-9_-])? *len_out (NULL ok) gets
 * its length. */
bool faas__valid_name(const char *name, size_t *len_out);
/* Is VAR ("NAME" or "NAME=value") one of Lambda's reserved environment names, which a
 * function's own environment may not set? */
bool faas__env_reserved(const char *var);
/* Check a NULL-terminated "NAME=value" list (NULL ok) as a function's own environment;
 * api and name word the failure (FAAS_EINVAL). */
int faas__env_check(const char *const *env, const char *api, const char *name);
/* Free a NULL-terminated vector of malloc'd strings and the strings (NULL: nothing). */
void faas__strv_free(char **v);
/* The user a function's processes run as (faas_config.user of an isolated function,
 * faas_process_config.user; a name or a number; NULL: "nobody" when the host is root, else
 * the host's own): *uid and *gid (its primary group), or -1 for the host's own. FAAS_OK, or
 * FAAS_EINVAL with the error worded by api, name and who ("instances", "runtimes"). */
int faas__user_lookup(const char *user, const char *api, const char *name, const char *who,
                      int *uid, int *gid);
/* Find NAME and take a slot on it under the registry lock, so that unregistration cannot
 * free it in between. FAAS_EINVAL for a bad name, FAAS_ENOTFOUND; on FAAS_ETHROTTLED res
 * is filled (faas__throttled) while the function cannot go away, and the caller emits it. */
int faas__lookup_slot(faas_runtime *rt, const char *name, faas_function **fn,
                      faas__slot *slot, faas_response *res);
/* faas_lookup(), and the registry's epoch then (*epoch) for faas__lookup_slot_known. */
faas_function *faas__lookup_epoch(faas_runtime *rt, const char *name, uint64_t *epoch);
/* faas__lookup_slot of NAME, found earlier as known (faas__lookup_epoch) at epoch: no name
 * lookup while nothing was unregistered since (known is alive) and known is no alias (an
 * alias routes by name); known may be NULL (never found) or freed (epoch moved on). */
int faas__lookup_slot_known(faas_runtime *rt, const char *name, faas_function *known,
                            uint64_t epoch, faas_function **fn, faas__slot *slot,
                            faas_response *res);

/* faas_invoke() of NAME, found as fn at epoch (faas__lookup_epoch; fn NULL: not found):
 * the gateway's Invoke, which found its function before the body came, looks it up once. */
typedef struct faas__known {
    faas_function *fn;
    uint64_t       epoch;
} faas__known;
int faas__invoke_known(faas_runtime *rt, const char *name, faas_function *fn, uint64_t epoch,
                       const void *payload, size_t len, faas_response *res);

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

/* ---- version.c: qualified names, published versions, aliases ------------------------- */

/* The parser of "NAME:QUALIFIER" is qname.h's. */
/* Requires rt->reg_lock. The function NAME (which has a colon: not a plain name) names,
 * or NULL with *status FAAS_EINVAL (malformed) or FAAS_ENOTFOUND. route: an alias is
 * resolved to the version this call goes to; else the alias itself is returned. */
faas_function *faas__qualified_find(faas_runtime *rt, const char *name, bool route,
                                    int *status);
/* The version a call through ALIAS goes to now; NULL if the alias was deleted. No lock. */
faas_function *faas__route_pick(faas_function *alias);
/* Requires rt->reg_lock held for writing. Take LATEST's versions and aliases out of
 * rt->quals (it is being unregistered); the versions are handed back in *out (malloc'd,
 * *n of them; the caller closes and retires each). Aliases stay with LATEST until
 * faas__versions_free(). FAAS_ENOMEM leaves everything in place. */
int  faas__versions_detach(faas_runtime *rt, faas_function *latest, faas_function ***out,
                           size_t *n);
/* Free what fn->vers holds (aliases included), with fn. */
void faas__versions_free(faas_function *fn);
/* registry.c: a new function that is a frozen copy of LATEST (its code, its config), keyed
 * "NAME:VERSION" (key is copied); not inserted yet. A module's version loads code_path,
 * the private copy in code_fd, which it owns from then on (closed with it, on failure
 * too); a host function's has none (NULL, -1). */
int  faas__version_new(faas_function *latest, uint32_t version, const char *key,
                       const char *code_path, int code_fd, faas_function **out);
/* registry.c: insert a version made by faas__version_new() into rt->quals and start its
 * pool. Requires rt->reg_lock held for writing. */
void faas__version_insert(faas_runtime *rt, faas_function *fn);

/* ---- update.c: hot code update of $LATEST --------------------------------------------- */

/* Copy the file at path into a new memfd named memfd_name (*fd) while its CodeSha256 is
 * computed into sha (base64, as Lambda prints it); api and name word the failure. */
int  faas__code_copy(const char *path, const char *memfd_name, const char *api,
                     const char *name, char sha[48], int *fd);
/* Free fn->upd (fn is being freed: no instance is left). */
void faas__update_free(faas_function *fn);
/* The file NAME's $LATEST code comes from (registered or last updated with), malloc'd in
 * *source; FAAS_ENOTSUP unless NAME is a module running in this process. */
int  faas__update_source(faas_runtime *rt, const char *api, const char *name, char **source);

/* ---- runtime.c ------------------------------------------------------------------------- */

/* An optional part attached to a runtime (the triggers, say): the core reaches it only
 * through these two functions, never by name. A part is created on its first use, lives
 * until faas_runtime_free() and is never detached before. */
typedef struct faas__part faas__part;
typedef struct faas__part_ops {
    /* Manual mode, first thing in faas_run_pending(): do what is ready without blocking
     * (queue calls, never run them); returns how many calls it queued. NULL: none. */
    int  (*poll)(faas__part *part);
    /* faas_runtime_free(), first thing once new calls are refused: stop the part's
     * threads and timers and free it. Calls it queued are then completed by the core. */
    void (*free)(faas__part *part);
} faas__part_ops;

struct faas__part {
    const faas__part_ops *ops;    /* also the part's identity: one part per ops */
    faas__part           *next;   /* in rt->parts */
};

/* The runtime's part of this kind, made by create(rt) (which may take no libfaas lock) the
 * first time; NULL if create failed (it says why with faas__fail). */
faas__part *faas__part_get(faas_runtime *rt, const faas__part_ops *ops,
                           faas__part *(*create)(faas_runtime *rt));
/* The runtime's part of this kind, or NULL if it was never made. No lock. */
faas__part *faas__part_find(faas_runtime *rt, const faas__part_ops *ops);

typedef struct faas__recent faas__recent;

/* What faas__emit() calls: the user's hook alone (fn, arg are faas_on_record()'s), or, while
 * the recent records are kept, faas__recent_hook with arg = this hook, which files the
 * record in recent, then calls user(rec, user_arg) if the user set one. */
typedef struct faas__hook {
    struct faas__hook *older;     /* every hook ever set, freed with the runtime */
    faas_record_hook   fn;
    void              *arg;
    faas_record_hook   user;      /* with faas__recent_hook: the user's hook, or NULL */
    void              *user_arg;
    faas__recent      *recent;
} faas__hook;

/* ---- recent.c: the runtime's last records, kept while a console looks (gateway) ------- */

/* Keep the last records of every call from now on (nested: as many stops as starts); the
 * count and the clock start again when nobody kept them. Takes rt->hook_lock. */
int  faas__recent_start(faas_runtime *rt);
void faas__recent_stop(faas_runtime *rt);
/* A copy of the records kept, oldest first, with their strings (released with one
 * free(*recs)); *total: the calls recorded since the start, *since_ns: the start on the
 * runtime's clock. FAAS_ENOTFOUND if none are kept. */
int  faas__recent_copy(faas_runtime *rt, faas_record **recs, size_t *n, uint64_t *total,
                       uint64_t *since_ns);
void faas__recent_hook(const faas_record *rec, void *hook);
void faas__recent_free(faas__recent *r);
/* runtime.c, under rt->hook_lock: publish the hook for the user's hook and the recent
 * records as they are now. */
int  faas__hook_publish_locked(faas_runtime *rt);

/* A part attached to a runtime by the user and detachable (nats_attach.c), unlike the parts
 * above: faas_runtime_free() calls stop before the workers stop (take no new work), and
 * close once every queued and parked call has completed and the functions are gone (hand
 * back what it holds, free itself). */
typedef struct faas__attachment faas__attachment;
struct faas__attachment {
    faas__attachment *next;       /* under rt->attach_lock */
    const char *kind;             /* the attachment's own name, to find it again */
    void      (*stop)(faas__attachment *a);
    void      (*close)(faas__attachment *a);
};

struct faas_runtime {
    faas_options     opts;        /* copied; price_model points to the model's name,
                                     price to the model */
    faas_price_model *price;      /* the runtime's own copy */
    int              clock_kind;  /* FAAS__CLOCK_*: what faas__now() reads; set once */

    pthread_rwlock_t reg_lock;    /* protects fns, quals and every function's vers */
    faas_function   *fns;         /* registered functions ($LATEST), by name */
    faas_function   *quals;       /* published versions and aliases, by "NAME:QUALIFIER" */
    uint64_t         reg_epoch;   /* under reg_lock: +1 by every unregistration, so a handle
                                     found at an epoch is alive while it is the same. Any
                                     code that frees a faas_function must bump it too */
    _Atomic uint64_t route_rng;   /* alias routing's generator (version.c) */

    pthread_mutex_t  mod_lock;    /* protects mods and every module's regs */
    faas__module    *mods;

    faas__timers     timers;
    faas__sched      sched;

    pthread_mutex_t  hook_lock;   /* serialises faas_on_record() and the fields below */
    _Atomic(faas__hook *) hook;   /* the current record hook, or NULL */
    faas__hook      *hooks;       /* every hook ever set */
    faas_record_hook user_hook;   /* faas_on_record()'s */
    void            *user_hook_arg;
    faas__recent    *recent;      /* made by the first faas__recent_start(), freed with the
                                     runtime (a call may still be filing a record in it) */
    unsigned         recent_users;

    pthread_mutex_t  budget_lock; /* protects budgets (the list, not their counters) */
    faas__budget    *budgets;     /* every budget ever set; freed with the runtime */

    atomic_bool      closing;     /* faas_runtime_free() has begun */

    _Atomic(faas__remote *) remote; /* the part async calls are offered to, or NULL */
    atomic_uint      remote_users;  /* submitters inside remote->submit */
    pthread_mutex_t  attach_lock;   /* protects attachments */
    faas__attachment *attachments;
    pthread_mutex_t  part_lock;   /* serialises faas__part_get() */
    _Atomic(faas__part *) parts;  /* optional parts, newest first; only ever pushed */

    faas__journal   *journal;     /* opts.journal_dir's, or NULL; set before any call */
};

/* Attach; FAAS_EEXIST if one of that kind is attached, FAAS_ESHUTDOWN if closing. */
int  faas__attach_add(faas_runtime *rt, faas__attachment *a);
/* Detach and return the attachment of that kind (NULL if none); the caller stops and
 * closes it. */
faas__attachment *faas__attach_take(faas_runtime *rt, const char *kind);
/* Run fn on the attachment of that kind under rt->attach_lock (so it cannot be taken
 * meanwhile); fn must be short and run no user code. False if none is attached. */
bool faas__attach_with(faas_runtime *rt, const char *kind,
                       void (*fn)(faas__attachment *a, void *arg), void *arg);

static inline uint64_t faas__now(const faas_runtime *rt)
{
    /* One test on the system clock's path, as before the TSC (a runtime whose process
     * cannot use the TSC never reads its state). */
    if (rt->clock_kind == FAAS__CLOCK_TSC)
        return faas__default_mono_ns(); /* the TSC once calibrated: clock.h */
    if (__builtin_expect(rt->clock_kind == FAAS__CLOCK_USER, 0))
        return rt->opts.clock.mono_ns(rt->opts.clock.arg);
    return faas__sys_mono_ns();
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

/* ---- cost.c: budgets ------------------------------------------------------------------ */

/* TAG's active budget, or NULL (tag NULL: NULL). */
faas__budget *faas__budget_for(faas_runtime *rt, const char *tag);
void faas__budgets_free(faas_runtime *rt);

static inline int faas__budget_check(faas_function *fn, const char *request_id, int attempt,
                                     faas_response *res)
{
    faas__budget *b = atomic_load_explicit(&fn->budget, memory_order_acquire);
    if (__builtin_expect(b == NULL, 1) || faas__budget_under(b))
        return FAAS_OK;
    faas__budget_sync(b, faas__now(fn->rt));
    if (faas__budget_under(b))
        return FAAS_OK;
    atomic_fetch_add_explicit(&b->refusals, 1, memory_order_relaxed);
    return faas__budget_refused(fn, request_id, attempt, res);
}

/* Emit one line to the log sink, if any. */
static inline void faas__log_line(faas_runtime *rt, const char *line)
{
    if (rt->opts.log)
        rt->opts.log(line, rt->opts.log_arg);
}

#endif /* FAAS_INTERNAL_H */
