/* test_copy.c — the copy engine (copy.c) against real registries and a lying fake.
 *
 * Every test gets its own local stack (reg-plain without auth, reg-token with Bearer tokens
 * from the quay emulator) and a fake source registry in this process (libmicrohttpd). Images
 * are generated with tests/tools/mkimage.sh and pushed with skopeo (push-image.sh); digests
 * are compared with `skopeo inspect --raw`. The fake serves what no real registry would: a
 * layer whose bytes do not match its digest, a schema 1 manifest, and a layer whose first
 * download breaks halfway. The bounded-memory test copies a 64 MiB layer and reads the
 * process's peak RSS (VmHWM, reset through /proc/self/clear_refs) around the copy. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/common.h"
#include "shared/copy.h"
#include "shared/digest.h"
#include "shared/metrics.h"
#include "shared/registry.h"
#include "stack_spawn.h"

/* ------------------------------------------------------------------ fake source */

#define LAYER_SIZE (1u << 20)

/* Peak RSS growth allowed while a 64 MiB blob streams. ASan's quarantine keeps freed memory
 * resident (and adds shadow pages), so its builds get a looser bound — still well below the
 * blob, which a copy holding it in memory would exceed. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_LIMIT_KIB (48L * 1024)
#else
#define RSS_LIMIT_KIB (16L * 1024)
#endif

static struct MHD_Daemon *fake_;
static int fport_;
static char cfg_[] = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
                     "\"diff_ids\":[]}}";
static char cfg_d_[QS_DIGEST_STR_LEN + 1], layer_d_[QS_DIGEST_STR_LEN + 1];
static char *layer_; /* the real bytes (their digest is layer_d_) */
static char manifest_[1024];
static atomic_int flaky_gets_, busy_gets_;
#define WIDE 8
#define WIDE_SIZE (256u << 10)
static char *wide_[WIDE], wide_d_[WIDE][QS_DIGEST_STR_LEN + 1], wide_manifest_[4096];
static atomic_int inflight_, max_inflight_;

typedef struct {
    bool wrong;    /* flip a byte in the middle */
    size_t cut_at; /* end with an error after this many bytes (0 = never) */
} serve;

static ssize_t serve_layer(void *cls, uint64_t pos, char *buf, size_t max) {
    serve *s = cls;
    if (s->cut_at && pos >= s->cut_at)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (pos >= LAYER_SIZE)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = LAYER_SIZE - pos < max ? LAYER_SIZE - pos : max;
    if (s->cut_at && pos + n > s->cut_at)
        n = s->cut_at - pos;
    memcpy(buf, layer_ + pos, n);
    if (s->wrong && pos <= LAYER_SIZE / 2 && LAYER_SIZE / 2 < pos + n)
        buf[LAYER_SIZE / 2 - pos] ^= 0x55;
    return (ssize_t)n;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body,
                             const char *ct) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (ct)
        MHD_add_response_header(r, "Content-Type", ct);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Wide layers trickle out (a pause per piece) so that concurrent downloads overlap; the
 * number in flight at once is recorded. */
static ssize_t serve_wide(void *cls, uint64_t pos, char *buf, size_t max) {
    const char *data = cls;
    if (pos >= WIDE_SIZE)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = WIDE_SIZE - pos < max ? WIDE_SIZE - pos : max;
    memcpy(buf, data + pos, n);
    struct timespec ts = {0, 15 * 1000000L};
    nanosleep(&ts, NULL);
    return (ssize_t)n;
}

static void wide_done(void *cls) {
    (void)cls;
    atomic_fetch_sub(&inflight_, 1);
}

