/* emu.h — what every emulator shares: fault injection, call counting, fixtures, startup.
 *
 * Every emulator mounts the control routes (emu_control_routes) and calls emu_check() first
 * in every handler of the API it emulates:
 *
 *   POST   /_emulator/faults  {"path_prefix","method"?,"status","count"?,"delay_ms"?,"body"?}
 *   DELETE /_emulator/faults  clear all faults
 *   GET    /_emulator/faults  the faults still armed (debugging)
 *   GET    /_emulator/calls   {"GET /v2/auth": 3, ...} (path without the query string)
 *   DELETE /_emulator/calls   reset the counters
 *   GET    /_emulator/health  200 {"ok":true}
 *
 * All state is process-wide and guarded by one mutex, so handlers on any thread may call in. */
#ifndef EMU_H
#define EMU_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "shared/http_server.h"

/** Count this call ("METHOD path") and apply the first armed fault that matches it. Returns
 *  true when the fault answered the request (the handler must then return at once); false
 *  when the handler should go on (no fault, or a delay-only fault). */
bool emu_check(qs_req *r);

/** The control routes under /_emulator/ (a static table). */
size_t emu_control_routes(const qs_route **out);

/** Append `nadd` routes to the growing array *all (malloc'd; free() it). 0 or -1 on ENOMEM. */
int emu_routes_append(qs_route **all, size_t *n, const qs_route *add, size_t nadd);

/** A route table of one part of an emulator. */
typedef size_t (*emu_table_fn)(const qs_route **out);
/** Concatenate the tables, in order, into one malloc'd route array (free() it). 0 or -1. */
int emu_collect_routes(const emu_table_fn *tables, size_t ntables, qs_route **routes,
                       size_t *nroutes);
/** An environment variable, or `def` when unset or empty. */
const char *emu_env(const char *name, const char *def);
/** Block signals and start JSON logs for `service` at the level named by `level_var`
 *  (default info). The first lines of every emulator's main. */
void emu_start_process(const char *service, const char *level_var);

/** Load a JSON object from `path`. NULL path → an empty object. NULL + message on error. */
json_t *emu_load_fixture(const char *path, char *err, size_t errlen);

/** A string member of an object, or NULL when absent or not a string. */
const char *emu_json_str(const json_t *obj, const char *key);

/** Serve until SIGTERM/SIGINT: create and start the server on `listen` (host:port), log the
 *  bound port, write it to the file named by $EMU_PORT_FILE when set (so tests can use port
 *  0), wait for the shutdown signal, stop. Returns the process exit code. */
int emu_serve(const char *name, const char *listen, const qs_route *routes, size_t nroutes,
              qs_error_formatter formatter);

#endif
