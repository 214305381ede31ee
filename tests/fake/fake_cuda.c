// A stand-in for librightsize_cuda.so (src/engine/cuda/cuda_api.h) for the
// tests of what the core does around a GPU run, on machines without one:
// engine_gpu's placement and the release of uploaded weights, bench's GPU
// rows and its calibration. It computes nothing: a forward pass takes a fixed
// time (so that the measured speed is known) and returns zeros.
//   FAKE_CUDA_GPUS=N           devices (default 1)
//   FAKE_CUDA_NAME="..."       their name (default the fake NVML's H100)
//   FAKE_CUDA_STEP_US=U        time of one forward call (default 2000)
//   FAKE_CUDA_TOKEN_US=U       plus this per token (default 20)
// Built as a shared library (CMake target fake_cuda); the tests point
// RIGHTSIZE_CUDA_LIB at it.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/cuda/cuda_api.h"

#define EXPORT __attribute__((visibility("default")))

struct rs_cuda_ctx {
    int64_t n_embd, n_vocab;
    uint64_t bytes_seen; // bytes of the weights "uploaded" (their first bytes read)
};

static long env_long(const char *k, long dflt)
{
    const char *v = getenv(k);
    return v && *v ? strtol(v, NULL, 10) : dflt;
}

static int device_count(int *n, char *err, size_t errn)
{
    (void)err;
    (void)errn;
    *n = (int)env_long("FAKE_CUDA_GPUS", 1);
    return 0;
}

static int device_info(int dev, char *name, size_t name_n, uint64_t *free_b, uint64_t *total_b,
                       char *err, size_t errn)
{
    if (dev < 0 || dev >= env_long("FAKE_CUDA_GPUS", 1)) {
        snprintf(err, errn, "fake CUDA: no device %d", dev);
        return 1;
    }
    const char *nm = getenv("FAKE_CUDA_NAME");
    snprintf(name, name_n, "%s", nm && *nm ? nm : "NVIDIA H100 80GB HBM3");
    *total_b = 85520809984ull;
    *free_b = 84934656000ull;
    return 0;
}

static int measure_copy(int dev, uint64_t bytes, int runs, double *gbs, char *err, size_t errn)
{
    (void)dev, (void)bytes, (void)runs, (void)err, (void)errn;
    *gbs = 3000;
    return 0;
}

// Reads the first byte of each weight, as an upload would read them all.
static uint64_t touch(const rs_cuda_weight *w)
{
    if (!w->data) return 0;
    volatile uint8_t b = *(const uint8_t *)w->data;
    (void)b;
    return 1;
}

static int create(const rs_cuda_model *m, rs_cuda_ctx **out, char *err, size_t errn)
{
    rs_cuda_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errn, "fake CUDA: out of memory");
        return 1;
    }
    c->n_embd = m->n_embd;
    c->n_vocab = m->n_vocab;
    for (int64_t l = 0; l < m->n_layer; l++) {
        const rs_cuda_layer *L = &m->layers[l];
        const rs_cuda_weight *ws[] = {&L->wq,     &L->wk,   &L->wv,    &L->wo,
                                      &L->w_gate, &L->w_up, &L->w_down};
        for (int i = 0; i < 7; i++) {
            if (!touch(ws[i])) {
                snprintf(err, errn, "fake CUDA: block %lld has a NULL weight",
                         (long long)(m->layer_first + l));
                free(c);
                return 1;
            }
        }
    }
    if ((m->with_embd && !touch(&m->tok_embd)) || (m->with_output && !touch(&m->output))) {
        snprintf(err, errn, "fake CUDA: NULL embedding or head");
        free(c);
        return 1;
    }
    *out = c;
    return 0;
}

static void destroy(rs_cuda_ctx *c)
{
    free(c);
}

static int forward(rs_cuda_ctx *c, const int32_t *tokens, const float *x_in, int64_t n, int64_t pos,
                   float *x_out, float *logits, int64_t logits_rows, char *err, size_t errn)
{
    (void)tokens, (void)x_in, (void)pos, (void)err, (void)errn;
    long us = env_long("FAKE_CUDA_STEP_US", 2000) + env_long("FAKE_CUDA_TOKEN_US", 20) * n;
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0) {
    }
    if (x_out) memset(x_out, 0, (size_t)(n * c->n_embd) * sizeof(float));
    if (logits) {
        int64_t rows = logits_rows >= n ? n : 1;
        memset(logits, 0, (size_t)(rows * c->n_vocab) * sizeof(float));
    }
    return 0;
}

static void memory(const rs_cuda_ctx *c, rs_cuda_mem *out)
{
    (void)c;
    memset(out, 0, sizeof *out);
    out->total = 85520809984ull;
    out->free_before = out->free_after = 84934656000ull;
}

static int test_op(int op, const rs_cuda_weight *w, const float *x, const float *norm_w, int64_t n,
                   float *y, char *err, size_t errn)
{
    (void)op, (void)w, (void)x, (void)norm_w, (void)n, (void)y;
    snprintf(err, errn, "fake CUDA: no kernels");
    return 1;
}

static const rs_cuda_api api = {RS_CUDA_API_VERSION,
                                device_count,
                                device_info,
                                measure_copy,
                                create,
                                destroy,
                                forward,
                                memory,
                                test_op};

EXPORT const rs_cuda_api *rs_cuda_get_api(void)
{
    return &api;
}
