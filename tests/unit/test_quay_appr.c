/* test_quay_appr.c — the App Registry client (libshared quay_appr) against the Quay emulator.
 *
 * Each test starts quay-emulator with a fixture of App Registry tokens (an all-powerful one
 * for "myorg" and "bigorg", a push-only one, a pull-only one, an OAuth admin token) and a
 * robot account, then drives the emulator only through the client: push/list/show/delete,
 * changevisibility, the 409/422/403/404/401 answers and the messages parsed out of their
 * bodies, CNR login, the 50-package listing limit, and an injected 502 that the shared HTTP
 * client retries. The blobs pushed are real tar.gz archives built here (a ustar header +
 * content, gzip via zlib); the emulator's control endpoint hands them back for comparison.
 * qs_appr_parse_error is also checked on its own against each of Quay's error shapes. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "emu_spawn.h"
#include "shared/base64.h"
#include "shared/common.h"
#include "shared/digest.h"
#include "shared/log.h"
#include "shared/quay_appr.h"

#define ADMIN_TOKEN "basic bXlvcmc6c2VjcmV0" /* registered verbatim */
#define PUSH_TOKEN "push-only-token"
#define PULL_TOKEN "pull-only-token"
#define OAUTH_TOKEN "oauth-admin-token"
#define ROBOT "myorg+omps"
#define ROBOT_PW "robot-pass"

static const char fixture[] =
    "{\"accounts\":[{\"username\":\"" ROBOT "\",\"password\":\"" ROBOT_PW "\",\"robot\":true,"
    "  \"grants\":[{\"repository\":\"myorg/*\",\"actions\":[\"*\"]}]}],"
    " \"appr_tokens\":["
    "  {\"token\":\"" ADMIN_TOKEN "\",\"orgs\":[\"myorg\",\"bigorg\"]},"
    "  {\"token\":\"" PUSH_TOKEN "\",\"orgs\":[\"myorg\"],\"actions\":[\"pull\",\"push\"]},"
    "  {\"token\":\"" PULL_TOKEN "\",\"grants\":[{\"repository\":\"myorg/*\","
    "   \"actions\":[\"pull\"]}]},"
    "  {\"token\":\"" OAUTH_TOKEN "\",\"orgs\":[\"myorg\"],\"actions\":[\"admin\"]}]}";

static emu_proc emu;
static qs_http *http; /* retries enabled, short backoff */

static void setup(void) {
    qs_log_init("test_quay_appr", QS_LOG_ERROR);
    emu_prepare(&emu);
    char fx[160], e_fx[200], keypath[160], e_key[200];
    emu_write_file(&emu, "fixture.json", fixture, fx, sizeof fx);
    snprintf(e_fx, sizeof e_fx, "QUAY_EMU_FIXTURE=%s", fx);
    /* the token server needs a key even though these tests never ask it for a token */
    snprintf(keypath, sizeof keypath, "%s/token.key", emu.dir);
    EVP_PKEY *key = EVP_EC_gen("P-256");
    FILE *f = fopen(keypath, "w");
    cr_assert(key && f);
    cr_assert(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL));
    fclose(f);
    EVP_PKEY_free(key);
    snprintf(e_key, sizeof e_key, "QUAY_EMU_TOKEN_KEY=%s", keypath);
    const char *env[] = {e_key, e_fx, "QUAY_EMU_LISTEN=127.0.0.1:0", NULL};
    emu_start(&emu, "quay", env);
    qs_http_opts o = QS_HTTP_OPTS_INIT;
    o.backoff_base_ms = 5;
    o.backoff_max_ms = 20;
    o.timeout_ms = 10000;
    http = qs_http_new(&o);
}

static void teardown(void) {
    qs_http_free(http);
    http = NULL;
    emu_stop(&emu);
}

TestSuite(quay_appr, .init = setup, .fini = teardown, .timeout = 60);

/* ---- blobs ---- */

