/* test_queue.c — the queue's semantics against a real redis-server (AOF on), which every test
 * starts on a free port in its own temp dir and stops in .fini, as test_redis.c does (the
 * server also dies with the test process via PR_SET_PDEATHSIG). Covered: FIFO order, dedupe
 * replacing a waiting task in place, a key enqueued while in progress running after it,
 * reclaim after the visibility timeout, attempts and the dead-letter stream, delayed retries,
 * counts and listings, retrying dead tasks, a Redis restart (SIGKILL) with AOF, four
 * consumers taking 200 tasks exactly once, events, and the envelope against its JSON Schema
 * (when python3 with jsonschema is installed). Timing-based tests use 1 s timeouts. */
#include <arpa/inet.h>
#include <criterion/criterion.h>

#include "redis_spawn.h"
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shared/common.h"
#include "shared/queue.h"
#include "shared/redis.h"

/* ---- a real server ---- */

static redis_proc srv;

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static qs_redis *connect_redis(void) {
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", srv.port);
    qs_redis *r = qs_redis_new(url, NULL, 0);
    cr_assert_not_null(r);
    return r;
}

/* Start Redis (AOF on) and wait until it answers PING, not just accepts connections. */
static void start_server(void) {
    rs_start(&srv);
    qs_redis *r = connect_redis();
    bool up = false;
    for (int i = 0; i < 500 && !(up = qs_redis_ping(r)); i++)
        sleep_ms(10);
    qs_redis_free(r);
    cr_assert(up, "redis-server did not answer on %d", srv.port);
}

static void setup(void) {
    rs_prepare(&srv, true, false);
    start_server();
}

static void teardown(void) { rs_cleanup(&srv); }

