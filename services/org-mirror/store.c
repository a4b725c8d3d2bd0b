/* store.c — org-mirror's state in Redis, one small set of keys per organisation:
 *
 *   org-mirror:org:<org>:gen       INCR'd at the start of every run: the run's generation
 *   org-mirror:org:<org>:results   hash repository → its latest result (JSON, with the
 *                                  generation current when its task started)
 *   org-mirror:org:<org>:finished  counter bumped with every result (cheap progress polling)
 *   org-mirror:org:<org>:status    the organisation's status (JSON: counts, last run, error)
 *   org-mirror:org:<org>:lock      held by the process coordinating a run (SET NX PX + token)
 *   org-mirror:org:<org>:account   fingerprint of the source account the mirror configs were
 *                                  last all written with (an HMAC keyed with the destination
 *                                  token: nothing a reader of Redis could test passwords on)
 *
 * Everything a replica serves (GET /api/v1/orgs, the plan) comes from here, so any replica
 * answers for runs coordinated by another one. The lock's release and extension compare the
 * token in a Lua script, so a holder whose lock expired never touches its successor's. */
#include "org-mirror/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/common.h"
#include "shared/digest.h"

/* "org-mirror:org:<org>:<what>" into k (KEY_LEN bytes). */
#define KEY_LEN 300
static void key(char *k, const char *org, const char *what) {
    snprintf(k, KEY_LEN, "org-mirror:org:%s:%s", org, what);
}

static long long int_reply(redisReply *rep) {
    long long v = QS_EUNAVAIL;
    if (rep && rep->type == REDIS_REPLY_INTEGER)
        v = rep->integer;
    else if (rep && rep->type == REDIS_REPLY_STRING)
        v = strtoll(rep->str, NULL, 10);
    else if (rep && rep->type == REDIS_REPLY_NIL)
        v = 0;
    else if (rep)
        v = QS_EPROTO;
    if (rep)
        freeReplyObject(rep);
    return v;
}

long long orgm_store_next_gen(qs_redis *r, const char *org) {
    char k[KEY_LEN];
    key(k, org, "gen");
    return int_reply(qs_redis_cmd(r, "INCR %s", k));
}

long long orgm_store_gen(qs_redis *r, const char *org) {
    char k[KEY_LEN];
    key(k, org, "gen");
    return int_reply(qs_redis_cmd(r, "GET %s", k));
}

long long orgm_store_finished(qs_redis *r, const char *org) {
    char k[KEY_LEN];
    key(k, org, "finished");
    return int_reply(qs_redis_cmd(r, "GET %s", k));
}

int orgm_store_put_result(qs_redis *r, const char *org, const char *repo, const json_t *result) {
    char k[KEY_LEN], f[KEY_LEN];
    key(k, org, "results");
    key(f, org, "finished");
    char *text = json_dumps(result, JSON_COMPACT);
    if (!text)
        return QS_ENOMEM;
    static const char script[] = "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) "
                                 "return redis.call('INCR', KEYS[2])";
    long long v = int_reply(qs_redis_cmd(r, "EVAL %s 2 %s %s %s %s", script, k, f, repo, text));
    free(text);
    return v < 0 ? (int)v : QS_OK;
}

int orgm_store_results(qs_redis *r, const char *org, json_t **out) {
    *out = NULL;
    char k[KEY_LEN];
    key(k, org, "results");
    redisReply *rep = qs_redis_cmd(r, "HGETALL %s", k);
    if (!rep)
        return QS_EUNAVAIL;
    int rc = QS_OK;
    if (rep->type != REDIS_REPLY_ARRAY) {
        rc = QS_EPROTO;
    } else {
        *out = json_object();
        for (size_t i = 0; *out && i + 1 < rep->elements; i += 2) {
            const redisReply *name = rep->element[i], *val = rep->element[i + 1];
            json_t *j = val->str ? json_loadb(val->str, val->len, 0, NULL) : NULL;
            if (name->str && json_is_object(j))
                json_object_set_new(*out, name->str, j);
            else
                json_decref(j);
        }
        if (!*out)
            rc = QS_ENOMEM;
    }
    freeReplyObject(rep);
    return rc;
}

