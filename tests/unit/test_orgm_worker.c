/* test_orgm_worker.c — org-mirror's workers and runs against a real Redis (the Quays are
 * unreachable on purpose: these tests need none, or a source that refuses at once):
 *   - a worker records a result with the generation its task carries (no Redis read for it),
 *     and with the organisation's current generation when the task has none (an event's);
 *   - a blocking take ends at once on CLIENT UNBLOCK ... ERROR, so stopping the workers does
 *     not wait out their 1 s blocking takes;
 *   - a second run requested while the first is starting is refused (409 for the API), not
 *     started on top of it; a source that cannot be listed fails the organisation with a
 *     clear last_error in its stored status. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "org-mirror/ctx.h"
#include "org-mirror/runner.h"
#include "org-mirror/store.h"
#include "org-mirror/worker.h"
#include "redis_spawn.h"
#include "shared/common.h"
#include "shared/log.h"

static redis_proc rp;
static qs_redis *r;
static char url[64], dir[64];
static qs_http *http;
static orgm_settings s;
static orgm_ctx ctx;

static void put(const char *sub, const char *name, const char *text) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void setenv_dir(const char *var, const char *sub) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    setenv(var, path, 1);
}

static void setup(void) {
    qs_log_set_fd(-1);
    rs_prepare(&rp, false, false);
    rs_start(&rp);
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", rp.port);
    char err[256] = "";
    r = qs_redis_new(url, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    snprintf(dir, sizeof dir, "/tmp/qs-orgmw-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    put("src", "acme", "source-token\n");
    put("dst", "acme", "destination-token\n");
    put("robots", "acme", "mirror\n");
    setenv("REDIS_URL", url, 1);
    setenv("SOURCE_REGISTRY", "http://127.0.0.1:1", 1); /* refused at once */
    setenv("DESTINATION_REGISTRY", "http://127.0.0.1:1", 1);
    setenv("ORGANIZATIONS", "acme", 1);
    setenv("QUAY_CONCURRENCY", "8", 1);
    setenv_dir("SOURCE_TOKENS_DIR", "src");
    setenv_dir("DESTINATION_TOKENS_DIR", "dst");
    setenv_dir("ROBOT_NAMES_DIR", "robots");
    cr_assert_eq(orgm_settings_load(&s), 0);
    qs_http_opts o = QS_HTTP_OPTS_INIT;
    o.max_attempts = 1;
    http = qs_http_new(&o);
    cr_assert_eq(orgm_ctx_init(&ctx, &s, http, err, sizeof err), 0, "%s", err);
}

static void teardown(void) {
    orgm_ctx_free(&ctx);
    qs_http_free(http);
    orgm_settings_free(&s);
    qs_redis_free(r);
    rs_cleanup(&rp);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    const char *vars[] = {
        "REDIS_URL",        "SOURCE_REGISTRY",   "DESTINATION_REGISTRY",   "ORGANIZATIONS",
        "QUAY_CONCURRENCY", "SOURCE_TOKENS_DIR", "DESTINATION_TOKENS_DIR", "ROBOT_NAMES_DIR"};
    for (size_t i = 0; i < QS_ARRAY_LEN(vars); i++)
        unsetenv(vars[i]);
}

TestSuite(orgm_worker, .init = setup, .fini = teardown, .timeout = 60);

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Queue `payload`, take it and let the worker handle it; the generation recorded for `repo`. */
static long long handled_gen(qs_queue *q, const char *payload, const char *repo) {
    cr_assert_eq(qs_queue_enqueue(q, payload, NULL, NULL), QS_OK);
    qs_task t;
    cr_assert_eq(qs_queue_take(q, 1000, &t), QS_OK);
    orgm_worker_handle(&ctx, r, q, NULL, &t);
    qs_task_clear(&t);
    json_t *res = NULL;
    cr_assert_eq(orgm_store_results(r, "acme", &res), QS_OK);
    json_t *one = json_object_get(res, repo);
    cr_assert_not_null(one, "no result for %s", repo);
    cr_assert_str_eq(json_string_value(json_object_get(one, "outcome")), "skipped");
    long long gen = json_integer_value(json_object_get(one, "gen"));
    json_decref(res);
    return gen;
}

