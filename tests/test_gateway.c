/* test_gateway.c - the gateway through its public API and a raw socket: faas_list and
 * faas_describe, start-up errors, the exact bytes of a few answers, the body deadline on a
 * fake clock, keep-alive and the pool thread model, IPv6, the drain on stop; and
 * FAAS_ENOTSUP in a build without libmicrohttpd. (Real AWS clients: tests/gateway/.) */
#include "config.h"

#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

static int echo(faas_ctx *ctx, const void *payload, size_t len)
{
    return faas_reply(ctx, payload, len);
}

/* ---- faas_list, faas_describe (every build) ------------------------------------------------ */

static void list_and_describe(void **state)
{
    (void)state;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, NULL));
    faas_function_info *infos = (void *)1;
    size_t n = 99;
    ASSERT_OK(faas_list(rt, &infos, &n));
    assert_null(infos);
    assert_int_equal(n, 0);
    faas_info_free(infos);

    faas_config cfg;
    faas_config_init(&cfg);
    cfg.memory_mb = 256;
    cfg.max_concurrency = 3;
    cfg.tag = "team-a";
    cfg.dead_letter = "zeta";
    ASSERT_OK(faas_register(rt, "mid", echo, &cfg));
    ASSERT_OK(faas_register(rt, "zeta", echo, NULL));
    ASSERT_OK(faas_register_module(rt, "alpha", test_module("mod_basic.so"), "echo", NULL));

    ASSERT_OK(faas_list(rt, &infos, &n));
    assert_int_equal(n, 3);
    assert_string_equal(infos[0].name, "alpha");
    assert_string_equal(infos[0].kind, "module");
    assert_string_equal(infos[0].module, test_module("mod_basic.so"));
    assert_string_equal(infos[0].symbol, "echo");
    assert_int_equal(infos[0].config.memory_mb, 128);
    assert_string_equal(infos[1].name, "mid");
    assert_string_equal(infos[1].kind, "host");
    assert_null(infos[1].module);
    assert_null(infos[1].symbol);
    assert_int_equal(infos[1].config.memory_mb, 256);
    assert_int_equal(infos[1].config.max_concurrency, 3);
    assert_string_equal(infos[1].config.tag, "team-a");
    assert_string_equal(infos[1].config.dead_letter, "zeta");
    assert_string_equal(infos[2].name, "zeta");
    assert_null(infos[2].config.tag);

    /* A snapshot: it outlives the functions it describes. */
    ASSERT_OK(faas_unregister(rt, "mid"));
    assert_string_equal(infos[1].config.tag, "team-a");
    faas_info_free(infos);

    faas_function_info *one;
    ASSERT_OK(faas_describe(rt, "zeta", &one));
    assert_string_equal(one->name, "zeta");
    assert_int_equal(one->config.timeout_ms, 3000);
    faas_info_free(one);
    assert_int_equal(faas_describe(rt, "mid", &one), FAAS_ENOTFOUND);
    assert_null(one);
    assert_int_equal(faas_describe(rt, "no such", &one), FAAS_EINVAL);
    assert_int_equal(faas_list(NULL, &infos, &n), FAAS_EINVAL);
    assert_int_equal(faas_list(rt, NULL, &n), FAAS_EINVAL);
    faas_info_free(NULL);
    faas_runtime_free(rt);
}

#ifdef HAVE_GATEWAY

/* ---- a tiny HTTP client ---------------------------------------------------------------------- */

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = { 30, 0 };      /* a hung server fails the test, not CI */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        assert_true(w > 0);
        s += w;
        n -= (size_t)w;
    }
}

static void send_str(int fd, const char *s)
{
    send_all(fd, s, strlen(s));
}

/* Read one response (headers and a Content-Length body) into buf; returns its length,
 * 0 if the server closed the connection first. */
