/* rest_orgs.c — the Quay emulator's organizations, robot accounts and default permissions
 * (reference quay.md B.6, B.9, B.10).
 *
 * POST /api/v1/organization/ creates an organization (201 "Created"; the caller becomes its
 * admin and, when its token is limited to some namespaces, the new one is added to them);
 * GET/DELETE /api/v1/organization/<org> (delete takes its repositories and robots along).
 * Robots live in their organization: PUT creates one (201, a 64-character [A-Z0-9] token),
 * GET answers a missing one with Quay's 400 {"message":"Could not find robot with specified
 * username"} — not 404 —, regenerate replaces the token (the old one stops working at
 * /v2/auth at once), DELETE refuses a robot a mirror uses. Prototypes (default permissions)
 * are applied when a repository is created in the organization (rest_repos.c). Creation
 * errors use Quay's messages: "A user or organization with this name already exists",
 * "Existing robot with name: org+short", "The name for the robot 'x' is invalid: ...". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emu.h"
#include "rest_internal.h"
#include "shared/common.h"
#include "shared/digest.h"

#define NAME_RULE "Namespace must match expression ^([a-z0-9]+(?:[._-][a-z0-9]+)*)$"
#define NAME_LENGTH "Namespace must be between 2 and 255 characters in length"

static const char *name_issue(const char *name) {
    size_t n = strlen(name);
    if (!rest_name_ok(name))
        return (n < 2 || n > 255) && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789") == n
                   ? NAME_LENGTH
                   : NAME_RULE;
    return NULL;
}

bool rest_org_add(const char *name, const char *email, const char *admin) {
    if (rest_org_exists(name))
        return false;
    json_t *admins = json_array();
    if (admin)
        json_array_append_new(admins, json_string(admin));
    json_object_set_new(rs.orgs, name,
                        json_pack("{s:s?, s:o, s:{}, s:[]}", "email", email, "admins", admins,
                                  "robots", "prototypes"));
    if (!email)
        json_object_set_new(json_object_get(rs.orgs, name), "email", json_null());
    return true;
}

/* A robot token as Quay makes them: 64 characters of [A-Z0-9]. */
static void robot_token(char out[65]) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    unsigned char raw[64];
    if (qs_random_bytes(raw, sizeof raw) != 0)
        memset(raw, 7, sizeof raw);
    for (size_t i = 0; i < 64; i++)
        out[i] = alphabet[raw[i] % 36];
    out[64] = '\0';
}

json_t *rest_robot_add(const char *org, const char *short_name, const char *description,
                       const char *token) {
    json_t *robots = json_object_get(json_object_get(rs.orgs, org), "robots");
    if (!robots || json_object_get(robots, short_name))
        return NULL;
    char gen[65], full[600];
    robot_token(gen);
    snprintf(full, sizeof full, "%s+%s", org, short_name);
    json_t *robot = json_pack("{s:s, s:I, s:n, s:s, s:s, s:{}}", "name", full, "created",
                              (json_int_t)time(NULL), "last_accessed", "description",
                              description ? description : "", "token", token ? token : gen,
                              "unstructured_metadata");
    json_object_set_new(robots, short_name, robot);
    return robot;
}

/* The robot as Quay's to_dict shows it. */
static json_t *robot_view(const json_t *robot, bool metadata, bool token) {
    char date[64];
    rest_date(json_integer_value(json_object_get(robot, "created")), date, sizeof date);
    json_t *v =
        json_pack("{s:O, s:s, s:n, s:O}", "name", json_object_get(robot, "name"), "created", date,
                  "last_accessed", "description", json_object_get(robot, "description"));
    if (metadata)
        json_object_set(v, "unstructured_metadata",
                        json_object_get(robot, "unstructured_metadata"));
    if (token)
        json_object_set(v, "token", json_object_get(robot, "token"));
    return v;
}

/* ---- organizations ---- */

