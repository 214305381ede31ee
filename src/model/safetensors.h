#ifndef RS_MODEL_SAFETENSORS_H
#define RS_MODEL_SAFETENSORS_H

#include <stdint.h>

#include "util/dtype.h"
#include "util/error.h"

// A safetensors file: an 8-byte little-endian header length N, N bytes of
// JSON ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
// "__metadata__": {string: string}}), then the data section. Only the header
// is read; every shape, size and offset is checked against the file size.

#define ST_MAX_DIMS        8
#define ST_MAX_HEADER_SIZE 100000000ULL // the safetensors library's own limit

typedef struct st_tensor {
    char *name;
    dtype type;
    int n_dims;
    int64_t shape[ST_MAX_DIMS]; // as written, outermost first
    int64_t n_elems;
    uint64_t begin, end; // absolute byte offsets in the file
} st_tensor;

typedef struct st_file {
    char *path;
    uint64_t file_size;
    uint64_t header_len;
    uint64_t data_offset; // 8 + header_len
    st_tensor *tensors;   // in the order the header lists them
    int64_t n_tensors;
} st_file;

// Reads only the 8-byte length and the JSON header (pread), never the weights.
rs_status st_open(const char *path, st_file **out, rs_error *err);
// Parses a header already in memory (tests, fuzzing): json holds json_len
// bytes (no NUL needed); file_size is the size of the whole file, used to
// check that the data lies inside it. name is used in messages.
rs_status st_parse_header(const char *name, const char *json, uint64_t json_len, uint64_t file_size,
                          st_file **out, rs_error *err);
// Parses a whole file image in memory (8-byte length, header, data):
// size is the file size. For fuzzing and tests.
rs_status st_parse_image(const char *name, const uint8_t *data, uint64_t size, st_file **out,
                         rs_error *err);
void st_close(st_file *f);

// The tensor named name, or NULL.
const st_tensor *st_find(const st_file *f, const char *name);

#endif
