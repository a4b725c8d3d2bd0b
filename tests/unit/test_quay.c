/* test_quay.c — the Quay REST API v1 client (libshared quay.c, quay_calls.c) against the
 * Quay emulator.
 *
 * Each test starts quay-emulator (no token key: only the REST API) with a fixture of API
 * tokens — an all-scopes admin, a repo:read-only reader, one limited to namespace "org1" —,
 * organization "org1" and robot "org1+mirror", then drives it through the client: every call
 * on its happy path and on each error the header maps (EEXISTS for "already exists" and
 * "Existing robot with name", ENOTFOUND for Quay's robot and permission 400s and for
 * changevisibility's 200 null, EINVAL, EAUTH, EDENIED for 402/403, ECONFLICT, EUNAVAIL,
 * EPROTO), pagination over 250 repositories (3 pages) and 150 tags, the loop guard against a
 * repeating next_page (a fault whose body repeats the token), token-file rotation, retries of
 * 502 and 429, metrics, the debug log (which must never hold a token or a password), and
 * qs_quay_parse_error on its own against Quay's error shapes. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emu_spawn.h"
#include "shared/common.h"
#include "shared/log.h"
#include "shared/metrics.h"
#include "shared/quay.h"

#define ADMIN "admin-token-0123456789"
#define READER "reader-token-abcdef"
#define LIMITED "limited-token-xyz"
#define ROBOT_TOKEN "ROBOTTOKEN0123456789ROBOTTOKEN0123456789ROBOTTOKEN0123456789ABCD"
#define PASSWORD "s3cret-mirror-password"

static const char fixture[] =
    "{\"api_tokens\":["
    "  {\"token\":\"" ADMIN "\",\"user\":\"admin\"},"
    "  {\"token\":\"" READER "\",\"user\":\"reader\",\"scopes\":[\"repo:read\"]},"
    "  {\"token\":\"" LIMITED "\",\"user\":\"lim\",\"namespaces\":[\"org1\"]}],"
    " \"organizations\":[\"org1\"],"
    " \"robots\":[{\"org\":\"org1\",\"short\":\"mirror\",\"token\":\"" ROBOT_TOKEN "\"}]}";

static emu_proc emu;
static qs_http *http;

static void setup(void) {
    qs_log_init("test_quay", QS_LOG_ERROR);
    emu_prepare(&emu);
    char fx[160], e_fx[200];
    emu_write_file(&emu, "fixture.json", fixture, fx, sizeof fx);
    snprintf(e_fx, sizeof e_fx, "QUAY_EMU_FIXTURE=%s", fx);
    const char *env[] = {e_fx, "QUAY_EMU_LISTEN=127.0.0.1:0", NULL};
    emu_start(&emu, "quay", env);
    qs_http_opts o = QS_HTTP_OPTS_INIT;
    o.max_attempts = 3;
    o.backoff_base_ms = 5;
    o.backoff_max_ms = 20;
    o.timeout_ms = 10000;
    http = qs_http_new(&o);
}

static void teardown(void) {
    qs_http_free(http);
    http = NULL;
    emu_stop(&emu);
}

TestSuite(quay, .init = setup, .fini = teardown, .timeout = 60);

static qs_quay *client(const char *token) {
    qs_quay_opts o = QS_QUAY_OPTS_INIT;
    o.base_url = emu.base;
    o.token = token;
    char err[200] = "";
    qs_quay *q = qs_quay_new(http, &o, err, sizeof err);
    cr_assert_not_null(q, "%s", err);
    return q;
}

static void control(const char *method, const char *path, const char *body, long want) {
    qs_buf out = QS_BUF_INIT;
    long st = emu_call(&emu, method, path, body, &out);
    cr_assert_eq(st, want, "%s %s → %ld %s", method, path, st, qs_buf_str(&out));
    qs_buf_free(&out);
}

static json_t *mirror_config(const char *robot) {
    return json_pack("{s:s, s:s, s:s, s:i, s:s, s:{s:s, s:[s]}, s:s, s:b, s:{s:b}, s:i}",
                     "external_reference", "src.example.com:5000/org1/app",
                     "external_registry_username", "svc", "external_registry_password", PASSWORD,
                     "sync_interval", 600, "sync_start_date", "2025-01-31T12:00:00Z", "root_rule",
                     "rule_kind", "tag_glob_csv", "rule_value", "*", "robot_username", robot,
                     "is_enabled", 1, "external_registry_config", "verify_tls", 1,
                     "skopeo_timeout_interval", 300);
}

/* ---- construction and pure parsing ---- */