TestSuite(queue, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers ---- */

static qs_queue *open_q(qs_redis *r, const char *consumer, const qs_queue_opts *o) {
    qs_queue *q = qs_queue_open(r, "t:q", "workers", consumer, o);
    cr_assert_not_null(q);
    return q;
}

static qs_enqueue_result enq(qs_queue *q, const char *payload, const char *key) {
    qs_enqueue_result res = (qs_enqueue_result)-1;
    cr_assert_eq(qs_queue_enqueue(q, payload, key, &res), QS_OK, "enqueue %s", payload);
    return res;
}

/* Take with block_ms and assert which payload comes (NULL = nothing). */
static void expect_take(qs_queue *q, long block_ms, const char *payload, qs_task *t) {
    qs_task local;
    if (!t)
        t = &local;
    int rc = qs_queue_take(q, block_ms, t);
    if (!payload) {
        cr_assert_eq(rc, QS_ENOTFOUND, "expected nothing, got %s (rc %d)",
                     rc == QS_OK ? t->payload : "-", rc);
        return;
    }
    cr_assert_eq(rc, QS_OK, "expected %s, rc %d", payload, rc);
    cr_assert_str_eq(t->payload, payload);
    cr_assert_eq(t->state, QS_TASK_IN_PROGRESS);
    if (t == &local) {
        cr_assert_eq(qs_queue_ack(q, t->id), QS_OK);
        qs_task_clear(t);
    }
}

static qs_queue_counts counts(qs_queue *q) {
    qs_queue_counts c;
    cr_assert_eq(qs_queue_get_counts(q, &c), QS_OK);
    return c;
}

#define ASSERT_COUNTS(q, w, p, d, x)                                                               \
    do {                                                                                           \
        qs_queue_counts c_ = counts(q);                                                            \
        cr_assert(c_.waiting == (w) && c_.in_progress == (p) && c_.delayed == (d) &&               \
                      c_.dead == (x),                                                              \
                  "counts %lld/%lld/%lld/%lld, want %d/%d/%d/%d", c_.waiting, c_.in_progress,      \
                  c_.delayed, c_.dead, (w), (p), (d), (x));                                        \
    } while (0)

/* ---- order and dedupe ---- */

Test(queue, fifo_order) {
    qs_redis *r = connect_redis();
    qs_queue *q = open_q(r, "c1", NULL);
    cr_assert_eq(enq(q, "{\"n\":1}", "a"), QS_ENQUEUE_ADDED);
    cr_assert_eq(enq(q, "{\"n\":2}", NULL), QS_ENQUEUE_ADDED);
    cr_assert_eq(enq(q, "{\"n\":3}", "c"), QS_ENQUEUE_ADDED);
    cr_assert_eq(enq(q, "{\"n\":4}", ""), QS_ENQUEUE_ADDED);
    ASSERT_COUNTS(q, 4, 0, 0, 0);
    qs_task t;
    expect_take(q, 0, "{\"n\":1}", &t);
    cr_assert_str_eq(t.key, "a");
    cr_assert_eq(t.attempts, 1);
    cr_assert_str_eq(t.consumer, "c1");
    cr_assert(t.enqueued_at_ms > 1600000000000LL && t.taken_at_ms >= t.enqueued_at_ms);
    cr_assert_null(t.last_error);
    ASSERT_COUNTS(q, 3, 1, 0, 0);
    cr_assert_eq(qs_queue_ack(q, t.id), QS_OK);
    cr_assert_eq(qs_queue_ack(q, t.id), QS_ENOTFOUND); /* a second ack changes nothing */
    qs_task_clear(&t);
    expect_take(q, 0, "{\"n\":2}", NULL);
    expect_take(q, 0, "{\"n\":3}", NULL);
    expect_take(q, 0, "{\"n\":4}", NULL);
    expect_take(q, 0, NULL, NULL);
    ASSERT_COUNTS(q, 0, 0, 0, 0);
    redisReply *rep = qs_redis_cmd(r, "XLEN t:q"); /* acked entries are deleted */
    cr_assert_eq(rep->integer, 0);
    freeReplyObject(rep);
    qs_queue_free(q);
    qs_redis_free(r);
}

Test(queue, dedupe_replaces_waiting_task_in_place) {
    qs_redis *r = connect_redis();
    qs_queue *q = open_q(r, "c1", NULL);
    cr_assert_eq(enq(q, "\"dst1 v1\"", "dst1"), QS_ENQUEUE_ADDED);
    cr_assert_eq(enq(q, "\"dst2 v1\"", "dst2"), QS_ENQUEUE_ADDED);
    sleep_ms(5);
    cr_assert_eq(enq(q, "\"dst1 v2\"", "dst1"), QS_ENQUEUE_REPLACED);
    cr_assert_eq(enq(q, "\"dst1 v3\"", "dst1"), QS_ENQUEUE_REPLACED);
    cr_assert_eq(enq(q, "\"dst3 v1\"", "dst3"), QS_ENQUEUE_ADDED);
    ASSERT_COUNTS(q, 3, 0, 0, 0);
    qs_task t;
    expect_take(q, 0, "\"dst1 v3\"", &t); /* first place, newest payload */
    cr_assert(t.updated_at_ms > t.enqueued_at_ms, "%lld %lld", t.updated_at_ms, t.enqueued_at_ms);
    cr_assert_eq(qs_queue_ack(q, t.id), QS_OK);
    qs_task_clear(&t);
    expect_take(q, 0, "\"dst2 v1\"", NULL);
    expect_take(q, 0, "\"dst3 v1\"", NULL);
    expect_take(q, 0, NULL, NULL);
    cr_assert_eq(qs_queue_enqueue(q, "not json", "k", NULL), QS_EINVAL);
    qs_queue_free(q);
    qs_redis_free(r);
}

Test(queue, same_key_in_progress_runs_after) {
    qs_redis *r = connect_redis();
    qs_queue *q = open_q(r, "c1", NULL);
    qs_queue *q2 = open_q(r, "c2", NULL);
    enq(q, "\"k v1\"", "k");
    qs_task t1;
    expect_take(q, 0, "\"k v1\"", &t1);
    cr_assert_eq(enq(q, "\"k v2\"", "k"), QS_ENQUEUE_AFTER); /* not a replacement */
    cr_assert_eq(enq(q, "\"other\"", "o"), QS_ENQUEUE_ADDED);
    ASSERT_COUNTS(q, 2, 1, 0, 0);
    /* Another consumer gets the other key, never k while k v1 runs. */
    expect_take(q2, 0, "\"other\"", NULL);
    expect_take(q2, 0, NULL, NULL);
    /* While it waits, a newer k replaces the waiting one. */
    cr_assert_eq(enq(q, "\"k v3\"", "k"), QS_ENQUEUE_REPLACED);
    qs_task *w = NULL;
    size_t n = 0;
    cr_assert_eq(qs_queue_list(q, QS_TASK_WAITING, 10, &w, &n), QS_OK);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(w[0].payload, "\"k v3\"");
    qs_tasks_free(w, n);
    cr_assert_eq(qs_queue_ack(q, t1.id), QS_OK);
    qs_task_clear(&t1);
    qs_task t3;
    expect_take(q2, 0, "\"k v3\"", &t3);
    cr_assert_eq(t3.attempts, 1);
    /* Failing a task whose key has a newer one waiting drops it: the newer one supersedes. */
    cr_assert_eq(enq(q, "\"k v4\"", "k"), QS_ENQUEUE_AFTER);
    qs_fail_result fr;
    cr_assert_eq(qs_queue_fail(q2, t3.id, "boom", false, &fr), QS_OK);
    cr_assert_eq(fr, QS_FAIL_SUPERSEDED);
    qs_task_clear(&t3);
    expect_take(q, 0, "\"k v4\"", NULL);
    ASSERT_COUNTS(q, 0, 0, 0, 0);
    qs_queue_free(q);
    qs_queue_free(q2);
    qs_redis_free(r);
}

/* ---- reclaim, attempts, dead letters, retries ---- */

Test(queue, reclaim_after_visibility_timeout) {
    qs_queue_opts o = QS_QUEUE_OPTS_INIT;
    o.visibility_ms = 1000;
    qs_redis *r1 = connect_redis(), *r2 = connect_redis();
    qs_queue *q1 = open_q(r1, "c1", &o), *q2 = open_q(r2, "c2", &o);
    enq(q1, "\"job\"", "job");
    qs_task t1, t2;
    expect_take(q1, 0, "\"job\"", &t1);
    expect_take(q2, 0, NULL, NULL); /* still within its visibility timeout */
    long long t0 = now_ms();
    expect_take(q2, 3000, "\"job\"", &t2); /* c1 "died": c2 gets it after ~1 s */
    long long waited = now_ms() - t0;
    cr_assert(waited >= 700 && waited < 2500, "waited %lld ms", waited);
    cr_assert_str_eq(t2.id, t1.id);
    cr_assert_eq(t2.attempts, 2);
    cr_assert_str_eq(t2.consumer, "c2");
    cr_assert_eq(qs_queue_ack(q1, t1.id), QS_ECONFLICT); /* c1's late ack does not count */
    cr_assert_eq(qs_queue_extend(q1, t1.id), QS_ECONFLICT);
    cr_assert_eq(qs_queue_ack(q2, t2.id), QS_OK);
    qs_task_clear(&t1);
    qs_task_clear(&t2);

    /* extend keeps a long task from being reclaimed */
    enq(q1, "\"long\"", NULL);
    expect_take(q1, 0, "\"long\"", &t1);
    for (int i = 0; i < 4; i++) {
        sleep_ms(400);
        cr_assert_eq(qs_queue_extend(q1, t1.id), QS_OK);
        expect_take(q2, 0, NULL, NULL);
    }
    cr_assert_eq(qs_queue_ack(q1, t1.id), QS_OK);
    qs_task_clear(&t1);
    ASSERT_COUNTS(q1, 0, 0, 0, 0);
    qs_queue_free(q1);
    qs_queue_free(q2);
    qs_redis_free(r1);
    qs_redis_free(r2);
}

Test(queue, attempts_then_dead_letter) {
    qs_queue_opts o = QS_QUEUE_OPTS_INIT;
    o.max_attempts = 3;
    o.backoff_base_ms = 0; /* retries are due at once */
    o.backoff_max_ms = 0;
    qs_redis *r = connect_redis();
    qs_queue *q = open_q(r, "c1", &o);
    enq(q, "{\"img\":\"a\"}", "a");
    for (int i = 1; i <= 3; i++) {
        qs_task t;
        expect_take(q, 1000, "{\"img\":\"a\"}", &t);
        cr_assert_eq(t.attempts, i);
        if (i > 1)
            cr_assert_str_eq(t.last_error, i == 2 ? "boom 1" : "boom 2");
        char msg[32];
        snprintf(msg, sizeof msg, "boom %d", i);
        qs_fail_result fr;
        cr_assert_eq(qs_queue_fail(q, t.id, msg, false, &fr), QS_OK);
        cr_assert_eq(fr, i < 3 ? QS_FAIL_RETRY : QS_FAIL_DEAD, "attempt %d", i);
        cr_assert_eq(qs_queue_fail(q, t.id, msg, false, &fr), QS_ENOTFOUND);
        qs_task_clear(&t);
    }
    expect_take(q, 0, NULL, NULL);
    ASSERT_COUNTS(q, 0, 0, 0, 1);
    qs_task *d = NULL;
    size_t n = 0;
    cr_assert_eq(qs_queue_list(q, QS_TASK_DEAD, 10, &d, &n), QS_OK);
    cr_assert_eq(n, 1);
    cr_assert_eq(d[0].state, QS_TASK_DEAD);
    cr_assert_eq(d[0].attempts, 3);
    cr_assert_str_eq(d[0].last_error, "boom 3");
    cr_assert_str_eq(d[0].payload, "{\"img\":\"a\"}");
    cr_assert_str_eq(d[0].key, "a");
    cr_assert(d[0].failed_at_ms > 0);
    qs_tasks_free(d, n);
    redisReply *rep = qs_redis_cmd(r, "XLEN t:q:dead"); /* a real stream, for other tools */
    cr_assert_eq(rep->integer, 1);
    freeReplyObject(rep);

    /* permanent: dead at once, whatever the attempts left */
    enq(q, "\"schema1\"", "b");
    qs_task t;
    expect_take(q, 0, "\"schema1\"", &t);
    qs_fail_result fr;
    cr_assert_eq(qs_queue_fail(q, t.id, "schema1 refused", true, &fr), QS_OK);
    cr_assert_eq(fr, QS_FAIL_DEAD);
    qs_task_clear(&t);
    ASSERT_COUNTS(q, 0, 0, 0, 2);
    qs_queue_free(q);
    qs_redis_free(r);
}

Test(queue, reclaim_of_last_attempt_dead_letters) {
    qs_queue_opts o = QS_QUEUE_OPTS_INIT;
    o.visibility_ms = 1000;
    o.max_attempts = 1;
    qs_redis *r = connect_redis();
    qs_queue *q1 = open_q(r, "c1", &o), *q2 = open_q(r, "c2", &o);
    enq(q1, "\"crashes its worker\"", "x");
    qs_task t;
    expect_take(q1, 0, "\"crashes its worker\"", &t);
    cr_assert_eq(enq(q1, "\"x again\"", "x"), QS_ENQUEUE_AFTER); /* parked behind it */
    qs_task_clear(&t);
    sleep_ms(1100);
    /* not delivered again: the dead-letter frees the key and its successor runs */
    expect_take(q2, 0, "\"x again\"", NULL);
    ASSERT_COUNTS(q2, 0, 0, 0, 1);
    qs_task *d = NULL;
    size_t n = 0;
    cr_assert_eq(qs_queue_list(q2, QS_TASK_DEAD, 10, &d, &n), QS_OK);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(d[0].last_error, "not acknowledged within the visibility timeout");
    qs_tasks_free(d, n);
    qs_queue_free(q1);
    qs_queue_free(q2);
    qs_redis_free(r);
}

Test(queue, delayed_retry_promoted_when_due) {
    qs_queue_opts o = QS_QUEUE_OPTS_INIT;
    o.backoff_base_ms = 1000;
    o.backoff_max_ms = 1000;
    qs_redis *r = connect_redis();
    qs_queue *q = open_q(r, "c1", &o);
    enq(q, "\"flaky\"", "f");
    qs_task t;
    expect_take(q, 0, "\"flaky\"", &t);
    qs_fail_result fr;
    cr_assert_eq(qs_queue_fail(q, t.id, "503 from registry", false, &fr), QS_OK);
    cr_assert_eq(fr, QS_FAIL_RETRY);
    qs_task_clear(&t);
    ASSERT_COUNTS(q, 0, 0, 1, 0);
    qs_task *d = NULL;
    size_t n = 0;
    cr_assert_eq(qs_queue_list(q, QS_TASK_DELAYED, 10, &d, &n), QS_OK);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(d[0].last_error, "503 from registry");
    cr_assert(d[0].due_at_ms > d[0].enqueued_at_ms + 900);
    qs_tasks_free(d, n);
    expect_take(q, 300, NULL, NULL); /* not before its due time */
    /* a newer payload for a delayed key replaces it and keeps the schedule */
    cr_assert_eq(enq(q, "\"flaky v2\"", "f"), QS_ENQUEUE_REPLACED);
    long long t0 = now_ms();
    expect_take(q, 3000, "\"flaky v2\"", &t);
    long long waited = now_ms() - t0;
    cr_assert(waited >= 500 && waited < 1500, "waited %lld ms", waited);
    cr_assert_eq(t.attempts, 2);
    cr_assert_str_eq(t.last_error, "503 from registry");
    cr_assert_eq(qs_queue_ack(q, t.id), QS_OK);
    qs_task_clear(&t);
    ASSERT_COUNTS(q, 0, 0, 0, 0);
    qs_queue_free(q);
    qs_redis_free(r);
}

Test(queue, backoff_grows_and_is_capped) {
    qs_queue_opts o = QS_QUEUE_OPTS_INIT;
    o.backoff_base_ms = 10000;
    o.backoff_max_ms = 25000;
    o.max_attempts = 10;
    qs_redis *r = connect_redis();
    qs_queue *q = open_q(r, "c1", &o);
    enq(q, "1", "k");
    long long expect[] = {10000, 20000, 25000};
    for (int i = 0; i < 3; i++) {
        qs_task t;
        expect_take(q, 0, "1", &t);
        cr_assert_eq(qs_queue_fail(q, t.id, "e", false, NULL), QS_OK);
        qs_task_clear(&t);
        qs_task *d = NULL;
        size_t n = 0;
        cr_assert_eq(qs_queue_list(q, QS_TASK_DELAYED, 1, &d, &n), QS_OK);
        cr_assert_eq(n, 1);
        redisReply *rep = qs_redis_cmd(r, "TIME");
        long long now = atoll(rep->element[0]->str) * 1000 + atoll(rep->element[1]->str) / 1000;
        freeReplyObject(rep);
        long long delay = d[0].due_at_ms - now;
        cr_assert(delay > expect[i] - 1000 && delay <= expect[i], "retry %d: %lld", i, delay);
        qs_tasks_free(d, n);
        /* make it due now */
        rep = qs_redis_cmd(r, "ZADD t:q:delayed 0 %lld", (long long)1);
        freeReplyObject(rep);
    }
    qs_queue_free(q);
    qs_redis_free(r);
}

Test(queue, counts_and_listing) {
    qs_queue_opts o = QS_QUEUE_OPTS_INIT;
    o.max_attempts = 1;
    qs_redis *r = connect_redis();
    qs_queue *q = open_q(r, "lister", &o);
    for (int i = 0; i < 6; i++) {
        char p[16], k[16];
        snprintf(p, sizeof p, "%d", i);
        snprintf(k, sizeof k, "k%d", i);
        enq(q, p, k);
    }
    qs_task a, b;
    expect_take(q, 0, "0", &a);
    expect_take(q, 0, "1", &b);
    cr_assert_eq(qs_queue_fail(q, b.id, "gone", false, NULL), QS_OK); /* dead */
    qs_task_clear(&b);
    expect_take(q, 0, "2", &b); /* stays in progress */
    ASSERT_COUNTS(q, 3, 2, 0, 1);

    qs_task *l = NULL;
    size_t n = 0;
    cr_assert_eq(qs_queue_list(q, QS_TASK_WAITING, 2, &l, &n), QS_OK);
    cr_assert_eq(n, 2); /* the limit */
    cr_assert_str_eq(l[0].payload, "3");
    cr_assert_str_eq(l[1].payload, "4");
    cr_assert_eq(l[0].state, QS_TASK_WAITING);
    cr_assert_eq(l[0].attempts, 0);
    qs_tasks_free(l, n);
    cr_assert_eq(qs_queue_list(q, QS_TASK_IN_PROGRESS, 10, &l, &n), QS_OK);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(l[0].payload, "0");
    cr_assert_str_eq(l[1].payload, "2");
    cr_assert_str_eq(l[1].id, b.id);
    cr_assert_str_eq(l[1].consumer, "lister");
    cr_assert_eq(l[1].attempts, 1);
    cr_assert(l[1].taken_at_ms > 0);
    qs_tasks_free(l, n);
    cr_assert_eq(qs_queue_list(q, QS_TASK_DEAD, 10, &l, &n), QS_OK);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(l[0].payload, "1");
    qs_tasks_free(l, n);
    cr_assert_eq(qs_queue_list(q, QS_TASK_DELAYED, 10, &l, &n), QS_OK);
    cr_assert_eq(n, 0);
    cr_assert_eq(qs_queue_list(q, QS_TASK_WAITING, 0, &l, &n), QS_OK);
    cr_assert_eq(n, 0);
    cr_assert_eq(qs_queue_list(q, (qs_task_state)9, 1, &l, &n), QS_EINVAL);
    qs_task_clear(&a);
    qs_task_clear(&b);
    qs_queue_free(q);
    qs_redis_free(r);
}

Test(queue, retry_dead_tasks) {
    qs_queue_opts o = QS_QUEUE_OPTS_INIT;
    o.max_attempts = 2;
    qs_redis *r = connect_redis();
    qs_queue *q = open_q(r, "c1", &o);
    const char *names[] = {"\"a\"", "\"b\"", "\"c\"", "\"d\""};
    for (int i = 0; i < 4; i++) {
        char key[4] = {(char)('a' + i), 0};
        enq(q, names[i], key);
        qs_task t;
        expect_take(q, 0, names[i], &t);
        cr_assert_eq(qs_queue_fail(q, t.id, "bad", true, NULL), QS_OK);
        qs_task_clear(&t);
    }
    ASSERT_COUNTS(q, 0, 0, 0, 4);
    qs_task *d = NULL;
    size_t n = 0;
    cr_assert_eq(qs_queue_list(q, QS_TASK_DEAD, 10, &d, &n), QS_OK);
    cr_assert_eq(n, 4);
    size_t moved = 9;
    cr_assert_eq(qs_queue_retry_dead(q, d[1].id, &moved), QS_OK);
    cr_assert_eq(moved, 1);
    cr_assert_eq(qs_queue_retry_dead(q, d[1].id, &moved), QS_ENOTFOUND); /* gone from dead */
    cr_assert_eq(qs_queue_retry_dead(q, "1-1", &moved), QS_ENOTFOUND);
    cr_assert_eq(qs_queue_retry_dead(q, "bogus", &moved), QS_ENOTFOUND);
    qs_tasks_free(d, n);
    ASSERT_COUNTS(q, 1, 0, 0, 3);
    qs_task t;
    expect_take(q, 0, "\"b\"", &t);
    cr_assert_eq(t.attempts, 1); /* reset */
    cr_assert_str_eq(t.last_error, "bad");
    cr_assert_eq(qs_queue_ack(q, t.id), QS_OK);
    qs_task_clear(&t);
    /* a dead task whose key has a newer task waiting is dropped, not requeued */
    enq(q, "\"c newer\"", "c");
    cr_assert_eq(qs_queue_retry_dead(q, NULL, &moved), QS_OK);
    cr_assert_eq(moved, 2);
    ASSERT_COUNTS(q, 3, 0, 0, 0);
    expect_take(q, 0, "\"c newer\"", NULL);
    expect_take(q, 0, "\"a\"", NULL);
    expect_take(q, 0, "\"d\"", NULL);
    expect_take(q, 0, NULL, NULL);
    qs_queue_free(q);
    qs_redis_free(r);
}

/* ---- durability and concurrency ---- */

Test(queue, survives_redis_restart_with_aof) {
    qs_queue_opts o = QS_QUEUE_OPTS_INIT;
    o.visibility_ms = 1000;
    o.backoff_base_ms = 1000;
    qs_redis *r = connect_redis();
    qs_queue *q = open_q(r, "c1", &o);
    enq(q, "\"one\"", "1");
    enq(q, "\"two\"", "2");
    enq(q, "\"three\"", "3");
    enq(q, "\"four\"", "4");
    qs_task t1, t2;
    expect_take(q, 0, "\"one\"", &t1); /* in progress when Redis dies */
    expect_take(q, 0, "\"two\"", &t2);
    cr_assert_eq(qs_queue_fail(q, t2.id, "later", false, NULL), QS_OK); /* delayed */
    cr_assert_eq(enq(q, "\"three v2\"", "3"), QS_ENQUEUE_REPLACED);
    ASSERT_COUNTS(q, 2, 1, 1, 0);
    rs_stop(&srv, SIGKILL); /* no shutdown save: only the AOF */
    start_server();
    ASSERT_COUNTS(q, 2, 1, 1, 0);
    expect_take(q, 0, "\"three v2\"", NULL);
    expect_take(q, 0, "\"four\"", NULL);
    /* "one" is reclaimed (its consumer is gone) and "two" retried when due, both after ~1 s */
    bool got_one = false, got_two = false;
    for (int i = 0; i < 2; i++) {
        qs_task t;
        cr_assert_eq(qs_queue_take(q, 3000, &t), QS_OK);
        cr_assert_eq(t.attempts, 2);
        got_one |= strcmp(t.payload, "\"one\"") == 0;
        got_two |= strcmp(t.payload, "\"two\"") == 0;
        cr_assert_eq(qs_queue_ack(q, t.id), QS_OK);
        qs_task_clear(&t);
    }
    cr_assert(got_one && got_two);
    ASSERT_COUNTS(q, 0, 0, 0, 0);
    qs_task_clear(&t1);
    qs_task_clear(&t2);
    qs_queue_free(q);
    qs_redis_free(r);
}

#define NTASKS 200
#define NWORKERS 4

static atomic_int taken[NTASKS];
static atomic_int in_flight[NTASKS];

static void *worker(void *arg) {
    int id = (int)(long)arg, done = 0;
    char name[16];
    snprintf(name, sizeof name, "w%d", id);
    qs_redis *r = connect_redis();
    qs_queue *q = qs_queue_open(r, "t:q", "workers", name, NULL);
    long bad = 0;
    for (;;) {
        qs_task t;
        int rc = qs_queue_take(q, 300, &t);
        if (rc == QS_ENOTFOUND)
            break;
        if (rc != QS_OK) {
            bad++;
            break;
        }
        int n = atoi(t.payload);
        if (n < 0 || n >= NTASKS || atomic_fetch_add(&in_flight[n], 1) != 0)
            bad++;
        atomic_fetch_add(&taken[n], 1);
        if (done++ % 7 == 0)
            sleep_ms(1);
        atomic_fetch_sub(&in_flight[n], 1);
        if (qs_queue_ack(q, t.id) != QS_OK)
            bad++;
        qs_task_clear(&t);
    }
    qs_queue_free(q);
    qs_redis_free(r);
    return (void *)bad;
}

Test(queue, consumers_take_each_task_exactly_once) {
    qs_redis *r = connect_redis();
    qs_queue *q = open_q(r, "producer", NULL);
    for (int i = 0; i < NTASKS; i++) {
        char p[16], k[16];
        snprintf(p, sizeof p, "%d", i);
        snprintf(k, sizeof k, "key%d", i);
        cr_assert_eq(qs_queue_enqueue(q, p, i < 150 ? k : NULL, NULL), QS_OK);
    }
    pthread_t th[NWORKERS];
    for (long i = 0; i < NWORKERS; i++)
        pthread_create(&th[i], NULL, worker, (void *)i);
    for (int i = 0; i < NWORKERS; i++) {
        void *bad = NULL;
        pthread_join(th[i], &bad);
        cr_assert_null(bad, "worker %d saw %ld problems", i, (long)bad);
    }
    for (int i = 0; i < NTASKS; i++)
        cr_assert_eq(atomic_load(&taken[i]), 1, "task %d taken %d times", i,
                     atomic_load(&taken[i]));
    ASSERT_COUNTS(q, 0, 0, 0, 0);
    qs_queue_free(q);
    qs_redis_free(r);
}

typedef struct {
    qs_redis *r;
    long delay_ms;
} late_arg;

static void *late_enqueue(void *arg) {
    late_arg *a = arg;
    sleep_ms(a->delay_ms);
    qs_queue *q = qs_queue_open(a->r, "t:q", "workers", "late", NULL);
    int rc = qs_queue_enqueue(q, "\"late\"", NULL, NULL);
    qs_queue_free(q);
    return (void *)(long)rc;
}

Test(queue, blocking_take_wakes_on_enqueue) {
    qs_redis *r = connect_redis(), *r2 = connect_redis();
    qs_queue *q = open_q(r, "c1", NULL);
    late_arg a = {r2, 300};
    pthread_t th;
    pthread_create(&th, NULL, late_enqueue, &a);
    long long t0 = now_ms();
    expect_take(q, 5000, "\"late\"", NULL);
    long long waited = now_ms() - t0;
    void *rc = NULL;
    pthread_join(th, &rc);
    cr_assert_null(rc);
    cr_assert(waited >= 250 && waited < 950, "waited %lld ms", waited);
    t0 = now_ms();
    expect_take(q, 1200, NULL, NULL);
    waited = now_ms() - t0;
    cr_assert(waited >= 1150 && waited < 2000, "empty take waited %lld ms", waited);
    qs_queue_free(q);
    qs_redis_free(r);
    qs_redis_free(r2);
}

/* ---- arguments and outages ---- */

Test(queue, bad_arguments) {
    qs_redis *r = connect_redis();
    qs_queue_opts o = QS_QUEUE_OPTS_INIT;
    cr_assert_null(qs_queue_open(r, "", "g", NULL, NULL));
    cr_assert_null(qs_queue_open(r, "n", NULL, NULL, NULL));
    cr_assert_null(qs_queue_open(NULL, "n", "g", NULL, NULL));
    o.max_attempts = 0;
    cr_assert_null(qs_queue_open(r, "n", "g", NULL, &o));
    qs_queue *q = qs_queue_open(r, "t:q", "workers", NULL, NULL);
    cr_assert_not_null(q);
    cr_assert(strlen(qs_queue_consumer(q)) > 3); /* <host>-<pid>-<n> */
    cr_assert_eq(qs_queue_ack(q, "12-x"), QS_ENOTFOUND);
    cr_assert_eq(qs_queue_ack(q, "12-0"), QS_ENOTFOUND);
    cr_assert_eq(qs_queue_ack(q, NULL), QS_EINVAL);
    cr_assert_eq(qs_queue_fail(q, "-", "e", false, NULL), QS_ENOTFOUND);
    cr_assert_eq(qs_queue_extend(q, "1-"), QS_ENOTFOUND);
    qs_task t;
    cr_assert_eq(qs_queue_take(q, -1, &t), QS_EINVAL);
    qs_queue_free(q);
    qs_redis_free(r);
}

Test(queue, redis_down_is_unavailable) {
    qs_redis *r = qs_redis_new("redis://127.0.0.1:1", NULL, 0);
    qs_queue *q = qs_queue_open(r, "t:q", "workers", "c", NULL);
    cr_assert_not_null(q); /* Redis may come up later */
    qs_task t;
    cr_assert_eq(qs_queue_enqueue(q, "1", "k", NULL), QS_EUNAVAIL);
    cr_assert_eq(qs_queue_take(q, 100, &t), QS_EUNAVAIL);
    cr_assert_eq(qs_queue_ack(q, "1-0"), QS_EUNAVAIL);
    qs_queue_counts c;
    cr_assert_eq(qs_queue_get_counts(q, &c), QS_EUNAVAIL);
    qs_queue_free(q);
    qs_redis_free(r);
}

Test(queue, group_recreated_after_stream_deleted) {
    qs_redis *r = connect_redis();
    qs_queue *q = open_q(r, "c1", NULL);
    redisReply *rep = qs_redis_cmd(r, "FLUSHALL");
    freeReplyObject(rep);
    enq(q, "\"after flush\"", "k");
    expect_take(q, 0, "\"after flush\"", NULL);
    ASSERT_COUNTS(q, 0, 0, 0, 0);
    qs_queue_free(q);
    qs_redis_free(r);
}

/* ---- the envelope and its schema ---- */

Test(queue, envelope_matches_schema) {
    if (system("python3 -c 'import jsonschema' >/dev/null 2>&1") != 0)
        cr_skip_test("python3 with jsonschema is not installed");
    qs_queue_opts o = QS_QUEUE_OPTS_INIT;
    o.max_attempts = 1;
    qs_redis *r = connect_redis();
    qs_queue *q = open_q(r, "c1", &o);
    enq(q, "{\"source\":\"a\",\"destination\":\"b\"}", "b");
    enq(q, "[1,2]", NULL);
    enq(q, "\"dies\"", "d");
    qs_task t;
    expect_take(q, 0, "{\"source\":\"a\",\"destination\":\"b\"}", &t);
    qs_task d;
    expect_take(q, 0, "[1,2]", &d);
    cr_assert_eq(qs_queue_fail(q, d.id, "x", false, NULL), QS_OK);
    qs_task_clear(&d);
    char path[128];
    snprintf(path, sizeof path, "%s/envelopes.json", srv.dir);
    json_t *all = json_array();
    for (int s = QS_TASK_WAITING; s <= QS_TASK_DEAD; s++) {
        qs_task *l = NULL;
        size_t n = 0;
        cr_assert_eq(qs_queue_list(q, (qs_task_state)s, 10, &l, &n), QS_OK);
        for (size_t i = 0; i < n; i++)
            json_array_append_new(all, qs_task_to_json(&l[i]));
        qs_tasks_free(l, n);
    }
    json_array_append_new(all, qs_task_to_json(&t));
    cr_assert_eq(json_array_size(all), 4);
    cr_assert_eq(json_dump_file(all, path, 0), 0);
    json_decref(all);
    /* the schema, from the directories above the binary (<root>/build/<variant>/tests), else
     * from the working directory */
    char schema[600] = "proto/queue-task.schema.json", self[512], cmd[1400];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    cr_assert(len > 0);
    self[len] = '\0';
    for (char *slash; (slash = strrchr(self, '/')) != NULL;) {
        *slash = '\0';
        char try[600];
        snprintf(try, sizeof try, "%s/proto/queue-task.schema.json", self);
        if (access(try, R_OK) == 0) {
            snprintf(schema, sizeof schema, "%s", try);
            break;
        }
    }
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import json,sys,jsonschema; s=json.load(open(sys.argv[1])); "
             "jsonschema.Draft202012Validator.check_schema(s); "
             "[jsonschema.validate(e, s) for e in json.load(open(sys.argv[2]))]' "
             "'%s' '%s'",
             schema, path);
    cr_assert_eq(system(cmd), 0, "envelopes do not match proto/queue-task.schema.json");
    qs_task_clear(&t);
    qs_queue_free(q);
    qs_redis_free(r);
}

