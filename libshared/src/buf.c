/* buf.c — growable, always NUL-terminated byte buffer.
 *
 * Growth doubles the capacity (at least 64 bytes) so appends are amortised O(1). The buffer
 * keeps one spare byte for the terminating NUL, so qs_buf_str() never has to copy. */
#include "shared/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/common.h"

int qs_buf_reserve(qs_buf *b, size_t extra) {
    if (extra > SIZE_MAX / 2 - b->len)
        return QS_ENOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return QS_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return QS_ENOMEM;
    b->data = p;
    b->cap = cap;
    return QS_OK;
}

int qs_buf_append(qs_buf *b, const void *p, size_t n) {
    if (qs_buf_reserve(b, n) != QS_OK)
        return QS_ENOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return QS_OK;
}

int qs_buf_puts(qs_buf *b, const char *s) { return qs_buf_append(b, s, strlen(s)); }

int qs_buf_vprintf(qs_buf *b, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return QS_EINVAL;
    if (qs_buf_reserve(b, (size_t)n) != QS_OK)
        return QS_ENOMEM;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return QS_OK;
}

int qs_buf_printf(qs_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = qs_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

const char *qs_buf_str(const qs_buf *b) { return b->data ? b->data : ""; }

void qs_buf_reset(qs_buf *b) {
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void qs_buf_free(qs_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *qs_buf_steal(qs_buf *b) {
    if (!b->data) {
        b->data = calloc(1, 1);
        if (!b->data)
            return NULL;
        b->cap = 1;
    }
    b->data[b->len] = '\0';
    char *p = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

char *qs_strdup_printf(const char *fmt, ...) {
    qs_buf b = QS_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    int rc = qs_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (rc != QS_OK) {
        qs_buf_free(&b);
        return NULL;
    }
    return qs_buf_steal(&b);
}
