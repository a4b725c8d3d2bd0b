/* test_orgm_repo.c — one repository reconciled in mirror mode (repo.c) against the Quay
 * emulator as the destination, through the service's own settings, Secret files and clients:
 * create (3 writes), a no-op that costs exactly one call when the run's listing gave the
 * state (no repository GET), an event's task without a hint, a name with '/', READ_ONLY /
 * ORG_MIRROR left alone without a call, DRY_RUN writing nothing, RECREATE_MIRROR_CONFIG after the
 * source password was rotated in its file (the PUT carries the new one), a task marked `recreate`,
 * an edited robot name file read again, a garbage JSON answer and an HTML 500 failing
 * cleanly (the second one marked for a retry), and a refused destination token — with no
 * token or password in any error. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "emu_spawn.h"
#include "org-mirror/ctx.h"
#include "org-mirror/repo.h"
#include "shared/common.h"
#include "shared/log.h"

#define DST_TOKEN "orgm-dst-token-0123456789"
#define PASSWORD1 "first-source-password"
#define PASSWORD2 "rotated-source-password-2"

static const char fixture[] = "{\"api_tokens\":[{\"token\":\"" DST_TOKEN "\",\"user\":\"admin\"}],"
                              " \"organizations\":[\"acme\"],"
                              " \"robots\":[{\"org\":\"acme\",\"short\":\"mirror\"}]}";

static emu_proc emu;
static qs_http *http;
static orgm_settings s;
static orgm_ctx ctx;

/* <emu.dir>/<sub>/<name> = text (a new file each time: its identity changes) */
static void put(const char *sub, const char *name, const char *text) {
    char path[256], tmp[300];
    snprintf(path, sizeof path, "%s/%s", emu.dir, sub);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/%s/%s", emu.dir, sub, name);
    snprintf(tmp, sizeof tmp, "%s.new", path);
    FILE *f = fopen(tmp, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    cr_assert_eq(rename(tmp, path), 0); /* as a Secret volume swaps its files */
}

static void setenv_dir(const char *var, const char *sub) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", emu.dir, sub);
    setenv(var, path, 1);
}

static void setup(void) {
    qs_log_set_fd(-1);
    emu_prepare(&emu);
    char fx[160], e_fx[200];
    emu_write_file(&emu, "fixture.json", fixture, fx, sizeof fx);
    snprintf(e_fx, sizeof e_fx, "QUAY_EMU_FIXTURE=%s", fx);
    const char *env[] = {e_fx, "QUAY_EMU_LISTEN=127.0.0.1:0", NULL};
    emu_start(&emu, "quay", env);
    put("src", "acme", "source-token-unused\n");
    put("dst", "acme", DST_TOKEN "\n");
    put("robots", "acme", "mirror\n");
    put("creds", "quay_username", "svc-reader\n");
    put("creds", "quay_password", PASSWORD1 "\n");
    char u[256], p[256];
    snprintf(u, sizeof u, "%s/creds/quay_username", emu.dir);
    snprintf(p, sizeof p, "%s/creds/quay_password", emu.dir);
    setenv("QUAY_USERNAME_FILE", u, 1);
    setenv("QUAY_PASSWORD_FILE", p, 1);
    setenv("SOURCE_REGISTRY", "quay-sdc.example.com:8443", 1);
    setenv("DESTINATION_REGISTRY", emu.base, 1);
    setenv("ORGANIZATIONS", "acme", 1);
    setenv("TAG_GLOB", "'[ \"v*\" ]'", 1);
    setenv_dir("SOURCE_TOKENS_DIR", "src");
    setenv_dir("DESTINATION_TOKENS_DIR", "dst");
    setenv_dir("ROBOT_NAMES_DIR", "robots");
    cr_assert_eq(orgm_settings_load(&s), 0);
    qs_http_opts o = QS_HTTP_OPTS_INIT;
    o.max_attempts = 2;
    o.backoff_base_ms = 5;
    o.backoff_max_ms = 10;
    http = qs_http_new(&o);
    char err[256] = "";
    cr_assert_eq(orgm_ctx_init(&ctx, &s, http, err, sizeof err), 0, "%s", err);
}

