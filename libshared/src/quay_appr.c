/* quay_appr.c — the App Registry (CNR) client OMPS uses to talk to quay.io.
 *
 * Each call builds one URL (path segments percent-encoded), sends the caller's Authorization
 * value verbatim as a header (never logged, never put into an error message), runs it through
 * qs_http_do (so transport errors, 5xx and 429 are retried by the shared client) and turns the
 * answer into 0 + parsed JSON, or an error code + qs_appr_error. Quay answers errors in
 * several shapes (CNR's {"error":{...}}, REST v1's RFC 7807-like body, flask's {"message"},
 * {"error":"text"}); qs_appr_parse_error reduces them to one message and code. */
#include "shared/quay_appr.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/buf.h"
#include "shared/common.h"

void qs_appr_error_clear(qs_appr_error *e) {
    if (!e)
        return;
    json_decref(e->body);
    memset(e, 0, sizeof *e);
}

static const char *reason(long status) {
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Unexpected response";
    }
}

static const char *nonempty(const json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    return s && *s ? s : NULL;
}

void qs_appr_parse_error(long status, const char *body, size_t len, qs_appr_error *e) {
    json_decref(e->body);
    memset(e, 0, sizeof *e);
    e->status = status;
    json_t *j = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    const char *msg = NULL, *code = NULL;
    if (json_is_object(j)) {
        json_t *err = json_object_get(j, "error");
        if (json_is_object(err)) { /* CNR */
            msg = nonempty(err, "message");
            code = nonempty(err, "code");
        }
        if (!msg)
            msg = nonempty(j, "detail");
        if (!msg)
            msg = nonempty(j, "error_message");
        if (!msg)
            msg = nonempty(j, "message");
        if (!msg)
            msg = nonempty(j, "error");
        json_t *first = json_array_get(json_object_get(j, "errors"), 0); /* registry v2 */
        if (!msg)
            msg = nonempty(first, "message");
        if (!code)
            code = nonempty(first, "code");
        if (!code)
            code = nonempty(j, "error_type");
        e->body = j;
    } else {
        json_decref(j);
    }
    snprintf(e->message, sizeof e->message, "%s", msg ? msg : reason(status));
    snprintf(e->code, sizeof e->code, "%s", code ? code : "");
}

static int status_err(long status) {
    switch (status) {
    case 400:
    case 422:
        return QS_EINVAL;
    case 401:
        return QS_EAUTH;
    case 403:
        return QS_EDENIED;
    case 404:
        return QS_ENOTFOUND;
    case 409:
        return QS_EEXISTS;
    default:
        return status >= 500 ? QS_EUNAVAIL : QS_EPROTO;
    }
}

/* Append `s` percent-encoded (everything but RFC 3986 unreserved characters). */
static void put_escaped(qs_buf *b, const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
            qs_buf_append(b, s, 1);
        else
            qs_buf_printf(b, "%%%02X", c);
    }
}

/* base (without trailing '/') + parts: even indexes are literal, odd ones escaped segments. */
static void build_url(qs_buf *url, const char *base, const char *const *parts, size_t n) {
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    qs_buf_append(url, base, bl);
    for (size_t i = 0; i < n; i++) {
        if (i % 2 == 0)
            qs_buf_puts(url, parts[i]); /* literal */
        else
            put_escaped(url, parts[i]);
    }
}

/* Perform the call; on 2xx parse the body into *out (when out != NULL). */
static int call(qs_http *h, const char *method, const char *url, const char *auth,
                const char *json_body, json_t **out, qs_appr_error *err) {
    qs_buf hauth = QS_BUF_INIT;
    const char *headers[4];
    size_t nh = 0;
    headers[nh++] = "Accept: application/json";
    if (json_body)
        headers[nh++] = "Content-Type: application/json";
    if (auth && *auth) {
        qs_buf_printf(&hauth, "Authorization: %s", auth);
        headers[nh++] = qs_buf_str(&hauth);
    }
    headers[nh] = NULL;
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.method = method;
    req.url = url;
    req.headers = headers;
    req.body = json_body;
    req.body_len = json_body ? strlen(json_body) : 0;
    qs_http_resp resp = {0};
    int rc = qs_http_do(h, &req, &resp);
    if (hauth.data)
        memset(hauth.data, 0, hauth.len);
    qs_buf_free(&hauth);
    if (rc == 0 && resp.status >= 200 && resp.status < 300) {
        if (out) {
            *out = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, JSON_DECODE_ANY,
                              NULL);
            if (!*out) {
                rc = QS_EPROTO;
                if (err) {
                    qs_appr_parse_error(resp.status, NULL, 0, err);
                    snprintf(err->message, sizeof err->message, "unreadable JSON from Quay");
                }
            }
        }
    } else if (rc == 0) {
        rc = status_err(resp.status);
        if (err)
            qs_appr_parse_error(resp.status, resp.body.data, resp.body.len, err);
    } else if (err) {
        qs_appr_parse_error(0, NULL, 0, err);
        snprintf(err->message, sizeof err->message, "%s",
                 resp.error[0] ? resp.error : qs_strerror(rc));
        rc = rc == QS_ETOOBIG ? QS_EPROTO : QS_EUNAVAIL;
    } else {
        rc = rc == QS_ETOOBIG ? QS_EPROTO : QS_EUNAVAIL;
    }
    qs_http_resp_free(&resp);
    return rc;
}

