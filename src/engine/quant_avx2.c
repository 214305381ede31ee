// Q4_K quantization with AVX2, byte-identical to the scalar reference in
// quant.c. The reference's scale search (make_qkx2_quants: 21 candidate
// scales, each tried on all 32 values of a sub-block) is most of the cost of
// quantizing a model while loading it. A super-block has 8 independent
// sub-blocks, so each of the 8 lanes of a vector runs one sub-block's search
// with exactly the scalar operations in exactly the scalar order: same
// roundings, same results. The target has no "fma", so the compiler cannot
// fuse a multiply and an add that the reference keeps apart.
#if defined(__x86_64__) || defined(__i386__)

#include "engine/quant_internal.h" // first: it turns off FP contraction

#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "engine/quant.h"
#include "engine/quant_blocks.h"

#define AVX2_EXACT __attribute__((target("avx2")))
#define AVX512_EXACT __attribute__((target("avx512f,avx2")))
#define GROUP_MAX_EPS_Q 1e-15f // ggml's GROUP_MAX_EPS

// ggml's nearest_int, lane-wise: round to nearest even through the float
// adder, for |v| < 2^22.
AVX2_EXACT static inline __m256i nearest_int8(__m256 v)
{
    const __m256 big = _mm256_add_ps(v, _mm256_set1_ps(12582912.f));
    const __m256i i = _mm256_castps_si256(big);
    return _mm256_sub_epi32(_mm256_and_si256(i, _mm256_set1_epi32(0x007FFFFF)),
                            _mm256_set1_epi32(0x00400000));
}

AVX2_EXACT static inline __m256i clamp_epi32(__m256i v, int lo, int hi)
{
    return _mm256_max_epi32(_mm256_set1_epi32(lo), _mm256_min_epi32(_mm256_set1_epi32(hi), v));
}

