/*
 * instance.c - the per-function instance pool: the lifecycle of libfaas(7).
 *
 *   no idle instance, live < max_concurrency  -> a slot is reserved, the caller creates an
 *                                                instance (LOAD if needed + INIT: cold)
 *   idle instance                             -> reused, most recently used first (warm)
 *   live == max_concurrency                   -> FAAS_ETHROTTLED
 *   idle longer than keep_alive_ms            -> SHUTDOWN by the maintenance timer, down to
 *                                                min_warm; the last user of a module
 *                                                unloads it
 *
 * It owns instances and the function's maintenance timer; it calls the loader for code and
 * never runs a handler.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ffi.h"

/* ---- INIT failure reports: faas_fail(NULL, ...) during a faas_init hook ----------------- */

static _Thread_local char *init_report;        /* where faas_fail(NULL) writes, or NULL */
static _Thread_local const faas_function *init_fn;   /* whose INIT this thread is running */
#define INIT_REPORT_MAX 512

bool faas__initialising(const faas_function *fn)
{
    return init_fn == fn;
}

void faas__init_report(const char *msg)
{
    if (init_report != NULL)
        snprintf(init_report, INIT_REPORT_MAX, "%s", msg);
}

/* ---- creating and destroying instances ------------------------------------------------ */

/* Requires fn->lock. A module instance of gen is gone: count it out (an update's probe,
 * of a gen not committed, was never counted). */
static void gen_drop_locked(faas_function *fn, uint64_t gen)
{
    uint64_t now = atomic_load_explicit(&fn->gen, memory_order_relaxed);
    if (gen == now)
        fn->gen_live--;
    else if (gen < now && --fn->stale_live == 0 && fn->pins > 0)
        pthread_cond_broadcast(&fn->quiet);      /* an update waits for the old code */
}

/* Give back an instance's module (after its shutdown hook: the code must stay loaded). */
static void module_drop(faas_function *fn, faas__instance *inst)
{
    if (inst->mod == NULL)
        return;
    faas__module_release(inst->mod);
    pthread_mutex_lock(&fn->lock);
    gen_drop_locked(fn, inst->gen);
    pthread_mutex_unlock(&fn->lock);
}

static void destroy(faas_function *fn, faas__instance *inst)
{
    if (inst->shutdown != NULL)
        inst->shutdown(inst->state);
    faas__arena_free(&inst->arena);
    module_drop(fn, inst);
    free(inst);
}

void faas__instance_discard(faas_function *fn, faas__instance *inst)
{
    destroy(fn, inst);
}

static void destroy_list(faas_function *fn, faas__instance *list)
{
    while (list != NULL) {
        faas__instance *next = list->next;
        destroy(fn, list);
        list = next;
    }
}

/* Make an instance of fn running mod (NULL: fn has no module, or is isolated) of code
 * generation gen, counted by the caller. */
