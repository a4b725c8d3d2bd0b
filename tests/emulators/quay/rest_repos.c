/* rest_repos.c — the Quay emulator's repositories: listing, creation, one repository and
 * its state, visibility, user permissions and tags (reference quay.md B.1–B.4, B.7, B.8,
 * B.11).
 *
 * Repository names may hold '/' (FEATURE_EXTENDED_REPOSITORY_NAMES), so everything under
 * /api/v1/repository/ arrives here as one path: the namespace is its first segment and the
 * trailing action segments (changestate, changevisibility, mirror[/sync-now|/sync-cancel],
 * permissions/user/[name], permissions/team/, tag/[name]) are split off the end; what is
 * left is the repository name. The listing pages by exactly 100 sorted by namespace and
 * name, with an opaque `next_page` that is absent on the last page; a token that cannot be
 * decoded yields page 1, as Quay's does. Checks run in Quay's order: scope, namespace
 * permission, body schema, then the handler's own checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "emu.h"
#include "quay_emu.h"
#include "rest_internal.h"
#include "shared/base64.h"
#include "shared/buf.h"
#include "shared/common.h"

#define REPOS_PER_PAGE 100
#define MAX_TAGS_IN_REPO 500
#define PAGE_PREFIX "quay-emu-page:"

static const char *const roles[] = {"read", "write", "admin"};

json_t *rest_repo_new(const char *ns, const char *name, bool is_public, const char *description) {
    return json_pack("{s:s, s:s, s:s?, s:b, s:s, s:s, s:I, s:[], s:{}}", "namespace", ns, "name",
                     name, "description", description, "is_public", is_public, "kind", "image",
                     "state", "NORMAL", "last_modified", (json_int_t)time(NULL), "tags",
                     "permissions");
}

void rest_grant(json_t *repo, const char *user, const char *role) {
    json_t *perms = json_object_get(repo, "permissions");
    if (role)
        json_object_set_new(perms, user, json_string(role));
    else
        json_object_del(perms, user);
}

void rest_apply_prototypes(json_t *repo, const char *creator) {
    const json_t *org = json_object_get(rs.orgs, emu_json_str(repo, "namespace"));
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(org, "prototypes"), i, p) {
        const char *act = emu_json_str(json_object_get(p, "activating_user"), "name");
        const json_t *del = json_object_get(p, "delegate");
        if ((act && (!creator || strcmp(act, creator) != 0)) ||
            strcmp(emu_json_str(del, "kind"), "user") != 0)
            continue;
        rest_grant(repo, emu_json_str(del, "name"), emu_json_str(p, "role"));
    }
}

/* Extended repository name rule (util/names.py REPOSITORY_NAME_EXTENDED_REGEX). */
static bool repo_name_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 255)
        return false;
    bool seg_start = true;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool lead = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
        if (seg_start) {
            if (!lead)
                return false;
            seg_start = false;
        } else if (ch == '/') {
            seg_start = true;
        } else if (!lead && !strchr("._-", ch)) {
            return false;
        }
    }
    return !seg_start;
}

/* ---- views ---- */

static json_t *list_view(json_t *repo, bool last_modified, bool popularity) {
    json_t *v = json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:b}", "namespace",
                          json_object_get(repo, "namespace"), "name", json_object_get(repo, "name"),
                          "description", json_object_get(repo, "description"), "is_public",
                          json_object_get(repo, "is_public"), "kind", json_object_get(repo, "kind"),
                          "state", json_object_get(repo, "state"), "is_starred", 0);
    if (json_is_null(json_object_get(v, "description")) || !json_object_get(v, "description"))
        json_object_set_new(v, "description", json_null());
    if (last_modified)
        json_object_set(v, "last_modified", json_object_get(repo, "last_modified"));
    if (popularity)
        json_object_set_new(v, "popularity", json_real(0.0));
    return v;
}

static bool tag_active(const json_t *t, long long now) {
    const json_t *end = json_object_get(t, "end_ts");
    return !json_is_integer(end) || json_integer_value(end) > now;
}

