/* handlers.h — the proxy's HTTP routes. */
#ifndef PROXY_HANDLERS_H
#define PROXY_HANDLERS_H

#include "proxy/authn.h"
#include "proxy/config.h"
#include "proxy/forward.h"
#include "shared/http_server.h"

typedef struct {
    const proxy_config *cfg;
    proxy_authn *authn;
    proxy_forward *forward;
    proxy_upstream *upstream;
} proxy_app;

/** The route table (GET /v2/auth, any /v2/...). Returns the number of routes. */
size_t proxy_routes(proxy_app *app, qs_route *out, size_t max);
/** /readyz: robot credentials held and upstream reachable. */
bool proxy_ready(void *ctx, qs_buf *why);

#endif
