/*
 * faas.h - libfaas, an embeddable function-invocation library.
 *
 * This header is the whole public contract: what it does not declare is not API.
 * Every function returns FAAS_OK (0) or a negative FAAS_E* code unless its comment says
 * otherwise. Everything is safe to call from any thread on a shared runtime, except
 * faas_runtime_free(). The reference is the man pages: libfaas(7) for the model, and one
 * page per function (see faas_invoke(3), ...).
 */
#ifndef FAAS_H
#define FAAS_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(FAAS_BUILDING) && (defined(__GNUC__) || defined(__clang__))
# define FAAS_API __attribute__((visibility("default")))
#else
# define FAAS_API
#endif

#if defined(__GNUC__) || defined(__clang__)
# define FAAS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
# define FAAS_PRINTF(f, a)
#endif

#include <stddef.h>
#include <stdint.h>
#include <faas/version.h>

/* ---- Opaque handles ------------------------------------------------------------------ */

typedef struct faas_runtime  faas_runtime;   /* opaque: one per host, owns everything */
typedef struct faas_function faas_function;  /* opaque: owned by the runtime */
typedef struct faas_ctx      faas_ctx;       /* opaque: valid during one handler run */
typedef struct faas_future   faas_future;    /* opaque: one asynchronous call's result */

/* ---- Status codes ---------------------------------------------------------------------
 * One table defines each code once: the enum, faas_strerror() and faas_err_name() are all
 * generated from it. Codes are append-only; a number is never reused. */

#define FAAS_ERRNO_MAP(XX)                                                       \
    XX(OK,          0, "success")                                                \
    XX(EINVAL,     -1, "invalid argument")                                       \
    XX(ENOMEM,     -2, "out of memory")                                          \
    XX(ENOTFOUND,  -3, "function not found")                                     \
    XX(EEXIST,     -4, "function already registered")                            \
    XX(ELOAD,      -5, "module could not be loaded")                             \
    XX(EINIT,      -6, "function initialisation failed")                         \
    XX(EHANDLER,   -7, "function reported an error")                             \
    XX(ETIMEOUT,   -8, "function timed out")                                     \
    XX(ETHROTTLED, -9, "function at its concurrency limit")                      \
    XX(ETOOLARGE, -10, "payload too large")                                      \
    XX(EBUSY,     -11, "resource busy")                                          \
    XX(ESHUTDOWN, -12, "runtime is shutting down")                               \
    XX(EBUDGET,   -13, "budget exhausted")                                       \
    XX(ECRASHED,  -14, "function instance crashed")                              \
    XX(EMEMORY,   -15, "function exceeded its memory limit")                     \
    XX(ENOTSUP,   -16, "not supported by this build")                          \
    XX(EIO,       -17, "input/output error")

enum faas_status {
#define FAAS_XX_(name, value, text) FAAS_##name = value,
    FAAS_ERRNO_MAP(FAAS_XX_)
#undef FAAS_XX_
};

/* ---- Plain-data structures ------------------------------------------------------------
 * One major version is ABI compatible (faas/version.h): a program built with this header
 * runs unchanged with every later library of the same major version. Two rules let the
 * structs grow without breaking it; each struct's opening comment says which it follows.
 *
 * Sized: a struct you fill and the library only reads (faas_options,
 * faas_gateway_options, faas_nats_options, faas_schedule_options, faas_watch_options)
 * starts with `size`, sizeof the struct as your header declares it; its FAAS_*_INIT
 * macro sets it ("faas_options o = FAAS_OPTIONS_INIT;", or ".size = sizeof o" in your
 * own initialiser). The library reads that many bytes and no more, and the fields your
 * header did not have take their defaults. size 0 (an all-zero struct, "= {0}",
 * designated initialisers without .size) means the first published layout, 0.1.0's:
 * such code keeps working, but a field added after 0.1.0 is read only from a struct
 * whose size covers it. A size beyond what the library knows is accepted when the
 * unknown bytes are zero, else refused with FAAS_ENOTSUP (a newer header on an older
 * library). Why a size: only the caller's compiler knows how large its struct is.
 *
 * Fixed: a struct the library writes into your memory or hands back in an array, or that
 * it fills and you may copy (faas_config, faas_record, faas_response, faas_stats,
 * faas_journal_stats, faas_nats_stats, faas_budget, faas_cost_row, faas_function_info,
 * faas_price_model) keeps its size for the whole major version: it ends in reserved
 * words, and a later field takes the place of some of them. Zero them in what you build
 * (faas_config_init() does, and "= {0}"); a faas_config or faas_price_model whose
 * reserved words are set is refused (FAAS_ENOTSUP). What the library leaves in them in
 * what it fills is not defined. Why not a size: the memory the library writes is often
 * uninitialised (a size there would be garbage), an array's stride is the caller's
 * sizeof, and a struct copied from the library would carry the library's size.
 *
 * Either way a later field takes zero to mean the behaviour from before it existed.
 * faas_clock and faas_price_tier, embedded in other structs, never change. Status codes
 * and enum values are never renumbered. */

#ifdef __cplusplus
# define FAAS_SIZED_INIT_(type) ([] { type v_ = type(); v_.size = sizeof v_; return v_; }())
#else
# define FAAS_SIZED_INIT_(type) { .size = sizeof(type) }
#endif

typedef struct faas_clock {             /* NULL functions: the system clocks. Embedded in
                                           faas_options: never changes */
    uint64_t (*mono_ns)(void *arg);     /* monotonic: deadlines, durations, keep-alive,
                                           backoff. NULL: CLOCK_MONOTONIC, or the TSC scaled
                                           to it where the kernel says the TSC is stable
                                           (faas_runtime_new(3), faas_clock_source()) */
    int64_t  (*wall_ns)(void *arg);     /* Unix time in ns: timestamps, schedules */
    void      *arg;
} faas_clock;

typedef struct faas_options {           /* sized: FAAS_OPTIONS_INIT; all-zero = every
                                           default */
    size_t      size;                   /* sizeof(faas_options); 0: the 0.1.0 layout */
    unsigned    workers;                /* 0: online CPUs */
    size_t      queue_capacity;         /* 0: 65536 pending async calls */
    const char *price_model;            /* NULL: "aws-lambda-x86" */
    void      (*log)(const char *line, void *arg); /* START/END/REPORT and error lines */
    void       *log_arg;
    faas_clock  clock;                  /* tests inject time here */
    int         manual;                 /* 1: no background thread; see faas_run_pending() */
    int         cpu_time;               /* 1: per-call thread CPU time (two kernel calls) */
    size_t      max_payload_sync;       /* 0: 6,291,456 bytes (Lambda's sync limit) */
    size_t      max_payload_async;      /* 0: 1,048,576 bytes (Lambda's Event limit) */
    unsigned    retry_base_ms;          /* 0: 100 ms, the first retry's backoff ceiling */
    unsigned    retry_cap_ms;           /* 0: 10000 ms, the largest backoff ceiling */
    int         idle_spin_us;           /* an idle worker polls this long before it sleeps;
                                           0: 50 us, negative: never */
    const struct faas_price_model *price; /* a model of your own (copied); when set it
                                           replaces price_model. See faas_price_model(3) */
    int         no_histograms;          /* 1: keep no latency histograms (quantiles 0) */
    const char *journal_dir;            /* a directory where accepted async calls are kept
                                           until they complete, durably (copied); NULL:
                                           none. See faas_journal_replay(3) */
    size_t      journal_segment_bytes;  /* 0: 16 MiB, the journal's file size before it is
                                           compacted */
    /* later fields are only ever added here, at the end */
} faas_options;

