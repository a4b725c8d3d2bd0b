/* controller.c — comparing sources with the destination and queueing what differs.
 *
 * A pass collects every wanted mirror (sources.c), drops duplicates by destination (the first
 * source wins: config entries before cluster ones), then compares digests with HEAD requests
 * carrying the full Accept list — the digest of what would be copied: the whole list when
 * lists are kept, the linux/amd64 child otherwise. Comparisons run on COMPARE_THREADS threads
 * because a pass over thousands of tags is bounded by request latency, not bandwidth; the
 * registry clients are shared, so connections and tokens are reused.
 *
 * Equal → nothing is queued (a second pass after a sync queues nothing). Source missing →
 * skipped and logged. A schema 1 source → refused with its reason and not queued, so it never
 * loops through the queue. Different → a task keyed by its destination: a newer task for the
 * same destination replaces the waiting one (queue.h).
 *
 * The config file is re-read when its mtime changes, checked every CONFIG_POLL_S; a config
 * with errors is reported (all errors together) and the previous good one stays in force. */
#include "mirror/controller.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "mirror/mirror_config.h"
#include "mirror/naming.h"
#include "mirror/sources.h"
#include "shared/common.h"
#include "shared/config.h"
#include "shared/http_server.h"
#include "shared/log.h"
#include "shared/metrics.h"
#include "shared/registry.h"

#define COMPARE_THREADS 16
#define CONFIG_POLL_S 10.0

struct mirror_controller {
    const mirror_settings *s;
    mirror_registries *regs;
    qs_kube *kube;
    qs_queue *queue;
    mirror_config *cfg; /* last good config, NULL when none */
    struct timespec cfg_mtime;
    bool have_mtime;
    pthread_t thread;
    bool running;
    bool healthy;
    qs_metric *m_passes;
    qs_metric *m_wanted;
    qs_metric *m_outcomes;
};

mirror_controller *mirror_controller_new(const mirror_settings *s, mirror_registries *regs,
                                         qs_kube *kube, qs_queue *queue) {
    mirror_controller *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->s = s;
    c->regs = regs;
    c->kube = kube;
    c->queue = queue;
    c->m_passes = qs_counter("mirror_sync_passes_total", "Comparison passes, by result.", "result");
    c->m_wanted =
        qs_gauge("mirror_wanted_images", "Images the sources want at the destination.", NULL);
    c->m_outcomes = qs_counter("mirror_compared_total", "Comparisons, by outcome.", "outcome");
    return c;
}

void mirror_controller_free(mirror_controller *c) {
    if (!c)
        return;
    mirror_controller_stop(c);
    mirror_config_free(c->cfg);
    free(c);
}

/* Re-read MIRROR_CONFIG when it changed. Returns the number of errors of a bad new config. */
static int refresh_config(mirror_controller *c) {
    if (!c->s->mirror_config)
        return 0;
    struct stat st;
    if (stat(c->s->mirror_config, &st) != 0) {
        qs_log(QS_LOG_ERROR, "MIRROR_CONFIG cannot be read", "path", c->s->mirror_config, NULL);
        return 1;
    }
    if (c->have_mtime && st.st_mtim.tv_sec == c->cfg_mtime.tv_sec &&
        st.st_mtim.tv_nsec == c->cfg_mtime.tv_nsec)
        return 0;
    mirror_config_opts o = MIRROR_CONFIG_OPTS_INIT;
    o.source_registry = c->s->source_registry;
    o.qci_repository = c->s->destination;
    o.qci_pull_repository = NULL;
    qs_conf *errs = qs_conf_new();
    mirror_config *cfg = NULL;
    size_t n = mirror_config_load(&cfg, c->s->mirror_config, &o, errs);
    for (size_t i = 0; i < n; i++)
        qs_log(QS_LOG_ERROR, "MIRROR_CONFIG invalid", "error", qs_conf_error_at(errs, i), NULL);
    qs_conf_free(errs);
    c->cfg_mtime = st.st_mtim;
    c->have_mtime = true;
    if (n == 0) {
        mirror_config_free(c->cfg);
        c->cfg = cfg;
        qs_log(QS_LOG_INFO, "MIRROR_CONFIG loaded", "path", c->s->mirror_config, NULL);
    }
    return (int)n;
}