static int create(faas_function *fn, faas__module *mod, uint64_t gen, faas__instance **out,
                  char *err, size_t errlen)
{
    int rc = FAAS_OK;
    faas_init_fn init = NULL;
    faas__instance *inst = calloc(1, sizeof *inst);
    if (inst == NULL) {
        snprintf(err, errlen, "out of memory creating an instance of %s", fn->name->name);
        rc = FAAS_ENOMEM;
        goto fail;
    }
    faas__arena_init(&inst->arena, (size_t)fn->cfg.memory_mb << 20);
    inst->created_ns = faas__now(fn->rt);

    if (fn->isolated) {
        /* A process made by the isolation part (or a process function's); the host
         * loads nothing. */
        rc = fn->iso_ops->create(fn, inst, err, errlen);
        if (rc != FAAS_OK)
            goto fail;
        *out = inst;
        return FAAS_OK;
    }
    inst->gen = gen;
    if (mod != NULL) {
        rc = faas__module_acquire(mod, err, errlen);
        if (rc != FAAS_OK)
            goto fail;
        inst->mod = mod;
    }
    switch (fn->kind) {
    case FAAS__HOST:
        inst->handler = fn->handler;
        inst->shutdown = fn->shutdown;
        init = fn->init;
        break;
    case FAAS__MODULE:
        inst->handler = (faas_handler)faas__module_sym(mod, fn->symbol, err, errlen);
        if (inst->handler == NULL) {
            rc = FAAS_ELOAD;
            goto fail;
        }
        /* Both hooks are optional: absence is not an error. */
        init = (faas_init_fn)faas__module_sym(mod, "faas_init", NULL, 0);
        inst->shutdown = (faas_shutdown_fn)faas__module_sym(mod, "faas_shutdown", NULL, 0);
        break;
    case FAAS__FFI:
        rc = faas__ffi_instance(fn, inst, err, errlen);
        if (rc != FAAS_OK)
            goto fail;
        break;
    case FAAS__ALIAS:                   /* never: an alias routes, it has no instances */
        snprintf(err, errlen, "%s is an alias: it has no instances", fn->key);
        rc = FAAS_ELOAD;
        goto fail;
    }

    if (init != NULL) {
        char report[INIT_REPORT_MAX] = "";
        char *outer = init_report;      /* an INIT may invoke another function's INIT */
        const faas_function *outer_fn = init_fn;
        init_report = report;
        init_fn = fn;
        int irc = init(&inst->state, fn->name->name);
        init_fn = outer_fn;
        init_report = outer;
        if (irc != 0) {
            if (report[0] != '\0')
                snprintf(err, errlen, "%s", report);
            else
                snprintf(err, errlen, "faas_init(\"%s\") returned %d", fn->name->name, irc);
            inst->shutdown = NULL;      /* a failed INIT leaves nothing to shut down */
            rc = FAAS_EINIT;
            goto fail;
        }
    }
    *out = inst;
    return FAAS_OK;

fail:
    if (inst != NULL) {
        if (inst->mod != NULL)
            faas__module_release(inst->mod);
        faas__arena_free(&inst->arena);
        free(inst);
    }
    *out = NULL;
    return rc;
}

int faas__instance_create(faas_function *fn, faas__instance **out, char *err, size_t errlen)
{
    if (fn->mod == NULL || fn->isolated)
        return create(fn, NULL, 0, out, err, errlen);
    /* A code update may replace fn->mod: take it and count the instance under the lock. */
    pthread_mutex_lock(&fn->lock);
    faas__module *mod = fn->mod;
    uint64_t gen = atomic_load_explicit(&fn->gen, memory_order_relaxed);
    fn->gen_live++;
    pthread_mutex_unlock(&fn->lock);
    int rc = create(fn, mod, gen, out, err, errlen);
    if (rc != FAAS_OK) {
        pthread_mutex_lock(&fn->lock);
        gen_drop_locked(fn, gen);
        pthread_mutex_unlock(&fn->lock);
    }
    return rc;
}

int faas__instance_probe(faas_function *fn, faas__module *mod, faas__instance **out,
                         char *err, size_t errlen)
{
    /* The updater's gen + 1 cannot be reached meanwhile: updates are serialised. */
    uint64_t gen = atomic_load_explicit(&fn->gen, memory_order_relaxed) + 1;
    return create(fn, mod, gen, out, err, errlen);
}

/* ---- slots ---------------------------------------------------------------------------- */

/* Requires fn->lock. Quiet: no instance is running a call (the rest are idle, or held by
 * queued async calls that have not started). */
static inline void signal_if_quiet(faas_function *fn)
{
    if (fn->closers > 0 && fn->live == fn->idle + fn->held && fn->pins == 0)
        pthread_cond_broadcast(&fn->quiet);
}

/* Requires fn->lock. Arm the maintenance timer for due_ns, unless it is already armed
 * for that time or earlier. */
static void arm_maint(faas_function *fn, uint64_t due_ns)
{
    if (fn->maint_armed && fn->maint_due <= due_ns)
        return;
    if (faas__timer_arm(fn->rt, &fn->maint, due_ns) == FAAS_OK) {
        fn->maint_armed = true;
        fn->maint_due = due_ns;
    }
    /* On ENOMEM the idle instance stays until the next call re-arms: nothing is lost. */
}

/* Requires fn->lock. Push an idle instance at the head of the list (most recent). */
static inline void push_idle_locked(faas_function *fn, faas__instance *inst)
{
    inst->prev = NULL;
    inst->next = fn->idle_head;
    if (fn->idle_head != NULL)
        fn->idle_head->prev = inst;
    else
        fn->idle_tail = inst;
    fn->idle_head = inst;
    fn->idle++;
}

/* Requires fn->lock. Move the instances in the per-shard hot slots to the idle list, where
 * the reaper, unregistration and every thread can see them. Returns how many. */
