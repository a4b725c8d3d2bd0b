/* plan.h — what to do with one repository, decided from what the destination has, and the
 * record of what was done (the plan served by GET /api/v1/orgs/<org>/plan). Pure. */
#ifndef ORGM_PLAN_H
#define ORGM_PLAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "org-mirror/mirrorcfg.h"

typedef enum {
    ORGM_ACT_CREATE = 0, /* repository missing: create it, then configure its mirror */
    ORGM_ACT_CONFIGURE,  /* repository without a mirror config: POST one */
    ORGM_ACT_UPDATE,     /* config differs (or RECREATE_MIRROR_CONFIG): PUT it */
    ORGM_ACT_UNCHANGED,  /* nothing to do */
    ORGM_ACT_SKIP,       /* READ_ONLY / ORG_MIRROR repository: reported, not touched */
    ORGM_ACT__N
} orgm_action;

typedef enum {
    ORGM_OUT_CREATED = 0,
    ORGM_OUT_CONFIGURED,
    ORGM_OUT_UPDATED,
    ORGM_OUT_UNCHANGED,
    ORGM_OUT_SKIPPED,
    ORGM_OUT_FAILED,
    ORGM_OUT__N
} orgm_outcome;

typedef struct {
    orgm_action action;
    const char *reason;                        /* why (skip), static text */
    const char *changes[ORGM_MAX_CHANGES + 2]; /* fields that differ (update) */
    size_t nchanges;
    bool set_state;      /* also PUT changestate MIRROR (a config on a NORMAL repository) */
    bool set_visibility; /* also POST changevisibility */
} orgm_decision;

/** "create", "configure", "update", "unchanged", "skip". */
const char *orgm_action_name(orgm_action a);
/** "created", "configured", "updated", "unchanged", "skipped", "failed". */
const char *orgm_outcome_name(orgm_outcome o);
/** The outcome of an action carried out (create → created, ...). */
orgm_outcome orgm_outcome_of(orgm_action a);
/** Parse an outcome name; ORGM_OUT__N when unknown. */
orgm_outcome orgm_outcome_parse(const char *s);

/** Step 1, from the destination repository's `state` (NULL = the repository is absent):
 *  absent → create; READ_ONLY or ORG_MIRROR → skip. Returns true when that is the decision,
 *  false when the mirror config decides (step 2). */
bool orgm_decide_by_state(const char *state, orgm_decision *d);
/** Step 2, from the mirror config the repository has (`current`, NULL = none): none →
 *  configure; `recreate` → update (every field); else update when orgm_mirror_diff finds a
 *  difference, unchanged otherwise. A config on a repository not in MIRROR state also
 *  needs the state set (Quay's worker only syncs MIRROR repositories). */
void orgm_decide_by_config(const char *state, const json_t *current, const orgm_mirror_want *w,
                           bool recreate, orgm_decision *d);
/** Visibility set explicitly in the config (`want_set`) and different from the repository's
 *  (`is_public`: 1, 0, or -1 unknown): adds the "visibility" change (unchanged → update).
 *  Repositories created by this run get it at creation. */
void orgm_decide_visibility(bool want_set, bool want_public, int is_public, orgm_decision *d);

/** One repository's record: {"repository","action","outcome","state","changes":[...],
 *  "error"?,"tags_queued"?,"gen","at"} (at = ms since the epoch). `state` NULL = "absent";
 *  `d` NULL when no decision was reached (a failure before it); `tags_queued` < 0 = omitted.
 *  New reference, NULL on ENOMEM. */
json_t *orgm_result_json(const char *repository, long long gen, const orgm_decision *d,
                         orgm_outcome outcome, const char *state, const char *error,
                         long tags_queued, long long at_ms);

/** Counts per outcome. */
typedef struct {
    long n[ORGM_OUT__N];
} orgm_counts;

/** Add one record (its "outcome"). Unknown outcomes are ignored. */
void orgm_counts_add(orgm_counts *c, const json_t *result);

#endif
