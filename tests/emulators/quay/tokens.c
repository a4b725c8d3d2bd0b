/* tokens.c — the Docker registry token server that quay.io is (GET /v2/auth).
 *
 * A client that got a Bearer challenge from the registry asks here for a token:
 * GET /v2/auth?service=S&scope=repository:NAME:ACTIONS[&scope=...]&account=U with optional
 * Basic credentials. The flow follows Quay's endpoints/v2/v2auth.py: credentials that were
 * sent but are wrong → 401; no credentials and no scope → 401 (a login needs credentials);
 * otherwise every scope is answered with the intersection of the requested and the granted
 * actions (a partial or empty grant is not an error — the access entry is still listed). The
 * token is a JWT signed with the configured key (ES256 or RS256, kid = libtrust fingerprint)
 * carrying exactly the claims docker-registry 2.8 checks; `aud` is a string because 2.8
 * cannot parse an array. Unlike quay.io (which answers only {"token"}) the answer also
 * carries access_token, expires_in and issued_at, so clients cache the token properly.
 * Scope parsing follows the distribution grammar: the name may contain one ':' (host:port),
 * so type and actions are split off from the ends. Without a signing key (QUAY_EMU_TOKEN_KEY
 * unset) the token server is disabled and answers 404. Tokens and passwords are never logged. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emu.h"
#include "quay_emu.h"
#include "shared/buf.h"
#include "shared/common.h"
#include "shared/digest.h"
#include "shared/log.h"

static quay_token_cfg cfg;

void quay_tokens_init(const quay_token_cfg *c) {
    cfg.signer = c->signer;
    cfg.issuer = strdup(c->issuer);
    cfg.service = strdup(c->service);
    cfg.ttl_s = c->ttl_s;
}

void quay_v2_error(qs_req *r, int status, const char *code, const char *message) {
    qs_respond_json(
        r, status,
        json_pack("{s:[{s:s, s:s, s:{}}]}", "errors", "code", code, "message", message, "detail"));
}

/* ---- query and scope parsing ---- */

static int hexval(int c) {
    return isdigit(c) ? c - '0' : (isxdigit(c) ? (tolower(c) - 'a' + 10) : -1);
}

/* Percent-decode (and '+' → ' ') `n` bytes of `s` into a malloc'd string. */
static char *form_decode(const char *s, size_t n) {
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
            hexval((unsigned char)s[i + 2]) >= 0) {
            *o++ = (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
            i += 2;
        } else
            *o++ = s[i] == '+' ? ' ' : s[i];
    }
    *o = '\0';
    return out;
}

/* Every value of `key` in the raw query string, each split on spaces (one scope parameter
 * may list several scopes), as a JSON array of strings. */
static json_t *query_all(const char *qs, const char *key) {
    json_t *vals = json_array();
    size_t klen = strlen(key);
    while (qs && *qs) {
        size_t n = strcspn(qs, "&");
        if (n > klen && strncmp(qs, key, klen) == 0 && qs[klen] == '=') {
            char *v = form_decode(qs + klen + 1, n - klen - 1);
            for (char *save = NULL, *tok = v ? strtok_r(v, " ", &save) : NULL; tok;
                 tok = strtok_r(NULL, " ", &save))
                json_array_append_new(vals, json_string(tok));
            free(v);
        }
        qs += n + (qs[n] == '&');
    }
    return vals;
}

static bool action_word_ok(const char *a) {
    if (!*a)
        return false;
    if (strcmp(a, "*") == 0)
        return true;
    for (; *a; a++)
        if (*a < 'a' || *a > 'z')
            return false;
    return true;
}

/* Parse "repository:NAME:a,b" into a new {"type","name","actions"} of the actions
 * requested; NULL when it cannot be decoded. */
static json_t *scope_parse(const char *scope) {
    const char *first = strchr(scope, ':'), *last = strrchr(scope, ':');
    if (!first || first == last || last == first + 1 || !last[1])
        return NULL;
    if ((size_t)(first - scope) != 10 || strncmp(scope, "repository", 10) != 0)
        return NULL;
    json_t *actions = json_array();
    char *list = strdup(last + 1);
    bool ok = list != NULL;
    for (char *save = NULL, *a = list ? strtok_r(list, ",", &save) : NULL; a && ok;
         a = strtok_r(NULL, ",", &save)) {
        ok = action_word_ok(a);
        bool dup = false;
        size_t i;
        json_t *v;
        json_array_foreach(actions, i, v) dup |= strcmp(json_string_value(v), a) == 0;
        if (ok && !dup)
            json_array_append_new(actions, json_string(a));
    }
    free(list);
    if (!ok || json_array_size(actions) == 0) {
        json_decref(actions);
        return NULL;
    }
    return json_pack("{s:s, s:s%, s:o}", "type", "repository", "name", first + 1,
                     (size_t)(last - first - 1), "actions", actions);
}

