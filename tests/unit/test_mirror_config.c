/* test_mirror_config.c — the mirror's `_config.yaml`: the real excerpt of reference/citools.md
 * §2.3, files plain and gzip-compressed, every validation error (one fixture each, and one
 * fixture with many at once), unknown keys at every level, Go-style case-insensitive field
 * names, the four ignoredSources rules, and the RE2 -> POSIX regex translation. Fixtures are
 * inline strings; file tests write them to temporary files. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "mirror/mirror_config.h"
#include "shared/common.h"
#include "shared/log.h"

/* The real excerpt of reference/citools.md §2.3 (comments included). */
static const char excerpt[] =
    "supplementalCIImages:                    # key = TARGET istag\n"
    "  openshift/boilerplate:image-v8.4.4:\n"
    "    image: quay.io/redhat-services-prod/openshift/boilerplate:image-v8.4.4\n"
    "  coreos/stream-coreos-base:9:           # OR an app.ci istag source\n"
    "    namespace: coreos\n"
    "    name: stream-coreos-base\n"
    "    tag: \"9\"\n"
    "qciToAppCIImages:                        # key = app.ci istag to backfill\n"
    "  ocp/4.22:cli: {}\n"
    "ignoredSources:\n"
    "- image: registry.fedoraproject.org/fedora:latest\n"
    "  reason: https://issues.redhat.com/browse/RFE-5363\n"
    "- image: registry.ci.openshift.org/ocp/builder:rhel-7-golang-1.13\n"
    "  reason: broken image\n"
    "artImages:\n"
    "- namespace: openshift\n"
    "  name: ^release$                        # regex on ImageStream name\n"
    "- namespace: ocp\n"
    "  name: ^\\d+\\.\\d+$\n"
    "  tag: ^rhel-coreos.*                    # optional regex on tag\n";

static void quiet(void) { qs_log_init("test", QS_LOG_ERROR); }

/* Parse `yaml` with default options; assert it loads. */
static mirror_config *load_ok(const char *yaml) {
    qs_conf *errs = qs_conf_new();
    mirror_config *cfg = NULL;
    size_t n = mirror_config_parse(&cfg, yaml, strlen(yaml), NULL, errs);
    cr_assert_eq(n, 0, "%zu errors, first: %s", n, qs_conf_error_at(errs, 0));
    cr_assert_not_null(cfg);
    qs_conf_free(errs);
    return cfg;
}

/* Parse `yaml`; assert it is refused with exactly `want_n` errors (0: any number), one of them
 * containing `want`. */
static void load_bad(const char *yaml, size_t want_n, const char *want) {
    qs_conf *errs = qs_conf_new();
    mirror_config *cfg = (mirror_config *)1;
    size_t n = mirror_config_parse(&cfg, yaml, strlen(yaml), NULL, errs);
    cr_assert_null(cfg, "config returned despite errors for:\n%s", yaml);
    cr_assert_gt(n, 0, "accepted:\n%s", yaml);
    cr_assert_eq(n, qs_conf_error_count(errs));
    if (want_n)
        cr_expect_eq(n, want_n, "%zu errors (first: %s) for:\n%s", n, qs_conf_error_at(errs, 0),
                     yaml);
    bool found = false;
    for (size_t i = 0; i < n; i++)
        found = found || strstr(qs_conf_error_at(errs, i), want) != NULL;
    cr_expect(found, "no error contains \"%s\"; first: %s", want, qs_conf_error_at(errs, 0));
    qs_conf_free(errs);
}

