/* test_omps_manifests.c — OMPS's rewrites of a manifest directory (reference/omps.md §A.5,
 * §A.7): the package name (first top-level YAML with packageName, the suffix written back with
 * comments and order kept, OMPS's messages), registry replacement (plain and POSIX-regexp rules
 * with Python's re.sub template and empty-match semantics, applied recursively to .yml/.yaml in
 * any case), CSV annotations with {package_name}, the start-up check of an organization's
 * rules, and the YAML emitter's quoting and number rules that the rewrites rely on. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "omps/manifests.h"
#include "omps/yaml_emit.h"
#include "omps_fixture.h"
#include "shared/common.h"
#include "shared/config.h"

static char *replace(const omps_org_settings *org, const char *text, int want_rc) {
    char *out = NULL, err[256] = "";
    size_t len = 0;
    int rc = omps_replace_registries(org, text, strlen(text), &out, &len, err, sizeof err);
    cr_assert_eq(rc, want_rc, "rc %d: %s", rc, err);
    if (out)
        cr_assert_eq(strlen(out), len);
    return out;
}

#define ORG_REPLACE(rules)                                                                         \
    { rules, QS_ARRAY_LEN(rules), NULL, NULL, 0 }

/* ---- registry replacement ---- */

Test(omps_replace, plain_rules_replace_every_occurrence_in_order) {
    const omps_replace_rule r[] = {{"quay.io/", "registry.example.com/", false},
                                   {"registry.example.com/old", "registry.example.com/new", false}};
    omps_org_settings org = ORG_REPLACE(r);
    char *s = replace(&org, "image: quay.io/old/op:v1\nother: quay.io/x\nkeep: docker.io/quay.io\n",
                      QS_OK);
    cr_expect_str_eq(s, "image: registry.example.com/new/op:v1\nother: registry.example.com/x\n"
                        "keep: docker.io/quay.io\n"); /* no "quay.io/" there */
    free(s);
}

Test(omps_replace, regexp_rules_use_groups_and_multiline_anchors) {
    const omps_replace_rule r[] = {
        {"^(  *image: )quay\\.io/([a-z]+)/", "\\1registry.example.com/\\g<2>-mirror/", true}};
    omps_org_settings org = ORG_REPLACE(r);
    char *s = replace(&org, "spec:\n  image: quay.io/acme/op:v1\n  x: quay.io/acme/y\n", QS_OK);
    cr_expect_str_eq(s, "spec:\n  image: registry.example.com/acme-mirror/op:v1\n"
                        "  x: quay.io/acme/y\n");
    free(s);
}

Test(omps_replace, regexp_empty_matches_as_python_3_7) {
    const omps_replace_rule r[] = {{"x*", "-", true}};
    omps_org_settings org = ORG_REPLACE(r);
    char *s = replace(&org, "abxd", QS_OK); /* re.sub('x*', '-', 'abxd') */
    cr_expect_str_eq(s, "-a-b--d-");
    free(s);
    const omps_replace_rule r2[] = {{"$", ";", true}};
    omps_org_settings org2 = ORG_REPLACE(r2);
    s = replace(&org2, "a\nb", QS_OK); /* re.sub('$', ';', 'a\nb', flags=re.M) */
    cr_expect_str_eq(s, "a;\nb;");
    free(s);
}

Test(omps_replace, regexp_template_escapes) {
    const omps_replace_rule r[] = {{"(a)(b)?", "[\\1|\\2|\\\\|\\n]", true}};
    omps_org_settings org = ORG_REPLACE(r);
    char *s = replace(&org, "ac", QS_OK); /* an unmatched group is empty */
    cr_expect_str_eq(s, "[a||\\|\n]c");
    free(s);
}

Test(omps_replace, posix_is_leftmost_longest) {
    /* documented difference: Python's re would give "Xb" (leftmost-first) */
    const omps_replace_rule r[] = {{"a|ab", "X", true}};
    omps_org_settings org = ORG_REPLACE(r);
    char *s = replace(&org, "ab", QS_OK);
    cr_expect_str_eq(s, "X");
    free(s);
}

