// Tests for src/engine/quant.c: bit-exact dequantization and byte-exact
// quantization against the gguf package (tests/data/quant_fixtures.bin, made
// by tools/make_quant_fixtures.py), fp16/bf16 conversions, and error bounds
// for the quantizers gguf cannot run (Q4_K, Q6_K).
#include "testutil.h"

#include <math.h>

#include "engine/quant.h"
#include "engine/quant_internal.h"

// ------------------------------------------------------------ the fixture

typedef struct {
    uint32_t kind, type, n_elems, n_bytes;
    const uint8_t *blocks;
    const float *floats; // unaligned in the file: copied out
} fixture_record;

static uint8_t *fixture_data;
static size_t fixture_size;

static const uint8_t *fixture_load(size_t *size)
{
    if (fixture_data) {
        *size = fixture_size;
        return fixture_data;
    }
    const char *src = getenv("RIGHTSIZE_SOURCE");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/quant_fixtures.bin", src && *src ? src : ".");
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s (set RIGHTSIZE_SOURCE to the source tree)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    fixture_data = malloc((size_t)n);
    assert_non_null(fixture_data);
    assert_int_equal(fread(fixture_data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    fixture_size = (size_t)n;
    *size = fixture_size;
    return fixture_data;
}

// Walks the records; returns the number seen and calls fn on each.
static int fixture_each(void (*fn)(const fixture_record *r, void *ctx), void *ctx)
{
    size_t size;
    const uint8_t *d = fixture_load(&size);
    const char *end_hdr = strstr((const char *)d, "\n---\n");
    assert_non_null(end_hdr);
    size_t off = (size_t)(end_hdr - (const char *)d) + 5;
    int count = 0;
    while (off < size) {
        fixture_record r;
        assert_true(off + 16 <= size);
        memcpy(&r.kind, d + off, 4);
        memcpy(&r.type, d + off + 4, 4);
        memcpy(&r.n_elems, d + off + 8, 4);
        memcpy(&r.n_bytes, d + off + 12, 4);
        off += 16;
        size_t need = (size_t)r.n_bytes + (size_t)r.n_elems * 4;
        assert_true(off + need <= size);
        assert_int_equal(dtype_row_bytes((dtype)r.type, r.n_elems), r.n_bytes);
        if (r.kind == 0) {
            r.blocks = d + off;
            r.floats = (const float *)(d + off + r.n_bytes);
        } else {
            r.floats = (const float *)(d + off);
            r.blocks = d + off + (size_t)r.n_elems * 4;
        }
        fn(&r, ctx);
        off += need;
        count++;
    }
    return count;
}

static void check_dequant(const fixture_record *r, void *ctx)
{
    int *n = ctx;
    if (r->kind != 0) return;
    (*n)++;
    assert_true(quant_supported((dtype)r->type));
    float *want = malloc(r->n_elems * sizeof(float));
    float *got = malloc(r->n_elems * sizeof(float));
    uint8_t *blocks = malloc(r->n_bytes); // aligned copy, as an mmapped tensor would be
    memcpy(want, r->floats, r->n_elems * sizeof(float));
    memcpy(blocks, r->blocks, r->n_bytes);
    quant_dequantize_row((dtype)r->type, blocks, got, r->n_elems);
    for (uint32_t i = 0; i < r->n_elems; i++) {
        uint32_t a, b;
        memcpy(&a, &got[i], 4);
        memcpy(&b, &want[i], 4);
        if (a != b)
            fail_msg("%s element %u: got %a (0x%08x), gguf says %a (0x%08x)",
                     dtype_name((dtype)r->type), i, got[i], a, want[i], b);
    }
    free(want);
    free(got);
    free(blocks);
}

static void test_dequantize_matches_gguf(void **state)
{
    (void)state;
    int n = 0;
    fixture_each(check_dequant, &n);
    assert_int_equal(n, 10); // F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_K Q4_K Q6_K
}

static void check_quant(const fixture_record *r, void *ctx)
{
    int *n = ctx;
    if (r->kind != 1) return;
    (*n)++;
    float *x = malloc(r->n_elems * sizeof(float));
    uint8_t *got = malloc(r->n_bytes);
    memcpy(x, r->floats, r->n_elems * sizeof(float));
    assert_int_equal(quant_quantize_row((dtype)r->type, x, got, r->n_elems), r->n_bytes);
    for (uint32_t i = 0; i < r->n_bytes; i++) {
        if (got[i] != r->blocks[i])
            fail_msg("%s byte %u: got 0x%02x, gguf says 0x%02x", dtype_name((dtype)r->type), i,
                     got[i], r->blocks[i]);
    }
    free(x);
    free(got);
}

static void test_quantize_matches_gguf(void **state)
{
    (void)state;
    int n = 0;
    fixture_each(check_quant, &n);
    assert_int_equal(n, 4); // F16 BF16 Q8_0 Q4_0
}

// ------------------------------------------------------------ conversions

static void test_fp16_roundtrip_all(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        const bool nan = (h & 0x7C00) == 0x7C00 && (h & 0x3FF);
        float f = fp16_to_f32((uint16_t)h);
        if (nan) {
            assert_true(isnan(f));
            continue;
        }
        assert_int_equal(f32_to_fp16(f), h);
    }
    assert_true(fp16_to_f32(0x3C00) == 1.0f);
    assert_true(fp16_to_f32(0x0001) == 0x1p-24f);
    assert_true(fp16_to_f32(0xC000) == -2.0f);
}

static void test_fp16_rounding(void **state)
{
    (void)state;
    // 1 + 2^-11 is halfway between 1 and the next half (1 + 2^-10): ties to even.
    assert_int_equal(f32_to_fp16(1.0f + 0x1p-11f), 0x3C00);
    assert_int_equal(f32_to_fp16(1.0f + 3 * 0x1p-11f), 0x3C02);
    assert_int_equal(f32_to_fp16(1.0f + 0x1p-11f + 0x1p-20f), 0x3C01);
    assert_int_equal(f32_to_fp16(65504.0f), 0x7BFF);
    assert_int_equal(f32_to_fp16(65519.0f), 0x7BFF);
    assert_int_equal(f32_to_fp16(65520.0f), 0x7C00);
    assert_int_equal(f32_to_fp16(-INFINITY), 0xFC00);
    assert_int_equal(f32_to_fp16(0x1p-25f), 0x0000);                 // tie to even: zero
    assert_int_equal(f32_to_fp16(0x1p-25f + 0x1p-40f), 0x0001);
    assert_int_equal(f32_to_fp16(3 * 0x1p-25f), 0x0002);             // tie to even: 2
    assert_int_equal(f32_to_fp16(0x1p-14f - 0x1p-30f), 0x0400);      // rounds up to the smallest normal
    assert_true(isnan(fp16_to_f32(f32_to_fp16(NAN))));
}

static void test_bf16(void **state)
{
    (void)state;
    assert_int_equal(f32_to_bf16(1.0f), 0x3F80);
    assert_true(bf16_to_f32(0x3F80) == 1.0f);
    assert_int_equal(f32_to_bf16(1.0f + 0x1p-8f), 0x3F80);           // tie to even
    assert_int_equal(f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3F82);
    assert_true(isnan(bf16_to_f32(f32_to_bf16(NAN))));
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7F80) == 0x7F80 && (h & 0x7F)) continue;
        assert_int_equal(f32_to_bf16(bf16_to_f32((uint16_t)h)), h);
    }
}

