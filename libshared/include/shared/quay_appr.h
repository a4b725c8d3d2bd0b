/* quay_appr.h — a small client of Quay's App Registry (CNR) API and repository visibility.
 *
 * What OMPS needs from quay.io: list the packages of a namespace (and so the releases of one
 * package), show a package's releases, push a release (the blob already base64 text of a
 * tar.gz), delete one release, and make a repository public or private. Every call takes the
 * base URL ("https://quay.io"), the Authorization header value to send verbatim (OMPS
 * forwards its caller's; changevisibility wants "Bearer <oauth token>") and a shared qs_http
 * (whose retries apply: 5xx/429 are tried again). The Authorization value is never logged.
 *
 * Errors: a non-2xx answer fills a qs_appr_error with the status and one message taken from
 * whichever of Quay's error shapes came back — the CNR {"error":{"code","message","details"}},
 * or the REST v1 body's detail → error_message → message → error, or a registry v2
 * {"errors":[{"code","message"}]} (what a proxy in front may send) — else the HTTP reason;
 * `code` is the CNR code ("package-exists") or REST error_type ("insufficient_scope"), and
 * `body` the parsed JSON (OMPS returns it as quay_response). */
#ifndef QS_QUAY_APPR_H
#define QS_QUAY_APPR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "shared/http_client.h"

typedef struct {
    long status;       /* HTTP status; 0 when no response arrived (transport error) */
    char code[64];     /* CNR error code or REST error_type; "" when the body had none */
    char message[512]; /* the one message (transport error text when status == 0) */
    json_t *body;      /* the error body when it was JSON, else NULL (owned; see below) */
} qs_appr_error;

/** Release what an error holds (body) and clear it. Safe on a zeroed or cleared error. */
void qs_appr_error_clear(qs_appr_error *e);

/** Fill `e` from a response: status, and code/message from `body` (len bytes, may be NULL)
 *  by the rule above. Pure apart from allocating e->body. */
void qs_appr_parse_error(long status, const char *body, size_t len, qs_appr_error *e);

/* Every call returns 0 on a 2xx answer, else fills *err (when not NULL; clear it afterwards)
 * and returns by status: 400/422 QS_EINVAL, 401 QS_EAUTH, 403 QS_EDENIED, 404 QS_ENOTFOUND,
 * 409 QS_EEXISTS, 5xx or no answer QS_EUNAVAIL, anything else or an unreadable 2xx body
 * QS_EPROTO. `auth` may be NULL (anonymous). */

/** GET /cnr/version → the "cnr-api" string into out. */
int qs_appr_version(qs_http *h, const char *base, char *out, size_t outlen, qs_appr_error *err);

/** GET /cnr/api/v1/packages?namespace=ns → *out = the JSON array of package summaries. */
int qs_appr_list_packages(qs_http *h, const char *base, const char *auth, const char *ns,
                          json_t **out, qs_appr_error *err);

/** The releases of ns/pkg from the namespace listing (as OMPS reads them), highest first, as a
 *  JSON array of strings in *out. A package absent from the listing → QS_ENOTFOUND with
 *  err->status 404 and message "Package <ns>/<pkg> not found". */
int qs_appr_list_releases(qs_http *h, const char *base, const char *auth, const char *ns,
                          const char *pkg, json_t **out, qs_appr_error *err);

/** GET /cnr/api/v1/packages/ns/pkg → *out = the JSON array of release objects. */
int qs_appr_show_package(qs_http *h, const char *base, const char *auth, const char *ns,
                         const char *pkg, json_t **out, qs_appr_error *err);

/** POST /cnr/api/v1/packages/ns/pkg {"blob","release","media_type"}; media_type NULL = "helm". */
int qs_appr_push(qs_http *h, const char *base, const char *auth, const char *ns, const char *pkg,
                 const char *release, const char *media_type, const char *blob_b64,
                 qs_appr_error *err);

/** DELETE /cnr/api/v1/packages/ns/pkg/release/media_type; media_type NULL = "helm". */
int qs_appr_delete_release(qs_http *h, const char *base, const char *auth, const char *ns,
                           const char *pkg, const char *release, const char *media_type,
                           qs_appr_error *err);

/** POST /api/v1/repository/ns/repo/changevisibility {"visibility":"public"|"private"}. */
int qs_appr_set_visibility(qs_http *h, const char *base, const char *auth, const char *ns,
                           const char *repo, bool public_, qs_appr_error *err);

#endif
