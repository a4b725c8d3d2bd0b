/* accounts.c — the Quay emulator's accounts: users and robots, their passwords and grants.
 *
 * An account is {"username","password","robot","grants":[{"repository","actions"}]}; a
 * grant's repository is an exact name ("openshift/ci") or an fnmatch pattern ("*" for every
 * repository, "org/" + "*" for every repository of an organization).
 * Accounts live in one JSON object keyed by username behind a mutex; tests add or replace one
 * at run time (password rotation) through POST /_emulator/accounts. Authentication parses
 * HTTP Basic, compares the password in constant time, and answers with the same messages
 * Quay's credential validation produces; a robot name ("org+short") not found here is
 * looked up among the robots of the REST API (rest.c), whose token is the password.
 * Passwords are never logged. */
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "emu.h"
#include "quay_emu.h"
#include "shared/base64.h"
#include "shared/common.h"
#include "shared/digest.h"
#include "shared/log.h"

static pthread_mutex_t acc_mu = PTHREAD_MUTEX_INITIALIZER;
static json_t *accounts; /* username -> {"password","robot","grants"} */

static const char *grants_check(const json_t *grants) {
    if (!json_is_array(grants))
        return "grants must be an array";
    size_t i, k;
    json_t *g, *a;
    json_array_foreach(grants, i, g) {
        if (!emu_json_str(g, "repository") || !json_is_array(json_object_get(g, "actions")))
            return "a grant needs \"repository\" (string) and \"actions\" (array)";
        json_array_foreach(json_object_get(g, "actions"), k, a) {
            if (!json_is_string(a))
                return "grant actions must be strings";
        }
    }
    return NULL;
}

/* Validate and store one account (lock held). NULL, or why it was refused. */
static const char *account_put(const json_t *a, bool *replaced) {
    const char *user = emu_json_str(a, "username"), *pass = emu_json_str(a, "password");
    const json_t *robot = json_object_get(a, "robot");
    json_t *grants = json_object_get(a, "grants");
    if (!user || !*user || !pass || !*pass)
        return "an account needs a non-empty username and password";
    if (robot && !json_is_boolean(robot))
        return "robot must be a boolean";
    const char *why = grants ? grants_check(grants) : NULL;
    if (why)
        return why;
    *replaced = json_object_get(accounts, user) != NULL;
    json_object_set_new(accounts, user,
                        json_pack("{s:s, s:b, s:o}", "password", pass, "robot", json_is_true(robot),
                                  "grants", grants ? json_deep_copy(grants) : json_array()));
    return NULL;
}

int quay_accounts_load(const json_t *fixture, char *err, size_t errlen) {
    const json_t *list = json_object_get(fixture, "accounts");
    if (list && !json_is_array(list)) {
        snprintf(err, errlen, "fixture: accounts must be an array");
        return -1;
    }
    pthread_mutex_lock(&acc_mu);
    accounts = json_object();
    const char *why = NULL;
    size_t i;
    json_t *a;
    json_array_foreach(list, i, a) {
        bool replaced;
        if ((why = account_put(a, &replaced)) != NULL)
            break;
    }
    pthread_mutex_unlock(&acc_mu);
    if (why) {
        snprintf(err, errlen, "fixture: accounts[%zu]: %s", i, why);
        return -1;
    }
    return 0;
}

/* Split "Basic base64(user:pass)" into malloc'd *user and *pass. 0 or -1. */
static int parse_basic(const char *authorization, char **user, char **pass) {
    if (strncasecmp(authorization, "Basic ", 6) != 0)
        return -1;
    const char *b64 = authorization + 6;
    while (*b64 == ' ')
        b64++;
    size_t n = 0;
    unsigned char *raw = qs_base64_decode(b64, strlen(b64), &n);
    char *colon = raw ? memchr(raw, ':', n) : NULL;
    if (!colon) {
        free(raw);
        return -1;
    }
    *colon = '\0';
    *user = strdup((char *)raw);
    *pass = strdup(colon + 1);
    memset(raw, 0, n);
    free(raw);
    return 0;
}

/* Look the account up and check its password (lock held). */
static bool credentials_ok(const char *user, const char *pass, quay_identity *id) {
    const json_t *acc = json_object_get(accounts, user);
    const char *want = emu_json_str(acc, "password");
    if (!want || !qs_consttime_equal(pass, strlen(pass), want, strlen(want)))
        return false;
    id->username = strdup(user);
    id->robot = json_is_true(json_object_get(acc, "robot"));
    id->grants = json_deep_copy(json_object_get(acc, "grants"));
    return true;
}

quay_auth_result quay_accounts_authenticate(const char *authorization, quay_identity *id, char *msg,
                                            size_t msglen) {
    memset(id, 0, sizeof *id);
    if (!authorization || !*authorization) {
        id->grants = json_array();
        return QUAY_AUTH_ANONYMOUS;
    }
    char *user = NULL, *pass = NULL;
    bool ok = false;
    if (parse_basic(authorization, &user, &pass) == 0) {
        pthread_mutex_lock(&acc_mu);
        ok = credentials_ok(user, pass, id);
        pthread_mutex_unlock(&acc_mu);
        /* a robot created through the REST API (rest.c), its token as the password */
        if (!ok && strchr(user, '+'))
            ok = quay_rest_robot_login(user, pass, id);
    }
    if (!ok) {
        /* Quay's messages: robots (name contains '+') and users differ. */
        if (user && strchr(user, '+'))
            snprintf(msg, msglen, "Could not find robot with username: %s and supplied password.",
                     user);
        else
            snprintf(msg, msglen, "Invalid Username or Password");
    }
    if (pass)
        memset(pass, 0, strlen(pass));
    free(user);
    free(pass);
    return ok ? QUAY_AUTH_OK : QUAY_AUTH_INVALID;
}

bool quay_accounts_exists(const char *username) {
    pthread_mutex_lock(&acc_mu);
    bool found = accounts && json_object_get(accounts, username) != NULL;
    pthread_mutex_unlock(&acc_mu);
    return found;
}

void quay_identity_free(quay_identity *id) {
    free(id->username);
    json_decref(id->grants);
    memset(id, 0, sizeof *id);
}

bool quay_grants_allow(const json_t *grants, const char *repo, const char *action) {
    size_t i, k;
    json_t *g, *a;
    json_array_foreach(grants, i, g) {
        if (fnmatch(emu_json_str(g, "repository"), repo, 0) != 0)
            continue;
        json_array_foreach(json_object_get(g, "actions"), k, a) {
            const char *have = json_string_value(a);
            if (strcmp(have, action) == 0 || strcmp(have, "*") == 0)
                return true;
        }
    }
    return false;
}

/* ---- control ---- */

static void h_account_put(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    json_t *j = qs_req_json(r);
    if (!j)
        return;
    bool replaced = false;
    pthread_mutex_lock(&acc_mu);
    const char *why = account_put(j, &replaced);
    pthread_mutex_unlock(&acc_mu);
    if (why) {
        json_decref(j);
        qs_respond_error(r, 400, "invalid_account", "%s", why);
        return;
    }
    qs_log(QS_LOG_INFO, replaced ? "account replaced" : "account added", "username",
           emu_json_str(j, "username"), NULL);
    json_decref(j);
    qs_respond_json(r, replaced ? 200 : 201, json_pack("{s:b}", "ok", 1));
}

static const qs_route account_routes[] = {
    {"POST", "/_emulator/accounts", h_account_put, NULL, 0},
};

size_t quay_accounts_routes(const qs_route **out) {
    *out = account_routes;
    return QS_ARRAY_LEN(account_routes);
}
