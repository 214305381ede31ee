// Architecture rules against hand-computed figures: parameter counts of
// every config in testdata/configs, active parameters of the MoE models, KV
// bytes per token (GQA, head_dim, sliding window, MLA), and the GGUF reader.
#include "testutil.h"

#include <cjson/cJSON.h>
#include <dirent.h>

#include "model/catalog.h"
#include "model/model.h"
#include "model/model_priv.h"

static model_desc *open_ok(const char *path)
{
    model_desc *m = NULL;
    rs_error err = {0};
    rs_status st = model_open(path, &m, &err);
    if (st != RS_OK) fail_msg("model_open(%s): %s", path, err.msg);
    return m;
}

static model_desc *open_config(const char *rel)
{
    char path[4096];
    TESTDATA_PATH(path, rel);
    return open_ok(path);
}

// Parameter totals worked out by hand from each config (embedding, per-layer
// attention, norms and MLP, final norm, lm_head unless tied); they equal the
// HF repositories' safetensors totals.
static const struct {
    const char *dir;
    uint64_t params, active, kv_f16;
} expected[] = {
    {"Qwen--Qwen2.5-14B", 14770033664u, 14770033664u, 48 * 8 * 128 * 2 * 2},
    {"Qwen--Qwen2.5-32B", 32763876352u, 32763876352u, 64 * 8 * 128 * 2 * 2},
    {"Qwen--Qwen2.5-32B-Instruct", 32763876352u, 32763876352u, 64 * 8 * 128 * 2 * 2},
    {"Qwen--Qwen2.5-3B", 3085938688u, 3085938688u, 36 * 2 * 128 * 2 * 2},
    {"Qwen--Qwen2.5-7B", 7615616512u, 7615616512u, 28 * 4 * 128 * 2 * 2},
    {"Qwen--Qwen2.5-7B-Instruct", 7615616512u, 7615616512u, 28 * 4 * 128 * 2 * 2},
    {"Qwen--Qwen3-14B", 14768307200u, 14768307200u, 40 * 8 * 128 * 2 * 2},
    // 48 layers x (attention 18,878,720 + router 262,144 + 8 of 128 experts
    // of 4,718,592) + embeddings and head 622,331,904.
    {"Qwen--Qwen3-30B-A3B", 30532122624u, 3353032704u, 48 * 4 * 128 * 2 * 2},
    {"Qwen--Qwen3-32B", 32762123264u, 32762123264u, 64 * 8 * 128 * 2 * 2},
    {"Qwen--Qwen3-4B", 4022468096u, 4022468096u, 36 * 8 * 128 * 2 * 2},
    {"Qwen--Qwen3-8B", 8190735360u, 8190735360u, 36 * 8 * 128 * 2 * 2},
    {"meta-llama--Llama-3.1-70B-Instruct", 70553706496u, 70553706496u, 80 * 8 * 128 * 2 * 2},
    {"meta-llama--Llama-3.1-8B", 8030261248u, 8030261248u, 131072},
    {"meta-llama--Llama-3.1-8B-Instruct", 8030261248u, 8030261248u, 131072},
    {"meta-llama--Llama-3.2-1B-Instruct", 1235814400u, 1235814400u, 16 * 8 * 64 * 2 * 2},
    {"meta-llama--Llama-3.2-3B", 3212749824u, 3212749824u, 28 * 8 * 128 * 2 * 2},
    {"meta-llama--Llama-3.2-3B-Instruct", 3212749824u, 3212749824u, 28 * 8 * 128 * 2 * 2},
    {"mistralai--Mistral-7B-Instruct-v0.3", 7248023552u, 7248023552u, 32 * 8 * 128 * 2 * 2},
    // 93,405,585,408 bytes of BF16 in the index = 46,702,792,704; active:
    // less 6 of 8 experts (176,160,768 each) in 32 layers.
    {"mistralai--Mixtral-8x7B-v0.1", 46702792704u, 12879925248u, 32 * 8 * 128 * 2 * 2},
    {"tt-metal--qwen3-0.6b-base-think-sft", 596049920u, 596049920u, 28 * 8 * 128 * 2 * 2},
    // DeepSeek-V3: 671,026,419,200 in the main model plus the MTP layer,
    // worked out in test_deepseek_mla below; its F32 block scales are bytes,
    // not parameters.
    {"deepseek-ai--DeepSeek-V3", 684489845504u, 37552297472u, 61 * 576 * 2},
};

