/* registries.c — the registry clients of the mirror service, one per host.
 *
 * The controller compares digests on the source and destination registries and the workers
 * copy between them; both ask for a host's client here, so token caches and connections are
 * shared by everything in the process. The scheme follows docker's rule (plain HTTP only for
 * loopback addresses and INSECURE_REGISTRIES) and credentials come from REGISTRY_AUTH_FILE,
 * looked up by host each time a token is fetched, so a rotated Secret takes effect. A small
 * array is enough: a mirror talks to a handful of registries. */
#include "mirror/registries.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/common.h"
#include "shared/log.h"

typedef struct {
    mirror_registries *owner;
    char *host;
    qs_registry *reg;
} entry;

struct mirror_registries {
    const mirror_settings *s;
    qs_http *http;
    qs_authfile *auth;
    pthread_mutex_t mu;
    entry **v;
    size_t n;
};

mirror_registries *mirror_registries_new(const mirror_settings *s, qs_http *http,
                                         qs_authfile *auth) {
    mirror_registries *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->s = s;
    r->http = http;
    r->auth = auth;
    pthread_mutex_init(&r->mu, NULL);
    return r;
}

void mirror_registries_free(mirror_registries *r) {
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        qs_registry_free(r->v[i]->reg);
        free(r->v[i]->host);
        free(r->v[i]);
    }
    free(r->v);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static int creds(void *ctx, char **user, char **pass) {
    entry *e = ctx;
    *user = *pass = NULL;
    if (!e->owner->auth)
        return QS_OK; /* anonymous */
    char err[256];
    int rc = qs_authfile_lookup(e->owner->auth, e->host, user, pass, err, sizeof err);
    if (rc == QS_ENOTFOUND)
        return QS_OK;
    if (rc != QS_OK)
        qs_log(QS_LOG_WARN, "registry credentials unusable", "registry", e->host, "error", err,
               NULL);
    return rc;
}

qs_registry *mirror_registry_for(mirror_registries *r, const char *host) {
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->v[i]->host, host) == 0) {
            qs_registry *reg = r->v[i]->reg;
            pthread_mutex_unlock(&r->mu);
            return reg;
        }
    entry *e = calloc(1, sizeof *e);
    entry **v = e ? realloc(r->v, (r->n + 1) * sizeof *v) : NULL;
    char url[512];
    snprintf(url, sizeof url, "%s://%s", mirror_settings_insecure(r->s, host) ? "http" : "https",
             host);
    if (v) {
        r->v = v;
        e->owner = r;
        e->host = strdup(host);
        qs_registry_opts o = {url, r->http, creds, e, 60};
        e->reg = e->host ? qs_registry_new(&o) : NULL;
    }
    if (!v || !e->reg) {
        if (e)
            free(e->host);
        free(e);
        pthread_mutex_unlock(&r->mu);
        return NULL;
    }
    r->v[r->n++] = e;
    pthread_mutex_unlock(&r->mu);
    return e->reg;
}