Test(quay, new_normalises_and_refuses) {
    qs_quay_opts o = QS_QUAY_OPTS_INIT;
    char err[200] = "";
    o.base_url = "https://quay.example.com:8443/api/v1/";
    o.token = "t";
    qs_quay *q = qs_quay_new(http, &o, err, sizeof err);
    cr_assert_not_null(q);
    cr_assert_str_eq(qs_quay_base(q), "https://quay.example.com:8443");
    cr_assert_str_eq(qs_quay_host(q), "quay.example.com:8443");
    qs_quay_free(q);
    o.base_url = "quay.io";
    cr_assert_null(qs_quay_new(http, &o, err, sizeof err));
    cr_assert(strstr(err, "http"), "%s", err);
    o.base_url = "https://quay.io";
    o.token = NULL;
    cr_assert_null(qs_quay_new(http, &o, err, sizeof err));
    cr_assert(strstr(err, "token"), "%s", err);
}

static int parse(long status, const char *body, qs_quay_error *e) {
    return qs_quay_parse_error(status, body, body ? strlen(body) : 0, e);
}

Test(quay, parse_error_table) {
    qs_quay_error e;
    cr_assert_eq(parse(400,
                       "{\"detail\":\"Repository already exists\",\"error_message\":\"x\","
                       "\"error_type\":\"invalid_request\",\"status\":400}",
                       &e),
                 QS_EEXISTS);
    cr_assert_str_eq(e.message, "Repository already exists");
    cr_assert_str_eq(e.type, "invalid_request");
    cr_assert_eq(e.status, 400);
    cr_assert_eq(
        parse(400, "{\"detail\":\"A user or organization with this name already exists\"}", &e),
        QS_EEXISTS);
    cr_assert_eq(parse(400, "{\"detail\":\"Existing robot with name: o+r\"}", &e), QS_EEXISTS);
    cr_assert_eq(parse(400, "{\"message\":\"Could not find robot with specified username\"}", &e),
                 QS_ENOTFOUND);
    cr_assert_str_eq(e.message, "Could not find robot with specified username");
    cr_assert_eq(parse(400, "{\"message\":\"Could not find robot with username: o+r\"}", &e),
                 QS_ENOTFOUND);
    cr_assert_eq(parse(400, "{\"detail\":\"User does not have permission for repo.\"}", &e),
                 QS_ENOTFOUND);
    cr_assert_eq(parse(400, "{\"detail\":\"Incorrect DateTime format for sync_start_date.\"}", &e),
                 QS_EINVAL);
    /* order: detail, error_message, message, error */
    cr_assert_eq(parse(400, "{\"error_message\":\"em\",\"message\":\"m\",\"error\":\"e\"}", &e),
                 QS_EINVAL);
    cr_assert_str_eq(e.message, "em");
    parse(400, "{\"message\":\"m\",\"error\":\"e\"}", &e);
    cr_assert_str_eq(e.message, "m");
    parse(400, "{\"error\":\"e\"}", &e);
    cr_assert_str_eq(e.message, "e");
    parse(400, "{\"error\":{\"code\":\"c\",\"message\":\"nested\"}}", &e);
    cr_assert_str_eq(e.message, "nested");
    cr_assert_eq(parse(401, "{\"detail\":\"Requires authentication\"}", &e), QS_EAUTH);
    cr_assert_eq(
        parse(402, "{\"detail\":\"Payment Required\",\"error_type\":\"exceeds_license\"}", &e),
        QS_EDENIED);
    cr_assert_eq(e.status, 402);
    cr_assert_str_eq(e.type, "exceeds_license");
    cr_assert_eq(parse(403, "{\"detail\":\"Unauthorized\"}", &e), QS_EDENIED);
    cr_assert_eq(parse(404, NULL, &e), QS_ENOTFOUND);
    cr_assert_str_eq(e.message, "Not Found");
    cr_assert_eq(
        parse(409, "{\"detail\":\"Mirror configuration already exits for repository a/b\"}", &e),
        QS_ECONFLICT);
    cr_assert_eq(parse(500, "<!doctype html><title>500 Internal Server Error</title>", &e),
                 QS_EUNAVAIL);
    cr_assert_str_eq(e.message, "Internal Server Error");
    cr_assert_eq(parse(503, "", &e), QS_EUNAVAIL);
    cr_assert_eq(parse(429, NULL, &e), QS_EUNAVAIL);
    cr_assert_eq(parse(0, NULL, &e), QS_EUNAVAIL);
    cr_assert_eq(parse(418, "{}", &e), QS_EPROTO);
    cr_assert_eq(parse(302, NULL, &e), QS_EPROTO);
    cr_assert_eq(parse(404, "{\"detail\":\"\"}", NULL), QS_ENOTFOUND); /* NULL e is fine */
}

