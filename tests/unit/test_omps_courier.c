/* test_omps_courier.c — operator-courier's directory reading and validation rules.
 *
 * Every rule of reference/omps.md §B.4 gets its own fixture: the valid flat layout of §F.1
 * with one change (a key deleted or a value replaced), written into a temporary directory,
 * loaded with omps_manifests_load and validated; the exact courier message must appear among
 * the errors (the bundle fails) or the warnings (it does not). Then the layout rules of §B.1
 * (flat, nested, the refusals with their messages), nested validation (messages per version
 * folder, no currentCSV check), the repository check and the cases where courier itself
 * would have crashed. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "omps/courier.h"
#include "omps/manifests.h"
#include "omps/yaml_emit.h"
#include "omps_fixture.h"
#include "shared/common.h"
#include "shared/config.h"

#define DEL NULL /* a patch value: delete the key */

typedef struct {
    const char *file; /* "crd.yml", "csv.yaml" or "packages.yaml" */
    const char *path; /* dotted path; numbers index lists */
    const char *json; /* new value as JSON, or DEL */
} patch;

typedef struct {
    const char *what;
    patch p[3];
    const char *message;
    bool warning; /* expected among the warnings (and the bundle still valid) */
} rule_case;

static const rule_case rules[] = {
    /* CRDs */
    {"crd metadata", {{"crd.yml", "metadata", DEL}}, "crd metadata not defined.", false},
    {"crd metadata.name",
     {{"crd.yml", "metadata.name", DEL}},
     "crd metadata.name not defined.",
     false},
    {"crd apiVersion", {{"crd.yml", "apiVersion", DEL}}, "crd apiVersion not defined.", false},
    {"crd spec", {{"crd.yml", "spec", DEL}}, "crd spec not defined.", false},
    {"crd spec.names", {{"crd.yml", "spec.names", DEL}}, "crd spec.names not defined.", false},
    {"crd spec.names.kind",
     {{"crd.yml", "spec.names.kind", DEL}},
     "crd spec.names.kind not defined.",
     false},
    {"crd spec.names.plural",
     {{"crd.yml", "spec.names.plural", DEL}},
     "crd spec.names.plural not defined.",
     false},
    {"crd spec.group", {{"crd.yml", "spec.group", DEL}}, "crd spec.group not defined.", false},
    {"crd no version(s)",
     {{"crd.yml", "spec.version", DEL}, {"crd.yml", "spec.versions", DEL}},
     "crd spec.version or spec.versions not defined.",
     false},
    {"crd versions empty",
     {{"crd.yml", "spec.versions", "[]"}},
     "crd spec.versions is empty.",
     false},
    {"crd version entry",
     {{"crd.yml", "spec.versions", "[{\"name\":\"v1\",\"storage\":true}]"}},
     "crd spec.versions contains an invalid CustomResourceDefinitionVersion.",
     false},
    {"crd two storage versions",
     {{"crd.yml", "spec.versions",
       "[{\"name\":\"v1\",\"served\":true,\"storage\":true},"
       "{\"name\":\"v2\",\"served\":true,\"storage\":true}]"}},
     "crd spec.version should contain exactly one version flagged as storage version.",
     false},
    {"crd storage must be the boolean true",
     {{"crd.yml", "spec.versions", "[{\"name\":\"v1\",\"served\":true,\"storage\":\"true\"}]"}},
     "crd spec.version should contain exactly one version flagged as storage version.",
     false},
    {"crd version list vs versions[0] (courier indexes spec.version)",
     {{"crd.yml", "spec.version", "[{\"name\":\"v1\"}]"}},
     "crd spec.version and spec.versions are defined but spec.versions[0].name doesn't match "
     "spec.version.",
     false},
    /* CSV: required */
    {"csv metadata", {{"csv.yaml", "metadata", DEL}}, "csv metadata not defined.", false},
    {"csv metadata.name",
     {{"csv.yaml", "metadata.name", DEL}},
     "csv metadata.name not defined.",
     false},
    {"csv apiVersion", {{"csv.yaml", "apiVersion", DEL}}, "csv apiVersion not defined.", false},
    {"csv spec", {{"csv.yaml", "spec", DEL}}, "csv spec not defined.", false},
    /* CSV: warnings */
    {"annotation categories",
     {{"csv.yaml", "metadata.annotations.categories", DEL}},
     "csv metadata.annotations.categories not defined",
     true},
    {"annotation description",
     {{"csv.yaml", "metadata.annotations.description", DEL}},
     "csv metadata.annotations.description not defined",
     true},
    {"annotation containerImage",
     {{"csv.yaml", "metadata.annotations.containerImage", DEL}},
     "csv metadata.annotations.containerImage not defined",
     true},
    {"annotation createdAt",
     {{"csv.yaml", "metadata.annotations.createdAt", DEL}},
     "csv metadata.annotations.createdAt not defined",
     true},
    {"annotation support",
     {{"csv.yaml", "metadata.annotations.support", DEL}},
     "csv metadata.annotations.support not defined",
     true},
    {"annotation certified",
     {{"csv.yaml", "metadata.annotations.certified", DEL}},
     "csv metadata.annotations.certified not defined.",
     true},
    {"annotations",
     {{"csv.yaml", "metadata.annotations", DEL}},
     "csv metadata.annotations not defined.",
     true},
    {"spec.displayName",
     {{"csv.yaml", "spec.displayName", DEL}},
     "csv spec.displayName not defined",
     true},
    {"spec.description",
     {{"csv.yaml", "spec.description", DEL}},
     "csv spec.description not defined",
     true},
    {"spec.icon", {{"csv.yaml", "spec.icon", DEL}}, "csv spec.icon not defined", true},
    {"spec.version", {{"csv.yaml", "spec.version", DEL}}, "csv spec.version not defined", true},
    {"spec.provider", {{"csv.yaml", "spec.provider", DEL}}, "csv spec.provider not defined", true},
    {"spec.maturity", {{"csv.yaml", "spec.maturity", DEL}}, "csv spec.maturity not defined", true},
    /* CSV: errors */
    {"certified bool",
     {{"csv.yaml", "metadata.annotations.certified", "false"}},
     "metadata.annotations.certified is not of typestring",
     false},
    {"alm-examples json",
     {{"csv.yaml", "metadata.annotations.alm-examples", "\"[{oops\""}},
     "metadata.annotations.alm-examples contains invalid json string",
     false},
    {"alm-examples not a string",
     {{"csv.yaml", "metadata.annotations.alm-examples", "[]"}},
     "metadata.annotations.alm-examples contains invalid json string",
     false},
    {"installModes",
     {{"csv.yaml", "spec.installModes", DEL}},
     "csv spec.installModes not defined",
     false},
    {"install", {{"csv.yaml", "spec.install", DEL}}, "csv spec.install not defined", false},
    {"install.strategy",
     {{"csv.yaml", "spec.install.strategy", DEL}},
     "csv spec.install.strategy not defined",
     false},
    {"install.strategy value",
     {{"csv.yaml", "spec.install.strategy", "\"helm\""}},
     "csv spec.install.strategy must be one of ['deployment']",
     false},
    {"install.spec",
     {{"csv.yaml", "spec.install.spec", DEL}},
     "csv spec.install.spec not defined",
     false},
    {"deployments",
     {{"csv.yaml", "spec.install.spec.deployments", DEL}},
     "csv spec.install.spec.deployments not defined",
     false},
    {"deployments list",
     {{"csv.yaml", "spec.install.spec.deployments", "{}"}},
     "csv spec.install.spec.deployments should be a list",
     false},
    {"permissions list",
     {{"csv.yaml", "spec.install.spec.permissions", "{}"}},
     "csv spec.install.spec.permissions should be a list",
     false},
    {"clusterPermissions list",
     {{"csv.yaml", "spec.install.spec.clusterPermissions", "\"x\""}},
     "csv spec.install.spec.clusterPermissions should be a list",
     false},
    /* CSV: owned CRDs */
    {"owned missing (2.1.10)",
     {{"csv.yaml", "spec.customresourcedefinitions.owned", DEL}},
     "spec.customresourcedefinitions.ownednot defined for csv",
     false},
    {"owned name",
     {{"csv.yaml", "spec.customresourcedefinitions.owned.0.name", DEL}},
     "name not defined for item in spec.customresourcedefinitions.",
     false},
    {"owned unknown crd",
     {{"csv.yaml", "spec.customresourcedefinitions.owned.0.name", "\"other.example.com\""}},
     "custom resource definition other.example.com referenced in csv not defined in root list of "
     "crds",
     false},
    {"owned kind",
     {{"csv.yaml", "spec.customresourcedefinitions.owned.0.kind", DEL}},
     "kind not defined for item in spec.customresourcedefinitions.",
     false},
    {"owned version",
     {{"csv.yaml", "spec.customresourcedefinitions.owned.0.version", DEL}},
     "version not defined for item in spec.customresourcedefinitions.",
     false},
    {"owned kind mismatch",
     {{"csv.yaml", "spec.customresourcedefinitions.owned.0.kind", "\"Other\""}},
     "CRD.spec.names.kind does not match CSV.spec.crd.owned.kind",
     false},
    {"owned version not in versions",
     {{"csv.yaml", "spec.customresourcedefinitions.owned.0.version", "\"v2\""},
      {"crd.yml", "spec.version", DEL}},
     "CSV.spec.crd.owned.version is not in CRD.spec.versions list",
     false},
    {"owned version vs legacy spec.version",
     {{"csv.yaml", "spec.customresourcedefinitions.owned.0.version", "\"v2\""},
      {"crd.yml", "spec.versions", DEL}},
     "CRD.spec.version does not match CSV.spec.crd.owned.version",
     false},
    {"owned name vs plural.group",
     {{"crd.yml", "spec.group", "\"other.io\""}},
     "`CRD.spec.names.plural`.`CRD.spec.group` does not match CSV.spec.crd.owned.name",
     false},
    /* package */
    {"channels", {{"packages.yaml", "channels", DEL}}, "package channels not defined.", false},
    {"channels empty",
     {{"packages.yaml", "channels", "[]"}},
     "no package channels defined.",
     false},
    {"channel name",
     {{"packages.yaml", "channels.0.name", DEL}},
     "package channel.name not defined.",
     false},
    {"channel currentCSV",
     {{"packages.yaml", "channels.0.currentCSV", DEL}},
     "package channel.currentCSV not defined.",
     false},
    {"currentCSV not a csv",
     {{"packages.yaml", "channels.0.currentCSV", "\"other.v1\""}},
     "channel.currentCSV other.v1 is not included in list of csvs",
     false},
};

