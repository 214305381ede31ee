#ifndef RS_PLAN_MEMORY_H
#define RS_PLAN_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"
#include "plan/gpu_arena.h"
#include "util/dtype.h"
#include "util/error.h"

// The one memory model. The planner sizes every device with these functions
// and the engine allocates through the same ones, so planned and measured
// agree by construction. Every constant lives here once, with its source in
// docs/memory-model.md.

// ---- Precisions -----------------------------------------------------------

typedef enum plan_precision_kind {
    PLAN_PREC_STORED, // each tensor keeps the type it is stored in
    PLAN_PREC_F32,
    PLAN_PREC_BF16,
    PLAN_PREC_F16,
    PLAN_PREC_INT8, // Q8_0
    PLAN_PREC_INT4, // Q4_K (Q4_0 where a row is not a multiple of 256), output head Q6_K
    PLAN_PREC_GGUF, // one GGUF type by name, in .type ("q5_k", "q6_k", ...)
} plan_precision_kind;

typedef struct plan_precision {
    plan_precision_kind kind;
    dtype type; // the target for PLAN_PREC_GGUF; ignored otherwise
} plan_precision;

// The standard ladder, best quality first (stored is not part of it).
#define PLAN_N_STANDARD 5
extern const plan_precision_kind plan_standard_precisions[PLAN_N_STANDARD];

static inline plan_precision plan_precision_of(plan_precision_kind k)
{
    plan_precision p = {k, DTYPE_F32};
    return p;
}

// Parses "stored", "fp32"/"f32", "bf16", "fp16"/"f16", "int8", "int4", or any
// GGUF type name ("q8_0", "Q4_K", "q6_k"). Bad names fail with RS_ERR_INPUT.
rs_status plan_precision_parse(const char *s, plan_precision *out, rs_error *err);

// "stored", "fp32", "bf16", "fp16", "int8", "int4", or the GGUF type name.
const char *plan_precision_name(plan_precision p);

// ---- Tensors: what each becomes at a precision -----------------------------

typedef enum plan_tensor_role {
    PLAN_ROLE_LAYER,  // inside decoder block `layer`
    PLAN_ROLE_EMBD,   // the token embedding table
    PLAN_ROLE_OUTPUT, // output head, final norm and other tensors outside the blocks
    PLAN_ROLE_SKIP,   // never loaded: next-token-prediction layers past n_layer, vision tower
} plan_tensor_role;

// Classifies a tensor by its name (GGUF "blk.N." / HF "model.layers.N.").
// *layer gets the block index for PLAN_ROLE_LAYER, else -1. m may be NULL
// (then no layer counts as past n_layer).
plan_tensor_role plan_tensor_role_of(const model_desc *m, const model_tensor *t, int64_t *layer);

// True for the routed-expert weights of a MoE layer (only n_expert_used of
// n_expert are read per token); shared experts are not routed.
bool plan_tensor_is_routed_expert(const model_tensor *t);

// The type a tensor gets at a precision. 2-D weight matrices take the
// target; 1-D tensors (norms, biases) and MoE routers stay F32; integer
// tensors keep their type. int4 gives the output head Q6_K as llama.cpp's
// Q4_K_M/Q4_K_S do. A row that is not a multiple of the target's block falls
// back (Q4_K -> Q4_0, Q6_K -> Q8_0, ... -> F16). This name-only form treats
// the embedding table as untied; plan_model_tensor_type knows the model.
dtype plan_tensor_type(const model_tensor *t, plan_precision p);

// As plan_tensor_type, but a tied embedding table (it is also the output
// head) is typed as the output head. The engine converts through this.
dtype plan_model_tensor_type(const model_desc *m, const model_tensor *t, plan_precision p);

// Bytes of the tensor at that type (dtype_tensor_bytes); 0 if it cannot be
// represented (never happens after the fallbacks above).
uint64_t plan_tensor_bytes(const model_desc *m, const model_tensor *t, plan_precision p);

// Total weight bytes of the model at a precision (skipped tensors excluded).
uint64_t plan_weights_bytes(const model_desc *m, plan_precision p);

// How the CUDA engine's decode kernels read a weight type, for the GPU speed
// model (plan/speed.h, docs/memory-model.md): each family reaches its own
// fraction of the memory bandwidth.
typedef enum plan_wclass {
    PLAN_WCLASS_FLOAT,  // F32, F16, BF16: wide loads, fp32 math
    PLAN_WCLASS_INT8,   // Q8_0, Q4_0: int8 dot products against the int8-quantized input
    PLAN_WCLASS_KQUANT, // Q4_K, Q6_K: int8 dot products over 256-weight super-blocks
    PLAN_WCLASS_DEQ,    // other quantized types (Q4_1, Q5_0, Q5_K): dequantized in fp32
    PLAN_WCLASS_N
} plan_wclass;

plan_wclass plan_weight_class(dtype t);
const char *plan_wclass_name(plan_wclass c); // "float", "int8", "kquant", "deq"

