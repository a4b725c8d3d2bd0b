/* kube.c — the Kubernetes/OpenShift API calls quayside makes: TokenReview,
 * SubjectAccessReview, and a generic JSON call for the service-specific resources.
 *
 * A qs_kube is an API base URL, a qs_http client (retries on transport errors, 5xx and 429,
 * with the cluster CA when one is given) and the service account token as a qs_secret, so a
 * rotated (bound, short-lived) token file is picked up on the next call without a restart.
 * Without an explicit URL the in-cluster settings are used: https://$KUBERNETES_SERVICE_HOST:
 * $KUBERNETES_SERVICE_PORT and the files under /var/run/secrets/kubernetes.io/serviceaccount/.
 *
 * The reviews distinguish "the cluster said no" from "the cluster could not answer": a
 * TokenReview whose status is not authenticated is a normal result (0), while a transport
 * error, a 5xx/429 after retries, a 401/403 (our own service account token is bad — logged
 * with the reason, since an operator must fix it), any other unexpected status, or an answer
 * that is not the review object is QS_EUNAVAIL, which callers must not read as "denied".
 * The reviewed token goes only into the request body: it is never logged, and any server
 * message that is logged has it redacted first. */
#include "shared/kube.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/buf.h"
#include "shared/common.h"
#include "shared/config.h"
#include "shared/log.h"

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount/"
#define SA_TOKEN SA_DIR "token"
#define SA_CA SA_DIR "ca.crt"

struct qs_kube {
    char *url;        /* base URL without a trailing '/' */
    qs_secret *token; /* NULL = send no Authorization */
    qs_http *http;
    long timeout_ms;
};

/* The in-cluster base URL, or NULL + message when the environment lacks it. */
static char *in_cluster_url(char *err, size_t errlen) {
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    if (!host || !*host) {
        snprintf(err, errlen,
                 "no Kubernetes API URL given and KUBERNETES_SERVICE_HOST is not set "
                 "(not running in a cluster)");
        return NULL;
    }
    qs_buf b = QS_BUF_INIT;
    bool v6 = strchr(host, ':') != NULL;
    qs_buf_printf(&b, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "",
                  port && *port ? port : "443");
    return qs_buf_steal(&b);
}

static bool resolve_opts(const qs_kube_opts *o, char **url, const char **token_file,
                         const char **ca_file, char *err, size_t errlen) {
    if (o->api_url && *o->api_url) {
        *url = strdup(o->api_url);
        *token_file = o->token_file;
        *ca_file = o->ca_file;
    } else {
        *url = in_cluster_url(err, errlen);
        *token_file = o->token_file ? o->token_file : SA_TOKEN;
        *ca_file = o->ca_file ? o->ca_file : SA_CA;
        if (*url && access(*token_file, R_OK) != 0) {
            snprintf(err, errlen, "in-cluster service account token %s is not readable",
                     *token_file);
            free(*url);
            *url = NULL;
        }
    }
    if (!*url)
        return false;
    size_t n = strlen(*url);
    while (n > 0 && (*url)[n - 1] == '/')
        (*url)[--n] = '\0';
    return true;
}

qs_kube *qs_kube_new(const qs_kube_opts *opts, char *err, size_t errlen) {
    qs_kube_opts defaults = QS_KUBE_OPTS_INIT;
    const qs_kube_opts *o = opts ? opts : &defaults;
    char *url = NULL;
    const char *token_file = NULL, *ca_file = NULL;
    if (!resolve_opts(o, &url, &token_file, &ca_file, err, errlen))
        return NULL;
    qs_kube *k = calloc(1, sizeof *k);
    qs_http_opts ho = QS_HTTP_OPTS_INIT;
    ho.ca_file = ca_file;
    ho.timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
    if (k) {
        k->url = url;
        k->timeout_ms = ho.timeout_ms;
        k->http = qs_http_new(&ho);
        k->token = token_file ? qs_secret_new(token_file) : NULL;
    }
    if (!k || !k->http || (token_file && !k->token)) {
        snprintf(err, errlen, "out of memory");
        if (k)
            qs_kube_free(k);
        else
            free(url);
        return NULL;
    }
    return k;
}

void qs_kube_free(qs_kube *k) {
    if (!k)
        return;
    qs_http_free(k->http);
    qs_secret_free(k->token);
    free(k->url);
    free(k);
}

const char *qs_kube_url(const qs_kube *k) { return k->url; }

