// The device kernels of the CUDA backend: dequantization of 32-element
// chunks of every weight type, the decode matrix-vector product, the
// prefill helpers, rotary embedding with the KV write, and attention.

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cuda/common.cuh"
#include "engine/cuda/dequant.cuh"
#include "engine/cuda/dot_int8.cuh"

// ---------------------------------------------------------------------------
// Matrix-vector product for decode.
//
// Each block first builds its input vector in shared memory (normed, or the
// SwiGLU product, so those need no launch of their own), in an interleaved
// order: float4 k of chunk c at xs4[k * n_chunks + c], so that the 32 lanes
// of a warp, each reading its own chunk, hit 32 different banks. Then each
// warp takes MV_ROWS rows; lane l handles chunks l, l + 32, ... of each,
// reusing the 32 input values it loaded for every row.

#define MV_WARPS 8
#define MV_ROWS 2

// The grid is at most what the device holds at once: each block builds its
// input once and its warps then walk the rows with a grid stride, so the
// prologue is paid per resident block, not per 16 rows.
template <int T, int PRO>
__global__ void __launch_bounds__(MV_WARPS * 32)
matvec_kernel(dweight w, const float *__restrict__ x, float *__restrict__ y, int accumulate,
              const float *__restrict__ norm_w, float eps)
{
    extern __shared__ float4 xs4[];
    __shared__ float red[MV_WARPS];
    const int64_t n = w.n_in, nc = n >> 5, n4 = n >> 2;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const float4 *x4 = (const float4 *)x;
    float scale = 1.0f;
    if (PRO == PRO_RMSNORM) {
        float ss = 0;
        for (int64_t i = tid; i < n4; i += blockDim.x) {
            const float4 t = x4[i];
            ss += t.x * t.x + t.y * t.y + t.z * t.z + t.w * t.w;
        }
#pragma unroll
        for (int o = 16; o > 0; o >>= 1)
            ss += __shfl_xor_sync(0xffffffffu, ss, o);
        if (lane == 0) red[warp] = ss;
        __syncthreads();
        ss = 0;
#pragma unroll
        for (int i = 0; i < MV_WARPS; i++)
            ss += red[i];
        scale = rsqrtf(ss / (float)n + eps);
    }
    // float4 i holds elements 4i..4i+3: chunk i >> 3, float4 k = i & 7 of it.
    for (int64_t i = tid; i < n4; i += blockDim.x) {
        float4 v = x4[i];
        if (PRO == PRO_RMSNORM) {
            const float4 g = ((const float4 *)norm_w)[i];
            v.x = v.x * scale * g.x, v.y = v.y * scale * g.y;
            v.z = v.z * scale * g.z, v.w = v.w * scale * g.w;
        } else if (PRO == PRO_SWIGLU) {
            const float4 u = x4[n4 + i];
            v.x = v.x / (1.0f + expf(-v.x)) * u.x, v.y = v.y / (1.0f + expf(-v.y)) * u.y;
            v.z = v.z / (1.0f + expf(-v.z)) * u.z, v.w = v.w / (1.0f + expf(-v.w)) * u.w;
        }
        xs4[(i & 7) * nc + (i >> 3)] = v;
    }
    __syncthreads();

    for (int64_t row0 = ((int64_t)blockIdx.x * MV_WARPS + warp) * MV_ROWS; row0 < w.n_out;
         row0 += (int64_t)gridDim.x * MV_WARPS * MV_ROWS) {
        float acc[MV_ROWS];
#pragma unroll
        for (int r = 0; r < MV_ROWS; r++)
            acc[r] = 0;
        for (int64_t c = lane; c < nc; c += 32) {
            float xv[32];
#pragma unroll
            for (int k = 0; k < 8; k++) {
                float4 t = xs4[k * nc + c];
                xv[4 * k] = t.x, xv[4 * k + 1] = t.y, xv[4 * k + 2] = t.z, xv[4 * k + 3] = t.w;
            }
#pragma unroll
            for (int r = 0; r < MV_ROWS; r++) {
                if (row0 + r < w.n_out) {
                    float v[32];
                    dq32<T>(w, row0 + r, c, v);
#pragma unroll
                    for (int j = 0; j < 32; j++)
                        acc[r] = fmaf(v[j], xv[j], acc[r]);
                }
            }
        }
#pragma unroll
        for (int r = 0; r < MV_ROWS; r++) {
            float a = acc[r];
#pragma unroll
            for (int o = 16; o > 0; o >>= 1)
                a += __shfl_xor_sync(0xffffffffu, a, o);
            if (lane == 0 && row0 + r < w.n_out) y[row0 + r] = accumulate ? y[row0 + r] + a : a;
        }
    }
}

static int g_sm_count;
// Programmatic dependent launch for the decode kernels (sm_90 and later; on
// unless RIGHTSIZE_CUDA_PDL=0: +1% to +6% on every model of run 14, checked
// by cuda_check in runs 13-14): see mv_pdl_begin.
static bool g_pdl;
// Measurement knob (RIGHTSIZE_CUDA_SKIP containing "prep", model.cu's
// list): the int8 products read whatever xq holds instead of a launch of
// mv_prep_kernel, so that a run can time what those launches cost.
static bool g_skip_prep;

#define MV_SETUP(T)                                                                                \
    do {                                                                                           \
        CU(cudaFuncSetAttribute(matvec_kernel<T, PRO_NONE>,                                        \
                                cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));              \
        CU(cudaFuncSetAttribute(matvec_kernel<T, PRO_RMSNORM>,                                     \
                                cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));              \
        CU(cudaFuncSetAttribute(matvec_kernel<T, PRO_SWIGLU>,                                      \
                                cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));              \
    } while (0)

