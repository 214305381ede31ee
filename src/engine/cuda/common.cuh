#ifndef RS_ENGINE_CUDA_COMMON_CUH
#define RS_ENGINE_CUDA_COMMON_CUH

// Shared by the .cu files of librightsize_cuda.so: the device view of a
// weight matrix, the error macro, and the kernel launchers (kernels.cu).

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>

extern "C" {
#include "plan/gpu_arena.h"
#include "util/dtype.h"
}

// Every CUDA call in a function of the form int f(..., char *err, size_t errn)
// goes through CU: on failure it writes "file:line: call: reason" and returns 1.
#define CU(call)                                                                                   \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) {                                                                   \
            snprintf(err, errn, "%s:%d: %s: %s", __FILE__, __LINE__, #call,                        \
                     cudaGetErrorString(e_));                                                      \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

// A weight matrix on the device. Types whose ggml blocks are not 16-byte
// multiples (Q8_0, Q4_0, Q4_1, Q5_0, Q6_K) are split at upload into a
// payload array (the quants of every block, rows of n_in/QK blocks, 16-byte
// aligned for wide loads) followed by a header array (scales, mins, high
// bits), the same bytes in another order. F32, F16, BF16, Q4_K and Q5_K keep
// the ggml rows as they are.
struct dweight {
    const uint8_t *payload; // (n_out, payload_row) bytes
    const uint8_t *header;  // (n_out, header_row) bytes, or NULL
    int type;
    int64_t n_in, n_out;
    int64_t payload_row, header_row; // bytes per row in each array
};

// The matrices of one transformer block as the forward pass reads them.
struct dgroup { // matrices sharing one input whose outputs are concatenated
    int n_parts;
    dweight part[3];
    int64_t out_off[3];
    int64_t n_out;
};

struct dlayer {
    const float *attn_norm, *ffn_norm, *q_norm, *k_norm, *bias; // bias: (q|k|v) or NULL
    dgroup qkv, gate_up;
    dweight wo, down;
    int64_t window; // sliding-window length of this block's attention, 0 for none
};

// Bytes of a block's payload and header in the split layout; payload_off is
// where the payload starts inside a ggml block (the header is the rest, in
// order). Returns 0 for types kept whole.
struct split_layout {
    int block_bytes, payload_off, payload_len;
};
static inline split_layout split_layout_of(int type)
{
    switch (type) {
    case DTYPE_Q8_0: return {34, 2, 32};
    case DTYPE_Q4_0: return {18, 2, 16};
    case DTYPE_Q4_1: return {20, 4, 16};
    case DTYPE_Q5_0: return {22, 6, 16};
    case DTYPE_Q6_K: return {210, 0, 192};
    default: return {0, 0, 0};
    }
}

// Whether the device kernels handle a type (every weight type of the CPU engine).
static inline bool cuda_type_supported(int t)
{
    return t == DTYPE_F32 || t == DTYPE_F16 || t == DTYPE_BF16 || t == DTYPE_Q8_0 ||
           t == DTYPE_Q4_0 || t == DTYPE_Q4_1 || t == DTYPE_Q5_0 || t == DTYPE_Q4_K ||
           t == DTYPE_Q5_K || t == DTYPE_Q6_K;
}

enum { PRO_NONE = 0, PRO_RMSNORM = 1, PRO_SWIGLU = 2 };

// Types whose decode matrix-vector product runs on int8 dot products (__dp4a)
// against an input quantized once per product to int8 blocks of 32.
static inline bool mv_int8(int t)
{
    return t == DTYPE_Q8_0 || t == DTYPE_Q4_0 || t == DTYPE_Q4_K || t == DTYPE_Q6_K;
}

// Device scratch of the decode matrix-vector products (n = the widest input).
struct mv_scratch {
    float *xf;   // (n) the prepared input (normed, or the SwiGLU product)
    int8_t *xq;  // (n) the input as int8, blocks of 32
    float2 *xds; // (n / 32) per block: scale d, and d * sum of its int8 values
};

// Bytes of an mv_scratch for inputs of up to n elements, and its carving.
static inline uint64_t mv_scratch_bytes(int64_t n)
{
    return (uint64_t)n * 4 + (uint64_t)n + (uint64_t)(n / 32) * 8 + 512;
}
static inline mv_scratch mv_scratch_at(uint8_t *p, int64_t n)
{
    mv_scratch s;
    s.xf = (float *)p;
    s.xq = (int8_t *)(p + (((uint64_t)n * 4 + 255) & ~255ull));
    s.xds = (float2 *)(p + (((uint64_t)n * 4 + 255) & ~255ull) + (((uint64_t)n + 255) & ~255ull));
    return s;
}

// One decode matrix-vector product, as the forward pass issues it.
struct mv_args {
    const float *x;      // (n_in) input, or (2 n_in) gate | up for PRO_SWIGLU
    int pro;             // PRO_*
    const float *norm_w; // (n_in) for PRO_RMSNORM
    const float *ss_in;  // sum of squares of x, already known (PRO_RMSNORM), or NULL
    float eps;
    float *y;            // (n_out), or (n_out / 2) with swiglu_out
    bool accumulate;     // y += W x
    float *ss_out;       // += sum of squares of the new y (for the next norm), or NULL
    bool swiglu_out;     // W stacks gate (rows 0..n_out/2) and up: y = silu(gate) * up
    bool q_ready;        // the scratch's xq/xds hold x already (attention's combine wrote them)
};

// ---- Launchers (kernels.cu); all asynchronous on stream s -------------------

