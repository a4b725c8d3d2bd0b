/* http_server.c — route table, JSON errors, limits and lifecycle over libmicrohttpd.
 *
 * Threading: MHD runs one thread per connection, so a handler may block on a cluster call or
 * stream an upstream body without stalling other clients; the connection limit bounds the
 * threads. A request object (qs_req) is created in MHD's URI-log callback — the one place the
 * raw, still-encoded request target is visible — and freed in the completion callback, where
 * request metrics and the access log are written.
 *
 * Body handling: MHD hands the upload in pieces; we append them to a buffer bounded by the
 * route's limit. An announced Content-Length over the limit is refused before reading; a
 * chunked body that grows past it is discarded and refused at its end (413 either way), and a
 * client that sends more than DISCARD_MAX is disconnected. The handler runs once the whole
 * body is in.
 *
 * Shutdown: signals are blocked in every thread and taken synchronously with sigwait in the
 * main thread, so no async-signal-safety puzzles; stop quiesces the listener (no new
 * connections), waits for in-flight requests (idle keep-alive connections do not count) up to
 * the grace period, then stops MHD, which closes what is left. */
#include "shared/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "shared/common.h"
#include "shared/log.h"
#include "shared/metrics.h"

#define MAX_PARAMS 8
#define STREAM_BLOCK (1024u * 1024u) /* send buffer of a large streamed response */
#define STREAM_MIN_BLOCK 4096u
#define DISCARD_MAX (64u << 20) /* bytes of an oversized body read before hanging up */

typedef struct {
    char *name;
    char *value;
} kv;

struct qs_server {
    qs_server_opts opts;
    char *listen_addr;
    char *service;
    qs_route *routes;
    size_t nroutes;
    struct MHD_Daemon *mhd;
    int listen_fd;
    unsigned port;
    char *tls_key;
    char *tls_cert;
    qs_metric *m_requests;
    qs_metric *m_duration;
    volatile int stopping;
    int inflight; /* requests begun and not completed (atomic) */
};

struct qs_req {
    qs_server *srv;
    struct MHD_Connection *conn;
    char *raw_target;
    char *query_string;
    const char *method;
    const char *path;
    const qs_route *route;
    kv params[MAX_PARAMS];
    size_t nparams;
    qs_buf body;
    size_t max_body;
    int too_big;
    size_t discarded;
    int answered;
    int status;
    kv *resp_headers;
    size_t nresp_headers;
    char id[65];
    struct timespec start;
};

/* ---------------------------------------------------------------- error bodies */

static void json_error_into(qs_buf *out, json_t *o) {
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    qs_buf_puts(out, s ? s : "{}");
    free(s);
}

const char *qs_error_format_default(int status, const char *code, const char *message,
                                    qs_buf *out) {
    json_t *o = json_object();
    json_object_set_new(o, "status", json_integer(status));
    json_object_set_new(o, "error", json_string(code ? code : "error"));
    json_object_set_new(o, "message", json_string(message ? message : ""));
    json_error_into(out, o);
    return "application/json";
}

const char *qs_error_format_registry(int status, const char *code, const char *message,
                                     qs_buf *out) {
    QS_UNUSED(status);
    char upper[64];
    size_t i = 0;
    for (; code && code[i] && i < sizeof upper - 1; i++)
        upper[i] = (code[i] >= 'a' && code[i] <= 'z') ? (char)(code[i] - 32) : code[i];
    upper[i] = '\0';
    json_t *e = json_object();
    json_object_set_new(e, "code", json_string(i ? upper : "UNKNOWN"));
    json_object_set_new(e, "message", json_string(message ? message : ""));
    json_object_set_new(e, "detail", json_null());
    json_t *o = json_object();
    json_object_set_new(o, "errors", json_pack("[o]", e));
    json_error_into(out, o);
    return "application/json; charset=utf-8";
}

/* ---------------------------------------------------------------- answering */

