/* scheduler.c — when runs happen: every organisation's interval, and at once for a repository
 * named by a `repository.created` event.
 *
 * Periodic: once a second the scheduler reads each organisation's status from Redis (written
 * by whichever replica ran it last) and starts a run when its last start is older than the
 * organisation's interval (SYNC_INTERVAL or its override). Replicas all do this; the run lock
 * lets one of them run it, and the shared status keeps the others from trying again until the
 * next interval. A replica that just started runs every organisation at once unless another
 * replica did so recently.
 *
 * Events: the appstudio-provisioner (and anyone else) publishes `repository.created` with
 * {"quay": host, "namespace", "repository"} on QS_EVENTS_STREAM. This deployment reads them
 * in its own consumer group (EVENTS_GROUP, default "org-mirror"): an event whose Quay is the
 * source (host[:port]; a scheme is ignored) and whose namespace is one of the organisations
 * becomes one task on the queue, with no hint, so the worker reads the destination itself.
 * Every event is acked once looked at (unacked ones would come back after 60 s). */
#include "org-mirror/scheduler.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "org-mirror/store.h"
#include "org-mirror/task.h"
#include "org-mirror/worker.h"
#include "shared/common.h"
#include "shared/http_server.h"
#include "shared/log.h"
#include "shared/queue.h"

#define EVENT_BLOCK_MS 1000
#define EVENTS_MAX 32

struct orgm_scheduler {
    orgm_ctx *c;
    orgm_runner *runner;
    atomic_bool stop;
    pthread_t periodic, events;
    bool periodic_started, events_started;
    char consumer[160];
};

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Is organisation `oi` due: never run, or its last run started an interval ago? */
static bool due(orgm_ctx *c, qs_redis *r, size_t oi) {
    json_t *st = NULL;
    int rc = orgm_store_status(r, c->s->orgs.v[oi].name, &st);
    if (rc == QS_ENOTFOUND)
        return true;
    if (rc != QS_OK)
        return false; /* Redis down: the run could not record anything anyway */
    long long start = json_integer_value(json_object_get(st, "last_run_start_ms"));
    bool running = json_is_true(json_object_get(st, "running"));
    json_decref(st);
    int held = 0;
    if (running && orgm_store_locked(r, c->s->orgs.v[oi].name, &held) == QS_OK && held)
        return false;
    return now_ms() - start >= c->s->orgs.v[oi].interval * 1000LL;
}

static void *periodic(void *arg) {
    orgm_scheduler *s = arg;
    char err[256];
    qs_redis *r = qs_redis_new(s->c->s->redis_url, err, sizeof err);
    while (r && !atomic_load(&s->stop)) {
        for (size_t i = 0; i < s->c->s->orgs.n && !atomic_load(&s->stop); i++)
            if (!orgm_runner_busy(s->runner, i) && due(s->c, r, i))
                orgm_run_async(s->runner, i, "schedule");
        for (int k = 0; k < 10 && !atomic_load(&s->stop); k++)
            qs_sleep_or_shutdown(0.1);
    }
    qs_redis_free(r);
    return NULL;
}

bool orgm_event_host_matches(const char *quay, const char *host) {
    if (!quay || !host)
        return false;
    if (strncasecmp(quay, "https://", 8) == 0)
        quay += 8;
    else if (strncasecmp(quay, "http://", 7) == 0)
        quay += 7;
    size_t len = strcspn(quay, "/");
    return len == strlen(host) && strncasecmp(quay, host, len) == 0;
}

/* One event: queue its repository when it is ours. */
static void handle_event(orgm_scheduler *s, qs_queue *q, const qs_event *ev) {
    if (!ev->type || strcmp(ev->type, "repository.created") != 0)
        return;
    const char *quay = json_string_value(json_object_get(ev->data, "quay"));
    const char *ns = json_string_value(json_object_get(ev->data, "namespace"));
    const char *repo = json_string_value(json_object_get(ev->data, "repository"));
    size_t oi = orgm_ctx_org(s->c, ns);
    if (oi == (size_t)-1 || !orgm_event_host_matches(quay, s->c->s->source.host))
        return; /* another Quay or an organisation this deployment does not mirror */
    if (!orgm_repo_name_valid(repo)) {
        qs_log(QS_LOG_WARN, "repository.created event with an unusable repository name", "org", ns,
               NULL);
        return;
    }
    orgm_task t = {0};
    snprintf(t.org, sizeof t.org, "%s", ns);
    snprintf(t.repository, sizeof t.repository, "%s", repo);
    snprintf(t.reason, sizeof t.reason, "event");
    t.is_public = -1;
    char key[600];
    orgm_task_key(&t, key, sizeof key);
    json_t *p = orgm_task_to_json(&t);
    char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    int rc = text ? qs_queue_enqueue(q, text, key, NULL) : QS_ENOMEM;
    free(text);
    qs_log(rc == QS_OK ? QS_LOG_INFO : QS_LOG_ERROR,
           rc == QS_OK ? "repository.created: queued" : "repository.created: cannot queue", "org",
           ns, "repository", repo, "error", rc == QS_OK ? NULL : qs_strerror(rc), NULL);
}

static void *events(void *arg) {
    orgm_scheduler *s = arg;
    char err[256];
    qs_redis *r = qs_redis_new(s->c->s->redis_url, err, sizeof err);
    qs_queue_opts qo = orgm_queue_opts(s->c->s);
    char name[200];
    snprintf(name, sizeof name, "%s-events", s->consumer);
    qs_queue *q = r ? qs_queue_open(r, s->c->s->queue_name, ORGM_WORKER_GROUP, name, &qo) : NULL;
    while (q && !atomic_load(&s->stop)) {
        qs_event ev[EVENTS_MAX];
        size_t n = 0;
        int rc = qs_events_read(r, QS_EVENTS_STREAM, s->c->s->events_group, s->consumer,
                                EVENT_BLOCK_MS, ev, EVENTS_MAX, &n);
        if (rc != QS_OK) {
            for (int k = 0; k < 10 && !atomic_load(&s->stop); k++)
                qs_sleep_or_shutdown(0.1);
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            handle_event(s, q, &ev[i]);
            qs_events_ack(r, QS_EVENTS_STREAM, s->c->s->events_group, ev[i].id);
        }
        qs_events_free(ev, n);
    }
    qs_queue_free(q);
    qs_redis_free(r);
    return NULL;
}

orgm_scheduler *orgm_scheduler_start(orgm_ctx *c, orgm_runner *runner, const char *consumer) {
    orgm_scheduler *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->c = c;
    s->runner = runner;
    snprintf(s->consumer, sizeof s->consumer, "%s", consumer);
    s->periodic_started = pthread_create(&s->periodic, NULL, periodic, s) == 0;
    s->events_started = pthread_create(&s->events, NULL, events, s) == 0;
    if (!s->periodic_started || !s->events_started) {
        orgm_scheduler_stop(s);
        return NULL;
    }
    return s;
}

void orgm_scheduler_stop(orgm_scheduler *s) {
    if (!s)
        return;
    atomic_store(&s->stop, true);
    if (s->periodic_started)
        pthread_join(s->periodic, NULL);
    if (s->events_started)
        pthread_join(s->events, NULL);
    free(s);
}
