/* settings.h — the appstudio-provisioner's settings, from the environment (see --help). */
#ifndef PROV_SETTINGS_H
#define PROV_SETTINGS_H

#include <stdbool.h>
#include <stdio.h>

#include "appstudio-provisioner/names.h"
#include "shared/log.h"

typedef struct {
    const char *listen_addr;     /* LISTEN_ADDR */
    const char *redis_url;       /* REDIS_URL */
    const char *quay_url;        /* QUAY_URL */
    const char *quay_token_file; /* QUAY_TOKEN_FILE */
    const char *registry;        /* QUAY_REGISTRY (default: host[:port] of QUAY_URL) */
    prov_naming naming;          /* ORG_MODE, ORG_PREFIX, QUAY_ORGANIZATION, NAMESPACE_TEMPLATE */
    bool default_public;         /* DEFAULT_VISIBILITY */
    bool keep_repositories;      /* KEEP_REPOSITORIES */
    const char *api_token_file;  /* API_TOKEN_FILE, NULL = no platform token */
    long workers;                /* PROVISIONER_WORKERS */
    long max_attempts;           /* MAX_ATTEMPTS */
    double retry_backoff;        /* RETRY_BACKOFF (first retry; doubles) */
    double retry_backoff_max;    /* RETRY_BACKOFF_MAX */
    double auth_cache_ttl;       /* AUTH_CACHE_TTL */
    double grace_period;         /* GRACE_PERIOD */
    const char *kube_api_url;    /* KUBE_API_URL, NULL = in-cluster */
    const char *kube_token_file;
    const char *kube_ca_file;
    bool quay_debug; /* QUAY_DEBUG: log every Quay call (never a secret) */
    qs_log_level log_level;
    char registry_buf[300]; /* QUAY_REGISTRY derived from QUAY_URL */
    struct qs_conf *conf;   /* owns the strings */
} prov_settings;

/** Read the settings from the environment. 0, or the number of problems (each logged). */
int prov_settings_load(prov_settings *s);
void prov_settings_free(prov_settings *s);
void prov_settings_usage(FILE *out);

/** host[:port] of an http(s) URL into `out`. 0 or QS_EINVAL (not http(s)://host...). Pure. */
int prov_url_host(const char *url, char *out, size_t outlen);

#endif
