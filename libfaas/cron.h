/*
 * cron.h - EventBridge schedule expressions: rate(value unit) and the six-field
 * cron(minutes hours day-of-month month day-of-week year), parsed into an immutable
 * faas__cron and evaluated in a time zone. Self-contained (no libfaas header), so the
 * fuzzer and the tests compile it alone with tz.c.
 */
#ifndef FAAS_CRON_H
#define FAAS_CRON_H

#include <stddef.h>
#include <stdint.h>

#include "tz.h"

#define FAAS__CRON_YEAR_MIN 1970
#define FAAS__CRON_YEAR_MAX 2199

enum faas__cron_kind { FAAS__RATE, FAAS__CRON };
enum faas__dom_mode {
    FAAS__DOM_ANY,               /* ? */
    FAAS__DOM_SET,               /* values, ranges, steps, * */
    FAAS__DOM_LAST,              /* L: the last day of the month */
    FAAS__DOM_LAST_WEEKDAY,      /* LW: the last Monday-to-Friday of the month */
    FAAS__DOM_NEAREST_WEEKDAY,   /* nW: the weekday nearest day n, within the month */
};
enum faas__dow_mode {
    FAAS__DOW_ANY,               /* ? */
    FAAS__DOW_SET,               /* values (1 = SUN ... 7 = SAT), ranges, steps, *, L (= 7) */
    FAAS__DOW_LAST,              /* nL: the last day n of the month */
    FAAS__DOW_NTH,               /* n#k: the k-th day n of the month */
};

typedef struct faas__cron {
    enum faas__cron_kind kind;
    int64_t  period;             /* rate: seconds */
    uint64_t minutes;            /* bit m: minute m matches (0-59) */
    uint32_t hours;              /* bit h (0-23) */
    uint32_t days;               /* bit d (1-31), FAAS__DOM_SET */
    uint16_t months;             /* bit m (1-12) */
    uint8_t  weekdays;           /* bit d (1-7), FAAS__DOW_SET */
    uint64_t years[4];           /* bit y - 1970 (1970-2199) */
    enum faas__dom_mode dom;
    enum faas__dow_mode dow;
    int      dom_day;            /* nW */
    int      dow_day, dow_nth;   /* nL, n#k */
} faas__cron;

/* Parse an expression. 0, or -1 with a message in err naming the 1-based position of the
 * first character at fault: `position 9: hours: 24 is not in 0-23`. */
int faas__cron_parse(const char *expr, faas__cron *out, char *err, size_t errlen);

/* The first firing strictly after `after` (seconds since the epoch): 0 and *next, or -1
 * if there is none (past the last year). Cron fields are read on the wall clock of tz
 * (NULL: UTC): a time that a forward change skips does not fire, a time that a backward
 * change repeats fires once, the first time. A rate fires `period` after `after`. */
int faas__cron_next(const faas__cron *c, const faas__tz *tz, int64_t after, int64_t *next);

#endif /* FAAS_CRON_H */
