#ifndef RS_UTIL_FORMAT_H
#define RS_UTIL_FORMAT_H

#include <stddef.h>
#include <stdint.h>

// Human-readable sizes in binary units: "1.2 GiB", "512 MiB", "48 B".
// Returns buf.
char *format_bytes(char *buf, size_t n, uint64_t bytes);

// Counts with SI suffix: "7.62B", "135M", "2.3K".
char *format_count(char *buf, size_t n, uint64_t count);

// Parses "64G", "10GiB", "512M", "1.5T", "123" (bytes); binary units
// (G = GiB). Returns -1 on bad input.
int64_t parse_bytes(const char *s);

#endif
