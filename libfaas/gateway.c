/*
 * gateway.c - the AWS Lambda Invoke API's semantics as a pure request -> response
 * function: routes, authentication, payload limits, the status codes, headers and error
 * bodies of the real service. It knows no socket and no HTTP library (gateway_http.c
 * does), loads nothing, and takes no path from a request. What a FunctionName or an ARN
 * is made of is gateway_name.c's, whether a payload is JSON gateway_json.c's.
 */
#include "internal.h"
#include "process_code.h"

#include "base64.h"
#include "gateway.h"
#include "sha256.h"
#include "text.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#define DEFAULT_REGION  "us-east-1"
#define DEFAULT_ACCOUNT "000000000000"
#define DEFAULT_BODY_TIMEOUT_MS 30000u
#define LIST_PAGE_DEFAULT 50u           /* ListFunctions' MaxItems: 50 by default, */
#define LIST_PAGE_MAX 10000u            /* at most 10,000 (the service's range) */

#if defined(__x86_64__)
# define ARCH "x86_64"
#elif defined(__aarch64__)
# define ARCH "arm64"
#else
# define ARCH "unknown"
#endif

/* ---- settings ----------------------------------------------------------------------------- */

static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
            return false;
    return true;
}

int faas__gw_init(faas__gw *gw, faas_runtime *rt, const faas_gateway_options *opts)
{
    faas_gateway_options o;
    if (opts != NULL)
        o = *opts;
    else
        memset(&o, 0, sizeof o);
    memset(gw, 0, sizeof *gw);
    gw->rt = rt;
    gw->max_sync = o.max_payload_sync ? o.max_payload_sync : rt->opts.max_payload_sync;
    gw->max_async = o.max_payload_async ? o.max_payload_async : rt->opts.max_payload_async;
    gw->max_body = o.max_body ? o.max_body
                              : (gw->max_sync > gw->max_async ? gw->max_sync : gw->max_async);
    gw->body_timeout_ms = o.body_timeout_ms ? o.body_timeout_ms : DEFAULT_BODY_TIMEOUT_MS;
    gw->event_done = o.event_done;
    gw->event_done_arg = o.event_done_arg;
    if (o.token != NULL && o.token[0] != '\0') {
        /* It travels in a header: a space or a control character could never match. */
        if (!printable(o.token))
            return faas__fail(FAAS_EINVAL, "faas_gateway_start: the token must be printable "
                              "ASCII without spaces");
        gw->token = strdup(o.token);
        gw->token_len = strlen(o.token);
    }
    if ((o.region != NULL && (o.region[0] == '\0' || !printable(o.region) ||
                              strchr(o.region, ':') != NULL)) ||
        (o.account != NULL && (o.account[0] == '\0' || !printable(o.account) ||
                               strchr(o.account, ':') != NULL))) {
        free(gw->token);
        gw->token = NULL;
        return faas__fail(FAAS_EINVAL, "faas_gateway_start: region and account must be "
                          "printable, without ':'");
    }
    gw->region = strdup(o.region ? o.region : DEFAULT_REGION);
    gw->account = strdup(o.account ? o.account : DEFAULT_ACCOUNT);
    if ((o.token && o.token[0] && gw->token == NULL) || gw->region == NULL ||
        gw->account == NULL) {
        faas__gw_free(gw);
        return faas__fail(FAAS_ENOMEM, "faas_gateway_start: out of memory");
    }
    /* Lambda's LastModified format, 2026-11-26T22:00:40.123+0000. */
    char when[25];
    faas__format_time(faas__wall(rt), when);
    snprintf(gw->started, sizeof gw->started, "%.23s+0000", when);
    gw->started_ns = faas__now(rt);
    atomic_init(&gw->draining, false);
    /* The console's projection prices the calls seen from now on. */
    int rc = faas__recent_start(rt);
    if (rc != FAAS_OK) {
        faas__gw_free(gw);
        return rc;
    }
    gw->recent = true;
    return FAAS_OK;
}

void faas__gw_free(faas__gw *gw)
{
    if (gw->recent)
        faas__recent_stop(gw->rt);
    gw->recent = false;
    free(gw->token);
    free(gw->region);
    free(gw->account);
    gw->token = gw->region = gw->account = NULL;
}

/* ---- responses ---------------------------------------------------------------------------- */

void faas__gw_resp_free(faas__gw_resp *r)
{
    if (r->body_owned)
        free(r->body);
    free(r->log_result);
    r->body = NULL;
    r->len = 0;
    r->body_owned = false;
    r->log_result = NULL;
    r->nheaders = 0;
}

static void add_header(faas__gw_resp *r, const char *name, const char *value)
{
    if (r->nheaders < FAAS__GW_HEADERS) {
        r->headers[r->nheaders].name = name;
        r->headers[r->nheaders].value = value;
        r->nheaders++;
    }
}

static void set_body_static(faas__gw_resp *r, const char *body)
{
    r->body = (char *)body;
    r->len = strlen(body);
    r->body_owned = false;
}

static void set_body_owned(faas__gw_resp *r, char *body, size_t len)
{
    r->body = body;
    r->len = len;
    r->body_owned = true;
}

/* Start a response: its status and request id (a new one when id is NULL). */
static void start(faas__gw *gw, faas__gw_resp *r, unsigned status, const char *id)
{
    memset(r, 0, sizeof *r);
    r->status = status;
    if (id != NULL)
        memcpy(r->request_id, id, 37);
    else
        faas__request_id(r->request_id);
    add_header(r, "x-amzn-RequestId", r->request_id);
    r->close = atomic_load_explicit(&gw->draining, memory_order_relaxed);
}

/* Serialise o (stolen) as the body; on failure a fixed ServiceException body. */
static void set_body_json(faas__gw_resp *r, json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (s == NULL) {
        r->status = 500;
        set_body_static(r, "{\"Type\":\"Service\",\"Message\":\"out of memory\"}");
        return;
    }
    set_body_owned(r, s, strlen(s));
}

/* A service error as Lambda sends it: the status, x-amzn-ErrorType, and a JSON body
 * {"Type": "User"|"Service", message_key: message} (plus Reason when given). */
static void service_error(faas__gw *gw, faas__gw_resp *r, unsigned status, const char *type,
                          const char *reason, const char *id, const char *fmt, ...)
    FAAS_PRINTF(7, 8);
static void service_error(faas__gw *gw, faas__gw_resp *r, unsigned status, const char *type,
                          const char *reason, const char *id, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    start(gw, r, status, id);
    add_header(r, "x-amzn-ErrorType", type);
    add_header(r, "Content-Type", "application/json");
    json_t *o = json_object();
    if (o != NULL) {
        if (reason != NULL)
            json_object_set_new(o, "Reason", json_string(reason));
        json_object_set_new(o, "Type", json_string(status >= 500 ? "Service" : "User"));
        /* ResourceNotFoundException and ServiceException spell it Message (the model). */
        bool capital = strcmp(type, "ResourceNotFoundException") == 0 ||
                       strcmp(type, "ServiceException") == 0;
        json_object_set_new(o, capital ? "Message" : "message", faas__json_text(msg));
    }
    set_body_json(r, o);
}

static void not_found(faas__gw *gw, faas__gw_resp *r, const char *name, const char *qualifier,
                      const char *id)
{
    service_error(gw, r, 404, "ResourceNotFoundException", NULL, id,
                  "Function not found: arn:aws:lambda:%s:%s:function:%s%s%s", gw->region,
                  gw->account, name, qualifier ? ":" : "", qualifier ? qualifier : "");
}

