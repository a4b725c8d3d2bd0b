/* test_registry_write.c — registry writes and listings (registry_write.c).
 *
 * Three layers: the pure media-type classifier; a fake registry (libmicrohttpd in this process)
 * that records exactly what the client sends — upload Locations relative and absolute with a
 * `_state` query parameter that must come back unchanged, Content-Range of every PATCH, the
 * digest on the closing PUT, tag pages linked with relative and absolute `Link` headers, a Link
 * that loops; and the real docker-registry instances of the local stack (reg-plain without
 * auth, reg-token with Bearer tokens from the quay emulator) for byte-exact manifest round trips
 * of the four media types, monolithic and chunked uploads, mounts and catalog pagination. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/common.h"
#include "shared/digest.h"
#include "shared/registry.h"
#include "stack_spawn.h"

/* ------------------------------------------------------------------ pure */

Test(manifest_kind, table) {
    static const struct {
        const char *mt;
        qs_mkind k;
        const char *name;
    } cases[] = {
        {QS_MT_DOCKER_MANIFEST, QS_MKIND_DOCKER2, "docker2"},
        {QS_MT_DOCKER_LIST, QS_MKIND_DOCKERLIST, "dockerlist"},
        {QS_MT_OCI_MANIFEST, QS_MKIND_OCI, "oci"},
        {QS_MT_OCI_INDEX, QS_MKIND_OCIINDEX, "ociindex"},
        {QS_MT_DOCKER_SCHEMA1, QS_MKIND_SCHEMA1, "schema1"},
        {QS_MT_DOCKER_SCHEMA1_SIGNED, QS_MKIND_SCHEMA1, "schema1"},
        {"Application/VND.OCI.image.index.v1+json; charset=utf-8", QS_MKIND_OCIINDEX, "ociindex"},
        {" application/vnd.oci.image.manifest.v1+json ", QS_MKIND_OCI, "oci"},
        {"application/json", QS_MKIND_UNKNOWN, "unknown"},
        {"application/vnd.oci.image.manifest.v1+jsonx", QS_MKIND_UNKNOWN, "unknown"},
        {"", QS_MKIND_UNKNOWN, "unknown"},
        {NULL, QS_MKIND_UNKNOWN, "unknown"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        qs_mkind k = qs_manifest_kind(cases[i].mt);
        cr_assert_eq(k, cases[i].k, "%s", cases[i].mt ? cases[i].mt : "(null)");
        cr_assert_str_eq(qs_manifest_kind_name(k), cases[i].name);
    }
    cr_assert(qs_manifest_kind_is_list(QS_MKIND_DOCKERLIST));
    cr_assert(qs_manifest_kind_is_list(QS_MKIND_OCIINDEX));
    cr_assert_not(qs_manifest_kind_is_list(QS_MKIND_OCI));
    cr_assert_not(qs_manifest_kind_is_list(QS_MKIND_SCHEMA1));
}

/* ------------------------------------------------------------------ fake registry */

static struct MHD_Daemon *fake_;
static int fport_;
static pthread_mutex_t fmu_ = PTHREAD_MUTEX_INITIALIZER;
static char flog_[64][256]; /* what the fake saw, one line per request */
static int nflog_;
static qs_buf upload_; /* bytes received by the upload session */
static char put_ct_[128];
static qs_buf put_body_;

typedef struct {
    qs_buf body;
} conn;

static void flog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void flog(const char *fmt, ...) {
    pthread_mutex_lock(&fmu_);
    if (nflog_ < 64) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(flog_[nflog_++], sizeof flog_[0], fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&fmu_);
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

static const char *arg(struct MHD_Connection *c, const char *k) {
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
    return v ? v : "-";
}

/* Tags a..e, `n` per page; the next page's Link is relative on odd pages, absolute on even. */
static enum MHD_Result route_tags(struct MHD_Connection *c, bool loop) {
    static const char *tags[] = {"a", "b", "c", "d", "e"};
    flog("GET tags n=%s last=%s", arg(c, "n"), arg(c, "last"));
    if (loop) {
        /* page 1 links to page 2, which links back to page 1 */
        bool second = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "last") != NULL;
        const char *h[] = {"Link",
                           second ? "</v2/loop/tags/list?n=1>; rel=\"next\""
                                  : "</v2/loop/tags/list?n=1&last=x>; rel=\"next\"",
                           NULL};
        return reply(c, 200, "{\"name\":\"loop\",\"tags\":[\"x\"]}", h);
    }
    const char *n = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "n");
    const char *last = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "last");
    size_t start = 0, per = n ? (size_t)atoi(n) : 5;
    while (last && start < 5 && strcmp(tags[start], last) <= 0)
        start++;
    json_t *arr = json_array();
    size_t i = start;
    for (; i < 5 && i < start + per; i++)
        json_array_append_new(arr, json_string(tags[i]));
    json_t *obj = json_pack("{s:s,s:o}", "name", "r", "tags", arr);
    char *body = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    char link[256];
    if (start == 0) /* the first page links relatively, later ones absolutely */
        snprintf(link, sizeof link, "</v2/r/tags/list?n=%zu&last=%s>; rel=\"next\"", per,
                 tags[i - 1]);
    else
        snprintf(link, sizeof link,
                 "<http://127.0.0.1:%d/v2/r/tags/list?last=%s&n=%zu>; title=\"x\"; rel=\"next\"",
                 fport_, tags[i - 1], per);
    const char *h[] = {"Link", link, NULL};
    enum MHD_Result ret = reply(c, 200, body, i < 5 ? h : NULL);
    free(body);
    return ret;
}

