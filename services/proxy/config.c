/* config.c — the proxy's configuration: environment variables and secret-file paths.
 *
 * Every setting has one table row (name, default, meaning) that feeds both `--help` and the
 * loader, so the two cannot drift apart. All problems are collected and reported together.
 * Secret values are not read here: the modules that use them hold qs_secret handles, which
 * re-read the files whenever a mounted Secret rotates. */
#include "proxy/config.h"

#include <stdlib.h>
#include <string.h>

#include "shared/common.h"
#include "shared/config.h"

static const qs_setting settings[] = {
    {"LISTEN_ADDR", "127.0.0.1:8400", "address to listen on (host:port)"},
    {"EXPOSED_HOST", "quay-proxy.ci.openshift.org",
     "host[:port] clients use, for the WWW-Authenticate realm and service; a leading "
     "https:// or http:// sets the realm's scheme (default: https with TLS, else http)"},
    {"UPSTREAM_URL", "https://quay.io", "the registry proxied to"},
    {"UPSTREAM_REPOSITORY", "openshift/ci", "the repository the robot pulls from"},
    {"ALLOWED_REPOSITORIES", "", "extra repositories clients may pull (comma list)"},
    {"ROBOT_USERNAME_FILE", "", "file holding the upstream robot's username (required)"},
    {"ROBOT_PASSWORD_FILE", "", "file holding the upstream robot's password (required)"},
    {"TOKEN_SECRET_FILE", "", "file holding the HMAC key of the proxy's tokens (required)"},
    {"TOKEN_VALIDITY", "300s", "lifetime of the proxy's tokens (expires_in)"},
    {"TLS_CERT_FILE", "", "PEM certificate; with TLS_KEY_FILE serves HTTPS"},
    {"TLS_KEY_FILE", "", "PEM private key"},
    {"KUBE_API_URL", "", "cluster API URL (default: in-cluster service account)"},
    {"KUBE_TOKEN_FILE", "", "bearer token file for the cluster API"},
    {"KUBE_CA_FILE", "", "CA bundle of the cluster API"},
    {"SAR_NAMESPACE", "ocp", "namespace where users need get imagestreams/layers"},
    {"TOKEN_REVIEW_TTL", "60s", "how long a TokenReview/SAR result is reused"},
    {"ROBOT_TOKEN_CHECK_INTERVAL", "30s", "how often the robot token's expiry is checked"},
    {"UPSTREAM_CA_FILE", "", "extra CA bundle for the upstream"},
    {"REDIS_URL", "", "optional: replicas share the robot token through Redis"},
    {"GRACE_PERIOD", "10s", "how long SIGTERM waits for in-flight requests"},
    {"LOG_LEVEL", "info", "debug, info, warn or error"},
};

void proxy_config_usage(FILE *out) {
    fprintf(out, "proxy — authenticating, pull-only registry proxy (quayside)\n\n"
                 "Clients log in with a cluster token (or the robot's credentials) and pull\n"
                 "through the proxy; it swaps their token for the robot's upstream token.\n\n"
                 "Configuration (environment variables):\n");
    qs_settings_usage(out, settings, QS_ARRAY_LEN(settings));
    fprintf(out, "\nEndpoints: GET /v2/auth, GET|HEAD /v2/..., /healthz, /readyz, /metrics\n");
}

static const char *setting(qs_conf *c, const char *name) {
    return qs_settings_get(c, settings, QS_ARRAY_LEN(settings), name);
}

static void add_repo(proxy_config *cfg, const char *name, size_t len) {
    while (len && (*name == ' ' || name[len - 1] == ' ')) {
        if (*name == ' ') {
            name++;
            len--;
        } else {
            len--;
        }
    }
    if (!len)
        return;
    char **p = realloc(cfg->repositories, (cfg->nrepositories + 1) * sizeof *p);
    if (!p)
        return;
    cfg->repositories = p;
    p[cfg->nrepositories++] = strndup(name, len);
}

