/* multipart.c — parsing multipart/form-data bodies in place.
 *
 * The body is scanned once: each part starts after a "--boundary" line, its header block ends
 * at the first empty line (bounded to MAX_HEADER_BLOCK), and its data runs up to the CRLF
 * before the next "--boundary". Only the headers a form needs are read (Content-Disposition's
 * name and filename, with quoted-string escapes, and Content-Type); the data is not copied.
 * A body without the closing "--boundary--" is refused, so a truncated upload is never taken
 * for a complete one. */
#include "shared/multipart.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shared/buf.h"
#include "shared/common.h"

#define MAX_HEADER_BLOCK 8192
#define MAX_BOUNDARY 70 /* RFC 2046 */

/* A parameter of a header value: `key=value` or `key="quoted \" value"`. malloc'd or NULL. */
static char *header_param(const char *value, const char *key) {
    size_t klen = strlen(key);
    for (const char *p = value; (p = strcasestr(p, key)) != NULL; p += klen) {
        bool at_start = p == value || p[-1] == ';' || p[-1] == ' ' || p[-1] == '\t';
        const char *q = p + klen;
        while (*q == ' ')
            q++;
        if (!at_start || *q != '=')
            continue;
        q++;
        while (*q == ' ')
            q++;
        qs_buf out = QS_BUF_INIT;
        if (*q == '"') {
            for (q++; *q && *q != '"'; q++) {
                if (*q == '\\' && q[1])
                    q++;
                qs_buf_append(&out, q, 1);
            }
            if (*q != '"') {
                qs_buf_free(&out);
                return NULL;
            }
        } else {
            size_t n = strcspn(q, "; \t\r\n");
            qs_buf_append(&out, q, n);
        }
        return qs_buf_steal(&out);
    }
    return NULL;
}

char *qs_multipart_boundary(const char *content_type) {
    if (!content_type || strncasecmp(content_type, "multipart/form-data", 19) != 0)
        return NULL;
    char *b = header_param(content_type + 19, "boundary");
    if (b && (!*b || strlen(b) > MAX_BOUNDARY)) {
        free(b);
        return NULL;
    }
    return b;
}

static const char *find(const char *hay, size_t hlen, const char *needle, size_t nlen) {
    if (nlen == 0 || hlen < nlen)
        return NULL;
    for (const char *p = hay; (p = memchr(p, needle[0], (size_t)(hay + hlen - p))) != NULL; p++) {
        if ((size_t)(hay + hlen - p) < nlen)
            return NULL;
        if (memcmp(p, needle, nlen) == 0)
            return p;
    }
    return NULL;
}

/* Read the header block [h, end) of one part into `part`. */
static int part_headers(const char *h, const char *end, qs_part *part, char *err, size_t errlen) {
    while (h < end) {
        const char *eol = find(h, (size_t)(end - h), "\r\n", 2);
        size_t n = eol ? (size_t)(eol - h) : (size_t)(end - h);
        char line[MAX_HEADER_BLOCK + 1];
        memcpy(line, h, n);
        line[n] = '\0';
        if (strncasecmp(line, "Content-Disposition:", 20) == 0) {
            if (!strcasestr(line, "form-data")) {
                snprintf(err, errlen, "a part's Content-Disposition is not form-data");
                return QS_EINVAL;
            }
            part->name = header_param(line + 20, "name");
            part->filename = header_param(line + 20, "filename");
        } else if (strncasecmp(line, "Content-Type:", 13) == 0) {
            const char *v = line + 13;
            while (*v == ' ')
                v++;
            part->content_type = strdup(v);
        }
        h += n + 2;
    }
    if (!part->name) {
        snprintf(err, errlen, "a part has no Content-Disposition name");
        return QS_EINVAL;
    }
    return QS_OK;
}

int qs_multipart_parse(const char *content_type, const char *body, size_t len, qs_part **parts,
                       size_t *n, char *err, size_t errlen) {
    *parts = NULL;
    *n = 0;
    char *b = qs_multipart_boundary(content_type);
    if (!b) {
        snprintf(err, errlen, "the request is not multipart/form-data with a boundary");
        return QS_EINVAL;
    }
    char delim[MAX_BOUNDARY + 5];
    int dlen = snprintf(delim, sizeof delim, "\r\n--%s", b);
    free(b);
    qs_part *v = calloc(QS_MULTIPART_MAX_PARTS, sizeof *v);
    if (!v)
        return QS_ENOMEM;
    /* The first delimiter may open the body without the leading CRLF (no preamble). */
    const char *p = NULL;
    if (len >= (size_t)dlen - 2 && memcmp(body, delim + 2, (size_t)dlen - 2) == 0) {
        p = body + dlen - 2;
    } else {
        p = find(body, len, delim, (size_t)dlen);
        if (p)
            p += dlen;
    }
    const char *end = body + len;
    int rc = QS_EINVAL;
    snprintf(err, errlen, "the body has no opening boundary");
    while (p) {
        if (end - p >= 2 && memcmp(p, "--", 2) == 0) { /* closing delimiter */
            rc = QS_OK;
            break;
        }
        if (end - p < 2 || memcmp(p, "\r\n", 2) != 0) {
            snprintf(err, errlen, "a boundary line is malformed");
            break;
        }
        p += 2;
        const char *hend =
            find(p, (size_t)(end - p) < MAX_HEADER_BLOCK ? (size_t)(end - p) : MAX_HEADER_BLOCK,
                 "\r\n\r\n", 4);
        if (!hend) {
            snprintf(err, errlen, "a part's headers do not end (or exceed %d bytes)",
                     MAX_HEADER_BLOCK);
            break;
        }
        if (*n == QS_MULTIPART_MAX_PARTS) {
            snprintf(err, errlen, "more than %d parts", QS_MULTIPART_MAX_PARTS);
            break;
        }
        qs_part *part = &v[(*n)++];
        if (part_headers(p, hend + 2, part, err, errlen) != QS_OK)
            break;
        part->data = hend + 4;
        const char *next = find(part->data, (size_t)(end - part->data), delim, (size_t)dlen);
        if (!next) {
            snprintf(err, errlen, "the body ends without its closing boundary");
            break;
        }
        part->len = (size_t)(next - part->data);
        p = next + dlen;
    }
    if (rc != QS_OK) {
        qs_multipart_free(v, *n);
        *n = 0;
        return QS_EINVAL;
    }
    err[0] = '\0';
    *parts = v;
    return QS_OK;
}

void qs_multipart_free(qs_part *parts, size_t n) {
    for (size_t i = 0; parts && i < n; i++) {
        free(parts[i].name);
        free(parts[i].filename);
        free(parts[i].content_type);
    }
    free(parts);
}

const qs_part *qs_multipart_get(const qs_part *parts, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (parts[i].name && strcmp(parts[i].name, name) == 0)
            return &parts[i];
    return NULL;
}
