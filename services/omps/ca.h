/* ca.h — CA_URL: a CA certificate fetched at start and trusted for outgoing TLS, next to the
 * system's (the seed's container ran docker/install-ca.sh for this). */
#ifndef OMPS_CA_H
#define OMPS_CA_H

#include <stddef.h>

/** Check that `pem` (len bytes) holds one or more PEM certificates and nothing unparseable.
 *  0, or QS_EINVAL with the reason in err. Pure. */
int omps_ca_check_pem(const char *pem, size_t len, char *err, size_t errlen);

/** Fetch `url` (http or https, checked against the system CAs), check it as above and write
 *  the system bundle (when one is found) followed by it into a new private file (0600) in a
 *  new private directory under `tmp_dir` (NULL = $TMPDIR or /tmp). *bundle_path (malloc'd)
 *  is what libcurl should use as its CA file; remove it with omps_ca_remove. 0, or QS_EINVAL
 *  / QS_EUNAVAIL / QS_ERR with a clear message in err. */
int omps_ca_install(const char *url, const char *tmp_dir, char **bundle_path, char *err,
                    size_t errlen);

/** Remove the bundle file and its directory; free the path. NULL is fine. */
void omps_ca_remove(char *bundle_path);

#endif
