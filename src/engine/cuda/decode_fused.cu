// The fused decode step (fused.cuh): one persistent cooperative kernel per
// token. Per transformer block it runs five phases separated by grid-wide
// barriers:
//   A  q|k|v = W_qkv rmsnorm(x)                 (rows spread over all warps)
//   B  attention per (head, split of 128 keys): bias, q/k norms and RoPE of
//      the head, the new k and v into the f16 cache, flash-decoding with the
//      last split of each head merging the partials
//   C  xa = x + W_o att
//   D  hb = silu(W_gate n) * (W_up n), n = rmsnorm(xa)
//   E  xf = xa + W_down hb
// then the head. A matrix's rows go round-robin over the warps of the grid,
// one row per warp at a time, lanes over 16-byte pieces of the row; int8
// types read their input quantized once per block into shared memory, as
// the separate kernels' prep launch does for the whole grid. Products that
// write the residual stream add the squares of what they wrote into a slot
// of ss, so the next norm needs no pass of its own.

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cuda/dequant.cuh"
#include "engine/cuda/dot_int8.cuh"
#include "engine/cuda/fused.cuh"

#define FU_THREADS 256
#define FU_WARPS (FU_THREADS / 32)
#ifndef FU_MIN_BLOCKS
#define FU_MIN_BLOCKS 2
#endif
#define FU_SPLIT 128        // keys per attention item
#ifndef FU_HALF_U
#define FU_HALF_U 4         // 16-byte weight loads in flight per lane (bf16/f16 rows)
#endif
#define FU_HD_MAX 256
#ifndef FU_PF_BYTES
#define FU_PF_BYTES 8192     // bytes of a row a warp fetches into L2 ahead of its loads
#endif
#ifndef FU_STAGE_U
#define FU_STAGE_U 4        // float4 input loads in flight per lane when staging int8
#endif

// ---------------------------------------------------------------------------
// Memory primitives

// RIGHTSIZE_CUDA_FUSED_TRACE: block 0 stamps the time each barrier lets it go.
__device__ __forceinline__ void fu_trace(unsigned long long *trace, unsigned k)
{
    if (trace && blockIdx.x == 0 && threadIdx.x == 0) {
        unsigned long long t;
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
        trace[k] = t;
    }
}

__device__ __forceinline__ unsigned ld_acquire(const unsigned *p)
{
    unsigned v;
    asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
    return v;
}

// Every block of the grid arrives before any leaves; what a block wrote
// before is visible to every block after. bar[0] counts arrivals over the
// launch (zeroed before it), so barrier k is complete at k * gridDim.x.
// (Run 8: a separate release flag raised by the last arrival cost more
// than the polling it spared the counter.)
__device__ __forceinline__ void grid_barrier(unsigned *bar, unsigned &k, unsigned long long *trace)
{
    k++;
    __syncthreads();
    if (threadIdx.x == 0) {
        __threadfence();
        atomicAdd(bar, 1u);
        while (ld_acquire(bar) < k * gridDim.x) {
        }
        __threadfence();
    }
    __syncthreads();
    fu_trace(trace, k);
}

// Weights are read once per token: past L1, which keeps the input vector.
__device__ __forceinline__ uint4 ld_stream(const uint4 *p)
{
    uint4 v;
    asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
        : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
        : "l"(p));
    return v;
}

__device__ __forceinline__ void prefetch_l2_line(const void *p)
{
    asm volatile("prefetch.global.L2 [%0];" ::"l"(p));
}

__device__ __forceinline__ bool is_int8_type(int t)
{
    return t == DTYPE_Q8_0 || t == DTYPE_Q4_0 || t == DTYPE_Q4_K || t == DTYPE_Q6_K;
}

// The block's sum of v (every thread's), added to *dst with one atomic.
__device__ void block_sum_add(float v, float *dst)
{
    __shared__ float red[FU_WARPS];
    v = warp_sum(v);
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
    __syncthreads();
    if (threadIdx.x == 0) {
        float s = 0;
#pragma unroll
        for (int i = 0; i < FU_WARPS; i++)
            s += red[i];
        atomicAdd(dst, s);
    }
    __syncthreads();
}