static unsigned collect_hot_locked(faas_function *fn)
{
    unsigned n = 0;
    for (unsigned i = 0; i < FAAS__SHARDS; i++) {
        if (atomic_load_explicit(&fn->hot[i].p, memory_order_relaxed) == NULL)
            continue;
        faas__instance *inst = atomic_exchange(&fn->hot[i].p, NULL);
        if (inst != NULL) {
            push_idle_locked(fn, inst);
            n++;
        }
    }
    return n;
}

/* Requires fn->lock. Take an idle instance, or reserve a new one's slot. */
static inline int take_locked(faas_function *fn, faas__slot *slot)
{
    faas__instance *inst = fn->idle_head;
    if (inst == NULL && fn->cfg.max_concurrency == 0 && collect_hot_locked(fn) > 0)
        inst = fn->idle_head;         /* another thread's idle instance: not a cold start */
    if (inst != NULL) {
        fn->idle_head = inst->next;
        if (fn->idle_head != NULL)
            fn->idle_head->prev = NULL;
        else
            fn->idle_tail = NULL;
        fn->idle--;
        slot->inst = inst;
        return FAAS_OK;
    }
    if (fn->cfg.max_concurrency != 0 && fn->live >= fn->cfg.max_concurrency)
        return FAAS_ETHROTTLED;
    fn->live++;
    slot->inst = NULL;
    return FAAS_OK;
}

/* faas__slot_take (internal.h) when this thread's shard's hot slot had no instance. */
int faas__slot_take_slow(faas_function *fn, faas__slot *slot)
{
    pthread_mutex_lock(&fn->lock);
    int rc = fn->dead ? FAAS_ENOTFOUND : take_locked(fn, slot);
    pthread_mutex_unlock(&fn->lock);
    return rc;
}

/* Requires fn->lock. The first parked call, unlinked, or NULL. */
static faas__job *unpark_locked(faas_function *fn)
{
    faas__job *job = fn->parked_head;
    /* At shutdown parked calls stay parked: faas_runtime_free cancels them. */
    if (job == NULL || fn->dead || atomic_load_explicit(&fn->rt->closing, memory_order_relaxed))
        return NULL;
    fn->parked_head = job->next;
    if (fn->parked_head != NULL)
        fn->parked_head->prev = NULL;
    else
        fn->parked_tail = NULL;
    job->next = job->prev = NULL;
    return job;
}

int faas__slot_take_or_park(faas_function *fn, faas__job *job)
{
    int rc = FAAS_OK;
    pthread_mutex_lock(&fn->lock);
    if (fn->dead) {
        rc = FAAS_ENOTFOUND;
    } else if (fn->parked_head == NULL && take_locked(fn, &job->slot) == FAAS_OK) {
        job->slotted = true;
        fn->held++;
    } else {
        /* At the limit, or behind calls already waiting: FIFO. */
        job->slotted = false;
        job->prev = fn->parked_tail;
        job->next = NULL;
        if (fn->parked_tail != NULL)
            fn->parked_tail->next = job;
        else
            fn->parked_head = job;
        fn->parked_tail = job;
        rc = FAAS__PARKED;
    }
    pthread_mutex_unlock(&fn->lock);
    return rc;
}

int faas__slot_claim(faas_function *fn)
{
    pthread_mutex_lock(&fn->lock);
    fn->held--;
    int rc = fn->dead ? FAAS_ENOTFOUND : FAAS_OK;
    pthread_mutex_unlock(&fn->lock);
    return rc;
}

void faas__slot_release_held(faas_function *fn, faas__slot *slot)
{
    pthread_mutex_lock(&fn->lock);
    fn->held--;
    pthread_mutex_unlock(&fn->lock);
    if (slot->inst != NULL)
        faas__slot_give(fn, slot->inst, true, 0);
    else
        faas__slot_cancel(fn);
}

/* Requires fn->lock. A slot without an instance is given up: the first parked call takes
 * it over as a reservation (it will create its instance) and is returned, to be queued
 * once the lock is dropped; with none parked, the slot is gone. */
static faas__job *drop_slot_locked(faas_function *fn)
{
    faas__job *heir = unpark_locked(fn);
    if (heir != NULL) {
        heir->slot.inst = NULL;
        heir->slotted = true;
        fn->held++;
    } else {
        fn->live--;
    }
    signal_if_quiet(fn);
    return heir;
}

