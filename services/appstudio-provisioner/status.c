/* status.c — component and workspace records: transitions, the client's view, Redis form.
 *
 * The API and the workers never overwrite each other's knowledge: the API writes the spec
 * and bumps a generation at every request; a worker run reads a generation, does the work,
 * and records the outcome against that generation. The state a client sees follows
 * Kubernetes' observedGeneration idea:
 *
 *   deleting                        → "deleting"
 *   observed < generation           → "provisioning" (message: the last retry's reason)
 *   observed = generation           → the run's outcome: "ready" or "failed" (+ message)
 *
 * so a PUT, PATCH or rotation arriving while a run is in flight is never reported "ready"
 * before a run has seen it, and a failed component goes back to "provisioning" when asked
 * again. Transient failures (Quay 5xx, Kubernetes down) only record their reason; they never
 * finish a run. The records are stored as Redis hashes of strings through the field tables
 * below (one table per record type, so the two forms cannot drift apart). */
#include "appstudio-provisioner/status.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shared/common.h"

void prov_timestamp(long long t, char *out) {
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, PROV_TS_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void copy(char *dst, size_t n, const char *src) { snprintf(dst, n, "%s", src ? src : ""); }

/* ---- field tables ---- */

typedef enum { F_STR, F_LL, F_BOOL, F_INT } ftype;
typedef struct {
    const char *name;
    ftype type;
    size_t off;
    size_t size;
} field;

#define C_STR(n, m)                                                                                \
    { n, F_STR, offsetof(prov_component, m), sizeof(((prov_component *)0)->m) }
#define C_NUM(n, m, t)                                                                             \
    { n, t, offsetof(prov_component, m), 0 }
static const field component_fields[] = {
    C_STR("workspace", workspace),
    C_STR("component", component),
    C_STR("org", names.org),
    C_STR("repo", names.repo),
    C_STR("namespace", names.namespace_),
    C_STR("push_robot", names.push_robot),
    C_STR("pull_robot", names.pull_robot),
    C_STR("push_secret", names.push_secret),
    C_STR("pull_secret", names.pull_secret),
    C_STR("image", names.image),
    C_NUM("generation", generation, F_LL),
    C_NUM("want_public", want_public, F_BOOL),
    C_NUM("rotate", rotate, F_LL),
    C_NUM("deleting", deleting, F_BOOL),
    C_NUM("requested_ms", requested_ms, F_LL),
    C_STR("created_at", created_at),
    C_NUM("observed", observed, F_LL),
    C_STR("state", state),
    C_STR("message", message),
    C_STR("progress", progress),
    C_NUM("rotated", rotated, F_LL),
    C_NUM("is_public", is_public, F_INT),
    C_STR("generated_at", generated_at),
    C_NUM("announced", announced, F_BOOL),
};

#define W_STR(n, m)                                                                                \
    { n, F_STR, offsetof(prov_workspace, m), sizeof(((prov_workspace *)0)->m) }
#define W_NUM(n, m, t)                                                                             \
    { n, t, offsetof(prov_workspace, m), 0 }
static const field workspace_fields[] = {
    W_STR("workspace", workspace),
    W_STR("org", org),
    W_STR("namespace", namespace_),
    W_NUM("generation", generation, F_LL),
    W_NUM("deleting", deleting, F_BOOL),
    W_NUM("requested_ms", requested_ms, F_LL),
    W_STR("created_at", created_at),
    W_NUM("observed", observed, F_LL),
    W_STR("state", state),
    W_STR("message", message),
    W_STR("progress", progress),
    W_NUM("org_ready", org_ready, F_BOOL),
};

static json_t *to_fields(const void *rec, const field *t, size_t n) {
    json_t *o = json_object();
    const char *base = rec;
    for (size_t i = 0; i < n; i++) {
        char num[32];
        const void *p = base + t[i].off;
        switch (t[i].type) {
        case F_STR:
            json_object_set_new(o, t[i].name, json_string(p));
            continue;
        case F_LL:
            snprintf(num, sizeof num, "%lld", *(const long long *)p);
            break;
        case F_BOOL:
            snprintf(num, sizeof num, "%d", *(const bool *)p ? 1 : 0);
            break;
        case F_INT:
            snprintf(num, sizeof num, "%d", *(const int *)p);
            break;
        }
        json_object_set_new(o, t[i].name, json_string(num));
    }
    return o;
}

static int from_fields(const json_t *o, void *rec, const field *t, size_t n, long long *rev) {
    char *base = rec;
    *rev = 0;
    if (!json_is_object(o) || json_object_size(o) == 0)
        return QS_OK;
    const char *r = json_string_value(json_object_get(o, "rev"));
    char *end = NULL;
    *rev = r ? strtoll(r, &end, 10) : 0;
    if (!r || *end || *rev <= 0)
        return QS_EINVAL;
    for (size_t i = 0; i < n; i++) {
        const char *v = json_string_value(json_object_get(o, t[i].name));
        void *p = base + t[i].off;
        if (!v)
            continue; /* an older record without this field: the zero value */
        long long x = strtoll(v, &end, 10);
        if (t[i].type != F_STR && (!*v || *end))
            return QS_EINVAL;
        switch (t[i].type) {
        case F_STR:
            snprintf(p, t[i].size, "%s", v);
            break;
        case F_LL:
            *(long long *)p = x;
            break;
        case F_BOOL:
            *(bool *)p = x != 0;
            break;
        case F_INT:
            *(int *)p = (int)x;
            break;
        }
    }
    return QS_OK;
}

/* ---- components ---- */

void prov_component_init(prov_component *c, const char *workspace, const char *component,
                         const prov_names *names, const char *created_at) {
    memset(c, 0, sizeof *c);
    copy(c->workspace, sizeof c->workspace, workspace);
    copy(c->component, sizeof c->component, component);
    c->names = *names;
    copy(c->created_at, sizeof c->created_at, created_at);
    c->is_public = -1;
}

int prov_request_apply(prov_component *c, prov_request req, int visibility, long long now_ms) {
    if (c->rev == 0 && req != PROV_REQ_PUT)
        return QS_ENOTFOUND;
    if (c->deleting && req != PROV_REQ_DELETE)
        return QS_ECONFLICT;
    if (visibility >= 0)
        c->want_public = visibility == 1;
    if (req == PROV_REQ_ROTATE)
        c->rotate++;
    if (req == PROV_REQ_DELETE)
        c->deleting = true;
    c->generation++;
    c->requested_ms = now_ms;
    c->progress[0] = '\0';
    return QS_OK;
}

/* The run bookkeeping components and workspaces share (same fields in both records). */
typedef struct {
    long long *observed;
    char *state;    /* [PROV_STATE_LEN] */
    char *message;  /* [PROV_MSG_LEN] */
    char *progress; /* [PROV_MSG_LEN] */
} run_fields;

static void run_outcome(run_fields f, long long gen, prov_outcome o, const char *message) {
    if (o == PROV_OUT_RETRYING) {
        copy(f.progress, PROV_MSG_LEN, message);
        return;
    }
    *f.observed = gen;
    copy(f.state, PROV_STATE_LEN, o == PROV_OUT_READY ? "ready" : "failed");
    copy(f.message, PROV_MSG_LEN, o == PROV_OUT_READY ? "" : message);
    f.progress[0] = '\0';
}

static const char *run_state(bool deleting, long long observed, long long generation,
                             const char *state) {
    if (deleting)
        return "deleting";
    if (observed < generation || !state[0])
        return "provisioning";
    return state;
}

void prov_outcome_apply(prov_component *c, long long gen, prov_outcome o, const char *message) {
    run_outcome((run_fields){&c->observed, c->state, c->message, c->progress}, gen, o, message);
}

const char *prov_view_state(const prov_component *c) {
    return run_state(c->deleting, c->observed, c->generation, c->state);
}

static json_t *str_or_null(const char *s) { return s && *s ? json_string(s) : json_null(); }

json_t *prov_component_view(const prov_component *c) {
    const char *state = prov_view_state(c);
    const char *msg = c->message;
    if (strcmp(state, "provisioning") == 0)
        msg = c->progress;
    else if (strcmp(state, "deleting") == 0) /* a retry's reason, or why it failed */
        msg = c->progress[0] || c->observed < c->generation ? c->progress : c->message;
    char push[2 * PROV_NAME_LEN], pull[2 * PROV_NAME_LEN];
    prov_robot_full(c->names.org, c->names.push_robot, push, sizeof push);
    prov_robot_full(c->names.org, c->names.pull_robot, pull, sizeof pull);
    int vis = c->is_public >= 0 ? c->is_public : c->want_public;
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:o}, s:s, s:s, s:s, s:s, "
        "s:s, s:I, s:I}",
        "workspace", c->workspace, "component", c->component, "state", state, "message", msg,
        "image", "url", c->names.image, "visibility", vis ? "public" : "private", "credentials",
        "push_secret", c->names.push_secret, "pull_secret", c->names.pull_secret, "push_robot",
        push, "pull_robot", pull, "generated_at", str_or_null(c->generated_at),
        "requested_visibility", c->want_public ? "public" : "private", "organization", c->names.org,
        "repository", c->names.repo, "namespace", c->names.namespace_, "created_at", c->created_at,
        "generation", (json_int_t)c->generation, "observed_generation", (json_int_t)c->observed);
}

