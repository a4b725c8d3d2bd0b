/* worker.h — copy workers: take mirror tasks from the queue and copy the images. */
#ifndef MIRROR_WORKER_H
#define MIRROR_WORKER_H

#include "mirror/registries.h"
#include "mirror/settings.h"
#include "mirror/task.h"
#include "shared/copy.h"

typedef struct mirror_workers mirror_workers;

/** Start MIRROR_WORKERS threads, each with its own Redis connection and queue consumer
 *  (`<consumer_prefix>-<i>`). NULL + message on error. */
mirror_workers *mirror_workers_start(const mirror_settings *s, mirror_registries *regs,
                                     const char *consumer_prefix, char *err, size_t errlen);
/** Stop taking tasks and wait up to `grace_s` for copies in flight. True when every worker
 *  finished (and was freed); false when copies still run and were abandoned (their tasks are
 *  reclaimed by another worker later): the caller must not free what they use (registries,
 *  HTTP pool) and should exit. */
bool mirror_workers_stop(mirror_workers *w, double grace_s);

/** Mirror one task (exposed for tests): backup tag, copy, date tag. 0 or an error code with
 *  `res->error` set; *permanent tells whether retrying cannot help. */
int mirror_execute(const mirror_settings *s, mirror_registries *regs, const mirror_task *t,
                   qs_copy_result *res, bool *permanent);

#endif
