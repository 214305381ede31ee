#ifndef RS_ENGINE_CUDA_FUSED_CUH
#define RS_ENGINE_CUDA_FUSED_CUH

// The fused decode step (decode_fused.cu), an experiment kept opt-in: one
// persistent kernel runs a whole token through every block of a device's
// share of the model. Its blocks stay resident (a cooperative launch) and
// meet at grid-wide barriers between the phases of each transformer block,
// instead of ending one kernel and starting the next: 5 barriers per block
// in place of 7 to 10 dependent launches. Measured on an H100 (runs 7-9)
// it loses to the graph: one warp per row keeps too few bytes in flight
// for the large products, and the attention phase is a chain of memory
// round trips (26 us per block on the 7B).

#include "engine/cuda/common.cuh"

struct fused_args {
    const dlayer *layers; // device copy (n_layer)
    int64_t n_layer, D, H, KVH, hd, F, V, rope_dim, n_ctx;
    int interleaved, with_embd, with_output;
    float attn_factor, eps;
    const float *inv_freq;      // (rope_dim / 2)
    __half *kv;                 // (2, n_layer, KVH, n_ctx, hd)
    const int *pos;             // device: the token's position
    const int32_t *tokens;      // device: the token (with_embd)
    dweight embd, out;          // with_embd / with_output
    const float *out_norm;
    const float *x_in;          // (D) the input when !with_embd
    // Activations, each written once per token so that no stale L1 line can
    // be read (the L1 caches of other multiprocessors are not coherent):
    float *x0;                  // (D) the first block's input
    float *xa, *xf;             // (n_layer, D) residual after attention / after the MLP
    float *qkv;                 // (n_layer, QD + 2 KD)
    float *att;                 // (n_layer, QD)
    float *hb;                  // (n_layer, F) silu(gate) * up
    float *logits;              // (V) with_output
    float *o_part, *ml_part;    // (H, max_split, hd), (H, max_split, 2): flash-decoding partials
    int64_t max_split;
    // Zeroed before each launch (fused_state_bytes): sums of squares of x0,
    // xa[l], xf[l] at [0], [2l + 1], [2l + 2]; then the barrier's counter
    // (bar[0]) and flag (bar[32]).
    float *ss;
    unsigned *bar;
    unsigned *head_cnt;         // (H) splits finished per head, back to 0 after each use
    unsigned long long *trace;  // NULL, or (5 n_layer + 2) times (ns) block 0 passed each barrier
    int64_t widest;             // the widest product input (sizes the int8 staging)
    int grid;                   // resident blocks (fused_setup)
    size_t smem;                // dynamic shared memory per block
};

// Bytes of the per-token state that fused_launch zeroes: ss, then the
// barrier's counter and flag on lines of their own (from a 256-byte
// boundary).
static inline uint64_t fused_state_bytes(int64_t n_layer)
{
    return (((uint64_t)(2 * n_layer + 2) * 4 + 255) & ~255ull) + 256;
}

// Bytes of the activation buffers of fused_args for a device's share.
uint64_t fused_buffer_bytes(int64_t n_layer, int64_t D, int64_t H, int64_t KVH, int64_t hd,
                            int64_t F);

// Whether the fused step runs a model whose widest product input is
// `widest` on the current device: only when RIGHTSIZE_CUDA_FUSED=1 asks for
// it (it is slower than the CUDA graph of separate kernels so far: see
// bench/results/cuda.md, runs 7-9), then the grid that stays resident and
// its shared memory. On false, why says why in one line.
bool fused_setup(int64_t widest, int64_t hd, int *grid, size_t *smem, char *why, size_t whyn);

// Zeroes the per-token state and launches the step on stream s.
int fused_launch(const fused_args &a, cudaStream_t s, char *err, size_t errn);

#endif
