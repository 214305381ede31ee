#include "engine/cpu/matmul.h"

#include <math.h>
#include <stdlib.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <string.h>

#include "engine/cpu/matmul_kernels.h"
#include "engine/quant.h"
#include "engine/quant_blocks.h"

// y = x W^T in two shapes.
//
// Decode (few tokens): the weights are read once per token, so the work is
// bound by memory bandwidth; the activations are quantized once per call to
// the weight type's 8-bit format and each thread takes a contiguous range of
// rows, computing integer dot products straight from the stored blocks.
//
// Prefill (many tokens): each task takes a block of MM_ROWS rows, expands a
// chunk of MM_KC columns of them to f32 once (into per-thread scratch, where
// it stays in L1/L2) and multiplies that chunk with every token through a
// register-tiled f32 kernel, so every weight byte loaded from memory serves
// all the tokens of the call. Big row blocks keep the activations (read once
// per block) from costing as much memory traffic as the weights.

enum {
    MM_PREFILL_MIN_TOK = 4, // from this many tokens on, the tiled f32 path wins
    MM_ROWS = 64,           // most rows per prefill task (fewer for small matrices)
    MM_KC = 1024,           // columns expanded at a time (a multiple of 256)
};

typedef struct {
    const matmul_kernels *k;
    const void *w; // (n_out, n_in) of type wt
    dtype wt;
    const float *x; // (n_tok, n_in)
    float *y;       // (n_tok, n_out)
    int64_t n_in, n_out, n_tok;
    int64_t row_bytes;
    // Decode: activations in the kernel's format, (n_tok, xq_row_bytes).
    const uint8_t *xq;
    int64_t xq_row_bytes;
    // Per-thread scratch: thread i owns scratch + i * scratch_floats.
    float *scratch;
    int64_t scratch_floats;
    int64_t rows_per_task;
} matmul_job;

// ---------------------------------------------------------------- portable

static float dot_f32_portable(const float *a, const float *b, int64_t n)
{
    // Four partial sums, so the compiler may vectorize without reassociation.
    float s[4] = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; j++) s[j] += a[i + j] * b[i + j];
    for (; i < n; i++) s[0] += a[i] * b[i];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

static void gemm_portable(const float *w, int64_t ldw, int64_t m, const float *x, int64_t ldx,
                          int64_t n_tok, int64_t k, float *y, int64_t ldy, bool accumulate)
{
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t r = 0; r < m; r++) {
            float s = dot_f32_portable(w + r * ldw, x + t * ldx, k);
            y[t * ldy + r] = accumulate ? y[t * ldy + r] + s : s;
        }
}

static void f16_to_f32_portable(const uint16_t *src, float *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++) dst[i] = fp16_to_f32(src[i]);
}

static void bf16_to_f32_portable(const uint16_t *src, float *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++) dst[i] = bf16_to_f32(src[i]);
}

void matmul_quantize_q8_portable(const float *x, act_q8 *y, int64_t n)
{
    for (int64_t b = 0; b < n / 32; b++, x += 32) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127.0f;
        const float id = d ? 1.0f / d : 0.0f;
        int32_t sum = 0;
        for (int j = 0; j < 32; j++) {
            y[b].qs[j] = (int8_t)roundf(x[j] * id);
            sum += y[b].qs[j];
        }
        y[b].d = d;
        y[b].sum = sum;
    }
}

const matmul_kernels *matmul_kernels_portable(void)
{
    static const matmul_kernels k = {
        .name = "portable",
        .gemm = gemm_portable,
        .dot_f32 = dot_f32_portable,
        .f16_to_f32 = f16_to_f32_portable,
        .bf16_to_f32 = bf16_to_f32_portable,
        .quantize_q8 = matmul_quantize_q8_portable,
    };
    return &k; // every rows[] entry NULL: dequantize + dot_f32, act ACT_F32
}

// ---------------------------------------------------------------- dispatch

static bool cpu_has_avx2(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    // clang 14's __builtin_cpu_supports has no "f16c": read CPUID leaf 1
    // (ECX bit 29) directly, which both compilers provide.
    unsigned eax, ebx, ecx, edx;
    bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 29));
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
#else
    return false;
#endif
}

static bool cpu_has_avx512(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return cpu_has_avx2() && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512dq"); // the tile reduces with vextractf32x8
#else
    return false;
#endif
}

static const matmul_kernels *best;

void matmul_kernels_select(const matmul_kernels *k)
{
    best = k;
}

