/* test_prov_provision.c — the appstudio-provisioner's runs against the Quay and Kubernetes
 * emulators and a real Redis: first provisioning, a repeat that writes nothing, rotation,
 * visibility, Quay's 402, Quay and Kubernetes unavailable (retry, not failure), deletion with
 * and without KEEP_REPOSITORIES, a worker recording outcomes (ready; failed once the queue
 * gives up), one repository.created per repository, and workspace runs (the organization;
 * deletion through the components' own tasks; kept and shared organizations). */
#include <criterion/criterion.h>
#include <string.h>

#include "appstudio-provisioner/provision.h"
#include "appstudio-provisioner/secret.h"
#include "appstudio-provisioner/store.h"
#include "appstudio-provisioner/worker.h"
#include "emu_spawn.h"
#include "redis_spawn.h"
#include "shared/base64.h"
#include "shared/common.h"
#include "shared/log.h"

#define QUAY_TOKEN "admin-token-of-the-test"
#define SA_TOKEN "service-account-token-of-the-test"

static emu_proc quay_emu, kube_emu;
static redis_proc rsrv;
static qs_redis *r;
static qs_http *http;
static qs_quay *quay;
static qs_kube *kube;
static prov_settings s;
static prov_env env;

static void setup(void) {
    qs_log_init("test_prov_provision", QS_LOG_ERROR);
    qs_log_set_fd(-1);
    char path[200], e_fx[260];
    emu_prepare(&quay_emu);
    emu_write_file(&quay_emu, "fixture.json",
                   "{\"api_tokens\":[{\"token\":\"" QUAY_TOKEN "\",\"user\":\"appstudio\"}]}", path,
                   sizeof path);
    snprintf(e_fx, sizeof e_fx, "QUAY_EMU_FIXTURE=%s", path);
    const char *qenv[] = {e_fx, "QUAY_EMU_LISTEN=127.0.0.1:0", NULL};
    emu_start(&quay_emu, "quay", qenv);

    char k_fx[260];
    emu_prepare(&kube_emu);
    emu_write_file(&kube_emu, "fixture.json", "{\"service_account_token\":\"" SA_TOKEN "\"}", path,
                   sizeof path);
    snprintf(k_fx, sizeof k_fx, "KUBE_EMU_FIXTURE=%s", path);
    const char *kenv[] = {k_fx, "KUBE_EMU_LISTEN=127.0.0.1:0", NULL};
    emu_start(&kube_emu, "kube", kenv);
    char tokfile[200];
    emu_write_file(&kube_emu, "sa-token", SA_TOKEN, tokfile, sizeof tokfile);

    rs_prepare(&rsrv, false, false);
    rs_start(&rsrv);
    char url[64], err[200];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", rsrv.port);
    r = qs_redis_new(url, err, sizeof err);

    memset(&s, 0, sizeof s);
    s.redis_url = strdup(url);
    s.registry = "registry.test";
    s.naming = (prov_naming){PROV_ORG_PER_WORKSPACE, "t-", NULL, "{workspace}", "registry.test"};
    s.workers = 1;
    s.max_attempts = 1;
    s.retry_backoff = 0.01;
    s.retry_backoff_max = 0.01;

    qs_http_opts ho = QS_HTTP_OPTS_INIT;
    ho.backoff_base_ms = 5;
    ho.backoff_max_ms = 10;
    ho.max_attempts = 2;
    http = qs_http_new(&ho);
    qs_quay_opts qo = QS_QUAY_OPTS_INIT;
    qo.base_url = quay_emu.base;
    qo.token = QUAY_TOKEN;
    quay = qs_quay_new(http, &qo, err, sizeof err);
    cr_assert_not_null(quay, "%s", err);
    qs_kube_opts ko = QS_KUBE_OPTS_INIT;
    ko.api_url = kube_emu.base;
    ko.token_file = tokfile;
    kube = qs_kube_new(&ko, err, sizeof err);
    cr_assert_not_null(kube, "%s", err);
    env = (prov_env){&s, quay, kube, r, NULL};
}

