/* test_omps_bundle.c — the blob courier pushes (reference/omps.md §B.5, §F.4).
 *
 * The flat bundle.yaml must be PyYAML's text for the same input (a golden copy worked out
 * from PyYAML's emitter rules: sorted keys, indentless lists, literal blocks for the three
 * lists, alm-examples and spec.description, `''` without CRDs) and must parse back into the
 * documents it was built from. The tar.gz is inflated here with zlib and its ustar entries
 * read back (checksums, types, modes, PAX long names): one top directory `<repo>-<8 hex>/`,
 * then bundle.yaml (flat) or the tree without courier's blacklist (nested). The push body is
 * base64 of exactly that archive. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <regex.h>
#include <string.h>
#include <zlib.h>

#include "omps/bundle.h"
#include "omps/manifests.h"
#include "omps_fixture.h"
#include "shared/base64.h"
#include "shared/common.h"
#include "shared/config.h"

#define SMALL_CSV                                                                                  \
    "apiVersion: operators.coreos.com/v1alpha1\n"                                                  \
    "kind: ClusterServiceVersion\n"                                                                \
    "spec:\n"                                                                                      \
    "  version: 0.0.1\n"                                                                           \
    "  description: |\n"                                                                           \
    "    Line one.\n"                                                                              \
    "    Line two.\n"                                                                              \
    "metadata:\n"                                                                                  \
    "  name: marketplace-operator.v0.0.1\n"                                                        \
    "  annotations:\n"                                                                             \
    "    alm-examples: '[{\"kind\": \"OperatorSource\"}]'\n"

#define SMALL_BUNDLE_YAML                                                                          \
    "data:\n"                                                                                      \
    "  clusterServiceVersions: |\n"                                                                \
    "    - apiVersion: operators.coreos.com/v1alpha1\n"                                            \
    "      kind: ClusterServiceVersion\n"                                                          \
    "      metadata:\n"                                                                            \
    "        annotations:\n"                                                                       \
    "          alm-examples: |-\n"                                                                 \
    "            [{\"kind\": \"OperatorSource\"}]\n"                                               \
    "        name: marketplace-operator.v0.0.1\n"                                                  \
    "      spec:\n"                                                                                \
    "        description: |\n"                                                                     \
    "          Line one.\n"                                                                        \
    "          Line two.\n"                                                                        \
    "        version: 0.0.1\n"                                                                     \
    "  customResourceDefinitions: ''\n"                                                            \
    "  packages: |\n"                                                                              \
    "    - channels:\n"                                                                            \
    "      - currentCSV: marketplace-operator.v0.0.1\n"                                            \
    "        name: alpha\n"                                                                        \
    "      packageName: marketplace\n"

/* ---- reading the archive back ---- */

typedef struct {
    char name[1024];
    char type;
    unsigned mode;
    long mtime;
    char *data;
    size_t size;
} entry;

typedef struct {
    entry e[64];
    size_t n;
    size_t tar_len;
} archive;

