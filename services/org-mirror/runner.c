/* runner.c — one organisation's run, coordinated by whichever replica takes its lock.
 *
 * A run: take the organisation's lock (Redis SET NX PX, so one run at a time across replicas);
 * read the results counter, then INCR the generation G; list and check (listing.c); queue one
 * task per source repository, carrying G (dedupe key "<org>/<repo>", so a repository is never
 * queued twice and never worked on by two workers at once); then wait until every listed
 * repository has a result recorded with a generation ≥ G (a worker records its task's
 * generation, or — for a task without one, an event's — the generation it read before it
 * started, so such a result reflects the destination after the run began). The wait polls the
 * cheap counter every 10 ms and reads the results only when enough have arrived (or every
 * 2 s), so a 1000-repository run costs a few hundred small Redis reads. The counts come from those
 * results, and the organisation's status (store.c) is written for every replica's API to serve.
 *
 * Why counting in Redis rather than in the process: the tasks are taken by any replica's
 * workers, a task's payload may have been replaced by a newer one (an event for the same
 * repository), and a restarted replica finds the tasks still queued — only the results, with
 * their generations, tell reliably what this run covered.
 *
 * A changed source account (QUAY_USERNAME_FILE / QUAY_PASSWORD_FILE rotated — Quay never
 * shows the password, so no comparison of configs can see it) is noticed by its fingerprint:
 * an HMAC of "user\0password" keyed with the organisation's destination token, kept in Redis
 * (store.c) once a run has written or checked every config without a failure. When the
 * account's fingerprint differs from the stored one, the run's tasks carry `recreate` and every
 * config is PUT again, as with RECREATE_MIRROR_CONFIG for that one run. (A rotated destination
 * token changes the fingerprint too: one run of PUTs, harmless.) No fingerprint stored yet (a
 * new Redis) means nothing to compare: that run stores one.
 *
 * A run ends early on shutdown (its tasks stay queued and are done by whoever is left) or at
 * RUN_TIMEOUT (reported with the number still pending). The lock is extended while waiting
 * and released at the end; a crashed coordinator's lock expires after RUN_TIMEOUT + 60 s. */
#include "org-mirror/runner.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "org-mirror/listing.h"
#include "org-mirror/plan.h"
#include "org-mirror/store.h"
#include "org-mirror/task.h"
#include "org-mirror/worker.h"
#include "shared/common.h"
#include "shared/digest.h"
#include "shared/http_server.h"
#include "shared/log.h"

#define POLL_S 0.01
#define FULL_CHECK_MS 2000
#define EXTEND_MS 10000

struct orgm_runner {
    orgm_ctx *c;
    atomic_bool *busy;
    pthread_t *threads;
    bool *joinable;
    pthread_mutex_t mu;
};

typedef struct {
    orgm_runner *r;
    size_t oi;
    char why[32];
} async_arg;

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static json_t *iso(long long ms) {
    char d[ORGM_DATE_LEN + 1];
    orgm_format_date((time_t)(ms / 1000), d);
    return json_string(d);
}

orgm_runner *orgm_runner_new(orgm_ctx *c) {
    orgm_runner *r = calloc(1, sizeof *r);
    size_t n = c->s->orgs.n ? c->s->orgs.n : 1;
    if (!r || !(r->busy = calloc(n, sizeof *r->busy)) ||
        !(r->threads = calloc(n, sizeof *r->threads)) ||
        !(r->joinable = calloc(n, sizeof *r->joinable))) {
        if (r) {
            free(r->busy);
            free(r->threads);
        }
        free(r);
        return NULL;
    }
    r->c = c;
    pthread_mutex_init(&r->mu, NULL);
    return r;
}

void orgm_runner_free(orgm_runner *r) {
    if (!r)
        return;
    for (size_t i = 0; i < r->c->s->orgs.n; i++)
        if (r->joinable[i])
            pthread_join(r->threads[i], NULL);
    pthread_mutex_destroy(&r->mu);
    free(r->busy);
    free(r->threads);
    free(r->joinable);
    free(r);
}

bool orgm_runner_busy(orgm_runner *r, size_t oi) { return atomic_load(&r->busy[oi]); }

