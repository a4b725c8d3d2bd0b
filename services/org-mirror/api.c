/* api.c — the org-mirror's HTTP API (proto/org-mirror.openapi.yaml).
 *
 *   GET  /api/v1/orgs              {"organizations":[status...]}: per organisation the source
 *                                  and destination repository counts, created, configured,
 *                                  updated, unchanged, skipped, failed, last run start/end,
 *                                  last error (status written by the run, store.c)
 *   GET  /api/v1/orgs/{org}        one of them (404 for an organisation not mirrored here)
 *   GET  /api/v1/orgs/{org}/plan   the last (or current) run's per-repository records:
 *                                  action (create/configure/update/unchanged/skip), outcome,
 *                                  destination state, changed fields, error. With DRY_RUN this
 *                                  is the plan and nothing was written.
 *   POST /api/v1/orgs/{org}/sync   start a run now (bearer token from API_TOKEN_FILE): 202, or
 *                                  409 when one is running
 * Everything is read from Redis, so any replica answers for a run another one coordinated; a
 * Redis outage is 503. The token is compared in constant time and re-read when the Secret
 * rotates; without API_TOKEN_FILE the POST answers 403. Readiness: Redis answers PING and every
 * Quay (or registry) answers HTTP at all, probed at most every 5 s. */
#include "org-mirror/api.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "org-mirror/plan.h"
#include "org-mirror/store.h"
#include "shared/api_token.h"
#include "shared/common.h"
#include "shared/log.h"

#define READY_CACHE_S 5

/* A status for an organisation that never ran. */
static json_t *never_run(const orgm_ctx *c, const orgm_org *o) {
    return json_pack("{s:s,s:s,s:s,s:b,s:b,s:i,s:s,s:n,s:n,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:n,"
                     "s:n,s:n,s:n}",
                     "organization", o->name, "destination_organization", o->destination, "mode",
                     c->s->mode == ORGM_MODE_COPY ? "copy" : "mirror", "dry_run", c->s->dry_run,
                     "running", 0, "generation", 0, "result", "never_run", "source", "destination",
                     "created", 0, "configured", 0, "updated", 0, "unchanged", 0, "skipped", 0,
                     "failed", 0, "pending", 0, "last_run_start", "last_run_end",
                     "last_run_duration_seconds", "last_error");
}

/* The status of organisation o as served: 0 or QS_EUNAVAIL. */
static int org_status(orgm_api *api, const orgm_org *o, json_t **out) {
    int rc = orgm_store_status(api->redis, o->name, out);
    if (rc == QS_ENOTFOUND || rc == QS_EPROTO) {
        json_decref(*out);
        *out = never_run(api->c, o);
        return QS_OK;
    }
    if (rc == QS_OK) {
        json_object_del(*out, "last_run_start_ms"); /* internal */
        json_object_set_new(*out, "interval", json_integer(o->interval));
    }
    return rc;
}

static void h_orgs(qs_req *r, void *ctx) {
    orgm_api *api = ctx;
    json_t *arr = json_array();
    for (size_t i = 0; i < api->c->s->orgs.n; i++) {
        json_t *st = NULL;
        if (org_status(api, &api->c->s->orgs.v[i], &st) != QS_OK) {
            json_decref(arr);
            qs_respond_error(r, 503, "redis_unavailable",
                             "the status store (Redis) is unavailable");
            return;
        }
        json_array_append_new(arr, st);
    }
    qs_respond_json(r, 200, json_pack("{s:o}", "organizations", arr));
}

static const orgm_org *find_org(orgm_api *api, qs_req *r) {
    const char *name = qs_req_param(r, "org");
    const orgm_org *o = orgm_orgs_find(&api->c->s->orgs, name);
    if (!o)
        qs_respond_error(r, 404, "unknown_organization",
                         "organization \"%.100s\" is not mirrored by this service",
                         name ? name : "");
    return o;
}

static void h_org(qs_req *r, void *ctx) {
    orgm_api *api = ctx;
    const orgm_org *o = find_org(api, r);
    json_t *st = NULL;
    if (!o)
        return;
    if (org_status(api, o, &st) != QS_OK)
        qs_respond_error(r, 503, "redis_unavailable", "the status store (Redis) is unavailable");
    else
        qs_respond_json(r, 200, st);
}

static int by_name(const void *a, const void *b) {
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "repository"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "repository"));
    return strcmp(x ? x : "", y ? y : "");
}

