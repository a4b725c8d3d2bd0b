/* store.c — the provisioner's records in Redis.
 *
 * Keys (every replica and worker shares them):
 *   prov:workspace:<ws>            hash: the workspace record (status.c's fields + "rev")
 *   prov:component:<ws>/<c>        hash: a component record ('/' cannot occur in a workspace)
 *   prov:workspaces                set of workspaces with a record
 *   prov:components:<ws>           set of the workspace's components
 *   prov:index:workspaces          hash ws → visible state (metrics, listing)
 *   prov:index:components          hash "<ws>/<c>" → visible state
 *
 * The API (one connection shared by its threads) and the workers (one each) both change
 * records, so every change is a compare-and-set: read the hash, apply a pure transition
 * (status.c), and write it with a Lua script that checks the record's "rev" is still the one
 * read, bumps it, and keeps the index and set in step — all atomically. A lost race simply
 * starts over from a fresh read. Removing a record goes through the same script. */
#include "appstudio-provisioner/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/common.h"
#include "shared/log.h"

#define MAX_RACES 20

const char *const PROV_STATES[4] = {"provisioning", "ready", "failed", "deleting"};

/* KEYS: record, index hash, membership set. ARGV: expected rev ("" = absent), index field,
 * index value ("" = remove the record), set member, then field/value pairs. */
static const char CAS_SCRIPT[] =
    "local rev = redis.call('HGET', KEYS[1], 'rev') or ''\n"
    "if rev ~= ARGV[1] then return 0 end\n"
    "if ARGV[3] == '' then\n"
    "  redis.call('DEL', KEYS[1])\n"
    "  redis.call('HDEL', KEYS[2], ARGV[2])\n"
    "  redis.call('SREM', KEYS[3], ARGV[4])\n"
    "  return 1\n"
    "end\n"
    "if #ARGV > 4 then redis.call('HSET', KEYS[1], unpack(ARGV, 5)) end\n"
    "redis.call('HINCRBY', KEYS[1], 'rev', 1)\n"
    "redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])\n"
    "redis.call('SADD', KEYS[3], ARGV[4])\n"
    "return 1\n";

/* HGETALL key → object of strings (empty when absent). NULL when Redis is unavailable. */
static json_t *hgetall(qs_redis *r, const char *key) {
    redisReply *rep = qs_redis_cmd(r, "HGETALL %s", key);
    if (!rep || rep->type != REDIS_REPLY_ARRAY) {
        if (rep)
            freeReplyObject(rep);
        return NULL;
    }
    json_t *o = json_object();
    for (size_t i = 0; i + 1 < rep->elements; i += 2)
        json_object_set_new(o, rep->element[i]->str ? rep->element[i]->str : "",
                            json_stringn(rep->element[i + 1]->str ? rep->element[i + 1]->str : "",
                                         rep->element[i + 1]->len));
    freeReplyObject(rep);
    return o;
}

/* Run the CAS script. 1 written, 0 lost the race, QS_EUNAVAIL. `fields` NULL = remove. */
static int cas(qs_redis *r, const char *key, const char *index, const char *set, long long rev,
               const char *index_field, const char *state, const char *member,
               const json_t *fields) {
    size_t nf = fields ? json_object_size(fields) : 0;
    size_t argc = 3 + 3 + 4 + 2 * nf;
    const char **argv = calloc(argc, sizeof *argv);
    size_t *lens = calloc(argc, sizeof *lens);
    if (!argv || !lens) {
        free(argv);
        free(lens);
        return QS_EUNAVAIL;
    }
    char revs[32] = "";
    if (rev > 0)
        snprintf(revs, sizeof revs, "%lld", rev);
    size_t i = 0;
    argv[i++] = "EVAL";
    argv[i++] = CAS_SCRIPT;
    argv[i++] = "3";
    argv[i++] = key;
    argv[i++] = index;
    argv[i++] = set;
    argv[i++] = revs;
    argv[i++] = index_field;
    argv[i++] = fields ? state : "";
    argv[i++] = member;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)fields, k, v) {
        argv[i++] = k;
        argv[i++] = json_string_value(v);
    }
    for (size_t j = 0; j < i; j++)
        lens[j] = strlen(argv[j]);
    redisReply *rep = qs_redis_cmdv(r, (int)i, argv, lens);
    free(argv);
    free(lens);
    int rc = QS_EUNAVAIL;
    if (rep && rep->type == REDIS_REPLY_INTEGER)
        rc = rep->integer == 1 ? 1 : 0;
    else if (rep && rep->type == REDIS_REPLY_ERROR)
        qs_log(QS_LOG_ERROR, "redis refused the record update", "error", rep->str, NULL);
    if (rep)
        freeReplyObject(rep);
    return rc;
}

/* ---- components ---- */

static void component_key(char *out, size_t n, const char *ws, const char *c) {
    snprintf(out, n, "prov:component:%s/%s", ws, c);
}

int prov_store_component_load(qs_redis *r, const char *ws, const char *component,
                              prov_component *c) {
    char key[600];
    component_key(key, sizeof key, ws, component);
    json_t *o = hgetall(r, key);
    if (!o)
        return QS_EUNAVAIL;
    int rc = prov_component_parse(o, c);
    json_decref(o);
    return rc;
}