const matmul_kernels *matmul_kernels_best(void)
{
    if (best) return best;
    const matmul_kernels *k = matmul_kernels_portable();
    const matmul_kernels *avx2 = cpu_has_avx2() ? matmul_kernels_avx2() : NULL;
    const matmul_kernels *avx512 = cpu_has_avx512() ? matmul_kernels_avx512() : NULL;
    if (avx2) k = avx2;
    if (avx512) k = avx512;
    const char *want = getenv("RIGHTSIZE_KERNELS");
    if (want && strcmp(want, "portable") == 0) k = matmul_kernels_portable();
    if (want && strcmp(want, "avx2") == 0 && avx2) k = avx2;
    best = k;
    return best;
}

// ---------------------------------------------------------------- decode

// Rows with no kernel at this ISA: dequantize a chunk at a time and dot.
static void rows_generic(const matmul_job *job, const uint8_t *w, const float *x, float *y,
                         int64_t n_rows, float *buf /* (MM_KC) */)
{
    for (int64_t r = 0; r < n_rows; r++) {
        const uint8_t *row = w + r * job->row_bytes;
        float s = 0.0f;
        for (int64_t c0 = 0; c0 < job->n_in; c0 += MM_KC) {
            const int64_t len = job->n_in - c0 < MM_KC ? job->n_in - c0 : MM_KC;
            quant_dequantize_row(job->wt, row + dtype_row_bytes(job->wt, c0), buf, len);
            s += job->k->dot_f32(buf, x + c0, len);
        }
        y[r] = s;
    }
}

static void decode_task(void *arg, int task, int thread)
{
    const matmul_job *job = arg;
    const int64_t r0 = (int64_t)task * job->rows_per_task;
    const int64_t r1 = r0 + job->rows_per_task < job->n_out ? r0 + job->rows_per_task : job->n_out;
    const uint8_t *w = (const uint8_t *)job->w + r0 * job->row_bytes;
    const matmul_rows_fn fn = job->k->rows[job->wt];
    for (int64_t t = 0; t < job->n_tok; t++) {
        float *y = job->y + t * job->n_out + r0;
        if (fn && job->xq)
            fn(w, job->row_bytes, job->xq + t * job->xq_row_bytes, y, job->n_in, r1 - r0);
        else if (fn) // an ACT_F32 kernel
            fn(w, job->row_bytes, job->x + t * job->n_in, y, job->n_in, r1 - r0);
        else
            rows_generic(job, w, job->x + t * job->n_in, y, r1 - r0,
                         job->scratch + thread * job->scratch_floats);
    }
}

// ---------------------------------------------------------------- prefill

// Expands rows [r0, r0+m) x columns [c0, c0+kc) of the weights to f32.
static void expand_rows(const matmul_job *job, int64_t r0, int64_t m, int64_t c0, int64_t kc,
                        float *dst /* (m, kc) */)
{
    const int64_t col_off = dtype_row_bytes(job->wt, c0);
    for (int64_t r = 0; r < m; r++) {
        const uint8_t *src = (const uint8_t *)job->w + (r0 + r) * job->row_bytes + col_off;
        switch (job->wt) {
        case DTYPE_F16: job->k->f16_to_f32((const uint16_t *)src, dst + r * kc, kc); break;
        case DTYPE_BF16: job->k->bf16_to_f32((const uint16_t *)src, dst + r * kc, kc); break;
        default:
            if (job->k->expand[job->wt])
                job->k->expand[job->wt](src, dst + r * kc, kc);
            else
                quant_dequantize_row(job->wt, src, dst + r * kc, kc);
            break;
        }
    }
}

static void prefill_task(void *arg, int task, int thread)
{
    const matmul_job *job = arg;
    const int64_t r0 = (int64_t)task * job->rows_per_task;
    const int64_t m = r0 + job->rows_per_task < job->n_out ? job->rows_per_task : job->n_out - r0;
    float *buf = job->scratch + thread * job->scratch_floats; // (rows_per_task, MM_KC)
    for (int64_t c0 = 0; c0 < job->n_in; c0 += MM_KC) {
        const int64_t kc = job->n_in - c0 < MM_KC ? job->n_in - c0 : MM_KC;
        const float *w;
        int64_t ldw;
        if (job->wt == DTYPE_F32) {
            w = (const float *)job->w + r0 * job->n_in + c0; // used in place
            ldw = job->n_in;
        } else {
            expand_rows(job, r0, m, c0, kc, buf);
            w = buf;
            ldw = kc;
        }
        job->k->gemm(w, ldw, m, job->x + c0, job->n_in, job->n_tok, kc, job->y + r0, job->n_out,
                     c0 > 0);
    }
}

