/* koji_emu.h — the parts of the Koji emulator, shared between its files.
 *
 * main.c loads the fixture and KOJI_EMU_ROOT and assembles the route tables; hub.c answers
 * XML-RPC on POST /kojihub from the fixture's builds; files.c serves the top directory
 * (GET /packages/..., /vol/...) from the fixture's inline files and the root directory. */
#ifndef KOJI_EMU_H
#define KOJI_EMU_H

#include <jansson.h>
#include <stddef.h>

#include "shared/http_server.h"

/** The loaded fixture (read-only after start) and the root directory (NULL = none). */
extern json_t *koji_fixture;
extern const char *koji_root_dir;

/** Check the fixture's shape. 0, or -1 + message. */
int koji_fixture_check(const json_t *fixture, char *err, size_t errlen);
/** POST /kojihub. */
size_t koji_hub_routes(const qs_route **out);
/** GET /packages/{rest*}, GET /vol/{rest*}, and the 404 fallback (mount last). */
size_t koji_file_routes(const qs_route **out);

#endif
