/* test_journal.c - the journal of accepted asynchronous calls (faas_options.journal_dir):
 * a call is in the files before FAAS_OK, leaves them when its completion is final, stays
 * when it is cancelled at shutdown, and runs again with the same request id after a
 * restart (faas_journal_replay); a torn or damaged file is detected and never replayed as
 * garbage; compaction bounds the size; group commit under threads; one completion each. */
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "../libfaas/crc32c.h"

/* ---- scratch directories ------------------------------------------------------------------- */

static char ROOT[1024];
static unsigned NDIRS;

/* A new directory path under ROOT (not created: the journal makes it). */
static const char *new_dir(char out[4096])
{
    snprintf(out, 4096, "%s/j%u", ROOT, NDIRS++);
    return out;
}

/* The journal's segment files in dir (sorted names), or their count. */
static int segments(const char *dir, char names[][64], int max)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (d == NULL)
        return 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 8 && strcmp(de->d_name + l - 8, ".journal") == 0 && n < max)
            snprintf(names[n++], 64, "%.63s", de->d_name);
    }
    closedir(d);
    for (int i = 0; i < n; i++)             /* few names: insertion sort */
        for (int k = i; k > 0 && strcmp(names[k - 1], names[k]) > 0; k--) {
            char t[64];
            memcpy(t, names[k], 64);
            memcpy(names[k], names[k - 1], 64);
            memcpy(names[k - 1], t, 64);
        }
    return n;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* The one segment of dir, read whole; its path in path. */