static json_t *tag_view(json_t *t) {
    char date[64];
    rest_date(json_integer_value(json_object_get(t, "start_ts")), date, sizeof date);
    json_t *v =
        json_pack("{s:O, s:b, s:O, s:O, s:b, s:O, s:s}", "name", json_object_get(t, "name"),
                  "reversion", 0, "start_ts", json_object_get(t, "start_ts"), "manifest_digest",
                  json_object_get(t, "manifest_digest"), "is_manifest_list", 0, "size",
                  json_object_get(t, "size"), "last_modified", date);
    json_t *end = json_object_get(t, "end_ts");
    if (json_is_integer(end)) {
        char exp[64];
        rest_date(json_integer_value(end), exp, sizeof exp);
        json_object_set(v, "end_ts", end);
        json_object_set_new(v, "expiration", json_string(exp));
    }
    return v;
}

static json_t *repo_view(const json_t *repo, bool include_tags) {
    const char *state = emu_json_str(repo, "state");
    json_t *v = json_pack(
        "{s:O, s:O, s:O, s:O, s:O, s:b, s:b, s:s, s:b, s:i, s:b, s:O, s:b, s:b}", "namespace",
        json_object_get(repo, "namespace"), "name", json_object_get(repo, "name"), "kind",
        json_object_get(repo, "kind"), "description", json_object_get(repo, "description"),
        "is_public", json_object_get(repo, "is_public"), "is_organization",
        rest_org_exists(emu_json_str(repo, "namespace")), "is_starred", 0, "status_token", "",
        "trust_enabled", 0, "tag_expiration_s", 1209600, "is_free_account", 1, "state",
        json_object_get(repo, "state"), "can_write", strcmp(state, "NORMAL") == 0, "can_admin", 1);
    if (!json_object_get(v, "description"))
        json_object_set_new(v, "description", json_null());
    if (include_tags) {
        json_t *tags = json_object();
        long long now = (long long)time(NULL);
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(repo, "tags"), i, t) {
            if (!tag_active(t, now) || json_object_size(tags) >= MAX_TAGS_IN_REPO)
                continue;
            json_t *tv = tag_view(t);
            json_object_set_new(tags, emu_json_str(t, "name"),
                                json_pack("{s:O, s:O, s:O, s:O}", "name",
                                          json_object_get(tv, "name"), "size",
                                          json_object_get(tv, "size"), "last_modified",
                                          json_object_get(tv, "last_modified"), "manifest_digest",
                                          json_object_get(tv, "manifest_digest")));
            json_decref(tv);
        }
        json_object_set_new(v, "tags", tags);
    }
    return v;
}

/* ---- listing ---- */

static int repo_cmp(const void *a, const void *b) {
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int c = strcmp(emu_json_str(x, "namespace"), emu_json_str(y, "namespace"));
    return c ? c : strcmp(emu_json_str(x, "name"), emu_json_str(y, "name"));
}

static long page_decode(const char *token) {
    if (!token || !*token)
        return 1;
    size_t n = 0;
    unsigned char *raw = qs_base64url_decode(token, strlen(token), &n);
    long page = 1;
    if (raw && n > strlen(PAGE_PREFIX) && n < 40 &&
        memcmp(raw, PAGE_PREFIX, strlen(PAGE_PREFIX)) == 0) {
        char num[40];
        memcpy(num, raw + strlen(PAGE_PREFIX), n - strlen(PAGE_PREFIX));
        num[n - strlen(PAGE_PREFIX)] = '\0';
        char *end;
        long p = strtol(num, &end, 10);
        if (*end == '\0' && p >= 1 && p < 1000000)
            page = p;
    }
    free(raw);
    return page; /* Quay: an undecodable token is page 1 */
}

