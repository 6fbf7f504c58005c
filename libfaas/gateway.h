/*
 * gateway.h - the HTTP gateway's private interface: a pure request -> response function
 * (gateway.c, the Lambda API's semantics) that the libmicrohttpd server (gateway_http.c)
 * calls, and that tests and the fuzzer call with no socket at all; the FunctionName parser
 * (gateway_name.c) and the JSON check (gateway_json.c) it uses.
 *
 * A request is handled in two steps, as the server sees it: faas__gw_begin() once the
 * headers are in (it refuses what it can before the body is read: authentication, routes,
 * names, the size from Content-Length), then faas__gw_finish() with the whole body.
 */
#ifndef FAAS_GATEWAY_H
#define FAAS_GATEWAY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "faas.h"

struct json_t;

/* The gateway's settings, resolved (no zero left to mean "default"). */
typedef struct faas__gw {
    faas_runtime *rt;
    char         *token;            /* NULL: no authentication */
    size_t        token_len;
    size_t        max_body;
    size_t        max_sync, max_async;
    unsigned      body_timeout_ms;
    char         *region, *account;
    faas_callback event_done;       /* every accepted Event call's callback, or NULL */
    void         *event_done_arg;
    char          started[32];      /* LastModified of every function: the start time */
    uint64_t      started_ns;       /* the same on the runtime's clock */
    bool          recent;           /* it keeps the runtime's recent records (recent.c) */
    bool          loopback;         /* it listens on a loopback address only */
    atomic_bool   draining;         /* every response then closes its connection */
} faas__gw;

/* Fill gw from rt and opts (NULL: defaults); faas__gw_free() releases it. */
int  faas__gw_init(faas__gw *gw, faas_runtime *rt, const faas_gateway_options *opts);
void faas__gw_free(faas__gw *gw);

#define FAAS__GW_NO_LENGTH UINT64_MAX

typedef struct faas__gw_req {
    const char *method;             /* "POST", "GET", ... */
    const char *target;             /* as sent: path and query, still percent-encoded */
    /* A request header by name (case-insensitive), NULL when absent. */
    const char *(*header)(void *arg, const char *name);
    void       *header_arg;
    uint64_t    content_length;     /* FAAS__GW_NO_LENGTH when not given (chunked) */
    const char *body;               /* faas__gw_finish() only: the whole body */
    size_t      len;
    bool        foreign;            /* from a local process of another user than the
                                       host's (and not root): without a token, refused */
} faas__gw_req;

#define FAAS__GW_HEADERS 10

typedef struct faas__gw_resp {
    unsigned    status;             /* 200, 202, 404, ... */
    size_t      nheaders;
    struct { const char *name, *value; } headers[FAAS__GW_HEADERS]; /* values live here */
    char       *body;               /* free() it when body_owned */
    size_t      len;
    bool        body_owned;
    bool        close;              /* close the connection after this response */
    char        request_id[37];
    char       *log_result;         /* X-Amz-Log-Result, malloc'd */
    char        executed[12];       /* X-Amz-Executed-Version: "$LATEST" or "3" */
} faas__gw_resp;

enum faas__gw_route {
    FAAS__GW_NONE, FAAS__GW_HEALTH, FAAS__GW_METRICS, FAAS__GW_LIST, FAAS__GW_GET,
    FAAS__GW_GET_CONFIG, FAAS__GW_INVOKE, FAAS__GW_INVOKE_ASYNC, FAAS__GW_CONSOLE,
    FAAS__GW_CONSOLE_STATE, FAAS__GW_CONSOLE_COST,
    /* the control plane of versions and aliases (gateway_versions.c) */
    FAAS__GW_PUBLISH, FAAS__GW_VERSIONS, FAAS__GW_ALIAS_CREATE, FAAS__GW_ALIASES,
    FAAS__GW_ALIAS_GET, FAAS__GW_ALIAS_UPDATE, FAAS__GW_ALIAS_DELETE, FAAS__GW_UPDATE_CODE
};
enum faas__gw_type { FAAS__GW_SYNC, FAAS__GW_EVENT, FAAS__GW_DRYRUN };

/* What faas__gw_begin() learnt, for faas__gw_finish(). */
typedef struct faas__gw_call {
    enum faas__gw_route route;
    enum faas__gw_type  type;
    bool                tail;       /* X-Amz-Log-Type: Tail */
    char                name[65];   /* the function, resolved from a name or an ARN */
    char                qual[129];  /* its qualifier ("3", "prod"), "" for $LATEST */
    char                qname[195]; /* NAME or NAME:QUALIFIER, what the library is given */
    char                alias[129]; /* .../aliases/ALIAS: the alias */
    size_t              limit;      /* the most body bytes to read */
    struct faas_function *fn;       /* Invoke: qname as begin found it, at epoch (the one */
    uint64_t            epoch;      /* lookup of the request: faas__invoke_known) */
} faas__gw_call;

/* Headers are in: true if resp is the answer now (the body is not needed, or refused);
 * false: read the body (at most call->limit bytes) and call faas__gw_finish(). Whether a
 * body still on its way is read (and thrown away) before the answer, or the connection
 * closed after it, is the HTTP layer's choice (gateway_http.c). */
bool faas__gw_begin(faas__gw *gw, const faas__gw_req *req, faas__gw_call *call,
                    faas__gw_resp *resp);
/* The body is in (req->body, req->len): fill resp. */
void faas__gw_finish(faas__gw *gw, const faas__gw_call *call, const faas__gw_req *req,
                     faas__gw_resp *resp);
