/*
 * version.c - qualified names ("NAME:$LATEST", "NAME:3", "NAME:prod"), published versions
 * and aliases with weighted routing (issue 15, library part). It owns the qualifier
 * parser, each function's list of versions and aliases, and the routing choice; it makes
 * versions through registry.c (faas__version_new) and never touches a pool or a call.
 *
 * Design
 * ------
 * Public API (include/faas.h, "Versions and aliases"; faas_publish_version(3)):
 *   faas_publish_version(rt, name, description, uint32_t *version)
 *   faas_versions_list(rt, name, faas_version_info **, size_t *) / faas_versions_free()
 *   faas_alias_set(rt, name, alias, version, extra_version, extra_weight)  create/update
 *   faas_alias_delete(rt, name, alias), faas_alias_get(rt, name, alias, faas_alias_info *)
 *   faas_aliases_list(rt, name, char ***aliases, size_t *count)   live aliases, oldest first
 *   faas_routing_seed(rt, seed)
 * Versions are numbers (uint32_t, 1, 2, ...; 0 means $LATEST where a version is asked
 * for, and "none" for extra_version), as the record carries them. faas_version_info and
 * faas_alias_info are fixed structs with reserved tails (faas.h's header comment).
 *
 * A published version is an internal faas_function, a frozen copy of $LATEST made at
 * publish time (same handler or same module file and symbol, same config), keyed
 * "NAME:3" in rt->quals, a second table beside rt->fns under the same rt->reg_lock. So
 * a version has its own instance pool, counters, histograms, cost and records with no
 * new machinery: every path that takes a faas_function works on it unchanged. Its name
 * block is NAME's (record.function is "NAME", as Lambda's function name), and
 * record.version, which takes a reserved word of faas_record, says which version ran
 * (0: $LATEST); the log sink's START line says "Version: 3". Versions are not in
 * faas_list() or the metrics exports' per-function rows yet (those iterate rt->fns).
 *
 * An alias is a faas_function of kind FAAS__ALIAS keyed "NAME:prod" in rt->quals, with no
 * pool: faas_lookup() hands it out and faas_invoke_fn() routes through it. Its routing is
 * one pointer, fn->route, to an immutable faas__route (primary version, optional second
 * version and its weight as a 53-bit threshold). faas_alias_set() builds a new route and
 * swaps the pointer (release); a call loads it once (acquire), so it sees the old routing
 * or the new, never a mix. A call by name reads the route under the registry's read lock,
 * but a handle's call reads it with no lock, so a replaced route is not freed: it is kept
 * on the alias's list of older routes until the alias is freed (as runtime.c keeps every
 * record hook ever set) - a few dozen bytes per update. A deleted alias leaves rt->quals
 * at once (its name is then FAAS_ENOTFOUND) but its memory stays with its $LATEST until
 * that is unregistered, so that a handle from faas_lookup() never dangles before then.
 *
 * Routing is per call: the extra version runs when a 53-bit number from the runtime's
 * generator is below weight x 2^53 (weight 0: never, weight 1: always, exactly). The
 * generator is splitmix64 over one atomic counter per runtime (rt->route_rng): lock-free,
 * seeded at random by faas_runtime_new() and by faas_routing_seed() for tests, where one
 * thread's sequence of choices is then fixed.
 *
 * Publishing freezes the code outside any lock: a module file is copied into a private
 * memfd while its SHA-256 is computed (base64 with padding, as Lambda prints CodeSha256),
 * and the version loads that copy (/proc/self/fd/N): dlopen() caches by path and inode,
 * and the copy has its own, so the bytes hashed are the bytes that run, whatever happens
 * to the file or to $LATEST afterwards. A host function has no file: its identity is
 * hashed instead (its handler, init and shutdown addresses). If neither the hash nor the
 * config differs from the last version's, that version is returned and none is made, as
 * Lambda does. A process function's code is its task root (LAMBDA_TASK_ROOT): it is
 * copied, read-only, into a private directory while its CodeSha256 is computed
 * (process_code.c says how), and the version's processes run that copy, their command
 * and arguments that named files of the task root pointed at the same files in it;
 * its configuration (command, arguments, handler, environment) is frozen with it and
 * digested, so that a publish with neither changed returns the last version. The copy is
 * removed with the version (process.c, when the function is freed). FFI and isolated
 * modules cannot be published yet (FAAS_ENOTSUP).
 *
 * Qualified names are parsed by faas__qname_parse() alone (qname.c; unit-tested by
 * tests/test_qname.c, fuzzed by tests/fuzz/fuzz_qname.c);
 * a plain name never reaches it: registry.c tries faas__valid_name() first, and only a
 * name that fails it (a colon) takes the qualified path, so an unqualified call costs
 * nothing more. Unknown qualifiers are FAAS_ENOTFOUND with Lambda's message,
 * "Function not found: NAME:QUALIFIER" (Lambda names the ARN:
 * "Function not found: arn:aws:lambda:<region>:<account>:function:NAME:QUALIFIER", as
 * reported in alexcasalboni/aws-lambda-power-tuning#93 for an alias and
 * aws-cloudformation/rain#175 for a version; the gateway adds the ARN as it does for NAME).
 */
