/* api.c — what every handler of the Kubernetes emulator shares.
 *
 * The real API server answers every error with a metav1 Status object whose `reason` is a
 * CamelCase word derived from the HTTP code; clients (and libshared's kube.c) see exactly that
 * shape here, including for errors the HTTP server produces itself (405, 413, bad JSON),
 * because kube_status_format is installed as the server's error formatter. Every API call
 * must present the service account's bearer token — the emulator checks it after counting the
 * call and applying any armed fault, so a fault can stand in for an API server that is down. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "emu.h"
#include "kube_emu.h"
#include "shared/common.h"
#include "shared/log.h"

static const struct {
    int code;
    const char *reason;
} reasons[] = {
    {400, "BadRequest"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "NotFound"},
    {405, "MethodNotAllowed"},
    {406, "NotAcceptable"},
    {409, "AlreadyExists"},
    {410, "Expired"},
    {413, "RequestEntityTooLarge"},
    {415, "UnsupportedMediaType"},
    {422, "Invalid"},
    {429, "TooManyRequests"},
    {500, "InternalError"},
    {503, "ServiceUnavailable"},
    {504, "Timeout"},
};

static const char *reason_for(int code) {
    for (size_t i = 0; i < QS_ARRAY_LEN(reasons); i++)
        if (reasons[i].code == code)
            return reasons[i].reason;
    return code >= 500 ? "InternalError" : "BadRequest";
}

static json_t *status_body(int code, const char *message) {
    return json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status", "apiVersion", "v1",
                     "metadata", "status", "Failure", "message", message ? message : "", "reason",
                     reason_for(code), "code", code);
}

void kube_status(qs_req *r, int code, const char *message) {
    qs_respond_json(r, code, status_body(code, message));
}

const char *kube_status_format(int status, const char *code, const char *message, qs_buf *out) {
    QS_UNUSED(code);
    json_t *j = status_body(status, message);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (text)
        qs_buf_puts(out, text);
    free(text);
    return "application/json";
}

bool kube_api_enter(qs_req *r) {
    if (emu_check(r))
        return true;
    const char *auth = qs_req_header(r, "Authorization");
    const char *token = (auth && strncasecmp(auth, "Bearer ", 7) == 0) ? auth + 7 : NULL;
    if (!kube_store_sa_ok(token)) {
        qs_log(QS_LOG_INFO, "unauthorized API call", "path", qs_req_path(r), "bearer",
               token ? "wrong" : "missing", NULL);
        kube_status(r, 401, "Unauthorized");
        return true;
    }
    return false;
}

static void h_not_found(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    if (emu_check(r))
        return;
    kube_status(r, 404, "the server could not find the requested resource");
}

static const qs_route fallback_routes[] = {
    {"*", "/{rest*}", h_not_found, NULL, 0},
};

size_t kube_fallback_routes(const qs_route **out) {
    *out = fallback_routes;
    return QS_ARRAY_LEN(fallback_routes);
}
