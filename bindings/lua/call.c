/*
 * call.c - running Lua handlers: the libffi closure that is each Lua handler's address,
 * the hand-off of a call made on another thread to the thread that owns the Lua state,
 * the protected call of the Lua function with its event and ctx, and the Lambda-shaped
 * error body of a Lua error. It never touches a runtime's queues of completions (faas.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lfaas.h"

const char lfaas_runtimes_key;

/* ---- running a Lua handler (on the owner) ---------------------------------------------- */

/* The ctx userdata a handler gets; ctx NULL after the call. It may outlive the call and
 * its function (a handler can keep it): what it still answers then is copied here, never
 * read through the lfaas_fn, which rt:unregister() and rt:close() free. */
typedef struct lfaas_ctx {
    faas_ctx *ctx;
    unsigned  memory_mb;
    char      name[sizeof ((lfaas_fn *)0)->name];
} lfaas_ctx;

typedef struct call {
    lfaas_fn   *fn;
    faas_ctx   *ctx;
    const void *payload;
    size_t      len;
    int         rc;
    lfaas_hold  hold;
} call;

static int call_handler(lua_State *L);

/* A traceback line for the frame ar, in luaL_traceback's words. */
static void push_frame(lua_State *L, lua_Debug *ar)
{
    if (ar->currentline > 0)
        lua_pushfstring(L, "%s:%d: in ", ar->short_src, ar->currentline);
    else
        lua_pushfstring(L, "%s: in ", ar->short_src);
    if (ar->namewhat[0] != '\0' && ar->name != NULL)
        lua_pushfstring(L, "%s '%s'", strcmp(ar->namewhat, "global") == 0 ? "function"
                                                                            : ar->namewhat,
                        ar->name);
    else if (ar->what[0] == 'm')
        lua_pushliteral(L, "main chunk");
    else if (ar->what[0] == 'C')
        lua_pushliteral(L, "?");
    else
        lua_pushfstring(L, "function <%s:%d>", ar->short_src, ar->linedefined);
    lua_concat(L, 2);
}

/* The message handler of a handler's pcall: turns the error into {type, message, trace},
 * the trace being the handler's frames only (down to, not including, call_handler). An
 * error value that is a table may carry its own type and message. */
static int msgh(lua_State *L)
{
    lua_settop(L, 1);
    lua_createtable(L, 0, 3);
    const char *type = "LuaError";
    if (lua_type(L, 1) == LUA_TTABLE) {
        if (lua_getfield(L, 1, "type") == LUA_TSTRING)
            type = lua_tostring(L, -1);       /* stays on the stack */
        if (lua_getfield(L, 1, "message") != LUA_TSTRING) {
            lua_pop(L, 1);
            luaL_tolstring(L, 1, NULL);
        }
    } else if (lua_type(L, 1) == LUA_TSTRING) {
        lua_pushvalue(L, 1);
    } else {
        luaL_tolstring(L, 1, NULL);
    }
    lua_setfield(L, 2, "message");
    lua_pushstring(L, type);
    lua_setfield(L, 2, "type");
    lua_newtable(L);
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        lua_getinfo(L, "Slnf", &ar);
        bool boundary = lua_tocfunction(L, -1) == call_handler;
        lua_pop(L, 1);
        if (boundary)
            break;
        push_frame(L, &ar);
        lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    }
    lua_setfield(L, 2, "trace");
    lua_settop(L, 2);
    return 1;
}

/* Fail the call with Lambda's error body; the trace is the sequence at trace_idx (0:
 * none). Also logs it, as Lambda's runtimes do. */
static void fail_call(lua_State *L, call *c, const char *type, const char *msg, int trace_idx)
{
    lfaas_hold_release(&c->hold);       /* what a failed encoding left */
    json_t *body = json_object();
    c->hold.tree = body;
    json_t *trace = json_array();
    if (body == NULL || trace == NULL) {
        json_decref(trace);
        c->rc = faas_fail(c->ctx, type, "%s", msg);
        return;
    }
    json_object_set_new(body, "errorMessage", lfaas_json_text(msg, strlen(msg)));
    json_object_set_new(body, "errorType", lfaas_json_text(type, strlen(type)));
    json_object_set_new(body, "requestId", json_string(faas_ctx_request_id(c->ctx)));
    json_object_set_new(body, "stackTrace", trace);
    faas_ctx_log(c->ctx, "[ERROR] %s: %s", type, msg);
    lua_Integer n = trace_idx ? (lua_Integer)lua_rawlen(L, trace_idx) : 0;
    if (n > 0)
        faas_ctx_log(c->ctx, "stack traceback:");
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_rawgeti(L, trace_idx, i) == LUA_TSTRING) {
            size_t len;
            const char *line = lua_tolstring(L, -1, &len);
            json_array_append_new(trace, lfaas_json_text(line, len));
            faas_ctx_log(c->ctx, "\t%s", line);
        }
        lua_pop(L, 1);
    }
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    c->rc = text ? faas_fail_body(c->ctx, text, strlen(text))
                 : faas_fail(c->ctx, type, "%s", msg);
    free(text);
}

