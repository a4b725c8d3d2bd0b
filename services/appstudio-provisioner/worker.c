/* worker.c — the provisioning workers.
 *
 * Each worker thread owns a Redis connection and a queue consumer, so workers in any number
 * of processes share the queue (more replicas = more workers). A worker takes a task, reads
 * the record it names, runs it (provision.c) and records the outcome on the record with a
 * compare-and-set (store.c): finished runs set the observed generation and the state; a run
 * that must be retried records its reason as progress and goes back to the queue, which
 * retries it with exponential backoff (RETRY_BACKOFF doubling up to RETRY_BACKOFF_MAX) and
 * after MAX_ATTEMPTS dead-letters it — the component is then marked failed with the last
 * reason. A deleted component's record, and a deleted workspace's, are removed when their
 * run is done.
 *
 * A task in progress is kept alive: the gauge thread extends every worker's current task
 * every TASK_VISIBILITY_MS / 3 (through a queue handle of its own under the worker's consumer
 * name), so a slow run is never reclaimed by another worker while it still runs, and a
 * crashed process's tasks are reclaimed within TASK_VISIBILITY_MS. At shutdown, a run still
 * going after the grace period is abandoned: its task is handed back for a retry at once
 * (not left to the visibility timeout), and the objects it may still use are not freed.
 *
 * Metrics: provisioner_runs_total{kind,result}, provisioner_provisioning_seconds (from the
 * request to "ready" of the generation asked for), provisioner_components{state} (refreshed
 * every 2 s and after each run from the state index). */
#include "appstudio-provisioner/worker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "appstudio-provisioner/store.h"
#include "shared/common.h"
#include "shared/http_server.h"
#include "shared/log.h"
#include "shared/metrics.h"
#include "shared/redis.h"
#include "shared/ttl_cache.h"

#define TAKE_BLOCK_MS 300          /* idle poll; also how soon a stop is noticed */
#define TASK_VISIBILITY_MS 120000L /* a task not extended this long is reclaimed */

typedef struct {
    prov_workers *owner;
    pthread_t thread;
    qs_redis *redis;
    qs_queue *queue;
    prov_env env;
    char consumer[160];
    bool started;
    volatile bool finished;
    pthread_mutex_t mu;  /* guards `current` */
    char *current;       /* id of the task being run, NULL when idle */
    qs_queue *keepalive; /* on the gauge thread's connection, same consumer name */
} worker;

struct prov_workers {
    worker *w;
    size_t n;
    volatile bool stop;
    pthread_t gauges;
    bool gauges_started;
    qs_redis *gauge_redis;
};

static qs_metric *m_runs, *m_latency, *m_components;

static void metrics_declare(void) {
    m_runs = qs_counter("provisioner_runs_total", "Task runs, by kind and result.", "kind,result");
    m_latency = qs_histogram("provisioner_provisioning_seconds",
                             "Time from a component request to its ready state.", NULL, NULL, 0);
    m_components = qs_gauge("provisioner_components", "Components, by state.", "state");
}

static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;
static void metrics_init(void) { pthread_once(&metrics_once, metrics_declare); }

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void refresh_gauges(qs_redis *r) {
    long long counts[4];
    if (prov_store_count_states(r, counts) != QS_OK)
        return;
    for (size_t i = 0; i < 4; i++)
        qs_metric_set(m_components, (double)counts[i], PROV_STATES[i]);
}

qs_queue_opts prov_queue_opts(const prov_settings *s) {
    qs_queue_opts o = QS_QUEUE_OPTS_INIT;
    o.visibility_ms = TASK_VISIBILITY_MS;
    o.max_attempts = (int)s->max_attempts;
    o.backoff_base_ms = (long)(s->retry_backoff * 1000);
    o.backoff_max_ms = (long)(s->retry_backoff_max * 1000);
    return o;
}

/* ---- recording outcomes ---- */

