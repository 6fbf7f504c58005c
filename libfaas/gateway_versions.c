/*
 * gateway_versions.c - the Lambda control plane of versions and aliases on the gateway:
 * PublishVersion, ListVersionsByFunction, CreateAlias, GetAlias, UpdateAlias, DeleteAlias,
 * ListAliases and UpdateFunctionCode, with the service's routes, request and response
 * shapes, status codes and error codes, over faas_publish_version(), faas_versions_list(),
 * faas_alias_set/get/delete(), faas_aliases_list(), faas_update_code() and
 * faas_update_status(). gateway.c
 * routes, authenticates and resolves the FunctionName before any of this runs.
 *
 * Sources: the routes, status codes and modeled errors are botocore's Lambda model
 * (botocore/data/lambda/2015-03-31/service-2.json: CreateAlias 201, PublishVersion 201,
 * DeleteAlias 204, UpdateAlias PUT 200 with PreconditionFailedException 412, ...) and the
 * API reference (docs.aws.amazon.com/lambda/latest/api/API_CreateAlias.html and its
 * siblings); the error messages are those LocalStack checks against the service
 * ("Alias already exists: <ARN>", "Cannot find alias arn: <ARN>", "$LATEST is not
 * supported for an alias pointing to more than 1 version", "Number of items in
 * AdditionalVersionWeights cannot be greater than 1", the ValidationException of a weight
 * out of range, the RevisionId's PreconditionFailedException: localstack/localstack,
 * services/lambda_/provider.py).
 *
 * What libfaas does not keep: an alias's Description (answered ""), a RevisionId other
 * than the alias's revision number ("1", "2", ...), PublishVersion's CodeSha256 and
 * RevisionId preconditions (accepted, not checked).
 */
#include "internal.h"

#include "base64.h"
#include "gateway.h"
#include "text.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#define DESCRIPTION_MAX 256
#define WEIGHT_CONSTRAINT "Map value must satisfy constraint: [Member must have value less " \
    "than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must " \
    "not be null]"
#define WEIGHT_KEY_CONSTRAINT "Map keys must satisfy constraint: [Member must have length " \
    "less than or equal to 1024, Member must have length greater than or equal to 1, " \
    "Member must satisfy regular expression pattern: [0-9]+, Member must not be null]"

bool faas__gw_control_has_body(enum faas__gw_route route)
{
    return route == FAAS__GW_PUBLISH || route == FAAS__GW_ALIAS_CREATE ||
           route == FAAS__GW_ALIAS_UPDATE || route == FAAS__GW_UPDATE_CODE;
}

bool faas__gw_alias_valid(const char *a, size_t n)
{
    bool digits = true;
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        bool d = c >= '0' && c <= '9';
        if (!(d || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_'))
            return false;
        digits = digits && d;
    }
    return !digits;
}

/* A version's text ("$LATEST", "3") as the library's number (0: $LATEST); false if it is
 * neither. */
static bool version_number(const char *s, uint32_t *v)
{
    if (strcmp(s, "$LATEST") == 0) {
        *v = 0;
        return true;
    }
    uint64_t x = 0;
    size_t i = 0;
    for (; s[i] >= '0' && s[i] <= '9' && i < 10; i++)
        x = x * 10 + (uint64_t)(s[i] - '0');
    if (i == 0 || s[i] != '\0' || x == 0 || x > UINT32_MAX)
        return false;
    *v = (uint32_t)x;
    return true;
}

static void version_text(uint32_t v, char out[12])
{
    if (v == 0)
        memcpy(out, "$LATEST", 8);
    else
        snprintf(out, 12, "%u", (unsigned)v);
}

/* The request's JSON object (an empty body is {}); NULL: r holds the 400. */
static json_t *parse_body(faas__gw *gw, const char *body, size_t len, faas__gw_resp *r)
{
    if (len == 0)
        return json_object();
    json_error_t e;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        faas__gw_error(gw, r, 400, "InvalidRequestContentException", "Could not parse "
                       "request body into json: %s", o == NULL ? e.text
                                                                : "not a JSON object");
        return NULL;
    }
    return o;
}

/* Member KEY of o as a string: absent (NULL, true), a string (true), or anything else
 * (false, r holds the 400). */
