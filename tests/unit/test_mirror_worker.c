/* test_mirror_worker.c — how a mirror task ends when retrying cannot help: a schema 1 source
 * is refused with its reason and marked permanent (dead-lettered at once, never re-queued),
 * and so is a task whose references are unusable. A fake registry on loopback serves the
 * schema 1 manifest. */
#include <criterion/criterion.h>
#include <microhttpd.h>
#include <string.h>

#include "mirror/registries.h"
#include "mirror/settings.h"
#include "mirror/worker.h"
#include "shared/common.h"
#include "shared/log.h"

static struct MHD_Daemon *d;
static unsigned port;

static const char schema1[] = "{\"schemaVersion\":1,\"name\":\"legacy/app\",\"tag\":\"v1\","
                              "\"architecture\":\"amd64\",\"fsLayers\":[],\"history\":[]}";

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *up,
                               size_t *upsize, void **con_cls) {
    (void)cls, (void)method, (void)version, (void)up, (void)upsize, (void)con_cls;
    const char *body = strcmp(url, "/v2/") == 0 ? "{}" : schema1;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/v2/") != 0)
        MHD_add_response_header(r, "Content-Type",
                                "application/vnd.docker.distribution.manifest.v1+prettyjws");
    enum MHD_Result rc = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return rc;
}

static void setup(void) {
    qs_log_set_fd(-1);
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
                         NULL, handler, NULL, MHD_OPTION_END);
    cr_assert_not_null(d);
    port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
}

static void teardown(void) { MHD_stop_daemon(d); }

TestSuite(mirror_worker, .init = setup, .fini = teardown, .timeout = 30);

Test(mirror_worker, schema1_source_is_refused_permanently_with_its_reason) {
    mirror_settings s = {.blob_concurrency = 2, .keep_lists = true};
    qs_http_opts ho = QS_HTTP_OPTS_INIT;
    ho.max_attempts = 1;
    qs_http *http = qs_http_new(&ho);
    mirror_registries *regs = mirror_registries_new(&s, http, NULL);
    mirror_task t = {0};
    snprintf(t.want.source, sizeof t.want.source, "127.0.0.1:%u/legacy/app:v1", port);
    snprintf(t.want.destination, sizeof t.want.destination, "127.0.0.1:%u/mirror/app:v1", port);
    t.want.owner = "api";
    qs_copy_result res;
    bool permanent = false;
    int rc = mirror_execute(&s, regs, &t, &res, &permanent);
    cr_assert_eq(rc, QS_EINVAL, "rc %d: %s", rc, res.error);
    cr_assert(permanent, "a schema 1 source must not be retried");
    cr_assert(strstr(res.error, "schema 1"), "the reason is given: %s", res.error);
    mirror_registries_free(regs);
    qs_http_free(http);
}

Test(mirror_worker, unusable_references_are_permanent) {
    mirror_settings s = {.blob_concurrency = 2, .keep_lists = true};
    qs_http_opts ho = QS_HTTP_OPTS_INIT;
    qs_http *http = qs_http_new(&ho);
    mirror_registries *regs = mirror_registries_new(&s, http, NULL);
    mirror_task t = {0};
    snprintf(t.want.source, sizeof t.want.source, "127.0.0.1:%u/legacy/app:v1", port);
    snprintf(t.want.destination, sizeof t.want.destination, "127.0.0.1:%u/no-tag", port);
    qs_copy_result res;
    bool permanent = false;
    cr_assert_eq(mirror_execute(&s, regs, &t, &res, &permanent), QS_EINVAL);
    cr_assert(permanent);
    mirror_registries_free(regs);
    qs_http_free(http);
}
