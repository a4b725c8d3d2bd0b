/* common.c — names for the shared error codes.
 *
 * The names are stable words used in JSON error bodies and logs, so a table keeps them in one
 * place and in step with the enum in common.h. */
#include "shared/common.h"

static const struct {
    int code;
    const char *name;
} names[] = {
    {QS_OK, "ok"},
    {QS_ERR, "error"},
    {QS_ENOMEM, "out_of_memory"},
    {QS_EINVAL, "invalid"},
    {QS_ENOTFOUND, "not_found"},
    {QS_EEXISTS, "already_exists"},
    {QS_EAUTH, "unauthorized"},
    {QS_EDENIED, "denied"},
    {QS_EUNAVAIL, "unavailable"},
    {QS_ETIMEOUT, "timeout"},
    {QS_ETOOBIG, "too_big"},
    {QS_EDIGEST, "digest_mismatch"},
    {QS_EPROTO, "protocol_error"},
    {QS_EEXPIRED, "expired"},
    {QS_ECONFLICT, "conflict"},
};

const char *qs_strerror(int err) {
    for (size_t i = 0; i < QS_ARRAY_LEN(names); i++)
        if (names[i].code == err)
            return names[i].name;
    return "error";
}