// Without scratch memory: dequantize a chunk at a time onto the stack.
static void nomem_task(void *arg, int task, int thread)
{
    (void)thread;
    const matmul_job *job = arg;
    float buf[MM_KC]; // one dequantized chunk of a weight row
    const int64_t r0 = (int64_t)task * job->rows_per_task;
    const int64_t r1 = r0 + job->rows_per_task < job->n_out ? r0 + job->rows_per_task : job->n_out;
    for (int64_t t = 0; t < job->n_tok; t++)
        rows_generic(job, (const uint8_t *)job->w + r0 * job->row_bytes, job->x + t * job->n_in,
                     job->y + t * job->n_out + r0, r1 - r0, buf);
}

// ---------------------------------------------------------------- entry

static int64_t act_row_bytes(act_format f, int64_t n_in)
{
    switch (f) {
    case ACT_Q8: return n_in / 32 * (int64_t)sizeof(act_q8);
    case ACT_Q8_K: return n_in / QK_K * (int64_t)sizeof(block_q8_K);
    default: return 0;
    }
}

void cpu_matmul(thread_pool *pool, const void *w, dtype wt, const float *x, float *y, int64_t n_in,
                int64_t n_out, int64_t n_tok)
{
    if (n_out <= 0 || n_tok <= 0) return;
    if (!quant_supported(wt) || dtype_row_bytes(wt, n_in) <= 0) {
        // A caller's bug (loaders check types and row lengths): make it
        // visible in the output rather than read past the weights.
        for (int64_t i = 0; i < n_out * n_tok; i++) y[i] = NAN;
        return;
    }
    const int n_threads = thread_pool_size(pool);
    matmul_job job = {
        .k = matmul_kernels_best(), .w = w, .wt = wt, .x = x, .y = y,
        .n_in = n_in, .n_out = n_out, .n_tok = n_tok,
        .row_bytes = dtype_row_bytes(wt, n_in),
    };
    const bool prefill = n_tok >= MM_PREFILL_MIN_TOK;
    const act_format act = job.k->rows[wt] ? job.k->act[wt] : ACT_F32;
    if (!prefill) job.xq_row_bytes = act_row_bytes(act, n_in);
    if (prefill) {
        // Halve the row block until every thread has a few blocks to take.
        job.rows_per_task = MM_ROWS;
        while (job.rows_per_task > 8 && n_out / job.rows_per_task < (int64_t)n_threads * 4)
            job.rows_per_task /= 2;
    }
    job.scratch_floats = prefill ? job.rows_per_task * MM_KC : MM_KC;
    const size_t act_bytes = (size_t)(job.xq_row_bytes * n_tok);
    const size_t act_off = (act_bytes + 63) & ~(size_t)63;
    const size_t need = act_off + (size_t)job.scratch_floats * sizeof(float) * (size_t)n_threads;

    // The pool keeps its scratch between calls; without a pool (tests, tools)
    // a call allocates its own.
    void *own = NULL;
    uint8_t *mem = thread_pool_scratch(pool, need);
    if (!mem) mem = own = malloc(need);
    if (!mem) { // out of memory: the slow path that needs no scratch
        job.k = matmul_kernels_portable();
        job.rows_per_task = (n_out + n_threads - 1) / n_threads;
        thread_pool_run(pool, nomem_task, &job, (int)((n_out + job.rows_per_task - 1) / job.rows_per_task));
        return;
    }
    job.scratch = (float *)(mem + act_off);
    if (act != ACT_F32 && !prefill) {
        uint8_t *xq = mem;
        for (int64_t t = 0; t < n_tok; t++) {
            if (act == ACT_Q8)
                job.k->quantize_q8(x + t * n_in, (act_q8 *)(xq + t * job.xq_row_bytes), n_in);
            else
                quant_quantize_row_q8_K(x + t * n_in, xq + t * job.xq_row_bytes, n_in);
        }
        job.xq = xq;
    }

    int64_t n_tasks;
    if (prefill) {
        n_tasks = (n_out + job.rows_per_task - 1) / job.rows_per_task;
    } else {
        // Enough tasks that a thread the OS delays does not hold up the
        // others for long, but none under 16 rows.
        n_tasks = (int64_t)n_threads * 8;
        if (n_tasks > n_out / 16) n_tasks = n_out / 16 > 0 ? n_out / 16 : 1;
        job.rows_per_task = (n_out + n_tasks - 1) / n_tasks;
        n_tasks = (n_out + job.rows_per_task - 1) / job.rows_per_task;
    }
    thread_pool_run(pool, prefill ? prefill_task : decode_task, &job, (int)n_tasks);
    free(own);
}

bool cpu_matmul_quantizes_activations(dtype wt, int64_t n_tok)
{
    return n_tok < MM_PREFILL_MIN_TOK && matmul_kernels_best()->rows[wt] &&
           matmul_kernels_best()->act[wt] != ACT_F32;
}

const char *cpu_matmul_kernel_name(void)
{
    return matmul_kernels_best()->name;
}
