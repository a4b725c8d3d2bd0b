/* test_http_client.c — qs_http against a scripted libmicrohttpd server on loopback.
 *
 * Each test starts its own server (port 0, read back with MHD_get_daemon_info) whose routes
 * misbehave on purpose: 503 twice, 429 with Retry-After, oversized bodies, a 64 MiB body, slow
 * answers. A second, raw-socket server sends interim 1xx responses, which MHD cannot. The
 * server counts accepted connections so connection reuse is measured, not assumed. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "shared/common.h"
#include "shared/http_client.h"

#define STREAM_SIZE (64ull << 20)
#define CHUNKED_SIZE (4ull << 20)
#define BIG_SIZE (2u << 20)
#define HEAD_SIZE 12345

static struct MHD_Daemon *daemon_;
static int port_;
static atomic_int conns_, flaky_hits_, rl_hits_, upload_fail_hits_;
static atomic_ullong produced_; /* highest body offset the stream route has produced */
static const char *retry_after_ = "0";
static char url_buf_[256];

/* ------------------------------------------------------------------ fake server */

typedef struct {
    size_t bytes;
} req_ctx;

static unsigned char pattern(uint64_t i) {
    return (unsigned char)(((uint32_t)i * 2654435761u) >> 24);
}

static ssize_t stream_gen(void *cls, uint64_t pos, char *buf, size_t max) {
    uint64_t total = *(uint64_t *)cls;
    if (pos >= total)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = total - pos < max ? (size_t)(total - pos) : max;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)pattern(pos + i);
    if (pos + n > produced_)
        produced_ = pos + n;
    return (ssize_t)n;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body,
                             const char *const *hdrs) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    for (; hdrs && hdrs[0]; hdrs += 2)
        MHD_add_response_header(r, hdrs[0], hdrs[1]);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_gen(struct MHD_Connection *c, uint64_t *total, bool known) {
    struct MHD_Response *r = MHD_create_response_from_callback(known ? *total : MHD_SIZE_UNKNOWN,
                                                               64 * 1024, stream_gen, total, NULL);
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result route_auth(struct MHD_Connection *c) {
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (a && strcmp(a, "Basic YWxpY2U6cGE6c3M=") == 0)
        return reply(c, 200, "basic-ok", NULL);
    if (a && strcmp(a, "Bearer tok-123") == 0)
        return reply(c, 200, "bearer-ok", NULL);
    return reply(c, 401, "no", NULL);
}

static enum MHD_Result route_upload(struct MHD_Connection *c, req_ctx *rc) {
    const char *exp = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Expect");
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    char body[128];
    snprintf(body, sizeof body, "%zu", rc->bytes);
    const char *h[] = {"X-Saw-Expect", exp ? exp : "none", "X-Saw-Type", ct ? ct : "none", NULL};
    return reply(c, 200, body, h);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *data_size, void **con_cls) {
    (void)cls;
    (void)version;
    static uint64_t stream_total = STREAM_SIZE, chunked_total = CHUNKED_SIZE;
    req_ctx *rc = *con_cls;
    if (!rc) {
        *con_cls = calloc(1, sizeof(req_ctx));
        return MHD_YES;
    }
    if (*data_size) {
        rc->bytes += *data_size;
        *data_size = 0;
        (void)data;
        return MHD_YES;
    }
    if (strcmp(url, "/ok") == 0) {
        const char *h[] = {"X-Test", "One", "X-Dup", "first", "X-Dup", "second", NULL};
        return reply(c, 200, "hello world", h);
    }
    if (strcmp(url, "/flaky") == 0)
        return ++flaky_hits_ <= 2 ? reply(c, 503, "busy", NULL) : reply(c, 200, "finally", NULL);
    if (strcmp(url, "/ratelimit") == 0) {
        const char *h[] = {"Retry-After", retry_after_, NULL};
        return ++rl_hits_ == 1 ? reply(c, 429, "slow down", h) : reply(c, 200, "ok", NULL);
    }
    if (strcmp(url, "/big") == 0) {
        static char big[BIG_SIZE + 1];
        memset(big, 'b', BIG_SIZE);
        return reply(c, 200, big, NULL);
    }
    if (strcmp(url, "/stream") == 0)
        return reply_gen(c, &stream_total, true);
    if (strcmp(url, "/chunked") == 0)
        return reply_gen(c, &chunked_total, false);
    if (strcmp(url, "/head") == 0) {
        static char hb[HEAD_SIZE + 1];
        memset(hb, 'h', HEAD_SIZE);
        const char *h[] = {"X-Head", "yes", NULL};
        return reply(c, 200, hb, h);
    }
    if (strcmp(url, "/redir") == 0) {
        const char *h[] = {"Location", "/ok", NULL};
        return reply(c, 302, "", h);
    }
    if (strcmp(url, "/auth") == 0)
        return route_auth(c);
    if (strcmp(url, "/upload") == 0)
        return route_upload(c, rc);
    if (strcmp(url, "/upload-fail") == 0) {
        upload_fail_hits_++;
        return reply(c, 503, "nope", NULL);
    }
    if (strcmp(url, "/slow") == 0) {
        usleep(1500 * 1000);
        return reply(c, 200, "late", NULL);
    }
    (void)method;
    return reply(c, 404, "not found", NULL);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)c;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

static void notify_conn(void *cls, struct MHD_Connection *c, void **socket_context,
                        enum MHD_ConnectionNotificationCode toe) {
    (void)cls;
    (void)c;
    (void)socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        conns_++;
}

static void start_server(void) {
    conns_ = flaky_hits_ = rl_hits_ = upload_fail_hits_ = 0;
    produced_ = 0;
    retry_after_ = "0";
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    daemon_ =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
                         NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                         MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_NOTIFY_CONNECTION,
                         notify_conn, NULL, MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    cr_assert_not_null(daemon_);
    port_ = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT)->port;
    cr_assert_gt(port_, 0);
}

