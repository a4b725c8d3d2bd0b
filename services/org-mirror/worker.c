/* worker.c — the repository workers.
 *
 * QUAY_CONCURRENCY threads per replica, each with its own Redis connection and consumer of
 * QUEUE_NAME (group "org-mirror-workers"): any number of replicas share the queue, and the
 * number of threads bounds the calls in flight to each Quay from one replica (a thread makes
 * one call at a time). A task names a repository of an organisation and the generation of the
 * run that queued it; the worker reconciles the repository and records the result with that
 * generation in Redis (store.c), where the run is counting. A task without a generation (an
 * event's, or one whose payload an event replaced) gets the organisation's current generation,
 * read *before* starting. Either way a result describes a state observed after the run began.
 *
 * Idle workers wait in a blocking take (up to 1 s, so an idle replica costs Redis a few
 * commands per second); stopping interrupts those waits with CLIENT UNBLOCK, so --once and
 * SIGTERM do not wait out the block (without the permission to do that, they do).
 *
 * Failures: a task that cannot be understood, or names an organisation this deployment does
 * not mirror, is dead-lettered at once. A repository failure worth retrying (5xx, 429, no
 * answer — after the HTTP client's own retries) goes back to the queue with exponential
 * backoff (RETRY_BACKOFF, doubling), and is recorded as failed only when it is dead-lettered
 * after MAX_ATTEMPTS; any other failure (a refused token, a missing robot) is recorded at once.
 * Secrets never reach a task, a result or a log line: they live in the Secret files. */
#include "org-mirror/worker.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "org-mirror/plan.h"
#include "org-mirror/repo.h"
#include "org-mirror/store.h"
#include "org-mirror/task.h"
#include "shared/common.h"
#include "shared/http_server.h"
#include "shared/log.h"

#define TAKE_BLOCK_MS 1000 /* idle wait; a stop interrupts it (CLIENT UNBLOCK) */
#define UNBLOCK_ROUNDS 200 /* stop: nudge blocked workers for up to 2 s */

typedef struct {
    orgm_workers *owner;
    pthread_t thread;
    bool started;
    qs_redis *redis;
    qs_queue *queue;
    qs_queue *mirror_q;
    long long client_id; /* its Redis connection's CLIENT ID (for CLIENT UNBLOCK), 0 unknown */
    atomic_bool busy;
    atomic_bool exited;
} worker;

struct orgm_workers {
    orgm_ctx *c;
    worker *w;
    size_t n;
    atomic_bool stop;
};