static void teardown(void) {
    orgm_ctx_free(&ctx);
    qs_http_free(http);
    orgm_settings_free(&s);
    emu_stop(&emu);
    const char *vars[] = {"QUAY_USERNAME_FILE",   "QUAY_PASSWORD_FILE",     "SOURCE_REGISTRY",
                          "DESTINATION_REGISTRY", "ORGANIZATIONS",          "TAG_GLOB",
                          "SOURCE_TOKENS_DIR",    "DESTINATION_TOKENS_DIR", "ROBOT_NAMES_DIR"};
    for (size_t i = 0; i < QS_ARRAY_LEN(vars); i++)
        unsetenv(vars[i]);
}

TestSuite(orgm_repo, .init = setup, .fini = teardown, .timeout = 60);

/* Reconcile acme/<repo>; `hint` is the run listing's state ("" absent), NULL = none. */
static int reconcile(const char *repo, const char *hint, orgm_repo_result *res) {
    orgm_task t = {.org = "acme", .is_public = -1, .reason = "run"};
    snprintf(t.repository, sizeof t.repository, "%s", repo);
    if (hint) {
        t.state_known = true;
        snprintf(t.state, sizeof t.state, "%s", hint);
    }
    return orgm_repo_mirror(&ctx, 0, &t, res);
}

static json_t *emu_json(const char *path) {
    qs_buf b = QS_BUF_INIT;
    cr_assert_eq(emu_call(&emu, "GET", path, NULL, &b), 200);
    json_t *j = json_loads(qs_buf_str(&b), 0, NULL);
    qs_buf_free(&b);
    cr_assert_not_null(j);
    return j;
}

static void reset_counters(void) {
    cr_assert_eq(emu_call(&emu, "DELETE", "/_emulator/writes", NULL, NULL), 200);
    cr_assert_eq(emu_call(&emu, "DELETE", "/_emulator/calls", NULL, NULL), 200);
}

/* Every call the destination received since reset_counters. */
static long total_calls(void) {
    json_t *c = emu_json("/_emulator/calls");
    long n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(c, k, v) n += (long)json_integer_value(v);
    json_decref(c);
    return n;
}

static void fault(const char *body) {
    cr_assert_eq(emu_call(&emu, "POST", "/_emulator/faults", body, NULL), 201);
}

static void no_secret_in(const char *text) {
    const char *secrets[] = {DST_TOKEN, PASSWORD1, PASSWORD2, "source-token-unused"};
    for (size_t i = 0; i < QS_ARRAY_LEN(secrets); i++)
        cr_assert_null(strstr(text, secrets[i]), "a secret in: %s", text);
}

Test(orgm_repo, create_then_a_noop_costs_one_call) {
    orgm_repo_result res;
    cr_assert_eq(reconcile("app1", "", &res), QS_OK, "%s", res.error);
    cr_assert_eq(res.outcome, ORGM_OUT_CREATED);
    json_t *w = emu_json("/_emulator/writes");
    cr_assert_eq(json_array_size(w), 3, "create, mirror POST, sync-now");
    json_t *post = json_object_get(json_array_get(w, 1), "body");
    cr_assert_str_eq(json_string_value(json_object_get(post, "external_reference")),
                     "quay-sdc.example.com:8443/acme/app1", "host[:port] only, no scheme");
    cr_assert_str_eq(json_string_value(json_object_get(post, "robot_username")), "acme+mirror");
    json_decref(w);

    reset_counters();
    cr_assert_eq(reconcile("app1", "MIRROR", &res), QS_OK, "%s", res.error);
    cr_assert_eq(res.outcome, ORGM_OUT_UNCHANGED);
    json_t *calls = emu_json("/_emulator/calls");
    cr_assert_eq(
        json_integer_value(json_object_get(calls, "GET /api/v1/repository/acme/app1/mirror")), 1);
    cr_assert_null(json_object_get(calls, "GET /api/v1/repository/acme/app1"),
                   "the listing's state is used: no repository GET");
    cr_assert_eq(total_calls(), 1);
    json_decref(calls);

    reset_counters();
    cr_assert_eq(reconcile("app1", NULL, &res), QS_OK, "%s", res.error);
    cr_assert_eq(res.outcome, ORGM_OUT_UNCHANGED);
    cr_assert_eq(total_calls(), 2, "without a hint (an event): the repository, then its config");
    json_t *w2 = emu_json("/_emulator/writes");
    cr_assert_eq(json_array_size(w2), 0);
    json_decref(w2);
}

