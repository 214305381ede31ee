// The GPU compute arena's shared size function (src/plan/gpu_arena.c)
// against the CUDA code it sizes, on the host (no GPU needed; built with
// nvcc, run by ctest): plan_gpu_mv_scratch_bytes must equal common.cuh's
// mv_scratch_bytes, and the scratch must hold mv_scratch_at's carving (the
// f32 input, the int8 input and one float2 per block of 32, each aligned),
// for every input width up to 64K and the widths of real models.

#include <stdio.h>

#include "engine/cuda/common.cuh"
#include "plan/gpu_arena.h"

static int check(int64_t n)
{
    const uint64_t want = mv_scratch_bytes(n), got = plan_gpu_mv_scratch_bytes(n);
    if (got != want) {
        fprintf(stderr, "n %lld: plan_gpu_mv_scratch_bytes %llu, mv_scratch_bytes %llu\n",
                (long long)n, (unsigned long long)got, (unsigned long long)want);
        return 1;
    }
    uint8_t *base = (uint8_t *)(uintptr_t)4096; // never dereferenced
    const mv_scratch s = mv_scratch_at(base, n);
    const uint64_t end = (uint64_t)((uint8_t *)(s.xds + n / 32) - base);
    if (end > got) {
        fprintf(stderr, "n %lld: mv_scratch_at carves %llu bytes, the plan counts %llu\n",
                (long long)n, (unsigned long long)end, (unsigned long long)got);
        return 1;
    }
    return 0;
}

int main(void)
{
    int bad = 0;
    for (int64_t n = 32; n <= 65536; n += 32)
        bad += check(n);
    // Qwen2.5-0.5B/7B, Llama-3.1-8B/70B FFN widths, a 405B-like one.
    const int64_t wide[] = {4864, 18944, 14336, 28672, 53248};
    for (int64_t n : wide)
        bad += check(n);
    if (PLAN_GPU_DEQ_SCRATCH_BYTES != 32ull << 20 || PLAN_GPU_ALIGN != 256) {
        fprintf(stderr, "the plan's GPU constants moved: update docs/memory-model.md\n");
        bad++;
    }
    printf("%s: %d mismatches\n", bad ? "FAIL" : "ok", bad);
    return bad != 0;
}