/* The status object every API serves (see proto/org-mirror.openapi.yaml, OrgStatus). */
static json_t *status_json(orgm_ctx *c, size_t oi, long long gen, long long start_ms,
                           long long end_ms, const char *result, const orgm_counts *counts,
                           long source, long destination, long pending, const char *error) {
    const orgm_org *o = &c->s->orgs.v[oi];
    json_t *s = json_pack(
        "{s:s,s:s,s:s,s:b,s:b,s:I,s:s,s:o,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:o}",
        "organization", o->name, "destination_organization", o->destination, "mode",
        c->s->mode == ORGM_MODE_COPY ? "copy" : "mirror", "dry_run", c->s->dry_run, "running",
        end_ms == 0, "generation", (json_int_t)gen, "result", result, "source",
        source >= 0 ? json_integer(source) : json_null(), "destination",
        destination >= 0 ? json_integer(destination) : json_null(), "created",
        (json_int_t)counts->n[ORGM_OUT_CREATED], "configured",
        (json_int_t)counts->n[ORGM_OUT_CONFIGURED], "updated",
        (json_int_t)counts->n[ORGM_OUT_UPDATED], "unchanged",
        (json_int_t)counts->n[ORGM_OUT_UNCHANGED], "skipped",
        (json_int_t)counts->n[ORGM_OUT_SKIPPED], "failed", (json_int_t)counts->n[ORGM_OUT_FAILED],
        "pending", (json_int_t)pending, "last_run_start", iso(start_ms), "last_run_end",
        end_ms ? iso(end_ms) : json_null(), "last_run_duration_seconds",
        end_ms ? json_real((double)(end_ms - start_ms) / 1000.0) : json_null(), "last_error",
        error && *error ? json_string(error) : json_null());
    if (s)
        json_object_set_new(s, "last_run_start_ms", json_integer(start_ms));
    return s;
}

/* Queue one task per source repository, with the destination listing's hint. The tasks are
 * queued by ENQUEUE_THREADS connections at once: a single producer is slower than the workers
 * draining the queue, and starved workers waiting on the stream all wake up at every entry. */
#define ENQUEUE_THREADS 4

typedef struct {
    orgm_ctx *c;
    size_t oi, k;
    const orgm_listing *l;
    long long gen; /* the run's generation, carried by every task */
    json_t *done;  /* names queued by this thread */
    int rc;
    bool recreate; /* the source account changed: every config is PUT */
} enqueue_job;

static void task_for(const orgm_ctx *c, size_t oi, const orgm_listing *l, const char *repo,
                     long long gen, bool recreate, orgm_task *t) {
    memset(t, 0, sizeof *t);
    t->recreate = recreate;
    snprintf(t->org, sizeof t->org, "%s", c->s->orgs.v[oi].name);
    snprintf(t->reason, sizeof t->reason, "run");
    snprintf(t->repository, sizeof t->repository, "%s", repo);
    t->is_public = -1;
    t->gen = gen;
    if (!l->destination)
        return;
    const json_t *d = json_object_get(l->destination, repo);
    t->state_known = true;
    snprintf(t->state, sizeof t->state, "%s",
             d ? json_string_value(json_object_get(d, "state")) : "");
    const json_t *pub = json_object_get(d, "is_public");
    t->is_public = json_is_boolean(pub) ? json_is_true(pub) : -1;
}

