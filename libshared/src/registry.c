/* registry.c — a client of one registry: auth discovery, bearer tokens, manifests, blobs.
 *
 * Authentication is learnt from the challenge of `GET /v2/` (as docker, skopeo and crane do)
 * and kept for the life of the client; a later 401 whose challenge names another scheme makes
 * the client re-learn it. Bearer tokens are cached per scope string until
 * issued_at + max(expires_in, 60) − min(token_margin_s, half the life) (issued_at is clamped to the
 * fetch time so a token server whose clock runs ahead cannot make tokens live longer). The cache is
 * guarded by one mutex; a fetch runs without it, and other threads wanting the same scope wait on a
 * condition variable for that fetch instead of starting their own (single flight). The cache is
 * bounded (TOKEN_CACHE_MAX scopes; expired and soonest-expiring entries go first).
 *
 * Credentials come from a callback at each use so rotated secrets are picked up, are sent
 * only to the registry and its token realm, are wiped from memory after use and never logged.
 * Requests carrying credentials never follow redirects: a blob redirect (to a CDN or object
 * store) is followed here with a fresh request that has no Authorization header.
 *
 * Manifests are fetched byte-exact with every media type we understand in Accept; a GET by
 * digest checks the body's hash, and a Docker-Content-Digest header must match the body too. */
#include "shared/registry.h"

#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "registry_internal.h"
#include "shared/base64.h"
#include "shared/common.h"
#include "shared/digest.h"
#include "shared/log.h"

#define TOKEN_CACHE_MAX 1024
#define TOKEN_MIN_LIFETIME 60
#define MAX_REDIRECTS 5

const char QS_MANIFEST_ACCEPT[] =
    QS_MT_DOCKER_MANIFEST ", " QS_MT_DOCKER_LIST ", " QS_MT_OCI_MANIFEST ", " QS_MT_OCI_INDEX
                          ", " QS_MT_DOCKER_SCHEMA1_SIGNED ", " QS_MT_DOCKER_SCHEMA1;

typedef struct token_entry {
    struct token_entry *next;
    char *scope;
    char *token;        /* NULL until fetched, or after forget */
    time_t valid_until; /* issued_at + lifetime */
    time_t renew_at;    /* valid_until - margin: the cache serves the token before this */
    unsigned gen;       /* bumped by every successful fetch */
    bool fetching;      /* a thread is fetching this scope now */
} token_entry;

struct qs_registry {
    char *base_url;
    char *host;
    qs_http *http;
    qs_creds_fn creds;
    void *creds_ctx;
    int margin_s;
    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t fetched;
    qs_auth_kind kind;
    char *realm;
    char *service;
    token_entry *tokens;
    size_t ntokens;
};

/* ------------------------------------------------------------------ small helpers */

static void free_secret(char *s) {
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* Append `s` percent-encoded (everything but RFC 3986 unreserved characters). */
static int put_escaped(qs_buf *b, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int rc = (isalnum(c) || strchr("-._~", c))
                     ? qs_buf_append(b, s, 1)
                     : qs_buf_printf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
        if (rc != QS_OK)
            return rc;
    }
    return QS_OK;
}

/* Repository names and references become URL path segments: allow only their grammar's
 * characters so nothing can inject a path, query or fragment. */
static bool segment_ok(const char *s, const char *extra) {
    if (!s || !*s || s[0] == '/' || strstr(s, ".."))
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
            return false;
    return true;
}

/* "application/json; charset=utf-8" → "application/json" */
static char *media_type_of(const char *ct) {
    if (!ct)
        return NULL;
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return strndup(ct, n);
}

static int64_t parse_length(const char *v) {
    if (!v || !isdigit((unsigned char)*v))
        return -1;
    char *end;
    long long x = strtoll(v, &end, 10);
    return *end ? -1 : (int64_t)x;
}

/* ------------------------------------------------------------------ challenges */

static bool is_tchar(int c) { return c > 32 && c < 127 && !strchr("\"(),/:;<=>?@[\\]{}", c); }

/* Unquoted values are read leniently (some servers send realm=https://x/y unquoted). */
static bool is_value_char(int c) { return c > 32 && c < 127 && c != ',' && c != '"'; }

