/* settings.c — the mirror service's configuration from the environment.
 *
 * One table (libshared's qs_setting) feeds both `--help` and the loader. Every source of work
 * is optional: without IMAGESTREAM_* settings no cluster is contacted, without MIRROR_CONFIG
 * only image streams are mirrored. All problems are collected and reported together. */
#include "mirror/settings.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shared/common.h"
#include "shared/config.h"

static const qs_setting settings[] = {
    {"LISTEN_ADDR", "0.0.0.0:8090", "address of the HTTP API (host:port)"},
    {"REDIS_URL", "redis://127.0.0.1:6379", "Redis holding the task queue"},
    {"MIRROR_CONFIG", "", "the _config.yaml (supplementalCIImages, artImages, ...); may be gzip"},
    {"REGISTRY_AUTH_FILE", "", "docker config.json with credentials per registry"},
    {"DESTINATION_REPOSITORY", "quay.io/openshift/ci", "where images are mirrored to"},
    {"SOURCE_REGISTRY", "registry.ci.openshift.org", "the cluster's public registry"},
    {"IMAGESTREAM_NAMESPACES", "", "mirror every image stream tag of these namespaces"},
    {"IMAGESTREAMS", "", "mirror every tag of these image streams (ns/name, comma list)"},
    {"IMAGESTREAM_TAGS", "", "mirror these image stream tags (ns/name:tag, comma list)"},
    {"IMAGESTREAM_IGNORE_TAGS", "", "never mirror these tags (ns/name:tag); wins over the others"},
    {"INSECURE_REGISTRIES", "", "registries spoken to over plain HTTP (host[:port] list)"},
    {"KUBE_API_URL", "", "cluster API URL (default: in-cluster service account)"},
    {"KUBE_TOKEN_FILE", "", "bearer token file for the cluster API"},
    {"KUBE_CA_FILE", "", "CA bundle of the cluster API"},
    {"SYNC_INTERVAL", "3600s", "how often every source is compared"},
    {"DRY_RUN", "false", "compare and log, copy nothing"},
    {"MIRROR_ROLE", "all", "controller (find work), worker (copy) or all"},
    {"MIRROR_WORKERS", "2", "copy workers in this process"},
    {"COPY_CONCURRENCY", "6", "blobs copied at once per image"},
    {"BACKUP_TAGS", "false", "tag an image before its tag is overwritten"},
    {"KEEP_MANIFEST_LISTS", "true", "copy every platform of a list (false: linux/amd64 only)"},
    {"API_TOKEN_FILE", "", "bearer token for POST endpoints (unset: they answer 403)"},
    {"MAX_ATTEMPTS", "5", "attempts before a task is dead-lettered"},
    {"TASK_TIMEOUT", "1800s", "a task not acked in this time is given to another worker"},
    {"GRACE_PERIOD", "30s", "SIGTERM: time for in-flight copies"},
    {"LOG_LEVEL", "info", "debug, info, warn or error"},
};

void mirror_settings_usage(FILE *out) {
    fprintf(out, "mirror — keeps a registry repository in sync with image streams and a config\n"
                 "of supplemental and ART images (quayside)\n\n"
                 "Configuration (environment variables):\n");
    qs_settings_usage(out, settings, QS_ARRAY_LEN(settings));
    fprintf(out, "\nEndpoints: GET /api/health, GET /api/v1/mirrors?action=summarize|show|failed,\n"
                 "POST /api/v1/mirrors, POST /api/v1/mirrors/retry, /healthz, /readyz, /metrics\n");
}

static const char *get(qs_conf *c, const char *name) {
    return qs_settings_get(c, settings, QS_ARRAY_LEN(settings), name);
}

static void split_list(const char *text, mirror_list *out) {
    for (const char *p = text; p && *p;) {
        size_t n = strcspn(p, ",");
        const char *b = p, *e = p + n;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > b) {
            char **v = realloc(out->v, (out->n + 1) * sizeof *v);
            if (!v)
                return;
            out->v = v;
            v[out->n++] = strndup(b, (size_t)(e - b));
        }
        p += n + (p[n] == ',');
    }
}

bool mirror_list_has(const mirror_list *l, const char *item) {
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], item) == 0)
            return true;
    return false;
}

