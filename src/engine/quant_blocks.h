#ifndef RS_ENGINE_QUANT_BLOCKS_H
#define RS_ENGINE_QUANT_BLOCKS_H

// The ggml block layouts (ggml-common.h), shared by quant.c and the CPU
// kernels. Sizes must match util/dtype.c's table; the static asserts below
// check that at compile time.
#include <assert.h>
#include <stdint.h>

#define QK32 32 // elements per block of the 32-blocks (Q4_0, Q4_1, Q5_0, Q8_0)
#define QK_K 256 // elements per super-block of the K-quants

typedef struct {
    uint16_t d;       // fp16 scale
    uint8_t qs[16];   // nibbles: element j in the low half of qs[j], j+16 in the high half
} block_q4_0;

typedef struct {
    uint16_t d;       // fp16 scale
    uint16_t m;       // fp16 minimum
    uint8_t qs[16];
} block_q4_1;

typedef struct {
    uint16_t d;       // fp16 scale
    uint8_t qh[4];    // fifth bits, element j at bit j (little-endian u32)
    uint8_t qs[16];
} block_q5_0;

typedef struct {
    uint16_t d;       // fp16 scale
    int8_t qs[32];
} block_q8_0;

typedef struct {
    uint16_t d;       // fp16 super-block scale of the 6-bit scales
    uint16_t dmin;    // fp16 super-block scale of the 6-bit mins
    uint8_t scales[12]; // 8 scales and 8 mins, 6 bits each (get_scale_min_k4)
    uint8_t qs[128];  // nibbles: 64-element groups, low nibbles first 32, high next 32
} block_q4_K;

typedef struct {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qh[32];   // fifth bits: bit 2g (low) and 2g+1 (high) for group g
    uint8_t qs[128];
} block_q5_K;

typedef struct {
    uint8_t ql[128];  // low 4 bits
    uint8_t qh[64];   // high 2 bits
    int8_t scales[16]; // one 8-bit scale per 16 elements
    uint16_t d;       // fp16 super-block scale
} block_q6_K;

// Activations for the K-quant dot products (never stored in files).
typedef struct {
    float d;
    int8_t qs[256];
    int16_t bsums[16]; // sums of qs in groups of 16
} block_q8_K;

static_assert(sizeof(block_q4_0) == 18, "block_q4_0 layout");
static_assert(sizeof(block_q4_1) == 20, "block_q4_1 layout");
static_assert(sizeof(block_q5_0) == 22, "block_q5_0 layout");
static_assert(sizeof(block_q8_0) == 34, "block_q8_0 layout");
static_assert(sizeof(block_q4_K) == 144, "block_q4_K layout");
static_assert(sizeof(block_q5_K) == 176, "block_q5_K layout");
static_assert(sizeof(block_q6_K) == 210, "block_q6_K layout");
static_assert(sizeof(block_q8_K) == 292, "block_q8_K layout");

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K super-block.
static inline void quant_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m)
{
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
    }
}

#endif