static const char *skip_ows(const char *p) {
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* A quoted-string starting at p (at the opening quote). Returns the end or NULL. */
static const char *parse_quoted(const char *p, qs_buf *out) {
    for (p++; *p && *p != '"'; p++) {
        if (*p == '\\' && p[1])
            p++;
        if (qs_buf_append(out, p, 1) != QS_OK)
            return NULL;
    }
    return *p == '"' ? p + 1 : NULL;
}

static char **challenge_slot(qs_challenge *c, const char *name, size_t n) {
    static const struct {
        const char *name;
        size_t off;
    } params[] = {
        {"realm", offsetof(qs_challenge, realm)},
        {"service", offsetof(qs_challenge, service)},
        {"scope", offsetof(qs_challenge, scope)},
        {"error", offsetof(qs_challenge, error)},
    };
    for (size_t i = 0; i < QS_ARRAY_LEN(params); i++)
        if (strlen(params[i].name) == n && strncasecmp(params[i].name, name, n) == 0)
            return (char **)((char *)c + params[i].off);
    return NULL;
}

/* One `name = value` pair at p; returns the position after it, or NULL. */
static const char *parse_param(const char *p, qs_challenge *c) {
    const char *name = p;
    while (is_tchar((unsigned char)*p))
        p++;
    size_t nlen = (size_t)(p - name);
    p = skip_ows(p);
    if (nlen == 0 || *p != '=')
        return NULL;
    p = skip_ows(p + 1);
    qs_buf v = QS_BUF_INIT;
    if (*p == '"') {
        p = parse_quoted(p, &v);
    } else {
        const char *s = p;
        while (is_value_char((unsigned char)*p))
            p++;
        if (p == s || qs_buf_append(&v, s, (size_t)(p - s)) != QS_OK)
            p = NULL;
    }
    char **slot = p ? challenge_slot(c, name, nlen) : NULL;
    if (slot) {
        free(*slot);
        *slot = qs_buf_steal(&v);
    }
    qs_buf_free(&v);
    return p;
}

int qs_challenge_parse(const char *value, qs_challenge *out) {
    memset(out, 0, sizeof *out);
    if (!value)
        return QS_EINVAL;
    const char *p = skip_ows(value), *s = p;
    while (is_tchar((unsigned char)*p))
        p++;
    if (p == s || (*p && *p != ' ' && *p != '\t'))
        return QS_EINVAL;
    out->scheme = strndup(s, (size_t)(p - s));
    if (!out->scheme)
        return QS_ENOMEM;
    for (char *q = out->scheme; *q; q++)
        *q = (char)tolower((unsigned char)*q);
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            return QS_OK;
        p = parse_param(p, out);
        if (!p)
            break;
        p = skip_ows(p);
        if (*p && *p != ',')
            break;
    }
    qs_challenge_free(out);
    return QS_EINVAL;
}

void qs_challenge_free(qs_challenge *c) {
    if (!c)
        return;
    free(c->scheme);
    free(c->realm);
    free(c->service);
    free(c->scope);
    free(c->error);
    memset(c, 0, sizeof *c);
}

int qs_basic_parse(const char *authorization, char **user, char **pass) {
    *user = *pass = NULL;
    if (!authorization)
        return QS_EINVAL;
    const char *p = skip_ows(authorization);
    if (strncasecmp(p, "Basic", 5) != 0 || (p[5] != ' ' && p[5] != '\t'))
        return QS_EINVAL;
    p = skip_ows(p + 5);
    size_t n = strlen(p);
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    size_t dlen = 0;
    unsigned char *d = n ? qs_base64_decode(p, n, &dlen) : NULL;
    if (!d)
        return QS_EINVAL;
    char *colon = memchr(d, ':', dlen);
    int rc = QS_EINVAL;
    if (colon && !memchr(d, '\0', dlen)) {
        *user = strndup((char *)d, (size_t)(colon - (char *)d));
        *pass = strdup(colon + 1);
        rc = (*user && *pass) ? QS_OK : QS_ENOMEM;
        if (rc != QS_OK) {
            free_secret(*user);
            free_secret(*pass);
            *user = *pass = NULL;
        }
    }
    explicit_bzero(d, dlen);
    free(d);
    return rc;
}

/* ------------------------------------------------------------------ the client */

static char *host_of(const char *url) {
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    return strndup(p, strcspn(p, "/?#"));
}

qs_registry *qs_registry_new(const qs_registry_opts *opts) {
    if (!opts || !opts->base_url || !opts->http)
        return NULL;
    qs_registry *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    size_t n = strlen(opts->base_url);
    while (n > 0 && opts->base_url[n - 1] == '/')
        n--;
    r->base_url = strndup(opts->base_url, n);
    r->host = r->base_url ? host_of(r->base_url) : NULL;
    if (!r->base_url || !r->host) {
        free(r->base_url);
        free(r->host);
        free(r);
        return NULL;
    }
    r->http = opts->http;
    r->creds = opts->creds;
    r->creds_ctx = opts->creds_ctx;
    r->margin_s = opts->token_margin_s > 0 ? opts->token_margin_s : 60;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->fetched, NULL);
    return r;
}

static void token_entry_free(token_entry *e) {
    free(e->scope);
    free_secret(e->token);
    free(e);
}

void qs_registry_free(qs_registry *r) {
    if (!r)
        return;
    for (token_entry *e = r->tokens, *next; e; e = next) {
        next = e->next;
        token_entry_free(e);
    }
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->fetched);
    free(r->realm);
    free(r->service);
    free(r->base_url);
    free(r->host);
    free(r);
}

const char *qs_registry_base_url(const qs_registry *r) { return r->base_url; }
const char *qs_registry_host(const qs_registry *r) { return r->host; }

qs_auth_kind qs_registry_auth_kind(qs_registry *r) {
    pthread_mutex_lock(&r->mu);
    qs_auth_kind k = r->kind;
    pthread_mutex_unlock(&r->mu);
    return k;
}

/* Credentials from the callback; both NULL = anonymous. */
static int get_creds(qs_registry *r, char **user, char **pass) {
    *user = *pass = NULL;
    if (!r->creds)
        return QS_OK;
    if (r->creds(r->creds_ctx, user, pass) != 0) {
        free_secret(*user);
        free_secret(*pass);
        *user = *pass = NULL;
        return QS_EAUTH;
    }
    return QS_OK;
}

