/* copy.h — the image copy engine: copy one image reference from a registry to another.
 *
 * A copy reads the source manifest once and HEADs the destination: equal digests mean the
 * image is already there and nothing else happens. Otherwise manifest lists and indexes are
 * kept whole (every platform, digest preserved; an option keeps only some platforms, which
 * rewrites the list and so changes its digest), every blob is skipped when the destination has
 * it, mounted when another repository of the same registry has it, or streamed from source to
 * destination with bounded memory and its sha256 checked on the way; up to `max_blobs` at once.
 * Only when every blob is in place are the manifests pushed: children by digest first, the list
 * (or image) last under the destination reference. A blob whose bytes do not match its digest
 * fails the copy with QS_EDIGEST and nothing is tagged. Schema 1 manifests are refused.
 *
 * Progress is also counted in process metrics: quayside_copy_bytes_total (bytes streamed into
 * destination uploads, as they go), quayside_copy_blobs_copied_total,
 * quayside_copy_blobs_skipped_total, quayside_copy_blobs_mounted_total,
 * quayside_copy_manifests_pushed_total. */
#ifndef QS_COPY_H
#define QS_COPY_H

#include <stdbool.h>
#include <stdint.h>

#include "shared/digest.h"
#include "shared/registry.h"

/** One image: a registry, a repository and a tag or digest. All borrowed. */
typedef struct {
    qs_registry *reg;
    const char *repo; /* "openshift/ci" */
    const char *ref;  /* "latest" or "sha256:…" */
} qs_image_ref;

typedef struct {
    int max_blobs;                 /* blobs in flight at once; default 6 */
    int blob_attempts;             /* tries per blob stream (transport, 5xx, 429); default 3 */
    long backoff_base_ms;          /* retry backoff (full jitter, doubling); default 500 */
    long backoff_max_ms;           /* cap, also of a Retry-After; default 10000 */
    bool dry_run;                  /* read and HEAD only; the result says what would be done */
    const char *const *platforms;  /* keep only these "os/arch[/variant]" of a list (NULL-
                                      terminated); NULL = every platform, list kept byte-exact */
    const char *const *mount_from; /* repositories of the destination registry to try mounting
                                      blobs from, in order (NULL-terminated; may be NULL). The
                                      source repository is added when source and destination
                                      are the same host. */
    const char *const *also_tags;  /* more destination tags for the same manifest (NULL-
                                      terminated; may be NULL); pushed after the main ref */
} qs_copy_opts;

#define QS_COPY_OPTS_INIT                                                                          \
    { 6, 3, 500, 10000, false, NULL, NULL, NULL }

typedef struct {
    char digest[QS_DIGEST_STR_LEN + 1]; /* digest of the destination's top manifest */
    qs_mkind kind;                      /* kind of the top manifest */
    bool up_to_date;                    /* the destination already had it: nothing was done */
    bool dry_run;                       /* the counts below are what a copy would do */
    int64_t blobs_copied;               /* streamed from the source */
    int64_t blobs_skipped;              /* already at the destination */
    int64_t blobs_mounted;              /* mounted from another repository */
    int64_t bytes_copied;               /* bytes of the blobs copied */
    int64_t manifests_pushed;           /* manifests PUT (children, list, extra tags) */
    int64_t blob_retries;               /* extra attempts made after failed blob streams */
    char error[256];                    /* why the copy failed ("" on success); no secrets */
} qs_copy_result;

/** Copy `src` to `dst` (see the top of this file). `opts` may be NULL (defaults).
 *  0 on success (also when up to date), or: QS_EINVAL (bad arguments; a schema 1 or unknown
 *  manifest type — res->error says which), QS_ENOTFOUND (source missing, or no manifest for
 *  the platforms asked for), QS_EDIGEST (content did not match its digest; nothing tagged),
 *  QS_EAUTH / QS_EDENIED / QS_EUNAVAIL / QS_EPROTO from either registry. */
int qs_copy_image(const qs_image_ref *src, const qs_image_ref *dst, const qs_copy_opts *opts,
                  qs_copy_result *res);

#endif
