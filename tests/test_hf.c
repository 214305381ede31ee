// HF folders built by the test: config.json plus safetensors files written
// here (single file and sharded), tokenizer files, chat templates, and
// malformed configs that must fail with one line naming file and field.
#include "testutil.h"

#include <cjson/cJSON.h>
#include <unistd.h>

#include "model/model.h"
#include "model/model_priv.h"

static const char *make_dir(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", test_tmpdir(), name);
    mkdir(buf, 0755);
    return buf;
}

static void write_in(const char *dir, const char *name, const char *text)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char tiny_llama[] =
    "{\"model_type\": \"llama\", \"hidden_size\": 16, \"intermediate_size\": 32,"
    " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
    " \"vocab_size\": 64, \"max_position_embeddings\": 128, \"torch_dtype\": \"bfloat16\","
    " \"bos_token_id\": 1, \"eos_token_id\": 2}";

// The tensor list the rules give for a config.
static model_desc *synthesized(const char *config)
{
    model_desc *m = malloc(sizeof *m);
    model_desc_init(m);
    rs_error err = {0};
    if (hf_config_parse("config.json", config, strlen(config), m, &err) != RS_OK)
        fail_msg("%s", err.msg);
    if (arch_synthesize(m, &err) != RS_OK) fail_msg("%s", err.msg);
    arch_finish(m);
    return m;
}

// Writes tensors [from, to) of m as a safetensors file (zero data): the
// header as the safetensors library writes it, padded to 8 bytes.
static uint64_t write_safetensors(const char *path, const model_desc *m, int64_t from, int64_t to)
{
    cJSON *h = cJSON_CreateObject();
    uint64_t off = 0;
    for (int64_t i = from; i < to; i++) {
        const model_tensor *t = &m->tensors[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "dtype", dtype_name(t->type));
        cJSON *shape = cJSON_AddArrayToObject(o, "shape");
        for (int d = t->n_dims - 1; d >= 0; d--)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->ne[d]));
        cJSON *offs = cJSON_AddArrayToObject(o, "data_offsets");
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + t->nbytes)));
        off += t->nbytes;
        cJSON_AddItemToObject(h, t->name, o);
    }
    char *json = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    size_t len = strlen(json), padded = (len + 7) / 8 * 8;
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint64_t n = padded;
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(n >> (8 * i));
    fwrite(le, 1, 8, f);
    fwrite(json, 1, len, f);
    for (size_t i = len; i < padded; i++) fputc(' ', f);
    for (uint64_t i = 0; i < off; i++) fputc(0, f);
    fclose(f);
    free(json);
    return 8 + padded;
}

static model_desc *open_ok(const char *path)
{
    model_desc *m = NULL;
    rs_error err = {0};
    if (model_open(path, &m, &err) != RS_OK) fail_msg("model_open(%s): %s", path, err.msg);
    return m;
}

// The real tensors must be exactly the synthesized ones.
static void assert_same_tensors(const model_desc *real, const model_desc *syn)
{
    assert_int_equal(real->n_tensors, syn->n_tensors);
    for (int64_t i = 0; i < syn->n_tensors; i++) {
        const model_tensor *s = &syn->tensors[i];
        const model_tensor *r = model_find_tensor(real, s->name);
        if (!r) fail_msg("tensor %s not read back", s->name);
        assert_int_equal(r->n_dims, s->n_dims);
        for (int d = 0; d < s->n_dims; d++) assert_int_equal(r->ne[d], s->ne[d]);
        assert_int_equal(r->type, s->type);
        assert_int_equal(r->nbytes, s->nbytes);
    }
    assert_int_equal(real->n_params, syn->n_params);
    assert_int_equal(real->n_params_active, syn->n_params_active);
}

