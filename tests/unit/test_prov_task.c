/* test_prov_task.c — the appstudio-provisioner's task payloads: both kinds round trip, bad ones
 * are refused, dedupe keys, and every payload it produces matches
 * proto/provisioner-task.schema.json (checked with python3-jsonschema). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "appstudio-provisioner/task.h"
#include "shared/common.h"

Test(prov_task, round_trip_and_keys) {
    prov_task t = {.kind = PROV_TASK_COMPONENT}, back;
    snprintf(t.workspace, sizeof t.workspace, "david");
    snprintf(t.component, sizeof t.component, "My.App");
    json_t *j = prov_task_to_json(&t);
    char err[200];
    cr_assert_eq(prov_task_from_json(j, &back, err, sizeof err), QS_OK, "%s", err);
    cr_assert_eq(back.kind, PROV_TASK_COMPONENT);
    cr_assert_str_eq(back.component, "My.App");
    json_decref(j);
    char key[600];
    prov_task_key(&t, key, sizeof key);
    cr_assert_str_eq(key, "c:david/My.App");
    t.kind = PROV_TASK_WORKSPACE;
    prov_task_key(&t, key, sizeof key);
    cr_assert_str_eq(key, "w:david", "a workspace task never shares a component's key");
    j = prov_task_to_json(&t);
    cr_assert_null(json_object_get(j, "component"));
    cr_assert_eq(prov_task_from_json(j, &back, err, sizeof err), QS_OK);
    cr_assert_eq(back.kind, PROV_TASK_WORKSPACE);
    json_decref(j);
}

Test(prov_task, bad_payloads_are_refused) {
    const char *bad[] = {"{}",
                         "[]",
                         "{\"kind\":\"component\",\"workspace\":\"w\"}",
                         "{\"kind\":\"other\",\"workspace\":\"w\"}",
                         "{\"kind\":\"workspace\",\"workspace\":\"a/b\"}",
                         "{\"kind\":\"component\",\"workspace\":\"w\",\"component\":\"\"}",
                         "{\"kind\":\"component\",\"workspace\":\"w\",\"component\":7}"};
    for (size_t i = 0; i < QS_ARRAY_LEN(bad); i++) {
        json_t *j = json_loads(bad[i], 0, NULL);
        prov_task t;
        char err[200] = "";
        cr_assert_eq(prov_task_from_json(j, &t, err, sizeof err), QS_EINVAL, "%s", bad[i]);
        cr_assert(err[0], "a reason for %s", bad[i]);
        json_decref(j);
    }
}

/* The schema, from the directories above the binary (<root>/build/<variant>/tests). */
static void schema_path(char *out, size_t n) {
    char self[512];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    cr_assert(len > 0);
    self[len] = '\0';
    snprintf(out, n, "proto/provisioner-task.schema.json");
    for (char *slash; (slash = strrchr(self, '/')) != NULL;) {
        *slash = '\0';
        char try[600];
        snprintf(try, sizeof try, "%s/proto/provisioner-task.schema.json", self);
        if (access(try, R_OK) == 0) {
            snprintf(out, n, "%s", try);
            return;
        }
    }
}

Test(prov_task, payloads_match_the_schema) {
    json_t *all = json_array();
    const char *names[] = {"david", "My.App_1", "x", "a-b.c_d~!"};
    for (size_t i = 0; i < QS_ARRAY_LEN(names); i++) {
        prov_task t = {.kind = PROV_TASK_COMPONENT};
        snprintf(t.workspace, sizeof t.workspace, "ws-%zu", i);
        snprintf(t.component, sizeof t.component, "%s", names[i]);
        json_array_append_new(all, prov_task_to_json(&t));
        t.kind = PROV_TASK_WORKSPACE;
        json_array_append_new(all, prov_task_to_json(&t));
    }
    char path[] = "/tmp/prov_tasks_XXXXXX", schema[600], cmd[1600];
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    cr_assert_eq(json_dump_file(all, path, 0), 0);
    json_decref(all);
    schema_path(schema, sizeof schema);
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import json,sys,jsonschema; s=json.load(open(sys.argv[1])); "
             "jsonschema.Draft202012Validator.check_schema(s); "
             "[jsonschema.validate(e, s) for e in json.load(open(sys.argv[2]))]' '%s' '%s'",
             schema, path);
    int rc = system(cmd);
    unlink(path);
    cr_assert_eq(rc, 0, "payloads do not match proto/provisioner-task.schema.json");
}
