/*
 * update_follow.c - $LATEST following its module file on disk (faas_update_follow): one
 * inotify instance per runtime watches the DIRECTORY of each followed file, so that a
 * file renamed into place (a new inode, which a watch on the file itself would miss) is
 * seen; an event that names the file arms a debounce on the runtime's clock, and when it
 * is quiet the follower calls faas_update_code() (update.c decides everything else: a
 * file that does not load or INIT keeps the old code serving, and the status says why).
 * It owns the followed entries, their inotify descriptor and its thread (none in manual
 * mode: faas_run_pending() polls), never a function or its pool.
 *
 * Why in the library, not in the tool: "$LATEST following a file replaced on disk" is a
 * library promise (issue 15), and the runtime already has what it needs, the injectable
 * clock and timer thread that make the debounce testable without sleeping.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

/* A file closed after writing or renamed into place is complete: updated once it has been
 * quiet this long (a burst of renames is one update, of the last file). */
#define QUIET_MS       100
/* A file created is being written: it waits for its close, or this long at most (a hard
 * link, created complete, has no close). */
#define CREATE_WAIT_MS 2000
#define MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_ONLYDIR)
#define EVENTS_CHUNK   8192          /* bytes of inotify events read at a time */

typedef struct follow {
    struct follow *next;
    char          *name;             /* the function followed */
    char          *path;             /* the file: an absolute directory, '/', base */
    const char    *base;             /* into path */
    int            wd;               /* its directory's watch */
    bool           pending;          /* an update is due at due_ns */
    uint64_t       due_ns;
} follow;

typedef struct follows {
    faas__part      part;
    faas_runtime   *rt;
    pthread_mutex_t lock;            /* protects list, each entry and stop */
    follow         *list;
    bool            stop;
    int             ifd;             /* the inotify instance, non-blocking */
    int             wake;            /* eventfd: the thread looks again; -1 in manual mode */
    faas__timer     timer;           /* armed at the earliest due update (thread only) */
    bool            has_thread;
    pthread_t       thread;
} follows;

/* ---- events ---------------------------------------------------------------------------- */

static void wake_thread(follows *fs)
{
    uint64_t one = 1;
    if (fs->wake >= 0 && write(fs->wake, &one, sizeof one) < 0) {
        /* The counter is full: a wake-up is pending anyway. */
    }
}

static void timer_fired(faas__timer *t, int cancelled)
{
    follows *fs = (follows *)((char *)t - offsetof(follows, timer));
    if (!cancelled)
        wake_thread(fs);
}

/* Requires fs->lock. Entry f's file changed: (re)arm its update at now + wait (never
 * earlier than one armed already by a close or rename, so a late IN_CREATE of the next
 * write does not shorten a wait). */
static void arm_locked(follows *fs, follow *f, uint64_t now, unsigned wait_ms)
{
    uint64_t due = now + (uint64_t)wait_ms * 1000000u;
    if (!f->pending || wait_ms == QUIET_MS || due > f->due_ns)
        f->due_ns = due;
    f->pending = true;
    (void)fs;
}

/* Read what inotify has, without blocking; arm the entries it names. */
static void read_events(follows *fs)
{
    char buf[EVENTS_CHUNK] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t got = read(fs->ifd, buf, sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return;                     /* EAGAIN: all read */
        uint64_t now = faas__now(fs->rt);
        pthread_mutex_lock(&fs->lock);
        for (char *p = buf; p < buf + got;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            p += sizeof *ev + ev->len;
            for (follow *f = fs->list; f != NULL; f = f->next) {
                if (ev->mask & IN_Q_OVERFLOW)         /* events lost: look at every file */
                    arm_locked(fs, f, now, QUIET_MS);
                else if (ev->wd == f->wd && ev->len > 0 && strcmp(ev->name, f->base) == 0)
                    arm_locked(fs, f, now, (ev->mask & IN_CREATE) ? CREATE_WAIT_MS
                                                                  : QUIET_MS);
            }
        }
        pthread_mutex_unlock(&fs->lock);
    }
}

/* Requires fs->lock. Unlink entry f and free it; drop its directory's watch if no other
 * entry shares it. */
