/*
 * reqid_text.h - the 36-character text of a request id (an RFC 4122 version-4 UUID) from its
 * 128 bits. Two ways to turn the bits into hex digits: a portable one in 64-bit words, and
 * an SSE2 one on x86-64 (16 digits per vector step). Both live here, as static inline
 * functions, so that tests/test_reqid.c can check they write the same text for the same bits.
 * Knows nothing of the generator (reqid.c) or of any caller.
 */
#ifndef FAAS_REQID_TEXT_H
#define FAAS_REQID_TEXT_H

#include <stdint.h>
#include <string.h>
#if defined(__x86_64__) && defined(__SSE2__)
#include <emmintrin.h>
#define FAAS_REQID_SSE2 1
#endif

/* The version (4) and variant (binary 10) bits forced into the random ones. */
static inline void faas__uuid_v4_bits(const uint64_t bits[2], uint64_t *hi, uint64_t *lo)
{
    *hi = (bits[0] & ~UINT64_C(0xf000)) | UINT64_C(0x4000);
    *lo = (bits[1] & ~(UINT64_C(3) << 62)) | (UINT64_C(2) << 62);
}

/* 32 bits as 8 lower-case hex digits, in a few word operations (no table, no loop):
 * spread the nibbles one per byte, turn each into its ASCII digit, then put the most
 * significant first. */
static inline void faas__hex8(char *out, uint32_t v)
{
    uint64_t x = v;
    x = ((x & UINT64_C(0xffff0000)) << 16) | (x & UINT64_C(0x0000ffff));
    x = ((x & UINT64_C(0x0000ff000000ff00)) << 8) | (x & UINT64_C(0x000000ff000000ff));
    x = ((x & UINT64_C(0x00f000f000f000f0)) << 4) | (x & UINT64_C(0x000f000f000f000f));
    /* Bytes holding 10..15 get 'a' - '0' - 10 = 39 more than the digits do. */
    uint64_t letters = ((x + UINT64_C(0x0606060606060606)) >> 4) & UINT64_C(0x0101010101010101);
    x += UINT64_C(0x3030303030303030) + letters * 39;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    x = __builtin_bswap64(x);        /* the most significant digit at the lowest address */
#endif
    memcpy(out, &x, 8);
}

/* hi then lo as 32 hex digits, most significant first: the portable way. */
static inline void faas__hex32_portable(uint64_t hi, uint64_t lo, char d[32])
{
    faas__hex8(d, (uint32_t)(hi >> 32));
    faas__hex8(d + 8, (uint32_t)hi);
    faas__hex8(d + 16, (uint32_t)(lo >> 32));
    faas__hex8(d + 24, (uint32_t)lo);
}

#ifdef FAAS_REQID_SSE2
/* The same with SSE2 (every x86-64 has it): the 16 bytes in text order (x86-64 is little
 * endian, so each word byte-swapped), each byte split into its two nibbles, the nibbles
 * interleaved high first, then 0..9 -> '0'..'9' and 10..15 -> 'a'..'f' on all 16 at once. */
static inline void faas__hex32_sse2(uint64_t hi, uint64_t lo, char d[32])
{
    const __m128i low4 = _mm_set1_epi8(0x0f);
    __m128i v = _mm_set_epi64x((long long)__builtin_bswap64(lo), (long long)__builtin_bswap64(hi));
    __m128i high_nibbles = _mm_and_si128(_mm_srli_epi16(v, 4), low4);
    __m128i low_nibbles = _mm_and_si128(v, low4);
    __m128i x0 = _mm_unpacklo_epi8(high_nibbles, low_nibbles);     /* digits 0..15 */
    __m128i x1 = _mm_unpackhi_epi8(high_nibbles, low_nibbles);     /* digits 16..31 */
    const __m128i nine = _mm_set1_epi8(9), zero = _mm_set1_epi8('0');
    const __m128i gap = _mm_set1_epi8('a' - '0' - 10);
    x0 = _mm_add_epi8(_mm_add_epi8(x0, zero), _mm_and_si128(_mm_cmpgt_epi8(x0, nine), gap));
    x1 = _mm_add_epi8(_mm_add_epi8(x1, zero), _mm_and_si128(_mm_cmpgt_epi8(x1, nine), gap));
    _mm_storeu_si128((__m128i *)(void *)d, x0);
    _mm_storeu_si128((__m128i *)(void *)(d + 16), x1);
}
#endif

/* 32 digits as 8-4-4-4-12 with dashes and the terminating NUL. */
static inline void faas__uuid_dashes(const char d[32], char out[37])
{
    memcpy(out, d, 8);
    memcpy(out + 9, d + 8, 4);
    memcpy(out + 14, d + 12, 4);
    memcpy(out + 19, d + 16, 4);
    memcpy(out + 24, d + 20, 12);
    out[8] = out[13] = out[18] = out[23] = '-';
    out[36] = '\0';
}

/* The UUID text of 128 random bits, the digits made by hex32 (a constant: inlined). */
static inline void faas__uuid_text_by(const uint64_t bits[2], char out[37],
                                      void (*hex32)(uint64_t hi, uint64_t lo, char d[32]))
{
    uint64_t hi, lo;
    char d[32];
    faas__uuid_v4_bits(bits, &hi, &lo);
    hex32(hi, lo, d);
    faas__uuid_dashes(d, out);
}

static inline void faas__uuid_text_portable(const uint64_t bits[2], char out[37])
{
    faas__uuid_text_by(bits, out, faas__hex32_portable);
}

#ifdef FAAS_REQID_SSE2
static inline void faas__uuid_text_sse2(const uint64_t bits[2], char out[37])
{
    faas__uuid_text_by(bits, out, faas__hex32_sse2);
}
#define faas__uuid_text faas__uuid_text_sse2
#else
#define faas__uuid_text faas__uuid_text_portable
#endif

#endif
