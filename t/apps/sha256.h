/* SHA-256 (FIPS 180-4) for the test programs, which must not depend on a
 * crypto library only to print a digest of the request body. */
#ifndef APP_SHA256_H
#define APP_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_SIZE 32
#define SHA256_HEX_SIZE (2 * SHA256_DIGEST_SIZE + 1)

struct sha256 {
    uint32_t state[8];
    uint64_t length;             /* bytes hashed so far */
    uint8_t block[64];
    size_t block_len;
};

void sha256_init(struct sha256 *ctx);
void sha256_update(struct sha256 *ctx, const void *data, size_t len);
/* Writes the digest as lower-case hex and a NUL into hex[SHA256_HEX_SIZE]. */
void sha256_final_hex(struct sha256 *ctx, char hex[SHA256_HEX_SIZE]);

#endif
