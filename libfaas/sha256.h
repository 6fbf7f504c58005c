/*
 * sha256.h - SHA-256 (FIPS 180-4), for a published version's CodeSha256. Never installed.
 */
#ifndef FAAS_SHA256_H
#define FAAS_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct faas__sha256 {
    uint32_t h[8];
    uint64_t bytes;             /* message length so far */
    unsigned char buf[64];      /* a partial block */
    size_t   used;              /* bytes in buf */
} faas__sha256;

void faas__sha256_init(faas__sha256 *s);
void faas__sha256_update(faas__sha256 *s, const void *data, size_t n);
void faas__sha256_final(faas__sha256 *s, unsigned char digest[32]);
/* The digest in standard base64 with padding (44 characters), as Lambda prints
 * CodeSha256. */
void faas__sha256_base64(const unsigned char digest[32], char out[45]);

#endif /* FAAS_SHA256_H */
