/* test_http_server.c — the shared HTTP server: routing, params, limits, error bodies,
 * built-in endpoints, streaming, HEAD and graceful stop, exercised with real HTTP (libcurl). */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "shared/buf.h"
#include "shared/http_server.h"
#include "shared/log.h"
#include "shared/metrics.h"

static qs_server *srv;
static unsigned port;

static void h_echo_param(qs_req *r, void *ctx) {
    (void)ctx;
    json_t *o =
        json_pack("{s:s?,s:s?,s:s?,s:s}", "ws", qs_req_param(r, "ws"), "rest",
                  qs_req_param(r, "rest"), "q", qs_req_query(r, "q"), "raw", qs_req_raw_target(r));
    qs_respond_json(r, 200, o);
}

static void h_body(qs_req *r, void *ctx) {
    (void)ctx;
    size_t n;
    const char *b = qs_req_body(r, &n);
    qs_respond(r, 200, "application/octet-stream", b, n);
}

static void h_json(qs_req *r, void *ctx) {
    (void)ctx;
    json_t *j = qs_req_json(r);
    if (!j)
        return;
    qs_respond_json(r, 201, j);
}

static void h_silent(qs_req *r, void *ctx) {
    (void)r;
    (void)ctx;
}

typedef struct {
    size_t left;
} gen;

static ssize_t gen_read(void *ctx, char *buf, size_t max) {
    gen *g = ctx;
    if (!g->left)
        return QS_STREAM_END;
    size_t n = g->left < max ? g->left : max;
    memset(buf, 'x', n);
    g->left -= n;
    return (ssize_t)n;
}

static int streams_done;
static void gen_done(void *ctx) {
    free(ctx);
    __atomic_add_fetch(&streams_done, 1, __ATOMIC_SEQ_CST);
}

static void h_stream(qs_req *r, void *ctx) {
    (void)ctx;
    gen *g = malloc(sizeof *g);
    g->left = 3u << 20;
    qs_resp_header(r, "Docker-Content-Digest", "sha256:abc");
    qs_respond_stream(r, 200, (int64_t)g->left, gen_read, g, gen_done);
}

static int slow_entered;
static void h_slow(qs_req *r, void *ctx) {
    (void)ctx;
    __atomic_store_n(&slow_entered, 1, __ATOMIC_SEQ_CST);
    usleep(400 * 1000);
    qs_respond(r, 200, "text/plain", "slow", 4);
}

static bool ready_flag;
static bool ready_fn(void *ctx, qs_buf *why) {
    (void)ctx;
    if (!ready_flag)
        qs_buf_puts(why, "warming up");
    return ready_flag;
}

static void start(qs_error_formatter fmt) {
    static const qs_route routes[] = {
        {"GET", "/api/v1/workspaces/{ws}", h_echo_param, NULL, 0},
        {"DELETE", "/api/v1/workspaces/{ws}", h_echo_param, NULL, 0},
        {"GET", "/files/{rest*}", h_echo_param, NULL, 0},
        {"POST", "/body", h_body, NULL, 16},
        {"POST", "/json", h_json, NULL, 0},
        {"GET", "/silent", h_silent, NULL, 0},
        {"GET", "/stream", h_stream, NULL, 0},
        {"GET", "/slow", h_slow, NULL, 0},
    };
    qs_server_opts o = QS_SERVER_OPTS_INIT;
    o.listen_addr = "127.0.0.1:0";
    o.error_formatter = fmt;
    o.ready = ready_fn;
    char err[256];
    srv = qs_server_new(&o, routes, sizeof routes / sizeof routes[0], err, sizeof err);
    cr_assert_not_null(srv, "%s", err);
    cr_assert_eq(qs_server_start(srv, err, sizeof err), 0, "%s", err);
    port = qs_server_port(srv);
    cr_assert_gt(port, 0);
}

static void setup(void) {
    qs_log_init("test", QS_LOG_ERROR);
    start(NULL);
}
static void teardown(void) {
    qs_server_free(srv);
    srv = NULL;
}

typedef struct {
    long status;
    qs_buf body;
    qs_buf headers;
} result;

static size_t wr(char *p, size_t s, size_t n, void *ud) {
    qs_buf_append(ud, p, s * n);
    return s * n;
}

static result call(const char *method, const char *path, const char *body, long bodylen,
                   const char *const *hdrs) {
    result r = {0, QS_BUF_INIT, QS_BUF_INIT};
    CURL *c = curl_easy_init();
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    struct curl_slist *sl = NULL;
    for (size_t i = 0; hdrs && hdrs[i]; i++)
        sl = curl_slist_append(sl, hdrs[i]);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, bodylen);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, sl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, wr);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, wr);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(sl);
    curl_easy_cleanup(c);
    return r;
}

