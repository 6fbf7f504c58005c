/*
 * trigger_schedule.c - EventBridge schedules: faas_schedule() keeps a table of schedules per
 * runtime (an optional part), each one a timer of the runtime's timer facility whose firing
 * queues an asynchronous call with a "Scheduled Event" payload. It owns the schedules and
 * their timers; parsing and time zones are cron.c's and tz.c's, queueing is sched.c's.
 *
 * Schedules live on the wall clock (faas__wall), timers on the monotonic one (faas__now).
 * A timer is armed for the wall-clock distance to the next firing, but never more than
 * RECHECK_NS ahead: when it fires early (the wall clock was stepped back) it is armed
 * again, and when the two clocks drift apart (a suspended host: CLOCK_MONOTONIC stops,
 * the wall clock does not) a due firing is noticed within RECHECK_NS.
 */
#include "trigger.h"
#include "abi.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "tz.h"

#define RECHECK_NS   (INT64_C(60) * 1000000000)
#define NEVER        INT64_MAX         /* next_ns of a schedule with no firing left */
#define NAME_MAX_LEN 64                /* EventBridge rule names: [.-_A-Za-z0-9]{1,64} */
#define REGION_MAX   32

typedef struct schedules schedules;

typedef struct schedule {
    UT_hash_handle  hh;         /* in part->table, keyed by id; under part->lock */
    faas_trigger_id id;
    schedules      *part;
    faas__timer     timer;
    faas__cron      expr;
    faas__tz       *tz;         /* NULL: UTC */
    int64_t         anchor_ns;  /* rate: the grid's origin, when it was scheduled */
    int64_t         next_ns;    /* wall time of the next firing, or NEVER; under lock */
    bool            dead;       /* unscheduled: never armed again; under part->lock */
    const char     *function;   /* these four point into text[] */
    const char     *account, *region, *resource;
    char            text[];
} schedule;

struct schedules {
    faas__part      part;       /* first: the core hands this back to our free() */
    faas_runtime   *rt;
    pthread_mutex_t lock;       /* protects table, and dead and next_ns of every schedule;
                                   taken before the core's locks (timers.lock) */
    schedule       *table;
};

static _Atomic faas_trigger_id last_id;

faas_trigger_id faas__trigger_id(void)
{
    return atomic_fetch_add(&last_id, 1) + 1;
}

bool faas__trigger_region_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '-') ||
            n >= REGION_MAX)
            return false;
    return n > 0;
}

/* ---- when ------------------------------------------------------------------------------ */

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* The first time expr fires strictly after t (wall ns), or NEVER; a rate counts from
 * anchor. */
static int64_t next_after(const faas__cron *expr, const faas__tz *tz, int64_t anchor,
                          int64_t t)
{
    if (expr->kind == FAAS__RATE) {
        /* A fixed grid from the anchor: firing k is anchor + k x period, so nothing drifts,
         * whenever each firing happens to run. */
        int64_t period = expr->period * 1000000000;
        if (t < anchor)
            return anchor > INT64_MAX - period ? NEVER : anchor + period;
        int64_t k = (t - anchor) / period + 1;
        if (k > (INT64_MAX - anchor) / period)
            return NEVER;
        return anchor + k * period;
    }
    int64_t next;
    if (faas__cron_next(expr, tz, floor_div(t, 1000000000), &next) != 0 ||
        next > INT64_MAX / 1000000000)
        return NEVER;
    return next * 1000000000;
}

/* Arm the timer for the next firing, seen from wall time `wall`. Requires part->lock. */
static int arm(schedule *s, int64_t wall)
{
    if (s->next_ns == NEVER)
        return FAAS_OK;
    int64_t delay = s->next_ns - wall;
    if (delay > RECHECK_NS)
        delay = RECHECK_NS;
    if (delay < 1)
        delay = 1;
    faas_runtime *rt = s->part->rt;
    return faas__timer_arm(rt, &s->timer, faas__now(rt) + (uint64_t)delay);
}

/* ---- firing ---------------------------------------------------------------------------- */

/* Queue the call for the firing scheduled at `at`. No libfaas lock is held. */
static void deliver(schedule *s, int64_t at)
{
    faas_runtime *rt = s->part->rt;
    char when[25], id[37];
    faas__format_time(at, when);        /* 2026-11-26T12:00:00.000Z */
    memcpy(when + 19, "Z", 2);          /* EventBridge's time is in whole seconds */
    faas__request_id(id);
    char payload[512];
    /* The fields of EventBridge's "Scheduled Event", in its order; every string was
     * checked at faas_schedule() to need no JSON escape. */
    int n = snprintf(payload, sizeof payload,
                     "{\"version\":\"0\",\"id\":\"%s\",\"detail-type\":\"Scheduled Event\","
                     "\"source\":\"aws.events\",\"account\":\"%s\",\"time\":\"%s\","
                     "\"region\":\"%s\",\"resources\":[\"%s\"],\"detail\":{}}",
                     id, s->account, when, s->region, s->resource);
    int rc = faas_invoke_async(rt, s->function, payload, (size_t)n, NULL, NULL, NULL);
    if (rc != FAAS_OK && rc != FAAS_ESHUTDOWN) {
        char line[700];
        snprintf(line, sizeof line, "ERROR schedule %llu: the firing of %s was not delivered "
                 "to %s: %s", (unsigned long long)s->id, when, s->function,
                 faas_last_error());
        faas__log_line(rt, line);
    }
}

