/* test_invoke.c - the synchronous path: replies, failures and which status wins, the
 * response's ownership rules, payload limits, the call's log and the ctx API. */
#include "util.h"

#include <jansson.h>
#include <regex.h>

static fixture *F;

static int setup(void **state)
{
    faas_options o;
    fixture *f = fixture_new(&o);
    o.log = capture_line;
    o.log_arg = &f->cap;
    o.max_payload_sync = 1000;
    F = f;
    *state = f;
    return fixture_start(f, &o, 1);
}

static int echo(faas_ctx *ctx, const void *payload, size_t len)
{
    return faas_reply(ctx, payload, len);
}

static int silent(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)payload; (void)len;
    return 0;
}

static int keyerror(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload; (void)len;
    faas_reply(ctx, "\"partial\"", 9);              /* discarded by the failure */
    return faas_fail(ctx, "KeyError", "'%s'", "action");
}

static int returns_seven(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)payload; (void)len;
    return 7;
}

static int untyped_fail(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload; (void)len;
    faas_fail(ctx, NULL, "no type given");
    return 0;                                        /* faas_fail decides, not the return */
}

static void replies_are_copied_and_terminated(void **state)
{
    fixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "echo", echo, NULL));
    char payload[] = { 'a', '\0', 'b' };
    faas_response res;
    memset(&res, 0x5a, sizeof res);                  /* the caller need not zero it */
    ASSERT_OK(faas_invoke(f->rt, "echo", payload, 3, &res));
    assert_int_equal(res.status, FAAS_OK);
    assert_int_equal(res.len, 3);
    assert_memory_equal(res.data, payload, 3);
    assert_int_equal(((char *)res.data)[3], '\0');
    assert_null(res.error_type);
    assert_null(res.error_message);
    assert_string_equal(res.log_tail, "");
    faas_response_free(&res);
    faas_response_free(&res);                        /* twice is harmless */

    ASSERT_OK(faas_register(f->rt, "silent", silent, NULL));
    ASSERT_OK(faas_invoke(f->rt, "silent", NULL, 0, &res));
    assert_non_null(res.data);
    assert_int_equal(res.len, 0);
    assert_string_equal(res.data, "");
    faas_response_free(&res);

    faas_response zero;
    memset(&zero, 0, sizeof zero);
    faas_response_free(&zero);                       /* a zeroed response is fine */
    faas_response_free(NULL);
    ASSERT_OK(faas_invoke(f->rt, "echo", "x", 1, NULL));   /* discarding the response */
}

static void handler_failure_is_lambda_shaped(void **state)
{
    fixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "ke", keyerror, NULL));
    faas_response res;
    assert_int_equal(faas_invoke(f->rt, "ke", "{}", 2, &res), FAAS_EHANDLER);
    assert_int_equal(res.status, FAAS_EHANDLER);
    assert_string_equal(res.error_type, "KeyError");
    assert_string_equal(res.error_message, "'action'");
    json_t *j = json_loadb(res.data, res.len, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_object_size(j), 2);
    assert_string_equal(json_string_value(json_object_get(j, "errorType")), "KeyError");
    assert_string_equal(json_string_value(json_object_get(j, "errorMessage")), "'action'");
    json_decref(j);
    assert_non_null(strstr(faas_last_error(), "KeyError"));
    faas_response_free(&res);

    ASSERT_OK(faas_register(f->rt, "seven", returns_seven, NULL));
    assert_int_equal(faas_invoke(f->rt, "seven", NULL, 0, &res), FAAS_EHANDLER);
    assert_string_equal(res.error_type, "HandlerError");
    assert_string_equal(res.error_message, "handler returned 7");
    faas_response_free(&res);

    ASSERT_OK(faas_register(f->rt, "untyped", untyped_fail, NULL));
    assert_int_equal(faas_invoke(f->rt, "untyped", NULL, 0, &res), FAAS_EHANDLER);
    assert_string_equal(res.error_type, "HandlerError");
    assert_string_equal(res.error_message, "no type given");
    faas_response_free(&res);
}

static int bad_utf8(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload; (void)len;
    return faas_fail(ctx, "Bad\"Type", "bytes \xff\xfe and a quote \" and a newline\n");
}

static void error_body_is_valid_json_for_any_bytes(void **state)
{
    fixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "u8", bad_utf8, NULL));
    faas_response res;
    assert_int_equal(faas_invoke(f->rt, "u8", NULL, 0, &res), FAAS_EHANDLER);
    json_t *j = json_loadb(res.data, res.len, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "errorType")), "Bad\"Type");
    assert_non_null(strstr(json_string_value(json_object_get(j, "errorMessage")), "quote \""));
    json_decref(j);
    faas_response_free(&res);
}

