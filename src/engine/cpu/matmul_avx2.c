// AVX2 + FMA + F16C kernels for cpu_matmul (see matmul_kernels.h). Every
// function carries the target attribute, so this file builds without -m
// flags and runs only where matmul.c found the features.
//
// The quantized decode kernels take integer dot products the way ggml does:
// 32 weights and 32 activation bytes meet in one _mm256_maddubs_epi16 (u8 x
// s8 -> pairs summed to s16), _mm256_madd_epi16 widens to s32, and the block
// scales are applied in f32 once per block.
#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>
#include <string.h>

#include "engine/cpu/matmul_kernels.h"
#include "engine/quant.h"
#include "engine/quant_blocks.h"

#define AVX2 __attribute__((target("avx2,fma,f16c")))

AVX2 static inline float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 static inline float half(uint16_t h)
{
    return _cvtsh_ss(h);
}

// Sum of the products of 32 signed bytes, as 8 f32 partial sums. maddubs
// wants one unsigned operand: move a's sign onto b.
AVX2 static inline __m256 mul_sum_i8(__m256i a, __m256i b)
{
    const __m256i ax = _mm256_sign_epi8(a, a);
    const __m256i sb = _mm256_sign_epi8(b, a);
    const __m256i p16 = _mm256_maddubs_epi16(ax, sb);
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}

// u8 a (each < 128) times s8 b, as 8 f32 partial sums.
AVX2 static inline __m256 mul_sum_u8_i8(__m256i a, __m256i b)
{
    const __m256i p16 = _mm256_maddubs_epi16(a, b);
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}

// 16 bytes of nibbles -> 32 bytes: low nibbles (elements 0..15) in the low
// lane, high nibbles (16..31) in the high lane.
AVX2 static inline __m256i unpack_nibbles(const uint8_t *q)
{
    const __m128i t = _mm_loadu_si128((const __m128i *)q);
    const __m256i v = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
}

// 32 bits -> 32 bytes, 0xFF where the bit is set (byte i <- bit i).
AVX2 static inline __m256i bytes_from_bits(uint32_t bits)
{
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2,
                                          2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), shuf);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
}

// ---------------------------------------------------------------- f32 dots

