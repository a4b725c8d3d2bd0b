/* scheduler.h — periodic runs per organisation, and repository.created events. */
#ifndef ORGM_SCHEDULER_H
#define ORGM_SCHEDULER_H

#include <stdbool.h>

#include "org-mirror/ctx.h"
#include "org-mirror/runner.h"

typedef struct orgm_scheduler orgm_scheduler;

/** Start the periodic thread and the event listener (`consumer` names this replica in the
 *  event group). NULL on failure. */
orgm_scheduler *orgm_scheduler_start(orgm_ctx *c, orgm_runner *runner, const char *consumer);
/** Stop both threads (runs already started go on in the runner). */
void orgm_scheduler_stop(orgm_scheduler *s);
/** Does an event's "quay" (host[:port], optionally with a scheme and path) name `host`? */
bool orgm_event_host_matches(const char *quay, const char *host);

#endif
