#include "util/error.h"

#include <stdio.h>
#include <string.h>

rs_status rs_vfail(rs_error *err, rs_status status, const char *fmt, va_list ap)
{
    if (err) {
        err->status = status;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    }
    return status;
}

rs_status rs_fail(rs_error *err, rs_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rs_vfail(err, status, fmt, ap);
    va_end(ap);
    return status;
}

void rs_error_prefix(rs_error *err, const char *fmt, ...)
{
    if (!err) return;
    char prefix[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    // Build "prefix: old" in place: move the old text right, then copy the
    // prefix in front, truncating the old text if the whole would not fit.
    size_t plen = strlen(prefix), cap = sizeof err->msg;
    if (plen + 2 >= cap) return;
    size_t olen = strnlen(err->msg, cap - 1);
    if (plen + 2 + olen >= cap) olen = cap - 1 - plen - 2;
    memmove(err->msg + plen + 2, err->msg, olen);
    memcpy(err->msg, prefix, plen);
    err->msg[plen] = ':';
    err->msg[plen + 1] = ' ';
    err->msg[plen + 2 + olen] = '\0';
}

void rs_error_clear(rs_error *err)
{
    if (!err) return;
    err->status = RS_OK;
    err->msg[0] = '\0';
}