#define FAAS_OPTIONS_INIT FAAS_SIZED_INIT_(faas_options)

/* faas_config.isolation: where a function's instances run. See faas-isolation(7). */
enum faas_isolation {
    FAAS_ISOLATE_NONE    = 0,   /* in the host process: the fastest path */
    FAAS_ISOLATE_PROCESS = 1    /* one process per instance, forked from a zygote */
};

/* faas_config.seccomp: the syscalls an isolated instance may make. */
enum faas_seccomp {
    FAAS_SECCOMP_NONE       = 0,    /* no filter */
    FAAS_SECCOMP_NO_NETWORK = 1,    /* socket(), connect(), bind(), ... end the call */
    FAAS_SECCOMP_STRICT     = 2     /* only what a pure computation needs */
};

/* A handler: payload is never NULL and payload[len] is always a NUL byte (not counted in len),
 * whatever the path; return 0 for success. A handler that does not reply gives an empty
 * reply (the gateway's body: null). See faas_register(3). */
typedef int  (*faas_handler)(faas_ctx *ctx, const void *payload, size_t len);
typedef int  (*faas_init_fn)(void **state, const char *function);  /* module symbol faas_init */
typedef void (*faas_shutdown_fn)(void *state);                     /* module symbol faas_shutdown */

typedef struct faas_config {    /* fixed: start from faas_config_init() */
    unsigned memory_mb;         /* billing size and the per-call arena limit; isolated: the
                                   instance's address-space limit too; a process function:
                                   its instance's memory cgroup (128) */
    unsigned timeout_ms;        /* deadline: cooperative, or a SIGKILL when isolated (3000) */
    unsigned max_concurrency;   /* most instances at once; 0 = no limit (0) */
    unsigned min_warm;          /* instances kept initialised (0) */
    unsigned keep_alive_ms;     /* idle lifetime before shutdown; 0 = at once (600000) */
    unsigned max_retries;       /* async retries after a failure (2) */
    const char *dead_letter;    /* function that receives exhausted async calls (NULL) */
    const char *tag;            /* cost attribution key (NULL) */
    faas_init_fn init;          /* INIT hook for faas_register() host functions (NULL) */
    faas_shutdown_fn shutdown;  /* SHUTDOWN hook for host functions (NULL) */
    int isolation;              /* FAAS_ISOLATE_NONE (in-process) or _PROCESS (NONE) */
    int seccomp;                /* isolated instances' syscall profile (FAAS_SECCOMP_NONE) */
    int remote;                 /* 1: with a NATS producer attached, async calls are published
                                   for a worker to run (see faas_nats_attach(3)) (0) */
    unsigned pids_max;          /* isolated and process instances: most processes and
                                   threads of an instance and all it forks; 0 = no limit
                                   (1024, as AWS Lambda) */
    const char *const *environment; /* the function's own "NAME=value" variables,
                                   NULL-terminated, copied (NULL: none): faas_ctx_getenv();
                                   Lambda's reserved names (AWS_LAMBDA_*, _HANDLER...) are
                                   refused. In the place of a reserved word (0.1.0 had 8) */
#if UINTPTR_MAX == UINT32_MAX
    uint32_t environment_pad_;  /* zero: the reserved word's other half */
#endif
    const char *user;           /* isolated instances: the user they run as, a name or a
                                   uid (NULL: "nobody" when the host is root, else the
                                   host's own); NULL for other functions. In the place of
                                   a reserved word (0.1.0 had 8) */
#if UINTPTR_MAX == UINT32_MAX
    uint32_t user_pad_;         /* zero: the reserved word's other half */
#endif
    /* later fields take the place of reserved words, here: the size never changes */
    uint64_t reserved[6];       /* zero */
} faas_config;

typedef struct faas_record {    /* fixed: handed back in arrays */
    char        request_id[37]; /* UUID v4 text */
    const char *function, *tag; /* tag may be NULL */
    int         status;         /* FAAS_OK or a negative code */
    int         cold;           /* 1: this call initialised its instance */
    int         attempt;        /* 1 for the first run of a call, then 2, 3... (retries) */
    uint64_t    init_ns;        /* cold calls: load + INIT time */
    uint64_t    duration_ns;    /* handler wall time */
    uint64_t    cpu_ns;         /* handler thread CPU time; 0 when CPU timing is off */
    uint32_t    billed_ms, memory_mb;
    uint64_t    max_memory_bytes; /* arena high-water of this call */
    uint64_t    cost_picousd;   /* 1e-12 USD */
    uint32_t    version;        /* the published version that ran (NAME:3 or an alias
                                   routed to 3: 3); 0: $LATEST. See faas_publish_version(3) */
    uint32_t    reserved32;     /* zero */
    uint64_t    reserved[3];    /* later fields; zero in a record you build */
} faas_record;

typedef struct faas_response {  /* fixed: the library fills it in your memory */
    int         status;                 /* equals what faas_invoke() returned */
    void       *data;  size_t len;      /* the reply, or the error JSON; NUL-terminated */
    const char *error_type, *error_message; /* NULL when status is FAAS_OK */
    const char *log_tail;               /* the last 4 KB the call logged ("" if none) */
    faas_record record;
    uint64_t    reserved[4];            /* later fields */
} faas_response;

typedef struct faas_stats {     /* fixed: the library fills it in your memory */
    uint64_t invocations, errors, throttles, cold_starts, timeouts, retries, dead_letters;
    unsigned instances_live, instances_busy;
    double   p50_ms, p90_ms, p99_ms, max_ms;      /* handler durations */
    uint64_t cost_picousd;
    /* appended with cost models and budgets, before 0.1.0 */
    double   p999_ms;
    double   init_p50_ms, init_p90_ms, init_p99_ms, init_p999_ms, init_max_ms;
    double   queue_p50_ms, queue_p90_ms, queue_p99_ms, queue_p999_ms, queue_max_ms;
    uint64_t init_count, queue_count;   /* samples in the init and queue-wait quantiles */
    uint64_t budget_refusals;           /* calls refused with FAAS_EBUDGET */
    uint64_t mb_ms;                     /* billed memory x billed time: GB-s x 1,024,000 */
    uint64_t request_picousd, compute_picousd;   /* cost_picousd split in two */
    uint64_t instance_deaths;   /* isolated instances found dead between calls (killed from
                                   outside, RLIMIT_CPU) and replaced; not in errors */
    uint64_t reserved[16];      /* later fields take their place: the size never changes */
} faas_stats;

typedef void (*faas_callback)(const faas_response *res, void *arg);
typedef void (*faas_record_hook)(const faas_record *rec, void *arg);

