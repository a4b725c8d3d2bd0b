/* ttl_cache.h — a small thread-safe string → string map whose entries expire.
 *
 * Bounded: when full, expired entries are dropped first, then the entry closest to expiry.
 * Used for TokenReview results (keyed by a hash of the token, never the token itself) and
 * similar short-lived memos. */
#ifndef QS_TTL_CACHE_H
#define QS_TTL_CACHE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct qs_ttl_cache qs_ttl_cache;

qs_ttl_cache *qs_ttl_cache_new(size_t capacity);
void qs_ttl_cache_free(qs_ttl_cache *c);
/** Store `value` under `key` for `ttl_s` seconds (replacing any entry). 0 or QS_ENOMEM. */
int qs_ttl_cache_put(qs_ttl_cache *c, const char *key, const char *value, double ttl_s);
/** A malloc'd copy of the live value, or NULL when absent or expired. */
char *qs_ttl_cache_get(qs_ttl_cache *c, const char *key);
void qs_ttl_cache_del(qs_ttl_cache *c, const char *key);
size_t qs_ttl_cache_size(qs_ttl_cache *c);

/** Monotonic seconds (CLOCK_MONOTONIC) — the clock the cache uses. */
double qs_now_mono(void);

#endif
