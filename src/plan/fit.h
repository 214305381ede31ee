#ifndef RS_PLAN_FIT_H
#define RS_PLAN_FIT_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/hw.h"
#include "model/model.h"
#include "plan/memory.h"
#include "plan/speed.h"

// Fitting a model to a machine: for every precision, where it can run (all
// on the GPU(s), split between GPU(s) and CPU, or on the CPU), the largest
// context that fits there, and the predicted speed; then the decision:
// keep the model's own precision when it fits on the GPU(s); otherwise the
// best precision that fits there; otherwise split layers; otherwise the
// CPU; otherwise say exactly what is missing. Devices are compared with
// their FREE memory less the margins of memory.h.
//
// Several GPUs (as ollama does): a precision that fits on one card runs on
// the card with the most free memory alone (no hop between devices);
// otherwise its blocks are spread over every card in consecutive ranges, in
// proportion to what each card has left after its fixed costs. The ladder is
// unchanged: the stored precision over two cards beats int8 on one.

// Default context: llama.cpp's default n_ctx (4096), capped at the trained
// context.
#define PLAN_DEFAULT_CTX   4096
#define PLAN_MAX_DEVICES   (HW_MAX_GPUS + 1)
// Upper bound of the largest-context search when the model does not state
// its trained context.
#define PLAN_CTX_SEARCH_MAX (1ll << 20)

typedef enum plan_prefer {
    PLAN_PREFER_QUALITY, // the highest precision that runs, on the fastest placement that holds it
    PLAN_PREFER_SPEED,   // the plan with the highest predicted decode tokens/s
} plan_prefer;

typedef enum plan_placement {
    PLAN_PLACE_NONE,  // does not fit
    PLAN_PLACE_GPU,   // every block on the GPU(s)
    PLAN_PLACE_SPLIT, // the first blocks on the GPU(s), the rest and the head on the CPU
    PLAN_PLACE_CPU,   // everything in RAM
} plan_placement;

const char *plan_placement_name(plan_placement p); // "gpu", "split", "cpu", "none"

typedef struct plan_options {
    int64_t n_ctx;      // tokens per sequence; 0 = min(PLAN_DEFAULT_CTX, trained context)
    int64_t n_parallel; // sequences decoded together, each with its own cache
    int64_t n_batch;    // prefill chunk (tokens)
    dtype kv_type;      // F16, Q8_0 or Q4_0
    bool force_precision;
    plan_precision precision; // with force_precision: the only one considered
    plan_prefer prefer;
    bool gpu_only;      // consider only all-GPU placements (the --gpus all table)
} plan_options;

plan_options plan_default_options(void);

// One device's memory in a layout.
typedef struct plan_device {
    int gpu_index;                   // into hw->gpus; -1 for the CPU (RAM)
    int64_t layer_first, layer_last; // blocks [first, last) held here
    bool has_embd, has_output;
    uint64_t weights, kv, compute, overhead, total; // bytes
    uint64_t capacity; // free GPU memory, or available RAM
    uint64_t usable;   // capacity less the margin
} plan_device;

typedef struct plan_layout {
    plan_placement placement;
    int64_t n_ctx;
    int64_t n_gpu_layers; // blocks on GPUs
    int gpu_one;   // -1: the GPU blocks are spread over every GPU; else the one card
                   // (index into hw->gpus) that holds them all
    int n_dev;
    plan_device dev[PLAN_MAX_DEVICES]; // dev[0] is the CPU, then GPUs in layer order
    bool fits;
} plan_layout;

// Memory of each device for a placement at a context, as the engine
// allocates it (src/engine/engine_gpu.c): the GPU(s) hold blocks
// [0, n_gpu_layers) in consecutive ranges, the first GPU with the embedding
// table; the last GPU holds the output head when every block is on GPUs,
// else the CPU holds the remaining blocks and the head. The blocks are shared
// in proportion to each GPU's usable memory after its fixed costs, each used
// GPU gets at least one, and a card left over its memory by the rounding
// hands a block to a neighbour with room. gpu_one >= 0 puts every GPU block
// on that card alone (hw->gpus index); -1 spreads them over all GPUs.
void plan_layout_eval_on(const model_desc *m, const hw_info *hw, const plan_options *o,
                         const plan_weights *w, plan_placement placement, int64_t n_gpu_layers,
                         int gpu_one, int64_t n_ctx, plan_layout *out);