// The block's sum (op 0) or maximum (op 1) of v, in every thread.
__device__ float block_reduce(float v, int op)
{
    __shared__ float red[FU_WARPS];
    v = op ? warp_max(v) : warp_sum(v);
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
    __syncthreads();
    float r = red[0];
#pragma unroll
    for (int i = 1; i < FU_WARPS; i++)
        r = op ? fmaxf(r, red[i]) : r + red[i];
    __syncthreads();
    return r;
}

// Row r of w into L2, its first FU_PF_BYTES of payload (and the same share
// of its header), by the warp: issued when the warp starts its previous
// row, so that the demand loads of the next one find it in L2 and a warp
// keeps several kilobytes in flight without registers to hold them.
__device__ __forceinline__ void prefetch_row(const dweight &w, int64_t r, int lane)
{
    const int64_t pb = w.payload_row < FU_PF_BYTES ? w.payload_row : FU_PF_BYTES;
    const uint8_t *p = w.payload + r * w.payload_row;
    for (int64_t off = (int64_t)lane * 128; off < pb; off += 32 * 128)
        prefetch_l2_line(p + off);
    if (w.header && lane * 128 < w.header_row * pb / w.payload_row + 128)
        prefetch_l2_line(w.header + r * w.header_row + lane * 128);
}

// ---------------------------------------------------------------------------
// One row against the input, by one warp; the sum in every lane.

struct fu_in {
    const float *x; // (n_in)
    const float *g; // rmsnorm weights, or NULL: the input is x itself
    float scale;    // rsqrt(mean(x^2) + eps) with g
};

__device__ __forceinline__ float4 fu_load4(const fu_in &in, int64_t i4)
{
    float4 t = ((const float4 *)in.x)[i4];
    if (in.g) {
        const float4 g = ((const float4 *)in.g)[i4];
        t.x = t.x * in.scale * g.x, t.y = t.y * in.scale * g.y;
        t.z = t.z * in.scale * g.z, t.w = t.w * in.scale * g.w;
    }
    return t;
}

template <int T>
__device__ float row_half(const dweight &w, int64_t r, const fu_in &in, int lane)
{
    const uint4 *wr = (const uint4 *)(w.payload + r * w.payload_row);
    const int64_t n8 = w.n_in >> 3;
    float acc = 0;
    for (int64_t i0 = lane; i0 < n8; i0 += 32 * FU_HALF_U) {
        // Long rows (past what prefetch_row fetched): keep FU_PF_BYTES ahead.
        const int64_t ahead = (i0 - lane) * 16 + FU_PF_BYTES + lane * 128;
        if (lane < FU_HALF_U * 4 && ahead < w.payload_row) prefetch_l2_line((const uint8_t *)wr + ahead);
        uint4 wv[FU_HALF_U];
#pragma unroll
        for (int u = 0; u < FU_HALF_U; u++) {
            const int64_t i = i0 + 32 * u;
            wv[u] = i < n8 ? ld_stream(wr + i) : make_uint4(0, 0, 0, 0);
        }
#pragma unroll
        for (int u = 0; u < FU_HALF_U; u++) {
            const int64_t i = i0 + 32 * u;
            if (i < n8) acc += dot8<T>(wv[u], fu_load4(in, 2 * i), fu_load4(in, 2 * i + 1));
        }
    }
    return warp_sum(acc);
}

template <int T>
__device__ float row_q8(const dweight &w, int64_t r, const int8_t *sxq, const float2 *sxds, int lane)
{
    const int64_t nc = w.n_in >> 5;
    float acc = 0;
#pragma unroll 2
    for (int64_t c = lane; c < nc; c += 32) {
        const int4 *xp = (const int4 *)(sxq + (c << 5));
        const int4 x0 = xp[0], x1 = xp[1];
        const int xi[8] = {x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w};
        acc += dotq<T>(w, r, c, xi, sxds[c]);
    }
    return warp_sum(acc);
}

