/*
 * runtime.c - the faas_runtime lifecycle: options, the timer thread, manual mode, the
 * record hook, the version, and the teardown order. The only file that knows every part.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *faas_version(void)
{
    return FAAS_VERSION_STRING;
}

unsigned faas_version_number(void)
{
    return FAAS_VERSION_HEX;
}

#define WORKERS_MAX 4096u

int faas_runtime_new(faas_runtime **out, const faas_options *opts)
{
    if (out == NULL)
        return faas__fail(FAAS_EINVAL, "faas_runtime_new: out is NULL");
    *out = NULL;
    faas_options o;
    if (opts != NULL)
        o = *opts;
    else
        memset(&o, 0, sizeof o);

    const faas__price *price = faas__price_find(o.price_model ? o.price_model
                                                              : "aws-lambda-x86");
    if (price == NULL)
        return faas__fail(FAAS_EINVAL, "faas_runtime_new: unknown price model \"%.80s\"",
                          o.price_model);
    if (o.workers == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o.workers = n > 0 ? (unsigned)n : 1;
    }
    if (o.workers > WORKERS_MAX)
        return faas__fail(FAAS_EINVAL, "faas_runtime_new: %u workers is more than %u",
                          o.workers, WORKERS_MAX);
    if (o.queue_capacity == 0)
        o.queue_capacity = FAAS__DEFAULT_QUEUE;
    if (o.max_payload_sync == 0)
        o.max_payload_sync = FAAS__DEFAULT_SYNC_LIMIT;
    if (o.max_payload_async == 0)
        o.max_payload_async = FAAS__DEFAULT_ASYNC_LIMIT;
    o.price_model = price->name;
    if (price->cpu_basis)
        o.cpu_time = 1;                 /* a model that bills CPU time needs it measured */

    faas_runtime *rt = calloc(1, sizeof *rt);
    if (rt == NULL)
        return faas__fail(FAAS_ENOMEM, "faas_runtime_new: out of memory");
    rt->opts = o;
    rt->price = price;
    pthread_rwlock_init(&rt->reg_lock, NULL);
    pthread_mutex_init(&rt->mod_lock, NULL);
    pthread_mutex_init(&rt->hook_lock, NULL);
    atomic_init(&rt->hook, NULL);
    atomic_init(&rt->closing, false);
    int rc = faas__timers_init(rt, !o.manual);
    if (rc != FAAS_OK) {
        faas__timers_stop(rt);
        faas__timers_destroy(rt);
        pthread_mutex_destroy(&rt->hook_lock);
        pthread_mutex_destroy(&rt->mod_lock);
        pthread_rwlock_destroy(&rt->reg_lock);
        free(rt);
        return rc;
    }
    *out = rt;
    return FAAS_OK;
}

void faas_runtime_free(faas_runtime *rt)
{
    if (rt == NULL)
        return;
    atomic_store(&rt->closing, true);
    /* Timers first: the thread stops, and each timer still armed fires once with
     * cancelled = 1 on this thread. Then every function: wait for its running calls,
     * shut its instances down (the last user of a module unloads it). */
    faas__timers_stop(rt);
    faas__registry_close(rt);
    faas__timers_destroy(rt);

    faas__hook *h = rt->hooks;
    while (h != NULL) {
        faas__hook *older = h->older;
        free(h);
        h = older;
    }
    pthread_mutex_destroy(&rt->hook_lock);
    pthread_mutex_destroy(&rt->mod_lock);
    pthread_rwlock_destroy(&rt->reg_lock);
    free(rt);
}

int faas_run_pending(faas_runtime *rt)
{
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_run_pending: runtime is NULL");
    return faas__timers_run_due(rt);
}

int faas_drain(faas_runtime *rt, unsigned timeout_ms)
{
    (void)timeout_ms;
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_drain: runtime is NULL");
    return FAAS_OK;   /* no asynchronous queue yet: nothing is ever pending */
}

int faas_invoke_async(faas_runtime *rt, const char *name, const void *payload, size_t len,
                      faas_callback cb, void *arg, char request_id[37])
{
    (void)rt; (void)name; (void)payload; (void)len; (void)cb; (void)arg; (void)request_id;
    return faas__fail(FAAS_ENOTSUP, "faas_invoke_async: the scheduler is not built yet");
}

void faas_on_record(faas_runtime *rt, faas_record_hook hook, void *arg)
{
    if (rt == NULL)
        return;
    faas__hook *h = NULL;
    if (hook != NULL) {
        h = malloc(sizeof *h);
        if (h == NULL) {
            faas__fail(FAAS_ENOMEM, "faas_on_record: out of memory");
            return;
        }
        h->fn = hook;
        h->arg = arg;
    }
    /* Old hooks stay allocated until the runtime is freed: a call on another thread may
     * still be using the one it loaded. */
    pthread_mutex_lock(&rt->hook_lock);
    if (h != NULL) {
        h->older = rt->hooks;
        rt->hooks = h;
    }
    atomic_store_explicit(&rt->hook, h, memory_order_release);
    pthread_mutex_unlock(&rt->hook_lock);
}
