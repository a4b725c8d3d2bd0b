/* queue.c — a durable work queue on Redis Streams (Redis ≥ 7.0), and a capped event stream.
 *
 * Keys, for a queue named N (one consumer group per queue):
 *   N            stream; each entry {seq, key} points at a task record. Entries after the
 *                group's last-delivered id are waiting, the group's pending list is in progress.
 *   N:task:<seq> hash, the task record: key, payload, attempts, last_error, enqueued_at,
 *                updated_at, taken_at, entry (its current stream id). The payload lives here,
 *                not in the stream entry, because stream entries cannot be changed and a newer
 *                payload must replace a waiting one in place (same entry, same position).
 *   N:waiting    hash dedupe key → seq of the one task with that key that is not taken.
 *   N:active     hash dedupe key → seq of the one task with that key in progress.
 *   N:delayed    zset seq → due time (ms) of failed tasks waiting for their retry; a task
 *                enqueued while its key is in progress is "parked" here with score 9e15 and
 *                pushed to the tail when that task is acked or failed, so one key never runs
 *                on two consumers at once and runs in enqueue order.
 *   N:dead       stream of dead-lettered tasks, each a full copy of the record, capped.
 *   N:seq        counter for task numbers.
 * Every operation is one Lua script: atomic against every other consumer, and in the AOF as
 * one MULTI/EXEC of its effects, so a restart with AOF keeps a consistent queue. Scripts are
 * sent by their SHA1 (EVALSHA, computed here once per process), and in full (EVAL, which
 * also caches them) only when Redis answers NOSCRIPT — after a restart or SCRIPT FLUSH — so a
 * busy queue does not ship and hash ~3 KB of Lua with every take, ack and enqueue. Times
 * come from Redis' TIME, so machines agree on due times. Attempts are our own counter (take
 * counts fresh, retried and reclaimed deliveries alike; a retry is a new stream entry with a
 * fresh delivery count); a reclaimed task that used its last attempt is dead-lettered rather
 * than delivered, so a task that kills its worker cannot loop forever. Reclaim uses XPENDING IDLE +
 * XCLAIM rather than XAUTOCLAIM: XAUTOCLAIM COUNT 1 looks at only 10 pending entries per call, so
 * an expired entry behind ten live ones would wait; XPENDING IDLE finds the first expired one.
 * Blocking: Lua cannot block, so take runs its script and, when nothing was there, waits with
 * XREAD BLOCK for an entry newer than the newest one the script saw (no lost wake-up), at most
 * 1 s or until the next retry is due, then tries again; reclaims are noticed within that
 * second. CLIENT UNBLOCK <id> ERROR (from another connection) ends a take's wait at once.
 * Ack/fail/extend check that the caller still owns the entry: after a reclaim only the new owner's
 * outcome counts. Trade-offs: task records are separate keys (cheap reads, no Redis Cluster support
 * unless N has a hash tag and even then the scripts build keys from N); a qs_redis retry after a
 * lost reply can run a take twice, which leaves one task pending until its visibility timeout —
 * delivery stays at least once. */
#include "shared/queue.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <pthread.h>

#include "shared/common.h"
#include "shared/log.h"

#define NKEYS 6
#define MAX_ARGS 12
#define WAIT_SLICE_MS 1000 /* longest XREAD BLOCK (the connection's command timeout is 5 s) */
#define RETRY_BATCH 1000   /* dead tasks moved back per script run */
#define EVENTS_RECLAIM_MS 60000
#define EVENTS_BLOCK_MAX_MS 4000
#define ROW_FIELDS 12

/* ---- the scripts ---- */

