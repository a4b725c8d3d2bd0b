/* yaml_emit.h — write a jansson tree as block-style YAML with libyaml, the way PyYAML
 * (courier's bundle.yaml) or ruamel (OMPS's rewrites) would.
 *
 * Strings that a YAML reader would take for something else (`true`, `1.0`, `null`, `2019-01-01`,
 * ...) are quoted; everything else follows libyaml's emitter, which PyYAML's is a port of. */
#ifndef OMPS_YAML_EMIT_H
#define OMPS_YAML_EMIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "shared/buf.h"

#define OMPS_YAML_MAX_DEPTH 64

/** Asked for every string scalar: true to request literal block style (`|`). `path` holds the
 *  keys from the root to the scalar, NULL for a sequence item; `depth` entries. */
typedef bool (*omps_yaml_literal_fn)(const char *const *path, size_t depth, void *ud);

typedef struct {
    bool sort_keys;               /* PyYAML's default; false keeps the document's order */
    int width;                    /* preferred line width: PyYAML 80, OMPS's ruamel 200 */
    bool unicode;                 /* write non-ASCII as is (false: escaped in double quotes) */
    bool yaml12;                  /* also quote strings a YAML 1.2 core reader would retype */
    bool literal_multiline;       /* multi-line strings in literal block style when possible */
    omps_yaml_literal_fn literal; /* optional per-scalar literal style choice */
    void *literal_ud;
} omps_yaml_emit_opts;

/** PyYAML `yaml.dump(x, default_flow_style=False)`: sorted keys, width 80, ASCII only. */
#define OMPS_YAML_EMIT_PYYAML                                                                      \
    { true, 80, false, false, false, NULL, NULL }

/** Append `doc` as one YAML document (no `---`) to `out`. Returns 0, QS_EINVAL (too deep, or
 *  libyaml refused; message in err) or QS_ENOMEM. */
int omps_yaml_emit(const json_t *doc, const omps_yaml_emit_opts *opts, qs_buf *out, char *err,
                   size_t errlen);

/** Would a plain scalar with this text be read back as a string? False when PyYAML's YAML 1.1
 *  resolvers (bool, int, float, null, timestamp, merge, value) — and with `yaml12` also the
 *  YAML 1.2 core schema — give it another type, so the emitter must quote it. */
bool omps_yaml_plain_is_str(const char *text, bool yaml12);

/** Python's repr() of a float as PyYAML writes it (`1.0`, `1.0e+16`, `.inf`, `.nan`). */
void omps_yaml_float_repr(double d, char *out, size_t outlen);

#endif
