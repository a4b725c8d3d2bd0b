/* re2posix.h — the config's Go (RE2) regular expressions, matched with POSIX regcomp.
 *
 * The openshift/release config writes `artImages` patterns for Go's regexp package (RE2), e.g.
 * `^\d+\.\d+$`. POSIX extended regular expressions have no `\d`, so patterns are translated
 * first; see re2posix.c for exactly what is translated and what is refused. Matching is
 * unanchored, like Go's MatchString. */
#ifndef MIRROR_RE2POSIX_H
#define MIRROR_RE2POSIX_H

#include <stdbool.h>
#include <stddef.h>

#include "shared/buf.h"

typedef struct mirror_regex mirror_regex;

/** Translate RE2 `pattern` into a POSIX ERE appended to `out`; *icase is set when the pattern
 *  starts with `(?i)`. Returns 0, or QS_EINVAL with a reason in err (a construct POSIX cannot
 *  express), or QS_ENOMEM. */
int mirror_regex_translate(const char *pattern, qs_buf *out, bool *icase, char *err, size_t errlen);
/** Translate and compile `pattern` (REG_EXTENDED | REG_NOSUB). 0 and *out, or QS_EINVAL with
 *  the translation or regcomp error in err, or QS_ENOMEM. */
int mirror_regex_compile(mirror_regex **out, const char *pattern, char *err, size_t errlen);
/** Does the pattern match anywhere in `s`? Thread-safe. */
bool mirror_regex_match(const mirror_regex *re, const char *s);
/** The pattern as written in the config. */
const char *mirror_regex_pattern(const mirror_regex *re);
/** The POSIX ERE it was translated into. */
const char *mirror_regex_posix(const mirror_regex *re);
void mirror_regex_free(mirror_regex *re);

#endif
