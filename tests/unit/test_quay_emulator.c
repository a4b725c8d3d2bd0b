/* test_quay_emulator.c — the Quay emulator's REST API v1 as Quay behaves, over raw HTTP.
 *
 * The services are tested against this emulator, so its behaviour is pinned here without the
 * client in between: exact statuses and bodies (the `""` of a mirror POST, the sic "already
 * exits", {"message"} vs ApiException vs bare {"detail"}), the mirror POST checks in Quay's
 * order and PUT's keep-what-was-applied-before-the-error, robots answering 400 not 404, a
 * regenerated robot token failing at /v2/auth at once while the new one pushes, the write log
 * with passwords redacted, the private-repository plan (402), pages of exactly 100 with
 * next_page absent on the last one and an undecodable token read as page 1, the token
 * server disabled without a key, two independent instances, and a delay-only fault. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emu_spawn.h"
#include "shared/base64.h"
#include "shared/common.h"
#include "shared/log.h"

#define ADMIN "emu-admin-token"
#define READER "emu-reader-token"
#define PASSWORD "hunter2-very-secret"

static const char fixture[] =
    "{\"api_tokens\":["
    "  {\"token\":\"" ADMIN "\",\"user\":\"admin\"},"
    "  {\"token\":\"" READER "\",\"user\":\"reader\",\"scopes\":[\"repo:read\"]}],"
    " \"organizations\":[\"org1\",\"org2\"],"
    " \"repositories\":[{\"namespace\":\"org1\",\"name\":\"app\"},"
    "                   {\"namespace\":\"org1\",\"name\":\"busy\"}],"
    " \"robots\":[{\"org\":\"org1\",\"short\":\"mirror\",\"token\":\"MIRRORTOKEN\"},"
    "             {\"org\":\"org2\",\"short\":\"other\"}],"
    " \"mirrors\":[{\"namespace\":\"org1\",\"name\":\"busy\",\"config\":{"
    "    \"external_reference\":\"src.example.com/org1/busy\",\"robot_username\":\"org1+mirror\","
    "    \"sync_status\":\"SYNCING\"}}]}";

static emu_proc emu;

static void start(emu_proc *p, bool with_key) {
    emu_prepare(p);
    char fx[160], e_fx[200], keypath[160], e_key[200];
    emu_write_file(p, "fixture.json", fixture, fx, sizeof fx);
    snprintf(e_fx, sizeof e_fx, "QUAY_EMU_FIXTURE=%s", fx);
    const char *env[] = {e_fx, "QUAY_EMU_LISTEN=127.0.0.1:0", NULL, NULL};
    if (with_key) {
        snprintf(keypath, sizeof keypath, "%s/token.key", p->dir);
        EVP_PKEY *key = EVP_EC_gen("P-256");
        FILE *f = fopen(keypath, "w");
        cr_assert(key && f);
        cr_assert(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL));
        fclose(f);
        EVP_PKEY_free(key);
        snprintf(e_key, sizeof e_key, "QUAY_EMU_TOKEN_KEY=%s", keypath);
        env[2] = e_key;
    }
    emu_start(p, "quay", env);
}

static void setup(void) {
    qs_log_init("test_quay_emulator", QS_LOG_ERROR);
    start(&emu, true);
}

static void teardown(void) { emu_stop(&emu); }

TestSuite(quay_emulator, .init = setup, .fini = teardown, .timeout = 60);

typedef struct {
    long status;
    char *body; /* raw */
    json_t *j;  /* parsed (any JSON) or NULL */
    char ctype[64];
} answer;

static void answer_free(answer *a) {
    free(a->body);
    json_decref(a->j);
    memset(a, 0, sizeof *a);
}

