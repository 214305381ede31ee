#ifndef RS_PLAN_GPU_ARENA_H
#define RS_PLAN_GPU_ARENA_H

// The CUDA engine's compute arena on one device, buffer by buffer: the one
// size function that both the planner (plan/memory.h, plan_compute_gpu) and
// src/engine/cuda/model.cu (ctx_create, which carves the arena from these
// numbers) call, so that the plan counts exactly what the GPU allocates.
// Plain C with no dependencies: librightsize_cuda.so links this file as it
// links util/dtype.c.

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Bytes of dequantized bf16 rows a quantized prefill GEMM works through at a
// time (16 Mi elements): allocated only when some matrix of the device is
// neither bf16 nor f16.
#define PLAN_GPU_DEQ_SCRATCH_BYTES (32ull << 20)
// Keys per attention block in decode (flash-decoding split; the engine's
// DECODE_SPLIT_KEYS, attn_decode.cu).
#define PLAN_GPU_DECODE_SPLIT_LEN 64
// The carver's alignment: every buffer starts on a 256-byte boundary.
#define PLAN_GPU_ALIGN 256

// What the arena depends on: the device's share of the model and the run.
typedef struct plan_gpu_shape {
    int64_t n_layer; // blocks on this device
    int64_t n_embd, n_head, n_head_kv, head_dim, n_ff, n_vocab;
    int64_t n_ctx, n_batch; // n_batch: tokens of one prefill chunk (<= n_ctx)
    int64_t logits_rows;    // 0 without the output head; 1, or n_batch for every token's logits
    int dequant;            // some matrix (or the head) is neither bf16 nor f16
} plan_gpu_shape;

// The buffers in the order model.cu carves them (f32 unless noted), B = n_batch.
typedef enum plan_gpu_piece {
    PLAN_GPU_X,       // (B, D) residual stream
    PLAN_GPU_XB,      // (B, max(D, QD)) normed input
    PLAN_GPU_QKV,     // (B, QD + 2 KD)
    PLAN_GPU_ATT,     // (B, QD) attention output
    PLAN_GPU_HB,      // (B, 2F) gate | up
    PLAN_GPU_HB2,     // (B, F) swiglu
    PLAN_GPU_LOGITS,  // (logits_rows, V)
    PLAN_GPU_O_PART,  // (max(B H, H n_split), hd) attention partial outputs
    PLAN_GPU_ML_PART, // (max(B H, H n_split), 2) their max and sum
    PLAN_GPU_ACT,     // (B, widest) bf16/f16 GEMM input
    PLAN_GPU_DEQ,     // PLAN_GPU_DEQ_SCRATCH_BYTES when dequant, else 0
    PLAN_GPU_TOKENS,  // (B) int32
    PLAN_GPU_POS,     // one int
    PLAN_GPU_MV,      // decode matrix-vector scratch of the widest input (common.cuh mv_scratch_bytes)
    PLAN_GPU_SS,      // (2 n_layer + 2) sums of squares of a decode step
    PLAN_GPU_DONE,    // (H) uint32: decode attention's finished splits per head
    PLAN_GPU_N_PIECES
} plan_gpu_piece;

typedef struct plan_gpu_arena {
    uint64_t bytes[PLAN_GPU_N_PIECES]; // each rounded up to PLAN_GPU_ALIGN, as carved
    uint64_t total;                    // their sum: the arena's one cudaMalloc
    int64_t widest;                    // max(D, QD, F): the widest product input
    int64_t n_split;                   // decode attention blocks per head: ceil(n_ctx / split len)
} plan_gpu_arena;

// Fills out from s. Negative or zero dimensions count as 0.
void plan_gpu_arena_size(const plan_gpu_shape *s, plan_gpu_arena *out);

// "x", "xb", ..., "ss"; "?" out of range.
const char *plan_gpu_piece_name(int piece);

// The decode matrix-vector scratch for an input of n: f32 copy, int8 copy
// and (scale, sum) per block of 32, each aligned (src/engine/cuda/common.cuh's
// mv_scratch_bytes, checked against it by tests/cuda/arena_check.cu).
uint64_t plan_gpu_mv_scratch_bytes(int64_t n);

#ifdef __cplusplus
}
#endif

#endif