static unsigned char *only_segment(const char *dir, char path[4096], size_t *len)
{
    char names[8][64];
    assert_int_equal(segments(dir, names, 8), 1);
    snprintf(path, 4096, "%s/%s", dir, names[0]);
    return slurp(path, len);
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The offsets of the records of a segment (after its 32-byte header), up to the zeros
 * a running journal keeps past its end. */
static int record_offsets(const unsigned char *d, size_t n, size_t *offs, int max)
{
    int k = 0;
    for (size_t off = 32; off + 16 <= n && k < max && le32(d + off) != 0;
         off += 16 + le32(d + off + 8))
        offs[k++] = off;
    return k;
}

/* ---- handlers and completions ------------------------------------------------------------- */

static int echo(faas_ctx *ctx, const void *payload, size_t len)
{
    return faas_reply(ctx, payload, len);
}

static int always_fails(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload; (void)len;
    return faas_fail(ctx, "Broken", "always");
}

/* Fails the first attempt of any call; succeeds after. */
static atomic_int first_failures;
static int fails_first(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload; (void)len;
    if (strstr(payload, "pinned") != NULL && atomic_fetch_add(&first_failures, 1) == 0)
        return faas_fail(ctx, "Transient", "first try");
    return faas_reply(ctx, payload, len);
}

#define LOGMAX 64
typedef struct done_log {
    pthread_mutex_t mu;
    unsigned n;
    int      status[LOGMAX];
    int      attempt[LOGMAX];
    char     id[LOGMAX][37];
    char     data[LOGMAX][512];
} done_log;

static void done_init(done_log *d)
{
    memset(d, 0, sizeof *d);
    pthread_mutex_init(&d->mu, NULL);
}

static void on_done(const faas_response *res, void *arg)
{
    done_log *d = arg;
    pthread_mutex_lock(&d->mu);
    if (d->n < LOGMAX) {
        d->status[d->n] = res->status;
        d->attempt[d->n] = res->record.attempt;
        memcpy(d->id[d->n], res->record.request_id, 37);
        snprintf(d->data[d->n], sizeof d->data[0], "%.*s", (int)res->len,
                 (const char *)res->data);
    }
    d->n++;
    pthread_mutex_unlock(&d->mu);
}

/* ---- runtimes ---------------------------------------------------------------------------- */

static fake_clock CLOCK;

static faas_runtime *open_manual(const char *dir, size_t segment)
{
    faas_options o = manual_options(&CLOCK);
    o.journal_dir = dir;
    o.journal_segment_bytes = segment;
    faas_runtime *rt = NULL;
    int rc = faas_runtime_new(&rt, &o);
    if (rc != FAAS_OK)
        fail_msg("faas_runtime_new(%s): %s", dir, faas_last_error());
    return rt;
}

static faas_journal_stats stats(faas_runtime *rt)
{
    faas_journal_stats st;
    ASSERT_OK(faas_journal_stats_get(rt, &st));
    return st;
}

/* How many calls the journal in dir holds: what a runtime opened on it recovers. */
static uint64_t recovered_on_reopen(const char *dir)
{
    faas_runtime *rt = open_manual(dir, 0);
    uint64_t n = stats(rt).recovered;
    faas_runtime_free(rt);
    return n;
}

/* Submit n echo calls "{"n":i}" in manual mode (not run); their ids in ids. */
static void submit_echoes(faas_runtime *rt, unsigned n, char ids[][37], done_log *d)
{
    for (unsigned i = 0; i < n; i++) {
        char p[64];
        int len = snprintf(p, sizeof p, "{\"n\":%u}", i);
        ASSERT_OK(faas_invoke_async(rt, "echo", p, (size_t)len, on_done, d, ids[i]));
    }
}

/* ---- tests --------------------------------------------------------------------------------- */

static void crc32c_test_vector(void **state)
{
    (void)state;
    assert_int_equal(faas__crc32c(0, "123456789", 9), 0xe3069283u);
    assert_int_equal(faas__crc32c(0, "", 0), 0);
    /* Chained in pieces, at every split and alignment, it is the same. */
    unsigned char buf[100];
    for (unsigned i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 37 + 11);
    uint32_t whole = faas__crc32c(0, buf + 1, sizeof buf - 1);
    for (size_t cut = 0; cut < sizeof buf - 1; cut++)
        assert_int_equal(faas__crc32c(faas__crc32c(0, buf + 1, cut), buf + 1 + cut,
                                      sizeof buf - 1 - cut), whole);
}

/* Calls cancelled at faas_runtime_free stay; the next runtime replays them with the same
 * ids and payloads, in order; once done they are gone. */
static void cancelled_at_free_are_replayed_with_their_ids(void **state)
{
    (void)state;
    char dir[4096];
    new_dir(dir);
    faas_runtime *rt = open_manual(dir, 0);
    ASSERT_OK(faas_register(rt, "echo", echo, NULL));
    done_log d;
    done_init(&d);
    char ids[3][37];
    submit_echoes(rt, 3, ids, &d);
    faas_journal_stats st = stats(rt);
    assert_int_equal(st.enabled, 1);
    assert_int_equal(st.appended, 3);
    assert_int_equal(st.live, 3);
    assert_int_equal(st.pending, 3);
    assert_true(st.syncs >= 3);             /* one thread: a sync per call */
    faas_runtime_free(rt);
    assert_int_equal(d.n, 3);               /* one completion each, FAAS_ESHUTDOWN */
    for (int i = 0; i < 3; i++)
        assert_int_equal(d.status[i], FAAS_ESHUTDOWN);

    rt = open_manual(dir, 0);
    st = stats(rt);
    assert_int_equal(st.recovered, 3);
    assert_int_equal(st.unreplayed, 3);
    assert_int_equal(st.live, 3);
    assert_int_equal(st.pending, 0);
    assert_int_equal(st.torn_bytes, 0);
    assert_int_equal(st.corrupt_records, 0);
    ASSERT_OK(faas_register(rt, "echo", echo, NULL));
    done_log r;
    done_init(&r);
    assert_int_equal(faas_journal_replay(rt, on_done, &r), 3);
    assert_int_equal(faas_journal_replay(rt, on_done, &r), 0);     /* nothing left */
    assert_int_equal(stats(rt).unreplayed, 0);
    assert_int_equal(faas_run_pending(rt), 3);
    assert_int_equal(r.n, 3);
    for (int i = 0; i < 3; i++) {
        char want[64];
        snprintf(want, sizeof want, "{\"n\":%d}", i);
        assert_int_equal(r.status[i], FAAS_OK);
        assert_string_equal(r.id[i], ids[i]);
        assert_string_equal(r.data[i], want);
        assert_int_equal(r.attempt[i], 1);
    }
    st = stats(rt);
    assert_int_equal(st.completed, 3);
    assert_int_equal(st.live, 0);
    faas_runtime_free(rt);

    assert_int_equal(recovered_on_reopen(dir), 0);
}

/* When faas_invoke_async returns FAAS_OK the record is in the file already: a copy of the
 * directory taken then, the runtime still running, holds the call. */
static void a_call_is_in_the_files_when_accepted(void **state)
{
    (void)state;
    char dir[4096], copy[4096], path[4096], cpath[8192 + 64];
    new_dir(dir);
    new_dir(copy);
    faas_runtime *rt = open_manual(dir, 0);
    ASSERT_OK(faas_register(rt, "echo", echo, NULL));
    char id[37];
    ASSERT_OK(faas_invoke_async(rt, "echo", "\"x\"", 3, NULL, NULL, id));
    size_t n;
    unsigned char *b = only_segment(dir, path, &n);
    assert_int_equal(mkdir(copy, 0700), 0);
    snprintf(cpath, sizeof cpath, "%s/%s", copy, strrchr(path, '/') + 1);
    spit(cpath, b, n);
    free(b);

    faas_runtime *rt2 = open_manual(copy, 0);
    assert_int_equal(stats(rt2).recovered, 1);
    ASSERT_OK(faas_register(rt2, "echo", echo, NULL));
    done_log r;
    done_init(&r);
    assert_int_equal(faas_journal_replay(rt2, on_done, &r), 1);
    faas_run_pending(rt2);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.id[0], id);
    assert_string_equal(r.data[0], "\"x\"");
    faas_runtime_free(rt2);
    assert_int_equal(faas_run_pending(rt), 1);
    faas_runtime_free(rt);
}

