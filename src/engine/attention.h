#ifndef RS_ENGINE_ATTENTION_H
#define RS_ENGINE_ATTENTION_H

#include <stdint.h>

#include "engine/cpu/threadpool.h"
#include "engine/forward.h"

// Causal self-attention over the KV cache, with grouped KV heads (GQA).

// Writes the keys and values of n tokens (positions pos..pos+n-1) of layer l
// into the cache, converting them to the cache type.
//   k, v: (n, n_head_kv * head_dim)
void attention_store_kv(kv_cache *kv, int64_t l, int64_t n_head_kv, int64_t head_dim,
                        const float *k, const float *v, int64_t n, int64_t pos);

// For each of n tokens and each query head, softmax(q·K^T / sqrt(head_dim))·V
// over positions [max(0, p - window + 1), p] (window 0: all), where p is the
// token's position: positions before pos from the cache, the batch's own
// from k_new, v_new. Parallel over (token, head).
//   q:      (n, n_head * head_dim)
//   k_new, v_new: (n, n_head_kv * head_dim) this batch's keys and values
//   out:    (n, n_head * head_dim)
//   att:    (n_threads, n_ctx) scratch scores
//   kv_row: (n_threads, 2, head_dim) scratch rows
void attention_run(const kv_cache *kv, int64_t l, int64_t n_head, int64_t n_head_kv,
                   int64_t head_dim, const float *q, const float *k_new, const float *v_new,
                   float *out, int64_t n, int64_t pos,
                   int64_t window, float *att, float *kv_row, thread_pool *pool);

#endif
