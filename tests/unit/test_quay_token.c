/* test_quay_token.c — the Quay emulator as a Docker registry token server.
 *
 * Each test starts quay-emulator with a signing key generated here with OpenSSL (P-256, or
 * RSA for the RS256 suite) and a fixture of a pull-only robot and a pusher. The tokens are
 * checked the way docker-registry 2.8 checks them, independently of libshared's jwt.c: the
 * header's kid is recomputed here as the libtrust fingerprint of the public key, the
 * signature is verified with the public key (ES256 raw r||s converted back to DER), and the
 * claims are inspected (aud a string, iss, sub, exp/nbf/iat, access). Also: downscoping
 * (pull,push → pull), wrong password → 401 with Quay's body, service mismatch → 400,
 * anonymous requests, host:port names, password rotation and an injected 502. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_spawn.h"
#include "shared/base64.h"
#include "shared/log.h"

#define SERVICE "reg.test"
#define ISSUER "quay-emu-test"
#define ROBOT "openshift+ci_pull"
#define ROBOT_PW "robot-password"
#define PUSHER "pusher"
#define PUSHER_PW "pusher-password"

static const char fixture[] =
    "{\"accounts\":["
    " {\"username\":\"" ROBOT "\",\"password\":\"" ROBOT_PW "\",\"robot\":true,"
    "  \"grants\":[{\"repository\":\"openshift/ci\",\"actions\":[\"pull\"]}]},"
    " {\"username\":\"" PUSHER "\",\"password\":\"" PUSHER_PW "\",\"robot\":false,"
    "  \"grants\":[{\"repository\":\"*\",\"actions\":[\"pull\",\"push\",\"delete\"]}]}]}";

static emu_proc emu;
static EVP_PKEY *key;

static void start(EVP_PKEY *k, const char *ttl_env) {
    qs_log_init("test_quay_token", QS_LOG_ERROR);
    key = k;
    cr_assert_not_null(key);
    emu_prepare(&emu);
    char keypath[160], fx[160], e_key[200], e_fx[200];
    snprintf(keypath, sizeof keypath, "%s/token.key", emu.dir);
    FILE *f = fopen(keypath, "w");
    cr_assert_not_null(f);
    cr_assert(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL));
    fclose(f);
    emu_write_file(&emu, "fixture.json", fixture, fx, sizeof fx);
    snprintf(e_key, sizeof e_key, "QUAY_EMU_TOKEN_KEY=%s", keypath);
    snprintf(e_fx, sizeof e_fx, "QUAY_EMU_FIXTURE=%s", fx);
    const char *env[] = {e_key,
                         e_fx,
                         "QUAY_EMU_SERVICE=" SERVICE,
                         "QUAY_EMU_ISSUER=" ISSUER,
                         "QUAY_EMU_LISTEN=127.0.0.1:0",
                         ttl_env,
                         NULL};
    emu_start(&emu, "quay", env);
}

static void setup_ec(void) { start(EVP_EC_gen("P-256"), NULL); }
static void setup_rsa(void) { start(EVP_RSA_gen(2048), "QUAY_EMU_TOKEN_TTL=120"); }

static void teardown(void) {
    emu_stop(&emu);
    EVP_PKEY_free(key);
    key = NULL;
}

TestSuite(quay_token, .init = setup_ec, .fini = teardown, .timeout = 60);
TestSuite(quay_token_rsa, .init = setup_rsa, .fini = teardown, .timeout = 60);

/* GET /v2/auth?<query> with optional Basic credentials; the parsed body in *out. */
static long get_token(const char *user, const char *pass, const char *query, json_t **out) {
    char url[1024];
    snprintf(url, sizeof url, "%s/v2/auth?%s", emu.base, query);
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url;
    req.basic_user = user;
    req.basic_pass = pass;
    qs_http_resp resp = {0};
    qs_http_do(emu.http, &req, &resp);
    long st = resp.status;
    *out = json_loads(qs_buf_str(&resp.body), 0, NULL);
    cr_assert_not_null(*out, "not JSON: %s", qs_buf_str(&resp.body));
    qs_http_resp_free(&resp);
    return st;
}