// Weight bytes by where they live: per block, the embedding table, and the
// output side (head + final norm; for tied embeddings the head is the
// embedding table, counted in output_head_tied).
typedef struct plan_weights {
    int64_t n_layer;
    uint64_t *layer;        // (n_layer) bytes of each block
    uint64_t *layer_active; // (n_layer) bytes read per token (routed experts scaled by used/total)
    uint64_t *layer_active_params; // (n_layer) parameters multiplied per token (for FLOPS)
    uint64_t head_params;   // parameters of the output head (tied: the embedding table)
    uint64_t embd;          // token embedding table
    uint64_t output;        // output head (if untied), final norm, other top-level tensors
    uint64_t output_head_tied; // bytes of the tied embedding table as the head (0 if untied)
    uint64_t total;         // all loaded bytes on a single device
    // For the GPU speed model:
    uint64_t *layer_class;                // (n_layer, PLAN_WCLASS_N) active bytes by kernel family
    uint64_t output_class[PLAN_WCLASS_N]; // the output side by family (tied: the table)
    uint64_t *layer_quant_params;         // (n_layer) active parameters of quantized matrices,
                                          // which a GPU prefill dequantizes to bf16 first
    uint64_t *layer_chunked_params;       // (n_layer) of which in matrices of more than
                                          // PLAN_GPU_DEQ_SCRATCH_ELEMS (dequantized in slabs)
    // For the GPU compute arena (plan_compute_gpu): a matrix of the block,
    // or the output head, is neither bf16 nor f16, so a GPU prefill
    // dequantizes it and the device holds PLAN_GPU_DEQ_SCRATCH_BYTES.
    uint8_t *layer_dequant; // (n_layer) 0 or 1
    bool output_dequant;
} plan_weights;

// Elements of the CUDA engine's dequantization scratch
// (PLAN_GPU_DEQ_SCRATCH_BYTES = 32 MiB of bf16, plan/gpu_arena.h): a larger
// quantized matrix is dequantized and multiplied in slabs of rows.
#define PLAN_GPU_DEQ_SCRATCH_ELEMS ((int64_t)(PLAN_GPU_DEQ_SCRATCH_BYTES / 2))

rs_status plan_weights_init(plan_weights *w, const model_desc *m, plan_precision p, rs_error *err);

// What the name rules say about each tensor, computed once per model so that
// sizing every precision does no string work (DeepSeek-V3 has 90,000
// tensors).
typedef struct plan_tensor_class {
    int64_t layer; // block index for PLAN_ROLE_LAYER, else -1
    uint8_t role;  // plan_tensor_role
    bool routed;   // a routed expert's weights
    bool router;   // a MoE router: stays F32
    bool head;     // the output head tensor itself
    bool embd;     // the token embedding table
    bool as_head;  // typed as the output head (the head, or a tied embedding table)
    bool scale;    // an FP8 checkpoint's block scales: folded into the weights by any
                   // conversion, so present only at the stored precision
} plan_tensor_class;

// Tensors of one class, stored type and shape: sizing a precision walks
// these (about 1,000 for DeepSeek-V3) instead of every tensor, and no
// per-tensor array is kept (the page faults of 1.5 MB were measurable).
typedef struct plan_tensor_group {
    plan_tensor_class c; // the class every member shares
    int64_t first;       // one member's index in model_desc.tensors (its type and shape)
    int64_t count;       // members
} plan_tensor_group;

typedef struct plan_classes {
    int64_t n; // the model's tensors
    int64_t n_groups;
    plan_tensor_group *groups; // (n_groups) in order of first member
    bool has_head;        // the model stores an output head (else it is tied)
    bool stored_runnable; // the engine computes with every stored type (quant_supported)
    dtype unrunnable;     // the first stored type it cannot run (F8_E4M3), when not
} plan_classes;

rs_status plan_classes_init(plan_classes *pc, const model_desc *m, rs_error *err);
void plan_classes_free(plan_classes *pc);
rs_status plan_weights_init_classes(plan_weights *w, const model_desc *m, const plan_classes *pc,
                                    plan_precision p, rs_error *err);
void plan_weights_free(plan_weights *w);

// Bytes on one device holding blocks [first, last), plus the embedding table
// and/or the output side. A tied table needed for both input and output on
// different devices is counted on each, as llama.cpp duplicates it.
uint64_t plan_weights_range(const plan_weights *w, int64_t first, int64_t last, bool with_embd,
                            bool with_output);

// ---- KV cache ---------------------------------------------------------------

// KV bytes of blocks [first, last) for n_seq sequences of n_ctx tokens each
// (model_kv_bytes per block range x n_seq).
uint64_t plan_kv_bytes_range(const model_desc *m, int64_t first, int64_t last, int64_t n_ctx,
                             int64_t n_seq, dtype kv_type);
uint64_t plan_kv_bytes(const model_desc *m, int64_t n_ctx, int64_t n_seq, dtype kv_type);

// Parses "f16", "q8_0", "q4_0" (the KV cache types); -1 otherwise.
int plan_kv_type_parse(const char *s);

// ---- Compute buffers --------------------------------------------------------

