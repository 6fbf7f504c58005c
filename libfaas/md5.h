/*
 * md5.h - MD5 (RFC 1321), for the S3 eTag of a watched file: S3 gives a single-part
 * upload's MD5 as its ETag. Self-contained (no libfaas header), so tests and fuzzers can
 * compile it alone. Not for security: MD5 is broken for that.
 */
#ifndef FAAS_MD5_H
#define FAAS_MD5_H

#include <stddef.h>
#include <stdint.h>

typedef struct faas__md5 {
    uint32_t      h[4];
    uint64_t      bytes;        /* message length so far */
    unsigned char block[64];    /* the partial block, bytes % 64 of it used */
} faas__md5;

void faas__md5_init(faas__md5 *m);
void faas__md5_update(faas__md5 *m, const void *data, size_t len);
/* The digest as 32 lower-case hex digits and a NUL. */
void faas__md5_hex(faas__md5 *m, char out[33]);

#endif /* FAAS_MD5_H */