void rest_repo_list(rest_ctx *c) {
    if (!rest_auth(c, "repo:read"))
        return;
    const char *ns = qs_req_query(c->r, "namespace");
    bool starred = rest_truthy(qs_req_query(c->r, "starred"), false);
    bool pub = rest_truthy(qs_req_query(c->r, "public"), false);
    if (ns && !*ns)
        ns = NULL;
    if (!ns && !starred && !pub) {
        rest_api_error(c, 400, "invalid_request",
                       "namespace, starred or public are required for this API call");
        return;
    }
    const char *kind = qs_req_query(c->r, "repo_kind");
    bool lm = rest_truthy(qs_req_query(c->r, "last_modified"), false);
    bool pop = rest_truthy(qs_req_query(c->r, "popularity"), false);
    size_t cap = json_object_size(rs.repos) + 1, n = 0;
    json_t **all = calloc(cap, sizeof *all);
    const char *key;
    json_t *repo;
    json_object_foreach(rs.repos, key, repo) {
        const char *rns = emu_json_str(repo, "namespace");
        if ((ns && strcmp(rns, ns) != 0) ||
            strcmp(emu_json_str(repo, "kind"), kind ? kind : "image") != 0)
            continue;
        bool mine = !starred && rest_token_allows(c->token, rns) &&
                    (rest_org_exists(rns) || strcmp(rns, c->user) == 0);
        if (mine || (pub && json_is_true(json_object_get(repo, "is_public"))))
            all[n++] = repo;
    }
    qsort(all, n, sizeof *all, repo_cmp);
    long page = page_decode(qs_req_query(c->r, "next_page"));
    size_t start = (size_t)(page - 1) * REPOS_PER_PAGE;
    json_t *list = json_array();
    for (size_t i = start; i < n && i < start + REPOS_PER_PAGE; i++)
        json_array_append_new(list, list_view(all[i], lm, pop));
    json_t *out = json_pack("{s:o}", "repositories", list);
    if (start + REPOS_PER_PAGE < n) {
        char tok[64];
        int tn = snprintf(tok, sizeof tok, PAGE_PREFIX "%ld", page + 1);
        char *enc = qs_base64url_encode(tok, (size_t)tn);
        json_object_set_new(out, "next_page", json_string(enc));
        free(enc);
    }
    free(all);
    rest_json(c, 200, out);
}

/* ---- creation ---- */

static bool new_repo_schema(rest_ctx *c, const json_t *b) {
    static const char *const vis[] = {"public", "private"};
    static const char *const kinds[] = {"image", "application", NULL};
    const json_t *kind = json_object_get(b, "repo_kind");
    return rest_required(c, b, "repository") && rest_required(c, b, "visibility") &&
           rest_required(c, b, "description") &&
           rest_type(c, json_object_get(b, "repository"), "string") &&
           rest_type(c, json_object_get(b, "visibility"), "string") &&
           rest_enum(c, json_object_get(b, "visibility"), vis, 2) &&
           (!json_object_get(b, "namespace") ||
            rest_type(c, json_object_get(b, "namespace"), "string")) &&
           rest_type(c, json_object_get(b, "description"), "string") &&
           (!kind || (rest_type(c, kind, "string|null") && rest_enum(c, kind, kinds, 3)));
}

void rest_repo_create(rest_ctx *c) {
    if (!rest_auth(c, "repo:create") || !rest_need_body(c, false) || !new_repo_schema(c, c->body))
        return;
    const char *ns = emu_json_str(c->body, "namespace");
    if (!ns)
        ns = c->user;
    if (!rest_ns_allowed(c, ns))
        return;
    const char *name = emu_json_str(c->body, "repository");
    bool priv = strcmp(emu_json_str(c->body, "visibility"), "private") == 0;
    if (rest_repo(ns, name)) {
        rest_api_error(c, 400, "invalid_request", "Repository already exists");
        return;
    }
    if (priv && !rest_private_allowed(ns)) {
        rest_api_error(c, 402, "exceeds_license", "Payment Required");
        return;
    }
    if (!repo_name_ok(name)) {
        rest_api_error(c, 400, "invalid_request", "Invalid repository name");
        return;
    }
    const char *kind = emu_json_str(c->body, "repo_kind");
    json_t *repo = rest_repo_new(ns, name, !priv, emu_json_str(c->body, "description"));
    json_object_set_new(repo, "kind", json_string(kind ? kind : "image"));
    rest_grant(repo, c->user, "admin"); /* the creating user gets admin, as in Quay */
    if (strcmp(ns, c->user) != 0)
        rest_apply_prototypes(repo, c->user);
    char key[1400];
    snprintf(key, sizeof key, "%s/%s", ns, name);
    json_object_set_new(rs.repos, key, repo);
    rest_json(
        c, 201,
        json_pack("{s:s, s:s, s:s}", "namespace", ns, "name", name, "kind", kind ? kind : "image"));
}