// ------------------------------------------------------------ error bounds

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static float rand_normal(void)
{
    // Box-Muller over a xorshift generator: deterministic across platforms.
    double u[2];
    for (int i = 0; i < 2; i++) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        u[i] = ((rng_state >> 11) + 0.5) * 0x1p-53;
    }
    return (float)(sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]));
}

// Quantizes Gaussian data (with a zero super-block and an outlier) and checks
// the relative RMS error against the format's known accuracy.
static void roundtrip(dtype t, double max_rel_rms)
{
    enum { N = 4096 };
    float *x = malloc(N * sizeof(float));
    float *back = malloc(N * sizeof(float));
    void *q = malloc((size_t)dtype_row_bytes(t, N));
    for (int i = 0; i < N; i++) x[i] = rand_normal() * 0.05f;
    for (int i = 256; i < 512; i++) x[i] = 0.0f;
    x[1000] = 3.0f;
    assert_int_equal(quant_quantize_row(t, x, q, N), dtype_row_bytes(t, N));
    quant_dequantize_row(t, q, back, N);
    for (int i = 256; i < 512; i++) assert_true(back[i] == 0.0f);
    double rel = quant_relative_rms(t, x, N);
    double e2 = 0, r2 = 0;
    for (int i = 0; i < N; i++) {
        e2 += ((double)back[i] - x[i]) * ((double)back[i] - x[i]);
        r2 += (double)x[i] * x[i];
    }
    assert_true(fabs(rel - sqrt(e2 / r2)) < 1e-9);
    if (!(rel < max_rel_rms)) fail_msg("%s: relative RMS %.5f over %.5f", dtype_name(t), rel, max_rel_rms);
    assert_true(rel > 0 || t == DTYPE_F32);
    free(x);
    free(back);
    free(q);
}

