/* repo.c — one repository in mirror mode: the calls behind plan.c's decision table.
 *
 * The destination's state comes from the run's listing (the task's hint) or, when the task has
 * none (an event, a retry), from GET .../repository/ns/repo. Then, at most:
 *   create   POST /repository (private unless configured; "already exists" → read its state
 *            and decide again: another worker, an event or a person was faster)
 *   mirror   GET .../mirror → POST (none; 409 → GET again, as above) or PUT (differs) with the
 *            whole body (mirrorcfg.c); changestate MIRROR for a config on a NORMAL repository;
 *            changevisibility when a configured visibility differs
 *   sync-now after a POST, so a new mirror does not wait for its first interval
 * Every write is skipped in DRY_RUN; the reads still happen, so the plan is exact.
 * Failures name the step, the repository and Quay's own message; 5xx, 429 and transport
 * errors (already retried by the HTTP client) are marked for the queue's retry with backoff,
 * anything else (a refused token, a missing robot, a bad request) fails the repository at once.
 * The password is only ever in the request body, which neither the client nor this file logs. */
#include "org-mirror/repo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shared/common.h"
#include "shared/log.h"

int orgm_repo_fail(orgm_repo_result *res, int rc, const char *what, const char *ns,
                   const char *repo, const qs_quay_error *e) {
    res->outcome = ORGM_OUT_FAILED;
    res->retry = rc == QS_EUNAVAIL || (e && (e->status == 429 || e->status >= 500));
    if (e && e->status)
        snprintf(res->error, sizeof res->error, "%s %s/%s: %.300s (HTTP %ld)", what, ns, repo,
                 e->message[0] ? e->message : qs_strerror(rc), e->status);
    else
        snprintf(res->error, sizeof res->error, "%s %s/%s: %.300s", what, ns, repo,
                 e && e->message[0] ? e->message : qs_strerror(rc));
    return rc ? rc : QS_ERR;
}

/* The repository's state (and visibility) at the destination: 0 (res->state "" when absent). */
static int read_state(qs_quay *dst, const char *ns, const char *repo, orgm_repo_result *res,
                      int *is_public) {
    json_t *r = NULL;
    qs_quay_error e = {0};
    int rc = qs_quay_repo_get(dst, ns, repo, &r, &e);
    if (rc == QS_ENOTFOUND) {
        res->state[0] = '\0';
        return QS_OK;
    }
    if (rc != QS_OK)
        return orgm_repo_fail(res, rc, "reading destination repository", ns, repo, &e);
    const char *st = json_string_value(json_object_get(r, "state"));
    snprintf(res->state, sizeof res->state, "%s", st ? st : "NORMAL");
    const json_t *pub = json_object_get(r, "is_public");
    *is_public = json_is_boolean(pub) ? json_is_true(pub) : -1;
    json_decref(r);
    return QS_OK;
}

/* POST the config, then sync-now. QS_ECONFLICT when the repository already has one. */
static int configure(qs_quay *dst, const char *ns, const char *repo, const json_t *body,
                     orgm_repo_result *res) {
    qs_quay_error e = {0};
    int rc = qs_quay_mirror_create(dst, ns, repo, body, &e);
    if (rc == QS_ECONFLICT)
        return rc;
    if (rc != QS_OK)
        return orgm_repo_fail(res, rc, "creating the mirror config of", ns, repo, &e);
    memset(&e, 0, sizeof e);
    rc = qs_quay_mirror_sync_now(dst, ns, repo, &e);
    if (rc != QS_OK && rc != QS_ENOTFOUND) /* 404: already syncing */
        qs_log(QS_LOG_WARN, "sync-now refused", "repository", repo, "org", ns, "error", e.message,
               NULL);
    return QS_OK;
}

/* PUT / changestate / changevisibility as the decision says. */
static int update(const orgm_org *o, qs_quay *dst, const char *repo, const json_t *body,
                  orgm_repo_result *res) {
    const orgm_decision *d = &res->d;
    const char *ns = o->destination;
    qs_quay_error e = {0};
    size_t extra = (size_t)d->set_state + (size_t)d->set_visibility;
    int rc = QS_OK;
    if (d->nchanges > extra && (rc = qs_quay_mirror_update(dst, ns, repo, body, &e)) != QS_OK)
        return orgm_repo_fail(res, rc, "updating the mirror config of", ns, repo, &e);
    if (d->set_state && (rc = qs_quay_repo_set_state(dst, ns, repo, "MIRROR", &e)) != QS_OK)
        return orgm_repo_fail(res, rc, "setting state MIRROR on", ns, repo, &e);
    if (d->set_visibility && (rc = qs_quay_repo_set_visibility(
                                  dst, ns, repo, o->visibility == ORGM_VIS_PUBLIC, &e)) != QS_OK)
        return orgm_repo_fail(res, rc, "changing the visibility of", ns, repo, &e);
    return QS_OK;
}

/* The decision for an existing repository, from its mirror config. A task's `recreate` (the
 * source account changed) rewrites it as RECREATE_MIRROR_CONFIG would, named for its cause. */