/* A one-file ustar archive gzip'd; *raw_tar gets the sha256 hex of the tar. Returns the
 * gzip bytes (malloc'd) and their length in *n. */
static unsigned char *make_targz(const char *content, size_t *n, char tar_hex[65]) {
    size_t clen = strlen(content), tlen = 512 + ((clen + 511) / 512) * 512 + 1024;
    unsigned char *tar = calloc(1, tlen);
    snprintf((char *)tar, 100, "bundle/bundle.yaml");
    memcpy(tar + 100, "0000644", 7);
    memcpy(tar + 108, "0000000", 7);
    memcpy(tar + 116, "0000000", 7);
    snprintf((char *)tar + 124, 12, "%011o", (unsigned)clen);
    memcpy(tar + 136, "00000000000", 11);
    tar[156] = '0';
    memcpy(tar + 257, "ustar", 6);
    memcpy(tar + 263, "00", 2);
    memset(tar + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += tar[i];
    snprintf((char *)tar + 148, 8, "%06o", sum);
    memcpy(tar + 512, content, clen);
    qs_sha256_hex(tar, tlen, tar_hex);

    z_stream z;
    memset(&z, 0, sizeof z);
    cr_assert_eq(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, (uLong)tlen) + 64;
    unsigned char *out = malloc(cap);
    z.next_in = tar;
    z.avail_in = (uInt)tlen;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    *n = cap - z.avail_out;
    deflateEnd(&z);
    free(tar);
    return out;
}

static char *make_blob(const char *content) {
    size_t n;
    char hex[65];
    unsigned char *gz = make_targz(content, &n, hex);
    char *b64 = qs_base64_encode(gz, n);
    free(gz);
    return b64;
}

static int push(const char *auth, const char *pkg, const char *rel, qs_appr_error *e) {
    char *blob = make_blob("packageName: x\n");
    int rc = qs_appr_push(http, emu.base, auth, "myorg", pkg, rel, NULL, blob, e);
    free(blob);
    return rc;
}

/* ---- the happy path ---- */

Test(quay_appr, version) {
    char v[64] = "";
    qs_appr_error e = {0};
    cr_assert_eq(qs_appr_version(http, emu.base, v, sizeof v, &e), 0, "%s", e.message);
    cr_assert_str_eq(v, "0.0.1-quay-emulator");
}

Test(quay_appr, push_list_show_and_blob_round_trip) {
    size_t n;
    char hex[65];
    unsigned char *gz = make_targz("packageName: marketplace\n", &n, hex);
    char *b64 = qs_base64_encode(gz, n);
    qs_appr_error e = {0};
    cr_assert_eq(
        qs_appr_push(http, emu.base, ADMIN_TOKEN, "myorg", "marketplace", "1.10.0", NULL, b64, &e),
        0, "%s", e.message);
    cr_assert_eq(push(ADMIN_TOKEN, "marketplace", "2.0.0", &e), 0, "%s", e.message);
    cr_assert_eq(push(ADMIN_TOKEN, "marketplace", "1.9.0", &e), 0, "%s", e.message);

    json_t *rels = NULL;
    cr_assert_eq(
        qs_appr_list_releases(http, emu.base, ADMIN_TOKEN, "myorg", "marketplace", &rels, &e), 0,
        "%s", e.message);
    char *txt = json_dumps(rels, JSON_COMPACT);
    cr_assert_str_eq(txt, "[\"2.0.0\",\"1.10.0\",\"1.9.0\"]"); /* semver order, highest first */
    free(txt);
    json_decref(rels);

    json_t *show = NULL;
    cr_assert_eq(
        qs_appr_show_package(http, emu.base, ADMIN_TOKEN, "myorg", "marketplace", &show, &e), 0);
    cr_assert_eq(json_array_size(show), 3);
    json_t *r110 = json_array_get(show, 1);
    cr_assert_str_eq(json_string_value(json_object_get(r110, "release")), "1.10.0");
    cr_assert_str_eq(json_string_value(json_object_get(r110, "package")), "myorg/marketplace");
    json_t *content = json_object_get(r110, "content");
    cr_assert_str_eq(json_string_value(json_object_get(content, "digest")), hex);
    cr_assert_eq(json_integer_value(json_object_get(content, "size")), (json_int_t)n);
    cr_assert_str_eq(json_string_value(json_object_get(content, "mediaType")),
                     "application/vnd.cnr.package.helm.v0.tar+gzip");
    json_decref(show);

    /* the emulator kept exactly the bytes pushed */
    char url[300];
    snprintf(url, sizeof url, "%s/_emulator/appr/myorg/marketplace/1.10.0/blob", emu.base);
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url;
    qs_http_resp resp = {0};
    cr_assert_eq(qs_http_do(emu.http, &req, &resp), 0);
    cr_assert_eq(resp.status, 200);
    cr_assert_eq(resp.body.len, n);
    cr_assert_eq(memcmp(resp.body.data, gz, n), 0);
    qs_http_resp_free(&resp);
    free(gz);
    free(b64);
}

/* ---- refusals and their messages ---- */

Test(quay_appr, duplicate_release_409_package_exists) {
    qs_appr_error e = {0};
    cr_assert_eq(push(ADMIN_TOKEN, "dup", "1.0.0", &e), 0, "%s", e.message);
    cr_assert_eq(push(ADMIN_TOKEN, "dup", "1.0.0", &e), QS_EEXISTS);
    cr_assert_eq(e.status, 409);
    cr_assert_str_eq(e.code, "package-exists");
    cr_assert_str_eq(e.message, "package exists already");
    char *txt = json_dumps(e.body, JSON_COMPACT | JSON_SORT_KEYS);
    cr_assert_str_eq(txt,
                     "{\"error\":{\"code\":\"package-exists\",\"details\":{},\"message\":\"package "
                     "exists already\"}}");
    free(txt);
    qs_appr_error_clear(&e);
}

Test(quay_appr, bad_release_422) {
    qs_appr_error e = {0};
    cr_assert_eq(push(ADMIN_TOKEN, "badrel", "1.01.0", &e), QS_EINVAL);
    cr_assert_eq(e.status, 422);
    cr_assert_str_eq(e.code, "invalid-release");
    cr_assert_str_eq(e.message, "Invalid version string: '1.01.0'");
    qs_appr_error_clear(&e);
    /* a full semver with pre-release and build is accepted */
    cr_assert_eq(push(ADMIN_TOKEN, "badrel", "1.0.1-random.2+b7", &e), 0, "%s", e.message);
}

Test(quay_appr, forbidden_403_scopes) {
    qs_appr_error e = {0};
    /* no token, an unknown token, a token that may not create */
    const char *auths[] = {NULL, "basic bm9ib2R5Om5vcGU=", PUSH_TOKEN};
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(push(auths[i], "newpkg", "1.0.0", &e), QS_EDENIED, "auth %zu", i);
        cr_assert_eq(e.status, 403);
        cr_assert_str_eq(e.code, "forbidden");
        cr_assert_str_eq(e.message, "Unauthorized access for: myorg/newpkg");
        json_t *scopes =
            json_object_get(json_object_get(json_object_get(e.body, "error"), "details"), "scopes");
        cr_assert_str_eq(json_string_value(json_array_get(scopes, 0)), "create");
        qs_appr_error_clear(&e);
    }
    /* the package exists: a pull-only token lacks push; the push-only one may push */
    cr_assert_eq(push(ADMIN_TOKEN, "newpkg", "1.0.0", &e), 0);
    cr_assert_eq(push(PULL_TOKEN, "newpkg", "1.1.0", &e), QS_EDENIED);
    json_t *scopes =
        json_object_get(json_object_get(json_object_get(e.body, "error"), "details"), "scopes");
    cr_assert_str_eq(json_string_value(json_array_get(scopes, 0)), "push");
    qs_appr_error_clear(&e);
    cr_assert_eq(push(PUSH_TOKEN, "newpkg", "1.1.0", &e), 0, "%s", e.message);
}

