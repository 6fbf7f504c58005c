/*
 * catalog.c - faas_list() and faas_describe(): snapshots of what functions are registered
 * and with which configuration, copied out under the registry's read lock into one block
 * the caller frees. It reads the registry and never changes it.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static const char *kind_name(enum faas__kind k)
{
    switch (k) {
    case FAAS__HOST:   return "host";
    case FAAS__MODULE: return "module";
    case FAAS__FFI:    return "ffi";
    case FAAS__ALIAS:  return "alias";      /* never listed: aliases are not in rt->fns */
    }
    return "host";
}

/* Bytes the strings of fn take in a block (each with its NUL). */
static size_t strings_size(const faas_function *fn)
{
    size_t n = strlen(fn->name->name) + 1;
    if (fn->mod != NULL)
        n += strlen(fn->mod->path) + 1;
    if (fn->symbol != NULL)
        n += strlen(fn->symbol) + 1;
    if (fn->cfg.dead_letter != NULL)
        n += strlen(fn->cfg.dead_letter) + 1;
    if (fn->cfg.tag != NULL)
        n += strlen(fn->cfg.tag) + 1;
    if (fn->cfg.user != NULL)
        n += strlen(fn->cfg.user) + 1;
    if (fn->env != NULL) {              /* the pointers first: the block starts aligned */
        for (char **e = fn->env; *e; e++)
            n += sizeof(char *) + strlen(*e) + 1;
        n += sizeof(char *);
    }
    return n;
}

/* Pointer arrays go at the start of a block's string area (aligned), strings after them:
 * the bytes the pointers of fn take. */
static size_t pointers_size(const faas_function *fn)
{
    size_t n = 0;
    if (fn->env != NULL) {
        for (char **e = fn->env; *e; e++)
            n += sizeof(char *);
        n += sizeof(char *);
    }
    return n;
}

static const char *put(char **at, const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = *at;
    memcpy(d, s, n);
    *at += n;
    return d;
}

/* Fill info from fn, its strings written at *at and its pointer arrays at *ptrs (both
 * advanced). */
static void describe(const faas_function *fn, faas_function_info *info, char **at,
                     const char ***ptrs)
{
    info->name = put(at, fn->name->name);
    info->kind = kind_name(fn->kind);
    info->module = fn->mod ? put(at, fn->mod->path) : NULL;
    info->symbol = put(at, fn->symbol);
    info->config = fn->cfg;
    memset(info->reserved, 0, sizeof info->reserved);
    info->config.dead_letter = put(at, fn->cfg.dead_letter);
    info->config.tag = put(at, fn->cfg.tag);
    info->config.user = put(at, fn->cfg.user);
    info->config.environment = NULL;
    if (fn->env != NULL) {
        const char **env = *ptrs;
        size_t i = 0;
        for (char **e = fn->env; *e; e++)
            env[i++] = put(at, *e);
        env[i++] = NULL;
        *ptrs += i;
        info->config.environment = env;
    }
    if (fn->kind == FAAS__HOST) {
        info->config.init = fn->init;
        info->config.shutdown = fn->shutdown;
    }
}

static int by_name(const void *a, const void *b)
{
    const faas_function_info *x = a, *y = b;
    return strcmp(x->name, y->name);
}

int faas_list(faas_runtime *rt, faas_function_info **infos, size_t *count)
{
    if (infos != NULL)
        *infos = NULL;
    if (count != NULL)
        *count = 0;
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_list: runtime is NULL");
    if (infos == NULL || count == NULL)
        return faas__fail(FAAS_EINVAL, "faas_list: infos and count must not be NULL");
    pthread_rwlock_rdlock(&rt->reg_lock);
    size_t n = HASH_COUNT(rt->fns), bytes = 0, pbytes = 0;
    faas_function *fn, *tmp;
    HASH_ITER(hh, rt->fns, fn, tmp) {
        bytes += strings_size(fn);
        pbytes += pointers_size(fn);
    }
    faas_function_info *out = NULL;
    if (n > 0) {
        out = malloc(n * sizeof *out + bytes);
        if (out == NULL) {
            pthread_rwlock_unlock(&rt->reg_lock);
            return faas__fail(FAAS_ENOMEM, "faas_list: out of memory for %zu functions", n);
        }
        const char **ptrs = (const char **)(void *)(out + n);
        char *at = (char *)(out + n) + pbytes;
        size_t i = 0;
        HASH_ITER(hh, rt->fns, fn, tmp)
            describe(fn, &out[i++], &at, &ptrs);
    }
    pthread_rwlock_unlock(&rt->reg_lock);
    if (n > 1)
        qsort(out, n, sizeof *out, by_name);
    *infos = out;
    *count = n;
    return FAAS_OK;
}

int faas_describe(faas_runtime *rt, const char *name, faas_function_info **info)
{
    if (info != NULL)
        *info = NULL;
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_describe: runtime is NULL");
    if (info == NULL)
        return faas__fail(FAAS_EINVAL, "faas_describe: info is NULL");
    size_t len;
    if (!faas__valid_name(name, &len))
        return faas__fail(FAAS_EINVAL, "faas_describe: invalid function name \"%.80s\"",
                          name ? name : "(null)");
    pthread_rwlock_rdlock(&rt->reg_lock);
    faas_function *fn = NULL;
    HASH_FIND(hh, rt->fns, name, len, fn);
    if (fn == NULL) {
        pthread_rwlock_unlock(&rt->reg_lock);
        return faas__fail(FAAS_ENOTFOUND, "faas_describe: Function not found: %s", name);
    }
    faas_function_info *out = malloc(sizeof *out + strings_size(fn));
    if (out == NULL) {
        pthread_rwlock_unlock(&rt->reg_lock);
        return faas__fail(FAAS_ENOMEM, "faas_describe: out of memory");
    }
    const char **ptrs = (const char **)(void *)(out + 1);
    char *at = (char *)(out + 1) + pointers_size(fn);
    describe(fn, out, &at, &ptrs);
    pthread_rwlock_unlock(&rt->reg_lock);
    *info = out;
    return FAAS_OK;
}

void faas_info_free(faas_function_info *infos)
{
    free(infos);
}
