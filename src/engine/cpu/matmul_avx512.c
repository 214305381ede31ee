// AVX-512 kernels for cpu_matmul: the prefill product, where the 32 zmm
// registers hold a 4-row x 6-token tile of accumulators. The decode kernels
// are AVX2's (decode is bound by memory, not by vector width).
#include <stddef.h>

#include "engine/cpu/matmul_kernels.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,f16c")))

enum { TILE_R = 4, TILE_T = 6 };

// 8 zmm -> the 8 horizontal sums in one ymm, in order.
AVX512 static inline __m256 reduce8(const __m512 v[8])
{
    __m256 h[8];
    for (int j = 0; j < 8; j++)
        h[j] = _mm256_add_ps(_mm512_castps512_ps256(v[j]), _mm512_extractf32x8_ps(v[j], 1));
    const __m256 s01 = _mm256_hadd_ps(h[0], h[1]);
    const __m256 s23 = _mm256_hadd_ps(h[2], h[3]);
    const __m256 s45 = _mm256_hadd_ps(h[4], h[5]);
    const __m256 s67 = _mm256_hadd_ps(h[6], h[7]);
    const __m256 s0123 = _mm256_hadd_ps(s01, s23);
    const __m256 s4567 = _mm256_hadd_ps(s45, s67);
    return _mm256_add_ps(_mm256_permute2f128_ps(s0123, s4567, 0x20),
                         _mm256_permute2f128_ps(s0123, s4567, 0x31));
}

AVX512 static float dot_f32(const float *a, const float *b, int64_t n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

// The hot loop of prefill: 4 weight rows x 6 tokens, 24 accumulators; each
// weight vector loaded serves 6 tokens and each activation vector 4 rows.
// Written out by macro so that the accumulators stay in registers at any
// optimization level (an array of them ends up on the stack at -O2).
#define FMA4(T, XV)                                                                                \
    c##T##0 = _mm512_fmadd_ps(a0, XV, c##T##0);                                                    \
    c##T##1 = _mm512_fmadd_ps(a1, XV, c##T##1);                                                    \
    c##T##2 = _mm512_fmadd_ps(a2, XV, c##T##2);                                                    \
    c##T##3 = _mm512_fmadd_ps(a3, XV, c##T##3)
#define ZERO4(T)                                                                                   \
    __m512 c##T##0 = _mm512_setzero_ps(), c##T##1 = c##T##0, c##T##2 = c##T##0, c##T##3 = c##T##0

AVX512 static inline void store_pair(float *y0, float *y1, const __m512 v[8], bool accumulate)
{
    // Two tokens' four rows per reduction: [t r0..r3, t+1 r0..r3].
    const __m256 s = reduce8(v);
    __m128 lo = _mm256_castps256_ps128(s), hi = _mm256_extractf128_ps(s, 1);
    if (accumulate) {
        lo = _mm_add_ps(lo, _mm_loadu_ps(y0));
        hi = _mm_add_ps(hi, _mm_loadu_ps(y1));
    }
    _mm_storeu_ps(y0, lo);
    _mm_storeu_ps(y1, hi);
}

AVX512 static void tile_4x6(const float *w, int64_t ldw, const float *x, int64_t ldx, int64_t k,
                            float *y, int64_t ldy, bool accumulate)
{
    ZERO4(0);
    ZERO4(1);
    ZERO4(2);
    ZERO4(3);
    ZERO4(4);
    ZERO4(5);
    const float *w1 = w + ldw, *w2 = w + 2 * ldw, *w3 = w + 3 * ldw;
    const float *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx, *x4 = x + 4 * ldx,
                *x5 = x + 5 * ldx;
    int64_t i = 0;
    for (; i + 16 <= k; i += 16) {
        const __m512 a0 = _mm512_loadu_ps(w + i), a1 = _mm512_loadu_ps(w1 + i);
        const __m512 a2 = _mm512_loadu_ps(w2 + i), a3 = _mm512_loadu_ps(w3 + i);
        __m512 xv = _mm512_loadu_ps(x0 + i);
        FMA4(0, xv);
        xv = _mm512_loadu_ps(x1 + i);
        FMA4(1, xv);
        xv = _mm512_loadu_ps(x2 + i);
        FMA4(2, xv);
        xv = _mm512_loadu_ps(x3 + i);
        FMA4(3, xv);
        xv = _mm512_loadu_ps(x4 + i);
        FMA4(4, xv);
        xv = _mm512_loadu_ps(x5 + i);
        FMA4(5, xv);
    }
    if (i < k) {
        const __mmask16 m = (__mmask16)((1u << (k - i)) - 1);
        const __m512 a0 = _mm512_maskz_loadu_ps(m, w + i), a1 = _mm512_maskz_loadu_ps(m, w1 + i);
        const __m512 a2 = _mm512_maskz_loadu_ps(m, w2 + i), a3 = _mm512_maskz_loadu_ps(m, w3 + i);
        __m512 xv = _mm512_maskz_loadu_ps(m, x0 + i);
        FMA4(0, xv);
        xv = _mm512_maskz_loadu_ps(m, x1 + i);
        FMA4(1, xv);
        xv = _mm512_maskz_loadu_ps(m, x2 + i);
        FMA4(2, xv);
        xv = _mm512_maskz_loadu_ps(m, x3 + i);
        FMA4(3, xv);
        xv = _mm512_maskz_loadu_ps(m, x4 + i);
        FMA4(4, xv);
        xv = _mm512_maskz_loadu_ps(m, x5 + i);
        FMA4(5, xv);
    }
    const __m512 v01[8] = {c00, c01, c02, c03, c10, c11, c12, c13};
    store_pair(y, y + ldy, v01, accumulate);
    const __m512 v23[8] = {c20, c21, c22, c23, c30, c31, c32, c33};
    store_pair(y + 2 * ldy, y + 3 * ldy, v23, accumulate);
    const __m512 v45[8] = {c40, c41, c42, c43, c50, c51, c52, c53};
    store_pair(y + 4 * ldy, y + 5 * ldy, v45, accumulate);
}

AVX512 static void gemm(const float *w, int64_t ldw, int64_t m, const float *x, int64_t ldx,
                        int64_t n_tok, int64_t k, float *y, int64_t ldy, bool accumulate)
{
    const int64_t m4 = m / TILE_R * TILE_R;
    int64_t t0 = 0;
    for (; t0 + TILE_T <= n_tok; t0 += TILE_T)
        for (int64_t r0 = 0; r0 < m4; r0 += TILE_R)
            tile_4x6(w + r0 * ldw, ldw, x + t0 * ldx, ldx, k, y + t0 * ldy + r0, ldy, accumulate);
    // The edges: leftover tokens (all rows) and leftover rows (tiled tokens).
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t r = t < t0 ? m4 : 0; r < m; r++) {
            const float s = dot_f32(w + r * ldw, x + t * ldx, k);
            y[t * ldy + r] = accumulate ? y[t * ldy + r] + s : s;
        }
}

const matmul_kernels *matmul_kernels_avx512(void)
{
    static matmul_kernels k;
    if (!k.name) {
        const matmul_kernels *avx2 = matmul_kernels_avx2();
        if (!avx2) return NULL;
        k = *avx2;
        k.name = "avx512";
        k.gemm = gemm;
        k.dot_f32 = dot_f32;
    }
    return &k;
}

#else

const matmul_kernels *matmul_kernels_avx512(void)
{
    return NULL;
}

#endif
