/* greenwave.h — OMPS's optional Greenwave gate (reference/omps.md §A.11, §A.12): before a Koji
 * build's manifests are extracted, Greenwave must say that the build satisfies the policies
 * of the configured decision context and product version.
 *
 * Configured by the `greenwave` mapping of OMPS_CONF_FILE:
 *
 *   greenwave:
 *     url: https://greenwave.example.com/     # '/' appended when missing
 *     context: osbs_push_operator_manifests   # decision_context
 *     product_version: cvp                    # product_version
 *
 * All three are required non-empty strings; other keys are refused. Without the mapping (or
 * with `greenwave: null`) the gate is off and /health/ping reports `"greenwave": null`. */
#ifndef OMPS_GREENWAVE_H
#define OMPS_GREENWAVE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "omps/errors.h"
#include "shared/config.h"
#include "shared/http_client.h"

/** The `greenwave` mapping; all NULL when Greenwave is not configured. */
typedef struct {
    char *url;             /* ends with '/' */
    char *context;         /* decision_context */
    char *product_version; /* product_version */
} omps_greenwave_conf;

/** Check the `greenwave` value `v` of the file `where` and take it into *out (zeroed first;
 *  left disabled unless everything is valid). JSON null = not configured. Every problem is
 *  recorded in errs as "<where>: greenwave...: <what>". Returns the number of problems. */
size_t omps_greenwave_conf_parse(const json_t *v, const char *where, omps_greenwave_conf *out,
                                 qs_conf *errs);
void omps_greenwave_conf_free(omps_greenwave_conf *g);
/** Is the gate on? */
bool omps_greenwave_enabled(const omps_greenwave_conf *g);

/** GREENWAVE.check_build(nvr): POST <url>api/v1.0/decision with {"decision_context",
 *  "product_version", "subject_identifier": nvr, "subject_type": "koji_build"} through `h`.
 *  0 when the policies are satisfied (`policies_satisfied` is true); else e is set, with
 *  greenwave_response = the answer's JSON ({} when it had none):
 *    500 GreenwaveError "Request failed: <transport error>" (greenwave_response {});
 *    500 GreenwaveError "Greenwave unexpected response code: <status>" (not 200);
 *    500 GreenwaveError "Missing key 'policies_satisfied' in answer for nvr <nvr>";
 *    400 GreenwaveUnsatisfiedError "Policies for nvr <nvr> were not satisfied". */
int omps_greenwave_check(const omps_greenwave_conf *g, qs_http *h, const char *nvr, omps_error *e);

/** GREENWAVE.get_version() for /health/ping: GET <url>api/v1.0/about, its string `version`.
 *  0 (the version in `version`, may be NULL), or an error with `why` = "Failed to get
 *  Greenwave version: <reason>". */
int omps_greenwave_version(const omps_greenwave_conf *g, qs_http *h, char *version, size_t vcap,
                           char *why, size_t whycap);

#endif
