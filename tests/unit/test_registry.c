/* test_registry.c — qs_registry against a fake registry + token server (libmicrohttpd, loopback).
 *
 * The fake speaks just enough of the distribution API: `/v2/` answers with the challenge of the
 * configured auth mode, `/token` hands out numbered tokens ("tok-1", "tok-2", ...) and counts
 * calls, manifests need valid credentials, and blobs redirect to a `/cdn/` path that refuses any
 * request carrying an Authorization header. The pure parsers are tested with tables. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "shared/common.h"
#include "shared/digest.h"
#include "shared/registry.h"

#define USER "alice"
#define PASS "s3cret:with:colon"
#define BASIC_HDR "Basic YWxpY2U6czNjcmV0OndpdGg6Y29sb24=" /* alice:s3cret:with:colon */
#define MANIFEST                                                                                   \
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"}"
#define BLOB_SIZE (300 * 1000)

typedef enum { MODE_NONE, MODE_BASIC, MODE_BEARER } auth_mode;

static struct MHD_Daemon *daemon_;
static int port_;
static auth_mode mode_;
static atomic_int token_calls_, min_valid_token_, cdn_hits_, cdn_saw_auth_, manifest_hits_;
static int token_status_;
static long token_expires_in_;
static const char *token_issued_at_; /* NULL = omit; "PAST", "FUTURE" = relative to now */
static bool token_use_access_token_;
static int token_delay_ms_;
static pthread_mutex_t rec_mu_ = PTHREAD_MUTEX_INITIALIZER;
static char last_scope_[256], last_service_[128], last_account_[128], last_accept_[512];
static char manifest_digest_[QS_DIGEST_STR_LEN + 1];
static char blob_digest_[QS_DIGEST_STR_LEN + 1];
static char blob_[BLOB_SIZE];

/* ------------------------------------------------------------------ fake registry */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body,
                             size_t len, const char *const *hdrs) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    for (; hdrs && hdrs[0]; hdrs += 2)
        MHD_add_response_header(r, hdrs[0], hdrs[1]);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_s(struct MHD_Connection *c, unsigned status, const char *body) {
    return reply(c, status, body, strlen(body), NULL);
}

static void copy_arg(struct MHD_Connection *c, const char *key, char *dst, size_t n) {
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
    snprintf(dst, n, "%s", v ? v : "(none)");
}

static void iso_time(time_t t, char *out, size_t n) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%S.123456Z", &tm);
}

static enum MHD_Result route_token(struct MHD_Connection *c) {
    int n = ++token_calls_;
    pthread_mutex_lock(&rec_mu_);
    copy_arg(c, "scope", last_scope_, sizeof last_scope_);
    copy_arg(c, "service", last_service_, sizeof last_service_);
    copy_arg(c, "account", last_account_, sizeof last_account_);
    pthread_mutex_unlock(&rec_mu_);
    if (token_delay_ms_)
        usleep((useconds_t)token_delay_ms_ * 1000);
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!a || strcmp(a, BASIC_HDR) != 0)
        return reply_s(c, 401, "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}");
    if (token_status_ != 200)
        return reply_s(c, (unsigned)token_status_, "{}");
    char issued[64] = "", body[512];
    if (token_issued_at_) {
        time_t now = time(NULL);
        bool offset = strcmp(token_issued_at_, "OFFSET") == 0; /* an hour ago, written in +02:00 */
        time_t t = strcmp(token_issued_at_, "PAST") == 0 || offset ? now - 3600
                   : strcmp(token_issued_at_, "FUTURE") == 0       ? now + 86400
                                                                   : now;
        char ts[48];
        if (offset) {
            time_t local = t + 7200;
            struct tm tm;
            gmtime_r(&local, &tm);
            strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S+02:00", &tm);
        } else {
            iso_time(t, ts, sizeof ts);
        }
        snprintf(issued, sizeof issued, ",\"issued_at\":\"%s\"", ts);
    }
    snprintf(body, sizeof body, "{\"%s\":\"tok-%d\",\"expires_in\":%ld%s}",
             token_use_access_token_ ? "access_token" : "token", n, token_expires_in_, issued);
    return reply_s(c, 200, body);
}

/* Does the request carry the credentials the current mode requires? */
static bool authorized(struct MHD_Connection *c, bool *had_token) {
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    *had_token = a && strncmp(a, "Bearer ", 7) == 0;
    switch (mode_) {
    case MODE_NONE:
        return true;
    case MODE_BASIC:
        return a && strcmp(a, BASIC_HDR) == 0;
    case MODE_BEARER:
        return *had_token && strncmp(a + 7, "tok-", 4) == 0 && atoi(a + 11) >= min_valid_token_;
    }
    return false;
}