static bool string_member(faas__gw *gw, json_t *o, const char *key, const char **out,
                          faas__gw_resp *r)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return true;
    if (!json_is_string(v)) {
        faas__gw_error(gw, r, 400, "InvalidParameterValueException", "%s must be a string",
                       key);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

static bool description_ok(faas__gw *gw, const char *d, faas__gw_resp *r)
{
    if (d == NULL || strlen(d) <= DESCRIPTION_MAX)
        return true;
    faas__gw_validation(gw, r, d, strlen(d), "description",
                        "Member must have length less than or equal to 256");
    return false;
}

/* Does NAME:VERSION exist (a published version)? */
static bool version_exists(faas__gw *gw, const char *name, uint32_t v)
{
    if (v == 0)
        return true;
    char key[96];
    int st;
    snprintf(key, sizeof key, "%s:%u", name, (unsigned)v);
    return faas__lookup_fn(gw->rt, key, &st) != NULL;
}

/* A library error as the service's (the function, or a version, gone meanwhile...). */
static void library_error(faas__gw *gw, const faas__gw_call *call, int rc, faas__gw_resp *r)
{
    switch (rc) {
    case FAAS_ENOTFOUND:
        faas__gw_not_found(gw, r, call->name, NULL);
        break;
    case FAAS_EINVAL: case FAAS_ENOTSUP:
        faas__gw_error(gw, r, 400, "InvalidParameterValueException", "%s", faas_last_error());
        break;
    case FAAS_EBUSY:
        faas__gw_error(gw, r, 409, "ResourceConflictException", "%s", faas_last_error());
        break;
    default:
        faas__gw_error(gw, r, 500, "ServiceException", "%s: %s", faas_err_name(rc),
                       faas_last_error());
        break;
    }
}

/* ---- versions ----------------------------------------------------------------------------- */

/* The function's registration, or NULL with r holding the 404. */
static faas_function_info *describe(faas__gw *gw, const faas__gw_call *call, faas__gw_resp *r)
{
    faas_function_info *f = NULL;
    if (faas_describe(gw->rt, call->name, &f) != FAAS_OK)
        faas__gw_not_found(gw, r, call->name, NULL);
    return f;
}

static json_t *version_configuration(faas__gw *gw, const faas_function_info *f,
                                     const faas_version_info *v)
{
    char text[12];
    version_text(v->version, text);
    return faas__gw_configuration(gw, f, text, v->code_sha256, v->description);
}

/* POST /2015-03-31/functions/NAME/versions {"Description", "CodeSha256", "RevisionId"}:
 * 201 and the version's FunctionConfiguration. */
static void publish(faas__gw *gw, const faas__gw_call *call, json_t *in, faas__gw_resp *r)
{
    const char *desc;
    if (!string_member(gw, in, "Description", &desc, r) || !description_ok(gw, desc, r))
        return;
    faas_function_info *f = describe(gw, call, r);
    if (f == NULL)
        return;
    uint32_t number;
    int rc = faas_publish_version(gw->rt, call->name, desc, &number);
    faas_version_info *vs = NULL;
    size_t n = 0;
    if (rc == FAAS_OK)
        rc = faas_versions_list(gw->rt, call->name, &vs, &n);
    const faas_version_info *v = NULL;
    for (size_t i = 0; rc == FAAS_OK && i < n; i++)
        if (vs[i].version == number)
            v = &vs[i];
    if (rc != FAAS_OK)
        library_error(gw, call, rc, r);
    else if (v == NULL)
        faas__gw_not_found(gw, r, call->name, NULL);    /* unregistered meanwhile */
    else
        faas__gw_json(gw, r, 201, version_configuration(gw, f, v));
    faas_versions_free(vs);
    faas_info_free(f);
}

/* Answer items[from..] as a page of at most `page` under KEY, with NextMarker the
 * MARKER_FIELD of the last one shown when more follow; items is stolen. A marker from the
 * query starts the page after the item whose MARKER_FIELD it is. */
static void paged(faas__gw *gw, const char *query, json_t *items, const char *key,
                  const char *marker_field, faas__gw_resp *r)
{
    unsigned page;
    if (!faas__gw_max_items(gw, query, &page, r)) {
        json_decref(items);
        return;
    }
    char marker[200];
    size_t mlen;
    size_t i = 0, total = json_array_size(items);
    if (faas__gw_query(query, "Marker", marker, sizeof marker, &mlen)) {
        for (size_t k = 0; k < total; k++) {
            const char *m = json_string_value(json_object_get(json_array_get(items, k),
                                                              marker_field));
            if (m != NULL && strcmp(m, marker) == 0) {
                i = k + 1;
                break;
            }
        }
    }
    json_t *shown = json_array();
    size_t last = i;
    for (; i < total && json_array_size(shown) < page; i++) {
        json_array_append(shown, json_array_get(items, i));
        last = i;
    }
    json_t *o = json_object();
    json_object_set_new(o, key, shown);
    json_t *next = i < total ? json_object_get(json_array_get(items, last), marker_field)
                             : NULL;
    json_object_set_new(o, "NextMarker", next ? json_copy(next) : json_null());
    json_decref(items);
    faas__gw_json(gw, r, 200, o);
}

/* GET /2015-03-31/functions/NAME/versions: $LATEST, then every published version. */
static void list_versions(faas__gw *gw, const faas__gw_call *call, const char *query,
                          faas__gw_resp *r)
{
    faas_function_info *f = describe(gw, call, r);
    if (f == NULL)
        return;
    faas_version_info *vs = NULL;
    size_t n = 0;
    int rc = faas_versions_list(gw->rt, call->name, &vs, &n);
    if (rc != FAAS_OK) {
        library_error(gw, call, rc, r);
        faas_info_free(f);
        return;
    }
    json_t *items = json_array();
    json_array_append_new(items, faas__gw_configuration(gw, f, "$LATEST", NULL, NULL));
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, version_configuration(gw, f, &vs[i]));
    faas_versions_free(vs);
    faas_info_free(f);
    paged(gw, query, items, "Versions", "Version", r);
}

