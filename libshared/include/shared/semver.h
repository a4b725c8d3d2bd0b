/* semver.h — OMPS release versions: strict "<major>.<minor>.<patch>", compare, format, and the
 * "next major" rule used when a push names no version. Pure functions, no allocation.
 *
 * The accepted form is exactly OMPS's regular expression QS_SEMVER_RELEASE_REGEX: three
 * decimal numbers without leading zeros, no sign, no pre-release or build suffix. */
#ifndef QS_SEMVER_H
#define QS_SEMVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** OMPS's rule, verbatim (it appears in OMPSInvalidVersionFormat messages). */
#define QS_SEMVER_RELEASE_REGEX "^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)$"
/** Room for the longest formatted version: three 20-digit numbers, two dots, NUL. */
#define QS_SEMVER_STR_MAX 63

/** A parsed release version. */
typedef struct {
    uint64_t major; /* incompatible releases; "next major" increments this */
    uint64_t minor;
    uint64_t patch;
} qs_semver;

/** Does `s` match QS_SEMVER_RELEASE_REGEX? Any number of digits is accepted, as in OMPS
 *  (Python integers are unbounded); NULL is not a version. */
bool qs_semver_valid(const char *s);
/** Parse `s` into *out. 0; QS_EINVAL when `s` does not match the rule; QS_ETOOBIG when it
 *  matches but a number does not fit 64 bits (*out is untouched on failure). */
int qs_semver_parse(qs_semver *out, const char *s);
/** Numeric order: negative, 0 or positive as a is below, equal to or above b. */
int qs_semver_cmp(const qs_semver *a, const qs_semver *b);
/** Write "major.minor.patch" into out (QS_SEMVER_STR_MAX bytes always suffice). 0 or
 *  QS_ETOOBIG when cap is too small (out is then the empty string if cap > 0). */
int qs_semver_format(const qs_semver *v, char *out, size_t cap);
/** (major+1).0.0 into *out. 0, or QS_ETOOBIG when major is UINT64_MAX. */
int qs_semver_next_major(qs_semver *out, const qs_semver *v);
/** The highest valid release among `releases` (n strings; NULL entries and strings that are
 *  not valid versions, including ones too big for 64 bits, are skipped as OMPS skips them)
 *  plus one major: {"2.5.1", "1.9.9", "bad"} gives 3.0.0. 0; QS_ENOTFOUND when no string is a
 *  valid version (the caller then uses DEFAULT_RELEASE_VERSION); QS_ETOOBIG when the highest
 *  major is UINT64_MAX. */
int qs_semver_next_release(qs_semver *out, const char *const *releases, size_t n);

#endif
