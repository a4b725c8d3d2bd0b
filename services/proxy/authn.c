/* authn.c — client authentication for the proxy.
 *
 * A login (GET /v2/auth with Basic credentials) succeeds in one of two ways:
 *   1. the credentials are the upstream robot's own (compared in constant time, the files
 *      re-read when the Secret rotates) — no cluster call;
 *   2. the password is a cluster token: a TokenReview authenticates it; service accounts
 *      (system:serviceaccount:*) pass; other users also need a SubjectAccessReview allowing
 *      `get imagestreams/layers` (image.openshift.io) in SAR_NAMESPACE.
 * The username is only a label (split at the first colon, as Go's BasicAuth does).
 *
 * Review results are cached by SHA-256 of the token (never the token itself) for
 * TOKEN_REVIEW_TTL, so the cluster sees at most one review per token per period; a
 * cluster that cannot answer is never cached and gives "unavailable" (503), not a denial.
 * A revoked cluster token therefore stops working within TOKEN_REVIEW_TTL (new logins) plus
 * TOKEN_VALIDITY (tokens already issued).
 *
 * The grant is the proxy's own HS256 JWT {sub, kid (= sub, as the original), iss, aud, iat,
 * nbf, exp} signed with TOKEN_SECRET_FILE. Later requests carry it as Bearer; it is checked
 * locally with a few seconds of clock leeway. */
#include "proxy/authn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shared/common.h"
#include "shared/config.h"
#include "shared/digest.h"
#include "shared/jwt.h"
#include "shared/log.h"
#include "shared/metrics.h"
#include "shared/registry.h"
#include "shared/ttl_cache.h"

#define ISSUER "quayside-proxy"
#define LEEWAY_S 5

struct proxy_authn {
    const proxy_config *cfg;
    qs_kube *kube;
    qs_secret *robot_user;
    qs_secret *robot_pass;
    qs_secret *token_key;
    qs_ttl_cache *reviews;
    qs_metric *m_decisions;
    qs_metric *m_reviews;
};

proxy_authn *proxy_authn_new(const proxy_config *cfg, qs_kube *kube) {
    proxy_authn *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->cfg = cfg;
    a->kube = kube;
    a->robot_user = qs_secret_new(cfg->robot_username_file);
    a->robot_pass = qs_secret_new(cfg->robot_password_file);
    a->token_key = qs_secret_new(cfg->token_secret_file);
    a->reviews = qs_ttl_cache_new(10000);
    a->m_decisions =
        qs_counter("proxy_auth_decisions_total",
                   "Authentication decisions, by credential kind and result.", "via,result");
    a->m_reviews =
        qs_counter("proxy_token_reviews_total",
                   "Cluster token reviews, by outcome (cache hits included).", "outcome");
    if (!a->robot_user || !a->robot_pass || !a->token_key || !a->reviews) {
        proxy_authn_free(a);
        return NULL;
    }
    return a;
}

void proxy_authn_free(proxy_authn *a) {
    if (!a)
        return;
    qs_secret_free(a->robot_user);
    qs_secret_free(a->robot_pass);
    qs_secret_free(a->token_key);
    qs_ttl_cache_free(a->reviews);
    free(a);
}

void authn_grant_free(authn_grant *g) {
    if (g && g->token) {
        memset(g->token, 0, strlen(g->token));
        free(g->token);
        g->token = NULL;
    }
}

/* Are these the robot's credentials? Both comparisons always run, in constant time. */
static authn_result is_robot(proxy_authn *a, const char *user, const char *pass) {
    char *ru = NULL, *rp = NULL;
    if (qs_secret_get(a->robot_user, &ru) != QS_OK || qs_secret_get(a->robot_pass, &rp) != QS_OK) {
        qs_secret_release(ru);
        qs_secret_release(rp);
        return AUTHN_INTERNAL;
    }
    bool u = qs_consttime_equal(user, strlen(user), ru, strlen(ru));
    bool p = qs_consttime_equal(pass, strlen(pass), rp, strlen(rp));
    qs_secret_release(ru);
    qs_secret_release(rp);
    return (u & p) ? AUTHN_OK : AUTHN_DENIED;
}

int proxy_authn_issue(proxy_authn *a, const char *subject, authn_grant *grant) {
    char *key = NULL;
    if (qs_secret_get(a->token_key, &key) != QS_OK)
        return QS_ERR;
    time_t now = time(NULL);
    long validity = (long)a->cfg->token_validity;
    json_t *claims = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I}", "sub", subject, "kid", subject,
                               "iss", ISSUER, "aud", a->cfg->exposed_host, "iat", (json_int_t)now,
                               "nbf", (json_int_t)now, "exp", (json_int_t)(now + validity));
    int rc = qs_jwt_sign_hs256(key, strlen(key), claims, &grant->token);
    json_decref(claims);
    qs_secret_release(key);
    if (rc != QS_OK)
        return rc;
    grant->expires_in = validity;
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(grant->issued_at, sizeof grant->issued_at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return QS_OK;
}