/* Keep the first want of every destination. */
static void dedupe(mirror_wants *w) {
    size_t out = 0;
    for (size_t i = 0; i < w->n; i++) {
        bool seen = false;
        for (size_t j = 0; j < out && !seen; j++)
            seen = strcmp(w->v[j].destination, w->v[i].destination) == 0;
        if (!seen)
            w->v[out++] = w->v[i];
    }
    w->n = out;
}

typedef enum { CMP_SYNCED, CMP_QUEUED, CMP_MISSING, CMP_REFUSED, CMP_ERROR } cmp_outcome;

typedef struct {
    mirror_controller *c;
    mirror_wants *wants;
    size_t next; /* atomic index of the next want */
    size_t counts[CMP_ERROR + 1];
    pthread_mutex_t mu;
} pass_ctx;

static const char *jstr(const json_t *o, const char *key) {
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}

/* The digest of what a copy would carry: the list itself, or its linux/amd64 child. */
static int wanted_digest(mirror_controller *c, qs_registry *reg, const mirror_ref *r, char *out,
                         size_t outlen, bool *schema1) {
    qs_manifest m = {0};
    int rc = c->s->keep_lists ? qs_registry_manifest_head(reg, r->repo, mirror_ref_reference(r), &m)
                              : qs_registry_manifest_get(reg, r->repo, mirror_ref_reference(r), &m);
    if (rc == QS_OK) {
        qs_mkind kind = qs_manifest_kind(m.media_type);
        *schema1 = kind == QS_MKIND_SCHEMA1;
        snprintf(out, outlen, "%s", m.digest ? m.digest : "");
        if (!c->s->keep_lists && qs_manifest_kind_is_list(kind)) {
            json_t *j = json_loadb(m.body.data, m.body.len, 0, NULL);
            size_t i;
            json_t *d;
            json_array_foreach(json_object_get(j, "manifests"), i, d) {
                json_t *p = json_object_get(d, "platform");
                if (strcmp(jstr(p, "os"), "linux") == 0 &&
                    strcmp(jstr(p, "architecture"), "amd64") == 0) {
                    snprintf(out, outlen, "%s", jstr(d, "digest"));
                    break;
                }
            }
            json_decref(j);
        }
    }
    qs_manifest_free(&m);
    return rc;
}

static cmp_outcome compare_one(mirror_controller *c, const mirror_want *w) {
    mirror_ref src, dst;
    if (mirror_ref_parse(&src, w->source, "docker.io") != QS_OK ||
        mirror_ref_parse(&dst, w->destination, "docker.io") != QS_OK) {
        qs_log(QS_LOG_WARN, "unusable reference", "source", w->source, "destination",
               w->destination, NULL);
        return CMP_ERROR;
    }
    qs_registry *sreg = mirror_registry_for(c->regs, src.host);
    qs_registry *dreg = mirror_registry_for(c->regs, dst.host);
    if (!sreg || !dreg)
        return CMP_ERROR;
    mirror_task t = {.want = *w};
    bool schema1 = false, dummy = false;
    int rc = wanted_digest(c, sreg, &src, t.source_digest, sizeof t.source_digest, &schema1);
    if (rc == QS_ENOTFOUND) {
        qs_log(QS_LOG_INFO, "source image missing: skipped", "source", w->source, NULL);
        return CMP_MISSING;
    }
    if (rc != QS_OK)
        return CMP_ERROR;
    if (schema1) {
        qs_log(QS_LOG_WARN, "source refused: schema 1 manifests keep no digest across registries",
               "source", w->source, NULL);
        return CMP_REFUSED;
    }
    rc = wanted_digest(c, dreg, &dst, t.current_quay_digest, sizeof t.current_quay_digest, &dummy);
    if (rc != QS_OK && rc != QS_ENOTFOUND)
        return CMP_ERROR;
    if (rc == QS_OK && strcmp(t.current_quay_digest, t.source_digest) == 0)
        return CMP_SYNCED;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(t.created_at, sizeof t.created_at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *payload = mirror_task_to_json(&t);
    char *text = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(payload);
    qs_enqueue_result res;
    rc = text ? qs_queue_enqueue(c->queue, text, w->destination, &res) : QS_ENOMEM;
    free(text);
    if (rc != QS_OK)
        return CMP_ERROR;
    qs_log(QS_LOG_INFO, c->s->dry_run ? "would mirror (dry run: queued for inspection)" : "queued",
           "source", w->source, "destination", w->destination, NULL);
    return CMP_QUEUED;
}

static void *compare_worker(void *arg) {
    pass_ctx *p = arg;
    for (;;) {
        size_t i = __atomic_fetch_add(&p->next, 1, __ATOMIC_SEQ_CST);
        if (i >= p->wants->n || qs_shutdown_requested())
            return NULL;
        cmp_outcome o = compare_one(p->c, &p->wants->v[i]);
        pthread_mutex_lock(&p->mu);
        p->counts[o]++;
        pthread_mutex_unlock(&p->mu);
    }
}

static const char *const outcome_names[] = {"in_sync", "queued", "missing", "refused", "error"};

static void compare_all(mirror_controller *c, mirror_wants *w, mirror_sync_stats *st) {
    pass_ctx p = {.c = c, .wants = w};
    pthread_mutex_init(&p.mu, NULL);
    size_t nthreads = w->n < COMPARE_THREADS ? w->n : COMPARE_THREADS;
    pthread_t th[COMPARE_THREADS];
    size_t started = 0;
    for (; started < nthreads; started++)
        if (pthread_create(&th[started], NULL, compare_worker, &p) != 0)
            break;
    if (started == 0)
        compare_worker(&p);
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&p.mu);
    for (size_t o = 0; o <= CMP_ERROR; o++)
        qs_metric_add(c->m_outcomes, (double)p.counts[o], outcome_names[o]);
    st->in_sync = p.counts[CMP_SYNCED];
    st->queued = p.counts[CMP_QUEUED];
    st->missing = p.counts[CMP_MISSING];
    st->refused = p.counts[CMP_REFUSED];
    st->errors = p.counts[CMP_ERROR];
}