void rest_org_create(rest_ctx *c) {
    if (!rest_auth(c, "user:admin") || !rest_need_body(c, false) ||
        !rest_required(c, c->body, "name") ||
        !rest_type(c, json_object_get(c->body, "name"), "string") ||
        (json_object_get(c->body, "email") &&
         !rest_type(c, json_object_get(c->body, "email"), "string")))
        return;
    const char *name = emu_json_str(c->body, "name"), *email = emu_json_str(c->body, "email");
    if (rest_org_exists(name) || rest_user_exists(name)) {
        rest_api_error(c, 400, "invalid_request",
                       "A user or organization with this name already exists");
        return;
    }
    const char *issue = name_issue(name);
    if (issue) {
        rest_api_error(c, 400, "invalid_request", "Invalid namespace %.300s: %s", name, issue);
        return;
    }
    if (email && *email && (!strchr(email, '@') || strchr(email, ' '))) {
        rest_api_error(c, 400, "invalid_request", "Invalid email address");
        return;
    }
    rest_org_add(name, email && *email ? email : NULL, c->user);
    json_t *nss = json_object_get(c->token, "namespaces");
    if (nss)
        json_array_append_new(nss, json_string(name));
    rest_json(c, 201, json_string("Created"));
}

static void org_get(rest_ctx *c, const char *org) {
    const json_t *o = json_object_get(rs.orgs, org);
    if (!o) {
        rest_not_found(c);
        return;
    }
    if (!rest_token_allows(c->token, org)) {
        rest_unauthorized(c);
        return;
    }
    json_t *owners =
        json_pack("{s:s, s:s, s:b, s:i, s:o, s:b}", "name", "owners", "role", "admin", "can_view",
                  1, "member_count", (int)json_array_size(json_object_get(o, "admins")), "avatar",
                  rest_avatar("owners", "team"), "is_synced", 0);
    rest_json(c, 200,
              json_pack("{s:s, s:O, s:o, s:b, s:b, s:b, s:i, s:b, s:b, s:{s:o}, s:[s]}", "name",
                        org, "email", json_object_get(o, "email"), "avatar",
                        rest_avatar(org, "org"), "is_admin", 1, "is_member", 1, "is_org_admin", 1,
                        "tag_expiration_s", 1209600, "is_free_account", 1, "invoice_email", 0,
                        "teams", "owners", owners, "ordered_teams", "owners"));
}

static void robot_forget(const char *org, const char *full);

static void org_delete(rest_ctx *c, const char *org) {
    if (!rest_ns_allowed(c, org))
        return;
    const char *key;
    json_t *repo, *tmp, *robot;
    json_object_foreach(json_object_get(json_object_get(rs.orgs, org), "robots"), key, robot) {
        robot_forget(org, emu_json_str(robot, "name")); /* grants elsewhere go too */
    }
    json_object_foreach_safe(rs.repos, tmp, key, repo) {
        if (strcmp(emu_json_str(repo, "namespace"), org) == 0)
            json_object_del(rs.repos, key);
    }
    json_object_del(rs.orgs, org);
    json_object_del(rs.plans, org);
    rest_empty(c, 204);
}

/* ---- robots ---- */

static bool robot_used_by_mirror(const char *full) {
    const char *k;
    json_t *repo;
    json_object_foreach(rs.repos, k, repo) {
        const char *r = emu_json_str(json_object_get(repo, "mirror"), "robot_username");
        if (r && strcmp(r, full) == 0)
            return true;
    }
    return false;
}

static void robot_forget(const char *org, const char *full) {
    const char *k;
    json_t *repo;
    json_object_foreach(rs.repos, k, repo) { rest_grant(repo, full, NULL); }
    json_t *protos = json_object_get(json_object_get(rs.orgs, org), "prototypes");
    for (size_t i = json_array_size(protos); i-- > 0;) {
        const json_t *d = json_object_get(json_array_get(protos, i), "delegate");
        if (strcmp(emu_json_str(d, "name"), full) == 0)
            json_array_remove(protos, i);
    }
}