static enum MHD_Result route_upload(struct MHD_Connection *c, const char *method, conn *cn) {
    static int state;
    char loc[160];
    if (strcmp(method, "POST") == 0) {
        const char *mount = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "mount");
        flog("POST uploads mount=%s from=%s", arg(c, "mount"), arg(c, "from"));
        if (mount && strcmp(arg(c, "from"), "has/it") == 0)
            return reply(c, 201, "", (const char *[]){"Location", "/v2/up/blobs/x", NULL});
        state = 0;
        qs_buf_reset(&upload_);
        return reply(c, 202, "",
                     (const char *[]){"Location", "/v2/up/blobs/uploads/u1?_state=s0", NULL});
    }
    const char *cr = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Range");
    flog("%s u1 _state=%s digest=%s range=%s len=%zu", method, arg(c, "_state"), arg(c, "digest"),
         cr ? cr : "-", cn->body.len);
    qs_buf_append(&upload_, cn->body.data ? cn->body.data : "", cn->body.len);
    if (strcmp(method, "PATCH") == 0) {
        snprintf(loc, sizeof loc, "http://127.0.0.1:%d/v2/up/blobs/uploads/u1?_state=s%d", fport_,
                 ++state);
        return reply(c, 202, "", (const char *[]){"Location", loc, NULL});
    }
    char d[QS_DIGEST_STR_LEN + 1];
    qs_sha256_digest(upload_.data ? upload_.data : "", upload_.len, d);
    if (strcmp(d, arg(c, "digest")) != 0)
        return reply(c, 400, "{\"errors\":[{\"code\":\"DIGEST_INVALID\",\"message\":\"x\"}]}",
                     NULL);
    return reply(c, 201, "", (const char *[]){"Docker-Content-Digest", d, NULL});
}

static enum MHD_Result route_manifest_put(struct MHD_Connection *c, const char *ref, conn *cn) {
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    snprintf(put_ct_, sizeof put_ct_, "%s", ct ? ct : "");
    qs_buf_reset(&put_body_);
    qs_buf_append(&put_body_, cn->body.data ? cn->body.data : "", cn->body.len);
    char d[QS_DIGEST_STR_LEN + 1];
    qs_sha256_digest(cn->body.data ? cn->body.data : "", cn->body.len, d);
    if (strcmp(ref, "liar") == 0)
        d[10] = d[10] == 'a' ? 'b' : 'a';
    return reply(c, 201, "", (const char *[]){"Docker-Content-Digest", d, NULL});
}

static enum MHD_Result fake_handler(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version, const char *data,
                                    size_t *data_size, void **con_cls) {
    (void)cls;
    (void)version;
    if (!*con_cls) {
        *con_cls = calloc(1, sizeof(conn));
        return MHD_YES;
    }
    conn *cn = *con_cls;
    if (*data_size) {
        qs_buf_append(&cn->body, data, *data_size);
        *data_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/v2/") == 0)
        return reply(c, 200, "{}", NULL);
    if (strcmp(url, "/v2/r/tags/list") == 0 || strcmp(url, "/v2/loop/tags/list") == 0)
        return route_tags(c, strstr(url, "loop") != NULL);
    if (strncmp(url, "/v2/up/blobs/uploads/", 21) == 0)
        return route_upload(c, method, cn);
    if (strncmp(url, "/v2/m/manifests/", 16) == 0 && strcmp(method, "PUT") == 0)
        return route_manifest_put(c, url + 16, cn);
    return reply(c, 404, "{\"errors\":[{\"code\":\"NAME_UNKNOWN\"}]}", NULL);
}

static void fake_done(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)c;
    (void)toe;
    conn *cn = *con_cls;
    if (cn) {
        qs_buf_free(&cn->body);
        free(cn);
    }
    *con_cls = NULL;
}

