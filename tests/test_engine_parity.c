#include "testutil.h"

#include <math.h>

#include <cjson/cJSON.h>

#include "engine/engine.h"
#include "model/model.h"
#include "plan/memory.h"

// Logits parity with transformers on the tiny random-weight models of
// tests/fixtures/tiny (made by tools/make_tiny_models.py): every
// architecture, from HF folders (fp32, bf16) and GGUF files, at the stored
// precision and converted while loading. Errors are max |a - b| / max |b|.

static const char *const models[] = {"llama3", "mistral", "qwen2", "qwen3", "smollm2"};
#define N_MODELS (sizeof models / sizeof models[0])

static char fixtures[1024];

static const char *fixture_dir(void)
{
    if (!fixtures[0]) {
        const char *src = getenv("RIGHTSIZE_SOURCE");
        snprintf(fixtures, sizeof fixtures, "%s/tests/fixtures/tiny", src && *src ? src : ".");
    }
    return fixtures;
}

typedef struct reference {
    int32_t prompt[64];
    int n_prompt;
    int n_vocab;
    cJSON *files; // type -> file name
    cJSON *root;
} reference;

static void load_reference(const char *model, reference *r)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s/reference.json", fixture_dir(), model);
    char *text = test_slurp(path, NULL);
    if (!text) fail_msg("cannot read %s", path);
    r->root = cJSON_Parse(text);
    free(text);
    assert_non_null(r->root);
    cJSON *p = cJSON_GetObjectItem(r->root, "prompt");
    r->n_prompt = cJSON_GetArraySize(p);
    assert_true(r->n_prompt > 0 && r->n_prompt <= 64);
    for (int i = 0; i < r->n_prompt; i++)
        r->prompt[i] = cJSON_GetArrayItem(p, i)->valueint;
    r->n_vocab = cJSON_GetObjectItem(r->root, "n_vocab")->valueint;
    r->files = cJSON_GetObjectItem(r->root, "files");
}

static float *load_logits(const char *model, const char *kind, const reference *r)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s/logits_%s.bin", fixture_dir(), model, kind);
    size_t n;
    char *buf = test_slurp(path, &n);
    if (!buf) fail_msg("cannot read %s", path);
    assert_int_equal(n, (size_t)r->n_prompt * (size_t)r->n_vocab * sizeof(float));
    return (float *)buf;
}

static double rel_error(const float *a, const float *b, int64_t n)
{
    double maxb = 0, maxd = 0;
    for (int64_t i = 0; i < n; i++) {
        if (fabs(b[i]) > maxb) maxb = fabs(b[i]);
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > maxd || isnan(d)) maxd = isnan(d) ? INFINITY : d;
    }
    return maxd / (maxb > 0 ? maxb : 1);
}

// Loads model/<sub> (a folder or a GGUF file) at a precision and returns the
// logits of every prompt token, from one batched prefill. With decode_tol >
// 0, also runs the prompt one token at a time and checks that the decode
// path gives the same logits within decode_tol (the decode kernels of
// quantized types quantize the activations to 8 bits, as llama.cpp's do, so
// they differ from the batched path by that rounding).
static float *run_model(const char *model, const char *sub, const char *precision, dtype kv_type,
                        const reference *r, double decode_tol)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s/%s", fixture_dir(), model, sub);
    model_desc *m = NULL;
    rs_error err = {0};
    if (model_open(path, &m, &err) != RS_OK) fail_msg("model_open %s: %s", path, err.msg);
    engine_options o = engine_default_options();
    assert_int_equal(plan_precision_parse(precision, &o.precision, &err), RS_OK);
    o.n_ctx = 64;
    o.n_batch = 8; // smaller than the prompt: prefill runs in two steps
    o.n_threads = 2;
    o.logits_all = true;
    o.kv_type = kv_type;
    engine *e = NULL;
    if (engine_load(m, &o, &e, &err) != RS_OK) fail_msg("engine_load %s: %s", path, err.msg);
    const int64_t V = engine_n_vocab(e);
    assert_int_equal(V, r->n_vocab);
    float *logits = malloc((size_t)(r->n_prompt * V) * sizeof *logits);
    assert_int_equal(engine_prefill(e, r->prompt, r->n_prompt, logits, &err), RS_OK);
    assert_int_equal(engine_pos(e), r->n_prompt);
    // engine_logits is the last token's row.
    assert_true(rel_error(engine_logits(e), logits + (r->n_prompt - 1) * V, V) == 0);
    if (decode_tol > 0) {
        engine_rewind(e, 0);
        for (int i = 0; i < r->n_prompt; i++) {
            assert_int_equal(engine_decode(e, r->prompt[i], &err), RS_OK);
            double d = rel_error(engine_logits(e), logits + i * V, V);
            if (!(d < decode_tol))
                fail_msg("%s %s: decode and prefill differ at %d by %.2e (limit %.0e)", model, sub,
                         i, d, decode_tol);
        }
    }
    engine_free(e);
    model_free(m);
    return logits;
}

