/* multipart.h — multipart/form-data request bodies (RFC 7578), as `curl -F file=@x.zip` sends.
 *
 * The body is already in memory (the server bounds its size); parts point into it, so parsing
 * copies no data. Malformed bodies are refused with a reason, never half-parsed. */
#ifndef QS_MULTIPART_H
#define QS_MULTIPART_H

#include <stddef.h>

#define QS_MULTIPART_MAX_PARTS 64

typedef struct {
    char *name;         /* the form field name (Content-Disposition name=) */
    char *filename;     /* filename= when the part is a file, else NULL */
    char *content_type; /* the part's Content-Type, or NULL */
    const char *data;   /* the part's bytes, inside the parsed body */
    size_t len;
} qs_part;

/** The boundary of a `multipart/form-data; boundary=...` Content-Type (quoted or not), as a
 *  malloc'd string; NULL when the type is not multipart/form-data or has no valid boundary. */
char *qs_multipart_boundary(const char *content_type);

/** Parse `body`. 0 with *parts (free with qs_multipart_free) and *n, or QS_EINVAL with a
 *  reason in err (no boundary, missing final boundary, part without Content-Disposition, too
 *  many parts, header block too large). */
int qs_multipart_parse(const char *content_type, const char *body, size_t len, qs_part **parts,
                       size_t *n, char *err, size_t errlen);
void qs_multipart_free(qs_part *parts, size_t n);
/** The first part named `name`, or NULL. */
const qs_part *qs_multipart_get(const qs_part *parts, size_t n, const char *name);

#endif
