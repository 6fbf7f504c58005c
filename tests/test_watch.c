/* test_watch.c - watched directories: the S3 event record of a complete file, partial
 * writes never announced, URL-encoded keys, filters, recursive watches, removals, a real
 * inotify queue overflow recovered by a rescan, a full run queue, and 1,000 files written
 * concurrently giving exactly 1,000 events with the right keys and eTags. */
#define _GNU_SOURCE
#include "util.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "../libfaas/md5.h"

/* ---- what the function received ----------------------------------------------------------- */

static struct {
    pthread_mutex_t mu;
    char          **payloads;
    size_t          n, cap, want;
    gate           *done;               /* opened when n reaches want */
} got = { .mu = PTHREAD_MUTEX_INITIALIZER };

static int collect(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)ctx;
    pthread_mutex_lock(&got.mu);
    if (got.n == got.cap) {
        got.cap = got.cap ? 2 * got.cap : 64;
        got.payloads = realloc(got.payloads, got.cap * sizeof *got.payloads);
    }
    got.payloads[got.n] = strndup(payload, len);
    if (++got.n == got.want && got.done != NULL)
        gate_open(got.done);
    pthread_mutex_unlock(&got.mu);
    return 0;
}

static void got_reset(void)
{
    pthread_mutex_lock(&got.mu);
    for (size_t i = 0; i < got.n; i++)
        free(got.payloads[i]);
    free(got.payloads);
    got.payloads = NULL;
    got.n = got.cap = got.want = 0;
    got.done = NULL;
    pthread_mutex_unlock(&got.mu);
}

static size_t got_count(void)
{
    pthread_mutex_lock(&got.mu);
    size_t n = got.n;
    pthread_mutex_unlock(&got.mu);
    return n;
}

/* Records[0] of payload i (parsed; the caller decrefs root). */
static json_t *record(size_t i, json_t **root)
{
    assert_true(i < got.n);
    *root = json_loads(got.payloads[i], 0, NULL);
    assert_non_null(*root);
    json_t *recs = json_object_get(*root, "Records");
    assert_true(json_is_array(recs));
    assert_int_equal(json_array_size(recs), 1);
    return json_array_get(recs, 0);
}

/* The member at a dotted path ("s3.object.key"), or NULL. */
static json_t *at(json_t *obj, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *cur = obj;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok != NULL && cur != NULL;
         tok = strtok_r(NULL, ".", &save))
        cur = json_object_get(cur, tok);
    return cur;
}

static const char *str_at(json_t *obj, const char *path)
{
    json_t *v = at(obj, path);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The key of every payload, sorted, as one string "k1|k2|...". */
static char *keys(void)
{
    size_t n = got_count();
    char **v = calloc(n + 1, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        json_t *root, *rec = record(i, &root);
        v[i] = strdup(str_at(rec, "s3.object.key"));
        json_decref(root);
    }
    for (size_t i = 0; i < n; i++)              /* n is small here: insertion sort */
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(v[j], v[i]) < 0) {
                char *t = v[i];
                v[i] = v[j];
                v[j] = t;
            }
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(v[i]) + 1;
    char *out = calloc(1, len);
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(out, "|");
        strcat(out, v[i]);
        free(v[i]);
    }
    free(v);
    return out;
}

#define ASSERT_KEYS(expected) do {                                                      \
        char *k_ = keys();                                                              \
        assert_string_equal(k_, expected);                                              \
        free(k_);                                                                       \
    } while (0)

/* ---- scratch directories ---------------------------------------------------------------------- */

static char *scratch(const char *name)
{
    char *dir = malloc(4096);
    assert_non_null(temp_dir(dir, 4096, "faas-watch"));
    strcat(dir, "/");
    strcat(dir, name);
    assert_int_equal(mkdir(dir, 0755), 0);
    return dir;
}

static void scratch_free(char *dir)
{
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    remove_tree(dir);
    free(dir);
}

static void path_in(char *out, size_t size, const char *dir, const char *rel)
{
    snprintf(out, size, "%s/%s", dir, rel);
}

