/* test_orgm_task.c — the repository task payload (strict parsing, round trip, dedupe key),
 * repository names, and which repository.created events concern the source Quay. */
#include <criterion/criterion.h>
#include <string.h>

#include "org-mirror/scheduler.h"
#include "org-mirror/task.h"
#include "shared/common.h"

Test(orgm_task, round_trip_with_hints) {
    orgm_task t = {.org = "acme",
                   .repository = "team/app",
                   .state_known = true,
                   .state = "MIRROR",
                   .is_public = 0,
                   .reason = "run"};
    json_t *j = orgm_task_to_json(&t);
    json_t *expect =
        json_pack("{s:s,s:s,s:s,s:s,s:b}", "org", "acme", "repository", "team/app", "reason", "run",
                  "destination_state", "MIRROR", "destination_public", 0);
    cr_assert(json_equal(j, expect));
    orgm_task back;
    char err[200];
    cr_assert_eq(orgm_task_from_json(j, &back, err, sizeof err), QS_OK, "%s", err);
    cr_assert_str_eq(back.org, "acme");
    cr_assert_str_eq(back.repository, "team/app");
    cr_assert(back.state_known);
    cr_assert_str_eq(back.state, "MIRROR");
    cr_assert_eq(back.is_public, 0);
    char key[300];
    orgm_task_key(&back, key, sizeof key);
    cr_assert_str_eq(key, "acme/team/app");
    json_decref(j);
    json_decref(expect);
}

Test(orgm_task, absent_and_unknown_hints) {
    orgm_task t = {.org = "acme", .repository = "app", .state_known = true, .is_public = -1};
    json_t *j = orgm_task_to_json(&t);
    cr_assert_str_eq(json_string_value(json_object_get(j, "destination_state")), "absent");
    cr_assert_null(json_object_get(j, "destination_public"));
    orgm_task back;
    char err[200];
    cr_assert_eq(orgm_task_from_json(j, &back, err, sizeof err), QS_OK);
    cr_assert(back.state_known);
    cr_assert_str_eq(back.state, "", "absent comes back as the empty state");
    cr_assert_eq(back.is_public, -1);
    json_decref(j);
    json_t *event = json_pack("{s:s,s:s,s:s}", "org", "acme", "repository", "x", "reason", "event");
    cr_assert_eq(orgm_task_from_json(event, &back, err, sizeof err), QS_OK);
    cr_assert_not(back.state_known, "an event task carries no hint");
    json_decref(event);
}

Test(orgm_task, malformed_payloads_are_refused) {
    const char *bad[] = {
        "[]",
        "{}",
        "{\"org\":\"acme\"}",
        "{\"org\":\"acme\",\"repository\":\"Bad Name\"}",
        "{\"org\":\"acme\",\"repository\":\"a\",\"extra\":1}",
        "{\"org\":\"acme\",\"repository\":\"a\",\"destination_state\":3}",
        "{\"org\":\"acme\",\"repository\":\"a\",\"destination_public\":\"no\"}",
        "{\"org\":\"acme\",\"repository\":\"a\",\"reason\":\"a-very-long-reason\"}",
        "{\"org\":\"acme\",\"repository\":\"a\",\"generation\":0}",
        "{\"org\":\"acme\",\"repository\":\"a\",\"generation\":\"3\"}",
        "{\"org\":\"acme\",\"repository\":\"a\",\"recreate\":1}",
        NULL};
    for (size_t i = 0; bad[i]; i++) {
        json_t *j = json_loads(bad[i], 0, NULL);
        orgm_task t;
        char err[200] = "";
        cr_assert_eq(orgm_task_from_json(j, &t, err, sizeof err), QS_EINVAL, "%s", bad[i]);
        cr_assert(err[0], "a reason for %s", bad[i]);
        json_decref(j);
    }
    orgm_task t;
    char err[200];
    cr_assert_eq(orgm_task_from_json(NULL, &t, err, sizeof err), QS_EINVAL);
}

Test(orgm_task, the_runs_generation_travels_with_the_task) {
    orgm_task t = {.org = "acme", .repository = "app", .is_public = -1, .gen = 42};
    json_t *j = orgm_task_to_json(&t);
    cr_assert_eq(json_integer_value(json_object_get(j, "generation")), 42);
    orgm_task back;
    char err[200];
    cr_assert_eq(orgm_task_from_json(j, &back, err, sizeof err), QS_OK, "%s", err);
    cr_assert_eq(back.gen, 42);
    json_decref(j);
    t.gen = 0; /* an event's task: none */
    j = orgm_task_to_json(&t);
    cr_assert_null(json_object_get(j, "generation"));
    cr_assert_null(json_object_get(j, "recreate"));
    cr_assert_eq(orgm_task_from_json(j, &back, err, sizeof err), QS_OK);
    cr_assert_eq(back.gen, 0);
    cr_assert_not(back.recreate);
    json_decref(j);
    t.recreate = true; /* the source account changed */
    j = orgm_task_to_json(&t);
    cr_assert(json_is_true(json_object_get(j, "recreate")));
    cr_assert_eq(orgm_task_from_json(j, &back, err, sizeof err), QS_OK);
    cr_assert(back.recreate);
    json_decref(j);
}

Test(orgm_task, repository_names) {
    cr_assert(orgm_repo_name_valid("app"));
    cr_assert(orgm_repo_name_valid("team/app-1.2_x"));
    cr_assert_not(orgm_repo_name_valid(""));
    cr_assert_not(orgm_repo_name_valid(NULL));
    cr_assert_not(orgm_repo_name_valid("/app"));
    cr_assert_not(orgm_repo_name_valid("app/"));
    cr_assert_not(orgm_repo_name_valid("a//b"));
    cr_assert_not(orgm_repo_name_valid("App"));
    cr_assert_not(orgm_repo_name_valid("a b"));
    char long_name[300];
    memset(long_name, 'a', 256);
    long_name[256] = '\0';
    cr_assert_not(orgm_repo_name_valid(long_name));
}

Test(orgm_task, event_quay_matching) {
    cr_assert(orgm_event_host_matches("quay.example.com", "quay.example.com"));
    cr_assert(orgm_event_host_matches("https://Quay.Example.com/", "quay.example.com"));
    cr_assert(orgm_event_host_matches("http://127.0.0.1:8080", "127.0.0.1:8080"));
    cr_assert_not(orgm_event_host_matches("127.0.0.1:8081", "127.0.0.1:8080"));
    cr_assert_not(orgm_event_host_matches("quay.example.com.evil", "quay.example.com"));
    cr_assert_not(orgm_event_host_matches("quay", "quay.example.com"));
    cr_assert_not(orgm_event_host_matches(NULL, "quay.example.com"));
}
