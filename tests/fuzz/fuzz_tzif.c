/* fuzz_tzif.c - libFuzzer target: the TZif reader (RFC 8536, the footer's POSIX TZ rule
 * included) on arbitrary bytes. A zone it accepts must answer offsets within 26 hours, and
 * local times must map back to instants that give them. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    faas__tz *tz;
    char err[300];
    if (faas__tz_parse(data, size, &tz, err, sizeof err) != 0)
        return 0;
    static const int64_t times[] = { INT64_C(-5000000000), -1, 0, INT64_C(1795651200),
                                     INT64_C(1806022740), INT64_C(4102444800),
                                     INT64_C(7258118340) };
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        int32_t off = faas__tz_offset(tz, times[i]);
        if (off <= -26 * 3600 || off >= 26 * 3600) {
            fprintf(stderr, "offset %d at %lld\n", off, (long long)times[i]);
            abort();
        }
        int64_t local = times[i] + off, utc;
        if (faas__tz_to_utc(tz, local, &utc) > 0 &&
            utc + faas__tz_offset(tz, utc) != local) {
            fprintf(stderr, "local %lld maps to %lld\n", (long long)local, (long long)utc);
            abort();
        }
    }
    faas__tz_free(tz);
    return 0;
}
