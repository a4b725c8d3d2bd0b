/* provision.c — making Quay and Kubernetes match a component's or a workspace's record.
 *
 * A component run is idempotent and resumable: every step either creates what is missing or
 * accepts what is there ("already exists" is success, an existing robot is read back for its
 * token), so a run interrupted anywhere — a crash, Quay answering 502, the Kubernetes API
 * down — is simply run again. Two styles of the same steps:
 *   - first provisioning (the component never finished a run): create first, and only on
 *     "already exists" read — the fewest calls when nothing exists yet;
 *   - every later run (a repeated PUT, a PATCH, a rotation): read first, and write only what
 *     differs — so repeating a request writes nothing at all to Quay or Kubernetes.
 * Steps: organization (per-workspace mode), repository (with the wanted visibility; a
 * different one is changed), push robot (`write`) and pull robot (`read`) with their
 * permissions, token rotation when asked (Quay invalidates the old token at once), the two
 * dockerconfigjson Secrets, and a repository.created event — once the component is first
 * ready (a run interrupted after creating the repository still announces it when it is
 * run again), and again whenever a run had to create the repository anew.
 *
 * Outcomes: 402 from Quay (a private repository over the plan) and other refusals that
 * asking again cannot fix finish the run as failed with Quay's message; 5xx, 429 (after the
 * HTTP client's own retries), transport errors, a 401 of the management token (it may be
 * mid-rotation) and an unavailable Kubernetes API leave the run unfinished, to be retried by
 * the queue with backoff. Robot tokens live only in memory for the run and in the Secrets;
 * they are never logged, stored in Redis, or put into a message. */
#include "appstudio-provisioner/provision.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "appstudio-provisioner/secret.h"
#include "appstudio-provisioner/store.h"
#include "appstudio-provisioner/task.h"
#include "shared/common.h"
#include "shared/log.h"
#include "shared/queue.h"

#define REPO_DESCRIPTION "AppStudio repository of component %.100s in workspace %.100s"
#define ROBOT_DESCRIPTION "AppStudio %s robot of component %.90s in workspace %.90s"

static void set_msg(prov_run *out, prov_run_result res, const char *fmt, const char *a,
                    const qs_quay_error *e) {
    out->result = res;
    if (e)
        snprintf(out->message, sizeof out->message, fmt, a, e->status, e->message);
    else
        snprintf(out->message, sizeof out->message, "%s", fmt);
}

/* Quay refused or failed `what`: decide between retry and failure. */
static void quay_failed(prov_run *out, int rc, const qs_quay_error *e, const char *what) {
    if (rc == QS_EDENIED && e->status == 402) {
        set_msg(out, PROV_RUN_FAILED,
                "quay: %s: payment required (%ld): the organization's plan allows no more "
                "private repositories: %.300s",
                what, e);
        return;
    }
    bool transient = rc == QS_EUNAVAIL || rc == QS_EAUTH || rc == QS_EPROTO || rc == QS_ECONFLICT ||
                     rc == QS_ETIMEOUT || rc == QS_ENOMEM;
    const char *fmt = "quay: %s: %ld %.300s";
    if (rc == QS_EAUTH)
        fmt = e->status ? "quay: %s: the management token was refused (%ld): %.300s"
                        : "quay: %s: no management token (%ld): %.300s";
    else if (rc == QS_EUNAVAIL && e->status == 0)
        fmt = "quay: %s: unreachable (%ld): %.300s";
    set_msg(out, transient ? PROV_RUN_RETRY : PROV_RUN_FAILED, fmt, what, e);
}

/* Kubernetes refused or failed: the Secret module's codes. */
static void kube_failed(prov_run *out, int rc, const char *err) {
    out->result = rc == QS_EUNAVAIL || rc == QS_ECONFLICT ? PROV_RUN_RETRY : PROV_RUN_FAILED;
    snprintf(out->message, sizeof out->message, "%s",
             rc == QS_ENOTFOUND ? "kubernetes: the workspace's namespace does not exist" : err);
}

/* ---- organization ---- */

static int mark_org_ready(prov_workspace *w, void *ctx) {
    QS_UNUSED(ctx);
    if (w->rev == 0 || w->org_ready)
        return QS_ENOTFOUND; /* nothing to write */
    w->org_ready = true;
    return QS_OK;
}

