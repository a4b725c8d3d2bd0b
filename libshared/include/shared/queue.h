/* queue.h — a durable work queue on Redis Streams, and a small cross-service event stream.
 *
 * A queue is a name (the stream key; other keys are "<name>:..."), one consumer group and any
 * number of consumers in any number of processes. Delivery is at least once: a task taken and
 * neither acked nor failed within the visibility timeout is handed to another consumer, so
 * task handlers must be idempotent. Tasks carry a dedupe key: a newer task for a key replaces
 * the one still waiting (keeping its place in the FIFO order), and at most one task per key is
 * in progress at a time. Failed tasks are retried with exponential backoff, then dead-lettered
 * to "<name>:dead". The envelope is described by proto/queue-task.schema.json; the design is
 * in src/queue.c. */
#ifndef QS_QUEUE_H
#define QS_QUEUE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "shared/redis.h"

typedef struct qs_queue qs_queue;

typedef struct {
    long visibility_ms;   /* taken and not acked/failed/extended this long → reclaimed; 300000 */
    int max_attempts;     /* takes before a failure dead-letters the task; default 5 */
    long backoff_base_ms; /* retry n waits base·2^(n-1) ms ...; default 10000 */
    long backoff_max_ms;  /* ... capped at this; default 900000 (15 min) */
    long dead_maxlen;     /* the dead-letter stream is trimmed to about this many; 10000 */
} qs_queue_opts;

#define QS_QUEUE_OPTS_INIT                                                                         \
    { 300000, 5, 10000, 900000, 10000 }

typedef enum {
    QS_TASK_WAITING,     /* not taken yet (in the stream, or parked behind a running task) */
    QS_TASK_IN_PROGRESS, /* taken by a consumer, not acked yet */
    QS_TASK_DELAYED,     /* failed, waiting for its retry time */
    QS_TASK_DEAD         /* dead-lettered */
} qs_task_state;

typedef struct {
    char *id;                 /* stream entry id: pass to ack/fail/extend; for a dead task its id
                                 in the dead-letter stream (for retry); "" when it has none */
    long long seq;            /* task number, stable from enqueue to ack or dead-letter */
    qs_task_state state;      /* (take: always QS_TASK_IN_PROGRESS) */
    char *key;                /* dedupe key, "" when none */
    char *payload;            /* JSON text, the newest enqueued for this task */
    int attempts;             /* takes so far; take counts the one it returns */
    char *last_error;         /* message of the last failure, NULL when none */
    char *consumer;           /* in progress: the consumer holding it, else NULL */
    long long enqueued_at_ms; /* first enqueue (ms since the epoch, Redis server clock) */
    long long updated_at_ms;  /* last time a newer payload replaced this one */
    long long taken_at_ms;    /* in progress: when it was taken; else 0 */
    long long due_at_ms;      /* delayed: when it becomes waiting again; else 0 */
    long long failed_at_ms;   /* dead: when it was dead-lettered; else 0 */
} qs_task;

typedef struct {
    long long waiting;     /* not taken yet (parked tasks included) */
    long long in_progress; /* taken, not acked */
    long long delayed;     /* waiting for a retry time */
    long long dead;        /* in the dead-letter stream */
} qs_queue_counts;

typedef enum {
    QS_ENQUEUE_ADDED,    /* a new task at the tail */
    QS_ENQUEUE_REPLACED, /* a waiting task with this key got the new payload, kept its place */
    QS_ENQUEUE_AFTER     /* a task with this key is in progress: added, runs after it */
} qs_enqueue_result;

typedef enum {
    QS_FAIL_RETRY,     /* scheduled for a retry after its backoff */
    QS_FAIL_DEAD,      /* attempts exhausted (or permanent): moved to the dead-letter stream */
    QS_FAIL_SUPERSEDED /* a newer task with the same key is waiting: this one was dropped */
} qs_fail_result;

/* ---- lifecycle ---- */

/** A queue handle on `r` (borrowed; one qs_redis per consumer thread keeps a blocking take from
 *  stalling the others). `consumer` names this consumer in the group (unique per process and
 *  thread; NULL = "<hostname>-<pid>-<n>"). `opts` NULL = defaults. Creates the group when
 *  Redis is reachable (again later otherwise). NULL on a bad argument or out of memory. */
qs_queue *qs_queue_open(qs_redis *r, const char *name, const char *group, const char *consumer,
                        const qs_queue_opts *opts);
void qs_queue_free(qs_queue *q);
/** The consumer name in use. */
const char *qs_queue_consumer(const qs_queue *q);

/* ---- producing and consuming ---- */

