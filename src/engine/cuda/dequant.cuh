#ifndef RS_ENGINE_CUDA_DEQUANT_CUH
#define RS_ENGINE_CUDA_DEQUANT_CUH

// Dequantization of 32-element chunks of every weight type into registers
// (the float decode kernels, the prefill's bf16 conversion, the embedding
// lookup) and the warp reductions, shared by kernels.cu and decode_fused.cu.

#include "engine/cuda/common.cuh"
#include "engine/cuda/dot_int8.cuh" // h2f, ld_u16

// Sums and maxima over the 32 lanes of a warp, in every lane.
__device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ int warp_sum_i(int v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// ---------------------------------------------------------------------------
// Dequantization: chunk c (32 consecutive elements) of row r, into registers.
// The hot loop of decode: every weight byte passes through one of these.


__device__ __forceinline__ void bytes16(const uint8_t *p, uint8_t b[16])
{
    uint4 v = *(const uint4 *)p;
    const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int i = 0; i < 16; i++)
        b[i] = (uint8_t)(w[i >> 2] >> (8 * (i & 3)));
}

__device__ __forceinline__ void scale_min_k4(int j, const uint8_t *q, int &d, int &m)
{
    if (j < 4) {
        d = q[j] & 63;
        m = q[j + 4] & 63;
    } else {
        d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

template <int T> __device__ __forceinline__ void dq32(const dweight &w, int64_t r, int64_t c, float *v);

template <> __device__ __forceinline__ void dq32<DTYPE_F32>(const dweight &w, int64_t r, int64_t c, float *v)
{
    const float4 *p = (const float4 *)(w.payload + r * w.payload_row + c * 128);
#pragma unroll
    for (int k = 0; k < 8; k++) {
        float4 t = p[k];
        v[4 * k] = t.x, v[4 * k + 1] = t.y, v[4 * k + 2] = t.z, v[4 * k + 3] = t.w;
    }
}

template <> __device__ __forceinline__ void dq32<DTYPE_BF16>(const dweight &w, int64_t r, int64_t c, float *v)
{
    const uint4 *p = (const uint4 *)(w.payload + r * w.payload_row + c * 64);
#pragma unroll
    for (int k = 0; k < 4; k++) {
        uint4 t = p[k];
        const uint32_t u[4] = {t.x, t.y, t.z, t.w};
#pragma unroll
        for (int i = 0; i < 4; i++) {
            v[8 * k + 2 * i] = __uint_as_float(u[i] << 16);
            v[8 * k + 2 * i + 1] = __uint_as_float(u[i] & 0xFFFF0000u);
        }
    }
}

template <> __device__ __forceinline__ void dq32<DTYPE_F16>(const dweight &w, int64_t r, int64_t c, float *v)
{
    const uint4 *p = (const uint4 *)(w.payload + r * w.payload_row + c * 64);
#pragma unroll
    for (int k = 0; k < 4; k++) {
        uint4 t = p[k];
        const uint32_t u[4] = {t.x, t.y, t.z, t.w};
#pragma unroll
        for (int i = 0; i < 4; i++) {
            float2 f = __half22float2(*(const __half2 *)&u[i]);
            v[8 * k + 2 * i] = f.x;
            v[8 * k + 2 * i + 1] = f.y;
        }
    }
}

template <> __device__ __forceinline__ void dq32<DTYPE_Q8_0>(const dweight &w, int64_t r, int64_t c, float *v)
{
    const uint8_t *q = w.payload + r * w.payload_row + c * 32;
    const float d = h2f(ld_u16(w.header + r * w.header_row + c * 2));
    uint8_t b[16];
#pragma unroll
    for (int h = 0; h < 2; h++) {
        bytes16(q + 16 * h, b);
#pragma unroll
        for (int i = 0; i < 16; i++)
            v[16 * h + i] = d * (float)(int8_t)b[i];
    }
}

template <> __device__ __forceinline__ void dq32<DTYPE_Q4_0>(const dweight &w, int64_t r, int64_t c, float *v)
{
    uint8_t b[16];
    bytes16(w.payload + r * w.payload_row + c * 16, b);
    const float d = h2f(ld_u16(w.header + r * w.header_row + c * 2));
#pragma unroll
    for (int i = 0; i < 16; i++) {
        v[i] = d * (float)((b[i] & 0xF) - 8);
        v[i + 16] = d * (float)((b[i] >> 4) - 8);
    }
}

template <> __device__ __forceinline__ void dq32<DTYPE_Q4_1>(const dweight &w, int64_t r, int64_t c, float *v)
{
    uint8_t b[16];
    bytes16(w.payload + r * w.payload_row + c * 16, b);
    const uint8_t *h = w.header + r * w.header_row + c * 4;
    const float d = h2f(ld_u16(h)), m = h2f(ld_u16(h + 2));
#pragma unroll
    for (int i = 0; i < 16; i++) {
        v[i] = (float)(b[i] & 0xF) * d + m;
        v[i + 16] = (float)(b[i] >> 4) * d + m;
    }
}

template <> __device__ __forceinline__ void dq32<DTYPE_Q5_0>(const dweight &w, int64_t r, int64_t c, float *v)
{
    uint8_t b[16];
    bytes16(w.payload + r * w.payload_row + c * 16, b);
    const uint8_t *h = w.header + r * w.header_row + c * 6;
    const float d = h2f(ld_u16(h));
    const uint32_t qh = (uint32_t)ld_u16(h + 2) | ((uint32_t)ld_u16(h + 4) << 16);
#pragma unroll
    for (int i = 0; i < 16; i++) {
        const int x0 = (int)((b[i] & 0xF) | (((qh >> i) << 4) & 0x10)) - 16;
        const int x1 = (int)((b[i] >> 4) | ((qh >> (i + 12)) & 0x10)) - 16;
        v[i] = d * (float)x0;
        v[i + 16] = d * (float)x1;
    }
}

template <> __device__ __forceinline__ void dq32<DTYPE_Q4_K>(const dweight &w, int64_t r, int64_t c, float *v)
{
    const uint8_t *blk = w.payload + r * w.payload_row + (c >> 3) * 144;
    const int s = (int)(c & 7), j = s >> 1;
    uint8_t hd[16];
    bytes16(blk, hd);
    const float d = h2f((uint16_t)(hd[0] | (hd[1] << 8))), dmin = h2f((uint16_t)(hd[2] | (hd[3] << 8)));
    int sc, m;
    scale_min_k4(s, hd + 4, sc, m);
    const float d1 = d * (float)sc, m1 = dmin * (float)m;
    const int shift = (s & 1) * 4;
    uint8_t b[16];
#pragma unroll
    for (int h = 0; h < 2; h++) {
        bytes16(blk + 16 + 32 * j + 16 * h, b);
#pragma unroll
        for (int i = 0; i < 16; i++)
            v[16 * h + i] = d1 * (float)((b[i] >> shift) & 0xF) - m1;
    }
}

template <> __device__ __forceinline__ void dq32<DTYPE_Q5_K>(const dweight &w, int64_t r, int64_t c, float *v)
{
    const uint8_t *blk = w.payload + r * w.payload_row + (c >> 3) * 176;
    const int s = (int)(c & 7), j = s >> 1;
    uint8_t hd[16];
    bytes16(blk, hd);
    const float d = h2f((uint16_t)(hd[0] | (hd[1] << 8))), dmin = h2f((uint16_t)(hd[2] | (hd[3] << 8)));
    int sc, m;
    scale_min_k4(s, hd + 4, sc, m);
    const float d1 = d * (float)sc, m1 = dmin * (float)m;
    const int shift = (s & 1) * 4;
    uint8_t b[16], qh[16];
#pragma unroll
    for (int h = 0; h < 2; h++) {
        bytes16(blk + 48 + 32 * j + 16 * h, b);
        bytes16(blk + 16 + 16 * h, qh);
#pragma unroll
        for (int i = 0; i < 16; i++) {
            const int q = ((b[i] >> shift) & 0xF) + (((qh[i] >> s) & 1) << 4);
            v[16 * h + i] = d1 * (float)q - m1;
        }
    }
}

template <> __device__ __forceinline__ void dq32<DTYPE_Q6_K>(const dweight &w, int64_t r, int64_t c, float *v)
{
    const int64_t b = c >> 3;
    const int s = (int)(c & 7), n = s >> 2, quarter = s & 3;
    const uint8_t *p = w.payload + r * w.payload_row + b * 192;
    const uint8_t *h = w.header + r * w.header_row + b * 18;
    const float d = h2f(ld_u16(h + 16));
    const float s0 = d * (float)(int8_t)h[n * 8 + 2 * quarter];
    const float s1 = d * (float)(int8_t)h[n * 8 + 1 + 2 * quarter];
    const int shift = quarter >= 2 ? 4 : 0;
    uint8_t ql[16], qh[16];
#pragma unroll
    for (int g = 0; g < 2; g++) {
        bytes16(p + n * 64 + (quarter & 1) * 32 + 16 * g, ql);
        bytes16(p + 128 + n * 32 + 16 * g, qh);
        const float sc = g == 0 ? s0 : s1;
#pragma unroll
        for (int i = 0; i < 16; i++) {
            const int q = (int)(((ql[i] >> shift) & 0xF) | (((qh[i] >> (2 * quarter)) & 3) << 4)) - 32;
            v[16 * g + i] = sc * (float)q;
        }
    }
}

// Calls f.template operator()<T>() for the weight's type.
#define DISPATCH_TYPE(type, CALL)                                                                  \
    switch (type) {                                                                                \
    case DTYPE_F32: CALL(DTYPE_F32); break;                                                        \
    case DTYPE_F16: CALL(DTYPE_F16); break;                                                        \
    case DTYPE_BF16: CALL(DTYPE_BF16); break;                                                      \
    case DTYPE_Q8_0: CALL(DTYPE_Q8_0); break;                                                      \
    case DTYPE_Q4_0: CALL(DTYPE_Q4_0); break;                                                      \
    case DTYPE_Q4_1: CALL(DTYPE_Q4_1); break;                                                      \
    case DTYPE_Q5_0: CALL(DTYPE_Q5_0); break;                                                      \
    case DTYPE_Q4_K: CALL(DTYPE_Q4_K); break;                                                      \
    case DTYPE_Q5_K: CALL(DTYPE_Q5_K); break;                                                      \
    case DTYPE_Q6_K: CALL(DTYPE_Q6_K); break;                                                      \
    default: break;                                                                                \
    }

// Eight bf16 (T = DTYPE_BF16) or f16 weights against eight inputs.
template <int T>
__device__ __forceinline__ float dot8(uint4 w, float4 a, float4 b)
{
    const uint32_t u[4] = {w.x, w.y, w.z, w.w};
    const float xs[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
    float s = 0;
#pragma unroll
    for (int i = 0; i < 4; i++) {
        float lo, hi;
        if (T == DTYPE_BF16) {
            lo = __uint_as_float(u[i] << 16);
            hi = __uint_as_float(u[i] & 0xFFFF0000u);
        } else {
            const float2 f = __half22float2(*(const __half2 *)&u[i]);
            lo = f.x, hi = f.y;
        }
        s = fmaf(lo, xs[2 * i], s);
        s = fmaf(hi, xs[2 * i + 1], s);
    }
    return s;
}

#endif
