/* rest_mirror.c — the Quay emulator's repository mirror configurations (reference quay.md
 * B.5): GET/POST/PUT .../mirror, POST .../mirror/sync-now and .../mirror/sync-cancel.
 *
 * Follows endpoints/api/mirror.py of a Quay ≥ 3.16: the JSON schema (skopeo_timeout_interval
 * required on create, 300..43200) is checked first with jsonschema's messages; then POST
 * answers 404 for a missing repository, 409 {"detail":"Mirror configuration already exits
 * for repository ns/r"} (sic), 400 {"detail"} for a date not exactly %Y-%m-%dT%H:%M:%SZ, for
 * a bad external_reference or a password without a username, 500 (Flask's page) when
 * robot_username is missing (Quay's KeyError) or an unknown key is sent (Quay passes the body
 * as keyword arguments), 400 {"message"} for a robot that does not exist or belongs to another
 * namespace; success grants the robot write, sets the repository state MIRROR and answers
 * 201 with the body `""`. PUT applies the fields one after the other in Quay's order and
 * stops at the first error — the changes before it stay applied, as in Quay — and answers 201
 * `""` even when nothing changed; it ignores unsigned_images as Quay does. The password is
 * kept but never shown. Mirror endpoints of a repository in state ORG_MIRROR answer 400. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emu.h"
#include "rest_internal.h"
#include "shared/common.h"

#define REF_INVALID                                                                                \
    "Invalid external reference: expected host[:port]/namespace/repository without a scheme, "     \
    "whitespace or any of ?#\\%"

static const char *const known_keys[] = {"is_enabled",
                                         "external_reference",
                                         "external_registry_username",
                                         "sync_start_date",
                                         "external_registry_password",
                                         "sync_interval",
                                         "robot_username",
                                         "root_rule",
                                         "external_registry_config",
                                         "skopeo_timeout_interval",
                                         "architecture_filter"};

/* ---- schema ---- */

static bool opt_type(rest_ctx *c, const json_t *obj, const char *key, const char *types) {
    const json_t *v = json_object_get(obj, key);
    return !v || rest_type(c, v, types);
}

static bool strings_in(rest_ctx *c, const json_t *arr, const char *const *allowed, size_t n) {
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v) {
        if (!rest_type(c, v, "string") || (allowed && !rest_enum(c, v, allowed, n)))
            return false;
    }
    return true;
}

static bool root_rule_ok(rest_ctx *c, const json_t *rule) {
    static const char *const kinds[] = {"tag_glob_csv"};
    return rest_type(c, rule, "object") && rest_required(c, rule, "rule_kind") &&
           rest_required(c, rule, "rule_value") &&
           rest_type(c, json_object_get(rule, "rule_kind"), "string") &&
           rest_enum(c, json_object_get(rule, "rule_kind"), kinds, 1) &&
           rest_type(c, json_object_get(rule, "rule_value"), "array") &&
           strings_in(c, json_object_get(rule, "rule_value"), NULL, 0);
}

static bool registry_config_ok(rest_ctx *c, const json_t *cfg) {
    if (!rest_type(c, cfg, "object") || !opt_type(c, cfg, "verify_tls", "boolean") ||
        !opt_type(c, cfg, "unsigned_images", "boolean") || !opt_type(c, cfg, "proxy", "object"))
        return false;
    const json_t *proxy = json_object_get(cfg, "proxy");
    return !proxy || (opt_type(c, proxy, "http_proxy", "string|null") &&
                      opt_type(c, proxy, "https_proxy", "string|null") &&
                      opt_type(c, proxy, "no_proxy", "string|null"));
}

static bool mirror_schema(rest_ctx *c, const json_t *b, bool create) {
    static const char *const required[] = {"external_reference", "sync_interval", "sync_start_date",
                                           "root_rule", "skopeo_timeout_interval"};
    static const char *const arches[] = {"amd64", "arm64", "ppc64le", "s390x"};
    for (size_t i = 0; create && i < QS_ARRAY_LEN(required); i++)
        if (!rest_required(c, b, required[i]))
            return false;
    const json_t *v;
    if (!opt_type(c, b, "is_enabled", "boolean") ||
        !opt_type(c, b, "external_reference", "string") ||
        !opt_type(c, b, "external_registry_username", "string|null") ||
        !opt_type(c, b, "external_registry_password", "string|null") ||
        !opt_type(c, b, "sync_start_date", "string") ||
        !opt_type(c, b, "sync_interval", "integer") || !opt_type(c, b, "robot_username", "string"))
        return false;
    if ((v = json_object_get(b, "sync_interval")) && !rest_minmax(c, v, 0, (long long)1 << 53))
        return false;
    if ((v = json_object_get(b, "root_rule")) && !root_rule_ok(c, v))
        return false;
    if ((v = json_object_get(b, "external_registry_config")) && !registry_config_ok(c, v))
        return false;
    if ((v = json_object_get(b, "skopeo_timeout_interval")) &&
        (!rest_type(c, v, "integer") || !rest_minmax(c, v, 300, 43200)))
        return false;
    if ((v = json_object_get(b, "architecture_filter")) &&
        (!rest_type(c, v, "array|null") || !strings_in(c, v, arches, QS_ARRAY_LEN(arches))))
        return false;
    return true;
}