Test(orgm_repo, a_name_with_slashes) {
    orgm_repo_result res;
    cr_assert_eq(reconcile("team/sub/app", "", &res), QS_OK, "%s", res.error);
    cr_assert_eq(res.outcome, ORGM_OUT_CREATED);
    json_t *st = emu_json("/_emulator/state");
    json_t *m = json_object_get(
        json_object_get(json_object_get(st, "repositories"), "acme/team/sub/app"), "mirror");
    cr_assert_str_eq(json_string_value(json_object_get(m, "external_reference")),
                     "quay-sdc.example.com:8443/acme/team/sub/app");
    json_decref(st);
    reset_counters();
    cr_assert_eq(reconcile("team/sub/app", "MIRROR", &res), QS_OK, "%s", res.error);
    cr_assert_eq(res.outcome, ORGM_OUT_UNCHANGED);
    json_t *calls = emu_json("/_emulator/calls");
    cr_assert_eq(json_integer_value(
                     json_object_get(calls, "GET /api/v1/repository/acme/team/sub/app/mirror")),
                 1);
    json_decref(calls);
}

Test(orgm_repo, read_only_and_org_mirror_are_not_touched) {
    const char *states[] = {"READ_ONLY", "ORG_MIRROR"};
    for (size_t i = 0; i < 2; i++) {
        reset_counters();
        orgm_repo_result res;
        cr_assert_eq(reconcile("kept", states[i], &res), QS_OK);
        cr_assert_eq(res.outcome, ORGM_OUT_SKIPPED);
        cr_assert_not_null(strstr(res.d.reason, states[i]));
        cr_assert_eq(total_calls(), 0, "%s: not a single call", states[i]);
    }
}

Test(orgm_repo, dry_run_writes_nothing) {
    s.dry_run = true;
    orgm_repo_result res;
    cr_assert_eq(reconcile("planned", "", &res), QS_OK, "%s", res.error);
    cr_assert_eq(res.d.action, ORGM_ACT_CREATE);
    json_t *w = emu_json("/_emulator/writes");
    cr_assert_eq(json_array_size(w), 0);
    json_decref(w);
}

Test(orgm_repo, a_rotated_password_reaches_quay_with_recreate) {
    orgm_repo_result res;
    cr_assert_eq(reconcile("app2", "", &res), QS_OK, "%s", res.error);
    put("creds", "quay_password", PASSWORD2 "\n"); /* the Secret is rotated, no restart */
    char *user = NULL, *pass = NULL;
    cr_assert_eq(orgm_ctx_source_account(&ctx, &user, &pass), QS_OK);
    cr_assert_str_eq(pass, PASSWORD2, "the password file is read again");
    orgm_mirror_want want = {s.source.host,      "acme", "app2", user, pass, 600, "acme+mirror",
                             &s.orgs.v[0].globs, true,   300,    0};
    json_t *body = orgm_mirror_config(&want);
    cr_assert_str_eq(json_string_value(json_object_get(body, "external_registry_password")),
                     PASSWORD2);
    json_decref(body);
    qs_secret_release(user);
    qs_secret_release(pass);

    reset_counters();
    cr_assert_eq(reconcile("app2", "MIRROR", &res), QS_OK);
    cr_assert_eq(res.outcome, ORGM_OUT_UNCHANGED, "Quay never shows the password: no diff");
    s.recreate = true;
    cr_assert_eq(reconcile("app2", "MIRROR", &res), QS_OK, "%s", res.error);
    cr_assert_eq(res.outcome, ORGM_OUT_UPDATED);
    json_t *w = emu_json("/_emulator/writes");
    cr_assert_eq(json_array_size(w), 1);
    json_t *put_ = json_array_get(w, 0);
    cr_assert_str_eq(json_string_value(json_object_get(put_, "method")), "PUT");
    json_t *b = json_object_get(put_, "body");
    cr_assert_str_eq(json_string_value(json_object_get(b, "external_registry_username")),
                     "svc-reader", "Quay: a password only with its username");
    cr_assert_str_eq(json_string_value(json_object_get(b, "external_registry_password")),
                     "<redacted>");
    json_decref(w);
}

