/*
 * trigger_watch.c - watched directories: faas_watch() gives each watch its own inotify
 * instance, and turns every file that is complete (closed after writing, or moved in) into
 * an asynchronous call with an S3 event notification record. One thread per runtime reads
 * every watch (none in manual mode: faas_run_pending() polls them); a queue overflow is
 * recovered by a rescan. It owns the watches, their inotify descriptors, the table of files
 * they have seen and that thread; queueing calls is sched.c's.
 */
#include "trigger.h"
#include "abi.h"
#include "text.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

#include <jansson.h>

#include "md5.h"

#define FILTER_MAX     1024          /* bytes of a prefix or suffix filter rule */
#define LABEL_MAX      255           /* bytes of a bucket name or configuration id */
#define DEPTH_MAX      32            /* directory levels a recursive watch descends */
#define RETRY_MS       10            /* a call refused with FAAS_EBUSY is tried again after */
#define READ_CHUNK     16384         /* bytes read at a time to hash a file */
#define EVENTS_CHUNK   16384         /* bytes of inotify events read at a time */
#define BACKLOG_MAX    4096          /* calls refused for a full queue, kept to send again:
                                        past it no event is read (the kernel keeps them;
                                        past its own limit a rescan finds the files) */

/* What a directory's watch reports: complete files, files going away, and (recursive)
 * new subdirectories, and the directory's own end. IN_CREATE is asked only of recursive
 * watches: it is one more event per file in the queue. */
#define MASK_FLAT (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | \
                   IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)
#define MASK_TREE (MASK_FLAT | IN_CREATE)

typedef struct watches watches;

typedef struct wdir {                /* a watched directory of a watch */
    UT_hash_handle hh;               /* in w->dirs, keyed by wd */
    int      wd;
    unsigned gen;                    /* the rescan that last saw it */
    dev_t    dev;                    /* the directory watched (0, 0: unknown) */
    ino_t    ino;
    char     rel[];                  /* "" for the root, else "a/b" */
} wdir;

typedef struct wfile {               /* a file of the tree as last seen or announced */
    UT_hash_handle hh;               /* in w->files, keyed by rel */
    dev_t    dev;
    ino_t    ino;
    off_t    size;
    int64_t  mtime_ns;
    int64_t  ctime_ns;               /* a write moves it, and no user may set it back */
    unsigned gen;
    bool     announced;              /* md5 holds what was announced */
    char     md5[33];
    char     rel[];
} wfile;

typedef struct watch {
    UT_hash_handle  hh;              /* in part->table, keyed by id; under part->lock */
    faas_trigger_id id;
    watches        *part;
    unsigned        refs;            /* the table's and each poller's; under part->lock */
    pthread_mutex_t busy;            /* held while the watch's events become calls */
    bool            dead;            /* unwatched: written under busy */
    bool            gone;            /* the directory itself was removed */
    int             fd;              /* the watch's own inotify instance */
    int             rootfd;          /* the root directory (O_PATH): what is below it is
                                        opened from it, never by a path (open_beneath) */
    int             recursive;
    unsigned        events;
    unsigned        gen;             /* rescan generation */
    wdir           *dirs;
    wfile          *files;
    const char     *root;            /* these point into text[]: the real path, */
    const char     *function, *region;
    const char     *prefix, *suffix; /* NULL: no filter */
    /* The bucket's name and ARN and the configuration id as JSON strings (quoted and
     * escaped once, here, not for every event). */
    const char     *bucket_json, *arn_json, *config_json;
    /* Scratch space for a pass, under busy: on the heap, so that a host thread with a
     * small stack may call faas_run_pending(). */
    _Alignas(struct inotify_event) char evbuf[EVENTS_CHUNK];
    unsigned char   chunk[READ_CHUNK];
    char            text[];
} watch;

typedef struct pending {             /* a call refused for a full queue, to send again */
    struct pending *next;
    faas_trigger_id id;
    size_t          len;
    char            function[FAAS__NAME_MAX + 1 + FAAS__QUALIFIER_MAX + 1]; /* NAME:QUAL */
    char            payload[];
} pending;

struct watches {
    faas__part      part;            /* first: the core hands this back to our hooks */
    faas_runtime   *rt;
    pthread_mutex_t lock;            /* protects table, refs, backlog, stop; may be taken
                                        under a watch's busy, never the other way */
    watch          *table;
    pending        *backlog, *backlog_tail;
    size_t          backlog_n;
    bool            stop;
    bool            has_thread;
    pthread_t       thread;
    int             wake;            /* eventfd: the thread looks at the table again */
    _Atomic uint64_t sequencer;      /* the last s3.object.sequencer handed out */
};

/* Log lines made while a watch is busy, sent to the log sink once it is not (the sink is
 * user code). */
typedef struct notes {
    char  *lines[8];
    size_t n, dropped;
} notes;

static void note(notes *ns, const char *fmt, ...) FAAS_PRINTF(2, 3);

static void note(notes *ns, const char *fmt, ...)
{
    if (ns->n == sizeof ns->lines / sizeof ns->lines[0]) {
        ns->dropped++;
        return;
    }
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    char *copy = strdup(line);
    if (copy != NULL)
        ns->lines[ns->n++] = copy;
}

static void notes_flush(faas_runtime *rt, notes *ns)
{
    for (size_t i = 0; i < ns->n; i++) {
        faas__log_line(rt, ns->lines[i]);
        free(ns->lines[i]);
    }
    if (ns->dropped > 0) {
        char line[100];
        snprintf(line, sizeof line, "ERROR watch: %zu more errors", ns->dropped);
        faas__log_line(rt, line);
    }
    ns->n = ns->dropped = 0;
}

/* ---- keys and the event ---------------------------------------------------------------- */

/* The key as S3 puts it in event notifications: URL-encoded form-style, a space as '+',
 * letters, digits, '-', '_', '.', '*' and the '/' of prefixes as they are, every other byte
 * (UTF-8 included) as %XX. */
