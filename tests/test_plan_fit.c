#include "testutil.h"

#include "plan/fit.h"
#include "plan_testmodel.h"

// The fit decision ladder on the toy model of plan_testmodel.h. Totals on
// one GPU at 4096 context (MiB): bf16 5120 + 256 + 256 weights, 160 KV,
// 142.3 compute, 596 overhead = 6530.3; int8 (+ 32 MiB of dequantization
// scratch) 3922.3; int4 2547.3.

// The process and a 32768-entry tokenizer: 8 + 8 MiB.
#define CPU_OVH (PLAN_CPU_RUNTIME_BYTES + 32768ull * PLAN_TOKENIZER_BYTES_PER_TOKEN)
// CUDA context + cuBLAS: 596 MiB.
#define OVH (PLAN_CUDA_CONTEXT_BYTES + PLAN_CUBLAS_WORKSPACE_BYTES)
// The GPU's compute arena (plan/gpu_arena.h) at batch 512, bf16, by hand:
// the decode attention partials, (max(512 x 32, 32 x ceil(n_ctx / 64)),
// 128 + 2) f32, grow past 32K tokens of context.
static uint64_t gpu_parts_hd(int64_t n_ctx, uint64_t hd)
{
    uint64_t rows = 32ull * (uint64_t)((n_ctx + 63) / 64);
    if (rows < 512ull * 32) rows = 512ull * 32;
    return rows * hd * 4 + rows * 2 * 4;
}
#define gpu_parts(n_ctx) gpu_parts_hd(n_ctx, 128)

// The largest context whose KV (kv_fixed + kv_token per token) and decode
// partials fit in room beside `fixed`: counted down from the estimate
// without the partials' growth.
static int64_t gpu_max_ctx(uint64_t room, uint64_t fixed, uint64_t kv_fixed, uint64_t kv_token,
                           uint64_t hd)
{
    int64_t n = (int64_t)((room - fixed - kv_fixed - gpu_parts_hd(1, hd)) / kv_token);
    while (fixed + kv_fixed + (uint64_t)n * kv_token + gpu_parts_hd(n, hd) > room) n--;
    return n;
}
// x, xb, att (512, 4096); qkv (512, 4096 + 2 x 1024); gate|up (512, 2 x
// 14336); swiglu (512, 14336); one row of logits; the bf16 GEMM input
// (512, 14336); 512 tokens; pos (256); the matrix-vector scratch of 14336
// (f32 + int8 + 448 x 8 + 512); 22 norms (256); 32 attention counters (256).
static const uint64_t compute_base = 3 * 8388608ull + 12582912 + 58720256 + 29360128 + 131072 +
                                     14680064 + 2048 + 256 + 75776 + 256 + 256;
#define compute_4096 (compute_base + gpu_parts(4096))
// On the CPU (2 threads) the scores are one row of 4096 and a K/V row of
// 2 x 128 per thread.
static const uint64_t compute_cpu_4096 =
    16777216 + 12582912 + 2 * (4096 + 256) * 4 + 8388608 + 58720256 + 131072;

static plan_result fit(int n_gpus, const uint64_t *gpu_free, uint64_t ram, plan_prefer prefer)
{
    model_desc m = toy_model();
    hw_info hw = toy_hw(n_gpus, gpu_free, ram);
    plan_options o = plan_default_options();
    o.prefer = prefer;
    plan_result r;
    rs_error err = {0};
    assert_int_equal(plan_fit(&m, &hw, &o, &r, &err), RS_OK);
    return r;
}

static const plan_row *chosen(const plan_result *r)
{
    assert_true(r->chosen >= 0);
    return &r->rows[r->chosen];
}

