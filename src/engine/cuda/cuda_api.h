#ifndef RS_ENGINE_CUDA_CUDA_API_H
#define RS_ENGINE_CUDA_CUDA_API_H

// The boundary between the core (plain C, no CUDA) and librightsize_cuda.so
// (built by nvcc when RS_CUDA is on). The core opens the library with dlopen
// and reads this one table through rs_cuda_get_api, so a binary built on a
// machine without CUDA, or run on one without a driver, still works on the
// CPU. Only plain C types cross it; every function returns 0 on success or
// writes one line into err (errn bytes) and returns nonzero.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RS_CUDA_API_VERSION 2 // 2: rope_attn_factor

// One weight matrix as the core holds it: n_out rows of n_in elements of a
// util/dtype.h type, in host memory (the file mapping or converted copies).
typedef struct rs_cuda_weight {
    const void *data;
    int type; // dtype
    int64_t n_in, n_out;
} rs_cuda_weight;

typedef struct rs_cuda_layer {
    const float *attn_norm, *ffn_norm; // (n_embd)
    const float *bq, *bk, *bv;         // biases or NULL
    const float *q_norm, *k_norm;      // (head_dim) or NULL
    rs_cuda_weight wq, wk, wv, wo, w_gate, w_up, w_down;
} rs_cuda_layer;

// What one device runs: blocks [layer_first, layer_first + n_layer) of the
// model, and the embedding lookup and/or the output head when it holds them.
typedef struct rs_cuda_model {
    int device; // CUDA ordinal
    int64_t layer_first, n_layer;
    int64_t n_embd, n_head, n_head_kv, head_dim, n_ff, n_vocab, rope_dim;
    int rope_interleaved;
    float rope_attn_factor;   // scales cos and sin (YaRN's mscale); 1 otherwise, never 0
    float norm_eps;
    int64_t sliding_window;   // 0: none
    const uint8_t *layer_swa; // (n_layer) for this device's blocks, or NULL (all slide)
    const float *inv_freq;    // (rope_dim / 2)
    int64_t n_ctx, n_batch;
    int logits_all;           // logits of every prefill token (else the last only)
    int with_embd, with_output;
    rs_cuda_weight tok_embd;  // when with_embd
    rs_cuda_weight output;    // when with_output
    const float *out_norm;    // (n_embd) when with_output
    const rs_cuda_layer *layers; // (n_layer)
    // The plan's sizes (plan/memory.h) for this device: the KV cache of
    // these blocks and the compute arena (plan_compute_gpu). The device
    // carves its arena with the same function (plan/gpu_arena.h), so the
    // two agree by construction; the figure is informational.
    uint64_t kv_bytes_planned, compute_bytes_planned;
} rs_cuda_model;

typedef struct rs_cuda_ctx rs_cuda_ctx;

typedef struct rs_cuda_mem {
    uint64_t weights, kv, compute; // bytes allocated for each
    uint64_t free_before, free_after, total; // cudaMemGetInfo around the load
} rs_cuda_mem;

typedef struct rs_cuda_api {
    int version; // RS_CUDA_API_VERSION
    // Number of devices the driver shows; 0 without a driver (err says why).
    int (*device_count)(int *n, char *err, size_t errn);
    int (*device_info)(int dev, char *name, size_t name_n, uint64_t *free_b, uint64_t *total_b,
                       char *err, size_t errn);
    // Device-to-device copy of `bytes` (read + write counted), best of runs.
    int (*measure_copy)(int dev, uint64_t bytes, int runs, double *gbs, char *err, size_t errn);
    int (*create)(const rs_cuda_model *m, rs_cuda_ctx **out, char *err, size_t errn);
    void (*destroy)(rs_cuda_ctx *c);
    // Runs n <= n_batch tokens at positions pos.. . Input: token ids when the
    // device holds the embedding, else x_in (n, n_embd) from the previous
    // device. Output: x_out (n, n_embd) for the next device, or, with the
    // head, logits (logits_rows, n_vocab): the last token's, or every
    // token's when logits_rows >= n.
    int (*forward)(rs_cuda_ctx *c, const int32_t *tokens, const float *x_in, int64_t n,
                   int64_t pos, float *x_out, float *logits, int64_t logits_rows, char *err,
                   size_t errn);
    void (*memory)(const rs_cuda_ctx *c, rs_cuda_mem *out);
    // One kernel on its own, for tests/cuda/cuda_check.c: w and x from host
    // memory, y back into host memory. op RS_CUDA_OP_*; norm_w (n_in) for
    // the rmsnorm prologue; n rows of x for the GEMM and the embedding
    // (x then holds n int32 token ids).
    int (*test_op)(int op, const rs_cuda_weight *w, const float *x, const float *norm_w, int64_t n,
                   float *y, char *err, size_t errn);
} rs_cuda_api;

enum {
    RS_CUDA_OP_MATVEC = 0,     // y (n_out) = W x
    RS_CUDA_OP_MATVEC_NORM = 1, // y = W (rmsnorm(x) * norm_w), eps 1e-5
    RS_CUDA_OP_MATVEC_SWIGLU = 2, // y = W (silu(x[:n_in]) * x[n_in:])
    RS_CUDA_OP_GEMM = 3,       // y (n, n_out) = x (n, n_in) W^T through bf16/f16 and cuBLAS
    RS_CUDA_OP_EMBED = 4,      // y (n, n_in) = rows x[i] (int32) of W
};

typedef const rs_cuda_api *(*rs_cuda_get_api_fn)(void);
const rs_cuda_api *rs_cuda_get_api(void);

#ifdef __cplusplus
}
#endif

#endif