// plan_layout_eval_on over all GPUs (gpu_one -1).
void plan_layout_eval(const model_desc *m, const hw_info *hw, const plan_options *o,
                      const plan_weights *w, plan_placement placement, int64_t n_gpu_layers,
                      int64_t n_ctx, plan_layout *out);

// Largest context (1..limit) at which the placement fits; 0 if none.
int64_t plan_max_ctx_on(const model_desc *m, const hw_info *hw, const plan_options *o,
                        const plan_weights *w, plan_placement placement, int64_t n_gpu_layers,
                        int gpu_one, int64_t limit);
int64_t plan_max_ctx(const model_desc *m, const hw_info *hw, const plan_options *o,
                     const plan_weights *w, plan_placement placement, int64_t n_gpu_layers,
                     int64_t limit);

// The GPUs of a layout in block order: hw->gpus indexes and block counts
// (what --split takes); returns how many (0 for the CPU).
int plan_layout_gpu_split(const plan_layout *l, int *gpu_index, int64_t *blocks, int max);

// Speed of a layout (the spans of its devices).
void plan_layout_speed(const model_desc *m, const hw_info *hw, const plan_options *o,
                       const plan_weights *w, const plan_layout *l, plan_speed *out);

// One precision's figures.
typedef struct plan_row {
    plan_precision precision;
    bool candidate;     // may be chosen: the stored precision, or one that is smaller
    uint64_t weights;   // all weights, on one device
    uint64_t kv;        // all sequences at the context
    uint64_t compute;   // one device's compute buffers, logits included
    uint64_t seed_rule; // params x bytes per parameter x 1.2
    plan_layout layout; // the first placement that fits (GPU, split, CPU), or the
                        // preferred one (GPU if any, else CPU) with fits = false
    int64_t max_ctx;    // largest context of that placement; 0 if none
    uint64_t gpu_need;   // all on the GPU(s): the sum of their totals (0 without GPUs)
    uint64_t gpu_usable; // what the GPU(s) can hold after margins
    uint64_t one_gpu_need, one_gpu_usable; // all on the card with the most memory (several GPUs)
    plan_speed speed;   // of layout
} plan_row;

#define PLAN_MAX_ROWS (PLAN_N_STANDARD + 2)

typedef struct plan_result {
    plan_options opts; // resolved (n_ctx filled in)
    int64_t ctx_limit; // the trained context (search bound)
    int n_rows;
    plan_row rows[PLAN_MAX_ROWS]; // stored first, then the ladder, then a forced GGUF type
    int chosen;                   // index into rows; -1 when nothing fits
    char reason[400];             // one line: the decision and why
    uint64_t needed, available;   // when nothing fits: the smallest need, what the machine has
    bool stored_runnable;         // the engine computes with the stored types
    dtype unrunnable;             // else the first one it cannot (F8_E4M3)
} plan_result;

rs_status plan_fit(const model_desc *m, const hw_info *hw, const plan_options *o,
                   plan_result *out, rs_error *err);

// The per-model work of plan_fit (tensor classes, weights per precision),
// kept across calls that plan one model on many machines (--gpus all).
#define PLAN_CACHE_MAX (PLAN_MAX_ROWS + 1)
typedef struct plan_cache {
    plan_classes classes;
    int n;
    plan_precision precision[PLAN_CACHE_MAX];
    plan_weights weights[PLAN_CACHE_MAX];
} plan_cache;

rs_status plan_cache_init(plan_cache *c, const model_desc *m, rs_error *err);
void plan_cache_free(plan_cache *c);
rs_status plan_fit_cached(const model_desc *m, plan_cache *c, const hw_info *hw,
                          const plan_options *o, plan_result *out, rs_error *err);

#endif
