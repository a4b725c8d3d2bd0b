/* quay_calls.c — the Quay REST API v1 calls of quay.h, each one qs_quay_call (quay.c).
 *
 * Paths are built here: names are percent-encoded per segment except '/', '+' and the
 * unreserved characters (a repository name may hold '/', a robot user name holds '+'),
 * query values entirely. The listings follow Quay's two pagination styles with loop guards:
 * repositories by the opaque `next_page` token until the key is absent (a token seen twice,
 * or more than 10 000 pages, is QS_EPROTO — Quay answers page 1 for a token it cannot
 * decode, which would otherwise loop forever), tags by page number until `has_additional`
 * is false (at most 1000 pages). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/buf.h"
#include "shared/common.h"
#include "shared/quay.h"

#define MAX_REPO_PAGES 10000
#define MAX_TAG_PAGES 1000

/* Append `s` percent-encoded; `keep` lists the reserved characters left as they are. */
static void put_enc(qs_buf *b, const char *s, const char *keep) {
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || strchr("-._~", c) || (keep && strchr(keep, c)))
            qs_buf_append(b, s, 1);
        else
            qs_buf_printf(b, "%%%02X", c);
    }
}

/* "/repository/<ns>/<repo><suffix>" in *b. */
static void repo_path(qs_buf *b, const char *ns, const char *repo, const char *suffix) {
    qs_buf_puts(b, "/repository/");
    put_enc(b, ns, "+");
    qs_buf_puts(b, "/");
    put_enc(b, repo, "/+");
    qs_buf_puts(b, suffix);
}

/* "/organization/<org><mid><item><suffix>" in *b (mid/item/suffix may be NULL). */
static void org_path(qs_buf *b, const char *org, const char *mid, const char *item,
                     const char *suffix) {
    qs_buf_puts(b, "/organization/");
    put_enc(b, org, "+");
    if (mid)
        qs_buf_puts(b, mid);
    if (item)
        put_enc(b, item, "+");
    if (suffix)
        qs_buf_puts(b, suffix);
}

static bool arg_ok(const char *s) { return s && *s; }

static int bad_arg(qs_quay_error *err, const char *what) {
    if (err) {
        memset(err, 0, sizeof *err);
        snprintf(err->message, sizeof err->message, "quay: %s", what);
    }
    return QS_EINVAL;
}

/* Run `method` on the path in `b` (freed), optional body (decref'd). */
static int call(qs_quay *q, const char *method, qs_buf *b, json_t *body, json_t **out,
                qs_quay_error *err) {
    int rc = qs_quay_call(q, method, qs_buf_str(b), body, out, err);
    qs_buf_free(b);
    json_decref(body);
    return rc;
}

static int protocol_error(qs_quay_error *err, long status, const char *msg) {
    if (err) {
        memset(err, 0, sizeof *err);
        err->status = status;
        snprintf(err->message, sizeof err->message, "%s", msg);
    }
    return QS_EPROTO;
}

/* ---- repositories ---- */

int qs_quay_repo_list(qs_quay *q, const char *ns, json_t **out, qs_quay_error *err) {
    *out = NULL;
    if (!arg_ok(ns))
        return bad_arg(err, "a namespace is required");
    json_t *all = json_array(), *seen = json_object();
    char *next = NULL;
    int rc = 0;
    for (int page = 0; rc == 0; page++) {
        if (page >= MAX_REPO_PAGES) {
            rc = protocol_error(err, 200, "repository listing exceeds 10000 pages");
            break;
        }
        qs_buf b = QS_BUF_INIT;
        qs_buf_puts(&b, "/repository?namespace=");
        put_enc(&b, ns, NULL);
        if (next) {
            qs_buf_puts(&b, "&next_page=");
            put_enc(&b, next, NULL);
        }
        json_t *ans = NULL;
        rc = call(q, "GET", &b, NULL, &ans, err);
        if (rc != 0)
            break;
        json_t *repos = json_object_get(ans, "repositories");
        const char *tok = json_string_value(json_object_get(ans, "next_page"));
        if (!json_is_array(repos)) {
            rc = protocol_error(err, 200, "repository listing without a \"repositories\" array");
        } else {
            json_array_extend(all, repos);
            free(next);
            next = tok && *tok ? strdup(tok) : NULL;
            if (next && json_object_get(seen, next))
                rc = protocol_error(err, 200, "repository listing: next_page repeats (loop)");
            else if (next)
                json_object_set_new(seen, next, json_true());
        }
        json_decref(ans);
        if (!next)
            break;
    }
    free(next);
    json_decref(seen);
    if (rc == 0)
        *out = all;
    else
        json_decref(all);
    return rc;
}