template <int T>
__device__ float row_f(const dweight &w, int64_t r, const fu_in &in, int lane)
{
    const int64_t nc = w.n_in >> 5;
    float acc = 0;
    for (int64_t c = lane; c < nc; c += 32) {
        float v[32];
        dq32<T>(w, r, c, v);
#pragma unroll
        for (int k = 0; k < 8; k++) {
            const float4 t = fu_load4(in, c * 8 + k);
            acc = fmaf(v[4 * k], t.x, acc);
            acc = fmaf(v[4 * k + 1], t.y, acc);
            acc = fmaf(v[4 * k + 2], t.z, acc);
            acc = fmaf(v[4 * k + 3], t.w, acc);
        }
    }
    return warp_sum(acc);
}

__device__ float row_dot(const dweight &w, int64_t r, const fu_in &in, const int8_t *sxq,
                         const float2 *sxds, int lane)
{
    switch (w.type) {
    case DTYPE_BF16: return row_half<DTYPE_BF16>(w, r, in, lane);
    case DTYPE_F16: return row_half<DTYPE_F16>(w, r, in, lane);
    case DTYPE_Q8_0: return row_q8<DTYPE_Q8_0>(w, r, sxq, sxds, lane);
    case DTYPE_Q4_0: return row_q8<DTYPE_Q4_0>(w, r, sxq, sxds, lane);
    case DTYPE_Q4_K: return row_q8<DTYPE_Q4_K>(w, r, sxq, sxds, lane);
    case DTYPE_Q6_K: return row_q8<DTYPE_Q6_K>(w, r, sxq, sxds, lane);
    case DTYPE_F32: return row_f<DTYPE_F32>(w, r, in, lane);
    case DTYPE_Q4_1: return row_f<DTYPE_Q4_1>(w, r, in, lane);
    case DTYPE_Q5_0: return row_f<DTYPE_Q5_0>(w, r, in, lane);
    case DTYPE_Q5_K: return row_f<DTYPE_Q5_K>(w, r, in, lane);
    default: return 0.0f;
    }
}

__device__ void dq32_any(const dweight &w, int64_t r, int64_t c, float *v)
{
#define FU_DQ(T) dq32<T>(w, r, c, v)
    DISPATCH_TYPE(w.type, FU_DQ)
#undef FU_DQ
}

// ---------------------------------------------------------------------------
// Products

// Matrices sharing an input with their outputs concatenated (a dgroup, or
// one matrix).
struct fu_mats {
    const dweight *part;
    const int64_t *off; // first output row of each part
    int n;
};

__device__ const int64_t fu_zero_off[3] = {0, 0, 0};

__device__ __forceinline__ fu_mats mats_of(const dgroup &g)
{
    return {g.part, g.out_off, g.n_parts};
}

__device__ __forceinline__ fu_mats mats_of(const dweight &w)
{
    return {&w, fu_zero_off, 1};
}

__device__ __forceinline__ int part_of(const fu_mats &m, int64_t R, int64_t *r)
{
    int i = 0;
    while (i + 1 < m.n && R >= m.off[i + 1])
        i++;
    *r = R - m.off[i];
    return i;
}

__device__ bool mats_int8(const fu_mats &m)
{
    for (int i = 0; i < m.n; i++)
        if (is_int8_type(m.part[i].type)) return true;
    return false;
}