static void *enqueue_part(void *arg) {
    enqueue_job *j = arg;
    char err[256], consumer[200], host[64] = "host";
    gethostname(host, sizeof host - 1);
    snprintf(consumer, sizeof consumer, "%s-%d-run-%s-%zu", host, (int)getpid(),
             j->c->s->orgs.v[j->oi].name, j->k);
    qs_queue_opts qo = orgm_queue_opts(j->c->s);
    qs_redis *r = qs_redis_new(j->c->s->redis_url, err, sizeof err);
    qs_queue *q =
        r ? qs_queue_open(r, j->c->s->queue_name, ORGM_WORKER_GROUP, consumer, &qo) : NULL;
    j->rc = q ? QS_OK : QS_EUNAVAIL;
    size_t n = json_array_size(j->l->source);
    for (size_t i = j->k; q && j->rc == QS_OK && i < n; i += ENQUEUE_THREADS) {
        const char *repo = json_string_value(json_array_get(j->l->source, i));
        if (!orgm_repo_name_valid(repo)) {
            qs_log(QS_LOG_WARN, "source repository name not usable; skipped", "org",
                   j->c->s->orgs.v[j->oi].name, "repository", repo, NULL);
            continue;
        }
        orgm_task t;
        task_for(j->c, j->oi, j->l, repo, j->gen, j->recreate, &t);
        char key[600];
        orgm_task_key(&t, key, sizeof key);
        json_t *p = orgm_task_to_json(&t);
        char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
        json_decref(p);
        j->rc = text ? qs_queue_enqueue(q, text, key, NULL) : QS_ENOMEM;
        free(text);
        if (j->rc == QS_OK)
            json_array_append_new(j->done, json_string(repo));
    }
    qs_queue_free(q);
    qs_redis_free(r);
    return NULL;
}

static int enqueue_all(orgm_ctx *c, size_t oi, const orgm_listing *l, long long gen, bool recreate,
                       json_t *expected, char *err, size_t errlen) {
    enqueue_job jobs[ENQUEUE_THREADS];
    pthread_t t[ENQUEUE_THREADS];
    bool started[ENQUEUE_THREADS];
    int rc = QS_OK;
    for (size_t k = 0; k < ENQUEUE_THREADS; k++) {
        jobs[k] = (enqueue_job){c, oi, k, l, gen, json_array(), QS_OK, recreate};
        started[k] = pthread_create(&t[k], NULL, enqueue_part, &jobs[k]) == 0;
        if (!started[k])
            enqueue_part(&jobs[k]);
    }
    for (size_t k = 0; k < ENQUEUE_THREADS; k++) {
        if (started[k])
            pthread_join(t[k], NULL);
        if (jobs[k].rc != QS_OK)
            rc = jobs[k].rc;
        size_t i;
        json_t *name;
        json_array_foreach(jobs[k].done, i, name) {
            json_object_set(expected, json_string_value(name), json_true());
        }
        json_decref(jobs[k].done);
    }
    if (rc != QS_OK)
        snprintf(err, errlen, "queueing the repositories failed: %s", qs_strerror(rc));
    return rc;
}

/* How many expected repositories have a result of generation >= gen; counts and the first
 * failures into the out-parameters when given. */
static size_t tally(const json_t *results, const json_t *expected, long long gen,
                    orgm_counts *counts, char *failures, size_t flen) {
    size_t done = 0, nfail = 0;
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)expected, name, v) {
        const json_t *res = json_object_get(results, name);
        if (!res || json_integer_value(json_object_get(res, "gen")) < gen)
            continue;
        done++;
        if (counts)
            orgm_counts_add(counts, res);
        const char *e = json_string_value(json_object_get(res, "error"));
        if (failures && e && nfail++ < 3)
            snprintf(failures + strlen(failures), flen - strlen(failures), "%s%.180s",
                     nfail > 1 ? "; " : "", e);
    }
    return done;
}

/* Wait for the run's results. 0 all done, QS_ETIMEOUT, QS_EUNAVAIL (shutdown: "interrupted"). */
static int wait_results(orgm_ctx *c, qs_redis *redis, const char *org, const char *token,
                        long long f0, long long gen, const json_t *expected, long long start,
                        json_t **results) {
    size_t n = json_object_size(expected);
    long long last_full = now_ms(), extended = last_full;
    long long deadline = start + (long long)(c->s->run_timeout * 1000);
    for (;;) {
        long long now = now_ms();
        long long f = orgm_store_finished(redis, org);
        if ((f >= 0 && f - f0 >= (long long)n) || now - last_full >= FULL_CHECK_MS) {
            json_decref(*results);
            *results = NULL;
            if (orgm_store_results(redis, org, results) == QS_OK &&
                tally(*results, expected, gen, NULL, NULL, 0) == n)
                return QS_OK;
            last_full = now;
        }
        if (now >= deadline)
            return QS_ETIMEOUT;
        if (now - extended >= EXTEND_MS) {
            orgm_store_extend(redis, org, token, (long)(c->s->run_timeout * 1000) + 60000);
            extended = now;
        }
        if (qs_sleep_or_shutdown(POLL_S))
            return QS_EUNAVAIL;
    }
}

