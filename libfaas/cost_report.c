/*
 * cost_report.c - what cost adds up to: dollars as text, records as JSON lines (a sink for
 * files, and reading them back), the runtime's totals per function and per tag, and the
 * projection of a recorded workload onto every price model (faas_cost_compare). It reads
 * counters and records; it never prices a live call (that is invoke.c with cost.h).
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#define PICO 1000000000000ull

void faas_free(void *p)
{
    free(p);
}

/* ---- dollars ------------------------------------------------------------------------------ */

int faas_format_usd(uint64_t picousd, int decimals, char *buf, size_t size)
{
    if (buf == NULL && size > 0)
        return faas__fail(FAAS_EINVAL, "faas_format_usd: buf is NULL");
    if (decimals > 12)
        return faas__fail(FAAS_EINVAL, "faas_format_usd: at most 12 decimals, not %d",
                          decimals);
    char frac[13];
    unsigned long long whole;
    if (decimals < 0) {
        whole = picousd / PICO;
        snprintf(frac, sizeof frac, "%012llu", (unsigned long long)(picousd % PICO));
        int n = 12;
        while (n > 2 && frac[n - 1] == '0')     /* exact, at least cents */
            n--;
        frac[n] = '\0';
    } else {
        uint64_t unit = 1;
        for (int i = decimals; i < 12; i++)
            unit *= 10;
        unsigned __int128 v = ((unsigned __int128)picousd + unit / 2) / unit;
        uint64_t scale = PICO / unit;           /* 10^decimals */
        whole = (unsigned long long)(v / scale);
        if (decimals > 0)
            snprintf(frac, sizeof frac, "%0*llu", decimals,
                     (unsigned long long)(v % scale));
        else
            frac[0] = '\0';
    }
    return snprintf(buf, size, "$%llu%s%s", whole, frac[0] ? "." : "", frac);
}

/* ---- records as JSON lines ----------------------------------------------------------------- */

/* The line is built by hand, not with snprintf: a record sink formats one per call, and
 * this is about a tenth of the instructions. */

/* s as a JSON string, quotes included, at p; returns the end. Needs 6 bytes per input
 * byte + 2. */
static char *put_json_string(char *p, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    *p++ = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(p, "\\u00", 4);
            p[4] = hex[c >> 4];
            p[5] = hex[c & 15];
            p += 6;
        } else {
            *p++ = (char)c;
        }
    }
    *p++ = '"';
    return p;
}

static char *put_lit(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

static char *put_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return put_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return put_u64(p, (uint64_t)v);
}

/* The longest line: the fixed text and numbers (under 400 bytes), a request id, a
 * function name and a tag, each escaped at worst 6 bytes per byte. */
#define RECORD_LINE_MAX (400 + 6 * (36 + FAAS__NAME_MAX + FAAS__TAG_MAX))

static size_t record_line(const faas_record *r, char *out)
{
    char *p = out;
    char id[37];
    memcpy(id, r->request_id, 36);
    id[36] = '\0';
    p = put_lit(p, "{\"request_id\":");
    p = put_json_string(p, id);
    p = put_lit(p, ",\"function\":");
    if (r->function != NULL && strlen(r->function) <= FAAS__NAME_MAX)
        p = put_json_string(p, r->function);
    else
        p = put_lit(p, "null");
    p = put_lit(p, ",\"tag\":");
    if (r->tag != NULL && strlen(r->tag) <= FAAS__TAG_MAX)
        p = put_json_string(p, r->tag);
    else
        p = put_lit(p, "null");
    p = put_lit(p, ",\"status\":");
    p = put_i64(p, r->status);
    p = put_lit(p, ",\"status_name\":\"");
    p = put_lit(p, faas_err_name(r->status));
    p = put_lit(p, r->cold ? "\",\"cold\":true,\"attempt\":" : "\",\"cold\":false,\"attempt\":");
    p = put_i64(p, r->attempt);
    p = put_lit(p, ",\"init_ns\":");
    p = put_u64(p, r->init_ns);
    p = put_lit(p, ",\"duration_ns\":");
    p = put_u64(p, r->duration_ns);
    p = put_lit(p, ",\"cpu_ns\":");
    p = put_u64(p, r->cpu_ns);
    p = put_lit(p, ",\"billed_ms\":");
    p = put_u64(p, r->billed_ms);
    p = put_lit(p, ",\"memory_mb\":");
    p = put_u64(p, r->memory_mb);
    p = put_lit(p, ",\"max_memory_bytes\":");
    p = put_u64(p, r->max_memory_bytes);
    p = put_lit(p, ",\"cost_picousd\":");
    p = put_u64(p, r->cost_picousd);
    *p++ = '}';
    *p = '\0';
    return (size_t)(p - out);
}

