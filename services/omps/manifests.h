/* manifests.h — an extracted operator-manifest directory: OMPS's rewrites (package name and
 * its per-organization suffix, registry replacement, CSV annotations; reference/omps.md §A.5,
 * §A.7) and operator-courier's view of it (flat or nested layout, the parsed CRDs, CSVs and
 * package of every bundle; §B.1).
 *
 * The directory is trusted to be a safe extraction (zip_check): regular files and
 * directories only. The pure functions take an organization's settings as omps_org_settings
 * (filled by the caller from the YAML configuration) and touch no files. Errors: 0 or a
 * negative qs_err; where OMPS or courier has a message for the failure, it is written into
 * `err` exactly (QS_EINVAL), otherwise err says what went wrong. */
#ifndef OMPS_MANIFESTS_H
#define OMPS_MANIFESTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Bounds of one manifest directory. */
#define OMPS_MANIFEST_FILE_MAX ((size_t)16 * 1024 * 1024) /* bytes of one YAML file */
#define OMPS_MANIFEST_MAX_FILES 4096                      /* files looked at in one walk */
#define OMPS_MANIFEST_MAX_DEPTH 32                        /* directory levels walked */

/* ---- an organization's settings (OMPS ORGANIZATIONS entry, the parts touching files) ---- */

/** One `replace_registry` rule. */
typedef struct {
    const char *old_text; /* text to find, or a POSIX extended regular expression */
    const char *new_text; /* replacement; for a regexp rule a template: \1..\99, \g<N>, \\ */
    bool regexp;          /* `regexp: true` */
} omps_replace_rule;

/** One `csv_annotations` entry; value is a Python format string ("{package_name}"). */
typedef struct {
    const char *name;
    const char *value;
} omps_csv_annotation;

typedef struct {
    const omps_replace_rule *replace_registry; /* in configuration order */
    size_t n_replace;
    const char *package_name_suffix; /* NULL or "" when not set */
    const omps_csv_annotation *csv_annotations;
    size_t n_annotations;
} omps_org_settings;

/* ---- pure rules ---- */

/** Check an organization's rules once at start: every regexp compiles (REG_EXTENDED |
 *  REG_NEWLINE), every replacement template only names groups the pattern has, no `old` is
 *  empty, every annotation value formats. 0 or QS_EINVAL naming the rule. */
int omps_org_settings_check(const omps_org_settings *org, char *err, size_t errlen);

/** OMPS's `replace_registries` on one text: the rules in order, a plain rule replacing every
 *  occurrence, a regexp rule as Python's `re.sub(old, new, text, flags=re.MULTILINE)` but
 *  with POSIX ERE (see manifests.c for the differences). *out is malloc'd (length *outlen).
 *  0, QS_EINVAL (bad rule), QS_ETOOBIG (result over OMPS_MANIFEST_FILE_MAX) or QS_ENOMEM. */
int omps_replace_registries(const omps_org_settings *org, const char *text, size_t len, char **out,
                            size_t *outlen, char *err, size_t errlen);

/** Python's `tmpl.format(package_name=...)`: `{package_name}` (also `!s`, `!r`), `{{`, `}}`.
 *  Any other field, a format spec or an unmatched brace is QS_EINVAL with Python's message
 *  (OMPS answered those 500). *out is malloc'd. */
int omps_format_annotation(const char *tmpl, const char *package_name, char **out, char *err,
                           size_t errlen);

/** The package name with the organization's suffix: name + suffix unless name already ends
 *  with it. malloc'd; NULL on ENOMEM. */
char *omps_apply_suffix(const char *name, const char *suffix);

/** Set the organization's csv_annotations on one parsed document when its `kind` is
 *  ClusterServiceVersion (metadata and metadata.annotations are created when absent; an
 *  existing key is overwritten). *changed says whether the document is a CSV that was
 *  annotated. QS_EINVAL when the document is not a mapping, metadata/annotations is not a
 *  mapping, or a value does not format (OMPS: 500 InternalServerError). */
