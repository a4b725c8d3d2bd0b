/* authz.c — the provisioner's callers: the platform, or cluster users of the workspace.
 *
 * A request carries `Authorization: Bearer <token>`. The platform's own token (the file
 * API_TOKEN_FILE, compared in constant time and re-read when the mounted Secret rotates) may
 * do anything. Any other token is a cluster token: a TokenReview says who it belongs to, and
 * a SubjectAccessReview must allow that user `create` on `secrets` in the workspace's
 * namespace — the provisioner writes Secrets there on the caller's behalf, so a caller who
 * could not write them itself gets nothing from it either.
 *
 * Verdicts are cached per (SHA-256 of the token, namespace) for AUTH_CACHE_TTL, so a client
 * polling a component's status costs the cluster one review per period; "the cluster could
 * not answer" is never cached and gives 503, not a denial. Tokens are never logged or kept:
 * only their hashes are cache keys. */
#include "appstudio-provisioner/authz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/api_token.h"
#include "shared/common.h"
#include "shared/config.h"
#include "shared/digest.h"
#include "shared/log.h"
#include "shared/metrics.h"
#include "shared/ttl_cache.h"

struct prov_authz {
    qs_kube *kube;
    qs_secret *platform; /* NULL = no platform token */
    qs_ttl_cache *cache;
    double ttl_s;
    qs_metric *m_decisions;
};

prov_authz *prov_authz_new(qs_kube *kube, const char *api_token_file, double ttl_s) {
    prov_authz *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->kube = kube;
    a->ttl_s = ttl_s;
    a->platform = api_token_file && *api_token_file ? qs_secret_new(api_token_file) : NULL;
    a->cache = qs_ttl_cache_new(10000);
    a->m_decisions = qs_counter("provisioner_auth_decisions_total",
                                "API authorization decisions, by result.", "result");
    if (!a->cache || (api_token_file && *api_token_file && !a->platform)) {
        prov_authz_free(a);
        return NULL;
    }
    return a;
}

void prov_authz_free(prov_authz *a) {
    if (!a)
        return;
    qs_secret_free(a->platform);
    qs_ttl_cache_free(a->cache);
    free(a);
}

/* Ask the cluster. OK / INVALID / DENIED / UNAVAILABLE, with the user in `who`. */
static prov_authz_result ask_cluster(prov_authz *a, const char *token, const char *ns, char *who,
                                     size_t wholen) {
    if (!a->kube)
        return PROV_AUTHZ_UNAVAILABLE;
    qs_token_review tr = {0};
    if (qs_kube_token_review(a->kube, token, &tr) != QS_OK)
        return PROV_AUTHZ_UNAVAILABLE;
    prov_authz_result res = PROV_AUTHZ_INVALID;
    if (tr.authenticated && tr.username) {
        snprintf(who, wholen, "%s", tr.username);
        qs_sar sar = {.user = tr.username,
                      .groups = (const char *const *)tr.groups,
                      .ngroups = tr.ngroups,
                      .namespace_ = ns,
                      .group = "",
                      .version = "v1",
                      .resource = "secrets",
                      .verb = "create"};
        bool allowed = false;
        if (qs_kube_sar(a->kube, &sar, &allowed) != QS_OK)
            res = PROV_AUTHZ_UNAVAILABLE;
        else
            res = allowed ? PROV_AUTHZ_OK : PROV_AUTHZ_DENIED;
    }
    qs_token_review_free(&tr);
    return res;
}

static const char *const result_names[] = {"allowed", "missing", "invalid", "denied",
                                           "unavailable"};

prov_authz_result prov_authz_check(prov_authz *a, const char *authorization, const char *namespace_,
                                   char *who, size_t wholen) {
    snprintf(who, wholen, "%s", "");
    const char *token = qs_bearer_token(authorization);
    prov_authz_result res;
    if (!token || !*token) {
        res = PROV_AUTHZ_MISSING;
    } else if (qs_token_matches(token, a->platform)) {
        snprintf(who, wholen, "%s", "platform");
        res = PROV_AUTHZ_OK;
    } else {
        char hex[QS_SHA256_HEX_LEN + 1], key[QS_SHA256_HEX_LEN + 80];
        qs_sha256_hex(token, strlen(token), hex);
        snprintf(key, sizeof key, "%s|%s", hex, namespace_);
        char *hit = a->ttl_s > 0 ? qs_ttl_cache_get(a->cache, key) : NULL;
        if (hit) {
            res = (prov_authz_result)(hit[0] - '0');
            snprintf(who, wholen, "%s", hit + 1);
            free(hit);
        } else {
            res = ask_cluster(a, token, namespace_, who, wholen);
            if (res != PROV_AUTHZ_UNAVAILABLE && a->ttl_s > 0) {
                char val[300];
                snprintf(val, sizeof val, "%c%s", (char)('0' + (int)res), who);
                qs_ttl_cache_put(a->cache, key, val, a->ttl_s);
            }
        }
    }
    qs_metric_add(a->m_decisions, 1, result_names[res]);
    return res;
}
