/* main.c — the Koji emulator: configuration, route tables, serve.
 *
 * Env: KOJI_EMU_LISTEN (host:port, default 127.0.0.1:0), KOJI_EMU_FIXTURE (JSON: builds with
 * their extra/typeinfo and emulator-only "logs", inline archive files, the API version),
 * KOJI_EMU_ROOT (a directory served as Koji's top directory), KOJI_EMU_LOG_LEVEL (default
 * info). The routes are, in order: the shared /_emulator/ controls, the XML-RPC hub, and the
 * file server with the 404 fallback. The fixture is loaded once and only read afterwards, so
 * handlers on any thread may use it without locking. */
#include <stdio.h>
#include <stdlib.h>

#include "emu.h"
#include "koji_emu.h"
#include "shared/common.h"
#include "shared/log.h"

json_t *koji_fixture;
const char *koji_root_dir;

static const emu_table_fn tables[] = {
    emu_control_routes, koji_hub_routes,
    koji_file_routes, /* last: its fallback catches everything unknown */
};

int main(void) {
    emu_start_process("koji-emulator", "KOJI_EMU_LOG_LEVEL");

    char err[512] = "";
    koji_fixture = emu_load_fixture(getenv("KOJI_EMU_FIXTURE"), err, sizeof err);
    if (!koji_fixture || koji_fixture_check(koji_fixture, err, sizeof err) != 0) {
        qs_log(QS_LOG_ERROR, "bad fixture", "error", err, NULL);
        json_decref(koji_fixture);
        return 2;
    }
    koji_root_dir = emu_env("KOJI_EMU_ROOT", NULL);

    qs_route *routes = NULL;
    size_t nroutes = 0;
    if (emu_collect_routes(tables, QS_ARRAY_LEN(tables), &routes, &nroutes) != 0)
        return 1;
    int rc = emu_serve("koji-emulator", emu_env("KOJI_EMU_LISTEN", "127.0.0.1:0"), routes, nroutes,
                       NULL);
    free(routes);
    json_decref(koji_fixture);
    return rc;
}
