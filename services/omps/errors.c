/* errors.c — OMPS's error answers and the mapping of each step's failures onto them.
 *
 * The rules follow the original's code paths (reference/omps.md §A.6, §A.8, §A.9, §A.13):
 * get_releases_raw wraps requests' exceptions ("Cannot retrieve information about package
 * org/repo: 503 Server Error: ..."), courier reads `error.message` from Quay's JSON and OMPS
 * prefixes "Failed to push manifest: ", delete and publish read `error.message` or say
 * "Unknown error". Where the original crashed into a bare 500 (a transport error while
 * deleting, Quay's 405 string error body at a push), the answer keeps the step's id and says
 * what happened instead. */
#include "omps/errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/common.h"

void omps_error_set(omps_error *e, int status, const char *id, const char *fmt, ...) {
    e->status = status;
    e->id = id;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

void omps_error_clear(omps_error *e) {
    json_decref(e->validation_info);
    json_decref(e->quay_response);
    json_decref(e->greenwave_response);
    memset(e, 0, sizeof *e);
}

json_t *omps_error_json(const omps_error *e) {
    json_t *o = json_pack("{s:i,s:s,s:s}", "status", e->status, "error",
                          e->id ? e->id : OMPS_E_INTERNAL, "message", e->message);
    if (o && e->validation_info)
        json_object_set(o, "validation_info", e->validation_info);
    if (o && e->quay_response)
        json_object_set(o, "quay_response", e->quay_response);
    if (o && e->greenwave_response)
        json_object_set(o, "greenwave_response", e->greenwave_response);
    return o;
}

char *omps_json_text(const json_t *j) {
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    size_t n = s ? strlen(s) : 0;
    char *out = s ? realloc(s, n + 2) : NULL;
    if (!out) {
        free(s);
        return NULL;
    }
    out[n] = '\n';
    out[n + 1] = '\0';
    return out;
}

static const struct {
    int status;
    const char *id;
    const char *message; /* werkzeug's description, NULL = keep the server's */
} http_ids[] = {
    {400, "BadRequest", NULL},
    {401, "Unauthorized", NULL},
    {403, "Forbidden", NULL},
    {404, "NotFound", NULL},
    {405, "MethodNotAllowed", NULL},
    {408, "RequestTimeout", NULL},
    {413, "RequestEntityTooLarge", "The data value transmitted exceeds the capacity limit."},
    {500, "InternalServerError", NULL},
    {503, "ServiceUnavailable", NULL},
};

const char *omps_error_format(int status, const char *code, const char *message, qs_buf *out) {
    const char *id = code && code[0] >= 'A' && code[0] <= 'Z' ? code : NULL;
    const char *msg = message ? message : "";
    for (size_t i = 0; !id && i < QS_ARRAY_LEN(http_ids); i++)
        if (http_ids[i].status == status) {
            id = http_ids[i].id;
            msg = http_ids[i].message ? http_ids[i].message : msg;
        }
    json_t *o = json_pack("{s:i,s:s,s:s}", "status", status, "error",
                          id     ? id
                          : code ? code
                                 : "",
                          "message", msg);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    qs_buf_puts(out, text ? text : "{}");
    free(text);
    json_decref(o);
    return "application/json";
}

static const char *reason(long status) {
    static const struct {
        long status;
        const char *text;
    } reasons[] = {{400, "Bad Request"},
                   {401, "Unauthorized"},
                   {403, "Forbidden"},
                   {404, "Not Found"},
                   {405, "Method Not Allowed"},
                   {409, "Conflict"},
                   {413, "Request Entity Too Large"},
                   {422, "Unprocessable Entity"},
                   {429, "Too Many Requests"},
                   {500, "Internal Server Error"},
                   {502, "Bad Gateway"},
                   {503, "Service Unavailable"},
                   {504, "Gateway Timeout"}};
    for (size_t i = 0; i < QS_ARRAY_LEN(reasons); i++)
        if (reasons[i].status == status)
            return reasons[i].text;
    return "";
}

void omps_http_error_text(long status, const char *message, const char *url, char *out,
                          size_t cap) {
    if (status == 0)
        snprintf(out, cap, "%s", message && *message ? message : "no answer");
    else
        snprintf(out, cap, "%ld %s Error: %s for url: %s", status,
                 status >= 500 ? "Server" : "Client", reason(status), url ? url : "");
}

void omps_error_releases(omps_error *e, const char *org, const char *repo, const char *url,
                         const qs_appr_error *ae) {
    char why[600];
    omps_http_error_text(ae->status, ae->message, url, why, sizeof why);
    if (ae->status == 403) {
        omps_error_set(e, 403, OMPS_E_QUAY_AUTH,
                       "Cannot retrieve information about package %s/%s: %s", org, repo, why);
        e->quay_response = json_is_object(ae->body) ? json_incref(ae->body) : json_object();
    } else {
        omps_error_set(e, 500, OMPS_E_PACKAGE,
                       "Cannot retrieve information about package %s/%s: %s", org, repo, why);
    }
}

/* Quay's `error.message` when the body has one. */
static const char *cnr_message(const json_t *body) {
    return json_string_value(json_object_get(json_object_get(body, "error"), "message"));
}

void omps_error_push(omps_error *e, const qs_appr_error *ae) {
    const char *msg = NULL;
    if (ae->status == 0)
        msg = ae->message[0] ? ae->message : "no answer from Quay";
    else if (json_is_string(json_object_get(ae->body, "error")))
        msg = json_string_value(json_object_get(ae->body, "error")); /* the 405 shape, #160 */
    else
        msg = cnr_message(ae->body);
    bool denied = ae->status == 403;
    omps_error_set(e, denied ? 403 : 500, denied ? OMPS_E_QUAY_AUTH : OMPS_E_COURIER,
                   "Failed to push manifest: %s", msg ? msg : "Failed to get error details.");
    e->quay_response = json_is_object(ae->body) ? json_incref(ae->body) : json_object();
}

void omps_error_delete(omps_error *e, const qs_appr_error *ae) {
    const char *msg = ae->status == 0 ? ae->message : cnr_message(ae->body);
    if (ae->status == 404)
        omps_error_set(e, 404, OMPS_E_PACKAGE_NOT_FOUND, "%s", msg ? msg : "Unknown error");
    else
        omps_error_set(e, 500, OMPS_E_PACKAGE, "%s", msg && *msg ? msg : "Unknown error");
}

void omps_error_publish(omps_error *e, const qs_appr_error *ae) {
    const char *msg = ae->status == 0 ? ae->message : cnr_message(ae->body);
    omps_error_set(e, 500, OMPS_E_PACKAGE, "%s", msg && *msg ? msg : "Unknown error");
}

void omps_error_zip(omps_error *e, const zip_check_error *ze) {
    int status = 500;
    const char *id = zip_check_omps_error(ze->code, &status);
    if (ze->code == ZIP_CHECK_UPLOAD_TOO_LARGE)
        omps_error_set(e, 413, "RequestEntityTooLarge",
                       "The data value transmitted exceeds the capacity limit.");
    else
        omps_error_set(e, status, id ? id : OMPS_E_INTERNAL, "%s", ze->message);
}
