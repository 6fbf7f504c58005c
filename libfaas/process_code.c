/*
 * process_code.c - a process function's code: the files of its task root (LAMBDA_TASK_ROOT,
 * faas_process_config.cwd), as Lambda's is the unzipped deployment package in /var/task.
 * It digests the tree (CodeSha256), copies it into a private read-only snapshot that a
 * published version runs (version.c decides when; process.c runs it), and removes the
 * snapshot with the version. It knows files and digests only: no pool, no registry.
 *
 * The digest. libfaas has no zip, so CodeSha256 cannot be Lambda's (the SHA-256 of the
 * package); it is the SHA-256, in base64 with padding, of this stream over the tree's
 * entries, depth first, each directory's entries in byte order of their names, paths
 * relative to the root and separated by '/':
 *     a directory     'D' path NUL
 *     a file          'F' path NUL ('x' if any execute bit is set, else '-')
 *                     its size as 8 bytes big-endian, its bytes
 *     a symbolic link 'L' path NUL target NUL      (a link that is kept, below)
 * Equal trees give equal digests, whatever their timestamps, owners or write bits; the
 * digest of $LATEST's tree (GetFunction) is the one a publish of it would give.
 *
 * Symbolic links. A relative link that resolves inside the root is kept as a link (it then
 * points into the snapshot: node_modules/.bin, say). Any other link (absolute, or leading
 * out of the root) is replaced in the snapshot by a copy of what it points to, a file or a
 * whole directory, so that a version never follows files outside its snapshot; a link to
 * nothing fails the publish. Sockets, FIFOs and devices are not code and are skipped.
 *
 * Limits: Lambda's 250 MB of unzipped code (the bytes of the files), 200,000 entries and
 * 64 levels (which stop a loop of links). A first pass only measures (stat), so a tree
 * over a limit fails FAAS_ETOOLARGE before a byte is copied. A file that changes size
 * while it is copied fails the publish (FAAS_EIO: publish again).
 *
 * The snapshot is $TMPDIR/faas-code-NAME-XXXXXX (TMPDIR unset: /tmp), made by mkdtemp
 * (mode 0700: private to this user), its files and directories without write bits
 * (Lambda's /var/task is read-only: a runtime that writes there fails, as it would on
 * Lambda; nothing stops a process of the same user from changing the modes back).
 * faas__tree_remove gives the directories their write bit back as it descends. If the
 * host dies, the snapshot stays behind in TMPDIR.
 */
#include "internal.h"

#include "process_code.h"
#include "sha256.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the spec ------------------------------------------------------------------------- */

void faas__proc_spec_free(faas__proc_spec *spec)
{
    if (spec == NULL)
        return;
    free(spec->command);
    free(spec->handler);
    free(spec->cwd);
    faas__strv_free(spec->argv);
    faas__strv_free(spec->env);
    faas__strv_free(spec->writable);
    memset(spec, 0, sizeof *spec);
}

static void digest_str(faas__sha256 *h, char tag, const char *s)
{
    faas__sha256_update(h, &tag, 1);
    if (s != NULL)
        faas__sha256_update(h, s, strlen(s) + 1);
}

void faas__proc_spec_digest(const faas__proc_spec *spec, char out[48])
{
    faas__sha256 h;
    unsigned char d[32];
    faas__sha256_init(&h);
    digest_str(&h, 'c', spec->command);
    digest_str(&h, 'h', spec->handler);
    digest_str(&h, 'w', spec->cwd);
    for (char **a = spec->argv; a && *a; a++)
        digest_str(&h, 'a', *a);
    for (char **e = spec->env; e && *e; e++)
        digest_str(&h, 'e', *e);
    for (char **w = spec->writable; w && *w; w++)
        digest_str(&h, 'W', *w);
    if (spec->uid >= 0) {
        char ids[32];
        snprintf(ids, sizeof ids, "%d:%d", spec->uid, spec->gid);
        digest_str(&h, 'u', ids);
    }
    faas__sha256_final(&h, d);
    faas__sha256_base64(d, out);
}