/* A final completion (success or final failure) takes the call out. */
static void completion_removes(void **state)
{
    (void)state;
    char dir[4096];
    new_dir(dir);
    faas_runtime *rt = open_manual(dir, 0);
    faas_config cfg;
    faas_config_init(&cfg);
    cfg.max_retries = 0;
    ASSERT_OK(faas_register(rt, "echo", echo, NULL));
    ASSERT_OK(faas_register(rt, "broken", always_fails, &cfg));
    done_log d;
    done_init(&d);
    char ids[5][37];
    submit_echoes(rt, 5, ids, &d);
    ASSERT_OK(faas_invoke_async(rt, "broken", "{}", 2, on_done, &d, NULL));
    assert_int_equal(faas_run_pending(rt), 6);
    assert_int_equal(d.n, 6);
    assert_int_equal(d.status[5], FAAS_EHANDLER);
    faas_journal_stats st = stats(rt);
    assert_int_equal(st.appended, 6);
    assert_int_equal(st.completed, 6);
    assert_int_equal(st.live, 0);
    faas_runtime_free(rt);
    assert_int_equal(recovered_on_reopen(dir), 0);
}

/* A journal of two calls, cancelled at free: the segment's bytes and record offsets. */
static unsigned char *two_call_journal(const char *dir, char ids[2][37], size_t *n,
                                       size_t offs[2], char path[4096])
{
    faas_runtime *rt = open_manual(dir, 0);
    ASSERT_OK(faas_register(rt, "echo", echo, NULL));
    ASSERT_OK(faas_invoke_async(rt, "echo", "{\"first\":1}", 11, NULL, NULL, ids[0]));
    ASSERT_OK(faas_invoke_async(rt, "echo", "{\"second\":\"the last record\"}", 29, NULL,
                                NULL, ids[1]));
    faas_runtime_free(rt);
    unsigned char *b = only_segment(dir, path, n);
    assert_int_equal(record_offsets(b, *n, offs, 2), 2);
    return b;
}

/* Cut the last record at every byte: the cut-short end is detected, counted and ignored;
 * the first call alone is replayed, never a piece of the second. */
static void torn_tail_at_every_offset_is_never_replayed(void **state)
{
    (void)state;
    char dir[4096], path[4096], ids[2][37];
    size_t n, offs[2];
    new_dir(dir);
    unsigned char *b = two_call_journal(dir, ids, &n, offs, path);
    remove_tree(dir);
    for (size_t cut = offs[1]; cut < n; cut++) {
        assert_int_equal(mkdir(dir, 0700), 0);
        spit(path, b, cut);
        faas_runtime *rt = open_manual(dir, 0);
        faas_journal_stats st = stats(rt);
        assert_int_equal(st.recovered, 1);
        assert_int_equal(st.torn_bytes, cut - offs[1]);
        assert_int_equal(st.corrupt_records, 0);
        ASSERT_OK(faas_register(rt, "echo", echo, NULL));
        done_log r;
        done_init(&r);
        assert_int_equal(faas_journal_replay(rt, on_done, &r), 1);
        faas_run_pending(rt);
        assert_int_equal(r.n, 1);
        assert_string_equal(r.id[0], ids[0]);
        assert_string_equal(r.data[0], "{\"first\":1}");
        faas_runtime_free(rt);
        remove_tree(dir);
    }
    /* A record cut short, then zeros (those a running journal keeps past its end): cut
     * short. */
    assert_int_equal(mkdir(dir, 0700), 0);
    unsigned char *z = calloc(1, n + 4096);
    memcpy(z, b, n - 5);
    spit(path, z, n + 4096);
    faas_runtime *rt = open_manual(dir, 0);
    assert_int_equal(stats(rt).recovered, 1);
    assert_int_equal(stats(rt).torn_bytes, n + 4096 - offs[1]);
    faas_runtime_free(rt);
    free(z);
    remove_tree(dir);
    /* Zeros where the last record should be: a record never written, the end of the file. */
    assert_int_equal(mkdir(dir, 0700), 0);
    memset(b + offs[1], 0, n - offs[1]);
    spit(path, b, n);
    rt = open_manual(dir, 0);
    assert_int_equal(stats(rt).recovered, 1);
    assert_int_equal(stats(rt).torn_bytes, 0);
    faas_runtime_free(rt);
    free(b);
}

