/* test_mirror_naming.c — the mirror's pure naming rules: image reference parsing and
 * formatting (docker's host detection, host:port, tags, digests, invalid input), tag and
 * repository validation, image stream tags, and the destination tags at fixed times. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "mirror/naming.h"
#include "shared/common.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define D256 "sha256:" HEX64

/* 2026-01-05T12:34:56Z, 2023-10-29T23:59:59Z */
#define T_2026 ((time_t)1767616496)
#define T_2023 ((time_t)1698623999)

static const struct {
    const char *in;
    const char *host, *repo, *tag, *digest;
    const char *formatted; /* mirror_ref_format of the result */
} refs[] = {
    /* docker.io style: a bare name gets library/, a two-part name is a docker.io repository */
    {"ubuntu", "docker.io", "library/ubuntu", "", "", "docker.io/library/ubuntu"},
    {"ubuntu:22.04", "docker.io", "library/ubuntu", "22.04", "", "docker.io/library/ubuntu:22.04"},
    {"openshift/origin-cli:4.16", "docker.io", "openshift/origin-cli", "4.16", "",
     "docker.io/openshift/origin-cli:4.16"},
    {"docker.io/busybox", "docker.io", "library/busybox", "", "", "docker.io/library/busybox"},
    {"index.docker.io/busybox:1", "docker.io", "library/busybox", "1", "",
     "docker.io/library/busybox:1"},
    /* hosts: a dot, a port, localhost, an upper-case letter */
    {"quay.io/openshift/ci:ci_boskos_latest", "quay.io", "openshift/ci", "ci_boskos_latest", "",
     "quay.io/openshift/ci:ci_boskos_latest"},
    {"registry.ci.openshift.org/ocp/4.22:cli", "registry.ci.openshift.org", "ocp/4.22", "cli", "",
     "registry.ci.openshift.org/ocp/4.22:cli"},
    {"localhost:5000/a/b/c:t", "localhost:5000", "a/b/c", "t", "", "localhost:5000/a/b/c:t"},
    {"localhost/foo", "localhost", "foo", "", "", "localhost/foo"},
    {"127.0.0.1:8443/foo", "127.0.0.1:8443", "foo", "", "", "127.0.0.1:8443/foo"},
    {"[::1]:5000/foo:bar", "[::1]:5000", "foo", "bar", "", "[::1]:5000/foo:bar"},
    {"Registry/foo", "Registry", "foo", "", "", "Registry/foo"},
    /* digests, and a tag with a digest (both kept) */
    {"quay.io/openshift/ci@" D256, "quay.io", "openshift/ci", "", D256,
     "quay.io/openshift/ci@" D256},
    {"quay.io/openshift/ci:float@" D256, "quay.io", "openshift/ci", "float", D256,
     "quay.io/openshift/ci:float@" D256},
    {"localhost:5000/x@" D256, "localhost:5000", "x", "", D256, "localhost:5000/x@" D256},
    /* repository separators */
    {"r.io/a.b/c__d/e---f/g_h:v", "r.io", "a.b/c__d/e---f/g_h", "v", "",
     "r.io/a.b/c__d/e---f/g_h:v"},
};

Test(mirror_ref, parse_table) {
    for (size_t i = 0; i < QS_ARRAY_LEN(refs); i++) {
        mirror_ref r;
        cr_assert_eq(mirror_ref_parse(&r, refs[i].in, NULL), 0, "%s", refs[i].in);
        cr_expect_str_eq(r.host, refs[i].host, "%s", refs[i].in);
        cr_expect_str_eq(r.repo, refs[i].repo, "%s", refs[i].in);
        cr_expect_str_eq(r.tag, refs[i].tag, "%s", refs[i].in);
        cr_expect_str_eq(r.digest, refs[i].digest, "%s", refs[i].in);
        char out[512];
        cr_assert_eq(mirror_ref_format(&r, out, sizeof out), 0);
        cr_expect_str_eq(out, refs[i].formatted, "%s", refs[i].in);
    }
}

static const char *const bad_refs[] = {
    "",
    ":tag",
    "@" D256,
    "UPPER",                         /* one component, not a host: a bad repository */
    "quay.io/Openshift/ci",          /* upper case in the repository */
    "quay.io/openshift/ci:",         /* empty tag */
    "quay.io/openshift/ci:-bad",     /* a tag cannot start with '-' */
    "quay.io/openshift/ci:a/b",      /* no tag: the repository holds a colon */
    "quay.io/openshift/ci@sha256:1", /* short digest */
    "quay.io/openshift/ci@md5:" HEX64,
    "quay.io/openshift/ci@sha256:" HEX64 "00",
    "quay.io/openshift/ci@SHA256:" HEX64,
    "quay.io//ci",      /* empty component */
    "quay.io/ci/",      /* trailing slash */
    "quay.io/a-/b",     /* component ending in a separator */
    "quay.io/a._b",     /* two separators */
    "quay.io/a___b",    /* three underscores */
    "-bad.io/foo",      /* host label starting with '-' */
    "bad..io/foo",      /* empty host label */
    "host.io:port/foo", /* non-numeric port */
    "host.io:/foo",     /* empty port */
    "[::1/foo",         /* unterminated IPv6 */
    "quay.io/openshift/ci:t@sha256:" HEX64 "@x",
};