/* The workspace's organization exists (per-workspace mode). `trust`: the workspace record
 * saying it was made is enough; `verify`: ask Quay before creating (a later run: no write
 * when it is there). */
static bool ensure_org(const prov_env *env, const char *ws, const char *org, bool trust,
                       bool verify, prov_run *out) {
    if (env->s->naming.mode != PROV_ORG_PER_WORKSPACE)
        return true;
    prov_workspace w;
    if (trust && prov_store_workspace_load(env->redis, ws, &w) == QS_OK && w.org_ready &&
        strcmp(w.org, org) == 0)
        return true;
    qs_quay_error e = {0};
    int rc = verify ? qs_quay_org_get(env->quay, org, NULL, &e) : QS_ENOTFOUND;
    if (rc == QS_ENOTFOUND) {
        rc = qs_quay_org_create(env->quay, org, NULL, &e);
        if (rc == QS_OK)
            qs_log(QS_LOG_INFO, "organization created", "organization", org, "workspace", ws, NULL);
        else if (rc == QS_EEXISTS)
            rc = QS_OK;
    }
    if (rc != QS_OK) {
        quay_failed(out, rc, &e, "create organization");
        return false;
    }
    prov_store_workspace_update(env->redis, ws, mark_org_ready, NULL, NULL);
    return true;
}

/* ---- repository ---- */

static bool ensure_repo(const prov_env *env, const prov_component *c, bool verify, prov_run *out) {
    const char *org = c->names.org, *repo = c->names.repo;
    qs_quay_error e = {0};
    json_t *j = NULL;
    bool exists = false;
    int rc = QS_OK;
    if (verify) {
        rc = qs_quay_repo_get(env->quay, org, repo, &j, &e);
        exists = rc == QS_OK;
        if (exists)
            out->is_public = json_is_true(json_object_get(j, "is_public"));
        json_decref(j);
        j = NULL;
        if (rc != QS_OK && rc != QS_ENOTFOUND) {
            quay_failed(out, rc, &e, "read repository");
            return false;
        }
    }
    if (!exists) {
        char desc[256];
        snprintf(desc, sizeof desc, REPO_DESCRIPTION, c->component, c->workspace);
        rc = qs_quay_repo_create(env->quay, org, repo, c->want_public, desc, &e);
        bool no_org = rc == QS_ENOTFOUND || (rc == QS_EDENIED && e.status == 403);
        if (no_org && env->s->naming.mode == PROV_ORG_PER_WORKSPACE) {
            /* the organization vanished since the record said it was made (Quay answers 403
             * for a namespace that does not exist) */
            if (!ensure_org(env, c->workspace, org, false, true, out))
                return false;
            rc = qs_quay_repo_create(env->quay, org, repo, c->want_public, desc, &e);
        }
        if (rc == QS_OK) {
            out->repo_created = true;
            out->is_public = c->want_public;
            qs_log(QS_LOG_INFO, "repository created", "repository", c->names.image, "visibility",
                   c->want_public ? "public" : "private", NULL);
        } else if (rc == QS_EEXISTS) {
            rc = qs_quay_repo_get(env->quay, org, repo, &j, &e);
            if (rc == QS_OK)
                out->is_public = json_is_true(json_object_get(j, "is_public"));
            json_decref(j);
        }
        if (rc != QS_OK) {
            quay_failed(out, rc, &e, "create repository");
            return false;
        }
    }
    if (out->is_public != (int)c->want_public) {
        rc = qs_quay_repo_set_visibility(env->quay, org, repo, c->want_public, &e);
        if (rc != QS_OK) {
            quay_failed(out, rc, &e, "change visibility");
            return false;
        }
        out->is_public = c->want_public;
        qs_log(QS_LOG_INFO, "visibility changed", "repository", c->names.image, "visibility",
               c->want_public ? "public" : "private", NULL);
    }
    return true;
}

/* ---- robots ---- */

typedef struct {
    const char *short_name;
    const char *role; /* "write" / "read" */
    const char *kind; /* "push" / "pull" */
    char *token;      /* malloc'd; zeroed on free */
    bool created;
} robot;