/* ---- Version ----------------------------------------------------------------------- */

/* The loaded library's version, "MAJOR.MINOR.PATCH". See faas_version(3). */
FAAS_API const char *faas_version(void);
/* The same as (major << 16) | (minor << 8) | patch; compare with FAAS_VERSION_HEX. */
FAAS_API unsigned faas_version_number(void);

/* ---- Errors ------------------------------------------------------------------------ */

/* A status in words; never NULL, allocates nothing. See faas_strerror(3). */
FAAS_API const char *faas_strerror(int status);
/* The status's name, "FAAS_ETHROTTLED"; "FAAS_EUNKNOWN" for an unknown code. */
FAAS_API const char *faas_err_name(int status);
/* This thread's last failure in words ("" before any); not cleared by a success. */
FAAS_API const char *faas_last_error(void);

/* ---- Runtime ----------------------------------------------------------------------- */

/* Create a runtime; opts NULL or all-zero means every default. See faas_runtime_new(3). */
FAAS_API int  faas_runtime_new(faas_runtime **out, const faas_options *opts);
/* Refuse new calls, finish running ones, cancel queued ones, unload. NULL is a no-op. */
FAAS_API void faas_runtime_free(faas_runtime *rt);
/* Manual mode: run what is due now (timers, queued calls); returns how many, or < 0. */
FAAS_API int  faas_run_pending(faas_runtime *rt);
/* Run the async queue to the end; FAAS_ETIMEOUT if it is not empty after timeout_ms. */
FAAS_API int  faas_drain(faas_runtime *rt, unsigned timeout_ms);
/* Where rt's monotonic time comes from: "custom" (opts.clock.mono_ns), "tsc" (the TSC
 * scaled to CLOCK_MONOTONIC, where the kernel says it is stable), "calibrating" (still
 * CLOCK_MONOTONIC while the TSC's scale is measured) or "system" (CLOCK_MONOTONIC). */
FAAS_API const char *faas_clock_source(const faas_runtime *rt);
/* Set the hook that receives every record (NULL removes it). See faas_on_record(3). */
FAAS_API void faas_on_record(faas_runtime *rt, faas_record_hook hook, void *arg);

/* ---- Registry ---------------------------------------------------------------------- */

/* Fill cfg with the defaults. See faas_config_init(3). */
FAAS_API void faas_config_init(faas_config *cfg);
/* Register a host function. cfg NULL: the defaults. See faas_register(3). */
FAAS_API int faas_register(faas_runtime *rt, const char *name, faas_handler handler,
                           const faas_config *cfg);
/* Register SYMBOL of the shared object PATH; nothing is loaded until the first call. */
FAAS_API int faas_register_module(faas_runtime *rt, const char *name, const char *path,
                                  const char *symbol, const faas_config *cfg);
/* Register an existing C function by its C signature, called through libffi with JSON
 * arguments. path NULL: a symbol of the process. See faas_register_ffi(3). */
FAAS_API int faas_register_ffi(faas_runtime *rt, const char *name, const char *path,
                               const char *symbol, const char *signature,
                               const faas_config *cfg);
/* Remove a function; waits for its running calls, then shuts its instances down. */
FAAS_API int faas_unregister(faas_runtime *rt, const char *name);
/* A handle for faas_invoke_fn(); NULL if unknown. Valid until the name is unregistered. */
FAAS_API faas_function *faas_lookup(faas_runtime *rt, const char *name);

/* ---- Invocation -------------------------------------------------------------------- */

/* Call NAME synchronously on this thread; fills *res (NULL: discard). See faas_invoke(3). */
FAAS_API int  faas_invoke(faas_runtime *rt, const char *name, const void *payload, size_t len,
                          faas_response *res);
/* The same through a handle from faas_lookup(): no name lookup. */
FAAS_API int  faas_invoke_fn(faas_function *fn, const void *payload, size_t len,
                             faas_response *res);
/* Release what a response holds; safe on a zeroed response and after any return. */
FAAS_API void faas_response_free(faas_response *res);
/* Queue a call; cb (NULL: none) runs exactly once per accepted call: on a worker (in
 * manual mode inside faas_run_pending; at shutdown on the thread in faas_runtime_free).
 * request_id (NULL ok) receives the call's id at once. See faas_invoke_async(3). */
FAAS_API int  faas_invoke_async(faas_runtime *rt, const char *name, const void *payload,
                                size_t len, faas_callback cb, void *arg, char request_id[37]);
/* The same through a handle from faas_lookup(). */
FAAS_API int  faas_invoke_fn_async(faas_function *fn, const void *payload, size_t len,
                                   faas_callback cb, void *arg, char request_id[37]);
/* Queue a call whose result is collected with faas_future_wait(). See faas_future_wait(3). */
FAAS_API int  faas_invoke_future(faas_runtime *rt, const char *name, const void *payload,
                                 size_t len, faas_future **out);
/* Wait up to timeout_ms (0: poll) for the call to end: FAAS_OK and *res filled (the call's
 * own status is res->status), or FAAS_ETIMEOUT if it is still running. */
FAAS_API int  faas_future_wait(faas_future *f, unsigned timeout_ms, faas_response *res);
/* The call's request id, valid until faas_future_free(). */
FAAS_API const char *faas_future_request_id(const faas_future *f);
/* Release the future; a call still running completes unobserved. NULL is a no-op. */
FAAS_API void faas_future_free(faas_future *f);
/* Make at least N instances of NAME live and initialised; returns when they are. */
FAAS_API int  faas_warm(faas_runtime *rt, const char *name, unsigned instances);

/* Lambda's ClientContext: at most this many bytes of JSON (the most whose base64 fits the
 * Invoke API's 3,583 bytes). See faas_invoke_ex(3). */
#define FAAS_CLIENT_CONTEXT_MAX 2687

typedef struct faas_invoke_options {    /* sized: FAAS_INVOKE_OPTIONS_INIT; all-zero =
                                           faas_invoke()'s behaviour */
    size_t      size;                   /* sizeof(faas_invoke_options) */
    const char *client_context;         /* Lambda's ClientContext, decoded: the text of a
                                           JSON object, at most FAAS_CLIENT_CONTEXT_MAX
                                           bytes, that the handler reads with
                                           faas_ctx_client_context() (NULL: none) */
    /* later fields are only ever added here, at the end */
} faas_invoke_options;

#define FAAS_INVOKE_OPTIONS_INIT FAAS_SIZED_INIT_(faas_invoke_options)

/* faas_invoke() with per-call options (opts NULL: none); FAAS_EINVAL if client_context is
 * not a JSON object, FAAS_ETOOLARGE if it is too long. See faas_invoke_ex(3). */
FAAS_API int  faas_invoke_ex(faas_runtime *rt, const char *name, const void *payload,
                             size_t len, const faas_invoke_options *opts, faas_response *res);

