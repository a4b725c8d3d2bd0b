/* test_kube.c — libshared's kube client against the Kubernetes API emulator.
 *
 * Every test starts its own kube-emulator (tests/unit/emu_spawn.h) with a fixture of two users
 * and one permission, and a qs_kube pointed at it with the service account token in a file.
 * Covered: TokenReview for known, unknown and revoked tokens (with groups), SAR allowed and
 * denied, the API failing (503 until reset → QS_EUNAVAIL after the client's retries; one 503
 * → success on the retry), our own service account token refused (401 → QS_EUNAVAIL) and
 * then fixed by rotating the token file, answers that are not reviews, the in-cluster
 * settings, and that the reviewed token never reaches the log. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_spawn.h"
#include "shared/common.h"
#include "shared/kube.h"
#include "shared/log.h"

#define SA_TOKEN "sa-token-1234567890"
#define ALICE_TOKEN "alice-secret-token-0001"
#define BOB_TOKEN "bob-secret-token-0002"

static const char fixture[] =
    "{\"service_account_token\":\"" SA_TOKEN "\","
    " \"users\":[{\"token\":\"" ALICE_TOKEN "\",\"username\":\"alice\",\"uid\":\"u-alice\","
    "             \"groups\":[\"devs\",\"system:authenticated\"]},"
    "            {\"token\":\"" BOB_TOKEN "\",\"username\":\"bob\"}],"
    " \"permissions\":[{\"user_group\":\"devs\",\"namespace\":\"ocp\",\"verb\":\"get\","
    "   \"group\":\"image.openshift.io\",\"resource\":\"imagestreams\","
    "   \"subresource\":\"layers\"}],"
    " \"imagestreams\":[{\"namespace\":\"ci\",\"name\":\"ci-operator\",\"tags\":["
    "   {\"tag\":\"latest\",\"image\":\"sha256:"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"},"
    "   {\"tag\":\"v1\",\"image\":\"sha256:"
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"}]},"
    "  {\"namespace\":\"ocp\",\"name\":\"4.22\",\"tags\":[]}]}";

static emu_proc emu;
static qs_kube *kube;
static char token_path[128];

static void write_token(const char *value) {
    /* write + rename: a new inode, as a rotated Secret mount would give */
    char tmp[160], path[128];
    emu_write_file(&emu, "token.new", value, tmp, sizeof tmp);
    snprintf(path, sizeof path, "%s/token", emu.dir);
    cr_assert_eq(rename(tmp, path), 0);
    snprintf(token_path, sizeof token_path, "%s", path);
}

static void setup(void) {
    qs_log_init("test_kube", QS_LOG_ERROR);
    emu_prepare(&emu);
    char fx[160], env_fixture[200];
    emu_write_file(&emu, "fixture.json", fixture, fx, sizeof fx);
    snprintf(env_fixture, sizeof env_fixture, "KUBE_EMU_FIXTURE=%s", fx);
    const char *env[] = {env_fixture, "KUBE_EMU_LISTEN=127.0.0.1:0", NULL};
    emu_start(&emu, "kube", env);
    write_token(SA_TOKEN "\n");
    qs_kube_opts o = QS_KUBE_OPTS_INIT;
    o.api_url = emu.base;
    o.token_file = token_path;
    char err[256] = "";
    kube = qs_kube_new(&o, err, sizeof err);
    cr_assert_not_null(kube, "qs_kube_new: %s", err);
}

static void teardown(void) {
    qs_kube_free(kube);
    kube = NULL;
    emu_stop(&emu);
}

TestSuite(kube, .init = setup, .fini = teardown, .timeout = 60);

static const qs_sar layers_sar = {
    .namespace_ = "ocp",
    .group = "image.openshift.io",
    .version = "v1",
    .resource = "imagestreams",
    .subresource = "layers",
    .verb = "get",
};

static void arm_fault(const char *json) {
    cr_assert_eq(emu_call(&emu, "POST", "/_emulator/faults", json, NULL), 201);
}

#define TR_PATH "POST /apis/authentication.k8s.io/v1/tokenreviews"

/* Capture libshared's log lines into a file of the test directory. */
static FILE *capture_log(char *path, size_t pathlen) {
    emu_write_file(&emu, "client.log", "", path, pathlen);
    FILE *lf = fopen(path, "w");
    cr_assert_not_null(lf);
    qs_log_init("test_kube", QS_LOG_DEBUG);
    qs_log_set_fd(fileno(lf));
    return lf;
}