/* ---- one repository ---- */

static void repo_get(rest_ctx *c, const char *ns, const char *name) {
    json_t *repo = rest_repo(ns, name);
    if (!repo)
        rest_not_found(c);
    else
        rest_json(c, 200, repo_view(repo, rest_truthy(qs_req_query(c->r, "includeTags"), true)));
}

static void repo_update(rest_ctx *c, const char *ns, const char *name) {
    if (!rest_need_body(c, false) || !rest_required(c, c->body, "description") ||
        !rest_type(c, json_object_get(c->body, "description"), "string"))
        return;
    json_t *repo = rest_repo(ns, name);
    if (!repo) {
        rest_not_found(c);
        return;
    }
    json_object_set(repo, "description", json_object_get(c->body, "description"));
    rest_json(c, 200, json_pack("{s:b}", "success", 1));
}

static void repo_delete(rest_ctx *c, const char *ns, const char *name) {
    char key[1400];
    snprintf(key, sizeof key, "%s/%s", ns, name);
    json_object_del(rs.repos, key); /* Quay answers 204 also when it did not exist */
    rest_empty(c, 204);
}

static void change_state(rest_ctx *c, const char *ns, const char *name) {
    if (!rest_need_body(c, false) || !rest_required(c, c->body, "state") ||
        !rest_type(c, json_object_get(c->body, "state"), "string"))
        return;
    json_t *repo = rest_repo(ns, name);
    if (!repo) {
        rest_not_found(c);
        return;
    }
    const char *want = emu_json_str(c->body, "state");
    if (strcmp(want, "ORG_MIRROR") == 0) {
        rest_detail(c, 400, "ORG_MIRROR state is managed by organization-level mirroring");
        return;
    }
    if (strcmp(emu_json_str(repo, "state"), "ORG_MIRROR") == 0) {
        rest_detail(c, 400,
                    "Repository state changes are not allowed in an organization managed by "
                    "organization-level mirroring");
        return;
    }
    if (strcmp(want, "NORMAL") != 0 && strcmp(want, "READ_ONLY") != 0 &&
        strcmp(want, "MIRROR") != 0) {
        rest_detail(c, 400, "%.200s is not a valid Repository state.", want);
        return;
    }
    json_object_set_new(repo, "state", json_string(want));
    rest_json(c, 200, json_pack("{s:b}", "success", 1));
}

static void change_visibility(rest_ctx *c, const char *ns, const char *name) {
    static const char *const vis[] = {"public", "private"};
    if (!rest_need_body(c, false) || !rest_required(c, c->body, "visibility") ||
        !rest_type(c, json_object_get(c->body, "visibility"), "string") ||
        !rest_enum(c, json_object_get(c->body, "visibility"), vis, 2))
        return;
    const char *want = emu_json_str(c->body, "visibility");
    json_t *repo = rest_repo(ns, name);
    bool priv = strcmp(want, "private") == 0;
    char pkg[1400];
    snprintf(pkg, sizeof pkg, "%s/%s", ns, name);
    if (!repo) { /* an App Registry package, or Quay's quirk: 200 null */
        bool done = quay_appr_set_visibility(pkg, want);
        rest_json(c, 200, done ? json_pack("{s:b}", "success", 1) : json_null());
        return;
    }
    if (priv && !rest_private_allowed(ns)) { /* checked even when already private, as Quay */
        rest_api_error(c, 402, "exceeds_license", "Payment Required");
        return;
    }
    json_object_set_new(repo, "is_public", json_boolean(!priv));
    rest_json(c, 200, json_pack("{s:b}", "success", 1));
}

