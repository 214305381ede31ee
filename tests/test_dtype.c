#include "testutil.h"

#include "util/dtype.h"
#include "util/format.h"

// Block sizes are the ggml layouts: hand-computed from the block structs.
static void test_block_bytes(void **state)
{
    (void)state;
    assert_int_equal(dtype_block_bytes(DTYPE_Q4_K), 144); // 2+2 + 12 scales + 128 nibbles
    assert_int_equal(dtype_block_bytes(DTYPE_Q6_K), 210); // 128 ql + 64 qh + 16 scales + 2
    assert_int_equal(dtype_block_bytes(DTYPE_Q8_0), 34);  // f16 d + 32 int8
    assert_int_equal(dtype_block_bytes(DTYPE_Q4_0), 18);
    assert_int_equal(dtype_block_bytes(DTYPE_Q5_K), 176);
    assert_int_equal(dtype_block_elems(DTYPE_Q4_K), 256);
    assert_int_equal(dtype_block_elems(DTYPE_BF16), 1);
    assert_true(dtype_bits_per_weight(DTYPE_Q4_K) == 4.5);
    assert_true(dtype_bits_per_weight(DTYPE_Q8_0) == 8.5);
}

static void test_row_bytes(void **state)
{
    (void)state;
    assert_int_equal(dtype_row_bytes(DTYPE_Q4_K, 4096), 16 * 144);
    assert_int_equal(dtype_row_bytes(DTYPE_Q4_K, 4000), -1); // not a multiple of 256
    assert_int_equal(dtype_tensor_bytes(DTYPE_Q8_0, 896, 896 * 4864), 896 / 32 * 34 * 4864);
    assert_int_equal(dtype_tensor_bytes(DTYPE_F32, 3, 7), -1); // 7 is not whole rows of 3
    assert_int_equal(dtype_tensor_bytes(DTYPE_F16, 2, INT64_MAX / 2), -1); // overflow
}

static void test_names(void **state)
{
    (void)state;
    assert_int_equal(dtype_from_name("q4_k"), DTYPE_Q4_K);
    assert_int_equal(dtype_from_name("BF16"), DTYPE_BF16);
    assert_int_equal(dtype_from_name("F8_E4M3"), DTYPE_F8_E4M3);
    assert_int_equal(dtype_from_name("Q4_K_M"), -1);
    assert_false(dtype_valid(4)); // removed Q4_2
    assert_false(dtype_valid(-1));
    assert_string_equal(dtype_name(DTYPE_IQ4_XS), "IQ4_XS");
}

static void test_format(void **state)
{
    (void)state;
    char b[32];
    assert_string_equal(format_bytes(b, sizeof b, 512), "512 B");
    assert_string_equal(format_bytes(b, sizeof b, 1536ULL << 20), "1.50 GiB");
    assert_int_equal(parse_bytes("64G"), 64LL << 30);
    assert_int_equal(parse_bytes("10GiB"), 10LL << 30);
    assert_int_equal(parse_bytes("512M"), 512LL << 20);
    assert_int_equal(parse_bytes("12x"), -1);
    assert_int_equal(parse_bytes(""), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_bytes),
        cmocka_unit_test(test_row_bytes),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
