/* digest.h — content digests, HMAC, constant-time comparison and random tokens.
 *
 * Digests are in the registry's form "sha256:<64 lower-case hex>". The incremental API lets a
 * blob be hashed while it streams. Built on OpenSSL libcrypto. */
#ifndef QS_DIGEST_H
#define QS_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#define QS_SHA256_HEX_LEN 64
#define QS_DIGEST_STR_LEN (7 + QS_SHA256_HEX_LEN) /* "sha256:" + hex */

typedef struct qs_sha256 qs_sha256;

/** Start an incremental SHA-256. NULL on ENOMEM. */
qs_sha256 *qs_sha256_new(void);
void qs_sha256_update(qs_sha256 *h, const void *p, size_t n);
/** Finish into `out` ("sha256:<hex>", NUL-terminated, QS_DIGEST_STR_LEN+1 bytes) and free h. */
void qs_sha256_final(qs_sha256 *h, char out[QS_DIGEST_STR_LEN + 1]);
/** One-shot "sha256:<hex>" of a buffer. */
void qs_sha256_digest(const void *p, size_t n, char out[QS_DIGEST_STR_LEN + 1]);
/** One-shot lower-case hex SHA-256 (64 chars + NUL), without the "sha256:" prefix. */
void qs_sha256_hex(const void *p, size_t n, char out[QS_SHA256_HEX_LEN + 1]);
/** Raw 32-byte HMAC-SHA256. */
void qs_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t n,
                    unsigned char out[32]);
/** Is `s` a well-formed "sha256:<64 lower hex>" (or sha512:<128 hex>) digest? */
bool qs_digest_valid(const char *s);
/** Compare two byte strings in time independent of where they differ (lengths may differ;
 *  the comparison then still takes time proportional to `b`'s length). */
bool qs_consttime_equal(const void *a, size_t alen, const void *b, size_t blen);
/** Fill `out` with `n` cryptographically random bytes. 0 or QS_ERR. */
int qs_random_bytes(void *out, size_t n);
/** A random lower-case hex string of `nbytes` random bytes (2*nbytes chars); malloc'd. */
char *qs_random_hex(size_t nbytes);

#endif
