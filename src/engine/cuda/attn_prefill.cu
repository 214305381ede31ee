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
#include <stdlib.h>

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

// ---------------------------------------------------------------------------
// The same on the tensor cores (WMMA, f16 inputs, f32 accumulation): run 19
// had the fp32 kernel above at 6.6 of a 7B's 21.3 ms prefill of 512 tokens.
// A block of 4 warps takes 64 queries of one head, each warp 16 of them:
// S = Q K^T of its rows into shared memory, the online softmax by 2 lanes a
// row, P (f16) V added onto its rows of O, which stays in shared memory in
// f32 (a WMMA accumulator's element order is unspecified, so the per-row
// rescaling is done there). Every tile's address is 32-byte aligned, as
// load_matrix_sync requires (row strides: HD + 8 halves, 68 and 72).

#include <mma.h>

#define TC_QT 64
#define TC_KT 64
#define TC_THREADS 128
#define TC_SS (TC_KT + 4) // floats
#define TC_PS (TC_KT + 8) // halves

template <int HD> struct tc_layout {
    static constexpr int QS = HD + 8; // halves, Q, K and V rows
    static constexpr int OS = HD + 4; // floats
    static constexpr size_t q = 0, k = q + (size_t)TC_QT * QS * 2, v = k + (size_t)TC_KT * QS * 2,
                            sc = v + (size_t)TC_KT * QS * 2, p = sc + (size_t)TC_QT * TC_SS * 4,
                            o = p + (size_t)TC_QT * TC_PS * 2, bytes = o + (size_t)TC_QT * OS * 4;
};

template <int HD>
__global__ void __launch_bounds__(TC_THREADS) attn_prefill_tc_kernel(attn_args a)
{
    using namespace nvcuda;
    typedef tc_layout<HD> L;
    extern __shared__ __align__(128) unsigned char tc_sm[];
    __half *Qs = (__half *)(tc_sm + L::q), *Ks = (__half *)(tc_sm + L::k), *Vs = (__half *)(tc_sm + L::v);
    float *Ss = (float *)(tc_sm + L::sc), *Os = (float *)(tc_sm + L::o);
    __half *Ps = (__half *)(tc_sm + L::p);
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int64_t h = blockIdx.x, t0 = (int64_t)blockIdx.y * TC_QT;
    const int64_t kvh = h / (a.H / a.KVH), pos0 = *a.pos;
    const int64_t n_q = a.n - t0 < TC_QT ? a.n - t0 : TC_QT;
    const float scale = rsqrtf((float)HD);

    for (int i = tid; i < HD * TC_QT; i += TC_THREADS) {
        const int q = i / HD, d = i % HD;
        Qs[q * L::QS + d] = __float2half_rn(q < n_q ? a.q[(t0 + q) * a.q_stride + h * HD + d] * scale : 0.0f);
    }
    for (int i = tid; i < TC_QT * L::OS; i += TC_THREADS)
        Os[i] = 0.0f;
    const __half *K = a.k_cache + kvh * a.n_ctx * HD, *V = a.v_cache + kvh * a.n_ctx * HD;
    const int64_t p_first = pos0 + t0, p_last = pos0 + t0 + n_q - 1;
    int64_t k_lo = a.window > 0 && p_first - a.window + 1 > 0 ? p_first - a.window + 1 : 0;
    k_lo -= k_lo % TC_KT;

    // Lane pair (2 r, 2 r + 1) holds row r of the warp's 16: its running max
    // and sum, and half of its columns in the softmax and the rescaling.
    const int r = lane >> 1, half = lane & 1, row = warp * 16 + r;
    const int64_t qp = pos0 + t0 + row;
    float m = -INFINITY, l = 0;
    float *Sw = Ss + warp * 16 * TC_SS, *Ow = Os + warp * 16 * L::OS;
    __half *Pw = Ps + warp * 16 * TC_PS;
    const __half *Qw = Qs + warp * 16 * L::QS;

    for (int64_t k0 = k_lo; k0 <= p_last; k0 += TC_KT) {
        const int n_k = p_last - k0 + 1 < TC_KT ? (int)(p_last - k0 + 1) : TC_KT;
        __syncthreads(); // every warp is done with the previous K and V
        for (int i = tid; i < TC_KT * (HD / 8); i += TC_THREADS) {
            const int j = i / (HD / 8), d = (i % (HD / 8)) * 8;
            uint4 kv = make_uint4(0, 0, 0, 0), vv = make_uint4(0, 0, 0, 0);
            if (j < n_k) {
                kv = *(const uint4 *)(K + (k0 + j) * HD + d);
                vv = *(const uint4 *)(V + (k0 + j) * HD + d);
            }
            *(uint4 *)(Ks + j * L::QS + d) = kv;
            *(uint4 *)(Vs + j * L::QS + d) = vv;
        }
        __syncthreads();

        // S (16 x 64) = Q K^T for this warp's rows.
#pragma unroll
        for (int n = 0; n < TC_KT / 16; n++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::fill_fragment(acc, 0.0f);
#pragma unroll
            for (int k = 0; k < HD / 16; k++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> fb;
                wmma::load_matrix_sync(fa, Qw + k * 16, L::QS);
                wmma::load_matrix_sync(fb, Ks + n * 16 * L::QS + k * 16, L::QS);
                wmma::mma_sync(acc, fa, fb, acc);
            }
            wmma::store_matrix_sync(Sw + n * 16, acc, TC_SS, wmma::mem_row_major);
        }
        __syncwarp();

        // Masks and the online softmax: this lane's 32 columns of row r.
        float s[TC_KT / 2];
        float rmax = -INFINITY;
#pragma unroll
        for (int j = 0; j < TC_KT / 2; j++) {
            const int c = half * (TC_KT / 2) + j;
            const int64_t kp = k0 + c;
            const bool ok = row < n_q && c < n_k && kp <= qp && (a.window <= 0 || kp > qp - a.window);
            s[j] = ok ? Sw[r * TC_SS + c] : -INFINITY;
            rmax = fmaxf(rmax, s[j]);
        }
        rmax = fmaxf(rmax, __shfl_xor_sync(0xffffffffu, rmax, 1));
        const float m_new = fmaxf(m, rmax);
        float rsum = 0;
#pragma unroll
        for (int j = 0; j < TC_KT / 2; j++) {
            const float p = m_new == -INFINITY ? 0.0f : expf(s[j] - m_new);
            Pw[r * TC_PS + half * (TC_KT / 2) + j] = __float2half_rn(p);
            rsum += p;
        }
        rsum += __shfl_xor_sync(0xffffffffu, rsum, 1);
        const float corr = m_new == -INFINITY ? 1.0f : expf(m - m_new);
        l = l * corr + rsum;
        m = m_new;
        if (corr != 1.0f)
            for (int d = half * (HD / 2); d < (half + 1) * (HD / 2); d++)
                Ow[r * L::OS + d] *= corr;
        __syncwarp();

        // O (16 x HD) += P (16 x 64) V (64 x HD).
#pragma unroll
        for (int n = 0; n < HD / 16; n++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::load_matrix_sync(acc, Ow + n * 16, L::OS, wmma::mem_row_major);
#pragma unroll
            for (int k = 0; k < TC_KT / 16; k++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fb;
                wmma::load_matrix_sync(fa, Pw + k * 16, TC_PS);
                wmma::load_matrix_sync(fb, Vs + k * 16 * L::QS + n * 16, L::QS);
                wmma::mma_sync(acc, fa, fb, acc);
            }
            wmma::store_matrix_sync(Ow + n * 16, acc, L::OS, wmma::mem_row_major);
        }
        __syncwarp();
    }
    if (row < n_q) {
        float *out = a.out + (t0 + row) * a.H * HD + h * HD;
        const float inv = l > 0 ? 1.0f / l : 0.0f;
        for (int d = half * (HD / 2); d < (half + 1) * (HD / 2); d++)
            out[d] = Ow[r * L::OS + d] * inv;
    }
}

