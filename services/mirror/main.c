/* main.c — the mirror service: keeps a registry repository in sync with a cluster's image
 * streams and a config of supplemental and ART images. Read this file as the table of
 * contents: settings, the parts, the roles (controller finds work, workers copy), the HTTP
 * API, run until SIGTERM, stop gracefully. */
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mirror/api.h"
#include "mirror/controller.h"
#include "mirror/mirror_config.h"
#include "mirror/registries.h"
#include "mirror/settings.h"
#include "mirror/worker.h"
#include "shared/authfile.h"
#include "shared/http_client.h"
#include "shared/http_server.h"
#include "shared/kube.h"
#include "shared/log.h"
#include "shared/metrics.h"
#include "shared/queue.h"
#include "shared/redis.h"

/* `mirror --validate-config FILE`: every problem of a _config.yaml, then exit 0/1. */
static int validate_config(const char *path) {
    mirror_config_opts o = MIRROR_CONFIG_OPTS_INIT;
    qs_conf *errs = qs_conf_new();
    mirror_config *cfg = NULL;
    size_t n = mirror_config_load(&cfg, path, &o, errs);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%s\n", qs_conf_error_at(errs, i));
    if (n == 0)
        printf("The config file is valid\n");
    mirror_config_free(cfg);
    qs_conf_free(errs);
    return n ? 1 : 0;
}

static qs_kube *connect_cluster(const mirror_settings *s) {
    bool wanted = s->namespaces.n || s->streams.n || s->tags.n || s->mirror_config;
    if (!wanted)
        return NULL; /* no image stream source: no cluster contacted */
    qs_kube_opts ko = QS_KUBE_OPTS_INIT;
    ko.api_url = s->kube_api_url;
    ko.token_file = s->kube_token_file;
    ko.ca_file = s->kube_ca_file;
    char err[256];
    qs_kube *k = qs_kube_new(&ko, err, sizeof err);
    if (!k)
        qs_log(s->namespaces.n || s->streams.n || s->tags.n ? QS_LOG_ERROR : QS_LOG_INFO,
               "no cluster API: image stream and ART sources are off", "reason", err, NULL);
    return k;
}

static double queue_depth(void *ctx) {
    qs_queue_counts c;
    if (qs_queue_get_counts(ctx, &c) != 0)
        return -1;
    return (double)(c.waiting + c.delayed);
}

/* `--once`: one comparison pass, then wait until the workers drained the queue. Returns the
 * exit code: 0 when nothing new was dead-lettered and the pass compared everything. */
static int run_once(mirror_controller *c, qs_queue *q) {
    qs_queue_counts before, now;
    if (qs_queue_get_counts(q, &before) != 0)
        return 1;
    mirror_sync_stats st;
    int rc = mirror_controller_sync(c, &st);
    for (;;) {
        if (qs_queue_get_counts(q, &now) != 0)
            return 1;
        if (now.waiting + now.in_progress + now.delayed == 0 || qs_shutdown_requested())
            break;
        qs_sleep_or_shutdown(0.05);
    }
    return rc != 0 || now.dead > before.dead || now.delayed > 0 ? 1 : 0;
}

typedef struct {
    qs_redis *redis;
    mirror_controller *controller;
} readiness;

static bool ready(void *ctx, qs_buf *why) {
    readiness *r = ctx;
    if (!qs_redis_ping(r->redis)) {
        qs_buf_puts(why, "Redis unreachable");
        return false;
    }
    return true;
}

