/*
 * crc32c.h - CRC-32C (Castagnoli, the polynomial iSCSI, ext4 and LevelDB use), software,
 * slicing by 8. The journal's record checksum. Private.
 */
#ifndef FAAS_CRC32C_H
#define FAAS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend crc (0 to start) with n bytes at p. crc32c("123456789") is 0xe3069283. */
uint32_t faas__crc32c(uint32_t crc, const void *p, size_t n);

#endif /* FAAS_CRC32C_H */