/* ---- field rules ---- */

/* Exactly %Y-%m-%dT%H:%M:%SZ and a real date (Python's strptime). */
static bool date_ok(const char *s) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end)
        return false;
    struct tm copy = tm;
    time_t t = timegm(&copy);
    struct tm back;
    gmtime_r(&t, &back);
    return back.tm_mday == tm.tm_mday && back.tm_mon == tm.tm_mon && back.tm_year == tm.tm_year;
}

static bool reference_ok(const char *ref) {
    return *ref && !strpbrk(ref, " \t\r\n\v\f?#\\%") && !strstr(ref, "://") && strchr(ref, '/');
}

/* The robot of a mirror: NULL + answer when it cannot be used for `ns`. */
static json_t *mirror_robot(rest_ctx *c, const char *ns, const char *name) {
    json_t *robot = rest_robot(name);
    if (!robot) {
        rest_message(c, 400, "Could not find robot with specified username");
        return NULL;
    }
    size_t n = strlen(ns);
    if (strncmp(name, ns, n) != 0 || name[n] != '+') {
        rest_message(c, 400, "Invalid robot");
        return NULL;
    }
    return robot;
}

/* Give the mirror's robot write unless it has write or admin already. */
static void grant_robot(json_t *repo, const char *robot) {
    const char *have = emu_json_str(json_object_get(repo, "permissions"), robot);
    if (!have || strcmp(have, "read") == 0)
        rest_grant(repo, robot, "write");
}

json_t *rest_mirror_view(const json_t *m) {
    const json_t *arch = json_object_get(m, "architecture_filter");
    return json_pack("{s:O, s:s, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:o}",
                     "is_enabled", json_object_get(m, "is_enabled"), "mirror_type", "PULL",
                     "external_reference", json_object_get(m, "external_reference"),
                     "external_registry_username", json_object_get(m, "external_registry_username"),
                     "external_registry_config", json_object_get(m, "external_registry_config"),
                     "sync_interval", json_object_get(m, "sync_interval"), "sync_start_date",
                     json_object_get(m, "sync_start_date"), "sync_expiration_date",
                     json_object_get(m, "sync_expiration_date"), "sync_retries_remaining",
                     json_object_get(m, "sync_retries_remaining"), "sync_status",
                     json_object_get(m, "sync_status"), "root_rule",
                     json_object_get(m, "root_rule"), "robot_username",
                     json_object_get(m, "robot_username"), "skopeo_timeout_interval",
                     json_object_get(m, "skopeo_timeout_interval"), "architecture_filter",
                     json_is_array(arch) ? json_deep_copy(arch) : json_array());
}

static json_t *mirror_new(const json_t *b) {
    json_t *cfg = json_object_get(b, "external_registry_config");
    json_t *user = json_object_get(b, "external_registry_username");
    json_t *pass = json_object_get(b, "external_registry_password");
    json_t *en = json_object_get(b, "is_enabled");
    json_t *arch = json_object_get(b, "architecture_filter");
    return json_pack(
        "{s:b, s:O, s:O, s:O, s:o, s:O, s:O, s:n, s:i, s:s, s:{s:s, s:O}, s:O, s:O, s:o}",
        "is_enabled", en ? json_is_true(en) : 1, "external_reference",
        json_object_get(b, "external_reference"), "external_registry_username",
        user ? user : json_null(), "external_registry_password", pass ? pass : json_null(),
        "external_registry_config", cfg ? json_deep_copy(cfg) : json_object(), "sync_interval",
        json_object_get(b, "sync_interval"), "sync_start_date",
        json_object_get(b, "sync_start_date"), "sync_expiration_date", "sync_retries_remaining", 3,
        "sync_status", "NEVER_RUN", "root_rule", "rule_kind", "tag_glob_csv", "rule_value",
        json_object_get(json_object_get(b, "root_rule"), "rule_value"), "robot_username",
        json_object_get(b, "robot_username"), "skopeo_timeout_interval",
        json_object_get(b, "skopeo_timeout_interval"), "architecture_filter",
        json_is_array(arch) ? json_deep_copy(arch) : json_array());
}

