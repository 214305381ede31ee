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

AVX2 static void rows_q4_0(const void *w, int64_t stride, const void *xv, float *y, int64_t n,
                           int64_t n_rows)
{
    const act_q8 *x = xv;
    const int64_t nb = n / 32;
    const __m256i eight = _mm256_set1_epi8(8);
    for (int64_t r = 0; r < n_rows; r++) {
        const block_q4_0 *b = (const block_q4_0 *)((const uint8_t *)w + r * stride);
        __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
        int64_t i = 0;
        for (; i + 2 <= nb; i += 2) {
            const __m256i w0 = _mm256_sub_epi8(unpack_nibbles(b[i].qs), eight);
            const __m256i w1 = _mm256_sub_epi8(unpack_nibbles(b[i + 1].qs), eight);
            const __m256i x0 = _mm256_loadu_si256((const __m256i *)x[i].qs);
            const __m256i x1 = _mm256_loadu_si256((const __m256i *)x[i + 1].qs);
            acc0 = _mm256_fmadd_ps(_mm256_set1_ps(half(b[i].d) * x[i].d), mul_sum_i8(w0, x0), acc0);
            acc1 = _mm256_fmadd_ps(_mm256_set1_ps(half(b[i + 1].d) * x[i + 1].d), mul_sum_i8(w1, x1), acc1);
        }
        for (; i < nb; i++) {
            const __m256i w0 = _mm256_sub_epi8(unpack_nibbles(b[i].qs), eight);
            const __m256i x0 = _mm256_loadu_si256((const __m256i *)x[i].qs);
            acc0 = _mm256_fmadd_ps(_mm256_set1_ps(half(b[i].d) * x[i].d), mul_sum_i8(w0, x0), acc0);
        }
        y[r] = hsum8(_mm256_add_ps(acc0, acc1));
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

AVX2 static void rows_q4_K(const void *w, int64_t stride, const void *xv, float *y, int64_t n,
                           int64_t n_rows)
{
    const block_q8_K *x = xv;
    const int64_t nb = n / QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int64_t r = 0; r < n_rows; r++) {
        const block_q4_K *b = (const block_q4_K *)((const uint8_t *)w + r * stride);
        __m256 acc = _mm256_setzero_ps();
        float mins = 0.0f;
        for (int64_t i = 0; i < nb; i++) {
            uint8_t sc[8], mn[8];
            for (int j = 0; j < 8; j++) quant_scale_min_k4(j, b[i].scales, &sc[j], &mn[j]);
            int32_t msum = 0; // sum over sub-blocks of min * (sum of the activations)
            for (int j = 0; j < 8; j++) msum += mn[j] * (x[i].bsums[2 * j] + x[i].bsums[2 * j + 1]);
            mins -= half(b[i].dmin) * x[i].d * (float)msum;

            __m256i sumi = _mm256_setzero_si256();
            for (int j = 0; j < 4; j++) {
                const __m256i q4 = _mm256_loadu_si256((const __m256i *)(b[i].qs + 32 * j));
                const __m256i lo = _mm256_and_si256(q4, m4);
                const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
                const __m256i xl = _mm256_loadu_si256((const __m256i *)(x[i].qs + 64 * j));
                const __m256i xh = _mm256_loadu_si256((const __m256i *)(x[i].qs + 64 * j + 32));
                const __m256i pl = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, xl), _mm256_set1_epi16(sc[2 * j]));
                const __m256i ph = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, xh), _mm256_set1_epi16(sc[2 * j + 1]));
                sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pl, ph));
            }
            acc = _mm256_fmadd_ps(_mm256_set1_ps(half(b[i].d) * x[i].d), _mm256_cvtepi32_ps(sumi), acc);
        }
        y[r] = hsum8(acc) + mins;
    }
}

