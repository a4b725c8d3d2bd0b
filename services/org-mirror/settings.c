/* settings.c — the org-mirror service's configuration from the environment.
 *
 * One table (libshared's qs_setting) feeds both `--help` and the loader. The seed's variables
 * keep their names and meaning; what the seed passed as one Secret value per CronJob comes
 * from the seed's Secrets mounted as directories (one file per organisation). Every problem —
 * settings, the organisations file, missing Secret files — is collected and reported at once. */
#include "org-mirror/settings.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shared/buf.h"
#include "shared/common.h"
#include "shared/config.h"
#include "shared/digest.h"

static const qs_setting settings[] = {
    {"SOURCE_REGISTRY", "", "source Quay: host[:port], optionally http:// or https:// (default)"},
    {"DESTINATION_REGISTRY", "", "destination Quay (or registry in MODE=copy), same form"},
    {"ORGANIZATIONS", "", "organizations to mirror (comma list) ..."},
    {"ORG_MIRROR_CONFIG", "", "... or a YAML file of them with per-organization overrides"},
    {"TAG_GLOB", "[ \"*\" ]", "tags to mirror: a JSON array of globs, or a comma list"},
    {"SYNC_INTERVAL", "600", "seconds: the mirrors' sync_interval and how often a run starts"},
    {"DRY_RUN", "false", "plan only: log and serve what would change, write nothing"},
    {"DEBUG", "false", "debug logging, every Quay call (method, path, status; never a secret)"},
    {"RECREATE_MIRROR_CONFIG", "false", "PUT every mirror config again (e.g. a new password)"},
    {"SOURCE_TOKENS_DIR", "", "directory with the source API token of each org (a file per org)"},
    {"DESTINATION_TOKENS_DIR", "", "directory with the destination API token of each org"},
    {"ROBOT_NAMES_DIR", "", "directory with each org's destination robot (org+short or short)"},
    {"QUAY_USERNAME_FILE", "", "source account Quay's mirror worker pulls with (username) ..."},
    {"QUAY_PASSWORD_FILE", "", "... and its password (both unset: anonymous pulls)"},
    {"VERIFY_TLS", "true", "verify TLS: the mirrors' verify_tls and this service's API calls"},
    {"SKOPEO_TIMEOUT_INTERVAL", "300", "seconds each mirror sync may take (Quay: >= 300)"},
    {"LISTEN_ADDR", "0.0.0.0:8091", "address of the HTTP API (host:port)"},
    {"REDIS_URL", "redis://127.0.0.1:6379", "Redis: the task queue, run status, events"},
    {"API_TOKEN_FILE", "", "bearer token for POST /api/v1/orgs/<org>/sync (unset: 403)"},
    {"MODE", "mirror", "mirror (Quay mirror configs) or copy (queue tags for mirror workers)"},
    {"SOURCE_API", "quay", "how the source is listed: quay (API v1) or registry (/v2/_catalog)"},
    {"REGISTRY_AUTH_FILE", "", "MODE=copy: docker config.json with registry credentials"},
    {"MIRROR_QUEUE", "mirror:tasks", "MODE=copy: the mirror service's task queue"},
    {"QUEUE_NAME", "", "this service's task queue (default org-mirror:tasks:<organizations>)"},
    {"EVENTS_GROUP", "org-mirror", "consumer group on the event stream (one per deployment)"},
    {"QUAY_CONCURRENCY", "16", "worker threads: calls in flight to each Quay per replica"},
    {"MAX_ATTEMPTS", "5", "attempts of a repository before it is reported failed"},
    {"TASK_TIMEOUT", "300s", "a task not finished in this time is given to another worker"},
    {"RETRY_BACKOFF", "2s", "first retry delay of a failed repository (doubles each time)"},
    {"RUN_TIMEOUT", "3600s", "longest a run waits for its repositories"},
    {"GRACE_PERIOD", "20s", "SIGTERM: time for tasks in flight"},
    {"LOG_LEVEL", "info", "debug, info, warn or error"},
};

void orgm_settings_usage(FILE *out) {
    fprintf(out, "org-mirror — mirrors whole Quay organizations, repository by repository "
                 "(quayside)\n\nConfiguration (environment variables):\n");
    qs_settings_usage(out, settings, QS_ARRAY_LEN(settings));
    fprintf(out, "\nEndpoints: GET /api/v1/orgs, GET /api/v1/orgs/<org>/plan,\n"
                 "POST /api/v1/orgs/<org>/sync (bearer token), /healthz, /readyz, /metrics\n");
}