// Cosine similarity of the two logit sets: a broken kernel gives noise
// (near 0) where a coarse format still gives the same shape (near 1).
static double cosine(const float *a, const float *b, int64_t n)
{
    double ab = 0, aa = 0, bb = 0;
    for (int64_t i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}

// Checks the relative error against tol and, where min_cos > 0, the cosine
// similarity against min_cos.
static void check_cos(const char *model, const char *sub, const char *precision, dtype kv_type,
                      const char *ref_kind, double tol, double min_cos, double decode_tol)
{
    reference r;
    load_reference(model, &r);
    float *want = load_logits(model, ref_kind, &r);
    float *got = run_model(model, sub, precision, kv_type, &r, decode_tol);
    double e = rel_error(got, want, (int64_t)r.n_prompt * r.n_vocab);
    double c = cosine(got, want, (int64_t)r.n_prompt * r.n_vocab);
    fprintf(stderr, "  %-8s %-20s %-6s kv %-4s vs %-5s: %.2e (limit %.0e) cosine %.5f\n", model,
            sub, precision, dtype_name(kv_type), ref_kind, e, tol, c);
    if (!(e < tol)) fail_msg("%s %s at %s: error %.3e >= %.0e", model, sub, precision, e, tol);
    if (!(c >= min_cos))
        fail_msg("%s %s at %s: cosine %.4f < %.4f", model, sub, precision, c, min_cos);
    free(want);
    free(got);
    cJSON_Delete(r.root);
}

static void check(const char *model, const char *sub, const char *precision, dtype kv_type,
                  const char *ref_kind, double tol, double decode_tol)
{
    check_cos(model, sub, precision, kv_type, ref_kind, tol, 0, decode_tol);
}

// fp32 folders: transformers' numbers to 1e-4; the decode path agrees.
static void test_f32(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_MODELS; i++)
        check(models[i], "f32", "stored", DTYPE_F32, "f32", 1e-4, 1e-5);
}

// The f16 KV cache (the default) adds its rounding only.
static void test_f32_kv_f16(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_MODELS; i++)
        check(models[i], "f32", "stored", DTYPE_F16, "f32", 2e-3, 0);
}

// bf16 folders: against the bf16-rounded model (run by transformers in
// fp32) to arithmetic precision, and against the fp32 model within bf16's
// rounding, which these deliberately sharp random models amplify to about
// 1e-2 (the largest seen is 1.5e-2).
static void test_bf16(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_MODELS; i++) {
        check(models[i], "bf16", "stored", DTYPE_F32, "bf16", 1e-4, 0);
        check(models[i], "bf16", "stored", DTYPE_F32, "f32", 3e-2, 0);
        // Converting fp32 to bf16 while loading (norms stay f32, so it is
        // not the bf16 reference exactly).
        check(models[i], "f32", "bf16", DTYPE_F32, "f32", 3e-2, 0);
    }
}

// GGUF files: against transformers run on the weights the file holds
// (dequantized by the gguf package), so only arithmetic differs. Every type
// the engine computes with is in one of them, used in place: F16, Q8_0,
// Q4_0, Q4_1, Q5_0, Q4_K, Q5_K, Q6_K (F32 and BF16 come from the folders).
static void test_gguf(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_MODELS; i++) {
        reference r;
        load_reference(models[i], &r);
        cJSON *f;
        cJSON_ArrayForEach(f, r.files)
        {
            if (!strstr(f->valuestring, ".gguf")) continue;
            bool quantized = dtype_is_quantized((dtype)dtype_from_name(f->string));
            check(models[i], f->valuestring, "stored", DTYPE_F32, f->string, 1e-4,
                  quantized ? 8e-2 : 1e-4);
        }
        cJSON_Delete(r.root);
    }
}