/* KEYS: stream, waiting, active, delayed, dead, seq. ARGV[1]: group. */
#define LUA_PRELUDE                                                                                \
    "local S, W, A, D, X, SEQ = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]\n"            \
    "local G = ARGV[1]\n"                                                                          \
    "local PARKED_S = '9000000000000000'\n"                                                        \
    "local PARKED = tonumber(PARKED_S)\n"                                                          \
    "local function ms(n) return string.format('%d', n) end\n"                                     \
    "local function now_ms() local t = redis.call('TIME')\n"                                       \
    "  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) end\n"                     \
    "local function tkey(seq) return S .. ':task:' .. seq end\n"                                   \
    "local function map(flat) local m = {}\n"                                                      \
    "  for i = 1, #flat, 2 do m[flat[i]] = flat[i + 1] end return m end\n"                         \
    "local function push(seq, key)\n"                                                              \
    "  local id = redis.call('XADD', S, '*', 'seq', seq, 'key', key)\n"                            \
    "  redis.call('HSET', tkey(seq), 'entry', id) return id end\n"                                 \
    "local function drop(id) redis.call('XACK', S, G, id) redis.call('XDEL', S, id) end\n"         \
    "local function release(key, seq)\n"                                                           \
    "  if not key or key == '' then return end\n"                                                  \
    "  if redis.call('HGET', A, key) == seq then redis.call('HDEL', A, key) end\n"                 \
    "  local w = redis.call('HGET', W, key)\n"                                                     \
    "  if w and tonumber(redis.call('ZSCORE', D, w)) == PARKED then\n"                             \
    "    redis.call('ZREM', D, w) push(w, key) end end\n"                                          \
    "local function task_at(id) local e = redis.call('XRANGE', S, id, id)\n"                       \
    "  if #e == 0 then return nil, {} end local seq = map(e[1][2]).seq\n"                          \
    "  return seq, map(redis.call('HGETALL', tkey(seq))) end\n"                                    \
    "local function bury(seq, t, err, now, maxlen) local a = {X}\n"                                \
    "  if tonumber(maxlen) > 0 then a = {X, 'MAXLEN', '~', maxlen} end\n"                          \
    "  for _, v in ipairs({'*', 'seq', seq, 'key', t.key, 'payload', t.payload, 'attempts',\n"     \
    "    t.attempts, 'last_error', err, 'enqueued_at', t.enqueued_at, 'updated_at',\n"             \
    "    t.updated_at, 'failed_at', ms(now)}) do a[#a + 1] = v end\n"                              \
    "  redis.call('XADD', unpack(a)) redis.call('DEL', tkey(seq)) end\n"                           \
    "local function owner(id, c) local p = redis.call('XPENDING', S, G, id, id, 1)\n"              \
    "  if #p == 0 then return -1 end if p[1][2] ~= c then return -2 end return 0 end\n"            \
    "local function create(key, payload, last_error, now)\n"                                       \
    "  local seq = tostring(redis.call('INCR', SEQ))\n"                                            \
    "  redis.call('HSET', tkey(seq), 'key', key, 'payload', payload, 'attempts', 0,\n"             \
    "    'last_error', last_error, 'enqueued_at', ms(now), 'updated_at', ms(now), 'entry', '')\n"  \
    "  return seq end\n"                                                                           \
    "local function place(seq, key)\n"                                                             \
    "  if key ~= '' then redis.call('HSET', W, key, seq)\n"                                        \
    "    if redis.call('HEXISTS', A, key) == 1 then redis.call('ZADD', D, PARKED_S, seq)\n"        \
    "      return 2 end end\n"                                                                     \
    "  push(seq, key) return 0 end\n"                                                              \
    "local function row(id, seq, t, taken, due, failed, consumer)\n"                               \
    "  return {id, seq or '0', t.key or '', t.payload or 'null', t.attempts or '0',\n"             \
    "    t.last_error or '', t.enqueued_at or '0', t.updated_at or '0', taken or '0',\n"           \
    "    due or '0', failed or '0', consumer or ''} end\n"

/* ARGV: group, key, payload → {0 added | 1 replaced | 2 added after a running task, seq} */
static const char LUA_ENQUEUE[] =
    LUA_PRELUDE "local key, payload, now = ARGV[2], ARGV[3], now_ms()\n"
                "if key ~= '' then local seq = redis.call('HGET', W, key)\n"
                "  if seq and redis.call('EXISTS', tkey(seq)) == 1 then\n"
                "    redis.call('HSET', tkey(seq), 'payload', payload, 'updated_at', ms(now))\n"
                "    return {1, seq} end end\n"
                "local seq = create(key, payload, '', now)\n"
                "return {place(seq, key), seq}\n";

/* ARGV: group, consumer, visibility ms, max attempts, dead maxlen →
 * {1, row} | {0, newest entry id, ms until the next retry is due or -1} | {2} (try again) */
static const char LUA_TAKE[] = LUA_PRELUDE
    "local C, vis, maxatt, now = ARGV[2], ARGV[3], tonumber(ARGV[4]), now_ms()\n"
    "for _, seq in ipairs(redis.call('ZRANGEBYSCORE', D, '-inf', ms(now), 'LIMIT', 0, 100)) do\n"
    "  redis.call('ZREM', D, seq) local key = redis.call('HGET', tkey(seq), 'key')\n"
    "  if key then push(seq, key) end end\n"
    "for _ = 1, 20 do\n"
    "  local id, reclaimed = nil, false\n"
    "  local p = redis.call('XPENDING', S, G, 'IDLE', vis, '-', '+', 1)\n"
    "  if #p > 0 then id, reclaimed = p[1][1], true\n"
    "    redis.call('XCLAIM', S, G, C, 0, id, 'JUSTID')\n"
    "  else local r = redis.call('XREADGROUP', 'GROUP', G, C, 'COUNT', 1, 'STREAMS', S, '>')\n"
    "    if not r then local wait = -1\n"
    "      local d = redis.call('ZRANGEBYSCORE', D, '-inf', '(' .. PARKED_S, 'WITHSCORES',\n"
    "        'LIMIT', 0, 1)\n"
    "      if #d > 0 then wait = tonumber(d[2]) - now end\n"
    "      local last = redis.call('XREVRANGE', S, '+', '-', 'COUNT', 1)\n"
    "      return {0, #last > 0 and last[1][1] or '0-0', wait} end\n"
    "    id = r[1][2][1][1] end\n"
    "  local seq, t = task_at(id)\n"
    "  if not t.payload then drop(id)\n"
    "  elseif reclaimed and tonumber(t.attempts) >= maxatt then drop(id)\n"
    "    bury(seq, t, 'not acknowledged within the visibility timeout', now, ARGV[5])\n"
    "    release(t.key, seq)\n"
    "  elseif t.key ~= '' and (redis.call('HGET', A, t.key) or seq) ~= seq then drop(id)\n"
    "    redis.call('HSET', tkey(seq), 'entry', '') redis.call('HSETNX', W, t.key, seq)\n"
    "    redis.call('ZADD', D, PARKED_S, seq)\n"
    "  else if t.key ~= '' then\n"
    "      if redis.call('HGET', W, t.key) == seq then redis.call('HDEL', W, t.key) end\n"
    "      redis.call('HSET', A, t.key, seq) end\n"
    "    t.attempts = redis.call('HINCRBY', tkey(seq), 'attempts', 1)\n"
    "    redis.call('HSET', tkey(seq), 'entry', id, 'taken_at', ms(now))\n"
    "    return {1, row(id, seq, t, ms(now), '0', '0', C)} end end\n"
    "return {2}\n";