void qs_resp_header(qs_req *r, const char *name, const char *value) {
    kv *p = realloc(r->resp_headers, (r->nresp_headers + 1) * sizeof *p);
    if (!p)
        return;
    r->resp_headers = p;
    p[r->nresp_headers].name = strdup(name);
    p[r->nresp_headers].value = strdup(value);
    r->nresp_headers++;
}

static void queue(qs_req *r, int status, struct MHD_Response *resp, const char *content_type) {
    if (!resp) {
        r->answered = 1;
        r->status = 500;
        return;
    }
    if (content_type)
        MHD_add_response_header(resp, "Content-Type", content_type);
    MHD_add_response_header(resp, "X-Request-Id", r->id);
    for (size_t i = 0; i < r->nresp_headers; i++) {
        if (strcasecmp(r->resp_headers[i].name, "Content-Length") == 0)
            MHD_set_response_options(resp, MHD_RF_INSANITY_HEADER_CONTENT_LENGTH, MHD_RO_END);
        MHD_add_response_header(resp, r->resp_headers[i].name, r->resp_headers[i].value);
    }
    if (r->srv->stopping)
        MHD_add_response_header(resp, "Connection", "close");
    MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    r->answered = 1;
    r->status = status;
}

void qs_respond(qs_req *r, int status, const char *content_type, const void *body, size_t len) {
    if (r->answered)
        return;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(len ? body : ""), MHD_RESPMEM_MUST_COPY);
    queue(r, status, resp, content_type);
}

void qs_respond_json(qs_req *r, int status, json_t *body) {
    char *s = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(body);
    if (!s) {
        qs_respond_error(r, 500, "internal", "could not encode the response");
        return;
    }
    size_t n = strlen(s);
    s[n] = '\n';
    qs_respond(r, status, "application/json", s, n + 1);
    free(s);
}

void qs_respond_error(qs_req *r, int status, const char *code, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    qs_buf out = QS_BUF_INIT;
    qs_error_formatter f =
        r->srv->opts.error_formatter ? r->srv->opts.error_formatter : qs_error_format_default;
    const char *ct = f(status, code, msg, &out);
    qs_buf_puts(&out, "\n");
    qs_respond(r, status, ct, out.data, out.len);
    qs_buf_free(&out);
}

typedef struct {
    qs_stream_reader reader;
    void *ctx;
    void (*done)(void *ctx);
} stream_ctx;

static ssize_t stream_cb(void *cls, uint64_t pos, char *buf, size_t max) {
    QS_UNUSED(pos);
    stream_ctx *sc = cls;
    ssize_t n = sc->reader(sc->ctx, buf, max);
    if (n == QS_STREAM_END)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return n;
}

static void stream_free(void *cls) {
    stream_ctx *sc = cls;
    if (sc->done)
        sc->done(sc->ctx);
    free(sc);
}

void qs_respond_stream(qs_req *r, int status, int64_t size, qs_stream_reader reader, void *ctx,
                       void (*done)(void *ctx)) {
    stream_ctx *sc = calloc(1, sizeof *sc);
    if (r->answered || !sc) {
        free(sc);
        if (done)
            done(ctx);
        return;
    }
    sc->reader = reader;
    sc->ctx = ctx;
    sc->done = done;
    uint64_t sz = size < 0 ? MHD_SIZE_UNKNOWN : (uint64_t)size;
    /* MHD callocs the response together with its block: size the block to the body, or a
     * small manifest pays for zeroing a megabyte (13% of the proxy's CPU per request). */
    size_t block = STREAM_BLOCK;
    if (size >= 0 && (uint64_t)size < STREAM_BLOCK)
        block = size < (int64_t)STREAM_MIN_BLOCK ? STREAM_MIN_BLOCK : (size_t)size;
    if (strcmp(r->method, "HEAD") == 0)
        block = STREAM_MIN_BLOCK;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(sz, block, stream_cb, sc, stream_free);
    if (!resp) {
        stream_free(sc);
        qs_respond_error(r, 500, "internal", "could not create a response");
        return;
    }
    queue(r, status, resp, NULL);
}

