/* registry_write.c — the write and listing side of the distribution API: manifest PUT, blob
 * uploads, cross-repository mounts, tag and catalog listings.
 *
 * Everything goes through qs_reg_call_do (registry.c), which adds the Authorization header
 * for a scope and retries once after a recoverable 401. Writes ask for
 * `repository:<repo>:pull,push`; a mount adds `repository:<from>:pull` as a second scope of
 * the same token request (the cache keys tokens by the whole scope string).
 *
 * Manifests are PUT byte for byte with the caller's media type; the digest is computed here
 * and compared with the registry's Docker-Content-Digest. Blob uploads follow spec §2.4: POST
 * opens a session whose Location (relative or absolute, query parameters such as `_state`
 * included) is resolved against the request URL and reused exactly; when the size is known the
 * body streams in one PUT ?digest= (memory bounded by curl's buffers, no overall timeout — the
 * stall timeout catches dead peers); otherwise it is cut into chunks held one at a time in
 * memory, each PATCHed with `Content-Range: start-end` to the Location of the previous answer,
 * and closed with an empty PUT ?digest=. Uploads are never retried here: a streamed body cannot
 * be replayed, so the copy engine retries the whole blob.
 *
 * Listings follow `Link: <url>; rel="next"` until there is none; a Link back to a page already
 * read (or too many pages) ends the walk with QS_EPROTO instead of looping forever. */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "registry_internal.h"
#include "shared/common.h"
#include "shared/digest.h"
#include "shared/log.h"
#include "shared/registry.h"

#define DEFAULT_CHUNK (4u << 20)
#define MAX_CHUNK (64u << 20)
#define MAX_PAGES 10000

/* ------------------------------------------------------------------ manifest kinds */

static const struct {
    const char *media_type;
    qs_mkind kind;
} kinds[] = {
    {QS_MT_DOCKER_MANIFEST, QS_MKIND_DOCKER2}, {QS_MT_DOCKER_LIST, QS_MKIND_DOCKERLIST},
    {QS_MT_OCI_MANIFEST, QS_MKIND_OCI},        {QS_MT_OCI_INDEX, QS_MKIND_OCIINDEX},
    {QS_MT_DOCKER_SCHEMA1, QS_MKIND_SCHEMA1},  {QS_MT_DOCKER_SCHEMA1_SIGNED, QS_MKIND_SCHEMA1},
};

static const char *const kind_names[] = {
    [QS_MKIND_UNKNOWN] = "unknown",       [QS_MKIND_DOCKER2] = "docker2",
    [QS_MKIND_DOCKERLIST] = "dockerlist", [QS_MKIND_OCI] = "oci",
    [QS_MKIND_OCIINDEX] = "ociindex",     [QS_MKIND_SCHEMA1] = "schema1",
};

qs_mkind qs_manifest_kind(const char *media_type) {
    if (!media_type)
        return QS_MKIND_UNKNOWN;
    while (*media_type == ' ' || *media_type == '\t')
        media_type++;
    size_t n = strcspn(media_type, ";");
    while (n > 0 && (media_type[n - 1] == ' ' || media_type[n - 1] == '\t'))
        n--;
    for (size_t i = 0; i < QS_ARRAY_LEN(kinds); i++)
        if (strlen(kinds[i].media_type) == n &&
            strncasecmp(kinds[i].media_type, media_type, n) == 0)
            return kinds[i].kind;
    return QS_MKIND_UNKNOWN;
}

const char *qs_manifest_kind_name(qs_mkind k) {
    return (unsigned)k < QS_ARRAY_LEN(kind_names) ? kind_names[k] : "unknown";
}

bool qs_manifest_kind_is_list(qs_mkind k) {
    return k == QS_MKIND_DOCKERLIST || k == QS_MKIND_OCIINDEX;
}

/* ------------------------------------------------------------------ helpers */

static bool repo_ok(const char *repo) { return qs_reg_segment_ok(repo, "._-/"); }

static bool header_value_ok(const char *v) {
    for (; v && *v; v++)
        if ((unsigned char)*v < 0x20 || *v == 0x7f)
            return false;
    return v != NULL;
}