/* ---- aliases ------------------------------------------------------------------------------ */

/* An AliasConfiguration. */
static json_t *alias_json(faas__gw *gw, const char *name, const char *alias,
                          const faas_alias_info *a)
{
    char v[12], rev[24];
    json_t *o = json_object();
    json_object_set_new(o, "AliasArn", faas__gw_arn(gw, name, alias));
    json_object_set_new(o, "Name", json_string(alias));
    version_text(a->version, v);
    json_object_set_new(o, "FunctionVersion", json_string(v));
    json_object_set_new(o, "Description", json_string(""));
    if (a->extra_version != 0) {
        json_t *w = json_object(), *rc = json_object();
        version_text(a->extra_version, v);
        json_object_set_new(w, v, json_real(a->extra_weight));
        json_object_set_new(rc, "AdditionalVersionWeights", w);
        json_object_set_new(o, "RoutingConfig", rc);
    }
    snprintf(rev, sizeof rev, "%llu", (unsigned long long)a->revision);
    json_object_set_new(o, "RevisionId", json_string(rev));
    return o;
}

/* A routing an alias is asked to take. */
typedef struct routing {
    uint32_t version, extra;
    double   weight;
} routing;

/* Read RoutingConfig (present: *given true) into ro->extra and ro->weight; false: r holds
 * the 400. {} or {"AdditionalVersionWeights": {}} is no second version. */
static bool routing_config(faas__gw *gw, json_t *in, routing *ro, bool *given,
                           faas__gw_resp *r)
{
    json_t *rc = json_object_get(in, "RoutingConfig");
    *given = rc != NULL && !json_is_null(rc);
    if (!*given)
        return true;
    ro->extra = 0;
    ro->weight = 0.0;
    json_t *w = json_is_object(rc) ? json_object_get(rc, "AdditionalVersionWeights") : NULL;
    if (!json_is_object(rc) || (w != NULL && !json_is_null(w) && !json_is_object(w))) {
        faas__gw_error(gw, r, 400, "InvalidParameterValueException", "RoutingConfig must "
                       "be {\"AdditionalVersionWeights\": {\"VERSION\": WEIGHT}}");
        return false;
    }
    if (w == NULL || json_is_null(w) || json_object_size(w) == 0)
        return true;
    if (json_object_size(w) > 1) {
        faas__gw_error(gw, r, 400, "InvalidParameterValueException",
                       "Number of items in AdditionalVersionWeights cannot be greater than 1");
        return false;
    }
    const char *key;
    json_t *val;
    json_object_foreach(w, key, val) {
        char shown[200];
        double d = json_is_number(val) ? json_number_value(val) : -1.0;
        snprintf(shown, sizeof shown, "{%.40s=%g}", key, d);
        uint32_t v;
        if (!version_number(key, &v) || v == 0) {
            faas__gw_validation(gw, r, shown, strlen(shown),
                                "routingConfig.additionalVersionWeights",
                                WEIGHT_KEY_CONSTRAINT);
            return false;
        }
        if (!json_is_number(val) || !(d >= 0.0 && d <= 1.0)) {
            faas__gw_validation(gw, r, shown, strlen(shown),
                                "routingConfig.additionalVersionWeights", WEIGHT_CONSTRAINT);
            return false;
        }
        ro->extra = v;
        ro->weight = d;
    }
    return true;
}