static json_t *robot_repositories(const char *full) {
    json_t *names = json_array();
    const char *k;
    json_t *repo;
    json_object_foreach(rs.repos, k, repo) {
        if (json_object_get(json_object_get(repo, "permissions"), full))
            json_array_append(names, json_object_get(repo, "name"));
    }
    return names;
}

static void robot_list(rest_ctx *c, const char *org) {
    bool token = rest_truthy(qs_req_query(c->r, "token"), true);
    bool perms = rest_truthy(qs_req_query(c->r, "permissions"), false);
    const char *limit_s = qs_req_query(c->r, "limit");
    long limit = limit_s ? strtol(limit_s, NULL, 10) : -1;
    json_t *out = json_array();
    const char *k;
    json_t *robot;
    json_object_foreach(json_object_get(json_object_get(rs.orgs, org), "robots"), k, robot) {
        if (limit >= 0 && (long)json_array_size(out) >= limit)
            break;
        json_t *v = robot_view(robot, false, token);
        if (perms) {
            json_object_set_new(v, "teams", json_array());
            json_object_set_new(v, "repositories", robot_repositories(emu_json_str(robot, "name")));
        }
        json_array_append_new(out, v);
    }
    rest_json(c, 200, json_pack("{s:o}", "robots", out));
}

static void robot_create(rest_ctx *c, const char *org, const char *sh) {
    if (!rest_need_body(c, true))
        return;
    const json_t *desc = json_object_get(c->body, "description");
    const json_t *meta = json_object_get(c->body, "unstructured_metadata");
    if (desc && !rest_type(c, desc, "string"))
        return;
    if (desc && strlen(json_string_value(desc)) > 255) {
        rest_api_error(c, 400, "invalid_request", "'%.40s...' is too long",
                       json_string_value(desc));
        return;
    }
    if (meta && !rest_type(c, meta, "object"))
        return;
    const char *issue = name_issue(sh);
    if (issue) {
        rest_api_error(c, 400, "invalid_request", "The name for the robot '%.300s' is invalid: %s",
                       sh, issue);
        return;
    }
    json_t *robot = rest_robot_add(org, sh, json_string_value(desc), NULL);
    if (!robot) {
        rest_api_error(c, 400, "invalid_request", "Existing robot with name: %s+%s", org, sh);
        return;
    }
    if (meta)
        json_object_set_new(robot, "unstructured_metadata", json_deep_copy(meta));
    rest_json(c, 201, robot_view(robot, true, true));
}

static void robot_one(rest_ctx *c, const char *org, const char *sh, const char *sub) {
    char full[600];
    snprintf(full, sizeof full, "%s+%s", org, sh);
    json_t *robot = rest_robot(full);
    bool get = strcmp(c->method, "GET") == 0, put = strcmp(c->method, "PUT") == 0;
    bool del = strcmp(c->method, "DELETE") == 0, post = strcmp(c->method, "POST") == 0;
    if (!*sub && put) {
        robot_create(c, org, sh);
    } else if ((!*sub && get) || (strcmp(sub, "regenerate") == 0 && post) ||
               (strcmp(sub, "permissions") == 0 && get)) {
        if (!robot) {
            rest_message(c, 400, "Could not find robot with specified username");
        } else if (*sub == 'p') {
            json_t *list = json_array(), *names = robot_repositories(full);
            size_t i;
            json_t *n;
            json_array_foreach(names, i, n) {
                const json_t *perms =
                    json_object_get(rest_repo(org, json_string_value(n)), "permissions");
                json_array_append_new(list,
                                      json_pack("{s:{s:O, s:b}, s:s}", "repository", "name", n,
                                                "is_public", 0, "role", emu_json_str(perms, full)));
            }
            json_decref(names);
            rest_json(c, 200, json_pack("{s:o}", "permissions", list));
        } else {
            if (*sub == 'r') {
                char tok[65];
                robot_token(tok);
                json_object_set_new(robot, "token", json_string(tok));
            }
            rest_json(c, 200, robot_view(robot, !*sub, true));
        }
    } else if (!*sub && del) {
        if (robot_used_by_mirror(full)) {
            rest_api_error(c, 400, "invalid_request", "Robot is being used by a mirror");
        } else if (!robot) {
            rest_message(c, 400, "Could not find robot with username: %s", full);
        } else {
            robot_forget(org, full);
            json_object_del(json_object_get(json_object_get(rs.orgs, org), "robots"), sh);
            rest_empty(c, 204);
        }
    } else {
        rest_message(c, 405, "The method is not allowed for the requested URL.");
    }
}

