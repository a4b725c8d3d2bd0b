/* upstream.c — the robot's credentials towards the upstream registry.
 *
 * The scheme is read from the upstream's own `GET /v2/` challenge, as registry clients do:
 * Bearer (quay.io: a token per repository, fetched with the robot's Basic credentials for
 * scope repository:<repo>:pull), Basic (a distribution registry with htpasswd: the robot's
 * credentials on every request) or none (anonymous).
 *
 * Bearer tokens are held in memory with their expiry and renewed AHEAD of it by a background
 * thread that wakes every ROBOT_TOKEN_CHECK_INTERVAL: a request never waits for a renewal and
 * never costs an extra upstream round trip (the original checked the token with a GET per
 * request). A failed renewal is retried with exponential backoff (quay.io answers 502 on
 * renew at times); while the old token is still valid nothing is lost. The same tick pings
 * the upstream for readiness.
 *
 * With REDIS_URL, replicas share tokens: before fetching, a replica adopts a token another one
 * stored (if it still has enough life left), and after fetching it stores its own with a TTL
 * equal to the token's remaining life. The Redis key names the upstream, repository and robot
 * by a hash, never by the secret. */
#include "proxy/upstream.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shared/base64.h"
#include "shared/common.h"
#include "shared/config.h"
#include "shared/digest.h"
#include "shared/http_server.h"
#include "shared/log.h"
#include "shared/metrics.h"
#include "shared/registry.h"

#define RENEW_AHEAD_MIN_S 120 /* renew when less than this (or a fifth of the life) is left */

typedef struct {
    char *repo;
    char *token;       /* guarded by mu */
    time_t expires_at; /* epoch; 0 = none */
    time_t lifetime;   /* of the last token */
} repo_token;

struct proxy_upstream {
    const proxy_config *cfg;
    qs_http *http;
    qs_redis *redis;
    qs_registry *reg;
    qs_secret *robot_user;
    qs_secret *robot_pass;
    repo_token *tokens;
    size_t ntokens;
    pthread_mutex_t mu;
    pthread_t thread;
    bool running;
    qs_auth_kind kind;
    bool reachable; /* did the last ping get an answer? */
    qs_metric *m_renewals;
};

static int robot_creds(void *ctx, char **user, char **pass) {
    proxy_upstream *u = ctx;
    if (qs_secret_get(u->robot_user, user) != QS_OK)
        return QS_ERR;
    if (qs_secret_get(u->robot_pass, pass) != QS_OK) {
        qs_secret_release(*user);
        *user = NULL;
        return QS_ERR;
    }
    return QS_OK;
}

proxy_upstream *proxy_upstream_new(const proxy_config *cfg, qs_http *http, qs_redis *redis) {
    proxy_upstream *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->cfg = cfg;
    u->http = http;
    u->redis = redis;
    pthread_mutex_init(&u->mu, NULL);
    u->robot_user = qs_secret_new(cfg->robot_username_file);
    u->robot_pass = qs_secret_new(cfg->robot_password_file);
    qs_registry_opts ro = {cfg->upstream_url, http, robot_creds, u, 30};
    u->reg = qs_registry_new(&ro);
    u->tokens = calloc(cfg->nrepositories, sizeof *u->tokens);
    u->m_renewals = qs_counter("proxy_robot_token_renewals_total",
                               "Robot token renewals towards the upstream, by result.", "result");
    if (!u->robot_user || !u->robot_pass || !u->reg || !u->tokens) {
        proxy_upstream_free(u);
        return NULL;
    }
    u->ntokens = cfg->nrepositories;
    for (size_t i = 0; i < u->ntokens; i++)
        u->tokens[i].repo = cfg->repositories[i];
    return u;
}

const char *proxy_upstream_url(const proxy_upstream *u) { return u->cfg->upstream_url; }

static repo_token *find_token(proxy_upstream *u, const char *repo) {
    if (!repo || !repo[0])
        return u->ntokens ? &u->tokens[0] : NULL;
    for (size_t i = 0; i < u->ntokens; i++)
        if (strcmp(u->tokens[i].repo, repo) == 0)
            return &u->tokens[i];
    return NULL;
}

/* The Redis key for a repository's shared token: a hash of upstream, repo and robot name. */
static void redis_key(proxy_upstream *u, const repo_token *t, char *out, size_t outlen) {
    char *user = NULL;
    qs_secret_get(u->robot_user, &user);
    qs_buf b = QS_BUF_INIT;
    qs_buf_printf(&b, "%s|%s|%s", u->cfg->upstream_url, t->repo, user ? user : "");
    qs_secret_release(user);
    char hex[QS_SHA256_HEX_LEN + 1];
    qs_sha256_hex(b.data, b.len, hex);
    qs_buf_free(&b);
    snprintf(out, outlen, "quayside:proxy:robot-token:%.32s", hex);
}

