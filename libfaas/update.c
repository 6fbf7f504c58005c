/*
 * update.c - hot code update of $LATEST (faas_update_code, faas_update_status) and the
 * canary report of a weighted alias (faas_canary_get). It decides when code is replaced;
 * what that does to the pool (which instances are stale, when they go) is instance.c's,
 * and it reads versions and aliases only through their public calls.
 *
 * An update copies the module file into a private memfd (as a published version does:
 * dlopen() caches by path and inode, so the same path renamed over would keep the old
 * code) and loads that copy, /proc/self/fd/N, as a module of its own. Its first instance
 * (the probe: LOAD + INIT) is made before anything is committed, with no lock held but
 * the function's update lock: a LOAD or INIT failure leaves the old code serving, and the
 * status says why (Lambda's LastUpdateStatus Failed and LastUpdateStatusReason). Then,
 * under the registry's write lock, fn->mod is swapped and fn->gen moves on: from there a
 * call never starts on an instance of an older gen (invoke.c checks, and a give retires
 * one), idle ones are shut down at once, busy ones when their call ends. The updater waits
 * for them (polling, as unregistration does: instances are given back lock-free), up to
 * the function's timeout and a second, then gives the replaced module back, which closes
 * its copy. No call fails: one that races the swap runs the old code or the new, and the
 * probe is pooled, so the first call after an update is warm.
 *
 * Updates of one function are serialised by its faas__update's lock, the outermost lock
 * (internal.h), held while the probe's INIT runs: an INIT must not update its own
 * function. The updater pins the function (faas__pool_pin), so an unregistration waits
 * for the update to end; the update then finds it gone and fails FAAS_ENOTFOUND.
 */
#include "internal.h"
#include "process_code.h"
#include "sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <elf.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define POLL_MS 2                       /* how often the updater looks for stale instances */

struct faas__update {
    pthread_mutex_t lock;               /* one update of the function at a time */
    /* Under rt->reg_lock: */
    int             status;             /* FAAS_UPDATE_* */
    int             error;              /* the last failure's code, or 0 */
    char            reason[512];        /* ... in words */
    char            sha[48];            /* CodeSha256 of the code $LATEST runs */
    char           *source;             /* the file it came from (path NULL reads it again) */
    bool            no_file;            /* it came from bytes (a descriptor's /proc link,
                                           the gateway's ZipFile): nothing to read again */
    uint64_t        updates, failures;
    int64_t         updated_ns;
    /* Under lock: modules replaced, given back once no instance of theirs is left. */
    faas__module  **retired;
    size_t          nretired, cap;
};

/* ---- copying code ----------------------------------------------------------------------- */

/* Write all of buf to fd. */
static int write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

int faas__code_copy(const char *path, const char *memfd_name, const char *api,
                    const char *name, char sha[48], int *fd)
{
    faas__sha256 h;
    unsigned char d[32];
    *fd = -1;
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return faas__fail(FAAS_ELOAD, "%s %s: open(\"%s\"): %s", api, name, path,
                          strerror(errno));
    int out = -1;
    if (memfd_name != NULL && (out = memfd_create(memfd_name, MFD_CLOEXEC)) < 0) {
        int e = errno;
        close(in);
        return faas__fail(FAAS_EIO, "%s %s: memfd_create: %s", api, name, strerror(e));
    }
    faas__sha256_init(&h);
    char buf[65536];
    ssize_t got;
    const char *what = NULL;
    while ((got = read(in, buf, sizeof buf)) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            what = "read";
            break;
        }
        faas__sha256_update(&h, buf, (size_t)got);
        if (out >= 0 && write_all(out, buf, (size_t)got) != 0) {
            what = "copying";
            break;
        }
    }
    int e = errno;
    close(in);
    if (what != NULL) {
        if (out >= 0)
            close(out);
        return faas__fail(FAAS_EIO, "%s %s: %s \"%s\": %s", api, name, what, path,
                          strerror(e));
    }
    faas__sha256_final(&h, d);
    faas__sha256_base64(d, sha);
    *fd = out;
    return FAAS_OK;
}