static void write_file(const char *dir, const char *rel, const char *content)
{
    char path[4096];
    path_in(path, sizeof path, dir, rel);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    size_t len = strlen(content);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

static void make_dir(const char *dir, const char *rel)
{
    char path[4096];
    path_in(path, sizeof path, dir, rel);
    assert_int_equal(mkdir(path, 0755), 0);
}

static void md5_of(const char *s, char out[33])
{
    faas__md5 m;
    faas__md5_init(&m);
    faas__md5_update(&m, s, strlen(s));
    faas__md5_hex(&m, out);
}

/* ---- the eTag's MD5 ------------------------------------------------------------------------------ */

/* RFC 1321's test suite (appendix A.5), fed whole and in pieces that cross the 64-byte
 * blocks, and a million 'a' (a well-known value). */
static void md5_rfc1321_vectors(void **state)
{
    (void)state;
    static const char *const v[][2] = {
        { "", "d41d8cd98f00b204e9800998ecf8427e" },
        { "a", "0cc175b9c0f1b6a831c399e269772661" },
        { "abc", "900150983cd24fb0d6963f7d28e17f72" },
        { "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
        { "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b" },
        { "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
          "d174ab98d277d9f5a5611c2c9f419d9f" },
        { "1234567890123456789012345678901234567890123456789012345678901234567890"
          "1234567890", "57edf4a22be3c955ac49da2e2107b67a" },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t len = strlen(v[i][0]);
        for (size_t piece = 1; piece <= 65; piece += piece < 8 ? 1 : 28) {
            faas__md5 m;
            char hex[33];
            faas__md5_init(&m);
            for (size_t at = 0; at < len; at += piece)
                faas__md5_update(&m, v[i][0] + at, len - at < piece ? len - at : piece);
            faas__md5_hex(&m, hex);
            assert_string_equal(hex, v[i][1]);
        }
    }
    faas__md5 m;
    char block[1000], hex[33];
    memset(block, 'a', sizeof block);
    faas__md5_init(&m);
    for (int i = 0; i < 1000; i++)
        faas__md5_update(&m, block, sizeof block);
    faas__md5_hex(&m, hex);
    assert_string_equal(hex, "7707d6ae4e027c70eea2a935c2296f21");
    for (size_t len = 50; len < 140; len++) {   /* every padding case: 55, 56, 63, 64... */
        char a[33], b[33];
        faas__md5_init(&m);
        faas__md5_update(&m, block, len);
        faas__md5_hex(&m, a);
        faas__md5_init(&m);
        for (size_t k = 0; k < len; k++)
            faas__md5_update(&m, block + k, 1);
        faas__md5_hex(&m, b);
        assert_string_equal(a, b);
    }
}

/* ---- fixtures ---------------------------------------------------------------------------------- */

static fake_clock CLOCK;

/* A manual runtime with "collect" registered and its queue_capacity (0: the default). */
static faas_runtime *manual_runtime_with(size_t queue_capacity)
{
    faas_options o = manual_options(&CLOCK);
    o.queue_capacity = queue_capacity;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &o));
    ASSERT_OK(faas_register(rt, "collect", collect, NULL));
    got_reset();
    return rt;
}

static faas_runtime *manual_runtime(void)
{
    return manual_runtime_with(0);
}

/* Run everything pending (the watch's events become calls, and the calls run). */
static void pump(faas_runtime *rt)
{
    while (faas_run_pending(rt) > 0)
        ;
}

/* ---- tests --------------------------------------------------------------------------------------- */

static void one_file_gives_an_s3_record(void **state)
{
    (void)state;
    faas_runtime *rt = manual_runtime();
    char *dir = scratch("uploads");
    faas_trigger_id id = 0;
    ASSERT_OK(faas_watch(rt, "collect", dir, NULL, &id));
    assert_true(id != 0);
    write_file(dir, "hello.txt", "hello");
    pump(rt);
    assert_int_equal(got_count(), 1);

    json_t *root, *rec = record(0, &root);
    assert_string_equal(str_at(rec, "eventVersion"), "2.1");
    assert_string_equal(str_at(rec, "eventSource"), "aws:s3");
    assert_string_equal(str_at(rec, "awsRegion"), "us-east-1");
    assert_string_equal(str_at(rec, "eventTime"), "2026-11-26T00:00:00.000Z");
    assert_string_equal(str_at(rec, "eventName"), "ObjectCreated:Put");
    assert_string_equal(str_at(rec, "s3.s3SchemaVersion"), "1.0");
    char cfg[64];
    snprintf(cfg, sizeof cfg, "faas-watch-%llu", (unsigned long long)id);
    assert_string_equal(str_at(rec, "s3.configurationId"), cfg);
    assert_string_equal(str_at(rec, "s3.bucket.name"), "uploads");
    assert_string_equal(str_at(rec, "s3.bucket.arn"), "arn:aws:s3:::uploads");
    assert_string_equal(str_at(rec, "s3.object.key"), "hello.txt");
    assert_int_equal(json_integer_value(at(rec, "s3.object.size")), 5);
    assert_string_equal(str_at(rec, "s3.object.eTag"), "5d41402abc4b2a76b9719d911017c592");
    const char *seq = str_at(rec, "s3.object.sequencer");
    assert_non_null(seq);
    assert_int_equal(strlen(seq), 18);
    assert_int_equal(strspn(seq, "0123456789ABCDEF"), 18);
    assert_non_null(str_at(rec, "userIdentity.principalId"));
    assert_non_null(str_at(rec, "responseElements.x-amz-request-id"));
    json_decref(root);

    /* Nothing more: no duplicate for the same write. */
    pump(rt);
    assert_int_equal(got_count(), 1);
    faas_runtime_free(rt);
    scratch_free(dir);
}

