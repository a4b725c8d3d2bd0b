/* provision.h — one run of the provisioner's work: a component or a workspace made (or
 * unmade) to match its record, in Quay and in Kubernetes. */
#ifndef PROV_PROVISION_H
#define PROV_PROVISION_H

#include <stdbool.h>

#include "appstudio-provisioner/settings.h"
#include "appstudio-provisioner/status.h"
#include "shared/kube.h"
#include "shared/quay.h"
#include "shared/queue.h"
#include "shared/redis.h"

/** What a run needs (borrowed). `redis` is the worker's own connection (records, events);
 *  `queue` (on it; may be NULL) takes the component tasks a workspace deletion asks for. */
typedef struct {
    const prov_settings *s;
    qs_quay *quay;
    qs_kube *kube;
    qs_redis *redis;
    qs_queue *queue;
} prov_env;

typedef enum {
    PROV_RUN_DONE,    /* finished: ready, or deleted */
    PROV_RUN_FAILED,  /* finished: asking again will not help (402, a refused name, ...) */
    PROV_RUN_RETRY,   /* not finished: Quay or Kubernetes unavailable; try again later */
    PROV_RUN_REMOVED, /* the record is gone (deleted, or never existed): nothing to do */
} prov_run_result;

/** What a component run learned, for its record. */
typedef struct {
    prov_run_result result;
    char message[PROV_MSG_LEN]; /* why it failed or must be retried (no secrets) */
    int is_public;              /* the repository's visibility now (-1 unknown) */
    bool tokens_new;            /* robots created or tokens regenerated in this run */
    bool repo_created;          /* this run created the repository */
    bool announced;             /* this run published repository.created */
    long long rotated;          /* rotation requests now carried out */
} prov_run;

/** Reconcile component `c` (a snapshot of its record): create or verify the organization
 *  (per-workspace mode), repository, visibility, push and pull robots, their permissions,
 *  rotate tokens when asked, write both Secrets, publish repository.created the first time
 *  the component is ready (c->announced false) and whenever the run created the repository
 *  — or, when it is being deleted, remove Secrets, robots and the repository (unless
 *  KEEP_REPOSITORIES). Never records anything itself (see worker.c). */
void prov_component_run(const prov_env *env, const prov_component *c, prov_run *out);

/** Reconcile workspace `w`: ensure the organization (per-workspace mode). When it is being
 *  deleted: every component still recorded is marked for deletion and its own task queued
 *  (so a component's runs never overlap, whoever asked), and the run is to be retried while
 *  any remains; once none does, the organization is deleted (per-workspace mode, unless
 *  KEEP_REPOSITORIES). */
void prov_workspace_run(const prov_env *env, const prov_workspace *w, prov_run *out);

#endif