Test(mirror_ref, invalid_references) {
    for (size_t i = 0; i < QS_ARRAY_LEN(bad_refs); i++) {
        mirror_ref r;
        cr_expect_eq(mirror_ref_parse(&r, bad_refs[i], NULL), QS_EINVAL, "accepted: %s",
                     bad_refs[i]);
        cr_expect_str_eq(r.host, "", "%s left a host", bad_refs[i]);
    }
    mirror_ref r;
    cr_expect_eq(mirror_ref_parse(&r, NULL, NULL), QS_EINVAL);
    char long_tag[200];
    memset(long_tag, 'a', sizeof long_tag);
    long_tag[150] = '\0';
    char ref[300];
    snprintf(ref, sizeof ref, "quay.io/x:%s", long_tag);
    cr_expect_eq(mirror_ref_parse(&r, ref, NULL), QS_EINVAL, "129+ character tag accepted");
}

Test(mirror_ref, default_registry_and_reference) {
    mirror_ref r;
    cr_assert_eq(mirror_ref_parse(&r, "ocp/4.22:cli", "registry.ci.openshift.org"), 0);
    cr_expect_str_eq(r.host, "registry.ci.openshift.org");
    cr_expect_str_eq(r.repo, "ocp/4.22"); /* no library/ off docker.io */
    cr_expect_str_eq(mirror_ref_reference(&r), "cli");
    cr_assert_eq(mirror_ref_parse(&r, "single", "localhost:5000"), 0);
    cr_expect_str_eq(r.repo, "single");
    cr_expect_str_eq(mirror_ref_reference(&r), "latest");
    cr_assert_eq(mirror_ref_parse(&r, "quay.io/a:t@" D256, "ignored.io"), 0);
    cr_expect_str_eq(r.host, "quay.io");
    cr_expect_str_eq(mirror_ref_reference(&r), D256); /* the digest wins */

    char name[64];
    cr_assert_eq(mirror_ref_name(&r, name, sizeof name), 0);
    cr_expect_str_eq(name, "quay.io/a");
    cr_expect_eq(mirror_ref_name(&r, name, 5), QS_ETOOBIG);
    char small[20];
    cr_expect_eq(mirror_ref_format(&r, small, sizeof small), QS_ETOOBIG);
}

Test(mirror_names, tag_repo_digest_validity) {
    static const char *const good_tags[] = {"latest", "_x", "9", "a.b-c_d", "ocp_4.22_cli"};
    static const char *const bad_tags[] = {"", ".x", "-x", "a:b", "a/b", "a b", "é"};
    for (size_t i = 0; i < QS_ARRAY_LEN(good_tags); i++)
        cr_expect(mirror_tag_valid(good_tags[i]), "%s", good_tags[i]);
    for (size_t i = 0; i < QS_ARRAY_LEN(bad_tags); i++)
        cr_expect_not(mirror_tag_valid(bad_tags[i]), "%s", bad_tags[i]);
    char t[130];
    memset(t, 'a', 128);
    t[128] = '\0';
    cr_expect(mirror_tag_valid(t), "128 characters is the limit");
    t[128] = 'a';
    t[129] = '\0';
    cr_expect_not(mirror_tag_valid(t), "129 characters");

    cr_expect(mirror_repo_valid("openshift/ci"));
    cr_expect(mirror_repo_valid("a/b/c/d"));
    cr_expect_not(mirror_repo_valid("Openshift/ci"));
    cr_expect_not(mirror_repo_valid("a/"));
    cr_expect_not(mirror_repo_valid("_a"));
    char long_repo[300];
    memset(long_repo, 'a', 256);
    long_repo[256] = '\0';
    cr_expect_not(mirror_repo_valid(long_repo), "256 characters");

    cr_expect(mirror_digest_valid(D256));
    cr_expect(mirror_digest_valid("sha512:" HEX64 HEX64));
    cr_expect_not(mirror_digest_valid("sha512:" HEX64));
    cr_expect_not(mirror_digest_valid("sha256:" HEX64 "0"));
    cr_expect_not(mirror_digest_valid(
        "sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"));
}

Test(mirror_names, istag_parse) {
    mirror_istag t;
    cr_assert_eq(mirror_istag_parse(&t, "ocp/4.22:cli"), 0);
    cr_expect_str_eq(t.ns, "ocp");
    cr_expect_str_eq(t.name, "4.22");
    cr_expect_str_eq(t.tag, "cli");
    static const char *const bad[] = {"",          "ocp",     "ocp/4.22", "/4.22:cli", "ocp/:cli",
                                      "ocp/4.22:", "a/b/c:d", "a/b:c:d",  "a:b/c"};
    for (size_t i = 0; i < QS_ARRAY_LEN(bad); i++) {
        cr_expect_eq(mirror_istag_parse(&t, bad[i]), QS_EINVAL, "accepted: %s", bad[i]);
        cr_expect_str_eq(t.ns, "", "%s", bad[i]);
    }
    cr_expect_eq(mirror_istag_parse(&t, NULL), QS_EINVAL);
    char big[400];
    memset(big, 'n', sizeof big);
    memcpy(big, "ns/", 3);
    strcpy(big + 390, ":tag");
    cr_expect_eq(mirror_istag_parse(&t, big), QS_ETOOBIG);
}