/* ---- repositories ---- */

Test(quay, repo_create_get_delete_and_errors) {
    qs_quay *q = client(ADMIN);
    qs_quay_error e;
    cr_assert_eq(qs_quay_repo_create(q, "org1", "team/app", false, "desc", &e), 0, "%s", e.message);
    json_t *r = NULL;
    cr_assert_eq(qs_quay_repo_get(q, "org1", "team/app", &r, &e), 0, "%s", e.message);
    cr_assert_str_eq(json_string_value(json_object_get(r, "name")), "team/app");
    cr_assert_str_eq(json_string_value(json_object_get(r, "state")), "NORMAL");
    cr_assert(json_is_false(json_object_get(r, "is_public")));
    cr_assert_null(json_object_get(r, "tags"), "includeTags=false");
    json_decref(r);
    cr_assert_eq(qs_quay_repo_get(q, "org1", "team/app", NULL, &e), 0); /* existence probe */

    cr_assert_eq(qs_quay_repo_create(q, "org1", "team/app", true, "", &e), QS_EEXISTS);
    cr_assert_str_eq(e.message, "Repository already exists");
    cr_assert_eq(qs_quay_repo_create(q, "org1", "Bad Name", true, "", &e), QS_EINVAL);
    cr_assert_str_eq(e.message, "Invalid repository name");
    cr_assert_eq(qs_quay_repo_create(q, "nosuchorg", "x", true, "", &e), QS_EDENIED);
    cr_assert_eq(e.status, 403);

    cr_assert_eq(qs_quay_repo_get(q, "org1", "nothere", &r, &e), QS_ENOTFOUND);
    cr_assert_null(r);
    cr_assert_eq(e.status, 404);
    cr_assert_eq(qs_quay_repo_delete(q, "org1", "team/app", &e), 0);
    cr_assert_eq(qs_quay_repo_get(q, "org1", "team/app", NULL, &e), QS_ENOTFOUND);
    cr_assert_eq(qs_quay_repo_create(q, "", "x", true, "", &e), QS_EINVAL);
    qs_quay_free(q);

    qs_quay *bad = client("not-a-token");
    cr_assert_eq(qs_quay_repo_get(bad, "org1", "x", NULL, &e), QS_EAUTH);
    cr_assert_str_eq(e.message, "Requires authentication");
    cr_assert_str_eq(e.type, "invalid_token");
    qs_quay_free(bad);
    qs_quay *ro = client(READER);
    cr_assert_eq(qs_quay_repo_create(ro, "org1", "y", true, "", &e), QS_EDENIED);
    cr_assert_eq(e.status, 403);
    cr_assert_str_eq(e.type, "insufficient_scope");
    qs_quay_free(ro);
}

Test(quay, repo_state_visibility_and_plan) {
    qs_quay *q = client(ADMIN);
    qs_quay_error e;
    cr_assert_eq(qs_quay_repo_create(q, "org1", "a", true, "", &e), 0);
    cr_assert_eq(qs_quay_repo_set_state(q, "org1", "a", "READ_ONLY", &e), 0, "%s", e.message);
    cr_assert_eq(qs_quay_repo_set_state(q, "org1", "a", "BOGUS", &e), QS_EINVAL);
    cr_assert_str_eq(e.message, "BOGUS is not a valid Repository state.");
    json_t *r = NULL;
    cr_assert_eq(qs_quay_repo_get(q, "org1", "a", &r, &e), 0);
    cr_assert_str_eq(json_string_value(json_object_get(r, "state")), "READ_ONLY");
    json_decref(r);

    control("PUT", "/_emulator/plans", "{\"namespace\":\"org1\",\"private_repos\":1}", 200);
    cr_assert_eq(qs_quay_repo_set_visibility(q, "org1", "a", false, &e), 0, "%s", e.message);
    cr_assert_eq(qs_quay_repo_create(q, "org1", "b", false, "", &e), QS_EDENIED);
    cr_assert_eq(e.status, 402);
    cr_assert_str_eq(e.type, "exceeds_license");
    cr_assert_eq(qs_quay_repo_create(q, "org1", "b", true, "", &e), 0);
    cr_assert_eq(qs_quay_repo_set_visibility(q, "org1", "b", false, &e), QS_EDENIED);
    cr_assert_eq(e.status, 402);
    cr_assert_eq(qs_quay_repo_set_visibility(q, "org1", "a", true, &e), 0);
    cr_assert_eq(qs_quay_repo_set_visibility(q, "org1", "gone", true, &e), QS_ENOTFOUND);
    cr_assert_eq(e.status, 200);
    qs_quay_free(q);
}