static enum MHD_Result challenge(struct MHD_Connection *c, const char *repo, bool invalid) {
    char ch[512];
    if (mode_ == MODE_BASIC)
        snprintf(ch, sizeof ch, "Basic realm=\"fake\"");
    else
        snprintf(ch, sizeof ch,
                 "Bearer realm=\"http://127.0.0.1:%d/token\",service=\"fake-registry\"%s%s%s%s",
                 port_, repo ? ",scope=\"repository:" : "", repo ? repo : "", repo ? ":pull\"" : "",
                 invalid ? ",error=\"invalid_token\"" : "");
    const char *h[] = {"WWW-Authenticate", ch, "Docker-Distribution-Api-Version", "registry/2.0",
                       NULL};
    const char *b = "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}";
    return reply(c, 401, b, strlen(b), h);
}

static enum MHD_Result route_manifest(struct MHD_Connection *c, const char *repo, const char *ref) {
    manifest_hits_++;
    const char *acc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
    pthread_mutex_lock(&rec_mu_);
    snprintf(last_accept_, sizeof last_accept_, "%s", acc ? acc : "");
    pthread_mutex_unlock(&rec_mu_);
    const char *h[] = {"Content-Type", QS_MT_OCI_MANIFEST "; charset=utf-8",
                       "Docker-Content-Digest", manifest_digest_, NULL};
    const char *h_nodigest[] = {"Content-Type", QS_MT_OCI_MANIFEST, NULL};
    if (strcmp(repo, "lib/denied") == 0)
        return reply_s(c, 403, "{\"errors\":[{\"code\":\"DENIED\"}]}");
    if (strcmp(repo, "lib/bad") == 0)
        return reply(c, 200, "tampered", 8, h);
    if (strcmp(repo, "lib/bad2") == 0) /* no Docker-Content-Digest to check against */
        return reply(c, 200, "tampered", 8, h_nodigest);
    if (strcmp(repo, "lib/app") == 0 &&
        (strcmp(ref, "v1") == 0 || strcmp(ref, manifest_digest_) == 0))
        return reply(c, 200, MANIFEST, strlen(MANIFEST), h);
    return reply_s(c, 404, "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\"}]}");
}

static enum MHD_Result route_blob(struct MHD_Connection *c, const char *method) {
    char loc[128];
    /* GET: absolute Location; HEAD: relative one (must be resolved against the request URL) */
    if (strcmp(method, "GET") == 0)
        snprintf(loc, sizeof loc, "http://127.0.0.1:%d/cdn/blob?sig=abc", port_);
    else
        snprintf(loc, sizeof loc, "/cdn/blob?sig=abc");
    const char *h[] = {"Location", loc, NULL};
    return reply(c, 307, "", 0, h);
}

static enum MHD_Result route_v2(struct MHD_Connection *c, const char *url, const char *method) {
    bool had_token;
    const char *rest = url + 4; /* after "/v2/" */
    char repo[128] = "";
    const char *m = strstr(rest, "/manifests/"), *b = strstr(rest, "/blobs/");
    const char *cut = m ? m : b;
    if (cut)
        snprintf(repo, sizeof repo, "%.*s", (int)(cut - rest), rest);
    if (!authorized(c, &had_token))
        return challenge(c, cut ? repo : NULL, had_token);
    if (!*rest)
        return reply_s(c, 200, "{}");
    if (m)
        return route_manifest(c, repo, m + strlen("/manifests/"));
    if (b)
        return route_blob(c, method);
    return reply_s(c, 404, "{}");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *data_size, void **con_cls) {
    (void)cls;
    (void)version;
    (void)data;
    (void)data_size;
    static int marker;
    if (!*con_cls) {
        *con_cls = &marker;
        return MHD_YES;
    }
    if (strcmp(url, "/token") == 0)
        return route_token(c);
    if (strncmp(url, "/v2/", 4) == 0)
        return route_v2(c, url, method);
    if (strcmp(url, "/cdn/blob") == 0) {
        cdn_hits_++;
        if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization")) {
            cdn_saw_auth_++;
            return reply_s(c, 400, "Only one auth mechanism allowed");
        }
        return reply(c, 200, blob_, BLOB_SIZE, NULL);
    }
    if (strcmp(url, "/broken/v2/") == 0)
        return reply_s(c, 500, "oops");
    return reply_s(c, 404, "{}");
}