int prov_store_component_update(qs_redis *r, const char *ws, const char *component,
                                prov_component_fn fn, void *ctx, prov_component *out) {
    char key[600], set[300], member[600];
    component_key(key, sizeof key, ws, component);
    snprintf(set, sizeof set, "prov:components:%s", ws);
    snprintf(member, sizeof member, "%s/%s", ws, component);
    prov_component *c = malloc(sizeof *c);
    if (!c)
        return QS_ENOMEM;
    int rc = QS_ECONFLICT;
    for (int race = 0; race < MAX_RACES; race++) {
        rc = prov_store_component_load(r, ws, component, c);
        if (rc != QS_OK)
            break;
        long long rev = c->rev;
        int what = fn(c, ctx);
        if (what < 0) {
            rc = what;
            break;
        }
        json_t *fields = what == PROV_STORE_REMOVE ? NULL : prov_component_fields(c);
        if (what == PROV_STORE_REMOVE && rev == 0) {
            rc = QS_OK; /* nothing to remove */
            break;
        }
        int w = cas(r, key, "prov:index:components", set, rev, member, prov_view_state(c),
                    component, fields);
        json_decref(fields);
        if (w == 1) {
            c->rev = what == PROV_STORE_REMOVE ? 0 : rev + 1;
            rc = QS_OK;
            break;
        }
        rc = w == 0 ? QS_ECONFLICT : w;
        if (w != 0)
            break;
    }
    if (rc == QS_OK && out)
        *out = *c;
    free(c);
    return rc;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int smembers(qs_redis *r, const char *key, char ***names, size_t *n) {
    *names = NULL;
    *n = 0;
    redisReply *rep = qs_redis_cmd(r, "SMEMBERS %s", key);
    if (!rep || rep->type != REDIS_REPLY_ARRAY) {
        if (rep)
            freeReplyObject(rep);
        return QS_EUNAVAIL;
    }
    char **v = calloc(rep->elements + 1, sizeof *v);
    for (size_t i = 0; v && i < rep->elements; i++)
        v[i] = strdup(rep->element[i]->str ? rep->element[i]->str : "");
    size_t count = v ? rep->elements : 0;
    freeReplyObject(rep);
    if (!v)
        return QS_ENOMEM;
    qsort(v, count, sizeof *v, cmp_str);
    *names = v;
    *n = count;
    return QS_OK;
}

int prov_store_components(qs_redis *r, const char *ws, char ***names, size_t *n) {
    char set[300];
    snprintf(set, sizeof set, "prov:components:%s", ws);
    return smembers(r, set, names, n);
}

void prov_store_names_free(char **names, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* ---- workspaces ---- */

int prov_store_workspace_load(qs_redis *r, const char *ws, prov_workspace *w) {
    char key[300];
    snprintf(key, sizeof key, "prov:workspace:%s", ws);
    json_t *o = hgetall(r, key);
    if (!o)
        return QS_EUNAVAIL;
    int rc = prov_workspace_parse(o, w);
    json_decref(o);
    return rc;
}

int prov_store_workspace_update(qs_redis *r, const char *ws, prov_workspace_fn fn, void *ctx,
                                prov_workspace *out) {
    char key[300];
    snprintf(key, sizeof key, "prov:workspace:%s", ws);
    prov_workspace w;
    int rc = QS_ECONFLICT;
    for (int race = 0; race < MAX_RACES; race++) {
        rc = prov_store_workspace_load(r, ws, &w);
        if (rc != QS_OK)
            break;
        long long rev = w.rev;
        int what = fn(&w, ctx);
        if (what < 0) {
            rc = what;
            break;
        }
        if (what == PROV_STORE_REMOVE && rev == 0) {
            rc = QS_OK;
            break;
        }
        json_t *fields = what == PROV_STORE_REMOVE ? NULL : prov_workspace_fields(&w);
        int c = cas(r, key, "prov:index:workspaces", "prov:workspaces", rev, ws,
                    prov_workspace_state(&w), ws, fields);
        json_decref(fields);
        if (c == 1) {
            w.rev = what == PROV_STORE_REMOVE ? 0 : rev + 1;
            rc = QS_OK;
            break;
        }
        rc = c == 0 ? QS_ECONFLICT : c;
        if (c != 0)
            break;
    }
    if (rc == QS_OK && out)
        *out = w;
    return rc;
}

int prov_store_count_states(qs_redis *r, long long counts[4]) {
    memset(counts, 0, 4 * sizeof *counts);
    redisReply *rep = qs_redis_cmd(r, "HVALS prov:index:components");
    if (!rep || rep->type != REDIS_REPLY_ARRAY) {
        if (rep)
            freeReplyObject(rep);
        return QS_EUNAVAIL;
    }
    for (size_t i = 0; i < rep->elements; i++)
        for (size_t s = 0; s < 4; s++)
            if (rep->element[i]->str && strcmp(rep->element[i]->str, PROV_STATES[s]) == 0)
                counts[s]++;
    freeReplyObject(rep);
    return QS_OK;
}
