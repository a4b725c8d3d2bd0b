/* test_prov_status.c — a component's record: the state a client sees through every
 * transition (request, run outcome, a request arriving during a run, retries, failure,
 * deletion), the JSON view, and the Redis field form round trip. */
#include <criterion/criterion.h>
#include <string.h>

#include "appstudio-provisioner/status.h"
#include "shared/common.h"

static prov_component fresh(void) {
    static const prov_naming nm = {PROV_ORG_PER_WORKSPACE, "", NULL, "{workspace}", "quay.io"};
    prov_names n;
    cr_assert_eq(prov_names_for(&nm, "david", "backend", &n), QS_OK);
    prov_component c;
    prov_component_init(&c, "david", "backend", &n, "2026-01-01T00:00:00Z");
    return c;
}

Test(prov_status, a_put_makes_it_provisioning_and_a_run_ready) {
    prov_component c = fresh();
    cr_assert_eq(prov_request_apply(&c, PROV_REQ_PUT, 0, 1000), QS_OK);
    cr_assert_str_eq(prov_view_state(&c), "provisioning");
    cr_assert_eq(c.generation, 1);
    cr_assert_not(c.want_public);
    prov_outcome_apply(&c, c.generation, PROV_OUT_READY, NULL);
    cr_assert_str_eq(prov_view_state(&c), "ready");
    cr_assert_eq(c.observed, 1);
}

Test(prov_status, other_requests_need_a_component) {
    prov_component c = fresh();
    cr_assert_eq(prov_request_apply(&c, PROV_REQ_PATCH, 1, 1), QS_ENOTFOUND);
    cr_assert_eq(prov_request_apply(&c, PROV_REQ_ROTATE, -1, 1), QS_ENOTFOUND);
    cr_assert_eq(prov_request_apply(&c, PROV_REQ_DELETE, -1, 1), QS_ENOTFOUND);
    c.rev = 1; /* stored */
    cr_assert_eq(prov_request_apply(&c, PROV_REQ_PATCH, 1, 1), QS_OK);
    cr_assert(c.want_public);
}

Test(prov_status, a_request_during_a_run_is_not_reported_ready_early) {
    prov_component c = fresh();
    prov_request_apply(&c, PROV_REQ_PUT, 1, 1);
    long long running = c.generation; /* a worker reads generation 1 ... */
    c.rev = 1;
    prov_request_apply(&c, PROV_REQ_PATCH, 0, 2); /* ... a PATCH arrives meanwhile */
    prov_outcome_apply(&c, running, PROV_OUT_READY, NULL);
    cr_assert_str_eq(prov_view_state(&c), "provisioning", "the PATCH is not done yet");
    prov_outcome_apply(&c, c.generation, PROV_OUT_READY, NULL);
    cr_assert_str_eq(prov_view_state(&c), "ready");
}

Test(prov_status, retries_keep_provisioning_and_show_the_reason) {
    prov_component c = fresh();
    prov_request_apply(&c, PROV_REQ_PUT, 1, 1);
    prov_outcome_apply(&c, c.generation, PROV_OUT_RETRYING, "quay: create repository: 502 bad");
    cr_assert_str_eq(prov_view_state(&c), "provisioning");
    json_t *v = prov_component_view(&c);
    cr_assert_str_eq(json_string_value(json_object_get(v, "message")),
                     "quay: create repository: 502 bad");
    json_decref(v);
    prov_outcome_apply(&c, c.generation, PROV_OUT_READY, NULL);
    v = prov_component_view(&c);
    cr_assert_str_eq(json_string_value(json_object_get(v, "state")), "ready");
    cr_assert_str_eq(json_string_value(json_object_get(v, "message")), "");
    json_decref(v);
}

Test(prov_status, failed_until_asked_again) {
    prov_component c = fresh();
    prov_request_apply(&c, PROV_REQ_PUT, 0, 1);
    prov_outcome_apply(&c, c.generation, PROV_OUT_FAILED, "payment required");
    cr_assert_str_eq(prov_view_state(&c), "failed");
    json_t *v = prov_component_view(&c);
    cr_assert_str_eq(json_string_value(json_object_get(v, "message")), "payment required");
    json_decref(v);
    c.rev = 1;
    cr_assert_eq(prov_request_apply(&c, PROV_REQ_PUT, 1, 2), QS_OK);
    cr_assert_str_eq(prov_view_state(&c), "provisioning", "asking again retries it");
}

Test(prov_status, deleting_refuses_everything_but_delete) {
    prov_component c = fresh();
    prov_request_apply(&c, PROV_REQ_PUT, 1, 1);
    prov_outcome_apply(&c, c.generation, PROV_OUT_READY, NULL);
    c.rev = 1;
    cr_assert_eq(prov_request_apply(&c, PROV_REQ_DELETE, -1, 2), QS_OK);
    cr_assert_str_eq(prov_view_state(&c), "deleting");
    cr_assert_eq(prov_request_apply(&c, PROV_REQ_PUT, 1, 3), QS_ECONFLICT);
    cr_assert_eq(prov_request_apply(&c, PROV_REQ_ROTATE, -1, 3), QS_ECONFLICT);
    cr_assert_eq(prov_request_apply(&c, PROV_REQ_DELETE, -1, 3), QS_OK);
}

