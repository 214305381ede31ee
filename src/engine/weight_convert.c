#include "engine/weight_convert.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/quant.h"

// Source bytes converted between two releases of the source pages.
#define WEIGHT_CONVERT_CHUNK ((int64_t)8 << 20)

rs_status weight_converter_init(weight_converter *c, int n_threads, int64_t max_in, rs_error *err)
{
    memset(c, 0, sizeof *c);
    c->n_threads = n_threads > 0 ? n_threads : 1;
    c->max_in = max_in;
    c->scratch = malloc((size_t)c->n_threads * 2 * (size_t)max_in * sizeof(float));
    if (!c->scratch) return rs_fail(err, RS_ERR_RUNTIME, "out of memory for conversion scratch");
    return RS_OK;
}

void weight_converter_free(weight_converter *c)
{
    if (!c) return;
    free(c->scratch);
    c->scratch = NULL;
}

rs_status convert_row_to_f32(dtype t, const void *src, float *dst, int64_t n, rs_error *err)
{
    switch (t) {
    case DTYPE_F32:
        memcpy(dst, src, (size_t)n * sizeof(float));
        return RS_OK;
    case DTYPE_F64:
        for (int64_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, (const uint8_t *)src + 8 * i, 8);
            dst[i] = (float)d;
        }
        return RS_OK;
    case DTYPE_BF16:
        // bf16 is the top half of an f32: a shift, vectorized by the compiler.
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, (const uint8_t *)src + 2 * i, 2);
            uint32_t u = (uint32_t)h << 16;
            memcpy(&dst[i], &u, 4);
        }
        return RS_OK;
    case DTYPE_F16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, (const uint8_t *)src + 2 * i, 2);
            dst[i] = fp16_to_f32(h);
        }
        return RS_OK;
    default:
        if (!quant_supported(t) || n % dtype_block_elems(t) != 0)
            return rs_fail(err, RS_ERR_INPUT, "type %s cannot be read by the engine", dtype_name(t));
        quant_dequantize_row(t, src, dst, n);
        return RS_OK;
    }
}

// Work shared by the conversion tasks of one tensor.
typedef struct convert_job {
    weight_converter *c;
    dtype from, to;
    const uint8_t *src;
    uint8_t *dst;
    int64_t n_in, n_out, src_row, dst_row, rows_per_task;
    int64_t row_begin, row_end; // the chunk of rows being converted
    double *err2, *ref2; // (n_tasks) squared error and reference, summed per task
    bool measure;        // compute the round-trip error (costs a dequantization per row)
    int failed;
} convert_job;

static void convert_task(void *arg, int task, int thread)
{
    convert_job *j = arg;
    float *row = j->c->scratch + (size_t)thread * 2 * (size_t)j->c->max_in; // (n_in)
    float *back = row + j->c->max_in;                                      // (n_in)
    int64_t r0 = j->row_begin + (int64_t)task * j->rows_per_task;
    int64_t r1 = r0 + j->rows_per_task < j->row_end ? r0 + j->rows_per_task : j->row_end;
    double e2 = 0, s2 = 0;
    for (int64_t r = r0; r < r1; r++) {
        if (convert_row_to_f32(j->from, j->src + r * j->src_row, row, j->n_in, NULL) != RS_OK) {
            j->failed = 1;
            return;
        }
        uint8_t *d = j->dst + r * j->dst_row;
        quant_quantize_row(j->to, row, d, j->n_in);
        if (!j->measure) continue;
        convert_row_to_f32(j->to, d, back, j->n_in, NULL);
        for (int64_t i = 0; i < j->n_in; i++) {
            double diff = (double)back[i] - (double)row[i];
            e2 += diff * diff;
            s2 += (double)row[i] * (double)row[i];
        }
    }
    j->err2[task] = e2;
    j->ref2[task] = s2;
}