static void test_testdata_configs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "configs/%s", expected[i].dir);
        model_desc *m = open_config(rel);
        if (m->n_params != expected[i].params)
            fail_msg("%s: params %llu, expected %llu", expected[i].dir,
                     (unsigned long long)m->n_params, (unsigned long long)expected[i].params);
        if (m->n_params_active != expected[i].active)
            fail_msg("%s: active %llu, expected %llu", expected[i].dir,
                     (unsigned long long)m->n_params_active, (unsigned long long)expected[i].active);
        if (model_kv_bytes_per_token(m, DTYPE_F16) != expected[i].kv_f16)
            fail_msg("%s: kv/token %llu, expected %llu", expected[i].dir,
                     (unsigned long long)model_kv_bytes_per_token(m, DTYPE_F16),
                     (unsigned long long)expected[i].kv_f16);
        assert_true(m->tensors_synthesized);
        assert_true(m->arch_rules_known);
        model_free(m);
    }
}

static void test_llama_kv(void **state)
{
    (void)state;
    model_desc *m = open_config("configs/meta-llama--Llama-3.1-8B");
    // 32 layers * 8 KV heads * 128 dims * (K and V) * 2 bytes.
    assert_int_equal(model_kv_bytes_per_token(m, DTYPE_F16), 32 * 8 * 128 * 2 * 2);
    // q8_0: a row of 1024 elements is 32 blocks of 34 bytes.
    assert_int_equal(model_kv_bytes_per_token(m, DTYPE_Q8_0), 32 * 2 * 32 * 34);
    assert_int_equal(model_kv_bytes_per_token(m, DTYPE_Q4_0), 32 * 2 * 32 * 18);
    assert_int_equal(model_kv_bytes(m, 8192, DTYPE_F16), (uint64_t)8192 * 131072);
    assert_int_equal(m->rope_scaling.type, ROPE_SCALING_LLAMA3);
    assert_true(m->rope_scaling.factor == 8.0);
    assert_int_equal(m->rope_scaling.original_ctx, 8192);
    assert_int_equal(m->bos_id, 128000);
    assert_int_equal(m->eos_id, 128001);
    assert_false(m->rope_interleaved);
    const model_tensor *k = model_find_tensor(m, "model.layers.31.self_attn.k_proj.weight");
    assert_non_null(k);
    assert_int_equal(k->ne[0], 4096);
    assert_int_equal(k->ne[1], 1024);
    assert_int_equal(k->type, DTYPE_BF16);
    assert_int_equal(k->nbytes, 4096 * 1024 * 2);
    assert_non_null(model_find_tensor(m, "lm_head.weight"));
    model_free(m);
}

static void test_qwen3_head_dim(void **state)
{
    (void)state;
    model_desc *m = open_config("configs/Qwen--Qwen3-4B");
    // 2560 / 32 = 80, but the config says 128.
    assert_int_equal(m->head_dim, 128);
    assert_true(m->attn_qk_norm);
    assert_true(m->tied_embeddings);
    const model_tensor *q = model_find_tensor(m, "model.layers.0.self_attn.q_proj.weight");
    assert_non_null(q);
    assert_int_equal(q->ne[0], 2560);
    assert_int_equal(q->ne[1], 32 * 128);
    const model_tensor *qn = model_find_tensor(m, "model.layers.0.self_attn.q_norm.weight");
    assert_non_null(qn);
    assert_int_equal(qn->ne[0], 128);
    assert_null(model_find_tensor(m, "lm_head.weight"));
    assert_int_equal(m->eos_id, 151645);
    model_free(m);
}

static void test_qwen2_bias(void **state)
{
    (void)state;
    model_desc *m = open_config("configs/Qwen--Qwen2.5-7B");
    assert_true(m->attn_qkv_bias);
    const model_tensor *b = model_find_tensor(m, "model.layers.3.self_attn.k_proj.bias");
    assert_non_null(b);
    assert_int_equal(b->ne[0], 512);
    assert_null(model_find_tensor(m, "model.layers.3.self_attn.o_proj.bias"));
    // use_sliding_window false: no sliding layers despite sliding_window.
    assert_int_equal(m->sliding_window, 0);
    assert_null(m->layer_is_swa);
    model_free(m);
}