void faas__slot_cancel(faas_function *fn)
{
    faas_runtime *rt = fn->rt;
    pthread_mutex_lock(&fn->lock);
    faas__job *heir = drop_slot_locked(fn);
    pthread_mutex_unlock(&fn->lock);
    if (heir != NULL)
        faas__sched_push(rt, heir);   /* the job's reference keeps fn alive */
}

/* Requires fn->lock: the slow path of faas__slot_give for an instance that stays idle. */
static void give_idle_locked(faas_function *fn, faas__instance *inst, uint64_t now)
{
    inst->idle_since_ns = now;
    push_idle_locked(fn, inst);
    signal_if_quiet(fn);
    arm_maint(fn, now + (uint64_t)fn->cfg.keep_alive_ms * 1000000u);
}

/* The instance faas__slot_give's fast path (internal.h) took out of the hot slot: to the
 * idle list. It is in this thread's hands, so still counted busy: fn cannot go away. */
void faas__slot_give_older(faas_function *fn, faas__instance *older)
{
    pthread_mutex_lock(&fn->lock);
    give_idle_locked(fn, older, older->idle_since_ns);
    pthread_mutex_unlock(&fn->lock);
}

/* faas__slot_give (internal.h) off its fast path. */
void faas__slot_give_slow(faas_function *fn, faas__instance *inst, bool retire, uint64_t now)
{
    faas_runtime *rt = fn->rt;
    /* Its code was replaced meanwhile (faas_update_code): retired, never reused. */
    retire = retire || inst->gen != atomic_load_explicit(&fn->gen, memory_order_relaxed);
    pthread_mutex_lock(&fn->lock);
    faas__job *heir = !retire && fn->parked_head != NULL ? unpark_locked(fn) : NULL;
    if (heir != NULL) {
        /* Handed straight to the first parked call: no other call can take it first. */
        heir->slot.inst = inst;
        heir->slotted = true;
        fn->held++;
        signal_if_quiet(fn);
        pthread_mutex_unlock(&fn->lock);
        faas__sched_push(rt, heir);
        return;
    }
    if (retire || fn->dead ||
        (fn->cfg.keep_alive_ms == 0 && fn->live > fn->cfg.min_warm)) {
        /* It stays counted live while it shuts down, so that unregistration waits for
         * the shutdown hook and the module release, which use fn. */
        pthread_mutex_unlock(&fn->lock);
        destroy(fn, inst);
        pthread_mutex_lock(&fn->lock);
        heir = drop_slot_locked(fn);
        if (heir == NULL && fn->live < fn->cfg.min_warm && !fn->dead)
            arm_maint(fn, now);              /* provision a replacement in the background */
        pthread_mutex_unlock(&fn->lock);
        if (heir != NULL)
            faas__sched_push(rt, heir);
        return;
    }
    give_idle_locked(fn, inst, now);
    pthread_mutex_unlock(&fn->lock);
}

/* ---- code updates (update.c decides; this is what they do to the pool) ---------------- */

int faas__pool_pin(faas_function *fn)
{
    pthread_mutex_lock(&fn->lock);
    int rc = fn->dead ? FAAS_ENOTFOUND : FAAS_OK;
    if (rc == FAAS_OK)
        fn->pins++;
    pthread_mutex_unlock(&fn->lock);
    return rc;
}

void faas__pool_unpin(faas_function *fn)
{
    pthread_mutex_lock(&fn->lock);
    fn->pins--;
    signal_if_quiet(fn);
    pthread_mutex_unlock(&fn->lock);
}

/* Requires fn->lock. Move the idle instances of an older gen to *victims (they stop being
 * live: the caller holds a pin while it destroys them); returns the stale ones left. An idle
 * instance means no call is parked (a give hands an instance to a parked call first), so
 * no parked call is owed the slots freed here. */
static unsigned take_stale_locked(faas_function *fn, faas__instance **victims)
{
    uint64_t gen = atomic_load_explicit(&fn->gen, memory_order_relaxed);
    unsigned taken = 0;
    collect_hot_locked(fn);
    for (faas__instance *inst = fn->idle_head, *next; inst != NULL; inst = next) {
        next = inst->next;
        if (inst->gen == gen)
            continue;
        if (inst->prev != NULL)
            inst->prev->next = next;
        else
            fn->idle_head = next;
        if (next != NULL)
            next->prev = inst->prev;
        else
            fn->idle_tail = inst->prev;
        fn->idle--;
        fn->live--;
        inst->next = *victims;
        *victims = inst;
        taken++;
    }
    return fn->stale_live - taken;
}