/* A journal of three calls with the middle record damaged by f. */
static void damage_middle(const char *dir, void (*f)(unsigned char *rec, size_t len),
                          char ids[3][37])
{
    char path[4096];
    faas_runtime *rt = open_manual(dir, 0);
    ASSERT_OK(faas_register(rt, "echo", echo, NULL));
    done_log d;
    done_init(&d);
    submit_echoes(rt, 3, ids, &d);
    faas_runtime_free(rt);
    size_t n, offs[3];
    unsigned char *b = only_segment(dir, path, &n);
    assert_int_equal(record_offsets(b, n, offs, 3), 3);
    f(b + offs[1], offs[2] - offs[1]);
    spit(path, b, n);
    free(b);
}

static void flip_payload(unsigned char *rec, size_t len)   { rec[len - 2] ^= 0x20; }
static void flip_checksum(unsigned char *rec, size_t len)  { (void)len; rec[5] ^= 1; }
static void flip_magic(unsigned char *rec, size_t len)     { (void)len; rec[0] ^= 0xff; }
static void grow_length(unsigned char *rec, size_t len)    { (void)len; rec[9] ^= 0x40; }

/* Damage in the middle (not an end cut short): the bad record is skipped, counted and
 * logged, the valid records after it are read, and the file is kept as .damaged. */
static void corrupt_record_in_the_middle_is_skipped(void **state)
{
    (void)state;
    void (*damage[])(unsigned char *, size_t) = { flip_payload, flip_checksum, flip_magic,
                                                  grow_length };
    for (size_t k = 0; k < sizeof damage / sizeof damage[0]; k++) {
        char dir[4096], ids[3][37];
        new_dir(dir);
        damage_middle(dir, damage[k], ids);
        faas_runtime *rt = open_manual(dir, 0);
        faas_journal_stats st = stats(rt);
        assert_int_equal(st.recovered, 2);
        assert_int_equal(st.corrupt_records, 1);
        assert_true(st.corrupt_bytes > 0);
        assert_int_equal(st.torn_bytes, 0);
        ASSERT_OK(faas_register(rt, "echo", echo, NULL));
        done_log r;
        done_init(&r);
        assert_int_equal(faas_journal_replay(rt, on_done, &r), 2);
        faas_run_pending(rt);
        assert_int_equal(r.n, 2);
        assert_string_equal(r.id[0], ids[0]);
        assert_string_equal(r.id[1], ids[2]);
        assert_string_equal(r.data[1], "{\"n\":2}");
        faas_runtime_free(rt);
        /* The damaged file is kept for inspection, and not read again. */
        DIR *d = opendir(dir);
        int kept = 0;
        struct dirent *de;
        while ((de = readdir(d)) != NULL)
            kept += strstr(de->d_name, ".journal.damaged") != NULL;
        closedir(d);
        assert_int_equal(kept, 1);
        rt = open_manual(dir, 0);
        assert_int_equal(stats(rt).recovered, 0);
        assert_int_equal(stats(rt).corrupt_records, 0);
        faas_runtime_free(rt);
    }
}

/* A payload that holds a whole record of a journal (as a client could send) is never taken
 * for one, even in a file cut short in its middle: records are bound to their file. */
static void a_record_inside_a_payload_is_not_a_record(void **state)
{
    (void)state;
    char dir[4096], path[4096];
    new_dir(dir);
    /* A real record, from another journal, as the payload of a call. */
    faas_runtime *rt = open_manual(dir, 0);
    ASSERT_OK(faas_register(rt, "echo", echo, NULL));
    char forged_id[37];
    ASSERT_OK(faas_invoke_async(rt, "echo", "{\"forged\":1}", 12, NULL, NULL, forged_id));
    faas_runtime_free(rt);
    size_t n, offs[1];
    unsigned char *rec = only_segment(dir, path, &n);
    assert_int_equal(record_offsets(rec, n, offs, 1), 1);
    remove_tree(dir);

    rt = open_manual(dir, 0);
    ASSERT_OK(faas_register(rt, "echo", echo, NULL));
    char id[37];
    unsigned char carried[512];
    assert_true(n - offs[0] + 16 < sizeof carried);
    memcpy(carried, rec + offs[0], n - offs[0]);        /* the record, whole, then more */
    memset(carried + (n - offs[0]), '.', 16);
    ASSERT_OK(faas_invoke_async(rt, "echo", carried, n - offs[0] + 16, NULL, NULL, id));
    faas_runtime_free(rt);
    size_t m, o2[1];
    unsigned char *b = only_segment(dir, path, &m);
    assert_int_equal(record_offsets(b, m, o2, 1), 1);
    spit(path, b, m - 1);                   /* the carrier's end cut short */
    rt = open_manual(dir, 0);
    faas_journal_stats st = stats(rt);
    assert_int_equal(st.recovered, 0);      /* not the carrier, not the record it holds */
    assert_int_equal(st.torn_bytes, m - 1 - o2[0]);
    faas_runtime_free(rt);
    free(b);
    free(rec);
}

