/* push.h — OMPS's push flow after the archive is extracted (reference/omps.md §A.3 steps 4–10):
 * package name, version, registry replacement, CSV annotations, courier's validation, the
 * bundle, the CNR push, publishing, and the manifests.pushed event. */
#ifndef OMPS_PUSH_H
#define OMPS_PUSH_H

#include <jansson.h>

#include "omps/errors.h"
#include "omps/service.h"
#include "omps/zip_check.h"

/** One push request. */
typedef struct {
    const char *org;     /* the URL's organization */
    const char *repo;    /* v1: the URL's repository; NULL for v2 (repository = packageName) */
    const char *version; /* the URL's version, NULL = the next one */
    const char *auth;    /* the Authorization header, sent to Quay verbatim (never logged) */
    const char *source;  /* "zipfile" or "koji" (event and logs) */
    const char *nvr;     /* koji: the build, added to the answer; else NULL */
} omps_push_req;

/** The lock key of a repository's versionless pushes: "omps:push-lock:<org>/<repo>". */
void omps_push_lock_key(const char *org, const char *repo, char *out, size_t cap);

/** Run the flow on the extracted archive z. 0 with *out the 200 body
 *  {"organization","repo","version","extracted_files"[,"nvr"]}; otherwise the error in e. The
 *  steps run in the original's order, so the same input fails with the same error. A push
 *  without a version holds the repository's Redis lock from listing the releases until Quay
 *  accepted the push, so concurrent ones get successive versions; when Redis is unreachable
 *  the push runs unserialised (logged, counted), when the lock stays taken for the whole
 *  lock TTL the answer is 503 ServiceUnavailable. */
int omps_push_extracted(omps_service *svc, const omps_push_req *pr, const zip_check_result *z,
                        json_t **out, omps_error *e);

#endif
