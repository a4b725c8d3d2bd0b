/* api.c — the provisioner's HTTP API.
 *
 *   PUT    /api/v1/workspaces/{ws}                          ensure the organization → 202
 *   GET    /api/v1/workspaces/{ws}                          the workspace's status
 *   DELETE /api/v1/workspaces/{ws}                          every component, then the org → 202
 *                                                           (each component by its own task)
 *   GET    /api/v1/workspaces/{ws}/components               every component's status
 *   PUT    /api/v1/workspaces/{ws}/components/{c}           {"visibility"?} provision → 202
 *   GET    /api/v1/workspaces/{ws}/components/{c}           its status
 *   PATCH  /api/v1/workspaces/{ws}/components/{c}           {"visibility"} → 202
 *   DELETE /api/v1/workspaces/{ws}/components/{c}           Secrets, robots, repository → 202
 *   POST   /api/v1/workspaces/{ws}/components/{c}/rotate    new robot tokens → 202
 *
 * A request is checked in this order: the names (400 when a workspace or component is not
 * 1–253 printable characters without '/', or the namespace template gives no valid
 * namespace), the caller (401/403, 503 when the cluster cannot say), the body (400: not JSON,
 * unknown keys, a visibility other than public/private; 413 over 4 KiB). A change is a
 * compare-and-set of the record (store.c) followed by a queued task; the answer is the
 * record's view at once, so "state" is "provisioning" (or "deleting") until a worker is done.
 * Redis being unavailable is 503. Every answer is JSON. */
#include "appstudio-provisioner/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "appstudio-provisioner/names.h"
#include "appstudio-provisioner/status.h"
#include "appstudio-provisioner/store.h"
#include "appstudio-provisioner/task.h"
#include "shared/common.h"
#include "shared/log.h"

#define MAX_BODY 4096

typedef struct {
    const char *ws;
    const char *component; /* NULL on workspace routes */
    prov_names names;
    char who[256];
} call;

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void unavailable(qs_req *r) {
    qs_respond_error(r, 503, "unavailable", "the provisioner's store (Redis) is unavailable");
}

/* Names, then the caller. Answers and returns false when the request stops here. */
static bool begin(prov_api *api, qs_req *r, bool with_component, call *c) {
    memset(c, 0, sizeof *c);
    c->ws = qs_req_param(r, "ws");
    c->component = with_component ? qs_req_param(r, "component") : NULL;
    if (!prov_input_valid(c->ws)) {
        qs_respond_error(r, 400, "invalid_workspace",
                         "a workspace name is 1-253 printable characters without '/'");
        return false;
    }
    if (with_component && !prov_input_valid(c->component)) {
        qs_respond_error(r, 400, "invalid_component",
                         "a component name is 1-253 printable characters without '/'");
        return false;
    }
    if (prov_names_for(&api->s->naming, c->ws, c->component, &c->names) != QS_OK) {
        qs_respond_error(r, 400, "invalid_workspace",
                         "workspace \"%.253s\" gives no valid Kubernetes namespace name "
                         "(NAMESPACE_TEMPLATE \"%s\")",
                         c->ws, api->s->naming.namespace_template);
        return false;
    }
    prov_authz_result a = prov_authz_check(api->authz, qs_req_header(r, "Authorization"),
                                           c->names.namespace_, c->who, sizeof c->who);
    switch (a) {
    case PROV_AUTHZ_OK:
        return true;
    case PROV_AUTHZ_MISSING:
    case PROV_AUTHZ_INVALID:
        qs_resp_header(r, "WWW-Authenticate", "Bearer realm=\"appstudio-provisioner\"");
        qs_respond_error(r, 401, "unauthorized",
                         a == PROV_AUTHZ_MISSING ? "a bearer token is required"
                                                 : "the bearer token is not valid");
        return false;
    case PROV_AUTHZ_DENIED:
        qs_log(QS_LOG_INFO, "caller denied", "user", c->who, "namespace", c->names.namespace_,
               NULL);
        qs_respond_error(r, 403, "forbidden",
                         "%.200s may not create secrets in namespace %s, so it may not manage "
                         "this workspace",
                         c->who, c->names.namespace_);
        return false;
    default:
        qs_respond_error(r, 503, "cluster_unavailable",
                         "the Kubernetes API could not review the caller's token; try again");
        return false;
    }
}