/* A request to `p` with a bearer token (or Basic "user:pass" when `basic`). */
static answer req(emu_proc *p, const char *method, const char *path, const char *bearer,
                  const char *basic, const char *body) {
    char url[2048];
    snprintf(url, sizeof url, "%s%s", p->base, path);
    qs_http_req r = QS_HTTP_REQ_INIT;
    r.method = method;
    r.url = url;
    r.bearer = bearer;
    char user[128] = "";
    const char *colon = basic ? strchr(basic, ':') : NULL;
    if (colon) {
        snprintf(user, sizeof user, "%.*s", (int)(colon - basic), basic);
        r.basic_user = user;
        r.basic_pass = colon + 1;
    }
    r.body = body;
    r.body_len = body ? strlen(body) : 0;
    qs_http_resp resp = {0};
    qs_http_do(p->http, &r, &resp);
    answer a;
    memset(&a, 0, sizeof a);
    a.status = resp.status;
    a.body = strdup(qs_buf_str(&resp.body));
    a.j = json_loads(a.body, JSON_DECODE_ANY, NULL);
    const char *ct = qs_http_resp_header(&resp, "Content-Type");
    snprintf(a.ctype, sizeof a.ctype, "%s", ct ? ct : "");
    qs_http_resp_free(&resp);
    return a;
}

static answer api(const char *method, const char *path, const char *body) {
    return req(&emu, method, path, ADMIN, NULL, body);
}

