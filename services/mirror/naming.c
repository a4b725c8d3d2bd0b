/* naming.c — image references and the tag names the mirror writes.
 *
 * References follow docker's distribution/reference grammar, written as small hand scanners
 * (one per production: host, repository component, tag, digest) rather than regexes, so the
 * rules read top to bottom and nothing is compiled at run time. Parsing splits from the right
 * the way docker does: the digest after '@', then the tag after the last ':' that follows the
 * last '/', then the host as the first component when it looks like one.
 *
 * Destination tags (reference/citools.md §2.5, §2.6):
 *   - the float `<ns>_<name>_<tag>` of an image stream tag (QuayImage / targetToQuayImage);
 *   - the seed's second tag `<YYYYMMDD>_sha256_<hex>`, so quay.io's garbage collection, which
 *     drops untagged manifests, never takes an image that something still uses;
 *   - the prune backup `<YYYYMMDDHHMMSS>_prune___ci_images_mirror__<float>`, pointed at the
 *     old image before a float is overwritten. This is the shape ci-images-mirror writes
 *     since PR #4883 (it builds it as targetToQuayImage(ts + "_prune___ci_images_mirror__" +
 *     key), which turns the key `ns/name:tag` into the float). ci-operator's promotion
 *     writes the older `<ts>_prune_<ns>_<name>_<tag>` (quayImageWithTime); both match the
 *     openshift/release pruner's `^\d{14}_prune_(?P<ci_tag>.+)$`, so the pruner's TTL
 *     applies to ours too, and the `__ci_images_mirror__` infix tells who wrote the backup.
 * Times are UTC (the original uses the process's local zone, which is UTC in its pods). */
#include "mirror/naming.h"

#include <stdio.h>
#include <string.h>

#include "shared/common.h"

#define DOCKER_HUB "docker.io"

static bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
static bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_lower_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }

/* Copy [s, s+n) into dst[cap] as a C string; QS_ETOOBIG when it does not fit. */
static int copy_span(char *dst, size_t cap, const char *s, size_t n) {
    if (n >= cap)
        return QS_ETOOBIG;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

bool mirror_tag_valid(const char *s) {
    if (!s || !(is_alnum(s[0]) || s[0] == '_'))
        return false;
    size_t n = 1;
    for (; s[n]; n++)
        if (!(is_alnum(s[n]) || s[n] == '_' || s[n] == '.' || s[n] == '-'))
            return false;
    return n <= MIRROR_TAG_MAX;
}

/* One repository component `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` of exactly n bytes. */
static bool repo_component_valid(const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        if (!is_lower_alnum(s[i]))
            return false;
        while (i < n && is_lower_alnum(s[i]))
            i++;
        if (i == n)
            return true;
        if (s[i] == '.')
            i++;
        else if (s[i] == '_')
            i += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
        else if (s[i] == '-')
            while (i < n && s[i] == '-')
                i++;
        else
            return false;
        if (i == n) /* a separator must be followed by a letter or digit */
            return false;
    }
    return n > 0;
}

bool mirror_repo_valid(const char *s) {
    if (!s || !*s || strlen(s) > MIRROR_REPO_MAX)
        return false;
    for (;;) {
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t)(slash - s) : strlen(s);
        if (!repo_component_valid(s, n))
            return false;
        if (!slash)
            return true;
        s = slash + 1;
    }
}

bool mirror_digest_valid(const char *s) {
    static const struct {
        const char *prefix;
        size_t hex;
    } algos[] = {{"sha256:", 64}, {"sha512:", 128}};
    if (!s)
        return false;
    for (size_t a = 0; a < QS_ARRAY_LEN(algos); a++) {
        size_t pl = strlen(algos[a].prefix);
        if (strncmp(s, algos[a].prefix, pl) != 0)
            continue;
        size_t n = 0;
        while (is_lower_hex(s[pl + n]))
            n++;
        return n == algos[a].hex && s[pl + n] == '\0';
    }
    return false;
}

/* A DNS label run `[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?` joined by '.', or a bracketed
 * IPv6 address; then an optional ":<digits>" port. */
