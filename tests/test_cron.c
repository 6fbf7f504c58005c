/* test_cron.c - EventBridge schedule expressions: a table of expressions and their next
 * firing times (month ends, leap days, L, W, #, steps, names, years, DST in named zones),
 * refused expressions with the position of the fault, and the time zones read from TZif
 * files checked against the C library's localtime_r. */
#define _GNU_SOURCE
#include "util.h"

#include <stdbool.h>
#include <time.h>

#include "../libfaas/cron.h"
#include "../libfaas/tz.h"

/* "2026-11-26T12:00:00Z" as ns since the epoch. */
static int64_t iso(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    assert_non_null(end);
    assert_int_equal(*end, '\0');
    return (int64_t)timegm(&tm) * 1000000000;
}

static const char *fmt(int64_t ns, char out[32])
{
    time_t s = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return out;
}

typedef struct row {
    const char *expr, *zone, *after;
    const char *next[6];            /* the firings in order; "none": no more */
} row;

static const row TABLE[] = {
    /* Plain daily and minute steps, UTC. */
    { "cron(0 12 * * ? *)", NULL, "2026-11-26T00:00:00Z",
      { "2026-11-26T12:00:00Z", "2026-11-27T12:00:00Z" } },
    { "cron(0 12 * * ? *)", NULL, "2026-11-26T12:00:00Z",        /* strictly after */
      { "2026-11-27T12:00:00Z" } },
    { "cron(0/15 * * * ? *)", NULL, "2026-11-26T23:50:00Z",
      { "2026-11-27T00:00:00Z", "2026-11-27T00:15:00Z" } },
    { "cron(1/10 * * * ? *)", NULL, "2026-11-26T10:00:00Z",      /* EventBridge's example */
      { "2026-11-26T10:01:00Z", "2026-11-26T10:11:00Z", "2026-11-26T10:21:00Z" } },
    /* A range of one value with a step is that value, not "from it to the end". */
    { "cron(5-5/10 * * * ? *)", NULL, "2026-11-26T10:00:00Z",
      { "2026-11-26T10:05:00Z", "2026-11-26T11:05:00Z" } },
    { "cron(0/5 8-17 ? * MON-FRI *)", NULL, "2026-11-27T17:50:00Z",   /* Friday evening */
      { "2026-11-27T17:55:00Z", "2026-11-30T08:00:00Z" } },
    { "cron(0 8-17/3 ? * mon-fri *)", NULL, "2026-11-27T12:00:00Z",
      { "2026-11-27T14:00:00Z", "2026-11-27T17:00:00Z", "2026-11-30T08:00:00Z" } },
    { "cron(0 0 1 JAN,JUL ? *)", NULL, "2026-11-26T00:00:00Z",
      { "2027-01-01T00:00:00Z", "2027-07-01T00:00:00Z", "2028-01-01T00:00:00Z" } },
    { "cron(15 10 ? * 6L 2026-2027)", NULL, "2026-11-01T00:00:00Z",  /* last Friday */
      { "2026-11-27T10:15:00Z", "2026-12-25T10:15:00Z", "2027-01-29T10:15:00Z" } },
    /* Month ends: the 31st skips short months; L is each month's last day. */
    { "cron(0 0 31 * ? *)", NULL, "2026-01-31T00:00:00Z",
      { "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z",
        "2026-08-31T00:00:00Z", "2026-10-31T00:00:00Z" } },
    { "cron(0 0 L * ? *)", NULL, "2027-01-31T12:00:00Z",
      { "2027-02-28T00:00:00Z", "2027-03-31T00:00:00Z", "2027-04-30T00:00:00Z" } },
    { "cron(59 23 L * ? *)", NULL, "2027-12-31T23:59:00Z",
      { "2028-01-31T23:59:00Z", "2028-02-29T23:59:00Z" } },
    /* Leap days. */
    { "cron(0 0 L 2 ? *)", NULL, "2027-03-01T00:00:00Z",
      { "2028-02-29T00:00:00Z", "2029-02-28T00:00:00Z" } },
    { "cron(0 0 29 2 ? *)", NULL, "2026-01-01T00:00:00Z",
      { "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2036-02-29T00:00:00Z" } },
    { "cron(30 6 29 FEB ? 2096-2104)", NULL, "2096-03-01T00:00:00Z",   /* 2100 is not leap */
      { "2104-02-29T06:30:00Z", "none" } },
    /* W: the nearest weekday, never outside the month. */
    { "cron(0 9 15W * ? *)", NULL, "2026-07-31T00:00:00Z",
      { "2026-08-14T09:00:00Z",                /* Saturday the 15th: Friday the 14th */
        "2026-09-15T09:00:00Z", "2026-10-15T09:00:00Z",
        "2026-11-16T09:00:00Z" } },            /* Sunday the 15th: Monday the 16th */
    { "cron(0 9 1W * ? *)", NULL, "2026-07-31T00:00:00Z",
      { "2026-08-03T09:00:00Z",                /* Saturday the 1st: Monday the 3rd */
        "2026-09-01T09:00:00Z", "2026-10-01T09:00:00Z",
        "2026-11-02T09:00:00Z" } },            /* Sunday the 1st: Monday the 2nd */
    { "cron(0 9 31W * ? *)", NULL, "2027-01-01T00:00:00Z",
      { "2027-01-29T09:00:00Z",                /* Sunday the 31st: Friday the 29th */
        "2027-03-31T09:00:00Z", "2027-05-31T09:00:00Z" } },   /* no 31st: no firing */
    { "cron(0 9 LW * ? *)", NULL, "2026-05-01T00:00:00Z",
      { "2026-05-29T09:00:00Z", "2026-06-30T09:00:00Z", "2026-07-31T09:00:00Z",
        "2026-08-31T09:00:00Z", "2026-09-30T09:00:00Z",
        "2026-10-30T09:00:00Z" } },            /* Saturday the 31st: Friday the 30th */
    /* #: the n-th given weekday of the month; a fifth one is rare. */
    { "cron(0 10 ? * 6#3 *)", NULL, "2026-11-01T00:00:00Z",
      { "2026-11-20T10:00:00Z", "2026-12-18T10:00:00Z", "2027-01-15T10:00:00Z" } },
    { "cron(0 10 ? * MON#1 *)", NULL, "2026-11-01T00:00:00Z",
      { "2026-11-02T10:00:00Z", "2026-12-07T10:00:00Z", "2027-01-04T10:00:00Z" } },
    { "cron(0 10 ? * 2#5 *)", NULL, "2026-11-01T00:00:00Z",
      { "2026-11-30T10:00:00Z", "2027-03-29T10:00:00Z" } },
    { "cron(0 0 ? * L *)", NULL, "2026-11-26T00:00:00Z",           /* L alone: Saturday */
      { "2026-11-28T00:00:00Z", "2026-12-05T00:00:00Z" } },
    /* Years. */
    { "cron(0 0 1 1 ? 2030)", NULL, "2026-11-26T00:00:00Z",
      { "2030-01-01T00:00:00Z", "none" } },
    { "cron(0 0 1 1 ? 2197/2)", NULL, "2196-06-01T00:00:00Z",
      { "2197-01-01T00:00:00Z", "2199-01-01T00:00:00Z", "none" } },
    { "cron(0 0 1 1 ? 1999)", NULL, "2026-11-26T00:00:00Z", { "none" } },
    { "cron(0 0 1 1 ? 1970)", NULL, "1969-06-01T00:00:00Z",
      { "1970-01-01T00:00:00Z", "none" } },
    /* A named zone: noon in Berlin is 11:00Z in winter, 10:00Z in summer. */
    { "cron(0 12 * * ? *)", "Europe/Berlin", "2027-03-26T12:00:00Z",
      { "2027-03-27T11:00:00Z", "2027-03-28T10:00:00Z" } },
    /* Spring forward, Berlin, 2027-03-28 02:00 CET -> 03:00 CEST: 02:30 does not exist
     * that day, and does not fire. */
    { "cron(30 2 * * ? *)", "Europe/Berlin", "2027-03-27T00:00:00Z",
      { "2027-03-27T01:30:00Z", "2027-03-29T00:30:00Z" } },
    { "cron(0/30 * * * ? *)", "Europe/Berlin", "2027-03-28T00:00:00Z",
      { "2027-03-28T00:30:00Z", "2027-03-28T01:00:00Z",   /* 01:30 CET, then 03:00 CEST */
        "2027-03-28T01:30:00Z" } },
    /* Fall back, 2027-10-31 03:00 CEST -> 02:00 CET: 02:30 happens twice, fires once, the
     * first time. */
    { "cron(30 2 * * ? *)", "Europe/Berlin", "2027-10-30T00:00:00Z",
      { "2027-10-30T00:30:00Z", "2027-10-31T00:30:00Z", "2027-11-01T01:30:00Z" } },
    { "cron(0/30 * * * ? *)", "Europe/Berlin", "2027-10-30T23:45:00Z",
      { "2027-10-31T00:00:00Z", "2027-10-31T00:30:00Z",   /* 02:00, 02:30 CEST */
        "2027-10-31T02:00:00Z",                           /* 03:00 CET: no repeat */
        "2027-10-31T02:30:00Z" } },
    /* Seen from inside the repeated hour's second pass: nothing before 03:00 CET. */
    { "cron(45 2 * * ? *)", "Europe/Berlin", "2027-10-31T01:10:00Z",
      { "2027-11-01T01:45:00Z" } },
    /* New York, 2027-03-14 02:00 EST -> 03:00 EDT; 2027-11-07 02:00 EDT -> 01:00 EST. */
    { "cron(30 2 ? * SUN *)", "America/New_York", "2027-03-07T00:00:00Z",
      { "2027-03-07T07:30:00Z", "2027-03-21T06:30:00Z" } },   /* the 14th is skipped */
    { "cron(30 1 * * ? *)", "America/New_York", "2027-11-06T12:00:00Z",
      { "2027-11-07T05:30:00Z", "2027-11-08T06:30:00Z" } },   /* once, in EDT */
    /* Southern hemisphere: Sydney's DST spans the new year. */
    { "cron(0 9 1 1,7 ? *)", "Australia/Sydney", "2026-11-26T00:00:00Z",
      { "2026-12-31T22:00:00Z", "2027-06-30T23:00:00Z" } },
    /* A zone with a fractional offset. */
    { "cron(0 0 * * ? *)", "Asia/Kathmandu", "2026-11-26T00:00:00Z",
      { "2026-11-26T18:15:00Z" } },
};