// The input as int8 blocks of 32 in shared memory, rounded as
// kernels.cu's prep kernel rounds it: d = max |v| / 127, q = round(v / d).
__device__ void stage_int8(const fu_in &in, int64_t n, int8_t *sxq, float2 *sxds)
{
    // Lane l holds elements 4l..4l+3 of a warp's 128; lanes 8j..8j+7 make
    // block j of 32. FU_STAGE_U loads in flight per lane before the first use.
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const float4 *x4 = (const float4 *)in.x, *g4 = (const float4 *)in.g;
    for (int64_t base = (int64_t)warp * 128; base < n; base += (int64_t)FU_WARPS * 128 * FU_STAGE_U) {
        float4 v[FU_STAGE_U];
#pragma unroll
        for (int u = 0; u < FU_STAGE_U; u++) {
            const int64_t i = base + (int64_t)u * FU_WARPS * 128 + 4 * lane;
            v[u] = i < n ? x4[i >> 2] : make_float4(0, 0, 0, 0);
            if (in.g && i < n) {
                const float4 g = g4[i >> 2];
                v[u].x = v[u].x * in.scale * g.x, v[u].y = v[u].y * in.scale * g.y;
                v[u].z = v[u].z * in.scale * g.z, v[u].w = v[u].w * in.scale * g.w;
            }
        }
#pragma unroll
        for (int u = 0; u < FU_STAGE_U; u++) {
            const int64_t i = base + (int64_t)u * FU_WARPS * 128 + 4 * lane;
            float amax = fmaxf(fmaxf(fabsf(v[u].x), fabsf(v[u].y)), fmaxf(fabsf(v[u].z), fabsf(v[u].w)));
#pragma unroll
            for (int o = 1; o < 8; o <<= 1)
                amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
            const float d = amax / 127.0f;
            int q0 = 0, q1 = 0, q2 = 0, q3 = 0;
            if (amax > 0.0f) {
                q0 = __float2int_rn(v[u].x / d), q1 = __float2int_rn(v[u].y / d);
                q2 = __float2int_rn(v[u].z / d), q3 = __float2int_rn(v[u].w / d);
            }
            int qs = q0 + q1 + q2 + q3;
#pragma unroll
            for (int o = 1; o < 8; o <<= 1)
                qs += __shfl_xor_sync(0xffffffffu, qs, o);
            if (i < n) {
                ((int *)sxq)[i >> 2] = (int)((uint32_t)(uint8_t)q0 | (uint32_t)(uint8_t)q1 << 8 |
                                             (uint32_t)(uint8_t)q2 << 16 | (uint32_t)(uint8_t)q3 << 24);
                if ((lane & 7) == 0) sxds[i >> 5] = make_float2(d, d * (float)qs);
            }
        }
    }
    __syncthreads();
}

enum { FU_PLAIN = 0, FU_RESID = 1, FU_SWIGLU = 2 };

// y[R] for R < n_rows: FU_PLAIN W x; FU_RESID resid + W x (squares into
// *ss_out); FU_SWIGLU silu(row R) * row R + n_rows.
__device__ __noinline__ void phase_matvec(const fu_mats &m, int64_t n_rows, const fu_in &in, int mode, float *y,
                             const float *resid, float *ss_out, int8_t *sxq, float2 *sxds)
{
    const int64_t n_in = m.part[0].n_in;
    if (mats_int8(m)) stage_int8(in, n_in, sxq, sxds);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int64_t gw = (int64_t)warp * gridDim.x + blockIdx.x, tw = (int64_t)FU_WARPS * gridDim.x;
    float sq = 0;
    for (int64_t R = gw; R < n_rows; R += tw) {
        if (R + tw < n_rows) {
            int64_t rn;
            prefetch_row(m.part[part_of(m, R + tw, &rn)], rn, lane);
            if (mode == FU_SWIGLU) prefetch_row(m.part[part_of(m, R + tw + n_rows, &rn)], rn, lane);
        }
        int64_t r;
        const dweight w = m.part[part_of(m, R, &r)];
        const float v = row_dot(w, r, in, sxq, sxds, lane);
        if (mode == FU_SWIGLU) {
            int64_t r2;
            const dweight w2 = m.part[part_of(m, R + n_rows, &r2)];
            const float u = row_dot(w2, r2, in, sxq, sxds, lane);
            if (lane == 0) y[R] = v / (1.0f + expf(-v)) * u;
        } else if (mode == FU_RESID) {
            const float t = resid[R] + v;
            if (lane == 0) y[R] = t;
            sq = fmaf(t, t, sq);
        } else if (lane == 0) {
            y[R] = v;
        }
    }
    if (ss_out) block_sum_add(lane == 0 ? sq : 0.0f, ss_out);
}

// While waiting at a barrier: the first 4 KB of this warp's first row of
// the next product (and, for the SwiGLU pair, of its up row) into L2.
__device__ void prefetch_next(const fu_mats &m, int64_t n_rows, bool pair)
{
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int64_t gw = (int64_t)warp * gridDim.x + blockIdx.x;
    if (gw >= n_rows) return;
    for (int k = 0; k < (pair ? 2 : 1); k++) {
        int64_t r;
        const dweight &w = m.part[part_of(m, gw + k * n_rows, &r)];
        const int64_t off = (int64_t)lane * 128;
        if (off < w.payload_row) prefetch_l2_line(w.payload + r * w.payload_row + off);
    }
}

