/* status.h — a component's and a workspace's record: what was asked (spec), what the workers
 * did (status), how the two make the state a client sees, and their Redis hash form. Pure. */
#ifndef PROV_STATUS_H
#define PROV_STATUS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "appstudio-provisioner/names.h"

#define PROV_MSG_LEN 512
#define PROV_STATE_LEN 16 /* "ready", "failed" */
#define PROV_TS_LEN 32

/** One component. A generation counts the requests (PUT, PATCH, rotate, DELETE); a worker
 *  run works on the generation it read and records it as `observed` when it finishes, so a
 *  request arriving during a run shows "provisioning" until the next run has seen it. */
typedef struct {
    long long rev; /* compare-and-set revision of the Redis record; 0 = no record */
    char workspace[256];
    char component[256];
    prov_names names;
    /* spec: written by the API */
    long long generation;
    bool want_public;
    long long rotate; /* rotation requests so far */
    bool deleting;
    long long requested_ms; /* when the current generation was requested */
    char created_at[PROV_TS_LEN];
    /* status: written by the workers */
    long long observed;             /* generation of the last finished run; 0 = none yet */
    char state[PROV_STATE_LEN];     /* outcome of that run: "ready" or "failed" */
    char message[PROV_MSG_LEN];     /* its message (why it failed) */
    char progress[PROV_MSG_LEN];    /* while provisioning: the last retry's reason */
    long long rotated;              /* rotation requests carried out */
    int is_public;                  /* visibility of the repository: -1 unknown, 0, 1 */
    char generated_at[PROV_TS_LEN]; /* when the tokens in the Secrets were made */
    bool announced;                 /* repository.created was published for it */
} prov_component;

typedef enum { PROV_REQ_PUT, PROV_REQ_PATCH, PROV_REQ_ROTATE, PROV_REQ_DELETE } prov_request;
typedef enum { PROV_OUT_READY, PROV_OUT_FAILED, PROV_OUT_RETRYING } prov_outcome;

/** A new record for PUT: names, spec defaults. */
void prov_component_init(prov_component *c, const char *workspace, const char *component,
                         const prov_names *names, const char *created_at);

/** The API's transition. `visibility` is -1 (unchanged), 0 (private) or 1 (public).
 *  PUT/PATCH/ROTATE/DELETE bump the generation and clear the retry reason. 0;
 *  QS_ENOTFOUND: no such component (rev 0) for PATCH/ROTATE/DELETE; QS_ECONFLICT: it is
 *  being deleted (only DELETE is accepted then). */
int prov_request_apply(prov_component *c, prov_request req, int visibility, long long now_ms);

/** A worker's transition for a run on generation `gen`: READY or FAILED finish the run
 *  (observed = gen, state, message); RETRYING only records the reason (`message`) as
 *  progress. */
void prov_outcome_apply(prov_component *c, long long gen, prov_outcome o, const char *message);

/** What a client sees: "deleting", "provisioning", "ready" or "failed". Its message: the
 *  last retry's reason while provisioning or deleting (while deleting, else the reason the
 *  last deletion run failed), the run's message when ready or failed. */
const char *prov_view_state(const prov_component *c);
/** The client's JSON view ({"workspace","component","state","message","image":{"url",
 *  "visibility"},"credentials":{...},...}). New reference. */
json_t *prov_component_view(const prov_component *c);

/** The record as Redis hash field/value pairs (a JSON object of strings; no "rev"). */
json_t *prov_component_fields(const prov_component *c);
/** Parse HGETALL's pairs (an object of strings, may be empty → rev 0). 0 or QS_EINVAL when
 *  a record exists but is unreadable. */
int prov_component_parse(const json_t *fields, prov_component *c);

/** One workspace: its organization (per-workspace mode) and its deletion. */
typedef struct {
    long long rev;
    char workspace[256];
    char org[PROV_NAME_LEN];
    char namespace_[PROV_K8S_NAME_LEN];
    long long generation;
    bool deleting;
    long long requested_ms;
    char created_at[PROV_TS_LEN];
    long long observed;
    char state[PROV_STATE_LEN];
    char message[PROV_MSG_LEN];
    char progress[PROV_MSG_LEN];
    bool org_ready; /* the organization was created (or found) */
} prov_workspace;

void prov_workspace_init(prov_workspace *w, const char *workspace, const prov_names *names,
                         const char *created_at);
/** PUT (deleting=false) or DELETE (true) of an initialised record (the caller decides
 *  whether a workspace without a record may be deleted: it may when it has components).
 *  0; QS_ECONFLICT (PUT while being deleted). */
int prov_workspace_request(prov_workspace *w, bool delete_, long long now_ms);
void prov_workspace_outcome(prov_workspace *w, long long gen, prov_outcome o, const char *message);
const char *prov_workspace_state(const prov_workspace *w);
json_t *prov_workspace_view(const prov_workspace *w, size_t components);
json_t *prov_workspace_fields(const prov_workspace *w);
int prov_workspace_parse(const json_t *fields, prov_workspace *w);

/** RFC 3339 UTC of `t` (seconds) into out (PROV_TS_LEN). */
void prov_timestamp(long long t, char *out);

#endif
