/* main.c — the appstudio-provisioner: a Quay organization per workspace, and per component a
 * repository, push and pull robots and their dockerconfigjson Secrets in the workspace's
 * namespace (the AppStudio decision record, reference/quay.md Part A). Read this file as the
 * table of contents: settings, the parts (Redis and the queue, Quay, Kubernetes), the workers,
 * the HTTP API, run until SIGTERM, stop gracefully. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "appstudio-provisioner/api.h"
#include "appstudio-provisioner/authz.h"
#include "appstudio-provisioner/settings.h"
#include "appstudio-provisioner/task.h"
#include "appstudio-provisioner/worker.h"
#include "shared/common.h"
#include "shared/http_client.h"
#include "shared/http_server.h"
#include "shared/kube.h"
#include "shared/log.h"
#include "shared/metrics.h"
#include "shared/quay.h"
#include "shared/queue.h"
#include "shared/redis.h"
#include "shared/ttl_cache.h"

#define SERVICE "appstudio-provisioner"
#define READY_CACHE_S 3.0

/* /readyz: Redis, Quay and the Kubernetes API answer. Quay is asked for an organization
 * (the shared one, or "<ORG_PREFIX>quayside-readiness"): an endpoint that needs a token, so a
 * refused management token is caught too (any other answer below 500, 404 included, counts
 * as ready). Checked at most every READY_CACHE_S. */
typedef struct {
    qs_redis *redis;
    qs_quay *quay; /* on a client without retries */
    const char *probe_org;
    qs_kube *kube;
    pthread_mutex_t mu;
    double checked_at;
    bool ok;
    char why[200];
} readiness;

static bool ready(void *ctx, qs_buf *why) {
    readiness *r = ctx;
    pthread_mutex_lock(&r->mu);
    double now = qs_now_mono();
    if (r->checked_at == 0 || now - r->checked_at > READY_CACHE_S) {
        qs_quay_error e = {0};
        long status = 0;
        int q = QS_OK;
        r->ok = false;
        if (!qs_redis_ping(r->redis))
            snprintf(r->why, sizeof r->why, "Redis unreachable");
        else if ((q = qs_quay_org_get(r->quay, r->probe_org, NULL, &e)) == QS_EUNAVAIL ||
                 q == QS_EAUTH)
            snprintf(r->why, sizeof r->why, "Quay %s",
                     q == QS_EAUTH ? "refuses the management token" : "unreachable");
        else if (qs_kube_call(r->kube, "GET", "/version", NULL, &status, NULL) != QS_OK)
            snprintf(r->why, sizeof r->why, "Kubernetes API unreachable");
        else
            r->ok = true;
        r->checked_at = now;
    }
    bool ok = r->ok;
    if (!ok)
        qs_buf_puts(why, r->why);
    pthread_mutex_unlock(&r->mu);
    return ok;
}

static double queue_depth(void *ctx) {
    qs_queue_counts c;
    if (qs_queue_get_counts(ctx, &c) != 0)
        return -1;
    return (double)(c.waiting + c.delayed);
}

/* `--healthcheck` (the image's HEALTHCHECK: it has no curl): GET /healthz on LISTEN_ADDR's
 * port over loopback. Exit 0 when it answers 200. */
static int healthcheck(void) {
    const char *listen = getenv("LISTEN_ADDR");
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%s/healthz", colon ? colon + 1 : "8092");
    qs_http_opts ho = QS_HTTP_OPTS_INIT;
    ho.max_attempts = 1;
    ho.timeout_ms = 3000;
    qs_http *h = qs_http_new(&ho);
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url;
    qs_http_resp resp = {0};
    int rc = h ? qs_http_do(h, &req, &resp) : QS_ENOMEM;
    bool ok = rc == QS_OK && resp.status == 200;
    qs_http_resp_free(&resp);
    qs_http_free(h);
    return ok ? 0 : 1;
}

static qs_quay *connect_quay(const prov_settings *s, qs_http *http, char *err, size_t errlen) {
    qs_quay_opts qo = QS_QUAY_OPTS_INIT;
    qo.base_url = s->quay_url;
    qo.token_file = s->quay_token_file;
    qo.debug = s->quay_debug;
    return qs_quay_new(http, &qo, err, errlen);
}

