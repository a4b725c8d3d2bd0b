/* config.h — the proxy's settings, read from the environment (see `proxy --help`). */
#ifndef PROXY_CONFIG_H
#define PROXY_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "shared/log.h"

typedef struct {
    const char *listen_addr;  /* LISTEN_ADDR */
    char exposed_scheme[8];   /* "https" or "http" (from EXPOSED_HOST's prefix or TLS) */
    char exposed_host[256];   /* EXPOSED_HOST without scheme */
    const char *upstream_url; /* UPSTREAM_URL, no trailing slash */
    char **repositories;      /* UPSTREAM_REPOSITORY + ALLOWED_REPOSITORIES */
    size_t nrepositories;
    const char *robot_username_file;
    const char *robot_password_file;
    const char *token_secret_file;
    double token_validity; /* TOKEN_VALIDITY seconds */
    const char *tls_cert_file;
    const char *tls_key_file;
    const char *kube_api_url;
    const char *kube_token_file;
    const char *kube_ca_file;
    const char *sar_namespace;
    double token_review_ttl;      /* TOKEN_REVIEW_TTL seconds */
    double renew_interval;        /* ROBOT_TOKEN_CHECK_INTERVAL seconds */
    const char *redis_url;        /* REDIS_URL, NULL = none */
    const char *upstream_ca_file; /* UPSTREAM_CA_FILE */
    double grace_period;          /* GRACE_PERIOD seconds */
    qs_log_level log_level;
    struct qs_conf *conf; /* owns the strings above */
} proxy_config;

/** Read the configuration from the environment. Returns 0, or the number of problems (each
 *  already logged). Strings stay valid until proxy_config_free. */
int proxy_config_load(proxy_config *cfg);
void proxy_config_free(proxy_config *cfg);
/** Print the `--help` text. */
void proxy_config_usage(FILE *out);

#endif
