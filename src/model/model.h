#ifndef RS_MODEL_MODEL_H
#define RS_MODEL_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "util/dtype.h"
#include "util/error.h"

// The model description: one struct for every source (HF folder, GGUF file,
// catalog name). Everything downstream (plan, engine, tokenizer) reads this.
// Sizes are 0 and ids -1 when a source does not say.

#define MODEL_MAX_DIMS 8

typedef enum model_source {
    MODEL_SOURCE_HF_FOLDER,
    MODEL_SOURCE_GGUF,
    MODEL_SOURCE_CATALOG,
} model_source;

typedef enum model_arch {
    MODEL_ARCH_UNKNOWN,
    MODEL_ARCH_LLAMA,
    MODEL_ARCH_MISTRAL,
    MODEL_ARCH_QWEN2,
    MODEL_ARCH_QWEN3,
    MODEL_ARCH_QWEN2_MOE,
    MODEL_ARCH_QWEN3_MOE,
    MODEL_ARCH_MIXTRAL,
    MODEL_ARCH_GEMMA2,
    MODEL_ARCH_GEMMA3,
    MODEL_ARCH_PHI3,
    MODEL_ARCH_DEEPSEEK_V3,
} model_arch;

typedef enum rope_scaling_type {
    ROPE_SCALING_NONE,
    ROPE_SCALING_LINEAR,
    ROPE_SCALING_DYNAMIC,
    ROPE_SCALING_YARN,
    ROPE_SCALING_LLAMA3,
    ROPE_SCALING_LONGROPE,
} rope_scaling_type;

typedef struct model_file {
    char *path;
    uint64_t size; // bytes on disk
} model_file;

typedef struct model_tensor {
    char *name;                 // as stored: "model.layers.0.mlp.up_proj.weight", "blk.0.ffn_up.weight"
    int n_dims;
    int64_t ne[MODEL_MAX_DIMS]; // ggml order: ne[0] is the innermost, contiguous dimension
                                // (safetensors shapes are reversed into this order)
    int64_t n_elems;
    dtype type;
    int file;                   // index into model_desc.files, -1 for synthesized tensors
    uint64_t offset;            // absolute byte offset of the data in that file
    uint64_t nbytes;            // checked: equals dtype_tensor_bytes(type, ne[0], n_elems)
} model_tensor;