/* ARGV: group, consumer, id → {0} | {-1} not in progress | {-2} another consumer's */
static const char LUA_ACK[] =
    LUA_PRELUDE "local rc = owner(ARGV[3], ARGV[2]) if rc ~= 0 then return {rc} end\n"
                "local seq, t = task_at(ARGV[3]) drop(ARGV[3])\n"
                "if seq then redis.call('DEL', tkey(seq)) release(t.key, seq) end\n"
                "return {0}\n";

/* ARGV: group, consumer, id, error, permanent, max attempts, base ms, max ms, dead maxlen →
 * {-1|-2} | {1} dead | {2} superseded | {3, due} retry */
static const char LUA_FAIL[] =
    LUA_PRELUDE "local rc = owner(ARGV[3], ARGV[2]) if rc ~= 0 then return {rc} end\n"
                "local seq, t = task_at(ARGV[3]) drop(ARGV[3])\n"
                "if not t.payload then return {1} end\n"
                "local now, att = now_ms(), tonumber(t.attempts)\n"
                "if ARGV[5] == '1' or att >= tonumber(ARGV[6]) then\n"
                "  bury(seq, t, ARGV[4], now, ARGV[9]) release(t.key, seq) return {1} end\n"
                "if t.key ~= '' and redis.call('HGET', W, t.key) then\n"
                "  redis.call('DEL', tkey(seq)) release(t.key, seq) return {2} end\n"
                "release(t.key, seq)\n"
                "local due = now + math.min(tonumber(ARGV[7]) * 2 ^ math.max(att - 1, 0),\n"
                "  tonumber(ARGV[8]))\n"
                "redis.call('HSET', tkey(seq), 'last_error', ARGV[4], 'entry', '', 'taken_at', 0)\n"
                "redis.call('ZADD', D, ms(due), seq)\n"
                "if t.key ~= '' then redis.call('HSET', W, t.key, seq) end\n"
                "return {3, ms(due)}\n";

/* ARGV: group, consumer, id → as LUA_ACK */
static const char LUA_EXTEND[] =
    LUA_PRELUDE "local rc = owner(ARGV[3], ARGV[2]) if rc ~= 0 then return {rc} end\n"
                "redis.call('XCLAIM', S, G, ARGV[2], 0, ARGV[3], 'JUSTID') return {0}\n";

/* ARGV: group → {waiting, in progress, delayed, dead} */
static const char LUA_COUNTS[] =
    LUA_PRELUDE "local pending = redis.call('XPENDING', S, G)[1]\n"
                "return {redis.call('XLEN', S) - pending + redis.call('ZCOUNT', D, PARKED_S,\n"
                "  PARKED_S), pending, redis.call('ZCOUNT', D, '-inf', '(' .. PARKED_S),\n"
                "  redis.call('XLEN', X)}\n";

/* ARGV: group, state, limit → rows */
static const char LUA_LIST[] = LUA_PRELUDE
    "local state, limit, out = ARGV[2], tonumber(ARGV[3]), {}\n"
    "local function rec(seq) return map(redis.call('HGETALL', tkey(seq))) end\n"
    "if state == 'waiting' and redis.call('EXISTS', S) == 1 then local last = '0-0'\n"
    "  for _, g in ipairs(redis.call('XINFO', 'GROUPS', S)) do local m = map(g)\n"
    "    if m.name == G then last = m['last-delivered-id'] end end\n"
    "  for _, e in ipairs(redis.call('XRANGE', S, '(' .. last, '+', 'COUNT', limit)) do\n"
    "    local seq = map(e[2]).seq out[#out + 1] = row(e[1], seq, rec(seq)) end\n"
    "  if #out < limit then for _, seq in ipairs(redis.call('ZRANGEBYSCORE', D, PARKED_S,\n"
    "      PARKED_S, 'LIMIT', 0, limit - #out)) do out[#out + 1] = row('', seq, rec(seq)) end end\n"
    "elseif state == 'in_progress' then\n"
    "  for _, p in ipairs(redis.call('XPENDING', S, G, '-', '+', limit)) do\n"
    "    local seq, t = task_at(p[1]) out[#out + 1] = row(p[1], seq, t, t.taken_at, '0', '0',\n"
    "      p[2]) end\n"
    "elseif state == 'delayed' then\n"
    "  local d = redis.call('ZRANGEBYSCORE', D, '-inf', '(' .. PARKED_S, 'WITHSCORES', 'LIMIT',\n"
    "    0, limit)\n"
    "  for i = 1, #d, 2 do out[#out + 1] = row('', d[i], rec(d[i]), '0', d[i + 1]) end\n"
    "elseif state == 'dead' then\n"
    "  for _, e in ipairs(redis.call('XRANGE', X, '-', '+', 'COUNT', limit)) do\n"
    "    local t = map(e[2]) out[#out + 1] = row(e[1], t.seq, t, '0', '0', t.failed_at) end end\n"
    "return out\n";

