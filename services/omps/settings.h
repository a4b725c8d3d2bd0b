/* settings.h — the omps service's settings: environment variables (see `omps --help`) and the
 * YAML file named by OMPS_CONF_FILE (conf_file.h). A variable that is set wins over the same
 * key (lower case) in the file, which wins over the default. */
#ifndef OMPS_SETTINGS_H
#define OMPS_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "omps/conf_file.h"
#include "shared/log.h"

typedef struct {
    const char *listen_addr;             /* LISTEN_ADDR */
    const char *quay_url;                /* QUAY_URL, without a trailing '/' */
    const char *kojihub_url;             /* KOJIHUB_URL */
    const char *kojiroot_url;            /* KOJIROOT_URL */
    const char *redis_url;               /* REDIS_URL */
    const char *conf_file;               /* OMPS_CONF_FILE, NULL = none */
    const char *ca_url;                  /* CA_URL, NULL = none */
    const char *default_release_version; /* DEFAULT_RELEASE_VERSION */
    double request_timeout;              /* REQUEST_TIMEOUT, seconds */
    double push_timeout;                 /* PUSH_TIMEOUT, seconds */
    double lock_ttl;                     /* derived: how long a push may hold its lock */
    int64_t max_uncompressed;            /* ZIPFILE_MAX_UNCOMPRESSED_SIZE, bytes */
    int64_t max_content_length;          /* MAX_CONTENT_LENGTH, bytes */
    long workers;                        /* WORKERS_NUM: requests handled at once */
    double grace_period;                 /* GRACE_PERIOD: SIGTERM waits this for requests */
    qs_log_level log_level;              /* LOG_LEVEL */
    omps_conf_file file;                 /* the organizations and the file's values */
    struct qs_conf *conf;                /* owns the strings; holds the problems found */
} omps_settings;

/** Read the environment and OMPS_CONF_FILE. 0, or the number of problems, which are kept in
 *  s->conf (qs_conf_check logs them all, qs_conf_error_at reads them). *s must be freed with
 *  omps_settings_free in any case. */
int omps_settings_load(omps_settings *s);
void omps_settings_free(omps_settings *s);
/** `omps --help`: what the service does, every variable with its default, the endpoints. */
void omps_settings_usage(FILE *out);

#endif
