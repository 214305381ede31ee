#include "engine/quant_internal.h" // first: it turns off FP contraction

#include "engine/quant.h"

#include <math.h>
#include <stdatomic.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "engine/quant_blocks.h"

// Scalar reference code for the weight formats. The dequantizers follow
// ggml's dequantize_row_* operation by operation (same products, same order),
// so the floats they produce are bit-identical to ggml's and to the gguf
// package's; the quantizers follow ggml's quantize_row_*_ref, so a tensor we
// quantize is byte-identical to what llama.cpp's reference path writes.
// Float expressions must not be contracted into FMAs for this to hold: the
// project builds with -std=c11, where GCC's default is -ffp-contract=off.

// ---------------------------------------------------------------- fp16, bf16

static inline uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float fp16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F;
    uint32_t man = h & 0x3FF;
    if (exp == 0x1F) return f32_from_bits(sign | 0x7F800000 | (man << 13)); // inf, nan
    if (exp == 0) {
        if (man == 0) return f32_from_bits(sign);
        // Subnormal half: value = man * 2^-24, exact in f32.
        float v = (float)man * 0x1p-24f;
        return sign ? -v : v;
    }
    return f32_from_bits(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t f32_to_fp16(float f)
{
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    x &= 0x7FFFFFFF;
    if (x > 0x7F800000) return sign | 0x7E00; // nan stays a (quiet) nan
    if (x >= 0x477FF000) return sign | 0x7C00; // 65520 and above round to inf
    if (x >= 0x38800000) { // a normal half: rebias the exponent, round the mantissa to even
        uint32_t h = x - 0x38000000;
        h = (h + 0x0FFF + ((h >> 13) & 1)) >> 13;
        return (uint16_t)(sign | h);
    }
    if (x <= 0x33000000) return sign; // half of the smallest subnormal and below: zero
    // A subnormal half: shift the full mantissa into place, round to even.
    uint32_t e = x >> 23;
    uint32_t m = (x & 0x7FFFFF) | 0x800000;
    uint32_t shift = 126 - e; // 14..24
    uint32_t q = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) q++;
    return (uint16_t)(sign | q);
}

float bf16_to_f32(uint16_t h)
{
    return f32_from_bits((uint32_t)h << 16);
}

uint16_t f32_to_bf16(float f)
{
    uint32_t u = f32_bits(f);
    if ((u & 0x7FFFFFFF) > 0x7F800000) return (uint16_t)((u >> 16) | 64); // quiet nan
    return (uint16_t)((u + (0x7FFF + ((u >> 16) & 1))) >> 16);
}

// ---------------------------------------------------------------- helpers

static bool q_scalar_only; // tests compare the scalar and SIMD paths

void quant_force_scalar(bool on)
{
    q_scalar_only = on;
}

#define QMIN(a, b) ((a) < (b) ? (a) : (b))
#define QMAX(a, b) ((a) > (b) ? (a) : (b))
#define GROUP_MAX_EPS 1e-15f // ggml's threshold for an all-zero group

// Round to nearest, ties to even, for |fval| < 2^22: ggml's nearest_int.
static inline int nearest_int(float fval)
{
    float val = fval + 12582912.f;
    int i;
    memcpy(&i, &val, sizeof i);
    return (i & 0x007FFFFF) - 0x00400000;
}

bool quant_supported(dtype t)
{
    switch (t) {
    case DTYPE_F32:
    case DTYPE_F16:
    case DTYPE_BF16:
    case DTYPE_Q8_0:
    case DTYPE_Q4_0:
    case DTYPE_Q4_1:
    case DTYPE_Q5_0:
    case DTYPE_Q5_K:
    case DTYPE_Q4_K:
    case DTYPE_Q6_K:
        return true;
    default:
        return false;
    }
}

bool quant_can_quantize(dtype t)
{
    switch (t) {
    case DTYPE_F32:
    case DTYPE_F16:
    case DTYPE_BF16:
    case DTYPE_Q8_0:
    case DTYPE_Q4_0:
    case DTYPE_Q4_K:
    case DTYPE_Q6_K:
        return true;
    default:
        return false;
    }
}

// ---------------------------------------------------------------- dequantize

static void dequant_q4_0(const block_q4_0 *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        const float d = fp16_to_f32(x[i].d);
        for (int j = 0; j < 16; j++) {
            const int x0 = (x[i].qs[j] & 0x0F) - 8;
            const int x1 = (x[i].qs[j] >> 4) - 8;
            y[i * 32 + j] = x0 * d;
            y[i * 32 + j + 16] = x1 * d;
        }
    }
}

