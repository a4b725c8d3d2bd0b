/* quay_emu.h — the parts of the Quay emulator, shared between its files.
 *
 * main.c assembles one route table per part and serves them. accounts.c holds the accounts
 * (users and robots with passwords and repository grants) and authenticates Basic
 * credentials. tokens.c is the Docker registry token server (/v2/auth) that quay.io is.
 * appr.c is the App Registry (CNR) API; rest*.c the REST API v1 (organizations, repositories,
 * mirror configurations, robots, permissions, tags), whose robots also log in at /v2/auth. */
#ifndef QUAY_EMU_H
#define QUAY_EMU_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "shared/http_server.h"
#include "shared/jwt.h"

/* ---- accounts.c ---- */
/** Load the fixture's "accounts" array. 0, or -1 + message. */
int quay_accounts_load(const json_t *fixture, char *err, size_t errlen);

typedef struct {
    char *username; /* NULL = anonymous */
    bool robot;
    json_t *grants; /* [{"repository","actions"}] (a copy; empty when anonymous) */
} quay_identity;

typedef enum {
    QUAY_AUTH_ANONYMOUS = 0, /* no Authorization header */
    QUAY_AUTH_OK = 1,
    QUAY_AUTH_INVALID = -1, /* credentials sent but wrong; `msg` has Quay's message */
} quay_auth_result;

/** Authenticate an Authorization header value (may be NULL). Fills *id (free with
 *  quay_identity_free) for OK and ANONYMOUS. */
quay_auth_result quay_accounts_authenticate(const char *authorization, quay_identity *id, char *msg,
                                            size_t msglen);
void quay_identity_free(quay_identity *id);
/** Is `action` granted on `repo` by `grants`? (patterns: exact, fnmatch globs, or "*") */
bool quay_grants_allow(const json_t *grants, const char *repo, const char *action);
/** POST /_emulator/accounts. */
size_t quay_accounts_routes(const qs_route **out);
/** Is there an account named `username`? */
bool quay_accounts_exists(const char *username);

/* ---- tokens.c ---- */
typedef struct {
    qs_jwt_signer *signer; /* borrowed */
    const char *issuer;
    const char *service;
    long ttl_s;
} quay_token_cfg;

/** Configure the token server (the strings are copied). A NULL signer disables it: /v2/auth
 *  then answers 404. */
void quay_tokens_init(const quay_token_cfg *cfg);
/** GET /v2/auth (and POST → 404). */
size_t quay_tokens_routes(const qs_route **out);
/** Answer with the registry v2 error shape Quay uses:
 *  {"errors":[{"code":CODE,"message":MESSAGE,"detail":{}}]}. */
void quay_v2_error(qs_req *r, int status, const char *code, const char *message);

/* ---- appr.c ---- */
/** The App Registry (CNR) API, changevisibility and the /_emulator/appr controls. Also loads
 *  the fixture's "appr_tokens" from $QUAY_EMU_FIXTURE (exits 2 when it is malformed). */
size_t quay_appr_routes(const qs_route **out);
/** changevisibility of the App Registry package `target` ("ns/pkg") for a caller that is not
 *  a REST API token (appr tokens, Basic accounts): the status and *answer (ApiException body,
 *  {"success":true}, or JSON null for an unknown package). `body` is the request (may be
 *  NULL). Takes appr.c's lock: call it without rest.c's. */
int quay_appr_visibility(qs_req *r, const char *target, const json_t *body, json_t **answer);
/** Set the visibility of App Registry package "ns/pkg"; false when there is none. */
bool quay_appr_set_visibility(const char *target, const char *visibility);

/* ---- rest*.c ---- */
/** The REST API v1 (/api/v1/...). Also loads the fixture's "api_tokens" and seed keys from
 *  $QUAY_EMU_FIXTURE (exits 2 when malformed). */
size_t quay_rest_routes(const qs_route **out);
/** Its /_emulator/ controls (api_tokens, plans, seed, writes, state, rest). */
size_t quay_rest_control_routes(const qs_route **out);
/** Basic login of a robot created through the REST API ("org+short", its token): fills *id
 *  (grants from its repository permissions) and returns true, or false. */
bool quay_rest_robot_login(const char *user, const char *pass, quay_identity *id);

#endif
