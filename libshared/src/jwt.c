/* jwt.c — compact JWS tokens: HS256 sign/verify, RS256/ES256 signing for the token server.
 *
 * A token is b64url(header) "." b64url(claims) "." b64url(signature), JSON written compact
 * by jansson (insertion order). Verification is deliberately narrow: exactly three segments,
 * strict base64url, a header whose "alg" is exactly "HS256" (so "none", HS384/512 and an
 * RS256 token presented with a shared secret are all refused) and no "crit", the MAC checked
 * in constant time before the claims are even parsed, then exp (required), nbf and iat
 * against `now` with the leeway.
 *
 * The asymmetric signer keeps an EVP_PKEY loaded from PEM. RSA keys sign RS256 (PKCS#1 v1.5);
 * P-256 keys sign ES256, whose DER ECDSA-Sig from OpenSSL is rewritten as the raw 64-byte
 * r||s that JWS requires. The header's kid is the libtrust fingerprint docker-registry 2.8
 * looks up in its rootcertbundle: SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits in
 * RFC 4648 base32, as 12 colon-separated groups of 4. The EVP_PKEY is only read after load,
 * so one signer can be shared by threads. */
#include "shared/jwt.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/base64.h"
#include "shared/buf.h"
#include "shared/common.h"
#include "shared/digest.h"

#define KID_LEN 59 /* 48 base32 chars + 11 ':' */

struct qs_jwt_signer {
    EVP_PKEY *pkey;
    const char *alg; /* "RS256" or "ES256" */
    char kid[KID_LEN + 1];
};

/* b64url(json) appended to `b`. */
static int append_json_b64(qs_buf *b, const json_t *v) {
    char *text = json_dumps(v, JSON_COMPACT);
    if (!text)
        return QS_ENOMEM;
    char *enc = qs_base64url_encode(text, strlen(text));
    free(text);
    if (!enc)
        return QS_ENOMEM;
    int rc = qs_buf_puts(b, enc);
    free(enc);
    return rc;
}

/* "<b64 header>.<b64 claims>" into `b`. */
static int signing_input(qs_buf *b, const char *alg, const char *kid, const json_t *claims) {
    if (!json_is_object(claims))
        return QS_EINVAL;
    json_t *hdr = kid ? json_pack("{s:s, s:s, s:s}", "typ", "JWT", "alg", alg, "kid", kid)
                      : json_pack("{s:s, s:s}", "alg", alg, "typ", "JWT");
    if (!hdr)
        return QS_ENOMEM;
    int rc = append_json_b64(b, hdr);
    json_decref(hdr);
    if (rc == QS_OK)
        rc = qs_buf_puts(b, ".");
    if (rc == QS_OK)
        rc = append_json_b64(b, claims);
    return rc;
}

/* Append "." b64url(sig) to `b` and hand the token out. */
static int finish_token(qs_buf *b, const unsigned char *sig, size_t siglen, char **out) {
    char *enc = qs_base64url_encode(sig, siglen);
    int rc = enc ? qs_buf_puts(b, ".") : QS_ENOMEM;
    if (rc == QS_OK)
        rc = qs_buf_puts(b, enc);
    free(enc);
    if (rc == QS_OK) {
        *out = qs_buf_steal(b);
        rc = *out ? QS_OK : QS_ENOMEM;
    }
    qs_buf_free(b);
    return rc;
}

int qs_jwt_sign_hs256(const void *key, size_t keylen, const json_t *claims, char **out) {
    if (!out)
        return QS_EINVAL;
    *out = NULL;
    qs_buf b = QS_BUF_INIT;
    int rc = signing_input(&b, "HS256", NULL, claims);
    if (rc != QS_OK) {
        qs_buf_free(&b);
        return rc;
    }
    unsigned char mac[32];
    qs_hmac_sha256(key, keylen, b.data, b.len, mac);
    return finish_token(&b, mac, sizeof mac, out);
}

/* ---- verification ---- */

