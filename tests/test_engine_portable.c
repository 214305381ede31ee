#include "testutil.h"

#include <math.h>

#include "engine/engine.h"
#include "model/model.h"

// The engine with the portable kernels only (RIGHTSIZE_KERNELS=portable:
// matmul and attention loops without SIMD), as on a CPU without AVX2:
// transformers' logits of the tiny models, through f32 and f16 caches and a
// quantized GGUF file. test_engine_parity.c covers the SIMD paths.

// The prompt of tools/make_tiny_models.py (also in each reference.json).
static const int32_t prompt[] = {1, 17, 42, 99, 3, 250, 128, 7, 64, 200, 31, 5};
#define N_PROMPT 12
#define N_VOCAB 256

static void check(const char *model, const char *sub, const char *ref, dtype kv, double tol)
{
    const char *src = getenv("RIGHTSIZE_SOURCE");
    char path[2048], refpath[2048];
    snprintf(path, sizeof path, "%s/tests/fixtures/tiny/%s/%s", src && *src ? src : ".", model,
             sub);
    snprintf(refpath, sizeof refpath, "%s/tests/fixtures/tiny/%s/logits_%s.bin",
             src && *src ? src : ".", model, ref);
    size_t n;
    float *want = (float *)test_slurp(refpath, &n);
    if (!want) fail_msg("cannot read %s", refpath);
    assert_int_equal(n, sizeof(float) * N_PROMPT * N_VOCAB);
    model_desc *m = NULL;
    rs_error err = {0};
    if (model_open(path, &m, &err) != RS_OK) fail_msg("%s", err.msg);
    engine_options o = engine_default_options();
    o.n_ctx = 32;
    o.n_batch = 8;
    o.n_threads = 2;
    o.logits_all = true;
    o.kv_type = kv;
    engine *e = NULL;
    if (engine_load(m, &o, &e, &err) != RS_OK) fail_msg("%s", err.msg);
    float got[N_PROMPT * N_VOCAB];
    assert_int_equal(engine_prefill(e, prompt, N_PROMPT, got, &err), RS_OK);
    double maxd = 0, maxb = 0;
    for (int i = 0; i < N_PROMPT * N_VOCAB; i++) {
        maxd = fmax(maxd, fabs((double)got[i] - want[i]));
        maxb = fmax(maxb, fabs((double)want[i]));
    }
    // One token at a time through the cache gives the same last logits.
    engine_rewind(e, 0);
    for (int i = 0; i < N_PROMPT; i++)
        assert_int_equal(engine_decode(e, prompt[i], &err), RS_OK);
    double maxd2 = 0;
    for (int i = 0; i < N_VOCAB; i++)
        maxd2 = fmax(maxd2, fabs((double)engine_logits(e)[i] - want[(N_PROMPT - 1) * N_VOCAB + i]));
    fprintf(stderr, "  portable %-8s %-18s kv %-4s: %.2e, decode %.2e\n", model, sub,
            dtype_name(kv), maxd / maxb, maxd2 / maxb);
    assert_true(maxd / maxb < tol);
    assert_true(maxd2 / maxb < tol);
    engine_free(e);
    model_free(m);
    free(want);
}

static void test_portable(void **state)
{
    (void)state;
    check("llama3", "f32", "f32", DTYPE_F32, 1e-4);
    check("qwen3", "f32", "f32", DTYPE_F16, 2e-3);
    check("smollm2", "f32", "f32", DTYPE_Q8_0, 3e-2);
    check("mistral_swa", "f32", "f32", DTYPE_F16, 2e-3);
    check("llama3", "llama3-Q4_K.gguf", "Q4_K", DTYPE_F32, 1e-4);
}

int main(void)
{
    // Before anything picks its kernels.
    setenv("RIGHTSIZE_KERNELS", "portable", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_portable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