static const char *s(const json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

/* Assert status and one key's text. */
static void expect(answer a, long status, const char *key, const char *text) {
    cr_assert_eq(a.status, status, "want %ld, got %ld: %s", status, a.status, a.body);
    if (key)
        cr_assert_str_eq(s(a.j, key) ? s(a.j, key) : "(none)", text, "%s", a.body);
    answer_free(&a);
}

/* Assert the exact body (e.g. bare {"detail"} or {"message"} without other keys). */
static void expect_body(answer a, long status, const char *body) {
    cr_assert_eq(a.status, status, "want %ld, got %ld: %s", status, a.status, a.body);
    cr_assert_str_eq(a.body, body);
    answer_free(&a);
}

static json_t *state(void) {
    qs_buf out = QS_BUF_INIT;
    cr_assert_eq(emu_call(&emu, "GET", "/_emulator/state", NULL, &out), 200);
    json_t *j = json_loads(qs_buf_str(&out), 0, NULL);
    qs_buf_free(&out);
    return j;
}

static void control_seed(const char *body) {
    qs_buf out = QS_BUF_INIT;
    long st = emu_call(&emu, "POST", "/_emulator/seed", body, &out);
    cr_assert_eq(st, 200, "seed: %ld %s", st, qs_buf_str(&out));
    qs_buf_free(&out);
}

static void control_delete(const char *path) {
    cr_assert_eq(emu_call(&emu, "DELETE", path, NULL, NULL), 200);
}

#define MIRROR_BASE                                                                                \
    "\"external_reference\":\"src.example.com/org1/app\",\"sync_interval\":600,"                   \
    "\"sync_start_date\":\"2025-01-31T12:00:00Z\","                                                \
    "\"root_rule\":{\"rule_kind\":\"tag_glob_csv\",\"rule_value\":[\"*\"]}"

/* ---- callers ---- */

Test(quay_emulator, authentication_and_scopes) {
    answer a = req(&emu, "GET", "/api/v1/repository/org1/app", NULL, NULL, NULL);
    cr_assert_eq(a.status, 401);
    cr_assert_str_eq(s(a.j, "detail"), "Requires authentication");
    cr_assert_str_eq(s(a.j, "error_message"), "Requires authentication");
    cr_assert_str_eq(s(a.j, "error_type"), "invalid_token");
    cr_assert_str_eq(s(a.j, "title"), "invalid_token");
    cr_assert(strstr(s(a.j, "type"), "/api/v1/error/invalid_token"));
    cr_assert_eq(json_integer_value(json_object_get(a.j, "status")), 401);
    answer_free(&a);
    expect(req(&emu, "GET", "/api/v1/repository/org1/app", "wrong", NULL, NULL), 401, "detail",
           "Requires authentication");
    /* Basic credentials and robot tokens are not API v1 credentials */
    expect(req(&emu, "GET", "/api/v1/repository/org1/app", NULL, "org1+mirror:MIRRORTOKEN", NULL),
           401, "error_type", "invalid_token");
    expect(req(&emu, "GET", "/api/v1/repository/org1/app", "MIRRORTOKEN", NULL, NULL), 401, NULL,
           NULL);
    expect(req(&emu, "GET", "/api/v1/repository/org1/app", READER, NULL, NULL), 200, "name", "app");
    expect(req(&emu, "POST", "/api/v1/repository", READER, NULL,
               "{\"namespace\":\"org1\",\"repository\":\"n\",\"visibility\":\"public\","
               "\"description\":\"\"}"),
           403, "error_type", "insufficient_scope");
    expect(api("GET", "/api/v1/nothing/here", NULL), 404, "error_type", "not_found");
    expect_body(api("PATCH", "/api/v1/repository/org1/app", NULL), 405,
                "{\"message\":\"The method is not allowed for the requested URL.\"}\n");
}

/* ---- mirror ---- */

Test(quay_emulator, mirror_post_rules_in_order) {
    const char *p = "/api/v1/repository/org1/app/mirror";
    expect(api("POST", p, "{" MIRROR_BASE ",\"robot_username\":\"org1+mirror\"}"), 400, "detail",
           "'skopeo_timeout_interval' is a required property");
    expect(api("POST", p,
               "{" MIRROR_BASE ",\"robot_username\":\"org1+mirror\","
               "\"skopeo_timeout_interval\":299}"),
           400, "error_message", "299 is less than the minimum of 300");
    expect(api("POST", p,
               "{" MIRROR_BASE ",\"robot_username\":\"org1+mirror\","
               "\"skopeo_timeout_interval\":\"300\"}"),
           400, "detail", "'300' is not of type 'integer'");
    expect(api("POST", "/api/v1/repository/org1/none/mirror",
               "{" MIRROR_BASE
               ",\"robot_username\":\"org1+mirror\",\"skopeo_timeout_interval\":300}"),
           404, "detail", "Not Found");
    expect_body(api("POST", p,
                    "{\"external_reference\":\"src.example.com/org1/app\",\"sync_interval\":600,"
                    "\"sync_start_date\":\"2025-01-31 12:00:00\",\"root_rule\":{\"rule_kind\":"
                    "\"tag_glob_csv\",\"rule_value\":[\"*\"]},\"robot_username\":\"org1+mirror\","
                    "\"skopeo_timeout_interval\":300}"),
                400, "{\"detail\":\"Incorrect DateTime format for sync_start_date.\"}\n");
    expect(api("POST", p,
               "{\"external_reference\":\"https://src.example.com/org1/app\",\"sync_interval\":600,"
               "\"sync_start_date\":\"2025-01-31T12:00:00Z\",\"root_rule\":{\"rule_kind\":"
               "\"tag_glob_csv\",\"rule_value\":[\"*\"]},\"robot_username\":\"org1+mirror\","
               "\"skopeo_timeout_interval\":300}"),
           400, NULL, NULL);
    expect_body(
        api("POST", p,
            "{" MIRROR_BASE ",\"robot_username\":\"org1+mirror\","
            "\"skopeo_timeout_interval\":300,\"external_registry_password\":\"x\"}"),
        400, "{\"detail\":\"Unable to set a new password without also specifying a username.\"}\n");
    answer a = api("POST", p, "{" MIRROR_BASE ",\"skopeo_timeout_interval\":300}");
    cr_assert_eq(a.status, 500, "no robot_username is Quay's KeyError: %s", a.body);
    cr_assert(strstr(a.ctype, "text/html"));
    answer_free(&a);
    expect_body(api("POST", p,
                    "{" MIRROR_BASE ",\"robot_username\":\"org1+ghost\","
                    "\"skopeo_timeout_interval\":300}"),
                400, "{\"message\":\"Could not find robot with specified username\"}\n");
    expect_body(api("POST", p,
                    "{" MIRROR_BASE ",\"robot_username\":\"org2+other\","
                    "\"skopeo_timeout_interval\":300}"),
                400, "{\"message\":\"Invalid robot\"}\n");
    a = api("POST", p,
            "{" MIRROR_BASE ",\"robot_username\":\"org1+mirror\","
            "\"skopeo_timeout_interval\":300,\"sync_status\":\"SYNC_NOW\"}");
    cr_assert_eq(a.status, 500, "an unknown key is Quay's TypeError: %s", a.body);
    answer_free(&a);
    json_t *st = state();
    cr_assert_null(
        json_object_get(json_object_get(json_object_get(st, "repositories"), "org1/app"), "mirror"),
        "nothing refused may leave a config behind");
    json_decref(st);

    const char *good = "{" MIRROR_BASE ",\"robot_username\":\"org1+mirror\","
                       "\"skopeo_timeout_interval\":300,\"external_registry_username\":\"svc\","
                       "\"external_registry_password\":\"" PASSWORD "\"}";
    expect_body(api("POST", p, good), 201, "\"\"\n");
    expect_body(api("POST", p, good), 409,
                "{\"detail\":\"Mirror configuration already exits for repository org1/app\"}\n");
    a = api("GET", p, NULL);
    cr_assert_eq(a.status, 200);
    cr_assert_str_eq(s(a.j, "mirror_type"), "PULL");
    cr_assert_str_eq(s(a.j, "sync_status"), "NEVER_RUN");
    cr_assert_str_eq(s(a.j, "external_registry_username"), "svc");
    cr_assert(json_is_true(json_object_get(a.j, "is_enabled")));
    cr_assert_eq(json_integer_value(json_object_get(a.j, "sync_retries_remaining")), 3);
    cr_assert_null(strstr(a.body, PASSWORD));
    answer_free(&a);
    expect(api("GET", "/api/v1/repository/org1/app", NULL), 200, "state", "MIRROR");
    a = api("GET", "/api/v1/repository/org1/app/permissions/user/org1+mirror", NULL);
    cr_assert_str_eq(s(a.j, "role"), "write");
    answer_free(&a);
}

Test(quay_emulator, mirror_put_applies_in_order) {
    const char *p = "/api/v1/repository/org1/app/mirror";
    expect(api("PUT", p, "{\"sync_interval\":60}"), 404, "detail", "Not Found");
    expect_body(api("POST", p,
                    "{" MIRROR_BASE ",\"robot_username\":\"org1+mirror\","
                    "\"skopeo_timeout_interval\":300}"),
                201, "\"\"\n");
    expect_body(api("PUT", p, "{}"), 201, "\"\"\n");
    /* sync_interval is applied before the credential check refuses the request */
    expect_body(
        api("PUT", p, "{\"sync_interval\":1200,\"external_registry_password\":\"x\"}"), 400,
        "{\"detail\":\"Unable to set a new password without also specifying a username.\"}\n");
    expect_body(api("PUT", p,
                    "{\"external_registry_username\":null,"
                    "\"external_registry_password\":\"x\"}"),
                400, "{\"detail\":\"Unable to delete username while setting a password.\"}\n");
    expect_body(api("PUT", p, "{\"external_reference\":\"\"}"), 400,
                "{\"detail\":\"Empty string is an invalid repository location.\"}\n");
    expect_body(api("PUT", p,
                    "{\"external_registry_config\":{\"verify_tls\":false,\"unsigned_images\":true,"
                    "\"proxy\":{\"https_proxy\":\"http://proxy:3128\"}},\"is_enabled\":false}"),
                201, "\"\"\n");
    answer a = api("GET", p, NULL);
    cr_assert_eq(json_integer_value(json_object_get(a.j, "sync_interval")), 1200);
    cr_assert(json_is_false(json_object_get(a.j, "is_enabled")));
    json_t *cfg = json_object_get(a.j, "external_registry_config");
    cr_assert(json_is_false(json_object_get(cfg, "verify_tls")));
    cr_assert_null(json_object_get(cfg, "unsigned_images"), "PUT ignores unsigned_images");
    cr_assert_str_eq(s(json_object_get(cfg, "proxy"), "https_proxy"), "http://proxy:3128");
    answer_free(&a);
    expect(api("PUT", p, "{\"sync_start_date\":\"2025-02-30T00:00:00Z\"}"), 400, "detail",
           "Incorrect DateTime format for sync_start_date.");
}

Test(quay_emulator, sync_now_states_and_org_mirror) {
    expect(api("POST", "/api/v1/repository/org1/app/mirror/sync-now", NULL), 404, "detail",
           "Not Found");
    /* "busy" is seeded SYNCING: sync-now refuses, sync-cancel works, then sync-now works */
    expect(api("POST", "/api/v1/repository/org1/busy/mirror/sync-now", NULL), 404, NULL, NULL);
    expect_body(api("POST", "/api/v1/repository/org1/busy/mirror/sync-cancel", NULL), 204, "");
    expect_body(api("POST", "/api/v1/repository/org1/busy/mirror/sync-now", NULL), 204, "");
    answer a = api("GET", "/api/v1/repository/org1/busy/mirror", NULL);
    cr_assert_str_eq(s(a.j, "sync_status"), "SYNC_NOW");
    answer_free(&a);

    control_seed("{\"repositories\":[{\"namespace\":\"org1\",\"name\":\"om\","
                 "\"state\":\"ORG_MIRROR\"}]}");
    expect_body(api("PUT", "/api/v1/repository/org1/app/changestate", "{\"state\":\"ORG_MIRROR\"}"),
                400,
                "{\"detail\":\"ORG_MIRROR state is managed by organization-level mirroring\"}\n");
    expect_body(api("PUT", "/api/v1/repository/org1/om/changestate", "{\"state\":\"NORMAL\"}"), 400,
                "{\"detail\":\"Repository state changes are not allowed in an organization managed "
                "by organization-level mirroring\"}\n");
    expect(api("POST", "/api/v1/repository/org1/om/mirror",
               "{" MIRROR_BASE
               ",\"robot_username\":\"org1+mirror\",\"skopeo_timeout_interval\":300}"),
           400, "detail",
           "Repository mirror configuration cannot be managed when organization-level mirroring "
           "is configured");
    expect_body(api("PUT", "/api/v1/repository/org1/app/changestate", "{\"state\":\"READ_ONLY\"}"),
                200, "{\"success\":true}\n");
    expect(api("PUT", "/api/v1/repository/org1/nope/changestate", "{\"state\":\"NORMAL\"}"), 404,
           NULL, NULL);
    expect_body(api("DELETE", "/api/v1/repository/org1/never-existed", NULL), 204, "");
}

/* ---- robots ---- */

/* GET /v2/auth as `user:pass` for push+pull on `repo`; the granted actions as "pull,push". */
static long registry_login(const char *userpass, const char *repo, char *granted, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "/v2/auth?service=quay.io&scope=repository:%s:pull,push", repo);
    answer a = req(&emu, "GET", path, NULL, userpass, NULL);
    long st = a.status;
    granted[0] = '\0';
    const char *tok = s(a.j, "token");
    if (st == 200 && tok) {
        const char *dot1 = strchr(tok, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
        cr_assert(dot2);
        size_t len = 0;
        unsigned char *raw = qs_base64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &len);
        json_t *claims = json_loadb((const char *)raw, len, 0, NULL);
        json_t *acts =
            json_object_get(json_array_get(json_object_get(claims, "access"), 0), "actions");
        size_t i;
        json_t *v;
        json_array_foreach(acts, i, v) {
            size_t used = strlen(granted);
            snprintf(granted + used, n - used, "%s%s", i ? "," : "", json_string_value(v));
        }
        json_decref(claims);
        free(raw);
    }
    answer_free(&a);
    return st;
}