static size_t encode_key(const char *rel, char *out, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)rel; *p; p++) {
        unsigned char c = *p;
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
                     c == '*' || c == '/';
        if (n + 4 > size)
            break;
        if (plain) {
            out[n++] = (char)c;
        } else if (c == ' ') {
            out[n++] = '+';
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    out[n] = '\0';
    return n;
}

/* S3's filter rules: the encoded key starts with the prefix and ends with the suffix. */
static bool passes(const watch *w, const char *key, size_t len)
{
    if (w->prefix != NULL && strncmp(key, w->prefix, strlen(w->prefix)) != 0)
        return false;
    if (w->suffix != NULL) {
        size_t sl = strlen(w->suffix);
        if (sl > len || memcmp(key + len - sl, w->suffix, sl) != 0)
            return false;
    }
    return true;
}

/* A value that only grows, like S3's sequencer for one key: the wall clock in ns, or one
 * more than the last one handed out. */
static uint64_t next_sequencer(watches *part)
{
    int64_t wall = faas__wall(part->rt);
    uint64_t last = atomic_load(&part->sequencer), next;
    do
        next = (uint64_t)wall > last ? (uint64_t)wall : last + 1;
    while (!atomic_compare_exchange_weak(&part->sequencer, &last, next));
    return next;
}

/* The S3 event notification, version 2.1, for one object, in S3's order. size and etag
 * only for a created object (S3 sends neither for a delete). The key is URL-encoded and
 * every other variable part is hex, a checked region or pre-encoded, so the pieces are
 * simply put end to end: valid JSON at a tenth of the cost of building it with jansson
 * (or of printf over a long format). NULL: out of memory. */
static char *s3_event(watch *w, const char *key, bool created, int64_t size,
                      const char *etag)
{
    watches *part = w->part;
    char when[25], reqid[17], id2[33], seq[24], object[128] = "";
    faas__format_time(faas__wall(part->rt), when);
    snprintf(reqid, sizeof reqid, "%016llX", (unsigned long long)faas__rand64());
    snprintf(id2, sizeof id2, "%016llx%016llx", (unsigned long long)faas__rand64(),
             (unsigned long long)faas__rand64());
    snprintf(seq, sizeof seq, "%018llX", (unsigned long long)next_sequencer(part));
    if (created)
        snprintf(object, sizeof object, ",\"size\":%lld,\"eTag\":\"%s\"", (long long)size,
                 etag);
    const char *pieces[] = {
        "{\"Records\":[{\"eventVersion\":\"2.1\",\"eventSource\":\"aws:s3\",\"awsRegion\":\"",
        w->region, "\",\"eventTime\":\"", when, "\",\"eventName\":\"",
        created ? "ObjectCreated:Put" : "ObjectRemoved:Delete",
        "\",\"userIdentity\":{\"principalId\":\"faas\"},"
        "\"requestParameters\":{\"sourceIPAddress\":\"127.0.0.1\"},"
        "\"responseElements\":{\"x-amz-request-id\":\"", reqid, "\",\"x-amz-id-2\":\"", id2,
        "\"},\"s3\":{\"s3SchemaVersion\":\"1.0\",\"configurationId\":", w->config_json,
        ",\"bucket\":{\"name\":", w->bucket_json,
        ",\"ownerIdentity\":{\"principalId\":\"faas\"},\"arn\":", w->arn_json,
        "},\"object\":{\"key\":\"", key, "\"", object, ",\"sequencer\":\"", seq, "\"}}}]}",
    };
    enum { N = sizeof pieces / sizeof pieces[0] };
    size_t len[N], total = 1;
    for (size_t i = 0; i < N; i++)
        total += len[i] = strlen(pieces[i]);
    char *text = malloc(total), *p = text;
    if (text == NULL)
        return NULL;
    for (size_t i = 0; i < N; i++) {
        memcpy(p, pieces[i], len[i]);
        p += len[i];
    }
    *p = '\0';
    return text;
}

/* ---- queueing calls -------------------------------------------------------------------- */

/* Queue a call; a full queue keeps it in the backlog, sent again later. */
static int submit(watch *w, const char *key, char *payload, notes *ns)
{
    watches *part = w->part;
    size_t len = strlen(payload);
    int rc = faas_invoke_async(part->rt, w->function, payload, len, NULL, NULL, NULL);
    if (rc == FAAS_EBUSY) {
        pending *p = malloc(sizeof *p + len + 1);
        if (p != NULL) {
            p->next = NULL;
            p->id = w->id;
            p->len = len;
            snprintf(p->function, sizeof p->function, "%s", w->function);
            memcpy(p->payload, payload, len + 1);
            pthread_mutex_lock(&part->lock);
            if (part->backlog_tail != NULL)
                part->backlog_tail->next = p;
            else
                part->backlog = p;
            part->backlog_tail = p;
            part->backlog_n++;
            pthread_mutex_unlock(&part->lock);
            rc = FAAS_OK;
        } else {
            rc = FAAS_ENOMEM;
        }
    }
    if (rc != FAAS_OK && rc != FAAS_ESHUTDOWN)
        note(ns, "ERROR watch %llu: the event for %.300s was not delivered to %s: %s",
             (unsigned long long)w->id, key, w->function, faas_last_error());
    free(payload);
    return rc == FAAS_OK;
}

/* Send what the backlog holds, oldest first, until the queue is full again. */
static int send_backlog(watches *part)
{
    int sent = 0;
    for (;;) {
        pthread_mutex_lock(&part->lock);
        pending *p = part->backlog;
        if (p != NULL && (part->backlog = p->next) == NULL)
            part->backlog_tail = NULL;
        part->backlog_n -= p != NULL;
        pthread_mutex_unlock(&part->lock);
        if (p == NULL)
            return sent;
        int rc = faas_invoke_async(part->rt, p->function, p->payload, p->len, NULL, NULL,
                                   NULL);
        if (rc == FAAS_EBUSY) {             /* still full: back at the head */
            pthread_mutex_lock(&part->lock);
            if ((p->next = part->backlog) == NULL)
                part->backlog_tail = p;
            part->backlog = p;
            part->backlog_n++;
            pthread_mutex_unlock(&part->lock);
            return sent;
        }
        if (rc == FAAS_OK) {
            sent++;
        } else if (rc != FAAS_ESHUTDOWN) {
            char line[300];
            snprintf(line, sizeof line, "ERROR watch %llu: an event was not delivered to "
                     "%s: %s", (unsigned long long)p->id, p->function, faas_last_error());
            faas__log_line(part->rt, line);
        }
        free(p);
    }
}

/* ---- the files of the tree ------------------------------------------------------------- */

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* Unchanged since f was announced, for certain: not even its status changed (a write
 * changes the ctime; utimensat() may set the mtime back, nothing sets the ctime). */
static bool untouched(const wfile *f, const struct stat *st)
{
    return f->announced && f->dev == st->st_dev && f->ino == st->st_ino &&
           f->size == st->st_size && f->mtime_ns == mtime_ns(st) &&
           f->ctime_ns == (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

static bool same_stat(const wfile *f, const struct stat *st)
{
    return f->dev == st->st_dev && f->ino == st->st_ino && f->size == st->st_size &&
           f->mtime_ns == mtime_ns(st);
}

static wfile *file_find(watch *w, const char *rel)
{
    wfile *f;
    HASH_FIND_STR(w->files, rel, f);
    return f;
}

/* The entry of rel, made if need be, with st's identity. NULL: out of memory. */
static wfile *file_set(watch *w, const char *rel, const struct stat *st)
{
    wfile *f = file_find(w, rel);
    if (f == NULL) {
        size_t n = strlen(rel);
        f = calloc(1, sizeof *f + n + 1);
        if (f == NULL)
            return NULL;
        memcpy(f->rel, rel, n + 1);
        HASH_ADD_STR(w->files, rel, f);
    }
    f->dev = st->st_dev;
    f->ino = st->st_ino;
    f->size = st->st_size;
    f->mtime_ns = mtime_ns(st);
    f->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
    f->gen = w->gen;
    return f;
}

static void path_of(const watch *w, const char *rel, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", w->root, rel);
}

/* rel (below the root; "" the root) opened with flags, beneath the root with no symbolic
 * link on the way: -1 (errno) otherwise. Whoever may write in a watched directory may put
 * a link where a directory was between a file's close and the host's reading of it: a
 * path would follow it (O_NOFOLLOW guards only its last part) and the host would read,
 * and announce, a file outside the tree (root's, when the host runs as root). The kernel
 * does it in one call (openat2, Linux 5.6); without it (older kernels, valgrind), one
 * component at a time from the root's descriptor, none of them followed if a link. */
static int open_beneath(const watch *w, const char *rel, int flags)
{
    flags |= O_CLOEXEC | ((flags & O_PATH) ? 0 : O_NOCTTY);
#ifdef SYS_openat2
    struct open_how how = { .flags = (uint64_t)flags,
                            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
                                       RESOLVE_NO_MAGICLINKS };
    int fd = (int)syscall(SYS_openat2, w->rootfd, rel[0] != '\0' ? rel : ".", &how,
                          sizeof how);
    if (fd >= 0 || errno != ENOSYS)
        return fd;
#endif
    char part[PATH_MAX];
    if (snprintf(part, sizeof part, "%s", rel[0] != '\0' ? rel : ".") >= (int)sizeof part)
        return errno = ENAMETOOLONG, -1;
    int at = w->rootfd;
    char *name = part;
    for (char *slash; (slash = strchr(name, '/')) != NULL; name = slash + 1) {
        *slash = '\0';
        int next = openat(at, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        if (at != w->rootfd)
            close(at);
        if (next < 0)
            return errno = e, -1;               /* a link: ENOTDIR (O_PATH opens it) */
        at = next;
    }
    int opened = openat(at, name, flags | O_NOFOLLOW);
    int e = errno;
    if (at != w->rootfd)
        close(at);
    errno = e;
    return opened;
}

/* lstat() of rel, beneath the root (open_beneath): 0, or -1. */
static int stat_beneath(const watch *w, const char *rel, struct stat *st)
{
    int fd = open_beneath(w, rel, O_PATH | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    int rc = fstat(fd, st);
    close(fd);
    return rc;
}

/* The MD5 of a regular file as it is now, with the stat it had: false if it is gone, not a
 * regular file, open for writing, or changed while it was read (a writer is at work; its
 * close will report it). */
static bool hash_file(const watch *w, const char *rel, unsigned char *buf, size_t size,
                      struct stat *st, char md5[33])
{
    int fd = open_beneath(w, rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return false;
    struct stat after;
    bool ok = fstat(fd, st) == 0 && S_ISREG(st->st_mode);
    /* A close event may be read after the file was opened again to be rewritten: the
     * kernel refuses a read lease (EAGAIN) while any process has it open for writing.
     * Taken and let go at once (no owner is set: a writer's open gets no signal sent
     * here). Other refusals (neither the owner nor CAP_LEASE, leases off, a file system
     * without them) tell nothing, and the file is read as before. */
    if (ok && fcntl(fd, F_SETLEASE, F_RDLCK) == 0)
        fcntl(fd, F_SETLEASE, F_UNLCK);
    else if (ok && errno == EAGAIN)
        ok = false;
    faas__md5 m;
    faas__md5_init(&m);
    while (ok) {
        ssize_t n = read(fd, buf, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            ok = n == 0;
            break;
        }
        faas__md5_update(&m, buf, (size_t)n);
    }
    ok = ok && fstat(fd, &after) == 0 && after.st_size == st->st_size &&
         mtime_ns(&after) == mtime_ns(st) && (uint64_t)m.bytes == (uint64_t)st->st_size;
    close(fd);
    if (ok)
        faas__md5_hex(&m, md5);
    return ok;
}

/* A file may be new or changed: announce it unless it is exactly what was announced last
 * (the same inode, size, mtime and content: a rescan and a late event for one write). */
static int created(watch *w, const char *rel, notes *ns)
{
    char key[3 * PATH_MAX + 1];
    size_t klen = encode_key(rel, key, sizeof key);
    struct stat st;
    if (!passes(w, key, klen) || !(w->events & FAAS_WATCH_CREATED)) {
        /* Not announced, but remembered, so a rescan knows it. */
        if (stat_beneath(w, rel, &st) == 0 && S_ISREG(st.st_mode))
            file_set(w, rel, &st);
        return 0;
    }
    /* Opened and closed without a change (or an event late for what was announced):
     * known without reading it again, which for a large file takes the watch thread, all
     * watches' one, for as long as its reading does. */
    wfile *f = file_find(w, rel);
    if (f != NULL && stat_beneath(w, rel, &st) == 0 && untouched(f, &st)) {
        f->gen = w->gen;
        return 0;
    }
    char md5[33];
    if (!hash_file(w, rel, w->chunk, sizeof w->chunk, &st, md5))
        return 0;
    if (f != NULL && f->announced && same_stat(f, &st) && strcmp(f->md5, md5) == 0) {
        f->gen = w->gen;
        return 0;
    }
    f = file_set(w, rel, &st);
    if (f != NULL) {
        f->announced = true;
        memcpy(f->md5, md5, sizeof f->md5);
    }
    char *payload = s3_event(w, key, true, (int64_t)st.st_size, md5);
    if (payload == NULL) {
        note(ns, "ERROR watch %llu: out of memory for the event of %.300s",
             (unsigned long long)w->id, key);
        return 0;
    }
    return submit(w, key, payload, ns);
}

/* A file went away (deleted, or moved out of the tree). */
static int removed(watch *w, const char *rel, notes *ns)
{
    wfile *f = file_find(w, rel);
    if (f != NULL) {
        HASH_DEL(w->files, f);
        free(f);
    }
    if (!(w->events & FAAS_WATCH_REMOVED))
        return 0;
    char key[3 * PATH_MAX + 1];
    size_t klen = encode_key(rel, key, sizeof key);
    if (!passes(w, key, klen))
        return 0;
    char *payload = s3_event(w, key, false, 0, NULL);
    if (payload == NULL)
        return 0;
    return submit(w, key, payload, ns);
}

/* Forget (and, if asked, announce the removal of) every file under rel/. */
static int removed_tree(watch *w, const char *rel, notes *ns)
{
    size_t n = strlen(rel);
    int queued = 0;
    wfile *f, *tmp;
    HASH_ITER(hh, w->files, f, tmp) {
        if (strncmp(f->rel, rel, n) == 0 && f->rel[n] == '/') {
            char copy[PATH_MAX];
            snprintf(copy, sizeof copy, "%s", f->rel);
            queued += removed(w, copy, ns);
        }
    }
    return queued;
}

/* ---- processes that hold files open for writing ---------------------------------------- */

typedef struct candidate {
    struct stat st;                  /* as the scan found it */
    char       *rel;
    bool        writing;             /* some process has it open for writing */
} candidate;

typedef struct candidates {
    candidate *v;
    size_t     n, cap;
    bool       failed;               /* out of memory: some file could not be listed */
} candidates;

static void cand_add(candidates *c, const char *rel, const struct stat *st)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        candidate *v = realloc(c->v, cap * sizeof *v);
        if (v == NULL) {
            c->failed = true;
            return;
        }
        c->v = v;
        c->cap = cap;
    }
    char *copy = strdup(rel);
    if (copy == NULL) {
        c->failed = true;
        return;
    }
    c->v[c->n++] = (candidate){ .st = *st, .rel = copy };
}

static void cand_free(candidates *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i].rel);
    free(c->v);
}

static int cand_cmp(const void *a, const void *b)
{
    const struct stat *x = &((const candidate *)a)->st, *y = &((const candidate *)b)->st;
    if (x->st_dev != y->st_dev)
        return x->st_dev < y->st_dev ? -1 : 1;
    return x->st_ino < y->st_ino ? -1 : x->st_ino > y->st_ino;
}

/* Is /proc/PID/fdinfo/FD open with write access? */
static bool fd_writes(int pid_dir, const char *fd)
{
    char path[300], buf[256];
    snprintf(path, sizeof path, "fdinfo/%s", fd);
    int info = openat(pid_dir, path, O_RDONLY | O_CLOEXEC);
    if (info < 0)
        return false;
    ssize_t n = read(info, buf, sizeof buf - 1);
    close(info);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    const char *flags = strstr(buf, "flags:");
    if (flags == NULL)
        return false;
    unsigned long f = strtoul(flags + 6, NULL, 8);
    return (f & O_ACCMODE) != O_RDONLY;
}

/* Mark the candidates some process has open for writing, by reading every /proc/PID/fd
 * this process may read: a file found by a scan rather than by its close event may still
 * be half-written, and is then left to its close event. Processes of other users that we
 * may not inspect are not seen. */
static void mark_writers(candidates *c)
{
    if (c->n == 0)
        return;
    qsort(c->v, c->n, sizeof *c->v, cand_cmp);
    DIR *proc = opendir("/proc");
    if (proc == NULL)
        return;
    struct dirent *pe;
    while ((pe = readdir(proc)) != NULL) {
        if (pe->d_name[0] < '1' || pe->d_name[0] > '9')
            continue;
        int pid_dir = openat(dirfd(proc), pe->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pid_dir < 0)
            continue;
        int fd_dir = openat(pid_dir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *fds = fd_dir >= 0 ? fdopendir(fd_dir) : NULL;
        if (fds == NULL) {
            if (fd_dir >= 0)
                close(fd_dir);
            close(pid_dir);
            continue;
        }
        struct dirent *fe;
        while ((fe = readdir(fds)) != NULL) {
            struct stat st;
            if (fe->d_name[0] == '.' || fstatat(dirfd(fds), fe->d_name, &st, 0) != 0 ||
                !S_ISREG(st.st_mode))
                continue;
            candidate key = { .st = st };
            candidate *hit = bsearch(&key, c->v, c->n, sizeof *c->v, cand_cmp);
            if (hit != NULL && !hit->writing && fd_writes(pid_dir, fe->d_name))
                hit->writing = true;
        }
        closedir(fds);
        close(pid_dir);
    }
    closedir(proc);
}

/* Announce the candidates no one is writing. */
static int announce(watch *w, candidates *c, notes *ns)
{
    mark_writers(c);
    int queued = 0;
    for (size_t i = 0; i < c->n; i++)
        if (!c->v[i].writing)
            queued += created(w, c->v[i].rel, ns);
    return queued;
}

/* ---- the directories of the tree ------------------------------------------------------- */

static void dir_remove(watch *w, wdir *d)
{
    inotify_rm_watch(w->fd, d->wd);     /* EINVAL if the kernel already dropped it */
    HASH_DEL(w->dirs, d);
    free(d);
}

/* Watch directory rel (relative to the root). FAAS_OK, or a status with a note. */
static int dir_add(watch *w, const char *rel, notes *ns)
{
    char path[2 * PATH_MAX];
    if (rel[0] == '\0')
        snprintf(path, sizeof path, "%s", w->root);
    else
        path_of(w, rel, path, sizeof path);
    /* Below the root, the directory opened beneath it (open_beneath) and watched through
     * its descriptor's /proc link: never a directory a link leads to. */
    int dfd = rel[0] != '\0' ? open_beneath(w, rel, O_PATH | O_DIRECTORY) : -1;
    if (rel[0] != '\0' && dfd < 0)
        return FAAS_OK;                             /* gone again, or not a directory */
    char via[64];
    snprintf(via, sizeof via, "/proc/self/fd/%d", dfd);
    uint32_t mask = (w->recursive ? MASK_TREE : MASK_FLAT) | IN_ONLYDIR;
    int wd = inotify_add_watch(w->fd, dfd >= 0 ? via : path, mask);
    if (wd < 0 && dfd >= 0 && errno == ENOENT)      /* no /proc: by its path, not a link */
        wd = inotify_add_watch(w->fd, path, mask | IN_DONT_FOLLOW);
    struct stat st;
    bool known = (dfd >= 0 ? fstat(dfd, &st) : stat(path, &st)) == 0 && S_ISDIR(st.st_mode);
    if (dfd >= 0)
        close(dfd);
    if (wd < 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR)            /* gone again already */
            return FAAS_OK;
        note(ns, "ERROR watch %llu: inotify_add_watch(%.300s): %s%s",
             (unsigned long long)w->id, path, strerror(e),
             e == ENOSPC ? " (fs.inotify.max_user_watches)" : "");
        return e == ENOMEM ? FAAS_ENOMEM : e == ENOSPC ? FAAS_EBUSY : FAAS_EINVAL;
    }
    wdir *d;
    HASH_FIND_INT(w->dirs, &wd, d);
    if (d != NULL && strcmp(d->rel, rel) != 0) {
        /* A number the kernel reused after a removal we did not hear of (an overflow). */
        HASH_DEL(w->dirs, d);
        free(d);
        d = NULL;
    }
    if (d == NULL) {
        size_t n = strlen(rel);
        d = malloc(sizeof *d + n + 1);
        if (d == NULL) {
            inotify_rm_watch(w->fd, wd);
            note(ns, "ERROR watch %llu: out of memory", (unsigned long long)w->id);
            return FAAS_ENOMEM;
        }
        d->wd = wd;
        memcpy(d->rel, rel, n + 1);
        HASH_ADD_INT(w->dirs, wd, d);
    }
    d->dev = known ? st.st_dev : 0;
    d->ino = known ? st.st_ino : 0;
    d->gen = w->gen;
    return FAAS_OK;
}

/* Is rel still the very directory we watch under that name? Then an event saying it was
 * removed or moved away is stale: it is about an earlier directory of that name, or one
 * that was moved back since, and the watch and the files known there stay. */
static bool dir_still_there(const watch *w, const char *rel)
{
    const wdir *d;
    for (d = w->dirs; d != NULL; d = d->hh.next)
        if (strcmp(d->rel, rel) == 0)
            break;
    if (d == NULL || (d->dev == 0 && d->ino == 0))
        return false;
    struct stat st;
    return stat_beneath(w, rel, &st) == 0 && S_ISDIR(st.st_mode) && st.st_dev == d->dev &&
           st.st_ino == d->ino;
}

/* Stop watching rel and everything below it. */
static void dir_remove_tree(watch *w, const char *rel)
{
    size_t n = strlen(rel);
    wdir *d, *tmp;
    HASH_ITER(hh, w->dirs, d, tmp) {
        if (strncmp(d->rel, rel, n) == 0 && (d->rel[n] == '\0' || d->rel[n] == '/'))
            dir_remove(w, d);
    }
}

static void join(const char *dir, const char *name, char *out, size_t size)
{
    if (dir[0] == '\0')
        snprintf(out, size, "%s", name);
    else
        snprintf(out, size, "%s/%s", dir, name);
}

/* Walk directory rel: watch it (and, recursive, its subdirectories) and list in c the
 * files that are new or changed since they were last seen; the others are only marked as
 * seen by this generation. */
static int scan(watch *w, const char *rel, int depth, candidates *c, notes *ns)
{
    int rc = dir_add(w, rel, ns);
    if (rc != FAAS_OK)
        return rc;
    int dfd = open_beneath(w, rel, O_RDONLY | O_DIRECTORY);
    DIR *dir = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (dir == NULL) {
        if (dfd >= 0)
            close(dfd);
        return FAAS_OK;                             /* removed meanwhile */
    }
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char child[PATH_MAX];
        join(rel, e->d_name, child, sizeof child);
        struct stat st;
        if (fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (w->recursive && depth < DEPTH_MAX)
                scan(w, child, depth + 1, c, ns);
        } else if (S_ISREG(st.st_mode)) {
            /* It is there, so a rescan must not take it for removed, even if it is
             * not announced now (being written: its close will). */
            wfile *f = file_find(w, child);
            if (f != NULL)
                f->gen = w->gen;
            if (f == NULL || !same_stat(f, &st))
                cand_add(c, child, &st);
        }
    }
    closedir(dir);
    return FAAS_OK;
}

/* After a queue overflow some events are lost, and nothing says which: walk the whole tree
 * again. Files new or changed since last seen (inode, size, mtime) are announced, unless a
 * process has them open for writing (their close event will); files no longer there are
 * forgotten (and announced as removed, if asked); new directories are watched. */
static int rescan(watch *w, notes *ns)
{
    w->gen++;
    candidates c = { 0 };
    scan(w, "", 0, &c, ns);
    int queued = announce(w, &c, ns);
    if (c.failed)
        note(ns, "ERROR watch %llu: out of memory during a rescan: some files may not be "
             "announced", (unsigned long long)w->id);
    cand_free(&c);
    wfile *f, *ftmp;
    HASH_ITER(hh, w->files, f, ftmp) {
        if (f->gen != w->gen) {
            char rel[PATH_MAX];
            snprintf(rel, sizeof rel, "%s", f->rel);
            queued += removed(w, rel, ns);
        }
    }
    wdir *d, *dtmp;
    HASH_ITER(hh, w->dirs, d, dtmp) {
        if (d->gen != w->gen)
            dir_remove(w, d);
    }
    note(ns, "WARNING watch %llu: the inotify queue overflowed: rescanned %.300s, %d calls "
         "queued", (unsigned long long)w->id, w->root, queued);
    return queued;
}

/* A new subdirectory (made or moved in): watch it and its tree, and announce the files
 * already in it, which were written before its watch existed. */
static int new_tree(watch *w, const char *rel, notes *ns)
{
    candidates c = { 0 };
    int queued = 0;
    if (scan(w, rel, 1, &c, ns) == FAAS_OK)
        queued = announce(w, &c, ns);
    cand_free(&c);
    return queued;
}

/* ---- events ---------------------------------------------------------------------------- */

static int handle(watch *w, const struct inotify_event *ev, bool *overflow, notes *ns)
{
    if (ev->mask & IN_Q_OVERFLOW) {
        *overflow = true;
        return 0;
    }
    wdir *d;
    HASH_FIND_INT(w->dirs, &ev->wd, d);
    if (d == NULL)
        return 0;                           /* a directory we stopped watching */
    if (ev->mask & IN_IGNORED) {
        HASH_DEL(w->dirs, d);
        free(d);
        return 0;
    }
    if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
        if (d->rel[0] == '\0' && !w->gone) {
            w->gone = true;
            note(ns, "ERROR watch %llu: %.300s was removed or moved: nothing more is "
                 "watched there", (unsigned long long)w->id, w->root);
        }
        return 0;
    }
    if (ev->len == 0 || ev->name[0] == '\0')
        return 0;
    char rel[PATH_MAX];
    join(d->rel, ev->name, rel, sizeof rel);
    if (ev->mask & IN_ISDIR) {
        if (ev->mask & (IN_MOVED_FROM | IN_DELETE)) {
            if (dir_still_there(w, rel))
                return 0;
            dir_remove_tree(w, rel);
            return removed_tree(w, rel, ns);
        }
        if (w->recursive && (ev->mask & (IN_CREATE | IN_MOVED_TO)))
            return new_tree(w, rel, ns);
        return 0;
    }
    if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))
        return created(w, rel, ns);
    if (ev->mask & (IN_DELETE | IN_MOVED_FROM))
        return removed(w, rel, ns);
    return 0;                               /* IN_CREATE of a file: its close will come */
}