/* ARGV: group, dead id or '', batch → {dead entries looked at, tasks requeued} */
static const char LUA_RETRY_DEAD[] = LUA_PRELUDE
    "local now, es = now_ms(), nil\n"
    "if ARGV[2] ~= '' then es = redis.call('XRANGE', X, ARGV[2], ARGV[2])\n"
    "else es = redis.call('XRANGE', X, '-', '+', 'COUNT', ARGV[3]) end\n"
    "local moved = 0\n"
    "for _, e in ipairs(es) do local f = map(e[2]) local key = f.key or ''\n"
    "  redis.call('XDEL', X, e[1])\n"
    "  if key == '' or not redis.call('HGET', W, key) then moved = moved + 1\n"
    "    place(create(key, f.payload or 'null', f.last_error or '', now), key) end end\n"
    "return {#es, moved}\n";

/* Each script with its SHA1 (hex), for EVALSHA. */
typedef struct {
    const char *text;
    char sha[41];
} lua_script;

enum { S_ENQUEUE, S_TAKE, S_ACK, S_FAIL, S_EXTEND, S_COUNTS, S_LIST, S_RETRY_DEAD, S__N };
static lua_script scripts[S__N] = {{LUA_ENQUEUE, ""}, {LUA_TAKE, ""},      {LUA_ACK, ""},
                                   {LUA_FAIL, ""},    {LUA_EXTEND, ""},    {LUA_COUNTS, ""},
                                   {LUA_LIST, ""},    {LUA_RETRY_DEAD, ""}};
static pthread_once_t scripts_once = PTHREAD_ONCE_INIT;

/* SHA1 of every script, as Redis names them (lowercase hex); "" when libcrypto fails, which
 * makes eval_array send the script itself. */
static void scripts_hash(void) {
    for (int i = 0; i < S__N; i++) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        if (EVP_Digest(scripts[i].text, strlen(scripts[i].text), md, &len, EVP_sha1(), NULL) != 1 ||
            len != 20)
            continue;
        for (unsigned int k = 0; k < len; k++)
            snprintf(scripts[i].sha + 2 * k, 3, "%02x", md[k]);
    }
}

/* ---- the handle ---- */

enum { K_STREAM, K_WAITING, K_ACTIVE, K_DELAYED, K_DEAD, K_SEQ };
static const char *const key_suffix[NKEYS] = {"",         ":waiting", ":active",
                                              ":delayed", ":dead",    ":seq"};

struct qs_queue {
    qs_redis *r;
    char *keys[NKEYS];
    char *group;
    char *consumer;
    /* the options as script arguments */
    char vis[24], maxatt[24], base[24], maxd[24], deadlen[24];
};

static char *default_consumer(void) {
    static atomic_uint counter;
    char host[64] = "host", *out = NULL;
    if (gethostname(host, sizeof host) != 0)
        strcpy(host, "host");
    host[sizeof host - 1] = '\0';
    if (asprintf(&out, "%s-%ld-%u", host, (long)getpid(), atomic_fetch_add(&counter, 1)) < 0)
        return NULL;
    return out;
}

/* XGROUP CREATE from the start of the stream (tasks enqueued before any consumer existed are
 * not skipped); "already exists" is success. */
static void ensure_group(qs_redis *r, const char *stream, const char *group) {
    redisReply *rep = qs_redis_cmd(r, "XGROUP CREATE %s %s 0 MKSTREAM", stream, group);
    if (rep)
        freeReplyObject(rep);
}

qs_queue *qs_queue_open(qs_redis *r, const char *name, const char *group, const char *consumer,
                        const qs_queue_opts *opts) {
    qs_queue_opts defaults = QS_QUEUE_OPTS_INIT;
    if (!opts)
        opts = &defaults;
    if (!r || !name || !*name || !group || !*group || (consumer && !*consumer) ||
        opts->visibility_ms < 1 || opts->max_attempts < 1 || opts->backoff_base_ms < 0 ||
        opts->backoff_max_ms < opts->backoff_base_ms || opts->dead_maxlen < 0)
        return NULL;
    qs_queue *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->r = r;
    snprintf(q->vis, sizeof q->vis, "%ld", opts->visibility_ms);
    snprintf(q->maxatt, sizeof q->maxatt, "%d", opts->max_attempts);
    snprintf(q->base, sizeof q->base, "%ld", opts->backoff_base_ms);
    snprintf(q->maxd, sizeof q->maxd, "%ld", opts->backoff_max_ms);
    snprintf(q->deadlen, sizeof q->deadlen, "%ld", opts->dead_maxlen);
    bool ok = (q->group = strdup(group)) != NULL;
    q->consumer = consumer ? strdup(consumer) : default_consumer();
    ok = ok && q->consumer;
    for (int i = 0; ok && i < NKEYS; i++)
        ok = asprintf(&q->keys[i], "%s%s", name, key_suffix[i]) >= 0;
    if (!ok) {
        qs_queue_free(q);
        return NULL;
    }
    ensure_group(r, q->keys[K_STREAM], q->group);
    return q;
}

void qs_queue_free(qs_queue *q) {
    if (!q)
        return;
    for (int i = 0; i < NKEYS; i++)
        free(q->keys[i]);
    free(q->group);
    free(q->consumer);
    free(q);
}

const char *qs_queue_consumer(const qs_queue *q) { return q ? q->consumer : NULL; }

/* ---- replies ---- */

/* The reply's error class → qs_err: a Redis that is loading or busy is unavailable, anything
 * else is a bug on one side (logged). NULL (unreachable) → QS_EUNAVAIL. */