static void start_server(void) {
    mode_ = MODE_BEARER;
    token_calls_ = cdn_hits_ = cdn_saw_auth_ = manifest_hits_ = 0;
    min_valid_token_ = 1;
    token_status_ = 200;
    token_expires_in_ = 300;
    token_issued_at_ = "NOW";
    token_use_access_token_ = false;
    token_delay_ms_ = 0;
    qs_sha256_digest(MANIFEST, strlen(MANIFEST), manifest_digest_);
    for (size_t i = 0; i < BLOB_SIZE; i++)
        blob_[i] = (char)(i * 31 + (i >> 9));
    qs_sha256_digest(blob_, BLOB_SIZE, blob_digest_);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    daemon_ =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
                         NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
    cr_assert_not_null(daemon_);
    port_ = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT)->port;
}

static void stop_server(void) {
    if (daemon_)
        MHD_stop_daemon(daemon_);
    daemon_ = NULL;
}

/* ------------------------------------------------------------------ client helpers */

static int creds_ok(void *ctx, char **user, char **pass) {
    (void)ctx;
    *user = strdup(USER);
    *pass = strdup(PASS);
    return 0;
}

static int creds_wrong(void *ctx, char **user, char **pass) {
    (void)ctx;
    *user = strdup(USER);
    *pass = strdup("nope");
    return 0;
}

static int creds_fail(void *ctx, char **user, char **pass) {
    (void)ctx;
    (void)user;
    (void)pass;
    return -1;
}

typedef struct {
    qs_http *http;
    qs_registry *reg;
} fixture;

static fixture mk(qs_creds_fn creds, const char *path_prefix) {
    qs_http_opts o = QS_HTTP_OPTS_INIT;
    o.backoff_base_ms = 1;
    o.backoff_max_ms = 5;
    fixture f = {qs_http_new(&o), NULL};
    cr_assert_not_null(f.http);
    char base[128];
    snprintf(base, sizeof base, "http://127.0.0.1:%d%s", port_, path_prefix);
    qs_registry_opts ro = {base, f.http, creds, NULL, 0};
    f.reg = qs_registry_new(&ro);
    cr_assert_not_null(f.reg);
    return f;
}

static void rm(fixture *f) {
    qs_registry_free(f->reg);
    qs_http_free(f->http);
}

TestSuite(registry, .init = start_server, .fini = stop_server, .timeout = 60);

/* ------------------------------------------------------------------ challenges */

typedef struct {
    const char *in;
    int rc;
    const char *scheme, *realm, *service, *scope, *error;
} challenge_case;

static const challenge_case challenge_cases[] = {
    {"Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
     "scope=\"repository:samalba/my-app:pull,push\"",
     0, "bearer", "https://auth.docker.io/token", "registry.docker.io",
     "repository:samalba/my-app:pull,push", NULL},
    {"Bearer "
     "realm=\"https://r/t\",service=\"s\",scope=\"repository:a:pull\",error=\"invalid_token\"",
     0, "bearer", "https://r/t", "s", "repository:a:pull", "invalid_token"},
    {"Basic realm=\"basic-realm\"", 0, "basic", "basic-realm", NULL, NULL, NULL},
    {"BEARER REALM=\"x\", Service=\"y\"", 0, "bearer", "x", "y", NULL, NULL},
    {"  bearer   realm = \"x\" ,  scope=\"repository:a/b:pull repository:host:5000/c:pull,push\" ",
     0, "bearer", "x", NULL, "repository:a/b:pull repository:host:5000/c:pull,push", NULL},
    {"Bearer realm=\"a \\\"quoted\\\" \\\\ realm\",service=\"s,with,commas\"", 0, "bearer",
     "a \"quoted\" \\ realm", "s,with,commas", NULL, NULL},
    {"Bearer realm=https://auth.example.com/token,service=reg", 0, "bearer",
     "https://auth.example.com/token", "reg", NULL, NULL},
    {"Bearer realm=\"x\",foo=\"ignored\",service=\"y\"", 0, "bearer", "x", "y", NULL, NULL},
    {"Basic", 0, "basic", NULL, NULL, NULL, NULL},
    {"Bearer realm=\"x\",,service=\"y\",", 0, "bearer", "x", "y", NULL, NULL},
    {"", QS_EINVAL, NULL, NULL, NULL, NULL, NULL},
    {"   ", QS_EINVAL, NULL, NULL, NULL, NULL, NULL},
    {"Bearer realm=\"unterminated", QS_EINVAL, NULL, NULL, NULL, NULL, NULL},
    {"Bearer realm", QS_EINVAL, NULL, NULL, NULL, NULL, NULL},
    {"Bearer realm=", QS_EINVAL, NULL, NULL, NULL, NULL, NULL},
    {"Bearer =\"x\"", QS_EINVAL, NULL, NULL, NULL, NULL, NULL},
    {"Bearer realm=\"x\" service=\"y\"", QS_EINVAL, NULL, NULL, NULL, NULL, NULL},
    {"\"Bearer\" realm=\"x\"", QS_EINVAL, NULL, NULL, NULL, NULL, NULL},
};

