/* store.h — what org-mirror keeps in Redis per organisation, shared by every replica: the run
 * generation, each repository's last result, the organisation's status, the run lock. */
#ifndef ORGM_STORE_H
#define ORGM_STORE_H

#include <jansson.h>

#include "shared/redis.h"

#define ORGM_LOCK_TOKEN_LEN 33

/** INCR the organisation's run generation (a run's number). > 0, or a negative qs_err. */
long long orgm_store_next_gen(qs_redis *r, const char *org);
/** The current generation (0 before the first run), or a negative qs_err. */
long long orgm_store_gen(qs_redis *r, const char *org);
/** How many results were recorded so far (a counter the run watches), or a negative qs_err. */
long long orgm_store_finished(qs_redis *r, const char *org);
/** Record `result` (orgm_result_json) as repository `repo`'s latest and bump the counter. */
int orgm_store_put_result(qs_redis *r, const char *org, const char *repo, const json_t *result);
/** Every repository's latest result: *out = {repo: result}. 0 or QS_EUNAVAIL / QS_EPROTO. */
int orgm_store_results(qs_redis *r, const char *org, json_t **out);
/** Forget the results of repositories not in `keep` (an object keyed by repository). */
int orgm_store_prune(qs_redis *r, const char *org, const json_t *keep);
/** Save / read the organisation's status object (see api.c). orgm_store_status: 0,
 *  QS_ENOTFOUND (never saved), QS_EUNAVAIL, QS_EPROTO. */
int orgm_store_set_status(qs_redis *r, const char *org, const json_t *status);
int orgm_store_status(qs_redis *r, const char *org, json_t **out);
/** The fingerprint of the source account the organisation's mirror configs were last all
 *  written with (runner.c): *out malloc'd, NULL when none is recorded. 0 or QS_EUNAVAIL. */
int orgm_store_account(qs_redis *r, const char *org, char **out);
int orgm_store_set_account(qs_redis *r, const char *org, const char *fingerprint);
/** The run lock (SET NX PX): 0 with `token` filled, QS_ECONFLICT when someone holds it,
 *  QS_EUNAVAIL. extend/unlock act only while `token` still holds it (Lua compare). */
int orgm_store_lock(qs_redis *r, const char *org, long ttl_ms, char token[ORGM_LOCK_TOKEN_LEN]);
int orgm_store_extend(qs_redis *r, const char *org, const char *token, long ttl_ms);
int orgm_store_unlock(qs_redis *r, const char *org, const char *token);
/** Is the run lock held (by anyone)? */
int orgm_store_locked(qs_redis *r, const char *org, int *held);

#endif