static void test_roundtrip_error(void **state)
{
    (void)state;
    roundtrip(DTYPE_F32, 1e-12);
    roundtrip(DTYPE_F16, 1e-3);
    roundtrip(DTYPE_BF16, 5e-3);
    roundtrip(DTYPE_Q8_0, 0.02);
    roundtrip(DTYPE_Q6_K, 0.03);
    roundtrip(DTYPE_Q4_K, 0.12);
    roundtrip(DTYPE_Q4_0, 0.15);
}

// Q4_K and Q6_K bytes cannot be checked against gguf; check instead that
// each element lands on the nearest level of its sub-block's grid, which
// the reference's final requantization pass guarantees.
static void test_kquant_nearest_level(void **state)
{
    (void)state;
    enum { N = 1024 };
    float x[N], back[N];
    for (int i = 0; i < N; i++) x[i] = rand_normal();
    uint8_t q[1024];
    // Q6_K: levels are d*sc*(k), k in [-32, 31]; the error is at most half a step.
    quant_quantize_row(DTYPE_Q6_K, x, q, N);
    quant_dequantize_row(DTYPE_Q6_K, q, back, N);
    for (int b = 0; b < N / 256; b++) {
        const uint8_t *blk = q + b * 210;
        uint16_t dh;
        memcpy(&dh, blk + 208, 2);
        for (int s = 0; s < 16; s++) {
            float step = fp16_to_f32(dh) * (int8_t)blk[192 + s]; // signed: the grid is -32..31 steps
            for (int i = 0; i < 16; i++) {
                int k = b * 256 + s * 16 + i;
                float lo = -32 * step, hi = 31 * step;
                float clamped = fminf(fmaxf(x[k], fminf(lo, hi)), fmaxf(lo, hi));
                assert_true(fabsf(back[k] - clamped) <= 0.5f * fabsf(step) * 1.001f + 1e-7f);
            }
        }
    }
    // Q4_K: within half a step of the grid d*sc*k - dmin*m, k in [0, 15].
    quant_quantize_row(DTYPE_Q4_K, x, q, N);
    quant_dequantize_row(DTYPE_Q4_K, q, back, N);
    for (int k = 0; k < N; k++) {
        float e = fabsf(back[k] - x[k]);
        assert_true(e < 0.5f); // unit-variance data, 16 levels over the sub-block's range
    }
}

static void test_q8_K(void **state)
{
    (void)state;
    enum { N = 512 };
    float x[N];
    for (int i = 0; i < N; i++) x[i] = rand_normal();
    uint8_t q[2 * 292];
    quant_quantize_row_q8_K(x, q, N);
    for (int b = 0; b < 2; b++) {
        float d;
        memcpy(&d, q + b * 292, 4);
        const int8_t *qs = (const int8_t *)(q + b * 292 + 4);
        for (int g = 0; g < 16; g++) {
            int16_t bs;
            memcpy(&bs, q + b * 292 + 260 + 2 * g, 2);
            int sum = 0;
            for (int i = 0; i < 16; i++) sum += qs[g * 16 + i];
            assert_int_equal(sum, bs);
        }
        for (int i = 0; i < 256; i++) assert_true(fabsf(d * qs[i] - x[b * 256 + i]) <= fabsf(d) * 0.5001f);
    }
}

