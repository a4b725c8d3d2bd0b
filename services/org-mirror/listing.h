/* listing.h — the organisation-level part of a run: every source repository (all pages), the
 * destination's repositories with their states, and the checks that the destination
 * organisation and robot exist. */
#ifndef ORGM_LISTING_H
#define ORGM_LISTING_H

#include <jansson.h>
#include <stddef.h>

#include "org-mirror/ctx.h"

typedef struct {
    json_t *source;      /* array of repository names */
    json_t *destination; /* {name: {"state": s, "is_public": b}}; NULL in copy mode */
    char error[600];     /* why the organisation cannot be run ("" when it can) */
} orgm_listing;

/** List and check organisation `oi`. 0, or an error with out->error telling what failed,
 *  where, and Quay's own message ("the source token for acme was refused by quay.io: ...").
 *  A check the token is not allowed to make (403: robot and organisation reads need
 *  org:admin) is logged and skipped; the mirror config POST then says what is wrong. */
int orgm_list_org(orgm_ctx *c, size_t oi, orgm_listing *out);
void orgm_listing_free(orgm_listing *l);

#endif
