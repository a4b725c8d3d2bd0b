/* secrets.c — core/v1 Secrets in the Kubernetes emulator, as the API server handles them.
 *
 * The appstudio-provisioner writes each component's registry credentials as a Secret of type
 * kubernetes.io/dockerconfigjson, so this part answers create, get, replace, delete and list
 * (with a label selector) under /api/v1/namespaces/{ns}/secrets with the real shapes:
 *   - create: 201 with the stored object (uid, resourceVersion, creationTimestamp, namespace
 *     filled in; `stringData` merged into base64 `data` and dropped; type Opaque when unset);
 *     409 AlreadyExists; 422 Invalid for a bad name, bad data keys, a dockerconfigjson Secret
 *     without a valid `.dockerconfigjson`, or more than 1 MiB of data; 400 BadRequest for a
 *     body that is not a Secret, undecodable base64, or a namespace/name that contradicts
 *     the URL;
 *   - replace (PUT): 404 when missing (Secrets are not created on update); a resourceVersion
 *     in the body must equal the stored one, else 409 Conflict; no resourceVersion means
 *     "overwrite"; the type is immutable (422);
 *   - delete: 200 with a Success Status, 404 when missing;
 *   - list: a SecretList of the namespace, filtered by `labelSelector` (k=v, k==v, k!=v, k,
 *     !k, comma = and); a selector it cannot parse is 400.
 * Every call needs the service account token (kube_api_enter), so faults stand in for an API
 * server that is down. Secret values are never logged. State is one JSON object keyed
 * "ns/name" behind a mutex. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emu.h"
#include "kube_emu.h"
#include "shared/base64.h"
#include "shared/common.h"
#include "shared/log.h"

#define SECRET_MAX_DATA (1u << 20) /* the API server's limit on a Secret's data */
#define MSG_LEN 700

static pthread_mutex_t sec_mu = PTHREAD_MUTEX_INITIALIZER;
static json_t *secrets; /* "ns/name" -> stored Secret object */
static unsigned long long sec_version = 1;
static unsigned long long sec_uid = 1;

/* A Status with an explicit reason (409 is AlreadyExists or Conflict depending on the case;
 * kube_status derives the reason from the code alone). */
static void status_reason(qs_req *r, int code, const char *reason, const char *message,
                          const char *name) {
    json_t *j =
        json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:{s:s, s:s}, s:i}", "kind", "Status",
                  "apiVersion", "v1", "metadata", "status", "Failure", "message", message, "reason",
                  reason, "details", "name", name ? name : "", "kind", "secrets", "code", code);
    qs_respond_json(r, code, j);
}

static void invalid(qs_req *r, const char *name, const char *what) {
    char msg[2 * MSG_LEN];
    snprintf(msg, sizeof msg, "Secret \"%.260s\" is invalid: %s", name ? name : "", what);
    status_reason(r, 422, "Invalid", msg, name);
}

/* RFC 1123 subdomain: lower-case alphanumerics, '-' and '.', alphanumeric at both ends. */
static bool dns_subdomain(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 253 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-' ||
              s[i] == '.'))
            return false;
    return true;
}

/* A data key: [-._a-zA-Z0-9]+, at most 253 characters. */
static bool config_key(const char *k) {
    size_t n = strlen(k);
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)k[i]) || k[i] == '-' || k[i] == '.' || k[i] == '_'))
            return false;
    return true;
}

/* Check and normalise a Secret sent by a client into its stored form (a new object): merge
 * stringData into data, check data. On error answers and returns NULL. `path_name` is the
 * URL's name for PUT (NULL for POST). */