static void test_gemma_swa(void **state)
{
    (void)state;
    model_desc *m = open_ok("gemma-2-9b");
    // Gemma 2 alternates: even layers slide over 4096 tokens.
    assert_int_equal(m->sliding_window, 4096);
    assert_non_null(m->layer_is_swa);
    assert_int_equal(m->layer_is_swa[0], 1);
    assert_int_equal(m->layer_is_swa[1], 0);
    uint64_t per_layer = 2 * 8 * 256 * 2; // K and V, 8 KV heads of 256, f16
    assert_int_equal(model_kv_bytes_per_token(m, DTYPE_F16), 42 * per_layer);
    assert_int_equal(model_kv_bytes(m, 2048, DTYPE_F16), 42 * per_layer * 2048);
    assert_int_equal(model_kv_bytes(m, 8192, DTYPE_F16), (21 * 4096 + 21 * 8192) * per_layer);
    assert_non_null(model_find_tensor(m, "model.layers.0.pre_feedforward_layernorm.weight"));
    model_free(m);

    // Gemma 3 1B: 5 local (window 512) per global layer: globals 5, 11, 17, 23.
    m = open_ok("gemma-3-1b-it");
    assert_int_equal(m->sliding_window, 512);
    int n_global = 0;
    for (int i = 0; i < 26; i++) n_global += !m->layer_is_swa[i];
    assert_int_equal(n_global, 4);
    assert_int_equal(m->layer_is_swa[5], 0);
    assert_int_equal(m->layer_is_swa[4], 1);
    per_layer = 2 * 1 * 256 * 2;
    assert_int_equal(model_kv_bytes(m, 32768, DTYPE_F16), (4 * 32768 + 22 * 512) * per_layer);
    model_free(m);

    // Gemma 3 4B: text_config nested in the multimodal wrapper, window 1024.
    m = open_ok("gemma-3-4b-it");
    assert_int_equal(m->arch, MODEL_ARCH_GEMMA3);
    assert_int_equal(m->n_layer, 34);
    assert_int_equal(m->sliding_window, 1024);
    assert_non_null(model_find_tensor(m, "language_model.model.layers.33.self_attn.k_norm.weight"));
    assert_non_null(model_find_tensor(m, "vision_tower.vision_model.encoder.layers.26.mlp.fc2.bias"));
    model_free(m);
}

static void test_mixtral_matches_index(void **state)
{
    (void)state;
    char dir[4096], index_path[4200];
    TESTDATA_PATH(dir, "configs/mistralai--Mixtral-8x7B-v0.1");
    model_desc *m = open_ok(dir);
    assert_int_equal(m->arch, MODEL_ARCH_MIXTRAL);
    assert_int_equal(m->n_expert, 8);
    assert_int_equal(m->n_expert_used, 2);
    snprintf(index_path, sizeof index_path, "%s/model.safetensors.index.json", dir);
    FILE *f = fopen(index_path, "rb");
    assert_non_null(f);
    static char buf[1 << 17];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    cJSON *idx = cJSON_Parse(buf);
    assert_non_null(idx);
    const cJSON *total = cJSON_GetObjectItem(cJSON_GetObjectItem(idx, "metadata"), "total_size");
    // The real checkpoint's byte total, BF16: exactly 2 bytes per parameter.
    assert_true((uint64_t)total->valuedouble == 93405585408u);
    assert_int_equal(m->n_params * 2, (uint64_t)total->valuedouble);
    uint64_t bytes = 0;
    for (int64_t i = 0; i < m->n_tensors; i++) bytes += m->tensors[i].nbytes;
    assert_int_equal(bytes, 93405585408u);
    // The synthesized names are exactly the index's names.
    const cJSON *wm = cJSON_GetObjectItem(idx, "weight_map");
    assert_int_equal(cJSON_GetArraySize(wm), m->n_tensors);
    for (int64_t i = 0; i < m->n_tensors; i++)
        if (!cJSON_GetObjectItemCaseSensitive(wm, m->tensors[i].name))
            fail_msg("synthesized %s is not in the index", m->tensors[i].name);
    cJSON_Delete(idx);
    model_free(m);
}

