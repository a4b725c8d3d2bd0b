/* test_omps_errors.c — omps's error answers and version choice, pure: the body shape of
 * reference/omps.md §A.13, the server's 404/405/413 in that shape, and the mapping of Quay's
 * answers at each step (listing the releases, the CNR push, a delete, changevisibility) and
 * of the zip checks onto the original's ids, statuses and messages (§A.6, §A.8, §A.9, §F.2);
 * explicit version checks and "highest + 1 major" over a namespace listing (§A.6). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "omps/api.h"
#include "omps/errors.h"
#include "omps/push.h"
#include "omps/versions.h"
#include "shared/common.h"

static qs_appr_error quay(long status, const char *body) {
    qs_appr_error e = {0};
    qs_appr_parse_error(status, body, body ? strlen(body) : 0, &e);
    return e;
}

static json_t *body_of(const omps_error *e) {
    json_t *j = omps_error_json(e);
    cr_assert_not_null(j);
    return j;
}

Test(omps_errors, body_shape_and_extras) {
    omps_error e = {0};
    omps_error_set(&e, 400, OMPS_E_EXPECTED_FILE, "No field \"%s\" in uploaded data", "file");
    json_t *j = body_of(&e);
    cr_assert_eq(json_object_size(j), 3);
    cr_assert_eq(json_integer_value(json_object_get(j, "status")), 400);
    cr_assert_str_eq(json_string_value(json_object_get(j, "error")), "OMPSExpectedFileError");
    cr_assert_str_eq(json_string_value(json_object_get(j, "message")),
                     "No field \"file\" in uploaded data");
    json_decref(j);
    e.validation_info =
        json_pack("{s:[s],s:[]}", "errors", "csv spec.install not defined", "warnings");
    j = body_of(&e);
    cr_assert_str_eq(json_string_value(json_array_get(
                         json_object_get(json_object_get(j, "validation_info"), "errors"), 0)),
                     "csv spec.install not defined");
    cr_assert_null(json_object_get(j, "quay_response"));
    json_decref(j);
    omps_error_clear(&e);
    cr_assert_eq(e.status, 0);
    cr_assert_null(e.validation_info);
}

Test(omps_errors, server_errors_in_omps_shape) {
    static const struct {
        int status;
        const char *code, *id, *message;
    } cases[] = {
        {404, "not_found", "NotFound", "no such endpoint: GET /x"},
        {405, "method_not_allowed", "MethodNotAllowed", "PUT is not allowed"},
        {413, "too_large", "RequestEntityTooLarge",
         "The data value transmitted exceeds the capacity limit."},
        {500, "handler_error", "InternalServerError", "the handler did not answer"},
        {403, "OMPSAuthorizationHeaderRequired", "OMPSAuthorizationHeaderRequired", "as given"},
    };
    for (size_t i = 0; i < QS_ARRAY_LEN(cases); i++) {
        qs_buf out = QS_BUF_INIT;
        const char *ct = omps_error_format(cases[i].status, cases[i].code,
                                           i == 2   ? "the request body is larger than 5 bytes"
                                           : i == 4 ? "as given"
                                                    : cases[i].message,
                                           &out);
        cr_assert_str_eq(ct, "application/json");
        json_t *j = json_loads(qs_buf_str(&out), 0, NULL);
        cr_assert_not_null(j, "%s", qs_buf_str(&out));
        cr_assert_eq(json_integer_value(json_object_get(j, "status")), cases[i].status);
        cr_assert_str_eq(json_string_value(json_object_get(j, "error")), cases[i].id);
        cr_assert_str_eq(json_string_value(json_object_get(j, "message")), cases[i].message);
        json_decref(j);
        qs_buf_free(&out);
    }
}

Test(omps_errors, requests_style_http_text) {
    char out[256];
    omps_http_error_text(503, "ignored", "http://q/cnr/version", out, sizeof out);
    cr_assert_str_eq(out, "503 Server Error: Service Unavailable for url: http://q/cnr/version");
    omps_http_error_text(401, "x", "http://q/y", out, sizeof out);
    cr_assert_str_eq(out, "401 Client Error: Unauthorized for url: http://q/y");
    omps_http_error_text(0, "Connection refused", "http://q/y", out, sizeof out);
    cr_assert_str_eq(out, "Connection refused");
}

Test(omps_errors, listing_the_releases) {
    omps_error e = {0};
    qs_appr_error ae = quay(503, "{\"errors\":[{\"code\":\"X\",\"message\":\"down\"}]}");
    omps_error_releases(&e, "myorg", "repo", "http://q/cnr/api/v1/packages?namespace=myorg", &ae);
    cr_assert_eq(e.status, 500);
    cr_assert_str_eq(e.id, "QuayPackageError");
    cr_assert_str_eq(e.message, "Cannot retrieve information about package myorg/repo: 503 Server "
                                "Error: Service Unavailable for url: "
                                "http://q/cnr/api/v1/packages?namespace=myorg");
    cr_assert_null(e.quay_response);
    qs_appr_error_clear(&ae);
    omps_error_clear(&e);

    ae = quay(403, "{\"error\":{\"code\":\"forbidden\",\"message\":\"Unauthorized access\"}}");
    omps_error_releases(&e, "myorg", "repo", "http://q/l", &ae);
    cr_assert_eq(e.status, 403);
    cr_assert_str_eq(e.id, "QuayAuthorizationError");
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(e.quay_response, "error"), "code")),
        "forbidden");
    qs_appr_error_clear(&ae);
    omps_error_clear(&e);

    ae = quay(403, "not json");
    omps_error_releases(&e, "o", "r", "http://q/l", &ae);
    cr_assert_eq(e.status, 403);
    cr_assert(json_is_object(e.quay_response) && json_object_size(e.quay_response) == 0);
    qs_appr_error_clear(&ae);
    omps_error_clear(&e);
}

Test(omps_errors, the_push) {
    omps_error e = {0};
    /* §F.2: version already in Quay */
    qs_appr_error ae = quay(
        409, "{\"error\":{\"code\":\"package-exists\",\"details\":{},\"message\":\"package exists "
             "already\"}}");
    omps_error_push(&e, &ae);
    cr_assert_eq(e.status, 500);
    cr_assert_str_eq(e.id, "QuayCourierError");
    cr_assert_str_eq(e.message, "Failed to push manifest: package exists already");
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(e.quay_response, "error"), "code")),
        "package-exists");
    qs_appr_error_clear(&ae);
    omps_error_clear(&e);
    /* §F.2: a token without rights */
    ae = quay(403, "{\"error\":{\"code\":\"forbidden\",\"details\":{\"package\":\"myorg/myrepo\","
                   "\"scopes\":[\"push\"]},\"message\":\"Unauthorized access for: "
                   "myorg/myrepo\"}}");
    omps_error_push(&e, &ae);
    cr_assert_eq(e.status, 403);
    cr_assert_str_eq(e.id, "QuayAuthorizationError");
    cr_assert_str_eq(e.message, "Failed to push manifest: Unauthorized access for: myorg/myrepo");
    qs_appr_error_clear(&ae);
    omps_error_clear(&e);
    /* a body without error.message (a proxy's 503): courier's fallback text, body kept */
    ae = quay(503, "{\"errors\":[{\"code\":\"X\",\"message\":\"m\"}]}");
    omps_error_push(&e, &ae);
    cr_assert_eq(e.status, 500);
    cr_assert_str_eq(e.message, "Failed to push manifest: Failed to get error details.");
    cr_assert_not_null(json_object_get(e.quay_response, "errors"));
    qs_appr_error_clear(&ae);
    omps_error_clear(&e);
    /* Quay's 405 with a string error (courier crashed on it, #160): say it */
    ae = quay(405, "{\"error\":\"Cannot push an application to an image repository with the same "
                   "name\"}");
    omps_error_push(&e, &ae);
    cr_assert_eq(e.status, 500);
    cr_assert_str_eq(e.message, "Failed to push manifest: Cannot push an application to an image "
                                "repository with the same name");
    qs_appr_error_clear(&ae);
    omps_error_clear(&e);
    /* no answer at all, and an HTML answer */
    ae = (qs_appr_error){0};
    snprintf(ae.message, sizeof ae.message, "Couldn't connect to server");
    omps_error_push(&e, &ae);
    cr_assert_eq(e.status, 500);
    cr_assert_str_eq(e.message, "Failed to push manifest: Couldn't connect to server");
    cr_assert_eq(json_object_size(e.quay_response), 0);
    omps_error_clear(&e);
    ae = quay(502, "<html>bad gateway</html>");
    omps_error_push(&e, &ae);
    cr_assert_str_eq(e.message, "Failed to push manifest: Failed to get error details.");
    cr_assert(json_is_object(e.quay_response));
    qs_appr_error_clear(&ae);
    omps_error_clear(&e);
}

