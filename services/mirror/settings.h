/* settings.h — the mirror service's settings, from the environment (see `mirror --help`). */
#ifndef MIRROR_SETTINGS_H
#define MIRROR_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "shared/log.h"

typedef enum { MIRROR_ROLE_ALL = 0, MIRROR_ROLE_CONTROLLER, MIRROR_ROLE_WORKER } mirror_role;

typedef struct {
    char **v;
    size_t n;
} mirror_list;

typedef struct {
    const char *listen_addr;        /* LISTEN_ADDR */
    const char *redis_url;          /* REDIS_URL */
    const char *mirror_config;      /* MIRROR_CONFIG (YAML file), NULL = none */
    const char *registry_auth_file; /* REGISTRY_AUTH_FILE, NULL = anonymous everywhere */
    const char *destination;        /* DESTINATION_REPOSITORY host/repo */
    const char *source_registry;    /* SOURCE_REGISTRY host */
    mirror_list namespaces;         /* IMAGESTREAM_NAMESPACES */
    mirror_list streams;            /* IMAGESTREAMS (ns/name) */
    mirror_list tags;               /* IMAGESTREAM_TAGS (ns/name:tag) */
    mirror_list ignore_tags;        /* IMAGESTREAM_IGNORE_TAGS (ns/name:tag): wins */
    mirror_list insecure;           /* INSECURE_REGISTRIES (host[:port]) */
    const char *kube_api_url;
    const char *kube_token_file;
    const char *kube_ca_file;
    double sync_interval;       /* SYNC_INTERVAL seconds */
    bool dry_run;               /* DRY_RUN */
    mirror_role role;           /* MIRROR_ROLE */
    long workers;               /* MIRROR_WORKERS */
    long blob_concurrency;      /* COPY_CONCURRENCY */
    bool backup_tags;           /* BACKUP_TAGS */
    bool keep_lists;            /* KEEP_MANIFEST_LISTS */
    const char *api_token_file; /* API_TOKEN_FILE, NULL = write endpoints disabled */
    long max_attempts;          /* MAX_ATTEMPTS */
    double visibility_timeout;  /* TASK_TIMEOUT */
    double grace_period;        /* GRACE_PERIOD */
    qs_log_level log_level;
    struct qs_conf *conf; /* owns the strings */
} mirror_settings;

/** Read the settings from the environment. 0, or the number of problems (logged). */
int mirror_settings_load(mirror_settings *s);
void mirror_settings_free(mirror_settings *s);
void mirror_settings_usage(FILE *out);
/** Is `host` (host[:port]) spoken to over plain HTTP? Loopback addresses and
 *  INSECURE_REGISTRIES are, as docker does; everything else is HTTPS. */
bool mirror_settings_insecure(const mirror_settings *s, const char *host);
/** Is `item` in the list? */
bool mirror_list_has(const mirror_list *l, const char *item);

#endif