static void publish_metrics(orgm_ctx *c, const char *org, const orgm_counts *counts,
                            const orgm_listing *l) {
    for (int i = 0; i < ORGM_OUT__N; i++)
        qs_metric_set(c->m_repos, (double)counts->n[i], org, orgm_outcome_name((orgm_outcome)i));
    if (!l->destination)
        return;
    static const char *const states[] = {"NORMAL", "MIRROR", "READ_ONLY", "ORG_MIRROR"};
    double by[4] = {0};
    const char *name;
    json_t *v;
    json_object_foreach(l->destination, name, v) {
        const char *st = json_string_value(json_object_get(v, "state"));
        for (size_t i = 0; st && i < QS_ARRAY_LEN(states); i++)
            if (strcmp(st, states[i]) == 0)
                by[i]++;
    }
    for (size_t i = 0; i < QS_ARRAY_LEN(states); i++)
        qs_metric_set(c->m_states, by[i], org, states[i]);
}

/* The fingerprint of the source account for organisation `oi` (see the top of this file) into
 * fp; false when there is none to take (copy mode, an unreadable file). Never logged. */
static bool account_fingerprint(orgm_ctx *c, size_t oi, char fp[QS_SHA256_HEX_LEN + 1]) {
    const orgm_org *o = &c->s->orgs.v[oi];
    char *key = NULL, *user = NULL, *pass = NULL;
    bool ok = c->s->mode == ORGM_MODE_MIRROR && o->destination_token_file &&
              qs_read_file(o->destination_token_file, 8192, true, &key, NULL) == QS_OK && *key &&
              orgm_ctx_source_account(c, &user, &pass) == QS_OK;
    size_t ulen = user ? strlen(user) : 0, plen = pass ? strlen(pass) : 0;
    char *msg = ok ? malloc(ulen + plen + 2) : NULL;
    bool done = msg != NULL;
    if (msg) {
        memcpy(msg, user ? user : "", ulen + 1); /* "user\0password" */
        memcpy(msg + ulen + 1, pass ? pass : "", plen + 1);
        unsigned char mac[32];
        qs_hmac_sha256(key, strlen(key), msg, ulen + 1 + plen, mac);
        for (size_t i = 0; i < sizeof mac; i++)
            snprintf(fp + 2 * i, 3, "%02x", mac[i]);
        explicit_bzero(msg, ulen + plen + 2);
        explicit_bzero(mac, sizeof mac);
        free(msg);
    }
    qs_secret_release(key);
    qs_secret_release(user);
    qs_secret_release(pass);
    return done;
}

