/* test_update.c - hot code update of $LATEST (faas_update_code, faas_update_status) and the
 * canary report (faas_canary_get): 8 threads x 10,000 calls (x FAAS_STRESS_SCALE) while
 * the code is replaced 20 times, with no failed call, every answer the old code's or the
 * new, and the old modules gone from /proc/self/maps at the end; a failing INIT keeps the
 * old code; versions keep theirs; a file renamed over the same path runs its new bytes;
 * the update's latency (file replaced -> first call answered by the new code) is printed. */
#include "util.h"

#include <sched.h>
#include <stdbool.h>

typedef struct ufixture {
    faas_runtime *rt;
    fake_clock    clock;               /* setup_manual's */
    char          dir[2048];
    char          path[4096];          /* the function's file: dir/fn.so */
} ufixture;

static int setup(void **state)
{
    ufixture *f = calloc(1, sizeof *f);
    faas_options o = FAAS_OPTIONS_INIT;
    o.workers = 2;
    if (f == NULL || faas_runtime_new(&f->rt, &o) != FAAS_OK ||
        temp_dir(f->dir, sizeof f->dir, "faas-update") == NULL)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/fn.so", f->dir);
    *state = f;
    return 0;
}

/* A manual runtime on a fake clock: the follower's debounce moves only when the test says. */
static int setup_manual(void **state)
{
    ufixture *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    faas_options o = manual_options(&f->clock);
    if (faas_runtime_new(&f->rt, &o) != FAAS_OK ||
        temp_dir(f->dir, sizeof f->dir, "faas-update") == NULL)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/fn.so", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    ufixture *f = *state;
    faas_runtime_free(f->rt);
    remove_tree(f->dir);
    free(f);
    return 0;
}

/* Put test module FILE at TO as a build does: written beside it, renamed over it (a new
 * inode at the same path). */
static void install(const char *file, const char *to)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", to);
    FILE *in = fopen(test_module(file), "rb"), *out = fopen(tmp, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
    assert_int_equal(rename(tmp, to), 0);
}

/* NAME's answer ("A", "B"...), or the failed status in words. */
static char answer_of(faas_runtime *rt, const char *name)
{
    faas_response res;
    int rc = faas_invoke(rt, name, "{}", 2, &res);
    char a = rc == FAAS_OK && res.len == 1 ? ((const char *)res.data)[0] : '?';
    faas_response_free(&res);
    return a;
}

/* How many different files mapped in this process have a name containing WHAT. */
static unsigned mapped_files(const char *what)
{
    FILE *m = fopen("/proc/self/maps", "r");
    assert_non_null(m);
    char line[4096];
    unsigned long inodes[256];
    unsigned n = 0;
    while (fgets(line, sizeof line, m) != NULL) {
        unsigned long inode;
        if (strstr(line, what) == NULL ||
            sscanf(line, "%*s %*s %*s %*s %lu", &inode) != 1)
            continue;
        bool seen = false;
        for (unsigned i = 0; i < n; i++)
            seen = seen || inodes[i] == inode;
        if (!seen && n < 256)
            inodes[n++] = inode;
    }
    fclose(m);
    return n;
}

/* ---- update under load -------------------------------------------------------------------- */

typedef struct load {
    faas_runtime *rt;
    unsigned      calls;
    atomic_uint  *done;                 /* calls finished, all threads */
    atomic_uint  *committed;            /* updates done */
    unsigned      updates;
    unsigned      failed, a, b, other;
} load;

static void *caller(void *arg)
{
    load *l = arg;
    faas_function *h = faas_lookup(l->rt, "fn");   /* a handle too: half the calls */
    for (unsigned i = 0; i < l->calls; i++) {
        /* Paced, not timed: call i is in stretch i*(updates+1)/calls of the load, and the
         * stretch k begins once update k is done, so a fast caller cannot finish before the
         * updates land (the test's "both codes answered" does not depend on the machine). */
        unsigned stretch = (unsigned)((uint64_t)i * (l->updates + 1) / l->calls);
        while (atomic_load(l->committed) < stretch)
            sched_yield();
        faas_response res;
        int rc = (i & 1) && h != NULL ? faas_invoke_fn(h, "{}", 2, &res)
                                      : faas_invoke(l->rt, "fn", "{}", 2, &res);
        if (rc != FAAS_OK)
            l->failed++;
        else if (res.len == 1 && ((const char *)res.data)[0] == 'A')
            l->a++;
        else if (res.len == 1 && ((const char *)res.data)[0] == 'B')
            l->b++;
        else
            l->other++;
        faas_response_free(&res);
        atomic_fetch_add(l->done, 1);
    }
    return NULL;
}