static void dequant_q4_1(const block_q4_1 *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        const float d = fp16_to_f32(x[i].d);
        const float m = fp16_to_f32(x[i].m);
        for (int j = 0; j < 16; j++) {
            const int x0 = x[i].qs[j] & 0x0F;
            const int x1 = x[i].qs[j] >> 4;
            y[i * 32 + j] = x0 * d + m;
            y[i * 32 + j + 16] = x1 * d + m;
        }
    }
}

static void dequant_q5_0(const block_q5_0 *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        const float d = fp16_to_f32(x[i].d);
        uint32_t qh;
        memcpy(&qh, x[i].qh, sizeof qh);
        for (int j = 0; j < 16; j++) {
            const uint8_t xh0 = (uint8_t)(((qh >> (j + 0)) << 4) & 0x10);
            const uint8_t xh1 = (uint8_t)(((qh >> (j + 12))) & 0x10);
            const int x0 = ((x[i].qs[j] & 0x0F) | xh0) - 16;
            const int x1 = ((x[i].qs[j] >> 4) | xh1) - 16;
            y[i * 32 + j] = x0 * d;
            y[i * 32 + j + 16] = x1 * d;
        }
    }
}

static void dequant_q8_0(const block_q8_0 *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        const float d = fp16_to_f32(x[i].d);
        for (int j = 0; j < 32; j++) y[i * 32 + j] = x[i].qs[j] * d;
    }
}

static void dequant_q4_K(const block_q4_K *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *q = x[i].qs;
        const float d = fp16_to_f32(x[i].d);
        const float min = fp16_to_f32(x[i].dmin);
        uint8_t sc, m;
        for (int j = 0, is = 0; j < QK_K; j += 64, is += 2) {
            quant_scale_min_k4(is + 0, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            quant_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - m2;
            q += 32;
        }
    }
}

static void dequant_q5_K(const block_q5_K *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *ql = x[i].qs;
        const uint8_t *qh = x[i].qh;
        const float d = fp16_to_f32(x[i].d);
        const float min = fp16_to_f32(x[i].dmin);
        uint8_t sc, m;
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0, is = 0; j < QK_K; j += 64, is += 2) {
            quant_scale_min_k4(is + 0, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            quant_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
            ql += 32;
            u1 = (uint8_t)(u1 << 2);
            u2 = (uint8_t)(u2 << 2);
        }
    }
}

