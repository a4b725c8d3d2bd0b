/* copy.c — the image copy engine (copy.h): plan, move the blobs, then push the manifests.
 *
 * Planning reads the source's top manifest once (GET, byte-exact) and HEADs the destination
 * reference: equal digests end the copy there, so a mirror of an image in sync costs two
 * requests. Otherwise the manifest tree is walked depth first — a list's children are fetched
 * by digest, each checked against its descriptor's size and digest — collecting the blobs of
 * every image (config and layers, deduplicated; foreign layers, which live outside registries,
 * are left out) and the manifests in push order: children before the list that names them.
 *
 * Blobs then go through a small pool: min(max_blobs, blobs) threads take the next blob index
 * from an atomic counter. Per blob: HEAD at the destination (present → skipped), a mount from
 * each candidate repository (201 → mounted; a 202 leaves an upload session that the upload
 * reuses), else a copy: the source blob is opened as a qs_http_stream and its reader feeds the
 * destination's monolithic PUT directly (qs_blob_upload.read), so a blob crosses with the
 * stream's ~1 MiB of buffers whatever its size. The reader hashes as it goes and checks the
 * digest when the last byte arrives but BEFORE handing it to curl: on a mismatch it aborts the
 * upload, so the destination never receives the whole body and cannot commit it. A failed
 * stream (transport, 5xx, 429) retries the whole blob with backoff, honouring the destination's
 * Retry-After; the http client already retries the source's response headers and every
 * buffered call. The first failure stops the pool from starting more blobs, and then no
 * manifest is pushed: nothing gets tagged unless every blob is in place.
 *
 * Copies running at once in one process (a mirror's workers) coordinate in two ways: a blob
 * being written to a repository is "in flight" process-wide, so a second copy that needs it
 * waits and then finds it present instead of uploading it again (images sharing base layers
 * are the common case); and streams into one destination registry share a process-wide limit
 * of max_blobs slots, so N workers do not open N × max_blobs uploads against one registry. */
#include "shared/copy.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shared/common.h"
#include "shared/http_client.h"
#include "shared/log.h"
#include "shared/metrics.h"

#define MAX_DEPTH 3 /* an index of indexes of images is the deepest we follow */

typedef enum { BLOB_PENDING = 0, BLOB_SKIPPED, BLOB_MOUNTED, BLOB_COPIED } blob_state;

typedef struct {
    char digest[QS_DIGEST_STR_LEN + 1];
    int64_t size;
    blob_state state;
} blob_job;

typedef struct {
    char digest[QS_DIGEST_STR_LEN + 1];
    char *media_type;
    qs_buf body;
} push_item; /* a manifest to PUT, in order; the last one is the top */

typedef struct {
    qs_metric *bytes, *copied, *skipped, *mounted, *pushed;
} copy_metrics;

typedef struct {
    const qs_image_ref *src, *dst;
    qs_copy_opts o;
    qs_copy_result *res;
    const char **mount_from; /* candidates, NULL-terminated */
    blob_job *blobs;
    size_t nblobs, capblobs;
    push_item *items;
    size_t nitems, capitems;
    copy_metrics m;
    atomic_size_t next;
    atomic_bool failed;
    pthread_mutex_t mu; /* res counters, res->error, err */
    int err;
} copy_ctx;

/* ------------------------------------------------------------------ small helpers */