static enum MHD_Result route_wide(struct MHD_Connection *c, int i) {
    int now = atomic_fetch_add(&inflight_, 1) + 1;
    for (int m = atomic_load(&max_inflight_); now > m;)
        if (atomic_compare_exchange_weak(&max_inflight_, &m, now))
            break;
    struct MHD_Response *r =
        MHD_create_response_from_callback(WIDE_SIZE, 32 * 1024, serve_wide, wide_[i], wide_done);
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result route_blob(struct MHD_Connection *c, const char *repo, const char *d) {
    for (int i = 0; i < WIDE; i++)
        if (strcmp(d, wide_d_[i]) == 0)
            return route_wide(c, i);
    if (strcmp(repo, "busy") == 0 && strcmp(d, layer_d_) == 0 &&
        atomic_fetch_add(&busy_gets_, 1) == 0) {
        struct MHD_Response *r =
            MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Retry-After", "1");
        enum MHD_Result ret = MHD_queue_response(c, 503, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (strcmp(d, cfg_d_) == 0)
        return reply(c, 200, cfg_, "application/octet-stream");
    if (strcmp(d, layer_d_) != 0)
        return reply(c, 404, "{\"errors\":[{\"code\":\"BLOB_UNKNOWN\"}]}", NULL);
    serve *s = calloc(1, sizeof *s);
    s->wrong = strcmp(repo, "bad") == 0;
    if (strcmp(repo, "flaky") == 0 && atomic_fetch_add(&flaky_gets_, 1) == 0)
        s->cut_at = LAYER_SIZE / 2;
    struct MHD_Response *r =
        MHD_create_response_from_callback(LAYER_SIZE, 64 * 1024, serve_layer, s, free);
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static const char schema1_[] =
    "{\"schemaVersion\":1,\"name\":\"old\",\"tag\":\"latest\",\"architecture\":\"amd64\","
    "\"fsLayers\":[{\"blobSum\":\"sha256:"
    "a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b"
    "46d4\"}],\"history\":[{\"v1Compatibility\":\"{}\"}],\"signatures\":[]}";

static enum MHD_Result fake_handler(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version, const char *data,
                                    size_t *data_size, void **con_cls) {
    (void)cls, (void)method, (void)version, (void)data, (void)data_size;
    static int marker;
    if (!*con_cls) {
        *con_cls = &marker;
        return MHD_YES;
    }
    char repo[32];
    if (strcmp(url, "/v2/") == 0)
        return reply(c, 200, "{}", NULL);
    if (sscanf(url, "/v2/%31[a-z]/", repo) != 1)
        return reply(c, 404, "{}", NULL);
    const char *rest = url + 4 + strlen(repo);
    if (strcmp(rest, "/manifests/latest") == 0 && strcmp(repo, "old") == 0)
        return reply(c, 200, schema1_, QS_MT_DOCKER_SCHEMA1_SIGNED);
    if (strcmp(rest, "/manifests/latest") == 0)
        return reply(c, 200, strcmp(repo, "wide") == 0 ? wide_manifest_ : manifest_,
                     QS_MT_OCI_MANIFEST);
    if (strncmp(rest, "/blobs/", 7) == 0)
        return route_blob(c, repo, rest + 7);
    return reply(c, 404, "{}", NULL);
}

/* ------------------------------------------------------------------ fixture */

static test_stack st_;
static qs_http *http_;
static stack_creds pusher_;
static qs_registry *plain_, *token_, *fake_reg_;

static void setup(void) {
    stack_start(&st_); /* first: a failed start leaves nothing else behind */
    layer_ = malloc(LAYER_SIZE);
    for (size_t i = 0; i < LAYER_SIZE; i++)
        layer_[i] = (char)((i * 2654435761u) >> 11);
    qs_sha256_digest(layer_, LAYER_SIZE, layer_d_);
    qs_sha256_digest(cfg_, strlen(cfg_), cfg_d_);
    snprintf(manifest_, sizeof manifest_,
             "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":"
             "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%zu},"
             "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
             "\"digest\":\"%s\",\"size\":%u}]}",
             QS_MT_OCI_MANIFEST, cfg_d_, strlen(cfg_), layer_d_, LAYER_SIZE);
    flaky_gets_ = busy_gets_ = inflight_ = max_inflight_ = 0;
    qs_buf wm = QS_BUF_INIT;
    qs_buf_printf(&wm,
                  "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":"
                  "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%zu},"
                  "\"layers\":[",
                  QS_MT_OCI_MANIFEST, cfg_d_, strlen(cfg_));
    for (int i = 0; i < WIDE; i++) {
        wide_[i] = malloc(WIDE_SIZE);
        for (size_t k = 0; k < WIDE_SIZE; k++)
            wide_[i][k] = (char)(((k + 1) * 2654435761u * (unsigned)(i + 3)) >> 9);
        qs_sha256_digest(wide_[i], WIDE_SIZE, wide_d_[i]);
        qs_buf_printf(&wm,
                      "%s{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
                      "\"digest\":\"%s\",\"size\":%u}",
                      i ? "," : "", wide_d_[i], WIDE_SIZE);
    }
    qs_buf_puts(&wm, "]}");
    snprintf(wide_manifest_, sizeof wide_manifest_, "%s", qs_buf_str(&wm));
    qs_buf_free(&wm);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fake_ =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
                         NULL, fake_handler, NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
    cr_assert_not_null(fake_);
    fport_ = MHD_get_daemon_info(fake_, MHD_DAEMON_INFO_BIND_PORT)->port;
    qs_http_opts o = QS_HTTP_OPTS_INIT;
    o.backoff_base_ms = 10;
    o.backoff_max_ms = 100;
    http_ = qs_http_new(&o);
    pusher_ = (stack_creds){st_.pusher_user, st_.pusher_pass};
    plain_ = stack_registry(http_, st_.plain, NULL);
    token_ = stack_registry(http_, st_.token, &pusher_);
    char hp[64];
    snprintf(hp, sizeof hp, "127.0.0.1:%d", fport_);
    fake_reg_ = stack_registry(http_, hp, NULL);
    qs_metrics_reset();
}

static void teardown(void) {
    qs_registry_free(plain_);
    qs_registry_free(token_);
    qs_registry_free(fake_reg_);
    qs_http_free(http_);
    stack_stop(&st_);
    MHD_stop_daemon(fake_);
    free(layer_);
    for (int i = 0; i < WIDE; i++)
        free(wide_[i]);
}

TestSuite(copy, .init = setup, .fini = teardown, .timeout = 240);

/* ------------------------------------------------------------------ helpers */

/* The last line of a file ("" if none), for assertion messages. */
static void last_line(const char *path, char *out, size_t n) {
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    char line[512];
    while (f && fgets(line, sizeof line, f))
        snprintf(out, n, "%s", line);
    if (f)
        fclose(f);
}

/* Generate an image into a fresh directory and push it to docker://<hostport>/<repoTag>. */
static void make_and_push_with(const char *opts, const char *hostport, const char *repoTag,
                               bool with_creds, const char *skopeo_args) {
    static int seq;
    char dir[300], err[320], why[512];
    snprintf(dir, sizeof dir, "%s/img-%d", st_.dir, ++seq);
    snprintf(err, sizeof err, "%s.err", dir);
    int rc = stack_sh(&st_, "tests/tools/mkimage.sh '%s' %s >/dev/null 2>'%s'", dir, opts, err);
    last_line(err, why, sizeof why);
    cr_assert_eq(rc, 0, "mkimage failed (%d): %s", rc, why);
    char creds[300] = "";
    if (with_creds)
        snprintf(creds, sizeof creds, "--dest-creds '%s:%s'", st_.pusher_user, st_.pusher_pass);
    rc = stack_sh(&st_, "tests/tools/push-image.sh '%s' 'docker://%s/%s' %s %s >/dev/null 2>'%s'",
                  dir, hostport, repoTag, creds, skopeo_args, err);
    last_line(err, why, sizeof why);
    cr_assert_eq(rc, 0, "push of %s failed (%d): %s", repoTag, rc, why);
}

static void make_and_push(const char *opts, const char *hostport, const char *repoTag,
                          bool with_creds) {
    make_and_push_with(opts, hostport, repoTag, with_creds, "");
}

/* The digest of the raw manifest as skopeo sees it. */
static void skopeo_digest(const char *hostport, const char *repoTag, bool with_creds, char *out) {
    char hex[128] = "";
    char creds[300] = "";
    if (with_creds)
        snprintf(creds, sizeof creds, "--creds '%s:%s'", st_.pusher_user, st_.pusher_pass);
    int rc = stack_sh_out(&st_, hex, sizeof hex,
                          "skopeo inspect --raw --tls-verify=false %s 'docker://%s/%s' | "
                          "sha256sum | cut -d' ' -f1",
                          creds, hostport, repoTag);
    cr_assert_eq(rc, 0);
    cr_assert_eq(strlen(hex), 64, "skopeo inspect of %s failed", repoTag);
    snprintf(out, QS_DIGEST_STR_LEN + 1, "sha256:%.64s", hex);
}

static double metric(const char *name) { return qs_metric_value(qs_counter(name, "", NULL)); }

static long vm_kib(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, strlen(key)) == 0)
            v = strtol(line + strlen(key), NULL, 10);
    if (f)
        fclose(f);
    return v;
}

/* ------------------------------------------------------------------ tests */

Test(copy, index_kept_whole_then_noop_then_skips) {
    make_and_push("--platforms linux/amd64,linux/arm64 --layers 2 --size 300K --seed idx1",
                  st_.plain, "src/multi:v1", false);
    qs_image_ref src = {plain_, "src/multi", "v1"}, dst = {token_, "dst/multi", "v1"};
    qs_copy_result res;
    cr_assert_eq(qs_copy_image(&src, &dst, NULL, &res), QS_OK, "%s", res.error);
    cr_assert_eq(res.kind, QS_MKIND_OCIINDEX);
    cr_assert_eq(res.blobs_copied, 6); /* 2 platforms × (config + 2 layers) */
    cr_assert_eq(res.blobs_skipped + res.blobs_mounted, 0);
    cr_assert_eq(res.manifests_pushed, 3); /* 2 images, then the index */
    cr_assert_gt(res.bytes_copied, 4 * 300 * 1024);
    cr_assert_eq(metric("quayside_copy_bytes_total"), (double)res.bytes_copied);
    char sd[QS_DIGEST_STR_LEN + 1], dd[QS_DIGEST_STR_LEN + 1];
    skopeo_digest(st_.plain, "src/multi:v1", false, sd);
    skopeo_digest(st_.token, "dst/multi:v1", true, dd);
    cr_assert_str_eq(sd, dd);
    cr_assert_str_eq(res.digest, dd);
    /* Every platform is there, by digest. */
    qs_manifest idx;
    cr_assert_eq(qs_registry_manifest_get(token_, "dst/multi", "v1", &idx), QS_OK);
    json_t *j = json_loadb(idx.body.data, idx.body.len, 0, NULL);
    cr_assert_eq(json_array_size(json_object_get(j, "manifests")), 2);
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(j, "manifests"), i, d) {
        qs_manifest child;
        const char *cd = json_string_value(json_object_get(d, "digest"));
        cr_assert_eq(qs_registry_manifest_get(token_, "dst/multi", cd, &child), QS_OK);
        qs_manifest_free(&child);
    }
    json_decref(j);
    qs_manifest_free(&idx);
    /* Second copy: a no-op. */
    double bytes_before = metric("quayside_copy_bytes_total");
    cr_assert_eq(qs_copy_image(&src, &dst, NULL, &res), QS_OK, "%s", res.error);
    cr_assert(res.up_to_date);
    cr_assert_eq(res.bytes_copied + res.blobs_copied + res.manifests_pushed, 0);
    cr_assert_str_eq(res.digest, dd);
    cr_assert_eq(metric("quayside_copy_bytes_total"), bytes_before);
    /* Another tag in the same repository: every blob is already there. */
    qs_image_ref dst2 = {token_, "dst/multi", "v2"};
    cr_assert_eq(qs_copy_image(&src, &dst2, NULL, &res), QS_OK, "%s", res.error);
    cr_assert_not(res.up_to_date);
    cr_assert_eq(res.blobs_skipped, 6);
    cr_assert_eq(res.blobs_copied + res.bytes_copied, 0);
    cr_assert_eq(res.manifests_pushed, 3);
    cr_assert_eq(metric("quayside_copy_blobs_skipped_total"), 6);
}

Test(copy, same_registry_mounts_instead_of_copying) {
    make_and_push("--layers 3 --size 200K --seed mnt1", st_.token, "team/a:v1", true);
    qs_image_ref src = {token_, "team/a", "v1"}, dst = {token_, "team/b", "v1"};
    qs_copy_result res;
    cr_assert_eq(qs_copy_image(&src, &dst, NULL, &res), QS_OK, "%s", res.error);
    cr_assert_eq(res.blobs_mounted, 4, "mounted %lld", (long long)res.blobs_mounted);
    cr_assert_eq(res.blobs_copied, 0);
    cr_assert_eq(res.bytes_copied, 0);
    cr_assert_eq(metric("quayside_copy_blobs_mounted_total"), 4);
    cr_assert_eq(metric("quayside_copy_blobs_copied_total"), 0);
    cr_assert_eq(metric("quayside_copy_bytes_total"), 0);
    char sd[QS_DIGEST_STR_LEN + 1], dd[QS_DIGEST_STR_LEN + 1];
    skopeo_digest(st_.token, "team/a:v1", true, sd);
    skopeo_digest(st_.token, "team/b:v1", true, dd);
    cr_assert_str_eq(sd, dd);
    /* A candidate given by the caller works across registry handles of the same host too. */
    qs_registry *other = stack_registry(http_, st_.token, &pusher_);
    qs_image_ref dst3 = {other, "team/c", "v1"};
    const char *from[] = {"team/b", NULL};
    qs_copy_opts o = QS_COPY_OPTS_INIT;
    o.mount_from = from;
    cr_assert_eq(qs_copy_image(&src, &dst3, &o, &res), QS_OK, "%s", res.error);
    cr_assert_eq(res.blobs_mounted, 4);
    qs_registry_free(other);
}

Test(copy, dry_run_copies_nothing) {
    make_and_push("--layers 2 --size 100K --seed dry1", st_.plain, "src/dry:v1", false);
    qs_image_ref src = {plain_, "src/dry", "v1"}, dst = {token_, "dst/dry", "v1"};
    qs_copy_opts o = QS_COPY_OPTS_INIT;
    o.dry_run = true;
    qs_copy_result res;
    cr_assert_eq(qs_copy_image(&src, &dst, &o, &res), QS_OK, "%s", res.error);
    cr_assert(res.dry_run);
    cr_assert_eq(res.blobs_copied, 3); /* what a copy would do */
    cr_assert_gt(res.bytes_copied, 200 * 1024);
    cr_assert_eq(res.manifests_pushed, 1);
    qs_manifest m;
    cr_assert_eq(qs_registry_manifest_head(token_, "dst/dry", "v1", &m), QS_ENOTFOUND);
    cr_assert_eq(metric("quayside_copy_bytes_total"), 0);
    cr_assert_eq(metric("quayside_copy_manifests_pushed_total"), 0);
}

Test(copy, digest_mismatch_fails_and_tags_nothing) {
    qs_image_ref src = {fake_reg_, "bad", "latest"}, dst = {token_, "dst/bad", "v1"};
    qs_copy_opts o = QS_COPY_OPTS_INIT;
    o.backoff_base_ms = 1;
    qs_copy_result res;
    cr_assert_eq(qs_copy_image(&src, &dst, &o, &res), QS_EDIGEST, "%s", res.error);
    /* Found by the engine while streaming (not by the destination after the fact). */
    cr_assert(strstr(res.error, layer_d_) && strstr(res.error, "source's bytes do not match"), "%s",
              res.error);
    qs_manifest m;
    cr_assert_eq(qs_registry_manifest_head(token_, "dst/bad", "v1", &m), QS_ENOTFOUND);
    cr_assert_eq(qs_registry_blob_head(token_, "dst/bad", layer_d_, NULL), QS_ENOTFOUND);
    cr_assert_eq(res.blob_retries, 0); /* wrong bytes are not retried */
    cr_assert_eq(res.manifests_pushed, 0);
}

Test(copy, schema1_is_refused_with_its_reason) {
    qs_image_ref src = {fake_reg_, "old", "latest"}, dst = {token_, "dst/old", "v1"};
    qs_copy_result res;
    cr_assert_eq(qs_copy_image(&src, &dst, NULL, &res), QS_EINVAL);
    cr_assert_eq(res.kind, QS_MKIND_SCHEMA1);
    cr_assert(strstr(res.error, "schema 1"), "%s", res.error);
    qs_manifest m;
    cr_assert_eq(qs_registry_manifest_head(token_, "dst/old", "v1", &m), QS_ENOTFOUND);
}

Test(copy, broken_blob_stream_is_retried_whole) {
    qs_image_ref src = {fake_reg_, "flaky", "latest"}, dst = {token_, "dst/flaky", "v1"};
    qs_copy_opts o = QS_COPY_OPTS_INIT;
    o.backoff_base_ms = 1;
    qs_copy_result res;
    cr_assert_eq(qs_copy_image(&src, &dst, &o, &res), QS_OK, "%s", res.error);
    cr_assert_eq(res.blob_retries, 1);
    cr_assert_eq(flaky_gets_, 2);
    cr_assert_eq(res.blobs_copied, 2);
    int64_t size = 0;
    cr_assert_eq(qs_registry_blob_head(token_, "dst/flaky", layer_d_, &size), QS_OK);
    cr_assert_eq(size, LAYER_SIZE);
    /* With one attempt only, the same break fails the copy. */
    flaky_gets_ = 0;
    o.blob_attempts = 1;
    qs_image_ref dst2 = {token_, "dst/flaky2", "v1"};
    cr_assert_eq(qs_copy_image(&src, &dst2, &o, &res), QS_EUNAVAIL, "%s", res.error);
    cr_assert_eq(qs_registry_manifest_head(token_, "dst/flaky2", "v1", &(qs_manifest){.size = -1}),
                 QS_ENOTFOUND);
}

Test(copy, platform_filter_rewrites_the_index) {
    make_and_push("--platforms linux/amd64,linux/arm64/v8 --layers 1 --size 50K --seed plat1",
                  st_.plain, "src/plat:v1", false);
    qs_image_ref src = {plain_, "src/plat", "v1"}, dst = {token_, "dst/plat", "v1"};
    const char *want[] = {"linux/arm64/v8", NULL};
    qs_copy_opts o = QS_COPY_OPTS_INIT;
    o.platforms = want;
    qs_copy_result res;
    cr_assert_eq(qs_copy_image(&src, &dst, &o, &res), QS_OK, "%s", res.error);
    cr_assert_eq(res.blobs_copied, 2);
    cr_assert_eq(res.manifests_pushed, 2);
    char sd[QS_DIGEST_STR_LEN + 1];
    skopeo_digest(st_.plain, "src/plat:v1", false, sd);
    cr_assert_str_neq(res.digest, sd);
    qs_manifest idx;
    cr_assert_eq(qs_registry_manifest_get(token_, "dst/plat", "v1", &idx), QS_OK);
    cr_assert_str_eq(idx.digest, res.digest);
    json_t *j = json_loadb(idx.body.data, idx.body.len, 0, NULL);
    json_t *only = json_array_get(json_object_get(j, "manifests"), 0);
    cr_assert_eq(json_array_size(json_object_get(j, "manifests")), 1);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(only, "platform"), "architecture")),
        "arm64");
    json_decref(j);
    qs_manifest_free(&idx);
    /* Filtered copies are idempotent too: the digest compared is the filtered one. */
    cr_assert_eq(qs_copy_image(&src, &dst, &o, &res), QS_OK, "%s", res.error);
    cr_assert(res.up_to_date);
    const char *none[] = {"windows/amd64", NULL};
    o.platforms = none;
    cr_assert_eq(qs_copy_image(&src, &dst, &o, &res), QS_ENOTFOUND);
}

