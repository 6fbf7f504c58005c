/*
 * journal.c - the journal of accepted asynchronous calls (faas_options.journal_dir). A call
 * is appended as an ACCEPT record and made durable (fdatasync) before its submission returns
 * FAAS_OK; one fdatasync covers every call appended meanwhile (group commit: the first
 * thread that needs the disk writes and syncs for all, the others wait for it). A final
 * completion appends a DONE record, written but not synced. When the active segment has
 * grown past its limit and holds mostly finished calls, a new segment replaces every older
 * one, holding only the live calls. At start, the live calls of the files an earlier run
 * left are read back and wait for faas_journal_replay(). The format and the recovery rules
 * are those of faas_journal_replay(3) and below.
 *
 * This file owns the journal directory and its files. It knows jobs only through their
 * faas__jentry and the fields a record holds (id, payload, no_retry); it never runs a call.
 *
 * Format (little-endian):
 *   segment  NNNNNNNNNNNNNNNN.journal (16 hex digits, ascending), opening with a 32-byte
 *            header: "faasjnl1", u64 sequence, u64 salt, u32 crc32c of those 24 bytes,
 *            u32 0; then records.
 *   record   u32 magic "JNL1", u32 crc, u32 body length, u8 type, u8 flags, u16 0, body.
 *            crc is CRC-32C over the salt then bytes 8.. of the record (length, type, flags,
 *            body): a record is bound to its segment, so bytes inside a payload can never
 *            pass for a record of the journal.
 *   ACCEPT   (type 1) body: 16-byte request id, u16 name length, name, payload.
 *            flags bit 0: never retried nor dead-lettered (a dead-letter envelope).
 *   DONE     (type 2) body: 16-byte request id.
 *
 * Reading: a record that does not check out is skipped to the next one that does (found at
 * the end its own length gives, else by scanning); a damaged stretch with nothing valid after
 * it is the end of the file cut short (a write torn by a crash) and is ignored. Both are
 * counted and logged; a file with damaged records in it is kept as NAME.damaged.
 */
#include "internal.h"
#include "crc32c.h"
#include "journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEG_MAGIC       "faasjnl1"
#define SEG_HDR         32
#define SEG_SUFFIX      ".journal"
#define REC_MAGIC       0x314c4e4au         /* "JNL1" read as little-endian */
#define REC_HDR         16
#define REC_ACCEPT      1
#define REC_DONE        2
#define FLAG_NO_RETRY   1u
#define ID_BYTES        16
#define DONE_SIZE       (REC_HDR + ID_BYTES)
#define NAME_MAX_J      255                 /* a longer name is not a record of ours */
#define BODY_MAX        (UINT32_C(1) << 30)
#define DEFAULT_SEGMENT ((uint64_t)16 << 20)
#define MIN_SEGMENT     ((uint64_t)4096)
#define MAX_ROUNDS      16                  /* write rounds a leader makes for others */
#define ZERO_AHEAD      ((uint64_t)1 << 20) /* zeros written past the end: see lead() */

struct faas__jreplay {
    faas__jentry   e;           /* kind FAAS__JE_REPLAY; e.name is name below */
    faas__jreplay *rnext;       /* the calls not replayed yet, oldest first */
    UT_hash_handle hh;          /* by id, while the files are read */
    uint64_t       id[2];
    bool           no_retry;
    size_t         len;
    unsigned char *payload;     /* len bytes and a NUL */
    char           name[];
};

struct faas__journal {
    faas_runtime   *rt;
    char           *dir;
    char           *abs;        /* dir's absolute path, or NULL (realpath failed) */
    int             dirfd, lockfd;
    uint64_t        seg_max;
    uint64_t        salt;
    uint32_t        salt_crc;   /* crc32c of the salt: every record's crc starts from it */

    pthread_mutex_t lock;       /* protects everything below */
    pthread_cond_t  cv[2];      /* round r ended (cv[r & 1]), or the leader stepped down */
    int             fd;         /* the active segment; written only by the leader */
    uint64_t        seq;        /* its number */
    uint64_t        seg_bytes;  /* its size: header and what was written */
    uint64_t        zeroed;     /* the file is that long, zeros past seg_bytes (leader) */
    unsigned char  *buf, *spare;    /* appended and not written yet; the leader's other one */
    size_t          len, cap, spare_cap;
    uint64_t        appended, written, durable;     /* logical offsets, ever growing */
    uint64_t        sync_want;  /* the end of the last record that must be made durable */
    bool            leading;    /* a thread is writing; only it touches the files */
    unsigned        waiting[2]; /* submitters waiting for round r (waiting[r & 1]) */
    uint64_t        round;      /* write rounds taken; the one in progress, if leading */
    uint64_t        taken_end;  /* where that round's bytes end */
    bool            closing;
    int             error;      /* 0, or FAAS_EIO for ever after a write failed */
    faas__jentry    live;       /* sentinel of the live calls' list */
    uint64_t        nlive, live_bytes;
    faas__jreplay  *replay_head, *replay_tail;
    uint64_t        nreplay;
    uint64_t       *doomed;     /* older segments, deleted once durable >= doom_after */
    size_t          ndoomed, doomed_cap;
    uint64_t        doomed_bytes, doom_after;
    uint64_t        roll_retry_at;  /* after a failed roll: not before seg_bytes reaches it */
    faas_journal_stats st;      /* the counters, pending and live filled when read */
    char            msg[512];   /* a line logged under the lock, for unlock_log() */
    bool            has_msg;
};

/* ---- bytes ----------------------------------------------------------------------------- */

static void put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint16_t get16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* ---- small helpers ----------------------------------------------------------------------- */

