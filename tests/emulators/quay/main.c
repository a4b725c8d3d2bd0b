/* main.c — the Quay emulator: configuration, route tables, serve.
 *
 * Env: QUAY_EMU_LISTEN (host:port, default 127.0.0.1:0), QUAY_EMU_TOKEN_KEY (path of the PEM
 * private key that signs registry tokens, EC P-256 or RSA; the registry's rootcertbundle
 * holds its certificate; optional: without it /v2/auth answers 404 and the rest works),
 * QUAY_EMU_ISSUER (JWT iss, default "quay"), QUAY_EMU_SERVICE (the registry's service name =
 * JWT aud, default "quay.io"), QUAY_EMU_FIXTURE (JSON accounts, App Registry and REST API
 * state), QUAY_EMU_TOKEN_TTL (seconds, default 3600 as quay.io), QUAY_EMU_LOG_LEVEL (default
 * info). The routes are one table per part, in order: the shared /_emulator/ controls, the
 * account controls, the token server, the App Registry, the REST API v1, and last a 404
 * fallback so unknown calls are counted too. Every instance is independent (all state is
 * per process), so tests start several (a source and a destination Quay). */
#include <stdio.h>
#include <stdlib.h>

#include "emu.h"
#include "quay_emu.h"
#include "shared/common.h"
#include "shared/config.h"
#include "shared/log.h"

static void h_not_found(qs_req *r, void *ctx) {
    QS_UNUSED(ctx);
    if (emu_check(r))
        return;
    quay_v2_error(r, 404, "NOT_FOUND", "not found");
}

static const qs_route fallback_routes[] = {
    {"*", "/{rest*}", h_not_found, NULL, 0},
};

static size_t fallback_table(const qs_route **out) {
    *out = fallback_routes;
    return QS_ARRAY_LEN(fallback_routes);
}

/* One table per part; the fallback must stay last: it catches everything unknown. */
static const emu_table_fn tables[] = {
    emu_control_routes, quay_accounts_routes,     quay_tokens_routes, quay_appr_routes,
    quay_rest_routes,   quay_rest_control_routes, fallback_table,
};

/* Read the settings into *signer (NULL without a key); -1 on error (already logged). */
static int configure(qs_conf *c, const char **listen, qs_jwt_signer **signer) {
    *listen = qs_conf_str(c, "QUAY_EMU_LISTEN", "127.0.0.1:0");
    const char *key = qs_conf_str(c, "QUAY_EMU_TOKEN_KEY", NULL);
    quay_token_cfg tc = {NULL, qs_conf_str(c, "QUAY_EMU_ISSUER", "quay"),
                         qs_conf_str(c, "QUAY_EMU_SERVICE", "quay.io"),
                         qs_conf_int(c, "QUAY_EMU_TOKEN_TTL", 3600, 60, 86400 * 365)};
    char err[512] = "";
    json_t *fixture = emu_load_fixture(qs_conf_str(c, "QUAY_EMU_FIXTURE", NULL), err, sizeof err);
    if (!fixture || quay_accounts_load(fixture, err, sizeof err) != 0)
        qs_conf_error(c, "QUAY_EMU_FIXTURE: %s", err);
    json_decref(fixture);
    if (key && !(tc.signer = qs_jwt_signer_load(key, err, sizeof err)))
        qs_conf_error(c, "QUAY_EMU_TOKEN_KEY: %s", err);
    if (qs_conf_check(c) != 0) {
        qs_jwt_signer_free(tc.signer);
        return -1;
    }
    quay_tokens_init(&tc);
    *signer = tc.signer;
    return 0;
}

int main(void) {
    emu_start_process("quay-emulator", "QUAY_EMU_LOG_LEVEL");

    qs_conf *c = qs_conf_new();
    const char *listen = NULL;
    qs_jwt_signer *signer = NULL;
    if (configure(c, &listen, &signer) != 0) {
        qs_conf_free(c);
        return 2;
    }
    qs_route *routes = NULL;
    size_t nroutes = 0;
    if (emu_collect_routes(tables, QS_ARRAY_LEN(tables), &routes, &nroutes) != 0)
        return 1;
    int rc = emu_serve("quay-emulator", listen, routes, nroutes, qs_error_format_registry);
    free(routes);
    qs_jwt_signer_free(signer);
    qs_conf_free(c);
    return rc;
}