static void next_firing_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof TABLE / sizeof TABLE[0]; i++) {
        const row *r = &TABLE[i];
        int64_t t = iso(r->after);
        for (int k = 0; k < 6 && r->next[k] != NULL; k++) {
            int64_t next = 0;
            int rc = faas_schedule_next(r->expr, r->zone, t, &next);
            char got[32];
            if (strcmp(r->next[k], "none") == 0) {
                if (rc != FAAS_ENOTFOUND)
                    fail_msg("%s in %s after %s: firing %d should be none, got %s", r->expr,
                             r->zone ? r->zone : "UTC", r->after, k, fmt(next, got));
                break;
            }
            if (rc != FAAS_OK || next != iso(r->next[k]))
                fail_msg("%s in %s after %s: firing %d is %s, expected %s (%s)", r->expr,
                         r->zone ? r->zone : "UTC", r->after, k,
                         rc == FAAS_OK ? fmt(next, got) : "none", r->next[k],
                         rc == FAAS_OK ? "" : faas_last_error());
            t = next;
        }
    }
}

static void rate_expressions(void **state)
{
    (void)state;
    int64_t t = iso("2026-11-26T00:00:00Z") + 123;   /* a rate keeps the fraction */
    int64_t next;
    ASSERT_OK(faas_schedule_next("rate(1 minute)", NULL, t, &next));
    assert_true(next == t + INT64_C(60000000000));
    ASSERT_OK(faas_schedule_next("rate(5 minutes)", "Europe/Berlin", t, &next));
    assert_true(next == t + INT64_C(300000000000));
    ASSERT_OK(faas_schedule_next("rate(1 hour)", NULL, t, &next));
    assert_true(next == t + INT64_C(3600000000000));
    ASSERT_OK(faas_schedule_next("rate(2 hours)", NULL, t, &next));
    assert_true(next == t + INT64_C(7200000000000));
    ASSERT_OK(faas_schedule_next("rate(1 day)", NULL, t, &next));
    assert_true(next == t + INT64_C(86400000000000));
    ASSERT_OK(faas_schedule_next("rate(365 days)", NULL, t, &next));
    assert_true(next == t + INT64_C(365) * 86400000000000);
    assert_int_equal(faas_schedule_next("rate(1 minute)", NULL, t, NULL), FAAS_EINVAL);
}