/* Apply one patch to doc (a dotted path; numeric parts index lists). */
static void apply_patch(json_t *doc, const patch *p) {
    char path[256];
    snprintf(path, sizeof path, "%s", p->path);
    json_t *node = doc;
    char *save = NULL, *part = strtok_r(path, ".", &save);
    for (char *next; (next = strtok_r(NULL, ".", &save)) != NULL; part = next)
        node = json_is_array(node) ? json_array_get(node, (size_t)atoi(part))
                                   : json_object_get(node, part);
    cr_assert_not_null(node, "patch path %s", p->path);
    json_t *v = p->json ? json_loads(p->json, JSON_DECODE_ANY, NULL) : NULL;
    cr_assert(p->json == NULL || v != NULL, "bad JSON %s", p->json);
    if (json_is_array(node))
        cr_assert_eq(v ? json_array_set_new(node, (size_t)atoi(part), v)
                       : json_array_remove(node, (size_t)atoi(part)),
                     0);
    else
        cr_assert_eq(v ? json_object_set_new(node, part, v) : json_object_del(node, part), 0,
                     "patch %s", p->path);
}

/* The flat fixture with patches applied, each touched file re-written as YAML. */
static char *patched_flat(const patch *ps, size_t n) {
    char *dir = fx_flat();
    for (size_t i = 0; i < n && ps[i].file; i++) {
        char path[4096], err[256];
        json_t *doc = NULL;
        snprintf(path, sizeof path, "%s/%s", dir, ps[i].file);
        cr_assert_eq(qs_yaml_load_file(path, &doc, err, sizeof err), QS_OK, "%s", err);
        apply_patch(doc, &ps[i]);
        qs_buf b = QS_BUF_INIT;
        omps_yaml_emit_opts o = OMPS_YAML_EMIT_PYYAML;
        cr_assert_eq(omps_yaml_emit(doc, &o, &b, err, sizeof err), QS_OK, "%s", err);
        fx_write(dir, ps[i].file, qs_buf_str(&b));
        qs_buf_free(&b);
        json_decref(doc);
    }
    return dir;
}