static const char *get(qs_conf *c, const char *name) {
    return qs_settings_get(c, settings, QS_ARRAY_LEN(settings), name);
}

int orgm_endpoint_parse(const char *text, orgm_endpoint *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    const char *scheme = "https", *host = text ? text : "";
    if (strncasecmp(host, "https://", 8) == 0) {
        host += 8;
    } else if (strncasecmp(host, "http://", 7) == 0) {
        scheme = "http";
        host += 7;
    } else if (strstr(host, "://")) {
        snprintf(err, errlen, "only http:// or https:// may prefix the host");
        return QS_EINVAL;
    }
    size_t len = strlen(host);
    if (len && host[len - 1] == '/')
        len--; /* "https://quay.example.com/" */
    const char *colon = memchr(host, ':', len);
    size_t hostlen = colon ? (size_t)(colon - host) : len;
    bool ok = hostlen > 0 && len < sizeof out->host;
    for (size_t i = 0; ok && i < hostlen; i++) {
        char c = host[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '-';
    }
    if (ok && colon) {
        size_t plen = len - hostlen - 1;
        ok = plen >= 1 && plen <= 5;
        for (size_t i = 0; ok && i < plen; i++)
            ok = colon[1 + i] >= '0' && colon[1 + i] <= '9';
        ok = ok && strtol(colon + 1, NULL, 10) > 0 && strtol(colon + 1, NULL, 10) < 65536;
    }
    if (!ok) {
        snprintf(err, errlen,
                 "\"%.100s\" is not host[:port] (optionally after http:// or https://)",
                 text ? text : "");
        return QS_EINVAL;
    }
    memcpy(out->host, host, len);
    out->host[len] = '\0';
    snprintf(out->url, sizeof out->url, "%s://%s", scheme, out->host);
    return QS_OK;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void orgm_default_queue_name(const orgm_orgs *orgs, char *out, size_t outlen) {
    const char **names = calloc(orgs->n ? orgs->n : 1, sizeof *names);
    qs_buf b = QS_BUF_INIT;
    for (size_t i = 0; names && i < orgs->n; i++)
        names[i] = orgs->v[i].name;
    if (names)
        qsort(names, orgs->n, sizeof *names, cmp_str);
    for (size_t i = 0; names && i < orgs->n; i++)
        qs_buf_printf(&b, "%s%s", i ? "," : "", names[i]);
    free(names);
    if (b.len <= 100) {
        snprintf(out, outlen, "org-mirror:tasks:%s", qs_buf_str(&b));
    } else {
        char hex[QS_SHA256_HEX_LEN + 1];
        qs_sha256_hex(b.data, b.len, hex);
        snprintf(out, outlen, "org-mirror:tasks:%.16s", hex);
    }
    qs_buf_free(&b);
}

static void load_endpoints(orgm_settings *s, qs_conf *c) {
    char err[200];
    const char *src = qs_conf_required(c, "SOURCE_REGISTRY");
    const char *dst = qs_conf_required(c, "DESTINATION_REGISTRY");
    if (src && orgm_endpoint_parse(src, &s->source, err, sizeof err) != QS_OK)
        qs_conf_error(c, "SOURCE_REGISTRY: %s", err);
    if (dst && orgm_endpoint_parse(dst, &s->destination, err, sizeof err) != QS_OK)
        qs_conf_error(c, "DESTINATION_REGISTRY: %s", err);
}

static void load_modes(orgm_settings *s, qs_conf *c) {
    const char *mode = get(c, "MODE");
    if (strcasecmp(mode, "mirror") == 0)
        s->mode = ORGM_MODE_MIRROR;
    else if (strcasecmp(mode, "copy") == 0)
        s->mode = ORGM_MODE_COPY;
    else
        qs_conf_error(c, "MODE must be mirror or copy, got \"%.40s\"", mode);
    const char *api = get(c, "SOURCE_API");
    if (strcasecmp(api, "quay") == 0)
        s->source_kind = ORGM_SOURCE_QUAY;
    else if (strcasecmp(api, "registry") == 0)
        s->source_kind = ORGM_SOURCE_REGISTRY;
    else
        qs_conf_error(c, "SOURCE_API must be quay or registry, got \"%.40s\"", api);
    if (s->mode == ORGM_MODE_MIRROR && s->source_kind == ORGM_SOURCE_REGISTRY)
        qs_conf_error(c, "SOURCE_API=registry needs MODE=copy (Quay mirrors list a Quay source)");
}

static void load_orgs(orgm_settings *s, qs_conf *c) {
    char err[200];
    if (orgm_globs_parse(get(c, "TAG_GLOB"), &s->tag_globs, err, sizeof err) != QS_OK)
        qs_conf_error(c, "TAG_GLOB: %s", err);
    orgm_org_defaults d = {&s->tag_globs, s->sync_interval};
    if (orgm_orgs_load(c, get(c, "ORGANIZATIONS"), get(c, "ORG_MIRROR_CONFIG"), &d, &s->orgs))
        return; /* secrets are only checked for a usable list */
    s->source_tokens_dir = get(c, "SOURCE_TOKENS_DIR");
    s->destination_tokens_dir = get(c, "DESTINATION_TOKENS_DIR");
    s->robot_names_dir = get(c, "ROBOT_NAMES_DIR");
    orgm_secret_dirs dirs = {s->source_tokens_dir, s->destination_tokens_dir, s->robot_names_dir,
                             s->source_kind == ORGM_SOURCE_QUAY, s->mode == ORGM_MODE_MIRROR};
    orgm_orgs_attach_secrets(c, &s->orgs, &dirs);
}

int orgm_settings_load(orgm_settings *s) {
    memset(s, 0, sizeof *s);
    qs_conf *c = qs_conf_new();
    if (!c)
        return 1;
    s->conf = c;
    s->listen_addr = get(c, "LISTEN_ADDR");
    s->redis_url = get(c, "REDIS_URL");
    load_endpoints(s, c);
    load_modes(s, c);
    s->sync_interval = qs_conf_int(c, "SYNC_INTERVAL", 600, 1, 366L * 86400);
    s->dry_run = qs_conf_bool(c, "DRY_RUN", false);
    s->debug = qs_conf_bool(c, "DEBUG", false);
    s->recreate = qs_conf_bool(c, "RECREATE_MIRROR_CONFIG", false);
    s->verify_tls = qs_conf_bool(c, "VERIFY_TLS", true);
    s->skopeo_timeout = qs_conf_int(c, "SKOPEO_TIMEOUT_INTERVAL", 300, 300, 43200);
    load_orgs(s, c);
    s->quay_username_file = get(c, "QUAY_USERNAME_FILE");
    s->quay_password_file = get(c, "QUAY_PASSWORD_FILE");
    if (!s->quay_username_file != !s->quay_password_file)
        qs_conf_error(c, "QUAY_USERNAME_FILE and QUAY_PASSWORD_FILE go together (Quay refuses a "
                         "password without a username)");
    s->api_token_file = get(c, "API_TOKEN_FILE");
    s->registry_auth_file = get(c, "REGISTRY_AUTH_FILE");
    s->mirror_queue = get(c, "MIRROR_QUEUE");
    s->events_group = get(c, "EVENTS_GROUP");
    const char *qn = get(c, "QUEUE_NAME");
    if (qn && strlen(qn) >= sizeof s->queue_name)
        qs_conf_error(c, "QUEUE_NAME is too long");
    else if (qn)
        snprintf(s->queue_name, sizeof s->queue_name, "%s", qn);
    else
        orgm_default_queue_name(&s->orgs, s->queue_name, sizeof s->queue_name);
    s->workers = qs_conf_int(c, "QUAY_CONCURRENCY", 16, 1, 256);
    s->max_attempts = qs_conf_int(c, "MAX_ATTEMPTS", 5, 1, 100);
    s->task_timeout = qs_conf_duration(c, "TASK_TIMEOUT", 300, 1, 86400);
    s->retry_backoff = qs_conf_duration(c, "RETRY_BACKOFF", 2, 0.01, 3600);
    s->run_timeout = qs_conf_duration(c, "RUN_TIMEOUT", 3600, 1, 7 * 86400);
    s->grace_period = qs_conf_duration(c, "GRACE_PERIOD", 20, 0, 3600);
    if (qs_log_level_parse(get(c, "LOG_LEVEL"), &s->log_level) != QS_OK)
        qs_conf_error(c, "LOG_LEVEL must be debug, info, warn or error");
    else if (s->debug && s->log_level > QS_LOG_DEBUG)
        s->log_level = QS_LOG_DEBUG; /* the seed's DEBUG=true: "enables debug logging" */
    return (int)qs_conf_check(c);
}

void orgm_settings_free(orgm_settings *s) {
    orgm_globs_free(&s->tag_globs);
    orgm_orgs_free(&s->orgs);
    qs_conf_free(s->conf);
    s->conf = NULL;
}
