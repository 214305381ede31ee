#ifndef RS_ENGINE_CPU_MATMUL_KERNELS_H
#define RS_ENGINE_CPU_MATMUL_KERNELS_H

// The kernels behind cpu_matmul, one table per instruction set. matmul.c
// picks a table at run time; each matmul_ISA.c is compiled with its own
// target attribute, so the build needs no -march flag.
#include <stdbool.h>
#include <stdint.h>

#include "util/dtype.h"

// Activations for the 32-block weight types (Q8_0, Q4_0, Q4_1, Q5_0): 32
// values quantized like ggml's Q8_0, with the scale kept as a float and the
// sum of the quants (for Q4_1's min term).
typedef struct {
    float d;
    int32_t sum;
    int8_t qs[32];
} act_q8;

// The activation format a weight type's decode kernel consumes.
typedef enum {
    ACT_F32,  // the f32 row itself
    ACT_Q8,   // act_q8 blocks
    ACT_Q8_K, // block_q8_K (quant_blocks.h)
} act_format;

// Decode: y[r] = dot(row r of w, x) for r < n_rows; rows are w_stride bytes
// apart; x is one token's activations in the type's act_format.
typedef void (*matmul_rows_fn)(const void *w, int64_t w_stride, const void *x, float *y,
                               int64_t n_in, int64_t n_rows);

// Prefill: for r < m, t < n_tok,
//   y[t*ldy + r] (+)= sum_{i<k} w[r*ldw + i] * x[t*ldx + i]
// (accumulate adds to y, otherwise y is overwritten).
typedef void (*matmul_gemm_fn)(const float *w, int64_t ldw, int64_t m, const float *x, int64_t ldx,
                               int64_t n_tok, int64_t k, float *y, int64_t ldy, bool accumulate);

// Converts n elements of a plain-float row (F16 or BF16) to f32.
typedef void (*matmul_to_f32_fn)(const uint16_t *src, float *dst, int64_t n);

typedef struct {
    const char *name;
    matmul_rows_fn rows[DTYPE_GGML_COUNT]; // NULL: use dequantize + dot_f32
    act_format act[DTYPE_GGML_COUNT];      // the activations rows[t] expects
    // Prefill: n elements (a multiple of the block) of a quantized row to
    // f32, not necessarily bit-exact; NULL: quant_dequantize_row.
    void (*expand[DTYPE_GGML_COUNT])(const void *src, float *dst, int64_t n);
    matmul_gemm_fn gemm;
    float (*dot_f32)(const float *a, const float *b, int64_t n);
    matmul_to_f32_fn f16_to_f32, bf16_to_f32;
    void (*quantize_q8)(const float *x, act_q8 *y, int64_t n); // n a multiple of 32
} matmul_kernels;

const matmul_kernels *matmul_kernels_portable(void);
const matmul_kernels *matmul_kernels_avx2(void);   // NULL if not compiled in
const matmul_kernels *matmul_kernels_avx512(void); // NULL if not compiled in

// The table cpu_matmul uses on this machine (the best the CPU supports, or
// the one named by RIGHTSIZE_KERNELS=portable|avx2|avx512 for testing).
const matmul_kernels *matmul_kernels_best(void);

// Makes cpu_matmul use k (tests run every table this CPU supports); NULL
// returns to the automatic choice.
void matmul_kernels_select(const matmul_kernels *k);

// Scalar activation quantizer shared by the tables.
void matmul_quantize_q8_portable(const float *x, act_q8 *y, int64_t n);

#endif
