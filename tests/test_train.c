#include "testutil.h"

#include "model/model.h"
#include "plan/train.h"

// Hand-computed components for Llama-3.1-8B (config.json in the test data):
// h 4096, 32 layers, 32 heads, 8 KV heads, head_dim 128, FFN 14336,
// vocab 128256, untied embeddings, 8,030,261,248 parameters.
#define P8B 8030261248ull
#define FRAMEWORK (72ull << 20)

static model_desc *open_llama8b(void)
{
    char dir[4096];
    TESTDATA_PATH(dir, "configs/meta-llama--Llama-3.1-8B");
    model_desc *m = NULL;
    rs_error err = {0};
    if (model_open(dir, &m, &err) != RS_OK) fail_msg("%s", err.msg);
    assert_int_equal(m->n_params, P8B);
    return m;
}

static void test_full_mixed_adamw(void **state)
{
    (void)state;
    model_desc *m = open_llama8b();
    train_options o = train_default_options(); // full, bf16-mixed, AdamW, seq 2048, batch 1
    train_memory mem;
    train_plan_memory(m, &o, &mem);
    assert_int_equal(mem.params.total, P8B);
    assert_int_equal(mem.weights, 4 * P8B);    // fp32 master weights
    assert_int_equal(mem.gradients, 4 * P8B);  // fp32 gradients
    assert_int_equal(mem.optimizer, 8 * P8B);  // exp_avg + exp_avg_sq in fp32
    assert_int_equal(mem.step_temporary, 4 * P8B); // foreach sqrt(v)
    // Linear weights: everything but the embedding (128256 x 4096) and the
    // 65 RMSNorm vectors; autocast keeps a bf16 copy of each.
    uint64_t linear = P8B - 128256ull * 4096 - 65ull * 4096;
    assert_int_equal(mem.weight_casts, 2 * linear);
    // Saved activations per token: 32 x (26h + 6q + 4kv + 8f) + 10h + 4V.
    uint64_t per_token = 32ull * (26 * 4096 + 6 * 4096 + 4 * 1024 + 8 * 14336) + 10 * 4096 +
                         4 * 128256ull;
    assert_int_equal(mem.activations, 2048 * per_token);
    assert_int_equal(mem.peak_step, 20 * P8B + FRAMEWORK);
    assert_int_equal(mem.peak_backward_start,
                     12 * P8B + FRAMEWORK + 2 * linear + 2048 * per_token + 2048ull * 8 * 128256);
    assert_int_equal(mem.peak_allocated, mem.peak_step);
    assert_string_equal(mem.peak_phase, "optimizer step");
    assert_int_equal(mem.total, mem.peak_allocated + mem.cuda_context);
    model_free(m);
}

static void test_checkpointing_keeps_layer_inputs(void **state)
{
    (void)state;
    model_desc *m = open_llama8b();
    train_options o = train_default_options();
    o.grad_checkpointing = true;
    o.seq = 4096;
    train_memory mem;
    train_plan_memory(m, &o, &mem);
    // fp32 residual stream: 4h per layer per token, plus final norm and log-probs.
    assert_int_equal(mem.activations, 4096ull * (32 * 4 * 4096 + 10 * 4096 + 4 * 128256ull));
    // Only lm_head's bf16 copy stays saved for backward.
    uint64_t linear = P8B - 128256ull * 4096 - 65ull * 4096;
    assert_int_equal(mem.peak_backward_start, 12 * P8B + FRAMEWORK + 2 * 128256ull * 4096 +
                                                  mem.activations + 4096ull * 8 * 128256);
    assert_int_equal(mem.peak_forward, 12 * P8B + FRAMEWORK + 2 * linear + mem.activations +
                                           4096ull * 6 * 128256);
    model_free(m);
}