typedef struct {
    long long gen;
    const prov_run *run;
    prov_outcome outcome;
    const char *message;
    long long requested_ms; /* out: of the record written */
    bool ready_now;         /* out: the record is ready at the generation asked for */
} outcome_ctx;

static int record_outcome(prov_component *c, void *ctx) {
    outcome_ctx *o = ctx;
    if (c->rev == 0)
        return QS_ENOTFOUND; /* deleted meanwhile */
    prov_outcome_apply(c, o->gen, o->outcome, o->message);
    if (o->outcome == PROV_OUT_READY) {
        c->rotated = o->run->rotated > c->rotated ? o->run->rotated : c->rotated;
        if (o->run->tokens_new || !c->generated_at[0])
            prov_timestamp(now_ms() / 1000, c->generated_at);
    }
    if (o->run->is_public >= 0)
        c->is_public = o->run->is_public;
    if (o->run->announced)
        c->announced = true;
    o->requested_ms = c->requested_ms;
    o->ready_now = o->outcome == PROV_OUT_READY && c->generation == o->gen && !c->deleting;
    return QS_OK;
}

static int remove_if_deleting(prov_component *c, void *ctx) {
    QS_UNUSED(ctx);
    if (c->rev == 0)
        return QS_OK;
    return c->deleting ? PROV_STORE_REMOVE : QS_ENOTFOUND;
}

typedef struct {
    long long gen;
    prov_outcome outcome;
    const char *message;
} ws_outcome_ctx;

static int record_ws_outcome(prov_workspace *w, void *ctx) {
    ws_outcome_ctx *o = ctx;
    if (w->rev == 0)
        return QS_ENOTFOUND;
    prov_workspace_outcome(w, o->gen, o->outcome, o->message);
    return QS_OK;
}

static int remove_ws_if_deleting(prov_workspace *w, void *ctx) {
    QS_UNUSED(ctx);
    if (w->rev == 0)
        return QS_OK;
    return w->deleting ? PROV_STORE_REMOVE : QS_ENOTFOUND;
}

/* Hand a task back for a retry; when the queue gives up, the record is failed. */
static void retry_later(const prov_env *env, qs_queue *q, const qs_task *task, const prov_task *t,
                        long long gen, const char *message) {
    qs_fail_result fr = QS_FAIL_RETRY;
    qs_queue_fail(q, task->id, message, false, &fr);
    char attempts[16];
    snprintf(attempts, sizeof attempts, "%d", task->attempts);
    qs_log(QS_LOG_WARN, "run failed, will retry", "workspace", t->workspace, "component",
           t->component, "attempt", attempts, "error", message, "next",
           fr == QS_FAIL_DEAD ? "give up" : "retry", NULL);
    if (fr != QS_FAIL_DEAD)
        return;
    char msg[PROV_MSG_LEN];
    snprintf(msg, sizeof msg, "gave up after %d attempts: %.400s", task->attempts, message);
    if (t->kind == PROV_TASK_COMPONENT) {
        prov_run none = {.is_public = -1};
        outcome_ctx o = {gen, &none, PROV_OUT_FAILED, msg, 0, false};
        prov_store_component_update(env->redis, t->workspace, t->component, record_outcome, &o,
                                    NULL);
    } else {
        ws_outcome_ctx o = {gen, PROV_OUT_FAILED, msg};
        prov_store_workspace_update(env->redis, t->workspace, record_ws_outcome, &o, NULL);
    }
}

static const char *const result_names[] = {"done", "failed", "retry", "removed"};

