// The CUDA backend against the CPU forward pass, per weight type: a small
// random 2-layer decoder whose every matrix (and embedding and head) has one
// type runs on both; its logits must agree for a prefill in chunks (cuBLAS
// GEMMs, tiled attention at growing positions) and for decode steps (the
// matrix-vector kernels, flash-decoding over several splits, the CUDA
// graph). A "mixed" model gives q/k/v and gate/up different types (the
// unfused path), per-head q/k norms and a sliding window.
//
//   cuda_check            exit 0 when every type agrees, 1 otherwise; 77 without a GPU
//   cuda_check --copy     the device-to-device copy bandwidth of GPU 0 (JSON)
//
// Run on a GPU machine (bench/cuda/run_device.sh); CI builds it only.

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/backend_cuda.h"
#include "engine/engine_gpu.h"
#include "engine/forward.h"
#include "engine/quant.h"
#include "engine/quant_blocks.h"
#include "util/dtype.h"

enum { L = 2, D = 256, H = 4, KVH = 2, HD = 64, F = 512, V = 512, CTX = 1024, BATCH = 128 };

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frand(void) // uniform in [-1, 1)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}
static uint8_t brand(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint8_t)(rng >> 56);
}

// A random n_out x n_in matrix of type t: quantized from random floats where
// quant.c can write the type, else random blocks with sane fp16 scales.
static void *rand_matrix(dtype t, int64_t n_in, int64_t n_out, float scale)
{
    const int64_t rb = dtype_row_bytes(t, n_in);
    uint8_t *m = malloc((size_t)(rb * n_out));
    float *row = malloc((size_t)n_in * sizeof(float));
    for (int64_t r = 0; r < n_out; r++) {
        uint8_t *dst = m + r * rb;
        if (quant_can_quantize(t)) {
            for (int64_t i = 0; i < n_in; i++)
                row[i] = frand() * scale;
            quant_quantize_row(t, row, dst, n_in);
            continue;
        }
        for (int64_t i = 0; i < rb; i++)
            dst[i] = brand();
        const int64_t bb = dtype_block_bytes(t);
        for (int64_t b = 0; b < rb / bb; b++) {
            uint16_t *h = (uint16_t *)(dst + b * bb);
            if (t == DTYPE_Q4_1) {
                h[0] = f32_to_fp16(scale / 8 * (0.5f + 0.5f * fabsf(frand())));
                h[1] = f32_to_fp16(-scale * fabsf(frand()));
            } else if (t == DTYPE_Q5_0) {
                h[0] = f32_to_fp16(scale / 16 * (0.5f + 0.5f * fabsf(frand())));
            } else if (t == DTYPE_Q5_K) {
                h[0] = f32_to_fp16(scale / 512 * (0.5f + 0.5f * fabsf(frand())));
                h[1] = f32_to_fp16(scale / 64 * fabsf(frand()));
            }
        }
    }
    free(row);
    return m;
}

static float *rand_vec(int64_t n, float base, float spread)
{
    float *v = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        v[i] = base + spread * frand();
    return v;
}

static weight mk(dtype t, int64_t n_in, int64_t n_out, float scale)
{
    weight w = {rand_matrix(t, n_in, n_out, scale), t, n_in, n_out};
    return w;
}

static rs_cuda_weight cw(const weight *w)
{
    rs_cuda_weight r = {w->data, (int)w->type, w->n_in, w->n_out};
    return r;
}

static double rel_err(const float *a, const float *ref, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num += (double)(a[i] - ref[i]) * (a[i] - ref[i]);
        den += (double)ref[i] * ref[i];
    }
    return sqrt(num / (den > 0 ? den : 1));
}

