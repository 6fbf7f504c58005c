/*
 * tz.h - time zones for schedules, read from the system's TZif files (RFC 8536) without
 * touching TZ or the C library's zone state, so that any number of threads and zones can
 * be used at once. Self-contained (no libfaas header): tests and fuzzers compile it alone.
 *
 * Times are seconds: "utc" since the epoch, "local" the same count on the zone's wall
 * clock (local = utc + offset).
 */
#ifndef FAAS_TZ_H
#define FAAS_TZ_H

#include <stddef.h>
#include <stdint.h>

typedef struct faas__tz faas__tz;

/* Results of the loaders: 0, or one of these with a message in err. */
#define FAAS__TZ_EINVAL   (-1)    /* a bad name or a malformed file */
#define FAAS__TZ_ENOMEM   (-2)
#define FAAS__TZ_ENOENT   (-3)    /* no such zone */

/* Load the zone NAME ("Europe/Berlin") from $TZDIR or /usr/share/zoneinfo. "UTC" and its
 * aliases work without a file. */
int  faas__tz_load(const char *name, faas__tz **out, char *err, size_t errlen);
/* Parse a TZif image in memory. */
int  faas__tz_parse(const unsigned char *data, size_t len, faas__tz **out, char *err,
                    size_t errlen);
void faas__tz_free(faas__tz *tz);

/* Seconds east of UTC at that instant. tz NULL: UTC. */
int32_t faas__tz_offset(const faas__tz *tz, int64_t utc);
/* The instants whose local time is `local`: 0 (skipped by a forward change), 1, or 2
 * (repeated by a backward change); *utc gets the earliest. tz NULL: UTC. */
int  faas__tz_to_utc(const faas__tz *tz, int64_t local, int64_t *utc);

/* Civil calendar helpers (proleptic Gregorian), shared with the cron evaluator. */
int64_t faas__days_from_civil(int64_t y, unsigned m, unsigned d);
void    faas__civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

#endif /* FAAS_TZ_H */