int qs_quay_repo_get(qs_quay *q, const char *ns, const char *repo, json_t **out,
                     qs_quay_error *err) {
    if (out)
        *out = NULL;
    if (!arg_ok(ns) || !arg_ok(repo))
        return bad_arg(err, "a namespace and a repository are required");
    qs_buf b = QS_BUF_INIT;
    repo_path(&b, ns, repo, "?includeTags=false");
    return call(q, "GET", &b, NULL, out, err);
}

int qs_quay_repo_create(qs_quay *q, const char *ns, const char *repo, bool public_,
                        const char *description, qs_quay_error *err) {
    if (!arg_ok(ns) || !arg_ok(repo))
        return bad_arg(err, "a namespace and a repository are required");
    qs_buf b = QS_BUF_INIT;
    qs_buf_puts(&b, "/repository");
    return call(q, "POST", &b,
                json_pack("{s:s, s:s, s:s, s:s, s:s}", "namespace", ns, "repository", repo,
                          "visibility", public_ ? "public" : "private", "description",
                          description ? description : "", "repo_kind", "image"),
                NULL, err);
}

int qs_quay_repo_set_state(qs_quay *q, const char *ns, const char *repo, const char *state,
                           qs_quay_error *err) {
    if (!arg_ok(ns) || !arg_ok(repo) || !arg_ok(state))
        return bad_arg(err, "a namespace, a repository and a state are required");
    qs_buf b = QS_BUF_INIT;
    repo_path(&b, ns, repo, "/changestate");
    return call(q, "PUT", &b, json_pack("{s:s}", "state", state), NULL, err);
}

int qs_quay_repo_set_visibility(qs_quay *q, const char *ns, const char *repo, bool public_,
                                qs_quay_error *err) {
    if (!arg_ok(ns) || !arg_ok(repo))
        return bad_arg(err, "a namespace and a repository are required");
    qs_buf b = QS_BUF_INIT;
    repo_path(&b, ns, repo, "/changevisibility");
    json_t *ans = NULL;
    int rc = call(q, "POST", &b, json_pack("{s:s}", "visibility", public_ ? "public" : "private"),
                  &ans, err);
    if (rc == 0 && json_is_null(ans)) { /* Quay's quirk: 200 null for a missing repository */
        if (err) {
            err->status = 200;
            snprintf(err->message, sizeof err->message,
                     "repository not found (Quay answered 200 null)");
        }
        rc = QS_ENOTFOUND;
    }
    json_decref(ans);
    return rc;
}

int qs_quay_repo_delete(qs_quay *q, const char *ns, const char *repo, qs_quay_error *err) {
    if (!arg_ok(ns) || !arg_ok(repo))
        return bad_arg(err, "a namespace and a repository are required");
    qs_buf b = QS_BUF_INIT;
    repo_path(&b, ns, repo, "");
    return call(q, "DELETE", &b, NULL, NULL, err);
}

/* ---- mirror ---- */

int qs_quay_mirror_get(qs_quay *q, const char *ns, const char *repo, json_t **out,
                       qs_quay_error *err) {
    if (out)
        *out = NULL;
    if (!arg_ok(ns) || !arg_ok(repo))
        return bad_arg(err, "a namespace and a repository are required");
    qs_buf b = QS_BUF_INIT;
    repo_path(&b, ns, repo, "/mirror");
    return call(q, "GET", &b, NULL, out, err);
}

static int mirror_write(qs_quay *q, const char *method, const char *ns, const char *repo,
                        const json_t *config, qs_quay_error *err) {
    if (!arg_ok(ns) || !arg_ok(repo) || !json_is_object(config))
        return bad_arg(err, "a namespace, a repository and a config object are required");
    qs_buf b = QS_BUF_INIT;
    repo_path(&b, ns, repo, "/mirror");
    int rc = qs_quay_call(q, method, qs_buf_str(&b), config, NULL, err);
    qs_buf_free(&b);
    return rc;
}