int matvec_setup(int64_t max_n_in, char *err, size_t errn)
{
    int dev = 0;
    CU(cudaGetDevice(&dev));
    CU(cudaDeviceGetAttribute(&g_sm_count, cudaDevAttrMultiProcessorCount, dev));
    int major = 0;
    CU(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
    const char *pdl = getenv("RIGHTSIZE_CUDA_PDL");
    g_pdl = major >= 9 && !(pdl && strcmp(pdl, "0") == 0);
    const char *skip = getenv("RIGHTSIZE_CUDA_SKIP");
    g_skip_prep = skip && strstr(skip, "prep");
    matvec_old();
    const int bytes = (int)(max_n_in * 4);
    if (bytes <= 48 * 1024) return 0;
    MV_SETUP(DTYPE_F32);
    MV_SETUP(DTYPE_F16);
    MV_SETUP(DTYPE_BF16);
    MV_SETUP(DTYPE_Q8_0);
    MV_SETUP(DTYPE_Q4_0);
    MV_SETUP(DTYPE_Q4_1);
    MV_SETUP(DTYPE_Q5_0);
    MV_SETUP(DTYPE_Q4_K);
    MV_SETUP(DTYPE_Q5_K);
    MV_SETUP(DTYPE_Q6_K);
    return 0;
}

static void launch_matvec_old(const dweight &w, const float *x, float *y, bool accumulate, int pro,
                              const float *norm_w, float eps, cudaStream_t s)
{
    const int sms = g_sm_count > 0 ? g_sm_count : 132;
    const int64_t rows_per_block = MV_WARPS * MV_ROWS;
    int64_t blocks = (w.n_out + rows_per_block - 1) / rows_per_block;
    const size_t shm = (size_t)w.n_in * sizeof(float);
    // Blocks resident at once: the shared input limits them for long rows.
    int per_sm = (int)((200 * 1024) / (shm + 1024));
    if (per_sm > 2048 / (MV_WARPS * 32)) per_sm = 2048 / (MV_WARPS * 32);
    if (per_sm < 1) per_sm = 1;
    const int64_t cap = (int64_t)sms * per_sm;
    if (blocks > cap) blocks = cap;
    const dim3 grid((unsigned)blocks);
#define MV_LAUNCH(T)                                                                               \
    if (pro == PRO_RMSNORM)                                                                        \
        matvec_kernel<T, PRO_RMSNORM><<<grid, MV_WARPS * 32, shm, s>>>(w, x, y, accumulate,        \
                                                                       norm_w, eps);               \
    else if (pro == PRO_SWIGLU)                                                                    \
        matvec_kernel<T, PRO_SWIGLU><<<grid, MV_WARPS * 32, shm, s>>>(w, x, y, accumulate, NULL,   \
                                                                      eps);                        \
    else                                                                                           \
        matvec_kernel<T, PRO_NONE><<<grid, MV_WARPS * 32, shm, s>>>(w, x, y, accumulate, NULL, eps);
    DISPATCH_TYPE(w.type, MV_LAUNCH)
#undef MV_LAUNCH
}

// ---------------------------------------------------------------------------
// Matrix-vector product for decode, second version. The old kernel above
// staged the whole input in shared memory in every block (a prologue per
// block, and occupancy limited by the input's size) and walked the rows with
// a grid stride (whole blocks idle at the tail). Here:
// - the input is read from global memory (L1/L2 hold it): when it needs
//   preparing (SwiGLU, a norm whose sum of squares is not known, int8
//   quantization) one small kernel (mv_prep_kernel) does it once for all the
//   matrices that share it; an RMSNorm whose sum of squares the previous
//   product accumulated (ss_out) is applied on the fly;
// - a block of MV2_WARPS warps takes R rows (MV2_R, MV2_RQ for the int8
//   kernels, whose rows are fewer bytes), its warps splitting the row
//   (128 lanes over the row, then one reduction): many short blocks, so the
//   hardware balances them over the SMs;
// - BF16/F16 rows are read with 16-byte loads, whole warps on contiguous
//   bytes, MV2_U loads per row in flight per lane;
// - Q8_0, Q4_0, Q4_K and Q6_K take int8 dot products (__dp4a) against the
//   input quantized to int8 blocks of 32 (as llama.cpp's mmvq and the CPU
//   engine do), with the block sums for the offsets (Q4_0's -8, Q4_K's mins);
// - the epilogue adds into y (residual), sums the squares of the new y for
//   the next norm, or, for gate|up stacked, writes silu(gate) * up.

#ifndef MV2_WARPS
#define MV2_WARPS 4
#endif
// Inputs up to this many take blocks of 2 warps (bf16/f16): on an H100 the
// 0.5B's rows of 896 and 4864 gain 9%, the 7B's of 3584 neither gain nor
// lose, its 18944 lose 4% (runs 12b, 12c).
#ifndef MV2_SHORT_ROW
#define MV2_SHORT_ROW 5120
#endif
#ifndef MV2_WARPS_Q // warps per block of the int8-dot kernel
#define MV2_WARPS_Q MV2_WARPS
#endif
#ifndef MV2_R
#define MV2_R 2
#endif
#ifndef MV2_RQ
#define MV2_RQ 4
#endif
// int8 products with rows this short take several rows a block whatever
// their number (run 30: the 7B's o projection, 3,584 rows of 3,584, at one
// row a block cost the Q4_K step 6%).
#ifndef MV2_Q_MANY_N_IN
#define MV2_Q_MANY_N_IN 4096
#endif
#ifndef MV2_MANY_ROWS // run 23: 4,096 beat 16,384 and 3,584 (7B Q4_K +1.5%, 8B BF16 +0.2%)
#define MV2_MANY_ROWS 4096
#endif
// The int8 kernel's registers decide its occupancy (run 25-26: at 2 chunks
// in flight per lane a block of 4 Q6_K rows took 236 registers, of 4 Q4_K
// rows 168): one chunk per lane in the loop, and bounds of 4 blocks per SM
// for blocks of several rows (128 registers) and 8 for one row (64), which
// ptxas meets without spilling. Run 26, engine tok/s against 2 chunks and
// no bounds: 7B Q4_K 371.4 -> 434.2, Q8_0 316.0 -> 321.2, 0.5B Q8_0
// 1,167 -> 1,395.
#ifndef MV2_Q_UNROLL // chunks of the loop in flight per lane
#define MV2_Q_UNROLL 1
#endif
#ifndef MV2_Q_MINB_MANY // blocks per SM its registers must allow, several rows a block
#define MV2_Q_MINB_MANY 4
#endif
#ifndef MV2_Q_MINB // the same, one row a block
#define MV2_Q_MINB 8
#endif
#define RS_PRAGMA(x) _Pragma(#x)
#define RS_UNROLL_N(n) RS_PRAGMA(unroll n)
#ifndef MV2_U
#define MV2_U 4
#endif
#define PREP_THREADS 1024

static bool g_mv_old_init, g_mv_old;

bool matvec_pdl(void)
{
    return g_pdl;
}

bool matvec_old(void)
{
    if (!g_mv_old_init) {
        // The int8-dot kernels are the default: run 5 (bench/results/cuda.md)
        // showed cuda_check's whole-forward failure of run 4 identical with
        // the old kernels, so it does not come from them, and they passed
        // every kernel-level check. RIGHTSIZE_CUDA_MV=old selects the old ones.
        const char *e = getenv("RIGHTSIZE_CUDA_MV");
        g_mv_old = e && strcmp(e, "old") == 0;
        g_mv_old_init = true;
    }
    return g_mv_old;
}


// Programmatic dependent launch: a decode matrix-vector kernel is launched
// while the kernel before it still runs (mv_launch), lets the kernel after
// it do the same at once (launch_dependents), loads what does not depend
// on its predecessor (the first weights of its rows, into registers), and only
// then waits for the predecessor's completion and memory (wait), before
// reading anything another kernel wrote. Without the launch attribute both
// instructions return at once.
__device__ __forceinline__ void mv_pdl_begin()
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

__device__ __forceinline__ void mv_pdl_wait()
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}


