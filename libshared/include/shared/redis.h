/* redis.h — connecting to Redis from a URL, and the few plain commands services share.
 *
 * URL: redis://[[user]:password@]host[:port][/db] (also unix:///path.sock). A qs_redis is one
 * connection guarded by a mutex, reconnected on demand after an error, with timeouts; it is
 * safe to share between threads. Durable queues are in queue.h (on top of this). */
#ifndef QS_REDIS_H
#define QS_REDIS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct qs_redis qs_redis;

/** Parse the URL and connect (lazily: a failed first connect is retried at the next call).
 *  NULL + message only for a malformed URL. */
qs_redis *qs_redis_new(const char *url, char *err, size_t errlen);
void qs_redis_free(qs_redis *r);
/** Run a command (hiredis format). The reply (freeReplyObject) or NULL when Redis is
 *  unreachable; one reconnect is attempted first. A Redis error reply is returned as is. */
redisReply *qs_redis_cmd(qs_redis *r, const char *fmt, ...);
/** Run a command given as argv. */
redisReply *qs_redis_cmdv(qs_redis *r, int argc, const char **argv, const size_t *argvlen);
/** PING succeeds? */
bool qs_redis_ping(qs_redis *r);
/** GET key → malloc'd value (NULL when absent or on error; *found tells which). */
char *qs_redis_get(qs_redis *r, const char *key, bool *found);
/** SET key value [PX ttl_ms] → 0 or QS_EUNAVAIL. ttl_ms 0 = no expiry. */
int qs_redis_set(qs_redis *r, const char *key, const char *value, long ttl_ms);

/* ---- a lock shared by every process using this Redis ---- */

/** Bytes of a lock token (hex of 16 random bytes, plus NUL). */
#define QS_REDIS_LOCK_TOKEN_LEN 33

/** Take the lock `key` (SET key <random token> NX PX ttl_ms): the lock expires by itself
 *  after ttl_ms, so a crashed holder cannot block others for longer. While someone else holds
 *  it, try again every 20..200 ms for up to wait_ms (0 = one attempt). On success the token
 *  that proves ownership is written to `token` (QS_REDIS_LOCK_TOKEN_LEN bytes) and *waited_ms
 *  (may be NULL) says how long it took. 0; QS_ECONFLICT still held by someone else when
 *  wait_ms ran out; QS_EUNAVAIL Redis unreachable (or it answered an error); QS_EINVAL. */
int qs_redis_lock(qs_redis *r, const char *key, long ttl_ms, long wait_ms, char *token,
                  long *waited_ms);
/** Release the lock when it is still ours: a Lua script deletes `key` only if it holds
 *  `token`, so a holder whose lock expired never deletes its successor's. 0 released;
 *  QS_ENOTFOUND no longer ours (expired, maybe taken by another); QS_EUNAVAIL; QS_EINVAL. */
int qs_redis_unlock(qs_redis *r, const char *key, const char *token);

#endif