static void test_deepseek_mla(void **state)
{
    (void)state;
    char path[4096];
    TESTDATA_PATH(path, "configs/deepseek-ai--DeepSeek-V3/config.json");
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;

    model_desc m;
    model_desc_init(&m);
    rs_error err = {0};
    assert_int_equal(hf_config_parse("config.json", buf, n, &m, &err), RS_OK);
    assert_int_equal(arch_synthesize(&m, &err), RS_OK);
    arch_finish(&m);
    assert_int_equal(m.kv_lora_rank, 512);
    assert_int_equal(m.qk_rope_head_dim, 64);
    assert_int_equal(m.n_layer_dense_lead, 3);
    assert_int_equal(m.n_layer_mtp, 1);
    // MLA caches (512 + 64) latent values per layer per token, all heads
    // together: 61 * 576 * 2 bytes at f16.
    assert_int_equal(model_kv_bytes_per_token(&m, DTYPE_F16), 61 * 576 * 2);
    assert_int_equal(model_kv_bytes(&m, 4096, DTYPE_F16), (uint64_t)4096 * 61 * 576 * 2);
    // q8_0: 576 = 18 blocks of 34 bytes.
    assert_int_equal(model_kv_bytes_per_token(&m, DTYPE_Q8_0), 61 * 18 * 34);
    const model_tensor *w = model_find_tensor(&m, "model.layers.0.self_attn.q_a_proj.weight");
    const model_tensor *s = model_find_tensor(&m, "model.layers.0.self_attn.q_a_proj.weight_scale_inv");
    assert_non_null(w);
    assert_non_null(s);
    assert_int_equal(w->type, DTYPE_F8_E4M3);
    assert_int_equal(s->type, DTYPE_F32);
    assert_int_equal(s->ne[0], 7168 / 128);
    assert_int_equal(s->ne[1], 1536 / 128);
    // The scales add bytes but no parameters: the same count as in BF16.
    assert_int_equal(m.n_params, 671026419200u + 13463426304u);
    assert_int_equal(m.stored_type, DTYPE_F8_E4M3);
    assert_null(model_find_tensor(&m, "model.layers.2.mlp.experts.0.up_proj.weight"));
    assert_non_null(model_find_tensor(&m, "model.layers.2.mlp.up_proj.weight"));
    assert_non_null(model_find_tensor(&m, "model.layers.3.mlp.experts.255.up_proj.weight"));
    assert_non_null(model_find_tensor(&m, "model.layers.3.mlp.shared_experts.down_proj.weight"));
    assert_non_null(model_find_tensor(&m, "model.layers.61.eh_proj.weight"));
    assert_null(model_find_tensor(&m, "model.layers.62.input_layernorm.weight"));
    model_desc_clear(&m);

    // All BF16 (no quantization_config), by hand: 3 dense layers of 583,483,392, 58 MoE
    // layers of 11,507,286,272, embeddings and head 1,853,358,080, norm
    // 7,168: 671,026,419,200 for the main model; the MTP layer adds
    // 13,463,426,304. Active: attention and norms of 61 layers
    // (11,414,421,504), 3 dense MLPs (1,189,085,184), 58 x (shared expert,
    // router and 8 of 256 experts: 398,196,992), embeddings, head and norm.
    cJSON *root = cJSON_Parse(buf);
    cJSON_DeleteItemFromObject(root, "quantization_config");
    model_desc_init(&m);
    assert_int_equal(hf_config_from_json("config.json", root, &m, &err), RS_OK);
    assert_int_equal(arch_synthesize(&m, &err), RS_OK);
    arch_finish(&m);
    assert_int_equal(m.n_params, 671026419200u + 13463426304u);
    assert_int_equal(m.n_params_active, 37552297472u);
    assert_int_equal(m.stored_type, DTYPE_BF16);
    cJSON_Delete(root);
    model_desc_clear(&m);
}

