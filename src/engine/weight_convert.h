#ifndef RS_ENGINE_WEIGHT_CONVERT_H
#define RS_ENGINE_WEIGHT_CONVERT_H

#include <stdint.h>

#include "engine/cpu/threadpool.h"
#include "util/dtype.h"
#include "util/error.h"

// Converting a weight matrix from its stored type to the type the engine
// computes with (bf16 -> Q8_0 for int8, -> Q4_K for int4, ...), one tensor
// at a time on the thread pool, measuring the error it adds.

typedef struct weight_converter {
    int n_threads;
    int64_t max_in;
    float *scratch; // (n_threads, 2, max_in) a source row and its round trip, per thread
} weight_converter;

rs_status weight_converter_init(weight_converter *c, int n_threads, int64_t max_in, rs_error *err);
void weight_converter_free(weight_converter *c);

// Converts n_out rows of n_in elements from src (type from) into a new
// 64-byte-aligned block *dst of *dst_bytes (type to); *rel_rms (when not
// NULL: it costs a dequantization per row) receives
// ||dequant(dst) - src|| / ||src|| over the whole tensor.
rs_status weight_convert(weight_converter *c, thread_pool *pool, dtype from, const void *src,
                         dtype to, int64_t n_in, int64_t n_out, void **dst, uint64_t *dst_bytes,
                         double *rel_rms, rs_error *err);

// One row to f32 for any type the engine reads (plain floats and every
// quantized type quant.h dequantizes).
rs_status convert_row_to_f32(dtype t, const void *src, float *dst, int64_t n, rs_error *err);

// Tells the kernel this process no longer needs the mapped pages of a
// converted source tensor (they stay in the page cache).
void weight_convert_release_source(const void *data, uint64_t nbytes);

#endif
