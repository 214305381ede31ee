#include "engine/forward.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/attention.h"
#include "engine/cpu/matmul.h"
#include "engine/quant.h"
#include "engine/weight_convert.h"

// ---------------------------------------------------------------------------
// Buffers

rs_status kv_cache_init(kv_cache *kv, const forward_config *cfg, int64_t n_ctx, dtype type,
                        rs_error *err)
{
    memset(kv, 0, sizeof *kv);
    if (type != DTYPE_F16 && type != DTYPE_Q8_0 && type != DTYPE_F32)
        return rs_fail(err, RS_ERR_INPUT, "KV cache type %s is not supported (f16, q8_0, f32)",
                       dtype_name(type));
    kv->row_bytes = dtype_row_bytes(type, cfg->head_dim);
    if (kv->row_bytes < 0)
        return rs_fail(err, RS_ERR_INPUT,
                       "KV cache type %s needs head_dim to be a multiple of %lld (it is %lld)",
                       dtype_name(type), (long long)dtype_block_elems(type),
                       (long long)cfg->head_dim);
    kv->type = type;
    kv->n_ctx = n_ctx;
    kv->n_layer = cfg->n_layer;
    kv->n_head_kv = cfg->n_head_kv;
    kv->rows = calloc((size_t)cfg->n_layer, sizeof *kv->rows);
    kv->layer_off = calloc((size_t)cfg->n_layer, sizeof *kv->layer_off);
    if (!kv->rows || !kv->layer_off) {
        kv_cache_free(kv);
        return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
    }
    uint64_t total_rows = 0, one = 0;
    bool overflow = n_ctx <= 0;
    for (int64_t l = 0; l < cfg->n_layer; l++) {
        int64_t win = forward_layer_window(cfg, l);
        kv->rows[l] = win > 0 && win < n_ctx ? win : n_ctx;
        kv->layer_off[l] = total_rows;
        // Blocks before layer_first run elsewhere (a GPU keeps their cache):
        // their rows stay known (engine_rewind reads the windows) but hold
        // no storage here.
        if (l < cfg->layer_first) continue;
        uint64_t rows;
        overflow |= __builtin_mul_overflow((uint64_t)cfg->n_head_kv, (uint64_t)kv->rows[l], &rows);
        overflow |= __builtin_add_overflow(total_rows, rows, &total_rows);
    }
    overflow |= __builtin_mul_overflow(total_rows, (uint64_t)kv->row_bytes, &one);
    if (overflow || one > (UINT64_MAX >> 2)) {
        kv_cache_free(kv);
        return rs_fail(err, RS_ERR_INPUT, "a KV cache of %lld tokens does not fit in memory",
                       (long long)n_ctx);
    }
    // Never 0 bytes (every block on a GPU): aligned_alloc(64, 0) may be NULL.
    size_t alloc = one ? (size_t)((one + 63) & ~63ULL) : 64;
    kv->k = aligned_alloc(64, alloc);
    kv->v = aligned_alloc(64, alloc);
    if (!kv->k || !kv->v) {
        kv_cache_free(kv);
        return rs_fail(err, RS_ERR_RUNTIME, "out of memory for the KV cache (%llu bytes)",
                       (unsigned long long)(2 * one));
    }
    kv->bytes = 2 * one;
    return RS_OK;
}

void kv_cache_free(kv_cache *kv)
{
    if (!kv) return;
    free(kv->k);
    free(kv->v);
    free(kv->rows);
    free(kv->layer_off);
    kv->k = kv->v = NULL;
    kv->rows = NULL;
    kv->layer_off = NULL;
}