/* The run proper, with the lock held. */
static void run_locked(orgm_ctx *c, size_t oi, qs_redis *redis, const char *token, const char *why,
                       orgm_run_summary *out) {
    const char *org = c->s->orgs.v[oi].name;
    long long f0 = orgm_store_finished(redis, org);
    long long gen = orgm_store_next_gen(redis, org), start = now_ms();
    orgm_counts counts = {0};
    if (f0 < 0 || gen < 0) {
        snprintf(out->error, sizeof out->error, "Redis is unavailable");
        out->failed = true;
        return;
    }
    json_t *st = status_json(c, oi, gen, start, 0, "running", &counts, -1, -1, 0, NULL);
    orgm_store_set_status(redis, org, st);
    json_decref(st);
    char gens[24];
    snprintf(gens, sizeof gens, "%lld", gen);
    qs_log(QS_LOG_INFO, "run started", "org", org, "why", why, "generation", gens, NULL);
    char fp[QS_SHA256_HEX_LEN + 1] = "", *stored = NULL;
    bool have_fp = account_fingerprint(c, oi, fp);
    bool account_changed = have_fp && orgm_store_account(redis, org, &stored) == QS_OK && stored &&
                           strcmp(stored, fp) != 0;
    free(stored);
    if (account_changed)
        qs_log(QS_LOG_INFO,
               "the source account (or the destination token) changed since the mirror configs "
               "were written: every one is written again",
               "org", org, NULL);
    orgm_listing l;
    json_t *expected = json_object(), *results = NULL;
    int rc = orgm_list_org(c, oi, &l);
    qs_log(QS_LOG_DEBUG, "listed", "org", org, "error", rc ? l.error : NULL, NULL);
    if (rc == QS_OK)
        rc = enqueue_all(c, oi, &l, gen, account_changed, expected, l.error, sizeof l.error);
    if (rc == QS_OK) {
        char n[24];
        snprintf(n, sizeof n, "%zu", json_object_size(expected));
        qs_log(QS_LOG_INFO, "repositories queued", "org", org, "queued", n, NULL);
    }
    long pending = 0;
    int wr = QS_OK;
    if (rc == QS_OK) {
        wr = wait_results(c, redis, org, token, f0, gen, expected, start, &results);
        size_t done = tally(results, expected, gen, &counts, NULL, 0);
        pending = (long)(json_object_size(expected) - done);
        if (wr == QS_ETIMEOUT)
            snprintf(l.error, sizeof l.error,
                     "run timed out (RUN_TIMEOUT): %ld of %zu "
                     "repositories still pending",
                     pending, json_object_size(expected));
        else if (wr != QS_OK)
            snprintf(l.error, sizeof l.error,
                     "run interrupted (shutdown): %ld repositories "
                     "left in the queue",
                     pending);
        if (counts.n[ORGM_OUT_FAILED] && !l.error[0]) {
            char f[500] = "";
            tally(results, expected, gen, NULL, f, sizeof f);
            snprintf(l.error, sizeof l.error, "%ld repositor%s failed: %s",
                     counts.n[ORGM_OUT_FAILED], counts.n[ORGM_OUT_FAILED] == 1 ? "y" : "ies", f);
        }
        orgm_store_prune(redis, org, expected);
    }
    long long end = now_ms();
    out->failed = l.error[0] != '\0';
    if (have_fp && !out->failed && !c->s->dry_run) /* every config written or checked with it */
        orgm_store_set_account(redis, org, fp);
    explicit_bzero(fp, sizeof fp);
    snprintf(out->error, sizeof out->error, "%s", l.error);
    long src = l.source ? (long)json_array_size(l.source) : -1;
    long dst = l.destination ? (long)json_object_size(l.destination) : -1;
    if (dst >= 0 && !c->s->dry_run)
        dst += counts.n[ORGM_OUT_CREATED];
    const char *result = !out->failed        ? "ok"
                         : rc != QS_OK       ? "failed"
                         : wr == QS_EUNAVAIL ? "interrupted"
                         : wr == QS_ETIMEOUT ? "timed_out"
                                             : "completed_with_errors";
    st = status_json(c, oi, gen, start, end, result, &counts, src, dst, pending, l.error);
    orgm_store_set_status(redis, org, st);
    publish_metrics(c, org, &counts, &l);
    qs_metric_add(c->m_runs, 1, org, out->failed ? "failed" : "ok");
    qs_metric_observe(c->m_run_secs, (double)(end - start) / 1000.0, org);
    json_t *fields = st ? json_deep_copy(st) : json_object();
    json_object_del(fields, "last_run_start_ms");
    json_object_set_new(fields, "org", json_string(org));
    qs_log_json(out->failed ? QS_LOG_WARN : QS_LOG_INFO,
                c->s->dry_run ? "dry run done (plan at /api/v1/orgs/<org>/plan)" : "run done",
                fields);
    json_decref(fields);
    json_decref(st);
    json_decref(expected);
    json_decref(results);
    orgm_listing_free(&l);
}