AVX2 static float dot_f32(const float *a, const float *b, int64_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum8(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

AVX2 static void rows_f32(const void *w, int64_t stride, const void *x, float *y, int64_t n,
                          int64_t n_rows)
{
    for (int64_t r = 0; r < n_rows; r++) y[r] = dot_f32((const float *)((const uint8_t *)w + r * stride), x, n);
}

AVX2 static inline __m256 load_f16(const uint16_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

AVX2 static inline __m256 load_bf16(const uint16_t *p)
{
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

// F16 and BF16 rows, converted in registers; n is any length.
#define ROWS_HALF(NAME, LOAD, SCALAR)                                                              \
    AVX2 static void NAME(const void *w, int64_t stride, const void *xv, float *y, int64_t n,      \
                          int64_t n_rows)                                                          \
    {                                                                                              \
        const float *x = xv;                                                                       \
        for (int64_t r = 0; r < n_rows; r++) {                                                     \
            const uint16_t *a = (const uint16_t *)((const uint8_t *)w + r * stride);               \
            __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;                            \
            int64_t i = 0;                                                                         \
            for (; i + 32 <= n; i += 32) {                                                         \
                s0 = _mm256_fmadd_ps(LOAD(a + i), _mm256_loadu_ps(x + i), s0);                     \
                s1 = _mm256_fmadd_ps(LOAD(a + i + 8), _mm256_loadu_ps(x + i + 8), s1);             \
                s2 = _mm256_fmadd_ps(LOAD(a + i + 16), _mm256_loadu_ps(x + i + 16), s2);           \
                s3 = _mm256_fmadd_ps(LOAD(a + i + 24), _mm256_loadu_ps(x + i + 24), s3);           \
            }                                                                                      \
            for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(LOAD(a + i), _mm256_loadu_ps(x + i), s0); \
            float s = hsum8(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));          \
            for (; i < n; i++) s += SCALAR(a[i]) * x[i];                                           \
            y[r] = s;                                                                              \
        }                                                                                          \
    }

ROWS_HALF(rows_f16, load_f16, half)
ROWS_HALF(rows_bf16, load_bf16, bf16_to_f32)

AVX2 static void f16_to_f32(const uint16_t *src, float *dst, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_f16(src + i));
    for (; i < n; i++) dst[i] = half(src[i]);
}

AVX2 static void bf16_to_f32_avx2(const uint16_t *src, float *dst, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_bf16(src + i));
    for (; i < n; i++) dst[i] = bf16_to_f32(src[i]);
}

// ---------------------------------------------------------------- 32-blocks

AVX2 static void rows_q8_0(const void *w, int64_t stride, const void *xv, float *y, int64_t n,
                           int64_t n_rows)
{
    const act_q8 *x = xv;
    const int64_t nb = n / 32;
    for (int64_t r = 0; r < n_rows; r++) {
        const block_q8_0 *b = (const block_q8_0 *)((const uint8_t *)w + r * stride);
        __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
        int64_t i = 0;
        for (; i + 2 <= nb; i += 2) {
            const __m256i w0 = _mm256_loadu_si256((const __m256i *)b[i].qs);
            const __m256i w1 = _mm256_loadu_si256((const __m256i *)b[i + 1].qs);
            const __m256i x0 = _mm256_loadu_si256((const __m256i *)x[i].qs);
            const __m256i x1 = _mm256_loadu_si256((const __m256i *)x[i + 1].qs);
            acc0 = _mm256_fmadd_ps(_mm256_set1_ps(half(b[i].d) * x[i].d), mul_sum_i8(w0, x0), acc0);
            acc1 = _mm256_fmadd_ps(_mm256_set1_ps(half(b[i + 1].d) * x[i + 1].d), mul_sum_i8(w1, x1), acc1);
        }
        for (; i < nb; i++) {
            const __m256i w0 = _mm256_loadu_si256((const __m256i *)b[i].qs);
            const __m256i x0 = _mm256_loadu_si256((const __m256i *)x[i].qs);
            acc0 = _mm256_fmadd_ps(_mm256_set1_ps(half(b[i].d) * x[i].d), mul_sum_i8(w0, x0), acc0);
        }
        y[r] = hsum8(_mm256_add_ps(acc0, acc1));
    }
}

// Q4_0: the nibbles go into maddubs unsigned, and the -8 offset comes off
// as 8 * sum(activations) per block, which act_q8 carries.
AVX2 static void rows_q4_0(const void *w, int64_t stride, const void *xv, float *y, int64_t n,
                           int64_t n_rows)
{
    const act_q8 *x = xv;
    const int64_t nb = n / 32;
    for (int64_t r = 0; r < n_rows; r++) {
        const block_q4_0 *b = (const block_q4_0 *)((const uint8_t *)w + r * stride);
        __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
        float offs = 0.0f;
        int64_t i = 0;
        for (; i + 2 <= nb; i += 2) {
            const float d0 = half(b[i].d) * x[i].d, d1 = half(b[i + 1].d) * x[i + 1].d;
            const __m256i x0 = _mm256_loadu_si256((const __m256i *)x[i].qs);
            const __m256i x1 = _mm256_loadu_si256((const __m256i *)x[i + 1].qs);
            acc0 = _mm256_fmadd_ps(_mm256_set1_ps(d0), mul_sum_u8_i8(unpack_nibbles(b[i].qs), x0), acc0);
            acc1 = _mm256_fmadd_ps(_mm256_set1_ps(d1), mul_sum_u8_i8(unpack_nibbles(b[i + 1].qs), x1), acc1);
            offs += d0 * (float)x[i].sum + d1 * (float)x[i + 1].sum;
        }
        for (; i < nb; i++) {
            const float d0 = half(b[i].d) * x[i].d;
            const __m256i x0 = _mm256_loadu_si256((const __m256i *)x[i].qs);
            acc0 = _mm256_fmadd_ps(_mm256_set1_ps(d0), mul_sum_u8_i8(unpack_nibbles(b[i].qs), x0), acc0);
            offs += d0 * (float)x[i].sum;
        }
        y[r] = hsum8(_mm256_add_ps(acc0, acc1)) - 8.0f * offs;
    }
}

// Q4_1: d*q + m, so the dot is d*dx*sum(q*qx) + m*dx*sum(qx).
AVX2 static void rows_q4_1(const void *w, int64_t stride, const void *xv, float *y, int64_t n,
                           int64_t n_rows)
{
    const act_q8 *x = xv;
    const int64_t nb = n / 32;
    for (int64_t r = 0; r < n_rows; r++) {
        const block_q4_1 *b = (const block_q4_1 *)((const uint8_t *)w + r * stride);
        __m256 acc = _mm256_setzero_ps();
        float mins = 0.0f;
        for (int64_t i = 0; i < nb; i++) {
            const __m256i w0 = unpack_nibbles(b[i].qs);
            const __m256i x0 = _mm256_loadu_si256((const __m256i *)x[i].qs);
            acc = _mm256_fmadd_ps(_mm256_set1_ps(half(b[i].d) * x[i].d), mul_sum_u8_i8(w0, x0), acc);
            mins += half(b[i].m) * x[i].d * (float)x[i].sum;
        }
        y[r] = hsum8(acc) + mins;
    }
}

// Q5_0: the fifth bit from qh; (nibble | bit << 4) - 16 as a signed byte is
// the nibble with 0xF0 or'ed in where the bit is clear.
AVX2 static void rows_q5_0(const void *w, int64_t stride, const void *xv, float *y, int64_t n,
                           int64_t n_rows)
{
    const act_q8 *x = xv;
    const int64_t nb = n / 32;
    const __m256i f0 = _mm256_set1_epi8((char)0xF0);
    for (int64_t r = 0; r < n_rows; r++) {
        const block_q5_0 *b = (const block_q5_0 *)((const uint8_t *)w + r * stride);
        __m256 acc = _mm256_setzero_ps();
        for (int64_t i = 0; i < nb; i++) {
            uint32_t qh;
            memcpy(&qh, b[i].qh, 4);
            const __m256i hi = _mm256_andnot_si256(bytes_from_bits(qh), f0);
            const __m256i w0 = _mm256_or_si256(unpack_nibbles(b[i].qs), hi);
            const __m256i x0 = _mm256_loadu_si256((const __m256i *)x[i].qs);
            acc = _mm256_fmadd_ps(_mm256_set1_ps(half(b[i].d) * x[i].d), mul_sum_i8(w0, x0), acc);
        }
        y[r] = hsum8(acc);
    }
}

// ---------------------------------------------------------------- K-quants

// The 8 scales (bytes 0..7) and 8 mins (bytes 8..15) of a Q4_K super-block,
// unpacked from their 12-byte 6-bit packing with 32-bit word operations
// (the layout quant_scale_min_k4 reads one at a time).
static inline void q4_K_scales_mins(const uint8_t packed[12], uint32_t out[4])
{
    uint32_t u[3];
    memcpy(u, packed, 12);
    const uint32_t lo6 = 0x3F3F3F3F, lo4 = 0x0F0F0F0F, lo2 = 0x03030303;
    out[0] = u[0] & lo6;                                      // scales 0..3
    out[1] = (u[2] & lo4) | (((u[0] >> 6) & lo2) << 4);       // scales 4..7
    out[2] = u[1] & lo6;                                      // mins 0..3
    out[3] = ((u[2] >> 4) & lo4) | (((u[1] >> 6) & lo2) << 4); // mins 4..7
}

AVX2 static void rows_q4_K(const void *w, int64_t stride, const void *xv, float *y, int64_t n,
                           int64_t n_rows)
{
    const block_q8_K *x = xv;
    const int64_t nb = n / QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    // shuffle masks that broadcast 16-bit element j of a lane: bytes 2j, 2j+1
    __m256i bcast[8];
    for (int j = 0; j < 8; j++) bcast[j] = _mm256_set1_epi16((short)(0x0100 * (2 * j + 1) + 2 * j));
    for (int64_t r = 0; r < n_rows; r++) {
        const block_q4_K *b = (const block_q4_K *)((const uint8_t *)w + r * stride);
        __m256 acc = _mm256_setzero_ps();
        __m128 acc_m = _mm_setzero_ps();
        for (int64_t i = 0; i < nb; i++) {
            uint32_t sm[4];
            q4_K_scales_mins(b[i].scales, sm);
            const __m128i sm8 = _mm_loadu_si128((const __m128i *)sm);
            // mins . (pairwise sums of the 16 activation group sums)
            const __m128i mins = _mm_cvtepu8_epi16(_mm_srli_si128(sm8, 8));
            const __m128i bs0 = _mm_loadu_si128((const __m128i *)x[i].bsums);
            const __m128i bs1 = _mm_loadu_si128((const __m128i *)(x[i].bsums + 8));
            const __m128i prod = _mm_madd_epi16(mins, _mm_hadd_epi16(bs0, bs1));
            acc_m = _mm_fmadd_ps(_mm_set1_ps(-half(b[i].dmin) * x[i].d), _mm_cvtepi32_ps(prod), acc_m);

            const __m128i sc128 = _mm_cvtepu8_epi16(sm8);
            const __m256i scales = _mm256_set_m128i(sc128, sc128);
            __m256i sumi = _mm256_setzero_si256();
            for (int j = 0; j < 4; j++) {
                const __m256i q4 = _mm256_loadu_si256((const __m256i *)(b[i].qs + 32 * j));
                const __m256i lo = _mm256_and_si256(q4, m4);
                const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
                const __m256i xl = _mm256_loadu_si256((const __m256i *)(x[i].qs + 64 * j));
                const __m256i xh = _mm256_loadu_si256((const __m256i *)(x[i].qs + 64 * j + 32));
                const __m256i sl = _mm256_shuffle_epi8(scales, bcast[2 * j]);
                const __m256i sh = _mm256_shuffle_epi8(scales, bcast[2 * j + 1]);
                const __m256i pl = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, xl), sl);
                const __m256i ph = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, xh), sh);
                sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pl, ph));
            }
            acc = _mm256_fmadd_ps(_mm256_set1_ps(half(b[i].d) * x[i].d), _mm256_cvtepi32_ps(sumi), acc);
        }
        acc_m = _mm_add_ps(acc_m, _mm_movehl_ps(acc_m, acc_m));
        acc_m = _mm_add_ss(acc_m, _mm_movehdup_ps(acc_m));
        y[r] = hsum8(acc) + _mm_cvtss_f32(acc_m);
    }
}

