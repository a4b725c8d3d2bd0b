/* settings.c — the appstudio-provisioner's configuration from the environment.
 *
 * One table (libshared's qs_setting) feeds `--help` and the loader. Every problem is
 * collected and reported together (exit 2). The Quay token and the platform API token are
 * files (mounted Secrets) read at each use, so they rotate without a restart; only their
 * paths are settings. */
#include "appstudio-provisioner/settings.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shared/common.h"
#include "shared/config.h"

static const qs_setting settings[] = {
    {"LISTEN_ADDR", "0.0.0.0:8092", "address of the HTTP API (host:port)"},
    {"REDIS_URL", "redis://127.0.0.1:6379", "Redis holding the task queue and the status"},
    {"QUAY_URL", "https://quay.io", "Quay (the REST API is <QUAY_URL>/api/v1)"},
    {"QUAY_TOKEN_FILE", "",
     "file with Quay's OAuth token (org:admin, repo:admin, repo:create, "
     "user:admin); re-read at each use. Required"},
    {"QUAY_REGISTRY", "", "host[:port] of image references and Secrets (default: QUAY_URL's)"},
    {"ORG_MODE", "per-workspace", "per-workspace (an organization per workspace) or shared"},
    {"ORG_PREFIX", "", "per-workspace mode: organization = <ORG_PREFIX><workspace>"},
    {"QUAY_ORGANIZATION", "", "shared mode: the organization (repository <ws>/<component>)"},
    {"DEFAULT_VISIBILITY", "public", "visibility of new repositories: public or private"},
    {"NAMESPACE_TEMPLATE", "{workspace}", "the workspace's Kubernetes namespace"},
    {"KEEP_REPOSITORIES", "false",
     "deleting a component keeps its repository (and a workspace "
     "its organization)"},
    {"API_TOKEN_FILE", "", "the platform's bearer token (allowed everywhere); unset = none"},
    {"PROVISIONER_WORKERS", "4", "provisioning workers in this process"},
    {"MAX_ATTEMPTS", "30", "attempts of a task before its component is failed"},
    {"RETRY_BACKOFF", "1s", "wait before the first retry of a task (doubles each time)"},
    {"RETRY_BACKOFF_MAX", "60s", "longest wait between retries"},
    {"AUTH_CACHE_TTL", "10s", "how long a caller's TokenReview + SAR verdict is reused (0 = off)"},
    {"GRACE_PERIOD", "20s",
     "SIGTERM: time runs in flight get to finish (after it their tasks are handed back)"},
    {"KUBE_API_URL", "", "Kubernetes API URL (default: in-cluster service account)"},
    {"KUBE_TOKEN_FILE", "", "bearer token file for the Kubernetes API"},
    {"KUBE_CA_FILE", "", "CA bundle of the Kubernetes API"},
    {"QUAY_DEBUG", "false", "log every Quay call: method, path, status (never a secret)"},
    {"LOG_LEVEL", "info", "debug, info, warn or error"},
};

void prov_settings_usage(FILE *out) {
    fprintf(out,
            "appstudio-provisioner — a Quay organization per workspace, a repository, push and\n"
            "pull robots and their Kubernetes Secrets per component (quayside)\n\n"
            "Configuration (environment variables):\n");
    qs_settings_usage(out, settings, QS_ARRAY_LEN(settings));
    fprintf(out,
            "\nEndpoints (JSON; Authorization: Bearer <cluster token with `create secrets` in the\n"
            "workspace's namespace, or the API_TOKEN_FILE token>):\n"
            "  PUT/GET/DELETE /api/v1/workspaces/{ws}\n"
            "  GET            /api/v1/workspaces/{ws}/components\n"
            "  PUT/GET/PATCH/DELETE /api/v1/workspaces/{ws}/components/{component}\n"
            "  POST           /api/v1/workspaces/{ws}/components/{component}/rotate\n"
            "  /healthz, /readyz, /metrics\n");
}

static const char *get(qs_conf *c, const char *name) {
    return qs_settings_get(c, settings, QS_ARRAY_LEN(settings), name);
}

int prov_url_host(const char *url, char *out, size_t outlen) {
    const char *p = NULL;
    if (strncasecmp(url, "https://", 8) == 0)
        p = url + 8;
    else if (strncasecmp(url, "http://", 7) == 0)
        p = url + 7;
    if (!p || !*p)
        return QS_EINVAL;
    size_t n = strcspn(p, "/?#");
    if (n == 0 || n >= outlen || memchr(p, '@', n))
        return QS_EINVAL;
    memcpy(out, p, n);
    out[n] = '\0';
    return QS_OK;
}

