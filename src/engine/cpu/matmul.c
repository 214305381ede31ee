#include "engine/cpu/matmul.h"

#include "engine/quant.h"

// y = x W^T. Rows of W are split across the pool's threads; each task owns
// a contiguous range of output rows for every token, so no two threads
// write the same y element.

typedef struct {
    const void *w; // (n_out, n_in) in type wt
    dtype wt;
    const float *x; // (n_tok, n_in)
    float *y;       // (n_tok, n_out)
    int64_t n_in, n_out, n_tok;
    int64_t row_bytes;
    int64_t rows_per_task;
} matmul_job;

// The portable kernel: dequantize a row a chunk at a time (the chunk lives on
// the stack) and take float dot products with every token.
static void matmul_task_portable(void *arg, int task, int thread)
{
    (void)thread;
    const matmul_job *job = arg;
    enum { CHUNK = 256 };
    float buf[CHUNK]; // one dequantized chunk of a weight row
    const int64_t r0 = (int64_t)task * job->rows_per_task;
    const int64_t r1 = r0 + job->rows_per_task < job->n_out ? r0 + job->rows_per_task : job->n_out;
    for (int64_t r = r0; r < r1; r++) {
        const char *row = (const char *)job->w + r * job->row_bytes;
        for (int64_t t = 0; t < job->n_tok; t++) job->y[t * job->n_out + r] = 0.0f;
        for (int64_t c0 = 0; c0 < job->n_in; c0 += CHUNK) {
            const int64_t len = job->n_in - c0 < CHUNK ? job->n_in - c0 : CHUNK;
            quant_dequantize_row(job->wt, row + dtype_row_bytes(job->wt, c0), buf, len);
            for (int64_t t = 0; t < job->n_tok; t++) {
                const float *xt = job->x + t * job->n_in + c0;
                float s = 0.0f;
                for (int64_t i = 0; i < len; i++) s += buf[i] * xt[i];
                job->y[t * job->n_out + r] += s;
            }
        }
    }
}

void cpu_matmul(thread_pool *pool, const void *w, dtype wt, const float *x, float *y, int64_t n_in,
                int64_t n_out, int64_t n_tok)
{
    if (n_out <= 0 || n_tok <= 0) return;
    matmul_job job = {
        .w = w, .wt = wt, .x = x, .y = y, .n_in = n_in, .n_out = n_out, .n_tok = n_tok,
        .row_bytes = dtype_row_bytes(wt, n_in),
    };
    const int n_threads = thread_pool_size(pool);
    int64_t n_tasks = (int64_t)n_threads * 8;
    if (n_tasks > n_out) n_tasks = n_out;
    job.rows_per_task = (n_out + n_tasks - 1) / n_tasks;
    n_tasks = (n_out + job.rows_per_task - 1) / job.rows_per_task;
    thread_pool_run(pool, matmul_task_portable, &job, (int)n_tasks);
}