int faas_record_json(const faas_record *r, char *buf, size_t size)
{
    if (r == NULL || (buf == NULL && size > 0))
        return faas__fail(FAAS_EINVAL, "faas_record_json: NULL argument");
    char line[RECORD_LINE_MAX + 1];
    size_t n = record_line(r, line);
    if (size > 0) {
        size_t copy = n < size ? n : size - 1;
        memcpy(buf, line, copy);
        buf[copy] = '\0';
    }
    return (int)n;
}

int faas_record_write(const faas_record *r, int fd)
{
    if (r == NULL)
        return faas__fail(FAAS_EINVAL, "faas_record_write: record is NULL");
    char line[RECORD_LINE_MAX + 2];
    size_t n = record_line(r, line);
    line[n++] = '\n';
    /* One write: lines from several threads appending to one O_APPEND file do not mix. */
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, line + done, n - done);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return faas__fail(FAAS_EINVAL, "faas_record_write: write(%d): %s", fd,
                              strerror(errno));
        }
        done += (size_t)w;
    }
    return FAAS_OK;
}

/* faas_records_load() hands out one block: this header, the records, then their strings;
 * faas_records_free() frees it through the first record. */
typedef struct records_block {
    size_t count;
    _Alignas(16) faas_record recs[];
} records_block;

/* Strings met while loading, each kept once. */
typedef struct interned {
    UT_hash_handle hh;
    size_t         offset;          /* in the final block's string area */
    char           text[];
} interned;

static const char *intern(interned **set, const char *s, size_t *bytes, int *nomem)
{
    interned *e = NULL;
    HASH_FIND_STR(*set, s, e);
    if (e == NULL) {
        size_t n = strlen(s) + 1;
        e = malloc(sizeof *e + n);
        if (e == NULL) {
            *nomem = 1;
            return NULL;
        }
        memcpy(e->text, s, n);
        e->offset = *bytes;
        *bytes += n;
        HASH_ADD_STR(*set, text, e);
    }
    return e->text;
}

static int get_u64(json_t *o, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL)
        return 0;                       /* absent: 0 */
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int record_from_json(json_t *o, faas_record *r, interned **set, size_t *bytes,
                            int *nomem)
{
    memset(r, 0, sizeof *r);
    if (!json_is_object(o))
        return -1;
    json_t *fn = json_object_get(o, "function"), *tag = json_object_get(o, "tag");
    json_t *id = json_object_get(o, "request_id"), *st = json_object_get(o, "status");
    if (!json_is_string(fn) || !faas__valid_name(json_string_value(fn), NULL))
        return -1;
    if (tag != NULL && !json_is_null(tag) && !json_is_string(tag))
        return -1;
    if (st != NULL && !json_is_integer(st))
        return -1;
    if (id != NULL && json_is_string(id))
        snprintf(r->request_id, sizeof r->request_id, "%s", json_string_value(id));
    r->function = intern(set, json_string_value(fn), bytes, nomem);
    if (json_is_string(tag))
        r->tag = intern(set, json_string_value(tag), bytes, nomem);
    r->status = st ? (int)json_integer_value(st) : FAAS_OK;
    json_t *cold = json_object_get(o, "cold");
    r->cold = cold != NULL && json_is_true(cold);
    uint64_t attempt = 1, billed = 0, mem = 128;
    if (get_u64(o, "attempt", &attempt) || get_u64(o, "init_ns", &r->init_ns) ||
        get_u64(o, "duration_ns", &r->duration_ns) || get_u64(o, "cpu_ns", &r->cpu_ns) ||
        get_u64(o, "billed_ms", &billed) || get_u64(o, "memory_mb", &mem) ||
        get_u64(o, "max_memory_bytes", &r->max_memory_bytes) ||
        get_u64(o, "cost_picousd", &r->cost_picousd))
        return -1;
    if (attempt > INT32_MAX || billed > UINT32_MAX || mem == 0 || mem > (1u << 20))
        return -1;
    r->attempt = (int)attempt;
    r->billed_ms = (uint32_t)billed;
    r->memory_mb = (uint32_t)mem;
    return 0;
}