static qs_http *fhttp_;
static qs_registry *freg_;

static void fake_start(void) {
    nflog_ = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fake_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                             NULL, NULL, fake_handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                             MHD_OPTION_NOTIFY_COMPLETED, fake_done, NULL, MHD_OPTION_END);
    cr_assert_not_null(fake_);
    fport_ = MHD_get_daemon_info(fake_, MHD_DAEMON_INFO_BIND_PORT)->port;
    qs_http_opts o = QS_HTTP_OPTS_INIT;
    o.max_attempts = 1;
    fhttp_ = qs_http_new(&o);
    char hp[64];
    snprintf(hp, sizeof hp, "127.0.0.1:%d", fport_);
    freg_ = stack_registry(fhttp_, hp, NULL);
}

static void fake_stop(void) {
    qs_registry_free(freg_);
    qs_http_free(fhttp_);
    MHD_stop_daemon(fake_);
    qs_buf_free(&upload_);
    qs_buf_free(&put_body_);
}

TestSuite(fake, .init = fake_start, .fini = fake_stop, .timeout = 30);

Test(fake, tags_follow_relative_and_absolute_links) {
    char **tags;
    size_t n;
    cr_assert_eq(qs_registry_tags(freg_, "r", 2, NULL, &tags, &n), QS_OK);
    cr_assert_eq(n, 5);
    static const char *want[] = {"a", "b", "c", "d", "e"};
    for (size_t i = 0; i < 5; i++)
        cr_assert_str_eq(tags[i], want[i]);
    cr_assert_null(tags[5]);
    qs_strv_free(tags);
    cr_assert_eq(nflog_, 3, "pages fetched: %d", nflog_);
    cr_assert_str_eq(flog_[0], "GET tags n=2 last=-");
    cr_assert_str_eq(flog_[1], "GET tags n=2 last=b"); /* relative Link */
    cr_assert_str_eq(flog_[2], "GET tags n=2 last=d"); /* absolute Link */
}

Test(fake, tags_start_after_last) {
    char **tags;
    size_t n;
    cr_assert_eq(qs_registry_tags(freg_, "r", 0, "c", &tags, &n), QS_OK);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(tags[0], "d");
    qs_strv_free(tags);
    cr_assert_str_eq(flog_[0], "GET tags n=- last=c");
    cr_assert_eq(qs_registry_tags(freg_, "r", 0, "bad&x=y", &tags, &n), QS_EINVAL);
}

Test(fake, link_loop_is_an_error_not_a_hang) {
    char **tags = (char **)1;
    cr_assert_eq(qs_registry_tags(freg_, "loop", 1, NULL, &tags, NULL), QS_EPROTO);
    cr_assert_null(tags);
    cr_assert_eq(nflog_, 2, "pages fetched: %d", nflog_);
}

Test(fake, missing_repository_is_not_found) {
    char **tags;
    cr_assert_eq(qs_registry_tags(freg_, "nope", 0, NULL, &tags, NULL), QS_ENOTFOUND);
}

typedef struct {
    const char *data;
    size_t len, off, step;
} mem_reader;

static size_t mem_read(void *ctx, char *buf, size_t max) {
    mem_reader *m = ctx;
    size_t n = m->len - m->off;
    n = n < max ? n : max;
    n = n < m->step ? n : m->step;
    memcpy(buf, m->data + m->off, n);
    m->off += n;
    return n;
}

static char *pattern(size_t n, unsigned seed) {
    char *p = malloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (char)((i * 2654435761u + seed) >> 13);
    return p;
}