static void load_exposed(proxy_config *cfg, qs_conf *c) {
    const char *exposed = setting(c, "EXPOSED_HOST");
    const char *host = exposed;
    const char *scheme = cfg->tls_cert_file ? "https" : "http";
    if (strncmp(exposed, "https://", 8) == 0) {
        scheme = "https";
        host = exposed + 8;
    } else if (strncmp(exposed, "http://", 7) == 0) {
        scheme = "http";
        host = exposed + 7;
    }
    snprintf(cfg->exposed_scheme, sizeof cfg->exposed_scheme, "%s", scheme);
    snprintf(cfg->exposed_host, sizeof cfg->exposed_host, "%.*s", (int)strcspn(host, "/"), host);
    if (!cfg->exposed_host[0] || strpbrk(cfg->exposed_host, "\" \\,"))
        qs_conf_error(c, "EXPOSED_HOST must be host[:port], got \"%s\"", exposed);
}

static void load_repositories(proxy_config *cfg, qs_conf *c) {
    const char *main_repo = setting(c, "UPSTREAM_REPOSITORY");
    add_repo(cfg, main_repo, strlen(main_repo));
    const char *extra = setting(c, "ALLOWED_REPOSITORIES");
    for (const char *p = extra; p && *p;) {
        size_t n = strcspn(p, ",");
        add_repo(cfg, p, n);
        p += n + (p[n] == ',');
    }
    for (size_t i = 0; i < cfg->nrepositories; i++)
        if (strspn(cfg->repositories[i], "abcdefghijklmnopqrstuvwxyz0123456789._-/") !=
            strlen(cfg->repositories[i]))
            qs_conf_error(c, "repository \"%s\" is not a valid repository name",
                          cfg->repositories[i]);
}

int proxy_config_load(proxy_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    qs_conf *c = qs_conf_new();
    if (!c)
        return 1;
    cfg->listen_addr = setting(c, "LISTEN_ADDR");
    cfg->tls_cert_file = setting(c, "TLS_CERT_FILE");
    cfg->tls_key_file = setting(c, "TLS_KEY_FILE");
    if (!cfg->tls_cert_file != !cfg->tls_key_file)
        qs_conf_error(c, "TLS_CERT_FILE and TLS_KEY_FILE must be set together");
    load_exposed(cfg, c);
    const char *up = setting(c, "UPSTREAM_URL");
    size_t uplen = strlen(up);
    while (uplen && up[uplen - 1] == '/')
        uplen--;
    cfg->upstream_url = strndup(up, uplen);
    if (strncmp(up, "https://", 8) != 0 && strncmp(up, "http://", 7) != 0)
        qs_conf_error(c, "UPSTREAM_URL must start with https:// or http://");
    load_repositories(cfg, c);
    cfg->robot_username_file = qs_conf_required(c, "ROBOT_USERNAME_FILE");
    cfg->robot_password_file = qs_conf_required(c, "ROBOT_PASSWORD_FILE");
    cfg->token_secret_file = qs_conf_required(c, "TOKEN_SECRET_FILE");
    cfg->token_validity = qs_conf_duration(c, "TOKEN_VALIDITY", 300, 60, 86400);
    cfg->kube_api_url = setting(c, "KUBE_API_URL");
    cfg->kube_token_file = setting(c, "KUBE_TOKEN_FILE");
    cfg->kube_ca_file = setting(c, "KUBE_CA_FILE");
    cfg->sar_namespace = setting(c, "SAR_NAMESPACE");
    cfg->token_review_ttl = qs_conf_duration(c, "TOKEN_REVIEW_TTL", 60, 0, 3600);
    cfg->renew_interval = qs_conf_duration(c, "ROBOT_TOKEN_CHECK_INTERVAL", 30, 0.1, 3600);
    cfg->upstream_ca_file = setting(c, "UPSTREAM_CA_FILE");
    cfg->redis_url = setting(c, "REDIS_URL");
    cfg->grace_period = qs_conf_duration(c, "GRACE_PERIOD", 10, 0, 600);
    if (qs_log_level_parse(setting(c, "LOG_LEVEL"), &cfg->log_level) != QS_OK)
        qs_conf_error(c, "LOG_LEVEL must be debug, info, warn or error");
    cfg->conf = c;
    return (int)qs_conf_check(c);
}

void proxy_config_free(proxy_config *cfg) {
    for (size_t i = 0; i < cfg->nrepositories; i++)
        free(cfg->repositories[i]);
    free(cfg->repositories);
    free((void *)cfg->upstream_url);
    qs_conf_free(cfg->conf);
    cfg->conf = NULL;
}