// y (n_out) = W x, or y += W x with accumulate. The input: PRO_NONE x (n_in);
// PRO_RMSNORM rmsnorm(x) * norm_w; PRO_SWIGLU silu(x[0:n_in]) * x[n_in:2 n_in].
// sc: scratch for the prepared input (any but the old kernels use it).
void launch_matvec(const dweight &w, const float *x, float *y, bool accumulate, int pro,
                   const float *norm_w, float eps, const mv_scratch &sc, cudaStream_t s);
// Matrices sharing one input (q|k|v or gate|up parts, y + out_off[i] each):
// the input is prepared at most once for all of them.
void launch_matvec_group(const dweight *ws, const int64_t *out_off, int n, const mv_args &a,
                         const mv_scratch &sc, cudaStream_t s);
// Whether the old kernels (input staged per block in shared memory) run:
// the default; RIGHTSIZE_CUDA_MV=new picks the second kernels (kernels.cu).
bool matvec_old(void);
// Whether the decode kernels use programmatic dependent launch (sm_90 and
// later unless RIGHTSIZE_CUDA_PDL=0; set by matvec_setup).
bool matvec_pdl(void);
// Dynamic shared memory limits for the matvec kernels (once per device).
int matvec_setup(int64_t max_n_in, char *err, size_t errn);
// Rows [r0, r0 + rows) of W as bf16 into dst (rows, n_in).
void launch_dequant_bf16(const dweight &w, int64_t r0, int64_t rows, __nv_bfloat16 *dst,
                         cudaStream_t s);
// x (n, n_embd) = rows tokens[t] of the embedding table; with ss, *ss = the
// sum of squares of row 0 (decode: the first norm needs no pass of its own)
// and ss[1 .. ss_n - 1] = 0.
void launch_embed(const dweight &w, const int32_t *tokens, int64_t n, float *x, cudaStream_t s,
                  float *ss = NULL, int64_t ss_n = 1);
// out (n, d) = rmsnorm of each row of x (n, d) times w.
void launch_rmsnorm_rows(const float *x, const float *w, float *out, int64_t n, int64_t d,
                         float eps, cudaStream_t s);
// out (n, f) = silu(h[:, :f]) * h[:, f:2f], h (n, 2f).
void launch_swiglu_rows(const float *h, float *out, int64_t n, int64_t f, cudaStream_t s);
// dst (n) = src as bf16 (is_bf16) or f16.
void launch_to_half(const float *src, void *dst, int64_t n, bool is_bf16, cudaStream_t s);

struct rope_kv_args {
    float *qkv;          // (n, (H + 2 KVH) hd) per token: q heads, k heads, v heads
    const float *bias;   // (H + 2 KVH) hd or NULL
    const float *q_norm, *k_norm; // (hd) or NULL
    const float *inv_freq; // (rope_dim / 2)
    __half *k_cache, *v_cache; // (KVH, n_ctx, hd) of this layer
    const int *pos;      // device: position of token 0
    int64_t n, H, KVH, hd, rope_dim, n_ctx;
    int interleaved;
    float attn_factor; // scales cos and sin (YaRN)
    float eps;
};
// Bias, per-head norms, rotary embedding of q and k (q in place), k and v
// into the f16 cache.
void launch_rope_kv(const rope_kv_args &a, cudaStream_t s);

struct attn_args {
    const float *q;        // (n, q_stride) query heads first
    int64_t q_stride;
    const __half *k_cache, *v_cache; // (KVH, n_ctx, hd)
    const int *pos;        // device: position of token 0
    int64_t n, H, KVH, hd, n_ctx, window;
    int64_t split_len, n_split; // keys per block, blocks per (token, head)
    float *o_part;         // (n, H, n_split, hd) unnormalized
    float *ml_part;        // (n, H, n_split, 2) running max and sum
    float *out;            // (n, H hd)
    int8_t *xq;            // NULL, or out as int8 blocks of 32 (needs hd % 32 == 0, n == 1)
    float2 *xds;           // their scales and sums (mv_scratch)
    int trigger;           // let a programmatic dependent launch go early (matvec_pdl)
};
// Causal attention of n queries (positions pos..pos+n-1) over the cache, the
// keys split across n_split blocks per head (flash-decoding), then combined.
void launch_attention(const attn_args &a, cudaStream_t s);
// Keys per block of decode attention (flash-decoding splits): the plan's
// figure, which sizes the partials in the arena.
#define DECODE_SPLIT_KEYS PLAN_GPU_DECODE_SPLIT_LEN

struct attn_decode_args {
    const float *qkv;            // (H + 2 KVH) hd: the token's raw q | k | v projections
    const float *bias;           // (q|k|v) or NULL
    const float *q_norm, *k_norm; // (hd) or NULL
    const float *inv_freq;       // (rope_dim / 2)
    __half *k_cache, *v_cache;   // this layer's (KVH, n_ctx, hd)
    const int *pos;              // device: the token's position
    int64_t H, KVH, hd, rope_dim, n_ctx, window;
    int64_t n_split;             // blocks per head: n_ctx / DECODE_SPLIT_KEYS rounded up
    int interleaved;
    float attn_factor, eps;
    float *o_part, *ml_part;     // (H, n_split, hd), (H, n_split, 2)
    unsigned *done;              // (H) splits finished per head, 0 between steps
    float *out;                  // (H hd)
    int8_t *xq;                  // NULL, or out as int8 blocks of 32 (hd % 32 == 0)
    float2 *xds;
};
// One decode token's attention in one launch (attn_decode.cu): rope of q,
// k, v with the KV write, flash-decoding, the merge. False, launching
// nothing, unless head_dim is 64 or 128.
bool launch_attention_decode(const attn_decode_args &a, cudaStream_t s);

// The same for a prefill chunk, tiled 64 queries x 64 keys (attn_prefill.cu;
// out only, no partials): false, launching nothing, unless head_dim is 64
// or 128.
bool launch_attention_prefill(const attn_args &a, cudaStream_t s);

#endif