static void fire(faas__timer *t, int cancelled)
{
    schedule *s = faas__container_of(t, schedule, timer);
    if (cancelled)          /* not reached: the part disarms every timer before teardown */
        return;
    faas_runtime *rt = s->part->rt;
    int64_t wall = faas__wall(rt);
    pthread_mutex_lock(&s->part->lock);
    if (s->dead || s->next_ns == NEVER) {
        pthread_mutex_unlock(&s->part->lock);
        return;
    }
    int64_t at = s->next_ns;
    bool due = wall >= at;
    /* Due: this firing carries the time it was scheduled for, and the next one is the
     * first scheduled time after now. So firings missed while the host slept are not
     * stacked up: one catch-up firing, for the earliest of them, and the schedule goes on. */
    if (due)
        s->next_ns = next_after(&s->expr, s->tz, s->anchor_ns, wall);
    int rc = arm(s, wall);
    pthread_mutex_unlock(&s->part->lock);
    if (due)
        deliver(s, at);
    if (rc != FAAS_OK) {
        char line[200];
        snprintf(line, sizeof line, "ERROR schedule %llu: out of memory for its timer: it "
                 "will not fire again", (unsigned long long)s->id);
        faas__log_line(rt, line);
    }
}

/* ---- the part -------------------------------------------------------------------------- */

static void schedule_free(schedule *s)
{
    faas__tz_free(s->tz);
    free(s);
}

static void part_free(faas__part *p)
{
    schedules *part = (schedules *)p;
    schedule *s, *tmp;
    HASH_ITER(hh, part->table, s, tmp) {
        pthread_mutex_lock(&part->lock);
        HASH_DEL(part->table, s);
        s->dead = true;
        pthread_mutex_unlock(&part->lock);
        faas__timer_disarm(part->rt, &s->timer);    /* waits for a firing under way */
        schedule_free(s);
    }
    pthread_mutex_destroy(&part->lock);
    free(part);
}

static const faas__part_ops schedule_ops = { NULL, part_free };

static faas__part *part_create(faas_runtime *rt)
{
    schedules *part = calloc(1, sizeof *part);
    if (part == NULL) {
        faas__fail(FAAS_ENOMEM, "faas_schedule: out of memory");
        return NULL;
    }
    part->rt = rt;
    pthread_mutex_init(&part->lock, NULL);
    return &part->part;
}

/* ---- the API --------------------------------------------------------------------------- */

static int parse(const char *fn, const char *expression, faas__cron *expr)
{
    char err[200];
    if (expression == NULL)
        return faas__fail(FAAS_EINVAL, "%s: the expression is NULL", fn);
    if (faas__cron_parse(expression, expr, err, sizeof err) != 0)
        return faas__fail(FAAS_EINVAL, "%s: invalid schedule expression \"%.100s\": %s", fn,
                          expression, err);
    return FAAS_OK;
}

static int load_zone(const char *fn, const char *name, faas__tz **tz)
{
    char err[300];
    *tz = NULL;
    if (name == NULL)
        return FAAS_OK;
    switch (faas__tz_load(name, tz, err, sizeof err)) {
    case 0:
        return FAAS_OK;
    case FAAS__TZ_ENOMEM:
        return faas__fail(FAAS_ENOMEM, "%s: %s", fn, err);
    default:
        return faas__fail(FAAS_EINVAL, "%s: %s", fn, err);
    }
}

static bool rule_name_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
              (s[n] >= '0' && s[n] <= '9') || s[n] == '.' || s[n] == '-' || s[n] == '_') ||
            n >= NAME_MAX_LEN)
            return false;
    return n > 0;
}

static bool account_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (s[n] < '0' || s[n] > '9')
            return false;
    return n == 12;
}

int faas_schedule(faas_runtime *rt, const char *function, const char *expression,
                  faas_trigger_id *id)
{
    return faas_schedule_ex(rt, function, expression, NULL, id);
}