static json_t *normalise(qs_req *r, const char *ns, const char *path_name) {
    size_t len = 0;
    const char *text = qs_req_body(r, &len);
    json_error_t je;
    json_t *in = json_loadb(text, len, 0, &je);
    char msg[MSG_LEN];
    const json_t *kind = json_object_get(in, "kind");
    if (!json_is_object(in) ||
        (kind && !(json_is_string(kind) && strcmp(json_string_value(kind), "Secret") == 0))) {
        snprintf(msg, sizeof msg,
                 "the object provided is unrecognized (must be of type Secret): %s",
                 in ? "not a Secret" : je.text);
        json_decref(in);
        status_reason(r, 400, "BadRequest", msg, path_name);
        return NULL;
    }
    json_t *meta = json_object_get(in, "metadata");
    const char *name = emu_json_str(meta, "name");
    const char *mns = emu_json_str(meta, "namespace");
    if (mns && *mns && strcmp(mns, ns) != 0) {
        json_decref(in);
        status_reason(r, 400, "BadRequest",
                      "the namespace of the provided object does not match the namespace sent "
                      "on the request",
                      name);
        return NULL;
    }
    if (path_name && (!name || strcmp(name, path_name) != 0)) {
        snprintf(msg, sizeof msg,
                 "the name of the object (%.200s) does not match the name on "
                 "the URL (%.200s)",
                 name ? name : "", path_name);
        json_decref(in);
        status_reason(r, 400, "BadRequest", msg, path_name);
        return NULL;
    }
    if (!name || !*name) {
        json_decref(in);
        invalid(r, "", "metadata.name: Required value: name or generateName is required");
        return NULL;
    }
    if (!dns_subdomain(name)) {
        snprintf(msg, sizeof msg,
                 "metadata.name: Invalid value: \"%.260s\": a lowercase RFC 1123 subdomain must "
                 "consist of lower case alphanumeric characters, '-' or '.', and must start and "
                 "end with an alphanumeric character",
                 name);
        invalid(r, name, msg);
        json_decref(in);
        return NULL;
    }
    const json_t *labels = json_object_get(meta, "labels");
    const json_t *annotations = json_object_get(meta, "annotations");
    const char *lk;
    const json_t *lv;
    bool labels_ok = !labels || json_is_object(labels);
    json_object_foreach((json_t *)labels, lk, lv) { labels_ok &= json_is_string(lv); }
    if (!labels_ok || (annotations && !json_is_object(annotations))) {
        json_decref(in);
        status_reason(r, 400, "BadRequest", "metadata.labels and annotations must be string maps",
                      name);
        return NULL;
    }
    const json_t *type = json_object_get(in, "type");
    if (type && !json_is_string(type)) {
        json_decref(in);
        status_reason(r, 400, "BadRequest", "type must be a string", name);
        return NULL;
    }
    /* data (base64) + stringData (plain) → decoded map, then re-encoded */
    json_t *out_data = json_object();
    size_t total = 0;
    const char *k;
    const json_t *v;
    const char *why = NULL;
    json_t *decoded = json_object(); /* key -> plain text (for validation) */
    json_object_foreach(json_object_get(in, "data"), k, v) {
        size_t dl = 0;
        unsigned char *d = json_is_string(v)
                               ? qs_base64_decode(json_string_value(v), json_string_length(v), &dl)
                               : NULL;
        if (!d) {
            why = "illegal base64 data in data";
            break;
        }
        json_object_set_new(decoded, k, json_stringn_nocheck((const char *)d, dl));
        free(d);
    }
    json_object_foreach(json_object_get(in, "stringData"), k, v) {
        if (why)
            break;
        if (!json_is_string(v)) {
            why = "stringData values must be strings";
            break;
        }
        json_object_set(decoded, k, (json_t *)v);
    }
    if (why) {
        json_decref(decoded);
        json_decref(out_data);
        json_decref(in);
        status_reason(r, 400, "BadRequest", why, name);
        return NULL;
    }
    json_object_foreach(decoded, k, v) {
        if (!config_key(k)) {
            snprintf(msg, sizeof msg,
                     "data[%.200s]: Invalid value: \"%.200s\": a valid config key must consist of "
                     "alphanumeric characters, '-', '_' or '.'",
                     k, k);
            why = msg;
            break;
        }
        total += json_string_length(v);
        char *b64 = qs_base64_encode(json_string_value(v), json_string_length(v));
        json_object_set_new(out_data, k, json_string(b64 ? b64 : ""));
        free(b64);
    }
    const char *tname = type ? json_string_value(type) : "Opaque";
    if (!why && total > SECRET_MAX_DATA)
        why = "data: Too long: must have at most 1048576 bytes";
    if (!why && strcmp(tname, "kubernetes.io/dockerconfigjson") == 0) {
        const json_t *dc = json_object_get(decoded, ".dockerconfigjson");
        json_t *parsed =
            dc ? json_loadb(json_string_value(dc), json_string_length(dc), 0, NULL) : NULL;
        if (!dc)
            why = "data[.dockerconfigjson]: Required value";
        else if (!json_is_object(parsed))
            why = "data[.dockerconfigjson]: Invalid value: \"<secret contents redacted>\": "
                  "invalid character in JSON";
        json_decref(parsed);
    }
    json_decref(decoded);
    if (why) {
        invalid(r, name, why);
        json_decref(out_data);
        json_decref(in);
        return NULL;
    }
    json_t *m = json_pack("{s:s, s:s}", "name", name, "namespace", ns);
    if (labels)
        json_object_set_new(m, "labels", json_deep_copy(labels));
    if (annotations)
        json_object_set_new(m, "annotations", json_deep_copy(annotations));
    const char *rv = emu_json_str(meta, "resourceVersion");
    if (rv)
        json_object_set_new(m, "resourceVersion", json_string(rv)); /* checked by PUT */
    json_t *secret = json_pack("{s:s, s:s, s:o, s:s, s:o}", "kind", "Secret", "apiVersion", "v1",
                               "metadata", m, "type", tname, "data", out_data);
    json_decref(in);
    return secret;
}