static void done(result *r) {
    qs_buf_free(&r->body);
    qs_buf_free(&r->headers);
}

static json_t *body_json(result *r) {
    json_t *j = json_loads(qs_buf_str(&r->body), 0, NULL);
    cr_assert_not_null(j, "body is not JSON: %s", qs_buf_str(&r->body));
    return j;
}

TestSuite(http_server, .init = setup, .fini = teardown);

Test(http_server, route_params_and_query) {
    result r = call("GET", "/api/v1/workspaces/team-a?q=x%20y", NULL, 0, NULL);
    cr_assert_eq(r.status, 200);
    json_t *j = body_json(&r);
    cr_assert_str_eq(json_string_value(json_object_get(j, "ws")), "team-a");
    cr_assert_str_eq(json_string_value(json_object_get(j, "q")), "x y");
    cr_assert_str_eq(json_string_value(json_object_get(j, "raw")),
                     "/api/v1/workspaces/team-a?q=x%20y");
    json_decref(j);
    done(&r);
}

Test(http_server, rest_param_matches_slashes_and_empty) {
    result r = call("GET", "/files/a/b/c", NULL, 0, NULL);
    json_t *j = body_json(&r);
    cr_assert_str_eq(json_string_value(json_object_get(j, "rest")), "a/b/c");
    json_decref(j);
    done(&r);
    r = call("GET", "/files/", NULL, 0, NULL);
    cr_assert_eq(r.status, 200);
    j = body_json(&r);
    cr_assert_str_eq(json_string_value(json_object_get(j, "rest")), "");
    json_decref(j);
    done(&r);
}

Test(http_server, unknown_path_is_json_404) {
    result r = call("GET", "/nope", NULL, 0, NULL);
    cr_assert_eq(r.status, 404);
    json_t *j = body_json(&r);
    cr_assert_eq(json_integer_value(json_object_get(j, "status")), 404);
    cr_assert_str_eq(json_string_value(json_object_get(j, "error")), "not_found");
    json_decref(j);
    done(&r);
}

Test(http_server, wrong_method_is_405_with_allow) {
    result r = call("PUT", "/api/v1/workspaces/x", NULL, 0, NULL);
    cr_assert_eq(r.status, 405);
    cr_assert(strstr(qs_buf_str(&r.headers), "Allow: GET, DELETE"), "%s", qs_buf_str(&r.headers));
    done(&r);
}

Test(http_server, empty_segment_does_not_match_param) {
    result r = call("GET", "/api/v1/workspaces/", NULL, 0, NULL);
    cr_assert_eq(r.status, 404);
    done(&r);
}

