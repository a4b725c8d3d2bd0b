/* plan.c — the decision table for one repository, as the reference script had it (reference/
 * quay.md Part C: absent → create then POST; MIRROR → leave it unless RECREATE) and completed
 * where it was silent or wrong:
 *
 *   destination state     mirror config          action
 *   absent                —                      create (repository, config, sync-now)
 *   READ_ONLY, ORG_MIRROR —                      skip (reported; an org-level mirror or an
 *                                                operator owns it)
 *   NORMAL, MIRROR        none                   configure (POST, sync-now)
 *   NORMAL, MIRROR        differs / RECREATE     update (PUT; NORMAL → changestate MIRROR)
 *   MIRROR                same                   unchanged
 *   NORMAL                same                   update (changestate MIRROR only)
 *
 * "same" is orgm_mirror_diff: every field we control, except the two Quay cannot show us. A
 * dry run reaches the same decisions through the same reads, so its plan is what a real run
 * would do. */
#include "org-mirror/plan.h"

#include <string.h>

static const char *const action_names[ORGM_ACT__N] = {"create", "configure", "update", "unchanged",
                                                      "skip"};
static const char *const outcome_names[ORGM_OUT__N] = {"created",   "configured", "updated",
                                                       "unchanged", "skipped",    "failed"};

const char *orgm_action_name(orgm_action a) {
    return a >= 0 && a < ORGM_ACT__N ? action_names[a] : "unknown";
}

const char *orgm_outcome_name(orgm_outcome o) {
    return o >= 0 && o < ORGM_OUT__N ? outcome_names[o] : "unknown";
}

orgm_outcome orgm_outcome_of(orgm_action a) {
    static const orgm_outcome map[ORGM_ACT__N] = {ORGM_OUT_CREATED, ORGM_OUT_CONFIGURED,
                                                  ORGM_OUT_UPDATED, ORGM_OUT_UNCHANGED,
                                                  ORGM_OUT_SKIPPED};
    return a >= 0 && a < ORGM_ACT__N ? map[a] : ORGM_OUT_FAILED;
}

orgm_outcome orgm_outcome_parse(const char *s) {
    for (int i = 0; s && i < ORGM_OUT__N; i++)
        if (strcmp(s, outcome_names[i]) == 0)
            return (orgm_outcome)i;
    return ORGM_OUT__N;
}

bool orgm_decide_by_state(const char *state, orgm_decision *d) {
    memset(d, 0, sizeof *d);
    if (!state) {
        d->action = ORGM_ACT_CREATE;
        return true;
    }
    if (strcmp(state, "READ_ONLY") == 0 || strcmp(state, "ORG_MIRROR") == 0) {
        d->action = ORGM_ACT_SKIP;
        d->reason = strcmp(state, "READ_ONLY") == 0
                        ? "the destination repository is READ_ONLY: not touched"
                        : "the destination repository is managed by organization-level "
                          "mirroring (ORG_MIRROR): not touched";
        return true;
    }
    d->action = ORGM_ACT_UNCHANGED;
    return false;
}

void orgm_decide_by_config(const char *state, const json_t *current, const orgm_mirror_want *w,
                           bool recreate, orgm_decision *d) {
    memset(d, 0, sizeof *d);
    bool mirror_state = state && strcmp(state, "MIRROR") == 0;
    if (!current) {
        d->action = ORGM_ACT_CONFIGURE; /* POST sets the state MIRROR itself */
        return;
    }
    orgm_mirror_diff(current, w, d->changes, &d->nchanges);
    if (recreate && d->nchanges == 0)
        d->changes[d->nchanges++] = "recreate";
    if (!mirror_state) {
        d->set_state = true;
        d->changes[d->nchanges++] = "state";
    }
    d->action = d->nchanges ? ORGM_ACT_UPDATE : ORGM_ACT_UNCHANGED;
}

void orgm_decide_visibility(bool want_set, bool want_public, int is_public, orgm_decision *d) {
    if (!want_set || is_public < 0 || (is_public != 0) == want_public)
        return;
    if (d->action != ORGM_ACT_UNCHANGED && d->action != ORGM_ACT_UPDATE &&
        d->action != ORGM_ACT_CONFIGURE)
        return; /* created with it, or skipped */
    d->set_visibility = true;
    d->changes[d->nchanges++] = "visibility";
    if (d->action == ORGM_ACT_UNCHANGED)
        d->action = ORGM_ACT_UPDATE;
}

json_t *orgm_result_json(const char *repository, long long gen, const orgm_decision *d,
                         orgm_outcome outcome, const char *state, const char *error,
                         long tags_queued, long long at_ms) {
    json_t *changes = json_array();
    for (size_t i = 0; d && changes && i < d->nchanges; i++)
        json_array_append_new(changes, json_string(d->changes[i]));
    json_t *o = json_pack("{s:s,s:o,s:s,s:s,s:o,s:I,s:I}", "repository", repository, "action",
                          d ? json_string(orgm_action_name(d->action)) : json_null(), "outcome",
                          orgm_outcome_name(outcome), "state", state ? state : "absent", "changes",
                          changes, "gen", (json_int_t)gen, "at", (json_int_t)at_ms);
    if (o && error)
        json_object_set_new(o, "error", json_string(error));
    if (o && d && d->reason)
        json_object_set_new(o, "reason", json_string(d->reason));
    if (o && tags_queued >= 0)
        json_object_set_new(o, "tags_queued", json_integer(tags_queued));
    return o;
}

void orgm_counts_add(orgm_counts *c, const json_t *result) {
    orgm_outcome o = orgm_outcome_parse(json_string_value(json_object_get(result, "outcome")));
    if (o < ORGM_OUT__N)
        c->n[o]++;
}