static void key_of(char *key, size_t n, const char *ns, const char *name) {
    snprintf(key, n, "%s/%s", ns, name);
}

/* Fill in the server-side metadata (lock held). `old` is the object replaced, or NULL. */
static void stamp(json_t *secret, const json_t *old) {
    json_t *m = json_object_get(secret, "metadata");
    char buf[64];
    snprintf(buf, sizeof buf, "%llu", ++sec_version);
    json_object_set_new(m, "resourceVersion", json_string(buf));
    const json_t *om = json_object_get(old, "metadata");
    if (om) {
        json_object_set(m, "uid", json_object_get(om, "uid"));
        json_object_set(m, "creationTimestamp", json_object_get(om, "creationTimestamp"));
        return;
    }
    snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012llx", sec_uid++);
    json_object_set_new(m, "uid", json_string(buf));
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_set_new(m, "creationTimestamp", json_string(buf));
}

static void not_found(qs_req *r, const char *name) {
    char msg[MSG_LEN];
    snprintf(msg, sizeof msg, "secrets \"%.300s\" not found", name);
    status_reason(r, 404, "NotFound", msg, name);
}

static void h_create(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    if (kube_api_enter(r))
        return;
    const char *ns = qs_req_param(r, "ns");
    json_t *s = normalise(r, ns, NULL);
    if (!s)
        return;
    const char *name = json_string_value(json_object_get(json_object_get(s, "metadata"), "name"));
    char key[600];
    key_of(key, sizeof key, ns, name);
    pthread_mutex_lock(&sec_mu);
    if (!secrets)
        secrets = json_object();
    bool exists = json_object_get(secrets, key) != NULL;
    if (!exists) {
        json_object_del(json_object_get(s, "metadata"), "resourceVersion");
        stamp(s, NULL);
        json_object_set(secrets, key, s);
    }
    pthread_mutex_unlock(&sec_mu);
    if (exists) {
        char msg[MSG_LEN];
        snprintf(msg, sizeof msg, "secrets \"%.300s\" already exists", name);
        status_reason(r, 409, "AlreadyExists", msg, name);
        json_decref(s);
        return;
    }
    qs_log(QS_LOG_INFO, "secret created", "namespace", ns, "name", name, NULL);
    qs_respond_json(r, 201, s);
}

