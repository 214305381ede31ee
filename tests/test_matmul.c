// Tests for src/engine/cpu/matmul.c: every weight type, decode and prefill
// token counts and odd shapes against a naive reference (dequantize the
// weights with quant.c, dot in double), on one thread and on a pool.
#include "testutil.h"

#include <math.h>

#include "engine/cpu/matmul.h"
#include "engine/cpu/matmul_kernels.h"
#include "engine/cpu/threadpool.h"
#include "engine/quant.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static uint32_t rand_u32(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

static float rand_uniform(void) // [-1, 1)
{
    return (float)((rand_u32() >> 8) * 0x1p-23 - 1.0);
}

// Offsets of the fp16 scales in each block of the types built from random
// bytes (those we cannot quantize to): kept finite and small.
static void fix_scales(dtype t, uint8_t *w, int64_t n_blocks)
{
    const int64_t bb = dtype_block_bytes(t);
    int offs[2], n_offs;
    switch (t) {
    case DTYPE_Q4_1: offs[0] = 0, offs[1] = 2, n_offs = 2; break;
    case DTYPE_Q5_0: offs[0] = 0, n_offs = 1; break;
    case DTYPE_Q5_K: offs[0] = 0, offs[1] = 2, n_offs = 2; break;
    default: return;
    }
    for (int64_t b = 0; b < n_blocks; b++)
        for (int k = 0; k < n_offs; k++) {
            uint16_t h = f32_to_fp16(rand_uniform() * 0.01f);
            memcpy(w + b * bb + offs[k], &h, 2);
        }
}

// Weights of type t, (n_out, n_in); returns the buffer (caller frees).
static uint8_t *make_weights(dtype t, int64_t n_in, int64_t n_out)
{
    const int64_t row_bytes = dtype_row_bytes(t, n_in);
    uint8_t *w = malloc((size_t)(row_bytes * n_out));
    if (quant_can_quantize(t)) {
        float *row = malloc((size_t)n_in * sizeof(float));
        for (int64_t r = 0; r < n_out; r++) {
            for (int64_t i = 0; i < n_in; i++) row[i] = rand_uniform() * 0.1f;
            assert_int_equal(quant_quantize_row(t, row, w + r * row_bytes, n_in), row_bytes);
        }
        free(row);
    } else {
        for (int64_t i = 0; i < row_bytes * n_out; i++) w[i] = (uint8_t)rand_u32();
        fix_scales(t, w, row_bytes * n_out / dtype_block_bytes(t));
    }
    return w;
}

static void check_case(thread_pool *pool, dtype t, int64_t n_in, int64_t n_out, int64_t n_tok)
{
    uint8_t *w = make_weights(t, n_in, n_out);
    float *x = malloc((size_t)(n_tok * n_in) * sizeof(float));  // (n_tok, n_in)
    float *y = malloc((size_t)(n_tok * n_out) * sizeof(float)); // (n_tok, n_out)
    float *wrow = malloc((size_t)n_in * sizeof(float));
    for (int64_t i = 0; i < n_tok * n_in; i++) x[i] = rand_uniform();
    for (int64_t i = 0; i < n_tok * n_out; i++) y[i] = NAN; // every element must be written

    cpu_matmul(pool, w, t, x, y, n_in, n_out, n_tok);

    const int64_t row_bytes = dtype_row_bytes(t, n_in);
    for (int64_t r = 0; r < n_out; r++) {
        quant_dequantize_row(t, w + r * row_bytes, wrow, n_in);
        for (int64_t tk = 0; tk < n_tok; tk++) {
            const float *xt = x + tk * n_in;
            double ref = 0, ref_abs = 0, w_abs = 0, x_max = 0;
            for (int64_t i = 0; i < n_in; i++) {
                ref += (double)wrow[i] * xt[i];
                ref_abs += fabs((double)wrow[i] * xt[i]);
                w_abs += fabs(wrow[i]);
                if (fabs(xt[i]) > x_max) x_max = fabs(xt[i]);
            }
            // Float accumulation error, plus, where the activations are
            // quantized to 8 bits, half a step (max|x|/254) per weight.
            double tol = 1e-5 * ref_abs + 1e-6;
            if (cpu_matmul_quantizes_activations(t, n_tok)) tol += w_abs * x_max / 254.0 * 1.01;
            const double got = y[tk * n_out + r];
            if (!(fabs(got - ref) <= tol))
                fail_msg("%s n_in=%lld n_out=%lld n_tok=%lld threads=%d: y[%lld][%lld] = %.9g, "
                         "reference %.9g (tolerance %.3g)",
                         dtype_name(t), (long long)n_in, (long long)n_out, (long long)n_tok,
                         thread_pool_size(pool), (long long)tk, (long long)r, got, ref, tol);
        }
    }
    free(w);
    free(x);
    free(y);
    free(wrow);
}

