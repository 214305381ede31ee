// Prefill attention: tiles of 64 queries of one head against tiles of 64
// keys, in shared memory, with an online softmax (flash attention, in
// fp32 on the CUDA cores). The decode kernel (kernels.cu) gives each query
// a block of its own that reads every key from L2 again; here each key
// tile is read once per 64 queries and every shared-memory value feeds
// four multiply-adds.
//
// A block of 256 threads is a 16 x 16 grid: thread (tx, ty) computes the
// scores of queries 4 ty .. 4 ty + 3 against keys 4 tx .. 4 tx + 3 of the
// tile, and owns output dimensions tx * hd/16 .. of the same queries.

#include <math.h>

#include "engine/cuda/common.cuh"

#define AP_QT 64
#define AP_KT 64
#define AP_THREADS 256
#define AP_HD_MAX 128
// Row strides of the transposed tiles, padded so that the threads writing
// one column hit different banks (Qs, Ks: multiples of 4 for float4 reads).
#define AP_QS (AP_QT + 4)
#define AP_KS (AP_KT + 4)
#define AP_PS (AP_QT + 1)

static size_t ap_smem_bytes(int64_t hd)
{
    // Qs[hd][QS], Ks[hd][KS], Vs[KT][hd], Ps[KT][PS], fp32
    return (size_t)(hd * AP_QS + hd * AP_KS + AP_KT * hd + AP_KT * AP_PS) * sizeof(float);
}

template <int DPT> // output dimensions per thread: hd / 16
__global__ void __launch_bounds__(AP_THREADS) attn_prefill_kernel(attn_args a)
{
    extern __shared__ __align__(16) float ap_sm[];
    const int hd = (int)a.hd;
    float *Qs = ap_sm, *Ks = Qs + hd * AP_QS, *Vs = Ks + hd * AP_KS, *Ps = Vs + AP_KT * hd;
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    const int64_t h = blockIdx.x, t0 = (int64_t)blockIdx.y * AP_QT;
    const int64_t kvh = h / (a.H / a.KVH), pos0 = *a.pos;
    const int64_t n_q = a.n - t0 < AP_QT ? a.n - t0 : AP_QT;
    const float scale = rsqrtf((float)hd);

    for (int i = tid; i < hd * AP_QT; i += AP_THREADS) {
        const int q = i / hd, d = i % hd; // global reads along d
        Qs[d * AP_QS + q] = q < n_q ? a.q[(t0 + q) * a.q_stride + h * hd + d] * scale : 0.0f;
    }
    const __half *K = a.k_cache + kvh * a.n_ctx * hd, *V = a.v_cache + kvh * a.n_ctx * hd;
    const int64_t p_first = pos0 + t0, p_last = pos0 + t0 + n_q - 1;
    int64_t k_lo = a.window > 0 && p_first - a.window + 1 > 0 ? p_first - a.window + 1 : 0;
    k_lo -= k_lo % AP_KT;

    float m[4], l[4], o[4][DPT];
#pragma unroll
    for (int i = 0; i < 4; i++) {
        m[i] = -INFINITY, l[i] = 0;
#pragma unroll
        for (int j = 0; j < DPT; j++)
            o[i][j] = 0;
    }
    for (int64_t k0 = k_lo; k0 <= p_last; k0 += AP_KT) {
        const int n_k = p_last - k0 + 1 < AP_KT ? (int)(p_last - k0 + 1) : AP_KT;
        __syncthreads(); // the previous tile's Ks, Vs, Ps are read
        for (int i = tid; i < hd * AP_KT / 2; i += AP_THREADS) {
            const int j = (2 * i) / hd, d = (2 * i) % hd;
            float2 kf = make_float2(0, 0), vf = make_float2(0, 0);
            if (j < n_k) {
                kf = __half22float2(*(const __half2 *)(K + (k0 + j) * hd + d));
                vf = __half22float2(*(const __half2 *)(V + (k0 + j) * hd + d));
            }
            Ks[d * AP_KS + j] = kf.x, Ks[(d + 1) * AP_KS + j] = kf.y;
            Vs[j * hd + d] = vf.x, Vs[j * hd + d + 1] = vf.y;
        }
        __syncthreads();
        float s[4][4];
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
            for (int j = 0; j < 4; j++)
                s[i][j] = 0;
#pragma unroll 4
        for (int d = 0; d < hd; d++) {
            const float4 q4 = *(const float4 *)(Qs + d * AP_QS + 4 * ty);
            const float4 k4 = *(const float4 *)(Ks + d * AP_KS + 4 * tx);
            const float qv[4] = {q4.x, q4.y, q4.z, q4.w}, kv[4] = {k4.x, k4.y, k4.z, k4.w};
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++)
                    s[i][j] = fmaf(qv[i], kv[j], s[i][j]);
        }
        // Causal and window masks, then the online softmax of each query row
        // (its 64 keys lie in the 16 threads of one half-warp).
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const int64_t qp = pos0 + t0 + 4 * ty + i;
            float rmax = -INFINITY;
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const int64_t kp = k0 + 4 * tx + j;
                const bool ok = 4 * ty + i < n_q && kp <= qp && (a.window <= 0 || kp > qp - a.window);
                if (!ok) s[i][j] = -INFINITY;
                rmax = fmaxf(rmax, s[i][j]);
            }
