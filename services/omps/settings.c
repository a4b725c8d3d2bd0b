/* settings.c — the omps service's configuration: one table (libshared's qs_setting) feeds
 * `--help` and the loader; OMPS_CONF_FILE adds the organizations and may hold the same
 * settings in lower case (the seed's config class, as YAML). Precedence: a set environment
 * variable, then the file, then the default. Every problem is collected and reported together.
 *
 * Differences from the original's defaults, on purpose: REQUEST_TIMEOUT defaults to 30 s
 * (the original waited forever without it); the CNR push gets its own PUSH_TIMEOUT (courier
 * had none); DEFAULT_RELEASE_VERSION must be a valid release (the original only counted the
 * dots, and Quay refused the push later). */
#include "omps/settings.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shared/common.h"
#include "shared/config.h"
#include "shared/semver.h"

static const qs_setting settings[] = {
    {"LISTEN_ADDR", "0.0.0.0:8080", "address of the HTTP API (host:port)"},
    {"QUAY_URL", "https://quay.io", "Quay: App Registry (/cnr) and REST API (changevisibility)"},
    {"KOJIHUB_URL", "https://koji.fedoraproject.org/kojihub", "Koji hub (XML-RPC)"},
    {"KOJIROOT_URL", "https://kojipkgs.fedoraproject.org/", "Koji top directory (archives)"},
    {"REQUEST_TIMEOUT", "30s", "timeout of Quay and Koji calls (not the push itself)"},
    {"PUSH_TIMEOUT", "300s", "timeout of one push of a bundle to Quay"},
    {"DEFAULT_RELEASE_VERSION", "1.0.0", "first release of a new package (x.y.z)"},
    {"ZIPFILE_MAX_UNCOMPRESSED_SIZE", "20971520", "bytes an archive may inflate to"},
    {"MAX_CONTENT_LENGTH", "2097152", "bytes of an upload (413 above)"},
    {"REDIS_URL", "redis://127.0.0.1:6379",
     "Redis: push lock (pushes without a version are serialised per repository) and the "
     "manifests.pushed event stream"},
    {"OMPS_CONF_FILE", "",
     "YAML: organizations (public, oauth_token[_file], replace_registry, "
     "package_name_suffix, csv_annotations), greenwave (url, context, product_version: the "
     "optional gate of Koji pushes) and the settings in lower case"},
    {"WORKERS_NUM", "8", "requests handled at once (more wait for a free worker)"},
    {"CA_URL", "", "a CA certificate (PEM) fetched at start and trusted for outgoing TLS"},
    {"GRACE_PERIOD", "30s", "SIGTERM: time for requests in flight"},
    {"LOG_LEVEL", "info", "debug, info, warning, error (critical = error)"},
};

void omps_settings_usage(FILE *out) {
    fprintf(out,
            "omps — Operators Manifests Push Service: operator manifests from zip files and Koji\n"
            "builds to Quay's App Registry (quayside)\n\n"
            "Configuration (environment variables):\n");
    qs_settings_usage(out, settings, QS_ARRAY_LEN(settings));
    fprintf(out,
            "\nEndpoints (every one but health/about needs an Authorization header, passed to\n"
            "Quay verbatim):\n"
            "  POST   /v1/<org>/<repo>/zipfile[/<version>]     form field \"file\": a .zip\n"
            "  POST   /v1/<org>/<repo>/koji/<nvr>[/<version>]\n"
            "  POST   /v2/<org>/zipfile[/<version>]            repository = packageName\n"
            "  POST   /v2/<org>/koji/<nvr>[/<version>]\n"
            "  DELETE /v1|v2/<org>/<repo>[/<version>]          one release, or all of them\n"
            "  GET    /v1|v2/health/ping, /v1|v2/about, /healthz, /readyz, /metrics\n");
}

static const char *env(qs_conf *c, const char *name) { return qs_conf_str(c, name, NULL); }

static const char *def(const char *name) {
    for (size_t i = 0; i < QS_ARRAY_LEN(settings); i++)
        if (strcmp(settings[i].name, name) == 0)
            return settings[i].def;
    return NULL;
}