// Quantizing while loading: int8 (Q8_0) and int4 (Q4_K where rows allow,
// Q4_0 else, Q6_K head), within each format's error of the fp32 model; the
// llama3 model's ffn_down rows are 256 long, so Q4_K and Q6_K really run.
// The 4-bit formats move these sharp random models' logits by up to half
// of the largest (rows of 64 leave few blocks to average), so their check is
// the cosine similarity: a wrong block layout gives noise.
static void test_quantize_on_load(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_MODELS; i++) {
        check(models[i], "f32", "f16", DTYPE_F32, "f32", 5e-3, 0);
        check_cos(models[i], "bf16", "int8", DTYPE_F32, "f32", 8e-2, 0.999, 0);
        check_cos(models[i], "f32", "int4", DTYPE_F32, "f32", 1.0, 0.85, 0);
    }
    check_cos("llama3", "f32", "q4_k", DTYPE_F32, "f32", 1.0, 0.85, 0);
    check_cos("llama3", "f32", "q6_k", DTYPE_F32, "f32", 0.1, 0.995, 0);
    // The C quantizer makes the same Q8_0 and Q4_0 blocks as the gguf
    // package (both are ggml's reference), so the loads match those files'
    // references to arithmetic precision.
    check("llama3", "f32", "int8", DTYPE_F32, "Q8_0", 1e-4, 0);
    check("mistral", "f32", "q4_0", DTYPE_F32, "Q4_0", 1e-4, 0);
}

// Mistral v0.1's sliding window (5 here, shorter than the 12-token
// prompt): every layer attends to the last 5 positions only.
static void test_sliding_window(void **state)
{
    (void)state;
    check("mistral_swa", "f32", "stored", DTYPE_F32, "f32", 1e-4, 1e-5);
    check("mistral_swa", "f32", "stored", DTYPE_F16, "f32", 2e-3, 0);
}

// Rewinding keeps the cache up to a position, and running the rest again
// gives transformers' logits; a sliding-window ring that has wrapped cannot
// go back further than one token, so it rewinds to 0.
static void test_rewind(void **state)
{
    (void)state;
    const char *names[] = {"llama3", "mistral_swa"};
    for (int k = 0; k < 2; k++) {
        reference r;
        load_reference(names[k], &r);
        float *want = load_logits(names[k], "f32", &r);
        char path[2048];
        snprintf(path, sizeof path, "%s/%s/f32", fixture_dir(), names[k]);
        model_desc *m = NULL;
        rs_error err = {0};
        assert_int_equal(model_open(path, &m, &err), RS_OK);
        engine_options o = engine_default_options();
        o.n_ctx = 32;
        o.kv_type = DTYPE_F32;
        engine *e = NULL;
        assert_int_equal(engine_load(m, &o, &e, &err), RS_OK);
        const int64_t V = engine_n_vocab(e), n = r.n_prompt;
        assert_int_equal(engine_prefill(e, r.prompt, n, NULL, &err), RS_OK);
        int64_t kept = engine_rewind(e, 6);
        assert_int_equal(kept, k == 0 ? 6 : 0);
        assert_int_equal(engine_pos(e), kept);
        assert_int_equal(engine_prefill(e, r.prompt + kept, n - kept, NULL, &err), RS_OK);
        assert_true(rel_error(engine_logits(e), want + (n - 1) * V, V) < 1e-4);
        assert_int_equal(engine_rewind(e, n - 1), n - 1); // one token back is always possible
        assert_int_equal(engine_decode(e, r.prompt[n - 1], &err), RS_OK);
        assert_true(rel_error(engine_logits(e), want + (n - 1) * V, V) < 1e-4);
        engine_free(e);
        model_free(m);
        free(want);
        cJSON_Delete(r.root);
    }
}