/* Stop capturing; the captured text (free it). */
static char *captured(FILE *lf, const char *path) {
    qs_log_set_fd(2);
    qs_log_init("test_kube", QS_LOG_ERROR);
    fclose(lf);
    FILE *rf = fopen(path, "r");
    cr_assert_not_null(rf);
    char *text = calloc(1, 1 << 16);
    size_t len = fread(text, 1, (1 << 16) - 1, rf);
    fclose(rf);
    cr_assert(len > 0, "expected log lines");
    return text;
}

Test(kube, url_is_the_explicit_one) { cr_assert_str_eq(qs_kube_url(kube), emu.base); }

Test(kube, token_review_authenticated_with_groups) {
    qs_token_review tr;
    cr_assert_eq(qs_kube_token_review(kube, ALICE_TOKEN, &tr), 0);
    cr_assert(tr.authenticated);
    cr_assert_str_eq(tr.username, "alice");
    cr_assert_str_eq(tr.uid, "u-alice");
    cr_assert_eq(tr.ngroups, 2);
    cr_assert_str_eq(tr.groups[0], "devs");
    cr_assert_str_eq(tr.groups[1], "system:authenticated");
    qs_token_review_free(&tr);
    cr_assert_eq(emu_calls(&emu, TR_PATH), 1);
}

Test(kube, token_review_unknown_token_is_not_an_error) {
    qs_token_review tr;
    cr_assert_eq(qs_kube_token_review(kube, "no-such-token", &tr), 0);
    cr_assert_not(tr.authenticated);
    cr_assert_null(tr.username);
    cr_assert_eq(tr.ngroups, 0);
    qs_token_review_free(&tr);
}

Test(kube, revoked_token_stops_authenticating) {
    qs_token_review tr;
    cr_assert_eq(qs_kube_token_review(kube, BOB_TOKEN, &tr), 0);
    cr_assert(tr.authenticated);
    cr_assert_str_eq(tr.username, "bob");
    qs_token_review_free(&tr);
    cr_assert_eq(emu_call(&emu, "DELETE", "/_emulator/tokens/" BOB_TOKEN, NULL, NULL), 200);
    cr_assert_eq(qs_kube_token_review(kube, BOB_TOKEN, &tr), 0);
    cr_assert_not(tr.authenticated);
    qs_token_review_free(&tr);
}

Test(kube, sar_allowed_through_a_group) {
    const char *groups[] = {"devs", "system:authenticated"};
    qs_sar sar = layers_sar;
    sar.user = "alice";
    sar.groups = groups;
    sar.ngroups = 2;
    bool allowed = false;
    cr_assert_eq(qs_kube_sar(kube, &sar, &allowed), 0);
    cr_assert(allowed);
}

Test(kube, sar_denied) {
    const char *groups[] = {"system:authenticated"};
    qs_sar sar = layers_sar;
    sar.user = "bob";
    sar.groups = groups;
    sar.ngroups = 1;
    bool allowed = true;
    cr_assert_eq(qs_kube_sar(kube, &sar, &allowed), 0);
    cr_assert_not(allowed);
    /* The same user with the other subresource: still denied (exact attribute match). */
    sar.user = "alice";
    sar.subresource = NULL;
    const char *devs[] = {"devs"};
    sar.groups = devs;
    cr_assert_eq(qs_kube_sar(kube, &sar, &allowed), 0);
    cr_assert_not(allowed);
}

Test(kube, api_down_is_unavailable_after_retries) {
    arm_fault("{\"path_prefix\":\"/apis/\",\"status\":503,\"count\":-1}");
    qs_token_review tr;
    cr_assert_eq(qs_kube_token_review(kube, ALICE_TOKEN, &tr), QS_EUNAVAIL);
    cr_assert_not(tr.authenticated);
    long calls = emu_calls(&emu, TR_PATH);
    cr_assert(calls > 1, "the client should have retried (calls=%ld)", calls);
    bool allowed = true;
    qs_sar sar = layers_sar;
    sar.user = "alice";
    cr_assert_eq(qs_kube_sar(kube, &sar, &allowed), QS_EUNAVAIL);
    cr_assert_not(allowed);
}

