/* http_server.h — the HTTP surface every quayside service and emulator is built on.
 *
 * A thin layer over libmicrohttpd in thread-per-connection mode: a handler may block (call a
 * cluster, stream from an upstream) without stalling other clients. Routes are a table of
 * (method, pattern) → handler; a pattern is a path with `{name}` segments and an optional
 * final `{name*}` that matches the rest of the path (possibly empty, possibly with slashes).
 * A path that matches a route with another method gets 405 with `Allow`; no match gets 404;
 * both with the server's JSON error body.
 *
 * Built in on every server: `GET /healthz` (200 while the process runs), `GET /readyz` (the
 * service's readiness callback; 503 with the reasons otherwise), `GET /metrics` (Prometheus
 * text from the process-wide metrics registry), and request metrics
 * `http_requests_total{route,method,status}` and `http_request_duration_seconds{route}`.
 * (The route label is the pattern, so cardinality stays bounded.)
 *
 * Request bodies are read into memory up to a limit (server default, overridable per route);
 * a larger one is answered 413 before the handler runs. Responses are buffers, JSON, or a
 * stream fed by a reader callback (the body is never held whole). Errors use the server's
 * error formatter: by default {"status":N,"error":"<code>","message":"<text>"}.
 *
 * Shutdown: qs_signals_init() (first thing in main) blocks SIGTERM/SIGINT in every thread;
 * qs_wait_for_shutdown() waits for one; qs_server_stop() stops accepting, lets in-flight
 * requests finish within a grace period, then closes. */
#ifndef QS_HTTP_SERVER_H
#define QS_HTTP_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shared/buf.h"

typedef struct qs_server qs_server;
typedef struct qs_req qs_req;

/** A route handler. It must answer exactly once with one of the qs_respond_* calls (a handler
 *  that returns without answering gets a 500 "handler_error"). `ctx` is the route's. */
typedef void (*qs_handler)(qs_req *req, void *ctx);

typedef struct {
    const char *method;  /* "GET", "POST", ..., or "*" for any method */
    const char *pattern; /* "/api/v1/workspaces/{ws}", "/v2/{rest*}" */
    qs_handler handler;
    void *ctx;
    size_t max_body; /* 0 = the server's default */
} qs_route;

/** Formats an error body. Writes the body into `out` and returns its Content-Type. */
typedef const char *(*qs_error_formatter)(int status, const char *code, const char *message,
                                          qs_buf *out);

/** Readiness: return true when ready; otherwise false and a short reason in `why`. */
typedef bool (*qs_ready_fn)(void *ctx, qs_buf *why);

typedef struct {
    const char *listen_addr;   /* "host:port", "[::1]:port", ":port"; port 0 = any free port */
    const char *service;       /* for logs */
    size_t max_body;           /* default request body limit; default 1 MiB */
    unsigned max_connections;  /* default 512 */
    unsigned idle_timeout_s;   /* close connections idle this long; default 120 */
    const char *tls_cert_file; /* PEM; both set = HTTPS */
    const char *tls_key_file;
    qs_error_formatter error_formatter; /* NULL = default JSON */
    qs_ready_fn ready;                  /* NULL = always ready */
    void *ready_ctx;
    bool access_log; /* log each request at debug level (never headers or bodies) */
    bool no_builtin; /* do not add /healthz, /readyz, /metrics (for emulators of APIs
                        that own those paths) */
} qs_server_opts;

#define QS_SERVER_OPTS_INIT                                                                        \
    { NULL, "quayside", 1u << 20, 512, 120, NULL, NULL, NULL, NULL, NULL, true, false }

/** Create a server with the routes (copied). Does not listen yet. NULL + message on error. */
qs_server *qs_server_new(const qs_server_opts *opts, const qs_route *routes, size_t nroutes,
                         char *err, size_t errlen);
/** Bind and start serving in background threads. 0, or QS_EUNAVAIL with a message. */
int qs_server_start(qs_server *s, char *err, size_t errlen);
/** The bound TCP port (useful with port 0). */
unsigned qs_server_port(const qs_server *s);
/** Stop accepting new connections, wait up to `grace_s` seconds for in-flight requests, then
 *  close everything. Idempotent. */