static void run_component(const prov_env *env, qs_queue *q, const qs_task *task,
                          const prov_task *t) {
    prov_component *c = malloc(sizeof *c);
    if (!c || prov_store_component_load(env->redis, t->workspace, t->component, c) != QS_OK) {
        free(c);
        qs_queue_fail(q, task->id, "redis: cannot read the component", false, NULL);
        return;
    }
    prov_run run;
    prov_component_run(env, c, &run);
    qs_metric_add(m_runs, 1, c->deleting ? "delete" : "component", result_names[run.result]);
    int rc = QS_OK;
    if (run.result == PROV_RUN_DONE && c->deleting) {
        rc = prov_store_component_update(env->redis, t->workspace, t->component, remove_if_deleting,
                                         NULL, NULL);
    } else if (run.result == PROV_RUN_DONE || run.result == PROV_RUN_FAILED ||
               run.result == PROV_RUN_RETRY) {
        prov_outcome out = run.result == PROV_RUN_DONE     ? PROV_OUT_READY
                           : run.result == PROV_RUN_FAILED ? PROV_OUT_FAILED
                                                           : PROV_OUT_RETRYING;
        outcome_ctx o = {c->generation, &run, out, run.message, 0, false};
        rc = prov_store_component_update(env->redis, t->workspace, t->component, record_outcome, &o,
                                         NULL);
        if (o.ready_now && o.requested_ms > 0)
            qs_metric_observe(m_latency, (double)(now_ms() - o.requested_ms) / 1000.0);
        if (out == PROV_OUT_READY && rc == QS_OK)
            qs_log(QS_LOG_INFO, "component ready", "workspace", t->workspace, "component",
                   t->component, "image", c->names.image, NULL);
        else if (out == PROV_OUT_FAILED)
            qs_log(QS_LOG_WARN, "component failed", "workspace", t->workspace, "component",
                   t->component, "error", run.message, NULL);
    }
    if (rc == QS_ENOTFOUND)
        rc = QS_OK; /* deleted or changed beyond our concern meanwhile */
    if (run.result == PROV_RUN_RETRY)
        retry_later(env, q, task, t, c->generation, run.message);
    else if (rc != QS_OK)
        qs_queue_fail(q, task->id, "redis: cannot record the outcome", false, NULL);
    else
        qs_queue_ack(q, task->id);
    free(c);
}

static void run_workspace(const prov_env *env, qs_queue *q, const qs_task *task,
                          const prov_task *t) {
    prov_workspace w;
    if (prov_store_workspace_load(env->redis, t->workspace, &w) != QS_OK) {
        qs_queue_fail(q, task->id, "redis: cannot read the workspace", false, NULL);
        return;
    }
    prov_run run;
    prov_workspace_run(env, &w, &run);
    qs_metric_add(m_runs, 1, w.deleting ? "workspace-delete" : "workspace",
                  result_names[run.result]);
    int rc = QS_OK;
    if (run.result == PROV_RUN_DONE && w.deleting) {
        rc = prov_store_workspace_update(env->redis, t->workspace, remove_ws_if_deleting, NULL,
                                         NULL);
    } else if (run.result != PROV_RUN_REMOVED) {
        prov_outcome out = run.result == PROV_RUN_DONE     ? PROV_OUT_READY
                           : run.result == PROV_RUN_FAILED ? PROV_OUT_FAILED
                                                           : PROV_OUT_RETRYING;
        ws_outcome_ctx o = {w.generation, out, run.message};
        rc = prov_store_workspace_update(env->redis, t->workspace, record_ws_outcome, &o, NULL);
    }
    if (rc == QS_ENOTFOUND)
        rc = QS_OK;
    if (run.result == PROV_RUN_RETRY)
        retry_later(env, q, task, t, w.generation, run.message);
    else if (rc != QS_OK)
        qs_queue_fail(q, task->id, "redis: cannot record the outcome", false, NULL);
    else
        qs_queue_ack(q, task->id);
}

void prov_handle_task(const prov_env *env, qs_queue *q, const qs_task *task) {
    metrics_init();
    prov_task t;
    char err[256] = "";
    json_t *j = json_loads(task->payload ? task->payload : "", 0, NULL);
    int rc = prov_task_from_json(j, &t, err, sizeof err);
    json_decref(j);
    if (rc != QS_OK) {
        qs_log(QS_LOG_WARN, "invalid task dropped", "error", err, NULL);
        qs_queue_fail(q, task->id, err, true, NULL);
        return;
    }
    if (t.kind == PROV_TASK_COMPONENT)
        run_component(env, q, task, &t);
    else
        run_workspace(env, q, task, &t);
    refresh_gauges(env->redis);
}