static void a_file_held_open_mid_write_is_not_announced(void **state)
{
    (void)state;
    faas_runtime *rt = manual_runtime();
    char *dir = scratch("uploads");
    ASSERT_OK(faas_watch(rt, "collect", dir, NULL, NULL));
    char path[4096];
    path_in(path, sizeof path, dir, "big.bin");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "first half, ", 12), 12);
    pump(rt);
    assert_int_equal(got_count(), 0);          /* open: not complete */
    assert_int_equal(write(fd, "second half", 11), 11);
    pump(rt);
    assert_int_equal(got_count(), 0);
    assert_int_equal(close(fd), 0);
    pump(rt);
    assert_int_equal(got_count(), 1);
    json_t *root, *rec = record(0, &root);
    char md5[33];
    md5_of("first half, second half", md5);
    assert_int_equal(json_integer_value(at(rec, "s3.object.size")), 23);
    assert_string_equal(str_at(rec, "s3.object.eTag"), md5);
    json_decref(root);
    faas_runtime_free(rt);
    scratch_free(dir);
}

/* A file rewritten before the watch reads the close event of its previous version: that
 * event must not announce the new, half-written content; the new close announces it. */
static void a_late_close_event_does_not_announce_a_rewrite_in_progress(void **state)
{
    (void)state;
    faas_runtime *rt = manual_runtime();
    char *dir = scratch("latest");
    ASSERT_OK(faas_watch(rt, "collect", dir, NULL, NULL));
    write_file(dir, "latest.jpg", "version one");
    char path[4096];
    path_in(path, sizeof path, dir, "latest.jpg");
    int fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "vers", 4), 4);
    pump(rt);
    for (size_t i = 0; i < got_count(); i++) {
        json_t *root, *rec = record(i, &root);
        assert_int_not_equal(json_integer_value(at(rec, "s3.object.size")), 4);
        json_decref(root);
    }
    size_t before = got_count();
    assert_int_equal(write(fd, "ion two", 7), 7);
    assert_int_equal(close(fd), 0);
    pump(rt);
    assert_int_equal(got_count(), before + 1);
    json_t *root, *rec = record(before, &root);
    char md5[33];
    md5_of("version two", md5);
    assert_string_equal(str_at(rec, "s3.object.eTag"), md5);
    json_decref(root);
    faas_runtime_free(rt);
    scratch_free(dir);
}

static void keys_are_url_encoded_as_s3_does(void **state)
{
    (void)state;
    faas_runtime *rt = manual_runtime();
    char *dir = scratch("photos");
    ASSERT_OK(faas_watch(rt, "collect", dir, NULL, NULL));
    write_file(dir, "my photo (1).jpg", "a");
    write_file(dir, "caf\xc3\xa9 \xe2\x98\x83.png", "b");     /* café ☃.png */
    write_file(dir, "a+b=c&d.txt", "c");
    write_file(dir, "100%_done-v1.0*.txt", "d");
    pump(rt);
    ASSERT_KEYS("100%25_done-v1.0*.txt|a%2Bb%3Dc%26d.txt|caf%C3%A9+%E2%98%83.png|"
                "my+photo+%281%29.jpg");
    faas_runtime_free(rt);
    scratch_free(dir);
}

static void prefix_and_suffix_filters_as_s3s(void **state)
{
    (void)state;
    faas_runtime *rt = manual_runtime();
    char *dir = scratch("bucket");
    faas_watch_options o = { .recursive = 1, .prefix = "images/", .suffix = ".jpg" };
    ASSERT_OK(faas_watch(rt, "collect", dir, &o, NULL));
    make_dir(dir, "images");
    make_dir(dir, "images/sub");
    make_dir(dir, "docs");
    write_file(dir, "images/a.jpg", "1");
    write_file(dir, "images/b.png", "2");
    write_file(dir, "docs/c.jpg", "3");
    write_file(dir, "images/sub/d.jpg", "4");
    write_file(dir, "e.jpg", "5");
    pump(rt);
    ASSERT_KEYS("images/a.jpg|images/sub/d.jpg");
    faas_runtime_free(rt);
    scratch_free(dir);

    /* Rules match the encoded key: a space in a prefix is written '+', as S3 wants. */
    rt = manual_runtime();
    dir = scratch("bucket");
    faas_watch_options o2 = { .recursive = 1, .prefix = "raw+photos/" };
    ASSERT_OK(faas_watch(rt, "collect", dir, &o2, NULL));
    make_dir(dir, "raw photos");
    write_file(dir, "raw photos/x.jpg", "1");
    write_file(dir, "y.jpg", "2");
    pump(rt);
    ASSERT_KEYS("raw+photos/x.jpg");
    faas_runtime_free(rt);
    scratch_free(dir);
}