Test(omps_errors, delete_and_publish) {
    omps_error e = {0};
    qs_appr_error ae = quay(
        404, "{\"error\":{\"code\":\"package-not-found\",\"message\":\"package o/r doesn't exist, "
             "v: 9.9.9, type: helm\"}}");
    omps_error_delete(&e, &ae);
    cr_assert_eq(e.status, 404);
    cr_assert_str_eq(e.id, "QuayPackageNotFound");
    cr_assert_str_eq(e.message, "package o/r doesn't exist, v: 9.9.9, type: helm");
    qs_appr_error_clear(&ae);
    omps_error_clear(&e);
    ae = quay(403,
              "{\"error\":{\"code\":\"forbidden\",\"message\":\"Unauthorized access for: o/r\"}}");
    omps_error_delete(&e, &ae); /* the original: anything but 404 is a 500 */
    cr_assert_eq(e.status, 500);
    cr_assert_str_eq(e.id, "QuayPackageError");
    cr_assert_str_eq(e.message, "Unauthorized access for: o/r");
    qs_appr_error_clear(&ae);
    omps_error_clear(&e);
    ae = quay(500, "oops");
    omps_error_delete(&e, &ae);
    cr_assert_str_eq(e.message, "Unknown error");
    qs_appr_error_clear(&ae);
    omps_error_clear(&e);
    /* changevisibility: Quay's REST body has no error.message → "Unknown error" */
    ae = quay(403, "{\"detail\":\"Unauthorized\",\"error_type\":\"insufficient_scope\"}");
    omps_error_publish(&e, &ae);
    cr_assert_eq(e.status, 500);
    cr_assert_str_eq(e.id, "QuayPackageError");
    cr_assert_str_eq(e.message, "Unknown error");
    qs_appr_error_clear(&ae);
    omps_error_clear(&e);
}