static void assert_opt_str(const char *got, const char *want, const char *what, const char *in) {
    if (!want)
        cr_assert_null(got, "%s of [%s]: want NULL, got [%s]", what, in, got);
    else
        cr_assert(got && strcmp(got, want) == 0, "%s of [%s]: want [%s], got [%s]", what, in, want,
                  got ? got : "(null)");
}

Test(registry, challenge_parse_table) {
    for (size_t i = 0; i < sizeof challenge_cases / sizeof challenge_cases[0]; i++) {
        const challenge_case *tc = &challenge_cases[i];
        qs_challenge c;
        int rc = qs_challenge_parse(tc->in, &c);
        cr_assert_eq(rc, tc->rc, "[%s]: rc %d, want %d", tc->in, rc, tc->rc);
        if (rc != 0) {
            cr_assert_null(c.scheme);
            continue;
        }
        assert_opt_str(c.scheme, tc->scheme, "scheme", tc->in);
        assert_opt_str(c.realm, tc->realm, "realm", tc->in);
        assert_opt_str(c.service, tc->service, "service", tc->in);
        assert_opt_str(c.scope, tc->scope, "scope", tc->in);
        assert_opt_str(c.error, tc->error, "error", tc->in);
        qs_challenge_free(&c);
    }
    qs_challenge c;
    cr_assert_eq(qs_challenge_parse(NULL, &c), QS_EINVAL);
}

/* ------------------------------------------------------------------ basic */

typedef struct {
    const char *in;
    int rc;
    const char *user, *pass;
} basic_case;

static const basic_case basic_cases[] = {
    {"Basic YWxpY2U6c2VjcmV0", 0, "alice", "secret"},     /* alice:secret */
    {BASIC_HDR, 0, "alice", "s3cret:with:colon"},         /* colons stay in the password */
    {"basic   YWxpY2U6c2VjcmV0  ", 0, "alice", "secret"}, /* scheme case, spaces */
    {"Basic OnNlY3JldA==", 0, "", "secret"},              /* :secret — empty user */
    {"Basic YWxpY2U6", 0, "alice", ""},                   /* alice: — empty password */
    {"Basic Og==", 0, "", ""},                            /* : */
    {"Basic YWxpY2U=", QS_EINVAL, NULL, NULL},            /* alice — no colon */
    {"Basic !!!notbase64", QS_EINVAL, NULL, NULL},
    {"Basic YWxpY2U6c2VjcmV0=", QS_EINVAL, NULL, NULL}, /* bad padding */
    {"Basic ", QS_EINVAL, NULL, NULL},
    {"Basic", QS_EINVAL, NULL, NULL},
    {"Bearer YWxpY2U6c2VjcmV0", QS_EINVAL, NULL, NULL},
    {"BasicYWxpY2U6c2VjcmV0", QS_EINVAL, NULL, NULL},
    {"Basic YQBiOmM=", QS_EINVAL, NULL, NULL}, /* a\0b:c — embedded NUL */
    {"", QS_EINVAL, NULL, NULL},
};

Test(registry, basic_parse_table) {
    for (size_t i = 0; i < sizeof basic_cases / sizeof basic_cases[0]; i++) {
        const basic_case *tc = &basic_cases[i];
        char *u = (char *)1, *p = (char *)1;
        int rc = qs_basic_parse(tc->in, &u, &p);
        cr_assert_eq(rc, tc->rc, "[%s]: rc %d, want %d", tc->in, rc, tc->rc);
        if (rc != 0) {
            cr_assert(u == NULL && p == NULL, "[%s]: outputs cleared on failure", tc->in);
            continue;
        }
        cr_assert_str_eq(u, tc->user, "[%s]", tc->in);
        cr_assert_str_eq(p, tc->pass, "[%s]", tc->in);
        free(u);
        free(p);
    }
    char *u, *p;
    cr_assert_eq(qs_basic_parse(NULL, &u, &p), QS_EINVAL);
}

Test(registry, manifest_accept_lists_every_type) {
    const char *types[] = {QS_MT_DOCKER_MANIFEST,       QS_MT_DOCKER_LIST,
                           QS_MT_OCI_MANIFEST,          QS_MT_OCI_INDEX,
                           QS_MT_DOCKER_SCHEMA1_SIGNED, QS_MT_DOCKER_SCHEMA1};
    const char *prev = QS_MANIFEST_ACCEPT;
    for (size_t i = 0; i < 6; i++) {
        const char *at = strstr(QS_MANIFEST_ACCEPT, types[i]);
        cr_assert_not_null(at, "%s missing", types[i]);
        if (i < 4)
            cr_assert_lt(at, strstr(QS_MANIFEST_ACCEPT, "distribution.manifest.v1+"),
                         "schema1 types come last");
        prev = at;
    }
    (void)prev;
}

