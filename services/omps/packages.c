/* packages.c — OMPS's delete_package_release: one release, or all releases of a repository
 * as Quay's namespace listing names them (raw strings, any format), each deleted with
 * DELETE /cnr/api/v1/packages/<org>/<repo>/<release>/helm. */
#include "omps/packages.h"

#include <stdio.h>
#include <string.h>

#include "omps/versions.h"
#include "shared/common.h"
#include "shared/log.h"
#include "shared/quay_appr.h"

/* The raw releases of org/repo (a new array), or NULL with e set. */
static json_t *list_releases(omps_service *svc, const char *org, const char *repo, const char *auth,
                             omps_error *e) {
    json_t *listing = NULL;
    qs_appr_error ae = {0};
    int rc = qs_appr_list_packages(svc->quay, svc->s->quay_url, auth, org, &listing, &ae);
    if (rc != QS_OK) {
        char url[1200];
        snprintf(url, sizeof url, "%s/cnr/api/v1/packages?namespace=%s", svc->s->quay_url, org);
        omps_error_releases(e, org, repo, url, &ae);
        qs_appr_error_clear(&ae);
        return NULL;
    }
    const json_t *rel = omps_listing_releases(listing, org, repo);
    json_t *out = NULL;
    if (rel) {
        out = json_array();
        size_t i;
        const json_t *v;
        json_array_foreach(rel, i, v) {
            if (json_is_string(v))
                json_array_append(out, (json_t *)v);
        }
    } else {
        omps_error_set(e, 404, OMPS_E_PACKAGE_NOT_FOUND, "Package %s/%s not found", org, repo);
    }
    json_decref(listing);
    return out;
}

int omps_delete_releases(omps_service *svc, const char *org, const char *repo, const char *version,
                         const char *auth, json_t **out, omps_error *e) {
    *out = NULL;
    json_t *versions = version ? json_pack("[s]", version) : list_releases(svc, org, repo, auth, e);
    if (!versions)
        return e->status ? QS_ERR : QS_ENOMEM;
    size_t i;
    json_t *v;
    json_array_foreach(versions, i, v) {
        qs_appr_error ae = {0};
        int rc = qs_appr_delete_release(svc->quay, svc->s->quay_url, auth, org, repo,
                                        json_string_value(v), "helm", &ae);
        if (rc != QS_OK) {
            omps_error_delete(e, &ae);
            qs_appr_error_clear(&ae);
            json_decref(versions);
            return rc;
        }
        qs_log(QS_LOG_INFO, "deleted release", "organization", org, "repo", repo, "version",
               json_string_value(v), NULL);
    }
    *out = json_pack("{s:s,s:s,s:o}", "organization", org, "repo", repo, "deleted", versions);
    return *out ? QS_OK : QS_ENOMEM;
}
