/*
 * tz.c - time zones from TZif files (RFC 8536): the transitions of the version 2+ data
 * block, and the POSIX TZ string of its footer for the times after the last transition
 * (every year to 2199 for a schedule). Pure functions of an immutable faas__tz, so one
 * zone may be read from any number of threads. It knows nothing of libfaas.
 */
#include "tz.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TZ_FILE_MAX   (1u << 20)     /* real zone files are under 4 KB */
#define TZ_TIMES_MAX  100000u        /* transitions: the largest zones have a few hundred */
#define TZ_NAME_MAX   255
#define OFFSET_MAX    (26 * 3600)    /* |UT offset| below 26 h: faas__tz_to_utc relies on it */
#define DEFAULT_TZDIR "/usr/share/zoneinfo"

/* A date of a POSIX TZ rule: Jn (1-365, February 29 never counted), n (0-365), or
 * Mm.w.d (day d of week w of month m, w 5 = the last). */
enum rule_kind { RULE_JULIAN1, RULE_JULIAN0, RULE_MWD };

typedef struct rule {
    enum rule_kind kind;
    int      day, week, month;
    int32_t  time;                   /* seconds after local midnight, -167 h to 167 h */
} rule;

struct faas__tz {
    size_t   timecnt;
    int64_t *times;                  /* transition instants, ascending */
    uint8_t *types;                  /* the type each transition switches to */
    size_t   typecnt;
    int32_t *utoff;                  /* per type: seconds east of UTC */
    bool     has_footer;             /* the footer rules times past the last transition */
    int32_t  std_off, dst_off;       /* footer: seconds east of UTC */
    bool     has_dst;
    rule     start, end;             /* footer: DST from start to end (local times) */
};

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* ---- the civil calendar -------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
int64_t faas__days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void faas__civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* ---- the footer: a POSIX TZ string ---------------------------------------------------- */

typedef struct cursor {
    const char *p, *end;
} cursor;

static bool at(const cursor *c, char ch)
{
    return c->p < c->end && *c->p == ch;
}

static bool digit(const cursor *c)
{
    return c->p < c->end && *c->p >= '0' && *c->p <= '9';
}

static bool number(cursor *c, int min, int max, int *out)
{
    if (!digit(c))
        return false;
    int v = 0;
    while (digit(c)) {
        v = v * 10 + (*c->p++ - '0');
        if (v > max)
            return false;
    }
    if (v < min)
        return false;
    *out = v;
    return true;
}

/* A zone abbreviation: three or more letters, or <...> of letters, digits, + and -. */
static bool abbreviation(cursor *c)
{
    const char *start = c->p;
    if (at(c, '<')) {
        c->p++;
        while (c->p < c->end && *c->p != '>') {
            char ch = *c->p;
            if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                  (ch >= '0' && ch <= '9') || ch == '+' || ch == '-'))
                return false;
            c->p++;
        }
        if (!at(c, '>') || c->p - start < 4)
            return false;
        c->p++;
        return true;
    }
    while (c->p < c->end && ((*c->p >= 'A' && *c->p <= 'Z') || (*c->p >= 'a' && *c->p <= 'z')))
        c->p++;
    return c->p - start >= 3;
}

/* [+-]hh[:mm[:ss]] with hh up to max_hours, in seconds. */
static bool hms(cursor *c, int max_hours, int32_t *out)
{
    int sign = 1, h, m = 0, s = 0;
    if (at(c, '+') || at(c, '-'))
        sign = *c->p++ == '-' ? -1 : 1;
    if (!number(c, 0, max_hours, &h))
        return false;
    if (at(c, ':')) {
        c->p++;
        if (!number(c, 0, 59, &m))
            return false;
        if (at(c, ':')) {
            c->p++;
            if (!number(c, 0, 59, &s))
                return false;
        }
    }
    *out = sign * (h * 3600 + m * 60 + s);
    return true;
}

static bool rule_date(cursor *c, rule *r)
{
    r->time = 7200;                              /* 02:00:00 unless a /time is given */
    if (at(c, 'J')) {
        c->p++;
        r->kind = RULE_JULIAN1;
        if (!number(c, 1, 365, &r->day))
            return false;
    } else if (at(c, 'M')) {
        c->p++;
        r->kind = RULE_MWD;
        if (!number(c, 1, 12, &r->month) || !at(c, '.'))
            return false;
        c->p++;
        if (!number(c, 1, 5, &r->week) || !at(c, '.'))
            return false;
        c->p++;
        if (!number(c, 0, 6, &r->day))
            return false;
    } else {
        r->kind = RULE_JULIAN0;
        if (!number(c, 0, 365, &r->day))
            return false;
    }
    if (at(c, '/')) {
        c->p++;
        if (!hms(c, 167, &r->time))              /* RFC 8536 allows -167 to 167 hours */
            return false;
    }
    return true;
}