json_t *prov_component_fields(const prov_component *c) {
    return to_fields(c, component_fields, QS_ARRAY_LEN(component_fields));
}

int prov_component_parse(const json_t *fields, prov_component *c) {
    memset(c, 0, sizeof *c);
    c->is_public = -1;
    return from_fields(fields, c, component_fields, QS_ARRAY_LEN(component_fields), &c->rev);
}

/* ---- workspaces ---- */

void prov_workspace_init(prov_workspace *w, const char *workspace, const prov_names *names,
                         const char *created_at) {
    memset(w, 0, sizeof *w);
    copy(w->workspace, sizeof w->workspace, workspace);
    copy(w->org, sizeof w->org, names->org);
    copy(w->namespace_, sizeof w->namespace_, names->namespace_);
    copy(w->created_at, sizeof w->created_at, created_at);
}

int prov_workspace_request(prov_workspace *w, bool delete_, long long now_ms) {
    if (w->deleting && !delete_)
        return QS_ECONFLICT;
    w->deleting = w->deleting || delete_;
    w->generation++;
    w->requested_ms = now_ms;
    w->progress[0] = '\0';
    return QS_OK;
}

void prov_workspace_outcome(prov_workspace *w, long long gen, prov_outcome o, const char *message) {
    run_outcome((run_fields){&w->observed, w->state, w->message, w->progress}, gen, o, message);
}

const char *prov_workspace_state(const prov_workspace *w) {
    return run_state(w->deleting, w->observed, w->generation, w->state);
}

json_t *prov_workspace_view(const prov_workspace *w, size_t components) {
    const char *state = prov_workspace_state(w);
    const char *msg =
        strcmp(state, "ready") == 0 || strcmp(state, "failed") == 0 ? w->message : w->progress;
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "workspace", w->workspace, "state",
                     state, "message", msg, "organization", w->org, "namespace", w->namespace_,
                     "components", (json_int_t)components, "created_at", w->created_at);
}

json_t *prov_workspace_fields(const prov_workspace *w) {
    return to_fields(w, workspace_fields, QS_ARRAY_LEN(workspace_fields));
}

int prov_workspace_parse(const json_t *fields, prov_workspace *w) {
    memset(w, 0, sizeof *w);
    return from_fields(fields, w, workspace_fields, QS_ARRAY_LEN(workspace_fields), &w->rev);
}