static void recursive_watch_follows_new_subdirectories(void **state)
{
    (void)state;
    faas_runtime *rt = manual_runtime();
    char *dir = scratch("tree");
    faas_watch_options o = { .recursive = 1 };
    ASSERT_OK(faas_watch(rt, "collect", dir, &o, NULL));
    make_dir(dir, "a");
    write_file(dir, "a/x.txt", "x");
    /* Made and filled before the watch sees the first of them: found by the scan of the new
     * subdirectory, once each. */
    make_dir(dir, "b");
    make_dir(dir, "b/c");
    make_dir(dir, "b/c/d");
    write_file(dir, "b/c/d/y.txt", "y");
    write_file(dir, "top.txt", "t");
    pump(rt);
    ASSERT_KEYS("a/x.txt|b/c/d/y.txt|top.txt");
    write_file(dir, "b/c/d/z.txt", "z");       /* now watched directly */
    pump(rt);
    assert_int_equal(got_count(), 4);
    /* A directory moved in brings its files. */
    char *outside = scratch("elsewhere");
    make_dir(outside, "m");
    write_file(outside, "m/moved.txt", "m");
    char from[4096], to[4096];
    path_in(from, sizeof from, outside, "m");
    path_in(to, sizeof to, dir, "m");
    assert_int_equal(rename(from, to), 0);
    pump(rt);
    ASSERT_KEYS("a/x.txt|b/c/d/y.txt|b/c/d/z.txt|m/moved.txt|top.txt");
    faas_runtime_free(rt);
    scratch_free(dir);
    scratch_free(outside);

    /* Not recursive: subdirectories are not watched. */
    rt = manual_runtime();
    dir = scratch("flat");
    ASSERT_OK(faas_watch(rt, "collect", dir, NULL, NULL));
    make_dir(dir, "sub");
    write_file(dir, "sub/no.txt", "n");
    write_file(dir, "yes.txt", "y");
    pump(rt);
    ASSERT_KEYS("yes.txt");
    faas_runtime_free(rt);
    scratch_free(dir);
}

/* Events of a directory read after it changed again: the watch acts on the directory as
 * it is now, and a file in it is announced once, not once more for each stale event. */
/* A user who may write into a watched directory cannot make the host read a file outside
 * it: a file written in d, then d moved away and a symbolic link to another directory
 * put in its place before the host reads the close event. The host opened root/d/secret,
 * the link followed to the other directory's file, and announced its size and MD5 under
 * the key d/secret (and a handler opening root/d/secret would have read it). Now every
 * file and directory is opened beneath the root with no symbolic link on the way. The
 * same for a whole tree: a new directory replaced by a link to another tree. */
static void a_link_swapped_in_reads_nothing_outside(void **state)
{
    (void)state;
    faas_runtime *rt = manual_runtime();
    char *dir = scratch("spool");
    char *outside = scratch("private");
    write_file(outside, "secret", "top secret");            /* 10 bytes */
    char secret_md5[33];
    md5_of("top secret", secret_md5);
    faas_watch_options o = { .recursive = 1 };
    ASSERT_OK(faas_watch(rt, "collect", dir, &o, NULL));
    make_dir(dir, "d");
    pump(rt);
    write_file(dir, "d/secret", "x");         /* its close event waits in the queue */
    char from[4096], to[4096];
    path_in(from, sizeof from, dir, "d");
    path_in(to, sizeof to, dir, "d2");
    assert_int_equal(rename(from, to), 0);
    assert_int_equal(symlink(outside, from), 0);
    make_dir(dir, "t");                       /* a new directory, then a link instead */
    path_in(from, sizeof from, dir, "t");
    assert_int_equal(rmdir(from), 0);
    assert_int_equal(symlink(outside, from), 0);
    pump(rt);
    size_t n = got_count();
    for (size_t i = 0; i < n; i++) {
        json_t *root, *rec = record(i, &root);
        const char *key = str_at(rec, "s3.object.key"), *etag = str_at(rec, "s3.object.eTag");
        print_message("# announced %s (%s)\n", key ? key : "?", etag ? etag : "no eTag");
        assert_true(etag == NULL || strcmp(etag, secret_md5) != 0);
        assert_true(key == NULL || strcmp(key, "t/secret") != 0);
        json_decref(root);
    }
    faas_runtime_free(rt);
    scratch_free(outside);
    scratch_free(dir);
}

static void stale_directory_events_announce_nothing_twice(void **state)
{
    (void)state;
    faas_runtime *rt = manual_runtime();
    char *dir = scratch("churn");
    faas_watch_options o = { .recursive = 1,
                             .events = FAAS_WATCH_CREATED | FAAS_WATCH_REMOVED };
    ASSERT_OK(faas_watch(rt, "collect", dir, &o, NULL));
    /* Made, removed, made again and filled before the watch reads the first event. */
    char sub[4096];
    path_in(sub, sizeof sub, dir, "sub");
    make_dir(dir, "sub");
    assert_int_equal(rmdir(sub), 0);
    make_dir(dir, "sub");
    write_file(dir, "sub/a.txt", "a");
    pump(rt);
    ASSERT_KEYS("sub/a.txt");

    /* Renamed away and back before the watch reads the events: nothing changed. */
    char other[4096];
    path_in(other, sizeof other, dir, "other");
    assert_int_equal(rename(sub, other), 0);
    assert_int_equal(rename(other, sub), 0);
    pump(rt);
    ASSERT_KEYS("sub/a.txt");
    write_file(dir, "sub/b.txt", "b");         /* and it is still watched */
    pump(rt);
    ASSERT_KEYS("sub/a.txt|sub/b.txt");
    faas_runtime_free(rt);
    scratch_free(dir);
}

