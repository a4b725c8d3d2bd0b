/* forward.h — passing an authorised pull request to the upstream and streaming the answer. */
#ifndef PROXY_FORWARD_H
#define PROXY_FORWARD_H

#include "proxy/access.h"
#include "proxy/config.h"
#include "proxy/upstream.h"
#include "shared/http_client.h"
#include "shared/http_server.h"

typedef struct proxy_forward proxy_forward;

proxy_forward *proxy_forward_new(const proxy_config *cfg, qs_http *http, proxy_upstream *up);
void proxy_forward_free(proxy_forward *f);
/** Forward `req` (already authenticated and allowed) and answer it. */
void proxy_forward_request(proxy_forward *f, qs_req *req, const proxy_path *path);

/** Is this response header passed back to the client? (Hop-by-hop headers, the length —
 *  which the server sets — and cookies are not.) Pure; exposed for tests. */
bool proxy_forward_keep_response_header(const char *name);
/** Rewrite a Location that points at the upstream's own origin to the exposed origin;
 *  anything else (a CDN URL, a relative path) is returned unchanged. malloc'd. */
char *proxy_forward_rewrite_location(const char *location, const char *upstream_url,
                                     const char *exposed_scheme, const char *exposed_host);

#endif