/* The body went past call->limit: the 413 (size FAAS__GW_NO_LENGTH: not known). */
void faas__gw_too_large(faas__gw *gw, const faas__gw_call *call, uint64_t size,
                        faas__gw_resp *resp);
/* A request whose framing is ambiguous (why: "two Content-Length headers", ...): 400
 * InvalidRequestContentException, and the connection closed after it. */
void faas__gw_bad_framing(faas__gw *gw, const char *why, faas__gw_resp *resp);
/* Release what resp holds; safe twice and on a zeroed resp. */
void faas__gw_resp_free(faas__gw_resp *resp);

/* ---- gateway.c's answers, for gateway_versions.c ---- */

/* A service error: status, x-amzn-ErrorType TYPE and Lambda's JSON body. */
void faas__gw_error(faas__gw *gw, faas__gw_resp *r, unsigned status, const char *type,
                    const char *fmt, ...) FAAS_PRINTF(5, 6);
/* 400 ValidationException: VALUE (n bytes) at MEMBER fails CONSTRAINT. */
void faas__gw_validation(faas__gw *gw, faas__gw_resp *r, const char *value, size_t n,
                         const char *member, const char *constraint);
/* 404 ResourceNotFoundException "Function not found: ARN" (QUAL NULL: unqualified). */
void faas__gw_not_found(faas__gw *gw, faas__gw_resp *r, const char *name, const char *qual);
/* A JSON answer: status and the object o (stolen). */
void faas__gw_json(faas__gw *gw, faas__gw_resp *r, unsigned status, struct json_t *o);
/* An answer with no body (204). */
void faas__gw_empty(faas__gw *gw, faas__gw_resp *r, unsigned status);
/* The value of query parameter KEY, decoded into out (size > 0); false if absent. */
bool faas__gw_query(const char *query, const char *key, char *out, size_t size,
                    size_t *outlen);
/* The query's MaxItems (1-10000, default 50 when absent) into *page; false: r holds the
 * 400. */
bool faas__gw_max_items(faas__gw *gw, const char *query, unsigned *page, faas__gw_resp *r);
/* The function's ARN, qualified with QUAL unless it is NULL. */
struct json_t *faas__gw_arn(faas__gw *gw, const char *name, const char *qual);
/* One FunctionConfiguration of F at VERSION ("$LATEST", "3"); sha and description NULL
 * for $LATEST's own. */
struct json_t *faas__gw_configuration(faas__gw *gw, const faas_function_info *f,
                                      const char *version, const char *sha,
                                      const char *description);

/* ---- gateway_versions.c: PublishVersion, ListVersionsByFunction and the alias routes ---- */

/* Answer a control-plane route (call->route FAAS__GW_PUBLISH ... FAAS__GW_UPDATE_CODE) for
 * call->name (and call->alias); body is the request's (NULL, 0 for the routes without
 * one), query its query string. */
void faas__gw_control(faas__gw *gw, const faas__gw_call *call, const char *query,
                      const char *body, size_t len, faas__gw_resp *r);
/* Does the route take a JSON body? */
bool faas__gw_control_has_body(enum faas__gw_route route);
/* Is a an alias's name as Lambda's: 1-128 of [A-Za-z0-9_-], not only digits? */
bool faas__gw_alias_valid(const char *a, size_t n);

/* ---- gateway_name.c: a FunctionName, as Lambda's pattern sees it ---- */

typedef struct faas__gw_span {
    const char *p;
    size_t      n;
} faas__gw_span;

/* The pattern Lambda checks a FunctionName against, for its ValidationException. */
extern const char faas__gw_name_pattern[];

/* Does s[0..n) (percent-decoded) match faas__gw_name_pattern: a name, name:qualifier, a
 * partial or a full ARN? If so, *name is the function's name and *qual the qualifier it
 * carried (n 0 if none), both pointing into s. */
bool faas__gw_name_parse(const char *s, size_t n, faas__gw_span *name, faas__gw_span *qual);
/* Does q[0..n) have the shape of a Qualifier parameter ([a-zA-Z0-9$_-], 1 to 128
 * characters, or $LATEST.PUBLISHED)? Whether that version exists is another question. */
bool faas__gw_qualifier_valid(const char *q, size_t n);

/* ---- gateway_json.c: is a payload JSON? ---- */

#define FAAS__GW_JSON_DEPTH 1000        /* the nesting a payload may have */

/* Is data[0..n) one JSON value (RFC 8259, strict UTF-8, at most FAAS__GW_JSON_DEPTH
 * levels)? If not, *why says why and *at where. Allocates nothing. */
bool faas__gw_json_valid(const void *data, size_t n, const char **why, size_t *at);

/* A hexadecimal digit's value, -1 if c is none (a %XX escape, a JSON string's u-escape). */
static inline int faas__gw_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* ---- gateway_console.c: the web console (GET /console) ---- */

/* The page, libfaas/console.html as generated by mk/gateway.am (console_html.c). */
extern const char   faas__console_html[];
extern const size_t faas__console_html_len;

/* GET /console/api/state's body: {"functions": the registrations (faas_list()),
 * "metrics": faas_metrics_json()'s document}; *text is released with free(). */
int faas__console_state(faas__gw *gw, char **text, size_t *len);
/* GET /console/api/cost's body: {"uptime_ms", "model", "spent", "budgets", "projection"}
 * (see faas(1)); *text is released with free(). */
int faas__console_cost(faas__gw *gw, char **text, size_t *len);

#endif /* FAAS_GATEWAY_H */