static void moved_in_rewritten_and_removed_files(void **state)
{
    (void)state;
    faas_runtime *rt = manual_runtime();
    char *dir = scratch("inbox");
    char *outside = scratch("outside");
    faas_watch_options o = { .events = FAAS_WATCH_CREATED | FAAS_WATCH_REMOVED };
    ASSERT_OK(faas_watch(rt, "collect", dir, &o, NULL));
    write_file(outside, "done.csv", "1,2,3\n");
    char from[4096], to[4096];
    path_in(from, sizeof from, outside, "done.csv");
    path_in(to, sizeof to, dir, "done.csv");
    assert_int_equal(rename(from, to), 0);     /* the atomic-write pattern: moved in whole */
    pump(rt);
    assert_int_equal(got_count(), 1);

    /* Opened for writing and closed unchanged: nothing new to announce. */
    int fd = open(to, O_WRONLY);
    assert_true(fd >= 0);
    close(fd);
    pump(rt);
    assert_int_equal(got_count(), 1);

    /* Rewritten: announced again, with the new content's eTag. */
    write_file(dir, "done.csv", "4,5,6,7\n");
    pump(rt);
    assert_int_equal(got_count(), 2);
    json_t *root, *rec = record(1, &root);
    char md5[33];
    md5_of("4,5,6,7\n", md5);
    assert_string_equal(str_at(rec, "s3.object.eTag"), md5);
    json_decref(root);

    assert_int_equal(unlink(to), 0);
    pump(rt);
    assert_int_equal(got_count(), 3);
    rec = record(2, &root);
    assert_string_equal(str_at(rec, "eventName"), "ObjectRemoved:Delete");
    assert_string_equal(str_at(rec, "s3.object.key"), "done.csv");
    assert_null(at(rec, "s3.object.size"));     /* S3 sends neither for a delete */
    assert_null(at(rec, "s3.object.eTag"));
    assert_non_null(str_at(rec, "s3.object.sequencer"));
    json_decref(root);
    faas_runtime_free(rt);
    scratch_free(dir);
    scratch_free(outside);
}

static void existing_files_announced_only_when_asked(void **state)
{
    (void)state;
    faas_runtime *rt = manual_runtime();
    char *dir = scratch("old");
    write_file(dir, "before.txt", "b");
    ASSERT_OK(faas_watch(rt, "collect", dir, NULL, NULL));
    pump(rt);
    assert_int_equal(got_count(), 0);
    faas_watch_options o = { .existing = 1, .bucket = "archive", .region = "eu-central-1",
                             .configuration_id = "OnUpload" };
    ASSERT_OK(faas_watch(rt, "collect", dir, &o, NULL));
    pump(rt);
    assert_int_equal(got_count(), 1);
    json_t *root, *rec = record(0, &root);
    assert_string_equal(str_at(rec, "s3.object.key"), "before.txt");
    assert_string_equal(str_at(rec, "s3.bucket.name"), "archive");
    assert_string_equal(str_at(rec, "s3.bucket.arn"), "arn:aws:s3:::archive");
    assert_string_equal(str_at(rec, "awsRegion"), "eu-central-1");
    assert_string_equal(str_at(rec, "s3.configurationId"), "OnUpload");
    json_decref(root);
    /* Two watches on one directory: each announces a new file. */
    write_file(dir, "after.txt", "a");
    pump(rt);
    assert_int_equal(got_count(), 3);
    /* Names that need escaping in JSON come out as they went in. */
    faas_watch_options odd = { .bucket = "my \"bucket\"\\\t",
                               .configuration_id = "\xc3\x9c\x62\x65rwachung \xe2\x9c\x93" };
    ASSERT_OK(faas_watch(rt, "collect", dir, &odd, NULL));
    write_file(dir, "third.txt", "3");
    pump(rt);
    assert_int_equal(got_count(), 6);
    bool found = false;
    for (size_t i = 3; i < 6; i++) {
        rec = record(i, &root);
        if (strcmp(str_at(rec, "s3.bucket.name"), odd.bucket) == 0) {
            found = true;
            assert_string_equal(str_at(rec, "s3.configurationId"), odd.configuration_id);
            assert_string_equal(str_at(rec, "s3.bucket.arn"), "arn:aws:s3:::my \"bucket\"\\\t");
        }
        json_decref(root);
    }
    assert_true(found);
    faas_runtime_free(rt);
    scratch_free(dir);
}