Test(copy, a_64mib_layer_streams_in_bounded_memory) {
    make_and_push("--layers 1 --size 64M --seed big1", st_.plain, "src/big:v1", false);
    qs_image_ref src = {plain_, "src/big", "v1"}, dst = {token_, "dst/big", "v1"};
    FILE *f = fopen("/proc/self/clear_refs", "w"); /* "5" resets the peak RSS */
    if (f) {
        fputs("5", f);
        fclose(f);
    }
    long before = vm_kib("VmHWM:");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    qs_copy_result res;
    cr_assert_eq(qs_copy_image(&src, &dst, NULL, &res), QS_OK, "%s", res.error);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long after = vm_kib("VmHWM:");
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_assert_gt(res.bytes_copied, 64L << 20);
    cr_log_info("peak RSS grew by %ld KiB while copying %lld bytes", after - before,
                (long long)res.bytes_copied);
    fprintf(stderr,
            "bounded memory: peak RSS %ld KiB -> %ld KiB (+%ld KiB) for %lld bytes in %.2f s\n",
            before, after, after - before, (long long)res.bytes_copied, secs);
    if (!getenv("QS_UNDER_VALGRIND")) /* memcheck's shadow memory inflates RSS */
        cr_assert_lt(after - before, RSS_LIMIT_KIB, "peak RSS grew by %ld KiB", after - before);
    char sd[QS_DIGEST_STR_LEN + 1], dd[QS_DIGEST_STR_LEN + 1];
    skopeo_digest(st_.plain, "src/big:v1", false, sd);
    skopeo_digest(st_.token, "dst/big:v1", true, dd);
    cr_assert_str_eq(sd, dd);
}

