/* sources.c — turning the config and the cluster into wanted mirrors.
 *
 * Four sources, each optional, as in ci-images-mirror:
 *   - image stream tags (IMAGESTREAM_*): every tag of the listed namespaces and streams plus
 *     the listed tags; the ignore list, supplementalCIImages keys and qciToAppCIImages keys
 *     win (so the sources never fight over a tag). Source by digest:
 *     <SOURCE_REGISTRY>/<ns>/<name>@<image>; destination
 * <DESTINATION_REPOSITORY>:<ns>_<name>_<tag>.
 *   - supplementalCIImages: the entry's pull spec → <DESTINATION_REPOSITORY>:<ns>_<name>_<tag>.
 *   - artImages: image streams of a namespace whose names (and optionally tags) match the
 *     rule's regexes, with ignoredSources applied, mirrored like image stream tags.
 *   - qciToAppCIImages: the reverse, emergency path: the QCI image →
 * <SOURCE_REGISTRY>/<ns>/<name>:<tag>. Mirrors into the QCI repository also get the
 * <YYYYMMDD>_sha256_<hex> tag so quay.io's garbage collection never takes an image in use. */
#include "mirror/sources.h"

#include <stdio.h>
#include <string.h>

#include "mirror/naming.h"
#include "shared/common.h"
#include "shared/log.h"

int mirror_want_for_istag(const mirror_settings *s, const char *ns, const char *name,
                          const char *tag, const char *digest, const char *owner,
                          mirror_want *out) {
    memset(out, 0, sizeof *out);
    mirror_istag ist;
    snprintf(ist.ns, sizeof ist.ns, "%s", ns);
    snprintf(ist.name, sizeof ist.name, "%s", name);
    snprintf(ist.tag, sizeof ist.tag, "%s", tag);
    char qci[200];
    if (mirror_qci_tag(&ist, qci, sizeof qci) != QS_OK)
        return QS_EINVAL;
    if (digest)
        snprintf(out->source, sizeof out->source, "%s/%s/%s@%s", s->source_registry, ns, name,
                 digest);
    else
        snprintf(out->source, sizeof out->source, "%s/%s/%s:%s", s->source_registry, ns, name, tag);
    snprintf(out->destination, sizeof out->destination, "%s:%s", s->destination, qci);
    snprintf(out->source_tag_ref, sizeof out->source_tag_ref, "%s/%s:%s", ns, name, tag);
    out->owner = owner;
    out->date_tag = true;
    return QS_OK;
}

int mirror_sources_config(const mirror_config *cfg, const mirror_settings *s, mirror_wants *out) {
    if (!cfg)
        return QS_OK;
    for (size_t i = 0; i < mirror_config_supplemental_count(cfg); i++) {
        const mirror_entry *e = mirror_config_supplemental_at(cfg, i);
        mirror_want w;
        if (mirror_want_for_istag(s, e->target.ns, e->target.name, e->target.tag, NULL,
                                  "supplemental", &w) != QS_OK)
            continue;
        mirror_config_source_pull_spec(cfg, &e->source, w.source, sizeof w.source);
        if (mirror_wants_add(out, &w) != QS_OK)
            return QS_ENOMEM;
    }
    for (size_t i = 0; i < mirror_config_qci_count(cfg); i++) {
        const mirror_entry *e = mirror_config_qci_at(cfg, i);
        mirror_want w = {.owner = "qci", .date_tag = false};
        snprintf(w.source, sizeof w.source, "%s", e->source.image);
        int n = snprintf(w.destination, sizeof w.destination, "%s/%s/%s:%s", s->source_registry,
                         e->target.ns, e->target.name, e->target.tag);
        if (n < 0 || (size_t)n >= sizeof w.destination)
            continue;
        snprintf(w.source_tag_ref, sizeof w.source_tag_ref, "%s", e->key);
        if (mirror_wants_add(out, &w) != QS_OK)
            return QS_ENOMEM;
    }
    return QS_OK;
}

/* Is ns/name:tag claimed by the ignore list or by a config entry? */
static bool istag_excluded(const mirror_settings *s, const mirror_config *cfg, const char *istag) {
    if (mirror_list_has(&s->ignore_tags, istag))
        return true;
    for (size_t i = 0; cfg && i < mirror_config_supplemental_count(cfg); i++)
        if (strcmp(mirror_config_supplemental_at(cfg, i)->key, istag) == 0)
            return true;
    for (size_t i = 0; cfg && i < mirror_config_qci_count(cfg); i++)
        if (strcmp(mirror_config_qci_at(cfg, i)->key, istag) == 0)
            return true;
    return false;
}

typedef enum { PICK_ALL, PICK_LISTED_TAGS, PICK_ART } pick_mode;

typedef struct {
    const mirror_settings *s;
    const mirror_config *cfg;
    const mirror_art_rule *art; /* PICK_ART */
    pick_mode mode;
    mirror_wants *out;
} pick_ctx;