typedef struct bad {
    const char *expr;
    int         position;
    const char *says;               /* a part of the message */
} bad;

static const bad BAD[] = {
    { "cron(0 25 * * ? *)", 8, "hours: 25 is not in 0-23" },
    { "cron(60 * * * ? *)", 6, "minutes: 60" },
    { "cron(0 12 * * * *)", 15, "one of them must be '?'" },
    { "cron(0 12 ? * ? *)", 15, "both '?'" },
    { "cron(0 12 * * ?)", 16, "expected 6 fields" },
    { "cron(0 12 * * ? * *)", 19, "more than 6 fields" },
    { "cron(0 12 32 * ? *)", 11, "day-of-month: 32" },
    { "cron(0 12 0 * ? *)", 11, "day-of-month: 0" },
    { "cron(0 12 * 13 ? *)", 13, "month: 13" },
    { "cron(0 12 * FOO ? *)", 13, "JAN-DEC" },
    { "cron(0 12 ? * 8 *)", 15, "day-of-week: 8" },
    { "cron(0 12 ? * FUN *)", 15, "SUN-SAT" },
    { "cron(0 12 * * ? 2200)", 17, "year: 2200" },
    { "cron(0 12 * * ? 1969)", 17, "year: 1969" },
    { "cron(5-1 * * * ? *)", 6, "backwards" },
    { "cron(0/0 * * * ? *)", 8, "step" },
    { "cron(*/61 * * * ? *)", 8, "step" },
    { "cron(? 12 * * ? *)", 6, "'?' stands alone" },
    { "cron(0 12 32W * ? *)", 11, "day-of-month: 32" },
    { "cron(0 12 1-5W * ? *)", 11, "W follows a single day" },
    { "cron(0 12 L,1 * ? *)", 11, "day-of-month" },
    { "cron(0 12 ? * 3#1,6#3 *)", 15, "one expression" },
    { "cron(0 12 ? * 1-3#1 *)", 15, "# follows a single day" },
    { "cron(0 12 ? * 2#6 *)", 17, "the week after # must be 1-5" },
    { "cron(0 12 ? * 9L *)", 15, "L follows a single day" },
    { "cron(0 12 * * ? *) ", 19, "unexpected text after ')'" },
    { "cron(0 12 * * ? *", 18, "expected ')'" },
    { "cron(0 12 ,* * ? *)", 11, "day-of-month" },
    { "cron(0 12 1, * ? *)", 13, "expected a value after ','" },
    { "cron(0 12 1;2 * ? *)", 12, "unexpected ';'" },
    { "rate(1 minutes)", 8, "a value of 1 takes \"minute\"" },
    { "rate(5 minute)", 8, "a value of 5 takes \"minutes\"" },
    { "rate(1 hours)", 8, "takes \"hour\"" },
    { "rate(2 day)", 8, "takes \"days\"" },
    { "rate(0 minutes)", 6, "positive" },
    { "rate(-5 minutes)", 6, "positive whole number" },
    { "rate(5 weeks)", 8, "minute(s), hour(s) or day(s)" },
    { "rate(5minutes)", 7, "space" },
    { "rate(99999999999 days)", 6, "too large" },
    { "rate(5 minutes", 15, "expected ')'" },
    { "every 5 minutes", 1, "expected rate(value unit) or cron(fields)" },
    { "", 1, "expected rate" },
    { "CRON(0 12 * * ? *)", 1, "expected rate" },
};