/* Keep only the granted actions of each access entry. */
static void downscope(json_t *access, const json_t *grants) {
    size_t i;
    json_t *entry;
    json_array_foreach(access, i, entry) {
        const char *name = emu_json_str(entry, "name");
        json_t *want = json_object_get(entry, "actions"), *got = json_array();
        size_t k;
        json_t *a;
        json_array_foreach(want, k, a) {
            if (quay_grants_allow(grants, name, json_string_value(a)))
                json_array_append(got, a);
        }
        json_object_set_new(entry, "actions", got);
    }
}

/* The requested access as a JSON array; NULL + *bad (the scope, borrowed from `scopes`) when
 * one scope cannot be decoded. */
static json_t *requested_access(const json_t *scopes, const char **bad) {
    json_t *access = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(scopes, i, s) {
        json_t *entry = scope_parse(json_string_value(s));
        if (!entry) {
            *bad = json_string_value(s);
            json_decref(access);
            return NULL;
        }
        json_array_append_new(access, entry);
    }
    return access;
}

/* ---- minting ---- */

static char *mint(const char *subject, json_t *access, time_t now) {
    char *jti = qs_random_hex(16), *token = NULL;
    json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:O}", "iss", cfg.issuer, "sub",
                               subject, "aud", cfg.service, "exp", (json_int_t)(now + cfg.ttl_s),
                               "nbf", (json_int_t)(now - 5), "iat", (json_int_t)now, "jti",
                               jti ? jti : "", "access", access);
    if (claims && qs_jwt_sign(cfg.signer, claims, &token) != 0)
        token = NULL;
    json_decref(claims);
    free(jti);
    return token;
}

static void respond_token(qs_req *r, const char *token, time_t now) {
    char issued[32];
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(issued, sizeof issued, "%Y-%m-%dT%H:%M:%SZ", &tm);
    qs_respond_json(r, 200,
                    json_pack("{s:s, s:s, s:I, s:s}", "token", token, "access_token", token,
                              "expires_in", (json_int_t)cfg.ttl_s, "issued_at", issued));
}

static void log_issue(const quay_identity *id, const json_t *access) {
    char *acc = json_dumps(access, JSON_COMPACT);
    qs_log(QS_LOG_INFO, "token issued", "sub", id->username ? id->username : "(anonymous)",
           "access", acc, NULL);
    free(acc);
}

/* The checks before minting; answers and returns false when the request is refused. */
static bool admit(qs_req *r, quay_identity *id, const json_t *scopes) {
    const char *service = qs_req_query(r, "service");
    if (!service || strcmp(service, cfg.service) != 0) {
        char msg[512];
        snprintf(msg, sizeof msg, "Invalid service: %s", service ? service : "(none)");
        quay_v2_error(r, 400, "INVALID_REQUEST", msg);
        return false;
    }
    char msg[512] = "";
    quay_auth_result ar =
        quay_accounts_authenticate(qs_req_header(r, "Authorization"), id, msg, sizeof msg);
    if (ar == QUAY_AUTH_INVALID) {
        qs_log(QS_LOG_INFO, "invalid credentials", NULL);
        quay_v2_error(r, 401, "UNAUTHORIZED", msg);
        return false;
    }
    if (ar == QUAY_AUTH_ANONYMOUS && json_array_size(scopes) == 0) {
        quay_v2_error(r, 401, "UNAUTHORIZED", "access to the requested resource is not authorized");
        return false;
    }
    return true;
}

static void h_auth(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    if (emu_check(r))
        return;
    if (!cfg.signer) { /* started without QUAY_EMU_TOKEN_KEY */
        quay_v2_error(r, 404, "NOT_FOUND", "token server disabled: no QUAY_EMU_TOKEN_KEY");
        return;
    }
    json_t *scopes = query_all(qs_req_query_string(r), "scope");
    quay_identity id = {0};
    if (!admit(r, &id, scopes)) {
        quay_identity_free(&id);
        json_decref(scopes);
        return;
    }
    const char *bad = NULL;
    json_t *access = requested_access(scopes, &bad);
    if (!access) {
        char msg[512];
        snprintf(msg, sizeof msg, "Unable to decode repository and actions: %s", bad);
        quay_v2_error(r, 400, "INVALID_REQUEST", msg);
    } else {
        downscope(access, id.grants);
        time_t now = time(NULL);
        char *token = mint(id.username ? id.username : "(anonymous)", access, now);
        if (token) {
            log_issue(&id, access);
            respond_token(r, token, now);
        } else
            quay_v2_error(r, 500, "UNKNOWN", "could not sign the token");
        free(token);
    }
    json_decref(access);
    json_decref(scopes);
    quay_identity_free(&id);
}

/* Quay serves only GET; the OAuth2 POST form is refused so clients fall back to GET. */
static void h_auth_post(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    if (emu_check(r))
        return;
    quay_v2_error(r, 404, "NOT_FOUND", "not found");
}

static const qs_route token_routes[] = {
    {"GET", "/v2/auth", h_auth, NULL, 0},
    {"POST", "/v2/auth", h_auth_post, NULL, 0},
};

size_t quay_tokens_routes(const qs_route **out) {
    *out = token_routes;
    return QS_ARRAY_LEN(token_routes);
}