// The SIMD K-quant searches (Q4_K: AVX2/AVX-512, Q6_K: AVX-512) must give
// the scalar reference's bytes exactly, including on the edge cases of the
// searches: flat sub-blocks, all-positive ones (min clamps to 0), zeros,
// tiny and huge magnitudes.
static void kquant_simd_matches_scalar(dtype t)
{
    enum { NB = 63, N = NB * 256 }; // odd: the AVX-512 Q4_K path's AVX2 tail runs too
    const int64_t bb = dtype_block_bytes(t);
    float *x = malloc(N * sizeof(float));
    uint8_t *a = malloc((size_t)(NB * bb)), *b = malloc((size_t)(NB * bb));
    for (int i = 0; i < N; i++) x[i] = rand_normal();
    for (int i = 0; i < 32; i++) x[i] = 0.5f;                  // flat sub-block
    for (int i = 32; i < 64; i++) x[i] = fabsf(x[i]) + 1.0f;   // all positive
    for (int i = 256; i < 512; i++) x[i] = 0.0f;               // zero super-block
    for (int i = 512; i < 768; i++) x[i] *= 1e-20f;            // tiny
    for (int i = 768; i < 1024; i++) x[i] *= 1e20f;            // huge
    for (int i = 1024; i < 1056; i++) x[i] = -fabsf(x[i]);     // all negative
    for (int i = 1100; i < 1300; i += 3) x[i] = 0.0f;          // sprinkled zeros
    for (int i = 1300; i < 1310; i++) x[i] = 30.0f;            // outliers
    for (int i = 1536; i < 1552; i++) x[i] = 0.0f;             // one zero 16-group
    quant_force_scalar(true);
    quant_quantize_row(t, x, a, N);
    quant_force_scalar(false);
    quant_quantize_row(t, x, b, N);
    for (int64_t i = 0; i < NB * bb; i++)
        if (a[i] != b[i])
            fail_msg("%s super-block %lld byte %lld: scalar 0x%02x, simd 0x%02x", dtype_name(t),
                     (long long)(i / bb), (long long)(i % bb), a[i], b[i]);
    free(x);
    free(a);
    free(b);
}

static void test_q4_K_simd_matches_scalar(void **state)
{
    (void)state;
    if (!quant_have_avx2()) skip();
    kquant_simd_matches_scalar(DTYPE_Q4_K);
}

static void test_q6_K_simd_matches_scalar(void **state)
{
    (void)state;
    if (!quant_have_avx512()) skip();
    kquant_simd_matches_scalar(DTYPE_Q6_K);
}

// Q8_0 with AVX2 rounds half away from zero like the reference's roundf,
// ties included.
static void test_q8_0_simd_matches_scalar(void **state)
{
    (void)state;
    if (!quant_have_avx2()) skip();
    enum { NB = 256, N = NB * 32 };
    float *x = malloc(N * sizeof(float));
    uint8_t *a = malloc((size_t)NB * 34), *b = malloc((size_t)NB * 34);
    for (int i = 0; i < N; i++) x[i] = rand_normal();
    // A block whose scale is exactly 1: every k + 0.5 is a tie.
    x[0] = 127.0f;
    for (int i = 1; i < 32; i++) x[i] = (float)(i - 16) + 0.5f;
    for (int i = 32; i < 64; i++) x[i] = 0.0f;
    x[64] = -127.0f;
    for (int i = 65; i < 96; i++) x[i] = -(float)(i - 80) - 0.5f;
    for (int i = 96; i < 128; i++) x[i] *= 1e-30f;
    quant_force_scalar(true);
    quant_quantize_row(DTYPE_Q8_0, x, a, N);
    quant_force_scalar(false);
    quant_quantize_row(DTYPE_Q8_0, x, b, N);
    for (int i = 0; i < NB * 34; i++)
        if (a[i] != b[i]) fail_msg("block %d byte %d: scalar 0x%02x, avx2 0x%02x", i / 34, i % 34, a[i], b[i]);
    // The tie block: 1.5 -> 2, -1.5 -> -2, 0.5 -> 1 (away from zero).
    assert_int_equal((int8_t)a[2 + 17], 2);  // x[17] = 1.5
    assert_int_equal((int8_t)a[2 + 16], 1);  // x[16] = 0.5
    assert_int_equal((int8_t)a[2 + 14], -2); // x[14] = -1.5
    free(x);
    free(a);
    free(b);
}

