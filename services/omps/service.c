/* service.c — the shared parts of omps's request handling: its metrics and the private
 * per-request directory (upload, download, extraction) that is always removed afterwards. */
#include "omps/service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "omps/zip_check.h"
#include "shared/common.h"
#include "shared/log.h"

void omps_service_metrics(omps_service *svc) {
    static const double lock_buckets[] = {0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120};
    svc->m_pushes = qs_counter("omps_pushes_total",
                               "Pushes by source (zipfile, koji) and result (ok or the error id).",
                               "source,result");
    svc->m_push_seconds =
        qs_histogram("omps_push_duration_seconds", "Time of a push request, archive to Quay.",
                     "source", NULL, 0);
    svc->m_deletes = qs_counter("omps_deletes_total",
                                "Delete requests by result (ok or the error id).", "result");
    svc->m_zip_rejected = qs_counter("omps_zip_rejected_total",
                                     "Archives refused by the zip checks, by reason.", "reason");
    svc->m_lock_wait =
        qs_histogram("omps_push_lock_wait_seconds",
                     "Time a push without a version waited for its repository's lock.", NULL,
                     lock_buckets, QS_ARRAY_LEN(lock_buckets));
    svc->m_lock_skipped = qs_counter("omps_push_lock_unavailable_total",
                                     "Pushes without a version that ran unserialised because Redis "
                                     "was unreachable.",
                                     NULL);
    svc->m_events_failed = qs_counter("omps_events_failed_total",
                                      "manifests.pushed events that could not be published.", NULL);
}

int omps_workdir_new(const omps_service *svc, char *out, size_t cap) {
    const char *base = svc->tmp_dir ? svc->tmp_dir : getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    int n = snprintf(out, cap, "%s/omps-req-XXXXXX", base);
    if (n < 0 || (size_t)n >= cap) {
        errno = ENAMETOOLONG;
        return QS_ERR;
    }
    return mkdtemp(out) ? QS_OK : QS_ERR;
}

void omps_workdir_remove(const char *dir) {
    if (dir && *dir && zip_check_remove_tree(dir) != 0)
        qs_log(QS_LOG_ERROR, "cannot remove a request directory", "dir", dir, NULL);
}