static void h_get(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    if (kube_api_enter(r))
        return;
    char key[600];
    key_of(key, sizeof key, qs_req_param(r, "ns"), qs_req_param(r, "name"));
    pthread_mutex_lock(&sec_mu);
    json_t *s = secrets ? json_deep_copy(json_object_get(secrets, key)) : NULL;
    pthread_mutex_unlock(&sec_mu);
    if (!s) {
        not_found(r, qs_req_param(r, "name"));
        return;
    }
    qs_respond_json(r, 200, s);
}

static void h_replace(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    if (kube_api_enter(r))
        return;
    const char *ns = qs_req_param(r, "ns"), *name = qs_req_param(r, "name");
    json_t *s = normalise(r, ns, name);
    if (!s)
        return;
    char key[600];
    key_of(key, sizeof key, ns, name);
    json_t *m = json_object_get(s, "metadata");
    const char *rv = emu_json_str(m, "resourceVersion");
    int code = 200;
    pthread_mutex_lock(&sec_mu);
    json_t *old = secrets ? json_object_get(secrets, key) : NULL;
    const char *old_rv =
        old ? emu_json_str(json_object_get(old, "metadata"), "resourceVersion") : NULL;
    if (!old)
        code = 404;
    else if (rv && *rv && (!old_rv || strcmp(rv, old_rv) != 0))
        code = 409;
    else if (strcmp(emu_json_str(old, "type"), emu_json_str(s, "type")) != 0)
        code = 422;
    else {
        stamp(s, old);
        json_object_set(secrets, key, s);
    }
    pthread_mutex_unlock(&sec_mu);
    if (code == 404) {
        not_found(r, name);
    } else if (code == 409) {
        char msg[MSG_LEN];
        snprintf(msg, sizeof msg,
                 "Operation cannot be fulfilled on secrets \"%.300s\": the object has been "
                 "modified; please apply your changes to the latest version and try again",
                 name);
        status_reason(r, 409, "Conflict", msg, name);
    } else if (code == 422) {
        invalid(r, name, "type: Invalid value: field is immutable");
    } else {
        qs_log(QS_LOG_INFO, "secret replaced", "namespace", ns, "name", name, NULL);
        qs_respond_json(r, 200, json_incref(s));
    }
    json_decref(s);
}

static void h_delete(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    if (kube_api_enter(r))
        return;
    const char *ns = qs_req_param(r, "ns"), *name = qs_req_param(r, "name");
    char key[600];
    key_of(key, sizeof key, ns, name);
    pthread_mutex_lock(&sec_mu);
    json_t *old = secrets ? json_object_get(secrets, key) : NULL;
    char uid[64] = "";
    if (old) {
        snprintf(uid, sizeof uid, "%s",
                 emu_json_str(json_object_get(old, "metadata"), "uid")
                     ? emu_json_str(json_object_get(old, "metadata"), "uid")
                     : "");
        json_object_del(secrets, key);
    }
    pthread_mutex_unlock(&sec_mu);
    if (!old) {
        not_found(r, name);
        return;
    }
    qs_log(QS_LOG_INFO, "secret deleted", "namespace", ns, "name", name, NULL);
    qs_respond_json(r, 200,
                    json_pack("{s:s, s:s, s:{}, s:s, s:{s:s, s:s, s:s}}", "kind", "Status",
                              "apiVersion", "v1", "metadata", "status", "Success", "details",
                              "name", name, "kind", "secrets", "uid", uid));
}

/* One requirement of a label selector. */
typedef struct {
    char key[320];
    char value[320];
    enum { SEL_EQ, SEL_NE, SEL_EXISTS, SEL_ABSENT } op;
} sel_req;

static void trim_copy(char *dst, size_t n, const char *b, const char *e) {
    while (b < e && isspace((unsigned char)*b))
        b++;
    while (e > b && isspace((unsigned char)e[-1]))
        e--;
    snprintf(dst, n, "%.*s", (int)(e - b), b);
}

