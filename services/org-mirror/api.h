/* api.h — the org-mirror's HTTP API: organisation status, plans, runs on demand; readiness. */
#ifndef ORGM_API_H
#define ORGM_API_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "org-mirror/ctx.h"
#include "org-mirror/runner.h"
#include "shared/config.h"
#include "shared/http_server.h"
#include "shared/redis.h"

typedef struct {
    orgm_ctx *c;
    orgm_runner *runner;
    qs_redis *redis;      /* shared by the handlers (qs_redis is thread-safe) */
    qs_secret *api_token; /* NULL: POST answers 403 */
    pthread_mutex_t ready_mu;
    time_t ready_checked; /* last probe of the Quays */
    char ready_why[320];  /* "" when they answered */
} orgm_api;

/** The API routes. Returns the number written to `out`. */
size_t orgm_api_routes(orgm_api *api, qs_route *out, size_t max);
/** The /readyz callback (ctx = the orgm_api). */
bool orgm_api_ready(void *ctx, qs_buf *why);

#endif
