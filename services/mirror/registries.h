/* registries.h — one registry client per host, shared by the controller and the workers. */
#ifndef MIRROR_REGISTRIES_H
#define MIRROR_REGISTRIES_H

#include "mirror/settings.h"
#include "shared/authfile.h"
#include "shared/http_client.h"
#include "shared/registry.h"

typedef struct mirror_registries mirror_registries;

/** `auth` may be NULL (anonymous everywhere). */
mirror_registries *mirror_registries_new(const mirror_settings *s, qs_http *http,
                                         qs_authfile *auth);
void mirror_registries_free(mirror_registries *r);
/** The client for `host` (host[:port]), created on first use: http:// for loopback and
 *  INSECURE_REGISTRIES, https:// otherwise; credentials from the auth file, looked up for
 *  the host (and re-read when the file rotates). NULL only on ENOMEM. Thread-safe. */
qs_registry *mirror_registry_for(mirror_registries *r, const char *host);

#endif
