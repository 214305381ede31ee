#include <string.h>

#include "tok/tok_internal.h"

// UTF-8 validation and repair, and GPT-2's byte <-> unicode table.

int tok_utf8_valid_len(const uint8_t *s, size_t n)
{
    if (n == 0) return 0;
    uint8_t c = s[0];
    if (c < 0x80) return 1;
    int len;
    uint8_t lo = 0x80, hi = 0xBF; // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0; // no overlongs
        if (c == 0xED) hi = 0x9F; // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F; // <= U+10FFFF
    } else {
        return 0;
    }
    if (n < (size_t)len) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (int i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

// How many bytes of a maximal subpart of an ill-formed sequence start at s:
// the longest prefix that could begin a valid sequence (at least 1).
size_t tok_utf8_maximal_subpart(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    int len;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else
        return 1;
    size_t i = 1;
    if (i < n && s[i] >= lo && s[i] <= hi) {
        i++;
        while (i < (size_t)len && i < n && (s[i] & 0xC0) == 0x80)
            i++;
    }
    return i;
}

bool tok_utf8_sanitize(const char *s, size_t n, tok_buf *b)
{
    b->n = 0;
    if (!tok_buf_reserve(b, n)) return false;
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        while (i < n) {
            if (u[i] < 0x80) {
                i++;
                continue;
            }
            int l = tok_utf8_valid_len(u + i, n - i);
            if (!l) break;
            i += (size_t)l;
        }
        if (!tok_buf_append(b, s + start, i - start)) return false;
        if (i < n) {
            i += tok_utf8_maximal_subpart(u + i, n - i);
            if (!tok_buf_append(b, "\xEF\xBF\xBD", 3)) return false;
        }
    }
    return true;
}

int tok_utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

int tok_utf8_decode(const char *s, uint32_t *cp)
{
    const uint8_t *u = (const uint8_t *)s;
    int len = tok_utf8_len(u[0]);
    uint32_t c;
    switch (len) {
    case 1:
        c = u[0];
        break;
    case 2:
        c = ((uint32_t)(u[0] & 0x1F) << 6) | (u[1] & 0x3F);
        break;
    case 3:
        c = ((uint32_t)(u[0] & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
        break;
    default:
        c = ((uint32_t)(u[0] & 0x07) << 18) | ((uint32_t)(u[1] & 0x3F) << 12) |
            ((uint32_t)(u[2] & 0x3F) << 6) | (u[3] & 0x3F);
        break;
    }
    *cp = c;
    return len;
}

// GPT-2 shows each byte as a printable code point: the printable Latin-1
// bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves, the other 68
// bytes get U+0100.. in byte order.
static bool byte_is_printable(int b)
{
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

// The 68 other bytes: 0x00-0x20 (33), 0x7F-0xA0 (34), 0xAD, numbered in order.
uint32_t tok_byte_to_cp(uint8_t b)
{
    if (byte_is_printable(b)) return b;
    if (b <= 0x20) return 256u + b;
    if (b <= 0xA0) return 256u + 33 + (b - 0x7Fu);
    return 256u + 67; // 0xAD
}

int tok_cp_to_byte(uint32_t cp)
{
    if (cp < 256) return byte_is_printable((int)cp) ? (int)cp : -1;
    if (cp <= 256 + 32) return (int)(cp - 256);
    if (cp <= 256 + 66) return (int)(cp - 256 - 33 + 0x7F);
    return cp == 256 + 67 ? 0xAD : -1;
}
