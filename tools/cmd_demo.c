/*
 * cmd_demo.c - `faas demo`: the example modules through cold and warm calls, a throttle,
 * a pre-warm, scale to zero, a canary between two published versions, and what it all
 * cost.
 */
#include <faas.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

#ifndef FAAS_MODULE_DIR
#define FAAS_MODULE_DIR "/usr/local/lib/libfaas"
#endif

/* ---- faas demo ------------------------------------------------------------------------- */

typedef struct demo {
    faas_runtime *rt;
    const char   *dir;
    uint64_t      calls, cost_pusd;
    double        gb_s;
} demo;

static void module_path(const demo *d, const char *file, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", d->dir, file);
}

static int mapped(const char *file)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return -1;
    char line[1024];
    int found = 0;
    while (!found && fgets(line, sizeof line, f) != NULL)
        found = strstr(line, file) != NULL;
    fclose(f);
    return found;
}

static void tally(demo *d, const faas_record *r)
{
    d->calls++;
    d->cost_pusd += r->cost_picousd;
    d->gb_s += (double)r->billed_ms / 1000.0 * r->memory_mb / 1024.0;
}

static void row(demo *d, int n, const faas_response *res)
{
    const faas_record *r = &res->record;
    char init[32] = "-", cost[32];
    if (r->cold)
        snprintf(init, sizeof init, "%.2f", (double)r->init_ns / 1e6);
    printf("  %-4d %-5s %9s %12.3f %10u  %-16s %.*s\n", n, r->cold ? "cold" : "warm", init,
           (double)r->duration_ns / 1e6, r->billed_ms, usd(r->cost_picousd, cost, sizeof cost),
           (int)(res->len > 40 ? 40 : res->len), (const char *)res->data);
    tally(d, r);
}

static int check(int rc, const char *what)
{
    if (rc != FAAS_OK)
        fprintf(stderr, "%s: %s: %s (%s)\n", prog, what, faas_strerror(rc), faas_last_error());
    return rc;
}

