#ifndef RS_ENGINE_QUANT_INTERNAL_H
#define RS_ENGINE_QUANT_INTERNAL_H

// Shared by quant.c and its SIMD variants (quant_avx2.c).
//
// Bit-exactness with ggml needs every multiply and add rounded on its own:
// no fused multiply-add. GCC fuses by default under -std=gnu* with an FMA
// target; the pragma below forbids it in the files that include this.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#include <stdbool.h>
#include <stdint.h>

#include "engine/quant_blocks.h"

// The tail of quantize_row_q4_K_ref for one super-block: given the
// sub-block scales and mins the search found and its levels L (used where a
// scale rounds to zero), quantize the scales to 6 bits and requantize.
void quant_q4_K_finish(const float *x, const float scales[8], const float mins[8],
                       uint8_t L[QK_K], block_q4_K *y);

// nb super-blocks of Q4_K with AVX2, the same bytes as the scalar path;
// only call where the CPU has AVX2.
void quant_q4_K_avx2(const float *x, void *dst, int64_t nb);
// The tail of quantize_row_q6_K_ref for one super-block, given the 16
// sub-block scales make_qx_quants found and their levels L.
void quant_q6_K_finish(const float *x, const float scales[16], int8_t L[QK_K], block_q6_K *y);
void quant_q6_K_avx512(const float *x, void *dst, int64_t nb); // needs AVX-512F

void quant_q4_K_avx512(const float *x, void *dst, int64_t nb); // needs AVX-512F
bool quant_have_avx512(void);
void quant_q8_0_avx2(const float *x, void *dst, int64_t nb);
void quant_f32_to_f16_avx2(const float *x, uint16_t *y, int64_t n); // needs F16C too
void quant_f16_to_f32_avx2(const uint16_t *x, float *y, int64_t n);
bool quant_have_f16c(void);
bool quant_have_avx2(void);

// Tests: true makes quantization take the scalar reference path only.
void quant_force_scalar(bool on);

#endif