static void bad_expressions_name_the_position(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        int64_t next;
        int rc = faas_schedule_next(BAD[i].expr, NULL, 0, &next);
        char want[32];
        snprintf(want, sizeof want, "position %d: ", BAD[i].position);
        const char *msg = faas_last_error();
        if (rc != FAAS_EINVAL || strstr(msg, want) == NULL || strstr(msg, BAD[i].says) == NULL)
            fail_msg("\"%s\": expected FAAS_EINVAL with \"%s%s\", got %s: %s", BAD[i].expr,
                     want, BAD[i].says, faas_err_name(rc), msg);
    }
    int64_t next;
    assert_int_equal(faas_schedule_next(NULL, NULL, 0, &next), FAAS_EINVAL);
    assert_int_equal(faas_schedule_next("cron(0 12 * * ? *)", "Mars/Olympus_Mons", 0, &next),
                     FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "unknown time zone"));
    assert_int_equal(faas_schedule_next("cron(0 12 * * ? *)", "../../etc/passwd", 0, &next),
                     FAAS_EINVAL);
    assert_int_equal(faas_schedule_next("cron(0 12 * * ? *)", "/etc/localtime", 0, &next),
                     FAAS_EINVAL);
    assert_int_equal(faas_schedule_next("cron(0 12 * * ? *)", "", 0, &next), FAAS_EINVAL);
}

