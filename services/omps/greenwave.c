/* greenwave.c — omps/greenwave.py's GreenwaveHelper: the `greenwave` configuration, the
 * decision asked for each Koji build before its manifests are extracted, and the version
 * probe of /health/ping.
 *
 * The answers and messages are the original's. Differences, on purpose: the configuration is
 * checked at start (unknown keys, empty values and a URL that is not http(s) stop the start;
 * the original's JSON schema took any strings and extra keys); only a JSON `true` satisfies
 * the gate (Python accepted any truthy value, e.g. the string "false"); an answer that is not
 * a JSON object counts as missing the key (the original crashed into a bare 500); and the
 * decision, a read-only query, goes through the shared client with its REQUEST_TIMEOUT and its
 * retries of transport failures, 5xx and 429 (the original tried once). */
#include "omps/greenwave.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/common.h"
#include "shared/log.h"

/* Does an http(s) URL carry "user[:password]@" before its host? */
static bool has_userinfo(const char *url) {
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    size_t n = strcspn(host, "/?#");
    return memchr(host, '@', n) != NULL;
}

#define ANSWER_MAX (4u << 20)

static const char *const keys[] = {"url", "context", "product_version"};

/* A required non-empty string member, or NULL with the problem recorded. */
static const char *need(qs_conf *errs, const char *where, const json_t *v, const char *key) {
    const json_t *s = json_object_get(v, key);
    if (!s)
        qs_conf_error(errs, "%s: greenwave.%s is required", where, key);
    else if (!json_is_string(s))
        qs_conf_error(errs, "%s: greenwave.%s must be a string", where, key);
    else if (json_string_length(s) == 0)
        qs_conf_error(errs, "%s: greenwave.%s must not be empty", where, key);
    else
        return json_string_value(s);
    return NULL;
}

size_t omps_greenwave_conf_parse(const json_t *v, const char *where, omps_greenwave_conf *out,
                                 qs_conf *errs) {
    memset(out, 0, sizeof *out);
    size_t before = qs_conf_error_count(errs);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v)) {
        qs_conf_error(errs, "%s: greenwave must be a mapping with url, context and product_version",
                      where);
        return qs_conf_error_count(errs) - before;
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val) {
        size_t i = 0;
        while (i < QS_ARRAY_LEN(keys) && strcmp(keys[i], key) != 0)
            i++;
        if (i == QS_ARRAY_LEN(keys))
            qs_conf_error(errs,
                          "%s: greenwave.%.100s: unknown key (known: url, context, "
                          "product_version)",
                          where, key);
    }
    const char *url = need(errs, where, v, "url");
    const char *context = need(errs, where, v, "context");
    const char *pv = need(errs, where, v, "product_version");
    if (url && ((strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
                strlen(url) < 9 || strlen(url) > 1024))
        qs_conf_error(errs, "%s: greenwave.url must be an http:// or https:// URL, got \"%.100s\"",
                      where, url);
    else if (url && has_userinfo(url))
        /* the URL is logged at start: credentials in it would land in the log */
        qs_conf_error(errs, "%s: greenwave.url must not carry credentials (user:password@)", where);
    if (!url || !context || !pv || qs_conf_error_count(errs) != before)
        return qs_conf_error_count(errs) - before;
    size_t n = strlen(url);
    out->url = malloc(n + 2);
    out->context = strdup(context);
    out->product_version = strdup(pv);
    if (!out->url || !out->context || !out->product_version) {
        omps_greenwave_conf_free(out);
        qs_conf_error(errs, "%s: greenwave: out of memory", where);
        return qs_conf_error_count(errs) - before;
    }
    snprintf(out->url, n + 2, "%s%s", url, url[n - 1] == '/' ? "" : "/");
    return 0;
}

void omps_greenwave_conf_free(omps_greenwave_conf *g) {
    if (!g)
        return;
    free(g->url);
    free(g->context);
    free(g->product_version);
    memset(g, 0, sizeof *g);
}

bool omps_greenwave_enabled(const omps_greenwave_conf *g) { return g && g->url; }

/* One request to <url><endpoint>; the answer's JSON in *data (any JSON value, {} when the body
 * is not JSON). QS_OK when an answer arrived (any status), else the transport error in why. */
