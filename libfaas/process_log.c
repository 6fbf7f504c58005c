/*
 * process_log.c - a process instance's output as log lines (process_log.h): one pipe per
 * instance for its stdout and stderr, read without blocking by whichever thread waits on
 * the instance (process.c), cut into lines, each line given to the call it was printed
 * during (faas_ctx_log: the call's log sink lines and its log tail, as a module's own) or
 * to the function's log with no request id (INIT, between calls). Without a log sink every
 * line also goes to the host's stderr, where a process function's output went before.
 * Memory is bounded: a chunk on the stack, one partial line of at most FAAS__PLOG_LINE
 * bytes per instance, and the call's tail (invoke.c keeps its last 4 KB).
 */
#include "process_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#define CHUNK 8192u

int faas__plog_open(faas__plog *pl, faas_runtime *rt, int *wr)
{
    memset(pl, 0, sizeof *pl);
    pl->rt = rt;
    pl->fd = -1;
    pl->from = pl->to = UINT64_MAX;
    pthread_mutex_init(&pl->lock, NULL);
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return FAAS_EINIT;
    /* Only the host's end: the runtime's stdout stays an ordinary blocking pipe. */
    if (fcntl(p[0], F_SETFL, O_NONBLOCK) != 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        errno = e;
        return FAAS_EINIT;
    }
    pl->fd = p[0];
    *wr = p[1];
    return FAAS_OK;
}

int faas__plog_fd(const faas__plog *pl)
{
    return pl->eof ? -1 : pl->fd;
}

size_t faas__plog_pending(const faas__plog *pl)
{
    int n = 0;
    if (pl->fd < 0 || pl->eof || ioctl(pl->fd, FIONREAD, &n) != 0 || n < 0)
        return 0;
    return (size_t)n;
}

void faas__plog_mark(void *arg, bool taken)
{
    faas__plog *pl = arg;
    int n = 0;
    pthread_mutex_lock(&pl->lock);
    /* What the pipe holds now was printed before the runtime could see the call (taken),
     * or before it could know its answer was received: it prints before it answers. */
    if (pl->fd < 0 || ioctl(pl->fd, FIONREAD, &n) != 0 || n < 0)
        n = 0;
    if (taken) {
        pl->from = pl->rd + (uint64_t)n;
        pl->to = UINT64_MAX;
    } else {
        pl->to = pl->rd + (uint64_t)n;
    }
    pthread_mutex_unlock(&pl->lock);
}

void faas__plog_unmark(faas__plog *pl)
{
    pthread_mutex_lock(&pl->lock);
    pl->from = pl->to = UINT64_MAX;
    pthread_mutex_unlock(&pl->lock);
}

size_t faas__plog_call_left(faas__plog *pl)
{
    pthread_mutex_lock(&pl->lock);
    uint64_t rd = pl->rd, to = pl->to;
    pthread_mutex_unlock(&pl->lock);
    if (to == UINT64_MAX)
        return faas__plog_pending(pl);
    return to > rd ? (size_t)(to - rd) : 0;
}

static void to_stderr(const char *s, size_t n)
{
    char nl = '\n';
    while (n > 0) {
        ssize_t w = write(2, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
    while (write(2, &nl, 1) < 0 && errno == EINTR)
        ;
}

/* One line (n <= FAAS__PLOG_LINE bytes, no newline): the call's, or no call's. */
static void emit(faas__plog *pl, faas_ctx *ctx, bool call, const char *s, size_t n)
{
    bool sink = pl->rt->opts.log != NULL;
    if (!sink)
        to_stderr(s, n);
    if (call && ctx != NULL) {
        faas_ctx_log(ctx, "%.*s", (int)n, s);
    } else if (sink) {
        char line[FAAS__PLOG_LINE + 1];
        memcpy(line, s, n);
        line[n] = '\0';
        faas__log_line(pl->rt, line);
    }
}

void faas__plog_flush(faas__plog *pl, faas_ctx *ctx)
{
    if (pl->part_len == 0)
        return;
    emit(pl, ctx, pl->part_call, pl->part, pl->part_len);
    pl->part_len = 0;
}

/* n bytes that are all the call's (call) or all no call's. */
static void feed(faas__plog *pl, faas_ctx *ctx, bool call, const char *s, size_t n)
{
    if (pl->part_len > 0 && pl->part_call != call)
        faas__plog_flush(pl, ctx);      /* its owner's, not the next bytes' */
    while (n > 0) {
        const char *nl = memchr(s, '\n', n);
        size_t k = nl ? (size_t)(nl - s) : n;
        if (pl->part_len == 0 && nl != NULL && k <= FAAS__PLOG_LINE) {
            emit(pl, ctx, call, s, k);  /* a whole line: no copy */
            s += k + 1;
            n -= k + 1;
            continue;
        }
        if (pl->part == NULL && (pl->part = malloc(FAAS__PLOG_LINE)) == NULL) {
            size_t c = k < FAAS__PLOG_LINE ? k : FAAS__PLOG_LINE;
            emit(pl, ctx, call, s, c);  /* out of memory: in pieces, but all of it */
            s += c;
            n -= c;
            if (nl != NULL && c == k) {
                s++;
                n--;
            }
            continue;
        }
        size_t room = FAAS__PLOG_LINE - pl->part_len;
        size_t c = k < room ? k : room;
        memcpy(pl->part + pl->part_len, s, c);
        pl->part_len += c;
        pl->part_call = call;
        s += c;
        n -= c;
        bool end = nl != NULL && c == k;
        if (end) {
            s++;
            n--;
        }
        if (end || pl->part_len == FAAS__PLOG_LINE) {
            emit(pl, ctx, call, pl->part, pl->part_len);  /* a longer line: cut here */
            pl->part_len = 0;
        }
    }
}

void faas__plog_read(faas__plog *pl, faas_ctx *ctx, size_t max)
{
    char buf[CHUNK];
    while (max > 0 && pl->fd >= 0 && !pl->eof) {
        size_t want = max < sizeof buf ? max : sizeof buf;
        /* The read and its offset under the lock, so that the mark of a call taken now
         * falls before or after these bytes, not among them. */
        pthread_mutex_lock(&pl->lock);
        ssize_t r = read(pl->fd, buf, want);
        int e = errno;
        uint64_t off = pl->rd, from = pl->from, to = pl->to;
        if (r > 0)
            pl->rd += (uint64_t)r;
        pthread_mutex_unlock(&pl->lock);
        if (r < 0 && e == EINTR)
            continue;
        if (r == 0 || (r < 0 && e != EAGAIN))
            pl->eof = true;             /* no process holds it any more (or it failed) */
        if (r <= 0)
            break;
        /* [off, off + got): before from, no call's; from up to to, the call's; after */
        size_t got = (size_t)r;
        uint64_t end = off + got;
        uint64_t a = from < off ? off : from > end ? end : from;
        uint64_t b = to < a ? a : to > end ? end : to;
        if (a > off)
            feed(pl, ctx, false, buf, (size_t)(a - off));
        if (b > a)
            feed(pl, ctx, true, buf + (a - off), (size_t)(b - a));
        if (end > b)
            feed(pl, ctx, false, buf + (b - off), (size_t)(end - b));
        max -= got;
    }
}

void faas__plog_close(faas__plog *pl)
{
    faas__plog_read(pl, NULL, faas__plog_pending(pl));  /* its processes are gone */
    faas__plog_flush(pl, NULL);
    if (pl->fd >= 0)
        close(pl->fd);
    pl->fd = -1;
    free(pl->part);
    pl->part = NULL;
    pthread_mutex_destroy(&pl->lock);
}