/* ---------------------------------------------------------------- request accessors */

const char *qs_req_method(const qs_req *r) { return r->method; }
const char *qs_req_path(const qs_req *r) { return r->path; }
const char *qs_req_query_string(const qs_req *r) { return r->query_string ? r->query_string : ""; }
const char *qs_req_raw_target(const qs_req *r) { return r->raw_target ? r->raw_target : ""; }
const char *qs_req_route(const qs_req *r) { return r->route ? r->route->pattern : "unmatched"; }
const char *qs_req_id(const qs_req *r) { return r->id; }

const char *qs_req_param(const qs_req *r, const char *name) {
    for (size_t i = 0; i < r->nparams; i++)
        if (strcmp(r->params[i].name, name) == 0)
            return r->params[i].value;
    return NULL;
}

const char *qs_req_query(const qs_req *r, const char *key) {
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *qs_req_header(const qs_req *r, const char *name) {
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

typedef struct {
    int (*fn)(void *, const char *, const char *);
    void *ctx;
} each_ctx;

static enum MHD_Result each_header(void *cls, enum MHD_ValueKind kind, const char *k,
                                   const char *v) {
    QS_UNUSED(kind);
    each_ctx *e = cls;
    return e->fn(e->ctx, k, v ? v : "") ? MHD_NO : MHD_YES;
}

void qs_req_each_header(const qs_req *r, int (*fn)(void *ctx, const char *name, const char *value),
                        void *ctx) {
    each_ctx e = {fn, ctx};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, each_header, &e);
}

const char *qs_req_body(const qs_req *r, size_t *len) {
    if (len)
        *len = r->body.len;
    return qs_buf_str(&r->body);
}

json_t *qs_req_json(qs_req *r) {
    json_error_t jerr;
    json_t *j = r->body.len ? json_loadb(r->body.data, r->body.len, 0, &jerr) : NULL;
    if (!j)
        qs_respond_error(r, 400, "invalid_json", "the request body is not valid JSON%s%s",
                         r->body.len ? ": " : "", r->body.len ? jerr.text : " (empty body)");
    return j;
}

const char *qs_req_remote(const qs_req *r) {
    static _Thread_local char text[INET6_ADDRSTRLEN];
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    text[0] = '\0';
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, text,
                      sizeof text);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, text,
                      sizeof text);
    }
    return text;
}

bool qs_req_is_tls(const qs_req *r) { return r->srv->tls_cert != NULL; }

/* ---------------------------------------------------------------- routing */

/* Match `path` against `pattern`; on success fill r->params. Segments are compared between
 * slashes; "{name}" takes one non-empty segment, a final "{name*}" takes the rest. */
static bool match_route(const char *pattern, const char *path, qs_req *r) {
    size_t np = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            if (!close || np >= MAX_PARAMS)
                return false;
            bool rest = close[-1] == '*';
            size_t nlen = (size_t)(close - p - 1 - (rest ? 1 : 0));
            const char *end = rest ? s + strlen(s) : s + strcspn(s, "/");
            if (!rest && end == s)
                return false;
            r->params[np].name = strndup(p + 1, nlen);
            r->params[np].value = strndup(s, (size_t)(end - s));
            np++;
            p = close + 1;
            s = end;
            continue;
        }
        if (*p != *s)
            goto fail;
        p++;
        s++;
    }
    /* A trailing "{rest*}" may match the empty string. */
    if (*p == '{' && strstr(p, "*}") && strchr(p, '}')[1] == '\0' && np < MAX_PARAMS) {
        const char *close = strchr(p, '}');
        r->params[np].name = strndup(p + 1, (size_t)(close - p - 2));
        r->params[np].value = strdup("");
        np++;
        p = close + 1;
    }
    if (*p || *s)
        goto fail;
    r->nparams = np;
    return true;
fail:
    for (size_t i = 0; i < np; i++) {
        free(r->params[i].name);
        free(r->params[i].value);
    }
    return false;
}

