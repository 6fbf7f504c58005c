/*
 * base64.h - standard base64 (RFC 4648, section 4), the alphabet Lambda's API uses for blobs:
 * the Tail log, CodeSha256, ZipFile, X-Amz-Client-Context. Never installed.
 */
#ifndef FAAS_BASE64_H
#define FAAS_BASE64_H

#include <stddef.h>

/* The text's length for n bytes, with padding, without the terminating NUL. */
#define FAAS__BASE64_LEN(n) (((n) + 2) / 3 * 4)

/* The base64 of n bytes at in, padded, into out (FAAS__BASE64_LEN(n) + 1 bytes, NUL-
 * terminated); its length. */
size_t faas__base64_encode(const void *in, size_t n, char *out);

enum {
    FAAS__BASE64_PAD_OPTIONAL = 1       /* accept text without its '=' (Java's decoder) */
};

/* Decode n characters at s into out (room for n / 4 * 3 + 2 bytes): the number of bytes, or
 * -1 if s is not standard base64 — a character outside the alphabet, a length no encoder
 * gives, padding where it cannot be, or bits set past the last byte. Padding is required
 * unless flags has FAAS__BASE64_PAD_OPTIONAL. */
long faas__base64_decode(const char *s, size_t n, unsigned char *out, int flags);

#endif /* FAAS_BASE64_H */