/* A server message safe to log: `secret` (the reviewed token), if it occurs, is redacted. */
static void log_refusal(const char *what, long status, const json_t *answer, const char *secret) {
    const json_t *m = json_object_get(answer, "message");
    qs_buf msg = QS_BUF_INIT;
    qs_buf_puts(&msg, json_is_string(m) ? json_string_value(m) : "");
    const char *hit = secret && *secret ? strstr(qs_buf_str(&msg), secret) : NULL;
    if (hit) {
        msg.len = (size_t)(hit - msg.data);
        msg.data[msg.len] = '\0';
        qs_buf_puts(&msg, "<redacted>");
    }
    char code[24];
    snprintf(code, sizeof code, "%ld", status);
    qs_log(QS_LOG_WARN, what, "status", code, "message", qs_buf_str(&msg), NULL);
    qs_buf_free(&msg);
}

/* POST/GET/... with the service account token; see qs_kube_call. */
static int kube_do(qs_kube *k, const char *method, const char *path, const json_t *body,
                   long *status, json_t **out) {
    char *bearer = NULL;
    if (k->token && qs_secret_get(k->token, &bearer) != 0) {
        qs_log(QS_LOG_WARN, "kubernetes service account token unavailable", "file",
               qs_secret_path(k->token), NULL);
        return QS_EUNAVAIL;
    }
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    qs_buf url = QS_BUF_INIT;
    qs_buf_printf(&url, "%s%s", k->url, path);
    static const char *const with_body[] = {"Accept: application/json",
                                            "Content-Type: application/json", NULL};
    static const char *const without_body[] = {"Accept: application/json", NULL};
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.method = method;
    req.url = qs_buf_str(&url);
    req.headers = body ? with_body : without_body;
    req.body = text;
    req.body_len = text ? strlen(text) : 0;
    req.bearer = bearer;
    req.timeout_ms = k->timeout_ms;
    qs_http_resp resp = {0};
    int rc = qs_http_do(k->http, &req, &resp);
    if (text) {
        memset(text, 0, strlen(text)); /* may hold a reviewed token */
        free(text);
    }
    qs_secret_release(bearer);
    *status = resp.status;
    *out = NULL;
    if (rc != 0) {
        qs_log(QS_LOG_WARN, "kubernetes API unreachable", "url", qs_buf_str(&url), "error",
               resp.error, NULL);
        rc = QS_EUNAVAIL;
    } else {
        *out = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, NULL);
        if (resp.status >= 500 || resp.status == 429) {
            log_refusal("kubernetes API failing", resp.status, *out, NULL);
            json_decref(*out);
            *out = NULL;
            rc = QS_EUNAVAIL;
        }
    }
    qs_buf_free(&url);
    qs_http_resp_free(&resp);
    return rc;
}

int qs_kube_call(qs_kube *k, const char *method, const char *path, const json_t *body, long *status,
                 json_t **out) {
    json_t *ignored = NULL;
    int rc = kube_do(k, method, path, body, status, out ? out : &ignored);
    json_decref(ignored);
    return rc;
}

/* POST a review object and return its `status` object (a new reference) in *st. Every
 * answer other than 200/201 with a JSON object of the expected kind is QS_EUNAVAIL. */
static int review(qs_kube *k, const char *path, const char *kind, json_t *body, const char *secret,
                  json_t **st) {
    long status = 0;
    json_t *answer = NULL;
    int rc = kube_do(k, "POST", path, body, &status, &answer);
    if (rc != 0)
        return QS_EUNAVAIL;
    const json_t *akind = json_object_get(answer, "kind");
    *st = json_object_get(answer, "status");
    if (status == 401 || status == 403) {
        log_refusal("kubernetes API refused our service account token", status, answer, secret);
        rc = QS_EUNAVAIL;
    } else if (status != 200 && status != 201) {
        log_refusal("kubernetes API refused the review", status, answer, secret);
        rc = QS_EUNAVAIL;
    } else if (!json_is_object(answer) || !json_is_object(*st) ||
               (akind && (!json_is_string(akind) || strcmp(json_string_value(akind), kind) != 0))) {
        qs_log(QS_LOG_WARN, "kubernetes API answer is not a review", "kind", kind, NULL);
        rc = QS_EUNAVAIL;
    }
    if (rc == 0)
        json_incref(*st);
    else
        *st = NULL;
    json_decref(answer);
    return rc;
}

static char *dup_str(const json_t *v) {
    return strdup(json_is_string(v) ? json_string_value(v) : "");
}

