/* mirrorcfg.c — building and comparing Quay repository mirror configs.
 *
 * The body carries every field the reference script sent plus the three it forgot
 * (is_enabled, external_registry_config, skopeo_timeout_interval — Quay ≥ 3.16 refuses a POST
 * without the last one), always with robot_username (Quay answers 500 without it). Both POST
 * and PUT send the whole body: a PUT that changes the username must carry the password too,
 * and one body for both keeps "what we want" in one place.
 *
 * The comparison decides whether a PUT is due, so that a second run writes nothing. It looks
 * only at what Quay gives back and what we control: sync_start_date moves forward after each
 * sync and the password is write-only, so neither can be compared. */
#include "org-mirror/mirrorcfg.h"

#include <stdio.h>
#include <string.h>

#include "shared/common.h"

void orgm_format_date(time_t t, char out[ORGM_DATE_LEN + 1]) {
    struct tm tm;
    gmtime_r(&t, &tm);
    if (strftime(out, ORGM_DATE_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        out[0] = '\0';
}

int orgm_external_reference(const orgm_mirror_want *w, char *out, size_t outlen) {
    int n = snprintf(out, outlen, "%s/%s/%s", w->source_host, w->source_org, w->repository);
    return n < 0 || (size_t)n >= outlen ? QS_ETOOBIG : QS_OK;
}

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

json_t *orgm_mirror_config(const orgm_mirror_want *w) {
    char ref[800], date[ORGM_DATE_LEN + 1];
    if (orgm_external_reference(w, ref, sizeof ref) != QS_OK)
        return NULL;
    orgm_format_date(w->now, date);
    json_t *globs = orgm_globs_to_json(w->globs);
    if (!globs)
        return NULL;
    /* Quay: a password needs its username in the same request; no username → neither */
    const char *pass = w->username ? w->password : NULL;
    return json_pack("{s:b,s:s,s:o,s:o,s:I,s:s,s:s,s:{s:s,s:o},s:{s:b},s:I}", "is_enabled", 1,
                     "external_reference", ref, "external_registry_username",
                     str_or_null(w->username), "external_registry_password", str_or_null(pass),
                     "sync_interval", (json_int_t)w->sync_interval, "sync_start_date", date,
                     "robot_username", w->robot, "root_rule", "rule_kind", "tag_glob_csv",
                     "rule_value", globs, "external_registry_config", "verify_tls", w->verify_tls,
                     "skopeo_timeout_interval", (json_int_t)w->skopeo_timeout);
}

static bool str_is(const json_t *v, const char *want) {
    if (!want)
        return !v || json_is_null(v);
    return json_is_string(v) && strcmp(json_string_value(v), want) == 0;
}

static bool int_is(const json_t *v, long want) {
    return json_is_integer(v) && json_integer_value(v) == want;
}

size_t orgm_mirror_diff(const json_t *current, const orgm_mirror_want *w,
                        const char *changed[ORGM_MAX_CHANGES], size_t *n) {
    *n = 0;
#define CHANGED(name) changed[(*n)++] = (name)
    char ref[800];
    if (orgm_external_reference(w, ref, sizeof ref) != QS_OK)
        ref[0] = '\0';
    if (!json_is_true(json_object_get(current, "is_enabled")))
        CHANGED("is_enabled");
    if (!str_is(json_object_get(current, "external_reference"), ref))
        CHANGED("external_reference");
    if (!str_is(json_object_get(current, "external_registry_username"), w->username))
        CHANGED("external_registry_username");
    if (!int_is(json_object_get(current, "sync_interval"), w->sync_interval))
        CHANGED("sync_interval");
    if (!str_is(json_object_get(current, "robot_username"), w->robot))
        CHANGED("robot_username");
    const json_t *rule = json_object_get(current, "root_rule");
    if (!str_is(json_object_get(rule, "rule_kind"), "tag_glob_csv") ||
        !orgm_globs_equal_json(w->globs, json_object_get(rule, "rule_value")))
        CHANGED("root_rule");
    const json_t *tls =
        json_object_get(json_object_get(current, "external_registry_config"), "verify_tls");
    bool cur_tls = tls ? json_is_true(tls) : true;
    if ((tls && !json_is_boolean(tls)) || cur_tls != w->verify_tls)
        CHANGED("external_registry_config.verify_tls");
    if (!int_is(json_object_get(current, "skopeo_timeout_interval"), w->skopeo_timeout))
        CHANGED("skopeo_timeout_interval");
#undef CHANGED
    return *n;
}
