/* secret.c — the push and pull Secrets of a component.
 *
 * A Secret is `kubernetes.io/dockerconfigjson` whose `.dockerconfigjson` names exactly one
 * registry path — the component's repository "<registry>/<org>/<repo>", as image-controller
 * writes it (reference quay.md A.6) — with only an `auth` field, base64("<org>+<robot>:
 * <token>"). We write `data` (base64) rather than `stringData`, so what the API returns can be
 * compared byte for byte with what we would write: re-provisioning an unchanged component
 * reads the Secrets and writes nothing.
 *
 * Writes go through libshared's generic qs_kube_call. Answers are mapped for the worker: API
 * unreachable, 5xx, 429 and 401/403 (our own service account token or RBAC — something an
 * operator fixes) are "retry later"; a missing namespace and a refused object are final. The
 * token only ever lives in request bodies; nothing here logs or returns it. */
#include "appstudio-provisioner/secret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/base64.h"
#include "shared/buf.h"
#include "shared/common.h"

#define TYPE_DOCKERCONFIG "kubernetes.io/dockerconfigjson"
#define ANN_PREFIX "quayside.io/"
#define MAX_CONFLICTS 3

char *prov_dockerconfig_render(const char *image, const char *robot_full, const char *token) {
    qs_buf cred = QS_BUF_INIT;
    qs_buf_printf(&cred, "%s:%s", robot_full, token);
    char *auth = qs_base64_encode(cred.data ? cred.data : "", cred.len);
    if (cred.data)
        memset(cred.data, 0, cred.len);
    qs_buf_free(&cred);
    if (!auth)
        return NULL;
    json_t *j = json_pack("{s:{s:{s:s}}}", "auths", image, "auth", auth);
    memset(auth, 0, strlen(auth));
    free(auth);
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    return text;
}

json_t *prov_secret_object(const prov_secret_spec *s) {
    char *config = prov_dockerconfig_render(s->image, s->robot_full, s->token);
    char *b64 = config ? qs_base64_encode(config, strlen(config)) : NULL;
    if (config) {
        memset(config, 0, strlen(config));
        free(config);
    }
    if (!b64)
        return NULL;
    json_t *j = json_pack(
        "{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s}}, s:s, s:{s:s}}",
        "apiVersion", "v1", "kind", "Secret", "metadata", "name", s->name, "namespace",
        s->namespace_, "labels", PROV_MANAGED_BY_LABEL, PROV_MANAGED_BY, PROV_ROLE_LABEL, s->role,
        "annotations", ANN_PREFIX "workspace", s->workspace, ANN_PREFIX "component", s->component,
        ANN_PREFIX "image", s->image, ANN_PREFIX "robot", s->robot_full, "type", TYPE_DOCKERCONFIG,
        "data", ".dockerconfigjson", b64);
    memset(b64, 0, strlen(b64));
    free(b64);
    return j;
}

/* Does `have` (an object, may be NULL) hold every key of `want` with the same value? */
static bool has_all(const json_t *have, const json_t *want) {
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)want, k, v) {
        if (!json_equal(json_object_get(have, k), (json_t *)v))
            return false;
    }
    return true;
}

bool prov_secret_matches(const json_t *existing, const json_t *wanted) {
    const json_t *em = json_object_get(existing, "metadata");
    const json_t *wm = json_object_get(wanted, "metadata");
    return json_equal(json_object_get(existing, "type"), json_object_get(wanted, "type")) &&
           json_equal(json_object_get(existing, "data"), json_object_get(wanted, "data")) &&
           has_all(json_object_get(em, "labels"), json_object_get(wm, "labels")) &&
           has_all(json_object_get(em, "annotations"), json_object_get(wm, "annotations"));
}