static void update_under_load_fails_no_call(void **state)
{
    ufixture *f = *state;
    install("mod_update_a.so", f->path);
    ASSERT_OK(faas_register_module(f->rt, "fn", f->path, "answer", NULL));
    assert_int_equal(answer_of(f->rt, "fn"), 'A');
    assert_int_equal(mapped_files("/fn.so"), 1);

    enum { THREADS = 8, UPDATES = 20 };
    unsigned calls = scaled(10000);
    atomic_uint done = 0, committed = 0;
    load l[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        l[i] = (load){ f->rt, calls, &done, &committed, UPDATES, 0, 0, 0, 0 };
        assert_int_equal(pthread_create(&t[i], NULL, caller, &l[i]), 0);
    }
    /* Spread the updates over the load: update k once k/(UPDATES+1) of the calls are done. */
    unsigned total = THREADS * calls;
    for (unsigned k = 1; k <= UPDATES; k++) {
        while (atomic_load(&done) < (uint64_t)total * k / (UPDATES + 1))
            sched_yield();
        const char *next = k % 2 ? "mod_update_b.so" : "mod_update_a.so";
        install(next, f->path);
        ASSERT_OK(faas_update_code(f->rt, "fn", NULL));   /* follows the file */
        /* From here, on this thread, every call runs the new code. */
        assert_int_equal(answer_of(f->rt, "fn"), k % 2 ? 'B' : 'A');
        atomic_store(&committed, k);
    }
    unsigned failed = 0, a = 0, b = 0, other = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        failed += l[i].failed;
        a += l[i].a;
        b += l[i].b;
        other += l[i].other;
    }
    print_message("# %u calls: %u by code A, %u by code B, %u failed, %u other\n",
                  total, a, b, failed, other);
    assert_int_equal(failed, 0);
    assert_int_equal(other, 0);
    assert_int_equal(a + b, total);
    assert_true(a > 0 && b > 0);

    faas_update_info ui;
    ASSERT_OK(faas_update_status(f->rt, "fn", &ui));
    assert_int_equal(ui.status, FAAS_UPDATE_SUCCESSFUL);
    assert_int_equal(ui.updates, UPDATES);
    assert_int_equal(ui.failures, 0);
    /* The old modules are gone: the registered file's and 19 private copies; the code now
     * (A: 20 updates) is one copy. */
    assert_int_equal(mapped_files("/fn.so"), 0);
    assert_int_equal(mapped_files("memfd:faas-update"), 1);
    assert_int_equal(answer_of(f->rt, "fn"), 'A');
    ASSERT_OK(faas_unregister(f->rt, "fn"));
    assert_int_equal(mapped_files("memfd:faas-update"), 0);
}

/* ---- failures ------------------------------------------------------------------------------ */