Test(mirror_config, real_excerpt, .init = quiet) {
    mirror_config *cfg = load_ok(excerpt);
    char spec[512];

    cr_assert_eq(mirror_config_supplemental_count(cfg), 2);
    const mirror_entry *e = mirror_config_supplemental_at(cfg, 0); /* sorted by key */
    cr_expect_str_eq(e->key, "coreos/stream-coreos-base:9");
    cr_expect_str_eq(e->target.ns, "coreos");
    cr_expect_str_eq(e->target.name, "stream-coreos-base");
    cr_expect_str_eq(e->target.tag, "9");
    cr_expect_null(e->source.image);
    cr_expect_str_eq(e->source.ns, "coreos");
    cr_expect_str_eq(e->source.name, "stream-coreos-base");
    cr_expect_str_eq(e->source.tag, "9");
    cr_assert_eq(mirror_config_source_pull_spec(cfg, &e->source, spec, sizeof spec), 0);
    cr_expect_str_eq(spec, "registry.ci.openshift.org/coreos/stream-coreos-base:9");

    e = mirror_config_supplemental_at(cfg, 1);
    cr_expect_str_eq(e->key, "openshift/boilerplate:image-v8.4.4");
    cr_expect_str_eq(e->target.tag, "image-v8.4.4");
    cr_expect_str_eq(e->source.image,
                     "quay.io/redhat-services-prod/openshift/boilerplate:image-v8.4.4");
    cr_expect_null(e->source.ns);
    cr_assert_eq(mirror_config_source_pull_spec(cfg, &e->source, spec, sizeof spec), 0);
    cr_expect_str_eq(spec, e->source.image);
    cr_expect_eq(mirror_config_source_pull_spec(cfg, &e->source, spec, 10), QS_ETOOBIG);
    cr_expect_null(mirror_config_supplemental_at(cfg, 2));

    cr_assert_eq(mirror_config_qci_count(cfg), 1);
    e = mirror_config_qci_at(cfg, 0);
    cr_expect_str_eq(e->key, "ocp/4.22:cli");
    cr_expect_str_eq(e->source.image, "quay-proxy.ci.openshift.org/openshift/ci:ocp_4.22_cli");
    cr_expect_null(mirror_config_qci_at(cfg, 1));

    cr_assert_eq(mirror_config_ignored_count(cfg), 2);
    const mirror_ignored *ig = mirror_config_ignored_at(cfg, 1);
    cr_expect_str_eq(ig->source.image, "registry.ci.openshift.org/ocp/builder:rhel-7-golang-1.13");
    cr_expect_str_eq(ig->reason, "broken image");
    cr_expect_null(mirror_config_ignored_at(cfg, 2));

    cr_assert_eq(mirror_config_art_count(cfg), 2);
    const mirror_art_rule *r = mirror_config_art_at(cfg, 0);
    cr_expect_str_eq(r->ns, "openshift");
    cr_expect_null(r->tag);
    cr_expect(mirror_art_match(r, "release", "anything"));
    cr_expect_not(mirror_art_match(r, "release-4", NULL));
    r = mirror_config_art_at(cfg, 1);
    cr_expect_str_eq(r->ns, "ocp");
    cr_expect_str_eq(mirror_regex_pattern(r->name), "^\\d+\\.\\d+$");
    cr_expect_str_eq(mirror_regex_posix(r->name), "^[0-9]+\\.[0-9]+$");
    cr_expect(mirror_art_match(r, "4.22", NULL));
    cr_expect(mirror_art_match(r, "4.22", "rhel-coreos-9"));
    cr_expect_not(mirror_art_match(r, "4.22", "cli"));
    cr_expect_not(mirror_art_match(r, "4.x", NULL));
    cr_expect_not(mirror_art_match(r, "v4.22", NULL));
    cr_expect_null(mirror_config_art_at(cfg, 2));
    mirror_config_free(cfg);
}