Test(mirror_names, qci_tag) {
    mirror_istag t;
    char out[MIRROR_TAG_MAX + 1];
    cr_assert_eq(mirror_istag_parse(&t, "ci/boskos:latest"), 0);
    cr_assert_eq(mirror_qci_tag(&t, out, sizeof out), 0);
    cr_expect_str_eq(out, "ci_boskos_latest");
    cr_assert_eq(mirror_istag_parse(&t, "ocp/4.22:cli"), 0);
    cr_assert_eq(mirror_qci_tag(&t, out, sizeof out), 0);
    cr_expect_str_eq(out, "ocp_4.22_cli");
    cr_expect_eq(mirror_qci_tag(&t, out, 8), QS_ETOOBIG);
    /* a name with a character no tag may hold */
    cr_assert_eq(mirror_istag_parse(&t, "ns/na+me:t"), 0);
    cr_expect_eq(mirror_qci_tag(&t, out, sizeof out), QS_EINVAL);
    /* longer than 128 characters in all */
    char key[200];
    memset(key, 'x', sizeof key);
    memcpy(key, "ns/", 3);
    strcpy(key + 140, ":t");
    cr_assert_eq(mirror_istag_parse(&t, key), 0);
    cr_expect_eq(mirror_qci_tag(&t, out, sizeof out), QS_EINVAL);
}

Test(mirror_names, date_digest_tag) {
    char out[MIRROR_TAG_MAX + 1];
    cr_assert_eq(mirror_date_digest_tag(T_2023, D256, out, sizeof out), 0);
    cr_expect_str_eq(out, "20231029_sha256_" HEX64);
    cr_assert_eq(mirror_date_digest_tag(T_2026, D256, out, sizeof out), 0);
    cr_expect_str_eq(out, "20260105_sha256_" HEX64);
    cr_expect(mirror_tag_valid(out));
    cr_expect_eq(mirror_date_digest_tag(T_2026, "sha256:abc", out, sizeof out), QS_EINVAL);
    cr_expect_eq(mirror_date_digest_tag(T_2026, "sha512:" HEX64 HEX64, out, sizeof out), QS_EINVAL);
    cr_expect_eq(mirror_date_digest_tag(T_2026, NULL, out, sizeof out), QS_EINVAL);
    cr_expect_eq(mirror_date_digest_tag(T_2026, D256, out, 20), QS_ETOOBIG);
}

Test(mirror_names, prune_tag) {
    char out[MIRROR_TAG_MAX + 1];
    cr_assert_eq(mirror_prune_tag(T_2026, "ci_boskos_latest", out, sizeof out), 0);
    /* the example of reference/citools.md §2.6 */
    cr_expect_str_eq(out, "20260105123456_prune___ci_images_mirror__ci_boskos_latest");
    time_t when = 0;
    cr_expect(mirror_prune_tag_parse(out, &when));
    cr_expect_eq(when, T_2026);
    cr_expect_eq(mirror_prune_tag(T_2026, "a:b", out, sizeof out), QS_EINVAL);
    cr_expect_eq(mirror_prune_tag(T_2026, "ci_boskos_latest", out, 30), QS_ETOOBIG);

    /* 14 + 27 + 87 = 128 fits; one more does not */
    char fl[100];
    memset(fl, 'f', 87);
    fl[87] = '\0';
    cr_assert_eq(mirror_prune_tag(T_2026, fl, out, sizeof out), 0);
    cr_expect_eq(strlen(out), 128);
    fl[87] = 'f';
    fl[88] = '\0';
    cr_expect_eq(mirror_prune_tag(T_2026, fl, out, sizeof out), QS_EINVAL);
}

Test(mirror_names, prune_tag_parse) {
    time_t when = 0;
    /* ci-operator's shape is a prune backup too */
    cr_expect(mirror_prune_tag_parse("20231029235959_prune_ocp_4.22_cli", &when));
    cr_expect_eq(when, T_2023);
    cr_expect(mirror_prune_tag_parse("20240229000000_prune_x", NULL));
    static const char *const not_prune[] = {"ci_boskos_latest",       "2023102923595_prune_x",
                                            "20231029235959_prune_",  "20231029235959_prun_x",
                                            "20231329000000_prune_x", "20230230000000_prune_x",
                                            "20231029246060_prune_x"};
    for (size_t i = 0; i < QS_ARRAY_LEN(not_prune); i++)
        cr_expect_not(mirror_prune_tag_parse(not_prune[i], NULL), "%s", not_prune[i]);
    cr_expect_not(mirror_prune_tag_parse(NULL, NULL));
}
