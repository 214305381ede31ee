// Matmul benchmark at Qwen2.5-0.5B shapes: the matrix products of one
// decode token and of a 512-token prefill batch, per weight format and
// thread count, beside the machine's measured read bandwidth.
//
// Build and run: bench/run_matmul_bench.sh (needs `make build` first).
//   matmul_bench [--threads 1,2] [--types F16,BF16,Q8_0,Q4_K,Q4_0,Q6_K]
//                [--reps N] [--no-prefill]
//   matmul_bench --kernels     (per-kernel throughput with weights in cache)
//
// Weights are random, quantized with quant.c. One layer's matrices are
// quantized and copied into all 24 layers, so every layer has its own
// memory (as in a real model, nothing stays in cache between tokens) without
// 24x the quantization time. Formats that need rows of 256 (Q4_K, Q6_K) fall
// back where a row is 896 long, as llama.cpp's quantizer does: Q4_K to Q4_0
// (rightsize's int4 rule), Q6_K to Q8_0.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/cpu/matmul.h"
#include "engine/cpu/threadpool.h"
#include "engine/quant.h"

enum { HIDDEN = 896, FFN = 4864, LAYERS = 24, KV = 128, VOCAB = 151936, PP = 512 };

typedef struct {
    const char *name;
    int64_t n_out, n_in;
} shape;

// Per layer: q, k, v, o, gate, up, down.
static const shape layer_shapes[] = {
    {"q", HIDDEN, HIDDEN}, {"k", KV, HIDDEN},   {"v", KV, HIDDEN},  {"o", HIDDEN, HIDDEN},
    {"gate", FFN, HIDDEN}, {"up", FFN, HIDDEN}, {"down", HIDDEN, FFN},
};
enum { N_LAYER_MATS = sizeof layer_shapes / sizeof layer_shapes[0] };
static const shape head_shape = {"lm_head", VOCAB, HIDDEN};

typedef struct {
    dtype t;
    void *data;
    int64_t n_out, n_in, bytes;
} matrix;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng = 88172645463325252ull;
static float frand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 40) * 0x1p-24 * 2.0 - 1.0);
}

// The type a format uses for rows of n_in (the fallback rule above).
static dtype type_for(dtype want, int64_t n_in)
{
    if (n_in % 256 == 0) return want;
    if (want == DTYPE_Q4_K) return DTYPE_Q4_0;
    if (want == DTYPE_Q6_K) return DTYPE_Q8_0;
    return want;
}