static void test_single_file(void **state)
{
    (void)state;
    char dir[4096], path[8192];
    make_dir(dir, sizeof dir, "single");
    write_in(dir, "config.json", tiny_llama);
    write_in(dir, "tokenizer.json", "{}");
    write_in(dir, "tokenizer_config.json",
             "{\"chat_template\": \"{% for m in messages %}<|im_start|>{{ m.content }}{% endfor %}\"}");
    model_desc *syn = synthesized(tiny_llama);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    uint64_t data_start = write_safetensors(path, syn, 0, syn->n_tensors);

    model_desc *m = open_ok(dir);
    assert_int_equal(m->source, MODEL_SOURCE_HF_FOLDER);
    assert_false(m->tensors_synthesized);
    assert_same_tensors(m, syn);
    assert_int_equal(m->n_files, 1);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(m->file_bytes, (uint64_t)sb.st_size);
    // Offsets are absolute: the first tensor's data starts after the header.
    uint64_t lowest = UINT64_MAX;
    for (int64_t i = 0; i < m->n_tensors; i++) {
        assert_int_equal(m->tensors[i].file, 0);
        if (m->tensors[i].offset < lowest) lowest = m->tensors[i].offset;
    }
    assert_int_equal(lowest, data_start);
    // 2 layers * 2 KV heads * 4 dims * (K and V) * 2 bytes.
    assert_int_equal(model_kv_bytes_per_token(m, DTYPE_F16), 2 * 2 * 4 * 2 * 2);
    assert_true(m->has_tokenizer_json);
    assert_true(m->has_tokenizer_config);
    assert_non_null(m->chat_template);
    assert_non_null(strstr(m->chat_template, "im_start"));
    assert_string_equal(m->chat_template_kind, "chatml");
    assert_int_equal(m->eos_id, 2);
    assert_string_equal(m->name, "single");
    model_free(m);
    model_free(syn);
}

static void test_sharded(void **state)
{
    (void)state;
    char dir[4096], path[8192];
    make_dir(dir, sizeof dir, "sharded");
    write_in(dir, "config.json", tiny_llama);
    write_in(dir, "generation_config.json", "{\"bos_token_id\": 1, \"eos_token_id\": [7, 9]}");
    write_in(dir, "chat_template.jinja", "{{ messages }}");
    model_desc *syn = synthesized(tiny_llama);
    int64_t half = syn->n_tensors / 2;
    snprintf(path, sizeof path, "%s/model-00001-of-00002.safetensors", dir);
    write_safetensors(path, syn, 0, half);
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", dir);
    write_safetensors(path, syn, half, syn->n_tensors);
    cJSON *idx = cJSON_CreateObject();
    cJSON *wm = cJSON_AddObjectToObject(idx, "weight_map");
    for (int64_t i = 0; i < syn->n_tensors; i++)
        cJSON_AddStringToObject(wm, syn->tensors[i].name,
                                i < half ? "model-00001-of-00002.safetensors"
                                         : "model-00002-of-00002.safetensors");
    char *text = cJSON_Print(idx);
    write_in(dir, "model.safetensors.index.json", text);

    model_desc *m = open_ok(dir);
    assert_int_equal(m->n_files, 2);
    assert_same_tensors(m, syn);
    const model_tensor *first = model_find_tensor(m, syn->tensors[0].name);
    const model_tensor *last = model_find_tensor(m, syn->tensors[syn->n_tensors - 1].name);
    assert_int_equal(first->file, 0);
    assert_int_equal(last->file, 1);
    assert_int_equal(m->file_bytes, m->files[0].size + m->files[1].size);
    assert_int_equal(m->eos_id, 7); // generation_config overrides config.json
    assert_int_equal(m->eot_id, 9);
    assert_string_equal(m->chat_template, "{{ messages }}");
    model_free(m);

    // An index that disagrees with the shards, in each of the ways it can.
    static const struct {
        int what;
        const char *want;
    } bad[] = {{0, "the index says"}, {1, "is not listed"}, {2, "is in no shard"}};
    rs_error err = {0};
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        cJSON *copy = cJSON_Duplicate(idx, true);
        cJSON *w = cJSON_GetObjectItem(copy, "weight_map");
        const char *first = syn->tensors[0].name;
        if (bad[b].what == 0)
            cJSON_ReplaceItemInObject(w, first, cJSON_CreateString("model-00002-of-00002.safetensors"));
        else if (bad[b].what == 1)
            cJSON_DeleteItemFromObject(w, first);
        else
            cJSON_AddStringToObject(w, "model.extra.weight", "model-00001-of-00002.safetensors");
        char *t = cJSON_Print(copy);
        write_in(dir, "model.safetensors.index.json", t);
        free(t);
        cJSON_Delete(copy);
        assert_int_equal(model_open(dir, &m, &err), RS_ERR_INPUT);
        if (!strstr(err.msg, bad[b].want) || !strstr(err.msg, "model.safetensors.index.json"))
            fail_msg("index case %zu: %s", b, err.msg);
    }
    write_in(dir, "model.safetensors.index.json", text);
    // A tensor in two shards.
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", dir);
    write_safetensors(path, syn, half - 1, syn->n_tensors);
    assert_int_equal(model_open(dir, &m, &err), RS_ERR_INPUT);
    assert_non_null(strstr(err.msg, "appears in two shards"));
    unlink(path);
    write_safetensors(path, syn, half, syn->n_tensors);

    // One shard gone: a broken download, named.
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", dir);
    unlink(path);
    assert_int_equal(model_open(dir, &m, &err), RS_ERR_INPUT);
    assert_non_null(strstr(err.msg, "model-00002-of-00002.safetensors"));
    assert_non_null(strstr(err.msg, "missing"));

    // Every shard gone: described from the config, with a note.
    snprintf(path, sizeof path, "%s/model-00001-of-00002.safetensors", dir);
    unlink(path);
    m = open_ok(dir);
    assert_true(m->tensors_synthesized);
    assert_int_equal(m->n_params, syn->n_params);
    assert_non_null(strstr(m->note, "weights absent"));
    model_free(m);
    free(text);
    cJSON_Delete(idx);
    model_free(syn);
}