static void test_rows(void **state)
{
    (void)state;
    uint64_t g = 8 * GiB;
    plan_result r = fit(1, &g, 64 * GiB, PLAN_PREFER_QUALITY);
    // stored (bf16), fp32, fp16, int8, int4: bf16 is the stored row.
    assert_int_equal(r.n_rows, 5);
    assert_int_equal(r.opts.n_ctx, 4096);
    assert_int_equal(r.rows[0].precision.kind, PLAN_PREC_STORED);
    assert_int_equal(r.rows[0].weights, 5632 * MiB);
    assert_int_equal(r.rows[0].kv, 160 * MiB);
    assert_int_equal(r.rows[0].compute, compute_4096);
    assert_int_equal(r.rows[1].precision.kind, PLAN_PREC_F32);
    assert_false(r.rows[1].candidate); // never widen
    assert_false(r.rows[2].candidate); // fp16: same size as bf16
    assert_int_equal(r.rows[3].weights, (10 * 272 + 136 + 136) * MiB);
    assert_true(r.rows[3].candidate);
    assert_int_equal(r.rows[4].weights, 10 * 144 * MiB + 72 * MiB + 16ull * 210 * 32768);
    // Seed rule: params x 2 x 1.2.
    assert_int_equal(r.rows[0].seed_rule, (uint64_t)((double)(10ull * 4096 * 65536 +
                                                              2ull * 4096 * 32768) * 2 * 1.2));
}

static void test_fits_stored_on_gpu(void **state)
{
    (void)state;
    uint64_t g = 8 * GiB;
    plan_result r = fit(1, &g, 64 * GiB, PLAN_PREFER_QUALITY);
    const plan_row *row = chosen(&r);
    assert_int_equal(r.chosen, 0);
    assert_int_equal(row->layout.placement, PLAN_PLACE_GPU);
    assert_int_equal(row->layout.n_dev, 2); // host RAM + GPU0
    const plan_device *d = &row->layout.dev[1];
    assert_int_equal(d->weights, 5632 * MiB);
    assert_int_equal(d->kv, 160 * MiB);
    assert_int_equal(d->compute, compute_4096);
    assert_int_equal(d->overhead, OVH);
    assert_int_equal(d->total, 5632 * MiB + 160 * MiB + compute_4096 + OVH);
    // The host: the process, the tokenizer, the GPU's CUDA context's host
    // side and the engine's activations (the logits come back there).
    const plan_device *host = &row->layout.dev[0];
    assert_int_equal(host->weights + host->kv, 0);
    assert_int_equal(host->overhead, CPU_OVH + PLAN_CUDA_HOST_BYTES);
    assert_int_equal(host->compute, compute_cpu_4096);
    assert_int_equal(host->total, CPU_OVH + PLAN_CUDA_HOST_BYTES + compute_cpu_4096);
    assert_non_null(strstr(r.reason, "own precision fits"));
    // Largest context: what remains of the usable 8 GiB after the fixed
    // costs, at 40 KiB of KV per token, the decode partials growing past
    // 32K tokens.
    uint64_t usable = 8 * GiB - 256 * MiB; // 3% is 245.8 MiB, under the 256 MiB floor
    assert_int_equal(row->max_ctx, gpu_max_ctx(usable, 5632 * MiB + OVH + compute_base, 0, 40960, 128));
    assert_true(row->max_ctx > 32768);
}

static void test_falls_to_int8(void **state)
{
    (void)state;
    uint64_t g = 5 * GiB;
    plan_result r = fit(1, &g, 64 * GiB, PLAN_PREFER_QUALITY);
    const plan_row *row = chosen(&r);
    assert_int_equal(row->precision.kind, PLAN_PREC_INT8);
    assert_int_equal(row->layout.placement, PLAN_PLACE_GPU);
    assert_non_null(strstr(r.reason, "BF16 needs 6.4 GiB on the GPU where 4.8 GiB is usable; int8 is the best"));
}

static void test_falls_to_int4(void **state)
{
    (void)state;
    uint64_t g = 3 * GiB;
    plan_result r = fit(1, &g, 64 * GiB, PLAN_PREFER_QUALITY);
    const plan_row *row = chosen(&r);
    assert_int_equal(row->precision.kind, PLAN_PREC_INT4);
    assert_int_equal(row->layout.placement, PLAN_PLACE_GPU);
}

