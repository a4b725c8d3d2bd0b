/* bundle.h — what operator-courier pushes to Quay's App Registry (reference/omps.md §B.5,
 * §F.4): the flat `bundle.yaml` or the nested tree, as a tar.gz under one top directory
 * `<repo>-<random>/`, base64-encoded into the CNR push body
 * `{"blob": ..., "release": ..., "media_type": "helm"}`. */
#ifndef OMPS_BUNDLE_H
#define OMPS_BUNDLE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "omps/manifests.h"
#include "shared/buf.h"

/* Bounds: the uncompressed tar, and the name of the top directory. */
#define OMPS_BUNDLE_MAX_TAR ((size_t)64 * 1024 * 1024)
#define OMPS_BUNDLE_TOP_MAX 300

/** Options; OMPS_BUNDLE_OPTS_INIT is what a push uses. */
typedef struct {
    const char *top_dir; /* NULL: "<repo>-" + 8 random hex digits (courier: mkdtemp's suffix) */
    int64_t mtime;       /* every entry's modification time; 0 keeps the archive reproducible */
    size_t max_tar;      /* 0: OMPS_BUNDLE_MAX_TAR */
} omps_bundle_opts;

#define OMPS_BUNDLE_OPTS_INIT                                                                      \
    { NULL, 0, 0 }

/** The files courier deletes from a nested tree before packing, by base name, anywhere. */
extern const char *const omps_bundle_blacklist[];

/** Append the flat layout's bundle.yaml to out: courier's format_bundle then
 *  `yaml.dump(..., default_flow_style=False)` — `data` with clusterServiceVersions,
 *  customResourceDefinitions and packages, each the YAML of its document list as a literal
 *  block string (`''` when empty), keys sorted, CSV `metadata.annotations.alm-examples` and
 *  `spec.description` as literal blocks. Uses m->bundles[0]. QS_EINVAL when m is nested. */
int omps_bundle_yaml(const omps_manifests *m, qs_buf *out, char *err, size_t errlen);

/** Build the tar.gz: flat → `<top>/` and `<top>/bundle.yaml`; nested → `<top>/` and the tree
 *  of src_dir (every file and directory, in byte order of names, depth-first, without the
 *  blacklisted files). ustar entries (PAX records for names over 100 bytes or not ASCII),
 *  directories 0755, files 0644, owner 0/0, the archive padded to 10240 bytes as Python's
 *  tarfile does, gzip level 9. *out is malloc'd; top_out (may be NULL, OMPS_BUNDLE_TOP_MAX
 *  bytes) receives the top directory's name. 0, QS_EINVAL, QS_ETOOBIG (over max_tar or too
 *  many files), QS_ERR (I/O) or QS_ENOMEM. */
int omps_bundle_targz(const omps_manifests *m, const char *src_dir, const char *repo,
                      const omps_bundle_opts *opts, unsigned char **out, size_t *outlen,
                      char *top_out, char *err, size_t errlen);

/** The CNR push body for a tar.gz: {"blob": base64 (standard, padded, no newlines),
 *  "release", "media_type": "helm"}. NULL on ENOMEM. */
json_t *omps_bundle_push_body(const unsigned char *targz, size_t len, const char *release);

/** omps_bundle_targz then omps_bundle_push_body: the JSON courier POSTs to
 *  `/cnr/api/v1/packages/<namespace>/<repo>`. */
int omps_bundle_push_json(const omps_manifests *m, const char *src_dir, const char *repo,
                          const char *release, const omps_bundle_opts *opts, json_t **out,
                          char *err, size_t errlen);

#endif