/* ------------------------------------------------------------------ ping */

/* Learn the scheme from a challenge. Returns QS_AUTH_UNKNOWN if it is not usable. */
static qs_auth_kind learn_challenge(qs_registry *r, const qs_challenge *c) {
    qs_auth_kind k = QS_AUTH_UNKNOWN;
    if (strcmp(c->scheme, "bearer") == 0 && c->realm && *c->realm)
        k = QS_AUTH_BEARER;
    else if (strcmp(c->scheme, "basic") == 0)
        k = QS_AUTH_BASIC;
    if (k == QS_AUTH_UNKNOWN)
        return k;
    char *realm = c->realm ? strdup(c->realm) : NULL;
    char *service = c->service ? strdup(c->service) : NULL;
    pthread_mutex_lock(&r->mu);
    r->kind = k;
    free(r->realm);
    free(r->service);
    r->realm = realm;
    r->service = service;
    pthread_mutex_unlock(&r->mu);
    return k;
}

/* The first usable challenge among the response's WWW-Authenticate headers (Bearer preferred);
 * `c` is filled (caller frees) when one is found. */
static bool find_challenge(const qs_header *h, size_t n, qs_challenge *c) {
    bool found = false;
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < n; i++) {
        qs_challenge tmp;
        if (strcasecmp(h[i].name, "WWW-Authenticate") != 0 || qs_challenge_parse(h[i].value, &tmp))
            continue;
        bool bearer = strcmp(tmp.scheme, "bearer") == 0, basic = strcmp(tmp.scheme, "basic") == 0;
        if ((bearer || (basic && !found)) && (!found || strcmp(c->scheme, "bearer") != 0)) {
            qs_challenge_free(c);
            *c = tmp;
            found = true;
        } else {
            qs_challenge_free(&tmp);
        }
    }
    return found;
}

int qs_registry_ping(qs_registry *r, qs_auth_kind *kind) {
    char *url = qs_strdup_printf("%s/v2/", r->base_url);
    if (!url)
        return QS_ENOMEM;
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url;
    qs_http_resp resp;
    int rc = qs_http_do(r->http, &req, &resp);
    qs_auth_kind k = QS_AUTH_UNKNOWN;
    if (rc == QS_OK) {
        qs_challenge c;
        if (resp.status == 200) {
            k = QS_AUTH_NONE;
            pthread_mutex_lock(&r->mu);
            r->kind = k;
            pthread_mutex_unlock(&r->mu);
        } else if (resp.status == 401 && find_challenge(resp.headers, resp.nheaders, &c)) {
            k = learn_challenge(r, &c);
            qs_challenge_free(&c);
        }
        rc = k != QS_AUTH_UNKNOWN                         ? QS_OK
             : (resp.status >= 500 || resp.status == 429) ? QS_EUNAVAIL
                                                          : QS_EPROTO;
    } else if (rc != QS_ENOMEM) {
        qs_log(QS_LOG_WARN, "registry unreachable", "registry", r->host, "error", resp.error, NULL);
        rc = QS_EUNAVAIL;
    }
    if (kind)
        *kind = k;
    qs_http_resp_free(&resp);
    free(url);
    return rc;
}

static qs_auth_kind ensure_kind(qs_registry *r, int *rc) {
    qs_auth_kind k = qs_registry_auth_kind(r);
    *rc = QS_OK;
    if (k == QS_AUTH_UNKNOWN)
        *rc = qs_registry_ping(r, &k);
    return k;
}

/* ------------------------------------------------------------------ tokens */

/* `n` decimal digits at p, or -1 (stops at the first non-digit, so never reads past a NUL). */
static int fixed_digits(const char *p, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)p[i]))
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* RFC 3339 "2009-11-10T23:00:00[.fff](Z|±hh:mm)" → epoch seconds; -1 when malformed. */
static time_t parse_rfc3339(const char *s) {
    static const struct {
        int width;
        char after; /* separator that must follow, or 0 */
    } fields[] = {{4, '-'}, {2, '-'}, {2, 'T'}, {2, ':'}, {2, ':'}, {2, 0}};
    int v[6];
    const char *p = s;
    for (size_t i = 0; i < QS_ARRAY_LEN(fields); i++) {
        if ((v[i] = fixed_digits(p, fields[i].width)) < 0)
            return -1;
        p += fields[i].width;
        if (fields[i].after && toupper((unsigned char)*p++) != fields[i].after)
            return -1;
    }
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++) {
        }
    long off = 0;
    if (*p == '+' || *p == '-') {
        int oh = fixed_digits(p + 1, 2), om = oh < 0 || p[3] != ':' ? -1 : fixed_digits(p + 4, 2);
        if (om < 0)
            return -1;
        off = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
        p += 6;
    } else if (toupper((unsigned char)*p) == 'Z') {
        p++;
    }
    if (*p)
        return -1;
    struct tm tm = {.tm_year = v[0] - 1900,
                    .tm_mon = v[1] - 1,
                    .tm_mday = v[2],
                    .tm_hour = v[3],
                    .tm_min = v[4],
                    .tm_sec = v[5]};
    time_t t = timegm(&tm);
    return t == (time_t)-1 ? -1 : t - off;
}