Test(orgm_repo, an_edited_robot_name_is_read_again) {
    put("robots", "acme", "beta+mirror\n");
    orgm_repo_result res;
    cr_assert_neq(reconcile("app6", "", &res), QS_OK);
    cr_assert_eq(res.outcome, ORGM_OUT_FAILED);
    cr_assert_not_null(strstr(res.error, "belongs to another organization"), "%s", res.error);
    json_t *w = emu_json("/_emulator/writes");
    cr_assert_eq(json_array_size(w), 0, "nothing written with a wrong robot");
    json_decref(w);
    put("robots", "acme", "acme+mirror\n");
    cr_assert_eq(reconcile("app6", "", &res), QS_OK, "%s", res.error);
    cr_assert_eq(res.outcome, ORGM_OUT_CREATED);
}

Test(orgm_repo, a_task_marked_recreate_is_put_again) {
    orgm_repo_result res;
    cr_assert_eq(reconcile("app5", "", &res), QS_OK, "%s", res.error);
    reset_counters();
    orgm_task t = {.org = "acme",
                   .repository = "app5",
                   .is_public = -1,
                   .state_known = true,
                   .state = "MIRROR",
                   .recreate = true}; /* the source account changed */
    cr_assert_eq(orgm_repo_mirror(&ctx, 0, &t, &res), QS_OK, "%s", res.error);
    cr_assert_eq(res.outcome, ORGM_OUT_UPDATED);
    cr_assert_eq(res.d.nchanges, 1);
    cr_assert_str_eq(res.d.changes[0], "source_account", "named for its cause");
    json_t *w = emu_json("/_emulator/writes");
    cr_assert_eq(json_array_size(w), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(w, 0), "method")), "PUT");
    json_decref(w);
}

Test(orgm_repo, garbage_and_html_answers_fail_cleanly) {
    orgm_repo_result res;
    fault("{\"path_prefix\":\"/api/v1/repository/acme/bad/mirror\",\"method\":\"GET\","
          "\"status\":200,\"body\":\"{not json at all\",\"count\":1}");
    cr_assert_neq(reconcile("bad", "MIRROR", &res), QS_OK);
    cr_assert_eq(res.outcome, ORGM_OUT_FAILED);
    cr_assert_not(res.retry, "a garbage 200 is not worth retrying");
    cr_assert_not_null(strstr(res.error, "acme/bad"), "%s", res.error);
    no_secret_in(res.error);

    fault("{\"path_prefix\":\"/api/v1/repository/acme/bad/mirror\",\"method\":\"GET\","
          "\"status\":500,\"body\":\"<html><body><h1>Internal Server Error</h1></body></html>\","
          "\"count\":-1}");
    cr_assert_neq(reconcile("bad", "MIRROR", &res), QS_OK);
    cr_assert_eq(res.outcome, ORGM_OUT_FAILED);
    cr_assert(res.retry, "a 500 is retried by the queue");
    cr_assert_not_null(strstr(res.error, "HTTP 500"), "%s", res.error);
    cr_assert_null(strstr(res.error, "<html"), "no HTML page in the error: %s", res.error);
    no_secret_in(res.error);
    cr_assert_eq(emu_call(&emu, "DELETE", "/_emulator/faults", NULL, NULL), 200);
}

Test(orgm_repo, a_refused_destination_token_fails_at_once) {
    put("dst", "acme", "not-the-right-token\n");
    orgm_repo_result res;
    cr_assert_neq(reconcile("app3", "", &res), QS_OK);
    cr_assert_eq(res.outcome, ORGM_OUT_FAILED);
    cr_assert_not(res.retry);
    cr_assert_not_null(strstr(res.error, "HTTP 401"), "%s", res.error);
    cr_assert_null(strstr(res.error, "not-the-right-token"));
    no_secret_in(res.error);
    put("dst", "acme", DST_TOKEN "\n"); /* rotated back: the next call uses it */
    cr_assert_eq(reconcile("app3", "", &res), QS_OK, "%s", res.error);
    cr_assert_eq(res.outcome, ORGM_OUT_CREATED);
}