static unsigned char *gunzip_all(const unsigned char *in, size_t len, size_t *outlen) {
    z_stream z = {0};
    cr_assert_eq(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
    size_t cap = 1 << 20;
    unsigned char *out = malloc(cap);
    z.next_in = (unsigned char *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    int rc;
    do {
        if (z.total_out == cap) {
            cap *= 2;
            out = realloc(out, cap);
        }
        z.next_out = out + z.total_out;
        z.avail_out = (uInt)(cap - z.total_out);
        rc = inflate(&z, Z_NO_FLUSH);
        cr_assert(rc == Z_OK || rc == Z_STREAM_END, "inflate %d", rc);
    } while (rc != Z_STREAM_END);
    cr_expect_eq(z.avail_in, 0, "trailing bytes after the gzip member");
    *outlen = z.total_out;
    inflateEnd(&z);
    return out;
}

static unsigned long field(const unsigned char *h, size_t off, size_t len) {
    char tmp[16] = "";
    memcpy(tmp, h + off, len);
    return strtoul(tmp, NULL, 8);
}

static void read_tar(const unsigned char *targz, size_t len, archive *a) {
    size_t n = 0, off = 0;
    unsigned char *tar = gunzip_all(targz, len, &n);
    char pax_path[1024] = "";
    memset(a, 0, sizeof *a);
    a->tar_len = n;
    while (off + 512 <= n) {
        const unsigned char *h = tar + off;
        static const unsigned char zero[512];
        if (!memcmp(h, zero, 512))
            break;
        cr_assert_eq(memcmp(h + 257,
                            "ustar\0"
                            "00",
                            8),
                     0, "ustar magic");
        unsigned sum = 0;
        for (size_t i = 0; i < 512; i++)
            sum += (i >= 148 && i < 156) ? ' ' : h[i];
        cr_expect_eq(sum, field(h, 148, 8), "checksum of %.100s", (const char *)h);
        size_t size = field(h, 124, 12);
        cr_assert_leq(off + 512 + size, n);
        if (h[156] == 'x') { /* "<len> path=<name>\n" */
            const char *rec = (const char *)tar + off + 512, *p = strstr(rec, " path=");
            cr_assert_not_null(p);
            size_t plen =
                (size_t)(memchr(p, '\n', size) ? (const char *)memchr(p, '\n', size) - p - 6 : 0);
            cr_expect_eq(strtoul(rec, NULL, 10), size, "PAX record length");
            memcpy(pax_path, p + 6, plen);
            pax_path[plen] = '\0';
        } else {
            entry *e = &a->e[a->n++];
            snprintf(e->name, sizeof e->name, "%s", *pax_path ? pax_path : (const char *)h);
            if (!*pax_path)
                e->name[100] = '\0';
            pax_path[0] = '\0';
            e->type = (char)h[156];
            e->mode = (unsigned)field(h, 100, 8);
            e->mtime = (long)field(h, 136, 12);
            e->size = size;
            e->data = calloc(1, size + 1);
            memcpy(e->data, tar + off + 512, size);
        }
        off += 512 + (size + 511) / 512 * 512;
    }
    free(tar);
}

static void archive_free(archive *a) {
    for (size_t i = 0; i < a->n; i++)
        free(a->e[i].data);
}

static omps_manifests *load(const char *dir) {
    omps_manifests *m = NULL;
    char err[256] = "";
    cr_assert_eq(omps_manifests_load(dir, &m, err, sizeof err, NULL), QS_OK, "%s", err);
    return m;
}

/* ---- bundle.yaml ---- */

Test(omps_bundle, flat_bundle_yaml_is_pyyaml_text) {
    char *dir = fx_tmpdir();
    fx_write(dir, "csv.yaml", SMALL_CSV);
    fx_write(dir, "packages.yaml", FX_PKG);
    omps_manifests *m = load(dir);
    qs_buf b = QS_BUF_INIT;
    char err[256] = "";
    cr_assert_eq(omps_bundle_yaml(m, &b, err, sizeof err), QS_OK, "%s", err);
    cr_expect_str_eq(qs_buf_str(&b), SMALL_BUNDLE_YAML);
    qs_buf_free(&b);
    omps_manifests_free(m);
    fx_rmtree(dir);
}

Test(omps_bundle, flat_bundle_yaml_parses_back_to_the_documents) {
    char *dir = fx_flat();
    omps_manifests *m = load(dir);
    qs_buf b = QS_BUF_INIT;
    char err[256] = "";
    cr_assert_eq(omps_bundle_yaml(m, &b, err, sizeof err), QS_OK, "%s", err);
    json_t *doc = NULL;
    cr_assert_eq(qs_yaml_parse(b.data, b.len, &doc, err, sizeof err), QS_OK, "%s", err);
    const json_t *data = json_object_get(doc, "data");
    cr_assert_eq(json_object_size(doc), 1);
    cr_assert_eq(json_object_size(data), 3);
    const struct {
        const char *key;
        const json_t *docs;
    } parts[] = {{"customResourceDefinitions", m->bundles[0].crds},
                 {"clusterServiceVersions", m->bundles[0].csvs},
                 {"packages", m->bundles[0].packages}};
    for (size_t i = 0; i < 3; i++) {
        const json_t *s = json_object_get(data, parts[i].key);
        json_t *back = NULL;
        cr_assert(json_is_string(s), "%s", parts[i].key);
        cr_assert_eq(
            qs_yaml_parse(json_string_value(s), json_string_length(s), &back, err, sizeof err),
            QS_OK, "%s: %s", parts[i].key, err);
        cr_expect(json_equal(back, parts[i].docs), "%s differs", parts[i].key);
        json_decref(back);
    }
    cr_expect(strstr(b.data, "  customResourceDefinitions: |\n    - apiVersion: ") != NULL);
    cr_expect(strstr(b.data, "          alm-examples: |-\n            [{\"apiVersion\"") != NULL);
    json_decref(doc);
    qs_buf_free(&b);
    omps_manifests_free(m);
    fx_rmtree(dir);
}

Test(omps_bundle, nested_has_no_bundle_yaml) {
    char *dir = fx_nested();
    omps_manifests *m = load(dir);
    qs_buf b = QS_BUF_INIT;
    cr_expect_eq(omps_bundle_yaml(m, &b, NULL, 0), QS_EINVAL);
    qs_buf_free(&b);
    omps_manifests_free(m);
    fx_rmtree(dir);
}

/* ---- the archive ---- */

Test(omps_bundle, flat_targz_round_trip) {
    char *dir = fx_tmpdir();
    fx_write(dir, "csv.yaml", SMALL_CSV);
    fx_write(dir, "packages.yaml", FX_PKG);
    fx_write(dir, "notes.txt", "not packed in the flat layout");
    omps_manifests *m = load(dir);
    omps_bundle_opts o = {"marketplace-0123abcd", 0, 0};
    unsigned char *gz = NULL;
    size_t len = 0;
    char top[OMPS_BUNDLE_TOP_MAX], err[256] = "";
    cr_assert_eq(omps_bundle_targz(m, dir, "marketplace", &o, &gz, &len, top, err, sizeof err),
                 QS_OK, "%s", err);
    cr_expect_str_eq(top, "marketplace-0123abcd");
    cr_expect(gz[0] == 0x1f && gz[1] == 0x8b && gz[2] == 8, "gzip, deflate");
    archive a;
    read_tar(gz, len, &a);
    cr_expect_eq(a.tar_len % 10240, 0, "padded to a 10240-byte record");
    cr_assert_eq(a.n, 2);
    cr_expect_str_eq(a.e[0].name, "marketplace-0123abcd/");
    cr_expect_eq(a.e[0].type, '5');
    cr_expect_eq(a.e[0].mode, 0755);
    cr_expect_str_eq(a.e[1].name, "marketplace-0123abcd/bundle.yaml");
    cr_expect_eq(a.e[1].type, '0');
    cr_expect_eq(a.e[1].mode, 0644);
    cr_expect_eq(a.e[1].mtime, 0);
    cr_expect_str_eq(a.e[1].data, SMALL_BUNDLE_YAML);
    archive_free(&a);
    free(gz);
    omps_manifests_free(m);
    fx_rmtree(dir);
}

Test(omps_bundle, random_top_directory) {
    char *dir = fx_flat();
    omps_manifests *m = load(dir);
    regex_t re;
    cr_assert_eq(regcomp(&re, "^marketplace-[0-9a-f]{8}$", REG_EXTENDED | REG_NOSUB), 0);
    char first[OMPS_BUNDLE_TOP_MAX] = "";
    for (int i = 0; i < 2; i++) {
        unsigned char *gz = NULL;
        size_t len = 0;
        char top[OMPS_BUNDLE_TOP_MAX];
        cr_assert_eq(omps_bundle_targz(m, dir, "marketplace", NULL, &gz, &len, top, NULL, 0),
                     QS_OK);
        cr_expect_eq(regexec(&re, top, 0, NULL, 0), 0, "%s", top);
        archive a;
        read_tar(gz, len, &a);
        char want[OMPS_BUNDLE_TOP_MAX + 1];
        snprintf(want, sizeof want, "%s/", top);
        cr_expect_str_eq(a.e[0].name, want);
        if (i == 0)
            snprintf(first, sizeof first, "%s", top);
        else
            cr_expect_str_neq(top, first, "two bundles, two names");
        archive_free(&a);
        free(gz);
    }
    regfree(&re);
    omps_manifests_free(m);
    fx_rmtree(dir);
}

Test(omps_bundle, nested_tree_is_packed_without_the_blacklist) {
    char *dir = fx_nested();
    fx_write(dir, "art.yaml", "updates: []\n");
    fx_write(dir, "0.9.2/image-references", "refs");
    fx_write(dir, "notes.txt", "kept");
    char empty[4096];
    snprintf(empty, sizeof empty, "%s/empty", dir);
    cr_assert_eq(mkdir(empty, 0755), 0);
    omps_manifests *m = load(dir);
    omps_bundle_opts o = {"etcd-aaaaaaaa", 0, 0};
    unsigned char *gz = NULL;
    size_t len = 0;
    char err[256] = "";
    cr_assert_eq(omps_bundle_targz(m, dir, "etcd", &o, &gz, &len, NULL, err, sizeof err), QS_OK,
                 "%s", err);
    archive a;
    read_tar(gz, len, &a);
    static const char *const want[] = {
        "etcd-aaaaaaaa/",
        "etcd-aaaaaaaa/0.6.1/",
        "etcd-aaaaaaaa/0.6.1/etcdcluster.crd.yaml",
        "etcd-aaaaaaaa/0.6.1/etcdoperator.clusterserviceversion.yaml",
        "etcd-aaaaaaaa/0.9.2/",
        "etcd-aaaaaaaa/0.9.2/etcdbackup.crd.yaml",
        "etcd-aaaaaaaa/0.9.2/etcdoperator.v0.9.2.clusterserviceversion.yaml",
        "etcd-aaaaaaaa/empty/",
        "etcd-aaaaaaaa/etcd.package.yaml",
        "etcd-aaaaaaaa/notes.txt",
    };
    cr_assert_eq(a.n, QS_ARRAY_LEN(want));
    for (size_t i = 0; i < a.n; i++) {
        cr_expect_str_eq(a.e[i].name, want[i]);
        size_t l = strlen(want[i]);
        cr_expect_eq(a.e[i].type, want[i][l - 1] == '/' ? '5' : '0', "%s", want[i]);
        if (want[i][l - 1] != '/') { /* the bytes as they are on disk */
            char *disk = fx_read(dir, want[i] + strlen("etcd-aaaaaaaa/"));
            cr_expect_str_eq(a.e[i].data, disk, "%s", want[i]);
            free(disk);
        }
    }
    archive_free(&a);
    free(gz);
    omps_manifests_free(m);
    fx_rmtree(dir);
}

Test(omps_bundle, long_names_use_pax_records) {
    char *dir = fx_nested();
    const char *deep = "0.9.2/a-rather-long-directory-name-for-testing/and-a-second-long-directory/"
                       "with-a-file-whose-name-is-long.yaml";
    fx_write(dir, deep, "x: 1\n");
    omps_manifests *m = load(dir);
    omps_bundle_opts o = {"etcd-bbbbbbbb", 0, 0};
    unsigned char *gz = NULL;
    size_t len = 0;
    cr_assert_eq(omps_bundle_targz(m, dir, "etcd", &o, &gz, &len, NULL, NULL, 0), QS_OK);
    archive a;
    read_tar(gz, len, &a);
    char want[1024];
    snprintf(want, sizeof want, "etcd-bbbbbbbb/%s", deep);
    bool found = false;
    for (size_t i = 0; i < a.n; i++)
        if (!strcmp(a.e[i].name, want)) {
            found = true;
            cr_expect_str_eq(a.e[i].data, "x: 1\n");
        }
    cr_expect(found, "%s not in the archive", want);
    archive_free(&a);
    free(gz);
    omps_manifests_free(m);
    fx_rmtree(dir);
}

Test(omps_bundle, size_limit) {
    char *dir = fx_flat();
    omps_manifests *m = load(dir);
    omps_bundle_opts o = {NULL, 0, 4096};
    unsigned char *gz = NULL;
    size_t len = 0;
    char err[256] = "";
    cr_expect_eq(omps_bundle_targz(m, dir, "marketplace", &o, &gz, &len, NULL, err, sizeof err),
                 QS_ETOOBIG);
    cr_expect_null(gz);
    omps_manifests_free(m);
    fx_rmtree(dir);
}

Test(omps_bundle, push_body_is_base64_of_the_archive) {
    char *dir = fx_flat();
    omps_manifests *m = load(dir);
    omps_bundle_opts o = {"marketplace-00000000", 0, 0};
    json_t *body = NULL;
    char err[256] = "";
    cr_assert_eq(omps_bundle_push_json(m, dir, "marketplace", "1.0.0", &o, &body, err, sizeof err),
                 QS_OK, "%s", err);
    char *text = json_dumps(body, 0);
    cr_expect(strncmp(text, "{\"blob\": \"H4sI", 14) == 0, "%.40s", text); /* 1f 8b 08 */
    cr_expect(strstr(text, "\", \"release\": \"1.0.0\", \"media_type\": \"helm\"}") != NULL);
    free(text);
    const char *b64 = json_string_value(json_object_get(body, "blob"));
    cr_expect_null(strchr(b64, '\n'));
    size_t n = 0;
    unsigned char *raw = qs_base64_decode(b64, strlen(b64), &n);
    cr_assert_not_null(raw);
    unsigned char *gz = NULL;
    size_t len = 0;
    cr_assert_eq(omps_bundle_targz(m, dir, "marketplace", &o, &gz, &len, NULL, NULL, 0), QS_OK);
    cr_expect_eq(n, len);
    cr_expect_eq(memcmp(raw, gz, len), 0, "reproducible with a fixed top directory");
    archive a;
    read_tar(raw, n, &a);
    cr_expect_str_eq(a.e[1].name, "marketplace-00000000/bundle.yaml");
    archive_free(&a);
    free(gz);
    free(raw);
    json_decref(body);
    omps_manifests_free(m);
    fx_rmtree(dir);
}