unsigned faas__pool_take_stale(faas_function *fn, faas__instance **victims)
{
    pthread_mutex_lock(&fn->lock);
    unsigned left = take_stale_locked(fn, victims);
    pthread_mutex_unlock(&fn->lock);
    return left;
}

faas__module *faas__pool_swap_code(faas_function *fn, faas__module *mod, faas__instance *probe,
                                   bool *keep_probe, faas__instance **victims)
{
    pthread_mutex_lock(&fn->lock);
    faas__module *old = fn->mod;
    fn->mod = mod;
    fn->stale_live += fn->gen_live;
    fn->gen_live = 1;                   /* the probe, until it is destroyed */
    atomic_store_explicit(&fn->gen, probe->gen, memory_order_release);
    /* The probe joins the pool unless that would pass max_concurrency. */
    *keep_probe = fn->cfg.max_concurrency == 0 || fn->live < fn->cfg.max_concurrency;
    if (*keep_probe)
        fn->live++;
    take_stale_locked(fn, victims);
    pthread_mutex_unlock(&fn->lock);
    return old;
}

void faas__instances_destroy(faas_function *fn, faas__instance *list)
{
    destroy_list(fn, list);
}

void faas__pool_wait(faas_function *fn, unsigned timeout_ms)
{
    struct timespec at;
    clock_gettime(CLOCK_REALTIME, &at);
    at.tv_sec += timeout_ms / 1000;
    at.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (at.tv_nsec >= 1000000000) {
        at.tv_sec++;
        at.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&fn->lock);
    pthread_cond_timedwait(&fn->quiet, &fn->lock, &at);
    pthread_mutex_unlock(&fn->lock);
}

/* ---- maintenance: keep-alive reaping and min_warm top-up ------------------------------ */

#define PROVISION_RETRY_NS 1000000000u   /* a failed min_warm INIT is tried again after 1 s */

/* Create n instances for slots already reserved and give them to the idle list. Returns
 * the first failure (its message in faas_last_error()). */
static int fill(faas_function *fn, unsigned n)
{
    int rc = FAAS_OK;
    char err[512];
    unsigned i;
    for (i = 0; i < n; i++) {
        faas__instance *inst;
        rc = faas__instance_create(fn, &inst, err, sizeof err);
        if (rc != FAAS_OK) {
            faas__fail(rc, "%s", err);
            break;
        }
        faas__slot_give(fn, inst, false, faas__now(fn->rt));
    }
    for (; i < n; i++)                  /* reservations never used */
        faas__slot_cancel(fn);
    return rc;
}

static void maint_fire(faas__timer *t, int cancelled)
{
    faas_function *fn = faas__container_of(t, faas_function, maint);
    if (cancelled)
        return;                         /* the runtime is being freed: pool_close follows */
    faas__instance *victims = NULL;
    unsigned deficit = 0;
    uint64_t now = faas__now(fn->rt);
    uint64_t keep = (uint64_t)fn->cfg.keep_alive_ms * 1000000u;

    pthread_mutex_lock(&fn->lock);
    fn->maint_armed = false;
    if (fn->dead) {
        pthread_mutex_unlock(&fn->lock);
        return;
    }
    collect_hot_locked(fn);             /* idle ones in the fast path's slots too */
    /* The oldest idle instances are at the tail. */
    while (fn->live > fn->cfg.min_warm && fn->idle_tail != NULL &&
           now - fn->idle_tail->idle_since_ns >= keep) {
        faas__instance *inst = fn->idle_tail;
        fn->idle_tail = inst->prev;
        if (fn->idle_tail != NULL)
            fn->idle_tail->next = NULL;
        else
            fn->idle_head = NULL;
        fn->idle--;
        fn->live--;
        inst->next = victims;
        victims = inst;
    }
    if (fn->live < fn->cfg.min_warm) {
        deficit = fn->cfg.min_warm - fn->live;
        fn->live += deficit;
    }
    if (fn->idle_tail != NULL && fn->live > fn->cfg.min_warm)
        arm_maint(fn, fn->idle_tail->idle_since_ns + keep);
    signal_if_quiet(fn);
    pthread_mutex_unlock(&fn->lock);

    destroy_list(fn, victims);
    if (deficit > 0 && fill(fn, deficit) != FAAS_OK) {
        char line[600];
        snprintf(line, sizeof line, "ERROR min_warm of %s: %s (next try in 1 s)",
                 fn->name->name, faas_last_error());
        faas__log_line(fn->rt, line);
        pthread_mutex_lock(&fn->lock);
        if (!fn->dead)
            arm_maint(fn, faas__now(fn->rt) + PROVISION_RETRY_NS);
        pthread_mutex_unlock(&fn->lock);
    }
}