static void test_split(void **state)
{
    (void)state;
    // 2 GiB card: usable 1792 MiB. As the engine loads a split, the GPU
    // holds the first blocks and the embedding, the CPU the rest and the
    // head (no logits on the GPU: 142.2 MiB of scratch, 174.2 with the
    // dequantization scratch of int8 and int4). bf16: 596 + 142.2 + 256
    // (embedding) + G x (512 + 16) -> G = 1. int4: 596 + 174.2 + 72 + G x
    // 160 -> G = 5. int8: 596 + 174.2 + 136 + G x 288 -> G = 3.
    uint64_t g = 2 * GiB;
    plan_result r = fit(1, &g, 64 * GiB, PLAN_PREFER_QUALITY);
    const plan_row *row = &r.rows[0];
    assert_int_equal(row->layout.placement, PLAN_PLACE_SPLIT);
    assert_int_equal(row->layout.n_gpu_layers, 1);
    assert_int_equal(row->layout.dev[0].layer_first, 1);
    assert_int_equal(row->layout.dev[0].layer_last, 10);
    assert_false(row->layout.dev[0].has_embd);
    assert_true(row->layout.dev[0].has_output);
    assert_int_equal(row->layout.dev[1].layer_first, 0);
    assert_int_equal(row->layout.dev[1].layer_last, 1);
    assert_true(row->layout.dev[1].has_embd);
    assert_false(row->layout.dev[1].has_output);
    assert_int_equal(row->layout.dev[1].compute, compute_4096 - 131072);
    assert_int_equal(row->layout.dev[1].total,
                     OVH + compute_4096 - 131072 + 256 * MiB + 512 * MiB + 16 * MiB);
    // Nothing fits on the GPU alone: the split with the fewest CPU blocks
    // (issue 6: a 2 GiB card gets int4 plus CPU layers), not bf16 with 1.
    row = chosen(&r);
    assert_int_equal(row->precision.kind, PLAN_PREC_INT4);
    assert_int_equal(row->layout.placement, PLAN_PLACE_SPLIT);
    assert_int_equal(row->layout.n_gpu_layers, 5);
    assert_non_null(strstr(r.reason, "5 layers on GPU, 5 on CPU"));
    // Its GPU holds the dequantization scratch bf16 does without.
    assert_int_equal(row->layout.dev[1].compute, compute_4096 - 131072 + (32 << 20));

    r = fit(1, &g, 64 * GiB, PLAN_PREFER_SPEED);
    row = chosen(&r);
    assert_int_equal(row->precision.kind, PLAN_PREC_INT4);
    assert_int_equal(row->layout.placement, PLAN_PLACE_SPLIT);
    assert_int_equal(row->layout.n_gpu_layers, 5);
    assert_int_equal(r.rows[3].layout.n_gpu_layers, 3); // int8
}

static void test_cpu(void **state)
{
    (void)state;
    plan_result r = fit(0, NULL, 16 * GiB, PLAN_PREFER_QUALITY);
    const plan_row *row = chosen(&r);
    assert_int_equal(row->precision.kind, PLAN_PREC_STORED);
    assert_int_equal(row->layout.placement, PLAN_PLACE_CPU);
    assert_int_equal(row->layout.n_dev, 1);
    assert_int_equal(row->layout.dev[0].total,
                     5632 * MiB + 160 * MiB + compute_cpu_4096 + CPU_OVH);

    // 4 GiB: usable 3584 MiB (the 512 MiB floor): bf16 no, int8 3356 MiB yes.
    r = fit(0, NULL, 4 * GiB, PLAN_PREFER_QUALITY);
    row = chosen(&r);
    assert_int_equal(row->precision.kind, PLAN_PREC_INT8);
    assert_int_equal(row->layout.placement, PLAN_PLACE_CPU);
}