/* Seed `n` repositories named r000.. in org1 through the control endpoint. */
static void seed_repos(int n) {
    qs_buf b = QS_BUF_INIT;
    qs_buf_puts(&b, "{\"repositories\":[");
    for (int i = 0; i < n; i++)
        qs_buf_printf(&b, "%s{\"namespace\":\"org1\",\"name\":\"r%03d\"}", i ? "," : "", i);
    qs_buf_puts(&b, "]}");
    control("POST", "/_emulator/seed", qs_buf_str(&b), 200);
    qs_buf_free(&b);
}

Test(quay, repo_list_follows_next_page) {
    seed_repos(250);
    control("POST", "/_emulator/seed",
            "{\"repositories\":[{\"namespace\":\"other\",\"name\":\"x\"}]}", 200);
    control("DELETE", "/_emulator/calls", NULL, 200);
    qs_quay *q = client(ADMIN);
    qs_quay_error e;
    json_t *all = NULL;
    cr_assert_eq(qs_quay_repo_list(q, "org1", &all, &e), 0, "%s", e.message);
    cr_assert_eq(json_array_size(all), 250);
    for (size_t i = 0; i < 250; i++) {
        char want[8];
        snprintf(want, sizeof want, "r%03zu", i);
        cr_assert_str_eq(json_string_value(json_object_get(json_array_get(all, i), "name")), want);
    }
    json_decref(all);
    cr_assert_eq(emu_calls(&emu, "GET /api/v1/repository"), 3);
    cr_assert_eq(qs_quay_repo_list(q, "", &all, &e), QS_EINVAL);
    qs_quay_free(q);
}

Test(quay, repo_list_loop_guard) {
    control("POST", "/_emulator/faults",
            "{\"path_prefix\":\"/api/v1/repository\",\"method\":\"GET\",\"status\":200,"
            "\"count\":-1,\"body\":\"{\\\"repositories\\\":[{\\\"name\\\":\\\"a\\\"}],"
            "\\\"next_page\\\":\\\"same-token\\\"}\"}",
            201);
    qs_quay *q = client(ADMIN);
    qs_quay_error e;
    json_t *all = NULL;
    cr_assert_eq(qs_quay_repo_list(q, "org1", &all, &e), QS_EPROTO);
    cr_assert_null(all);
    cr_assert(strstr(e.message, "next_page"), "%s", e.message);
    cr_assert_eq(emu_calls(&emu, "GET /api/v1/repository"), 2);
    qs_quay_free(q);
}

/* ---- mirror ---- */