/* Read and handle what the watch's queue holds now. Requires w->busy, w not dead. */
static int process(watch *w, notes *ns)
{
    char *buf = w->evbuf;
    bool overflow = false;
    int queued = 0;
    for (;;) {
        ssize_t n = read(w->fd, buf, sizeof w->evbuf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN)
                note(ns, "ERROR watch %llu: reading inotify: %s", (unsigned long long)w->id,
                     strerror(errno));
            break;
        }
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
            queued += handle(w, ev, &overflow, ns);
            p += sizeof *ev + ev->len;
        }
    }
    if (overflow)
        queued += rescan(w, ns);
    return queued;
}

/* ---- the table and its pollers --------------------------------------------------------- */

static void watch_free(watch *w)
{
    wdir *d, *dtmp;
    HASH_ITER(hh, w->dirs, d, dtmp) {
        HASH_DEL(w->dirs, d);
        free(d);
    }
    wfile *f, *ftmp;
    HASH_ITER(hh, w->files, f, ftmp) {
        HASH_DEL(w->files, f);
        free(f);
    }
    if (w->fd >= 0)
        close(w->fd);
    if (w->rootfd >= 0)
        close(w->rootfd);
    pthread_mutex_destroy(&w->busy);
    free(w);
}

static void unref(watches *part, watch *w)
{
    pthread_mutex_lock(&part->lock);
    bool last = --w->refs == 0;
    pthread_mutex_unlock(&part->lock);
    if (last)
        watch_free(w);
}