/* Find the route for the request. Returns it, or NULL with *allowed listing the methods of
 * routes whose pattern matched (empty when none did). */
static const qs_route *find_route(qs_server *s, qs_req *r, qs_buf *allowed) {
    for (size_t i = 0; i < s->nroutes; i++) {
        const qs_route *rt = &s->routes[i];
        if (!match_route(rt->pattern, r->path, r))
            continue;
        bool method_ok = strcmp(rt->method, "*") == 0 || strcmp(rt->method, r->method) == 0 ||
                         (strcmp(rt->method, "GET") == 0 && strcmp(r->method, "HEAD") == 0);
        if (method_ok)
            return rt;
        for (size_t k = 0; k < r->nparams; k++) {
            free(r->params[k].name);
            free(r->params[k].value);
        }
        r->nparams = 0;
        if (!strstr(qs_buf_str(allowed), rt->method)) {
            if (allowed->len)
                qs_buf_puts(allowed, ", ");
            qs_buf_puts(allowed, rt->method);
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------- built-in routes */

static void h_healthz(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    qs_respond_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

static void h_readyz(qs_req *r, void *ctx) {
    qs_server *s = ctx;
    qs_buf why = QS_BUF_INIT;
    bool ok = s->opts.ready ? s->opts.ready(s->opts.ready_ctx, &why) : true;
    if (ok)
        qs_respond_json(r, 200, json_pack("{s:s}", "status", "ready"));
    else
        qs_respond_json(r, 503,
                        json_pack("{s:s,s:s}", "status", "not_ready", "reason",
                                  why.len ? why.data : "not ready"));
    qs_buf_free(&why);
}

static void h_metrics(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    qs_buf out = QS_BUF_INIT;
    qs_metrics_render(&out);
    qs_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
    qs_buf_free(&out);
}

/* ---------------------------------------------------------------- MHD callbacks */

static void set_request_id(qs_req *r) {
    const char *given = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Request-Id");
    size_t n = given ? strlen(given) : 0;
    bool sane = n > 0 && n < sizeof r->id &&
                strspn(given, "abcdefghijklmnopqrstuvwxyz"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "0123456789-_.") == n;
    if (sane) {
        memcpy(r->id, given, n + 1);
        return;
    }
    static const char hex[] = "0123456789abcdef";
    unsigned char rnd[8];
    if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd) {
        unsigned long x = (unsigned long)r ^ (unsigned long)time(NULL);
        memcpy(rnd, &x, sizeof rnd < sizeof x ? sizeof rnd : sizeof x);
    }
    for (size_t i = 0; i < sizeof rnd; i++) {
        r->id[2 * i] = hex[rnd[i] >> 4];
        r->id[2 * i + 1] = hex[rnd[i] & 15];
    }
    r->id[2 * sizeof rnd] = '\0';
}

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *conn) {
    qs_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->srv = cls;
    r->conn = conn;
    r->raw_target = strdup(uri ? uri : "/");
    const char *q = r->raw_target ? strchr(r->raw_target, '?') : NULL;
    r->query_string = strdup(q ? q + 1 : "");
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    __atomic_add_fetch(&r->srv->inflight, 1, __ATOMIC_SEQ_CST);
    return r;
}

/* The first call for a request: route it and check an announced body size. Returns false
 * when the request was answered already (404/405/413). */
static bool begin_request(qs_server *s, qs_req *r) {
    set_request_id(r);
    /* libmicrohttpd decodes the path, so "%00" would cut it short: /a%00b would be routed as
     * /a. Refuse it instead. */
    const char *t = r->raw_target ? r->raw_target : "";
    size_t plen = strcspn(t, "?");
    for (size_t i = 0; i + 2 < plen; i++)
        if (t[i] == '%' && t[i + 1] == '0' && t[i + 2] == '0') {
            qs_respond_error(r, 400, "invalid_path", "the path must not contain %%00");
            return false;
        }
    qs_buf allowed = QS_BUF_INIT;
    r->route = find_route(s, r, &allowed);
    if (!r->route) {
        if (allowed.len) {
            qs_resp_header(r, "Allow", allowed.data);
            qs_respond_error(r, 405, "method_not_allowed", "%s is not allowed on %s; allowed: %s",
                             r->method, r->path, allowed.data);
        } else {
            qs_respond_error(r, 404, "not_found", "no such endpoint: %s %s", r->method, r->path);
        }
        qs_buf_free(&allowed);
        return false;
    }
    qs_buf_free(&allowed);
    r->max_body = r->route->max_body ? r->route->max_body : s->opts.max_body;
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > r->max_body) {
        qs_respond_error(r, 413, "too_large", "the request body is larger than %zu bytes",
                         r->max_body);
        return false;
    }
    return true;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_size,
                                      void **con_cls) {
    QS_UNUSED(version);
    qs_server *s = cls;
    qs_req *r = *con_cls;
    if (!r)
        return MHD_NO;
    if (!r->method) { /* first call: headers are in */
        r->conn = conn;
        r->method = method;
        r->path = url;
        if (!begin_request(s, r))
            return MHD_YES;
        return MHD_YES;
    }
    if (r->answered) { /* refused early: swallow any body */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        /* Over the limit: keep reading but discard (answering mid-upload stalls MHD 0.9.75's
         * chunked reader), and give up on the connection if the client keeps going. */
        if (r->too_big || r->body.len + *upload_size > r->max_body) {
            r->discarded += *upload_size;
            r->too_big = 1;
            *upload_size = 0;
            return r->discarded > DISCARD_MAX ? MHD_NO : MHD_YES;
        }
        qs_buf_append(&r->body, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->too_big) {
        qs_respond_error(r, 413, "too_large", "the request body is larger than %zu bytes",
                         r->max_body);
        return MHD_YES;
    }
    qs_log_set_request_id(r->id);
    r->route->handler(r, r->route->ctx);
    if (!r->answered)
        qs_respond_error(r, 500, "handler_error", "the handler did not answer");
    qs_log_set_request_id(NULL);
    return MHD_YES;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
    QS_UNUSED(conn);
    qs_server *s = cls;
    qs_req *r = *con_cls;
    if (!r)
        return;
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    double secs =
        (double)(end.tv_sec - r->start.tv_sec) + (double)(end.tv_nsec - r->start.tv_nsec) / 1e9;
    if (r->method) {
        char status[8];
        snprintf(status, sizeof status, "%d", r->status ? r->status : 499);
        qs_metric_add(s->m_requests, 1, qs_req_route(r), r->method, status);
        qs_metric_observe(s->m_duration, secs, qs_req_route(r));
        if (s->opts.access_log && qs_log_enabled(QS_LOG_DEBUG)) {
            char dur[32];
            snprintf(dur, sizeof dur, "%.3f", secs * 1000);
            qs_log(QS_LOG_DEBUG, "request", "request_id", r->id, "method", r->method, "route",
                   qs_req_route(r), "status", status, "duration_ms", dur, "completed",
                   toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "true" : "false", NULL);
        }
    }
    for (size_t i = 0; i < r->nparams; i++) {
        free(r->params[i].name);
        free(r->params[i].value);
    }
    for (size_t i = 0; i < r->nresp_headers; i++) {
        free(r->resp_headers[i].name);
        free(r->resp_headers[i].value);
    }
    free(r->resp_headers);
    qs_buf_free(&r->body);
    free(r->raw_target);
    free(r->query_string);
    free(r);
    *con_cls = NULL;
    __atomic_sub_fetch(&s->inflight, 1, __ATOMIC_SEQ_CST);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    QS_UNUSED(cls);
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    qs_log(QS_LOG_DEBUG, "libmicrohttpd", "detail", msg, NULL);
}

/* ---------------------------------------------------------------- listening */

/* Split "host:port", "[v6]:port" or ":port" into host (NULL = any) and port. */
static int split_addr(const char *addr, char *host, size_t hostlen, char *port, size_t portlen) {
    const char *colon;
    host[0] = '\0';
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':')
            return QS_EINVAL;
        snprintf(host, hostlen, "%.*s", (int)(close - addr - 1), addr + 1);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return QS_EINVAL;
        snprintf(host, hostlen, "%.*s", (int)(colon - addr), addr);
    }
    snprintf(port, portlen, "%s", colon + 1);
    if (!port[0] || strspn(port, "0123456789") != strlen(port))
        return QS_EINVAL;
    return QS_OK;
}