/* The first error code of a registry error body ("DIGEST_INVALID"), or "". */
static void error_code(const qs_http_resp *resp, char *out, size_t n) {
    json_t *j = json_loadb(resp->body.data ? resp->body.data : "", resp->body.len, 0, NULL);
    const char *code =
        json_string_value(json_object_get(json_array_get(json_object_get(j, "errors"), 0), "code"));
    snprintf(out, n, "%s", code ? code : "");
    json_decref(j);
}

/* Registry error codes that mean something more precise than their status. */
static const struct {
    const char *code;
    int err;
} code_errors[] = {
    {"DIGEST_INVALID", QS_EDIGEST},
    {"MANIFEST_INVALID", QS_EINVAL},
    {"TOOMANYREQUESTS", QS_EUNAVAIL},
};

/* The qs_err of a finished request, logging refusals with the registry's error code. */
static int outcome(qs_registry *r, const char *op, int rc, const qs_http_resp *resp) {
    if (rc != QS_OK || (rc = qs_reg_status_err(resp->status)) == QS_OK)
        return rc;
    char code[64], st[16];
    error_code(resp, code, sizeof code);
    for (size_t i = 0; i < QS_ARRAY_LEN(code_errors); i++)
        if (strcmp(code, code_errors[i].code) == 0)
            rc = code_errors[i].err;
    snprintf(st, sizeof st, "%ld", resp->status);
    qs_log(QS_LOG_WARN, "registry refused a request", "registry", qs_registry_host(r), "op", op,
           "status", st, "code", code, NULL);
    return rc;
}

static char *push_scope(const char *repo) {
    return qs_strdup_printf("repository:%s:pull,push", repo);
}

/* ------------------------------------------------------------------ manifests */

int qs_registry_manifest_put(qs_registry *r, const char *repo, const char *ref,
                             const char *media_type, const void *body, size_t len,
                             char *digest_out) {
    if (!repo_ok(repo) || !qs_reg_segment_ok(ref, "._-:+") || !header_value_ok(media_type) ||
        !*media_type || (!body && len))
        return QS_EINVAL;
    char d[QS_DIGEST_STR_LEN + 1];
    qs_sha256_digest(body ? body : "", len, d);
    if (strchr(ref, ':') && strcmp(ref, d) != 0)
        return QS_EINVAL; /* by digest: the body must be that digest (sha256 only) */
    char *url = qs_strdup_printf("%s/v2/%s/manifests/%s", qs_registry_base_url(r), repo, ref);
    char *scope = push_scope(repo), *ct = qs_strdup_printf("Content-Type: %s", media_type);
    const char *hdrs[] = {ct, NULL};
    qs_reg_call c = {.method = "PUT",
                     .url = url,
                     .scope = scope,
                     .headers = hdrs,
                     .body = body ? body : "",
                     .body_len = len};
    qs_http_resp resp = {0};
    int rc = url && scope && ct ? qs_reg_call_do(r, &c, &resp) : QS_ENOMEM;
    rc = outcome(r, "manifest put", rc, &resp);
    const char *claimed = rc == QS_OK ? qs_http_resp_header(&resp, "Docker-Content-Digest") : NULL;
    if (claimed && strcmp(claimed, d) != 0 && strncmp(claimed, "sha256:", 7) == 0)
        rc = QS_EDIGEST;
    if (rc == QS_OK && digest_out)
        memcpy(digest_out, d, sizeof d);
    qs_http_resp_free(&resp);
    free(url);
    free(scope);
    free(ct);
    return rc;
}

/* ------------------------------------------------------------------ blob uploads */

/* The upload URL answered by `resp` to a request on `req_url`; malloc'd, NULL if none. */
static char *location_of(const qs_http_resp *resp, const char *req_url) {
    const char *loc = qs_http_resp_header(resp, "Location");
    return loc && *loc ? qs_reg_resolve_url(req_url, loc) : NULL;
}

static void note_retry_after(qs_blob_upload *up, const qs_http_resp *resp) {
    const char *ra = qs_http_resp_header(resp, "Retry-After");
    long ms = ra ? qs_http_parse_retry_after(ra, (long)time(NULL)) : -1;
    if (ms >= 0)
        up->retry_after_ms = ms;
}

/* POST /v2/<repo>/blobs/uploads/[?query]: returns the status in *status and, on 202 (or 201
 * for a mount), the resolved Location in *location. */
