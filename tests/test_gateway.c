/* test_gateway.c - the gateway through its public API and a raw socket: faas_list and
 * faas_describe, start-up errors, the exact bytes of a few answers, the body deadline on a
 * fake clock, the console's page and state, keep-alive and the pool thread model, IPv6,
 * the drain on stop; and FAAS_ENOTSUP in a build without libmicrohttpd. (Real AWS clients: tests/gateway/.) */
#include "config.h"

#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

static int echo(faas_ctx *ctx, const void *payload, size_t len)
{
    return faas_reply(ctx, payload, len);
}

#if FAAS_HAVE_GATEWAY     /* only the gateway's tests count calls */
/* How many calls of "count" ran: a request the gateway refuses must not move it. */
static atomic_int counted;

static int count(faas_ctx *ctx, const void *payload, size_t len)
{
    atomic_fetch_add(&counted, 1);
    return faas_reply(ctx, payload, len);
}
#endif

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

#if FAAS_HAVE_GATEWAY

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

/* req on a new connection to port; its response in buf, its status returned. */
static unsigned round_trip(int port, const char *req, char *buf, size_t size)
{
    int fd = connect_to(port);
    send_str(fd, req);
    assert_true(read_response(fd, buf, size) > 0);
    close(fd);
    unsigned status = 0;
    assert_int_equal(sscanf(buf, "HTTP/1.1 %u", &status), 1);
    return status;
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
    ASSERT_OK(faas_register(s->rt, "count", count, NULL));
    /* max_body 64 KiB: a refused body is read and discarded up to twice that. */
    faas_gateway_options go = { .body_timeout_ms = 1000, .header_timeout_ms = 1000,
                                .idle_timeout_ms = 120000, .token = "tok",
                                .region = "eu-west-3", .account = "123456789012",
                                .max_body = 65536 };
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
    send_str(fd, "POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Authorization: Bearer tok\r\nContent-Length: 5\r\n\r\n[1,2]");
    assert_true(read_response(fd, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(buf, "\r\nX-Amz-Executed-Version: $LATEST\r\n"));
    assert_non_null(strstr(buf, "\r\nx-amzn-RequestId: "));
    assert_string_equal(body_of(buf), "[1,2]");

    /* The same connection: an unknown function, in the region and account configured. */
    send_str(fd, "POST /2015-03-31/functions/other/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Authorization: Bearer tok\r\nContent-Length: 0\r\n\r\n");
    assert_true(read_response(fd, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 404 Not Found\r\n"));
    assert_non_null(strstr(buf, "\r\nx-amzn-ErrorType: ResourceNotFoundException\r\n"));
    assert_string_equal(body_of(buf), "{\"Type\":\"User\",\"Message\":\"Function not found: "
                        "arn:aws:lambda:eu-west-3:123456789012:function:other\"}");

    /* Tokens: the key id of a SigV4 header counts; a token one byte longer does not. */
    send_str(fd, "POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Authorization: AWS4-HMAC-SHA256 Credential=tok/20261126/us-east-1/lambda/"
                 "aws4_request, SignedHeaders=host, Signature=00\r\nContent-Length: 2\r\n\r\n"
                 "{}");
    assert_true(read_response(fd, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    send_str(fd, "GET /2015-03-31/functions/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Authorization: Bearer tokk\r\n\r\n");
    assert_true(read_response(fd, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 403 Forbidden\r\n"));
    send_str(fd, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer tok\r\n\r\n");
    assert_true(read_response(fd, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(buf, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    assert_non_null(strstr(body_of(buf), "faas_invocations_total{function=\"echo\",status=\"ok\"} 2"));
    send_str(fd, "HEAD /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    ssize_t r = recv(fd, buf, sizeof buf - 1, 0);
    assert_true(r > 0);
    buf[r] = '\0';
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    close(fd);
}

/* ---- a gateway without a token serves its own user only ---------------------------------- */

/* One runtime ("echo") and two gateways on loopback: open (no token) and tok ("tok"). */
typedef struct two_gateways {
    fake_clock    clock;
    faas_runtime *rt;
    faas_gateway *open, *tok;
} two_gateways;

static void two_start(two_gateways *t)
{
    faas_options o = manual_options(&t->clock);
    ASSERT_OK(faas_runtime_new(&t->rt, &o));
    ASSERT_OK(faas_register(t->rt, "echo", echo, NULL));
    ASSERT_OK(faas_gateway_start(t->rt, "127.0.0.1:0", NULL, &t->open));
    faas_gateway_options go = { .token = "tok" };
    ASSERT_OK(faas_gateway_start(t->rt, "127.0.0.1:0", &go, &t->tok));
}

static void two_stop(two_gateways *t)
{
    faas_gateway_stop(t->tok);
    faas_gateway_stop(t->open);
    faas_runtime_free(t->rt);
}

/* In a child run as uid/gid 65534 (nobody: a function's runtime or isolated instance of a
 * host run as root runs so): REQ to 127.0.0.1:port (from a socket bound to the device "lo"
 * when hide: any user may, and the kernel's lookup of such a socket must name the device),
 * whose response must start with want and hold has. Exit 0 if so, else a code saying which
 * step failed. Plain system calls only: the parent has threads. */
static int as_nobody(int port, const char *req, const char *want, const char *has, bool hide)
{
    pid_t kid = fork();
    assert_true(kid >= 0);
    if (kid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
            _exit(10);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        struct timeval tv = { 30, 0 };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (hide && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3) != 0)
            _exit(15);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
            _exit(11);
        if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))
            _exit(12);
        static char buf[8192];
        size_t n = 0;
        for (ssize_t r; n < sizeof buf - 1 && (r = recv(fd, buf + n, sizeof buf - 1 - n, 0)) > 0;)
            n += (size_t)r;
        buf[n] = '\0';
        if (strncmp(buf, want, strlen(want)) != 0)
            _exit(13);
        _exit(strstr(buf, has) != NULL ? 0 : 14);
    }
    int st = 0;
    assert_int_equal(waitpid(kid, &st, 0), kid);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

/* Without a token the gateway serves only processes of its own user and root: any local
 * process may connect to it, a function's runtime among them (nobody, on a host run as
 * root), which could otherwise run every function. The host's user is served; nobody is
 * refused 403 AccessDeniedException for the API and for invoking (GET /healthz and the
 * console's page stay open), also from a socket bound to "lo" (which a lookup without the
 * device did not find: it was served as another machine's client); with a token nobody is
 * served when it carries the token. Without the check nobody's invoke ran (exit 13: a
 * 200). */
static void tokenless_serves_its_own_user_only(void **state)
{
    (void)state;
    two_gateways t;
    two_start(&t);
    int open_port = faas_gateway_port(t.open), tok_port = faas_gateway_port(t.tok);
    static char buf[1 << 14];
    int fd = connect_to(open_port);     /* the host's own user */
    send_str(fd, "POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Content-Length: 2\r\n\r\n{}");
    assert_true(read_response(fd, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    close(fd);
    if (geteuid() != 0) {
        two_stop(&t);
        skip();                         /* another user's client needs root to be made */
    }
    const char *invoke = "POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\n"
                         "Host: 127.0.0.1\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}";
    const char *list = "GET /2015-03-31/functions/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "Connection: close\r\n\r\n";
    assert_int_equal(as_nobody(open_port, invoke, "HTTP/1.1 403 ",
                               "AccessDeniedException", false), 0);
    assert_int_equal(as_nobody(open_port, invoke, "HTTP/1.1 403 ",   /* hidden: the same */
                               "AccessDeniedException", true), 0);
    assert_int_equal(as_nobody(open_port, list, "HTTP/1.1 403 ", "its own user (uid 0)",
                               false), 0);
    assert_int_equal(as_nobody(open_port, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                               "Connection: close\r\n\r\n", "HTTP/1.1 200 ", "ok", false), 0);
    assert_int_equal(as_nobody(tok_port, invoke, "HTTP/1.1 401 ", "MissingAuthentication",
                               false), 0);
    assert_int_equal(as_nobody(tok_port, "POST /2015-03-31/functions/echo/invocations "
                               "HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer tok\r\n"
                               "Connection: close\r\nContent-Length: 2\r\n\r\n{}",
                               "HTTP/1.1 200 ", "{}", false), 0);
    faas_stats st;
    ASSERT_OK(faas_stats_get(t.rt, "echo", &st));
    assert_int_equal(st.invocations, 2);      /* the host's and the one with the token */
    two_stop(&t);
}

/* REQ (a format with one %d, the port, for its Host or Origin) to 127.0.0.1:port on a new
 * connection; the status. */
static unsigned status_of(int port, const char *fmt, char *buf, size_t size)
{
    char req[1024];
    snprintf(req, sizeof req, fmt, port);
    return round_trip(port, req, buf, size);
}

/* A gateway without a token serves its own user's processes, and a browser the user runs is
 * one: a page of any site could make it call the gateway (a simple POST needs no
 * preflight) or, resolving its own name to 127.0.0.1, read the answers. So without a token
 * a request a browser marks as another site's (Sec-Fetch-Site), whose Origin is not the
 * gateway's own, or (on loopback) sent to a name that is not a loopback one, is refused
 * 403; the gateway's own page (same origin), curl and the SDKs (no Origin) are served, and
 * so is everything with a token. Without the checks each of the three ran the function. */
static void tokenless_refuses_web_pages_of_other_sites(void **state)
{
    (void)state;
    two_gateways t;
    two_start(&t);
    int op = faas_gateway_port(t.open), tp = faas_gateway_port(t.tok);
    static char buf[1 << 18];           /* the console's page is some 40 KB */
#define INV "POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\n"
#define END "Content-Length: 2\r\nConnection: close\r\n\r\n{}"
    /* a form or no-cors fetch from another site */
    assert_int_equal(status_of(op, INV "Host: 127.0.0.1:%d\r\nOrigin: http://evil.example\r\n"
                               END, buf, sizeof buf), 403);
    assert_non_null(strstr(buf, "its Origin header"));
    assert_int_equal(status_of(op, INV "Host: 127.0.0.1:%d\r\nSec-Fetch-Site: cross-site\r\n"
                               END, buf, sizeof buf), 403);
    /* DNS rebinding: same origin to the browser, another name to the gateway */
    assert_int_equal(status_of(op, INV "Host: evil.example:%d\r\n"
                               "Origin: http://evil.example:9999\r\n" END, buf, sizeof buf),
                     403);
    assert_int_equal(status_of(op, "GET /2015-03-31/functions/ HTTP/1.1\r\n"
                               "Host: rebound.example:%d\r\nConnection: close\r\n\r\n",
                               buf, sizeof buf), 403);
    assert_non_null(strstr(buf, "its Host header"));
    /* the gateway's own page, curl, localhost, [::1] */
    char fmt[256];
    snprintf(fmt, sizeof fmt, INV "Host: 127.0.0.1:%%d\r\nOrigin: http://127.0.0.1:%d\r\n"
             "Sec-Fetch-Site: same-origin\r\n" END, op);
    assert_int_equal(status_of(op, fmt, buf, sizeof buf), 200);
    assert_int_equal(status_of(op, INV "Host: localhost:%d\r\n" END, buf, sizeof buf), 200);
    assert_int_equal(status_of(op, INV "Host: [::1]:%d\r\n" END, buf, sizeof buf), 200);
    /* the console's page itself stays open; a token gateway is not concerned */
    assert_int_equal(status_of(op, "GET /console HTTP/1.1\r\nHost: evil.example:%d\r\n"
                               "Connection: close\r\n\r\n", buf, sizeof buf), 200);
    assert_int_equal(status_of(tp, INV "Host: evil.example:%d\r\nAuthorization: Bearer tok"
                               "\r\nOrigin: http://evil.example\r\n" END, buf, sizeof buf),
                     200);
#undef INV
#undef END
    two_stop(&t);
}

/* ---- versions and aliases: Invoke's Qualifier and the control-plane routes ------------------ */

/* METHOD TARGET (with BODY unless NULL, and EXTRA headers) on a new connection with the
 * fixture's token; the whole response in buf, the status returned. */
static unsigned http(server *s, const char *method, const char *target, const char *body,
                     const char *extra, char *buf, size_t size)
{
    char *req;
    assert_true(asprintf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         "Authorization: Bearer tok\r\n%sContent-Length: %zu\r\n\r\n%s",
                         method, target, extra ? extra : "", body ? strlen(body) : 0,
                         body ? body : "") > 0);
    unsigned status = round_trip(s->port, req, buf, size);
    free(req);
    return status;
}

/* The value of response header NAME (the exact spelling the gateway sends), or "". */
static const char *header_value(const char *resp, const char *name, char *out, size_t size)
{
    char key[128];
    snprintf(key, sizeof key, "\r\n%s: ", name);
    const char *h = strstr(resp, key), *end = strstr(resp, "\r\n\r\n");
    out[0] = '\0';
    if (h != NULL && h < end) {
        h += strlen(key);
        size_t n = strcspn(h, "\r");
        snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), h);
    }
    return out;
}

static json_t *body_json(const char *resp)
{
    json_error_t e;
    json_t *o = json_loads(body_of(resp), 0, &e);
    if (o == NULL)
        fail_msg("not JSON: %s: %s", e.text, body_of(resp));
    return o;
}

static const char *member(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "(none)";
}

/* An error answer: STATUS, x-amzn-ErrorType TYPE and (when not NULL) the message. */
static void expect_error(const char *resp, unsigned got, unsigned status, const char *type,
                         const char *message)
{
    char v[128];
    if (got != status)
        fail_msg("%u instead of %u: %s", got, status, resp);
    assert_string_equal(header_value(resp, "x-amzn-ErrorType", v, sizeof v), type);
    if (message != NULL) {
        json_t *o = body_json(resp);
        const char *m = json_string_value(json_object_get(o, "message"));
        if (m == NULL)
            m = member(o, "Message");
        assert_string_equal(m, message);
        json_decref(o);
    }
}

/* Invoke m with QUALIFIED_TARGET: 200 and the version that ran. */
static void expect_ran(server *s, const char *target, const char *version)
{
    static char buf[1 << 16];
    unsigned st = http(s, "POST", target, "{}", NULL, buf, sizeof buf);
    if (st != 200)
        fail_msg("%s: %u: %s", target, st, buf);
    char v[32];
    assert_string_equal(header_value(buf, "X-Amz-Executed-Version", v, sizeof v), version);
}

/* m: a module in a scratch file, its bytes changed by appending SUFFIX (NULL: none). */
static void write_module(const char *path, const char *suffix)
{
    FILE *in = fopen(test_module("mod_basic.so"), "rb"), *out = fopen(path, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char b[65536];
    size_t n;
    while ((n = fread(b, 1, sizeof b, in)) > 0)
        assert_int_equal(fwrite(b, 1, n, out), n);
    if (suffix != NULL)
        fputs(suffix, out);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

static int b64val(char c)
{
    const char *abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(abc, c) : NULL;
    return p ? (int)(p - abc) : -1;
}

/* Decode base64 text into out (NUL-terminated). */
static void b64decode(const char *in, char *out, size_t size)
{
    size_t j = 0;
    unsigned acc = 0;
    int bits = 0;
    for (; *in && j + 1 < size; in++) {
        int v = b64val(*in);
        if (v < 0)
            continue;
        acc = acc << 6 | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[j++] = (char)(acc >> bits & 0xff);
        }
    }
    out[j] = '\0';
}

/* Publish through the gateway: 201 and the version's number. */
static void expect_published(server *s, const char *body, const char *version,
                             const char *description)
{
    static char buf[1 << 16];
    unsigned st = http(s, "POST", "/2015-03-31/functions/m/versions", body, NULL, buf,
                       sizeof buf);
    if (st != 201)
        fail_msg("publish: %u: %s", st, buf);
    json_t *o = body_json(buf);
    assert_string_equal(member(o, "Version"), version);
    assert_string_equal(member(o, "FunctionName"), "m");
    char arn[128];
    snprintf(arn, sizeof arn, "arn:aws:lambda:eu-west-3:123456789012:function:m:%s", version);
    assert_string_equal(member(o, "FunctionArn"), arn);
    assert_int_equal(strlen(member(o, "CodeSha256")), 44);
    assert_string_equal(member(o, "Description"), description);
    json_decref(o);
}

/* m, a module in a scratch directory (dir), published through the gateway with BODY1
 * (description DESC1), then with other bytes and no body: versions 1 and 2. */
static void two_versions(server *s, char dir[4096], const char *body1, const char *desc1)
{
    char path[4200];
    assert_non_null(temp_dir(dir, 4096, "faas-gw-versions"));
    snprintf(path, sizeof path, "%s/m.so", dir);
    write_module(path, NULL);
    ASSERT_OK(faas_register_module(s->rt, "m", path, "echo", NULL));
    expect_published(s, body1, "1", desc1);
    write_module(path, "\nv2");
    expect_published(s, "", "2", "libfaas module function: echo"); /* no body: {} */
}

static void invoke_with_qualifiers(void **state)
{
    server *s = *state;
    static char buf[1 << 16];
    char dir[4096];
    two_versions(s, dir, "{\"Description\":\"one\"}", "one");
    expect_published(s, "{\"Description\":\"same\"}", "2",
                     "libfaas module function: echo");       /* nothing changed */

    expect_ran(s, "/2015-03-31/functions/m/invocations", "$LATEST");
    expect_ran(s, "/2015-03-31/functions/m/invocations?Qualifier=1", "1");
    expect_ran(s, "/2015-03-31/functions/m:2/invocations", "2");
    expect_ran(s, "/2015-03-31/functions/m%3A1/invocations?Qualifier=1", "1");
    expect_ran(s, "/2015-03-31/functions/m:$LATEST/invocations", "$LATEST");
    expect_ran(s, "/2015-03-31/functions/m/invocations?Qualifier=%24LATEST", "$LATEST");
    expect_ran(s, "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-3%3A123456789012%3A"
                  "function%3Am%3A2/invocations", "2");

    /* Both given and different: Lambda's 400. */
    unsigned st = http(s, "POST", "/2015-03-31/functions/m:1/invocations?Qualifier=2", "{}",
                       NULL, buf, sizeof buf);
    expect_error(buf, st, 400, "InvalidParameterValueException", "The derived qualifier from "
                 "the function name does not match the specified qualifier.");
    /* A version or an alias that does not exist: 404 with its qualified ARN. */
    st = http(s, "POST", "/2015-03-31/functions/m/invocations?Qualifier=9", "{}", NULL, buf,
              sizeof buf);
    expect_error(buf, st, 404, "ResourceNotFoundException",
                 "Function not found: arn:aws:lambda:eu-west-3:123456789012:function:m:9");
    st = http(s, "POST", "/2015-03-31/functions/m:prod/invocations", "{}", NULL, buf,
              sizeof buf);
    expect_error(buf, st, 404, "ResourceNotFoundException",
                 "Function not found: arn:aws:lambda:eu-west-3:123456789012:function:m:prod");
    st = http(s, "POST", "/2015-03-31/functions/m/invocations?Qualifier=nope", "{}",
              "X-Amz-Invocation-Type: DryRun\r\n", buf, sizeof buf);
    expect_error(buf, st, 404, "ResourceNotFoundException", NULL);
    st = http(s, "POST", "/2015-03-31/functions/m/invocations?Qualifier=1", "{}",
              "X-Amz-Invocation-Type: DryRun\r\n", buf, sizeof buf);
    assert_int_equal(st, 204);

    /* The Tail log's START line and the record say the version that ran. */
    st = http(s, "POST", "/2015-03-31/functions/m/invocations?Qualifier=2", "{}",
              "X-Amz-Log-Type: Tail\r\n", buf, sizeof buf);
    assert_int_equal(st, 200);
    char b64[8192], log[8192];
    header_value(buf, "X-Amz-Log-Result", b64, sizeof b64);
    b64decode(b64, log, sizeof log);
    if (strstr(log, " Version: 2\n") == NULL)
        fail_msg("no version 2 in the Tail log: %s", log);

    /* GetFunctionConfiguration of a version: its number, hash and description. */
    st = http(s, "GET", "/2015-03-31/functions/m/configuration?Qualifier=1", NULL, NULL, buf,
              sizeof buf);
    assert_int_equal(st, 200);
    json_t *o = body_json(buf);
    assert_string_equal(member(o, "Version"), "1");
    assert_string_equal(member(o, "Description"), "one");
    assert_int_equal(strlen(member(o, "CodeSha256")), 44);
    json_decref(o);
    st = http(s, "GET", "/2015-03-31/functions/m?Qualifier=7", NULL, NULL, buf, sizeof buf);
    expect_error(buf, st, 404, "ResourceNotFoundException", NULL);

    /* ListVersionsByFunction: $LATEST then 1 and 2, in pages. */
    st = http(s, "GET", "/2015-03-31/functions/m/versions", NULL, NULL, buf, sizeof buf);
    assert_int_equal(st, 200);
    o = body_json(buf);
    json_t *vs = json_object_get(o, "Versions");
    assert_int_equal(json_array_size(vs), 3);
    assert_string_equal(member(json_array_get(vs, 0), "Version"), "$LATEST");
    assert_string_equal(member(json_array_get(vs, 1), "Version"), "1");
    assert_string_equal(member(json_array_get(vs, 2), "Version"), "2");
    assert_true(json_is_null(json_object_get(o, "NextMarker")));
    json_decref(o);
    st = http(s, "GET", "/2015-03-31/functions/m/versions?MaxItems=2", NULL, NULL, buf,
              sizeof buf);
    o = body_json(buf);
    assert_int_equal(json_array_size(json_object_get(o, "Versions")), 2);
    assert_string_equal(member(o, "NextMarker"), "1");
    json_decref(o);
    st = http(s, "GET", "/2015-03-31/functions/m/versions?Marker=1&MaxItems=2", NULL, NULL,
              buf, sizeof buf);
    o = body_json(buf);
    vs = json_object_get(o, "Versions");
    assert_int_equal(json_array_size(vs), 1);
    assert_string_equal(member(json_array_get(vs, 0), "Version"), "2");
    json_decref(o);
    st = http(s, "GET", "/2015-03-31/functions/nope/versions", NULL, NULL, buf, sizeof buf);
    expect_error(buf, st, 404, "ResourceNotFoundException",
                 "Function not found: arn:aws:lambda:eu-west-3:123456789012:function:nope");
    /* An FFI-less host function publishes too; an unknown one is 404. */
    st = http(s, "POST", "/2015-03-31/functions/nope/versions", "{}", NULL, buf, sizeof buf);
    expect_error(buf, st, 404, "ResourceNotFoundException", NULL);
    st = http(s, "POST", "/2015-03-31/functions/m/versions", "{\"Description\":", NULL, buf,
              sizeof buf);
    expect_error(buf, st, 400, "InvalidRequestContentException", NULL);
    st = http(s, "POST", "/2015-03-31/functions/m:1/versions", "{}", NULL, buf, sizeof buf);
    expect_error(buf, st, 400, "InvalidParameterValueException", NULL);
    /* UpdateFunctionCode of a version: only $LATEST has code to update. */
    st = http(s, "PUT", "/2015-03-31/functions/m:1/code", "{}", NULL, buf, sizeof buf);
    expect_error(buf, st, 400, "InvalidParameterValueException", NULL);
    /* The token rules are the other routes'. */
    int fd = connect_to(s->port);
    send_str(fd, "POST /2015-03-31/functions/m/versions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Content-Length: 2\r\n\r\n{}");
    assert_true(read_response(fd, buf, sizeof buf) > 0);
    close(fd);
    assert_non_null(strstr(buf, "HTTP/1.1 401 "));

    ASSERT_OK(faas_unregister(s->rt, "m"));
    remove_tree(dir);
}

/* CreateAlias, GetAlias, UpdateAlias with RoutingConfig, ListAliases, DeleteAlias, and
 * the calls through the alias. */
static void alias_routes(void **state)
{
    server *s = *state;
    static char buf[1 << 16];
    char dir[4096];
    two_versions(s, dir, "{}", "libfaas module function: echo");
    const char *aliases = "/2015-03-31/functions/m/aliases";

    unsigned st = http(s, "POST", aliases, "{\"Name\":\"prod\",\"FunctionVersion\":\"1\","
                       "\"Description\":\"d\"}", NULL, buf, sizeof buf);
    assert_int_equal(st, 201);
    assert_string_equal(body_of(buf), "{\"AliasArn\":\"arn:aws:lambda:eu-west-3:123456789012:"
                        "function:m:prod\",\"Name\":\"prod\",\"FunctionVersion\":\"1\","
                        "\"Description\":\"\",\"RevisionId\":\"1\"}");
    expect_ran(s, "/2015-03-31/functions/m:prod/invocations", "1");
    expect_ran(s, "/2015-03-31/functions/m/invocations?Qualifier=prod", "1");
    st = http(s, "POST", aliases, "{\"Name\":\"prod\",\"FunctionVersion\":\"2\"}", NULL, buf,
              sizeof buf);
    expect_error(buf, st, 409, "ResourceConflictException", "Alias already exists: "
                 "arn:aws:lambda:eu-west-3:123456789012:function:m:prod");

    /* Weighted: all of the calls to version 2 at weight 1, none at 0. */
    st = http(s, "PUT", "/2015-03-31/functions/m/aliases/prod", "{\"RoutingConfig\":"
              "{\"AdditionalVersionWeights\":{\"2\":1.0}},\"RevisionId\":\"1\"}", NULL, buf,
              sizeof buf);
    assert_int_equal(st, 200);
    json_t *o = body_json(buf);
    assert_string_equal(member(o, "FunctionVersion"), "1");
    assert_string_equal(member(o, "RevisionId"), "2");
    json_t *w = json_object_get(json_object_get(o, "RoutingConfig"),
                                "AdditionalVersionWeights");
    assert_true(json_number_value(json_object_get(w, "2")) == 1.0);
    json_decref(o);
    for (int i = 0; i < 5; i++)
        expect_ran(s, "/2015-03-31/functions/m:prod/invocations", "2");
    st = http(s, "PUT", "/2015-03-31/functions/m/aliases/prod", "{\"RoutingConfig\":"
              "{\"AdditionalVersionWeights\":{\"2\":0}}}", NULL, buf, sizeof buf);
    assert_int_equal(st, 200);
    for (int i = 0; i < 5; i++)
        expect_ran(s, "/2015-03-31/functions/m:prod/invocations", "1");
    /* A stale RevisionId: 412, nothing changed. */
    st = http(s, "PUT", "/2015-03-31/functions/m/aliases/prod", "{\"FunctionVersion\":\"2\","
              "\"RevisionId\":\"1\"}", NULL, buf, sizeof buf);
    expect_error(buf, st, 412, "PreconditionFailedException", NULL);
    faas_alias_info ai;
    ASSERT_OK(faas_alias_get(s->rt, "m", "prod", &ai));
    assert_int_equal(ai.version, 1);
    assert_int_equal(ai.extra_version, 2);
    assert_int_equal(ai.revision, 3);
    /* An empty RoutingConfig ends the split; FunctionVersion alone keeps the rest. */
    st = http(s, "PUT", "/2015-03-31/functions/m/aliases/prod", "{\"RoutingConfig\":{}}",
              NULL, buf, sizeof buf);
    assert_int_equal(st, 200);
    o = body_json(buf);
    assert_null(json_object_get(o, "RoutingConfig"));
    json_decref(o);
    st = http(s, "PUT", "/2015-03-31/functions/m/aliases/prod", "{\"FunctionVersion\":\"2\"}",
              NULL, buf, sizeof buf);
    assert_int_equal(st, 200);
    expect_ran(s, "/2015-03-31/functions/m:prod/invocations", "2");

    /* The service's errors. */
    struct { const char *body; unsigned status; const char *type, *message; } bad[] = {
        { "{\"Name\":\"123\",\"FunctionVersion\":\"1\"}", 400, "ValidationException", NULL },
        { "{\"Name\":\"a.b\",\"FunctionVersion\":\"1\"}", 400, "ValidationException", NULL },
        { "{\"Name\":\"x\",\"FunctionVersion\":\"one\"}", 400, "ValidationException", NULL },
        { "{\"Name\":\"x\"}", 400, "InvalidParameterValueException",
          "FunctionVersion is required" },
        { "{\"Name\":\"x\",\"FunctionVersion\":\"1\",\"RoutingConfig\":"
          "{\"AdditionalVersionWeights\":{\"2\":1.5}}}", 400, "ValidationException", NULL },
        { "{\"Name\":\"x\",\"FunctionVersion\":\"1\",\"RoutingConfig\":"
          "{\"AdditionalVersionWeights\":{\"2\":-0.1}}}", 400, "ValidationException", NULL },
        { "{\"Name\":\"x\",\"FunctionVersion\":\"1\",\"RoutingConfig\":"
          "{\"AdditionalVersionWeights\":{\"$LATEST\":0.5}}}", 400, "ValidationException",
          NULL },
        { "{\"Name\":\"x\",\"FunctionVersion\":\"1\",\"RoutingConfig\":"
          "{\"AdditionalVersionWeights\":{\"2\":0.1,\"3\":0.1}}}", 400,
          "InvalidParameterValueException",
          "Number of items in AdditionalVersionWeights cannot be greater than 1" },
        { "{\"Name\":\"x\",\"FunctionVersion\":\"$LATEST\",\"RoutingConfig\":"
          "{\"AdditionalVersionWeights\":{\"2\":0.1}}}", 400,
          "InvalidParameterValueException",
          "$LATEST is not supported for an alias pointing to more than 1 version" },
        { "{\"Name\":\"x\",\"FunctionVersion\":\"2\",\"RoutingConfig\":"
          "{\"AdditionalVersionWeights\":{\"2\":0.1}}}", 400,
          "InvalidParameterValueException", "Invalid function version 2. Function version 2 "
          "is already included in routing configuration." },
        { "{\"Name\":\"x\",\"FunctionVersion\":\"9\"}", 404, "ResourceNotFoundException",
          "Function not found: arn:aws:lambda:eu-west-3:123456789012:function:m:9" },
        { "{\"Name\":\"x\",\"FunctionVersion\":\"1\",\"RoutingConfig\":"
          "{\"AdditionalVersionWeights\":{\"3\":0.1}}}", 404, "ResourceNotFoundException",
          "Function not found: arn:aws:lambda:eu-west-3:123456789012:function:m:3" },
        { "[1]", 400, "InvalidRequestContentException", NULL },
        { "{\"Name\":7,\"FunctionVersion\":\"1\"}", 400, "InvalidParameterValueException",
          NULL },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        st = http(s, "POST", aliases, bad[i].body, NULL, buf, sizeof buf);
        expect_error(buf, st, bad[i].status, bad[i].type, bad[i].message);
    }
    int rc = faas_alias_get(s->rt, "m", "x", &ai);
    assert_int_equal(rc, FAAS_ENOTFOUND);           /* none of them made it */
    st = http(s, "POST", "/2015-03-31/functions/nope/aliases", "{\"Name\":\"x\","
              "\"FunctionVersion\":\"1\"}", NULL, buf, sizeof buf);
    expect_error(buf, st, 404, "ResourceNotFoundException", NULL);
    st = http(s, "GET", "/2015-03-31/functions/m/aliases/none", NULL, NULL, buf, sizeof buf);
    expect_error(buf, st, 404, "ResourceNotFoundException", "Cannot find alias arn: "
                 "arn:aws:lambda:eu-west-3:123456789012:function:m:none");
    st = http(s, "PUT", "/2015-03-31/functions/m/aliases/none", "{}", NULL, buf, sizeof buf);
    expect_error(buf, st, 404, "ResourceNotFoundException", NULL);
    st = http(s, "GET", "/2015-03-31/functions/m/aliases/12", NULL, NULL, buf, sizeof buf);
    expect_error(buf, st, 400, "ValidationException", NULL);

    /* ListAliases: oldest first, by version, in pages; GetAlias. */
    st = http(s, "POST", aliases, "{\"Name\":\"beta\",\"FunctionVersion\":\"$LATEST\"}", NULL,
              buf, sizeof buf);
    assert_int_equal(st, 201);
    st = http(s, "GET", aliases, NULL, NULL, buf, sizeof buf);
    assert_int_equal(st, 200);
    o = body_json(buf);
    json_t *as = json_object_get(o, "Aliases");
    assert_int_equal(json_array_size(as), 2);
    assert_string_equal(member(json_array_get(as, 0), "Name"), "prod");
    assert_string_equal(member(json_array_get(as, 1), "Name"), "beta");
    assert_string_equal(member(json_array_get(as, 1), "FunctionVersion"), "$LATEST");
    json_decref(o);
    st = http(s, "GET", "/2015-03-31/functions/m/aliases?FunctionVersion=%24LATEST", NULL,
              NULL, buf, sizeof buf);
    o = body_json(buf);
    assert_int_equal(json_array_size(json_object_get(o, "Aliases")), 1);
    json_decref(o);
    st = http(s, "GET", "/2015-03-31/functions/m/aliases?MaxItems=1", NULL, NULL, buf,
              sizeof buf);
    o = body_json(buf);
    assert_int_equal(json_array_size(json_object_get(o, "Aliases")), 1);
    assert_string_equal(member(o, "NextMarker"), "prod");
    json_decref(o);
    st = http(s, "GET", "/2015-03-31/functions/m/aliases/beta", NULL, NULL, buf, sizeof buf);
    assert_int_equal(st, 200);
    o = body_json(buf);
    assert_string_equal(member(o, "AliasArn"),
                        "arn:aws:lambda:eu-west-3:123456789012:function:m:beta");
    json_decref(o);
    char **names;
    size_t n;
    ASSERT_OK(faas_aliases_list(s->rt, "m", &names, &n));
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "prod");
    assert_string_equal(names[1], "beta");
    assert_null(names[2]);
    faas_free(names);
    assert_int_equal(faas_aliases_list(s->rt, "m", NULL, &n), FAAS_EINVAL);
    assert_int_equal(faas_aliases_list(NULL, "m", &names, &n), FAAS_EINVAL);
    assert_int_equal(faas_aliases_list(s->rt, "nope", &names, &n), FAAS_ENOTFOUND);
    assert_null(names);
    assert_int_equal(n, 0);

    /* DeleteAlias: 204, twice; the alias is then not found. */
    st = http(s, "DELETE", "/2015-03-31/functions/m/aliases/prod", NULL, NULL, buf,
              sizeof buf);
    assert_int_equal(st, 204);
    st = http(s, "DELETE", "/2015-03-31/functions/m/aliases/prod", NULL, NULL, buf,
              sizeof buf);
    assert_int_equal(st, 204);
    st = http(s, "POST", "/2015-03-31/functions/m:prod/invocations", "{}", NULL, buf,
              sizeof buf);
    expect_error(buf, st, 404, "ResourceNotFoundException", NULL);
    st = http(s, "DELETE", "/2015-03-31/functions/nope/aliases/prod", NULL, NULL, buf,
              sizeof buf);
    expect_error(buf, st, 404, "ResourceNotFoundException", NULL);
    ASSERT_OK(faas_aliases_list(s->rt, "m", &names, &n));
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "beta");
    faas_free(names);

    ASSERT_OK(faas_unregister(s->rt, "m"));
    remove_tree(dir);
}

/* ---- the console: its page and the state it polls ----------------------------------------- */

/* GET /console/api/WHAT through the socket, parsed; the status line in *status. */
static json_t *console_get(server *s, const char *what, const char *auth, unsigned *status)
{
    static char buf[1 << 18];
    char req[256];
    int fd = connect_to(s->port);
    snprintf(req, sizeof req, "GET /console/api/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", what,
             auth);
    send_str(fd, req);
    assert_true(read_response(fd, buf, sizeof buf) > 0);
    close(fd);
    assert_int_equal(sscanf(buf, "HTTP/1.1 %u", status), 1);
    if (*status != 200)
        return NULL;
    assert_non_null(strstr(buf, "\r\nContent-Type: application/json\r\n"));
    json_error_t e;
    json_t *o = json_loads(body_of(buf), 0, &e);
    if (o == NULL)
        fail_msg("%s is not JSON: %s: %s", what, e.text, body_of(buf));
    return o;
}

static json_t *console_state(server *s, const char *auth, unsigned *status)
{
    return console_get(s, "state", auth, status);
}

static json_t *by_name(json_t *array, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(array, i, v) {
        const char *s = json_string_value(json_object_get(v, "name"));  /* null: untagged */
        if (s != NULL && strcmp(s, name) == 0)
            return v;
    }
    fail_msg("no %s in the state", name);
    return NULL;
}

static void console_state_and_page(void **state)
{
    server *s = *state;
    unsigned status;
    /* The state is the API's: a token is needed, the wrong one is refused. */
    assert_null(console_state(s, "", &status));
    assert_int_equal(status, 401);
    assert_null(console_state(s, "Authorization: Bearer tokk\r\n", &status));
    assert_int_equal(status, 403);

    faas_response res;
    ASSERT_OK(faas_invoke(s->rt, "echo", "1", 1, &res));
    faas_response_free(&res);
    ASSERT_OK(faas_invoke(s->rt, "echo", "2", 1, &res));
    faas_response_free(&res);
    json_t *o = console_state(s, "Authorization: Bearer tok\r\n", &status);
    assert_int_equal(status, 200);
    /* The registrations (faas_list), sorted by name. */
    json_t *fns = json_object_get(o, "functions");
    assert_int_equal(json_array_size(fns), 2);
    json_t *count_fn = json_array_get(fns, 0), *echo_fn = json_array_get(fns, 1);
    assert_string_equal(json_string_value(json_object_get(count_fn, "name")), "count");
    assert_string_equal(json_string_value(json_object_get(echo_fn, "name")), "echo");
    assert_string_equal(json_string_value(json_object_get(echo_fn, "kind")), "host");
    json_t *cfg = json_object_get(echo_fn, "config");
    assert_int_equal(json_integer_value(json_object_get(cfg, "memory_mb")), 128);
    assert_int_equal(json_integer_value(json_object_get(cfg, "timeout_ms")), 3000);
    assert_true(json_is_null(json_object_get(cfg, "tag")));
    /* The counters are faas_metrics_json()'s document, whole. */
    json_t *m = json_object_get(o, "metrics");
    char *text;
    ASSERT_OK(faas_metrics_json(s->rt, &text, NULL));
    json_t *direct = json_loads(text, 0, NULL);
    faas_free(text);
    assert_non_null(direct);
    json_object_del(direct, "time");    /* the only field that moves between the two */
    json_object_del(m, "time");
    assert_true(json_equal(m, direct));
    json_decref(direct);
    json_t *echo_m = by_name(json_object_get(m, "functions"), "echo");
    assert_int_equal(json_integer_value(json_object_get(echo_m, "invocations")), 2);
    assert_int_equal(json_integer_value(json_object_get(echo_m, "cold_starts")), 1);
    json_t *inst = json_object_get(echo_m, "instances");
    assert_int_equal(json_integer_value(json_object_get(inst, "live")), 1);
    assert_int_equal(json_integer_value(json_object_get(inst, "busy")), 0);
    json_decref(o);
    /* Reading the state runs nothing. */
    int before = atomic_load(&counted);
    assert_null(console_state(s, "", &status));
    o = console_state(s, "Authorization: Bearer tok\r\n", &status);
    json_decref(o);
    assert_int_equal(atomic_load(&counted), before);

    /* The page needs no token (it holds no data; its token stays in the fragment), and
     * fetches nothing: no src or href, and a policy that would block it anyway. */
    static char buf[1 << 16];
    int fd = connect_to(s->port);
    send_str(fd, "GET /console HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert_true(read_response(fd, buf, sizeof buf) > 0);
    close(fd);
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(buf, "\r\nContent-Type: text/html; charset=utf-8\r\n"));
    assert_non_null(strstr(buf, "\r\nContent-Security-Policy: default-src 'none';"));
    const char *page = body_of(buf);
    assert_int_equal(strncmp(page, "<!DOCTYPE html>", 15), 0);
    assert_non_null(strstr(page, "fetch(\"console/api/state\""));
    assert_non_null(strstr(page, "</html>\n"));
    assert_null(strstr(page, "src="));
    assert_null(strstr(page, "href="));
    assert_null(strstr(page, "<link"));
}

/* The records a user's hook saw, their strings copied. */
typedef struct seen {
    faas_record recs[16];
    size_t      n;
} seen;

static void keep_record(const faas_record *rec, void *arg)
{
    seen *v = arg;
    if (v->n < 16) {
        v->recs[v->n] = *rec;
        v->recs[v->n].function = strdup(rec->function);
        v->recs[v->n].tag = rec->tag ? strdup(rec->tag) : NULL;
        v->n++;
    }
}

static uint64_t picousd_of(json_t *o)
{
    return (uint64_t)json_integer_value(json_object_get(o, "total_picousd"));
}

static void console_cost_and_instances(void **state)
{
    server *s = *state;
    unsigned status;
    assert_null(console_get(s, "cost", "", &status));
    assert_int_equal(status, 401);
    const char *auth = "Authorization: Bearer tok\r\n";

    /* The user's record hook still sees every record while the gateway keeps them. */
    seen v = { .n = 0 };
    faas_on_record(s->rt, keep_record, &v);
    faas_config cfg;
    faas_config_init(&cfg);
    cfg.tag = "team-a";
    cfg.memory_mb = 512;
    ASSERT_OK(faas_register(s->rt, "tagged", echo, &cfg));
    ASSERT_OK(faas_budget_set(s->rt, "team-a", 1000000000u, 3600000u));   /* $0.001 an hour */
    faas_response res;
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(faas_invoke(s->rt, "echo", "{}", 2, &res));
        faas_response_free(&res);
    }
    for (int i = 0; i < 2; i++) {
        ASSERT_OK(faas_invoke(s->rt, "tagged", "{}", 2, &res));
        faas_response_free(&res);
    }
    assert_int_equal(v.n, 5);
    fake_advance(&s->clock, MS(10000));

    json_t *o = console_get(s, "cost", auth, &status);
    assert_int_equal(status, 200);
    assert_int_equal(json_integer_value(json_object_get(o, "uptime_ms")), 10000);
    assert_string_equal(json_string_value(json_object_get(o, "model")), "aws-lambda-x86");
    /* Spent: faas_cost_totals(), per function and per tag. */
    faas_cost_row *rows;
    size_t n;
    ASSERT_OK(faas_cost_totals(s->rt, FAAS_COST_FUNCTION, &rows, &n));
    json_t *sp = json_object_get(json_object_get(o, "spent"), "functions");
    assert_int_equal(json_array_size(sp), n);
    for (size_t i = 0; i < n; i++) {
        json_t *f = by_name(sp, rows[i].name);
        assert_int_equal(json_integer_value(json_object_get(f, "calls")), rows[i].calls);
        assert_int_equal(picousd_of(f), rows[i].total_picousd);
    }
    faas_free(rows);
    json_t *tags = json_object_get(json_object_get(o, "spent"), "tags");
    json_t *team = by_name(tags, "team-a");
    assert_int_equal(json_integer_value(json_object_get(team, "calls")), 2);
    /* The budget, as faas_budget_get() has it. */
    json_t *bud = json_object_get(o, "budgets");
    assert_int_equal(json_array_size(bud), 1);
    json_t *b = json_array_get(bud, 0);
    faas_budget fb;
    ASSERT_OK(faas_budget_get(s->rt, "team-a", &fb));
    assert_string_equal(json_string_value(json_object_get(b, "tag")), "team-a");
    assert_int_equal(json_integer_value(json_object_get(b, "limit_picousd")), 1000000000);
    assert_int_equal(json_integer_value(json_object_get(b, "spent_picousd")), fb.spent_picousd);
    assert_true(fb.spent_picousd > 0);
    assert_int_equal(json_integer_value(json_object_get(b, "window_ms")), 3600000);
    assert_int_equal(json_integer_value(json_object_get(b, "window_left_ms")), 3590000);
    assert_string_equal(json_string_value(json_object_get(b, "limit_usd")), "$0.001");

    json_decref(o);

    /* The projection: 5 calls in 10 s is 1,296,000 a month of 30 days, priced on every
     * preset by faas_cost_compare() from the same records the user's hook got. A
     * function that is gone is still in the projection of the calls it had. */
    ASSERT_OK(faas_unregister(s->rt, "tagged"));
    o = console_get(s, "cost", auth, &status);
    json_t *p = json_object_get(o, "projection");
    assert_int_equal(json_integer_value(json_object_get(p, "recorded_calls")), 5);
    assert_int_equal(json_integer_value(json_object_get(p, "sample_calls")), 5);
    assert_int_equal(json_integer_value(json_object_get(p, "monthly_calls")), 1296000);
    ASSERT_OK(faas_cost_compare(v.recs, v.n, 1296000, NULL, 0, &rows, &n));
    json_t *models = json_object_get(p, "models");
    size_t presets = 0;
    while (faas_price_model_preset(presets) != NULL)
        presets++;
    assert_int_equal(json_array_size(models), presets);
    size_t m = 0, checked = 0;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].group == FAAS_COST_TOTAL) {
            json_t *mj = json_array_get(models, m++);
            assert_string_equal(json_string_value(json_object_get(mj, "model")), rows[i].model);
            assert_int_equal(picousd_of(mj), rows[i].total_picousd);
            assert_int_equal(json_array_size(json_object_get(mj, "functions")), 2);
            checked++;
        } else if (rows[i].group == FAAS_COST_FUNCTION) {
            json_t *mj = json_array_get(models, m - 1);
            json_t *f = by_name(json_object_get(mj, "functions"), rows[i].name);
            assert_int_equal(picousd_of(f), rows[i].total_picousd);
            assert_int_equal(json_integer_value(json_object_get(f, "calls")), rows[i].calls);
            checked++;
        }
    }
    assert_int_equal(checked, 3 * presets);
    faas_free(rows);
    json_decref(o);
    for (size_t i = 0; i < v.n; i++) {
        free((char *)v.recs[i].function);
        free((char *)v.recs[i].tag);
    }
    faas_on_record(s->rt, NULL, NULL);

    /* The idle instance of echo, 10 s old, 3 calls served. */
    o = console_state(s, auth, &status);
    json_t *e = by_name(json_object_get(o, "functions"), "echo");
    json_t *idle = json_object_get(e, "instances");
    assert_int_equal(json_array_size(idle), 1);
    json_t *inst = json_array_get(idle, 0);
    assert_int_equal(json_integer_value(json_object_get(inst, "age_ms")), 10000);
    assert_int_equal(json_integer_value(json_object_get(inst, "idle_ms")), 10000);
    assert_int_equal(json_integer_value(json_object_get(inst, "calls")), 3);
    assert_int_equal(json_array_size(json_object_get(by_name(json_object_get(o, "functions"),
                                                             "count"), "instances")), 0);
    assert_int_equal(json_integer_value(json_object_get(o, "uptime_ms")), 10000);
    json_decref(o);

    /* The projection prices the last 4096 calls; the rate counts them all. */
    for (int i = 0; i < 5000; i++) {
        ASSERT_OK(faas_invoke(s->rt, "count", "{}", 2, NULL));
    }
    o = console_get(s, "cost", auth, &status);
    p = json_object_get(o, "projection");
    assert_int_equal(json_integer_value(json_object_get(p, "recorded_calls")), 5005);
    assert_int_equal(json_integer_value(json_object_get(p, "sample_calls")), 4096);
    json_t *only = json_object_get(json_array_get(json_object_get(p, "models"), 0), "functions");
    assert_int_equal(json_array_size(only), 1);     /* the last 4096 were all count's */
    json_decref(o);
}

/* Records filed from the workers while the console reads them; two gateways on one
 * runtime each keep them until the last stops, and a new one starts counting afresh. */
static atomic_uint hooked;

static void count_record(const faas_record *rec, void *arg)
{
    (void)rec; (void)arg;
    atomic_fetch_add(&hooked, 1);
}

typedef struct submitter {
    faas_runtime *rt;
    int           n;
} submitter;

static void *submit_many(void *arg)
{
    submitter *t = arg;
    for (int i = 0; i < t->n; i++)
        assert_int_equal(faas_invoke_async(t->rt, "echo", "{}", 2, NULL, NULL, NULL), FAAS_OK);
    return NULL;
}

static int64_t recorded(server *s)
{
    unsigned status;
    json_t *o = console_get(s, "cost", "", &status);
    assert_int_equal(status, 200);
    int64_t n = json_integer_value(json_object_get(json_object_get(o, "projection"),
                                                   "recorded_calls"));
    json_decref(o);
    return n;
}

static void console_records_from_workers(void **state)
{
    (void)state;
    server a = { 0 }, b = { 0 };
    ASSERT_OK(faas_runtime_new(&a.rt, NULL));
    ASSERT_OK(faas_register(a.rt, "echo", echo, NULL));
    atomic_store(&hooked, 0);
    faas_on_record(a.rt, count_record, NULL);
    ASSERT_OK(faas_gateway_start(a.rt, "127.0.0.1:0", NULL, &a.gw));
    a.port = faas_gateway_port(a.gw);
    b.rt = a.rt;
    ASSERT_OK(faas_gateway_start(b.rt, "127.0.0.1:0", NULL, &b.gw));
    b.port = faas_gateway_port(b.gw);

    submitter t = { a.rt, 1500 };
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, submit_many, &t), 0);
    for (int i = 0; i < 4; i++)
        assert_true(recorded(i % 2 ? &a : &b) <= 3000);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    ASSERT_OK(faas_drain(a.rt, 60000));
    assert_int_equal(atomic_load(&hooked), 3000);
    assert_int_equal(recorded(&a), 3000);
    /* One gateway stops: the other still keeps them. */
    faas_gateway_stop(a.gw);
    ASSERT_OK(faas_invoke(b.rt, "echo", "{}", 2, NULL));
    assert_int_equal(recorded(&b), 3001);
    faas_gateway_stop(b.gw);
    /* With no gateway, nothing is kept; a new one counts from its start. */
    ASSERT_OK(faas_invoke(b.rt, "echo", "{}", 2, NULL));
    ASSERT_OK(faas_gateway_start(b.rt, "127.0.0.1:0", NULL, &b.gw));
    b.port = faas_gateway_port(b.gw);
    assert_int_equal(recorded(&b), 0);
    ASSERT_OK(faas_invoke(b.rt, "echo", "{}", 2, NULL));
    assert_int_equal(recorded(&b), 1);
    assert_int_equal(atomic_load(&hooked), 3003);
    /* The user's hook removed while a gateway keeps records: they are still kept. */
    faas_on_record(b.rt, NULL, NULL);
    ASSERT_OK(faas_invoke(b.rt, "echo", "{}", 2, NULL));
    assert_int_equal(recorded(&b), 2);
    assert_int_equal(atomic_load(&hooked), 3003);
    faas_gateway_stop(b.gw);
    faas_runtime_free(b.rt);
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
             "Host: 127.0.0.1\r\nAuthorization: Bearer tok\r\nX-Amz-Invocation-Type: %s\r\n"
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

/* A connection with the headers of an Invoke of "echo" with a 7-byte body sent, and their
 * interim answer (Expect: 100-continue) read: the server has handled them. */
static int echo_headers_continued(int port)
{
    char buf[512];
    int fd = connect_to(port);
    send_str(fd, "POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Authorization: Bearer tok\r\nExpect: 100-continue\r\n"
                 "Content-Length: 7\r\n\r\n");
    ssize_t r = recv(fd, buf, sizeof buf - 1, 0);
    assert_true(r > 0);
    buf[r] = '\0';
    assert_non_null(strstr(buf, "HTTP/1.1 100 Continue"));
    return fd;
}

/* The body must be in within body_timeout_ms of the headers: on the runtime's clock, so a
 * fake clock makes a slow client with no waiting. */
static void slow_body_is_dropped(void **state)
{
    server *s = *state;
    char buf[4096];
    for (int slow = 0; slow <= 1; slow++) {
        /* 100-continue: the interim answer proves the headers were handled, and so the
         * deadline set, before the clock moves. */
        int fd = echo_headers_continued(s->port);
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

/* The gateway looks an Invoke's function up once, when the headers are in, and calls
 * through that handle once the body is in (issue 17). The function unregistered between
 * the two: the call finds it gone (404), or finds the one registered under the name since
 * (here "count"'s handler under "echo"), never the freed one (ASan, valgrind). */
static void function_replaced_while_the_body_comes(void **state)
{
    server *s = *state;
    char buf[4096];
    for (int again = 0; again <= 1; again++) {
        if (again)
            ASSERT_OK(faas_register(s->rt, "echo", echo, NULL));
        int fd = echo_headers_continued(s->port);   /* begin has found "echo" */
        ASSERT_OK(faas_unregister(s->rt, "echo"));
        int before = atomic_load(&counted);
        if (again)
            ASSERT_OK(faas_register(s->rt, "echo", count, NULL));
        send_str(fd, "\"hello\"");
        assert_true(read_response(fd, buf, sizeof buf) > 0);
        if (again) {
            assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
            assert_string_equal(body_of(buf), "\"hello\"");
            assert_int_equal(atomic_load(&counted), before + 1);   /* the new one ran */
        } else {
            assert_non_null(strstr(buf, "HTTP/1.1 404 "));
            assert_non_null(strstr(buf, "\r\nx-amzn-ErrorType: ResourceNotFoundException"));
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
                              "Host: 127.0.0.1\r\nAuthorization: Bearer tok\r\n"
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
    send_str(fd, "POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A");
    assert_true(cut_after_deadline(s, fd));
    close(fd);
    /* The server still answers. */
    fd = connect_to(s->port);
    send_str(fd, req);
    assert_true(read_response(fd, buf, sizeof buf) > 0);
    assert_string_equal(body_of(buf), "{}");
    close(fd);
}

/* Everything the server sends until it closes the connection (at most size - 1 bytes). */
static size_t read_until_closed(int fd, char *buf, size_t size)
{
    size_t n = 0;
    for (;;) {
        ssize_t r = recv(fd, buf + n, size - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == size - 1)
            break;
    }
    buf[n] = '\0';
    return n;
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t k = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        k++;
    return k;
}

/* ---- strict parsing: what could smuggle a second request is refused --------------------- */

#define INVOKE "POST /2015-03-31/functions/count/invocations HTTP/1.1\r\n"
#define AUTH "Authorization: Bearer tok\r\n"
#define SMUGGLED INVOKE "Host: 127.0.0.1\r\n" AUTH "Content-Length: 2\r\n\r\n{}"

typedef struct framing_case {
    const char *what;
    const char *req;
    size_t      len;            /* 0: strlen(req) */
} framing_case;

static const char nul_in_value[] = INVOKE "Host: 127.0.0.1\r\n" AUTH "X-A: a\0b\r\n"
                                   "Content-Length: 2\r\n\r\n{}" SMUGGLED;

static const framing_case framing_cases[] = {
    { "two Content-Lengths", INVOKE "Host: 127.0.0.1\r\n" AUTH "Content-Length: 2\r\n"
      "Content-Length: 83\r\n\r\n{}" SMUGGLED, 0 },
    { "two Content-Lengths, the other order", INVOKE "Host: 127.0.0.1\r\n" AUTH
      "Content-Length: 0\r\nContent-Length: 2\r\n\r\n{}" SMUGGLED, 0 },
    { "two equal Content-Lengths", INVOKE "Host: 127.0.0.1\r\n" AUTH "Content-Length: 2\r\n"
      "Content-Length: 2\r\n\r\n{}" SMUGGLED, 0 },
    { "Content-Length and Transfer-Encoding", INVOKE "Host: 127.0.0.1\r\n" AUTH
      "Content-Length: 95\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
      SMUGGLED, 0 },
    { "a space before the colon", INVOKE "Host: 127.0.0.1\r\n" AUTH
      "Transfer-Encoding : chunked\r\nContent-Length: 2\r\n\r\n{}" SMUGGLED, 0 },
    { "a tab before the colon", INVOKE "Host: 127.0.0.1\r\n" AUTH "Transfer-Encoding\t: chunked\r\n"
      "Content-Length: 2\r\n\r\n{}" SMUGGLED, 0 },
    { "a space in a header name", INVOKE "Host: 127.0.0.1\r\n" AUTH "X A: b\r\n"
      "Content-Length: 2\r\n\r\n{}" SMUGGLED, 0 },
    { "obs-fold", INVOKE "Host: 127.0.0.1\r\n" AUTH "X-A: a\r\n b\r\nContent-Length: 2\r\n\r\n{}"
      SMUGGLED, 0 },
    { "obs-fold of Transfer-Encoding", INVOKE "Host: 127.0.0.1\r\n" AUTH "Content-Length: 2\r\n"
      "Transfer-Encoding: x\r\n\tchunked\r\n\r\n{}" SMUGGLED, 0 },
    { "bare LF everywhere", "POST /2015-03-31/functions/count/invocations HTTP/1.1\n"
      "Host: x\nAuthorization: Bearer tok\nContent-Length: 2\n\n{}" SMUGGLED, 0 },
    { "bare LF after the request line", "POST /2015-03-31/functions/count/invocations "
      "HTTP/1.1\nHost: 127.0.0.1\r\n" AUTH "Content-Length: 2\r\n\r\n{}" SMUGGLED, 0 },
    { "bare LF between headers", INVOKE "Host: 127.0.0.1\r\n" AUTH "X-A: 1\nContent-Length: 2\r\n"
      "\r\n{}" SMUGGLED, 0 },
    { "bare LF ending the headers", INVOKE "Host: 127.0.0.1\r\n" AUTH "Content-Length: 2\r\n\n{}"
      SMUGGLED, 0 },
    { "a CR alone in a value", INVOKE "Host: 127.0.0.1\r\n" AUTH
      "X-A: a\rb\r\nContent-Length: 2\r\n\r\n{}" SMUGGLED, 0 },
    { "a NUL in a value", nul_in_value, sizeof nul_in_value - 1 },
    { "Transfer-Encoding other than chunked", INVOKE "Host: 127.0.0.1\r\n" AUTH
      "Transfer-Encoding: gzip, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n" SMUGGLED, 0 },
    { "two Transfer-Encodings", INVOKE "Host: 127.0.0.1\r\n" AUTH "Transfer-Encoding: chunked\r\n"
      "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n" SMUGGLED, 0 },
    { "Transfer-Encoding in HTTP/1.0", "POST /2015-03-31/functions/count/invocations "
      "HTTP/1.0\r\nHost: 127.0.0.1\r\n" AUTH
      "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n" SMUGGLED, 0 },
    { "HTTP/1.1 without Host", INVOKE AUTH "Content-Length: 2\r\n\r\n{}" SMUGGLED, 0 },
    { "two Hosts", INVOKE "Host: 127.0.0.1\r\nHost: y\r\n" AUTH "Content-Length: 2\r\n\r\n{}"
      SMUGGLED, 0 },
    { "a space in the target", "POST /2015-03-31/functions/count/invocations x HTTP/1.1\r\n"
      "Host: 127.0.0.1\r\n" AUTH "Content-Length: 2\r\n\r\n{}" SMUGGLED, 0 },
    { "two spaces after the method", "POST  /2015-03-31/functions/count/invocations HTTP/1.1"
      "\r\nHost: 127.0.0.1\r\n" AUTH "Content-Length: 2\r\n\r\n{}" SMUGGLED, 0 },
};

/* Each case: a Lambda-shaped 400 (InvalidRequestContentException) and the connection
 * closed; neither the request nor the one smuggled after it runs. */
static void ambiguous_framing_is_refused(void **state)
{
    server *s = *state;
    static char buf[1 << 16];
    for (size_t i = 0; i < sizeof framing_cases / sizeof framing_cases[0]; i++) {
        const framing_case *c = &framing_cases[i];
        int before = atomic_load(&counted);
        int fd = connect_to(s->port);
        send_all(fd, c->req, c->len ? c->len : strlen(c->req));
        size_t n = read_until_closed(fd, buf, sizeof buf);
        close(fd);
        print_message("%s: %.40s\n", c->what, buf);
        assert_true(n > 0);
        assert_non_null(strstr(buf, "HTTP/1.1 400 Bad Request\r\n"));
        assert_non_null(strstr(buf, "\r\nx-amzn-ErrorType: InvalidRequestContentException\r\n"));
        assert_non_null(strstr(buf, "\r\nConnection: close\r\n"));
        assert_non_null(strstr(body_of(buf), "\"Type\":\"User\",\"message\":\""));
        const char *cl = strstr(buf, "\r\nContent-Length: ");
        assert_non_null(cl);                                /* one answer, then closed */
        assert_int_equal(strlen(body_of(buf)), strtoul(cl + 18, NULL, 10));
        assert_int_equal(atomic_load(&counted), before);
    }
}

/* What real clients send still goes through: long headers (past libmicrohttpd's first read
 * buffer), empty values, tabs and UTF-8 in values, an empty line before the request line,
 * pipelining, chunked bodies, HTTP/1.0 without Host. */
static void strict_parsing_lets_well_formed_requests_in(void **state)
{
    server *s = *state;
    static char buf[1 << 16];
    static char big[20000];
    memset(big, 'a', sizeof big - 1);
    int before = atomic_load(&counted);
    int fd = connect_to(s->port);
    send_str(fd, INVOKE "Host: 127.0.0.1\r\n" AUTH "X-Big: ");
    send_str(fd, big);
    send_str(fd, "\r\nX-Empty:\r\nX-Tab: a\tb \r\nX-Utf8: \xc3\xa9t\xc3\xa9\r\n"
                 "Content-Length: 3\r\n\r\n[1]");
    assert_true(read_response(fd, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    assert_string_equal(body_of(buf), "[1]");
    /* Two pipelined in one write, the first chunked; the second closes the connection. */
    send_str(fd, INVOKE "host: x\r\n" AUTH "Transfer-Encoding: chunked\r\n\r\n"
                 "3\r\n[2]\r\n0\r\n\r\n" INVOKE "Host: 127.0.0.1\r\n" AUTH "Connection: close\r\n"
                 "Content-Length: 2\r\n\r\n{}");
    assert_true(read_until_closed(fd, buf, sizeof buf) > 0);
    assert_int_equal(count_of(buf, "HTTP/1.1 200 OK\r\n"), 2);
    assert_non_null(strstr(buf, "\r\n\r\n[2]HTTP/1.1 200 OK\r\n"));
    assert_string_equal(buf + strlen(buf) - 6, "\r\n\r\n{}");
    close(fd);
    fd = connect_to(s->port);
    send_str(fd, "\r\n" SMUGGLED);
    assert_true(read_response(fd, buf, sizeof buf) > 0);
    assert_string_equal(body_of(buf), "{}");
    close(fd);
    fd = connect_to(s->port);
    send_str(fd, "POST /2015-03-31/functions/count/invocations HTTP/1.0\r\n" AUTH
                 "Content-Length: 3\r\n\r\n[3]");
    assert_true(read_until_closed(fd, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n")); /* libmicrohttpd answers 1.1 */
    assert_string_equal(body_of(buf), "[3]");
    close(fd);
    assert_int_equal(atomic_load(&counted), before + 5);
}

/* ---- an answer decided from the headers waits for the body ---------------------------------- */

/* A 404 (or 401, 413...) is known from the headers; a client that writes its whole body
 * before it reads (the AWS SDK for JavaScript) must still get it, not EPIPE: the body is
 * read and discarded first, and the connection kept. */
static void early_answer_after_the_body(void **state)
{
    server *s = *state;
    static char buf[1 << 16];
    static char body[100000];
    memset(body, ' ', sizeof body);
    body[0] = '{';
    body[sizeof body - 1] = '}';
    int fd = connect_to(s->port);
    static const char *const heads[] = {
        "POST /2015-03-31/functions/other/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n" AUTH,
        "POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n",
        "POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n" AUTH
        "X-Amz-Invocation-Type: Event\r\n",
    };
    static const char *const statuses[] = {
        "HTTP/1.1 404 Not Found\r\n", "HTTP/1.1 401 Unauthorized\r\n",
        "HTTP/1.1 413 Content Too Large\r\n",
    };
    /* Under max_body (64 KiB), then over it but under the discard cap (128 KiB). */
    static const size_t lens[] = { 60000, 60000, sizeof body };
    for (int i = 0; i < 3; i++) {
        char head[512];
        snprintf(head, sizeof head, "%sContent-Length: %zu\r\n\r\n", heads[i], lens[i]);
        send_str(fd, head);
        body[lens[i] - 1] = '}';
        send_all(fd, body, lens[i]);        /* all of it, before reading anything */
        assert_true(read_response(fd, buf, sizeof buf) > 0);
        assert_non_null(strstr(buf, statuses[i]));
        assert_null(strstr(buf, "Connection: close"));
    }
    /* The connection is still good. */
    send_str(fd, SMUGGLED);
    assert_true(read_response(fd, buf, sizeof buf) > 0);
    assert_string_equal(body_of(buf), "{}");
    /* A chunked body is read to its end too. */
    send_str(fd, "POST /2015-03-31/functions/other/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n" AUTH
                 "Transfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 8; i++) {
        send_str(fd, "2710\r\n");           /* 10,000 bytes */
        send_all(fd, body, 10000);
        send_str(fd, "\r\n");
    }
    send_str(fd, "0\r\n\r\n");
    assert_true(read_response(fd, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 404 Not Found\r\n"));
    assert_null(strstr(buf, "Connection: close"));
    send_str(fd, SMUGGLED);
    assert_true(read_response(fd, buf, sizeof buf) > 0);
    assert_string_equal(body_of(buf), "{}");
    close(fd);
}

/* Reading a refused body is bounded: past the cap by its Content-Length, the answer goes
 * at once and the connection is closed; a chunked one is dropped once past the cap. The
 * client is never waited for longer, nor its body kept. */
static void early_answer_reads_a_bounded_body(void **state)
{
    server *s = *state;
    static char buf[1 << 16];
    /* 1 GB announced, nothing sent: answered now. */
    int fd = connect_to(s->port);
    send_str(fd, "POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n" AUTH
                 "Content-Length: 1000000000\r\n\r\n");
    assert_true(read_until_closed(fd, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 413 Content Too Large\r\n"));
    assert_non_null(strstr(buf, "\r\nConnection: close\r\n"));
    close(fd);
    /* Expect: 100-continue: the client waits for us; answered now, nothing read. */
    fd = connect_to(s->port);
    send_str(fd, "POST /2015-03-31/functions/other/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n" AUTH
                 "Expect: 100-continue\r\nContent-Length: 1000\r\n\r\n");
    assert_true(read_response(fd, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 404 Not Found\r\n"));
    assert_null(strstr(buf, "100 Continue"));
    close(fd);
    /* Chunks without end: libmicrohttpd takes an answer only before the body or after it,
     * so past the cap (128 KiB) the connection is dropped. The client's sends then fail,
     * or it reads the end, long before the 64 MiB it would send. */
    fd = connect_to(s->port);
    send_str(fd, "POST /2015-03-31/functions/other/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n" AUTH
                 "Transfer-Encoding: chunked\r\n\r\n");
    static char chunk[8192 + 8] = "2000\r\n";
    memset(chunk + 6, ' ', 8192);
    memcpy(chunk + 6 + 8192, "\r\n", 2);
    size_t sent = 0;
    bool ended = false;
    while (!ended && sent < 64u << 20) {
        if (send(fd, chunk, sizeof chunk, MSG_NOSIGNAL) != (ssize_t)sizeof chunk)
            ended = true;
        sent += 8192;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 0) == 1)
            ended = recv(fd, buf, sizeof buf, 0) <= 0;
    }
    assert_true(ended);
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
        send_str(fd, "POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
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
        send_str(fd, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
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
    send_str(fd, "POST /2015-03-31/functions/parked/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
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

/* ---- UpdateFunctionCode --------------------------------------------------------------------- */

/* Standard base64 of FILE's bytes (malloc'd). */
static char *file_base64(const char *file)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    FILE *f = fopen(file, "rb");
    assert_non_null(f);
    static unsigned char b[1 << 20];
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    assert_true(n > 0 && n < sizeof b);
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16 | (i + 1 < n ? (uint32_t)b[i + 1] << 8 : 0) |
                     (i + 2 < n ? b[i + 2] : 0);
        *o++ = abc[v >> 18];
        *o++ = abc[v >> 12 & 63];
        *o++ = i + 1 < n ? abc[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? abc[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

/* Invoke u (TARGET's qualifier) and expect ANSWER from the code that ran. */
static void expect_answer(server *s, const char *target, const char *answer)
{
    static char buf[1 << 16];
    unsigned st = http(s, "POST", target, "{}", NULL, buf, sizeof buf);
    if (st != 200)
        fail_msg("%s: %u: %s", target, st, buf);
    assert_string_equal(body_of(buf), answer);
}

/* PUT /code with BODY: 200 and its FunctionConfiguration (the caller frees it). */
static json_t *update_ok(server *s, const char *body)
{
    static char buf[1 << 16];
    unsigned st = http(s, "PUT", "/2015-03-31/functions/u/code", body, NULL, buf, sizeof buf);
    if (st != 200)
        fail_msg("%u: %s", st, buf);
    return body_json(buf);
}

/* UpdateFunctionCode from a local path (S3Bucket "file") and from ZipFile's bytes: the next
 * Invoke runs the new code; RevisionId, Publish, DryRun; a failed INIT answers 200 with
 * LastUpdateStatus Failed and the old code keeps serving. */
static void update_code_route(void **state)
{
    server *s = *state;
    char body[4400];
    ASSERT_OK(faas_register_module(s->rt, "u", test_module("mod_update_a.so"), "answer",
                                   NULL));
    expect_answer(s, "/2015-03-31/functions/u/invocations", "A");

    snprintf(body, sizeof body, "{\"S3Bucket\":\"file\",\"S3Key\":\"%s\"}",
             test_module("mod_update_b.so"));
    json_t *o = update_ok(s, body);
    assert_string_equal(member(o, "LastUpdateStatus"), "Successful");
    assert_string_equal(member(o, "Version"), "$LATEST");
    assert_string_equal(member(o, "RevisionId"), "2");
    assert_int_equal(strlen(member(o, "CodeSha256")), 44);
    assert_true(json_integer_value(json_object_get(o, "CodeSize")) > 0);
    json_decref(o);
    expect_answer(s, "/2015-03-31/functions/u/invocations", "B");

    /* A stale RevisionId: 412, nothing changes. */
    static char buf[1 << 16];
    snprintf(body, sizeof body, "{\"S3Bucket\":\"file\",\"S3Key\":\"%s\",\"RevisionId\":\"1\"}",
             test_module("mod_update_a.so"));
    unsigned st = http(s, "PUT", "/2015-03-31/functions/u/code", body, NULL, buf, sizeof buf);
    expect_error(buf, st, 412, "PreconditionFailedException", NULL);
    expect_answer(s, "/2015-03-31/functions/u/invocations", "B");

    /* DryRun: checked, not done. */
    snprintf(body, sizeof body, "{\"S3Bucket\":\"file\",\"S3Key\":\"%s\",\"DryRun\":true}",
             test_module("mod_update_a.so"));
    json_decref(update_ok(s, body));
    expect_answer(s, "/2015-03-31/functions/u/invocations", "B");

    /* ZipFile: the .so's bytes in base64, published as version 1. */
    char *b64 = file_base64(test_module("mod_update_a.so"));
    char *zip;
    assert_true(asprintf(&zip, "{\"ZipFile\":\"%s\",\"Publish\":true,\"RevisionId\":\"2\"}",
                         b64) > 0);
    o = update_ok(s, zip);
    free(zip);
    free(b64);
    assert_string_equal(member(o, "Version"), "1");
    assert_string_equal(member(o, "RevisionId"), "3");
    json_decref(o);
    expect_answer(s, "/2015-03-31/functions/u/invocations", "A");
    expect_answer(s, "/2015-03-31/functions/u/invocations?Qualifier=1", "A");
    /* Its code came as bytes: no file to read again (the descriptor's /proc link it was
     * loaded from names whatever holds that number next; before, that was read). */
    assert_int_equal(faas_update_code(s->rt, "u", NULL), FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "ZipFile"));
    expect_answer(s, "/2015-03-31/functions/u/invocations", "A");

    /* An INIT that fails: 200, Failed with the reason, the old code still serves. */
    snprintf(body, sizeof body, "{\"S3Bucket\":\"file\",\"S3Key\":\"%s\",\"Publish\":true}",
             test_module("mod_update_bad.so"));
    o = update_ok(s, body);
    assert_string_equal(member(o, "LastUpdateStatus"), "Failed");
    assert_string_equal(member(o, "LastUpdateStatusReasonCode"), "FunctionError");
    assert_non_null(strstr(member(o, "LastUpdateStatusReason"), "refuses to start"));
    assert_string_equal(member(o, "Version"), "$LATEST");      /* nothing published */
    json_decref(o);
    expect_answer(s, "/2015-03-31/functions/u/invocations", "A");
    ASSERT_OK(faas_unregister(s->rt, "u"));
}

/* Each refusal of UpdateFunctionCode in the service's status and error code. */
static void update_code_errors(void **state)
{
    server *s = *state;
    static char buf[1 << 16];
    char body[4400];
    ASSERT_OK(faas_register_module(s->rt, "u", test_module("mod_update_a.so"), "answer",
                                   NULL));
    static const struct { const char *fn, *body; unsigned status; const char *type; } bad[] = {
        { "nope", "{\"ZipFile\":\"f0VMRg==\"}", 404, "ResourceNotFoundException" },
        { "echo", "{\"ZipFile\":\"f0VMRg==\"}", 400, "InvalidParameterValueException" },
        { "u", "{\"ZipFile\":\"!!!!\"}", 400, "InvalidRequestContentException" },
        { "u", "{\"ZipFile\":\"f0VMR\"}", 400, "InvalidRequestContentException" },
        { "u", "{\"ZipFile\":\"aGVsbG8=\"}", 400, "InvalidParameterValueException" },
        { "u", "{\"ZipFile\":\"UEsDBAo=\"}", 400, "InvalidParameterValueException" },
        { "u", "{}", 400, "InvalidParameterValueException" },
        { "u", "{\"ZipFile\":1}", 400, "InvalidParameterValueException" },
        { "u", "{\"ZipFile\":\"f0VMRg==\",\"S3Bucket\":\"file\"}", 400,
          "InvalidParameterValueException" },
        { "u", "{\"S3Bucket\":\"my-bucket\",\"S3Key\":\"/x.so\"}", 400,
          "InvalidParameterValueException" },
        { "u", "{\"S3Bucket\":\"file\",\"S3Key\":\"rel.so\"}", 400,
          "InvalidParameterValueException" },
        { "u", "{\"S3Bucket\":\"file\",\"S3Key\":\"/nonexistent/x.so\"}", 400,
          "InvalidParameterValueException" },
        { "u", "{\"ImageUri\":\"file:///x.so\"}", 400, "InvalidParameterValueException" },
        { "u", "{\"S3Bucket\":\"file\",\"S3Key\":\"/x.so\",\"Publish\":\"yes\"}", 400,
          "InvalidParameterValueException" },
        { "u", "{\"ZipFile\":", 400, "InvalidRequestContentException" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char target[96];
        snprintf(target, sizeof target, "/2015-03-31/functions/%s/code", bad[i].fn);
        unsigned st = http(s, "PUT", target, bad[i].body, NULL, buf, sizeof buf);
        if (st != bad[i].status)
            fail_msg("%s %s: %u: %s", target, bad[i].body, st, buf);
        expect_error(buf, st, bad[i].status, bad[i].type, NULL);
    }
    /* A file that is not an ELF shared object. */
    snprintf(body, sizeof body, "{\"S3Bucket\":\"file\",\"S3Key\":\"%s\"}", "/proc/self/status");
    unsigned st = http(s, "PUT", "/2015-03-31/functions/u/code", body, NULL, buf, sizeof buf);
    expect_error(buf, st, 400, "InvalidParameterValueException", NULL);
    /* Too large, from the Content-Length alone. */
    int fd = connect_to(s->port);
    send_str(fd, "PUT /2015-03-31/functions/u/code HTTP/1.1\r\nHost: 127.0.0.1\r\n" AUTH
                 "Content-Length: 1000000000\r\n\r\n");
    assert_true(read_until_closed(fd, buf, sizeof buf) > 0);
    close(fd);
    assert_non_null(strstr(buf, "HTTP/1.1 413 Content Too Large\r\n"));
    assert_non_null(strstr(buf, "\r\nx-amzn-ErrorType: RequestEntityTooLargeException\r\n"));
    /* None of it changed the code. */
    expect_answer(s, "/2015-03-31/functions/u/invocations", "A");
    ASSERT_OK(faas_unregister(s->rt, "u"));
}

/* ---- X-Amz-Client-Context ------------------------------------------------------------------- */

static faas_runtime *cc_rt;             /* for the nested call of client_context_echo */

/* Replies with its client context ("none" without one); with the payload "nested", with
 * that of a call it makes itself, which must not inherit its own. */
static int client_context_echo(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)len;
    if (strcmp((const char *)payload, "\"nested\"") == 0) {
        faas_response res;
        int rc = faas_invoke(cc_rt, "cc", "{}", 2, &res);
        if (rc == FAAS_OK)
            faas_reply(ctx, res.data, res.len);
        faas_response_free(&res);
        return rc;
    }
    const char *cc = faas_ctx_client_context(ctx);
    return faas_reply(ctx, cc ? cc : "none", strlen(cc ? cc : "none"));
}

static void b64encode(const char *in, size_t n, bool pad, char *out)
{
    static const char a[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)in[i] << 16;
        if (i + 1 < n) v |= (uint32_t)(unsigned char)in[i + 1] << 8;
        if (i + 2 < n) v |= (unsigned char)in[i + 2];
        out[k++] = a[v >> 18];
        out[k++] = a[(v >> 12) & 63];
        if (i + 1 < n) out[k++] = a[(v >> 6) & 63]; else if (pad) out[k++] = '=';
        if (i + 2 < n) out[k++] = a[v & 63]; else if (pad) out[k++] = '=';
    }
    out[k] = '\0';
}

/* Invoke cc with X-Amz-Client-Context: HEADER (NULL: none) and PAYLOAD; status, buf. */
static unsigned invoke_cc(server *s, const char *header, const char *payload, char *buf,
                          size_t size)
{
    static char req[8192];
    snprintf(req, sizeof req, "POST /2015-03-31/functions/cc/invocations HTTP/1.1\r\n"
             "Host: 127.0.0.1\r\nAuthorization: Bearer tok\r\n%s%s%s"
             "Content-Length: %zu\r\n\r\n%s",
             header ? "X-Amz-Client-Context: " : "", header ? header : "",
             header ? "\r\n" : "", strlen(payload), payload);
    return round_trip(s->port, req, buf, size);
}

/* A JSON object of exactly n bytes: {"k":"xxx...x"}. */
static void object_of(size_t n, char *out)
{
    memcpy(out, "{\"k\":\"", 6);
    memset(out + 6, 'x', n - 8);
    memcpy(out + n - 2, "\"}", 3);
}

static void client_context_is_checked_and_reaches_the_handler(void **state)
{
    server *s = *state;
    static char buf[1 << 16], b64[4096], json[4096];
    cc_rt = s->rt;
    ASSERT_OK(faas_register(s->rt, "cc", client_context_echo, NULL));
    static const char *const bad_message =
        "Client context must be a valid Base64-encoded JSON object.";

    /* What boto3 sends: base64 of a JSON object. The handler gets it compact. */
    const char *ctx = "{\"client\": {\"app_title\": \"t\"},\n \"custom\": {\"a\": 1}, "
                      "\"env\": {\"locale\": \"fr\"}}";
    b64encode(ctx, strlen(ctx), true, b64);
    assert_int_equal(invoke_cc(s, b64, "{}", buf, sizeof buf), 200);
    assert_string_equal(body_of(buf), "{\"client\":{\"app_title\":\"t\"},\"custom\":{\"a\":1},"
                                      "\"env\":{\"locale\":\"fr\"}}");
    /* None sent: none seen, also by a later call on the same worker thread. */
    assert_int_equal(invoke_cc(s, NULL, "{}", buf, sizeof buf), 200);
    assert_string_equal(body_of(buf), "none");
    /* A call the handler makes does not inherit it. */
    assert_int_equal(invoke_cc(s, b64, "\"nested\"", buf, sizeof buf), 200);
    assert_string_equal(body_of(buf), "none");

    /* Refused, as Lambda does: not base64, not JSON, not an object. */
    expect_error(buf, invoke_cc(s, "%%%", "{}", buf, sizeof buf), 400,
                 "InvalidRequestContentException", bad_message);
    assert_int_equal(invoke_cc(s, "e30", "{}", buf, sizeof buf), 200);   /* {}, unpadded */
    assert_string_equal(body_of(buf), "{}");
    b64encode("not json", 8, true, b64);
    expect_error(buf, invoke_cc(s, b64, "{}", buf, sizeof buf), 400,
                 "InvalidRequestContentException", bad_message);
    b64encode("[1,2]", 5, true, b64);
    expect_error(buf, invoke_cc(s, b64, "{}", buf, sizeof buf), 400,
                 "InvalidRequestContentException", bad_message);
    expect_error(buf, invoke_cc(s, "e30==", "{}", buf, sizeof buf), 400,
                 "InvalidRequestContentException", bad_message);   /* padding too long */

    /* The limit is 3,583 bytes of base64: 2,687 bytes of JSON, unpadded, are exactly
     * that; 2,688 are 3,584. */
    object_of(FAAS_CLIENT_CONTEXT_MAX, json);
    b64encode(json, strlen(json), false, b64);
    assert_int_equal(strlen(b64), 3583);
    assert_int_equal(invoke_cc(s, b64, "{}", buf, sizeof buf), 200);
    assert_string_equal(body_of(buf), json);
    object_of(FAAS_CLIENT_CONTEXT_MAX + 1, json);
    b64encode(json, strlen(json), false, b64);
    assert_int_equal(strlen(b64), 3584);
    expect_error(buf, invoke_cc(s, b64, "{}", buf, sizeof buf), 400,
                 "InvalidRequestContentException", NULL);

    /* The library's entry point, without the gateway. */
    faas_invoke_options io = FAAS_INVOKE_OPTIONS_INIT;
    faas_response res;
    io.client_context = "{ \"custom\" : {} }";
    ASSERT_OK(faas_invoke_ex(s->rt, "cc", "{}", 2, &io, &res));
    assert_string_equal(res.data, "{\"custom\":{}}");
    faas_response_free(&res);
    io.client_context = "[1]";
    assert_int_equal(faas_invoke_ex(s->rt, "cc", "{}", 2, &io, &res), FAAS_EINVAL);
    faas_response_free(&res);
    io.client_context = json;           /* one byte too long */
    assert_int_equal(faas_invoke_ex(s->rt, "cc", "{}", 2, &io, NULL), FAAS_ETOOLARGE);
    io.client_context = "{}";           /* the call fails before it begins: not kept */
    assert_int_equal(faas_invoke_ex(s->rt, "nothere", "{}", 2, &io, NULL), FAAS_ENOTFOUND);
    ASSERT_OK(faas_invoke_ex(s->rt, "cc", "{}", 2, NULL, &res));
    assert_string_equal(res.data, "none");
    faas_response_free(&res);
    ASSERT_OK(faas_invoke(s->rt, "cc", "{}", 2, &res));
    assert_string_equal(res.data, "none");
    faas_response_free(&res);
}

/* GetFunction and GetFunctionConfiguration carry what SDK users read: of a host function,
 * and of a process function (its handler, environment and command's digest). */
static void get_function_fields(void **state)
{
    server *s = *state;
    static char buf[1 << 16];
    const char *env[] = { "GREETING=hello", "EMPTY=", NULL };
    faas_process_config pc = FAAS_PROCESS_CONFIG_INIT;
    pc.command = "/bin/true";
    pc.handler = "function.handler";
    pc.environment = env;
    faas_config cfg;
    faas_config_init(&cfg);
    cfg.memory_mb = 512;
    cfg.timeout_ms = 2500;
    int rc = faas_register_process(s->rt, "proc", &pc, &cfg);
    if (rc == FAAS_ENOTSUP)
        skip();
    ASSERT_OK(rc);
    assert_int_equal(http(s, "GET", "/2015-03-31/functions/proc/configuration", NULL, NULL,
                          buf, sizeof buf), 200);
    json_t *c = body_json(buf);
    assert_string_equal(member(c, "Runtime"), "provided.al2023");
    assert_string_equal(member(c, "Handler"), "function.handler");
    json_t *vars = json_object_get(json_object_get(c, "Environment"), "Variables");
    assert_int_equal(json_object_size(vars), 2);
    assert_string_equal(member(vars, "GREETING"), "hello");
    assert_string_equal(member(vars, "EMPTY"), "");
    assert_string_equal(member(c, "Role"), "arn:aws:iam::123456789012:role/libfaas-local");
    assert_string_equal(member(c, "State"), "Active");
    assert_string_equal(member(c, "LastUpdateStatus"), "Successful");
    assert_string_equal(member(c, "Version"), "$LATEST");
    assert_string_equal(member(c, "FunctionArn"),
                        "arn:aws:lambda:eu-west-3:123456789012:function:proc");
    assert_int_equal(json_integer_value(json_object_get(c, "MemorySize")), 512);
    assert_int_equal(json_integer_value(json_object_get(c, "Timeout")), 3);
    struct stat st;
    assert_int_equal(stat("/bin/true", &st), 0);
    assert_int_equal(json_integer_value(json_object_get(c, "CodeSize")), st.st_size);
    assert_int_equal(strlen(member(c, "CodeSha256")), 44);
    const char *rev = member(c, "RevisionId");
    assert_int_equal(strlen(rev), 36);
    assert_int_equal(rev[14], '4');                     /* UUID v4 shaped */
    char rev1[37];
    snprintf(rev1, sizeof rev1, "%s", rev);
    json_t *arch = json_object_get(c, "Architectures");
    assert_int_equal(json_array_size(arch), 1);
    json_decref(c);

    /* GetFunction: the same configuration, and the same RevisionId while nothing changed. */
    assert_int_equal(http(s, "GET", "/2015-03-31/functions/proc", NULL, NULL, buf,
                          sizeof buf), 200);
    c = body_json(buf);
    json_t *conf = json_object_get(c, "Configuration");
    assert_string_equal(member(conf, "RevisionId"), rev1);
    assert_string_equal(member(conf, "Handler"), "function.handler");
    json_decref(c);

    /* A host function: no environment, no code file (the digest of no bytes). */
    assert_int_equal(http(s, "GET", "/2015-03-31/functions/echo/configuration", NULL, NULL,
                          buf, sizeof buf), 200);
    c = body_json(buf);
    assert_string_equal(member(c, "Runtime"), "provided");
    assert_null(json_object_get(c, "Environment"));
    assert_string_equal(member(c, "CodeSha256"),
                        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    assert_int_equal(json_integer_value(json_object_get(c, "CodeSize")), 0);
    assert_string_not_equal(member(c, "RevisionId"), rev1);
    assert_string_equal(member(c, "LastUpdateStatus"), "Successful");
    json_decref(c);
}

#else /* !FAAS_HAVE_GATEWAY */

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
    tap_fix_skips();                    /* its skip()s are TAP skips, not failures */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(list_and_describe),
#if FAAS_HAVE_GATEWAY
        cmocka_unit_test(start_errors),
        cmocka_unit_test_setup_teardown(exact_answers, setup, teardown),
        cmocka_unit_test(tokenless_serves_its_own_user_only),
        cmocka_unit_test(tokenless_refuses_web_pages_of_other_sites),
        cmocka_unit_test_setup_teardown(invoke_with_qualifiers, setup, teardown),
        cmocka_unit_test_setup_teardown(alias_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(update_code_route, setup, teardown),
        cmocka_unit_test_setup_teardown(update_code_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(console_state_and_page, setup, teardown),
        cmocka_unit_test_setup_teardown(console_cost_and_instances, setup, teardown),
        cmocka_unit_test(console_records_from_workers),
        cmocka_unit_test_setup_teardown(payloads_are_terminated_and_no_reply_is_null, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(slow_body_is_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(function_replaced_while_the_body_comes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(slow_headers_are_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(ambiguous_framing_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(strict_parsing_lets_well_formed_requests_in, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(early_answer_after_the_body, setup, teardown),
        cmocka_unit_test_setup_teardown(early_answer_reads_a_bounded_body, setup, teardown),
        cmocka_unit_test(pool_model_and_ipv6),
        cmocka_unit_test(stop_lets_a_call_in_progress_finish),
        cmocka_unit_test_setup_teardown(client_context_is_checked_and_reaches_the_handler,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(get_function_fields, setup, teardown),
#else
        cmocka_unit_test(not_built_is_enotsup),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
