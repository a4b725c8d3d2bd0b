/* koji_source.h — the operator-manifests archive of a Koji build (reference/omps.md §A.10):
 * getBuild (nil = not found), the archive named by the build's typeinfo or the legacy extra
 * key (then located through getBuildLogs), streamed to a file under a size limit. */
#ifndef OMPS_KOJI_SOURCE_H
#define OMPS_KOJI_SOURCE_H

#include <stdint.h>

#include "omps/errors.h"
#include "shared/koji.h"

/** Download the archive of build `nvr` into the new file `path` (at most max_bytes). 0, or e
 *  set: 404 KojiNVRBuildNotFound "NVR not found: <nvr>"; 400 KojiNotAnOperatorImage "Not an
 *  operator image: <nvr>"; 500 KojiManifestsArchiveNotFound "Expected archive '<name>' with
 *  manifests not found in build: <nvr>"; 400 OMPSUploadedFileError when the archive is over
 *  max_bytes; 500 KojiError for the hub or the download failing. */
int omps_koji_fetch(qs_koji *k, const char *nvr, const char *path, int64_t max_bytes,
                    omps_error *e);

#endif