static int post_uploads(qs_registry *r, const char *repo, const char *scope, const char *query,
                        long *status, char **location, long *chunk_min) {
    *location = NULL;
    *status = 0;
    char *url = qs_strdup_printf("%s/v2/%s/blobs/uploads/%s", qs_registry_base_url(r), repo, query);
    qs_reg_call c = {.method = "POST", .url = url, .scope = scope};
    qs_http_resp resp = {0};
    int rc = url ? qs_reg_call_do(r, &c, &resp) : QS_ENOMEM;
    rc = outcome(r, "upload start", rc, &resp);
    if (rc == QS_OK) {
        *status = resp.status;
        *location = location_of(&resp, url);
        if (!*location && resp.status == 202)
            rc = QS_EPROTO; /* a session without a URL cannot be continued */
        const char *min = qs_http_resp_header(&resp, "OCI-Chunk-Min-Length");
        if (chunk_min && min)
            *chunk_min = strtol(min, NULL, 10);
    }
    qs_http_resp_free(&resp);
    free(url);
    return rc;
}

/* `location` with "digest=<d>" appended as a query parameter. */
static char *with_digest(const char *location, const char *digest) {
    return qs_strdup_printf("%s%cdigest=%s", location, strchr(location, '?') ? '&' : '?', digest);
}

/* The closing PUT: streams `up` when stream is true (size known), else an empty body. */
static int put_final(qs_registry *r, const char *scope, const char *location, const char *digest,
                     qs_blob_upload *up, bool stream) {
    char *url = with_digest(location, digest);
    static const char *const hdrs[] = {"Content-Type: application/octet-stream", NULL};
    qs_reg_call c = {
        .method = "PUT", .url = url, .scope = scope, .headers = hdrs, .timeout_ms = -1};
    if (stream) {
        c.upload = up->read;
        c.upload_ctx = up->read_ctx;
        c.upload_len = up->size;
    }
    qs_http_resp resp = {0};
    int rc = url ? qs_reg_call_do(r, &c, &resp) : QS_ENOMEM;
    note_retry_after(up, &resp);
    rc = outcome(r, "upload put", rc, &resp);
    const char *claimed = rc == QS_OK ? qs_http_resp_header(&resp, "Docker-Content-Digest") : NULL;
    if (claimed && strcmp(claimed, digest) != 0)
        rc = QS_EDIGEST;
    qs_http_resp_free(&resp);
    free(url);
    return rc;
}

/* Fill buf with up to `cap` bytes from the reader: the count, with *eof at the end; -1 when
 * the reader aborted. */
static long fill_chunk(qs_blob_upload *up, char *buf, size_t cap, bool *eof) {
    size_t n = 0;
    *eof = false;
    while (n < cap) {
        size_t got = up->read(up->read_ctx, buf + n, cap - n);
        if (got == (size_t)-1)
            return -1;
        if (got == 0) {
            *eof = true;
            break;
        }
        n += got;
    }
    return (long)n;
}

/* One PATCH of buf[0..n) at `offset`; *location moves to the answer's Location. */
static int patch_chunk(qs_registry *r, const char *scope, char **location, const char *buf,
                       size_t n, int64_t offset, qs_blob_upload *up) {
    char range[64];
    snprintf(range, sizeof range, "Content-Range: %lld-%lld", (long long)offset,
             (long long)(offset + (int64_t)n - 1));
    const char *hdrs[] = {"Content-Type: application/octet-stream", range, NULL};
    qs_reg_call c = {.method = "PATCH",
                     .url = *location,
                     .scope = scope,
                     .headers = hdrs,
                     .body = buf,
                     .body_len = n,
                     .timeout_ms = -1};
    qs_http_resp resp = {0};
    int rc = outcome(r, "upload patch", qs_reg_call_do(r, &c, &resp), &resp);
    note_retry_after(up, &resp);
    char *next = rc == QS_OK ? location_of(&resp, *location) : NULL;
    if (next) {
        free(*location);
        *location = next;
    }
    qs_http_resp_free(&resp);
    return rc;
}