int omps_csv_annotate(const omps_org_settings *org, json_t *doc, const char *package_name,
                      bool *changed, char *err, size_t errlen);

/** courier's / Python's file name rules: `os.path.splitext(name)[1] in ('.yaml', '.yml')`
 *  (case-sensitive; a leading dot starts no extension, so ".yaml" is not YAML). */
bool omps_is_yaml_name(const char *name);

/** Parse one manifest file the way PyYAML's safe_load would accept it: a single document
 *  (a second `---` document is an error, as in courier), UTF-8, ≤ OMPS_MANIFEST_FILE_MAX. An
 *  empty file is JSON null. 0, QS_EINVAL (not valid YAML; reason in err), QS_ETOOBIG, or
 *  QS_ENOTFOUND/QS_ERR when it cannot be read. */
int omps_yaml_load_one(const char *path, json_t **out, char *err, size_t errlen);

/* ---- the directory steps of OMPS's push, in its order (§A.3 steps 5, 7, 8) ---- */

/** §A.5: the first top-level `*.yaml`/`*.yml` file (sorted names, case-sensitive suffix)
 *  holding `packageName` gives the name; with a suffix not already there, the file is
 *  rewritten in place with only that value changed (comments and order kept) and the
 *  suffixed name returned. *name is malloc'd. QS_EINVAL with OMPS's message ("Failed to
 *  process yaml file /<name>" — a file that cannot be parsed or is not a mapping, even when a
 *  later file would match — or "Could not find packageName in manifests."); QS_ERR/QS_ENOMEM
 *  for I/O. */
int omps_package_name(const char *dir, const char *suffix, char **name, char *err, size_t errlen);

/** §A.7: omps_replace_registries over every file under dir (recursive) whose name ends in
 *  .yml/.yaml in any case. No-op without rules. */
int omps_replace_registries_dir(const char *dir, const omps_org_settings *org, char *err,
                                size_t errlen);

/** §A.7: omps_csv_annotate on every YAML file under dir (same walk); an annotated CSV is
 *  written back as block YAML in its own key order, width 200 (comments are not kept). A file
 *  that does not parse or is not a mapping is QS_EINVAL naming it (OMPS: 500). No-op without
 *  annotations. */
int omps_csv_annotations_dir(const char *dir, const omps_org_settings *org,
                             const char *package_name, char *err, size_t errlen);

/* ---- courier's view: layout detection and parsed bundles (§B.1) ---- */

/** One bundle courier validates: the flat root, or one version folder of a nested tree. */
typedef struct {
    char *dir;        /* version folder name; "" for the flat layout */
    json_t *crds;     /* array of CustomResourceDefinition documents, by file name */
    json_t *csvs;     /* array of ClusterServiceVersion documents, by file name */
    json_t *packages; /* array holding the root package document */
} omps_bundle_docs;

typedef struct {
    bool nested;
    size_t n_bundles;
    omps_bundle_docs *bundles; /* one (flat) or one per version folder, by folder name */
    char *package_file;        /* the package's file name at the root */
} omps_manifests;

/** Load dir as courier does: root YAML files give the CSVs and exactly one package; an
 *  immediate subdirectory holding at least one CSV is a version folder (nested layout; deeper
 *  levels and other folders are ignored, but every YAML file of every immediate subdirectory
 *  must parse); without version folders the root needs a package and a CSV (flat). Names are
 *  taken in byte order (courier used the file system's order). On QS_EINVAL err holds
 *  courier's exact message — "Courier requires valid input YAML files", "Only 1 package is
 *  expected to exist in source root folder.", "Bundle does not contain any packages.", "The
 *  source directory structure is not in valid flat or nested format,because no valid CSV file
 *  is found in root or manifest directories." — and bad_file (may be NULL, ≥ 256 bytes) the
 *  relative path of the file at fault, when there is one (courier did not say). */
int omps_manifests_load(const char *dir, omps_manifests **out, char *err, size_t errlen,
                        char *bad_file);
void omps_manifests_free(omps_manifests *m);

#endif