int mirror_controller_sync(mirror_controller *c, mirror_sync_stats *st) {
    memset(st, 0, sizeof *st);
    st->config_errors = refresh_config(c);
    mirror_wants w = {0};
    int rc = mirror_sources_config(c->cfg, c->s, &w);
    int crc = rc == QS_OK ? mirror_sources_cluster(c->kube, c->s, c->cfg, &w) : rc;
    dedupe(&w);
    st->wanted = w.n;
    qs_metric_set(c->m_wanted, (double)w.n);
    compare_all(c, &w, st);
    mirror_wants_free(&w);
    bool ok = rc == QS_OK && crc == QS_OK && st->errors == 0 && st->config_errors == 0;
    qs_metric_add(c->m_passes, 1, ok ? "ok" : "incomplete");
    c->healthy = rc == QS_OK;
    char buf[6][24];
    snprintf(buf[0], 24, "%zu", st->wanted);
    snprintf(buf[1], 24, "%zu", st->in_sync);
    snprintf(buf[2], 24, "%zu", st->queued);
    snprintf(buf[3], 24, "%zu", st->missing);
    snprintf(buf[4], 24, "%zu", st->errors);
    snprintf(buf[5], 24, "%zu", st->refused);
    qs_log(QS_LOG_INFO, "sync pass done", "wanted", buf[0], "in_sync", buf[1], "queued", buf[2],
           "missing", buf[3], "errors", buf[4], "refused", buf[5], NULL);
    return ok ? QS_OK : QS_EUNAVAIL;
}

/* The config changed on disk since the last pass? (Cheap: one stat.) */
static bool config_changed(mirror_controller *c) {
    struct stat st;
    if (!c->s->mirror_config || stat(c->s->mirror_config, &st) != 0)
        return false;
    return !c->have_mtime || st.st_mtim.tv_sec != c->cfg_mtime.tv_sec ||
           st.st_mtim.tv_nsec != c->cfg_mtime.tv_nsec;
}

static void *run(void *arg) {
    mirror_controller *c = arg;
    while (c->running) {
        mirror_sync_stats st;
        mirror_controller_sync(c, &st);
        double waited = 0;
        while (c->running && waited < c->s->sync_interval && !config_changed(c)) {
            double step = c->s->sync_interval - waited < CONFIG_POLL_S
                              ? c->s->sync_interval - waited
                              : CONFIG_POLL_S;
            if (qs_sleep_or_shutdown(step))
                return NULL;
            waited += step;
        }
    }
    return NULL;
}

int mirror_controller_start(mirror_controller *c) {
    c->running = true;
    if (pthread_create(&c->thread, NULL, run, c) != 0) {
        c->running = false;
        return QS_ERR;
    }
    return QS_OK;
}

void mirror_controller_stop(mirror_controller *c) {
    if (c && c->running) {
        c->running = false;
        pthread_join(c->thread, NULL);
    }
}

bool mirror_controller_healthy(mirror_controller *c) { return c->healthy; }
