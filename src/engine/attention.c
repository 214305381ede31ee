#include "engine/attention.h"

#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "engine/quant.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define RS_X86 1
#endif

// ---------------------------------------------------------------------------
// Cache rows: f16 rows are read straight from the cache (F16C where the CPU
// has it); q8_0 rows are dequantized into a per-thread scratch row first.

static float dot_f16_portable(const uint16_t *k, const float *q, int64_t n)
{
    float s = 0;
    for (int64_t i = 0; i < n; i++)
        s += fp16_to_f32(k[i]) * q[i];
    return s;
}

static void axpy_f16_portable(float *out, const uint16_t *v, float a, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        out[i] += a * fp16_to_f32(v[i]);
}

static float dot_f32_portable(const float *a, const float *b, int64_t n)
{
    float s = 0;
    for (int64_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static void axpy_f32_portable(float *out, const float *v, float a, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        out[i] += a * v[i];
}

#ifdef RS_X86
static inline __attribute__((target("avx2,fma"))) float hsum256(__m256 acc)
{
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    s4 = _mm_add_ss(s4, _mm_movehdup_ps(s4));
    return _mm_cvtss_f32(s4);
}

__attribute__((target("avx2,fma"))) static float dot_f32_avx2(const float *a, const float *b,
                                                              int64_t n)
{
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
    float s = hsum256(acc);
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

__attribute__((target("avx2,fma"))) static void axpy_f32_avx2(float *out, const float *v, float a,
                                                              int64_t n)
{
    __m256 av = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i,
                         _mm256_fmadd_ps(av, _mm256_loadu_ps(v + i), _mm256_loadu_ps(out + i)));
    for (; i < n; i++)
        out[i] += a * v[i];
}

#endif

// Whole runs of rows at once (one call per run, not per position): scores
// of one query against n key rows, and the weighted sum of n value rows.
// Rows are `stride` elements apart.
static void scores_f32_portable(const float *k, int64_t stride, int64_t n, const float *q,
                                int64_t hd, float *out)
{
    for (int64_t p = 0; p < n; p++)
        out[p] = dot_f32_portable(k + p * stride, q, hd);
}

static void scores_f16_portable(const uint16_t *k, int64_t stride, int64_t n, const float *q,
                                int64_t hd, float *out)
{
    for (int64_t p = 0; p < n; p++)
        out[p] = dot_f16_portable(k + p * stride, q, hd);
}

static void accum_f32_portable(float *out, const float *v, int64_t stride, int64_t n,
                               const float *w, int64_t hd)
{
    for (int64_t p = 0; p < n; p++)
        axpy_f32_portable(out, v + p * stride, w[p], hd);
}

static void accum_f16_portable(float *out, const uint16_t *v, int64_t stride, int64_t n,
                               const float *w, int64_t hd)
{
    for (int64_t p = 0; p < n; p++)
        axpy_f16_portable(out, v + p * stride, w[p], hd);
}

#ifdef RS_X86
// These need head_dim to be a multiple of 8 (pick_kernels checks per call).
__attribute__((target("avx2,fma"))) static void scores_f32_avx2(const float *k, int64_t stride,
                                                                int64_t n, const float *q,
                                                                int64_t hd, float *out)
{
    for (int64_t p = 0; p < n; p++) {
        const float *kr = k + p * stride;
        __m256 acc = _mm256_setzero_ps();
        for (int64_t i = 0; i < hd; i += 8)
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(kr + i), _mm256_loadu_ps(q + i), acc);
        out[p] = hsum256(acc);
    }
}

__attribute__((target("avx2,fma,f16c"))) static void
scores_f16_avx2(const uint16_t *k, int64_t stride, int64_t n, const float *q, int64_t hd,
                float *out)
{
    for (int64_t p = 0; p < n; p++) {
        const uint16_t *kr = k + p * stride;
        __m256 acc = _mm256_setzero_ps();
        for (int64_t i = 0; i < hd; i += 8)
            acc = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(kr + i))),
                                  _mm256_loadu_ps(q + i), acc);
        out[p] = hsum256(acc);
    }
}

// The output is kept in registers 64 values at a time across all rows.
__attribute__((target("avx2,fma"))) static void accum_f32_avx2(float *out, const float *v,
                                                               int64_t stride, int64_t n,
                                                               const float *w, int64_t hd)
{
    for (int64_t c = 0; c < hd; c += 64) {
        const int64_t m = hd - c < 64 ? (hd - c) / 8 : 8;
        __m256 acc[8];
        for (int64_t r = 0; r < m; r++)
            acc[r] = _mm256_loadu_ps(out + c + 8 * r);
        for (int64_t p = 0; p < n; p++) {
            const __m256 a = _mm256_set1_ps(w[p]);
            const float *vr = v + p * stride + c;
            for (int64_t r = 0; r < m; r++)
                acc[r] = _mm256_fmadd_ps(a, _mm256_loadu_ps(vr + 8 * r), acc[r]);
        }
        for (int64_t r = 0; r < m; r++)
            _mm256_storeu_ps(out + c + 8 * r, acc[r]);
    }
}