/* ---- handlers ---- */

static void mirror_create(rest_ctx *c, const char *ns, const char *name, json_t *repo) {
    const json_t *b = c->body;
    if (json_object_get(repo, "mirror")) {
        rest_detail(c, 409, "Mirror configuration already exits for repository %s/%s", ns, name);
        return;
    }
    if (!date_ok(emu_json_str(b, "sync_start_date"))) {
        rest_detail(c, 400, "Incorrect DateTime format for sync_start_date.");
        return;
    }
    const char *ref = emu_json_str(b, "external_reference");
    if (!*ref) {
        rest_detail(c, 400, "Empty string is an invalid repository location.");
        return;
    }
    if (!reference_ok(ref)) {
        rest_detail(c, 400, "%s", REF_INVALID);
        return;
    }
    const json_t *pw = json_object_get(b, "external_registry_password");
    if (pw && !json_is_null(pw) &&
        !json_is_string(json_object_get(b, "external_registry_username"))) {
        rest_detail(c, 400, "Unable to set a new password without also specifying a username.");
        return;
    }
    const char *robot = emu_json_str(b, "robot_username");
    if (!robot) { /* Quay: data["robot_username"] → KeyError → 500 */
        rest_server_error(c);
        return;
    }
    if (!mirror_robot(c, ns, robot))
        return;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)b, k, v) {
        bool known = false;
        for (size_t i = 0; i < QS_ARRAY_LEN(known_keys); i++)
            known = known || strcmp(k, known_keys[i]) == 0;
        if (!known) { /* Quay: an unexpected keyword argument → TypeError → 500 */
            rest_server_error(c);
            return;
        }
    }
    json_object_set_new(repo, "mirror", mirror_new(b));
    grant_robot(repo, robot);
    json_object_set_new(repo, "state", json_string("MIRROR"));
    rest_empty(c, 201);
}

/* PUT: the fields in the order Quay's handler applies them; false = answered (error). */
static bool update_first(rest_ctx *c, const char *ns, json_t *repo, json_t *m) {
    json_t *b = c->body, *v;
    if ((v = json_object_get(b, "is_enabled")))
        json_object_set(m, "is_enabled", v);
    if ((v = json_object_get(b, "external_reference"))) {
        if (!*json_string_value(v)) {
            rest_detail(c, 400, "Empty string is an invalid repository location.");
            return false;
        }
        if (!reference_ok(json_string_value(v))) {
            rest_detail(c, 400, "%s", REF_INVALID);
            return false;
        }
        json_object_set(m, "external_reference", v);
    }
    if ((v = json_object_get(b, "robot_username"))) {
        if (!mirror_robot(c, ns, json_string_value(v)))
            return false;
        grant_robot(repo, json_string_value(v));
        json_object_set(m, "robot_username", v);
    }
    if ((v = json_object_get(b, "sync_start_date"))) {
        if (!date_ok(json_string_value(v))) {
            rest_detail(c, 400, "Incorrect DateTime format for sync_start_date.");
            return false;
        }
        json_object_set(m, "sync_start_date", v);
    }
    if ((v = json_object_get(b, "sync_interval")))
        json_object_set(m, "sync_interval", v);
    return true;
}

static bool update_credentials(rest_ctx *c, json_t *m) {
    json_t *user = json_object_get(c->body, "external_registry_username");
    json_t *pass = json_object_get(c->body, "external_registry_password");
    if (user && pass) {
        if (json_is_null(user) && !json_is_null(pass)) {
            rest_detail(c, 400, "Unable to delete username while setting a password.");
            return false;
        }
        json_object_set(m, "external_registry_username", user);
        json_object_set(m, "external_registry_password", pass);
    } else if (user) {
        json_object_set(m, "external_registry_username", user);
    }
    if (pass && !user) {
        rest_detail(c, 400, "Unable to set a new password without also specifying a username.");
        return false;
    }
    return true;
}