/* ---- prototypes ---- */

static json_t *proto_user_view(const char *org, const char *name) {
    bool robot = strchr(name, '+') != NULL;
    bool member = robot;
    size_t i;
    const json_t *a;
    json_array_foreach(json_object_get(json_object_get(rs.orgs, org), "admins"), i, a) {
        member = member || strcmp(json_string_value(a), name) == 0;
    }
    return json_pack("{s:s, s:b, s:s, s:b, s:o}", "name", name, "is_robot", robot, "kind", "user",
                     "is_org_member", member, "avatar",
                     rest_avatar(name, robot ? "robot" : "user"));
}

static json_t *proto_view(const char *org, const json_t *p) {
    const char *act = emu_json_str(json_object_get(p, "activating_user"), "name");
    const json_t *d = json_object_get(p, "delegate");
    return json_pack("{s:o, s:o, s:O, s:O}", "activating_user",
                     act ? proto_user_view(org, act) : json_null(), "delegate",
                     proto_user_view(org, emu_json_str(d, "name")), "role",
                     json_object_get(p, "role"), "id", json_object_get(p, "id"));
}

static bool proto_schema(rest_ctx *c) {
    static const char *const roles[] = {"read", "write", "admin"};
    static const char *const kinds[] = {"user", "team"};
    const json_t *b = c->body, *d = json_object_get(b, "delegate");
    const json_t *act = json_object_get(b, "activating_user");
    return rest_required(c, b, "role") && rest_required(c, b, "delegate") &&
           rest_type(c, json_object_get(b, "role"), "string") &&
           rest_enum(c, json_object_get(b, "role"), roles, 3) && rest_type(c, d, "object") &&
           rest_required(c, d, "name") && rest_required(c, d, "kind") &&
           rest_type(c, json_object_get(d, "name"), "string") &&
           rest_type(c, json_object_get(d, "kind"), "string") &&
           rest_enum(c, json_object_get(d, "kind"), kinds, 2) &&
           (!act || (rest_type(c, act, "object") && rest_required(c, act, "name") &&
                     rest_type(c, json_object_get(act, "name"), "string")));
}

static void proto_create(rest_ctx *c, const char *org) {
    if (!rest_need_body(c, false) || !proto_schema(c))
        return;
    const json_t *d = json_object_get(c->body, "delegate");
    const char *act = emu_json_str(json_object_get(c->body, "activating_user"), "name");
    const char *dname = emu_json_str(d, "name");
    if (act && !rest_user_exists(act)) {
        rest_api_error(c, 400, "invalid_request", "Unknown activating user");
        return;
    }
    if (strcmp(emu_json_str(d, "kind"), "user") != 0 || !rest_user_exists(dname)) {
        rest_api_error(c, 400, "invalid_request", "Missing delegate user or team");
        return;
    }
    char *hex = qs_random_hex(16);
    char id[40];
    snprintf(id, sizeof id, "%.8s-%.4s-4%.3s-a%.3s-%.12s", hex, hex + 8, hex + 12, hex + 15,
             hex + 18);
    free(hex);
    json_t *p = json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", id, "role",
                          emu_json_str(c->body, "role"), "delegate", "name", dname, "kind", "user");
    if (act)
        json_object_set_new(p, "activating_user", json_pack("{s:s}", "name", act));
    json_array_append_new(json_object_get(json_object_get(rs.orgs, org), "prototypes"), p);
    rest_json(c, 200, proto_view(org, p));
}