/* ---- events ---- */

Test(queue, events_publish_and_read) {
    qs_redis *r = connect_redis();
    for (int i = 0; i < 3; i++) {
        json_t *data = json_pack("{s:s, s:i}", "repository", "org/repo", "n", i);
        char *id = NULL;
        cr_assert_eq(qs_events_publish(r, "t:events", "repository.created", data, &id), QS_OK);
        cr_assert_not_null(id);
        free(id);
        json_decref(data);
    }
    cr_assert_eq(qs_events_publish(r, "t:events", "manifests.pushed", NULL, NULL), QS_OK);
    cr_assert_eq(qs_events_publish(r, "t:events", "", NULL, NULL), QS_EINVAL);
    qs_event ev[8];
    size_t n = 0;
    /* each group sees every event, in order */
    const char *groups[] = {"org-mirror", "audit"};
    for (int g = 0; g < 2; g++) {
        cr_assert_eq(qs_events_read(r, "t:events", groups[g], "a", 0, ev, 8, &n), QS_OK);
        cr_assert_eq(n, 4);
        for (int i = 0; i < 3; i++) {
            cr_assert_str_eq(ev[i].type, "repository.created");
            cr_assert_eq(json_integer_value(json_object_get(ev[i].data, "n")), i);
            cr_assert(ev[i].ts_ms > 0);
        }
        cr_assert_str_eq(ev[3].type, "manifests.pushed");
        cr_assert(json_is_null(ev[3].data));
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(qs_events_ack(r, "t:events", groups[g], ev[i].id), QS_OK);
        qs_events_free(ev, n);
    }
    /* consumers of one group share the work: nothing left for another */
    cr_assert_eq(qs_events_read(r, "t:events", "org-mirror", "b", 0, ev, 8, &n), QS_OK);
    cr_assert_eq(n, 0);

    /* an event read and not acked comes back to another consumer after 60 s idle */
    cr_assert_eq(qs_events_publish(r, "t:events", "repository.created", NULL, NULL), QS_OK);
    cr_assert_eq(qs_events_read(r, "t:events", "org-mirror", "a", 0, ev, 1, &n), QS_OK);
    cr_assert_eq(n, 1);
    char id[64];
    snprintf(id, sizeof id, "%s", ev[0].id);
    qs_events_free(ev, n);
    cr_assert_eq(qs_events_read(r, "t:events", "org-mirror", "b", 0, ev, 8, &n), QS_OK);
    cr_assert_eq(n, 0);
    redisReply *rep =
        qs_redis_cmd(r, "XCLAIM t:events org-mirror a 0 %s IDLE 61000 JUSTID", id); /* age it */
    freeReplyObject(rep);
    cr_assert_eq(qs_events_read(r, "t:events", "org-mirror", "b", 0, ev, 8, &n), QS_OK);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(ev[0].id, id);
    cr_assert_eq(qs_events_ack(r, "t:events", "org-mirror", id), QS_OK);
    cr_assert_eq(qs_events_ack(r, "t:events", "org-mirror", id), QS_ENOTFOUND);
    qs_events_free(ev, n);
    qs_redis_free(r);
}

