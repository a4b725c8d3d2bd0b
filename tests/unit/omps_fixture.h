/* omps_fixture.h — manifest directories for the omps unit tests, written from the test into a
 * private temporary directory: the valid flat (`marketplace`) and nested (`etcd`) layouts of
 * reference/omps.md §F.1 as YAML text, a helper to write any file (parents created) and one
 * to remove the tree again. Header-only: each test binary includes it once. */
#ifndef OMPS_FIXTURE_H
#define OMPS_FIXTURE_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FX_PKG                                                                                     \
    "packageName: marketplace\n"                                                                   \
    "channels:\n"                                                                                  \
    "- name: alpha\n"                                                                              \
    "  currentCSV: marketplace-operator.v0.0.1\n"

#define FX_CRD                                                                                     \
    "apiVersion: apiextensions.k8s.io/v1beta1\n"                                                   \
    "kind: CustomResourceDefinition\n"                                                             \
    "metadata:\n"                                                                                  \
    "  name: operatorsources.operators.coreos.com\n"                                               \
    "spec:\n"                                                                                      \
    "  group: operators.coreos.com\n"                                                              \
    "  names:\n"                                                                                   \
    "    kind: OperatorSource\n"                                                                   \
    "    plural: operatorsources\n"                                                                \
    "  version: v1\n"                                                                              \
    "  versions:\n"                                                                                \
    "  - name: v1\n"                                                                               \
    "    served: true\n"                                                                           \
    "    storage: true\n"

#define FX_CSV                                                                                     \
    "apiVersion: operators.coreos.com/v1alpha1\n"                                                  \
    "kind: ClusterServiceVersion\n"                                                                \
    "metadata:\n"                                                                                  \
    "  name: marketplace-operator.v0.0.1\n"                                                        \
    "  annotations:\n"                                                                             \
    "    categories: OpenShift Optional\n"                                                         \
    "    description: Marketplace\n"                                                               \
    "    containerImage: quay.io/openshift/origin-operator-marketplace:v0.0.1\n"                   \
    "    createdAt: \"2019-01-01T00:00:00Z\"\n"                                                    \
    "    support: Red Hat\n"                                                                       \
    "    certified: \"false\"\n"                                                                   \
    "    alm-examples: '[{\"apiVersion\": \"operators.coreos.com/v1\", \"kind\": "                 \
    "\"OperatorSource\"}]'\n"                                                                      \
    "spec:\n"                                                                                      \
    "  displayName: Marketplace\n"                                                                 \
    "  description: |\n"                                                                           \
    "    Marketplace is a gateway.\n"                                                              \
    "    Second line.\n"                                                                           \
    "  icon: []\n"                                                                                 \
    "  version: 0.0.1\n"                                                                           \
    "  provider:\n"                                                                                \
    "    name: Red Hat\n"                                                                          \
    "  maturity: alpha\n"                                                                          \
    "  installModes:\n"                                                                            \
    "  - type: OwnNamespace\n"                                                                     \
    "    supported: true\n"                                                                        \
    "  install:\n"                                                                                 \
    "    strategy: deployment\n"                                                                   \
    "    spec:\n"                                                                                  \
    "      deployments:\n"                                                                         \
    "      - name: marketplace-operator\n"                                                         \
    "        spec: {}\n"                                                                           \
    "      permissions: []\n"                                                                      \
    "      clusterPermissions: []\n"                                                               \
    "  customresourcedefinitions:\n"                                                               \
    "    owned:\n"                                                                                 \
    "    - name: operatorsources.operators.coreos.com\n"                                           \
    "      kind: OperatorSource\n"                                                                 \
    "      version: v1\n"

/* Nested (etcd): a package at the root, version folders with their CSV and CRDs. */
#define FX_ETCD_PKG                                                                                \
    "#! package-manifest: ./deploy/chart/catalog_resources/rh-operators/etcd.package.yaml\n"       \
    "packageName: etcd\n"                                                                          \
    "channels:\n"                                                                                  \
    "- name: alpha\n"                                                                              \
    "  currentCSV: etcdoperator.v0.9.2\n"

#define FX_ETCD_CRD(plural, kind)                                                                  \
    "apiVersion: apiextensions.k8s.io/v1beta1\n"                                                   \
    "kind: CustomResourceDefinition\n"                                                             \
    "metadata:\n"                                                                                  \
    "  name: " plural ".etcd.database.coreos.com\n"                                                \
    "spec:\n"                                                                                      \
    "  group: etcd.database.coreos.com\n"                                                          \
    "  names:\n"                                                                                   \
    "    kind: " kind "\n"                                                                         \
    "    plural: " plural "\n"                                                                     \
    "  version: v1beta2\n"

#define FX_ETCD_CSV(ver, plural, kind)                                                             \
    "apiVersion: operators.coreos.com/v1alpha1\n"                                                  \
    "kind: ClusterServiceVersion\n"                                                                \
    "metadata:\n"                                                                                  \
    "  name: etcdoperator.v" ver "\n"                                                              \
    "spec:\n"                                                                                      \
    "  installModes: []\n"                                                                         \
    "  install:\n"                                                                                 \
    "    strategy: deployment\n"                                                                   \
    "    spec:\n"                                                                                  \
    "      deployments: []\n"                                                                      \
    "  customresourcedefinitions:\n"                                                               \
    "    owned:\n"                                                                                 \
    "    - name: " plural ".etcd.database.coreos.com\n"                                            \
    "      kind: " kind "\n"                                                                       \
    "      version: v1beta2\n"

/* Write root/rel (parents made) with `text`. */
static inline void fx_write(const char *root, const char *rel, const char *text) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* Read root/rel into a malloc'd string. */
static inline char *fx_read(const char *root, const char *rel) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot read %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = calloc(1, (size_t)n + 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return s;
}

/* A new empty directory under $TMPDIR; returns a static buffer's copy (free it). */
static inline char *fx_tmpdir(void) {
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/omps-test-XXXXXX", base);
    cr_assert_not_null(mkdtemp(tmpl));
    return strdup(tmpl);
}

static inline int fx_rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static inline void fx_rmtree(char *dir) {
    if (dir)
        nftw(dir, fx_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

/* The valid flat layout of §F.1 (crd.yml, csv.yaml, packages.yaml). */
static inline char *fx_flat(void) {
    char *d = fx_tmpdir();
    fx_write(d, "crd.yml", FX_CRD);
    fx_write(d, "csv.yaml", FX_CSV);
    fx_write(d, "packages.yaml", FX_PKG);
    return d;
}

/* The valid nested layout of §F.1 (two version folders). */
static inline char *fx_nested(void) {
    char *d = fx_tmpdir();
    fx_write(d, "etcd.package.yaml", FX_ETCD_PKG);
    fx_write(d, "0.6.1/etcdcluster.crd.yaml", FX_ETCD_CRD("etcdclusters", "EtcdCluster"));
    fx_write(d, "0.6.1/etcdoperator.clusterserviceversion.yaml",
             FX_ETCD_CSV("0.6.1", "etcdclusters", "EtcdCluster"));
    fx_write(d, "0.9.2/etcdbackup.crd.yaml", FX_ETCD_CRD("etcdbackups", "EtcdBackup"));
    fx_write(d, "0.9.2/etcdoperator.v0.9.2.clusterserviceversion.yaml",
             FX_ETCD_CSV("0.9.2", "etcdbackups", "EtcdBackup"));
    return d;
}

#endif