static int reply_err(const redisReply *rep, const char *what) {
    static const char *const transient[] = {"LOADING",  "BUSY",     "MASTERDOWN",
                                            "TRYAGAIN", "READONLY", "OOM"};
    if (!rep)
        return QS_EUNAVAIL;
    for (size_t i = 0; i < QS_ARRAY_LEN(transient); i++)
        if (strncmp(rep->str, transient[i], strlen(transient[i])) == 0)
            return QS_EUNAVAIL;
    qs_log(QS_LOG_WARN, "redis queue command failed", "op", what, "error", rep->str, NULL);
    return QS_EPROTO;
}

static char *rstr(const redisReply *e) {
    char *out = NULL;
    if (e && (e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS))
        out = strndup(e->str, e->len);
    else if (e && e->type == REDIS_REPLY_INTEGER && asprintf(&out, "%lld", e->integer) < 0)
        out = NULL;
    else if (!e || e->type == REDIS_REPLY_NIL)
        out = strdup("");
    return out;
}

static long long rll(const redisReply *e) {
    if (e && e->type == REDIS_REPLY_INTEGER)
        return e->integer;
    if (e && e->type == REDIS_REPLY_STRING)
        return strtoll(e->str, NULL, 10);
    return 0;
}

static bool is_array(const redisReply *rep, size_t min) {
    return rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= min;
}

/* As rstr, but "" → NULL (the optional fields). */
static char *rstr_opt(const redisReply *e) {
    return e && e->type == REDIS_REPLY_STRING && e->len > 0 ? strndup(e->str, e->len) : NULL;
}

/* One task row of the scripts (see row() in the prelude) into *t. */
static int parse_row(const redisReply *row, qs_task_state state, qs_task *t) {
    memset(t, 0, sizeof *t);
    if (!is_array(row, ROW_FIELDS))
        return QS_EPROTO;
    redisReply **e = row->element;
    t->state = state;
    t->id = rstr(e[0]);
    t->seq = rll(e[1]);
    t->key = rstr(e[2]);
    t->payload = rstr(e[3]);
    t->attempts = (int)rll(e[4]);
    t->last_error = rstr_opt(e[5]);
    t->enqueued_at_ms = rll(e[6]);
    t->updated_at_ms = rll(e[7]);
    t->taken_at_ms = rll(e[8]);
    t->due_at_ms = rll(e[9]);
    t->failed_at_ms = rll(e[10]);
    t->consumer = rstr_opt(e[11]);
    if (!t->id || !t->key || !t->payload) {
        qs_task_clear(t);
        return QS_ENOMEM;
    }
    return QS_OK;
}

/* ---- running scripts ---- */

/* Send argv; on NOGROUP (the stream was deleted, or Redis lost it) create the group and send
 * once more. The reply, or NULL when Redis is unreachable. */
static redisReply *send_grouped(qs_redis *r, const char *stream, const char *group, int argc,
                                const char **argv) {
    size_t lens[3 + NKEYS + 1 + MAX_ARGS];
    for (int i = 0; i < argc && i < (int)QS_ARRAY_LEN(lens); i++)
        lens[i] = strlen(argv[i]);
    redisReply *rep = qs_redis_cmdv(r, argc, argv, lens);
    if (rep && rep->type == REDIS_REPLY_ERROR && strstr(rep->str, "NOGROUP")) {
        freeReplyObject(rep);
        ensure_group(r, stream, group);
        rep = qs_redis_cmdv(r, argc, argv, lens);
    }
    return rep;
}

/* QS_OK with *out = rep when it is a reply that is not an error (of at least `min` elements
 * when min > 0); otherwise rep is freed and the error returned. */
static int checked(redisReply *rep, const char *what, size_t min, redisReply **out) {
    *out = NULL;
    if (!rep)
        return QS_EUNAVAIL;
    int rc = QS_OK;
    if (rep->type == REDIS_REPLY_ERROR)
        rc = reply_err(rep, what);
    else if (min > 0 && !is_array(rep, min))
        rc = QS_EPROTO;
    if (rc != QS_OK)
        freeReplyObject(rep);
    else
        *out = rep;
    return rc;
}

/* Run script `which` over the queue's keys with ARGV = group, args[0..nargs): EVALSHA, and
 * EVAL when Redis does not have it cached (NOSCRIPT). Its reply must be an array of at least
 * `min` elements. */
static int eval_array(qs_queue *q, const char *what, int which, int nargs, const char *const *args,
                      size_t min, redisReply **out) {
    pthread_once(&scripts_once, scripts_hash);
    const lua_script *sc = &scripts[which];
    const char *argv[3 + NKEYS + 1 + MAX_ARGS] = {"EVALSHA", sc->sha, "6"};
    if (!sc->sha[0]) {
        argv[0] = "EVAL";
        argv[1] = sc->text;
    }
    int argc = 3;
    for (int i = 0; i < NKEYS; i++)
        argv[argc++] = q->keys[i];
    argv[argc++] = q->group;
    for (int i = 0; i < nargs && i < MAX_ARGS; i++)
        argv[argc++] = args[i];
    redisReply *rep = send_grouped(q->r, q->keys[K_STREAM], q->group, argc, argv);
    if (rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(rep); /* not cached (yet, or any more): send it, which caches it */
        argv[0] = "EVAL";
        argv[1] = sc->text;
        rep = send_grouped(q->r, q->keys[K_STREAM], q->group, argc, argv);
    }
    return checked(rep, what, min, out);
}

/* A stream id as Redis writes them: <ms>-<seq>. Checked before use in a command. */
static bool valid_id(const char *id) {
    size_t i = 0, dash = 0;
    if (!id || !*id || strlen(id) > 41)
        return false;
    for (; id[i]; i++) {
        if (id[i] == '-' && !dash && i > 0)
            dash = i;
        else if (id[i] < '0' || id[i] > '9')
            return false;
    }
    return dash > 0 && dash + 1 < i;
}

