/* test_jwt.c — HS256 round trip and every rejection path (tampering, alg confusion, bad
 * encoding, time claims), and RS256/ES256 tokens checked with OpenSSL directly, including the
 * libtrust kid compared with one computed by the openssl and base32 command-line tools. */
#include <criterion/criterion.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/base64.h"
#include "shared/common.h"
#include "shared/jwt.h"

static const char KEY[] = "0123456789abcdef0123456789abcdef";
#define KEYLEN (sizeof KEY - 1)
#define NOW ((time_t)1700000000)

static char *sign_claims(const char *claims_json) {
    json_t *claims = json_loads(claims_json, 0, NULL);
    cr_assert_not_null(claims);
    char *tok = NULL;
    cr_assert_eq(qs_jwt_sign_hs256(KEY, KEYLEN, claims, &tok), QS_OK);
    json_decref(claims);
    return tok;
}

static char *std_token(void) {
    return sign_claims("{\"sub\":\"alice\",\"exp\":1700000300,\"iat\":1700000000}");
}

/* Token from raw header/payload JSON, MAC'd with `md` (NULL = empty signature). */
static char *forge(const char *hdr, const char *payload, const EVP_MD *md) {
    char *h = qs_base64url_encode(hdr, strlen(hdr));
    char *p = qs_base64url_encode(payload, strlen(payload));
    char *input = NULL;
    cr_assert(asprintf(&input, "%s.%s", h, p) > 0);
    char *sig = strdup("");
    if (md) {
        unsigned char mac[64];
        unsigned int n = 0;
        HMAC(md, KEY, (int)KEYLEN, (unsigned char *)input, strlen(input), mac, &n);
        free(sig);
        sig = qs_base64url_encode(mac, n);
    }
    char *tok = NULL;
    cr_assert(asprintf(&tok, "%s.%s", input, sig) > 0);
    free(h);
    free(p);
    free(input);
    free(sig);
    return tok;
}

static int verify(const char *tok, time_t now, long leeway) {
    return qs_jwt_verify_hs256(KEY, KEYLEN, tok, now, leeway, NULL);
}

/* Decode segment `idx` of a token as JSON. */
static json_t *segment_json(const char *tok, int idx) {
    const char *s = tok;
    for (int i = 0; i < idx; i++)
        s = strchr(s, '.') + 1;
    size_t len = strcspn(s, "."), n = 0;
    unsigned char *raw = qs_base64url_decode(s, len, &n);
    cr_assert_not_null(raw);
    json_t *v = json_loadb((char *)raw, n, 0, NULL);
    free(raw);
    cr_assert_not_null(v);
    return v;
}

Test(jwt_hs256, roundtrip_and_independent_mac) {
    char *tok = std_token();
    json_t *claims = NULL;
    cr_assert_eq(qs_jwt_verify_hs256(KEY, KEYLEN, tok, NOW, 0, &claims), QS_OK);
    cr_assert_str_eq(json_string_value(json_object_get(claims, "sub")), "alice");
    json_decref(claims);

    json_t *hdr = segment_json(tok, 0);
    cr_assert_str_eq(json_string_value(json_object_get(hdr, "alg")), "HS256");
    cr_assert_str_eq(json_string_value(json_object_get(hdr, "typ")), "JWT");
    json_decref(hdr);
    cr_assert_null(strchr(tok, '='));
    cr_assert_null(strchr(tok, ' '));

    /* The signature is exactly HMAC-SHA256(key, header "." payload), computed here by hand. */
    char *dot2 = strrchr(tok, '.');
    unsigned char mac[32];
    unsigned int n = 0;
    HMAC(EVP_sha256(), KEY, (int)KEYLEN, (unsigned char *)tok, (size_t)(dot2 - tok), mac, &n);
    char *want = qs_base64url_encode(mac, n);
    cr_assert_str_eq(dot2 + 1, want);
    free(want);
    free(tok);
}

Test(jwt_hs256, wrong_key) {
    char *tok = std_token();
    cr_assert_eq(qs_jwt_verify_hs256("other", 5, tok, NOW, 0, NULL), QS_EINVAL);
    free(tok);
}

