/* main.c — the omps service: operator manifests from zip uploads and Koji builds, validated
 * as operator-courier does and pushed to Quay's App Registry. Read this file as the table of
 * contents: settings (environment + OMPS_CONF_FILE, with the optional Greenwave gate), the CA
 * of CA_URL, the outgoing clients (Quay, Koji, Redis; Greenwave shares Quay's REQUEST_TIMEOUT
 * clients), the HTTP API, run until SIGTERM, stop gracefully. */
#include <stdio.h>
#include <string.h>

#include "omps/api.h"
#include "omps/ca.h"
#include "omps/errors.h"
#include "omps/greenwave.h"
#include "omps/service.h"
#include "omps/settings.h"
#include "shared/http_client.h"
#include "shared/http_server.h"
#include "shared/koji.h"
#include "shared/log.h"
#include "shared/redis.h"

#define MAX_ROUTES 24

static qs_http *quay_client(const char *ca, double timeout, int attempts) {
    qs_http_opts ho = QS_HTTP_OPTS_INIT;
    ho.user_agent = "quayside-omps";
    ho.ca_file = ca;
    ho.timeout_ms = (long)(timeout * 1000);
    ho.max_attempts = attempts;
    ho.max_response = 64u << 20;
    return qs_http_new(&ho);
}

static qs_koji *koji_client(const omps_settings *s, const char *ca, int attempts) {
    qs_koji_opts ko = QS_KOJI_OPTS_INIT;
    ko.hub_url = s->kojihub_url;
    ko.root_url = s->kojiroot_url;
    ko.timeout_ms = (long)(s->request_timeout * 1000);
    ko.max_attempts = attempts;
    ko.ca_file = ca;
    char err[256] = "";
    qs_koji *k = qs_koji_new(&ko, err, sizeof err);
    if (!k)
        qs_log(QS_LOG_ERROR, "cannot set up the Koji client", "reason", err, NULL);
    return k;
}

static bool ready(void *ctx, qs_buf *why) {
    omps_service *svc = ctx;
    if (!qs_redis_ping(svc->redis)) {
        qs_buf_puts(why, "Redis unreachable (push lock and events)");
        return false;
    }
    return true;
}

/* The Greenwave gate: on with its decision context, or the original's warning. */
static void log_greenwave(const omps_greenwave_conf *g) {
    if (!omps_greenwave_enabled(g))
        qs_log(QS_LOG_WARN, "Greenwave is not configured!", NULL);
    else
        qs_log(QS_LOG_INFO, "Greenwave configured: Koji builds must satisfy its policies", "url",
               g->url, "context", g->context, "product_version", g->product_version, NULL);
}

static void log_organizations(const omps_settings *s) {
    for (size_t i = 0; i < s->file.n_orgs; i++) {
        const omps_org *o = &s->file.orgs[i];
        qs_log(QS_LOG_INFO, "Organization configured", "organization", o->name, "public",
               o->public_ ? "true" : "false", "oauth_access",
               o->oauth_token || o->oauth_token_file ? "true" : "false",
               "replacing_registry_enabled", o->n_rules ? "true" : "false", "package_name_suffix",
               o->suffix, "csv_annotations", o->n_annotations ? "true" : "false", NULL);
    }
}

int main(int argc, char **argv) {
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        omps_settings_usage(stdout);
        return 0;
    }
    qs_signals_init();
    qs_log_init("omps", QS_LOG_INFO);

    /* 1. settings: the environment and OMPS_CONF_FILE, every problem reported at once */
    omps_settings s;
    if (omps_settings_load(&s) != 0) {
        qs_conf_check(s.conf);
        fprintf(stderr, "omps: invalid configuration (see the log lines above, or --help)\n");
        omps_settings_free(&s);
        return 2;
    }
    qs_log_init("omps", s.log_level);
    log_organizations(&s);
    log_greenwave(&s.file.greenwave);

    /* 2. CA_URL: fetched and trusted before any other outgoing call */
    char err[512] = "", *ca = NULL;
    if (s.ca_url && omps_ca_install(s.ca_url, NULL, &ca, err, sizeof err) != 0) {
        qs_log(QS_LOG_ERROR, "cannot install the CA of CA_URL", "reason", err, NULL);
        fprintf(stderr, "omps: %s\n", err);
        omps_settings_free(&s);
        return 2;
    }

    /* 3. the parts: Quay clients, Koji, Redis */
    omps_service svc = {0};
    svc.s = &s;
    svc.quay = quay_client(ca, s.request_timeout, 4);
    svc.quay_push = quay_client(ca, s.push_timeout, 1);
    svc.quay_health = quay_client(ca, s.request_timeout, 1);
    svc.koji = koji_client(&s, ca, 4);
    svc.koji_health = koji_client(&s, ca, 1);
    svc.redis = qs_redis_new(s.redis_url, err, sizeof err);
    sem_init(&svc.workers, 0, (unsigned)s.workers);
    omps_service_metrics(&svc);
    int code = 1;
    if (!svc.redis)
        qs_log(QS_LOG_ERROR, "REDIS_URL is not usable", "reason", err, NULL);
    if (!svc.quay || !svc.quay_push || !svc.quay_health || !svc.koji || !svc.koji_health ||
        !svc.redis)
        goto out;

    /* 4. the HTTP API: WORKERS_NUM requests at work, more connections may wait */
    qs_route routes[MAX_ROUTES];
    size_t nroutes = omps_api_routes(&svc, routes, MAX_ROUTES);
    qs_server_opts so = QS_SERVER_OPTS_INIT;
    so.listen_addr = s.listen_addr;
    so.service = "omps";
    so.max_connections = (unsigned)(s.workers * 4 + 16);
    so.error_formatter = omps_error_format;
    so.ready = ready;
    so.ready_ctx = &svc;
    qs_server *srv = qs_server_new(&so, routes, nroutes, err, sizeof err);
    if (!srv || qs_server_start(srv, err, sizeof err) != 0) {
        qs_log(QS_LOG_ERROR, "cannot start the HTTP server", "reason", err, NULL);
        qs_server_free(srv);
        goto out;
    }
    char workers[24];
    snprintf(workers, sizeof workers, "%ld", s.workers);
    qs_log(QS_LOG_INFO, "omps ready", "quay", s.quay_url, "kojihub", s.kojihub_url, "workers",
           workers, NULL);

    /* 5. run until SIGTERM; requests in flight get GRACE_PERIOD to finish */
    qs_wait_for_shutdown();
    qs_server_stop(srv, s.grace_period);
    qs_server_free(srv);
    code = 0;
out:
    qs_redis_free(svc.redis);
    qs_koji_free(svc.koji_health);
    qs_koji_free(svc.koji);
    qs_http_free(svc.quay_health);
    qs_http_free(svc.quay_push);
    qs_http_free(svc.quay);
    sem_destroy(&svc.workers);
    omps_ca_remove(ca);
    omps_settings_free(&s);
    qs_log(QS_LOG_INFO, "stopped", NULL);
    return code;
}
