/*
 * invoke.c - the synchronous path: one call of one function on the caller's thread, with
 * the full instance, deadline, arena and accounting semantics; the faas_ctx API a handler
 * uses; responses and records. It takes slots from the pool and never manages instances
 * itself; the scheduler reaches it through faas__call().
 */
#include "abi.h"
#include "internal.h"
#include "text.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* The call this thread is running (a handler may invoke another function: a chain). */
static _Thread_local faas_ctx *tls_current __attribute__((tls_model("initial-exec")));
/* The client context faas_invoke_ex() hands to the call it is about to start on this
 * thread: taken (and cleared) by that call's ctx_begin, so a call the handler makes in
 * turn does not inherit it. */
static _Thread_local const char *tls_client_context __attribute__((tls_model("initial-exec")));

bool faas__in_call_of(const faas_function *fn)
{
    for (const faas_ctx *c = tls_current; c != NULL; c = c->outer)
        if (c->fn == fn)
            return true;
    return faas__initialising(fn);
}

/* ---- errors and responses ------------------------------------------------------------ */

static char *error_block(const char *type, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    return faas__error_block(type, msg);
}

static char *error_blockf(const char *type, const char *fmt, ...) FAAS_PRINTF(2, 3);
static char *error_blockf(const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *b = error_block(type, fmt, ap);
    va_end(ap);
    return b;
}

/* Lambda's error body, {"errorMessage":..., "errorType":...}, malloc'd. */
static char *error_json(const char *type, const char *message, size_t *len)
{
    json_t *o = json_object();
    char *s = NULL;
    if (o != NULL) {
        json_object_set_new(o, "errorMessage", faas__json_text(message));
        json_object_set_new(o, "errorType", faas__json_text(type));
        s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
    }
    if (s == NULL) {
        static const char fallback[] =
            "{\"errorMessage\":\"out of memory\",\"errorType\":\"Runtime.OutOfMemory\"}";
        s = strdup(fallback);
    }
    *len = s ? strlen(s) : 0;
    return s;
}

/* The service-error type names: Lambda's where it has one. */
static const char *service_type(int status)
{
    switch (status) {
    case FAAS_ENOTFOUND:  return "ResourceNotFoundException";
    case FAAS_ETHROTTLED: return "TooManyRequestsException";
    case FAAS_EBUSY:      return "TooManyRequestsException";
    case FAAS_ETOOLARGE:  return "RequestEntityTooLargeException";
    case FAAS_EINVAL:     return "InvalidParameterValueException";
    case FAAS_EBUDGET:    return "BudgetExceededException";
    case FAAS_ENOTSUP:    return "UnsupportedOperationException";
    default:              return "ServiceException";
    }
}

static void record_base(faas_record *r, faas_function *fn, const char *request_id,
                        int status, int attempt, bool borrow_name)
{
    memset(r, 0, sizeof *r);
    memcpy(r->request_id, request_id, 37);
    if (fn != NULL) {
        if (!borrow_name)
            atomic_fetch_add_explicit(&fn->name->refs, 1, memory_order_relaxed);
        r->function = fn->name->name;
        r->tag = fn->name->tag;
        r->memory_mb = fn->cfg.memory_mb;
        r->version = fn->version;
    }
    r->status = status;
    r->attempt = attempt;
}

int faas__response_service_error(faas_response *res, int status, const char *request_id,
                                 faas_function *fn, const char *fmt, ...)
{
    char rid[37];
    if (request_id == NULL) {
        faas__request_id(rid);
        request_id = rid;
    }
    va_list ap;
    va_start(ap, fmt);
    char *block = error_block(service_type(status), fmt, ap);
    va_end(ap);
    res->status = status;
    res->data = faas__empty;
    res->len = 0;
    res->error_type = block;
    res->error_message = block ? block + strlen(block) + 1 : NULL;
    res->log_tail = faas__empty;
    record_base(&res->record, fn, request_id, status, 1, false);
    faas__fail(status, "%s", res->error_message ? res->error_message : faas_strerror(status));
    return status;
}

void faas__response_free_borrowed(faas_response *res)
{
    res->record.function = NULL;        /* its name was lent, not referenced */
    faas_response_free(res);
}

void faas_response_free(faas_response *res)
{
    if (res == NULL)
        return;
    if (res->data != NULL && res->data != (void *)faas__empty)
        free(res->data);
    if (res->error_type != NULL)        /* a failure's: rare, and free(NULL) is still a call */
        free((char *)res->error_type);
    if (res->log_tail != NULL && res->log_tail != faas__empty)
        free((char *)res->log_tail);
    if (res->record.function != NULL)
        faas__name_unref(faas__container_of(res->record.function, faas__name, name));
    /* What a second faas_response_free() would look at (the rest is plain data). */
    res->data = NULL;
    res->len = 0;
    res->error_type = res->error_message = NULL;
    res->log_tail = NULL;
    res->record.function = res->record.tag = NULL;
}

int faas_record_format(const faas_record *r, char *buf, size_t size)
{
    if (r == NULL || (buf == NULL && size > 0))
        return faas__fail(FAAS_EINVAL, "faas_record_format: NULL argument");
    uint64_t used_mb = (r->max_memory_bytes + (1u << 20) - 1) >> 20;
    if (used_mb == 0)
        used_mb = 1;
    char init[48] = "";
    if (r->cold)
        snprintf(init, sizeof init, "Init Duration: %.2f ms\t", (double)r->init_ns / 1e6);
    return snprintf(buf, size,
                    "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %u ms\t"
                    "Memory Size: %u MB\tMax Memory Used: %llu MB\t%s",
                    r->request_id, (double)r->duration_ns / 1e6, r->billed_ms, r->memory_mb,
                    (unsigned long long)used_mb, init);
}

/* ---- the call's log -------------------------------------------------------------------- */