Test(fake, chunked_upload_reuses_locations_and_sends_ranges) {
    char *data = pattern(2500, 1), d[QS_DIGEST_STR_LEN + 1];
    qs_sha256_digest(data, 2500, d);
    mem_reader m = {data, 2500, 0, 700};
    qs_blob_upload up = QS_BLOB_UPLOAD_INIT;
    up.read = mem_read;
    up.read_ctx = &m;
    up.chunk_size = 1000;
    cr_assert_eq(qs_registry_blob_upload(freg_, "up", d, &up), QS_OK);
    cr_assert_eq(nflog_, 5);
    cr_assert_str_eq(flog_[0], "POST uploads mount=- from=-");
    cr_assert_str_eq(flog_[1], "PATCH u1 _state=s0 digest=- range=0-999 len=1000");
    cr_assert_str_eq(flog_[2], "PATCH u1 _state=s1 digest=- range=1000-1999 len=1000");
    cr_assert_str_eq(flog_[3], "PATCH u1 _state=s2 digest=- range=2000-2499 len=500");
    char want[200];
    snprintf(want, sizeof want, "PUT u1 _state=s3 digest=%s range=- len=0", d);
    cr_assert_str_eq(flog_[4], want);
    cr_assert_eq(upload_.len, 2500);
    cr_assert_eq(memcmp(upload_.data, data, 2500), 0);
    free(data);
}

Test(fake, monolithic_upload_is_one_streamed_put) {
    char *data = pattern(300000, 2), d[QS_DIGEST_STR_LEN + 1];
    qs_sha256_digest(data, 300000, d);
    mem_reader m = {data, 300000, 0, 4096};
    qs_blob_upload up = QS_BLOB_UPLOAD_INIT;
    up.size = 300000;
    up.read = mem_read;
    up.read_ctx = &m;
    cr_assert_eq(qs_registry_blob_upload(freg_, "up", d, &up), QS_OK);
    cr_assert_eq(nflog_, 2);
    char want[200];
    snprintf(want, sizeof want, "PUT u1 _state=s0 digest=%s range=- len=300000", d);
    cr_assert_str_eq(flog_[1], want);
    /* The registry refusing the digest is QS_EDIGEST. */
    data[5] ^= 1;
    m.off = 0;
    cr_assert_eq(qs_registry_blob_upload(freg_, "up", d, &up), QS_EDIGEST);
    free(data);
}

Test(fake, mount_201_and_202) {
    const char *d = "sha256:0000000000000000000000000000000000000000000000000000000000000001";
    bool mounted = false;
    char *session = NULL;
    cr_assert_eq(qs_registry_blob_mount(freg_, "up", d, "has/it", &mounted, &session), QS_OK);
    cr_assert(mounted);
    cr_assert_null(session);
    cr_assert_eq(qs_registry_blob_mount(freg_, "up", d, "other", &mounted, &session), QS_OK);
    cr_assert_not(mounted);
    char want[128];
    snprintf(want, sizeof want, "http://127.0.0.1:%d/v2/up/blobs/uploads/u1?_state=s0", fport_);
    cr_assert_str_eq(session, want);
    char logline[160];
    snprintf(logline, sizeof logline, "POST uploads mount=%s from=other", d);
    cr_assert_str_eq(flog_[1], logline);
    /* The session continues the upload without another POST. */
    char data[] = "hello", dd[QS_DIGEST_STR_LEN + 1];
    qs_sha256_digest(data, 5, dd);
    mem_reader m = {data, 5, 0, 5};
    qs_blob_upload up = QS_BLOB_UPLOAD_INIT;
    up.size = 5;
    up.read = mem_read;
    up.read_ctx = &m;
    up.session = session;
    cr_assert_eq(qs_registry_blob_upload(freg_, "up", dd, &up), QS_OK);
    cr_assert_eq(nflog_, 3);
    cr_assert(strncmp(flog_[2], "PUT u1 _state=s0 digest=sha256:", 31) == 0, "%s", flog_[2]);
    free(session);
    cr_assert_eq(qs_registry_blob_mount(freg_, "up", d, "../x", &mounted, NULL), QS_EINVAL);
}