/* The handler's outcome at r (values r, r + 1): reply, or fail the call. */
static void finish_call(lua_State *L, call *c, int r)
{
    if (lua_isnil(L, r) && !lua_isnoneornil(L, r + 1)) {
        /* return nil, err: a failure the handler reports (errorType HandlerError, or the
         * error table's own type) */
        const char *type = "HandlerError";
        if (lua_type(L, r + 1) == LUA_TTABLE) {
            if (lua_getfield(L, r + 1, "type") == LUA_TSTRING)
                type = lua_tostring(L, -1);
            if (lua_getfield(L, r + 1, "message") != LUA_TSTRING) {
                lua_pop(L, 1);
                luaL_tolstring(L, r + 1, NULL);
            }
        } else {
            luaL_tolstring(L, r + 1, NULL);
        }
        fail_call(L, c, type, lua_tostring(L, -1), 0);
        return;
    }
    if (lua_isnil(L, r)) {
        c->rc = faas_reply(c->ctx, "null", 4);
        return;
    }
    lua_pushcfunction(L, lfaas_payload_protected);    /* an error is Runtime.MarshalError */
    lua_pushlightuserdata(L, &c->hold);
    lua_pushvalue(L, r);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
        const char *why = lua_tostring(L, -1);
        lua_pushfstring(L, "Unable to marshal response: %s", why ? why : "?");
        fail_call(L, c, "Runtime.MarshalError", lua_tostring(L, -1), 0);
        return;
    }
    size_t len = (size_t)lua_tointeger(L, -1);
    c->rc = faas_reply(c->ctx, c->hold.text ? c->hold.text : "", len);
}

/* Push the functions table of b (the runtime object's first user value), or nothing and
 * return 0 if the runtime object is gone. */
static int push_functions(lua_State *L, lfaas_rt *b)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &lfaas_runtimes_key);
    if (lua_rawgetp(L, -1, b) != LUA_TUSERDATA) {
        lua_pop(L, 2);
        return 0;
    }
    lua_getiuservalue(L, -1, 1);
    lua_replace(L, -3);
    lua_pop(L, 1);
    return 1;
}

/* In protected mode: [c] -> run the handler with (event, ctx) and reply or fail. */
static int call_handler(lua_State *L)
{
    call *c = lua_touserdata(L, 1);
    lfaas_ctx *u = lua_newuserdatauv(L, sizeof *u, 0);            /* 2: kept referenced */
    u->ctx = NULL;
    u->memory_mb = c->fn->memory_mb;
    memcpy(u->name, c->fn->name, sizeof u->name);
    luaL_setmetatable(L, LFAAS_CTX_MT);
    lua_pushlightuserdata(L, c);
    lua_pushcclosure(L, msgh, 1);                                  /* 3 */
    if (!push_functions(L, c->fn->b) || lua_rawgetp(L, -1, c->fn) != LUA_TFUNCTION) {
        c->rc = faas_fail(c->ctx, "Runtime.Unavailable",
                          "the Lua function %s is no longer registered", c->fn->name);
        return 0;
    }
    lua_remove(L, 4);                                              /* 4: the handler */
    lfaas_push_payload(L, c->payload, c->len, 1, &c->hold);        /* 5: the event */
    lua_pushvalue(L, 2);                                           /* 6: the ctx */
    u->ctx = c->ctx;
    int st = lua_pcall(L, 2, 2, 3);
    u->ctx = NULL;
    if (st == LUA_OK) {
        finish_call(L, c, 4);
    } else if (lua_type(L, -1) == LUA_TTABLE) {                   /* msgh's {type, ...} */
        int e = lua_gettop(L);
        lua_getfield(L, e, "type");
        lua_getfield(L, e, "message");
        lua_getfield(L, e, "trace");
        fail_call(L, c, lua_tostring(L, e + 1) ? lua_tostring(L, e + 1) : "LuaError",
                  lua_tostring(L, e + 2) ? lua_tostring(L, e + 2) : "?", e + 3);
    } else {                                                       /* msgh itself failed */
        fail_call(L, c, st == LUA_ERRMEM ? "Runtime.OutOfMemory" : "LuaError",
                  lua_tostring(L, -1) ? lua_tostring(L, -1) : "error in error handling", 0);
    }
    return 0;
}