/* ---- producing and consuming ---- */

int qs_queue_enqueue(qs_queue *q, const char *payload, const char *key, qs_enqueue_result *res) {
    if (!q || !payload)
        return QS_EINVAL;
    json_t *j = json_loads(payload, JSON_DECODE_ANY, NULL);
    if (!j)
        return QS_EINVAL;
    json_decref(j);
    const char *args[] = {key ? key : "", payload};
    redisReply *rep = NULL;
    int rc = eval_array(q, "enqueue", S_ENQUEUE, 2, args, 2, &rep);
    if (rc != QS_OK)
        return rc;
    static const qs_enqueue_result outcome[] = {QS_ENQUEUE_ADDED, QS_ENQUEUE_REPLACED,
                                                QS_ENQUEUE_AFTER};
    long long v = rll(rep->element[0]);
    freeReplyObject(rep);
    if (v < 0 || v > 2)
        return QS_EPROTO;
    if (res)
        *res = outcome[v];
    return QS_OK;
}

/* One take script run: QS_OK with *out, QS_ENOTFOUND with the newest entry id and the ms
 * until the next retry is due (-1: none), or 1 to run again at once. */
static int take_once(qs_queue *q, qs_task *out, char *last_id, size_t last_len, long *due_in) {
    const char *args[] = {q->consumer, q->vis, q->maxatt, q->deadlen};
    redisReply *rep = NULL;
    int rc = eval_array(q, "take", S_TAKE, 4, args, 1, &rep);
    if (rc != QS_OK)
        return rc;
    long long kind = rll(rep->element[0]);
    if (kind == 1 && rep->elements >= 2) {
        rc = parse_row(rep->element[1], QS_TASK_IN_PROGRESS, out);
    } else if (kind == 0 && rep->elements >= 3 && rep->element[1]->type == REDIS_REPLY_STRING) {
        snprintf(last_id, last_len, "%s", rep->element[1]->str);
        *due_in = (long)rll(rep->element[2]);
        rc = QS_ENOTFOUND;
    } else {
        rc = kind == 2 ? 1 : QS_EPROTO;
    }
    freeReplyObject(rep);
    return rc;
}