static void failing_init_keeps_the_old_code(void **state)
{
    ufixture *f = *state;
    install("mod_update_a.so", f->path);
    ASSERT_OK(faas_register_module(f->rt, "fn", f->path, "answer", NULL));
    assert_int_equal(answer_of(f->rt, "fn"), 'A');
    faas_update_info ui;
    ASSERT_OK(faas_update_status(f->rt, "fn", &ui));
    assert_int_equal(ui.status, FAAS_UPDATE_NONE);
    assert_int_equal(strlen(ui.code_sha256), 44);       /* the registered file's */
    char sha_a[48];
    memcpy(sha_a, ui.code_sha256, sizeof sha_a);

    assert_int_equal(faas_update_code(f->rt, "fn", test_module("mod_update_bad.so")),
                     FAAS_EINIT);
    assert_non_null(strstr(faas_last_error(), "INIT of fn refuses to start"));
    assert_int_equal(answer_of(f->rt, "fn"), 'A');        /* the old code serves */
    ASSERT_OK(faas_update_status(f->rt, "fn", &ui));
    assert_int_equal(ui.status, FAAS_UPDATE_FAILED);
    assert_int_equal(ui.error, FAAS_EINIT);
    assert_non_null(strstr(ui.reason, "INIT of fn refuses to start"));
    assert_int_equal(ui.failures, 1);
    assert_int_equal(ui.updates, 0);
    assert_string_equal(ui.code_sha256, sha_a);         /* still A's */
    assert_int_equal(mapped_files("memfd:faas-update"), 0);   /* the failed copy is gone */

    /* A file that is no module: FAAS_ELOAD, the old code still serves. */
    char junk[4200];
    snprintf(junk, sizeof junk, "%s/junk.so", f->dir);
    FILE *j = fopen(junk, "w");
    assert_non_null(j);
    fputs("not an ELF file\n", j);
    fclose(j);
    assert_int_equal(faas_update_code(f->rt, "fn", junk), FAAS_ELOAD);
    assert_int_equal(answer_of(f->rt, "fn"), 'A');
    ASSERT_OK(faas_update_status(f->rt, "fn", &ui));
    assert_int_equal(ui.error, FAAS_ELOAD);
    assert_non_null(strstr(ui.reason, "dlopen"));

    /* Then a good one: Successful, the reason cleared, CodeSha256 follows. */
    ASSERT_OK(faas_update_code(f->rt, "fn", test_module("mod_update_b.so")));
    assert_int_equal(answer_of(f->rt, "fn"), 'B');
    ASSERT_OK(faas_update_status(f->rt, "fn", &ui));
    assert_int_equal(ui.status, FAAS_UPDATE_SUCCESSFUL);
    assert_int_equal(ui.error, 0);
    assert_string_equal(ui.reason, "");
    assert_int_equal(ui.updates, 1);
    assert_int_equal(strlen(ui.code_sha256), 44);
    assert_string_not_equal(ui.code_sha256, sha_a);
}

static void update_checks_its_arguments(void **state)
{
    ufixture *f = *state;
    assert_int_equal(faas_update_code(NULL, "fn", f->path), FAAS_EINVAL);
    assert_int_equal(faas_update_code(f->rt, "nope", f->path), FAAS_ENOTFOUND);
    assert_int_equal(faas_update_code(f->rt, "bad name", f->path), FAAS_EINVAL);
    install("mod_update_a.so", f->path);
    ASSERT_OK(faas_register_module(f->rt, "fn", f->path, "answer", NULL));
    assert_int_equal(faas_update_code(f->rt, "fn:$LATEST", f->path), FAAS_EINVAL);
    assert_int_equal(faas_update_code(f->rt, "fn", ""), FAAS_EINVAL);
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/missing.so", f->dir);
    assert_int_equal(faas_update_code(f->rt, "fn", missing), FAAS_ELOAD);
    assert_non_null(strstr(faas_last_error(), "missing.so"));
    ASSERT_OK(faas_register(f->rt, "host", nul_terminated_echo, NULL));
    assert_int_equal(faas_update_code(f->rt, "host", f->path), FAAS_ENOTSUP);
    faas_update_info ui;
    assert_int_equal(faas_update_status(f->rt, "fn", NULL), FAAS_EINVAL);
    assert_int_equal(faas_update_status(f->rt, "nope", &ui), FAAS_ENOTFOUND);
    assert_int_equal(answer_of(f->rt, "fn"), 'A');
}

/* ---- versions, renames, latency ------------------------------------------------------------ */

