/* quay.h — a client of Quay's REST API v1 (reference/quay.md Part B), shared by the
 * org-mirror and appstudio-provisioner services.
 *
 * One qs_quay is one Quay (base URL, "https://quay.io" — the API is base + "/api/v1") with one
 * management token: a fixed string, or a file (a mounted Secret) re-read whenever it changes,
 * so a rotated token takes effect at the next call. Every request sends
 * `Authorization: Bearer <token>` and JSON bodies; it goes through a shared qs_http, whose
 * retries apply (transport errors, 5xx and 429 are tried again with backoff, Retry-After
 * honoured). The token and any password in a body are never logged or put into an error.
 *
 * Errors. Every call returns 0 on success, or a negative qs_err and (when `err` is not NULL)
 * fills a qs_quay_error with the status and the one message Quay's several error bodies
 * carry, read in the order detail → error_message → message → error → HTTP reason (B.13):
 *   400 "... already exists" / "Existing robot with name ..."       → QS_EEXISTS
 *   400 "Could not find robot ..." (GET/regenerate: "with specified
 *       username", DELETE: "with username: org+short"; not a 404)   → QS_ENOTFOUND
 *   400 "User does not have permission for repo."                   → QS_ENOTFOUND
 *   other 400                                                       → QS_EINVAL
 *   401 QS_EAUTH, 402 QS_EDENIED (err->status tells it from 403), 403 QS_EDENIED,
 *   404 QS_ENOTFOUND, 409 QS_ECONFLICT, 5xx/429/no answer QS_EUNAVAIL (after the shared
 *   client's retries), other/unreadable QS_EPROTO. An unreadable token file is QS_EAUTH
 *   with status 0.
 * The callers decide what "already exists" means for them (usually success).
 *
 * Names in paths: `ns` is an organization (or user) name; `repo` may hold '/' (extended
 * repository names); robots are given by their short name, and permission calls take the
 * full `org+short` user name. Path segments are percent-encoded except '/', '+' and the
 * unreserved characters.
 *
 * Metrics (process-wide): quay_api_requests_total{quay,method,status} and
 * quay_api_request_duration_seconds{quay}, `quay` being the host[:port] of the base URL
 * (status "0" when no answer came). With `debug` every call is also logged at info level:
 * method, path, status, duration — never the token or a body. */
#ifndef QS_QUAY_H
#define QS_QUAY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "shared/http_client.h"

typedef struct qs_quay qs_quay;

typedef struct {
    const char *base_url;   /* "https://quay.io"; a trailing "/" or "/api/v1" is accepted */
    const char *token;      /* a fixed bearer token (copied), or NULL ... */
    const char *token_file; /* ... a file holding it, re-read when it changes */
    bool debug;             /* log every call (never secrets) */
} qs_quay_opts;

#define QS_QUAY_OPTS_INIT                                                                          \
    { NULL, NULL, NULL, false }

typedef struct {
    long status;       /* HTTP status; 0 when no answer arrived */
    char type[64];     /* error_type ("invalid_request", "exceeds_license", ...) or "" */
    char message[512]; /* the one message (transport error text when status == 0) */
} qs_quay_error;

/** A client on the shared `http` (borrowed; must outlive the client). NULL + message when the
 *  options are unusable (no base URL, neither token nor token_file). */
qs_quay *qs_quay_new(qs_http *http, const qs_quay_opts *opts, char *err, size_t errlen);
void qs_quay_free(qs_quay *q);
/** The base URL as given, without a trailing "/" or "/api/v1". */
const char *qs_quay_base(const qs_quay *q);
/** host[:port] of the base URL (what image references and mirror configs use). */
const char *qs_quay_host(const qs_quay *q);

/** Parse an error answer (pure): fills `e` from status and body (may be NULL/empty) and
 *  returns the qs_err of the table above. */
int qs_quay_parse_error(long status, const char *body, size_t len, qs_quay_error *e);

/** Any call: `method` on base + "/api/v1" + `path` (already encoded, may carry a query), with
 *  `body` as JSON (NULL = none). On success *out (may be NULL) is the parsed answer — JSON
 *  null for an empty body (201 "", 204). */
int qs_quay_call(qs_quay *q, const char *method, const char *path, const json_t *body, json_t **out,
                 qs_quay_error *err);

/* ---- repositories (B.1–B.4, B.8) ---- */

/** Every repository of namespace `ns` (all pages: `next_page` followed until absent; a token
 *  seen twice or more than 10 000 pages is QS_EPROTO). *out = array of Quay's repository
 *  objects ({"namespace","name","is_public","state",...}). */
int qs_quay_repo_list(qs_quay *q, const char *ns, json_t **out, qs_quay_error *err);
/** GET .../repository/ns/repo?includeTags=false → *out (may be NULL: existence probe). */
int qs_quay_repo_get(qs_quay *q, const char *ns, const char *repo, json_t **out,
                     qs_quay_error *err);
/** POST /repository {"namespace","repository","visibility","description","repo_kind":"image"}.
 *  QS_EEXISTS for "Repository already exists". */