// The prompt's last logits (which pick the first token) come from the
// head's unquantized path even without logits_all: with 8-bit activations
// a Q8_0 head is off by ~1e-2 here, enough to flip a near tie.
static void test_prefill_head_precision(void **state)
{
    (void)state;
    reference r;
    load_reference("llama3", &r);
    float *want = load_logits("llama3", "Q8_0", &r);
    char path[2048];
    snprintf(path, sizeof path, "%s/llama3/llama3-Q8_0.gguf", fixture_dir());
    model_desc *m = NULL;
    rs_error err = {0};
    assert_int_equal(model_open(path, &m, &err), RS_OK);
    engine_options o = engine_default_options();
    o.n_ctx = 32;
    o.kv_type = DTYPE_F32;
    engine *e = NULL;
    assert_int_equal(engine_load(m, &o, &e, &err), RS_OK);
    const int64_t V = engine_n_vocab(e), n = r.n_prompt;
    assert_int_equal(engine_prefill(e, r.prompt, n, NULL, &err), RS_OK);
    double d = rel_error(engine_logits(e), want + (n - 1) * V, V);
    fprintf(stderr, "  llama3 Q8_0 prefill, last logits only: %.2e\n", d);
    assert_true(d < 1e-4);
    engine_free(e);
    // In chunks of 4 (the first two skip the head): the same logits.
    o.n_batch = 4;
    assert_int_equal(engine_load(m, &o, &e, &err), RS_OK);
    assert_int_equal(engine_prefill(e, r.prompt, n, NULL, &err), RS_OK);
    d = rel_error(engine_logits(e), want + (n - 1) * V, V);
    fprintf(stderr, "  the same in chunks of 4: %.2e\n", d);
    assert_true(d < 1e-4);
    engine_free(e);
    model_free(m);
    free(want);
    cJSON_Delete(r.root);
}

// YaRN rope scaling (Qwen2.5's long-context setting).
static void test_yarn(void **state)
{
    (void)state;
    check("qwen2_yarn", "f32", "stored", DTYPE_F32, "f32", 1e-4, 1e-5);
}

// A q8_0 KV cache (head_dim 32 in qwen3 and smollm2) stays within its error.
static void test_kv_q8_0(void **state)
{
    (void)state;
    check("qwen3", "f32", "stored", DTYPE_Q8_0, "f32", 3e-2, 3e-2);
    check("smollm2", "f32", "stored", DTYPE_Q8_0, "f32", 3e-2, 0);
}

// The engine allocates what the plan counts: weight bytes at each precision
// (plan_weights_bytes) and the KV cache (plan_kv_bytes) agree exactly.
static void test_memory_matches_plan(void **state)
{
    (void)state;
    const char *precs[] = {"stored", "bf16", "int8", "int4"};
    // mistral_swa's window (5) is shorter than the context: its cache is a
    // ring of 5 rows per layer, as the plan counts it.
    const char *all[] = {"llama3", "mistral", "qwen2", "qwen3", "smollm2", "mistral_swa"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        for (size_t k = 0; k < sizeof precs / sizeof precs[0]; k++) {
            char path[2048];
            snprintf(path, sizeof path, "%s/%s/f32", fixture_dir(), all[i]);
            model_desc *m = NULL;
            rs_error err = {0};
            assert_int_equal(model_open(path, &m, &err), RS_OK);
            engine_options o = engine_default_options();
            assert_int_equal(plan_precision_parse(precs[k], &o.precision, &err), RS_OK);
            o.n_ctx = 48;
            engine *e = NULL;
            if (engine_load(m, &o, &e, &err) != RS_OK) fail_msg("%s", err.msg);
            engine_memory mem;
            engine_memory_usage(e, &mem);
            uint64_t planned = plan_weights_bytes(m, o.precision);
            if (mem.weights != planned)
                fail_msg("%s at %s: engine holds %llu weight bytes, plan says %llu", all[i],
                         precs[k], (unsigned long long)mem.weights, (unsigned long long)planned);
            assert_int_equal(mem.kv_cache, plan_kv_bytes(m, 48, 1, DTYPE_F16));
            engine_free(e);
            model_free(m);
        }
}

// ---------------------------------------------------------------------------
// Bad inputs: clear errors (RS_ERR_INPUT), from model_open or engine_load.

static rs_status open_and_load(const char *path, rs_error *err)
{
    model_desc *m = NULL;
    rs_status st = model_open(path, &m, err);
    if (st != RS_OK) return st;
    engine_options o = engine_default_options();
    o.n_ctx = 16;
    engine *e = NULL;
    st = engine_load(m, &o, &e, err);
    engine_free(e);
    model_free(m);
    return st;
}

static void copy_file(const char *from, const char *to, long truncate_to)
{
    size_t n;
    char *buf = test_slurp(from, &n);
    assert_non_null(buf);
    if (truncate_to >= 0 && (size_t)truncate_to < n) n = (size_t)truncate_to;
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, n, f), n);
    fclose(f);
    free(buf);
}

