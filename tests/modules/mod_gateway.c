/* mod_gateway.c - test fixture module for the HTTP gateway's tests: a handler that logs
 * and fails, one that logs (its payload too) and replies, and one that holds its call until the test lets
 * it go (two FIFOs named by $FAAS_TEST_GATE: GATE.started, then GATE.release), so that a
 * test can have a call in progress without any sleep. */
#include <faas.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int logs(faas_ctx *ctx, const void *payload, size_t len);
int fail_logged(faas_ctx *ctx, const void *payload, size_t len);
int hold(faas_ctx *ctx, const void *payload, size_t len);
int client_context(faas_ctx *ctx, const void *payload, size_t len);

/* Replies with the call's client context ("null" without one). */
int client_context(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload;
    (void)len;
    const char *cc = faas_ctx_client_context(ctx);
    return faas_reply(ctx, cc ? cc : "null", strlen(cc ? cc : "null"));
}

int logs(faas_ctx *ctx, const void *payload, size_t len)
{
    faas_ctx_log(ctx, "handling %zu bytes", len);
    faas_ctx_log(ctx, "payload: %.*s", (int)len, (const char *)payload);
    faas_ctx_log(ctx, "all good");
    return faas_reply(ctx, payload, len);
}

int fail_logged(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload;
    faas_ctx_log(ctx, "about to fail on %zu bytes", len);
    return faas_fail(ctx, "KeyError", "'action'");
}

/* Says "started" (a byte into GATE.started), waits for a byte on GATE.release, replies
 * with the payload. Both opens block until the test opens the other end. */
int hold(faas_ctx *ctx, const void *payload, size_t len)
{
    const char *gate = getenv("FAAS_TEST_GATE");
    if (gate == NULL)
        return faas_fail(ctx, "Setup", "FAAS_TEST_GATE is not set");
    char path[4096];
    snprintf(path, sizeof path, "%s.started", gate);
    int fd = open(path, O_WRONLY);
    if (fd < 0 || write(fd, "s", 1) != 1) {
        if (fd >= 0)
            close(fd);
        return faas_fail(ctx, "Setup", "cannot write %s", path);
    }
    close(fd);
    snprintf(path, sizeof path, "%s.release", gate);
    fd = open(path, O_RDONLY);
    char c;
    if (fd < 0 || read(fd, &c, 1) != 1) {
        if (fd >= 0)
            close(fd);
        return faas_fail(ctx, "Setup", "cannot read %s", path);
    }
    close(fd);
    return faas_reply(ctx, payload, len);
}
