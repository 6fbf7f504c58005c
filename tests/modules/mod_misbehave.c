/* mod_misbehave.c - test fixture module for process isolation: handlers that crash, loop,
 * hog memory, exit, or reach for the network and the file system on purpose, and a few
 * that behave (echo, logs, state, pid) to check what an isolated call carries back. */
#include <faas.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/socket.h>

int faas_init(void **st, const char *function);
void faas_shutdown(void *st);
int echo(faas_ctx *ctx, const void *payload, size_t len);
int pid(faas_ctx *ctx, const void *payload, size_t len);
int whoami(faas_ctx *ctx, const void *payload, size_t len);
int logs(faas_ctx *ctx, const void *payload, size_t len);
int fail(faas_ctx *ctx, const void *payload, size_t len);
int null_deref(faas_ctx *ctx, const void *payload, size_t len);
int do_abort(faas_ctx *ctx, const void *payload, size_t len);
int spin(faas_ctx *ctx, const void *payload, size_t len);
int hog(faas_ctx *ctx, const void *payload, size_t len);
int net(faas_ctx *ctx, const void *payload, size_t len);
int open_file(faas_ctx *ctx, const void *payload, size_t len);
int exit3(faas_ctx *ctx, const void *payload, size_t len);
int maybe_crash(faas_ctx *ctx, const void *payload, size_t len);
int big(faas_ctx *ctx, const void *payload, size_t len);
int arena(faas_ctx *ctx, const void *payload, size_t len);
int dispatch(faas_ctx *ctx, const void *payload, size_t len);

typedef struct state {
    char  function[64];
    pid_t init_pid;             /* the process that ran INIT: the zygote */
} state;

int faas_init(void **st, const char *function)
{
    state *s = malloc(sizeof *s);
    if (s == NULL)
        return -1;
    snprintf(s->function, sizeof s->function, "%s", function);
    s->init_pid = getpid();
    *st = s;
    return 0;
}

void faas_shutdown(void *st)
{
    free(st);
}

int echo(faas_ctx *ctx, const void *payload, size_t len)
{
    return faas_reply(ctx, payload, len);
}

/* {"pid":P,"init_pid":I,"function":"F","request_id":"R","remaining_ok":1} */
int pid(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload; (void)len;
    state *s = faas_ctx_state(ctx);
    char out[256];
    int n = snprintf(out, sizeof out,
                     "{\"pid\":%d,\"init_pid\":%d,\"function\":\"%s\",\"request_id\":\"%s\","
                     "\"remaining_ok\":%d}", (int)getpid(), s ? (int)s->init_pid : -1,
                     faas_ctx_function(ctx), faas_ctx_request_id(ctx),
                     faas_ctx_remaining_ms(ctx) > 0);
    return faas_reply(ctx, out, (size_t)n);
}

int whoami(faas_ctx *ctx, const void *payload, size_t len)
{
    return pid(ctx, payload, len);
}

int logs(faas_ctx *ctx, const void *payload, size_t len)
{
    faas_ctx_log(ctx, "first line");
    faas_ctx_log(ctx, "got %zu bytes", len);
    return faas_reply(ctx, payload, len);
}

int fail(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload; (void)len;
    return faas_fail(ctx, "KeyError", "'action'");
}

/* A real NULL read: UBSan would stop it first (and exit rather than fault), so it is not
 * instrumented; ASan lets the fault happen. */
#if defined(__clang__)
__attribute__((no_sanitize("undefined")))
#elif defined(__GNUC__)
__attribute__((no_sanitize_undefined))
#endif
int null_deref(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)payload;
    volatile int *p = NULL;
    return p[len];              /* len is 0 or more: a read at NULL */
}

int do_abort(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)payload; (void)len;
    abort();
}

int spin(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)payload; (void)len;
    for (volatile unsigned long i = 0;; i++)
        ;
}

/* Allocate the payload's number of MB with malloc and touch every page; reply how many. */
int hog(faas_ctx *ctx, const void *payload, size_t len)
{
    char num[32];
    snprintf(num, sizeof num, "%.*s", (int)(len < 31 ? len : 31), (const char *)payload);
    size_t mb = (size_t)strtoul(num, NULL, 10);
    volatile char *p = malloc(mb << 20);
    for (size_t i = 0; i < (mb << 20); i += 4096)
        p[i] = 1;               /* a NULL p faults here, as careless code does */
    char out[32];
    int n = snprintf(out, sizeof out, "%zu", mb);
    free((void *)p);
    return faas_reply(ctx, out, (size_t)n);
}