/* The watches of the table now, each with a reference taken, in *v (NULL if none); false
 * if there was no memory for the list. */
static bool take_all(watches *part, watch ***out, size_t *n)
{
    pthread_mutex_lock(&part->lock);
    size_t count = HASH_COUNT(part->table);
    watch **v = count ? malloc(count * sizeof *v) : NULL;
    *n = 0;
    *out = v;
    if (v != NULL) {
        for (watch *w = part->table; w != NULL; w = w->hh.next) {
            w->refs++;
            v[(*n)++] = w;
        }
    }
    pthread_mutex_unlock(&part->lock);
    return count == 0 || v != NULL;
}

/* Turn a watch's events into calls, unless it was unwatched meanwhile. */
static int serve(watches *part, watch *w)
{
    notes ns = { 0 };
    int queued = 0;
    pthread_mutex_lock(&w->busy);
    if (!w->dead)
        queued = process(w, &ns);
    pthread_mutex_unlock(&w->busy);
    notes_flush(part->rt, &ns);
    return queued;
}

/* Is the backlog at its bound (BACKLOG_MAX)? Then no watch's events are read: a writer
 * that makes events faster than the function takes calls would otherwise grow it (about
 * 1 KB an event) for as long as it liked. */
static bool backlog_full(watches *part)
{
    pthread_mutex_lock(&part->lock);
    bool full = part->backlog_n >= BACKLOG_MAX;
    pthread_mutex_unlock(&part->lock);
    return full;
}