/* ------------------------------------------------------------------ ping */

Test(registry, ping_detects_schemes) {
    const struct {
        auth_mode mode;
        qs_auth_kind want;
    } cases[] = {
        {MODE_NONE, QS_AUTH_NONE}, {MODE_BASIC, QS_AUTH_BASIC}, {MODE_BEARER, QS_AUTH_BEARER}};
    for (size_t i = 0; i < 3; i++) {
        mode_ = cases[i].mode;
        fixture f = mk(creds_ok, "");
        cr_assert_eq(qs_registry_auth_kind(f.reg), QS_AUTH_UNKNOWN);
        qs_auth_kind k;
        cr_assert_eq(qs_registry_ping(f.reg, &k), 0);
        cr_assert_eq(k, cases[i].want);
        cr_assert_eq(qs_registry_auth_kind(f.reg), cases[i].want);
        rm(&f);
    }
}

Test(registry, ping_errors) {
    fixture f = mk(creds_ok, "/broken"); /* /broken/v2/ answers 500 */
    qs_auth_kind k;
    cr_assert_eq(qs_registry_ping(f.reg, &k), QS_EUNAVAIL);
    rm(&f);
    f = mk(creds_ok, "/nothing"); /* 404 */
    cr_assert_eq(qs_registry_ping(f.reg, &k), QS_EPROTO);
    rm(&f);
    stop_server(); /* unreachable */
    qs_http_opts o = QS_HTTP_OPTS_INIT;
    o.backoff_base_ms = 1;
    o.max_attempts = 2;
    qs_http *h = qs_http_new(&o);
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port_);
    qs_registry_opts ro = {base, h, NULL, NULL, 0};
    qs_registry *r = qs_registry_new(&ro);
    cr_assert_eq(qs_registry_ping(r, &k), QS_EUNAVAIL);
    qs_registry_free(r);
    qs_http_free(h);
}

Test(registry, host_and_base_url) {
    qs_http *h = qs_http_new(NULL);
    qs_registry_opts ro = {"https://quay.io:8443/", h, NULL, NULL, 0};
    qs_registry *r = qs_registry_new(&ro);
    cr_assert_str_eq(qs_registry_base_url(r), "https://quay.io:8443");
    cr_assert_str_eq(qs_registry_host(r), "quay.io:8443");
    qs_registry_free(r);
    qs_http_free(h);
}

/* ------------------------------------------------------------------ tokens */

Test(registry, token_fetched_once_then_cached) {
    fixture f = mk(creds_ok, "");
    char *tok;
    time_t exp, now = time(NULL);
    cr_assert_eq(qs_registry_token(f.reg, "repository:lib/app:pull", false, &tok, &exp), 0);
    cr_assert_str_eq(tok, "tok-1");
    cr_assert(exp >= now + 299 && exp <= now + 302, "expires_at %ld vs now %ld", (long)exp,
              (long)now);
    free(tok);
    cr_assert_str_eq(last_scope_, "repository:lib/app:pull");
    cr_assert_str_eq(last_service_, "fake-registry");
    cr_assert_str_eq(last_account_, USER);
    cr_assert_eq(qs_registry_token(f.reg, "repository:lib/app:pull", false, &tok, NULL), 0);
    cr_assert_str_eq(tok, "tok-1");
    free(tok);
    cr_assert_eq(token_calls_, 2 - 1, "second call served from cache");
    /* another scope is another token */
    cr_assert_eq(qs_registry_token(f.reg, "repository:other:pull", false, &tok, NULL), 0);
    cr_assert_str_eq(tok, "tok-2");
    free(tok);
    /* force skips the cache */
    cr_assert_eq(qs_registry_token(f.reg, "repository:lib/app:pull", true, &tok, NULL), 0);
    cr_assert_str_eq(tok, "tok-3");
    free(tok);
    /* forget drops it */
    qs_registry_forget_token(f.reg, "repository:lib/app:pull");
    cr_assert_eq(qs_registry_token(f.reg, "repository:lib/app:pull", false, &tok, NULL), 0);
    cr_assert_str_eq(tok, "tok-4");
    free(tok);
    cr_assert_eq(token_calls_, 4);
    rm(&f);
}