/* Check a routing against the function's versions; false: r holds the 400 or 404. */
static bool routing_ok(faas__gw *gw, const faas__gw_call *call, const routing *ro,
                       faas__gw_resp *r)
{
    char v[12];
    if (ro->extra != 0 && ro->version == 0) {
        faas__gw_error(gw, r, 400, "InvalidParameterValueException",
                       "$LATEST is not supported for an alias pointing to more than 1 version");
        return false;
    }
    if (ro->extra != 0 && ro->extra == ro->version) {
        version_text(ro->version, v);
        faas__gw_error(gw, r, 400, "InvalidParameterValueException", "Invalid function "
                       "version %s. Function version %s is already included in routing "
                       "configuration.", v, v);
        return false;
    }
    uint32_t missing = !version_exists(gw, call->name, ro->version) ? ro->version
                     : !version_exists(gw, call->name, ro->extra) ? ro->extra : 0;
    if (missing != 0) {
        version_text(missing, v);
        faas__gw_not_found(gw, r, call->name, v);
        return false;
    }
    return true;
}

/* FunctionVersion of the body into ro->version (absent: *given false). */
static bool function_version(faas__gw *gw, json_t *in, routing *ro, bool *given,
                             faas__gw_resp *r)
{
    const char *fv;
    if (!string_member(gw, in, "FunctionVersion", &fv, r))
        return false;
    *given = fv != NULL;
    if (fv != NULL && !version_number(fv, &ro->version)) {
        faas__gw_validation(gw, r, fv, strlen(fv), "functionVersion",
                            "Member must satisfy regular expression pattern: "
                            "(\\$LATEST|[0-9]+)");
        return false;
    }
    return true;
}

/* Set the alias and answer its configuration with STATUS. */
static void alias_store(faas__gw *gw, const faas__gw_call *call, const char *alias,
                        const routing *ro, unsigned status, faas__gw_resp *r)
{
    faas_alias_info a;
    int rc = faas_alias_set(gw->rt, call->name, alias, ro->version, ro->extra, ro->weight);
    if (rc == FAAS_OK)
        rc = faas_alias_get(gw->rt, call->name, alias, &a);
    if (rc != FAAS_OK)
        library_error(gw, call, rc, r);
    else
        faas__gw_json(gw, r, status, alias_json(gw, call->name, alias, &a));
}

/* POST /2015-03-31/functions/NAME/aliases {"Name", "FunctionVersion", "Description",
 * "RoutingConfig"}: 201 and the AliasConfiguration. */
static void create_alias(faas__gw *gw, const faas__gw_call *call, json_t *in,
                         faas__gw_resp *r)
{
    const char *name, *desc;
    routing ro = { 0, 0, 0.0 };
    bool have_version, have_routing;
    if (!string_member(gw, in, "Name", &name, r) ||
        !string_member(gw, in, "Description", &desc, r) || !description_ok(gw, desc, r) ||
        !function_version(gw, in, &ro, &have_version, r))
        return;
    if (name == NULL || !have_version) {
        faas__gw_error(gw, r, 400, "InvalidParameterValueException", "%s is required",
                       name == NULL ? "Name" : "FunctionVersion");
        return;
    }
    if (!faas__gw_alias_valid(name, strlen(name))) {
        faas__gw_validation(gw, r, name, strlen(name), "name", "Member must satisfy regular "
                            "expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)");
        return;
    }
    faas_function_info *f = describe(gw, call, r);
    if (f == NULL)
        return;
    faas_info_free(f);
    if (!routing_config(gw, in, &ro, &have_routing, r) || !routing_ok(gw, call, &ro, r))
        return;
    faas_alias_info a;
    if (faas_alias_get(gw->rt, call->name, name, &a) == FAAS_OK) {
        char arn[320];
        snprintf(arn, sizeof arn, "arn:aws:lambda:%s:%s:function:%s:%s", gw->region,
                 gw->account, call->name, name);
        faas__gw_error(gw, r, 409, "ResourceConflictException", "Alias already exists: %s",
                       arn);
        return;
    }
    alias_store(gw, call, name, &ro, 201, r);
}