static bool parse_footer(faas__tz *tz, const char *s, size_t len)
{
    cursor c = { s, s + len };
    int32_t off;
    if (len == 0)
        return true;                             /* no footer: the last type goes on */
    if (!abbreviation(&c) || !hms(&c, 24, &off))
        return false;
    tz->has_footer = true;
    tz->std_off = -off;                          /* POSIX counts west of Greenwich */
    if (c.p == c.end)
        return true;
    if (!abbreviation(&c))
        return false;
    tz->has_dst = true;
    tz->dst_off = tz->std_off + 3600;
    if (c.p < c.end && !at(&c, ',')) {
        if (!hms(&c, 24, &off))
            return false;
        tz->dst_off = -off;
    }
    if (c.p == c.end) {                          /* no rule: POSIX leaves it open; US rules */
        tz->start = (rule){ RULE_MWD, 0, 2, 3, 7200 };
        tz->end = (rule){ RULE_MWD, 0, 1, 11, 7200 };
        return true;
    }
    if (!at(&c, ','))
        return false;
    c.p++;
    if (!rule_date(&c, &tz->start) || !at(&c, ','))
        return false;
    c.p++;
    if (!rule_date(&c, &tz->end))
        return false;
    return c.p == c.end;
}

/* Local seconds (as if UTC) of the rule's date and time in year y. */
static int64_t rule_local(const rule *r, int64_t y)
{
    int64_t days;
    switch (r->kind) {
    case RULE_JULIAN1:                           /* Jn: 1-365, February 29 is skipped */
        days = faas__days_from_civil(y, 1, 1) + r->day - 1;
        if (leap(y) && r->day >= 60)
            days++;
        break;
    case RULE_JULIAN0:                           /* n: 0-365 */
        days = faas__days_from_civil(y, 1, 1) + r->day;
        break;
    default: {                                   /* Mm.w.d */
        int64_t first = faas__days_from_civil(y, (unsigned)r->month, 1);
        int wday = (int)((first + 4) % 7 + 7) % 7;            /* 1970-01-01: Thursday */
        int d = (r->day - wday + 7) % 7 + 1 + 7 * (r->week - 1);
        static const int dim[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        int last = dim[r->month - 1] + (r->month == 2 && leap(y));
        while (d > last)
            d -= 7;
        days = first + d - 1;
        break;
    }
    }
    return days * 86400 + r->time;
}

static int32_t footer_offset(const faas__tz *tz, int64_t utc)
{
    if (!tz->has_dst)
        return tz->std_off;
    int64_t y;
    unsigned m, d;
    faas__civil_from_days(floor_div(utc + tz->std_off, 86400), &y, &m, &d);
    /* The change to DST happens at a standard-time clock reading, the change back at a
     * DST reading. */
    int64_t start = rule_local(&tz->start, y) - tz->std_off;
    int64_t end = rule_local(&tz->end, y) - tz->dst_off;
    bool dst = start < end ? (utc >= start && utc < end)      /* northern hemisphere */
                           : !(utc >= end && utc < start);     /* southern: DST spans Jan 1 */
    return dst ? tz->dst_off : tz->std_off;
}

/* ---- the TZif file -------------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct header {
    char     version;
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} header;

static bool read_header(const unsigned char *p, size_t len, header *h)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        return false;
    h->version = (char)p[4];
    h->isutcnt = be32(p + 20);
    h->isstdcnt = be32(p + 24);
    h->leapcnt = be32(p + 28);
    h->timecnt = be32(p + 32);
    h->typecnt = be32(p + 36);
    h->charcnt = be32(p + 40);
    return true;
}

/* Bytes of a data block with time_size-byte times, or 0 if the counts are absurd. */
static size_t block_size(const header *h, size_t time_size)
{
    if (h->timecnt > TZ_TIMES_MAX || h->typecnt > 256 || h->charcnt > 65536 ||
        h->leapcnt > TZ_TIMES_MAX || h->isstdcnt > 256 || h->isutcnt > 256)
        return 0;
    return (size_t)h->timecnt * (time_size + 1) + (size_t)h->typecnt * 6 + h->charcnt +
           (size_t)h->leapcnt * (time_size + 4) + h->isstdcnt + h->isutcnt;
}

void faas__tz_free(faas__tz *tz)
{
    if (tz == NULL)
        return;
    free(tz->times);
    free(tz->types);
    free(tz->utoff);
    free(tz);
}

int faas__tz_parse(const unsigned char *data, size_t len, faas__tz **out, char *err,
                   size_t errlen)
{
    *out = NULL;
    header h;
    if (!read_header(data, len, &h))
        return fail(err, errlen, FAAS__TZ_EINVAL, "not a TZif file");
    size_t time_size = 4;
    const unsigned char *p = data + 44, *end = data + len;
    size_t size = block_size(&h, 4);
    if (size == 0 && (h.timecnt | h.typecnt) != 0)
        return fail(err, errlen, FAAS__TZ_EINVAL, "TZif counts out of range");
    if (h.version >= '2') {                   /* skip the 32-bit block for the 64-bit one */
        if ((size_t)(end - p) < size)
            return fail(err, errlen, FAAS__TZ_EINVAL, "TZif file is truncated");
        p += size;
        if (!read_header(p, (size_t)(end - p), &h))
            return fail(err, errlen, FAAS__TZ_EINVAL, "TZif second header missing");
        p += 44;
        time_size = 8;
        size = block_size(&h, 8);
    }
    if (size == 0 || h.typecnt == 0 || h.charcnt == 0)
        return fail(err, errlen, FAAS__TZ_EINVAL, "TZif counts out of range");
    if ((size_t)(end - p) < size)
        return fail(err, errlen, FAAS__TZ_EINVAL, "TZif file is truncated");
    if (h.leapcnt != 0)
        return fail(err, errlen, FAAS__TZ_EINVAL,
                    "zones with leap seconds (\"right/\") are not supported");
    if ((h.isstdcnt != 0 && h.isstdcnt != h.typecnt) ||
        (h.isutcnt != 0 && h.isutcnt != h.typecnt))
        return fail(err, errlen, FAAS__TZ_EINVAL, "TZif indicator counts are inconsistent");

    faas__tz *tz = calloc(1, sizeof *tz);
    if (tz == NULL)
        return fail(err, errlen, FAAS__TZ_ENOMEM, "out of memory");
    tz->timecnt = h.timecnt;
    tz->typecnt = h.typecnt;
    tz->times = malloc((h.timecnt ? h.timecnt : 1) * sizeof *tz->times);
    tz->types = malloc(h.timecnt ? h.timecnt : 1);
    tz->utoff = malloc(h.typecnt * sizeof *tz->utoff);
    if (tz->times == NULL || tz->types == NULL || tz->utoff == NULL) {
        faas__tz_free(tz);
        return fail(err, errlen, FAAS__TZ_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < h.timecnt; i++, p += time_size) {
        tz->times[i] = time_size == 8 ? be64(p) : (int64_t)(int32_t)be32(p);
        if (i > 0 && tz->times[i] <= tz->times[i - 1]) {
            faas__tz_free(tz);
            return fail(err, errlen, FAAS__TZ_EINVAL, "TZif transitions are not ascending");
        }
    }
    for (size_t i = 0; i < h.timecnt; i++, p++) {
        if (*p >= h.typecnt) {
            faas__tz_free(tz);
            return fail(err, errlen, FAAS__TZ_EINVAL, "TZif transition type out of range");
        }
        tz->types[i] = *p;
    }
    for (size_t i = 0; i < h.typecnt; i++, p += 6) {
        int32_t off = (int32_t)be32(p);
        if (off <= -OFFSET_MAX || off >= OFFSET_MAX || p[5] >= h.charcnt) {
            faas__tz_free(tz);
            return fail(err, errlen, FAAS__TZ_EINVAL, "TZif time type out of range");
        }
        tz->utoff[i] = off;
    }
    p += h.charcnt + h.isstdcnt + h.isutcnt;   /* no leap records (refused above) */
    if (time_size == 8) {                      /* the footer: \n TZ string \n */
        if (p >= end || *p != '\n') {
            faas__tz_free(tz);
            return fail(err, errlen, FAAS__TZ_EINVAL, "TZif footer missing");
        }
        const unsigned char *nl = memchr(p + 1, '\n', (size_t)(end - p - 1));
        if (nl == NULL || !parse_footer(tz, (const char *)p + 1, (size_t)(nl - p - 1)) ||
            tz->std_off <= -OFFSET_MAX || tz->std_off >= OFFSET_MAX ||
            tz->dst_off <= -OFFSET_MAX || tz->dst_off >= OFFSET_MAX) {
            faas__tz_free(tz);
            return fail(err, errlen, FAAS__TZ_EINVAL, "TZif footer is not a valid TZ string");
        }
    }
    *out = tz;
    return 0;
}

/* The names that mean UTC, served without a file (a system may have no zoneinfo). */
static bool is_utc(const char *name)
{
    static const char *const names[] = { "UTC", "Etc/UTC", "UCT", "Etc/UCT", "GMT",
                                         "Etc/GMT", "Zulu", "Etc/Zulu", "Universal",
                                         "Etc/Universal" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    return false;
}

static bool valid_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > TZ_NAME_MAX || name[0] == '/')
        return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '+' || c == '.' || c == '/'))
            return false;
        /* No "." or ".." component: the name stays inside the zone directory. */
        if (c == '.' && (p == name || p[-1] == '/') &&
            (p[1] == '\0' || p[1] == '/' || (p[1] == '.' && (p[2] == '\0' || p[2] == '/'))))
            return false;
        if (c == '/' && p[1] == '/')
            return false;
    }
    return name[n - 1] != '/';
}