/* Fill *out from a TokenReview status. QS_EUNAVAIL when authenticated but without a user. */
static int parse_token_status(const json_t *st, qs_token_review *out) {
    const json_t *user = json_object_get(st, "user");
    const json_t *name = json_object_get(user, "username");
    out->authenticated = json_is_true(json_object_get(st, "authenticated"));
    if (!out->authenticated)
        return QS_OK;
    if (!json_is_string(name) || !*json_string_value(name)) {
        qs_log(QS_LOG_WARN, "kubernetes TokenReview authenticated without a username", NULL);
        out->authenticated = false;
        return QS_EUNAVAIL;
    }
    out->username = dup_str(name);
    out->uid = dup_str(json_object_get(user, "uid"));
    const json_t *groups = json_object_get(user, "groups");
    out->groups = calloc(json_array_size(groups) + 1, sizeof *out->groups);
    if (!out->username || !out->uid || !out->groups)
        return QS_ENOMEM;
    size_t i;
    json_t *g;
    json_array_foreach(groups, i, g) {
        if (json_is_string(g) && (out->groups[out->ngroups] = strdup(json_string_value(g))))
            out->ngroups++;
    }
    return QS_OK;
}

int qs_kube_token_review(qs_kube *k, const char *token, qs_token_review *out) {
    memset(out, 0, sizeof *out);
    if (!token)
        return QS_EINVAL;
    json_t *body = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "authentication.k8s.io/v1",
                             "kind", "TokenReview", "spec", "token", token);
    if (!body)
        return QS_ENOMEM;
    json_t *st = NULL;
    int rc =
        review(k, "/apis/authentication.k8s.io/v1/tokenreviews", "TokenReview", body, token, &st);
    json_decref(body); /* jansson copied the token; the dump was wiped in kube_do */
    if (rc == 0)
        rc = parse_token_status(st, out);
    json_decref(st);
    if (rc != 0)
        qs_token_review_free(out);
    else
        qs_log(QS_LOG_DEBUG, "kubernetes TokenReview", "authenticated",
               out->authenticated ? "true" : "false", "username", out->username, NULL);
    return rc;
}

void qs_token_review_free(qs_token_review *tr) {
    if (!tr)
        return;
    free(tr->username);
    free(tr->uid);
    for (size_t i = 0; i < tr->ngroups; i++)
        free(tr->groups[i]);
    free(tr->groups);
    memset(tr, 0, sizeof *tr);
}

static void set_if(json_t *obj, const char *key, const char *value) {
    if (value && *value)
        json_object_set_new(obj, key, json_string(value));
}

/* The SAR body with empty fields left out. */
static json_t *sar_body(const qs_sar *sar) {
    json_t *attrs = json_object(), *spec = json_object();
    static const char *const keys[] = {"namespace", "verb",        "group", "version",
                                       "resource",  "subresource", "name"};
    const char *vals[] = {sar->namespace_, sar->verb,        sar->group, sar->version,
                          sar->resource,   sar->subresource, sar->name};
    for (size_t i = 0; i < QS_ARRAY_LEN(keys); i++)
        set_if(attrs, keys[i], vals[i]);
    set_if(spec, "user", sar->user);
    if (sar->ngroups) {
        json_t *groups = json_array();
        for (size_t i = 0; i < sar->ngroups; i++)
            json_array_append_new(groups, json_string(sar->groups[i]));
        json_object_set_new(spec, "groups", groups);
    }
    json_object_set_new(spec, "resourceAttributes", attrs);
    return json_pack("{s:s, s:s, s:o}", "apiVersion", "authorization.k8s.io/v1", "kind",
                     "SubjectAccessReview", "spec", spec);
}

int qs_kube_sar(qs_kube *k, const qs_sar *sar, bool *allowed) {
    *allowed = false;
    json_t *body = sar_body(sar);
    if (!body)
        return QS_ENOMEM;
    json_t *st = NULL;
    int rc = review(k, "/apis/authorization.k8s.io/v1/subjectaccessreviews", "SubjectAccessReview",
                    body, NULL, &st);
    json_decref(body);
    if (rc == 0) {
        *allowed = json_is_true(json_object_get(st, "allowed"));
        qs_log(QS_LOG_DEBUG, "kubernetes SubjectAccessReview", "user", sar->user, "allowed",
               *allowed ? "true" : "false", NULL);
    }
    json_decref(st);
    return rc;
}
