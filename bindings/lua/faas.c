/*
 * faas.c - the Lua 5.4 module `faas`: the module table, runtimes and their methods, calls
 * and their results, asynchronous completions, over the public libfaas API only. Running a
 * Lua handler is call.c's; JSON is json.c's.
 *
 * A Lua state is single-threaded, so Lua code runs only on the thread that created the
 * runtime, the owner. A Lua handler called on another thread (a worker running an
 * asynchronous call) is handed to the owner (call.c), and the completions of asynchronous
 * calls are queued for it too; rt:poll(), rt:drain() and rt:close() run both there.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lfaas.h"

#if defined(__GNUC__) || defined(__clang__)
# define LFAAS_EXPORT __attribute__((visibility("default")))
#else
# define LFAAS_EXPORT
#endif

LFAAS_EXPORT int luaopen_faas(lua_State *L);

#define ERR_MT "faas.error"

/* The slice rt:drain() waits for a wake-up before it looks at the library's queue again
 * (calls that are not this binding's, such as dead letters, complete without telling it). */
#define DRAIN_SLICE_NS 2000000

/* ---- small helpers ------------------------------------------------------------------ */

static const char *status_name(int status)
{
    const char *n = faas_err_name(status);
    return strncmp(n, "FAAS_", 5) == 0 ? n + 5 : n;
}

static lfaas_rt *check_rt(lua_State *L, int idx)
{
    lfaas_rt *b = luaL_checkudata(L, idx, LFAAS_RT_MT);
    if (!pthread_equal(pthread_self(), b->owner))
        luaL_error(L, "faas: a runtime is used only on the thread that created it");
    if (b->rt == NULL)
        luaL_error(L, "faas: the runtime is closed");
    return b;
}

/* Push an error table: type, message, code (the status), status (its name), request_id,
 * trace (a sequence of strings) and log. */
static void push_error(lua_State *L, int status, const char *type, const char *message,
                       const char *request_id, const char *log, const json_t *trace)
{
    lua_createtable(L, 0, 7);
    lua_pushstring(L, type ? type : status_name(status));
    lua_setfield(L, -2, "type");
    lua_pushstring(L, message ? message : faas_strerror(status));
    lua_setfield(L, -2, "message");
    lua_pushinteger(L, status);
    lua_setfield(L, -2, "code");
    lua_pushstring(L, status_name(status));
    lua_setfield(L, -2, "status");
    if (request_id != NULL && request_id[0] != '\0') {
        lua_pushstring(L, request_id);
        lua_setfield(L, -2, "request_id");
    }
    lua_pushstring(L, log ? log : "");
    lua_setfield(L, -2, "log");
    size_t n = json_is_array(trace) ? json_array_size(trace) : 0;
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        const json_t *line = json_array_get(trace, i);
        if (json_is_string(line)) {
            lua_pushlstring(L, json_string_value(line), json_string_length(line));
            lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
        }
    }
    lua_setfield(L, -2, "trace");
    luaL_setmetatable(L, ERR_MT);
}

/* Lua's convention for a failed call: nil and the error. For calls without a response the
 * detail is this thread's faas_last_error(). */
static int fail_status(lua_State *L, int status)
{
    lua_pushnil(L);
    push_error(L, status, NULL, faas_last_error(), NULL, NULL, NULL);
    return 2;
}

/* Push a call's outcome: (result, nil) or (nil, error). The error's trace is the error
 * body's stackTrace when there is one. Runs in protected mode (h holds the parsed body). */
static void push_outcome(lua_State *L, int status, const char *data, size_t len,
                         const char *type, const char *message, const char *request_id,
                         const char *log, lfaas_hold *h)
{
    if (status == FAAS_OK) {
        lfaas_push_payload(L, data, len, 0, h);
        lua_pushnil(L);
        return;
    }
    lua_pushnil(L);
    const json_t *trace = NULL;
    if (len > 0) {
        h->tree = json_loadb(data, len, 0, NULL);
        trace = json_object_get(h->tree, "stackTrace");
    }
    push_error(L, status, type, message, request_id, log, trace);
    json_decref(h->tree);
    h->tree = NULL;
}

/* ---- configuration tables ----------------------------------------------------------- */

static unsigned check_uint(lua_State *L, const char *what, const char *key)
{
    int isint;
    lua_Integer v = lua_tointegerx(L, -1, &isint);
    if (!isint || v < 0 || v > (lua_Integer)UINT_MAX)
        luaL_error(L, "faas: %s %s must be an integer from 0 to %I", what, key,
                   (lua_Integer)UINT_MAX);
    return (unsigned)v;
}

static const char *check_string(lua_State *L, const char *what, const char *key)
{
    if (lua_type(L, -1) != LUA_TSTRING)     /* a string in the table: it outlives the call */
        luaL_error(L, "faas: %s %s must be a string", what, key);
    return lua_tostring(L, -1);
}

/* faas_config.isolation and .seccomp by name, in <faas.h>'s order (enum faas_isolation,
 * enum faas_seccomp). */
static const char *const isolations[] = { "none", "process", NULL };
static const char *const seccomps[] = { "none", "no-network", "strict", NULL };

static int check_option(lua_State *L, const char *key, const char *const names[])
{
    const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    for (int i = 0; v != NULL && names[i] != NULL; i++)
        if (strcmp(v, names[i]) == 0)
            return i;
    luaL_error(L, "faas: function setting %s must be one of \"%s\", \"%s\"%s%s%s", key,
               names[0], names[1], names[2] ? ", \"" : "", names[2] ? names[2] : "",
               names[2] ? "\"" : "");
    return 0;
}

/* The function settings at idx (nil: the defaults): unknown keys are an error. */
static void read_config(lua_State *L, int idx, faas_config *cfg)
{
    faas_config_init(cfg);
    if (lua_isnoneornil(L, idx))
        return;
    luaL_checktype(L, idx, LUA_TTABLE);
    static const char *const names[] = { "memory_mb", "timeout_ms", "max_concurrency",
                                         "min_warm", "keep_alive_ms", "max_retries", NULL };
    unsigned *fields[] = { &cfg->memory_mb, &cfg->timeout_ms, &cfg->max_concurrency,
                           &cfg->min_warm, &cfg->keep_alive_ms, &cfg->max_retries };
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "faas: function settings are named (memory_mb = 128, ...)");
        const char *key = lua_tostring(L, -2);
        int i = 0;
        while (names[i] != NULL && strcmp(names[i], key) != 0)
            i++;
        if (names[i] != NULL)
            *fields[i] = check_uint(L, "function setting", key);
        else if (strcmp(key, "dead_letter") == 0)
            cfg->dead_letter = check_string(L, "function setting", key);
        else if (strcmp(key, "tag") == 0)
            cfg->tag = check_string(L, "function setting", key);
        else if (strcmp(key, "isolation") == 0)
            cfg->isolation = check_option(L, key, isolations);
        else if (strcmp(key, "seccomp") == 0)
            cfg->seccomp = check_option(L, key, seccomps);
        else
            luaL_error(L, "faas: unknown function setting '%s'", key);
        lua_pop(L, 1);
    }
}

/* Reads the options table at idx into o; a fake_time option (Unix seconds) goes to
 * *wall_ns, and *fake says it was given. */
