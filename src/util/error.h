#ifndef RS_UTIL_ERROR_H
#define RS_UTIL_ERROR_H

#include <stdarg.h>

// Errors are values. A library function that can fail returns an `rs_status`
// and, on failure, fills an `rs_error` with one line that names the file,
// the field and the reason. Only main() decides to exit.
//
//   model.safetensors: tensor "lm_head.weight": data offsets [8, 9e9) lie
//   past the end of the file (1.2 GB)

typedef enum rs_status {
    RS_OK = 0,
    RS_ERR_RUNTIME = 1, // the machine failed us: out of memory, I/O error, driver
    RS_ERR_INPUT = 2,   // bad usage or a bad file: the user can fix it
} rs_status;

typedef struct rs_error {
    rs_status status;
    char msg[1024];
} rs_error;

// Fills err (if not NULL) and returns status, so call sites read
//   return rs_fail(err, RS_ERR_INPUT, "%s: field \"%s\": ...", path, key);
rs_status rs_fail(rs_error *err, rs_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
rs_status rs_vfail(rs_error *err, rs_status status, const char *fmt, va_list ap);

// Prefixes an existing message, e.g. with the file name: "path: <old msg>".
void rs_error_prefix(rs_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void rs_error_clear(rs_error *err);

#endif