static bool has_message(const json_t *info, const char *list, const char *msg) {
    const json_t *a = json_object_get(info, list);
    for (size_t i = 0; i < json_array_size(a); i++)
        if (!strcmp(json_string_value(json_array_get(a, i)), msg))
            return true;
    return false;
}

/* Load and validate dir; returns the validation info (caller decrefs). */
static json_t *validate_dir(const char *dir, const omps_courier_opts *opts) {
    omps_manifests *m = NULL;
    char err[512] = "", bad[256];
    cr_assert_eq(omps_manifests_load(dir, &m, err, sizeof err, bad), QS_OK, "load: %s (%s)", err,
                 bad);
    json_t *info = NULL;
    cr_assert_eq(omps_courier_validate(m, opts, &info, err, sizeof err), QS_OK, "%s", err);
    omps_manifests_free(m);
    return info;
}

Test(omps_courier, valid_flat_has_no_messages) {
    char *dir = fx_flat();
    omps_courier_opts o = {"marketplace", false};
    json_t *info = validate_dir(dir, &o);
    char *s = json_dumps(info, 0);
    cr_expect_str_eq(s, "{\"errors\": [], \"warnings\": []}");
    cr_expect(omps_courier_valid(info));
    free(s);
    json_decref(info);
    fx_rmtree(dir);
}

