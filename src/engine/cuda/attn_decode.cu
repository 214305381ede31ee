// Decode attention in one kernel per block of the model: bias, per-head
// norms and RoPE of the token's q (and, in the split holding its position,
// of its k and v, which the first q head of each KV group writes to the
// cache), flash-decoding over splits of 64 keys, and the merge of the
// splits by whichever block of a head finishes last. It replaces the
// rope_kv, attn_split and attn_combine launches of a decode step (run 10:
// 35 us of every 224 us block of a 7B's step went to those three, mostly
// waiting on one load after another).
//
// Every load a thread needs is issued before the first is used: a key row
// (two threads per key, half a row each), the values of a warp's keys
// (lanes over dimensions), the partials in the merge.

#include <math.h>

#include "engine/cuda/common.cuh"
#include "engine/cuda/dequant.cuh" // warp reductions

#define AD_THREADS 128
#define AD_WARPS (AD_THREADS / 32)
#define AD_KEYS_PER_WARP (DECODE_SPLIT_KEYS / AD_WARPS)

struct ad_smem {
    float q[128], kn[128], vn[128], tq[128], tk[128];
    float p[DECODE_SPLIT_KEYS];
    float part[AD_WARPS][128];
    float red[AD_WARPS];
    int last;
};

// Sum (op 0) or max (op 1) over the block, in every thread.
__device__ __forceinline__ float ad_reduce(float v, int op, float *red)
{
    v = op ? warp_max(v) : warp_sum(v);
    __syncthreads(); // red may still be read by an earlier reduction
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
    __syncthreads();
    float r = red[0];
#pragma unroll
    for (int i = 1; i < AD_WARPS; i++)
        r = op ? fmaxf(r, red[i]) : r + red[i];
    return r;
}

// The rotation of element d of a head held in t (rope_kv_kernel's).
__device__ __forceinline__ float ad_rope(const attn_decode_args &a, const float *t, int d, float c,
                                         float s)
{
    const int half = (int)a.rope_dim / 2;
    int d0, d1;
    if (a.interleaved) d0 = d & ~1, d1 = d0 + 1;
    else d0 = d < half ? d : d - half, d1 = d0 + half;
    return d == d0 ? t[d0] * c - t[d1] * s : t[d1] * c + t[d0] * s;
}

// Programmatic dependent launch (matvec_pdl, kernels.cu): the o
// projection after this kernel may start and fetch its weights at once
// (begin); this kernel, launched while the q|k|v product still runs, loads
// only what that product does not write (the position, the cached keys and
// values of earlier tokens) before it waits for it. Without the launch
// attribute both return at once.
__device__ __forceinline__ void ad_pdl_begin()
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

__device__ __forceinline__ void ad_pdl_wait()
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

