#include "engine/attention.h"

#include <math.h>
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

__attribute__((target("avx2,fma,f16c"))) static float dot_f16_avx2(const uint16_t *k,
                                                                   const float *q, int64_t n)
{
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 kf = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + i)));
        acc = _mm256_fmadd_ps(kf, _mm256_loadu_ps(q + i), acc);
    }
    float s = hsum256(acc);
    for (; i < n; i++)
        s += _cvtsh_ss(k[i]) * q[i];
    return s;
}

__attribute__((target("avx2,fma,f16c"))) static void axpy_f16_avx2(float *out, const uint16_t *v,
                                                                   float a, int64_t n)
{
    __m256 av = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 vf = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + i)));
        _mm256_storeu_ps(out + i, _mm256_fmadd_ps(av, vf, _mm256_loadu_ps(out + i)));
    }
    for (; i < n; i++)
        out[i] += a * _cvtsh_ss(v[i]);
}
#endif

static float (*dot_f16)(const uint16_t *, const float *, int64_t);
static void (*axpy_f16)(float *, const uint16_t *, float, int64_t);
static float (*dot_f32)(const float *, const float *, int64_t) = dot_f32_portable;
static void (*axpy_f32)(float *, const float *, float, int64_t) = axpy_f32_portable;

static void pick_kernels(void)
{
    if (dot_f16) return;
    float (*d)(const uint16_t *, const float *, int64_t) = dot_f16_portable;
    void (*a)(float *, const uint16_t *, float, int64_t) = axpy_f16_portable;
#ifdef RS_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        // F16C comes with every AVX2 CPU in practice; the compiler has no
        // builtin flag for it on older GCC, so AVX2 + FMA stands in for it.
        d = dot_f16_avx2;
        a = axpy_f16_avx2;
        dot_f32 = dot_f32_avx2;
        axpy_f32 = axpy_f32_avx2;
    }
#endif
    axpy_f16 = a;
    dot_f16 = d;
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

// One (token, head): the hot loop of long contexts.
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

    const int64_t KD = j->n_head_kv * hd;
    float maxv = -INFINITY;
    for (int64_t p = p0; p <= p_end; p++) {
        float s;
        if (p >= j->pos) {
            s = dot_f32(j->k_new + (p - j->pos) * KD + kvh * hd, q, hd);
        } else if (kv->type == DTYPE_F16) {
            const uint8_t *kr = kv_cache_row(kv, kv->k, j->l, kvh, p);
            s = dot_f16((const uint16_t *)kr, q, hd);
        } else {
            const uint8_t *kr = kv_cache_row(kv, kv->k, j->l, kvh, p);
            const float *kf = (const float *)kr;
            if (kv->type != DTYPE_F32) {
                quant_dequantize_row(kv->type, kr, row, hd);
                kf = row;
            }
            s = dot_f32(kf, q, hd);
        }
        s *= j->scale;
        att[p - p0] = s;
        if (s > maxv) maxv = s;
    }
    float sum = 0;
    for (int64_t p = p0; p <= p_end; p++) {
        float e = expf(att[p - p0] - maxv);
        att[p - p0] = e;
        sum += e;
    }
    const float inv = 1.0f / sum;
    memset(out, 0, (size_t)hd * sizeof *out);
    for (int64_t p = p0; p <= p_end; p++) {
        float a = att[p - p0] * inv;
        if (p >= j->pos) {
            axpy_f32(out, j->v_new + (p - j->pos) * KD + kvh * hd, a, hd);
            continue;
        }
        const uint8_t *vr = kv_cache_row(kv, kv->v, j->l, kvh, p);
        if (kv->type == DTYPE_F16) {
            axpy_f16(out, (const uint16_t *)vr, a, hd);
        } else {
            const float *vf = (const float *)vr;
            if (kv->type != DTYPE_F32) {
                quant_dequantize_row(kv->type, vr, row + hd, hd);
                vf = row + hd;
            }
            axpy_f32(out, vf, a, hd);
        }
    }
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
