/*
 * registry.c - the name -> function table (uthash under a rwlock): registration with
 * validated names and configs, lookup, unregistration that waits for running calls.
 * It creates and frees faas_function; the pool and the loader do the rest.
 */
#include "internal.h"
#include "abi.h"

#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ffi.h"

/* ---- name blocks ----------------------------------------------------------------------- */

faas__name *faas__name_new(const char *name, const char *tag)
{
    size_t nl = strlen(name), tl = tag ? strlen(tag) : 0;
    faas__name *n = malloc(sizeof *n + nl + 1 + (tag ? tl + 1 : 0));
    if (n == NULL)
        return NULL;
    atomic_init(&n->refs, 1);
    memcpy(n->name, name, nl + 1);
    n->tag = NULL;
    if (tag != NULL) {
        n->tag = n->name + nl + 1;
        memcpy(n->tag, tag, tl + 1);
    }
    return n;
}

void faas__name_unref(faas__name *n)
{
    if (n != NULL && atomic_fetch_sub_explicit(&n->refs, 1, memory_order_acq_rel) == 1)
        free(n);
}

/* The spelling every function name has, as Lambda's: 1 to 64 characters of [A-Za-z0-9_-]. */
bool faas__valid_name(const char *name, size_t *len_out)
{
    if (name == NULL)
        return false;
    size_t n = 0;
    for (const char *p = name; *p; p++, n++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (!ok || n >= FAAS__NAME_MAX)
            return false;
    }
    if (len_out)
        *len_out = n;
    return n > 0;
}

/* The optional process isolation's hooks; NULL when it is not built (see internal.h). */
const faas__isolation_hooks *faas__isolation;

/* ---- configs ----------------------------------------------------------------------------- */

void faas_config_init(faas_config *cfg)
{
    if (cfg == NULL)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->memory_mb = 128;
    cfg->timeout_ms = 3000;
    cfg->max_concurrency = 0;
    cfg->min_warm = 0;
    cfg->keep_alive_ms = 600000;
    cfg->max_retries = 2;
    cfg->pids_max = 1024;       /* AWS Lambda's processes and threads per environment */
}

/* ---- a function's own environment ------------------------------------------------------ */

bool faas__env_reserved(const char *var)
{
    static const char *const names[] = {
        "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_REGION", "AWS_DEFAULT_REGION",
        "AWS_EXECUTION_ENV", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    };
    size_t n = strcspn(var, "=");
    if (n >= 11 && strncmp(var, "AWS_LAMBDA_", 11) == 0)
        return true;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strlen(names[i]) == n && strncmp(var, names[i], n) == 0)
            return true;
    return false;
}

int faas__env_check(const char *const *env, const char *api, const char *name)
{
    if (env == NULL)
        return FAAS_OK;
    for (const char *const *e = env; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (eq == NULL || eq == *e)
            return faas__fail(FAAS_EINVAL, "%s %.80s: environment entry \"%.80s\" is not "
                              "NAME=value", api, name ? name : "(null)", *e);
        if (faas__env_reserved(*e))
            return faas__fail(FAAS_EINVAL, "%s %.80s: %.*s is reserved by Lambda and cannot "
                              "be set", api, name ? name : "(null)", (int)(eq - *e), *e);
    }
    return FAAS_OK;
}

