/* task.c — the mirror task: what is queued in Redis and shown by the HTTP API.
 *
 * The payload keeps the original's field names (source_tag_ref, source, destination,
 * current_quay_digest, created_at, stale, owner) so dashboards and people reading the queue
 * see what they know; attempts and last_error come from the queue itself. Parsing is strict:
 * a task that cannot be understood is a permanent failure, never a crash. */
#include "mirror/task.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/common.h"

int mirror_wants_add(mirror_wants *w, const mirror_want *item) {
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        mirror_want *v = realloc(w->v, cap * sizeof *v);
        if (!v)
            return QS_ENOMEM;
        w->v = v;
        w->cap = cap;
    }
    w->v[w->n++] = *item;
    return QS_OK;
}

void mirror_wants_free(mirror_wants *w) {
    free(w->v);
    w->v = NULL;
    w->n = w->cap = 0;
}

static const char *const owners[] = {"imagestream", "supplemental", "art",
                                     "qci",         "api",          "org-mirror"};

json_t *mirror_task_to_json(const mirror_task *t) {
    return json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:b}", "source_tag_ref", t->want.source_tag_ref, "source",
        t->want.source, "destination", t->want.destination, "source_digest", t->source_digest,
        "current_quay_digest", t->current_quay_digest, "created_at", t->created_at, "owner",
        t->want.owner ? t->want.owner : "api", "stale", t->stale, "date_tag", t->want.date_tag);
}

static int copy_str(const json_t *j, const char *key, char *out, size_t outlen, bool required,
                    char *err, size_t errlen) {
    const json_t *v = json_object_get(j, key);
    if (!v && !required) {
        out[0] = '\0';
        return QS_OK;
    }
    if (!json_is_string(v) || (required && !json_string_length(v)) ||
        json_string_length(v) >= outlen) {
        snprintf(err, errlen, "task field %s is missing, not a string or too long", key);
        return QS_EINVAL;
    }
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return QS_OK;
}

int mirror_task_from_json(const json_t *j, mirror_task *t, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    if (!json_is_object(j)) {
        snprintf(err, errlen, "task payload is not a JSON object");
        return QS_EINVAL;
    }
    int rc = copy_str(j, "source", t->want.source, sizeof t->want.source, true, err, errlen);
    if (!rc)
        rc = copy_str(j, "destination", t->want.destination, sizeof t->want.destination, true, err,
                      errlen);
    if (!rc)
        rc = copy_str(j, "source_tag_ref", t->want.source_tag_ref, sizeof t->want.source_tag_ref,
                      false, err, errlen);
    if (!rc)
        rc = copy_str(j, "source_digest", t->source_digest, sizeof t->source_digest, false, err,
                      errlen);
    if (!rc)
        rc = copy_str(j, "current_quay_digest", t->current_quay_digest,
                      sizeof t->current_quay_digest, false, err, errlen);
    if (!rc)
        rc = copy_str(j, "created_at", t->created_at, sizeof t->created_at, false, err, errlen);
    if (rc)
        return rc;
    const char *owner = json_string_value(json_object_get(j, "owner"));
    t->want.owner = "api";
    for (size_t i = 0; owner && i < QS_ARRAY_LEN(owners); i++)
        if (strcmp(owner, owners[i]) == 0)
            t->want.owner = owners[i];
    t->stale = json_is_true(json_object_get(j, "stale"));
    t->want.date_tag = json_is_true(json_object_get(j, "date_tag"));
    return QS_OK;
}