static int decide_existing(orgm_ctx *c, const orgm_org *o, qs_quay *dst, const orgm_task *t,
                           const orgm_mirror_want *w, int is_public, orgm_repo_result *res) {
    const char *repo = t->repository;
    json_t *cur = NULL;
    qs_quay_error e = {0};
    int rc = qs_quay_mirror_get(dst, o->destination, repo, &cur, &e);
    if (rc != QS_OK && rc != QS_ENOTFOUND)
        return orgm_repo_fail(res, rc, "reading the mirror config of", o->destination, repo, &e);
    orgm_decide_by_config(res->state, rc == QS_OK ? cur : NULL, w, c->s->recreate || t->recreate,
                          &res->d);
    for (size_t i = 0; t->recreate && !c->s->recreate && i < res->d.nchanges; i++)
        if (strcmp(res->d.changes[i], "recreate") == 0)
            res->d.changes[i] = "source_account";
    orgm_decide_visibility(o->visibility_set, o->visibility == ORGM_VIS_PUBLIC, is_public, &res->d);
    res->decided = true;
    json_decref(cur);
    return QS_OK;
}

/* Create / configure / update as decided (not in a dry run). `again` is set when Quay says the
 * listing was out of date (the repository or its config appeared meanwhile). */
static int apply(orgm_ctx *c, const orgm_org *o, qs_quay *dst, const char *repo, const json_t *body,
                 orgm_repo_result *res, bool *again) {
    const char *ns = o->destination;
    qs_quay_error e = {0};
    int rc = QS_OK;
    *again = false;
    switch (res->d.action) {
    case ORGM_ACT_CREATE: {
        char desc[800];
        snprintf(desc, sizeof desc, "Mirrored from %s/%s/%s", c->s->source.host, o->name, repo);
        rc = qs_quay_repo_create(dst, ns, repo, o->visibility == ORGM_VIS_PUBLIC, desc, &e);
        if (rc == QS_EEXISTS) {
            *again = true;
            return QS_OK;
        }
        if (rc != QS_OK)
            return orgm_repo_fail(res, rc, "creating destination repository", ns, repo, &e);
        rc = configure(dst, ns, repo, body, res);
        break;
    }
    case ORGM_ACT_CONFIGURE:
        rc = configure(dst, ns, repo, body, res);
        if (rc == QS_OK && res->d.set_visibility)
            rc = update(o, dst, repo, body, res);
        break;
    case ORGM_ACT_UPDATE:
        rc = update(o, dst, repo, body, res);
        break;
    default:
        break;
    }
    if (rc == QS_ECONFLICT) { /* a config appeared since it was read */
        *again = true;
        return QS_OK;
    }
    return rc;
}

int orgm_repo_mirror(orgm_ctx *c, size_t oi, const orgm_task *t, orgm_repo_result *res) {
    memset(res, 0, sizeof *res);
    res->tags_queued = -1;
    const orgm_org *o = &c->s->orgs.v[oi];
    qs_quay *dst = c->dst[oi];
    const char *repo = t->repository;
    char robot[600], err[300];
    if (orgm_ctx_robot(c, oi, robot, sizeof robot, err, sizeof err) != QS_OK) {
        res->outcome = ORGM_OUT_FAILED;
        snprintf(res->error, sizeof res->error, "%s", err);
        return QS_EINVAL;
    }
    char *user = NULL, *pass = NULL;
    if (orgm_ctx_source_account(c, &user, &pass) != QS_OK) {
        res->outcome = ORGM_OUT_FAILED;
        snprintf(res->error, sizeof res->error,
                 "the source account (QUAY_USERNAME_FILE / QUAY_PASSWORD_FILE) is unreadable");
        return QS_EINVAL;
    }
    orgm_mirror_want w = {c->s->source.host,
                          o->name,
                          repo,
                          user,
                          pass,
                          o->interval,
                          robot,
                          &o->globs,
                          c->s->verify_tls,
                          c->s->skopeo_timeout,
                          time(NULL)};
    json_t *body = orgm_mirror_config(&w);
    int is_public = t->is_public, rc = body ? QS_OK : QS_ENOMEM;
    bool known = t->state_known;
    snprintf(res->state, sizeof res->state, "%s", t->state);
    /* at most three rounds: a stale hint, then "already exists" once, then give up */
    for (int round = 0; rc == QS_OK && round < 3; round++) {
        if (!known && (rc = read_state(dst, o->destination, repo, res, &is_public)) != QS_OK)
            break;
        known = false; /* a second round reads the state again */
        memset(&res->d, 0, sizeof res->d);
        res->decided = orgm_decide_by_state(res->state[0] ? res->state : NULL, &res->d);
        if (!res->decided && (rc = decide_existing(c, o, dst, t, &w, is_public, res)) != QS_OK)
            break;
        if (c->s->dry_run || res->d.action == ORGM_ACT_SKIP || res->d.action == ORGM_ACT_UNCHANGED)
            break;
        bool again = false;
        if ((rc = apply(c, o, dst, repo, body, res, &again)) != QS_OK || !again)
            break;
        if (round == 2)
            rc = orgm_repo_fail(res, QS_ECONFLICT, "reconciling (it keeps changing)",
                                o->destination, repo, NULL);
    }
    json_decref(body);
    qs_secret_release(user);
    qs_secret_release(pass);
    if (rc == QS_OK)
        res->outcome = orgm_outcome_of(res->d.action);
    else if (res->outcome != ORGM_OUT_FAILED)
        orgm_repo_fail(res, rc, "reconciling", o->destination, repo, NULL);
    return rc;
}