/* ---- Versions and aliases ---------------------------------------------------------------
 * A name may carry one qualifier: NAME and NAME:$LATEST are the function as registered;
 * NAME:3 is published version 3, frozen by faas_publish_version() with its own instances,
 * counters and cost; NAME:prod is an alias, which sends each call to its version, or to a
 * second one for a share of the calls (Lambda's AdditionalVersionWeights). faas_invoke(),
 * faas_invoke_async(), faas_invoke_future(), faas_lookup() and faas_stats_get() take
 * qualified names; an unknown qualifier is FAAS_ENOTFOUND. See faas_publish_version(3).
 */

typedef struct faas_version_info {      /* fixed: the library fills it */
    uint32_t    version;                /* 1, 2, ... */
    uint32_t    reserved32;
    char        code_sha256[48];        /* base64 SHA-256 of the module file, or of a process
                                           function's task root (44 chars), as Lambda's
                                           CodeSha256; see faas_publish_version(3) */
    const char *description;            /* as published ("" if none) */
    int64_t     published_ns;           /* when, Unix time (the runtime's wall clock) */
    uint64_t    code_size;              /* bytes of its frozen code (CodeSize): the module
                                           file, the task root's files; 0: a host function */
    uint64_t    reserved[3];            /* later fields take their place */
} faas_version_info;

typedef struct faas_alias_info {        /* fixed: the library fills it */
    uint32_t version;                   /* the alias's version; 0: $LATEST */
    uint32_t extra_version;             /* the second version; 0: none */
    double   extra_weight;              /* the share of calls it gets, 0.0 to 1.0 */
    uint64_t revision;                  /* 1 when created, one more per faas_alias_set() */
    uint64_t reserved[4];               /* later fields take their place */
} faas_alias_info;

/* Publish NAME (unqualified) as a new immutable version; *version (NULL ok) gets its
 * number. Nothing changed since the last version: that version, none made. */
FAAS_API int  faas_publish_version(faas_runtime *rt, const char *name, const char *description,
                                   uint32_t *version);
/* NAME's published versions, oldest first; *infos is released with faas_versions_free(). */
FAAS_API int  faas_versions_list(faas_runtime *rt, const char *name, faas_version_info **infos,
                                 size_t *count);
/* Release what faas_versions_list() returned. NULL is a no-op. */
FAAS_API void faas_versions_free(faas_version_info *infos);
/* Create or update alias ALIAS of NAME: calls go to VERSION (0: $LATEST), and a share
 * EXTRA_WEIGHT (0.0-1.0) of them to EXTRA_VERSION (0: none). Atomic for calls. */
FAAS_API int  faas_alias_set(faas_runtime *rt, const char *name, const char *alias,
                             uint32_t version, uint32_t extra_version, double extra_weight);
/* Delete an alias; calls naming it are then FAAS_ENOTFOUND. */
FAAS_API int  faas_alias_delete(faas_runtime *rt, const char *name, const char *alias);
/* An alias's routing now. */
FAAS_API int  faas_alias_get(faas_runtime *rt, const char *name, const char *alias,
                             faas_alias_info *out);
/* NAME's aliases (names only, oldest first, NULL after the last); *aliases is one block,
 * released with faas_free(). */
FAAS_API int  faas_aliases_list(faas_runtime *rt, const char *name, char ***aliases,
                                size_t *count);
/* Seed the runtime's routing generator: the same seed, the same choices (tests). */
FAAS_API void faas_routing_seed(faas_runtime *rt, uint64_t seed);

/* ---- Hot code update and the canary report ----------------------------------------------
 * faas_update_code() replaces the module $LATEST runs without failing a call: new calls
 * run the new code, old instances finish their calls and are retired. A published version
 * keeps its own code. See faas_update_code(3) and faas_canary_get(3).
 */

enum {                                  /* faas_update_info.status (Lambda's LastUpdateStatus) */
    FAAS_UPDATE_NONE        = 0,        /* never updated: the code as registered */
    FAAS_UPDATE_SUCCESSFUL  = 1,
    FAAS_UPDATE_FAILED      = 2,        /* the old code still serves; reason says why */
    FAAS_UPDATE_IN_PROGRESS = 3
};

typedef struct faas_update_info {       /* fixed: the library fills it */
    int32_t  status;                    /* FAAS_UPDATE_* of the last update */
    int32_t  error;                     /* the last failed update's code (FAAS_EINIT...), 0 */
    char     reason[512];               /* ... in words (LastUpdateStatusReason); "" */
    char     code_sha256[48];           /* base64 SHA-256 of the code $LATEST runs */
    uint64_t updates;                   /* successful updates since registration */
    uint64_t failures;                  /* failed ones */
    int64_t  updated_ns;                /* when the last one ended, Unix time; 0: never */
    uint64_t reserved[4];               /* later fields take their place */
} faas_update_info;

/* Load NAME's module again from path (NULL: the file it was registered or last updated
 * with, as replaced on disk). FAAS_EINIT/FAAS_ELOAD: the old code still serves. */
FAAS_API int  faas_update_code(faas_runtime *rt, const char *name, const char *path);
/* on = 1: $LATEST follows its file (registered or last updated with) on disk: a file
 * renamed into place or closed after writing is one faas_update_code(). on = 0: stop. */
FAAS_API int  faas_update_follow(faas_runtime *rt, const char *name, int on);
/* NAME's last code update: status, reason, CodeSha256. */
FAAS_API int  faas_update_status(faas_runtime *rt, const char *name, faas_update_info *out);

typedef struct faas_canary_side {       /* fixed: the library fills it */
    uint32_t version;                   /* 0: $LATEST */
    uint32_t reserved32;
    double   weight;                    /* the share of the alias's calls it gets now */
    uint64_t invocations, errors;       /* since it was published */
    double   p50_ms, p99_ms;            /* handler duration */
    uint64_t cost_picousd;              /* total */
    uint64_t cost_per_million_picousd;  /* cost per 1M calls at its average (0: no call) */
    uint64_t reserved[4];               /* later fields take their place */
} faas_canary_side;

typedef struct faas_canary {            /* fixed: the library fills it */
    uint64_t         revision;          /* the alias's routing revision */
    faas_canary_side primary;           /* the alias's version */
    faas_canary_side extra;             /* the second version (version 0: none) */
    uint64_t         reserved[4];       /* later fields take their place */
} faas_canary;

/* Side-by-side stats of the versions behind alias ALIAS of NAME. */
FAAS_API int  faas_canary_get(faas_runtime *rt, const char *name, const char *alias,
                              faas_canary *out);

/* ---- The journal of accepted asynchronous calls (faas_options.journal_dir) ---------------
 * With a journal, an async call is on disk (fdatasync, shared by concurrent callers) before
 * its submission returns FAAS_OK, and leaves it when its completion is final; a call not
 * completed (a crash, or FAAS_ESHUTDOWN at faas_runtime_free) runs again after the next
 * start, with the same request id. See faas_journal_replay(3).
 */

