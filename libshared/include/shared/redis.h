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

#endif