typedef struct {
    char *token;
    time_t valid_until;
    long expires_in;
} fetched_token;

static int parse_token_body(const qs_buf *body, time_t fetched_at, fetched_token *out) {
    json_t *j = json_loadb(body->data ? body->data : "", body->len, 0, NULL);
    const char *tok = json_string_value(json_object_get(j, "token"));
    if (!tok || !*tok)
        tok = json_string_value(json_object_get(j, "access_token"));
    if (!tok || !*tok) {
        json_decref(j);
        return QS_EPROTO;
    }
    json_t *ei = json_object_get(j, "expires_in");
    long expires_in = json_is_number(ei) ? (long)json_number_value(ei) : TOKEN_MIN_LIFETIME;
    if (expires_in < TOKEN_MIN_LIFETIME)
        expires_in = TOKEN_MIN_LIFETIME;
    const char *ia = json_string_value(json_object_get(j, "issued_at"));
    time_t issued = ia ? parse_rfc3339(ia) : -1;
    if (issued < 0 || issued > fetched_at)
        issued = fetched_at;
    out->token = strdup(tok);
    out->valid_until = issued + expires_in;
    out->expires_in = expires_in;
    json_decref(j);
    return out->token ? QS_OK : QS_ENOMEM;
}

/* realm?service=..&scope=..[&scope=..]&account=.. (one scope parameter per space-separated
 * scope, as docker and distribution send them). */
static char *token_url(const char *realm, const char *service, const char *scope,
                       const char *user) {
    qs_buf b = QS_BUF_INIT;
    char sep = strchr(realm, '?') ? '&' : '?';
    int rc = qs_buf_puts(&b, realm);
    if (!rc && service) {
        rc = qs_buf_printf(&b, "%cservice=", sep) || put_escaped(&b, service);
        sep = '&';
    }
    for (const char *p = scope; !rc && p && *p;) {
        size_t n = strcspn(p, " ");
        char *one = n ? strndup(p, n) : NULL;
        if (n)
            rc = !one || qs_buf_printf(&b, "%cscope=", sep) || put_escaped(&b, one);
        sep = n ? '&' : sep;
        free(one);
        p += n + strspn(p + n, " ");
    }
    if (!rc && user && *user)
        rc = qs_buf_printf(&b, "%caccount=", sep) || put_escaped(&b, user);
    if (rc) {
        qs_buf_free(&b);
        return NULL;
    }
    return qs_buf_steal(&b);
}

static int token_status_err(long status) {
    if (status == 401 || status == 403)
        return QS_EAUTH;
    if (status >= 500 || status == 429)
        return QS_EUNAVAIL;
    return QS_EPROTO;
}

/* GET the realm for `scope` (network; called without the lock). */
static int fetch_token(qs_registry *r, const char *scope, fetched_token *out) {
    pthread_mutex_lock(&r->mu);
    char *realm = r->realm ? strdup(r->realm) : NULL;
    char *service = r->service ? strdup(r->service) : NULL;
    pthread_mutex_unlock(&r->mu);
    char *user = NULL, *pass = NULL, *url = NULL;
    int rc = realm ? get_creds(r, &user, &pass) : QS_EPROTO;
    if (rc == QS_OK && !(url = token_url(realm, service, scope, user)))
        rc = QS_ENOMEM;
    if (rc == QS_OK) {
        qs_http_req req = QS_HTTP_REQ_INIT;
        req.url = url;
        req.basic_user = user;
        req.basic_pass = user ? pass : NULL;
        qs_http_resp resp;
        time_t t0 = time(NULL);
        rc = qs_http_do(r->http, &req, &resp);
        if (rc == QS_OK)
            rc = resp.status == 200 ? parse_token_body(&resp.body, t0, out)
                                    : token_status_err(resp.status);
        else if (rc != QS_ENOMEM)
            rc = QS_EUNAVAIL;
        char st[24], ei[24];
        snprintf(st, sizeof st, "%ld", resp.status);
        snprintf(ei, sizeof ei, "%ld", rc == QS_OK ? out->expires_in : 0L);
        qs_log(rc == QS_OK ? QS_LOG_DEBUG : QS_LOG_WARN,
               rc == QS_OK ? "token fetched" : "token fetch failed", "registry", r->host, "scope",
               scope, "status", st, "expires_in", ei, "error",
               rc == QS_OK ? NULL : (resp.status ? qs_strerror(rc) : resp.error), NULL);
        qs_http_resp_free(&resp);
    }
    free(url);
    free(realm);
    free(service);
    free_secret(user);
    free_secret(pass);
    return rc;
}

static token_entry *token_find(qs_registry *r, const char *scope) {
    for (token_entry *e = r->tokens; e; e = e->next)
        if (strcmp(e->scope, scope) == 0)
            return e;
    return NULL;
}

static void token_unlink(qs_registry *r, token_entry *victim) {
    for (token_entry **pp = &r->tokens; *pp; pp = &(*pp)->next)
        if (*pp == victim) {
            *pp = victim->next;
            r->ntokens--;
            token_entry_free(victim);
            return;
        }
}

