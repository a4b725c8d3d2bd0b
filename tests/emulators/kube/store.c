/* store.c — the Kubernetes emulator's state: who may call the API, which tokens belong to
 * which users, and which permissions RBAC would grant.
 *
 * Everything is JSON held behind one mutex: the service account token, an object mapping
 * bearer tokens to {"username","uid","groups"}, and an array of permission entries. A
 * permission names its subject ("user", or "user_group" for a group of users) and the
 * resource attributes it allows, under the same keys as a SubjectAccessReview's
 * resourceAttributes ("namespace", "verb", "group" = API group, "resource", "subresource");
 * "*" matches anything and a missing attribute means the empty string, so
 * {"subresource":""} and no key are the same (no subresource). Tests add users, revoke tokens and
 * grant permissions at run time through the control routes here. Tokens are never logged. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "emu.h"
#include "kube_emu.h"
#include "shared/common.h"
#include "shared/log.h"

static pthread_mutex_t store_mu = PTHREAD_MUTEX_INITIALIZER;
static char *sa_token;
static json_t *users;       /* token -> {"username","uid","groups"} */
static json_t *permissions; /* [ {"user"|"user_group", "namespace", ...} ] */

/* The attributes a permission constrains (same keys as resourceAttributes). */
static const char *const attr_keys[] = {"namespace", "verb", "group", "resource", "subresource"};

/* Build the stored form of a user; NULL + reason when the JSON is not a valid user. */
static json_t *user_parse(const json_t *u, const char **why) {
    const char *token = emu_json_str(u, "token"), *name = emu_json_str(u, "username");
    const char *uid = emu_json_str(u, "uid");
    const json_t *groups = json_object_get(u, "groups");
    if (!token || !*token || !name || !*name) {
        *why = "a user needs a non-empty token and username";
        return NULL;
    }
    if (groups && !json_is_array(groups)) {
        *why = "groups must be an array of strings";
        return NULL;
    }
    json_t *g = json_array();
    bool has_authenticated = false;
    size_t i;
    json_t *v;
    json_array_foreach(groups, i, v) {
        if (!json_is_string(v)) {
            json_decref(g);
            *why = "groups must be an array of strings";
            return NULL;
        }
        has_authenticated |= strcmp(json_string_value(v), "system:authenticated") == 0;
        json_array_append(g, v);
    }
    /* The API server adds this group to every authenticated user. */
    if (!has_authenticated)
        json_array_append_new(g, json_string("system:authenticated"));
    char fake_uid[64];
    snprintf(fake_uid, sizeof fake_uid, "uid-%s", name);
    return json_pack("{s:s, s:s, s:o}", "username", name, "uid", uid ? uid : fake_uid, "groups", g);
}

static const char *permission_check(const json_t *p) {
    if (!json_is_object(p))
        return "a permission must be an object";
    if (!emu_json_str(p, "user") == !emu_json_str(p, "user_group"))
        return "a permission needs exactly one of \"user\" and \"user_group\"";
    for (size_t i = 0; i < QS_ARRAY_LEN(attr_keys); i++) {
        const json_t *v = json_object_get(p, attr_keys[i]);
        if (v && !json_is_string(v))
            return "permission attributes must be strings";
    }
    return NULL;
}

/* Add users (replacing same tokens) under the lock. NULL or the reason of the first bad one. */
static const char *users_add(const json_t *arr) {
    size_t i;
    json_t *u;
    json_array_foreach(arr, i, u) {
        const char *why = NULL;
        json_t *stored = user_parse(u, &why);
        if (!stored)
            return why;
        json_object_set_new(users, emu_json_str(u, "token"), stored);
    }
    return NULL;
}

int kube_store_load(const json_t *fixture, char *err, size_t errlen) {
    const char *sa = emu_json_str(fixture, "service_account_token");
    const json_t *us = json_object_get(fixture, "users");
    const json_t *ps = json_object_get(fixture, "permissions");
    if (!sa || !*sa) {
        snprintf(err, errlen, "fixture: service_account_token is required");
        return -1;
    }
    if ((us && !json_is_array(us)) || (ps && !json_is_array(ps))) {
        snprintf(err, errlen, "fixture: users and permissions must be arrays");
        return -1;
    }
    pthread_mutex_lock(&store_mu);
    sa_token = strdup(sa);
    users = json_object();
    permissions = json_array();
    const char *why = us ? users_add(us) : NULL;
    size_t i;
    json_t *p;
    json_array_foreach(ps, i, p) {
        if (!why && !(why = permission_check(p)))
            json_array_append(permissions, p);
    }
    pthread_mutex_unlock(&store_mu);
    if (why) {
        snprintf(err, errlen, "fixture: %s", why);
        return -1;
    }
    return 0;
}

