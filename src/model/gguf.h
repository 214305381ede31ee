#ifndef RS_MODEL_GGUF_H
#define RS_MODEL_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/dtype.h"
#include "util/error.h"

// A GGUF file (v2, v3) parsed from a read-only mapping: metadata key/values
// and tensor infos. Every count, length and offset is checked against the
// mapping before use. Values of arrays stay in the mapping and are read
// through the accessors below (the mapping need not be aligned).

typedef enum gguf_type {
    GGUF_TYPE_UINT8 = 0,
    GGUF_TYPE_INT8 = 1,
    GGUF_TYPE_UINT16 = 2,
    GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4,
    GGUF_TYPE_INT32 = 5,
    GGUF_TYPE_FLOAT32 = 6,
    GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8,
    GGUF_TYPE_ARRAY = 9,
    GGUF_TYPE_UINT64 = 10,
    GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12,
    GGUF_TYPE_COUNT,
} gguf_type;

typedef struct gguf_kv {
    char *key;
    gguf_type type;
    union {
        uint64_t u64; // every unsigned integer type and bool
        int64_t i64;  // every signed integer type
        double f64;   // FLOAT32 and FLOAT64
    } v;
    char *str; // STRING: the value, NUL-terminated copy (may hold embedded NULs: see str_len)
    uint64_t str_len;
    // ARRAY: element type and count; elements stay in the mapping.
    gguf_type arr_type;
    uint64_t arr_n;
    const uint8_t *arr_data;     // numeric arrays: arr_n packed elements
    const uint64_t *arr_offsets; // string arrays: (arr_n) offsets of each string's length field
} gguf_kv;

typedef struct gguf_tensor_info {
    char *name;
    int n_dims;
    int64_t ne[8]; // ne[0] innermost
    int64_t n_elems;
    dtype type;
    uint64_t offset; // absolute offset in the file
    uint64_t nbytes;
} gguf_tensor_info;

typedef struct gguf_file {
    char *path;
    uint32_t version;
    const uint8_t *data; // the whole file, mapped read-only (or the fuzzer's buffer)
    uint64_t size;
    bool mapped; // data came from mmap and is unmapped on close
    uint64_t n_kv;
    gguf_kv *kv;
    uint64_t n_tensors;
    gguf_tensor_info *tensors;
    uint64_t alignment;
    uint64_t data_offset; // start of the tensor data section (<= size: a file without
                          // tensors may omit the padding, then this is size)
} gguf_file;

rs_status gguf_open(const char *path, gguf_file **out, rs_error *err);
// Parses a buffer that stays owned by the caller (fuzzing, tests); name is
// used in messages.
rs_status gguf_parse(const uint8_t *data, uint64_t size, const char *name, gguf_file **out,
                     rs_error *err);
void gguf_close(gguf_file *f);

const gguf_kv *gguf_find(const gguf_file *f, const char *key);
// Typed getters: false when the key is missing or of another kind.
bool gguf_get_int(const gguf_file *f, const char *key, int64_t *out);  // any integer or bool
bool gguf_get_float(const gguf_file *f, const char *key, double *out); // float or integer
const char *gguf_get_str(const gguf_file *f, const char *key);

// The tensor named name, or NULL; and a pointer to its bytes in the mapping
// (t->nbytes of them, checked to lie inside the file; unaligned only if the
// mapping is).
const gguf_tensor_info *gguf_find_tensor(const gguf_file *f, const char *name);
const void *gguf_tensor_data(const gguf_file *f, const gguf_tensor_info *t);

// Array element access; i must be < kv->arr_n.
int64_t gguf_arr_int(const gguf_kv *kv, uint64_t i);
double gguf_arr_float(const gguf_kv *kv, uint64_t i);
// Strings in arrays are NOT NUL-terminated: use *len. NULL when kv is not a
// string array or i is out of range.
const char *gguf_arr_str(const gguf_file *f, const gguf_kv *kv, uint64_t i, uint64_t *len);

#endif