typedef struct faas_journal_stats {     /* fixed: the library fills it */
    int      enabled;           /* 1: the runtime has a journal */
    int      error;             /* 0, or FAAS_EIO once a write failed: calls are refused */
    uint64_t pending;           /* async calls accepted and not completed (with or without
                                   a journal): queued, parked, waiting for a retry, running */
    uint64_t live;              /* calls in the journal: the pending ones, and those found
                                   at start and not replayed yet */
    uint64_t unreplayed;        /* found at start (or handed back), not queued again yet */
    uint64_t recovered;         /* calls found in the journal at start */
    uint64_t appended;          /* calls journaled since start */
    uint64_t completed;         /* calls whose final completion was recorded */
    uint64_t kept;              /* calls that ended FAAS_ESHUTDOWN and stay in it */
    uint64_t syncs;             /* fdatasync() calls: appended / syncs is the group size */
    uint64_t bytes;             /* the size of its files now */
    uint64_t segments;          /* its files now */
    uint64_t compactions;       /* files replaced by one holding only the live calls */
    uint64_t torn_bytes;        /* at start: the cut-short end of a file, ignored */
    uint64_t corrupt_records;   /* at start: damaged records skipped (valid ones after) */
    uint64_t corrupt_bytes;     /* ... their bytes, and those of files not readable */
    uint64_t reserved[8];       /* later fields take their place: the size never changes */
} faas_journal_stats;

/* Queue again, as async calls with their own request ids, the calls the journal held when
 * the runtime was created (register their functions first); cb (NULL: none) gets each
 * one's completion. Returns how many were taken, or a negative code. */
FAAS_API int  faas_journal_replay(faas_runtime *rt, faas_callback cb, void *arg);
/* The journal's counters, and the number of pending async calls (also with no journal). */
FAAS_API int  faas_journal_stats_get(faas_runtime *rt, faas_journal_stats *out);

/* ---- Inside a handler -------------------------------------------------------------- */

/* Set the call's reply (copied); a later reply replaces it. See faas_reply(3). */
FAAS_API int         faas_reply(faas_ctx *ctx, const void *data, size_t len);
/* Fail the call with errorType (NULL: "HandlerError"); returns FAAS_EHANDLER. */
FAAS_API int         faas_fail(faas_ctx *ctx, const char *error_type, const char *fmt, ...)
                         FAAS_PRINTF(3, 4);
/* Fail the call with a whole Lambda error body, a JSON object with errorType and
 * errorMessage and anything else (stackTrace...), copied; returns FAAS_EHANDLER. */
FAAS_API int         faas_fail_body(faas_ctx *ctx, const void *body, size_t len);
/* Memory from the call's arena, freed when the call ends; NULL past memory_mb. */
FAAS_API void       *faas_ctx_alloc(faas_ctx *ctx, size_t n);
/* Milliseconds left before the deadline (negative once it has passed). */
FAAS_API int64_t     faas_ctx_remaining_ms(const faas_ctx *ctx);
/* Append a line to the call's log (log_tail, and the log sink). */
FAAS_API void        faas_ctx_log(faas_ctx *ctx, const char *fmt, ...) FAAS_PRINTF(2, 3);
/* The state this instance's INIT hook set. */
FAAS_API void       *faas_ctx_state(const faas_ctx *ctx);
/* The call's request id (UUID text) and function name; valid during the call. */
FAAS_API const char *faas_ctx_request_id(const faas_ctx *ctx);
FAAS_API const char *faas_ctx_function(const faas_ctx *ctx);
/* The call's client context (Lambda's ClientContext, decoded: compact JSON object text),
 * or NULL when the caller sent none; valid during the call. See faas_ctx_state(3). */
FAAS_API const char *faas_ctx_client_context(const faas_ctx *ctx);
/* The value of environment variable NAME as the function sees it: Lambda's reserved
 * variables (AWS_LAMBDA_FUNCTION_NAME, AWS_REGION, _HANDLER, TZ...) and the function's own
 * (faas_config.environment), never the host's; NULL if it has none. Valid during the
 * call. In-process functions have no environment of their own: this is it. See
 * faas_ctx_state(3). */
FAAS_API const char *faas_ctx_getenv(faas_ctx *ctx, const char *name);

/* ---- Records and metrics ----------------------------------------------------------- */

/* Counters, instances and latency quantiles of NAME (NULL: every registered function). */
FAAS_API int faas_stats_get(faas_runtime *rt, const char *name, faas_stats *out);
/* Write the record's AWS REPORT line (no newline) into buf; returns the length it needs,
 * as snprintf does, or a negative code. See faas_record_format(3). */
FAAS_API int faas_record_format(const faas_record *rec, char *buf, size_t size);

/* ---- libffi bridge -------------------------------------------------------------------
 * faas_register_ffi() is declared with the registry above; what the bridge adds (binary
 * calls) is declared here.
 */

/* Call an FFI function with C values, no JSON: args[i] points to the i-th argument (an
 * object of its declared type; for a string, a char * holding it); the result is stored
 * in *ret (an object of the return type; NULL: discarded, a faas_owned string freed).
 * The instance, deadline, record and accounting are those of faas_invoke_fn(); res
 * (NULL: discard) gets an empty reply. See faas_invoke_ffi(3). */
FAAS_API int faas_invoke_ffi(faas_function *fn, void **args, void *ret, faas_response *res);

/* ---- Cost models, budgets and metrics export -------------------------------------------
 * Price models beyond the runtime's own, per-tag budgets, workload projections, and the
 * JSON and Prometheus exposition of the counters and histograms. Money is integer
 * pico-dollars (1e-12 USD) everywhere.
 */

enum faas_time_basis {
    FAAS_TIME_WALL = 0,         /* the handler's wall time (record.duration_ns) */
    FAAS_TIME_CPU  = 1          /* its thread's CPU time (record.cpu_ns): cpu_time is on */
};

enum faas_memory_basis {
    FAAS_MEMORY_CONFIGURED = 0, /* the function's memory_mb (AWS, GCP) */
    FAAS_MEMORY_OBSERVED   = 1, /* the call's arena high-water, max_memory_bytes (Azure) */
    FAAS_MEMORY_NONE       = 2  /* compute is priced per second whatever the memory */
};

#define FAAS_PRICE_TIERS 12     /* never changes: the tiers are inside faas_price_model */

typedef struct faas_price_tier {    /* embedded in faas_price_model: never changes */
    uint32_t memory_mb;         /* for memory sizes up to this one (the first that fits) */
    uint32_t milli_units;       /* the second dimension, in thousandths: 200 = 0.2 GHz */
} faas_price_tier;

