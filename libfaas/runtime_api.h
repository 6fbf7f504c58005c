/*
 * runtime_api.h - the Lambda Runtime API server (runtime_api.c) as process instances
 * (process.c) use it. Never installed. The shared state is made per faas_runtime by the
 * first process function; each instance has its own listener on 127.0.0.1 and a free port,
 * its endpoint "127.0.0.1:PORT" (the host:port every runtime interface client parses), so
 * that it can fetch and answer only its own calls.
 *
 * The host offers a call (faas__rapi_offer); the instance's GET .../invocation/next takes
 * it; its POST .../response or .../error answers it; the instance's wake fd (an eventfd)
 * becomes readable at each step the host waits for (the first next, an init error, an
 * answer). The host polls that fd and the process's pidfd together, so that a death and an
 * answer are seen by one poll(). Every field below is under the server's lock.
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
int  faas__rapi_wake_fd(const faas__rapi_inst *inst);
/* fn(arg, true) runs each time the instance takes a call, before the call is sent to it,
 * and fn(arg, false) as it answers one, before its 202 is sent: what the runtime printed
 * before the first or after the second is not the call's (process_log.h). On a connection
 * thread, under the server's lock: fn must not call back into the server. */
void faas__rapi_on_mark(faas__rapi_inst *inst, void (*fn)(void *arg, bool taken), void *arg);
/* Drain the wake fd (after poll said it is readable). */
void faas__rapi_drain(faas__rapi_inst *inst);
/* INIT: 1 once the instance has asked for its first call; -1 if it posted an init error
 * (*body and *type, malloc'd, are what it said); 0 neither yet. */
int  faas__rapi_init_state(faas__rapi_inst *inst, char **body, char **type);
/* Offer a call (copied) to the instance. */
int  faas__rapi_offer(faas__rapi_inst *inst, const faas__rapi_call *call);
/* Has the instance taken the call on offer? */
bool faas__rapi_taken(faas__rapi_inst *inst);
/* The answer to the call, if there is one (moved into *ans; the call is over). */
bool faas__rapi_answer_take(faas__rapi_inst *inst, faas__rapi_answer *ans);
void faas__rapi_answer_free(faas__rapi_answer *ans);
/* The instance is gone: a next it blocks in returns, its listener is stopped (its
 * connection threads joined: never call with the server's lock held), and inst is freed. */
void faas__rapi_inst_close(faas__rapi_inst *inst);

#endif /* FAAS_RUNTIME_API_H */
