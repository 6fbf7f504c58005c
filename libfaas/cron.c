/*
 * cron.c - EventBridge rate and cron expressions (see cron.h): a strict parser that names
 * the position of what it refuses, and the search for the next firing on a zone's wall
 * clock. It knows nothing of libfaas: no allocation, no global state.
 *
 * The syntax is EventBridge's (docs.aws.amazon.com/eventbridge/latest/userguide/
 * eb-cron-expressions.html, eb-rate-expressions.html): six fields, `?` in exactly one of
 * day-of-month and day-of-week, `L` and `W` in day-of-month, `L` and `#` in day-of-week
 * (1 = SUN), years 1970-2199; rate(1 minute) singular, rate(5 minutes) plural.
 */
#include "cron.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* A schedule whose period would not fit in int64 nanoseconds is refused. */
#define RATE_MAX_SECONDS INT64_C(9000000000)

/* ---- parsing ---------------------------------------------------------------------------- */

typedef struct parser {
    const char *expr;            /* the whole expression, for positions */
    const char *p;
    char       *err;
    size_t      errlen;
} parser;

static int refuse(parser *ps, const char *at, const char *fmt, ...)
{
    if (ps->err != NULL && ps->errlen > 0) {
        int n = snprintf(ps->err, ps->errlen, "position %d: ", (int)(at - ps->expr) + 1);
        if (n >= 0 && (size_t)n < ps->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static char upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* Does the text at p start with word (case-insensitive)? */
static bool starts(const char *p, const char *word)
{
    for (; *word; p++, word++)
        if (upper(*p) != *word)
            return false;
    return true;
}

/* ---- rate(value unit) ---- */

static int parse_rate(parser *ps, faas__cron *c)
{
    const char *v = ps->p;
    if (*v < '0' || *v > '9')
        return refuse(ps, v, "rate: the value must be a positive whole number");
    int64_t value = 0;
    while (*ps->p >= '0' && *ps->p <= '9') {
        value = value * 10 + (*ps->p++ - '0');
        if (value > RATE_MAX_SECONDS)
            return refuse(ps, v, "rate: the value is too large");
    }
    if (value == 0)
        return refuse(ps, v, "rate: the value must be positive, not 0");
    if (!is_space(*ps->p))
        return refuse(ps, ps->p, "rate: expected a space and a unit after the value");
    while (is_space(*ps->p))
        ps->p++;
    static const struct { const char *one, *many; int64_t seconds; } units[] = {
        { "minute", "minutes", 60 }, { "hour", "hours", 3600 }, { "day", "days", 86400 },
    };
    const char *u = ps->p;
    size_t len = 0;
    while (u[len] >= 'a' && u[len] <= 'z')
        len++;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        bool one = len == strlen(units[i].one) && memcmp(u, units[i].one, len) == 0;
        bool many = len == strlen(units[i].many) && memcmp(u, units[i].many, len) == 0;
        if (!one && !many)
            continue;
        /* EventBridge: "If the value is equal to 1, then the unit must be singular. If
         * the value is greater than 1, the unit must be plural." */
        if (one && value != 1)
            return refuse(ps, u, "rate: a value of %lld takes \"%s\", not \"%s\"",
                          (long long)value, units[i].many, units[i].one);
        if (many && value == 1)
            return refuse(ps, u, "rate: a value of 1 takes \"%s\", not \"%s\"",
                          units[i].one, units[i].many);
        if (value > RATE_MAX_SECONDS / units[i].seconds)
            return refuse(ps, v, "rate: the period is too long");
        c->kind = FAAS__RATE;
        c->period = value * units[i].seconds;
        ps->p = u + len;
        return 0;
    }
    return refuse(ps, u, "rate: the unit must be minute(s), hour(s) or day(s)");
}

/* ---- cron fields ---- */

enum field_id { F_MIN, F_HOUR, F_DOM, F_MONTH, F_DOW, F_YEAR };

typedef struct field_def {
    const char *name;
    int min, max;
    const char *const *names;    /* names[i] is min + i, or NULL */
} field_def;

static const char *const MONTHS[] = { "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL",
                                      "AUG", "SEP", "OCT", "NOV", "DEC", NULL };
static const char *const DAYS[] = { "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL };

static const field_def FIELDS[6] = {
    { "minutes", 0, 59, NULL },
    { "hours", 0, 23, NULL },
    { "day-of-month", 1, 31, NULL },
    { "month", 1, 12, MONTHS },
    { "day-of-week", 1, 7, DAYS },
    { "year", FAAS__CRON_YEAR_MIN, FAAS__CRON_YEAR_MAX, NULL },
};

/* The end of the field starting at p. */
static const char *field_end(const char *p)
{
    while (*p && !is_space(*p) && *p != ')')
        p++;
    return p;
}

/* A number or (for month and day-of-week) a name, within the field's range. */
static int value(parser *ps, const field_def *f, const char *end, int *out)
{
    const char *at = ps->p;
    if (*at >= '0' && *at <= '9') {
        long v = 0;
        while (ps->p < end && *ps->p >= '0' && *ps->p <= '9') {
            v = v * 10 + (*ps->p++ - '0');
            if (v > 100000)
                break;
        }
        if (v < f->min || v > f->max)
            return refuse(ps, at, "%s: %ld is not in %d-%d", f->name, v, f->min, f->max);
        *out = (int)v;
        return 0;
    }
    if (f->names != NULL && end - at >= 3) {
        for (int i = 0; f->names[i] != NULL; i++)
            if (starts(at, f->names[i])) {
                ps->p += 3;
                *out = f->min + i;
                return 0;
            }
    }
    if (f->names == MONTHS)
        return refuse(ps, at, "month: expected 1-12 or JAN-DEC");
    if (f->names == DAYS)
        return refuse(ps, at, "day-of-week: expected 1-7 or SUN-SAT");
    return refuse(ps, at, "%s: expected a number in %d-%d", f->name, f->min, f->max);
}

static void set_bit(faas__cron *c, enum field_id id, int v)
{
    switch (id) {
    case F_MIN:   c->minutes |= UINT64_C(1) << v; break;
    case F_HOUR:  c->hours |= UINT32_C(1) << v; break;
    case F_DOM:   c->days |= UINT32_C(1) << v; break;
    case F_MONTH: c->months |= (uint16_t)(1u << v); break;
    case F_DOW:   c->weekdays |= (uint8_t)(1u << v); break;
    case F_YEAR:  c->years[(v - FAAS__CRON_YEAR_MIN) / 64] |=
                      UINT64_C(1) << ((v - FAAS__CRON_YEAR_MIN) % 64);
                  break;
    }
}

/* item: (* | value | value-value) [/step], or value/step. */
static int item(parser *ps, faas__cron *c, enum field_id id, const char *end)
{
    const field_def *f = &FIELDS[id];
    const char *at = ps->p;
    int lo, hi;
    bool star = false, range = false;
    if (*ps->p == '*') {
        ps->p++;
        lo = f->min;
        hi = f->max;
        star = true;
    } else {
        if (value(ps, f, end, &lo) != 0)
            return -1;
        hi = lo;
        if (ps->p < end && *ps->p == '-') {
            ps->p++;
            if (value(ps, f, end, &hi) != 0)
                return -1;
            range = true;
            if (hi < lo)
                return refuse(ps, at, "%s: the range %d-%d goes backwards", f->name, lo, hi);
        }
    }
    int step = 1;
    if (ps->p < end && *ps->p == '/') {
        const char *s = ++ps->p;
        long v = 0;
        if (ps->p >= end || *ps->p < '0' || *ps->p > '9')
            return refuse(ps, s, "%s: expected a step after /", f->name);
        while (ps->p < end && *ps->p >= '0' && *ps->p <= '9' && v <= 100000)
            v = v * 10 + (*ps->p++ - '0');
        if (v < 1 || v > f->max - f->min + 1)
            return refuse(ps, s, "%s: the step must be 1-%d", f->name, f->max - f->min + 1);
        step = (int)v;
        if (!star && !range)
            hi = f->max;             /* 1/10: from 1 to the end of the field, every 10 */
    }
    for (int v = lo; v <= hi; v += step)
        set_bit(c, id, v);
    return 0;
}

/* A plain number in a, b: the n of nW, nL, n#k. */
static bool small_number(const char *p, const char *end, int *out)
{
    if (p >= end || *p < '0' || *p > '9')
        return false;
    int v = 0;
    for (; p < end && *p >= '0' && *p <= '9'; p++)
        if ((v = v * 10 + (*p - '0')) > 1000)
            return false;
    *out = v;
    return p == end;
}

/* A day of the week that stands alone before L or #: 1-7 or SUN-SAT, exactly a..end. */
static bool day_number(const char *p, const char *end, int *out)
{
    if (end - p == 3)
        for (int i = 0; DAYS[i] != NULL; i++)
            if (starts(p, DAYS[i])) {
                *out = i + 1;
                return true;
            }
    return small_number(p, end, out) && *out >= 1 && *out <= 7;
}

/* The day-of-month and day-of-week forms that stand alone: ?, L, LW, nW; L, nL, n#k. */
static int special(parser *ps, faas__cron *c, enum field_id id, const char *end, bool *done)
{
    const char *at = ps->p;
    size_t len = (size_t)(end - at);
    *done = true;
    if (len == 1 && *at == '?') {
        if (id == F_DOM)
            c->dom = FAAS__DOM_ANY;
        else
            c->dow = FAAS__DOW_ANY;
        ps->p = end;
        return 0;
    }
    if (id == F_DOM) {
        if (len == 1 && upper(*at) == 'L') {
            c->dom = FAAS__DOM_LAST;
        } else if (len == 2 && upper(at[0]) == 'L' && upper(at[1]) == 'W') {
            c->dom = FAAS__DOM_LAST_WEEKDAY;
        } else if (len >= 2 && upper(end[-1]) == 'W') {
            int n;
            if (!small_number(at, end - 1, &n))
                return refuse(ps, at, "day-of-month: W follows a single day, as in 15W");
            if (n < 1 || n > 31)
                return refuse(ps, at, "day-of-month: %d is not in 1-31", n);
            c->dom = FAAS__DOM_NEAREST_WEEKDAY;
            c->dom_day = n;
        } else {
            *done = false;
            return 0;
        }
        ps->p = end;
        return 0;
    }
    const char *hash = memchr(at, '#', len);
    if (hash != NULL) {
        /* "3#1,6#3" is not valid: with #, the field holds that one expression. */
        int d, k;
        if (memchr(at, ',', len) != NULL)
            return refuse(ps, at, "day-of-week: with #, the field is one expression "
                          "(3#1,6#3 is two)");
        if (!day_number(at, hash, &d))
            return refuse(ps, at, "day-of-week: # follows a single day, as in 6#3 or FRI#3");
        if (!small_number(hash + 1, end, &k) || k < 1 || k > 5)
            return refuse(ps, hash + 1, "day-of-week: the week after # must be 1-5");
        c->dow = FAAS__DOW_NTH;
        c->dow_day = d;
        c->dow_nth = k;
    } else if (len == 1 && upper(*at) == 'L') {
        c->dow = FAAS__DOW_SET;      /* L alone: the last day of the week, Saturday */
        c->weekdays = 1u << 7;
    } else if (len >= 2 && upper(end[-1]) == 'L') {
        int d;
        if (!day_number(at, end - 1, &d))
            return refuse(ps, at, "day-of-week: L follows a single day, as in 6L or FRIL");
        c->dow = FAAS__DOW_LAST;
        c->dow_day = d;
    } else {
        *done = false;
        return 0;
    }
    ps->p = end;
    return 0;
}

static int field(parser *ps, faas__cron *c, enum field_id id)
{
    const char *end = field_end(ps->p);
    if (id == F_DOM || id == F_DOW) {
        bool done;
        if (special(ps, c, id, end, &done) != 0)
            return -1;
        if (done)
            return 0;
        if (id == F_DOM)
            c->dom = FAAS__DOM_SET;
        else
            c->dow = FAAS__DOW_SET;
    }
    for (;;) {
        const char *at = ps->p;
        if (at < end && *at == '?')
            return refuse(ps, at, "%s: '?' stands alone, in day-of-month or day-of-week",
                          FIELDS[id].name);
        if (item(ps, c, id, end) != 0)
            return -1;
        if (ps->p == end)
            return 0;
        if (*ps->p != ',')
            return refuse(ps, ps->p, "%s: unexpected '%c'", FIELDS[id].name, *ps->p);
        ps->p++;
        if (ps->p == end)
            return refuse(ps, ps->p, "%s: expected a value after ','", FIELDS[id].name);
    }
}

static int parse_cron(parser *ps, faas__cron *c)
{
    const char *starts_at[6];
    c->kind = FAAS__CRON;
    for (int i = 0; i < 6; i++) {
        while (is_space(*ps->p))
            ps->p++;
        if (*ps->p == ')' || *ps->p == '\0')
            return refuse(ps, ps->p, "cron: expected 6 fields (minutes hours day-of-month "
                          "month day-of-week year), found %d", i);
        starts_at[i] = ps->p;
        if (field(ps, c, (enum field_id)i) != 0)
            return -1;
        if (*ps->p != '\0' && *ps->p != ')' && !is_space(*ps->p))
            return refuse(ps, ps->p, "%s: unexpected '%c'", FIELDS[i].name, *ps->p);
    }
    while (is_space(*ps->p))
        ps->p++;
    if (*ps->p != ')' && *ps->p != '\0')
        return refuse(ps, ps->p, "cron: more than 6 fields");
    /* "You can't specify the Day-of-month and Day-of-week fields in the same cron
     * expression. If you specify a value or a * in one of the fields, you must use a ?
     * in the other." */
    if ((c->dom == FAAS__DOM_ANY) == (c->dow == FAAS__DOW_ANY))
        return refuse(ps, starts_at[F_DOW],
                      c->dom == FAAS__DOM_ANY
                      ? "day-of-month and day-of-week are both '?': exactly one must be"
                      : "day-of-month and day-of-week: one of them must be '?'");
    return 0;
}

int faas__cron_parse(const char *expr, faas__cron *out, char *err, size_t errlen)
{
    parser ps = { expr, expr, err, errlen };
    memset(out, 0, sizeof *out);
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (expr == NULL) {
        ps.expr = ps.p = "";
        return refuse(&ps, ps.p, "the expression is NULL");
    }
    int rc;
    if (strncmp(expr, "rate(", 5) == 0) {
        ps.p += 5;
        rc = parse_rate(&ps, out);
    } else if (strncmp(expr, "cron(", 5) == 0) {
        ps.p += 5;
        rc = parse_cron(&ps, out);
    } else {
        return refuse(&ps, expr, "expected rate(value unit) or cron(fields)");
    }
    if (rc != 0)
        return rc;
    if (*ps.p != ')')
        return refuse(&ps, ps.p, "expected ')'");
    if (ps.p[1] != '\0')
        return refuse(&ps, ps.p + 1, "unexpected text after ')'");
    return 0;
}

/* ---- the next firing ------------------------------------------------------------------- */

static const unsigned DIM[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

static unsigned days_in(int64_t y, unsigned m)
{
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return DIM[m - 1] + (m == 2 && leap);
}

/* 1 = Sunday ... 7 = Saturday, as the day-of-week field counts. */
static unsigned weekday(int64_t y, unsigned m, unsigned d)
{
    int64_t days = faas__days_from_civil(y, m, d);
    return (unsigned)(((days + 4) % 7 + 7) % 7) + 1;
}

static bool year_ok(const faas__cron *c, int64_t y)
{
    if (y < FAAS__CRON_YEAR_MIN || y > FAAS__CRON_YEAR_MAX)
        return false;
    int i = (int)(y - FAAS__CRON_YEAR_MIN);
    return (c->years[i / 64] >> (i % 64)) & 1;
}

static bool day_ok(const faas__cron *c, int64_t y, unsigned m, unsigned d)
{
    unsigned dim = days_in(y, m);
    switch (c->dom) {
    case FAAS__DOM_ANY:
        break;
    case FAAS__DOM_SET:
        return (c->days >> d) & 1;
    case FAAS__DOM_LAST:
        return d == dim;
    case FAAS__DOM_LAST_WEEKDAY: {
        unsigned w = weekday(y, m, dim), last = dim;
        if (w == 7)
            last = dim - 1;                  /* Saturday: Friday before */
        else if (w == 1)
            last = dim - 2;                  /* Sunday: Friday before */
        return d == last;
    }
    case FAAS__DOM_NEAREST_WEEKDAY: {
        /* The weekday nearest day n, never outside the month: 1W on a Saturday is Monday
         * the 3rd, 31W on a Sunday is Friday the 29th. A day past the month's end (31W in
         * April) does not fire that month. */
        unsigned n = (unsigned)c->dom_day;
        if (n > dim)
            return false;
        unsigned w = weekday(y, m, n), t = n;
        if (w == 7)
            t = n == 1 ? 3 : n - 1;
        else if (w == 1)
            t = n == dim ? n - 2 : n + 1;
        return d == t;
    }
    }
    unsigned w = weekday(y, m, d);
    switch (c->dow) {
    case FAAS__DOW_ANY:
        return true;
    case FAAS__DOW_SET:
        return (c->weekdays >> w) & 1;
    case FAAS__DOW_LAST:
        return w == (unsigned)c->dow_day && d + 7 > dim;
    case FAAS__DOW_NTH:
        return w == (unsigned)c->dow_day && (d - 1) / 7 + 1 == (unsigned)c->dow_nth;
    }
    return false;
}

/* The lowest set bit at or above `from`, or -1. */
static int next_bit(uint64_t bits, int from, int max)
{
    if (from > max)
        return -1;
    uint64_t above = bits & (~UINT64_C(0) << from);
    if (above == 0)
        return -1;
    int b = __builtin_ctzll(above);
    return b <= max ? b : -1;
}

/* The first matching minute at or after local time t (seconds, as if UTC, on a whole
 * minute), or -1 past the last year. */
static int64_t next_local(const faas__cron *c, int64_t t)
{
    int64_t y;
    unsigned mo, d;
    faas__civil_from_days(t >= 0 ? t / 86400 : (t - 86399) / 86400, &y, &mo, &d);
    int64_t sod = t - faas__days_from_civil(y, mo, d) * 86400;
    int h = (int)(sod / 3600), mi = (int)(sod % 3600 / 60);
    if (y < FAAS__CRON_YEAR_MIN) {
        y = FAAS__CRON_YEAR_MIN;
        mo = d = 1;
        h = mi = 0;
    }
    /* Each pass moves forward by at least a minute, and by a day or more unless it ends
     * the search within that day: a bounded walk to the end of year 2199. */
    for (;;) {
        if (y > FAAS__CRON_YEAR_MAX)
            return -1;
        if (!year_ok(c, y)) {
            y++;
            mo = d = 1;
            h = mi = 0;
            continue;
        }
        if (!((c->months >> mo) & 1)) {
            int m2 = next_bit(c->months, (int)mo + 1, 12);
            if (m2 < 0) {
                y++;
                mo = 1;
            } else {
                mo = (unsigned)m2;
            }
            d = 1;
            h = mi = 0;
            continue;
        }
        if (!day_ok(c, y, mo, d)) {
            if (++d > days_in(y, mo)) {
                d = 1;
                if (++mo > 12) {
                    mo = 1;
                    y++;
                }
            }
            h = mi = 0;
            continue;
        }
        int h2 = next_bit(c->hours, h, 23);
        if (h2 < 0) {
            h = 24;                          /* past the day's last hour: the next day */
        } else {
            if (h2 != h)
                mi = 0;
            h = h2;
            int m2 = next_bit(c->minutes, mi, 59);
            if (m2 >= 0)
                return faas__days_from_civil(y, mo, d) * 86400 + h * 3600 + m2 * 60;
            h++;                             /* past the hour's last minute */
            mi = 0;
        }
        if (h > 23) {
            h = mi = 0;
            if (++d > days_in(y, mo)) {
                d = 1;
                if (++mo > 12) {
                    mo = 1;
                    y++;
                }
            }
        }
    }
}

/* Candidates a zone may reject (skipped or repeated times) before one is accepted: a few
 * per change of offset; the cap only guards against a malformed zone. */
#define ZONE_REJECTS_MAX 100000

int faas__cron_next(const faas__cron *c, const faas__tz *tz, int64_t after, int64_t *next)
{
    if (c->kind == FAAS__RATE) {
        if (after > INT64_MAX - c->period)
            return -1;
        *next = after + c->period;
        return 0;
    }
    /* The search runs on the zone's wall clock, from the minute after `after`'s. */
    int64_t local = after + faas__tz_offset(tz, after);
    int64_t t = local - ((local % 60) + 60) % 60 + 60;
    for (int i = 0; i < ZONE_REJECTS_MAX; i++) {
        int64_t cand = next_local(c, t);
        if (cand < 0)
            return -1;
        int64_t utc;
        /* A wall time that does not exist that day does not fire; one that happens twice
         * fires at its first instant, and not at all if that is not after `after` (we are
         * in its second pass). */
        if (faas__tz_to_utc(tz, cand, &utc) > 0 && utc > after) {
            *next = utc;
            return 0;
        }
        t = cand + 60;
    }
    return -1;
}