static void fail(copy_ctx *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(copy_ctx *c, int rc, const char *fmt, ...) {
    pthread_mutex_lock(&c->mu);
    if (c->err == QS_OK) {
        c->err = rc;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->res->error, sizeof c->res->error, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&c->mu);
    atomic_store(&c->failed, true);
}

static void count(copy_ctx *c, int64_t *field, qs_metric *m, int64_t n) {
    pthread_mutex_lock(&c->mu);
    *field += n;
    pthread_mutex_unlock(&c->mu);
    if (m && !c->o.dry_run)
        qs_metric_add(m, (double)n);
}

static void metrics_init(copy_metrics *m) {
    m->bytes = qs_counter("quayside_copy_bytes_total",
                          "Bytes streamed from source registries into destination uploads.", NULL);
    m->copied = qs_counter("quayside_copy_blobs_copied_total",
                           "Blobs streamed from a source to a destination registry.", NULL);
    m->skipped = qs_counter("quayside_copy_blobs_skipped_total",
                            "Blobs not copied because the destination already had them.", NULL);
    m->mounted = qs_counter("quayside_copy_blobs_mounted_total",
                            "Blobs mounted from another repository of the destination.", NULL);
    m->pushed = qs_counter("quayside_copy_manifests_pushed_total",
                           "Manifests pushed to destination registries by copies.", NULL);
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (ms > 0 && nanosleep(&ts, &ts) != 0) {
    }
}

/* ------------------------------------------------------------------ manifest parsing */

/* The kind of a manifest: its Content-Type, else its own mediaType / shape. */
static qs_mkind kind_of(const char *content_type, const json_t *j) {
    qs_mkind k = qs_manifest_kind(content_type);
    if (k != QS_MKIND_UNKNOWN)
        return k;
    k = qs_manifest_kind(json_string_value(json_object_get(j, "mediaType")));
    if (k != QS_MKIND_UNKNOWN)
        return k;
    if (json_integer_value(json_object_get(j, "schemaVersion")) == 1)
        return QS_MKIND_SCHEMA1;
    if (json_is_array(json_object_get(j, "manifests")))
        return QS_MKIND_OCIINDEX;
    return json_is_object(json_object_get(j, "config")) ? QS_MKIND_OCI : QS_MKIND_UNKNOWN;
}

/* A descriptor's digest and size; false when malformed. */
static bool descriptor(const json_t *d, const char **digest, int64_t *size) {
    *digest = json_string_value(json_object_get(d, "digest"));
    json_t *s = json_object_get(d, "size");
    *size = json_is_integer(s) ? (int64_t)json_integer_value(s) : -1;
    return *digest && qs_digest_valid(*digest) && strncmp(*digest, "sha256:", 7) == 0 && *size >= 0;
}

/* Layers stored outside registries (docker foreign, OCI non-distributable) are not copied. */
static bool foreign(const json_t *d) {
    const char *mt = json_string_value(json_object_get(d, "mediaType"));
    return mt && (strstr(mt, "foreign") || strstr(mt, "nondistributable"));
}

static int add_blob(copy_ctx *c, const char *digest, int64_t size) {
    for (size_t i = 0; i < c->nblobs; i++)
        if (strcmp(c->blobs[i].digest, digest) == 0)
            return QS_OK;
    if (c->nblobs == c->capblobs) {
        size_t cap = c->capblobs ? c->capblobs * 2 : 16;
        blob_job *nb = realloc(c->blobs, cap * sizeof *nb);
        if (!nb)
            return QS_ENOMEM;
        c->blobs = nb;
        c->capblobs = cap;
    }
    blob_job *b = &c->blobs[c->nblobs++];
    memset(b, 0, sizeof *b);
    snprintf(b->digest, sizeof b->digest, "%s", digest);
    b->size = size;
    return QS_OK;
}

/* The blobs of one image manifest. */
static int plan_image(copy_ctx *c, const json_t *j, const char *where) {
    const char *d;
    int64_t size;
    if (!descriptor(json_object_get(j, "config"), &d, &size)) {
        fail(c, QS_EPROTO, "manifest %s has no valid config descriptor", where);
        return QS_EPROTO;
    }
    int rc = add_blob(c, d, size);
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(j, "layers"), i, l) {
        if (rc != QS_OK || foreign(l))
            continue;
        if (!descriptor(l, &d, &size)) {
            fail(c, QS_EPROTO, "manifest %s has an invalid layer descriptor", where);
            return QS_EPROTO;
        }
        rc = add_blob(c, d, size);
    }
    return rc;
}