/* Run fn's Lua function for this call, on the owner. */
int lfaas_run_here(lfaas_fn *fn, faas_ctx *ctx, const void *payload, size_t len)
{
    lfaas_rt *b = fn->b;
    lua_State *L = b->cur ? b->cur : b->runner;
    if (!lua_checkstack(L, 4))
        return faas_fail(ctx, "Runtime.LuaError", "Lua stack overflow");
    call c = { fn, ctx, payload, len, FAAS_OK, { NULL, NULL } };
    b->running++;
    fn->running++;
    lua_pushcfunction(L, call_handler);
    lua_pushlightuserdata(L, &c);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {     /* the binding's own failure (memory) */
        const char *msg = lua_tostring(L, -1);
        c.rc = faas_fail(ctx, "Runtime.LuaError", "%s", msg ? msg : "error in the binding");
        lua_pop(L, 1);
    }
    lfaas_hold_release(&c.hold);
    fn->running--;
    b->running--;
    return c.rc;
}

/* ---- the trampoline and the hand-off to the owner ---------------------------------------- */

/* On a thread other than the owner: queue the call and wait until the owner has run it,
 * or refused it, or (never started) its deadline passed. */
static int hand_off(lfaas_fn *fn, faas_ctx *ctx, const void *payload, size_t len)
{
    lfaas_rt *b = fn->b;
    lfaas_job job = { NULL, fn, ctx, payload, len, JOB_QUEUED, false, FAAS_OK };
    pthread_mutex_lock(&b->lock);
    if (b->closing || fn->dead) {
        pthread_mutex_unlock(&b->lock);
        return faas_fail(ctx, "Runtime.Unavailable", "the Lua runtime of %s is closing",
                         fn->name);
    }
    if (b->jobs_tail != NULL)
        b->jobs_tail->next = &job;
    else
        b->jobs = &job;
    b->jobs_tail = &job;
    pthread_cond_broadcast(&b->cond);
    while (job.state != JOB_DONE) {
        if (job.state == JOB_RUNNING) {
            pthread_cond_wait(&b->cond, &b->lock);      /* the owner is running it */
            continue;
        }
        /* Not started: wait no longer than the call's deadline (+1 ms, so that the
         * library, which reads its own clock, sees it passed and reports the timeout). */
        int64_t left = faas_ctx_remaining_ms(ctx);
        if (left < 0)
            break;
        struct timespec until = lfaas_at(lfaas_mono_ns() + ((uint64_t)left + 1) * 1000000u);
        pthread_cond_timedwait(&b->cond, &b->lock, &until);
    }
    if (job.state != JOB_DONE) {                        /* withdrawn: it never ran */
        lfaas_job **p = &b->jobs;
        lfaas_job *prev = NULL;
        while (*p != &job) {
            prev = *p;
            p = &(*p)->next;
        }
        *p = job.next;
        if (b->jobs_tail == &job)
            b->jobs_tail = prev;
        pthread_mutex_unlock(&b->lock);
        return 0;                       /* past its deadline: the call is FAAS_ETIMEOUT */
    }
    pthread_mutex_unlock(&b->lock);
    if (job.cancelled)
        return faas_fail(ctx, "Runtime.Unavailable",
                         "the Lua runtime of %s closed before the call ran", fn->name);
    return job.rc;
}

/* The libffi closure every Lua handler's address is: int (faas_ctx *, const void *, size_t). */
static void trampoline(ffi_cif *cif, void *ret, void **args, void *user)
{
    (void)cif;
    lfaas_fn *fn = user;
    faas_ctx *ctx = *(faas_ctx **)args[0];
    const void *payload = *(const void **)args[1];
    size_t len = *(size_t *)args[2];
    int rc = pthread_equal(pthread_self(), fn->b->owner) ? lfaas_run_here(fn, ctx, payload, len)
                                                          : hand_off(fn, ctx, payload, len);
    *(ffi_sarg *)ret = rc;
}

