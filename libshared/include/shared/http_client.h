/* http_client.h — outgoing HTTP with libcurl: pooled connections, timeouts, retries, streams.
 *
 * One qs_http is shared by all threads of a service. Every transfer borrows connections from
 * one shared pool (a curl share object with connection, DNS and TLS-session caches), so
 * repeated calls to the same host reuse keep-alive connections.
 *
 * Retries: a transfer that fails at the transport level, or answers 5xx or 429, is tried
 * again up to `max_attempts` times with exponential backoff and full jitter, honouring
 * `Retry-After` (seconds or HTTP date, capped at backoff_max_ms). The last response is then
 * returned as it is: callers see the real status. Requests with a streamed upload body are
 * never retried (the body cannot be replayed).
 *
 * Redirects are never followed here: a 3xx is returned to the caller (the proxy passes them
 * on; the registry client follows blob redirects itself without sending credentials to
 * another host).
 *
 * Two ways to get a body: buffered (qs_http_do, bounded by max_response) or streamed
 * (qs_http_stream_*: read it in pieces as it arrives; memory stays bounded whatever its size).
 * Secrets given as basic/bearer credentials never appear in logs or error messages. */
#ifndef QS_HTTP_CLIENT_H
#define QS_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shared/buf.h"

typedef struct qs_http qs_http;

typedef struct {
    long connect_timeout_ms; /* default 10000 */
    long timeout_ms;         /* whole buffered request; 0 = none. default 60000 */
    long stall_timeout_s;    /* abort a transfer that moves < 1 byte/s this long; default 60 */
    int max_attempts;        /* default 4 (1 = never retry) */
    long backoff_base_ms;    /* default 200 */
    long backoff_max_ms;     /* default 10000 */
    bool verify_tls;         /* default true */
    const char *ca_file;     /* extra CA bundle (PEM), NULL = system */
    const char *user_agent;  /* default "quayside/<version>" */
    size_t max_response;     /* default cap of buffered bodies; default 16 MiB */
} qs_http_opts;

#define QS_HTTP_OPTS_INIT                                                                          \
    { 10000, 60000, 60, 4, 200, 10000, true, NULL, NULL, 16u << 20 }

typedef struct {
    char *name;
    char *value;
} qs_header;

typedef struct {
    long status;        /* HTTP status; 0 when no response was received */
    qs_header *headers; /* headers of the final response, in order */
    size_t nheaders;
    qs_buf body;     /* buffered body (qs_http_do only) */
    int attempts;    /* how many attempts were made */
    char error[256]; /* transport error text when status == 0 (never a secret) */
} qs_http_resp;

/** Streamed upload: copy up to `max` bytes into buf, return count, 0 at end, or
 *  (size_t)-1 to abort. */
typedef size_t (*qs_http_upload_fn)(void *ctx, char *buf, size_t max);

typedef struct {
    const char *method; /* default "GET" */
    const char *url;
    const char *const *headers; /* "Name: value" strings, NULL-terminated; may be NULL */
    const void *body;           /* buffered request body */
    size_t body_len;
    qs_http_upload_fn upload; /* streamed request body instead of `body` */
    void *upload_ctx;
    int64_t upload_len;     /* length of the streamed body, -1 = chunked */
    const char *basic_user; /* Basic credentials, or NULL */
    const char *basic_pass;
    const char *bearer;  /* "Authorization: Bearer <this>", or NULL */
    int max_attempts;    /* 0 = client default */
    long timeout_ms;     /* 0 = client default; -1 = no overall timeout */
    size_t max_response; /* 0 = client default */
    bool no_body;        /* HEAD-like: do not read a body */
} qs_http_req;

#define QS_HTTP_REQ_INIT                                                                           \
    { 0 }

qs_http *qs_http_new(const qs_http_opts *opts);
void qs_http_free(qs_http *h);

/** Perform a request and buffer the response body. A header line, bearer token, Basic
 *  credential, URL or method holding CR or LF is refused with QS_EINVAL before anything is
 *  sent (the same in qs_http_stream_open). Returns 0 when a response arrived (any
 *  status; check resp->status), QS_EUNAVAIL after transport failures (resp->error says why),
 *  QS_ETOOBIG when the body exceeded max_response, QS_ETIMEOUT. resp must be freed with
 *  qs_http_resp_free even on failure. */
int qs_http_do(qs_http *h, const qs_http_req *req, qs_http_resp *resp);
/** A response header (case-insensitive), or NULL. */
const char *qs_http_resp_header(const qs_http_resp *resp, const char *name);
void qs_http_resp_free(qs_http_resp *resp);

/** Parse a Retry-After value (delta seconds or HTTP-date) into milliseconds from now;
 *  -1 when unparseable. Pure. */
long qs_http_parse_retry_after(const char *value, long now_epoch_s);
/** The backoff before attempt `attempt` (1-based retry count): full jitter in
 *  [0, min(max, base * 2^(attempt-1))]. */
long qs_http_backoff_ms(long base_ms, long max_ms, int attempt);

/* ---- streams ---- */
typedef struct qs_http_stream qs_http_stream;

/** Start a request and wait for the response headers. Transport failures, 5xx and 429
 *  before any body byte is read are retried as in qs_http_do (unless max_attempts == 1).
 *  Returns 0 with *out set (any status), or QS_EUNAVAIL (err gets the reason). */
int qs_http_stream_open(qs_http *h, const qs_http_req *req, qs_http_stream **out, char *err,
                        size_t errlen);
long qs_http_stream_status(const qs_http_stream *s);
/** A response header, or NULL. */
const char *qs_http_stream_header(const qs_http_stream *s, const char *name);
/** All response headers. */
size_t qs_http_stream_headers(const qs_http_stream *s, const qs_header **out);
/** Content-Length of the response, or -1 when unknown. */
int64_t qs_http_stream_length(const qs_http_stream *s);
/** Read the next piece of the body: > 0 bytes, 0 at the end, < 0 on transport error. Blocks
 *  until data arrives. Memory used by a stream is bounded (about 1 MiB) whatever the body. */
ssize_t qs_http_stream_read(qs_http_stream *s, char *buf, size_t max);
/** Body bytes received but not yet read, held in the stream's memory (diagnostics and tests:
 *  stays below about 768 KiB because the transfer pauses when the reader falls behind). */
size_t qs_http_stream_buffered(const qs_http_stream *s);
/** Text of the last transport error of the stream ("" if none). */
const char *qs_http_stream_error(const qs_http_stream *s);
/** Close (abandoning whatever is unread) and free. NULL is fine. */
void qs_http_stream_close(qs_http_stream *s);

#endif
