/* tagglob.c — TAG_GLOB as the seed wrote it, and as Quay's mirror worker applies it.
 *
 * The seed kept TAG_GLOB as a JSON array inside a ConfigMap literal (`TAG_GLOB='[ "*" ]'`)
 * that its shell script pasted into the mirror config through `eval`, so the shell quotes
 * vanished there; here one surrounding pair of quotes is stripped for the same effect. A
 * comma list is accepted too. Globs are checked against the tag alphabet plus the fnmatch
 * characters, so a typo is a startup error rather than a mirror config Quay refuses on every
 * repository. Quay keeps the list as given; comparisons treat it as a set (a mirror whose
 * globs were written in another order is not "changed"). */
#include "org-mirror/tagglob.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/common.h"

void orgm_globs_free(orgm_globs *g) {
    for (size_t i = 0; i < g->n; i++)
        free(g->v[i]);
    free(g->v);
    g->v = NULL;
    g->n = 0;
}

bool orgm_glob_valid(const char *g) {
    size_t len = g ? strlen(g) : 0;
    if (len == 0 || len > ORGM_GLOB_MAX)
        return false;
    int depth = 0;
    for (const char *p = g; *p; p++) {
        char c = *p;
        bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
        if (c == '[') {
            if (depth++)
                return false;
        } else if (c == ']') {
            if (!depth--)
                return false;
        } else if (!word && c != '*' && c != '?' && c != '!') {
            return false;
        }
    }
    return depth == 0;
}

/* Append a copy of g[0..len) unless present. 0, QS_EINVAL (invalid), QS_ETOOBIG, ENOMEM. */
static int add(orgm_globs *out, const char *g, size_t len, char *err, size_t errlen) {
    char *s = strndup(g, len);
    if (!s)
        return QS_ENOMEM;
    if (!orgm_glob_valid(s)) {
        snprintf(err, errlen,
                 "\"%.60s\" is not a tag glob (1-%d characters of A-Z a-z 0-9 _ . - and * ? [ ] !)",
                 s, ORGM_GLOB_MAX);
        free(s);
        return QS_EINVAL;
    }
    for (size_t i = 0; i < out->n; i++)
        if (strcmp(out->v[i], s) == 0) {
            free(s);
            return QS_OK;
        }
    if (out->n >= ORGM_GLOBS_MAX) {
        snprintf(err, errlen, "more than %d tag globs", ORGM_GLOBS_MAX);
        free(s);
        return QS_ETOOBIG;
    }
    char **v = realloc(out->v, (out->n + 1) * sizeof *v);
    if (!v) {
        free(s);
        return QS_ENOMEM;
    }
    out->v = v;
    v[out->n++] = s;
    return QS_OK;
}

static int from_array(const json_t *arr, orgm_globs *out, char *err, size_t errlen) {
    size_t i;
    const json_t *item;
    json_array_foreach(arr, i, item) {
        if (!json_is_string(item)) {
            snprintf(err, errlen, "tag glob #%zu is not a string", i + 1);
            return QS_EINVAL;
        }
        int rc = add(out, json_string_value(item), json_string_length(item), err, errlen);
        if (rc)
            return rc;
    }
    return QS_OK;
}

static int from_csv(const char *p, orgm_globs *out, char *err, size_t errlen) {
    while (*p) {
        size_t n = strcspn(p, ",");
        const char *b = p, *e = p + n;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e == b) {
            snprintf(err, errlen, "empty tag glob in the comma list");
            return QS_EINVAL;
        }
        int rc = add(out, b, (size_t)(e - b), err, errlen);
        if (rc)
            return rc;
        p += n + (p[n] == ',');
    }
    return QS_OK;
}