/* Make room: drop expired entries, then the one renewing soonest. Entries being fetched stay. */
static void token_prune(qs_registry *r, time_t now) {
    for (token_entry *e = r->tokens, *next; e; e = next) {
        next = e->next;
        if (!e->fetching && now >= e->renew_at)
            token_unlink(r, e);
    }
    while (r->ntokens >= TOKEN_CACHE_MAX) {
        token_entry *oldest = NULL;
        for (token_entry *e = r->tokens; e; e = e->next)
            if (!e->fetching && (!oldest || e->renew_at < oldest->renew_at))
                oldest = e;
        if (!oldest)
            return;
        token_unlink(r, oldest);
    }
}

static token_entry *token_entry_get(qs_registry *r, const char *scope) {
    token_entry *e = token_find(r, scope);
    if (e)
        return e;
    if (r->ntokens >= TOKEN_CACHE_MAX)
        token_prune(r, time(NULL));
    e = calloc(1, sizeof *e);
    if (!e || !(e->scope = strdup(scope))) {
        free(e);
        return NULL;
    }
    e->next = r->tokens;
    r->tokens = e;
    r->ntokens++;
    return e;
}

/* Under the lock: wait for a fetch in flight, or claim the fetch. Returns the entry with a
 * usable token (*cached) or claimed for fetching by this thread; NULL on ENOMEM. */
static token_entry *token_claim(qs_registry *r, const char *scope, bool force, bool *cached) {
    for (;;) {
        token_entry *e = token_entry_get(r, scope);
        if (!e)
            return NULL;
        if (!e->fetching) {
            *cached = !force && e->token && time(NULL) < e->renew_at;
            if (!*cached)
                e->fetching = true;
            return e;
        }
        unsigned gen = e->gen;
        while ((e = token_find(r, scope)) && e->fetching)
            pthread_cond_wait(&r->fetched, &r->mu);
        if (e && e->gen != gen && e->token)
            force = false; /* someone fetched a fresh token while we waited: take it */
    }
}

