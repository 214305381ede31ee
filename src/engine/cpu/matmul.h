#ifndef RS_ENGINE_CPU_MATMUL_H
#define RS_ENGINE_CPU_MATMUL_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/cpu/threadpool.h"
#include "util/dtype.h"

// y = x W^T for one weight matrix W stored as n_out rows of n_in elements of
// type wt (ggml layout: a row is contiguous). The hot loop of the engine:
// matrix-vector for decode (n_tok = 1), matrix-matrix for prefill.
//   w: (n_out, n_in) in type wt
//   x: (n_tok, n_in) f32
//   y: (n_tok, n_out) f32
// Runs on the pool's threads; the kernel (AVX2/FMA, AVX-512, portable) is
// chosen at run time from the CPU's features. wt must be quant_supported and
// n_in a multiple of its block; otherwise y is filled with NaN.
void cpu_matmul(thread_pool *pool, const void *w, dtype wt, const float *x, float *y, int64_t n_in,
                int64_t n_out, int64_t n_tok);

// True if cpu_matmul rounds the activations to 8 bits for this weight type
// and token count (decode with quantized weights, as ggml does); the result
// then carries up to half an 8-bit step of each activation block's range.
bool cpu_matmul_quantizes_activations(dtype wt, int64_t n_tok);

// The kernel set cpu_matmul runs on this machine: "avx512", "avx2" or
// "portable" (RIGHTSIZE_KERNELS=portable|avx2 forces a lesser one).
const char *cpu_matmul_kernel_name(void);

#endif
