/* test_prov_secret.c — the appstudio-provisioner's Secrets: the .dockerconfigjson it renders
 * (one repository-scoped auths entry, base64("<org>+<robot>:<token>")), the Secret object
 * (type, name, namespace, labels, annotations, base64 data) and the "nothing to write"
 * comparison. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "appstudio-provisioner/secret.h"
#include "shared/base64.h"

#define TOKEN "ABCDEF0123456789TOKENVALUE"

static char *decode(const char *b64) {
    size_t n = 0;
    unsigned char *d = qs_base64_decode(b64, strlen(b64), &n);
    cr_assert_not_null(d, "not base64: %s", b64);
    return (char *)d;
}

Test(prov_secret, dockerconfigjson_has_one_repository_scoped_auth) {
    char *text = prov_dockerconfig_render("quay.io/appstudio-david/backend",
                                          "appstudio-david+backend_push", TOKEN);
    cr_assert_not_null(text);
    json_t *j = json_loads(text, 0, NULL);
    cr_assert(json_is_object(j), "not JSON: %s", text);
    json_t *auths = json_object_get(j, "auths");
    cr_assert_eq(json_object_size(j), 1);
    cr_assert_eq(json_object_size(auths), 1);
    json_t *entry = json_object_get(auths, "quay.io/appstudio-david/backend");
    cr_assert(json_is_object(entry), "keyed by the repository: %s", text);
    cr_assert_eq(json_object_size(entry), 1, "only auth: %s", text);
    char *cred = decode(json_string_value(json_object_get(entry, "auth")));
    cr_assert_str_eq(cred, "appstudio-david+backend_push:" TOKEN);
    free(cred);
    json_decref(j);
    free(text);
}

static const prov_secret_spec spec = {"david",
                                      "backend-image-push",
                                      "quay.io/appstudio-david/backend",
                                      "appstudio-david+backend_push",
                                      TOKEN,
                                      "push",
                                      "david",
                                      "backend"};

Test(prov_secret, the_secret_object) {
    json_t *s = prov_secret_object(&spec);
    cr_assert_not_null(s);
    cr_assert_str_eq(json_string_value(json_object_get(s, "kind")), "Secret");
    cr_assert_str_eq(json_string_value(json_object_get(s, "apiVersion")), "v1");
    cr_assert_str_eq(json_string_value(json_object_get(s, "type")),
                     "kubernetes.io/dockerconfigjson");
    json_t *m = json_object_get(s, "metadata");
    cr_assert_str_eq(json_string_value(json_object_get(m, "name")), "backend-image-push");
    cr_assert_str_eq(json_string_value(json_object_get(m, "namespace")), "david");
    json_t *labels = json_object_get(m, "labels");
    cr_assert_str_eq(json_string_value(json_object_get(labels, "app.kubernetes.io/managed-by")),
                     "appstudio-provisioner");
    cr_assert_str_eq(json_string_value(json_object_get(labels, "quayside.io/credentials")), "push");
    json_t *ann = json_object_get(m, "annotations");
    cr_assert_str_eq(json_string_value(json_object_get(ann, "quayside.io/component")), "backend");
    cr_assert_str_eq(json_string_value(json_object_get(ann, "quayside.io/robot")),
                     "appstudio-david+backend_push");
    json_t *data = json_object_get(s, "data");
    cr_assert_eq(json_object_size(data), 1);
    cr_assert_null(json_object_get(s, "stringData"), "data, so it compares byte for byte");
    char *config = decode(json_string_value(json_object_get(data, ".dockerconfigjson")));
    char *want = prov_dockerconfig_render(spec.image, spec.robot_full, spec.token);
    cr_assert_str_eq(config, want);
    free(config);
    free(want);
    /* the token appears nowhere in clear */
    char *all = json_dumps(s, 0);
    cr_assert_null(strstr(all, TOKEN));
    free(all);
    json_decref(s);
}

Test(prov_secret, an_identical_secret_needs_no_write) {
    json_t *want = prov_secret_object(&spec);
    json_t *have = json_deep_copy(want);
    /* what the API server adds, and labels others added */
    json_t *m = json_object_get(have, "metadata");
    json_object_set_new(m, "resourceVersion", json_string("42"));
    json_object_set_new(m, "uid", json_string("u"));
    json_object_set_new(json_object_get(m, "labels"), "other", json_string("x"));
    cr_assert(prov_secret_matches(have, want));

    prov_secret_spec rotated = spec;
    rotated.token = "ANOTHERTOKEN";
    json_t *newer = prov_secret_object(&rotated);
    cr_assert_not(prov_secret_matches(have, newer), "a new token must be written");
    json_object_set_new(have, "type", json_string("Opaque"));
    cr_assert_not(prov_secret_matches(have, want), "another type must be replaced");
    json_t *no_label = json_deep_copy(want);
    json_object_del(json_object_get(json_object_get(no_label, "metadata"), "labels"),
                    "app.kubernetes.io/managed-by");
    cr_assert_not(prov_secret_matches(no_label, want), "our label must be there");
    json_decref(no_label);
    json_decref(newer);
    json_decref(have);
    json_decref(want);
}
