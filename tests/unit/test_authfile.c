/* test_authfile.c — registry credentials from a docker config.json. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/authfile.h"
#include "shared/common.h"
#include "shared/config.h"

static char dir[] = "/tmp/qs-authfile-XXXXXX";
static char path[128];

static void write_file(const char *text) {
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.new", path);
    FILE *f = fopen(tmp, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    cr_assert_eq(rename(tmp, path), 0);
}

static void setup(void) {
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/config.json", dir);
}

static void teardown(void) {
    unlink(path);
    rmdir(dir);
}

TestSuite(authfile, .init = setup, .fini = teardown);

/* base64("robot:pa:ss") = cm9ib3Q6cGE6c3M= ; base64("org:pw") = b3JnOnB3 */
static const char config[] =
    "{\"auths\":{"
    " \"quay.io\":{\"auth\":\"cm9ib3Q6cGE6c3M=\"},"
    " \"quay.io/openshift\":{\"auth\":\"b3JnOnB3\"},"
    " \"https://index.docker.io/v1/\":{\"username\":\"hub\",\"password\":\"hubpw\"},"
    " \"http://127.0.0.1:5000/\":{\"username\":\"local\",\"password\":\"lpw\"},"
    " \"broken.example\":{\"auth\":\"bm9jb2xvbg==\"},"
    " \"empty.example\":{}}}";

static void expect(qs_authfile *a, const char *ref, const char *u, const char *p) {
    char *user = NULL, *pass = NULL, err[256];
    cr_assert_eq(qs_authfile_lookup(a, ref, &user, &pass, err, sizeof err), QS_OK, "%s: %s", ref,
                 err);
    cr_expect_str_eq(user, u, "%s", ref);
    cr_expect_str_eq(pass, p, "%s", ref);
    qs_secret_release(user);
    qs_secret_release(pass);
}

Test(authfile, longest_prefix_at_a_path_boundary) {
    write_file(config);
    qs_authfile *a = qs_authfile_new(path);
    expect(a, "quay.io/openshift/ci", "org", "pw");
    expect(a, "quay.io/openshiftx/ci", "robot", "pa:ss"); /* not a path boundary */
    expect(a, "quay.io", "robot", "pa:ss");               /* password keeps its colons */
    expect(a, "docker.io/library/busybox", "hub", "hubpw");
    expect(a, "127.0.0.1:5000/any/repo", "local", "lpw");
    char *u, *p, err[256];
    cr_assert_eq(qs_authfile_lookup(a, "ghcr.io/x/y", &u, &p, err, sizeof err), QS_ENOTFOUND);
    cr_assert_null(u);
    qs_authfile_free(a);
}

Test(authfile, malformed_entries_are_named_never_quoted) {
    write_file(config);
    qs_authfile *a = qs_authfile_new(path);
    char *u, *p, err[256];
    cr_assert_eq(qs_authfile_lookup(a, "broken.example/r", &u, &p, err, sizeof err), QS_EINVAL);
    cr_assert(strstr(err, "broken.example"), "%s", err);
    cr_assert_null(strstr(err, "bm9jb2xvbg"), "the secret must not be quoted: %s", err);
    cr_assert_eq(qs_authfile_lookup(a, "empty.example", &u, &p, err, sizeof err), QS_EINVAL);
    qs_authfile_free(a);
}

Test(authfile, missing_and_invalid_files) {
    qs_authfile *a = qs_authfile_new(path);
    char *u, *p, err[256];
    cr_assert_eq(qs_authfile_lookup(a, "quay.io", &u, &p, err, sizeof err), QS_ENOTFOUND);
    write_file("not json");
    cr_assert_eq(qs_authfile_lookup(a, "quay.io", &u, &p, err, sizeof err), QS_EINVAL);
    qs_authfile_free(a);
}

Test(authfile, rotation_is_picked_up) {
    write_file("{\"auths\":{\"quay.io\":{\"username\":\"a\",\"password\":\"1\"}}}");
    qs_authfile *a = qs_authfile_new(path);
    expect(a, "quay.io/x", "a", "1");
    write_file("{\"auths\":{\"quay.io\":{\"username\":\"a\",\"password\":\"22\"}}}");
    expect(a, "quay.io/x", "a", "22");
    qs_authfile_free(a);
}

Test(authfile, key_normalisation) {
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"https://index.docker.io/v1/", "docker.io"},
        {"registry-1.docker.io/library", "docker.io/library"},
        {"http://127.0.0.1:5000/", "127.0.0.1:5000"},
        {"quay.io/openshift/", "quay.io/openshift"},
        {"quay.io", "quay.io"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[256];
        qs_authfile_normalize_key(cases[i].in, out, sizeof out);
        cr_expect_str_eq(out, cases[i].out, "%s", cases[i].in);
    }
}