template <int HD> static bool tc_launch(const attn_args &a, cudaStream_t s)
{
    static int ready_dev = -1; // the shared-memory limit is per device
    int dev = 0, major = 0;
    cudaGetDevice(&dev);
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess ||
        major < 8) {
        cudaGetLastError();
        return false;
    }
    const size_t smem = tc_layout<HD>::bytes;
    if (ready_dev != dev) {
        if (cudaFuncSetAttribute(attn_prefill_tc_kernel<HD>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 (int)smem) != cudaSuccess) {
            cudaGetLastError();
            return false;
        }
        ready_dev = dev;
    }
    const dim3 grid((unsigned)a.H, (unsigned)((a.n + TC_QT - 1) / TC_QT));
    attn_prefill_tc_kernel<HD><<<grid, TC_THREADS, smem, s>>>(a);
    return true;
}

bool launch_attention_prefill(const attn_args &a, cudaStream_t s)
{
    // The tensor-core kernel unless RIGHTSIZE_CUDA_PREFILL_ATTN_FP32 (or on
    // a card before sm_80); hd / 16 output dimensions per thread, read as
    // float4, in the fp32 one: hd 64 or 128 in both.
    static const bool fp32 = getenv("RIGHTSIZE_CUDA_PREFILL_ATTN_FP32") != NULL;
    if (!fp32 && a.hd == 64 && tc_launch<64>(a, s)) return true;
    if (!fp32 && a.hd == 128 && tc_launch<128>(a, s)) return true;
    if (a.hd == 64) return ap_launch<4>(a, s);
    if (a.hd == 128) return ap_launch<8>(a, s);
    return false;
}