/* Size unknown: chunks of up->chunk_size, one in memory at a time, then PUT ?digest=. */
static int upload_chunked(qs_registry *r, const char *scope, char **location, const char *digest,
                          qs_blob_upload *up, long chunk_min) {
    size_t cap = up->chunk_size ? up->chunk_size : DEFAULT_CHUNK;
    if (chunk_min > 0 && (size_t)chunk_min > cap)
        cap = (size_t)chunk_min < MAX_CHUNK ? (size_t)chunk_min : MAX_CHUNK;
    char *buf = malloc(cap);
    if (!buf)
        return QS_ENOMEM;
    int rc = QS_OK;
    int64_t off = 0;
    for (bool eof = false; rc == QS_OK && !eof;) {
        long n = fill_chunk(up, buf, cap, &eof);
        if (n < 0)
            rc = QS_EUNAVAIL;
        else if (n > 0)
            rc = patch_chunk(r, scope, location, buf, (size_t)n, off, up);
        off += n > 0 ? n : 0;
    }
    free(buf);
    return rc == QS_OK ? put_final(r, scope, *location, digest, up, false) : rc;
}

int qs_registry_blob_upload(qs_registry *r, const char *repo, const char *digest,
                            qs_blob_upload *up) {
    if (!repo_ok(repo) || !qs_digest_valid(digest) || !up || !up->read)
        return QS_EINVAL;
    up->retry_after_ms = -1;
    char *scope = push_scope(repo), *location = NULL;
    long status = 0, chunk_min = 0;
    int rc = scope ? QS_OK : QS_ENOMEM;
    if (rc == QS_OK && up->session)
        rc = (location = strdup(up->session)) ? QS_OK : QS_ENOMEM;
    else if (rc == QS_OK)
        rc = post_uploads(r, repo, scope, "", &status, &location, &chunk_min);
    if (rc == QS_OK && !location)
        rc = QS_EPROTO;
    if (rc == QS_OK)
        rc = up->size >= 0 ? put_final(r, scope, location, digest, up, true)
                           : upload_chunked(r, scope, &location, digest, up, chunk_min);
    free(location);
    free(scope);
    return rc;
}

int qs_registry_blob_mount(qs_registry *r, const char *repo, const char *digest, const char *from,
                           bool *mounted, char **session) {
    *mounted = false;
    if (session)
        *session = NULL;
    if (!repo_ok(repo) || !repo_ok(from) || !qs_digest_valid(digest))
        return QS_EINVAL;
    char *scope = qs_strdup_printf("repository:%s:pull,push repository:%s:pull", repo, from);
    char *query = qs_strdup_printf("?mount=%s&from=%s", digest, from);
    char *location = NULL;
    long status = 0;
    int rc =
        scope && query ? post_uploads(r, repo, scope, query, &status, &location, NULL) : QS_ENOMEM;
    if (rc == QS_OK) {
        *mounted = status == 201;
        if (!*mounted && status != 202)
            rc = QS_EPROTO;
    }
    if (rc == QS_OK && !*mounted && session) {
        *session = location;
        location = NULL;
    }
    free(location);
    free(scope);
    free(query);
    return rc;
}

/* ------------------------------------------------------------------ listings */

void qs_strv_free(char **v) {
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free((void *)v);
}

typedef struct {
    char **v;
    size_t n, cap;
} strv;

static int strv_push(strv *s, const char *str) {
    if (s->n + 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **nv = realloc((void *)s->v, cap * sizeof *nv);
        if (!nv)
            return QS_ENOMEM;
        s->v = nv;
        s->cap = cap;
    }
    if (!(s->v[s->n] = strdup(str)))
        return QS_ENOMEM;
    s->v[++s->n] = NULL;
    return QS_OK;
}

static bool strv_has(const strv *s, const char *str) {
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], str) == 0)
            return true;
    return false;
}

/* The target of the rel="next" link in one Link header value ("<u>; rel=\"next\", <v>; ..."),
 * malloc'd, or NULL. */
static char *next_link(const char *v) {
    while (v && (v = strchr(v, '<'))) {
        const char *end = strchr(v, '>');
        if (!end)
            return NULL;
        const char *params = end + 1, *stop = params + strcspn(params, ",");
        for (const char *p = params; p < stop; p++) {
            if (strncasecmp(p, "rel=", 4) != 0)
                continue;
            p += 4 + (p[4] == '"');
            if (strncasecmp(p, "next", 4) == 0 &&
                (p[4] == '"' || p[4] == ';' || p[4] == ',' || p[4] == ' ' || p[4] == '\0'))
                return strndup(v + 1, (size_t)(end - v - 1));
        }
        v = stop;
    }
    return NULL;
}