void faas__gw_error(faas__gw *gw, faas__gw_resp *r, unsigned status, const char *type,
                    const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    service_error(gw, r, status, type, NULL, NULL, "%s", msg);
}

void faas__gw_not_found(faas__gw *gw, faas__gw_resp *r, const char *name, const char *qual)
{
    not_found(gw, r, name, qual, NULL);
}

void faas__gw_json(faas__gw *gw, faas__gw_resp *r, unsigned status, json_t *o)
{
    start(gw, r, status, NULL);
    add_header(r, "Content-Type", "application/json");
    set_body_json(r, o);
}

void faas__gw_empty(faas__gw *gw, faas__gw_resp *r, unsigned status)
{
    start(gw, r, status, NULL);
    set_body_static(r, "");
}

/* A value quoted in a message: printable ASCII only, at most 80 bytes. */
static void quote(char out[84], const char *s, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; i < n && j < 80; i++)
        out[j++] = ((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f) ? s[i] : '?';
    if (n > 80) {
        out[j++] = '.';
        out[j++] = '.';
        out[j++] = '.';
    }
    out[j] = '\0';
}

static void validation_error(faas__gw *gw, faas__gw_resp *r, const char *value, size_t n,
                             const char *member, const char *constraint)
{
    char q[84];
    quote(q, value, n);
    service_error(gw, r, 400, "ValidationException", NULL, NULL,
                  "1 validation error detected: Value '%s' at '%s' failed to satisfy "
                  "constraint: %s", q, member, constraint);
}

void faas__gw_validation(faas__gw *gw, faas__gw_resp *r, const char *value, size_t n,
                         const char *member, const char *constraint)
{
    validation_error(gw, r, value, n, member, constraint);
}

/* ---- authentication ------------------------------------------------------------------------ */

/* Compare in time that depends only on the expected token's length. */
static bool token_equal(const char *expected, size_t elen, const char *given, size_t glen)
{
    volatile unsigned char diff = (unsigned char)(elen != glen);
    for (size_t i = 0; i < elen; i++) {
        unsigned char g = glen ? (unsigned char)given[i % glen] : 0;
        diff |= (unsigned char)(g ^ (unsigned char)expected[i]);
    }
    return diff == 0;
}

/* The credential a request carries: "Bearer T", or SigV4's access key id (the gateway
 * does not check signatures, so an AWS client carries the token as its key id).
 * Returns false when there is none. */
static bool credential(const char *auth, const char **tok, size_t *len)
{
    if (auth == NULL)
        return false;
    while (*auth == ' ')
        auth++;
    if (strncasecmp(auth, "Bearer ", 7) == 0) {
        const char *t = auth + 7;
        while (*t == ' ')
            t++;
        size_t n = strlen(t);
        while (n > 0 && t[n - 1] == ' ')
            n--;
        *tok = t;
        *len = n;
        return n > 0;
    }
    if (strncmp(auth, "AWS4-HMAC-SHA256 ", 17) == 0) {
        const char *c = strstr(auth, "Credential=");
        if (c == NULL)
            return false;
        c += 11;
        *tok = c;
        *len = strcspn(c, "/, ");
        return *len > 0;
    }
    return false;
}

/* Is host (a Host header's value, or an origin's host[:port]) a loopback name:
 * localhost, 127.x.y.z or [::1], with or without a port? */
static bool loopback_host(const char *host)
{
    char name[64];
    size_t n;
    if (host[0] == '[') {
        const char *end = strchr(host, ']');
        n = end != NULL ? (size_t)(end - host - 1) : sizeof name;
        host++;
    } else {
        n = strcspn(host, ":");
    }
    if (n == 0 || n >= sizeof name)
        return false;
    memcpy(name, host, n);
    name[n] = '\0';
    if (name[n - 1] == '.')
        name[--n] = '\0';
    unsigned char a[16];
    return strcasecmp(name, "localhost") == 0 ||
           (inet_pton(AF_INET, name, a) == 1 && a[0] == 127) ||
           (inet_pton(AF_INET6, name, a) == 1 && IN6_IS_ADDR_LOOPBACK((struct in6_addr *)a));
}

/* Without a token, is the request its client's own, not a web page's? A browser run by
 * the host's user is that user's process: a page of any site could otherwise make it
 * call the gateway (a form or a "no-cors" fetch: a simple POST, no preflight), or read
 * the answers by DNS rebinding (its own name resolving to 127.0.0.1). Refused: a request
 * a browser marks as another site's (Sec-Fetch-Site), one whose Origin is not the
 * gateway's own (the Host it was sent to), and, where the gateway listens on loopback
 * only, one sent to a name that is not a loopback one. */
static const char *cross_site(const faas__gw *gw, const faas__gw_req *req)
{
    const char *site = req->header(req->header_arg, "Sec-Fetch-Site");
    const char *origin = req->header(req->header_arg, "Origin");
    const char *host = req->header(req->header_arg, "Host");
    if (site != NULL && strcasecmp(site, "same-origin") != 0 && strcasecmp(site, "none") != 0)
        return "Sec-Fetch-Site";
    if (origin != NULL) {
        const char *sep = strstr(origin, "://");
        if (sep == NULL || host == NULL || strcasecmp(sep + 3, host) != 0)
            return "Origin";
    }
    if (gw->loopback && host != NULL && !loopback_host(host))
        return "Host";
    return NULL;
}

/* NULL if the request may go on, else resp is filled with the 401 or 403. */
static bool authorised(faas__gw *gw, const faas__gw_req *req, faas__gw_resp *r)
{
    if (gw->token == NULL && req->foreign) {
        service_error(gw, r, 403, "AccessDeniedException", NULL, NULL,
                      "User: anonymous is not authorized: this gateway has no token, and "
                      "without one it serves only processes of its own user (uid %u) and "
                      "root; this client runs as another user (a function's runtime or "
                      "isolated instance does). Start the gateway with a token (faas serve "
                      "--token or FAAS_GATEWAY_TOKEN) to serve other users",
                      (unsigned)geteuid());
        return false;
    }
    const char *why = gw->token == NULL ? cross_site(gw, req) : NULL;
    if (why != NULL) {
        service_error(gw, r, 403, "AccessDeniedException", NULL, NULL,
                      "User: anonymous is not authorized: this gateway has no token, and "
                      "this request comes from a web page of another site, or was sent to "
                      "another host name (its %s header); start the gateway with a token "
                      "(faas serve --token or FAAS_GATEWAY_TOKEN) to serve web pages", why);
        return false;
    }
    if (gw->token == NULL)
        return true;
    const char *tok = NULL;
    size_t len = 0;
    if (!credential(req->header(req->header_arg, "Authorization"), &tok, &len)) {
        service_error(gw, r, 401, "MissingAuthenticationTokenException", NULL, NULL,
                      "Missing Authentication Token: send Authorization: Bearer TOKEN, or "
                      "sign with the token as the access key id");
        add_header(r, "WWW-Authenticate", "Bearer realm=\"libfaas\"");
        return false;
    }
    if (!token_equal(gw->token, gw->token_len, tok, len)) {
        service_error(gw, r, 403, "UnrecognizedClientException", NULL, NULL,
                      "The security token included in the request is invalid.");
        return false;
    }
    return true;
}

/* ---- the request target ----------------------------------------------------------------------- */

/* Percent-decode s[0..n) into out (room for n + 1); an invalid escape stays as it is.
 * Returns the decoded length; out is NUL-terminated (a decoded %00 is kept, so callers
 * compare lengths, not strlen). */