static void read_options(lua_State *L, int idx, faas_options *o, bool *fake,
                         int64_t *wall_ns)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;                /* FAAS_OPTIONS_INIT: every field this header has */
    *fake = false;
    if (lua_isnoneornil(L, idx))
        return;
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "faas: runtime options are named (workers = 2, ...)");
        const char *k = lua_tostring(L, -2);
        if (strcmp(k, "workers") == 0)
            o->workers = check_uint(L, "runtime option", k);
        else if (strcmp(k, "queue_capacity") == 0)
            o->queue_capacity = check_uint(L, "runtime option", k);
        else if (strcmp(k, "price_model") == 0)
            o->price_model = check_string(L, "runtime option", k);
        else if (strcmp(k, "manual") == 0)
            o->manual = lua_toboolean(L, -1);
        else if (strcmp(k, "cpu_time") == 0)
            o->cpu_time = lua_toboolean(L, -1);
        else if (strcmp(k, "max_payload_sync") == 0)
            o->max_payload_sync = check_uint(L, "runtime option", k);
        else if (strcmp(k, "max_payload_async") == 0)
            o->max_payload_async = check_uint(L, "runtime option", k);
        else if (strcmp(k, "retry_base_ms") == 0)
            o->retry_base_ms = check_uint(L, "runtime option", k);
        else if (strcmp(k, "retry_cap_ms") == 0)
            o->retry_cap_ms = check_uint(L, "runtime option", k);
        else if (strcmp(k, "no_histograms") == 0)
            o->no_histograms = lua_toboolean(L, -1);
        else if (strcmp(k, "fake_time") == 0) {
            int isnum;
            lua_Number t = lua_tonumberx(L, -1, &isnum);
            if (!isnum || !(t >= 0 && t < 9.2e9))
                luaL_error(L, "faas: runtime option fake_time is Unix time in seconds");
            *fake = true;
            *wall_ns = (int64_t)(t * 1e9);
        } else
            luaL_error(L, "faas: unknown runtime option '%s'", k);
        lua_pop(L, 1);
    }
}


/* ---- async completions ---------------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void done_free(lfaas_done *d)
{
    free(d->data);
    free(d->error_type);
    free(d->error_message);
    free(d->log_tail);
    free(d);
}

/* The library's completion callback, on any thread: copy, queue for the owner, wake it. */
static void on_complete(const faas_response *res, void *arg)
{
    lfaas_done *d = arg;
    lfaas_rt *b = d->b;
    d->status = res->status;
    memcpy(d->request_id, res->record.request_id, sizeof d->request_id);
    d->data = malloc(res->len + 1);
    if (d->data != NULL) {
        memcpy(d->data, res->data, res->len);
        d->data[res->len] = '\0';
        d->len = res->len;
    } else if (d->status == FAAS_OK) {
        d->status = FAAS_ENOMEM;        /* the result is lost: say so rather than succeed */
    }
    d->error_type = dup_or_null(res->error_type);
    d->error_message = dup_or_null(d->status == FAAS_ENOMEM && res->status == FAAS_OK
                                   ? "out of memory copying the result"
                                   : res->error_message);
    d->log_tail = dup_or_null(res->log_tail);
    pthread_mutex_lock(&b->lock);
    if (b->done_tail != NULL)
        b->done_tail->next = d;
    else
        b->done = d;
    b->done_tail = d;
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
}

/* In protected mode: [d, hold] -> result, error (see push_outcome). */
static int push_done(lua_State *L)
{
    lfaas_done *d = lua_touserdata(L, 1);
    lfaas_hold *h = lua_touserdata(L, 2);
    push_outcome(L, d->status, d->data, d->len, d->error_type, d->error_message,
                 d->request_id, d->log_tail, h);
    return 2;
}

/* Run d's callback with (result) or (nil, err). A callback's error propagates (the
 * completion is consumed either way). */
static void deliver(lua_State *L, lfaas_rt *b, lfaas_done *d)
{
    b->outstanding--;
    int nf = 0;
    if (d->key != 0) {
        lua_rawgetp(L, LUA_REGISTRYINDEX, &lfaas_runtimes_key);
        lua_rawgetp(L, -1, b);
        lua_getiuservalue(L, -1, 1);        /* functions: key -> callback */
        lua_rawgeti(L, -1, d->key);
        lua_pushnil(L);
        lua_rawseti(L, -3, d->key);
        lua_replace(L, -4);
        lua_pop(L, 2);
        nf = 1;
    }
    if (nf == 0 || !lua_isfunction(L, -1)) {
        lua_pop(L, nf);
        done_free(d);
        return;
    }
    lfaas_hold h = { NULL, NULL };
    lua_pushcfunction(L, push_done);
    lua_pushlightuserdata(L, d);
    lua_pushlightuserdata(L, &h);
    int st = lua_pcall(L, 2, 2, 0);
    lfaas_hold_release(&h);
    done_free(d);
    if (st != LUA_OK)
        lua_error(L);
    lua_call(L, 2, 0);
}

/* On the owner: run the handed-off calls and deliver the completions queued now, one at a
 * time (a callback may queue more). Returns how many. */
static int service(lua_State *L, lfaas_rt *b)
{
    int n = 0;
    for (;;) {
        pthread_mutex_lock(&b->lock);
        lfaas_job *job = b->jobs;
        lfaas_done *d = NULL;
        if (job != NULL) {
            b->jobs = job->next;
            if (b->jobs == NULL)
                b->jobs_tail = NULL;
            job->state = JOB_RUNNING;
        } else if ((d = b->done) != NULL) {
            b->done = d->next;
            if (b->done == NULL)
                b->done_tail = NULL;
        }
        pthread_mutex_unlock(&b->lock);
        if (job != NULL) {
            lua_State *saved = b->cur;
            b->cur = L;
            int rc = lfaas_run_here(job->fn, job->ctx, job->payload, job->len);
            b->cur = saved;
            pthread_mutex_lock(&b->lock);
            job->rc = rc;
            job->state = JOB_DONE;
            pthread_cond_broadcast(&b->cond);
            pthread_mutex_unlock(&b->lock);
        } else if (d != NULL) {
            deliver(L, b, d);
        } else {
            return n;
        }
        n++;
    }
}

/* Wait until something is queued for the owner, or until (monotonic ns). */
static void wait_for_work(lfaas_rt *b, uint64_t until)
{
    struct timespec ts = lfaas_at(until);
    pthread_mutex_lock(&b->lock);
    if (b->jobs == NULL && b->done == NULL)
        pthread_cond_timedwait(&b->cond, &b->lock, &ts);
    pthread_mutex_unlock(&b->lock);
}

/* ---- runtime methods ------------------------------------------------------------------- */

/* Run the library's due work in manual mode, on this thread (handlers run here). */
static int run_pending(lua_State *L, lfaas_rt *b)
{
    lua_State *saved = b->cur;
    b->cur = L;
    int n = faas_run_pending(b->rt);
    b->cur = saved;
    return n > 0 ? n : 0;
}