/* The body's visibility: -1 when absent (and allowed), 0/1; -2 when answered (bad body). */
static int body_visibility(qs_req *r, bool required) {
    size_t len = 0;
    qs_req_body(r, &len);
    if (len == 0 && !required)
        return -1;
    json_t *j = qs_req_json(r);
    if (!j)
        return -2;
    const char *unknown = json_is_object(j) ? NULL : "";
    const char *key;
    const json_t *val;
    json_object_foreach(j, key, val) {
        if (strcmp(key, "visibility") != 0 && !unknown)
            unknown = key;
    }
    const json_t *v = json_object_get(j, "visibility");
    const char *vis = json_string_value(v);
    int res = -1;
    if (unknown && !*unknown) {
        qs_respond_error(r, 400, "invalid_body", "the body must be a JSON object");
        res = -2;
    } else if (unknown) {
        qs_respond_error(r, 400, "invalid_body", "unknown key \"%.100s\" (only \"visibility\")",
                         unknown);
        res = -2;
    } else if ((v && !vis) || (vis && strcmp(vis, "public") != 0 && strcmp(vis, "private") != 0)) {
        qs_respond_error(r, 400, "invalid_visibility",
                         "visibility must be \"public\" or \"private\"");
        res = -2;
    } else if (!vis && required) {
        qs_respond_error(r, 400, "invalid_visibility", "visibility is required");
        res = -2;
    } else if (vis) {
        res = strcmp(vis, "public") == 0;
    }
    json_decref(j);
    return res;
}

/* A request that takes no body: none, or {}. Answers 400 and returns false otherwise. */
static bool no_body(qs_req *r, const char *what) {
    size_t len = 0;
    qs_req_body(r, &len);
    if (len == 0)
        return true;
    json_t *j = qs_req_json(r);
    if (!j)
        return false;
    bool empty = json_is_object(j) && json_object_size(j) == 0;
    json_decref(j);
    if (!empty)
        qs_respond_error(r, 400, "invalid_body", "%s takes no body (or {})", what);
    return empty;
}

static bool enqueue(prov_api *api, qs_req *r, prov_task_kind kind, const char *ws,
                    const char *component) {
    prov_task t = {.kind = kind};
    snprintf(t.workspace, sizeof t.workspace, "%s", ws);
    snprintf(t.component, sizeof t.component, "%s", component ? component : "");
    if (prov_task_enqueue(api->queue, &t) != QS_OK) {
        qs_respond_error(r, 503, "unavailable", "the task queue (Redis) is unavailable");
        return false;
    }
    return true;
}

/* ---- workspaces ---- */

typedef struct {
    const call *c;
    bool delete_;
    long long now;
} ws_req;

static int ws_apply(prov_workspace *w, void *ctx) {
    ws_req *q = ctx;
    if (w->rev == 0) {
        char ts[PROV_TS_LEN];
        prov_timestamp(q->now / 1000, ts);
        prov_workspace_init(w, q->c->ws, &q->c->names, ts);
    }
    return prov_workspace_request(w, q->delete_, q->now);
}

/* Make sure a workspace record exists and is not being deleted (a component's PUT). */
static int ws_ensure(prov_workspace *w, void *ctx) {
    if (w->deleting)
        return QS_ECONFLICT;
    return w->rev == 0 ? ws_apply(w, ctx) : QS_ENOTFOUND; /* ENOTFOUND: nothing to write */
}

static void h_ws_put(qs_req *r, void *ctx) {
    prov_api *api = ctx;
    call c;
    if (!begin(api, r, false, &c) || !no_body(r, "PUT of a workspace"))
        return;
    ws_req q = {&c, false, now_ms()};
    prov_workspace w;
    int rc = prov_store_workspace_update(api->redis, c.ws, ws_apply, &q, &w);
    if (rc == QS_ECONFLICT) {
        qs_respond_error(r, 409, "deleting", "workspace %.253s is being deleted", c.ws);
        return;
    }
    if (rc != QS_OK) {
        unavailable(r);
        return;
    }
    if (!enqueue(api, r, PROV_TASK_WORKSPACE, c.ws, NULL))
        return;
    qs_log(QS_LOG_INFO, "workspace requested", "workspace", c.ws, "user", c.who, NULL);
    qs_respond_json(r, 202, prov_workspace_view(&w, 0));
}

static void h_ws_get(qs_req *r, void *ctx) {
    prov_api *api = ctx;
    call c;
    if (!begin(api, r, false, &c))
        return;
    prov_workspace w;
    char **names = NULL;
    size_t n = 0;
    if (prov_store_workspace_load(api->redis, c.ws, &w) != QS_OK ||
        prov_store_components(api->redis, c.ws, &names, &n) != QS_OK) {
        unavailable(r);
        return;
    }
    prov_store_names_free(names, n);
    if (w.rev == 0) {
        qs_respond_error(r, 404, "not_found", "no workspace %.253s", c.ws);
        return;
    }
    qs_respond_json(r, 200, prov_workspace_view(&w, n));
}

