/* test_api_token.c — the platform bearer token guard: header parsing, constant-time match
 * against a rotating secret file, and the 401/403 answers, over real HTTP. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/api_token.h"
#include "shared/buf.h"
#include "shared/log.h"

static qs_server *srv;
static unsigned port;
static qs_secret *secret; /* NULL in the "not configured" tests */
static char dir[64], path[128];

static void h_guarded(qs_req *r, void *ctx) {
    (void)ctx;
    if (!qs_require_bearer(r, secret, "test-realm"))
        return;
    qs_respond_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static void h_bearer(qs_req *r, void *ctx) {
    (void)ctx;
    const char *b = qs_req_bearer(r);
    qs_respond_json(
        r, 200, json_pack("{s:s?,s:b}", "bearer", b, "matches", qs_req_bearer_matches(r, secret)));
}

static void write_token(const char *value) {
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    cr_assert_not_null(f);
    fputs(value, f);
    fclose(f);
    cr_assert_eq(rename(tmp, path), 0);
}

static void setup(void) {
    qs_log_init("test", QS_LOG_ERROR);
    strcpy(dir, "/tmp/qs-api-token.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/token", dir);
    write_token("s3cret-one\n");
    secret = qs_secret_new(path);
    static const qs_route routes[] = {
        {"POST", "/guarded", h_guarded, NULL, 0},
        {"GET", "/bearer", h_bearer, NULL, 0},
    };
    qs_server_opts o = QS_SERVER_OPTS_INIT;
    o.listen_addr = "127.0.0.1:0";
    char err[256];
    srv = qs_server_new(&o, routes, 2, err, sizeof err);
    cr_assert_not_null(srv, "%s", err);
    cr_assert_eq(qs_server_start(srv, err, sizeof err), 0, "%s", err);
    port = qs_server_port(srv);
}

static void teardown(void) {
    qs_server_free(srv);
    qs_secret_free(secret);
    secret = NULL;
    unlink(path);
    rmdir(dir);
}

typedef struct {
    long status;
    qs_buf body, headers;
} result;

static size_t wr(char *p, size_t s, size_t n, void *ud) {
    qs_buf_append(ud, p, s * n);
    return s * n;
}

static result call(const char *method, const char *p, const char *auth) {
    result r = {0, QS_BUF_INIT, QS_BUF_INIT};
    CURL *c = curl_easy_init();
    char url[256], hdr[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, p);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    struct curl_slist *sl = NULL;
    if (auth) {
        snprintf(hdr, sizeof hdr, "Authorization: %s", auth);
        sl = curl_slist_append(sl, hdr);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, sl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, wr);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, wr);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(sl);
    curl_easy_cleanup(c);
    return r;
}

static void done(result *r) {
    qs_buf_free(&r->body);
    qs_buf_free(&r->headers);
}

TestSuite(api_token, .init = setup, .fini = teardown);

Test(api_token, right_token_passes) {
    result r = call("POST", "/guarded", "Bearer s3cret-one");
    cr_assert_eq(r.status, 200, "%s", qs_buf_str(&r.body));
    done(&r);
    r = call("POST", "/guarded", "bearer   s3cret-one  ");
    cr_assert_eq(r.status, 200, "scheme is case-insensitive, blanks skipped");
    done(&r);
}

Test(api_token, missing_or_wrong_token_is_401_with_challenge) {
    const char *bad[] = {NULL,
                         "Bearer",
                         "Bearer ",
                         "Bearer s3cret-on",
                         "Bearer s3cret-one2",
                         "Basic czNjcmV0LW9uZQ==",
                         "Bearers3cret-one"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        result r = call("POST", "/guarded", bad[i]);
        cr_assert_eq(r.status, 401, "case %zu: %ld", i, r.status);
        cr_assert_not_null(strstr(qs_buf_str(&r.body), "\"unauthorized\""));
        cr_assert_not_null(
            strstr(qs_buf_str(&r.headers), "WWW-Authenticate: Bearer realm=\"test-realm\""));
        cr_assert_null(strstr(qs_buf_str(&r.body), "s3cret"), "no secret in the answer");
        done(&r);
    }
}

Test(api_token, rotated_file_applies_at_the_next_request) {
    write_token("s3cret-two");
    result r = call("POST", "/guarded", "Bearer s3cret-one");
    cr_assert_eq(r.status, 401);
    done(&r);
    r = call("POST", "/guarded", "Bearer s3cret-two");
    cr_assert_eq(r.status, 200);
    done(&r);
}

Test(api_token, no_token_configured_is_403) {
    qs_secret_free(secret);
    secret = NULL;
    result r = call("POST", "/guarded", "Bearer s3cret-one");
    cr_assert_eq(r.status, 403);
    cr_assert_not_null(strstr(qs_buf_str(&r.body), "writes_disabled"));
    done(&r);
}

Test(api_token, unreadable_token_file_is_403) {
    qs_secret_free(secret);
    secret = qs_secret_new("/nonexistent/quayside/token");
    result r = call("POST", "/guarded", "Bearer s3cret-one");
    cr_assert_eq(r.status, 403);
    done(&r);
}

Test(api_token, bearer_parsing_and_match) {
    result r = call("GET", "/bearer", "Bearer  abc def ");
    json_t *j = json_loads(qs_buf_str(&r.body), 0, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(j, "bearer")), "abc def ");
    cr_assert(json_is_false(json_object_get(j, "matches")));
    json_decref(j);
    done(&r);
    r = call("GET", "/bearer", "Bearer s3cret-one");
    j = json_loads(qs_buf_str(&r.body), 0, NULL);
    cr_assert(json_is_true(json_object_get(j, "matches")));
    json_decref(j);
    done(&r);
    r = call("GET", "/bearer", "Digest x");
    j = json_loads(qs_buf_str(&r.body), 0, NULL);
    cr_assert(json_is_null(json_object_get(j, "bearer")));
    json_decref(j);
    done(&r);
}

Test(api_token, bearer_token_is_pure_parsing) {
    cr_assert_null(qs_bearer_token(NULL));
    cr_assert_null(qs_bearer_token("Basic abc"));
    cr_assert_null(qs_bearer_token("Bearer"));
    cr_assert_null(qs_bearer_token("Bearer   "));
    cr_assert_null(qs_bearer_token("Bearerabc"));
    cr_assert_str_eq(qs_bearer_token("  bEaReR\tabc"), "abc");
    cr_assert(qs_token_matches("s3cret-one  ", secret));
    cr_assert_not(qs_token_matches("s3cret-one", NULL));
    cr_assert_not(qs_token_matches(NULL, secret));
}