static void jlog(faas__journal *j, const char *fmt, ...) FAAS_PRINTF(2, 3);
static void jlog(faas__journal *j, const char *fmt, ...)
{
    if (j->rt->opts.log == NULL)
        return;
    char line[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    faas__log_line(j->rt, line);
}

/* Requires j->lock. The log sink is user code: the line waits for unlock_log(). */
static void jlog_locked(faas__journal *j, const char *fmt, ...) FAAS_PRINTF(2, 3);
static void jlog_locked(faas__journal *j, const char *fmt, ...)
{
    if (j->rt->opts.log == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->msg, sizeof j->msg, fmt, ap);
    va_end(ap);
    j->has_msg = true;
}

/* Release j->lock, then log what jlog_locked() kept. */
static void unlock_log(faas__journal *j)
{
    char line[sizeof j->msg];
    bool have = j->has_msg;
    if (have) {
        memcpy(line, j->msg, sizeof line);
        j->has_msg = false;
    }
    pthread_mutex_unlock(&j->lock);
    if (have)
        faas__log_line(j->rt, line);
}

static void seg_name(char out[32], uint64_t seq)
{
    snprintf(out, 32, "%016" PRIx64 SEG_SUFFIX, seq);
}

/* A segment's number from its file name, or 0 if the name is not one. */
static uint64_t seg_seq(const char *name)
{
    size_t n = strlen(name);
    if (n != 16 + strlen(SEG_SUFFIX) || strcmp(name + 16, SEG_SUFFIX) != 0)
        return 0;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = name[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return 0;
        v = v << 4 | (uint64_t)d;
    }
    return v;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int pwrite_all(int fd, const unsigned char *p, size_t n, uint64_t at)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, (off_t)at);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
        at += (uint64_t)w;
    }
    return 0;
}

/* Write n bytes at `at` of the active segment. An fdatasync after an append must also
 * commit the file's new size (a second flush, on ext4 a journal commit); after a write
 * into blocks already written it flushes the data alone. So the file is kept zeroed
 * ZERO_AHEAD past its end, a zero write every megabyte instead of a size change every
 * round. The reader takes zeros at the end for the end. */
static int segment_write(faas__journal *j, int fd, const unsigned char *p, size_t n,
                         uint64_t at)
{
    static const unsigned char zeros[65536];
    if (at + n > j->zeroed) {
        uint64_t to = at + n + ZERO_AHEAD;
        for (uint64_t z = j->zeroed; z < to;) {
            size_t k = to - z < sizeof zeros ? (size_t)(to - z) : sizeof zeros;
            if (pwrite_all(fd, zeros, k, z) != 0)
                return -1;
            z += k;
        }
        j->zeroed = to;
    }
    return pwrite_all(fd, p, n, at);
}

/* The directory holding path (its name up to the last slash, or "."), synced: the entry
 * of a directory just made survives a crash of the machine. */
static void sync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char parent[4096];
    if (slash == NULL)
        snprintf(parent, sizeof parent, ".");
    else
        snprintf(parent, sizeof parent, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* mkdir -p, mode 0700 for what it makes. */
static int make_dirs(const char *path)
{
    char *p = strdup(path);
    if (p == NULL) {
        errno = ENOMEM;
        return -1;
    }
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0700) == 0)
            sync_parent(p);
        else if (errno != EEXIST) {
            free(p);
            return -1;
        }
        *s = c;
        if (c == '\0')
            break;
        while (s[1] == '/')
            s++;
    }
    free(p);
    return 0;
}

/* ---- records ----------------------------------------------------------------------------- */

static uint32_t record_crc(uint32_t salt_crc, const unsigned char *rec, uint32_t body)
{
    return faas__crc32c(salt_crc, rec + 8, 8 + (size_t)body);
}

static size_t accept_size(size_t name_len, size_t len)
{
    return REC_HDR + ID_BYTES + 2 + name_len + len;
}

/* Encode a record at p (room made by the caller). */
static void encode(uint32_t salt_crc, unsigned char *p, int type, unsigned flags,
                   const uint64_t id[2], const char *name, size_t name_len,
                   const void *payload, size_t len)
{
    uint32_t body = (uint32_t)(ID_BYTES + (type == REC_ACCEPT ? 2 + name_len + len : 0));
    put32(p, REC_MAGIC);
    put32(p + 8, body);
    p[12] = (unsigned char)type;
    p[13] = (unsigned char)flags;
    p[14] = p[15] = 0;
    put64(p + 16, id[0]);
    put64(p + 24, id[1]);
    if (type == REC_ACCEPT) {
        put16(p + 32, (uint16_t)name_len);
        memcpy(p + 34, name, name_len);
        if (len > 0)
            memcpy(p + 34 + name_len, payload, len);
    }
    put32(p + 4, record_crc(salt_crc, p, body));
}

/* The size of the valid record at d[off..size), or 0. */
static size_t valid_record(uint32_t salt_crc, const unsigned char *d, size_t size, size_t off)
{
    if (size - off < REC_HDR || get32(d + off) != REC_MAGIC)
        return 0;
    const unsigned char *r = d + off;
    uint32_t body = get32(r + 8);
    if (body > BODY_MAX || body > size - off - REC_HDR)
        return 0;
    if (r[14] != 0 || r[15] != 0 || (r[13] & ~FLAG_NO_RETRY) != 0)
        return 0;
    if (record_crc(salt_crc, r, body) != get32(r + 4))
        return 0;
    if (r[12] == REC_DONE)
        return body == ID_BYTES && r[13] == 0 ? REC_HDR + body : 0;
    if (r[12] != REC_ACCEPT || body < ID_BYTES + 2)
        return 0;
    size_t nlen = get16(r + 32);
    if (nlen == 0 || nlen > NAME_MAX_J || ID_BYTES + 2 + nlen > body)
        return 0;
    for (size_t i = 0; i < nlen; i++)
        if (r[34 + i] <= 0x20 || r[34 + i] >= 0x7f)
            return 0;
    return REC_HDR + body;
}

