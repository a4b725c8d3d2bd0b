/* store.h — component and workspace records in Redis, updated by compare-and-set. */
#ifndef PROV_STORE_H
#define PROV_STORE_H

#include <stddef.h>

#include "appstudio-provisioner/status.h"
#include "shared/redis.h"

/** Returned by an update function: delete the record instead of saving it. */
#define PROV_STORE_REMOVE 1

/** Load a component; c->rev == 0 when it does not exist. 0, QS_EUNAVAIL, QS_EINVAL. */
int prov_store_component_load(qs_redis *r, const char *ws, const char *component,
                              prov_component *c);
/** An update: change *c (loaded, rev 0 when absent) and return 0 to save it,
 *  PROV_STORE_REMOVE to delete it, or a negative qs_err to stop without writing. */
typedef int (*prov_component_fn)(prov_component *c, void *ctx);
/** Load, apply `fn`, write if the record did not change meanwhile (else start over, up to 20
 *  times). `out` (may be NULL) gets the record as written. Returns fn's error, or 0,
 *  QS_EUNAVAIL, QS_ECONFLICT (kept losing). */
int prov_store_component_update(qs_redis *r, const char *ws, const char *component,
                                prov_component_fn fn, void *ctx, prov_component *out);
/** The components of a workspace (names, sorted; free with prov_store_names_free). */
int prov_store_components(qs_redis *r, const char *ws, char ***names, size_t *n);
void prov_store_names_free(char **names, size_t n);

int prov_store_workspace_load(qs_redis *r, const char *ws, prov_workspace *w);
typedef int (*prov_workspace_fn)(prov_workspace *w, void *ctx);
int prov_store_workspace_update(qs_redis *r, const char *ws, prov_workspace_fn fn, void *ctx,
                                prov_workspace *out);

/** Components per visible state: counts[0..3] = provisioning, ready, failed, deleting. */
int prov_store_count_states(qs_redis *r, long long counts[4]);
extern const char *const PROV_STATES[4];

#endif