int qs_appr_version(qs_http *h, const char *base, char *out, size_t outlen, qs_appr_error *err) {
    qs_buf url = QS_BUF_INIT;
    const char *parts[] = {"/cnr/version"};
    build_url(&url, base, parts, 1);
    json_t *j = NULL;
    int rc = call(h, "GET", qs_buf_str(&url), NULL, NULL, &j, err);
    qs_buf_free(&url);
    if (rc == 0) {
        const char *v = json_string_value(json_object_get(j, "cnr-api"));
        if (!v) {
            rc = QS_EPROTO;
            if (err) {
                qs_appr_parse_error(200, NULL, 0, err);
                snprintf(err->message, sizeof err->message, "no cnr-api in /cnr/version");
            }
        } else
            snprintf(out, outlen, "%s", v);
    }
    json_decref(j);
    return rc;
}

int qs_appr_list_packages(qs_http *h, const char *base, const char *auth, const char *ns,
                          json_t **out, qs_appr_error *err) {
    qs_buf url = QS_BUF_INIT;
    const char *parts[] = {"/cnr/api/v1/packages?namespace=", ns};
    build_url(&url, base, parts, 2);
    *out = NULL;
    int rc = call(h, "GET", qs_buf_str(&url), auth, NULL, out, err);
    qs_buf_free(&url);
    if (rc == 0 && !json_is_array(*out)) {
        json_decref(*out);
        *out = NULL;
        rc = QS_EPROTO;
        if (err) {
            qs_appr_parse_error(200, NULL, 0, err);
            snprintf(err->message, sizeof err->message, "package listing is not an array");
        }
    }
    return rc;
}

int qs_appr_list_releases(qs_http *h, const char *base, const char *auth, const char *ns,
                          const char *pkg, json_t **out, qs_appr_error *err) {
    json_t *list = NULL;
    *out = NULL;
    int rc = qs_appr_list_packages(h, base, auth, ns, &list, err);
    if (rc != 0)
        return rc;
    size_t nl = strlen(ns), i;
    json_t *p;
    json_array_foreach(list, i, p) {
        const char *name = json_string_value(json_object_get(p, "name"));
        if (name && strncmp(name, ns, nl) == 0 && name[nl] == '/' &&
            strcmp(name + nl + 1, pkg) == 0) {
            json_t *rels = json_object_get(p, "releases");
            *out = json_is_array(rels) ? json_incref(rels) : json_array();
            break;
        }
    }
    json_decref(list);
    if (*out)
        return 0;
    if (err) {
        qs_appr_parse_error(404, NULL, 0, err);
        snprintf(err->message, sizeof err->message, "Package %s/%s not found", ns, pkg);
    }
    return QS_ENOTFOUND;
}

int qs_appr_show_package(qs_http *h, const char *base, const char *auth, const char *ns,
                         const char *pkg, json_t **out, qs_appr_error *err) {
    qs_buf url = QS_BUF_INIT;
    const char *parts[] = {"/cnr/api/v1/packages/", ns, "/", pkg};
    build_url(&url, base, parts, 4);
    *out = NULL;
    int rc = call(h, "GET", qs_buf_str(&url), auth, NULL, out, err);
    qs_buf_free(&url);
    return rc;
}

int qs_appr_push(qs_http *h, const char *base, const char *auth, const char *ns, const char *pkg,
                 const char *release, const char *media_type, const char *blob_b64,
                 qs_appr_error *err) {
    qs_buf url = QS_BUF_INIT;
    const char *parts[] = {"/cnr/api/v1/packages/", ns, "/", pkg};
    build_url(&url, base, parts, 4);
    json_t *body = json_pack("{s:s, s:s, s:s}", "blob", blob_b64, "release", release, "media_type",
                             media_type ? media_type : "helm");
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    int rc = QS_ENOMEM;
    if (text) {
        json_t *ans = NULL;
        rc = call(h, "POST", qs_buf_str(&url), auth, text, &ans, err);
        json_decref(ans);
    }
    free(text);
    qs_buf_free(&url);
    return rc;
}

int qs_appr_delete_release(qs_http *h, const char *base, const char *auth, const char *ns,
                           const char *pkg, const char *release, const char *media_type,
                           qs_appr_error *err) {
    qs_buf url = QS_BUF_INIT;
    const char *parts[] = {"/cnr/api/v1/packages/",         ns, "/", pkg, "/", release, "/",
                           media_type ? media_type : "helm"};
    build_url(&url, base, parts, 8);
    int rc = call(h, "DELETE", qs_buf_str(&url), auth, NULL, NULL, err);
    qs_buf_free(&url);
    return rc;
}

int qs_appr_set_visibility(qs_http *h, const char *base, const char *auth, const char *ns,
                           const char *repo, bool public_, qs_appr_error *err) {
    qs_buf url = QS_BUF_INIT;
    const char *parts[] = {"/api/v1/repository/", ns, "/", repo, "/changevisibility"};
    build_url(&url, base, parts, 5);
    int rc =
        call(h, "POST", qs_buf_str(&url), auth,
             public_ ? "{\"visibility\":\"public\"}" : "{\"visibility\":\"private\"}", NULL, err);
    qs_buf_free(&url);
    return rc;
}