// make_qkx2_quants(32, 15, ..., rmin -1, rdelta 0.1, nstep 20, use_mad false)
// on 8 sub-blocks at once. x[l], w[l]: element l of every sub-block.
// Returns the scales; mins and the levels L[l] (lane = sub-block) out.
AVX2_EXACT static __m256 qkx2_x8(const __m256 x[32], const __m256 w[32], __m256i L[32],
                                 __m256 *the_min)
{
    const int n = 32, nmax = 15, nstep = 20;
    const float rmin = -1.f, rdelta = 0.1f;
    const __m256 zero = _mm256_setzero_ps();
    __m256 min = x[0], max = x[0];
    __m256 sum_w = w[0];
    __m256 sum_x = _mm256_mul_ps(sum_w, x[0]);
    for (int i = 1; i < n; ++i) {
        min = _mm256_min_ps(x[i], min); // x < min ? x : min
        max = _mm256_max_ps(x[i], max); // x > max ? x : max
        sum_w = _mm256_add_ps(sum_w, w[i]);
        sum_x = _mm256_add_ps(sum_x, _mm256_mul_ps(w[i], x[i]));
    }
    min = _mm256_blendv_ps(min, zero, _mm256_cmp_ps(min, zero, _CMP_GT_OQ));
    const __m256 flat = _mm256_cmp_ps(max, min, _CMP_EQ_OQ); // lanes with one value
    __m256 iscale = _mm256_div_ps(_mm256_set1_ps((float)nmax), _mm256_sub_ps(max, min));
    __m256 scale = _mm256_div_ps(_mm256_set1_ps(1.0f), iscale);
    __m256 best_error = zero;
    for (int i = 0; i < n; ++i) {
        const __m256i l = clamp_epi32(nearest_int8(_mm256_mul_ps(iscale, _mm256_sub_ps(x[i], min))), 0, nmax);
        L[i] = l;
        __m256 diff = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(scale, _mm256_cvtepi32_ps(l)), min), x[i]);
        diff = _mm256_mul_ps(diff, diff);
        best_error = _mm256_add_ps(best_error, _mm256_mul_ps(w[i], diff));
    }
    __m256i Laux[32];
    for (int is = 0; is <= nstep; ++is) {
        const float num = rmin + rdelta * is + nmax; // as the reference computes it
        // min moves when a candidate wins; the reference divides by the
        // current max - min.
        iscale = _mm256_div_ps(_mm256_set1_ps(num), _mm256_sub_ps(max, min));
        __m256 sum_l = zero, sum_l2 = zero, sum_xl = zero;
        for (int i = 0; i < n; ++i) {
            const __m256i l = clamp_epi32(nearest_int8(_mm256_mul_ps(iscale, _mm256_sub_ps(x[i], min))), 0, nmax);
            Laux[i] = l;
            const __m256 lf = _mm256_cvtepi32_ps(l);
            const __m256 wl = _mm256_mul_ps(w[i], lf);
            sum_l = _mm256_add_ps(sum_l, wl);
            sum_l2 = _mm256_add_ps(sum_l2, _mm256_mul_ps(wl, lf));
            sum_xl = _mm256_add_ps(sum_xl, _mm256_mul_ps(wl, x[i]));
        }
        const __m256 D = _mm256_sub_ps(_mm256_mul_ps(sum_w, sum_l2), _mm256_mul_ps(sum_l, sum_l));
        const __m256 d_pos = _mm256_cmp_ps(D, zero, _CMP_GT_OQ);
        if (_mm256_movemask_ps(d_pos) == 0) continue;
        __m256 this_scale = _mm256_div_ps(_mm256_sub_ps(_mm256_mul_ps(sum_w, sum_xl), _mm256_mul_ps(sum_x, sum_l)), D);
        __m256 this_min = _mm256_div_ps(_mm256_sub_ps(_mm256_mul_ps(sum_l2, sum_x), _mm256_mul_ps(sum_l, sum_xl)), D);
        const __m256 min_pos = _mm256_cmp_ps(this_min, zero, _CMP_GT_OQ);
        this_min = _mm256_blendv_ps(this_min, zero, min_pos);
        this_scale = _mm256_blendv_ps(this_scale, _mm256_div_ps(sum_xl, sum_l2), min_pos);
        __m256 cur_error = zero;
        for (int i = 0; i < n; ++i) {
            __m256 diff = _mm256_sub_ps(
                _mm256_add_ps(_mm256_mul_ps(this_scale, _mm256_cvtepi32_ps(Laux[i])), this_min), x[i]);
            diff = _mm256_mul_ps(diff, diff);
            cur_error = _mm256_add_ps(cur_error, _mm256_mul_ps(w[i], diff));
        }
        // (Lanes with one value returned early in the reference: never update.)
        const __m256 better = _mm256_andnot_ps(
            flat, _mm256_and_ps(d_pos, _mm256_cmp_ps(cur_error, best_error, _CMP_LT_OQ)));
        if (_mm256_movemask_ps(better) == 0) continue;
        const __m256i bi = _mm256_castps_si256(better);
        for (int i = 0; i < n; ++i) L[i] = _mm256_blendv_epi8(L[i], Laux[i], bi);
        best_error = _mm256_blendv_ps(best_error, cur_error, better);
        scale = _mm256_blendv_ps(scale, this_scale, better);
        min = _mm256_blendv_ps(min, this_min, better);
    }
    // Lanes whose values were all equal: levels 0, scale 0, min as found.
    for (int i = 0; i < n; ++i) L[i] = _mm256_andnot_si256(_mm256_castps_si256(flat), L[i]);
    scale = _mm256_blendv_ps(scale, zero, flat);
    *the_min = _mm256_xor_ps(min, _mm256_set1_ps(-0.0f)); // -min, signed zero included
    return scale;
}

// The AVX-512 versions of nearest_int8 and clamp_epi32.
AVX512_EXACT static inline __m512i nearest_int16(__m512 v)
{
    const __m512 big = _mm512_add_ps(v, _mm512_set1_ps(12582912.f));
    const __m512i i = _mm512_castps_si512(big);
    return _mm512_sub_epi32(_mm512_and_si512(i, _mm512_set1_epi32(0x007FFFFF)),
                            _mm512_set1_epi32(0x00400000));
}

AVX512_EXACT static inline __m512i clamp16(__m512i v, int lo, int hi)
{
    return _mm512_max_epi32(_mm512_set1_epi32(lo), _mm512_min_epi32(_mm512_set1_epi32(hi), v));
}