Test(omps_errors, zip_refusals) {
    omps_error e = {0};
    zip_check_error ze = {ZIP_CHECK_ENCRYPTED, "File 'a.yaml' is encrypted, password required for "
                                               "extraction"};
    omps_error_zip(&e, &ze);
    cr_assert_eq(e.status, 400);
    cr_assert_str_eq(e.id, "OMPSUploadedFileError");
    cr_assert_str_eq(e.message, ze.message);
    omps_error_clear(&e);
    ze = (zip_check_error){ZIP_CHECK_NO_FIELD, "No field \"file\" in uploaded data"};
    omps_error_zip(&e, &ze);
    cr_assert_str_eq(e.id, "OMPSExpectedFileError");
    omps_error_clear(&e);
    ze = (zip_check_error){ZIP_CHECK_UPLOAD_TOO_LARGE, "too big"};
    omps_error_zip(&e, &ze);
    cr_assert_eq(e.status, 413);
    cr_assert_str_eq(e.id, "RequestEntityTooLarge");
    cr_assert_str_eq(e.message, "The data value transmitted exceeds the capacity limit.");
    omps_error_clear(&e);
    ze = (zip_check_error){ZIP_CHECK_IO, "disk full"};
    omps_error_zip(&e, &ze);
    cr_assert_eq(e.status, 500);
    cr_assert_str_eq(e.id, "InternalServerError");
    omps_error_clear(&e);
}

/* ---- versions ---- */

Test(omps_versions, explicit_versions) {
    static const char *const good[] = {"0.0.0", "1.0.0", "1.1.5", "10.20.30",
                                       "99999999999999999999999.0.1"};
    static const char *const bad[] = {"1",     "1.2",    "1.2.3.4", "1-5.1.0", "-1.2.3",
                                      "a.b.c", "1.01.0", "+1.0.0",  "0x1.0.0", "1.1.1a0",
                                      "",      " 1.0.0", "1.0.0\n", "01.0.0"};
    for (size_t i = 0; i < QS_ARRAY_LEN(good); i++) {
        omps_error e = {0};
        cr_assert(omps_version_check(good[i], &e), "%s", good[i]);
        cr_assert_eq(e.status, 0);
    }
    for (size_t i = 0; i < QS_ARRAY_LEN(bad); i++) {
        omps_error e = {0};
        cr_assert_not(omps_version_check(bad[i], &e), "%s", bad[i]);
        cr_assert_eq(e.status, 400);
        cr_assert_str_eq(e.id, "OMPSInvalidVersionFormat");
    }
    omps_error e = {0};
    omps_version_check("1.01.0", &e);
    cr_assert_str_eq(e.message, "Version '1.01.0' must be in format '<int>.<int>.<int>': must "
                                "match regexp "
                                "'^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)$'");
}

/* Huge numbers match the rule; a version a push would have to truncate (64 characters and
 * more) is refused instead of pushing another one; 63 characters still pass. */
Test(omps_versions, too_long_refused_not_truncated) {
    char v[80];
    memset(v, '9', sizeof v);
    memcpy(v, "1.0.", 4);
    v[QS_SEMVER_STR_MAX] = '\0';
    omps_error e = {0};
    cr_assert(omps_version_check(v, &e));
    cr_assert_eq(e.status, 0);
    v[QS_SEMVER_STR_MAX] = '9';
    v[QS_SEMVER_STR_MAX + 1] = '\0';
    cr_assert_not(omps_version_check(v, &e));
    cr_assert_eq(e.status, 400);
    cr_assert_str_eq(e.id, "OMPSInvalidVersionFormat");
    cr_assert(strstr(e.message, "is too long: at most 63 characters"), "%s", e.message);
    omps_error_clear(&e);
    cr_assert(omps_version_check("18446744073709551616.0.0", &e), "above 64 bits, short");
}