/* The names of every accepted form, once more, straight to the parser: what it built. */
static void parsed_forms(void **state)
{
    (void)state;
    faas__cron c;
    char err[200];
    ASSERT_OK(faas__cron_parse("cron(0,30 */6 ? JAN-MAR,DEC SUN,TUE-THU 2026/10)", &c, err,
                               sizeof err));
    assert_true(c.minutes == ((UINT64_C(1) << 0) | (UINT64_C(1) << 30)));
    assert_int_equal(c.hours, (1u << 0) | (1u << 6) | (1u << 12) | (1u << 18));
    assert_int_equal(c.months, (1u << 1) | (1u << 2) | (1u << 3) | (1u << 12));
    assert_int_equal(c.dow, FAAS__DOW_SET);
    assert_int_equal(c.weekdays, (1u << 1) | (1u << 3) | (1u << 4) | (1u << 5));
    assert_int_equal(c.dom, FAAS__DOM_ANY);
    ASSERT_OK(faas__cron_parse("cron(0 0 ? * FRI#2 *)", &c, err, sizeof err));
    assert_int_equal(c.dow, FAAS__DOW_NTH);
    assert_int_equal(c.dow_day, 6);
    assert_int_equal(c.dow_nth, 2);
    ASSERT_OK(faas__cron_parse("cron(0 0 ? * friL *)", &c, err, sizeof err));
    assert_int_equal(c.dow, FAAS__DOW_LAST);
    assert_int_equal(c.dow_day, 6);
    ASSERT_OK(faas__cron_parse("cron( 0  0\t15w * ? * )", &c, err, sizeof err));
    assert_int_equal(c.dom, FAAS__DOM_NEAREST_WEEKDAY);
    assert_int_equal(c.dom_day, 15);
    ASSERT_OK(faas__cron_parse("rate(10 minutes)", &c, err, sizeof err));
    assert_int_equal(c.kind, FAAS__RATE);
    assert_int_equal(c.period, 600);
}

/* ---- time zones ---------------------------------------------------------------------------- */

static const char *const ZONES[] = {
    "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata",
    "Europe/Dublin",            /* negative DST in its TZ rule: IST-1GMT0,M10.5.0,M3.5.0/1 */
    "America/Sao_Paulo", "Pacific/Chatham", "Africa/Casablanca", "America/Godthab",
    "Asia/Tehran", "Pacific/Apia", "Antarctica/Troll", "UTC",
};

/* Our offsets against glibc's tm_gmtoff, from 1901 to 2199, for zones whose rules go from
 * simple to odd. glibc reads the same files, but through TZ, which only a single-threaded
 * test may set. */
static void zone_offsets_match_the_c_library(void **state)
{
    (void)state;
    char err[300];
    unsigned seed = 42;
    for (size_t z = 0; z < sizeof ZONES / sizeof ZONES[0]; z++) {
        faas__tz *tz;
        if (faas__tz_load(ZONES[z], &tz, err, sizeof err) != 0)
            fail_msg("%s: %s", ZONES[z], err);
        setenv("TZ", ZONES[z], 1);
        tzset();
        for (int i = 0; i < 20000; i++) {
            seed = seed * 1103515245u + 12345u;
            int64_t t = INT64_C(-2000000000) + (int64_t)((uint64_t)seed * 2654435761u %
                                                         UINT64_C(9300000000));
            time_t tt = (time_t)t;
            struct tm tm;
            localtime_r(&tt, &tm);
            if (faas__tz_offset(tz, t) != tm.tm_gmtoff)
                fail_msg("%s at %lld: offset %d, glibc %ld", ZONES[z], (long long)t,
                         faas__tz_offset(tz, t), tm.tm_gmtoff);
        }
        faas__tz_free(tz);
    }
    unsetenv("TZ");
    tzset();
}