/* The alias of the path, now; false: r holds the 404 (the function's or the alias's). */
static bool alias_now(faas__gw *gw, const faas__gw_call *call, faas_alias_info *a,
                      faas__gw_resp *r)
{
    int rc = faas_alias_get(gw->rt, call->name, call->alias, a);
    if (rc == FAAS_OK)
        return true;
    faas_function_info *f = describe(gw, call, r);
    if (f == NULL)
        return false;
    faas_info_free(f);
    char arn[320];
    snprintf(arn, sizeof arn, "arn:aws:lambda:%s:%s:function:%s:%s", gw->region, gw->account,
             call->name, call->alias);
    faas__gw_error(gw, r, 404, "ResourceNotFoundException", "Cannot find alias arn: %s", arn);
    return false;
}

/* PUT /2015-03-31/functions/NAME/aliases/ALIAS {"FunctionVersion", "Description",
 * "RoutingConfig", "RevisionId"}: what is given changes, the rest stays. */
static void update_alias(faas__gw *gw, const faas__gw_call *call, json_t *in,
                         faas__gw_resp *r)
{
    const char *desc, *revision;
    faas_alias_info a;
    routing ro;
    bool have_version, have_routing;
    if (!string_member(gw, in, "Description", &desc, r) || !description_ok(gw, desc, r) ||
        !string_member(gw, in, "RevisionId", &revision, r) || !alias_now(gw, call, &a, r))
        return;
    ro.version = a.version;
    ro.extra = a.extra_version;
    ro.weight = a.extra_weight;
    if (!function_version(gw, in, &ro, &have_version, r) ||
        !routing_config(gw, in, &ro, &have_routing, r))
        return;
    char rev[24];
    snprintf(rev, sizeof rev, "%llu", (unsigned long long)a.revision);
    if (revision != NULL && strcmp(revision, rev) != 0) {
        faas__gw_error(gw, r, 412, "PreconditionFailedException", "The Revision Id provided "
                       "does not match the latest Revision Id. Call the GetFunction/GetAlias "
                       "API to retrieve the latest Revision Id");
        return;
    }
    if (!routing_ok(gw, call, &ro, r))
        return;
    alias_store(gw, call, call->alias, &ro, 200, r);
}

/* GET /2015-03-31/functions/NAME/aliases?FunctionVersion=V: every alias (of V). */
static void list_aliases(faas__gw *gw, const faas__gw_call *call, const char *query,
                         faas__gw_resp *r)
{
    char fv[24];
    size_t fvlen;
    uint32_t only = 0;
    bool filter = faas__gw_query(query, "FunctionVersion", fv, sizeof fv, &fvlen);
    if (filter && !version_number(fv, &only)) {
        faas__gw_validation(gw, r, fv, fvlen, "functionVersion", "Member must satisfy "
                            "regular expression pattern: (\\$LATEST|[0-9]+)");
        return;
    }
    char **names;
    size_t n;
    int rc = faas_aliases_list(gw->rt, call->name, &names, &n);
    if (rc != FAAS_OK) {
        library_error(gw, call, rc, r);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++) {
        faas_alias_info a;
        if (faas_alias_get(gw->rt, call->name, names[i], &a) != FAAS_OK)
            continue;                   /* deleted meanwhile */
        if (filter && a.version != only)
            continue;
        json_array_append_new(items, alias_json(gw, call->name, names[i], &a));
    }
    faas_free(names);
    paged(gw, query, items, "Aliases", "Name", r);
}

/* ---- UpdateFunctionCode ------------------------------------------------------------------- */