/* Parse "a=b,c!=d,e,!f". 0, or -1 when unparseable (up to 16 requirements). */
static int parse_selector(const char *text, sel_req *reqs, size_t max, size_t *n) {
    *n = 0;
    for (const char *p = text; p && *p;) {
        size_t len = strcspn(p, ",");
        if (*n == max)
            return -1;
        sel_req *q = &reqs[(*n)++];
        const char *end = p + len;
        const char *ne = memmem(p, len, "!=", 2);
        const char *eq = memchr(p, '=', len);
        if (ne) {
            q->op = SEL_NE;
            trim_copy(q->key, sizeof q->key, p, ne);
            trim_copy(q->value, sizeof q->value, ne + 2, end);
        } else if (eq) {
            q->op = SEL_EQ;
            trim_copy(q->key, sizeof q->key, p, eq);
            const char *v = eq + 1 < end && eq[1] == '=' ? eq + 2 : eq + 1;
            trim_copy(q->value, sizeof q->value, v, end);
        } else {
            char word[320];
            trim_copy(word, sizeof word, p, end);
            q->op = word[0] == '!' ? SEL_ABSENT : SEL_EXISTS;
            trim_copy(q->key, sizeof q->key, word + (word[0] == '!'), word + strlen(word));
            q->value[0] = '\0';
        }
        if (!q->key[0] || strchr(q->key, ' ') || strchr(q->value, ' ') || strchr(q->value, '='))
            return -1;
        p = end + (*end == ',');
    }
    return 0;
}

static bool selected(const json_t *secret, const sel_req *reqs, size_t n) {
    const json_t *labels = json_object_get(json_object_get(secret, "metadata"), "labels");
    for (size_t i = 0; i < n; i++) {
        const char *v = emu_json_str(labels, reqs[i].key);
        bool ok = reqs[i].op == SEL_EQ       ? v && strcmp(v, reqs[i].value) == 0
                  : reqs[i].op == SEL_NE     ? !v || strcmp(v, reqs[i].value) != 0
                  : reqs[i].op == SEL_EXISTS ? v != NULL
                                             : v == NULL;
        if (!ok)
            return false;
    }
    return true;
}

static void h_list(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    if (kube_api_enter(r))
        return;
    const char *ns = qs_req_param(r, "ns");
    const char *selector = qs_req_query(r, "labelSelector");
    sel_req reqs[16];
    size_t nreq = 0;
    if (selector && parse_selector(selector, reqs, QS_ARRAY_LEN(reqs), &nreq) != 0) {
        char msg[MSG_LEN];
        snprintf(msg, sizeof msg, "unable to parse requirement: %.300s", selector);
        status_reason(r, 400, "BadRequest", msg, NULL);
        return;
    }
    json_t *items = json_array();
    char rv[32];
    pthread_mutex_lock(&sec_mu);
    const char *key;
    json_t *s;
    json_object_foreach(secrets, key, s) {
        const char *sns = emu_json_str(json_object_get(s, "metadata"), "namespace");
        if (sns && strcmp(sns, ns) == 0 && selected(s, reqs, nreq)) {
            json_t *item = json_deep_copy(s);
            json_object_del(item, "kind"); /* list items carry neither, as upstream */
            json_object_del(item, "apiVersion");
            json_array_append_new(items, item);
        }
    }
    snprintf(rv, sizeof rv, "%llu", sec_version);
    pthread_mutex_unlock(&sec_mu);
    qs_respond_json(r, 200,
                    json_pack("{s:s, s:s, s:{s:s}, s:o}", "kind", "SecretList", "apiVersion", "v1",
                              "metadata", "resourceVersion", rv, "items", items));
}

size_t kube_secret_routes(const qs_route **out) {
    static const qs_route routes[] = {
        {"POST", "/api/v1/namespaces/{ns}/secrets", h_create, NULL, 3u << 20},
        {"GET", "/api/v1/namespaces/{ns}/secrets", h_list, NULL, 0},
        {"GET", "/api/v1/namespaces/{ns}/secrets/{name}", h_get, NULL, 0},
        {"PUT", "/api/v1/namespaces/{ns}/secrets/{name}", h_replace, NULL, 3u << 20},
        {"DELETE", "/api/v1/namespaces/{ns}/secrets/{name}", h_delete, NULL, 0},
    };
    *out = routes;
    return QS_ARRAY_LEN(routes);
}