// Q5_K: Q4_K's scales and mins, plus a fifth bit per element from qh (bit
// 2j for the low nibbles of 64-element chunk j, bit 2j+1 for the high).
AVX2 static void rows_q5_K(const void *w, int64_t stride, const void *xv, float *y, int64_t n,
                           int64_t n_rows)
{
    const block_q8_K *x = xv;
    const int64_t nb = n / QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    __m256i bcast[8];
    for (int j = 0; j < 8; j++) bcast[j] = _mm256_set1_epi16((short)(0x0100 * (2 * j + 1) + 2 * j));
    for (int64_t r = 0; r < n_rows; r++) {
        const block_q5_K *b = (const block_q5_K *)((const uint8_t *)w + r * stride);
        __m256 acc = _mm256_setzero_ps();
        __m128 acc_m = _mm_setzero_ps();
        for (int64_t i = 0; i < nb; i++) {
            uint32_t sm[4];
            q4_K_scales_mins(b[i].scales, sm);
            const __m128i sm8 = _mm_loadu_si128((const __m128i *)sm);
            const __m128i mins = _mm_cvtepu8_epi16(_mm_srli_si128(sm8, 8));
            const __m128i bs0 = _mm_loadu_si128((const __m128i *)x[i].bsums);
            const __m128i bs1 = _mm_loadu_si128((const __m128i *)(x[i].bsums + 8));
            const __m128i prod = _mm_madd_epi16(mins, _mm_hadd_epi16(bs0, bs1));
            acc_m = _mm_fmadd_ps(_mm_set1_ps(-half(b[i].dmin) * x[i].d), _mm_cvtepi32_ps(prod), acc_m);

            const __m128i sc128 = _mm_cvtepu8_epi16(sm8);
            const __m256i scales = _mm256_set_m128i(sc128, sc128);
            const __m256i hb = _mm256_loadu_si256((const __m256i *)b[i].qh);
            __m256i sumi = _mm256_setzero_si256();
            for (int j = 0; j < 4; j++) {
                const __m256i q4 = _mm256_loadu_si256((const __m256i *)(b[i].qs + 32 * j));
                const __m256i h0 = _mm256_and_si256(_mm256_srli_epi16(hb, 2 * j), one);
                const __m256i h1 = _mm256_and_si256(_mm256_srli_epi16(hb, 2 * j + 1), one);
                const __m256i lo = _mm256_or_si256(_mm256_and_si256(q4, m4), _mm256_slli_epi16(h0, 4));
                const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q4, 4), m4),
                                                   _mm256_slli_epi16(h1, 4));
                const __m256i xl = _mm256_loadu_si256((const __m256i *)(x[i].qs + 64 * j));
                const __m256i xh = _mm256_loadu_si256((const __m256i *)(x[i].qs + 64 * j + 32));
                const __m256i pl = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, xl), _mm256_shuffle_epi8(scales, bcast[2 * j]));
                const __m256i ph = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, xh), _mm256_shuffle_epi8(scales, bcast[2 * j + 1]));
                sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pl, ph));
            }
            acc = _mm256_fmadd_ps(_mm256_set1_ps(half(b[i].d) * x[i].d), _mm256_cvtepi32_ps(sumi), acc);
        }
        acc_m = _mm_add_ps(acc_m, _mm_movehl_ps(acc_m, acc_m));
        acc_m = _mm_add_ss(acc_m, _mm_movehdup_ps(acc_m));
        y[r] = hsum8(acc) + _mm_cvtss_f32(acc_m);
    }
}