static void robot_clear(robot *r) {
    if (r->token) {
        memset(r->token, 0, strlen(r->token));
        free(r->token);
        r->token = NULL;
    }
}

/* Take the token out of a robot answer. */
static bool take_token(robot *r, json_t *j, prov_run *out) {
    const char *t = json_string_value(json_object_get(j, "token"));
    robot_clear(r);
    if (t && *t)
        r->token = strdup(t);
    json_decref(j);
    if (!r->token) {
        out->result = PROV_RUN_FAILED;
        snprintf(out->message, sizeof out->message,
                 "quay: robot %.200s came without a token (the management token must "
                 "administer the organization)",
                 r->short_name);
        return false;
    }
    return true;
}

static bool ensure_robot(const prov_env *env, const prov_component *c, robot *r, bool verify,
                         prov_run *out) {
    const char *org = c->names.org;
    qs_quay_error e = {0};
    json_t *j = NULL;
    int rc = verify ? qs_quay_robot_get(env->quay, org, r->short_name, &j, &e) : QS_ENOTFOUND;
    if (rc == QS_ENOTFOUND) {
        char desc[256];
        snprintf(desc, sizeof desc, ROBOT_DESCRIPTION, r->kind, c->component, c->workspace);
        json_decref(j);
        j = NULL;
        rc = qs_quay_robot_create(env->quay, org, r->short_name, desc, &j, &e);
        if (rc == QS_OK) {
            r->created = true;
            qs_log(QS_LOG_INFO, "robot created", "organization", org, "robot", r->short_name, NULL);
        } else if (rc == QS_EEXISTS) {
            json_decref(j);
            j = NULL;
            rc = qs_quay_robot_get(env->quay, org, r->short_name, &j, &e);
        }
    }
    if (rc != QS_OK) {
        json_decref(j);
        quay_failed(out, rc, &e, r->created ? "read robot" : "create robot");
        return false;
    }
    return take_token(r, j, out);
}

static bool regenerate(const prov_env *env, const prov_component *c, robot *r, prov_run *out) {
    qs_quay_error e = {0};
    json_t *j = NULL;
    int rc = qs_quay_robot_regenerate(env->quay, c->names.org, r->short_name, &j, &e);
    if (rc != QS_OK) {
        json_decref(j);
        quay_failed(out, rc, &e, "regenerate robot token");
        return false;
    }
    qs_log(QS_LOG_INFO, "robot token regenerated", "organization", c->names.org, "robot",
           r->short_name, NULL);
    return take_token(r, j, out);
}

static bool ensure_permissions(const prov_env *env, const prov_component *c, robot *robots,
                               bool verify, prov_run *out) {
    qs_quay_error e = {0};
    json_t *perms = NULL;
    if (verify) {
        int rc = qs_quay_perm_list(env->quay, c->names.org, c->names.repo, &perms, &e);
        if (rc != QS_OK) {
            quay_failed(out, rc, &e, "read permissions");
            return false;
        }
    }
    bool ok = true;
    for (int i = 0; ok && i < 2; i++) {
        char user[2 * PROV_NAME_LEN];
        prov_robot_full(c->names.org, robots[i].short_name, user, sizeof user);
        const char *have = json_string_value(json_object_get(json_object_get(perms, user), "role"));
        if (verify && have && strcmp(have, robots[i].role) == 0)
            continue;
        int rc = qs_quay_perm_set(env->quay, c->names.org, c->names.repo, user, robots[i].role, &e);
        if (rc != QS_OK) {
            quay_failed(out, rc, &e, "grant permission");
            ok = false;
        }
    }
    json_decref(perms);
    return ok;
}

/* ---- secrets and the event ---- */

