/* test_redis.c — URL parsing (no server), then commands against a real redis-server that each
 * test starts on a free port in a temp dir and stops in its .fini (the server also dies with
 * the test process, via PR_SET_PDEATHSIG, if the test crashes). */
#include <arpa/inet.h>
#include <criterion/criterion.h>

#include "redis_spawn.h"
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shared/common.h"
#include "shared/redis.h"

/* ---- URL parsing (pure: connecting is lazy) ---- */

Test(redis_url, accepted_forms) {
    static const char *good[] = {
        "redis://localhost",
        "redis://127.0.0.1:6380",
        "redis://h:6379/2",
        "redis://h/",
        "redis://:pw@h",
        "redis://user:pw@h:1/0",
        "redis://u:p%40ss%3a@h:7/15",
        "redis://:p@ss@h",
        "redis://[::1]:6379/1",
        "redis://[::1]",
        "REDIS://Host",
        "unix:///tmp/redis.sock",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char err[128] = "";
        qs_redis *r = qs_redis_new(good[i], err, sizeof err);
        cr_assert_not_null(r, "%s: %s", good[i], err);
        qs_redis_free(r);
    }
}

Test(redis_url, rejected_forms) {
    static const char *bad[] = {
        "",
        "http://h",
        "redis://",
        "redis://:6379",
        "redis://h:0",
        "redis://h:65536",
        "redis://h:abc",
        "redis://h:",
        "redis://h/x",
        "redis://h/-1",
        "redis://user@h",
        "redis://:p%zz@h",
        "redis://:p%4@h",
        "redis://[::1",
        "redis://[::1]x",
        "unix://relative.sock",
        "unix://",
        "redis://h?db=1",
        "redis://h#frag",
        "rediss://h",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[128] = "";
        qs_redis *r = qs_redis_new(bad[i], err, sizeof err);
        cr_assert_null(r, "accepted %s", bad[i]);
        cr_assert_neq(err[0], '\0', "no message for %s", bad[i]);
    }
    cr_assert_null(qs_redis_new(NULL, NULL, 0));
}

Test(redis_url, unreachable_is_null_not_fatal) {
    qs_redis *r = qs_redis_new("redis://127.0.0.1:1", NULL, 0);
    cr_assert_not_null(r);
    cr_assert_not(qs_redis_ping(r));
    bool found = true;
    cr_assert_null(qs_redis_get(r, "k", &found));
    cr_assert_not(found);
    cr_assert_eq(qs_redis_set(r, "k", "v", 0), QS_EUNAVAIL);
    cr_assert_null(qs_redis_cmd(r, "PING"));
    qs_redis_free(r);
}

/* ---- a real server ---- */

static redis_proc srv;

static void setup(void) {
    rs_prepare(&srv, false, true);
    rs_start(&srv);
}

static void teardown(void) { rs_cleanup(&srv); }

static qs_redis *connect_url(const char *fmt) {
    char url[256], err[128] = "";
    snprintf(url, sizeof url, fmt, srv.port);
    qs_redis *r = qs_redis_new(url, err, sizeof err);
    cr_assert_not_null(r, "%s: %s", url, err);
    return r;
}

TestSuite(redis, .init = setup, .fini = teardown);