// make_qkx2_quants(32, 15, ..., rmin -1, rdelta 0.1, nstep 20, use_mad false)
// on 16 sub-blocks (two super-blocks) at once: the AVX-512 twin of qkx2_x8. x[l], w[l]: element l of every sub-block.
// Returns the scales; mins and the levels L[l] (lane = sub-block) out.
AVX512_EXACT static __m512 qkx2_x16(const __m512 x[32], const __m512 w[32], __m512i L[32],
                                    __m512 *the_min)
{
    const int n = 32, nmax = 15, nstep = 20;
    const float rmin = -1.f, rdelta = 0.1f;
    const __m512 zero = _mm512_setzero_ps();
    __m512 min = x[0], max = x[0];
    __m512 sum_w = w[0];
    __m512 sum_x = _mm512_mul_ps(sum_w, x[0]);
    for (int i = 1; i < n; ++i) {
        min = _mm512_min_ps(x[i], min); // x < min ? x : min
        max = _mm512_max_ps(x[i], max); // x > max ? x : max
        sum_w = _mm512_add_ps(sum_w, w[i]);
        sum_x = _mm512_add_ps(sum_x, _mm512_mul_ps(w[i], x[i]));
    }
    min = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(min, zero, _CMP_GT_OQ), min, zero);
    const __mmask16 flat = _mm512_cmp_ps_mask(max, min, _CMP_EQ_OQ); // lanes with one value
    __m512 iscale = _mm512_div_ps(_mm512_set1_ps((float)nmax), _mm512_sub_ps(max, min));
    __m512 scale = _mm512_div_ps(_mm512_set1_ps(1.0f), iscale);
    __m512 best_error = zero;
    for (int i = 0; i < n; ++i) {
        const __m512i l = clamp16(nearest_int16(_mm512_mul_ps(iscale, _mm512_sub_ps(x[i], min))), 0, nmax);
        L[i] = l;
        __m512 diff = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(scale, _mm512_cvtepi32_ps(l)), min), x[i]);
        diff = _mm512_mul_ps(diff, diff);
        best_error = _mm512_add_ps(best_error, _mm512_mul_ps(w[i], diff));
    }
    __m512i Laux[32];
    for (int is = 0; is <= nstep; ++is) {
        const float num = rmin + rdelta * is + nmax; // as the reference computes it
        // min moves when a candidate wins; the reference divides by the
        // current max - min.
        iscale = _mm512_div_ps(_mm512_set1_ps(num), _mm512_sub_ps(max, min));
        __m512 sum_l = zero, sum_l2 = zero, sum_xl = zero;
        for (int i = 0; i < n; ++i) {
            const __m512i l = clamp16(nearest_int16(_mm512_mul_ps(iscale, _mm512_sub_ps(x[i], min))), 0, nmax);
            Laux[i] = l;
            const __m512 lf = _mm512_cvtepi32_ps(l);
            const __m512 wl = _mm512_mul_ps(w[i], lf);
            sum_l = _mm512_add_ps(sum_l, wl);
            sum_l2 = _mm512_add_ps(sum_l2, _mm512_mul_ps(wl, lf));
            sum_xl = _mm512_add_ps(sum_xl, _mm512_mul_ps(wl, x[i]));
        }
        const __m512 D = _mm512_sub_ps(_mm512_mul_ps(sum_w, sum_l2), _mm512_mul_ps(sum_l, sum_l));
        const __mmask16 d_pos = _mm512_cmp_ps_mask(D, zero, _CMP_GT_OQ);
        if (d_pos == 0) continue;
        __m512 this_scale = _mm512_div_ps(_mm512_sub_ps(_mm512_mul_ps(sum_w, sum_xl), _mm512_mul_ps(sum_x, sum_l)), D);
        __m512 this_min = _mm512_div_ps(_mm512_sub_ps(_mm512_mul_ps(sum_l2, sum_x), _mm512_mul_ps(sum_l, sum_xl)), D);
        const __mmask16 min_pos = _mm512_cmp_ps_mask(this_min, zero, _CMP_GT_OQ);
        this_min = _mm512_mask_blend_ps(min_pos, this_min, zero);
        this_scale = _mm512_mask_blend_ps(min_pos, this_scale, _mm512_div_ps(sum_xl, sum_l2));
        __m512 cur_error = zero;
        for (int i = 0; i < n; ++i) {
            __m512 diff = _mm512_sub_ps(
                _mm512_add_ps(_mm512_mul_ps(this_scale, _mm512_cvtepi32_ps(Laux[i])), this_min), x[i]);
            diff = _mm512_mul_ps(diff, diff);
            cur_error = _mm512_add_ps(cur_error, _mm512_mul_ps(w[i], diff));
        }
        // (Lanes with one value returned early in the reference: never update.)
        const __mmask16 better = (__mmask16)(~flat & d_pos & _mm512_cmp_ps_mask(cur_error, best_error, _CMP_LT_OQ));
        if (better == 0) continue;
        for (int i = 0; i < n; ++i) L[i] = _mm512_mask_blend_epi32(better, L[i], Laux[i]);
        best_error = _mm512_mask_blend_ps(better, best_error, cur_error);
        scale = _mm512_mask_blend_ps(better, scale, this_scale);
        min = _mm512_mask_blend_ps(better, min, this_min);
    }
    // Lanes whose values were all equal: levels 0, scale 0, min as found.
    for (int i = 0; i < n; ++i) L[i] = _mm512_maskz_mov_epi32((__mmask16)~flat, L[i]);
    scale = _mm512_mask_blend_ps(flat, scale, zero);
    *the_min = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(min), _mm512_set1_epi32((int)0x80000000))); // -min
    return scale;
}

