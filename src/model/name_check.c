#include "model/name_check.h"

#include <stdint.h>
#include <stdio.h>

#include <utf8proc.h>

size_t utf8_invalid_at(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        utf8proc_int32_t cp;
        size_t left = n - i;
        // utf8proc_iterate reads at most 4 bytes; cap the length it is given.
        utf8proc_ssize_t k = utf8proc_iterate(s + i, left > 4 ? 4 : (utf8proc_ssize_t)left, &cp);
        if (k <= 0 || cp == 0) return i;
        i += (size_t)k;
    }
    return n;
}

bool name_valid(const uint8_t *s, uint64_t n)
{
    return n <= SIZE_MAX && utf8_invalid_at(s, (size_t)n) == (size_t)n;
}

const char *name_printable(char *buf, size_t bufsz, const uint8_t *s, uint64_t n)
{
    size_t o = 0;
    if (bufsz == 0) return buf;
    for (uint64_t i = 0; i < n && o + 5 < bufsz; i++) {
        if (i == 80) {
            o += (size_t)snprintf(buf + o, bufsz - o, "...");
            break;
        }
        uint8_t c = s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, bufsz - o, "\\x%02x", c);
    }
    buf[o] = '\0';
    return buf;
}
