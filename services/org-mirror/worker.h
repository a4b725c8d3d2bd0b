/* worker.h — the queue workers: each thread takes repository tasks from QUEUE_NAME and
 * reconciles them (repo.c in mirror mode, copymode.c in copy mode). */
#ifndef ORGM_WORKER_H
#define ORGM_WORKER_H

#include <stddef.h>

#include "org-mirror/ctx.h"
#include "shared/queue.h"

/** The group every org-mirror replica's workers read QUEUE_NAME with. */
#define ORGM_WORKER_GROUP "org-mirror-workers"
/** The mirror service's group on MIRROR_QUEUE (copy mode enqueues there). */
#define ORGM_MIRROR_GROUP "mirror-workers"

typedef struct orgm_workers orgm_workers;

/** The queue options of QUEUE_NAME from the settings (timeouts, attempts, backoff). */
qs_queue_opts orgm_queue_opts(const orgm_settings *s);

/** Start s->workers threads, each with its own Redis connection and queue consumer
 *  ("<consumer>-w<i>"). NULL + message when Redis' URL is unusable. */
orgm_workers *orgm_workers_start(orgm_ctx *c, const char *consumer, char *err, size_t errlen);
/** Stop taking tasks, give the ones in flight up to `grace_s` to finish, join, free. Tasks
 *  still in flight after that stay in the queue and are taken again after TASK_TIMEOUT. */
void orgm_workers_stop(orgm_workers *w, double grace_s);

/** Handle one task taken from `q` (ack or fail it, record the result): what a worker does,
 *  exposed for tests. `r` is the caller's Redis, `mirror_q` the copy-mode queue (or NULL). */
void orgm_worker_handle(orgm_ctx *c, qs_redis *r, qs_queue *q, qs_queue *mirror_q,
                        const qs_task *t);

#endif
