/* jwt.h — JSON Web Tokens: HS256 for the proxy's own tokens, RS256 for the token server that
 * the Quay emulator plays (a docker-registry with `auth: token` verifies those).
 *
 * Verification is strict: the header's alg must be exactly the one expected (no "none", no
 * HS/RS confusion), the signature is compared in constant time, and exp/nbf/iat are checked
 * against `now` with the given leeway. */
#ifndef QS_JWT_H
#define QS_JWT_H

#include <jansson.h>
#include <stddef.h>
#include <time.h>

/** Sign `claims` (borrowed) with HMAC-SHA256. *out is malloc'd. 0 or QS_ENOMEM/QS_EINVAL. */
int qs_jwt_sign_hs256(const void *key, size_t keylen, const json_t *claims, char **out);

/** Verify an HS256 token. On 0, *claims (may be NULL to skip) holds the claims (decref it).
 *  QS_EINVAL malformed / wrong alg / bad signature; QS_EEXPIRED past exp (+leeway), or
 *  nbf/iat in the future (−leeway). A token without exp is refused (QS_EINVAL). */
int qs_jwt_verify_hs256(const void *key, size_t keylen, const char *token, time_t now,
                        long leeway_s, json_t **claims);

typedef struct qs_jwt_signer qs_jwt_signer;

/** An RS256 (RSA key) or ES256 (P-256 key) signer from a PEM private key file. The header
 *  carries `kid` = the libtrust fingerprint of the public key, which docker-registry 2.8
 *  matches against its rootcertbundle. NULL + message on error. */
qs_jwt_signer *qs_jwt_signer_load(const char *key_pem_path, char *err, size_t errlen);
void qs_jwt_signer_free(qs_jwt_signer *s);
/** The libtrust key id (48 base32 chars in 12 groups of 4 joined by ':'). */
const char *qs_jwt_signer_kid(const qs_jwt_signer *s);
/** Sign `claims` (borrowed). *out is malloc'd. */
int qs_jwt_sign(qs_jwt_signer *s, const json_t *claims, char **out);

#endif
