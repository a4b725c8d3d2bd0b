/* task.c — provisioner task payloads and their dedupe keys.
 *
 * A task only says which component or workspace to reconcile; the request itself (visibility,
 * a rotation, a deletion) lives in the record. The queue keeps at most one waiting task per
 * key and replaces it in place, and runs a new one after the one in progress, so any burst of
 * requests for one component costs at most two runs and none is lost. */
#include "appstudio-provisioner/task.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appstudio-provisioner/names.h"
#include "shared/common.h"

json_t *prov_task_to_json(const prov_task *t) {
    if (t->kind == PROV_TASK_WORKSPACE)
        return json_pack("{s:s, s:s}", "kind", "workspace", "workspace", t->workspace);
    return json_pack("{s:s, s:s, s:s}", "kind", "component", "workspace", t->workspace, "component",
                     t->component);
}

int prov_task_from_json(const json_t *j, prov_task *t, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    const char *kind = json_string_value(json_object_get(j, "kind"));
    const char *ws = json_string_value(json_object_get(j, "workspace"));
    const char *c = json_string_value(json_object_get(j, "component"));
    if (!json_is_object(j) || !kind || !ws || !prov_input_valid(ws)) {
        snprintf(err, errlen, "a task needs \"kind\" and a valid \"workspace\"");
        return QS_EINVAL;
    }
    if (strcmp(kind, "workspace") == 0) {
        t->kind = PROV_TASK_WORKSPACE;
    } else if (strcmp(kind, "component") == 0 && c && prov_input_valid(c)) {
        t->kind = PROV_TASK_COMPONENT;
        snprintf(t->component, sizeof t->component, "%s", c);
    } else {
        snprintf(err, errlen, "unknown task kind, or a component task without a valid component");
        return QS_EINVAL;
    }
    snprintf(t->workspace, sizeof t->workspace, "%s", ws);
    return QS_OK;
}

void prov_task_key(const prov_task *t, char *out, size_t outlen) {
    if (t->kind == PROV_TASK_WORKSPACE)
        snprintf(out, outlen, "w:%s", t->workspace);
    else
        snprintf(out, outlen, "c:%s/%s", t->workspace, t->component);
}

int prov_task_enqueue(qs_queue *q, const prov_task *t) {
    json_t *j = prov_task_to_json(t);
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    if (!text)
        return QS_ENOMEM;
    char key[600];
    prov_task_key(t, key, sizeof key);
    int rc = qs_queue_enqueue(q, text, key, NULL);
    free(text);
    return rc;
}