Test(quay, mirror_lifecycle_and_errors) {
    qs_quay *q = client(ADMIN);
    qs_quay_error e;
    cr_assert_eq(qs_quay_repo_create(q, "org1", "app", false, "", &e), 0);
    json_t *m = NULL;
    cr_assert_eq(qs_quay_mirror_get(q, "org1", "app", &m, &e), QS_ENOTFOUND);
    json_t *cfg = mirror_config("org1+mirror");
    cr_assert_eq(qs_quay_mirror_create(q, "org1", "app", cfg, &e), 0, "%s", e.message);
    cr_assert_eq(qs_quay_mirror_create(q, "org1", "app", cfg, &e), QS_ECONFLICT);
    cr_assert_str_eq(e.message, "Mirror configuration already exits for repository org1/app");
    cr_assert_eq(qs_quay_mirror_get(q, "org1", "app", &m, &e), 0);
    cr_assert_str_eq(json_string_value(json_object_get(m, "sync_status")), "NEVER_RUN");
    cr_assert_str_eq(json_string_value(json_object_get(m, "robot_username")), "org1+mirror");
    cr_assert_null(json_object_get(m, "external_registry_password"));
    json_decref(m);
    json_t *r = NULL;
    cr_assert_eq(qs_quay_repo_get(q, "org1", "app", &r, &e), 0);
    cr_assert_str_eq(json_string_value(json_object_get(r, "state")), "MIRROR");
    json_decref(r);
    json_t *perms = NULL;
    cr_assert_eq(qs_quay_perm_list(q, "org1", "app", &perms, &e), 0);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(perms, "org1+mirror"), "role")), "write");
    json_decref(perms);

    json_t *upd = json_pack("{s:i}", "sync_interval", 1200);
    cr_assert_eq(qs_quay_mirror_update(q, "org1", "app", upd, &e), 0, "%s", e.message);
    json_decref(upd);
    upd = json_pack("{s:s}", "external_registry_password", "x");
    cr_assert_eq(qs_quay_mirror_update(q, "org1", "app", upd, &e), QS_EINVAL);
    cr_assert_str_eq(e.message, "Unable to set a new password without also specifying a username.");
    json_decref(upd);
    cr_assert_eq(qs_quay_mirror_sync_now(q, "org1", "app", &e), 0, "%s", e.message);
    cr_assert_eq(qs_quay_mirror_get(q, "org1", "app", &m, &e), 0);
    cr_assert_str_eq(json_string_value(json_object_get(m, "sync_status")), "SYNC_NOW");
    cr_assert_eq(json_integer_value(json_object_get(m, "sync_interval")), 1200);
    json_decref(m);

    /* errors of a fresh repository */
    cr_assert_eq(qs_quay_repo_create(q, "org1", "app2", false, "", &e), 0);
    json_object_del(cfg, "skopeo_timeout_interval");
    cr_assert_eq(qs_quay_mirror_create(q, "org1", "app2", cfg, &e), QS_EINVAL);
    cr_assert_str_eq(e.message, "'skopeo_timeout_interval' is a required property");
    json_object_set_new(cfg, "skopeo_timeout_interval", json_integer(300));
    json_object_set_new(cfg, "robot_username", json_string("org1+nobody"));
    cr_assert_eq(qs_quay_mirror_create(q, "org1", "app2", cfg, &e), QS_ENOTFOUND);
    cr_assert_str_eq(e.message, "Could not find robot with specified username");
    cr_assert_eq(qs_quay_mirror_sync_now(q, "org1", "app2", &e), QS_ENOTFOUND);
    json_object_del(cfg, "robot_username"); /* Quay's KeyError: 500, retried, then EUNAVAIL */
    control("DELETE", "/_emulator/calls", NULL, 200);
    cr_assert_eq(qs_quay_mirror_create(q, "org1", "app2", cfg, &e), QS_EUNAVAIL);
    cr_assert_eq(e.status, 500);
    cr_assert_eq(emu_calls(&emu, "POST /api/v1/repository/org1/app2/mirror"), 3);
    cr_assert_eq(qs_quay_mirror_create(q, "org1", "app2", NULL, &e), QS_EINVAL);
    json_decref(cfg);
    qs_quay_free(q);
}

/* ---- organizations, robots, permissions, prototypes ---- */

Test(quay, organizations) {
    qs_quay *q = client(ADMIN);
    qs_quay_error e;
    cr_assert_eq(qs_quay_org_create(q, "neworg", "team@example.com", &e), 0, "%s", e.message);
    cr_assert_eq(qs_quay_org_create(q, "neworg", NULL, &e), QS_EEXISTS);
    cr_assert_str_eq(e.message, "A user or organization with this name already exists");
    cr_assert_eq(qs_quay_org_create(q, "admin", NULL, &e), QS_EEXISTS); /* a user's name */
    cr_assert_eq(qs_quay_org_create(q, "Bad_Org", NULL, &e), QS_EINVAL);
    json_t *o = NULL;
    cr_assert_eq(qs_quay_org_get(q, "neworg", &o, &e), 0);
    cr_assert_str_eq(json_string_value(json_object_get(o, "email")), "team@example.com");
    json_decref(o);
    cr_assert_eq(qs_quay_org_get(q, "nosuch", &o, &e), QS_ENOTFOUND);
    cr_assert_eq(qs_quay_org_delete(q, "neworg", &e), 0);
    cr_assert_eq(qs_quay_org_get(q, "neworg", NULL, &e), QS_ENOTFOUND);
    qs_quay_free(q);

    /* a token limited to namespaces gets the organizations it creates */
    qs_quay *lim = client(LIMITED);
    cr_assert_eq(qs_quay_repo_create(lim, "org2", "x", true, "", &e), QS_EDENIED);
    cr_assert_eq(qs_quay_org_create(lim, "org2", NULL, &e), 0, "%s", e.message);
    cr_assert_eq(qs_quay_repo_create(lim, "org2", "x", true, "", &e), 0, "%s", e.message);
    qs_quay_free(lim);
}