static void service_errors_have_empty_data(void **state)
{
    fixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "echo", echo, NULL));
    size_t before = f->cap.nrec;
    faas_response res;
    assert_int_equal(faas_invoke(f->rt, "nobody", "x", 1, &res), FAAS_ENOTFOUND);
    assert_string_equal(res.error_type, "ResourceNotFoundException");
    assert_string_equal(res.error_message, "Function not found: nobody");
    assert_int_equal(res.len, 0);
    faas_response_free(&res);
    assert_int_equal(f->cap.nrec, before);           /* an unknown name: no record */

    char big[1001];
    memset(big, 'x', sizeof big);
    assert_int_equal(faas_invoke(f->rt, "echo", big, 1001, &res), FAAS_ETOOLARGE);
    assert_string_equal(res.error_type, "RequestEntityTooLargeException");
    assert_string_equal(res.error_message,
                        "Request must be smaller than 1000 bytes for the InvokeFunction "
                        "operation");
    assert_int_equal(res.len, 0);
    faas_response_free(&res);
    ASSERT_OK(faas_invoke(f->rt, "echo", big, 1000, &res));   /* the limit itself is fine */
    faas_response_free(&res);

    assert_int_equal(faas_invoke(f->rt, "echo", NULL, 5, &res), FAAS_EINVAL);
    assert_int_equal(res.status, FAAS_EINVAL);
    faas_response_free(&res);
    assert_int_equal(faas_invoke(NULL, "echo", NULL, 0, &res), FAAS_EINVAL);
    faas_response_free(&res);
    assert_int_equal(f->cap.nrec, before + 1);       /* only the call that ran */
}

static int big_reply(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload; (void)len;
    static char buf[1001];
    int rc = faas_reply(ctx, buf, sizeof buf);
    assert_int_equal(rc, FAAS_ETOOLARGE);
    return 0;
}

static void oversized_reply_is_a_function_error(void **state)
{
    fixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "big", big_reply, NULL));
    faas_response res;
    assert_int_equal(faas_invoke(f->rt, "big", NULL, 0, &res), FAAS_EHANDLER);
    assert_string_equal(res.error_type, "Function.ResponseSizeTooLarge");
    faas_response_free(&res);
}

static int chatty(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload;
    for (size_t i = 0; i < len; i++)
        faas_ctx_log(ctx, "line %zu of %zu\n", i + 1, len);   /* trailing \n is not doubled */
    return faas_reply(ctx, "ok", 2);
}

static void log_tail_keeps_the_last_4k(void **state)
{
    fixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "chatty", chatty, NULL));
    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, "chatty", "abc", 3, &res));
    assert_string_equal(res.log_tail, "line 1 of 3\nline 2 of 3\nline 3 of 3\n");
    faas_response_free(&res);
    char many[900];
    memset(many, 'x', sizeof many);
    ASSERT_OK(faas_invoke(f->rt, "chatty", many, sizeof many, &res));
    size_t n = strlen(res.log_tail);
    assert_true(n <= 4096);
    assert_true(n > 4000);
    const char *last = "line 900 of 900\n";
    assert_string_equal(res.log_tail + n - strlen(last), last);
    assert_null(strstr(res.log_tail, "line 1 of 900\n"));
    faas_response_free(&res);
}

static int line_matches(const char *line, const char *pattern)
{
    regex_t re;
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    int ok = regexec(&re, line, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

static void log_sink_gets_awss_lines(void **state)
{
    fixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "chatty", chatty, NULL));
    faas_response res;
    size_t first = f->cap.n;
    ASSERT_OK(faas_invoke(f->rt, "chatty", "a", 1, &res));
    assert_int_equal(f->cap.n - first, 4);
    char **l = f->cap.lines + first;
    char want[128];
    snprintf(want, sizeof want, "START RequestId: %s Version: $LATEST", res.record.request_id);
    assert_string_equal(l[0], want);
    assert_string_equal(l[1], "line 1 of 1");
    snprintf(want, sizeof want, "END RequestId: %s", res.record.request_id);
    assert_string_equal(l[2], want);
    assert_true(line_matches(l[3],
        "^REPORT RequestId: [0-9a-f-]{36}\tDuration: [0-9]+\\.[0-9]{2} ms\t"
        "Billed Duration: [0-9]+ ms\tMemory Size: 128 MB\tMax Memory Used: [0-9]+ MB\t"
        "Init Duration: [0-9]+\\.[0-9]{2} ms\t$"));
    faas_response_free(&res);
    first = f->cap.n;
    ASSERT_OK(faas_invoke(f->rt, "chatty", "", 0, &res));       /* warm: no Init Duration */
    assert_int_equal(f->cap.n - first, 3);
    assert_true(line_matches(f->cap.lines[first + 2],
        "^REPORT RequestId: [0-9a-f-]{36}\tDuration: 0\\.00 ms\tBilled Duration: 1 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 1 MB\t$"));
    faas_response_free(&res);
}

