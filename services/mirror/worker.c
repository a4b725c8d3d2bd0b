/* worker.c — the copy workers.
 *
 * Each worker thread owns a Redis connection and a queue consumer, so any number of worker
 * threads, processes and machines share one queue (MIRROR_ROLE=worker scales out). A worker
 * takes a task, mirrors it and acks it; a failure goes back to the queue with its error (retry
 * with backoff, dead-letter after MAX_ATTEMPTS). Failures retrying cannot fix — an invalid
 * task, a schema 1 or unknown manifest, content that does not match its digest, a source that
 * is gone — are dead-lettered at once with their reason instead of looping. A worker killed
 * mid-copy holds no lock: its task is reclaimed by another consumer after TASK_TIMEOUT. While
 * a copy runs, a heartbeat extends the task every third of TASK_TIMEOUT, so a long copy by a
 * live worker is never reclaimed and run twice.
 *
 * One mirror: with BACKUP_TAGS, an existing destination tag that points elsewhere is first
 * tagged <YYYYMMDDHHMMSS>_prune___ci_images_mirror__<tag> (only when it exists, and always
 * before the overwrite); then the copy engine copies the image (lists kept whole, blobs
 * streamed and verified); then the <YYYYMMDD>_sha256_<hex> tag is added so quay.io's garbage
 * collection never takes an image in use. */
#include "mirror/worker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mirror/naming.h"
#include "shared/common.h"
#include "shared/http_server.h"
#include "shared/log.h"
#include "shared/metrics.h"
#include "shared/queue.h"
#include "shared/redis.h"

#define TAKE_BLOCK_MS 300 /* idle poll; also how soon a stop is noticed */

typedef struct {
    mirror_workers *owner;
    pthread_t thread;
    qs_redis *redis;
    qs_queue *queue;
    char consumer[128];
    bool started;
    volatile bool finished; /* its loop has ended */
} worker;

struct mirror_workers {
    const mirror_settings *s;
    mirror_registries *regs;
    worker *w;
    size_t n;
    volatile bool stop;
    qs_metric *m_duration;
    qs_metric *m_bytes;
    qs_metric *m_blobs;
};

/* With BACKUP_TAGS: tag the image the destination tag points at before it is overwritten. */
static int backup(mirror_registries *regs, const mirror_ref *dst, const char *new_digest,
                  qs_copy_result *res) {
    qs_registry *reg = mirror_registry_for(regs, dst->host);
    qs_manifest old = {0};
    int rc = reg ? qs_registry_manifest_get(reg, dst->repo, dst->tag, &old) : QS_ENOMEM;
    if (rc == QS_ENOTFOUND) /* nothing to back up */
        return QS_OK;
    if (rc == QS_OK && old.digest && strcmp(old.digest, new_digest) != 0) {
        char tag[160];
        rc = mirror_prune_tag(time(NULL), dst->tag, tag, sizeof tag);
        if (rc == QS_OK)
            rc = qs_registry_manifest_put(reg, dst->repo, tag, old.media_type, old.body.data,
                                          old.body.len, NULL);
        if (rc == QS_OK)
            qs_log(QS_LOG_INFO, "backup tag written", "repository", dst->repo, "tag", tag, NULL);
    }
    if (rc != QS_OK)
        snprintf(res->error, sizeof res->error, "backup of tag %.100s failed: %s", dst->tag,
                 qs_strerror(rc));
    qs_manifest_free(&old);
    return rc;
}

/* Add the <YYYYMMDD>_sha256_<hex> tag to the manifest just pushed. */
static int date_tag(mirror_registries *regs, const mirror_ref *dst, const char *digest,
                    qs_copy_result *res) {
    qs_registry *reg = mirror_registry_for(regs, dst->host);
    char tag[160];
    if (!reg || mirror_date_digest_tag(time(NULL), digest, tag, sizeof tag) != QS_OK)
        return QS_EINVAL;
    qs_manifest m = {0};
    int rc = qs_registry_manifest_get(reg, dst->repo, digest, &m);
    if (rc == QS_OK)
        rc = qs_registry_manifest_put(reg, dst->repo, tag, m.media_type, m.body.data, m.body.len,
                                      NULL);
    if (rc != QS_OK)
        snprintf(res->error, sizeof res->error, "tagging %s failed: %s", tag, qs_strerror(rc));
    qs_manifest_free(&m);
    return rc;
}