Test(registry, short_lived_token_reused_within_half_its_life) {
    token_expires_in_ = 1; /* clamped to 60 s; the 60 s margin is capped at half of that */
    fixture f = mk(creds_ok, "");
    char *tok;
    time_t exp, now = time(NULL);
    cr_assert_eq(qs_registry_token(f.reg, "repository:lib/app:pull", false, &tok, &exp), 0);
    cr_assert(exp >= now + 59 && exp <= now + 62, "lifetime clamped to 60 s");
    cr_assert_str_eq(tok, "tok-1");
    free(tok);
    /* Not stale on arrival: served from the cache, no second fetch. */
    cr_assert_eq(qs_registry_token(f.reg, "repository:lib/app:pull", false, &tok, NULL), 0);
    cr_assert_str_eq(tok, "tok-1");
    free(tok);
    cr_assert_eq(token_calls_, 1);
    rm(&f);
}

Test(registry, issued_at_drives_expiry) {
    token_issued_at_ = "PAST"; /* issued an hour ago with expires_in 300: already stale */
    fixture f = mk(creds_ok, "");
    char *tok;
    time_t exp;
    cr_assert_eq(qs_registry_token(f.reg, "s", false, &tok, &exp), 0);
    cr_assert_lt(exp, time(NULL));
    free(tok);
    cr_assert_eq(qs_registry_token(f.reg, "s", false, &tok, NULL), 0);
    free(tok);
    cr_assert_eq(token_calls_, 2);
    /* a zone offset is applied: an hour ago in +02:00 is still an hour ago */
    token_issued_at_ = "OFFSET";
    cr_assert_eq(qs_registry_token(f.reg, "u", false, &tok, &exp), 0);
    cr_assert_lt(exp, time(NULL));
    free(tok);
    /* a token server clock a day ahead does not make tokens live a day longer */
    token_issued_at_ = "FUTURE";
    cr_assert_eq(qs_registry_token(f.reg, "t", false, &tok, &exp), 0);
    cr_assert_leq(exp, time(NULL) + 301);
    free(tok);
    rm(&f);
}

Test(registry, access_token_and_no_issued_at) {
    token_use_access_token_ = true;
    token_issued_at_ = NULL;
    fixture f = mk(creds_ok, "");
    char *tok;
    time_t exp, now = time(NULL);
    cr_assert_eq(qs_registry_token(f.reg, "s", false, &tok, &exp), 0);
    cr_assert_str_eq(tok, "tok-1");
    cr_assert(exp >= now + 299 && exp <= now + 302);
    free(tok);
    rm(&f);
}

Test(registry, token_errors) {
    fixture f = mk(creds_wrong, "");
    char *tok = (char *)1;
    cr_assert_eq(qs_registry_token(f.reg, "s", false, &tok, NULL), QS_EAUTH);
    cr_assert_null(tok);
    rm(&f);
    f = mk(creds_fail, "");
    cr_assert_eq(qs_registry_token(f.reg, "s", false, &tok, NULL), QS_EAUTH);
    rm(&f);
    token_status_ = 503;
    f = mk(creds_ok, "");
    int before = token_calls_;
    cr_assert_eq(qs_registry_token(f.reg, "s", false, &tok, NULL), QS_EUNAVAIL);
    cr_assert_eq(token_calls_ - before, 4, "retried with the client's max_attempts");
    token_status_ = 418;
    cr_assert_eq(qs_registry_token(f.reg, "s", false, &tok, NULL), QS_EPROTO);
    rm(&f);
    mode_ = MODE_NONE;
    f = mk(creds_ok, "");
    cr_assert_eq(qs_registry_token(f.reg, "s", false, &tok, NULL), QS_EPROTO, "no bearer realm");
    rm(&f);
}

typedef struct {
    qs_registry *reg;
    char *tok;
    int rc;
} tok_thread;

static void *get_token(void *p) {
    tok_thread *t = p;
    t->rc = qs_registry_token(t->reg, "repository:lib/app:pull", false, &t->tok, NULL);
    return NULL;
}