static bool host_valid(const char *s, size_t n) {
    size_t i = 0;
    if (n > 0 && s[0] == '[') {
        while (i + 1 < n && s[i + 1] != ']' && (is_alnum(s[i + 1]) || s[i + 1] == ':'))
            i++;
        if (i == 0 || i + 1 >= n || s[i + 1] != ']')
            return false;
        i += 2;
    } else {
        while (i < n && s[i] != ':') {
            size_t start = i;
            while (i < n && (is_alnum(s[i]) || s[i] == '-'))
                i++;
            if (i == start || s[start] == '-' || s[i - 1] == '-')
                return false;
            if (i < n && s[i] == '.' && ++i == n)
                return false;
            if (i < n && s[i] != ':' && !is_alnum(s[i]))
                return false;
        }
    }
    if (i == n)
        return i > 0;
    if (s[i] != ':' || i + 1 == n)
        return false;
    for (i++; i < n; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

/* docker's rule: a first component is a host when it has '.' or ':', is "localhost", or is
 * not all lower case. */
static bool looks_like_host(const char *s, size_t n) {
    if (n == 9 && memcmp(s, "localhost", 9) == 0)
        return true;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '.' || s[i] == ':' || (s[i] >= 'A' && s[i] <= 'Z'))
            return true;
    return false;
}

/* Split `name` (no tag or digest) into host and repository. */
static int split_name(mirror_ref *out, const char *name, size_t n, const char *default_host) {
    const char *slash = memchr(name, '/', n);
    const char *repo = name;
    if (slash && looks_like_host(name, (size_t)(slash - name))) {
        if (!host_valid(name, (size_t)(slash - name)))
            return QS_EINVAL;
        if (copy_span(out->host, sizeof out->host, name, (size_t)(slash - name)) != 0)
            return QS_EINVAL;
        repo = slash + 1;
    } else {
        const char *def = default_host && *default_host ? default_host : DOCKER_HUB;
        if (copy_span(out->host, sizeof out->host, def, strlen(def)) != 0)
            return QS_EINVAL;
    }
    if (strcmp(out->host, "index.docker.io") == 0)
        strcpy(out->host, DOCKER_HUB);
    size_t rn = n - (size_t)(repo - name);
    bool library = strcmp(out->host, DOCKER_HUB) == 0 && !memchr(repo, '/', rn);
    size_t off = library ? strlen("library/") : 0;
    if (rn + off >= sizeof out->repo)
        return QS_EINVAL;
    memcpy(out->repo, "library/", off);
    memcpy(out->repo + off, repo, rn);
    out->repo[off + rn] = '\0';
    return mirror_repo_valid(out->repo) ? 0 : QS_EINVAL;
}

int mirror_ref_parse(mirror_ref *out, const char *s, const char *default_host) {
    memset(out, 0, sizeof *out);
    if (!s || !*s)
        return QS_EINVAL;
    size_t n = strlen(s);
    const char *at = strchr(s, '@');
    if (at) {
        if (copy_span(out->digest, sizeof out->digest, at + 1, strlen(at + 1)) != 0 ||
            !mirror_digest_valid(out->digest))
            goto bad;
        n = (size_t)(at - s);
    }
    const char *colon = NULL, *slash = NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ':')
            colon = s + i;
        else if (s[i] == '/')
            slash = s + i;
    }
    if (colon && (!slash || colon > slash)) {
        size_t tn = n - (size_t)(colon + 1 - s);
        if (copy_span(out->tag, sizeof out->tag, colon + 1, tn) != 0 || !mirror_tag_valid(out->tag))
            goto bad;
        n = (size_t)(colon - s);
    }
    if (n == 0 || split_name(out, s, n, default_host) != 0)
        goto bad;
    return 0;
bad:
    memset(out, 0, sizeof *out);
    return QS_EINVAL;
}

int mirror_ref_name(const mirror_ref *ref, char *out, size_t outlen) {
    int n = snprintf(out, outlen, "%s/%s", ref->host, ref->repo);
    return n < 0 || (size_t)n >= outlen ? QS_ETOOBIG : 0;
}

int mirror_ref_format(const mirror_ref *ref, char *out, size_t outlen) {
    int n = snprintf(out, outlen, "%s/%s%s%s%s%s", ref->host, ref->repo, ref->tag[0] ? ":" : "",
                     ref->tag, ref->digest[0] ? "@" : "", ref->digest);
    return n < 0 || (size_t)n >= outlen ? QS_ETOOBIG : 0;
}

const char *mirror_ref_reference(const mirror_ref *ref) {
    if (ref->digest[0])
        return ref->digest;
    return ref->tag[0] ? ref->tag : "latest";
}