template <int DPL> // head dimensions per lane in the value sums: hd / 32
__global__ void __launch_bounds__(AD_THREADS) attn_decode_kernel(attn_decode_args a)
{
    __shared__ ad_smem sm;
    ad_pdl_begin();
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int hd = 32 * DPL;
    const int64_t h = blockIdx.x, sp = blockIdx.y, G = a.H / a.KVH, kvh = h / G;
    const int64_t p = *a.pos, QD = a.H * hd, KD = a.KVH * hd;
    const int64_t p_lo = a.window > 0 && p - a.window + 1 > 0 ? p - a.window + 1 : 0;
    // Splits outside the causal window have nothing to add: they leave at
    // once and are not waited for.
    const int64_t s_first = p_lo / DECODE_SPLIT_KEYS, s_last = p / DECODE_SPLIT_KEYS;
    if (sp < s_first || sp > s_last) return;
    const int64_t n_active = s_last - s_first + 1;
    int64_t lo = sp * DECODE_SPLIT_KEYS, hi = lo + DECODE_SPLIT_KEYS - 1;
    if (lo < p_lo) lo = p_lo;
    if (hi > p) hi = p;
    const int n_keys = (int)(hi - lo + 1); // at least 1
    const bool has_new = hi == p;
    __half *K = a.k_cache + kvh * a.n_ctx * hd, *V = a.v_cache + kvh * a.n_ctx * hd;
    // The cached rows of earlier tokens, loaded while the q|k|v product
    // may still run: this thread's half of one key row (scores), and one
    // slice per key of its warp (values, DPL halves: uint2 or its .x).
    const int s_kk = tid >> 1, s_half = tid & 1;
    const bool s_cached = s_kk < n_keys && lo + s_kk != p;
    uint4 ku[DPL * 2];
    {
        const uint4 *kr = (const uint4 *)(K + (lo + s_kk) * hd + s_half * (hd / 2));
#pragma unroll
        for (int j = 0; j < DPL * 2; j++)
            ku[j] = s_cached ? kr[j] : make_uint4(0, 0, 0, 0);
    }
    uint2 vraw[AD_KEYS_PER_WARP];
#pragma unroll
    for (int i = 0; i < AD_KEYS_PER_WARP; i++) {
        const int kk = warp + AD_WARPS * i;
        const int64_t key = lo + kk;
        vraw[i] = make_uint2(0, 0);
        if (kk < n_keys && key != p) {
            const __half *vr = V + key * hd + DPL * lane;
            if constexpr (DPL == 4) vraw[i] = *(const uint2 *)vr;
            else vraw[i].x = *(const uint32_t *)vr;
        }
    }
    // The rotation of this thread's dimension (d = tid) at position p.
    float rc = 1.0f, rs = 0.0f;
    if (tid < a.rope_dim) {
        const int d = tid;
        const int i = a.interleaved ? d >> 1 : (d < a.rope_dim / 2 ? d : d - (int)a.rope_dim / 2);
        const float angle = (float)p * a.inv_freq[i];
        rc = cosf(angle) * a.attn_factor, rs = sinf(angle) * a.attn_factor;
    }
    ad_pdl_wait();
    float m, lsum, o = 0;
    {
        // q (and the new k, v): all three loads first.
        const int d = tid;
        const bool act = d < hd;
        float qv = 0, kv = 0, vv = 0;
        if (act) {
            qv = a.qkv[h * hd + d] + (a.bias ? a.bias[h * hd + d] : 0.0f);
            if (has_new) {
                kv = a.qkv[QD + kvh * hd + d] + (a.bias ? a.bias[QD + kvh * hd + d] : 0.0f);
                vv = a.qkv[QD + KD + kvh * hd + d] + (a.bias ? a.bias[QD + KD + kvh * hd + d] : 0.0f);
            }
        }
        if (a.q_norm) {
            const float ss = ad_reduce(qv * qv, 0, sm.red);
            if (act) qv = qv * rsqrtf(ss / (float)hd + a.eps) * a.q_norm[d];
        }
        if (has_new && a.k_norm) {
            const float ss = ad_reduce(kv * kv, 0, sm.red);
            if (act) kv = kv * rsqrtf(ss / (float)hd + a.eps) * a.k_norm[d];
        }
        if (act) sm.tq[d] = qv, sm.tk[d] = kv;
        __syncthreads();
        if (act) {
            if (d < a.rope_dim) {
                qv = ad_rope(a, sm.tq, d, rc, rs);
                if (has_new) kv = ad_rope(a, sm.tk, d, rc, rs);
            }
            sm.q[d] = qv * rsqrtf((float)hd);
            if (has_new) {
                const __half kh = __float2half_rn(kv), vh = __float2half_rn(vv);
                sm.kn[d] = __half2float(kh), sm.vn[d] = __half2float(vh);
                if (h % G == 0) { // one writer per KV head; the others keep their copy
                    K[p * hd + d] = kh;
                    V[p * hd + d] = vh;
                }
            }
        }
        __syncthreads();

        // Scores: threads 2k, 2k + 1 take the halves of key k's row.
        float sc = -INFINITY;
        {
            const int kk = tid >> 1, half = tid & 1;
            const int64_t key = lo + kk;
            const int hh = hd / 2;
            float acc = 0;
            if (kk < n_keys && key == p) {
#pragma unroll
                for (int j = 0; j < hh; j++)
                    acc = fmaf(sm.kn[half * hh + j], sm.q[half * hh + j], acc);
            } else if (kk < n_keys) {
#pragma unroll
                for (int j = 0; j < DPL * 2; j++) {
                    const uint32_t w4[4] = {ku[j].x, ku[j].y, ku[j].z, ku[j].w};
#pragma unroll
                    for (int i = 0; i < 4; i++) {
                        const float2 kf = __half22float2(*(const __half2 *)&w4[i]);
                        acc = fmaf(kf.x, sm.q[half * hh + 8 * j + 2 * i], acc);
                        acc = fmaf(kf.y, sm.q[half * hh + 8 * j + 2 * i + 1], acc);
                    }
                }
            }
            acc += __shfl_xor_sync(0xffffffffu, acc, 1);
            if (kk < n_keys && half == 0) sc = acc;
        }
        m = ad_reduce(sc, 1, sm.red);
        const bool owner = (tid & 1) == 0 && (tid >> 1) < n_keys;
        const float e = owner ? expf(sc - m) : 0.0f;
        if (owner) sm.p[tid >> 1] = e;
        lsum = ad_reduce(e, 0, sm.red); // its barriers publish sm.p too

        // Values: warp w sums keys w, w + 4, ...; lane l dimensions
        // DPL l .. DPL l + DPL - 1, every key's slice loaded first.
        float acc[DPL];
#pragma unroll
        for (int j = 0; j < DPL; j++)
            acc[j] = 0;
        float vs[AD_KEYS_PER_WARP][DPL];
#pragma unroll
        for (int i = 0; i < AD_KEYS_PER_WARP; i++) {
            const int kk = warp + AD_WARPS * i;
            const int64_t key = lo + kk;
            if (kk < n_keys && key != p) {
                if constexpr (DPL == 4) {
                    const uint2 t = vraw[i];
                    const float2 f0 = __half22float2(*(const __half2 *)&t.x);
                    const float2 f1 = __half22float2(*(const __half2 *)&t.y);
                    vs[i][0] = f0.x, vs[i][1] = f0.y, vs[i][2] = f1.x, vs[i][3] = f1.y;
                } else {
                    const float2 f0 = __half22float2(*(const __half2 *)&vraw[i].x);
                    vs[i][0] = f0.x, vs[i][1] = f0.y;
                }
            } else if (kk < n_keys) {
#pragma unroll
                for (int j = 0; j < DPL; j++)
                    vs[i][j] = sm.vn[DPL * lane + j];
            } else {
#pragma unroll
                for (int j = 0; j < DPL; j++)
                    vs[i][j] = 0;
            }
        }
#pragma unroll
        for (int i = 0; i < AD_KEYS_PER_WARP; i++) {
            const int kk = warp + AD_WARPS * i;
            const float ek = kk < n_keys ? sm.p[kk] : 0.0f;
#pragma unroll
            for (int j = 0; j < DPL; j++)
                acc[j] = fmaf(ek, vs[i][j], acc[j]);
        }
#pragma unroll
        for (int j = 0; j < DPL; j++)
            sm.part[warp][DPL * lane + j] = acc[j];
        __syncthreads();
        if (tid < hd) {
#pragma unroll
            for (int w = 0; w < AD_WARPS; w++)
                o += sm.part[w][tid];
        }
    }
    // This split's partial, then the head's last block to finish merges.
    const int64_t pi = h * a.n_split + sp;
    if (tid < hd) a.o_part[pi * hd + tid] = o;
    if (tid == 0) a.ml_part[2 * pi] = m, a.ml_part[2 * pi + 1] = lsum;
    __threadfence();
    __syncthreads();
    if (tid == 0) sm.last = atomicAdd(&a.done[h], 1u) == (unsigned)(n_active - 1);
    __syncthreads();
    if (!sm.last) return;
    __threadfence();
    if (tid < hd) {
        // The merge, per dimension in one pass of the online softmax: the
        // partials of 8 splits loaded at a time, no barrier.
        const float *ml = a.ml_part + (h * a.n_split + s_first) * 2;
        const float *op = a.o_part + (h * a.n_split + s_first) * hd + tid;
        float M = -INFINITY, den = 0, num = 0;
        for (int64_t s0 = 0; s0 < n_active; s0 += 8) {
            float ms[8], ls[8], os[8];
#pragma unroll
            for (int k = 0; k < 8; k++) {
                const bool in = s0 + k < n_active;
                ms[k] = in ? __ldcg(ml + 2 * (s0 + k)) : -INFINITY;
                ls[k] = in ? __ldcg(ml + 2 * (s0 + k) + 1) : 0.0f;
                os[k] = in ? __ldcg(op + (s0 + k) * hd) : 0.0f;
            }
            float nm = M;
#pragma unroll
            for (int k = 0; k < 8; k++)
                nm = fmaxf(nm, ms[k]);
            const float f = expf(M - nm); // 0 on the first pass (M = -inf, nm finite)
            den *= f, num *= f;
#pragma unroll
            for (int k = 0; k < 8; k++) {
                const float e = expf(ms[k] - nm);
                den = fmaf(e, ls[k], den);
                num = fmaf(e, os[k], num);
            }
            M = nm;
        }
        const float v = num / den;
        a.out[h * hd + tid] = v;
        if (a.xq) { // whole warps (hd % 32 == 0): one int8 block of 32 each
            const int64_t i = h * hd + tid;
            const float amax = warp_max(fabsf(v));
            const float dq = amax / 127.0f;
            const int q = amax > 0.0f ? __float2int_rn(v / dq) : 0;
            a.xq[i] = (int8_t)q;
            const int qs = warp_sum_i(q);
            if (lane == 0) a.xds[i >> 5] = make_float2(dq, dq * (float)qs);
        }
    }
    if (tid == 0) a.done[h] = 0; // for the next layer and step
}

bool launch_attention_decode(const attn_decode_args &a, cudaStream_t s)
{
    if (a.rope_dim > a.hd) return false;
    void (*k)(attn_decode_args);
    if (a.hd == 64) k = attn_decode_kernel<2>;
    else if (a.hd == 128) k = attn_decode_kernel<4>;
    else return false;
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3((unsigned)a.H, (unsigned)a.n_split);
    cfg.blockDim = dim3(AD_THREADS);
    cfg.stream = s;
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    at[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = at;
    cfg.numAttrs = matvec_pdl() ? 1 : 0;
    cudaLaunchKernelEx(&cfg, k, a);
    return true;
}