static int init_refuses(void **state, const char *function)
{
    (void)state;
    return faas_fail(NULL, NULL, "no settings for %s", function);
}

/* A call whose instance cannot be made (INIT failed) logs one START line, then its ERROR
 * line, END and a REPORT with the init time, as a call that ran does. */
static void log_sink_gets_one_start_when_init_fails(void **state)
{
    fixture *f = *state;
    faas_config c;
    faas_config_init(&c);
    c.init = init_refuses;
    ASSERT_OK(faas_register(f->rt, "noinit", silent, &c));
    faas_response res;
    size_t first = f->cap.n;
    assert_int_equal(faas_invoke(f->rt, "noinit", "a", 1, &res), FAAS_EINIT);
    assert_int_equal(f->cap.n - first, 4);
    char **l = f->cap.lines + first;
    char want[256];
    snprintf(want, sizeof want, "START RequestId: %s Version: $LATEST", res.record.request_id);
    assert_string_equal(l[0], want);
    snprintf(want, sizeof want, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z %s ERROR "
             "Runtime\\.InitError: .*no settings for noinit", res.record.request_id);
    assert_true(line_matches(l[1], want));
    snprintf(want, sizeof want, "END RequestId: %s", res.record.request_id);
    assert_string_equal(l[2], want);
    assert_true(line_matches(l[3], "^REPORT RequestId: [0-9a-f-]{36}\t.*"
                                   "Init Duration: [0-9]+\\.[0-9]{2} ms\t$"));
    faas_response_free(&res);
}

static char seen_id[37], seen_fn[65];
static int64_t seen_remaining[2];

static int introspect(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload; (void)len;
    snprintf(seen_id, sizeof seen_id, "%s", faas_ctx_request_id(ctx));
    snprintf(seen_fn, sizeof seen_fn, "%s", faas_ctx_function(ctx));
    seen_remaining[0] = faas_ctx_remaining_ms(ctx);
    fake_advance(&F->clock, MS(1000));
    seen_remaining[1] = faas_ctx_remaining_ms(ctx);
    assert_null(faas_ctx_state(ctx));                /* no INIT hook, no state */
    return 0;
}

static void ctx_api_reports_the_call(void **state)
{
    fixture *f = *state;
    faas_config c;
    faas_config_init(&c);
    c.timeout_ms = 2500;
    ASSERT_OK(faas_register(f->rt, "intro", introspect, &c));
    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, "intro", NULL, 0, &res));
    assert_string_equal(seen_id, res.record.request_id);
    assert_string_equal(seen_fn, "intro");
    assert_int_equal(seen_remaining[0], 2500);
    assert_int_equal(seen_remaining[1], 1500);
    faas_response_free(&res);
    /* Outside a call the ctx functions take NULL without crashing. */
    assert_null(faas_ctx_request_id(NULL));
    assert_null(faas_ctx_function(NULL));
    assert_null(faas_ctx_state(NULL));
    assert_null(faas_ctx_alloc(NULL, 8));
    assert_int_equal(faas_ctx_remaining_ms(NULL), 0);
    faas_ctx_log(NULL, "nothing");
    assert_int_equal(faas_reply(NULL, "x", 1), FAAS_EINVAL);
    assert_int_equal(faas_fail(NULL, NULL, "outside INIT: ignored"), FAAS_EHANDLER);
}

static void request_ids_are_unique_uuid4(void **state)
{
    fixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "s", silent, NULL));
    enum { N = 20000 };
    char (*ids)[37] = malloc(N * sizeof *ids);
    for (int i = 0; i < N; i++) {
        faas_response res;
        ASSERT_OK(faas_invoke(f->rt, "s", NULL, 0, &res));
        memcpy(ids[i], res.record.request_id, 37);
        faas_response_free(&res);
        assert_true(line_matches(ids[i], "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}"
                                         "-[0-9a-f]{12}$"));
    }
    qsort(ids, N, sizeof *ids, (int (*)(const void *, const void *))strcmp);
    for (int i = 1; i < N; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
    free(ids);
}

static int arena_user(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)len;
    size_t n = strtoull(payload, NULL, 10);
    for (size_t i = 0; i < n; i++) {
        uint64_t *p = faas_ctx_alloc(ctx, 1000);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
        p[0] = i;
        p[124] = i;
    }
    return 0;
}