// xf = the prepared input (when xf), and it quantized into xq/xds (when
// xq): per 32 elements d = max |v| / 127, q = round(v / d). One warp per 32
// elements; for the norm, every block sums the squares of x itself (inputs
// of a few thousand elements) unless ss_in has the sum already.
template <int PRO, int THREADS>
__global__ void __launch_bounds__(THREADS)
mv_prep_kernel(const float *__restrict__ x, int64_t n, const float *__restrict__ norm_w, float eps,
               const float *__restrict__ ss_in, float *__restrict__ xf, int8_t *__restrict__ xq,
               float2 *__restrict__ xds)
{
    __shared__ float red[THREADS / 32];
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    mv_pdl_begin();
    mv_pdl_wait();
    float scale = 1.0f;
    if (PRO == PRO_RMSNORM && ss_in) {
        scale = rsqrtf(*ss_in / (float)n + eps);
    } else if (PRO == PRO_RMSNORM) {
        float ss = 0;
        for (int64_t i = tid; i < n; i += THREADS)
            ss = fmaf(x[i], x[i], ss);
        ss = warp_sum(ss);
        if (lane == 0) red[warp] = ss;
        __syncthreads();
        if (warp == 0) {
            ss = warp_sum(lane < THREADS / 32 ? red[lane] : 0.0f);
            if (lane == 0) red[0] = ss;
        }
        __syncthreads();
        scale = rsqrtf(red[0] / (float)n + eps);
    }
    for (int64_t b = (int64_t)blockIdx.x * (THREADS / 32) + warp; b < (n >> 5);
         b += (int64_t)gridDim.x * (THREADS / 32)) {
        const int64_t i = (b << 5) + lane;
        float v = x[i];
        if (PRO == PRO_RMSNORM) v = v * scale * norm_w[i];
        else if (PRO == PRO_SWIGLU) v = v / (1.0f + expf(-v)) * x[n + i];
        if (xf) xf[i] = v;
        if (xq) { // the same for the whole warp
            const float amax = warp_max(fabsf(v));
            const float d = amax / 127.0f;
            const int q = amax > 0.0f ? __float2int_rn(v / d) : 0;
            xq[i] = (int8_t)q;
            const int qs = warp_sum_i(q);
            if (lane == 0) xds[b] = make_float2(d, d * (float)qs);
        }
    }
}

// How a float kernel reads its input: x, times rsqrt(*ss / n + eps) * norm_w
// when norm_w.
struct mv_in {
    const float *x, *norm_w, *ss;
    float eps;
};

struct mv_out {
    float *y, *ss_out;
    int accumulate, swiglu;
};

// The rows of group b (a block, or a warp): b R .. b R + R - 1; with
// swiglu, gate rows b R/2 .. b R/2 + R/2 - 1 then the up rows n_out/2
// further on. A row past its half (or past n_out) reads row 0 and its
// result is dropped.
template <int R>
__device__ __forceinline__ void mv_rows_at(const mv_out &o, int64_t n_out, int64_t b, int64_t rows[R],
                                           int64_t safe[R])
{
    const int64_t half = n_out >> 1;
#pragma unroll
    for (int r = 0; r < R; r++) {
        rows[r] = b * R + r;
        if constexpr (R >= 2) { // swiglu takes R >= 2 (mv_launch_t)
            if (o.swiglu) {
                const int64_t g = b * (R / 2) + (r % (R / 2));
                rows[r] = g < half ? g + (r < R / 2 ? 0 : half) : n_out;
            }
        }
        safe[r] = rows[r] < n_out ? rows[r] : 0;
    }
}

template <int R>
__device__ __forceinline__ void mv_rows(const mv_out &o, int64_t n_out, int64_t rows[R], int64_t safe[R])
{
    mv_rows_at<R>(o, n_out, blockIdx.x, rows, safe);
}

// The outputs' previous values when the product adds onto them, loaded by
// the one thread that writes them, right after the wait: the load's round
// trip then overlaps the dot products instead of following the reduction.
template <int R>
__device__ __forceinline__ void mv_prev(const mv_out &o, const int64_t rows[R], int64_t n_out,
                                        float yprev[R], bool writer = threadIdx.x == 0)
{
#pragma unroll
    for (int r = 0; r < R; r++)
        yprev[r] = writer && o.accumulate && !o.swiglu && rows[r] < n_out ? o.y[rows[r]] : 0.0f;
}

// The writer's part of the epilogue: v, the rows' sums, into y.
template <int R>
__device__ __forceinline__ void mv_store(const float v[R], const float yprev[R], const int64_t rows[R],
                                         int64_t n_out, const mv_out &o)
{
    if (o.swiglu) { // v[p] gate and v[p + R/2] up of output rows[p]
#pragma unroll
        for (int p = 0; p < R / 2; p++)
            if (rows[p] < n_out) o.y[rows[p]] = v[p] / (1.0f + expf(-v[p])) * v[p + R / 2];
        return;
    }
    float ss = 0;
#pragma unroll
    for (int r = 0; r < R; r++) {
        if (rows[r] >= n_out) continue;
        const float t = o.accumulate ? yprev[r] + v[r] : v[r];
        o.y[rows[r]] = t;
        ss = fmaf(t, t, ss);
    }
    if (o.ss_out) atomicAdd(o.ss_out, ss);
}

template <int R, int W = MV2_WARPS>
__device__ __forceinline__ void mv_finish(float acc[R], const float yprev[R], const int64_t rows[R],
                                          int64_t n_out, const mv_out &o)
{
    __shared__ float red[W][R];
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
#pragma unroll
    for (int r = 0; r < R; r++) {
        const float a = warp_sum(acc[r]);
        if (lane == 0) red[warp][r] = a;
    }
    __syncthreads();
    if (tid != 0) return;
    float v[R];
#pragma unroll
    for (int r = 0; r < R; r++) {
        v[r] = 0;
#pragma unroll
        for (int k = 0; k < W; k++)
            v[r] += red[k][r];
    }
    mv_store<R>(v, yprev, rows, n_out, o);
}

__device__ __forceinline__ float4 mv_in_load(const mv_in &in, int64_t i4, float scale)
{
    float4 t = ((const float4 *)in.x)[i4];
    if (in.norm_w) {
        const float4 g = ((const float4 *)in.norm_w)[i4];
        t.x = t.x * scale * g.x, t.y = t.y * scale * g.y;
        t.z = t.z * scale * g.z, t.w = t.w * scale * g.w;
    }
    return t;
}


// One pass of mv_half_kernel's weight loads: MV2_U 16-byte words per row
// and lane, from word i0 on (zeros past the row's end).
template <int R, int W>
__device__ __forceinline__ void mv_half_load(const uint4 *const wr[R], int64_t i0, int64_t n8,
                                             uint4 wv[MV2_U][R])
{
#pragma unroll
    for (int u = 0; u < MV2_U; u++) {
        const int64_t i = i0 + u * W * 32;
#pragma unroll
        for (int r = 0; r < R; r++)
            wv[u][r] = i < n8 ? __ldg(wr[r] + i) : make_uint4(0, 0, 0, 0);
    }
}

