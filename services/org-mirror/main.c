/* main.c — the org-mirror service: mirrors whole Quay organisations repository by repository
 * (the seed's "Quay Organisation Mirror" CronJob, as a service). Read this file as the table of
 * contents: settings, the shared clients, the queue workers, then one of three ways to run —
 * `--sequential` (the reference script's loop, for benchmarks), `--once` (one run of every
 * organisation, for CronJobs), or the service (scheduler, events, HTTP API) until SIGTERM. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "org-mirror/api.h"
#include "org-mirror/ctx.h"
#include "org-mirror/runner.h"
#include "org-mirror/scheduler.h"
#include "org-mirror/sequential.h"
#include "org-mirror/settings.h"
#include "org-mirror/worker.h"
#include "shared/http_client.h"
#include "shared/http_server.h"
#include "shared/log.h"
#include "shared/metrics.h"
#include "shared/redis.h"

static void usage(void) {
    orgm_settings_usage(stdout);
    printf("\norg-mirror --once         run every organization once, wait for its repositories,\n"
           "                          exit 1 if any organization failed (for CronJobs)\n"
           "org-mirror --sequential   one pass with the reference script's algorithm, one call\n"
           "                          at a time, no queue (the benchmark's baseline)\n");
}

typedef struct {
    orgm_runner *runner;
    size_t failed;
    atomic_bool done;
} once_job;

static void *once_thread(void *arg) {
    once_job *j = arg;
    j->failed = orgm_run_all(j->runner, "once");
    atomic_store(&j->done, true);
    return NULL;
}

/* `--once`: every organisation in a thread, while this one watches for SIGTERM/SIGINT (blocked
 * in every thread by qs_signals_init): a signal stops the runs' waiting (their tasks stay
 * queued), so a CronJob's deadline ends the pod promptly. The number of failed organisations. */
static size_t run_once(orgm_runner *runner) {
    once_job j = {runner, 0, false};
    pthread_t t;
    if (pthread_create(&t, NULL, once_thread, &j) != 0)
        return orgm_run_all(runner, "once");
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    const struct timespec tick = {0, 10 * 1000000L}; /* how soon the end of the runs is seen */
    while (!atomic_load(&j.done)) {
        int sig = sigtimedwait(&set, NULL, &tick);
        if ((sig == SIGTERM || sig == SIGINT) && !qs_shutdown_requested()) {
            qs_log(QS_LOG_WARN, "signal: stopping the runs (their tasks stay queued)", NULL);
            qs_request_shutdown();
        }
    }
    pthread_join(t, NULL);
    return j.failed;
}

int main(int argc, char **argv) {
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage();
        return 0;
    }
    bool once = argc > 1 && strcmp(argv[1], "--once") == 0;
    bool sequential = argc > 1 && strcmp(argv[1], "--sequential") == 0;
    if (argc > 1 && !once && !sequential) {
        fprintf(stderr, "org-mirror: unknown argument %s (see --help)\n", argv[1]);
        return 2;
    }
    qs_signals_init();
    qs_log_init("org-mirror", QS_LOG_INFO);

    /* 1. settings: every problem listed, then exit 2 */
    orgm_settings s;
    if (orgm_settings_load(&s) != 0) {
        fprintf(stderr, "org-mirror: invalid configuration (see the log lines above, or --help)\n");
        orgm_settings_free(&s);
        return 2;
    }
    qs_log_init("org-mirror", s.log_level);

    /* 2. the shared clients: one Quay client per organisation and side */
    qs_http_opts ho = QS_HTTP_OPTS_INIT;
    ho.user_agent = "quayside-org-mirror";
    ho.verify_tls = s.verify_tls;
    qs_http *http = qs_http_new(&ho);
    orgm_ctx ctx;
    char err[256] = "";
    if (!http || orgm_ctx_init(&ctx, &s, http, err, sizeof err) != 0) {
        qs_log(QS_LOG_ERROR, "cannot create the clients", "reason", err, NULL);
        return 2;
    }
    int code = 0;
    if (sequential) {
        code = orgm_sequential(&ctx) ? 1 : 0;
        goto out;
    }

    /* 3. the queue workers (every mode but --sequential) */
    char consumer[160], host[64] = "host";
    gethostname(host, sizeof host - 1);
    snprintf(consumer, sizeof consumer, "%s-%d", host, (int)getpid());
    orgm_workers *workers = orgm_workers_start(&ctx, consumer, err, sizeof err);
    orgm_runner *runner = workers ? orgm_runner_new(&ctx) : NULL;
    if (!runner) {
        qs_log(QS_LOG_ERROR, "cannot start the workers", "reason", err, NULL);
        code = 2;
        goto stop;
    }

    /* 4a. --once: every organisation, then exit */
    if (once) {
        size_t failed = run_once(runner);
        code = failed ? 1 : 0;
        qs_log(QS_LOG_INFO, "one pass done", "result", failed ? "failures" : "ok", NULL);
        goto stop;
    }

    /* 4b. the service: schedule, events, HTTP API until SIGTERM */
    orgm_api api = {.c = &ctx,
                    .runner = runner,
                    .redis = qs_redis_new(s.redis_url, err, sizeof err),
                    .api_token = s.api_token_file ? qs_secret_new(s.api_token_file) : NULL};
    pthread_mutex_init(&api.ready_mu, NULL);
    qs_route routes[8];
    size_t nroutes = orgm_api_routes(&api, routes, 8);
    qs_server_opts so = QS_SERVER_OPTS_INIT;
    so.listen_addr = s.listen_addr;
    so.service = "org-mirror";
    so.ready = orgm_api_ready;
    so.ready_ctx = &api;
    qs_server *srv = api.redis ? qs_server_new(&so, routes, nroutes, err, sizeof err) : NULL;
    if (!srv || qs_server_start(srv, err, sizeof err) != 0) {
        qs_log(QS_LOG_ERROR, "cannot start the HTTP server", "reason", err, NULL);
        code = 1;
    } else {
        orgm_scheduler *sched = orgm_scheduler_start(&ctx, runner, consumer);
        qs_log(QS_LOG_INFO, "org-mirror started", "listen", s.listen_addr, "queue", s.queue_name,
               "mode", s.mode == ORGM_MODE_COPY ? "copy" : "mirror", "dry_run",
               s.dry_run ? "true" : "false", NULL);
        qs_wait_for_shutdown();
        orgm_scheduler_stop(sched);
        qs_server_stop(srv, 5);
    }
    qs_server_free(srv);
    qs_secret_free(api.api_token);
    qs_redis_free(api.redis);
    pthread_mutex_destroy(&api.ready_mu);

    /* 5. stop: runs stop waiting at shutdown; tasks in flight get the grace period */
stop:
    orgm_runner_free(runner);
    orgm_workers_stop(workers, s.grace_period);
out:
    orgm_ctx_free(&ctx);
    qs_http_free(http);
    orgm_settings_free(&s);
    qs_log(QS_LOG_INFO, "stopped", NULL);
    return code;
}