AVX2 static void rows_q6_K(const void *w, int64_t stride, const void *xv, float *y, int64_t n,
                           int64_t n_rows)
{
    const block_q8_K *x = xv;
    const int64_t nb = n / QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i m2 = _mm256_set1_epi8(0x03);
    // Quants k (32 each) of a half use scales 2k (low lane) and 2k+1 (high
    // lane): shuffles that broadcast those 16-bit elements.
    __m256i pick[4];
    for (int k = 0; k < 4; k++)
        pick[k] = _mm256_set_m128i(_mm_set1_epi16((short)(0x0100 * (4 * k + 3) + 4 * k + 2)),
                                   _mm_set1_epi16((short)(0x0100 * (4 * k + 1) + 4 * k)));
    for (int64_t r = 0; r < n_rows; r++) {
        const block_q6_K *b = (const block_q6_K *)((const uint8_t *)w + r * stride);
        __m256 acc = _mm256_setzero_ps(), acc_c = acc;
        for (int64_t i = 0; i < nb; i++) {
            const float d = half(b[i].d) * x[i].d;
            // The stored quants are q + 32: take 32 * sum(scale * activations) off.
            const __m128i sc8 = _mm_loadu_si128((const __m128i *)b[i].scales);
            const __m256i corr = _mm256_madd_epi16(_mm256_cvtepi8_epi16(sc8),
                                                   _mm256_loadu_si256((const __m256i *)x[i].bsums));
            acc_c = _mm256_fmadd_ps(_mm256_set1_ps(-32.0f * d), _mm256_cvtepi32_ps(corr), acc_c);

            const uint8_t *ql = b[i].ql;
            const uint8_t *qh = b[i].qh;
            const int8_t *q8 = x[i].qs;
            __m256i sumi = _mm256_setzero_si256();
            for (int h = 0; h < 2; h++) {
                const __m128i s8 = _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(b[i].scales + 8 * h)));
                const __m256i sc = _mm256_set_m128i(s8, s8);
                const __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
                const __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
                const __m256i hb = _mm256_loadu_si256((const __m256i *)qh);
                __m256i q[4];
                q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4),
                                       _mm256_slli_epi16(_mm256_and_si256(hb, m2), 4));
                q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m2), 4));
                q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m2), 4));
                q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m2), 4));
                for (int k = 0; k < 4; k++) {
                    const __m256i xk = _mm256_loadu_si256((const __m256i *)(q8 + 32 * k));
                    const __m256i s = _mm256_shuffle_epi8(sc, pick[k]);
                    sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], xk), s));
                }
                ql += 64;
                qh += 32;
                q8 += 128;
            }
            acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
        }
        y[r] = hsum8(_mm256_add_ps(acc, acc_c));
    }
}

