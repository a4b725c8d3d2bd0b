/* gw_emu.h — the parts of the Greenwave emulator, shared between its two files.
 *
 * main.c reads the environment and the fixture and assembles the route tables; decisions.c
 * holds the per-NVR decisions and the log of decision requests, answers Greenwave's API
 * (POST /api/v1.0/decision, GET /api/v1.0/about) and the emulator's controls. */
#ifndef GW_EMU_H
#define GW_EMU_H

#include <jansson.h>
#include <stddef.h>

#include "shared/buf.h"
#include "shared/http_server.h"

/** Load the fixture's "decisions" ({"<nvr>": {decision}, ...}) and keep `version` (the answer
 *  of /about) and `testcase` (the required test of an unknown subject). 0, or -1 + message. */
int gw_init(const json_t *fixture, const char *version, const char *testcase, char *err,
            size_t errlen);
/** Release the state (at exit). */
void gw_free(void);

/** POST /api/v1.0/decision, GET /api/v1.0/about. */
size_t gw_api_routes(const qs_route **out);
/** PUT/GET/DELETE /_emulator/decisions, GET/DELETE /_emulator/decisions/requests. */
size_t gw_control_routes(const qs_route **out);
/** Everything else: 404 in Greenwave's shape (mount last). */
size_t gw_fallback_routes(const qs_route **out);

/** The server's error bodies in Greenwave's shape: {"message": "..."} with werkzeug's texts
 *  for 404, 405 and 413. */
const char *gw_error_format(int status, const char *code, const char *message, qs_buf *out);

#endif