Test(copy, blobs_move_several_at_once_up_to_the_limit) {
    qs_image_ref src = {fake_reg_, "wide", "latest"}, dst = {token_, "dst/wide", "v1"};
    qs_copy_result res;
    cr_assert_eq(qs_copy_image(&src, &dst, NULL, &res), QS_OK, "%s", res.error);
    cr_assert_eq(res.blobs_copied, WIDE + 1);
    /* The config blob takes one worker for a moment, so 5 or 6 layers overlap; never 7. */
    cr_assert(max_inflight_ >= 5 && max_inflight_ <= 6, "max in flight %d (default limit 6)",
              max_inflight_);
    max_inflight_ = 0;
    qs_copy_opts o = QS_COPY_OPTS_INIT;
    o.max_blobs = 2;
    qs_image_ref dst2 = {token_, "dst/wide2", "v1"};
    cr_assert_eq(qs_copy_image(&src, &dst2, &o, &res), QS_OK, "%s", res.error);
    cr_assert_eq(max_inflight_, 2, "max in flight %d (limit 2)", max_inflight_);
}

Test(copy, source_503_with_retry_after_is_waited_for) {
    qs_http_opts ho = QS_HTTP_OPTS_INIT; /* the fixture's client caps waits at 100 ms */
    ho.backoff_max_ms = 5000;
    qs_http *h = qs_http_new(&ho);
    char hp[64];
    snprintf(hp, sizeof hp, "127.0.0.1:%d", fport_);
    qs_registry *busy = stack_registry(h, hp, NULL);
    qs_image_ref src = {busy, "busy", "latest"}, dst = {token_, "dst/busy", "v1"};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    qs_copy_result res;
    cr_assert_eq(qs_copy_image(&src, &dst, NULL, &res), QS_OK, "%s", res.error);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_assert_eq(busy_gets_, 2);
    cr_assert_geq(s, 0.9, "Retry-After: 1 not honoured (%.2f s)", s);
    cr_assert_eq(res.blobs_copied, 2);
    qs_registry_free(busy);
    qs_http_free(h);
}