#include "internal.h"
#include "process_code.h"
#include "sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define QUALIFIER_MAX FAAS__QUALIFIER_MAX
#define DESCRIPTION_MAX 256             /* Lambda's Description: 0-256 */
#define KEY_MAX (FAAS__NAME_MAX + 1 + QUALIFIER_MAX + 1)

/* ---- routes and the generator -------------------------------------------------------------- */

struct faas__route {
    faas__route   *older;               /* the routes this one replaced */
    faas_function *primary, *extra;     /* extra NULL: none */
    uint64_t       threshold;           /* extra runs when rand53 < threshold */
    uint32_t       version, extra_version;
    double         weight;
    uint64_t       revision;
};

/* One splitmix64 step of the runtime's generator: a call takes its own counter value
 * (one atomic add, no lock), so concurrent calls never share a draw. */
static uint64_t next_rand(faas_runtime *rt)
{
    uint64_t z = atomic_fetch_add_explicit(&rt->route_rng, 0x9e3779b97f4a7c15u,
                                           memory_order_relaxed) + 0x9e3779b97f4a7c15u;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

void faas_routing_seed(faas_runtime *rt, uint64_t seed)
{
    if (rt != NULL)
        atomic_store_explicit(&rt->route_rng, seed, memory_order_relaxed);
}

faas_function *faas__route_pick(faas_function *alias)
{
    const faas__route *r = atomic_load_explicit(&alias->route, memory_order_acquire);
    if (r == NULL || atomic_load_explicit(&alias->dead, memory_order_relaxed))
        return NULL;
    if (r->extra != NULL && (next_rand(alias->rt) >> 11) < r->threshold)
        return r->extra;
    return r->primary;
}

/* ---- each $LATEST's versions and aliases ------------------------------------------------ */

typedef struct published {
    uint32_t       number;
    char           sha[48];
    char           conf[48];            /* a process function's spec digest, or "" */
    uint64_t       size;                /* bytes of its frozen code */
    char          *description;
    int64_t        when_ns;
    faas_function *fn;                  /* in rt->quals until $LATEST is unregistered */
} published;

struct faas__versions {
    published      *v;                  /* ascending by number */
    size_t          n, cap;
    faas_function **aliases;            /* every alias ever made, live or deleted */
    size_t          naliases, alias_cap;
};

static void alias_free(faas_function *a)
{
    faas__route *r = atomic_load_explicit(&a->route, memory_order_relaxed);
    while (r != NULL) {
        faas__route *older = r->older;
        free(r);
        r = older;
    }
    faas__name_unref(a->name);
    free((char *)a->key);
    free(a);
}

void faas__versions_free(faas_function *fn)
{
    faas__versions *vs = fn->vers;
    if (vs == NULL)
        return;
    for (size_t i = 0; i < vs->n; i++)
        free(vs->v[i].description);
    for (size_t i = 0; i < vs->naliases; i++)
        alias_free(vs->aliases[i]);
    free(vs->v);
    free(vs->aliases);
    free(vs);
    fn->vers = NULL;
}

int faas__versions_detach(faas_runtime *rt, faas_function *latest, faas_function ***out,
                          size_t *n)
{
    /* Requires rt->reg_lock held for writing. */
    faas__versions *vs = latest->vers;
    *out = NULL;
    *n = 0;
    if (vs == NULL)
        return FAAS_OK;
    if (vs->n > 0 && (*out = malloc(vs->n * sizeof **out)) == NULL)
        return FAAS_ENOMEM;
    for (size_t i = 0; i < vs->n; i++) {
        HASH_DEL(rt->quals, vs->v[i].fn);
        (*out)[i] = vs->v[i].fn;
        vs->v[i].fn = NULL;
    }
    *n = vs->n;
    for (size_t i = 0; i < vs->naliases; i++) {
        faas_function *a = vs->aliases[i];
        if (!atomic_load_explicit(&a->dead, memory_order_relaxed)) {
            atomic_store_explicit(&a->dead, true, memory_order_relaxed);
            HASH_DEL(rt->quals, a);
        }
    }
    return FAAS_OK;
}

static published *version_find(faas__versions *vs, uint32_t number)
{
    size_t lo = 0, hi = vs ? vs->n : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (vs->v[mid].number == number)
            return &vs->v[mid];
        if (vs->v[mid].number < number)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ---- finding qualified names ----------------------------------------------------------- */

faas_function *faas__qualified_find(faas_runtime *rt, const char *name, bool route,
                                    int *status)
{
    /* Requires rt->reg_lock. */
    faas__qname q;
    if (faas__qname_parse(name, &q) != FAAS_OK) {
        *status = FAAS_EINVAL;
        return NULL;
    }
    faas_function *fn = NULL;
    if (q.kind == FAAS__Q_NONE || q.kind == FAAS__Q_LATEST)
        HASH_FIND(hh, rt->fns, name, q.name_len, fn);
    else if (q.kind != FAAS__Q_OTHER)
        HASH_FIND(hh, rt->quals, name, q.len, fn);
    if (fn != NULL && route && fn->kind == FAAS__ALIAS)
        fn = faas__route_pick(fn);
    *status = fn != NULL ? FAAS_OK : FAAS_ENOTFOUND;
    return fn;
}

/* The registered function NAME (unqualified), under the lock the caller holds. */
static int find_latest(faas_runtime *rt, const char *api, const char *name,
                       faas_function **out)
{
    *out = NULL;
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "%s: runtime is NULL", api);
    size_t len;
    if (!faas__valid_name(name, &len))
        return faas__fail(FAAS_EINVAL, "%s: \"%.80s\" is not an unqualified function name "
                          "(1-64 characters of [A-Za-z0-9_-])", api, name ? name : "(null)");
    HASH_FIND(hh, rt->fns, name, len, *out);
    if (*out == NULL)
        return faas__fail(FAAS_ENOTFOUND, "%s: Function not found: %s", api, name);
    return FAAS_OK;
}

/* ---- publishing ------------------------------------------------------------------------- */

/* What a publish freezes, read under the lock; hashed after it. */
typedef struct snapshot {
    faas_function *latest;
    enum faas__kind kind;
    char           *path;               /* a module's file, or NULL */
    faas_handler    handler;
    faas_init_fn    init;
    faas_shutdown_fn shutdown;
    bool            process;            /* a process function: */
    faas__proc_spec proc;               /* its spec (rebased to tree once frozen) */
    char           *tree;               /* its frozen task root (process_code.c) */
    char            conf[48];           /* its spec's digest */
    uint64_t        size;               /* bytes of the frozen code */
} snapshot;

/* Freeze the snapshot's code: a module file is copied into a private memfd (*fd; the
 * version loads that copy, so the bytes hashed are the bytes that run, whatever later
 * happens to the file) while its CodeSha256 is computed into sha (faas__code_copy,
 * update.c's); a host function has no file (*fd -1) and its identity is hashed (its
 * addresses: the same function, the same hash). */
static int freeze_code(snapshot *sn, const char *name, char sha[48], int *fd)
{
    *fd = -1;
    if (sn->process) {                  /* the task root, copied (process_code.c) */
        faas__proc_spec_digest(&sn->proc, sn->conf);
        int rc = faas__tree_freeze(sn->proc.cwd, "faas_publish_version", name, sha,
                                   &sn->size, &sn->tree);
        if (rc == FAAS_OK && faas__proc_spec_rebase(&sn->proc, sn->tree) != FAAS_OK)
            rc = faas__fail(FAAS_ENOMEM, "faas_publish_version %s: out of memory", name);
        return rc;
    }
    if (sn->path != NULL) {
        int rc = faas__code_copy(sn->path, "faas-version", "faas_publish_version", name, sha,
                                 fd);
        struct stat st;
        if (rc == FAAS_OK && fstat(*fd, &st) == 0)
            sn->size = (uint64_t)st.st_size;
        return rc;
    }
    faas__sha256 h;
    unsigned char d[32];
    faas__sha256_init(&h);
    *fd = -1;
    const void *id[3] = { (const void *)(uintptr_t)sn->handler,
                          (const void *)(uintptr_t)sn->init,
                          (const void *)(uintptr_t)sn->shutdown };
    faas__sha256_update(&h, id, sizeof id);
    faas__sha256_final(&h, d);
    faas__sha256_base64(d, sha);
    return FAAS_OK;
}

static bool same_string(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Is fn's config the one of the version v (nothing to publish)? */
static bool same_config(const faas_config *a, const faas_config *b)
{
    return a->memory_mb == b->memory_mb && a->timeout_ms == b->timeout_ms &&
           a->max_concurrency == b->max_concurrency && a->min_warm == b->min_warm &&
           a->keep_alive_ms == b->keep_alive_ms && a->max_retries == b->max_retries &&
           same_string(a->dead_letter, b->dead_letter) && same_string(a->tag, b->tag) &&
           a->init == b->init && a->shutdown == b->shutdown && a->isolation == b->isolation &&
           a->seccomp == b->seccomp && a->remote == b->remote && a->pids_max == b->pids_max &&
           same_string(a->user, b->user);
}

static int take_snapshot(faas_runtime *rt, const char *name, snapshot *sn)
{
    memset(sn, 0, sizeof *sn);
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_publish_version: runtime is NULL");
    pthread_rwlock_rdlock(&rt->reg_lock);
    int rc = find_latest(rt, "faas_publish_version", name, &sn->latest);
    if (rc == FAAS_OK && sn->latest->kind == FAAS__FFI)
        rc = faas__fail(FAAS_ENOTSUP, "faas_publish_version %s: an FFI function cannot be "
                        "published yet (only host functions and modules)", name);
    if (rc == FAAS_OK && faas__process_is(sn->latest)) {
        sn->process = true;
        if (faas__process_spec(sn->latest, &sn->proc) != FAAS_OK)
            rc = faas__fail(FAAS_ENOMEM, "faas_publish_version %s: out of memory", name);
    } else if (rc == FAAS_OK && sn->latest->isolated) {
        rc = faas__fail(FAAS_ENOTSUP, "faas_publish_version %s: an isolated module cannot "
                        "be published yet", name);
    }
    if (rc == FAAS_OK) {
        faas_function *fn = sn->latest;
        sn->kind = fn->kind;
        sn->handler = fn->handler;
        sn->init = fn->init;
        sn->shutdown = fn->shutdown;
        if (fn->mod != NULL && (sn->path = strdup(fn->mod->path)) == NULL)
            rc = faas__fail(FAAS_ENOMEM, "faas_publish_version %s: out of memory", name);
    }
    pthread_rwlock_unlock(&rt->reg_lock);
    return rc;
}

/* Add version fn to vs (under the write lock). */
static int versions_add(faas__versions *vs, faas_function *fn, const snapshot *sn,
                        const char *sha, const char *description, int64_t when)
{
    if (vs->n == vs->cap) {
        size_t cap = vs->cap ? 2 * vs->cap : 4;
        published *v = realloc(vs->v, cap * sizeof *v);
        if (v == NULL)
            return FAAS_ENOMEM;
        vs->v = v;
        vs->cap = cap;
    }
    published *p = &vs->v[vs->n];
    p->description = strdup(description ? description : "");
    if (p->description == NULL)
        return FAAS_ENOMEM;
    p->number = fn->version;
    memcpy(p->sha, sha, sizeof p->sha);
    memcpy(p->conf, sn->process ? sn->conf : "", sn->process ? sizeof p->conf : 1);
    p->size = sn->size;
    p->when_ns = when;
    p->fn = fn;
    vs->n++;
    return FAAS_OK;
}

static faas__versions *versions_of(faas_function *latest)
{
    if (latest->vers == NULL)
        latest->vers = calloc(1, sizeof *latest->vers);
    return latest->vers;
}

/* Release what a snapshot holds (a frozen tree not handed to a version is removed). */
static void snapshot_free(snapshot *sn)
{
    free(sn->path);
    faas__proc_spec_free(&sn->proc);
    faas__tree_remove(sn->tree);
    free(sn->tree);
    sn->path = sn->tree = NULL;
}

/* Make version NUMBER of latest from sn (under the write lock): a copy of latest, and for
 * a process function the frozen spec and tree, which it then owns. */
static int version_make(faas_function *latest, snapshot *sn, const char *name,
                        uint32_t number, int code_fd, faas_function **fn)
{
    char key[KEY_MAX], code_path[40];
    snprintf(key, sizeof key, "%s:%u", name, number);
    snprintf(code_path, sizeof code_path, "/proc/self/fd/%d", code_fd);
    int rc = faas__version_new(latest, number, key, code_fd >= 0 ? code_path : NULL,
                               code_fd, fn);
    if (rc == FAAS_OK && sn->process) {
        rc = faas__process_adopt(*fn, &sn->proc, sn->tree);
        sn->tree = NULL;                /* the version's now, or removed */
        if (rc != FAAS_OK)
            rc = faas__fail(rc, "faas_publish_version %s: out of memory", name);
    }
    return rc;
}

int faas_publish_version(faas_runtime *rt, const char *name, const char *description,
                         uint32_t *version)
{
    if (version != NULL)
        *version = 0;
    if (description != NULL && strlen(description) > DESCRIPTION_MAX)
        return faas__fail(FAAS_EINVAL, "faas_publish_version %.80s: the description is "
                          "longer than %d bytes", name ? name : "(null)", DESCRIPTION_MAX);
    snapshot sn;
    int rc = take_snapshot(rt, name, &sn);
    char sha[48];
    int code_fd = -1;
    if (rc == FAAS_OK)
        rc = freeze_code(&sn, name, sha, &code_fd);
    if (rc != FAAS_OK) {
        snapshot_free(&sn);
        return rc;
    }

    /* Numbered, made and inserted under the write lock, so that a concurrent publish or
     * unregistration is settled there (making one allocates and takes rt->mod_lock, which
     * comes after rt->reg_lock; no user code runs). */
    pthread_rwlock_wrlock(&rt->reg_lock);
    faas_function *latest, *fn = NULL;
    uint32_t number = 0;
    rc = find_latest(rt, "faas_publish_version", name, &latest);
    if (rc == FAAS_OK && latest != sn.latest)
        rc = faas__fail(FAAS_EBUSY, "faas_publish_version %s: the function was registered "
                        "again meanwhile", name);
    faas__versions *vs = rc == FAAS_OK ? versions_of(latest) : NULL;
    if (rc == FAAS_OK && vs == NULL)
        rc = faas__fail(FAAS_ENOMEM, "faas_publish_version %s: out of memory", name);
    const published *last = vs != NULL && vs->n > 0 ? &vs->v[vs->n - 1] : NULL;
    if (rc == FAAS_OK && last != NULL && strcmp(last->sha, sha) == 0 &&
        strcmp(last->conf, sn.process ? sn.conf : "") == 0 &&
        same_config(&last->fn->cfg, &latest->cfg)) {
        number = last->number;          /* nothing changed: Lambda returns the last one */
        pthread_rwlock_unlock(&rt->reg_lock);
        if (code_fd >= 0)
            close(code_fd);
        snapshot_free(&sn);             /* its tree too: the version has its own */
        if (version != NULL)
            *version = number;
        return FAAS_OK;
    }
    if (rc == FAAS_OK && (number = last != NULL ? last->number + 1 : 1) == 0)
        rc = faas__fail(FAAS_EBUSY, "faas_publish_version %s: no version number left", name);
    if (rc == FAAS_OK) {
        rc = version_make(latest, &sn, name, number, code_fd, &fn);
        code_fd = -1;                   /* the version's now, or closed */
    }
    if (rc == FAAS_OK && versions_add(vs, fn, &sn, sha, description, faas__wall(rt)) != FAAS_OK)
        rc = faas__fail(FAAS_ENOMEM, "faas_publish_version %s: out of memory", name);
    if (rc == FAAS_OK)
        faas__version_insert(rt, fn);
    pthread_rwlock_unlock(&rt->reg_lock);
    if (code_fd >= 0)
        close(code_fd);
    snapshot_free(&sn);
    if (rc != FAAS_OK) {
        if (fn != NULL)
            faas__fn_free(fn);
        return rc;
    }
    faas__pool_start(fn);               /* min_warm: its own provisioned instances */
    if (version != NULL)
        *version = number;
    return FAAS_OK;
}

int faas_versions_list(faas_runtime *rt, const char *name, faas_version_info **infos,
                       size_t *count)
{
    if (infos != NULL)
        *infos = NULL;
    if (count != NULL)
        *count = 0;
    if (infos == NULL || count == NULL)
        return faas__fail(FAAS_EINVAL, "faas_versions_list: infos and count must not be NULL");
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_versions_list: runtime is NULL");
    pthread_rwlock_rdlock(&rt->reg_lock);
    faas_function *latest;
    int rc = find_latest(rt, "faas_versions_list", name, &latest);
    faas__versions *vs = rc == FAAS_OK ? latest->vers : NULL;
    size_t n = vs ? vs->n : 0, bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(vs->v[i].description) + 1;
    faas_version_info *out = NULL;
    if (n > 0 && (out = calloc(1, n * sizeof *out + bytes)) == NULL)
        rc = faas__fail(FAAS_ENOMEM, "faas_versions_list: out of memory");
    if (rc == FAAS_OK) {
        char *at = (char *)(out + n);
        for (size_t i = 0; i < n; i++) {
            const published *p = &vs->v[i];
            out[i].version = p->number;
            memcpy(out[i].code_sha256, p->sha, sizeof out[i].code_sha256);
            out[i].code_size = p->size;
            out[i].published_ns = p->when_ns;
            size_t dl = strlen(p->description) + 1;
            memcpy(at, p->description, dl);
            out[i].description = at;
            at += dl;
        }
    }
    pthread_rwlock_unlock(&rt->reg_lock);
    if (rc != FAAS_OK) {
        free(out);
        return rc;
    }
    *infos = out;
    *count = n;
    return FAAS_OK;
}

void faas_versions_free(faas_version_info *infos)
{
    free(infos);
}

/* ---- aliases -------------------------------------------------------------------------- */

/* Is alias an alias's name, as Lambda's: 1-128 of [A-Za-z0-9_-], not all digits (those
 * are versions)? */
static bool valid_alias(const char *alias)
{
    if (alias == NULL)
        return false;
    size_t n = 0;
    bool digits = true;
    for (const char *p = alias; *p; p++, n++) {
        char c = *p;
        bool digit = c >= '0' && c <= '9';
        bool ok = digit || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  c == '-';
        if (!ok || n >= QUALIFIER_MAX)
            return false;
        digits = digits && digit;
    }
    return n > 0 && !digits;
}

/* The live alias NAME:ALIAS of latest, or NULL (under the lock). */
static faas_function *alias_find(faas_runtime *rt, const char *name, const char *alias)
{
    char key[KEY_MAX];
    int kn = snprintf(key, sizeof key, "%s:%s", name, alias);
    faas_function *a = NULL;
    HASH_FIND(hh, rt->quals, key, (size_t)kn, a);
    return a != NULL && a->kind == FAAS__ALIAS ? a : NULL;
}

/* The arguments every alias call takes, checked (rt, the alias's spelling). */
static int alias_args(faas_runtime *rt, const char *api, const char *alias)
{
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "%s: runtime is NULL", api);
    if (!valid_alias(alias))
        return faas__fail(FAAS_EINVAL, "%s: invalid alias name \"%.80s\"", api,
                          alias ? alias : "(null)");
    return FAAS_OK;
}

/* The live alias NAME:ALIAS into *a, under the lock the caller holds; FAAS_ENOTFOUND
 * with Lambda's words ("Alias not found: <ARN>:ALIAS", apex/up#606) if there is none. */
static int alias_locate(faas_runtime *rt, const char *api, const char *name,
                        const char *alias, faas_function **a)
{
    faas_function *latest;
    *a = NULL;
    int rc = find_latest(rt, api, name, &latest);
    if (rc == FAAS_OK && (*a = alias_find(rt, name, alias)) == NULL)
        rc = faas__fail(FAAS_ENOTFOUND, "%s: Alias not found: %s:%s", api, name, alias);
    return rc;
}

/* Check an alias_set's arguments against latest's versions (under the lock) and fill the
 * route r (older and revision aside). */
static int route_build(faas_function *latest, const char *key, uint32_t version,
                       uint32_t extra_version, double weight, faas__route *r)
{
    faas__versions *vs = latest->vers;
    if (!(weight >= 0.0 && weight <= 1.0))      /* NaN too */
        return faas__fail(FAAS_EINVAL, "faas_alias_set %s: the weight must be 0.0 to 1.0",
                          key);
    if (extra_version == 0 && weight != 0.0)
        return faas__fail(FAAS_EINVAL, "faas_alias_set %s: a weight needs an extra version",
                          key);
    if (extra_version != 0 && (version == 0 || extra_version == version))
        return faas__fail(FAAS_EINVAL, "faas_alias_set %s: routing is between two "
                          "different published versions ($LATEST cannot take part)", key);
    const published *p = version ? version_find(vs, version) : NULL;
    const published *x = extra_version ? version_find(vs, extra_version) : NULL;
    if ((version != 0 && p == NULL) || (extra_version != 0 && x == NULL))
        return faas__fail(FAAS_ENOTFOUND, "faas_alias_set %s: Function not found: %s:%u",
                          key, latest->name->name, p == NULL && version ? version
                                                                      : extra_version);
    r->primary = p ? p->fn : latest;
    r->extra = x ? x->fn : NULL;
    r->version = version;
    r->extra_version = extra_version;
    r->weight = weight;
    r->threshold = (uint64_t)ldexp(weight, 53);   /* exact: 0 never, 2^53 always */
    return FAAS_OK;
}

int faas_alias_set(faas_runtime *rt, const char *name, const char *alias, uint32_t version,
                   uint32_t extra_version, double extra_weight)
{
    int rc = alias_args(rt, "faas_alias_set", alias);
    if (rc != FAAS_OK)
        return rc;
    faas__route *r = calloc(1, sizeof *r);
    if (r == NULL)
        return faas__fail(FAAS_ENOMEM, "faas_alias_set: out of memory");
    faas_function *a = NULL;
    pthread_rwlock_wrlock(&rt->reg_lock);
    faas_function *latest;
    rc = find_latest(rt, "faas_alias_set", name, &latest);
    char key[KEY_MAX] = "";
    if (rc == FAAS_OK) {
        snprintf(key, sizeof key, "%s:%s", name, alias);
        rc = route_build(latest, key, version, extra_version, extra_weight, r);
    }
    if (rc == FAAS_OK && (a = alias_find(rt, name, alias)) != NULL) {
        faas__route *old = atomic_load_explicit(&a->route, memory_order_relaxed);
        r->older = old;                 /* kept: a handle's call may be reading it */
        r->revision = old->revision + 1;
        atomic_store_explicit(&a->route, r, memory_order_release);
        r = NULL;
    } else if (rc == FAAS_OK) {
        faas__versions *vs = versions_of(latest);
        a = calloc(1, sizeof *a);
        char *k = strdup(key);
        if (vs != NULL && vs->naliases == vs->alias_cap) {
            size_t cap = vs->alias_cap ? 2 * vs->alias_cap : 4;
            faas_function **as = realloc(vs->aliases, cap * sizeof *as);
            if (as != NULL) {
                vs->aliases = as;
                vs->alias_cap = cap;
            }
        }
        if (vs == NULL || a == NULL || k == NULL || vs->naliases == vs->alias_cap) {
            free(a);
            free(k);
            rc = faas__fail(FAAS_ENOMEM, "faas_alias_set %s: out of memory", key);
        } else {
            a->rt = rt;
            a->kind = FAAS__ALIAS;
            a->key = k;
            a->name = latest->name;
            atomic_fetch_add_explicit(&a->name->refs, 1, memory_order_relaxed);
            atomic_init(&a->dead, false);
            r->revision = 1;
            atomic_init(&a->route, r);
            r = NULL;
            vs->aliases[vs->naliases++] = a;
            HASH_ADD_KEYPTR(hh, rt->quals, a->key, strlen(a->key), a);
        }
    }
    pthread_rwlock_unlock(&rt->reg_lock);
    free(r);
    return rc;
}

int faas_alias_delete(faas_runtime *rt, const char *name, const char *alias)
{
    int rc = alias_args(rt, "faas_alias_delete", alias);
    if (rc != FAAS_OK)
        return rc;
    pthread_rwlock_wrlock(&rt->reg_lock);
    faas_function *a;
    rc = alias_locate(rt, "faas_alias_delete", name, alias, &a);
    if (rc == FAAS_OK) {                /* freed with latest: handles must not dangle */
        atomic_store_explicit(&a->dead, true, memory_order_relaxed);
        HASH_DEL(rt->quals, a);
    }
    pthread_rwlock_unlock(&rt->reg_lock);
    return rc;
}

int faas_alias_get(faas_runtime *rt, const char *name, const char *alias,
                   faas_alias_info *out)
{
    if (out == NULL)
        return faas__fail(FAAS_EINVAL, "faas_alias_get: out is NULL");
    memset(out, 0, sizeof *out);
    int rc = alias_args(rt, "faas_alias_get", alias);
    if (rc != FAAS_OK)
        return rc;
    pthread_rwlock_rdlock(&rt->reg_lock);
    faas_function *a;
    rc = alias_locate(rt, "faas_alias_get", name, alias, &a);
    if (rc == FAAS_OK) {
        const faas__route *r = atomic_load_explicit(&a->route, memory_order_acquire);
        out->version = r->version;
        out->extra_version = r->extra_version;
        out->extra_weight = r->weight;
        out->revision = r->revision;
    }
    pthread_rwlock_unlock(&rt->reg_lock);
    return rc;
}

int faas_aliases_list(faas_runtime *rt, const char *name, char ***aliases, size_t *count)
{
    if (aliases != NULL)
        *aliases = NULL;
    if (count != NULL)
        *count = 0;
    if (aliases == NULL || count == NULL)
        return faas__fail(FAAS_EINVAL, "faas_aliases_list: aliases and count must not be "
                          "NULL");
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_aliases_list: runtime is NULL");
    pthread_rwlock_rdlock(&rt->reg_lock);
    faas_function *latest;
    int rc = find_latest(rt, "faas_aliases_list", name, &latest);
    faas__versions *vs = rc == FAAS_OK ? latest->vers : NULL;
    size_t n = 0, bytes = 0, skip = rc == FAAS_OK ? strlen(name) + 1 : 0;
    for (size_t i = 0; vs != NULL && i < vs->naliases; i++)
        if (!atomic_load_explicit(&vs->aliases[i]->dead, memory_order_relaxed)) {
            n++;
            bytes += strlen(vs->aliases[i]->key) - skip + 1;
        }
    /* One block: n + 1 pointers (NULL last), then the names. */
    char **out = NULL;
    if (rc == FAAS_OK && (out = malloc((n + 1) * sizeof *out + bytes)) == NULL)
        rc = faas__fail(FAAS_ENOMEM, "faas_aliases_list: out of memory");
    if (rc == FAAS_OK) {
        char *at = (char *)(out + n + 1);
        size_t k = 0;
        for (size_t i = 0; vs != NULL && i < vs->naliases; i++) {
            const faas_function *a = vs->aliases[i];
            if (atomic_load_explicit(&a->dead, memory_order_relaxed))
                continue;
            size_t len = strlen(a->key + skip) + 1;
            memcpy(at, a->key + skip, len);
            out[k++] = at;
            at += len;
        }
        out[k] = NULL;
    }
    pthread_rwlock_unlock(&rt->reg_lock);
    if (rc != FAAS_OK)
        return rc;
    *aliases = out;
    *count = n;
    return FAAS_OK;
}