/* Manual mode, in faas_run_pending(): whatever every watch has, without blocking. */
static int part_poll(faas__part *p)
{
    watches *part = (watches *)p;
    int queued = send_backlog(part);
    if (backlog_full(part))
        return queued;
    size_t n;
    watch **v;
    take_all(part, &v, &n);
    for (size_t i = 0; i < n; i++) {
        queued += serve(part, v[i]);
        unref(part, v[i]);
    }
    free(v);
    return queued;
}

static void wake(watches *part)
{
    uint64_t one = 1;
    if (part->has_thread && write(part->wake, &one, sizeof one) < 0) {
        /* The counter is full: the thread has a wake-up pending anyway. */
    }
}

/* The watch thread: poll every watch's descriptor and the wake-up eventfd; serve the ones
 * that are readable. The poll set is built again on each pass from the table, each watch
 * held by a reference, so that an unwatched one's descriptor stays open (and is not
 * reused) until the pass ends. */
static void *watch_main(void *arg)
{
    watches *part = arg;
    struct pollfd *fds = NULL;
    size_t cap = 0;
    for (;;) {
        pthread_mutex_lock(&part->lock);
        bool stop = part->stop, backlog = part->backlog != NULL;
        bool full = part->backlog_n >= BACKLOG_MAX;
        pthread_mutex_unlock(&part->lock);
        if (stop)
            break;
        size_t n;
        watch **v;
        bool all = take_all(part, &v, &n);
        if (n + 1 > cap) {
            struct pollfd *grown = realloc(fds, (n + 1) * sizeof *fds);
            if (grown != NULL) {
                fds = grown;
                cap = n + 1;
            }
        }
        /* Short of memory, poll what fits and look again soon; with the backlog full,
         * none (backlog_full). */
        size_t polled = full || cap == 0 ? 0 : cap > n ? n : cap - 1;
        struct pollfd none = { .fd = part->wake, .events = POLLIN };
        struct pollfd *set = cap == 0 ? &none : fds;
        set[0] = none;
        for (size_t i = 0; i < polled; i++)
            set[i + 1] = (struct pollfd){ .fd = v[i]->fd, .events = POLLIN };
        bool soon = backlog || !all || polled < n;     /* (full: backlog too) */
        int ready = poll(set, polled + 1, soon ? RETRY_MS : -1);
        if (ready > 0 && (set[0].revents & POLLIN)) {
            uint64_t count;
            if (read(part->wake, &count, sizeof count) < 0) {
                /* EAGAIN: another pass read it first; nothing to do. */
            }
        }
        for (size_t i = 0; i < polled && ready > 0; i++)
            if (set[i + 1].revents & (POLLIN | POLLERR | POLLHUP))
                serve(part, v[i]);
        send_backlog(part);
        for (size_t i = 0; i < n; i++)
            unref(part, v[i]);
        free(v);
    }
    free(fds);
    return NULL;
}