static int open_listener(const char *addr, unsigned *bound_port, char *err, size_t errlen) {
    char host[256], port[16];
    if (split_addr(addr, host, sizeof host, port, sizeof port) != QS_OK) {
        snprintf(err, errlen, "listen address %s is not host:port", addr);
        return -1;
    }
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    const char *node = host[0] ? host : "0.0.0.0";
    int gai = getaddrinfo(node, port, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "cannot resolve listen address %s: %s", addr, gai_strerror(gai));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 511) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        snprintf(err, errlen, "cannot read the bound address: %s", strerror(errno));
        close(fd);
        return -1;
    }
    *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

/* ---------------------------------------------------------------- lifecycle */

static char *read_small_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    qs_buf b = QS_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < (1u << 20))
        qs_buf_append(&b, chunk, n);
    fclose(f);
    return qs_buf_steal(&b);
}

qs_server *qs_server_new(const qs_server_opts *opts, const qs_route *routes, size_t nroutes,
                         char *err, size_t errlen) {
    qs_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->opts = *opts;
    s->listen_addr = strdup(opts->listen_addr ? opts->listen_addr : "127.0.0.1:0");
    s->service = strdup(opts->service ? opts->service : "quayside");
    s->opts.listen_addr = s->listen_addr;
    s->opts.service = s->service;
    if (!s->opts.max_body)
        s->opts.max_body = 1u << 20;
    s->listen_fd = -1;
    const qs_route builtin[] = {
        {"GET", "/healthz", h_healthz, s, 0},
        {"GET", "/readyz", h_readyz, s, 0},
        {"GET", "/metrics", h_metrics, s, 0},
    };
    size_t nb = opts->no_builtin ? 0 : QS_ARRAY_LEN(builtin);
    s->routes = calloc(nb + nroutes, sizeof *s->routes);
    if (!s->routes) {
        qs_server_free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    memcpy(s->routes, builtin, nb * sizeof *builtin);
    if (nroutes)
        memcpy(s->routes + nb, routes, nroutes * sizeof *routes);
    s->nroutes = nb + nroutes;
    if (opts->tls_cert_file || opts->tls_key_file) {
        s->tls_cert = opts->tls_cert_file ? read_small_file(opts->tls_cert_file) : NULL;
        s->tls_key = opts->tls_key_file ? read_small_file(opts->tls_key_file) : NULL;
        if (!s->tls_cert || !s->tls_key) {
            snprintf(err, errlen, "TLS needs both a readable certificate and key file");
            qs_server_free(s);
            return NULL;
        }
    }
    s->m_requests =
        qs_counter("http_requests_total", "HTTP requests answered, by route, method and status.",
                   "route,method,status");
    s->m_duration =
        qs_histogram("http_request_duration_seconds",
                     "Time from request start to the last byte of the response.", "route", NULL, 0);
    return s;
}

int qs_server_start(qs_server *s, char *err, size_t errlen) {
    s->listen_fd = open_listener(s->listen_addr, &s->port, err, errlen);
    if (s->listen_fd < 0)
        return QS_EUNAVAIL;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | MHD_USE_POLL;
    if (s->tls_cert) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            snprintf(err, errlen, "this libmicrohttpd was built without TLS");
            return QS_EUNAVAIL;
        }
        flags |= MHD_USE_TLS;
    }
    struct MHD_OptionItem tls_opts[] = {
        {s->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, s->tls_cert},
        {s->tls_key ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, s->tls_key},
        {MHD_OPTION_END, 0, NULL},
    };
    s->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, access_handler, s, MHD_OPTION_LISTEN_SOCKET, s->listen_fd,
        MHD_OPTION_URI_LOG_CALLBACK, uri_log, s, MHD_OPTION_NOTIFY_COMPLETED, completed, s,
        MHD_OPTION_CONNECTION_LIMIT, s->opts.max_connections ? s->opts.max_connections : 512u,
        MHD_OPTION_CONNECTION_TIMEOUT, s->opts.idle_timeout_s ? s->opts.idle_timeout_s : 120u,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128u * 1024u), MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, NULL, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
    if (!s->mhd) {
        snprintf(err, errlen, "libmicrohttpd could not start on %s", s->listen_addr);
        close(s->listen_fd);
        s->listen_fd = -1;
        return QS_EUNAVAIL;
    }
    qs_log(QS_LOG_INFO, "listening", "addr", s->listen_addr, "tls", s->tls_cert ? "true" : "false",
           NULL);
    return QS_OK;
}