int orgm_globs_parse(const char *text, orgm_globs *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (!text) {
        snprintf(err, errlen, "no tag globs");
        return QS_EINVAL;
    }
    while (*text == ' ' || *text == '\t' || *text == '\n')
        text++;
    size_t len = strlen(text);
    while (len && (text[len - 1] == ' ' || text[len - 1] == '\t' || text[len - 1] == '\n'))
        len--;
    if (len >= 2 && (text[0] == '\'' || text[0] == '"') && text[len - 1] == text[0]) {
        text++; /* one pair of shell quotes, as `eval` would have removed */
        len -= 2;
    }
    char *s = strndup(text, len);
    if (!s)
        return QS_ENOMEM;
    int rc;
    if (s[strspn(s, " \t\n")] == '[') {
        json_error_t je;
        json_t *arr = json_loads(s, JSON_REJECT_DUPLICATES, &je);
        if (!json_is_array(arr)) {
            snprintf(err, errlen, "not a JSON array of strings: %.80s",
                     arr ? "not an array" : je.text);
            rc = QS_EINVAL;
        } else {
            rc = from_array(arr, out, err, errlen);
        }
        json_decref(arr);
    } else {
        rc = from_csv(s, out, err, errlen);
    }
    free(s);
    if (rc == QS_OK && out->n == 0) {
        snprintf(err, errlen, "no tag globs (Quay needs at least one, e.g. [\"*\"])");
        rc = QS_EINVAL;
    }
    if (rc != QS_OK)
        orgm_globs_free(out);
    return rc;
}

int orgm_globs_from_json(const json_t *v, orgm_globs *out, char *err, size_t errlen) {
    if (json_is_string(v))
        return orgm_globs_parse(json_string_value(v), out, err, errlen);
    memset(out, 0, sizeof *out);
    if (!json_is_array(v)) {
        snprintf(err, errlen, "expected a list of globs or a string");
        return QS_EINVAL;
    }
    int rc = from_array(v, out, err, errlen);
    if (rc == QS_OK && out->n == 0) {
        snprintf(err, errlen, "no tag globs (Quay needs at least one, e.g. [\"*\"])");
        rc = QS_EINVAL;
    }
    if (rc != QS_OK)
        orgm_globs_free(out);
    return rc;
}

bool orgm_globs_match(const orgm_globs *g, const char *tag) {
    for (size_t i = 0; i < g->n; i++)
        if (fnmatch(g->v[i], tag, 0) == 0)
            return true;
    return false;
}

json_t *orgm_globs_to_json(const orgm_globs *g) {
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < g->n; i++)
        if (json_array_append_new(arr, json_string(g->v[i])) != 0) {
            json_decref(arr);
            return NULL;
        }
    return arr;
}

bool orgm_globs_equal_json(const orgm_globs *g, const json_t *arr) {
    if (!json_is_array(arr))
        return false;
    size_t i;
    const json_t *item;
    json_array_foreach(arr, i, item) { /* every element one of ours ... */
        bool found = false;
        for (size_t k = 0; json_is_string(item) && k < g->n && !found; k++)
            found = strcmp(g->v[k], json_string_value(item)) == 0;
        if (!found)
            return false;
    }
    for (size_t k = 0; k < g->n; k++) { /* ... and every one of ours there */
        bool found = false;
        json_array_foreach(arr, i, item) {
            if (strcmp(g->v[k], json_string_value(item)) == 0) {
                found = true;
                break;
            }
        }
        if (!found)
            return false;
    }
    return true;
}

void orgm_globs_format(const orgm_globs *g, char *out, size_t outlen) {
    if (!outlen)
        return;
    out[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < g->n && used + 1 < outlen; i++) {
        int n = snprintf(out + used, outlen - used, "%s%s", i ? ", " : "", g->v[i]);
        if (n < 0)
            break;
        used += (size_t)n < outlen - used ? (size_t)n : outlen - used - 1;
    }
}

int orgm_globs_copy(orgm_globs *dst, const orgm_globs *src) {
    memset(dst, 0, sizeof *dst);
    if (!src->n)
        return QS_OK;
    dst->v = calloc(src->n, sizeof *dst->v);
    if (!dst->v)
        return QS_ENOMEM;
    for (size_t i = 0; i < src->n; i++) {
        if (!(dst->v[i] = strdup(src->v[i]))) {
            dst->n = i;
            orgm_globs_free(dst);
            return QS_ENOMEM;
        }
    }
    dst->n = src->n;
    return QS_OK;
}