/* ---- independent JWT checks ---- */

static json_t *b64url_json(const char *s, size_t n) {
    size_t len = 0;
    unsigned char *raw = qs_base64url_decode(s, n, &len);
    cr_assert_not_null(raw);
    json_t *j = json_loadb((const char *)raw, len, 0, NULL);
    free(raw);
    cr_assert_not_null(j);
    return j;
}

/* docker/libtrust KeyID: base32(sha256(DER SPKI)[:30]) in 12 groups of 4. */
static void libtrust_kid(EVP_PKEY *k, char out[60]) {
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(k, &der);
    cr_assert(n > 0);
    unsigned char h[32];
    SHA256(der, (size_t)n, h);
    OPENSSL_free(der);
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    char b32[49];
    for (int i = 0; i < 48; i++) { /* 240 bits = 48 groups of 5 */
        int bit = i * 5, v = 0;
        for (int b = 0; b < 5; b++)
            v = (v << 1) | ((h[(bit + b) / 8] >> (7 - (bit + b) % 8)) & 1);
        b32[i] = alpha[v];
    }
    char *o = out;
    for (int i = 0; i < 12; i++) {
        if (i)
            *o++ = ':';
        memcpy(o, b32 + i * 4, 4);
        o += 4;
    }
    *o = '\0';
}