int faas_records_load(const char *path, faas_record **recs, size_t *count)
{
    if (path == NULL || recs == NULL || count == NULL)
        return faas__fail(FAAS_EINVAL, "faas_records_load: NULL argument");
    *recs = NULL;
    *count = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return faas__fail(FAAS_ENOTFOUND, "faas_records_load: %s: %s", path,
                          strerror(errno));
    faas_record *arr = NULL;
    size_t n = 0, cap = 0, bytes = 0;
    interned *set = NULL;
    int rc = FAAS_OK, nomem = 0;
    char *line = NULL;
    size_t linecap = 0;
    unsigned long lineno = 0;
    ssize_t got;
    while (rc == FAAS_OK && (got = getline(&line, &linecap, f)) >= 0) {
        lineno++;
        size_t len = (size_t)got;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
                           line[len - 1] == ' '))
            len--;
        if (len == 0)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 1024;
            faas_record *bigger = realloc(arr, ncap * sizeof *arr);
            if (bigger == NULL) {
                rc = faas__fail(FAAS_ENOMEM, "faas_records_load: out of memory");
                break;
            }
            arr = bigger;
            cap = ncap;
        }
        json_error_t jerr;
        json_t *o = json_loadb(line, len, 0, &jerr);
        if (o == NULL || record_from_json(o, &arr[n], &set, &bytes, &nomem) != 0) {
            rc = nomem ? faas__fail(FAAS_ENOMEM, "faas_records_load: out of memory")
                       : faas__fail(FAAS_EINVAL, "faas_records_load: %s:%lu: %s", path,
                                    lineno, o ? "not a libfaas record" : jerr.text);
        } else if (nomem) {
            rc = faas__fail(FAAS_ENOMEM, "faas_records_load: out of memory");
        } else {
            n++;
        }
        json_decref(o);
    }
    if (rc == FAAS_OK && ferror(f))
        rc = faas__fail(FAAS_EINVAL, "faas_records_load: %s: read error", path);
    free(line);
    fclose(f);

    records_block *blk = NULL;
    if (rc == FAAS_OK) {
        blk = malloc(sizeof *blk + n * sizeof(faas_record) + bytes);
        if (blk == NULL)
            rc = faas__fail(FAAS_ENOMEM, "faas_records_load: out of memory");
    }
    if (rc == FAAS_OK) {
        blk->count = n;
        char *strings = (char *)(blk->recs + n);
        interned *e, *tmp;
        HASH_ITER(hh, set, e, tmp)
            memcpy(strings + e->offset, e->text, strlen(e->text) + 1);
        for (size_t i = 0; i < n; i++) {
            blk->recs[i] = arr[i];
            /* Re-point at the block's copies: the interned text is about to go. */
            interned *hit = NULL;
            HASH_FIND_STR(set, arr[i].function, hit);
            blk->recs[i].function = strings + hit->offset;
            if (arr[i].tag != NULL) {
                HASH_FIND_STR(set, arr[i].tag, hit);
                blk->recs[i].tag = strings + hit->offset;
            }
        }
        *recs = blk->recs;
        *count = n;
    }
    interned *e, *tmp;
    HASH_ITER(hh, set, e, tmp) {
        HASH_DEL(set, e);
        free(e);
    }
    free(arr);
    return rc;
}

void faas_records_free(faas_record *recs, size_t count)
{
    (void)count;
    if (recs != NULL)
        free(faas__container_of(recs, records_block, recs));
}

/* ---- rows ----------------------------------------------------------------------------------- */

/* Rows and the strings they point to, handed out as one block released with faas_free(). */
typedef struct row_builder {
    faas_cost_row *rows;
    size_t         n, cap;
    char          *strings;         /* appended texts; rows point into them by offset */
    size_t         bytes, strcap;
    int            nomem;
} row_builder;