int main(int argc, char **argv) {
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        prov_settings_usage(stdout);
        printf("\n" SERVICE " --healthcheck   GET /healthz on LISTEN_ADDR's port; exit 0 if 200\n");
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--healthcheck") == 0)
        return healthcheck();
    qs_signals_init();
    qs_log_init(SERVICE, QS_LOG_INFO);

    /* 1. settings */
    prov_settings s;
    if (prov_settings_load(&s) != 0) {
        fprintf(stderr, SERVICE ": invalid configuration (see the log lines above, or --help)\n");
        prov_settings_free(&s);
        return 2;
    }
    qs_log_init(SERVICE, s.log_level);

    /* 2. the parts: Redis and the queue, Quay (one client with retries for the work, one
     *    without for readiness), the Kubernetes API */
    char err[256] = "", consumer[160], host[64] = "host";
    gethostname(host, sizeof host - 1);
    snprintf(consumer, sizeof consumer, "%s-%d", host, (int)getpid());
    qs_redis *redis = qs_redis_new(s.redis_url, err, sizeof err);
    qs_queue_opts qopts = prov_queue_opts(&s);
    qs_queue *queue = redis ? qs_queue_open(redis, PROV_QUEUE, PROV_GROUP, consumer, &qopts) : NULL;
    if (!queue) {
        qs_log(QS_LOG_ERROR, "REDIS_URL is not usable", "reason", err, NULL);
        return 2;
    }
    qs_http_opts ho = QS_HTTP_OPTS_INIT;
    ho.user_agent = "quayside-" SERVICE;
    ho.max_attempts = 3;
    ho.timeout_ms = 30000;
    qs_http *http = qs_http_new(&ho);
    ho.max_attempts = 1;
    ho.timeout_ms = 5000;
    qs_http *probe_http = qs_http_new(&ho);
    qs_quay *quay = connect_quay(&s, http, err, sizeof err);
    qs_quay *probe = quay ? connect_quay(&s, probe_http, err, sizeof err) : NULL;
    qs_kube_opts ko = QS_KUBE_OPTS_INIT;
    ko.api_url = s.kube_api_url;
    ko.token_file = s.kube_token_file;
    ko.ca_file = s.kube_ca_file;
    qs_kube *kube = quay ? qs_kube_new(&ko, err, sizeof err) : NULL;
    if (!quay || !probe || !kube) {
        qs_log(QS_LOG_ERROR, "cannot set up Quay or the Kubernetes API", "reason", err, NULL);
        return 2;
    }
    qs_gauge_fn("provisioner_queue_depth", "Provisioning tasks waiting (retries included).",
                queue_depth, queue);

    /* 3. the workers, and a task for whatever a previous run left unfinished */
    prov_workers *workers = prov_workers_start(&s, quay, kube, consumer, err, sizeof err);
    if (!workers) {
        qs_log(QS_LOG_ERROR, "cannot start the workers", "reason", err, NULL);
        return 1;
    }
    long swept = prov_sweep(redis, queue);
    if (swept > 0) {
        char n[24];
        snprintf(n, sizeof n, "%ld", swept);
        qs_log(QS_LOG_INFO, "unfinished work queued again", "tasks", n, NULL);
    }

    /* 4. the HTTP API */
    prov_authz *authz = prov_authz_new(kube, s.api_token_file, s.auth_cache_ttl);
    prov_api api = {&s, redis, queue, authz};
    char probe_org[PROV_NAME_LEN + 32];
    bool shared = s.naming.mode == PROV_ORG_SHARED;
    snprintf(probe_org, sizeof probe_org, "%s%s",
             shared ? s.naming.shared_org : s.naming.org_prefix,
             shared ? "" : "quayside-readiness");
    readiness rd = {redis, probe, probe_org, kube, PTHREAD_MUTEX_INITIALIZER, 0, false, ""};
    qs_route routes[16];
    size_t nroutes = prov_api_routes(&api, routes, QS_ARRAY_LEN(routes));
    qs_server_opts so = QS_SERVER_OPTS_INIT;
    so.listen_addr = s.listen_addr;
    so.service = SERVICE;
    so.max_body = 4096;
    so.ready = ready;
    so.ready_ctx = &rd;
    qs_server *srv = authz ? qs_server_new(&so, routes, nroutes, err, sizeof err) : NULL;
    if (!srv || qs_server_start(srv, err, sizeof err) != 0) {
        qs_log(QS_LOG_ERROR, "cannot start the HTTP server", "reason", err, NULL);
        return 1;
    }
    char workers_n[16];
    snprintf(workers_n, sizeof workers_n, "%ld", s.workers);
    qs_log(QS_LOG_INFO, "started", "listen", s.listen_addr, "quay", s.quay_url, "org_mode",
           s.naming.mode == PROV_ORG_SHARED ? "shared" : "per-workspace", "workers", workers_n,
           NULL);

    /* 5. run until SIGTERM; then stop the API and let runs in flight finish */
    qs_wait_for_shutdown();
    qs_server_stop(srv, 5);
    qs_server_free(srv);
    if (!prov_workers_stop(workers, s.grace_period)) {
        /* runs still use the clients: leave at once, without freeing them or running the
         * libraries' exit handlers under their feet (their tasks were handed back) */
        qs_log(QS_LOG_INFO, "stopped", "abandoned", "true", NULL);
        fflush(NULL);
        _exit(0);
    }
    prov_authz_free(authz);
    qs_kube_free(kube);
    qs_quay_free(probe);
    qs_quay_free(quay);
    qs_http_free(probe_http);
    qs_http_free(http);
    qs_queue_free(queue);
    qs_redis_free(redis);
    prov_settings_free(&s);
    qs_log(QS_LOG_INFO, "stopped", NULL);
    return 0;
}