/* Verify `token` with the public key; returns its claims, checks the header. */
static json_t *verify(const char *token, const char *alg) {
    const char *dot1 = strchr(token, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    cr_assert(dot1 && dot2, "not a JWS: %s", token);
    json_t *hdr = b64url_json(token, (size_t)(dot1 - token));
    char kid[60];
    libtrust_kid(key, kid);
    cr_assert_str_eq(json_string_value(json_object_get(hdr, "alg")), alg);
    cr_assert_str_eq(json_string_value(json_object_get(hdr, "kid")), kid);
    json_decref(hdr);
    size_t slen = 0;
    unsigned char *sig = qs_base64url_decode(dot2 + 1, strlen(dot2 + 1), &slen);
    cr_assert_not_null(sig);
    unsigned char *der = NULL;
    int derlen = 0;
    if (strcmp(alg, "ES256") == 0) {
        cr_assert_eq(slen, 64, "ES256 signature must be raw r||s");
        ECDSA_SIG *es = ECDSA_SIG_new();
        ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
        derlen = i2d_ECDSA_SIG(es, &der);
        ECDSA_SIG_free(es);
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    cr_assert_eq(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
    int ok = EVP_DigestVerify(ctx, der ? der : sig, der ? (size_t)derlen : slen,
                              (const unsigned char *)token, (size_t)(dot2 - token));
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    free(sig);
    cr_assert_eq(ok, 1, "signature does not verify");
    return b64url_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
}

/* The token of a 200 answer, after checking the answer's other fields. */
static const char *answer_token(const json_t *ans, long ttl) {
    const char *t = json_string_value(json_object_get(ans, "token"));
    cr_assert_not_null(t);
    cr_assert_str_eq(json_string_value(json_object_get(ans, "access_token")), t);
    cr_assert_eq(json_integer_value(json_object_get(ans, "expires_in")), ttl);
    const char *issued = json_string_value(json_object_get(ans, "issued_at"));
    cr_assert_not_null(issued);
    regex_t re;
    regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$", REG_EXTENDED);
    cr_assert_eq(regexec(&re, issued, 0, NULL, 0), 0, "issued_at %s is not RFC 3339", issued);
    regfree(&re);
    return t;
}

/* The claims' access list as compact JSON, for exact comparisons. */
static char *access_of(const json_t *claims) {
    return json_dumps(json_object_get(claims, "access"), JSON_COMPACT);
}

static void expect_access(const char *user, const char *pass, const char *query, const char *want) {
    json_t *ans = NULL;
    cr_assert_eq(get_token(user, pass, query, &ans), 200);
    json_t *claims = verify(answer_token(ans, 3600), "ES256");
    char *got = access_of(claims);
    cr_assert_str_eq(got, want);
    free(got);
    json_decref(claims);
    json_decref(ans);
}

/* ---- tests ---- */

Test(quay_token, robot_pull_token_verifies_with_all_claims) {
    json_t *ans = NULL;
    cr_assert_eq(get_token(ROBOT, ROBOT_PW,
                           "service=" SERVICE "&scope=repository:openshift/ci:pull&account=" ROBOT,
                           &ans),
                 200);
    json_t *c = verify(answer_token(ans, 3600), "ES256");
    cr_assert(json_is_string(json_object_get(c, "aud")), "aud must be a string");
    cr_assert_str_eq(json_string_value(json_object_get(c, "aud")), SERVICE);
    cr_assert_str_eq(json_string_value(json_object_get(c, "iss")), ISSUER);
    cr_assert_str_eq(json_string_value(json_object_get(c, "sub")), ROBOT);
    json_int_t iat = json_integer_value(json_object_get(c, "iat"));
    cr_assert(iat > 0);
    cr_assert_eq(json_integer_value(json_object_get(c, "exp")), iat + 3600);
    cr_assert_eq(json_integer_value(json_object_get(c, "nbf")), iat - 5);
    cr_assert(json_string_length(json_object_get(c, "jti")) >= 16);
    char *acc = access_of(c);
    cr_assert_str_eq(
        acc, "[{\"type\":\"repository\",\"name\":\"openshift/ci\",\"actions\":[\"pull\"]}]");
    free(acc);
    json_decref(c);
    json_decref(ans);
}

Test(quay_token, asking_pull_push_yields_only_pull) {
    expect_access(ROBOT, ROBOT_PW,
                  "service=" SERVICE "&scope=repository%3Aopenshift%2Fci%3Apull%2Cpush",
                  "[{\"type\":\"repository\",\"name\":\"openshift/ci\",\"actions\":[\"pull\"]}]");
}

Test(quay_token, ungranted_repository_gets_an_empty_entry) {
    expect_access(ROBOT, ROBOT_PW,
                  "service=" SERVICE "&scope=repository:openshift/ci:pull"
                  "&scope=repository:other/repo:pull",
                  "[{\"type\":\"repository\",\"name\":\"openshift/ci\",\"actions\":[\"pull\"]},"
                  "{\"type\":\"repository\",\"name\":\"other/repo\",\"actions\":[]}]");
}

Test(quay_token, pusher_gets_everything_asked_including_host_port_names) {
    expect_access(PUSHER, PUSHER_PW,
                  "service=" SERVICE "&scope=repository:localhost:5000/a/b:push,pull,delete",
                  "[{\"type\":\"repository\",\"name\":\"localhost:5000/a/b\","
                  "\"actions\":[\"push\",\"pull\",\"delete\"]}]");
}

Test(quay_token, space_separated_scopes_in_one_parameter) {
    expect_access(PUSHER, PUSHER_PW,
                  "service=" SERVICE "&scope=repository:a/b:pull+repository:c/d:push",
                  "[{\"type\":\"repository\",\"name\":\"a/b\",\"actions\":[\"pull\"]},"
                  "{\"type\":\"repository\",\"name\":\"c/d\",\"actions\":[\"push\"]}]");
}

Test(quay_token, login_without_scope_gives_empty_access) {
    expect_access(PUSHER, PUSHER_PW, "service=" SERVICE, "[]");
}

Test(quay_token, anonymous_gets_no_actions) {
    expect_access(NULL, NULL, "service=" SERVICE "&scope=repository:openshift/ci:pull",
                  "[{\"type\":\"repository\",\"name\":\"openshift/ci\",\"actions\":[]}]");
}

Test(quay_token, anonymous_without_scope_is_401) {
    json_t *ans = NULL;
    cr_assert_eq(get_token(NULL, NULL, "service=" SERVICE, &ans), 401);
    json_decref(ans);
}

Test(quay_token, wrong_password_is_401_with_quay_body) {
    json_t *ans = NULL;
    cr_assert_eq(get_token(PUSHER, "nope", "service=" SERVICE "&scope=repository:a/b:pull", &ans),
                 401);
    char *text = json_dumps(ans, JSON_COMPACT);
    cr_assert_str_eq(text, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"Invalid "
                           "Username or Password\",\"detail\":{}}]}");
    free(text);
    json_decref(ans);
    cr_assert_eq(get_token("nobody", "x", "service=" SERVICE, &ans), 401);
    json_decref(ans);
    cr_assert_eq(get_token(ROBOT, "nope", "service=" SERVICE, &ans), 401);
    const char *msg = json_string_value(
        json_object_get(json_array_get(json_object_get(ans, "errors"), 0), "message"));
    cr_assert_not_null(strstr(msg, "Could not find robot"), "%s", msg);
    json_decref(ans);
}

Test(quay_token, service_mismatch_is_400) {
    json_t *ans = NULL;
    cr_assert_eq(
        get_token(ROBOT, ROBOT_PW, "service=other&scope=repository:openshift/ci:pull", &ans), 400);
    json_decref(ans);
    cr_assert_eq(get_token(ROBOT, ROBOT_PW, "scope=repository:openshift/ci:pull", &ans), 400);
    json_decref(ans);
}

Test(quay_token, undecodable_scope_is_400) {
    json_t *ans = NULL;
    cr_assert_eq(get_token(PUSHER, PUSHER_PW, "service=" SERVICE "&scope=registry:catalog:*", &ans),
                 400);
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(ans, "errors"), 0), "code")),
                     "INVALID_REQUEST");
    json_decref(ans);
}