int mirror_istag_parse(mirror_istag *out, const char *s) {
    memset(out, 0, sizeof *out);
    const char *slash = s ? strchr(s, '/') : NULL;
    if (!slash || slash == s || !slash[1] || strchr(slash + 1, '/'))
        return QS_EINVAL;
    const char *colon = strchr(slash + 1, ':');
    if (!colon || colon == slash + 1 || !colon[1] || strchr(colon + 1, ':'))
        return QS_EINVAL;
    if (copy_span(out->ns, sizeof out->ns, s, (size_t)(slash - s)) != 0 ||
        copy_span(out->name, sizeof out->name, slash + 1, (size_t)(colon - slash - 1)) != 0 ||
        copy_span(out->tag, sizeof out->tag, colon + 1, strlen(colon + 1)) != 0) {
        memset(out, 0, sizeof *out);
        return QS_ETOOBIG;
    }
    return 0;
}

/* Write the printf result into out[outlen], then check it is a valid tag. */
static int finish_tag(int n, char *out, size_t outlen) {
    if (n < 0 || (size_t)n >= outlen)
        return QS_ETOOBIG;
    return mirror_tag_valid(out) ? 0 : QS_EINVAL;
}

int mirror_qci_tag(const mirror_istag *ist, char *out, size_t outlen) {
    if (!ist->ns[0] || !ist->name[0] || !ist->tag[0])
        return QS_EINVAL;
    char tmp[3 * 256 + 3];
    int n = snprintf(tmp, sizeof tmp, "%s_%s_%s", ist->ns, ist->name, ist->tag);
    if (n < 0 || (size_t)n >= sizeof tmp || !mirror_tag_valid(tmp))
        return QS_EINVAL;
    return finish_tag(snprintf(out, outlen, "%s", tmp), out, outlen);
}

static int utc_stamp(time_t when, const char *fmt, char *out, size_t outlen) {
    struct tm tm;
    if (!gmtime_r(&when, &tm) || strftime(out, outlen, fmt, &tm) == 0)
        return QS_EINVAL;
    return 0;
}

int mirror_date_digest_tag(time_t when, const char *digest, char *out, size_t outlen) {
    static const char prefix[] = "sha256:";
    if (!digest || strncmp(digest, prefix, strlen(prefix)) != 0 || !mirror_digest_valid(digest))
        return QS_EINVAL;
    char date[16];
    if (utc_stamp(when, "%Y%m%d", date, sizeof date) != 0)
        return QS_EINVAL;
    return finish_tag(snprintf(out, outlen, "%s_sha256_%s", date, digest + strlen(prefix)), out,
                      outlen);
}

#define PRUNE_INFIX "_prune___ci_images_mirror__"

int mirror_prune_tag(time_t when, const char *float_tag, char *out, size_t outlen) {
    char stamp[32];
    if (!mirror_tag_valid(float_tag) || utc_stamp(when, "%Y%m%d%H%M%S", stamp, sizeof stamp) != 0)
        return QS_EINVAL;
    if (strlen(stamp) != 14 || 14 + strlen(PRUNE_INFIX) + strlen(float_tag) > MIRROR_TAG_MAX)
        return QS_EINVAL;
    return finish_tag(snprintf(out, outlen, "%s" PRUNE_INFIX "%s", stamp, float_tag), out, outlen);
}

bool mirror_prune_tag_parse(const char *tag, time_t *when) {
    static const char mark[] = "_prune_";
    if (!tag)
        return false;
    for (int i = 0; i < 14; i++)
        if (!is_digit(tag[i]))
            return false;
    if (strncmp(tag + 14, mark, strlen(mark)) != 0 || tag[14 + strlen(mark)] == '\0')
        return false;
    int v[6];
    static const int width[6] = {4, 2, 2, 2, 2, 2};
    for (int f = 0, pos = 0; f < 6; pos += width[f], f++) {
        v[f] = 0;
        for (int k = 0; k < width[f]; k++)
            v[f] = v[f] * 10 + (tag[pos + k] - '0');
    }
    struct tm tm = {.tm_year = v[0] - 1900,
                    .tm_mon = v[1] - 1,
                    .tm_mday = v[2],
                    .tm_hour = v[3],
                    .tm_min = v[4],
                    .tm_sec = v[5]};
    time_t t = timegm(&tm);
    struct tm back;
    if (t == (time_t)-1 || !gmtime_r(&t, &back) || back.tm_mon != v[1] - 1 ||
        back.tm_mday != v[2] || back.tm_hour != v[3] || back.tm_min != v[4] || back.tm_sec != v[5])
        return false;
    if (when)
        *when = t;
    return true;
}
