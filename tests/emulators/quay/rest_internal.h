/* rest_internal.h — what the files of the Quay emulator's REST API v1 share.
 *
 * rest.c holds the state, the callers' tokens, the answers in Quay's error shapes, the write
 * log and the routing; rest_controls.c the /_emulator/ controls and seeding; rest_repos.c the
 * repositories, their permissions and tags; rest_mirror.c the repository mirror configurations;
 * rest_orgs.c the organizations, robots and default permissions (prototypes). Every handler runs
 * with rest_mu held from authentication to its answer, so each request sees one consistent state.
 */
#ifndef QUAY_REST_INTERNAL_H
#define QUAY_REST_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "shared/http_server.h"

/* ---- state (rest.c), guarded by rest_mu ---- */
typedef struct {
    json_t *tokens; /* token -> {"user","scopes":[...],"namespaces"?:[...]} */
    json_t *orgs;   /* name -> {"email","admins":[...],"robots":{short:{...}},"prototypes":[...]} */
    json_t *repos;  /* "ns/name" -> {"namespace","name","description","is_public","kind","state",
                       "last_modified","tags":[...],"permissions":{user:role},"mirror"?:{...}} */
    json_t *plans;  /* namespace -> private repositories allowed */
    json_t *writes; /* [{"method","path","status","body"}] */
} rest_state;

extern pthread_mutex_t rest_mu;
extern rest_state rs;

/* One request being answered. */
typedef struct {
    qs_req *r;
    const char *method;
    const char *user;    /* the caller (borrowed from the state) once authenticated */
    const json_t *token; /* the caller's token entry */
    json_t *body;        /* the request body when it is JSON */
    bool body_sent;      /* a non-empty body came */
    bool body_bad;       /* ... and it is not JSON */
    bool answered;
    int status;
    json_t *answer;    /* JSON answer (owned) or NULL */
    const char *raw;   /* a non-JSON answer (static text), or NULL */
    char *appr_target; /* "ns/pkg": let appr.c answer (changevisibility of a CNR caller) */
} rest_ctx;

/* ---- answers (rest.c); each sets the one answer of the request ---- */
void rest_json(rest_ctx *c, int status, json_t *answer); /* steals `answer` */
/** Quay's ApiException body {"detail","error_message","error_type","title","type","status"}. */
void rest_api_error(rest_ctx *c, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void rest_not_found(rest_ctx *c);                                /* 404 not_found */
void rest_unauthorized(rest_ctx *c);                             /* 403 / 401 */
void rest_message(rest_ctx *c, int status, const char *fmt, ...) /* {"message"} */
    __attribute__((format(printf, 3, 4)));
void rest_detail(rest_ctx *c, int status, const char *fmt, ...) /* {"detail"} */
    __attribute__((format(printf, 3, 4)));
void rest_empty(rest_ctx *c, int status); /* 201 "" or 204 without a body */
void rest_server_error(rest_ctx *c);      /* Flask's bare 500 page */

/* ---- checks; each answers and returns false when the request is refused ---- */
/** A known token carrying `scope` (implied scopes count); NULL scope = any valid token. */
bool rest_auth(rest_ctx *c, const char *scope);
/** The namespace exists and the caller may administer it. */
bool rest_ns_allowed(rest_ctx *c, const char *ns);
/** A JSON object body (`optional`: an absent body is fine and c->body stays NULL). */
bool rest_need_body(rest_ctx *c, bool optional);
/** jsonschema-like checks with Python jsonschema's messages. */
bool rest_required(rest_ctx *c, const json_t *obj, const char *key);
/** `types`: "string", "integer", "boolean", "object", "array", or two joined by '|'. */
bool rest_type(rest_ctx *c, const json_t *v, const char *types);
bool rest_enum(rest_ctx *c, const json_t *v, const char *const *values, size_t n);
bool rest_minmax(rest_ctx *c, const json_t *v, long long min, long long max);

/* ---- lookups (lock held) ---- */
bool rest_org_exists(const char *name);
bool rest_user_exists(const char *name); /* users, orgs excluded; robots included */
json_t *rest_repo(const char *ns, const char *name);
json_t *rest_robot(const char *fullname); /* "org+short" */
bool rest_token_allows(const json_t *token, const char *ns);
/** May one more private repository be made in `ns` (its plan)? */
bool rest_private_allowed(const char *ns);
/** {"name","hash","color","kind"} as Quay's avatar data. */
json_t *rest_avatar(const char *name, const char *kind);
/** An RFC 822 date as Quay's format_date ("Wed, 05 Jun 2024 12:00:00 -0000"). */
void rest_date(long long epoch, char *out, size_t n);
bool rest_truthy(const char *v, bool def);
bool rest_name_ok(const char *s); /* validate_username: 2..255, [a-z0-9]+([._-][a-z0-9]+)* */

/* ---- rest_controls.c ---- */
/** Apply a seed document (the fixture's REST keys; lock held): NULL, or why it was refused
 *  (written to `why`). Robot tokens, given or generated, go to `robots` {"org+short": T}. */
const char *rest_seed_apply(const json_t *s, json_t *robots, char *why, size_t n);

/* ---- rest_repos.c ---- */
void rest_repo_list(rest_ctx *c);
void rest_repo_create(rest_ctx *c);
/** /api/v1/repository/<rest>: split off the action and dispatch (mirror → rest_mirror). */
void rest_repo_path(rest_ctx *c, const char *rest);
/** A new repository object (seeding and creation). */
json_t *rest_repo_new(const char *ns, const char *name, bool is_public, const char *description);
/** Apply the organization's prototypes for a repository created by `creator`. */
void rest_apply_prototypes(json_t *repo, const char *creator);

/* ---- rest_mirror.c ---- */
/** action: "" (the config), "sync-now", "sync-cancel". */
void rest_mirror(rest_ctx *c, const char *ns, const char *name, const char *action);
/** A mirror config for seeding (no checks beyond shapes): NULL or why it was refused. */
const char *rest_mirror_seed(json_t *repo, const json_t *config);
/** The config as GET answers it (password never included). */
json_t *rest_mirror_view(const json_t *mirror);

/* ---- rest_orgs.c ---- */
void rest_org_create(rest_ctx *c);
void rest_org_path(rest_ctx *c, const char *rest);
/** Create a robot (lock held): the new entry (borrowed), NULL if it exists. `token` NULL =
 *  generate one. */
json_t *rest_robot_add(const char *org, const char *short_name, const char *description,
                       const char *token);
/** A new org entry (lock held); false when the name is taken. */
bool rest_org_add(const char *name, const char *email, const char *admin);
/** Grant `role` on `repo` to `user` (NULL role = revoke). */
void rest_grant(json_t *repo, const char *user, const char *role);

#endif
