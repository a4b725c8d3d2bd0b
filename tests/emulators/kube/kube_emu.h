/* kube_emu.h — the parts of the Kubernetes API emulator, shared between its files.
 *
 * main.c assembles the route tables of every part (a new resource such as ImageStreams or
 * Secrets is one more file with one more table) and serves them. store.c holds the state
 * (service account token, users by token, permissions) and its /_emulator/ control routes.
 * api.c has what every API handler needs: the Status error body, the service account check,
 * and the 404 fallback. reviews.c answers TokenReview and SubjectAccessReview. */
#ifndef KUBE_EMU_H
#define KUBE_EMU_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "shared/buf.h"
#include "shared/http_server.h"

/* ---- store.c ---- */
/** Load the fixture ({"service_account_token","users","permissions"}). 0, or -1 + message. */
int kube_store_load(const json_t *fixture, char *err, size_t errlen);
/** Is `token` the service account token API callers must present? */
bool kube_store_sa_ok(const char *token);
/** The user a bearer token belongs to: a new {"username","uid","groups"} or NULL. */
json_t *kube_store_user(const char *token);
/** Does a permission entry allow this SubjectAccessReview spec? On true, `reason` says which. */
bool kube_store_allowed(const json_t *spec, char *reason, size_t rlen);
/** The control routes: POST /_emulator/tokens, DELETE /_emulator/tokens/{token},
 *  POST /_emulator/permissions. */
size_t kube_store_routes(const qs_route **out);

/* ---- api.c ---- */
/** The first call of every API handler: counts the call and applies faults (emu_check), then
 *  requires `Authorization: Bearer <service account token>`. Returns true when the request
 *  was already answered (fault or 401) and the handler must return. */
bool kube_api_enter(qs_req *r);
/** Answer with a metav1 Status (kind Status, status Failure, reason from the code). */
void kube_status(qs_req *r, int code, const char *message);
/** The server's error formatter: every error the server itself produces is a Status too. */
const char *kube_status_format(int status, const char *code, const char *message, qs_buf *out);
/** The fallback route: anything unknown → 404 NotFound Status. Mount it last. */
size_t kube_fallback_routes(const qs_route **out);

/* ---- imagestreams.c ---- */
/** Load the fixture's optional "imagestreams" array. 0, or -1 + message. */
int kube_imagestreams_load(const json_t *fixture, char *err, size_t errlen);
/** GET image streams (list per namespace, one by name); PUT /_emulator/imagestreams. */
size_t kube_imagestream_routes(const qs_route **out);

/* ---- secrets.c ---- */
/** core/v1 Secrets: create, get, replace, delete, list (labelSelector) per namespace. */
size_t kube_secret_routes(const qs_route **out);

/* ---- reviews.c ---- */
/** POST tokenreviews and subjectaccessreviews. */
size_t kube_review_routes(const qs_route **out);

#endif