int qs_quay_mirror_create(qs_quay *q, const char *ns, const char *repo, const json_t *config,
                          qs_quay_error *err) {
    return mirror_write(q, "POST", ns, repo, config, err);
}

int qs_quay_mirror_update(qs_quay *q, const char *ns, const char *repo, const json_t *config,
                          qs_quay_error *err) {
    return mirror_write(q, "PUT", ns, repo, config, err);
}

int qs_quay_mirror_sync_now(qs_quay *q, const char *ns, const char *repo, qs_quay_error *err) {
    if (!arg_ok(ns) || !arg_ok(repo))
        return bad_arg(err, "a namespace and a repository are required");
    qs_buf b = QS_BUF_INIT;
    repo_path(&b, ns, repo, "/mirror/sync-now");
    return call(q, "POST", &b, NULL, NULL, err);
}

/* ---- organizations ---- */

int qs_quay_org_create(qs_quay *q, const char *name, const char *email, qs_quay_error *err) {
    if (!arg_ok(name))
        return bad_arg(err, "an organization name is required");
    qs_buf b = QS_BUF_INIT;
    qs_buf_puts(&b, "/organization/");
    json_t *body = json_pack("{s:s}", "name", name);
    if (arg_ok(email))
        json_object_set_new(body, "email", json_string(email));
    return call(q, "POST", &b, body, NULL, err);
}

int qs_quay_org_get(qs_quay *q, const char *name, json_t **out, qs_quay_error *err) {
    if (out)
        *out = NULL;
    if (!arg_ok(name))
        return bad_arg(err, "an organization name is required");
    qs_buf b = QS_BUF_INIT;
    org_path(&b, name, NULL, NULL, NULL);
    return call(q, "GET", &b, NULL, out, err);
}

int qs_quay_org_delete(qs_quay *q, const char *name, qs_quay_error *err) {
    if (!arg_ok(name))
        return bad_arg(err, "an organization name is required");
    qs_buf b = QS_BUF_INIT;
    org_path(&b, name, NULL, NULL, NULL);
    return call(q, "DELETE", &b, NULL, NULL, err);
}

/* ---- robots ---- */

static int robot_call(qs_quay *q, const char *method, const char *org, const char *short_name,
                      const char *suffix, json_t *body, json_t **out, qs_quay_error *err) {
    if (out)
        *out = NULL;
    if (!arg_ok(org) || !arg_ok(short_name)) {
        json_decref(body);
        return bad_arg(err, "an organization and a robot short name are required");
    }
    qs_buf b = QS_BUF_INIT;
    org_path(&b, org, "/robots/", short_name, suffix);
    return call(q, method, &b, body, out, err);
}

int qs_quay_robot_get(qs_quay *q, const char *org, const char *short_name, json_t **out,
                      qs_quay_error *err) {
    return robot_call(q, "GET", org, short_name, NULL, NULL, out, err);
}

int qs_quay_robot_create(qs_quay *q, const char *org, const char *short_name,
                         const char *description, json_t **out, qs_quay_error *err) {
    return robot_call(q, "PUT", org, short_name, NULL,
                      json_pack("{s:s}", "description", description ? description : ""), out, err);
}

int qs_quay_robot_regenerate(qs_quay *q, const char *org, const char *short_name, json_t **out,
                             qs_quay_error *err) {
    return robot_call(q, "POST", org, short_name, "/regenerate", NULL, out, err);
}

int qs_quay_robot_delete(qs_quay *q, const char *org, const char *short_name, qs_quay_error *err) {
    return robot_call(q, "DELETE", org, short_name, NULL, NULL, NULL, err);
}

/* ---- permissions ---- */

static int perm_call(qs_quay *q, const char *method, const char *ns, const char *repo,
                     const char *user, json_t *body, json_t **out, qs_quay_error *err) {
    if (!arg_ok(ns) || !arg_ok(repo) || (user && !*user)) {
        json_decref(body);
        return bad_arg(err, "a namespace, a repository and a user are required");
    }
    qs_buf b = QS_BUF_INIT;
    repo_path(&b, ns, repo, "/permissions/user/");
    put_enc(&b, user, "+");
    return call(q, method, &b, body, out, err);
}

int qs_quay_perm_set(qs_quay *q, const char *ns, const char *repo, const char *user,
                     const char *role, qs_quay_error *err) {
    if (!arg_ok(user) || !arg_ok(role))
        return bad_arg(err, "a user and a role are required");
    return perm_call(q, "PUT", ns, repo, user, json_pack("{s:s}", "role", role), NULL, err);
}

