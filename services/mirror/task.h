/* task.h — a wanted mirror (what the sources produce) and the task queued for it. */
#ifndef MIRROR_TASK_H
#define MIRROR_TASK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define MIRROR_REF_LEN 600

/** One image that should be at a destination: produced by a source, compared by the
 *  controller, queued as a task when the digests differ. */
typedef struct {
    char source[MIRROR_REF_LEN];      /* pull spec host/repo[:tag][@digest] */
    char destination[MIRROR_REF_LEN]; /* host/repo:tag */
    char source_tag_ref[300];         /* "ns/name:tag" the mirror is named after, "" if none */
    const char *owner;                /* "imagestream", "supplemental", "art", "qci", "api" */
    bool date_tag;                    /* also tag <YYYYMMDD>_sha256_<hex> at the destination */
} mirror_want;

typedef struct {
    mirror_want *v;
    size_t n, cap;
} mirror_wants;

/** Append a copy. 0 or QS_ENOMEM. */
int mirror_wants_add(mirror_wants *w, const mirror_want *item);
void mirror_wants_free(mirror_wants *w);

/** The queued task: the want plus what the controller saw. */
typedef struct {
    mirror_want want;
    char source_digest[80];       /* digest the controller saw at the source */
    char current_quay_digest[80]; /* digest at the destination then, "" when absent */
    char created_at[32];          /* RFC 3339 */
    bool stale;                   /* the destination image was older than a day */
} mirror_task;

/** The JSON payload stored in the queue (schema: proto/mirror-task.schema.json). */
json_t *mirror_task_to_json(const mirror_task *t);
/** Parse a payload; 0, or QS_EINVAL with a reason in err (missing/invalid fields). The owner
 *  string is mapped to a static one. */
int mirror_task_from_json(const json_t *j, mirror_task *t, char *err, size_t errlen);

#endif
