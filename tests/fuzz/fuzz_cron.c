/* fuzz_cron.c - libFuzzer target: the EventBridge expression parser and the next-firing
 * search on arbitrary bytes. The first byte picks a zone (UTC, Berlin, Sydney, Chatham)
 * and a start time (1969, DST edges, 2199's last minute); the rest is the expression.
 * Checked: a refusal names a position inside the text; a firing is strictly later than
 * the time before it, on a whole minute for cron, and before 2200 in local time. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "tz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static faas__tz *zones[4];          /* zones[0] NULL: UTC */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static const char *const names[] = { "Europe/Berlin", "Australia/Sydney",
                                         "Pacific/Chatham" };
    char err[300];
    for (int i = 0; i < 3; i++)
        if (faas__tz_load(names[i], &zones[i + 1], err, sizeof err) != 0)
            zones[i + 1] = NULL;    /* no zoneinfo here: those inputs run in UTC */
    return 0;
}

static const int64_t STARTS[] = {
    INT64_C(-31536000),             /* 1969 */
    0,
    INT64_C(1795651200),            /* 2026-11-26 */
    INT64_C(1806022740),            /* 2027-03-28 00:59Z, Berlin's spring forward */
    INT64_C(1824944340),            /* 2027-10-31 00:59Z, Berlin's fall back */
    INT64_C(1806933600),            /* 2027-04-04, Sydney's fall back */
    INT64_C(7258118340),            /* 2199-12-31T23:59Z */
    INT64_C(4102444800),            /* 2100-01-01 */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const faas__tz *tz = zones[data[0] & 3];
    int64_t t = STARTS[(data[0] >> 2) % (sizeof STARTS / sizeof STARTS[0])];
    char *expr = malloc(size);
    if (expr == NULL)
        return 0;
    memcpy(expr, data + 1, size - 1);
    expr[size - 1] = '\0';
    size_t len = strlen(expr);
    faas__cron c;
    char err[256];
    if (faas__cron_parse(expr, &c, err, sizeof err) != 0) {
        int pos;
        if (sscanf(err, "position %d: ", &pos) != 1 || pos < 1 || (size_t)pos > len + 1) {
            fprintf(stderr, "bad refusal for \"%s\": %s\n", expr, err);
            abort();
        }
    } else {
        for (int i = 0; i < 5; i++) {
            int64_t next;
            if (faas__cron_next(&c, tz, t, &next) != 0)
                break;
            int64_t local = next + faas__tz_offset(tz, next);
            if (next <= t || (c.kind == FAAS__CRON && (local % 60 != 0 ||
                                                         local >= INT64_C(7258118400)))) {
                fprintf(stderr, "\"%s\": after %lld came %lld\n", expr, (long long)t,
                        (long long)next);
                abort();
            }
            t = next;
        }
    }
    free(expr);
    return 0;
}