int main(int argc, char **argv) {
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        mirror_settings_usage(stdout);
        printf("\nmirror --validate-config FILE   check a _config.yaml and exit\n"
               "mirror --once                   one pass, copy what differs, exit (non-zero if a\n"
               "                                task failed) — for CronJobs and benchmarks\n");
        return 0;
    }
    if (argc > 2 && strcmp(argv[1], "--validate-config") == 0)
        return validate_config(argv[2]);
    bool once = argc > 1 && strcmp(argv[1], "--once") == 0;
    /* Blob streams allocate ~1 MiB of buffers each: keep them on the heap for reuse instead of
     * an mmap/munmap (and its page faults) per blob. */
    mallopt(M_MMAP_THRESHOLD, 8 << 20);
    qs_signals_init();
    qs_log_init("mirror", QS_LOG_INFO);

    /* 1. settings */
    mirror_settings s;
    if (mirror_settings_load(&s) != 0) {
        fprintf(stderr, "mirror: invalid configuration (see the log lines above, or --help)\n");
        mirror_settings_free(&s);
        return 2;
    }
    qs_log_init("mirror", s.log_level);

    /* 2. the parts: Redis and the queue, registries with their credentials, the cluster */
    char err[256] = "", consumer[160];
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    snprintf(consumer, sizeof consumer, "%s-%d", host, (int)getpid());
    qs_redis *redis = qs_redis_new(s.redis_url, err, sizeof err);
    qs_queue_opts qo = QS_QUEUE_OPTS_INIT;
    qo.visibility_ms = (long)(s.visibility_timeout * 1000);
    qo.max_attempts = (int)s.max_attempts;
    qs_queue *queue =
        redis ? qs_queue_open(redis, "mirror:tasks", "mirror-workers", consumer, &qo) : NULL;
    if (!queue) {
        qs_log(QS_LOG_ERROR, "REDIS_URL is not usable", "reason", err, NULL);
        return 2;
    }
    qs_http_opts ho = QS_HTTP_OPTS_INIT;
    ho.user_agent = "quayside-mirror";
    qs_http *http = qs_http_new(&ho);
    qs_authfile *auth = s.registry_auth_file ? qs_authfile_new(s.registry_auth_file) : NULL;
    mirror_registries *regs = mirror_registries_new(&s, http, auth);
    qs_kube *kube = connect_cluster(&s);
    qs_gauge_fn("quay_io_ci_images_distributor_mirror_queue_depth", "Mirror tasks waiting.",
                queue_depth, queue);

    /* 3. roles: the controller finds work, the workers copy */
    mirror_controller *controller = NULL;
    if (s.role != MIRROR_ROLE_WORKER) {
        controller = mirror_controller_new(&s, regs, kube, queue);
        if (!once)
            mirror_controller_start(controller);
    }
    mirror_workers *workers = NULL;
    if (s.role != MIRROR_ROLE_CONTROLLER &&
        !(workers = mirror_workers_start(&s, regs, consumer, err, sizeof err))) {
        qs_log(QS_LOG_ERROR, "cannot start the workers", "reason", err, NULL);
        return 1;
    }

    int code = 0;
    if (once) {
        code = controller ? run_once(controller, queue) : 2;
        qs_log(QS_LOG_INFO, "one pass done", "result", code ? "failures" : "ok", NULL);
        goto stop;
    }

    /* 4. the HTTP API */
    mirror_api api = {&s, queue, s.api_token_file ? qs_secret_new(s.api_token_file) : NULL};
    readiness rd = {redis, controller};
    qs_route routes[8];
    size_t nroutes = mirror_api_routes(&api, routes, 8);
    qs_server_opts so = QS_SERVER_OPTS_INIT;
    so.listen_addr = s.listen_addr;
    so.service = "mirror";
    so.ready = ready;
    so.ready_ctx = &rd;
    qs_server *srv = qs_server_new(&so, routes, nroutes, err, sizeof err);
    if (!srv || qs_server_start(srv, err, sizeof err) != 0) {
        qs_log(QS_LOG_ERROR, "cannot start the HTTP server", "reason", err, NULL);
        return 1;
    }

    /* 5. run until SIGTERM; then stop taking work and let copies in flight finish */
    qs_wait_for_shutdown();
    qs_server_stop(srv, 5);
    qs_server_free(srv);
    qs_secret_free(api.api_token);
stop:
    mirror_controller_free(controller);
    if (!mirror_workers_stop(workers, s.grace_period)) {
        /* copies still run on the clients below: exit without freeing what they use */
        qs_log(QS_LOG_INFO, "stopped", "abandoned", "true", NULL);
        _exit(code);
    }
    qs_kube_free(kube);
    mirror_registries_free(regs);
    qs_authfile_free(auth);
    qs_http_free(http);
    qs_queue_free(queue);
    qs_redis_free(redis);
    mirror_settings_free(&s);
    qs_log(QS_LOG_INFO, "stopped", NULL);
    return code;
}
