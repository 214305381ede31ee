#ifndef RS_MODEL_NAME_CHECK_H
#define RS_MODEL_NAME_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Checks shared by the weight-file readers (GGUF, safetensors) for the names
// and keys they take from untrusted files.

// True when s[0..n) is valid UTF-8 with no NUL byte.
bool name_valid(const uint8_t *s, uint64_t n);

// The offset of the first byte of s[0..n) that is not valid UTF-8 or is
// NUL; n when there is none.
size_t utf8_invalid_at(const uint8_t *s, size_t n);

// Writes a quoted-safe copy of s[0..n) into buf for an error message: at most
// 80 input bytes (then "..."), with control, quote, backslash and non-ASCII
// bytes escaped as \xNN, so that a hostile name keeps a message on one line.
// Returns buf.
const char *name_printable(char *buf, size_t bufsz, const uint8_t *s, uint64_t n);

#endif
