/* api.c — the mirror service's HTTP API, as ci-images-mirror's plus what operators asked for.
 *
 *   GET  /api/health                         {"ok":true}
 *   GET  /api/v1/mirrors?action=summarize    {"total":N,"waiting","in_progress","delayed","failed"}
 *   GET  /api/v1/mirrors?action=show&limit=N {"mirrors":[task...],"total":N}
 *   GET  /api/v1/mirrors?action=failed&limit=N   dead-lettered tasks, same shape
 *   POST /api/v1/mirrors                     enqueue {"source","destination"} (bearer token)
 *   POST /api/v1/mirrors/retry               requeue dead tasks, all or {"id"} (bearer token)
 * A task shows the original's fields (source_tag_ref, source, destination,
 * current_quay_digest, created_at, stale, owner) plus state, attempts and last_error.
 * Bad parameters are 400 with a JSON reason, never a 500; a Redis outage is 503. The write
 * endpoints compare the bearer token with API_TOKEN_FILE in constant time (re-read on
 * rotation) and are refused (403) when no token is configured. */
#include "mirror/api.h"

#include <stdlib.h>
#include <string.h>

#include "mirror/naming.h"
#include "mirror/task.h"
#include "shared/api_token.h"
#include "shared/common.h"
#include "shared/log.h"

#define DEFAULT_LIMIT 100
#define MAX_LIMIT 5000

static void h_health(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    qs_respond_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static bool parse_limit(qs_req *r, size_t *limit) {
    const char *v = qs_req_query(r, "limit");
    *limit = DEFAULT_LIMIT;
    if (!v)
        return true;
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < 1 || n > MAX_LIMIT) {
        qs_respond_error(r, 400, "invalid_limit", "limit must be an integer from 1 to %d",
                         MAX_LIMIT);
        return false;
    }
    *limit = (size_t)n;
    return true;
}

/* A queue task as the API shows it: the payload's fields plus the queue's. */
static json_t *task_view(const qs_task *t) {
    json_t *o = json_loads(t->payload ? t->payload : "{}", 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        o = json_object();
    }
    json_object_set_new(o, "id", json_string(t->id ? t->id : ""));
    json_object_set_new(o, "state", json_string(qs_task_state_name(t->state)));
    json_object_set_new(o, "attempts", json_integer(t->attempts));
    json_object_set_new(o, "last_error", t->last_error ? json_string(t->last_error) : json_null());
    return o;
}

static void list_states(mirror_api *api, qs_req *r, const qs_task_state *states, size_t nstates) {
    size_t limit;
    if (!parse_limit(r, &limit))
        return;
    json_t *arr = json_array();
    for (size_t s = 0; s < nstates && json_array_size(arr) < limit; s++) {
        qs_task *tasks = NULL;
        size_t n = 0;
        if (qs_queue_list(api->queue, states[s], limit - json_array_size(arr), &tasks, &n) !=
            QS_OK) {
            json_decref(arr);
            qs_respond_error(r, 503, "queue_unavailable", "the task queue (Redis) is unavailable");
            return;
        }
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, task_view(&tasks[i]));
        qs_tasks_free(tasks, n);
    }
    size_t total = json_array_size(arr);
    qs_respond_json(r, 200, json_pack("{s:o,s:I}", "mirrors", arr, "total", (json_int_t)total));
}

static void h_mirrors(qs_req *r, void *ctx) {
    mirror_api *api = ctx;
    const char *action = qs_req_query(r, "action");
    if (!action) {
        qs_respond_error(r, 400, "missing_action", "action is required: summarize, show or failed");
    } else if (strcmp(action, "summarize") == 0) {
        qs_queue_counts c;
        if (qs_queue_get_counts(api->queue, &c) != QS_OK) {
            qs_respond_error(r, 503, "queue_unavailable", "the task queue (Redis) is unavailable");
            return;
        }
        qs_respond_json(r, 200,
                        json_pack("{s:I,s:I,s:I,s:I,s:I}", "total",
                                  (json_int_t)(c.waiting + c.in_progress + c.delayed), "waiting",
                                  (json_int_t)c.waiting, "in_progress", (json_int_t)c.in_progress,
                                  "delayed", (json_int_t)c.delayed, "failed", (json_int_t)c.dead));
    } else if (strcmp(action, "show") == 0) {
        static const qs_task_state live[] = {QS_TASK_IN_PROGRESS, QS_TASK_WAITING, QS_TASK_DELAYED};
        list_states(api, r, live, QS_ARRAY_LEN(live));
    } else if (strcmp(action, "failed") == 0) {
        static const qs_task_state dead[] = {QS_TASK_DEAD};
        list_states(api, r, dead, 1);
    } else {
        qs_respond_error(r, 400, "invalid_action",
                         "unknown action \"%.40s\": use summarize, show or failed", action);
    }
}

