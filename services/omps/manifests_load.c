/* manifests_load.c — operator-courier's reading of a manifest directory (§B.1).
 *
 * courier (verified_manifest.get_manifests_info + manifest_parser) first scans the root's
 * YAML files for CSVs and the one package (a second package, or none, stops everything), then
 * asks of every immediate subdirectory whether it holds a CSV: any such "manifest folder"
 * makes the layout nested, one bundle per folder made of that folder's CRDs and CSVs plus the
 * root package; otherwise a root with a package and a CSV is flat, one bundle of the root's
 * package, CRDs and CSVs; anything else is refused. A YAML file is identified by
 * `splitext(name)[1] in ('.yaml', '.yml')`, must be one valid document (else "Courier requires
 * valid input YAML files"), and is a package when it is a mapping with `packageName`, else a
 * CRD/CSV by `kind`, else ignored. We do the same in byte order of names (courier used
 * os.listdir's order, which the file system decides), and remember which file was at fault,
 * which courier never said. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "omps/manifests.h"
#include "shared/common.h"

#define MSG_BAD_YAML "Courier requires valid input YAML files"
#define MSG_TWO_PKGS "Only 1 package is expected to exist in source root folder."
#define MSG_NO_PKG "Bundle does not contain any packages."
#define MSG_LAYOUT                                                                                 \
    "The source directory structure is not in valid flat or nested format,because no valid CSV "   \
    "file is found in root or manifest directories."
#define BAD_FILE_MAX 256

typedef enum { ART_UNKNOWN, ART_PACKAGE, ART_CRD, ART_CSV } artifact;

/* identify.get_operator_artifact_type */
static artifact classify(const json_t *doc) {
    if (!json_is_object(doc))
        return ART_UNKNOWN;
    if (json_object_get(doc, "packageName"))
        return ART_PACKAGE;
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    if (kind && !strcmp(kind, "CustomResourceDefinition"))
        return ART_CRD;
    if (kind && !strcmp(kind, "ClusterServiceVersion"))
        return ART_CSV;
    return ART_UNKNOWN;
}

typedef struct {
    json_t *crds, *csvs; /* documents of one folder, by name */
    json_t *pkg;         /* root only: the package (borrowed from the folder's scan) */
    char *pkg_name;
} folder_scan;

typedef struct {
    char *err;
    size_t errlen;
    char *bad_file;
    size_t seen;
} load_ctx;

static int load_fail(load_ctx *c, int rc, const char *msg, const char *rel) {
    if (c->err && c->errlen)
        snprintf(c->err, c->errlen, "%s", msg);
    if (c->bad_file) { /* cut to BAD_FILE_MAX - 1 bytes */
        size_t n = rel ? strnlen(rel, BAD_FILE_MAX - 1) : 0;
        memcpy(c->bad_file, rel ? rel : "", n);
        c->bad_file[n] = '\0';
    }
    return rc;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the entries of dir of type 'f' (regular) or 'd' (directory). */
static int list(const char *dir, char want, char ***out, size_t *n, load_ctx *c) {
    DIR *d = opendir(dir);
    *out = NULL;
    *n = 0;
    if (!d)
        return load_fail(c, errno == ENOENT ? QS_ENOTFOUND : QS_ERR, "cannot list directory", NULL);
    size_t cap = 0;
    int rc = QS_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && rc == QS_OK) {
        char path[4096];
        struct stat st;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
            (size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path ||
            lstat(path, &st) != 0 || (want == 'f' ? !S_ISREG(st.st_mode) : !S_ISDIR(st.st_mode)))
            continue;
        if (++c->seen > OMPS_MANIFEST_MAX_FILES) {
            rc = load_fail(c, QS_ETOOBIG, "too many files", NULL);
            break;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            char **p = realloc(*out, cap * sizeof *p);
            if (!p) {
                rc = QS_ENOMEM;
                break;
            }
            *out = p;
        }
        if (!((*out)[*n] = strdup(e->d_name)))
            rc = QS_ENOMEM;
        else
            (*n)++;
    }
    closedir(d);
    if (*n)
        qsort(*out, *n, sizeof **out, cmp_names);
    return rc;
}