void faas__pool_init(faas_function *fn)
{
    faas__timer_init(&fn->maint, maint_fire);
}

void faas__pool_start(faas_function *fn)
{
    if (fn->cfg.min_warm == 0)
        return;
    pthread_mutex_lock(&fn->lock);
    arm_maint(fn, faas__now(fn->rt));
    pthread_mutex_unlock(&fn->lock);
}

unsigned faas__pool_reserve(faas_function *fn, unsigned n)
{
    pthread_mutex_lock(&fn->lock);
    unsigned deficit = 0;
    if (!fn->dead) {
        if (fn->cfg.max_concurrency != 0 && n > fn->cfg.max_concurrency)
            n = fn->cfg.max_concurrency;
        deficit = n > fn->live ? n - fn->live : 0;
        fn->live += deficit;
    }
    pthread_mutex_unlock(&fn->lock);
    return deficit;
}

int faas__pool_fill(faas_function *fn, unsigned n)
{
    return fill(fn, n);
}

void faas__pool_counts(faas_function *fn, unsigned *live, unsigned *busy)
{
    unsigned hot = 0;
    pthread_mutex_lock(&fn->lock);
    for (unsigned i = 0; i < FAAS__SHARDS; i++)
        hot += atomic_load_explicit(&fn->hot[i].p, memory_order_relaxed) != NULL;
    *live = fn->live;
    unsigned idle = fn->idle + fn->held + hot;
    *busy = fn->live > idle ? fn->live - idle : 0;
    pthread_mutex_unlock(&fn->lock);
}

size_t faas__pool_idle(faas_function *fn, faas__idle_info *out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&fn->lock);
    collect_hot_locked(fn);
    for (faas__instance *inst = fn->idle_head; inst != NULL; inst = inst->next, n++) {
        if (n < max)
            out[n] = (faas__idle_info){ inst->created_ns, inst->idle_since_ns, inst->calls };
    }
    pthread_mutex_unlock(&fn->lock);
    return n;
}

void faas__pool_close(faas_function *fn)
{
    pthread_mutex_lock(&fn->lock);
    fn->dead = true;                    /* before the hot slots are collected: see give */
    collect_hot_locked(fn);
    fn->closers++;
    /* Slots held by queued async calls are not waited for: those calls give them back
     * when they find the function dead. */
    while (fn->live != fn->idle + fn->held || fn->pins > 0) {
        /* A call that tested dead just before it was set can still put its instance in a
         * hot slot without the lock (and without a signal): look there every millisecond. */
        struct timespec at;
        clock_gettime(CLOCK_REALTIME, &at);
        at.tv_nsec += 1000000;
        if (at.tv_nsec >= 1000000000) {
            at.tv_sec++;
            at.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&fn->quiet, &fn->lock, &at);
        collect_hot_locked(fn);
    }
    fn->closers--;
    faas__instance *list = fn->idle_head;
    fn->idle_head = fn->idle_tail = NULL;
    fn->live -= fn->idle;
    fn->idle = 0;
    faas__job *parked = fn->parked_head;
    fn->parked_head = fn->parked_tail = NULL;
    pthread_mutex_unlock(&fn->lock);
    /* No callback can arm it again: it checks dead under the lock. */
    faas__timer_disarm(fn->rt, &fn->maint);
    destroy_list(fn, list);
    bool closing = atomic_load(&fn->rt->closing);
    while (parked != NULL) {
        faas__job *next = parked->next;
        faas__job_cancel(parked, closing ? FAAS_ESHUTDOWN : FAAS_ENOTFOUND,
                         closing ? "the runtime is shutting down"
                                 : "Function not found: it was unregistered");
        parked = next;
    }
}