static bool write_secrets(const prov_env *env, const prov_component *c, const robot *robots,
                          bool create_first, prov_run *out) {
    const char *names[2] = {c->names.push_secret, c->names.pull_secret};
    for (int i = 0; i < 2; i++) {
        char user[2 * PROV_NAME_LEN];
        prov_robot_full(c->names.org, robots[i].short_name, user, sizeof user);
        prov_secret_spec spec = {c->names.namespace_, names[i],       c->names.image, user,
                                 robots[i].token,     robots[i].kind, c->workspace,   c->component};
        json_t *secret = prov_secret_object(&spec);
        char err[PROV_MSG_LEN] = "";
        bool changed = false;
        int rc = secret
                     ? prov_secret_apply(env->kube, secret, create_first, &changed, err, sizeof err)
                     : QS_ENOMEM;
        json_decref(secret);
        if (rc != QS_OK) {
            kube_failed(out, rc, err[0] ? err : "out of memory");
            return false;
        }
        if (changed)
            qs_log(QS_LOG_INFO, "secret written", "namespace", c->names.namespace_, "secret",
                   names[i], NULL);
    }
    return true;
}

static bool publish_created(const prov_env *env, const prov_component *c, prov_run *out) {
    json_t *data =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "quay", qs_quay_host(env->quay),
                  "namespace", c->names.org, "repository", c->names.repo, "workspace", c->workspace,
                  "component", c->component, "visibility", out->is_public ? "public" : "private",
                  "registry", env->s->registry, "image", c->names.image);
    int rc = data
                 ? qs_events_publish(env->redis, QS_EVENTS_STREAM, "repository.created", data, NULL)
                 : QS_ENOMEM;
    json_decref(data);
    if (rc != QS_OK) {
        out->result = PROV_RUN_RETRY;
        snprintf(out->message, sizeof out->message,
                 "redis: could not publish the repository.created event");
        return false;
    }
    return true;
}

/* ---- component runs ---- */

static void delete_component(const prov_env *env, const prov_component *c, prov_run *out) {
    const char *secrets[2] = {c->names.push_secret, c->names.pull_secret};
    for (int i = 0; i < 2; i++) {
        char err[PROV_MSG_LEN] = "";
        int rc = prov_secret_delete(env->kube, c->names.namespace_, secrets[i], err, sizeof err);
        if (rc != QS_OK) {
            kube_failed(out, rc, err);
            return;
        }
    }
    const char *robots[2] = {c->names.push_robot, c->names.pull_robot};
    qs_quay_error e = {0};
    for (int i = 0; i < 2; i++) {
        int rc = qs_quay_robot_delete(env->quay, c->names.org, robots[i], &e);
        if (rc != QS_OK && rc != QS_ENOTFOUND) {
            quay_failed(out, rc, &e, "delete robot");
            return;
        }
    }
    if (!env->s->keep_repositories) {
        int rc = qs_quay_repo_delete(env->quay, c->names.org, c->names.repo, &e);
        if (rc != QS_OK && rc != QS_ENOTFOUND) {
            quay_failed(out, rc, &e, "delete repository");
            return;
        }
    }
    qs_log(QS_LOG_INFO, "component deleted", "workspace", c->workspace, "component", c->component,
           "repository", env->s->keep_repositories ? "kept" : "deleted", NULL);
    out->result = PROV_RUN_DONE;
}

void prov_component_run(const prov_env *env, const prov_component *c, prov_run *out) {
    memset(out, 0, sizeof *out);
    out->is_public = -1;
    out->rotated = c->rotated;
    if (c->rev == 0) {
        out->result = PROV_RUN_REMOVED;
        return;
    }
    if (c->deleting) {
        delete_component(env, c, out);
        return;
    }
    bool verify = c->observed > 0; /* a later run: read first, write only what differs */
    robot robots[2] = {{c->names.push_robot, "write", "push", NULL, false},
                       {c->names.pull_robot, "read", "pull", NULL, false}};
    bool ok = ensure_org(env, c->workspace, c->names.org, true, verify, out) &&
              ensure_repo(env, c, verify, out) && ensure_robot(env, c, &robots[0], verify, out) &&
              ensure_robot(env, c, &robots[1], verify, out);
    if (ok && c->rotate > c->rotated) {
        for (int i = 0; ok && i < 2; i++)
            if (!robots[i].created) /* a new robot's token is new already */
                ok = regenerate(env, c, &robots[i], out);
    }
    ok = ok && ensure_permissions(env, c, robots, verify, out) &&
         write_secrets(env, c, robots, !verify, out);
    if (ok && (out->repo_created || !c->announced)) {
        ok = publish_created(env, c, out);
        out->announced = ok;
    }
    if (ok) {
        out->result = PROV_RUN_DONE;
        out->rotated = c->rotate;
        out->tokens_new = robots[0].created || robots[1].created || c->rotate > c->rotated;
    }
    robot_clear(&robots[0]);
    robot_clear(&robots[1]);
}