static size_t read_response(int fd, char *buf, size_t size)
{
    size_t n = 0;
    char *end = NULL;
    while (end == NULL) {
        ssize_t r = recv(fd, buf + n, size - 1 - n, 0);
        if (r <= 0)
            return 0;
        n += (size_t)r;
        buf[n] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    size_t head = (size_t)(end + 4 - buf), body = 0;
    const char *cl = strstr(buf, "Content-Length: ");
    if (cl != NULL && cl < end)
        body = strtoul(cl + 16, NULL, 10);
    while (n < head + body) {
        ssize_t r = recv(fd, buf + n, size - 1 - n, 0);
        if (r <= 0)
            return 0;
        n += (size_t)r;
    }
    buf[n] = '\0';
    return n;
}

static const char *body_of(const char *resp)
{
    const char *b = strstr(resp, "\r\n\r\n");
    return b ? b + 4 : "";
}

/* ---- start-up ------------------------------------------------------------------------------------ */

static void start_errors(void **state)
{
    (void)state;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, NULL));
    faas_gateway *gw = (void *)1;
    assert_int_equal(faas_gateway_start(NULL, "127.0.0.1:0", NULL, &gw), FAAS_EINVAL);
    assert_null(gw);
    assert_int_equal(faas_gateway_start(rt, "127.0.0.1", NULL, &gw), FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "HOST:PORT"));
    assert_int_equal(faas_gateway_start(rt, "127.0.0.1:http", NULL, &gw), FAAS_EINVAL);
    assert_int_equal(faas_gateway_start(rt, "127.0.0.1:70000", NULL, &gw), FAAS_EINVAL);
    assert_int_equal(faas_gateway_start(rt, "no.such.host.invalid:80", NULL, &gw),
                     FAAS_EINVAL);
    faas_gateway_options o = { .token = "has space" };
    assert_int_equal(faas_gateway_start(rt, "127.0.0.1:0", &o, &gw), FAAS_EINVAL);
    faas_gateway_options r = { .region = "us:east" };
    assert_int_equal(faas_gateway_start(rt, "127.0.0.1:0", &r, &gw), FAAS_EINVAL);

    /* A port in use: libmicrohttpd's reason reaches faas_last_error(). */
    faas_gateway *first;
    ASSERT_OK(faas_gateway_start(rt, "127.0.0.1:0", NULL, &first));
    int port = faas_gateway_port(first);
    assert_true(port > 0);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    assert_int_equal(faas_gateway_start(rt, addr, NULL, &gw), FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "cannot listen on"));
    assert_int_equal(faas_gateway_port(NULL), FAAS_EINVAL);
    faas_gateway_stop(first);
    faas_gateway_stop(NULL);
    faas_runtime_free(rt);
}

/* ---- answers --------------------------------------------------------------------------------- */

typedef struct server {
    faas_runtime *rt;
    faas_gateway *gw;
    int           port;
    fake_clock    clock;
} server;

static int setup(void **state)
{
    server *s = calloc(1, sizeof *s);
    faas_options o = manual_options(&s->clock);  /* sync calls need no thread */
    ASSERT_OK(faas_runtime_new(&s->rt, &o));
    ASSERT_OK(faas_register(s->rt, "echo", echo, NULL));
    faas_gateway_options go = { .body_timeout_ms = 1000, .header_timeout_ms = 1000,
                                .idle_timeout_ms = 120000, .token = "tok",
                                .region = "eu-west-3", .account = "123456789012" };
    ASSERT_OK(faas_gateway_start(s->rt, "127.0.0.1:0", &go, &s->gw));
    s->port = faas_gateway_port(s->gw);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    server *s = *state;
    faas_gateway_stop(s->gw);
    faas_runtime_free(s->rt);
    free(s);
    return 0;
}

