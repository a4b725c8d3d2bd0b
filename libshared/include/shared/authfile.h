/* authfile.h — registry credentials from a docker/podman auth file (`config.json`,
 * `auth.json`), as `oc --registry-config` and `skopeo --authfile` read them.
 *
 * {"auths": {"quay.io": {"auth": "<base64 user:pass>"}, "https://index.docker.io/v1/": {...},
 *            "registry.example:5000/org": {"username": "u", "password": "p"}}}
 * Keys may carry a scheme, a path (a namespace: the longest matching prefix wins, as
 * containers-auth.json(5) says) and docker.io's legacy index URL. The file is re-read when
 * it changes (a rotated Secret). Credential helpers are not supported. */
#ifndef QS_AUTHFILE_H
#define QS_AUTHFILE_H

#include <stddef.h>

typedef struct qs_authfile qs_authfile;

/** Open an auth file (it need not exist yet). NULL only on ENOMEM. */
qs_authfile *qs_authfile_new(const char *path);
void qs_authfile_free(qs_authfile *a);

/** Credentials for `host_and_repo` ("quay.io/openshift/ci", "127.0.0.1:5000/x", or just a
 *  host). 0 with malloc'd *user and *pass (release them with qs_secret_release), QS_ENOTFOUND
 *  when the file has no entry for it, QS_EINVAL when the file or the entry is malformed (the
 *  message in err names the key, never the secret). */
int qs_authfile_lookup(qs_authfile *a, const char *host_and_repo, char **user, char **pass,
                       char *err, size_t errlen);

/** Normalise an auth-file key: drop "http(s)://", a trailing "/" and docker.io's legacy
 *  "/v1/" suffix, map "index.docker.io"/"registry-1.docker.io" to "docker.io". Pure;
 *  writes into out. */
void qs_authfile_normalize_key(const char *key, char *out, size_t outlen);

#endif