// One model of the given types: returns the worst relative error.
static double check(const rs_cuda_api *api, const char *name, const dtype types[7], dtype embd_t,
                    int mixed, int *failed)
{
    forward_config cfg = {0};
    cfg.n_layer = L, cfg.n_embd = D, cfg.n_head = H, cfg.n_head_kv = KVH, cfg.head_dim = HD;
    cfg.n_ff = F, cfg.n_vocab = V, cfg.rope_dim = HD, cfg.norm_eps = 1e-5f;
    cfg.sliding_window = mixed ? 100 : 0;
    // forward.c scales cos and sin by it (YaRN, since commit 5ecc778): a
    // zeroed config made the CPU reference drop every rotation, the failure
    // of runs 4-5. The mixed model takes a YaRN-like factor to check the GPU's.
    cfg.rope_attn_factor = mixed ? 1.2f : 1.0f;
    model_weights w;
    memset(&w, 0, sizeof w);
    w.n_layer = L;
    w.layers = calloc(L, sizeof *w.layers);
    const float sc = 0.15f; // tame enough that rounding is not amplified into chaos
    for (int l = 0; l < L; l++) {
        layer_weights *y = &w.layers[l];
        y->attn_norm = rand_vec(D, 1, 0.2f);
        y->ffn_norm = rand_vec(D, 1, 0.2f);
        y->wq = mk(types[0], D, H * HD, sc);
        y->wk = mk(types[1], D, KVH * HD, sc);
        y->wv = mk(types[2], D, KVH * HD, sc);
        y->wo = mk(types[3], H * HD, D, sc / 4);
        y->w_gate = mk(types[4], D, F, sc);
        y->w_up = mk(types[5], D, F, sc);
        y->w_down = mk(types[6], F, D, sc / 4);
        y->bq = rand_vec(H * HD, 0, 0.2f);
        y->bk = rand_vec(KVH * HD, 0, 0.2f);
        y->bv = rand_vec(KVH * HD, 0, 0.2f);
        if (mixed) {
            y->q_norm = rand_vec(HD, 1, 0.2f);
            y->k_norm = rand_vec(HD, 1, 0.2f);
        }
    }
    w.tok_embd = mk(embd_t, D, V, 1.0f);
    w.out_norm = rand_vec(D, 1, 0.2f);
    w.output = mk(types[0], D, V, sc);

    kv_cache kv;
    run_state s;
    rs_error err;
    thread_pool *pool = thread_pool_init(0);
    kv_cache_init(&kv, &cfg, CTX, DTYPE_F16, &err);
    run_state_init(&s, &cfg, BATCH, CTX, thread_pool_size(pool), false, &err);
    for (int i = 0; i < HD / 2; i++)
        s.inv_freq[i] = (float)(1.0 / pow(10000.0, (double)(2 * i) / HD));

    rs_cuda_layer cl[L];
    memset(cl, 0, sizeof cl);
    for (int l = 0; l < L; l++) {
        layer_weights *y = &w.layers[l];
        cl[l] = (rs_cuda_layer){.attn_norm = y->attn_norm, .ffn_norm = y->ffn_norm, .bq = y->bq,
                                .bk = y->bk, .bv = y->bv, .q_norm = y->q_norm, .k_norm = y->k_norm,
                                .wq = cw(&y->wq), .wk = cw(&y->wk), .wv = cw(&y->wv),
                                .wo = cw(&y->wo), .w_gate = cw(&y->w_gate), .w_up = cw(&y->w_up),
                                .w_down = cw(&y->w_down)};
    }
    rs_cuda_model cm = {.device = 0, .n_layer = L, .n_embd = D, .n_head = H, .n_head_kv = KVH,
                        .head_dim = HD, .n_ff = F, .n_vocab = V, .rope_dim = HD,
                        .rope_attn_factor = cfg.rope_attn_factor, .norm_eps = cfg.norm_eps,
                        .sliding_window = cfg.sliding_window,
                        .inv_freq = s.inv_freq, .n_ctx = CTX, .n_batch = BATCH, .with_embd = 1,
                        .with_output = 1, .tok_embd = cw(&w.tok_embd), .output = cw(&w.output),
                        .out_norm = w.out_norm, .layers = cl};
    rs_cuda_ctx *ctx = NULL;
    char cerr[512] = "";
    double worst = 0;
    if (api->create(&cm, &ctx, cerr, sizeof cerr) != 0) {
        printf("%-8s FAIL create: %s\n", name, cerr);
        *failed = 1;
        return 1;
    }
    float *gl = malloc(V * sizeof(float));
    int32_t toks[BATCH];
    int64_t pos = 0;
    double e_prefill = 0, e_decode = 0;
    // Prefill 600 tokens in chunks (the last one partial), then decode.
    for (int chunk = 0; chunk < 6; chunk++) {
        int64_t n = chunk < 4 ? BATCH : chunk == 4 ? 88 : 1;
        for (int64_t i = 0; i < n; i++)
            toks[i] = (int32_t)(brand() % V);
        int steps = chunk == 5 ? 12 : 1;
        for (int st = 0; st < steps; st++) {
            forward_batch(&cfg, &w, &kv, &s, pool, toks, n, pos);
            if (api->forward(ctx, toks, NULL, n, pos, NULL, gl, 1, cerr, sizeof cerr) != 0) {
                printf("%-8s FAIL forward: %s\n", name, cerr);
                *failed = 1;
                return 1;
            }
            double e = rel_err(gl, s.logits, V);
            if (n > 1 && e > e_prefill) e_prefill = e;
            if (n == 1 && e > e_decode) e_decode = e;
            pos += n;
            toks[0] = (int32_t)(brand() % V);
        }
    }
    worst = e_prefill > e_decode ? e_prefill : e_decode;
    // Activations pass through bf16 in the prefill GEMMs and the CPU's
    // quantized kernels round their inputs to 8 bits: a few percent is
    // rounding, more is a wrong kernel.
    const double tol = 0.05;
    int bad = !(worst < tol);
    printf("%-8s %s  prefill rel err %.2e  decode rel err %.2e  (pos %lld)\n", name,
           bad ? "FAIL" : "ok  ", e_prefill, e_decode, (long long)pos);
    if (bad) *failed = 1;
    api->destroy(ctx);
    free(gl);
    thread_pool_free(pool);
    kv_cache_free(&kv);
    run_state_free(&s);
    return worst;
}