/* ---- permissions ---- */

static json_t *perm_view(const char *ns, const char *user, const char *role) {
    bool robot = strchr(user, '+') != NULL;
    bool member = false;
    const json_t *org = json_object_get(rs.orgs, ns);
    size_t i;
    const json_t *a;
    json_array_foreach(json_object_get(org, "admins"), i, a) {
        member = member || strcmp(json_string_value(a), user) == 0;
    }
    return json_pack("{s:s, s:s, s:b, s:o, s:b}", "role", role, "name", user, "is_robot", robot,
                     "avatar", rest_avatar(user, robot ? "robot" : "user"), "is_org_member",
                     org && (robot || member));
}

static void perm_list(rest_ctx *c, const char *ns, const char *name) {
    json_t *out = json_object();
    const char *u;
    json_t *role;
    json_object_foreach(json_object_get(rest_repo(ns, name), "permissions"), u, role) {
        json_object_set_new(out, u, perm_view(ns, u, json_string_value(role)));
    }
    rest_json(c, 200, json_pack("{s:o}", "permissions", out));
}

static void perm_user(rest_ctx *c, const char *ns, const char *name, const char *user) {
    if (!user) {
        rest_not_found(c);
        return;
    }
    json_t *repo = rest_repo(ns, name);
    const char *have = emu_json_str(json_object_get(repo, "permissions"), user);
    if (strcmp(c->method, "GET") == 0) {
        if (!have)
            rest_message(c, 400, "User does not have permission for repo.");
        else
            rest_json(c, 200, perm_view(ns, user, have));
    } else if (strcmp(c->method, "DELETE") == 0) {
        if (!have) {
            rest_api_error(c, 400, "invalid_request", "User does not have permission for repo.");
            return;
        }
        rest_grant(repo, user, NULL);
        rest_empty(c, 204);
    } else if (strcmp(c->method, "PUT") == 0) {
        if (!rest_need_body(c, false) || !rest_required(c, c->body, "role") ||
            !rest_type(c, json_object_get(c->body, "role"), "string") ||
            !rest_enum(c, json_object_get(c->body, "role"), roles, 3))
            return;
        if (strcmp(user, ns) == 0) {
            rest_api_error(c, 400, "invalid_request", "Namespace owner must always be admin.");
        } else if (!rest_user_exists(user)) {
            rest_api_error(c, 400, "invalid_request", "Invalid username: %.300s", user);
        } else if (!repo) {
            rest_not_found(c);
        } else {
            rest_grant(repo, user, emu_json_str(c->body, "role"));
            rest_json(c, 200, perm_view(ns, user, emu_json_str(c->body, "role")));
        }
    } else {
        rest_message(c, 405, "The method is not allowed for the requested URL.");
    }
}

/* ---- tags ---- */

static int tag_cmp(const void *a, const void *b) {
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_int_t sx = json_integer_value(json_object_get(x, "start_ts"));
    json_int_t sy = json_integer_value(json_object_get(y, "start_ts"));
    if (sx != sy)
        return sx > sy ? -1 : 1;
    return strcmp(emu_json_str(x, "name"), emu_json_str(y, "name"));
}

static bool tag_filter_ok(const char *tag, const char *filter) {
    if (!filter || !*filter)
        return true;
    if (strncmp(filter, "eq:", 3) == 0)
        return strcmp(tag, filter + 3) == 0;
    if (strncmp(filter, "like:", 5) == 0)
        return strstr(tag, filter + 5) != NULL;
    return true;
}