Test(redis, get_set_and_replies) {
    qs_redis *r = connect_url("redis://127.0.0.1:%d");
    cr_assert(qs_redis_ping(r));
    cr_assert_eq(qs_redis_set(r, "greeting", "hello", 0), QS_OK);
    bool found = false;
    char *v = qs_redis_get(r, "greeting", &found);
    cr_assert(found);
    cr_assert_str_eq(v, "hello");
    free(v);
    found = true;
    cr_assert_null(qs_redis_get(r, "absent", &found));
    cr_assert_not(found);

    redisReply *rep = qs_redis_cmd(r, "INCR %s", "greeting"); /* an error reply, as is */
    cr_assert_not_null(rep);
    cr_assert_eq(rep->type, REDIS_REPLY_ERROR);
    freeReplyObject(rep);

    const char *argv[] = {"SET", "bin", "a\0b"};
    const size_t lens[] = {3, 3, 3};
    rep = qs_redis_cmdv(r, 3, argv, lens);
    cr_assert_eq(rep->type, REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    rep = qs_redis_cmd(r, "STRLEN bin");
    cr_assert_eq(rep->integer, 3);
    freeReplyObject(rep);
    qs_redis_free(r);
}

Test(redis, px_expiry) {
    qs_redis *r = connect_url("redis://127.0.0.1:%d/0");
    cr_assert_eq(qs_redis_set(r, "temp", "v", 100), QS_OK);
    redisReply *rep = qs_redis_cmd(r, "PTTL temp");
    cr_assert(rep->integer > 0 && rep->integer <= 100, "pttl %lld", rep->integer);
    freeReplyObject(rep);
    bool found = false;
    char *v = qs_redis_get(r, "temp", &found);
    cr_assert(found);
    free(v);
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
    cr_assert_null(qs_redis_get(r, "temp", &found));
    cr_assert_not(found);
    cr_assert_eq(qs_redis_set(r, "forever", "v", 0), QS_OK);
    rep = qs_redis_cmd(r, "PTTL forever");
    cr_assert_eq(rep->integer, -1);
    freeReplyObject(rep);
    cr_assert_eq(qs_redis_set(r, "neg", "v", -5), QS_EINVAL);
    qs_redis_free(r);
}

Test(redis, reconnects_after_restart) {
    qs_redis *r = connect_url("redis://127.0.0.1:%d");
    cr_assert(qs_redis_ping(r));
    cr_assert_eq(qs_redis_set(r, "k", "before", 0), QS_OK);
    rs_stop(&srv, SIGTERM);
    cr_assert_not(qs_redis_ping(r)); /* down: NULL, not a hang or a crash */
    rs_start(&srv);
    cr_assert(qs_redis_ping(r)); /* the next call reconnects */

    /* a restart between two calls is invisible: the stale connection fails, one reconnect */
    rs_stop(&srv, SIGTERM);
    rs_start(&srv);
    cr_assert_eq(qs_redis_set(r, "k", "after", 0), QS_OK);
    bool found = false;
    char *v = qs_redis_get(r, "k", &found);
    cr_assert_str_eq(v, "after");
    free(v);
    qs_redis_free(r);
}

Test(redis, auth_and_database_selection) {
    qs_redis *admin = connect_url("redis://127.0.0.1:%d");
    redisReply *rep = qs_redis_cmd(admin, "CONFIG SET requirepass %s", "s3cr@t");
    cr_assert_eq(rep->type, REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    qs_redis_free(admin);

    qs_redis *noauth = connect_url("redis://127.0.0.1:%d");
    cr_assert_not(qs_redis_ping(noauth)); /* NOAUTH error reply */
    qs_redis_free(noauth);
    qs_redis *wrong = connect_url("redis://:nope@127.0.0.1:%d");
    cr_assert_not(qs_redis_ping(wrong));
    qs_redis_free(wrong);

    qs_redis *db3 = connect_url("redis://:s3cr%%40t@127.0.0.1:%d/3");
    cr_assert(qs_redis_ping(db3));
    cr_assert_eq(qs_redis_set(db3, "where", "three", 0), QS_OK);
    qs_redis *user3 = connect_url("redis://default:s3cr@t@127.0.0.1:%d/3");
    bool found = false;
    char *v = qs_redis_get(user3, "where", &found);
    cr_assert(found);
    cr_assert_str_eq(v, "three");
    free(v);
    qs_redis *db0 = connect_url("redis://:s3cr@t@127.0.0.1:%d");
    cr_assert_null(qs_redis_get(db0, "where", &found));
    cr_assert_not(found);
    cr_assert(qs_redis_ping(db0));
    qs_redis_free(db3);
    qs_redis_free(user3);
    qs_redis_free(db0);
}

Test(redis, unix_socket) {
    char url[200];
    snprintf(url, sizeof url, "unix://%s", srv.sock);
    qs_redis *r = qs_redis_new(url, NULL, 0);
    cr_assert_not_null(r);
    cr_assert(qs_redis_ping(r));
    cr_assert_eq(qs_redis_set(r, "via", "socket", 0), QS_OK);
    qs_redis_free(r);
}

typedef struct {
    qs_redis *r;
    int id;
} worker_arg;

static void *hammer(void *arg) {
    qs_redis *r = ((worker_arg *)arg)->r;
    int id = ((worker_arg *)arg)->id;
    char key[32], val[32];
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "k%d-%d", id, i);
        snprintf(val, sizeof val, "v%d", i);
        if (qs_redis_set(r, key, val, 0) != QS_OK)
            return (void *)1;
        char *got = qs_redis_get(r, key, NULL);
        bool ok = got && strcmp(got, val) == 0;
        free(got);
        if (!ok)
            return (void *)1;
    }
    return NULL;
}

Test(redis, shared_between_threads) {
    qs_redis *r = connect_url("redis://127.0.0.1:%d");
    pthread_t t[4];
    worker_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (worker_arg){r, i};
        pthread_create(&t[i], NULL, hammer, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        void *res = NULL;
        pthread_join(t[i], &res);
        cr_assert_null(res);
    }
    qs_redis_free(r);
}

/* ---- qs_redis_lock / qs_redis_unlock ---- */

