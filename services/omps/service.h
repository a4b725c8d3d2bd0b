/* service.h — what every omps request handler shares: the settings, the outgoing clients,
 * Redis (push lock and events), the limit on requests handled at once, and the metrics. */
#ifndef OMPS_SERVICE_H
#define OMPS_SERVICE_H

#include <semaphore.h>

#include "omps/settings.h"
#include "shared/http_client.h"
#include "shared/koji.h"
#include "shared/metrics.h"
#include "shared/redis.h"

typedef struct {
    const omps_settings *s;
    qs_http *quay;              /* Quay lists, deletes, changevisibility, Greenwave decisions:
                                   REQUEST_TIMEOUT, retries */
    qs_http *quay_push;         /* the CNR push: PUSH_TIMEOUT, one attempt (as courier) */
    qs_http *quay_health;       /* /health/ping (Quay, Greenwave): REQUEST_TIMEOUT, one attempt */
    qs_koji *koji;              /* hub calls and archive downloads */
    qs_koji *koji_health;       /* getAPIVersion for /health/ping, one attempt */
    qs_redis *redis;            /* the push lock and the event stream */
    const char *tmp_dir;        /* parent of the per-request directories; NULL = $TMPDIR or /tmp */
    sem_t workers;              /* WORKERS_NUM slots for pushes and deletes */
    qs_metric *m_pushes;        /* omps_pushes_total{source,result} */
    qs_metric *m_push_seconds;  /* omps_push_duration_seconds{source} */
    qs_metric *m_deletes;       /* omps_deletes_total{result} */
    qs_metric *m_zip_rejected;  /* omps_zip_rejected_total{reason} */
    qs_metric *m_lock_wait;     /* omps_push_lock_wait_seconds */
    qs_metric *m_lock_skipped;  /* omps_push_lock_unavailable_total */
    qs_metric *m_events_failed; /* omps_events_failed_total */
} omps_service;

/** Declare the metrics (idempotent) and fill their pointers. */
void omps_service_metrics(omps_service *svc);

/** A private directory for one request ("<tmp_dir>/omps-req-XXXXXX", mode 0700) into `out`
 *  (≥ 256 bytes). 0 or QS_ERR (errno kept). */
int omps_workdir_new(const omps_service *svc, char *out, size_t cap);
/** Remove a request's directory and everything in it (never following links). */
void omps_workdir_remove(const char *dir);

#endif