static long long clock_ms(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int qs_queue_take(qs_queue *q, long block_ms, qs_task *out) {
    if (!q || !out || block_ms < 0)
        return QS_EINVAL;
    memset(out, 0, sizeof *out);
    long long deadline = clock_ms(CLOCK_MONOTONIC) + block_ms;
    for (;;) {
        char last_id[48] = "0-0";
        long due_in = -1;
        int rc = take_once(q, out, last_id, sizeof last_id, &due_in);
        if (rc == 1)
            continue;
        if (rc != QS_ENOTFOUND)
            return rc;
        long long left = deadline - clock_ms(CLOCK_MONOTONIC);
        if (left <= 0)
            return QS_ENOTFOUND;
        long wait = left < WAIT_SLICE_MS ? (long)left : WAIT_SLICE_MS;
        if (due_in >= 0 && due_in < wait)
            wait = due_in;
        if (wait < 1)
            wait = 1;
        /* Woken by any entry newer than the newest the script saw; the reply is not needed.
         * An error reply ends the wait: that is how another connection interrupts a blocked
         * take (CLIENT UNBLOCK <id> ERROR), e.g. to stop a worker at once. */
        redisReply *rep = qs_redis_cmd(q->r, "XREAD COUNT 1 BLOCK %ld STREAMS %s %s", wait,
                                       q->keys[K_STREAM], last_id);
        if (!rep)
            return QS_EUNAVAIL;
        bool interrupted = rep->type == REDIS_REPLY_ERROR;
        freeReplyObject(rep);
        if (interrupted)
            return QS_ENOTFOUND;
    }
}

/* Run an ack/fail/extend script on entry args[1]; *v = the first element of its reply: ≥ 0 a
 * result, -1 the entry is not in progress, -2 it is another consumer's. */
static int run_owned(qs_queue *q, const char *what, int script, int nargs, const char *const *args,
                     long long *v) {
    if (!valid_id(args[1]))
        return args[1] ? QS_ENOTFOUND : QS_EINVAL;
    redisReply *rep = NULL;
    int rc = eval_array(q, what, script, nargs, args, 1, &rep);
    if (rc != QS_OK)
        return rc;
    *v = rll(rep->element[0]);
    freeReplyObject(rep);
    return *v >= 0 ? QS_OK : *v == -1 ? QS_ENOTFOUND : *v == -2 ? QS_ECONFLICT : QS_EPROTO;
}

int qs_queue_ack(qs_queue *q, const char *id) {
    long long v = 0;
    return q ? run_owned(q, "ack", S_ACK, 2, (const char *[]){q->consumer, id}, &v) : QS_EINVAL;
}

int qs_queue_extend(qs_queue *q, const char *id) {
    long long v = 0;
    return q ? run_owned(q, "extend", S_EXTEND, 2, (const char *[]){q->consumer, id}, &v)
             : QS_EINVAL;
}

int qs_queue_fail(qs_queue *q, const char *id, const char *error, bool permanent,
                  qs_fail_result *res) {
    if (!q)
        return QS_EINVAL;
    const char *args[] = {q->consumer,
                          id,
                          error && *error ? error : "failed",
                          permanent ? "1" : "0",
                          q->maxatt,
                          q->base,
                          q->maxd,
                          q->deadlen};
    long long v = 0;
    int rc = run_owned(q, "fail", S_FAIL, 8, args, &v);
    if (rc != QS_OK)
        return rc;
    if (v < 1 || v > 3)
        return QS_EPROTO;
    if (res)
        *res = v == 1 ? QS_FAIL_DEAD : v == 2 ? QS_FAIL_SUPERSEDED : QS_FAIL_RETRY;
    return QS_OK;
}

/* ---- inspecting and repairing ---- */

int qs_queue_get_counts(qs_queue *q, qs_queue_counts *out) {
    if (!q || !out)
        return QS_EINVAL;
    redisReply *rep = NULL;
    int rc = eval_array(q, "counts", S_COUNTS, 0, NULL, 4, &rep);
    if (rc != QS_OK)
        return rc;
    out->waiting = rll(rep->element[0]);
    out->in_progress = rll(rep->element[1]);
    out->delayed = rll(rep->element[2]);
    out->dead = rll(rep->element[3]);
    freeReplyObject(rep);
    return QS_OK;
}

const char *qs_task_state_name(qs_task_state s) {
    static const char *const names[] = {"waiting", "in_progress", "delayed", "dead"};
    return (unsigned)s < QS_ARRAY_LEN(names) ? names[s] : "unknown";
}

int qs_queue_list(qs_queue *q, qs_task_state state, size_t limit, qs_task **out, size_t *n) {
    if (!q || !out || !n || (unsigned)state > QS_TASK_DEAD)
        return QS_EINVAL;
    *out = NULL;
    *n = 0;
    if (limit == 0)
        return QS_OK;
    char lim[24];
    snprintf(lim, sizeof lim, "%zu", limit > 100000 ? (size_t)100000 : limit);
    const char *args[] = {qs_task_state_name(state), lim};
    redisReply *rep = NULL;
    int rc = eval_array(q, "list", S_LIST, 2, args, 0, &rep);
    if (rc != QS_OK)
        return rc;
    qs_task *tasks = rep->elements ? calloc(rep->elements, sizeof *tasks) : NULL;
    if (rep->elements && !tasks)
        rc = QS_ENOMEM;
    size_t got = 0;
    for (; rc == QS_OK && got < rep->elements; got++)
        if ((rc = parse_row(rep->element[got], state, &tasks[got])) != QS_OK)
            break;
    freeReplyObject(rep);
    if (rc != QS_OK) {
        qs_tasks_free(tasks, got);
        return rc;
    }
    *out = tasks;
    *n = got;
    return QS_OK;
}

int qs_queue_retry_dead(qs_queue *q, const char *id, size_t *moved) {
    if (moved)
        *moved = 0;
    if (!q)
        return QS_EINVAL;
    if (id && !valid_id(id))
        return QS_ENOTFOUND;
    char batch[24];
    snprintf(batch, sizeof batch, "%d", RETRY_BATCH);
    const char *args[] = {id ? id : "", batch};
    for (;;) {
        redisReply *rep = NULL;
        int rc = eval_array(q, "retry_dead", S_RETRY_DEAD, 2, args, 2, &rep);
        if (rc != QS_OK)
            return rc;
        long long seen = rll(rep->element[0]), requeued = rll(rep->element[1]);
        freeReplyObject(rep);
        if (moved)
            *moved += (size_t)requeued;
        if (id)
            return seen > 0 ? QS_OK : QS_ENOTFOUND;
        if (seen < RETRY_BATCH)
            return QS_OK;
    }
}

void qs_task_clear(qs_task *t) {
    if (!t)
        return;
    free(t->id);
    free(t->key);
    free(t->payload);
    free(t->last_error);
    free(t->consumer);
    memset(t, 0, sizeof *t);
}

void qs_tasks_free(qs_task *tasks, size_t n) {
    for (size_t i = 0; tasks && i < n; i++)
        qs_task_clear(&tasks[i]);
    free(tasks);
}

static void set_opt_time(json_t *o, const char *name, long long v) {
    if (v > 0)
        json_object_set_new(o, name, json_integer(v));
}

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

json_t *qs_task_to_json(const qs_task *t) {
    if (!t)
        return NULL;
    json_t *payload = t->payload ? json_loads(t->payload, JSON_DECODE_ANY, NULL) : NULL;
    if (!payload)
        payload = str_or_null(t->payload);
    json_t *o = json_pack(
        "{s:i, s:I, s:s, s:s, s:s, s:o, s:i, s:o, s:o, s:I, s:I}", "v", 1, "seq",
        (json_int_t)t->seq, "id", t->id ? t->id : "", "state", qs_task_state_name(t->state), "key",
        t->key ? t->key : "", "payload", payload, "attempts", t->attempts, "last_error",
        str_or_null(t->last_error), "consumer", str_or_null(t->consumer), "enqueued_at",
        (json_int_t)t->enqueued_at_ms, "updated_at", (json_int_t)t->updated_at_ms);
    if (o) {
        set_opt_time(o, "taken_at", t->taken_at_ms);
        set_opt_time(o, "due_at", t->due_at_ms);
        set_opt_time(o, "failed_at", t->failed_at_ms);
    }
    return o;
}

/* ---- events ---- */

int qs_events_publish(qs_redis *r, const char *stream, const char *type, const json_t *data,
                      char **id_out) {
    if (id_out)
        *id_out = NULL;
    if (!r || !stream || !*stream || !type || !*type)
        return QS_EINVAL;
    char *text = data ? json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("null");
    if (!text)
        return data ? QS_EINVAL : QS_ENOMEM;
    redisReply *rep = NULL;
    int rc = checked(qs_redis_cmd(r, "XADD %s MAXLEN ~ %d * type %s data %s ts %lld", stream,
                                  QS_EVENTS_MAXLEN, type, text, clock_ms(CLOCK_REALTIME)),
                     "events_publish", 0, &rep);
    free(text);
    if (rc != QS_OK)
        return rc;
    if (rep->type != REDIS_REPLY_STRING)
        rc = QS_EPROTO;
    else if (id_out && !(*id_out = strdup(rep->str)))
        rc = QS_ENOMEM;
    freeReplyObject(rep);
    return rc;
}

/* One [id, [field, value, ...]] stream entry into *ev. false when it is not one (a deleted
 * entry) or on ENOMEM. */
static bool parse_event(const redisReply *e, qs_event *ev) {
    memset(ev, 0, sizeof *ev);
    if (!is_array(e, 2) || e->element[0]->type != REDIS_REPLY_STRING ||
        e->element[1]->type != REDIS_REPLY_ARRAY)
        return false;
    const redisReply *f = e->element[1];
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const char *name = f->element[i]->str, *val = f->element[i + 1]->str;
        if (!name || !val)
            continue;
        if (strcmp(name, "type") == 0 && !ev->type)
            ev->type = strdup(val);
        else if (strcmp(name, "data") == 0 && !ev->data)
            ev->data = json_loads(val, JSON_DECODE_ANY, NULL);
        else if (strcmp(name, "ts") == 0)
            ev->ts_ms = strtoll(val, NULL, 10);
    }
    ev->id = strdup(e->element[0]->str);
    if (!ev->type)
        ev->type = strdup("");
    if (!ev->data)
        ev->data = json_null();
    if (!ev->id || !ev->type) {
        qs_events_free(ev, 1);
        return false;
    }
    return true;
}