Test(http_server, body_within_limit_is_passed) {
    result r = call("POST", "/body", "0123456789", 10, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(qs_buf_str(&r.body), "0123456789");
    done(&r);
}

Test(http_server, announced_body_over_limit_is_413) {
    result r = call("POST", "/body", "0123456789abcdefXYZ", 19, NULL);
    cr_assert_eq(r.status, 413);
    json_t *j = body_json(&r);
    cr_assert_str_eq(json_string_value(json_object_get(j, "error")), "too_large");
    json_decref(j);
    done(&r);
}

Test(http_server, chunked_body_over_limit_is_413) {
    const char *h[] = {"Transfer-Encoding: chunked", NULL};
    result r = call("POST", "/body", "0123456789abcdefXYZ0123456789", 29, h);
    cr_assert_eq(r.status, 413);
    done(&r);
}

Test(http_server, invalid_json_is_400) {
    result r = call("POST", "/json", "{nope", 5, NULL);
    cr_assert_eq(r.status, 400);
    json_t *j = body_json(&r);
    cr_assert_str_eq(json_string_value(json_object_get(j, "error")), "invalid_json");
    json_decref(j);
    done(&r);
    r = call("POST", "/json", "{\"a\":1}", 7, NULL);
    cr_assert_eq(r.status, 201);
    done(&r);
}

Test(http_server, handler_that_does_not_answer_gets_500) {
    result r = call("GET", "/silent", NULL, 0, NULL);
    cr_assert_eq(r.status, 500);
    done(&r);
}

Test(http_server, builtin_endpoints) {
    result r = call("GET", "/healthz", NULL, 0, NULL);
    cr_assert_eq(r.status, 200);
    done(&r);
    ready_flag = false;
    r = call("GET", "/readyz", NULL, 0, NULL);
    cr_assert_eq(r.status, 503);
    cr_assert(strstr(qs_buf_str(&r.body), "warming up"));
    done(&r);
    ready_flag = true;
    r = call("GET", "/readyz", NULL, 0, NULL);
    cr_assert_eq(r.status, 200);
    done(&r);
    r = call("GET", "/metrics", NULL, 0, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(qs_buf_str(&r.body),
                     "http_requests_total{route=\"/readyz\",method=\"GET\",status=\"503\"} 1"),
              "%s", qs_buf_str(&r.body));
    done(&r);
}

Test(http_server, streamed_body_and_headers) {
    int before = __atomic_load_n(&streams_done, __ATOMIC_SEQ_CST);
    result r = call("GET", "/stream", NULL, 0, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body.len, 3u << 20);
    cr_assert(strstr(qs_buf_str(&r.headers), "Docker-Content-Digest: sha256:abc"));
    cr_assert(strstr(qs_buf_str(&r.headers), "Content-Length: 3145728"));
    done(&r);
    usleep(100 * 1000);
    cr_assert_eq(__atomic_load_n(&streams_done, __ATOMIC_SEQ_CST), before + 1);
}

Test(http_server, head_gets_length_without_body) {
    result r = call("HEAD", "/stream", NULL, 0, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body.len, 0);
    cr_assert(strstr(qs_buf_str(&r.headers), "Content-Length: 3145728"), "%s",
              qs_buf_str(&r.headers));
    done(&r);
}

Test(http_server, request_id_is_echoed_or_generated) {
    const char *h[] = {"X-Request-Id: abc-123", NULL};
    result r = call("GET", "/healthz", NULL, 0, h);
    cr_assert(strstr(qs_buf_str(&r.headers), "X-Request-Id: abc-123"));
    done(&r);
    const char *bad[] = {"X-Request-Id: bad id\"", NULL};
    r = call("GET", "/healthz", NULL, 0, bad);
    cr_assert_null(strstr(qs_buf_str(&r.headers), "bad id"));
    cr_assert(strstr(qs_buf_str(&r.headers), "X-Request-Id: "));
    done(&r);
}

static void *slow_call(void *arg) {
    result *r = arg;
    *r = call("GET", "/slow", NULL, 0, NULL);
    return NULL;
}

Test(http_server, graceful_stop_finishes_in_flight_request) {
    result r;
    pthread_t t;
    pthread_create(&t, NULL, slow_call, &r);
    for (int i = 0; i < 1000 && !__atomic_load_n(&slow_entered, __ATOMIC_SEQ_CST); i++)
        usleep(10 * 1000); /* until the request is in flight (slow under valgrind) */
    cr_assert(__atomic_load_n(&slow_entered, __ATOMIC_SEQ_CST), "the slow request never arrived");
    qs_server_stop(srv, 30);
    pthread_join(t, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(qs_buf_str(&r.body), "slow");
    done(&r);
    result after = call("GET", "/healthz", NULL, 0, NULL);
    cr_assert_eq(after.status, 0, "a stopped server must not accept connections");
    done(&after);
}

static void setup_registry(void) { start(qs_error_format_registry); }

Test(http_server, registry_error_format, .init = setup_registry, .fini = teardown) {
    result r = call("GET", "/nope", NULL, 0, NULL);
    cr_assert_eq(r.status, 404);
    json_t *j = body_json(&r);
    json_t *e = json_array_get(json_object_get(j, "errors"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(e, "code")), "NOT_FOUND");
    cr_assert_not_null(json_string_value(json_object_get(e, "message")));
    json_decref(j);
    done(&r);
}

Test(http_server_addr, bad_listen_address_is_an_error) {
    qs_server_opts o = QS_SERVER_OPTS_INIT;
    o.listen_addr = "nonsense";
    char err[256] = "";
    qs_server *s = qs_server_new(&o, NULL, 0, err, sizeof err);
    cr_assert_not_null(s);
    cr_assert_neq(qs_server_start(s, err, sizeof err), 0);
    cr_assert(strstr(err, "host:port"), "%s", err);
    qs_server_free(s);
}

Test(http_server, nul_in_path_is_400_not_a_shorter_path) {
    result r = call("GET", "/api/v1/workspaces/a%00b", NULL, 0, NULL);
    cr_assert_eq(r.status, 400, "%ld %s", r.status, qs_buf_str(&r.body));
    cr_assert_not_null(strstr(qs_buf_str(&r.body), "invalid_path"));
    done(&r);
    r = call("GET", "/api/v1/workspaces/a?x=%00", NULL, 0, NULL);
    cr_assert_eq(r.status, 200, "a %%00 in the query is the handler's business");
    done(&r);
}