/* Adopt a token another replica stored, if it lives long enough. */
static bool adopt_shared(proxy_upstream *u, repo_token *t, time_t now, time_t ahead) {
    if (!u->redis)
        return false;
    char key[96];
    redis_key(u, t, key, sizeof key);
    bool found = false;
    char *val = qs_redis_get(u->redis, key, &found);
    char *bar = val ? strchr(val, '|') : NULL;
    bool adopted = false;
    if (bar) {
        time_t exp = (time_t)strtoll(val, NULL, 10);
        if (exp - now > ahead) {
            pthread_mutex_lock(&u->mu);
            free(t->token);
            t->token = strdup(bar + 1);
            t->expires_at = exp;
            t->lifetime = exp - now;
            pthread_mutex_unlock(&u->mu);
            adopted = true;
        }
    }
    if (val) {
        memset(val, 0, strlen(val));
        free(val);
    }
    return adopted;
}

static void share(proxy_upstream *u, repo_token *t, const char *token, time_t exp, time_t now) {
    if (!u->redis || exp <= now)
        return;
    char key[96];
    redis_key(u, t, key, sizeof key);
    qs_buf b = QS_BUF_INIT;
    qs_buf_printf(&b, "%lld|%s", (long long)exp, token);
    qs_redis_set(u->redis, key, b.data, (long)(exp - now) * 1000);
    memset(b.data, 0, b.len);
    qs_buf_free(&b);
}

static time_t renew_ahead(const repo_token *t) {
    time_t fifth = t->lifetime / 5;
    return fifth > RENEW_AHEAD_MIN_S ? RENEW_AHEAD_MIN_S : (fifth < 1 ? 1 : fifth);
}

/* Fetch a fresh token for one repository (Bearer upstreams). */
static int renew(proxy_upstream *u, repo_token *t) {
    time_t now = time(NULL);
    if (adopt_shared(u, t, now, renew_ahead(t) + 1))
        return QS_OK;
    char scope[300];
    snprintf(scope, sizeof scope, "repository:%s:pull", t->repo);
    char *token = NULL;
    time_t exp = 0;
    int rc = qs_registry_token(u->reg, scope, true, &token, &exp);
    qs_metric_add(u->m_renewals, 1, rc == QS_OK ? "ok" : "error");
    if (rc != QS_OK) {
        qs_log(QS_LOG_WARN, "robot token renewal failed", "repository", t->repo, "error",
               qs_strerror(rc), NULL);
        return rc;
    }
    share(u, t, token, exp, now);
    pthread_mutex_lock(&u->mu);
    free(t->token);
    t->token = token;
    t->expires_at = exp;
    t->lifetime = exp > now ? exp - now : 60;
    pthread_mutex_unlock(&u->mu);
    char life[24];
    snprintf(life, sizeof life, "%lld", (long long)(exp - now));
    qs_log(QS_LOG_INFO, "robot token renewed", "repository", t->repo, "expires_in", life, NULL);
    return QS_OK;
}

/* Renew with backoff: 2 s, 4 s, 8 s between attempts (as the original), stop on shutdown. */
static int renew_with_retries(proxy_upstream *u, repo_token *t) {
    double delay = 2;
    for (int attempt = 1;; attempt++) {
        int rc = renew(u, t);
        if (rc == QS_OK || attempt >= 4 || !u->running)
            return rc;
        if (qs_sleep_or_shutdown(delay))
            return rc;
        delay *= 2;
    }
}

static void ping(proxy_upstream *u) {
    qs_auth_kind kind = QS_AUTH_UNKNOWN;
    if (qs_registry_ping(u->reg, &kind) == QS_OK) {
        pthread_mutex_lock(&u->mu);
        if (u->kind != kind)
            qs_log(QS_LOG_INFO, "upstream authentication", "scheme",
                   kind == QS_AUTH_BEARER  ? "bearer"
                   : kind == QS_AUTH_BASIC ? "basic"
                                           : "none",
                   NULL);
        u->kind = kind;
        u->reachable = true;
        pthread_mutex_unlock(&u->mu);
    } else {
        pthread_mutex_lock(&u->mu);
        u->reachable = false;
        pthread_mutex_unlock(&u->mu);
        qs_log(QS_LOG_WARN, "upstream did not answer GET /v2/", "upstream", u->cfg->upstream_url,
               NULL);
    }
}

/* One maintenance tick: ping, then renew every Bearer token that is close to expiry. */
static void tick(proxy_upstream *u) {
    ping(u);
    if (u->kind != QS_AUTH_BEARER)
        return;
    bool rotated = qs_secret_changed(u->robot_pass) | qs_secret_changed(u->robot_user);
    for (size_t i = 0; i < u->ntokens; i++) {
        repo_token *t = &u->tokens[i];
        pthread_mutex_lock(&u->mu);
        bool due = !t->token || t->expires_at - time(NULL) <= renew_ahead(t) || rotated;
        pthread_mutex_unlock(&u->mu);
        if (due)
            renew_with_retries(u, t);
    }
}