Test(quay_emulator, robots_400_not_404_and_regenerate_revokes) {
    expect_body(api("GET", "/api/v1/organization/org1/robots/ghost", NULL), 400,
                "{\"message\":\"Could not find robot with specified username\"}\n");
    expect_body(api("POST", "/api/v1/organization/org1/robots/ghost/regenerate", NULL), 400,
                "{\"message\":\"Could not find robot with specified username\"}\n");
    expect_body(api("DELETE", "/api/v1/organization/org1/robots/ghost", NULL), 400,
                "{\"message\":\"Could not find robot with username: org1+ghost\"}\n");
    answer a = api("PUT", "/api/v1/organization/org1/robots/pusher", "{\"description\":\"ci\"}");
    cr_assert_eq(a.status, 201, "%s", a.body);
    cr_assert_str_eq(s(a.j, "name"), "org1+pusher");
    cr_assert(json_is_null(json_object_get(a.j, "last_accessed")));
    cr_assert(strstr(s(a.j, "created"), " -0000"), "RFC 822 date: %s", s(a.j, "created"));
    char old_tok[80];
    snprintf(old_tok, sizeof old_tok, "%s", s(a.j, "token"));
    cr_assert_eq(strlen(old_tok), 64);
    answer_free(&a);
    expect(api("PUT", "/api/v1/organization/org1/robots/pusher", NULL), 400, "detail",
           "Existing robot with name: org1+pusher");
    expect(api("PUT", "/api/v1/organization/org1/robots/x", NULL), 400, "detail",
           "The name for the robot 'x' is invalid: Namespace must be between 2 and 255 "
           "characters in length");
    expect(api("PUT", "/api/v1/repository/org1/app/permissions/user/org1+pusher",
               "{\"role\":\"write\"}"),
           200, "role", "write");

    char userpass[160], granted[64];
    snprintf(userpass, sizeof userpass, "org1+pusher:%s", old_tok);
    cr_assert_eq(registry_login(userpass, "org1/app", granted, sizeof granted), 200);
    cr_assert_str_eq(granted, "pull,push");
    cr_assert_eq(registry_login(userpass, "org2/elsewhere", granted, sizeof granted), 200);
    cr_assert_str_eq(granted, "", "no permission there");

    a = api("POST", "/api/v1/organization/org1/robots/pusher/regenerate", NULL);
    cr_assert_eq(a.status, 200);
    char new_tok[80];
    snprintf(new_tok, sizeof new_tok, "%s", s(a.j, "token"));
    cr_assert_str_neq(new_tok, old_tok);
    answer_free(&a);
    cr_assert_eq(registry_login(userpass, "org1/app", granted, sizeof granted), 401,
                 "the old token must stop working at once");
    snprintf(userpass, sizeof userpass, "org1+pusher:%s", new_tok);
    cr_assert_eq(registry_login(userpass, "org1/app", granted, sizeof granted), 200);
    cr_assert_str_eq(granted, "pull,push");
    /* READ_ONLY: no push for anyone */
    expect(api("PUT", "/api/v1/repository/org1/app/changestate", "{\"state\":\"READ_ONLY\"}"), 200,
           NULL, NULL);
    cr_assert_eq(registry_login(userpass, "org1/app", granted, sizeof granted), 200);
    cr_assert_str_eq(granted, "pull");

    /* a robot a mirror uses cannot be deleted */
    expect(api("DELETE", "/api/v1/organization/org1/robots/mirror", NULL), 400, "detail",
           "Robot is being used by a mirror");
    expect_body(api("DELETE", "/api/v1/organization/org1/robots/pusher", NULL), 204, "");
    cr_assert_eq(registry_login(userpass, "org1/app", granted, sizeof granted), 401);
}

