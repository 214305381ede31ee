// Decode and prefill speed of the engine on one model, with the numbers the
// CUDA report needs: tokens/s (median of reps), the bytes read per token,
// the GPU memory the plan counts beside what was allocated and what
// cudaMemGetInfo saw, and, for the comparison with transformers, the prompt,
// the prompt's last logits and the greedy continuation as raw files.
//
//   cuda_bench MODEL PRECISION DEVICE GPU_LAYERS N_PROMPT N_DECODE REPS [OUT_PREFIX]
//
// DEVICE is cpu, cuda or cuda:N; GPU_LAYERS -1 for all. With OUT_PREFIX it
// writes PREFIX.prompt (int32), PREFIX.logits (f32, n_vocab) and
// PREFIX.tokens (int32, N_DECODE greedy ids). One JSON line on stdout.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"
#include "engine/engine_gpu.h"
#include "model/model.h"
#include "plan/memory.h"
#include "util/argmax.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}


static void write_file(const char *prefix, const char *ext, const void *p, size_t bytes)
{
    char path[1024];
    snprintf(path, sizeof path, "%s.%s", prefix, ext);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, bytes, f) != bytes) fprintf(stderr, "cuda_bench: cannot write %s\n", path);
    if (f) fclose(f);
}

int main(int argc, char **argv)
{
    if (argc < 8) {
        fprintf(stderr, "usage: cuda_bench MODEL PRECISION DEVICE GPU_LAYERS N_PROMPT N_DECODE REPS [OUT_PREFIX]\n");
        return 2;
    }
    const char *path = argv[1], *prec = argv[2], *device = argv[3];
    const int64_t gpu_layers = atoll(argv[4]), n_prompt = atoll(argv[5]), n_decode = atoll(argv[6]);
    const int reps = atoi(argv[7]);
    const char *prefix = argc > 8 ? argv[8] : NULL;
    rs_error err;
    model_desc *m = NULL;
    if (model_open(path, &m, &err) != RS_OK) {
        fprintf(stderr, "cuda_bench: %s\n", err.msg);
        return 1;
    }
    engine_options o = engine_default_options();
    if (plan_precision_parse(prec, &o.precision, &err) != RS_OK) {
        fprintf(stderr, "cuda_bench: %s\n", err.msg);
        return 1;
    }
    o.device = device;
    o.n_gpu_layers = gpu_layers;
    o.n_ctx = (n_prompt + n_decode + 255) / 256 * 256;
    o.n_batch = 512;
    double t0 = now();
    engine *e = NULL;
    if (engine_load(m, &o, &e, &err) != RS_OK) {
        fprintf(stderr, "cuda_bench: %s\n", err.msg);
        return 1;
    }
    const double t_load = now() - t0;
    const int64_t V = engine_n_vocab(e);
    int32_t *prompt = malloc((size_t)n_prompt * sizeof(int32_t));
    int32_t *gen = malloc((size_t)(n_decode > 0 ? n_decode : 1) * sizeof(int32_t));
    // CUDA_BENCH_SEED: another random prompt (the greedy test takes several).
    uint64_t seed = getenv("CUDA_BENCH_SEED") ? strtoull(getenv("CUDA_BENCH_SEED"), NULL, 10) : 12345;
    const int64_t id_range = V < 32000 ? V : 32000;
    for (int64_t i = 0; i < n_prompt; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        prompt[i] = (int32_t)((seed >> 33) % (uint64_t)id_range);
    }
    double *pre = calloc((size_t)reps, sizeof(double)), *dec = calloc((size_t)reps, sizeof(double));
    double *dec_engine = calloc((size_t)reps, sizeof(double));
    for (int r = 0; r < reps; r++) {
        engine_rewind(e, 0);
        double a = now();
        // CUDA_BENCH_STEPWISE=1: the prompt one token at a time through the
        // decode path (fp32 activations), for the greedy comparison where
        // the prefill's bf16 activations would be the larger error.
        const bool stepwise = getenv("CUDA_BENCH_STEPWISE") && atoi(getenv("CUDA_BENCH_STEPWISE"));
        if (engine_prefill(e, prompt, stepwise ? 1 : n_prompt, NULL, &err) != RS_OK) {
            fprintf(stderr, "cuda_bench: %s\n", err.msg);
            return 1;
        }
        for (int64_t i = 1; stepwise && i < n_prompt; i++) {
            if (engine_decode(e, prompt[i], &err) != RS_OK) {
                fprintf(stderr, "cuda_bench: %s\n", err.msg);
                return 1;
            }
        }
        double b = now();
        if (r == 0 && prefix) {
            write_file(prefix, "prompt", prompt, (size_t)n_prompt * 4);
            write_file(prefix, "logits", engine_logits(e), (size_t)V * 4);
        }
        // in_decode: the time inside engine_decode alone, without this
        // loop's argmax over the vocabulary (llama-bench's tg measures so).
        double in_decode = 0;
        for (int64_t i = 0; i < n_decode; i++) {
            gen[i] = (int32_t)argmax_f32(engine_logits(e), V);
            const double d0 = now();
            if (i + 1 < n_decode && engine_decode(e, gen[i], &err) != RS_OK) {
                fprintf(stderr, "cuda_bench: %s\n", err.msg);
                return 1;
            }
            in_decode += now() - d0;
        }
        double c = now();
        if (r == 0 && prefix) write_file(prefix, "tokens", gen, (size_t)n_decode * 4);
        pre[r] = (double)n_prompt / (b - a);
        dec[r] = n_decode > 1 ? (double)(n_decode - 1) / (c - b) : 0;
        dec_engine[r] = n_decode > 1 ? (double)(n_decode - 1) / in_decode : 0;
    }
    // The first rep captures the CUDA graph and warms the caches: medians
    // over the others when there are any.
    const int skip = reps > 1 ? 1 : 0;
    char decs[512] = "";
    for (int r = 0; r < reps; r++)
        snprintf(decs + strlen(decs), sizeof decs - strlen(decs), "%s%.1f", r ? "," : "", dec[r]);
    const double pre_med = median(pre + skip, reps - skip), dec_med = median(dec + skip, reps - skip);
    const double dec_engine_med = median(dec_engine + skip, reps - skip);

    engine_memory mem;
    engine_memory_usage(e, &mem);
    // Bytes read per decoded token: every weight but the embedding table
    // (one row of it), unless it is also the head, plus the KV cache up to the
    // middle of the decode.
    plan_weights pw;
    uint64_t per_token = 0;
    if (plan_weights_init(&pw, m, o.precision, &err) == RS_OK) {
        per_token = pw.total - (pw.output_head_tied ? 0 : pw.embd);
        plan_weights_free(&pw);
    }
    const int64_t ctx_mid = n_prompt + n_decode / 2;
    per_token += plan_kv_bytes(m, ctx_mid, 1, DTYPE_F16);
    printf("{\"model\":\"%s\",\"precision\":\"%s\",\"device\":\"%s\",\"gpu_layers\":%lld,"
           "\"weight_type\":\"%s\",\"n_prompt\":%lld,\"n_decode\":%lld,\"load_s\":%.2f,"
           "\"prefill_tps\":%.1f,\"decode_tps\":%.2f,\"decode_runs\":[%s],"
           "\"decode_engine_tps\":%.2f,\"bytes_per_token\":%llu,\"decode_gbs\":%.1f",
           path, prec, device, (long long)gpu_layers, dtype_name(engine_weight_type(e)),
           (long long)n_prompt, (long long)n_decode, t_load, pre_med, dec_med, decs,
           dec_engine_med, (unsigned long long)per_token, (double)per_token * dec_med / 1e9);
    engine_gpu_info gi;
    if (engine_on_gpu(e, &gi)) {
        // The load's cudaMemGetInfo delta comes after the CUDA context, so
        // of the plan's overhead only cuBLAS's workspace belongs beside it.
        const uint64_t planned =
            gi.plan_weights + gi.plan_kv + gi.plan_compute + PLAN_CUBLAS_WORKSPACE_BYTES;
        const uint64_t allocated = gi.weights + gi.kv + gi.compute;
        const uint64_t measured = gi.free_before - gi.free_after;
        printf(",\"gpu\":\"%s\",\"n_gpu_layers\":%lld,\"plan_weights\":%llu,\"plan_kv\":%llu,"
               "\"plan_compute\":%llu,\"alloc_weights\":%llu,\"alloc_kv\":%llu,"
               "\"alloc_compute\":%llu,\"planned\":%llu,\"measured_memgetinfo\":%llu,"
               "\"plan_vs_measured_pct\":%.2f,\"plan_overhead\":%llu,\"gpu_used_total\":%llu",
               gi.name, (long long)gi.n_gpu_layers, (unsigned long long)gi.plan_weights,
               (unsigned long long)gi.plan_kv, (unsigned long long)gi.plan_compute,
               (unsigned long long)gi.weights, (unsigned long long)gi.kv,
               (unsigned long long)gi.compute, (unsigned long long)planned,
               (unsigned long long)measured,
               100.0 * ((double)measured - (double)planned) / (double)planned,
               (unsigned long long)gi.plan_overhead, (unsigned long long)(gi.total - gi.free_after));
        (void)allocated;
    }
    printf("}\n");
    engine_free(e);
    model_free(m);
    free(prompt);
    free(gen);
    free(pre);
    free(dec);
    free(dec_engine);
    return 0;
}