/* Is the ELF file copied into fd whole? dlopen() of a truncated module (a file caught
 * half-written, or cut short in place) maps segments past its end and dies of SIGBUS
 * inside the loader, so the copy's headers are checked first: every segment and the
 * section table must lie inside the file. Not an ELF file: dlopen() says why. */
static int elf_whole(int fd, const char *name, const char *path)
{
    struct stat st;
    Elf64_Ehdr eh;
    if (fstat(fd, &st) != 0 || pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh ||
        memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64)
        return FAAS_OK;
    uint64_t size = (uint64_t)st.st_size, need = eh.e_shoff + (uint64_t)eh.e_shnum * eh.e_shentsize;
    uint64_t ph_end = eh.e_phoff + (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr);
    if (ph_end > need)
        need = ph_end;
    for (unsigned i = 0; i < eh.e_phnum && ph_end <= size; i++) {
        Elf64_Phdr ph;
        if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + i * sizeof ph)) != (ssize_t)sizeof ph)
            break;
        if (ph.p_type == PT_LOAD && ph.p_offset + ph.p_filesz > need)
            need = ph.p_offset + ph.p_filesz;
    }
    if (need <= size)
        return FAAS_OK;
    return faas__fail(FAAS_ELOAD, "faas_update_code %s: \"%s\" is cut short (%llu bytes, its "
                      "ELF headers need %llu): not loaded", name, path,
                      (unsigned long long)size, (unsigned long long)need);
}

/* ---- the update's state ----------------------------------------------------------------- */

void faas__update_free(faas_function *fn)
{
    faas__update *u = fn->upd;
    if (u == NULL)
        return;
    for (size_t i = 0; i < u->nretired; i++)
        faas__module_put(fn->rt, u->retired[i]);
    free(u->retired);
    free(u->source);
    pthread_mutex_destroy(&u->lock);
    free(u);
    fn->upd = NULL;
}

/* Requires u->lock. Give back the replaced modules: no instance of theirs is left. */
static void retired_put(faas_runtime *rt, faas__update *u)
{
    for (size_t i = 0; i < u->nretired; i++)
        faas__module_put(rt, u->retired[i]);
    u->nretired = 0;
}

/* Requires u->lock. Keep mod until no instance of it is left (on ENOMEM it is given back at
 * once: its instances hold it loaded, and only its name entry could go early). */
static void retired_add(faas_runtime *rt, faas__update *u, faas__module *mod)
{
    if (u->nretired == u->cap) {
        size_t cap = u->cap ? 2 * u->cap : 4;
        faas__module **r = realloc(u->retired, cap * sizeof *r);
        if (r == NULL) {
            faas__module_put(rt, mod);
            return;
        }
        u->retired = r;
        u->cap = cap;
    }
    u->retired[u->nretired++] = mod;
}

/* The registered function NAME (unqualified) that can be updated, under the lock the
 * caller holds. */
static int find_updatable(faas_runtime *rt, const char *api, const char *name,
                          faas_function **out)
{
    size_t len;
    *out = NULL;
    if (!faas__valid_name(name, &len))
        return faas__fail(FAAS_EINVAL, "%s: \"%.80s\" is not an unqualified function name "
                          "(1-64 characters of [A-Za-z0-9_-]): only $LATEST has code to "
                          "update", api, name ? name : "(null)");
    HASH_FIND(hh, rt->fns, name, len, *out);
    if (*out == NULL)
        return faas__fail(FAAS_ENOTFOUND, "%s: Function not found: %s", api, name);
    return FAAS_OK;
}

/* Requires rt->reg_lock. The registered function NAME whose code can be updated: a module
 * running in this process. */
static int updatable_locked(faas_runtime *rt, const char *api, const char *name,
                            faas_function **fn)
{
    int rc = find_updatable(rt, api, name, fn);
    if (rc == FAAS_OK && faas__process_is(*fn))
        rc = faas__fail(FAAS_ENOTSUP, "%s %s: a process function's code is the files of its "
                        "task root, which $LATEST's new instances read as they are: change "
                        "them there (faas_publish_version freezes a copy); there is no "
                        "module to replace", api, name);
    else if (rc == FAAS_OK && ((*fn)->kind != FAAS__MODULE || (*fn)->isolated))
        rc = faas__fail(FAAS_ENOTSUP, "%s %s: only a module running in this process can "
                        "have its code updated (not a host, FFI or isolated function)", api,
                        name);
    return rc;
}

