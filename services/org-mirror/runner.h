/* runner.h — a run of one organisation: list, verify, queue one task per repository, wait for
 * their results, and publish the organisation's status. */
#ifndef ORGM_RUNNER_H
#define ORGM_RUNNER_H

#include <stdbool.h>
#include <stddef.h>

#include "org-mirror/ctx.h"

typedef struct orgm_runner orgm_runner;

typedef struct {
    bool failed;     /* the organisation failed (its listing/checks, or a repository) */
    bool skipped;    /* not run: another process or thread is running it */
    char error[600]; /* the organisation's last_error, "" when none */
} orgm_run_summary;

orgm_runner *orgm_runner_new(orgm_ctx *c);
/** Waits for background runs first. */
void orgm_runner_free(orgm_runner *r);

/** Run organisation `oi` in the calling thread until its repositories are done (or
 *  RUN_TIMEOUT, or shutdown). `why` ("schedule", "api", "once") is logged. 0 when the run
 *  happened (see out->failed), QS_ECONFLICT when a run of it is in progress here or in
 *  another replica, QS_EUNAVAIL when Redis is unreachable. */
int orgm_run(orgm_runner *r, size_t oi, const char *why, orgm_run_summary *out);
/** The same in a background thread. 0 started, QS_ECONFLICT already running in this process. */
int orgm_run_async(orgm_runner *r, size_t oi, const char *why);
/** Is a run of `oi` in progress in this process? */
bool orgm_runner_busy(orgm_runner *r, size_t oi);
/** Every organisation at once (threads), for --once: the number that failed or could not run. */
size_t orgm_run_all(orgm_runner *r, const char *why);

#endif