static size_t pct_decode(const char *s, size_t n, char *out)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = faas__gw_hexval(s[i + 1])) >= 0 &&
            (lo = faas__gw_hexval(s[i + 2])) >= 0) {
            out[j++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = '\0';
    return j;
}

/* The value of query parameter key (decoded into out, size > 0), or false. */
static bool query_param(const char *query, const char *key, char *out, size_t size,
                        size_t *outlen)
{
    if (query == NULL)
        return false;
    size_t klen = strlen(key);
    const char *p = query;
    while (*p) {
        size_t n = strcspn(p, "&");
        const char *eq = memchr(p, '=', n);
        size_t kn = eq ? (size_t)(eq - p) : n;
        if (kn == klen && memcmp(p, key, klen) == 0) {
            const char *v = eq ? eq + 1 : p + n;
            size_t vn = (size_t)(p + n - v);
            if (vn + 1 > size)
                vn = size - 1;      /* longer than anything valid: it will fail its check */
            char *tmp = malloc(vn + 1);
            if (tmp == NULL)
                return false;
            size_t d = pct_decode(v, vn, tmp);
            memcpy(out, tmp, d + 1);
            free(tmp);
            *outlen = d;
            return true;
        }
        p += n;
        if (*p == '&')
            p++;
    }
    return false;
}

bool faas__gw_query(const char *query, const char *key, char *out, size_t size,
                    size_t *outlen)
{
    return query_param(query, key, out, size, outlen);
}

/* ---- FunctionName and Qualifier: their answers (what they are made of: gateway_name.c) ---- */

#define NAMESPACED_MAX 256      /* NamespacedFunctionName: 1-256 characters */

/* Resolve a decoded FunctionName. true: call->name is set and *qual the qualifier it
 * carried (n 0 if none); false: resp holds the 400 or 404. */
static bool resolve_name(faas__gw *gw, const char *s, size_t n, faas__gw_call *call,
                         faas__gw_span *qual, faas__gw_resp *r)
{
    if (n == 0 || n > NAMESPACED_MAX) {
        validation_error(gw, r, s, n, "functionName", n ? "Member must have length less "
                         "than or equal to 256" : "Member must have length greater than or "
                         "equal to 1");
        return false;
    }
    faas__gw_span name;
    if (!faas__gw_name_parse(s, n, &name, qual)) {
        char constraint[320];
        snprintf(constraint, sizeof constraint,
                 "Member must satisfy regular expression pattern: %s", faas__gw_name_pattern);
        validation_error(gw, r, s, n, "functionName", constraint);
        return false;
    }
    /* It has the shape, but a libfaas name has no '.' and at most 64 characters: no
     * function can have it. */
    char q[84];
    quote(q, name.p, name.n);
    if (name.n > FAAS__NAME_MAX || memchr(name.p, '.', name.n) != NULL) {
        not_found(gw, r, q, NULL, NULL);
        return false;
    }
    memcpy(call->name, name.p, name.n);
    call->name[name.n] = '\0';
    return true;
}

/* The call's qualifier: the Qualifier parameter or the one the FunctionName carried (both
 * given: they must be the same, as Lambda), into call->qual ("" for $LATEST) and
 * call->qname. Whether it exists is asked later, of the library. false: resp holds the 400. */
static bool resolve_qualifier(faas__gw *gw, const char *query, const faas__gw_span *in_name,
                              faas__gw_call *call, faas__gw_resp *r)
{
    char qbuf[136];
    size_t qlen = 0;
    bool have = query_param(query, "Qualifier", qbuf, sizeof qbuf, &qlen);
    if (have && qlen > 0 && !faas__gw_qualifier_valid(qbuf, qlen)) {
        validation_error(gw, r, qbuf, qlen, "qualifier",
                         "Member must satisfy regular expression pattern: "
                         "(|[a-zA-Z0-9$_-]+)");
        return false;
    }
    have = have && qlen > 0;            /* Qualifier= (empty) is no qualifier */
    if (have && in_name->n > 0 &&
        (in_name->n != qlen || memcmp(in_name->p, qbuf, qlen) != 0)) {
        /* Lambda's words (LocalStack and the EventBridge Scheduler guide quote them). */
        service_error(gw, r, 400, "InvalidParameterValueException", NULL, NULL,
                      "The derived qualifier from the function name does not match the "
                      "specified qualifier.");
        return false;
    }
    const char *q = have ? qbuf : in_name->p;
    size_t n = have ? qlen : in_name->n;
    if (n > sizeof call->qual - 1) {    /* 128 at most: no version or alias has it */
        char quoted[84];
        quote(quoted, q, n);
        not_found(gw, r, call->name, quoted, NULL);
        return false;
    }
    if (n == 7 && memcmp(q, "$LATEST", 7) == 0)
        n = 0;                          /* $LATEST is the name itself */
    if (n > 0)                          /* (q is NULL when there is none) */
        memcpy(call->qual, q, n);
    call->qual[n] = '\0';
    if (n > 0)
        snprintf(call->qname, sizeof call->qname, "%s:%s", call->name, call->qual);
    else
        memcpy(call->qname, call->name, sizeof call->name);
    return true;
}

/* The qualifier of a 404, NULL for none. */
static const char *qual_of(const faas__gw_call *call)
{
    return call->qual[0] != '\0' ? call->qual : NULL;
}

/* Does the call's qualified name exist? If not, resp holds the 404 (Lambda's "Function not
 * found: <ARN>:QUALIFIER", as for a version or an alias). */
static bool exists(faas__gw *gw, const faas__gw_call *call, faas__gw_resp *r)
{
    /* faas_lookup(): an alias is found as itself, without drawing a routing choice (which
     * would move a seeded generator's sequence). */
    if (faas_lookup(gw->rt, call->qname) != NULL)
        return true;
    not_found(gw, r, call->name, qual_of(call), NULL);
    return false;
}

/* exists(), for an Invoke: the handle found is kept in call (fn, epoch), so that the call
 * itself does not look the name up again (faas__invoke_known). */
static bool exists_keep(faas__gw *gw, faas__gw_call *call, faas__gw_resp *r)
{
    call->fn = faas__lookup_epoch(gw->rt, call->qname, &call->epoch);
    if (call->fn != NULL)
        return true;
    not_found(gw, r, call->name, qual_of(call), NULL);
    return false;
}

/* ---- the Tail log ---------------------------------------------------------------------------- */

/* A base64 copy of n bytes at s (malloc'd), or NULL. */
static char *base64(const char *s, size_t n)
{
    char *out = malloc(FAAS__BASE64_LEN(n) + 1);
    if (out != NULL)
        faas__base64_encode(s, n, out);
    return out;
}

/* Lambda's Tail: the last 4 KB of START, what the call logged, END and REPORT. */
static char *tail_log(const faas_response *res)
{
    const faas_record *rec = &res->record;
    char report[256];
    int rn = faas_record_format(rec, report, sizeof report);
    if (rn < 0)
        report[0] = '\0';
    const char *logged = res->log_tail ? res->log_tail : "";
    size_t ln = strlen(logged);
    size_t cap = 64 + 37 + ln + 64 + strlen(report) + 8;
    char *all = malloc(cap);
    if (all == NULL)
        return NULL;
    char version[12] = "$LATEST";
    if (rec->version != 0)
        snprintf(version, sizeof version, "%u", (unsigned)rec->version);
    int n = snprintf(all, cap, "START RequestId: %s Version: %s\n%s%sEND RequestId: "
                     "%s\n%s\n", rec->request_id, version, logged,
                     (ln > 0 && logged[ln - 1] != '\n') ? "\n" : "", rec->request_id, report);
    size_t len = n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
    size_t from = len > FAAS__LOG_TAIL ? len - FAAS__LOG_TAIL : 0;
    char *b64 = base64(all + from, len - from);
    free(all);
    return b64;
}

/* ---- Invoke ------------------------------------------------------------------------------------ */

static bool function_error(int status)
{
    switch (status) {
    case FAAS_EHANDLER: case FAAS_ETIMEOUT: case FAAS_EMEMORY: case FAAS_ECRASHED:
    case FAAS_ELOAD: case FAAS_EINIT:
        return true;
    default:
        return false;
    }
}

/* A status no handler produced, as the service's error. */
static void status_error(faas__gw *gw, faas__gw_resp *r, const faas__gw_call *call, int status,
                         const char *message, const char *id)
{
    switch (status) {
    case FAAS_ENOTFOUND:
        not_found(gw, r, call->name, qual_of(call), id);
        break;
    case FAAS_ETHROTTLED:
        service_error(gw, r, 429, "TooManyRequestsException",
                      "ReservedFunctionConcurrentInvocationLimitExceeded", id, "%s", message);
        add_header(r, "Retry-After", "1");
        break;
    case FAAS_EBUSY:
        service_error(gw, r, 429, "TooManyRequestsException",
                      "ConcurrentInvocationLimitExceeded", id, "%s", message);
        add_header(r, "Retry-After", "1");
        break;
    case FAAS_ETOOLARGE:
        service_error(gw, r, 413, "RequestEntityTooLargeException", NULL, id, "%s", message);
        break;
    case FAAS_EINVAL:
        service_error(gw, r, 400, "InvalidParameterValueException", NULL, id, "%s", message);
        break;
    case FAAS_EBUDGET:
        service_error(gw, r, 402, "BudgetExceededException", NULL, id, "%s", message);
        break;
    default:
        service_error(gw, r, 500, "ServiceException", NULL, id, "%s: %s",
                      faas_err_name(status), message);
        break;
    }
}

/* size: the body's length, FAAS__GW_NO_LENGTH when only "more than the limit" is known.
 * The messages are the service's (faas-semantics.md 1.3). */
static void too_large(faas__gw *gw, const faas__gw_call *call, uint64_t size,
                      faas__gw_resp *r)
{
    if (call->route >= FAAS__GW_PUBLISH)
        service_error(gw, r, 413, "RequestEntityTooLargeException", NULL, NULL,
                      "Request must be smaller than %zu bytes for this operation",
                      call->limit);
    else if (call->type == FAAS__GW_EVENT && size != FAAS__GW_NO_LENGTH)
        service_error(gw, r, 413, "RequestEntityTooLargeException", NULL, NULL,
                      "%llu byte payload is too large for the Event invocation type (limit "
                      "%zu bytes)", (unsigned long long)size, call->limit);
    else if (call->type == FAAS__GW_EVENT)
        service_error(gw, r, 413, "RequestEntityTooLargeException", NULL, NULL,
                      "Request payload is too large for the Event invocation type (limit "
                      "%zu bytes)", call->limit);
    else
        service_error(gw, r, 413, "RequestEntityTooLargeException", NULL, NULL,
                      "Request must be smaller than %zu bytes for the InvokeFunction "
                      "operation", call->limit);   /* the service's words, as the core's */
}

void faas__gw_too_large(faas__gw *gw, const faas__gw_call *call, uint64_t size,
                        faas__gw_resp *r)
{
    too_large(gw, call, size, r);
}

void faas__gw_bad_framing(faas__gw *gw, const char *why, faas__gw_resp *r)
{
    service_error(gw, r, 400, "InvalidRequestContentException", NULL, NULL,
                  "The request is malformed: %s", why);
    r->close = true;        /* where the next request would start is not known */
}

/* ---- X-Amz-Client-Context ------------------------------------------------------------- */

#define CLIENT_CONTEXT_B64_MAX 3583     /* the Invoke API's limit, on the base64 text */

/* The request's X-Amz-Client-Context, checked: true and *json (malloc'd one-line JSON, NULL
 * when there is none) if it is fine; false with the 400 in r if not. */
static bool client_context(faas__gw *gw, const faas__gw_req *req, char **json,
                           faas__gw_resp *r)
{
    *json = NULL;
    const char *h = req->header(req->header_arg, "X-Amz-Client-Context");
    if (h == NULL || h[0] == '\0')
        return true;
    size_t n = strlen(h);
    if (n > CLIENT_CONTEXT_B64_MAX) {
        service_error(gw, r, 400, "InvalidRequestContentException", NULL, NULL,
                      "Client context must be no longer than %d bytes of base64 (it is %zu)",
                      CLIENT_CONTEXT_B64_MAX, n);
        return false;
    }
    unsigned char buf[CLIENT_CONTEXT_B64_MAX / 4 * 3 + 2];
    long len = faas__base64_decode(h, n, buf, FAAS__BASE64_PAD_OPTIONAL);
    int rc = len < 0 ? FAAS_EINVAL
                     : faas__client_context_check((const char *)buf, (size_t)len, json);
    if (rc == FAAS_ENOMEM) {
        service_error(gw, r, 500, "ServiceException", NULL, NULL, "out of memory");
        return false;
    }
    if (rc != FAAS_OK) {                /* FAAS_ETOOLARGE cannot be: 3,583 decode to less */
        service_error(gw, r, 400, "InvalidRequestContentException", NULL, NULL,
                      "Client context must be a valid Base64-encoded JSON object.");
        return false;
    }
    return true;
}

static void invoke_sync(faas__gw *gw, const faas__gw_call *call, const void *payload,
                        size_t len, faas__gw_resp *r, const char *cc)
{
    faas_response res;
    int rc;
    if (cc != NULL) {                   /* a client context: the by-name call that takes one */
        faas_invoke_options io = FAAS_INVOKE_OPTIONS_INIT;
        io.client_context = cc;
        rc = faas_invoke_ex(gw->rt, call->qname, payload, len, &io, &res);
    } else {
        rc = faas__invoke_known(gw->rt, call->qname, call->fn, call->epoch, payload, len, &res);
    }
    if (rc != FAAS_OK && !function_error(rc)) {
        status_error(gw, r, call, rc, res.error_message ? res.error_message
                                                        : faas_strerror(rc),
                     res.record.request_id);
        faas_response_free(&res);
        return;
    }
    start(gw, r, 200, res.record.request_id);
    add_header(r, "Content-Type", "application/json");
    /* The version that ran: an alias's call says which of its versions it went to. */
    if (res.record.version != 0)
        snprintf(r->executed, sizeof r->executed, "%u", (unsigned)res.record.version);
    else
        memcpy(r->executed, "$LATEST", 8);
    add_header(r, "X-Amz-Executed-Version", r->executed);
    if (rc != FAAS_OK)
        add_header(r, "X-Amz-Function-Error", "Unhandled");
    if (call->tail) {
        r->log_result = tail_log(&res);
        if (r->log_result != NULL)
            add_header(r, "X-Amz-Log-Result", r->log_result);
    }
    if (res.data != NULL && res.len > 0) {
        set_body_owned(r, res.data, res.len);
        res.data = NULL;            /* the response owns it now */
        res.len = 0;
    } else {
        /* No reply (the C API's empty one): Lambda's body for a handler that returns
         * nothing is JSON null, which clients decode; an empty body they cannot. */
        set_body_static(r, rc == FAAS_OK ? "null" : "");
    }
    faas_response_free(&res);
}

static void invoke_event(faas__gw *gw, const faas__gw_call *call, const void *payload,
                         size_t len, faas__gw_resp *r)
{
    char id[37];
    int rc = faas_invoke_async(gw->rt, call->qname, payload, len, gw->event_done,
                               gw->event_done_arg, id);
    if (rc != FAAS_OK) {
        status_error(gw, r, call, rc, faas_last_error(), NULL);
        return;
    }
    start(gw, r, 202, id);
    if (call->route == FAAS__GW_INVOKE_ASYNC) {
        add_header(r, "Content-Type", "application/json");
        set_body_static(r, "{\"Status\":202}");
    } else {
        set_body_static(r, "");
    }
}

static void invoke(faas__gw *gw, const faas__gw_call *call, const faas__gw_req *req,
                   faas__gw_resp *r)
{
    const void *payload = req->body;
    size_t len = req->len;
    if (len > call->limit) {        /* a caller that did not stop at the limit */
        too_large(gw, call, len, r);
        return;
    }
    if (len == 0) {
        payload = "{}";             /* as the service and SAM: no payload is {} */
        len = 2;
    } else {
        const char *why;
        size_t at;
        if (!faas__gw_json_valid(payload, len, &why, &at)) {
            service_error(gw, r, 400, "InvalidRequestContentException", NULL, NULL,
                          "Could not parse request body into json: Could not parse payload "
                          "into json: %s at byte %zu", why, at);
            return;
        }
    }
    if (call->type == FAAS__GW_DRYRUN) {
        if (!exists(gw, call, r))
            return;
        start(gw, r, 204, NULL);
        set_body_static(r, "");
    } else if (call->type == FAAS__GW_EVENT || call->route == FAAS__GW_INVOKE_ASYNC) {
        invoke_event(gw, call, payload, len, r);
    } else {
        /* Lambda hands ClientContext to synchronous calls only; Event calls drop it. */
        char *cc;
        if (client_context(gw, req, &cc, r))
            invoke_sync(gw, call, payload, len, r, cc);
        free(cc);
    }
}

/* ---- ListFunctions, GetFunction --------------------------------------------------------------- */

json_t *faas__gw_arn(faas__gw *gw, const char *name, const char *qual)
{
    char arn[320];
    snprintf(arn, sizeof arn, "arn:aws:lambda:%s:%s:function:%s%s%s", gw->region,
             gw->account, name, qual ? ":" : "", qual ? qual : "");
    return json_string(arn);
}

static json_t *arn_of(faas__gw *gw, const char *name)
{
    return faas__gw_arn(gw, name, NULL);
}

/* One FunctionConfiguration, as far as libfaas has its fields. */
static json_t *configuration(faas__gw *gw, const faas_function_info *f)
{
    return faas__gw_configuration(gw, f, "$LATEST", NULL, NULL);
}

/* The size and SHA-256 (base64, as Lambda's CodeSha256) of the file at path: *size -1
 * if it cannot be read. */
static void file_digest(const char *path, long long *size, char sha[48])
{
    *size = -1;
    sha[0] = '\0';
    FILE *fp = path ? fopen(path, "rb") : NULL;
    if (fp == NULL)
        return;
    faas__sha256 h;
    faas__sha256_init(&h);
    unsigned char buf[16384], d[32];
    size_t n;
    long long total = 0;
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0) {
        faas__sha256_update(&h, buf, n);
        total += (long long)n;
    }
    if (!ferror(fp)) {
        faas__sha256_final(&h, d);
        faas__sha256_base64(d, sha);
        *size = total;
    }
    fclose(fp);
}