static void lower(const char *name, char *out, size_t cap) {
    size_t i = 0;
    for (; name[i] && i + 1 < cap; i++)
        out[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    out[i] = '\0';
}

/* A string setting: the variable, the file's key, or the default. */
static const char *str_setting(omps_settings *s, const char *name) {
    const char *v = env(s->conf, name);
    if (v)
        return v;
    char key[64];
    lower(name, key, sizeof key);
    const char *f = json_string_value(omps_conf_file_value(&s->file, key));
    return f ? f : def(name);
}

static int64_t size_setting(omps_settings *s, const char *name, int64_t max) {
    char key[64];
    lower(name, key, sizeof key);
    const json_t *f = omps_conf_file_value(&s->file, key);
    long long d = strtoll(def(name), NULL, 10);
    if (!env(s->conf, name) && json_is_integer(f))
        d = json_integer_value(f);
    if (d > max) {
        qs_conf_error(s->conf, "%s in OMPS_CONF_FILE must be at most %lld", key, (long long)max);
        d = max;
    }
    return qs_conf_int(s->conf, name, (long)d, 1, (long)max);
}

static double duration_setting(omps_settings *s, const char *name, double max) {
    char key[64];
    lower(name, key, sizeof key);
    const json_t *f = omps_conf_file_value(&s->file, key);
    double d = 0;
    qs_parse_duration(def(name), &d);
    if (!env(s->conf, name)) {
        if (json_is_integer(f))
            d = (double)json_integer_value(f);
        else if (json_is_string(f))
            qs_parse_duration(json_string_value(f), &d);
    }
    return qs_conf_duration(s->conf, name, d, 0.1, max);
}

static void check_url(omps_settings *s, const char *name, const char *url) {
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
        strlen(url) < 9 || strlen(url) > 1024)
        qs_conf_error(s->conf, "%s must be an http:// or https:// URL, got \"%.100s\"", name,
                      url ? url : "");
}

/* QUAY_URL without trailing slashes (the client appends "/cnr/..."). */
static const char *trim_slash(omps_settings *s, const char *url) {
    size_t n = strlen(url);
    if (!n || url[n - 1] != '/')
        return url;
    while (n > 0 && url[n - 1] == '/')
        n--;
    json_t *v = json_stringn(url, n);
    json_object_set_new(s->file.values, "__quay_url", v);
    return json_string_value(v);
}

static void load_log_level(omps_settings *s) {
    const char *lv = str_setting(s, "LOG_LEVEL");
    if (strcasecmp(lv, "critical") == 0)
        lv = "error";
    if (!env(s->conf, "LOG_LEVEL") && json_is_true(omps_conf_file_value(&s->file, "debug")) &&
        !omps_conf_file_value(&s->file, "log_level"))
        lv = "debug";
    if (qs_log_level_parse(lv, &s->log_level) != QS_OK)
        qs_conf_error(s->conf,
                      "LOG_LEVEL must be debug, info, warning, error or critical, got "
                      "\"%.40s\"",
                      lv);
}

int omps_settings_load(omps_settings *s) {
    memset(s, 0, sizeof *s);
    qs_conf *c = qs_conf_new();
    if (!c)
        return 1;
    s->conf = c;
    s->conf_file = env(c, "OMPS_CONF_FILE");
    if (s->conf_file)
        omps_conf_file_load(s->conf_file, &s->file, c);
    else
        omps_conf_file_parse(NULL, "", &s->file, c);
    if (!s->file.values)
        s->file.values = json_object();

    s->listen_addr = str_setting(s, "LISTEN_ADDR");
    s->quay_url = trim_slash(s, str_setting(s, "QUAY_URL"));
    check_url(s, "QUAY_URL", s->quay_url);
    s->kojihub_url = str_setting(s, "KOJIHUB_URL");
    check_url(s, "KOJIHUB_URL", s->kojihub_url);
    s->kojiroot_url = str_setting(s, "KOJIROOT_URL");
    check_url(s, "KOJIROOT_URL", s->kojiroot_url);
    s->redis_url = str_setting(s, "REDIS_URL");
    s->ca_url = env(c, "CA_URL");
    if (s->ca_url)
        check_url(s, "CA_URL", s->ca_url);
    s->default_release_version = str_setting(s, "DEFAULT_RELEASE_VERSION");
    if (!qs_semver_valid(s->default_release_version))
        qs_conf_error(c, "DEFAULT_RELEASE_VERSION \"%.60s\" must match %s",
                      s->default_release_version, QS_SEMVER_RELEASE_REGEX);
    s->request_timeout = duration_setting(s, "REQUEST_TIMEOUT", 3600);
    s->push_timeout = qs_conf_duration(c, "PUSH_TIMEOUT", 300, 1, 3600);
    /* The lock covers listing the releases (retried up to 4 times) and the push. */
    s->lock_ttl = 4 * s->request_timeout + s->push_timeout + 60;
    s->max_uncompressed = size_setting(s, "ZIPFILE_MAX_UNCOMPRESSED_SIZE", (int64_t)4 << 30);
    s->max_content_length = size_setting(s, "MAX_CONTENT_LENGTH", (int64_t)1 << 30);
    s->workers = qs_conf_int(c, "WORKERS_NUM", 8, 1, 256);
    s->grace_period = qs_conf_duration(c, "GRACE_PERIOD", 30, 0, 3600);
    load_log_level(s);
    return (int)qs_conf_error_count(c);
}

void omps_settings_free(omps_settings *s) {
    omps_conf_file_free(&s->file);
    qs_conf_free(s->conf);
    s->conf = NULL;
}