Test(quay_appr, blob_must_be_targz) {
    qs_appr_error e = {0};
    char *notgz = qs_base64_encode("hello", 5);
    cr_assert_eq(qs_appr_push(http, emu.base, ADMIN_TOKEN, "myorg", "gz", "1.0.0", NULL, notgz, &e),
                 QS_EINVAL);
    cr_assert_eq(e.status, 400);
    cr_assert_str_eq(e.code, "invalid-usage");
    qs_appr_error_clear(&e);
    free(notgz);
    cr_assert_eq(qs_appr_push(http, emu.base, ADMIN_TOKEN, "myorg", "gz", "1.0.0", NULL,
                              "%%%not-base64", &e),
                 QS_EINVAL);
    qs_appr_error_clear(&e);
}

Test(quay_appr, delete_release_then_404) {
    qs_appr_error e = {0};
    cr_assert_eq(push(ADMIN_TOKEN, "del", "1.0.0", &e), 0);
    cr_assert_eq(push(ADMIN_TOKEN, "del", "2.0.0", &e), 0);
    cr_assert_eq(
        qs_appr_delete_release(http, emu.base, PULL_TOKEN, "myorg", "del", "1.0.0", NULL, &e),
        QS_EDENIED);
    qs_appr_error_clear(&e);
    cr_assert_eq(
        qs_appr_delete_release(http, emu.base, ADMIN_TOKEN, "myorg", "del", "1.0.0", NULL, &e), 0,
        "%s", e.message);
    json_t *rels = NULL;
    cr_assert_eq(qs_appr_list_releases(http, emu.base, ADMIN_TOKEN, "myorg", "del", &rels, &e), 0);
    cr_assert_eq(json_array_size(rels), 1);
    cr_assert_str_eq(json_string_value(json_array_get(rels, 0)), "2.0.0");
    json_decref(rels);
    cr_assert_eq(
        qs_appr_delete_release(http, emu.base, ADMIN_TOKEN, "myorg", "del", "1.0.0", NULL, &e),
        QS_ENOTFOUND);
    cr_assert_eq(e.status, 404);
    cr_assert_str_eq(e.code, "package-not-found");
    cr_assert_str_eq(e.message, "package myorg/del doesn't exist, v: 1.0.0, type: helm");
    qs_appr_error_clear(&e);
    /* the last release gone: the package drops out of the listing */
    cr_assert_eq(
        qs_appr_delete_release(http, emu.base, ADMIN_TOKEN, "myorg", "del", "2.0.0", NULL, &e), 0);
    cr_assert_eq(qs_appr_list_releases(http, emu.base, ADMIN_TOKEN, "myorg", "del", &rels, &e),
                 QS_ENOTFOUND);
    cr_assert_str_eq(e.message, "Package myorg/del not found");
    qs_appr_error_clear(&e);
}