int qs_quay_perm_delete(qs_quay *q, const char *ns, const char *repo, const char *user,
                        qs_quay_error *err) {
    if (!arg_ok(user))
        return bad_arg(err, "a user is required");
    return perm_call(q, "DELETE", ns, repo, user, NULL, NULL, err);
}

/* The member `key` of the answer in *out (replacing it); QS_EPROTO when it is missing. */
static int take_member(json_t **out, const char *key, bool array, qs_quay_error *err) {
    json_t *v = json_object_get(*out, key);
    if (array ? !json_is_array(v) : !json_is_object(v)) {
        json_decref(*out);
        *out = NULL;
        char msg[128];
        snprintf(msg, sizeof msg, "answer without \"%s\"", key);
        return protocol_error(err, 200, msg);
    }
    json_incref(v);
    json_decref(*out);
    *out = v;
    return 0;
}

int qs_quay_perm_list(qs_quay *q, const char *ns, const char *repo, json_t **out,
                      qs_quay_error *err) {
    *out = NULL;
    int rc = perm_call(q, "GET", ns, repo, NULL, NULL, out, err);
    return rc != 0 ? rc : take_member(out, "permissions", false, err);
}

int qs_quay_prototype_list(qs_quay *q, const char *org, json_t **out, qs_quay_error *err) {
    *out = NULL;
    if (!arg_ok(org))
        return bad_arg(err, "an organization is required");
    qs_buf b = QS_BUF_INIT;
    org_path(&b, org, "/prototypes", NULL, NULL);
    int rc = call(q, "GET", &b, NULL, out, err);
    return rc != 0 ? rc : take_member(out, "prototypes", true, err);
}

int qs_quay_prototype_create(qs_quay *q, const char *org, const char *role,
                             const char *delegate_name, const char *delegate_kind, json_t **out,
                             qs_quay_error *err) {
    if (out)
        *out = NULL;
    if (!arg_ok(org) || !arg_ok(role) || !arg_ok(delegate_name))
        return bad_arg(err, "an organization, a role and a delegate are required");
    qs_buf b = QS_BUF_INIT;
    org_path(&b, org, "/prototypes", NULL, NULL);
    return call(q, "POST", &b,
                json_pack("{s:s, s:{s:s, s:s}}", "role", role, "delegate", "name", delegate_name,
                          "kind", arg_ok(delegate_kind) ? delegate_kind : "user"),
                out, err);
}

int qs_quay_prototype_delete(qs_quay *q, const char *org, const char *id, qs_quay_error *err) {
    if (!arg_ok(org) || !arg_ok(id))
        return bad_arg(err, "an organization and a prototype id are required");
    qs_buf b = QS_BUF_INIT;
    org_path(&b, org, "/prototypes/", id, NULL);
    return call(q, "DELETE", &b, NULL, NULL, err);
}

/* ---- tags ---- */

int qs_quay_tags_list(qs_quay *q, const char *ns, const char *repo, json_t **out,
                      qs_quay_error *err) {
    *out = NULL;
    if (!arg_ok(ns) || !arg_ok(repo))
        return bad_arg(err, "a namespace and a repository are required");
    json_t *all = json_array();
    int rc = 0;
    bool more = true;
    for (int page = 1; rc == 0 && more; page++) {
        if (page > MAX_TAG_PAGES) {
            rc = protocol_error(err, 200, "tag listing exceeds 1000 pages");
            break;
        }
        qs_buf b = QS_BUF_INIT;
        repo_path(&b, ns, repo, "/tag/");
        qs_buf_printf(&b, "?page=%d&limit=100&onlyActiveTags=true", page);
        json_t *ans = NULL;
        rc = call(q, "GET", &b, NULL, &ans, err);
        if (rc != 0)
            break;
        json_t *tags = json_object_get(ans, "tags");
        if (!json_is_array(tags))
            rc = protocol_error(err, 200, "tag listing without a \"tags\" array");
        else
            json_array_extend(all, tags);
        more = json_is_true(json_object_get(ans, "has_additional")) && json_array_size(tags) > 0;
        json_decref(ans);
    }
    if (rc == 0)
        *out = all;
    else
        json_decref(all);
    return rc;
}