// ---------------------------------------------------------------------------
// Each kernel on its own: the matrix-vector product (plain, with the rmsnorm
// and SwiGLU prologues), the prefill GEMM and the embedding lookup, against
// the CPU's dequantization (quant.c) in double precision.

static float round_half(float f, int bf)
{
    return bf ? bf16_to_f32(f32_to_bf16(f)) : fp16_to_f32(f32_to_fp16(f));
}

static double rel_err_d(const float *a, const double *ref, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num += (a[i] - ref[i]) * (a[i] - ref[i]);
        den += ref[i] * ref[i];
    }
    return sqrt(num / (den > 0 ? den : 1));
}

// Whether the decode kernels of type t take int8 dot products against an
// input rounded to int8 blocks of 32 (src/engine/cuda/common.cuh, mv_int8):
// the default kernels since run 5; RIGHTSIZE_CUDA_MV=old picks the float
// ones (kernels.cu, matvec_old).
static int int8_input(dtype t)
{
    const char *e = getenv("RIGHTSIZE_CUDA_MV");
    if (e && strcmp(e, "old") == 0) return 0;
    return t == DTYPE_Q8_0 || t == DTYPE_Q4_0 || t == DTYPE_Q4_K || t == DTYPE_Q6_K;
}

// v rounded as the GPU rounds its input: per 32, d = max |v| / 127, d * round(v / d).
static void round_int8_blocks(float *v, int64_t n)
{
    for (int64_t b = 0; b < n; b += 32) {
        float amax = 0;
        for (int i = 0; i < 32; i++)
            amax = fmaxf(amax, fabsf(v[b + i]));
        const float d = amax / 127.0f;
        for (int i = 0; i < 32; i++)
            v[b + i] = amax > 0 ? d * rintf(v[b + i] / d) : 0.0f;
    }
}