static int call(const omps_greenwave_conf *g, qs_http *h, const char *method, const char *endpoint,
                const char *body, long *status, json_t **data, char *why, size_t whycap) {
    char url[1200];
    snprintf(url, sizeof url, "%s%s", g->url, endpoint);
    static const char *const json_headers[] = {"Content-Type: application/json",
                                               "Accept: application/json", NULL};
    static const char *const accept[] = {"Accept: application/json", NULL};
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.method = method;
    req.url = url;
    req.headers = body ? json_headers : accept;
    req.body = body;
    req.body_len = body ? strlen(body) : 0;
    req.max_response = ANSWER_MAX;
    qs_http_resp resp = {0};
    int rc = qs_http_do(h, &req, &resp);
    *status = resp.status;
    *data = NULL;
    if (rc == QS_OK) {
        *data = json_loadb(qs_buf_str(&resp.body), resp.body.len, JSON_DECODE_ANY, NULL);
        if (!*data)
            *data = json_object();
    } else {
        snprintf(why, whycap, "%s", resp.error[0] ? resp.error : qs_strerror(rc));
    }
    qs_http_resp_free(&resp);
    return rc;
}

int omps_greenwave_check(const omps_greenwave_conf *g, qs_http *h, const char *nvr, omps_error *e) {
    json_t *payload =
        json_pack("{s:s,s:s,s:s,s:s}", "decision_context", g->context, "product_version",
                  g->product_version, "subject_identifier", nvr, "subject_type", "koji_build");
    char *body = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
    json_decref(payload);
    if (!body) {
        omps_error_set(e, 500, OMPS_E_INTERNAL, "out of memory");
        return QS_ENOMEM;
    }
    qs_log(QS_LOG_INFO, "check_build", "nvr", nvr, NULL);
    long status = 0;
    json_t *data = NULL;
    char why[300] = "";
    int rc = call(g, h, "POST", "api/v1.0/decision", body, &status, &data, why, sizeof why);
    free(body);
    if (rc != QS_OK) {
        omps_error_set(e, 500, OMPS_E_GREENWAVE, "Request failed: %s", why);
        e->greenwave_response = json_object();
        return rc;
    }
    const json_t *satisfied = json_object_get(data, "policies_satisfied");
    if (status != 200) {
        omps_error_set(e, 500, OMPS_E_GREENWAVE, "Greenwave unexpected response code: %ld", status);
        rc = QS_EUNAVAIL;
    } else if (!satisfied) {
        omps_error_set(e, 500, OMPS_E_GREENWAVE,
                       "Missing key 'policies_satisfied' in answer for nvr %s", nvr);
        rc = QS_EPROTO;
    } else if (!json_is_true(satisfied)) {
        omps_error_set(e, 400, OMPS_E_GREENWAVE_UNSATISFIED,
                       "Policies for nvr %s were not satisfied", nvr);
        rc = QS_EDENIED;
    }
    if (rc == QS_OK) {
        qs_log(QS_LOG_INFO, "check_build passed", "nvr", nvr, NULL);
        json_decref(data);
    } else {
        e->greenwave_response = data;
    }
    return rc;
}

int omps_greenwave_version(const omps_greenwave_conf *g, qs_http *h, char *version, size_t vcap,
                           char *why, size_t whycap) {
    long status = 0;
    json_t *data = NULL;
    char reason[600] = "";
    int rc = call(g, h, "GET", "api/v1.0/about", NULL, &status, &data, reason, sizeof reason);
    if (rc == QS_OK && status != 200) {
        char url[1200];
        snprintf(url, sizeof url, "%sapi/v1.0/about", g->url);
        omps_http_error_text(status, NULL, url, reason, sizeof reason);
        rc = QS_EUNAVAIL;
    }
    const char *v = json_string_value(json_object_get(data, "version"));
    if (rc == QS_OK && !v) {
        snprintf(reason, sizeof reason, "no \"version\" in the answer");
        rc = QS_EPROTO;
    }
    if (rc == QS_OK && version)
        snprintf(version, vcap, "%s", v);
    else if (rc != QS_OK)
        snprintf(why, whycap, "Failed to get Greenwave version: %s", reason);
    json_decref(data);
    return rc;
}