/* Append the entries of `list` (an array of stream entries) to out[*n..max). */
static void add_events(const redisReply *list, qs_event *out, size_t max, size_t *n) {
    for (size_t i = 0; list && list->type == REDIS_REPLY_ARRAY && i < list->elements; i++)
        if (*n < max && parse_event(list->element[i], &out[*n]))
            (*n)++;
}

int qs_events_read(qs_redis *r, const char *stream, const char *group, const char *consumer,
                   long block_ms, qs_event *out, size_t max, size_t *n) {
    if (n)
        *n = 0;
    if (!r || !stream || !*stream || !group || !*group || !consumer || !*consumer || !out || !n ||
        max == 0 || block_ms < 0)
        return QS_EINVAL;
    char count[24], idle[24], block[24];
    snprintf(count, sizeof count, "%zu", max);
    snprintf(idle, sizeof idle, "%d", EVENTS_RECLAIM_MS);
    /* a group created here starts at the beginning of the stream: events published before the
     * first reader started are not missed */
    const char *argv[11] = {"XAUTOCLAIM", stream, group, consumer, idle, "0-0", "COUNT", count};
    redisReply *rep = NULL;
    int rc = checked(send_grouped(r, stream, group, 8, argv), "xautoclaim", 2, &rep);
    if (rc != QS_OK)
        return rc;
    add_events(rep->element[1], out, max, n);
    freeReplyObject(rep);
    if (*n == max)
        return QS_OK;
    snprintf(count, sizeof count, "%zu", max - *n);
    snprintf(block, sizeof block, "%ld",
             block_ms < EVENTS_BLOCK_MAX_MS ? block_ms : EVENTS_BLOCK_MAX_MS);
    int argc = 0;
    const char *head[] = {"XREADGROUP", "GROUP", group, consumer, "COUNT", count};
    for (size_t i = 0; i < QS_ARRAY_LEN(head); i++)
        argv[argc++] = head[i];
    if (*n == 0 && block_ms > 0) {
        argv[argc++] = "BLOCK";
        argv[argc++] = block;
    }
    argv[argc++] = "STREAMS";
    argv[argc++] = stream;
    argv[argc++] = ">";
    rc = checked(send_grouped(r, stream, group, argc, argv), "xreadgroup", 0, &rep);
    if (rc != QS_OK)
        return rc;
    /* [[stream, [entries...]]] or nil when nothing came */
    if (is_array(rep, 1) && is_array(rep->element[0], 2))
        add_events(rep->element[0]->element[1], out, max, n);
    freeReplyObject(rep);
    return QS_OK;
}

int qs_events_ack(qs_redis *r, const char *stream, const char *group, const char *id) {
    if (!r || !stream || !group)
        return QS_EINVAL;
    if (!valid_id(id))
        return QS_ENOTFOUND;
    redisReply *rep = NULL;
    int rc = checked(qs_redis_cmd(r, "XACK %s %s %s", stream, group, id), "events_ack", 0, &rep);
    if (rc == QS_OK) {
        rc = rep->type != REDIS_REPLY_INTEGER ? QS_EPROTO : rep->integer > 0 ? QS_OK : QS_ENOTFOUND;
        freeReplyObject(rep);
    }
    return rc;
}

void qs_events_free(qs_event *ev, size_t n) {
    for (size_t i = 0; ev && i < n; i++) {
        free(ev[i].id);
        free(ev[i].type);
        json_decref(ev[i].data);
        memset(&ev[i], 0, sizeof ev[i]);
    }
}