Test(quay_token, password_rotation_through_the_control_route) {
    const char *body = "{\"username\":\"" ROBOT "\",\"password\":\"rotated\",\"robot\":true,"
                       "\"grants\":[{\"repository\":\"openshift/ci\",\"actions\":[\"pull\"]}]}";
    cr_assert_eq(emu_call(&emu, "POST", "/_emulator/accounts", body, NULL), 200);
    json_t *ans = NULL;
    cr_assert_eq(get_token(ROBOT, ROBOT_PW, "service=" SERVICE, &ans), 401);
    json_decref(ans);
    cr_assert_eq(get_token(ROBOT, "rotated", "service=" SERVICE, &ans), 200);
    json_decref(ans);
}

Test(quay_token, injected_502_then_recovery_and_call_counts) {
    cr_assert_eq(emu_call(&emu, "POST", "/_emulator/faults",
                          "{\"path_prefix\":\"/v2/auth\",\"method\":\"GET\",\"status\":502,"
                          "\"count\":1,\"body\":\"{\\\"error\\\":\\\"bad gateway\\\"}\"}",
                          NULL),
                 201);
    json_t *ans = NULL;
    cr_assert_eq(get_token(ROBOT, ROBOT_PW, "service=" SERVICE, &ans), 502);
    cr_assert_str_eq(json_string_value(json_object_get(ans, "error")), "bad gateway");
    json_decref(ans);
    cr_assert_eq(get_token(ROBOT, ROBOT_PW, "service=" SERVICE, &ans), 200);
    json_decref(ans);
    cr_assert_eq(emu_calls(&emu, "GET /v2/auth"), 2);
    cr_assert_eq(emu_call(&emu, "DELETE", "/_emulator/calls", NULL, NULL), 200);
    cr_assert_eq(emu_calls(&emu, "GET /v2/auth"), 0);
}

Test(quay_token, post_is_404_so_clients_fall_back_to_get) {
    cr_assert_eq(emu_call(&emu, "POST", "/v2/auth", "grant_type=password", NULL), 404);
}

Test(quay_token_rsa, rs256_token_verifies_and_ttl_is_configurable) {
    json_t *ans = NULL;
    cr_assert_eq(
        get_token(ROBOT, ROBOT_PW, "service=" SERVICE "&scope=repository:openshift/ci:pull", &ans),
        200);
    json_t *c = verify(answer_token(ans, 120), "RS256");
    cr_assert_eq(json_integer_value(json_object_get(c, "exp")),
                 json_integer_value(json_object_get(c, "iat")) + 120);
    json_decref(c);
    json_decref(ans);
}