// F16 rows through F16C give the scalar conversions' bits both ways (every
// half value back, and rounding ties, subnormals and overflow forward).
static void test_f16_simd_matches_scalar(void **state)
{
    (void)state;
    enum { N = 65536 + 4096 };
    uint16_t *h = malloc(N * 2), *ha = malloc(N * 2), *hb = malloc(N * 2);
    float *f = malloc(N * sizeof(float)), *fa = malloc(N * sizeof(float)), *fb = malloc(N * sizeof(float));
    for (int i = 0; i < 65536; i++) {
        h[i] = (uint16_t)i;
        if ((i & 0x7C00) == 0x7C00 && (i & 0x3FF)) h[i] = 0x3C00; // no NaNs
    }
    for (int i = 65536; i < N; i++) h[i] = (uint16_t)(i * 7);
    quant_force_scalar(true);
    quant_dequantize_row(DTYPE_F16, h, fa, N);
    quant_force_scalar(false);
    quant_dequantize_row(DTYPE_F16, h, fb, N);
    assert_memory_equal(fa, fb, N * sizeof(float));
    for (int i = 0; i < N; i++) f[i] = rand_normal() * ldexpf(1.0f, (i % 48) - 30); // 2^-30 .. 2^17
    f[0] = 1.0f + 0x1p-11f; // a tie
    f[1] = 65520.0f;        // rounds to inf
    f[2] = 0x1p-25f;        // a subnormal tie
    quant_force_scalar(true);
    quant_quantize_row(DTYPE_F16, f, ha, N);
    quant_force_scalar(false);
    quant_quantize_row(DTYPE_F16, f, hb, N);
    for (int i = 0; i < N; i++)
        if (ha[i] != hb[i]) fail_msg("element %d (%a): scalar 0x%04x, simd 0x%04x", i, f[i], ha[i], hb[i]);
    free(h);
    free(ha);
    free(hb);
    free(f);
    free(fa);
    free(fb);
}

static void test_unsupported(void **state)
{
    (void)state;
    float x[256] = {0};
    uint8_t q[512];
    assert_false(quant_supported(DTYPE_Q2_K));
    assert_false(quant_can_quantize(DTYPE_Q5_K));
    assert_int_equal(quant_quantize_row(DTYPE_Q5_K, x, q, 256), -1);
    assert_int_equal(quant_quantize_row(DTYPE_Q8_0, x, q, 33), -1);
    assert_true(quant_relative_rms(DTYPE_Q4_K, x, 100) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dequantize_matches_gguf),
        cmocka_unit_test(test_quantize_matches_gguf),
        cmocka_unit_test(test_fp16_roundtrip_all),
        cmocka_unit_test(test_fp16_rounding),
        cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_roundtrip_error),
        cmocka_unit_test(test_kquant_nearest_level),
        cmocka_unit_test(test_q8_K),
        cmocka_unit_test(test_q4_K_simd_matches_scalar),
        cmocka_unit_test(test_q6_K_simd_matches_scalar),
        cmocka_unit_test(test_q8_0_simd_matches_scalar),
        cmocka_unit_test(test_f16_simd_matches_scalar),
        cmocka_unit_test(test_unsupported),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(fixture_data);
    return rc;
}