/* ---- workspace runs ---- */

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int mark_deleting(prov_component *c, void *ctx) {
    long long *now = ctx;
    if (c->rev == 0 || c->deleting)
        return QS_ENOTFOUND; /* gone, or marked already: nothing to write */
    return prov_request_apply(c, PROV_REQ_DELETE, -1, *now);
}

/* Every component still recorded is deleted by its own task (serialised with any run of it
 * in progress); the organization goes once none is left. */
static void delete_workspace(const prov_env *env, const prov_workspace *w, prov_run *out) {
    char **names = NULL;
    size_t n = 0, left = 0;
    if (prov_store_components(env->redis, w->workspace, &names, &n) != QS_OK) {
        set_msg(out, PROV_RUN_RETRY, "redis: unavailable", NULL, NULL);
        return;
    }
    prov_component *c = malloc(sizeof *c);
    out->result = c ? PROV_RUN_DONE : PROV_RUN_RETRY;
    for (size_t i = 0; c && i < n && out->result == PROV_RUN_DONE; i++) {
        prov_task t = {.kind = PROV_TASK_COMPONENT};
        snprintf(t.workspace, sizeof t.workspace, "%s", w->workspace);
        snprintf(t.component, sizeof t.component, "%s", names[i]);
        long long now = now_ms();
        int rc =
            prov_store_component_update(env->redis, w->workspace, names[i], mark_deleting, &now, c);
        if (rc == QS_ENOTFOUND)
            rc = prov_store_component_load(env->redis, w->workspace, names[i], c);
        if (rc == QS_OK && c->rev > 0 && env->queue)
            rc = prov_task_enqueue(env->queue, &t);
        if (rc != QS_OK)
            set_msg(out, PROV_RUN_RETRY, "redis: unavailable", NULL, NULL);
        left += c->rev > 0;
    }
    free(c);
    prov_store_names_free(names, n);
    if (out->result != PROV_RUN_DONE)
        return;
    if (left > 0) {
        out->result = PROV_RUN_RETRY;
        snprintf(out->message, sizeof out->message, "waiting for %zu component%s to be deleted",
                 left, left == 1 ? "" : "s");
        return;
    }
    if (env->s->naming.mode == PROV_ORG_PER_WORKSPACE && !env->s->keep_repositories) {
        qs_quay_error e = {0};
        int rc = qs_quay_org_delete(env->quay, w->org, &e);
        if (rc != QS_OK && rc != QS_ENOTFOUND) {
            quay_failed(out, rc, &e, "delete organization");
            return;
        }
        qs_log(QS_LOG_INFO, "organization deleted", "organization", w->org, "workspace",
               w->workspace, NULL);
    }
    qs_log(QS_LOG_INFO, "workspace deleted", "workspace", w->workspace, NULL);
}

void prov_workspace_run(const prov_env *env, const prov_workspace *w, prov_run *out) {
    memset(out, 0, sizeof *out);
    out->is_public = -1;
    if (w->rev == 0) {
        out->result = PROV_RUN_REMOVED;
        return;
    }
    if (w->deleting) {
        delete_workspace(env, w, out);
        return;
    }
    if (env->s->naming.mode == PROV_ORG_SHARED) {
        qs_quay_error e = {0};
        int rc = qs_quay_org_get(env->quay, w->org, NULL, &e);
        if (rc == QS_ENOTFOUND) {
            out->result = PROV_RUN_FAILED;
            snprintf(out->message, sizeof out->message,
                     "quay: the shared organization %.200s (QUAY_ORGANIZATION) does not exist",
                     w->org);
            return;
        }
        if (rc != QS_OK) {
            quay_failed(out, rc, &e, "read organization");
            return;
        }
        out->result = PROV_RUN_DONE;
        return;
    }
    if (ensure_org(env, w->workspace, w->org, false, w->observed > 0, out))
        out->result = PROV_RUN_DONE;
}