/* PUT /2015-03-31/functions/NAME/code (botocore's lambda/2015-03-31/service-2.json,
 * UpdateFunctionCode: 200 and a FunctionConfiguration; RevisionId's 412
 * PreconditionFailedException; API_UpdateFunctionCode.html). The code comes from one of:
 * - "ZipFile": the bytes of the module's .so itself (an ELF shared object), base64 in the
 *   JSON as every SDK sends a blob. A zip archive is refused (400): unpacking one is left
 *   to the caller.
 * - "S3Bucket": "file" (LOCAL_BUCKET) with "S3Key" the absolute path of a .so on the
 *   gateway's machine: the same request shape the SDKs send for S3, so they need no change.
 * "Publish": true publishes a version after a successful update (the answer is that
 * version's configuration); "DryRun": true checks the request and changes nothing. An
 * update whose LOAD or INIT fails is still a 200, as Lambda's: LastUpdateStatus "Failed"
 * with the reason, and the old code keeps serving. */

#define LOCAL_BUCKET "file"

/* Member KEY of o as a boolean (absent: false); false: r holds the 400. */
static bool bool_member(faas__gw *gw, json_t *o, const char *key, bool *out, faas__gw_resp *r)
{
    json_t *v = json_object_get(o, key);
    *out = json_is_true(v);
    if (v == NULL || json_is_null(v) || json_is_boolean(v))
        return true;
    faas__gw_error(gw, r, 400, "InvalidParameterValueException", "%s must be a boolean", key);
    return false;
}

/* Write all of buf to fd; false with errno set. */
static bool write_bytes(int fd, const unsigned char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        buf += w;
        n -= (size_t)w;
    }
    return true;
}

static bool is_elf(const unsigned char *b, size_t n)
{
    return n >= 4 && memcmp(b, "\177ELF", 4) == 0;
}

/* Where the new code is: a file update.c can read. */
typedef struct code_source {
    int     fd;                 /* a memfd holding ZipFile's bytes, or -1 */
    char    path[4096];         /* what faas_update_code() reads */
    int64_t size;               /* CodeSize */
} code_source;

static bool bad_code(faas__gw *gw, faas__gw_resp *r, const char *fmt, const char *arg)
{
    faas__gw_error(gw, r, 400, "InvalidParameterValueException", fmt, arg);
    return false;
}

/* ZipFile's bytes into a private memfd; false: r holds the 400. */
static bool zip_file_source(faas__gw *gw, const char *b64, size_t n, code_source *cs,
                            faas__gw_resp *r)
{
    unsigned char *bytes = malloc(n / 4 * 3 + 2);
    if (bytes == NULL) {
        faas__gw_error(gw, r, 500, "ServiceException", "out of memory");
        return false;
    }
    bool ok = false;
    long dec = faas__base64_decode(b64, n, bytes, 0);
    size_t len = dec < 0 ? 0 : (size_t)dec;
    if (dec < 0)
        faas__gw_error(gw, r, 400, "InvalidRequestContentException", "Could not parse "
                       "request body into json: ZipFile is not valid base64");
    else if (len >= 4 && memcmp(bytes, "PK\003\004", 4) == 0)
        bad_code(gw, r, "%s", "ZipFile is a zip archive: this gateway takes the module's "
                 ".so bytes themselves, or S3Bucket \"" LOCAL_BUCKET "\" with S3Key the "
                 ".so's absolute path");
    else if (!is_elf(bytes, len))
        bad_code(gw, r, "%s", "Could not unzip uploaded file. Please check your file, then "
                 "try to upload again. (ZipFile must hold an ELF shared object)");
    else if ((cs->fd = memfd_create("faas-gw-code", MFD_CLOEXEC)) < 0 ||
             !write_bytes(cs->fd, bytes, len))
        faas__gw_error(gw, r, 500, "ServiceException", "memfd: %s", strerror(errno));
    else {
        snprintf(cs->path, sizeof cs->path, "/proc/self/fd/%d", cs->fd);
        cs->size = (int64_t)len;
        ok = true;
    }
    free(bytes);
    return ok;
}