static void *xmalloc(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, n) != 0) {
        fprintf(stderr, "out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

// Fills m with random weights of type t; rows past `unique` repeat earlier
// rows (quantizing 150k vocabulary rows is slow; memory is what counts).
static matrix make_matrix(dtype want, shape s, int64_t unique)
{
    matrix m = {.t = type_for(want, s.n_in), .n_out = s.n_out, .n_in = s.n_in};
    const int64_t rb = dtype_row_bytes(m.t, s.n_in);
    m.bytes = rb * s.n_out;
    m.data = xmalloc((size_t)m.bytes);
    float *row = malloc((size_t)s.n_in * sizeof(float));
    if (unique > s.n_out) unique = s.n_out;
    for (int64_t r = 0; r < unique; r++) {
        for (int64_t i = 0; i < s.n_in; i++) row[i] = frand() * 0.05f;
        quant_quantize_row(m.t, row, (uint8_t *)m.data + r * rb, s.n_in);
    }
    for (int64_t r = unique; r < s.n_out; r += unique) {
        int64_t n = s.n_out - r < unique ? s.n_out - r : unique;
        memcpy((uint8_t *)m.data + r * rb, m.data, (size_t)(n * rb));
    }
    free(row);
    return m;
}

// ---------------------------------------------------------------- bandwidth

typedef struct {
    const float *buf;
    int64_t n, per_task;
    double sums[256];
} bw_job;

// 16-byte vectors (SSE2, the x86-64 baseline) with eight independent sums,
// so the loop is limited by memory, not by add latency.
typedef float v4f __attribute__((vector_size(16)));

static void bw_task(void *arg, int task, int thread)
{
    (void)thread;
    bw_job *j = arg;
    const v4f *p = (const v4f *)(j->buf + task * j->per_task);
    const int64_t n = j->per_task / 4;
    v4f s[8] = {{0}};
    for (int64_t i = 0; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) s[k] += p[i + k];
    v4f t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    j->sums[task] = t[0] + t[1] + t[2] + t[3];
}

static double measure_bandwidth(thread_pool *pool, int reps)
{
    const int64_t bytes = 1ll << 30;
    bw_job j = {.n = bytes / 4};
    float *buf = xmalloc((size_t)bytes);
    for (int64_t i = 0; i < j.n; i++) buf[i] = (float)(i & 7);
    j.buf = buf;
    const int tasks = 64;
    j.per_task = j.n / tasks;
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        thread_pool_run(pool, bw_task, &j, tasks);
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    double chk = 0;
    for (int i = 0; i < tasks; i++) chk += j.sums[i];
    if (chk == -1) printf("#"); // keep the sums alive
    free(buf);
    return bytes / best / 1e9;
}

// ---------------------------------------------------------------- model

typedef struct {
    matrix layers[LAYERS][N_LAYER_MATS];
    matrix head;
    int64_t bytes; // all weights
} model;

static void model_init(model *m, dtype t)
{
    m->bytes = 0;
    for (int i = 0; i < N_LAYER_MATS; i++) {
        m->layers[0][i] = make_matrix(t, layer_shapes[i], layer_shapes[i].n_out);
        m->bytes += m->layers[0][i].bytes;
    }
    for (int l = 1; l < LAYERS; l++)
        for (int i = 0; i < N_LAYER_MATS; i++) {
            matrix c = m->layers[0][i];
            c.data = xmalloc((size_t)c.bytes);
            memcpy(c.data, m->layers[0][i].data, (size_t)c.bytes);
            m->layers[l][i] = c;
            m->bytes += c.bytes;
        }
    m->head = make_matrix(t, head_shape, 4096);
    m->bytes += m->head.bytes;
}

static void model_free(model *m)
{
    for (int l = 0; l < LAYERS; l++)
        for (int i = 0; i < N_LAYER_MATS; i++) free(m->layers[l][i].data);
    free(m->head.data);
}

// The matmuls of one decode token: every layer, then lm_head. x and y are
// big enough for any shape.
static double decode_token(thread_pool *pool, const model *m, const float *x, float *y)
{
    double t0 = now();
    for (int l = 0; l < LAYERS; l++)
        for (int i = 0; i < N_LAYER_MATS; i++) {
            const matrix *w = &m->layers[l][i];
            cpu_matmul(pool, w->data, w->t, x, y, w->n_in, w->n_out, 1);
        }
    cpu_matmul(pool, m->head.data, m->head.t, x, y, HIDDEN, VOCAB, 1);
    return now() - t0;
}

// The matmuls of a 512-token prefill, estimated as 24 times the best time
// of one layer's (prefill reuses each weight 512 times from cache, so one
// layer times like any other) plus lm_head on the last token only, as
// llama.cpp's pp runs do. Timing one layer many times finds the quiet
// moments of a shared machine better than a few whole passes.
static double prefill_batch(thread_pool *pool, const model *m, const float *x, float *y, int reps)
{
    double best_layer = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (int i = 0; i < N_LAYER_MATS; i++) {
            const matrix *w = &m->layers[r % LAYERS][i];
            cpu_matmul(pool, w->data, w->t, x, y, w->n_in, w->n_out, PP);
        }
        double dt = now() - t0;
        if (dt < best_layer) best_layer = dt;
    }
    double best_head = 1e30;
    for (int r = 0; r < 3; r++) {
        double t0 = now();
        cpu_matmul(pool, m->head.data, m->head.t, x, y, HIDDEN, VOCAB, 1);
        double dt = now() - t0;
        if (dt < best_head) best_head = dt;
    }
    return LAYERS * best_layer + best_head;
}

// Kernel throughput with the weights in cache (a 1024 x 2048 matrix, 1-4
// MB): how fast each decode kernel and the prefill tile compute, apart from
// memory. One thread.
static void kernel_table(void)
{
    const char *names[] = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q4_K", "Q5_K", "Q6_K"};
    enum { R = 1024, C = 2048, T = 64 };
    float *x = xmalloc((size_t)T * C * sizeof(float)); // (T, C)
    float *y = xmalloc((size_t)T * R * sizeof(float)); // (T, R)
    for (int64_t i = 0; i < (int64_t)T * C; i++) x[i] = frand();
    thread_pool *pool = thread_pool_init(1);
    printf("\n| format | decode GB/s in cache (1 thread) | prefill GFLOPS, 64 tokens (1 thread) |\n|---|---|---|\n");
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        const dtype t = (dtype)dtype_from_name(names[k]);
        const int64_t rb = dtype_row_bytes(t, C);
        uint8_t *w = xmalloc((size_t)(rb * R));
        if (quant_can_quantize(t)) {
            matrix m = make_matrix(t, (shape){"k", R, C}, R);
            memcpy(w, m.data, (size_t)(rb * R));
            free(m.data);
        } else {
            // Types we cannot quantize to: random blocks with a sane fp16 scale
            // (and min) in front, which is where these layouts keep them.
            for (int64_t i = 0; i < rb * R; i++) w[i] = (uint8_t)(frand() * 127 + 128);
            const int64_t bb = dtype_block_bytes(t);
            for (int64_t b = 0; b < rb * R / bb; b++) {
                uint16_t h[2] = {f32_to_fp16(0.01f), f32_to_fp16(0.001f)};
                memcpy(w + b * bb, h, t == DTYPE_Q5_0 ? 2 : 4);
            }
        }
        double best = 1e30, bestp = 1e30;
        for (int r = 0; r < 50; r++) {
            double t0 = now();
            cpu_matmul(pool, w, t, x, y, C, R, 1);
            double dt = now() - t0;
            if (dt < best) best = dt;
        }
        for (int r = 0; r < 5; r++) {
            double t0 = now();
            cpu_matmul(pool, w, t, x, y, C, R, T);
            double dt = now() - t0;
            if (dt < bestp) bestp = dt;
        }
        printf("| %s | %.1f | %.0f |\n", names[k], rb * R / best / 1e9, 2.0 * R * C * T / bestp / 1e9);
        free(w);
    }
    thread_pool_free(pool);
    free(x);
    free(y);
}