/* *path, if it is root or under it, the same path under snapshot. */
static int rebase(char **path, const char *root, const char *snapshot)
{
    size_t n = strlen(root);
    if (*path == NULL || strncmp(*path, root, n) != 0 || ((*path)[n] != '\0' &&
                                                          (*path)[n] != '/'))
        return FAAS_OK;
    size_t rest = strlen(*path + n), sn = strlen(snapshot);
    char *p = malloc(sn + rest + 1);
    if (p == NULL)
        return FAAS_ENOMEM;
    memcpy(p, snapshot, sn);
    memcpy(p + sn, *path + n, rest + 1);
    free(*path);
    *path = p;
    return FAAS_OK;
}

int faas__proc_spec_rebase(faas__proc_spec *spec, const char *snapshot)
{
    int rc = rebase(&spec->command, spec->cwd, snapshot);
    for (char **a = spec->argv; rc == FAAS_OK && a && *a; a++)
        rc = rebase(a, spec->cwd, snapshot);
    char *cwd = rc == FAAS_OK ? strdup(snapshot) : NULL;
    if (cwd == NULL)
        return FAAS_ENOMEM;
    free(spec->cwd);
    spec->cwd = cwd;
    return FAAS_OK;
}

/* ---- walking the tree ------------------------------------------------------------------ */

typedef struct walk {
    const char  *root;          /* absolute */
    const char  *api, *name;    /* word a failure */
    bool         hash;          /* digest (else only measure) */
    faas__sha256 h;
    uint64_t     bytes, entries;
    char         rel[PATH_MAX]; /* the entry's path relative to root */
    char         buf[65536];    /* a file's bytes on their way */
} walk;

static int too_large(walk *w)
{
    if (w->bytes > FAAS__TREE_MAX_BYTES)
        return faas__fail(FAAS_ETOOLARGE, "%s %s: the task root %s holds more than %u bytes "
                          "of files (Lambda's 250 MB of unzipped code)", w->api, w->name,
                          w->root, FAAS__TREE_MAX_BYTES);
    if (w->entries > FAAS__TREE_MAX_ENTRIES)
        return faas__fail(FAAS_ETOOLARGE, "%s %s: the task root %s holds more than %u "
                          "entries (a loop of symbolic links?)", w->api, w->name, w->root,
                          FAAS__TREE_MAX_ENTRIES);
    return FAAS_OK;
}