static void *run(void *arg) {
    proxy_upstream *u = arg;
    while (u->running && !qs_sleep_or_shutdown(u->cfg->renew_interval))
        tick(u);
    return NULL;
}

int proxy_upstream_start(proxy_upstream *u) {
    qs_secret_changed(u->robot_pass);
    qs_secret_changed(u->robot_user);
    tick(u);
    u->running = true;
    if (pthread_create(&u->thread, NULL, run, u) != 0) {
        u->running = false;
        return QS_ERR;
    }
    return QS_OK;
}

void proxy_upstream_stop(proxy_upstream *u) {
    if (u && u->running) {
        u->running = false;
        qs_request_shutdown();
        pthread_join(u->thread, NULL);
    }
}

void proxy_upstream_free(proxy_upstream *u) {
    if (!u)
        return;
    proxy_upstream_stop(u);
    for (size_t i = 0; u->tokens && i < u->ntokens; i++)
        if (u->tokens[i].token) {
            memset(u->tokens[i].token, 0, strlen(u->tokens[i].token));
            free(u->tokens[i].token);
        }
    free(u->tokens);
    qs_registry_free(u->reg);
    qs_secret_free(u->robot_user);
    qs_secret_free(u->robot_pass);
    pthread_mutex_destroy(&u->mu);
    free(u);
}

static int basic_header(proxy_upstream *u, char **out) {
    char *user = NULL, *pass = NULL;
    if (robot_creds(u, &user, &pass) != QS_OK)
        return QS_EUNAVAIL;
    qs_buf b = QS_BUF_INIT;
    qs_buf_printf(&b, "%s:%s", user, pass);
    char *enc = qs_base64_encode(b.data, b.len);
    memset(b.data, 0, b.len);
    qs_buf_free(&b);
    qs_secret_release(user);
    qs_secret_release(pass);
    if (!enc)
        return QS_ENOMEM;
    qs_buf h = QS_BUF_INIT;
    qs_buf_printf(&h, "Basic %s", enc);
    memset(enc, 0, strlen(enc));
    free(enc);
    *out = qs_buf_steal(&h);
    return QS_OK;
}

int proxy_upstream_authorization(proxy_upstream *u, const char *repo, char **out) {
    *out = NULL;
    pthread_mutex_lock(&u->mu);
    qs_auth_kind kind = u->kind;
    pthread_mutex_unlock(&u->mu);
    if (kind == QS_AUTH_UNKNOWN) {
        ping(u);
        kind = u->kind;
    }
    if (kind == QS_AUTH_NONE)
        return QS_OK;
    if (kind == QS_AUTH_BASIC)
        return basic_header(u, out);
    if (kind != QS_AUTH_BEARER)
        return QS_EUNAVAIL;
    repo_token *t = find_token(u, repo);
    if (!t)
        return QS_EUNAVAIL;
    for (int pass = 0; pass < 2; pass++) {
        pthread_mutex_lock(&u->mu);
        if (t->token && t->expires_at > time(NULL)) {
            qs_buf h = QS_BUF_INIT;
            qs_buf_printf(&h, "Bearer %s", t->token);
            pthread_mutex_unlock(&u->mu);
            *out = qs_buf_steal(&h);
            return QS_OK;
        }
        pthread_mutex_unlock(&u->mu);
        if (pass == 0 && renew(u, t) != QS_OK)
            break;
    }
    return QS_EUNAVAIL;
}

void proxy_upstream_invalidate(proxy_upstream *u, const char *repo) {
    repo_token *t = find_token(u, repo);
    pthread_mutex_lock(&u->mu);
    if (t)
        t->expires_at = 0;
    u->kind = QS_AUTH_UNKNOWN; /* the scheme may have changed too: ping again */
    pthread_mutex_unlock(&u->mu);
}

bool proxy_upstream_ready(proxy_upstream *u, qs_buf *why) {
    pthread_mutex_lock(&u->mu);
    time_t now = time(NULL);
    bool ok = true;
    if (u->kind == QS_AUTH_UNKNOWN || !u->reachable) {
        qs_buf_puts(why, "upstream registry not reachable");
        ok = false;
    } else if (u->kind == QS_AUTH_BEARER) {
        for (size_t i = 0; i < u->ntokens; i++) {
            if (!u->tokens[i].token || u->tokens[i].expires_at <= now) {
                qs_buf_printf(why, "no valid robot token for %s", u->tokens[i].repo);
                ok = false;
                break;
            }
        }
    }
    pthread_mutex_unlock(&u->mu);
    return ok;
}
