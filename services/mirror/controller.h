/* controller.h — finds images whose destination digest differs from the source's and queues
 * mirror tasks for them, every SYNC_INTERVAL and whenever MIRROR_CONFIG changes. */
#ifndef MIRROR_CONTROLLER_H
#define MIRROR_CONTROLLER_H

#include <stddef.h>

#include "mirror/registries.h"
#include "mirror/settings.h"
#include "shared/kube.h"
#include "shared/queue.h"

typedef struct {
    size_t wanted;     /* images the sources want */
    size_t in_sync;    /* destination digest equals the source's */
    size_t queued;     /* tasks enqueued (added or replaced) */
    size_t missing;    /* source image not found: skipped */
    size_t refused;    /* source not mirrorable (schema 1): skipped with its reason */
    size_t errors;     /* could not compare (registry unavailable, bad reference) */
    int config_errors; /* MIRROR_CONFIG problems (the previous good config is kept) */
} mirror_sync_stats;

typedef struct mirror_controller mirror_controller;

/** `kube` may be NULL (no image stream sources). */
mirror_controller *mirror_controller_new(const mirror_settings *s, mirror_registries *regs,
                                         qs_kube *kube, qs_queue *queue);
void mirror_controller_free(mirror_controller *c);
/** One full pass: load/refresh the config, collect wants, compare, enqueue. */
int mirror_controller_sync(mirror_controller *c, mirror_sync_stats *st);
/** Run passes in a background thread until shutdown. */
int mirror_controller_start(mirror_controller *c);
void mirror_controller_stop(mirror_controller *c);
/** Did the last pass complete (for /readyz)? */
bool mirror_controller_healthy(mirror_controller *c);

#endif