// ---------------------------------------------------------------------------
// Attention

struct fu_attn_smem {
    float q[FU_HD_MAX];  // roped query, times 1/sqrt(hd)
    float kn[FU_HD_MAX]; // the new key and value (f16-rounded, as cached)
    float vn[FU_HD_MAX];
    float tmp[FU_HD_MAX];
    float p[FU_SPLIT];   // softmax weights of the split's keys
    float part[FU_WARPS][FU_HD_MAX];
    int last;
};

// dst[d] = mul * rope(norm(src + bias)) for d < hd, by the whole block
// (the rope_kv kernel's arithmetic).
__device__ void head_vec(const fused_args &a, const float *src, const float *bias, const float *nrm,
                         bool rope, float mul, int64_t p, float *tmp, float *dst)
{
    const int64_t hd = a.hd, d = threadIdx.x;
    const bool active = d < hd;
    float x = active ? src[d] + (bias ? bias[d] : 0.0f) : 0.0f;
    if (nrm) {
        const float ss = block_reduce(x * x, 0);
        if (active) x = x * rsqrtf(ss / (float)hd + a.eps) * nrm[d];
    }
    if (rope) {
        if (active) tmp[d] = x;
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
            const float x0 = tmp[d0], x1 = tmp[d1];
            x = d == d0 ? x0 * c - x1 * s : x1 * c + x0 * s;
        }
    }
    if (active) dst[d] = x * mul;
    __syncthreads();
}

