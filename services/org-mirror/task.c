/* task.c — the payload of a repository task: which repository of which organisation, what
 * the run's listing said about its destination (so a no-op costs one call, the mirror config
 * GET, instead of two), and the generation of the run that queued it (so the worker need not
 * ask Redis for it). The listing is only a hint: a task retried later, or queued by an event,
 * finds out again what it needs; a task without a generation (an event's) has the worker read
 * the current one. `recreate` asks for the config to be PUT even when it looks the same (the
 * source account changed, runner.c). Parsing is strict; a payload that cannot be understood is
 * a permanent failure, never a crash. */
#include "org-mirror/task.h"

#include <stdio.h>
#include <string.h>

#include "shared/common.h"

bool orgm_repo_name_valid(const char *s) {
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || len > ORGM_REPO_MAX || s[0] == '/' || s[len - 1] == '/')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '/' && s[i + 1] == '/')
            return false;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-' || c == '/'))
            return false;
    }
    return true;
}

void orgm_task_key(const orgm_task *t, char *out, size_t outlen) {
    snprintf(out, outlen, "%s/%s", t->org, t->repository);
}

json_t *orgm_task_to_json(const orgm_task *t) {
    json_t *o = json_pack("{s:s,s:s,s:s}", "org", t->org, "repository", t->repository, "reason",
                          t->reason[0] ? t->reason : "run");
    if (o && t->state_known)
        json_object_set_new(o, "destination_state",
                            t->state[0] ? json_string(t->state) : json_string("absent"));
    if (o && t->is_public >= 0)
        json_object_set_new(o, "destination_public", json_boolean(t->is_public));
    if (o && t->gen > 0)
        json_object_set_new(o, "generation", json_integer(t->gen));
    if (o && t->recreate)
        json_object_set_new(o, "recreate", json_true());
    return o;
}

static const char *const known[] = {
    "org",        "repository", "reason", "destination_state", "destination_public",
    "generation", "recreate",   NULL};

int orgm_task_from_json(const json_t *j, orgm_task *t, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    t->is_public = -1;
    if (!json_is_object(j)) {
        snprintf(err, errlen, "task payload is not a JSON object");
        return QS_EINVAL;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)j, key, v) {
        size_t i = 0;
        while (known[i] && strcmp(known[i], key) != 0)
            i++;
        if (!known[i]) {
            snprintf(err, errlen, "task payload has an unknown field %.40s", key);
            return QS_EINVAL;
        }
    }
    const char *org = json_string_value(json_object_get(j, "org"));
    const char *repo = json_string_value(json_object_get(j, "repository"));
    const char *reason = json_string_value(json_object_get(j, "reason"));
    const json_t *state = json_object_get(j, "destination_state");
    const json_t *pub = json_object_get(j, "destination_public");
    const json_t *gen = json_object_get(j, "generation");
    const json_t *recreate = json_object_get(j, "recreate");
    if (!org || strlen(org) >= sizeof t->org || !orgm_repo_name_valid(repo)) {
        snprintf(err, errlen, "task payload needs org and a valid repository");
        return QS_EINVAL;
    }
    if ((state && (!json_is_string(state) || json_string_length(state) >= sizeof t->state)) ||
        (pub && !json_is_boolean(pub)) || (reason && strlen(reason) >= sizeof t->reason) ||
        (gen && (!json_is_integer(gen) || json_integer_value(gen) < 1)) ||
        (recreate && !json_is_boolean(recreate))) {
        snprintf(err, errlen,
                 "task payload has a malformed destination_state, "
                 "destination_public, reason, generation or recreate");
        return QS_EINVAL;
    }
    snprintf(t->org, sizeof t->org, "%s", org);
    snprintf(t->repository, sizeof t->repository, "%s", repo);
    snprintf(t->reason, sizeof t->reason, "%s", reason ? reason : "run");
    if (state) {
        t->state_known = true;
        const char *sv = json_string_value(state);
        snprintf(t->state, sizeof t->state, "%s", strcmp(sv, "absent") == 0 ? "" : sv);
    }
    if (pub)
        t->is_public = json_is_true(pub);
    t->gen = gen ? (long long)json_integer_value(gen) : 0;
    t->recreate = json_is_true(recreate);
    return QS_OK;
}