typedef struct {
    long long now;
} delete_req;

static int component_delete(prov_component *pc, void *ctx) {
    delete_req *d = ctx;
    if (pc->rev == 0 || pc->deleting)
        return QS_ENOTFOUND; /* gone, or already being deleted: nothing to write */
    return prov_request_apply(pc, PROV_REQ_DELETE, -1, d->now);
}

static void h_ws_delete(qs_req *r, void *ctx) {
    prov_api *api = ctx;
    call c;
    if (!begin(api, r, false, &c))
        return;
    char **names = NULL;
    size_t n = 0;
    prov_workspace w;
    if (prov_store_components(api->redis, c.ws, &names, &n) != QS_OK ||
        prov_store_workspace_load(api->redis, c.ws, &w) != QS_OK) {
        prov_store_names_free(names, n);
        unavailable(r);
        return;
    }
    if (w.rev == 0 && n == 0) {
        prov_store_names_free(names, n);
        qs_respond_error(r, 404, "not_found", "no workspace %.253s", c.ws);
        return;
    }
    ws_req q = {&c, true, now_ms()};
    int rc = prov_store_workspace_update(api->redis, c.ws, ws_apply, &q, &w);
    delete_req d = {q.now};
    for (size_t i = 0; rc == QS_OK && i < n; i++) {
        int cr =
            prov_store_component_update(api->redis, c.ws, names[i], component_delete, &d, NULL);
        if (cr != QS_OK && cr != QS_ENOTFOUND)
            rc = cr;
    }
    bool queued = rc == QS_OK;
    for (size_t i = 0; queued && i < n; i++) /* each component is deleted by its own task */
        queued = enqueue(api, r, PROV_TASK_COMPONENT, c.ws, names[i]);
    prov_store_names_free(names, n);
    if (rc != QS_OK) {
        unavailable(r);
        return;
    }
    if (!queued || !enqueue(api, r, PROV_TASK_WORKSPACE, c.ws, NULL))
        return;
    qs_log(QS_LOG_INFO, "workspace deletion requested", "workspace", c.ws, "user", c.who, NULL);
    qs_respond_json(r, 202, prov_workspace_view(&w, n));
}

/* ---- components ---- */

static void h_list(qs_req *r, void *ctx) {
    prov_api *api = ctx;
    call c;
    if (!begin(api, r, false, &c))
        return;
    char **names = NULL;
    size_t n = 0;
    prov_workspace w;
    if (prov_store_workspace_load(api->redis, c.ws, &w) != QS_OK ||
        prov_store_components(api->redis, c.ws, &names, &n) != QS_OK) {
        unavailable(r);
        return;
    }
    if (w.rev == 0 && n == 0) {
        prov_store_names_free(names, n);
        qs_respond_error(r, 404, "not_found", "no workspace %.253s", c.ws);
        return;
    }
    json_t *arr = json_array();
    prov_component *pc = malloc(sizeof *pc);
    int rc = pc ? QS_OK : QS_ENOMEM;
    for (size_t i = 0; rc == QS_OK && i < n; i++) {
        rc = prov_store_component_load(api->redis, c.ws, names[i], pc);
        if (rc == QS_OK && pc->rev > 0)
            json_array_append_new(arr, prov_component_view(pc));
    }
    free(pc);
    prov_store_names_free(names, n);
    if (rc != QS_OK) {
        json_decref(arr);
        unavailable(r);
        return;
    }
    qs_respond_json(r, 200, json_pack("{s:s, s:o}", "workspace", c.ws, "components", arr));
}

typedef struct {
    const call *c;
    prov_request req;
    int visibility;
    bool default_public;
    long long now;
} comp_req;

static int comp_apply(prov_component *pc, void *ctx) {
    comp_req *q = ctx;
    int vis = q->visibility;
    if (pc->rev == 0 && q->req == PROV_REQ_PUT) {
        char ts[PROV_TS_LEN];
        prov_timestamp(q->now / 1000, ts);
        prov_component_init(pc, q->c->ws, q->c->component, &q->c->names, ts);
        if (vis < 0)
            vis = q->default_public;
    }
    /* a PUT without a visibility on an existing component keeps the one it has: repeating
     * the creating call must never turn a repository made private since public again */
    return prov_request_apply(pc, q->req, vis, q->now);
}