static int io_error(walk *w, const char *what, int e)
{
    return faas__fail(FAAS_EIO, "%s %s: %s %s/%s: %s", w->api, w->name, what, w->root, w->rel,
                      strerror(e));
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in directory fd (not . and ..), sorted; fd stays open (a dup is read). */
static int list_dir(walk *w, int fd, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int dfd = dup(fd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (d == NULL) {
        int e = errno;
        if (dfd >= 0)
            close(dfd);
        return io_error(w, "reading", e);
    }
    rewinddir(d);
    char **v = NULL;
    size_t k = 0, cap = 0;
    int rc = FAAS_OK;
    struct dirent *de;
    while (rc == FAAS_OK && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (k == cap) {
            size_t c = cap ? 2 * cap : 16;
            char **nv = realloc(v, c * sizeof *nv);
            if (nv == NULL) {
                rc = FAAS_ENOMEM;
                break;
            }
            v = nv;
            cap = c;
        }
        if ((v[k] = strdup(de->d_name)) == NULL)
            rc = FAAS_ENOMEM;
        else
            k++;
    }
    closedir(d);
    if (rc != FAAS_OK) {
        for (size_t i = 0; i < k; i++)
            free(v[i]);
        free(v);
        return faas__fail(rc, "%s %s: out of memory", w->api, w->name);
    }
    if (k > 0)
        qsort(v, k, sizeof *v, cmp_names);
    *out = v;
    *n = k;
    return FAAS_OK;
}

static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Is the link at rel (under root) relative and does it resolve inside root? Then it is
 * kept; *target gets its text. */
static bool keep_link(walk *w, int dirfd, const char *name, char *target, size_t cap)
{
    ssize_t n = readlinkat(dirfd, name, target, cap - 1);
    if (n < 0)
        return false;
    target[n] = '\0';
    if (target[0] == '/')
        return false;
    char full[PATH_MAX];
    if ((size_t)snprintf(full, sizeof full, "%s/%s", w->root, w->rel) >= sizeof full)
        return false;
    char *real = realpath(full, NULL);
    size_t rl = strlen(w->root);
    bool in = real != NULL && strncmp(real, w->root, rl) == 0 &&
              (real[rl] == '/' || real[rl] == '\0' || (rl == 1 && w->root[0] == '/'));
    free(real);
    return in;
}

/* Hash (and copy to dst, a directory fd, or -1) the file name of dirfd, st its stat. */
static int do_file(walk *w, int dirfd, const char *name, const struct stat *st, bool follow,
                   int dst)
{
    w->bytes += (uint64_t)st->st_size;
    if (!w->hash)
        return too_large(w);
    /* O_NONBLOCK: if the entry was swapped for a FIFO since its stat, opening it must not
     * wait for a writer; what was opened is checked to be the regular file stat saw. */
    int in = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | (follow ? 0 : O_NOFOLLOW));
    if (in < 0)
        return io_error(w, "open", errno);
    struct stat now;
    if (fstat(in, &now) != 0 || !S_ISREG(now.st_mode) || now.st_ino != st->st_ino ||
        now.st_dev != st->st_dev) {
        close(in);
        return faas__fail(FAAS_EIO, "%s %s: %s/%s changed while it was copied: publish "
                          "again", w->api, w->name, w->root, w->rel);
    }
    int out = -1;
    if (dst >= 0 && (out = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                                  0600)) < 0) {
        int e = errno;
        close(in);
        return io_error(w, "copying", e);
    }
    uint64_t size = (uint64_t)st->st_size, left = size;
    unsigned char hdr[9];
    hdr[0] = (st->st_mode & 0111) ? 'x' : '-';
    for (int i = 0; i < 8; i++)
        hdr[1 + i] = (unsigned char)(size >> (56 - 8 * i));
    faas__sha256_update(&w->h, "F", 1);
    faas__sha256_update(&w->h, w->rel, strlen(w->rel) + 1);
    faas__sha256_update(&w->h, hdr, sizeof hdr);
    int rc = FAAS_OK;
    while (rc == FAAS_OK && left > 0) {
        ssize_t got = read(in, w->buf, left < sizeof w->buf ? (size_t)left : sizeof w->buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            rc = io_error(w, "read", errno);
        else if (got == 0)
            rc = faas__fail(FAAS_EIO, "%s %s: %s/%s changed while it was copied: publish "
                            "again", w->api, w->name, w->root, w->rel);
        else if (out >= 0 && write_all(out, w->buf, (size_t)got) != 0)
            rc = io_error(w, "copying", errno);
        else {
            faas__sha256_update(&w->h, w->buf, (size_t)got);
            left -= (uint64_t)got;
        }
    }
    close(in);
    if (out >= 0) {
        if (rc == FAAS_OK && fchmod(out, st->st_mode & 0555) != 0)
            rc = io_error(w, "chmod", errno);
        close(out);
    }
    return rc;
}

static int do_dir(walk *w, int src, int dst, unsigned depth);

/* One entry of directory src (its copy dst, or -1). */
static int do_entry(walk *w, int src, int dst, const char *name, unsigned depth)
{
    struct stat st;
    if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return io_error(w, "stat", errno);
    w->entries++;
    int rc = too_large(w);
    if (rc != FAAS_OK)
        return rc;
    bool follow = false;
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        if (keep_link(w, src, name, target, sizeof target)) {
            if (w->hash) {
                faas__sha256_update(&w->h, "L", 1);
                faas__sha256_update(&w->h, w->rel, strlen(w->rel) + 1);
                faas__sha256_update(&w->h, target, strlen(target) + 1);
            }
            if (dst >= 0 && symlinkat(target, dst, name) != 0)
                return io_error(w, "copying the link", errno);
            return FAAS_OK;
        }
        if (fstatat(src, name, &st, 0) != 0)
            return faas__fail(FAAS_EINVAL, "%s %s: %s/%s is a symbolic link to nothing "
                              "that can be copied: %s", w->api, w->name, w->root, w->rel,
                              strerror(errno));
        follow = true;
    }
    if (S_ISREG(st.st_mode))
        return do_file(w, src, name, &st, follow, dst);
    if (!S_ISDIR(st.st_mode))
        return FAAS_OK;                 /* a socket, a FIFO, a device: not code */
    if (depth >= FAAS__TREE_MAX_DEPTH)
        return faas__fail(FAAS_ETOOLARGE, "%s %s: %s/%s is more than %u levels deep (a loop "
                          "of symbolic links?)", w->api, w->name, w->root, w->rel,
                          FAAS__TREE_MAX_DEPTH);
    if (w->hash) {
        faas__sha256_update(&w->h, "D", 1);
        faas__sha256_update(&w->h, w->rel, strlen(w->rel) + 1);
    }
    int sub = openat(src, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
    if (sub < 0)
        return io_error(w, "open", errno);
    int dsub = -1;
    if (dst >= 0 && (mkdirat(dst, name, 0700) != 0 ||
                     (dsub = openat(dst, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
                                    O_NOFOLLOW)) < 0)) {
        int e = errno;
        close(sub);
        return io_error(w, "copying the directory", e);
    }
    rc = do_dir(w, sub, dsub, depth + 1);
    if (rc == FAAS_OK && dsub >= 0 && fchmod(dsub, (st.st_mode & 0555) | 0500) != 0)
        rc = io_error(w, "chmod", errno);
    close(sub);
    if (dsub >= 0)
        close(dsub);
    return rc;
}

static int do_dir(walk *w, int src, int dst, unsigned depth)
{
    char **names;
    size_t n;
    int rc = list_dir(w, src, &names, &n);
    if (rc != FAAS_OK)
        return rc;
    size_t base = strlen(w->rel);
    for (size_t i = 0; i < n; i++) {
        if (rc == FAAS_OK) {
            int k = snprintf(w->rel + base, sizeof w->rel - base, "%s%s", base ? "/" : "",
                             names[i]);
            if (k < 0 || (size_t)k >= sizeof w->rel - base)
                rc = faas__fail(FAAS_EINVAL, "%s %s: a path under %s is too long", w->api,
                                w->name, w->root);
            else
                rc = do_entry(w, src, dst, names[i], depth);
            w->rel[base] = '\0';
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

/* Walk root: measure (hash false), or digest it (and copy it to dst if dst >= 0). */
static int walk_tree(walk *w, int dst)
{
    int fd = open(w->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return faas__fail(FAAS_EIO, "%s %s: the task root %s: %s", w->api, w->name, w->root,
                          strerror(errno));
    w->rel[0] = '\0';
    w->bytes = w->entries = 0;
    if (w->hash)
        faas__sha256_init(&w->h);
    int rc = do_dir(w, fd, dst, 0);
    close(fd);
    return rc;
}

static int make_snapshot_dir(const char *api, const char *name, char **out)
{
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] != '/')
        tmp = "/tmp";
    size_t n = strlen(tmp) + strlen(name) + 32;
    char *dir = malloc(n);
    if (dir == NULL)
        return faas__fail(FAAS_ENOMEM, "%s %s: out of memory", api, name);
    snprintf(dir, n, "%s/faas-code-%s-XXXXXX", tmp, name);
    if (mkdtemp(dir) == NULL) {
        int e = errno;
        free(dir);
        return faas__fail(FAAS_EIO, "%s %s: mkdtemp in %s: %s", api, name, tmp, strerror(e));
    }
    *out = dir;
    return FAAS_OK;
}

int faas__tree_freeze(const char *root, const char *api, const char *name, char sha[48],
                      uint64_t *bytes, char **snapshot)
{
    walk *w = calloc(1, sizeof *w);
    if (snapshot != NULL)
        *snapshot = NULL;
    if (w == NULL)
        return faas__fail(FAAS_ENOMEM, "%s %s: out of memory", api, name);
    w->root = root;
    w->api = api;
    w->name = name;
    int rc = walk_tree(w, -1);          /* measure: nothing copied past a limit */
    char *dir = NULL;
    int dfd = -1;
    if (rc == FAAS_OK && snapshot != NULL && (rc = make_snapshot_dir(api, name, &dir)) ==
        FAAS_OK && (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)) < 0)
        rc = faas__fail(FAAS_EIO, "%s %s: %s: %s", api, name, dir, strerror(errno));
    if (rc == FAAS_OK) {
        w->hash = true;
        rc = walk_tree(w, dfd);
    }
    if (rc == FAAS_OK && dfd >= 0 && fchmod(dfd, 0555) != 0)
        rc = faas__fail(FAAS_EIO, "%s %s: chmod %s: %s", api, name, dir, strerror(errno));
    if (dfd >= 0)
        close(dfd);
    if (rc == FAAS_OK) {
        unsigned char d[32];
        faas__sha256_final(&w->h, d);
        faas__sha256_base64(d, sha);
        *bytes = w->bytes;
        if (snapshot != NULL)
            *snapshot = dir;
    } else {
        faas__tree_remove(dir);
        free(dir);
    }
    free(w);
    return rc;
}

int faas__process_code(faas_runtime *rt, const char *name, char sha[48], uint64_t *bytes)
{
    size_t len;
    faas__proc_spec spec;
    memset(&spec, 0, sizeof spec);
    if (rt == NULL || !faas__valid_name(name, &len))
        return FAAS_EINVAL;
    pthread_rwlock_rdlock(&rt->reg_lock);
    faas_function *fn = NULL;
    HASH_FIND(hh, rt->fns, name, len, fn);
    int rc = fn != NULL ? faas__process_spec(fn, &spec) : FAAS_ENOTFOUND;
    pthread_rwlock_unlock(&rt->reg_lock);
    if (rc == FAAS_OK)
        rc = faas__tree_freeze(spec.cwd, "CodeSha256", name, sha, bytes, NULL);
    faas__proc_spec_free(&spec);
    return rc;
}

/* ---- removing a snapshot ------------------------------------------------------------- */

/* Empty directory fd (taken), giving each subdirectory its write bit back first. */
static void empty_dir(int fd, unsigned depth)
{
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return;
    }
    bool removed = true;
    while (removed) {                   /* readdir need not show what follows a removal */
        removed = false;
        rewinddir(d);
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            const char *n = de->d_name;
            if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
                continue;
            struct stat st;
            if (fstatat(fd, n, &st, AT_SYMLINK_NOFOLLOW) != 0)
                continue;
            if (S_ISDIR(st.st_mode) && depth < FAAS__TREE_MAX_DEPTH + 1) {
                fchmodat(fd, n, 0700, 0);
                int sub = openat(fd, n, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                if (sub >= 0)
                    empty_dir(sub, depth + 1);
                removed |= unlinkat(fd, n, AT_REMOVEDIR) == 0;
            } else {
                removed |= unlinkat(fd, n, 0) == 0;
            }
        }
    }
    closedir(d);
}

void faas__tree_remove(const char *snapshot)
{
    if (snapshot == NULL)
        return;
    chmod(snapshot, 0700);
    int fd = open(snapshot, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0)
        empty_dir(fd, 0);
    rmdir(snapshot);
}