Test(omps_replace, bad_rules_are_refused) {
    static const struct {
        omps_replace_rule r;
        const char *needle;
    } cases[] = {
        {{"(unclosed", "x", true}, "bad regular expression"},
        {{"(a)", "\\2", true}, "invalid group reference 2"},
        {{"(a)", "\\g<name>", true}, "named groups"},
        {{"(a)", "\\q", true}, "bad escape \\q"},
        {{"a", "\\0", true}, "octal"},
        {{"", "x", false}, "non-empty"},
    };
    for (size_t i = 0; i < QS_ARRAY_LEN(cases); i++) {
        omps_org_settings org = {&cases[i].r, 1, NULL, NULL, 0};
        char err[256] = "";
        cr_expect_eq(omps_org_settings_check(&org, err, sizeof err), QS_EINVAL, "case %zu", i);
        cr_expect(strstr(err, cases[i].needle) != NULL, "case %zu: %s", i, err);
        cr_expect(strstr(err, "replace_registry[0]") != NULL, "%s", err);
    }
    const omps_replace_rule ok[] = {{"quay\\.io/([a-z]+)", "r.io/\\1", true}, {"a", "b", false}};
    omps_org_settings org = ORG_REPLACE(ok);
    cr_expect_eq(omps_org_settings_check(&org, NULL, 0), QS_OK);
}

Test(omps_replace, directory_walk_rewrites_yaml_files_only) {
    char *dir = fx_tmpdir();
    fx_write(dir, "a.yaml", "img: quay.io/a\n");
    fx_write(dir, "sub/deeper/B.YML", "img: quay.io/b\n");
    fx_write(dir, "notes.txt", "img: quay.io/c\n");
    fx_write(dir, ".yaml", "img: quay.io/d\n"); /* OMPS: name.lower().endswith('.yaml') */
    const omps_replace_rule r[] = {{"quay.io", "r.example.com", false}};
    omps_org_settings org = ORG_REPLACE(r);
    char err[256] = "";
    cr_assert_eq(omps_replace_registries_dir(dir, &org, err, sizeof err), QS_OK, "%s", err);
    const char *files[][2] = {{"a.yaml", "img: r.example.com/a\n"},
                              {"sub/deeper/B.YML", "img: r.example.com/b\n"},
                              {"notes.txt", "img: quay.io/c\n"},
                              {".yaml", "img: r.example.com/d\n"}};
    for (size_t i = 0; i < QS_ARRAY_LEN(files); i++) {
        char *s = fx_read(dir, files[i][0]);
        cr_expect_str_eq(s, files[i][1], "%s", files[i][0]);
        free(s);
    }
    fx_rmtree(dir);
}

/* ---- annotations ---- */

Test(omps_annotations, python_format_rules) {
    static const struct {
        const char *tmpl, *want;
    } ok[] = {
        {"{package_name}", "etcd-suffix"},
        {"prefix-{package_name}-x", "prefix-etcd-suffix-x"},
        {"{{literal}} {package_name!s}", "{literal} etcd-suffix"},
        {"{package_name!r}", "'etcd-suffix'"},
        {"no fields", "no fields"},
    };
    for (size_t i = 0; i < QS_ARRAY_LEN(ok); i++) {
        char *out = NULL;
        cr_assert_eq(omps_format_annotation(ok[i].tmpl, "etcd-suffix", &out, NULL, 0), QS_OK);
        cr_expect_str_eq(out, ok[i].want);
        free(out);
    }
    static const struct {
        const char *tmpl, *err;
    } bad[] = {
        {"{other}", "KeyError: 'other'"},
        {"{}", "Replacement index 0 out of range for positional args tuple"},
        {"a } b", "Single '}' encountered in format string"},
        {"{package_name", "expected '}' before end of string"},
    };
    for (size_t i = 0; i < QS_ARRAY_LEN(bad); i++) {
        char *out = NULL, err[128] = "";
        cr_expect_eq(omps_format_annotation(bad[i].tmpl, "p", &out, err, sizeof err), QS_EINVAL);
        cr_expect_null(out);
        cr_expect_str_eq(err, bad[i].err);
    }
}