/* A host function that holds its instance until released, to show the limit. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    int entered, released;
} gate;
static gate the_gate = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };

static int hold(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload; (void)len;
    pthread_mutex_lock(&the_gate.mu);
    the_gate.entered = 1;
    pthread_cond_broadcast(&the_gate.cv);
    while (!the_gate.released)
        pthread_cond_wait(&the_gate.cv, &the_gate.mu);
    pthread_mutex_unlock(&the_gate.mu);
    return faas_reply(ctx, "\"done\"", 6);
}

static void *hold_thread(void *arg)
{
    demo *d = arg;
    faas_response res;
    faas_invoke(d->rt, "hold", NULL, 0, &res);
    faas_response_free(&res);
    return NULL;
}

static int demo_cold_warm(demo *d)
{
    char path[PATH_MAX];
    module_path(d, "primes.so", path, sizeof path);
    printf("1. Cold start, then warm calls: primes.so, whose faas_init builds a sieve of "
           "4M numbers\n");
    printf("   registered (nothing loaded yet: primes.so mapped = %s)\n",
           mapped("primes.so") == 1 ? "yes" : "no");
    if (check(faas_register_module(d->rt, "primes", path, "primes", NULL), "register") != 0)
        return 1;
    printf("  %-4s %-5s %9s %12s %10s  %-16s %s\n", "call", "kind", "init ms", "duration ms",
           "billed ms", "cost", "reply");
    const char *inputs[] = { "1000003", "65536", "999983", "4194301", "12" };
    for (int i = 0; i < 5; i++) {
        faas_response res;
        int rc = faas_invoke(d->rt, "primes", inputs[i], strlen(inputs[i]), &res);
        if (check(rc, "invoke primes") != 0) {
            faas_response_free(&res);
            return 1;
        }
        row(d, i + 1, &res);
        faas_response_free(&res);
    }
    printf("   The cold call paid dlopen + faas_init once; the warm ones reuse the "
           "instance.\n\n");
    return 0;
}

static int demo_throttle(demo *d)
{
    faas_config cfg;
    faas_config_init(&cfg);
    cfg.max_concurrency = 1;
    printf("2. Concurrency limit: max_concurrency = 1, one call is running\n");
    if (check(faas_register(d->rt, "hold", hold, &cfg), "register hold") != 0)
        return 1;
    pthread_t t;
    if (pthread_create(&t, NULL, hold_thread, d) != 0)
        return 1;
    pthread_mutex_lock(&the_gate.mu);
    while (!the_gate.entered)
        pthread_cond_wait(&the_gate.cv, &the_gate.mu);
    pthread_mutex_unlock(&the_gate.mu);
    faas_response res;
    int rc = faas_invoke(d->rt, "hold", NULL, 0, &res);
    printf("   second call -> %s: %s: %s\n", faas_err_name(rc),
           res.error_type ? res.error_type : "-", res.error_message ? res.error_message : "-");
    printf("   (synchronous calls are refused at once, as Lambda's 429; no handler ran, "
           "cost %s)\n\n", rc == FAAS_ETHROTTLED && res.record.cost_picousd == 0 ? "$0" : "?");
    faas_response_free(&res);
    pthread_mutex_lock(&the_gate.mu);
    the_gate.released = 1;
    pthread_cond_broadcast(&the_gate.cv);
    pthread_mutex_unlock(&the_gate.mu);
    pthread_join(t, NULL);
    return rc == FAAS_ETHROTTLED ? 0 : 1;
}

static int demo_prewarm(demo *d)
{
    char path[PATH_MAX];
    module_path(d, "echo.so", path, sizeof path);
    printf("3. Pre-warm: faas_warm(rt, \"echo\", 3) before the first call\n");
    if (check(faas_register_module(d->rt, "echo", path, "echo", NULL), "register echo") != 0)
        return 1;
    if (check(faas_warm(d->rt, "echo", 3), "warm echo") != 0)
        return 1;
    faas_stats st;
    faas_stats_get(d->rt, "echo", &st);
    printf("   instances live: %u, cold starts so far: %llu\n", st.instances_live,
           (unsigned long long)st.cold_starts);
    faas_response res;
    int rc = faas_invoke(d->rt, "echo", "{\"hello\":\"world\"}", 17, &res);
    if (check(rc, "invoke echo") == 0)
        printf("   first call: %s, reply %.*s\n\n", res.record.cold ? "cold" : "warm",
               (int)res.len, (const char *)res.data);
    tally(d, &res.record);
    faas_response_free(&res);
    return rc == FAAS_OK ? 0 : 1;
}

static int demo_scale_to_zero(demo *d)
{
    char path[PATH_MAX];
    module_path(d, "wordcount.so", path, sizeof path);
    faas_config cfg;
    faas_config_init(&cfg);
    cfg.keep_alive_ms = 300;
    printf("4. Scale to zero: wordcount with keep_alive_ms = 300\n");
    if (check(faas_register_module(d->rt, "wordcount", path, "wordcount", &cfg),
              "register wordcount") != 0)
        return 1;
    const char *text = "\"the quick brown fox jumps over the lazy dog\"";
    faas_response res;
    int rc = faas_invoke(d->rt, "wordcount", text, strlen(text), &res);
    if (check(rc, "invoke wordcount") != 0) {
        faas_response_free(&res);
        return 1;
    }
    printf("   call 1: %s, reply %.*s; wordcount.so mapped = %s\n",
           res.record.cold ? "cold" : "warm", (int)res.len, (const char *)res.data,
           mapped("wordcount.so") == 1 ? "yes" : "no");
    tally(d, &res.record);
    faas_response_free(&res);

    /* The reaper runs on the runtime's timer thread: no call is needed to trigger it. */
    faas_stats st = {0};
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        struct timespec tick = { 0, 20000000 };
        nanosleep(&tick, NULL);
        faas_stats_get(d->rt, "wordcount", &st);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (st.instances_live > 0 && now.tv_sec - start.tv_sec < 5);
    double idle = (double)(now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9;
    printf("   after %.2f s idle: instances live = %u, wordcount.so mapped = %s\n", idle,
           st.instances_live, mapped("wordcount.so") == 1 ? "yes" : "no");
    rc = faas_invoke(d->rt, "wordcount", text, strlen(text), &res);
    if (check(rc, "invoke wordcount") == 0)
        printf("   call 2: %s again (init %.2f ms): the module was unloaded and loaded "
               "again\n\n", res.record.cold ? "cold" : "warm", (double)res.record.init_ns / 1e6);
    tally(d, &res.record);
    faas_response_free(&res);
    return rc == FAAS_OK ? 0 : 1;
}