Test(orgm_worker, the_result_carries_the_tasks_generation) {
    qs_queue_opts qo = orgm_queue_opts(&s);
    qs_queue *q = qs_queue_open(r, s.queue_name, ORGM_WORKER_GROUP, "test", &qo);
    cr_assert_not_null(q);
    for (int i = 0; i < 7; i++)
        cr_assert_gt(orgm_store_next_gen(r, "acme"), 0); /* the organisation is at 7 */
    /* READ_ONLY: decided from the hint, no Quay call */
    cr_assert_eq(handled_gen(q,
                             "{\"org\":\"acme\",\"repository\":\"r1\",\"destination_state\":"
                             "\"READ_ONLY\",\"generation\":3}",
                             "r1"),
                 3, "the queueing run's generation, not the current one");
    cr_assert_eq(handled_gen(q,
                             "{\"org\":\"acme\",\"repository\":\"r2\",\"destination_state\":"
                             "\"READ_ONLY\",\"reason\":\"event\"}",
                             "r2"),
                 7, "an event's task: the current generation");
    qs_queue_counts n;
    cr_assert_eq(qs_queue_get_counts(q, &n), QS_OK);
    cr_assert_eq(n.waiting + n.in_progress + n.delayed + n.dead, 0, "both acked");
    qs_queue_free(q);
}

typedef struct {
    qs_queue *q;
    int rc;
    double secs;
} take_job;

static void *take_thread(void *arg) {
    take_job *j = arg;
    qs_task t;
    double t0 = now_s();
    j->rc = qs_queue_take(j->q, 30000, &t);
    j->secs = now_s() - t0;
    if (j->rc == QS_OK)
        qs_task_clear(&t);
    return NULL;
}

Test(orgm_worker, client_unblock_ends_a_blocking_take) {
    char err[128];
    qs_redis *own = qs_redis_new(url, err, sizeof err);
    qs_queue *q = qs_queue_open(own, "orgm-test:q", "g", "c", NULL);
    cr_assert_not_null(q);
    redisReply *rep = qs_redis_cmd(own, "CLIENT ID");
    cr_assert(rep && rep->type == REDIS_REPLY_INTEGER);
    long long id = rep->integer;
    freeReplyObject(rep);
    take_job j = {q, 1, 0};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, take_thread, &j), 0);
    bool unblocked = false;
    for (int i = 0; i < 500 && !unblocked; i++) { /* until the take is blocked in its XREAD */
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
        rep = qs_redis_cmd(r, "CLIENT UNBLOCK %lld ERROR", id);
        unblocked = rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
        if (rep)
            freeReplyObject(rep);
    }
    pthread_join(t, NULL);
    cr_assert(unblocked);
    cr_assert_eq(j.rc, QS_ENOTFOUND);
    cr_assert_lt(j.secs, 10.0, "the 30 s take ended at once (%.2f s)", j.secs);
    qs_queue_free(q);
    qs_redis_free(own);
}

Test(orgm_worker, stopping_does_not_wait_out_the_blocking_takes) {
    char err[256] = "";
    orgm_workers *w = orgm_workers_start(&ctx, "stop-test", err, sizeof err);
    cr_assert_not_null(w, "%s", err);
    struct timespec ts = {0, 300 * 1000000L}; /* all 8 idle in their 1 s takes */
    nanosleep(&ts, NULL);
    double t0 = now_s();
    orgm_workers_stop(w, 1);
    double secs = now_s() - t0;
    if (!getenv("QS_UNDER_VALGRIND")) /* memcheck's slowdown: no timing bound there */
        cr_assert_lt(secs, 0.7, "8 idle workers stopped in %.2f s", secs);
}

Test(orgm_worker, a_second_run_is_refused_and_a_failed_listing_is_the_error) {
    orgm_runner *run = orgm_runner_new(&ctx);
    cr_assert_not_null(run);
    cr_assert_eq(orgm_run_async(run, 0, "test"), QS_OK);
    cr_assert_eq(orgm_run_async(run, 0, "test"), QS_ECONFLICT,
                 "refused while the first one runs, not started on top of it");
    orgm_runner_free(run); /* waits for the run */
    json_t *st = NULL;
    cr_assert_eq(orgm_store_status(r, "acme", &st), QS_OK);
    cr_assert_str_eq(json_string_value(json_object_get(st, "result")), "failed");
    const char *e = json_string_value(json_object_get(st, "last_error"));
    cr_assert_not_null(e);
    cr_assert_not_null(strstr(e, "listing the source organization on 127.0.0.1:1"), "%s", e);
    cr_assert_null(strstr(e, "source-token"));
    cr_assert_eq(orgm_store_gen(r, "acme"), 1, "exactly one run happened");
    json_decref(st);
}