Test(omps_annotations, set_on_csv_documents_only) {
    const omps_csv_annotation a[] = {{"marketplace.openshift.io/package", "{package_name}"},
                                     {"existing", "new"}};
    omps_org_settings org = {NULL, 0, NULL, a, 2};
    json_t *csv = json_pack("{s:s,s:{s:{s:s,s:s}}}", "kind", "ClusterServiceVersion", "metadata",
                            "annotations", "existing", "old", "other", "kept");
    bool changed = false;
    cr_assert_eq(omps_csv_annotate(&org, csv, "etcd", &changed, NULL, 0), QS_OK);
    cr_expect(changed);
    json_t *want = json_pack("{s:s,s:s,s:s}", "existing", "new", "other", "kept",
                             "marketplace.openshift.io/package", "etcd");
    cr_expect(json_equal(json_object_get(json_object_get(csv, "metadata"), "annotations"), want));
    json_decref(want);
    json_decref(csv);
    /* metadata and annotations are created when absent */
    json_t *bare = json_pack("{s:s}", "kind", "ClusterServiceVersion");
    cr_assert_eq(omps_csv_annotate(&org, bare, "etcd", &changed, NULL, 0), QS_OK);
    cr_expect_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(bare, "metadata"), "annotations"),
                         "marketplace.openshift.io/package")),
                     "etcd");
    json_decref(bare);
    json_t *crd = json_pack("{s:s}", "kind", "CustomResourceDefinition");
    cr_assert_eq(omps_csv_annotate(&org, crd, "etcd", &changed, NULL, 0), QS_OK);
    cr_expect_not(changed);
    cr_expect_eq(json_object_size(crd), 1);
    json_decref(crd);
    /* OMPS answered 500 for these: contents.get on None, annotations None */
    json_t *null_doc = json_null();
    cr_expect_eq(omps_csv_annotate(&org, null_doc, "etcd", &changed, NULL, 0), QS_EINVAL);
    json_t *null_ann =
        json_pack("{s:s,s:{s:n}}", "kind", "ClusterServiceVersion", "metadata", "annotations");
    cr_expect_eq(omps_csv_annotate(&org, null_ann, "etcd", &changed, NULL, 0), QS_EINVAL);
    json_decref(null_ann);
}

Test(omps_annotations, directory_rewrites_csvs_and_keeps_the_rest) {
    char *dir = fx_nested();
    const omps_csv_annotation a[] = {{"marketplace.openshift.io/package", "{package_name}"}};
    omps_org_settings org = {NULL, 0, NULL, a, 1};
    char *crd_before = fx_read(dir, "0.6.1/etcdcluster.crd.yaml");
    char err[256] = "";
    cr_assert_eq(omps_csv_annotations_dir(dir, &org, "etcd", err, sizeof err), QS_OK, "%s", err);
    char *crd_after = fx_read(dir, "0.6.1/etcdcluster.crd.yaml");
    cr_expect_str_eq(crd_after, crd_before);
    free(crd_before);
    free(crd_after);
    const char *csvs[] = {"0.6.1/etcdoperator.clusterserviceversion.yaml",
                          "0.9.2/etcdoperator.v0.9.2.clusterserviceversion.yaml"};
    for (size_t i = 0; i < 2; i++) {
        char path[4096];
        json_t *doc = NULL;
        snprintf(path, sizeof path, "%s/%s", dir, csvs[i]);
        cr_assert_eq(qs_yaml_load_file(path, &doc, err, sizeof err), QS_OK, "%s", err);
        cr_expect_str_eq(json_string_value(json_object_get(
                             json_object_get(json_object_get(doc, "metadata"), "annotations"),
                             "marketplace.openshift.io/package")),
                         "etcd");
        /* the rest of the document survives, in its order */
        cr_expect_str_eq(json_string_value(json_object_get(doc, "apiVersion")),
                         "operators.coreos.com/v1alpha1");
        cr_expect_str_eq(json_object_iter_key(json_object_iter(doc)), "apiVersion");
        json_decref(doc);
    }
    fx_write(dir, "broken.yaml", "a: [\n");
    cr_expect_eq(omps_csv_annotations_dir(dir, &org, "etcd", err, sizeof err), QS_EINVAL);
    cr_expect(strstr(err, "broken.yaml") != NULL, "%s", err);
    fx_rmtree(dir);
}