unsigned qs_server_port(const qs_server *s) { return s->port; }

void qs_server_stop(qs_server *s, double grace_s) {
    if (!s || !s->mhd)
        return;
    s->stopping = 1;
    MHD_socket fd = MHD_quiesce_daemon(s->mhd);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    s->listen_fd = -1;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        /* In-flight requests, not connections: an idle keep-alive connection must not hold
         * the shutdown for the whole grace period. */
        int n = __atomic_load_n(&s->inflight, __ATOMIC_SEQ_CST);
        clock_gettime(CLOCK_MONOTONIC, &now);
        double el = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
        if (n == 0 || el >= grace_s) {
            if (n && grace_s > 0)
                qs_log(QS_LOG_WARN, "grace period over, closing open connections", NULL);
            break;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
}

void qs_server_free(qs_server *s) {
    if (!s)
        return;
    qs_server_stop(s, 0);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    free(s->routes);
    free(s->listen_addr);
    free(s->service);
    free(s->tls_cert);
    if (s->tls_key) {
        memset(s->tls_key, 0, strlen(s->tls_key));
        free(s->tls_key);
    }
    free(s);
}

/* ---------------------------------------------------------------- signals */

static pthread_mutex_t sd_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sd_cv = PTHREAD_COND_INITIALIZER;
static volatile sig_atomic_t sd_flag;

static void shutdown_sigset(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGUSR2);
}

