/* buf.h — a growable byte buffer that is always NUL-terminated.
 *
 * Used for response bodies, JSON text and string building everywhere. A zeroed qs_buf
 * (QS_BUF_INIT) is an empty, valid buffer; qs_buf_free() returns it to that state. */
#ifndef QS_BUF_H
#define QS_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct {
    char *data; /* NUL-terminated contents (NULL while empty and never grown) */
    size_t len; /* bytes used, not counting the terminating NUL */
    size_t cap; /* bytes allocated */
} qs_buf;

#define QS_BUF_INIT                                                                                \
    { NULL, 0, 0 }

/** Make room for at least `extra` more bytes. Returns 0 or QS_ENOMEM. */
int qs_buf_reserve(qs_buf *b, size_t extra);
/** Append `n` bytes. Returns 0 or QS_ENOMEM. */
int qs_buf_append(qs_buf *b, const void *p, size_t n);
/** Append a NUL-terminated string. */
int qs_buf_puts(qs_buf *b, const char *s);
/** Append printf-formatted text. */
int qs_buf_printf(qs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int qs_buf_vprintf(qs_buf *b, const char *fmt, va_list ap);
/** The contents as a C string; "" for an empty buffer (never NULL). */
const char *qs_buf_str(const qs_buf *b);
/** Forget the contents but keep the allocation. */
void qs_buf_reset(qs_buf *b);
/** Free the allocation; the buffer is empty and reusable afterwards. */
void qs_buf_free(qs_buf *b);
/** A malloc'd printf-formatted string (free() it); NULL on ENOMEM or a bad format. */
char *qs_strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** Hand the allocation to the caller (free() it); the buffer becomes empty. Never NULL
 *  unless allocation fails. */
char *qs_buf_steal(qs_buf *b);

#endif
