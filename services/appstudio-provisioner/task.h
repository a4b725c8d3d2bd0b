/* task.h — the provisioner's queue tasks: "reconcile this component / workspace". */
#ifndef PROV_TASK_H
#define PROV_TASK_H

#include <jansson.h>
#include <stddef.h>

#include "shared/queue.h"

#define PROV_QUEUE "provisioner:tasks"
#define PROV_GROUP "provisioner-workers"

typedef enum { PROV_TASK_COMPONENT = 0, PROV_TASK_WORKSPACE } prov_task_kind;

/** A task names what to reconcile; what is wanted is in the record (status.h), so a newer
 *  task replacing a waiting one (same dedupe key) never loses a request. */
typedef struct {
    prov_task_kind kind;
    char workspace[256];
    char component[256]; /* "" for a workspace task */
} prov_task;

/** The payload (proto/provisioner-task.schema.json): {"kind","workspace"[,"component"]}. */
json_t *prov_task_to_json(const prov_task *t);
/** Parse a payload. 0, or QS_EINVAL with a reason. */
int prov_task_from_json(const json_t *j, prov_task *t, char *err, size_t errlen);
/** The dedupe key: "c:<ws>/<component>" or "w:<ws>". */
void prov_task_key(const prov_task *t, char *out, size_t outlen);
/** Enqueue (dedupe by key). 0 or the queue's error. */
int prov_task_enqueue(qs_queue *q, const prov_task *t);

#endif