/* rt:register(name, fn [, settings]) -> true | nil, err */
static int rt_register(lua_State *L)
{
    lfaas_rt *b = check_rt(L, 1);
    const char *name = luaL_checkstring(L, 2);
    luaL_checktype(L, 3, LUA_TFUNCTION);
    faas_config cfg;
    read_config(L, 4, &cfg);
    lua_getiuservalue(L, 1, 1);                     /* functions */
    int fns = lua_gettop(L);
    lfaas_fn *fn = lfaas_fn_new(b, name, cfg.memory_mb);
    if (fn == NULL)
        return luaL_error(L, "faas: out of memory (or no executable memory for a closure)");
    lua_pushvalue(L, 3);
    lua_rawsetp(L, fns, fn);    /* before registering: a call may come at once */
    faas_handler handler;
    memcpy(&handler, &fn->code, sizeof handler);
    int rc = faas_register(b->rt, name, handler, &cfg);
    if (rc != FAAS_OK) {
        lua_pushnil(L);
        lua_rawsetp(L, fns, fn);
        lfaas_fn_free(fn);
        return fail_status(L, rc);
    }
    fn->next = b->fns;
    b->fns = fn;
    lua_pushboolean(L, 1);
    return 1;
}

/* rt:register_module(name, path, symbol [, settings]) -> true | nil, err */
static int rt_register_module(lua_State *L)
{
    lfaas_rt *b = check_rt(L, 1);
    const char *name = luaL_checkstring(L, 2);
    const char *path = luaL_checkstring(L, 3);
    const char *symbol = luaL_checkstring(L, 4);
    faas_config cfg;
    read_config(L, 5, &cfg);
    int rc = faas_register_module(b->rt, name, path, symbol, &cfg);
    if (rc != FAAS_OK)
        return fail_status(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

/* rt:register_ffi(name, path | nil, symbol, signature [, settings]) -> true | nil, err */
static int rt_register_ffi(lua_State *L)
{
    lfaas_rt *b = check_rt(L, 1);
    const char *name = luaL_checkstring(L, 2);
    const char *path = luaL_optstring(L, 3, NULL);
    const char *symbol = luaL_checkstring(L, 4);
    const char *signature = luaL_checkstring(L, 5);
    faas_config cfg;
    read_config(L, 6, &cfg);
    int rc = faas_register_ffi(b->rt, name, path, symbol, signature, &cfg);
    if (rc != FAAS_OK)
        return fail_status(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

/* rt:unregister(name) -> true | nil, err */
static int rt_unregister(lua_State *L)
{
    lfaas_rt *b = check_rt(L, 1);
    const char *name = luaL_checkstring(L, 2);
    lfaas_fn **p = &b->fns;
    while (*p != NULL && strcmp((*p)->name, name) != 0)
        p = &(*p)->next;
    lfaas_fn *fn = *p;
    if (fn != NULL) {
        if (fn->running > 0) {
            lua_pushnil(L);
            push_error(L, FAAS_EBUSY, NULL, "a Lua function cannot be unregistered while it "
                       "runs", NULL, NULL, NULL);
            return 2;
        }
        /* Refuse hand-offs from now on and those waiting: a worker holding an instance
         * of fn waits for this thread, and faas_unregister() waits for the instance. */
        pthread_mutex_lock(&b->lock);
        fn->dead = true;
        lfaas_job **j = &b->jobs;
        b->jobs_tail = NULL;
        while (*j != NULL) {
            if ((*j)->fn == fn) {
                (*j)->cancelled = true;
                (*j)->state = JOB_DONE;
                *j = (*j)->next;
            } else {
                b->jobs_tail = *j;
                j = &(*j)->next;
            }
        }
        pthread_cond_broadcast(&b->cond);
        pthread_mutex_unlock(&b->lock);
    }
    int rc = faas_unregister(b->rt, name);
    if (rc != FAAS_OK) {
        if (fn != NULL) {
            pthread_mutex_lock(&b->lock);
            fn->dead = false;
            pthread_mutex_unlock(&b->lock);
        }
        return fail_status(L, rc);
    }
    if (fn != NULL) {               /* nothing can call it any more */
        *p = fn->next;
        lua_getiuservalue(L, 1, 1);
        lua_pushnil(L);
        lua_rawsetp(L, -2, fn);
        lfaas_fn_free(fn);
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* The event at idx as a payload in h; raises (after releasing h) if it cannot be one. */
static size_t event_payload(lua_State *L, int idx, lfaas_hold *h)
{
    idx = lua_absindex(L, idx);
    if (lua_gettop(L) < idx)
        lua_settop(L, idx);                 /* none is nil, not what is pushed next */
    lua_pushcfunction(L, lfaas_payload_protected);
    lua_pushlightuserdata(L, h);
    lua_pushvalue(L, idx);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
        lfaas_hold_release(h);
        lua_error(L);
    }
    size_t len = (size_t)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return len;
}

/* A record as a table (its strings copied). */
static void push_record(lua_State *L, const faas_record *r)
{
    lua_createtable(L, 0, 14);
    lua_pushstring(L, r->request_id);
    lua_setfield(L, -2, "request_id");
    if (r->function != NULL) {
        lua_pushstring(L, r->function);
        lua_setfield(L, -2, "function");
    }
    if (r->tag != NULL) {
        lua_pushstring(L, r->tag);
        lua_setfield(L, -2, "tag");
    }
    lua_pushinteger(L, r->status);
    lua_setfield(L, -2, "status");
    lua_pushboolean(L, r->cold);
    lua_setfield(L, -2, "cold");
    lua_pushinteger(L, r->attempt);
    lua_setfield(L, -2, "attempt");
    const struct { const char *k; uint64_t v; } n[] = {
        { "init_ns", r->init_ns }, { "duration_ns", r->duration_ns }, { "cpu_ns", r->cpu_ns },
        { "billed_ms", r->billed_ms }, { "memory_mb", r->memory_mb },
        { "max_memory_bytes", r->max_memory_bytes }, { "cost_picousd", r->cost_picousd },
        { "version", r->version },      /* the published version that ran; 0: $LATEST */
    };
    for (size_t i = 0; i < sizeof n / sizeof n[0]; i++) {
        lua_pushinteger(L, (lua_Integer)n[i].v);
        lua_setfield(L, -2, n[i].k);
    }
}

/* In protected mode: [res, hold, full] -> result, err; or (full) the response table. */
static int push_response(lua_State *L)
{
    const faas_response *res = lua_touserdata(L, 1);
    lfaas_hold *h = lua_touserdata(L, 2);
    bool full = lua_toboolean(L, 3);
    if (full)
        lua_createtable(L, 0, 7);
    push_outcome(L, res->status, res->data, res->len, res->error_type, res->error_message,
                 res->record.request_id, res->log_tail, h);
    if (!full)
        return 2;
    lua_setfield(L, -3, "error");
    lua_setfield(L, -2, "result");
    lua_pushboolean(L, res->status == FAAS_OK);
    lua_setfield(L, -2, "ok");
    lua_pushinteger(L, res->status);
    lua_setfield(L, -2, "status");
    lua_pushstring(L, res->log_tail ? res->log_tail : "");
    lua_setfield(L, -2, "log");
    push_record(L, &res->record);
    lua_setfield(L, -2, "record");
    return 1;
}

static int invoke(lua_State *L, bool full)
{
    lfaas_rt *b = check_rt(L, 1);
    const char *name = luaL_checkstring(L, 2);
    lfaas_hold h = { NULL, NULL };
    /* opts (4th argument): { client_context = "JSON object text" } */
    faas_invoke_options io = FAAS_INVOKE_OPTIONS_INIT;
    if (lua_istable(L, 4)) {
        lua_getfield(L, 4, "client_context");
        io.client_context = lua_tostring(L, -1);    /* kept alive by the table */
        lua_pop(L, 1);
    }
    size_t len = event_payload(L, 3, &h);
    faas_response res;
    lua_State *saved = b->cur;
    b->cur = L;
    faas_invoke_ex(b->rt, name, h.text ? h.text : "", len, &io, &res);
    b->cur = saved;
    lfaas_hold_release(&h);
    lua_pushcfunction(L, push_response);
    lua_pushlightuserdata(L, &res);
    lua_pushlightuserdata(L, &h);
    lua_pushboolean(L, full);
    int st = lua_pcall(L, 3, full ? 1 : 2, 0);
    lfaas_hold_release(&h);
    faas_response_free(&res);
    if (st != LUA_OK)
        return lua_error(L);
    if (full)
        return 1;
    return lua_isnil(L, -1) ? (lua_pop(L, 1), 1) : 2;
}

/* rt:invoke(name [, event [, opts]]) -> result | nil, err; opts.client_context: a JSON
 * object's text, the handler's ctx.client_context */
static int rt_invoke(lua_State *L)
{
    return invoke(L, false);
}

/* rt:invoke_response(name [, event [, opts]]) -> {ok, status, result, error, log, record} */
static int rt_invoke_response(lua_State *L)
{
    return invoke(L, true);
}

/* rt:invoke_async(name [, event [, callback]]) -> request id | nil, err */
static int rt_invoke_async(lua_State *L)
{
    lfaas_rt *b = check_rt(L, 1);
    const char *name = luaL_checkstring(L, 2);
    if (!lua_isnoneornil(L, 4))
        luaL_checktype(L, 4, LUA_TFUNCTION);
    lua_settop(L, 4);
    /* The payload is held by a userdata, so that nothing leaks if Lua raises below. */
    lfaas_hold *h = lua_newuserdatauv(L, sizeof *h, 0);
    h->tree = NULL;
    h->text = NULL;
    luaL_setmetatable(L, "faas.hold");
    size_t len = event_payload(L, 3, h);
    lua_Integer key = 0;
    if (!lua_isnil(L, 4)) {
        key = ++b->next_key;
        lua_getiuservalue(L, 1, 1);
        lua_pushvalue(L, 4);
        lua_rawseti(L, -2, key);
        lua_pop(L, 1);
    }
    lfaas_done *d = calloc(1, sizeof *d);
    if (d == NULL)
        return luaL_error(L, "faas: out of memory");
    d->b = b;
    d->key = key;
    char rid[37];
    int rc = faas_invoke_async(b->rt, name, h->text ? h->text : "", len, on_complete, d, rid);
    lfaas_hold_release(h);
    if (rc != FAAS_OK) {
        free(d);
        if (key != 0) {
            lua_getiuservalue(L, 1, 1);
            lua_pushnil(L);
            lua_rawseti(L, -2, key);
            lua_pop(L, 1);
        }
        return fail_status(L, rc);
    }
    b->outstanding++;
    lua_pushstring(L, rid);
    return 1;
}

/* rt:poll([timeout_ms]) -> n: run the Lua handlers called from other threads and the
 * callbacks of completed asynchronous calls (in manual mode, the due work first); with a
 * timeout, wait up to that long for something to do when there is nothing. */
static int rt_poll(lua_State *L)
{
    lfaas_rt *b = check_rt(L, 1);
    lua_Integer timeout = luaL_optinteger(L, 2, 0);
    uint64_t until = lfaas_mono_ns() + (uint64_t)(timeout > 0 ? timeout : 0) * 1000000u;
    int n = 0;
    for (;;) {
        if (b->manual)
            n += run_pending(L, b);
        n += service(L, b);
        if (n > 0 || timeout <= 0 || lfaas_mono_ns() >= until)
            break;
        wait_for_work(b, until);
    }
    lua_pushinteger(L, n);
    return 1;
}

/* rt:drain([timeout_ms]) -> true | nil, err: until every asynchronous call has completed
 * and been delivered, running handed-off Lua handlers and callbacks meanwhile. */
static int rt_drain(lua_State *L)
{
    lfaas_rt *b = check_rt(L, 1);
    lua_Integer timeout = luaL_optinteger(L, 2, -1);
    uint64_t start = lfaas_mono_ns();
    uint64_t until = timeout < 0 ? UINT64_MAX : start + (uint64_t)timeout * 1000000u;
    for (;;) {
        if (b->manual && b->rt != NULL)
            run_pending(L, b);
        service(L, b);
        bool queued;
        pthread_mutex_lock(&b->lock);
        queued = b->jobs != NULL || b->done != NULL;
        pthread_mutex_unlock(&b->lock);
        /* faas_drain(rt, 0) is the library's own "nothing pending" (it also runs a manual
         * runtime's due work on this thread). */
        lua_State *saved = b->cur;
        b->cur = L;
        /* A callback may have closed the runtime: then all was delivered (rt:close). */
        int rc = b->rt != NULL ? faas_drain(b->rt, 0) : FAAS_OK;
        b->cur = saved;
        if (!queued && b->outstanding == 0 && rc == FAAS_OK) {
            lua_pushboolean(L, 1);
            return 1;
        }
        uint64_t now = lfaas_mono_ns();
        if (now >= until) {
            lua_pushnil(L);
            push_error(L, FAAS_ETIMEOUT, NULL, "rt:drain: calls still pending", NULL, NULL,
                       NULL);
            return 2;
        }
        wait_for_work(b, now + DRAIN_SLICE_NS < until ? now + DRAIN_SLICE_NS : until);
    }
}

/* Free the library's runtime: refuse the calls waiting for this thread first (their
 * workers must finish for faas_runtime_free() to return), then let it cancel the queue. */
static void shut_down(lfaas_rt *b)
{
    pthread_mutex_lock(&b->lock);
    b->closing = true;
    for (lfaas_job *j = b->jobs, *next; j != NULL; j = next) {
        next = j->next;
        j->cancelled = true;
        j->state = JOB_DONE;
    }
    b->jobs = b->jobs_tail = NULL;
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
    faas_runtime_free(b->rt);           /* cancelled calls complete into b->done */
    b->rt = NULL;
    while (b->fns != NULL) {            /* nothing can call a closure any more */
        lfaas_fn *fn = b->fns;
        b->fns = fn->next;
        lfaas_fn_free(fn);
    }
}

/* In protected mode: [b] -> deliver what is queued (rt:close). */
static int service_protected(lua_State *L)
{
    service(L, lua_touserdata(L, 1));
    return 0;
}

/* rt:close(): running calls finish; queued ones complete with FAAS_ESHUTDOWN, and their
 * callbacks run now, on this thread. Closing twice is harmless. A closed runtime cannot
 * be polled, so every callback runs here even when one raises: the first error is raised
 * once they all have. */
static int rt_close(lua_State *L)
{
    lfaas_rt *b = luaL_checkudata(L, 1, LFAAS_RT_MT);
    if (b->rt == NULL)
        return 0;
    check_rt(L, 1);
    if (b->running > 0)
        return luaL_error(L, "faas: rt:close() from inside one of its own handlers");
    shut_down(b);
    int first = 0;                      /* stack index of the first error */
    for (;;) {
        lua_pushcfunction(L, service_protected);
        lua_pushlightuserdata(L, b);
        if (lua_pcall(L, 1, 0, 0) == LUA_OK)
            break;
        if (first == 0)
            first = lua_gettop(L);
        else
            lua_pop(L, 1);
    }
    if (first != 0) {
        lua_settop(L, first);
        return lua_error(L);
    }
    return 0;
}

/* __close (local rt <close> = faas.runtime{...}): drain, then close. */
static int rt_tbc(lua_State *L)
{
    lfaas_rt *b = luaL_checkudata(L, 1, LFAAS_RT_MT);
    if (b->rt == NULL)
        return 0;
    lua_settop(L, 1);
    rt_drain(L);
    lua_settop(L, 1);
    return rt_close(L);
}

/* __gc: a runtime dropped without rt:close() is closed; its callbacks do not run. */
static int rt_gc(lua_State *L)
{
    lfaas_rt *b = luaL_checkudata(L, 1, LFAAS_RT_MT);
    if (!b->inited)
        return 0;
    if (b->rt != NULL) {
        /* Collected while one of its handlers runs (only if C code called it with no
         * reference to the runtime left): freeing it would wait for that very call. */
        if (b->running > 0 || !pthread_equal(pthread_self(), b->owner))
            return 0;
        shut_down(b);
    }
    while (b->done != NULL) {
        lfaas_done *d = b->done;
        b->done = d->next;
        done_free(d);
    }
    pthread_cond_destroy(&b->cond);
    pthread_mutex_destroy(&b->lock);
    b->inited = false;
    return 0;
}

/* rt:warm(name, n) -> true | nil, err */
static int rt_warm(lua_State *L)
{
    lfaas_rt *b = check_rt(L, 1);
    const char *name = luaL_checkstring(L, 2);
    lua_Integer n = luaL_optinteger(L, 3, 1);
    luaL_argcheck(L, n >= 0 && n <= (lua_Integer)UINT_MAX, 3, "out of range");
    int rc = faas_warm(b->rt, name, (unsigned)n);
    if (rc != FAAS_OK)
        return fail_status(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

/* rt:stats([name]) -> table | nil, err */
static int rt_stats(lua_State *L)
{
    lfaas_rt *b = check_rt(L, 1);
    const char *name = luaL_optstring(L, 2, NULL);
    faas_stats s;
    int rc = faas_stats_get(b->rt, name, &s);
    if (rc != FAAS_OK)
        return fail_status(L, rc);
    lua_createtable(L, 0, 32);
    const struct { const char *k; uint64_t v; } counts[] = {
        { "invocations", s.invocations }, { "errors", s.errors },
        { "throttles", s.throttles }, { "cold_starts", s.cold_starts },
        { "timeouts", s.timeouts }, { "retries", s.retries },
        { "dead_letters", s.dead_letters }, { "instances_live", s.instances_live },
        { "instances_busy", s.instances_busy }, { "cost_picousd", s.cost_picousd },
        { "init_count", s.init_count }, { "queue_count", s.queue_count },
        { "budget_refusals", s.budget_refusals }, { "mb_ms", s.mb_ms },
        { "request_picousd", s.request_picousd }, { "compute_picousd", s.compute_picousd },
        { "instance_deaths", s.instance_deaths },
    };
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        lua_pushinteger(L, (lua_Integer)counts[i].v);
        lua_setfield(L, -2, counts[i].k);
    }
    const struct { const char *k; double v; } ms[] = {
        { "p50_ms", s.p50_ms }, { "p90_ms", s.p90_ms }, { "p99_ms", s.p99_ms },
        { "p999_ms", s.p999_ms }, { "max_ms", s.max_ms },
        { "init_p50_ms", s.init_p50_ms }, { "init_p90_ms", s.init_p90_ms },
        { "init_p99_ms", s.init_p99_ms }, { "init_p999_ms", s.init_p999_ms },
        { "init_max_ms", s.init_max_ms },
        { "queue_p50_ms", s.queue_p50_ms }, { "queue_p90_ms", s.queue_p90_ms },
        { "queue_p99_ms", s.queue_p99_ms }, { "queue_p999_ms", s.queue_p999_ms },
        { "queue_max_ms", s.queue_max_ms },
    };
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        lua_pushnumber(L, ms[i].v);
        lua_setfield(L, -2, ms[i].k);
    }
    return 1;
}

/* ---- cost, budgets and metrics ----------------------------------------------------------- */

/* Memory libfaas handed out, owned by a userdata until released (faas_free), so that it is
 * freed by the collector if Lua raises while it is copied. */
#define OWNED_MT "faas.owned"

static void **own(lua_State *L, void *p)
{
    void **slot = lua_newuserdatauv(L, sizeof *slot, 0);
    *slot = NULL;
    luaL_setmetatable(L, OWNED_MT);
    *slot = p;
    return slot;
}

static void release(void **slot)
{
    faas_free(*slot);
    *slot = NULL;
}

static int owned_gc(lua_State *L)
{
    release(luaL_checkudata(L, 1, OWNED_MT));
    return 0;
}

static void push_u64(lua_State *L, const char *key, uint64_t v)
{
    lua_pushinteger(L, (lua_Integer)v);        /* pico-dollars fit: 2^63 is $9.2 million */
    lua_setfield(L, -2, key);
}

/* ---- versions and aliases (faas_publish_version(3), faas_alias_set(3)) ----------------------
 * Every method that takes a name takes a qualified one: "NAME:3", "NAME:prod". */

/* rt:publish_version(name [, description]) -> version | nil, err */
static int rt_publish_version(lua_State *L)
{
    lfaas_rt *b = check_rt(L, 1);
    uint32_t v = 0;
    int rc = faas_publish_version(b->rt, luaL_checkstring(L, 2), luaL_optstring(L, 3, NULL),
                                  &v);
    if (rc != FAAS_OK)
        return fail_status(L, rc);
    lua_pushinteger(L, v);
    return 1;
}

/* rt:versions(name) -> { {version, code_sha256, code_size, description, published_ns}, ... }
 * | nil, err */
static int rt_versions(lua_State *L)
{
    lfaas_rt *b = check_rt(L, 1);
    faas_version_info *infos = NULL;
    size_t n = 0;
    int rc = faas_versions_list(b->rt, luaL_checkstring(L, 2), &infos, &n);
    if (rc != FAAS_OK)
        return fail_status(L, rc);
    if (!lua_checkstack(L, 4)) {
        faas_versions_free(infos);
        return luaL_error(L, "out of stack");
    }
    lua_createtable(L, (int)n, 0);          /* may raise: a few bytes of infos are lost */
    for (size_t i = 0; i < n; i++) {
        lua_createtable(L, 0, 5);
        push_u64(L, "version", infos[i].version);
        lua_pushstring(L, infos[i].code_sha256);
        lua_setfield(L, -2, "code_sha256");
        push_u64(L, "code_size", infos[i].code_size);
        lua_pushstring(L, infos[i].description ? infos[i].description : "");
        lua_setfield(L, -2, "description");
        lua_pushinteger(L, (lua_Integer)infos[i].published_ns);
        lua_setfield(L, -2, "published_ns");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    faas_versions_free(infos);
    return 1;
}

/* rt:alias_set(name, alias, version [, extra_version, extra_weight]) -> true | nil, err */
static int rt_alias_set(lua_State *L)
{
    lfaas_rt *b = check_rt(L, 1);
    const char *name = luaL_checkstring(L, 2), *alias = luaL_checkstring(L, 3);
    lua_Integer version = luaL_checkinteger(L, 4);
    lua_Integer extra = luaL_optinteger(L, 5, 0);
    double weight = (double)luaL_optnumber(L, 6, 0.0);
    luaL_argcheck(L, version >= 0 && version <= UINT32_MAX, 4, "not a version number");
    luaL_argcheck(L, extra >= 0 && extra <= UINT32_MAX, 5, "not a version number");
    int rc = faas_alias_set(b->rt, name, alias, (uint32_t)version, (uint32_t)extra, weight);
    if (rc != FAAS_OK)
        return fail_status(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

/* rt:alias_get(name, alias) -> {version, extra_version, extra_weight, revision} | nil, err */
static int rt_alias_get(lua_State *L)
{
    lfaas_rt *b = check_rt(L, 1);
    faas_alias_info out;
    int rc = faas_alias_get(b->rt, luaL_checkstring(L, 2), luaL_checkstring(L, 3), &out);
    if (rc != FAAS_OK)
        return fail_status(L, rc);
    lua_createtable(L, 0, 4);
    push_u64(L, "version", out.version);
    push_u64(L, "extra_version", out.extra_version);
    lua_pushnumber(L, out.extra_weight);
    lua_setfield(L, -2, "extra_weight");
    push_u64(L, "revision", out.revision);
    return 1;
}

/* rt:alias_delete(name, alias) -> true | nil, err */
static int rt_alias_delete(lua_State *L)
{
    lfaas_rt *b = check_rt(L, 1);
    int rc = faas_alias_delete(b->rt, luaL_checkstring(L, 2), luaL_checkstring(L, 3));
    if (rc != FAAS_OK)
        return fail_status(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

/* rt:routing_seed(seed): the same seed, the same weighted choices (tests). */
static int rt_routing_seed(lua_State *L)
{
    lfaas_rt *b = check_rt(L, 1);
    faas_routing_seed(b->rt, (uint64_t)luaL_checkinteger(L, 2));
    return 0;
}

/* Lambda's LastUpdateStatus of a FAAS_UPDATE_* (nil: never updated). */
static const char *update_status_text(int status)
{
    switch (status) {
    case FAAS_UPDATE_SUCCESSFUL: return "Successful";
    case FAAS_UPDATE_FAILED: return "Failed";
    case FAAS_UPDATE_IN_PROGRESS: return "InProgress";
    default: return NULL;
    }
}

/* rt:update_status(name) -> {status, reason, code_sha256, updates, failures, updated_ns}
 * | nil, err */
static int rt_update_status(lua_State *L)
{
    lfaas_rt *b = check_rt(L, 1);
    faas_update_info u;
    int rc = faas_update_status(b->rt, luaL_checkstring(L, 2), &u);
    if (rc != FAAS_OK)
        return fail_status(L, rc);
    lua_createtable(L, 0, 6);
    const char *st = update_status_text(u.status);
    if (st != NULL) {
        lua_pushstring(L, st);
        lua_setfield(L, -2, "status");
    }
    lua_pushstring(L, u.reason);
    lua_setfield(L, -2, "reason");
    lua_pushstring(L, u.code_sha256);
    lua_setfield(L, -2, "code_sha256");
    push_u64(L, "updates", u.updates);
    push_u64(L, "failures", u.failures);
    lua_pushinteger(L, (lua_Integer)u.updated_ns);
    lua_setfield(L, -2, "updated_ns");
    return 1;
}

/* rt:update_code(name[, path]) -> status | nil, err: hot code update (faas_update_code(3));
 * path nil reads the function's file again. On success the table rt:update_status()
 * answers; a LOAD or INIT that fails is nil, err (ELOAD/EINIT, the reason in its message)
 * and the old code keeps serving. */
static int rt_update_code(lua_State *L)
{
    lfaas_rt *b = check_rt(L, 1);
    const char *name = luaL_checkstring(L, 2);
    const char *path = luaL_optstring(L, 3, NULL);
    int rc = faas_update_code(b->rt, name, path);
    if (rc != FAAS_OK)
        return fail_status(L, rc);
    lua_settop(L, 2);
    return rt_update_status(L);
}

/* rt:cost_totals(["function" | "tag" | "total"]) -> rows | nil, err */
static int rt_cost_totals(lua_State *L)
{
    lfaas_rt *b = check_rt(L, 1);
    static const char *const groups[] = { "total", "function", "tag", NULL };
    int group = luaL_checkoption(L, 2, "function", groups);
    faas_cost_row *rows = NULL;
    size_t n = 0;
    int rc = faas_cost_totals(b->rt, group, &rows, &n);
    if (rc != FAAS_OK)
        return fail_status(L, rc);
    void **owner = own(L, rows);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        const faas_cost_row *r = &rows[i];
        lua_createtable(L, 0, 12);
        lua_pushstring(L, r->model);
        lua_setfield(L, -2, "model");
        lua_pushstring(L, groups[r->group >= 0 && r->group <= 2 ? r->group : 0]);
        lua_setfield(L, -2, "group");
        if (r->name != NULL) {
            lua_pushstring(L, r->name);
            lua_setfield(L, -2, "name");
        }
        push_u64(L, "calls", r->calls);
        push_u64(L, "mb_ms", r->mb_ms);
        push_u64(L, "unit2_ms", r->unit2_ms);
        push_u64(L, "request_picousd", r->request_picousd);
        push_u64(L, "compute_picousd", r->compute_picousd);
        push_u64(L, "fixed_picousd", r->fixed_picousd);
        push_u64(L, "free_picousd", r->free_picousd);
        push_u64(L, "total_picousd", r->total_picousd);
        lua_pushboolean(L, r->cpu_estimated);
        lua_setfield(L, -2, "cpu_estimated");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    release(owner);
    return 1;
}

/* rt:budget_set(tag, limit_picousd [, window_ms]) -> true | nil, err */
static int rt_budget_set(lua_State *L)
{
    lfaas_rt *b = check_rt(L, 1);
    const char *tag = luaL_checkstring(L, 2);
    lua_Integer limit = luaL_checkinteger(L, 3);
    lua_Integer window = luaL_optinteger(L, 4, 0);
    luaL_argcheck(L, limit >= 0, 3, "negative");
    luaL_argcheck(L, window >= 0, 4, "negative");
    int rc = faas_budget_set(b->rt, tag, (uint64_t)limit, (uint64_t)window);
    if (rc != FAAS_OK)
        return fail_status(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

/* rt:budget(tag) -> {limit_picousd, window_ms, spent_picousd, window_left_ms, refusals} */
static int rt_budget(lua_State *L)
{
    lfaas_rt *b = check_rt(L, 1);
    faas_budget out;
    int rc = faas_budget_get(b->rt, luaL_checkstring(L, 2), &out);
    if (rc != FAAS_OK)
        return fail_status(L, rc);
    lua_createtable(L, 0, 5);
    push_u64(L, "limit_picousd", out.limit_picousd);
    push_u64(L, "window_ms", out.window_ms);
    push_u64(L, "spent_picousd", out.spent_picousd);
    push_u64(L, "window_left_ms", out.window_left_ms);
    push_u64(L, "refusals", out.refusals);
    return 1;
}

/* rt:budget_remove(tag) -> true | nil, err */
static int rt_budget_remove(lua_State *L)
{
    lfaas_rt *b = check_rt(L, 1);
    int rc = faas_budget_remove(b->rt, luaL_checkstring(L, 2));
    if (rc != FAAS_OK)
        return fail_status(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

/* rt:metrics(["json" | "prometheus"]) -> text | nil, err */
static int rt_metrics(lua_State *L)
{
    lfaas_rt *b = check_rt(L, 1);
    static const char *const formats[] = { "json", "prometheus", NULL };
    int f = luaL_checkoption(L, 2, "json", formats);
    char *text = NULL;
    size_t len = 0;
    int rc = f == 0 ? faas_metrics_json(b->rt, &text, &len)
                    : faas_metrics_prometheus(b->rt, &text, &len);
    if (rc != FAAS_OK)
        return fail_status(L, rc);
    void **owner = own(L, text);
    lua_pushlstring(L, text, len);
    release(owner);
    return 1;
}

/* ---- fake time, schedules and watched directories ----------------------------------------
 * A firing or a file is an asynchronous call made by the library, on a worker (or, in
 * manual mode, inside rt:poll on this thread): a Lua function it calls is handed to the
 * owner like any other asynchronous call of it, and runs in rt:poll or rt:drain. */

static uint64_t fake_mono_ns(void *arg)
{
    return atomic_load_explicit(&((lfaas_rt *)arg)->fake_mono_ns, memory_order_acquire);
}

static int64_t fake_wall_ns(void *arg)
{
    return atomic_load_explicit(&((lfaas_rt *)arg)->fake_wall_ns, memory_order_acquire);
}

/* rt:advance(seconds): move a fake_time runtime's clocks forward. */
static int rt_advance(lua_State *L)
{
    lfaas_rt *b = check_rt(L, 1);
    lua_Number s = luaL_checknumber(L, 2);
    if (!b->fake_clock)
        return luaL_error(L, "faas: rt:advance() needs a runtime made with fake_time");
    luaL_argcheck(L, s >= 0 && s < 1e9, 2, "seconds from 0 to 1e9");
    uint64_t ns = (uint64_t)(s * 1e9 + 0.5);
    atomic_fetch_add_explicit(&b->fake_wall_ns, (int64_t)ns, memory_order_acq_rel);
    atomic_fetch_add_explicit(&b->fake_mono_ns, ns, memory_order_acq_rel);
    return 0;
}

/* rt:time() -> the runtime's wall clock, Unix seconds (the fake one with fake_time). */
static int rt_time(lua_State *L)
{
    lfaas_rt *b = check_rt(L, 1);
    if (b->fake_clock) {
        lua_pushnumber(L, (lua_Number)fake_wall_ns(b) / 1e9);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    }
    return 1;
}

static void push_id(lua_State *L, faas_trigger_id id)
{
    lua_pushinteger(L, (lua_Integer)id);   /* ids count up from 1: far below 2^63 */
}

static faas_trigger_id check_id(lua_State *L, int idx)
{
    lua_Integer id = luaL_checkinteger(L, idx);
    luaL_argcheck(L, id > 0, idx, "not a schedule or watch id");
    return (faas_trigger_id)id;
}

/* rt:schedule(name, expression [, {time_zone, rule_name, account, region}]) -> id | nil, err */
static int rt_schedule(lua_State *L)
{
    lfaas_rt *b = check_rt(L, 1);
    const char *name = luaL_checkstring(L, 2);
    const char *expr = luaL_checkstring(L, 3);
    faas_schedule_options so = FAAS_SCHEDULE_OPTIONS_INIT;
    if (!lua_isnoneornil(L, 4)) {
        luaL_checktype(L, 4, LUA_TTABLE);
        lua_pushnil(L);
        while (lua_next(L, 4) != 0) {       /* the strings stay in the table meanwhile */
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
            if (strcmp(k, "time_zone") == 0)
                so.time_zone = check_string(L, "schedule option", k);
            else if (strcmp(k, "rule_name") == 0)
                so.name = check_string(L, "schedule option", k);
            else if (strcmp(k, "account") == 0)
                so.account = check_string(L, "schedule option", k);
            else if (strcmp(k, "region") == 0)
                so.region = check_string(L, "schedule option", k);
            else
                return luaL_error(L, "faas: unknown schedule option '%s'", k);
            lua_pop(L, 1);
        }
    }
    faas_trigger_id id;
    int rc = faas_schedule_ex(b->rt, name, expr, &so, &id);
    if (rc != FAAS_OK)
        return fail_status(L, rc);
    push_id(L, id);
    return 1;
}

/* rt:unschedule(id) -> true | nil, err */
static int rt_unschedule(lua_State *L)
{
    lfaas_rt *b = check_rt(L, 1);
    int rc = faas_unschedule(b->rt, check_id(L, 2));
    if (rc != FAAS_OK)
        return fail_status(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

static unsigned check_events(lua_State *L)
{
    static const char *const names[] = { "created", "removed", NULL };
    unsigned mask = 0;
    if (lua_type(L, -1) == LUA_TSTRING) {
        mask = 1u << luaL_checkoption(L, -1, NULL, names);
    } else {
        luaL_checktype(L, -1, LUA_TTABLE);
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, i);
            mask |= 1u << luaL_checkoption(L, -1, NULL, names);
            lua_pop(L, 1);
        }
    }
    if (mask == 0)
        luaL_error(L, "faas: watch option events needs \"created\" and/or \"removed\"");
    return mask;            /* 1 << 0 = FAAS_WATCH_CREATED, 1 << 1 = FAAS_WATCH_REMOVED */
}

/* rt:watch(name, directory [, {recursive, prefix, suffix, events, existing, bucket, region,
 * configuration_id}]) -> id | nil, err */
static int rt_watch(lua_State *L)
{
    lfaas_rt *b = check_rt(L, 1);
    const char *name = luaL_checkstring(L, 2);
    const char *dir = luaL_checkstring(L, 3);
    faas_watch_options wo = FAAS_WATCH_OPTIONS_INIT;
    if (!lua_isnoneornil(L, 4)) {
        luaL_checktype(L, 4, LUA_TTABLE);
        lua_pushnil(L);
        while (lua_next(L, 4) != 0) {
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
            if (strcmp(k, "recursive") == 0)
                wo.recursive = lua_toboolean(L, -1);
            else if (strcmp(k, "existing") == 0)
                wo.existing = lua_toboolean(L, -1);
            else if (strcmp(k, "events") == 0)
                wo.events = check_events(L);
            else if (strcmp(k, "prefix") == 0)
                wo.prefix = check_string(L, "watch option", k);
            else if (strcmp(k, "suffix") == 0)
                wo.suffix = check_string(L, "watch option", k);
            else if (strcmp(k, "bucket") == 0)
                wo.bucket = check_string(L, "watch option", k);
            else if (strcmp(k, "region") == 0)
                wo.region = check_string(L, "watch option", k);
            else if (strcmp(k, "configuration_id") == 0)
                wo.configuration_id = check_string(L, "watch option", k);
            else
                return luaL_error(L, "faas: unknown watch option '%s'", k);
            lua_pop(L, 1);
        }
    }
    faas_trigger_id id;
    int rc = faas_watch(b->rt, name, dir, &wo, &id);
    if (rc != FAAS_OK)
        return fail_status(L, rc);
    push_id(L, id);
    return 1;
}

/* rt:unwatch(id) -> true | nil, err */
static int rt_unwatch(lua_State *L)
{
    lfaas_rt *b = check_rt(L, 1);
    int rc = faas_unwatch(b->rt, check_id(L, 2));
    if (rc != FAAS_OK)
        return fail_status(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

/* faas.schedule_next(expression, after [, time_zone]) -> Unix seconds | false (never) |
 * nil, err */
static int l_schedule_next(lua_State *L)
{
    const char *expr = luaL_checkstring(L, 1);
    lua_Number after = luaL_checknumber(L, 2);
    const char *tz = luaL_optstring(L, 3, NULL);
    luaL_argcheck(L, after > -9.2e9 && after < 9.2e9, 2, "out of range");
    int64_t next;
    int rc = faas_schedule_next(expr, tz, (int64_t)(after * 1e9), &next);
    if (rc == FAAS_ENOTFOUND) {
        lua_pushboolean(L, 0);
        return 1;
    }
    if (rc != FAAS_OK)
        return fail_status(L, rc);
    if (next % 1000000000 == 0)
        lua_pushinteger(L, (lua_Integer)(next / 1000000000));
    else
        lua_pushnumber(L, (lua_Number)next / 1e9);
    return 1;
}

static int rt_tostring(lua_State *L)
{
    lfaas_rt *b = luaL_checkudata(L, 1, LFAAS_RT_MT);
    lua_pushfstring(L, "faas.runtime (%s)", b->rt ? "open" : "closed");
    return 1;
}


static int err_tostring(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "type");
    lua_getfield(L, 1, "message");
    lua_pushfstring(L, "%s: %s", luaL_optstring(L, 2, "?"), luaL_optstring(L, 3, ""));
    return 1;
}

/* ---- the module --------------------------------------------------------------------------- */

/* faas.runtime([options]) -> runtime | nil, err */
static int l_runtime(lua_State *L)
{
    faas_options o;
    bool fake;
    int64_t fake_wall;
    read_options(L, 1, &o, &fake, &fake_wall);
    lfaas_rt *b = lua_newuserdatauv(L, sizeof *b, 2);
    memset(b, 0, sizeof *b);
    b->owner = pthread_self();
    b->manual = o.manual != 0;
    if (fake) {                         /* the userdata never moves: b is a stable arg */
        b->fake_clock = true;
        atomic_init(&b->fake_mono_ns, UINT64_C(1000000000));
        atomic_init(&b->fake_wall_ns, fake_wall);
        o.clock.mono_ns = fake_mono_ns;
        o.clock.wall_ns = fake_wall_ns;
        o.clock.arg = b;
    }
    luaL_setmetatable(L, LFAAS_RT_MT);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&b->lock, NULL);
    b->inited = true;                   /* from here __gc destroys them */
    lua_newtable(L);
    lua_setiuservalue(L, -2, 1);        /* functions and callbacks */
    b->runner = lua_newthread(L);
    lua_setiuservalue(L, -2, 2);        /* kept alive by the runtime */
    lua_rawgetp(L, LUA_REGISTRYINDEX, &lfaas_runtimes_key);
    lua_pushvalue(L, -2);
    lua_rawsetp(L, -2, b);
    lua_pop(L, 1);
    int rc = faas_runtime_new(&b->rt, &o);
    if (rc != FAAS_OK)
        return fail_status(L, rc);
    return 1;
}

static int l_version(lua_State *L)
{
    lua_pushstring(L, faas_version());
    return 1;
}

/* faas.format_usd(picousd [, decimals]) -> "$0.20" (faas_format_usd(3)) */
static int l_format_usd(lua_State *L)
{
    lua_Integer p = luaL_checkinteger(L, 1);
    lua_Integer d = luaL_optinteger(L, 2, -1);
    luaL_argcheck(L, p >= 0, 1, "negative");
    char buf[64];
    int n = faas_format_usd((uint64_t)p, (int)(d < -1 ? -1 : d > 12 ? 13 : d), buf, sizeof buf);
    if (n < 0)
        return luaL_argerror(L, 2, "decimals must be negative or 0 to 12");
    lua_pushstring(L, buf);
    return 1;
}

/* faas.price_models() -> { {name, source, read_on, request_picousd, gbs_picousd, unit2,
 * unit2_picousd}, ... }: the presets */
static int l_price_models(lua_State *L)
{
    lua_newtable(L);
    const faas_price_model *m;
    for (size_t i = 0; (m = faas_price_model_preset(i)) != NULL; i++) {
        lua_createtable(L, 0, 7);
        lua_pushstring(L, m->name);
        lua_setfield(L, -2, "name");
        if (m->source != NULL) {
            lua_pushstring(L, m->source);
            lua_setfield(L, -2, "source");
        }
        if (m->read_on != NULL) {
            lua_pushstring(L, m->read_on);
            lua_setfield(L, -2, "read_on");
        }
        push_u64(L, "request_picousd", m->request_picousd);
        push_u64(L, "gbs_picousd", m->gbs_picousd);
        if (m->unit2 != NULL) {
            lua_pushstring(L, m->unit2);
            lua_setfield(L, -2, "unit2");
            push_u64(L, "unit2_picousd", m->unit2_picousd);
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int l_strerror(lua_State *L)
{
    lua_pushstring(L, faas_strerror((int)luaL_checkinteger(L, 1)));
    return 1;
}

LFAAS_EXPORT int luaopen_faas(lua_State *L)
{
    static const luaL_Reg rt_methods[] = {
        { "register", rt_register }, { "register_module", rt_register_module },
        { "register_ffi", rt_register_ffi }, { "unregister", rt_unregister },
        { "invoke", rt_invoke }, { "invoke_response", rt_invoke_response },
        { "invoke_async", rt_invoke_async }, { "poll", rt_poll }, { "drain", rt_drain },
        { "warm", rt_warm }, { "stats", rt_stats }, { "close", rt_close },
        { "cost_totals", rt_cost_totals }, { "budget_set", rt_budget_set },
        { "budget", rt_budget }, { "budget_remove", rt_budget_remove },
        { "metrics", rt_metrics }, { "schedule", rt_schedule },
        { "unschedule", rt_unschedule }, { "watch", rt_watch }, { "unwatch", rt_unwatch },
        { "advance", rt_advance }, { "time", rt_time },
        { "publish_version", rt_publish_version }, { "versions", rt_versions },
        { "alias_set", rt_alias_set }, { "alias_get", rt_alias_get },
        { "alias_delete", rt_alias_delete }, { "routing_seed", rt_routing_seed },
        { "update_code", rt_update_code }, { "update_status", rt_update_status },
        { NULL, NULL },
    };
    if (luaL_newmetatable(L, LFAAS_RT_MT)) {
        luaL_newlib(L, rt_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, rt_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, rt_tbc);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, rt_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    lfaas_ctx_open(L);
    if (luaL_newmetatable(L, OWNED_MT)) {
        lua_pushcfunction(L, owned_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, ERR_MT)) {
        lua_pushcfunction(L, err_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &lfaas_runtimes_key) != LUA_TTABLE) {
        lua_newtable(L);
        lua_createtable(L, 0, 1);
        lua_pushliteral(L, "v");
        lua_setfield(L, -2, "__mode");
        lua_setmetatable(L, -2);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &lfaas_runtimes_key);
    }
    lua_pop(L, 1);

    static const luaL_Reg fns[] = {
        { "runtime", l_runtime }, { "version", l_version }, { "strerror", l_strerror },
        { "format_usd", l_format_usd }, { "price_models", l_price_models },
        { "schedule_next", l_schedule_next }, { NULL, NULL },
    };
    luaL_newlib(L, fns);
    lfaas_json_open(L, -1);
    for (int code = 0; code > -64; code--) {        /* faas.OK, faas.EINVAL, ... */
        const char *name = faas_err_name(code);
        if (strcmp(name, "FAAS_EUNKNOWN") != 0) {
            lua_pushinteger(L, code);
            lua_setfield(L, -2, status_name(code));
        }
    }
    return 1;
}