/* Its code came from bytes, not a file (no_file). */
static int no_file(const char *api, const char *name)
{
    return faas__fail(FAAS_EINVAL, "%s %s: its code was last given as bytes (a ZipFile), not "
                      "a file: there is none to read again; give the path", api, name);
}

int faas__update_source(faas_runtime *rt, const char *api, const char *name, char **source)
{
    faas_function *fn;
    *source = NULL;
    pthread_rwlock_rdlock(&rt->reg_lock);
    int rc = updatable_locked(rt, api, name, &fn);
    if (rc == FAAS_OK && fn->upd != NULL && fn->upd->no_file)
        rc = no_file(api, name);
    if (rc == FAAS_OK) {
        const char *from = fn->upd && fn->upd->source ? fn->upd->source : fn->mod->path;
        if ((*source = strdup(from)) == NULL)
            rc = faas__fail(FAAS_ENOMEM, "%s %s: out of memory", api, name);
    }
    pthread_rwlock_unlock(&rt->reg_lock);
    return rc;
}

/* Find NAME, check it runs a module in this process, give it its update state and pin it.
 * On success *source is the file to read (path, or the last one), malloc'd. */
static int begin(faas_runtime *rt, const char *name, const char *path, faas_function **fnp,
                 char **source)
{
    const char *api = "faas_update_code";
    faas_function *fn;
    *source = NULL;
    pthread_rwlock_wrlock(&rt->reg_lock);
    int rc = updatable_locked(rt, api, name, &fn);
    if (rc == FAAS_OK && fn->upd == NULL) {
        faas__update *u = calloc(1, sizeof *u);
        if (u == NULL)
            rc = faas__fail(FAAS_ENOMEM, "%s %s: out of memory", api, name);
        else {
            pthread_mutex_init(&u->lock, NULL);
            fn->upd = u;
        }
    }
    if (rc == FAAS_OK && path == NULL && fn->upd->no_file)
        rc = no_file(api, name);
    if (rc == FAAS_OK) {
        const char *from = path ? path : fn->upd->source ? fn->upd->source : fn->mod->path;
        if ((*source = strdup(from)) == NULL)
            rc = faas__fail(FAAS_ENOMEM, "%s %s: out of memory", api, name);
    }
    if (rc == FAAS_OK && (rc = faas__pool_pin(fn)) != FAAS_OK)
        rc = faas__fail(rc, "%s: Function not found: %s (being unregistered)", api, name);
    pthread_rwlock_unlock(&rt->reg_lock);
    if (rc != FAAS_OK) {
        free(*source);
        *source = NULL;
    }
    *fnp = fn;
    return rc;
}

/* Record the update's outcome (rc, its message in faas_last_error()) for faas_update_status. */
static void settle(faas_runtime *rt, faas__update *u, int rc, const char *sha,
                   const char *source)
{
    pthread_rwlock_wrlock(&rt->reg_lock);
    u->updated_ns = faas__wall(rt);
    if (rc == FAAS_OK) {
        u->status = FAAS_UPDATE_SUCCESSFUL;
        u->error = 0;
        u->reason[0] = '\0';
        memcpy(u->sha, sha, sizeof u->sha);
        u->updates++;
        /* A descriptor's link names whatever holds that number next, not this code. */
        u->no_file = strncmp(source, "/proc/self/fd/", 14) == 0;
        char *s = u->no_file ? NULL : strdup(source);
        if (s != NULL || u->no_file) {  /* else path NULL keeps reading the older file */
            free(u->source);
            u->source = s;
        }
    } else {
        u->status = FAAS_UPDATE_FAILED;
        u->error = rc;
        snprintf(u->reason, sizeof u->reason, "%s", faas_last_error());
        u->failures++;
    }
    pthread_rwlock_unlock(&rt->reg_lock);
}