static void load_naming(prov_settings *s, qs_conf *c) {
    const char *mode = get(c, "ORG_MODE");
    if (strcasecmp(mode, "per-workspace") == 0)
        s->naming.mode = PROV_ORG_PER_WORKSPACE;
    else if (strcasecmp(mode, "shared") == 0)
        s->naming.mode = PROV_ORG_SHARED;
    else
        qs_conf_error(c, "ORG_MODE must be per-workspace or shared, got \"%s\"", mode);
    s->naming.org_prefix = get(c, "ORG_PREFIX");
    if (!s->naming.org_prefix)
        s->naming.org_prefix = "";
    s->naming.shared_org = get(c, "QUAY_ORGANIZATION");
    static const prov_name_rule quay_user = {"-._", 2, 255};
    if (s->naming.mode == PROV_ORG_SHARED) {
        if (!s->naming.shared_org || !*s->naming.shared_org)
            qs_conf_error(c, "QUAY_ORGANIZATION is required with ORG_MODE=shared");
        else if (!prov_name_valid(s->naming.shared_org, &quay_user) ||
                 strlen(s->naming.shared_org) > PROV_RULE_ORG.max)
            qs_conf_error(c,
                          "QUAY_ORGANIZATION \"%s\" is not a valid Quay organization name "
                          "(^([a-z0-9]+(?:[._-][a-z0-9]+)*)$, 2-%zu characters)",
                          s->naming.shared_org, PROV_RULE_ORG.max);
    }
    s->naming.namespace_template = get(c, "NAMESPACE_TEMPLATE");
    if (!strstr(s->naming.namespace_template, "{workspace}"))
        qs_conf_error(c, "NAMESPACE_TEMPLATE must contain {workspace}, got \"%s\"",
                      s->naming.namespace_template);
    s->naming.registry = s->registry;
}

int prov_settings_load(prov_settings *s) {
    memset(s, 0, sizeof *s);
    qs_conf *c = qs_conf_new();
    if (!c)
        return 1;
    s->conf = c;
    s->listen_addr = get(c, "LISTEN_ADDR");
    s->redis_url = get(c, "REDIS_URL");
    s->quay_url = get(c, "QUAY_URL");
    s->quay_token_file = qs_conf_required(c, "QUAY_TOKEN_FILE");
    s->registry = get(c, "QUAY_REGISTRY");
    if (prov_url_host(s->quay_url, s->registry_buf, sizeof s->registry_buf) != QS_OK)
        qs_conf_error(c, "QUAY_URL must be an http(s):// URL, got \"%s\"", s->quay_url);
    if (!s->registry || !*s->registry)
        s->registry = s->registry_buf;
    else if (strchr(s->registry, '/') || strchr(s->registry, '@') || strchr(s->registry, ' '))
        qs_conf_error(c, "QUAY_REGISTRY must be host[:port], got \"%s\"", s->registry);
    load_naming(s, c);
    const char *vis = get(c, "DEFAULT_VISIBILITY");
    if (strcasecmp(vis, "public") == 0)
        s->default_public = true;
    else if (strcasecmp(vis, "private") != 0)
        qs_conf_error(c, "DEFAULT_VISIBILITY must be public or private, got \"%s\"", vis);
    s->keep_repositories = qs_conf_bool(c, "KEEP_REPOSITORIES", false);
    s->api_token_file = get(c, "API_TOKEN_FILE");
    s->workers = qs_conf_int(c, "PROVISIONER_WORKERS", 4, 1, 64);
    s->max_attempts = qs_conf_int(c, "MAX_ATTEMPTS", 30, 1, 1000);
    s->retry_backoff = qs_conf_duration(c, "RETRY_BACKOFF", 1, 0.01, 3600);
    s->retry_backoff_max = qs_conf_duration(c, "RETRY_BACKOFF_MAX", 60, 0.01, 86400);
    if (s->retry_backoff_max < s->retry_backoff)
        qs_conf_error(c, "RETRY_BACKOFF_MAX must not be shorter than RETRY_BACKOFF");
    s->auth_cache_ttl = qs_conf_duration(c, "AUTH_CACHE_TTL", 10, 0, 3600);
    s->grace_period = qs_conf_duration(c, "GRACE_PERIOD", 20, 0, 3600);
    s->kube_api_url = get(c, "KUBE_API_URL");
    s->kube_token_file = get(c, "KUBE_TOKEN_FILE");
    s->kube_ca_file = get(c, "KUBE_CA_FILE");
    s->quay_debug = qs_conf_bool(c, "QUAY_DEBUG", false);
    if (qs_log_level_parse(get(c, "LOG_LEVEL"), &s->log_level) != QS_OK)
        qs_conf_error(c, "LOG_LEVEL must be debug, info, warn or error");
    return (int)qs_conf_check(c);
}

void prov_settings_free(prov_settings *s) {
    qs_conf_free(s->conf);
    s->conf = NULL;
}
