/* test_ttl_cache.c — put/get/replace/delete, expiry with short TTLs, and eviction order when
 * full (expired entries first, then the one closest to expiry). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shared/common.h"
#include "shared/ttl_cache.h"

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static void assert_value(qs_ttl_cache *c, const char *key, const char *want) {
    char *v = qs_ttl_cache_get(c, key);
    if (!want)
        cr_assert_null(v, "%s still present: %s", key, v);
    else
        cr_assert_str_eq(v ? v : "(null)", want, "%s", key);
    free(v);
}

Test(ttl_cache, put_get_replace_delete) {
    qs_ttl_cache *c = qs_ttl_cache_new(10);
    cr_assert_eq(qs_ttl_cache_put(c, "a", "1", 60), QS_OK);
    cr_assert_eq(qs_ttl_cache_put(c, "b", "2", 60), QS_OK);
    assert_value(c, "a", "1");
    assert_value(c, "b", "2");
    assert_value(c, "missing", NULL);
    cr_assert_eq(qs_ttl_cache_size(c), 2);
    cr_assert_eq(qs_ttl_cache_put(c, "a", "one", 60), QS_OK);
    assert_value(c, "a", "one");
    cr_assert_eq(qs_ttl_cache_size(c), 2);
    qs_ttl_cache_del(c, "a");
    qs_ttl_cache_del(c, "never");
    assert_value(c, "a", NULL);
    cr_assert_eq(qs_ttl_cache_size(c), 1);
    qs_ttl_cache_free(c);
}

Test(ttl_cache, expiry) {
    qs_ttl_cache *c = qs_ttl_cache_new(10);
    double t0 = qs_now_mono();
    qs_ttl_cache_put(c, "short", "s", 0.05);
    qs_ttl_cache_put(c, "long", "l", 60);
    assert_value(c, "short", "s");
    sleep_s(0.08);
    cr_assert(qs_now_mono() - t0 >= 0.08);
    assert_value(c, "short", NULL);
    assert_value(c, "long", "l");
    cr_assert_eq(qs_ttl_cache_size(c), 1);
    /* replacing renews the deadline */
    qs_ttl_cache_put(c, "renew", "r1", 0.05);
    sleep_s(0.03);
    qs_ttl_cache_put(c, "renew", "r2", 0.2);
    sleep_s(0.04);
    assert_value(c, "renew", "r2");
    qs_ttl_cache_put(c, "zero", "z", 0);
    assert_value(c, "zero", NULL);
    qs_ttl_cache_free(c);
}

Test(ttl_cache, evicts_expired_first) {
    qs_ttl_cache *c = qs_ttl_cache_new(3);
    qs_ttl_cache_put(c, "k1", "v", 60);
    qs_ttl_cache_put(c, "k2", "v", 0.05);
    qs_ttl_cache_put(c, "k3", "v", 30);
    sleep_s(0.08);
    qs_ttl_cache_put(c, "k4", "v", 60);
    assert_value(c, "k1", "v"); /* k3 expires sooner but k2 had already expired */
    assert_value(c, "k3", "v");
    assert_value(c, "k4", "v");
    cr_assert_eq(qs_ttl_cache_size(c), 3);
    qs_ttl_cache_free(c);
}

Test(ttl_cache, evicts_soonest_expiring_when_none_expired) {
    qs_ttl_cache *c = qs_ttl_cache_new(3);
    qs_ttl_cache_put(c, "k1", "v", 60);
    qs_ttl_cache_put(c, "k2", "v", 10);
    qs_ttl_cache_put(c, "k3", "v", 30);
    qs_ttl_cache_put(c, "k4", "v", 60);
    assert_value(c, "k2", NULL);
    assert_value(c, "k1", "v");
    assert_value(c, "k3", "v");
    assert_value(c, "k4", "v");
    /* replacing an existing key in a full cache evicts nothing */
    qs_ttl_cache_put(c, "k3", "v2", 1);
    cr_assert_eq(qs_ttl_cache_size(c), 3);
    qs_ttl_cache_put(c, "k5", "v", 60); /* k3 (1 s) goes now */
    assert_value(c, "k3", NULL);
    cr_assert_eq(qs_ttl_cache_size(c), 3);
    qs_ttl_cache_free(c);
}

Test(ttl_cache, many_entries_stay_bounded) {
    qs_ttl_cache *c = qs_ttl_cache_new(1000);
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        cr_assert_eq(qs_ttl_cache_put(c, key, key, 100 + i), QS_OK);
    }
    cr_assert_eq(qs_ttl_cache_size(c), 1000);
    assert_value(c, "key-3999", NULL); /* the shortest-lived went first */
    assert_value(c, "key-4000", "key-4000");
    assert_value(c, "key-4999", "key-4999");
    qs_ttl_cache_free(c);
}

static void *worker(void *arg) {
    qs_ttl_cache *c = arg;
    char key[16];
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof key, "k%d", i % 50);
        qs_ttl_cache_put(c, key, "v", 10);
        free(qs_ttl_cache_get(c, key));
        if (i % 7 == 0)
            qs_ttl_cache_del(c, key);
    }
    return NULL;
}

Test(ttl_cache, concurrent_use) {
    qs_ttl_cache *c = qs_ttl_cache_new(20);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, worker, c);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    cr_assert(qs_ttl_cache_size(c) <= 20);
    qs_ttl_cache_free(c);
}
