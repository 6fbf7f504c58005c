/*
 * lfaas.h - private interface between the files of the Lua binding (faas.so): the JSON
 * conversion (json.c) and the module (faas.c). Never installed.
 *
 * Every function here that can raise a Lua error is called in protected mode (inside a
 * lua_pcall of the binding's own), with whatever it allocates outside Lua reachable from a
 * lfaas_hold, which the caller releases whether the call raised or not: no libfaas or
 * jansson memory leaks through a longjmp.
 */
#ifndef LFAAS_H
#define LFAAS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <faas.h>
#include <ffi.h>
#include <jansson.h>
#include <lauxlib.h>
#include <lua.h>

/* What a protected conversion allocated; released by lfaas_hold_release(). */
typedef struct lfaas_hold {
    json_t *tree;
    char   *text;
} lfaas_hold;

void lfaas_hold_release(lfaas_hold *h);

/* Registry names of the metatables: a table with "faas.array"'s (or any metatable whose
 * __jsontype is "array") is a JSON array, even when empty; "faas.object" forces an object;
 * "faas.raw" marks bytes that are sent as they are, not as JSON. */
#define LFAAS_ARRAY_MT  "faas.array"
#define LFAAS_OBJECT_MT "faas.object"
#define LFAAS_RAW_MT    "faas.raw"

/* Create the metatables, and set faas.null, faas.array, faas.object, faas.raw,
 * faas.encode and faas.decode in the module table at index t. */
void lfaas_json_open(lua_State *L, int t);

/* The value at idx as a payload: nothing for none/nil (length 0), the bytes of a
 * faas.raw(s), else its JSON text. h->text holds it (NUL-terminated). Raises on a value
 * JSON cannot hold. */
void lfaas_payload(lua_State *L, int idx, lfaas_hold *h, size_t *len);
/* The same as a lua_CFunction, for lua_pcall: [hold, value] -> the payload's length. */
int  lfaas_payload_protected(lua_State *L);

/* Push the Lua value of a payload: decoded JSON (arrays get faas.array's metatable, null
 * is faas.null), or the bytes as a string when they are not JSON; empty_table says what an
 * empty payload becomes (0: faas.null, 1: an empty table). */
void lfaas_push_payload(lua_State *L, const char *data, size_t len, int empty_table,
                        lfaas_hold *h);

/* A JSON string for any bytes: invalid UTF-8 is replaced by '?', never an error (for error
 * messages and traces, which are the host's words, not data). NULL only out of memory. */
json_t *lfaas_json_text(const char *s, size_t len);

/* ---- runtimes and their Lua functions (faas.c, call.c) ------------------------------- */

#define LFAAS_RT_MT  "faas.runtime"
#define LFAAS_CTX_MT "faas.ctx"

/* Registry key of a weak-valued table: light userdata (lfaas_rt *) -> its runtime object,
 * so that a trampoline finds the Lua functions without keeping the runtime alive. The
 * runtime object's first user value is its functions table: light userdata (lfaas_fn *)
 * -> the Lua handler, and integer keys -> the callbacks of asynchronous calls. */
extern const char lfaas_runtimes_key;

typedef struct lfaas_rt lfaas_rt;

typedef struct lfaas_fn {
    struct lfaas_fn *next;          /* b->fns (owner only) */
    lfaas_rt        *b;
    ffi_closure     *closure;
    void            *code;          /* the handler's address */
    ffi_cif          cif;
    ffi_type        *args[3];
    bool             dead;          /* being unregistered: hand-offs refused (b->lock) */
    unsigned         running;       /* its calls running on the owner (owner only) */
    unsigned         memory_mb;
    char             name[68];
} lfaas_fn;

enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

/* A Lua handler call handed to the owner. It lives on the waiting thread's stack; once its
 * state is JOB_DONE (under b->lock) the owner no longer touches it. */
typedef struct lfaas_job {
    struct lfaas_job *next;
    lfaas_fn         *fn;
    faas_ctx         *ctx;
    const void       *payload;
    size_t            len;
    int               state;
    bool              cancelled;    /* refused at close or unregistration, never run */
    int               rc;
} lfaas_job;

/* An asynchronous call's completion, copied out of its response for the owner. */
typedef struct lfaas_done {
    struct lfaas_done *next;
    lfaas_rt          *b;
    lua_Integer        key;         /* its callback in the functions table; 0: none */
    int                status;
    char               request_id[37];
    char              *data;
    size_t             len;
    char              *error_type, *error_message, *log_tail;
} lfaas_done;

struct lfaas_rt {
    faas_runtime   *rt;             /* NULL once closed */
    bool            inited;         /* lock and cond exist */
    bool            manual;         /* the runtime has no threads: rt:poll() runs its work */
    pthread_t       owner;
    lua_State      *cur;            /* the Lua thread of the innermost call into the binding
                                       on the owner, NULL outside: handlers run on it */
    lua_State      *runner;         /* ours: handlers called by C code outside Lua */
    unsigned        running;        /* Lua handlers running now (owner only) */
    lfaas_fn       *fns;            /* owner only */
    lua_Integer     next_key;       /* owner only */
    size_t          outstanding;    /* this binding's async calls not yet delivered (owner) */
    pthread_mutex_t lock;           /* protects the two queues and closing */
    pthread_cond_t  cond;           /* broadcast on a new job or completion, or a job done */
    lfaas_job      *jobs, *jobs_tail;
    lfaas_done     *done, *done_tail;
    bool            closing;
    /* fake_time: the runtime's clocks (faas_options.clock) read these, which only
     * rt:advance() moves; read by any thread of the library, so atomic. */
    bool            fake_clock;
    _Atomic uint64_t fake_mono_ns;
    _Atomic int64_t  fake_wall_ns;
};

static inline uint64_t lfaas_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline struct timespec lfaas_at(uint64_t mono_ns)
{
    struct timespec ts = { (time_t)(mono_ns / 1000000000u), (long)(mono_ns % 1000000000u) };
    return ts;
}

/* call.c: a Lua handler's closure (the address libfaas calls), and running it. */
lfaas_fn *lfaas_fn_new(lfaas_rt *b, const char *name, unsigned memory_mb);
void      lfaas_fn_free(lfaas_fn *fn);
/* Run fn's Lua function for a call, on the owner thread, on b->cur or b->runner. */
int       lfaas_run_here(lfaas_fn *fn, faas_ctx *ctx, const void *payload, size_t len);
/* Create the ctx metatable. */
void      lfaas_ctx_open(lua_State *L);

#endif /* LFAAS_H */