static void drop_locked(follows *fs, follow *f)
{
    bool shared = false;
    for (follow **pp = &fs->list; *pp != NULL;) {
        if (*pp == f)
            *pp = f->next;
        else {
            shared = shared || (*pp)->wd == f->wd;
            pp = &(*pp)->next;
        }
    }
    if (!shared)
        inotify_rm_watch(fs->ifd, f->wd);
    free(f->name);
    free(f->path);
    free(f);
}

/* Run every update that is due, one at a time, with no lock held (faas_update_code waits
 * for the old code's calls); arm the timer at the next one. Returns how many ran. */
static int run_due(follows *fs)
{
    int ran = 0;
    for (;;) {
        char *name = NULL, *path = NULL;
        uint64_t now = faas__now(fs->rt), next = UINT64_MAX;
        pthread_mutex_lock(&fs->lock);
        for (follow *f = fs->list; f != NULL && !fs->stop; f = f->next) {
            if (!f->pending)
                continue;
            if (f->due_ns > now) {
                next = f->due_ns < next ? f->due_ns : next;
                continue;
            }
            name = strdup(f->name);
            path = strdup(f->path);
            if (name == NULL || path == NULL) {     /* try again at the next event */
                free(name);
                free(path);
                name = path = NULL;
                continue;
            }
            f->pending = false;
            break;
        }
        pthread_mutex_unlock(&fs->lock);
        if (name == NULL) {
            if (next != UINT64_MAX && fs->has_thread)
                faas__timer_arm(fs->rt, &fs->timer, next);  /* ENOMEM: the next event */
            return ran;
        }
        /* Its outcome is the function's update status; the one error that is the
         * follower's own is a function gone: stop following it. */
        if (faas_update_code(fs->rt, name, path) == FAAS_ENOTFOUND) {
            pthread_mutex_lock(&fs->lock);
            for (follow *f = fs->list; f != NULL; f = f->next)
                if (strcmp(f->name, name) == 0 && strcmp(f->path, path) == 0) {
                    drop_locked(fs, f);
                    break;
                }
            pthread_mutex_unlock(&fs->lock);
        }
        ran++;
        free(name);
        free(path);
    }
}

/* ---- the part -------------------------------------------------------------------------- */

static void *follow_main(void *arg)
{
    follows *fs = arg;
    for (;;) {
        pthread_mutex_lock(&fs->lock);
        bool stop = fs->stop;
        pthread_mutex_unlock(&fs->lock);
        if (stop)
            return NULL;
        struct pollfd set[2] = { { .fd = fs->wake, .events = POLLIN },
                                 { .fd = fs->ifd, .events = POLLIN } };
        if (poll(set, 2, -1) > 0 && (set[0].revents & POLLIN)) {
            uint64_t count;
            if (read(fs->wake, &count, sizeof count) < 0) {
                /* EAGAIN: read already. */
            }
        }
        read_events(fs);
        run_due(fs);
    }
}

/* Manual mode, in faas_run_pending(): the events that arrived, and the updates now due
 * (they run here, on the caller's thread; they queue no call). */
static int part_poll(faas__part *p)
{
    follows *fs = (follows *)p;
    read_events(fs);
    run_due(fs);
    return 0;
}

static void part_free(faas__part *p)
{
    follows *fs = (follows *)p;
    pthread_mutex_lock(&fs->lock);
    fs->stop = true;
    pthread_mutex_unlock(&fs->lock);
    if (fs->has_thread) {
        wake_thread(fs);
        pthread_join(fs->thread, NULL);
        faas__timer_disarm(fs->rt, &fs->timer);
    }
    while (fs->list != NULL)
        drop_locked(fs, fs->list);
    close(fs->ifd);
    if (fs->wake >= 0)
        close(fs->wake);
    pthread_mutex_destroy(&fs->lock);
    free(fs);
}

static const faas__part_ops follow_ops = { part_poll, part_free };

