/* worker.h — provisioning workers: take tasks from the queue, run them, record the outcome. */
#ifndef PROV_WORKER_H
#define PROV_WORKER_H

#include <stdbool.h>
#include <stddef.h>

#include "appstudio-provisioner/provision.h"
#include "appstudio-provisioner/settings.h"
#include "appstudio-provisioner/task.h"
#include "shared/kube.h"
#include "shared/quay.h"
#include "shared/queue.h"

typedef struct prov_workers prov_workers;

/** The queue options of the settings (visibility, attempts, backoff). */
qs_queue_opts prov_queue_opts(const prov_settings *s);

/** Start PROVISIONER_WORKERS threads, each with its own Redis connection and queue consumer
 *  (`<consumer_prefix>-<i>`), plus one that refreshes the per-state gauges. NULL + message
 *  on error. */
prov_workers *prov_workers_start(const prov_settings *s, qs_quay *quay, qs_kube *kube,
                                 const char *consumer_prefix, char *err, size_t errlen);
/** Stop taking tasks; wait up to `grace_s` for runs in flight. true: everything stopped and
 *  freed. false: a run was still going, so its task was handed back to the queue for a retry
 *  and the workers were left running — the caller must not free what they borrow (the
 *  settings, the Quay and Kubernetes clients) and should exit. */
bool prov_workers_stop(prov_workers *w, double grace_s);

/** Run one task and record its outcome (exposed for tests). `q` is used for ack/fail. */
void prov_handle_task(const prov_env *env, qs_queue *q, const qs_task *task);

/** Queue a task for every record a worker still owes a run (startup: a task lost between a
 *  record's change and its enqueue is found again). Returns how many, or a negative error. */
long prov_sweep(qs_redis *r, qs_queue *q);

#endif