__attribute__((target("avx2,fma,f16c"))) static void
accum_f16_avx2(float *out, const uint16_t *v, int64_t stride, int64_t n, const float *w,
               int64_t hd)
{
    for (int64_t c = 0; c < hd; c += 64) {
        const int64_t m = hd - c < 64 ? (hd - c) / 8 : 8;
        __m256 acc[8];
        for (int64_t r = 0; r < m; r++)
            acc[r] = _mm256_loadu_ps(out + c + 8 * r);
        for (int64_t p = 0; p < n; p++) {
            const __m256 a = _mm256_set1_ps(w[p]);
            const uint16_t *vr = v + p * stride + c;
            for (int64_t r = 0; r < m; r++)
                acc[r] = _mm256_fmadd_ps(
                    a, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(vr + 8 * r))), acc[r]);
        }
        for (int64_t r = 0; r < m; r++)
            _mm256_storeu_ps(out + c + 8 * r, acc[r]);
    }
}
#endif

typedef struct attn_kernels {
    void (*scores_f32)(const float *, int64_t, int64_t, const float *, int64_t, float *);
    void (*scores_f16)(const uint16_t *, int64_t, int64_t, const float *, int64_t, float *);
    void (*accum_f32)(float *, const float *, int64_t, int64_t, const float *, int64_t);
    void (*accum_f16)(float *, const uint16_t *, int64_t, int64_t, const float *, int64_t);
} attn_kernels;

static const attn_kernels attn_portable = {scores_f32_portable, scores_f16_portable,
                                           accum_f32_portable, accum_f16_portable};
#ifdef RS_X86
static const attn_kernels attn_avx2 = {scores_f32_avx2, scores_f16_avx2, accum_f32_avx2,
                                       accum_f16_avx2};
#endif
static const attn_kernels *attn_best = &attn_portable;

static float (*dot_f32)(const float *, const float *, int64_t) = dot_f32_portable;
static void (*axpy_f32)(float *, const float *, float, int64_t) = axpy_f32_portable;

static void pick_kernels(void)
{
    static _Atomic bool picked;
    if (atomic_load_explicit(&picked, memory_order_acquire)) return;
#ifdef RS_X86
    // RIGHTSIZE_KERNELS=portable (as for the matmul kernels) keeps the
    // portable loops, so that tests can check them on any CPU.
    const char *want = getenv("RIGHTSIZE_KERNELS");
    bool portable = want && strcmp(want, "portable") == 0;
    __builtin_cpu_init();
    if (!portable && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        // F16C comes with every AVX2 CPU in practice; the compiler has no
        // builtin flag for it on older GCC, so AVX2 + FMA stands in for it.
        dot_f32 = dot_f32_avx2;
        axpy_f32 = axpy_f32_avx2;
        attn_best = &attn_avx2;
    }
#endif
    atomic_store_explicit(&picked, true, memory_order_release);
}

void attention_store_kv(kv_cache *kv, int64_t l, int64_t n_head_kv, int64_t head_dim,
                        const float *k, const float *v, int64_t n, int64_t pos)
{
    const int64_t KD = n_head_kv * head_dim;
    for (int64_t t = 0; t < n; t++)
        for (int64_t h = 0; h < n_head_kv; h++) {
            const float *src[2] = {k + t * KD + h * head_dim, v + t * KD + h * head_dim};
            uint8_t *dst[2] = {kv_cache_row(kv, kv->k, l, h, pos + t),
                               kv_cache_row(kv, kv->v, l, h, pos + t)};
            for (int j = 0; j < 2; j++) {
                if (kv->type == DTYPE_F32) {
                    memcpy(dst[j], src[j], (size_t)head_dim * sizeof(float));
                } else if (kv->type == DTYPE_F16) {
                    uint16_t *d = (uint16_t *)dst[j];
                    for (int64_t i = 0; i < head_dim; i++)
                        d[i] = f32_to_fp16(src[j][i]);
                } else {
                    quant_quantize_row(kv->type, src[j], dst[j], head_dim);
                }
            }
        }
}

typedef struct attention_job {
    const kv_cache *kv;
    int64_t l, n_head, n_head_kv, head_dim, pos, window;
    const float *q, *k_new, *v_new;
    float *out, *att, *kv_row;
    float scale;
} attention_job;