int orgm_store_prune(qs_redis *r, const char *org, const json_t *keep) {
    json_t *all = NULL;
    int rc = orgm_store_results(r, org, &all);
    if (rc != QS_OK)
        return rc;
    char k[KEY_LEN];
    key(k, org, "results");
    const char *name;
    json_t *v;
    json_object_foreach(all, name, v) {
        if (json_object_get(keep, name))
            continue;
        long long d = int_reply(qs_redis_cmd(r, "HDEL %s %s", k, name));
        if (d < 0) {
            rc = (int)d;
            break;
        }
    }
    json_decref(all);
    return rc;
}

int orgm_store_set_status(qs_redis *r, const char *org, const json_t *status) {
    char k[KEY_LEN];
    key(k, org, "status");
    char *text = json_dumps(status, JSON_COMPACT);
    if (!text)
        return QS_ENOMEM;
    int rc = qs_redis_set(r, k, text, 0);
    free(text);
    return rc;
}

int orgm_store_status(qs_redis *r, const char *org, json_t **out) {
    *out = NULL;
    char k[KEY_LEN];
    key(k, org, "status");
    redisReply *rep = qs_redis_cmd(r, "GET %s", k);
    if (!rep)
        return QS_EUNAVAIL;
    int rc = QS_OK;
    if (rep->type == REDIS_REPLY_NIL)
        rc = QS_ENOTFOUND;
    else if (rep->type != REDIS_REPLY_STRING || !(*out = json_loadb(rep->str, rep->len, 0, NULL)))
        rc = QS_EPROTO;
    freeReplyObject(rep);
    return rc;
}

int orgm_store_lock(qs_redis *r, const char *org, long ttl_ms, char token[ORGM_LOCK_TOKEN_LEN]) {
    char k[KEY_LEN];
    key(k, org, "lock");
    unsigned char raw[16];
    if (qs_random_bytes(raw, sizeof raw) != QS_OK)
        return QS_ERR;
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(token + 2 * i, 3, "%02x", raw[i]);
    redisReply *rep = qs_redis_cmd(r, "SET %s %s NX PX %ld", k, token, ttl_ms);
    if (!rep)
        return QS_EUNAVAIL;
    int rc = rep->type == REDIS_REPLY_STATUS ? QS_OK
             : rep->type == REDIS_REPLY_NIL  ? QS_ECONFLICT
                                             : QS_EPROTO;
    freeReplyObject(rep);
    return rc;
}

int orgm_store_extend(qs_redis *r, const char *org, const char *token, long ttl_ms) {
    char k[KEY_LEN];
    key(k, org, "lock");
    static const char script[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                                 "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";
    long long v = int_reply(qs_redis_cmd(r, "EVAL %s 1 %s %s %ld", script, k, token, ttl_ms));
    return v < 0 ? (int)v : v == 1 ? QS_OK : QS_ENOTFOUND;
}

int orgm_store_unlock(qs_redis *r, const char *org, const char *token) {
    char k[KEY_LEN];
    key(k, org, "lock");
    static const char script[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                                 "return redis.call('DEL', KEYS[1]) end return 0";
    long long v = int_reply(qs_redis_cmd(r, "EVAL %s 1 %s %s", script, k, token));
    return v < 0 ? (int)v : v == 1 ? QS_OK : QS_ENOTFOUND;
}

int orgm_store_locked(qs_redis *r, const char *org, int *held) {
    char k[KEY_LEN];
    key(k, org, "lock");
    long long v = int_reply(qs_redis_cmd(r, "EXISTS %s", k));
    if (v < 0)
        return (int)v;
    *held = v > 0;
    return QS_OK;
}

int orgm_store_account(qs_redis *r, const char *org, char **out) {
    char k[KEY_LEN];
    key(k, org, "account");
    bool found = false;
    *out = qs_redis_get(r, k, &found);
    if (*out || found)
        return QS_OK;
    redisReply *rep = qs_redis_cmd(r, "EXISTS %s", k); /* absent, or Redis unreachable? */
    int rc = rep && rep->type == REDIS_REPLY_INTEGER ? QS_OK : QS_EUNAVAIL;
    if (rep)
        freeReplyObject(rep);
    return rc;
}

int orgm_store_set_account(qs_redis *r, const char *org, const char *fingerprint) {
    char k[KEY_LEN];
    key(k, org, "account");
    return qs_redis_set(r, k, fingerprint, 0);
}