/* With small segments and one call kept live throughout (waiting for a retry that the
 * test clock never reaches), thousands of completed calls leave the journal bounded: old
 * segments are replaced by one holding the live call, which survives every compaction. */
static void compaction_bounds_the_size(void **state)
{
    (void)state;
    char dir[4096];
    new_dir(dir);
    const size_t seg = 4096;
    faas_runtime *rt = open_manual(dir, seg);
    ASSERT_OK(faas_register(rt, "echo", echo, NULL));
    ASSERT_OK(faas_register(rt, "flaky", fails_first, NULL));
    atomic_store(&first_failures, 0);
    char pinned[37];
    ASSERT_OK(faas_invoke_async(rt, "flaky", "\"pinned\"", 8, NULL, NULL, pinned));
    assert_int_equal(faas_run_pending(rt), 1);      /* failed: waits for its retry */
    unsigned calls = scaled(3000);
    uint64_t most = 0;
    for (unsigned i = 0; i < calls; i++) {
        char p[64];
        int len = snprintf(p, sizeof p, "{\"call\":%u,\"pad\":\"................\"}", i);
        ASSERT_OK(faas_invoke_async(rt, "echo", p, (size_t)len, NULL, NULL, NULL));
        faas_run_pending(rt);
        faas_journal_stats st = stats(rt);
        most = st.bytes > most ? st.bytes : most;
        assert_true(st.segments <= 2);
    }
    faas_journal_stats st = stats(rt);
    assert_int_equal(st.live, 1);
    assert_true(st.compactions > 0);
    /* One segment up to its limit plus the one being replaced, with a record's margin. */
    assert_true(most <= 2 * seg + 256);
    print_message("# %u calls: at most %llu bytes, %llu compactions\n", calls,
                  (unsigned long long)most, (unsigned long long)st.compactions);
    faas_runtime_free(rt);

    rt = open_manual(dir, seg);
    assert_int_equal(stats(rt).recovered, 1);
    ASSERT_OK(faas_register(rt, "flaky", fails_first, NULL));
    done_log r;
    done_init(&r);
    assert_int_equal(faas_journal_replay(rt, on_done, &r), 1);
    faas_run_pending(rt);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.id[0], pinned);
    assert_int_equal(r.status[0], FAAS_OK);
    assert_int_equal(r.attempt[0], 1);      /* a replayed call starts its attempts again */
    faas_runtime_free(rt);
}

/* A call waiting for a retry at faas_runtime_free did not complete: it stays. */
static void a_call_waiting_for_a_retry_stays(void **state)
{
    (void)state;
    char dir[4096];
    new_dir(dir);
    faas_runtime *rt = open_manual(dir, 0);
    ASSERT_OK(faas_register(rt, "flaky", fails_first, NULL));
    atomic_store(&first_failures, 0);
    done_log d;
    done_init(&d);
    char id[37];
    ASSERT_OK(faas_invoke_async(rt, "flaky", "\"pinned\"", 8, on_done, &d, id));
    assert_int_equal(faas_run_pending(rt), 1);
    assert_int_equal(d.n, 0);
    faas_runtime_free(rt);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.status[0], FAAS_ESHUTDOWN);
    assert_int_equal(recovered_on_reopen(dir), 1);
}

/* The dead-letter envelope of a failed call is journaled before the call's DONE: a stop
 * before the dead-letter function ran keeps the envelope, which is replayed. */
static char dlq_payload[2048];
static int dlq(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx;
    snprintf(dlq_payload, sizeof dlq_payload, "%.*s", (int)len, (const char *)payload);
    return 0;
}

