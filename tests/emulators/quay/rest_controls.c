/* rest_controls.c — the /_emulator/ controls of the Quay emulator's REST API v1.
 *
 * Tests and the services' test scripts set the emulated Quay up and inspect it here, never
 * through the API itself (so nothing here is counted, faulted or written to the write log):
 * API tokens (add, revoke), private-repository plans, bulk seeding of organizations,
 * repositories (with state, visibility, tags, permissions), robots (with a given or generated
 * token) and mirror configurations — the same document the fixture may carry —, the write
 * log (every non-GET request the API answered, secrets redacted) and a dump of the state
 * without tokens or passwords. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emu.h"
#include "quay_emu.h"
#include "rest_internal.h"
#include "shared/common.h"

static const char *const all_scopes[] = {"repo:read", "repo:write", "repo:admin", "repo:create",
                                         "org:admin", "user:admin", "user:read"};

/* Store one API token entry (lock held). NULL, or why it was refused. */
static const char *token_put(const json_t *t, bool *replaced) {
    const char *tok = emu_json_str(t, "token"), *user = emu_json_str(t, "user");
    const json_t *scopes = json_object_get(t, "scopes"), *nss = json_object_get(t, "namespaces");
    if (!tok || !*tok || !user || !*user)
        return "an API token needs a non-empty \"token\" and \"user\"";
    size_t i;
    const json_t *v;
    if (scopes && !json_is_array(scopes))
        return "scopes must be an array of strings";
    json_array_foreach(scopes, i, v) {
        if (!json_is_string(v))
            return "scopes must be an array of strings";
    }
    if (nss && !json_is_array(nss))
        return "namespaces must be an array of strings";
    json_array_foreach(nss, i, v) {
        if (!json_is_string(v))
            return "namespaces must be an array of strings";
    }
    json_t *entry = json_pack("{s:s}", "user", user);
    if (scopes) {
        json_object_set_new(entry, "scopes", json_deep_copy(scopes));
    } else {
        json_t *all = json_array();
        for (i = 0; i < QS_ARRAY_LEN(all_scopes); i++)
            json_array_append_new(all, json_string(all_scopes[i]));
        json_object_set_new(entry, "scopes", all);
    }
    if (nss)
        json_object_set_new(entry, "namespaces", json_deep_copy(nss));
    *replaced = json_object_get(rs.tokens, tok) != NULL;
    json_object_set_new(rs.tokens, tok, entry);
    return NULL;
}

static void ok_answer(qs_req *r, int status) {
    qs_respond_json(r, status, json_pack("{s:b}", "ok", 1));
}

static void h_token_put(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    json_t *j = qs_req_json(r);
    if (!j)
        return;
    bool replaced = false;
    pthread_mutex_lock(&rest_mu);
    const char *why = token_put(j, &replaced);
    pthread_mutex_unlock(&rest_mu);
    json_decref(j);
    if (why)
        qs_respond_error(r, 400, "invalid_api_token", "%s", why);
    else
        ok_answer(r, replaced ? 200 : 201);
}

static void h_token_delete(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    pthread_mutex_lock(&rest_mu);
    int gone = json_object_del(rs.tokens, qs_req_param(r, "token"));
    pthread_mutex_unlock(&rest_mu);
    if (gone != 0)
        qs_respond_error(r, 404, "not_found", "no such API token");
    else
        ok_answer(r, 200);
}

/* Set one plan (lock held). NULL or why not. */
static const char *plan_put(const json_t *p) {
    const char *ns = emu_json_str(p, "namespace");
    json_t *n = json_object_get(p, "private_repos");
    if (!ns || !*ns)
        return "a plan needs \"namespace\"";
    if (!n || json_is_null(n) || (json_is_integer(n) && json_integer_value(n) < 0)) {
        json_object_del(rs.plans, ns);
        return NULL;
    }
    if (!json_is_integer(n))
        return "private_repos must be an integer (negative or null: unlimited)";
    json_object_set(rs.plans, ns, n);
    return NULL;
}

static void h_plan_put(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    json_t *j = qs_req_json(r);
    if (!j)
        return;
    pthread_mutex_lock(&rest_mu);
    const char *why = plan_put(j);
    pthread_mutex_unlock(&rest_mu);
    json_decref(j);
    if (why)
        qs_respond_error(r, 400, "invalid_plan", "%s", why);
    else
        ok_answer(r, 200);
}