/* ---- write log, plans, pages ---- */

Test(quay_emulator, write_log_redacts_secrets) {
    control_delete("/_emulator/writes");
    expect(api("GET", "/api/v1/repository/org1/app", NULL), 200, NULL, NULL);
    expect(api("POST", "/api/v1/repository/org1/app/mirror",
               "{" MIRROR_BASE
               ",\"robot_username\":\"org1+mirror\",\"skopeo_timeout_interval\":300,"
               "\"external_registry_username\":\"svc\",\"external_registry_password\":\"" PASSWORD
               "\"}"),
           201, NULL, NULL);
    expect(req(&emu, "DELETE", "/api/v1/repository/org1/app", READER, NULL, NULL), 403, NULL, NULL);
    expect(api("PUT", "/api/v1/organization/org1/robots/writer", NULL), 201, NULL, NULL);
    qs_buf out = QS_BUF_INIT;
    cr_assert_eq(emu_call(&emu, "GET", "/_emulator/writes", NULL, &out), 200);
    cr_assert_null(strstr(qs_buf_str(&out), PASSWORD), "%s", qs_buf_str(&out));
    json_t *w = json_loads(qs_buf_str(&out), 0, NULL);
    qs_buf_free(&out);
    cr_assert_eq(json_array_size(w), 3, "GETs are not writes");
    json_t *first = json_array_get(w, 0);
    cr_assert_str_eq(s(first, "method"), "POST");
    cr_assert_str_eq(s(first, "path"), "/api/v1/repository/org1/app/mirror");
    cr_assert_eq(json_integer_value(json_object_get(first, "status")), 201);
    json_t *body = json_object_get(first, "body");
    cr_assert_str_eq(s(body, "external_registry_password"), "<redacted>");
    cr_assert_str_eq(s(body, "external_registry_username"), "svc");
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(w, 1), "status")), 403,
                 "refused writes are logged too");
    cr_assert(json_is_null(json_object_get(json_array_get(w, 2), "body")));
    json_decref(w);
    control_delete("/_emulator/writes");
    cr_assert_eq(emu_call(&emu, "GET", "/_emulator/writes", NULL, &out), 200);
    cr_assert_str_eq(qs_buf_str(&out), "[]\n");
    qs_buf_free(&out);
}