// ---------------------------------------------------------------- expansion

// Prefill expands weight rows to f32 once per call; at 512 tokens that is
// cheap per use, but a scalar loop still cost a third of the time of a
// quantized prefill, so these convert 16 or 32 elements per step.

// 16 signed bytes times d (minus m) to 16 floats.
AVX2 static inline void store_i8x16(__m128i q, __m256 d, __m256 m, float *dst)
{
    const __m256 a = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
    const __m256 b = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q, 8)));
    _mm256_storeu_ps(dst, _mm256_sub_ps(_mm256_mul_ps(a, d), m));
    _mm256_storeu_ps(dst + 8, _mm256_sub_ps(_mm256_mul_ps(b, d), m));
}

AVX2 static inline void store_i8x32(__m256i q, __m256 d, __m256 m, float *dst)
{
    store_i8x16(_mm256_castsi256_si128(q), d, m, dst);
    store_i8x16(_mm256_extracti128_si256(q, 1), d, m, dst + 16);
}

AVX2 static void expand_q8_0(const void *src, float *dst, int64_t n)
{
    const block_q8_0 *b = src;
    const __m256 zero = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / 32; i++)
        store_i8x32(_mm256_loadu_si256((const __m256i *)b[i].qs), _mm256_set1_ps(half(b[i].d)), zero, dst + 32 * i);
}