Test(registry, concurrent_fetches_single_flight) {
    token_delay_ms_ = 300;
    fixture f = mk(creds_ok, "");
    qs_auth_kind k;
    cr_assert_eq(qs_registry_ping(f.reg, &k), 0);
    pthread_t th[8];
    tok_thread t[8];
    for (int i = 0; i < 8; i++) {
        t[i] = (tok_thread){f.reg, NULL, -99};
        pthread_create(&th[i], NULL, get_token, &t[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(t[i].rc, 0);
        cr_assert_str_eq(t[i].tok, "tok-1");
        free(t[i].tok);
    }
    cr_assert_eq(token_calls_, 1, "8 threads caused %d token fetches", (int)token_calls_);
    rm(&f);
}

/* ------------------------------------------------------------------ authorization */

Test(registry, authorization_per_scheme) {
    const struct {
        auth_mode mode;
        const char *want;
    } cases[] = {{MODE_NONE, NULL}, {MODE_BASIC, BASIC_HDR}, {MODE_BEARER, "Bearer tok-1"}};
    for (size_t i = 0; i < 3; i++) {
        mode_ = cases[i].mode;
        token_calls_ = 0;
        fixture f = mk(creds_ok, "");
        char *a = (char *)1;
        cr_assert_eq(qs_registry_authorization(f.reg, "repository:lib/app:pull", &a), 0);
        if (cases[i].want)
            cr_assert_str_eq(a, cases[i].want);
        else
            cr_assert_null(a);
        free(a);
        rm(&f);
    }
    mode_ = MODE_BASIC; /* anonymous client against basic: no header */
    fixture f = mk(NULL, "");
    char *a = (char *)1;
    cr_assert_eq(qs_registry_authorization(f.reg, "x", &a), 0);
    cr_assert_null(a);
    rm(&f);
}

/* ------------------------------------------------------------------ manifests */

Test(registry, manifest_get_by_tag_and_digest) {
    fixture f = mk(creds_ok, "");
    qs_manifest m;
    cr_assert_eq(qs_registry_manifest_get(f.reg, "lib/app", "v1", &m), 0);
    cr_assert_str_eq(m.media_type, QS_MT_OCI_MANIFEST);
    cr_assert_str_eq(m.digest, manifest_digest_);
    cr_assert_eq(m.size, (int64_t)strlen(MANIFEST));
    cr_assert_eq(m.body.len, strlen(MANIFEST));
    cr_assert_eq(memcmp(m.body.data, MANIFEST, m.body.len), 0);
    cr_assert_str_eq(last_accept_, QS_MANIFEST_ACCEPT);
    qs_manifest_free(&m);
    cr_assert_eq(qs_registry_manifest_get(f.reg, "lib/app", manifest_digest_, &m), 0);
    cr_assert_str_eq(m.digest, manifest_digest_);
    qs_manifest_free(&m);
    cr_assert_eq(token_calls_, 1, "one token for both requests");
    rm(&f);
}

Test(registry, manifest_head) {
    fixture f = mk(creds_ok, "");
    qs_manifest m;
    cr_assert_eq(qs_registry_manifest_head(f.reg, "lib/app", "v1", &m), 0);
    cr_assert_str_eq(m.media_type, QS_MT_OCI_MANIFEST);
    cr_assert_str_eq(m.digest, manifest_digest_);
    cr_assert_eq(m.size, (int64_t)strlen(MANIFEST));
    cr_assert_eq(m.body.len, 0);
    cr_assert_str_eq(last_accept_, QS_MANIFEST_ACCEPT);
    qs_manifest_free(&m);
    rm(&f);
}

Test(registry, manifest_digest_mismatch) {
    fixture f = mk(creds_ok, "");
    qs_manifest m;
    /* by digest: the body must hash to the digest asked for */
    cr_assert_eq(qs_registry_manifest_get(f.reg, "lib/bad2", manifest_digest_, &m), QS_EDIGEST);
    cr_assert_null(m.digest);
    cr_assert_null(m.body.data);
    cr_assert_eq(qs_registry_manifest_get(f.reg, "lib/bad", manifest_digest_, &m), QS_EDIGEST);
    /* by tag without a claimed digest there is nothing to check: the digest is computed */
    cr_assert_eq(qs_registry_manifest_get(f.reg, "lib/bad2", "v1", &m), 0);
    char want[QS_DIGEST_STR_LEN + 1];
    qs_sha256_digest("tampered", 8, want);
    cr_assert_str_eq(m.digest, want);
    qs_manifest_free(&m);
    /* by tag: the body must hash to the Docker-Content-Digest the registry claims */
    cr_assert_eq(qs_registry_manifest_get(f.reg, "lib/bad", "v1", &m), QS_EDIGEST);
    rm(&f);
}

Test(registry, manifest_status_mapping) {
    fixture f = mk(creds_ok, "");
    qs_manifest m;
    cr_assert_eq(qs_registry_manifest_get(f.reg, "lib/app", "nosuchtag", &m), QS_ENOTFOUND);
    cr_assert_eq(qs_registry_manifest_head(f.reg, "lib/app", "nosuchtag", &m), QS_ENOTFOUND);
    cr_assert_eq(qs_registry_manifest_get(f.reg, "lib/denied", "v1", &m), QS_EDENIED);
    cr_assert_eq(qs_registry_manifest_get(f.reg, "lib/app", "../../x", &m), QS_EINVAL);
    cr_assert_eq(qs_registry_manifest_get(f.reg, "lib/app", "v1?x=1", &m), QS_EINVAL);
    rm(&f);
    f = mk(creds_wrong, "");
    cr_assert_eq(qs_registry_manifest_get(f.reg, "lib/app", "v1", &m), QS_EAUTH);
    rm(&f);
    mode_ = MODE_BASIC;
    f = mk(creds_wrong, "");
    cr_assert_eq(qs_registry_manifest_get(f.reg, "lib/app", "v1", &m), QS_EAUTH);
    rm(&f);
}

Test(registry, manifest_with_basic_auth) {
    mode_ = MODE_BASIC;
    fixture f = mk(creds_ok, "");
    qs_manifest m;
    cr_assert_eq(qs_registry_manifest_get(f.reg, "lib/app", "v1", &m), 0);
    cr_assert_str_eq(m.digest, manifest_digest_);
    qs_manifest_free(&m);
    cr_assert_eq(token_calls_, 0);
    rm(&f);
}

Test(registry, invalid_token_forgotten_and_retried_once) {
    fixture f = mk(creds_ok, "");
    char *tok;
    cr_assert_eq(qs_registry_token(f.reg, "repository:lib/app:pull", false, &tok, NULL), 0);
    free(tok);
    min_valid_token_ = 2; /* the registry now rejects tok-1 as invalid_token */
    qs_manifest m;
    int hits = manifest_hits_;
    cr_assert_eq(qs_registry_manifest_get(f.reg, "lib/app", "v1", &m), 0);
    qs_manifest_free(&m);
    cr_assert_eq(token_calls_, 2);
    min_valid_token_ = 100; /* every token rejected: one retry, then the 401 */
    cr_assert_eq(qs_registry_manifest_get(f.reg, "lib/app", "v1", &m), QS_EAUTH);
    cr_assert_eq(token_calls_, 3, "retried exactly once");
    (void)hits;
    rm(&f);
}

Test(registry, relearns_when_registry_starts_requiring_auth) {
    mode_ = MODE_NONE;
    fixture f = mk(creds_ok, "");
    qs_auth_kind k;
    cr_assert_eq(qs_registry_ping(f.reg, &k), 0);
    cr_assert_eq(k, QS_AUTH_NONE);
    mode_ = MODE_BEARER;
    qs_manifest m;
    cr_assert_eq(qs_registry_manifest_get(f.reg, "lib/app", "v1", &m), 0);
    qs_manifest_free(&m);
    cr_assert_eq(qs_registry_auth_kind(f.reg), QS_AUTH_BEARER);
    rm(&f);
}

/* ------------------------------------------------------------------ blobs */

Test(registry, blob_redirect_followed_without_authorization) {
    fixture f = mk(creds_ok, "");
    qs_http_stream *s;
    cr_assert_eq(qs_registry_blob_open(f.reg, "lib/app", blob_digest_, &s), 0);
    cr_assert_eq(qs_http_stream_status(s), 200);
    cr_assert_eq(qs_http_stream_length(s), BLOB_SIZE);
    qs_sha256 *h = qs_sha256_new();
    char buf[7000];
    ssize_t n;
    size_t total = 0;
    while ((n = qs_http_stream_read(s, buf, sizeof buf)) > 0) {
        qs_sha256_update(h, buf, (size_t)n);
        total += (size_t)n;
    }
    cr_assert_eq(n, 0);
    char d[QS_DIGEST_STR_LEN + 1];
    qs_sha256_final(h, d);
    cr_assert_eq(total, BLOB_SIZE);
    cr_assert_str_eq(d, blob_digest_);
    qs_http_stream_close(s);
    cr_assert_eq(cdn_hits_, 1);
    cr_assert_eq(cdn_saw_auth_, 0, "credentials leaked to the redirect target");
    cr_assert_eq(token_calls_, 1, "the registry request itself was authenticated");
    rm(&f);
}

Test(registry, blob_head_follows_relative_redirect) {
    fixture f = mk(creds_ok, "");
    int64_t size = -2;
    cr_assert_eq(qs_registry_blob_head(f.reg, "lib/app", blob_digest_, &size), 0);
    cr_assert_eq(size, BLOB_SIZE);
    cr_assert_eq(cdn_hits_, 1);
    cr_assert_eq(cdn_saw_auth_, 0);
    cr_assert_eq(qs_registry_blob_head(f.reg, "lib/app", "not-a-digest", &size), QS_EINVAL);
    rm(&f);
}

Test(registry, blob_errors) {
    fixture f = mk(creds_wrong, "");
    qs_http_stream *s = (qs_http_stream *)1;
    cr_assert_eq(qs_registry_blob_open(f.reg, "lib/app", blob_digest_, &s), QS_EAUTH);
    cr_assert_null(s);
    rm(&f);
}