Test(fake, manifest_put_is_byte_exact_and_checks_the_answer) {
    const char body[] = "{\n   \"schemaVersion\": 2 ,\"mediaType\":\"x\"}\n\n";
    char d[QS_DIGEST_STR_LEN + 1], want[QS_DIGEST_STR_LEN + 1];
    cr_assert_eq(
        qs_registry_manifest_put(freg_, "m", "v1", QS_MT_OCI_MANIFEST, body, strlen(body), d),
        QS_OK);
    qs_sha256_digest(body, strlen(body), want);
    cr_assert_str_eq(d, want);
    cr_assert_str_eq(put_ct_, QS_MT_OCI_MANIFEST);
    cr_assert_eq(put_body_.len, strlen(body));
    cr_assert_eq(memcmp(put_body_.data, body, strlen(body)), 0);
    cr_assert_eq(
        qs_registry_manifest_put(freg_, "m", "liar", QS_MT_OCI_MANIFEST, body, strlen(body), NULL),
        QS_EDIGEST);
    /* By digest, the body must be that digest; header injection is refused. */
    cr_assert_eq(
        qs_registry_manifest_put(freg_, "m", want, QS_MT_OCI_MANIFEST, body, strlen(body), NULL),
        QS_OK);
    cr_assert_eq(qs_registry_manifest_put(freg_, "m",
                                          "sha256:00000000000000000000000000000000000000000000"
                                          "00000000000000000000",
                                          QS_MT_OCI_MANIFEST, body, strlen(body), NULL),
                 QS_EINVAL);
    cr_assert_eq(
        qs_registry_manifest_put(freg_, "m", "v1", "a/b\r\nX-Evil: 1", body, strlen(body), NULL),
        QS_EINVAL);
}

/* ------------------------------------------------------------------ the real registries */

static test_stack st_;
static qs_http *http_;
static stack_creds pusher_;
static qs_registry *plain_, *token_;

static void real_start(void) {
    stack_start(&st_);
    qs_http_opts o = QS_HTTP_OPTS_INIT;
    o.backoff_base_ms = 10;
    http_ = qs_http_new(&o);
    pusher_ = (stack_creds){st_.pusher_user, st_.pusher_pass};
    plain_ = stack_registry(http_, st_.plain, NULL);
    token_ = stack_registry(http_, st_.token, &pusher_);
}

static void real_stop(void) {
    qs_registry_free(plain_);
    qs_registry_free(token_);
    qs_http_free(http_);
    stack_stop(&st_);
}

TestSuite(real, .init = real_start, .fini = real_stop, .timeout = 120);

static void upload_mem(qs_registry *r, const char *repo, const char *data, size_t n,
                       bool known_size, char *digest) {
    qs_sha256_digest(data, n, digest);
    mem_reader m = {data, n, 0, 65536};
    qs_blob_upload up = QS_BLOB_UPLOAD_INIT;
    up.size = known_size ? (int64_t)n : -1;
    up.read = mem_read;
    up.read_ctx = &m;
    up.chunk_size = 1u << 20;
    cr_assert_eq(qs_registry_blob_upload(r, repo, digest, &up), QS_OK);
}

/* The blob's bytes back from the registry hash to `digest`. */
static void assert_blob(qs_registry *r, const char *repo, const char *digest, int64_t size) {
    int64_t got = -1;
    cr_assert_eq(qs_registry_blob_head(r, repo, digest, &got), QS_OK);
    cr_assert_eq(got, size);
    qs_http_stream *s;
    cr_assert_eq(qs_registry_blob_open(r, repo, digest, &s), QS_OK);
    qs_sha256 *h = qs_sha256_new();
    char buf[65536], d[QS_DIGEST_STR_LEN + 1];
    ssize_t n;
    while ((n = qs_http_stream_read(s, buf, sizeof buf)) > 0)
        qs_sha256_update(h, buf, (size_t)n);
    cr_assert_eq(n, 0);
    qs_sha256_final(h, d);
    qs_http_stream_close(s);
    cr_assert_str_eq(d, digest);
}

Test(real, blob_upload_monolithic_and_chunked) {
    size_t n = (3u << 20) + 12345;
    char *data = pattern(n, 3), d1[QS_DIGEST_STR_LEN + 1], d2[QS_DIGEST_STR_LEN + 1];
    upload_mem(plain_, "w/mono", data, n, true, d1);
    assert_blob(plain_, "w/mono", d1, (int64_t)n);
    data[0] ^= 1; /* another blob */
    upload_mem(token_, "w/chunked", data, n, false, d2);
    assert_blob(token_, "w/chunked", d2, (int64_t)n);
    cr_assert_eq(qs_registry_blob_head(token_, "w/chunked", d1, NULL), QS_ENOTFOUND);
    /* Bytes that do not hash to the digest are refused by the registry. */
    mem_reader m = {data, n, 0, 65536};
    qs_blob_upload up = QS_BLOB_UPLOAD_INIT;
    up.size = (int64_t)n;
    up.read = mem_read;
    up.read_ctx = &m;
    cr_assert_eq(qs_registry_blob_upload(plain_, "w/mono", d1, &up), QS_EDIGEST);
    free(data);
}