template <int T, int R, int W>
__global__ void __launch_bounds__(W * 32) mv_half_kernel(dweight w, mv_in in, mv_out o)
{
    int64_t rows[R], safe[R];
    mv_rows<R>(o, w.n_out, rows, safe);
    mv_pdl_begin();
    const int64_t n8 = w.n_in >> 3;
    const uint4 *wr[R];
#pragma unroll
    for (int r = 0; r < R; r++)
        wr[r] = (const uint4 *)(w.payload + safe[r] * w.payload_row);
    // The weights of the first pass are loaded before the wait: under a
    // dependent launch, while the kernel before still runs.
    uint4 wv[MV2_U][R];
    mv_half_load<R, W>(wr, threadIdx.x, n8, wv);
    mv_pdl_wait();
    float yprev[R];
    mv_prev<R>(o, rows, w.n_out, yprev);
    const float scale = in.norm_w ? rsqrtf(*in.ss / (float)w.n_in + in.eps) : 1.0f;
    float acc[R];
#pragma unroll
    for (int r = 0; r < R; r++)
        acc[r] = 0;
    for (int64_t i0 = threadIdx.x; i0 < n8; i0 += W * 32 * MV2_U) {
        if (i0 != threadIdx.x) mv_half_load<R, W>(wr, i0, n8, wv);
        float4 xa[MV2_U], xb[MV2_U];
#pragma unroll
        for (int u = 0; u < MV2_U; u++) {
            const int64_t i = i0 + u * W * 32;
            if (i < n8) {
                xa[u] = mv_in_load(in, 2 * i, scale);
                xb[u] = mv_in_load(in, 2 * i + 1, scale);
            } else {
                xa[u] = xb[u] = make_float4(0, 0, 0, 0);
            }
        }
#pragma unroll
        for (int u = 0; u < MV2_U; u++)
#pragma unroll
            for (int r = 0; r < R; r++)
                acc[r] += dot8<T>(wv[u][r], xa[u], xb[u]);
    }
    mv_finish<R, W>(acc, yprev, rows, w.n_out, o);
}

// Any float-dequantized type, one 32-element chunk per lane (dq32).
template <int T>
__global__ void __launch_bounds__(MV2_WARPS * 32) mv_chunk_kernel(dweight w, mv_in in, mv_out o)
{
    int64_t rows[MV2_R], safe[MV2_R];
    mv_rows<MV2_R>(o, w.n_out, rows, safe);
    mv_pdl_begin();
    mv_pdl_wait();
    float yprev[MV2_R];
    mv_prev<MV2_R>(o, rows, w.n_out, yprev);
    const int64_t nc = w.n_in >> 5;
    const float scale = in.norm_w ? rsqrtf(*in.ss / (float)w.n_in + in.eps) : 1.0f;
    float acc[MV2_R];
#pragma unroll
    for (int r = 0; r < MV2_R; r++)
        acc[r] = 0;
    for (int64_t c = threadIdx.x; c < nc; c += MV2_WARPS * 32) {
        float xv[32];
#pragma unroll
        for (int k = 0; k < 8; k++) {
            const float4 t = mv_in_load(in, c * 8 + k, scale);
            xv[4 * k] = t.x, xv[4 * k + 1] = t.y, xv[4 * k + 2] = t.z, xv[4 * k + 3] = t.w;
        }
#pragma unroll
        for (int r = 0; r < MV2_R; r++) {
            float v[32];
            dq32<T>(w, safe[r], c, v);
#pragma unroll
            for (int j = 0; j < 32; j++)
                acc[r] = fmaf(v[j], xv[j], acc[r]);
        }
    }
    mv_finish<MV2_R>(acc, yprev, rows, w.n_out, o);
}

template <int T, int R>
__global__ void __launch_bounds__(MV2_WARPS_Q * 32, R > 1 ? MV2_Q_MINB_MANY : MV2_Q_MINB)
mv_q8_kernel(dweight w, const int8_t *__restrict__ xq, const float2 *__restrict__ xds, mv_out o)
{
    int64_t rows[R], safe[R];
    mv_rows<R>(o, w.n_out, rows, safe);
    mv_pdl_begin();
    const int64_t nc = w.n_in >> 5;
    // The first chunk's weights are loaded before the wait: under a
    // dependent launch, while the kernel before still runs.
    const int64_t c0 = threadIdx.x;
    qraw<T> first[R];
    if (c0 < nc) {
#pragma unroll
        for (int r = 0; r < R; r++)
            first[r] = qload<T>(w, safe[r], c0);
    }
    mv_pdl_wait();
    float yprev[R];
    mv_prev<R>(o, rows, w.n_out, yprev);
    float acc[R];
#pragma unroll
    for (int r = 0; r < R; r++)
        acc[r] = 0;
    if (c0 < nc) {
        const int4 *xp = (const int4 *)(xq + (c0 << 5));
        const int4 x0 = xp[0], x1 = xp[1];
        const int xi[8] = {x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w};
        const float2 ds = xds[c0];
#pragma unroll
        for (int r = 0; r < R; r++)
            acc[r] += qdot<T>(first[r], xi, ds);
    }
RS_UNROLL_N(MV2_Q_UNROLL)
    for (int64_t c = c0 + MV2_WARPS_Q * 32; c < nc; c += MV2_WARPS_Q * 32) {
        const int4 *xp = (const int4 *)(xq + (c << 5));
        const int4 x0 = xp[0], x1 = xp[1];
        const int xi[8] = {x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w};
        const float2 ds = xds[c];
#pragma unroll
        for (int r = 0; r < R; r++)
            acc[r] += dotq<T>(w, safe[r], c, xi, ds);
    }
    mv_finish<R, MV2_WARPS_Q>(acc, yprev, rows, w.n_out, o);
}

// Q4_K, a pair of chunks a lane (q4k_pair): blocks of MV2_Q4K_WARPS warps,
// since a 7B's rows of 3,584 have 56 pairs (a chunk a lane took 4 warps).
#ifndef MV2_Q4K_WARPS
#define MV2_Q4K_WARPS 2
#endif
template <int R>
__global__ void __launch_bounds__(MV2_Q4K_WARPS * 32, MV2_Q_MINB_MANY * 4 / MV2_Q4K_WARPS)
mv_q4k_pair_kernel(dweight w, const int8_t *__restrict__ xq, const float2 *__restrict__ xds, mv_out o)
{
    constexpr int LANES = MV2_Q4K_WARPS * 32;
    int64_t rows[R], safe[R];
    mv_rows<R>(o, w.n_out, rows, safe);
    mv_pdl_begin();
    const int64_t np = w.n_in >> 6, p0 = threadIdx.x;
    q4k_pair first[R];
    if (p0 < np) {
#pragma unroll
        for (int r = 0; r < R; r++)
            first[r] = q4k_pair_load(w, safe[r], p0);
    }
    mv_pdl_wait();
    float yprev[R];
    mv_prev<R>(o, rows, w.n_out, yprev);
    float acc[R];
#pragma unroll
    for (int r = 0; r < R; r++)
        acc[r] = 0;
    for (int64_t p = p0; p < np; p += LANES) {
        const int4 *xp = (const int4 *)(xq + (p << 6));
        const int4 x0 = xp[0], x1 = xp[1], x2 = xp[2], x3 = xp[3];
        const int xi[16] = {x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w,
                            x2.x, x2.y, x2.z, x2.w, x3.x, x3.y, x3.z, x3.w};
        const float4 ds = ((const float4 *)xds)[p];
#pragma unroll
        for (int r = 0; r < R; r++)
            acc[r] += q4k_pair_dot(p == p0 ? first[r] : q4k_pair_load(w, safe[r], p), xi, ds);
    }
    mv_finish<R, MV2_Q4K_WARPS>(acc, yprev, rows, w.n_out, o);
}

