// Measures what a CUDA process holds on the GPU before any tensor: the
// context (with the default lazy module loading), cuBLAS's handle, and the
// workspace cuBLAS takes on its first GEMM. The figures source
// PLAN_CUDA_CONTEXT_BYTES and PLAN_CUBLAS_WORKSPACE_BYTES (docs/memory-model.md).
// Build and run: nvcc -O2 measure.cu -lcublas -o measure && ./measure
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

// Used memory as NVML reports it (nvidia-smi), MiB: it counts the context,
// which cudaMemGetInfo cannot see before the context exists.
static long used_mib(void)
{
    FILE *p = popen("nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0", "r");
    long v = -1;
    if (p) {
        if (fscanf(p, "%ld", &v) != 1) v = -1;
        pclose(p);
    }
    return v;
}

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        int e_ = (int)(x);                                                                         \
        if (e_) {                                                                                  \
            fprintf(stderr, "%s:%d: %s failed: %d\n", __FILE__, __LINE__, #x, e_);                 \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

int main(void)
{
    long base = used_mib();
    printf("baseline used            %6ld MiB\n", base);
    CHECK(cudaFree(0));
    long ctx = used_mib();
    printf("after context (cudaFree) %6ld MiB  (+%ld)\n", ctx, ctx - base);
    cublasHandle_t h;
    CHECK(cublasCreate(&h));
    CHECK(cudaDeviceSynchronize());
    long hb = used_mib();
    printf("after cublasCreate       %6ld MiB  (+%ld)\n", hb, hb - ctx);
    const int n = 4096;
    void *a, *b, *c; // (n, n) bf16 each: 32 MiB
    CHECK(cudaMalloc(&a, (size_t)n * n * 2));
    CHECK(cudaMalloc(&b, (size_t)n * n * 2));
    CHECK(cudaMalloc(&c, (size_t)n * n * 2));
    CHECK(cudaMemset(a, 0, (size_t)n * n * 2));
    CHECK(cudaMemset(b, 0, (size_t)n * n * 2));
    CHECK(cudaDeviceSynchronize());
    long bufs = used_mib();
    printf("after 3 x 32 MiB buffers %6ld MiB  (+%ld)\n", bufs, bufs - hb);
    float alpha = 1, beta = 0;
    CHECK(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, a, CUDA_R_16BF, n, b,
                       CUDA_R_16BF, n, &beta, c, CUDA_R_16BF, n, CUBLAS_COMPUTE_32F,
                       CUBLAS_GEMM_DEFAULT));
    CHECK(cudaDeviceSynchronize());
    long gemm = used_mib();
    printf("after first bf16 GEMM    %6ld MiB  (+%ld)\n", gemm, gemm - bufs);
    size_t f, t;
    CHECK(cudaMemGetInfo(&f, &t));
    printf("cudaMemGetInfo: free %zu total %zu\n", f, t);
    printf("overhead (context + cuBLAS + workspace): %ld MiB\n", gemm - base - 96);
    int drv = 0, rt = 0;
    cudaDriverGetVersion(&drv);
    cudaRuntimeGetVersion(&rt);
    cudaDeviceProp prop;
    cudaGetDeviceProperties(&prop, 0);
    printf("device %s, driver API %d, runtime %d, CUDA_MODULE_LOADING=%s\n", prop.name, drv, rt,
           getenv("CUDA_MODULE_LOADING") ? getenv("CUDA_MODULE_LOADING") : "(default)");
    return 0;
}