Test(jwt_hs256, tampered_header_payload_signature) {
    char *tok = std_token();
    char *dot1 = strchr(tok, '.'), *dot2 = strrchr(tok, '.');
    cr_assert_eq(verify(tok, NOW, 0), QS_OK);

    /* header: a different (still HS256) header with the original payload and signature */
    const char *h2 = "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"x\"}";
    char *h2b = qs_base64url_encode(h2, strlen(h2));
    char *t = NULL;
    cr_assert(asprintf(&t, "%s%s", h2b, dot1) > 0);
    cr_assert_eq(verify(t, NOW, 0), QS_EINVAL);
    free(t);
    free(h2b);

    /* payload: sub changed to admin */
    const char *p2 = "{\"sub\":\"admin\",\"exp\":1700000300,\"iat\":1700000000}";
    char *p2b = qs_base64url_encode(p2, strlen(p2));
    cr_assert(asprintf(&t, "%.*s.%s%s", (int)(dot1 - tok), tok, p2b, dot2) > 0);
    cr_assert_eq(verify(t, NOW, 0), QS_EINVAL);
    free(t);
    free(p2b);

    /* signature: one character changed, then truncated, then extended */
    t = strdup(tok);
    char *sig = t + (dot2 - tok) + 1;
    sig[3] = sig[3] == 'A' ? 'B' : 'A';
    cr_assert_eq(verify(t, NOW, 0), QS_EINVAL);
    strcpy(t, tok);
    t[strlen(t) - 2] = '\0';
    cr_assert_eq(verify(t, NOW, 0), QS_EINVAL);
    free(t);
    cr_assert(asprintf(&t, "%sAAAA", tok) > 0);
    cr_assert_eq(verify(t, NOW, 0), QS_EINVAL);
    free(t);
    free(tok);
}

Test(jwt_hs256, alg_none_refused) {
    const char *claims = "{\"sub\":\"alice\",\"exp\":1700000300}";
    char *t = forge("{\"alg\":\"none\",\"typ\":\"JWT\"}", claims, NULL);
    cr_assert_eq(verify(t, NOW, 0), QS_EINVAL);
    free(t);
    /* even with a valid HS256 MAC attached, "none" is not "HS256" */
    t = forge("{\"alg\":\"none\",\"typ\":\"JWT\"}", claims, EVP_sha256());
    cr_assert_eq(verify(t, NOW, 0), QS_EINVAL);
    free(t);
    t = forge("{\"alg\":\"hs256\",\"typ\":\"JWT\"}", claims, EVP_sha256());
    cr_assert_eq(verify(t, NOW, 0), QS_EINVAL);
    free(t);
    t = forge("{\"typ\":\"JWT\"}", claims, EVP_sha256());
    cr_assert_eq(verify(t, NOW, 0), QS_EINVAL);
    free(t);
    /* control: the same forge with alg HS256 passes, so the refusals above are about alg */
    t = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", claims, EVP_sha256());
    cr_assert_eq(verify(t, NOW, 0), QS_OK);
    free(t);
}

Test(jwt_hs256, other_hmac_algs_refused) {
    const char *claims = "{\"sub\":\"alice\",\"exp\":1700000300}";
    char *t = forge("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", claims, EVP_sha512());
    cr_assert_eq(verify(t, NOW, 0), QS_EINVAL);
    free(t);
    t = forge("{\"alg\":\"HS384\",\"typ\":\"JWT\"}", claims, EVP_sha384());
    cr_assert_eq(verify(t, NOW, 0), QS_EINVAL);
    free(t);
    /* RS256 label with an HMAC signature (the classic public-key-as-secret confusion) */
    t = forge("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", claims, EVP_sha256());
    cr_assert_eq(verify(t, NOW, 0), QS_EINVAL);
    free(t);
    /* "crit" extensions we cannot honour */
    t = forge("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", claims, EVP_sha256());
    cr_assert_eq(verify(t, NOW, 0), QS_EINVAL);
    free(t);
}