Test(redis, lock_excludes_and_releases_only_its_own) {
    qs_redis *r = connect_url("redis://127.0.0.1:%d");
    char a[QS_REDIS_LOCK_TOKEN_LEN], b[QS_REDIS_LOCK_TOKEN_LEN];
    long waited = -1;
    cr_assert_eq(qs_redis_lock(r, "lk", 10000, 0, a, &waited), QS_OK);
    cr_assert_eq(strlen(a), QS_REDIS_LOCK_TOKEN_LEN - 1);
    cr_assert(waited >= 0);
    /* held: a second taker gives up after its wait, having waited about that long */
    cr_assert_eq(qs_redis_lock(r, "lk", 10000, 150, b, &waited), QS_ECONFLICT);
    cr_assert(waited >= 150 && waited < 2000, "waited %ld ms", waited);
    cr_assert_str_eq(b, "");
    /* the lock expires by itself */
    redisReply *rep = qs_redis_cmd(r, "PTTL lk");
    cr_assert(rep->integer > 8000 && rep->integer <= 10000, "pttl %lld", rep->integer);
    freeReplyObject(rep);
    /* a wrong token releases nothing; the right one does, once */
    cr_assert_eq(qs_redis_unlock(r, "lk", "not-the-token"), QS_ENOTFOUND);
    bool found = false;
    char *v = qs_redis_get(r, "lk", &found);
    cr_assert(found);
    cr_assert_str_eq(v, a);
    free(v);
    cr_assert_eq(qs_redis_unlock(r, "lk", a), QS_OK);
    cr_assert_eq(qs_redis_unlock(r, "lk", a), QS_ENOTFOUND);
    cr_assert_eq(qs_redis_lock(r, "lk", 10000, 0, b, NULL), QS_OK);
    cr_assert_str_neq(a, b);
    cr_assert_eq(qs_redis_unlock(r, "lk", b), QS_OK);
    cr_assert_eq(qs_redis_lock(r, "", 1000, 0, a, NULL), QS_EINVAL);
    cr_assert_eq(qs_redis_lock(r, "k", 0, 0, a, NULL), QS_EINVAL);
    qs_redis_free(r);
}

Test(redis, lock_expiry_lets_a_waiter_in_and_the_old_holder_cannot_delete_it) {
    qs_redis *r = connect_url("redis://127.0.0.1:%d");
    char a[QS_REDIS_LOCK_TOKEN_LEN], b[QS_REDIS_LOCK_TOKEN_LEN];
    cr_assert_eq(qs_redis_lock(r, "exp", 200, 0, a, NULL), QS_OK);
    long waited = 0;
    cr_assert_eq(qs_redis_lock(r, "exp", 5000, 3000, b, &waited), QS_OK); /* after expiry */
    cr_assert(waited >= 100 && waited < 3000, "waited %ld ms", waited);
    cr_assert_eq(qs_redis_unlock(r, "exp", a), QS_ENOTFOUND); /* stale holder: no effect */
    bool found = false;
    char *v = qs_redis_get(r, "exp", &found);
    cr_assert(found);
    cr_assert_str_eq(v, b);
    free(v);
    cr_assert_eq(qs_redis_unlock(r, "exp", b), QS_OK);
    qs_redis_free(r);
}

typedef struct {
    qs_redis *r;
    int *inside; /* holders at once, must never exceed 1 */
    int *max_inside;
    int rounds_ok;
} lock_arg;

static void *lock_worker(void *p) {
    lock_arg *a = p;
    for (int i = 0; i < 10; i++) {
        char tok[QS_REDIS_LOCK_TOKEN_LEN];
        if (qs_redis_lock(a->r, "shared", 5000, 5000, tok, NULL) != QS_OK)
            continue;
        int now = __atomic_add_fetch(a->inside, 1, __ATOMIC_SEQ_CST);
        int seen = __atomic_load_n(a->max_inside, __ATOMIC_SEQ_CST);
        while (now > seen && !__atomic_compare_exchange_n(a->max_inside, &seen, now, false,
                                                          __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            ;
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
        __atomic_sub_fetch(a->inside, 1, __ATOMIC_SEQ_CST);
        if (qs_redis_unlock(a->r, "shared", tok) == QS_OK)
            a->rounds_ok++;
    }
    return NULL;
}

Test(redis, lock_is_mutual_exclusion_across_connections) {
    int inside = 0, max_inside = 0;
    pthread_t t[4];
    lock_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (lock_arg){connect_url("redis://127.0.0.1:%d"), &inside, &max_inside, 0};
        pthread_create(&t[i], NULL, lock_worker, &args[i]);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        total += args[i].rounds_ok;
        qs_redis_free(args[i].r);
    }
    cr_assert_eq(max_inside, 1, "two holders at once");
    cr_assert_eq(total, 40, "every round took and released the lock (%d)", total);
}

Test(redis_url, lock_without_redis_is_unavailable) {
    qs_redis *r = qs_redis_new("redis://127.0.0.1:1", NULL, 0);
    char tok[QS_REDIS_LOCK_TOKEN_LEN];
    cr_assert_eq(qs_redis_lock(r, "k", 1000, 100, tok, NULL), QS_EUNAVAIL);
    cr_assert_eq(qs_redis_unlock(r, "k", "abc"), QS_EUNAVAIL);
    qs_redis_free(r);
}