/* Decode one base64url segment as a JSON object. NULL when either layer is malformed. */
static json_t *decode_json_segment(const char *s, size_t len) {
    size_t n = 0;
    unsigned char *raw = qs_base64url_decode(s, len, &n);
    if (!raw)
        return NULL;
    json_t *v = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL);
    free(raw);
    if (v && !json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

static int check_header(const char *s, size_t len, const char *want_alg) {
    json_t *hdr = decode_json_segment(s, len);
    if (!hdr)
        return QS_EINVAL;
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    json_t *typ = json_object_get(hdr, "typ");
    int ok = alg && strcmp(alg, want_alg) == 0 && !json_object_get(hdr, "crit") &&
             (!typ || json_is_string(typ));
    json_decref(hdr);
    return ok ? QS_OK : QS_EINVAL;
}

/* exp/nbf/iat rules. A present but non-numeric time claim is malformed. */
static int check_times(const json_t *claims, time_t now, long leeway) {
    static const struct {
        const char *name;
        int is_upper; /* exp bounds from above, nbf/iat from below */
        int required;
    } rules[] = {{"exp", 1, 1}, {"nbf", 0, 0}, {"iat", 0, 0}};
    double t = (double)now;
    for (size_t i = 0; i < QS_ARRAY_LEN(rules); i++) {
        json_t *v = json_object_get(claims, rules[i].name);
        if (!v) {
            if (rules[i].required)
                return QS_EINVAL;
            continue;
        }
        if (!json_is_number(v))
            return QS_EINVAL;
        double when = json_number_value(v);
        if (rules[i].is_upper ? t > when + (double)leeway : t < when - (double)leeway)
            return QS_EEXPIRED;
    }
    return QS_OK;
}

int qs_jwt_verify_hs256(const void *key, size_t keylen, const char *token, time_t now,
                        long leeway_s, json_t **claims) {
    if (claims)
        *claims = NULL;
    static const char jws_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                    "0123456789-_.";
    if (!token || token[strspn(token, jws_chars)] != '\0') /* no padding, no whitespace */
        return QS_EINVAL;
    const char *dot1 = strchr(token, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot1 || !dot2 || strchr(dot2 + 1, '.') || dot1 == token || dot2 == dot1 + 1)
        return QS_EINVAL;
    if (check_header(token, (size_t)(dot1 - token), "HS256") != QS_OK)
        return QS_EINVAL;

    const char *sig64 = dot2 + 1;
    size_t siglen = 0;
    unsigned char *sig = qs_base64url_decode(sig64, strlen(sig64), &siglen);
    if (!sig)
        return QS_EINVAL;
    unsigned char mac[32];
    qs_hmac_sha256(key, keylen, token, (size_t)(dot2 - token), mac);
    bool good = qs_consttime_equal(sig, siglen, mac, sizeof mac);
    free(sig);
    if (!good)
        return QS_EINVAL;

    json_t *cl = decode_json_segment(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (!cl)
        return QS_EINVAL;
    int rc = check_times(cl, now, leeway_s);
    if (rc == QS_OK && claims)
        *claims = cl;
    else
        json_decref(cl);
    return rc;
}

/* ---- RS256 / ES256 signer ---- */

/* RFC 4648 base32 of exactly 30 bytes (no padding needed: 240 bits = 48 chars), grouped. */
static void libtrust_kid(const unsigned char hash[32], char out[KID_LEN + 1]) {
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    char b32[48];
    size_t o = 0;
    for (size_t i = 0; i < 30; i += 5) {
        unsigned long long v = 0;
        for (size_t j = 0; j < 5; j++)
            v = v << 8 | hash[i + j];
        for (int k = 7; k >= 0; k--)
            b32[o++] = alpha[(v >> (5 * k)) & 31];
    }
    o = 0;
    for (size_t g = 0; g < 12; g++) {
        if (g)
            out[o++] = ':';
        memcpy(out + o, b32 + 4 * g, 4);
        o += 4;
    }
    out[o] = '\0';
}

static int compute_kid(EVP_PKEY *pkey, char out[KID_LEN + 1]) {
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(pkey, &der);
    if (n <= 0)
        return QS_ERR;
    unsigned char hash[32];
    unsigned int hlen = 0;
    int ok = EVP_Digest(der, (size_t)n, hash, &hlen, EVP_sha256(), NULL);
    OPENSSL_free(der);
    if (ok != 1)
        return QS_ERR;
    libtrust_kid(hash, out);
    return QS_OK;
}

/* Which JWS alg a key signs with, or NULL (with a reason) if we do not support it. */
static const char *alg_for_key(EVP_PKEY *pkey, const char **why) {
    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA:
        if (EVP_PKEY_get_bits(pkey) < 2048) {
            *why = "RSA key shorter than 2048 bits";
            return NULL;
        }
        return "RS256";
    case EVP_PKEY_EC: {
        char group[64] = "";
        size_t glen = 0;
        if (EVP_PKEY_get_group_name(pkey, group, sizeof group, &glen) != 1 ||
            (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0)) {
            *why = "EC key is not on curve P-256";
            return NULL;
        }
        return "ES256";
    }
    default:
        *why = "key is neither RSA nor EC P-256";
        return NULL;
    }
}

qs_jwt_signer *qs_jwt_signer_load(const char *key_pem_path, char *err, size_t errlen) {
    char dummy[1];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    FILE *f = key_pem_path ? fopen(key_pem_path, "r") : NULL;
    if (!f) {
        snprintf(err, errlen, "%s: cannot open key file", key_pem_path ? key_pem_path : "(null)");
        return NULL;
    }
    /* An empty passphrase instead of a prompt: an encrypted key is a configuration error. */
    EVP_PKEY *pkey = PEM_read_PrivateKey(f, NULL, NULL, (void *)(uintptr_t) "");
    fclose(f);
    if (!pkey) {
        snprintf(err, errlen, "%s: not a PEM private key (or encrypted)", key_pem_path);
        return NULL;
    }
    const char *why = NULL;
    const char *alg = alg_for_key(pkey, &why);
    qs_jwt_signer *s = alg ? calloc(1, sizeof *s) : NULL;
    if (!s || compute_kid(pkey, s->kid) != QS_OK) {
        snprintf(err, errlen, "%s: %s", key_pem_path, alg ? "cannot compute key id" : why);
        EVP_PKEY_free(pkey);
        free(s);
        return NULL;
    }
    s->pkey = pkey;
    s->alg = alg;
    return s;
}

void qs_jwt_signer_free(qs_jwt_signer *s) {
    if (!s)
        return;
    EVP_PKEY_free(s->pkey);
    free(s);
}

const char *qs_jwt_signer_kid(const qs_jwt_signer *s) { return s ? s->kid : NULL; }

/* DER ECDSA-Sig → raw r||s, 32 bytes each. */
static int der_to_raw_es256(const unsigned char *der, size_t len, unsigned char out[64]) {
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
    if (!sig)
        return QS_ERR;
    const BIGNUM *r = NULL, *s = NULL;
    ECDSA_SIG_get0(sig, &r, &s);
    int ok = BN_bn2binpad(r, out, 32) == 32 && BN_bn2binpad(s, out + 32, 32) == 32;
    ECDSA_SIG_free(sig);
    return ok ? QS_OK : QS_ERR;
}

/* Sign `msg` with SHA-256 and the signer's key; *sig is OPENSSL_malloc'd. */
static int evp_sign(EVP_PKEY *pkey, const void *msg, size_t n, unsigned char **sig,
                    size_t *siglen) {
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = QS_ERR;
    *sig = NULL;
    if (md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey) == 1 &&
        EVP_DigestSign(md, NULL, siglen, msg, n) == 1) {
        *sig = OPENSSL_malloc(*siglen);
        if (*sig && EVP_DigestSign(md, *sig, siglen, msg, n) == 1)
            rc = QS_OK;
    }
    EVP_MD_CTX_free(md);
    if (rc != QS_OK) {
        OPENSSL_free(*sig);
        *sig = NULL;
    }
    return rc;
}

int qs_jwt_sign(qs_jwt_signer *s, const json_t *claims, char **out) {
    if (!s || !out)
        return QS_EINVAL;
    *out = NULL;
    qs_buf b = QS_BUF_INIT;
    int rc = signing_input(&b, s->alg, s->kid, claims);
    unsigned char *sig = NULL;
    size_t siglen = 0;
    if (rc == QS_OK)
        rc = evp_sign(s->pkey, b.data, b.len, &sig, &siglen);
    if (rc != QS_OK) {
        qs_buf_free(&b);
        return rc;
    }
    unsigned char raw[64];
    if (strcmp(s->alg, "ES256") == 0) {
        rc = der_to_raw_es256(sig, siglen, raw);
        OPENSSL_free(sig);
        if (rc != QS_OK) {
            qs_buf_free(&b);
            return rc;
        }
        return finish_token(&b, raw, sizeof raw, out);
    }
    rc = finish_token(&b, sig, siglen, out);
    OPENSSL_free(sig);
    return rc;
}