/* Push `body` as `ref` and read it back: same bytes, same media type, same digest. */
static void round_trip(qs_registry *r, const char *repo, const char *ref, const char *mt,
                       const char *body, char *digest) {
    cr_assert_eq(qs_registry_manifest_put(r, repo, ref, mt, body, strlen(body), digest), QS_OK,
                 "%s", mt);
    qs_manifest m;
    cr_assert_eq(qs_registry_manifest_get(r, repo, ref, &m), QS_OK);
    cr_assert_str_eq(m.media_type, mt);
    cr_assert_str_eq(m.digest, digest);
    cr_assert_eq(m.body.len, strlen(body));
    cr_assert_eq(memcmp(m.body.data, body, m.body.len), 0, "%s not byte-exact", mt);
    qs_manifest_free(&m);
}

Test(real, manifest_round_trip_all_four_media_types) {
    char cfg_d[QS_DIGEST_STR_LEN + 1], layer_d[QS_DIGEST_STR_LEN + 1];
    const char cfg[] = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":"
                       "\"layers\",\"diff_ids\":[]}}";
    char *layer = pattern(5000, 4);
    upload_mem(token_, "rt/img", cfg, strlen(cfg), true, cfg_d);
    upload_mem(token_, "rt/img", layer, 5000, true, layer_d);
    free(layer);
    char docker2[1024], oci[1024], list[1024], index[1024];
    char d_docker2[QS_DIGEST_STR_LEN + 1], d_oci[QS_DIGEST_STR_LEN + 1];
    char d_list[QS_DIGEST_STR_LEN + 1], d_index[QS_DIGEST_STR_LEN + 1];
    /* Odd spacing and key order on purpose: the bytes must survive as they are. */
    snprintf(
        docker2, sizeof docker2,
        "{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"%s\",\n   \"config\": {\"mediaType\":"
        " \"application/vnd.docker.container.image.v1+json\", \"size\": %zu, \"digest\": "
        "\"%s\"},\n   \"layers\": [{\"mediaType\": "
        "\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"size\":5000,\"digest\":\"%s\"}]"
        "\n}\n",
        QS_MT_DOCKER_MANIFEST, strlen(cfg), cfg_d, layer_d);
    snprintf(oci, sizeof oci,
             "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":"
             "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%zu},"
             "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
             "\"digest\":\"%s\",\"size\":5000}],\"annotations\":{\"z\":\"1\",\"a\":\"2\"}}",
             QS_MT_OCI_MANIFEST, cfg_d, strlen(cfg), layer_d);
    round_trip(token_, "rt/img", "docker2", QS_MT_DOCKER_MANIFEST, docker2, d_docker2);
    round_trip(token_, "rt/img", "oci", QS_MT_OCI_MANIFEST, oci, d_oci);
    snprintf(list, sizeof list,
             "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[{\"mediaType\":\"%s\","
             "\"size\":%zu,\"digest\":\"%s\",\"platform\":{\"architecture\":\"amd64\",\"os\":"
             "\"linux\"}}]}  ",
             QS_MT_DOCKER_LIST, QS_MT_DOCKER_MANIFEST, strlen(docker2), d_docker2);
    snprintf(index, sizeof index,
             "{ \"schemaVersion\" : 2, \"mediaType\" : \"%s\", \"manifests\" : [ { \"mediaType\" "
             ": \"%s\", \"size\" : %zu, \"digest\" : \"%s\", \"platform\" : { \"architecture\" : "
             "\"arm64\", \"os\" : \"linux\", \"variant\" : \"v8\" } } ] }",
             QS_MT_OCI_INDEX, QS_MT_OCI_MANIFEST, strlen(oci), d_oci);
    round_trip(token_, "rt/img", "list", QS_MT_DOCKER_LIST, list, d_list);
    round_trip(token_, "rt/img", "index", QS_MT_OCI_INDEX, index, d_index);
    /* Also by digest, and the same bytes under another tag keep their digest. */
    round_trip(token_, "rt/img", d_index, QS_MT_OCI_INDEX, index, d_index);
    char again[QS_DIGEST_STR_LEN + 1];
    round_trip(token_, "rt/img", "index-again", QS_MT_OCI_INDEX, index, again);
    cr_assert_str_eq(again, d_index);
    /* A manifest naming a blob the repository lacks is refused. */
    char missing[1024];
    snprintf(missing, sizeof missing, "%s", oci);
    char *p = strstr(missing, layer_d + 7);
    p[0] = p[0] == '0' ? '1' : '0';
    cr_assert_neq(qs_registry_manifest_put(token_, "rt/img", "bad", QS_MT_OCI_MANIFEST, missing,
                                           strlen(missing), NULL),
                  QS_OK);
}

