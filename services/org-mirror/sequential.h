/* sequential.h — `org-mirror --sequential`: the reference script's algorithm, one call at a
 * time, no queue — the baseline the benchmark compares the service with. */
#ifndef ORGM_SEQUENTIAL_H
#define ORGM_SEQUENTIAL_H

#include <stddef.h>

#include "org-mirror/ctx.h"

/** One pass over every organisation; the number of organisations with a failure. */
size_t orgm_sequential(orgm_ctx *c);

#endif