// Q6_K, a lane per half super-block (q6k_half) and a warp per RW rows
// (a 7B's rows of 3,584 have 28 halves): each payload byte is loaded once
// and a row's sum needs no barrier. Run 38, the 7B's head (447 MB): 190 us
// a token with a chunk a lane and 4 rows a block, 234 with a row a warp
// (128 registers, 96 bytes a lane in flight), 174 with two (167 registers,
// 192 bytes). RIGHTSIZE_CUDA_Q6K_WARP=0 turns it off.
#ifndef MV2_Q6K_WARPS
#define MV2_Q6K_WARPS 4
#endif
template <int RW>
__global__ void __launch_bounds__(MV2_Q6K_WARPS * 32, 3)
mv_q6k_warp_kernel(dweight w, const int8_t *__restrict__ xq, const float2 *__restrict__ xds, mv_out o)
{
    const int lane = threadIdx.x & 31;
    int64_t rows[RW], safe[RW];
    mv_rows_at<RW>(o, w.n_out, (int64_t)blockIdx.x * MV2_Q6K_WARPS + (threadIdx.x >> 5), rows, safe);
    mv_pdl_begin();
    const int64_t nh = w.n_in >> 7;
    q6k_half first[RW];
    if (lane < nh) {
#pragma unroll
        for (int r = 0; r < RW; r++)
            first[r] = q6k_half_load(w, safe[r], lane);
    }
    mv_pdl_wait();
    float yprev[RW];
    mv_prev<RW>(o, rows, w.n_out, yprev, lane == 0);
    float acc[RW];
#pragma unroll
    for (int r = 0; r < RW; r++)
        acc[r] = 0;
    for (int64_t hh = lane; hh < nh; hh += 32) {
        const int4 *xp = (const int4 *)(xq + (hh << 7));
        int xi[32];
#pragma unroll
        for (int k = 0; k < 8; k++) {
            const int4 t = xp[k];
            xi[4 * k] = t.x, xi[4 * k + 1] = t.y, xi[4 * k + 2] = t.z, xi[4 * k + 3] = t.w;
        }
        const float4 ds01 = ((const float4 *)xds)[2 * hh], ds23 = ((const float4 *)xds)[2 * hh + 1];
#pragma unroll
        for (int r = 0; r < RW; r++)
            acc[r] += q6k_half_dot(hh == lane ? first[r] : q6k_half_load(w, safe[r], hh), xi, ds01, ds23);
    }
#pragma unroll
    for (int r = 0; r < RW; r++)
        acc[r] = warp_sum(acc[r]);
    if (lane == 0) mv_store<RW>(acc, yprev, rows, w.n_out, o);
}