// Query head h over keys of split s (of n_split, the first s_first) of
// layer l; the split holding position p also takes the new key and value.
__device__ __noinline__ void attn_item(const fused_args &a, const dlayer &L, int64_t l, int64_t h, int64_t s,
                          int64_t s_first, int64_t n_split, int64_t p, int64_t p_lo,
                          fu_attn_smem &sm)
{
    const int64_t hd = a.hd, G = a.H / a.KVH, kvh = h / G;
    const int64_t QD = a.H * hd, KD = a.KVH * hd;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const float *qkv = a.qkv + l * (QD + 2 * KD);
    const int64_t cache_head = (int64_t)a.n_ctx * hd;
    __half *K = a.kv + (l * a.KVH + kvh) * cache_head;
    __half *V = a.kv + ((a.n_layer + l) * a.KVH + kvh) * cache_head;
    head_vec(a, qkv + h * hd, L.bias ? L.bias + h * hd : NULL, L.q_norm, true, rsqrtf((float)hd), p,
             sm.tmp, sm.q);
    const bool has_new = s == s_first + n_split - 1;
    if (has_new) {
        head_vec(a, qkv + QD + kvh * hd, L.bias ? L.bias + QD + kvh * hd : NULL, L.k_norm, true, 1.0f,
                 p, sm.tmp, sm.kn);
        head_vec(a, qkv + QD + KD + kvh * hd, L.bias ? L.bias + QD + KD + kvh * hd : NULL, NULL, false,
                 1.0f, p, sm.tmp, sm.vn);
        if (tid < hd) {
            const __half kh = __float2half_rn(sm.kn[tid]), vh = __float2half_rn(sm.vn[tid]);
            sm.kn[tid] = __half2float(kh);
            sm.vn[tid] = __half2float(vh);
            if (h % G == 0) { // one writer per KV head; the others use their own copy
                K[p * hd + tid] = kh;
                V[p * hd + tid] = vh;
            }
        }
        __syncthreads();
    }
    int64_t lo = s * FU_SPLIT, hi = lo + FU_SPLIT - 1;
    if (lo < p_lo) lo = p_lo;
    if (hi > p) hi = p;
    const int n_keys = (int)(hi - lo + 1); // 1 .. FU_SPLIT
    // Scores: threads 2k and 2k + 1 take the halves of key k's row, their
    // loads unrolled so that a row costs one memory latency.
    float sc = -INFINITY;
    {
        const int kk = tid >> 1, half = tid & 1;
        const int64_t key = lo + kk, hh = hd / 2;
        float d0 = 0, d1 = 0;
        if (kk < n_keys && key == p) {
            for (int64_t d = half * hh; d < (half + 1) * hh; d += 2) {
                d0 = fmaf(sm.kn[d], sm.q[d], d0);
                d1 = fmaf(sm.kn[d + 1], sm.q[d + 1], d1);
            }
        } else if (kk < n_keys) {
            const uint4 *kr = (const uint4 *)(K + key * hd + half * hh);
            const float *qh = sm.q + half * hh;
            for (int64_t j0 = 0; j0 < hh / 8; j0 += 8) { // 8 loads in flight
                uint4 u[8];
#pragma unroll
                for (int j = 0; j < 8; j++)
                    if (j0 + j < hh / 8) u[j] = kr[j0 + j];
#pragma unroll
                for (int j = 0; j < 8; j++) {
                    if (j0 + j >= hh / 8) break;
                    const uint32_t w4[4] = {u[j].x, u[j].y, u[j].z, u[j].w};
#pragma unroll
                    for (int i = 0; i < 4; i++) {
                        const float2 kf = __half22float2(*(const __half2 *)&w4[i]);
                        d0 = fmaf(kf.x, qh[8 * (j0 + j) + 2 * i], d0);
                        d1 = fmaf(kf.y, qh[8 * (j0 + j) + 2 * i + 1], d1);
                    }
                }
            }
        }
        float part = d0 + d1;
        part += __shfl_xor_sync(0xffffffffu, part, 1);
        if (kk < n_keys && half == 0) sc = part;
    }
    const float m = block_reduce(sc, 1);
    const bool owner = (tid & 1) == 0 && (tid >> 1) < n_keys;
    const float e = owner ? expf(sc - m) : 0.0f;
    if (owner) sm.p[tid >> 1] = e;
    const float lsum = block_reduce(e, 0); // its barriers also publish sm.p
    // Values: warp w takes keys w, w + 8, ...; lane l the pairs l, l + 32, ...
    float2 acc[FU_HD_MAX / 64];
#pragma unroll
    for (int j = 0; j < FU_HD_MAX / 64; j++)
        acc[j] = make_float2(0, 0);
    const int64_t pairs = hd / 2;
#pragma unroll 4
    for (int k = warp; k < n_keys; k += FU_WARPS) {
        const float ek = sm.p[k];
        const int64_t key = lo + k;
#pragma unroll
        for (int j = 0; j < FU_HD_MAX / 64; j++) {
            const int64_t d2 = lane + 32 * j;
            if (d2 < pairs) {
                float2 v;
                if (key == p) v = make_float2(sm.vn[2 * d2], sm.vn[2 * d2 + 1]);
                else v = __half22float2(((const __half2 *)(V + key * hd))[d2]);
                acc[j].x = fmaf(ek, v.x, acc[j].x);
                acc[j].y = fmaf(ek, v.y, acc[j].y);
            }
        }
    }
#pragma unroll
    for (int j = 0; j < FU_HD_MAX / 64; j++) {
        const int64_t d2 = lane + 32 * j;
        if (d2 < pairs) {
            sm.part[warp][2 * d2] = acc[j].x;
            sm.part[warp][2 * d2 + 1] = acc[j].y;
        }
    }
    __syncthreads();
    float o = 0;
    if (tid < hd) {
#pragma unroll
        for (int w = 0; w < FU_WARPS; w++)
            o += sm.part[w][tid];
    }
    float *att = a.att + l * QD + h * hd;
    if (n_split == 1) {
        if (tid < hd) att[tid] = o / lsum;
        __syncthreads();
        return;
    }
    // Flash-decoding: the partial of this split; the head's last split to
    // finish merges them all.
    const int64_t k_idx = s - s_first;
    float *op = a.o_part + (h * a.max_split + k_idx) * hd;
    float *ml = a.ml_part + (h * a.max_split) * 2;
    if (tid < hd) op[tid] = o;
    if (tid == 0) ml[2 * k_idx] = m, ml[2 * k_idx + 1] = lsum;
    __threadfence();
    __syncthreads();
    if (tid == 0) sm.last = atomicAdd(&a.head_cnt[h], 1u) == (unsigned)(n_split - 1);
    __syncthreads();
    if (sm.last) {
        __threadfence();
        float M = -INFINITY;
        for (int64_t k = 0; k < n_split; k++)
            M = fmaxf(M, __ldcg(ml + 2 * k));
        if (tid < hd) {
            float num = 0, den = 0;
            for (int64_t k = 0; k < n_split; k++) {
                const float f = expf(__ldcg(ml + 2 * k) - M);
                num += f * __ldcg(a.o_part + (h * a.max_split + k) * hd + tid);
                den += f * __ldcg(ml + 2 * k + 1);
            }
            att[tid] = num / den;
        }
        if (tid == 0) a.head_cnt[h] = 0; // for the next layer
    }
    __syncthreads();
}