/* Queue a manifest for pushing. Takes media_type (freed on failure) and the body. */
static int add_item(copy_ctx *c, const char *digest, char *media_type, qs_buf *body) {
    if (c->nitems == c->capitems) {
        size_t cap = c->capitems ? c->capitems * 2 : 8;
        push_item *ni = realloc(c->items, cap * sizeof *ni);
        if (!ni) {
            free(media_type);
            return QS_ENOMEM;
        }
        c->items = ni;
        c->capitems = cap;
    }
    push_item *it = &c->items[c->nitems++];
    snprintf(it->digest, sizeof it->digest, "%s", digest);
    it->media_type = media_type;
    it->body = *body;
    *body = (qs_buf)QS_BUF_INIT;
    return QS_OK;
}

/* ------------------------------------------------------------------ platform filter */

static bool platform_wanted(const char *const *want, const json_t *desc) {
    const json_t *p = json_object_get(desc, "platform");
    const char *os = json_string_value(json_object_get(p, "os"));
    const char *arch = json_string_value(json_object_get(p, "architecture"));
    const char *var = json_string_value(json_object_get(p, "variant"));
    char have[160];
    snprintf(have, sizeof have, "%s/%s", os ? os : "", arch ? arch : "");
    for (; want && *want; want++) {
        size_t n = strlen(have);
        if (strncmp(*want, have, n) != 0)
            continue;
        if ((*want)[n] == '\0' || ((*want)[n] == '/' && var && strcmp(*want + n + 1, var) == 0))
            return true;
    }
    return false;
}

/* Drop the children of list `j` that are not wanted; when any went, re-serialise it into
 * *body (and its digest into `digest`). QS_ENOTFOUND when nothing is left. */
static int filter_list(copy_ctx *c, json_t *j, qs_buf *body, char *digest) {
    json_t *mans = json_object_get(j, "manifests"), *kept = json_array();
    size_t i;
    json_t *d;
    json_array_foreach(mans, i, d) {
        if (platform_wanted(c->o.platforms, d))
            json_array_append(kept, d);
    }
    size_t n = json_array_size(kept), total = json_array_size(mans);
    int rc = QS_OK;
    if (n == 0) {
        fail(c, QS_ENOTFOUND, "no manifest in the list matches the platforms asked for");
        rc = QS_ENOTFOUND;
    } else if (n < total) {
        json_object_set(j, "manifests", kept);
        char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        qs_buf_reset(body);
        rc = text ? qs_buf_puts(body, text) : QS_ENOMEM;
        free(text);
        qs_sha256_digest(body->data, body->len, digest);
    }
    json_decref(kept);
    return rc;
}

/* ------------------------------------------------------------------ planning */

static int plan_manifest(copy_ctx *c, json_t *j, qs_mkind k, int depth, const char *where);

/* Fetch the child named by descriptor `d` and plan it. */
static int plan_child(copy_ctx *c, const json_t *d, int depth) {
    const char *digest;
    int64_t size;
    if (!descriptor(d, &digest, &size)) {
        fail(c, QS_EPROTO, "a list holds an invalid manifest descriptor");
        return QS_EPROTO;
    }
    for (size_t i = 0; i < c->nitems; i++)
        if (strcmp(c->items[i].digest, digest) == 0)
            return QS_OK; /* listed twice */
    qs_manifest m;
    int rc = qs_registry_manifest_get(c->src->reg, c->src->repo, digest, &m);
    if (rc == QS_OK && m.size != size)
        rc = QS_EDIGEST;
    if (rc != QS_OK) {
        fail(c, rc, "source manifest %s: %s", digest, qs_strerror(rc));
        qs_manifest_free(&m);
        return rc;
    }
    json_t *j = json_loadb(m.body.data, m.body.len, 0, NULL);
    const char *mt = json_string_value(json_object_get(d, "mediaType"));
    qs_mkind k = kind_of(m.media_type ? m.media_type : mt, j);
    rc = plan_manifest(c, j, k, depth, digest);
    char *type = strdup(m.media_type ? m.media_type : mt ? mt : "");
    if (rc == QS_OK)
        rc = type ? add_item(c, digest, type, &m.body) : QS_ENOMEM;
    else
        free(type);
    json_decref(j);
    qs_manifest_free(&m);
    return rc;
}