static void part_free(faas__part *p)
{
    watches *part = (watches *)p;
    if (part->has_thread) {
        pthread_mutex_lock(&part->lock);
        part->stop = true;
        pthread_mutex_unlock(&part->lock);
        wake(part);
        pthread_join(part->thread, NULL);
    }
    watch *w, *tmp;
    HASH_ITER(hh, part->table, w, tmp) {
        HASH_DEL(part->table, w);
        unref(part, w);                     /* the table's reference: the last one now */
    }
    /* Calls still in the backlog were never accepted: the runtime is closing, so they
     * would be refused anyway. */
    while (part->backlog != NULL) {
        pending *next = part->backlog->next;
        free(part->backlog);
        part->backlog = next;
        part->backlog_n--;
    }
    if (part->wake >= 0)
        close(part->wake);
    pthread_mutex_destroy(&part->lock);
    free(part);
}

static const faas__part_ops watch_ops = { part_poll, part_free };

static faas__part *part_create(faas_runtime *rt)
{
    watches *part = calloc(1, sizeof *part);
    if (part == NULL) {
        faas__fail(FAAS_ENOMEM, "faas_watch: out of memory");
        return NULL;
    }
    part->rt = rt;
    part->wake = -1;
    pthread_mutex_init(&part->lock, NULL);
    atomic_init(&part->sequencer, 0);
    if (!rt->opts.manual) {
        part->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        int err = part->wake < 0 ? errno : pthread_create(&part->thread, NULL, watch_main,
                                                          part);
        if (err != 0) {
            if (part->wake >= 0)
                close(part->wake);
            pthread_mutex_destroy(&part->lock);
            free(part);
            faas__fail(FAAS_ENOMEM, "faas_watch: cannot start the watch thread: %s",
                       strerror(err));
            return NULL;
        }
        part->has_thread = true;
    }
    return &part->part;
}