static void dequant_q6_K(const block_q6_K *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        const float d = fp16_to_f32(x[i].d);
        const uint8_t *ql = x[i].ql;
        const uint8_t *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        for (int n = 0; n < QK_K; n += 128) {
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                const int q1 = (int8_t)((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = (int8_t)((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l + 0] = d * sc[is + 0] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
            y += 128;
            ql += 64;
            qh += 32;
            sc += 8;
        }
    }
}

void quant_dequantize_row(dtype t, const void *src, float *dst, int64_t n)
{
    const int64_t nb = n / dtype_block_elems(t);
    switch (t) {
    case DTYPE_F32:
        memcpy(dst, src, (size_t)n * sizeof(float));
        break;
    case DTYPE_F16: {
        const uint16_t *s = src;
#if defined(__x86_64__) || defined(__i386__)
        if (!q_scalar_only && quant_have_f16c()) {
            quant_f16_to_f32_avx2(s, dst, n);
            break;
        }
#endif
        for (int64_t i = 0; i < n; i++) dst[i] = fp16_to_f32(s[i]);
        break;
    }
    case DTYPE_BF16: {
        const uint16_t *s = src;
        for (int64_t i = 0; i < n; i++) dst[i] = bf16_to_f32(s[i]);
        break;
    }
    case DTYPE_Q4_0: dequant_q4_0(src, dst, nb); break;
    case DTYPE_Q4_1: dequant_q4_1(src, dst, nb); break;
    case DTYPE_Q5_0: dequant_q5_0(src, dst, nb); break;
    case DTYPE_Q8_0: dequant_q8_0(src, dst, nb); break;
    case DTYPE_Q4_K: dequant_q4_K(src, dst, nb); break;
    case DTYPE_Q5_K: dequant_q5_K(src, dst, nb); break;
    case DTYPE_Q6_K: dequant_q6_K(src, dst, nb); break;
    default:
        // Callers check quant_supported first; an unsupported type here is a
        // programming error, and NaNs make it impossible to miss.
        for (int64_t i = 0; i < n; i++) dst[i] = NAN;
        break;
    }
}

// ---------------------------------------------------------------- quantize

// C's roundf (half away from zero) for |v| < 2^22, without the libm call
// that roundf compiles to on baseline x86-64 (it was a tenth of an int8
// load): the fraction v - trunc(v) is exact.
static inline int round_half_away(float v)
{
    int i = (int)v;
    const float f = v - (float)i;
    if (f >= 0.5f) i++;
    if (f <= -0.5f) i--;
    return i;
}

static void quant_q8_0(const float *x, block_q8_0 *y, int64_t nb)
{
#if defined(__x86_64__) || defined(__i386__)
    if (!q_scalar_only && quant_have_avx2()) {
        quant_q8_0_avx2(x, y, nb);
        return;
    }
#endif
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) amax = QMAX(amax, fabsf(x[j]));
        const float d = amax / ((1 << 7) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = f32_to_fp16(d);
        for (int j = 0; j < 32; j++) y[i].qs[j] = (int8_t)round_half_away(x[j] * id);
    }
}

static void quant_q4_0(const float *x, block_q4_0 *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float amax = 0.0f, max = 0.0f; // the element of largest magnitude, with its sign
        for (int j = 0; j < 32; j++) {
            if (amax < fabsf(x[j])) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        const float d = max / -8;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = f32_to_fp16(d);
        for (int j = 0; j < 16; j++) {
            const float x0 = x[j] * id;
            const float x1 = x[16 + j] * id;
            const uint8_t xi0 = (uint8_t)QMIN(15, (int8_t)(x0 + 8.5f));
            const uint8_t xi1 = (uint8_t)QMIN(15, (int8_t)(x1 + 8.5f));
            y[i].qs[j] = (uint8_t)(xi0 | (xi1 << 4));
        }
    }
}

// ggml's make_qkx2_quants: the scale and min of an affine n-level grid that
// minimize the weighted error, searched over nstep+1 candidate scales.
static float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                              float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep,
                              bool use_mad)
{
    float min = x[0];
    float max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; ++i) {
        int l = nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)QMAX(0, QMIN(nmax, l));
        float diff = scale * L[i] + min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        best_error += weights[i] * diff;
    }
    if (nstep < 1) {
        *the_min = -min;
        return scale;
    }
    for (int is = 0; is <= nstep; ++is) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            int l = nearest_int(iscale * (x[i] - min));
            l = QMAX(0, QMIN(nmax, l));
            Laux[i] = (uint8_t)l;
            float w = weights[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; ++i) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                diff = use_mad ? fabsf(diff) : diff * diff;
                cur_error += weights[i] * diff;
            }
            if (cur_error < best_error) {
                for (int i = 0; i < n; ++i) L[i] = Laux[i];
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

void quant_q4_K_finish(const float *x, const float scales[8], const float mins[8],
                       uint8_t L[QK_K], block_q4_K *y)
{
    float max_scale = 0; // scales are positive because the min is taken out
    float max_min = 0;
    for (int j = 0; j < QK_K / 32; ++j) {
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < QK_K / 32; ++j) {
        uint8_t ls = (uint8_t)nearest_int(inv_scale * scales[j]);
        uint8_t lm = (uint8_t)nearest_int(inv_min * mins[j]);
        ls = QMIN(63, ls);
        lm = QMIN(63, lm);
        if (j < 4) {
            y->scales[j] = ls;
            y->scales[j + 4] = lm;
        } else {
            y->scales[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
            y->scales[j - 4] |= (uint8_t)((ls >> 4) << 6);
            y->scales[j - 0] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    y->d = f32_to_fp16(max_scale / 63.f);
    y->dmin = f32_to_fp16(max_min / 63.f);

    // Requantize against the scales as stored (6-bit, fp16), not as found.
    uint8_t sc, m;
    for (int j = 0; j < QK_K / 32; ++j) {
        quant_scale_min_k4(j, y->scales, &sc, &m);
        const float d = fp16_to_f32(y->d) * sc;
        if (!d) continue;
        const float dm = fp16_to_f32(y->dmin) * m;
        for (int ii = 0; ii < 32; ++ii) {
            int l = nearest_int((x[32 * j + ii] + dm) / d);
            L[32 * j + ii] = (uint8_t)QMAX(0, QMIN(15, l));
        }
    }

    uint8_t *q = y->qs;
    for (int j = 0; j < QK_K; j += 64) {
        for (int l = 0; l < 32; ++l) q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
        q += 32;
    }
}

static void quant_q4_K_scalar(const float *x, block_q4_K *y, int64_t nb)
{
    uint8_t L[QK_K];
    uint8_t Laux[32];
    float weights[32];
    float mins[QK_K / 32];
    float scales[QK_K / 32];

    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        for (int j = 0; j < QK_K / 32; ++j) {
            float sum_x2 = 0;
            for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
            float av_x = sqrtf(sum_x2 / 32);
            for (int l = 0; l < 32; ++l) weights[l] = av_x + fabsf(x[32 * j + l]);
            scales[j] = make_qkx2_quants(32, 15, x + 32 * j, weights, L + 32 * j, &mins[j], Laux,
                                         -1.f, 0.1f, 20, false);
        }
        quant_q4_K_finish(x, scales, mins, L, &y[i]);
    }
}

bool quant_have_f16c(void)
{
#if defined(__x86_64__) || defined(__i386__)
    static _Atomic int have = -1;
    int h = atomic_load_explicit(&have, memory_order_relaxed);
    if (h < 0) {
        __builtin_cpu_init();
        // clang 14's __builtin_cpu_supports has no "f16c": CPUID leaf 1, ECX bit 29.
        unsigned a, b, c, d;
        const bool f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
        h = __builtin_cpu_supports("avx2") && f16c ? 1 : 0;
        atomic_store_explicit(&have, h, memory_order_relaxed);
    }
    return h == 1;
#else
    return false;
#endif
}

bool quant_have_avx512(void)
{
#if defined(__x86_64__) || defined(__i386__)
    static _Atomic int have = -1;
    int h = atomic_load_explicit(&have, memory_order_relaxed);
    if (h < 0) {
        __builtin_cpu_init();
        h = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") ? 1 : 0;
        atomic_store_explicit(&have, h, memory_order_relaxed);
    }
    return h == 1;
#else
    return false;
#endif
}

bool quant_have_avx2(void)
{
#if defined(__x86_64__) || defined(__i386__)
    static _Atomic int have = -1; // loader threads may ask at once; all get one answer
    int h = atomic_load_explicit(&have, memory_order_relaxed);
    if (h < 0) {
        __builtin_cpu_init();
        h = __builtin_cpu_supports("avx2") ? 1 : 0;
        atomic_store_explicit(&have, h, memory_order_relaxed);
    }
    return h == 1;
#else
    return false;
#endif
}

// The reference algorithm; with AVX2, eight sub-blocks at a time (the same
// bytes, several times faster: this search is most of a quantized load).
static void quant_q4_K(const float *x, block_q4_K *y, int64_t nb)
{
#if defined(__x86_64__) || defined(__i386__)
    if (!q_scalar_only && quant_have_avx512()) {
        quant_q4_K_avx512(x, y, nb);
        return;
    }
    if (!q_scalar_only && quant_have_avx2()) {
        quant_q4_K_avx2(x, y, nb);
        return;
    }
#endif
    quant_q4_K_scalar(x, y, nb);
}

// ggml's make_qx_quants with rmse_type 1 and no importance weights: a
// symmetric grid of 2*nmax levels, the scale refined over 18 candidates.
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L)
{
    float max = 0;
    float amax = 0;
    for (int i = 0; i < n; ++i) {
        float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < GROUP_MAX_EPS) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0;
    float suml2 = 0;
    for (int i = 0; i < n; ++i) {
        int l = nearest_int(iscale * x[i]);
        l = QMAX(-nmax, QMIN(nmax - 1, l));
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; ++i) {
            int l = nearest_int(iscale * x[i]);
            l = QMAX(-nmax, QMIN(nmax - 1, l));
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; ++i) {
                int l = nearest_int(iscale * x[i]);
                L[i] = (int8_t)(nmax + QMAX(-nmax, QMIN(nmax - 1, l)));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

void quant_q6_K_finish(const float *x, const float scales[16], int8_t L[QK_K], block_q6_K *y)
{
    float max_scale = 0;
    float max_abs_scale = 0;
    for (int ib = 0; ib < QK_K / 16; ++ib) {
        const float abs_scale = fabsf(scales[ib]);
        if (abs_scale > max_abs_scale) {
            max_abs_scale = abs_scale;
            max_scale = scales[ib];
        }
    }

    if (max_abs_scale < GROUP_MAX_EPS) {
        memset(y, 0, sizeof(block_q6_K));
        return;
    }

    float iscale = -128.f / max_scale;
    y->d = f32_to_fp16(1 / iscale);
    for (int ib = 0; ib < QK_K / 16; ++ib)
        y->scales[ib] = (int8_t)QMIN(127, nearest_int(iscale * scales[ib]));

    for (int j = 0; j < QK_K / 16; ++j) {
        float d = fp16_to_f32(y->d) * y->scales[j];
        if (!d) continue;
        for (int ii = 0; ii < 16; ++ii) {
            int l = nearest_int(x[16 * j + ii] / d);
            l = QMAX(-32, QMIN(31, l));
            L[16 * j + ii] = (int8_t)(l + 32);
        }
    }

    uint8_t *ql = y->ql;
    uint8_t *qh = y->qh;
    for (int j = 0; j < QK_K; j += 128) {
        for (int l = 0; l < 32; ++l) {
            const uint8_t q1 = L[j + l + 0] & 0xF;
            const uint8_t q2 = L[j + l + 32] & 0xF;
            const uint8_t q3 = L[j + l + 64] & 0xF;
            const uint8_t q4 = L[j + l + 96] & 0xF;
            ql[l + 0] = (uint8_t)(q1 | (q3 << 4));
            ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
            qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) |
                              ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
        }
        ql += 64;
        qh += 32;
    }
}

static void quant_q6_K(const float *x, block_q6_K *y, int64_t nb)
{
#if defined(__x86_64__) || defined(__i386__)
    if (!q_scalar_only && quant_have_avx512()) {
        quant_q6_K_avx512(x, y, nb);
        return;
    }
#endif
    int8_t L[QK_K];
    float scales[QK_K / 16];
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        for (int ib = 0; ib < QK_K / 16; ++ib) scales[ib] = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
        quant_q6_K_finish(x, scales, L, &y[i]);
    }
}

int64_t quant_quantize_row(dtype t, const float *src, void *dst, int64_t n)
{
    const int64_t bytes = dtype_row_bytes(t, n);
    if (bytes < 0 || !quant_can_quantize(t)) return -1;
    const int64_t nb = n / dtype_block_elems(t);
    switch (t) {
    case DTYPE_F32:
        memcpy(dst, src, (size_t)n * sizeof(float));
        break;
    case DTYPE_F16: {
        uint16_t *d = dst;
#if defined(__x86_64__) || defined(__i386__)
        if (!q_scalar_only && quant_have_f16c()) {
            quant_f32_to_f16_avx2(src, d, n);
            break;
        }
#endif
        for (int64_t i = 0; i < n; i++) d[i] = f32_to_fp16(src[i]);
        break;
    }
    case DTYPE_BF16: {
        uint16_t *d = dst;
        for (int64_t i = 0; i < n; i++) d[i] = f32_to_bf16(src[i]);
        break;
    }
    case DTYPE_Q8_0: quant_q8_0(src, dst, nb); break;
    case DTYPE_Q4_0: quant_q4_0(src, dst, nb); break;
    case DTYPE_Q4_K: quant_q4_K(src, dst, nb); break;
    case DTYPE_Q6_K: quant_q6_K(src, dst, nb); break;
    default: return -1;
    }
    return bytes;
}

void quant_quantize_row_q8_K(const float *x, void *dst, int64_t n)
{
    block_q8_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float max = 0, amax = 0;
        for (int j = 0; j < QK_K; ++j) {
            float ax = fabsf(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        if (!amax) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < QK_K; ++j) {
            int v = nearest_int(iscale * x[j]);
            y[i].qs[j] = (int8_t)QMIN(127, v);
        }
        for (int j = 0; j < QK_K / 16; ++j) {
            int sum = 0;
            for (int ii = 0; ii < 16; ++ii) sum += y[i].qs[j * 16 + ii];
            y[i].bsums[j] = (int16_t)sum;
        }
        y[i].d = 1 / iscale;
    }
}

double quant_relative_rms(dtype t, const float *src, int64_t n)
{
    const int64_t bytes = dtype_row_bytes(t, n);
    if (bytes < 0 || !quant_can_quantize(t) || n <= 0) return -1.0;
    // A chunk at a time, so a large tensor needs no tensor-sized buffer.
    enum { CHUNK = 4096 };
    const int64_t chunk = (CHUNK / dtype_block_elems(t)) * dtype_block_elems(t);
    void *q = malloc((size_t)dtype_row_bytes(t, chunk));
    float *back = malloc((size_t)chunk * sizeof(float));
    if (!q || !back) {
        free(q);
        free(back);
        return -1.0;
    }
    double err2 = 0, ref2 = 0;
    for (int64_t off = 0; off < n; off += chunk) {
        const int64_t len = n - off < chunk ? n - off : chunk; // a multiple of the block
        quant_quantize_row(t, src + off, q, len);
        quant_dequantize_row(t, q, back, len);
        for (int64_t i = 0; i < len; i++) {
            const double e = (double)back[i] - (double)src[off + i];
            err2 += e * e;
            ref2 += (double)src[off + i] * (double)src[off + i];
        }
    }
    free(q);
    free(back);
    return ref2 > 0 ? sqrt(err2 / ref2) : sqrt(err2);
}