// Launches a decode kernel, with programmatic dependent launch when on.
template <typename... P, typename... A>
static void mv_launch(void (*k)(P...), unsigned grid, unsigned block, cudaStream_t s, A... args)
{
    if (!g_pdl) {
        k<<<grid, block, 0, s>>>(args...);
        return;
    }
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(grid);
    cfg.blockDim = dim3(block);
    cfg.dynamicSmemBytes = 0;
    cfg.stream = s;
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    at[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = at;
    cfg.numAttrs = 1;
    cudaLaunchKernelEx(&cfg, k, args...);
}

static int env_int(const char *name, int def)
{
    const char *e = getenv(name);
    return e && *e ? atoi(e) : def;
}

template <int T>
static void mv_launch_t(const dweight &w, const mv_in &in, const mv_scratch &sc, const mv_out &o,
                        cudaStream_t s)
{
    // Several rows per block only where the blocks are many (gate|up, the
    // head, a 7B's q|k|v of 4,608 rows, an 8B's o and down of 4,096):
    // elsewhere one row per block, so that the last wave of blocks over the
    // SMs is a small part of the whole (1,800 blocks of two long rows of a
    // 7B's down projection would leave most SMs idle in the last of 2.3
    // waves).
    static const int64_t many_n_in = env_int("RIGHTSIZE_CUDA_MANY_NIN", MV2_Q_MANY_N_IN);
    const bool many = o.swiglu || w.n_out >= MV2_MANY_ROWS || (mv_int8(T) && w.n_in <= many_n_in);
    const int R = T == DTYPE_Q8_0 || T == DTYPE_Q4_0 || T == DTYPE_Q4_K || T == DTYPE_Q6_K
                      ? (many ? MV2_RQ : 1)
                  : T == DTYPE_BF16 || T == DTYPE_F16 ? (many ? MV2_R : 1)
                                                      : MV2_R;
    const int64_t blocks = o.swiglu ? (w.n_out / 2 + R / 2 - 1) / (R / 2) : (w.n_out + R - 1) / R;
    const unsigned g = (unsigned)blocks;
    const int8_t *xq = sc.xq;
    const float2 *xds = sc.xds;
    if constexpr (T == DTYPE_Q8_0 || T == DTYPE_Q4_0 || T == DTYPE_Q4_K || T == DTYPE_Q6_K) {
        if constexpr (T == DTYPE_Q4_K) {
            // Blocks of several rows only (run 30, 7B, time inside the
            // chain: gate|up 889 -> 824 us a token; down, at one row a
            // block, 459 -> 523). RIGHTSIZE_CUDA_Q4K_PAIR=0 turns it off.
            static const int pair = env_int("RIGHTSIZE_CUDA_Q4K_PAIR", 1);
            if (pair && many) { // rows of 256-weight super-blocks: whole pairs
                mv_launch(mv_q4k_pair_kernel<MV2_RQ>, g, MV2_Q4K_WARPS * 32, s, w, xq, xds, o);
                return;
            }
        }
        if constexpr (T == DTYPE_Q6_K) {
            static const int warp_rows = env_int("RIGHTSIZE_CUDA_Q6K_WARP", 1);
            if (warp_rows) { // rows of 256-weight super-blocks: whole halves
                const int64_t per_block = MV2_Q6K_WARPS * 2;
                const unsigned gq = (unsigned)((w.n_out + per_block - 1) / per_block);
                mv_launch(mv_q6k_warp_kernel<2>, gq, MV2_Q6K_WARPS * 32, s, w, xq, xds, o);
                return;
            }
        }
        if (many) mv_launch(mv_q8_kernel<T, MV2_RQ>, g, MV2_WARPS_Q * 32, s, w, xq, xds, o);
        else mv_launch(mv_q8_kernel<T, 1>, g, MV2_WARPS_Q * 32, s, w, xq, xds, o);
    } else if constexpr (T == DTYPE_BF16 || T == DTYPE_F16) {
        // Short rows: blocks of 2 warps, twice as many per multiprocessor.
        if (w.n_in <= MV2_SHORT_ROW) {
            if (many) mv_launch(mv_half_kernel<T, MV2_R, 2>, g, 64, s, w, in, o);
            else mv_launch(mv_half_kernel<T, 1, 2>, g, 64, s, w, in, o);
        } else if (many) {
            mv_launch(mv_half_kernel<T, MV2_R, MV2_WARPS>, g, MV2_WARPS * 32, s, w, in, o);
        } else {
            mv_launch(mv_half_kernel<T, 1, MV2_WARPS>, g, MV2_WARPS * 32, s, w, in, o);
        }
    } else {
        mv_launch(mv_chunk_kernel<T>, g, MV2_WARPS * 32, s, w, in, o);
    }
}

template <int T>
static void launch_prep_t(int pro, const float *x, int64_t n, const float *norm_w, float eps,
                          const float *ss_in, float *xf, int8_t *xq, float2 *xds, cudaStream_t s)
{
    int64_t blocks = (n + T - 1) / T; // a warp per 32 elements
    if (blocks > 64 * PREP_THREADS / T) blocks = 64 * PREP_THREADS / T;
    const unsigned g = (unsigned)blocks;
    const float *none = NULL;
    if (pro == PRO_RMSNORM)
        mv_launch(mv_prep_kernel<PRO_RMSNORM, T>, g, T, s, x, n, norm_w, eps, ss_in, xf, xq, xds);
    else if (pro == PRO_SWIGLU)
        mv_launch(mv_prep_kernel<PRO_SWIGLU, T>, g, T, s, x, n, norm_w, eps, none, xf, xq, xds);
    else
        mv_launch(mv_prep_kernel<PRO_NONE, T>, g, T, s, x, n, norm_w, eps, none, xf, xq, xds);
}

static void launch_prep(int pro, const float *x, int64_t n, const float *norm_w, float eps,
                        const float *ss_in, float *xf, int8_t *xq, float2 *xds, cudaStream_t s)
{
    // Blocks of 1,024 threads when each block must sum the squares of the
    // whole input itself; otherwise small ones, which leave room on every
    // multiprocessor for the blocks of the product after them to start and
    // load their weights while this kernel runs.
    // Run 39, 7B engine tok/s: Q4_K 479.2 -> 480.9, Q8_0 334.3 -> 334.9.
    // RIGHTSIZE_CUDA_PREP_THREADS=1024 takes the large blocks everywhere.
    static const bool large = env_int("RIGHTSIZE_CUDA_PREP_THREADS", 128) == PREP_THREADS;
    if (!large && !(pro == PRO_RMSNORM && !ss_in))
        launch_prep_t<128>(pro, x, n, norm_w, eps, ss_in, xf, xq, xds, s);
    else
        launch_prep_t<PREP_THREADS>(pro, x, n, norm_w, eps, ss_in, xf, xq, xds, s);
}

void launch_matvec_group(const dweight *ws, const int64_t *out_off, int n, const mv_args &a,
                         const mv_scratch &sc, cudaStream_t s)
{
    bool any_q = false, any_f = false;
    for (int i = 0; i < n; i++) {
        if (mv_int8(ws[i].type)) any_q = true;
        else any_f = true;
    }
    // Float kernels read x itself unless it needs the SwiGLU or a norm whose
    // sum of squares nobody counted.
    const bool direct = a.pro == PRO_NONE || (a.pro == PRO_RMSNORM && a.ss_in);
    const bool prep_f = any_f && !direct, prep_q = any_q && !a.q_ready && !g_skip_prep;
    if (prep_q || prep_f)
        launch_prep(a.pro, a.x, ws[0].n_in, a.norm_w, a.eps, a.ss_in, prep_f ? sc.xf : NULL,
                    prep_q ? sc.xq : NULL, sc.xds, s);
    mv_in in;
    if (prep_f) in = {sc.xf, NULL, NULL, a.eps};
    else in = {a.x, a.pro == PRO_RMSNORM ? a.norm_w : NULL, a.ss_in, a.eps};
    for (int i = 0; i < n; i++) {
        const mv_out o = {a.y + out_off[i], a.ss_out, a.accumulate ? 1 : 0, a.swiglu_out ? 1 : 0};
#define MV2_LAUNCH(T) mv_launch_t<T>(ws[i], in, sc, o, s)
        DISPATCH_TYPE(ws[i].type, MV2_LAUNCH)
#undef MV2_LAUNCH
    }
}

void launch_matvec(const dweight &w, const float *x, float *y, bool accumulate, int pro,
                   const float *norm_w, float eps, const mv_scratch &sc, cudaStream_t s)
{
    if (matvec_old()) {
        launch_matvec_old(w, x, y, accumulate, pro, norm_w, eps, s);
        return;
    }
    mv_args a;
    a.x = x, a.pro = pro, a.norm_w = norm_w, a.ss_in = NULL, a.eps = eps;
    a.y = y, a.accumulate = accumulate, a.ss_out = NULL, a.swiglu_out = false, a.q_ready = false;
    const int64_t off = 0;
    launch_matvec_group(&w, &off, 1, a, sc, s);
}

// ---------------------------------------------------------------------------
// Prefill helpers: weights to bf16 for cuBLAS, embedding lookup, row ops.

template <int T>
__global__ void dequant_bf16_kernel(dweight w, int64_t r0, int64_t rows, __nv_bfloat16 *dst)
{
    const int64_t nc = w.n_in >> 5, units = rows * nc;
    for (int64_t u = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; u < units;
         u += (int64_t)gridDim.x * blockDim.x) {
        const int64_t r = u / nc, c = u % nc;
        float v[32];
        dq32<T>(w, r0 + r, c, v);
        uint4 *o = (uint4 *)(dst + r * w.n_in + c * 32);
#pragma unroll
        for (int k = 0; k < 4; k++) {
            uint32_t p[4];
#pragma unroll
            for (int i = 0; i < 4; i++) {
                __nv_bfloat162 b = __floats2bfloat162_rn(v[8 * k + 2 * i], v[8 * k + 2 * i + 1]);
                p[i] = *(uint32_t *)&b;
            }
            o[k] = make_uint4(p[0], p[1], p[2], p[3]);
        }
    }
}

void launch_dequant_bf16(const dweight &w, int64_t r0, int64_t rows, __nv_bfloat16 *dst,
                         cudaStream_t s)
{
    const int64_t units = rows * (w.n_in >> 5);
    int64_t blocks = (units + 255) / 256;
    if (blocks > 65535) blocks = 65535;
#define DQ_LAUNCH(T) dequant_bf16_kernel<T><<<(unsigned)blocks, 256, 0, s>>>(w, r0, rows, dst)
    DISPATCH_TYPE(w.type, DQ_LAUNCH)
#undef DQ_LAUNCH
}

template <int T>
__global__ void embed_kernel(dweight w, const int32_t *tokens, float *x, float *ss, int64_t ss_n)
{
    __shared__ float red[4];
    const int64_t t = blockIdx.x, nc = w.n_in >> 5;
    if (ss && t == 0) // the step's other sums start from 0 (the producers add to them)
        for (int64_t i = 1 + threadIdx.x; i < ss_n; i += blockDim.x)
            ss[i] = 0.0f;
    const int64_t row = tokens[t];
    float sq = 0;
    for (int64_t c = threadIdx.x; c < nc; c += blockDim.x) {
        float v[32];
        dq32<T>(w, row, c, v);
#pragma unroll
        for (int j = 0; j < 32; j++) {
            x[t * w.n_in + c * 32 + j] = v[j];
            sq = fmaf(v[j], v[j], sq);
        }
    }
    if (ss && t == 0) { // the same for the whole block
        sq = warp_sum(sq);
        if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = sq;
        __syncthreads();
        if (threadIdx.x == 0) *ss = red[0] + red[1] + red[2] + red[3];
    }
}

void launch_embed(const dweight &w, const int32_t *tokens, int64_t n, float *x, cudaStream_t s,
                  float *ss, int64_t ss_n)
{
#define EMB_LAUNCH(T) embed_kernel<T><<<(unsigned)n, 128, 0, s>>>(w, tokens, x, ss, ss_n)
    DISPATCH_TYPE(w.type, EMB_LAUNCH)
#undef EMB_LAUNCH
}

__global__ void rmsnorm_rows_kernel(const float *x, const float *w, float *out, int64_t d, float eps)
{
    __shared__ float red[32];
    const float *xr = x + blockIdx.x * d;
    float *o = out + blockIdx.x * d;
    float ss = 0;
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x)
        ss += xr[i] * xr[i];
#pragma unroll
    for (int k = 16; k > 0; k >>= 1)
        ss += __shfl_xor_sync(0xffffffffu, ss, k);
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = ss;
    __syncthreads();
    ss = 0;
    for (int i = 0; i < (int)(blockDim.x >> 5); i++)
        ss += red[i];
    const float scale = rsqrtf(ss / (float)d + eps);
    for (int64_t i = threadIdx.x; i < d; i += blockDim.x)
        o[i] = xr[i] * scale * w[i];
}

