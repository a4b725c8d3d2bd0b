/* base64.h — standard (RFC 4648 §4) and URL-safe (§5, no padding) base64. Pure functions. */
#ifndef QS_BASE64_H
#define QS_BASE64_H

#include <stddef.h>

/** Encode `n` bytes; returns a malloc'd NUL-terminated string (free()), NULL on ENOMEM. */
char *qs_base64_encode(const void *p, size_t n);
/** URL-safe alphabet, no '=' padding (as JWTs use). */
char *qs_base64url_encode(const void *p, size_t n);
/** Decode standard base64 (padding optional, no whitespace). Returns a malloc'd buffer with a
 *  NUL after the data, its length in *out_len; NULL if the input is not valid base64. */
unsigned char *qs_base64_decode(const char *s, size_t len, size_t *out_len);
/** Decode URL-safe base64 (padding optional). As qs_base64_decode. */
unsigned char *qs_base64url_decode(const char *s, size_t len, size_t *out_len);

#endif