static void test_lora_adapters(void **state)
{
    (void)state;
    model_desc *m = open_llama8b();
    train_options o = train_default_options();
    o.method = TRAIN_LORA; // r 16 on q,k,v,o,gate,up,down
    train_memory mem;
    train_plan_memory(m, &o, &mem);
    // Per layer: 16 x [(4096+4096) x 2 + (4096+1024) x 2 + (4096+14336) x 3].
    uint64_t adapters = 32ull * 16 * (2 * 8192 + 2 * 5120 + 3 * 18432);
    assert_int_equal(adapters, 41943040); // what PyTorch counted on the device
    assert_int_equal(mem.params.adapters, adapters);
    assert_int_equal(mem.params.trainable, adapters);
    assert_int_equal(mem.weights, 2 * P8B + 4 * adapters); // bf16 base, fp32 adapters
    assert_int_equal(mem.gradients, 4 * adapters);
    assert_int_equal(mem.optimizer, 8 * adapters);
    // Fewer targets: q and v only.
    assert_int_equal(train_parse_targets("q,v", &o.lora_targets), 0);
    train_plan_memory(m, &o, &mem);
    assert_int_equal(mem.params.adapters, 32ull * 16 * (8192 + 5120));

    // QLoRA: decoder linears at NF4 with double-quantized constants.
    o = train_default_options();
    o.method = TRAIN_QLORA;
    train_plan_memory(m, &o, &mem);
    uint64_t quantizable = P8B - 2 * 128256ull * 4096 - 65ull * 4096;
    uint64_t base = (uint64_t)((double)quantizable * (0.5 + 1.0 / 64 + 4.0 / (64 * 256))) +
                    2 * (P8B - quantizable);
    assert_int_equal(mem.weights, base + 4 * mem.params.adapters);
    // An 8B QLoRA fits a 16 GB card at seq 2048 with checkpointing, not without.
    assert_true(mem.total > 16ull << 30);
    o.grad_checkpointing = true;
    train_plan_memory(m, &o, &mem);
    assert_true(mem.total < 16ull << 30);
    model_free(m);
}

static void test_zero_and_offload(void **state)
{
    (void)state;
    model_desc *m = open_llama8b();
    train_options o = train_default_options();
    o.n_gpus = 8;
    o.zero_stage = 1;
    train_memory mem;
    train_plan_memory(m, &o, &mem);
    assert_int_equal(mem.optimizer, 8 * P8B / 8);
    assert_int_equal(mem.gradients, 4 * P8B);
    o.zero_stage = 2;
    train_plan_memory(m, &o, &mem);
    assert_int_equal(mem.gradients, 4 * P8B / 8);
    assert_int_equal(mem.weights, 4 * P8B);
    o.zero_stage = 3;
    train_plan_memory(m, &o, &mem);
    assert_int_equal(mem.weights, 4 * P8B / 8);

    o = train_default_options();
    o.offload_optimizer = true;
    train_plan_memory(m, &o, &mem);
    assert_int_equal(mem.optimizer, 0);
    assert_int_equal(mem.weights, 2 * P8B);               // bf16 working copy on the GPU
    assert_int_equal(mem.cpu_ram, 8 * P8B + 4 * P8B + 4 * P8B); // states, step temp, fp32 master
    model_free(m);
}

static void test_optimizers_and_precisions(void **state)
{
    (void)state;
    model_desc *m = open_llama8b();
    train_options o = train_default_options();
    train_memory mem;
    o.optim = TRAIN_OPTIM_SGD;
    train_plan_memory(m, &o, &mem);
    assert_int_equal(mem.optimizer, 0);
    o.optim = TRAIN_OPTIM_SGD_MOMENTUM;
    train_plan_memory(m, &o, &mem);
    assert_int_equal(mem.optimizer, 4 * P8B);
    o.optim = TRAIN_OPTIM_ADAMW_8BIT;
    train_plan_memory(m, &o, &mem);
    assert_true(mem.optimizer >= 2 * P8B && mem.optimizer < 2 * P8B + P8B / 100);
    o.optim = TRAIN_OPTIM_ADAMW;
    o.precision = TRAIN_PRECISION_BF16_PURE;
    train_plan_memory(m, &o, &mem);
    assert_int_equal(mem.weights, 2 * P8B);
    assert_int_equal(mem.optimizer, 4 * P8B); // torch keeps states in the parameters' dtype
    assert_int_equal(mem.weight_casts, 0);
    assert_int_equal(mem.peak_step, 10 * P8B + FRAMEWORK);
    // Without flash attention the seq x seq scores appear: 8 bytes per head per key.
    o = train_default_options();
    train_memory flash, eager;
    train_plan_memory(m, &o, &flash);
    o.flash_attention = false;
    train_plan_memory(m, &o, &eager);
    assert_int_equal(eager.activations - flash.activations, 2048ull * 32 * 8 * 32 * 2048);
    model_free(m);
}