static void a_dead_letter_envelope_is_journaled(void **state)
{
    (void)state;
    char dir[4096];
    new_dir(dir);
    faas_runtime *rt = open_manual(dir, 0);
    faas_config cfg;
    faas_config_init(&cfg);
    cfg.max_retries = 0;
    cfg.dead_letter = "dlq";
    ASSERT_OK(faas_register(rt, "broken", always_fails, &cfg));
    ASSERT_OK(faas_register(rt, "dlq", dlq, NULL));
    char id[37];
    ASSERT_OK(faas_invoke_async(rt, "broken", "{\"order\":7}", 11, NULL, NULL, id));
    /* Run the failing call only: its envelope is queued, not run. */
    assert_int_equal(faas_run_pending(rt), 1);
    faas_journal_stats st = stats(rt);
    assert_int_equal(st.appended, 2);
    assert_int_equal(st.live, 1);
    faas_runtime_free(rt);

    rt = open_manual(dir, 0);
    assert_int_equal(stats(rt).recovered, 1);
    ASSERT_OK(faas_register(rt, "dlq", dlq, NULL));
    dlq_payload[0] = '\0';
    assert_int_equal(faas_journal_replay(rt, NULL, NULL), 1);
    assert_int_equal(faas_run_pending(rt), 1);
    assert_non_null(strstr(dlq_payload, id));
    assert_non_null(strstr(dlq_payload, "\"requestPayload\":{\"order\":7}"));
    faas_runtime_free(rt);
    assert_int_equal(recovered_on_reopen(dir), 0);
}

/* A replayed call whose function is not registered completes once, FAAS_ENOTFOUND, with
 * its id, and leaves the journal (a final completion). */
static void a_replayed_call_of_an_unknown_function_completes_once(void **state)
{
    (void)state;
    char dir[4096];
    new_dir(dir);
    faas_runtime *rt = open_manual(dir, 0);
    ASSERT_OK(faas_register(rt, "gone", echo, NULL));
    char id[37];
    ASSERT_OK(faas_invoke_async(rt, "gone", "{}", 2, NULL, NULL, id));
    faas_runtime_free(rt);

    capture cap;
    capture_init(&cap);
    faas_options o = manual_options(&CLOCK);
    o.journal_dir = dir;
    o.log = capture_line;
    o.log_arg = &cap;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    done_log r;
    done_init(&r);
    assert_int_equal(faas_journal_replay(rt, on_done, &r), 1);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.status[0], FAAS_ENOTFOUND);
    assert_string_equal(r.id[0], id);
    assert_int_equal(stats(rt).live, 0);
    assert_int_equal(faas_run_pending(rt), 0);
    assert_int_equal(r.n, 1);
    int logged = 0;
    for (size_t i = 0; i < cap.n; i++)
        logged += strstr(cap.lines[i], id) != NULL &&
                  strstr(cap.lines[i], "FAAS_ENOTFOUND") != NULL;
    assert_int_equal(logged, 1);
    faas_runtime_free(rt);
    capture_free(&cap);
    assert_int_equal(recovered_on_reopen(dir), 0);
}

/* Futures are journaled too; replayed, they come back through the replay callback. */
static void futures_are_journaled(void **state)
{
    (void)state;
    char dir[4096];
    new_dir(dir);
    faas_runtime *rt = open_manual(dir, 0);
    ASSERT_OK(faas_register(rt, "echo", echo, NULL));
    faas_future *f;
    ASSERT_OK(faas_invoke_future(rt, "echo", "[1]", 3, &f));
    char id[37];
    memcpy(id, faas_future_request_id(f), 37);
    assert_int_equal(stats(rt).live, 1);
    faas_future_free(f);
    faas_runtime_free(rt);
    rt = open_manual(dir, 0);
    ASSERT_OK(faas_register(rt, "echo", echo, NULL));
    done_log r;
    done_init(&r);
    assert_int_equal(faas_journal_replay(rt, on_done, &r), 1);
    faas_run_pending(rt);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.id[0], id);
    assert_string_equal(r.data[0], "[1]");
    faas_runtime_free(rt);
}

/* Many threads submit at once on a threaded runtime: one completion per call, every call
 * journaled and completed, fewer syncs than calls (they were grouped), nothing left. */
#define GC_THREADS 8
typedef struct gc_arg {
    faas_runtime *rt;
    unsigned      t, calls;
    atomic_uint  *counts;
    gate         *start;
} gc_arg;

static atomic_uint gc_failed;

static void count_done(const faas_response *res, void *arg)
{
    atomic_uint *c = arg;               /* on a worker: no cmocka assertion here */
    if (res->status != FAAS_OK)
        atomic_fetch_add(&gc_failed, 1);
    atomic_fetch_add(c, 1);
}

static void *gc_submitter(void *p)
{
    gc_arg *a = p;
    gate_wait(a->start);
    for (unsigned i = 0; i < a->calls; i++) {
        char payload[32];
        int len = snprintf(payload, sizeof payload, "[%u,%u]", a->t, i);
        int rc = faas_invoke_async(a->rt, "echo", payload, (size_t)len, count_done,
                                   &a->counts[a->t * a->calls + i], NULL);
        if (rc != FAAS_OK)
            return (void *)(intptr_t)rc;
    }
    return NULL;
}