/* One seeded repository (lock held): created, or updated when it exists. */
static const char *seed_repo(const json_t *s) {
    const char *ns = emu_json_str(s, "namespace"), *name = emu_json_str(s, "name");
    const char *state = emu_json_str(s, "state");
    const json_t *tags = json_object_get(s, "tags"), *perms = json_object_get(s, "permissions");
    if (!ns || !name || !*ns || !*name)
        return "a repository needs \"namespace\" and \"name\"";
    if (state && strcmp(state, "NORMAL") != 0 && strcmp(state, "READ_ONLY") != 0 &&
        strcmp(state, "MIRROR") != 0 && strcmp(state, "ORG_MIRROR") != 0)
        return "state must be NORMAL, READ_ONLY, MIRROR or ORG_MIRROR";
    if ((tags && !json_is_array(tags)) || (perms && !json_is_object(perms)))
        return "tags must be an array, permissions an object";
    if (!rest_org_exists(ns) && !rest_user_exists(ns))
        rest_org_add(ns, NULL, NULL);
    json_t *repo = rest_repo(ns, name);
    if (!repo) {
        char key[1400];
        snprintf(key, sizeof key, "%s/%s", ns, name);
        repo = rest_repo_new(ns, name, json_is_true(json_object_get(s, "is_public")),
                             emu_json_str(s, "description"));
        json_object_set_new(rs.repos, key, repo);
    } else if (json_object_get(s, "is_public")) {
        json_object_set(repo, "is_public", json_object_get(s, "is_public"));
    }
    if (state)
        json_object_set_new(repo, "state", json_string(state));
    size_t i;
    const json_t *t;
    long long now = (long long)time(NULL);
    json_array_foreach(tags, i, t) {
        const char *tn = emu_json_str(t, "name"), *dig = emu_json_str(t, "manifest_digest");
        if (!tn || !dig)
            return "a tag needs \"name\" and \"manifest_digest\"";
        json_t *tag =
            json_pack("{s:s, s:s, s:O?, s:O?, s:O?}", "name", tn, "manifest_digest", dig, "size",
                      json_object_get(t, "size"), "start_ts", json_object_get(t, "start_ts"),
                      "end_ts", json_object_get(t, "end_ts"));
        if (!json_is_integer(json_object_get(tag, "size")))
            json_object_set_new(tag, "size", json_integer(1024));
        if (!json_is_integer(json_object_get(tag, "end_ts")))
            json_object_del(tag, "end_ts");
        if (!json_is_integer(json_object_get(tag, "start_ts")))
            json_object_set_new(tag, "start_ts", json_integer(now - 3600 + (json_int_t)i));
        json_t *list = json_object_get(repo, "tags"), *old;
        size_t k, at = json_array_size(list);
        json_array_foreach(list, k, old) {
            if (strcmp(emu_json_str(old, "name"), tn) == 0)
                at = k;
        }
        if (at < json_array_size(list))
            json_array_set_new(list, at, tag); /* re-seeding a tag replaces it */
        else
            json_array_append_new(list, tag);
    }
    const char *u;
    json_t *role;
    json_object_foreach((json_t *)perms, u, role) {
        if (!json_is_string(role))
            return "a permission role must be a string";
        rest_grant(repo, u, json_string_value(role));
    }
    return NULL;
}

static const char *seed_one_org(const json_t *o) {
    const char *name = json_is_string(o) ? json_string_value(o) : emu_json_str(o, "name");
    if (!name || !rest_name_ok(name))
        return "an organization needs a valid name";
    if (!rest_org_exists(name))
        rest_org_add(name, emu_json_str(o, "email"), emu_json_str(o, "admin"));
    return NULL;
}

static const char *seed_robot(const json_t *b, json_t *tokens_out) {
    const char *org = emu_json_str(b, "org"), *sh = emu_json_str(b, "short");
    const char *tok = emu_json_str(b, "token");
    if (!org || !sh || !rest_name_ok(sh))
        return "a robot needs \"org\" and a valid \"short\" name";
    if (!rest_org_exists(org))
        rest_org_add(org, NULL, NULL);
    char full[600];
    snprintf(full, sizeof full, "%s+%s", org, sh);
    json_t *robot = rest_robot(full);
    if (!robot)
        robot = rest_robot_add(org, sh, emu_json_str(b, "description"), tok);
    else if (tok)
        json_object_set_new(robot, "token", json_string(tok));
    json_object_set(tokens_out, full, json_object_get(robot, "token"));
    return NULL;
}

typedef const char *(*seed_item_fn)(const json_t *item);

/* Apply every item of array `key` of `s` with `fn`; NULL, or the first complaint (in *why). */
static const char *seed_list(const json_t *s, const char *key, seed_item_fn fn, char *why,
                             size_t n) {
    const json_t *list = json_object_get(s, key);
    if (list && !json_is_array(list)) {
        snprintf(why, n, "%s must be an array", key);
        return why;
    }
    size_t i;
    const json_t *item;
    json_array_foreach(list, i, item) {
        const char *e = fn(item);
        if (e) {
            snprintf(why, n, "%s[%zu]: %s", key, i, e);
            return why;
        }
    }
    return NULL;
}

static const char *seed_mirror(const json_t *m) {
    json_t *repo = rest_repo(emu_json_str(m, "namespace") ? emu_json_str(m, "namespace") : "",
                             emu_json_str(m, "name") ? emu_json_str(m, "name") : "");
    if (!repo)
        return "a mirror needs the \"namespace\" and \"name\" of a seeded repository";
    return rest_mirror_seed(repo, json_object_get(m, "config"));
}

static const char *seed_token(const json_t *t) {
    bool replaced;
    return token_put(t, &replaced);
}