__device__ void phase_attention(const fused_args &a, const dlayer &L, int64_t l, int64_t p,
                                fu_attn_smem &sm)
{
    const int64_t p_lo = L.window > 0 && p - L.window + 1 > 0 ? p - L.window + 1 : 0;
    const int64_t s_first = p_lo / FU_SPLIT, n_split = p / FU_SPLIT - s_first + 1;
    for (int64_t it = blockIdx.x; it < a.H * n_split; it += gridDim.x)
        attn_item(a, L, l, it % a.H, s_first + it / a.H, s_first, n_split, p, p_lo, sm);
}

// ---------------------------------------------------------------------------
// The step

__global__ void __launch_bounds__(FU_THREADS, FU_MIN_BLOCKS)
fused_decode_kernel(const __grid_constant__ fused_args a)
{
    extern __shared__ __align__(16) uint8_t fu_dyn[];
    __shared__ fu_attn_smem sm;
    int8_t *sxq = (int8_t *)fu_dyn;
    float2 *sxds = (float2 *)(fu_dyn + ((a.widest + 15) & ~15LL));
    unsigned target = 0;
    fu_trace(a.trace, 0);
    const int64_t p = *a.pos, D = a.D;
    const int64_t QKV = (a.H + 2 * a.KVH) * a.hd;
    const int64_t gt = (int64_t)blockIdx.x * FU_THREADS + threadIdx.x, nt = (int64_t)gridDim.x * FU_THREADS;

    // The first block's input and its sum of squares.
    const float *x = a.with_embd ? a.x0 : a.x_in;
    {
        float sq = 0;
        if (a.with_embd) {
            const int64_t tok = a.tokens[0];
            for (int64_t c = gt; c < (D >> 5); c += nt) {
                float v[32];
                dq32_any(a.embd, tok, c, v);
#pragma unroll
                for (int j = 0; j < 32; j++) {
                    a.x0[c * 32 + j] = v[j];
                    sq = fmaf(v[j], v[j], sq);
                }
            }
        } else {
            for (int64_t i = gt; i < D; i += nt)
                sq = fmaf(a.x_in[i], a.x_in[i], sq);
        }
        block_sum_add(sq, a.ss);
    }
    prefetch_next(mats_of(a.layers[0].qkv), QKV, false);
    grid_barrier(a.bar, target, a.trace);

    for (int64_t l = 0; l < a.n_layer; l++) {
        const dlayer &L = a.layers[l];
        float *xa = a.xa + l * D, *xf = a.xf + l * D, *hb = a.hb + l * a.F;
        const float *ssv = a.ss + 2 * l;
        // A: q|k|v
        fu_in in = {x, L.attn_norm, rsqrtf(__ldcg(ssv) / (float)D + a.eps)};
        phase_matvec(mats_of(L.qkv), QKV, in, FU_PLAIN, a.qkv + l * QKV, NULL, NULL, sxq, sxds);
        prefetch_next(mats_of(L.wo), D, false);
        grid_barrier(a.bar, target, a.trace);
        // B: attention
        phase_attention(a, L, l, p, sm);
        grid_barrier(a.bar, target, a.trace);
        // C: o projection and the residual
        in = {a.att + l * a.H * a.hd, NULL, 1.0f};
        phase_matvec(mats_of(L.wo), D, in, FU_RESID, xa, x, a.ss + 2 * l + 1, sxq, sxds);
        prefetch_next(mats_of(L.gate_up), a.F, true);
        grid_barrier(a.bar, target, a.trace);
        // D: gate|up with SwiGLU
        in = {xa, L.ffn_norm, rsqrtf(__ldcg(a.ss + 2 * l + 1) / (float)D + a.eps)};
        phase_matvec(mats_of(L.gate_up), a.F, in, FU_SWIGLU, hb, NULL, NULL, sxq, sxds);
        prefetch_next(mats_of(L.down), D, false);
        grid_barrier(a.bar, target, a.trace);
        // E: down and the residual
        in = {hb, NULL, 1.0f};
        phase_matvec(mats_of(L.down), D, in, FU_RESID, xf, xa, a.ss + 2 * l + 2, sxq, sxds);
        if (l + 1 < a.n_layer) prefetch_next(mats_of(a.layers[l + 1].qkv), QKV, false);
        else if (a.with_output) prefetch_next(mats_of(a.out), a.V, false);
        x = xf;
        if (l + 1 < a.n_layer || a.with_output) grid_barrier(a.bar, target, a.trace);
    }
    if (a.with_output) {
        const fu_in in = {x, a.out_norm, rsqrtf(__ldcg(a.ss + 2 * a.n_layer) / (float)D + a.eps)};
        phase_matvec(mats_of(a.out), a.V, in, FU_PLAIN, a.logits, NULL, NULL, sxq, sxds);
    }
    __syncthreads();
    fu_trace(a.trace, target + 1); // block 0's own end
}