/* Copy file src to dst through a temporary name and rename(): a rebuilt module put in
 * place as a build would. 0 or -1. */
static int copy_into_place(const char *src, const char *dst)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.new", dst);
    FILE *in = fopen(src, "rb"), *out = in ? fopen(tmp, "wb") : NULL;
    char buf[65536];
    size_t n;
    int rc = out != NULL ? 0 : -1;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = -1;
    if (in != NULL && ferror(in))
        rc = -1;
    if (out != NULL && fclose(out) != 0)
        rc = -1;
    if (in != NULL)
        fclose(in);
    if (rc == 0 && rename(tmp, dst) != 0)
        rc = -1;
    if (rc != 0)
        unlink(tmp);
    return rc;
}

/* Calls of greet:live, counting those each version answered (index 1 and 2). */
static int calls_through(demo *d, const char *target, unsigned n, unsigned by_version[3])
{
    for (unsigned i = 0; i < n; i++) {
        faas_response res;
        int rc = faas_invoke(d->rt, target, "{}", 2, &res);
        if (rc == FAAS_OK && res.record.version <= 2)
            by_version[res.record.version]++;
        tally(d, &res.record);
        faas_response_free(&res);
        if (check(rc, "invoke greet:live") != 0)
            return 1;
    }
    return 0;
}

/* One side of faas_canary_get()'s report: the numbers a person reads before moving the
 * weight. */
static void canary_row(const faas_canary_side *c)
{
    char name[32], per[32];
    snprintf(name, sizeof name, "greet:%u", c->version);
    printf("   %-9s %6.0f %% %7llu %7llu %9.1f %9.1f  %s\n", name, c->weight * 100,
           (unsigned long long)c->invocations, (unsigned long long)c->errors,
           c->p50_ms * 1000, c->p99_ms * 1000,
           usd(c->cost_per_million_picousd, per, sizeof per));
}

