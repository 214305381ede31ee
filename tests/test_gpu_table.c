#include "testutil.h"

#include <math.h>

#include "hw/gpu_table.h"

static void test_table_rows(void **state)
{
    (void)state;
    int n = gpu_table_count();
    assert_true(n >= 50);
    for (int i = 0; i < n; i++) {
        const gpu_spec *s = gpu_table_get(i);
        assert_non_null(s);
        assert_true(s->mem_gib > 0 && s->bandwidth_gbs > 0 && s->tflops_bf16 > 0);
        assert_true(strncmp(s->source, "https://", 8) == 0);
        assert_true(strcmp(s->vendor, "nvidia") == 0 || strcmp(s->vendor, "amd") == 0 ||
                    strcmp(s->vendor, "apple") == 0);
        if (strcmp(s->vendor, "apple") == 0) assert_true(s->unified_memory);
        if (strcmp(s->vendor, "nvidia") == 0) assert_true(s->cc_major >= 7);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(s->key, gpu_table_get(j)->key);
        // Every row finds itself by its key and by its full name.
        assert_ptr_equal(gpu_table_find(s->key), s);
        assert_ptr_equal(gpu_table_find(s->name), s);
    }
    assert_null(gpu_table_get(n));
    assert_null(gpu_table_get(-1));
}

// The figures the planner leans on most, from the datasheets.
static void test_known_figures(void **state)
{
    (void)state;
    const gpu_spec *h100 = gpu_table_find("H100 SXM");
    assert_non_null(h100);
    assert_true(h100->mem_gib == 80 && h100->tflops_bf16 == 989 && h100->cc_major == 9);
    const gpu_spec *r4090 = gpu_table_find("RTX 4090");
    assert_true(r4090->mem_gib == 24 && r4090->bandwidth_gbs == 1008 &&
                r4090->tflops_bf16 == 165.2);
    const gpu_spec *m2 = gpu_table_find("M2 Ultra");
    assert_true(m2->unified_memory && m2->mem_gib == 192 && m2->bandwidth_gbs == 800);
}

static void expect_key(const char *spelling, const char *key)
{
    const gpu_spec *s = gpu_table_find(spelling);
    if (!s) fail_msg("\"%s\": no match, expected %s", spelling, key);
    if (strcmp(s->key, key) != 0)
        fail_msg("\"%s\": matched %s, expected %s", spelling, s->key, key);
}

static void test_find_spellings(void **state)
{
    (void)state;
    expect_key("RTX 4090", "rtx4090");
    expect_key("rtx4090", "rtx4090");
    expect_key("4090", "rtx4090");
    expect_key("NVIDIA GeForce RTX 4090", "rtx4090");
    expect_key("RTX 4090 24GB", "rtx4090");
    expect_key("3060 Ti", "rtx3060ti");
    expect_key("rtx 3090", "rtx3090");
    expect_key("4080 Super", "rtx4080super");
    expect_key("H100", "h100sxm");
    expect_key("H100 SXM", "h100sxm");
    expect_key("h100-sxm5", "h100sxm");
    expect_key("NVIDIA H100 80GB HBM3", "h100sxm");
    expect_key("NVIDIA H100 PCIe", "h100pcie");
    expect_key("H100 NVL", "h100nvl");
    expect_key("A100 80GB", "a10080gb");
    expect_key("A100 40GB", "a10040gb");
    expect_key("NVIDIA A100-SXM4-80GB", "a10080gb");
    expect_key("NVIDIA A100-PCIE-40GB", "a10040gbpcie");
    expect_key("NVIDIA A100 80GB PCIe", "a10080gbpcie");
    expect_key("Tesla V100-SXM2-32GB", "v10032gb");
    expect_key("Tesla T4", "t4");
    expect_key("NVIDIA L40S", "l40s");
    expect_key("NVIDIA GH200 480GB", "gh200");
    expect_key("H200", "h200");
    expect_key("B200", "b200");
    expect_key("RTX A6000", "rtxa6000");
    expect_key("A6000", "rtxa6000");
    expect_key("RTX 6000 Ada", "rtx6000ada");
    expect_key("NVIDIA RTX 6000 Ada Generation", "rtx6000ada");
    expect_key("AMD Instinct MI300X", "mi300x");
    expect_key("MI250", "mi250");
    expect_key("MI300", "mi300x");
    expect_key("M2 Max", "m2max");
    expect_key("Apple M4 Pro", "m4pro");
    expect_key("m1", "m1");
}

static void test_find_rejects(void **state)
{
    (void)state;
    assert_null(gpu_table_find("RTX 4099"));
    assert_null(gpu_table_find("90"));   // a number is matched whole, never in part
    assert_null(gpu_table_find("6000")); // RTX A6000 or RTX 6000 Ada: ambiguous
    assert_null(gpu_table_find(""));
    assert_null(gpu_table_find(NULL));
    assert_null(gpu_table_find("RTX 4090 48GB")); // memory that disagrees with the table
    const gpu_spec *close[5];
    int n = gpu_table_close_matches("RTX 4099", close, 5);
    assert_true(n >= 1);
    bool has_4090 = false;
    for (int i = 0; i < n; i++)
        has_4090 |= strcmp(close[i]->key, "rtx4090") == 0;
    assert_true(has_4090);
    n = gpu_table_close_matches("4099", close, 5); // without the family letters
    assert_true(n >= 1);
    assert_string_equal(close[0]->key, "rtx4090");
}