/* S3Bucket LOCAL_BUCKET + S3Key: a .so on this machine; false: r holds the 400. */
static bool local_source(faas__gw *gw, const char *bucket, const char *key, code_source *cs,
                         faas__gw_resp *r)
{
    if (strcmp(bucket, LOCAL_BUCKET) != 0)
        return bad_code(gw, r, "S3Bucket \"%.64s\": this gateway reads code from the local "
                        "file system only: S3Bucket \"" LOCAL_BUCKET "\" with S3Key the .so's "
                        "absolute path", bucket);
    if (key == NULL || key[0] != '/' || strlen(key) >= sizeof cs->path)
        return bad_code(gw, r, "%s", "S3Key must be the absolute path of the module's .so "
                        "when S3Bucket is \"" LOCAL_BUCKET "\"");
    struct stat st;
    unsigned char magic[4];
    /* A regular file before it is opened: opening a device node can do something
     * (/dev/watchdog); O_NONBLOCK for a FIFO swapped in between. */
    int fd = stat(key, &st) == 0 && S_ISREG(st.st_mode)
                 ? open(key, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY) : -1;
    bool elf = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
               read(fd, magic, 4) == 4 && is_elf(magic, 4);
    if (fd >= 0)
        close(fd);
    if (fd < 0)
        return bad_code(gw, r, "Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 "
                        "Error Message: %s: no such file", key);
    if (!elf)
        return bad_code(gw, r, "%s is not an ELF shared object", key);
    snprintf(cs->path, sizeof cs->path, "%s", key);
    cs->size = (int64_t)st.st_size;
    return true;
}

/* The code of the request; false: r holds the 400. */
static bool code_source_of(faas__gw *gw, json_t *in, code_source *cs, faas__gw_resp *r)
{
    const char *zip, *bucket, *key, *image;
    cs->fd = -1;
    if (!string_member(gw, in, "ZipFile", &zip, r) ||
        !string_member(gw, in, "S3Bucket", &bucket, r) ||
        !string_member(gw, in, "S3Key", &key, r) ||
        !string_member(gw, in, "ImageUri", &image, r))
        return false;
    if (image != NULL)
        return bad_code(gw, r, "%s", "Please don't provide ImageUri when updating a function "
                        "with packageType Zip.");
    if (zip != NULL && (bucket != NULL || key != NULL))
        return bad_code(gw, r, "%s", "Please do not provide other FunctionCode parameters "
                        "when providing a ZipFile.");
    if (zip != NULL)
        return zip_file_source(gw, zip, json_string_length(json_object_get(in, "ZipFile")),
                               cs, r);
    if (bucket != NULL)
        return local_source(gw, bucket, key, cs, r);
    return bad_code(gw, r, "%s", "Please provide a source for function code: ZipFile (the "
                    ".so's bytes) or S3Bucket \"" LOCAL_BUCKET "\" with S3Key its path.");
}

/* $LATEST's RevisionId: one more with each successful update ("1" as registered). */
static void code_revision(const faas_update_info *u, char out[24])
{
    snprintf(out, 24, "%llu", (unsigned long long)u->updates + 1);
}

/* The FunctionConfiguration of an update's outcome. */
static json_t *code_configuration(faas__gw *gw, const faas_function_info *f,
                                  const char *version, const faas_update_info *u,
                                  int64_t size)
{
    char rev[24];
    json_t *o = faas__gw_configuration(gw, f, version, u->code_sha256, NULL);
    if (o == NULL)
        return NULL;
    code_revision(u, rev);
    json_object_set_new(o, "CodeSize", json_integer(size));
    json_object_set_new(o, "RevisionId", json_string(rev));
    if (u->status == FAAS_UPDATE_FAILED) {
        json_object_set_new(o, "LastUpdateStatus", json_string("Failed"));
        json_object_set_new(o, "LastUpdateStatusReason", json_string(u->reason));
        json_object_set_new(o, "LastUpdateStatusReasonCode",
                            json_string(u->error == FAAS_EINIT ? "FunctionError"
                                                               : "InvalidZipFileException"));
    }
    return o;
}

/* The body's RevisionId against $LATEST's; false: r holds the 412. */
static bool revision_matches(faas__gw *gw, json_t *in, const faas_update_info *u,
                             faas__gw_resp *r)
{
    const char *want;
    char rev[24];
    if (!string_member(gw, in, "RevisionId", &want, r))
        return false;
    code_revision(u, rev);
    if (want == NULL || strcmp(want, rev) == 0)
        return true;
    faas__gw_error(gw, r, 412, "PreconditionFailedException", "The Revision Id provided does "
                   "not match the latest Revision Id. Call the GetFunction/GetAlias API to "
                   "retrieve the latest Revision Id");
    return false;
}