static void protos(rest_ctx *c, const char *org, const char *id) {
    json_t *list = json_object_get(json_object_get(rs.orgs, org), "prototypes");
    if (!*id) {
        if (strcmp(c->method, "POST") == 0) {
            proto_create(c, org);
            return;
        }
        json_t *out = json_array();
        size_t i;
        json_t *p;
        json_array_foreach(list, i, p) { json_array_append_new(out, proto_view(org, p)); }
        rest_json(c, 200, json_pack("{s:o}", "prototypes", out));
        return;
    }
    size_t i, at = (size_t)-1;
    json_t *p;
    json_array_foreach(list, i, p) {
        if (strcmp(emu_json_str(p, "id"), id) == 0)
            at = i;
    }
    static const char *const roles[] = {"read", "write", "admin"};
    if (strcmp(c->method, "PUT") == 0 &&
        (!rest_need_body(c, false) || !rest_required(c, c->body, "role") ||
         !rest_type(c, json_object_get(c->body, "role"), "string") ||
         !rest_enum(c, json_object_get(c->body, "role"), roles, 3)))
        return;
    if (at == (size_t)-1) {
        rest_not_found(c);
    } else if (strcmp(c->method, "DELETE") == 0) {
        json_array_remove(list, at);
        rest_empty(c, 204);
    } else {
        p = json_array_get(list, at);
        json_object_set(p, "role", json_object_get(c->body, "role"));
        rest_json(c, 200, proto_view(org, p));
    }
}

/* ---- dispatch of /api/v1/organization/<rest> ---- */

/* The methods allowed on each kind of path. */
static bool org_method_ok(const char *m, int parts, const char *kind, const char *sub) {
    if (parts == 1)
        return !strcmp(m, "GET") || !strcmp(m, "DELETE");
    if (strcmp(kind, "robots") == 0)
        return parts == 2 ? !strcmp(m, "GET") : true;
    if (strcmp(kind, "prototypes") == 0)
        return parts == 2 ? (!strcmp(m, "GET") || !strcmp(m, "POST"))
                          : (!strcmp(m, "PUT") || !strcmp(m, "DELETE"));
    QS_UNUSED(sub);
    return false;
}

void rest_org_path(rest_ctx *c, const char *rest) {
    char org[256] = "", kind[32] = "", item[256] = "", sub[32] = "";
    int parts = 0;
    const char *p = rest;
    char *fields[] = {org, kind, item, sub};
    size_t sizes[] = {sizeof org, sizeof kind, sizeof item, sizeof sub};
    while (*p && parts < 4) {
        size_t n = strcspn(p, "/");
        if (n == 0 || n >= sizes[parts]) {
            rest_not_found(c);
            return;
        }
        snprintf(fields[parts], sizes[parts], "%.*s", (int)n, p);
        parts++;
        p += n + (p[n] == '/');
    }
    bool known = parts >= 1 && !*p &&
                 (parts == 1 ||
                  (strcmp(kind, "robots") == 0 && parts <= 4 &&
                   (parts < 4 || !strcmp(sub, "regenerate") || !strcmp(sub, "permissions"))) ||
                  (strcmp(kind, "prototypes") == 0 && parts <= 3));
    if (!known) {
        rest_not_found(c);
        return;
    }
    if (!org_method_ok(c->method, parts, kind, sub)) {
        rest_message(c, 405, "The method is not allowed for the requested URL.");
        return;
    }
    if (parts == 1 && strcmp(c->method, "GET") == 0) {
        if (rest_auth(c, NULL))
            org_get(c, org);
        return;
    }
    if (!rest_auth(c, "org:admin") || !rest_ns_allowed(c, org))
        return;
    if (!rest_org_exists(org)) { /* a user namespace: no organization calls there */
        rest_unauthorized(c);
        return;
    }
    if (parts == 1)
        org_delete(c, org);
    else if (strcmp(kind, "prototypes") == 0)
        protos(c, org, item);
    else if (parts == 2)
        robot_list(c, org);
    else
        robot_one(c, org, item, sub);
}