static int check_ops(const rs_cuda_api *api, dtype t)
{
    enum { NI = 768, NO = 300, NT = 5 };
    weight w = mk(t, NI, NO, 0.5f);
    rs_cuda_weight cwt = cw(&w);
    float *deq = malloc(sizeof(float) * NI * NO);
    const int64_t rb = dtype_row_bytes(t, NI);
    for (int r = 0; r < NO; r++)
        quant_dequantize_row(t, (const uint8_t *)w.data + r * rb, deq + (size_t)r * NI, NI);
    float *x = rand_vec(NT * NI * 2, 0, 1.0f), *nw = rand_vec(NI, 1, 0.3f);
    float *y = malloc(sizeof(float) * NT * (NO > NI ? NO : NI));
    double *ref = malloc(sizeof(double) * NT * (NO > NI ? NO : NI));
    char cerr[512] = "";
    double e[5] = {0};
    // int8 inputs: the reference rounds its input the same way; a value
    // that the GPU's float norm puts across a rounding boundary moves one
    // step, hence 1e-3 (a wrong kernel is off by far more).
    const double tq = int8_input(t) ? 1e-3 : 1e-5;
    const double tol[5] = {tq, tq, tq, 2e-3, 1e-7};
    int bad = 0;
    for (int op = 0; op < 5 && !bad; op++) {
        float xin[2 * NI];
        int64_t n = op >= RS_CUDA_OP_GEMM ? (op == RS_CUDA_OP_EMBED ? 4 : NT) : 1;
        int32_t ids[4] = {0, 299, 17, 150};
        if (op == RS_CUDA_OP_MATVEC_NORM) {
            double ss = 0;
            for (int i = 0; i < NI; i++)
                ss += (double)x[i] * x[i];
            float scale = (float)(1.0 / sqrt(ss / NI + 1e-5));
            for (int i = 0; i < NI; i++)
                xin[i] = x[i] * scale * nw[i];
        } else if (op == RS_CUDA_OP_MATVEC_SWIGLU) {
            for (int i = 0; i < NI; i++)
                xin[i] = x[i] / (1.0f + expf(-x[i])) * x[NI + i];
        } else if (op == RS_CUDA_OP_MATVEC) {
            memcpy(xin, x, sizeof(float) * NI);
        }
        if (op <= RS_CUDA_OP_MATVEC_SWIGLU && int8_input(t)) round_int8_blocks(xin, NI);
        const int bf = t != DTYPE_F16;
        for (int64_t tk = 0; tk < n && op != RS_CUDA_OP_EMBED; tk++)
            for (int r = 0; r < NO; r++) {
                double acc = 0;
                for (int i = 0; i < NI; i++) {
                    double wv = deq[(size_t)r * NI + i], xv;
                    if (op == RS_CUDA_OP_GEMM) {
                        wv = round_half(deq[(size_t)r * NI + i], bf);
                        xv = round_half(x[tk * NI + i], bf);
                    } else {
                        xv = xin[i];
                    }
                    acc += wv * xv;
                }
                ref[tk * NO + r] = acc;
            }
        if (op == RS_CUDA_OP_EMBED)
            for (int k = 0; k < 4; k++)
                for (int i = 0; i < NI; i++)
                    ref[k * NI + i] = deq[(size_t)ids[k] * NI + i];
        const float *xp = op == RS_CUDA_OP_EMBED ? (const float *)ids : x;
        if (api->test_op(op, &cwt, xp, op == RS_CUDA_OP_MATVEC_NORM ? nw : NULL, n, y, cerr,
                         sizeof cerr) != 0) {
            printf("%-6s op %d FAIL: %s\n", dtype_name(t), op, cerr);
            bad = 1;
            break;
        }
        e[op] = rel_err_d(y, ref, op == RS_CUDA_OP_EMBED ? 4 * NI : n * NO);
        if (!(e[op] <= tol[op])) bad = 1;
    }
    printf("%-6s %s  matvec %.1e  +rmsnorm %.1e  +swiglu %.1e  gemm %.1e  embed %.1e\n",
           dtype_name(t), bad ? "FAIL" : "ok  ", e[0], e[1], e[2], e[3], e[4]);
    free(deq), free(x), free(nw), free(y), free(ref), free((void *)w.data);
    return bad;
}

int main(int argc, char **argv)
{
    char note[600] = "";
    const rs_cuda_api *api = backend_cuda_open(note, sizeof note);
    if (!api) {
        printf("cuda_check: skipped: %s\n", note);
        return 77;
    }
    if (argc > 1 && strcmp(argv[1], "--copy") == 0) {
        // The card's device-to-device copy bandwidth (read + write), the
        // yardstick of the decode figures.
        double gbs = 0;
        rs_error err;
        if (engine_gpu_measure_bandwidth(0, &gbs, &err) != RS_OK) {
            printf("copy: %s\n", err.msg);
            return 1;
        }
        printf("{\"step\":\"copy\",\"gbs\":%.1f}\n", gbs);
        return 0;
    }
    const dtype all[] = {DTYPE_F32,  DTYPE_F16,  DTYPE_BF16, DTYPE_Q8_0, DTYPE_Q4_0,
                         DTYPE_Q4_1, DTYPE_Q5_0, DTYPE_Q4_K, DTYPE_Q5_K, DTYPE_Q6_K};
    int failed = 0;
    printf("kernels (relative RMS error against the CPU's dequantization, double sums):\n");
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        failed |= check_ops(api, all[i]);
    printf("whole forward pass against forward.c (prefill in chunks, then decode):\n");
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        dtype t[7];
        for (int j = 0; j < 7; j++)
            t[j] = all[i];
        check(api, dtype_name(all[i]), t, all[i], 0, &failed);
    }
    const dtype mixed[7] = {DTYPE_Q4_K, DTYPE_Q6_K, DTYPE_Q8_0, DTYPE_Q5_K,
                            DTYPE_Q4_K, DTYPE_Q5_0, DTYPE_Q6_K};
    check(api, "mixed", mixed, DTYPE_BF16, 1, &failed);
    printf("cuda_check: %s\n", failed ? "FAILED" : "all types agree");
    return failed;
}
