/* courier.h — operator-courier's bundle validation (reference/omps.md §B.3–B.4), with its
 * exact messages, on the bundles omps_manifests_load found.
 *
 * The result is courier's validation_json, `{"errors":[...],"warnings":[...]}`, ready for
 * OMPS's `validation_info`: the push is refused when errors is not empty (courier's
 * "Resulting bundle is invalid, input yaml is improperly defined."), warnings never refuse. */
#ifndef OMPS_COURIER_H
#define OMPS_COURIER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "omps/manifests.h"

/** courier's message when any error was logged (OMPS prefixes "Failed to push manifest: "). */
#define OMPS_COURIER_INVALID_MSG "Resulting bundle is invalid, input yaml is improperly defined."

typedef struct {
    const char *repository; /* the Quay repository; NULL skips the packageName check */
    bool owned_optional;    /* courier 2.1.11: a missing or null `owned` is no error. false =
                               2.1.10, which OMPS pins: missing is an error, null crashes */
} omps_courier_opts;

#define OMPS_COURIER_OPTS_INIT                                                                     \
    { NULL, false }

/** Validate every bundle of m (flat: one; nested: one per version folder, messages
 *  concatenated in folder order) and set *info to a new {"errors","warnings"} object.
 *  Returns 0 (look at the errors array for the verdict), QS_ENOMEM, or QS_EPROTO when courier
 *  itself would have raised (a Python TypeError/IndexError on values of an unexpected type,
 *  e.g. `channels: 5`; OMPS answered 500 QuayCourierError "Failed to push manifest: <err>"),
 *  with the Python exception text in err and *info NULL. */
int omps_courier_validate(const omps_manifests *m, const omps_courier_opts *opts, json_t **info,
                          char *err, size_t errlen);

/** The same on one bundle given as documents: arrays of CRD, CSV and package documents;
 *  `nested` skips the currentCSV-in-bundle check as courier does for version folders.
 *  Messages are appended to info's "errors"/"warnings" arrays (info must have both). */
int omps_courier_validate_bundle(const json_t *crds, const json_t *csvs, const json_t *packages,
                                 bool nested, const omps_courier_opts *opts, json_t *info,
                                 char *err, size_t errlen);

/** True when info has no errors (courier's is_valid). */
bool omps_courier_valid(const json_t *info);

#endif
