/* repo.h — one repository's work: in mirror mode its Quay mirror config (repo.c), in copy mode
 * its tags queued for the mirror service's workers (copymode.c). Called by the queue workers. */
#ifndef ORGM_REPO_H
#define ORGM_REPO_H

#include <stdbool.h>

#include "org-mirror/ctx.h"
#include "org-mirror/plan.h"
#include "org-mirror/task.h"
#include "shared/queue.h"

typedef struct {
    orgm_decision d;      /* what was (or, in a dry run, would be) done */
    bool decided;         /* false when a failure came before a decision */
    orgm_outcome outcome; /* created ... failed */
    char state[16];       /* the destination's state as seen; "" = absent */
    char error[600];      /* failure: what, where, Quay's message and status; never a secret */
    bool retry;           /* a failure worth trying again (5xx, 429, no answer) */
    long tags_queued;     /* copy mode: mirror tasks queued; -1 in mirror mode */
} orgm_repo_result;

/** Mirror mode: bring repository t->repository of organisation `oi` to the plan's state
 *  (reference/quay.md B.2–B.5): create it when missing, POST its mirror config when it has
 *  none (then sync-now), PUT it when it differs or RECREATE_MIRROR_CONFIG is set, leave
 *  READ_ONLY and ORG_MIRROR repositories alone. DRY_RUN reads but writes nothing. Returns 0
 *  when res->outcome is not "failed". */
int orgm_repo_mirror(orgm_ctx *c, size_t oi, const orgm_task *t, orgm_repo_result *res);

/** Copy mode: compare every source tag matching the globs with the destination registry and
 *  queue a mirror task (proto/mirror-task.schema.json) on `mirror_q` for each one that is
 *  missing or differs. DRY_RUN queues nothing. */
int orgm_repo_copy(orgm_ctx *c, size_t oi, const orgm_task *t, qs_queue *mirror_q,
                   orgm_repo_result *res);

/** Fill res->error / res->retry for a failed call: "<what> <ns>/<repo>: <Quay's message>
 *  (HTTP <status>)"; 5xx, 429 and no answer are worth a retry. Returns rc. */
int orgm_repo_fail(orgm_repo_result *res, int rc, const char *what, const char *ns,
                   const char *repo, const qs_quay_error *e);

#endif
