/* naming.h — the mirror's pure naming rules: image references, image stream tags, and the tags
 * written to the destination (`<ns>_<name>_<tag>`, `<YYYYMMDD>_sha256_<hex>`, prune backups).
 *
 * Nothing here allocates or talks to the network; every function writes into caller buffers
 * and returns 0 or a negative qs_err (QS_EINVAL for malformed input, QS_ETOOBIG when the
 * result does not fit the buffer or the registry's limits). */
#ifndef MIRROR_NAMING_H
#define MIRROR_NAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Limits of the distribution spec (reference/reference.go). */
#define MIRROR_HOST_MAX 255   /* host[:port] */
#define MIRROR_REPO_MAX 255   /* repository path, without the host */
#define MIRROR_TAG_MAX 128    /* a tag */
#define MIRROR_DIGEST_MAX 135 /* "sha512:" + 128 hex */

/* ---- image references ---- */

/** A parsed image reference `[host[:port]/]repo[:tag][@digest]`. Empty strings are absent. */
typedef struct {
    char host[MIRROR_HOST_MAX + 1];     /* registry host (with :port); never empty after parse */
    char repo[MIRROR_REPO_MAX + 1];     /* repository path, e.g. "openshift/ci" */
    char tag[MIRROR_TAG_MAX + 1];       /* "" when the reference has no tag */
    char digest[MIRROR_DIGEST_MAX + 1]; /* "sha256:<hex>", "" when absent */
} mirror_ref;

/** Parse `s` with docker's rules: the first path component is a registry host when it
 *  contains '.' or ':', is "localhost", or has an upper-case letter; otherwise the reference
 *  lives on `default_host` (NULL means "docker.io"). On docker.io a single-component
 *  repository gets docker's "library/" prefix. Neither tag nor digest is defaulted (see
 *  mirror_ref_reference). Returns 0 or QS_EINVAL (bad host, repository, tag or digest). */
int mirror_ref_parse(mirror_ref *out, const char *s, const char *default_host);
/** Write "host/repo[:tag][@digest]" into out. 0 or QS_ETOOBIG. */
int mirror_ref_format(const mirror_ref *ref, char *out, size_t outlen);
/** Write "host/repo" into out. 0 or QS_ETOOBIG. */
int mirror_ref_name(const mirror_ref *ref, char *out, size_t outlen);
/** What to put in `/v2/<repo>/manifests/<reference>`: the digest when there is one, else the
 *  tag, else "latest" (what docker pulls for a bare name). */
const char *mirror_ref_reference(const mirror_ref *ref);

/** Is `s` a valid tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`? */
bool mirror_tag_valid(const char *s);
/** Is `s` a valid repository path: components `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` joined by
 *  '/', at most 255 characters in all? */
bool mirror_repo_valid(const char *s);
/** Is `s` a valid digest: "sha256:" + 64 or "sha512:" + 128 lower-case hex digits? */
bool mirror_digest_valid(const char *s);

/* ---- image stream tags ---- */

/** An image stream tag `ns/name:tag`, the keys of the config and of the destination tags. */
typedef struct {
    char ns[254];
    char name[254];
    char tag[MIRROR_TAG_MAX + 1];
} mirror_istag;

/** Parse "ns/name:tag" with the original's `validateTargetISTag` rule: exactly one '/' with
 *  non-empty sides, and exactly one ':' after it with non-empty sides. Returns 0, QS_EINVAL,
 *  or QS_ETOOBIG when a part is longer than the fields above. */
int mirror_istag_parse(mirror_istag *out, const char *s);
/** The destination tag of an image stream tag: "<ns>_<name>_<tag>" (the original's
 *  QuayImage / targetToQuayImage). 0, QS_EINVAL (not a valid tag: too long or a bad
 *  character) or QS_ETOOBIG (buffer). */
int mirror_qci_tag(const mirror_istag *ist, char *out, size_t outlen);

/* ---- tags that keep quay.io's garbage collection away ---- */

/** "<YYYYMMDD>_sha256_<hex>" for `digest` ("sha256:<64 hex>") on the UTC date of `when`
 *  (the seed's second tag, QuayImageFromDateAndDigest). 0, QS_EINVAL or QS_ETOOBIG. */
int mirror_date_digest_tag(time_t when, const char *digest, char *out, size_t outlen);
/** "<YYYYMMDDHHMMSS>_prune___ci_images_mirror__<float>" (UTC) for the destination tag `float_tag`
 *  (e.g. "ci_boskos_latest"): the tag that keeps the old image of `float_tag` before it is
 *  overwritten. 0; QS_EINVAL when `float_tag` is not a valid tag or the result would exceed
 *  128 characters (floats longer than 87 characters get no backup); QS_ETOOBIG (buffer). */
int mirror_prune_tag(time_t when, const char *float_tag, char *out, size_t outlen);
/** Is `tag` a prune backup (`^[0-9]{14}_prune_.+`, either shape)? On success *when (may be
 *  NULL) is its UTC time, as the openshift/release pruner reads it. */
bool mirror_prune_tag_parse(const char *tag, time_t *when);

#endif