/* ---- threads ---- */

static void set_current(worker *wk, const char *id) {
    pthread_mutex_lock(&wk->mu);
    free(wk->current);
    wk->current = id ? strdup(id) : NULL;
    pthread_mutex_unlock(&wk->mu);
}

static void *run(void *arg) {
    worker *wk = arg;
    while (!wk->owner->stop && !qs_shutdown_requested()) {
        qs_task task = {0};
        int rc = qs_queue_take(wk->queue, TAKE_BLOCK_MS, &task);
        if (rc == QS_OK && task.id) {
            set_current(wk, task.id);
            prov_handle_task(&wk->env, wk->queue, &task);
            set_current(wk, NULL);
        } else if (rc != QS_OK && rc != QS_ENOTFOUND) {
            qs_sleep_or_shutdown(1.0); /* Redis unavailable: do not spin */
        }
        qs_task_clear(&task);
    }
    wk->finished = true;
    return NULL;
}

/* Extend (or, at an abandoning shutdown, hand back) every worker's current task. */
static void each_current(prov_workers *ws, bool give_back) {
    for (size_t i = 0; i < ws->n; i++) {
        worker *wk = &ws->w[i];
        if (!wk->keepalive)
            continue;
        pthread_mutex_lock(&wk->mu);
        char *id = wk->current ? strdup(wk->current) : NULL;
        pthread_mutex_unlock(&wk->mu);
        if (id && give_back)
            qs_queue_fail(wk->keepalive, id, "abandoned at shutdown", false, NULL);
        else if (id)
            qs_queue_extend(wk->keepalive, id);
        free(id);
    }
}

static void *gauges(void *arg) {
    prov_workers *ws = arg;
    double extended = qs_now_mono();
    while (!ws->stop && !qs_shutdown_requested()) {
        refresh_gauges(ws->gauge_redis);
        if (qs_now_mono() - extended >= TASK_VISIBILITY_MS / 3000.0) {
            each_current(ws, false);
            extended = qs_now_mono();
        }
        for (int i = 0; i < 20 && !ws->stop; i++)
            qs_sleep_or_shutdown(0.1);
    }
    return NULL;
}