/* The kernel's per-instance queue limit. */
static long max_queued_events(void)
{
    FILE *f = fopen("/proc/sys/fs/inotify/max_queued_events", "r");
    long v = -1;
    if (f != NULL) {
        if (fscanf(f, "%ld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static int overflow_lines;

static void count_overflows(const char *line, void *arg)
{
    (void)arg;
    pthread_mutex_lock(&log_mu);
    if (strstr(line, "overflowed") != NULL)
        overflow_lines++;
    pthread_mutex_unlock(&log_mu);
}

/* A real IN_Q_OVERFLOW: in manual mode nothing reads the watch's queue until
 * faas_run_pending(), so renaming a file back and forth max_queued_events / 2 times fills
 * it (two events a rename), and the files written after that lose their events. The rescan
 * must find them, skip the one still open for writing, and announce nothing twice. */
static void queue_overflow_recovered_by_a_rescan(void **state)
{
    (void)state;
    long limit = max_queued_events();
    if (limit <= 0 || limit > 1000000) {
        skip();                                /* cannot fill that queue in a test's time */
        return;
    }
    faas_options opts = manual_options(&CLOCK);
    opts.log = count_overflows;
    overflow_lines = 0;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &opts));
    ASSERT_OK(faas_register(rt, "collect", collect, NULL));
    got_reset();
    char *dir = scratch("flood");
    write_file(dir, "flood.tmp", "not announced: the suffix rule");
    faas_watch_options o = { .suffix = ".txt" };
    ASSERT_OK(faas_watch(rt, "collect", dir, &o, NULL));

    for (int i = 0; i < 20; i++) {             /* their events are queued */
        char name[32];
        snprintf(name, sizeof name, "before-%02d.txt", i);
        write_file(dir, name, name);
    }
    char half[4096];                           /* open, half-written, through it all */
    path_in(half, sizeof half, dir, "half.txt");
    int fd = open(half, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "half", 4), 4);
    char a[4096], b[4096];
    path_in(a, sizeof a, dir, "flood.tmp");
    path_in(b, sizeof b, dir, "flood2.tmp");
    for (long i = 0; i < limit / 2 + 8; i++)
        assert_int_equal(rename(i % 2 ? b : a, i % 2 ? a : b), 0);
    for (int i = 0; i < 20; i++) {             /* their events are lost */
        char name[32];
        snprintf(name, sizeof name, "after-%02d.txt", i);
        write_file(dir, name, name);
    }
    pump(rt);
    assert_int_equal(overflow_lines, 1);
    assert_int_equal(got_count(), 40);         /* every file once; not half.txt */
    char *k = keys();
    assert_null(strstr(k, "half.txt"));
    assert_non_null(strstr(k, "after-19.txt"));
    assert_non_null(strstr(k, "before-00.txt"));
    free(k);
    for (size_t i = 0; i < got.n; i++) {       /* and with their content's eTag */
        json_t *root, *rec = record(i, &root);
        char md5[33];
        md5_of(str_at(rec, "s3.object.key"), md5);
        assert_string_equal(str_at(rec, "s3.object.eTag"), md5);
        json_decref(root);
    }
    assert_int_equal(write(fd, " and the rest", 13), 13);
    assert_int_equal(close(fd), 0);
    pump(rt);
    assert_int_equal(got_count(), 41);         /* complete now, and announced once */
    json_t *root, *rec = record(40, &root);
    assert_string_equal(str_at(rec, "s3.object.key"), "half.txt");
    assert_int_equal(json_integer_value(at(rec, "s3.object.size")), 17);
    json_decref(root);
    faas_runtime_free(rt);
    scratch_free(dir);
}

/* Fill a watch's inotify queue past its limit (manual mode: nothing reads it meanwhile):
 * two events a rename of a scratch file, which is left behind as name. */
static void flood(const char *dir, const char *name, long limit)
{
    char a[4096], b[4096], other[256];
    write_file(dir, name, "x");
    path_in(a, sizeof a, dir, name);
    snprintf(other, sizeof other, "%.200s.2", name);
    path_in(b, sizeof b, dir, other);
    for (long i = 0; i < limit / 2 + 8; i++)
        assert_int_equal(rename(i % 2 ? b : a, i % 2 ? a : b), 0);
    if ((limit / 2 + 8) % 2)
        assert_int_equal(rename(b, a), 0);
}

/* A file that is being rewritten when a rescan runs is still there: the rescan must not
 * forget it, nor announce it as removed; its close announces it, once. */
static void a_rescan_does_not_remove_a_file_being_rewritten(void **state)
{
    (void)state;
    long limit = max_queued_events();
    if (limit <= 0 || limit > 1000000) {
        skip();
        return;
    }
    faas_runtime *rt = manual_runtime();
    char *dir = scratch("rewrite");
    faas_watch_options o = { .events = FAAS_WATCH_CREATED | FAAS_WATCH_REMOVED,
                             .suffix = ".txt" };
    ASSERT_OK(faas_watch(rt, "collect", dir, &o, NULL));
    write_file(dir, "report.txt", "version one");
    pump(rt);
    assert_int_equal(got_count(), 1);

    char path[4096];
    path_in(path, sizeof path, dir, "report.txt");
    int fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "version", 7), 7);
    flood(dir, "flood.tmp", limit);
    pump(rt);
    assert_int_equal(got_count(), 1);          /* no ObjectRemoved:Delete for report.txt */

    assert_int_equal(write(fd, " two", 4), 4);
    assert_int_equal(close(fd), 0);
    pump(rt);
    assert_int_equal(got_count(), 2);
    json_t *root, *rec = record(1, &root);
    assert_string_equal(str_at(rec, "eventName"), "ObjectCreated:Put");
    assert_string_equal(str_at(rec, "s3.object.key"), "report.txt");
    char md5[33];
    md5_of("version two", md5);
    assert_string_equal(str_at(rec, "s3.object.eTag"), md5);
    json_decref(root);
    faas_runtime_free(rt);
    scratch_free(dir);
}