/* ---- the API --------------------------------------------------------------------------- */

/* Does the string fit in a JSON string (valid UTF-8) and in max bytes? */
static bool label_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    json_t *j = json_stringn(s, n);
    json_decref(j);
    return j != NULL;
}

static int check_options(const faas_watch_options *o)
{
    static const char me[] = "faas_watch";
    if (o->events & ~(unsigned)(FAAS_WATCH_CREATED | FAAS_WATCH_REMOVED))
        return faas__fail(FAAS_EINVAL, "%s: events has unknown bits 0x%x", me, o->events);
    if ((o->prefix != NULL && strlen(o->prefix) > FILTER_MAX) ||
        (o->suffix != NULL && strlen(o->suffix) > FILTER_MAX))
        return faas__fail(FAAS_EINVAL, "%s: a filter rule is longer than %d bytes", me,
                          FILTER_MAX);
    if (o->bucket != NULL && !label_ok(o->bucket, LABEL_MAX))
        return faas__fail(FAAS_EINVAL, "%s: the bucket name must be 1 to %d bytes of UTF-8",
                          me, LABEL_MAX);
    if (o->configuration_id != NULL && !label_ok(o->configuration_id, LABEL_MAX))
        return faas__fail(FAAS_EINVAL, "%s: the configuration id must be 1 to %d bytes of "
                          "UTF-8", me, LABEL_MAX);
    if (o->region != NULL && !faas__trigger_region_ok(o->region))
        return faas__fail(FAAS_EINVAL, "%s: the region must be 1 to 32 of [a-z0-9-]", me);
    return FAAS_OK;
}

/* s as a JSON string, quoted and escaped (malloc'd), or NULL (no memory). */
static char *json_quoted(const char *s)
{
    json_t *j = json_string(s);
    char *text = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    return text;
}

