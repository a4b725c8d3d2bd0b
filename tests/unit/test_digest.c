/* test_digest.c — SHA-256 (FIPS 180-2 "abc"), RFC 4231 HMAC case 2, digest syntax,
 * constant-time equality and random tokens. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "shared/common.h"
#include "shared/digest.h"

#define ABC_HEX "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define EMPTY_HEX "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

Test(digest, sha256_abc) {
    char hex[QS_SHA256_HEX_LEN + 1];
    char dig[QS_DIGEST_STR_LEN + 1];
    qs_sha256_hex("abc", 3, hex);
    cr_assert_str_eq(hex, ABC_HEX);
    qs_sha256_digest("abc", 3, dig);
    cr_assert_str_eq(dig, "sha256:" ABC_HEX);
    qs_sha256_digest("", 0, dig);
    cr_assert_str_eq(dig, "sha256:" EMPTY_HEX);
}

Test(digest, sha256_incremental_matches_oneshot) {
    qs_sha256 *h = qs_sha256_new();
    cr_assert_not_null(h);
    qs_sha256_update(h, "a", 1);
    qs_sha256_update(h, "", 0);
    qs_sha256_update(h, "bc", 2);
    char dig[QS_DIGEST_STR_LEN + 1];
    qs_sha256_final(h, dig);
    cr_assert_str_eq(dig, "sha256:" ABC_HEX);
    cr_assert(qs_digest_valid(dig));
}

Test(digest, hmac_rfc4231_case2) {
    unsigned char mac[32];
    qs_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
    static const unsigned char want[32] = {0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e,
                                           0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7,
                                           0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83,
                                           0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
    cr_assert_eq(memcmp(mac, want, 32), 0);
}

Test(digest, digest_valid) {
    cr_assert(qs_digest_valid("sha256:" ABC_HEX));
    char sha512[7 + 128 + 1] = "sha512:";
    memset(sha512 + 7, 'a', 128);
    sha512[135] = '\0';
    cr_assert(qs_digest_valid(sha512));
    cr_assert_not(qs_digest_valid(NULL));
    cr_assert_not(qs_digest_valid(""));
    cr_assert_not(qs_digest_valid(ABC_HEX));
    cr_assert_not(
        qs_digest_valid("sha256:"
                        "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
    cr_assert_not(qs_digest_valid("sha256:" ABC_HEX "0"));
    cr_assert_not(qs_digest_valid("sha256:ba7816bf"));
    cr_assert_not(
        qs_digest_valid("sha256:"
                        "ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    cr_assert_not(qs_digest_valid("md5:" ABC_HEX));
    cr_assert_not(qs_digest_valid("sha512:" ABC_HEX)); /* 64 hex is too short for sha512 */
}

Test(digest, consttime_equal) {
    cr_assert(qs_consttime_equal("secret", 6, "secret", 6));
    cr_assert(qs_consttime_equal("", 0, "", 0));
    cr_assert_not(qs_consttime_equal("secret", 6, "secreT", 6));
    cr_assert_not(qs_consttime_equal("Secret", 6, "secret", 6));
    cr_assert_not(qs_consttime_equal("secret", 6, "secret!", 7)); /* prefix */
    cr_assert_not(qs_consttime_equal("secret!", 7, "secret", 6));
    cr_assert_not(qs_consttime_equal("", 0, "x", 1));
    cr_assert_not(qs_consttime_equal("x", 1, "", 0));
}

Test(digest, random) {
    unsigned char a[32] = {0}, b[32] = {0}, zero[32] = {0};
    cr_assert_eq(qs_random_bytes(a, sizeof a), QS_OK);
    cr_assert_eq(qs_random_bytes(b, sizeof b), QS_OK);
    cr_assert_neq(memcmp(a, b, 32), 0);
    cr_assert_neq(memcmp(a, zero, 32), 0);
    char *h1 = qs_random_hex(16), *h2 = qs_random_hex(16);
    cr_assert_eq(strlen(h1), 32);
    cr_assert_eq(strspn(h1, "0123456789abcdef"), 32);
    cr_assert_str_neq(h1, h2);
    free(h1);
    free(h2);
    char *empty = qs_random_hex(0);
    cr_assert_str_eq(empty, "");
    free(empty);
}
