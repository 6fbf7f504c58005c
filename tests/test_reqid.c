/* test_reqid.c - the text of a request id: an RFC 4122 version-4 UUID that spells its 128
 * bits (with the version and variant forced) in lower-case hex, and the SSE2 path writing
 * exactly what the portable path writes, for a million values. Tests the static inline
 * functions of libfaas/reqid_text.h directly; the ids the library hands out are checked in
 * test_invoke.c (format, uniqueness). */
#include "util.h"

#include "../libfaas/reqid_text.h"   /* not -I libfaas: its sched.h would hide <sched.h> */

/* splitmix64: a fixed, reproducible stream of test values. */
static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* text is a v4 UUID spelling bits, with the version and variant forced; 0 if it is. */
static int check_text(const uint64_t bits[2], const char *text)
{
    if (strlen(text) != 36)
        return 1;
    uint64_t w[2] = { 0, 0 };
    int digits = 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-')
                return 2;
            continue;
        }
        int v = hexval(text[i]);
        if (v < 0)
            return 3;
        w[digits / 16] = w[digits / 16] << 4 | (uint64_t)v;
        digits++;
    }
    if (text[14] != '4' || hexval(text[19]) < 8 || hexval(text[19]) > 11)
        return 4;
    uint64_t hi = (bits[0] & ~UINT64_C(0xf000)) | UINT64_C(0x4000);
    uint64_t lo = (bits[1] & ~(UINT64_C(3) << 62)) | (UINT64_C(2) << 62);
    return w[0] == hi && w[1] == lo ? 0 : 5;
}

static void known_values(void **state)
{
    (void)state;
    static const struct { uint64_t bits[2]; const char *text; } cases[] = {
        { { 0, 0 }, "00000000-0000-4000-8000-000000000000" },
        { { UINT64_MAX, UINT64_MAX }, "ffffffff-ffff-4fff-bfff-ffffffffffff" },
        { { UINT64_C(0x0123456789abcdef), UINT64_C(0xfedcba9876543210) },
          "01234567-89ab-4def-bedc-ba9876543210" },
        { { UINT64_C(0x9a9a9a9a9a9a9a9a), UINT64_C(0x0909090909090909) },
          "9a9a9a9a-9a9a-4a9a-8909-090909090909" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[37];
        memset(out, 'x', sizeof out);
        faas__uuid_text_portable(cases[i].bits, out);
        assert_string_equal(out, cases[i].text);
        memset(out, 'x', sizeof out);
        faas__uuid_text(cases[i].bits, out);        /* the path the library uses */
        assert_string_equal(out, cases[i].text);
    }
}

/* Every bit alone, every nibble value in every place, and a million mixed values. */
static void paths_agree(void **state)
{
    (void)state;
#ifdef FAAS_REQID_SSE2
    uint64_t s = 17;
    long bad_format = 0, disagree = 0;
    for (long n = 0; n < 1000000 + 128 + 512; n++) {
        uint64_t bits[2];
        if (n < 128) {
            bits[0] = n < 64 ? UINT64_C(1) << n : 0;
            bits[1] = n < 64 ? 0 : UINT64_C(1) << (n - 64);
        } else if (n < 128 + 512) {
            long k = n - 128;           /* nibble value k % 16 at nibble k / 16 of 32 */
            uint64_t v = (uint64_t)(k % 16) << (4 * (k / 16 % 16));
            bits[0] = k / 16 < 16 ? v : 0;
            bits[1] = k / 16 < 16 ? 0 : v;
        } else {
            bits[0] = mix(&s);
            bits[1] = mix(&s);
        }
        char a[37], b[37];
        faas__uuid_text_portable(bits, a);
        faas__uuid_text_sse2(bits, b);
        bad_format += check_text(bits, a) != 0;
        disagree += memcmp(a, b, 37) != 0;
    }
    assert_int_equal(bad_format, 0);
    assert_int_equal(disagree, 0);
#else
    skip();                             /* one path only: nothing to compare */
#endif
}

int main(void)
{
    tap_fix_skips();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_values),
        cmocka_unit_test(paths_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