static void test_fit_search_and_suggestions(void **state)
{
    (void)state;
    model_desc *m = open_llama8b();
    train_options o = train_default_options();
    o.method = TRAIN_LORA;
    uint64_t cap = 80ull << 30;
    int64_t mb = train_max_micro_batch(m, &o, cap);
    assert_true(mb >= 1);
    train_options t = o;
    train_memory mem;
    t.micro_batch = mb;
    train_plan_memory(m, &t, &mem);
    assert_true(mem.total <= cap);
    t.micro_batch = mb + 1;
    train_plan_memory(m, &t, &mem);
    assert_true(mem.total > cap);
    int64_t seq = train_max_seq(m, &o, cap);
    t = o;
    t.seq = seq;
    train_plan_memory(m, &t, &mem);
    assert_true(mem.total <= cap);
    t.seq = seq + 1;
    train_plan_memory(m, &t, &mem);
    assert_true(mem.total > cap);

    // Full fine-tuning of 8B does not fit 80 GB; LoRA is the biggest saving.
    o = train_default_options();
    train_plan_memory(m, &o, &mem);
    assert_true(mem.total > cap);
    train_suggestion s[8];
    int n = train_suggest(m, &o, s, 8);
    assert_true(n >= 3);
    for (int i = 1; i < n; i++) assert_true(s[i - 1].saved >= s[i].saved);
    assert_true(strstr(s[0].change, "qlora") || strstr(s[0].change, "lora"));
    assert_int_equal(train_max_micro_batch(m, &o, cap), 0);
    model_free(m);
}

static void test_rules_of_thumb(void **state)
{
    (void)state;
    model_desc *m = open_llama8b();
    assert_int_equal(train_seed_rule_bytes(m), 6 * P8B);
    assert_int_equal(train_accelerate_rule_bytes(m, true), 8 * P8B);
    assert_int_equal(train_accelerate_rule_bytes(m, false), 16 * P8B);
    model_free(m);
}

static void test_parsing(void **state)
{
    (void)state;
    unsigned t;
    assert_int_equal(train_parse_targets("q,k,v,o,gate,up,down", &t), 0);
    assert_int_equal(t, TRAIN_TARGET_ALL);
    assert_int_equal(train_parse_targets("all", &t), 0);
    assert_int_equal(train_parse_targets("q,x", &t), -1);
    assert_int_equal(train_parse_targets("", &t), -1);
    train_optim opt;
    assert_int_equal(train_parse_optim("adamw-8bit", &opt), 0);
    assert_int_equal(opt, TRAIN_OPTIM_ADAMW_8BIT);
    assert_int_equal(train_parse_optim("lion", &opt), -1);
    train_precision p;
    assert_int_equal(train_parse_precision("fp16-mixed", &p), 0);
    assert_int_equal(p, TRAIN_PRECISION_FP16_MIXED);
    train_method meth;
    assert_int_equal(train_parse_method("qlora", &meth), 0);
    assert_int_equal(meth, TRAIN_QLORA);
    assert_int_equal(train_parse_method("dpo", &meth), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_mixed_adamw),
        cmocka_unit_test(test_checkpointing_keeps_layer_inputs),
        cmocka_unit_test(test_lora_adapters),
        cmocka_unit_test(test_zero_and_offload),
        cmocka_unit_test(test_optimizers_and_precisions),
        cmocka_unit_test(test_fit_search_and_suggestions),
        cmocka_unit_test(test_rules_of_thumb),
        cmocka_unit_test(test_parsing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