int qs_quay_repo_create(qs_quay *q, const char *ns, const char *repo, bool public_,
                        const char *description, qs_quay_error *err);
/** PUT .../changestate {"state": "NORMAL"|"READ_ONLY"|"MIRROR"}. */
int qs_quay_repo_set_state(qs_quay *q, const char *ns, const char *repo, const char *state,
                           qs_quay_error *err);
/** POST .../changevisibility {"visibility"}; 402 → QS_EDENIED with status 402. Quay answers
 *  200 `null` when the repository does not exist: that is QS_ENOTFOUND (status 200). */
int qs_quay_repo_set_visibility(qs_quay *q, const char *ns, const char *repo, bool public_,
                                qs_quay_error *err);
/** DELETE .../repository/ns/repo (204 — Quay answers 204 also when it does not exist). */
int qs_quay_repo_delete(qs_quay *q, const char *ns, const char *repo, qs_quay_error *err);

/* ---- repository mirror configuration (B.5) ---- */

/** GET .../mirror → *out; QS_ENOTFOUND when the repository has none. */
int qs_quay_mirror_get(qs_quay *q, const char *ns, const char *repo, json_t **out,
                       qs_quay_error *err);
/** POST .../mirror with `config` (201, empty body); QS_ECONFLICT when one exists. */
int qs_quay_mirror_create(qs_quay *q, const char *ns, const char *repo, const json_t *config,
                          qs_quay_error *err);
/** PUT .../mirror with `config` (any subset of the fields). */
int qs_quay_mirror_update(qs_quay *q, const char *ns, const char *repo, const json_t *config,
                          qs_quay_error *err);
/** POST .../mirror/sync-now (204). */
int qs_quay_mirror_sync_now(qs_quay *q, const char *ns, const char *repo, qs_quay_error *err);

/* ---- organizations (B.9) ---- */

/** POST /organization/ {"name"[, "email"]} (201 "Created"); QS_EEXISTS when the name is taken. */
int qs_quay_org_create(qs_quay *q, const char *name, const char *email, qs_quay_error *err);
/** GET /organization/name → *out (may be NULL). */
int qs_quay_org_get(qs_quay *q, const char *name, json_t **out, qs_quay_error *err);
/** DELETE /organization/name (204). */
int qs_quay_org_delete(qs_quay *q, const char *name, qs_quay_error *err);

/* ---- robot accounts (B.6); `short_name` without the "org+" ---- */

/** GET → *out {"name","created","last_accessed","description","token",...}; a missing robot
 *  (Quay's 400) is QS_ENOTFOUND. */
int qs_quay_robot_get(qs_quay *q, const char *org, const char *short_name, json_t **out,
                      qs_quay_error *err);
/** PUT {"description"} → *out (may be NULL) as GET; QS_EEXISTS for "Existing robot with name". */
int qs_quay_robot_create(qs_quay *q, const char *org, const char *short_name,
                         const char *description, json_t **out, qs_quay_error *err);
/** POST .../regenerate → *out with the new token (the old one stops working). */
int qs_quay_robot_regenerate(qs_quay *q, const char *org, const char *short_name, json_t **out,
                             qs_quay_error *err);
/** DELETE (204). */
int qs_quay_robot_delete(qs_quay *q, const char *org, const char *short_name, qs_quay_error *err);

/* ---- permissions (B.7) and default permissions (B.10) ---- */

/** PUT .../permissions/user/<user> {"role": "read"|"write"|"admin"}; `user` may be "org+robot". */
int qs_quay_perm_set(qs_quay *q, const char *ns, const char *repo, const char *user,
                     const char *role, qs_quay_error *err);
/** DELETE .../permissions/user/<user>; "User does not have permission" is QS_ENOTFOUND. */
int qs_quay_perm_delete(qs_quay *q, const char *ns, const char *repo, const char *user,
                        qs_quay_error *err);
/** GET .../permissions/user/ → *out = the "permissions" object {name: {...}}. */
int qs_quay_perm_list(qs_quay *q, const char *ns, const char *repo, json_t **out,
                      qs_quay_error *err);
/** GET /organization/org/prototypes → *out = the "prototypes" array. */
int qs_quay_prototype_list(qs_quay *q, const char *org, json_t **out, qs_quay_error *err);
/** POST /organization/org/prototypes {"role","delegate":{"name","kind"}} → *out (may be NULL). */
int qs_quay_prototype_create(qs_quay *q, const char *org, const char *role,
                             const char *delegate_name, const char *delegate_kind, json_t **out,
                             qs_quay_error *err);
/** DELETE /organization/org/prototypes/id (204). */
int qs_quay_prototype_delete(qs_quay *q, const char *org, const char *id, qs_quay_error *err);

/* ---- tags (B.11) ---- */

/** Every active tag of ns/repo (page-number pagination, limit 100, onlyActiveTags=true, until
 *  has_additional is false; bounded at 1000 pages) → *out = array of tag objects. */
int qs_quay_tags_list(qs_quay *q, const char *ns, const char *repo, json_t **out,
                      qs_quay_error *err);

#endif
