/* mod_journal.c - test fixture module for the spool tests of `faas serve`: a handler whose
 * side effect can be counted from outside. It takes $FAAS_TEST_WORK_US microseconds (a
 * stand-in for real work, so that a backlog builds under load), then appends one line,
 * "<request id> <payload>", to the file $FAAS_TEST_SIDE_EFFECTS in one write(2). */
#include <faas.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int record_id(faas_ctx *ctx, const void *payload, size_t len);

int record_id(faas_ctx *ctx, const void *payload, size_t len)
{
    const char *path = getenv("FAAS_TEST_SIDE_EFFECTS");
    const char *work = getenv("FAAS_TEST_WORK_US");
    if (path == NULL)
        return faas_fail(ctx, "Setup", "FAAS_TEST_SIDE_EFFECTS is not set");
    long us = work ? strtol(work, NULL, 10) : 0;
    if (us > 0) {
        struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
        nanosleep(&ts, NULL);
    }
    char line[512];
    int n = snprintf(line, sizeof line, "%s %.*s\n", faas_ctx_request_id(ctx),
                     (int)(len < 400 ? len : 400), (const char *)payload);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, line, (size_t)n) != n) {
        if (fd >= 0)
            close(fd);
        return faas_fail(ctx, "Setup", "cannot append to %s", path);
    }
    close(fd);
    return faas_reply(ctx, "null", 4);
}