/* Plan a parsed manifest of kind k: its blobs, or its children (pushed before it). */
static int plan_manifest(copy_ctx *c, json_t *j, qs_mkind k, int depth, const char *where) {
    if (!j) {
        fail(c, QS_EPROTO, "manifest %s is not JSON", where);
        return QS_EPROTO;
    }
    if (k == QS_MKIND_SCHEMA1 || k == QS_MKIND_UNKNOWN) {
        fail(c, QS_EINVAL, "manifest %s: %s", where,
             k == QS_MKIND_SCHEMA1
                 ? "docker schema 1 manifests are not supported (deprecated, and cannot be "
                   "copied byte-exact); convert the source to schema 2 or OCI"
                 : "unknown manifest media type");
        return QS_EINVAL;
    }
    if (!qs_manifest_kind_is_list(k))
        return plan_image(c, j, where);
    if (depth >= MAX_DEPTH) {
        fail(c, QS_EPROTO, "manifest %s: lists nested too deeply", where);
        return QS_EPROTO;
    }
    size_t i;
    json_t *d;
    int rc = QS_OK;
    json_array_foreach(json_object_get(j, "manifests"), i, d) {
        if (rc == QS_OK)
            rc = plan_child(c, d, depth + 1);
    }
    return rc;
}

/* ------------------------------------------------------------------ one blob */

typedef struct {
    copy_ctx *c;
    qs_http_stream *s;
    qs_sha256 *h;
    const blob_job *b;
    int64_t got;
    bool mismatch;  /* the bytes did not hash to the digest (or were too few) */
    bool src_error; /* the source stream broke */
} pipe_ctx;

/* The upload's reader: source stream → hash → curl. Aborts before the last byte leaves when
 * the digest is wrong. */
static size_t pipe_read(void *ctx, char *buf, size_t max) {
    pipe_ctx *p = ctx;
    int64_t left = p->b->size - p->got;
    if (left <= 0)
        return 0;
    ssize_t n = qs_http_stream_read(p->s, buf, (int64_t)max < left ? max : (size_t)left);
    if (n <= 0) {
        p->src_error = n < 0;
        p->mismatch = n == 0; /* a clean end before `size` bytes: not the blob described */
        return (size_t)-1;
    }
    qs_sha256_update(p->h, buf, (size_t)n);
    p->got += n;
    qs_metric_add(p->c->m.bytes, (double)n);
    if (p->got == p->b->size) {
        char d[QS_DIGEST_STR_LEN + 1];
        qs_sha256_final(p->h, d);
        p->h = NULL;
        if (strcmp(d, p->b->digest) != 0) {
            p->mismatch = true;
            return (size_t)-1;
        }
    }
    return (size_t)n;
}

/* One attempt at streaming blob b; *retry_ms is the destination's Retry-After or -1. */
static int stream_once(copy_ctx *c, const blob_job *b, char **session, long *retry_ms) {
    pipe_ctx p = {.c = c, .b = b};
    *retry_ms = -1;
    int rc = qs_registry_blob_open(c->src->reg, c->src->repo, b->digest, &p.s);
    if (rc != QS_OK)
        return rc;
    int64_t len = qs_http_stream_length(p.s);
    if (len >= 0 && len != b->size) {
        fail(c, QS_EDIGEST, "blob %s: the source serves %lld bytes for a blob of %lld", b->digest,
             (long long)len, (long long)b->size);
        qs_http_stream_close(p.s);
        return QS_EDIGEST;
    }
    if (!(p.h = qs_sha256_new())) {
        qs_http_stream_close(p.s);
        return QS_ENOMEM;
    }
    qs_blob_upload up = QS_BLOB_UPLOAD_INIT;
    up.size = b->size;
    up.read = pipe_read;
    up.read_ctx = &p;
    up.session = *session;
    rc = qs_registry_blob_upload(c->dst->reg, c->dst->repo, b->digest, &up);
    free(*session); /* a session is good for one attempt only */
    *session = NULL;
    *retry_ms = up.retry_after_ms;
    if (p.mismatch) {
        fail(c, QS_EDIGEST,
             "blob %s: the source's bytes do not match the digest (%lld of %lld "
             "bytes read); upload aborted",
             b->digest, (long long)p.got, (long long)b->size);
        rc = QS_EDIGEST;
    } else if (p.src_error) {
        rc = QS_EUNAVAIL; /* the source broke: worth another attempt */
    }
    if (p.h) {
        char unused[QS_DIGEST_STR_LEN + 1];
        qs_sha256_final(p.h, unused);
    }
    qs_http_stream_close(p.s);
    return rc;
}