static const char *visibility_anon(const char *pkg) {
    static char vis[16];
    json_t *list = NULL;
    qs_appr_error e = {0};
    cr_assert_eq(qs_appr_list_packages(http, emu.base, NULL, "myorg", &list, &e), 0);
    vis[0] = '\0';
    size_t i;
    json_t *p;
    char name[100];
    snprintf(name, sizeof name, "myorg/%s", pkg);
    json_array_foreach(list, i, p) {
        if (strcmp(json_string_value(json_object_get(p, "name")), name) == 0)
            snprintf(vis, sizeof vis, "%s", json_string_value(json_object_get(p, "visibility")));
    }
    json_decref(list);
    return vis;
}

Test(quay_appr, changevisibility) {
    qs_appr_error e = {0};
    cr_assert_eq(push(ADMIN_TOKEN, "vis", "1.0.0", &e), 0);
    cr_assert_str_eq(visibility_anon("vis"), ""); /* new app repos are private */

    cr_assert_eq(qs_appr_set_visibility(http, emu.base, NULL, "myorg", "vis", true, &e), QS_EAUTH);
    cr_assert_eq(e.status, 401);
    cr_assert_str_eq(e.code, "invalid_token");
    cr_assert_str_eq(e.message, "Requires authentication");
    qs_appr_error_clear(&e);
    cr_assert_eq(
        qs_appr_set_visibility(http, emu.base, "Bearer " PUSH_TOKEN, "myorg", "vis", true, &e),
        QS_EDENIED);
    cr_assert_str_eq(e.code, "insufficient_scope");
    cr_assert_str_eq(e.message, "Unauthorized");
    qs_appr_error_clear(&e);

    cr_assert_eq(
        qs_appr_set_visibility(http, emu.base, "Bearer " OAUTH_TOKEN, "myorg", "vis", true, &e), 0,
        "%s", e.message);
    cr_assert_str_eq(visibility_anon("vis"), "public");
    cr_assert_eq(
        qs_appr_set_visibility(http, emu.base, "Bearer " OAUTH_TOKEN, "myorg", "vis", false, &e),
        0);
    cr_assert_str_eq(visibility_anon("vis"), "");
}