static void a_full_queue_loses_nothing(void **state)
{
    (void)state;
    faas_runtime *rt = manual_runtime_with(3);
    char *dir = scratch("busy");
    ASSERT_OK(faas_watch(rt, "collect", dir, NULL, NULL));
    for (int i = 0; i < 10; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%d", i);
        write_file(dir, name, name);
    }
    faas_run_pending(rt);                      /* three queued and run, the rest kept */
    assert_int_equal(got_count(), 3);
    pump(rt);
    ASSERT_KEYS("f0|f1|f2|f3|f4|f5|f6|f7|f8|f9");
    faas_runtime_free(rt);
    scratch_free(dir);
}

/* More events than the backlog of refused calls holds (4,096): past that bound no more
 * events are read until it drains (the 500 written then wait in the kernel's queue), and
 * every file is still announced once, in the end. */
static void past_the_backlog_bound_nothing_is_lost(void **state)
{
    (void)state;
    faas_runtime *rt = manual_runtime_with(1);
    char *dir = scratch("burst");
    ASSERT_OK(faas_watch(rt, "collect", dir, NULL, NULL));
    enum { FILES = 5000, FIRST = 4500 };
    for (int i = 0; i < FILES; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%d", i);
        write_file(dir, name, "x");
        if (i + 1 == FIRST)
            faas_run_pending(rt);       /* one queued, the rest past the bound: kept */
    }
    pump(rt);                           /* the last 500 wait in the kernel meanwhile */
    assert_int_equal(got_count(), FILES);
    static bool seen[FILES];
    memset(seen, 0, sizeof seen);
    for (size_t i = 0; i < FILES; i++) {       /* each file once */
        json_t *root, *rec = record(i, &root);
        int f = -1;
        assert_int_equal(sscanf(str_at(rec, "s3.object.key"), "f%d", &f), 1);
        assert_true(f >= 0 && f < FILES && !seen[f]);
        seen[f] = true;
        json_decref(root);
    }
    faas_runtime_free(rt);
    scratch_free(dir);
}

static void unwatch_stops_and_bad_arguments_are_refused(void **state)
{
    (void)state;
    faas_runtime *rt = manual_runtime();
    char *dir = scratch("stop");
    faas_trigger_id id;
    ASSERT_OK(faas_watch(rt, "collect", dir, NULL, &id));
    ASSERT_OK(faas_unwatch(rt, id));
    assert_int_equal(faas_unwatch(rt, id), FAAS_ENOTFOUND);
    write_file(dir, "late.txt", "l");
    pump(rt);
    assert_int_equal(got_count(), 0);

    assert_int_equal(faas_watch(rt, "nobody", dir, NULL, NULL), FAAS_ENOTFOUND);
    assert_int_equal(faas_watch(rt, "bad name!", dir, NULL, NULL), FAAS_EINVAL);
    assert_int_equal(faas_watch(rt, "collect", "/nonexistent/dir", NULL, NULL), FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "No such file"));
    char file[4096];
    path_in(file, sizeof file, dir, "late.txt");
    assert_int_equal(faas_watch(rt, "collect", file, NULL, NULL), FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "not a directory"));
    faas_watch_options o = { .events = 4 };
    assert_int_equal(faas_watch(rt, "collect", dir, &o, NULL), FAAS_EINVAL);
    faas_watch_options r = { .region = "Not A Region" };
    assert_int_equal(faas_watch(rt, "collect", dir, &r, NULL), FAAS_EINVAL);
    assert_int_equal(faas_watch(rt, "collect", "/", NULL, NULL), FAAS_EINVAL);
    assert_int_equal(faas_unwatch(NULL, 1), FAAS_EINVAL);
    faas_runtime_free(rt);
    scratch_free(dir);
}

/* ---- 1,000 files written at once ----------------------------------------------------------- */

typedef struct writer {
    const char *dir;
    unsigned    from, to;
} writer;

static void content_of(unsigned i, char *out, size_t size)
{
    snprintf(out, size, "file %u: %0*u\n", i, (int)(i % 50) + 1, i * 7919u);
}

/* Each file in two writes, so that a half-written one would be seen if it were announced. */
static void *write_files(void *arg)
{
    writer *w = arg;
    for (unsigned i = w->from; i < w->to; i++) {
        char rel[64], path[4096], body[128];
        snprintf(rel, sizeof rel, "%s/file %04u.dat", i % 2 ? "odd" : "even", i);
        path_in(path, sizeof path, w->dir, rel);
        content_of(i, body, sizeof body);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            return (void *)1;
        size_t len = strlen(body), cut = len / 2;
        if (write(fd, body, cut) != (ssize_t)cut ||
            write(fd, body + cut, len - cut) != (ssize_t)(len - cut) || close(fd) != 0)
            return (void *)1;
    }
    return NULL;
}