/* Ask the cluster whether `token` may pull. AUTHN_OK / AUTHN_DENIED / AUTHN_UNAVAILABLE. */
static authn_result review_with_cluster(proxy_authn *a, const char *token, char *who,
                                        size_t wholen) {
    if (!a->kube)
        return AUTHN_UNAVAILABLE;
    qs_token_review tr = {0};
    if (qs_kube_token_review(a->kube, token, &tr) != QS_OK)
        return AUTHN_UNAVAILABLE;
    authn_result res = AUTHN_DENIED;
    if (tr.authenticated && tr.username) {
        snprintf(who, wholen, "%s", tr.username);
        if (strncmp(tr.username, "system:serviceaccount:", 22) == 0) {
            res = AUTHN_OK;
        } else {
            qs_sar sar = {.user = tr.username,
                          .groups = (const char *const *)tr.groups,
                          .ngroups = tr.ngroups,
                          .namespace_ = a->cfg->sar_namespace,
                          .group = "image.openshift.io",
                          .version = "v1",
                          .resource = "imagestreams",
                          .subresource = "layers",
                          .verb = "get"};
            bool allowed = false;
            if (qs_kube_sar(a->kube, &sar, &allowed) != QS_OK)
                res = AUTHN_UNAVAILABLE;
            else
                res = allowed ? AUTHN_OK : AUTHN_DENIED;
        }
    }
    qs_token_review_free(&tr);
    return res;
}

/* The cached or fresh verdict on a cluster token. */
static authn_result review(proxy_authn *a, const char *token, char *who, size_t wholen) {
    char key[QS_SHA256_HEX_LEN + 1];
    qs_sha256_hex(token, strlen(token), key);
    char *hit = qs_ttl_cache_get(a->reviews, key);
    if (hit) {
        authn_result r = strncmp(hit, "allow:", 6) == 0 ? AUTHN_OK : AUTHN_DENIED;
        snprintf(who, wholen, "%s", r == AUTHN_OK ? hit + 6 : hit + 5);
        free(hit);
        qs_metric_add(a->m_reviews, 1, "cached");
        return r;
    }
    who[0] = '\0';
    authn_result r = review_with_cluster(a, token, who, wholen);
    qs_metric_add(a->m_reviews, 1,
                  r == AUTHN_OK       ? "allowed"
                  : r == AUTHN_DENIED ? "denied"
                                      : "unavailable");
    if ((r == AUTHN_OK || r == AUTHN_DENIED) && a->cfg->token_review_ttl > 0) {
        char val[300];
        snprintf(val, sizeof val, "%s%s", r == AUTHN_OK ? "allow:" : "deny:", who);
        qs_ttl_cache_put(a->reviews, key, val, a->cfg->token_review_ttl);
    }
    return r;
}

static void count(proxy_authn *a, const char *via, authn_result r) {
    static const char *const names[] = {"allowed", "missing", "denied", "unavailable", "error"};
    qs_metric_add(a->m_decisions, 1, via, names[r]);
}

authn_result proxy_authn_login(proxy_authn *a, const char *authorization, authn_grant *grant) {
    memset(grant, 0, sizeof *grant);
    char *user = NULL, *pass = NULL;
    if (!authorization || qs_basic_parse(authorization, &user, &pass) != QS_OK) {
        count(a, "none", AUTHN_MISSING);
        return AUTHN_MISSING;
    }
    authn_result r = pass[0] ? is_robot(a, user, pass) : AUTHN_DENIED;
    char who[256];
    snprintf(who, sizeof who, "%s", user);
    grant->via = "robot";
    if (r == AUTHN_DENIED && pass[0]) {
        grant->via = "cluster";
        r = review(a, pass, who, sizeof who);
    }
    count(a, grant->via, r);
    if (r == AUTHN_OK && proxy_authn_issue(a, who, grant) != QS_OK)
        r = AUTHN_INTERNAL;
    qs_log(r == AUTHN_OK ? QS_LOG_INFO : QS_LOG_WARN, "login", "user", who, "via", grant->via,
           "result",
           r == AUTHN_OK            ? "granted"
           : r == AUTHN_UNAVAILABLE ? "cluster unavailable"
                                    : "denied",
           NULL);
    memset(pass, 0, strlen(pass));
    free(user);
    free(pass);
    return r;
}

static authn_result check_bearer(proxy_authn *a, const char *token) {
    char *key = NULL;
    if (qs_secret_get(a->token_key, &key) != QS_OK)
        return AUTHN_INTERNAL;
    json_t *claims = NULL;
    int rc = qs_jwt_verify_hs256(key, strlen(key), token, time(NULL), LEEWAY_S, &claims);
    qs_secret_release(key);
    if (rc != QS_OK)
        return AUTHN_DENIED;
    const char *aud = json_string_value(json_object_get(claims, "aud"));
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    bool ok = aud && iss && strcmp(aud, a->cfg->exposed_host) == 0 && strcmp(iss, ISSUER) == 0;
    json_decref(claims);
    return ok ? AUTHN_OK : AUTHN_DENIED;
}

authn_result proxy_authn_check(proxy_authn *a, const char *authorization, const char **via) {
    *via = "none";
    if (!authorization || !authorization[0])
        return AUTHN_MISSING;
    if (strncasecmp(authorization, "Bearer ", 7) == 0) {
        *via = "token";
        const char *t = authorization + 7;
        while (*t == ' ')
            t++;
        return *t ? check_bearer(a, t) : AUTHN_MISSING;
    }
    char *user = NULL, *pass = NULL;
    if (qs_basic_parse(authorization, &user, &pass) != QS_OK)
        return AUTHN_MISSING;
    *via = "robot";
    authn_result r = is_robot(a, user, pass);
    memset(pass, 0, strlen(pass));
    free(user);
    free(pass);
    return r;
}
