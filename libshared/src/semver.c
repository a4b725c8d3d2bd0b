/* semver.c — OMPS release versions (omps/quay.py ReleaseVersion).
 *
 * Parsing is a hand-written scanner equivalent to OMPS's regular expression
 * ^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$ — cheaper and clearer than compiling a
 * regex, and it cannot disagree with itself: qs_semver_valid and qs_semver_parse share the
 * one scanner, which validates the shape first and accumulates with an explicit overflow
 * check, so "valid but too big for 64 bits" (which Python's unbounded integers accept) is a
 * distinct QS_ETOOBIG. The "next release" rule mirrors get_latest_release_version: invalid
 * strings are skipped, the numerically highest remaining one is taken and its major is
 * incremented with minor and patch reset. */
#include "shared/semver.h"

#include <stdio.h>

#include "shared/common.h"

/* Scan one number at *p: "0" or [1-9][0-9]*. Sets *overflow when it does not fit 64 bits
 * (the shape is still checked to the end). Returns false when the shape is wrong. */
static bool scan_number(const char **p, uint64_t *val, bool *overflow) {
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return false;
    if (*s == '0') {
        *val = 0;
        *p = s + 1;
        return !(s[1] >= '0' && s[1] <= '9'); /* no leading zero */
    }
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            *overflow = true;
        else
            v = v * 10 + d;
    }
    *val = v;
    *p = s;
    return true;
}

/* The shared scanner: QS_OK, QS_EINVAL (shape) or QS_ETOOBIG (shape fine, too big). */
static int scan(const char *s, qs_semver *out) {
    if (!s)
        return QS_EINVAL;
    uint64_t part[3];
    bool overflow = false;
    for (int i = 0; i < 3; i++) {
        if (!scan_number(&s, &part[i], &overflow))
            return QS_EINVAL;
        if (*s != (i < 2 ? '.' : '\0'))
            return QS_EINVAL;
        if (i < 2)
            s++;
    }
    if (overflow)
        return QS_ETOOBIG;
    out->major = part[0];
    out->minor = part[1];
    out->patch = part[2];
    return QS_OK;
}

bool qs_semver_valid(const char *s) {
    qs_semver v;
    return scan(s, &v) != QS_EINVAL;
}

int qs_semver_parse(qs_semver *out, const char *s) {
    qs_semver v;
    int rc = scan(s, &v);
    if (rc == QS_OK)
        *out = v;
    return rc;
}

static int cmp_u64(uint64_t a, uint64_t b) { return (a > b) - (a < b); }

int qs_semver_cmp(const qs_semver *a, const qs_semver *b) {
    int c = cmp_u64(a->major, b->major);
    if (!c)
        c = cmp_u64(a->minor, b->minor);
    if (!c)
        c = cmp_u64(a->patch, b->patch);
    return c;
}

int qs_semver_format(const qs_semver *v, char *out, size_t cap) {
    int n = snprintf(out, cap, "%llu.%llu.%llu", (unsigned long long)v->major,
                     (unsigned long long)v->minor, (unsigned long long)v->patch);
    if (n < 0 || (size_t)n >= cap) {
        if (cap)
            out[0] = '\0';
        return QS_ETOOBIG;
    }
    return QS_OK;
}

int qs_semver_next_major(qs_semver *out, const qs_semver *v) {
    if (v->major == UINT64_MAX)
        return QS_ETOOBIG;
    *out = (qs_semver){v->major + 1, 0, 0};
    return QS_OK;
}

int qs_semver_next_release(qs_semver *out, const char *const *releases, size_t n) {
    qs_semver best = {0, 0, 0};
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        qs_semver v;
        if (qs_semver_parse(&v, releases[i]) != QS_OK)
            continue;
        if (!found || qs_semver_cmp(&v, &best) > 0)
            best = v;
        found = true;
    }
    if (!found)
        return QS_ENOTFOUND;
    return qs_semver_next_major(out, &best);
}