static void change(prov_api *api, qs_req *r, prov_request req, int visibility, const call *c) {
    comp_req q = {c, req, visibility, api->s->default_public, now_ms()};
    prov_component *pc = malloc(sizeof *pc);
    int rc = pc ? prov_store_component_update(api->redis, c->ws, c->component, comp_apply, &q, pc)
                : QS_ENOMEM;
    if (rc == QS_ENOTFOUND) {
        qs_respond_error(r, 404, "not_found", "no component %.253s in workspace %.253s",
                         c->component, c->ws);
    } else if (rc == QS_ECONFLICT) {
        qs_respond_error(r, 409, "deleting",
                         "component %.253s is being deleted; ask again once it is gone",
                         c->component);
    } else if (rc != QS_OK) {
        unavailable(r);
    } else if (enqueue(api, r, PROV_TASK_COMPONENT, c->ws, c->component)) {
        static const char *const what[] = {"provisioning requested", "visibility change requested",
                                           "rotation requested", "deletion requested"};
        qs_log(QS_LOG_INFO, what[req], "workspace", c->ws, "component", c->component, "user",
               c->who, NULL);
        qs_respond_json(r, 202, prov_component_view(pc));
    }
    free(pc);
}

static void h_comp_put(qs_req *r, void *ctx) {
    prov_api *api = ctx;
    call c;
    if (!begin(api, r, true, &c))
        return;
    int vis = body_visibility(r, false);
    if (vis == -2)
        return;
    ws_req q = {&c, false, now_ms()};
    int rc = prov_store_workspace_update(api->redis, c.ws, ws_ensure, &q, NULL);
    if (rc == QS_ECONFLICT) {
        qs_respond_error(r, 409, "deleting", "workspace %.253s is being deleted", c.ws);
        return;
    }
    if (rc != QS_OK && rc != QS_ENOTFOUND) {
        unavailable(r);
        return;
    }
    if (rc == QS_OK && !enqueue(api, r, PROV_TASK_WORKSPACE, c.ws, NULL))
        return; /* a new workspace: its organization is ensured too */
    change(api, r, PROV_REQ_PUT, vis, &c);
}

static void h_comp_get(qs_req *r, void *ctx) {
    prov_api *api = ctx;
    call c;
    if (!begin(api, r, true, &c))
        return;
    prov_component *pc = malloc(sizeof *pc);
    int rc = pc ? prov_store_component_load(api->redis, c.ws, c.component, pc) : QS_ENOMEM;
    if (rc != QS_OK)
        unavailable(r);
    else if (pc->rev == 0)
        qs_respond_error(r, 404, "not_found", "no component %.253s in workspace %.253s",
                         c.component, c.ws);
    else
        qs_respond_json(r, 200, prov_component_view(pc));
    free(pc);
}

static void h_comp_patch(qs_req *r, void *ctx) {
    prov_api *api = ctx;
    call c;
    if (!begin(api, r, true, &c))
        return;
    int vis = body_visibility(r, true);
    if (vis != -2)
        change(api, r, PROV_REQ_PATCH, vis, &c);
}

static void h_comp_delete(qs_req *r, void *ctx) {
    prov_api *api = ctx;
    call c;
    if (begin(api, r, true, &c))
        change(api, r, PROV_REQ_DELETE, -1, &c);
}

static void h_comp_rotate(qs_req *r, void *ctx) {
    prov_api *api = ctx;
    call c;
    if (!begin(api, r, true, &c))
        return;
    if (no_body(r, "rotate"))
        change(api, r, PROV_REQ_ROTATE, -1, &c);
}

size_t prov_api_routes(prov_api *api, qs_route *out, size_t max) {
    const qs_route routes[] = {
        {"PUT", "/api/v1/workspaces/{ws}", h_ws_put, api, MAX_BODY},
        {"GET", "/api/v1/workspaces/{ws}", h_ws_get, api, MAX_BODY},
        {"DELETE", "/api/v1/workspaces/{ws}", h_ws_delete, api, MAX_BODY},
        {"GET", "/api/v1/workspaces/{ws}/components", h_list, api, MAX_BODY},
        {"PUT", "/api/v1/workspaces/{ws}/components/{component}", h_comp_put, api, MAX_BODY},
        {"GET", "/api/v1/workspaces/{ws}/components/{component}", h_comp_get, api, MAX_BODY},
        {"PATCH", "/api/v1/workspaces/{ws}/components/{component}", h_comp_patch, api, MAX_BODY},
        {"DELETE", "/api/v1/workspaces/{ws}/components/{component}", h_comp_delete, api, MAX_BODY},
        {"POST", "/api/v1/workspaces/{ws}/components/{component}/rotate", h_comp_rotate, api,
         MAX_BODY},
    };
    size_t n = QS_ARRAY_LEN(routes) < max ? QS_ARRAY_LEN(routes) : max;
    memcpy(out, routes, n * sizeof *routes);
    return n;
}