static int demo_canary(demo *d)
{
    char v1[PATH_MAX], v2[PATH_MAX], dir[] = "/tmp/faas-demo-XXXXXX", live[PATH_MAX + 16];
    module_path(d, "greet.so", v1, sizeof v1);
    module_path(d, "greet_v2.so", v2, sizeof v2);
    printf("5. Versions and a canary: publish greet, rebuild it, route 10 %% of greet:live "
           "to v2, promote\n");
    if (mkdtemp(dir) == NULL)
        return die(1, "mkdtemp: %s", strerror(errno));
    snprintf(live, sizeof live, "%s/greet.so", dir);
    uint32_t first = 0, second = 0;
    unsigned by_version[3] = { 0, 0, 0 }, promoted[3] = { 0, 0, 0 };
    int rc = copy_into_place(v1, live) == 0 ? 0 : die(1, "cannot copy %s", v1);
    if (rc == 0)
        rc = check(faas_register_module(d->rt, "greet", live, "greet", NULL), "register");
    if (rc == 0)
        rc = check(faas_publish_version(d->rt, "greet", "says hello", &first), "publish");
    /* The module file is rebuilt in place; publishing freezes what is on disk now. */
    if (rc == 0)
        rc = copy_into_place(v2, live) == 0 ? 0 : die(1, "cannot copy %s", v2);
    if (rc == 0)
        rc = check(faas_publish_version(d->rt, "greet", "says Hello!", &second), "publish");
    if (rc == 0)
        rc = check(faas_alias_set(d->rt, "greet", "live", first, second, 0.1), "alias");
    unlink(live);
    rmdir(dir);
    if (rc != 0)
        return 1;
    printf("   published greet:%u, then the rebuilt module as greet:%u; alias live = %u, "
           "and %u for 10 %%\n", first, second, first, second);
    faas_routing_seed(d->rt, 15);       /* the same split on every run of the demo */
    if (calls_through(d, "greet:live", 200, by_version) != 0)
        return 1;
    printf("   200 calls of greet:live: %u ran version %u, %u ran version %u\n",
           by_version[first], first, by_version[second], second);
    faas_canary c;
    if (check(faas_canary_get(d->rt, "greet", "live", &c), "canary report") != 0)
        return 1;
    printf("   the canary report of greet:live (faas_canary_get):\n");
    printf("   %-9s %8s %7s %7s %9s %9s  %s\n", "version", "weight", "calls", "errors",
           "p50 us", "p99 us", "cost per 1M calls");
    canary_row(&c.primary);
    canary_row(&c.extra);
    if (check(faas_alias_set(d->rt, "greet", "live", second, 0, 0.0), "promote") != 0 ||
        calls_through(d, "greet:live", 20, promoted) != 0)
        return 1;
    printf("   promoted: live = %u alone; the next 20 calls ran version %u %u times\n\n",
           second, second, promoted[second]);
    return 0;
}

int cmd_demo(int argc, char **argv)
{
    demo d = {0};
    d.dir = getenv("FAAS_MODULE_DIR");
    if (d.dir == NULL || d.dir[0] == '\0')
        d.dir = FAAS_MODULE_DIR;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--modules") == 0 && i + 1 < argc) {
            d.dir = argv[++i];
        } else {
            usage(stderr);
            return 2;
        }
    }
    char probe[PATH_MAX];
    module_path(&d, "echo.so", probe, sizeof probe);
    if (access(probe, R_OK) != 0)
        return die(1, "no example modules in %s (%s): pass --modules DIR or set "
                   "FAAS_MODULE_DIR", d.dir, strerror(errno));
    if (check(faas_runtime_new(&d.rt, NULL), "faas_runtime_new") != 0)
        return 1;
    printf("libfaas %s demo: functions in this process, with Lambda's lifecycle and "
           "prices\nmodules: %s\n\n", faas_version(), d.dir);
    int rc = demo_cold_warm(&d) || demo_throttle(&d) || demo_prewarm(&d) ||
             demo_scale_to_zero(&d) || demo_canary(&d);
    if (rc == 0) {
        char total[32], per[32], month[32];
        uint64_t per_call = d.calls ? d.cost_pusd / d.calls : 0;
        printf("6. What it cost (aws-lambda-x86: $0.20 per 1M requests + $0.0000166667 per "
               "GB-s, 1 ms billing)\n");
        printf("   %llu calls, %.6f GB-s billed, total %s, mean %s per call\n",
               (unsigned long long)d.calls, d.gb_s, usd(d.cost_pusd, total, sizeof total),
               usd(per_call, per, sizeof per));
        printf("   1,000,000 calls like these a month: %s before the free tier\n",
               usd(per_call * 1000000u, month, sizeof month));
        printf("\nNext: `%s bench %s/echo.so echo` load-tests a function and prices it on\n"
               "every preset (--memory 128,512,1024 adds a cost/speed table); `%s serve FILE`\n"
               "answers the Lambda Invoke API and shows a web console at /console (live charts,\n"
               "a Test tab, the cost on every preset); a Grafana dashboard for its /metrics is\n"
               "in examples/grafana/. See faas(1).\n", prog, d.dir, prog);
    }
    faas_runtime_free(d.rt);
    return rc ? 1 : 0;
}