// Two super-blocks per step with AVX-512 (a leftover one goes to the AVX2
// path); the same bytes as the reference.
AVX512_EXACT void quant_q4_K_avx512(const float *x, void *dst, int64_t nb)
{
    block_q4_K *y = dst;
    uint8_t L[2][QK_K];
    float scales[16], mins[16];
    const __m512i lane_off = _mm512_setr_epi32(0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352,
                                               384, 416, 448, 480);
    const __m512i sign = _mm512_set1_epi32((int)0x80000000);
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2, x += 2 * QK_K) {
        __m512 xv[32], wv[32];
        __m512 sum_x2 = _mm512_setzero_ps();
        for (int l = 0; l < 32; l++) {
            xv[l] = _mm512_i32gather_ps(lane_off, x + l, 4);
            sum_x2 = _mm512_add_ps(sum_x2, _mm512_mul_ps(xv[l], xv[l]));
        }
        const __m512 av_x = _mm512_sqrt_ps(_mm512_div_ps(sum_x2, _mm512_set1_ps(32.0f)));
        for (int l = 0; l < 32; l++)
            wv[l] = _mm512_add_ps(av_x, _mm512_castsi512_ps(_mm512_andnot_si512(sign, _mm512_castps_si512(xv[l]))));
        __m512i Lv[32];
        __m512 mv;
        _mm512_storeu_ps(scales, qkx2_x16(xv, wv, Lv, &mv));
        _mm512_storeu_ps(mins, mv);
        for (int l = 0; l < 32; l++) {
            int32_t lanes[16];
            _mm512_storeu_si512(lanes, Lv[l]);
            for (int j = 0; j < 16; j++) L[j / 8][32 * (j % 8) + l] = (uint8_t)lanes[j];
        }
        quant_q4_K_finish(x, scales, mins, L[0], &y[i]);
        quant_q4_K_finish(x + QK_K, scales + 8, mins + 8, L[1], &y[i + 1]);
    }
    if (i < nb) quant_q4_K_avx2(x, &y[i], nb - i);
}