static void tag_list(rest_ctx *c, const json_t *repo) {
    long page = strtol(qs_req_query(c->r, "page") ? qs_req_query(c->r, "page") : "1", NULL, 10);
    long limit = strtol(qs_req_query(c->r, "limit") ? qs_req_query(c->r, "limit") : "50", NULL, 10);
    page = page < 1 ? 1 : (page > 1000000 ? 1000000 : page);
    limit = limit < 1 ? 1 : (limit > 100 ? 100 : limit);
    bool active_only = rest_truthy(qs_req_query(c->r, "onlyActiveTags"), false);
    const char *specific = qs_req_query(c->r, "specificTag");
    const char *filter = qs_req_query(c->r, "filter_tag_name");
    const json_t *tags = json_object_get(repo, "tags");
    size_t n = 0;
    json_t **sel = calloc(json_array_size(tags) + 1, sizeof *sel);
    long long now = (long long)time(NULL);
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t) {
        const char *tn = emu_json_str(t, "name");
        if ((active_only && !tag_active(t, now)) ||
            (specific && *specific && strcmp(tn, specific) != 0) || !tag_filter_ok(tn, filter))
            continue;
        sel[n++] = t;
    }
    qsort(sel, n, sizeof *sel, tag_cmp);
    size_t start = (size_t)(page - 1) * (size_t)limit;
    json_t *out = json_array();
    for (i = start; i < n && i < start + (size_t)limit; i++)
        json_array_append_new(out, tag_view(sel[i]));
    free(sel);
    rest_json(c, 200,
              json_pack("{s:o, s:i, s:b}", "tags", out, "page", (int)page, "has_additional",
                        start + (size_t)limit < n));
}

static void tag_delete(rest_ctx *c, json_t *repo, const char *tag) {
    if (!tag) {
        rest_not_found(c);
        return;
    }
    long long now = (long long)time(NULL);
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(repo, "tags"), i, t) {
        if (strcmp(emu_json_str(t, "name"), tag) == 0 && tag_active(t, now)) {
            json_object_set_new(t, "end_ts", json_integer(now));
            rest_empty(c, 204);
            return;
        }
    }
    rest_not_found(c);
}

/* ---- dispatch ---- */

typedef enum {
    A_REPO,
    A_STATE,
    A_VISIBILITY,
    A_MIRROR,
    A_SYNC_NOW,
    A_SYNC_CANCEL,
    A_PERMS,
    A_PERM_USER,
    A_TEAM_PERMS,
    A_TAGS,
    A_TAG
} repo_action;

static bool ends_with(const char *s, size_t n, const char *suffix) {
    size_t k = strlen(suffix);
    return n > k && strncmp(s + n - k, suffix, k) == 0;
}

/* Split "name[/action...]" into the name length and the action (+ its argument). */
static repo_action split_action(const char *rest, size_t *name_len, const char **arg) {
    static const struct {
        const char *suffix;
        repo_action a;
    } tails[] = {
        {"/mirror/sync-now", A_SYNC_NOW},
        {"/mirror/sync-cancel", A_SYNC_CANCEL},
        {"/mirror", A_MIRROR},
        {"/changestate", A_STATE},
        {"/changevisibility", A_VISIBILITY},
        {"/permissions/user/", A_PERMS},
        {"/permissions/team/", A_TEAM_PERMS},
        {"/tag/", A_TAGS},
        {"/tag", A_TAGS},
    };
    size_t n = strlen(rest);
    *arg = NULL;
    for (size_t i = 0; i < QS_ARRAY_LEN(tails); i++) {
        if (ends_with(rest, n, tails[i].suffix)) {
            *name_len = n - strlen(tails[i].suffix);
            return tails[i].a;
        }
    }
    const char *slash = strrchr(rest, '/');
    if (slash && slash > rest) {
        size_t pre = (size_t)(slash - rest);
        if (pre > 17 && strncmp(slash - 17, "/permissions/user", 17) == 0) {
            *name_len = pre - 17;
            *arg = slash + 1;
            return A_PERM_USER;
        }
        if (pre > 4 && strncmp(slash - 4, "/tag", 4) == 0) {
            *name_len = pre - 4;
            *arg = slash + 1;
            return A_TAG;
        }
    }
    *name_len = n;
    return A_REPO;
}

static bool method_is(rest_ctx *c, const char *m) { return strcmp(c->method, m) == 0; }

