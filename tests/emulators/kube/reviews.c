/* reviews.c — TokenReview and SubjectAccessReview, as the Kubernetes API server answers them.
 *
 * Both are "create-only" virtual resources: the client POSTs an object with a spec, the server
 * fills in status and echoes the object back with 201. A TokenReview of a known token reports
 * the user (username, uid, groups) and the default audience; an unknown (or revoked) token
 * gives a status with an empty user and the authenticator's error string, exactly as the
 * real server does (no `authenticated` key at all, because Go omits a false bool). A
 * SubjectAccessReview is allowed when a permission of the store matches. Malformed bodies get
 * 400 BadRequest, an incomplete SAR spec 422 Invalid, as upstream. */
#include <stdio.h>
#include <string.h>

#include "emu.h"
#include "kube_emu.h"
#include "shared/common.h"
#include "shared/log.h"

#define DEFAULT_AUDIENCE "https://kubernetes.default.svc"

/* Parse the request body as a JSON object with an object `spec`. Answers 400 itself and
 * returns NULL when it is not one. */
static json_t *review_body(qs_req *r, const char *kind) {
    size_t len = 0;
    const char *text = qs_req_body(r, &len);
    json_error_t je;
    json_t *j = json_loadb(text, len, 0, &je);
    if (!json_is_object(j) || !json_is_object(json_object_get(j, "spec"))) {
        char msg[512];
        snprintf(msg, sizeof msg, "the object provided is unrecognized (must be of type %s): %s",
                 kind, j ? "spec must be an object" : je.text);
        json_decref(j);
        kube_status(r, 400, msg);
        return NULL;
    }
    return j;
}

/* The echoed object: apiVersion, kind, metadata, the spec as sent, and `status` (stolen). */
static json_t *review_answer(const char *api_version, const char *kind, json_t *req,
                             json_t *status) {
    return json_pack("{s:s, s:s, s:{s:n}, s:O, s:o}", "kind", kind, "apiVersion", api_version,
                     "metadata", "creationTimestamp", "spec", json_object_get(req, "spec"),
                     "status", status);
}

static void h_token_review(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    if (kube_api_enter(r))
        return;
    json_t *req = review_body(r, "TokenReview");
    if (!req)
        return;
    const char *token = emu_json_str(json_object_get(req, "spec"), "token");
    if (!token || !*token) {
        json_decref(req);
        kube_status(r, 400, "token is required for TokenReview in authentication");
        return;
    }
    json_t *user = kube_store_user(token), *status;
    if (user)
        status = json_pack("{s:b, s:o, s:[s]}", "authenticated", 1, "user", user, "audiences",
                           DEFAULT_AUDIENCE);
    else
        status = json_pack("{s:{}, s:s}", "user", "error",
                           "[invalid bearer token, token lookup failed]");
    qs_log(QS_LOG_INFO, "tokenreview", "authenticated", user ? "true" : "false", "username",
           user ? emu_json_str(user, "username") : NULL, NULL);
    json_t *answer = review_answer("authentication.k8s.io/v1", "TokenReview", req, status);
    json_decref(req);
    qs_respond_json(r, 201, answer);
}

/* What upstream validation would reject; NULL when the spec is acceptable. */
static const char *sar_invalid(const json_t *spec) {
    const char *user = emu_json_str(spec, "user");
    const json_t *groups = json_object_get(spec, "groups");
    if ((!user || !*user) && json_array_size(groups) == 0)
        return "SubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.user: Invalid "
               "value: \"\": at least one of user or group must be specified";
    bool res = json_is_object(json_object_get(spec, "resourceAttributes"));
    bool nonres = json_is_object(json_object_get(spec, "nonResourceAttributes"));
    if (res == nonres)
        return "SubjectAccessReview.authorization.k8s.io \"\" is invalid: "
               "spec.resourceAttributes: Invalid value: \"null\": exactly one of "
               "nonResourceAttributes or resourceAttributes must be specified";
    return NULL;
}

static void h_sar(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    if (kube_api_enter(r))
        return;
    json_t *req = review_body(r, "SubjectAccessReview");
    if (!req)
        return;
    const json_t *spec = json_object_get(req, "spec");
    const char *why = sar_invalid(spec);
    if (why) {
        json_decref(req);
        kube_status(r, 422, why);
        return;
    }
    char reason[512] = "";
    bool allowed = kube_store_allowed(spec, reason, sizeof reason);
    const json_t *attrs = json_object_get(spec, "resourceAttributes");
    qs_log(QS_LOG_INFO, "subjectaccessreview", "user", emu_json_str(spec, "user"), "verb",
           emu_json_str(attrs, "verb"), "resource", emu_json_str(attrs, "resource"), "allowed",
           allowed ? "true" : "false", NULL);
    json_t *status = allowed ? json_pack("{s:b, s:s}", "allowed", 1, "reason", reason)
                             : json_pack("{s:b}", "allowed", 0);
    json_t *answer = review_answer("authorization.k8s.io/v1", "SubjectAccessReview", req, status);
    json_decref(req);
    qs_respond_json(r, 201, answer);
}

/* Reviews are create-only: any other verb is 405, as upstream. */
static void h_create_only(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    if (kube_api_enter(r))
        return;
    qs_resp_header(r, "Allow", "POST");
    kube_status(r, 405, "the server does not allow this method on the requested resource");
}

static const qs_route review_routes[] = {
    {"POST", "/apis/authentication.k8s.io/v1/tokenreviews", h_token_review, NULL, 0},
    {"POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", h_sar, NULL, 0},
    {"*", "/apis/authentication.k8s.io/v1/tokenreviews", h_create_only, NULL, 0},
    {"*", "/apis/authorization.k8s.io/v1/subjectaccessreviews", h_create_only, NULL, 0},
};

size_t kube_review_routes(const qs_route **out) {
    *out = review_routes;
    return QS_ARRAY_LEN(review_routes);
}