static void free_list(mirror_list *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* "ns/name" and "ns/name:tag" shapes, checked so a typo is a startup error, not silence. */
static void check_list(qs_conf *c, const char *var, const mirror_list *l, bool want_tag) {
    for (size_t i = 0; i < l->n; i++) {
        const char *v = l->v[i], *slash = strchr(v, '/');
        const char *colon = slash ? strchr(slash, ':') : NULL;
        bool ok = slash && slash > v && slash[1] && !strchr(slash + 1, '/') &&
                  (want_tag ? colon && colon > slash + 1 && colon[1] : !colon);
        if (!ok)
            qs_conf_error(c, "%s: \"%s\" is not %s", var, v, want_tag ? "ns/name:tag" : "ns/name");
    }
}

static void load_role(mirror_settings *s, qs_conf *c) {
    static const struct {
        const char *name;
        mirror_role role;
    } roles[] = {{"all", MIRROR_ROLE_ALL},
                 {"controller", MIRROR_ROLE_CONTROLLER},
                 {"worker", MIRROR_ROLE_WORKER}};
    const char *r = get(c, "MIRROR_ROLE");
    for (size_t i = 0; i < QS_ARRAY_LEN(roles); i++)
        if (strcasecmp(r, roles[i].name) == 0) {
            s->role = roles[i].role;
            return;
        }
    qs_conf_error(c, "MIRROR_ROLE must be controller, worker or all, got \"%s\"", r);
}

int mirror_settings_load(mirror_settings *s) {
    memset(s, 0, sizeof *s);
    qs_conf *c = qs_conf_new();
    if (!c)
        return 1;
    s->conf = c;
    s->listen_addr = get(c, "LISTEN_ADDR");
    s->redis_url = get(c, "REDIS_URL");
    s->mirror_config = get(c, "MIRROR_CONFIG");
    s->registry_auth_file = get(c, "REGISTRY_AUTH_FILE");
    s->destination = get(c, "DESTINATION_REPOSITORY");
    if (!strchr(s->destination, '/') || strchr(s->destination, '@') ||
        strchr(strchr(s->destination, '/'), ':'))
        qs_conf_error(c, "DESTINATION_REPOSITORY must be host/repository without a tag, got \"%s\"",
                      s->destination);
    s->source_registry = get(c, "SOURCE_REGISTRY");
    split_list(get(c, "IMAGESTREAM_NAMESPACES"), &s->namespaces);
    split_list(get(c, "IMAGESTREAMS"), &s->streams);
    split_list(get(c, "IMAGESTREAM_TAGS"), &s->tags);
    split_list(get(c, "IMAGESTREAM_IGNORE_TAGS"), &s->ignore_tags);
    split_list(get(c, "INSECURE_REGISTRIES"), &s->insecure);
    check_list(c, "IMAGESTREAMS", &s->streams, false);
    check_list(c, "IMAGESTREAM_TAGS", &s->tags, true);
    check_list(c, "IMAGESTREAM_IGNORE_TAGS", &s->ignore_tags, true);
    s->kube_api_url = get(c, "KUBE_API_URL");
    s->kube_token_file = get(c, "KUBE_TOKEN_FILE");
    s->kube_ca_file = get(c, "KUBE_CA_FILE");
    s->sync_interval = qs_conf_duration(c, "SYNC_INTERVAL", 3600, 1, 7 * 86400);
    s->dry_run = qs_conf_bool(c, "DRY_RUN", false);
    load_role(s, c);
    s->workers = qs_conf_int(c, "MIRROR_WORKERS", 2, 0, 64);
    s->blob_concurrency = qs_conf_int(c, "COPY_CONCURRENCY", 6, 1, 32);
    s->backup_tags = qs_conf_bool(c, "BACKUP_TAGS", false);
    s->keep_lists = qs_conf_bool(c, "KEEP_MANIFEST_LISTS", true);
    s->api_token_file = get(c, "API_TOKEN_FILE");
    s->max_attempts = qs_conf_int(c, "MAX_ATTEMPTS", 5, 1, 100);
    s->visibility_timeout = qs_conf_duration(c, "TASK_TIMEOUT", 1800, 1, 86400);
    s->grace_period = qs_conf_duration(c, "GRACE_PERIOD", 30, 0, 3600);
    if (qs_log_level_parse(get(c, "LOG_LEVEL"), &s->log_level) != QS_OK)
        qs_conf_error(c, "LOG_LEVEL must be debug, info, warn or error");
    if (s->role != MIRROR_ROLE_CONTROLLER && s->workers == 0)
        qs_conf_error(c, "MIRROR_WORKERS must be at least 1 for MIRROR_ROLE=%s",
                      s->role == MIRROR_ROLE_ALL ? "all" : "worker");
    return (int)qs_conf_check(c);
}

void mirror_settings_free(mirror_settings *s) {
    free_list(&s->namespaces);
    free_list(&s->streams);
    free_list(&s->tags);
    free_list(&s->ignore_tags);
    free_list(&s->insecure);
    qs_conf_free(s->conf);
    s->conf = NULL;
}

static bool is_loopback(const char *host) {
    static const char *const loopback[] = {"localhost", "127.", "[::1]"};
    for (size_t i = 0; i < QS_ARRAY_LEN(loopback); i++)
        if (strncmp(host, loopback[i], strlen(loopback[i])) == 0)
            return true;
    return false;
}

bool mirror_settings_insecure(const mirror_settings *s, const char *host) {
    return is_loopback(host) || mirror_list_has(&s->insecure, host);
}
