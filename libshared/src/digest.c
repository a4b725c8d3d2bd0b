/* digest.c — SHA-256 digests, HMAC-SHA256, constant-time comparison, random tokens.
 *
 * Thin wrappers over OpenSSL libcrypto: EVP_MD_CTX for incremental hashing (so a blob can be
 * hashed while it streams), HMAC() for the one-shot MAC, RAND_bytes for randomness. Digests
 * are rendered in the registry's "sha256:<hex>" form. The constant-time comparison walks the
 * whole of `b` whatever `a` holds, folding every difference (including the length mismatch)
 * into one accumulator, so its timing reveals neither where nor whether the inputs differ. */
#include "shared/digest.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shared/common.h"

struct qs_sha256 {
    EVP_MD_CTX *ctx;
};

static void to_hex(const unsigned char *p, size_t n, char *out) {
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

qs_sha256 *qs_sha256_new(void) {
    qs_sha256 *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(h->ctx);
        free(h);
        return NULL;
    }
    return h;
}

void qs_sha256_update(qs_sha256 *h, const void *p, size_t n) {
    if (h && n)
        EVP_DigestUpdate(h->ctx, p, n);
}

void qs_sha256_final(qs_sha256 *h, char out[QS_DIGEST_STR_LEN + 1]) {
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!h) {
        out[0] = '\0';
        return;
    }
    EVP_DigestFinal_ex(h->ctx, md, &mdlen);
    memcpy(out, "sha256:", 7);
    to_hex(md, 32, out + 7);
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

void qs_sha256_digest(const void *p, size_t n, char out[QS_DIGEST_STR_LEN + 1]) {
    memcpy(out, "sha256:", 7);
    qs_sha256_hex(p, n, out + 7);
}

void qs_sha256_hex(const void *p, size_t n, char out[QS_SHA256_HEX_LEN + 1]) {
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(n ? p : "", n, md, &mdlen, EVP_sha256(), NULL);
    to_hex(md, 32, out);
}

void qs_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t n,
                    unsigned char out[32]) {
    unsigned int outlen = 32;
    /* HMAC() wants a non-NULL key pointer even for an empty key. */
    HMAC(EVP_sha256(), keylen ? key : "", (int)keylen, n ? msg : (const void *)"", n, out, &outlen);
}

static bool all_lower_hex(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return s[n] == '\0';
}

bool qs_digest_valid(const char *s) {
    static const struct {
        const char *prefix;
        size_t hexlen;
    } algs[] = {{"sha256:", 64}, {"sha512:", 128}};
    if (!s)
        return false;
    for (size_t i = 0; i < QS_ARRAY_LEN(algs); i++) {
        size_t pl = strlen(algs[i].prefix);
        if (strncmp(s, algs[i].prefix, pl) == 0)
            return strlen(s + pl) == algs[i].hexlen && all_lower_hex(s + pl, algs[i].hexlen);
    }
    return false;
}

bool qs_consttime_equal(const void *a, size_t alen, const void *b, size_t blen) {
    const volatile unsigned char *pa = a, *pb = b;
    /* Fold the length difference in; when lengths differ compare b against itself so the
     * loop still runs blen times and never reads past a. */
    volatile unsigned char acc = (unsigned char)((alen ^ blen) != 0);
    if (alen != blen)
        pa = pb;
    for (size_t i = 0; i < blen; i++)
        acc |= (unsigned char)(pa[i] ^ pb[i]);
    return acc == 0;
}

int qs_random_bytes(void *out, size_t n) {
    if (n > INT32_MAX)
        return QS_ERR;
    if (n == 0)
        return QS_OK;
    return RAND_bytes(out, (int)n) == 1 ? QS_OK : QS_ERR;
}

char *qs_random_hex(size_t nbytes) {
    if (nbytes > SIZE_MAX / 2 - 1)
        return NULL;
    unsigned char *raw = malloc(nbytes ? nbytes : 1);
    char *hex = malloc(2 * nbytes + 1);
    if (!raw || !hex || qs_random_bytes(raw, nbytes) != QS_OK) {
        free(raw);
        free(hex);
        return NULL;
    }
    to_hex(raw, nbytes, hex);
    free(raw);
    return hex;
}
