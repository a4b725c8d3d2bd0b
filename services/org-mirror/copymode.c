/* copymode.c — MODE=copy: for destinations that are plain registries (no Quay mirroring), a
 * repository's tags are compared here and the ones that differ are handed to the mirror
 * service's workers as ordinary mirror tasks (proto/mirror-task.schema.json on
 * MIRROR_QUEUE, dedupe key = destination, as the mirror's own API enqueues them), so the copy
 * itself — blobs streamed, digests verified, retries — is the mirror's.
 *
 * Source tags come from Quay's tag API (with their manifest digests) or, with
 * SOURCE_API=registry, from /v2/<repo>/tags/list plus a manifest HEAD per matching tag. The
 * destination is asked with a manifest HEAD per tag; equal digests are left alone, so a
 * second run queues nothing. The source is pinned by digest (`host/org/repo:tag@digest`): the
 * workers copy what was compared, even if the tag moves meanwhile. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "org-mirror/repo.h"
#include "shared/common.h"
#include "shared/log.h"

typedef struct {
    char *tag;
    char *digest;
} src_tag;

typedef struct {
    src_tag *v;
    size_t n;
} src_tags;

static void tags_free(src_tags *t) {
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].tag);
        free(t->v[i].digest);
    }
    free(t->v);
}

static int tags_add(src_tags *t, const char *tag, const char *digest) {
    src_tag *v = realloc(t->v, (t->n + 1) * sizeof *v);
    if (!v)
        return QS_ENOMEM;
    t->v = v;
    v[t->n].tag = strdup(tag);
    v[t->n].digest = strdup(digest);
    if (!v[t->n].tag || !v[t->n].digest) {
        free(v[t->n].tag);
        free(v[t->n].digest);
        return QS_ENOMEM;
    }
    t->n++;
    return QS_OK;
}

static int fail_registry(orgm_repo_result *res, int rc, const char *what, const char *repo) {
    res->outcome = ORGM_OUT_FAILED;
    res->retry = rc == QS_EUNAVAIL;
    snprintf(res->error, sizeof res->error, "%s %.400s: %s", what, repo, qs_strerror(rc));
    return rc;
}

/* The matching source tags with their digests. */
static int source_tags(orgm_ctx *c, size_t oi, const orgm_org *o, const char *src_repo,
                       const char *repo, src_tags *out, orgm_repo_result *res) {
    if (c->src) {
        json_t *arr = NULL;
        qs_quay_error e = {0};
        int rc = qs_quay_tags_list(c->src[oi], o->name, repo, &arr, &e);
        if (rc != QS_OK)
            return orgm_repo_fail(res, rc, "listing the tags of source repository", o->name, repo,
                                  &e);
        size_t i;
        json_t *t;
        json_array_foreach(arr, i, t) {
            const char *name = json_string_value(json_object_get(t, "name"));
            const char *dg = json_string_value(json_object_get(t, "manifest_digest"));
            if (name && dg && orgm_globs_match(&o->globs, name) && tags_add(out, name, dg) != 0)
                rc = QS_ENOMEM;
        }
        json_decref(arr);
        return rc;
    }
    char **names = NULL;
    size_t n = 0;
    int rc = qs_registry_tags(c->src_reg, src_repo, 0, NULL, &names, &n);
    if (rc != QS_OK)
        return fail_registry(res, rc, "listing the tags of source repository", src_repo);
    for (size_t i = 0; rc == QS_OK && i < n; i++) {
        if (!orgm_globs_match(&o->globs, names[i]))
            continue;
        qs_manifest m = {0};
        rc = qs_registry_manifest_head(c->src_reg, src_repo, names[i], &m);
        if (rc == QS_OK && m.digest)
            rc = tags_add(out, names[i], m.digest);
        else if (rc == QS_ENOTFOUND)
            rc = QS_OK; /* deleted since the listing */
        else
            fail_registry(res, rc, "reading a source manifest of", src_repo);
        qs_manifest_free(&m);
    }
    qs_strv_free(names);
    return rc;
}

static int enqueue(qs_queue *mq, const char *source, const char *dest, const char *digest,
                   const char *current) {
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *p =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:b}", "source", source, "destination", dest,
                  "source_tag_ref", "", "source_digest", digest, "current_quay_digest", current,
                  "created_at", now, "owner", "org-mirror", "stale", 0, "date_tag", 0);
    char *text = p ? json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(p);
    int rc = text ? qs_queue_enqueue(mq, text, dest, NULL) : QS_ENOMEM;
    free(text);
    return rc;
}

int orgm_repo_copy(orgm_ctx *c, size_t oi, const orgm_task *t, qs_queue *mirror_q,
                   orgm_repo_result *res) {
    memset(res, 0, sizeof *res);
    const orgm_org *o = &c->s->orgs.v[oi];
    char src_repo[600], dst_repo[600];
    snprintf(src_repo, sizeof src_repo, "%s/%s", o->name, t->repository);
    snprintf(dst_repo, sizeof dst_repo, "%s/%s", o->destination, t->repository);
    src_tags tags = {0};
    int rc = source_tags(c, oi, o, src_repo, t->repository, &tags, res);
    long present = 0;
    for (size_t i = 0; rc == QS_OK && i < tags.n; i++) {
        qs_manifest m = {0};
        int hr = qs_registry_manifest_head(c->dst_reg, dst_repo, tags.v[i].tag, &m);
        if (hr == QS_OK)
            present++;
        if (hr != QS_OK && hr != QS_ENOTFOUND) {
            rc = fail_registry(res, hr, "reading a destination manifest of", dst_repo);
        } else if (hr == QS_ENOTFOUND || !m.digest || strcmp(m.digest, tags.v[i].digest) != 0) {
            char source[1200], dest[1000];
            snprintf(source, sizeof source, "%s/%s:%s@%s", c->s->source.host, src_repo,
                     tags.v[i].tag, tags.v[i].digest);
            snprintf(dest, sizeof dest, "%s/%s:%s", c->s->destination.host, dst_repo,
                     tags.v[i].tag);
            if (!c->s->dry_run && (rc = enqueue(mirror_q, source, dest, tags.v[i].digest,
                                                hr == QS_OK && m.digest ? m.digest : "")) != 0)
                fail_registry(res, rc, "queueing a mirror task for", dst_repo);
            res->tags_queued++;
        }
        qs_manifest_free(&m);
    }
    tags_free(&tags);
    if (rc != QS_OK)
        return rc;
    res->decided = true;
    res->d.action = res->tags_queued == 0 ? ORGM_ACT_UNCHANGED
                    : present == 0        ? ORGM_ACT_CREATE
                                          : ORGM_ACT_UPDATE;
    if (res->tags_queued)
        res->d.changes[res->d.nchanges++] = "tags";
    snprintf(res->state, sizeof res->state, "%s", present ? "PRESENT" : "");
    res->outcome = orgm_outcome_of(res->d.action);
    return QS_OK;
}