/* A watch with its strings in one block; its inotify instance not made yet. */
static watch *watch_new(const char *root, const char *function, const faas_watch_options *o,
                        faas_trigger_id id)
{
    const char *base = strrchr(root, '/');
    base = base ? base + 1 : root;
    const char *bucket = o->bucket ? o->bucket : base;
    char arn[PATH_MAX + 16], config[64];
    snprintf(arn, sizeof arn, "arn:aws:s3:::%s", bucket);
    snprintf(config, sizeof config, "faas-watch-%llu", (unsigned long long)id);
    char *bucket_json = json_quoted(bucket), *arn_json = json_quoted(arn);
    char *config_json = json_quoted(o->configuration_id ? o->configuration_id : config);
    const char *strings[] = {
        root, function, o->region ? o->region : FAAS__TRIGGER_REGION,
        o->prefix && o->prefix[0] ? o->prefix : NULL,
        o->suffix && o->suffix[0] ? o->suffix : NULL,
        bucket_json, arn_json, config_json,
    };
    enum { N = sizeof strings / sizeof strings[0] };
    size_t total = 0;
    for (size_t i = 0; i < N; i++)
        total += strings[i] ? strlen(strings[i]) + 1 : 0;
    watch *w = NULL;
    if (bucket_json != NULL && arn_json != NULL && config_json != NULL)
        w = calloc(1, sizeof *w + total);
    if (w != NULL) {
        const char *copies[N];
        char *p = w->text;
        for (size_t i = 0; i < N; i++) {
            copies[i] = NULL;
            if (strings[i] != NULL) {
                size_t n = strlen(strings[i]) + 1;
                copies[i] = memcpy(p, strings[i], n);
                p += n;
            }
        }
        w->root = copies[0];
        w->function = copies[1];
        w->region = copies[2];
        w->prefix = copies[3];
        w->suffix = copies[4];
        w->bucket_json = copies[5];
        w->arn_json = copies[6];
        w->config_json = copies[7];
        w->id = id;
        w->fd = -1;
        w->rootfd = -1;
        w->refs = 1;                        /* the table's */
        w->recursive = o->recursive != 0;
        w->events = o->events ? o->events : FAAS_WATCH_CREATED;
        pthread_mutex_init(&w->busy, NULL);
    }
    free(bucket_json);
    free(arn_json);
    free(config_json);
    return w;
}

int faas_watch(faas_runtime *rt, const char *function, const char *directory,
               const faas_watch_options *opts, faas_trigger_id *id)
{
    static const char me[] = "faas_watch";
    faas_watch_options o;
    int rc = faas__abi_copy(&o, sizeof o, opts, FAAS__WATCH_OPTIONS_V1, "faas_watch");
    if (rc != FAAS_OK)
        return rc;
    if (rt == NULL || directory == NULL)
        return faas__fail(FAAS_EINVAL, "%s: %s is NULL", me, rt ? "directory" : "runtime");
    faas__qname qn;                     /* NAME, NAME:3, NAME:prod: each call is routed */
    if (faas__qname_parse(function, &qn) != FAAS_OK)
        return faas__fail(FAAS_EINVAL, "%s: invalid function name \"%.80s\"", me,
                          function ? function : "(null)");
    rc = check_options(&o);
    if (rc != FAAS_OK)
        return rc;
    if (atomic_load(&rt->closing))
        return faas__fail(FAAS_ESHUTDOWN, "the runtime is shutting down");
    if (faas_lookup(rt, function) == NULL)
        return faas__fail(FAAS_ENOTFOUND, "%s: Function not found: %s", me, function);
    char root[PATH_MAX];
    struct stat st;
    if (realpath(directory, root) == NULL || stat(root, &st) != 0)
        return faas__fail(FAAS_EINVAL, "%s: %.300s: %s", me, directory, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return faas__fail(FAAS_EINVAL, "%s: %.300s is not a directory", me, directory);
    if (o.bucket == NULL && (strcmp(root, "/") == 0 || !label_ok(strrchr(root, '/') + 1,
                                                                  LABEL_MAX)))
        return faas__fail(FAAS_EINVAL, "%s: %.300s has no name usable as a bucket name: set "
                          "the bucket option", me, root);
    watches *part = (watches *)faas__part_get(rt, &watch_ops, part_create);
    if (part == NULL)
        return FAAS_ENOMEM;

    watch *w = watch_new(root, function, &o, faas__trigger_id());
    if (w == NULL)
        return faas__fail(FAAS_ENOMEM, "%s: out of memory", me);
    w->part = part;
    w->rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (w->rootfd < 0) {
        int e = errno;
        watch_free(w);
        return faas__fail(FAAS_EINVAL, "%s: %s: %s", me, root, strerror(e));
    }
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0) {
        int e = errno;
        watch_free(w);
        return faas__fail(e == ENOMEM ? FAAS_ENOMEM : FAAS_EBUSY, "%s: inotify_init1: %s%s",
                          me, strerror(e),
                          e == EMFILE ? " (each watch takes one inotify instance: "
                                        "fs.inotify.max_user_instances)" : "");
    }
    /* Watch first, then walk: a file that lands meanwhile is seen by both, and announced
     * once. Nobody else sees the watch before it is in the table. */
    notes ns = { 0 };
    candidates c = { 0 };
    rc = scan(w, "", 0, &c, &ns);
    if (rc == FAAS_OK && o.existing) {
        announce(w, &c, &ns);
    } else if (rc == FAAS_OK) {
        for (size_t i = 0; i < c.n; i++)    /* known, not announced */
            file_set(w, c.v[i].rel, &c.v[i].st);
    }
    cand_free(&c);
    if (rc != FAAS_OK) {
        char why[1024];
        snprintf(why, sizeof why, "%s", ns.n > 0 ? ns.lines[0] : "");
        for (size_t i = 0; i < ns.n; i++)
            free(ns.lines[i]);
        watch_free(w);
        return faas__fail(rc, "%s: %s", me, why);
    }
    pthread_mutex_lock(&part->lock);
    HASH_ADD(hh, part->table, id, sizeof w->id, w);
    pthread_mutex_unlock(&part->lock);
    wake(part);
    notes_flush(rt, &ns);
    if (id != NULL)
        *id = w->id;
    return FAAS_OK;
}

int faas_unwatch(faas_runtime *rt, faas_trigger_id id)
{
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_unwatch: runtime is NULL");
    watches *part = (watches *)faas__part_find(rt, &watch_ops);
    watch *w = NULL;
    if (part != NULL) {
        pthread_mutex_lock(&part->lock);
        HASH_FIND(hh, part->table, &id, sizeof id, w);
        if (w != NULL)
            HASH_DEL(part->table, w);
        pthread_mutex_unlock(&part->lock);
    }
    if (w == NULL)
        return faas__fail(FAAS_ENOTFOUND, "faas_unwatch: no watch %llu",
                          (unsigned long long)id);
    /* Wait for a pass that is turning its events into calls, and stop the next ones. */
    pthread_mutex_lock(&w->busy);
    w->dead = true;
    pthread_mutex_unlock(&w->busy);
    wake(part);                             /* the thread lets go of its descriptor */
    unref(part, w);
    return FAAS_OK;
}