prov_workers *prov_workers_start(const prov_settings *s, qs_quay *quay, qs_kube *kube,
                                 const char *consumer_prefix, char *err, size_t errlen) {
    metrics_init();
    prov_workers *ws = calloc(1, sizeof *ws);
    if (!ws || !(ws->w = calloc((size_t)s->workers, sizeof *ws->w))) {
        free(ws);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    qs_queue_opts qo = prov_queue_opts(s);
    for (size_t i = 0; i < (size_t)s->workers; i++) {
        worker *wk = &ws->w[i];
        wk->owner = ws;
        pthread_mutex_init(&wk->mu, NULL);
        snprintf(wk->consumer, sizeof wk->consumer, "%s-%zu", consumer_prefix, i);
        wk->redis = qs_redis_new(s->redis_url, err, errlen);
        wk->queue =
            wk->redis ? qs_queue_open(wk->redis, PROV_QUEUE, PROV_GROUP, wk->consumer, &qo) : NULL;
        wk->env = (prov_env){s, quay, kube, wk->redis, wk->queue};
        if (!wk->queue || pthread_create(&wk->thread, NULL, run, wk) != 0) {
            if (!err[0])
                snprintf(err, errlen, "cannot start worker %zu", i);
            qs_queue_free(wk->queue);
            qs_redis_free(wk->redis);
            ws->n = i;
            prov_workers_stop(ws, 10);
            return NULL;
        }
        wk->started = true;
        ws->n = i + 1;
    }
    ws->gauge_redis = qs_redis_new(s->redis_url, err, errlen);
    for (size_t i = 0; ws->gauge_redis && i < ws->n; i++)
        ws->w[i].keepalive =
            qs_queue_open(ws->gauge_redis, PROV_QUEUE, PROV_GROUP, ws->w[i].consumer, &qo);
    ws->gauges_started = ws->gauge_redis && pthread_create(&ws->gauges, NULL, gauges, ws) == 0;
    return ws;
}

bool prov_workers_stop(prov_workers *ws, double grace_s) {
    if (!ws)
        return true;
    ws->stop = true;
    if (ws->gauges_started)
        pthread_join(ws->gauges, NULL);
    ws->gauges_started = false;
    for (long waited_ms = 0;; waited_ms += 50) {
        size_t running = 0;
        for (size_t i = 0; i < ws->n; i++)
            running += ws->w[i].started && !ws->w[i].finished;
        if (running == 0)
            break;
        if ((double)waited_ms >= grace_s * 1000) {
            /* the runs' threads still use their connections and the Quay and Kubernetes
             * clients: nothing of theirs is freed; the process is about to exit */
            each_current(ws, true);
            char n[24];
            snprintf(n, sizeof n, "%zu", running);
            qs_log(QS_LOG_WARN, "grace period over: runs abandoned, their tasks handed back",
                   "runs", n, NULL);
            return false;
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i < ws->n; i++) {
        if (ws->w[i].started)
            pthread_join(ws->w[i].thread, NULL);
        qs_queue_free(ws->w[i].keepalive);
        qs_queue_free(ws->w[i].queue);
        qs_redis_free(ws->w[i].redis);
        free(ws->w[i].current);
        pthread_mutex_destroy(&ws->w[i].mu);
    }
    qs_redis_free(ws->gauge_redis);
    free(ws->w);
    free(ws);
    return true;
}

/* ---- the startup sweep ---- */

long prov_sweep(qs_redis *r, qs_queue *q) {
    char **wss = NULL;
    size_t nws = 0;
    redisReply *rep = qs_redis_cmd(r, "SMEMBERS prov:workspaces");
    if (!rep || rep->type != REDIS_REPLY_ARRAY) {
        if (rep)
            freeReplyObject(rep);
        return QS_EUNAVAIL;
    }
    nws = rep->elements;
    wss = calloc(nws + 1, sizeof *wss);
    for (size_t i = 0; wss && i < nws; i++)
        wss[i] = strdup(rep->element[i]->str ? rep->element[i]->str : "");
    freeReplyObject(rep);
    if (!wss)
        return QS_ENOMEM;
    long queued = 0;
    prov_component *c = malloc(sizeof *c);
    for (size_t i = 0; c && i < nws; i++) {
        prov_workspace w;
        prov_task t = {.kind = PROV_TASK_WORKSPACE};
        snprintf(t.workspace, sizeof t.workspace, "%s", wss[i]);
        if (prov_store_workspace_load(r, wss[i], &w) == QS_OK && w.rev > 0 &&
            (w.deleting || w.observed < w.generation) && prov_task_enqueue(q, &t) == QS_OK)
            queued++;
        char **names = NULL;
        size_t n = 0;
        if (prov_store_components(r, wss[i], &names, &n) != QS_OK)
            continue;
        for (size_t k = 0; k < n; k++) {
            t.kind = PROV_TASK_COMPONENT;
            snprintf(t.component, sizeof t.component, "%s", names[k]);
            if (prov_store_component_load(r, wss[i], names[k], c) == QS_OK && c->rev > 0 &&
                (c->deleting || c->observed < c->generation) && prov_task_enqueue(q, &t) == QS_OK)
                queued++;
        }
        prov_store_names_free(names, n);
    }
    free(c);
    prov_store_names_free(wss, nws);
    return queued;
}