static char *write_temp(const void *data, size_t len) {
    char *path = strdup("/tmp/mirror_config_XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

static unsigned char *gzip_text(const char *text, size_t *outlen) {
    z_stream z;
    memset(&z, 0, sizeof z);
    cr_assert_eq(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, strlen(text)) + 64;
    unsigned char *out = malloc(cap);
    z.next_in = (unsigned char *)text;
    z.avail_in = (uInt)strlen(text);
    z.next_out = out;
    z.avail_out = (uInt)cap;
    cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    *outlen = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

Test(mirror_config, files_plain_and_gzip, .init = quiet) {
    size_t gzlen = 0;
    unsigned char *gz = gzip_text(excerpt, &gzlen);
    char *paths[2] = {write_temp(excerpt, strlen(excerpt)), write_temp(gz, gzlen)};
    for (int i = 0; i < 2; i++) {
        qs_conf *errs = qs_conf_new();
        mirror_config *cfg = NULL;
        cr_assert_eq(mirror_config_load(&cfg, paths[i], NULL, errs), 0, "%s: %s", paths[i],
                     qs_conf_error_at(errs, 0));
        cr_expect_eq(mirror_config_supplemental_count(cfg), 2);
        cr_expect_eq(mirror_config_qci_count(cfg), 1);
        cr_expect_eq(mirror_config_art_count(cfg), 2);
        mirror_config_free(cfg);
        qs_conf_free(errs);
        unlink(paths[i]);
        free(paths[i]);
    }
    free(gz);

    /* a missing file, and a file with a YAML error, name the file */
    qs_conf *errs = qs_conf_new();
    mirror_config *cfg = (mirror_config *)1;
    cr_expect_eq(mirror_config_load(&cfg, "/nonexistent/_config.yaml", NULL, errs), 1);
    cr_expect_null(cfg);
    cr_expect(strstr(qs_conf_error_at(errs, 0), "/nonexistent/_config.yaml"));
    char *bad = write_temp("a: [1\n", 6);
    cr_expect_eq(mirror_config_load(&cfg, bad, NULL, errs), 1);
    cr_expect(strstr(qs_conf_error_at(errs, 1), bad), "%s", qs_conf_error_at(errs, 1));
    cr_expect(strstr(qs_conf_error_at(errs, 1), "line"), "%s", qs_conf_error_at(errs, 1));
    unlink(bad);
    free(bad);
    qs_conf_free(errs);
}

Test(mirror_config, empty_and_null_sections, .init = quiet) {
    static const char *const empties[] = {"", "# only a comment\n",
                                          "supplementalCIImages:\nqciToAppCIImages:\n"
                                          "ignoredSources:\nartImages:\n",
                                          "supplementalCIImages: {}\nignoredSources: []\n"};
    for (size_t i = 0; i < QS_ARRAY_LEN(empties); i++) {
        mirror_config *cfg = load_ok(empties[i]);
        cr_expect_eq(mirror_config_supplemental_count(cfg), 0);
        cr_expect_eq(mirror_config_qci_count(cfg), 0);
        cr_expect_eq(mirror_config_ignored_count(cfg), 0);
        cr_expect_eq(mirror_config_art_count(cfg), 0);
        mirror_config_free(cfg);
    }
}

/* One fixture per validation error: the YAML and a piece of its one message. */
static const struct {
    const char *yaml;
    const char *want;
} one_error[] = {
    /* supplementalCIImages keys (validateTargetISTag) */
    {"supplementalCIImages:\n  a:b: {image: x.io/y}\n",
     "supplementalCIImages: invalid target: a:b"},
    {"supplementalCIImages:\n  a/b: {image: x.io/y}\n",
     "supplementalCIImages: invalid target: a/b"},
    {"supplementalCIImages:\n  /b:c: {image: x.io/y}\n", "invalid target: /b:c"},
    {"supplementalCIImages:\n  a/:c: {image: x.io/y}\n", "invalid target: a/:c"},
    {"supplementalCIImages:\n  'a/b:': {image: x.io/y}\n", "invalid target: a/b:"},
    {"supplementalCIImages:\n  a/b/c:d: {image: x.io/y}\n", "invalid target: a/b/c:d"},
    {"supplementalCIImages:\n  a/b:c:d: {image: x.io/y}\n", "invalid target: a/b:c:d"},
    {"supplementalCIImages:\n  ns/na+me:t: {image: x.io/y}\n",
     "supplementalCIImages[ns/na+me:t]: ns_na+me_t is not a valid tag"},
    /* validateSource */
    {"supplementalCIImages:\n  a/b:c: {image: x.io/y, as: z}\n",
     "supplementalCIImages[a/b:c]: as cannot be set"},
    {"supplementalCIImages:\n  a/b:c: {name: n, tag: t}\n",
     "supplementalCIImages[a/b:c]: namespace for the source must be set"},
    {"supplementalCIImages:\n  a/b:c: {namespace: n, tag: t}\n",
     "supplementalCIImages[a/b:c]: name for the source must be set"},
    {"supplementalCIImages:\n  a/b:c: {namespace: n, name: m}\n",
     "supplementalCIImages[a/b:c]: tag for the source must be set"},
    {"supplementalCIImages:\n  a/b:c: {namespace: n, name: m, tag: ''}\n",
     "tag for the source must be set"},
    /* qciToAppCIImages */
    {"qciToAppCIImages:\n  nope: {}\n", "qciToAppCIImages: invalid target: nope"},
    {"qciToAppCIImages:\n  ci/foo:latest: {as: x}\n",
     "qciToAppCIImages[ci/foo:latest]: as cannot be set"},
    {"qciToAppCIImages:\n  ci/foo:latest: {namespace: ci, name: foo, tag: latest}\n",
     "qciToAppCIImages[ci/foo:latest]: namespace/name/tag must not be set; use image or omit to "
     "derive from the key"},
    {"qciToAppCIImages:\n  ci/foo:latest: {tag: latest}\n", "namespace/name/tag must not be set"},
    {"qciToAppCIImages:\n  ci/foo:latest: {image: registry.redhat.io/ubi9/ubi:latest}\n",
     "qciToAppCIImages[ci/foo:latest]: image \"registry.redhat.io/ubi9/ubi:latest\" must be under "
     "quay.io/openshift/ci or quay-proxy.ci.openshift.org/openshift/ci"},
    {"qciToAppCIImages:\n  ci/foo:latest: {image: quay.io/openshift/cix:t}\n",
     "must be under quay.io/openshift/ci"},
    {"qciToAppCIImages:\n  ci/foo:latest: {image: quay.io/openshift/ci}\n",
     "must be under quay.io/openshift/ci"},
    /* ignoredSources */
    {"ignoredSources:\n- {image: x.io/y, as: z, reason: r}\n",
     "ignoredSources[0]: as cannot be set"},
    {"ignoredSources:\n- {image: x.io/y}\n- {namespace: n, name: m, reason: r}\n",
     "ignoredSources[1]: tag for the source must be set"},
    /* artImages */
    {"artImages:\n- {name: x}\n", "namespace for ArtImages[0] must be set"},
    {"artImages:\n- {namespace: a, name: x}\n- {namespace: b}\n",
     "name's regex for ArtImages[1] must be set"},
    {"artImages:\n- {namespace: a, name: '(x'}\n",
     "name's regex for ArtImages[0] cannot be compiled"},
    {"artImages:\n- {namespace: a, name: 'x', tag: '[x'}\n",
     "tag's regex for ArtImages[0] cannot be compiled"},
    {"artImages:\n- {namespace: a, name: '\\pL'}\n",
     "name's regex for ArtImages[0] cannot be compiled: unsupported escape \\p"},
    {"artImages:\n- {namespace: a, name: '(?s)x'}\n", "unsupported group syntax (?s"},
    /* types and shapes */
    {"supplementalCIImages:\n  a/b:c: {namespace: n, name: m, tag: 9}\n",
     "supplementalCIImages[a/b:c].tag: expected a string, got an integer"},
    {"supplementalCIImages:\n  a/b:c: {image: true}\n", "image: expected a string, got a boolean"},
    {"supplementalCIImages:\n  a/b:c: {image: [x]}\n", "image: expected a string, got a sequence"},
    {"supplementalCIImages:\n  a/b:c: x.io/y\n",
     "supplementalCIImages[a/b:c]: expected a mapping, got a string"},
    {"supplementalCIImages: [a]\n", "supplementalCIImages: expected a mapping, got a sequence"},
    {"qciToAppCIImages: x\n", "qciToAppCIImages: expected a mapping, got a string"},
    {"ignoredSources: {a: b}\n", "ignoredSources: expected a sequence, got a mapping"},
    {"ignoredSources:\n- x.io/y\n", "ignoredSources[0]: expected a mapping, got a string"},
    {"artImages: 1.5\n", "artImages: expected a sequence, got a number"},
    {"- a\n", "(top level): expected a mapping, got a sequence"},
    /* the same field spelled two ways */
    {"artImages:\n- {namespace: a, name: x, Name: y}\n",
     "artImages[0].Name: set twice (also as name)"},
    {"ignoredSources: []\nIgnoredSources: []\n",
     "IgnoredSources: set twice (also as ignoredSources)"},
    /* YAML itself */
    {"supplementalCIImages:\n  a/b:c: {image: x\n", "line"},
    {"supplementalCIImages:\n  a/b:c: {image: x.io/y}\n  a/b:c: {image: x.io/z}\n",
     "duplicate key"},
};

Test(mirror_config, each_validation_error, .init = quiet) {
    for (size_t i = 0; i < QS_ARRAY_LEN(one_error); i++)
        load_bad(one_error[i].yaml, 1, one_error[i].want);
}

Test(mirror_config, every_missing_source_field_reported, .init = quiet) {
    static const char *const yamls[] = {"supplementalCIImages:\n  a/b:c: {}\n",
                                        "supplementalCIImages:\n  a/b:c:\n",
                                        "ignoredSources:\n- {reason: r}\n"};
    static const char *const fields[] = {"namespace", "name", "tag"};
    for (size_t y = 0; y < QS_ARRAY_LEN(yamls); y++) {
        for (size_t f = 0; f < QS_ARRAY_LEN(fields); f++) {
            char want[64];
            snprintf(want, sizeof want, ": %s for the source must be set", fields[f]);
            load_bad(yamls[y], 3, want);
        }
    }
}

/* An unknown key at each level, named by its path. */
static const struct {
    const char *yaml;
    const char *want;
} unknown_keys[] = {
    {"supplementalCIImages: {}\nextra: 1\n", "extra: unknown setting"},
    {"supplementalCIImages:\n  a/b:c: {imgae: x.io/y, image: x.io/y}\n",
     "supplementalCIImages[a/b:c].imgae: unknown setting"},
    {"qciToAppCIImages:\n  a/b:c: {foo: bar}\n", "qciToAppCIImages[a/b:c].foo: unknown setting"},
    {"ignoredSources:\n- {image: x.io/y, why: r}\n", "ignoredSources[0].why: unknown setting"},
    {"artImages:\n- {namespace: a, name: x, regex: y}\n", "artImages[0].regex: unknown setting"},
    /* reason belongs to ignoredSources only */
    {"supplementalCIImages:\n  a/b:c: {image: x.io/y, reason: r}\n",
     "supplementalCIImages[a/b:c].reason: unknown setting"},
    /* artImages items are not sources */
    {"artImages:\n- {namespace: a, name: x, image: y}\n", "artImages[0].image: unknown setting"},
};

Test(mirror_config, unknown_keys_at_every_level, .init = quiet) {
    for (size_t i = 0; i < QS_ARRAY_LEN(unknown_keys); i++)
        load_bad(unknown_keys[i].yaml, 1, unknown_keys[i].want);
}

Test(mirror_config, all_errors_reported_together, .init = quiet) {
    static const char yaml[] = "supplementalCIImages:\n"
                               "  bad-target: {image: x.io/y}\n"      /* 1 */
                               "  a/b:c: {as: z}\n"                   /* 2, 3, 4, 5 */
                               "  d/e:f: {image: x.io/y, extra: 1}\n" /* 6 */
                               "qciToAppCIImages:\n"
                               "  g/h:i: {image: docker.io/library/x, tag: t}\n" /* 7, 8 */
                               "ignoredSources:\n"
                               "- {as: q, image: x.io/y}\n" /* 9 */
                               "artImages:\n"
                               "- {name: '(unclosed'}\n"          /* 10, 11 */
                               "- {namespace: ok, tag: '\\d+'}\n" /* 12 */
                               "unknownSection: {}\n";            /* 13 */
    static const char *const want[] = {
        "supplementalCIImages: invalid target: bad-target",
        "supplementalCIImages[a/b:c]: as cannot be set",
        "supplementalCIImages[a/b:c]: namespace for the source must be set",
        "supplementalCIImages[a/b:c]: name for the source must be set",
        "supplementalCIImages[a/b:c]: tag for the source must be set",
        "supplementalCIImages[d/e:f].extra: unknown setting",
        "qciToAppCIImages[g/h:i]: namespace/name/tag must not be set",
        "qciToAppCIImages[g/h:i]: image \"docker.io/library/x\" must be under",
        "ignoredSources[0]: as cannot be set",
        "namespace for ArtImages[0] must be set",
        "name's regex for ArtImages[0] cannot be compiled",
        "name's regex for ArtImages[1] must be set",
        "unknownSection: unknown setting",
    };
    qs_conf *errs = qs_conf_new();
    mirror_config *cfg = NULL;
    size_t n = mirror_config_parse(&cfg, yaml, strlen(yaml), NULL, errs);
    cr_expect_null(cfg);
    cr_expect_eq(n, QS_ARRAY_LEN(want));
    for (size_t w = 0; w < QS_ARRAY_LEN(want); w++) {
        bool found = false;
        for (size_t i = 0; i < n; i++)
            found = found || strstr(qs_conf_error_at(errs, i), want[w]) != NULL;
        cr_expect(found, "missing: %s", want[w]);
    }
    /* errors already in the collector are not counted again */
    n = mirror_config_parse(&cfg, "extra: 1\n", 9, NULL, errs);
    cr_expect_eq(n, 1);
    cr_expect_eq(qs_conf_error_count(errs), QS_ARRAY_LEN(want) + 1);
    qs_conf_free(errs);
}

Test(mirror_config, field_names_are_case_insensitive, .init = quiet) {
    mirror_config *cfg = load_ok("SupplementalCIImages:\n"
                                 "  a/b:c: {Namespace: n, NAME: m, Tag: t}\n"
                                 "  d/e:f: {Image: x.io/y}\n"
                                 "artimages:\n"
                                 "- {namespace: ocp, Name: '^\\d+$', Tag: '^v'}\n");
    cr_assert_eq(mirror_config_supplemental_count(cfg), 2);
    const mirror_entry *e = mirror_config_supplemental_at(cfg, 0);
    cr_expect_str_eq(e->source.ns, "n");
    cr_expect_str_eq(e->source.name, "m");
    cr_expect_str_eq(e->source.tag, "t");
    cr_expect_str_eq(mirror_config_supplemental_at(cfg, 1)->source.image, "x.io/y");
    const mirror_art_rule *r = mirror_config_art_at(cfg, 0);
    cr_expect(mirror_art_match(r, "42", "v1"));
    cr_expect_not(mirror_art_match(r, "42", "x1"));
    mirror_config_free(cfg);
}

Test(mirror_config, qci_defaults_and_options, .init = quiet) {
    mirror_config *cfg = load_ok("qciToAppCIImages:\n"
                                 "  ci/foo:latest:\n"
                                 "  ci/bar:latest: {image: quay.io/openshift/ci:ci_bar_custom}\n"
                                 "  ci/baz:latest: {image: 'quay.io/openshift/ci@sha256:00'}\n"
                                 "  ci/qux:latest: {image: quay-proxy.ci.openshift.org/openshift/"
                                 "ci:x}\n");
    cr_assert_eq(mirror_config_qci_count(cfg), 4);
    cr_expect_str_eq(mirror_config_qci_at(cfg, 0)->source.image,
                     "quay.io/openshift/ci:ci_bar_custom");
    cr_expect_str_eq(mirror_config_qci_at(cfg, 2)->source.image,
                     "quay-proxy.ci.openshift.org/openshift/ci:ci_foo_latest");
    mirror_config_free(cfg);

    /* the service's own repositories; no pull-through name: the repository itself */
    mirror_config_opts opts = {"src.local:5000", "dst.local:5001/openshift/ci", NULL};
    static const char yaml[] = "qciToAppCIImages:\n  ci/foo:latest: {}\n"
                               "supplementalCIImages:\n  a/b:c: {namespace: n, name: m, tag: t}\n";
    qs_conf *errs = qs_conf_new();
    cr_assert_eq(mirror_config_parse(&cfg, yaml, strlen(yaml), &opts, errs), 0, "%s",
                 qs_conf_error_at(errs, 0));
    cr_expect_str_eq(mirror_config_qci_at(cfg, 0)->source.image,
                     "dst.local:5001/openshift/ci:ci_foo_latest");
    char spec[256];
    cr_assert_eq(mirror_config_source_pull_spec(cfg, &mirror_config_supplemental_at(cfg, 0)->source,
                                                spec, sizeof spec),
                 0);
    cr_expect_str_eq(spec, "src.local:5000/n/m:t");
    mirror_config_free(cfg);
    static const char bad[] =
        "qciToAppCIImages:\n  ci/foo:latest: {image: quay.io/openshift/ci:x}\n";
    cr_expect_eq(mirror_config_parse(&cfg, bad, strlen(bad), &opts, errs), 1);
    cr_expect(strstr(qs_conf_error_at(errs, 0), "must be under dst.local:5001/openshift/ci"), "%s",
              qs_conf_error_at(errs, 0));
    qs_conf_free(errs);
}

/* Does the loaded config still hold supplemental key `key`? */
static bool has_supp(const mirror_config *cfg, const char *key) {
    for (size_t i = 0; i < mirror_config_supplemental_count(cfg); i++)
        if (strcmp(mirror_config_supplemental_at(cfg, i)->key, key) == 0)
            return true;
    return false;
}

/* Each of the original's four ignored() rules drops `drop/me:t` and keeps `keep/me:t`. */
static const struct {
    const char *rule;
    const char *yaml;
} ignore_rules[] = {
    {"image == image",
     "supplementalCIImages:\n"
     "  drop/me:t: {image: registry.fedoraproject.org/fedora:latest}\n"
     "  keep/me:t: {image: registry.fedoraproject.org/fedora:40}\n"
     "ignoredSources:\n- {image: registry.fedoraproject.org/fedora:latest, reason: RFE-5363}\n"},
    {"ignored image == registry/<source istag>",
     "supplementalCIImages:\n"
     "  drop/me:t: {namespace: ocp, name: builder, tag: rhel-7-golang-1.13}\n"
     "  keep/me:t: {namespace: ocp, name: builder, tag: rhel-9-golang-1.22}\n"
     "ignoredSources:\n"
     "- {image: registry.ci.openshift.org/ocp/builder:rhel-7-golang-1.13, reason: broken}\n"},
    {"istag == istag",
     "supplementalCIImages:\n"
     "  drop/me:t: {namespace: ocp, name: builder, tag: old}\n"
     "  keep/me:t: {namespace: ocp, name: builder, tag: new}\n"
     "ignoredSources:\n- {namespace: ocp, name: builder, tag: old, reason: broken}\n"},
    {"source image == registry/<ignored istag>",
     "supplementalCIImages:\n"
     "  drop/me:t: {image: registry.ci.openshift.org/ocp/builder:old}\n"
     "  keep/me:t: {image: quay.io/ocp/builder:old}\n"
     "ignoredSources:\n- {namespace: ocp, name: builder, tag: old, reason: broken}\n"},
};

Test(mirror_config, ignored_sources_four_rules, .init = quiet) {
    for (size_t i = 0; i < QS_ARRAY_LEN(ignore_rules); i++) {
        mirror_config *cfg = load_ok(ignore_rules[i].yaml);
        cr_expect_eq(mirror_config_supplemental_count(cfg), 1, "%s", ignore_rules[i].rule);
        cr_expect(has_supp(cfg, "keep/me:t"), "%s dropped the wrong entry", ignore_rules[i].rule);
        cr_expect_not(has_supp(cfg, "drop/me:t"), "%s did not apply", ignore_rules[i].rule);
        mirror_config_free(cfg);
    }
}

Test(mirror_config, ignored_sources_use_configured_registry_and_qci, .init = quiet) {
    /* rules 2 and 4 compare with the configured source registry, not app.ci's name */
    mirror_config_opts opts = MIRROR_CONFIG_OPTS_INIT;
    opts.source_registry = "src.local:5000";
    static const char yaml[] =
        "supplementalCIImages:\n"
        "  a/a:t: {namespace: ocp, name: builder, tag: old}\n"
        "  b/b:t: {image: src.local:5000/ocp/other:x}\n"
        "  c/c:t: {image: registry.ci.openshift.org/ocp/other:x}\n"
        "qciToAppCIImages:\n"
        "  ci/foo:latest: {}\n"
        "  ci/bar:latest: {}\n"
        "ignoredSources:\n"
        "- {image: src.local:5000/ocp/builder:old}\n"
        "- {namespace: ocp, name: other, tag: x, reason: gone}\n"
        "- {image: quay-proxy.ci.openshift.org/openshift/ci:ci_foo_latest, reason: qci}\n";
    qs_conf *errs = qs_conf_new();
    mirror_config *cfg = NULL;
    cr_assert_eq(mirror_config_parse(&cfg, yaml, strlen(yaml), &opts, errs), 0, "%s",
                 qs_conf_error_at(errs, 0));
    cr_expect_eq(mirror_config_supplemental_count(cfg), 1);
    cr_expect(has_supp(cfg, "c/c:t"));
    /* the defaulted image of a qciToAppCIImages entry is matched too */
    cr_assert_eq(mirror_config_qci_count(cfg), 1);
    cr_expect_str_eq(mirror_config_qci_at(cfg, 0)->key, "ci/bar:latest");

    /* the same check for sources found at run time (ART image streams) */
    mirror_source art = {.ns = "ocp", .name = "other", .tag = "x"};
    const char *reason = NULL;
    cr_expect(mirror_config_is_ignored(cfg, &art, &reason));
    cr_expect_str_eq(reason, "gone");
    art.tag = "y";
    cr_expect_not(mirror_config_is_ignored(cfg, &art, NULL));
    mirror_source img = {.image = "src.local:5000/ocp/builder:old"};
    cr_expect(mirror_config_is_ignored(cfg, &img, &reason));
    cr_expect_str_eq(reason, ""); /* no reason given */
    mirror_config_free(cfg);
    qs_conf_free(errs);
}

/* RE2 -> POSIX translation: what is rewritten, and what is refused. */
static const struct {
    const char *re2;
    const char *posix; /* NULL: refused */
} xlate[] = {
    {"^\\d+\\.\\d+$", "^[0-9]+\\.[0-9]+$"},
    {"\\w+-\\s\\S\\D\\W", "[A-Za-z0-9_]+-[\t\n\f\r ][^\t\n\f\r ][^0-9][^A-Za-z0-9_]"},
    {"[\\d.]+", "[0-9.]+"},
    {"[^\\w-]", "[^A-Za-z0-9_-]"},
    {"[]a]", "[]a]"},
    {"[[:alpha:]\\d]", "[[:alpha:]0-9]"},
    {"a\\/b\\-c\\_d", "a/b-c_d"},
    {"\\(\\)\\[\\]\\{\\}\\*\\+\\?\\|\\^\\$\\\\\\.", "\\(\\)\\[\\]\\{\\}\\*\\+\\?\\|\\^\\$\\\\\\."},
    {"(?:rhel|centos)-\\d", "(rhel|centos)-[0-9]"},
    {"\\Arelease\\z", "^release$"},
    {"a\\tb", "a\tb"},
    {"[\\.]", "[.]"},
    {"", ""},
    {"\\b", NULL},
    {"\\pN", NULL},
    {"\\x41", NULL},
    {"\\1", NULL},
    {"[\\D]", NULL},
    {"[\\]]", NULL},
    {"(?s)a", NULL},
    {"(?P<n>a)", NULL},
    {"a\\", NULL},
    {"[[:alpha", NULL},
};

Test(mirror_regex, translation_table) {
    for (size_t i = 0; i < QS_ARRAY_LEN(xlate); i++) {
        qs_buf out = QS_BUF_INIT;
        bool icase = true;
        char err[256] = "";
        int rc = mirror_regex_translate(xlate[i].re2, &out, &icase, err, sizeof err);
        if (xlate[i].posix) {
            cr_expect_eq(rc, 0, "%s: %s", xlate[i].re2, err);
            cr_expect_str_eq(qs_buf_str(&out), xlate[i].posix, "%s", xlate[i].re2);
            cr_expect_not(icase);
        } else {
            cr_expect_eq(rc, QS_EINVAL, "accepted: %s", xlate[i].re2);
            cr_expect_neq(err[0], '\0', "no reason for %s", xlate[i].re2);
        }
        qs_buf_free(&out);
    }
}

Test(mirror_regex, compile_and_match) {
    mirror_regex *re = NULL;
    char err[256] = "";
    cr_assert_eq(mirror_regex_compile(&re, "(?i)^rhel-\\d", err, sizeof err), 0, "%s", err);
    cr_expect(mirror_regex_match(re, "RHEL-9"));
    cr_expect(mirror_regex_match(re, "rhel-8-x"));
    cr_expect_not(mirror_regex_match(re, "xrhel-9"));
    cr_expect_not(mirror_regex_match(re, NULL));
    mirror_regex_free(re);

    /* unanchored, like Go's MatchString */
    cr_assert_eq(mirror_regex_compile(&re, "coreos", err, sizeof err), 0);
    cr_expect(mirror_regex_match(re, "rhel-coreos-9"));
    mirror_regex_free(re);

    /* a lazy quantifier matches the same strings */
    cr_assert_eq(mirror_regex_compile(&re, "^a.*?b$", err, sizeof err), 0, "%s", err);
    cr_expect(mirror_regex_match(re, "axxb"));
    cr_expect_not(mirror_regex_match(re, "axxc"));
    mirror_regex_free(re);

    /* regcomp's own errors come back as the reason */
    cr_expect_eq(mirror_regex_compile(&re, "a(b", err, sizeof err), QS_EINVAL);
    cr_expect_null(re);
    cr_expect_neq(err[0], '\0');
    mirror_regex_free(NULL);
}