typedef struct faas_price_model {   /* fixed: presets are copied; faas_price_model(3) */
    const char *name;               /* 1-63 characters of [A-Za-z0-9_.-] */
    const char *source;             /* where the figures were read (NULL ok) */
    const char *read_on;            /* when, "2026-11-26" (NULL ok) */
    uint64_t    request_picousd;    /* per request */
    uint64_t    gbs_picousd;        /* per GB-second (1 GB = 1024 MB); per second with
                                       FAAS_MEMORY_NONE */
    const char *unit2;              /* a second compute dimension, "GHz-s" (NULL: none) */
    uint64_t    unit2_picousd;      /* per unit-second of it */
    faas_price_tier unit2_tiers[FAAS_PRICE_TIERS]; /* units by memory size, ascending */
    int         time_basis;         /* enum faas_time_basis */
    int         memory_basis;       /* enum faas_memory_basis */
    uint32_t    memory_bucket_mb;   /* billed memory rounded up to a multiple (0: 1 MB) */
    uint32_t    min_memory_mb;      /* billed memory at least this */
    uint32_t    quantum_ms;         /* billed time rounded up to a multiple (0: 1 ms) */
    uint32_t    min_ms;             /* billed time at least this */
    int         bill_init;          /* 1: a cold call's INIT time is billed */
    uint64_t    free_requests;      /* monthly free tier: requests */
    uint64_t    free_gb_seconds;    /* ... GB-seconds (seconds with FAAS_MEMORY_NONE) */
    uint64_t    free_unit2_seconds; /* ... unit-seconds of the second dimension */
    uint64_t    monthly_picousd;    /* a fixed monthly fee (Cloudflare's $5 plan) */
    uint64_t    reserved[8];        /* zero; later fields take their place */
} faas_price_model;

/* The preset named NAME, or NULL. Presets are static: never freed. */
FAAS_API const faas_price_model *faas_price_model_find(const char *name);
/* The index-th preset (0, 1, ...), or NULL past the last. See faas_price_model(3). */
FAAS_API const faas_price_model *faas_price_model_preset(size_t index);
/* Parse a model from the text of a model file; *out is freed with faas_price_model_free. */
FAAS_API int  faas_price_model_parse(const char *text, size_t len, faas_price_model **out);
/* The same from a file. */
FAAS_API int  faas_price_model_load(const char *path, faas_price_model **out);
/* Release a model from faas_price_model_parse/_load; NULL is a no-op. */
FAAS_API void faas_price_model_free(faas_price_model *model);
/* Price a record with MODEL: sets rec->billed_ms and rec->cost_picousd from the rest. */
FAAS_API int  faas_price_record(const faas_price_model *model, faas_record *rec);

/* Pico-dollars as dollars, "$1.200002": decimals < 0 exact (at least 2 digits), else
 * rounded half up to that many (0-12). Returns the length it needs, as snprintf does. */
FAAS_API int  faas_format_usd(uint64_t picousd, int decimals, char *buf, size_t size);

/* A record as one line of JSON (no newline) into buf; the length it needs, as snprintf. */
FAAS_API int  faas_record_json(const faas_record *rec, char *buf, size_t size);
/* Write that line and a newline to fd in one write(2): a record sink for files. */
FAAS_API int  faas_record_write(const faas_record *rec, int fd);
/* Read a file of such lines; *recs is released with faas_records_free(). */
FAAS_API int  faas_records_load(const char *path, faas_record **recs, size_t *count);
FAAS_API void faas_records_free(faas_record *recs, size_t count);

enum faas_cost_group {
    FAAS_COST_TOTAL    = 0,     /* the whole workload */
    FAAS_COST_FUNCTION = 1,     /* one function */
    FAAS_COST_TAG      = 2      /* the functions with one tag (name NULL: untagged) */
};

typedef struct faas_cost_row {  /* fixed: handed back in arrays */
    const char *model;          /* the price model's name */
    int         group;          /* enum faas_cost_group */
    const char *name;           /* the function or the tag; NULL for a total, untagged */
    uint64_t    calls;          /* billed calls */
    uint64_t    mb_ms;          /* billed MB x billed ms: GB-s = mb_ms / 1,024,000 */
    uint64_t    unit2_ms;       /* second dimension, milli-units x ms: unit-s = / 1e6 */
    uint64_t    request_picousd;
    uint64_t    compute_picousd;    /* both compute dimensions */
    uint64_t    fixed_picousd;      /* the monthly fee (totals of a projection only) */
    uint64_t    free_picousd;       /* what the free tier takes off (totals only) */
    uint64_t    total_picousd;      /* request + compute + fixed - free */
    int         cpu_estimated;      /* a CPU-time model without CPU times: wall time used */
    uint64_t    reserved[4];        /* later fields */
} faas_cost_row;

/* What the runtime's records cost so far, per function or per tag (its own model, no free
 * tier); *rows is released with faas_free(). See faas_cost_totals(3). */
FAAS_API int  faas_cost_totals(faas_runtime *rt, int group, faas_cost_row **rows,
                               size_t *count);
/* Price recorded calls on every model (models NULL: every preset), scaled to
 * monthly_calls a month (0: as recorded), free tier applied: per model a total row, then
 * a row per function and per tag. *rows is released with faas_free(). */
FAAS_API int  faas_cost_compare(const faas_record *recs, size_t count, uint64_t monthly_calls,
                                const faas_price_model *const *models, size_t nmodels,
                                faas_cost_row **rows, size_t *nrows);

typedef struct faas_budget {    /* fixed: the library fills it */
    uint64_t limit_picousd;     /* per window */
    uint64_t window_ms;         /* 0: one window for ever */
    uint64_t spent_picousd;     /* in the current window */
    uint64_t window_left_ms;    /* until the next window (0 with no window) */
    uint64_t refusals;          /* calls refused with FAAS_EBUDGET, all windows */
    uint64_t reserved[4];       /* later fields */
} faas_budget;

/* Limit what the functions tagged TAG may cost per window of window_ms on the runtime's
 * clock; past it calls get FAAS_EBUDGET. Setting it again starts a new window. */
FAAS_API int  faas_budget_set(faas_runtime *rt, const char *tag, uint64_t limit_picousd,
                              uint64_t window_ms);
/* The budget of TAG now; FAAS_ENOTFOUND if it has none. */
FAAS_API int  faas_budget_get(faas_runtime *rt, const char *tag, faas_budget *out);
/* Remove TAG's budget. */
FAAS_API int  faas_budget_remove(faas_runtime *rt, const char *tag);

/* Every counter, gauge and histogram as JSON, or as Prometheus text exposition (format
 * 0.0.4); *text (NUL-terminated, *len without the NUL) is released with faas_free(). */
FAAS_API int  faas_metrics_json(faas_runtime *rt, char **text, size_t *len);
FAAS_API int  faas_metrics_prometheus(faas_runtime *rt, char **text, size_t *len);
/* Release memory libfaas handed out where its page says so; NULL is a no-op. */
FAAS_API void faas_free(void *p);

/* ---- HTTP gateway (optional: FAAS_ENOTSUP when built without libmicrohttpd) -------------
 * The AWS Lambda Invoke API over HTTP. faas_list() and faas_describe(), which its
 * ListFunctions uses, are part of every build.
 */

/* What a function was registered with; strings point into the same block. Fixed: handed
 * back in arrays. */
typedef struct faas_function_info {
    const char *name;
    const char *kind;           /* "host", "module" or "ffi" */
    const char *module;         /* the shared object's path as registered, or NULL (host
                                   functions, ffi symbols of the process) */
    const char *symbol;         /* NULL for host functions */
    faas_config config;         /* dead_letter and tag point into this block */
    uint64_t    reserved[4];    /* later fields */
} faas_function_info;

/* Every registered function, sorted by name: *infos is one block of *count entries,
 * released with faas_info_free() (NULL when there are none). See faas_list(3). */