static void thousand_files_written_concurrently(void **state)
{
    (void)state;
    unsigned total = scaled(1000), nthreads = 8;
    faas_options opts;
    memset(&opts, 0, sizeof opts);
    opts.workers = 2;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, &opts));
    ASSERT_OK(faas_register(rt, "collect", collect, NULL));
    got_reset();
    gate done = GATE_INIT;
    got.want = total;
    got.done = &done;
    char *dir = scratch("stress");
    make_dir(dir, "even");
    make_dir(dir, "odd");
    faas_watch_options o = { .recursive = 1 };
    faas_trigger_id id;
    ASSERT_OK(faas_watch(rt, "collect", dir, &o, &id));

    pthread_t th[8];
    writer ws[8];
    for (unsigned t = 0; t < nthreads; t++) {
        ws[t] = (writer){ dir, total * t / nthreads, total * (t + 1) / nthreads };
        assert_int_equal(pthread_create(&th[t], NULL, write_files, &ws[t]), 0);
    }
    for (unsigned t = 0; t < nthreads; t++) {
        void *ret;
        pthread_join(th[t], &ret);
        assert_null(ret);
    }
    assert_int_equal(gate_wait_for(&done, 120), 0);
    /* After faas_unwatch() nothing more is queued; after the drain nothing is pending: the
     * count is final. */
    ASSERT_OK(faas_unwatch(rt, id));
    ASSERT_OK(faas_drain(rt, 60000));
    assert_int_equal(got_count(), total);

    char *seen = calloc(total, 1);
    for (size_t i = 0; i < got.n; i++) {
        json_t *root, *rec = record(i, &root);
        const char *key = str_at(rec, "s3.object.key");
        unsigned n;
        char parity[8];
        assert_int_equal(sscanf(key, "%4[a-z]/file+%u.dat", parity, &n), 2);
        assert_true(n < total);
        assert_string_equal(parity, n % 2 ? "odd" : "even");
        char expect_key[64];
        snprintf(expect_key, sizeof expect_key, "%s/file+%04u.dat", parity, n);
        assert_string_equal(key, expect_key);
        assert_false(seen[n]);
        seen[n] = 1;
        char body[128], md5[33];
        content_of(n, body, sizeof body);
        md5_of(body, md5);
        assert_string_equal(str_at(rec, "s3.object.eTag"), md5);
        assert_int_equal(json_integer_value(at(rec, "s3.object.size")), (json_int_t)strlen(body));
        json_decref(root);
    }
    free(seen);
    faas_runtime_free(rt);
    got_reset();
    scratch_free(dir);
}

static void runtime_free_stops_live_watches(void **state)
{
    (void)state;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, NULL));
    ASSERT_OK(faas_register(rt, "collect", collect, NULL));
    got_reset();
    char *a = scratch("a"), *b = scratch("b");
    faas_watch_options o = { .recursive = 1 };
    ASSERT_OK(faas_watch(rt, "collect", a, &o, NULL));
    ASSERT_OK(faas_watch(rt, "collect", b, NULL, NULL));
    write_file(a, "x", "x");
    faas_runtime_free(rt);                     /* whatever was queued completes or is cancelled */
    scratch_free(a);
    scratch_free(b);
    got_reset();
}

int main(void)
{
    tap_fix_skips();                    /* its skip()s are TAP skips, not failures */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(md5_rfc1321_vectors),
        cmocka_unit_test(one_file_gives_an_s3_record),
        cmocka_unit_test(a_file_held_open_mid_write_is_not_announced),
        cmocka_unit_test(a_late_close_event_does_not_announce_a_rewrite_in_progress),
        cmocka_unit_test(keys_are_url_encoded_as_s3_does),
        cmocka_unit_test(prefix_and_suffix_filters_as_s3s),
        cmocka_unit_test(recursive_watch_follows_new_subdirectories),
        cmocka_unit_test(a_link_swapped_in_reads_nothing_outside),
        cmocka_unit_test(stale_directory_events_announce_nothing_twice),
        cmocka_unit_test(moved_in_rewritten_and_removed_files),
        cmocka_unit_test(existing_files_announced_only_when_asked),
        cmocka_unit_test(queue_overflow_recovered_by_a_rescan),
        cmocka_unit_test(a_rescan_does_not_remove_a_file_being_rewritten),
        cmocka_unit_test(a_full_queue_loses_nothing),
        cmocka_unit_test(past_the_backlog_bound_nothing_is_lost),
        cmocka_unit_test(unwatch_stops_and_bad_arguments_are_refused),
        cmocka_unit_test(thousand_files_written_concurrently),
        cmocka_unit_test(runtime_free_stops_live_watches),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    got_reset();
    return rc;
}
