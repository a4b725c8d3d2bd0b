/* api.h — the provisioner's HTTP API (proto/appstudio-provisioner.openapi.yaml). */
#ifndef PROV_API_H
#define PROV_API_H

#include <stddef.h>

#include "appstudio-provisioner/authz.h"
#include "appstudio-provisioner/settings.h"
#include "shared/http_server.h"
#include "shared/queue.h"
#include "shared/redis.h"

typedef struct {
    const prov_settings *s;
    qs_redis *redis; /* shared by the handler threads */
    qs_queue *queue; /* on `redis` */
    prov_authz *authz;
} prov_api;

/** The routes (at most `max`) into `out`; returns how many. */
size_t prov_api_routes(prov_api *api, qs_route *out, size_t max);

#endif