void launch_rmsnorm_rows(const float *x, const float *w, float *out, int64_t n, int64_t d,
                         float eps, cudaStream_t s)
{
    rmsnorm_rows_kernel<<<(unsigned)n, 256, 0, s>>>(x, w, out, d, eps);
}

// One row per blockIdx.y (no division per element: run 19's profile had
// the old flat loop's 64-bit divisions at 1.9 ms of a 7B's prefill).
__global__ void swiglu_rows_kernel(const float *h, float *out, int64_t n, int64_t f)
{
    for (int64_t t = blockIdx.y; t < n; t += gridDim.y) {
        const float *g = h + t * 2 * f, *u = g + f;
        float *o = out + t * f;
        for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < f;
             j += (int64_t)gridDim.x * blockDim.x)
            o[j] = g[j] / (1.0f + expf(-g[j])) * u[j];
    }
}

void launch_swiglu_rows(const float *h, float *out, int64_t n, int64_t f, cudaStream_t s)
{
    int64_t bx = (f + 255) / 256, by = n;
    if (bx > 1024) bx = 1024;
    if (by > 65535) by = 65535;
    swiglu_rows_kernel<<<dim3((unsigned)bx, (unsigned)by), 256, 0, s>>>(h, out, n, f);
}

__global__ void to_half_kernel(const float *src, void *dst, int64_t n, int is_bf16)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        if (is_bf16)
            ((__nv_bfloat16 *)dst)[i] = __float2bfloat16_rn(src[i]);
        else
            ((__half *)dst)[i] = __float2half_rn(src[i]);
    }
}

void launch_to_half(const float *src, void *dst, int64_t n, bool is_bf16, cudaStream_t s)
{
    int64_t blocks = (n + 255) / 256;
    if (blocks > 65535) blocks = 65535;
    to_half_kernel<<<(unsigned)blocks, 256, 0, s>>>(src, dst, n, is_bf16);
}

// ---------------------------------------------------------------------------
// Rotary embedding and the KV write: one block per (token, head) of the
// q/k/v projections, one thread per element of the head.

__global__ void rope_kv_kernel(rope_kv_args a)
{
    extern __shared__ float sh[]; // (hd) values, then 32 for the reduction
    float *red = sh + a.hd;
    const int64_t t = blockIdx.x, head = blockIdx.y, d = threadIdx.x;
    const bool active = d < a.hd; // the block is rounded up to whole warps
    const int64_t n_heads = a.H + 2 * a.KVH;
    float *v = a.qkv + (t * n_heads + head) * a.hd;
    const int is_q = head < a.H, is_k = !is_q && head < a.H + a.KVH;
    float x = active ? v[d] + (a.bias ? a.bias[head * a.hd + d] : 0.0f) : 0.0f;
    const float *nw = is_q ? a.q_norm : is_k ? a.k_norm : NULL;
    if (nw) { // the same for the whole block: its barriers are uniform
        float ss = x * x;
#pragma unroll
        for (int k = 16; k > 0; k >>= 1)
            ss += __shfl_xor_sync(0xffffffffu, ss, k);
        if ((d & 31) == 0) red[d >> 5] = ss;
        __syncthreads();
        ss = 0;
        for (int i = 0; i < (int)((a.hd + 31) >> 5); i++)
            ss += red[i];
        if (active) x = x * rsqrtf(ss / (float)a.hd + a.eps) * nw[d];
    }
    const int64_t p = *a.pos + t;
    if (is_q || is_k) {
        if (active) sh[d] = x;
        __syncthreads();
        if (active && d < a.rope_dim) {
            const int64_t half = a.rope_dim / 2;
            int64_t i, d0, d1;
            if (a.interleaved) {
                i = d >> 1, d0 = d & ~1LL, d1 = d0 + 1;
            } else {
                i = d < half ? d : d - half, d0 = i, d1 = i + half;
            }
            const float angle = (float)p * a.inv_freq[i];
            const float c = cosf(angle) * a.attn_factor, s = sinf(angle) * a.attn_factor;
            const float x0 = sh[d0], x1 = sh[d1];
            x = d == d0 ? x0 * c - x1 * s : x1 * c + x0 * s;
        }
    }
    if (!active) return;
    if (is_q) {
        v[d] = x;
    } else {
        const int64_t kvh = is_k ? head - a.H : head - a.H - a.KVH;
        __half *cache = is_k ? a.k_cache : a.v_cache;
        cache[(kvh * a.n_ctx + p) * a.hd + d] = __float2half_rn(x);
    }
}

void launch_rope_kv(const rope_kv_args &a, cudaStream_t s)
{
    const dim3 grid((unsigned)a.n, (unsigned)(a.H + 2 * a.KVH));
    const unsigned threads = (unsigned)((a.hd + 31) / 32 * 32);
    rope_kv_kernel<<<grid, threads, (a.hd + 32) * sizeof(float), s>>>(a);
}