/** Add `payload` (JSON text) under dedupe `key` (NULL or "" = no dedupe). A task with `key`
 *  not taken yet — waiting, parked, or delayed for a retry (which keeps its retry time,
 *  attempts and last_error) — gets the new payload in place; while one is in progress the new
 *  task runs after it. `res` may be NULL. 0, QS_EINVAL (payload not JSON), QS_EUNAVAIL,
 *  QS_EPROTO. */
int qs_queue_enqueue(qs_queue *q, const char *payload, const char *key, qs_enqueue_result *res);
/** Take the next task: retries that are due go back to the tail, a task whose visibility
 *  timeout expired is reclaimed first, then the oldest waiting. Waits up to `block_ms` (0 = do
 *  not wait). 0 with *out filled (qs_task_clear it), QS_ENOTFOUND when nothing came,
 *  QS_EUNAVAIL, QS_EPROTO. */
int qs_queue_take(qs_queue *q, long block_ms, qs_task *out);
/** The task succeeded. 0; QS_ENOTFOUND when it is not in progress (already acked, or unknown);
 *  QS_ECONFLICT when another consumer reclaimed it (its result is the one that counts). */
int qs_queue_ack(qs_queue *q, const char *id);
/** The task failed with `error` (a message for operators, never a secret). Retried after the
 *  backoff unless attempts are exhausted or `permanent`, which dead-letter it. `res` may be
 *  NULL. Same errors as qs_queue_ack. */
int qs_queue_fail(qs_queue *q, const char *id, const char *error, bool permanent,
                  qs_fail_result *res);
/** Still working on it: restart the visibility timeout. Same errors as qs_queue_ack. */
int qs_queue_extend(qs_queue *q, const char *id);

/* ---- inspecting and repairing (for an HTTP API) ---- */

int qs_queue_get_counts(qs_queue *q, qs_queue_counts *out);
/** Up to `limit` tasks in `state`, oldest first, as a malloc'd array (qs_tasks_free). */
int qs_queue_list(qs_queue *q, qs_task_state state, size_t limit, qs_task **out, size_t *n);
/** Move dead task `id` (NULL = all of them) back to the queue with attempts reset; a dead task
 *  whose key has a newer task waiting is dropped instead. `moved` (may be NULL) counts the
 *  tasks requeued. 0; QS_ENOTFOUND when `id` is not in the dead-letter stream. */
int qs_queue_retry_dead(qs_queue *q, const char *id, size_t *moved);

void qs_task_clear(qs_task *t);
void qs_tasks_free(qs_task *tasks, size_t n);
/** The task as the JSON envelope of proto/queue-task.schema.json (new reference; NULL on
 *  ENOMEM). A payload that is not JSON is carried as a string. */
json_t *qs_task_to_json(const qs_task *t);
/** "waiting", "in_progress", "delayed", "dead". */
const char *qs_task_state_name(qs_task_state s);

/* ---- events: a capped stream every interested service reads with its own group ---- */

typedef struct {
    char *id;        /* stream entry id, for qs_events_ack */
    char *type;      /* e.g. "repository.created" */
    json_t *data;    /* owned; JSON null when the entry carried none */
    long long ts_ms; /* when it was published (publisher's clock) */
} qs_event;

/** The one event stream the services share (repository.created, manifests.pushed, ...). */
#define QS_EVENTS_STREAM "quayside:events"
#define QS_EVENTS_MAXLEN 10000 /* the stream is trimmed to about this many entries */

/** Append an event `type` with `data` (borrowed, may be NULL). `id_out` (may be NULL) gets the
 *  malloc'd entry id. 0, QS_EINVAL, QS_EUNAVAIL. */
int qs_events_publish(qs_redis *r, const char *stream, const char *type, const json_t *data,
                      char **id_out);
/** Up to `max` events for `consumer` of `group` (created at the start of the stream on first
 *  use): events another consumer of the group read but did not ack within 60 s first, then new
 *  ones, waiting up to `block_ms` (capped at 4000; 0 = do not wait). *n = 0 when none.
 *  0, QS_EINVAL, QS_EUNAVAIL, QS_EPROTO. */
int qs_events_read(qs_redis *r, const char *stream, const char *group, const char *consumer,
                   long block_ms, qs_event *out, size_t max, size_t *n);
/** Done with an event (handled or given up on); unacked events come back after 60 s. */
int qs_events_ack(qs_redis *r, const char *stream, const char *group, const char *id);
/** Free the contents of ev[0..n) (the array itself is the caller's). */
void qs_events_free(qs_event *ev, size_t n);

#endif
