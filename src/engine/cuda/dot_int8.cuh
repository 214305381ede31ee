#ifndef RS_ENGINE_CUDA_DOT_INT8_CUH
#define RS_ENGINE_CUDA_DOT_INT8_CUH

// The int8 dot products of the decode matrix-vector kernels (kernels.cu):
// one 32-element chunk of a Q8_0, Q4_0, Q4_K or Q6_K row (device layout,
// common.cuh's dweight) against the input quantized to int8. Host-callable
// too, so that tests/cuda/dot_check.cu checks the bit handling against
// quant.c on a machine without a GPU.

#include "engine/cuda/common.cuh"

#define RS_HD __host__ __device__ __forceinline__

#ifdef __CUDA_ARCH__
#define RS_LDG(p) __ldg(p)
#define RS_UNROLL _Pragma("unroll")
#else
#define RS_LDG(p) (*(p))
#define RS_UNROLL
#endif

RS_HD int rs_dp4a(int a, int b, int c)
{
#ifdef __CUDA_ARCH__
    return __dp4a(a, b, c);
#else
    for (int i = 0; i < 4; i++)
        c += (int)(int8_t)(uint8_t)((unsigned)a >> (8 * i)) * (int)(int8_t)(uint8_t)((unsigned)b >> (8 * i));
    return c;
#endif
}

// Per byte a - b, signed, saturated.
RS_HD unsigned rs_vsubss4(unsigned a, unsigned b)
{
#ifdef __CUDA_ARCH__
    return __vsubss4(a, b);
#else
    unsigned r = 0;
    for (int i = 0; i < 4; i++) {
        int d = (int)(int8_t)(uint8_t)(a >> (8 * i)) - (int)(int8_t)(uint8_t)(b >> (8 * i));
        d = d < -128 ? -128 : d > 127 ? 127 : d;
        r |= (unsigned)(uint8_t)(int8_t)d << (8 * i);
    }
    return r;
#endif
}

RS_HD float h2f(uint16_t h)
{
    return __half2float(__ushort_as_half(h));
}

RS_HD uint16_t ld_u16(const uint8_t *p)
{
    return *(const uint16_t *)p;
}

// Chunk c (32 elements) of row r against the int8 input xi (element 4k + i
// in byte i of xi[k]) with ds = (d, d * sum of the int8 values), in two
// steps: qload reads the chunk's bytes (the weights, which a decode kernel
// may fetch before its input exists) and qdot uses them.
template <int T> struct qraw;
template <int T> RS_HD qraw<T> qload(const dweight &w, int64_t r, int64_t c);
template <int T> RS_HD float qdot(const qraw<T> &q, const int xi[8], float2 ds);

template <int T>
RS_HD float dotq(const dweight &w, int64_t r, int64_t c, const int xi[8], float2 ds)
{
    return qdot<T>(qload<T>(w, r, c), xi, ds);
}

RS_HD void words8(uint4 a, uint4 b, int q[8])
{
    q[0] = (int)a.x, q[1] = (int)a.y, q[2] = (int)a.z, q[3] = (int)a.w;
    q[4] = (int)b.x, q[5] = (int)b.y, q[6] = (int)b.z, q[7] = (int)b.w;
}

template <> struct qraw<DTYPE_Q8_0> {
    uint4 a, b;
    uint16_t d;
};

template <>
RS_HD qraw<DTYPE_Q8_0> qload<DTYPE_Q8_0>(const dweight &w, int64_t r, int64_t c)
{
    const uint4 *p = (const uint4 *)(w.payload + r * w.payload_row + c * 32);
    return {RS_LDG(p), RS_LDG(p + 1), ld_u16(w.header + r * w.header_row + c * 2)};
}

template <>
RS_HD float qdot<DTYPE_Q8_0>(const qraw<DTYPE_Q8_0> &w, const int xi[8], float2 ds)
{
    int q[8];
    words8(w.a, w.b, q);
    int s = 0;
RS_UNROLL
    for (int k = 0; k < 8; k++)
        s = rs_dp4a(q[k], xi[k], s);
    return h2f(w.d) * ds.x * (float)s;
}