Test(quay_emulator, private_repository_plan_402) {
    qs_buf out = QS_BUF_INIT;
    cr_assert_eq(emu_call(&emu, "PUT", "/_emulator/plans",
                          "{\"namespace\":\"org2\",\"private_repos\":1}", &out),
                 200);
    qs_buf_free(&out);
    const char *priv = "{\"namespace\":\"org2\",\"repository\":\"%s\",\"visibility\":\"%s\","
                       "\"description\":\"\"}";
    char body[256];
    snprintf(body, sizeof body, priv, "p1", "private");
    expect(api("POST", "/api/v1/repository", body), 201, "name", "p1");
    snprintf(body, sizeof body, priv, "p2", "private");
    answer a = api("POST", "/api/v1/repository", body);
    cr_assert_eq(a.status, 402);
    cr_assert_str_eq(s(a.j, "detail"), "Payment Required");
    cr_assert_str_eq(s(a.j, "error_type"), "exceeds_license");
    answer_free(&a);
    snprintf(body, sizeof body, priv, "p2", "public");
    expect(api("POST", "/api/v1/repository", body), 201, NULL, NULL);
    expect(
        api("POST", "/api/v1/repository/org2/p2/changevisibility", "{\"visibility\":\"private\"}"),
        402, "error_type", "exceeds_license");
    expect_body(
        api("POST", "/api/v1/repository/org2/p1/changevisibility", "{\"visibility\":\"public\"}"),
        200, "{\"success\":true}\n");
    expect_body(
        api("POST", "/api/v1/repository/org2/p2/changevisibility", "{\"visibility\":\"private\"}"),
        200, "{\"success\":true}\n");
    expect_body(
        api("POST", "/api/v1/repository/org2/nope/changevisibility", "{\"visibility\":\"public\"}"),
        200, "null\n");
    /* existence is checked before the plan and the name */
    snprintf(body, sizeof body, priv, "p2", "private");
    expect(api("POST", "/api/v1/repository", body), 400, "detail", "Repository already exists");
    snprintf(body, sizeof body, priv, "Bad", "public");
    expect(api("POST", "/api/v1/repository", body), 400, "detail", "Invalid repository name");
    snprintf(body, sizeof body, priv, "a//b", "public");
    expect(api("POST", "/api/v1/repository", body), 400, "detail", "Invalid repository name");
    snprintf(body, sizeof body, priv, "a/b.c_d-e", "public");
    expect(api("POST", "/api/v1/repository", body), 201, "name", "a/b.c_d-e");
}