/* Commit: fn runs mod from now on (probe its first instance). FAAS_ENOTFOUND if fn was
 * unregistered meanwhile (then probe and mod are the caller's still). */
static int commit(faas_runtime *rt, faas_function *fn, faas__module *mod,
                  faas__instance *probe)
{
    faas__instance *victims = NULL;
    faas__module *old = NULL;
    bool keep = false;
    pthread_rwlock_wrlock(&rt->reg_lock);
    faas_function *now = NULL;
    HASH_FIND(hh, rt->fns, fn->name->name, strlen(fn->name->name), now);
    bool live = now == fn && !atomic_load(&fn->dead);
    if (live)
        old = faas__pool_swap_code(fn, mod, probe, &keep, &victims);
    pthread_rwlock_unlock(&rt->reg_lock);
    if (!live)
        return faas__fail(FAAS_ENOTFOUND, "faas_update_code: Function not found: %s (it was "
                          "unregistered during the update)", fn->name->name);
    if (keep)
        faas__slot_give(fn, probe, false, faas__now(rt));   /* pinned: fn stays */
    else
        faas__instances_destroy(fn, probe);
    faas__instances_destroy(fn, victims);
    retired_add(rt, fn->upd, old);
    return FAAS_OK;
}

/* Shut the old code's instances down as their calls end; give the replaced modules back
 * once none is left. Waits up to the function's timeout and a second (a handler past its
 * deadline keeps its module; the next update or the unregistration gives it back). */
static void drain_stale(faas_runtime *rt, faas_function *fn)
{
    bool self = faas__in_call_of(fn);   /* its own instance would never come back */
    unsigned polls = (fn->cfg.timeout_ms + 1000) / POLL_MS;
    for (unsigned i = 0;; i++) {
        faas__instance *victims = NULL;
        unsigned left = faas__pool_take_stale(fn, &victims);
        faas__instances_destroy(fn, victims);
        if (left == 0) {
            retired_put(rt, fn->upd);
            return;
        }
        if (self || i >= polls || atomic_load(&fn->dead))
            return;
        faas__pool_wait(fn, POLL_MS);
    }
}

int faas_update_code(faas_runtime *rt, const char *name, const char *path)
{
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_update_code: runtime is NULL");
    if (path != NULL && path[0] == '\0')
        return faas__fail(FAAS_EINVAL, "faas_update_code %.80s: the path is empty",
                          name ? name : "(null)");
    faas_function *fn;
    char *source;
    int rc = begin(rt, name, path, &fn, &source);
    if (rc != FAAS_OK)
        return rc;
    faas__update *u = fn->upd;          /* freed with fn only: fn is pinned */
    pthread_mutex_lock(&u->lock);
    pthread_rwlock_wrlock(&rt->reg_lock);
    u->status = FAAS_UPDATE_IN_PROGRESS;
    pthread_rwlock_unlock(&rt->reg_lock);

    char sha[48], err[512];
    int fd;
    faas__module *mod = NULL;
    faas__instance *probe = NULL;
    rc = faas__code_copy(source, "faas-update", "faas_update_code", name, sha, &fd);
    if (rc == FAAS_OK && (rc = elf_whole(fd, name, source)) != FAAS_OK)
        close(fd);
    if (rc == FAAS_OK && (mod = faas__module_adopt(rt, fd)) == NULL)
        rc = faas__fail(FAAS_ENOMEM, "faas_update_code %s: out of memory", name);
    if (rc == FAAS_OK) {
        rc = faas__instance_probe(fn, mod, &probe, err, sizeof err);
        if (rc != FAAS_OK)
            faas__fail(rc, "%s", err);
    }
    if (rc == FAAS_OK && (rc = commit(rt, fn, mod, probe)) != FAAS_OK) {
        faas__instances_destroy(fn, probe);
        probe = NULL;
    }
    if (rc == FAAS_OK)
        mod = NULL;                     /* fn's now */
    faas__module_put(rt, mod);          /* unloaded already: closes its copy */
    settle(rt, u, rc, sha, source);
    if (rc == FAAS_OK)
        drain_stale(rt, fn);
    pthread_mutex_unlock(&u->lock);
    faas__pool_unpin(fn);
    free(source);
    return rc;
}

