/*
 * journal.h - the journal of accepted asynchronous calls (faas_options.journal_dir): its
 * private interface to the scheduler, which journals a call before it accepts it and
 * marks it done when its completion is final. See journal.c.
 */
#ifndef FAAS_JOURNAL_H
#define FAAS_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct faas_runtime faas_runtime;
typedef struct faas__job faas__job;
typedef struct faas__journal faas__journal;
typedef struct faas__jreplay faas__jreplay;

enum { FAAS__JE_NONE = 0, FAAS__JE_JOB = 1, FAAS__JE_REPLAY = 2 };

/* A call's place in the journal, embedded in its job (sched.h) or in a call found at start
 * and not replayed yet. Everything but kind is under the journal's lock; kind is written
 * only by the thread that owns the job (NONE until the call is journaled, back to NONE
 * once it is done or kept). */
typedef struct faas__jentry {
    struct faas__jentry *prev, *next;   /* the journal's live calls */
    uint64_t    end;        /* the logical offset where its newest ACCEPT record ends */
    uint32_t    size;       /* that record's size in bytes */
    uint8_t     kind;       /* FAAS__JE_* */
    bool        own_name;   /* name is a malloc'd copy (a job of a name not registered here) */
    const char *name;       /* the function's name in the record */
} faas__jentry;

/* Open (creating it if needed) and lock the journal directory DIR, read what an earlier run
 * left there (the calls found wait for faas_journal_replay), and start a new segment that
 * holds only them. segment_bytes 0: the default. FAAS_EBUSY if another process has it. */
int  faas__journal_open(faas_runtime *rt, const char *dir, size_t segment_bytes,
                        faas__journal **out);
/* Its directory's absolute path (resolved when it was opened), or NULL: process instances
 * hide it from their runtimes. */
const char *faas__journal_path(const faas__journal *j);
/* faas_runtime_free() has begun: calls kept from now on must stay in the files, so no
 * segment is rewritten any more. */
void faas__journal_closing(faas__journal *j);
/* The end: write what is buffered, sync it, close the files, free. Every job is gone. */
void faas__journal_close(faas__journal *j);

/* Journal a new call (job->fn or name, payload, id, no_retry) and return once its record
 * is on disk (fdatasync): FAAS_OK, or FAAS_EIO (the journal cannot be written; the call
 * must be refused). name: what the call names (job->fn NULL: a copy is kept). */
int  faas__journal_accept(faas__journal *j, faas__job *job, const char *name);
/* The call's completion is final: a DONE record, written but not synced. */
void faas__journal_done(faas__journal *j, faas__job *job);
/* The call ends without having run (cancelled at shutdown): it stays in the files. */
void faas__journal_keep(faas__journal *j, faas__job *job);

/* What a call found at start holds. */
typedef struct faas__jcall {
    uint64_t       id[2];
    bool           no_retry;
    const char    *name;
    const void    *payload;
    size_t         len;
} faas__jcall;
void faas__journal_call(const faas__jreplay *rep, faas__jcall *out);
/* The new job of a replayed call takes over its entry: nothing is written. */
void faas__journal_adopt(faas__journal *j, faas__jreplay *rep, faas__job *job);
/* A replayed call that could not be queued completed at once (not registered): DONE. */
void faas__journal_drop(faas__journal *j, faas__jreplay *rep);

/* Scheduler side (sched.c): queue a call found in the journal as an async call with its
 * recorded id, exempt from the payload limit and queue_capacity; cb gets its completion.
 * A call that cannot be queued (its function is not registered) completes at once, through
 * cb, and is dropped from the journal. FAAS_ESHUTDOWN: the runtime is closing; rep stays. */
int  faas__sched_replay(faas_runtime *rt, faas__jreplay *rep,
                        void (*cb)(const struct faas_response *res, void *arg), void *arg);

#endif /* FAAS_JOURNAL_H */