Test(copy, docker_manifest_list_kept_byte_exact) {
    make_and_push_with("--platforms linux/amd64,linux/arm64 --layers 1 --size 20K --seed dl1",
                       st_.plain, "src/dlist:v1", false, "--format v2s2");
    qs_image_ref src = {plain_, "src/dlist", "v1"}, dst = {token_, "dst/dlist", "v1"};
    const char *more[] = {"20260101_extra", NULL};
    qs_copy_opts o = QS_COPY_OPTS_INIT;
    o.also_tags = more;
    qs_copy_result res;
    cr_assert_eq(qs_copy_image(&src, &dst, &o, &res), QS_OK, "%s", res.error);
    cr_assert_eq(res.kind, QS_MKIND_DOCKERLIST);
    cr_assert_eq(res.manifests_pushed, 4); /* 2 images, the list, the extra tag */
    char sd[QS_DIGEST_STR_LEN + 1], dd[QS_DIGEST_STR_LEN + 1], ed[QS_DIGEST_STR_LEN + 1];
    skopeo_digest(st_.plain, "src/dlist:v1", false, sd);
    skopeo_digest(st_.token, "dst/dlist:v1", true, dd);
    skopeo_digest(st_.token, "dst/dlist:20260101_extra", true, ed);
    cr_assert_str_eq(sd, dd);
    cr_assert_str_eq(sd, ed);
    qs_manifest m;
    cr_assert_eq(qs_registry_manifest_head(token_, "dst/dlist", "v1", &m), QS_OK);
    cr_assert_str_eq(m.media_type, QS_MT_DOCKER_LIST);
    qs_manifest_free(&m);
}