void faas__strv_free(char **v)
{
    if (v == NULL)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

int faas__user_lookup(const char *user, const char *api, const char *name, const char *who,
                      int *uid, int *gid)
{
    *uid = *gid = -1;
    bool root = geteuid() == 0;
    if (user == NULL && !root)
        return FAAS_OK;                 /* the host's: it can be no other */
    const char *named = user ? user : "nobody";
    struct passwd pw, *found = NULL;
    char buf[4096], *end;
    long n = strtol(named, &end, 10);
    bool numeric = named[0] != '\0' && *end == '\0' && n >= 0 && n < INT32_MAX;
    int e = numeric ? getpwuid_r((uid_t)n, &pw, buf, sizeof buf, &found)
                    : getpwnam_r(named, &pw, buf, sizeof buf, &found);
    if (found != NULL && (pw.pw_uid > (uid_t)INT32_MAX || pw.pw_gid > (gid_t)INT32_MAX)) {
        /* -1 would mean the host's own: root, on a root host */
        return faas__fail(FAAS_EINVAL, "%s %.80s: user %.80s: uid %lu or gid %lu is past "
                          "%ld, which libfaas cannot pass on", api, name, named,
                          (unsigned long)pw.pw_uid, (unsigned long)pw.pw_gid, (long)INT32_MAX);
    } else if (found != NULL) {
        *uid = (int)pw.pw_uid;
        *gid = (int)pw.pw_gid;
    } else if (numeric) {
        *uid = *gid = (int)n;           /* a uid without a name: its own group number */
    } else if (user == NULL) {
        *uid = *gid = 65534;            /* no "nobody" here: its usual number */
    } else {
        return faas__fail(FAAS_EINVAL, "%s %.80s: user %.80s: %s", api, name, named,
                          e ? strerror(e) : "no such user");
    }
    if (root)
        return FAAS_OK;
    if (*uid != (int)geteuid())
        return faas__fail(FAAS_EINVAL, "%s %.80s: user %.80s: only a host run as root can "
                          "run its %s as another user", api, name, named, who);
    *uid = *gid = -1;                   /* the host's own, named */
    return FAAS_OK;
}

/* A copy of a NULL-terminated list; NULL for NULL, or out of memory (*oom set). */
static char **env_copy(const char *const *env, bool *oom)
{
    *oom = false;
    if (env == NULL)
        return NULL;
    size_t n = 0;
    while (env[n] != NULL)
        n++;
    char **out = calloc(n + 1, sizeof *out);
    for (size_t i = 0; out != NULL && i < n; i++)
        if ((out[i] = strdup(env[i])) == NULL) {
            faas__strv_free(out);
            out = NULL;
        }
    *oom = out == NULL;
    return out;
}

#define MEMORY_MB_MAX (1u << 20)   /* 1 TB: the arena limit must fit a size_t shift */

static int check_config(const char *name, const faas_config *cfg)
{
    if (!faas__abi_reserved_zero(cfg->reserved, sizeof cfg->reserved))
        return faas__fail(FAAS_ENOTSUP, "%s: the config sets a field libfaas %s does not "
                          "know (reserved is not zero; start from faas_config_init())", name,
                          FAAS_VERSION_STRING);
    if (cfg->memory_mb == 0 || cfg->memory_mb > MEMORY_MB_MAX)
        return faas__fail(FAAS_EINVAL, "%s: memory_mb must be 1 to %u, not %u", name,
                          MEMORY_MB_MAX, cfg->memory_mb);
    if (cfg->timeout_ms == 0)
        return faas__fail(FAAS_EINVAL, "%s: timeout_ms must not be 0", name);
    if (cfg->max_concurrency != 0 && cfg->min_warm > cfg->max_concurrency)
        return faas__fail(FAAS_EINVAL, "%s: min_warm (%u) is more than max_concurrency (%u)",
                          name, cfg->min_warm, cfg->max_concurrency);
    if (cfg->dead_letter != NULL) {
        if (!faas__valid_name(cfg->dead_letter, NULL))
            return faas__fail(FAAS_EINVAL, "%s: dead_letter \"%.80s\" is not a valid name",
                              name, cfg->dead_letter);
        if (strcmp(cfg->dead_letter, name) == 0)
            return faas__fail(FAAS_EINVAL, "%s: a function cannot be its own dead letter",
                              name);
    }
    int rc = faas__env_check(cfg->environment, "register", name);
    if (rc != FAAS_OK)
        return rc;
    if (cfg->isolation != FAAS_ISOLATE_NONE && cfg->isolation != FAAS_ISOLATE_PROCESS)
        return faas__fail(FAAS_EINVAL, "%s: isolation must be FAAS_ISOLATE_NONE or "
                          "FAAS_ISOLATE_PROCESS, not %d", name, cfg->isolation);
    if (cfg->seccomp < FAAS_SECCOMP_NONE || cfg->seccomp > FAAS_SECCOMP_STRICT)
        return faas__fail(FAAS_EINVAL, "%s: seccomp must be FAAS_SECCOMP_NONE, _NO_NETWORK "
                          "or _STRICT, not %d", name, cfg->seccomp);
    if (cfg->user != NULL && cfg->isolation == FAAS_ISOLATE_NONE)
        return faas__fail(FAAS_EINVAL, "%s: user is for isolated instances (isolation = "
                          "FAAS_ISOLATE_PROCESS): an in-process function runs as the host",
                          name);
    if (cfg->seccomp != FAAS_SECCOMP_NONE && cfg->isolation == FAAS_ISOLATE_NONE)
        return faas__fail(FAAS_EINVAL, "%s: a seccomp profile needs isolation = "
                          "FAAS_ISOLATE_PROCESS (the host process cannot be filtered)", name);
    if (cfg->tag != NULL) {
        size_t n = strlen(cfg->tag);
        if (n == 0 || n > FAAS__TAG_MAX)
            return faas__fail(FAAS_EINVAL, "%s: tag must be 1 to %d bytes", name, FAAS__TAG_MAX);
        for (const char *p = cfg->tag; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                return faas__fail(FAAS_EINVAL, "%s: tag has a control character", name);
    }
    return FAAS_OK;
}

/* ---- creating and freeing functions ------------------------------------------------------ */

static void fn_free(faas_function *fn)
{
    if (fn == NULL)
        return;
    if (fn->iso != NULL)
        fn->iso_ops->detach(fn);
    if (fn->kind == FAAS__FFI)
        faas__ffi_free(fn);
    faas__versions_free(fn);
    faas__update_free(fn);              /* the modules its code updates replaced */
    if (fn->key != NULL && (fn->name == NULL || fn->key != fn->name->name))
        free((char *)fn->key);
    faas__module_put(fn->rt, fn->mod);
    if (fn->code_fd >= 0)
        close(fn->code_fd);             /* the version's private code, unloaded above */
    faas__hist_free(&fn->hist);
    faas__hist_free(&fn->init_hist);
    faas__hist_free(&fn->queue_hist);
    pthread_cond_destroy(&fn->quiet);
    pthread_mutex_destroy(&fn->lock);
    free(fn->dead_letter);
    free(fn->user);
    faas__strv_free(fn->env);
    free(fn->symbol);
    faas__name_unref(fn->name);
    free(fn);
}

static int fn_new(faas_runtime *rt, const char *name, const faas_config *cfg,
                  enum faas__kind kind, faas_function **out)
{
    *out = NULL;
    const char *api = kind == FAAS__HOST ? "faas_register"
                    : kind == FAAS__MODULE ? "faas_register_module" : "faas_register_ffi";
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "%s: runtime is NULL", api);
    if (!faas__valid_name(name, NULL))
        return faas__fail(FAAS_EINVAL,
                          "%s: invalid function name \"%.80s\": 1-64 characters of "
                          "[A-Za-z0-9_-]", api, name ? name : "(null)");
    faas_config defaults;
    if (cfg == NULL) {
        faas_config_init(&defaults);
        cfg = &defaults;
    }
    int rc = check_config(name, cfg);
    if (rc != FAAS_OK)
        return rc;
    int uid = -1, gid = -1;
    if (cfg->isolation != FAAS_ISOLATE_NONE &&
        (rc = faas__user_lookup(cfg->user, api, name, "instances", &uid, &gid)) != FAAS_OK)
        return rc;
    if (uid >= 0 && (uid_t)uid == geteuid())
        uid = gid = -1;                 /* root named: the host's own, as before */

    faas_function *fn = faas__zalloc_lines(sizeof *fn);  /* counters, hot: lines apart */
    if (fn == NULL)
        return faas__fail(FAAS_ENOMEM, "register %s: out of memory", name);
    fn->rt = rt;
    fn->kind = kind;
    fn->code_fd = -1;
    fn->cfg = *cfg;
    fn->name = faas__name_new(name, cfg->tag);
    fn->dead_letter = cfg->dead_letter ? strdup(cfg->dead_letter) : NULL;
    fn->user = cfg->user ? strdup(cfg->user) : NULL;
    fn->run_uid = uid;
    fn->run_gid = gid;
    pthread_mutex_init(&fn->lock, NULL);
    pthread_cond_init(&fn->quiet, NULL);
    atomic_init(&fn->dead, false);
    atomic_init(&fn->maint_armed, false);
    atomic_init(&fn->budget, NULL);
    for (unsigned i = 0; i < FAAS__SHARDS; i++)
        atomic_init(&fn->hot[i].p, NULL);
    faas__pool_init(fn);
    bool env_oom;
    fn->env = env_copy(cfg->environment, &env_oom);
    if (fn->name == NULL || (cfg->dead_letter && fn->dead_letter == NULL) ||
        (cfg->user && fn->user == NULL) || env_oom) {
        fn_free(fn);
        return faas__fail(FAAS_ENOMEM, "register %s: out of memory", name);
    }
    fn->cfg.dead_letter = fn->dead_letter;
    fn->cfg.environment = (const char *const *)fn->env;
    fn->cfg.user = fn->user;
    fn->cfg.tag = fn->name->tag;
    fn->key = fn->name->name;
    faas__price_fn(rt->price, cfg->memory_mb, &fn->price);
    fn->hist_on = !rt->opts.no_histograms;
    fn->isolated = cfg->isolation != FAAS_ISOLATE_NONE;
    *out = fn;
    return FAAS_OK;
}

void faas__fn_free(faas_function *fn)
{
    fn_free(fn);
}

/* Publish fn under its name; on failure fn is freed. */
static int fn_insert(faas_runtime *rt, faas_function *fn)
{
    int rc = FAAS_OK;
    pthread_rwlock_wrlock(&rt->reg_lock);
    faas_function *old = NULL;
    const char *name = fn->name->name;
    if (atomic_load(&rt->closing)) {
        rc = faas__fail(FAAS_ESHUTDOWN, "register %s: the runtime is shutting down", name);
    } else {
        HASH_FIND_STR(rt->fns, name, old);
        if (old != NULL) {
            rc = faas__fail(FAAS_EEXIST, "register %s: a function of that name exists", name);
        } else {
            /* Under the registry lock, so that faas_budget_set() cannot miss it. */
            atomic_store_explicit(&fn->budget, faas__budget_for(rt, fn->name->tag),
                                  memory_order_release);
            HASH_ADD_KEYPTR(hh, rt->fns, name, strlen(name), fn);
        }
    }
    pthread_rwlock_unlock(&rt->reg_lock);
    if (rc != FAAS_OK) {
        fn_free(fn);
        return rc;
    }
    faas__pool_start(fn);
    return FAAS_OK;
}

int faas_register(faas_runtime *rt, const char *name, faas_handler handler,
                  const faas_config *cfg)
{
    if (handler == NULL)
        return faas__fail(FAAS_EINVAL, "faas_register: handler is NULL");
    if (cfg != NULL && cfg->isolation != FAAS_ISOLATE_NONE)
        return faas__fail(FAAS_EINVAL, "faas_register %.80s: a host function pointer cannot "
                          "run in another process; register a module for isolation",
                          name ? name : "(null)");
    faas_function *fn;
    int rc = fn_new(rt, name, cfg, FAAS__HOST, &fn);
    if (rc != FAAS_OK)
        return rc;
    fn->handler = handler;
    fn->init = cfg ? cfg->init : NULL;
    fn->shutdown = cfg ? cfg->shutdown : NULL;
    return fn_insert(rt, fn);
}

int faas_register_module(faas_runtime *rt, const char *name, const char *path,
                         const char *symbol, const faas_config *cfg)
{
    if (path == NULL || path[0] == '\0' || symbol == NULL || symbol[0] == '\0')
        return faas__fail(FAAS_EINVAL, "faas_register_module: path and symbol are required");
    if (cfg != NULL && (cfg->init != NULL || cfg->shutdown != NULL))
        return faas__fail(FAAS_EINVAL,
                          "faas_register_module: init and shutdown come from the module's "
                          "faas_init and faas_shutdown symbols, not the config");
    faas_function *fn;
    int rc = fn_new(rt, name, cfg, FAAS__MODULE, &fn);
    if (rc != FAAS_OK)
        return rc;
    fn->symbol = strdup(symbol);
    fn->mod = faas__module_get(rt, path);
    if (fn->symbol == NULL || fn->mod == NULL) {
        fn_free(fn);
        return faas__fail(FAAS_ENOMEM, "faas_register_module %s: out of memory", name);
    }
    if (fn->isolated) {
        if (faas__isolation == NULL) {
            fn_free(fn);
            return faas__fail(FAAS_ENOTSUP, "faas_register_module %s: isolation = "
                              "FAAS_ISOLATE_PROCESS: this libfaas was built without process "
                              "isolation (it needs Linux and libseccomp; configure "
                              "--with-isolation)", name);
        }
        fn->iso_ops = faas__isolation;
        rc = faas__isolation->attach(fn);     /* sets fn->iso; starts nothing yet */
        if (rc != FAAS_OK) {
            fn_free(fn);
            return rc;
        }
    }
    return fn_insert(rt, fn);
}

int faas__register_hooked(faas_runtime *rt, const char *name, const faas_config *cfg,
                          const faas__isolation_hooks *ops, void *state)
{
    faas_function *fn;
    int rc = fn_new(rt, name, cfg, FAAS__HOST, &fn);
    if (rc != FAAS_OK) {
        faas_function tmp = { .iso = state, .iso_ops = ops };
        ops->detach(&tmp);              /* state is owned on failure too */
        return rc;
    }
    fn->isolated = true;
    fn->iso_ops = ops;
    fn->iso = state;
    return fn_insert(rt, fn);           /* frees fn (and state) on failure */
}

int faas__register_prepared(faas_runtime *rt, const char *name, const faas_config *cfg,
                            const char *path, const char *symbol, void *ffi,
                            faas_function **out)
{
    faas_function *fn;
    if (out != NULL)
        *out = NULL;
    int rc = fn_new(rt, name, cfg, FAAS__FFI, &fn);
    if (rc != FAAS_OK) {
        faas__ffi_release(ffi);         /* owned on failure too */
        return rc;
    }
    fn->ffi = ffi;                      /* from here fn_free() frees it */
    if (fn->isolated) {
        fn_free(fn);                    /* frees ffi too */
        return faas__fail(FAAS_ENOTSUP, "faas_register_ffi %s: isolation is supported for "
                          "modules (faas_register_module) only", name);
    }
    fn->symbol = strdup(symbol);
    fn->mod = path ? faas__module_get(rt, path) : NULL;
    if (fn->symbol == NULL || (path != NULL && fn->mod == NULL)) {
        fn_free(fn);
        return faas__fail(FAAS_ENOMEM, "faas_register_ffi %s: out of memory", name);
    }
    rc = fn_insert(rt, fn);             /* frees fn on failure */
    if (rc == FAAS_OK && out != NULL)
        *out = fn;
    return rc;
}

/* ---- published versions (version.c decides when; this is how one is made) ------------- */

int faas__version_new(faas_function *latest, uint32_t version, const char *key,
                      const char *code_path, int code_fd, faas_function **out)
{
    faas_function *fn;
    int rc = fn_new(latest->rt, latest->name->name, &latest->cfg, latest->kind, &fn);
    if (rc != FAAS_OK) {
        if (code_fd >= 0)
            close(code_fd);
        return rc;
    }
    fn->code_fd = code_fd;
    fn->version = version;
    fn->key = strdup(key);
    fn->handler = latest->handler;
    fn->init = latest->init;
    fn->shutdown = latest->shutdown;
    if (latest->symbol != NULL)
        fn->symbol = strdup(latest->symbol);
    if (code_path != NULL)
        fn->mod = faas__module_get(latest->rt, code_path);
    if (fn->key == NULL || (latest->symbol && fn->symbol == NULL) ||
        (code_path && fn->mod == NULL)) {
        fn_free(fn);
        return faas__fail(FAAS_ENOMEM, "faas_publish_version %s: out of memory", key);
    }
    *out = fn;
    return FAAS_OK;
}

void faas__version_insert(faas_runtime *rt, faas_function *fn)
{
    /* Requires rt->reg_lock held for writing. */
    atomic_store_explicit(&fn->budget, faas__budget_for(rt, fn->name->tag),
                          memory_order_release);
    HASH_ADD_KEYPTR(hh, rt->quals, fn->key, strlen(fn->key), fn);
}

/* ---- lookup and unregistration -------------------------------------------------------- */

/* NAME, plain or qualified (route: an alias resolved to this call's version), taking the
 * registry lock; NULL with *status FAAS_EINVAL or FAAS_ENOTFOUND. */
static faas_function *find(faas_runtime *rt, const char *name, bool route, int *status,
                           uint64_t *epoch)
{
    size_t len;
    faas_function *fn = NULL;
    pthread_rwlock_rdlock(&rt->reg_lock);
    if (epoch != NULL)
        *epoch = rt->reg_epoch;
    if (__builtin_expect(faas__valid_name(name, &len), 1)) {
        HASH_FIND(hh, rt->fns, name, len, fn);
        *status = fn ? FAAS_OK : FAAS_ENOTFOUND;
    } else {
        fn = faas__qualified_find(rt, name, route, status);
    }
    pthread_rwlock_unlock(&rt->reg_lock);
    return fn;
}

faas_function *faas__lookup_epoch(faas_runtime *rt, const char *name, uint64_t *epoch)
{
    if (rt == NULL) {
        faas__fail(FAAS_EINVAL, "faas_lookup: runtime is NULL");
        return NULL;
    }
    int rc;
    faas_function *fn = find(rt, name, false, &rc, epoch);  /* an alias stays one: it routes */
    if (fn == NULL && rc == FAAS_EINVAL)
        faas__fail(FAAS_EINVAL, "faas_lookup: invalid name \"%.80s\"", name ? name : "(null)");
    else if (fn == NULL)
        faas__fail(FAAS_ENOTFOUND, "Function not found: %.200s", name);
    return fn;
}

faas_function *faas_lookup(faas_runtime *rt, const char *name)
{
    return faas__lookup_epoch(rt, name, NULL);
}

/* Take a slot on fn found under the registry lock (held by the caller). */
static inline __attribute__((always_inline)) int
slot_on(faas_function *fn, faas__slot *slot, faas_response *res)
{
    int rc = faas__budget_check(fn, NULL, 1, res);
    if (rc == FAAS_OK) {
        rc = faas__slot_take(fn, slot);
        if (rc == FAAS_ETHROTTLED)
            faas__throttled(fn, NULL, 1, res);
    }
    return rc;
}

/* faas__lookup_slot() for a name with a qualifier: out of line, off the plain name's path. */
static __attribute__((noinline)) int
lookup_slot_qualified(faas_runtime *rt, const char *name, faas_function **fnp,
                      faas__slot *slot, faas_response *res)
{
    int rc;
    pthread_rwlock_rdlock(&rt->reg_lock);
    faas_function *fn = faas__qualified_find(rt, name, true, &rc);
    if (fn != NULL)
        rc = slot_on(fn, slot, res);
    pthread_rwlock_unlock(&rt->reg_lock);
    *fnp = fn;
    return rc;
}

int faas__lookup_slot(faas_runtime *rt, const char *name, faas_function **fnp,
                      faas__slot *slot, faas_response *res)
{
    size_t len;
    *fnp = NULL;
    if (__builtin_expect(!faas__valid_name(name, &len), 0))
        return lookup_slot_qualified(rt, name, fnp, slot, res);
    faas_function *fn = NULL;
    int rc;
    pthread_rwlock_rdlock(&rt->reg_lock);
    HASH_FIND(hh, rt->fns, name, len, fn);
    rc = fn == NULL ? FAAS_ENOTFOUND : slot_on(fn, slot, res);
    pthread_rwlock_unlock(&rt->reg_lock);
    *fnp = fn;
    return rc;
}

int faas__lookup_slot_known(faas_runtime *rt, const char *name, faas_function *known,
                            uint64_t epoch, faas_function **fnp, faas__slot *slot,
                            faas_response *res)
{
    if (known != NULL) {
        pthread_rwlock_rdlock(&rt->reg_lock);
        if (rt->reg_epoch == epoch && known->kind != FAAS__ALIAS) {
            int rc = slot_on(known, slot, res);
            pthread_rwlock_unlock(&rt->reg_lock);
            *fnp = known;
            return rc;
        }
        pthread_rwlock_unlock(&rt->reg_lock);
    }
    return faas__lookup_slot(rt, name, fnp, slot, res);
}

int faas_unregister(faas_runtime *rt, const char *name)
{
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_unregister: runtime is NULL");
    if (!faas__valid_name(name, NULL))
        return faas__fail(FAAS_EINVAL, "faas_unregister: invalid name \"%.80s\"",
                          name ? name : "(null)");
    faas_function *fn = NULL;
    pthread_rwlock_wrlock(&rt->reg_lock);
    HASH_FIND_STR(rt->fns, name, fn);
    if (fn != NULL && faas__in_call_of(fn)) {
        pthread_rwlock_unlock(&rt->reg_lock);
        return faas__fail(FAAS_EBUSY, "faas_unregister %s: called from inside a call of "
                          "%s, which would wait for itself", name, name);
    }
    faas_function **vers = NULL;
    size_t nvers = 0;
    if (fn != NULL && faas__versions_detach(rt, fn, &vers, &nvers) != FAAS_OK) {
        pthread_rwlock_unlock(&rt->reg_lock);
        return faas__fail(FAAS_ENOMEM, "faas_unregister %s: out of memory", name);
    }
    if (fn != NULL) {
        HASH_DEL(rt->fns, fn);
        rt->reg_epoch++;                /* handles found before may be freed from now on */
    }
    pthread_rwlock_unlock(&rt->reg_lock);
    if (fn == NULL)
        return faas__fail(FAAS_ENOTFOUND, "faas_unregister: Function not found: %s", name);
    for (size_t i = 0; i < nvers; i++) {   /* its published versions go with it */
        faas__pool_close(vers[i]);
        faas__sched_retire(rt, vers[i]);
    }
    free(vers);
    faas__pool_close(fn);           /* waits for running calls */
    faas__sched_retire(rt, fn);     /* freed once no async call is pending; its aliases
                                       with it */
    return FAAS_OK;
}

void faas__registry_close(faas_runtime *rt)
{
    faas_function *fn, *tmp;
    pthread_rwlock_wrlock(&rt->reg_lock);
    faas_function *all = rt->fns, *quals = rt->quals;
    rt->fns = NULL;
    rt->quals = NULL;
    pthread_rwlock_unlock(&rt->reg_lock);
    HASH_ITER(hh, quals, fn, tmp) {     /* versions and aliases first: the aliases are
                                           freed with their $LATEST, below */
        HASH_DEL(quals, fn);
        if (fn->kind != FAAS__ALIAS) {
            faas__pool_close(fn);
            fn_free(fn);
        }
    }
    HASH_ITER(hh, all, fn, tmp) {
        HASH_DEL(all, fn);
        faas__pool_close(fn);
        fn_free(fn);                /* every async call has completed by now */
    }
}

faas_function *faas__lookup_fn(faas_runtime *rt, const char *name, int *status)
{
    return find(rt, name, true, status, NULL);
}

int faas_warm(faas_runtime *rt, const char *name, unsigned instances)
{
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_warm: runtime is NULL");
    faas__qname qn;
    if (faas__qname_parse(name, &qn) != FAAS_OK)
        return faas__fail(FAAS_EINVAL, "faas_warm: invalid name \"%.80s\"",
                          name ? name : "(null)");
    if (atomic_load(&rt->closing))
        return faas__fail(FAAS_ESHUTDOWN, "faas_warm: the runtime is shutting down");
    faas_function *fn = NULL;
    int rc = FAAS_OK;
    pthread_rwlock_rdlock(&rt->reg_lock);
    if (qn.kind == FAAS__Q_NONE)
        HASH_FIND_STR(rt->fns, name, fn);
    else                                /* a version ("NAME:3") has instances of its own */
        fn = faas__qualified_find(rt, name, false, &rc);
    if (fn != NULL && fn->kind == FAAS__ALIAS) {
        pthread_rwlock_unlock(&rt->reg_lock);
        return faas__fail(FAAS_EINVAL, "faas_warm: %.200s is an alias: warm its versions "
                          "(NAME:VERSION)", name);
    }
    if (fn == NULL) {
        pthread_rwlock_unlock(&rt->reg_lock);
        return faas__fail(FAAS_ENOTFOUND, "faas_warm: Function not found: %.200s", name);
    }
    /* Reserved slots keep unregistration waiting, so fn stays valid once they are made;
     * they are made before the registry lock is dropped. */
    unsigned deficit = faas__pool_reserve(fn, instances);
    pthread_rwlock_unlock(&rt->reg_lock);
    return faas__pool_fill(fn, deficit);
}
