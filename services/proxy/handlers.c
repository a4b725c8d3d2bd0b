/* handlers.c — the proxy's two routes and the answers they share.
 *
 * GET /v2/auth is the token endpoint clients are sent to by the challenge; every other /v2/
 * request must carry a proxy token (or the robot's credentials), passes the pull-only policy
 * and is forwarded. Requests without valid credentials get the registry's own 401 shape with
 * the challenge, so docker, podman and skopeo start the token dance; errors the proxy makes on
 * registry paths use the registry's error body ({"errors":[{"code","message"}]}) so clients
 * print them. */
#include "proxy/handlers.h"

#include <stdio.h>
#include <string.h>

#include "proxy/access.h"
#include "shared/common.h"
#include "shared/log.h"

static void add_api_version(qs_req *req) {
    qs_resp_header(req, "Docker-Distribution-Api-Version", "registry/2.0");
}

/* 401 with the Bearer challenge pointing at our own /v2/auth. */
static void challenge(proxy_app *app, qs_req *req, const char *error, const char *message) {
    char value[700];
    snprintf(value, sizeof value, "Bearer realm=\"%s://%s/v2/auth\",service=\"%s\"%s%s%s",
             app->cfg->exposed_scheme, app->cfg->exposed_host, app->cfg->exposed_host,
             error ? ",error=\"" : "", error ? error : "", error ? "\"" : "");
    qs_resp_header(req, "WWW-Authenticate", value);
    add_api_version(req);
    qs_respond_error(req, 401, "UNAUTHORIZED", "%s", message);
}

static void h_auth(qs_req *req, void *ctx) {
    proxy_app *app = ctx;
    authn_grant g;
    authn_result r = proxy_authn_login(app->authn, qs_req_header(req, "Authorization"), &g);
    switch (r) {
    case AUTHN_OK: {
        json_t *body = json_pack("{s:s,s:s,s:I,s:s}", "token", g.token, "access_token", g.token,
                                 "expires_in", (json_int_t)g.expires_in, "issued_at", g.issued_at);
        authn_grant_free(&g);
        qs_resp_header(req, "Cache-Control", "no-store");
        qs_respond_json(req, 200, body);
        return;
    }
    case AUTHN_MISSING:
        challenge(app, req, NULL, "authentication required: log in with your cluster token");
        return;
    case AUTHN_DENIED:
        challenge(app, req, NULL, "invalid credentials or not allowed to pull");
        return;
    case AUTHN_UNAVAILABLE:
        add_api_version(req);
        qs_respond_error(req, 503, "UNAVAILABLE",
                         "the cluster could not verify the token; try again shortly");
        return;
    case AUTHN_INTERNAL:
    default:
        qs_respond_error(req, 500, "UNKNOWN", "the proxy cannot read its own secrets");
        return;
    }
}

static void deny(qs_req *req, proxy_decision d, const proxy_path *p) {
    add_api_version(req);
    switch (d) {
    case PROXY_DENY_METHOD:
        qs_resp_header(req, "Allow", "GET, HEAD");
        qs_respond_error(req, 405, "UNSUPPORTED", "this registry is pull-only: %s is not allowed",
                         qs_req_method(req));
        return;
    case PROXY_DENY_REPO:
        if (p->repo[0])
            qs_respond_error(req, 403, "DENIED", "repository %s is not served by this proxy",
                             p->repo);
        else
            qs_respond_error(req, 403, "DENIED", "listing the catalog is not allowed");
        return;
    case PROXY_DENY_PATH:
    case PROXY_ALLOW:
    default:
        qs_respond_error(req, 404, "NOT_FOUND", "not a registry pull path");
        return;
    }
}

static void h_registry(qs_req *req, void *ctx) {
    proxy_app *app = ctx;
    proxy_path p;
    proxy_path_parse(qs_req_path(req), &p);
    if (p.kind == PROXY_PATH_AUTH) { /* POST /v2/auth: OAuth2 clients fall back to GET on 404 */
        add_api_version(req);
        qs_respond_error(req, 404, "UNSUPPORTED", "use GET /v2/auth");
        return;
    }
    const char *via = NULL;
    authn_result r = proxy_authn_check(app->authn, qs_req_header(req, "Authorization"), &via);
    if (r == AUTHN_INTERNAL) {
        qs_respond_error(req, 500, "UNKNOWN", "the proxy cannot read its own secrets");
        return;
    }
    if (r != AUTHN_OK) {
        challenge(app, req, r == AUTHN_DENIED ? "invalid_token" : NULL,
                  r == AUTHN_DENIED ? "the token is invalid or expired: log in again"
                                    : "authentication required");
        return;
    }
    proxy_decision d = proxy_access_decide(qs_req_method(req), &p, app->cfg->repositories,
                                           app->cfg->nrepositories);
    if (d != PROXY_ALLOW) {
        deny(req, d, &p);
        return;
    }
    proxy_forward_request(app->forward, req, &p);
}

size_t proxy_routes(proxy_app *app, qs_route *out, size_t max) {
    const qs_route routes[] = {
        {"GET", "/v2/auth", h_auth, app, 0},
        {"*", "/v2{rest*}", h_registry, app, 0},
    };
    size_t n = QS_ARRAY_LEN(routes) < max ? QS_ARRAY_LEN(routes) : max;
    memcpy(out, routes, n * sizeof *routes);
    return n;
}

bool proxy_ready(void *ctx, qs_buf *why) {
    proxy_app *app = ctx;
    return proxy_upstream_ready(app->upstream, why);
}