// One (token, head): the hot loop of long contexts. Keys and values come in
// runs: the cached positions (contiguous rows of this KV head, split where a
// sliding-window ring wraps), then this batch's own rows from k_new, v_new.
static void attention_task(void *arg, int task, int thread)
{
    const attention_job *j = arg;
    const kv_cache *kv = j->kv;
    const int64_t hd = j->head_dim, H = j->n_head;
    const int64_t t = task / H, h = task % H;
    const int64_t kvh = h / (H / j->n_head_kv);
    const float *q = j->q + (t * H + h) * hd;
    float *out = j->out + (t * H + h) * hd;
    float *att = j->att + (size_t)thread * (size_t)kv->n_ctx;
    float *row = j->kv_row + (size_t)thread * 2 * (size_t)hd;
    const int64_t p_end = j->pos + t; // inclusive: the token sees itself
    const int64_t p0 = j->window > 0 && p_end - j->window + 1 > 0 ? p_end - j->window + 1 : 0;
    const int64_t c_end = j->pos < p_end + 1 ? j->pos : p_end + 1; // cached: [p0, c_end)
    const int64_t b0 = p0 > j->pos ? p0 : j->pos;                    // batch: [b0, p_end]
    const int64_t KD = j->n_head_kv * hd, R = kv->rows[j->l];
    const attn_kernels *ker = hd % 8 == 0 ? attn_best : &attn_portable;

    // Scores.
    for (int64_t p = p0; p < c_end;) {
        const uint8_t *kr = kv_cache_row(kv, kv->k, j->l, kvh, p);
        if (kv->type == DTYPE_F16 || kv->type == DTYPE_F32) {
            int64_t run = c_end - p, to_wrap = R - p % R;
            if (run > to_wrap) run = to_wrap;
            if (kv->type == DTYPE_F16)
                ker->scores_f16((const uint16_t *)kr, hd, run, q, hd, att + (p - p0));
            else
                ker->scores_f32((const float *)kr, hd, run, q, hd, att + (p - p0));
            p += run;
        } else {
            quant_dequantize_row(kv->type, kr, row, hd);
            att[p - p0] = dot_f32(row, q, hd);
            p++;
        }
    }
    if (b0 <= p_end)
        ker->scores_f32(j->k_new + (b0 - j->pos) * KD + kvh * hd, KD, p_end - b0 + 1, q, hd,
                        att + (b0 - p0));

    // Softmax.
    const int64_t n_att = p_end - p0 + 1;
    float maxv = -INFINITY;
    for (int64_t i = 0; i < n_att; i++) {
        att[i] *= j->scale;
        if (att[i] > maxv) maxv = att[i];
    }
    float sum = 0;
    for (int64_t i = 0; i < n_att; i++) {
        att[i] = expf(att[i] - maxv);
        sum += att[i];
    }
    const float inv = 1.0f / sum;
    for (int64_t i = 0; i < n_att; i++)
        att[i] *= inv;

    // Weighted sum of the values.
    memset(out, 0, (size_t)hd * sizeof *out);
    for (int64_t p = p0; p < c_end;) {
        const uint8_t *vr = kv_cache_row(kv, kv->v, j->l, kvh, p);
        if (kv->type == DTYPE_F16 || kv->type == DTYPE_F32) {
            int64_t run = c_end - p, to_wrap = R - p % R;
            if (run > to_wrap) run = to_wrap;
            if (kv->type == DTYPE_F16)
                ker->accum_f16(out, (const uint16_t *)vr, hd, run, att + (p - p0), hd);
            else
                ker->accum_f32(out, (const float *)vr, hd, run, att + (p - p0), hd);
            p += run;
        } else {
            quant_dequantize_row(kv->type, vr, row + hd, hd);
            axpy_f32(out, row + hd, att[p - p0], hd);
            p++;
        }
    }
    if (b0 <= p_end)
        ker->accum_f32(out, j->v_new + (b0 - j->pos) * KD + kvh * hd, KD, p_end - b0 + 1,
                       att + (b0 - p0), hd);
}

void attention_run(const kv_cache *kv, int64_t l, int64_t n_head, int64_t n_head_kv,
                   int64_t head_dim, const float *q, const float *k_new, const float *v_new,
                   float *out, int64_t n, int64_t pos,
                   int64_t window, float *att, float *kv_row, thread_pool *pool)
{
    pick_kernels();
    attention_job j = {.kv = kv,
                       .l = l,
                       .n_head = n_head,
                       .n_head_kv = n_head_kv,
                       .head_dim = head_dim,
                       .pos = pos,
                       .window = window,
                       .q = q,
                       .k_new = k_new,
                       .v_new = v_new,
                       .out = out,
                       .att = att,
                       .kv_row = kv_row,
                       .scale = 1.0f / sqrtf((float)head_dim)};
    // A decode step over a short context is a few microseconds of work:
    // less than waking the pool's workers costs, above all on a busy machine.
    const int64_t work = n * n_head * (pos + n) * head_dim;
    if (work < (1 << 18)) {
        for (int task = 0; task < (int)(n * n_head); task++)
            attention_task(&j, task, 0);
        return;
    }
    thread_pool_run(pool, attention_task, &j, (int)(n * n_head));
}