// make_qx_quants(16, 32, x, L, rmse_type 1, no weights) on the 16
// sub-blocks of a Q6_K super-block at once, lane j = sub-block j, in the
// reference's order of operations.
AVX512_EXACT static __m512 qx_x16(const __m512 x[16], __m512i L[16])
{
    const int n = 16, nmax = 32;
    const __m512 zero = _mm512_setzero_ps();
    const __m512i sign = _mm512_set1_epi32((int)0x80000000);
    __m512 max = zero, amax = zero;
    for (int i = 0; i < n; ++i) {
        const __m512 ax = _mm512_castsi512_ps(_mm512_andnot_si512(sign, _mm512_castps_si512(x[i])));
        const __mmask16 gt = _mm512_cmp_ps_mask(ax, amax, _CMP_GT_OQ);
        amax = _mm512_mask_blend_ps(gt, amax, ax);
        max = _mm512_mask_blend_ps(gt, max, x[i]);
    }
    const __mmask16 tiny = _mm512_cmp_ps_mask(amax, _mm512_set1_ps(GROUP_MAX_EPS_Q), _CMP_LT_OQ);
    __m512 iscale = _mm512_div_ps(_mm512_set1_ps((float)-nmax), max);
    __m512 sumlx = zero, suml2 = zero;
    for (int i = 0; i < n; ++i) {
        const __m512i l = clamp16(nearest_int16(_mm512_mul_ps(iscale, x[i])), -nmax, nmax - 1);
        L[i] = _mm512_add_epi32(l, _mm512_set1_epi32(nmax));
        const __m512 lf = _mm512_cvtepi32_ps(l);
        const __m512 w = _mm512_mul_ps(x[i], x[i]);
        sumlx = _mm512_add_ps(sumlx, _mm512_mul_ps(_mm512_mul_ps(w, x[i]), lf));
        suml2 = _mm512_add_ps(suml2, _mm512_mul_ps(_mm512_mul_ps(w, lf), lf));
    }
    const __mmask16 l2nz = _mm512_cmp_ps_mask(suml2, zero, _CMP_NEQ_UQ);
    __m512 scale = _mm512_maskz_div_ps(l2nz, sumlx, suml2);
    __m512 best = _mm512_mul_ps(scale, sumlx);
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        const float num = -(nmax + 0.1f * is); // as the reference computes it
        iscale = _mm512_div_ps(_mm512_set1_ps(num), max);
        __m512 slx = zero, sl2 = zero;
        __m512i Lc[16];
        for (int i = 0; i < n; ++i) {
            const __m512i l = clamp16(nearest_int16(_mm512_mul_ps(iscale, x[i])), -nmax, nmax - 1);
            Lc[i] = l;
            const __m512 lf = _mm512_cvtepi32_ps(l);
            const __m512 w = _mm512_mul_ps(x[i], x[i]);
            slx = _mm512_add_ps(slx, _mm512_mul_ps(_mm512_mul_ps(w, x[i]), lf));
            sl2 = _mm512_add_ps(sl2, _mm512_mul_ps(_mm512_mul_ps(w, lf), lf));
        }
        const __mmask16 better = _mm512_cmp_ps_mask(sl2, zero, _CMP_GT_OQ) &
                                 _mm512_cmp_ps_mask(_mm512_mul_ps(slx, slx), _mm512_mul_ps(best, sl2), _CMP_GT_OQ);
        if (!better) continue;
        for (int i = 0; i < n; ++i)
            L[i] = _mm512_mask_blend_epi32(better, L[i], _mm512_add_epi32(Lc[i], _mm512_set1_epi32(nmax)));
        scale = _mm512_mask_blend_ps(better, scale, _mm512_div_ps(slx, sl2));
        best = _mm512_mask_blend_ps(better, best, _mm512_mul_ps(scale, slx));
    }
    // All-zero sub-blocks: levels 0 and scale 0, as the reference returns early.
    for (int i = 0; i < n; ++i) L[i] = _mm512_maskz_mov_epi32((__mmask16)~tiny, L[i]);
    return _mm512_mask_blend_ps(tiny, scale, zero);
}

AVX512_EXACT void quant_q6_K_avx512(const float *x, void *dst, int64_t nb)
{
    block_q6_K *y = dst;
    int8_t L[QK_K];
    float scales[16];
    const __m512i lane_off = _mm512_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192,
                                               208, 224, 240);
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        __m512 xv[16];
        for (int l = 0; l < 16; l++) xv[l] = _mm512_i32gather_ps(lane_off, x + l, 4);
        __m512i Lv[16];
        _mm512_storeu_ps(scales, qx_x16(xv, Lv));
        for (int l = 0; l < 16; l++) {
            int32_t lanes[16];
            _mm512_storeu_si512(lanes, Lv[l]);
            for (int j = 0; j < 16; j++) L[16 * j + l] = (int8_t)lanes[j];
        }
        quant_q6_K_finish(x, scales, L, &y[i]);
    }
}