Test(quay, robots) {
    qs_quay *q = client(ADMIN);
    qs_quay_error e;
    json_t *r = NULL;
    cr_assert_eq(qs_quay_robot_create(q, "org1", "ci", "CI pusher", &r, &e), 0, "%s", e.message);
    const char *tok = json_string_value(json_object_get(r, "token"));
    cr_assert_eq(strlen(tok), 64);
    cr_assert_eq(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"), 64);
    cr_assert_str_eq(json_string_value(json_object_get(r, "name")), "org1+ci");
    char first[65];
    snprintf(first, sizeof first, "%s", tok);
    json_decref(r);
    cr_assert_eq(qs_quay_robot_create(q, "org1", "ci", NULL, NULL, &e), QS_EEXISTS);
    cr_assert_str_eq(e.message, "Existing robot with name: org1+ci");
    cr_assert_eq(qs_quay_robot_get(q, "org1", "ci", &r, &e), 0);
    cr_assert_str_eq(json_string_value(json_object_get(r, "description")), "CI pusher");
    json_decref(r);
    cr_assert_eq(qs_quay_robot_get(q, "org1", "nobody", &r, &e), QS_ENOTFOUND);
    cr_assert_eq(e.status, 400);
    cr_assert_eq(qs_quay_robot_regenerate(q, "org1", "ci", &r, &e), 0);
    cr_assert_str_neq(json_string_value(json_object_get(r, "token")), first);
    json_decref(r);
    cr_assert_eq(qs_quay_robot_create(q, "org1", "Bad+Name", NULL, NULL, &e), QS_EINVAL);
    cr_assert_eq(qs_quay_robot_delete(q, "org1", "ci", &e), 0);
    cr_assert_eq(qs_quay_robot_delete(q, "org1", "ci", &e), QS_ENOTFOUND);
    cr_assert_str_eq(e.message, "Could not find robot with username: org1+ci");
    qs_quay_free(q);
}

Test(quay, permissions_and_prototypes) {
    qs_quay *q = client(ADMIN);
    qs_quay_error e;
    cr_assert_eq(qs_quay_robot_create(q, "org1", "puller", NULL, NULL, &e), 0);
    cr_assert_eq(qs_quay_repo_create(q, "org1", "p", false, "", &e), 0);
    cr_assert_eq(qs_quay_perm_set(q, "org1", "p", "org1+puller", "read", &e), 0, "%s", e.message);
    json_t *perms = NULL;
    cr_assert_eq(qs_quay_perm_list(q, "org1", "p", &perms, &e), 0);
    json_t *p = json_object_get(perms, "org1+puller");
    cr_assert_str_eq(json_string_value(json_object_get(p, "role")), "read");
    cr_assert(json_is_true(json_object_get(p, "is_robot")));
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(perms, "admin"), "role")),
                     "admin"); /* the creator */
    json_decref(perms);
    cr_assert_eq(qs_quay_perm_set(q, "org1", "p", "org1+ghost", "read", &e), QS_EINVAL);
    cr_assert_eq(qs_quay_perm_set(q, "org1", "p", "org1+puller", "owner", &e), QS_EINVAL);
    cr_assert_eq(qs_quay_perm_delete(q, "org1", "p", "org1+puller", &e), 0);
    cr_assert_eq(qs_quay_perm_delete(q, "org1", "p", "org1+puller", &e), QS_ENOTFOUND);
    cr_assert_str_eq(e.message, "User does not have permission for repo.");

    json_t *proto = NULL;
    cr_assert_eq(qs_quay_prototype_create(q, "org1", "write", "org1+puller", "user", &proto, &e), 0,
                 "%s", e.message);
    const char *id = json_string_value(json_object_get(proto, "id"));
    cr_assert_not_null(id);
    char pid[64];
    snprintf(pid, sizeof pid, "%s", id);
    json_decref(proto);
    cr_assert_eq(qs_quay_prototype_create(q, "org1", "write", "nobody", "user", NULL, &e),
                 QS_EINVAL);
    cr_assert_str_eq(e.message, "Missing delegate user or team");
    json_t *list = NULL;
    cr_assert_eq(qs_quay_prototype_list(q, "org1", &list, &e), 0);
    cr_assert_eq(json_array_size(list), 1);
    json_decref(list);
    cr_assert_eq(qs_quay_repo_create(q, "org1", "q", false, "", &e), 0);
    cr_assert_eq(qs_quay_perm_list(q, "org1", "q", &perms, &e), 0);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(perms, "org1+puller"), "role")), "write");
    json_decref(perms);
    cr_assert_eq(qs_quay_prototype_delete(q, "org1", pid, &e), 0);
    cr_assert_eq(qs_quay_prototype_delete(q, "org1", pid, &e), QS_ENOTFOUND);
    cr_assert_eq(qs_quay_prototype_list(q, "org1", &list, &e), 0);
    cr_assert_eq(json_array_size(list), 0);
    json_decref(list);
    qs_quay_free(q);
}