/* Offsets are kept in the pointer fields until the block is made: 1 + offset, 0 = NULL. */
static uintptr_t rb_string(row_builder *b, const char *s)
{
    if (s == NULL)
        return 0;
    size_t n = strlen(s) + 1;
    if (b->bytes + n > b->strcap) {
        size_t cap = b->strcap ? b->strcap * 2 : 1024;
        while (cap < b->bytes + n)
            cap *= 2;
        char *bigger = realloc(b->strings, cap);
        if (bigger == NULL) {
            b->nomem = 1;
            return 0;
        }
        b->strings = bigger;
        b->strcap = cap;
    }
    memcpy(b->strings + b->bytes, s, n);
    b->bytes += n;
    return 1 + (b->bytes - n);
}

static faas_cost_row *rb_add(row_builder *b, const char *model, int group, const char *name)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        faas_cost_row *bigger = realloc(b->rows, cap * sizeof *bigger);
        if (bigger == NULL) {
            b->nomem = 1;
            return NULL;
        }
        b->rows = bigger;
        b->cap = cap;
    }
    faas_cost_row *r = &b->rows[b->n];
    memset(r, 0, sizeof *r);
    uintptr_t m = rb_string(b, model), nm = rb_string(b, name);
    if (b->nomem)
        return NULL;
    r->model = (const char *)m;
    r->name = (const char *)nm;
    r->group = group;
    b->n++;
    return r;
}

static int rb_finish(row_builder *b, const char *who, faas_cost_row **rows, size_t *count)
{
    faas_cost_row *out = NULL;
    if (!b->nomem)
        out = malloc(b->n * sizeof *out + b->bytes + 1);
    if (out == NULL) {
        free(b->rows);
        free(b->strings);
        return faas__fail(FAAS_ENOMEM, "%s: out of memory", who);
    }
    char *strings = (char *)(out + b->n);
    if (b->bytes)
        memcpy(strings, b->strings, b->bytes);
    for (size_t i = 0; i < b->n; i++) {
        out[i] = b->rows[i];
        uintptr_t m = (uintptr_t)out[i].model, nm = (uintptr_t)out[i].name;
        out[i].model = m ? strings + m - 1 : NULL;
        out[i].name = nm ? strings + nm - 1 : NULL;
    }
    free(b->rows);
    free(b->strings);
    *rows = out;
    *count = b->n;
    return FAAS_OK;
}

/* ---- the runtime's totals --------------------------------------------------------------- */

static void add_sums(faas_cost_row *r, const faas__sums *s, uint64_t request_price)
{
    uint64_t request = s->invocations * request_price;
    r->calls += s->invocations;
    r->mb_ms += s->mb_ms;
    r->unit2_ms += s->unit2_ms;
    r->request_picousd += request;
    r->compute_picousd += faas__compute_part(s->cost_pusd, request);
    r->total_picousd += s->cost_pusd;
}

/* Rows by name, untagged (NULL) last. */
static int by_name(const void *a, const void *b)
{
    const faas_cost_row *x = a, *y = b;
    if (x->name == NULL || y->name == NULL)
        return (x->name == NULL) - (y->name == NULL);
    return strcmp(x->name, y->name);
}