Test(kube, one_503_then_success) {
    arm_fault("{\"path_prefix\":\"/apis/authentication.k8s.io/\",\"status\":503,\"count\":1}");
    qs_token_review tr;
    cr_assert_eq(qs_kube_token_review(kube, ALICE_TOKEN, &tr), 0);
    cr_assert(tr.authenticated);
    qs_token_review_free(&tr);
    cr_assert_eq(emu_calls(&emu, TR_PATH), 2);
}

Test(kube, wrong_service_account_token_is_unavailable_then_rotation_fixes_it) {
    write_token("not-the-sa-token");
    char logpath[160];
    FILE *lf = capture_log(logpath, sizeof logpath);
    qs_token_review tr;
    cr_assert_eq(qs_kube_token_review(kube, ALICE_TOKEN, &tr), QS_EUNAVAIL);
    bool allowed = true;
    qs_sar sar = layers_sar;
    sar.user = "alice";
    cr_assert_eq(qs_kube_sar(kube, &sar, &allowed), QS_EUNAVAIL);
    /* 401 is not retried: one call each */
    cr_assert_eq(emu_calls(&emu, TR_PATH), 1);
    char *text = captured(lf, logpath);
    cr_assert_not_null(strstr(text, "refused our service account token"), "log:\n%s", text);
    cr_assert_null(strstr(text, "not-the-sa-token"), "log:\n%s", text);
    free(text);
    write_token(SA_TOKEN);
    cr_assert_eq(qs_kube_token_review(kube, ALICE_TOKEN, &tr), 0);
    cr_assert(tr.authenticated);
    qs_token_review_free(&tr);
}

Test(kube, non_json_answer_is_unavailable) {
    arm_fault("{\"path_prefix\":\"/apis/\",\"status\":200,\"count\":1,"
              "\"body\":\"<html>proxy says hi</html>\"}");
    qs_token_review tr;
    cr_assert_eq(qs_kube_token_review(kube, ALICE_TOKEN, &tr), QS_EUNAVAIL);
}

Test(kube, answer_of_another_kind_is_unavailable) {
    arm_fault("{\"path_prefix\":\"/apis/\",\"status\":201,\"count\":1,"
              "\"body\":\"{\\\"kind\\\":\\\"Status\\\",\\\"status\\\":{}}\"}");
    qs_token_review tr;
    cr_assert_eq(qs_kube_token_review(kube, ALICE_TOKEN, &tr), QS_EUNAVAIL);
}

Test(kube, generic_call_returns_status_and_body) {
    long status = 0;
    json_t *out = NULL;
    cr_assert_eq(qs_kube_call(kube, "GET", "/apis/example.com/v1/namespaces/ocp/widgets", NULL,
                              &status, &out),
                 0);
    cr_assert_eq(status, 404);
    cr_assert_str_eq(json_string_value(json_object_get(out, "reason")), "NotFound");
    json_decref(out);
}

Test(kube, reviewed_token_never_logged) {
    char logpath[160];
    FILE *lf = capture_log(logpath, sizeof logpath);
    /* A refusal whose message quotes the token, then a success. */
    arm_fault("{\"path_prefix\":\"/apis/\",\"status\":400,\"count\":1,\"body\":"
              "\"{\\\"kind\\\":\\\"Status\\\",\\\"message\\\":\\\"bad token " ALICE_TOKEN
              "\\\"}\"}");
    qs_token_review tr;
    cr_assert_eq(qs_kube_token_review(kube, ALICE_TOKEN, &tr), QS_EUNAVAIL);
    cr_assert_eq(qs_kube_token_review(kube, ALICE_TOKEN, &tr), 0);
    qs_token_review_free(&tr);
    char *text = captured(lf, logpath);
    cr_assert_null(strstr(text, ALICE_TOKEN), "token leaked into the log:\n%s", text);
    cr_assert_null(strstr(text, SA_TOKEN), "SA token leaked into the log:\n%s", text);
    cr_assert_not_null(strstr(text, "refused the review"), "log:\n%s", text);
    cr_assert_not_null(strstr(text, "<redacted>"), "log:\n%s", text);
    free(text);
}

/* ---- in-cluster settings (no emulator needed, but the suite starts one anyway) ---- */

Test(kube, in_cluster_without_env_fails_with_a_message) {
    unsetenv("KUBERNETES_SERVICE_HOST");
    char err[256] = "";
    qs_kube_opts o = QS_KUBE_OPTS_INIT;
    cr_assert_null(qs_kube_new(&o, err, sizeof err));
    cr_assert_not_null(strstr(err, "KUBERNETES_SERVICE_HOST"), "err=%s", err);
}