/* Stream blob b, retrying transport-level failures with backoff. */
static int stream_blob(copy_ctx *c, const blob_job *b, char **session) {
    for (int attempt = 1;; attempt++) {
        long retry_ms;
        int rc = stream_once(c, b, session, &retry_ms);
        /* Transport, 5xx, 429: again. A 401 once: the rejected token was dropped, and a fresh
         * one may well do (a streamed upload cannot be replayed inside the client). */
        bool again = rc == QS_EUNAVAIL || (rc == QS_EAUTH && attempt == 1);
        if (!again || attempt >= c->o.blob_attempts || atomic_load(&c->failed))
            return rc;
        long ms = retry_ms >= 0
                      ? retry_ms
                      : qs_http_backoff_ms(c->o.backoff_base_ms, c->o.backoff_max_ms, attempt);
        ms = ms > c->o.backoff_max_ms ? c->o.backoff_max_ms : ms;
        count(c, &c->res->blob_retries, NULL, 1);
        qs_log(QS_LOG_WARN, "blob copy failed, retrying", "digest", b->digest, "registry",
               qs_registry_host(c->dst->reg), NULL);
        sleep_ms(ms);
    }
}

/* Try each mount candidate; true when mounted (or, in a dry run, mountable). A 202 leaves
 * its upload session in *session. */
static bool try_mounts(copy_ctx *c, const blob_job *b, char **session) {
    for (const char **from = c->mount_from; *from; from++) {
        if (c->o.dry_run) {
            if (qs_registry_blob_head(c->dst->reg, *from, b->digest, NULL) == QS_OK)
                return true;
            continue;
        }
        bool mounted = false;
        free(*session);
        *session = NULL;
        if (qs_registry_blob_mount(c->dst->reg, c->dst->repo, b->digest, *from, &mounted,
                                   session) == QS_OK &&
            mounted)
            return true;
    }
    return false;
}

/* ------------------------------------------------------------------ process-wide coordination */

typedef struct flight {
    char *key; /* "<registry host>|<repo>|<digest>" */
    struct flight *next;
} flight;

typedef struct slots {
    char *host;
    int used;
    struct slots *next;
} slots;

static pthread_mutex_t coord_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t coord_cv = PTHREAD_COND_INITIALIZER;
static flight *flights;
static slots *hosts;

/* Claim `key`, waiting while another copy holds it. Returns the claim (release with
 * flight_release), or NULL on ENOMEM (then the caller proceeds without coordination). */
static flight *flight_claim(const char *key) {
    pthread_mutex_lock(&coord_mu);
    for (;;) {
        flight *f = flights;
        while (f && strcmp(f->key, key) != 0)
            f = f->next;
        if (!f)
            break;
        pthread_cond_wait(&coord_cv, &coord_mu);
    }
    flight *f = calloc(1, sizeof *f);
    if (f && (f->key = strdup(key))) {
        f->next = flights;
        flights = f;
    } else if (f) {
        free(f);
        f = NULL;
    }
    pthread_mutex_unlock(&coord_mu);
    return f;
}

static void flight_release(flight *f) {
    if (!f)
        return;
    pthread_mutex_lock(&coord_mu);
    for (flight **p = &flights; *p; p = &(*p)->next)
        if (*p == f) {
            *p = f->next;
            break;
        }
    pthread_cond_broadcast(&coord_cv);
    pthread_mutex_unlock(&coord_mu);
    free(f->key);
    free(f);
}