const char *rest_seed_apply(const json_t *s, json_t *robots, char *why, size_t n) {
    if (seed_list(s, "api_tokens", seed_token, why, n) ||
        seed_list(s, "organizations", seed_one_org, why, n) ||
        seed_list(s, "plans", plan_put, why, n) || seed_list(s, "repositories", seed_repo, why, n))
        return why;
    const json_t *list = json_object_get(s, "robots");
    if (list && !json_is_array(list)) {
        snprintf(why, n, "robots must be an array");
        return why;
    }
    size_t i;
    const json_t *b;
    json_array_foreach(list, i, b) {
        const char *e = seed_robot(b, robots);
        if (e) {
            snprintf(why, n, "robots[%zu]: %s", i, e);
            return why;
        }
    }
    return seed_list(s, "mirrors", seed_mirror, why, n);
}

static void h_seed(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    json_t *j = qs_req_json(r);
    if (!j)
        return;
    char why[512] = "";
    json_t *robots = json_object();
    pthread_mutex_lock(&rest_mu);
    const char *bad = json_is_object(j) ? rest_seed_apply(j, robots, why, sizeof why)
                                        : "the seed must be a JSON object";
    pthread_mutex_unlock(&rest_mu);
    json_decref(j);
    if (bad) {
        json_decref(robots);
        qs_respond_error(r, 400, "invalid_seed", "%s", bad);
        return;
    }
    qs_respond_json(r, 200, json_pack("{s:b, s:o}", "ok", 1, "robots", robots));
}

static void h_writes(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    pthread_mutex_lock(&rest_mu);
    json_t *copy = json_deep_copy(rs.writes);
    pthread_mutex_unlock(&rest_mu);
    qs_respond_json(r, 200, copy);
}

static void h_writes_clear(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    pthread_mutex_lock(&rest_mu);
    json_array_clear(rs.writes);
    pthread_mutex_unlock(&rest_mu);
    ok_answer(r, 200);
}

static json_t *state_dump(void) {
    json_t *orgs = json_object(), *repos = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(rs.orgs, k, v) {
        json_t *robots = json_array();
        const char *rk;
        json_t *rv;
        json_object_foreach(json_object_get(v, "robots"), rk, rv) {
            json_array_append_new(robots,
                                  json_pack("{s:O, s:O}", "name", json_object_get(rv, "name"),
                                            "description", json_object_get(rv, "description")));
        }
        json_object_set_new(orgs, k,
                            json_pack("{s:O, s:O, s:o, s:O}", "email", json_object_get(v, "email"),
                                      "admins", json_object_get(v, "admins"), "robots", robots,
                                      "prototypes", json_object_get(v, "prototypes")));
    }
    json_object_foreach(rs.repos, k, v) {
        json_t *tags = json_array(), *mirror = json_object_get(v, "mirror");
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(v, "tags"), i, t) {
            json_array_append(tags, json_object_get(t, "name"));
        }
        json_t *entry = json_pack("{s:O, s:O, s:O, s:O, s:o}", "state", json_object_get(v, "state"),
                                  "is_public", json_object_get(v, "is_public"), "description",
                                  json_object_get(v, "description"), "permissions",
                                  json_object_get(v, "permissions"), "tags", tags);
        if (mirror) {
            json_t *view = rest_mirror_view(mirror);
            json_object_set_new(view, "has_password",
                                json_boolean(json_is_string(
                                    json_object_get(mirror, "external_registry_password"))));
            json_object_set_new(entry, "mirror", view);
        }
        json_object_set_new(repos, k, entry);
    }
    return json_pack("{s:o, s:o, s:O}", "organizations", orgs, "repositories", repos, "plans",
                     rs.plans);
}

static void h_state(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    pthread_mutex_lock(&rest_mu);
    json_t *out = state_dump();
    pthread_mutex_unlock(&rest_mu);
    qs_respond_json(r, 200, out);
}

/* Forget organizations, repositories, plans and writes (API tokens stay). */
static void h_reset(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    pthread_mutex_lock(&rest_mu);
    json_object_clear(rs.orgs);
    json_object_clear(rs.repos);
    json_object_clear(rs.plans);
    json_array_clear(rs.writes);
    pthread_mutex_unlock(&rest_mu);
    ok_answer(r, 200);
}

static const qs_route control_routes[] = {
    {"POST", "/_emulator/api_tokens", h_token_put, NULL, 0},
    {"DELETE", "/_emulator/api_tokens/{token}", h_token_delete, NULL, 0},
    {"PUT", "/_emulator/plans", h_plan_put, NULL, 0},
    {"POST", "/_emulator/seed", h_seed, NULL, 64u << 20},
    {"GET", "/_emulator/writes", h_writes, NULL, 0},
    {"DELETE", "/_emulator/writes", h_writes_clear, NULL, 0},
    {"GET", "/_emulator/state", h_state, NULL, 0},
    {"DELETE", "/_emulator/rest", h_reset, NULL, 0},
};

size_t quay_rest_control_routes(const qs_route **out) {
    *out = control_routes;
    return QS_ARRAY_LEN(control_routes);
}
