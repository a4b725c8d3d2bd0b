/* tagglob.h — the tag globs of a mirror (TAG_GLOB, `tag_globs` in ORG_MIRROR_CONFIG): parsed,
 * checked, matched, and compared with a Quay mirror config's root_rule. Pure. */
#ifndef ORGM_TAGGLOB_H
#define ORGM_TAGGLOB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define ORGM_GLOB_MAX 128 /* longest glob (Quay's longest tag) */
#define ORGM_GLOBS_MAX 64 /* most globs in one list */

/** A list of fnmatch globs (`*`, `?`, `[...]`), in the order given, without duplicates. */
typedef struct {
    char **v;
    size_t n;
} orgm_globs;

/** Parse TAG_GLOB: the seed's JSON array string (`[ "*" ]`, also wrapped in one pair of
 *  single or double quotes as a shell-quoted ConfigMap value leaves it) or a comma list
 *  (`*, v1.*`). Duplicates are dropped. 0, or QS_EINVAL with the reason in `err` (not a
 *  list of strings, empty list, an empty or invalid glob, more than ORGM_GLOBS_MAX). `out` is
 *  left empty on error. */
int orgm_globs_parse(const char *text, orgm_globs *out, char *err, size_t errlen);
/** The same from a YAML value: a string (parsed as above) or an array of strings. */
int orgm_globs_from_json(const json_t *v, orgm_globs *out, char *err, size_t errlen);
/** Is `g` a usable glob: 1..ORGM_GLOB_MAX characters out of the tag alphabet
 *  `[A-Za-z0-9_.-]` and the glob characters `* ? [ ] !`, brackets balanced? */
bool orgm_glob_valid(const char *g);
/** Does `tag` match any glob (fnmatch, no flags — the rule Quay's mirror worker applies)? */
bool orgm_globs_match(const orgm_globs *g, const char *tag);
/** A new JSON array of the globs (NULL on ENOMEM). */
json_t *orgm_globs_to_json(const orgm_globs *g);
/** Does the JSON array `arr` hold the same globs (as a set: order and repeats ignored)? */
bool orgm_globs_equal_json(const orgm_globs *g, const json_t *arr);
/** "*, v1.*" into out (truncated to fit). */
void orgm_globs_format(const orgm_globs *g, char *out, size_t outlen);
/** Deep copy. 0 or QS_ENOMEM. */
int orgm_globs_copy(orgm_globs *dst, const orgm_globs *src);
void orgm_globs_free(orgm_globs *g);

#endif
