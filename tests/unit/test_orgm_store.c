/* test_orgm_store.c — org-mirror's state in a real Redis: generations, results and their
 * counter (what a run waits on), pruning, status, and the run lock (one holder; extend and
 * release only by the holder; released by expiry). */
#include <criterion/criterion.h>
#include <string.h>

#include "org-mirror/store.h"
#include "redis_spawn.h"
#include "shared/common.h"
#include "shared/log.h"

static redis_proc rp;
static qs_redis *r;

static void setup(void) {
    qs_log_set_fd(-1);
    rs_prepare(&rp, false, false);
    rs_start(&rp);
    char url[64], err[128];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", rp.port);
    r = qs_redis_new(url, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
}

static void teardown(void) {
    qs_redis_free(r);
    rs_cleanup(&rp);
}

TestSuite(orgm_store, .init = setup, .fini = teardown);

Test(orgm_store, generations_results_and_the_counter) {
    cr_assert_eq(orgm_store_gen(r, "acme"), 0, "no run yet");
    cr_assert_eq(orgm_store_finished(r, "acme"), 0);
    cr_assert_eq(orgm_store_next_gen(r, "acme"), 1);
    cr_assert_eq(orgm_store_next_gen(r, "acme"), 2);
    cr_assert_eq(orgm_store_gen(r, "acme"), 2);
    cr_assert_eq(orgm_store_gen(r, "other"), 0, "per organization");
    json_t *a = json_pack("{s:s,s:i}", "outcome", "created", "gen", 2);
    json_t *b = json_pack("{s:s,s:i}", "outcome", "failed", "gen", 2);
    cr_assert_eq(orgm_store_put_result(r, "acme", "team/app", a), QS_OK);
    cr_assert_eq(orgm_store_put_result(r, "acme", "b", b), QS_OK);
    cr_assert_eq(orgm_store_put_result(r, "acme", "team/app", b), QS_OK, "replaced");
    cr_assert_eq(orgm_store_finished(r, "acme"), 3, "every result counts");
    json_t *all = NULL;
    cr_assert_eq(orgm_store_results(r, "acme", &all), QS_OK);
    cr_assert_eq(json_object_size(all), 2);
    cr_assert(json_equal(json_object_get(all, "team/app"), b));
    json_t *keep = json_pack("{s:b}", "b", 1);
    cr_assert_eq(orgm_store_prune(r, "acme", keep), QS_OK);
    json_decref(all);
    cr_assert_eq(orgm_store_results(r, "acme", &all), QS_OK);
    cr_assert_eq(json_object_size(all), 1);
    cr_assert_not_null(json_object_get(all, "b"));
    json_decref(all);
    json_decref(keep);
    json_decref(a);
    json_decref(b);
}

Test(orgm_store, status) {
    json_t *st = NULL;
    cr_assert_eq(orgm_store_status(r, "acme", &st), QS_ENOTFOUND);
    json_t *s = json_pack("{s:s,s:i}", "organization", "acme", "created", 5);
    cr_assert_eq(orgm_store_set_status(r, "acme", s), QS_OK);
    cr_assert_eq(orgm_store_status(r, "acme", &st), QS_OK);
    cr_assert(json_equal(st, s));
    json_decref(st);
    json_decref(s);
}

Test(orgm_store, the_source_account_fingerprint) {
    char *fp = (char *)"x";
    cr_assert_eq(orgm_store_account(r, "acme", &fp), QS_OK);
    cr_assert_null(fp, "none recorded yet");
    cr_assert_eq(orgm_store_set_account(r, "acme", "abc123"), QS_OK);
    cr_assert_eq(orgm_store_account(r, "acme", &fp), QS_OK);
    cr_assert_str_eq(fp, "abc123");
    free(fp);
    cr_assert_eq(orgm_store_account(r, "other", &fp), QS_OK);
    cr_assert_null(fp, "per organisation");
}

Test(orgm_store, the_run_lock) {
    char t1[ORGM_LOCK_TOKEN_LEN], t2[ORGM_LOCK_TOKEN_LEN];
    int held = -1;
    cr_assert_eq(orgm_store_locked(r, "acme", &held), QS_OK);
    cr_assert_eq(held, 0);
    cr_assert_eq(orgm_store_lock(r, "acme", 10000, t1), QS_OK);
    cr_assert_eq(strlen(t1), 32);
    cr_assert_eq(orgm_store_lock(r, "acme", 10000, t2), QS_ECONFLICT, "one holder");
    cr_assert_eq(orgm_store_lock(r, "beta", 10000, t2), QS_OK, "per organization");
    cr_assert_eq(orgm_store_locked(r, "acme", &held), QS_OK);
    cr_assert_eq(held, 1);
    cr_assert_eq(orgm_store_extend(r, "acme", t2, 10000), QS_ENOTFOUND, "not the holder");
    cr_assert_eq(orgm_store_unlock(r, "acme", t2), QS_ENOTFOUND, "not the holder");
    cr_assert_eq(orgm_store_extend(r, "acme", t1, 10000), QS_OK);
    cr_assert_eq(orgm_store_unlock(r, "acme", t1), QS_OK);
    cr_assert_eq(orgm_store_unlock(r, "acme", t1), QS_ENOTFOUND, "released once");
    cr_assert_eq(orgm_store_lock(r, "acme", 100, t1), QS_OK);
    struct timespec ts = {0, 250 * 1000000L};
    nanosleep(&ts, NULL);
    cr_assert_eq(orgm_store_lock(r, "acme", 10000, t2), QS_OK, "an expired lock is free");
    cr_assert_eq(orgm_store_unlock(r, "acme", t1), QS_ENOTFOUND,
                 "the expired holder cannot release its successor's lock");
}

Test(orgm_store, redis_down_is_unavailable) {
    rs_stop(&rp, SIGKILL);
    json_t *st = NULL;
    cr_assert_eq(orgm_store_status(r, "acme", &st), QS_EUNAVAIL);
    cr_assert_lt(orgm_store_next_gen(r, "acme"), 0);
    char t[ORGM_LOCK_TOKEN_LEN];
    cr_assert_eq(orgm_store_lock(r, "acme", 1000, t), QS_EUNAVAIL);
}