int net(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload; (void)len;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        return faas_fail(ctx, "SocketError", "socket() failed");
    close(s);
    return faas_reply(ctx, "\"socket ok\"", 11);
}

int open_file(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload; (void)len;
    int fd = open("/dev/null", O_RDONLY);
    if (fd < 0)
        return faas_fail(ctx, "OpenError", "open() failed");
    close(fd);
    return faas_reply(ctx, "\"open ok\"", 9);
}

int exit3(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx; (void)payload; (void)len;
    exit(3);
}

/* Crashes when the payload starts with "crash", else echoes it. */
int maybe_crash(faas_ctx *ctx, const void *payload, size_t len)
{
    if (len >= 5 && memcmp(payload, "crash", 5) == 0)
        raise(SIGSEGV);
    return faas_reply(ctx, payload, len);
}

/* A reply of the payload's number of bytes, 'x' but for the first and last 'a' and 'z'. */
int big(faas_ctx *ctx, const void *payload, size_t len)
{
    char num[32];
    snprintf(num, sizeof num, "%.*s", (int)(len < 31 ? len : 31), (const char *)payload);
    size_t n = (size_t)strtoul(num, NULL, 10);
    char *b = faas_ctx_alloc(ctx, n);
    if (b == NULL)
        return -1;
    memset(b, 'x', n);
    if (n > 0) {
        b[0] = 'a';
        b[n - 1] = 'z';
    }
    return faas_reply(ctx, b, n);
}

/* faas_ctx_alloc past memory_mb: the arena refuses (the cooperative limit). */
int arena(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload; (void)len;
    void *p = faas_ctx_alloc(ctx, (size_t)1 << 40);
    return p == NULL ? -1 : 0;
}

/* One handler for every misbehaviour, chosen by the payload's first word: "segv", "abort",
 * "spin", "hog N" (MB), "net", "open", "exit N", "crash" (SIGSEGV), "big N" (a reply of N
 * bytes), "pid"; anything else is echoed. The tests call a bad word, then a good one. */
int dispatch(faas_ctx *ctx, const void *payload, size_t len)
{
    char word[64];
    snprintf(word, sizeof word, "%.*s", (int)(len < 63 ? len : 63), (const char *)payload);
    const char *arg = strchr(word, ' ') ? strchr(word, ' ') + 1 : "";
    size_t w = strcspn(word, " ");
    if (w == 4 && memcmp(word, "segv", 4) == 0)
        return null_deref(ctx, payload, 0);
    if (w == 5 && memcmp(word, "abort", 5) == 0)
        return do_abort(ctx, payload, len);
    if (w == 4 && memcmp(word, "spin", 4) == 0)
        return spin(ctx, payload, len);
    if (w == 7 && memcmp(word, "logspin", 7) == 0) {    /* logs without end */
        for (unsigned long i = 0;; i++)
            faas_ctx_log(ctx, "line %lu", i);
    }
    if (w == 3 && memcmp(word, "hog", 3) == 0)
        return hog(ctx, arg, strlen(arg));
    if (w == 3 && memcmp(word, "net", 3) == 0)
        return net(ctx, payload, len);
    if (w == 4 && memcmp(word, "open", 4) == 0)
        return open_file(ctx, payload, len);
    if (w == 4 && memcmp(word, "exit", 4) == 0)
        exit(atoi(arg));
    if (w == 5 && memcmp(word, "crash", 5) == 0)
        raise(SIGSEGV);
    if (w == 3 && memcmp(word, "big", 3) == 0)
        return big(ctx, arg, strlen(arg));
    if (w == 3 && memcmp(word, "pid", 3) == 0)
        return pid(ctx, payload, len);
    if (w == 4 && memcmp(word, "logs", 4) == 0)
        return logs(ctx, payload, len);
    if (w == 4 && memcmp(word, "fail", 4) == 0)
        return fail(ctx, payload, len);
    return faas_reply(ctx, payload, len);
}
