/* sources.h — where the mirror's work comes from: the config file and the cluster. */
#ifndef MIRROR_SOURCES_H
#define MIRROR_SOURCES_H

#include "mirror/mirror_config.h"
#include "mirror/settings.h"
#include "mirror/task.h"
#include "shared/kube.h"

/** supplementalCIImages (to DESTINATION_REPOSITORY) and qciToAppCIImages (back to
 *  SOURCE_REGISTRY). `cfg` may be NULL (no MIRROR_CONFIG). 0 or QS_ENOMEM. */
int mirror_sources_config(const mirror_config *cfg, const mirror_settings *s, mirror_wants *out);

/** Image stream tags of IMAGESTREAM_NAMESPACES / IMAGESTREAMS / IMAGESTREAM_TAGS (the ignore
 *  list and the config's keys win) and the config's artImages rules, read from the cluster.
 *  `kube` NULL = nothing to read. 0, or QS_EUNAVAIL when the cluster could not be read (what
 *  was read is still in `out`; the caller decides). */
int mirror_sources_cluster(qs_kube *kube, const mirror_settings *s, const mirror_config *cfg,
                           mirror_wants *out);

/** The want for one image stream tag whose image is `digest` (exposed for tests). */
int mirror_want_for_istag(const mirror_settings *s, const char *ns, const char *name,
                          const char *tag, const char *digest, const char *owner, mirror_want *out);

#endif