AVX2 static void expand_q4_0(const void *src, float *dst, int64_t n)
{
    const block_q4_0 *b = src;
    const __m256 zero = _mm256_setzero_ps();
    const __m256i eight = _mm256_set1_epi8(8);
    for (int64_t i = 0; i < n / 32; i++)
        store_i8x32(_mm256_sub_epi8(unpack_nibbles(b[i].qs), eight), _mm256_set1_ps(half(b[i].d)), zero,
                    dst + 32 * i);
}

AVX2 static void expand_q4_1(const void *src, float *dst, int64_t n)
{
    const block_q4_1 *b = src;
    for (int64_t i = 0; i < n / 32; i++) // d*q + m, as q*d - (-m)
        store_i8x32(unpack_nibbles(b[i].qs), _mm256_set1_ps(half(b[i].d)), _mm256_set1_ps(-half(b[i].m)),
                    dst + 32 * i);
}

AVX2 static void expand_q5_0(const void *src, float *dst, int64_t n)
{
    const block_q5_0 *b = src;
    const __m256 zero = _mm256_setzero_ps();
    const __m256i f0 = _mm256_set1_epi8((char)0xF0);
    for (int64_t i = 0; i < n / 32; i++) {
        uint32_t qh;
        memcpy(&qh, b[i].qh, 4);
        const __m256i q = _mm256_or_si256(unpack_nibbles(b[i].qs), _mm256_andnot_si256(bytes_from_bits(qh), f0));
        store_i8x32(q, _mm256_set1_ps(half(b[i].d)), zero, dst + 32 * i);
    }
}

AVX2 static void expand_q4_K(const void *src, float *dst, int64_t n)
{
    const block_q4_K *b = src;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K) {
        uint32_t sm[4];
        q4_K_scales_mins(b[i].scales, sm);
        const uint8_t *sc = (const uint8_t *)sm, *mn = sc + 8;
        const float d = half(b[i].d), dmin = half(b[i].dmin);
        for (int j = 0; j < 4; j++) {
            const __m256i q4 = _mm256_loadu_si256((const __m256i *)(b[i].qs + 32 * j));
            store_i8x32(_mm256_and_si256(q4, m4), _mm256_set1_ps(d * sc[2 * j]),
                        _mm256_set1_ps(dmin * mn[2 * j]), dst + 64 * j);
            store_i8x32(_mm256_and_si256(_mm256_srli_epi16(q4, 4), m4), _mm256_set1_ps(d * sc[2 * j + 1]),
                        _mm256_set1_ps(dmin * mn[2 * j + 1]), dst + 64 * j + 32);
        }
    }
}