Test(prov_status, rotation_is_counted) {
    prov_component c = fresh();
    prov_request_apply(&c, PROV_REQ_PUT, 1, 1);
    c.rev = 1;
    prov_request_apply(&c, PROV_REQ_ROTATE, -1, 2);
    prov_request_apply(&c, PROV_REQ_ROTATE, -1, 3);
    cr_assert_eq(c.rotate, 2);
    cr_assert(c.want_public, "a rotation keeps the visibility");
    cr_assert_eq(c.requested_ms, 3);
}

Test(prov_status, the_view) {
    prov_component c = fresh();
    prov_request_apply(&c, PROV_REQ_PUT, 0, 1);
    prov_outcome_apply(&c, c.generation, PROV_OUT_READY, NULL);
    c.is_public = 0;
    snprintf(c.generated_at, sizeof c.generated_at, "2026-01-02T00:00:00Z");
    json_t *v = prov_component_view(&c);
    json_t *img = json_object_get(v, "image"), *cred = json_object_get(v, "credentials");
    cr_assert_str_eq(json_string_value(json_object_get(img, "url")), "quay.io/david/backend");
    cr_assert_str_eq(json_string_value(json_object_get(img, "visibility")), "private");
    cr_assert_str_eq(json_string_value(json_object_get(cred, "push_secret")), "backend-image-push");
    cr_assert_str_eq(json_string_value(json_object_get(cred, "pull_secret")), "backend-image-pull");
    cr_assert_str_eq(json_string_value(json_object_get(cred, "push_robot")), "david+backend_push");
    cr_assert_str_eq(json_string_value(json_object_get(cred, "pull_robot")), "david+backend_pull");
    cr_assert_str_eq(json_string_value(json_object_get(cred, "generated_at")),
                     "2026-01-02T00:00:00Z");
    json_decref(v);
}

Test(prov_status, fields_round_trip) {
    prov_component c = fresh();
    prov_request_apply(&c, PROV_REQ_PUT, 1, 1234567);
    prov_outcome_apply(&c, c.generation, PROV_OUT_FAILED, "why");
    c.is_public = -1;
    c.rotate = 3;
    json_t *f = prov_component_fields(&c);
    json_object_set_new(f, "rev", json_string("7"));
    prov_component back;
    cr_assert_eq(prov_component_parse(f, &back), QS_OK);
    cr_assert_eq(back.rev, 7);
    cr_assert_str_eq(back.names.image, c.names.image);
    cr_assert_str_eq(back.names.pull_robot, c.names.pull_robot);
    cr_assert_eq(back.requested_ms, 1234567);
    cr_assert_eq(back.is_public, -1);
    cr_assert_eq(back.rotate, 3);
    cr_assert(back.want_public);
    cr_assert_str_eq(back.message, "why");
    cr_assert_str_eq(prov_view_state(&back), "failed");
    json_object_set_new(f, "generation", json_string("x"));
    cr_assert_eq(prov_component_parse(f, &back), QS_EINVAL);
    json_decref(f);
    json_t *empty = json_object();
    cr_assert_eq(prov_component_parse(empty, &back), QS_OK);
    cr_assert_eq(back.rev, 0, "no record");
    json_decref(empty);
}

Test(prov_status, workspaces) {
    static const prov_naming nm = {PROV_ORG_PER_WORKSPACE, "as-", NULL, "{workspace}", "q"};
    prov_names n;
    prov_names_for(&nm, "david", NULL, &n);
    prov_workspace w;
    prov_workspace_init(&w, "david", &n, "t");
    cr_assert_eq(prov_workspace_request(&w, false, 1), QS_OK);
    cr_assert_str_eq(prov_workspace_state(&w), "provisioning");
    prov_workspace_outcome(&w, w.generation, PROV_OUT_READY, NULL);
    cr_assert_str_eq(prov_workspace_state(&w), "ready");
    cr_assert_eq(prov_workspace_request(&w, true, 2), QS_OK);
    cr_assert_str_eq(prov_workspace_state(&w), "deleting");
    cr_assert_eq(prov_workspace_request(&w, false, 3), QS_ECONFLICT);
    json_t *f = prov_workspace_fields(&w);
    json_object_set_new(f, "rev", json_string("2"));
    prov_workspace back;
    cr_assert_eq(prov_workspace_parse(f, &back), QS_OK);
    cr_assert_str_eq(back.org, "as-david");
    cr_assert(back.deleting);
    json_decref(f);
}