void qs_signals_init(void) {
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    shutdown_sigset(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void mark_shutdown(void) {
    pthread_mutex_lock(&sd_mu);
    sd_flag = 1;
    pthread_cond_broadcast(&sd_cv);
    pthread_mutex_unlock(&sd_mu);
}

int qs_wait_for_shutdown(void) {
    sigset_t set;
    shutdown_sigset(&set);
    int sig = 0;
    while (!sd_flag) {
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGUSR2 && !sd_flag)
            continue;
        break;
    }
    mark_shutdown();
    qs_log(QS_LOG_INFO, "shutting down", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM", NULL);
    return sig ? sig : SIGTERM;
}

void qs_request_shutdown(void) {
    mark_shutdown();
    kill(getpid(), SIGUSR2);
}

bool qs_shutdown_requested(void) { return sd_flag != 0; }

bool qs_sleep_or_shutdown(double seconds) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    long long ns = (long long)(seconds * 1e9) + until.tv_nsec;
    until.tv_sec += (time_t)(ns / 1000000000LL);
    until.tv_nsec = (long)(ns % 1000000000LL);
    pthread_mutex_lock(&sd_mu);
    while (!sd_flag && pthread_cond_timedwait(&sd_cv, &sd_mu, &until) == 0) {
    }
    bool stop = sd_flag != 0;
    pthread_mutex_unlock(&sd_mu);
    return stop;
}