// Q8_0: the block maximum, then x * (1/d) rounded half away from zero (C's
// roundf, which the reference uses): truncate, then step away from zero
// where the dropped fraction is at least one half. x - trunc(x) is exact.
AVX2_EXACT void quant_q8_0_avx2(const float *x, void *dst, int64_t nb)
{
    block_q8_0 *y = dst;
    const __m256 sign = _mm256_set1_ps(-0.0f), half = _mm256_set1_ps(0.5f), mhalf = _mm256_set1_ps(-0.5f);
    const __m256 one = _mm256_set1_ps(1.0f);
    for (int64_t i = 0; i < nb; i++, x += 32) {
        __m256 v[4], mx = _mm256_setzero_ps();
        for (int j = 0; j < 4; j++) {
            v[j] = _mm256_loadu_ps(x + 8 * j);
            mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, v[j]));
        }
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        const float amax = _mm_cvtss_f32(m);
        const float d = amax / ((1 << 7) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = f32_to_fp16(d);
        __m256i q[4];
        for (int j = 0; j < 4; j++) {
            const __m256 a = _mm256_mul_ps(v[j], _mm256_set1_ps(id));
            __m256 t = _mm256_round_ps(a, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            const __m256 f = _mm256_sub_ps(a, t);
            t = _mm256_add_ps(t, _mm256_and_ps(_mm256_cmp_ps(f, half, _CMP_GE_OQ), one));
            t = _mm256_sub_ps(t, _mm256_and_ps(_mm256_cmp_ps(f, mhalf, _CMP_LE_OQ), one));
            q[j] = _mm256_cvttps_epi32(t);
        }
        // packs works within 128-bit lanes: a final permute restores the order.
        __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)y[i].qs, p);
    }
}

// fp16 rows with F16C: round-to-nearest-even like f32_to_fp16, and exact
// the other way (NaN payloads aside, which models do not hold).
__attribute__((target("avx2,f16c"))) void quant_f32_to_f16_avx2(const float *x, uint16_t *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) y[i] = f32_to_fp16(x[i]);
}

__attribute__((target("avx2,f16c"))) void quant_f16_to_f32_avx2(const uint16_t *x, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
    for (; i < n; i++) y[i] = fp16_to_f32(x[i]);
}

AVX2_EXACT void quant_q4_K_avx2(const float *x, void *dst, int64_t nb)
{
    block_q4_K *y = dst;
    uint8_t L[QK_K];
    float scales[8], mins[8];
    const __m256i lane_off = _mm256_setr_epi32(0, 32, 64, 96, 128, 160, 192, 224);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        __m256 xv[32], wv[32];
        __m256 sum_x2 = _mm256_setzero_ps();
        for (int l = 0; l < 32; l++) {
            xv[l] = _mm256_i32gather_ps(x + l, lane_off, 4);
            sum_x2 = _mm256_add_ps(sum_x2, _mm256_mul_ps(xv[l], xv[l]));
        }
        const __m256 av_x = _mm256_sqrt_ps(_mm256_div_ps(sum_x2, _mm256_set1_ps(32.0f)));
        for (int l = 0; l < 32; l++) wv[l] = _mm256_add_ps(av_x, _mm256_andnot_ps(sign, xv[l]));
        __m256i Lv[32];
        __m256 mv;
        _mm256_storeu_ps(scales, qkx2_x8(xv, wv, Lv, &mv));
        _mm256_storeu_ps(mins, mv);
        for (int l = 0; l < 32; l++) {
            int32_t lanes[8];
            _mm256_storeu_si256((__m256i *)lanes, Lv[l]);
            for (int j = 0; j < 8; j++) L[32 * j + l] = (uint8_t)lanes[j];
        }
        quant_q4_K_finish(x, scales, mins, L, &y[i]);
    }
}

#endif