int faas_cost_totals(faas_runtime *rt, int group, faas_cost_row **rows, size_t *count)
{
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_cost_totals: runtime is NULL");
    if (rows == NULL || count == NULL)
        return faas__fail(FAAS_EINVAL, "faas_cost_totals: rows and count must not be NULL");
    *rows = NULL;
    *count = 0;
    if (group != FAAS_COST_TOTAL && group != FAAS_COST_FUNCTION && group != FAAS_COST_TAG)
        return faas__fail(FAAS_EINVAL, "faas_cost_totals: group %d is not a "
                          "FAAS_COST_* value", group);
    const faas_price_model *p = rt->price;
    /* One row per function, keyed by its name or its tag (pointers into the name blocks,
     * valid under the registry lock): sorted, then runs of one key merged. */
    pthread_rwlock_rdlock(&rt->reg_lock);
    size_t n = HASH_COUNT(rt->fns);
    faas_cost_row *per = calloc(n ? n : 1, sizeof *per);
    row_builder b = { 0 };
    if (per == NULL)
        b.nomem = 1;
    size_t i = 0;
    faas_function *fn, *tmp;
    HASH_ITER(hh, rt->fns, fn, tmp) {
        if (per == NULL)
            break;
        faas__sums s;
        faas__counters_sum(fn->counters, &s);
        per[i].name = group == FAAS_COST_FUNCTION ? fn->name->name
                    : group == FAAS_COST_TAG ? fn->name->tag : NULL;
        add_sums(&per[i], &s, p->request_picousd);
        i++;
    }
    if (per != NULL && n > 1 && group != FAAS_COST_TOTAL)
        qsort(per, n, sizeof *per, by_name);
    for (size_t a = 0; per != NULL && (a < n || (a == 0 && group == FAAS_COST_TOTAL)); ) {
        faas_cost_row sum = per[a];
        size_t c = a + 1;
        for (; c < n; c++) {
            bool same = group == FAAS_COST_TOTAL ||
                        (group == FAAS_COST_TAG &&
                         ((per[c].name == NULL && sum.name == NULL) ||
                          (per[c].name && sum.name && strcmp(per[c].name, sum.name) == 0)));
            if (!same)
                break;
            sum.calls += per[c].calls;
            sum.mb_ms += per[c].mb_ms;
            sum.unit2_ms += per[c].unit2_ms;
            sum.request_picousd += per[c].request_picousd;
            sum.compute_picousd += per[c].compute_picousd;
            sum.total_picousd += per[c].total_picousd;
        }
        faas_cost_row *r = rb_add(&b, p->name, group, sum.name);
        if (r == NULL)
            break;
        const char *model = r->model, *name = r->name;
        *r = sum;
        r->model = model;
        r->name = name;
        r->group = group;
        a = c;
    }
    pthread_rwlock_unlock(&rt->reg_lock);
    free(per);
    return rb_finish(&b, "faas_cost_totals", rows, count);
}

/* ---- projection ----------------------------------------------------------------------------- */

/* A group's usage under one model, as recorded (128-bit: millions of long calls). */
typedef struct usage {
    const char        *name;        /* function or tag (NULL: untagged / the total) */
    int                group;
    unsigned __int128  calls, mb_ms, unit2_ms;
    int                cpu_estimated;
} usage;

/* Names met in the records -> their group's index; one set for functions, one for tags. */
typedef struct group_name {
    UT_hash_handle hh;
    const char    *name;            /* the record's string */
    size_t         index;
} group_name;

