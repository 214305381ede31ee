#ifndef RS_ENGINE_ENGINE_H
#define RS_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "model/model.h"
#include "plan/memory.h"
#include "util/dtype.h"
#include "util/error.h"

// The engine: loads a described model's weights at a precision and runs the
// decoder. One sequence at a time; the KV cache holds n_ctx tokens and is
// allocated once at load, like every activation buffer (nothing is allocated
// per token).
//
//   engine_options o = engine_default_options();
//   o.precision = plan_precision_of(PLAN_PREC_INT8);
//   engine *e;
//   if (engine_load(m, &o, &e, &err) != RS_OK) ...
//   engine_prefill(e, prompt, n_prompt, NULL, &err);   // logits of the last token
//   int32_t next = argmax(engine_logits(e));
//   engine_decode(e, next, &err);                       // one more token
//   engine_free(e);

typedef struct engine engine;

typedef struct engine_options {
    // What each weight becomes (plan_model_tensor_type): PLAN_PREC_STORED
    // keeps the files' types; int8 quantizes matrices to Q8_0 while loading,
    // int4 to Q4_K (Q4_0 for rows that are not a multiple of 256, Q6_K for
    // the output head), as the plan counts them.
    plan_precision precision;
    int64_t n_ctx;      // tokens the KV cache holds; 0: min(n_ctx_train, 4096)
    int64_t n_batch;    // most tokens per prefill step; 0: min(n_ctx, 512)
    dtype kv_type;      // DTYPE_F16 (default) or DTYPE_Q8_0
    int n_threads;      // <= 0: one per available core
    bool logits_all;    // keep the logits of every prefill token (tests, perplexity)
    bool progress;      // progress bar on stderr while converting weights
    bool verbose;       // per-tensor conversion error (relative RMS) on stderr
    const char *device; // NULL or "cpu", "cuda", "cuda:N" (engine_gpu.h; the CPU with a
                        // one-line note when no CUDA library or driver is there)
    int64_t n_gpu_layers; // with a CUDA device: the first N blocks on it, the rest on the
                          // CPU; < 0 (default): all
    int n_split;          // --split A,B,...: split[i] blocks on GPU device + i, in layer
    int64_t split[8];     // order, the rest on the CPU (replaces n_gpu_layers); 0: none
} engine_options;

engine_options engine_default_options(void);

// Bytes the engine holds, by component, so that `bench` can set them beside
// the plan. Mapped weights are counted in weights (they become resident as
// they are read); weights_converted is the part allocated by conversion.
typedef struct engine_memory {
    uint64_t weights;           // every weight tensor at its final type
    uint64_t weights_converted; // of which: heap copies made at load (quantized, converted)
    uint64_t weights_released;  // of which: given back once uploaded to a GPU (not on the host)
    uint64_t kv_cache;          // n_layer x 2 x n_head_kv x n_ctx x head_dim at kv_type
    uint64_t activations;       // RunState buffers for n_batch tokens, logits, scratch
} engine_memory;

// Maps the model's files and prepares its weights at the requested
// precision. Fails with RS_ERR_INPUT for missing or misshapen tensors,
// truncated files, unsupported architectures or types.
rs_status engine_load(const model_desc *m, const engine_options *opt, engine **out, rs_error *err);
void engine_free(engine *e);

// Runs n tokens at positions pos..pos+n-1 (pos = engine_pos()), n_batch at a
// time through each weight matrix, and leaves the last token's logits for
// engine_logits. With logits_all, logits_out (n, n_vocab) may receive every
// token's logits (NULL to skip).
rs_status engine_prefill(engine *e, const int32_t *tokens, int64_t n, float *logits_out,
                         rs_error *err);
// One token at position pos; its logits for engine_logits.
rs_status engine_decode(engine *e, int32_t token, rs_error *err);

const float *engine_logits(const engine *e); // (n_vocab) of the last token run
int64_t engine_n_vocab(const engine *e);
int64_t engine_n_ctx(const engine *e);
int64_t engine_pos(const engine *e); // tokens in the KV cache
// Forgets the cache from position pos on (0: a new conversation) and
// returns the position kept: 0 where a sliding-window layer's ring has
// already overwritten what the tokens after pos would need (run them again).
int64_t engine_rewind(engine *e, int64_t pos);

void engine_memory_usage(const engine *e, engine_memory *out);
// The type a weight matrix was loaded at (for reports): the type holding the
// most bytes.
dtype engine_weight_type(const engine *e);

#endif