static const char *str(const json_t *o, const char *k) {
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

/* Map an answer other than the expected one. `what` names the call. */
static int refusal(long status, const json_t *answer, const char *what, const char *ns, char *err,
                   size_t errlen) {
    const char *msg = str(answer, "message");
    snprintf(err, errlen, "kubernetes: %s in namespace %s: %ld %.300s", what, ns, status,
             msg[0] ? msg : str(answer, "reason"));
    if (status == 401 || status == 403 || status == 429 || status >= 500 || status == 0)
        return QS_EUNAVAIL;
    if (status == 404)
        return QS_ENOTFOUND;
    if (status == 409)
        return QS_ECONFLICT;
    return QS_EINVAL;
}

static int call(qs_kube *k, const char *method, const char *path, const json_t *body, long *status,
                json_t **out, const char *what, const char *ns, char *err, size_t errlen) {
    int rc = qs_kube_call(k, method, path, body, status, out);
    if (rc != QS_OK) {
        snprintf(err, errlen, "kubernetes API unavailable (%s in namespace %s)", what, ns);
        return QS_EUNAVAIL;
    }
    return QS_OK;
}

/* Merge the existing Secret's other labels/annotations into a copy of `wanted` and set the
 * resourceVersion read. New reference. */
static json_t *replacement(const json_t *existing, const json_t *wanted) {
    json_t *body = json_deep_copy(wanted);
    json_t *bm = json_object_get(body, "metadata");
    const json_t *em = json_object_get(existing, "metadata");
    static const char *const maps[] = {"labels", "annotations"};
    for (size_t i = 0; i < QS_ARRAY_LEN(maps); i++) {
        json_t *merged = json_deep_copy(json_object_get(em, maps[i]));
        if (!json_is_object(merged)) {
            json_decref(merged);
            merged = json_object();
        }
        json_object_update(merged, json_object_get(bm, maps[i]));
        json_object_set_new(bm, maps[i], merged);
    }
    const json_t *rv = json_object_get(em, "resourceVersion");
    if (json_is_string(rv))
        json_object_set(bm, "resourceVersion", (json_t *)rv);
    return body;
}

int prov_secret_apply(qs_kube *k, const json_t *wanted, bool create_first, bool *changed, char *err,
                      size_t errlen) {
    *changed = false;
    const json_t *meta = json_object_get(wanted, "metadata");
    const char *ns = str(meta, "namespace"), *name = str(meta, "name");
    char coll[400], one[700];
    snprintf(coll, sizeof coll, "/api/v1/namespaces/%s/secrets", ns);
    snprintf(one, sizeof one, "%s/%s", coll, name);
    long status = 0;
    json_t *answer = NULL;
    int rc;
    if (create_first) {
        rc = call(k, "POST", coll, wanted, &status, &answer, "create secret", ns, err, errlen);
        if (rc == QS_OK && status == 201) {
            json_decref(answer);
            *changed = true;
            return QS_OK;
        }
        if (rc == QS_OK && status != 409)
            rc = refusal(status, answer, "create secret", ns, err, errlen);
        json_decref(answer);
        if (rc != QS_OK)
            return rc;
    }
    for (int attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
        answer = NULL;
        rc = call(k, "GET", one, NULL, &status, &answer, "read secret", ns, err, errlen);
        if (rc != QS_OK)
            return rc;
        if (status == 404) {
            json_decref(answer);
            answer = NULL;
            rc = call(k, "POST", coll, wanted, &status, &answer, "create secret", ns, err, errlen);
            if (rc == QS_OK && status == 201) {
                json_decref(answer);
                *changed = true;
                return QS_OK;
            }
            if (rc == QS_OK && status != 409) /* 409: created meanwhile → compare again */
                rc = refusal(status, answer, "create secret", ns, err, errlen);
            json_decref(answer);
            if (rc != QS_OK)
                return rc;
            continue;
        }
        if (status != 200) {
            rc = refusal(status, answer, "read secret", ns, err, errlen);
            json_decref(answer);
            return rc;
        }
        if (prov_secret_matches(answer, wanted)) {
            json_decref(answer);
            return QS_OK;
        }
        json_t *body = replacement(answer, wanted);
        json_decref(answer);
        answer = NULL;
        rc = call(k, "PUT", one, body, &status, &answer, "replace secret", ns, err, errlen);
        json_decref(body);
        if (rc == QS_OK && status == 200) {
            json_decref(answer);
            *changed = true;
            return QS_OK;
        }
        if (rc == QS_OK && status != 409 && status != 404)
            rc = refusal(status, answer, "replace secret", ns, err, errlen);
        json_decref(answer);
        if (rc != QS_OK)
            return rc;
    }
    snprintf(err, errlen, "kubernetes: secret %s in namespace %s kept changing under us", name, ns);
    return QS_ECONFLICT;
}

int prov_secret_delete(qs_kube *k, const char *namespace_, const char *name, char *err,
                       size_t errlen) {
    char path[700];
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/secrets/%s", namespace_, name);
    long status = 0;
    json_t *answer = NULL;
    int rc =
        call(k, "DELETE", path, NULL, &status, &answer, "delete secret", namespace_, err, errlen);
    if (rc == QS_OK && status != 200 && status != 202 && status != 404)
        rc = refusal(status, answer, "delete secret", namespace_, err, errlen);
    json_decref(answer);
    return rc;
}