static void h_plan(qs_req *r, void *ctx) {
    orgm_api *api = ctx;
    const orgm_org *o = find_org(api, r);
    if (!o)
        return;
    json_t *st = NULL, *results = NULL;
    int rc = orgm_store_status(api->redis, o->name, &st);
    if (rc == QS_ENOTFOUND) {
        qs_respond_error(r, 404, "no_run_yet", "organization %s has not been run yet", o->name);
        return;
    }
    if (rc != QS_OK || orgm_store_results(api->redis, o->name, &results) != QS_OK) {
        json_decref(st);
        qs_respond_error(r, 503, "redis_unavailable", "the status store (Redis) is unavailable");
        return;
    }
    long long gen = json_integer_value(json_object_get(st, "generation"));
    size_t n = 0, cap = json_object_size(results);
    json_t **v = calloc(cap ? cap : 1, sizeof *v);
    const char *name;
    json_t *res;
    orgm_counts counts = {0};
    json_object_foreach(results, name, res) {
        if (v && json_integer_value(json_object_get(res, "gen")) >= gen) {
            v[n++] = res;
            orgm_counts_add(&counts, res);
        }
    }
    if (v)
        qsort(v, n, sizeof *v, by_name);
    json_t *arr = json_array(), *summary = json_object();
    for (size_t i = 0; i < n; i++)
        json_array_append(arr, v[i]);
    for (int i = 0; i < ORGM_OUT__N; i++)
        json_object_set_new(summary, orgm_outcome_name((orgm_outcome)i), json_integer(counts.n[i]));
    free(v);
    json_t *body =
        json_pack("{s:s,s:s,s:b,s:b,s:I,s:O?,s:O?,s:o,s:o}", "organization", o->name,
                  "destination_organization", o->destination, "dry_run", api->c->s->dry_run,
                  "complete", !json_is_true(json_object_get(st, "running")), "generation",
                  (json_int_t)gen, "run_start", json_object_get(st, "last_run_start"), "source",
                  json_object_get(st, "source"), "summary", summary, "repositories", arr);
    json_decref(st);
    json_decref(results);
    if (!body)
        qs_respond_error(r, 500, "internal", "out of memory");
    else
        qs_respond_json(r, 200, body);
}

static void h_sync(qs_req *r, void *ctx) {
    orgm_api *api = ctx;
    if (!qs_require_bearer(r, api->api_token, "org-mirror"))
        return;
    const orgm_org *o = find_org(api, r);
    if (!o)
        return;
    size_t oi = orgm_ctx_org(api->c, o->name);
    int held = 0;
    if (orgm_store_locked(api->redis, o->name, &held) != QS_OK) {
        qs_respond_error(r, 503, "redis_unavailable", "the status store (Redis) is unavailable");
        return;
    }
    int rc = held ? QS_ECONFLICT : orgm_run_async(api->runner, oi, "api");
    if (rc == QS_ECONFLICT) {
        qs_respond_error(r, 409, "already_running", "a run of %s is in progress", o->name);
        return;
    }
    if (rc != QS_OK) {
        qs_respond_error(r, 503, "cannot_start", "a run of %s could not be started", o->name);
        return;
    }
    qs_log(QS_LOG_INFO, "run requested", "org", o->name, "remote", qs_req_remote(r), NULL);
    qs_respond_json(r, 202, json_pack("{s:s,s:b}", "organization", o->name, "started", 1));
}

size_t orgm_api_routes(orgm_api *api, qs_route *out, size_t max) {
    const qs_route routes[] = {
        {"GET", "/api/v1/orgs", h_orgs, api, 0},
        {"GET", "/api/v1/orgs/{org}", h_org, api, 0},
        {"GET", "/api/v1/orgs/{org}/plan", h_plan, api, 0},
        {"POST", "/api/v1/orgs/{org}/sync", h_sync, api, 4096},
    };
    size_t n = QS_ARRAY_LEN(routes) < max ? QS_ARRAY_LEN(routes) : max;
    memcpy(out, routes, n * sizeof *routes);
    return n;
}

/* Does `url` answer HTTP at all (any status)? */
static bool answers(qs_http *http, const char *url) {
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url;
    req.max_attempts = 1;
    req.timeout_ms = 3000;
    req.no_body = true;
    qs_http_resp resp = {0};
    int rc = qs_http_do(http, &req, &resp);
    bool ok = rc == QS_OK && resp.status > 0;
    qs_http_resp_free(&resp);
    return ok;
}

bool orgm_api_ready(void *ctx, qs_buf *why) {
    orgm_api *api = ctx;
    if (!qs_redis_ping(api->redis)) {
        qs_buf_puts(why, "Redis unreachable");
        return false;
    }
    pthread_mutex_lock(&api->ready_mu);
    time_t now = time(NULL);
    if (now - api->ready_checked >= READY_CACHE_S) {
        const orgm_settings *s = api->c->s;
        bool registry = s->mode == ORGM_MODE_COPY;
        char src[400], dst[400];
        snprintf(src, sizeof src, "%s%s", s->source.url,
                 s->source_kind == ORGM_SOURCE_REGISTRY ? "/v2/" : "/api/v1/discovery");
        snprintf(dst, sizeof dst, "%s%s", s->destination.url,
                 registry ? "/v2/" : "/api/v1/discovery");
        api->ready_why[0] = '\0';
        if (!answers(api->c->http, src))
            snprintf(api->ready_why, sizeof api->ready_why, "source %s unreachable",
                     s->source.host);
        else if (!answers(api->c->http, dst))
            snprintf(api->ready_why, sizeof api->ready_why, "destination %s unreachable",
                     s->destination.host);
        api->ready_checked = now;
    }
    bool ok = api->ready_why[0] == '\0';
    if (!ok)
        qs_buf_puts(why, api->ready_why);
    pthread_mutex_unlock(&api->ready_mu);
    return ok;
}