// The scratch of one prefill chunk of n_batch tokens, reused by every layer
// (f32): sized for the largest layer. On a GPU attention runs over the cache
// in tiles of PLAN_ATTN_KV_TILE keys with an online softmax, so the scores
// are (n_head, n_batch, min(n_ctx, tile)) rather than the whole context. The
// CPU engine computes one (query, head) row at a time per thread: scores
// (n_threads, n_ctx) and a dequantized K/V row (n_threads, 2, head_dim),
// as src/engine/forward.c's run_state allocates them.
#define PLAN_DEFAULT_BATCH 512
#define PLAN_ATTN_KV_TILE  1024

typedef struct plan_compute {
    uint64_t hidden;   // (n_batch, n_embd) residual + (n_batch, max(n_embd, q_dim)) normed input
    uint64_t qkv;      // (n_batch, q_dim + k_dim + v_dim) projections before the cache write
    uint64_t scores;   // GPU: (n_head, n_batch, min(n_ctx, PLAN_ATTN_KV_TILE));
                       // CPU: (n_threads, n_ctx) + (n_threads, 2, head_dim)
    uint64_t attn_out; // (n_batch, n_head * v_head_dim) attention output before o_proj
    uint64_t ffn;      // (2, n_batch, ffn width) gate and up; MoE: used experts + shared + router
    uint64_t logits;   // (n_outputs, n_vocab) f32 logits
    uint64_t total;    // sum of the above
} plan_compute;

// n_outputs: rows of logits kept (1 per sequence for generation);
// n_threads: 0 for a GPU, the CPU engine's thread count for the CPU.
// The planner uses it for the CPU; a GPU's figure is plan_compute_gpu's.
void plan_compute_bytes(const model_desc *m, int64_t n_batch, int64_t n_ctx, int64_t n_outputs,
                        int n_threads, plan_compute *out);

// The CUDA engine's compute arena on a device holding blocks [first, last)
// and the output head when with_output (n_outputs rows of logits, the
// engine's 1 or n_batch): exactly what src/engine/cuda/model.cu allocates,
// buffer by buffer (plan/gpu_arena.h; docs/memory-model.md). w (the
// precision's weights) decides the dequantization scratch; NULL: none.
// n_batch <= 0 means PLAN_DEFAULT_BATCH, capped at n_ctx as the engine caps
// it. The fused decode step's buffers (RIGHTSIZE_CUDA_FUSED=1, off by
// default) are not counted.
void plan_compute_gpu(const model_desc *m, const plan_weights *w, int64_t first, int64_t last,
                      bool with_output, int64_t n_batch, int64_t n_ctx, int64_t n_outputs,
                      plan_gpu_arena *out);

// ---- Runtime overhead ---------------------------------------------------------

// Memory that exists before any tensor: the CUDA context and library
// workspaces on a GPU, the process (binary, libraries, heap, thread stacks) on
// the CPU. Values and sources in docs/memory-model.md.
// Measured on the H200 (driver 580, CUDA 13): bench/results/cuda-overhead.md.
#define PLAN_CUDA_CONTEXT_BYTES   (528ull << 20)
// cuBLAS handle with its workspace (lazy module loading), same measurement.
#define PLAN_CUBLAS_WORKSPACE_BYTES (68ull << 20)
// The process itself: binary, libraries, stacks, small heap (bench/cpu_overhead:
// `rightsize hw` peaks at 2.5 MiB RSS, a whole run of stories260K at 4.1 MiB).
#define PLAN_CPU_RUNTIME_BYTES    (8ull << 20)
// Heap a loaded tokenizer keeps per vocabulary entry (bench/cpu_overhead:
// 195-262 B measured on the Mistral, Qwen3 and Llama 3 tokenizers).
#define PLAN_TOKENIZER_BYTES_PER_TOKEN 256

// Host RAM that each CUDA context of the process holds (driver, runtime,
// cuBLAS and the engine's kernel images): 212 MiB, derived from run 6 of
// bench/results/cuda.md (docs/memory-model.md), counted on the CPU device.
#define PLAN_CUDA_HOST_BYTES (212ull << 20)

uint64_t plan_overhead_gpu(void);
uint64_t plan_overhead_cuda_host(void);
// Host RAM of the runtime for this model: the process and the tokenizer.
uint64_t plan_overhead_cpu(const model_desc *m);

// ---- Margins ------------------------------------------------------------------

// What the planner leaves free on each device: a fraction of the free
// memory, at least a floor, for fragmentation and other processes.
#define PLAN_GPU_MARGIN_FRAC  0.03
#define PLAN_GPU_MARGIN_MIN   (256ull << 20)
#define PLAN_RAM_MARGIN_FRAC  0.10
#define PLAN_RAM_MARGIN_MIN   (512ull << 20)

uint64_t plan_usable_gpu(uint64_t free_bytes);
uint64_t plan_usable_ram(uint64_t available_bytes);

// The seed's rule of thumb, shown beside the exact figure: params x bytes
// per parameter x 1.2.
#define PLAN_SEED_RULE_FACTOR 1.2
uint64_t plan_seed_rule_bytes(uint64_t n_params, double bytes_per_param);

#endif