static void test_does_not_fit(void **state)
{
    (void)state;
    plan_result r = fit(0, NULL, 2 * GiB, PLAN_PREFER_QUALITY);
    assert_int_equal(r.chosen, -1);
    uint64_t int4 = 10 * 144 * MiB + 72 * MiB + 16ull * 210 * 32768;
    assert_int_equal(r.needed, int4 + 160 * MiB + compute_cpu_4096 + CPU_OVH);
    assert_int_equal(r.available, 1536 * MiB);
    assert_string_equal(r.reason, "does not fit: needs 1.8 GiB (int4, 4096-token context), this "
                                  "machine has 1.5 GiB available after margins");
    // Still, the largest context at int4 on the CPU is reported: none here
    // (the weights alone do not fit).
    assert_int_equal(r.rows[4].max_ctx, 0);
}

static void test_multi_gpu(void **state)
{
    (void)state;
    // Two 4 GiB cards: same room after the fixed costs (embedding on the
    // first, head on the last), so 5 blocks each.
    uint64_t g[2] = {4 * GiB, 4 * GiB};
    plan_result r = fit(2, g, 64 * GiB, PLAN_PREFER_QUALITY);
    const plan_row *row = chosen(&r);
    assert_int_equal(row->precision.kind, PLAN_PREC_STORED);
    assert_int_equal(row->layout.placement, PLAN_PLACE_GPU);
    assert_int_equal(row->layout.n_dev, 3);
    assert_int_equal(row->layout.dev[1].layer_first, 0);
    assert_int_equal(row->layout.dev[1].layer_last, 5);
    assert_true(row->layout.dev[1].has_embd);
    assert_int_equal(row->layout.dev[2].layer_first, 5);
    assert_int_equal(row->layout.dev[2].layer_last, 10);
    assert_true(row->layout.dev[2].has_output);
    assert_int_equal(row->layout.dev[1].kv + row->layout.dev[2].kv, 160 * MiB);
    assert_non_null(strstr(r.reason, "on 2 GPUs"));

    // 6 GiB + 3 GiB: rooms 4951.7 and 1808 MiB: 7 and 3 blocks.
    uint64_t h[2] = {6 * GiB, 3 * GiB};
    r = fit(2, h, 64 * GiB, PLAN_PREFER_QUALITY);
    row = chosen(&r);
    assert_int_equal(row->layout.placement, PLAN_PLACE_GPU);
    assert_int_equal(row->layout.dev[1].layer_last, 7);
    assert_int_equal(row->layout.dev[2].layer_last - row->layout.dev[2].layer_first, 3);
}

static void test_forced_and_context(void **state)
{
    (void)state;
    model_desc m = toy_model();
    uint64_t g = 24 * GiB;
    hw_info hw = toy_hw(1, &g, 64 * GiB);
    plan_options o = plan_default_options();
    assert_int_equal(plan_precision_parse("int8", &o.precision, NULL), RS_OK);
    o.force_precision = true;
    o.n_ctx = 32768;
    o.n_parallel = 2;
    plan_result r;
    assert_int_equal(plan_fit(&m, &hw, &o, &r, NULL), RS_OK);
    const plan_row *row = chosen(&r);
    assert_int_equal(row->precision.kind, PLAN_PREC_INT8);
    assert_int_equal(row->kv, 2ull * 32768 * 40960); // two sequences of 32768 tokens
    assert_non_null(strstr(r.reason, "--precision int8 as asked"));
    for (int i = 0; i < r.n_rows; i++)
        if (i != r.chosen) assert_false(r.rows[i].candidate);

    // A GGUF type by name adds its own row.
    assert_int_equal(plan_precision_parse("q6_k", &o.precision, NULL), RS_OK);
    assert_int_equal(plan_fit(&m, &hw, &o, &r, NULL), RS_OK);
    row = chosen(&r);
    assert_int_equal(row->precision.kind, PLAN_PREC_GGUF);
    assert_int_equal(row->weights, 10ull * 16 * 210 * 65536 + 2ull * 16 * 210 * 32768);

    // The whole trained context fits on 80 GiB at int4: max_ctx = limit.
    g = 80 * GiB;
    hw = toy_hw(1, &g, 64 * GiB);
    o = plan_default_options();
    assert_int_equal(plan_fit(&m, &hw, &o, &r, NULL), RS_OK);
    assert_int_equal(r.rows[4].max_ctx, 131072);
}