/* A RevisionId (Lambda's is a UUID that changes with every change of the function): a
 * UUID-shaped digest of the name, version, code and updates, so the same state gives the
 * same id. */
static json_t *revision_id(const char *name, const char *version, const char *sha,
                           uint64_t updates)
{
    faas__sha256 h;
    unsigned char d[32];
    char text[600];
    int n = snprintf(text, sizeof text, "%s\n%s\n%s\n%llu", name, version, sha,
                     (unsigned long long)updates);
    faas__sha256_init(&h);
    faas__sha256_update(&h, text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
    faas__sha256_final(&h, d);
    d[6] = (unsigned char)((d[6] & 0x0f) | 0x40);
    d[8] = (unsigned char)((d[8] & 0x3f) | 0x80);
    char id[37];
    snprintf(id, sizeof id, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x", d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8],
             d[9], d[10], d[11], d[12], d[13], d[14], d[15]);
    return json_string(id);
}

/* Environment {Variables} from "NAME=value" strings (NULL when there are none, as Lambda
 * leaves Environment out). */
static json_t *environment(const char *const *env)
{
    if (env == NULL || env[0] == NULL)
        return NULL;
    json_t *vars = json_object(), *o = json_object();
    for (const char *const *e = env; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (eq == NULL)
            continue;
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)(eq - *e), *e);
        json_object_set_new(vars, key, faas__json_text(eq + 1));
    }
    json_object_set_new(o, "Variables", vars);
    return o;
}

