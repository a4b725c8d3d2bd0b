/* versions.c — the release of a push: OMPS's regular expression for explicit versions, and
 * "latest + 1 major" over the releases Quay lists (non-matching releases such as "1.0.1-rc"
 * are skipped, as OMPS logged and skipped them; numbers compare numerically). */
#include "omps/versions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/common.h"

bool omps_version_check(const char *version, omps_error *e) {
    if (qs_semver_valid(version) && strlen(version) <= QS_SEMVER_STR_MAX)
        return true;
    if (qs_semver_valid(version)) { /* the rule allows any length; a push must not truncate it */
        omps_error_set(e, 400, OMPS_E_VERSION,
                       "Version '%.200s' is too long: at most %d characters", version,
                       QS_SEMVER_STR_MAX);
        return false;
    }
    omps_error_set(e, 400, OMPS_E_VERSION,
                   "Version '%.200s' must be in format '<int>.<int>.<int>': must match regexp "
                   "'%s'",
                   version ? version : "", QS_SEMVER_RELEASE_REGEX);
    return false;
}

const json_t *omps_listing_releases(const json_t *listing, const char *org, const char *repo) {
    char name[600];
    snprintf(name, sizeof name, "%s/%s", org, repo);
    size_t i;
    const json_t *pkg;
    json_array_foreach(listing, i, pkg) {
        const char *n = json_string_value(json_object_get(pkg, "name"));
        if (n && strcmp(n, name) == 0) {
            const json_t *rel = json_object_get(pkg, "releases");
            return json_is_array(rel) ? rel : NULL;
        }
    }
    return NULL;
}

void omps_version_next(const json_t *releases, const char *org, const char *repo,
                       const char *default_version, char *out, bool *used_default, char *why,
                       size_t whylen) {
    *used_default = true;
    size_t n = json_array_size(releases);
    const char **strs = calloc(n + 1, sizeof *strs);
    qs_semver next;
    int rc = QS_ENOTFOUND;
    if (strs) {
        for (size_t i = 0; i < n; i++)
            strs[i] = json_string_value(json_array_get(releases, i));
        rc = qs_semver_next_release(&next, strs, n);
        free(strs);
    }
    if (rc == QS_OK && qs_semver_format(&next, out, QS_SEMVER_STR_MAX) == QS_OK) {
        *used_default = false;
        return;
    }
    if (why && whylen)
        snprintf(why, whylen,
                 releases ? "Package %s/%s has not valid versions uploaded"
                          : "Package %s/%s not found",
                 org, repo);
    snprintf(out, QS_SEMVER_STR_MAX, "%s", default_version);
}