static void test_truncated_gguf(void **state)
{
    (void)state;
    char src[2048], dst[2048];
    snprintf(src, sizeof src, "%s/llama3/llama3-Q8_0.gguf", fixture_dir());
    snprintf(dst, sizeof dst, "%s/truncated.gguf", test_tmpdir());
    size_t n;
    free(test_slurp(src, &n));
    copy_file(src, dst, (long)n - 1000);
    rs_error err = {0};
    assert_int_equal(open_and_load(dst, &err), RS_ERR_INPUT);
    fprintf(stderr, "  truncated: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "truncated.gguf"));
}

// A folder whose config.json disagrees with the tensors (hidden size 32
// against 64-wide weights).
static void test_inconsistent_config(void **state)
{
    (void)state;
    char dir[1024], path[4096], src[4096];
    snprintf(dir, sizeof dir, "%s/badcfg", test_tmpdir());
    mkdir(dir, 0755);
    snprintf(src, sizeof src, "%s/qwen2/f32/model.safetensors", fixture_dir());
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    copy_file(src, path, -1);
    snprintf(src, sizeof src, "%s/qwen2/f32/config.json", fixture_dir());
    char *cfg = test_slurp(src, NULL);
    cJSON *j = cJSON_Parse(cfg);
    free(cfg);
    cJSON_ReplaceItemInObject(j, "intermediate_size", cJSON_CreateNumber(96));
    char *out = cJSON_Print(j);
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    fputs(out, f);
    fclose(f);
    free(out);
    cJSON_Delete(j);
    rs_error err = {0};
    assert_int_equal(open_and_load(dir, &err), RS_ERR_INPUT);
    fprintf(stderr, "  inconsistent: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "mlp"));
}

static void test_unknown_arch(void **state)
{
    (void)state;
    char dir[1024], path[4096], src[4096];
    snprintf(dir, sizeof dir, "%s/badarch", test_tmpdir());
    mkdir(dir, 0755);
    snprintf(src, sizeof src, "%s/qwen2/f32/model.safetensors", fixture_dir());
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    copy_file(src, path, -1);
    snprintf(src, sizeof src, "%s/qwen2/f32/config.json", fixture_dir());
    char *cfg = test_slurp(src, NULL);
    cJSON *j = cJSON_Parse(cfg);
    free(cfg);
    cJSON_ReplaceItemInObject(j, "model_type", cJSON_CreateString("frobnicator"));
    cJSON_ReplaceItemInObject(j, "architectures", cJSON_CreateStringArray((const char *[]){"FrobForCausalLM"}, 1));
    char *out = cJSON_Print(j);
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    fputs(out, f);
    fclose(f);
    free(out);
    cJSON_Delete(j);
    rs_error err = {0};
    assert_int_equal(open_and_load(dir, &err), RS_ERR_INPUT);
    fprintf(stderr, "  unknown arch: %s\n", err.msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f32),
        cmocka_unit_test(test_f32_kv_f16),
        cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_gguf),
        cmocka_unit_test(test_quantize_on_load),
        cmocka_unit_test(test_kv_q8_0),
        cmocka_unit_test(test_sliding_window),
        cmocka_unit_test(test_rewind),
        cmocka_unit_test(test_yarn),
        cmocka_unit_test(test_prefill_head_precision),
        cmocka_unit_test(test_memory_matches_plan),
        cmocka_unit_test(test_truncated_gguf),
        cmocka_unit_test(test_inconsistent_config),
        cmocka_unit_test(test_unknown_arch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