int faas_schedule_ex(faas_runtime *rt, const char *function, const char *expression,
                     const faas_schedule_options *opts, faas_trigger_id *id)
{
    static const char me[] = "faas_schedule";
    faas_schedule_options o;
    int rc = faas__abi_copy(&o, sizeof o, opts, FAAS__SCHEDULE_OPTIONS_V1, "faas_schedule_ex");
    if (rc != FAAS_OK)
        return rc;
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "%s: runtime is NULL", me);
    faas__qname qn;                     /* NAME, NAME:3, NAME:prod: each call is routed */
    if (faas__qname_parse(function, &qn) != FAAS_OK)
        return faas__fail(FAAS_EINVAL, "%s: invalid function name \"%.80s\"", me,
                          function ? function : "(null)");
    faas__cron expr;
    rc = parse(me, expression, &expr);
    if (rc != FAAS_OK)
        return rc;
    if (o.name != NULL && !rule_name_ok(o.name))
        return faas__fail(FAAS_EINVAL, "%s: the rule name must be 1 to 64 of [.-_A-Za-z0-9]",
                          me);
    if (o.account != NULL && !account_ok(o.account))
        return faas__fail(FAAS_EINVAL, "%s: the account must be 12 digits", me);
    if (o.region != NULL && !faas__trigger_region_ok(o.region))
        return faas__fail(FAAS_EINVAL, "%s: the region must be 1 to %d of [a-z0-9-]", me,
                          REGION_MAX);
    if (atomic_load(&rt->closing))
        return faas__fail(FAAS_ESHUTDOWN, "the runtime is shutting down");
    if (faas_lookup(rt, function) == NULL)
        return faas__fail(FAAS_ENOTFOUND, "%s: Function not found: %s", me, function);
    faas__tz *tz;
    rc = load_zone(me, o.time_zone, &tz);
    if (rc != FAAS_OK)
        return rc;
    schedules *part = (schedules *)faas__part_get(rt, &schedule_ops, part_create);
    if (part == NULL) {
        faas__tz_free(tz);
        return FAAS_ENOMEM;
    }

    faas_trigger_id sid = faas__trigger_id();
    const char *account = o.account ? o.account : FAAS__TRIGGER_ACCOUNT;
    const char *region = o.region ? o.region : FAAS__TRIGGER_REGION;
    char rule[NAME_MAX_LEN + 32];
    if (o.name != NULL)
        snprintf(rule, sizeof rule, "%s", o.name);
    else                                /* a function name is at most 64 characters; a
                                           rule's has no colon: NAME's part alone */
        snprintf(rule, sizeof rule, "%.*s-schedule-%llu", (int)qn.name_len, function,
                 (unsigned long long)sid);
    char resource[256];
    int rlen = snprintf(resource, sizeof resource, "arn:aws:events:%s:%s:rule/%s", region,
                        account, rule);
    size_t fl = strlen(function) + 1, al = strlen(account) + 1, gl = strlen(region) + 1;
    schedule *s = calloc(1, sizeof *s + fl + al + gl + (size_t)rlen + 1);
    if (s == NULL) {
        faas__tz_free(tz);
        return faas__fail(FAAS_ENOMEM, "%s: out of memory", me);
    }
    char *p = s->text;
    s->function = memcpy(p, function, fl);
    s->account = memcpy(p += fl, account, al);
    s->region = memcpy(p += al, region, gl);
    s->resource = memcpy(p + gl, resource, (size_t)rlen + 1);
    s->id = sid;
    s->part = part;
    s->expr = expr;
    s->tz = tz;
    faas__timer_init(&s->timer, fire);
    int64_t wall = faas__wall(rt);
    s->anchor_ns = wall;
    s->next_ns = next_after(&s->expr, s->tz, s->anchor_ns, wall);

    pthread_mutex_lock(&part->lock);
    rc = arm(s, wall);
    if (rc == FAAS_OK)
        HASH_ADD(hh, part->table, id, sizeof s->id, s);
    pthread_mutex_unlock(&part->lock);
    if (rc != FAAS_OK) {
        schedule_free(s);
        return faas__fail(rc, "%s: out of memory for the timer", me);
    }
    if (id != NULL)
        *id = sid;
    return FAAS_OK;
}

int faas_unschedule(faas_runtime *rt, faas_trigger_id id)
{
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_unschedule: runtime is NULL");
    schedules *part = (schedules *)faas__part_find(rt, &schedule_ops);
    schedule *s = NULL;
    if (part != NULL) {
        pthread_mutex_lock(&part->lock);
        HASH_FIND(hh, part->table, &id, sizeof id, s);
        if (s != NULL) {
            HASH_DEL(part->table, s);
            s->dead = true;             /* a firing under way will not arm it again */
        }
        pthread_mutex_unlock(&part->lock);
    }
    if (s == NULL)
        return faas__fail(FAAS_ENOTFOUND, "faas_unschedule: no schedule %llu",
                          (unsigned long long)id);
    faas__timer_disarm(rt, &s->timer);  /* and wait for a firing under way elsewhere */
    schedule_free(s);
    return FAAS_OK;
}

int faas_schedule_next(const char *expression, const char *time_zone, int64_t after_ns,
                       int64_t *next_ns)
{
    static const char me[] = "faas_schedule_next";
    if (next_ns == NULL)
        return faas__fail(FAAS_EINVAL, "%s: next_ns is NULL", me);
    faas__cron expr;
    int rc = parse(me, expression, &expr);
    if (rc != FAAS_OK)
        return rc;
    faas__tz *tz;
    rc = load_zone(me, time_zone, &tz);
    if (rc != FAAS_OK)
        return rc;
    /* A rate schedule made at after_ns: its first firing. */
    int64_t next = next_after(&expr, tz, after_ns, after_ns);
    faas__tz_free(tz);
    if (next == NEVER)
        return faas__fail(FAAS_ENOTFOUND, "%s: \"%.100s\" never fires after that time", me,
                          expression);
    *next_ns = next;
    return FAAS_OK;
}
