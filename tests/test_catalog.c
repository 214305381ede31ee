// The catalog: every entry parses and synthesizes, and the computed
// parameter count equals the published one wherever one is recorded.
#include "testutil.h"

#include "model/catalog.h"
#include "model/model.h"

static void test_every_entry(void **state)
{
    (void)state;
    size_t n = catalog_count();
    assert_true(n >= 40);
    size_t with_published = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = catalog_name(i);
        assert_non_null(name);
        const char *src = catalog_source(i);
        if (!src || strncmp(src, "https://huggingface.co/", 23) != 0)
            fail_msg("%s: source \"%s\" is not an HF repository URL", name, src ? src : "");
        for (const char *p = name; *p; p++)
            if (*p >= 'A' && *p <= 'Z') fail_msg("%s: catalog names are lowercase", name);
        model_desc *m = NULL;
        rs_error err = {0};
        if (model_open(name, &m, &err) != RS_OK) fail_msg("%s: %s", name, err.msg);
        assert_int_equal(m->source, MODEL_SOURCE_CATALOG);
        assert_true(m->arch_rules_known);
        assert_true(m->tensors_synthesized);
        assert_true(m->n_params > 0 && m->n_params_active > 0);
        assert_true(m->n_params_active <= m->n_params);
        assert_true(model_kv_bytes_per_token(m, DTYPE_F16) > 0);
        uint64_t pub = catalog_published_params(i);
        if (pub) {
            with_published++;
            if (m->n_params != pub)
                fail_msg("%s: computed %llu parameters, published %llu", name,
                         (unsigned long long)m->n_params, (unsigned long long)pub);
        }
        if (m->n_expert == 0) assert_int_equal(m->n_params_active, m->n_params);
        else assert_true(m->n_params_active < m->n_params);
        model_free(m);
    }
    assert_true(with_published >= 40);
}

static void test_required_models(void **state)
{
    (void)state;
    static const char *need[] = {
        "llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "llama-3.2-1b", "llama-3.2-3b",
        "llama-3.3-70b", "qwen2.5-0.5b", "qwen2.5-1.5b", "qwen2.5-3b", "qwen2.5-7b",
        "qwen2.5-14b", "qwen2.5-32b", "qwen2.5-72b", "qwen2.5-7b-instruct", "qwen3-0.6b",
        "qwen3-1.7b", "qwen3-4b", "qwen3-8b", "qwen3-14b", "qwen3-32b", "qwen3-30b-a3b",
        "qwen3-235b-a22b", "mistral-7b-v0.3", "mistral-nemo-12b", "mixtral-8x7b",
        "mixtral-8x22b", "gemma-2-2b", "gemma-2-9b", "gemma-2-27b", "gemma-3-1b", "gemma-3-4b",
        "gemma-3-12b", "gemma-3-27b", "phi-3-mini", "phi-3-medium", "phi-3.5-mini", "phi-4",
        "deepseek-v3", "deepseek-r1", "deepseek-r1-distill-qwen-1.5b",
        "deepseek-r1-distill-qwen-7b", "deepseek-r1-distill-qwen-14b",
        "deepseek-r1-distill-qwen-32b", "deepseek-r1-distill-llama-8b",
        "deepseek-r1-distill-llama-70b", "smollm2-135m", "smollm2-360m", "smollm2-1.7b",
    };
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (catalog_find(need[i]) < 0) fail_msg("catalog lacks %s", need[i]);
}

static void test_lookup(void **state)
{
    (void)state;
    long a = catalog_find("qwen2.5-7b-instruct");
    assert_true(a >= 0);
    assert_int_equal(catalog_find("Qwen2.5-7B-Instruct"), a);
    assert_int_equal(catalog_find("Qwen/Qwen2.5-7B-Instruct"), a);
    assert_int_equal(catalog_find("no-such-model"), -1);
    const char *near[5];
    size_t k = catalog_suggest("qwen2.5-7b-instrct", near, 5);
    assert_true(k >= 1);
    assert_string_equal(near[0], "qwen2.5-7b-instruct");

    model_desc *m = NULL;
    rs_error err = {0};
    assert_int_equal(model_open("mixtral-8x7", &m, &err), RS_ERR_INPUT);
    assert_null(m);
    assert_non_null(strstr(err.msg, "did you mean"));
    assert_non_null(strstr(err.msg, "mixtral-8x7b"));
    assert_int_equal(model_open("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", &m, &err), RS_ERR_INPUT);
    assert_non_null(strstr(err.msg, "zzzz"));
}

static void test_moe_active(void **state)
{
    (void)state;
    model_desc *m = NULL;
    rs_error err = {0};
    assert_int_equal(model_open("qwen1.5-moe-a2.7b", &m, &err), RS_OK);
    assert_int_equal(m->arch, MODEL_ARCH_QWEN2_MOE);
    assert_non_null(model_find_tensor(m, "model.layers.0.mlp.shared_expert_gate.weight"));
    assert_non_null(model_find_tensor(m, "model.layers.0.mlp.shared_expert.up_proj.weight"));
    // Per layer, 56 of 60 experts (3 * 1408 * 2048 each) do not run.
    assert_int_equal(m->n_params - m->n_params_active, (uint64_t)24 * 56 * 3 * 1408 * 2048);
    model_free(m);
    assert_int_equal(model_open("phi-3-mini", &m, &err), RS_OK);
    const model_tensor *qkv = model_find_tensor(m, "model.layers.0.self_attn.qkv_proj.weight");
    assert_non_null(qkv);
    assert_int_equal(qkv->ne[1], 3 * 3072);
    const model_tensor *gu = model_find_tensor(m, "model.layers.0.mlp.gate_up_proj.weight");
    assert_non_null(gu);
    assert_int_equal(gu->ne[1], 2 * 8192);
    model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_entry),
        cmocka_unit_test(test_required_models),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_moe_active),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