static void teardown(void) {
    qs_kube_free(kube);
    qs_quay_free(quay);
    qs_http_free(http);
    qs_redis_free(r);
    free((char *)s.redis_url);
    rs_cleanup(&rsrv);
    emu_stop(&quay_emu);
    emu_stop(&kube_emu);
}

TestSuite(prov_provision, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers ---- */

static prov_component component(const char *ws, const char *name, bool public_) {
    prov_names n;
    cr_assert_eq(prov_names_for(&s.naming, ws, name, &n), QS_OK);
    prov_component c;
    prov_component_init(&c, ws, name, &n, "t");
    c.rev = 1;
    prov_request_apply(&c, PROV_REQ_PUT, public_, 1);
    return c;
}

static json_t *get_json(emu_proc *p, const char *path) {
    qs_buf b = QS_BUF_INIT;
    cr_assert_eq(emu_call(p, "GET", path, NULL, &b), 200, "GET %s", path);
    json_t *j = json_loads(qs_buf_str(&b), 0, NULL);
    qs_buf_free(&b);
    cr_assert_not_null(j);
    return j;
}

static json_t *quay_state(void) { return get_json(&quay_emu, "/_emulator/state"); }

static size_t quay_writes(void) {
    json_t *w = get_json(&quay_emu, "/_emulator/writes");
    size_t n = json_array_size(w);
    json_decref(w);
    return n;
}

/* "user:token" from a component's Secret (via the kube emulator's API). */
static char *secret_cred(const char *ns, const char *name) {
    char url[512];
    snprintf(url, sizeof url, "%s/api/v1/namespaces/%s/secrets/%s", kube_emu.base, ns, name);
    qs_http_req req = QS_HTTP_REQ_INIT;
    req.url = url;
    req.bearer = SA_TOKEN;
    qs_http_resp resp = {0};
    qs_http_do(kube_emu.http, &req, &resp);
    if (resp.status != 200) {
        qs_http_resp_free(&resp);
        return NULL;
    }
    json_t *sec = json_loads(qs_buf_str(&resp.body), 0, NULL);
    qs_http_resp_free(&resp);
    const char *b64 =
        json_string_value(json_object_get(json_object_get(sec, "data"), ".dockerconfigjson"));
    size_t n = 0;
    char *config = b64 ? (char *)qs_base64_decode(b64, strlen(b64), &n) : NULL;
    json_decref(sec);
    json_t *cj = config ? json_loads(config, 0, NULL) : NULL;
    free(config);
    const char *k;
    json_t *v;
    char *cred = NULL;
    json_object_foreach(json_object_get(cj, "auths"), k, v) {
        const char *a = json_string_value(json_object_get(v, "auth"));
        cred = a ? (char *)qs_base64_decode(a, strlen(a), &n) : NULL;
    }
    json_decref(cj);
    return cred;
}

/* The robot's current token, as Quay's API gives it to an org admin. */
static char *robot_token(const char *org, const char *robot) {
    json_t *j = NULL;
    qs_quay_error e;
    cr_assert_eq(qs_quay_robot_get(quay, org, robot, &j, &e), QS_OK, "%s", e.message);
    char *t = strdup(json_string_value(json_object_get(j, "token")));
    json_decref(j);
    return t;
}

static void fault(emu_proc *p, const char *json) {
    cr_assert_eq(emu_call(p, "POST", "/_emulator/faults", json, NULL), 201);
}

/* ---- component runs ---- */

Test(prov_provision, first_provisioning_makes_everything) {
    prov_component c = component("ws1", "backend", true);
    prov_run run;
    prov_component_run(&env, &c, &run);
    cr_assert_eq(run.result, PROV_RUN_DONE, "%s", run.message);
    cr_assert(run.repo_created);
    cr_assert(run.tokens_new);
    cr_assert_eq(run.is_public, 1);
    json_t *st = quay_state();
    json_t *repo = json_object_get(json_object_get(st, "repositories"), "t-ws1/backend");
    cr_assert(json_is_true(json_object_get(repo, "is_public")));
    json_t *perms = json_object_get(repo, "permissions");
    cr_assert_str_eq(json_string_value(json_object_get(perms, "t-ws1+backend_push")), "write");
    cr_assert_str_eq(json_string_value(json_object_get(perms, "t-ws1+backend_pull")), "read");
    json_decref(st);
    char *cred = secret_cred("ws1", "backend-image-push");
    char *tok = robot_token("t-ws1", "backend_push");
    char want[400];
    snprintf(want, sizeof want, "t-ws1+backend_push:%s", tok);
    cr_assert_not_null(cred);
    /* (compared without cr_assert_str_eq: a failure must not print a token) */
    cr_assert(strcmp(cred, want) == 0, "the Secret holds the push robot's token");
    free(cred);
    free(tok);
    cred = secret_cred("ws1", "backend-image-pull");
    cr_assert(cred && strncmp(cred, "t-ws1+backend_pull:", 19) == 0);
    free(cred);
    /* the event */
    redisReply *rep = qs_redis_cmd(r, "XLEN quayside:events");
    cr_assert_eq(rep->integer, 1);
    freeReplyObject(rep);
}

Test(prov_provision, a_later_run_reads_and_writes_nothing) {
    prov_component c = component("ws1", "backend", true);
    prov_run run;
    prov_component_run(&env, &c, &run);
    cr_assert_eq(run.result, PROV_RUN_DONE);
    emu_call(&quay_emu, "DELETE", "/_emulator/writes", NULL, NULL);
    emu_call(&kube_emu, "DELETE", "/_emulator/calls", NULL, NULL);
    prov_outcome_apply(&c, c.generation, PROV_OUT_READY, NULL);
    c.rev = 2;
    prov_request_apply(&c, PROV_REQ_PUT, 1, 2);
    prov_component_run(&env, &c, &run);
    cr_assert_eq(run.result, PROV_RUN_DONE, "%s", run.message);
    cr_assert_eq(quay_writes(), 0, "nothing written to Quay");
    cr_assert_eq(emu_calls(&kube_emu, "POST /api/v1/namespaces/ws1/secrets"), 0);
    cr_assert_eq(emu_calls(&kube_emu, "PUT /api/v1/namespaces/ws1/secrets/backend-image-push"), 0);
    cr_assert_not(run.repo_created);
    cr_assert_not(run.tokens_new);
}

Test(prov_provision, a_later_run_repairs_what_is_missing) {
    prov_component c = component("ws1", "backend", true);
    prov_run run;
    prov_component_run(&env, &c, &run);
    prov_outcome_apply(&c, c.generation, PROV_OUT_READY, NULL);
    /* someone deleted the pull Secret and the pull robot's permission */
    char err[200];
    cr_assert_eq(prov_secret_delete(kube, "ws1", "backend-image-pull", err, sizeof err), QS_OK);
    qs_quay_error e;
    cr_assert_eq(qs_quay_perm_delete(quay, "t-ws1", "backend", "t-ws1+backend_pull", &e), QS_OK);
    prov_request_apply(&c, PROV_REQ_PUT, 1, 2);
    prov_component_run(&env, &c, &run);
    cr_assert_eq(run.result, PROV_RUN_DONE, "%s", run.message);
    char *cred = secret_cred("ws1", "backend-image-pull");
    cr_assert_not_null(cred, "the Secret is back");
    free(cred);
    json_t *st = quay_state();
    cr_assert_str_eq(
        json_string_value(json_object_get(
            json_object_get(json_object_get(json_object_get(st, "repositories"), "t-ws1/backend"),
                            "permissions"),
            "t-ws1+backend_pull")),
        "read");
    json_decref(st);
}

Test(prov_provision, rotation_replaces_both_tokens) {
    prov_component c = component("ws1", "backend", true);
    prov_run run;
    prov_component_run(&env, &c, &run);
    prov_outcome_apply(&c, c.generation, PROV_OUT_READY, NULL);
    c.rotated = run.rotated;
    char *old_push = secret_cred("ws1", "backend-image-push");
    char *old_pull = secret_cred("ws1", "backend-image-pull");
    prov_request_apply(&c, PROV_REQ_ROTATE, -1, 2);
    prov_component_run(&env, &c, &run);
    cr_assert_eq(run.result, PROV_RUN_DONE, "%s", run.message);
    cr_assert(run.tokens_new);
    cr_assert_eq(run.rotated, 1);
    char *new_push = secret_cred("ws1", "backend-image-push");
    char *new_pull = secret_cred("ws1", "backend-image-pull");
    cr_assert(strcmp(old_push, new_push) != 0, "a new push token");
    cr_assert(strcmp(old_pull, new_pull) != 0, "a new pull token");
    char *tok = robot_token("t-ws1", "backend_push");
    cr_assert(strcmp(strchr(new_push, ':') + 1, tok) == 0, "the Secret holds the new token");
    free(tok);
    free(old_push);
    free(old_pull);
    free(new_push);
    free(new_pull);
}

Test(prov_provision, visibility_changes) {
    prov_component c = component("ws1", "backend", true);
    prov_run run;
    prov_component_run(&env, &c, &run);
    prov_outcome_apply(&c, c.generation, PROV_OUT_READY, NULL);
    prov_request_apply(&c, PROV_REQ_PATCH, 0, 2);
    prov_component_run(&env, &c, &run);
    cr_assert_eq(run.result, PROV_RUN_DONE, "%s", run.message);
    cr_assert_eq(run.is_public, 0);
    json_t *st = quay_state();
    cr_assert(json_is_false(json_object_get(
        json_object_get(json_object_get(st, "repositories"), "t-ws1/backend"), "is_public")));
    json_decref(st);
}

Test(prov_provision, the_plan_limit_fails_with_quays_message) {
    cr_assert_eq(emu_call(&quay_emu, "PUT", "/_emulator/plans",
                          "{\"namespace\":\"t-ws2\",\"private_repos\":0}", NULL),
                 200);
    prov_component c = component("ws2", "secret", false);
    prov_run run;
    prov_component_run(&env, &c, &run);
    cr_assert_eq(run.result, PROV_RUN_FAILED);
    cr_assert(strstr(run.message, "402"), "%s", run.message);
    cr_assert(strstr(run.message, "private repositories"), "%s", run.message);
}

Test(prov_provision, quay_unavailable_is_retried_not_failed) {
    prov_component c = component("ws1", "backend", true);
    fault(&quay_emu, "{\"path_prefix\":\"/api/v1/repository\",\"method\":\"POST\","
                     "\"status\":502,\"count\":2}");
    prov_run run;
    prov_component_run(&env, &c, &run);
    cr_assert_eq(run.result, PROV_RUN_RETRY, "%s", run.message);
    cr_assert(strstr(run.message, "502"), "%s", run.message);
    prov_component_run(&env, &c, &run); /* the fault is used up */
    cr_assert_eq(run.result, PROV_RUN_DONE, "%s", run.message);
}

Test(prov_provision, kubernetes_unavailable_is_retried) {
    prov_component c = component("ws1", "backend", true);
    fault(&kube_emu, "{\"path_prefix\":\"/api/v1/namespaces\",\"status\":503,\"count\":-1}");
    prov_run run;
    prov_component_run(&env, &c, &run);
    cr_assert_eq(run.result, PROV_RUN_RETRY, "%s", run.message);
    cr_assert(strstr(run.message, "kubernetes"), "%s", run.message);
    emu_call(&kube_emu, "DELETE", "/_emulator/faults", NULL, NULL);
    prov_component_run(&env, &c, &run);
    cr_assert_eq(run.result, PROV_RUN_DONE, "%s", run.message);
}

Test(prov_provision, deletion_leaves_nothing_or_keeps_the_repository) {
    for (int keep = 0; keep < 2; keep++) {
        s.keep_repositories = keep;
        prov_component c = component("ws1", keep ? "kept" : "gone", true);
        prov_run run;
        prov_component_run(&env, &c, &run);
        cr_assert_eq(run.result, PROV_RUN_DONE);
        prov_request_apply(&c, PROV_REQ_DELETE, -1, 2);
        prov_component_run(&env, &c, &run);
        cr_assert_eq(run.result, PROV_RUN_DONE, "%s", run.message);
        prov_component_run(&env, &c, &run);
        cr_assert_eq(run.result, PROV_RUN_DONE, "deleting twice is fine: %s", run.message);
        json_t *st = quay_state();
        char key[300];
        snprintf(key, sizeof key, "t-ws1/%s", c.component);
        cr_assert_eq(json_object_get(json_object_get(st, "repositories"), key) != NULL, keep);
        size_t robots = json_array_size(json_object_get(
            json_object_get(json_object_get(st, "organizations"), "t-ws1"), "robots"));
        cr_assert_eq(robots, 0, "robots go either way");
        json_decref(st);
        cr_assert_null(secret_cred("ws1", keep ? "kept-image-push" : "gone-image-push"));
    }
}

/* ---- the worker ---- */

static int put(prov_component *c, void *ctx) {
    const char *name = ctx;
    if (c->rev == 0) {
        prov_names n;
        prov_names_for(&s.naming, "ws3", name, &n);
        prov_component_init(c, "ws3", name, &n, "t");
    }
    return prov_request_apply(c, PROV_REQ_PUT, 1, 1);
}

static int del(prov_component *pc, void *ctx) {
    QS_UNUSED(ctx);
    return prov_request_apply(pc, PROV_REQ_DELETE, -1, 2);
}

static void run_one(qs_queue *q) {
    qs_task task = {0};
    cr_assert_eq(qs_queue_take(q, 1000, &task), QS_OK);
    prov_handle_task(&env, q, &task);
    qs_task_clear(&task);
}

Test(prov_provision, the_worker_records_ready_and_gives_up_to_failed) {
    qs_queue_opts qo = prov_queue_opts(&s);
    qs_queue *q = qs_queue_open(r, PROV_QUEUE, PROV_GROUP, "test", &qo);
    cr_assert_eq(prov_store_component_update(r, "ws3", "app", put, "app", NULL), QS_OK);
    prov_task t = {.kind = PROV_TASK_COMPONENT};
    snprintf(t.workspace, sizeof t.workspace, "ws3");
    snprintf(t.component, sizeof t.component, "app");
    cr_assert_eq(prov_task_enqueue(q, &t), QS_OK);
    run_one(q);
    prov_component c;
    cr_assert_eq(prov_store_component_load(r, "ws3", "app", &c), QS_OK);
    cr_assert_str_eq(prov_view_state(&c), "ready", "%s", c.message);
    cr_assert(c.generated_at[0]);
    cr_assert_eq(c.is_public, 1);

    /* Quay down for good: with MAX_ATTEMPTS=1 the queue gives up and the record fails */
    fault(&quay_emu, "{\"path_prefix\":\"/api/v1\",\"status\":503,\"count\":-1}");
    cr_assert_eq(prov_store_component_update(r, "ws3", "app2", put, "app2", NULL), QS_OK);
    snprintf(t.component, sizeof t.component, "app2");
    cr_assert_eq(prov_task_enqueue(q, &t), QS_OK);
    run_one(q);
    cr_assert_eq(prov_store_component_load(r, "ws3", "app2", &c), QS_OK);
    cr_assert_str_eq(prov_view_state(&c), "failed");
    cr_assert(strstr(c.message, "gave up after 1 attempts"), "%s", c.message);
    emu_call(&quay_emu, "DELETE", "/_emulator/faults", NULL, NULL);

    /* deletion removes the record */
    cr_assert_eq(prov_store_component_update(r, "ws3", "app", del, NULL, NULL), QS_OK);
    snprintf(t.component, sizeof t.component, "app");
    cr_assert_eq(prov_task_enqueue(q, &t), QS_OK);
    run_one(q);
    cr_assert_eq(prov_store_component_load(r, "ws3", "app", &c), QS_OK);
    cr_assert_eq(c.rev, 0, "the record is gone");
    qs_queue_free(q);
}

/* ---- repository.created ---- */

static long long events(void) {
    redisReply *rep = qs_redis_cmd(r, "XLEN quayside:events");
    cr_assert_not_null(rep);
    long long n = rep->integer;
    freeReplyObject(rep);
    return n;
}

Test(prov_provision, the_event_goes_out_once_even_when_the_repository_comes_later) {
    cr_assert_eq(emu_call(&quay_emu, "PUT", "/_emulator/plans",
                          "{\"namespace\":\"t-ws2\",\"private_repos\":0}", NULL),
                 200);
    prov_component c = component("ws2", "late", false);
    prov_run run;
    prov_component_run(&env, &c, &run);
    cr_assert_eq(run.result, PROV_RUN_FAILED, "%s", run.message);
    prov_outcome_apply(&c, c.generation, PROV_OUT_FAILED, run.message);
    cr_assert_eq(events(), 0, "no repository, no event");
    /* asked again as public: this later run creates the repository, so it is announced */
    prov_request_apply(&c, PROV_REQ_PATCH, 1, 2);
    prov_component_run(&env, &c, &run);
    cr_assert_eq(run.result, PROV_RUN_DONE, "%s", run.message);
    cr_assert(run.repo_created);
    cr_assert(run.announced);
    cr_assert_eq(events(), 1);
    c.announced = run.announced;
    prov_outcome_apply(&c, c.generation, PROV_OUT_READY, NULL);
    /* repeated: nothing new */
    prov_request_apply(&c, PROV_REQ_PUT, 1, 3);
    prov_component_run(&env, &c, &run);
    cr_assert_eq(run.result, PROV_RUN_DONE, "%s", run.message);
    cr_assert_not(run.announced);
    cr_assert_eq(events(), 1, "one event per repository");
}

Test(prov_provision, an_interrupted_first_run_still_announces_the_repository) {
    prov_component c = component("ws1", "backend", true);
    fault(&kube_emu, "{\"path_prefix\":\"/api/v1/namespaces\",\"status\":503,\"count\":-1}");
    prov_run run;
    prov_component_run(&env, &c, &run);
    cr_assert_eq(run.result, PROV_RUN_RETRY, "%s", run.message);
    cr_assert(run.repo_created, "the repository was made before Kubernetes failed");
    cr_assert_eq(events(), 0);
    emu_call(&kube_emu, "DELETE", "/_emulator/faults", NULL, NULL);
    prov_component_run(&env, &c, &run); /* the retry finds the repository there */
    cr_assert_eq(run.result, PROV_RUN_DONE, "%s", run.message);
    cr_assert_not(run.repo_created);
    cr_assert(run.announced);
    cr_assert_eq(events(), 1);
}

/* ---- workspace runs ---- */

static int ws_put(prov_workspace *w, void *ctx) {
    bool delete_ = ctx != NULL;
    if (w->rev == 0) {
        prov_names n;
        prov_names_for(&s.naming, "ws3", NULL, &n);
        prov_workspace_init(w, "ws3", &n, "t");
    }
    return prov_workspace_request(w, delete_, 1);
}

static prov_run run_workspace(void) {
    prov_workspace w;
    cr_assert_eq(prov_store_workspace_load(r, "ws3", &w), QS_OK);
    prov_run run;
    prov_workspace_run(&env, &w, &run);
    return run;
}

static bool org_exists(const char *org) {
    json_t *st = quay_state();
    bool there = json_object_get(json_object_get(st, "organizations"), org) != NULL;
    json_decref(st);
    return there;
}

Test(prov_provision, workspace_deletion_leaves_components_to_their_own_tasks) {
    qs_queue_opts qo = prov_queue_opts(&s);
    qs_queue *q = qs_queue_open(r, PROV_QUEUE, PROV_GROUP, "test", &qo);
    env.queue = q;
    cr_assert_eq(prov_store_workspace_update(r, "ws3", ws_put, NULL, NULL), QS_OK);
    prov_run run = run_workspace();
    cr_assert_eq(run.result, PROV_RUN_DONE, "%s", run.message);
    cr_assert(org_exists("t-ws3"));
    cr_assert_eq(prov_store_component_update(r, "ws3", "app", put, "app", NULL), QS_OK);
    prov_task t = {.kind = PROV_TASK_COMPONENT};
    snprintf(t.workspace, sizeof t.workspace, "ws3");
    snprintf(t.component, sizeof t.component, "app");
    cr_assert_eq(prov_task_enqueue(q, &t), QS_OK);
    run_one(q);

    /* the workspace run does not delete the component behind the back of a run of it that
     * may be in progress: it marks it, queues its task and waits */
    cr_assert_eq(prov_store_workspace_update(r, "ws3", ws_put, "delete", NULL), QS_OK);
    run = run_workspace();
    cr_assert_eq(run.result, PROV_RUN_RETRY, "%s", run.message);
    cr_assert(strstr(run.message, "waiting for 1 component"), "%s", run.message);
    json_t *st = quay_state();
    cr_assert_not_null(json_object_get(json_object_get(st, "repositories"), "t-ws3/app"));
    json_decref(st);
    prov_component c;
    cr_assert_eq(prov_store_component_load(r, "ws3", "app", &c), QS_OK);
    cr_assert(c.deleting);

    run_one(q); /* the component's own task */
    cr_assert_eq(prov_store_component_load(r, "ws3", "app", &c), QS_OK);
    cr_assert_eq(c.rev, 0, "the component's record is gone");
    st = quay_state();
    cr_assert_null(json_object_get(json_object_get(st, "repositories"), "t-ws3/app"));
    json_decref(st);
    cr_assert_null(secret_cred("ws3", "app-image-push"));
    cr_assert_null(secret_cred("ws3", "app-image-pull"));
    run = run_workspace();
    cr_assert_eq(run.result, PROV_RUN_DONE, "%s", run.message);
    cr_assert_not(org_exists("t-ws3"), "then the organization goes");
    env.queue = NULL;
    qs_queue_free(q);
}

Test(prov_provision, organizations_are_kept_or_never_ours_to_delete) {
    /* KEEP_REPOSITORIES keeps the workspace's organization */
    s.keep_repositories = true;
    cr_assert_eq(prov_store_workspace_update(r, "ws3", ws_put, NULL, NULL), QS_OK);
    prov_run run = run_workspace();
    cr_assert_eq(run.result, PROV_RUN_DONE, "%s", run.message);
    cr_assert_eq(prov_store_workspace_update(r, "ws3", ws_put, "delete", NULL), QS_OK);
    run = run_workspace();
    cr_assert_eq(run.result, PROV_RUN_DONE, "%s", run.message);
    cr_assert(org_exists("t-ws3"));
    s.keep_repositories = false;

    /* shared mode: the one organization is checked, never created or deleted */
    s.naming = (prov_naming){PROV_ORG_SHARED, "", "shared-org", "{workspace}", "registry.test"};
    prov_workspace w;
    prov_names n;
    prov_names_for(&s.naming, "ws5", NULL, &n);
    prov_workspace_init(&w, "ws5", &n, "t");
    w.rev = 1;
    prov_workspace_request(&w, false, 1);
    prov_workspace_run(&env, &w, &run);
    cr_assert_eq(run.result, PROV_RUN_FAILED, "a missing shared organization: %s", run.message);
    cr_assert(strstr(run.message, "shared-org"), "%s", run.message);
    cr_assert_not(org_exists("shared-org"), "not created");
    qs_quay_error e;
    cr_assert_eq(qs_quay_org_create(quay, "shared-org", NULL, &e), QS_OK, "%s", e.message);
    prov_workspace_run(&env, &w, &run);
    cr_assert_eq(run.result, PROV_RUN_DONE, "%s", run.message);
    prov_workspace_request(&w, true, 2);
    prov_workspace_run(&env, &w, &run);
    cr_assert_eq(run.result, PROV_RUN_DONE, "%s", run.message);
    cr_assert(org_exists("shared-org"), "the shared organization stays");
}