static const dtype all_types[] = {DTYPE_F32,  DTYPE_F16,  DTYPE_BF16, DTYPE_Q8_0, DTYPE_Q4_0,
                                  DTYPE_Q4_1, DTYPE_Q5_0, DTYPE_Q5_K, DTYPE_Q4_K, DTYPE_Q6_K};

static void run_all(thread_pool *pool)
{
    const int64_t toks[] = {1, 3, 7, 64};
    const int64_t outs[] = {1, 13, 67};
    for (size_t ti = 0; ti < sizeof all_types / sizeof all_types[0]; ti++) {
        const dtype t = all_types[ti];
        const int64_t be = dtype_block_elems(t);
        // Odd multiples of the block (and, for plain types, odd lengths).
        const int64_t ins[] = {be == 1 ? 37 : be, be == 1 ? 333 : 3 * be, be == 1 ? 1000 : 5 * be};
        for (size_t a = 0; a < 3; a++)
            for (size_t b = 0; b < 3; b++)
                for (size_t c = 0; c < 4; c++) check_case(pool, t, ins[a], outs[b], toks[c]);
    }
}

// Every kernel table this CPU can run, not only the one cpu_matmul picks.
static const matmul_kernels *tables[3];
static int n_tables;

static int setup_tables(void **state)
{
    (void)state;
    const matmul_kernels *best = matmul_kernels_best();
    tables[n_tables++] = matmul_kernels_portable();
    if (matmul_kernels_avx2() && strcmp(best->name, "portable") != 0) tables[n_tables++] = matmul_kernels_avx2();
    if (matmul_kernels_avx512() && strcmp(best->name, "avx512") == 0) tables[n_tables++] = matmul_kernels_avx512();
    return 0;
}

static void test_matmul_serial(void **state)
{
    (void)state;
    for (int i = 0; i < n_tables; i++) {
        matmul_kernels_select(tables[i]);
        run_all(NULL);
    }
    matmul_kernels_select(NULL);
}

static void test_matmul_pool(void **state)
{
    (void)state;
    thread_pool *pool = thread_pool_init(3);
    assert_non_null(pool);
    for (int i = 0; i < n_tables; i++) {
        matmul_kernels_select(tables[i]);
        run_all(pool);
    }
    matmul_kernels_select(NULL);
    thread_pool_free(pool);
}

// The prefill expansion of each table gives the reference dequantization
// (to float rounding: the kernels may multiply in another order).
static void test_expand(void **state)
{
    (void)state;
    for (int ti = 0; ti < n_tables; ti++)
        for (size_t k = 0; k < sizeof all_types / sizeof all_types[0]; k++) {
            const dtype t = all_types[k];
            if (!tables[ti]->expand[t]) continue;
            const int64_t n = 1024;
            uint8_t *w = make_weights(t, n, 1);
            float want[1024], got[1024];
            quant_dequantize_row(t, w, want, n);
            tables[ti]->expand[t](w, got, n);
            for (int64_t i = 0; i < n; i++)
                if (!(fabsf(got[i] - want[i]) <= 1e-6f * fabsf(want[i]) + 1e-9f))
                    fail_msg("%s %s expand[%lld] = %g, dequantize says %g", tables[ti]->name,
                             dtype_name(t), (long long)i, got[i], want[i]);
            free(w);
        }
}

// A shape like the engine's (Qwen2.5-0.5B's k projection), so the kernels'
// tiled paths with many rows and tokens run too.
static void test_matmul_model_shape(void **state)
{
    (void)state;
    thread_pool *pool = thread_pool_init(2);
    assert_non_null(pool);
    const dtype types[] = {DTYPE_F16, DTYPE_BF16, DTYPE_Q8_0, DTYPE_Q4_0, DTYPE_Q4_K, DTYPE_Q6_K};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        check_case(pool, types[i], 1024, 130, 1);
        check_case(pool, types[i], 1024, 130, 37);
    }
    thread_pool_free(pool);
}

static void test_matmul_bad_input(void **state)
{
    (void)state;
    uint8_t w[64] = {0};
    float x[40] = {0}, y[2] = {0, 0};
    cpu_matmul(NULL, w, DTYPE_Q4_0, x, y, 33, 1, 1); // 33 is not a multiple of 32
    assert_true(isnan(y[0]));
    y[0] = 0;
    cpu_matmul(NULL, w, DTYPE_Q2_K, x, y, 256, 1, 1); // a type without kernels
    assert_true(isnan(y[0]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_serial),
        cmocka_unit_test(test_matmul_pool),
        cmocka_unit_test(test_matmul_model_shape),
        cmocka_unit_test(test_expand),
        cmocka_unit_test(test_matmul_bad_input),
    };
    return cmocka_run_group_tests(tests, setup_tables, NULL);
}
