/* upstream.h — the proxy's credentials towards the upstream registry, kept fresh. */
#ifndef PROXY_UPSTREAM_H
#define PROXY_UPSTREAM_H

#include <stdbool.h>

#include "proxy/config.h"
#include "shared/buf.h"
#include "shared/http_client.h"
#include "shared/redis.h"

typedef struct proxy_upstream proxy_upstream;

/** `redis` may be NULL (no sharing between replicas). */
proxy_upstream *proxy_upstream_new(const proxy_config *cfg, qs_http *http, qs_redis *redis);
/** Learn the upstream's scheme and fetch the first tokens (failures are logged and retried in
 *  the background), then start the renewal thread. */
int proxy_upstream_start(proxy_upstream *u);
void proxy_upstream_stop(proxy_upstream *u);
void proxy_upstream_free(proxy_upstream *u);

/** The Authorization value to send upstream for `repo` (NULL repo = the first allowed one):
 *  *out is malloc'd "Bearer …"/"Basic …", or NULL for an anonymous upstream. Served from
 *  memory; fetches synchronously only when no valid token is held. 0 or QS_EUNAVAIL. */
int proxy_upstream_authorization(proxy_upstream *u, const char *repo, char **out);
/** The upstream refused our credentials: drop them so the next call renews. */
void proxy_upstream_invalidate(proxy_upstream *u, const char *repo);
/** Ready = scheme known, upstream answered recently, and a valid token held (Bearer). */
bool proxy_upstream_ready(proxy_upstream *u, qs_buf *why);
/** The upstream base URL. */
const char *proxy_upstream_url(const proxy_upstream *u);

#endif
