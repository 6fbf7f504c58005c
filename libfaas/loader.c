/*
 * loader.c - dlopen/dlsym/dlclose. One faas__module per path string, shared by every
 * function registered with it; the handle is opened when the first instance needs it and
 * closed when the last instance using it is shut down (scale to zero unloads the code).
 * It knows nothing of instances beyond their count.
 */
#include "internal.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

faas__module *faas__module_get(faas_runtime *rt, const char *path)
{
    faas__module *mod = NULL;
    pthread_mutex_lock(&rt->mod_lock);
    HASH_FIND_STR(rt->mods, path, mod);
    if (mod == NULL) {
        size_t n = strlen(path);
        mod = calloc(1, sizeof *mod + n + 1);
        if (mod != NULL) {
            memcpy(mod->path, path, n + 1);
            mod->fd = -1;
            pthread_mutex_init(&mod->lock, NULL);
            HASH_ADD_STR(rt->mods, path, mod);
        }
    }
    if (mod != NULL)
        mod->regs++;
    pthread_mutex_unlock(&rt->mod_lock);
    return mod;
}

void faas__module_put(faas_runtime *rt, faas__module *mod)
{
    if (mod == NULL)
        return;
    pthread_mutex_lock(&rt->mod_lock);
    if (--mod->regs == 0) {
        /* Every function using it has shut its instances down: no user is left. */
        HASH_DEL(rt->mods, mod);
        pthread_mutex_destroy(&mod->lock);
        if (mod->fd >= 0)
            close(mod->fd);             /* unloaded: its private copy goes */
        free(mod);
    }
    pthread_mutex_unlock(&rt->mod_lock);
}

faas__module *faas__module_adopt(faas_runtime *rt, int fd)
{
    char path[40];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    faas__module *mod = faas__module_get(rt, path);
    if (mod == NULL) {
        close(fd);
        return NULL;
    }
    mod->fd = fd;                       /* a new entry: nothing else names an open fd */
    return mod;
}

int faas__module_acquire(faas__module *mod, char *err, size_t errlen)
{
    int rc = FAAS_OK;
    pthread_mutex_lock(&mod->lock);
    if (mod->handle == NULL) {
        dlerror();                                  /* clear a stale message */
        void *h = dlopen(mod->path, RTLD_LAZY | RTLD_LOCAL);
        if (h == NULL) {
            const char *why = dlerror();            /* copied at once */
            snprintf(err, errlen, "dlopen(\"%s\"): %s", mod->path,
                     why ? why : "unknown error");
            rc = FAAS_ELOAD;
        } else {
            mod->handle = h;
        }
    }
    if (rc == FAAS_OK)
        mod->users++;
    pthread_mutex_unlock(&mod->lock);
    return rc;
}

void faas__module_release(faas__module *mod)
{
    pthread_mutex_lock(&mod->lock);
    if (--mod->users == 0 && mod->handle != NULL) {
        dlclose(mod->handle);
        mod->handle = NULL;
    }
    pthread_mutex_unlock(&mod->lock);
}

void *faas__module_sym(faas__module *mod, const char *symbol, char *err, size_t errlen)
{
    /* The handle cannot change while the caller holds a user reference. An optional
     * symbol (err NULL) skips dlerror(): clearing a stale message formats it, which costs
     * thousands of instructions per cold start. */
    if (err != NULL)
        dlerror();
    void *p = dlsym(mod->handle, symbol);
    if (p == NULL && err != NULL) {
        const char *why = dlerror();
        snprintf(err, errlen, "dlsym(\"%s\", \"%s\"): %s", mod->path, symbol,
                 why ? why : "symbol is NULL");
    }
    return p;
}
