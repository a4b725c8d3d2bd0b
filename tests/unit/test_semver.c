/* test_semver.c — OMPS release versions: the strict rule (OMPS's own accepted and rejected
 * examples), numeric comparison, formatting, 64-bit overflow, and "next major" over a list
 * of releases with invalid ones skipped. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "shared/common.h"
#include "shared/semver.h"

static const struct {
    const char *s;
    uint64_t major, minor, patch;
} good[] = {
    {"0.0.0", 0, 0, 0},
    {"1.0.0", 1, 0, 0},
    {"2.5.1", 2, 5, 1},
    {"10.20.30", 10, 20, 30},
    {"0.10.0", 0, 10, 0},
    {"18446744073709551615.0.18446744073709551615", UINT64_MAX, 0, UINT64_MAX},
};

/* OMPS's tests (test_quay.py) plus the edges of the scanner. */
static const char *const bad[] = {
    "1",       "1.2",     "1.2.3.4", "1-5.1.0",   "-1.2.3",  "a.b.c",  "1.01.0", "+1.0.0",
    "0x1.0.0", "1.1.1a0", "",        ".1.2",      "1..2",    "1.2.",   "01.0.0", "1.0.00",
    " 1.0.0",  "1.0.0 ",  "1.0.0\n", "1.2.3-rc1", "1.2.3+b", "v1.2.3", "1.2.-3", "1.2.3.",
};

Test(semver, accepts_and_parses) {
    for (size_t i = 0; i < QS_ARRAY_LEN(good); i++) {
        qs_semver v = {9, 9, 9};
        cr_assert(qs_semver_valid(good[i].s), "%s", good[i].s);
        cr_assert_eq(qs_semver_parse(&v, good[i].s), QS_OK, "%s", good[i].s);
        cr_assert_eq(v.major, good[i].major, "%s", good[i].s);
        cr_assert_eq(v.minor, good[i].minor, "%s", good[i].s);
        cr_assert_eq(v.patch, good[i].patch, "%s", good[i].s);
        char buf[QS_SEMVER_STR_MAX];
        cr_assert_eq(qs_semver_format(&v, buf, sizeof buf), QS_OK);
        cr_assert_str_eq(buf, good[i].s, "round trip");
    }
}

Test(semver, rejects_what_omps_rejects) {
    for (size_t i = 0; i < QS_ARRAY_LEN(bad); i++) {
        qs_semver v = {7, 7, 7};
        cr_assert_not(qs_semver_valid(bad[i]), "'%s' accepted", bad[i]);
        cr_assert_eq(qs_semver_parse(&v, bad[i]), QS_EINVAL, "'%s'", bad[i]);
        cr_assert_eq(v.major, 7, "untouched on failure");
    }
    cr_assert_not(qs_semver_valid(NULL));
}

Test(semver, overflow_is_valid_but_too_big) {
    /* Python's integers are unbounded, so the rule accepts these; they do not fit 64 bits. */
    const char *const big[] = {"18446744073709551616.0.0", "0.99999999999999999999999.0",
                               "1.2.184467440737095516150"};
    for (size_t i = 0; i < QS_ARRAY_LEN(big); i++) {
        qs_semver v = {7, 7, 7};
        cr_assert(qs_semver_valid(big[i]), "%s", big[i]);
        cr_assert_eq(qs_semver_parse(&v, big[i]), QS_ETOOBIG, "%s", big[i]);
        cr_assert_eq(v.major, 7);
    }
    /* a bad shape after a big number is still a bad shape */
    cr_assert_eq(qs_semver_parse(&(qs_semver){0}, "99999999999999999999999.0.0x"), QS_EINVAL);
}

Test(semver, compares_numerically) {
    static const char *const ordered[] = {"0.0.0",
                                          "0.0.1",
                                          "0.0.10",
                                          "0.1.0",
                                          "0.10.0",
                                          "1.0.0",
                                          "1.2.3",
                                          "1.10.0",
                                          "2.0.0",
                                          "10.0.0",
                                          "18446744073709551615.0.0"};
    for (size_t i = 0; i < QS_ARRAY_LEN(ordered); i++)
        for (size_t j = 0; j < QS_ARRAY_LEN(ordered); j++) {
            qs_semver a, b;
            cr_assert_eq(qs_semver_parse(&a, ordered[i]), QS_OK);
            cr_assert_eq(qs_semver_parse(&b, ordered[j]), QS_OK);
            int c = qs_semver_cmp(&a, &b);
            int want = (i > j) - (i < j);
            cr_assert_eq((c > 0) - (c < 0), want, "%s vs %s", ordered[i], ordered[j]);
        }
}

Test(semver, format_needs_room) {
    qs_semver v = {UINT64_MAX, UINT64_MAX, UINT64_MAX};
    char buf[QS_SEMVER_STR_MAX];
    cr_assert_eq(qs_semver_format(&v, buf, sizeof buf), QS_OK);
    cr_assert_str_eq(buf, "18446744073709551615.18446744073709551615.18446744073709551615");
    char small[6] = "xxxxx";
    cr_assert_eq(qs_semver_format(&(qs_semver){1, 2, 3}, small, 5), QS_ETOOBIG);
    cr_assert_str_eq(small, "");
    cr_assert_eq(qs_semver_format(&(qs_semver){1, 2, 3}, small, 6), QS_OK);
    cr_assert_str_eq(small, "1.2.3");
}

Test(semver, next_major) {
    qs_semver n;
    cr_assert_eq(qs_semver_next_major(&n, &(qs_semver){2, 5, 1}), QS_OK);
    cr_assert(n.major == 3 && n.minor == 0 && n.patch == 0);
    cr_assert_eq(qs_semver_next_major(&n, &(qs_semver){UINT64_MAX, 0, 0}), QS_ETOOBIG);
}

static void assert_next(const char *const *list, size_t n, int want_rc, const char *want) {
    qs_semver v = {0, 0, 0};
    int rc = qs_semver_next_release(&v, list, n);
    cr_assert_eq(rc, want_rc, "rc %d", rc);
    if (want) {
        char buf[QS_SEMVER_STR_MAX];
        cr_assert_eq(qs_semver_format(&v, buf, sizeof buf), QS_OK);
        cr_assert_str_eq(buf, want);
    }
}

Test(semver, next_release_over_a_list) {
    const char *const seed[] = {"2.5.1"}; /* the seed's README example */
    assert_next(seed, 1, QS_OK, "3.0.0");
    const char *const mixed[] = {"1.2.3", "bad", "2.5.1", NULL, "1.10.0", "2.05.0", "10.0.0-rc1"};
    assert_next(mixed, QS_ARRAY_LEN(mixed), QS_OK, "3.0.0");
    const char *const numeric[] = {"9.0.0", "10.0.0", "9.99.99"}; /* not string order */
    assert_next(numeric, 3, QS_OK, "11.0.0");
    const char *const minor_wins[] = {"3.1.0", "3.0.9"};
    assert_next(minor_wins, 2, QS_OK, "4.0.0");
    const char *const none[] = {"latest", "1.0", "v1.0.0", NULL};
    assert_next(none, QS_ARRAY_LEN(none), QS_ENOTFOUND, NULL);
    assert_next(NULL, 0, QS_ENOTFOUND, NULL);
    /* a release too big for 64 bits is skipped like an invalid one */
    const char *const huge[] = {"99999999999999999999999.0.0", "4.0.0"};
    assert_next(huge, 2, QS_OK, "5.0.0");
    const char *const top[] = {"18446744073709551615.0.0", "1.0.0"};
    assert_next(top, 2, QS_ETOOBIG, NULL);
}