static void set_gpus(hw_info *hw, const char *arg)
{
    rs_error err = {0};
    if (hw_set_hypothetical_gpus(hw, arg, &err) != RS_OK) fail_msg("\"%s\": %s", arg, err.msg);
}

static void test_hypothetical(void **state)
{
    (void)state;
    hw_info hw;
    memset(&hw, 0, sizeof hw);
    hw.ram_total = hw.ram_available = 1ull << 34;

    set_gpus(&hw, "H100x8");
    assert_int_equal(hw.n_gpus, 8);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(hw.gpus[i].index, i);
        assert_true(hw.gpus[i].hypothetical);
        assert_true(hw.gpus[i].mem_total == 80ull << 30);
        assert_true(hw.gpus[i].mem_free == hw.gpus[i].mem_total);
        assert_int_equal(hw.gpus[i].cc_major, 9);
    }
    assert_true(hw.ram_total == 1ull << 34); // a discrete card leaves the RAM alone

    set_gpus(&hw, "RTX 4090x2");
    assert_int_equal(hw.n_gpus, 2);
    strcpy(hw.cpu_model, "Fake CPU");
    hw.cpu_threads = 4;
    char line[512];
    assert_string_equal(hw_summary(&hw, line, sizeof line),
                        "Fake CPU (4 threads), RAM 16.0 GiB available of 16.0 GiB, "
                        "2x NVIDIA GeForce RTX 4090 (24.0 GiB free each)");
    assert_string_equal(hw.gpus[1].name, "NVIDIA GeForce RTX 4090");

    set_gpus(&hw, "A100 80GB x4");
    assert_int_equal(hw.n_gpus, 4);
    assert_true(hw.gpus[3].mem_total == 80ull << 30);

    set_gpus(&hw, "8x H100");
    assert_int_equal(hw.n_gpus, 8);
    set_gpus(&hw, "rtx5090"); // the "x5090" of the name is not a count
    assert_int_equal(hw.n_gpus, 1);
    assert_true(hw.gpus[0].mem_total == 32ull << 30);
    set_gpus(&hw, "H100x2, RTX 4090");
    assert_int_equal(hw.n_gpus, 3);
    assert_string_equal(hw.gpus[2].name, "NVIDIA GeForce RTX 4090");
    assert_int_equal(hw.gpus[2].index, 2);
    set_gpus(&hw, "MI250Xx2");
    assert_int_equal(hw.n_gpus, 2);
    assert_string_equal(hw.gpus[0].name, "AMD Instinct MI250X");

    // Unified memory: the card's memory is the machine's RAM.
    set_gpus(&hw, "M2 Max 64GB");
    assert_int_equal(hw.n_gpus, 1);
    assert_true(hw.gpus[0].unified_memory);
    assert_true(hw.gpus[0].mem_total == 64ull << 30);
    assert_true(hw.ram_total == 64ull << 30 && hw.ram_available == 64ull << 30);
    assert_true(hw.ram_hypothetical);

    // --ram given first wins over the unified memory.
    memset(&hw, 0, sizeof hw);
    hw_set_hypothetical_ram(&hw, 128ull << 30);
    set_gpus(&hw, "M4 Max");
    assert_true(hw.ram_total == 128ull << 30);
    hw_set_cpu_only(&hw);
    assert_int_equal(hw.n_gpus, 0);
    assert_non_null(strstr(hw_summary(&hw, line, sizeof line), "(hypothetical), no GPU"));
}

static void expect_bad(const char *arg, const char *needle)
{
    hw_info hw;
    memset(&hw, 0, sizeof hw);
    hw.n_gpus = 1;
    rs_error err = {0};
    assert_int_equal(hw_set_hypothetical_gpus(&hw, arg, &err), RS_ERR_INPUT);
    if (!strstr(err.msg, needle))
        fail_msg("\"%s\": message \"%s\" lacks \"%s\"", arg, err.msg, needle);
    assert_int_equal(hw.n_gpus, 1); // unchanged on failure
}

static void test_hypothetical_errors(void **state)
{
    (void)state;
    expect_bad("RTX 4099", "RTX 4090");
    expect_bad("H100x17", "between 1 and 16");
    expect_bad("H100x0", "between 1 and 16");
    expect_bad("H100x8,A100x9", "between 1 and 16");
    expect_bad("", "empty");
    expect_bad("H100,,A100", "empty");
    expect_bad("Voodoo 5x2", "unknown GPU \"Voodoo 5x2\"");
    expect_bad("RTX 4099x2", "RTX 4090");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_rows),     cmocka_unit_test(test_known_figures),
        cmocka_unit_test(test_find_spellings), cmocka_unit_test(test_find_rejects),
        cmocka_unit_test(test_hypothetical),   cmocka_unit_test(test_hypothetical_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
