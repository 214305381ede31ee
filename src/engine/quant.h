#ifndef RS_ENGINE_QUANT_H
#define RS_ENGINE_QUANT_H

#include <stdint.h>

#include "util/dtype.h"

// Weight formats: the ggml block layouts (F32, F16, BF16, Q8_0, Q4_0, Q4_1,
// Q5_0, Q5_K, Q4_K, Q6_K), bit-exact with ggml's reference code.

// True if the engine can compute with tensors of this type.
bool quant_supported(dtype t);

// True if quant_quantize_row can write this type (F32, F16, BF16, Q8_0,
// Q4_0, Q4_K, Q6_K).
bool quant_can_quantize(dtype t);

// Dequantizes n elements (a multiple of the block) from src to dst.
void quant_dequantize_row(dtype t, const void *src, float *dst, int64_t n);

// Quantizes n elements; returns bytes written (dtype_row_bytes(t, n)), or -1
// if t is not a quantization target or n is not a multiple of its block.
// Supported targets: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K. The quantized
// bytes equal those of ggml's quantize_row_*_ref (llama-quantize without an
// importance matrix).
int64_t quant_quantize_row(dtype t, const float *src, void *dst, int64_t n);

// Quantizes n elements (a multiple of 256) to Q8_K, the activation format of
// the K-quant dot products (ggml's quantize_row_q8_K_ref).
void quant_quantize_row_q8_K(const float *src, void *dst, int64_t n);

// Relative RMS error of storing src (n elements) as t: ||deq(q(src)) - src|| /
// ||src|| (the absolute RMS sum if src is all zero); -1 if t cannot be
// quantized to or n is not a multiple of its block. Allocates a small scratch
// buffer; meant for load-time reports, not for the token loop.
double quant_relative_rms(dtype t, const float *src, int64_t n);

// fp16/bf16 scalar conversions (round-to-nearest-even).
float fp16_to_f32(uint16_t h);
uint16_t f32_to_fp16(float f);
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);

#endif
