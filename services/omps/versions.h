/* versions.h — which release a push gets (reference/omps.md §A.6): an explicit version must
 * match OMPS's rule; without one, the highest valid release of the repository in Quay's
 * namespace listing plus one major, or DEFAULT_RELEASE_VERSION for a package Quay does not
 * list (or lists without a valid release). Pure. */
#ifndef OMPS_VERSIONS_H
#define OMPS_VERSIONS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "omps/errors.h"
#include "shared/semver.h"

/** An explicit version from the URL: true when it matches QS_SEMVER_RELEASE_REGEX, else false
 *  with 400 OMPSInvalidVersionFormat "Version '<v>' must be in format '<int>.<int>.<int>':
 *  must match regexp '<regex>'" in e; a matching version longer than QS_SEMVER_STR_MAX
 *  characters (huge numbers) is refused too (400, "Version '<v>' is too long: ..."). */
bool omps_version_check(const char *version, omps_error *e);

/** The `releases` array of "<org>/<repo>" in a namespace listing (GET /cnr/api/v1/packages?
 *  namespace=<org>: an array of {"name","releases",...}), or NULL when it is not listed. */
const json_t *omps_listing_releases(const json_t *listing, const char *org, const char *repo);

/** The version for a push without one: from `releases` (strings; NULL = the package is not
 *  listed) the highest valid release plus one major, written to out (QS_SEMVER_STR_MAX bytes);
 *  else `default_version`, with *used_default set and `why` (may be NULL, ≥ 160 bytes) saying
 *  why ("Package org/repo not found", "Package org/repo has not valid versions uploaded"). */
void omps_version_next(const json_t *releases, const char *org, const char *repo,
                       const char *default_version, char *out, bool *used_default, char *why,
                       size_t whylen);

#endif