static const char *action_scope(repo_action a, const char *method) {
    if (a == A_TAGS || (a == A_REPO && strcmp(method, "GET") == 0))
        return "repo:read";
    if (a == A_TAG || (a == A_REPO && strcmp(method, "PUT") == 0))
        return "repo:write";
    return "repo:admin";
}

/* The methods each action serves. */
static bool action_allows(repo_action a, const char *m) {
    switch (a) {
    case A_REPO:
        return !strcmp(m, "GET") || !strcmp(m, "PUT") || !strcmp(m, "DELETE");
    case A_STATE:
        return !strcmp(m, "PUT");
    case A_VISIBILITY:
    case A_SYNC_NOW:
    case A_SYNC_CANCEL:
        return !strcmp(m, "POST");
    case A_MIRROR:
        return !strcmp(m, "GET") || !strcmp(m, "POST") || !strcmp(m, "PUT");
    case A_PERMS:
    case A_TEAM_PERMS:
    case A_TAGS:
        return !strcmp(m, "GET");
    case A_PERM_USER:
        return !strcmp(m, "GET") || !strcmp(m, "PUT") || !strcmp(m, "DELETE");
    case A_TAG:
        return !strcmp(m, "DELETE");
    }
    return false;
}

/* A bearer token the REST API does not know goes to the App Registry's changevisibility. */
static bool appr_caller(rest_ctx *c) {
    const char *auth = qs_req_header(c->r, "Authorization");
    const char *tok = auth && strncasecmp(auth, "Bearer ", 7) == 0 ? auth + 7 : NULL;
    return !(tok && json_object_get(rs.tokens, tok));
}

static void run_action(rest_ctx *c, repo_action a, const char *ns, const char *name,
                       const char *arg) {
    json_t *repo = rest_repo(ns, name);
    switch (a) {
    case A_REPO:
        if (method_is(c, "GET"))
            repo_get(c, ns, name);
        else if (method_is(c, "PUT"))
            repo_update(c, ns, name);
        else
            repo_delete(c, ns, name);
        break;
    case A_STATE:
        change_state(c, ns, name);
        break;
    case A_VISIBILITY:
        change_visibility(c, ns, name);
        break;
    case A_MIRROR:
        rest_mirror(c, ns, name, "");
        break;
    case A_SYNC_NOW:
        rest_mirror(c, ns, name, "sync-now");
        break;
    case A_SYNC_CANCEL:
        rest_mirror(c, ns, name, "sync-cancel");
        break;
    case A_PERMS:
        perm_list(c, ns, name);
        break;
    case A_PERM_USER:
        perm_user(c, ns, name, arg);
        break;
    case A_TEAM_PERMS:
        rest_json(c, 200, json_pack("{s:{}}", "permissions"));
        break;
    case A_TAGS:
        if (!repo)
            rest_not_found(c);
        else
            tag_list(c, repo);
        break;
    case A_TAG:
        if (!repo)
            rest_not_found(c);
        else
            tag_delete(c, repo, arg);
        break;
    }
}

void rest_repo_path(rest_ctx *c, const char *rest) {
    const char *slash = strchr(rest, '/');
    size_t name_len = 0;
    const char *arg = NULL;
    repo_action a = slash ? split_action(slash + 1, &name_len, &arg) : A_REPO;
    if (!slash || name_len == 0 || (arg && !*arg) || strlen(rest) > 1000) {
        rest_not_found(c);
        return;
    }
    if (!action_allows(a, c->method)) {
        rest_message(c, 405, "The method is not allowed for the requested URL.");
        return;
    }
    char ns[256], name[1024];
    snprintf(ns, sizeof ns, "%.*s", (int)(slash - rest), rest);
    snprintf(name, sizeof name, "%.*s", (int)name_len, slash + 1);
    if (a == A_VISIBILITY && appr_caller(c)) {
        c->appr_target = qs_strdup_printf("%s/%s", ns, name);
        return;
    }
    if (!rest_auth(c, action_scope(a, c->method)) || !rest_ns_allowed(c, ns))
        return;
    run_action(c, a, ns, name, arg);
}
