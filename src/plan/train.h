#ifndef RS_PLAN_TRAIN_H
#define RS_PLAN_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "model/model.h"

// Fine-tuning memory: full, LoRA and QLoRA training, per GPU, component by
// component, for the training loop transformers/PyTorch users write
// (autocast forward, AdamW, zero_grad(set_to_none=True)). The derivation of
// every coefficient and its check against measured PyTorch peaks is in
// docs/training-memory.md and docs/training-accuracy.md.

typedef enum train_method {
    TRAIN_FULL,
    TRAIN_LORA,
    TRAIN_QLORA,
} train_method;

typedef enum train_optim {
    TRAIN_OPTIM_ADAMW,
    TRAIN_OPTIM_ADAMW_8BIT,
    TRAIN_OPTIM_ADAFACTOR,
    TRAIN_OPTIM_SGD,
    TRAIN_OPTIM_SGD_MOMENTUM,
} train_optim;

typedef enum train_precision {
    TRAIN_PRECISION_BF16_MIXED, // fp32 parameters, autocast to bf16
    TRAIN_PRECISION_FP16_MIXED, // fp32 parameters, autocast to fp16 (+ grad scaler)
    TRAIN_PRECISION_FP32,       // fp32 everything
    TRAIN_PRECISION_BF16_PURE,  // bf16 parameters, gradients and optimizer states
} train_precision;

enum {
    TRAIN_TARGET_Q = 1 << 0,
    TRAIN_TARGET_K = 1 << 1,
    TRAIN_TARGET_V = 1 << 2,
    TRAIN_TARGET_O = 1 << 3,
    TRAIN_TARGET_GATE = 1 << 4,
    TRAIN_TARGET_UP = 1 << 5,
    TRAIN_TARGET_DOWN = 1 << 6,
    TRAIN_TARGET_ALL = (1 << 7) - 1,
};

typedef struct train_options {
    train_method method;
    int64_t seq;         // tokens per sequence
    int64_t micro_batch; // sequences per forward/backward
    int64_t grad_accum;  // micro-batches per optimizer step
    train_optim optim;
    train_precision precision;
    bool grad_checkpointing;
    bool flash_attention; // sdpa flash/memory-efficient kernels: no seq x seq scores
    int64_t lora_rank;
    unsigned lora_targets; // TRAIN_TARGET_* bits
    int zero_stage;        // 0..3
    int n_gpus;
    bool offload_optimizer;
} train_options;

train_options train_default_options(void);

// Parses "q,k,v,o,gate,up,down" (or "all"); returns -1 on an unknown name.
int train_parse_targets(const char *s, unsigned *out);
int train_parse_optim(const char *s, train_optim *out);
int train_parse_precision(const char *s, train_precision *out);
int train_parse_method(const char *s, train_method *out);
const char *train_method_name(train_method m);
const char *train_optim_name(train_optim o);
const char *train_precision_name(train_precision p);

// Parameter counts by role, derived from the model's shapes.
typedef struct train_params {
    uint64_t total;      // every parameter of the base model
    uint64_t embedding;  // token embedding (V x h)
    uint64_t linear;     // weights multiplied in matmuls, lm_head included (tied or not)
    uint64_t quantizable; // QLoRA's 4-bit part: the decoder layers' linear weights
    uint64_t adapters;   // LoRA A and B for the chosen targets and rank
    uint64_t trainable;  // total (full) or adapters (LoRA, QLoRA)
} train_params;

typedef struct train_memory {
    train_params params;
    // Components, bytes on each GPU.
    uint64_t weights;         // parameters as stored: master copy in mixed precision, frozen base for LoRA
    uint64_t weight_casts;    // autocast's half-precision copies of linear weights, forward -> backward
    uint64_t gradients;
    uint64_t optimizer;       // optimizer states
    uint64_t activations;     // tensors saved for backward, all layers, one micro-batch
    uint64_t logits;          // peak of the logits and loss buffers (seq x vocab in fp32)
    uint64_t step_temporary;  // the optimizer step's temporaries (AdamW foreach: one param-sized list)
    uint64_t backward_temporary; // tied-embedding gradient buffer, one layer's recompute
    uint64_t framework;       // live tensors beyond parameters after loading
    uint64_t cuda_context;    // CUDA context and kernels, outside the allocator
    // Peaks of each phase as torch.cuda.max_memory_allocated() sees them
    // (no CUDA context), the largest, and the total the GPU must have.
    uint64_t peak_forward, peak_backward_start, peak_backward_end, peak_step;
    uint64_t peak_allocated;
    const char *peak_phase;
    uint64_t total; // peak_allocated + cuda_context
    uint64_t cpu_ram; // what --offload-optimizer moves to host memory
} train_memory;

void train_plan_memory(const model_desc *m, const train_options *o, train_memory *out);

// The largest micro-batch (at o->seq) and the largest sequence length (at
// o->micro_batch) whose total fits in `capacity` bytes; 0 when none does.
int64_t train_max_micro_batch(const model_desc *m, const train_options *o, uint64_t capacity);
int64_t train_max_seq(const model_desc *m, const train_options *o, uint64_t capacity);

// What to change to make it fit, ranked by the memory each saves.
typedef struct train_suggestion {
    const char *change; // "--grad-checkpointing", "--train lora", ...
    train_options options;
    uint64_t total;     // the total with that change
    int64_t saved;      // bytes saved against the current plan
} train_suggestion;

// Fills up to max suggestions sorted by bytes saved, largest first; returns
// the count.
int train_suggest(const model_desc *m, const train_options *o, train_suggestion *out, int max);

// The rules of thumb users see elsewhere, for comparison tables.
uint64_t train_seed_rule_bytes(const model_desc *m);       // params x 2 bytes x 3
uint64_t train_accelerate_rule_bytes(const model_desc *m, bool mixed); // accelerate estimate-memory

#endif