rs_status run_state_init(run_state *s, const forward_config *cfg, int64_t n_batch, int64_t n_ctx,
                         int n_threads, bool logits_all, rs_error *err)
{
    memset(s, 0, sizeof *s);
    s->n_batch = n_batch;
    s->logits_rows = logits_all ? n_batch : 1;
    s->head_rows = 1;
    const int64_t B = n_batch, D = cfg->n_embd, QD = cfg->n_head * cfg->head_dim;
    const int64_t KD = cfg->n_head_kv * cfg->head_dim;
    struct {
        float **p;
        int64_t n;
    } bufs[] = {
        {&s->x, B * D},
        {&s->xb, B * (D > QD ? D : QD)},
        {&s->q, B * QD},
        {&s->k, B * KD},
        {&s->v, B * KD},
        {&s->att_out, B * QD},
        {&s->hb, B * cfg->n_ff},
        {&s->hb2, B * cfg->n_ff},
        {&s->att, (int64_t)n_threads * n_ctx},
        {&s->kv_row, (int64_t)n_threads * 2 * cfg->head_dim},
        {&s->logits, s->logits_rows * cfg->n_vocab},
        {&s->inv_freq, cfg->rope_dim / 2 + 1},
    };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        // Every count is a product of configuration sizes (each below 2^24)
        // and n_batch or n_ctx; refuse what would overflow rather than wrap.
        size_t bytes;
        if (bufs[i].n < 0 || __builtin_mul_overflow((size_t)bufs[i].n, sizeof(float), &bytes) ||
            bytes > (SIZE_MAX >> 2)) {
            run_state_free(s);
            return rs_fail(err, RS_ERR_INPUT, "activations for a batch of %lld tokens do not fit",
                           (long long)n_batch);
        }
        bytes = (bytes + 63) & ~(size_t)63;
        *bufs[i].p = aligned_alloc(64, bytes);
        if (!*bufs[i].p) {
            run_state_free(s);
            return rs_fail(err, RS_ERR_RUNTIME, "out of memory for activations");
        }
        memset(*bufs[i].p, 0, bytes);
        s->bytes += bytes;
    }
    return RS_OK;
}

rs_status run_state_set_head_rows(run_state *s, const forward_config *cfg, int64_t head_rows,
                                  rs_error *err)
{
    if (head_rows <= 1 || head_rows > s->n_batch) return RS_OK;
    if (head_rows > s->logits_rows) {
        size_t old = ((size_t)(s->logits_rows * cfg->n_vocab) * sizeof(float) + 63) & ~(size_t)63;
        size_t bytes = ((size_t)(head_rows * cfg->n_vocab) * sizeof(float) + 63) & ~(size_t)63;
        float *l = aligned_alloc(64, bytes);
        if (!l) return rs_fail(err, RS_ERR_RUNTIME, "out of memory for logits");
        memset(l, 0, bytes);
        free(s->logits);
        s->logits = l;
        s->bytes += bytes - old;
    }
    s->head_rows = head_rows;
    return RS_OK;
}

void run_state_free(run_state *s)
{
    if (!s) return;
    float *p[] = {s->x,   s->xb,  s->q,   s->k,      s->v,      s->att_out,
                  s->hb,  s->hb2, s->att, s->kv_row, s->logits, s->inv_freq};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        free(p[i]);
    memset(s, 0, sizeof *s);
}

// ---------------------------------------------------------------------------
// Rotary embedding

// transformers' _compute_yarn_parameters with its defaults (beta_fast 32,
// beta_slow 1, truncated correction range, attention factor from the
// scaling factor): frequencies below the ramp are interpolated (divided by
// factor), those above kept, those on it blended.
static float yarn_inv_freq(const model_desc *m, int64_t rd, double theta, float *inv_freq)
{
    const double orig = m->rope_scaling.original_ctx > 0 ? (double)m->rope_scaling.original_ctx
                                                          : (double)m->n_ctx_train;
    double factor = m->rope_scaling.factor;
    if (!(factor > 0) && orig > 0) factor = (double)m->n_ctx_train / orig;
    if (!(factor > 0)) factor = 1;
    const double beta_fast = 32, beta_slow = 1;
    double low = floor(rd * log(orig / (beta_fast * 2 * M_PI)) / (2 * log(theta)));
    double high = ceil(rd * log(orig / (beta_slow * 2 * M_PI)) / (2 * log(theta)));
    if (low < 0) low = 0;
    if (high > rd - 1) high = (double)(rd - 1);
    if (low == high) high += 0.001;
    for (int64_t i = 0; i < rd / 2; i++) {
        float pos_freq = (float)pow(theta, (double)(float)(2 * i) / (double)rd);
        float extra = 1.0f / pos_freq, inter = 1.0f / ((float)factor * pos_freq);
        float ramp = (float)(((double)i - low) / (high - low));
        ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
        float keep = 1 - ramp; // share of the extrapolated (unscaled) frequency
        inv_freq[i] = inter * (1 - keep) + extra * keep;
    }
    return factor <= 1 ? 1.0f : (float)(0.1 * log(factor) + 1.0);
}