/* Concurrent copies in one process never upload the same blob twice: images sharing base
 * layers copied at once by several workers (the mirror's case). */
typedef struct {
    const char *tag;
    qs_copy_result res;
    int rc;
} conc_arg;

static void *copy_tag(void *p) {
    conc_arg *a = p;
    qs_image_ref src = {plain_, "shared/app", a->tag}, dst = {token_, "shared/mirror", a->tag};
    a->rc = qs_copy_image(&src, &dst, NULL, &a->res);
    return NULL;
}

Test(copy, concurrent_copies_share_in_flight_blobs) {
    enum { N = 4 };
    conc_arg args[N];
    static const char *const tags[N] = {"a", "b", "c", "d"};
    for (int i = 0; i < N; i++) {
        char opts[200], tag[64];
        snprintf(opts, sizeof opts, "--layers 1 --size 256K --base-layers 3 --seed conc-%d", i);
        snprintf(tag, sizeof tag, "shared/app:%s", tags[i]);
        make_and_push(opts, st_.plain, tag, false);
        args[i] = (conc_arg){.tag = tags[i]};
    }
    pthread_t t[N];
    for (int i = 0; i < N; i++)
        pthread_create(&t[i], NULL, copy_tag, &args[i]);
    int64_t copied = 0, skipped = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(args[i].rc, QS_OK, "%s", args[i].res.error);
        copied += args[i].res.blobs_copied;
        skipped += args[i].res.blobs_skipped;
    }
    /* 3 shared base layers once, plus each image's own layer and config */
    cr_assert_eq(copied, 3 + 2 * N, "copied %lld blobs", (long long)copied);
    cr_assert_eq(skipped, 3 * (N - 1), "skipped %lld blobs", (long long)skipped);
}