AVX2 static void rows_q6_K(const void *w, int64_t stride, const void *xv, float *y, int64_t n,
                           int64_t n_rows)
{
    const block_q8_K *x = xv;
    const int64_t nb = n / QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i m2 = _mm256_set1_epi8(0x03);
    for (int64_t r = 0; r < n_rows; r++) {
        const block_q6_K *b = (const block_q6_K *)((const uint8_t *)w + r * stride);
        __m256 acc = _mm256_setzero_ps();
        float offs = 0.0f;
        for (int64_t i = 0; i < nb; i++) {
            const float d = half(b[i].d) * x[i].d;
            // The stored quants are q + 32: take 32 * sum(scale * activations) off.
            int32_t corr = 0;
            for (int g = 0; g < 16; g++) corr += b[i].scales[g] * x[i].bsums[g];
            offs -= d * 32.0f * (float)corr;

            const uint8_t *ql = b[i].ql;
            const uint8_t *qh = b[i].qh;
            const int8_t *sc = b[i].scales;
            const int8_t *q8 = x[i].qs;
            __m256i sumi = _mm256_setzero_si256();
            for (int h = 0; h < 2; h++) {
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
                    const __m256i s = _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
                    sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], xk), s));
                }
                ql += 64;
                qh += 32;
                sc += 8;
                q8 += 128;
            }
            acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
        }
        y[r] = hsum8(acc) + offs;
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

// A 4-row x 3-token tile of dot products over k (k a multiple of 8 for the
// vector part; a scalar tail covers the rest).
AVX2 static void tile_4x3(const float *w, int64_t ldw, const float *x, int64_t ldx, int64_t k,
                          float *y, int64_t ldy, bool accumulate)
{
    __m256 acc[4][3];
    for (int r = 0; r < 4; r++)
        for (int t = 0; t < 3; t++) acc[r][t] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
        const __m256 w0 = _mm256_loadu_ps(w + i), w1 = _mm256_loadu_ps(w + ldw + i);
        const __m256 w2 = _mm256_loadu_ps(w + 2 * ldw + i), w3 = _mm256_loadu_ps(w + 3 * ldw + i);
        for (int t = 0; t < 3; t++) {
            const __m256 xv = _mm256_loadu_ps(x + t * ldx + i);
            acc[0][t] = _mm256_fmadd_ps(w0, xv, acc[0][t]);
            acc[1][t] = _mm256_fmadd_ps(w1, xv, acc[1][t]);
            acc[2][t] = _mm256_fmadd_ps(w2, xv, acc[2][t]);
            acc[3][t] = _mm256_fmadd_ps(w3, xv, acc[3][t]);
        }
    }
    for (int t = 0; t < 3; t++)
        for (int r = 0; r < 4; r++) {
            float s = hsum8(acc[r][t]);
            for (int64_t j = i; j < k; j++) s += w[r * ldw + j] * x[t * ldx + j];
            y[t * ldy + r] = accumulate ? y[t * ldy + r] + s : s;
        }
}

AVX2 static void gemm(const float *w, int64_t ldw, int64_t m, const float *x, int64_t ldx,
                      int64_t n_tok, int64_t k, float *y, int64_t ldy, bool accumulate)
{
    int64_t t0 = 0;
    for (; t0 + 3 <= n_tok; t0 += 3) {
        int64_t r0 = 0;
        for (; r0 + 4 <= m; r0 += 4)
            tile_4x3(w + r0 * ldw, ldw, x + t0 * ldx, ldx, k, y + t0 * ldy + r0, ldy, accumulate);
        for (; r0 < m; r0++)
            for (int64_t t = t0; t < t0 + 3; t++) {
                float s = dot_f32(w + r0 * ldw, x + t * ldx, k);
                y[t * ldy + r0] = accumulate ? y[t * ldy + r0] + s : s;
            }
    }
    for (; t0 < n_tok; t0++)
        for (int64_t r = 0; r < m; r++) {
            float s = dot_f32(w + r * ldw, x + t0 * ldx, k);
            y[t0 * ldy + r] = accumulate ? y[t0 * ldy + r] + s : s;
        }
}

const matmul_kernels *matmul_kernels_avx2(void)
{
    static const matmul_kernels k = {
        .name = "avx2",
        .rows = {
            [DTYPE_F32] = rows_f32, [DTYPE_F16] = rows_f16, [DTYPE_BF16] = rows_bf16,
            [DTYPE_Q8_0] = rows_q8_0, [DTYPE_Q4_0] = rows_q4_0, [DTYPE_Q4_1] = rows_q4_1,
            [DTYPE_Q5_0] = rows_q5_0, [DTYPE_Q4_K] = rows_q4_K, [DTYPE_Q6_K] = rows_q6_K,
        },
        .act = {
            [DTYPE_Q8_0] = ACT_Q8, [DTYPE_Q4_0] = ACT_Q8, [DTYPE_Q4_1] = ACT_Q8,
            [DTYPE_Q5_0] = ACT_Q8, [DTYPE_Q4_K] = ACT_Q8_K, [DTYPE_Q6_K] = ACT_Q8_K,
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