/* A run of `oi`, whose busy flag the caller has claimed; clears it at the end. */
static int run_claimed(orgm_runner *r, size_t oi, const char *why, orgm_run_summary *out) {
    memset(out, 0, sizeof *out);
    orgm_ctx *c = r->c;
    char err[256] = "", token[ORGM_LOCK_TOKEN_LEN];
    const char *org = c->s->orgs.v[oi].name;
    qs_redis *redis = qs_redis_new(c->s->redis_url, err, sizeof err);
    int rc = redis ? orgm_store_lock(redis, org, (long)(c->s->run_timeout * 1000) + 60000, token)
                   : QS_EUNAVAIL;
    if (rc == QS_OK) {
        run_locked(c, oi, redis, token, why, out);
        orgm_store_unlock(redis, org, token);
    } else if (rc == QS_ECONFLICT) {
        out->skipped = true;
        qs_log(QS_LOG_INFO, "run skipped: another replica is running it", "org", org, NULL);
    } else {
        snprintf(out->error, sizeof out->error, "Redis is unavailable");
        out->failed = true;
        qs_log(QS_LOG_ERROR, "run not started: Redis is unavailable", "org", org, NULL);
    }
    qs_redis_free(redis);
    atomic_store(&r->busy[oi], false);
    return rc;
}

int orgm_run(orgm_runner *r, size_t oi, const char *why, orgm_run_summary *out) {
    if (atomic_exchange(&r->busy[oi], true)) {
        memset(out, 0, sizeof *out);
        out->skipped = true;
        return QS_ECONFLICT;
    }
    return run_claimed(r, oi, why, out);
}

static void *run_thread(void *arg) {
    async_arg *a = arg;
    orgm_run_summary sum;
    run_claimed(a->r, a->oi, a->why, &sum);
    free(a);
    return NULL;
}

/* The busy flag is claimed here, before the thread exists: a second request right after the
 * first one is refused (QS_ECONFLICT) instead of finding the flag still clear, joining the
 * running thread (blocking its caller until that run ends) and starting another run. */
int orgm_run_async(orgm_runner *r, size_t oi, const char *why) {
    if (atomic_exchange(&r->busy[oi], true))
        return QS_ECONFLICT;
    pthread_mutex_lock(&r->mu);
    int rc = QS_OK;
    if (r->joinable[oi]) /* its previous run has finished (busy was clear): reap the thread */
        pthread_join(r->threads[oi], NULL);
    r->joinable[oi] = false;
    async_arg *a = calloc(1, sizeof *a);
    if (a) {
        a->r = r;
        a->oi = oi;
        snprintf(a->why, sizeof a->why, "%s", why);
    }
    if (!a || pthread_create(&r->threads[oi], NULL, run_thread, a) != 0) {
        free(a);
        atomic_store(&r->busy[oi], false);
        rc = QS_ENOMEM;
    } else {
        r->joinable[oi] = true;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

typedef struct {
    orgm_runner *r;
    size_t oi;
    const char *why;
    orgm_run_summary sum;
    int rc;
} once_arg;

static void *once_thread(void *arg) {
    once_arg *a = arg;
    a->rc = orgm_run(a->r, a->oi, a->why, &a->sum);
    return NULL;
}

size_t orgm_run_all(orgm_runner *r, const char *why) {
    size_t n = r->c->s->orgs.n, failed = 0;
    once_arg *a = calloc(n, sizeof *a);
    pthread_t *t = calloc(n, sizeof *t);
    bool *started = calloc(n, sizeof *started);
    if (!a || !t || !started) {
        free(a);
        free(t);
        free(started);
        return n;
    }
    for (size_t i = 0; i < n; i++) {
        a[i] = (once_arg){r, i, why, {0}, 0};
        started[i] = pthread_create(&t[i], NULL, once_thread, &a[i]) == 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (started[i])
            pthread_join(t[i], NULL);
        if (!started[i] || a[i].rc != QS_OK || a[i].sum.failed) {
            failed++;
            qs_log(QS_LOG_ERROR, "organization failed", "org", r->c->s->orgs.v[i].name, "error",
                   !started[i]         ? "no thread"
                   : a[i].sum.error[0] ? a[i].sum.error
                                       : qs_strerror(a[i].rc),
                   NULL);
        }
    }
    free(a);
    free(t);
    free(started);
    return failed;
}
