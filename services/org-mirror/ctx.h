/* ctx.h — what every part of the org-mirror service shares: the settings, one Quay client per
 * organisation and side, the source credentials for Quay's mirror worker, the registries of
 * copy mode, and the service's metrics. Built once by main.c; read-only afterwards (the
 * clients are safe to use from several threads). */
#ifndef ORGM_CTX_H
#define ORGM_CTX_H

#include <stddef.h>

#include "org-mirror/settings.h"
#include "shared/authfile.h"
#include "shared/config.h"
#include "shared/http_client.h"
#include "shared/metrics.h"
#include "shared/quay.h"
#include "shared/registry.h"

typedef struct {
    const orgm_settings *s;
    qs_http *http;
    qs_quay **src;        /* per organisation (index of s->orgs); NULL with SOURCE_API=registry */
    qs_quay **dst;        /* per organisation; NULL in copy mode */
    qs_secret *username;  /* QUAY_USERNAME_FILE, NULL = anonymous source pulls */
    qs_secret *password;  /* QUAY_PASSWORD_FILE */
    qs_secret **robot;    /* per organisation: its ROBOT_NAMES_DIR file, NULL = none */
    qs_authfile *auth;    /* copy mode: REGISTRY_AUTH_FILE, may be NULL */
    qs_registry *src_reg; /* copy mode: the source and destination registries */
    qs_registry *dst_reg;
    struct orgm_reg_ctx *reg_ctx[2]; /* their credential lookups (private) */
    qs_metric *m_runs;               /* org_mirror_runs_total{org,result} */
    qs_metric *m_run_secs;           /* org_mirror_run_duration_seconds{org} */
    qs_metric *m_repos;              /* org_mirror_repositories{org,outcome} (last run) */
    qs_metric *m_states;             /* org_mirror_destination_repositories{org,state} */
    qs_metric *m_tasks;              /* org_mirror_tasks_total{outcome} */
} orgm_ctx;

/** Build the clients. 0, or an error with a message (a client could not be made). */
int orgm_ctx_init(orgm_ctx *c, const orgm_settings *s, qs_http *http, char *err, size_t errlen);
void orgm_ctx_free(orgm_ctx *c);
/** The index of organisation `name` in s->orgs, or (size_t)-1. */
size_t orgm_ctx_org(const orgm_ctx *c, const char *name);
/** The full robot name of organisation `oi`: from ORG_MIRROR_CONFIG, else its ROBOT_NAMES_DIR
 *  file (re-read when it changes — one stat per call, as every repository asks). 0, or
 *  QS_EINVAL with a reason (no robot, an empty file, a robot of another organisation). */
int orgm_ctx_robot(orgm_ctx *c, size_t oi, char *full, size_t fulllen, char *err, size_t errlen);
/** The source account for Quay's mirror worker (malloc'd, qs_secret_release them); both NULL
 *  when none is configured. 0, or QS_ENOTFOUND / QS_EINVAL when configured but unreadable. */
int orgm_ctx_source_account(orgm_ctx *c, char **user, char **pass);

#endif