// A model whose rules are unknown is still described from its tensors.
static void test_unknown_arch(void **state)
{
    (void)state;
    char dir[4096], path[8192];
    make_dir(dir, sizeof dir, "unknown");
    write_in(dir, "config.json", "{\"model_type\": \"mamba\", \"hidden_size\": 16}");
    model_desc *syn = synthesized(tiny_llama);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    write_safetensors(path, syn, 0, syn->n_tensors);
    model_desc *m = open_ok(dir);
    assert_int_equal(m->arch, MODEL_ARCH_UNKNOWN);
    assert_false(m->arch_rules_known);
    assert_int_equal(m->n_params, syn->n_params);
    assert_non_null(strstr(m->note, "mamba"));
    model_free(m);
    model_free(syn);
}

static void test_chat_template_list(void **state)
{
    (void)state;
    char dir[4096];
    make_dir(dir, sizeof dir, "tmpl_list");
    write_in(dir, "config.json", tiny_llama);
    write_in(dir, "tokenizer_config.json",
             "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"},"
             " {\"name\": \"default\", \"template\": \"D\"}]}");
    model_desc *m = open_ok(dir);
    assert_string_equal(m->chat_template, "D");
    assert_true(m->tensors_synthesized);
    model_free(m);
}

// Each malformed input fails with RS_ERR_INPUT and one line that names the
// file and the field.
static void test_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *file, *text, *want;
    } cases[] = {
        {"config.json", "{\"model_type\": \"llama\", \"hidden_size\": ", "invalid JSON"},
        {"config.json", "[1, 2]", "not a JSON object"},
        {"config.json", "{\"hidden_size\": 16}", "\"model_type\""},
        {"config.json", "{\"model_type\": 7}", "\"model_type\""},
        {"config.json",
         "{\"model_type\": \"llama\", \"hidden_size\": \"4096\", \"intermediate_size\": 32,"
         " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"vocab_size\": 64}",
         "\"hidden_size\""},
        {"config.json",
         "{\"model_type\": \"llama\", \"hidden_size\": 16, \"intermediate_size\": 32,"
         " \"num_hidden_layers\": -2, \"num_attention_heads\": 4, \"vocab_size\": 64}",
         "\"num_hidden_layers\""},
        {"config.json",
         "{\"model_type\": \"llama\", \"hidden_size\": 16, \"intermediate_size\": 32,"
         " \"num_hidden_layers\": 2, \"num_attention_heads\": 4}",
         "\"vocab_size\": missing"},
        {"config.json",
         "{\"model_type\": \"llama\", \"hidden_size\": 16, \"intermediate_size\": 32,"
         " \"num_hidden_layers\": 2, \"num_attention_heads\": 3, \"vocab_size\": 64}",
         "\"num_attention_heads\""},
        {"config.json",
         "{\"model_type\": \"llama\", \"hidden_size\": 16, \"intermediate_size\": 32,"
         " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"vocab_size\": 64,"
         " \"eos_token_id\": \"</s>\"}",
         "\"eos_token_id\""},
        {"config.json",
         "{\"model_type\": \"llama\", \"hidden_size\": 16, \"intermediate_size\": 32,"
         " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"vocab_size\": 64,"
         " \"rope_scaling\": 8}",
         "\"rope_scaling\""},
        {"config.json",
         "{\"model_type\": \"llama\", \"hidden_size\": 16, \"intermediate_size\": 32,"
         " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"vocab_size\": 64,"
         " \"torch_dtype\": \"int3\"}",
         "\"torch_dtype\""},
        {"config.json", "{\"model_type\": \"gemma3\", \"text_config\": 5}", "\"text_config\""},
        {"config.json", "{\"model_type\": \"gemma3\", \"text_config\": {\"hidden_size\": true}}",
         "\"text_config.hidden_size\""},
        {"config.json",
         "{\"model_type\": \"mixtral\", \"hidden_size\": 16, \"intermediate_size\": 32,"
         " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"vocab_size\": 64,"
         " \"num_local_experts\": 4, \"num_experts_per_tok\": 9}",
         "\"num_experts_per_tok\""},
        {"config.json",
         "{\"model_type\": \"qwen3_moe\", \"hidden_size\": 16, \"intermediate_size\": 32,"
         " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"vocab_size\": 64,"
         " \"num_experts\": 4, \"num_experts_per_tok\": 2, \"moe_intermediate_size\": 8,"
         " \"mlp_only_layers\": [5]}",
         "\"mlp_only_layers\""},
        {"config.json",
         "{\"model_type\": \"qwen3_moe\", \"hidden_size\": 16, \"intermediate_size\": 32,"
         " \"num_hidden_layers\": 4096, \"num_attention_heads\": 4, \"vocab_size\": 64,"
         " \"num_experts\": 4096, \"num_experts_per_tok\": 2, \"moe_intermediate_size\": 8}",
         "absurd"},
        {"tokenizer_config.json", "{\"chat_template\": 12}", "\"chat_template\""},
        {"generation_config.json", "{\"eos_token_id\": \"x\"}", "\"eos_token_id\""},
        {"model.safetensors.index.json", "{\"weight_map\": []}", "\"weight_map\""},
        {"model.safetensors.index.json", "{\"weight_map\": {\"a\": \"../x.safetensors\"}}",
         "\"weight_map.a\""},
        {"model.safetensors", "\x08\0\0\0\0\0\0\0{\"a\":1}", "model.safetensors"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[64], dir[4096];
        snprintf(name, sizeof name, "bad%zu", i);
        make_dir(dir, sizeof dir, name);
        if (strcmp(cases[i].file, "config.json") != 0) write_in(dir, "config.json", tiny_llama);
        if (strcmp(cases[i].file, "model.safetensors") == 0) {
            char path[8192];
            snprintf(path, sizeof path, "%s/model.safetensors", dir);
            FILE *f = fopen(path, "wb");
            fwrite(cases[i].text, 1, 15, f);
            fclose(f);
        } else {
            write_in(dir, cases[i].file, cases[i].text);
        }
        model_desc *m = NULL;
        rs_error err = {0};
        rs_status st = model_open(dir, &m, &err);
        if (st != RS_ERR_INPUT) fail_msg("case %zu (%s): status %d, want RS_ERR_INPUT", i, cases[i].text, st);
        assert_null(m);
        if (!strstr(err.msg, cases[i].file)) fail_msg("case %zu: \"%s\" does not name %s", i, err.msg, cases[i].file);
        if (!strstr(err.msg, cases[i].want)) fail_msg("case %zu: \"%s\" lacks %s", i, err.msg, cases[i].want);
        assert_null(strchr(err.msg, '\n'));
    }
}