static void versions_keep_their_code(void **state)
{
    ufixture *f = *state;
    install("mod_update_a.so", f->path);
    ASSERT_OK(faas_register_module(f->rt, "fn", f->path, "answer", NULL));
    uint32_t v;
    ASSERT_OK(faas_publish_version(f->rt, "fn", "A", &v));
    assert_int_equal(v, 1);
    assert_int_equal(answer_of(f->rt, "fn:1"), 'A');
    install("mod_update_b.so", f->path);
    ASSERT_OK(faas_update_code(f->rt, "fn", NULL));
    assert_int_equal(answer_of(f->rt, "fn"), 'B');
    assert_int_equal(answer_of(f->rt, "fn:1"), 'A');      /* its own copy */
    /* Publishing again freezes the code $LATEST runs now, and its CodeSha256 is $LATEST's. */
    ASSERT_OK(faas_publish_version(f->rt, "fn", "B", &v));
    assert_int_equal(v, 2);
    assert_int_equal(answer_of(f->rt, "fn:2"), 'B');
    faas_version_info *vi;
    size_t n;
    ASSERT_OK(faas_versions_list(f->rt, "fn", &vi, &n));
    assert_int_equal(n, 2);
    faas_update_info ui;
    ASSERT_OK(faas_update_status(f->rt, "fn", &ui));
    assert_string_equal(ui.code_sha256, vi[1].code_sha256);
    assert_string_not_equal(vi[0].code_sha256, vi[1].code_sha256);
    faas_versions_free(vi);
    install("mod_update_a.so", f->path);
    ASSERT_OK(faas_update_code(f->rt, "fn", NULL));
    assert_int_equal(answer_of(f->rt, "fn"), 'A');
    assert_int_equal(answer_of(f->rt, "fn:2"), 'B');
    assert_int_equal(answer_of(f->rt, "fn:1"), 'A');
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* A file renamed over the registered path (a new inode, the same path, so dlopen's cache
 * would hand back the old code) runs its new bytes after faas_update_code with that path.
 * Also the update's latency: file renamed into place -> first call answered by new code. */
static void renamed_file_runs_its_new_bytes(void **state)
{
    ufixture *f = *state;
    install("mod_update_a.so", f->path);
    ASSERT_OK(faas_register_module(f->rt, "fn", f->path, "answer", NULL));
    ASSERT_OK(faas_warm(f->rt, "fn", 2));
    assert_int_equal(answer_of(f->rt, "fn"), 'A');
    install("mod_update_b.so", f->path);
    assert_int_equal(answer_of(f->rt, "fn"), 'A');        /* nothing follows it unasked */
    ASSERT_OK(faas_update_code(f->rt, "fn", f->path));
    assert_int_equal(answer_of(f->rt, "fn"), 'B');

    enum { ROUNDS = 21 };
    uint64_t lat[ROUNDS];
    for (int i = 0; i < ROUNDS; i++) {
        char want = i % 2 ? 'B' : 'A';
        uint64_t t0 = now_ns();
        install(want == 'A' ? "mod_update_a.so" : "mod_update_b.so", f->path);
        ASSERT_OK(faas_update_code(f->rt, "fn", NULL));
        assert_int_equal(answer_of(f->rt, "fn"), want);
        lat[i] = now_ns() - t0;
    }
    qsort(lat, ROUNDS, sizeof lat[0], cmp_u64);
    print_message("# update latency (file renamed into place -> first call on the new "
                  "code): median %.1f us, min %.1f us, max %.1f us over %d updates\n",
                  lat[ROUNDS / 2] / 1e3, lat[0] / 1e3, lat[ROUNDS - 1] / 1e3, ROUNDS);
    assert_true(lat[ROUNDS / 2] < UINT64_C(5000000000));  /* generous: 5 s */
}

/* ---- following the file on disk (faas_update_follow) --------------------------------------- */

/* Write test module FILE's first LEN bytes (all: SIZE_MAX) over TO in place, as an editor
 * does (truncate, write, close); the file stays open with *keep when keep is set. */
static void write_in_place(const char *file, const char *to, size_t len, FILE **keep)
{
    FILE *in = fopen(test_module(file), "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while (len > 0 && (n = fread(buf, 1, len < sizeof buf ? len : sizeof buf, in)) > 0) {
        assert_int_equal(fwrite(buf, 1, n, out), n);
        len -= n;
    }
    fclose(in);
    assert_int_equal(fflush(out), 0);
    if (keep != NULL)
        *keep = out;
    else
        assert_int_equal(fclose(out), 0);
}

static uint64_t updates_of(faas_runtime *rt, const char *name)
{
    faas_update_info ui;
    ASSERT_OK(faas_update_status(rt, name, &ui));
    return ui.updates;
}

/* Manual mode: the events read, then quiet for the debounce: one update. */
static void settle_follow(ufixture *f)
{
    faas_run_pending(f->rt);
    fake_advance(&f->clock, MS(150));
    faas_run_pending(f->rt);
}

static void follower_updates_once_per_rename(void **state)
{
    ufixture *f = *state;
    install("mod_update_a.so", f->path);
    ASSERT_OK(faas_register_module(f->rt, "fn", f->path, "answer", NULL));
    ASSERT_OK(faas_update_follow(f->rt, "fn", 1));
    assert_int_equal(answer_of(f->rt, "fn"), 'A');

    install("mod_update_b.so", f->path);             /* written beside it, renamed over */
    faas_run_pending(f->rt);
    assert_int_equal(answer_of(f->rt, "fn"), 'A');    /* not quiet yet */
    assert_int_equal(updates_of(f->rt, "fn"), 0);
    fake_advance(&f->clock, MS(99));
    faas_run_pending(f->rt);
    assert_int_equal(updates_of(f->rt, "fn"), 0);
    fake_advance(&f->clock, MS(2));
    faas_run_pending(f->rt);
    assert_int_equal(updates_of(f->rt, "fn"), 1);     /* exactly one for the rename */
    assert_int_equal(answer_of(f->rt, "fn"), 'B');
    fake_advance(&f->clock, MS(5000));
    faas_run_pending(f->rt);
    assert_int_equal(updates_of(f->rt, "fn"), 1);     /* and no more */

    /* Three quick renames: one update, of the last file. */
    install("mod_update_b.so", f->path);
    fake_advance(&f->clock, MS(50));
    faas_run_pending(f->rt);
    install("mod_update_b.so", f->path);
    fake_advance(&f->clock, MS(50));
    faas_run_pending(f->rt);
    install("mod_update_a.so", f->path);
    fake_advance(&f->clock, MS(50));
    faas_run_pending(f->rt);
    assert_int_equal(updates_of(f->rt, "fn"), 1);
    settle_follow(f);
    assert_int_equal(updates_of(f->rt, "fn"), 2);
    assert_int_equal(answer_of(f->rt, "fn"), 'A');

    /* An editor writing in place (the code runs from a private copy, so that is safe):
     * one update, after the close. */
    write_in_place("mod_update_b.so", f->path, SIZE_MAX, NULL);
    settle_follow(f);
    assert_int_equal(updates_of(f->rt, "fn"), 3);
    assert_int_equal(answer_of(f->rt, "fn"), 'B');

    /* Other files of the directory are not followed. */
    char other[4200];
    snprintf(other, sizeof other, "%s/other.so", f->dir);
    install("mod_update_a.so", other);
    settle_follow(f);
    assert_int_equal(updates_of(f->rt, "fn"), 3);
    assert_int_equal(answer_of(f->rt, "fn"), 'B');
}

static void follower_never_loads_a_broken_or_half_file(void **state)
{
    ufixture *f = *state;
    install("mod_update_a.so", f->path);
    ASSERT_OK(faas_register_module(f->rt, "fn", f->path, "answer", NULL));
    ASSERT_OK(faas_update_follow(f->rt, "fn", 1));
    assert_int_equal(answer_of(f->rt, "fn"), 'A');   /* loaded (a module loads lazily) */

    /* A module whose INIT fails dropped in: the old code serves, the status says why. */
    install("mod_update_bad.so", f->path);
    settle_follow(f);
    assert_int_equal(answer_of(f->rt, "fn"), 'A');
    faas_update_info ui;
    ASSERT_OK(faas_update_status(f->rt, "fn", &ui));
    assert_int_equal(ui.status, FAAS_UPDATE_FAILED);
    assert_int_equal(ui.error, FAAS_EINIT);
    assert_non_null(strstr(ui.reason, "INIT of fn refuses to start"));
    assert_int_equal(ui.failures, 1);

    /* A new file being written (created, still open): no update while it is, however long
     * the pause between its writes; one after its close. */
    assert_int_equal(unlink(f->path), 0);
    FILE *open_file;
    write_in_place("mod_update_b.so", f->path, 4096, &open_file);
    settle_follow(f);
    fake_advance(&f->clock, MS(1000));
    faas_run_pending(f->rt);
    ASSERT_OK(faas_update_status(f->rt, "fn", &ui));
    assert_int_equal(ui.failures, 1);                 /* the half file was never loaded */
    assert_int_equal(ui.updates, 0);
    assert_int_equal(fclose(open_file), 0);
    write_in_place("mod_update_b.so", f->path, SIZE_MAX, NULL);
    settle_follow(f);
    ASSERT_OK(faas_update_status(f->rt, "fn", &ui));
    assert_int_equal(ui.status, FAAS_UPDATE_SUCCESSFUL);
    assert_int_equal(ui.updates, 1);
    assert_int_equal(ui.failures, 1);
    assert_int_equal(answer_of(f->rt, "fn"), 'B');

    /* A truncated module closed in place: it does not load, the old code serves. */
    write_in_place("mod_update_a.so", f->path, 4096, NULL);
    settle_follow(f);
    ASSERT_OK(faas_update_status(f->rt, "fn", &ui));
    assert_int_equal(ui.status, FAAS_UPDATE_FAILED);
    assert_int_equal(ui.error, FAAS_ELOAD);
    assert_int_equal(answer_of(f->rt, "fn"), 'B');
}

static void follower_off_does_nothing(void **state)
{
    ufixture *f = *state;
    install("mod_update_a.so", f->path);
    ASSERT_OK(faas_register_module(f->rt, "fn", f->path, "answer", NULL));
    assert_int_equal(answer_of(f->rt, "fn"), 'A');   /* loaded (a module loads lazily) */
    install("mod_update_b.so", f->path);              /* never followed */
    settle_follow(f);
    assert_int_equal(answer_of(f->rt, "fn"), 'A');
    ASSERT_OK(faas_update_follow(f->rt, "fn", 1));
    ASSERT_OK(faas_update_follow(f->rt, "fn", 1));    /* again: still one follower */
    ASSERT_OK(faas_update_follow(f->rt, "fn", 0));
    ASSERT_OK(faas_update_follow(f->rt, "fn", 0));    /* off twice: fine */
    install("mod_update_b.so", f->path);
    settle_follow(f);
    assert_int_equal(answer_of(f->rt, "fn"), 'A');
    faas_update_info ui;
    ASSERT_OK(faas_update_status(f->rt, "fn", &ui));
    assert_int_equal(ui.status, FAAS_UPDATE_NONE);

    /* Arguments: what faas_update_code refuses, faas_update_follow refuses. */
    assert_int_equal(faas_update_follow(NULL, "fn", 1), FAAS_EINVAL);
    assert_int_equal(faas_update_follow(f->rt, NULL, 1), FAAS_EINVAL);
    assert_int_equal(faas_update_follow(f->rt, "nope", 1), FAAS_ENOTFOUND);
    assert_int_equal(faas_update_follow(f->rt, "fn:$LATEST", 1), FAAS_EINVAL);
    ASSERT_OK(faas_register(f->rt, "host", nul_terminated_echo, NULL));
    assert_int_equal(faas_update_follow(f->rt, "host", 1), FAAS_ENOTSUP);

    /* Following again after that: one update per rename. */
    ASSERT_OK(faas_update_follow(f->rt, "fn", 1));
    install("mod_update_b.so", f->path);
    settle_follow(f);
    assert_int_equal(answer_of(f->rt, "fn"), 'B');
    assert_int_equal(updates_of(f->rt, "fn"), 1);
    /* Unregistered: the follower lets it go (a rename later updates nothing, fails nothing). */
    ASSERT_OK(faas_unregister(f->rt, "fn"));
    install("mod_update_a.so", f->path);
    settle_follow(f);
}

/* The follower's thread, on the real clock: file renamed into place -> first call on the
 * new code, with no faas_update_code() call (the debounce is in the latency). */
static void follower_thread_latency(void **state)
{
    ufixture *f = *state;
    install("mod_update_a.so", f->path);
    ASSERT_OK(faas_register_module(f->rt, "fn", f->path, "answer", NULL));
    ASSERT_OK(faas_update_follow(f->rt, "fn", 1));
    assert_int_equal(answer_of(f->rt, "fn"), 'A');   /* loaded (a module loads lazily) */
    enum { ROUNDS = 7 };
    uint64_t lat[ROUNDS];
    for (int i = 0; i < ROUNDS; i++) {
        char want = i % 2 ? 'A' : 'B';
        uint64_t t0 = now_ns(), end = t0 + UINT64_C(10000000000);   /* generous: 10 s */
        install(want == 'A' ? "mod_update_a.so" : "mod_update_b.so", f->path);
        /* The answer changes at the commit; the status just after it. */
        while ((answer_of(f->rt, "fn") != want || updates_of(f->rt, "fn") != (uint64_t)i + 1)
               && now_ns() < end)
            sched_yield();
        lat[i] = now_ns() - t0;
        assert_int_equal(answer_of(f->rt, "fn"), want);
        assert_int_equal(updates_of(f->rt, "fn"), (uint64_t)i + 1);
    }
    qsort(lat, ROUNDS, sizeof lat[0], cmp_u64);
    print_message("# follower update latency (file renamed into place -> first call on the "
                  "new code, %d ms debounce included): median %.1f ms, min %.1f ms, max "
                  "%.1f ms over %d renames\n", 100, lat[ROUNDS / 2] / 1e6, lat[0] / 1e6,
                  lat[ROUNDS - 1] / 1e6, ROUNDS);
}

/* ---- the generation check ------------------------------------------------------------------ */

/* An instance taken before an update and used after it must not run the old code: an
 * async call of a function with a concurrency limit holds its instance while it is queued
 * (manual mode: until faas_run_pending). The update commits meanwhile; the call, run after,
 * must answer with the new code (invoke.c's generation check retires the old instance). */
typedef struct updater {
    faas_runtime *rt;
    int           rc;
} updater;

static void *update_b(void *arg)
{
    updater *u = arg;
    u->rc = faas_update_code(u->rt, "fn", test_module("mod_update_b.so"));
    return NULL;
}

static void held_instance_of_old_code_is_not_used(void **state)
{
    ufixture *f = *state;
    install("mod_update_a.so", f->path);
    faas_config cfg;
    faas_config_init(&cfg);
    cfg.max_concurrency = 1;
    cfg.timeout_ms = 1000;
    ASSERT_OK(faas_register_module(f->rt, "fn", f->path, "answer", &cfg));
    ASSERT_OK(faas_warm(f->rt, "fn", 1));
    faas_future *fut;
    ASSERT_OK(faas_invoke_future(f->rt, "fn", "{}", 2, &fut));   /* holds the A instance */

    updater u = { f->rt, -1 };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, update_b, &u), 0);
    /* Committed (the status is settled before the updater waits for the old instance). */
    uint64_t end = now_ns() + UINT64_C(10000000000);
    while (updates_of(f->rt, "fn") == 0 && now_ns() < end)
        sched_yield();
    assert_int_equal(updates_of(f->rt, "fn"), 1);
    faas_run_pending(f->rt);                          /* the queued call runs now */
    faas_response res;
    ASSERT_OK(faas_future_wait(fut, 0, &res));
    assert_int_equal(res.status, FAAS_OK);
    assert_int_equal(res.len, 1);
    assert_int_equal(((const char *)res.data)[0], 'B');   /* not the old instance's A */
    faas_response_free(&res);
    faas_future_free(fut);
    pthread_join(t, NULL);
    ASSERT_OK(u.rc);
    assert_int_equal(answer_of(f->rt, "fn"), 'B');
}