int faas__tz_load(const char *name, faas__tz **out, char *err, size_t errlen)
{
    *out = NULL;
    if (name == NULL || !valid_name(name))
        return fail(err, errlen, FAAS__TZ_EINVAL, "\"%.80s\" is not a time zone name",
                    name ? name : "(null)");
    /* $TZDIR as the C library reads it; read once per load, never written. */
    const char *dir = getenv("TZDIR");
    if (dir == NULL || dir[0] == '\0')
        dir = DEFAULT_TZDIR;
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return fail(err, errlen, FAAS__TZ_EINVAL, "time zone path too long");
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        int e = errno;
        if (is_utc(name)) {
            faas__tz *tz = calloc(1, sizeof *tz);
            int32_t *utoff = malloc(sizeof *utoff);
            if (tz == NULL || utoff == NULL) {
                free(tz);
                free(utoff);
                return fail(err, errlen, FAAS__TZ_ENOMEM, "out of memory");
            }
            *utoff = 0;
            tz->typecnt = 1;
            tz->utoff = utoff;
            *out = tz;
            return 0;
        }
        return fail(err, errlen, e == ENOENT || e == ENOTDIR ? FAAS__TZ_ENOENT
                                                              : FAAS__TZ_EINVAL,
                    "unknown time zone \"%s\": %s: %s", name, path, strerror(e));
    }
    unsigned char *buf = malloc(TZ_FILE_MAX);
    if (buf == NULL) {
        fclose(f);
        return fail(err, errlen, FAAS__TZ_ENOMEM, "out of memory");
    }
    size_t len = fread(buf, 1, TZ_FILE_MAX, f);
    bool bad = ferror(f) != 0;
    fclose(f);
    int rc = bad ? fail(err, errlen, FAAS__TZ_EINVAL, "%s: read error", path)
                 : faas__tz_parse(buf, len, out, err, errlen);
    free(buf);
    if (rc != 0 && err != NULL && rc == FAAS__TZ_EINVAL && !bad) {
        char detail[160];
        snprintf(detail, sizeof detail, "%s", err);
        fail(err, errlen, rc, "time zone \"%s\" (%s): %s", name, path, detail);
    }
    return rc;
}