template <> struct qraw<DTYPE_Q4_0> {
    uint4 a;
    uint16_t d;
};

template <>
RS_HD qraw<DTYPE_Q4_0> qload<DTYPE_Q4_0>(const dweight &w, int64_t r, int64_t c)
{
    return {RS_LDG((const uint4 *)(w.payload + r * w.payload_row + c * 16)),
            ld_u16(w.header + r * w.header_row + c * 2)};
}

template <>
RS_HD float qdot<DTYPE_Q4_0>(const qraw<DTYPE_Q4_0> &w, const int xi[8], float2 ds)
{
    // Byte i: element i in the low nibble, element i + 16 in the high one.
    const int q[4] = {(int)w.a.x, (int)w.a.y, (int)w.a.z, (int)w.a.w};
    int s = 0;
RS_UNROLL
    for (int k = 0; k < 4; k++) {
        s = rs_dp4a(q[k] & 0x0F0F0F0F, xi[k], s);
        s = rs_dp4a((q[k] >> 4) & 0x0F0F0F0F, xi[k + 4], s);
    }
    return h2f(w.d) * (ds.x * (float)s - 8.0f * ds.y);
}

template <> struct qraw<DTYPE_Q4_K> {
    uint4 hv, a, b; // the super-block's header, the chunk's 32 bytes of nibbles
    int sub;
};

template <>
RS_HD qraw<DTYPE_Q4_K> qload<DTYPE_Q4_K>(const dweight &w, int64_t r, int64_t c)
{
    const uint8_t *blk = w.payload + r * w.payload_row + (c >> 3) * 144;
    const int sub = (int)(c & 7);
    const uint4 *p = (const uint4 *)(blk + 16 + 32 * (sub >> 1));
    return {RS_LDG((const uint4 *)blk), RS_LDG(p), RS_LDG(p + 1), sub};
}

template <>
RS_HD float qdot<DTYPE_Q4_K>(const qraw<DTYPE_Q4_K> &w, const int xi[8], float2 ds)
{
    const int sub = w.sub, shift = (sub & 1) * 4;
    // scale_min_k4 on the header's words, without an indexed byte array
    // (which would live in local memory).
    const uint4 hv = w.hv;
    const float d = h2f((uint16_t)(hv.x & 0xFFFF)), dmin = h2f((uint16_t)(hv.x >> 16));
    const int k = (sub & 3) * 8;
    int sc, m;
    if (sub < 4) {
        sc = (int)((hv.y >> k) & 63);
        m = (int)((hv.z >> k) & 63);
    } else {
        sc = (int)(((hv.w >> k) & 0xF) | (((hv.y >> k) >> 6 & 3) << 4));
        m = (int)(((hv.w >> k) >> 4 & 0xF) | (((hv.z >> k) >> 6 & 3) << 4));
    }
    int q[8];
    words8(w.a, w.b, q);
    int s = 0;
RS_UNROLL
    for (int k = 0; k < 8; k++)
        s = rs_dp4a((q[k] >> shift) & 0x0F0F0F0F, xi[k], s);
    return d * (float)sc * ds.x * (float)s - dmin * (float)m * ds.y;
}

// Q4_K two chunks at a time: pair p is sub-blocks 2j and 2j + 1 (j = p & 3)
// of super-block p >> 2, which share 32 bytes (low nibbles the first, high
// the second): one lane reads the header and the bytes once for 64 weights
// instead of twice for 32 each, and the branch on the sub-block's half of
// the scales is the same for both (a chunk a lane, the PTX of the 7B's
// gate|up has ~70 instructions for every 8 dp4a).
struct q4k_pair {
    uint4 hv, a, b;
    int j;
};