void qs_server_stop(qs_server *s, double grace_s);
void qs_server_free(qs_server *s);

/** Block SIGTERM, SIGINT and SIGPIPE in the calling thread (call before creating threads, so
 *  every thread inherits the mask) . */
void qs_signals_init(void);
/** Wait for SIGTERM or SIGINT (or qs_request_shutdown). Returns the signal number. */
int qs_wait_for_shutdown(void);
/** Wake qs_wait_for_shutdown as if SIGTERM arrived (tests, fatal errors). */
void qs_request_shutdown(void);
/** Has a shutdown been requested? Background loops poll this. */
bool qs_shutdown_requested(void);
/** Sleep up to `seconds`, returning early (true) when shutdown is requested. */
bool qs_sleep_or_shutdown(double seconds);

/* ---- the request ---- */
const char *qs_req_method(const qs_req *r);
/** The decoded path, without the query string. */
const char *qs_req_path(const qs_req *r);
/** A `{name}` from the route pattern, percent-decoded; NULL if the pattern has none. */
const char *qs_req_param(const qs_req *r, const char *name);
/** A query-string argument (first occurrence), decoded; NULL when absent. */
const char *qs_req_query(const qs_req *r, const char *key);
/** The raw query string without '?', "" when none (for forwarding unchanged). */
const char *qs_req_query_string(const qs_req *r);
/** The raw request target as the client sent it (path and query, still percent-encoded). */
const char *qs_req_raw_target(const qs_req *r);
/** A request header (case-insensitive); NULL when absent. */
const char *qs_req_header(const qs_req *r, const char *name);
/** Call `fn` for each request header in order; stop when it returns non-zero. */
void qs_req_each_header(const qs_req *r, int (*fn)(void *ctx, const char *name, const char *value),
                        void *ctx);
/** The request body (NUL-terminated for convenience) and its length; "" and 0 when none. */
const char *qs_req_body(const qs_req *r, size_t *len);
/** Parse the body as JSON. On failure answers 400 "invalid_json" itself and returns NULL. */
json_t *qs_req_json(qs_req *r);
/** The peer address as text. */
const char *qs_req_remote(const qs_req *r);
/** The route pattern that matched (metrics label). */
const char *qs_req_route(const qs_req *r);
/** This request's id (generated, or the client's X-Request-Id if sane). */
const char *qs_req_id(const qs_req *r);
/** Is the connection TLS? */
bool qs_req_is_tls(const qs_req *r);

/* ---- answering ---- */
/** Add a response header (before answering). Copies both strings. */
void qs_resp_header(qs_req *r, const char *name, const char *value);
/** Answer with a buffer (copied). */
void qs_respond(qs_req *r, int status, const char *content_type, const void *body, size_t len);
/** Answer with JSON; steals the reference to `body`. */
void qs_respond_json(qs_req *r, int status, json_t *body);
/** Answer with the server's error format. `code` is a stable machine-readable word. */
void qs_respond_error(qs_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/** A streaming body reader: copy up to `max` bytes into `buf` and return how many (> 0);
 *  return QS_STREAM_END at the end, QS_STREAM_ERROR to abort the connection. May block. */
typedef ssize_t (*qs_stream_reader)(void *ctx, char *buf, size_t max);
#define QS_STREAM_END ((ssize_t)-1)
#define QS_STREAM_ERROR ((ssize_t)-2)
#define QS_SIZE_UNKNOWN ((int64_t)-1)

/** Answer with a streamed body of `size` bytes (QS_SIZE_UNKNOWN → chunked). For HEAD the
 *  reader is never called and `size` becomes the Content-Length. `done` (may be NULL) is
 *  called exactly once with `ctx` when the response is finished or abandoned. */
void qs_respond_stream(qs_req *r, int status, int64_t size, qs_stream_reader reader, void *ctx,
                       void (*done)(void *ctx));

/** The default JSON error formatter, and the registry's ({"errors":[{"code","message"}]}). */
const char *qs_error_format_default(int status, const char *code, const char *message, qs_buf *out);
const char *qs_error_format_registry(int status, const char *code, const char *message,
                                     qs_buf *out);

#endif