Test(quay_appr, login_token_pushes) {
    char body[200], url[300];
    snprintf(url, sizeof url, "%s/cnr/api/v1/users/login", emu.base);
    snprintf(body, sizeof body, "{\"user\":{\"username\":\"%s\",\"password\":\"%s\"}}", ROBOT,
             ROBOT_PW);
    qs_buf out = QS_BUF_INIT;
    cr_assert_eq(emu_call(&emu, "POST", "/cnr/api/v1/users/login", body, &out), 200);
    json_t *j = json_loads(qs_buf_str(&out), 0, NULL);
    qs_buf_free(&out);
    char *b64 = qs_base64_encode(ROBOT ":" ROBOT_PW, strlen(ROBOT ":" ROBOT_PW));
    char want[200];
    snprintf(want, sizeof want, "basic %s", b64);
    free(b64);
    cr_assert_str_eq(json_string_value(json_object_get(j, "token")), want);
    json_decref(j);
    qs_appr_error e = {0};
    cr_assert_eq(push(want, "viarobot", "1.0.0", &e), 0, "%s", e.message);

    snprintf(body, sizeof body, "{\"user\":{\"username\":\"%s\",\"password\":\"wrong\"}}", ROBOT);
    cr_assert_eq(emu_call(&emu, "POST", "/cnr/api/v1/users/login", body, &out), 401);
    qs_appr_parse_error(401, out.data, out.len, &e);
    cr_assert_str_eq(e.code, "unauthorized-access");
    qs_appr_error_clear(&e);
    qs_buf_free(&out);
    cr_assert_eq(emu_call(&emu, "POST", "/cnr/api/v1/users/login", "{\"user\":{}}", &out), 400);
    qs_appr_parse_error(400, out.data, out.len, &e);
    cr_assert_str_eq(e.message, "Missing username or password");
    qs_appr_error_clear(&e);
    qs_buf_free(&out);
}

Test(quay_appr, listing_limited_to_50) {
    char *blob = make_blob("x: y\n");
    qs_appr_error e = {0};
    for (int i = 0; i <= 50; i++) {
        char pkg[16];
        snprintf(pkg, sizeof pkg, "pkg%02d", i);
        cr_assert_eq(
            qs_appr_push(http, emu.base, ADMIN_TOKEN, "bigorg", pkg, "1.0.0", NULL, blob, &e), 0,
            "%s", e.message);
    }
    free(blob);
    json_t *list = NULL;
    cr_assert_eq(qs_appr_list_packages(http, emu.base, ADMIN_TOKEN, "bigorg", &list, &e), 0);
    cr_assert_eq(json_array_size(list), 50);
    json_decref(list);
    json_t *rels = NULL;
    cr_assert_eq(qs_appr_list_releases(http, emu.base, ADMIN_TOKEN, "bigorg", "pkg00", &rels, &e),
                 0);
    json_decref(rels);
    /* the 51st is cut off the listing, so it looks absent (as OMPS sees it on quay.io) */
    cr_assert_eq(qs_appr_list_releases(http, emu.base, ADMIN_TOKEN, "bigorg", "pkg50", &rels, &e),
                 QS_ENOTFOUND);
    qs_appr_error_clear(&e);
}