Test(omps_courier, every_rule_with_its_message) {
    for (size_t i = 0; i < QS_ARRAY_LEN(rules); i++) {
        const rule_case *r = &rules[i];
        char *dir = patched_flat(r->p, QS_ARRAY_LEN(r->p));
        json_t *info = validate_dir(dir, NULL);
        char *dump = json_dumps(info, 0);
        cr_expect(has_message(info, r->warning ? "warnings" : "errors", r->message),
                  "%s: expected %s \"%s\" in %s", r->what, r->warning ? "warning" : "error",
                  r->message, dump);
        cr_expect_eq(omps_courier_valid(info), r->warning, "%s: valid should be %d: %s", r->what,
                     r->warning, dump);
        free(dump);
        json_decref(info);
        fx_rmtree(dir);
    }
}

Test(omps_courier, repository_must_equal_package_name) {
    char *dir = fx_flat();
    omps_courier_opts o = {"other", false};
    json_t *info = validate_dir(dir, &o);
    cr_expect(has_message(info, "errors",
                          "The packageName (marketplace) in bundle does not match repository name "
                          "(other) provided as command line argument."));
    json_decref(info);
    /* not checked when the package checks already failed (courier skips it) */
    patch p[] = {{"packages.yaml", "channels", "[]"}};
    dir = (fx_rmtree(dir), patched_flat(p, 1));
    info = validate_dir(dir, &o);
    cr_expect_eq(json_array_size(json_object_get(info, "errors")), 1);
    json_decref(info);
    fx_rmtree(dir);
}

Test(omps_courier, errors_keep_courier_order) {
    patch p[] = {{"csv.yaml", "spec.installModes", DEL},
                 {"crd.yml", "apiVersion", DEL},
                 {"packages.yaml", "channels.0.name", DEL}};
    char *dir = patched_flat(p, 3);
    json_t *info = validate_dir(dir, NULL);
    json_t *want =
        json_pack("[sss]", "crd apiVersion not defined.", "csv spec.installModes not defined",
                  "package channel.name not defined.");
    cr_expect(json_equal(json_object_get(info, "errors"), want));
    json_decref(want);
    json_decref(info);
    fx_rmtree(dir);
}

Test(omps_courier, bundle_level_rules) {
    json_t *info = json_pack("{s:[],s:[]}", "errors", "warnings");
    json_t *none = json_array();
    json_t *pkgs = json_pack("[{s:s,s:[{s:s,s:s}]},{s:s}]", "packageName", "a", "channels", "name",
                             "alpha", "currentCSV", "x", "packageName", "b");
    char err[128];
    cr_assert_eq(omps_courier_validate_bundle(none, none, none, false, NULL, info, err, sizeof err),
                 QS_OK);
    cr_expect(has_message(info, "errors", "Bundle does not contain any clusterServiceVersions."));
    cr_expect(has_message(info, "errors", "Bundle does not contain any packages."));
    cr_assert_eq(omps_courier_validate_bundle(none, none, pkgs, false, NULL, info, err, sizeof err),
                 QS_OK);
    cr_expect(
        has_message(info, "errors", "Only 1 package is expected to exist per bundle, but got 2."));
    json_decref(pkgs);
    json_decref(none);
    json_decref(info);
}