/* Local to UTC: the instants u with u + offset(u) = local, found by sampling the offsets
 * around local every 15 minutes, against faas__tz_to_utc's count and earliest. */
static void local_times_map_back(void **state)
{
    (void)state;
    char err[300];
    unsigned seed = 7;
    for (size_t z = 0; z < sizeof ZONES / sizeof ZONES[0]; z++) {
        faas__tz *tz;
        assert_int_equal(faas__tz_load(ZONES[z], &tz, err, sizeof err), 0);
        for (int i = 0; i < 3000; i++) {
            seed = seed * 1103515245u + 12345u;
            int64_t local = INT64_C(1700000000) + (int64_t)(seed % 400000000u);
            if (i % 3 == 0)                  /* near a change: a day around one */
                local = INT64_C(1806015600) + (int64_t)(seed % 86400u) - 43200;
            int64_t hits[16];
            int n = 0;
            for (int64_t u = local - 27 * 3600; u <= local + 27 * 3600; u += 900) {
                int64_t cand = local - faas__tz_offset(tz, u);
                if (faas__tz_offset(tz, cand) + cand != local)
                    continue;
                bool seen = false;
                for (int j = 0; j < n; j++)
                    seen |= hits[j] == cand;
                if (!seen && n < 16)
                    hits[n++] = cand;
            }
            int64_t got;
            int count = faas__tz_to_utc(tz, local, &got);
            assert_int_equal(count, n);
            if (n > 0) {
                int64_t first = hits[0];
                for (int j = 1; j < n; j++)
                    first = hits[j] < first ? hits[j] : first;
                assert_true(got == first);
            }
        }
        faas__tz_free(tz);
    }
}

static void malformed_zone_files_are_refused(void **state)
{
    (void)state;
    faas__tz *tz;
    char err[300];
    const unsigned char junk[] = "TZif2\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
    assert_int_equal(faas__tz_parse(junk, sizeof junk, &tz, err, sizeof err), FAAS__TZ_EINVAL);
    assert_int_equal(faas__tz_parse((const unsigned char *)"hello", 5, &tz, err, sizeof err),
                     FAAS__TZ_EINVAL);
    assert_string_equal(err, "not a TZif file");
    /* A version 1 file with one type and no transitions: UTC+1. */
    unsigned char v1[44 + 6 + 4] = { 'T', 'Z', 'i', 'f', 0 };
    v1[39] = 1;                                /* typecnt */
    v1[43] = 4;                                /* charcnt */
    v1[44 + 2] = 0x0e; v1[44 + 3] = 0x10;      /* utoff 3600 */
    memcpy(v1 + 50, "CET", 4);
    assert_int_equal(faas__tz_parse(v1, sizeof v1, &tz, err, sizeof err), 0);
    assert_int_equal(faas__tz_offset(tz, 0), 3600);
    faas__tz_free(tz);
    v1[39] = 0;                                /* no type at all */
    assert_int_equal(faas__tz_parse(v1, sizeof v1, &tz, err, sizeof err), FAAS__TZ_EINVAL);
    /* UTC needs no file. */
    setenv("TZDIR", "/nonexistent", 1);
    assert_int_equal(faas__tz_load("UTC", &tz, err, sizeof err), 0);
    assert_int_equal(faas__tz_offset(tz, 1795651200), 0);
    faas__tz_free(tz);
    assert_int_equal(faas__tz_load("Europe/Berlin", &tz, err, sizeof err), FAAS__TZ_ENOENT);
    unsetenv("TZDIR");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(next_firing_table),
        cmocka_unit_test(rate_expressions),
        cmocka_unit_test(bad_expressions_name_the_position),
        cmocka_unit_test(parsed_forms),
        cmocka_unit_test(zone_offsets_match_the_c_library),
        cmocka_unit_test(local_times_map_back),
        cmocka_unit_test(malformed_zone_files_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
