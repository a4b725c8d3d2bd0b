/* koji_source.c — OMPS's KojiUtil.download_manifest_archive on libshared's Koji client.
 *
 * The original let hub failures (connection errors, XML-RPC faults) escape as a bare 500
 * InternalServerError and streamed the archive without a size cap; here they are KojiError
 * and the download stops at the limit (the archive is then refused like an oversized upload,
 * and the partial file is gone). */
#include "omps/koji_source.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "shared/common.h"
#include "shared/log.h"

int omps_koji_fetch(qs_koji *k, const char *nvr, const char *path, int64_t max_bytes,
                    omps_error *e) {
    char err[512] = "";
    json_t *build = NULL;
    int rc = qs_koji_get_build(k, nvr, &build, err, sizeof err);
    if (rc == QS_ENOTFOUND) {
        omps_error_set(e, 404, OMPS_E_NVR_NOT_FOUND, "NVR not found: %s", nvr);
        return rc;
    }
    if (rc != QS_OK) {
        omps_error_set(e, 500, OMPS_E_KOJI, "%s", err[0] ? err : qs_strerror(rc));
        return rc;
    }
    const char *archive = NULL;
    bool legacy = false;
    char *url = NULL;
    if (qs_koji_archive_name(build, &archive, &legacy) != QS_OK) {
        omps_error_set(e, 400, OMPS_E_NOT_OPERATOR, "Not an operator image: %s", nvr);
        rc = QS_EINVAL;
    } else if ((rc = qs_koji_archive_url(k, build, &url, err, sizeof err)) == QS_ENOTFOUND) {
        omps_error_set(e, 500, OMPS_E_ARCHIVE_NOT_FOUND,
                       "Expected archive '%s' with manifests not found in build: %s", archive, nvr);
    } else if (rc == QS_EINVAL) {
        omps_error_set(e, 400, OMPS_E_NOT_OPERATOR, "Not an operator image: %s", nvr);
    } else if (rc != QS_OK) {
        omps_error_set(e, 500, OMPS_E_KOJI, "%s", err[0] ? err : qs_strerror(rc));
    }
    if (rc == QS_OK) {
        int64_t written = 0;
        rc = qs_koji_download(k, url, path, max_bytes, &written, err, sizeof err);
        if (rc == QS_ETOOBIG)
            omps_error_set(e, 400, OMPS_E_UPLOADED_FILE,
                           "Manifests archive of %s is larger than limit (>%lldB)", nvr,
                           (long long)max_bytes);
        else if (rc != QS_OK)
            omps_error_set(e, 500, OMPS_E_KOJI, "%s", err[0] ? err : qs_strerror(rc));
        else
            qs_log(QS_LOG_INFO, "downloaded the manifests archive from Koji", "nvr", nvr, "archive",
                   archive, "legacy", legacy ? "true" : "false", NULL);
    }
    free(url);
    json_decref(build);
    return rc;
}