float rope_inv_freq(const model_desc *m, const float *factors, float *inv_freq)
{
    const int64_t rd = m->rope_dim > 0 ? m->rope_dim : m->head_dim;
    const double theta = m->rope_theta > 0 ? m->rope_theta : 10000.0;
    if (!factors && m->rope_scaling.type == ROPE_SCALING_YARN)
        return yarn_inv_freq(m, rd, theta, inv_freq);
    for (int64_t i = 0; i < rd / 2; i++) {
        // Computed as transformers does (float32) so that fp32 logits match.
        float f = (float)(1.0 / pow(theta, (double)(float)(2 * i) / (double)rd));
        if (factors) {
            f /= factors[i];
        } else if (m->rope_scaling.type == ROPE_SCALING_LINEAR && m->rope_scaling.factor > 0) {
            f /= (float)m->rope_scaling.factor;
        } else if (m->rope_scaling.type == ROPE_SCALING_LLAMA3 && m->rope_scaling.factor > 0) {
            // transformers' _compute_llama3_parameters: long wavelengths are
            // divided by factor, short ones kept, the band between smoothed.
            const double factor = m->rope_scaling.factor;
            const double lo = m->rope_scaling.low_freq_factor, hi = m->rope_scaling.high_freq_factor;
            const double old_ctx = (double)m->rope_scaling.original_ctx;
            const double lo_wavelen = old_ctx / lo, hi_wavelen = old_ctx / hi;
            const double wavelen = 2 * M_PI / f;
            if (wavelen > lo_wavelen) {
                f = (float)(f / factor);
            } else if (wavelen >= hi_wavelen && hi != lo) {
                double smooth = (old_ctx / wavelen - lo) / (hi - lo);
                f = (float)((1 - smooth) * f / factor + smooth * f);
            }
        }
        inv_freq[i] = f;
    }
    return 1.0f;
}

// Rotates the first rope_dim values of each of n_heads heads of x at pos.
static void rope_apply(const forward_config *cfg, const float *inv_freq, float *x, int64_t n_heads,
                       int64_t pos)
{
    const int64_t hd = cfg->head_dim, half = cfg->rope_dim / 2;
    for (int64_t i = 0; i < half; i++) {
        float angle = (float)pos * inv_freq[i];
        // YaRN scales cos and sin (both q and k) by its attention factor.
        float c = cosf(angle) * cfg->rope_attn_factor, s = sinf(angle) * cfg->rope_attn_factor;
        for (int64_t h = 0; h < n_heads; h++) {
            float *v = x + h * hd;
            int64_t a = cfg->rope_interleaved ? 2 * i : i;
            int64_t b = cfg->rope_interleaved ? 2 * i + 1 : i + half;
            float x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x1 * c + x0 * s;
        }
    }
}

// ---------------------------------------------------------------------------
// Small ops

static void rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps)
{
    double ss = 0;
    for (int64_t i = 0; i < n; i++)
        ss += (double)x[i] * x[i];
    float scale = (float)(1.0 / sqrt(ss / (double)n + eps));
    for (int64_t i = 0; i < n; i++)
        out[i] = w[i] * (x[i] * scale);
}

static void add_bias(float *y, const float *b, int64_t n_tok, int64_t n)
{
    if (!b) return;
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t i = 0; i < n; i++)
            y[t * n + i] += b[i];
}

static void matmul(thread_pool *pool, const weight *w, const float *x, float *y, int64_t n_tok)
{
    cpu_matmul(pool, w->data, w->type, x, y, w->n_in, w->n_out, n_tok);
}

// ---------------------------------------------------------------------------
// The forward pass