static void test_gpu_only(void **state)
{
    (void)state;
    model_desc m = toy_model();
    uint64_t g = 2 * GiB;
    hw_info hw = toy_hw(1, &g, 64 * GiB);
    plan_options o = plan_default_options();
    o.gpu_only = true;
    plan_result r;
    assert_int_equal(plan_fit(&m, &hw, &o, &r, NULL), RS_OK);
    assert_int_equal(r.chosen, -1); // int4 needs 2529 MiB on the card
    // But a shorter context fits int4 alone... no: the weights and fixed
    // costs (2369 MiB) exceed 1792 MiB usable, so none.
    assert_int_equal(r.rows[4].max_ctx, 0);
    g = 3 * GiB;
    hw = toy_hw(1, &g, 64 * GiB);
    assert_int_equal(plan_fit(&m, &hw, &o, &r, NULL), RS_OK);
    assert_int_equal(chosen(&r)->precision.kind, PLAN_PREC_INT4);
}

static void test_fp8_stored(void **state)
{
    (void)state;
    // An FP8 checkpoint (DeepSeek-V3's layout): the engine cannot run F8_E4M3,
    // so the stored row is not a candidate and bf16 is allowed (widening as
    // llama.cpp's converter does); the block scales vanish in any conversion.
    model_desc m = toy_model();
    static model_tensor t[13];
    memcpy(t, toy_tensors, sizeof toy_tensors);
    for (int i = 0; i < 10; i++) t[i].type = DTYPE_F8_E4M3;
    memset(&t[12], 0, sizeof t[12]);
    t[12].name = "blk.0.ffn_up.weight_scale_inv";
    t[12].n_dims = 2;
    t[12].ne[0] = 32;
    t[12].ne[1] = 512;
    t[12].n_elems = 32 * 512;
    t[12].type = DTYPE_F32;
    m.tensors = t;
    m.n_tensors = 13;
    m.stored_type = DTYPE_F8_E4M3;
    uint64_t g = 8 * GiB;
    hw_info hw = toy_hw(1, &g, 64 * GiB);
    plan_options o = plan_default_options();
    plan_result r;
    assert_int_equal(plan_fit(&m, &hw, &o, &r, NULL), RS_OK);
    assert_false(r.stored_runnable);
    assert_int_equal(r.unrunnable, DTYPE_F8_E4M3);
    // stored: 10 x 256 MiB of FP8 + the bf16 tables + the scales.
    assert_int_equal(r.rows[0].weights, 10 * 256 * MiB + 512 * MiB + 32 * 512 * 4);
    assert_false(r.rows[0].candidate);
    // bf16 no longer carries the scales; it fits the 8 GiB card and is chosen.
    const plan_row *row = chosen(&r);
    assert_int_equal(row->precision.kind, PLAN_PREC_BF16);
    assert_int_equal(row->weights, 5632 * MiB);
    assert_non_null(strstr(r.reason, "does not compute with the stored F8_E4M3"));
}