lfaas_fn *lfaas_fn_new(lfaas_rt *b, const char *name, unsigned memory_mb)
{
    lfaas_fn *fn = calloc(1, sizeof *fn);
    if (fn == NULL)
        return NULL;
    fn->b = b;
    fn->memory_mb = memory_mb;
    snprintf(fn->name, sizeof fn->name, "%s", name);
    fn->args[0] = &ffi_type_pointer;
    fn->args[1] = &ffi_type_pointer;
    fn->args[2] = sizeof(size_t) == 8 ? &ffi_type_uint64 : &ffi_type_uint32;
    fn->closure = ffi_closure_alloc(sizeof(ffi_closure), &fn->code);
    if (fn->closure == NULL ||
        ffi_prep_cif(&fn->cif, FFI_DEFAULT_ABI, 3, &ffi_type_sint, fn->args) != FFI_OK ||
        ffi_prep_closure_loc(fn->closure, &fn->cif, trampoline, fn, fn->code) != FFI_OK) {
        if (fn->closure != NULL)
            ffi_closure_free(fn->closure);
        free(fn);
        return NULL;
    }
    return fn;
}

void lfaas_fn_free(lfaas_fn *fn)
{
    ffi_closure_free(fn->closure);
    free(fn);
}

/* ---- the ctx a handler gets ------------------------------------------------------------- */

static faas_ctx *check_ctx(lua_State *L)
{
    lfaas_ctx *u = luaL_checkudata(L, 1, LFAAS_CTX_MT);
    if (u->ctx == NULL)
        luaL_error(L, "faas: a ctx is valid only during its call");
    return u->ctx;
}

/* ctx:log(...): the values as print() shows them, tab-separated, as one log line. */
static int ctx_log(lua_State *L)
{
    faas_ctx *ctx = check_ctx(L);
    int n = lua_gettop(L);
    luaL_Buffer buf;
    luaL_buffinit(L, &buf);
    for (int i = 2; i <= n; i++) {
        if (i > 2)
            luaL_addchar(&buf, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&buf);
    }
    luaL_pushresult(&buf);
    faas_ctx_log(ctx, "%s", lua_tostring(L, -1));
    return 0;
}

/* ctx:remaining_ms(): milliseconds before the deadline (negative once it has passed). */
static int ctx_remaining_ms(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)faas_ctx_remaining_ms(check_ctx(L)));
    return 1;
}

/* Push the decoded client context (text, with its hold): in a pcall, so that the hold is
 * released by the caller whatever happens. */
static int push_client_context(lua_State *L)
{
    const char *text = lua_touserdata(L, 1);
    lfaas_hold *h = lua_touserdata(L, 2);
    lfaas_push_payload(L, text, strlen(text), 1, h);
    return 1;
}

static int ctx_index(lua_State *L)
{
    lfaas_ctx *u = luaL_checkudata(L, 1, LFAAS_CTX_MT);
    const char *k = luaL_checkstring(L, 2);
    if (strcmp(k, "log") == 0) {
        lua_pushcfunction(L, ctx_log);
        return 1;
    }
    if (strcmp(k, "remaining_ms") == 0 || strcmp(k, "get_remaining_time_in_millis") == 0) {
        lua_pushcfunction(L, ctx_remaining_ms);
        return 1;
    }
    if (strcmp(k, "function_name") == 0)
        lua_pushstring(L, u->name);
    else if (strcmp(k, "function_version") == 0)
        lua_pushliteral(L, "$LATEST");
    else if (strcmp(k, "memory_limit_in_mb") == 0)
        lua_pushinteger(L, u->memory_mb);
    else if (strcmp(k, "request_id") == 0 || strcmp(k, "aws_request_id") == 0)
        lua_pushstring(L, faas_ctx_request_id(check_ctx(L)));
    else if (strcmp(k, "client_context") == 0) {
        /* Lambda's ClientContext as a table ({client=, custom=, env=}), or nil. */
        const char *cc = faas_ctx_client_context(check_ctx(L));
        if (cc == NULL) {
            lua_pushnil(L);
            return 1;
        }
        lfaas_hold h = { NULL, NULL };
        lua_pushcfunction(L, push_client_context);
        lua_pushlightuserdata(L, (void *)cc);
        lua_pushlightuserdata(L, &h);
        int st = lua_pcall(L, 2, 1, 0);
        lfaas_hold_release(&h);
        if (st != LUA_OK)
            return lua_error(L);
    } else
        lua_pushnil(L);
    return 1;
}

static int ctx_tostring(lua_State *L)
{
    lfaas_ctx *u = luaL_checkudata(L, 1, LFAAS_CTX_MT);
    lua_pushfstring(L, "faas.ctx (%s%s)", u->name, u->ctx ? "" : ", ended");
    return 1;
}

void lfaas_ctx_open(lua_State *L)
{
    if (luaL_newmetatable(L, LFAAS_CTX_MT)) {
        lua_pushcfunction(L, ctx_index);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, ctx_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
}