// ---------------------------------------------------------------------------
// Host side

uint64_t fused_buffer_bytes(int64_t n_layer, int64_t D, int64_t H, int64_t KVH, int64_t hd, int64_t F)
{
    const int64_t QD = H * hd, KD = KVH * hd;
    return (uint64_t)(D + n_layer * (2 * D + QD + 2 * KD + QD + F)) * 4;
}

bool fused_setup(int64_t widest, int64_t hd, int *grid, size_t *smem, char *why, size_t whyn)
{
    // Opt-in: on an H100 it is slower than the separate kernels in a CUDA
    // graph (bench/results/cuda.md, runs 7-9).
    const char *env = getenv("RIGHTSIZE_CUDA_FUSED");
    if (!env || strcmp(env, "1") != 0) {
        snprintf(why, whyn, "off (RIGHTSIZE_CUDA_FUSED=1 turns it on)");
        return false;
    }
    if (hd > FU_HD_MAX || hd % 8 != 0) {
        snprintf(why, whyn, "head_dim %lld (needs a multiple of 8 up to %d)", (long long)hd, FU_HD_MAX);
        return false;
    }
    int dev = 0, coop = 0, sms = 0, per_sm = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&coop, cudaDevAttrCooperativeLaunch, dev) != cudaSuccess || !coop ||
        cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) {
        cudaGetLastError();
        snprintf(why, whyn, "no cooperative launch on this device");
        return false;
    }
    *smem = (size_t)((widest + 15) & ~15LL) + (size_t)(widest / 32) * 8;
    if (cudaFuncSetAttribute(fused_decode_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             (int)*smem) != cudaSuccess ||
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, fused_decode_kernel, FU_THREADS,
                                                      *smem) != cudaSuccess ||
        per_sm < 1) {
        cudaGetLastError();
        snprintf(why, whyn, "inputs of %lld do not fit shared memory", (long long)widest);
        return false;
    }
    *grid = per_sm * sms;
    return true;
}

int fused_launch(const fused_args &a, cudaStream_t s, char *err, size_t errn)
{
    CU(cudaMemsetAsync(a.ss, 0, fused_state_bytes(a.n_layer), s));
    void *args[] = {(void *)&a};
    CU(cudaLaunchCooperativeKernel((const void *)fused_decode_kernel, dim3((unsigned)a.grid),
                                   dim3(FU_THREADS), args, a.smem, s));
    return 0;
}
