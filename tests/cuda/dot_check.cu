// The int8 dot products of the decode kernels (src/engine/cuda/dot_int8.cuh)
// on the host: rows quantized by quant.c, reordered into the device layout
// as model.cu's upload does, against an input rounded to int8 blocks of 32
// as kernels.cu's mv_prep_kernel rounds it; the sum over a row's chunks must
// equal quant.c's dequantization dotted with the rounded input (double).
// Needs no GPU (built with nvcc, run by ctest): a wrong nibble, shift or
// scale index is caught here before a device run.

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vector>

extern "C" {
#include "engine/quant.h"
}
#include "engine/cuda/dot_int8.cuh"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static float frand(void) // uniform in [-1, 1)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

template <int T> static int check(const char *name, int64_t n_in, int64_t n_out)
{
    const dtype t = (dtype)T;
    const int64_t rb = dtype_row_bytes(t, n_in);
    std::vector<uint8_t> ggml((size_t)(rb * n_out)), dev((size_t)(rb * n_out));
    std::vector<float> row((size_t)n_in), deq((size_t)(n_in * n_out));
    for (int64_t r = 0; r < n_out; r++) {
        for (int64_t i = 0; i < n_in; i++)
            row[i] = frand() * (1.0f + (float)(i % 7)); // uneven magnitudes: varied scales
        quant_quantize_row(t, row.data(), ggml.data() + r * rb, n_in);
        quant_dequantize_row(t, ggml.data() + r * rb, deq.data() + r * n_in, n_in);
    }
    // The device layout (model.cu, upload_stack).
    dweight w;
    w.type = T, w.n_in = n_in, w.n_out = n_out;
    w.payload = dev.data(), w.header = NULL, w.payload_row = rb, w.header_row = 0;
    const split_layout sl = split_layout_of(T);
    if (sl.block_bytes == 0) {
        dev = ggml;
        w.payload = dev.data();
    } else {
        const int64_t nb = n_in / dtype_block_elems(t), hlen = sl.block_bytes - sl.payload_len;
        w.payload_row = nb * sl.payload_len, w.header_row = nb * hlen;
        uint8_t *p = dev.data(), *h = dev.data() + n_out * w.payload_row;
        w.header = h;
        for (int64_t b = 0; b < n_out * nb; b++) {
            const uint8_t *blk = ggml.data() + b * sl.block_bytes;
            memcpy(p + b * sl.payload_len, blk + sl.payload_off, (size_t)sl.payload_len);
            memcpy(h + b * hlen, blk, (size_t)sl.payload_off);
            memcpy(h + b * hlen + sl.payload_off, blk + sl.payload_off + sl.payload_len,
                   (size_t)(sl.block_bytes - sl.payload_off - sl.payload_len));
        }
    }
    // The input, rounded as mv_prep_kernel rounds it.
    std::vector<int8_t> xq((size_t)n_in);
    std::vector<float> xr((size_t)n_in);
    std::vector<float2> ds((size_t)(n_in / 32));
    for (int64_t b = 0; b < n_in / 32; b++) {
        float v[32], amax = 0;
        for (int i = 0; i < 32; i++) {
            v[i] = frand() * (b % 3 ? 1.0f : 0.01f);
            amax = fmaxf(amax, fabsf(v[i]));
        }
        const float d = amax / 127.0f;
        int sum = 0;
        for (int i = 0; i < 32; i++) {
            const int q = amax > 0 ? (int)rintf(v[i] / d) : 0;
            xq[b * 32 + i] = (int8_t)q;
            xr[b * 32 + i] = d * (float)q;
            sum += q;
        }
        ds[b] = make_float2(d, d * (float)sum);
    }
    double worst = 0;
    for (int64_t r = 0; r < n_out; r++) {
        double ref = 0, mag = 0;
        for (int64_t i = 0; i < n_in; i++) {
            ref += (double)deq[r * n_in + i] * xr[i];
            mag += fabs((double)deq[r * n_in + i] * xr[i]);
        }
        float got = 0;
        for (int64_t c = 0; c < n_in / 32; c++) {
            int xi[8];
            memcpy(xi, xq.data() + c * 32, 32);
            got += dotq<T>(w, r, c, xi, ds[c]);
        }
        double e = fabs(got - ref) / (mag > 0 ? mag : 1);
        if constexpr (T == DTYPE_Q4_K) { // and two chunks a lane (q4k_pair)
            float got2 = 0;
            for (int64_t p = 0; p < n_in / 64; p++) {
                int xi[16];
                memcpy(xi, xq.data() + p * 64, 64);
                const float4 d4 = make_float4(ds[2 * p].x, ds[2 * p].y, ds[2 * p + 1].x, ds[2 * p + 1].y);
                got2 += q4k_pair_dot(q4k_pair_load(w, r, p), xi, d4);
            }
            e = fmax(e, fabs(got2 - ref) / (mag > 0 ? mag : 1));
        }
        if constexpr (T == DTYPE_Q6_K) { // and a half super-block a lane (q6k_half)
            float got2 = 0;
            for (int64_t hh = 0; hh < n_in / 128; hh++) {
                int xi[32];
                memcpy(xi, xq.data() + hh * 128, 128);
                const float2 *d = ds.data() + 4 * hh;
                got2 += q6k_half_dot(q6k_half_load(w, r, hh), xi, make_float4(d[0].x, d[0].y, d[1].x, d[1].y),
                                     make_float4(d[2].x, d[2].y, d[3].x, d[3].y));
            }
            e = fmax(e, fabs(got2 - ref) / (mag > 0 ? mag : 1));
        }
        if (e > worst) worst = e;
    }
    const int bad = !(worst < 1e-5);
    printf("%-5s %s  worst |error| / sum |terms| %.1e\n", name, bad ? "FAIL" : "ok  ", worst);
    return bad;
}

int main(void)
{
    int bad = 0;
    bad |= check<DTYPE_Q8_0>("Q8_0", 768, 40);
    bad |= check<DTYPE_Q4_0>("Q4_0", 768, 40);
    bad |= check<DTYPE_Q4_K>("Q4_K", 768, 40);
    bad |= check<DTYPE_Q6_K>("Q6_K", 768, 40);
    return bad;
}
