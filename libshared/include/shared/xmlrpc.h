/* xmlrpc.h — a small, strict XML-RPC encoder/decoder over jansson values (no libxml2).
 *
 * Values map as: JSON null ↔ <nil/>, integer ↔ <int>/<i4> (<i8> outside 32 bits), real ↔
 * <double>, true/false ↔ <boolean>, string ↔ <string> (and untyped <value>text</value>),
 * array ↔ <array><data>, object ↔ <struct>. When decoding, <base64> and <dateTime.iso8601>
 * become JSON strings holding their text as sent (not decoded).
 *
 * The decoder accepts only the XML-RPC grammar: an optional <?xml ...?> prolog, the elements
 * above without attributes, whitespace between elements, the five predefined entities and
 * numeric character references. Anything else (comments, DOCTYPE, CDATA, unknown elements,
 * trailing text, invalid UTF-8, control characters) is refused, as are documents larger than
 * QS_XMLRPC_MAX_SIZE and values nested deeper than QS_XMLRPC_MAX_DEPTH. Pure functions. */
#ifndef QS_XMLRPC_H
#define QS_XMLRPC_H

#include <jansson.h>
#include <stddef.h>

#include "shared/buf.h"

#define QS_XMLRPC_MAX_DEPTH 32         /* nested arrays/structs */
#define QS_XMLRPC_MAX_SIZE (16u << 20) /* bytes of one document */
/** Returned (positive) by the response decoder when the document is a <fault>. */
#define QS_XMLRPC_FAULT 1

typedef struct {
    long code;         /* faultCode */
    char message[512]; /* faultString (truncated) */
} qs_xmlrpc_fault;

/** <methodCall>: `params` is a JSON array (or NULL for none). Appends to `out`. 0, QS_EINVAL
 *  (a value that cannot be expressed: control characters, non-finite real, too deep),
 *  QS_ENOMEM. */
int qs_xmlrpc_encode_call(const char *method, const json_t *params, qs_buf *out);
/** <methodResponse> with one param holding `value`. As qs_xmlrpc_encode_call. */
int qs_xmlrpc_encode_response(const json_t *value, qs_buf *out);
/** <methodResponse><fault> with faultCode/faultString. */
int qs_xmlrpc_encode_fault(long code, const char *message, qs_buf *out);

/** Decode a <methodResponse>. 0 with *result (a new reference; JSON null for <nil/>);
 *  QS_XMLRPC_FAULT with *fault filled (when non-NULL) and *result NULL; QS_EPROTO for a
 *  malformed document (err says where), QS_ETOOBIG over the size limit, QS_ENOMEM. */
int qs_xmlrpc_decode_response(const char *xml, size_t len, json_t **result, qs_xmlrpc_fault *fault,
                              char *err, size_t errlen);
/** Decode a <methodCall>: *method (malloc'd, free()) and *params (a new JSON array). 0,
 *  QS_EPROTO, QS_ETOOBIG, QS_ENOMEM. */
int qs_xmlrpc_decode_call(const char *xml, size_t len, char **method, json_t **params, char *err,
                          size_t errlen);

#endif