typedef struct model_desc {
    model_source source;
    char *path;      // what the user named: folder, file, or catalog name
    char *name;      // display name
    char *arch_name; // HF model_type or GGUF general.architecture, as written
    model_arch arch;

    // Shapes.
    int64_t n_layer;
    int64_t n_embd;     // hidden size
    int64_t n_head;
    int64_t n_head_kv;
    int64_t head_dim;   // may differ from n_embd / n_head (Qwen3, Gemma)
    int64_t n_ff;       // dense FFN width
    int64_t n_vocab;
    int64_t n_ctx_train;

    double norm_eps;
    double rope_theta;
    int64_t rope_dim; // rotated dimensions per head (partial rotary), = head_dim when full
    struct {
        rope_scaling_type type;
        double factor;
        double low_freq_factor, high_freq_factor; // llama3
        int64_t original_ctx;
    } rope_scaling;
    bool rope_interleaved; // rotate adjacent pairs (GGUF llama) rather than halves (HF)

    bool tied_embeddings;
    bool attn_qkv_bias; // Qwen2
    bool attn_qk_norm;  // Qwen3, Gemma3

    // Sliding-window attention (Gemma 2/3, Mistral v0.1): layers marked here
    // attend only to the last sliding_window tokens, so their KV cache stops
    // growing there.
    int64_t sliding_window;  // 0 = none
    uint8_t *layer_is_swa;   // (n_layer) 1 for sliding-window layers; NULL = none

    // Mixture of experts.
    int64_t n_expert;          // routed experts per MoE layer (0 = dense)
    int64_t n_expert_used;     // routed experts active per token
    int64_t n_expert_shared;   // shared experts (DeepSeek, Qwen2-MoE)
    int64_t n_ff_expert;       // FFN width of one routed expert
    int64_t n_ff_shared;       // FFN width of the shared expert(s), all together
    int64_t n_layer_dense_lead; // leading dense layers (DeepSeek first_k_dense_replace)

    // Multi-head latent attention (DeepSeek-V3): the KV cache holds the
    // compressed latent (kv_lora_rank) plus the shared rope key per token.
    int64_t q_lora_rank;
    int64_t kv_lora_rank;
    int64_t qk_nope_head_dim;
    int64_t qk_rope_head_dim;
    int64_t v_head_dim;
    int64_t n_layer_mtp; // extra next-token-prediction layers stored in the files

    // Special token ids (-1 when unknown).
    int64_t bos_id, eos_id, eot_id, pad_id;

    // Files and tensors. For a catalog model or a config.json without weight
    // files, the tensor list is synthesized from the architecture rules.
    model_file *files;
    int n_files;
    uint64_t file_bytes; // sum of files[i].size
    model_tensor *tensors;
    int64_t n_tensors;
    bool tensors_synthesized;
    struct model_name_chunk *tensor_names; // arena holding every tensors[i].name (arch.c):
                                           // one allocation per 64 KiB, not one per tensor

    // Derived by the architecture rules (arch.c), summed over tensors.
    uint64_t n_params;
    uint64_t n_params_active; // per token: n_params less the routed experts not used
    dtype stored_type;        // the type holding the most weight bytes

    // Tokenizer and chat template.
    bool has_tokenizer_json;
    bool has_tokenizer_config;
    char *chat_template;      // template text, NULL if none
    const char *chat_template_kind; // "chatml", "llama3", ... or "none"/"unknown"

    struct gguf_file *gguf;   // the open GGUF file (metadata, mapping) for GGUF sources

    // Added by the architecture rules (arch.c); read by them to synthesize
    // the HF tensor list from a config alone.
    bool arch_rules_known;     // false: tensors described, figures from the rules missing
    dtype config_type;         // torch_dtype of the config (BF16 when absent)
    bool attn_out_bias;        // o_proj bias (Llama attention_bias, Qwen3 attention_bias)
    bool mlp_bias;             // Llama mlp_bias
    uint8_t *layer_is_moe;     // (n_layer) 1 for MoE layers; NULL = none
    int64_t fp8_block[2];      // FP8 block-quantized checkpoint (DeepSeek): scale block [out, in], 0 = none
    bool lm_head_stored;       // the files hold lm_head.weight (not tied)
    struct {
        int64_t n_layer, n_embd, n_ff, n_head, patch_size, image_size, n_channels;
    } vision;                  // Gemma 3's SigLIP vision tower (n_layer 0 = none)
    char quant_method[32];     // config's quantization_config.quant_method ("fp8", "gptq", ...), "" = none
    char note[256];            // one line for inspect: what is only partly described, "" when all is known
} model_desc;

// Opens a model by path (HF folder, GGUF file) or catalog name. Reads
// headers only, never weights. Bad files fail with RS_ERR_INPUT and a
// message naming file and field.
rs_status model_open(const char *path_or_name, model_desc **out, rs_error *err);
void model_free(model_desc *m);

// KV cache bytes for one sequence of n_ctx tokens with the given cache type,
// honouring GQA, head_dim, sliding-window layers (capped at the window) and
// MLA's latent cache.
uint64_t model_kv_bytes(const model_desc *m, int64_t n_ctx, dtype kv_type);

// KV bytes one more token adds while the context is shorter than any window.
uint64_t model_kv_bytes_per_token(const model_desc *m, dtype kv_type);

const model_tensor *model_find_tensor(const model_desc *m, const char *name);

const char *model_arch_name(model_arch a);

#endif