RS_HD q4k_pair q4k_pair_load(const dweight &w, int64_t r, int64_t p)
{
    const uint8_t *blk = w.payload + r * w.payload_row + (p >> 2) * 144;
    const int j = (int)(p & 3);
    const uint4 *q = (const uint4 *)(blk + 16 + 32 * j);
    return {RS_LDG((const uint4 *)blk), RS_LDG(q), RS_LDG(q + 1), j};
}

// xi: the 64 input bytes (chunk 2p then 2p + 1); ds: (d, d * sum) of each.
RS_HD float q4k_pair_dot(const q4k_pair &w, const int xi[16], float4 ds)
{
    const uint4 hv = w.hv;
    const float d = h2f((uint16_t)(hv.x & 0xFFFF)), dmin = h2f((uint16_t)(hv.x >> 16));
    // Sub-blocks 2j, 2j + 1: bytes k, k + 1 of the scale words, k = 2j mod 4.
    const int k = (2 * w.j & 3) * 8;
    const unsigned y = hv.y >> k, z = hv.z >> k, x4 = hv.w >> k;
    int sc0, m0, sc1, m1;
    if (w.j < 2) {
        sc0 = (int)(y & 63), m0 = (int)(z & 63);
        sc1 = (int)((y >> 8) & 63), m1 = (int)((z >> 8) & 63);
    } else {
        sc0 = (int)((x4 & 0xF) | ((y >> 6 & 3) << 4)), m0 = (int)((x4 >> 4 & 0xF) | ((z >> 6 & 3) << 4));
        sc1 = (int)((x4 >> 8 & 0xF) | ((y >> 14 & 3) << 4)), m1 = (int)((x4 >> 12 & 0xF) | ((z >> 14 & 3) << 4));
    }
    int q[8];
    words8(w.a, w.b, q);
    int s0 = 0, s1 = 0;
RS_UNROLL
    for (int i = 0; i < 8; i++) {
        s0 = rs_dp4a(q[i] & 0x0F0F0F0F, xi[i], s0);
        s1 = rs_dp4a((q[i] >> 4) & 0x0F0F0F0F, xi[8 + i], s1);
    }
    return d * ((float)sc0 * ds.x * (float)s0 + (float)sc1 * ds.z * (float)s1) -
           dmin * ((float)m0 * ds.y + (float)m1 * ds.w);
}

template <> struct qraw<DTYPE_Q6_K> {
    uint4 l0, l1, h0, h1; // low nibbles, high bit pairs
    uint16_t d;
    int8_t sc0, sc1;
    int quarter;
};

template <>
RS_HD qraw<DTYPE_Q6_K> qload<DTYPE_Q6_K>(const dweight &w, int64_t r, int64_t c)
{
    const int64_t b = c >> 3;
    const int sub = (int)(c & 7), n = sub >> 2, quarter = sub & 3;
    const uint8_t *p = w.payload + r * w.payload_row + b * 192;
    const uint8_t *h = w.header + r * w.header_row + b * 18;
    const uint4 *pl = (const uint4 *)(p + n * 64 + (quarter & 1) * 32);
    const uint4 *ph = (const uint4 *)(p + 128 + n * 32);
    return {RS_LDG(pl), RS_LDG(pl + 1), RS_LDG(ph), RS_LDG(ph + 1), ld_u16(h + 16),
            (int8_t)h[n * 8 + 2 * quarter], (int8_t)h[n * 8 + 2 * quarter + 1], quarter};
}

template <>
RS_HD float qdot<DTYPE_Q6_K>(const qraw<DTYPE_Q6_K> &w, const int xi[8], float2 ds)
{
    int ql[8], qh[8];
    words8(w.l0, w.l1, ql);
    words8(w.h0, w.h1, qh);
    const int quarter = w.quarter, shift = quarter >= 2 ? 4 : 0;
    int s0 = 0, s1 = 0;
RS_UNROLL
    for (int k = 0; k < 8; k++) {
        const int lo = (ql[k] >> shift) & 0x0F0F0F0F;
        const int hi = ((qh[k] >> (2 * quarter)) & 0x03030303) << 4;
        const int q = (int)rs_vsubss4((unsigned)(lo | hi), 0x20202020u); // q - 32 per byte
        if (k < 4) s0 = rs_dp4a(q, xi[k], s0);
        else s1 = rs_dp4a(q, xi[k], s1);
    }
    return h2f(w.d) * ds.x * ((float)w.sc0 * (float)s0 + (float)w.sc1 * (float)s1);
}

