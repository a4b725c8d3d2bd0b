/* api.h — the mirror service's HTTP API on the task queue. */
#ifndef MIRROR_API_H
#define MIRROR_API_H

#include "mirror/settings.h"
#include "shared/config.h"
#include "shared/http_server.h"
#include "shared/queue.h"

typedef struct {
    const mirror_settings *s;
    qs_queue *queue;      /* a consumer of its own ("api"), never takes tasks */
    qs_secret *api_token; /* NULL: write endpoints answer 403 */
} mirror_api;

/** The API routes. Returns the number written to `out`. */
size_t mirror_api_routes(mirror_api *api, qs_route *out, size_t max);

#endif
