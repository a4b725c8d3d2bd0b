/* main.c — the Greenwave emulator: configuration, route tables, serve.
 *
 * Env: GREENWAVE_EMU_LISTEN (host:port, default 127.0.0.1:0), GREENWAVE_EMU_FIXTURE (JSON:
 * {"decisions": {"<nvr>": {decision}}}), GREENWAVE_EMU_VERSION (what /api/v1.0/about
 * answers), GREENWAVE_EMU_TESTCASE (the test an unknown subject misses),
 * GREENWAVE_EMU_LOG_LEVEL (default info). The routes are, in order: the shared /_emulator/
 * controls, the decision controls, Greenwave's API, and the 404 fallback. */
#include <stdio.h>
#include <stdlib.h>

#include "emu.h"
#include "gw_emu.h"
#include "shared/common.h"
#include "shared/log.h"

static const emu_table_fn tables[] = {
    emu_control_routes, gw_control_routes, gw_api_routes,
    gw_fallback_routes, /* last: its fallback catches everything unknown */
};

int main(void) {
    emu_start_process("greenwave-emulator", "GREENWAVE_EMU_LOG_LEVEL");

    char err[512] = "";
    json_t *fixture = emu_load_fixture(getenv("GREENWAVE_EMU_FIXTURE"), err, sizeof err);
    if (!fixture || gw_init(fixture, emu_env("GREENWAVE_EMU_VERSION", "2.3.0"),
                            emu_env("GREENWAVE_EMU_TESTCASE", "osbs.operator-manifests.validation"),
                            err, sizeof err) != 0) {
        qs_log(QS_LOG_ERROR, "bad fixture", "error", err, NULL);
        json_decref(fixture);
        return 2;
    }
    json_decref(fixture);

    qs_route *routes = NULL;
    size_t nroutes = 0;
    if (emu_collect_routes(tables, QS_ARRAY_LEN(tables), &routes, &nroutes) != 0) {
        gw_free();
        return 1;
    }
    int rc = emu_serve("greenwave-emulator", emu_env("GREENWAVE_EMU_LISTEN", "127.0.0.1:0"), routes,
                       nroutes, gw_error_format);
    free(routes);
    gw_free();
    return rc;
}