AVX2 static void expand_q5_K(const void *src, float *dst, int64_t n)
{
    const block_q5_K *b = src;
    const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K) {
        uint32_t sm[4];
        q4_K_scales_mins(b[i].scales, sm);
        const uint8_t *sc = (const uint8_t *)sm, *mn = sc + 8;
        const float d = half(b[i].d), dmin = half(b[i].dmin);
        const __m256i hb = _mm256_loadu_si256((const __m256i *)b[i].qh);
        for (int j = 0; j < 4; j++) {
            const __m256i q4 = _mm256_loadu_si256((const __m256i *)(b[i].qs + 32 * j));
            const __m256i h0 = _mm256_and_si256(_mm256_srli_epi16(hb, 2 * j), one);
            const __m256i h1 = _mm256_and_si256(_mm256_srli_epi16(hb, 2 * j + 1), one);
            store_i8x32(_mm256_or_si256(_mm256_and_si256(q4, m4), _mm256_slli_epi16(h0, 4)),
                        _mm256_set1_ps(d * sc[2 * j]), _mm256_set1_ps(dmin * mn[2 * j]), dst + 64 * j);
            store_i8x32(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q4, 4), m4), _mm256_slli_epi16(h1, 4)),
                        _mm256_set1_ps(d * sc[2 * j + 1]), _mm256_set1_ps(dmin * mn[2 * j + 1]), dst + 64 * j + 32);
        }
    }
}

AVX2 static void expand_q6_K(const void *src, float *dst, int64_t n)
{
    const block_q6_K *b = src;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x03), off = _mm256_set1_epi8(32);
    const __m256 zero = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = half(b[i].d);
        for (int h = 0; h < 2; h++, dst += 128) {
            const uint8_t *ql = b[i].ql + 64 * h, *qh = b[i].qh + 32 * h;
            const int8_t *sc = b[i].scales + 8 * h;
            const __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
            const __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            const __m256i hb = _mm256_loadu_si256((const __m256i *)qh);
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m2), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m2), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m2), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m2), 4));
            for (int k = 0; k < 4; k++) {
                const __m256i v = _mm256_sub_epi8(q[k], off);
                store_i8x16(_mm256_castsi256_si128(v), _mm256_set1_ps(d * sc[2 * k]), zero, dst + 32 * k);
                store_i8x16(_mm256_extracti128_si256(v, 1), _mm256_set1_ps(d * sc[2 * k + 1]), zero,
                            dst + 32 * k + 16);
            }
        }
    }
}

// ---------------------------------------------------------------- activations

AVX2 static void quantize_q8(const float *x, act_q8 *y, int64_t n)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < n / 32; b++, x += 32) {
        __m256 v[4];
        __m256 mx = _mm256_setzero_ps();
        for (int j = 0; j < 4; j++) {
            v[j] = _mm256_loadu_ps(x + 8 * j);
            mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, v[j]));
        }
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        const float amax = _mm_cvtss_f32(m);
        const float d = amax / 127.0f;
        const __m256 id = _mm256_set1_ps(d ? 1.0f / d : 0.0f);
        __m256i q[4];
        for (int j = 0; j < 4; j++)
            q[j] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[j], id),
                                                      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        __m256i s = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        s4 = _mm_hadd_epi32(s4, s4);
        s4 = _mm_hadd_epi32(s4, s4);
        // Pack 32-bit to bytes; packs works within 128-bit lanes, so restore
        // the element order with a final permute.
        const __m256i p01 = _mm256_packs_epi32(q[0], q[1]);
        const __m256i p23 = _mm256_packs_epi32(q[2], q[3]);
        __m256i p = _mm256_packs_epi16(p01, p23);
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)y[b].qs, p);
        y[b].d = d;
        y[b].sum = _mm_cvtsi128_si32(s4);
    }
}

// ---------------------------------------------------------------- prefill