/* Take one of the `limit` stream slots of `host` (waits while all are taken). */
static slots *slot_take(const char *host, int limit) {
    pthread_mutex_lock(&coord_mu);
    slots *h = hosts;
    while (h && strcmp(h->host, host) != 0)
        h = h->next;
    if (!h && (h = calloc(1, sizeof *h)) && (h->host = strdup(host))) {
        h->next = hosts;
        hosts = h; /* kept for the life of the process: one small entry per registry */
    } else if (h && !h->host) {
        free(h);
        h = NULL;
    }
    while (h && h->used >= limit)
        pthread_cond_wait(&coord_cv, &coord_mu);
    if (h)
        h->used++;
    pthread_mutex_unlock(&coord_mu);
    return h;
}

static void slot_give(slots *h) {
    if (!h)
        return;
    pthread_mutex_lock(&coord_mu);
    h->used--;
    pthread_cond_broadcast(&coord_cv);
    pthread_mutex_unlock(&coord_mu);
}

static int blob_one_claimed(copy_ctx *c, blob_job *b);

static int blob_one(copy_ctx *c, blob_job *b) {
    char key[600];
    snprintf(key, sizeof key, "%s|%s|%s", qs_registry_host(c->dst->reg), c->dst->repo, b->digest);
    flight *f = c->o.dry_run ? NULL : flight_claim(key);
    int rc = blob_one_claimed(c, b);
    flight_release(f);
    return rc;
}

static int blob_one_claimed(copy_ctx *c, blob_job *b) {
    int rc = qs_registry_blob_head(c->dst->reg, c->dst->repo, b->digest, NULL);
    if (rc == QS_OK) {
        b->state = BLOB_SKIPPED;
        count(c, &c->res->blobs_skipped, c->m.skipped, 1);
        return QS_OK;
    }
    if (rc != QS_ENOTFOUND)
        return rc;
    char *session = NULL;
    if (try_mounts(c, b, &session)) {
        free(session);
        b->state = BLOB_MOUNTED;
        count(c, &c->res->blobs_mounted, c->m.mounted, 1);
        return QS_OK;
    }
    rc = QS_OK; /* dry run: what would be copied is counted as copied */
    if (!c->o.dry_run) {
        slots *slot = slot_take(qs_registry_host(c->dst->reg), c->o.max_blobs);
        rc = stream_blob(c, b, &session);
        slot_give(slot);
    }
    free(session);
    if (rc == QS_OK) {
        b->state = BLOB_COPIED;
        count(c, &c->res->blobs_copied, c->m.copied, 1);
        count(c, &c->res->bytes_copied, NULL, b->size);
    }
    return rc;
}

/* ------------------------------------------------------------------ the pool */

static void *blob_worker(void *arg) {
    copy_ctx *c = arg;
    while (!atomic_load(&c->failed)) {
        size_t i = atomic_fetch_add(&c->next, 1);
        if (i >= c->nblobs)
            break;
        int rc = blob_one(c, &c->blobs[i]);
        if (rc != QS_OK)
            fail(c, rc, "blob %s: %s", c->blobs[i].digest,
                 rc == QS_EDIGEST ? "the destination refused the digest" : qs_strerror(rc));
    }
    return NULL;
}