/* ---- offsets ------------------------------------------------------------------------- */

int32_t faas__tz_offset(const faas__tz *tz, int64_t utc)
{
    if (tz == NULL)
        return 0;
    if (tz->timecnt == 0)
        return tz->has_footer ? footer_offset(tz, utc) : tz->utoff[0];
    if (utc < tz->times[0])
        return tz->utoff[0];               /* RFC 8536: type 0 before the first transition */
    if (utc >= tz->times[tz->timecnt - 1] && tz->has_footer)
        return footer_offset(tz, utc);
    size_t lo = 0, hi = tz->timecnt;       /* the last transition at or before utc */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->times[mid] <= utc)
            lo = mid;
        else
            hi = mid;
    }
    return tz->utoff[tz->types[lo]];
}

int faas__tz_to_utc(const faas__tz *tz, int64_t local, int64_t *utc)
{
    if (tz == NULL) {
        *utc = local;
        return 1;
    }
    /* An instant u with u + offset(u) = local lies within OFFSET_MAX of local. The offsets
     * in force at both ends of that window, and at the instants they point to, are the
     * candidates; each is kept if it gives itself back. (This assumes at most two changes
     * within 52 hours, which every real zone satisfies.) */
    int32_t cand[4];
    cand[0] = faas__tz_offset(tz, local - OFFSET_MAX);
    cand[1] = faas__tz_offset(tz, local + OFFSET_MAX);
    cand[2] = faas__tz_offset(tz, local - cand[0]);
    cand[3] = faas__tz_offset(tz, local - cand[1]);
    int found = 0;
    int64_t hits[4];
    for (int i = 0; i < 4; i++) {
        int64_t u = local - cand[i];
        if (faas__tz_offset(tz, u) != cand[i])
            continue;
        bool seen = false;
        for (int j = 0; j < found; j++)
            seen |= hits[j] == u;
        if (!seen)
            hits[found++] = u;
    }
    if (found == 0)
        return 0;
    int64_t first = hits[0];
    for (int j = 1; j < found; j++)
        if (hits[j] < first)
            first = hits[j];
    *utc = first;
    return found > 2 ? 2 : found;
}