qs_queue_opts orgm_queue_opts(const orgm_settings *s) {
    qs_queue_opts o = QS_QUEUE_OPTS_INIT;
    o.visibility_ms = (long)(s->task_timeout * 1000);
    o.max_attempts = (int)s->max_attempts;
    o.backoff_base_ms = (long)(s->retry_backoff * 1000);
    if (o.backoff_base_ms < 1)
        o.backoff_base_ms = 1;
    o.backoff_max_ms = 300000;
    return o;
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void record(orgm_ctx *c, qs_redis *r, const orgm_task *t, long long gen,
                   const orgm_repo_result *res) {
    json_t *j = orgm_result_json(t->repository, gen, res->decided ? &res->d : NULL, res->outcome,
                                 res->state[0] ? res->state : NULL,
                                 res->outcome == ORGM_OUT_FAILED ? res->error : NULL,
                                 res->tags_queued, now_ms());
    int rc = j ? orgm_store_put_result(r, t->org, t->repository, j) : QS_ENOMEM;
    json_decref(j);
    if (rc != QS_OK)
        qs_log(QS_LOG_ERROR, "cannot record a repository result", "org", t->org, "repository",
               t->repository, "error", qs_strerror(rc), NULL);
    qs_metric_add(c->m_tasks, 1, orgm_outcome_name(res->outcome));
}

static void log_result(const orgm_ctx *c, const orgm_task *t, const orgm_repo_result *res) {
    char changes[300] = "";
    for (size_t i = 0; res->decided && i < res->d.nchanges; i++)
        snprintf(changes + strlen(changes), sizeof changes - strlen(changes), "%s%s", i ? "," : "",
                 res->d.changes[i]);
    char queued[24] = "";
    if (res->tags_queued >= 0)
        snprintf(queued, sizeof queued, "%ld", res->tags_queued);
    bool quiet = res->outcome == ORGM_OUT_UNCHANGED && !c->s->dry_run;
    qs_log(res->outcome == ORGM_OUT_FAILED ? QS_LOG_WARN
           : quiet                         ? QS_LOG_DEBUG
                                           : QS_LOG_INFO,
           c->s->dry_run                     ? "plan"
           : res->outcome == ORGM_OUT_FAILED ? "repository failed"
                                             : "repository reconciled",
           "org", t->org, "repository", t->repository, "action",
           res->decided ? orgm_action_name(res->d.action) : NULL, "outcome",
           orgm_outcome_name(res->outcome), "state", res->state[0] ? res->state : "absent",
           "changes", changes, "tags_queued", queued[0] ? queued : NULL, "reason", t->reason,
           "error", res->outcome == ORGM_OUT_FAILED ? res->error : NULL, NULL);
}

void orgm_worker_handle(orgm_ctx *c, qs_redis *r, qs_queue *q, qs_queue *mirror_q,
                        const qs_task *tk) {
    char err[300] = "";
    orgm_task t;
    json_t *j = json_loads(tk->payload ? tk->payload : "", 0, NULL);
    int rc = orgm_task_from_json(j, &t, err, sizeof err);
    json_decref(j);
    size_t oi = rc == QS_OK ? orgm_ctx_org(c, t.org) : (size_t)-1;
    if (rc == QS_OK && oi == (size_t)-1)
        snprintf(err, sizeof err, "organization %.100s is not mirrored by this deployment", t.org);
    if (oi == (size_t)-1) {
        qs_log(QS_LOG_ERROR, "task dropped", "key", tk->key, "error", err, NULL);
        qs_queue_fail(q, tk->id, err, true, NULL);
        return;
    }
    long long gen = t.gen > 0 ? t.gen : orgm_store_gen(r, t.org);
    if (gen < 0)
        gen = 0;
    orgm_repo_result res;
    if (c->s->mode == ORGM_MODE_COPY)
        orgm_repo_copy(c, oi, &t, mirror_q, &res);
    else
        orgm_repo_mirror(c, oi, &t, &res);
    if (res.outcome != ORGM_OUT_FAILED) {
        record(c, r, &t, gen, &res);
        log_result(c, &t, &res);
        rc = qs_queue_ack(q, tk->id);
        if (rc != QS_OK && rc != QS_ENOTFOUND)
            qs_log(QS_LOG_WARN, "ack failed", "key", tk->key, "error", qs_strerror(rc), NULL);
        return;
    }
    qs_fail_result fr = QS_FAIL_DEAD;
    rc = qs_queue_fail(q, tk->id, res.error, !res.retry, &fr);
    if (rc == QS_OK && fr == QS_FAIL_RETRY) {
        char att[16];
        snprintf(att, sizeof att, "%d", tk->attempts);
        qs_log(QS_LOG_WARN, "repository failed, will retry", "org", t.org, "repository",
               t.repository, "attempt", att, "error", res.error, NULL);
        return;
    }
    if (rc == QS_OK && fr == QS_FAIL_SUPERSEDED)
        return; /* a newer task for this repository is waiting: its result will count */
    record(c, r, &t, gen, &res);
    log_result(c, &t, &res);
}

static void *run(void *arg) {
    worker *wk = arg;
    orgm_workers *ws = wk->owner;
    while (!atomic_load(&ws->stop)) {
        qs_task t;
        int rc = qs_queue_take(wk->queue, TAKE_BLOCK_MS, &t);
        if (rc == QS_ENOTFOUND)
            continue;
        if (rc != QS_OK) {
            qs_log(QS_LOG_WARN, "cannot take tasks (Redis)", "error", qs_strerror(rc), NULL);
            for (int i = 0; i < 10 && !atomic_load(&ws->stop); i++)
                qs_sleep_or_shutdown(0.1);
            continue;
        }
        atomic_store(&wk->busy, true);
        orgm_worker_handle(ws->c, wk->redis, wk->queue, wk->mirror_q, &t);
        atomic_store(&wk->busy, false);
        qs_task_clear(&t);
    }
    atomic_store(&wk->exited, true);
    return NULL;
}

/* The connection's CLIENT ID, or 0. */
static long long client_id(qs_redis *r) {
    redisReply *rep = qs_redis_cmd(r, "CLIENT ID");
    long long id = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0;
    if (rep)
        freeReplyObject(rep);
    return id;
}

/* End the blocking takes of the idle workers that have not exited yet, over `ctl`, until every
 * one has (busy ones finish their task first). Gives up when Redis refuses CLIENT UNBLOCK (an
 * ACL without it): those workers then notice the stop within TAKE_BLOCK_MS. */
static void unblock_idle(orgm_workers *ws, qs_redis *ctl) {
    for (int round = 0; ctl && round < UNBLOCK_ROUNDS; round++) {
        bool waiting = false;
        for (size_t i = 0; i < ws->n; i++) {
            worker *wk = &ws->w[i];
            if (!wk->started || atomic_load(&wk->exited) || atomic_load(&wk->busy) ||
                wk->client_id <= 0)
                continue;
            waiting = true;
            redisReply *rep = qs_redis_cmd(ctl, "CLIENT UNBLOCK %lld ERROR", wk->client_id);
            bool refused = !rep || rep->type == REDIS_REPLY_ERROR;
            if (rep)
                freeReplyObject(rep);
            if (refused)
                return;
        }
        if (!waiting)
            return;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

orgm_workers *orgm_workers_start(orgm_ctx *c, const char *consumer, char *err, size_t errlen) {
    err[0] = '\0';
    orgm_workers *ws = calloc(1, sizeof *ws);
    if (!ws || !(ws->w = calloc((size_t)c->s->workers, sizeof *ws->w))) {
        free(ws);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ws->c = c;
    ws->n = (size_t)c->s->workers;
    qs_queue_opts qo = orgm_queue_opts(c->s);
    for (size_t i = 0; i < ws->n; i++) {
        worker *wk = &ws->w[i];
        wk->owner = ws;
        char name[200];
        snprintf(name, sizeof name, "%s-w%zu", consumer, i);
        wk->redis = qs_redis_new(c->s->redis_url, err, errlen);
        wk->queue = wk->redis
                        ? qs_queue_open(wk->redis, c->s->queue_name, ORGM_WORKER_GROUP, name, &qo)
                        : NULL;
        wk->client_id = wk->queue ? client_id(wk->redis) : 0;
        if (wk->queue && c->s->mode == ORGM_MODE_COPY)
            wk->mirror_q =
                qs_queue_open(wk->redis, c->s->mirror_queue, ORGM_MIRROR_GROUP, name, NULL);
        if (!wk->queue || (c->s->mode == ORGM_MODE_COPY && !wk->mirror_q) ||
            pthread_create(&wk->thread, NULL, run, wk) != 0) {
            if (!*err)
                snprintf(err, errlen, "cannot start worker %zu", i);
            orgm_workers_stop(ws, 0);
            return NULL;
        }
        wk->started = true;
    }
    return ws;
}

void orgm_workers_stop(orgm_workers *ws, double grace_s) {
    if (!ws)
        return;
    atomic_store(&ws->stop, true);
    /* the idle ones leave their blocking take at once */
    char err[256];
    qs_redis *ctl = qs_redis_new(ws->c->s->redis_url, err, sizeof err);
    unblock_idle(ws, ctl);
    qs_redis_free(ctl);
    /* a task takes a few Quay calls: wait for the busy ones, up to the grace period */
    for (long waited = 0; waited < (long)(grace_s * 1000); waited += 50) {
        bool busy = false;
        for (size_t i = 0; i < ws->n; i++)
            busy |= atomic_load(&ws->w[i].busy);
        if (!busy)
            break;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i < ws->n; i++) {
        worker *wk = &ws->w[i];
        if (wk->started)
            pthread_join(wk->thread, NULL);
        qs_queue_free(wk->mirror_q);
        qs_queue_free(wk->queue);
        qs_redis_free(wk->redis);
    }
    free(ws->w);
    free(ws);
}