Test(quay_emulator, pages_of_100_next_page_absent_on_last) {
    qs_buf b = QS_BUF_INIT;
    qs_buf_puts(&b, "{\"repositories\":[");
    for (int i = 0; i < 250; i++)
        qs_buf_printf(&b, "%s{\"namespace\":\"big\",\"name\":\"r%03d\"}", i ? "," : "", i);
    qs_buf_puts(&b, "]}");
    control_seed(qs_buf_str(&b));
    qs_buf_free(&b);
    answer a = api("GET", "/api/v1/repository?namespace=big", NULL);
    cr_assert_eq(json_array_size(json_object_get(a.j, "repositories")), 100);
    cr_assert_str_eq(s(json_array_get(json_object_get(a.j, "repositories"), 0), "name"), "r000");
    char next[128], path[256];
    snprintf(next, sizeof next, "%s", s(a.j, "next_page"));
    answer_free(&a);
    snprintf(path, sizeof path, "/api/v1/repository?namespace=big&next_page=%s", next);
    a = api("GET", path, NULL);
    cr_assert_str_eq(s(json_array_get(json_object_get(a.j, "repositories"), 0), "name"), "r100");
    snprintf(next, sizeof next, "%s", s(a.j, "next_page"));
    answer_free(&a);
    snprintf(path, sizeof path, "/api/v1/repository?namespace=big&next_page=%s", next);
    a = api("GET", path, NULL);
    cr_assert_eq(json_array_size(json_object_get(a.j, "repositories")), 50);
    cr_assert_null(json_object_get(a.j, "next_page"), "the key is absent on the last page");
    answer_free(&a);
    a = api("GET", "/api/v1/repository?namespace=big&next_page=garbage!!", NULL);
    cr_assert_str_eq(s(json_array_get(json_object_get(a.j, "repositories"), 0), "name"), "r000",
                     "an undecodable token is page 1");
    answer_free(&a);
    expect(api("GET", "/api/v1/repository", NULL), 400, "detail",
           "namespace, starred or public are required for this API call");
}

