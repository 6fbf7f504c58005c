/* mod_nats.c - test fixture module for the NATS tests' worker processes: handlers that say
 * which process ran them, one that takes a little time (so a worker can be killed in the
 * middle of calls), and one that always fails. */
#include <faas.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int work(faas_ctx *ctx, const void *payload, size_t len);
int slow(faas_ctx *ctx, const void *payload, size_t len);
int always_fails(faas_ctx *ctx, const void *payload, size_t len);

/* "PID PAYLOAD": the producer counts calls per worker process from the replies. */
int work(faas_ctx *ctx, const void *payload, size_t len)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf, "%ld %.*s", (long)getpid(),
                     (int)(len < 200 ? len : 200), (const char *)payload);
    return faas_reply(ctx, buf, (size_t)n);
}

/* The same after 2 ms of work (a sleep stands for the work: it synchronises nothing). */
int slow(faas_ctx *ctx, const void *payload, size_t len)
{
    struct timespec ts = { 0, 2000000 };
    nanosleep(&ts, NULL);
    return work(ctx, payload, len);
}

int always_fails(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload; (void)len;
    return faas_fail(ctx, "AlwaysFails", "attempt failed in process %ld", (long)getpid());
}