void forward_batch(const forward_config *cfg, const model_weights *w, kv_cache *kv, run_state *s,
                   thread_pool *pool, const int32_t *tokens, int64_t n, int64_t pos)
{
    const int64_t D = cfg->n_embd, H = cfg->n_head, KVH = cfg->n_head_kv, hd = cfg->head_dim;
    const int64_t QD = H * hd, KD = KVH * hd, F = cfg->n_ff;

    // Token embeddings: one row of the table per token.
    for (int64_t t = 0; t < n && cfg->layer_first == 0; t++) {
        const weight *e = &w->tok_embd;
        int64_t row_bytes = dtype_row_bytes(e->type, e->n_in);
        convert_row_to_f32(e->type, (const uint8_t *)e->data + (size_t)tokens[t] * row_bytes,
                           s->x + t * D, D, NULL);
    }

    for (int64_t l = cfg->layer_first; l < cfg->n_layer; l++) {
        const layer_weights *L = &w->layers[l];

        // Attention block: x += wo · attention(rope(wq·norm(x)), rope(wk·norm(x)), wv·norm(x)).
        for (int64_t t = 0; t < n; t++)
            rmsnorm(s->xb + t * D, s->x + t * D, L->attn_norm, D, cfg->norm_eps);
        matmul(pool, &L->wq, s->xb, s->q, n);
        matmul(pool, &L->wk, s->xb, s->k, n);
        matmul(pool, &L->wv, s->xb, s->v, n);
        add_bias(s->q, L->bq, n, QD);
        add_bias(s->k, L->bk, n, KD);
        add_bias(s->v, L->bv, n, KD);
        for (int64_t t = 0; t < n; t++) {
            float *q = s->q + t * QD, *k = s->k + t * KD;
            if (L->q_norm)
                for (int64_t h = 0; h < H; h++)
                    rmsnorm(q + h * hd, q + h * hd, L->q_norm, hd, cfg->norm_eps);
            if (L->k_norm)
                for (int64_t h = 0; h < KVH; h++)
                    rmsnorm(k + h * hd, k + h * hd, L->k_norm, hd, cfg->norm_eps);
            rope_apply(cfg, s->inv_freq, q, H, pos + t);
            rope_apply(cfg, s->inv_freq, k, KVH, pos + t);
        }
        // Attention reads earlier positions from the cache and this batch's
        // own keys and values from s->k, s->v; they join the cache after, so
        // that a sliding-window ring is never overwritten while still read.
        attention_run(kv, l, H, KVH, hd, s->q, s->k, s->v, s->att_out, n, pos,
                      forward_layer_window(cfg, l), s->att, s->kv_row, pool);
        attention_store_kv(kv, l, KVH, hd, s->k, s->v, n, pos);
        matmul(pool, &L->wo, s->att_out, s->xb, n);
        for (int64_t i = 0; i < n * D; i++)
            s->x[i] += s->xb[i];

        // Feed-forward block: x += down(silu(gate·norm(x)) * up·norm(x)).
        for (int64_t t = 0; t < n; t++)
            rmsnorm(s->xb + t * D, s->x + t * D, L->ffn_norm, D, cfg->norm_eps);
        matmul(pool, &L->w_gate, s->xb, s->hb, n);
        matmul(pool, &L->w_up, s->xb, s->hb2, n);
        for (int64_t i = 0; i < n * F; i++) {
            float g = s->hb[i];
            s->hb[i] = g / (1.0f + expf(-g)) * s->hb2[i];
        }
        matmul(pool, &L->w_down, s->hb, s->xb, n);
        for (int64_t i = 0; i < n * D; i++)
            s->x[i] += s->xb[i];
    }

    // Logits: every token's when asked for, else the last one's. A prefill
    // runs its last head_rows tokens through the head so that the output
    // matmul takes the kernels' unquantized path: the prompt's last logits
    // pick the first token, and 8-bit activations can flip a near tie there
    // (SmolLM2-135M's "The" against "L" for a question about Paris).
    int64_t first = s->logits_rows >= n ? 0 : n - 1;
    if (first > 0 && s->head_rows > 1 && n >= s->head_rows) first = n - s->head_rows;
    s->last_row = n - 1 - first;
    if (s->skip_logits) return;
    for (int64_t t = first; t < n; t++)
        rmsnorm(s->xb + (t - first) * D, s->x + t * D, w->out_norm, D, cfg->norm_eps);
    matmul(pool, &w->output, s->xb, s->logits, n - first);
}