static void group_commit_one_completion_each(void **state)
{
    (void)state;
    char dir[4096];
    new_dir(dir);
    faas_options o = {0};
    o.workers = 2;
    o.journal_dir = dir;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    ASSERT_OK(faas_register(rt, "echo", echo, NULL));
    unsigned per = scaled(150), total = GC_THREADS * per;
    atomic_uint *counts = calloc(total, sizeof *counts);
    gate start = GATE_INIT;
    pthread_t th[GC_THREADS];
    gc_arg args[GC_THREADS];
    for (unsigned t = 0; t < GC_THREADS; t++) {
        args[t] = (gc_arg){ rt, t, per, counts, &start };
        assert_int_equal(pthread_create(&th[t], NULL, gc_submitter, &args[t]), 0);
    }
    gate_open(&start);
    for (unsigned t = 0; t < GC_THREADS; t++) {
        void *ret;
        pthread_join(th[t], &ret);
        assert_null(ret);
    }
    ASSERT_OK(faas_drain(rt, 60000));
    assert_int_equal(atomic_load(&gc_failed), 0);
    for (unsigned i = 0; i < total; i++)
        assert_int_equal(atomic_load(&counts[i]), 1);
    faas_journal_stats st = stats(rt);
    assert_int_equal(st.appended, total);
    assert_int_equal(st.completed, total);
    assert_int_equal(st.live, 0);
    /* Eight threads, each waiting for the disk: each fdatasync served several of them. */
    assert_true(st.syncs < st.appended);
    print_message("# %u calls from %d threads: %llu fdatasync (%.1f calls each)\n", total,
                  GC_THREADS, (unsigned long long)st.syncs, (double)total / (double)st.syncs);
    faas_runtime_free(rt);
    free(counts);
    faas_runtime *again = open_manual(dir, 0);
    assert_int_equal(stats(again).recovered, 0);
    faas_runtime_free(again);
}

/* One directory, one runtime: a second is refused while the first holds it. */
static void a_journal_has_one_owner(void **state)
{
    (void)state;
    char dir[4096];
    new_dir(dir);
    faas_runtime *rt = open_manual(dir, 0);
    faas_options o = manual_options(&CLOCK);
    o.journal_dir = dir;
    faas_runtime *second = (faas_runtime *)1;
    assert_int_equal(faas_runtime_new(&second, &o), FAAS_EBUSY);
    assert_null(second);
    assert_non_null(strstr(faas_last_error(), "in use"));
    faas_runtime_free(rt);
    ASSERT_OK(faas_runtime_new(&second, &o));   /* free once the first is gone */
    faas_runtime_free(second);
}

static void a_bad_directory_is_refused(void **state)
{
    (void)state;
    char dir[4096];
    new_dir(dir);
    spit(dir, (const unsigned char *)"x", 1);    /* a file, not a directory */
    faas_options o = manual_options(&CLOCK);
    o.journal_dir = dir;
    faas_runtime *rt;
    assert_int_equal(faas_runtime_new(&rt, &o), FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), dir));
    o.journal_dir = "";
    assert_int_equal(faas_runtime_new(&rt, &o), FAAS_EINVAL);
}

/* A segment that cannot be read stops the start (FAAS_EIO) and is not deleted: nothing
 * the journal holds is given up. (A directory with a segment's name: root reads any file.) */
