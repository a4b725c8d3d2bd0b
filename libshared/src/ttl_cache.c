/* ttl_cache.c — a bounded, thread-safe string → string map with per-entry expiry.
 *
 * A chained hash table (FNV-1a, power-of-two bucket count ≥ capacity) under one mutex.
 * Expired entries are dropped lazily when looked up. When a new key arrives and the cache
 * is full, a pass over every entry removes all expired ones; if none had expired, a second
 * pass finds the entry that expires soonest and drops it. A pass is O(capacity), paid only
 * by inserts into a full cache, which keeps the structure simple for the few thousand
 * entries the services hold. Time is CLOCK_MONOTONIC, so wall-clock jumps do not matter. */
#include "shared/ttl_cache.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shared/common.h"

typedef struct entry {
    struct entry *next;
    char *key, *value;
    double expires; /* qs_now_mono() deadline */
} entry;

struct qs_ttl_cache {
    pthread_mutex_t mu;
    entry **buckets;
    size_t nbuckets; /* power of two */
    size_t count, capacity;
};

double qs_now_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t hash(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

qs_ttl_cache *qs_ttl_cache_new(size_t capacity) {
    qs_ttl_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->capacity = capacity ? capacity : 1;
    c->nbuckets = 16;
    while (c->nbuckets < c->capacity && c->nbuckets < ((size_t)1 << 24))
        c->nbuckets <<= 1;
    c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
    if (!c->buckets) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

static void free_entry(entry *e) {
    free(e->key);
    free(e->value);
    free(e);
}

void qs_ttl_cache_free(qs_ttl_cache *c) {
    if (!c)
        return;
    for (size_t i = 0; i < c->nbuckets; i++) {
        for (entry *e = c->buckets[i], *next; e; e = next) {
            next = e->next;
            free_entry(e);
        }
    }
    pthread_mutex_destroy(&c->mu);
    free(c->buckets);
    free(c);
}

/* The link pointing at `key`'s entry (or at the NULL ending its chain). */
static entry **find(qs_ttl_cache *c, const char *key) {
    entry **link = &c->buckets[hash(key) & (c->nbuckets - 1)];
    while (*link && strcmp((*link)->key, key) != 0)
        link = &(*link)->next;
    return link;
}

static void unlink_entry(qs_ttl_cache *c, entry **link) {
    entry *e = *link;
    *link = e->next;
    free_entry(e);
    c->count--;
}

/* Drop every expired entry. */
static void sweep(qs_ttl_cache *c, double now) {
    for (size_t i = 0; i < c->nbuckets; i++) {
        entry **link = &c->buckets[i];
        while (*link) {
            if ((*link)->expires <= now)
                unlink_entry(c, link);
            else
                link = &(*link)->next;
        }
    }
}

/* The link to the entry expiring soonest, or NULL when empty. */
static entry **soonest(qs_ttl_cache *c) {
    entry **best = NULL;
    for (size_t i = 0; i < c->nbuckets; i++)
        for (entry **link = &c->buckets[i]; *link; link = &(*link)->next)
            if (!best || (*link)->expires < (*best)->expires)
                best = link;
    return best;
}

int qs_ttl_cache_put(qs_ttl_cache *c, const char *key, const char *value, double ttl_s) {
    if (!c || !key || !value)
        return QS_EINVAL;
    if (!(ttl_s > 0)) { /* dead on arrival (or NaN): never displace a live entry for it */
        qs_ttl_cache_del(c, key);
        return QS_OK;
    }
    char *v = strdup(value);
    if (!v)
        return QS_ENOMEM;
    double now = qs_now_mono();
    pthread_mutex_lock(&c->mu);
    entry **link = find(c, key);
    if (*link) { /* replace in place */
        free((*link)->value);
        (*link)->value = v;
        (*link)->expires = now + ttl_s;
        pthread_mutex_unlock(&c->mu);
        return QS_OK;
    }
    if (c->count >= c->capacity) {
        sweep(c, now);
        entry **victim = c->count >= c->capacity ? soonest(c) : NULL;
        if (victim)
            unlink_entry(c, victim);
        link = find(c, key); /* the chain may have changed */
    }
    entry *e = calloc(1, sizeof *e);
    char *k = strdup(key);
    if (!e || !k) {
        pthread_mutex_unlock(&c->mu);
        free(e);
        free(k);
        free(v);
        return QS_ENOMEM;
    }
    e->key = k;
    e->value = v;
    e->expires = now + ttl_s;
    *link = e;
    c->count++;
    pthread_mutex_unlock(&c->mu);
    return QS_OK;
}

char *qs_ttl_cache_get(qs_ttl_cache *c, const char *key) {
    if (!c || !key)
        return NULL;
    char *out = NULL;
    pthread_mutex_lock(&c->mu);
    entry **link = find(c, key);
    if (*link && (*link)->expires <= qs_now_mono())
        unlink_entry(c, link);
    else if (*link)
        out = strdup((*link)->value);
    pthread_mutex_unlock(&c->mu);
    return out;
}

void qs_ttl_cache_del(qs_ttl_cache *c, const char *key) {
    if (!c || !key)
        return;
    pthread_mutex_lock(&c->mu);
    entry **link = find(c, key);
    if (*link)
        unlink_entry(c, link);
    pthread_mutex_unlock(&c->mu);
}

size_t qs_ttl_cache_size(qs_ttl_cache *c) {
    if (!c)
        return 0;
    pthread_mutex_lock(&c->mu);
    sweep(c, qs_now_mono());
    size_t n = c->count;
    pthread_mutex_unlock(&c->mu);
    return n;
}