static const char listing[] =
    "[{\"name\":\"myorg/other\",\"releases\":[\"40.0.0\"]},"
    " {\"name\":\"myorg/op\",\"releases\":[\"1.9.9\",\"2.5.1\",\"2.10.0-rc\",\"bad\",\"2.4.99\"]},"
    " {\"name\":\"myorg/junk\",\"releases\":[\"latest\",\"1.0\"]},"
    " {\"name\":\"myorg/op-suffix\",\"releases\":[\"7.0.0\"]}]";

Test(omps_versions, next_over_a_listing) {
    json_t *l = json_loads(listing, 0, NULL);
    cr_assert_not_null(l);
    char v[QS_SEMVER_STR_MAX + 1], why[200] = "";
    bool dflt = true;
    omps_version_next(omps_listing_releases(l, "myorg", "op"), "myorg", "op", "1.0.0", v, &dflt,
                      why, sizeof why);
    cr_assert_str_eq(v, "3.0.0"); /* 2.5.1 is the highest valid release */
    cr_assert_not(dflt);
    omps_version_next(omps_listing_releases(l, "myorg", "new"), "myorg", "new", "0.1.0", v, &dflt,
                      why, sizeof why);
    cr_assert_str_eq(v, "0.1.0");
    cr_assert(dflt);
    cr_assert_str_eq(why, "Package myorg/new not found");
    omps_version_next(omps_listing_releases(l, "myorg", "junk"), "myorg", "junk", "1.0.0", v, &dflt,
                      why, sizeof why);
    cr_assert_str_eq(v, "1.0.0");
    cr_assert(dflt);
    cr_assert_str_eq(why, "Package myorg/junk has not valid versions uploaded");
    /* exact names: "op" is not "op-suffix", another namespace is not this one */
    cr_assert_null(omps_listing_releases(l, "other", "op"));
    cr_assert_eq(json_array_size(omps_listing_releases(l, "myorg", "op-suffix")), 1);
    json_decref(l);
}

Test(omps_versions, lock_key_per_repository) {
    char a[128], b[128];
    omps_push_lock_key("myorg", "op", a, sizeof a);
    omps_push_lock_key("myorg", "op2", b, sizeof b);
    cr_assert_str_eq(a, "omps:push-lock:myorg/op");
    cr_assert_str_neq(a, b);
}

/* Flask's jsonify sorted the keys at every level (§A.1, §F.2): the answers' text does too. */
Test(omps_errors, answers_have_sorted_keys) {
    omps_error e = {0};
    omps_error_set(&e, 500, OMPS_E_COURIER, "Failed to push manifest: %s",
                   "package exists already");
    e.quay_response = json_pack("{s:{s:s,s:s,s:{}}}", "error", "message", "package exists already",
                                "code", "package-exists", "details");
    json_t *j = body_of(&e);
    char *text = omps_json_text(j);
    cr_assert_str_eq(text, "{\"error\":\"QuayCourierError\",\"message\":\"Failed to push manifest: "
                           "package exists already\",\"quay_response\":{\"error\":{\"code\":"
                           "\"package-exists\",\"details\":{},\"message\":\"package exists "
                           "already\"}},\"status\":500}\n");
    free(text);
    json_decref(j);
    omps_error_clear(&e);
    j = json_pack("{s:s,s:s,s:[s]}", "organization", "o", "repo", "r", "deleted", "1.0.0");
    text = omps_json_text(j);
    cr_assert_str_eq(text, "{\"deleted\":[\"1.0.0\"],\"organization\":\"o\",\"repo\":\"r\"}\n");
    free(text);
    json_decref(j);
    cr_assert_null(omps_json_text(NULL));
}

/* The caller's Authorization goes to Quay as a header line: CR, LF and other control bytes
 * would add lines of the caller's choosing, so they are refused; any printable text passes. */
Test(omps_errors, authorization_values) {
    cr_assert(omps_api_auth_ok("basic dXNlcjpwYXNz"));
    cr_assert(omps_api_auth_ok("Bearer a\tb ~!\"#"));
    cr_assert(omps_api_auth_ok(""));
    cr_assert_not(omps_api_auth_ok(NULL));
    cr_assert_not(omps_api_auth_ok("tok\r\nX-Injected: 1"));
    cr_assert_not(omps_api_auth_ok("tok\nX"));
    cr_assert_not(omps_api_auth_ok("tok\rX"));
    cr_assert_not(omps_api_auth_ok("tok\x01"));
    cr_assert_not(omps_api_auth_ok("tok\x7f"));
}
