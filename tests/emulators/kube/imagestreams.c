/* imagestreams.c — OpenShift ImageStreams in the Kubernetes emulator.
 *
 * The mirror service's first source of work is the image stream tags of a cluster. The
 * fixture's "imagestreams" array (and the control endpoint PUT /_emulator/imagestreams) holds
 * streams in a compact form —
 *   {"namespace","name","tags":[{"tag","image":"sha256:…","dockerImageReference"?}]}
 * — and the API answers the real shapes: GET .../namespaces/{ns}/imagestreams is an
 * ImageStreamList, GET .../imagestreams/{name} an ImageStream (404 Status when absent), with
 * status.tags[].items[0] carrying image, dockerImageReference, created and generation, and
 * status.publicDockerImageRepository naming the registry clients pull from
 * (KUBE_EMU_PUBLIC_REGISTRY, default registry.ci.openshift.org). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu.h"
#include "kube_emu.h"
#include "shared/common.h"

static pthread_mutex_t is_mu = PTHREAD_MUTEX_INITIALIZER;
static json_t *streams; /* "ns/name" -> compact stream */
static unsigned long resource_version = 1;

static const char *public_registry(void) {
    const char *v = getenv("KUBE_EMU_PUBLIC_REGISTRY");
    return v && *v ? v : "registry.ci.openshift.org";
}

/* Validate one compact stream; NULL when well-formed, else why not. */
static const char *check_stream(const json_t *s) {
    if (!json_is_string(json_object_get(s, "namespace")) ||
        !json_is_string(json_object_get(s, "name")))
        return "an image stream needs a namespace and a name";
    const json_t *tags = json_object_get(s, "tags");
    if (tags && !json_is_array(tags))
        return "tags must be an array";
    size_t i;
    const json_t *t;
    json_array_foreach(tags, i, t) {
        const char *img = json_string_value(json_object_get(t, "image"));
        if (!json_is_string(json_object_get(t, "tag")) || !img || strncmp(img, "sha256:", 7) != 0)
            return "each tag needs a tag and an image (sha256:...)";
    }
    return NULL;
}

static int put_stream(const json_t *s, char *err, size_t errlen) {
    const char *why = check_stream(s);
    if (why) {
        snprintf(err, errlen, "imagestreams: %s", why);
        return -1;
    }
    char key[512];
    snprintf(key, sizeof key, "%s/%s", json_string_value(json_object_get(s, "namespace")),
             json_string_value(json_object_get(s, "name")));
    pthread_mutex_lock(&is_mu);
    if (!streams)
        streams = json_object();
    json_object_set_new(streams, key, json_deep_copy(s));
    resource_version++;
    pthread_mutex_unlock(&is_mu);
    return 0;
}

int kube_imagestreams_load(const json_t *fixture, char *err, size_t errlen) {
    const json_t *list = json_object_get(fixture, "imagestreams");
    size_t i;
    const json_t *s;
    if (list && !json_is_array(list)) {
        snprintf(err, errlen, "fixture: imagestreams must be an array");
        return -1;
    }
    json_array_foreach(list, i, s) {
        if (put_stream(s, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* The full ImageStream object of a compact stream. Caller holds is_mu. */
static json_t *render(const json_t *s) {
    const char *ns = json_string_value(json_object_get(s, "namespace"));
    const char *name = json_string_value(json_object_get(s, "name"));
    char pub[512], internal[512];
    snprintf(pub, sizeof pub, "%s/%s/%s", public_registry(), ns, name);
    snprintf(internal, sizeof internal, "image-registry.openshift-image-registry.svc:5000/%s/%s",
             ns, name);
    json_t *tags = json_array();
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(s, "tags"), i, t) {
        const char *img = json_string_value(json_object_get(t, "image"));
        const char *ref = json_string_value(json_object_get(t, "dockerImageReference"));
        char dref[700];
        snprintf(dref, sizeof dref, "%s@%s", internal, img);
        json_t *item =
            json_pack("{s:s,s:s,s:s,s:i}", "created", "2026-11-01T00:00:00Z",
                      "dockerImageReference", ref ? ref : dref, "image", img, "generation", 1);
        json_array_append_new(
            tags, json_pack("{s:O,s:[o]}", "tag", json_object_get(t, "tag"), "items", item));
    }
    char rv[32];
    snprintf(rv, sizeof rv, "%lu", resource_version);
    return json_pack("{s:s,s:s,s:{s:s,s:s,s:s},s:{s:{s:b}},s:{s:s,s:s,s:o}}", "kind", "ImageStream",
                     "apiVersion", "image.openshift.io/v1", "metadata", "name", name, "namespace",
                     ns, "resourceVersion", rv, "spec", "lookupPolicy", "local", 0, "status",
                     "dockerImageRepository", internal, "publicDockerImageRepository", pub, "tags",
                     tags);
}

static void h_list(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    if (kube_api_enter(r))
        return;
    const char *ns = qs_req_param(r, "ns");
    json_t *items = json_array();
    pthread_mutex_lock(&is_mu);
    const char *key;
    json_t *s;
    json_object_foreach(streams, key, s) {
        if (strcmp(json_string_value(json_object_get(s, "namespace")), ns) == 0)
            json_array_append_new(items, render(s));
    }
    char rv[32];
    snprintf(rv, sizeof rv, "%lu", resource_version);
    pthread_mutex_unlock(&is_mu);
    qs_respond_json(r, 200,
                    json_pack("{s:s,s:s,s:{s:s},s:o}", "kind", "ImageStreamList", "apiVersion",
                              "image.openshift.io/v1", "metadata", "resourceVersion", rv, "items",
                              items));
}

static void h_get(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    if (kube_api_enter(r))
        return;
    char key[512];
    snprintf(key, sizeof key, "%s/%s", qs_req_param(r, "ns"), qs_req_param(r, "name"));
    pthread_mutex_lock(&is_mu);
    json_t *s = streams ? json_object_get(streams, key) : NULL;
    json_t *body = s ? render(s) : NULL;
    pthread_mutex_unlock(&is_mu);
    if (!body) {
        char msg[600];
        snprintf(msg, sizeof msg, "imagestreams.image.openshift.io \"%s\" not found",
                 qs_req_param(r, "name"));
        kube_status(r, 404, msg);
        return;
    }
    qs_respond_json(r, 200, body);
}

/* PUT /_emulator/imagestreams: add or replace one stream (compact form). */
static void h_put(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    json_t *j = qs_req_json(r);
    if (!j)
        return;
    char err[256];
    int rc = put_stream(j, err, sizeof err);
    json_decref(j);
    if (rc != 0)
        qs_respond_error(r, 400, "bad_request", "%s", err);
    else
        qs_respond_json(r, 200, json_pack("{s:b}", "ok", 1));
}

size_t kube_imagestream_routes(const qs_route **out) {
    static const qs_route routes[] = {
        {"PUT", "/_emulator/imagestreams", h_put, NULL, 0},
        {"GET", "/apis/image.openshift.io/v1/namespaces/{ns}/imagestreams", h_list, NULL, 0},
        {"GET", "/apis/image.openshift.io/v1/namespaces/{ns}/imagestreams/{name}", h_get, NULL, 0},
    };
    *out = routes;
    return QS_ARRAY_LEN(routes);
}