/* Append line (with its newline) to the call's log, keeping at least the last 4 KB. */
static void log_append(faas_ctx *ctx, const char *line, size_t n)
{
    if (n > FAAS__LOG_TAIL) {
        line += n - FAAS__LOG_TAIL;
        n = FAAS__LOG_TAIL;
    }
    if (ctx->log_len + n > 2 * FAAS__LOG_TAIL) {
        size_t keep = FAAS__LOG_TAIL - n;
        if (keep > ctx->log_len)
            keep = ctx->log_len;
        memmove(ctx->log, ctx->log + ctx->log_len - keep, keep);
        ctx->log_len = keep;
    }
    if (ctx->log == NULL) {
        ctx->log = malloc(2 * FAAS__LOG_TAIL + 1);
        if (ctx->log == NULL)
            return;
        ctx->log_cap = 2 * FAAS__LOG_TAIL;
    }
    memcpy(ctx->log + ctx->log_len, line, n);
    ctx->log_len += n;
    ctx->log[ctx->log_len] = '\0';
}

/* The response's log_tail: the last 4 KB (cut at a byte, as Lambda's Tail is). */
static const char *log_tail(faas_ctx *ctx)
{
    if (ctx->log == NULL)
        return faas__empty;
    char *start = ctx->log;
    if (ctx->log_len > FAAS__LOG_TAIL) {
        start = ctx->log + ctx->log_len - FAAS__LOG_TAIL;
        memmove(ctx->log, start, FAAS__LOG_TAIL + 1);
        ctx->log_len = FAAS__LOG_TAIL;
    }
    char *tail = ctx->log;
    ctx->log = NULL;
    return tail;
}

static void log_linef(faas_ctx *ctx, bool to_sink, const char *fmt, ...) FAAS_PRINTF(3, 4);
static void log_linef(faas_ctx *ctx, bool to_sink, const char *fmt, ...)
{
    char buf[1200];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof buf - 2)
        n = (int)sizeof buf - 2;
    if (to_sink)
        faas__log_line(ctx->rt, buf);
    buf[n] = '\n';
    log_append(ctx, buf, (size_t)n + 1);
}

/* ---- the handler's API ----------------------------------------------------------------- */

int faas_reply(faas_ctx *ctx, const void *data, size_t len)
{
    if (ctx == NULL)
        return faas__fail(FAAS_EINVAL, "faas_reply: ctx is NULL");
    if (data == NULL && len > 0)
        return faas__fail(FAAS_EINVAL, "faas_reply: data is NULL with length %zu", len);
    size_t limit = ctx->rt->opts.max_payload_sync;
    if (len > limit) {
        ctx->too_large = true;
        return faas__fail(FAAS_ETOOLARGE,
                          "faas_reply: %zu bytes is more than the response limit of %zu",
                          len, limit);
    }
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return faas__fail(FAAS_ENOMEM, "faas_reply: out of memory for %zu bytes", len);
    if (len > 0)
        memcpy(copy, data, len);
    copy[len] = '\0';
    free(ctx->reply);
    ctx->reply = copy;
    ctx->reply_len = len;
    return FAAS_OK;
}

int faas__ctx_fail(faas_ctx *ctx, int status, const char *error_type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *block = error_block(error_type, fmt, ap);
    va_end(ap);
    if (block != NULL) {
        free(ctx->err);
        ctx->err = block;
    }
    ctx->failed = true;
    ctx->fail_status = status;
    return status;
}

int faas_fail(faas_ctx *ctx, const char *error_type, const char *fmt, ...)
{
    if (error_type == NULL || error_type[0] == '\0')
        error_type = "HandlerError";
    char msg[1024] = "";
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
    }
    if (ctx == NULL) {
        faas__init_report(msg);         /* from a faas_init hook: the INIT failure's words */
        return FAAS_EHANDLER;
    }
    char *block = error_blockf(error_type, "%s", msg);
    if (block != NULL) {
        free(ctx->err);
        ctx->err = block;
    }
    free(ctx->err_body);                /* the last failure is the call's */
    ctx->err_body = NULL;
    ctx->failed = true;
    return FAAS_EHANDLER;
}

int faas_fail_body(faas_ctx *ctx, const void *body, size_t len)
{
    if (ctx == NULL)
        return faas__fail(FAAS_EINVAL, "faas_fail_body: ctx is NULL");
    if (body == NULL && len > 0)
        return faas__fail(FAAS_EINVAL, "faas_fail_body: body is NULL with length %zu", len);
    json_error_t jerr;
    json_t *o = json_loadb(body, len, 0, &jerr);
    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        return faas__fail(FAAS_EINVAL, "faas_fail_body: not a JSON object: %s",
                          o == NULL ? jerr.text : "another JSON value");
    }
    /* errorType and errorMessage are the response's error_type and error_message; the
     * body always carries both, whatever else it has (stackTrace, requestId, cause). */
    const char *type = json_string_value(json_object_get(o, "errorType"));
    const char *msg = json_string_value(json_object_get(o, "errorMessage"));
    if (type == NULL || type[0] == '\0') {
        type = "HandlerError";
        json_object_set_new(o, "errorType", json_string(type));
        type = json_string_value(json_object_get(o, "errorType"));
    }
    if (msg == NULL) {
        json_object_set_new(o, "errorMessage", json_string(""));
        msg = "";
    }
    char *dump = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *block = type ? error_blockf(type, "%s", msg) : NULL;
    json_decref(o);
    if (dump == NULL || block == NULL) {
        free(dump);
        free(block);
        return faas__fail(FAAS_ENOMEM, "faas_fail_body: out of memory for %zu bytes", len);
    }
    size_t n = strlen(dump);
    if (n > ctx->rt->opts.max_payload_sync) {
        free(dump);
        free(block);
        ctx->too_large = true;
        return faas__fail(FAAS_ETOOLARGE,
                          "faas_fail_body: %zu bytes is more than the response limit of %zu",
                          n, ctx->rt->opts.max_payload_sync);
    }
    free(ctx->err);
    ctx->err = block;
    free(ctx->err_body);
    ctx->err_body = dump;
    ctx->err_body_len = n;
    ctx->failed = true;
    ctx->fail_status = 0;
    return FAAS_EHANDLER;
}