static void test_not_a_folder(void **state)
{
    (void)state;
    char dir[4096];
    make_dir(dir, sizeof dir, "empty");
    model_desc *m = NULL;
    rs_error err = {0};
    assert_int_equal(model_open(dir, &m, &err), RS_ERR_INPUT);
    assert_non_null(strstr(err.msg, "config.json"));
}

// The engine's tiny models (tests/fixtures/tiny, saved by transformers'
// save_pretrained): the real safetensors tensors must be exactly the list
// the rules synthesize from each config.json.
static void test_real_folders_match_rules(void **state)
{
    (void)state;
    static const char *names[] = {"llama3", "mistral", "qwen2", "qwen3", "smollm2"};
    static const char *kinds[] = {"f32", "bf16"};
    const char *src = getenv("RIGHTSIZE_SOURCE");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        for (size_t k = 0; k < 2; k++) {
            char dir[4096], cpath[8192];
            snprintf(dir, sizeof dir, "%s/tests/fixtures/tiny/%s/%s", src && *src ? src : ".",
                     names[i], kinds[k]);
            snprintf(cpath, sizeof cpath, "%s/config.json", dir);
            FILE *f = fopen(cpath, "rb");
            if (!f) fail_msg("cannot open %s (set RIGHTSIZE_SOURCE)", cpath);
            static char cfg[1 << 16];
            size_t n = fread(cfg, 1, sizeof cfg - 1, f);
            fclose(f);
            cfg[n] = 0;
            model_desc *real = open_ok(dir);
            assert_false(real->tensors_synthesized);
            model_desc *syn = synthesized(cfg);
            assert_same_tensors(real, syn);
            assert_int_equal(real->stored_type, k == 0 ? DTYPE_F32 : DTYPE_BF16);
            model_free(real);
            model_free(syn);
        }
    }
}

// A packed quantized checkpoint's config: described unquantized, with a note.
static void test_quantized_config(void **state)
{
    (void)state;
    char dir[4096];
    make_dir(dir, sizeof dir, "gptq");
    write_in(dir, "config.json",
             "{\"model_type\": \"llama\", \"hidden_size\": 16, \"intermediate_size\": 32,"
             " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
             " \"vocab_size\": 64, \"quantization_config\": {\"quant_method\": \"gptq\", \"bits\": 4}}");
    model_desc *m = open_ok(dir);
    assert_string_equal(m->quant_method, "gptq");
    assert_non_null(strstr(m->note, "gptq"));
    model_desc *syn = synthesized(tiny_llama);
    assert_int_equal(m->n_params, syn->n_params);
    model_free(syn);
    model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_file),  cmocka_unit_test(test_sharded),
        cmocka_unit_test(test_unknown_arch), cmocka_unit_test(test_chat_template_list),
        cmocka_unit_test(test_malformed),    cmocka_unit_test(test_not_a_folder),
        cmocka_unit_test(test_real_folders_match_rules),
        cmocka_unit_test(test_quantized_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
