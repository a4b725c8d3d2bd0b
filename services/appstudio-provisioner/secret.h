/* secret.h — the registry credentials Secrets: rendering (pure) and writing them through the
 * Kubernetes API. */
#ifndef PROV_SECRET_H
#define PROV_SECRET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "shared/kube.h"

#define PROV_MANAGED_BY_LABEL "app.kubernetes.io/managed-by"
#define PROV_MANAGED_BY "appstudio-provisioner"
#define PROV_ROLE_LABEL "quayside.io/credentials"

/** What one Secret holds. */
typedef struct {
    const char *namespace_;
    const char *name;
    const char *image;      /* "<registry>/<org>/<repo>": the auths key */
    const char *robot_full; /* "<org>+<robot>" */
    const char *token;      /* the robot's token (never logged) */
    const char *role;       /* "push" or "pull" */
    const char *workspace;  /* annotations */
    const char *component;
} prov_secret_spec;

/** The `.dockerconfigjson` text: {"auths":{"<image>":{"auth":"<base64(robot_full:token)>"}}}
 *  (compact, keys sorted). malloc'd; NULL on ENOMEM. Pure. */
char *prov_dockerconfig_render(const char *image, const char *robot_full, const char *token);

/** The whole Secret object: kind Secret, type kubernetes.io/dockerconfigjson, labelled
 *  app.kubernetes.io/managed-by=appstudio-provisioner and quayside.io/credentials=<role>,
 *  annotated with the workspace, component, image and robot, `data` holding the base64 of
 *  the rendered config. New reference; NULL on ENOMEM. Pure. */
json_t *prov_secret_object(const prov_secret_spec *s);

/** Does `existing` (a Secret as the API returned it) already hold what `wanted` would
 *  write: same type and data, our labels and annotations? Pure. */
bool prov_secret_matches(const json_t *existing, const json_t *wanted);

/** Create or replace `wanted` in its namespace. With `create_first` it POSTs at once (a
 *  409 falls back to compare-and-replace); otherwise it GETs first and writes only when the
 *  Secret is missing or differs. A replace carries the resourceVersion it read, merges the
 *  Secret's other labels and annotations, and is retried on a 409 Conflict. *changed tells
 *  whether anything was written. 0; QS_EUNAVAIL (API down, 5xx, 401/403 of our own service
 *  account: retry later); QS_ENOTFOUND (the namespace does not exist); QS_EINVAL (refused as
 *  invalid); QS_ECONFLICT (kept losing races). `err` gets a message without secrets. */
int prov_secret_apply(qs_kube *k, const json_t *wanted, bool create_first, bool *changed, char *err,
                      size_t errlen);

/** Delete one Secret; a missing one is fine. 0 or as prov_secret_apply. */
int prov_secret_delete(qs_kube *k, const char *namespace_, const char *name, char *err,
                       size_t errlen);

#endif