static void stop_server(void) {
    if (daemon_)
        MHD_stop_daemon(daemon_);
    daemon_ = NULL;
}

static const char *url(const char *path) {
    snprintf(url_buf_, sizeof url_buf_, "http://127.0.0.1:%d%s", port_, path);
    return url_buf_;
}

static qs_http *client(long base_ms, long max_ms) {
    qs_http_opts o = QS_HTTP_OPTS_INIT;
    o.backoff_base_ms = base_ms;
    o.backoff_max_ms = max_ms;
    qs_http *h = qs_http_new(&o);
    cr_assert_not_null(h);
    return h;
}

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* A port nothing listens on: bind, read the port, close. */
static int closed_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

TestSuite(http, .init = start_server, .fini = stop_server, .timeout = 120);

/* ------------------------------------------------------------------ pure functions */

Test(http, retry_after_parsing) {
    cr_assert_eq(qs_http_parse_retry_after("120", 0), 120000);
    cr_assert_eq(qs_http_parse_retry_after(" 0 ", 0), 0);
    /* 784111777 = Sun, 06 Nov 1994 08:49:37 GMT */
    cr_assert_eq(qs_http_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111767), 10000);
    cr_assert_eq(qs_http_parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", 784111777 - 5), 5000);
    cr_assert_eq(qs_http_parse_retry_after("Sun Nov  6 08:49:37 1994", 784111777 - 2), 2000);
    cr_assert_eq(qs_http_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 100), 0);
    cr_assert_eq(qs_http_parse_retry_after("soon", 0), -1);
    cr_assert_eq(qs_http_parse_retry_after("12s", 0), -1);
    cr_assert_eq(qs_http_parse_retry_after("", 0), -1);
    cr_assert_eq(qs_http_parse_retry_after(NULL, 0), -1);
}