/* Publish $LATEST after the update and answer that version; false: r holds the error. */
static bool publish_updated(faas__gw *gw, const faas__gw_call *call, char version[12],
                            faas__gw_resp *r)
{
    uint32_t number;
    int rc = faas_publish_version(gw->rt, call->name, NULL, &number);
    if (rc != FAAS_OK) {
        library_error(gw, call, rc, r);
        return false;
    }
    version_text(number, version);
    return true;
}

static void update_code(faas__gw *gw, const faas__gw_call *call, json_t *in, faas__gw_resp *r)
{
    bool publish_it, dry;
    if (!bool_member(gw, in, "Publish", &publish_it, r) ||
        !bool_member(gw, in, "DryRun", &dry, r))
        return;
    faas_function_info *f = describe(gw, call, r);
    if (f == NULL)
        return;
    faas_update_info u;
    code_source cs = { .fd = -1 };
    char version[12] = "$LATEST";
    int rc;
    if (strcmp(f->kind, "module") != 0) {
        faas__gw_error(gw, r, 400, "InvalidParameterValueException", "%s is a %s function: "
                       "only a module function has code to update", call->name, f->kind);
        goto out;
    }
    if ((rc = faas_update_status(gw->rt, call->name, &u)) != FAAS_OK) {
        library_error(gw, call, rc, r);
        goto out;
    }
    if (!revision_matches(gw, in, &u, r) || !code_source_of(gw, in, &cs, r))
        goto out;
    if (!dry) {
        rc = faas_update_code(gw->rt, call->name, cs.path);
        if (rc != FAAS_OK && rc != FAAS_EINIT && rc != FAAS_ELOAD) {
            library_error(gw, call, rc, r);
            goto out;
        }
        if ((rc = faas_update_status(gw->rt, call->name, &u)) != FAAS_OK) {
            library_error(gw, call, rc, r);
            goto out;
        }
        if (u.status == FAAS_UPDATE_SUCCESSFUL && publish_it &&
            !publish_updated(gw, call, version, r))
            goto out;
    }
    faas__gw_json(gw, r, 200, code_configuration(gw, f, version, &u, cs.size));
out:
    if (cs.fd >= 0)
        close(cs.fd);
    faas_info_free(f);
}

void faas__gw_control(faas__gw *gw, const faas__gw_call *call, const char *query,
                      const char *body, size_t len, faas__gw_resp *r)
{
    json_t *in = NULL;
    if (faas__gw_control_has_body(call->route) && (in = parse_body(gw, body, len, r)) == NULL)
        return;
    faas_alias_info a;
    switch (call->route) {
    case FAAS__GW_PUBLISH:
        publish(gw, call, in, r);
        break;
    case FAAS__GW_VERSIONS:
        list_versions(gw, call, query, r);
        break;
    case FAAS__GW_ALIAS_CREATE:
        create_alias(gw, call, in, r);
        break;
    case FAAS__GW_ALIASES:
        list_aliases(gw, call, query, r);
        break;
    case FAAS__GW_ALIAS_GET:
        if (alias_now(gw, call, &a, r))
            faas__gw_json(gw, r, 200, alias_json(gw, call->name, call->alias, &a));
        break;
    case FAAS__GW_ALIAS_UPDATE:
        update_alias(gw, call, in, r);
        break;
    case FAAS__GW_ALIAS_DELETE: {
        /* 204 whether it was there or not (the model has no 404 for DeleteAlias); an
         * unknown function is still a 404. */
        faas_function_info *f = describe(gw, call, r);
        if (f == NULL)
            break;
        faas_info_free(f);
        int rc = faas_alias_delete(gw->rt, call->name, call->alias);
        if (rc != FAAS_OK && rc != FAAS_ENOTFOUND)
            library_error(gw, call, rc, r);
        else
            faas__gw_empty(gw, r, 204);
        break;
    }
    default:        /* FAAS__GW_UPDATE_CODE */
        update_code(gw, call, in, r);
        break;
    }
    json_decref(in);
}