FAAS_API int  faas_list(faas_runtime *rt, faas_function_info **infos, size_t *count);
/* One function's registration; released with faas_info_free(). */
FAAS_API int  faas_describe(faas_runtime *rt, const char *name, faas_function_info **info);
/* Release what faas_list() or faas_describe() returned. NULL is a no-op. */
FAAS_API void faas_info_free(faas_function_info *infos);

typedef struct faas_gateway faas_gateway;   /* opaque: one listening HTTP server */

typedef struct faas_gateway_options {       /* sized: FAAS_GATEWAY_OPTIONS_INIT;
                                               all-zero = every default */
    size_t      size;               /* sizeof(faas_gateway_options); 0: the 0.1.0 layout */
    const char *token;              /* a bearer token every request but GET /healthz must
                                       carry (copied); NULL or "": none */
    unsigned    max_connections;    /* 0: 256 open connections; more are refused */
    size_t      max_body;           /* 0: the larger payload limit; a longer request body is
                                       refused (413) from its Content-Length, unread */
    size_t      max_payload_sync;   /* 0: the runtime's (6,291,456 bytes by default) */
    size_t      max_payload_async;  /* 0: the runtime's (1,048,576 bytes by default) */
    unsigned    idle_timeout_ms;    /* 0: 30000; a connection silent this long is closed
                                       (whole seconds, rounded up) */
    unsigned    body_timeout_ms;    /* 0: 30000; a request body must arrive within this */
    unsigned    drain_timeout_ms;   /* 0: 10000; how long faas_gateway_stop() lets
                                       requests in progress finish */
    unsigned    threads;            /* 0: see faas_gateway_start(3) */
    const char *region;             /* NULL: "us-east-1", in the ARNs it answers with */
    const char *account;            /* NULL: "000000000000", likewise */
    unsigned    header_timeout_ms;  /* 0: 10000; a request's line and headers must arrive
                                       within this of the connection's start or of the
                                       previous response (a client trickling them is cut) */
    unsigned    max_connections_per_address; /* 0: max_connections / 2; open connections
                                       from one client address at most */
    size_t      max_discard;        /* 0: 2 x max_body; a body refused from the headers
                                       (401, 404, 413...) up to this long is read and
                                       thrown away before the answer, so that a client
                                       writing it all first can read the answer */
    faas_callback event_done;       /* NULL: none; each accepted Event call's callback, as
                                       faas_invoke_async()'s (may outlive the gateway) */
    void       *event_done_arg;
    /* later fields are only ever added here, at the end */
} faas_gateway_options;

#define FAAS_GATEWAY_OPTIONS_INIT FAAS_SIZED_INIT_(faas_gateway_options)

/* Serve the Lambda Invoke API for rt on ADDRESS ("127.0.0.1:9001", "[::1]:0"; NULL:
 * "127.0.0.1:9001"); opts NULL or all-zero: every default. See faas_gateway_start(3). */
FAAS_API int  faas_gateway_start(faas_runtime *rt, const char *address,
                                 const faas_gateway_options *opts, faas_gateway **out);
/* The TCP port it listens on (useful after port 0), or a negative code. */
FAAS_API int  faas_gateway_port(const faas_gateway *gw);
/* Stop accepting, let requests in progress finish (drain_timeout_ms), close. NULL: no-op. */
FAAS_API void faas_gateway_stop(faas_gateway *gw);

/* ---- Triggers: schedules and watched directories -----------------------------------------
 * EventBridge rate/cron schedules and S3-shaped events for files landing in a directory.
 * Each firing or file is an asynchronous call (faas_invoke_async()) of the function.
 */

/* A schedule's or a watch's id: never 0, never reused within the process. */
typedef uint64_t faas_trigger_id;

typedef struct faas_schedule_options {  /* sized: FAAS_SCHEDULE_OPTIONS_INIT; all-zero =
                                           every default */
    size_t      size;           /* sizeof(faas_schedule_options); 0: the 0.1.0 layout */
    const char *time_zone;      /* IANA zone the cron fields are read in ("Europe/Berlin");
                                   NULL: UTC */
    const char *name;           /* the rule's name in the event's resources ARN;
                                   NULL: "<function>-schedule-<id>" */
    const char *account;        /* the event's account; NULL: "000000000000" */
    const char *region;         /* the event's region; NULL: "us-east-1" */
    /* later fields are only ever added here, at the end */
} faas_schedule_options;

#define FAAS_SCHEDULE_OPTIONS_INIT FAAS_SIZED_INIT_(faas_schedule_options)

/* Call FUNCTION on an EventBridge schedule, "rate(5 minutes)" or "cron(0 12 * * ? *)",
 * with a "Scheduled Event" payload. See faas_schedule(3). */
FAAS_API int faas_schedule(faas_runtime *rt, const char *function, const char *expression,
                           faas_trigger_id *id);
/* The same with options (time zone, names in the event); opts NULL: the defaults. */
FAAS_API int faas_schedule_ex(faas_runtime *rt, const char *function, const char *expression,
                              const faas_schedule_options *opts, faas_trigger_id *id);
/* Stop a schedule; no firing starts after it returns. */
FAAS_API int faas_unschedule(faas_runtime *rt, faas_trigger_id id);
/* When EXPRESSION next fires strictly after after_ns (ns since the epoch) in time_zone
 * (NULL: UTC): FAAS_OK and *next_ns; FAAS_ENOTFOUND if never (past 2199). */
FAAS_API int faas_schedule_next(const char *expression, const char *time_zone,
                                int64_t after_ns, int64_t *next_ns);

enum {
    FAAS_WATCH_CREATED = 1,     /* ObjectCreated:Put when a file is complete (the default) */
    FAAS_WATCH_REMOVED = 2      /* ObjectRemoved:Delete when a file is deleted or moved out */
};

typedef struct faas_watch_options {     /* sized: FAAS_WATCH_OPTIONS_INIT; all-zero =
                                           every default */
    size_t      size;           /* sizeof(faas_watch_options); 0: the 0.1.0 layout */
    int         recursive;      /* 1: subdirectories too, those made later included */
    unsigned    events;         /* FAAS_WATCH_CREATED | FAAS_WATCH_REMOVED; 0: CREATED */
    const char *prefix;         /* S3 filter: the (URL-encoded) key starts with it; NULL: any */
    const char *suffix;         /* S3 filter: the key ends with it; NULL: any */
    int         existing;       /* 1: the files already there are announced once, at start */
    const char *bucket;         /* s3.bucket.name; NULL: the directory's base name */
    const char *region;         /* awsRegion; NULL: "us-east-1" */
    const char *configuration_id; /* s3.configurationId; NULL: "faas-watch-<id>" */
    /* later fields are only ever added here, at the end */
} faas_watch_options;

#define FAAS_WATCH_OPTIONS_INIT FAAS_SIZED_INIT_(faas_watch_options)

/* Call FUNCTION with an S3 event record for each file written (and closed) or moved into
 * DIRECTORY. opts NULL: the defaults. See faas_watch(3). */