/* ---- instances, token server, faults ---- */

Test(quay_emulator, instances_independent_and_token_server_optional) {
    emu_proc other;
    start(&other, false);
    expect(req(&other, "POST", "/api/v1/organization/", ADMIN, NULL, "{\"name\":\"only-here\"}"),
           201, NULL, NULL);
    expect(req(&other, "GET", "/api/v1/organization/only-here", ADMIN, NULL, NULL), 200, "name",
           "only-here");
    expect(api("GET", "/api/v1/organization/only-here", NULL), 404, NULL, NULL);
    answer a = req(&other, "GET", "/v2/auth?service=quay.io&scope=repository:org1/app:pull", NULL,
                   "org1+mirror:MIRRORTOKEN", NULL);
    cr_assert_eq(a.status, 404, "no QUAY_EMU_TOKEN_KEY: the token server is off");
    answer_free(&a);
    emu_stop(&other);
}

Test(quay_emulator, delay_only_fault_slows_every_call) {
    qs_buf out = QS_BUF_INIT;
    cr_assert_eq(emu_call(&emu, "POST", "/_emulator/faults",
                          "{\"path_prefix\":\"/api/v1\",\"status\":0,\"delay_ms\":60,\"count\":-1}",
                          &out),
                 201);
    qs_buf_free(&out);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    expect(api("GET", "/api/v1/repository/org1/app", NULL), 200, "name", "app");
    expect(api("GET", "/api/v1/repository/org1/app", NULL), 200, "name", "app");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    cr_assert_geq(ms, 120.0, "two calls of 60 ms each took %.1f ms", ms);
}