// ---------------------------------------------------------------------------
// Attention. Block (head, split, token): keys [split * split_len, ...) of the
// token's causal range, in tiles of ATT_TILE with an online softmax; the
// partial results of the splits are merged by attn_combine_kernel.

#define ATT_TILE 128
#define ATT_THREADS 128
#define ATT_DPL 8 // head dimensions per lane in the V sum: head_dim <= 256

// Scores: one thread per key of the tile, each reading its whole key row
// (independent loads, so a tile costs one memory latency rather than one
// per key). Values: warp w sums keys w, w + 4, ..., lane l dimensions
// l, l + 32, ...; the four warps' sums are added through shared memory.
__global__ void __launch_bounds__(ATT_THREADS) attn_split_kernel(attn_args a)
{
    __shared__ float qs[256];
    __shared__ float sc[ATT_TILE];
    __shared__ float red[ATT_THREADS / 32];
    __shared__ float part[ATT_THREADS / 32][256];
    const int64_t h = blockIdx.x, sp = blockIdx.y, t = blockIdx.z;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int64_t hd = a.hd, kvh = h / (a.H / a.KVH);
    const int64_t p_end = *a.pos + t;
    int64_t p_lo = a.window > 0 && p_end - a.window + 1 > 0 ? p_end - a.window + 1 : 0;
    int64_t lo = sp * a.split_len, hi = lo + a.split_len - 1;
    if (lo < p_lo) lo = p_lo;
    if (hi > p_end) hi = p_end;
    const int64_t pi = (t * a.H + h) * a.n_split + sp;
    float *o = a.o_part + pi * hd;
    if (lo > hi) {
        for (int64_t d = tid; d < hd; d += ATT_THREADS)
            o[d] = 0;
        if (tid == 0) a.ml_part[2 * pi] = -INFINITY, a.ml_part[2 * pi + 1] = 0;
        return;
    }
    const float scale = rsqrtf((float)hd);
    for (int64_t d = tid; d < hd; d += ATT_THREADS)
        qs[d] = a.q[t * a.q_stride + h * hd + d] * scale;
    __syncthreads();
    const __half *K = a.k_cache + kvh * a.n_ctx * hd;
    const __half *V = a.v_cache + kvh * a.n_ctx * hd;
    float m = -INFINITY, l = 0;
    float acc[ATT_DPL];
#pragma unroll
    for (int j = 0; j < ATT_DPL; j++)
        acc[j] = 0;
    for (int64_t t0 = lo; t0 <= hi; t0 += ATT_TILE) {
        const int n_keys = (int)(hi - t0 + 1 < ATT_TILE ? hi - t0 + 1 : ATT_TILE);
        float s = -INFINITY;
        if (tid < n_keys) {
            const __half2 *kr = (const __half2 *)(K + (t0 + tid) * hd);
            float d0 = 0, d1 = 0;
#pragma unroll 8
            for (int64_t d = 0; d < hd / 2; d++) {
                const float2 kf = __half22float2(kr[d]);
                d0 = fmaf(kf.x, qs[2 * d], d0);
                d1 = fmaf(kf.y, qs[2 * d + 1], d1);
            }
            s = d0 + d1;
        }
        float mx = s;
#pragma unroll
        for (int k = 16; k > 0; k >>= 1)
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, k));
        if (lane == 0) red[warp] = mx;
        __syncthreads();
        float tmax = red[0];
#pragma unroll
        for (int i = 1; i < ATT_THREADS / 32; i++)
            tmax = fmaxf(tmax, red[i]);
        const float m_new = fmaxf(m, tmax);
        const float corr = expf(m - m_new);
        const float e = tid < n_keys ? expf(s - m_new) : 0.0f;
        sc[tid] = e;
        float sum = e;
#pragma unroll
        for (int k = 16; k > 0; k >>= 1)
            sum += __shfl_xor_sync(0xffffffffu, sum, k);
        __syncthreads(); // red read above, sc written
        if (lane == 0) red[warp] = sum;
        __syncthreads();
        float tsum = 0;
#pragma unroll
        for (int i = 0; i < ATT_THREADS / 32; i++)
            tsum += red[i];
        l = l * corr + tsum;
        m = m_new;
#pragma unroll
        for (int j = 0; j < ATT_DPL; j++)
            acc[j] *= corr;
#pragma unroll 4
        for (int k = warp; k < n_keys; k += ATT_THREADS / 32) {
            const float ek = sc[k];
            const __half *vr = V + (t0 + k) * hd;
#pragma unroll
            for (int j = 0; j < ATT_DPL; j++) {
                const int64_t d = lane + 32 * j;
                if (d < hd) acc[j] = fmaf(ek, __half2float(vr[d]), acc[j]);
            }
        }
        __syncthreads(); // sc and red are rewritten by the next tile
    }
#pragma unroll
    for (int j = 0; j < ATT_DPL; j++) {
        const int64_t d = lane + 32 * j;
        if (d < hd) part[warp][d] = acc[j];
    }
    __syncthreads();
    for (int64_t d = tid; d < hd; d += ATT_THREADS) {
        float v = 0;
#pragma unroll
        for (int w = 0; w < ATT_THREADS / 32; w++)
            v += part[w][d];
        o[d] = v;
    }
    if (tid == 0) a.ml_part[2 * pi] = m, a.ml_part[2 * pi + 1] = l;
}

__global__ void attn_combine_kernel(attn_args a)
{
    if (a.trigger) mv_pdl_begin(); // the o projection after it may start fetching its weights
    const int64_t th = blockIdx.x; // t * H + h
    const float *ml = a.ml_part + th * a.n_split * 2;
    float M = -INFINITY;
    for (int64_t s = 0; s < a.n_split; s++)
        M = fmaxf(M, ml[2 * s]);
    for (int64_t d = threadIdx.x; d < a.hd; d += blockDim.x) {
        float num = 0, den = 0;
        for (int64_t s = 0; s < a.n_split; s++) {
            if (ml[2 * s + 1] == 0) continue;
            const float f = expf(ml[2 * s] - M);
            num += f * a.o_part[(th * a.n_split + s) * a.hd + d];
            den += f * ml[2 * s + 1];
        }
        const float v = num / den;
        a.out[th * a.hd + d] = v;
        if (a.xq) { // head_dim % 32 == 0: whole warps, one int8 block each
            const int64_t i = th * a.hd + d;
            const float amax = warp_max(fabsf(v));
            const float dq = amax / 127.0f;
            const int q = amax > 0.0f ? __float2int_rn(v / dq) : 0;
            a.xq[i] = (int8_t)q;
            const int qs = warp_sum_i(q);
            if ((threadIdx.x & 31) == 0) a.xds[i >> 5] = make_float2(dq, dq * (float)qs);
        }
    }
}

void launch_attention(const attn_args &a, cudaStream_t s)
{
    const dim3 grid((unsigned)a.H, (unsigned)a.n_split, (unsigned)a.n);
    attn_split_kernel<<<grid, ATT_THREADS, 0, s>>>(a);
    attn_combine_kernel<<<(unsigned)(a.n * a.H), 128, 0, s>>>(a);
}