rs_status weight_convert(weight_converter *c, thread_pool *pool, dtype from, const void *src,
                         dtype to, int64_t n_in, int64_t n_out, void **dst, uint64_t *dst_bytes,
                         double *rel_rms, rs_error *err)
{
    *dst = NULL;
    if (rel_rms) *rel_rms = 0;
    int64_t src_row = dtype_row_bytes(from, n_in), dst_row = dtype_row_bytes(to, n_in);
    if (src_row < 0 || dst_row < 0 || n_in > c->max_in)
        return rs_fail(err, RS_ERR_INPUT, "rows of %lld cannot convert from %s to %s",
                       (long long)n_in, dtype_name(from), dtype_name(to));
    int64_t bytes = dtype_tensor_bytes(to, n_in, n_in * n_out);
    if (bytes < 0) return rs_fail(err, RS_ERR_INPUT, "tensor too large to convert");
    size_t alloc = ((size_t)bytes + 63) & ~(size_t)63;
    uint8_t *out = aligned_alloc(64, alloc ? alloc : 64);
    if (!out)
        return rs_fail(err, RS_ERR_RUNTIME, "out of memory converting to %s (%lld bytes)",
                       dtype_name(to), (long long)bytes);
    // Convert in chunks of about WEIGHT_CONVERT_CHUNK source bytes and drop
    // each chunk's source pages once it is done: otherwise the whole source
    // of a large tensor (a 136M-weight embedding is 272 MB of bf16) stays
    // resident beside its converted copy, and the load peaks above the
    // plan. Enough tasks per chunk to balance uneven threads, few enough to
    // keep the per-task sums small.
    int64_t chunk_rows = WEIGHT_CONVERT_CHUNK / src_row;
    if (chunk_rows < 1) chunk_rows = 1;
    int n_tasks = c->n_threads * 8;
    if (n_tasks > chunk_rows) n_tasks = (int)chunk_rows;
    if (n_tasks > n_out) n_tasks = (int)n_out;
    if (n_tasks < 1) n_tasks = 1;
    double *sums = calloc((size_t)n_tasks * 2, sizeof *sums);
    if (!sums) {
        free(out);
        return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
    }
    convert_job j = {.c = c,
                     .from = from,
                     .to = to,
                     .src = src,
                     .dst = out,
                     .n_in = n_in,
                     .n_out = n_out,
                     .src_row = src_row,
                     .dst_row = dst_row,
                     .err2 = sums,
                     .ref2 = sums + n_tasks,
                     .measure = rel_rms != NULL};
    double e2 = 0, s2 = 0;
    for (int64_t r = 0; r < n_out && !j.failed; r += chunk_rows) {
        j.row_begin = r;
        j.row_end = r + chunk_rows < n_out ? r + chunk_rows : n_out;
        j.rows_per_task = (j.row_end - j.row_begin + n_tasks - 1) / n_tasks;
        int tasks = (int)((j.row_end - j.row_begin + j.rows_per_task - 1) / j.rows_per_task);
        memset(sums, 0, (size_t)n_tasks * 2 * sizeof *sums);
        thread_pool_run(pool, convert_task, &j, tasks);
        for (int t = 0; t < tasks; t++) {
            e2 += j.err2[t];
            s2 += j.ref2[t];
        }
        weight_convert_release_source(j.src + j.row_begin * src_row,
                                      (uint64_t)((j.row_end - j.row_begin) * src_row));
    }
    free(sums);
    if (j.failed) {
        free(out);
        return rs_fail(err, RS_ERR_INPUT, "type %s cannot be read by the engine",
                       dtype_name(from));
    }
    if (rel_rms) *rel_rms = s2 > 0 ? sqrt(e2 / s2) : 0;
    *dst = out;
    *dst_bytes = (uint64_t)bytes;
    return RS_OK;
}

void weight_convert_release_source(const void *data, uint64_t nbytes)
{
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) return;
    uintptr_t a = ((uintptr_t)data + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    uintptr_t b = ((uintptr_t)data + nbytes) & ~((uintptr_t)page - 1);
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
}