static int copy_blobs(copy_ctx *c) {
    size_t n = (size_t)c->o.max_blobs < c->nblobs ? (size_t)c->o.max_blobs : c->nblobs;
    pthread_t *t = n > 1 ? calloc(n, sizeof *t) : NULL;
    size_t started = 0;
    for (; t && started < n; started++)
        if (pthread_create(&t[started], NULL, blob_worker, c) != 0)
            break;
    if (started == 0)
        blob_worker(c); /* one blob, or no threads to be had: do it here */
    for (size_t i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    free(t);
    return c->err;
}

/* ------------------------------------------------------------------ pushing */

static int push_one(copy_ctx *c, const push_item *it, const char *ref) {
    if (c->o.dry_run) {
        c->res->manifests_pushed++;
        return QS_OK;
    }
    int rc = qs_registry_manifest_put(c->dst->reg, c->dst->repo, ref, it->media_type, it->body.data,
                                      it->body.len, NULL);
    if (rc != QS_OK) {
        fail(c, rc, "pushing manifest %s as %s: %s", it->digest, ref, qs_strerror(rc));
        return rc;
    }
    count(c, &c->res->manifests_pushed, c->m.pushed, 1);
    return QS_OK;
}

/* Children by digest, then the top under the destination ref and the extra tags. */
static int push_manifests(copy_ctx *c) {
    int rc = QS_OK;
    for (size_t i = 0; rc == QS_OK && i + 1 < c->nitems; i++)
        rc = push_one(c, &c->items[i], c->items[i].digest);
    const push_item *top = &c->items[c->nitems - 1];
    if (rc == QS_OK)
        rc = push_one(c, top, c->dst->ref);
    for (const char *const *t = c->o.also_tags; rc == QS_OK && t && *t; t++)
        rc = push_one(c, top, *t);
    return rc;
}

/* ------------------------------------------------------------------ the copy */

/* Source top manifest (GET) and destination digest (HEAD). 1 = already in sync. */
static int read_top(copy_ctx *c, qs_manifest *src, json_t **j, qs_mkind *k, char *digest) {
    int rc = qs_registry_manifest_get(c->src->reg, c->src->repo, c->src->ref, src);
    if (rc != QS_OK) {
        fail(c, rc, "source manifest %s/%s:%s: %s", qs_registry_host(c->src->reg), c->src->repo,
             c->src->ref, qs_strerror(rc));
        return rc;
    }
    *j = json_loadb(src->body.data, src->body.len, 0, NULL);
    *k = kind_of(src->media_type, *j);
    snprintf(digest, QS_DIGEST_STR_LEN + 1, "%s", src->digest);
    if (*k == QS_MKIND_SCHEMA1 || *k == QS_MKIND_UNKNOWN || !*j)
        return plan_manifest(c, *j, *k, 0, c->src->ref); /* refuses it, saying why */
    if (*j && c->o.platforms && qs_manifest_kind_is_list(*k) &&
        (rc = filter_list(c, *j, &src->body, digest)) != QS_OK)
        return rc;
    if (strchr(c->dst->ref, ':') && strcmp(c->dst->ref, digest) != 0) {
        fail(c, QS_EINVAL, "destination digest %s is not the image's %s", c->dst->ref, digest);
        return QS_EINVAL;
    }
    qs_manifest d;
    rc = qs_registry_manifest_head(c->dst->reg, c->dst->repo, c->dst->ref, &d);
    if (rc == QS_OK && !d.digest) { /* no Docker-Content-Digest on HEAD: hash the body */
        qs_manifest_free(&d);
        rc = qs_registry_manifest_get(c->dst->reg, c->dst->repo, c->dst->ref, &d);
    }
    bool same = rc == QS_OK && d.digest && strcmp(d.digest, digest) == 0;
    qs_manifest_free(&d);
    if (rc != QS_OK && rc != QS_ENOTFOUND) {
        fail(c, rc, "destination manifest: %s", qs_strerror(rc));
        return rc;
    }
    return same ? 1 : QS_OK;
}

static int copy_run(copy_ctx *c) {
    qs_manifest src;
    json_t *j = NULL;
    qs_mkind k = QS_MKIND_UNKNOWN;
    char digest[QS_DIGEST_STR_LEN + 1] = "";
    int rc = read_top(c, &src, &j, &k, digest);
    c->res->kind = k;
    if (rc == 1) {
        c->res->up_to_date = true;
        snprintf(c->res->digest, sizeof c->res->digest, "%s", digest);
        rc = QS_OK;
    } else if (rc == QS_OK && (rc = plan_manifest(c, j, k, 0, c->src->ref)) == QS_OK) {
        char *mt = strdup(src.media_type           ? src.media_type
                          : k == QS_MKIND_OCIINDEX ? QS_MT_OCI_INDEX
                                                   : QS_MT_OCI_MANIFEST);
        rc = mt ? add_item(c, digest, mt, &src.body) : QS_ENOMEM;
        if (rc == QS_OK && (rc = copy_blobs(c)) == QS_OK && (rc = push_manifests(c)) == QS_OK)
            snprintf(c->res->digest, sizeof c->res->digest, "%s", digest);
    }
    json_decref(j);
    qs_manifest_free(&src);
    if (rc != QS_OK && c->err == QS_OK)
        fail(c, rc, "%s", qs_strerror(rc));
    return rc;
}

/* Mount candidates: the caller's, then the source repository when the host is the same. */
static int mount_candidates(copy_ctx *c) {
    size_t n = 0;
    while (c->o.mount_from && c->o.mount_from[n])
        n++;
    if (!(c->mount_from = calloc(n + 2, sizeof *c->mount_from)))
        return QS_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(c->o.mount_from[i], c->dst->repo) != 0)
            c->mount_from[k++] = c->o.mount_from[i];
    bool same_host = strcmp(qs_registry_host(c->src->reg), qs_registry_host(c->dst->reg)) == 0;
    bool listed = false;
    for (size_t i = 0; i < k; i++)
        listed |= strcmp(c->mount_from[i], c->src->repo) == 0;
    if (same_host && !listed && strcmp(c->src->repo, c->dst->repo) != 0)
        c->mount_from[k++] = c->src->repo;
    return QS_OK;
}