Test(omps_courier, courier_crashes_are_reported_not_validated) {
    static const struct {
        patch p;
        const char *python;
    } cases[] = {
        {{"packages.yaml", "channels", "5"}, "object of type 'int' has no len()"},
        {{"csv.yaml", "spec.customresourcedefinitions.owned", "null"},
         "'NoneType' object is not iterable"},
        {{"csv.yaml", "spec.customresourcedefinitions", "null"},
         "argument of type 'NoneType' is not iterable"},
        {{"csv.yaml", "metadata", "null"}, "argument of type 'NoneType' is not iterable"},
        /* "name" in "my name" holds, then courier logs metadata["name"] */
        {{"csv.yaml", "metadata", "\"my name\""}, "string indices must be integers"},
        {{"crd.yml", "spec.versions", "[\"storage\"]"}, "string indices must be integers"},
    };
    for (size_t i = 0; i < QS_ARRAY_LEN(cases); i++) {
        char *dir = patched_flat(&cases[i].p, 1);
        omps_manifests *m = NULL;
        json_t *info = NULL;
        char err[256] = "";
        cr_assert_eq(omps_manifests_load(dir, &m, err, sizeof err, NULL), QS_OK);
        cr_expect_eq(omps_courier_validate(m, NULL, &info, err, sizeof err), QS_EPROTO, "%s",
                     cases[i].p.path);
        cr_expect_null(info);
        cr_expect_str_eq(err, cases[i].python);
        omps_manifests_free(m);
        fx_rmtree(dir);
    }
}

Test(omps_courier, owned_optional_is_courier_2_1_11) {
    patch p[] = {{"csv.yaml", "spec.customresourcedefinitions.owned", "null"}};
    omps_courier_opts o = {NULL, true};
    char *dir = patched_flat(p, 1);
    json_t *info = validate_dir(dir, &o);
    cr_expect(omps_courier_valid(info));
    json_decref(info);
    fx_rmtree(dir);
    patch q[] = {{"csv.yaml", "spec.customresourcedefinitions.owned", DEL}};
    dir = patched_flat(q, 1);
    info = validate_dir(dir, &o);
    cr_expect(omps_courier_valid(info));
    json_decref(info);
    fx_rmtree(dir);
}

Test(omps_courier, python_semantics_of_in_on_strings) {
    /* `"kind" in names` is a substring test when names is a string */
    patch p[] = {{"crd.yml", "spec.names", "\"kind only\""},
                 {"csv.yaml", "spec.customresourcedefinitions", DEL}};
    char *dir = patched_flat(p, 2);
    json_t *info = validate_dir(dir, NULL);
    cr_expect_not(has_message(info, "errors", "crd spec.names.kind not defined."));
    cr_expect(has_message(info, "errors", "crd spec.names.plural not defined."));
    json_decref(info);
    fx_rmtree(dir);
}

/* ---- directory layouts (§B.1) ---- */

Test(omps_courier, nested_layout_bundles_per_version_folder) {
    char *dir = fx_nested();
    fx_write(dir, "notes/readme.yaml", "just: text\n"); /* a folder without CSV: ignored */
    fx_write(dir, "0.9.2/deeper/x.clusterserviceversion.yaml", "kind: ClusterServiceVersion\n");
    omps_manifests *m = NULL;
    char err[256];
    cr_assert_eq(omps_manifests_load(dir, &m, err, sizeof err, NULL), QS_OK, "%s", err);
    cr_expect(m->nested);
    cr_assert_eq(m->n_bundles, 2);
    cr_expect_str_eq(m->bundles[0].dir, "0.6.1");
    cr_expect_str_eq(m->bundles[1].dir, "0.9.2");
    cr_expect_str_eq(m->package_file, "etcd.package.yaml");
    cr_expect_eq(json_array_size(m->bundles[0].crds), 1);
    cr_expect_eq(json_array_size(m->bundles[1].csvs), 1);
    json_t *info = NULL;
    omps_courier_opts o = {"etcd", false};
    cr_assert_eq(omps_courier_validate(m, &o, &info, err, sizeof err), QS_OK);
    /* currentCSV etcdoperator.v0.9.2 is not in 0.6.1, but nested bundles skip that check */
    cr_expect_eq(json_array_size(json_object_get(info, "errors")), 0);
    cr_expect(has_message(info, "warnings", "csv metadata.annotations not defined."));
    cr_expect_eq(json_array_size(json_object_get(info, "warnings")), 2 * 7); /* per version */
    json_decref(info);
    omps_manifests_free(m);
    fx_rmtree(dir);
}

Test(omps_courier, nested_messages_are_concatenated_per_version) {
    char *dir = fx_nested();
    fx_write(dir, "etcd.package.yaml", "packageName: etcd\nchannels:\n- currentCSV: x\n");
    json_t *info = validate_dir(dir, NULL);
    json_t *want =
        json_pack("[ss]", "package channel.name not defined.", "package channel.name not defined.");
    cr_expect(json_equal(json_object_get(info, "errors"), want));
    json_decref(want);
    json_decref(info);
    fx_rmtree(dir);
}