Test(kube, in_cluster_url_from_env) {
    setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
    char err[256] = "";
    qs_kube_opts o = QS_KUBE_OPTS_INIT;
    o.token_file = token_path;
    qs_kube *k = qs_kube_new(&o, err, sizeof err);
    cr_assert_not_null(k, "%s", err);
    cr_assert_str_eq(qs_kube_url(k), "https://10.0.0.1:6443");
    qs_kube_free(k);
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    k = qs_kube_new(&o, err, sizeof err);
    cr_assert_not_null(k, "%s", err);
    cr_assert_str_eq(qs_kube_url(k), "https://[fd00::1]:6443");
    qs_kube_free(k);
}

Test(kube, in_cluster_needs_a_readable_token) {
    setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
    char err[256] = "";
    qs_kube_opts o = QS_KUBE_OPTS_INIT;
    o.token_file = "/nonexistent/token";
    cr_assert_null(qs_kube_new(&o, err, sizeof err));
    cr_assert_not_null(strstr(err, "/nonexistent/token"), "err=%s", err);
}

/* ---- ImageStreams (the mirror service's cluster source) ---- */

Test(kube, imagestream_list_per_namespace_in_the_real_shape) {
    long status = 0;
    json_t *out = NULL;
    cr_assert_eq(qs_kube_call(kube, "GET", "/apis/image.openshift.io/v1/namespaces/ci/imagestreams",
                              NULL, &status, &out),
                 0);
    cr_assert_eq(status, 200);
    cr_assert_str_eq(json_string_value(json_object_get(out, "kind")), "ImageStreamList");
    json_t *items = json_object_get(out, "items");
    cr_assert_eq(json_array_size(items), 1);
    json_t *is = json_array_get(items, 0);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(is, "metadata"), "name")),
                     "ci-operator");
    json_t *tags = json_object_get(json_object_get(is, "status"), "tags");
    cr_assert_eq(json_array_size(tags), 2);
    json_t *item = json_array_get(json_object_get(json_array_get(tags, 0), "items"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(item, "image")),
                     "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    cr_assert(strstr(json_string_value(json_object_get(item, "dockerImageReference")),
                     "/ci/ci-operator@sha256:aaaa"));
    json_decref(out);
}

Test(kube, imagestream_get_and_not_found) {
    long status = 0;
    json_t *out = NULL;
    cr_assert_eq(qs_kube_call(kube, "GET",
                              "/apis/image.openshift.io/v1/namespaces/ocp/imagestreams/4.22", NULL,
                              &status, &out),
                 0);
    cr_assert_eq(status, 200);
    cr_assert_str_eq(json_string_value(json_object_get(out, "kind")), "ImageStream");
    json_decref(out);
    out = NULL;
    cr_assert_eq(qs_kube_call(kube, "GET",
                              "/apis/image.openshift.io/v1/namespaces/ocp/imagestreams/nope", NULL,
                              &status, &out),
                 0);
    cr_assert_eq(status, 404);
    cr_assert_str_eq(json_string_value(json_object_get(out, "reason")), "NotFound");
    json_decref(out);
}

Test(kube, imagestream_replaced_through_the_control_api) {
    cr_assert_eq(emu_call(&emu, "PUT", "/_emulator/imagestreams",
                          "{\"namespace\":\"ci\",\"name\":\"ci-operator\",\"tags\":[{\"tag\":"
                          "\"latest\",\"image\":\"sha256:cccccccccccccccccccccccccccccccccccccccc"
                          "cccccccccccccccccccccccc\"}]}",
                          NULL),
                 200);
    cr_assert_eq(emu_call(&emu, "PUT", "/_emulator/imagestreams", "{\"name\":\"x\"}", NULL), 400);
    long status = 0;
    json_t *out = NULL;
    cr_assert_eq(qs_kube_call(kube, "GET",
                              "/apis/image.openshift.io/v1/namespaces/ci/imagestreams/ci-operator",
                              NULL, &status, &out),
                 0);
    json_t *tags = json_object_get(json_object_get(out, "status"), "tags");
    cr_assert_eq(json_array_size(tags), 1);
    json_t *item = json_array_get(json_object_get(json_array_get(tags, 0), "items"), 0);
    cr_assert(strstr(json_string_value(json_object_get(item, "image")), "sha256:cccc"));
    json_decref(out);
}