static void apply_defaults(qs_copy_opts *o) {
    static const qs_copy_opts d = QS_COPY_OPTS_INIT;
    if (o->max_blobs <= 0)
        o->max_blobs = d.max_blobs;
    if (o->blob_attempts <= 0)
        o->blob_attempts = d.blob_attempts;
    if (o->backoff_base_ms <= 0)
        o->backoff_base_ms = d.backoff_base_ms;
    if (o->backoff_max_ms <= 0)
        o->backoff_max_ms = d.backoff_max_ms;
}

static bool ref_ok(const qs_image_ref *r) { return r && r->reg && r->repo && r->ref; }

int qs_copy_image(const qs_image_ref *src, const qs_image_ref *dst, const qs_copy_opts *opts,
                  qs_copy_result *res) {
    memset(res, 0, sizeof *res);
    if (!ref_ok(src) || !ref_ok(dst)) {
        snprintf(res->error, sizeof res->error, "incomplete image reference");
        return QS_EINVAL;
    }
    static const qs_copy_opts defaults = QS_COPY_OPTS_INIT;
    copy_ctx c = {.src = src, .dst = dst, .o = opts ? *opts : defaults, .res = res};
    apply_defaults(&c.o);
    res->dry_run = c.o.dry_run;
    pthread_mutex_init(&c.mu, NULL);
    metrics_init(&c.m);
    int rc = mount_candidates(&c);
    if (rc == QS_OK)
        rc = copy_run(&c);
    else
        snprintf(res->error, sizeof res->error, "out of memory");
    char counts[160], from[512], to[512];
    snprintf(counts, sizeof counts, "copied=%lld skipped=%lld mounted=%lld bytes=%lld",
             (long long)res->blobs_copied, (long long)res->blobs_skipped,
             (long long)res->blobs_mounted, (long long)res->bytes_copied);
    snprintf(from, sizeof from, "%s/%s:%s", qs_registry_host(src->reg), src->repo, src->ref);
    snprintf(to, sizeof to, "%s/%s:%s", qs_registry_host(dst->reg), dst->repo, dst->ref);
    qs_log(rc == QS_OK ? QS_LOG_INFO : QS_LOG_WARN, rc == QS_OK ? "image copied" : "copy failed",
           "source", from, "destination", to, "digest", res->digest, "blobs", counts, "dry_run",
           c.o.dry_run ? "true" : "false", "up_to_date", res->up_to_date ? "true" : "false",
           "error", rc == QS_OK ? NULL : res->error, NULL);
    for (size_t i = 0; i < c.nitems; i++) {
        free(c.items[i].media_type);
        qs_buf_free(&c.items[i].body);
    }
    free(c.items);
    free(c.blobs);
    free((void *)c.mount_from);
    pthread_mutex_destroy(&c.mu);
    return rc;
}
