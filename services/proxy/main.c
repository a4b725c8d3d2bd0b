/* main.c — the proxy: an authenticating, pull-only reverse proxy in front of one registry
 * repository. Read this file as the table of contents: configuration, the parts, the routes,
 * run until SIGTERM, stop gracefully. */
#include <stdio.h>
#include <string.h>

#include "proxy/authn.h"
#include "proxy/config.h"
#include "proxy/forward.h"
#include "proxy/handlers.h"
#include "proxy/upstream.h"
#include "shared/http_client.h"
#include "shared/http_server.h"
#include "shared/kube.h"
#include "shared/log.h"
#include "shared/redis.h"

static qs_kube *connect_cluster(const proxy_config *cfg) {
    qs_kube_opts ko = QS_KUBE_OPTS_INIT;
    ko.api_url = cfg->kube_api_url;
    ko.token_file = cfg->kube_token_file;
    ko.ca_file = cfg->kube_ca_file;
    char err[256];
    qs_kube *k = qs_kube_new(&ko, err, sizeof err);
    if (!k)
        qs_log(QS_LOG_WARN, "no cluster API: only the robot can log in", "reason", err, NULL);
    return k;
}

static qs_http *upstream_client(const proxy_config *cfg) {
    qs_http_opts ho = QS_HTTP_OPTS_INIT;
    ho.ca_file = cfg->upstream_ca_file;
    ho.user_agent = "quayside-proxy";
    return qs_http_new(&ho);
}

int main(int argc, char **argv) {
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        proxy_config_usage(stdout);
        return 0;
    }
    qs_signals_init();
    qs_log_init("proxy", QS_LOG_INFO);

    /* 1. configuration */
    proxy_config cfg;
    if (proxy_config_load(&cfg) != 0) {
        fprintf(stderr, "proxy: invalid configuration (see the log lines above, or --help)\n");
        proxy_config_free(&cfg);
        return 2;
    }
    qs_log_init("proxy", cfg.log_level);

    /* 2. the parts: cluster, upstream, optional Redis, authentication, forwarding */
    qs_kube *kube = connect_cluster(&cfg);
    qs_http *http = upstream_client(&cfg);
    char err[256] = "";
    qs_redis *redis = cfg.redis_url ? qs_redis_new(cfg.redis_url, err, sizeof err) : NULL;
    if (cfg.redis_url && !redis)
        qs_log(QS_LOG_ERROR, "REDIS_URL is not usable; tokens are not shared", "reason", err, NULL);
    proxy_upstream *upstream = proxy_upstream_new(&cfg, http, redis);
    proxy_app app = {&cfg, proxy_authn_new(&cfg, kube), NULL, upstream};
    app.forward = proxy_forward_new(&cfg, http, upstream);
    if (!http || !upstream || !app.authn || !app.forward) {
        qs_log(QS_LOG_ERROR, "out of memory at start", NULL);
        return 1;
    }

    /* 3. routes and server */
    qs_route routes[4];
    size_t nroutes = proxy_routes(&app, routes, 4);
    qs_server_opts so = QS_SERVER_OPTS_INIT;
    so.listen_addr = cfg.listen_addr;
    so.service = "proxy";
    so.tls_cert_file = cfg.tls_cert_file;
    so.tls_key_file = cfg.tls_key_file;
    so.error_formatter = qs_error_format_registry;
    so.ready = proxy_ready;
    so.ready_ctx = &app;
    so.max_body = 64 * 1024;
    so.max_connections = 1024;
    so.idle_timeout_s = 300;
    qs_server *srv = qs_server_new(&so, routes, nroutes, err, sizeof err);
    if (!srv || qs_server_start(srv, err, sizeof err) != 0) {
        qs_log(QS_LOG_ERROR, "cannot start the HTTP server", "reason", err, NULL);
        return 1;
    }

    /* 4. run: robot tokens fetched and kept fresh in the background */
    proxy_upstream_start(upstream);
    qs_wait_for_shutdown();

    /* 5. stop: no new connections, in-flight pulls get the grace period */
    qs_server_stop(srv, cfg.grace_period);
    proxy_upstream_stop(upstream);
    qs_server_free(srv);
    proxy_forward_free(app.forward);
    proxy_authn_free(app.authn);
    proxy_upstream_free(upstream);
    qs_redis_free(redis);
    qs_http_free(http);
    qs_kube_free(kube);
    proxy_config_free(&cfg);
    qs_log(QS_LOG_INFO, "stopped", NULL);
    return 0;
}