Test(quay, tags_all_pages_active_only) {
    qs_buf b = QS_BUF_INIT;
    qs_buf_puts(&b, "{\"repositories\":[{\"namespace\":\"org1\",\"name\":\"t\",\"tags\":[");
    for (int i = 0; i < 160; i++)
        qs_buf_printf(&b, "%s{\"name\":\"v%d\",\"manifest_digest\":\"sha256:%064d\"%s}",
                      i ? "," : "", i, i, i >= 150 ? ",\"end_ts\":1000" : "");
    qs_buf_puts(&b, "]}]}");
    control("POST", "/_emulator/seed", qs_buf_str(&b), 200);
    qs_buf_free(&b);
    control("DELETE", "/_emulator/calls", NULL, 200);
    qs_quay *q = client(ADMIN);
    qs_quay_error e;
    json_t *tags = NULL;
    cr_assert_eq(qs_quay_tags_list(q, "org1", "t", &tags, &e), 0, "%s", e.message);
    cr_assert_eq(json_array_size(tags), 150); /* 10 expired ones left out */
    cr_assert_eq(emu_calls(&emu, "GET /api/v1/repository/org1/t/tag/"), 2);
    json_decref(tags);
    cr_assert_eq(qs_quay_tags_list(q, "org1", "missing", &tags, &e), QS_ENOTFOUND);
    qs_quay_free(q);
}

/* ---- transport: retries, token rotation, metrics, logs ---- */

Test(quay, retries_502_and_429) {
    qs_quay *q = client(ADMIN);
    qs_quay_error e;
    control("POST", "/_emulator/faults",
            "{\"path_prefix\":\"/api/v1/organization/org1\",\"status\":502,\"count\":2}", 201);
    cr_assert_eq(qs_quay_org_get(q, "org1", NULL, &e), 0, "%s", e.message);
    cr_assert_eq(emu_calls(&emu, "GET /api/v1/organization/org1"), 3);
    control("POST", "/_emulator/faults",
            "{\"path_prefix\":\"/api/v1/organization/org1\",\"status\":429,\"count\":1}", 201);
    cr_assert_eq(qs_quay_org_get(q, "org1", NULL, &e), 0, "%s", e.message);
    cr_assert_eq(emu_calls(&emu, "GET /api/v1/organization/org1"), 5);
    control("POST", "/_emulator/faults",
            "{\"path_prefix\":\"/api/v1/organization/org1\",\"status\":503,\"count\":-1}", 201);
    cr_assert_eq(qs_quay_org_get(q, "org1", NULL, &e), QS_EUNAVAIL);
    cr_assert_eq(e.status, 503);
    control("DELETE", "/_emulator/faults", NULL, 200);
    qs_quay_free(q);

    qs_quay_opts o = QS_QUAY_OPTS_INIT;
    o.base_url = "http://127.0.0.1:1"; /* nothing listens */
    o.token = ADMIN;
    char err[200];
    qs_quay *dead = qs_quay_new(http, &o, err, sizeof err);
    cr_assert_eq(qs_quay_org_get(dead, "org1", NULL, &e), QS_EUNAVAIL);
    cr_assert_eq(e.status, 0);
    cr_assert(strlen(e.message) > 0);
    qs_quay_free(dead);
}

static void write_token(const char *path, const char *token) {
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    cr_assert_not_null(f);
    fprintf(f, "%s\n", token);
    fclose(f);
    cr_assert_eq(rename(tmp, path), 0); /* a new inode, as a Secret update */
}

Test(quay, token_file_rotation) {
    char path[200];
    snprintf(path, sizeof path, "%s/quay-token", emu.dir);
    qs_quay_opts o = QS_QUAY_OPTS_INIT;
    o.base_url = emu.base;
    o.token_file = path;
    char err[200];
    qs_quay *q = qs_quay_new(http, &o, err, sizeof err);
    cr_assert_not_null(q, "%s", err);
    qs_quay_error e;
    cr_assert_eq(qs_quay_org_get(q, "org1", NULL, &e), QS_EAUTH); /* no file yet */
    cr_assert_eq(e.status, 0);
    cr_assert(strstr(e.message, path), "%s", e.message);
    write_token(path, ADMIN);
    cr_assert_eq(qs_quay_org_get(q, "org1", NULL, &e), 0, "%s", e.message);
    /* rotate: a new token is registered, the old one revoked, the file rewritten */
    control("POST", "/_emulator/api_tokens", "{\"token\":\"rotated-token\",\"user\":\"admin\"}",
            201);
    control("DELETE", "/_emulator/api_tokens/" ADMIN, NULL, 200);
    cr_assert_eq(qs_quay_org_get(q, "org1", NULL, &e), QS_EAUTH); /* still the old file */
    write_token(path, "rotated-token");
    cr_assert_eq(qs_quay_org_get(q, "org1", NULL, &e), 0, "%s", e.message);
    qs_quay_free(q);
}