int mirror_execute(const mirror_settings *s, mirror_registries *regs, const mirror_task *t,
                   qs_copy_result *res, bool *permanent) {
    memset(res, 0, sizeof *res);
    *permanent = false;
    mirror_ref src, dst;
    if (mirror_ref_parse(&src, t->want.source, "docker.io") != QS_OK ||
        mirror_ref_parse(&dst, t->want.destination, "docker.io") != QS_OK || !dst.tag[0]) {
        snprintf(res->error, sizeof res->error,
                 "the task's source or destination is not a valid reference");
        *permanent = true;
        return QS_EINVAL;
    }
    qs_image_ref sref = {mirror_registry_for(regs, src.host), src.repo, mirror_ref_reference(&src)};
    qs_image_ref dref = {mirror_registry_for(regs, dst.host), dst.repo, dst.tag};
    if (!sref.reg || !dref.reg)
        return QS_ENOMEM;
    static const char *const amd64[] = {"linux/amd64", NULL};
    qs_copy_opts o = QS_COPY_OPTS_INIT;
    o.max_blobs = (int)s->blob_concurrency;
    o.dry_run = s->dry_run;
    o.platforms = s->keep_lists ? NULL : amd64;
    int rc = QS_OK;
    if (s->backup_tags && !s->dry_run && t->source_digest[0])
        rc = backup(regs, &dst, t->source_digest, res);
    if (rc == QS_OK)
        rc = qs_copy_image(&sref, &dref, &o, res);
    if (rc == QS_OK && t->want.date_tag && !s->dry_run && res->digest[0])
        rc = date_tag(regs, &dst, res->digest, res);
    *permanent = rc == QS_EINVAL || rc == QS_EDIGEST || rc == QS_ENOTFOUND;
    return rc;
}

/* The heartbeat of a task in progress: extend it until told to stop. */
typedef struct {
    worker *wk;
    const char *id;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
} heartbeat;

static void *beat(void *arg) {
    heartbeat *hb = arg;
    long period_ms = (long)(hb->wk->owner->s->visibility_timeout * 1000 / 3);
    pthread_mutex_lock(&hb->mu);
    while (!hb->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long long ns = until.tv_nsec + (long long)period_ms * 1000000LL;
        until.tv_sec += (time_t)(ns / 1000000000LL);
        until.tv_nsec = (long)(ns % 1000000000LL);
        if (pthread_cond_timedwait(&hb->cv, &hb->mu, &until) != 0 && !hb->stop) {
            pthread_mutex_unlock(&hb->mu);
            qs_queue_extend(hb->wk->queue, hb->id);
            pthread_mutex_lock(&hb->mu);
        }
    }
    pthread_mutex_unlock(&hb->mu);
    return NULL;
}