static char *next_page(const qs_http_resp *resp, const char *url) {
    for (size_t i = 0; i < resp->nheaders; i++) {
        if (strcasecmp(resp->headers[i].name, "Link") != 0)
            continue;
        char *target = next_link(resp->headers[i].value);
        char *abs = target ? qs_reg_resolve_url(url, target) : NULL;
        free(target);
        if (abs)
            return abs;
    }
    return NULL;
}

/* Append the strings of body[key] (an array, or null for none) to out. */
static int collect(const qs_buf *body, const char *key, strv *out) {
    json_t *j = json_loadb(body->data ? body->data : "", body->len, 0, NULL);
    json_t *arr = json_object_get(j, key);
    int rc = j && (json_is_array(arr) || json_is_null(arr) || !arr) ? QS_OK : QS_EPROTO;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        if (rc == QS_OK)
            rc = json_is_string(e) ? strv_push(out, json_string_value(e)) : QS_EPROTO;
    }
    json_decref(j);
    return rc;
}

/* GET `first` and every page after it; the strings of each page's body[key] go to *out. */
static int list_paged(qs_registry *r, char *first, const char *scope, const char *key, char ***out,
                      size_t *count) {
    strv items = {0}, seen = {0};
    char *url = first;
    int rc = url ? QS_OK : QS_ENOMEM;
    static const char *const hdrs[] = {"Accept: application/json", NULL};
    while (rc == QS_OK && url) {
        if (seen.n >= MAX_PAGES || strv_has(&seen, url)) {
            qs_log(QS_LOG_WARN, "registry listing loops", "registry", qs_registry_host(r), "what",
                   key, NULL);
            rc = QS_EPROTO;
            break;
        }
        rc = strv_push(&seen, url);
        qs_reg_call c = {.method = "GET", .url = url, .scope = scope, .headers = hdrs};
        qs_http_resp resp = {0};
        if (rc == QS_OK)
            rc = outcome(r, key, qs_reg_call_do(r, &c, &resp), &resp);
        if (rc == QS_OK)
            rc = collect(&resp.body, key, &items);
        free(url);
        url = rc == QS_OK ? next_page(&resp, seen.v[seen.n - 1]) : NULL;
        qs_http_resp_free(&resp);
    }
    free(url);
    qs_strv_free(seen.v);
    if (rc == QS_OK && !items.v && !(items.v = calloc(1, sizeof *items.v)))
        rc = QS_ENOMEM; /* an empty list is an array holding only the terminator */
    if (rc != QS_OK) {
        qs_strv_free(items.v);
        items.v = NULL;
        items.n = 0;
    }
    *out = items.v;
    if (count)
        *count = items.n;
    return rc;
}

int qs_registry_tags(qs_registry *r, const char *repo, int page, const char *last, char ***tags,
                     size_t *count) {
    *tags = NULL;
    if (count)
        *count = 0;
    if (!repo_ok(repo) || (last && !qs_reg_segment_ok(last, "._-")))
        return QS_EINVAL;
    char *scope = qs_strdup_printf("repository:%s:pull", repo);
    qs_buf u = QS_BUF_INIT;
    int rc = qs_buf_printf(&u, "%s/v2/%s/tags/list", qs_registry_base_url(r), repo);
    if (rc == QS_OK && page > 0)
        rc = qs_buf_printf(&u, "?n=%d", page);
    if (rc == QS_OK && last)
        rc = qs_buf_printf(&u, "%clast=%s", page > 0 ? '&' : '?', last);
    char *first = rc == QS_OK ? qs_buf_steal(&u) : NULL;
    qs_buf_free(&u);
    rc = scope ? list_paged(r, first, scope, "tags", tags, count) : QS_ENOMEM;
    if (!scope)
        free(first);
    free(scope);
    return rc;
}

int qs_registry_catalog(qs_registry *r, int page, char ***repos, size_t *count) {
    *repos = NULL;
    if (count)
        *count = 0;
    char *first = page > 0 ? qs_strdup_printf("%s/v2/_catalog?n=%d", qs_registry_base_url(r), page)
                           : qs_strdup_printf("%s/v2/_catalog", qs_registry_base_url(r));
    return list_paged(r, first, "registry:catalog:*", "repositories", repos, count);
}