static void h_enqueue(qs_req *r, void *ctx) {
    mirror_api *api = ctx;
    if (!qs_require_bearer(r, api->api_token, "mirror"))
        return;
    json_t *j = qs_req_json(r);
    if (!j)
        return;
    mirror_task t = {0};
    const char *src = json_string_value(json_object_get(j, "source"));
    const char *dst = json_string_value(json_object_get(j, "destination"));
    mirror_ref sr, dr;
    if (!src || !dst || mirror_ref_parse(&sr, src, "docker.io") != QS_OK ||
        mirror_ref_parse(&dr, dst, "docker.io") != QS_OK || !dr.tag[0] || dr.digest[0]) {
        json_decref(j);
        qs_respond_error(r, 400, "invalid_task",
                         "source must be an image reference and destination host/repository:tag");
        return;
    }
    snprintf(t.want.source, sizeof t.want.source, "%s", src);
    snprintf(t.want.destination, sizeof t.want.destination, "%s", dst);
    t.want.owner = "api";
    t.want.date_tag = json_is_true(json_object_get(j, "date_tag"));
    json_decref(j);
    json_t *payload = mirror_task_to_json(&t);
    char *text = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(payload);
    qs_enqueue_result res;
    int rc = text ? qs_queue_enqueue(api->queue, text, t.want.destination, &res) : QS_ENOMEM;
    free(text);
    if (rc != QS_OK) {
        qs_respond_error(r, 503, "queue_unavailable", "the task queue (Redis) is unavailable");
        return;
    }
    static const char *const names[] = {"added", "replaced", "after_running"};
    qs_respond_json(
        r, 202, json_pack("{s:s,s:s}", "result", names[res], "destination", t.want.destination));
}

static void h_retry(qs_req *r, void *ctx) {
    mirror_api *api = ctx;
    if (!qs_require_bearer(r, api->api_token, "mirror"))
        return;
    size_t len = 0;
    qs_req_body(r, &len);
    json_t *j = len ? qs_req_json(r) : json_object();
    if (!j)
        return;
    const json_t *idv = json_object_get(j, "id");
    if (idv && !json_is_string(idv)) {
        json_decref(j);
        qs_respond_error(r, 400, "invalid_id", "id must be a string (a dead task's id)");
        return;
    }
    size_t moved = 0;
    int rc = qs_queue_retry_dead(api->queue, idv ? json_string_value(idv) : NULL, &moved);
    json_decref(j);
    if (rc == QS_ENOTFOUND)
        qs_respond_error(r, 404, "not_found", "no dead task with that id");
    else if (rc != QS_OK)
        qs_respond_error(r, 503, "queue_unavailable", "the task queue (Redis) is unavailable");
    else
        qs_respond_json(r, 200, json_pack("{s:I}", "retried", (json_int_t)moved));
}

size_t mirror_api_routes(mirror_api *api, qs_route *out, size_t max) {
    const qs_route routes[] = {
        {"GET", "/api/health", h_health, api, 0},
        {"GET", "/api/v1/mirrors", h_mirrors, api, 0},
        {"POST", "/api/v1/mirrors", h_enqueue, api, 64 * 1024},
        {"POST", "/api/v1/mirrors/retry", h_retry, api, 64 * 1024},
    };
    size_t n = QS_ARRAY_LEN(routes) < max ? QS_ARRAY_LEN(routes) : max;
    memcpy(out, routes, n * sizeof *routes);
    return n;
}
