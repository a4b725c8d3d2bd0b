/* mirror_config.h — the mirror's YAML config (`MIRROR_CONFIG`), the `_config.yaml` of
 * openshift/release core-services/image-mirroring (reference/citools.md §2.3):
 *
 *   supplementalCIImages:   # target istag -> source (an image pull spec, or an istag)
 *     ns/name:tag: {image: <pull spec>}  |  {namespace: .., name: .., tag: ..}
 *   qciToAppCIImages:       # source-registry istag to backfill -> {image: <QCI pull spec>} | {}
 *   ignoredSources:         # sources never mirrored: [{image | namespace,name,tag; reason}]
 *   artImages:              # [{namespace, name: <regex>, tag: <regex, optional>}]
 *
 * Loading validates everything and reports every problem at once; a config with any error is
 * refused as a whole (no partial config), as the original does. */
#ifndef MIRROR_CONFIG_H
#define MIRROR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "mirror/naming.h"
#include "mirror/re2posix.h"
#include "shared/config.h"

/** Where istag sources live and what a QCI pull spec looks like. Strings are copied. */
typedef struct {
    const char *source_registry;     /* host of istag sources ("registry.ci.openshift.org") */
    const char *qci_repository;      /* the QCI repository ("quay.io/openshift/ci") */
    const char *qci_pull_repository; /* its pull-through name, the default image of a
                                        qciToAppCIImages entry; NULL: qci_repository */
} mirror_config_opts;

#define MIRROR_CONFIG_OPTS_INIT                                                                    \
    {                                                                                              \
        "registry.ci.openshift.org", "quay.io/openshift/ci",                                       \
            "quay-proxy.ci.openshift.org/openshift/ci"                                             \
    }

/** A source, as the original's `Source`: an image pull spec, or an istag on the source
 *  registry. Unset (or empty) fields are NULL. */
typedef struct {
    char *ns;    /* `namespace` */
    char *name;  /* `name` */
    char *tag;   /* `tag` */
    char *as;    /* `as` (always NULL in a loaded config: it must not be set) */
    char *image; /* `image`: a pull spec; wins over the istag fields when set */
} mirror_source;

/** One `supplementalCIImages` or `qciToAppCIImages` entry. */
typedef struct {
    char *key;            /* the map key as written, "ns/name:tag" */
    mirror_istag target;  /* the key, parsed */
    mirror_source source; /* for qciToAppCIImages: only `image`, defaulted from the key */
} mirror_entry;

/** One `ignoredSources` entry. */
typedef struct {
    mirror_source source;
    char *reason;
} mirror_ignored;

/** One `artImages` rule: image streams of `ns` whose name matches `name`, and of those the
 *  tags that match `tag` (every tag when `tag` is NULL). */
typedef struct {
    char *ns;
    mirror_regex *name;
    mirror_regex *tag;
} mirror_art_rule;

typedef struct mirror_config mirror_config;

/** Read the file at `path` (gzip-compressed or not) and load it as mirror_config_parse.
 *  Returns the number of errors added to `errors` (0: success and *out is set). */
size_t mirror_config_load(mirror_config **out, const char *path, const mirror_config_opts *opts,
                          qs_conf *errors);
/** Parse and validate config text (gzip accepted). `opts` NULL means MIRROR_CONFIG_OPTS_INIT.
 *  Every problem is recorded in `errors` (qs_conf_error_count / qs_conf_error_at), each
 *  message naming where it is (e.g. "supplementalCIImages[a/b:c].imgae: unknown setting").
 *  Field names match case-insensitively, like Go's encoding/json (`Name` and `name`).
 *  On success the ignored sources have been dropped from both maps (and logged), entries are
 *  sorted by key, and *out is set; on any error *out is NULL. Returns the number of errors. */
size_t mirror_config_parse(mirror_config **out, const char *text, size_t len,
                           const mirror_config_opts *opts, qs_conf *errors);
void mirror_config_free(mirror_config *cfg);

size_t mirror_config_supplemental_count(const mirror_config *cfg);
const mirror_entry *mirror_config_supplemental_at(const mirror_config *cfg, size_t i);
size_t mirror_config_qci_count(const mirror_config *cfg);
const mirror_entry *mirror_config_qci_at(const mirror_config *cfg, size_t i);
size_t mirror_config_ignored_count(const mirror_config *cfg);
const mirror_ignored *mirror_config_ignored_at(const mirror_config *cfg, size_t i);
size_t mirror_config_art_count(const mirror_config *cfg);
const mirror_art_rule *mirror_config_art_at(const mirror_config *cfg, size_t i);

/** Does the rule take image stream `name` (and, when `tag` is not NULL, that tag of it)? */
bool mirror_art_match(const mirror_art_rule *rule, const char *name, const char *tag);

/** Is `src` one of the config's ignored sources (the original's four `ignored()` rules, with
 *  the configured source registry)? *reason (may be NULL) gets the entry's reason or "". */
bool mirror_config_is_ignored(const mirror_config *cfg, const mirror_source *src,
                              const char **reason);

/** The pull spec of a source: `image`, or "<source_registry>/<ns>/<name>:<tag>".
 *  0 or QS_ETOOBIG. */
int mirror_config_source_pull_spec(const mirror_config *cfg, const mirror_source *src, char *out,
                                   size_t outlen);

#endif