static faas__part *part_create(faas_runtime *rt)
{
    follows *fs = calloc(1, sizeof *fs);
    if (fs == NULL) {
        faas__fail(FAAS_ENOMEM, "faas_update_follow: out of memory");
        return NULL;
    }
    fs->rt = rt;
    fs->wake = -1;
    faas__timer_init(&fs->timer, timer_fired);
    pthread_mutex_init(&fs->lock, NULL);
    fs->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    int err = fs->ifd < 0 ? errno : 0;
    if (err == 0 && !rt->opts.manual) {
        fs->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        err = fs->wake < 0 ? errno : pthread_create(&fs->thread, NULL, follow_main, fs);
        fs->has_thread = err == 0;
    }
    if (err != 0) {
        if (fs->ifd >= 0)
            close(fs->ifd);
        if (fs->wake >= 0)
            close(fs->wake);
        pthread_mutex_destroy(&fs->lock);
        free(fs);
        faas__fail(FAAS_EIO, "faas_update_follow: cannot start following files: %s",
                   strerror(err));
        return NULL;
    }
    return &fs->part;
}

/* ---- the API --------------------------------------------------------------------------- */

/* A new entry for NAME following the file at src: its directory made absolute (the
 * process may change directory), watched. */
static int entry_new(follows *fs, const char *name, const char *src, follow **out)
{
    const char *api = "faas_update_follow";
    *out = NULL;
    const char *slash = strrchr(src, '/');
    const char *base = slash ? slash + 1 : src;
    if (base[0] == '\0')
        return faas__fail(FAAS_EINVAL, "%s %s: \"%s\" names no file", api, name, src);
    char dir[PATH_MAX], real[PATH_MAX];
    int n = slash == NULL ? snprintf(dir, sizeof dir, ".")
          : slash == src ? snprintf(dir, sizeof dir, "/")
          : snprintf(dir, sizeof dir, "%.*s", (int)(slash - src), src);
    if (n < 0 || (size_t)n >= sizeof dir)
        return faas__fail(FAAS_EINVAL, "%s %s: the path is too long", api, name);
    if (realpath(dir, real) == NULL)
        return faas__fail(FAAS_ELOAD, "%s %s: the directory of \"%s\": %s", api, name, src,
                          strerror(errno));
    follow *f = calloc(1, sizeof *f);
    size_t len = strlen(real) + 1 + strlen(base) + 1;
    if (f == NULL || (f->name = strdup(name)) == NULL || (f->path = malloc(len)) == NULL) {
        if (f != NULL)
            free(f->name);
        free(f);
        return faas__fail(FAAS_ENOMEM, "%s %s: out of memory", api, name);
    }
    snprintf(f->path, len, "%s%s%s", real, strcmp(real, "/") == 0 ? "" : "/", base);
    f->base = strrchr(f->path, '/') + 1;
    f->wd = inotify_add_watch(fs->ifd, real, MASK);
    if (f->wd < 0) {
        int e = errno;
        free(f->name);
        free(f->path);
        free(f);
        return faas__fail(e == ENOSPC || e == ENOMEM ? FAAS_ENOMEM : FAAS_EIO,
                          "%s %s: inotify_add_watch(\"%s\"): %s", api, name, real,
                          strerror(e));
    }
    *out = f;
    return FAAS_OK;
}

int faas_update_follow(faas_runtime *rt, const char *name, int on)
{
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_update_follow: runtime is NULL");
    if (name == NULL)
        return faas__fail(FAAS_EINVAL, "faas_update_follow: name is NULL");
    char *src = NULL;
    int rc;
    if (on && (rc = faas__update_source(rt, "faas_update_follow", name, &src)) != FAAS_OK)
        return rc;
    follows *fs = (follows *)(on ? faas__part_get(rt, &follow_ops, part_create)
                                 : faas__part_find(rt, &follow_ops));
    if (fs == NULL) {
        free(src);
        return on ? FAAS_EIO : FAAS_OK;  /* off, and nothing was ever followed */
    }
    follow *f = NULL;
    rc = on ? entry_new(fs, name, src, &f) : FAAS_OK;
    free(src);
    if (rc != FAAS_OK)
        return rc;
    pthread_mutex_lock(&fs->lock);
    if (f != NULL) {                    /* first: a watch it shares with g stays */
        f->next = fs->list;
        fs->list = f;
    }
    for (follow *g = fs->list; g != NULL; g = g->next)
        if (g != f && strcmp(g->name, name) == 0) {   /* following again re-reads the path */
            drop_locked(fs, g);
            break;
        }
    pthread_mutex_unlock(&fs->lock);
    return FAAS_OK;
}