json_t *faas__gw_configuration(faas__gw *gw, const faas_function_info *f,
                               const char *version, const char *sha, const char *description)
{
    bool latest = strcmp(version, "$LATEST") == 0;
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    char desc[160];
    if (strcmp(f->kind, "host") == 0)
        snprintf(desc, sizeof desc, "libfaas host function");
    else
        snprintf(desc, sizeof desc, "libfaas %s function: %s", f->kind, f->symbol);
    /* A process function: its _HANDLER, command and own environment (another function's
     * is in its config). */
    char *handler = NULL, *command = NULL, **env = NULL;
    bool process = faas__process_describe(gw->rt, f->name, &handler, &command, &env) ==
                   FAAS_OK;
    if (process)
        snprintf(desc, sizeof desc, "libfaas process function: %s", command);
    /* The code: a module's file (its SHA-256 the one faas_update_status reports for
     * $LATEST, which follows updates), a process function's command. */
    long long code_size = 0;
    char file_sha[48] = "";
    faas_update_info ui;
    memset(&ui, 0, sizeof ui);
    bool have_ui = faas_update_status(gw->rt, f->name, &ui) == FAAS_OK;
    const char *code_file = process ? command : f->module;
    uint64_t tree_size = 0;
    faas_version_info *vs = NULL;
    size_t nv = 0;
    if (!latest && faas_versions_list(gw->rt, f->name, &vs, &nv) == FAAS_OK) {
        /* A version's code is its frozen copy (a process function's task root) */
        for (size_t i = 0; i < nv; i++)
            if (vs[i].version == (uint32_t)strtoul(version, NULL, 10) && vs[i].code_size) {
                code_size = (long long)vs[i].code_size;
                code_file = NULL;
            }
        faas_versions_free(vs);
    } else if (latest && process &&
               faas__process_code(gw->rt, f->name, file_sha, &tree_size) == FAAS_OK) {
        /* $LATEST's code is its task root, as a publish would freeze it (process_code.c) */
        code_size = (long long)tree_size;
        code_file = NULL;
    }
    if (code_file != NULL)
        file_digest(code_file, &code_size, file_sha);
    if (code_size < 0)
        code_size = 0;
    if (sha == NULL && latest && have_ui && ui.code_sha256[0] != '\0')
        sha = ui.code_sha256;
    if (sha == NULL && file_sha[0] != '\0')
        sha = file_sha;
    if (sha == NULL)        /* no code file (a host function): the digest of no bytes */
        sha = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    json_object_set_new(o, "FunctionName", json_string(f->name));
    /* A version's ARN is qualified, as Lambda's; $LATEST's is not. */
    json_object_set_new(o, "FunctionArn", faas__gw_arn(gw, f->name, latest ? NULL : version));
    /* Lambda's Runtime enum: process functions are custom runtimes on Amazon Linux 2023
     * ("provided.al2023"); in-process ones have no managed runtime ("provided"). */
    json_object_set_new(o, "Runtime", json_string(process ? "provided.al2023" : "provided"));
    char role[160];
    snprintf(role, sizeof role, "arn:aws:iam::%s:role/libfaas-local", gw->account);
    json_object_set_new(o, "Role", json_string(role));
    json_object_set_new(o, "Handler", faas__json_text(process ? handler
                                                      : f->symbol ? f->symbol : f->name));
    json_object_set_new(o, "CodeSize", json_integer(code_size));
    json_object_set_new(o, "Description", faas__json_text(description && description[0]
                                                          ? description : desc));
    json_object_set_new(o, "CodeSha256", json_string(sha));
    json_object_set_new(o, "Timeout",
                        json_integer(((json_int_t)f->config.timeout_ms + 999) / 1000));
    json_object_set_new(o, "MemorySize", json_integer(f->config.memory_mb));
    json_object_set_new(o, "LastModified", json_string(gw->started));
    json_object_set_new(o, "Version", json_string(version));
    /* A function's variables may be secrets: only a gateway with a token shows them
     * (without one, every local process, another function's included, may ask). */
    json_t *e = gw->token == NULL ? NULL
              : environment(process ? (const char *const *)env : f->config.environment);
    if (e != NULL)
        json_object_set_new(o, "Environment", e);
    if (f->config.dead_letter != NULL) {
        json_t *dl = json_object();
        json_object_set_new(dl, "TargetArn", arn_of(gw, f->config.dead_letter));
        json_object_set_new(o, "DeadLetterConfig", dl);
    }
    json_object_set_new(o, "RevisionId", revision_id(f->name, version, sha,
                                                      have_ui ? ui.updates : 0));
    json_object_set_new(o, "State", json_string("Active"));
    /* $LATEST's last code update (faas_update_code); a version's code never changes. */
    const char *status = "Successful";
    if (latest && have_ui && ui.status == FAAS_UPDATE_FAILED)
        status = "Failed";
    else if (latest && have_ui && ui.status == FAAS_UPDATE_IN_PROGRESS)
        status = "InProgress";
    json_object_set_new(o, "LastUpdateStatus", json_string(status));
    if (strcmp(status, "Failed") == 0 && ui.reason[0] != '\0') {
        json_object_set_new(o, "LastUpdateStatusReason", faas__json_text(ui.reason));
        json_object_set_new(o, "LastUpdateStatusReasonCode", json_string("InternalError"));
    }
    json_object_set_new(o, "PackageType", json_string("Zip"));
    json_t *arch = json_array();
    json_array_append_new(arch, json_string(ARCH));
    json_object_set_new(o, "Architectures", arch);
    free(handler);
    free(command);
    faas__strv_free(env);
    return o;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool faas__gw_max_items(faas__gw *gw, const char *query, unsigned *page, faas__gw_resp *r)
{
    char buf[128];
    size_t blen;
    *page = LIST_PAGE_DEFAULT;
    if (query_param(query, "MaxItems", buf, sizeof buf, &blen)) {
        char *end;
        unsigned long v = strtoul(buf, &end, 10);
        if (blen == 0 || *end != '\0' || !is_digit(buf[0]) || v < 1 || v > LIST_PAGE_MAX) {
            validation_error(gw, r, buf, blen, "maxItems",
                             "Member must have value between 1 and 10000");
            return false;
        }
        *page = (unsigned)v;
    }
    return true;
}

static void list_functions(faas__gw *gw, const char *query, faas__gw_resp *r)
{
    unsigned page;
    if (!faas__gw_max_items(gw, query, &page, r))
        return;
    char marker[FAAS__NAME_MAX + 2] = "";
    size_t mlen = 0;
    bool have_marker = query_param(query, "Marker", marker, sizeof marker, &mlen);

    faas_function_info *infos;
    size_t n;
    int rc = faas_list(gw->rt, &infos, &n);
    if (rc != FAAS_OK) {
        service_error(gw, r, 500, "ServiceException", NULL, NULL, "%s", faas_last_error());
        return;
    }
    size_t i = 0;
    if (have_marker)                /* the page after the last name of the previous one */
        while (i < n && strcmp(infos[i].name, marker) <= 0)
            i++;
    json_t *o = json_object(), *fns = json_array();
    size_t shown = 0;
    for (; i < n && shown < page; i++, shown++)
        json_array_append_new(fns, configuration(gw, &infos[i]));
    json_object_set_new(o, "Functions", fns);
    json_object_set_new(o, "NextMarker", i < n && shown > 0 ? json_string(infos[i - 1].name)
                                                            : json_null());
    faas_info_free(infos);
    start(gw, r, 200, NULL);
    add_header(r, "Content-Type", "application/json");
    set_body_json(r, o);
}

static void get_function(faas__gw *gw, const faas__gw_call *call, faas__gw_resp *r)
{
    faas_function_info *f;
    if (faas_describe(gw->rt, call->name, &f) != FAAS_OK) {
        not_found(gw, r, call->name, NULL, NULL);
        return;
    }
    /* A version: its number, CodeSha256 and description; an alias: its version's. (The
     * rest is $LATEST's registration, which a version copied when it was published.) */
    char version[16] = "$LATEST", sha[48] = "", desc[260] = "";
    if (call->qual[0] != '\0') {
        uint32_t v = 0;
        faas_alias_info ai;
        if (faas_alias_get(gw->rt, call->name, call->qual, &ai) == FAAS_OK)
            v = ai.version;
        else
            v = (uint32_t)strtoul(call->qual, NULL, 10);
        faas_version_info *vs = NULL;
        size_t n = 0;
        if (v != 0 && faas_versions_list(gw->rt, call->name, &vs, &n) == FAAS_OK)
            for (size_t i = 0; i < n; i++)
                if (vs[i].version == v) {
                    snprintf(version, sizeof version, "%u", (unsigned)v);
                    snprintf(sha, sizeof sha, "%s", vs[i].code_sha256);
                    snprintf(desc, sizeof desc, "%s", vs[i].description);
                }
        faas_versions_free(vs);
        if (v != 0 && sha[0] == '\0') {    /* gone meanwhile */
            faas_info_free(f);
            not_found(gw, r, call->name, call->qual, NULL);
            return;
        }
    }
    json_t *cfg = faas__gw_configuration(gw, f, version, sha[0] ? sha : NULL, desc), *o = cfg;
    if (call->qual[0] != '\0' && strcmp(version, "$LATEST") != 0 &&
        strcmp(version, call->qual) != 0)   /* through an alias: the alias's ARN */
        json_object_set_new(cfg, "FunctionArn", faas__gw_arn(gw, call->name, call->qual));
    if (call->route == FAAS__GW_GET) {
        o = json_object();
        json_object_set_new(o, "Configuration", cfg);
        json_t *code = json_object();
        json_object_set_new(code, "RepositoryType", json_string("libfaas"));
        json_object_set_new(code, "Location", json_string(""));
        json_object_set_new(o, "Code", code);
        if (f->config.tag != NULL) {
            json_t *tags = json_object();
            json_object_set_new(tags, "tag", faas__json_text(f->config.tag));
            json_object_set_new(o, "Tags", tags);
        }
        if (f->config.max_concurrency != 0) {
            json_t *c = json_object();
            json_object_set_new(c, "ReservedConcurrentExecutions",
                                json_integer(f->config.max_concurrency));
            json_object_set_new(o, "Concurrency", c);
        }
    }
    faas_info_free(f);
    start(gw, r, 200, NULL);
    add_header(r, "Content-Type", "application/json");
    set_body_json(r, o);
}

/* ---- routing ------------------------------------------------------------------------------------ */

/* Split a path into at most 5 raw segments after the leading '/'; false if more. */
static bool segments(const char *path, size_t plen, faas__gw_span seg[5], int *count)
{
    int k = 0;
    if (plen == 0 || path[0] != '/')
        return false;
    size_t i = 1;
    for (;;) {
        size_t s = i;
        while (i < plen && path[i] != '/')
            i++;
        if (k == 5)
            return false;
        seg[k].p = path + s;
        seg[k].n = i - s;
        k++;
        if (i >= plen)
            break;
        i++;                        /* the '/' */
    }
    *count = k;
    return true;
}

static bool seg_is(const faas__gw_span *s, const char *lit)
{
    return s->n == strlen(lit) && memcmp(s->p, lit, s->n) == 0;
}

static bool method_is(const faas__gw_req *req, const char *m)
{
    return req->method != NULL && strcmp(req->method, m) == 0;
}

static void unknown_operation(faas__gw *gw, faas__gw_resp *r)
{
    service_error(gw, r, 404, "UnknownOperationException", NULL, NULL,
                  "Unknown operation: libfaas serves Invoke, ListFunctions, GetFunction, "
                  "GetFunctionConfiguration, PublishVersion, ListVersionsByFunction, "
                  "CreateAlias, GetAlias, UpdateAlias, DeleteAlias, ListAliases, /healthz, "
                  "/metrics and /console");
}

/* Prometheus text exposition of the runtime's counters, gauges and histograms. */
static void metrics(faas__gw *gw, faas__gw_resp *r)
{
    char *text;
    size_t len;
    if (faas_metrics_prometheus(gw->rt, &text, &len) != FAAS_OK) {
        service_error(gw, r, 500, "ServiceException", NULL, NULL, "%s", faas_last_error());
        return;
    }
    start(gw, r, 200, NULL);
    add_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    set_body_owned(r, text, len);   /* faas_free() is free(): the response frees it */
}

/* GET /console: the web console, one page with its script and style (no network). */
static void console_page(faas__gw *gw, faas__gw_resp *r)
{
    start(gw, r, 200, NULL);
    add_header(r, "Content-Type", "text/html; charset=utf-8");
    /* Nothing but this origin: the page fetches no script, style, font or image. */
    add_header(r, "Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; "
               "style-src 'unsafe-inline'; img-src data:; connect-src 'self'; "
               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    add_header(r, "X-Content-Type-Options", "nosniff");
    add_header(r, "Referrer-Policy", "no-referrer");
    add_header(r, "Cache-Control", "no-store");
    r->body = (char *)faas__console_html;
    r->len = faas__console_html_len;
    r->body_owned = false;
}

/* GET /console/api/state and /console/api/cost: what the console polls
 * (gateway_console.c). */
static void console_json(faas__gw *gw, faas__gw_resp *r,
                         int (*make)(faas__gw *gw, char **text, size_t *len))
{
    char *text;
    size_t len;
    if (make(gw, &text, &len) != FAAS_OK) {
        service_error(gw, r, 500, "ServiceException", NULL, NULL, "%s", faas_last_error());
        return;
    }
    start(gw, r, 200, NULL);
    add_header(r, "Content-Type", "application/json");
    add_header(r, "Cache-Control", "no-store");
    set_body_owned(r, text, len);
}

#define CONTROL_BODY_MAX 65536u         /* a control-plane request's JSON body */
/* UpdateFunctionCode's: Lambda's "Request must be smaller than 70167211 bytes for the
 * UpdateFunctionCode operation" (50 MB zipped, base64, in JSON); max_body still caps it. */
#define UPDATE_CODE_BODY_MAX 70167211u


/* Does route change what a function is (its code, versions, aliases)? */
static bool changes_functions(int route)
{
    return route == FAAS__GW_PUBLISH || route == FAAS__GW_ALIAS_CREATE ||
           route == FAAS__GW_ALIAS_UPDATE || route == FAAS__GW_ALIAS_DELETE ||
           route == FAAS__GW_UPDATE_CODE;
}

/* The Lambda action of a route that changes functions, for the 403's message. */
static const char *route_action(int route)
{
    switch (route) {
    case FAAS__GW_PUBLISH:      return "PublishVersion";
    case FAAS__GW_ALIAS_CREATE: return "CreateAlias";
    case FAAS__GW_ALIAS_UPDATE: return "UpdateAlias";
    case FAAS__GW_ALIAS_DELETE: return "DeleteAlias";
    default:                    return "UpdateFunctionCode";
    }
}

/* A control-plane route, its name resolved: the alias segment, then either the answer now
 * (true) or the body to read (false). A FunctionName with a qualifier names no function
 * these routes act on. */
static bool control_begin(faas__gw *gw, const faas__gw_req *req, faas__gw_call *call,
                          const faas__gw_span *alias_seg, bool qualified, const char *query,
                          faas__gw_resp *r)
{
    if (qualified) {
        service_error(gw, r, 400, "InvalidParameterValueException", NULL, NULL,
                      "The function name must not carry a qualifier for this operation: "
                      "%s", call->name);
        return true;
    }
    memcpy(call->qname, call->name, sizeof call->name);
    if (call->route == FAAS__GW_ALIAS_GET || call->route == FAAS__GW_ALIAS_UPDATE ||
        call->route == FAAS__GW_ALIAS_DELETE) {
        char a[136];
        size_t n = alias_seg->n < 135 ? alias_seg->n : 135;
        n = pct_decode(alias_seg->p, n, a);
        if (!faas__gw_alias_valid(a, n)) {
            validation_error(gw, r, a, n, "name", "Member must satisfy regular expression "
                             "pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)");
            return true;
        }
        memcpy(call->alias, a, n + 1);
    }
    if (!faas__gw_control_has_body(call->route)) {
        faas__gw_control(gw, call, query, NULL, 0, r);
        return true;
    }
    call->limit = call->route == FAAS__GW_UPDATE_CODE ? UPDATE_CODE_BODY_MAX : CONTROL_BODY_MAX;
    if (call->limit > gw->max_body)
        call->limit = gw->max_body;
    if (req->content_length != FAAS__GW_NO_LENGTH && req->content_length > call->limit) {
        faas__gw_too_large(gw, call, req->content_length, r);
        return true;
    }
    return false;
}

bool faas__gw_begin(faas__gw *gw, const faas__gw_req *req, faas__gw_call *call,
                    faas__gw_resp *r)
{
    memset(call, 0, sizeof *call);
    memset(r, 0, sizeof *r);
    const char *target = req->target ? req->target : "";
    const char *q = strchr(target, '?');
    size_t plen = q ? (size_t)(q - target) : strlen(target);
    const char *query = q ? q + 1 : NULL;
    bool get = method_is(req, "GET") || method_is(req, "HEAD");
    bool post = method_is(req, "POST");

    if (get && plen == 8 && memcmp(target, "/healthz", 8) == 0) {
        call->route = FAAS__GW_HEALTH;
        start(gw, r, 200, NULL);
        add_header(r, "Content-Type", "text/plain");
        set_body_static(r, "ok\n");
        return true;
    }
    /* The console's page carries no data and no secret (its token, if any, stays in the
     * URL fragment, which a browser never sends): it is served like /healthz, and what it
     * reads, /console/api/state, is authenticated like the API. */
    if (get && plen == 8 && memcmp(target, "/console", 8) == 0) {
        call->route = FAAS__GW_CONSOLE;
        console_page(gw, r);
        return true;
    }
    if (!authorised(gw, req, r))
        return true;

    faas__gw_span seg[5];
    int ns = 0;
    if (!segments(target, plen, seg, &ns)) {
        unknown_operation(gw, r);
        return true;
    }
    if (get && ns == 1 && seg_is(&seg[0], "metrics")) {
        call->route = FAAS__GW_METRICS;
        metrics(gw, r);
        return true;
    }
    if (get && ns == 3 && seg_is(&seg[0], "console") && seg_is(&seg[1], "api") &&
        (seg_is(&seg[2], "state") || seg_is(&seg[2], "cost"))) {
        bool cost = seg_is(&seg[2], "cost");
        call->route = cost ? FAAS__GW_CONSOLE_COST : FAAS__GW_CONSOLE_STATE;
        console_json(gw, r, cost ? faas__console_cost : faas__console_state);
        return true;
    }
    bool v2015 = ns >= 2 && seg_is(&seg[0], "2015-03-31") && seg_is(&seg[1], "functions");
    bool v2014 = ns >= 4 && seg_is(&seg[0], "2014-11-13") && seg_is(&seg[1], "functions");
    if (get && v2015 && (ns == 2 || (ns == 3 && seg[2].n == 0))) {
        call->route = FAAS__GW_LIST;
        list_functions(gw, query, r);
        return true;
    }
    bool put = method_is(req, "PUT"), del = method_is(req, "DELETE");
    if (v2015 && ns == 4 && post && seg_is(&seg[3], "invocations"))
        call->route = FAAS__GW_INVOKE;
    else if (v2015 && ns == 4 && seg_is(&seg[3], "versions") && (post || get))
        call->route = post ? FAAS__GW_PUBLISH : FAAS__GW_VERSIONS;
    else if (v2015 && ns == 4 && seg_is(&seg[3], "aliases") && (post || get))
        call->route = post ? FAAS__GW_ALIAS_CREATE : FAAS__GW_ALIASES;
    else if (v2015 && ns == 5 && seg_is(&seg[3], "aliases") && (get || put || del))
        call->route = get ? FAAS__GW_ALIAS_GET : put ? FAAS__GW_ALIAS_UPDATE
                                                     : FAAS__GW_ALIAS_DELETE;
    else if (v2015 && ns == 4 && seg_is(&seg[3], "code") && put)
        call->route = FAAS__GW_UPDATE_CODE;
    else if (v2015 && ns == 3 && get && seg[2].n > 0)
        call->route = FAAS__GW_GET;
    else if (v2015 && ns == 4 && get && seg_is(&seg[3], "configuration"))
        call->route = FAAS__GW_GET_CONFIG;
    else if (v2014 && post && seg_is(&seg[3], "invoke-async") &&
             (ns == 4 || (ns == 5 && seg[4].n == 0)))
        call->route = FAAS__GW_INVOKE_ASYNC;
    if (call->route == FAAS__GW_NONE) {
        unknown_operation(gw, r);
        return true;
    }
    /* Without a token, every process of the host's user and root may call the gateway
     * (authorised()), a function's runtime of a host not root included: it may run
     * functions, not change them (a module's new code is loaded into the host). */
    if (gw->token == NULL && changes_functions(call->route)) {
        service_error(gw, r, 403, "AccessDeniedException", NULL, NULL,
                      "User: anonymous is not authorized to perform: lambda:%s (this gateway "
                      "has no token: only one given a token, faas serve --token or "
                      "FAAS_GATEWAY_TOKEN, changes code, versions or aliases)",
                      route_action(call->route));
        return true;
    }

    /* The name segment, decoded here: an ARN's ':' and a '/' arrive percent-encoded. */
    char *name = malloc(seg[2].n + 1);
    if (name == NULL) {
        service_error(gw, r, 500, "ServiceException", NULL, NULL, "out of memory");
        return true;
    }
    size_t nlen = pct_decode(seg[2].p, seg[2].n, name);
    faas__gw_span qual;
    bool control = call->route >= FAAS__GW_PUBLISH;
    bool ok = resolve_name(gw, name, nlen, call, &qual, r) &&
              (control || resolve_qualifier(gw, query, &qual, call, r));
    free(name);
    if (!ok)
        return true;
    if (control)
        return control_begin(gw, req, call, &seg[4], qual.n > 0, query, r);
    if (call->route == FAAS__GW_GET || call->route == FAAS__GW_GET_CONFIG) {
        if (call->qual[0] == '\0' || exists(gw, call, r))
            get_function(gw, call, r);
        return true;
    }

    /* Invoke: the headers that shape it, then the size, all before the body is read. */
    call->type = call->route == FAAS__GW_INVOKE_ASYNC ? FAAS__GW_EVENT : FAAS__GW_SYNC;
    const char *type = req->header(req->header_arg, "X-Amz-Invocation-Type");
    if (call->route == FAAS__GW_INVOKE && type != NULL) {
        if (strcmp(type, "RequestResponse") == 0)
            call->type = FAAS__GW_SYNC;
        else if (strcmp(type, "Event") == 0)
            call->type = FAAS__GW_EVENT;
        else if (strcmp(type, "DryRun") == 0)
            call->type = FAAS__GW_DRYRUN;
        else {
            validation_error(gw, r, type, strlen(type), "invocationType",
                             "Member must satisfy enum value set: [Event, RequestResponse, "
                             "DryRun]");
            return true;
        }
    }
    const char *log = req->header(req->header_arg, "X-Amz-Log-Type");
    if (log != NULL && strcmp(log, "Tail") != 0 && strcmp(log, "None") != 0) {
        validation_error(gw, r, log, strlen(log), "logType",
                         "Member must satisfy enum value set: [None, Tail]");
        return true;
    }
    call->tail = log != NULL && strcmp(log, "Tail") == 0 && call->type == FAAS__GW_SYNC;
    char *cc;                           /* refused before the body is read; kept for later */
    if (!client_context(gw, req, &cc, r))
        return true;
    free(cc);
    call->limit = call->type == FAAS__GW_EVENT ? gw->max_async : gw->max_sync;
    if (call->limit > gw->max_body)
        call->limit = gw->max_body;
    if (req->content_length != FAAS__GW_NO_LENGTH && req->content_length > call->limit) {
        faas__gw_too_large(gw, call, req->content_length, r);
        return true;
    }
    return !exists_keep(gw, call, r);
}

void faas__gw_finish(faas__gw *gw, const faas__gw_call *call, const faas__gw_req *req,
                     faas__gw_resp *r)
{
    memset(r, 0, sizeof *r);
    if (call->route == FAAS__GW_INVOKE || call->route == FAAS__GW_INVOKE_ASYNC) {
        invoke(gw, call, req, r);
    } else if (faas__gw_control_has_body(call->route)) {
        const char *target = req->target ? req->target : "";
        const char *q = strchr(target, '?');
        faas__gw_control(gw, call, q ? q + 1 : NULL, req->body, req->len, r);
    } else
        unknown_operation(gw, r);
}
