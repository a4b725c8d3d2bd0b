/* test_base64.c — RFC 4648 §10 vectors for both alphabets, and the decoder's strictness. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "shared/base64.h"

static const struct {
    const char *plain, *std, *url;
} vectors[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

Test(base64, rfc4648_encode) {
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        char *s = qs_base64_encode(vectors[i].plain, strlen(vectors[i].plain));
        char *u = qs_base64url_encode(vectors[i].plain, strlen(vectors[i].plain));
        cr_assert_str_eq(s, vectors[i].std);
        cr_assert_str_eq(u, vectors[i].url);
        free(s);
        free(u);
    }
}

Test(base64, rfc4648_decode_padded_and_unpadded) {
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        size_t n = 99;
        unsigned char *d = qs_base64_decode(vectors[i].std, strlen(vectors[i].std), &n);
        cr_assert_not_null(d, "%s", vectors[i].std);
        cr_assert_eq(n, strlen(vectors[i].plain));
        cr_assert_str_eq((char *)d, vectors[i].plain); /* NUL after the data */
        free(d);
        d = qs_base64_decode(vectors[i].url, strlen(vectors[i].url), &n); /* padding optional */
        cr_assert_not_null(d);
        cr_assert_eq(n, strlen(vectors[i].plain));
        free(d);
        d = qs_base64url_decode(vectors[i].url, strlen(vectors[i].url), &n);
        cr_assert_not_null(d);
        cr_assert_str_eq((char *)d, vectors[i].plain);
        free(d);
    }
}

Test(base64, alphabets_differ) {
    const unsigned char bytes[] = {0xfb, 0xff, 0xbf};
    char *s = qs_base64_encode(bytes, sizeof bytes);
    char *u = qs_base64url_encode(bytes, sizeof bytes);
    cr_assert_str_eq(s, "+/+/");
    cr_assert_str_eq(u, "-_-_");
    size_t n = 0;
    unsigned char *d = qs_base64url_decode("-_-_", 4, &n);
    cr_assert_not_null(d);
    cr_assert_eq(n, 3);
    cr_assert_eq(memcmp(d, bytes, 3), 0);
    free(d);
    cr_assert_null(qs_base64url_decode("+/+/", 4, &n));
    cr_assert_null(qs_base64_decode("-_-_", 4, &n));
    free(s);
    free(u);
}

Test(base64, binary_roundtrip) {
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    for (size_t len = 0; len <= sizeof all; len += 17) {
        char *u = qs_base64url_encode(all, len);
        size_t n = 0;
        unsigned char *d = qs_base64url_decode(u, strlen(u), &n);
        cr_assert_eq(n, len);
        cr_assert_eq(memcmp(d, all, len), 0);
        free(u);
        free(d);
    }
}

Test(base64, rejects_malformed) {
    static const char *bad[] = {"Z",    "Zg=",  "Zg===", "Z===",     "Zm9v Yg==", "Zm9v\n",
                                "Zh==", "Zm9=", "=Zg=",  "Zg==Zg==", "Zm*v",      "Zm9vY"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = 0;
        unsigned char *d = qs_base64_decode(bad[i], strlen(bad[i]), &n);
        cr_assert_null(d, "accepted \"%s\"", bad[i]);
    }
    cr_assert_null(qs_base64url_decode("Zg=", 3, NULL));
    cr_assert_null(qs_base64url_decode("Zh", 2, NULL)); /* non-zero trailing bits */
}

Test(base64, decode_respects_len) {
    size_t n = 0;
    unsigned char *d = qs_base64_decode("Zm9vYmFyXXXX", 8, &n);
    cr_assert_not_null(d);
    cr_assert_eq(n, 6);
    cr_assert_str_eq((char *)d, "foobar");
    free(d);
}