static void an_unreadable_segment_stops_the_start(void **state)
{
    (void)state;
    char dir[4096], seg[4200];
    new_dir(dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(seg, sizeof seg, "%s/0000000000000001.journal", dir);
    assert_int_equal(mkdir(seg, 0700), 0);
    faas_options o = manual_options(&CLOCK);
    o.journal_dir = dir;
    faas_runtime *rt;
    assert_int_equal(faas_runtime_new(&rt, &o), FAAS_EIO);
    assert_non_null(strstr(faas_last_error(), "0000000000000001.journal"));
    struct stat sb;
    assert_int_equal(stat(seg, &sb), 0);
    char names[4][64];
    assert_int_equal(segments(dir, names, 4), 1);   /* and no new segment was made */
}

/* A segment numbered ffffffffffffffff (the last there can be: only a crafted file is)
 * stops the start and nothing is deleted: the next segment would have been numbered 0,
 * which the start after does not take for a segment, and every call written there would
 * have been lost. */
static void the_last_segment_number_stops_the_start(void **state)
{
    (void)state;
    char dir[4096], seg[4200];
    new_dir(dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(seg, sizeof seg, "%s/ffffffffffffffff.journal", dir);
    spit(seg, (const unsigned char *)"", 0);
    faas_options o = manual_options(&CLOCK);
    o.journal_dir = dir;
    faas_runtime *rt;
    assert_int_equal(faas_runtime_new(&rt, &o), FAAS_EIO);
    assert_non_null(strstr(faas_last_error(), "ffffffffffffffff"));
    char names[4][64];
    assert_int_equal(segments(dir, names, 4), 1);   /* kept, and no segment 0 made */
}

/* The disk refuses the write (RLIMIT_FSIZE here): the call is refused with FAAS_EIO, its
 * callback never runs, and so is every later one. */
static void a_write_failure_refuses_calls(void **state)
{
    (void)state;
    char dir[4096], path[4096];
    new_dir(dir);
    capture cap;
    capture_init(&cap);
    faas_options o = manual_options(&CLOCK);
    o.journal_dir = dir;
    o.log = capture_line;
    o.log_arg = &cap;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    ASSERT_OK(faas_register(rt, "echo", echo, NULL));
    size_t n;
    free(only_segment(dir, path, &n));
    done_log d;
    done_init(&d);
    char payload[512];
    memset(payload, 'a', sizeof payload);
    payload[0] = '"';
    payload[sizeof payload - 1] = '"';
    void (*old)(int) = signal(SIGXFSZ, SIG_IGN);
    struct rlimit was, lim;
    getrlimit(RLIMIT_FSIZE, &was);
    lim = was;
    lim.rlim_cur = n + 100;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = faas_invoke_async(rt, "echo", payload, sizeof payload, on_done, &d, NULL);
    int rc2 = faas_invoke_async(rt, "echo", "{}", 2, on_done, &d, NULL);
    setrlimit(RLIMIT_FSIZE, &was);
    signal(SIGXFSZ, old);
    assert_int_equal(rc, FAAS_EIO);
    assert_int_equal(rc2, FAAS_EIO);
    assert_int_equal(stats(rt).error, FAAS_EIO);
    assert_int_equal(stats(rt).pending, 0);
    assert_int_equal(faas_run_pending(rt), 0);
    faas_runtime_free(rt);
    assert_int_equal(d.n, 0);
    int logged = 0;
    for (size_t i = 0; i < cap.n; i++)
        logged += strstr(cap.lines[i], "ERROR journal") != NULL &&
                  strstr(cap.lines[i], "refused") != NULL;
    assert_int_equal(logged, 1);
    capture_free(&cap);
}

/* Without a journal: the stats say so, and still count the pending calls. */
static void stats_without_a_journal(void **state)
{
    (void)state;
    faas_options o = manual_options(&CLOCK);
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    ASSERT_OK(faas_register(rt, "echo", echo, NULL));
    ASSERT_OK(faas_invoke_async(rt, "echo", "{}", 2, NULL, NULL, NULL));
    faas_journal_stats st;
    ASSERT_OK(faas_journal_stats_get(rt, &st));
    assert_int_equal(st.enabled, 0);
    assert_int_equal(st.pending, 1);
    assert_int_equal(faas_journal_replay(rt, NULL, NULL), 0);
    assert_int_equal(faas_journal_stats_get(NULL, &st), FAAS_EINVAL);
    assert_int_equal(faas_journal_stats_get(rt, NULL), FAAS_EINVAL);
    assert_int_equal(faas_journal_replay(NULL, NULL, NULL), FAAS_EINVAL);
    faas_runtime_free(rt);
}

static int setup(void **state)
{
    (void)state;
    return temp_dir(ROOT, sizeof ROOT, "faas-test-journal") != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    remove_tree(ROOT);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc32c_test_vector),
        cmocka_unit_test(cancelled_at_free_are_replayed_with_their_ids),
        cmocka_unit_test(a_call_is_in_the_files_when_accepted),
        cmocka_unit_test(completion_removes),
        cmocka_unit_test(torn_tail_at_every_offset_is_never_replayed),
        cmocka_unit_test(corrupt_record_in_the_middle_is_skipped),
        cmocka_unit_test(a_record_inside_a_payload_is_not_a_record),
        cmocka_unit_test(compaction_bounds_the_size),
        cmocka_unit_test(a_call_waiting_for_a_retry_stays),
        cmocka_unit_test(a_dead_letter_envelope_is_journaled),
        cmocka_unit_test(a_replayed_call_of_an_unknown_function_completes_once),
        cmocka_unit_test(futures_are_journaled),
        cmocka_unit_test(group_commit_one_completion_each),
        cmocka_unit_test(a_journal_has_one_owner),
        cmocka_unit_test(a_bad_directory_is_refused),
        cmocka_unit_test(an_unreadable_segment_stops_the_start),
        cmocka_unit_test(the_last_segment_number_stops_the_start),
        cmocka_unit_test(a_write_failure_refuses_calls),
        cmocka_unit_test(stats_without_a_journal),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