/* ---- the canary report --------------------------------------------------------------------- */

static void canary_report_compares_two_versions(void **state)
{
    ufixture *f = *state;
    install("mod_update_a.so", f->path);
    ASSERT_OK(faas_register_module(f->rt, "fn", f->path, "answer", NULL));
    ASSERT_OK(faas_publish_version(f->rt, "fn", "A", NULL));
    ASSERT_OK(faas_update_code(f->rt, "fn", test_module("mod_update_b.so")));
    ASSERT_OK(faas_publish_version(f->rt, "fn", "B", NULL));
    ASSERT_OK(faas_alias_set(f->rt, "fn", "live", 1, 2, 0.25));
    faas_routing_seed(f->rt, 42);

    faas_canary c;
    ASSERT_OK(faas_canary_get(f->rt, "fn", "live", &c));
    assert_int_equal(c.primary.version, 1);
    assert_int_equal(c.extra.version, 2);
    assert_true(c.primary.weight == 0.75 && c.extra.weight == 0.25);
    assert_int_equal(c.primary.invocations + c.extra.invocations, 0);
    assert_int_equal(c.primary.cost_per_million_picousd, 0);

    unsigned calls = 2000, errs = 0;
    for (unsigned i = 0; i < calls; i++) {   /* code B fails "boom", code A answers it */
        faas_response res;
        errs += faas_invoke(f->rt, "fn:live", "boom", 4, &res) != FAAS_OK;
        faas_response_free(&res);
    }
    ASSERT_OK(faas_canary_get(f->rt, "fn", "live", &c));
    assert_int_equal(c.revision, 1);
    assert_int_equal(c.primary.invocations + c.extra.invocations, calls);
    assert_true(c.extra.invocations > 300 && c.extra.invocations < 700);   /* ~500 */
    assert_int_equal(c.primary.errors, 0);
    assert_int_equal(c.extra.errors, c.extra.invocations);
    assert_int_equal(c.extra.errors, errs);
    /* The same numbers as each version's own stats. */
    faas_stats s1, s2;
    ASSERT_OK(faas_stats_get(f->rt, "fn:1", &s1));
    ASSERT_OK(faas_stats_get(f->rt, "fn:2", &s2));
    assert_int_equal(c.primary.invocations, s1.invocations);
    assert_int_equal(c.extra.invocations, s2.invocations);
    assert_int_equal(c.primary.cost_picousd, s1.cost_picousd);
    assert_true(c.primary.p99_ms == s1.p99_ms && c.extra.p50_ms == s2.p50_ms);
    assert_true(c.primary.p50_ms > 0 && c.primary.p99_ms >= c.primary.p50_ms);
    /* Cost per 1M calls: the average call's cost, a million times (rounded). */
    uint64_t per = (uint64_t)(((unsigned __int128)s1.cost_picousd * 1000000u +
                               s1.invocations / 2) / s1.invocations);
    assert_int_equal(c.primary.cost_per_million_picousd, per);
    assert_true(c.primary.cost_per_million_picousd >= 200000000000u);   /* $0.20 requests */

    /* An alias on one version: the second side is empty. */
    ASSERT_OK(faas_alias_set(f->rt, "fn", "live", 2, 0, 0.0));
    ASSERT_OK(faas_canary_get(f->rt, "fn", "live", &c));
    assert_int_equal(c.revision, 2);
    assert_int_equal(c.primary.version, 2);
    assert_true(c.primary.weight == 1.0);
    assert_int_equal(c.extra.version, 0);
    assert_int_equal(c.extra.invocations, 0);
    assert_int_equal(faas_canary_get(f->rt, "fn", "nope", &c), FAAS_ENOTFOUND);
    assert_int_equal(faas_canary_get(f->rt, "fn", "live", NULL), FAAS_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(update_under_load_fails_no_call, setup, teardown),
        cmocka_unit_test_setup_teardown(failing_init_keeps_the_old_code, setup, teardown),
        cmocka_unit_test_setup_teardown(update_checks_its_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(versions_keep_their_code, setup, teardown),
        cmocka_unit_test_setup_teardown(renamed_file_runs_its_new_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(canary_report_compares_two_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(follower_updates_once_per_rename, setup_manual,
                                        teardown),
        cmocka_unit_test_setup_teardown(follower_never_loads_a_broken_or_half_file,
                                        setup_manual, teardown),
        cmocka_unit_test_setup_teardown(follower_off_does_nothing, setup_manual, teardown),
        cmocka_unit_test_setup_teardown(follower_thread_latency, setup, teardown),
        cmocka_unit_test_setup_teardown(held_instance_of_old_code_is_not_used, setup_manual,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