/* One tag of one stream: decide and add. */
static int pick_tag(pick_ctx *p, const char *ns, const char *name, const json_t *t) {
    const char *tag = json_string_value(json_object_get(t, "tag"));
    const json_t *item = json_array_get(json_object_get(t, "items"), 0);
    const char *digest = json_string_value(json_object_get(item, "image"));
    if (!tag || !digest || strncmp(digest, "sha256:", 7) != 0)
        return QS_OK;
    char istag[600];
    snprintf(istag, sizeof istag, "%s/%s:%s", ns, name, tag);
    if (p->mode == PICK_LISTED_TAGS && !mirror_list_has(&p->s->tags, istag))
        return QS_OK;
    if (istag_excluded(p->s, p->cfg, istag))
        return QS_OK;
    if (p->mode == PICK_ART) {
        if (!mirror_art_match(p->art, name, tag))
            return QS_OK;
        mirror_source src = {.ns = (char *)ns, .name = (char *)name, .tag = (char *)tag};
        const char *reason = NULL;
        if (p->cfg && mirror_config_is_ignored(p->cfg, &src, &reason))
            return QS_OK;
    }
    mirror_want w;
    if (mirror_want_for_istag(p->s, ns, name, tag, digest,
                              p->mode == PICK_ART ? "art" : "imagestream", &w) != QS_OK) {
        qs_log(QS_LOG_WARN, "image stream tag cannot be named in the destination", "istag", istag,
               NULL);
        return QS_OK;
    }
    return mirror_wants_add(p->out, &w);
}

static int pick_stream(pick_ctx *p, const json_t *is) {
    const json_t *md = json_object_get(is, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *name = json_string_value(json_object_get(md, "name"));
    if (!ns || !name)
        return QS_OK;
    if (p->mode == PICK_ART && !mirror_art_match(p->art, name, NULL))
        return QS_OK;
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(json_object_get(is, "status"), "tags"), i, t) {
        if (pick_tag(p, ns, name, t) != QS_OK)
            return QS_ENOMEM;
    }
    return QS_OK;
}

/* GET one stream or a namespace's list and pick from it. */
static int read_streams(qs_kube *kube, pick_ctx *p, const char *ns, const char *name) {
    char path[600];
    snprintf(path, sizeof path, "/apis/image.openshift.io/v1/namespaces/%s/imagestreams%s%s", ns,
             name ? "/" : "", name ? name : "");
    long status = 0;
    json_t *body = NULL;
    if (qs_kube_call(kube, "GET", path, NULL, &status, &body) != QS_OK) {
        qs_log(QS_LOG_WARN, "cluster unavailable: image streams not read", "namespace", ns, NULL);
        return QS_EUNAVAIL;
    }
    int rc = QS_OK;
    if (status == 404) {
        qs_log(QS_LOG_INFO, "image stream not found", "namespace", ns, "name", name, NULL);
    } else if (status != 200) {
        qs_log(QS_LOG_WARN, "image streams not readable", "namespace", ns, NULL);
        rc = QS_EUNAVAIL;
    } else if (name) {
        rc = pick_stream(p, body);
    } else {
        size_t i;
        const json_t *is;
        json_array_foreach(json_object_get(body, "items"), i, is) {
            if ((rc = pick_stream(p, is)) != QS_OK)
                break;
        }
    }
    json_decref(body);
    return rc;
}

int mirror_sources_cluster(qs_kube *kube, const mirror_settings *s, const mirror_config *cfg,
                           mirror_wants *out) {
    if (!kube)
        return QS_OK;
    int worst = QS_OK;
    pick_ctx p = {s, cfg, NULL, PICK_ALL, out};
    for (size_t i = 0; i < s->namespaces.n; i++)
        if (read_streams(kube, &p, s->namespaces.v[i], NULL) != QS_OK)
            worst = QS_EUNAVAIL;
    for (size_t i = 0; i < s->streams.n; i++) {
        char ns[254], name[254];
        if (sscanf(s->streams.v[i], "%253[^/]/%253s", ns, name) == 2 &&
            !mirror_list_has(&s->namespaces, ns))
            if (read_streams(kube, &p, ns, name) != QS_OK)
                worst = QS_EUNAVAIL;
    }
    p.mode = PICK_LISTED_TAGS;
    for (size_t i = 0; i < s->tags.n; i++) {
        char ns[254], name[254];
        if (sscanf(s->tags.v[i], "%253[^/]/%253[^:]", ns, name) == 2)
            if (read_streams(kube, &p, ns, name) != QS_OK)
                worst = QS_EUNAVAIL;
    }
    p.mode = PICK_ART;
    for (size_t i = 0; cfg && i < mirror_config_art_count(cfg); i++) {
        p.art = mirror_config_art_at(cfg, i);
        if (read_streams(kube, &p, p.art->ns, NULL) != QS_OK)
            worst = QS_EUNAVAIL;
    }
    return worst;
}