/* ---- package name ---- */

Test(omps_package, first_top_level_file_with_package_name) {
    char *dir = fx_tmpdir(), *name = NULL, err[256] = "";
    fx_write(dir, "a.yaml", "kind: Other\n");  /* a mapping without it: skipped */
    fx_write(dir, "b.yml", "just a string\n"); /* a string without it: skipped */
    fx_write(dir, "c.yaml", "packageName: first\nchannels: []\n");
    fx_write(dir, "d.yaml", "packageName: second\n");
    fx_write(dir, "0/e.yaml", "packageName: nested\n");
    cr_assert_eq(omps_package_name(dir, NULL, &name, err, sizeof err), QS_OK, "%s", err);
    cr_expect_str_eq(name, "first");
    free(name);
    fx_rmtree(dir);
}

Test(omps_package, suffix_is_written_back_keeping_the_file) {
    char *dir = fx_nested(), *name = NULL, err[256] = "";
    cr_assert_eq(omps_package_name(dir, "-suffix", &name, err, sizeof err), QS_OK, "%s", err);
    cr_expect_str_eq(name, "etcd-suffix");
    char *text = fx_read(dir, "etcd.package.yaml");
    cr_expect_str_eq(text, "#! package-manifest: ./deploy/chart/catalog_resources/rh-operators/"
                           "etcd.package.yaml\npackageName: etcd-suffix\nchannels:\n- name: alpha\n"
                           "  currentCSV: etcdoperator.v0.9.2\n");
    free(text);
    free(name);
    /* already suffixed: nothing changes */
    cr_assert_eq(omps_package_name(dir, "-suffix", &name, err, sizeof err), QS_OK);
    cr_expect_str_eq(name, "etcd-suffix");
    free(name);
    fx_rmtree(dir);
}

Test(omps_package, suffix_rewrite_quotes_when_needed) {
    char *dir = fx_tmpdir(), *name = NULL, err[256] = "";
    fx_write(dir, "p.yaml", "# c\nchannels: []\npackageName: 'op'   # trailing\n");
    cr_assert_eq(omps_package_name(dir, " x", &name, err, sizeof err), QS_OK, "%s", err);
    cr_expect_str_eq(name, "op x");
    char *text = fx_read(dir, "p.yaml");
    cr_expect_str_eq(text, "# c\nchannels: []\npackageName: \"op x\"   # trailing\n");
    free(text);
    free(name);
    fx_write(dir, "p.yaml", "packageName: \xc3\xa9t\xc3\xa9\nchannels: []\n");
    cr_assert_eq(omps_package_name(dir, "-s", &name, err, sizeof err), QS_OK, "%s", err);
    text = fx_read(dir, "p.yaml");
    cr_expect_str_eq(text, "packageName: \"\xc3\xa9t\xc3\xa9-s\"\nchannels: []\n");
    free(text);
    free(name);
    fx_rmtree(dir);
}

Test(omps_package, omps_messages) {
    static const struct {
        const char *file, *text, *message;
    } cases[] = {
        {"a.yaml", "key: [\n", "Failed to process yaml file /a.yaml"},
        {"a.yaml", "", "Failed to process yaml file /a.yaml"},     /* None */
        {"a.yaml", "42\n", "Failed to process yaml file /a.yaml"}, /* int */
        {"a.yaml", "a: 1\n---\nb: 2\n", "Failed to process yaml file /a.yaml"},
        {"a.yaml", "- packageName\n", "Failed to process yaml file /a.yaml"},
        {"a.yml", "packageName: [x]\n", "Failed to process yaml file /a.yml"},
        {"a.txt", "packageName: x\n", "Could not find packageName in manifests."},
        {"a.YAML", "packageName: x\n", "Could not find packageName in manifests."},
    };
    for (size_t i = 0; i < QS_ARRAY_LEN(cases); i++) {
        char *dir = fx_tmpdir(), *name = NULL, err[256] = "";
        fx_write(dir, cases[i].file, cases[i].text);
        fx_write(dir, "z.yaml", "packageName: later\n"); /* a failure is fatal even so */
        if (strstr(cases[i].message, "Could not"))
            fx_write(dir, "z.yaml", "kind: x\n");
        cr_expect_eq(omps_package_name(dir, "-s", &name, err, sizeof err), QS_EINVAL, "%zu", i);
        cr_expect_null(name);
        cr_expect_str_eq(err, cases[i].message, "case %zu", i);
        fx_rmtree(dir);
    }
}

