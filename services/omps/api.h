/* api.h — the omps HTTP API (reference/omps.md §A.2): pushes from zip uploads and Koji
 * builds, deletes, health and about, in the v1 and v2 forms. */
#ifndef OMPS_API_H
#define OMPS_API_H

#include <stddef.h>

#include "omps/service.h"
#include "shared/http_server.h"

/** The routes (handlers share `svc`). Returns the number written to `out` (at most max). */
size_t omps_api_routes(omps_service *svc, qs_route *out, size_t max);

/** Is `s` acceptable as an organization or repository in a URL: 1..255 bytes of
 *  [A-Za-z0-9._-], not "." or ".."? */
bool omps_api_name_ok(const char *s);
/** Is `v` acceptable as the Authorization value forwarded to Quay: no control characters
 *  other than TAB (a CR or LF would let a caller add header lines to Quay's request)? */
bool omps_api_auth_ok(const char *v);

#endif