static void *late_publish(void *arg) {
    late_arg *a = arg;
    sleep_ms(a->delay_ms);
    return (void *)(long)qs_events_publish(a->r, "t:events", "late", NULL, NULL);
}

Test(queue, events_blocking_read_and_trim) {
    qs_redis *r = connect_redis(), *r2 = connect_redis();
    qs_event ev[2];
    size_t n = 9;
    cr_assert_eq(qs_events_read(r, "t:events", "g", "a", 0, ev, 2, &n), QS_OK); /* creates */
    cr_assert_eq(n, 0);
    late_arg a = {r2, 300};
    pthread_t th;
    pthread_create(&th, NULL, late_publish, &a);
    long long t0 = now_ms();
    cr_assert_eq(qs_events_read(r, "t:events", "g", "a", 3000, ev, 2, &n), QS_OK);
    long long waited = now_ms() - t0;
    void *rc = NULL;
    pthread_join(th, &rc);
    cr_assert_null(rc);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(ev[0].type, "late");
    cr_assert(waited >= 250 && waited < 1500, "waited %lld", waited);
    qs_events_free(ev, n);
    /* MAXLEN ~ keeps the stream near QS_EVENTS_MAXLEN */
    for (int i = 0; i < QS_EVENTS_MAXLEN + 500; i++)
        cr_assert_eq(qs_events_publish(r, "t:events", "bulk", NULL, NULL), QS_OK);
    redisReply *rep = qs_redis_cmd(r, "XLEN t:events");
    cr_assert(rep->integer >= QS_EVENTS_MAXLEN && rep->integer < QS_EVENTS_MAXLEN + 200, "%lld",
              rep->integer);
    freeReplyObject(rep);
    qs_redis_free(r);
    qs_redis_free(r2);
}