bool kube_store_sa_ok(const char *token) {
    pthread_mutex_lock(&store_mu);
    bool ok = token && sa_token && strcmp(token, sa_token) == 0;
    pthread_mutex_unlock(&store_mu);
    return ok;
}

json_t *kube_store_user(const char *token) {
    pthread_mutex_lock(&store_mu);
    json_t *u = json_deep_copy(json_object_get(users, token));
    pthread_mutex_unlock(&store_mu);
    return u;
}

static bool value_ok(const char *have, const char *want) {
    if (!have)
        have = "";
    return strcmp(have, "*") == 0 || strcmp(have, want ? want : "") == 0;
}

static bool subject_ok(const json_t *p, const json_t *spec) {
    const char *user = emu_json_str(p, "user"), *group = emu_json_str(p, "user_group");
    const char *who = emu_json_str(spec, "user");
    if (user && who && value_ok(user, who))
        return true;
    if (!group)
        return false;
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(spec, "groups"), i, g) {
        if (json_is_string(g) && value_ok(group, json_string_value(g)))
            return true;
    }
    return false;
}

bool kube_store_allowed(const json_t *spec, char *reason, size_t rlen) {
    const json_t *attrs = json_object_get(spec, "resourceAttributes");
    bool allowed = false;
    pthread_mutex_lock(&store_mu);
    size_t i;
    json_t *p;
    json_array_foreach(permissions, i, p) {
        bool ok = subject_ok(p, spec);
        for (size_t k = 0; ok && k < QS_ARRAY_LEN(attr_keys); k++)
            ok = value_ok(emu_json_str(p, attr_keys[k]), emu_json_str(attrs, attr_keys[k]));
        if (ok) {
            const char *u = emu_json_str(p, "user");
            snprintf(reason, rlen, "RBAC: allowed by emulator permission #%zu to %s \"%s\"", i,
                     u ? "User" : "Group", u ? u : emu_json_str(p, "user_group"));
            allowed = true;
            break;
        }
    }
    pthread_mutex_unlock(&store_mu);
    return allowed;
}

/* ---- control routes ---- */

static void h_token_add(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    json_t *j = qs_req_json(r);
    if (!j)
        return;
    json_t *one = json_pack("[O]", j);
    pthread_mutex_lock(&store_mu);
    const char *why = users_add(one);
    pthread_mutex_unlock(&store_mu);
    if (!why)
        qs_log(QS_LOG_INFO, "user added", "username", emu_json_str(j, "username"), NULL);
    json_decref(one);
    json_decref(j);
    if (why)
        kube_status(r, 400, why);
    else
        qs_respond_json(r, 201, json_pack("{s:b}", "ok", 1));
}

static void h_token_revoke(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    const char *token = qs_req_param(r, "token");
    pthread_mutex_lock(&store_mu);
    int rc = token ? json_object_del(users, token) : -1;
    pthread_mutex_unlock(&store_mu);
    if (rc != 0) {
        kube_status(r, 404, "no such token");
        return;
    }
    qs_log(QS_LOG_INFO, "token revoked", NULL);
    qs_respond_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static void h_permission_add(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    json_t *j = qs_req_json(r);
    if (!j)
        return;
    const char *why = permission_check(j);
    if (!why) {
        pthread_mutex_lock(&store_mu);
        json_array_append(permissions, j);
        pthread_mutex_unlock(&store_mu);
    }
    json_decref(j);
    if (why)
        kube_status(r, 400, why);
    else
        qs_respond_json(r, 201, json_pack("{s:b}", "ok", 1));
}

static void h_permission_clear(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    pthread_mutex_lock(&store_mu);
    json_array_clear(permissions);
    pthread_mutex_unlock(&store_mu);
    qs_respond_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static const qs_route store_routes[] = {
    {"POST", "/_emulator/tokens", h_token_add, NULL, 0},
    {"DELETE", "/_emulator/tokens/{token}", h_token_revoke, NULL, 0},
    {"POST", "/_emulator/permissions", h_permission_add, NULL, 0},
    {"DELETE", "/_emulator/permissions", h_permission_clear, NULL, 0},
};

size_t kube_store_routes(const qs_route **out) {
    *out = store_routes;
    return QS_ARRAY_LEN(store_routes);
}
