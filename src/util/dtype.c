#include "util/dtype.h"

#include <stddef.h>
#include <stdint.h>
#include <strings.h>

// Block layouts from ggml (ggml-common.h): elements per block and bytes per
// block. Q4_K, for example, stores 256 weights in d, dmin (2 x f16), 12 bytes
// of 6-bit scales and 128 bytes of nibbles: 144 bytes.
static const struct dtype_info {
    const char *name;
    int64_t block_elems;
    int64_t block_bytes;
} dtype_table[DTYPE_COUNT] = {
    [DTYPE_F32] = {"F32", 1, 4},
    [DTYPE_F16] = {"F16", 1, 2},
    [DTYPE_Q4_0] = {"Q4_0", 32, 18},
    [DTYPE_Q4_1] = {"Q4_1", 32, 20},
    [DTYPE_Q5_0] = {"Q5_0", 32, 22},
    [DTYPE_Q5_1] = {"Q5_1", 32, 24},
    [DTYPE_Q8_0] = {"Q8_0", 32, 34},
    [DTYPE_Q8_1] = {"Q8_1", 32, 36},
    [DTYPE_Q2_K] = {"Q2_K", 256, 84},
    [DTYPE_Q3_K] = {"Q3_K", 256, 110},
    [DTYPE_Q4_K] = {"Q4_K", 256, 144},
    [DTYPE_Q5_K] = {"Q5_K", 256, 176},
    [DTYPE_Q6_K] = {"Q6_K", 256, 210},
    [DTYPE_Q8_K] = {"Q8_K", 256, 292},
    [DTYPE_IQ2_XXS] = {"IQ2_XXS", 256, 66},
    [DTYPE_IQ2_XS] = {"IQ2_XS", 256, 74},
    [DTYPE_IQ3_XXS] = {"IQ3_XXS", 256, 98},
    [DTYPE_IQ1_S] = {"IQ1_S", 256, 50},
    [DTYPE_IQ4_NL] = {"IQ4_NL", 32, 18},
    [DTYPE_IQ3_S] = {"IQ3_S", 256, 110},
    [DTYPE_IQ2_S] = {"IQ2_S", 256, 82},
    [DTYPE_IQ4_XS] = {"IQ4_XS", 256, 136},
    [DTYPE_I8] = {"I8", 1, 1},
    [DTYPE_I16] = {"I16", 1, 2},
    [DTYPE_I32] = {"I32", 1, 4},
    [DTYPE_I64] = {"I64", 1, 8},
    [DTYPE_F64] = {"F64", 1, 8},
    [DTYPE_IQ1_M] = {"IQ1_M", 256, 56},
    [DTYPE_BF16] = {"BF16", 1, 2},
    [DTYPE_TQ1_0] = {"TQ1_0", 256, 54},
    [DTYPE_TQ2_0] = {"TQ2_0", 256, 66},
    [DTYPE_MXFP4] = {"MXFP4", 32, 17},
    [DTYPE_U8] = {"U8", 1, 1},
    [DTYPE_BOOL] = {"BOOL", 1, 1},
    [DTYPE_U16] = {"U16", 1, 2},
    [DTYPE_U32] = {"U32", 1, 4},
    [DTYPE_U64] = {"U64", 1, 8},
    [DTYPE_F8_E4M3] = {"F8_E4M3", 1, 1},
    [DTYPE_F8_E5M2] = {"F8_E5M2", 1, 1},
};

bool dtype_valid(int id)
{
    return id >= 0 && id < DTYPE_COUNT && dtype_table[id].name != NULL;
}

const char *dtype_name(dtype t)
{
    return dtype_valid((int)t) ? dtype_table[t].name : "?";
}

int dtype_from_name(const char *name)
{
    if (!name) return -1;
    for (int i = 0; i < DTYPE_COUNT; i++)
        if (dtype_table[i].name && strcasecmp(dtype_table[i].name, name) == 0) return i;
    return -1;
}

int64_t dtype_block_elems(dtype t)
{
    return dtype_valid((int)t) ? dtype_table[t].block_elems : 0;
}

int64_t dtype_block_bytes(dtype t)
{
    return dtype_valid((int)t) ? dtype_table[t].block_bytes : 0;
}

bool dtype_is_quantized(dtype t)
{
    return dtype_block_elems(t) > 1;
}

int64_t dtype_row_bytes(dtype t, int64_t n)
{
    int64_t be = dtype_block_elems(t);
    if (be <= 0 || n < 0 || n % be != 0) return -1;
    int64_t blocks = n / be;
    if (blocks > INT64_MAX / dtype_table[t].block_bytes) return -1;
    return blocks * dtype_table[t].block_bytes;
}

int64_t dtype_tensor_bytes(dtype t, int64_t ne0, int64_t n_elems)
{
    int64_t be = dtype_block_elems(t);
    if (be <= 0 || ne0 < 0 || n_elems < 0 || ne0 % be != 0) return -1;
    if (ne0 == 0) return n_elems == 0 ? 0 : -1;
    if (n_elems % ne0 != 0) return -1;
    int64_t blocks = n_elems / be;
    if (blocks > INT64_MAX / dtype_table[t].block_bytes) return -1;
    return blocks * dtype_table[t].block_bytes;
}

double dtype_bits_per_weight(dtype t)
{
    if (!dtype_valid((int)t)) return 0.0;
    return 8.0 * (double)dtype_table[t].block_bytes / (double)dtype_table[t].block_elems;
}
