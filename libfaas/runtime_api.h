/*
 * runtime_api.h - the Lambda Runtime API server (runtime_api.c) as process instances
 * (process.c) use it. Never installed. The shared state is made per faas_runtime by the
 * first process function; each instance has its own listener on 127.0.0.1 and a free port,
 * its endpoint "127.0.0.1:PORT" (the host:port every runtime interface client parses), so
 * that it can fetch and answer only its own calls.
 *
 * An instance's listener has no thread: the thread that owns the instance (one at a time:
 * the one creating it, each call's, the one closing it) drives it while it waits on the
 * instance. It polls faas__rapi_fd (with faas__rapi_timeout) together with the process's
 * pidfd and its output pipe, and calls faas__rapi_run when the fd is readable or the
 * timeout is 0: the requests the runtime has sent are served there, on that thread, and
 * faas__rapi_run says when there is news for the host (the first next, an init error, an
 * answer whose 202 has been sent). The host offers a call (faas__rapi_offer); the
 * instance's GET .../invocation/next takes it (a next that came before the call waits,
 * suspended, until it is offered); its POST .../response or .../error answers it. Between
 * calls nobody drives the listener: what the runtime sends then waits in its socket.
 * Nothing here is locked: the pool's lock orders the owners.
 */
#ifndef FAAS_RUNTIME_API_H
#define FAAS_RUNTIME_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct faas__rapi faas__rapi;

typedef struct faas__rapi_answer {
    bool   error;           /* POST .../error (else .../response) */
    bool   too_large;       /* the body was past the limit (413); body is NULL */
    char  *body;            /* malloc'd, NUL-terminated; len bytes */
    size_t len;
    char  *error_type;      /* Lambda-Runtime-Function-Error-Type, or NULL */
} faas__rapi_answer;

/* A call. faas__rapi_offer keeps the pointers, not copies: they must stay valid until the
 * call is over (the answer taken, or faas__rapi_withdraw). */
typedef struct faas__rapi_call {
    const char *request_id;
    const void *payload;
    size_t      len;
    int64_t     deadline_ms;    /* Unix ms */
    const char *arn;
    const char *trace_id;
    const char *client_context; /* NULL: none */
    const char *cognito_identity;
} faas__rapi_call;

typedef struct faas__rapi_inst faas__rapi_inst;

/* RT's server, started on its first use, with a reference for the caller (who drops it
 * with faas__rapi_unref). max_body: the largest response or error body accepted. */
int  faas__rapi_get(faas_runtime *rt, faas__rapi **out, char *err, size_t errlen);
void faas__rapi_unref(faas__rapi *srv);

/* A new instance, listening, and its endpoint, "127.0.0.1:PORT". */
int  faas__rapi_inst_new(faas__rapi *srv, faas__rapi_inst **out);
const char *faas__rapi_endpoint(const faas__rapi_inst *inst);
/* fn(arg, true) runs each time the instance takes a call, before the call is sent to it,
 * and fn(arg, false) as it answers one, before its 202 is sent: what the runtime printed
 * before the first or after the second is not the call's (process_log.h). It runs inside
 * faas__rapi_run, on the owner's thread: fn must not call back into the server. */
void faas__rapi_on_mark(faas__rapi_inst *inst, void (*fn)(void *arg, bool taken), void *arg);
/* fn(arg, peer, port) runs for each connection the listener (127.0.0.1:port) accepts,
 * peer its other end: the connection is kept if it returns true, else closed before a
 * byte of it is read (so that only the instance's own processes are served). Inside
 * faas__rapi_run, on the owner's thread. Without it every connection is kept. */
struct sockaddr_in;
void faas__rapi_on_accept(faas__rapi_inst *inst,
                          bool (*fn)(void *arg, const struct sockaddr_in *peer, uint16_t port),
                          void *arg);
/* The fd to poll (POLLIN) for the listener's work, and the longest wait before
 * faas__rapi_run must run even if it is not readable: 0 now, -1 no limit (ms). */
int  faas__rapi_fd(const faas__rapi_inst *inst);
int  faas__rapi_timeout(faas__rapi_inst *inst);
/* Serve what the runtime has sent (never blocks): true if there is news for the host
 * since the last call (see faas__rapi_init_state, faas__rapi_answer_take). */
bool faas__rapi_run(faas__rapi_inst *inst);
/* The runtime's processes are gone: serve what they sent before (an answer, an init
 * error) without handing out a call, then stop. Bounded; never blocks. */
void faas__rapi_settle(faas__rapi_inst *inst);
/* INIT: 1 once the instance has asked for its first call; -1 if it posted an init error
 * (*body and *type, malloc'd, are what it said); 0 neither yet. */
int  faas__rapi_init_state(faas__rapi_inst *inst, char **body, char **type);
/* Offer a call to the instance (its pointers are kept: faas__rapi_call). */
void faas__rapi_offer(faas__rapi_inst *inst, const faas__rapi_call *call);
/* Has the instance taken the call on offer? */
bool faas__rapi_taken(faas__rapi_inst *inst);
/* The answer to the call, if there is one and its 202 has been sent (unsent: or not
 * yet), moved into *ans. */
bool faas__rapi_answer_take(faas__rapi_inst *inst, faas__rapi_answer *ans, bool unsent);
void faas__rapi_answer_free(faas__rapi_answer *ans);
/* The call is over (answered, timed out, dead): nothing of it is served any more. */
void faas__rapi_withdraw(faas__rapi_inst *inst);
/* The instance is gone: its listener is stopped (every connection closed) and inst is
 * freed. By its owner. */
void faas__rapi_inst_close(faas__rapi_inst *inst);

#endif /* FAAS_RUNTIME_API_H */