static void exact_answers(void **state)
{
    server *s = *state;
    static char buf[1 << 16];           /* /metrics is some 6 KB a function */
    int fd = connect_to(s->port);
    send_str(fd, "POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: x\r\n"
                 "Authorization: Bearer tok\r\nContent-Length: 5\r\n\r\n[1,2]");
    assert_true(read_response(fd, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(buf, "\r\nX-Amz-Executed-Version: $LATEST\r\n"));
    assert_non_null(strstr(buf, "\r\nx-amzn-RequestId: "));
    assert_string_equal(body_of(buf), "[1,2]");

    /* The same connection: an unknown function, in the region and account configured. */
    send_str(fd, "POST /2015-03-31/functions/other/invocations HTTP/1.1\r\nHost: x\r\n"
                 "Authorization: Bearer tok\r\nContent-Length: 0\r\n\r\n");
    assert_true(read_response(fd, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 404 Not Found\r\n"));
    assert_non_null(strstr(buf, "\r\nx-amzn-ErrorType: ResourceNotFoundException\r\n"));
    assert_string_equal(body_of(buf), "{\"Type\":\"User\",\"Message\":\"Function not found: "
                        "arn:aws:lambda:eu-west-3:123456789012:function:other\"}");

    /* Tokens: the key id of a SigV4 header counts; a token one byte longer does not. */
    send_str(fd, "POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: x\r\n"
                 "Authorization: AWS4-HMAC-SHA256 Credential=tok/20261126/us-east-1/lambda/"
                 "aws4_request, SignedHeaders=host, Signature=00\r\nContent-Length: 2\r\n\r\n"
                 "{}");
    assert_true(read_response(fd, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    send_str(fd, "GET /2015-03-31/functions/ HTTP/1.1\r\nHost: x\r\n"
                 "Authorization: Bearer tokk\r\n\r\n");
    assert_true(read_response(fd, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 403 Forbidden\r\n"));
    send_str(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok\r\n\r\n");
    assert_true(read_response(fd, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(buf, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    assert_non_null(strstr(body_of(buf), "faas_invocations_total{function=\"echo\",status=\"ok\"} 2"));
    send_str(fd, "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    ssize_t r = recv(fd, buf, sizeof buf - 1, 0);
    assert_true(r > 0);
    buf[r] = '\0';
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    close(fd);
}

static int silent(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)payload; (void)len;
    return 0;
}

static int replies_nothing(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload; (void)len;
    return faas_reply(ctx, "", 0);
}

/* POST body to function name (RequestResponse, or Event); the response in buf. */
static void post(server *s, const char *name, const char *type, const char *body, char *buf,
                 size_t size)
{
    int fd = connect_to(s->port);
    char head[512];
    snprintf(head, sizeof head, "POST /2015-03-31/functions/%s/invocations HTTP/1.1\r\n"
             "Host: x\r\nAuthorization: Bearer tok\r\nX-Amz-Invocation-Type: %s\r\n"
             "Content-Length: %zu\r\n\r\n", name, type, strlen(body));
    send_str(fd, head);
    send_str(fd, body);
    assert_true(read_response(fd, buf, size) > 0);
    close(fd);
}

/* The handler ABI on the gateway's paths: the body a handler gets is followed by a NUL
 * byte (ASan fills the body buffer's spare byte with 0xbe; valgrind sees it unset). And a
 * function that does not reply answers null, as Lambda's does. */
static void payloads_are_terminated_and_no_reply_is_null(void **state)
{
    server *s = *state;
    ASSERT_OK(faas_register(s->rt, "term", nul_terminated_echo, NULL));
    ASSERT_OK(faas_register(s->rt, "silent", silent, NULL));
    ASSERT_OK(faas_register(s->rt, "nothing", replies_nothing, NULL));
    static char buf[1 << 14];
    size_t sizes[] = { 3, 40, 5000 };      /* the core's three copies: inline, stack, heap */
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char body[5001];
        memset(body, 'a', sizes[i]);
        body[0] = body[sizes[i] - 1] = '"';
        body[sizes[i]] = '\0';
        post(s, "term", "RequestResponse", body, buf, sizeof buf);
        assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
        if (strstr(buf, "X-Amz-Function-Error") != NULL)
            fail_msg("%zu bytes: %s", sizes[i], body_of(buf));
        assert_string_equal(body_of(buf), body);
        /* Event: queued (manual mode), run here. */
        post(s, "term", "Event", body, buf, sizeof buf);
        assert_non_null(strstr(buf, "HTTP/1.1 202 Accepted\r\n"));
        assert_int_equal(faas_run_pending(s->rt), 1);
    }
    faas_stats st;
    ASSERT_OK(faas_stats_get(s->rt, "term", &st));
    assert_int_equal(st.invocations, 6);
    assert_int_equal(st.errors, 0);

    post(s, "silent", "RequestResponse", "{}", buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(buf, "\r\nContent-Length: 4\r\n"));
    assert_string_equal(body_of(buf), "null");
    post(s, "nothing", "RequestResponse", "{}", buf, sizeof buf);
    assert_string_equal(body_of(buf), "null");
    /* The C API keeps its empty reply. */
    faas_response res;
    ASSERT_OK(faas_invoke(s->rt, "silent", "{}", 2, &res));
    assert_int_equal(res.len, 0);
    assert_string_equal(res.data, "");
    faas_response_free(&res);
}

/* The body must be in within body_timeout_ms of the headers: on the runtime's clock, so a
 * fake clock makes a slow client with no waiting. */
static void slow_body_is_dropped(void **state)
{
    server *s = *state;
    char buf[4096];
    for (int slow = 0; slow <= 1; slow++) {
        int fd = connect_to(s->port);
        /* 100-continue: the interim answer proves the headers were handled, and so the
         * deadline set, before the clock moves. */
        send_str(fd, "POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: x\r\n"
                     "Authorization: Bearer tok\r\nExpect: 100-continue\r\n"
                     "Content-Length: 7\r\n\r\n");
        ssize_t r = recv(fd, buf, sizeof buf - 1, 0);
        assert_true(r > 0);
        buf[r] = '\0';
        assert_non_null(strstr(buf, "HTTP/1.1 100 Continue"));
        if (slow)
            fake_advance(&s->clock, MS(1001));
        send_str(fd, "\"hello\"");
        size_t n = read_response(fd, buf, sizeof buf);
        if (slow) {
            assert_int_equal(n, 0);         /* closed, unanswered */
        } else {
            assert_true(n > 0);
            assert_string_equal(body_of(buf), "\"hello\"");
        }
        close(fd);
    }
}

/* Has the server closed fd? Moves the fake clock past the header deadline before each
 * look, so that however late the server noted the start of the wait, a later move is
 * past it; the reaper looks every 250 ms of real time. 40 looks of 500 ms stay well
 * within the fixture's idle timeout (120 s), which would close the connection too. */
static bool cut_after_deadline(server *s, int fd)
{
    char c;
    for (int i = 0; i < 40; i++) {
        fake_advance(&s->clock, MS(1001));
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 500) == 1)
            return recv(fd, &c, 1, 0) == 0;
    }
    return false;
}

/* libmicrohttpd's idle timeout restarts with each byte: a client trickling its request
 * line and headers is cut by the header deadline instead (header_timeout_ms, on the
 * runtime's clock), on a new connection and on a kept-alive one between requests. */
static void slow_headers_are_cut(void **state)
{
    server *s = *state;
    char buf[4096];
    static const char req[] = "POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\n"
                              "Host: x\r\nAuthorization: Bearer tok\r\n"
                              "Content-Length: 2\r\n\r\n{}";
    /* In time, however slowly: answered. */
    int fd = connect_to(s->port);
    send_str(fd, "POST /2015-03-31/functions/ec");
    send_str(fd, req + 29);
    assert_true(read_response(fd, buf, sizeof buf) > 0);
    assert_string_equal(body_of(buf), "{}");
    /* Kept alive, then a request line that never ends: cut. */
    send_str(fd, "POST /2015-03-31/functions/ec");
    assert_true(cut_after_deadline(s, fd));
    close(fd);
    /* A new connection whose headers never end: cut too. */
    fd = connect_to(s->port);
    send_str(fd, "POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: x\r\nX-A");
    assert_true(cut_after_deadline(s, fd));
    close(fd);
    /* The server still answers. */
    fd = connect_to(s->port);
    send_str(fd, req);
    assert_true(read_response(fd, buf, sizeof buf) > 0);
    assert_string_equal(body_of(buf), "{}");
    close(fd);
}

/* A body with both Transfer-Encoding: chunked and Content-Length is chunked (RFC 9112
 * 6.3; libmicrohttpd reads it so): an answer given before the body is read must still be
 * sent, not the connection dropped unanswered. */
static void chunked_with_content_length_is_answered(void **state)
{
    server *s = *state;
    char buf[4096];
    int fd = connect_to(s->port);
    send_str(fd, "POST /2015-03-31/functions/other/invocations HTTP/1.1\r\nHost: x\r\n"
                 "Authorization: Bearer tok\r\nTransfer-Encoding: chunked\r\n"
                 "Content-Length: 0\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
    assert_true(read_response(fd, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 404 Not Found\r\n"));
    assert_non_null(strstr(buf, "\r\nx-amzn-ErrorType: ResourceNotFoundException\r\n"));
    close(fd);
}

/* ---- thread models and addresses ------------------------------------------------------------- */

static void pool_model_and_ipv6(void **state)
{
    (void)state;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, NULL));
    ASSERT_OK(faas_register(rt, "echo", echo, NULL));
    faas_gateway *gw;
    faas_gateway_options o = { .threads = 2 };
    ASSERT_OK(faas_gateway_start(rt, "localhost:0", &o, &gw));
    int fd = connect_to(faas_gateway_port(gw));
    char buf[4096];
    for (int i = 0; i < 5; i++) {
        send_str(fd, "POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: x\r\n"
                     "Content-Length: 1\r\n\r\n7");
        assert_true(read_response(fd, buf, sizeof buf) > 0);
        assert_string_equal(body_of(buf), "7");
    }
    close(fd);
    faas_gateway_stop(gw);

    /* IPv6 loopback, where the machine has it. */
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    bool v6 = probe >= 0 && bind(probe, (struct sockaddr *)&a6, sizeof a6) == 0;
    if (probe >= 0)
        close(probe);
    if (v6) {
        ASSERT_OK(faas_gateway_start(rt, "[::1]:0", NULL, &gw));
        assert_true(faas_gateway_port(gw) > 0);
        fd = socket(AF_INET6, SOCK_STREAM, 0);
        a6.sin6_port = htons((uint16_t)faas_gateway_port(gw));
        assert_int_equal(connect(fd, (struct sockaddr *)&a6, sizeof a6), 0);
        send_str(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_true(read_response(fd, buf, sizeof buf) > 0);
        assert_string_equal(body_of(buf), "ok\n");
        close(fd);
        faas_gateway_stop(gw);
    }
    faas_runtime_free(rt);
}

/* ---- the drain ------------------------------------------------------------------------------------ */

static gate entered = GATE_INIT, release = GATE_INIT;

static int parked(faas_ctx *ctx, const void *payload, size_t len)
{
    gate_open(&entered);
    gate_wait(&release);
    return faas_reply(ctx, payload, len);
}

typedef struct call_arg {
    int  port;
    char resp[4096];
    size_t n;
} call_arg;

static void *call_parked(void *p)
{
    call_arg *a = p;
    int fd = connect_to(a->port);
    send_str(fd, "POST /2015-03-31/functions/parked/invocations HTTP/1.1\r\nHost: x\r\n"
                 "Content-Length: 4\r\n\r\n\"in\"");
    a->n = read_response(fd, a->resp, sizeof a->resp);
    close(fd);
    return NULL;
}

static void *stop_gateway(void *p)
{
    faas_gateway_stop(p);
    return NULL;
}

static void stop_lets_a_call_in_progress_finish(void **state)
{
    (void)state;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, NULL));
    ASSERT_OK(faas_register(rt, "parked", parked, NULL));
    faas_gateway *gw;
    ASSERT_OK(faas_gateway_start(rt, "127.0.0.1:0", NULL, &gw));
    call_arg a = { .port = faas_gateway_port(gw) };
    pthread_t caller, stopper;
    assert_int_equal(pthread_create(&caller, NULL, call_parked, &a), 0);
    assert_int_equal(gate_wait_for(&entered, 30), 0);
    assert_int_equal(pthread_create(&stopper, NULL, stop_gateway, gw), 0);
    gate_open(&release);
    pthread_join(caller, NULL);
    pthread_join(stopper, NULL);
    assert_true(a.n > 0);
    assert_non_null(strstr(a.resp, "HTTP/1.1 200 OK\r\n"));
    assert_string_equal(body_of(a.resp), "\"in\"");
    faas_runtime_free(rt);
}

#else /* !HAVE_GATEWAY */

static void not_built_is_enotsup(void **state)
{
    (void)state;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, NULL));
    faas_gateway *gw = (void *)1;
    assert_int_equal(faas_gateway_start(rt, NULL, NULL, &gw), FAAS_ENOTSUP);
    assert_null(gw);
    assert_non_null(strstr(faas_last_error(), "libmicrohttpd"));
    assert_int_equal(faas_gateway_port(NULL), FAAS_ENOTSUP);
    faas_gateway_stop(NULL);
    faas_runtime_free(rt);
}

#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(list_and_describe),
#ifdef HAVE_GATEWAY
        cmocka_unit_test(start_errors),
        cmocka_unit_test_setup_teardown(exact_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(payloads_are_terminated_and_no_reply_is_null, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(slow_body_is_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(slow_headers_are_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(chunked_with_content_length_is_answered, setup,
                                        teardown),
        cmocka_unit_test(pool_model_and_ipv6),
        cmocka_unit_test(stop_lets_a_call_in_progress_finish),
#else
        cmocka_unit_test(not_built_is_enotsup),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
