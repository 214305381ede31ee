#ifndef RS_ENGINE_FORWARD_H
#define RS_ENGINE_FORWARD_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/cpu/threadpool.h"
#include "engine/model_weights.h"
#include "model/model.h"
#include "util/dtype.h"
#include "util/error.h"

// The decoder's forward pass on the CPU: the hyperparameters it reads, the
// KV cache, and the activation buffers, all sized once at load.

typedef struct forward_config {
    int64_t n_layer, n_embd, n_head, n_head_kv, head_dim, n_ff, n_vocab;
    int64_t rope_dim;      // rotated dimensions at the start of each head
    bool rope_interleaved; // rotate pairs (2i, 2i+1) rather than halves (i, i + rope_dim/2)
    float rope_attn_factor; // scales cos and sin (YaRN); 1 otherwise
    float norm_eps;
    int64_t sliding_window;    // 0: none
    const uint8_t *layer_swa;  // (n_layer) or NULL: every layer slides when sliding_window > 0
    int64_t layer_first;       // blocks before it ran elsewhere (GPU): s->x holds their output
} forward_config;

// KV cache: for each layer and KV head, rows[l] rows of head_dim values, so
// that one head's keys are contiguous for the attention loop. A full layer
// has n_ctx rows; a sliding-window layer only min(n_ctx, window), used as a
// ring (position p in row p % rows[l]), as the plan counts it. Layers before
// cfg->layer_first (on a GPU) get no storage.
typedef struct kv_cache {
    dtype type;          // DTYPE_F16, DTYPE_Q8_0 or DTYPE_F32
    int64_t n_ctx;
    int64_t n_layer, n_head_kv;
    int64_t row_bytes;   // bytes of one (head_dim) row at type
    int64_t *rows;       // (n_layer) rows per KV head
    uint64_t *layer_off; // (n_layer) first row of each layer
    uint8_t *k, *v;      // (sum over layers of n_head_kv * rows[l], head_dim) at type
    uint64_t bytes;      // both caches
} kv_cache;

// The cache row holding position p of KV head h in layer l.
static inline uint8_t *kv_cache_row(const kv_cache *kv, uint8_t *base, int64_t l, int64_t h,
                                    int64_t p)
{
    return base + (kv->layer_off[l] + (uint64_t)(h * kv->rows[l] + p % kv->rows[l])) *
                      (uint64_t)kv->row_bytes;
}

// The window of layer l (0: full attention).
static inline int64_t forward_layer_window(const forward_config *cfg, int64_t l)
{
    return cfg->sliding_window > 0 && (!cfg->layer_swa || cfg->layer_swa[l]) ? cfg->sliding_window
                                                                             : 0;
}

// Activations for up to n_batch tokens at once, reused by every layer.
typedef struct run_state {
    int64_t n_batch;
    float *x;        // (n_batch, n_embd) residual stream
    float *xb;       // (n_batch, n_embd) normed input of a block
    float *q;        // (n_batch, n_head * head_dim)
    float *k;        // (n_batch, n_head_kv * head_dim)
    float *v;        // (n_batch, n_head_kv * head_dim)
    float *att_out;  // (n_batch, n_head * head_dim) attention result before wo
    float *hb;       // (n_batch, n_ff) gate, then silu(gate) * up
    float *hb2;      // (n_batch, n_ff) up
    float *att;      // (n_threads, n_ctx) attention scores, one row per thread
    float *kv_row;   // (n_threads, 2, head_dim) a dequantized cache row, per thread
    float *logits;   // (max(logits_rows, head_rows), n_vocab)
    int64_t logits_rows; // 1, or n_batch with logits_all
    int64_t head_rows;   // rows a prefill runs through the output head (see forward_batch)
    int64_t last_row;    // row of logits holding the last token's, after forward_batch
    bool skip_logits;    // a prefill chunk before the last: no output head needed
    float *inv_freq; // (rope_dim / 2) rotary frequencies, scaling applied
    uint64_t bytes;
} run_state;

rs_status kv_cache_init(kv_cache *kv, const forward_config *cfg, int64_t n_ctx, dtype type,
                        rs_error *err);
void kv_cache_free(kv_cache *kv);

rs_status run_state_init(run_state *s, const forward_config *cfg, int64_t n_batch, int64_t n_ctx,
                         int n_threads, bool logits_all, rs_error *err);
// How many of a prefill's last tokens go through the output head (1 after
// init; more so that the head's matmul keeps f32 activations: see
// forward_batch). Grows the logits buffer.
rs_status run_state_set_head_rows(run_state *s, const forward_config *cfg, int64_t head_rows,
                                  rs_error *err);
void run_state_free(run_state *s);

// Rotary inverse frequencies from the model's settings: theta, rope_dim,
// linear, llama3 or YaRN scaling, or the GGUF rope_freqs divisors when
// given. Returns the factor that scales cos and sin (YaRN), else 1.
float rope_inv_freq(const model_desc *m, const float *factors, float *inv_freq);

// Runs n <= n_batch tokens at positions pos.. through the model, appending
// their keys and values to the cache. Logits: of every token when
// s->logits_rows >= n, else of the last token, at row s->last_row.
void forward_batch(const forward_config *cfg, const model_weights *w, kv_cache *kv, run_state *s,
                   thread_pool *pool, const int32_t *tokens, int64_t n, int64_t pos);

#endif