static void update_rest(rest_ctx *c, json_t *m) {
    json_t *b = c->body, *v;
    if ((v = json_object_get(b, "external_registry_config"))) {
        json_t *cfg = json_object_get(m, "external_registry_config");
        json_t *x;
        if ((x = json_object_get(v, "verify_tls")))
            json_object_set(cfg, "verify_tls", x);
        json_t *proxy = json_object_get(v, "proxy");
        static const char *const keys[] = {"http_proxy", "https_proxy", "no_proxy"};
        for (size_t i = 0; proxy && i < QS_ARRAY_LEN(keys); i++) {
            if (!(x = json_object_get(proxy, keys[i])))
                continue;
            if (!json_is_object(json_object_get(cfg, "proxy")))
                json_object_set_new(cfg, "proxy", json_object());
            json_object_set(json_object_get(cfg, "proxy"), keys[i], x);
        }
    }
    if ((v = json_object_get(b, "root_rule")))
        json_object_set_new(m, "root_rule",
                            json_pack("{s:s, s:O}", "rule_kind", "tag_glob_csv", "rule_value",
                                      json_object_get(v, "rule_value")));
    if ((v = json_object_get(b, "skopeo_timeout_interval")))
        json_object_set(m, "skopeo_timeout_interval", v);
    if ((v = json_object_get(b, "architecture_filter")))
        json_object_set_new(m, "architecture_filter",
                            json_is_array(v) ? json_deep_copy(v) : json_array());
}

static void sync_now(rest_ctx *c, json_t *m) {
    const char *st = emu_json_str(m, "sync_status");
    if (strcmp(st, "SYNCING") == 0) {
        rest_not_found(c);
        return;
    }
    json_object_set_new(m, "sync_status", json_string("SYNC_NOW"));
    json_object_set_new(m, "sync_expiration_date", json_null());
    if (json_integer_value(json_object_get(m, "sync_retries_remaining")) < 1)
        json_object_set_new(m, "sync_retries_remaining", json_integer(1));
    rest_empty(c, 204);
}

static void sync_cancel(rest_ctx *c, json_t *m) {
    const char *st = emu_json_str(m, "sync_status");
    if (strcmp(st, "SYNCING") != 0 && strcmp(st, "SYNC_NOW") != 0) {
        rest_not_found(c);
        return;
    }
    json_object_set_new(m, "sync_status", json_string("CANCEL"));
    rest_empty(c, 204);
}

void rest_mirror(rest_ctx *c, const char *ns, const char *name, const char *action) {
    bool write = strcmp(c->method, "GET") != 0 && !*action;
    if (write &&
        (!rest_need_body(c, false) || !mirror_schema(c, c->body, strcmp(c->method, "POST") == 0)))
        return;
    json_t *repo = rest_repo(ns, name);
    if (!repo) {
        rest_not_found(c);
        return;
    }
    if (write && strcmp(emu_json_str(repo, "state"), "ORG_MIRROR") == 0) {
        rest_detail(c, 400,
                    "Repository mirror configuration cannot be managed when organization-level "
                    "mirroring is configured");
        return;
    }
    if (strcmp(c->method, "POST") == 0 && !*action) {
        mirror_create(c, ns, name, repo);
        return;
    }
    json_t *m = json_object_get(repo, "mirror");
    if (!m) {
        rest_not_found(c);
        return;
    }
    if (strcmp(action, "sync-now") == 0)
        sync_now(c, m);
    else if (strcmp(action, "sync-cancel") == 0)
        sync_cancel(c, m);
    else if (strcmp(c->method, "GET") == 0)
        rest_json(c, 200, rest_mirror_view(m));
    else if (update_first(c, ns, repo, m) && update_credentials(c, m)) {
        update_rest(c, m);
        rest_empty(c, 201);
    }
}

const char *rest_mirror_seed(json_t *repo, const json_t *config) {
    const char *ref = emu_json_str(config, "external_reference");
    const char *robot = emu_json_str(config, "robot_username");
    if (!json_is_object(config) || !ref || !robot)
        return "a mirror \"config\" needs \"external_reference\" and \"robot_username\"";
    if (!rest_robot(robot))
        return "the mirror's robot_username is not a robot (seed it in \"robots\")";
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *b = json_deep_copy(config);
    if (!json_object_get(b, "sync_interval"))
        json_object_set_new(b, "sync_interval", json_integer(600));
    if (!json_object_get(b, "sync_start_date"))
        json_object_set_new(b, "sync_start_date", json_string(now));
    if (!json_object_get(b, "skopeo_timeout_interval"))
        json_object_set_new(b, "skopeo_timeout_interval", json_integer(300));
    if (!json_is_array(json_object_get(json_object_get(b, "root_rule"), "rule_value")))
        json_object_set_new(
            b, "root_rule",
            json_pack("{s:s, s:[s]}", "rule_kind", "tag_glob_csv", "rule_value", "*"));
    json_t *m = mirror_new(b);
    const char *st = emu_json_str(config, "sync_status");
    if (st)
        json_object_set_new(m, "sync_status", json_string(st));
    json_decref(b);
    json_object_set_new(repo, "mirror", m);
    grant_robot(repo, robot);
    json_object_set_new(repo, "state", json_string("MIRROR"));
    return NULL;
}