// A 4-row x 2-token tile of dot products over k: 8 accumulators, 4 weight
// vectors and one activation vector fit the 16 ymm registers. Named
// variables, not an array, so they stay in registers at -O2.
AVX2 static void tile_4x2(const float *w, int64_t ldw, const float *x, int64_t ldx, int64_t k,
                          float *y, int64_t ldy, bool accumulate)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c03 = c00;
    __m256 c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    const float *w1 = w + ldw, *w2 = w + 2 * ldw, *w3 = w + 3 * ldw, *x1 = x + ldx;
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
        const __m256 a0 = _mm256_loadu_ps(w + i), a1 = _mm256_loadu_ps(w1 + i);
        const __m256 a2 = _mm256_loadu_ps(w2 + i), a3 = _mm256_loadu_ps(w3 + i);
        __m256 xv = _mm256_loadu_ps(x + i);
        c00 = _mm256_fmadd_ps(a0, xv, c00);
        c01 = _mm256_fmadd_ps(a1, xv, c01);
        c02 = _mm256_fmadd_ps(a2, xv, c02);
        c03 = _mm256_fmadd_ps(a3, xv, c03);
        xv = _mm256_loadu_ps(x1 + i);
        c10 = _mm256_fmadd_ps(a0, xv, c10);
        c11 = _mm256_fmadd_ps(a1, xv, c11);
        c12 = _mm256_fmadd_ps(a2, xv, c12);
        c13 = _mm256_fmadd_ps(a3, xv, c13);
    }
    const __m256 acc[2][4] = {{c00, c01, c02, c03}, {c10, c11, c12, c13}};
    for (int t = 0; t < 2; t++)
        for (int r = 0; r < 4; r++) {
            float s = hsum8(acc[t][r]);
            for (int64_t j = i; j < k; j++) s += w[r * ldw + j] * x[t * ldx + j];
            y[t * ldy + r] = accumulate ? y[t * ldy + r] + s : s;
        }
}

AVX2 static void gemm(const float *w, int64_t ldw, int64_t m, const float *x, int64_t ldx,
                      int64_t n_tok, int64_t k, float *y, int64_t ldy, bool accumulate)
{
    const int64_t m4 = m / 4 * 4;
    int64_t t0 = 0;
    for (; t0 + 2 <= n_tok; t0 += 2)
        for (int64_t r0 = 0; r0 < m4; r0 += 4)
            tile_4x2(w + r0 * ldw, ldw, x + t0 * ldx, ldx, k, y + t0 * ldy + r0, ldy, accumulate);
    // The edges: the leftover token (all rows) and leftover rows (tiled tokens).
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t r = t < t0 ? m4 : 0; r < m; r++) {
            const float s = dot_f32(w + r * ldw, x + t * ldx, k);
            y[t * ldy + r] = accumulate ? y[t * ldy + r] + s : s;
        }
}

const matmul_kernels *matmul_kernels_avx2(void)
{
    static const matmul_kernels k = {
        .name = "avx2",
        .rows = {
            [DTYPE_F32] = rows_f32, [DTYPE_F16] = rows_f16, [DTYPE_BF16] = rows_bf16,
            [DTYPE_Q8_0] = rows_q8_0, [DTYPE_Q4_0] = rows_q4_0, [DTYPE_Q4_1] = rows_q4_1,
            [DTYPE_Q5_0] = rows_q5_0, [DTYPE_Q4_K] = rows_q4_K, [DTYPE_Q5_K] = rows_q5_K,
            [DTYPE_Q6_K] = rows_q6_K,
        },
        .act = {
            [DTYPE_Q8_0] = ACT_Q8, [DTYPE_Q4_0] = ACT_Q8, [DTYPE_Q4_1] = ACT_Q8,
            [DTYPE_Q5_0] = ACT_Q8, [DTYPE_Q4_K] = ACT_Q8_K, [DTYPE_Q5_K] = ACT_Q8_K,
            [DTYPE_Q6_K] = ACT_Q8_K,
        },
        .expand = {
            [DTYPE_Q8_0] = expand_q8_0, [DTYPE_Q4_0] = expand_q4_0, [DTYPE_Q4_1] = expand_q4_1,
            [DTYPE_Q5_0] = expand_q5_0,
            [DTYPE_Q4_K] = expand_q4_K, [DTYPE_Q5_K] = expand_q5_K, [DTYPE_Q6_K] = expand_q6_K,
        },
        .gemm = gemm,
        .dot_f32 = dot_f32,
        .f16_to_f32 = f16_to_f32,
        .bf16_to_f32 = bf16_to_f32_avx2,
        .quantize_q8 = quantize_q8,
    };
    return &k;
}

#else

#include "engine/cpu/matmul_kernels.h"

const matmul_kernels *matmul_kernels_avx2(void)
{
    return NULL;
}

#endif