static void free_list(char **names, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static void scan_free(folder_scan *s) {
    json_decref(s->crds);
    json_decref(s->csvs);
    json_decref(s->pkg);
    free(s->pkg_name);
    memset(s, 0, sizeof *s);
}

/* Parse and classify the YAML files of one folder (`rel` "" for the root). At the root a
 * package is kept (a second one is courier's error); elsewhere packages are ignored. */
static int scan_folder(const char *dir, const char *rel, bool root, folder_scan *s, load_ctx *c) {
    char **names = NULL;
    size_t n = 0;
    s->crds = json_array();
    s->csvs = json_array();
    int rc = s->crds && s->csvs ? list(dir, 'f', &names, &n, c) : QS_ENOMEM;
    for (size_t i = 0; rc == QS_OK && i < n; i++) {
        char path[4096], relpath[4096];
        json_t *doc = NULL;
        if (!omps_is_yaml_name(names[i]))
            continue;
        snprintf(relpath, sizeof relpath, "%s%s%s", rel, *rel ? "/" : "", names[i]);
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= sizeof path) {
            rc = load_fail(c, QS_ETOOBIG, "path too long", relpath);
            break;
        }
        int lrc = omps_yaml_load_one(path, &doc, NULL, 0);
        if (lrc != QS_OK) {
            rc = lrc == QS_ENOMEM ? lrc : load_fail(c, QS_EINVAL, MSG_BAD_YAML, relpath);
            break;
        }
        artifact a = classify(doc);
        if (a == ART_PACKAGE && root && s->pkg) {
            json_decref(doc);
            rc = load_fail(c, QS_EINVAL, MSG_TWO_PKGS, relpath);
            break;
        }
        if (a == ART_PACKAGE && root) {
            s->pkg = doc;
            s->pkg_name = strdup(names[i]);
            rc = s->pkg_name ? QS_OK : QS_ENOMEM;
            continue;
        }
        if (a == ART_CRD || a == ART_CSV)
            rc = json_array_append(a == ART_CRD ? s->crds : s->csvs, doc) == 0 ? QS_OK : QS_ENOMEM;
        json_decref(doc);
    }
    free_list(names, n);
    return rc;
}

static int add_bundle(omps_manifests *m, const char *dir, folder_scan *s, json_t *pkg) {
    omps_bundle_docs *b = realloc(m->bundles, (m->n_bundles + 1) * sizeof *b);
    if (!b)
        return QS_ENOMEM;
    m->bundles = b;
    b = &m->bundles[m->n_bundles];
    memset(b, 0, sizeof *b);
    b->dir = strdup(dir);
    b->packages = json_array();
    if (!b->dir || !b->packages || json_array_append(b->packages, pkg) != 0) {
        free(b->dir);
        json_decref(b->packages);
        return QS_ENOMEM;
    }
    b->crds = json_incref(s->crds);
    b->csvs = json_incref(s->csvs);
    m->n_bundles++;
    return QS_OK;
}

/* Every immediate subdirectory: parsed in full; those with a CSV become nested bundles. */
static int scan_subdirs(const char *dir, omps_manifests *m, json_t *pkg, load_ctx *c) {
    char **subs = NULL;
    size_t n = 0;
    int rc = list(dir, 'd', &subs, &n, c);
    for (size_t i = 0; rc == QS_OK && i < n; i++) {
        char path[4096];
        folder_scan s = {0};
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, subs[i]) >= sizeof path) {
            rc = load_fail(c, QS_ETOOBIG, "path too long", subs[i]);
            break;
        }
        rc = scan_folder(path, subs[i], false, &s, c);
        if (rc == QS_OK && json_array_size(s.csvs) > 0)
            rc = add_bundle(m, subs[i], &s, pkg);
        scan_free(&s);
    }
    free_list(subs, n);
    return rc;
}

int omps_manifests_load(const char *dir, omps_manifests **out, char *err, size_t errlen,
                        char *bad_file) {
    load_ctx c = {err, errlen, bad_file, 0};
    folder_scan root = {0};
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (bad_file)
        bad_file[0] = '\0';
    omps_manifests *m = calloc(1, sizeof *m);
    if (!m)
        return QS_ENOMEM;
    int rc = scan_folder(dir, "", true, &root, &c);
    if (rc == QS_OK && !root.pkg)
        rc = load_fail(&c, QS_EINVAL, MSG_NO_PKG, NULL);
    if (rc == QS_OK)
        rc = scan_subdirs(dir, m, root.pkg, &c);
    if (rc == QS_OK) {
        m->nested = m->n_bundles > 0;
        if (!m->nested && json_array_size(root.csvs) > 0)
            rc = add_bundle(m, "", &root, root.pkg);
        else if (!m->nested)
            rc = load_fail(&c, QS_EINVAL, MSG_LAYOUT, NULL);
    }
    if (rc == QS_OK) {
        m->package_file = root.pkg_name;
        root.pkg_name = NULL;
    }
    scan_free(&root);
    if (rc != QS_OK) {
        if (rc == QS_ENOMEM && err && errlen)
            snprintf(err, errlen, "out of memory");
        omps_manifests_free(m);
        return rc;
    }
    *out = m;
    return QS_OK;
}

void omps_manifests_free(omps_manifests *m) {
    if (!m)
        return;
    for (size_t i = 0; i < m->n_bundles; i++) {
        free(m->bundles[i].dir);
        json_decref(m->bundles[i].crds);
        json_decref(m->bundles[i].csvs);
        json_decref(m->bundles[i].packages);
    }
    free(m->bundles);
    free(m->package_file);
    free(m);
}
