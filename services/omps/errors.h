/* errors.h — OMPS's error answers (reference/omps.md §A.13): the body
 * {"status": N, "error": "<id>", "message": "..."} plus `validation_info` (PackageValidationError)
 * or `quay_response` (QuayAuthorizationError, QuayCourierError) or `greenwave_response`
 * (GreenwaveError, GreenwaveUnsatisfiedError) where the original has them,
 * and the mapping of every failure of a step (Quay's answers, courier's checks, zip checks,
 * Koji) onto the original's ids, statuses and messages. Pure: no I/O. */
#ifndef OMPS_ERRORS_H
#define OMPS_ERRORS_H

#include <jansson.h>
#include <stddef.h>

#include "omps/zip_check.h"
#include "shared/buf.h"
#include "shared/quay_appr.h"

/* The ids (class names of omps/errors.py and werkzeug's exceptions). */
#define OMPS_E_UPLOADED_FILE "OMPSUploadedFileError"
#define OMPS_E_EXPECTED_FILE "OMPSExpectedFileError"
#define OMPS_E_VALIDATION "PackageValidationError"
#define OMPS_E_VERSION "OMPSInvalidVersionFormat"
#define OMPS_E_NOT_OPERATOR "KojiNotAnOperatorImage"
#define OMPS_E_AUTH_HEADER "OMPSAuthorizationHeaderRequired"
#define OMPS_E_QUAY_AUTH "QuayAuthorizationError"
#define OMPS_E_PACKAGE_NOT_FOUND "QuayPackageNotFound"
#define OMPS_E_NVR_NOT_FOUND "KojiNVRBuildNotFound"
#define OMPS_E_COURIER "QuayCourierError"
#define OMPS_E_PACKAGE "QuayPackageError"
#define OMPS_E_ARCHIVE_NOT_FOUND "KojiManifestsArchiveNotFound"
#define OMPS_E_KOJI "KojiError"
#define OMPS_E_GREENWAVE "GreenwaveError"
#define OMPS_E_GREENWAVE_UNSATISFIED "GreenwaveUnsatisfiedError"
#define OMPS_E_BAD_REQUEST "BadRequest"
#define OMPS_E_INTERNAL "InternalServerError"
#define OMPS_E_UNAVAILABLE "ServiceUnavailable"

#define OMPS_ERROR_MSG_MAX 1024

/** One error answer. Zero it before use; omps_error_clear releases it. */
typedef struct {
    int status;     /* 0 while there is no error */
    const char *id; /* one of the ids above (static) */
    char message[OMPS_ERROR_MSG_MAX];
    json_t *validation_info;    /* owned; PackageValidationError only (always an object) */
    json_t *quay_response;      /* owned; QuayAuthorizationError / QuayCourierError */
    json_t *greenwave_response; /* owned; GreenwaveError / GreenwaveUnsatisfiedError */
} omps_error;

/** Set status, id and a printf message (replacing an earlier error). */
void omps_error_set(omps_error *e, int status, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void omps_error_clear(omps_error *e);
/** The answer body: status, error, message and the extras (a new object). */
json_t *omps_error_json(const omps_error *e);
/** `j` as the text of every omps answer: compact, keys sorted at every level as Flask's jsonify
 *  (JSON_SORT_KEYS) writes them, ending in a newline; malloc'd, NULL when out of memory. */
char *omps_json_text(const json_t *j);

/** The server's error formatter (404, 405, 413 and other answers made outside the handlers) in
 *  OMPS's shape, with werkzeug's ids: NotFound, MethodNotAllowed, RequestEntityTooLarge
 *  ("The data value transmitted exceeds the capacity limit."), BadRequest, ... */
const char *omps_error_format(int status, const char *code, const char *message, qs_buf *out);

/** Python requests' raise_for_status text: "503 Server Error: Service Unavailable for url: U"
 *  (or the transport error when status is 0). */
void omps_http_error_text(long status, const char *message, const char *url, char *out, size_t cap);

/** Listing the releases failed (get_releases_raw, §A.6): Quay 403 → 403 QuayAuthorizationError
 *  with quay_response; anything else → 500 QuayPackageError; message
 *  "Cannot retrieve information about package <org>/<repo>: <requests' text>". */
void omps_error_releases(omps_error *e, const char *org, const char *repo, const char *url,
                         const qs_appr_error *ae);
/** The CNR push failed (courier, §A.8, §B.5): 403 → 403 QuayAuthorizationError, else 500
 *  QuayCourierError; message "Failed to push manifest: " + Quay's error.message (or "Failed to
 *  get error details.", or the transport error); quay_response = Quay's JSON or {}. */
void omps_error_push(omps_error *e, const qs_appr_error *ae);
/** A DELETE of one release failed (§A.9): 404 → 404 QuayPackageNotFound, else 500
 *  QuayPackageError; message = Quay's error.message, else "Unknown error" (or the transport
 *  error). */
void omps_error_delete(omps_error *e, const qs_appr_error *ae);
/** changevisibility failed (§A.8): 500 QuayPackageError with the same message rule. */
void omps_error_publish(omps_error *e, const qs_appr_error *ae);
/** A refused zip (zip_check): its id and status, the check's message. */
void omps_error_zip(omps_error *e, const zip_check_error *ze);

#endif