Test(quay, metrics_counted) {
    qs_quay *q = client(ADMIN);
    qs_quay_error e;
    qs_metric *m = qs_counter("quay_api_requests_total", "", "quay,method,status");
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%u", emu.port);
    double before = qs_metric_value(m, host, "GET", "404");
    cr_assert_eq(qs_quay_repo_get(q, "org1", "nope", NULL, &e), QS_ENOTFOUND);
    cr_assert_eq(qs_quay_repo_get(q, "org1", "nope", NULL, &e), QS_ENOTFOUND);
    cr_assert_eq(qs_metric_value(m, host, "GET", "404"), before + 2);
    qs_quay_free(q);
}

Test(quay, debug_log_has_no_secrets) {
    char logpath[200];
    snprintf(logpath, sizeof logpath, "%s/client.log", emu.dir);
    int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert(fd >= 0);
    qs_log_init("test_quay", QS_LOG_DEBUG);
    qs_log_set_fd(fd);
    qs_quay_opts o = QS_QUAY_OPTS_INIT;
    o.base_url = emu.base;
    o.token = ADMIN;
    o.debug = true;
    char err[200];
    qs_quay *q = qs_quay_new(http, &o, err, sizeof err);
    qs_quay_error e;
    cr_assert_eq(qs_quay_repo_create(q, "org1", "logged", false, "", &e), 0);
    json_t *cfg = mirror_config("org1+mirror");
    cr_assert_eq(qs_quay_mirror_create(q, "org1", "logged", cfg, &e), 0, "%s", e.message);
    json_object_set_new(cfg, "robot_username", json_string("org1+ghost"));
    cr_assert_eq(qs_quay_mirror_update(q, "org1", "logged", cfg, &e), QS_ENOTFOUND);
    cr_assert_null(strstr(e.message, PASSWORD));
    json_decref(cfg);
    json_t *r = NULL;
    cr_assert_eq(qs_quay_robot_get(q, "org1", "mirror", &r, &e), 0); /* answer holds a token */
    json_decref(r);
    qs_quay_free(q);
    qs_log_set_fd(2);
    qs_log_init("test_quay", QS_LOG_ERROR);
    close(fd);

    char *text = NULL;
    size_t len = 0;
    FILE *f = fopen(logpath, "r");
    cr_assert_not_null(f);
    cr_assert(getdelim(&text, &len, '\0', f) > 0);
    fclose(f);
    cr_assert(strstr(text, "quay api call"), "debug lines expected: %s", text);
    cr_assert(strstr(text, "/repository/org1/logged/mirror"), "%s", text);
    cr_assert_null(strstr(text, ADMIN), "the API token leaked into the log");
    cr_assert_null(strstr(text, PASSWORD), "the mirror password leaked into the log");
    cr_assert_null(strstr(text, ROBOT_TOKEN), "the robot token leaked into the log");
    free(text);
}

Test(quay, error_text_never_quotes_secrets) {
    /* Quay's schema messages quote the offending value; one that holds the request's password
     * or the token must come back redacted */
    json_t *fault = json_pack("{s:s, s:i, s:i, s:s}", "path_prefix",
                              "/api/v1/repository/org1/x/mirror", "status", 400, "count", 1, "body",
                              "{\"detail\":\"'" PASSWORD "' is bad for " ADMIN "\"}");
    char *text = json_dumps(fault, JSON_COMPACT);
    control("POST", "/_emulator/faults", text, 201);
    free(text);
    json_decref(fault);
    qs_quay *q = client(ADMIN);
    qs_quay_error e;
    json_t *cfg = mirror_config("org1+mirror");
    cr_assert_eq(qs_quay_mirror_update(q, "org1", "x", cfg, &e), QS_EINVAL);
    cr_assert_str_eq(e.message, "'<redacted>' is bad for <redacted>");
    json_decref(cfg);
    qs_quay_free(q);
}