static uint64_t sat64(unsigned __int128 v)
{
    return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

/* round-half-up(v x num / den), saturating. */
static unsigned __int128 scale128(unsigned __int128 v, uint64_t num, uint64_t den)
{
    if (den == 0)
        return 0;
    if (v > (~(unsigned __int128)0 - den / 2) / (num ? num : 1))
        return ~(unsigned __int128)0;
    return (v * num + den / 2) / den;
}

static bool billed(const faas_record *r)
{
    return r->status != FAAS_ETHROTTLED && r->status != FAAS_EBUDGET;
}

/* Price the usage u (already scaled) on model m into row: request and compute before the
 * free tier; for a total, the free tier and the monthly fee too. */
static void price_usage(const faas_price_model *m, const usage *u, bool total,
                        faas_cost_row *row)
{
    unsigned __int128 calls = u->calls, mb_ms = u->mb_ms, u2 = u->unit2_ms;
    row->calls = sat64(calls);
    row->mb_ms = sat64(mb_ms);
    row->unit2_ms = sat64(u2);
    row->cpu_estimated = u->cpu_estimated;
    unsigned __int128 req = calls * m->request_picousd;
    unsigned __int128 comp = scale128(mb_ms, m->gbs_picousd, 1024000u) +
                             scale128(u2, m->unit2_picousd, 1000000u);
    row->request_picousd = sat64(req);
    row->compute_picousd = sat64(comp);
    if (!total) {
        row->total_picousd = sat64(req + comp);
        return;
    }
    /* The free tier comes off each dimension, never below zero. */
    unsigned __int128 free_mb_ms = (unsigned __int128)m->free_gb_seconds * 1024000u;
    unsigned __int128 free_u2 = (unsigned __int128)m->free_unit2_seconds * 1000000u;
    unsigned __int128 c2 = calls > m->free_requests ? calls - m->free_requests : 0;
    unsigned __int128 mb2 = mb_ms > free_mb_ms ? mb_ms - free_mb_ms : 0;
    unsigned __int128 u22 = u2 > free_u2 ? u2 - free_u2 : 0;
    unsigned __int128 after = c2 * m->request_picousd +
                              scale128(mb2, m->gbs_picousd, 1024000u) +
                              scale128(u22, m->unit2_picousd, 1000000u);
    row->fixed_picousd = m->monthly_picousd;
    row->free_picousd = sat64(req + comp - after);
    row->total_picousd = sat64(after + m->monthly_picousd);
}

/* Functions before tags, each by name, untagged last (the total stays first). */
static int group_order(const void *a, const void *b)
{
    const usage *x = a, *y = b;
    if (x->group != y->group)
        return x->group - y->group;
    if (x->name == NULL || y->name == NULL)
        return (x->name == NULL) - (y->name == NULL);
    return strcmp(x->name, y->name);
}

/* The index of NAME's group (made if new): looked up in set, or, for NULL (untagged), kept
 * in *null_index. SIZE_MAX when out of memory. */
static size_t group_of(group_name **set, size_t *null_index, usage **groups, size_t *ng,
                       size_t *cap, int group, const char *name)
{
    group_name *e = NULL;
    if (name == NULL && *null_index != SIZE_MAX)
        return *null_index;
    if (name != NULL) {
        HASH_FIND_STR(*set, name, e);
        if (e != NULL)
            return e->index;
        e = malloc(sizeof *e);
        if (e == NULL)
            return SIZE_MAX;
    }
    if (*ng == *cap) {
        usage *bigger = realloc(*groups, *cap * 2 * sizeof *bigger);
        if (bigger == NULL) {
            free(e);
            return SIZE_MAX;
        }
        *groups = bigger;
        *cap *= 2;
    }
    memset(&(*groups)[*ng], 0, sizeof (*groups)[*ng]);
    (*groups)[*ng].group = group;
    (*groups)[*ng].name = name;
    if (name == NULL) {
        *null_index = *ng;
    } else {
        e->name = name;
        e->index = *ng;
        HASH_ADD_KEYPTR(hh, *set, name, strlen(name), e);
    }
    return (*ng)++;
}

int faas_cost_compare(const faas_record *recs, size_t count, uint64_t monthly_calls,
                      const faas_price_model *const *models, size_t nmodels,
                      faas_cost_row **rows, size_t *nrows)
{
    if ((recs == NULL && count > 0) || rows == NULL || nrows == NULL ||
        (models == NULL && nmodels > 0))
        return faas__fail(FAAS_EINVAL, "faas_cost_compare: NULL argument");
    *rows = NULL;
    *nrows = 0;
    const faas_price_model *presets[64];
    if (models == NULL) {
        while (nmodels < 64 && faas_price_model_preset(nmodels) != NULL) {
            presets[nmodels] = faas_price_model_preset(nmodels);
            nmodels++;
        }
        models = presets;
    }
    for (size_t k = 0; k < nmodels; k++) {
        int rc = faas__price_check(models[k]);
        if (rc != FAAS_OK)
            return rc;
    }
    /* Each billed record's function group and tag group, found once (hashed by name). */
    size_t cap = 16, ng = 1;
    usage *groups = calloc(cap, sizeof *groups);
    size_t *gidx = malloc((count ? count : 1) * 2 * sizeof *gidx);
    group_name *fset = NULL, *tset = NULL;
    size_t no_function = SIZE_MAX, untagged = SIZE_MAX;
    int rc = FAAS_OK;
    if (groups == NULL || gidx == NULL)
        rc = faas__fail(FAAS_ENOMEM, "faas_cost_compare: out of memory");
    else
        groups[0].group = FAAS_COST_TOTAL;
    uint64_t recorded = 0;
    for (size_t i = 0; i < count && rc == FAAS_OK; i++) {
        if (!billed(&recs[i]))
            continue;
        if (recs[i].function == NULL) {
            rc = faas__fail(FAAS_EINVAL, "faas_cost_compare: record %zu has no function", i);
            break;
        }
        recorded++;
        gidx[2 * i] = group_of(&fset, &no_function, &groups, &ng, &cap, FAAS_COST_FUNCTION,
                               recs[i].function);
        gidx[2 * i + 1] = group_of(&tset, &untagged, &groups, &ng, &cap, FAAS_COST_TAG,
                                   recs[i].tag);
        if (gidx[2 * i] == SIZE_MAX || gidx[2 * i + 1] == SIZE_MAX)
            rc = faas__fail(FAAS_ENOMEM, "faas_cost_compare: out of memory");
    }
    group_name *e, *tmp;
    HASH_ITER(hh, fset, e, tmp) {
        HASH_DEL(fset, e);
        free(e);
    }
    HASH_ITER(hh, tset, e, tmp) {
        HASH_DEL(tset, e);
        free(e);
    }
    /* Sort the groups, and follow them with the records' indices. */
    size_t *where = rc == FAAS_OK ? malloc(ng * sizeof *where) : NULL;
    if (rc == FAAS_OK && where == NULL)
        rc = faas__fail(FAAS_ENOMEM, "faas_cost_compare: out of memory");
    if (rc == FAAS_OK) {
        for (size_t g = 0; g < ng; g++)
            groups[g].calls = g;                /* remember the old index while sorting */
        qsort(groups + 1, ng - 1, sizeof *groups, group_order);
        for (size_t g = 0; g < ng; g++)
            where[(size_t)groups[g].calls] = g;
        for (size_t i = 0; i < count; i++)
            if (billed(&recs[i])) {
                gidx[2 * i] = where[gidx[2 * i]];
                gidx[2 * i + 1] = where[gidx[2 * i + 1]];
            }
    }
    free(where);

    row_builder b = { 0 };
    uint64_t target = monthly_calls ? monthly_calls : recorded;
    for (size_t k = 0; k < nmodels && rc == FAAS_OK; k++) {
        const faas_price_model *m = models[k];
        for (size_t g = 0; g < ng; g++) {
            groups[g].calls = groups[g].mb_ms = groups[g].unit2_ms = 0;
            groups[g].cpu_estimated = 0;
        }
        for (size_t i = 0; i < count; i++) {
            const faas_record *r = &recs[i];
            if (!billed(r))
                continue;
            faas_record copy = *r;
            int estimated = 0;
            if (m->time_basis == FAAS_TIME_CPU && r->cpu_ns == 0 && r->duration_ns != 0) {
                copy.cpu_ns = r->duration_ns;   /* an upper bound on one thread's CPU time */
                estimated = 1;
            }
            faas__fnprice fp;
            faas__price_fn(m, r->memory_mb, &fp);
            faas__bill bill;
            faas__bill_call(m, &fp, &copy, &bill);
            usage *hit[3] = { &groups[0], &groups[gidx[2 * i]], &groups[gidx[2 * i + 1]] };
            for (int h = 0; h < 3; h++) {
                hit[h]->calls += 1;
                hit[h]->mb_ms += bill.mb_ms;
                hit[h]->unit2_ms += bill.unit2_ms;
                hit[h]->cpu_estimated |= estimated;
            }
        }
        for (size_t g = 0; g < ng; g++) {
            usage u = groups[g];
            if (recorded != 0 && target != recorded) {
                /* Every group scales by the same factor: monthly / recorded calls. */
                u.calls = g == 0 ? target : scale128(u.calls, target, recorded);
                u.mb_ms = scale128(u.mb_ms, target, recorded);
                u.unit2_ms = scale128(u.unit2_ms, target, recorded);
            }
            faas_cost_row *row = rb_add(&b, m->name, groups[g].group, groups[g].name);
            if (row == NULL)
                break;
            const char *model = row->model, *name = row->name;
            price_usage(m, &u, g == 0, row);
            row->model = model;
            row->name = name;
            row->group = groups[g].group;
        }
    }
    free(groups);
    free(gidx);
    if (rc != FAAS_OK) {
        free(b.rows);
        free(b.strings);
        return rc;
    }
    return rb_finish(&b, "faas_cost_compare", rows, nrows);
}
