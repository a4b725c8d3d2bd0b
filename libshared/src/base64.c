/* base64.c — RFC 4648 base64, standard (§4) and URL-safe (§5) alphabets.
 *
 * One encoder and one decoder, parameterised by the alphabet and whether '=' padding is
 * written. Decoding maps each character back through a small range check (the two alphabets
 * differ only in their last two characters). The decoder is strict:
 * no whitespace, padding only at the end and only to a multiple of four, no stray bits in the
 * last character (so every input has exactly one encoding), and the two alphabets are not
 * mixed. */
#include "shared/base64.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

static const char std_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *encode(const void *p, size_t n, const char *alpha, bool pad) {
    if (n > (SIZE_MAX - 8) / 4 * 3)
        return NULL;
    const unsigned char *in = p;
    char *out = malloc((n + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alpha[v >> 18 & 63];
        out[o++] = alpha[v >> 12 & 63];
        out[o++] = alpha[v >> 6 & 63];
        out[o++] = alpha[v & 63];
    }
    size_t rest = n - i;
    if (rest) {
        uint32_t v = (uint32_t)in[i] << 16 | (rest == 2 ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = alpha[v >> 18 & 63];
        out[o++] = alpha[v >> 12 & 63];
        if (rest == 2)
            out[o++] = alpha[v >> 6 & 63];
        else if (pad)
            out[o++] = '=';
        if (pad)
            out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}

char *qs_base64_encode(const void *p, size_t n) { return encode(p, n, std_alpha, true); }

char *qs_base64url_encode(const void *p, size_t n) { return encode(p, n, url_alpha, false); }

/* Value of `c` in `alpha`, or -1. */
static int sextet(const char *alpha, unsigned char c) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (unsigned char)alpha[62])
        return 62;
    if (c == (unsigned char)alpha[63])
        return 63;
    return -1;
}

static unsigned char *decode(const char *s, size_t len, size_t *out_len, const char *alpha) {
    if (!s)
        return NULL;
    size_t data = len;
    while (data > 0 && s[data - 1] == '=')
        data--;
    size_t npad = len - data;
    /* Padding, when present, must complete a 4-character group and be at most two '='. */
    if (npad > 2 || (npad && len % 4 != 0) || data % 4 == 1)
        return NULL;
    unsigned char *out = malloc(data / 4 * 3 + 3);
    if (!out)
        return NULL;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < data; i++) {
        int v = sextet(alpha, (unsigned char)s[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits & 0xff);
        }
    }
    /* Leftover bits must be zero: "QQ==" decodes, "QR==" does not. */
    if (bits && (acc & ((1u << bits) - 1)) != 0) {
        free(out);
        return NULL;
    }
    out[o] = '\0';
    if (out_len)
        *out_len = o;
    return out;
}

unsigned char *qs_base64_decode(const char *s, size_t len, size_t *out_len) {
    return decode(s, len, out_len, std_alpha);
}

unsigned char *qs_base64url_decode(const char *s, size_t len, size_t *out_len) {
    return decode(s, len, out_len, url_alpha);
}
