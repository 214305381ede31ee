#include "testutil.h"

#include "engine/engine.h"
#include "engine/sampler.h"
#include "model/model.h"

// stories260K (karpathy's TinyStories Llama, GGUF, all F32, no
// rope.freq_base key so theta is the default 10000): greedy decoding from
// BOS gives its known story, " Once upon a time, there was a little girl
// named Lily...". The ids are llama.cpp's greedy output for this file.
static const int32_t expected[] = {403, 407, 261, 378, 432, 383, 286, 261, 376, 298,
                                   315, 421, 395, 317, 426, 338, 401, 396, 267, 337,
                                   410, 408, 419, 292, 411, 322, 265, 282, 295, 433,
                                   426, 385, 328, 432, 358, 394, 261, 370, 432, 352};
#define N_EXPECTED (int)(sizeof expected / sizeof expected[0])

static void generate(const char *precision, dtype kv_type, int n_check)
{
    char path[4096];
    TESTDATA_PATH(path, "models/stories260K/stories260K.gguf");
    model_desc *m = NULL;
    rs_error err = {0};
    if (model_open(path, &m, &err) != RS_OK) fail_msg("%s", err.msg);
    engine_options o = engine_default_options();
    assert_int_equal(plan_precision_parse(precision, &o.precision, &err), RS_OK);
    o.n_ctx = 128;
    o.kv_type = kv_type;
    engine *e = NULL;
    if (engine_load(m, &o, &e, &err) != RS_OK) fail_msg("%s", err.msg);
    sampler s;
    sampler_params sp = sampler_default_params(); // greedy
    assert_int_equal(sampler_init(&s, &sp, engine_n_vocab(e), &err), RS_OK);
    int32_t tok = (int32_t)(m->bos_id >= 0 ? m->bos_id : 1);
    assert_int_equal(tok, 1);
    assert_int_equal(engine_prefill(e, &tok, 1, NULL, &err), RS_OK);
    int32_t got[N_EXPECTED];
    for (int i = 0; i < N_EXPECTED; i++) {
        got[i] = sampler_sample(&s, engine_logits(e), NULL, 0);
        if (i + 1 < N_EXPECTED) assert_int_equal(engine_decode(e, got[i], &err), RS_OK);
    }
    fprintf(stderr, "  %s kv %s:", precision, dtype_name(kv_type));
    for (int i = 0; i < N_EXPECTED; i++)
        fprintf(stderr, " %d", got[i]);
    fprintf(stderr, "\n");
    for (int i = 0; i < n_check; i++)
        if (got[i] != expected[i]) fail_msg("token %d: got %d, want %d", i, got[i], expected[i]);
    sampler_free(&s);
    engine_free(e);
    model_free(m);
}

static void test_greedy_f32(void **state)
{
    (void)state;
    generate("stored", DTYPE_F32, N_EXPECTED);
}

static void test_greedy_f16_cache(void **state)
{
    (void)state;
    generate("stored", DTYPE_F16, N_EXPECTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_f32),
        cmocka_unit_test(test_greedy_f16_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