static void test_stories_gguf(void **state)
{
    (void)state;
    model_desc *m = open_config("models/stories260K/stories260K.gguf");
    assert_int_equal(m->source, MODEL_SOURCE_GGUF);
    assert_int_equal(m->arch, MODEL_ARCH_LLAMA);
    assert_int_equal(m->n_layer, 5);
    assert_int_equal(m->n_embd, 64);
    assert_int_equal(m->n_head, 8);
    assert_int_equal(m->n_head_kv, 4);
    assert_int_equal(m->head_dim, 8);
    assert_int_equal(m->n_ff, 172);
    assert_int_equal(m->n_vocab, 512);
    assert_int_equal(m->n_ctx_train, 2048);
    assert_true(m->rope_theta == 10000.0);
    assert_true(m->rope_interleaved);
    assert_int_equal(m->n_tensors, 48);
    assert_int_equal(m->stored_type, DTYPE_F32);
    assert_non_null(m->gguf);
    uint64_t sum = 0;
    for (int64_t i = 0; i < m->n_tensors; i++) {
        sum += (uint64_t)m->tensors[i].n_elems;
        assert_int_equal(m->tensors[i].file, 0);
        assert_true(m->tensors[i].offset + m->tensors[i].nbytes <= m->file_bytes);
    }
    assert_int_equal(m->n_params, sum);
    // 5 layers * 4 KV heads * 8 dims * (K and V) * 2 bytes.
    assert_int_equal(model_kv_bytes_per_token(m, DTYPE_F16), 5 * 4 * 8 * 2 * 2);
    const model_tensor *e = model_find_tensor(m, "token_embd.weight");
    assert_non_null(e);
    assert_int_equal(e->ne[0], 64);
    assert_int_equal(e->ne[1], 512);
    model_free(m);
}

static void test_vocab_gguf(void **state)
{
    (void)state;
    model_desc *m = open_config("vocab-tests/ggml-vocab-llama-spm.gguf");
    assert_int_equal(m->n_tensors, 0);
    assert_int_equal(m->n_params, 0);
    assert_int_equal(m->n_vocab, 32000);
    assert_int_equal(m->bos_id, 1);
    assert_int_equal(m->eos_id, 2);
    model_free(m);
}

static void test_model_open_errors(void **state)
{
    (void)state;
    model_desc *m = NULL;
    rs_error err = {0};
    assert_int_equal(model_open("/nonexistent/model.gguf", &m, &err), RS_ERR_INPUT);
    assert_null(m);
    assert_non_null(strstr(err.msg, "/nonexistent/model.gguf"));
    char path[4096];
    const char junk[] = "not a model at all";
    test_write_file(path, sizeof path, "junk.bin", junk, sizeof junk);
    assert_int_equal(model_open(path, &m, &err), RS_ERR_INPUT);
    assert_non_null(strstr(err.msg, "GGUF"));
    assert_int_equal(model_open("llama-3.1-8bb", &m, &err), RS_ERR_INPUT);
    assert_non_null(strstr(err.msg, "did you mean"));
    assert_non_null(strstr(err.msg, "llama-3.1-8b"));
    assert_string_equal(model_arch_name(MODEL_ARCH_DEEPSEEK_V3), "deepseek_v3");
    assert_string_equal(model_arch_name(MODEL_ARCH_UNKNOWN), "unknown");
}

