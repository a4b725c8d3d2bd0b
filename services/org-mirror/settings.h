/* settings.h — the org-mirror service's settings, from the environment (see `org-mirror
 * --help`). Compatible with the seed's CronJob: SOURCE_REGISTRY, DESTINATION_REGISTRY,
 * TAG_GLOB, SYNC_INTERVAL, DRY_RUN, DEBUG, RECREATE_MIRROR_CONFIG keep their meaning. */
#ifndef ORGM_SETTINGS_H
#define ORGM_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "org-mirror/orgs.h"
#include "org-mirror/tagglob.h"
#include "shared/log.h"

typedef enum { ORGM_MODE_MIRROR = 0, ORGM_MODE_COPY } orgm_mode;
typedef enum { ORGM_SOURCE_QUAY = 0, ORGM_SOURCE_REGISTRY } orgm_source_kind;

/** A registry as SOURCE_REGISTRY / DESTINATION_REGISTRY give it: `host[:port]`, optionally
 *  prefixed with `http://` or `https://` (the scheme of its API; default https). */
typedef struct {
    char url[300];  /* "https://host[:port]": the API base */
    char host[256]; /* "host[:port]": what image references and external_reference carry */
} orgm_endpoint;

/** Parse one endpoint. 0, or QS_EINVAL with a reason (a path, a bad port, spaces ...). */
int orgm_endpoint_parse(const char *text, orgm_endpoint *out, char *err, size_t errlen);

typedef struct {
    const char *listen_addr;   /* LISTEN_ADDR */
    const char *redis_url;     /* REDIS_URL */
    orgm_endpoint source;      /* SOURCE_REGISTRY */
    orgm_endpoint destination; /* DESTINATION_REGISTRY */
    orgm_globs tag_globs;      /* TAG_GLOB */
    long sync_interval;        /* SYNC_INTERVAL seconds */
    bool dry_run;              /* DRY_RUN */
    bool debug;                /* DEBUG: every Quay call logged */
    bool recreate;             /* RECREATE_MIRROR_CONFIG */
    bool verify_tls;           /* VERIFY_TLS */
    long skopeo_timeout;       /* SKOPEO_TIMEOUT_INTERVAL (>= 300) */
    orgm_orgs orgs;            /* ORGANIZATIONS or ORG_MIRROR_CONFIG */
    const char *source_tokens_dir;
    const char *destination_tokens_dir;
    const char *robot_names_dir;
    const char *quay_username_file; /* QUAY_USERNAME_FILE, NULL = anonymous source pulls */
    const char *quay_password_file; /* QUAY_PASSWORD_FILE */
    const char *api_token_file;     /* API_TOKEN_FILE, NULL = POST endpoints answer 403 */
    orgm_mode mode;                 /* MODE */
    orgm_source_kind source_kind;   /* SOURCE_API: how the source is listed */
    const char *registry_auth_file; /* REGISTRY_AUTH_FILE (copy mode) */
    const char *mirror_queue;       /* MIRROR_QUEUE (copy mode) */
    const char *events_group;       /* EVENTS_GROUP */
    char queue_name[200];           /* QUEUE_NAME (default from the organizations) */
    long workers;                   /* QUAY_CONCURRENCY: worker threads */
    long max_attempts;              /* MAX_ATTEMPTS */
    double task_timeout;            /* TASK_TIMEOUT */
    double retry_backoff;           /* RETRY_BACKOFF: first queue retry delay */
    double run_timeout;             /* RUN_TIMEOUT */
    double grace_period;            /* GRACE_PERIOD */
    qs_log_level log_level;         /* LOG_LEVEL (DEBUG=true raises it to debug) */
    struct qs_conf *conf;           /* owns the strings */
} orgm_settings;

/** Read the settings from the environment. 0, or the number of problems (each logged). */
int orgm_settings_load(orgm_settings *s);
void orgm_settings_free(orgm_settings *s);
void orgm_settings_usage(FILE *out);
/** The default QUEUE_NAME for a set of organisations: "org-mirror:tasks:<a,b,...>" (sorted),
 *  or with a sha256 prefix of that list when it is long. Separate deployments (one overlay
 *  per organisation, the seed's layout) thus never take each other's tasks. */
void orgm_default_queue_name(const orgm_orgs *orgs, char *out, size_t outlen);

#endif