// Q6_K a half super-block at a time (128 weights: 64 bytes of low nibbles,
// 32 of high bit pairs, 8 scales): one lane reads each payload byte once.
// A chunk a lane (qload above) reads 64 bytes for its 24, and the four
// lanes of a half read its high bits four times (run 27: the 7B's head,
// 447 MB, took 194 us a token against 148 at the copy rate).
struct q6k_half {
    uint4 l[4], h[2];
    uint32_t sc_lo, sc_hi; // scales 0-3 and 4-7 of the half, a byte each
    uint16_t d;
};

// Half hh of row r: super-block hh / 2, its first or second 128 weights.
RS_HD q6k_half q6k_half_load(const dweight &w, int64_t r, int64_t hh)
{
    const int64_t b = hh >> 1;
    const int n = (int)(hh & 1);
    const uint8_t *p = w.payload + r * w.payload_row + b * 192;
    const uint8_t *h = w.header + r * w.header_row + b * 18 + n * 8; // 2-byte aligned
    const uint4 *pl = (const uint4 *)(p + n * 64), *ph = (const uint4 *)(p + 128 + n * 32);
    const uint32_t s0 = ld_u16(h), s1 = ld_u16(h + 2), s2 = ld_u16(h + 4), s3 = ld_u16(h + 6);
    return {{RS_LDG(pl), RS_LDG(pl + 1), RS_LDG(pl + 2), RS_LDG(pl + 3)},
            {RS_LDG(ph), RS_LDG(ph + 1)},
            s0 | s1 << 16,
            s2 | s3 << 16,
            ld_u16(w.header + r * w.header_row + b * 18 + 16)};
}

// xi: the half's 128 input bytes; ds01, ds23: (d, d * sum) of its chunks
// 0, 1 and 2, 3. Quarter q of the half is chunk q: the low nibbles of
// bytes 32 (q & 1) .. + 31 (the high ones for q >= 2), the bit pair 2q of
// the high bytes, scales 2q and 2q + 1 for its two 16-weight halves.
RS_HD float q6k_half_dot(const q6k_half &w, const int xi[32], float4 ds01, float4 ds23)
{
    int ql[16], qh[8];
    words8(w.l[0], w.l[1], ql);
    words8(w.l[2], w.l[3], ql + 8);
    words8(w.h[0], w.h[1], qh);
    const float dx[4] = {ds01.x, ds01.z, ds23.x, ds23.z};
    float sum = 0;
RS_UNROLL
    for (int q = 0; q < 4; q++) {
        int s0 = 0, s1 = 0;
RS_UNROLL
        for (int k = 0; k < 8; k++) {
            const int lo = (ql[(q & 1) * 8 + k] >> (q >= 2 ? 4 : 0)) & 0x0F0F0F0F;
            const int hi = ((qh[k] >> (2 * q)) & 0x03030303) << 4;
            const int v = (int)rs_vsubss4((unsigned)(lo | hi), 0x20202020u); // q - 32 per byte
            if (k < 4) s0 = rs_dp4a(v, xi[8 * q + k], s0);
            else s1 = rs_dp4a(v, xi[8 * q + k], s1);
        }
        const uint32_t scw = q < 2 ? w.sc_lo : w.sc_hi;
        const int sc0 = (int)(int8_t)(uint8_t)(scw >> (16 * (q & 1))),
                  sc1 = (int)(int8_t)(uint8_t)(scw >> (16 * (q & 1) + 8));
        sum += dx[q] * (float)(sc0 * s0 + sc1 * s1);
    }
    return h2f(w.d) * sum;
}

#endif