Test(real, mount_within_reg_token) {
    char *data = pattern(200000, 5), d[QS_DIGEST_STR_LEN + 1];
    upload_mem(token_, "team/a", data, 200000, true, d);
    bool mounted = false;
    char *session = NULL;
    cr_assert_eq(qs_registry_blob_mount(token_, "team/b", d, "team/a", &mounted, &session), QS_OK);
    cr_assert(mounted, "not mounted");
    cr_assert_null(session);
    assert_blob(token_, "team/b", d, 200000);
    /* Not in the from-repository: 202, and the session finishes an ordinary upload. */
    data[1] ^= 1;
    char d2[QS_DIGEST_STR_LEN + 1];
    qs_sha256_digest(data, 200000, d2);
    cr_assert_eq(qs_registry_blob_mount(token_, "team/c", d2, "team/a", &mounted, &session), QS_OK);
    cr_assert_not(mounted);
    cr_assert_not_null(session);
    mem_reader m = {data, 200000, 0, 65536};
    qs_blob_upload up = QS_BLOB_UPLOAD_INIT;
    up.size = 200000;
    up.read = mem_read;
    up.read_ctx = &m;
    up.session = session;
    cr_assert_eq(qs_registry_blob_upload(token_, "team/c", d2, &up), QS_OK);
    free(session);
    assert_blob(token_, "team/c", d2, 200000);
    free(data);
}

Test(real, robot_cannot_push) {
    stack_creds robot = {st_.robot_user, st_.robot_pass};
    qs_registry *r = stack_registry(http_, st_.token, &robot);
    const char body[] = "{}";
    int rc = qs_registry_manifest_put(r, "openshift/ci", "x", QS_MT_OCI_MANIFEST, body, 2, NULL);
    cr_assert(rc == QS_EAUTH || rc == QS_EDENIED, "rc %d", rc);
    qs_registry_free(r);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

Test(real, tags_and_catalog_pagination) {
    const char body[] =
        "{\"schemaVersion\":2,\"mediaType\":\"" QS_MT_OCI_INDEX "\",\"manifests\":[]}";
    static const char *tags[] = {"t1", "t2", "t3", "t4", "t5"};
    static const char *repos[] = {"p/r1", "p/r2", "p/r3", "p/r4", "p/r5"};
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(qs_registry_manifest_put(plain_, "p/tags", tags[i], QS_MT_OCI_INDEX, body,
                                              strlen(body), NULL),
                     QS_OK);
        char d[QS_DIGEST_STR_LEN + 1]; /* 2.8 lists repositories that hold a blob */
        upload_mem(plain_, repos[i], "{}", 2, true, d);
    }
    char **v;
    size_t n;
    cr_assert_eq(qs_registry_tags(plain_, "p/tags", 2, NULL, &v, &n), QS_OK);
    cr_assert_eq(n, 5);                      /* 2.8 ignores n on tags (no Link): still every tag */
    qsort((void *)v, n, sizeof *v, cmp_str); /* 2.8 lists tags in directory order */
    for (size_t i = 0; i < 5; i++)
        cr_assert_str_eq(v[i], tags[i]);
    qs_strv_free(v);
    cr_assert_eq(qs_registry_tags(token_, "p/none", 2, NULL, &v, &n), QS_ENOTFOUND);
    /* The catalog does paginate in 2.8: n=2 over 5 repositories is three linked pages. */
    cr_assert_eq(qs_registry_catalog(plain_, 2, &v, &n), QS_OK);
    cr_assert_eq(n, 5, "%zu repositories", n);
    for (size_t i = 0; i < 5; i++)
        cr_assert_str_eq(v[i], repos[i]);
    qs_strv_free(v);
}