static void arena_high_water_per_call(void **state)
{
    fixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "arena", arena_user, NULL));
    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, "arena", "300", 3, &res));
    assert_int_equal(res.record.max_memory_bytes, 300 * 1008);   /* 1000 rounded to 16 */
    faas_response_free(&res);
    ASSERT_OK(faas_invoke(f->rt, "arena", "1", 1, &res));        /* reset between calls */
    assert_int_equal(res.record.max_memory_bytes, 1008);
    faas_response_free(&res);
    ASSERT_OK(faas_invoke(f->rt, "arena", "0", 1, &res));
    assert_int_equal(res.record.max_memory_bytes, 0);
    faas_response_free(&res);
}

static int outer(faas_ctx *ctx, const void *payload, size_t len)
{
    faas_response inner;
    int rc = faas_invoke(F->rt, "echo", payload, len, &inner);
    if (rc != FAAS_OK) {
        faas_response_free(&inner);
        return faas_fail(ctx, "InnerFailed", "%s", faas_strerror(rc));
    }
    rc = faas_reply(ctx, inner.data, inner.len);
    faas_response_free(&inner);
    return rc;
}

static void handlers_may_invoke_others(void **state)
{
    fixture *f = *state;
    ASSERT_OK(faas_register(f->rt, "echo", echo, NULL));
    ASSERT_OK(faas_register(f->rt, "outer", outer, NULL));
    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, "outer", "nested", 6, &res));
    assert_string_equal(res.data, "nested");
    faas_response_free(&res);
}


/* The handler ABI: whatever the caller's buffer, the handler sees the payload followed by
 * a NUL byte and never NULL. Every size of each copy path (inline, stack, heap), by name
 * and by handle, from an exact-size heap block (valgrind and ASan see a read past it) and
 * from one followed by 'X' (seen natively). */
static void sync_payloads_are_nul_terminated(void **state)
{
    fixture *f = *state;
    /* The fixture's runtime takes 1,000 bytes; this one the default 6 MB, for the stack
     * copy's limit (4,096) and the heap copy. */
    fake_clock clock;
    faas_options o = manual_options(&clock);
    faas_runtime *big;
    ASSERT_OK(faas_runtime_new(&big, &o));
    static const size_t small_sizes[] = { 0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 100, 999,
                                          1000 };
    static const size_t big_sizes[] = { 4095, 4096, 4097, 100000 };
    struct { faas_runtime *rt; const size_t *sizes; size_t n; } runs[] = {
        { f->rt, small_sizes, sizeof small_sizes / sizeof small_sizes[0] },
        { big, big_sizes, sizeof big_sizes / sizeof big_sizes[0] },
    };
    for (size_t r = 0; r < 2; r++) {
        faas_runtime *rt = runs[r].rt;
        ASSERT_OK(faas_register(rt, "term", nul_terminated_echo, NULL));
        faas_function *fn = faas_lookup(rt, "term");
        assert_non_null(fn);
        for (size_t i = 0; i < runs[r].n; i++) {
            size_t n = runs[r].sizes[i];
            for (int sentinel = 0; sentinel <= 1; sentinel++) {
                for (int by_handle = 0; by_handle <= 1; by_handle++) {
                    char *p = pattern_payload(n, sentinel);
                    faas_response res;
                    int rc = by_handle ? faas_invoke_fn(fn, p, n, &res)
                                       : faas_invoke(rt, "term", p, n, &res);
                    if (rc != FAAS_OK)
                        fail_msg("%zu bytes%s, %s: %s: %s", n, sentinel ? " + 'X'" : "",
                                 by_handle ? "faas_invoke_fn" : "faas_invoke",
                                 faas_err_name(rc), res.error_message);
                    assert_int_equal(res.len, n);
                    assert_memory_equal(res.data, p, n);
                    faas_response_free(&res);
                    free(p);
                }
            }
        }
        /* No payload at all: the handler gets "", not NULL. */
        faas_response res;
        ASSERT_OK(faas_invoke(rt, "term", NULL, 0, &res));
        faas_response_free(&res);
        ASSERT_OK(faas_invoke_fn(fn, NULL, 0, &res));
        faas_response_free(&res);
    }
    faas_runtime_free(big);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, fixture_teardown)
    const struct CMUnitTest tests[] = {
        T(replies_are_copied_and_terminated),
        T(handler_failure_is_lambda_shaped),
        T(error_body_is_valid_json_for_any_bytes),
        T(service_errors_have_empty_data),
        T(oversized_reply_is_a_function_error),
        T(log_tail_keeps_the_last_4k),
        T(log_sink_gets_awss_lines),
        T(log_sink_gets_one_start_when_init_fails),
        T(ctx_api_reports_the_call),
        T(request_ids_are_unique_uuid4),
        T(arena_high_water_per_call),
        T(handlers_may_invoke_others),
        T(sync_payloads_are_nul_terminated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