Test(omps_package, apply_suffix) {
    char *s = omps_apply_suffix("etcd", "-suffix");
    cr_expect_str_eq(s, "etcd-suffix");
    free(s);
    s = omps_apply_suffix("etcd-suffix", "-suffix");
    cr_expect_str_eq(s, "etcd-suffix");
    free(s);
    s = omps_apply_suffix("etcd", NULL);
    cr_expect_str_eq(s, "etcd");
    free(s);
}

/* ---- YAML emitter rules ---- */

Test(omps_yaml_emit, strings_that_read_as_other_types_are_quoted) {
    static const char *const typed[] = {"true",
                                        "No",
                                        "off",
                                        "1",
                                        "0x1F",
                                        "017",
                                        "1_000",
                                        "1.5",
                                        ".5",
                                        "1.",
                                        "-.inf",
                                        ".NaN",
                                        "~",
                                        "null",
                                        "",
                                        "<<",
                                        "=",
                                        "2019-01-01",
                                        "2019-01-01T00:00:00Z",
                                        "1:20"};
    for (size_t i = 0; i < QS_ARRAY_LEN(typed); i++)
        cr_expect_not(omps_yaml_plain_is_str(typed[i], false), "%s", typed[i]);
    static const char *const plain[] = {"yes please", "v1", "1.0.0",        "0.0.1", "etcd",
                                        "1e5",        "y",  "quay.io/a:v1", "0o17"};
    for (size_t i = 0; i < QS_ARRAY_LEN(plain); i++)
        cr_expect(omps_yaml_plain_is_str(plain[i], false), "%s", plain[i]);
    cr_expect_not(omps_yaml_plain_is_str("1e5", true)); /* a float for YAML 1.2 readers */
    cr_expect_not(omps_yaml_plain_is_str("0o17", true));
}

Test(omps_yaml_emit, python_float_repr) {
    static const struct {
        double d;
        const char *s;
    } cases[] = {
        {1.0, "1.0"},        {0.1, "0.1"},         {1e16, "1.0e+16"},
        {1.5e-5, "1.5e-05"}, {123.456, "123.456"}, {-2.0, "-2.0"},
        {0.0001, "0.0001"},  {1e22, "1.0e+22"},    {1234567890123456.0, "1234567890123456.0"}};
    for (size_t i = 0; i < QS_ARRAY_LEN(cases); i++) {
        char buf[64];
        omps_yaml_float_repr(cases[i].d, buf, sizeof buf);
        cr_expect_str_eq(buf, cases[i].s);
    }
}

Test(omps_yaml_emit, pyyaml_block_style) {
    json_t *doc = json_loads("{\"b\": [{\"y\": 1, \"x\": \"true\"}], \"a\": {}, \"c\": [],"
                             " \"d\": null, \"e\": 1.0, \"f\": \"multi\\nline\"}",
                             0, NULL);
    qs_buf b = QS_BUF_INIT;
    omps_yaml_emit_opts o = OMPS_YAML_EMIT_PYYAML;
    cr_assert_eq(omps_yaml_emit(doc, &o, &b, NULL, 0), QS_OK);
    cr_expect_str_eq(qs_buf_str(&b), "a: {}\nb:\n- x: 'true'\n  y: 1\nc: []\nd: null\ne: 1.0\n"
                                     "f: 'multi\n\n  line'\n");
    qs_buf_free(&b);
    json_decref(doc);
}