static int parse_list(const char *s, char out[][16], int max)
{
    int n = 0;
    while (*s && n < max) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len >= 16) len = 15;
        memcpy(out[n], s, len);
        out[n][len] = 0;
        n++;
        if (!e) break;
        s = e + 1;
    }
    return n;
}

int main(int argc, char **argv)
{
    char types[16][16], threads_s[8][16];
    int n_types = parse_list("F16,BF16,Q8_0,Q4_K,Q4_0,Q6_K", types, 16);
    int n_threads = parse_list("1,2", threads_s, 8);
    int reps = 10;
    int prefill = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--types") && i + 1 < argc) n_types = parse_list(argv[++i], types, 16);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) n_threads = parse_list(argv[++i], threads_s, 8);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]) > 0 ? atoi(argv[i]) : 1;
        else if (!strcmp(argv[i], "--no-prefill")) prefill = 0;
        else if (!strcmp(argv[i], "--kernels")) {
            printf("kernels: %s\n", cpu_matmul_kernel_name());
            kernel_table();
            return 0;
        }
        else {
            fprintf(stderr, "usage: %s [--threads 1,2] [--types F16,...] [--reps N] [--no-prefill]\n", argv[0]);
            return 2;
        }
    }

    float *x = xmalloc((size_t)PP * FFN * sizeof(float));           // (PP, max n_in) activations
    float *y = xmalloc(((size_t)PP * FFN + VOCAB) * sizeof(float)); // (PP, max n_out) or the logits
    for (int64_t i = 0; i < (int64_t)PP * FFN; i++) x[i] = frand();

    printf("kernels: %s\n", cpu_matmul_kernel_name());
    double bw[8];
    for (int ti = 0; ti < n_threads; ti++) {
        thread_pool *pool = thread_pool_init(atoi(threads_s[ti]));
        bw[ti] = measure_bandwidth(pool, 5);
        printf("read bandwidth, %s thread(s): %.1f GB/s (best of 5, 1 GiB)\n", threads_s[ti], bw[ti]);
        thread_pool_free(pool);
    }
    printf("\n| format | threads | weights MB | bits/w | decode ms | decode tok/s | decode GB/s | %% of BW | roofline tok/s | prefill s (512) | prefill tok/s |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
    fflush(stdout);
    for (int k = 0; k < n_types; k++) {
        int id = dtype_from_name(types[k]);
        if (id < 0) {
            fprintf(stderr, "unknown type %s\n", types[k]);
            return 2;
        }
        model m;
        model_init(&m, (dtype)id);
        const double params = (double)LAYERS * (2.0 * HIDDEN * HIDDEN + 2.0 * KV * HIDDEN + 3.0 * FFN * HIDDEN) +
                              (double)VOCAB * HIDDEN;
        for (int ti = 0; ti < n_threads; ti++) {
            thread_pool *pool = thread_pool_init(atoi(threads_s[ti]));
            decode_token(pool, &m, x, y); // warm up: page in, grow the scratch
            double best = 1e30;
            for (int r = 0; r < reps; r++) {
                double dt = decode_token(pool, &m, x, y);
                if (dt < best) best = dt;
            }
            const double pbest = prefill ? prefill_batch(pool, &m, x, y, reps) : 0;
            const double gbs = m.bytes / best / 1e9;
            printf("| %s | %s | %.0f | %.2f | %.2f | %.1f | %.1f | %.0f%% | %.1f |", types[k], threads_s[ti],
                   m.bytes / 1e6, m.bytes * 8.0 / params, best * 1e3, 1.0 / best, gbs, 100.0 * gbs / bw[ti],
                   bw[ti] * 1e9 / m.bytes);
            if (prefill) printf(" %.2f | %.1f |\n", pbest, PP / pbest);
            else printf(" - | - |\n");
            fflush(stdout);
            thread_pool_free(pool);
        }
        model_free(&m);
    }
    free(x);
    free(y);
    return 0;
}