int qs_registry_token(qs_registry *r, const char *scope, bool force, char **token,
                      time_t *expires_at) {
    *token = NULL;
    if (!scope)
        scope = "";
    int rc;
    if (ensure_kind(r, &rc) != QS_AUTH_BEARER)
        return rc != QS_OK ? rc : QS_EPROTO; /* no token realm to ask */
    pthread_mutex_lock(&r->mu);
    bool cached = false;
    token_entry *e = token_claim(r, scope, force, &cached);
    rc = e ? QS_OK : QS_ENOMEM;
    if (e && !cached) {
        pthread_mutex_unlock(&r->mu);
        fetched_token ft = {0};
        rc = fetch_token(r, scope, &ft);
        pthread_mutex_lock(&r->mu);
        e->fetching = false; /* entries being fetched are never freed, so e is still valid */
        if (rc == QS_OK) {
            free_secret(e->token);
            e->token = ft.token;
            e->valid_until = ft.valid_until;
            /* The margin never exceeds half the token's life, or a short-lived token (the
             * minimum is 60 s) would be stale on arrival and refetched for every request. */
            time_t life = ft.valid_until - time(NULL);
            time_t margin = r->margin_s < life / 2 ? r->margin_s : life / 2;
            e->renew_at = ft.valid_until - (margin > 0 ? margin : 0);
            e->gen++;
        }
        pthread_cond_broadcast(&r->fetched);
    }
    if (rc == QS_OK) {
        *token = strdup(e->token);
        if (expires_at)
            *expires_at = e->valid_until;
        rc = *token ? QS_OK : QS_ENOMEM;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void qs_registry_forget_token(qs_registry *r, const char *scope) {
    pthread_mutex_lock(&r->mu);
    token_entry *e = token_find(r, scope ? scope : "");
    if (e) {
        free_secret(e->token);
        e->token = NULL;
        e->renew_at = 0;
        if (!e->fetching)
            token_unlink(r, e);
    }
    pthread_mutex_unlock(&r->mu);
}

static int basic_authorization(qs_registry *r, char **out) {
    char *user, *pass;
    int rc = get_creds(r, &user, &pass);
    if (rc != QS_OK || !user)
        goto done;
    char *plain = qs_strdup_printf("%s:%s", user, pass ? pass : "");
    char *b64 = plain ? qs_base64_encode(plain, strlen(plain)) : NULL;
    *out = b64 ? qs_strdup_printf("Basic %s", b64) : NULL;
    rc = *out ? QS_OK : QS_ENOMEM;
    free_secret(plain);
    free_secret(b64);
done:
    free_secret(user);
    free_secret(pass);
    return rc;
}

int qs_registry_authorization(qs_registry *r, const char *scope, char **out) {
    *out = NULL;
    int rc;
    qs_auth_kind k = ensure_kind(r, &rc);
    if (rc != QS_OK)
        return rc;
    if (k == QS_AUTH_BASIC)
        return basic_authorization(r, out);
    if (k != QS_AUTH_BEARER)
        return QS_OK;
    char *tok;
    rc = qs_registry_token(r, scope, false, &tok, NULL);
    if (rc != QS_OK)
        return rc;
    *out = qs_strdup_printf("Bearer %s", tok);
    free_secret(tok);
    return *out ? QS_OK : QS_ENOMEM;
}

/* ------------------------------------------------------------------ authenticated requests */

static const struct {
    long status;
    int err;
} status_errors[] = {
    {401, QS_EAUTH}, {403, QS_EDENIED}, {404, QS_ENOTFOUND}, {408, QS_EUNAVAIL}, {429, QS_EUNAVAIL},
};

static int status_err(long status) {
    if (status >= 200 && status <= 299)
        return QS_OK;
    for (size_t i = 0; i < QS_ARRAY_LEN(status_errors); i++)
        if (status_errors[i].status == status)
            return status_errors[i].err;
    return status >= 500 ? QS_EUNAVAIL : QS_EPROTO;
}

/* After a 401: should the request be tried once more? Yes when the token was rejected as
 * invalid (it is dropped first) or when the challenge names a scheme other than the one learnt
 * (it is learnt now). */
static bool retry_after_401(qs_registry *r, const char *scope, const qs_header *h, size_t n) {
    qs_challenge c;
    if (!find_challenge(h, n, &c))
        return false;
    bool retry = false;
    qs_auth_kind k = qs_registry_auth_kind(r);
    if (k == QS_AUTH_BEARER && strcmp(c.scheme, "bearer") == 0) {
        retry = c.error && strcmp(c.error, "invalid_token") == 0;
        if (retry)
            qs_registry_forget_token(r, scope);
    } else {
        qs_auth_kind learnt = learn_challenge(r, &c);
        retry = learnt != QS_AUTH_UNKNOWN && learnt != k;
    }
    qs_challenge_free(&c);
    return retry;
}

typedef struct {
    const char *method;
    const char *url;
    const char *scope;
    const char *accept; /* NULL = none */
    bool no_body;
} reg_req;

/* Build the qs_http_req for `rr`; `hbuf` holds the header strings (freed by the caller). */
static int prepare(qs_registry *r, const reg_req *rr, qs_http_req *req, char *hbuf[3]) {
    char *auth = NULL;
    int rc = qs_registry_authorization(r, rr->scope, &auth);
    if (rc != QS_OK)
        return rc;
    int i = 0;
    if (rr->accept && !(hbuf[i++] = qs_strdup_printf("Accept: %s", rr->accept)))
        rc = QS_ENOMEM;
    if (auth && !(hbuf[i++] = qs_strdup_printf("Authorization: %s", auth)))
        rc = QS_ENOMEM;
    hbuf[i] = NULL;
    free_secret(auth);
    *req = (qs_http_req)QS_HTTP_REQ_INIT;
    req->method = rr->method;
    req->url = rr->url;
    req->headers = (const char *const *)hbuf;
    req->no_body = rr->no_body;
    return rc;
}

static void free_hbuf(char *hbuf[3]) {
    for (int i = 0; i < 3; i++)
        free_secret(hbuf[i]);
}

/* A buffered request with the registry's credentials, retried once after a recoverable 401.
 * Returns 0 with resp filled (any status) or a transport error. */
static int reg_do(qs_registry *r, const reg_req *rr, qs_http_resp *resp) {
    memset(resp, 0, sizeof *resp);
    for (int round = 0;; round++) {
        char *hbuf[3] = {0};
        qs_http_req req;
        int rc = prepare(r, rr, &req, hbuf);
        if (rc == QS_OK)
            rc = qs_http_do(r->http, &req, resp);
        free_hbuf(hbuf);
        if (rc == QS_OK && resp->status == 401 && round == 0 &&
            retry_after_401(r, rr->scope, resp->headers, resp->nheaders)) {
            qs_http_resp_free(resp);
            continue;
        }
        return rc == QS_ETIMEOUT ? QS_EUNAVAIL : rc;
    }
}

/* The generic call registry_write.c builds on (registry_internal.h): extra headers and a
 * body, buffered or streamed; retried after a recoverable 401 only when the body can be sent
 * again. */
int qs_reg_call_do(qs_registry *r, const qs_reg_call *c, qs_http_resp *resp) {
    memset(resp, 0, sizeof *resp);
    size_t nextra = 0;
    while (c->headers && c->headers[nextra])
        nextra++;
    const char **h = calloc(nextra + 2, sizeof *h);
    if (!h)
        return QS_ENOMEM;
    for (int round = 0;; round++) {
        char *auth = NULL, *line = NULL;
        int rc = qs_registry_authorization(r, c->scope, &auth);
        if (rc == QS_OK && auth && !(line = qs_strdup_printf("Authorization: %s", auth)))
            rc = QS_ENOMEM;
        free_secret(auth);
        if (rc != QS_OK) {
            free((void *)h);
            return rc;
        }
        for (size_t i = 0; i < nextra; i++)
            h[i] = c->headers[i];
        h[nextra] = line;
        h[nextra + 1] = NULL;
        qs_http_req req = QS_HTTP_REQ_INIT;
        req.method = c->method;
        req.url = c->url;
        req.headers = (const char *const *)h;
        req.body = c->body;
        req.body_len = c->body_len;
        req.upload = c->upload;
        req.upload_ctx = c->upload_ctx;
        req.upload_len = c->upload_len;
        req.no_body = c->no_body;
        req.timeout_ms = c->timeout_ms;
        rc = qs_http_do(r->http, &req, resp);
        free_secret(line);
        /* A streamed body is not sent again, but a rejected token is still dropped so that
         * the caller's next attempt fetches a fresh one. */
        if (rc == QS_OK && resp->status == 401 && round == 0 &&
            retry_after_401(r, c->scope, resp->headers, resp->nheaders) && !c->upload) {
            qs_http_resp_free(resp);
            continue;
        }
        free((void *)h);
        return rc == QS_ETIMEOUT ? QS_EUNAVAIL : rc;
    }
}

/* The same for a stream. */
static int reg_stream(qs_registry *r, const reg_req *rr, qs_http_stream **out) {
    for (int round = 0;; round++) {
        char *hbuf[3] = {0}, err[256] = "";
        qs_http_req req;
        int rc = prepare(r, rr, &req, hbuf);
        if (rc == QS_OK)
            rc = qs_http_stream_open(r->http, &req, out, err, sizeof err);
        free_hbuf(hbuf);
        if (rc == QS_OK && qs_http_stream_status(*out) == 401 && round == 0) {
            const qs_header *h;
            size_t n = qs_http_stream_headers(*out, &h);
            if (retry_after_401(r, rr->scope, h, n)) {
                qs_http_stream_close(*out);
                *out = NULL;
                continue;
            }
        } else if (err[0]) {
            qs_log(QS_LOG_WARN, "registry request failed", "registry", r->host, "error", err, NULL);
        }
        return rc;
    }
}

/* ------------------------------------------------------------------ manifests */

/* "alg:hex" of `p` for the algorithm of `like` ("sha256:..." or "sha512:..."); QS_EINVAL for
 * another algorithm. digest.h covers SHA-256; SHA-512 goes to OpenSSL directly. */
static int digest_like(const char *like, const void *p, size_t n, char *out, size_t outlen) {
    if (strncmp(like, "sha256:", 7) == 0) {
        char d[QS_DIGEST_STR_LEN + 1];
        qs_sha256_digest(p, n, d);
        snprintf(out, outlen, "%s", d);
        return QS_OK;
    }
    if (strncmp(like, "sha512:", 7) != 0)
        return QS_EINVAL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(p, n, md, &mdlen, EVP_sha512(), NULL) || outlen < 8 + 2 * mdlen)
        return QS_ERR;
    int w = snprintf(out, outlen, "sha512:");
    for (unsigned int i = 0; i < mdlen; i++)
        w += snprintf(out + w, outlen - (size_t)w, "%02x", md[i]);
    return QS_OK;
}

/* Check a GET body against the digest asked for and the one the registry claims. */
static int verify_manifest(const char *ref, const char *claimed, qs_manifest *out) {
    bool by_digest = strchr(ref, ':') != NULL;
    char d[8 + 2 * EVP_MAX_MD_SIZE];
    int rc = digest_like(by_digest ? ref : "sha256:", out->body.data ? out->body.data : "",
                         out->body.len, d, sizeof d);
    if (rc != QS_OK)
        return rc;
    if (by_digest && strcasecmp(d, ref) != 0)
        return QS_EDIGEST;
    char c[8 + 2 * EVP_MAX_MD_SIZE];
    if (claimed &&
        digest_like(claimed, out->body.data ? out->body.data : "", out->body.len, c, sizeof c) ==
            QS_OK &&
        strcasecmp(c, claimed) != 0)
        return QS_EDIGEST;
    out->digest = strdup(d);
    return out->digest ? QS_OK : QS_ENOMEM;
}

static int manifest_req(qs_registry *r, const char *repo, const char *ref, bool get,
                        qs_manifest *out) {
    memset(out, 0, sizeof *out);
    out->size = -1;
    if (!segment_ok(repo, "._-/") || !segment_ok(ref, "._-:+"))
        return QS_EINVAL;
    char *url = qs_strdup_printf("%s/v2/%s/manifests/%s", r->base_url, repo, ref);
    char *scope = qs_strdup_printf("repository:%s:pull", repo);
    reg_req rr = {get ? "GET" : "HEAD", url, scope, QS_MANIFEST_ACCEPT, !get};
    qs_http_resp resp;
    int rc = url && scope ? reg_do(r, &rr, &resp) : QS_ENOMEM;
    if (rc == QS_OK && (rc = status_err(resp.status)) == QS_OK && resp.status != 200)
        rc = QS_EPROTO; /* 204, 206...: not a manifest */
    if (rc == QS_OK) {
        const char *claimed = qs_http_resp_header(&resp, "Docker-Content-Digest");
        out->media_type = media_type_of(qs_http_resp_header(&resp, "Content-Type"));
        if (get) {
            out->body = resp.body;
            resp.body = (qs_buf)QS_BUF_INIT;
            out->size = (int64_t)out->body.len;
            rc = verify_manifest(ref, claimed, out);
        } else {
            out->size = parse_length(qs_http_resp_header(&resp, "Content-Length"));
            const char *d = claimed ? claimed : strchr(ref, ':') ? ref : NULL;
            if (d && !(out->digest = strdup(d)))
                rc = QS_ENOMEM;
        }
        if (rc != QS_OK)
            qs_manifest_free(out);
    }
    if (url && scope)
        qs_http_resp_free(&resp);
    free(url);
    free(scope);
    return rc;
}

int qs_registry_manifest_head(qs_registry *r, const char *repo, const char *ref, qs_manifest *out) {
    return manifest_req(r, repo, ref, false, out);
}

int qs_registry_manifest_get(qs_registry *r, const char *repo, const char *ref, qs_manifest *out) {
    return manifest_req(r, repo, ref, true, out);
}

void qs_manifest_free(qs_manifest *m) {
    if (!m)
        return;
    free(m->media_type);
    free(m->digest);
    qs_buf_free(&m->body);
    memset(m, 0, sizeof *m);
    m->size = -1;
}

/* ------------------------------------------------------------------ blobs */

static bool is_redirect(long status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* `location` resolved against `base` (it may be relative); malloc'd, NULL on error. */
static char *resolve_url(const char *base, const char *location) {
    CURLU *u = curl_url();
    char *abs = NULL, *out = NULL;
    if (u && !curl_url_set(u, CURLUPART_URL, base, 0) &&
        !curl_url_set(u, CURLUPART_URL, location, 0) && !curl_url_get(u, CURLUPART_URL, &abs, 0))
        out = strdup(abs);
    curl_free(abs);
    curl_url_cleanup(u);
    return out;
}

static char *blob_url(qs_registry *r, const char *repo, const char *digest, char **scope) {
    *scope = NULL;
    if (!segment_ok(repo, "._-/") || !segment_ok(digest, "._-:+") || !strchr(digest, ':'))
        return NULL;
    *scope = qs_strdup_printf("repository:%s:pull", repo);
    return qs_strdup_printf("%s/v2/%s/blobs/%s", r->base_url, repo, digest);
}

int qs_registry_blob_head(qs_registry *r, const char *repo, const char *digest, int64_t *size) {
    char *scope, *url = blob_url(r, repo, digest, &scope);
    if (!url || !scope) {
        free(url);
        free(scope);
        return QS_EINVAL;
    }
    reg_req rr = {"HEAD", url, scope, NULL, true};
    qs_http_resp resp;
    int rc = reg_do(r, &rr, &resp);
    /* Storage redirects are followed without the registry's credentials. */
    for (int hop = 0; rc == QS_OK && is_redirect(resp.status) && hop < MAX_REDIRECTS; hop++) {
        const char *loc = qs_http_resp_header(&resp, "Location");
        char *next = loc ? resolve_url(url, loc) : NULL;
        if (!next) {
            rc = QS_EPROTO;
            break;
        }
        free(url);
        url = next;
        qs_http_resp_free(&resp);
        qs_http_req req = QS_HTTP_REQ_INIT;
        req.method = "HEAD";
        req.url = url;
        req.no_body = true;
        rc = qs_http_do(r->http, &req, &resp);
        rc = rc == QS_OK || rc == QS_ENOMEM ? rc : QS_EUNAVAIL;
    }
    if (rc == QS_OK && (rc = status_err(resp.status)) == QS_OK && size)
        *size = parse_length(qs_http_resp_header(&resp, "Content-Length"));
    qs_http_resp_free(&resp);
    free(url);
    free(scope);
    return rc;
}

/* Replace *s (a redirect) by a credential-free stream to where it points. */
static int follow_redirect(qs_registry *r, char **url, qs_http_stream **s) {
    const char *loc = qs_http_stream_header(*s, "Location");
    char *next = loc ? resolve_url(*url, loc) : NULL;
    qs_http_stream_close(*s);
    *s = NULL;
    if (!next)
        return QS_EPROTO;
    free(*url);
    *url = next;
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = next;
    char err[256];
    int rc = qs_http_stream_open(r->http, &req, s, err, sizeof err);
    if (rc != QS_OK && rc != QS_ENOMEM)
        qs_log(QS_LOG_WARN, "blob redirect failed", "registry", r->host, "error", err, NULL);
    return rc;
}

int qs_registry_blob_open(qs_registry *r, const char *repo, const char *digest,
                          qs_http_stream **out) {
    *out = NULL;
    char *scope, *url = blob_url(r, repo, digest, &scope);
    if (!url || !scope) {
        free(url);
        free(scope);
        return QS_EINVAL;
    }
    reg_req rr = {"GET", url, scope, NULL, false};
    qs_http_stream *s = NULL;
    int rc = reg_stream(r, &rr, &s);
    for (int hop = 0; rc == QS_OK && is_redirect(qs_http_stream_status(s)) && hop < MAX_REDIRECTS;
         hop++)
        rc = follow_redirect(r, &url, &s);
    if (rc == QS_OK && (rc = status_err(qs_http_stream_status(s))) == QS_OK)
        *out = s;
    else
        qs_http_stream_close(s);
    free(url);
    free(scope);
    return rc;
}

/* ------------------------------------------------------------------ for registry_write.c */

char *qs_reg_resolve_url(const char *base, const char *location) {
    return resolve_url(base, location);
}

int qs_reg_status_err(long status) { return status_err(status); }

bool qs_reg_segment_ok(const char *s, const char *extra) { return segment_ok(s, extra); }
