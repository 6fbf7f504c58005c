/*
 * process_log.h - what a process instance prints (process_log.c): its stdout and stderr
 * share one pipe per instance, read by the thread that waits on the instance (process.c:
 * the INIT's, then each call's), never by a thread of its own. Each byte is the call's that
 * the instance had taken when the byte reached the pipe, or no call's (INIT, between
 * calls): the marks are set as the instance takes a call, before the runtime can see
 * it, and as it answers, before it hears the answer was received (faas__plog_mark, from
 * faas__rapi_on_mark), by the same thread that reads the pipe: the instance's owner serves
 * the runtime's requests itself (runtime_api.h). Lock order: a plog's lock is innermost.
 * Never installed.
 */
#ifndef FAAS_PROCESS_LOG_H
#define FAAS_PROCESS_LOG_H

#include "internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAAS__PLOG_LINE 8192u   /* longest line kept whole; a longer one is cut in pieces */

typedef struct faas__plog {
    faas_runtime   *rt;
    int             fd;         /* the pipe's read end (non-blocking), or -1 */
    bool            eof;        /* every writer is gone: no longer polled */
    pthread_mutex_t lock;       /* rd, from and to: the reader and the marks */
    uint64_t        rd;         /* bytes read from the pipe so far */
    uint64_t        from;       /* the call's first byte (UINT64_MAX: no call taken) */
    uint64_t        to;         /* past its last byte (UINT64_MAX: not answered) */
    bool            part_call;  /* the partial line below is the call's */
    size_t          part_len;
    char           *part;       /* a line without its newline yet (FAAS__PLOG_LINE) */
} faas__plog;

/* A pipe for an instance's output: *wr is the end its fds 1 and 2 get (close it once
 * spawned). FAAS_OK or FAAS_EINIT (errno says why). */
int  faas__plog_open(faas__plog *pl, faas_runtime *rt, int *wr);
/* Everything read, the partial line given to its owner, the pipe closed. */
void faas__plog_close(faas__plog *pl);
/* The fd to poll for output, or -1 (none, or at its end). */
int  faas__plog_fd(const faas__plog *pl);
/* A call is taken now (taken), or answered now (on_mark's callback). */
void faas__plog_mark(void *pl, bool taken);
/* The call is over: what follows is no call's. */
void faas__plog_unmark(faas__plog *pl);
/* Bytes still to read of the call's output: up to its answer's mark, or (no answer: a
 * timeout, a death) what the pipe holds now. */
size_t faas__plog_call_left(faas__plog *pl);
/* Read what the pipe holds now (at most max bytes; SIZE_MAX: until it is empty), giving
 * each line to ctx (the call in flight: faas_ctx_log, the call's log sink and tail) if the
 * call had been taken when it was printed, else to the function's log with no request id.
 * ctx NULL: no call in flight. Never blocks. */
void faas__plog_read(faas__plog *pl, faas_ctx *ctx, size_t max);
/* Bytes the pipe holds now. */
size_t faas__plog_pending(const faas__plog *pl);
/* Give the partial line to its owner (ctx, if it is the call's). */
void faas__plog_flush(faas__plog *pl, faas_ctx *ctx);

#endif /* FAAS_PROCESS_LOG_H */