Test(omps_courier, flat_layout_ignores_folders_without_csv) {
    char *dir = fx_flat();
    fx_write(dir, "extra/crd.yaml", FX_CRD);
    fx_write(dir, "extra/notes.txt", "not yaml: [");
    omps_manifests *m = NULL;
    char err[256];
    cr_assert_eq(omps_manifests_load(dir, &m, err, sizeof err, NULL), QS_OK, "%s", err);
    cr_expect_not(m->nested);
    cr_assert_eq(m->n_bundles, 1);
    cr_expect_str_eq(m->bundles[0].dir, "");
    cr_expect_eq(json_array_size(m->bundles[0].crds), 1);
    cr_expect_eq(json_array_size(m->bundles[0].csvs), 1);
    cr_expect_eq(json_array_size(m->bundles[0].packages), 1);
    omps_manifests_free(m);
    fx_rmtree(dir);
}

Test(omps_courier, layout_refusals_with_courier_messages) {
    static const struct {
        const char *file, *text; /* added to (or replacing in) the flat fixture */
        const char *remove;      /* a fixture file removed first, or NULL */
        const char *message, *bad_file;
    } cases[] = {
        {"a.yaml", "key: [unclosed\n", NULL, "Courier requires valid input YAML files", "a.yaml"},
        {"multi.yml", "a: 1\n---\nb: 2\n", NULL, "Courier requires valid input YAML files",
         "multi.yml"},
        {"sub/bad.yaml", "{{{\n", NULL, "Courier requires valid input YAML files", "sub/bad.yaml"},
        {"z.package.yaml", "packageName: second\n", NULL,
         "Only 1 package is expected to exist in source root folder.", "z.package.yaml"},
        {"readme.md", "hello", "packages.yaml", "Bundle does not contain any packages.", ""},
        {"readme.md", "hello", "csv.yaml",
         "The source directory structure is not in valid flat or nested format,because no valid "
         "CSV file is found in root or manifest directories.",
         ""},
    };
    for (size_t i = 0; i < QS_ARRAY_LEN(cases); i++) {
        char *dir = fx_flat(), path[4096], err[512] = "", bad[256] = "x";
        if (cases[i].remove) {
            snprintf(path, sizeof path, "%s/%s", dir, cases[i].remove);
            cr_assert_eq(unlink(path), 0);
        }
        fx_write(dir, cases[i].file, cases[i].text);
        omps_manifests *m = NULL;
        cr_expect_eq(omps_manifests_load(dir, &m, err, sizeof err, bad), QS_EINVAL, "%s",
                     cases[i].file);
        cr_expect_null(m);
        cr_expect_str_eq(err, cases[i].message);
        cr_expect_str_eq(bad, cases[i].bad_file);
        fx_rmtree(dir);
    }
}

Test(omps_courier, wrapping_directory_has_no_package) {
    char *dir = fx_tmpdir();
    fx_write(dir, "manifests/packages.yaml", FX_PKG);
    fx_write(dir, "manifests/csv.yaml", FX_CSV);
    omps_manifests *m = NULL;
    char err[256];
    cr_expect_eq(omps_manifests_load(dir, &m, err, sizeof err, NULL), QS_EINVAL);
    cr_expect_str_eq(err, "Bundle does not contain any packages.");
    fx_rmtree(dir);
}

Test(omps_courier, yaml_names_follow_splitext) {
    cr_expect(omps_is_yaml_name("a.yaml"));
    cr_expect(omps_is_yaml_name("a.yml"));
    cr_expect(omps_is_yaml_name(".hidden.yaml"));
    cr_expect_not(omps_is_yaml_name("a.YAML")); /* courier is case-sensitive */
    cr_expect_not(omps_is_yaml_name(".yaml"));
    cr_expect_not(omps_is_yaml_name("a.yaml.bak"));
    cr_expect_not(omps_is_yaml_name("yaml"));
}

Test(omps_courier, unknown_documents_are_ignored) {
    char *dir = fx_flat();
    fx_write(dir, "empty.yaml", "");
    fx_write(dir, "list.yaml", "- a\n- b\n");
    fx_write(dir, "cm.yaml", "kind: ConfigMap\nmetadata: {name: x}\n");
    json_t *info = validate_dir(dir, NULL);
    cr_expect(omps_courier_valid(info));
    json_decref(info);
    fx_rmtree(dir);
}
