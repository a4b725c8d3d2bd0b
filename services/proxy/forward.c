/* forward.c — forwarding a pull to the upstream and streaming the response back.
 *
 * The request goes out with the robot's upstream credentials in place of the client's, the
 * client's pull-relevant headers (Accept, Range, conditionals, User-Agent) and the usual
 * X-Forwarded-* headers. The response comes back as it arrives: libcurl's write callback
 * copies straight into libmicrohttpd's send buffer (qs_http_stream_read → server reader), so a
 * blob crosses the proxy with one copy and memory bounded per connection whatever its size.
 *
 * Status, Docker-Content-Digest, Content-Type, Content-Length, ETag, Link, Range answers and
 * redirects (302/307 to a CDN) pass through untouched; only a Location on the upstream's own
 * origin is rewritten to the proxy, so the client never goes around it with the proxy's token.
 * If the upstream refuses the robot's credentials (401), they are dropped and renewed, and the
 * request is tried once more; a second refusal is the proxy's fault, not the client's: 502. */
#include "proxy/forward.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "shared/common.h"
#include "shared/log.h"
#include "shared/metrics.h"

struct proxy_forward {
    const proxy_config *cfg;
    qs_http *http;
    proxy_upstream *up;
    qs_metric *m_latency;
    qs_metric *m_requests;
    qs_metric *m_bytes;
};

/* Client request headers passed upstream. */
static const char *const pass_request[] = {
    "Accept",
    "Accept-Encoding",
    "Range",
    "If-Range",
    "If-None-Match",
    "If-Match",
    "If-Modified-Since",
    "If-Unmodified-Since",
    "User-Agent",
    "X-Request-Id",
};

/* Response headers never passed back (lower-case). */
static const char *const drop_response[] = {
    "connection",     "keep-alive", "transfer-encoding",  "te",
    "trailer",        "upgrade",    "proxy-authenticate", "proxy-authorization",
    "content-length", "set-cookie", "www-authenticate",   "date",
    "server",
};

bool proxy_forward_keep_response_header(const char *name) {
    for (size_t i = 0; i < QS_ARRAY_LEN(drop_response); i++)
        if (strcasecmp(name, drop_response[i]) == 0)
            return false;
    return true;
}

char *proxy_forward_rewrite_location(const char *location, const char *upstream_url,
                                     const char *exposed_scheme, const char *exposed_host) {
    size_t n = strlen(upstream_url);
    if (strncasecmp(location, upstream_url, n) == 0 &&
        (location[n] == '/' || location[n] == '\0')) {
        size_t len = strlen(exposed_scheme) + strlen(exposed_host) + strlen(location + n) + 4;
        char *out = malloc(len);
        if (out)
            snprintf(out, len, "%s://%s%s", exposed_scheme, exposed_host, location + n);
        return out;
    }
    return strdup(location);
}

proxy_forward *proxy_forward_new(const proxy_config *cfg, qs_http *http, proxy_upstream *up) {
    proxy_forward *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->cfg = cfg;
    f->http = http;
    f->up = up;
    f->m_latency = qs_histogram("proxy_upstream_latency_seconds",
                                "Time until the upstream's response headers, by request kind.",
                                "kind", NULL, 0);
    f->m_requests = qs_counter("proxy_upstream_responses_total",
                               "Upstream responses passed to clients, by request kind and status.",
                               "kind,status");
    f->m_bytes = qs_counter("proxy_bytes_sent_total", "Body bytes streamed to clients.", NULL);
    return f;
}

void proxy_forward_free(proxy_forward *f) { free(f); }

/* ---- building the upstream request ---- */

typedef struct {
    const char **lines; /* "Name: value", NULL-terminated */
    size_t n;
    char **store;
    size_t nstore;
    size_t cap;
} header_list;

#define MAX_FORWARDED_HEADERS 64 /* request header lines passed upstream, at most */

static void add_header(header_list *h, const char *name, const char *value) {
    if (h->n + 1 >= h->cap)
        return;
    size_t len = strlen(name) + strlen(value) + 3;
    char *line = malloc(len);
    if (!line)
        return;
    snprintf(line, len, "%s: %s", name, value);
    h->store[h->nstore++] = line;
    h->lines[h->n++] = line;
    h->lines[h->n] = NULL;
}

/* Every occurrence of a pass-through header is forwarded: clients such as skopeo send one
 * Accept line per media type, and the registry must see all of them. */
static int pass_one(void *ctx, const char *name, const char *value) {
    for (size_t i = 0; i < QS_ARRAY_LEN(pass_request); i++)
        if (strcasecmp(name, pass_request[i]) == 0)
            add_header(ctx, pass_request[i], value);
    return 0;
}

static void build_headers(proxy_forward *f, qs_req *req, const char *authz, header_list *h) {
    qs_req_each_header(req, pass_one, h);
    if (authz)
        add_header(h, "Authorization", authz);
    add_header(h, "X-Forwarded-For", qs_req_remote(req));
    add_header(h, "X-Forwarded-Proto", f->cfg->exposed_scheme);
    add_header(h, "X-Forwarded-Host", f->cfg->exposed_host);
}

static void free_headers(header_list *h) {
    for (size_t i = 0; i < h->nstore; i++)
        free(h->store[i]);
    h->nstore = h->n = 0;
}