Test(quay_appr, injected_502_is_retried) {
    cr_assert_eq(emu_call(&emu, "POST", "/_emulator/faults",
                          "{\"path_prefix\":\"/cnr/api/v1/packages/myorg/retry\","
                          "\"method\":\"POST\",\"status\":502,\"count\":2}",
                          NULL),
                 201);
    qs_appr_error e = {0};
    cr_assert_eq(push(ADMIN_TOKEN, "retry", "1.0.0", &e), 0, "%s", e.message);
    cr_assert_eq(emu_calls(&emu, "POST /cnr/api/v1/packages/myorg/retry"), 3);

    /* without retries the 502 reaches the caller, with the fault's message */
    cr_assert_eq(emu_call(&emu, "POST", "/_emulator/faults",
                          "{\"path_prefix\":\"/cnr/api/v1/packages/myorg/retry\","
                          "\"method\":\"POST\",\"status\":502,\"count\":1}",
                          NULL),
                 201);
    qs_http_opts o = QS_HTTP_OPTS_INIT;
    o.max_attempts = 1;
    qs_http *once = qs_http_new(&o);
    char *blob = make_blob("a: b\n");
    cr_assert_eq(
        qs_appr_push(once, emu.base, ADMIN_TOKEN, "myorg", "retry", "1.1.0", NULL, blob, &e),
        QS_EUNAVAIL);
    cr_assert_eq(e.status, 502);
    cr_assert_str_eq(e.message, "fault injected by the emulator");
    qs_appr_error_clear(&e);
    free(blob);
    qs_http_free(once);
}

/* ---- error parsing on its own ---- */

Test(quay_appr_parse, every_shape) {
    qs_appr_error e = {0};
    const char *rest = "{\"detail\":\"Repository already exists\",\"error_message\":\"other\","
                       "\"error_type\":\"invalid_request\",\"status\":400}";
    qs_appr_parse_error(400, rest, strlen(rest), &e);
    cr_assert_str_eq(e.message, "Repository already exists");
    cr_assert_str_eq(e.code, "invalid_request");
    const char *em = "{\"error_message\":\"only this\"}";
    qs_appr_parse_error(400, em, strlen(em), &e);
    cr_assert_str_eq(e.message, "only this");
    const char *flask = "{\"message\":\"System is currently read-only\",\"is_readonly\":true}";
    qs_appr_parse_error(503, flask, strlen(flask), &e);
    cr_assert_str_eq(e.message, "System is currently read-only");
    cr_assert_str_eq(e.code, "");
    const char *abort405 =
        "{\"error\":\"Cannot push an application to an image repository with the same name\"}";
    qs_appr_parse_error(405, abort405, strlen(abort405), &e);
    cr_assert_str_eq(e.message,
                     "Cannot push an application to an image repository with the same name");
    const char *cnr = "{\"error\":{\"code\":\"forbidden\",\"message\":\"Unauthorized access for: "
                      "a/b\",\"details\":{}}}";
    qs_appr_parse_error(403, cnr, strlen(cnr), &e);
    cr_assert_str_eq(e.message, "Unauthorized access for: a/b");
    cr_assert_str_eq(e.code, "forbidden");
    cr_assert_not_null(e.body);
    qs_appr_parse_error(502, "<html>bad gateway</html>", 24, &e);
    cr_assert_str_eq(e.message, "Bad Gateway");
    cr_assert_null(e.body);
    qs_appr_parse_error(404, NULL, 0, &e);
    cr_assert_str_eq(e.message, "Not Found");
    qs_appr_error_clear(&e);
}
