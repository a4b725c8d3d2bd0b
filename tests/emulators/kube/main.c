/* main.c — the Kubernetes API emulator: configuration, route tables, serve.
 *
 * Env: KUBE_EMU_LISTEN (host:port, default 127.0.0.1:0), KUBE_EMU_FIXTURE (JSON file with
 * the service account token, users and permissions), KUBE_EMU_LOG_LEVEL (default info).
 * The routes are the concatenation of one table per part, in order: the shared /_emulator/
 * controls, this emulator's controls, the reviews, and finally the 404 fallback. A new
 * resource (ImageStreams, Secrets) adds its file and one line to `tables`. */
#include <stdio.h>
#include <stdlib.h>

#include "emu.h"
#include "kube_emu.h"
#include "shared/common.h"
#include "shared/log.h"

static const emu_table_fn tables[] = {
    emu_control_routes, kube_store_routes,    kube_review_routes, kube_imagestream_routes,
    kube_secret_routes, kube_fallback_routes, /* last: catches everything unknown */
};

int main(void) {
    emu_start_process("kube-emulator", "KUBE_EMU_LOG_LEVEL");

    char err[512] = "";
    json_t *fixture = emu_load_fixture(getenv("KUBE_EMU_FIXTURE"), err, sizeof err);
    if (!fixture || kube_store_load(fixture, err, sizeof err) != 0 ||
        kube_imagestreams_load(fixture, err, sizeof err) != 0) {
        qs_log(QS_LOG_ERROR, "bad fixture", "error", err, NULL);
        json_decref(fixture);
        return 2;
    }
    json_decref(fixture);

    qs_route *routes = NULL;
    size_t nroutes = 0;
    if (emu_collect_routes(tables, QS_ARRAY_LEN(tables), &routes, &nroutes) != 0)
        return 1;
    int rc = emu_serve("kube-emulator", emu_env("KUBE_EMU_LISTEN", "127.0.0.1:0"), routes, nroutes,
                       kube_status_format);
    free(routes);
    return rc;
}