void *faas_ctx_alloc(faas_ctx *ctx, size_t n)
{
    if (ctx == NULL)
        return NULL;
    int over;
    void *p = faas__arena_alloc(&ctx->inst->arena, n, &over);
    if (p == NULL && !ctx->oom) {
        ctx->oom = true;
        free(ctx->err);
        ctx->err = error_blockf("Runtime.OutOfMemory",
                                "faas_ctx_alloc(%zu): %s (%zu bytes in use, limit %u MB)", n,
                                over ? "past the function's memory limit"
                                     : "the system is out of memory",
                                ctx->inst->arena.used, ctx->fn->cfg.memory_mb);
    }
    return p;
}

int64_t faas_ctx_remaining_ms(const faas_ctx *ctx)
{
    if (ctx == NULL)
        return 0;
    uint64_t now = faas__now(ctx->rt);
    if (now >= ctx->deadline_ns)
        return -(int64_t)((now - ctx->deadline_ns) / 1000000u);
    return (int64_t)((ctx->deadline_ns - now) / 1000000u);
}

void faas_ctx_log(faas_ctx *ctx, const char *fmt, ...)
{
    if (ctx == NULL || fmt == NULL)
        return;
    char stack[1024];
    char *line = stack;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(stack, sizeof stack, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof stack) {
        line = malloc((size_t)n + 2);
        if (line == NULL)
            return;
        va_start(ap, fmt);
        vsnprintf(line, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    if (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    faas__log_line(ctx->rt, line);
    line[n] = '\n';                /* n < sizeof stack, or line has n + 2 bytes */
    log_append(ctx, line, (size_t)n + 1);
    if (line != stack)
        free(line);
}

void *faas_ctx_state(const faas_ctx *ctx)
{
    return ctx ? ctx->inst->state : NULL;
}

const char *faas_ctx_request_id(const faas_ctx *ctx)
{
    return ctx ? ctx->request_id : NULL;
}

const char *faas_ctx_function(const faas_ctx *ctx)
{
    return ctx ? ctx->fn->name->name : NULL;
}

const char *faas_ctx_client_context(const faas_ctx *ctx)
{
    return ctx ? ctx->client_context : NULL;
}

/* text formatted into the call's arena (valid during the call), or NULL. */
static const char *arena_text(faas_ctx *ctx, const char *fmt, ...) FAAS_PRINTF(2, 3);
static const char *arena_text(faas_ctx *ctx, const char *fmt, ...)
{
    char buf[160];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf)
        return NULL;
    char *p = faas_ctx_alloc(ctx, (size_t)n + 1);
    if (p != NULL)
        memcpy(p, buf, (size_t)n + 1);
    return p;
}

const char *faas_ctx_getenv(faas_ctx *ctx, const char *name)
{
    if (ctx == NULL || name == NULL || name[0] == '\0')
        return NULL;
    const faas_function *fn = ctx->fn;
    size_t n = strlen(name);
    /* The function's own first: it may set TZ or LANG (never a reserved name). */
    if (fn->env != NULL)
        for (char **e = fn->env; *e; e++)
            if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
                return *e + n + 1;
    const char *fname = fn->name->name;
    if (strcmp(name, "AWS_LAMBDA_FUNCTION_NAME") == 0)
        return fname;
    if (strcmp(name, "AWS_LAMBDA_FUNCTION_VERSION") == 0)
        return fn->version == 0 ? "$LATEST" : arena_text(ctx, "%u", fn->version);
    if (strcmp(name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE") == 0)
        return arena_text(ctx, "%u", fn->cfg.memory_mb);
    if (strcmp(name, "AWS_LAMBDA_LOG_GROUP_NAME") == 0)
        return arena_text(ctx, "/aws/lambda/%s", fname);
    if (strcmp(name, "AWS_REGION") == 0 || strcmp(name, "AWS_DEFAULT_REGION") == 0)
        return "us-east-1";
    if (strcmp(name, "AWS_EXECUTION_ENV") == 0)
        return "AWS_Lambda_provided";
    if (strcmp(name, "_HANDLER") == 0)
        return fn->symbol != NULL ? fn->symbol : fname;
    if (strcmp(name, "TZ") == 0)
        return ":UTC";
    if (strcmp(name, "LANG") == 0)
        return "en_US.UTF-8";
    return NULL;
}

/* ---- accounting ----------------------------------------------------------------------- */

/* A call's counts on shard `shard` of fn; owned: a constant in each of charge()'s two
 * copies, so that a call branches once on whether its thread owns its shard. */
static inline __attribute__((always_inline)) void
count_call(faas_function *fn, unsigned shard, const faas_record *r, const faas__bill *b,
           bool owned)
{
    faas__counters *c = &fn->counters[shard];
    faas__count_on(owned, &c->invocations, 1);
    faas__count_on(owned, &c->cost_pusd, r->cost_picousd);
    faas__count_on(owned, &c->mb_ms, b->mb_ms);
    /* A warm first attempt that succeeded, priced in one dimension, tests once. */
    if (__builtin_expect((b->unit2_ms | (uint64_t)r->status | (uint64_t)r->cold |
                          (uint64_t)(r->attempt - 1)) != 0, 0)) {
        if (b->unit2_ms != 0)
            faas__count_on(owned, &c->unit2_ms, b->unit2_ms);
        if (r->status != FAAS_OK) {
            unsigned k = (unsigned)-r->status;
            faas__count_on(owned, &c->errors, 1);
            faas__count_on(owned, &c->by_status[k < FAAS__STATUSES ? k : FAAS__STATUSES - 1],
                           1);
            if (r->status == FAAS_ETIMEOUT)
                faas__count_on(owned, &c->timeouts, 1);
        }
        if (r->cold) {
            faas__count_on(owned, &c->cold_starts, 1);
            if (fn->hist_on)
                faas__hist_record_owned(&fn->init_hist, shard, r->init_ns, owned);
        }
        if (r->attempt > 1)
            faas__count_on(owned, &c->retries, 1);
        if (r->status == FAAS_ELOAD || r->status == FAAS_EINIT || r->status == FAAS_ENOMEM)
            return;                                             /* no handler ran */
    }
    if (fn->hist_on)
        faas__hist_record_owned(&fn->hist, shard, r->duration_ns, owned);
}

/* Price the record and count it; a call that ended at `now`. A refused call (throttled,
 * over budget) is counted where it is refused, never here. Inlined: every call pays it. */
static inline __attribute__((always_inline)) void charge(faas_function *fn, faas_record *r, uint64_t now)
{
    const faas_price_model *p = fn->rt->price;
    faas__bill b;
    faas__bill_call(p, &fn->price, r, &b);
    r->billed_ms = b.billed_ms;
    r->cost_picousd = p->request_picousd + b.compute_pusd;

    unsigned shard = faas__shard();
    if (__builtin_expect(faas__tls_shard_owned, 1))
        count_call(fn, shard, r, &b, true);
    else
        count_call(fn, shard, r, &b, false);
    faas__budget *bud = atomic_load_explicit(&fn->budget, memory_order_acquire);
    if (__builtin_expect(bud != NULL, 0))
        faas__budget_charge(bud, now, r->cost_picousd);
}

void faas__emit(faas_runtime *rt, const faas_record *r, bool handler_ran)
{
    faas__hook *h = atomic_load_explicit(&rt->hook, memory_order_acquire);
    if (h != NULL)
        h->fn(r, h->arg);
    if (rt->opts.log != NULL && handler_ran) {
        char line[256];
        snprintf(line, sizeof line, "END RequestId: %s", r->request_id);
        faas__log_line(rt, line);
        faas_record_format(r, line, sizeof line);
        faas__log_line(rt, line);
    }
}

/* ---- one call ------------------------------------------------------------------------- */

int faas__throttled(faas_function *fn, const char *request_id, int attempt,
                    faas_response *res)
{
    faas__response_service_error(res, FAAS_ETHROTTLED, request_id, fn,
                                 "Rate exceeded: %s is at its concurrency limit of %u",
                                 fn->name->name, fn->cfg.max_concurrency);
    res->record.attempt = attempt;
    atomic_fetch_add_explicit(&fn->counters[faas__shard()].throttles, 1,
                              memory_order_relaxed);
    return FAAS_ETHROTTLED;
}

int faas__budget_refused(faas_function *fn, const char *request_id, int attempt,
                         faas_response *res)
{
    faas__budget *b = atomic_load_explicit(&fn->budget, memory_order_acquire);
    char spent[40] = "?", limit[40] = "?";
    if (b != NULL) {
        faas_format_usd(atomic_load_explicit(&b->spent, memory_order_relaxed), -1, spent,
                        sizeof spent);
        faas_format_usd(atomic_load_explicit(&b->limit, memory_order_relaxed), -1, limit,
                        sizeof limit);
    }
    faas__response_service_error(res, FAAS_EBUDGET, request_id, fn,
                                 "Budget exceeded: tag \"%s\" has spent %s of its %s "
                                 "budget for this window", fn->name->tag ? fn->name->tag : "",
                                 spent, limit);
    res->record.attempt = attempt;
    atomic_fetch_add_explicit(&fn->counters[faas__shard()].budget_refusals, 1,
                              memory_order_relaxed);
    return FAAS_EBUDGET;
}

/* Fill a function-error response from the ctx's error block, and its faas_fail_body()
 * body when the handler's own failure is what the call ends with. Takes both. */
static void function_error(faas_response *res, faas_ctx *ctx)
{
    const char *type = ctx->err ? ctx->err : "HandlerError";
    const char *msg = ctx->err ? ctx->err + strlen(ctx->err) + 1 : "";
    if (ctx->err_body != NULL && res->status == FAAS_EHANDLER && ctx->failed) {
        res->data = ctx->err_body;
        res->len = ctx->err_body_len;
    } else {
        free(ctx->err_body);
        res->data = error_json(type, msg, &res->len);
    }
    ctx->err_body = NULL;
    if (res->data == NULL) {
        res->data = faas__empty;
        res->len = 0;
    }
    res->error_type = ctx->err;
    res->error_message = ctx->err ? msg : NULL;
    ctx->err = NULL;
    faas__fail(res->status, "%s: %s", type, msg);
}

/* A run that ended so retires its instance, as Lambda resets its environment. */
static inline bool retires(int status)
{
    return status == FAAS_ETIMEOUT || status == FAAS_EMEMORY || status == FAAS_ECRASHED;
}

/* The call's instance had died before the call reached it (an isolated instance killed
 * while idle): nothing ran. Count and report the death, shut the instance down, and leave
 * the slot to a new instance, as for a cold call. */
static void replace_dead(faas_ctx *ctx)
{
    faas_function *fn = ctx->fn;
    atomic_fetch_add_explicit(&fn->counters[faas__shard()].instance_deaths, 1,
                              memory_order_relaxed);
    if (ctx->rt->opts.log != NULL) {
        char when[25], line[1200];
        faas__format_time(faas__wall(ctx->rt), when);
        snprintf(line, sizeof line, "%s %s WARNING %s: %s; the call runs on a new instance",
                 when, ctx->request_id, fn->name->name,
                 ctx->err ? ctx->err + strlen(ctx->err) + 1 : "its instance had died");
        faas__log_line(ctx->rt, line);
    }
    free(ctx->err);
    free(ctx->reply);
    free(ctx->err_body);
    ctx->err = ctx->reply = ctx->err_body = NULL;
    ctx->reply_len = ctx->err_body_len = 0;
    ctx->failed = ctx->oom = ctx->too_large = ctx->crashed = ctx->stale = false;
    ctx->fail_status = 0;
    faas__instance_discard(fn, ctx->inst);
    ctx->inst = NULL;
}

/* The steps of one run, in the order run() takes them. Each is inlined into run(): the warm
 * path must not pay a call for being read in steps. */

/* Set up ctx for a call of fn on slot's instance (NULL: a cold start comes), give the
 * record its request id, and make ctx this thread's current call. */
static inline __attribute__((always_inline)) void
ctx_begin(faas_ctx *ctx, faas_function *fn, faas__slot *slot, const char *request_id,
          faas_record *r, void *call_data)
{
    faas_runtime *rt = fn->rt;
    ctx->rt = rt;
    ctx->fn = fn;
    ctx->inst = slot->inst;
    ctx->call_data = call_data;
    ctx->fail_status = 0;
    ctx->reply = NULL;
    ctx->reply_len = 0;
    ctx->err = NULL;
    ctx->err_body = NULL;
    ctx->err_body_len = 0;
    ctx->failed = ctx->oom = ctx->too_large = ctx->crashed = ctx->stale = false;
    ctx->log = NULL;
    ctx->log_len = ctx->log_cap = 0;
    ctx->client_context = tls_client_context;
    if (__builtin_expect(ctx->client_context != NULL, 0))
        tls_client_context = NULL;
    if (request_id != NULL)
        memcpy(r->request_id, request_id, 37);
    else
        faas__request_id(r->request_id);
    ctx->request_id = r->request_id;
    /* From here to the instance's return this thread is "in a call of fn": INIT, the log
     * sink and the handler may not unregister fn (they would wait for themselves). */
    ctx->outer = tls_current;
    tls_current = ctx;
}

/* Have an instance for the call: the slot's (warm), or a new one (cold: LOAD and INIT,
 * timed into *init_ns). *start is when the handler's time begins; an async call's queue
 * wait ends here. FAAS_OK, or why no instance could be made (err says it in words). */
static inline __attribute__((always_inline)) int
instance_ready(faas_runtime *rt, faas_function *fn, faas_ctx *ctx, const uint64_t *queued_ns,
               uint64_t *start, uint64_t *init_ns, int *cold, char *err, size_t err_size)
{
    if (ctx->inst != NULL &&
        __builtin_expect(ctx->inst->gen != atomic_load_explicit(&fn->gen,
                                                                memory_order_acquire), 0)) {
        /* Its code was replaced (faas_update_code): retired; the call runs the new code. */
        faas__instance_discard(fn, ctx->inst);
        ctx->inst = NULL;
    }
    if (ctx->inst == NULL) {
        *cold = 1;
        uint64_t t0 = faas__now(rt);
        if (queued_ns != NULL && fn->hist_on)
            faas__hist_record(&fn->queue_hist, t0 > *queued_ns ? t0 - *queued_ns : 0);
        int rc = faas__instance_create(fn, &ctx->inst, err, err_size);
        *start = faas__now(rt);
        *init_ns = *start > t0 ? *start - t0 : 0;
        return rc;
    }
    *start = faas__now(rt);
    if (queued_ns != NULL && fn->hist_on)
        faas__hist_record(&fn->queue_hist, *start > *queued_ns ? *start - *queued_ns : 0);
    return FAAS_OK;
}

/* The log sink's START line (the sink is set): once a run, whether its instance could be
 * made or not. */
static inline __attribute__((always_inline)) void
log_start(faas_runtime *rt, const char *request_id, uint32_t version)
{
    char line[96];
    if (version == 0)
        snprintf(line, sizeof line, "START RequestId: %s Version: $LATEST", request_id);
    else
        snprintf(line, sizeof line, "START RequestId: %s Version: %u", request_id, version);
    faas__log_line(rt, line);
}

/* No instance (LOAD or INIT failed, rc): the call fails as Lambda's does, with
 * Runtime.*Error; fill res and its cold record, and charge it. */
static void cold_start_failed(faas_ctx *ctx, int rc, const char *err, uint64_t start,
                              uint64_t init_ns, int attempt, bool borrow_name,
                              faas_response *res)
{
    faas_function *fn = ctx->fn;
    faas_record *r = &res->record;
    ctx->err = error_blockf(rc == FAAS_EINIT ? "Runtime.InitError"
                            : rc == FAAS_ELOAD ? "Runtime.LoadError"
                                               : "Runtime.Unknown",
                            "%s", err);
    char when[25];
    faas__format_time(faas__wall(ctx->rt), when);
    log_linef(ctx, true, "%s %s ERROR %s: %s", when, ctx->request_id,
              ctx->err ? ctx->err : "Runtime.Unknown", err);
    res->status = rc;
    function_error(res, ctx);
    res->log_tail = log_tail(ctx);
    char rid[37];
    memcpy(rid, r->request_id, 37);
    record_base(r, fn, rid, rc, attempt, borrow_name);
    r->cold = 1;
    r->init_ns = init_ns;
    charge(fn, r, start);
}

/* The call itself: the handler runs from start to its deadline; *end when it returned,
 * *cpu_ns the thread CPU time it used (when counted). The handler's return value. */
static inline __attribute__((always_inline)) int
call_handler(faas_runtime *rt, faas_function *fn, faas_ctx *ctx, const void *payload,
             size_t len, uint64_t start, uint64_t *end, uint64_t *cpu_ns)
{
    bool cpu = rt->opts.cpu_time != 0;
    uint64_t cpu0 = cpu ? faas__thread_cpu_ns() : 0;
    ctx->start_ns = start;
    ctx->deadline_ns = start + (uint64_t)fn->cfg.timeout_ms * 1000000u;

    int hrc = ctx->inst->handler(ctx, payload, len);

    *end = faas__now(rt);
    *cpu_ns = cpu ? faas__thread_cpu_ns() - cpu0 : 0;
    return hrc;
}

/* call_status()'s answer when the instance had died before the call reached it and the
 * call may run again on a new one (never a FAAS_* status). */
#define CALL_NEVER_SENT 1

/* What the call ended as, from the handler's return value hrc, its end time and what ctx
 * saw; ctx->err says why when it failed. replaced: the call already runs on a new
 * instance, so a dead one is a crash, not CALL_NEVER_SENT. */
static inline __attribute__((always_inline)) int
call_status(faas_runtime *rt, faas_function *fn, faas_ctx *ctx, int hrc, uint64_t end,
            bool replaced)
{
    int status;
    if (end > ctx->deadline_ns) {
        status = FAAS_ETIMEOUT;
        free(ctx->err);
        unsigned cs = (unsigned)(((uint64_t)fn->cfg.timeout_ms + 9) / 10); /* 1/100 s, up */
        ctx->err = error_blockf("Sandbox.Timedout", "Task timed out after %u.%02u seconds",
                                cs / 100, cs % 100);
    } else if (ctx->oom) {
        if (__builtin_expect(ctx->stale, 0) && !replaced)
            return CALL_NEVER_SENT;     /* the call was never sent: run it on a new one */
        status = ctx->crashed ? FAAS_ECRASHED : FAAS_EMEMORY;
    } else if (ctx->failed || hrc != 0 || ctx->too_large) {
        status = ctx->failed && ctx->fail_status != 0 ? ctx->fail_status : FAAS_EHANDLER;
        if (!ctx->failed) {
            free(ctx->err);
            ctx->err = ctx->too_large
                ? error_blockf("Function.ResponseSizeTooLarge",
                               "Response payload size exceeded maximum allowed payload "
                               "size (%zu bytes).", rt->opts.max_payload_sync)
                : error_blockf("HandlerError", "handler returned %d", hrc);
        }
    } else {
        status = FAAS_OK;
    }
    return status;
}

/* Fill res from the call that ended with status: its reply, or its error and error body;
 * its log tail. The instance's arena is reset; returns the arena's high-water mark. */
static inline __attribute__((always_inline)) uint64_t
respond(faas_runtime *rt, faas_ctx *ctx, int status, faas_response *res)
{
    uint64_t max_mem = ctx->inst->arena.used;
    if (max_mem != 0)
        faas__arena_reset(&ctx->inst->arena);
    ctx->inst->calls++;

    res->status = status;
    if (status == FAAS_OK) {
        if (ctx->reply != NULL) {
            res->data = ctx->reply;
            res->len = ctx->reply_len;
        } else {
            res->data = faas__empty;
            res->len = 0;
        }
        res->error_type = res->error_message = NULL;
    } else {
        free(ctx->reply);
        if (retires(status)) {          /* not the handler's own failure: say what happened */
            char when[25];
            faas__format_time(faas__wall(rt), when);
            log_linef(ctx, true, "%s %s %s", when, ctx->request_id,
                      ctx->err ? ctx->err + strlen(ctx->err) + 1 : "failed");
        }
        function_error(res, ctx);
    }
    res->log_tail = log_tail(ctx);
    return max_mem;
}

/* The call's record (its request id is already there), priced and counted. */
static inline __attribute__((always_inline)) void
record_call(faas_function *fn, faas_record *r, int status, int cold, int attempt,
            uint64_t init_ns, uint64_t start, uint64_t end, uint64_t cpu_ns,
            uint64_t max_mem, bool borrow_name)
{
    if (!borrow_name)
        atomic_fetch_add_explicit(&fn->name->refs, 1, memory_order_relaxed);
    r->function = fn->name->name;
    r->tag = fn->name->tag;
    r->version = fn->version;
    r->status = status;
    r->cold = cold;
    r->attempt = attempt;
    r->init_ns = init_ns;
    r->duration_ns = end > start ? end - start : 0;
    r->cpu_ns = cpu_ns;
    r->memory_mb = fn->cfg.memory_mb;
    r->max_memory_bytes = max_mem;
    charge(fn, r, end);
}

/* faas__run, with call_data for the handler (see faas__invoke_data). Inlined into call(),
 * the sync path's one frame for the whole call (issue 17: run's own frame and its ten
 * arguments were ~25 instructions of a warm call); faas__run has the other copy. */
static inline __attribute__((always_inline)) int run(faas_function *fn, faas__slot *slot, const void *payload, size_t len,
               int attempt, const char *request_id, faas_response *res, bool borrow_name,
               const uint64_t *queued_ns, void *call_data)
{
    faas_runtime *rt = fn->rt;
    faas_ctx ctx;
    faas_record *r = &res->record;
    ctx_begin(&ctx, fn, slot, request_id, r, call_data);

    uint64_t init_ns = 0;
    int cold = 0;
    uint64_t start;
    bool replaced = false;              /* the first instance had died: see replace_dead() */
    char err[768];                      /* why no instance could be made */
    int rc;
again:
    rc = instance_ready(rt, fn, &ctx, queued_ns, &start, &init_ns, &cold, err, sizeof err);
    if (rt->opts.log != NULL && !replaced)
        log_start(rt, ctx.request_id, fn->version);
    if (rc != FAAS_OK) {
        cold_start_failed(&ctx, rc, err, start, init_ns, attempt, borrow_name, res);
        tls_current = ctx.outer;
        faas__slot_cancel(fn);          /* fn may go away from here on */
        faas__emit(rt, r, true);
        return rc;
    }

    uint64_t end, cpu_ns;
    int hrc = call_handler(rt, fn, &ctx, payload, len, start, &end, &cpu_ns);
    int status = call_status(rt, fn, &ctx, hrc, end, replaced);
    if (__builtin_expect(status == CALL_NEVER_SENT, 0)) {
        replace_dead(&ctx);             /* the call was never sent: run it on a new one */
        replaced = true;
        queued_ns = NULL;
        goto again;
    }

    uint64_t max_mem = respond(rt, &ctx, status, res);
    record_call(fn, r, status, cold, attempt, init_ns, start, end, cpu_ns, max_mem,
                borrow_name);
    tls_current = ctx.outer;
    /* The instance goes back last (retired after a timeout, an out-of-memory or a crash):
     * from then on fn may be unregistered under us. */
    faas__slot_give(fn, ctx.inst, retires(status), end);
    if (atomic_load_explicit(&rt->hook, memory_order_relaxed) != NULL || rt->opts.log != NULL)
        faas__emit(rt, r, true);        /* a hook or a log sink: neither is on by default */
    return status;
}

int faas__run(faas_function *fn, faas__slot *slot, const void *payload, size_t len,
              int attempt, const char *request_id, faas_response *res, bool borrow_name,
              const uint64_t *queued_ns)
{
    return run(fn, slot, payload, len, attempt, request_id, res, borrow_name, queued_ns, NULL);
}

static __attribute__((noinline)) int call(faas_function *fn, const void *payload, size_t len,
                                          int attempt, const char *request_id,
                                          faas_response *res, void *call_data)
{
    faas__slot slot;
    int rc = faas__budget_check(fn, request_id, attempt, res);
    if (rc != FAAS_OK) {
        faas__emit(fn->rt, &res->record, false);
        return rc;
    }
    rc = faas__slot_take(fn, &slot);
    if (rc == FAAS_ETHROTTLED) {
        faas__throttled(fn, request_id, attempt, res);
        faas__emit(fn->rt, &res->record, false);
        return rc;
    }
    if (rc != FAAS_OK)      /* unregistered meanwhile: fn must not be touched any more */
        return faas__response_service_error(res, rc, request_id, NULL,
                                            "Function not found: it was unregistered");
    return run(fn, &slot, payload, len, attempt, request_id, res, false, NULL, call_data);
}

int faas__call(faas_function *fn, const void *payload, size_t len, int attempt,
               const char *request_id, faas_response *res)
{
    return call(fn, payload, len, attempt, request_id, res, NULL);
}

/* Checks shared by both sync entry points; fills res and returns non-zero on failure. */
static inline __attribute__((always_inline)) int
precheck(faas_runtime *rt, const void *payload, size_t len, faas_response *res)
{
    if (payload == NULL && len > 0)
        return faas__response_service_error(res, FAAS_EINVAL, NULL, NULL,
                                            "payload is NULL with length %zu", len);
    if (len > rt->opts.max_payload_sync)
        return faas__response_service_error(
            res, FAAS_ETOOLARGE, NULL, NULL,
            "Request must be smaller than %zu bytes for the InvokeFunction operation",
            rt->opts.max_payload_sync);         /* the service's words, though it accepts
                                                   exactly the limit */
    if (atomic_load_explicit(&rt->closing, memory_order_relaxed))
        return faas__response_service_error(res, FAAS_ESHUTDOWN, NULL, NULL,
                                            "the runtime is shutting down");
    return FAAS_OK;
}

/* ---- the sync entry points ------------------------------------------------------------ */

/* The handler ABI: the payload a handler receives is followed by a NUL byte that len does
 * not count, and is never NULL. A caller's buffer cannot be known to be terminated, so the
 * sync entry points copy it, as cheaply as they can: 1 to 15 bytes (most events of a
 * warm loop) inline into 16 bytes of stack, without a call; up to 4095 (most JSON events,
 * an API Gateway request's included) with memcpy into 4 KB of stack; longer into a
 * malloc'd block. An empty payload is the static "".
 * The other paths terminate their own copies: an async job's (sched.c), and so the
 * gateway's Event calls, schedules, watches and NATS workers. */
#define PAYLOAD_SHORT 16
#define PAYLOAD_STACK 4096

/* memcpy of 1 to 15 bytes without a call: two overlapping loads of a fixed size, both
 * within the source (glibc's own trick, inlined: the call would cost more than the copy). */
static inline void copy_short(char *d, const char *s, size_t n)
{
    if (n >= 8) {
        uint64_t x, y;
        memcpy(&x, s, 8);
        memcpy(&y, s + n - 8, 8);
        memcpy(d, &x, 8);
        memcpy(d + n - 8, &y, 8);
    } else if (n >= 4) {
        uint32_t x, y;
        memcpy(&x, s, 4);
        memcpy(&y, s + n - 4, 4);
        memcpy(d, &x, 4);
        memcpy(d + n - 4, &y, 4);
    } else {                            /* 1 to 3: the first, middle and last bytes */
        d[0] = s[0];
        d[n >> 1] = s[n >> 1];
        d[n - 1] = s[n - 1];
    }
}

/* What faas_invoke does once the payload is terminated. */
static inline __attribute__((always_inline)) int
invoke_named(faas_runtime *rt, const char *name, const faas__known *known,
             const void *payload, size_t len, faas_response *out)
{
    faas_function *fn;
    faas__slot slot;
    int rc = known != NULL
        ? faas__lookup_slot_known(rt, name, known->fn, known->epoch, &fn, &slot, out)
        : faas__lookup_slot(rt, name, &fn, &slot, out);
    if (rc == FAAS_OK)
        rc = faas__run(fn, &slot, payload, len, 1, NULL, out, false, NULL);
    else if (rc == FAAS_ETHROTTLED || rc == FAAS_EBUDGET)
        faas__emit(rt, &out->record, false);     /* out was filled under the lock */
    else if (rc == FAAS_EINVAL)
        rc = faas__response_service_error(out, rc, NULL, NULL,
                                          "invalid function name \"%.80s\": 1-64 "
                                          "characters of [A-Za-z0-9_-]",
                                          name ? name : "(null)");
    else                /* Lambda's words, with the name as given (its qualifier too) */
        rc = faas__response_service_error(out, rc, NULL, NULL, "Function not found: %.200s",
                                          name);
    return rc;
}

/* The copy of a payload that is empty or not short, for fn (by handle) or name. Out of
 * line, so that the short path's frame holds neither the 4 KB buffer nor a heap pointer
 * across the call. */
static __attribute__((noinline)) int
invoke_copied(faas_runtime *rt, faas_function *fn, const char *name,
              const faas__known *known, const void *payload, size_t len, faas_response *out)
{
    char stack[PAYLOAD_STACK], *heap = NULL;
    const void *p = faas__empty;
    if (len >= PAYLOAD_STACK) {
        p = heap = malloc(len + 1);
        if (heap == NULL)
            return faas__response_service_error(out, FAAS_ENOMEM, NULL, NULL,
                                                "out of memory for a copy of the %zu byte "
                                                "payload", len);
    } else if (len > 0) {
        p = stack;
    }
    if (len > 0) {
        memcpy((char *)p, payload, len);
        ((char *)p)[len] = '\0';
    }
    int rc = fn != NULL ? faas__call(fn, p, len, 1, NULL, out)
                        : invoke_named(rt, name, known, p, len, out);
    free(heap);
    return rc;
}

/* faas_invoke, and faas__invoke_known with known. */
static inline __attribute__((always_inline)) int
invoke_by_name(faas_runtime *rt, const char *name, const faas__known *known,
               const void *payload, size_t len, faas_response *res)
{
    faas_response discard;
    faas_response *out = res ? res : &discard;
    int rc;
    if (rt == NULL) {
        rc = faas__response_service_error(out, FAAS_EINVAL, NULL, NULL,
                                          "faas_invoke: runtime is NULL");
    } else if ((rc = precheck(rt, payload, len, out)) != FAAS_OK) {
        /* refused: out is filled */
    } else if (len - 1 < PAYLOAD_SHORT - 1) {  /* 1 to 15 bytes */
        char copy[PAYLOAD_SHORT];
        copy_short(copy, payload, len);
        copy[len] = '\0';
        rc = invoke_named(rt, name, known, copy, len, out);
    } else {
        rc = invoke_copied(rt, NULL, name, known, payload, len, out);
    }
    if (res == NULL)
        faas_response_free(&discard);
    return rc;
}

int faas_invoke(faas_runtime *rt, const char *name, const void *payload, size_t len,
                faas_response *res)
{
    return invoke_by_name(rt, name, NULL, payload, len, res);
}

int faas__invoke_known(faas_runtime *rt, const char *name, faas_function *fn, uint64_t epoch,
                       const void *payload, size_t len, faas_response *res)
{
    faas__known known = { fn, epoch };
    return invoke_by_name(rt, name, &known, payload, len, res);
}

/* The options faas_invoke_ex() knows: INVOKE_OPTIONS_V1 bytes, the first layout. */
#define INVOKE_OPTIONS_V1 (offsetof(faas_invoke_options, client_context) + sizeof(const char *))

int faas__client_context_check(const char *text, size_t len, char **compact)
{
    if (compact != NULL)
        *compact = NULL;
    if (len > FAAS_CLIENT_CONTEXT_MAX)
        return FAAS_ETOOLARGE;
    json_error_t e;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        return FAAS_EINVAL;
    }
    int rc = FAAS_OK;
    if (compact != NULL) {
        /* One line: it travels in a header (Lambda-Runtime-Client-Context) too. */
        *compact = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (*compact == NULL)
            rc = FAAS_ENOMEM;
    }
    json_decref(j);
    return rc;
}

int faas_invoke_ex(faas_runtime *rt, const char *name, const void *payload, size_t len,
                   const faas_invoke_options *opts, faas_response *res)
{
    faas_invoke_options o;
    int rc = faas__abi_copy(&o, sizeof o, opts, INVOKE_OPTIONS_V1, "faas_invoke_ex");
    char *cc = NULL;
    if (rc == FAAS_OK && o.client_context != NULL) {
        rc = faas__client_context_check(o.client_context, strlen(o.client_context), &cc);
        if (rc == FAAS_EINVAL)
            faas__fail(rc, "faas_invoke_ex: client_context is not a JSON object");
        else if (rc == FAAS_ETOOLARGE)
            faas__fail(rc, "faas_invoke_ex: client_context is over %d bytes",
                       FAAS_CLIENT_CONTEXT_MAX);
    }
    if (rc != FAAS_OK) {
        if (res != NULL)
            faas__response_service_error(res, rc, NULL, NULL, "%s", faas_last_error());
        return rc;
    }
    tls_client_context = cc;
    rc = faas_invoke(rt, name, payload, len, res);
    tls_client_context = NULL;          /* not taken: the call never began */
    free(cc);
    return rc;
}

/* faas_invoke_fn() of an alias's handle: the version it routes this call to, or NULL with
 * out filled (the alias was deleted). Out of line: the plain handle's path pays one test,
 * and the alias's call goes on in the caller's frame (no second faas_invoke_fn). */
static __attribute__((noinline)) faas_function *
alias_target(faas_function *alias, faas_response *out, int *rc)
{
    faas_function *v = faas__route_pick(alias);
    if (v == NULL)
        *rc = faas__response_service_error(out, FAAS_ENOTFOUND, NULL, NULL,
                                           "Function not found: %.200s (the alias was "
                                           "deleted)", alias->key);
    return v;
}

int faas_invoke_fn(faas_function *fn, const void *payload, size_t len, faas_response *res)
{
    faas_response discard;
    faas_response *out = res ? res : &discard;
    int rc;
    if (fn == NULL) {
        rc = faas__response_service_error(out, FAAS_EINVAL, NULL, NULL,
                                          "faas_invoke_fn: function is NULL");
    } else if (__builtin_expect(fn->kind == FAAS__ALIAS, 0) &&
               (fn = alias_target(fn, out, &rc)) == NULL) {
        /* a deleted alias: out is filled */
    } else if ((rc = precheck(fn->rt, payload, len, out)) != FAAS_OK) {
        /* refused: out is filled */
    } else if (len - 1 < PAYLOAD_SHORT - 1) {  /* 1 to 15 bytes */
        char copy[PAYLOAD_SHORT];
        copy_short(copy, payload, len);
        copy[len] = '\0';
        rc = call(fn, copy, len, 1, NULL, out, NULL);
    } else {
        rc = invoke_copied(NULL, fn, NULL, NULL, payload, len, out);
    }
    if (res == NULL)
        faas_response_free(&discard);
    return rc;
}

int faas__invoke_data(faas_function *fn, void *call_data, faas_response *res)
{
    faas_response discard;
    faas_response *out = res ? res : &discard;
    int rc = precheck(fn->rt, NULL, 0, out);
    if (rc == FAAS_OK)
        rc = call(fn, faas__empty, 0, 1, NULL, out, call_data);
    if (res == NULL)
        faas_response_free(&discard);
    return rc;
}