// Fit decisions on the toy model turned into the other attention and FFN
// kinds, figures by hand from the 8 GiB card of test_fits_stored_on_gpu:
// usable 7936 MiB, fixed (weights, CUDA overhead, compute) 6384.125 MiB.
static void test_swa_mla_moe(void **state)
{
    (void)state;
    uint64_t g = 8 * GiB;
    hw_info hw = toy_hw(1, &g, 64 * GiB);
    plan_options o = plan_default_options();
    rs_error err = {0};
    const uint64_t left = 7936 * MiB - (5632 * MiB + OVH + compute_4096);

    // Sliding window: blocks 0-4 attend to the last 1024 tokens only, so
    // past the window only blocks 5-9 grow (5 x 4 KiB per token).
    model_desc m = toy_model();
    uint8_t swa[10] = {1, 1, 1, 1, 1, 0, 0, 0, 0, 0};
    m.layer_is_swa = swa;
    m.sliding_window = 1024;
    plan_result r;
    assert_int_equal(plan_fit(&m, &hw, &o, &r, &err), RS_OK);
    const plan_row *row = chosen(&r);
    assert_int_equal(r.chosen, 0);
    // KV at 4096 tokens: 5 x 4096 + 5 x 1024 tokens x 4 KiB.
    assert_int_equal(row->kv, (5ull * 4096 + 5ull * 1024) * 4096);
    // Past 64K tokens the decode partials grow by 130 bytes a token too.
    assert_int_equal(row->max_ctx, gpu_max_ctx(7936 * MiB, 5632 * MiB + OVH + compute_base,
                                               5ull * 1024 * 4096, 5 * 4096, 128));
    assert_true(row->max_ctx > (int64_t)(left / 40960)); // more than without the window

    // MLA: the cache holds a 512-wide latent and a 64-wide rope key per
    // token and block, (512 + 64) x 2 bytes, whatever the head count.
    m = toy_model();
    m.kv_lora_rank = 512;
    m.qk_rope_head_dim = 64;
    m.n_ctx_train = 1 << 20;
    assert_int_equal(plan_fit(&m, &hw, &o, &r, &err), RS_OK);
    row = chosen(&r);
    assert_int_equal(row->kv, 10ull * 4096 * 1152);
    const plan_device *d = &row->layout.dev[1];
    // The GPU arena takes MLA heads as 32 KV heads of 64 (nope 0 + rope 64).
    uint64_t fixed = d->weights + d->compute - gpu_parts_hd(4096, 64) + d->overhead;
    assert_int_equal(row->max_ctx, gpu_max_ctx(7936 * MiB, fixed, 0, 10 * 1152, 64));

    // MoE: all 8 experts stay in memory (the fit is the dense one), but a
    // token reads 2 of 8: 10 x (512 - 128) MiB fewer bytes per decode step.
    m = toy_model();
    plan_result dense;
    assert_int_equal(plan_fit(&m, &hw, &o, &dense, &err), RS_OK);
    static char exps[10][32];
    for (int i = 0; i < 10; i++) {
        snprintf(exps[i], sizeof exps[i], "blk.%d.ffn_up_exps.weight", i);
        toy_tensors[i].name = exps[i];
    }
    m.n_expert = 8;
    m.n_expert_used = 2;
    assert_int_equal(plan_fit(&m, &hw, &o, &r, &err), RS_OK);
    row = chosen(&r);
    assert_int_equal(r.chosen, 0);
    assert_int_equal(row->weights, 5632 * MiB);
    assert_int_equal(row->layout.placement, PLAN_PLACE_GPU);
    const plan_row *drow = &dense.rows[dense.chosen];
    assert_int_equal(drow->speed.parts[0].decode_bytes - row->speed.parts[0].decode_bytes,
                     10ull * 384 * MiB);
    assert_true(row->speed.decode_tps > drow->speed.decode_tps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),         cmocka_unit_test(test_fits_stored_on_gpu),
        cmocka_unit_test(test_falls_to_int8), cmocka_unit_test(test_falls_to_int4),
        cmocka_unit_test(test_split),        cmocka_unit_test(test_cpu),
        cmocka_unit_test(test_does_not_fit), cmocka_unit_test(test_multi_gpu),
        cmocka_unit_test(test_forced_and_context), cmocka_unit_test(test_gpu_only),
        cmocka_unit_test(test_fp8_stored),   cmocka_unit_test(test_swa_mla_moe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