#pragma unroll
            for (int off = 1; off < 16; off <<= 1)
                rmax = fmaxf(rmax, __shfl_xor_sync(0xffffffffu, rmax, off));
            const float m_new = fmaxf(m[i], rmax);
            float rsum = 0;
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const float p = m_new == -INFINITY ? 0.0f : expf(s[i][j] - m_new);
                Ps[(4 * tx + j) * AP_PS + 4 * ty + i] = p;
                rsum += p;
            }
#pragma unroll
            for (int off = 1; off < 16; off <<= 1)
                rsum += __shfl_xor_sync(0xffffffffu, rsum, off);
            const float corr = m_new == -INFINITY ? 1.0f : expf(m[i] - m_new);
            l[i] = l[i] * corr + rsum;
            m[i] = m_new;
#pragma unroll
            for (int j = 0; j < DPT; j++)
                o[i][j] *= corr;
        }
        __syncthreads(); // Ps complete
#pragma unroll 4
        for (int k = 0; k < n_k; k++) {
            const float *pr = Ps + k * AP_PS + 4 * ty;
            const float pv[4] = {pr[0], pr[1], pr[2], pr[3]};
            float v[DPT];
#pragma unroll
            for (int j = 0; j < DPT; j += 4) {
                const float4 t = *(const float4 *)(Vs + k * hd + tx * DPT + j);
                v[j] = t.x, v[j + 1] = t.y, v[j + 2] = t.z, v[j + 3] = t.w;
            }
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < DPT; j++)
                    o[i][j] = fmaf(pv[i], v[j], o[i][j]);
        }
    }
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int q = 4 * ty + i;
        if (q >= n_q) continue;
        float *out = a.out + (t0 + q) * a.H * hd + h * hd + tx * DPT;
        const float inv = l[i] > 0 ? 1.0f / l[i] : 0.0f;
#pragma unroll
        for (int j = 0; j < DPT; j++)
            out[j] = o[i][j] * inv;
    }
}

template <int DPT> static bool ap_launch(const attn_args &a, cudaStream_t s)
{
    static int ready_dev = -1; // the shared-memory limit is per device
    int dev = 0;
    cudaGetDevice(&dev);
    const size_t smem = ap_smem_bytes(a.hd);
    if (ready_dev != dev) {
        if (cudaFuncSetAttribute(attn_prefill_kernel<DPT>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 (int)smem) != cudaSuccess) {
            cudaGetLastError();
            return false;
        }
        ready_dev = dev;
    }
    const dim3 grid((unsigned)a.H, (unsigned)((a.n + AP_QT - 1) / AP_QT));
    attn_prefill_kernel<DPT><<<grid, AP_THREADS, smem, s>>>(a);
    return true;
}

bool launch_attention_prefill(const attn_args &a, cudaStream_t s)
{
    // hd / 16 output dimensions per thread, read as float4: hd 64 or 128.
    if (a.hd == 64) return ap_launch<4>(a, s);
    if (a.hd == 128) return ap_launch<8>(a, s);
    return false;
}
