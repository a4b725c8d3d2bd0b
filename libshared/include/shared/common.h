/* common.h — the one error enum every libshared module returns, and tiny shared macros.
 *
 * Functions return 0 (QS_OK) on success or a negative qs_err. The details of a failure go to
 * the caller's error buffer or the log; the code is what callers branch on. */
#ifndef QS_COMMON_H
#define QS_COMMON_H

#include <stddef.h>

typedef enum {
    QS_OK = 0,
    QS_ERR = -1,       /* unspecified failure */
    QS_ENOMEM = -2,    /* allocation failed */
    QS_EINVAL = -3,    /* bad argument or malformed input */
    QS_ENOTFOUND = -4, /* the thing does not exist (404) */
    QS_EEXISTS = -5,   /* the thing already exists (409 / "already exists") */
    QS_EAUTH = -6,     /* authentication failed or credentials invalid (401) */
    QS_EDENIED = -7,   /* authenticated but not allowed (403) */
    QS_EUNAVAIL = -8,  /* peer unreachable, transport error or 5xx after retries */
    QS_ETIMEOUT = -9,  /* a deadline passed */
    QS_ETOOBIG = -10,  /* a size limit was exceeded */
    QS_EDIGEST = -11,  /* content did not match its digest */
    QS_EPROTO = -12,   /* the peer answered something we cannot understand */
    QS_EEXPIRED = -13, /* a token or lease is past its expiry */
    QS_ECONFLICT = -14 /* a concurrent change won (lock held, version taken) */
} qs_err;

/** A short, stable, lower-case name for an error code ("not_found", "unavailable", ...). */
const char *qs_strerror(int err);

#define QS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define QS_UNUSED(x) ((void)(x))

#endif