int faas_update_status(faas_runtime *rt, const char *name, faas_update_info *out)
{
    if (out == NULL)
        return faas__fail(FAAS_EINVAL, "faas_update_status: out is NULL");
    memset(out, 0, sizeof *out);
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_update_status: runtime is NULL");
    char *path = NULL;
    pthread_rwlock_rdlock(&rt->reg_lock);
    faas_function *fn;
    int rc = find_updatable(rt, "faas_update_status", name, &fn);
    faas__update *u = rc == FAAS_OK ? fn->upd : NULL;
    if (u != NULL) {
        out->status = u->status;
        out->error = u->error;
        memcpy(out->reason, u->reason, sizeof out->reason);
        memcpy(out->code_sha256, u->sha, sizeof out->code_sha256);
        out->updates = u->updates;
        out->failures = u->failures;
        out->updated_ns = u->updated_ns;
    }
    /* Before any update has succeeded, $LATEST runs its registered file. */
    if (rc == FAAS_OK && out->code_sha256[0] == '\0' && fn->mod != NULL &&
        (path = strdup(fn->mod->path)) == NULL)
        rc = faas__fail(FAAS_ENOMEM, "faas_update_status: out of memory");
    pthread_rwlock_unlock(&rt->reg_lock);
    if (path != NULL) {
        int fd;
        char sha[48];
        if (faas__code_copy(path, NULL, "faas_update_status", name, sha, &fd) == FAAS_OK)
            memcpy(out->code_sha256, sha, sizeof sha);
        free(path);
    }
    /* A process function's code is its task root, digested as a publish would freeze it
     * (process_code.c); a tree that cannot be read leaves it "". */
    uint64_t size;
    if (rc == FAAS_OK && out->code_sha256[0] == '\0' &&
        faas__process_code(rt, name, out->code_sha256, &size) != FAAS_OK)
        out->code_sha256[0] = '\0';
    return rc;
}

/* ---- the canary report ------------------------------------------------------------------ */

/* One side of the report: VERSION's stats (0: $LATEST), routed a share WEIGHT. */
static int side(faas_runtime *rt, const char *name, uint32_t version, double weight,
                faas_canary_side *out)
{
    char qname[FAAS__NAME_MAX + 16];
    if (version == 0)
        snprintf(qname, sizeof qname, "%s", name);
    else
        snprintf(qname, sizeof qname, "%s:%u", name, version);
    faas_stats st;
    int rc = faas_stats_get(rt, qname, &st);
    if (rc != FAAS_OK)
        return rc;
    out->version = version;
    out->weight = weight;
    out->invocations = st.invocations;
    out->errors = st.errors;
    out->p50_ms = st.p50_ms;
    out->p99_ms = st.p99_ms;
    out->cost_picousd = st.cost_picousd;
    if (st.invocations > 0) {           /* 128-bit: a large total times a million */
        unsigned __int128 per = (unsigned __int128)st.cost_picousd * 1000000u;
        per = (per + st.invocations / 2) / st.invocations;
        out->cost_per_million_picousd = per > UINT64_MAX ? UINT64_MAX : (uint64_t)per;
    }
    return FAAS_OK;
}

int faas_canary_get(faas_runtime *rt, const char *name, const char *alias, faas_canary *out)
{
    if (out == NULL)
        return faas__fail(FAAS_EINVAL, "faas_canary_get: out is NULL");
    memset(out, 0, sizeof *out);
    faas_alias_info ai;
    int rc = faas_alias_get(rt, name, alias, &ai);
    if (rc != FAAS_OK)
        return rc;
    out->revision = ai.revision;
    rc = side(rt, name, ai.version, 1.0 - ai.extra_weight, &out->primary);
    if (rc == FAAS_OK && ai.extra_version != 0)
        rc = side(rt, name, ai.extra_version, ai.extra_weight, &out->extra);
    if (rc != FAAS_OK)
        memset(out, 0, sizeof *out);
    return rc;
}
