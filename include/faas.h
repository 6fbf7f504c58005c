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
    XX(ENOTSUP,   -16, "not supported by this build")

enum faas_status {
#define FAAS_XX_(name, value, text) FAAS_##name = value,
    FAAS_ERRNO_MAP(FAAS_XX_)
#undef FAAS_XX_
};

/* ---- Plain-data structures ------------------------------------------------------------
 * These only ever grow at the end. Zero means "default" where a comment says so. */

typedef struct faas_clock {             /* NULL functions: the system clocks */
    uint64_t (*mono_ns)(void *arg);     /* monotonic: deadlines, keep-alive, backoff */
    int64_t  (*wall_ns)(void *arg);     /* Unix time in ns: timestamps, schedules */
    void      *arg;
} faas_clock;

typedef struct faas_options {           /* all-zero = every default */
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
    /* later fields are only ever added here, at the end */
} faas_options;

typedef int  (*faas_handler)(faas_ctx *ctx, const void *payload, size_t len);
typedef int  (*faas_init_fn)(void **state, const char *function);  /* module symbol faas_init */
typedef void (*faas_shutdown_fn)(void *state);                     /* module symbol faas_shutdown */

typedef struct faas_config {
    unsigned memory_mb;         /* billing size and the per-call arena limit (128) */
    unsigned timeout_ms;        /* cooperative deadline (3000) */
    unsigned max_concurrency;   /* most instances at once; 0 = no limit (0) */
    unsigned min_warm;          /* instances kept initialised (0) */
    unsigned keep_alive_ms;     /* idle lifetime before shutdown; 0 = at once (600000) */
    unsigned max_retries;       /* async retries after a failure (2) */
    const char *dead_letter;    /* function that receives exhausted async calls (NULL) */
    const char *tag;            /* cost attribution key (NULL) */
    faas_init_fn init;          /* INIT hook for faas_register() host functions (NULL) */
    faas_shutdown_fn shutdown;  /* SHUTDOWN hook for host functions (NULL) */
    int remote;                 /* 1: with a NATS producer attached, async calls are published
                                   for a worker to run (see faas_nats_attach(3)) (0) */
} faas_config;

typedef struct faas_record {
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
} faas_record;

typedef struct faas_response {
    int         status;                 /* equals what faas_invoke() returned */
    void       *data;  size_t len;      /* the reply, or the error JSON; NUL-terminated */
    const char *error_type, *error_message; /* NULL when status is FAAS_OK */
    const char *log_tail;               /* the last 4 KB the call logged ("" if none) */
    faas_record record;
} faas_response;

typedef struct faas_stats {
    uint64_t invocations, errors, throttles, cold_starts, timeouts, retries, dead_letters;
    unsigned instances_live, instances_busy;
    double   p50_ms, p90_ms, p99_ms, max_ms;
    uint64_t cost_picousd;
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

/* ---- Inside a handler -------------------------------------------------------------- */

/* Set the call's reply (copied); a later reply replaces it. See faas_reply(3). */
FAAS_API int         faas_reply(faas_ctx *ctx, const void *data, size_t len);
/* Fail the call with errorType (NULL: "HandlerError"); returns FAAS_EHANDLER. */
FAAS_API int         faas_fail(faas_ctx *ctx, const char *error_type, const char *fmt, ...)
                         FAAS_PRINTF(3, 4);
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

/* ---- Records and metrics ----------------------------------------------------------- */

/* Counters, instances and latency quantiles of NAME (NULL: every registered function). */
FAAS_API int faas_stats_get(faas_runtime *rt, const char *name, faas_stats *out);
/* Write the record's AWS REPORT line (no newline) into buf; returns the length it needs,
 * as snprintf does, or a negative code. See faas_record_format(3). */
FAAS_API int faas_record_format(const faas_record *rec, char *buf, size_t size);

/* ---- libffi bridge -------------------------------------------------------------------
 * faas_register_ffi() is declared with the registry above; what the bridge adds (binary
 * calls, signature inspection) is declared here.
 */

/* ---- Cost models, budgets and metrics export -------------------------------------------
 * Price models beyond the runtime's own, per-tag budgets, workload projections, and the
 * JSON and Prometheus exposition of the counters and histograms.
 */

/* ---- HTTP gateway (optional: FAAS_ENOTSUP when built without libmicrohttpd) -------------
 * The AWS Lambda Invoke API over HTTP.
 */

/* ---- Triggers: schedules and watched directories -----------------------------------------
 * EventBridge rate/cron schedules and S3-shaped events for files landing in a directory.
 */

/* ---- Distribution over NATS JetStream (optional: FAAS_ENOTSUP without libnats) -----------
 * Producers publish async calls to a work-queue stream; workers on any host run them.
 */

enum faas_nats_role {
    FAAS_NATS_PRODUCER = 1,             /* async calls of remote functions are published */
    FAAS_NATS_WORKER   = 2,             /* pulls and runs calls of the registered functions */
    FAAS_NATS_BOTH     = 3
};

typedef struct faas_nats_options {      /* all-zero = every default */
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
    /* later fields are only ever added here, at the end */
} faas_nats_options;

typedef struct faas_nats_stats {
    /* producer */
    uint64_t published;                 /* calls accepted and published */
    uint64_t republished;               /* publishes resent for want of a stream ack */
    uint64_t results;                   /* results that completed a call */
    uint64_t duplicate_results;         /* results for calls already completed */
    /* worker */
    uint64_t fetched;                   /* messages pulled */
    uint64_t redelivered;               /* of those, deliveries after the first */
    uint64_t acked, naked;              /* final acks; naks (retries, handed back) */
    uint64_t dead_letters;              /* envelopes stored in faas.deadletter.NAME */
    uint64_t in_progress;               /* in-progress acks sent for long calls */
    uint64_t results_resent;            /* results resent for want of the producer's ack */
    uint64_t results_undelivered;       /* results given up after result_timeout_ms */
    /* both */
    uint64_t reconnects;
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
 * Zygote-forked instances with kernel-enforced memory and time limits and seccomp.
 */

#ifdef __cplusplus
}
#endif

#endif /* FAAS_H */