Test(http, backoff_full_jitter) {
    for (int attempt = 1; attempt <= 8; attempt++) {
        long cap = 100L << (attempt - 1);
        if (cap > 1000)
            cap = 1000;
        long lo = cap, hi = 0;
        for (int i = 0; i < 2000; i++) {
            long v = qs_http_backoff_ms(100, 1000, attempt);
            cr_assert(v >= 0 && v <= cap, "attempt %d: %ld not in [0,%ld]", attempt, v, cap);
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        cr_assert_lt(lo, cap / 4, "jitter reaches low values");
        cr_assert_gt(hi, cap * 3 / 4, "jitter reaches high values");
    }
    long v = qs_http_backoff_ms(200, 10000, 1000); /* no overflow on huge attempt numbers */
    cr_assert(v >= 0 && v <= 10000);
    cr_assert_eq(qs_http_backoff_ms(0, 0, 3), 0);
}

/* ------------------------------------------------------------------ buffered requests */

Test(http, get_ok_headers_case_insensitive) {
    qs_http *h = client(1, 10);
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url("/ok");
    qs_http_resp resp;
    cr_assert_eq(qs_http_do(h, &req, &resp), 0);
    cr_assert_eq(resp.status, 200);
    cr_assert_eq(resp.attempts, 1);
    cr_assert_str_eq(qs_buf_str(&resp.body), "hello world");
    cr_assert_str_eq(qs_http_resp_header(&resp, "x-TEST"), "One");
    cr_assert_str_eq(qs_http_resp_header(&resp, "content-length"), "11");
    cr_assert_str_eq(qs_http_resp_header(&resp, "X-Dup"), "first");
    cr_assert_null(qs_http_resp_header(&resp, "X-Missing"));
    qs_http_resp_free(&resp);
    qs_http_free(h);
}

Test(http, retries_503_then_succeeds) {
    qs_http *h = client(1, 5);
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url("/flaky");
    qs_http_resp resp;
    cr_assert_eq(qs_http_do(h, &req, &resp), 0);
    cr_assert_eq(resp.status, 200);
    cr_assert_eq(resp.attempts, 3);
    cr_assert_eq(flaky_hits_, 3);
    cr_assert_str_eq(qs_buf_str(&resp.body), "finally");
    qs_http_resp_free(&resp);
    qs_http_free(h);
}

Test(http, retries_exhausted_returns_last_status) {
    qs_http *h = client(1, 5);
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url("/flaky");
    req.max_attempts = 2;
    qs_http_resp resp;
    cr_assert_eq(qs_http_do(h, &req, &resp), 0);
    cr_assert_eq(resp.status, 503);
    cr_assert_eq(resp.attempts, 2);
    cr_assert_str_eq(qs_buf_str(&resp.body), "busy");
    qs_http_resp_free(&resp);
    qs_http_free(h);
}

Test(http, retry_after_zero_beats_long_backoff) {
    qs_http *h = client(60000, 60000); /* without Retry-After the wait would be up to 60 s */
    retry_after_ = "0";
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url("/ratelimit");
    qs_http_resp resp;
    long t0 = now_ms();
    cr_assert_eq(qs_http_do(h, &req, &resp), 0);
    cr_assert_lt(now_ms() - t0, 1500);
    cr_assert_eq(resp.status, 200);
    cr_assert_eq(resp.attempts, 2);
    qs_http_resp_free(&resp);
    qs_http_free(h);
}

Test(http, retry_after_seconds_honoured) {
    qs_http *h = client(1, 5000); /* backoff alone would wait <= 1 ms */
    retry_after_ = "1";
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url("/ratelimit");
    qs_http_resp resp;
    long t0 = now_ms();
    cr_assert_eq(qs_http_do(h, &req, &resp), 0);
    cr_assert_geq(now_ms() - t0, 950);
    cr_assert_eq(resp.status, 200);
    cr_assert_eq(resp.attempts, 2);
    qs_http_resp_free(&resp);
    qs_http_free(h);
}

Test(http, retry_after_capped_at_backoff_max) {
    qs_http *h = client(1, 200);
    retry_after_ = "3600";
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url("/ratelimit");
    qs_http_resp resp;
    long t0 = now_ms();
    cr_assert_eq(qs_http_do(h, &req, &resp), 0);
    long el = now_ms() - t0;
    cr_assert(el >= 190 && el < 2000, "waited %ld ms", el);
    cr_assert_eq(resp.attempts, 2);
    qs_http_resp_free(&resp);
    qs_http_free(h);
}

Test(http, transport_error_unavailable) {
    qs_http *h = client(1, 5);
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/x", closed_port());
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = u;
    req.max_attempts = 3;
    req.basic_user = "alice";
    req.basic_pass = "hunter2-secret";
    qs_http_resp resp;
    cr_assert_eq(qs_http_do(h, &req, &resp), QS_EUNAVAIL);
    cr_assert_eq(resp.status, 0);
    cr_assert_eq(resp.attempts, 3);
    cr_assert_gt(strlen(resp.error), 0);
    cr_assert_null(strstr(resp.error, "hunter2"));
    qs_http_resp_free(&resp);
    qs_http_free(h);
}

Test(http, max_response_too_big) {
    qs_http *h = client(1, 5);
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url("/big");
    req.max_response = 1u << 20;
    qs_http_resp resp;
    cr_assert_eq(qs_http_do(h, &req, &resp), QS_ETOOBIG);
    cr_assert_eq(resp.attempts, 1);
    qs_http_resp_free(&resp);
    req.max_response = 0; /* client default: 16 MiB */
    cr_assert_eq(qs_http_do(h, &req, &resp), 0);
    cr_assert_eq(resp.body.len, BIG_SIZE);
    qs_http_resp_free(&resp);
    qs_http_free(h);
}

Test(http, overall_timeout) {
    qs_http *h = client(1, 5);
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url("/slow");
    req.timeout_ms = 200;
    req.max_attempts = 1;
    qs_http_resp resp;
    long t0 = now_ms();
    cr_assert_eq(qs_http_do(h, &req, &resp), QS_ETIMEOUT);
    cr_assert_lt(now_ms() - t0, 1200);
    cr_assert_eq(resp.status, 0);
    qs_http_resp_free(&resp);
    qs_http_free(h);
}

Test(http, head_has_no_body) {
    qs_http *h = client(1, 5);
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url("/head");
    req.method = "HEAD";
    qs_http_resp resp;
    cr_assert_eq(qs_http_do(h, &req, &resp), 0);
    cr_assert_eq(resp.status, 200);
    cr_assert_eq(resp.body.len, 0);
    cr_assert_str_eq(qs_http_resp_header(&resp, "Content-Length"), "12345");
    cr_assert_str_eq(qs_http_resp_header(&resp, "x-head"), "yes");
    qs_http_resp_free(&resp);
    /* the connection is still usable after a HEAD */
    req.method = NULL;
    cr_assert_eq(qs_http_do(h, &req, &resp), 0);
    cr_assert_eq(resp.body.len, HEAD_SIZE);
    qs_http_resp_free(&resp);
    qs_http_free(h);
    cr_assert_eq(conns_, 1);
}

Test(http, redirect_not_followed) {
    qs_http *h = client(1, 5);
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url("/redir");
    qs_http_resp resp;
    cr_assert_eq(qs_http_do(h, &req, &resp), 0);
    cr_assert_eq(resp.status, 302);
    cr_assert_str_eq(qs_http_resp_header(&resp, "location"), "/ok");
    qs_http_resp_free(&resp);
    qs_http_free(h);
}

Test(http, basic_and_bearer_credentials) {
    qs_http *h = client(1, 5);
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url("/auth");
    qs_http_resp resp;
    cr_assert_eq(qs_http_do(h, &req, &resp), 0);
    cr_assert_eq(resp.status, 401);
    qs_http_resp_free(&resp);
    req.basic_user = "alice";
    req.basic_pass = "pa:ss";
    cr_assert_eq(qs_http_do(h, &req, &resp), 0);
    cr_assert_eq(resp.status, 200);
    cr_assert_str_eq(qs_buf_str(&resp.body), "basic-ok");
    qs_http_resp_free(&resp);
    req.basic_user = req.basic_pass = NULL;
    req.bearer = "tok-123";
    cr_assert_eq(qs_http_do(h, &req, &resp), 0);
    cr_assert_str_eq(qs_buf_str(&resp.body), "bearer-ok");
    qs_http_resp_free(&resp);
    qs_http_free(h);
}

Test(http, large_post_sends_no_expect) {
    qs_http *h = client(1, 5);
    char *body = malloc(BIG_SIZE);
    memset(body, 'p', BIG_SIZE);
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url("/upload");
    req.method = "POST";
    req.body = body;
    req.body_len = BIG_SIZE;
    qs_http_resp resp;
    cr_assert_eq(qs_http_do(h, &req, &resp), 0);
    cr_assert_eq(resp.status, 200);
    cr_assert_str_eq(qs_buf_str(&resp.body), "2097152");
    cr_assert_str_eq(qs_http_resp_header(&resp, "X-Saw-Expect"), "none");
    cr_assert_str_eq(qs_http_resp_header(&resp, "X-Saw-Type"), "none");
    qs_http_resp_free(&resp);
    free(body);
    qs_http_free(h);
}

typedef struct {
    size_t left;
} upload_src;

static size_t upload_fn(void *ctx, char *buf, size_t max) {
    upload_src *u = ctx;
    size_t n = u->left < max ? u->left : max;
    memset(buf, 'u', n);
    u->left -= n;
    return n;
}

Test(http, chunked_upload_streams_body) {
    qs_http *h = client(1, 5);
    upload_src src = {3000000};
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url("/upload");
    req.method = "PATCH";
    req.upload = upload_fn;
    req.upload_ctx = &src;
    req.upload_len = -1;
    const char *hd[] = {"Content-Type: application/octet-stream", NULL};
    req.headers = hd;
    qs_http_resp resp;
    cr_assert_eq(qs_http_do(h, &req, &resp), 0);
    cr_assert_eq(resp.status, 200);
    cr_assert_str_eq(qs_buf_str(&resp.body), "3000000");
    cr_assert_str_eq(qs_http_resp_header(&resp, "X-Saw-Expect"), "none");
    cr_assert_str_eq(qs_http_resp_header(&resp, "X-Saw-Type"), "application/octet-stream");
    qs_http_resp_free(&resp);
    qs_http_free(h);
}

Test(http, streamed_upload_never_retried) {
    qs_http *h = client(1, 5);
    upload_src src = {1000};
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url("/upload-fail");
    req.method = "PUT";
    req.upload = upload_fn;
    req.upload_ctx = &src;
    req.upload_len = 1000;
    req.max_attempts = 4;
    qs_http_resp resp;
    cr_assert_eq(qs_http_do(h, &req, &resp), 0);
    cr_assert_eq(resp.status, 503);
    cr_assert_eq(resp.attempts, 1);
    cr_assert_eq(upload_fail_hits_, 1);
    qs_http_resp_free(&resp);
    qs_http_free(h);
}

Test(http, connection_reuse_buffered) {
    qs_http *h = client(1, 5);
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url("/ok");
    for (int i = 0; i < 20; i++) {
        qs_http_resp resp;
        cr_assert_eq(qs_http_do(h, &req, &resp), 0);
        cr_assert_eq(resp.status, 200);
        qs_http_resp_free(&resp);
    }
    cr_assert_eq(conns_, 1, "20 requests used %d connections", (int)conns_);
    qs_http_free(h);
}

typedef struct {
    qs_http *h;
    int ok;
} thread_arg;

static void *thread_requests(void *p) {
    thread_arg *a = p;
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url_buf_;
    for (int i = 0; i < 25; i++) {
        qs_http_resp resp;
        if (qs_http_do(a->h, &req, &resp) == 0 && resp.status == 200 &&
            strcmp(qs_buf_str(&resp.body), "hello world") == 0)
            a->ok++;
        qs_http_resp_free(&resp);
    }
    return NULL;
}

Test(http, threads_share_pool) {
    qs_http *h = client(1, 5);
    url("/ok");
    pthread_t t[4];
    thread_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (thread_arg){h, 0};
        pthread_create(&t[i], NULL, thread_requests, &a[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(a[i].ok, 25);
    }
    cr_assert_leq(conns_, 4, "100 requests from 4 threads used %d connections", (int)conns_);
    qs_http_free(h);
}

static void *thread_streams(void *p) {
    thread_arg *a = p;
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url_buf_;
    for (int i = 0; i < 25; i++) {
        qs_http_stream *st = NULL;
        char err[128], buf[64];
        if (qs_http_stream_open(a->h, &req, &st, err, sizeof err) == 0 &&
            qs_http_stream_status(st) == 200) {
            ssize_t n, total = 0;
            while ((n = qs_http_stream_read(st, buf, sizeof buf)) > 0)
                total += n;
            if (n == 0 && total == 11)
                a->ok++;
        }
        qs_http_stream_close(st);
    }
    return NULL;
}

/* Concurrent streams must share the pool: each stream has its own multi handle, and curl
 * would otherwise prune the shared cache to 4 × one handle's worth of connections, so most
 * requests under load would open a new connection. */
Test(http, concurrent_streams_reuse_connections) {
    qs_http *h = client(1, 5);
    url("/ok");
    enum { N = 12 };
    pthread_t t[N];
    thread_arg a[N];
    for (int i = 0; i < N; i++) {
        a[i] = (thread_arg){h, 0};
        pthread_create(&t[i], NULL, thread_streams, &a[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(a[i].ok, 25);
    }
    cr_assert_leq(conns_, N, "%d streams from %d threads used %d connections", N * 25, N,
                  (int)conns_);
    qs_http_free(h);
}

/* ------------------------------------------------------------------ interim responses (raw socket)
 */

typedef struct {
    int fd;
    int port;
} raw_server;

static void *raw_serve(void *p) {
    raw_server *rs = p;
    int c = accept(rs->fd, NULL, NULL);
    if (c < 0)
        return NULL;
    char buf[4096];
    ssize_t n = read(c, buf, sizeof buf); /* the whole (small) request */
    (void)n;
    const char *out = "HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n"
                      "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
                      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Final: yes\r\n\r\nfinal";
    ssize_t w = write(c, out, strlen(out));
    (void)w;
    usleep(100 * 1000);
    close(c);
    return NULL;
}

static void raw_start(raw_server *rs, pthread_t *t) {
    rs->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    cr_assert_eq(bind(rs->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(listen(rs->fd, 4), 0);
    getsockname(rs->fd, (struct sockaddr *)&sa, &len);
    rs->port = ntohs(sa.sin_port);
    pthread_create(t, NULL, raw_serve, rs);
}

Test(http, headers_from_final_response_only) {
    raw_server rs;
    pthread_t t;
    raw_start(&rs, &t);
    qs_http *h = client(1, 5);
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/", rs.port);
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = u;
    req.max_attempts = 1;
    qs_http_resp resp;
    cr_assert_eq(qs_http_do(h, &req, &resp), 0);
    cr_assert_eq(resp.status, 200);
    cr_assert_str_eq(qs_buf_str(&resp.body), "final");
    cr_assert_str_eq(qs_http_resp_header(&resp, "X-Final"), "yes");
    cr_assert_null(qs_http_resp_header(&resp, "X-Interim"));
    cr_assert_null(qs_http_resp_header(&resp, "Link"));
    cr_assert_eq(resp.nheaders, 2);
    qs_http_resp_free(&resp);
    qs_http_free(h);
    pthread_join(t, NULL);
    close(rs.fd);
}

Test(http, stream_headers_from_final_response_only) {
    raw_server rs;
    pthread_t t;
    raw_start(&rs, &t);
    qs_http *h = client(1, 5);
    char u[128], err[256], buf[16];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/", rs.port);
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = u;
    req.max_attempts = 1;
    qs_http_stream *s;
    cr_assert_eq(qs_http_stream_open(h, &req, &s, err, sizeof err), 0);
    cr_assert_eq(qs_http_stream_status(s), 200);
    cr_assert_null(qs_http_stream_header(s, "X-Interim"));
    cr_assert_str_eq(qs_http_stream_header(s, "x-final"), "yes");
    cr_assert_eq(qs_http_stream_length(s), 5);
    ssize_t n = qs_http_stream_read(s, buf, sizeof buf);
    cr_assert_eq(n, 5);
    cr_assert_eq(memcmp(buf, "final", 5), 0);
    cr_assert_eq(qs_http_stream_read(s, buf, sizeof buf), 0);
    qs_http_stream_close(s);
    qs_http_free(h);
    pthread_join(t, NULL);
    close(rs.fd);
}

/* ------------------------------------------------------------------ streams */

static void read_all_checked(qs_http_stream *s, uint64_t expect, size_t piece,
                             size_t *max_buffered) {
    char *buf = malloc(piece);
    uint64_t off = 0;
    *max_buffered = 0;
    for (;;) {
        ssize_t n = qs_http_stream_read(s, buf, piece);
        cr_assert_geq(n, 0, "read error: %s", qs_http_stream_error(s));
        if (n == 0)
            break;
        cr_assert_leq((size_t)n, piece);
        for (ssize_t i = 0; i < n; i++)
            if ((unsigned char)buf[i] != pattern(off + (uint64_t)i))
                cr_assert_fail("byte %llu differs", (unsigned long long)(off + (uint64_t)i));
        off += (uint64_t)n;
        size_t b = qs_http_stream_buffered(s);
        if (b > *max_buffered)
            *max_buffered = b;
    }
    free(buf);
    cr_assert_eq(off, expect, "read %llu of %llu bytes", (unsigned long long)off,
                 (unsigned long long)expect);
}

Test(http, stream_64mib_small_pieces_bounded_memory) {
    qs_http *h = client(1, 5);
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url("/stream");
    qs_http_stream *s;
    char err[256];
    cr_assert_eq(qs_http_stream_open(h, &req, &s, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qs_http_stream_status(s), 200);
    cr_assert_eq(qs_http_stream_length(s), (int64_t)STREAM_SIZE);
    size_t max_buffered;
    read_all_checked(s, STREAM_SIZE, 4093, &max_buffered);
    cr_assert_leq(max_buffered, 768u * 1024u, "stream held %zu bytes", max_buffered);
    cr_assert_eq(qs_http_stream_read(s, err, 1), 0, "stays at end");
    cr_assert_str_eq(qs_http_stream_error(s), "");
    qs_http_stream_close(s);
    qs_http_free(h);
}

Test(http, stream_backpressure_pauses_peer) {
    qs_http *h = client(1, 5);
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url("/stream");
    qs_http_stream *s;
    char err[256], one;
    cr_assert_eq(qs_http_stream_open(h, &req, &s, err, sizeof err), 0, "%s", err);
    for (int i = 0; i < 50; i++) /* many reads, each may let curl pull more into the stash */
        cr_assert_eq(qs_http_stream_read(s, &one, 1), 1);
    cr_assert_leq(qs_http_stream_buffered(s), 768u * 1024u);
    usleep(300 * 1000);
    /* the server got stuck on TCP flow control far before the end of the body */
    cr_assert_lt(produced_, STREAM_SIZE / 2, "server produced %llu bytes",
                 (unsigned long long)produced_);
    qs_http_stream_close(s);
    qs_http_free(h);
}

Test(http, stream_chunked_large_pieces) {
    qs_http *h = client(1, 5);
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url("/chunked");
    qs_http_stream *s;
    char err[256];
    cr_assert_eq(qs_http_stream_open(h, &req, &s, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qs_http_stream_length(s), -1);
    size_t max_buffered;
    read_all_checked(s, CHUNKED_SIZE, 1u << 20, &max_buffered);
    qs_http_stream_close(s);
    qs_http_free(h);
}

Test(http, stream_chunked_small_pieces_bounded_memory) {
    qs_http *h = client(1, 5);
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url("/chunked");
    qs_http_stream *s;
    char err[256];
    cr_assert_eq(qs_http_stream_open(h, &req, &s, err, sizeof err), 0, "%s", err);
    size_t max_buffered;
    read_all_checked(s, CHUNKED_SIZE, 1000, &max_buffered);
    cr_assert_leq(max_buffered, 768u * 1024u, "stream held %zu bytes", max_buffered);
    qs_http_stream_close(s);
    qs_http_free(h);
}

Test(http, stream_head) {
    qs_http *h = client(1, 5);
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url("/head");
    req.no_body = true;
    qs_http_stream *s;
    char err[256], buf[64];
    cr_assert_eq(qs_http_stream_open(h, &req, &s, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qs_http_stream_status(s), 200);
    cr_assert_eq(qs_http_stream_length(s), HEAD_SIZE);
    cr_assert_eq(qs_http_stream_read(s, buf, sizeof buf), 0);
    const qs_header *hs;
    size_t n = qs_http_stream_headers(s, &hs);
    bool seen = false;
    for (size_t i = 0; i < n; i++)
        seen = seen || (strcmp(hs[i].name, "X-Head") == 0 && strcmp(hs[i].value, "yes") == 0);
    cr_assert(seen);
    qs_http_stream_close(s);
    qs_http_free(h);
}

Test(http, stream_open_retries_before_body) {
    qs_http *h = client(1, 5);
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url("/flaky");
    qs_http_stream *s;
    char err[256], buf[64];
    cr_assert_eq(qs_http_stream_open(h, &req, &s, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qs_http_stream_status(s), 200);
    cr_assert_eq(flaky_hits_, 3);
    ssize_t n = qs_http_stream_read(s, buf, sizeof buf);
    cr_assert_eq(n, 7);
    cr_assert_eq(memcmp(buf, "finally", 7), 0);
    qs_http_stream_close(s);
    qs_http_free(h);
}

Test(http, stream_no_retry_when_one_attempt) {
    qs_http *h = client(1, 5);
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url("/flaky");
    req.max_attempts = 1;
    qs_http_stream *s;
    char err[256];
    cr_assert_eq(qs_http_stream_open(h, &req, &s, err, sizeof err), 0, "%s", err);
    cr_assert_eq(qs_http_stream_status(s), 503);
    cr_assert_eq(flaky_hits_, 1);
    qs_http_stream_close(s);
    qs_http_free(h);
}

Test(http, stream_transport_error) {
    qs_http *h = client(1, 5);
    char u[128], err[256];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/x", closed_port());
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = u;
    req.max_attempts = 2;
    qs_http_stream *s = (qs_http_stream *)1;
    cr_assert_eq(qs_http_stream_open(h, &req, &s, err, sizeof err), QS_EUNAVAIL);
    cr_assert_null(s);
    cr_assert_gt(strlen(err), 0);
    qs_http_free(h);
}

Test(http, stream_connection_reuse_and_abandon) {
    qs_http *h = client(1, 5);
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url("/ok");
    char err[256], buf[64];
    for (int i = 0; i < 10; i++) {
        qs_http_resp resp;
        cr_assert_eq(qs_http_do(h, &req, &resp), 0);
        qs_http_resp_free(&resp);
        qs_http_stream *s;
        cr_assert_eq(qs_http_stream_open(h, &req, &s, err, sizeof err), 0, "%s", err);
        cr_assert_eq(qs_http_stream_read(s, buf, sizeof buf), 11);
        cr_assert_eq(qs_http_stream_read(s, buf, sizeof buf), 0);
        qs_http_stream_close(s);
    }
    cr_assert_eq(conns_, 1, "streams and buffered calls used %d connections", (int)conns_);
    /* abandoning a stream mid-body must not poison the pool */
    req.url = url("/stream");
    qs_http_stream *s;
    cr_assert_eq(qs_http_stream_open(h, &req, &s, err, sizeof err), 0, "%s", err);
    cr_assert_gt(qs_http_stream_read(s, buf, sizeof buf), 0);
    qs_http_stream_close(s);
    req.url = url("/ok");
    for (int i = 0; i < 3; i++) {
        qs_http_resp resp;
        cr_assert_eq(qs_http_do(h, &req, &resp), 0);
        cr_assert_str_eq(qs_buf_str(&resp.body), "hello world");
        qs_http_resp_free(&resp);
    }
    cr_assert_eq(conns_, 2);
    qs_http_free(h);
}

Test(http, crlf_in_header_values_is_refused_before_sending) {
    qs_http *h = client(1, 10);
    const char *inj[] = {"Authorization: tok\r\nX-Evil: 1", NULL};
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url("/ok");
    req.headers = inj;
    qs_http_resp resp;
    cr_assert_eq(qs_http_do(h, &req, &resp), QS_EINVAL);
    cr_assert_eq(resp.status, 0);
    cr_assert_not_null(strstr(resp.error, "CR or LF"));
    qs_http_resp_free(&resp);
    req.headers = NULL;
    req.bearer = "tok\rX-Evil: 1";
    cr_assert_eq(qs_http_do(h, &req, &resp), QS_EINVAL);
    qs_http_resp_free(&resp);
    qs_http_stream *st = NULL;
    char err[128];
    cr_assert_eq(qs_http_stream_open(h, &req, &st, err, sizeof err), QS_EINVAL);
    cr_assert_null(st);
    req.bearer = "tok\tok"; /* a TAB is no line break */
    cr_assert_eq(qs_http_do(h, &req, &resp), 0);
    cr_assert_eq(resp.status, 200);
    qs_http_resp_free(&resp);
    qs_http_free(h);
}