/* ---- the live list (requires j->lock) ------------------------------------------------------ */

static void live_add(faas__journal *j, faas__jentry *e)
{
    e->next = &j->live;
    e->prev = j->live.prev;
    j->live.prev->next = e;
    j->live.prev = e;
    j->nlive++;
    j->live_bytes += e->size;
}

static void live_remove(faas__journal *j, faas__jentry *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
    e->prev = e->next = NULL;
    j->nlive--;
    j->live_bytes -= e->size;
}

/* Room for n more bytes in buf. */
static int reserve(faas__journal *j, size_t n)
{
    if (j->cap - j->len >= n)
        return 0;
    size_t cap = j->cap ? j->cap : 4096;
    while (cap - j->len < n)
        cap *= 2;
    unsigned char *b = realloc(j->buf, cap);
    if (b == NULL)
        return -1;
    j->buf = b;
    j->cap = cap;
    return 0;
}

/* ---- segments -------------------------------------------------------------------------------- */

/* Make segment seq with its header, synced, and its directory entry synced: -1 with errno. */
static int create_segment(faas__journal *j, uint64_t seq)
{
    char name[32];
    seg_name(name, seq);
    int fd = openat(j->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    unsigned char h[SEG_HDR] = {0};
    memcpy(h, SEG_MAGIC, 8);
    put64(h + 8, seq);
    put64(h + 16, j->salt);
    put32(h + 24, faas__crc32c(0, h, 24));
    if (write_all(fd, h, sizeof h) != 0 || fdatasync(fd) != 0 || fsync(j->dirfd) != 0) {
        int e = errno;
        close(fd);
        unlinkat(j->dirfd, name, 0);
        errno = e;
        return -1;
    }
    return fd;
}

/* Encode the live calls already in the files at the end of buf (they then belong to the
 * active segment); those whose record is still in buf are there already. Requires j->lock
 * and the room. */
static void relocate_live(faas__journal *j)
{
    for (faas__jentry *e = j->live.next; e != &j->live; e = e->next) {
        if (e->end > j->written)
            continue;
        unsigned char *p = j->buf + j->len;
        if (e->kind == FAAS__JE_REPLAY) {
            faas__jreplay *r = faas__container_of(e, faas__jreplay, e);
            encode(j->salt_crc, p, REC_ACCEPT, r->no_retry ? FLAG_NO_RETRY : 0, r->id,
                   r->name, strlen(r->name), r->payload, r->len);
        } else {
            faas__job *job = faas__container_of(e, faas__job, jent);
            encode(j->salt_crc, p, REC_ACCEPT, job->no_retry ? FLAG_NO_RETRY : 0,
                   job->id_bits, e->name, strlen(e->name), job->payload, job->len);
        }
        j->len += e->size;
        j->appended += e->size;
        e->end = j->appended;
    }
}

/* Requires j->lock, the leader's role and closing false. The active segment is full and
 * mostly finished calls: start a new one that gets what buf holds, plus a copy of every
 * live call in the older files, which are deleted once those copies are durable. */
static void maybe_roll(faas__journal *j)
{
    uint64_t limit = j->seg_max > 2 * j->live_bytes ? j->seg_max : 2 * j->live_bytes;
    if (j->closing || j->error || j->seg_bytes + j->len < limit ||
        j->seg_bytes + j->len < j->roll_retry_at)
        return;
    /* Room for the copies first: nothing can fail after the new file exists. */
    size_t copies = 0;
    for (faas__jentry *e = j->live.next; e != &j->live; e = e->next)
        if (e->end <= j->written)
            copies += e->size;
    if (j->ndoomed == j->doomed_cap) {
        uint64_t *d = realloc(j->doomed, (j->doomed_cap * 2 + 4) * sizeof *d);
        if (d != NULL) {
            j->doomed = d;
            j->doomed_cap = j->doomed_cap * 2 + 4;
        }
    }
    if (j->ndoomed == j->doomed_cap || reserve(j, copies) != 0) {
        j->roll_retry_at = j->seg_bytes + j->len + j->seg_max;    /* no memory: later */
        return;
    }
    int old = j->fd;
    uint64_t seq = j->seq + 1;
    /* The leader alone touches the files: the lock is not needed for them. */
    pthread_mutex_unlock(&j->lock);
    int synced = fdatasync(old);        /* its DONE records: a machine crash keeps them */
    int fd = create_segment(j, seq);
    int e = errno;
    pthread_mutex_lock(&j->lock);
    if (fd < 0 || synced != 0) {
        if (fd >= 0)
            close(fd);
        jlog_locked(j, "ERROR journal %s: cannot start segment %" PRIu64 ": %s; the current one "
             "grows meanwhile", j->dir, seq, strerror(fd < 0 ? e : errno));
        j->roll_retry_at = j->seg_bytes + j->len + j->seg_max;
        return;
    }
    close(old);
    j->doomed[j->ndoomed++] = j->seq;
    j->doomed_bytes += j->seg_bytes;
    j->fd = fd;
    j->seq = seq;
    j->seg_bytes = j->zeroed = SEG_HDR;
    j->roll_retry_at = 0;
    relocate_live(j);
    j->doom_after = j->appended;
    j->sync_want = j->appended;
    j->st.compactions++;
}

/* The leader, after a round made durable: delete the segments a roll replaced. Requires
 * j->lock (dropped meanwhile). */
static void delete_doomed(faas__journal *j)
{
    if (j->ndoomed == 0 || j->durable < j->doom_after)
        return;
    size_t n = j->ndoomed;
    uint64_t *seqs = malloc(n * sizeof *seqs);
    if (seqs == NULL)
        return;                         /* another round will try */
    memcpy(seqs, j->doomed, n * sizeof *seqs);
    pthread_mutex_unlock(&j->lock);
    /* Oldest first, each unlink made durable before the next: a DONE record in a later
     * file never outlives the ACCEPT it answers in an earlier one. */
    for (size_t i = 0; i < n; i++) {
        char name[32];
        seg_name(name, seqs[i]);
        if (unlinkat(j->dirfd, name, 0) != 0 && errno != ENOENT)
            jlog(j, "ERROR journal %s: cannot delete %s: %s", j->dir, name, strerror(errno));
        fsync(j->dirfd);
    }
    free(seqs);
    pthread_mutex_lock(&j->lock);
    memmove(j->doomed, j->doomed + n, (j->ndoomed - n) * sizeof *j->doomed);
    j->ndoomed -= n;
    if (j->ndoomed == 0)
        j->doomed_bytes = 0;
}

/* ---- group commit ---------------------------------------------------------------------------- */

/* Requires j->lock, not leading. Write (and sync, if a record appended needs it) round after
 * round until target is written (durable, when durable), then go on while others need it,
 * up to MAX_ROUNDS, or hand over to a thread waiting for the next round.
 *
 * A waiter sleeps on the condition of the round that will write its record (the one in
 * progress, or the next), so the end of a round wakes only the threads it made durable,
 * and a leader stepping down wakes one thread of the next round to lead it: no herd of
 * waiters between two rounds while the disk is idle. */
static void lead(faas__journal *j, uint64_t target, bool durable)
{
    j->leading = true;
    /* Nothing buffered but a sync wanted: faas__journal_close() syncing the DONE records. */
    for (unsigned rounds = 0; j->error == 0 && (j->len > 0 || j->sync_want > j->durable);) {
        maybe_roll(j);
        unsigned char *w = j->buf;
        size_t n = j->len, wcap = j->cap;
        j->buf = j->spare;
        j->cap = j->spare_cap;
        j->spare = NULL;
        j->spare_cap = 0;
        j->len = 0;
        uint64_t end = j->appended, at = j->seg_bytes, r = ++j->round;
        j->taken_end = end;
        bool sync = j->sync_want > j->durable;
        int fd = j->fd;
        pthread_mutex_unlock(&j->lock);
        int rc = segment_write(j, fd, w, n, at);
        if (rc == 0 && sync)
            rc = fdatasync(fd);
        int e = errno;
        pthread_mutex_lock(&j->lock);
        if (j->spare == NULL) {          /* keep the larger buffer for the next round */
            j->spare = w;
            j->spare_cap = wcap;
        } else {
            free(w);
        }
        if (rc != 0) {
            j->error = FAAS_EIO;
            jlog_locked(j, "ERROR journal %s: %s failed: %s; asynchronous calls are refused from "
                 "now on (FAAS_EIO)", j->dir, sync ? "write or fdatasync" : "write",
                 strerror(e));
            break;
        }
        j->written = end;
        j->seg_bytes += n;
        if (sync) {
            j->durable = end;
            j->st.syncs++;
        }
        pthread_cond_broadcast(&j->cv[r & 1]);
        if (sync)
            delete_doomed(j);
        rounds++;
        bool mine = durable ? j->durable >= target : j->written >= target;
        if (mine && (j->waiting[(j->round + 1) & 1] > 0 || rounds >= MAX_ROUNDS))
            break;
    }
    j->leading = false;
    if (j->error != 0) {
        pthread_cond_broadcast(&j->cv[0]);
        pthread_cond_broadcast(&j->cv[1]);
    } else if (j->waiting[(j->round + 1) & 1] > 0) {
        pthread_cond_signal(&j->cv[(j->round + 1) & 1]);
    }
}

/* Requires j->lock. Until the bytes up to target are written (durable: and synced). */
static int commit(faas__journal *j, uint64_t target, bool durable)
{
    for (;;) {
        if (j->error != 0)
            return j->error;
        if (durable ? j->durable >= target : j->written >= target)
            return FAAS_OK;
        if (j->leading) {
            /* In the round being written, or else in the next one. */
            unsigned k = (unsigned)((target <= j->taken_end ? j->round : j->round + 1) & 1);
            j->waiting[k]++;
            pthread_cond_wait(&j->cv[k], &j->lock);
            j->waiting[k]--;
            continue;
        }
        lead(j, target, durable);
    }
}

/* ---- the scheduler's side ------------------------------------------------------------------- */

static void forget(faas__journal *j, faas__jentry *e);

int faas__journal_accept(faas__journal *j, faas__job *job, const char *name)
{
    faas__jentry *e = &job->jent;
    bool own = job->fn == NULL;
    if (job->fn != NULL)
        name = job->fn->name->name;
    size_t nlen = strlen(name);
    size_t size = accept_size(nlen, job->len);
    if (size - REC_HDR > BODY_MAX)
        return faas__fail(FAAS_ETOOLARGE, "%zu byte payload is too large for the journal",
                          job->len);
    char *copy = NULL;
    if (own && (copy = strdup(name)) == NULL)
        return faas__fail(FAAS_ENOMEM, "out of memory journaling a call");
    pthread_mutex_lock(&j->lock);
    if (j->error != 0) {
        pthread_mutex_unlock(&j->lock);
        free(copy);
        return faas__fail(FAAS_EIO, "the journal %s cannot be written: the call is refused",
                          j->dir);
    }
    if (reserve(j, size) != 0) {
        pthread_mutex_unlock(&j->lock);
        free(copy);
        return faas__fail(FAAS_ENOMEM, "out of memory journaling a %zu byte call", job->len);
    }
    encode(j->salt_crc, j->buf + j->len, REC_ACCEPT, job->no_retry ? FLAG_NO_RETRY : 0,
           job->id_bits, name, nlen, job->payload, job->len);
    j->len += size;
    j->appended += size;
    j->sync_want = j->appended;
    e->end = j->appended;
    e->size = (uint32_t)size;
    e->kind = FAAS__JE_JOB;
    e->own_name = own;
    e->name = own ? copy : name;
    live_add(j, e);
    j->st.appended++;
    int rc = commit(j, e->end, true);
    if (rc != FAAS_OK) {
        forget(j, e);                   /* frees copy */
        j->st.appended--;
    }
    unlock_log(j);
    if (rc != FAAS_OK)
        return faas__fail(rc, "the journal %s could not be written: the call is refused",
                          j->dir);
    return FAAS_OK;
}

/* Requires j->lock. Forget e (no record). */
static void forget(faas__journal *j, faas__jentry *e)
{
    live_remove(j, e);
    if (e->own_name)
        free((char *)e->name);
    e->own_name = false;
    e->name = NULL;
    e->kind = FAAS__JE_NONE;
}

/* Requires j->lock. A DONE record for id; written by this thread if no one is writing. */
static void append_done(faas__journal *j, const uint64_t id[2])
{
    j->st.completed++;
    if (j->error != 0 || reserve(j, DONE_SIZE) != 0)
        return;                         /* the call may run again after a restart */
    encode(j->salt_crc, j->buf + j->len, REC_DONE, 0, id, NULL, 0, NULL, 0);
    j->len += DONE_SIZE;
    j->appended += DONE_SIZE;
    if (!j->leading)
        commit(j, j->appended, false);
}

void faas__journal_done(faas__journal *j, faas__job *job)
{
    pthread_mutex_lock(&j->lock);
    forget(j, &job->jent);
    append_done(j, job->id_bits);
    unlock_log(j);
}

/* Once faas_runtime_free() has begun no segment is rewritten, so the record stays where it
 * is. Before (a NATS detach hands calls back with FAAS_ESHUTDOWN), a later compaction
 * must still copy it: the call becomes one to replay, as if found at start. */
void faas__journal_keep(faas__journal *j, faas__job *job)
{
    faas__jentry *e = &job->jent;
    size_t nlen = strlen(e->name);
    faas__jreplay *r = NULL;
    unsigned char *payload = NULL;
    pthread_mutex_lock(&j->lock);
    bool closing = j->closing;
    pthread_mutex_unlock(&j->lock);
    if (!closing) {
        r = calloc(1, sizeof *r + nlen + 1);
        payload = malloc(job->len + 1);
        if (r == NULL || payload == NULL) {
            free(r);
            free(payload);
            r = NULL;
        } else {
            memcpy(r->name, e->name, nlen + 1);
            memcpy(payload, job->payload, job->len + 1);
            r->payload = payload;
            r->len = job->len;
            r->id[0] = job->id_bits[0];
            r->id[1] = job->id_bits[1];
            r->no_retry = job->no_retry;
            r->e.kind = FAAS__JE_REPLAY;
            r->e.name = r->name;
        }
    }
    pthread_mutex_lock(&j->lock);
    if (r != NULL) {
        r->e.end = e->end;
        r->e.size = e->size;
        live_add(j, &r->e);
        if (j->replay_tail != NULL)
            j->replay_tail->rnext = r;
        else
            j->replay_head = r;
        j->replay_tail = r;
        j->nreplay++;
    } else if (!closing) {
        jlog_locked(j, "ERROR journal %s: out of memory keeping a call: it may be lost at the "
             "next compaction", j->dir);
    }
    forget(j, e);
    j->st.kept++;
    unlock_log(j);
}

void faas__journal_closing(faas__journal *j)
{
    pthread_mutex_lock(&j->lock);
    j->closing = true;
    pthread_mutex_unlock(&j->lock);
}

/* ---- replay ------------------------------------------------------------------------------- */

void faas__journal_call(const faas__jreplay *rep, faas__jcall *out)
{
    out->id[0] = rep->id[0];
    out->id[1] = rep->id[1];
    out->no_retry = rep->no_retry;
    out->name = rep->name;
    out->payload = rep->payload;
    out->len = rep->len;
}

static void replay_free(faas__jreplay *r)
{
    free(r->payload);
    free(r);
}

void faas__journal_adopt(faas__journal *j, faas__jreplay *rep, faas__job *job)
{
    faas__jentry *e = &job->jent;
    size_t nlen = strlen(rep->name);
    char *copy = job->fn == NULL ? malloc(nlen + 1) : NULL;
    pthread_mutex_lock(&j->lock);
    e->end = rep->e.end;
    e->size = rep->e.size;
    e->kind = FAAS__JE_JOB;
    e->own_name = copy != NULL;
    e->name = job->fn != NULL ? job->fn->name->name : copy ? memcpy(copy, rep->name, nlen + 1)
                                                         : "?";
    /* In rep's place in the list: the same record, now the job's. */
    e->prev = rep->e.prev;
    e->next = rep->e.next;
    e->prev->next = e;
    e->next->prev = e;
    pthread_mutex_unlock(&j->lock);
    replay_free(rep);
}

void faas__journal_drop(faas__journal *j, faas__jreplay *rep)
{
    pthread_mutex_lock(&j->lock);
    live_remove(j, &rep->e);
    append_done(j, rep->id);
    unlock_log(j);
    replay_free(rep);
}

int faas_journal_replay(faas_runtime *rt, faas_callback cb, void *arg)
{
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_journal_replay: runtime is NULL");
    faas__journal *j = rt->journal;
    if (j == NULL)
        return 0;
    int n = 0;
    for (;;) {
        pthread_mutex_lock(&j->lock);
        faas__jreplay *r = j->replay_head;
        if (r != NULL) {
            j->replay_head = r->rnext;
            if (j->replay_head == NULL)
                j->replay_tail = NULL;
            j->nreplay--;
        }
        pthread_mutex_unlock(&j->lock);
        if (r == NULL)
            return n;
        int rc = faas__sched_replay(rt, r, cb, arg);
        if (rc != FAAS_OK) {            /* closing: it goes back, first */
            pthread_mutex_lock(&j->lock);
            r->rnext = j->replay_head;
            j->replay_head = r;
            if (j->replay_tail == NULL)
                j->replay_tail = r;
            j->nreplay++;
            pthread_mutex_unlock(&j->lock);
            return rc;
        }
        if (n < INT32_MAX)
            n++;
    }
}

int faas_journal_stats_get(faas_runtime *rt, faas_journal_stats *out)
{
    if (rt == NULL || out == NULL)
        return faas__fail(FAAS_EINVAL, "faas_journal_stats_get: NULL argument");
    memset(out, 0, sizeof *out);
    out->pending = faas__sched_pending(rt);
    faas__journal *j = rt->journal;
    if (j == NULL)
        return FAAS_OK;
    pthread_mutex_lock(&j->lock);
    *out = j->st;
    out->enabled = 1;
    out->error = j->error;
    out->pending = faas__sched_pending(rt);
    out->live = j->nlive;
    out->unreplayed = j->nreplay;
    out->bytes = j->seg_bytes + j->doomed_bytes;
    out->segments = 1 + j->ndoomed;
    pthread_mutex_unlock(&j->lock);
    return FAAS_OK;
}

/* ---- reading what an earlier run left ------------------------------------------------------------ */

typedef struct reader {
    faas__journal *j;
    faas__jreplay *map;         /* live calls by id */
    faas__jreplay *head, *tail; /* the same, in the order they were first accepted */
} reader;

static int apply(reader *rd, const unsigned char *r)
{
    uint64_t id[2] = { get64(r + 16), get64(r + 24) };
    faas__jreplay *found = NULL;
    HASH_FIND(hh, rd->map, id, sizeof id, found);
    if (r[12] == REC_DONE) {
        if (found != NULL) {
            HASH_DELETE(hh, rd->map, found);
            /* unlinked from the order list when the list is walked: mark it */
            found->e.kind = FAAS__JE_NONE;
        }
        return 0;
    }
    if (found != NULL)
        return 0;                       /* a copy a compaction made: the same call */
    size_t body = get32(r + 8), nlen = get16(r + 32);
    size_t len = body - ID_BYTES - 2 - nlen;
    faas__jreplay *c = calloc(1, sizeof *c + nlen + 1);
    unsigned char *payload = malloc(len + 1);
    if (c == NULL || payload == NULL) {
        free(c);
        free(payload);
        return -1;
    }
    memcpy(c->name, r + 34, nlen);
    c->name[nlen] = '\0';
    memcpy(payload, r + 34 + nlen, len);
    payload[len] = '\0';
    c->payload = payload;
    c->len = len;
    c->id[0] = id[0];
    c->id[1] = id[1];
    c->no_retry = (r[13] & FLAG_NO_RETRY) != 0;
    c->e.kind = FAAS__JE_REPLAY;
    c->e.name = c->name;
    c->e.size = (uint32_t)accept_size(nlen, len);
    HASH_ADD(hh, rd->map, id, sizeof c->id, c);
    if (rd->tail != NULL)
        rd->tail->rnext = c;
    else
        rd->head = c;
    rd->tail = c;
    return 0;
}

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

/* Read one segment file into rd. Returns 0, or -1 with errno (no memory, or the file
 * cannot be read: then nothing is deleted, and the journal is not opened). */
static int read_segment(reader *rd, const char *name, uint64_t seq)
{
    faas__journal *j = rd->j;
    int fd = openat(j->dirfd, name, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        errno = e;
        return -1;
    }
    size_t size = (size_t)sb.st_size;
    unsigned char *d = malloc(size ? size : 1);
    size_t got = 0;
    int e = 0;
    while (d != NULL && got < size) {
        ssize_t r = read(fd, d + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            e = errno;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (d == NULL || e != 0) {
        bool nomem = d == NULL;
        free(d);
        errno = nomem ? ENOMEM : e;
        return -1;
    }
    size = got;
    bool damaged = false;
    if (size < SEG_HDR || memcmp(d, SEG_MAGIC, 8) != 0 || get64(d + 8) != seq ||
        get32(d + 24) != faas__crc32c(0, d, 24)) {
        /* Made by a crash before its header was synced (short), or not ours. */
        if (size >= SEG_HDR) {
            damaged = true;
            j->st.corrupt_bytes += size;
            jlog(j, "ERROR journal %s: %s has no valid header: %zu bytes not read", j->dir,
                 name, size);
        } else {
            j->st.torn_bytes += size;
        }
        free(d);
        goto out;
    }
    uint32_t salt_crc = faas__crc32c(0, d + 16, 8);
    size_t off = SEG_HDR;
    while (off < size) {
        size_t n = valid_record(salt_crc, d, size, off);
        if (n == 0 && all_zero(d + off, size - off))
            break;                      /* the zeros kept ahead of the end (lead()) */
        if (n > 0) {
            if (apply(rd, d + off) != 0) {
                free(d);
                errno = ENOMEM;
                return -1;
            }
            off += n;
            continue;
        }
        /* Damaged: the next valid record where this one's length says, else anywhere. */
        size_t next = 0;
        if (size - off >= REC_HDR && get32(d + off) == REC_MAGIC) {
            uint64_t at = (uint64_t)off + REC_HDR + get32(d + off + 8);
            if (at < size && valid_record(salt_crc, d, size, (size_t)at) > 0)
                next = (size_t)at;
        }
        for (size_t p = off + 1; next == 0 && p + REC_HDR <= size; p++)
            if (get32(d + p) == REC_MAGIC && valid_record(salt_crc, d, size, p) > 0)
                next = p;
        if (next == 0) {
            j->st.torn_bytes += size - off;
            jlog(j, "journal %s: %s ends with %zu bytes that are not a whole record (a "
                 "write cut short): ignored", j->dir, name, size - off);
            break;
        }
        damaged = true;
        j->st.corrupt_records++;
        j->st.corrupt_bytes += next - off;
        jlog(j, "ERROR journal %s: %s: a damaged record at offset %zu (%zu bytes) is "
             "skipped; the records after it are read", j->dir, name, off, next - off);
        off = next;
    }
    free(d);
out:
    if (damaged) {
        char kept[48];
        snprintf(kept, sizeof kept, "%s.damaged", name);
        if (renameat(j->dirfd, name, j->dirfd, kept) == 0)
            jlog(j, "journal %s: %s is kept as %s", j->dir, name, kept);
    }
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The segment numbers in the directory, ascending. */
static int list_segments(faas__journal *j, uint64_t **out, size_t *count)
{
    int fd = dup(j->dirfd);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (dir == NULL) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    uint64_t *seqs = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        uint64_t s = seg_seq(de->d_name);
        if (s == 0)
            continue;
        if (n == cap) {
            uint64_t *m = realloc(seqs, (cap = cap * 2 + 16) * sizeof *m);
            if (m == NULL) {
                free(seqs);
                closedir(dir);
                errno = ENOMEM;
                return -1;
            }
            seqs = m;
        }
        seqs[n++] = s;
    }
    closedir(dir);
    if (n > 0)
        qsort(seqs, n, sizeof *seqs, cmp_u64);
    *out = seqs;
    *count = n;
    return 0;
}

/* ---- open and close ------------------------------------------------------------------------- */

static void journal_free(faas__journal *j)
{
    while (j->replay_head != NULL) {
        faas__jreplay *r = j->replay_head;
        j->replay_head = r->rnext;
        replay_free(r);
    }
    if (j->fd >= 0)
        close(j->fd);
    if (j->lockfd >= 0)
        close(j->lockfd);               /* releases the flock */
    if (j->dirfd >= 0)
        close(j->dirfd);
    free(j->buf);
    free(j->spare);
    free(j->doomed);
    pthread_cond_destroy(&j->cv[0]);
    pthread_cond_destroy(&j->cv[1]);
    pthread_mutex_destroy(&j->lock);
    free(j->dir);
    free(j->abs);
    free(j);
}

/* Read the files, then start segment max + 1 with the live calls and delete the others. */
static int recover(faas__journal *j)
{
    uint64_t *seqs = NULL;
    size_t n = 0;
    if (list_segments(j, &seqs, &n) != 0)
        return faas__fail(errno == ENOMEM ? FAAS_ENOMEM : FAAS_EIO,
                          "journal %s: cannot list it: %s", j->dir, strerror(errno));
    reader rd = { .j = j };
    for (size_t i = 0; i < n; i++) {
        char name[32];
        seg_name(name, seqs[i]);
        if (read_segment(&rd, name, seqs[i]) != 0) {
            int e = errno;
            HASH_CLEAR(hh, rd.map);
            for (faas__jreplay *r = rd.head, *next; r != NULL; r = next) {
                next = r->rnext;
                replay_free(r);
            }
            free(seqs);
            return e == ENOMEM
                ? faas__fail(FAAS_ENOMEM, "journal %s: out of memory reading it", j->dir)
                : faas__fail(FAAS_EIO, "journal %s: cannot read %s: %s", j->dir, name,
                             strerror(e));
        }
    }
    HASH_CLEAR(hh, rd.map);
    if (n > 0 && seqs[n - 1] == UINT64_MAX) {
        /* No number follows it: the next segment would be 0, which is not a segment's
         * number, and the calls written to it would be lost at the start after. Nothing
         * is deleted. */
        for (faas__jreplay *r = rd.head, *next; r != NULL; r = next) {
            next = r->rnext;
            replay_free(r);
        }
        free(seqs);
        return faas__fail(FAAS_EIO, "journal %s: a segment is numbered ffffffffffffffff, "
                          "the last there can be: move the directory's files aside, replay "
                          "them with a journal of their own renumbered from 1", j->dir);
    }
    /* The live calls, in order, into the list, the replay queue and the buffer. */
    size_t bytes = 0;
    for (faas__jreplay *r = rd.head; r != NULL; r = r->rnext)
        if (r->e.kind == FAAS__JE_REPLAY)
            bytes += r->e.size;
    j->seq = n > 0 ? seqs[n - 1] + 1 : 1;
    int rc = reserve(j, bytes ? bytes : 1);
    for (faas__jreplay *r = rd.head, *next; r != NULL; r = next) {
        next = r->rnext;
        r->rnext = NULL;
        if (r->e.kind != FAAS__JE_REPLAY || rc != 0) {
            replay_free(r);
            continue;
        }
        encode(j->salt_crc, j->buf + j->len, REC_ACCEPT, r->no_retry ? FLAG_NO_RETRY : 0,
               r->id, r->name, strlen(r->name), r->payload, r->len);
        j->len += r->e.size;
        j->appended += r->e.size;
        r->e.end = j->appended;
        live_add(j, &r->e);
        if (j->replay_tail != NULL)
            j->replay_tail->rnext = r;
        else
            j->replay_head = r;
        j->replay_tail = r;
        j->nreplay++;
    }
    if (rc != 0) {
        free(seqs);
        return faas__fail(FAAS_ENOMEM, "journal %s: out of memory reading it", j->dir);
    }
    j->st.recovered = j->nreplay;
    j->fd = create_segment(j, j->seq);
    if (j->fd < 0) {
        free(seqs);
        return faas__fail(FAAS_EIO, "journal %s: cannot create a segment: %s", j->dir,
                          strerror(errno));
    }
    j->seg_bytes = j->zeroed = SEG_HDR;
    if (j->len > 0) {
        if (segment_write(j, j->fd, j->buf, j->len, SEG_HDR) != 0 || fdatasync(j->fd) != 0) {
            free(seqs);
            return faas__fail(FAAS_EIO, "journal %s: cannot write: %s", j->dir,
                              strerror(errno));
        }
        j->seg_bytes += j->len;
        j->written = j->durable = j->sync_want = j->appended;
        j->len = 0;
        j->st.syncs++;
    }
    /* The live calls are in the new segment, durably: the others go. */
    for (size_t i = 0; i < n; i++) {
        char name[32];
        seg_name(name, seqs[i]);
        if (unlinkat(j->dirfd, name, 0) != 0 && errno != ENOENT)
            jlog(j, "ERROR journal %s: cannot delete %s: %s", j->dir, name, strerror(errno));
        fsync(j->dirfd);
    }
    if (j->nreplay > 0)
        jlog(j, "journal %s: %" PRIu64 " calls to replay", j->dir, j->nreplay);
    free(seqs);
    return FAAS_OK;
}

const char *faas__journal_path(const faas__journal *j)
{
    return j->abs;
}

int faas__journal_open(faas_runtime *rt, const char *dir, size_t segment_bytes,
                       faas__journal **out)
{
    *out = NULL;
    if (dir[0] == '\0')
        return faas__fail(FAAS_EINVAL, "faas_runtime_new: journal_dir is empty");
    faas__journal *j = calloc(1, sizeof *j);
    if (j == NULL || (j->dir = strdup(dir)) == NULL) {
        free(j);
        return faas__fail(FAAS_ENOMEM, "faas_runtime_new: out of memory");
    }
    j->rt = rt;
    j->fd = j->dirfd = j->lockfd = -1;
    j->seg_max = segment_bytes ? segment_bytes : DEFAULT_SEGMENT;
    if (j->seg_max < MIN_SEGMENT)
        j->seg_max = MIN_SEGMENT;
    j->live.prev = j->live.next = &j->live;
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->cv[0], NULL);
    pthread_cond_init(&j->cv[1], NULL);
    if (getrandom(&j->salt, sizeof j->salt, 0) != (ssize_t)sizeof j->salt)
        j->salt = faas__rand64();
    unsigned char s[8];
    put64(s, j->salt);
    j->salt_crc = faas__crc32c(0, s, 8);

    int rc;
    if (make_dirs(dir) != 0 ||
        (j->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        rc = faas__fail(errno == ENOMEM ? FAAS_ENOMEM : FAAS_EINVAL,
                        "faas_runtime_new: journal directory %s: %s", dir, strerror(errno));
        goto fail;
    }
    j->abs = realpath(dir, NULL);
    j->lockfd = openat(j->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (j->lockfd < 0) {
        rc = faas__fail(FAAS_EINVAL, "faas_runtime_new: journal directory %s: %s", dir,
                        strerror(errno));
        goto fail;
    }
    if (flock(j->lockfd, LOCK_EX | LOCK_NB) != 0) {
        rc = errno == EWOULDBLOCK
            ? faas__fail(FAAS_EBUSY, "faas_runtime_new: journal directory %s is in use by "
                         "another runtime", dir)
            : faas__fail(FAAS_EIO, "faas_runtime_new: journal directory %s: flock: %s", dir,
                         strerror(errno));
        goto fail;
    }
    rc = recover(j);
    if (rc != FAAS_OK)
        goto fail;
    *out = j;
    return FAAS_OK;
fail:
    journal_free(j);
    return rc;
}

void faas__journal_close(faas__journal *j)
{
    if (j == NULL)
        return;
    pthread_mutex_lock(&j->lock);
    j->closing = true;
    if (j->error == 0 && (j->len > 0 || j->durable < j->written)) {
        j->sync_want = j->appended;     /* the DONE records too: a clean stop keeps them */
        commit(j, j->appended, true);
    }
    bool trim = j->fd >= 0 && j->error == 0;
    unlock_log(j);
    /* A clean stop leaves no zeros behind. Nothing else runs on the journal any more. */
    if (trim && ftruncate(j->fd, (off_t)j->seg_bytes) != 0)
        jlog(j, "journal %s: ftruncate: %s", j->dir, strerror(errno));
    journal_free(j);
}