// Each fixture holds a tiny config and the tensor list transformers' own
// model class builds for it, in the Hub checkpoints' names
// (tools/make_arch_fixtures.py). The rules must give exactly that list.
static void check_fixture(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 18];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    cJSON *doc = cJSON_Parse(buf);
    assert_non_null(doc);
    model_desc m;
    model_desc_init(&m);
    rs_error err = {0};
    if (hf_config_from_json(path, cJSON_GetObjectItem(doc, "config"), &m, &err) != RS_OK ||
        arch_synthesize(&m, &err) != RS_OK)
        fail_msg("%s: %s", path, err.msg);
    const cJSON *tensors = cJSON_GetObjectItem(doc, "tensors"), *t;
    int64_t count = 0;
    cJSON_ArrayForEach(t, tensors)
    {
        const char *name = cJSON_GetArrayItem(t, 0)->valuestring;
        const cJSON *shape = cJSON_GetArrayItem(t, 1);
        const model_tensor *mt = model_find_tensor(&m, name);
        if (!mt) fail_msg("%s: rules lack %s", path, name);
        int nd = cJSON_GetArraySize(shape);
        if (mt->n_dims != nd) fail_msg("%s: %s has %d dims, want %d", path, name, mt->n_dims, nd);
        for (int d = 0; d < nd; d++)
            if (mt->ne[d] != (int64_t)cJSON_GetArrayItem(shape, nd - 1 - d)->valuedouble)
                fail_msg("%s: %s dim %d is %lld", path, name, d, (long long)mt->ne[d]);
        count++;
    }
    if (count != m.n_tensors) {
        for (int64_t i = 0; i < m.n_tensors; i++) {
            bool found = false;
            cJSON_ArrayForEach(t, tensors)
            {
                if (strcmp(cJSON_GetArrayItem(t, 0)->valuestring, m.tensors[i].name) == 0) found = true;
            }
            if (!found) fprintf(stderr, "%s: extra %s\n", path, m.tensors[i].name);
        }
        fail_msg("%s: rules give %lld tensors, transformers %lld", path, (long long)m.n_tensors,
                 (long long)count);
    }
    model_desc_clear(&m);
    cJSON_Delete(doc);
}

static void test_fixtures_match_transformers(void **state)
{
    (void)state;
    const char *src = getenv("RIGHTSIZE_SOURCE");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/fixtures/arch", src && *src ? src : ".");
    DIR *d = opendir(dir);
    if (!d) fail_msg("cannot open %s (set RIGHTSIZE_SOURCE)", dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".json") != 0) continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        check_fixture(path);
        n++;
    }
    closedir(d);
    assert_true(n >= 13);
}

// The engine's tiny llama3 as HF folder and as Q8_0 GGUF: the same
// parameters, plus the GGUF's rope_freqs.weight (llama3 rope scaling).
static void test_gguf_matches_hf(void **state)
{
    (void)state;
    const char *src = getenv("RIGHTSIZE_SOURCE");
    char hf[4096], gg[4096];
    snprintf(hf, sizeof hf, "%s/tests/fixtures/tiny/llama3/f32", src && *src ? src : ".");
    snprintf(gg, sizeof gg, "%s/tests/fixtures/tiny/llama3/llama3-Q8_0.gguf", src && *src ? src : ".");
    model_desc *a = open_ok(hf), *b = open_ok(gg);
    const model_tensor *rf = model_find_tensor(b, "rope_freqs.weight");
    assert_non_null(rf);
    assert_int_equal(b->n_params, a->n_params + (uint64_t)rf->n_elems);
    assert_int_equal(b->stored_type, DTYPE_Q8_0);
    assert_int_equal(a->stored_type, DTYPE_F32);
    assert_int_equal(b->n_layer, a->n_layer);
    assert_int_equal(b->n_head_kv, a->n_head_kv);
    assert_int_equal(b->head_dim, a->head_dim);
    assert_int_equal(b->n_vocab, a->n_vocab);
    assert_int_equal(model_kv_bytes_per_token(a, DTYPE_F16), model_kv_bytes_per_token(b, DTYPE_F16));
    assert_true(b->rope_interleaved);
    assert_false(a->rope_interleaved);
    // Q8_0 weights: 34 bytes per 32.
    const model_tensor *q = model_find_tensor(b, "blk.0.attn_q.weight");
    assert_non_null(q);
    assert_int_equal(q->type, DTYPE_Q8_0);
    assert_int_equal(q->nbytes, (uint64_t)q->n_elems / 32 * 34);
    model_free(a);
    model_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_testdata_configs), cmocka_unit_test(test_llama_kv),
        cmocka_unit_test(test_qwen3_head_dim),   cmocka_unit_test(test_qwen2_bias),
        cmocka_unit_test(test_gemma_swa),        cmocka_unit_test(test_mixtral_matches_index),
        cmocka_unit_test(test_deepseek_mla),     cmocka_unit_test(test_stories_gguf),
        cmocka_unit_test(test_vocab_gguf),       cmocka_unit_test(test_model_open_errors),
        cmocka_unit_test(test_fixtures_match_transformers),
        cmocka_unit_test(test_gguf_matches_hf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
