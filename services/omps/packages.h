/* packages.h — deleting released operator manifests (reference/omps.md §A.9). */
#ifndef OMPS_PACKAGES_H
#define OMPS_PACKAGES_H

#include <jansson.h>

#include "omps/errors.h"
#include "omps/service.h"

/** Delete release `version` of org/repo, or every release Quay lists for it when version is
 *  NULL (in listing order; the repository itself stays). `auth` goes to Quay verbatim. 0 with
 *  *out = {"organization","repo","deleted":[...]}, else e: listing errors as for a push
 *  (QuayPackageNotFound 404 "Package org/repo not found" when Quay does not list it), then per
 *  release Quay 404 → 404 QuayPackageNotFound, anything else → 500 QuayPackageError; it stops
 *  at the first failure (earlier deletions stay done, as in the original). */
int omps_delete_releases(omps_service *svc, const char *org, const char *repo, const char *version,
                         const char *auth, json_t **out, omps_error *e);

#endif