/* Open the upstream stream with the robot's credentials. QS_OK with *out, or an error. */
static int open_upstream(proxy_forward *f, qs_req *req, const proxy_path *path,
                         qs_http_stream **out, char *err, size_t errlen) {
    char *authz = NULL;
    if (proxy_upstream_authorization(f->up, path->repo, &authz) != QS_OK) {
        snprintf(err, errlen, "the proxy holds no valid upstream credentials");
        return QS_EUNAVAIL;
    }
    const char *lines[MAX_FORWARDED_HEADERS + 1] = {0};
    char *store[MAX_FORWARDED_HEADERS];
    header_list h = {.lines = lines, .store = store, .cap = MAX_FORWARDED_HEADERS};
    build_headers(f, req, authz, &h);
    if (authz) {
        memset(authz, 0, strlen(authz));
        free(authz);
    }
    qs_buf url = QS_BUF_INIT;
    qs_buf_printf(&url, "%s%s", f->cfg->upstream_url, qs_req_raw_target(req));
    bool head = strcmp(qs_req_method(req), "HEAD") == 0;
    qs_http_req hr = QS_HTTP_REQ_INIT;
    hr.method = head ? "HEAD" : "GET";
    hr.url = url.data;
    hr.headers = lines;
    hr.no_body = head;
    hr.max_attempts = 2;
    hr.timeout_ms = -1;
    int rc = qs_http_stream_open(f->http, &hr, out, err, errlen);
    free_headers(&h);
    qs_buf_free(&url);
    return rc;
}

/* ---- answering the client ---- */

typedef struct {
    qs_http_stream *s;
    proxy_forward *f;
    unsigned long long sent;
} pipe_ctx;

static ssize_t pipe_read(void *ctx, char *buf, size_t max) {
    pipe_ctx *p = ctx;
    ssize_t n = qs_http_stream_read(p->s, buf, max);
    if (n > 0) {
        p->sent += (unsigned long long)n;
        return n;
    }
    if (n == 0)
        return QS_STREAM_END;
    qs_log(QS_LOG_WARN, "upstream stream broke", "error", qs_http_stream_error(p->s), NULL);
    return QS_STREAM_ERROR;
}

static void pipe_done(void *ctx) {
    pipe_ctx *p = ctx;
    qs_metric_add(p->f->m_bytes, (double)p->sent);
    qs_http_stream_close(p->s);
    free(p);
}

static void copy_headers(proxy_forward *f, qs_req *req, qs_http_stream *s) {
    const qs_header *hs = NULL;
    size_t n = qs_http_stream_headers(s, &hs);
    for (size_t i = 0; i < n; i++) {
        if (!proxy_forward_keep_response_header(hs[i].name))
            continue;
        if (strcasecmp(hs[i].name, "Location") == 0) {
            char *loc = proxy_forward_rewrite_location(
                hs[i].value, f->cfg->upstream_url, f->cfg->exposed_scheme, f->cfg->exposed_host);
            if (loc)
                qs_resp_header(req, hs[i].name, loc);
            free(loc);
            continue;
        }
        qs_resp_header(req, hs[i].name, hs[i].value);
    }
}

static double since(const struct timespec *t0) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

void proxy_forward_request(proxy_forward *f, qs_req *req, const proxy_path *path) {
    const char *kind = proxy_path_kind_name(path->kind);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    qs_http_stream *s = NULL;
    char err[256] = "";
    int rc = open_upstream(f, req, path, &s, err, sizeof err);
    if (rc == QS_OK && qs_http_stream_status(s) == 401) {
        /* Our robot credentials were refused: renew them and try once more. */
        qs_http_stream_close(s);
        s = NULL;
        proxy_upstream_invalidate(f->up, path->repo);
        rc = open_upstream(f, req, path, &s, err, sizeof err);
        if (rc == QS_OK && qs_http_stream_status(s) == 401) {
            qs_http_stream_close(s);
            qs_log(QS_LOG_ERROR, "upstream refused the robot's credentials", NULL);
            qs_respond_error(req, 502, "UNAVAILABLE",
                             "the upstream registry refused the proxy's credentials");
            return;
        }
    }
    qs_metric_observe(f->m_latency, since(&t0), kind);
    if (rc != QS_OK) {
        qs_log(QS_LOG_WARN, "upstream request failed", "kind", kind, "error", err, NULL);
        qs_respond_error(req, rc == QS_EUNAVAIL && strstr(err, "credentials") ? 503 : 502,
                         "UNAVAILABLE", "upstream registry unavailable: %s", err);
        return;
    }
    long status = qs_http_stream_status(s);
    char st[8];
    snprintf(st, sizeof st, "%ld", status);
    qs_metric_add(f->m_requests, 1, kind, st);
    copy_headers(f, req, s);
    pipe_ctx *p = calloc(1, sizeof *p);
    if (!p) {
        qs_http_stream_close(s);
        qs_respond_error(req, 500, "UNKNOWN", "out of memory");
        return;
    }
    p->s = s;
    p->f = f;
    int64_t len = qs_http_stream_length(s);
    if (status == 204 || status == 304 || (status >= 100 && status < 200))
        len = 0;
    qs_respond_stream(req, (int)status, len < 0 ? QS_SIZE_UNKNOWN : len, pipe_read, p, pipe_done);
}
