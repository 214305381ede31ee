#ifndef RS_ENGINE_MODEL_WEIGHTS_H
#define RS_ENGINE_MODEL_WEIGHTS_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/cpu/threadpool.h"
#include "model/model.h"
#include "plan/memory.h"
#include "util/dtype.h"
#include "util/error.h"

// The weights of a dense decoder (Llama, Mistral, Qwen2/3, SmolLM2), found
// by their HF or GGUF names, checked against the configuration, and held at
// the type the engine computes with: in place in the file mapping where the
// stored type serves, else converted once at load.

// One weight matrix: n_out rows of n_in elements of type (ggml ne = [n_in, n_out]).
typedef struct weight {
    const void *data; // (n_out, n_in) rows at type; in the mapping or in owned memory
    dtype type;
    int64_t n_in, n_out;
} weight;

typedef struct layer_weights {
    float *attn_norm;            // (n_embd)
    weight wq, wk, wv, wo;       // q: (n_head*head_dim, n_embd), k/v: (n_head_kv*head_dim, n_embd), o: (n_embd, n_head*head_dim)
    float *bq, *bk, *bv;         // (n_head*head_dim), (n_head_kv*head_dim) x2; NULL without biases
    float *q_norm, *k_norm;      // (head_dim) per-head RMSNorm (Qwen3); NULL without
    float *ffn_norm;             // (n_embd)
    weight w_gate, w_up, w_down; // gate/up: (n_ff, n_embd), down: (n_embd, n_ff)
} layer_weights;

typedef struct model_weights {
    int64_t n_layer;
    weight tok_embd;       // (n_vocab, n_embd): rows are looked up
    layer_weights *layers; // (n_layer)
    float *out_norm;       // (n_embd)
    weight output;         // (n_vocab, n_embd); = tok_embd when tied
    float *rope_factors;   // (rope_dim/2) frequency divisors (GGUF rope_freqs), or NULL

    // Ownership: the file mappings and every block allocated at load.
    int n_maps;
    void **maps;        // (n_maps) one read-only mapping per model file
    uint64_t *map_size; // (n_maps)
    int n_owned, cap_owned;
    void **owned;          // (n_owned) converted tensors, f32 norms and biases; NULL once released
    uint64_t *owned_bytes; // (n_owned) bytes of each

    uint64_t bytes_total;     // all weights at their final types
    uint64_t bytes_converted; // of which held in owned memory
    dtype main_type;          // the type holding the most bytes
    uint64_t bytes_released;  // of bytes_total: given back by model_weights_release_blocks
} model_weights;

typedef struct weights_load_options {
    plan_precision precision; // what each tensor becomes: plan_model_tensor_type
    bool progress;
    bool verbose;
} weights_load_options;

rs_status model_weights_load(const model_desc *m, const weights_load_options *opt,
                             thread_pool *pool, model_weights *w, rs_error *err);
void model_weights_free(model_weights *w);

// Gives back the host memory of weights that now live elsewhere (a GPU holds
// its copy): blocks [first, first + n), the embedding table (embd) and the
// output head with the final norm (head). Converted tensors are freed, mapped
// ones dropped from this process (the file stays in the page cache), and
// their pointers set to NULL so that a later use faults rather than reads
// freed memory. A tied table serves as embedding and head: it is released
// only when both go. Returns the bytes released (also added to
// bytes_released); rope_factors and every other block stay.
uint64_t model_weights_release_blocks(model_weights *w, int64_t first, int64_t n, bool embd,
                                      bool head);

#endif