static void handle(worker *wk, const qs_task *task) {
    mirror_workers *ws = wk->owner;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    mirror_task t;
    char err[256] = "";
    json_t *j = json_loads(task->payload, 0, NULL);
    int rc = mirror_task_from_json(j, &t, err, sizeof err);
    json_decref(j);
    qs_copy_result res = {0};
    bool permanent = true;
    if (rc == QS_OK) {
        heartbeat hb = {.wk = wk, .id = task->id};
        pthread_mutex_init(&hb.mu, NULL);
        pthread_cond_init(&hb.cv, NULL);
        pthread_t hbt;
        bool beating = pthread_create(&hbt, NULL, beat, &hb) == 0;
        rc = mirror_execute(ws->s, ws->regs, &t, &res, &permanent);
        pthread_mutex_lock(&hb.mu);
        hb.stop = true;
        pthread_cond_signal(&hb.cv);
        pthread_mutex_unlock(&hb.mu);
        if (beating)
            pthread_join(hbt, NULL);
        pthread_cond_destroy(&hb.cv);
        pthread_mutex_destroy(&hb.mu);
    } else {
        snprintf(res.error, sizeof res.error, "%s", err);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    qs_metric_observe(ws->m_duration, secs, rc == QS_OK ? "success" : "failure");
    qs_metric_add(ws->m_bytes, (double)res.bytes_copied);
    qs_metric_add(ws->m_blobs, (double)res.blobs_copied, "copied");
    qs_metric_add(ws->m_blobs, (double)res.blobs_skipped, "skipped");
    qs_metric_add(ws->m_blobs, (double)res.blobs_mounted, "mounted");
    if (rc == QS_OK) {
        qs_queue_ack(wk->queue, task->id);
        char bytes[32];
        snprintf(bytes, sizeof bytes, "%lld", (long long)res.bytes_copied);
        qs_log(QS_LOG_INFO, res.up_to_date ? "already in sync" : "mirrored", "source",
               t.want.source, "destination", t.want.destination, "digest", res.digest, "bytes",
               bytes, NULL);
        return;
    }
    qs_fail_result fr;
    qs_queue_fail(wk->queue, task->id, res.error[0] ? res.error : qs_strerror(rc), permanent, &fr);
    qs_log(QS_LOG_WARN, "mirror failed", "destination", t.want.destination, "error", res.error,
           "next",
           fr == QS_FAIL_RETRY  ? "retry"
           : fr == QS_FAIL_DEAD ? "dead-letter"
                                : "superseded",
           NULL);
}

static void *run(void *arg) {
    worker *wk = arg;
    while (!wk->owner->stop && !qs_shutdown_requested()) {
        qs_task task = {0};
        int rc = qs_queue_take(wk->queue, TAKE_BLOCK_MS, &task);
        if (rc == QS_OK && task.id)
            handle(wk, &task);
        else if (rc != QS_OK && rc != QS_ENOTFOUND)
            qs_sleep_or_shutdown(1.0); /* Redis unavailable: do not spin */
        qs_task_clear(&task);
    }
    wk->finished = true;
    return NULL;
}

mirror_workers *mirror_workers_start(const mirror_settings *s, mirror_registries *regs,
                                     const char *consumer_prefix, char *err, size_t errlen) {
    mirror_workers *ws = calloc(1, sizeof *ws);
    if (!ws || !(ws->w = calloc((size_t)s->workers, sizeof *ws->w))) {
        free(ws);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ws->s = s;
    ws->regs = regs;
    ws->m_duration = qs_histogram("quay_io_ci_images_distributor_image_mirroring_duration_seconds",
                                  "Time to mirror one image, by state.", "state", NULL, 0);
    ws->m_bytes = qs_counter("mirror_bytes_copied_total", "Blob bytes copied.", NULL);
    ws->m_blobs = qs_counter("mirror_blobs_total", "Blobs handled, by outcome.", "outcome");
    qs_queue_opts qo = QS_QUEUE_OPTS_INIT;
    qo.visibility_ms = (long)(s->visibility_timeout * 1000);
    qo.max_attempts = (int)s->max_attempts;
    for (size_t i = 0; i < (size_t)s->workers; i++) {
        worker *wk = &ws->w[i];
        wk->owner = ws;
        snprintf(wk->consumer, sizeof wk->consumer, "%s-%zu", consumer_prefix, i);
        wk->redis = qs_redis_new(s->redis_url, err, errlen);
        wk->queue = wk->redis ? qs_queue_open(wk->redis, "mirror:tasks", "mirror-workers",
                                              wk->consumer, &qo)
                              : NULL;
        if (!wk->queue || pthread_create(&wk->thread, NULL, run, wk) != 0) {
            if (!err[0])
                snprintf(err, errlen, "cannot start worker %zu", i);
            ws->n = i + 1;
            mirror_workers_stop(ws, 10); /* idle workers leave within TAKE_BLOCK_MS */
            return NULL;
        }
        wk->started = true;
    }
    ws->n = (size_t)s->workers;
    return ws;
}

bool mirror_workers_stop(mirror_workers *ws, double grace_s) {
    if (!ws)
        return true;
    ws->stop = true;
    /* Copies in flight get the grace period; a copy still running after it is abandoned
     * (the process exits; its task is reclaimed by another worker after TASK_TIMEOUT). */
    for (long waited_ms = 0;; waited_ms += 50) {
        size_t running = 0;
        for (size_t i = 0; i < ws->n; i++)
            running += ws->w[i].started && !ws->w[i].finished;
        if (running == 0)
            break;
        if ((double)waited_ms >= grace_s * 1000) {
            char n[24];
            snprintf(n, sizeof n, "%zu", running);
            qs_log(QS_LOG_WARN,
                   "grace period over: copies abandoned, their tasks will be reclaimed", "copies",
                   n, NULL);
            return false;
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i < ws->n; i++) {
        if (ws->w[i].started)
            pthread_join(ws->w[i].thread, NULL);
        qs_queue_free(ws->w[i].queue);
        qs_redis_free(ws->w[i].redis);
    }
    free(ws->w);
    free(ws);
    return true;
}