Test(jwt_hs256, malformed_tokens) {
    char *tok = std_token();
    char *t = NULL;
    static const char *bad[] = {"", ".", "..", "...", "a.b", "a.b.c.d", "abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(verify(bad[i], NOW, 0), QS_EINVAL, "%s", bad[i]);
    cr_assert_eq(verify(NULL, NOW, 0), QS_EINVAL);
    cr_assert(asprintf(&t, "%s.", tok) > 0); /* four segments */
    cr_assert_eq(verify(t, NOW, 0), QS_EINVAL);
    free(t);
    cr_assert(asprintf(&t, "!%s", tok) > 0); /* bad base64 in the header */
    cr_assert_eq(verify(t, NOW, 0), QS_EINVAL);
    free(t);
    cr_assert(asprintf(&t, "%s=", tok) > 0); /* padding in the signature */
    cr_assert_eq(verify(t, NOW, 0), QS_EINVAL);
    free(t);
    free(tok);
    /* a header that is valid base64 but not a JSON object */
    t = forge("[\"HS256\"]", "{\"exp\":1700000300}", EVP_sha256());
    cr_assert_eq(verify(t, NOW, 0), QS_EINVAL);
    free(t);
    /* claims that are not a JSON object, though properly signed */
    t = forge("{\"alg\":\"HS256\"}", "42", EVP_sha256());
    cr_assert_eq(verify(t, NOW, 0), QS_EINVAL);
    free(t);
    /* signing refuses non-object claims */
    json_t *arr = json_array();
    char *out = (char *)1;
    cr_assert_eq(qs_jwt_sign_hs256(KEY, KEYLEN, arr, &out), QS_EINVAL);
    cr_assert_null(out);
    json_decref(arr);
}

Test(jwt_hs256, exp_required_and_checked_with_leeway) {
    char *t = sign_claims("{\"sub\":\"alice\"}");
    cr_assert_eq(verify(t, NOW, 0), QS_EINVAL);
    free(t);
    t = sign_claims("{\"exp\":\"1700000300\"}");
    cr_assert_eq(verify(t, NOW, 0), QS_EINVAL);
    free(t);

    t = sign_claims("{\"exp\":1700000300}");
    cr_assert_eq(verify(t, 1700000300, 0), QS_OK);
    cr_assert_eq(verify(t, 1700000301, 0), QS_EEXPIRED);
    cr_assert_eq(verify(t, 1700000360, 60), QS_OK);
    cr_assert_eq(verify(t, 1700000361, 60), QS_EEXPIRED);
    json_t *claims = (json_t *)1;
    cr_assert_eq(qs_jwt_verify_hs256(KEY, KEYLEN, t, 1700000400, 0, &claims), QS_EEXPIRED);
    cr_assert_null(claims);
    free(t);
}

Test(jwt_hs256, nbf_and_iat_in_future) {
    char *t = sign_claims("{\"exp\":1700001000,\"nbf\":1700000100}");
    cr_assert_eq(verify(t, 1700000100, 0), QS_OK);
    cr_assert_eq(verify(t, 1700000099, 0), QS_EEXPIRED);
    cr_assert_eq(verify(t, 1700000040, 60), QS_OK);
    cr_assert_eq(verify(t, 1700000039, 60), QS_EEXPIRED);
    free(t);
    t = sign_claims("{\"exp\":1700001000,\"iat\":1700000100}");
    cr_assert_eq(verify(t, 1700000100, 0), QS_OK);
    cr_assert_eq(verify(t, 1700000099, 0), QS_EEXPIRED);
    cr_assert_eq(verify(t, 1700000070, 30), QS_OK);
    cr_assert_eq(verify(t, 1700000069, 30), QS_EEXPIRED);
    free(t);
    t = sign_claims("{\"exp\":1700001000,\"nbf\":null}");
    cr_assert_eq(verify(t, NOW, 0), QS_EINVAL);
    free(t);
}

/* ---- RS256 / ES256 ---- */

static char key_path[64];

static EVP_PKEY *write_key(EVP_PKEY *pkey) {
    cr_assert_not_null(pkey);
    strcpy(key_path, "/tmp/qs_jwt_key_XXXXXX");
    int fd = mkstemp(key_path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    cr_assert(PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) == 1);
    fclose(f);
    return pkey;
}

static void remove_key(void) {
    if (key_path[0])
        unlink(key_path);
}

/* Split a token: signing input length and decoded signature. */
static unsigned char *token_sig(const char *tok, size_t *input_len, size_t *siglen) {
    const char *dot2 = strrchr(tok, '.');
    cr_assert_not_null(dot2);
    *input_len = (size_t)(dot2 - tok);
    unsigned char *sig = qs_base64url_decode(dot2 + 1, strlen(dot2 + 1), siglen);
    cr_assert_not_null(sig);
    return sig;
}

static bool openssl_verify(EVP_PKEY *pkey, const char *msg, size_t n, const unsigned char *sig,
                           size_t siglen) {
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1 &&
              EVP_DigestVerify(md, sig, siglen, (const unsigned char *)msg, n) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

static bool kid_format_ok(const char *kid) {
    if (strlen(kid) != 59)
        return false;
    for (int i = 0; i < 59; i++) {
        char c = kid[i];
        bool want_colon = i % 5 == 4;
        if (want_colon != (c == ':'))
            return false;
        if (!want_colon && !((c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7')))
            return false;
    }
    return true;
}

/* The libtrust kid computed by the command-line tools, independent of our code. */
static void cli_kid(const char *path, char out[60]) {
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "openssl pkey -in %s -pubout -outform DER 2>/dev/null | openssl dgst -sha256 "
             "-binary | head -c 30 | base32 -w0",
             path);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char b32[64] = "";
    cr_assert_not_null(fgets(b32, sizeof b32, p));
    pclose(p);
    cr_assert_eq(strlen(b32), 48, "cli output: %s", b32);
    size_t o = 0;
    for (int g = 0; g < 12; g++) {
        if (g)
            out[o++] = ':';
        memcpy(out + o, b32 + 4 * g, 4);
        o += 4;
    }
    out[o] = '\0';
}

static json_t *access_claims(void) {
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:[{s:s, s:s, s:[s,s]}]}", "iss",
                     "test-issuer", "sub", "testuser", "aud", "test-registry", "exp",
                     (json_int_t)NOW + 300, "nbf", (json_int_t)NOW - 5, "iat", (json_int_t)NOW,
                     "access", "type", "repository", "name", "foo/bar", "actions", "pull", "push");
}

static char *sign_with(EVP_PKEY *pkey, const char *want_alg, qs_jwt_signer **out_signer) {
    write_key(pkey);
    char err[256] = "";
    qs_jwt_signer *s = qs_jwt_signer_load(key_path, err, sizeof err);
    cr_assert_not_null(s, "load: %s", err);
    json_t *claims = access_claims();
    char *tok = NULL;
    cr_assert_eq(qs_jwt_sign(s, claims, &tok), QS_OK);
    json_decref(claims);

    json_t *hdr = segment_json(tok, 0);
    cr_assert_str_eq(json_string_value(json_object_get(hdr, "typ")), "JWT");
    cr_assert_str_eq(json_string_value(json_object_get(hdr, "alg")), want_alg);
    cr_assert_str_eq(json_string_value(json_object_get(hdr, "kid")), qs_jwt_signer_kid(s));
    json_decref(hdr);
    json_t *cl = segment_json(tok, 1);
    cr_assert(json_is_string(json_object_get(cl, "aud"))); /* registry 2.8: aud is a string */
    json_decref(cl);
    *out_signer = s;
    return tok;
}

TestSuite(jwt_signer, .fini = remove_key);

Test(jwt_signer, rs256_verifies_with_openssl) {
    EVP_PKEY *pkey = EVP_RSA_gen(2048);
    qs_jwt_signer *s = NULL;
    char *tok = sign_with(pkey, "RS256", &s);
    size_t n = 0, siglen = 0;
    unsigned char *sig = token_sig(tok, &n, &siglen);
    cr_assert_eq(siglen, 256);
    cr_assert(openssl_verify(pkey, tok, n, sig, siglen));
    sig[10] ^= 1;
    cr_assert_not(openssl_verify(pkey, tok, n, sig, siglen));
    /* an RS256 token is not an HS256 token, whatever key is tried */
    cr_assert_eq(qs_jwt_verify_hs256(KEY, KEYLEN, tok, NOW, 0, NULL), QS_EINVAL);
    free(sig);
    free(tok);
    qs_jwt_signer_free(s);
    EVP_PKEY_free(pkey);
}

Test(jwt_signer, es256_raw_signature_verifies_with_openssl) {
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    qs_jwt_signer *s = NULL;
    char *tok = sign_with(pkey, "ES256", &s);
    size_t n = 0, siglen = 0;
    unsigned char *raw = token_sig(tok, &n, &siglen);
    cr_assert_eq(siglen, 64); /* r||s, not DER */

    ECDSA_SIG *es = ECDSA_SIG_new();
    ECDSA_SIG_set0(es, BN_bin2bn(raw, 32, NULL), BN_bin2bn(raw + 32, 32, NULL));
    unsigned char *der = NULL;
    int derlen = i2d_ECDSA_SIG(es, &der);
    cr_assert(derlen > 0);
    cr_assert(openssl_verify(pkey, tok, n, der, (size_t)derlen));
    cr_assert_not(openssl_verify(pkey, tok, n - 1, der, (size_t)derlen));
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    free(raw);
    free(tok);
    qs_jwt_signer_free(s);
    EVP_PKEY_free(pkey);
}

Test(jwt_signer, kid_is_libtrust_fingerprint_and_stable) {
    static const char *curves[] = {"rsa", "ec"};
    for (size_t i = 0; i < 2; i++) {
        EVP_PKEY *pkey = write_key(i == 0 ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256"));
        qs_jwt_signer *a = qs_jwt_signer_load(key_path, NULL, 0);
        qs_jwt_signer *b = qs_jwt_signer_load(key_path, NULL, 0);
        cr_assert_not_null(a);
        cr_assert_not_null(b);
        const char *kid = qs_jwt_signer_kid(a);
        cr_assert(kid_format_ok(kid), "%s kid: %s", curves[i], kid);
        cr_assert_str_eq(kid, qs_jwt_signer_kid(b));
        char want[60];
        cli_kid(key_path, want);
        cr_assert_str_eq(kid, want, "%s", curves[i]);
        qs_jwt_signer_free(a);
        qs_jwt_signer_free(b);
        EVP_PKEY_free(pkey);
        unlink(key_path);
    }
    /* two different keys have different ids */
    EVP_PKEY *k1 = write_key(EVP_EC_gen("P-256"));
    qs_jwt_signer *s1 = qs_jwt_signer_load(key_path, NULL, 0);
    unlink(key_path);
    EVP_PKEY *k2 = write_key(EVP_EC_gen("P-256"));
    qs_jwt_signer *s2 = qs_jwt_signer_load(key_path, NULL, 0);
    cr_assert_str_neq(qs_jwt_signer_kid(s1), qs_jwt_signer_kid(s2));
    qs_jwt_signer_free(s1);
    qs_jwt_signer_free(s2);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
}

Test(jwt_signer, unsupported_or_missing_keys) {
    char err[256] = "";
    cr_assert_null(qs_jwt_signer_load("/nonexistent/key.pem", err, sizeof err));
    cr_assert_neq(err[0], '\0');

    EVP_PKEY *p384 = write_key(EVP_EC_gen("P-384"));
    err[0] = '\0';
    cr_assert_null(qs_jwt_signer_load(key_path, err, sizeof err));
    cr_assert(strstr(err, "P-256"), "%s", err);
    EVP_PKEY_free(p384);
    unlink(key_path);

    EVP_PKEY *ed = write_key(EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"));
    err[0] = '\0';
    cr_assert_null(qs_jwt_signer_load(key_path, err, sizeof err));
    cr_assert_neq(err[0], '\0');
    EVP_PKEY_free(ed);

    /* an encrypted key is refused without prompting for a passphrase */
    EVP_PKEY *enc = EVP_EC_gen("P-256");
    FILE *f = fopen(key_path, "w");
    cr_assert(
        PEM_write_PrivateKey(f, enc, EVP_aes_128_cbc(), (unsigned char *)"pw", 2, NULL, NULL) == 1);
    fclose(f);
    EVP_PKEY_free(enc);
    err[0] = '\0';
    cr_assert_null(qs_jwt_signer_load(key_path, err, sizeof err));
    cr_assert(strstr(err, "encrypted"), "%s", err);

    f = fopen(key_path, "w");
    fputs("not a key\n", f);
    fclose(f);
    err[0] = '\0';
    cr_assert_null(qs_jwt_signer_load(key_path, err, sizeof err));
    cr_assert_neq(err[0], '\0');
}
