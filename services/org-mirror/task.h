/* task.h — one repository's task on org-mirror's queue (proto/org-mirror-task.schema.json). */
#ifndef ORGM_TASK_H
#define ORGM_TASK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define ORGM_REPO_MAX 255

typedef struct {
    char org[256];                      /* source organisation */
    char repository[ORGM_REPO_MAX + 1]; /* repository name (may hold '/') */
    bool state_known;                   /* the run saw the destination (a hint, not a promise) */
    char state[16];                     /* its state then; "" = absent */
    int is_public;                      /* 1, 0, or -1 unknown */
    char reason[16];                    /* "run", "event", "api" */
    long long gen;                      /* the queueing run's generation; 0 = none (event) */
    bool recreate;                      /* PUT the config even when it looks the same: the
                                           source account changed (runner.c) */
} orgm_task;

/** Is `s` a repository name Quay accepts (1..255 of a-z 0-9 . _ - /, no leading, trailing or
 *  doubled '/')? */
bool orgm_repo_name_valid(const char *s);
/** The queue's dedupe key "<org>/<repository>" into out. */
void orgm_task_key(const orgm_task *t, char *out, size_t outlen);
/** The payload (new reference; NULL on ENOMEM). */
json_t *orgm_task_to_json(const orgm_task *t);
/** Parse a payload strictly. 0, or QS_EINVAL with the reason. */
int orgm_task_from_json(const json_t *j, orgm_task *t, char *err, size_t errlen);

#endif
