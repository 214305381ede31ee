#ifndef RS_UTIL_DTYPE_H
#define RS_UTIL_DTYPE_H

#include <stdbool.h>
#include <stdint.h>

// Every storage type rightsize knows: the ggml types with their GGUF ids
// (so a GGUF tensor's type field maps directly), then the safetensors-only
// types. Sizes come from the real block layouts in one table (dtype.c).
typedef enum dtype {
    DTYPE_F32 = 0,
    DTYPE_F16 = 1,
    DTYPE_Q4_0 = 2,
    DTYPE_Q4_1 = 3,
    DTYPE_Q5_0 = 6,
    DTYPE_Q5_1 = 7,
    DTYPE_Q8_0 = 8,
    DTYPE_Q8_1 = 9,
    DTYPE_Q2_K = 10,
    DTYPE_Q3_K = 11,
    DTYPE_Q4_K = 12,
    DTYPE_Q5_K = 13,
    DTYPE_Q6_K = 14,
    DTYPE_Q8_K = 15,
    DTYPE_IQ2_XXS = 16,
    DTYPE_IQ2_XS = 17,
    DTYPE_IQ3_XXS = 18,
    DTYPE_IQ1_S = 19,
    DTYPE_IQ4_NL = 20,
    DTYPE_IQ3_S = 21,
    DTYPE_IQ2_S = 22,
    DTYPE_IQ4_XS = 23,
    DTYPE_I8 = 24,
    DTYPE_I16 = 25,
    DTYPE_I32 = 26,
    DTYPE_I64 = 27,
    DTYPE_F64 = 28,
    DTYPE_IQ1_M = 29,
    DTYPE_BF16 = 30,
    DTYPE_TQ1_0 = 34,
    DTYPE_TQ2_0 = 35,
    DTYPE_MXFP4 = 39,
    DTYPE_GGML_COUNT = 40, // ids below this may be GGUF types

    // safetensors-only element types
    DTYPE_U8 = 64,
    DTYPE_BOOL,
    DTYPE_U16,
    DTYPE_U32,
    DTYPE_U64,
    DTYPE_F8_E4M3,
    DTYPE_F8_E5M2,
    DTYPE_COUNT,
} dtype;

// True for ids that name a type (gaps such as the removed ggml types 4, 5
// and 31-33 are not types).
bool dtype_valid(int id);

const char *dtype_name(dtype t); // "Q4_K", "BF16", ...; "?" for invalid ids

// Parses a name as GGUF tools and safetensors write it ("Q4_K", "q4_k",
// "BF16", "F8_E4M3"); returns -1 if unknown.
int dtype_from_name(const char *name);

// Elements per block (1 for plain types, 32 or 256 for quantized types) and
// bytes per block.
int64_t dtype_block_elems(dtype t);
int64_t dtype_block_bytes(dtype t);

bool dtype_is_quantized(dtype t);

// Bytes of a row of n elements, or -1 if n is not a multiple of the block.
int64_t dtype_row_bytes(dtype t, int64_t n);

// Bytes of a tensor of n_elems elements whose first dimension (the row, the
// innermost, contiguous one) has ne0 elements: -1 if ne0 is not a multiple of
// the block or the result overflows int64.
int64_t dtype_tensor_bytes(dtype t, int64_t ne0, int64_t n_elems);

// Average bits per weight (block bytes * 8 / block elems), e.g. 4.5 for Q4_K.
double dtype_bits_per_weight(dtype t);

#endif
