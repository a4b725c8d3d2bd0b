/* mirrorcfg.h — the Quay repository mirror config org-mirror wants (reference/quay.md B.5),
 * and how it differs from the one a repository has. Pure: no I/O. */
#ifndef ORGM_MIRRORCFG_H
#define ORGM_MIRRORCFG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "org-mirror/tagglob.h"

#define ORGM_DATE_LEN 20 /* "2025-01-31T12:00:00Z" */
#define ORGM_MAX_CHANGES 12

/** Everything that goes into one repository's mirror config. */
typedef struct {
    const char *source_host; /* host[:port] of the source (no scheme) */
    const char *source_org;  /* namespace at the source */
    const char *repository;  /* repository name (the same at both ends) */
    const char *username;    /* external_registry_username, NULL = none (anonymous pulls) */
    const char *password;    /* external_registry_password, NULL = none; never compared */
    long sync_interval;      /* seconds, >= 1 */
    const char *robot;       /* robot_username "org+short" */
    const orgm_globs *globs; /* root_rule tag_glob_csv */
    bool verify_tls;         /* external_registry_config.verify_tls */
    long skopeo_timeout;     /* skopeo_timeout_interval, >= 300 */
    time_t now;              /* sync_start_date */
} orgm_mirror_want;

/** "%Y-%m-%dT%H:%M:%SZ" of t in UTC (the only format Quay accepts). */
void orgm_format_date(time_t t, char out[ORGM_DATE_LEN + 1]);

/** The full config body for POST or PUT: is_enabled, external_reference
 *  ("host/org/repo"), external_registry_username and _password (username with password, as
 *  Quay requires; both null when there is no username), sync_interval, sync_start_date,
 *  robot_username, root_rule, external_registry_config.verify_tls, skopeo_timeout_interval.
 *  New reference, NULL on ENOMEM. */
json_t *orgm_mirror_config(const orgm_mirror_want *w);

/** The fields of `current` (Quay's GET answer) that differ from what `w` wants, as names
 *  ("external_reference", "root_rule", "external_registry_config.verify_tls", ...) into
 *  changed[0..*n). sync_start_date is not compared (Quay moves it after every sync), nor the
 *  password (Quay never returns it: RECREATE_MIRROR_CONFIG pushes a changed one). A missing
 *  field counts as different, except verify_tls (Quay's default: true). Returns *n. */
size_t orgm_mirror_diff(const json_t *current, const orgm_mirror_want *w,
                        const char *changed[ORGM_MAX_CHANGES], size_t *n);

/** "host/org/repo" into out. 0, or QS_ETOOBIG. */
int orgm_external_reference(const orgm_mirror_want *w, char *out, size_t outlen);

#endif