FAAS_API int faas_watch(faas_runtime *rt, const char *function, const char *directory,
                        const faas_watch_options *opts, faas_trigger_id *id);
/* Stop a watch; no call is queued for it after it returns. */
FAAS_API int faas_unwatch(faas_runtime *rt, faas_trigger_id id);

/* ---- Distribution over NATS JetStream (optional: FAAS_ENOTSUP without libnats) -----------
 * Producers publish async calls to a work-queue stream; workers on any host run them.
 */

enum faas_nats_role {
    FAAS_NATS_PRODUCER = 1,             /* async calls of remote functions are published */
    FAAS_NATS_WORKER   = 2,             /* pulls and runs calls of the registered functions */
    FAAS_NATS_BOTH     = 3
};

typedef struct faas_nats_options {      /* sized: FAAS_NATS_OPTIONS_INIT; all-zero =
                                           every default */
    size_t      size;                   /* sizeof(faas_nats_options); 0: the 0.1.0 layout */
    int         role;                   /* 0: FAAS_NATS_PRODUCER */
    int         publish_all;            /* producer: every async call by name is published,
                                           registered here or not (0: only cfg.remote) */
    const char *stream;                 /* NULL: "FAAS" */
    const char *subject_prefix;         /* NULL: "faas": faas.invoke.NAME, faas.deadletter.NAME */
    const char *durable_prefix;         /* worker: NULL: "faas": one durable "faas-NAME" per
                                           function, shared by every worker */
    const char *const *functions;       /* worker: NULL-terminated names; NULL: every function
                                           registered at attach time */
    /* The stream, when it is created (an existing one is used as it is): */
    int         replicas;               /* 0: 1 */
    int         memory_storage;         /* 1: memory; 0: file storage */
    uint64_t    max_age_ms;             /* 0: no limit */
    int64_t     max_bytes;              /* 0: no limit */
    unsigned    duplicate_window_ms;    /* 0: 120000: republished ids are dropped within it */
    /* Consumers and timing: */
    unsigned    ack_wait_ms;            /* 0: each function's timeout_ms + 5000 */
    unsigned    max_inflight;           /* worker: messages held at once; 0: 256 */
    unsigned    fetch_batch;            /* worker: 0: 64 */
    int64_t     max_ack_pending;        /* per consumer, over all workers; 0: 65536 */
    unsigned    retry_ms;               /* unconfirmed publishes are resent after; 0: 1000 */
    unsigned    result_timeout_ms;      /* worker: give up on an unconfirmed result; 0: 300000 */
    const char *name;                   /* the connection's name; NULL: "libfaas" */
    unsigned    result_deadline_ms;     /* producer: a call that wants its outcome and has
                                           no result after this ends FAAS_ETIMEOUT; 0: from
                                           the function's settings (faas_nats_attach(3)) */
    /* later fields are only ever added here, at the end */
} faas_nats_options;

#define FAAS_NATS_OPTIONS_INIT FAAS_SIZED_INIT_(faas_nats_options)

typedef struct faas_nats_stats {        /* fixed: the library fills it */
    /* producer */
    uint64_t published;                 /* calls accepted and published */
    uint64_t republished;               /* publishes resent for want of a stream ack */
    uint64_t results;                   /* results that completed a call */
    uint64_t duplicate_results;         /* results for calls already completed */
    /* worker */
    uint64_t fetched;                   /* messages pulled */
    uint64_t redelivered;               /* of those, deliveries after the first */
    uint64_t acked, naked;              /* final acks (and +TERMs); naks (retries, handed
                                           back) */
    uint64_t dead_letters;              /* envelopes stored in faas.deadletter.NAME */
    uint64_t in_progress;               /* in-progress acks sent for long calls */
    uint64_t results_resent;            /* results resent for want of the producer's ack */
    uint64_t results_undelivered;       /* results given up after result_timeout_ms */
    /* both */
    uint64_t reconnects;
    uint64_t reserved[8];               /* later fields take their place */
} faas_nats_stats;

/* Connect RT to the NATS server(s) at URL (comma-separated), create the stream and the
 * consumers if missing, and start producing and/or working. One attachment per runtime;
 * faas_runtime_free() detaches. See faas_nats_attach(3). */
FAAS_API int  faas_nats_attach(faas_runtime *rt, const char *url, const faas_nats_options *opts);
/* Stop producing and working, hand back what is held, disconnect. */
FAAS_API int  faas_nats_detach(faas_runtime *rt);
/* The attachment's counters. */
FAAS_API int  faas_nats_stats_get(faas_runtime *rt, faas_nats_stats *out);

/* ---- Process isolation (optional: FAAS_ENOTSUP where unavailable) -------------------------
 * Zygote-forked instances with kernel-enforced memory and time limits and seccomp. There is
 * no function to call: a module registered with faas_config.isolation = FAAS_ISOLATE_PROCESS
 * (and optionally faas_config.seccomp) runs isolated; a build without isolation refuses such
 * a registration with FAAS_ENOTSUP. See faas-isolation(7).
 */

/* ---- Process instances: any language, through the Lambda Runtime API -----------------------
 * (optional: FAAS_ENOTSUP without libmicrohttpd). Each instance of such a function is a
 * process started from a command (a custom runtime's bootstrap) that fetches its calls
 * from, and answers them to, the runtime's loopback Runtime API server. Pool, limits,
 * keep-alive, records and cost are a module's. See faas_register_process(3).
 */

typedef struct faas_process_config {    /* sized: FAAS_PROCESS_CONFIG_INIT */
    size_t      size;                   /* sizeof(faas_process_config) */
    const char *command;                /* the executable: the runtime's bootstrap (required) */
    const char *const *argv;            /* its whole argument vector, NULL-terminated; NULL:
                                           { command } */
    const char *handler;                /* _HANDLER, e.g. "function.handler" (NULL: "") */
    const char *const *environment;     /* the function's own "NAME=value" variables,
                                           NULL-terminated (NULL: none); reserved names
                                           (AWS_LAMBDA_*, _HANDLER...) are refused */
    const char *cwd;                    /* working directory and LAMBDA_TASK_ROOT; NULL: the
                                           command's directory */
    const char *user;                   /* the user the runtime runs as, a name or a uid;
                                           NULL: "nobody" when the host is root, else the
                                           host's own */
    const char *const *writable;        /* directories the runtime may write, NULL-terminated
                                           (at most FAAS_PROCESS_WRITABLE_MAX); NULL: none.
                                           It sees the rest of the host's files read-only,
                                           and a /tmp of its own */
    /* later fields are only ever added here, at the end */
} faas_process_config;

#define FAAS_PROCESS_WRITABLE_MAX 64

#define FAAS_PROCESS_CONFIG_INIT FAAS_SIZED_INIT_(faas_process_config)

/* Register NAME, whose instances are processes running PC's command against the Lambda
 * Runtime API (cfg NULL: the defaults). Nothing starts here. See faas_register_process(3). */
FAAS_API int faas_register_process(faas_runtime *rt, const char *name,
                                   const faas_process_config *pc, const faas_config *cfg);

#ifdef __cplusplus
}
#endif

#endif /* FAAS_H */
