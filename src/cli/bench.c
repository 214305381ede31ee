// rightsize bench MODEL: measured against planned. Loads the model as the
// plan says, prefills a prompt of fixed token ids (512 by default) and
// decodes 128 more, then prints load time, prefill and decode tokens/s and
// peak resident memory beside the plan's prediction of each, with the error
// in percent. The measured decode speed calibrates the planner: the CPU's
// effective bandwidth goes into the per-machine measurement cache
// (hw_cache_store_cpu_bandwidth), so later plans predict from it.
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli/cli_args.h"
#include "cli/commands.h"
#include "cli/load_plan.h"
#include "engine/engine_gpu.h"
#include "plan/host.h"
#include "plan/memory.h"
#include "plan/speed.h"
#include "tok/tokenizer.h"
#include "util/clock.h"
#include "util/format.h"

// Below this many weight bytes read per token, decode is bound by the
// caches and per-token overheads, not by memory bandwidth: the measurement
// says nothing about the bandwidth and is not stored.
#define BENCH_MIN_CALIBRATION_BYTES (64ull << 20)

typedef struct bench_args {
    const char *model;
    load_plan_request load; // the load options; --ctx absent: prompt + gen
    int64_t n_prompt, n_gen;
    bool json, save, verbose;
} bench_args;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: rightsize bench MODEL [options]\n"
            "  MODEL              HF folder or GGUF file\n"
            "  --precision P      stored, fp32, bf16, fp16, int8, int4, or a GGUF type\n"
            "                     (default: the plan's pick for this machine)\n"
            "  --ctx N            context tokens (default: prompt + gen)\n"
            "  --prompt N         prefill tokens (default 512)\n"
            "  --gen N            decoded tokens (default 128)\n"
            "  --kv-type T        f16 (default), q8_0 or f32\n"
            "  --threads N        worker threads (default: one per core)\n"
            "  --device D         cpu (default), cuda or cuda:N\n"
            "  --gpu-layers N     with --device cuda: the first N blocks on the GPU (default: the plan's)\n"
            "  --split A,B        A blocks on GPU N (of --device cuda:N), B on GPU N+1, ...\n"
            "  --gpu-mem SIZE     with --device cuda: plan as if the GPU had at most SIZE free (10G)\n"
            "  --no-save          do not store the measured bandwidth for later plans\n"
            "  --json             one JSON object on stdout\n"
            "  --verbose          per-tensor conversion error while loading\n");
}

static int parse_args(int argc, char **argv, bench_args *a)
{
    memset(a, 0, sizeof *a);
    load_plan_request_init(&a->load, "bench");
    a->n_prompt = 512;
    a->n_gen = 128;
    a->save = true;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true, takes = true;
        rs_error err = {0};
        if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
            usage(stdout);
            return -1;
        } else if (load_plan_parse_option(&a->load, o, v, &ok, &err)) {
        } else if (strcmp(o, "--prompt") == 0)
            ok = cli_parse_int(v, 1, 1 << 20, &a->n_prompt);
        else if (strcmp(o, "--gen") == 0)
            ok = cli_parse_int(v, 1, 1 << 20, &a->n_gen);
        else {
            takes = false;
            if (strcmp(o, "--json") == 0)
                a->json = true;
            else if (strcmp(o, "--no-save") == 0)
                a->save = false;
            else if (strcmp(o, "--verbose") == 0 || strcmp(o, "-v") == 0)
                a->verbose = true;
            else if (cli_take_model("bench", o, &a->model) != 0)
                return 2;
        }
        if (!ok) return cli_bad_value("bench", o, v, &err);
        if (takes) i++;
    }
    if (!a->model) {
        fprintf(stderr, "rightsize bench: no MODEL given (rightsize bench --help)\n");
        return 2;
    }
    if (a->load.n_ctx > 0 && a->n_prompt + a->n_gen > a->load.n_ctx) {
        fprintf(stderr, "rightsize bench: --prompt %lld + --gen %lld do not fit --ctx %lld\n",
                (long long)a->n_prompt, (long long)a->n_gen, (long long)a->load.n_ctx);
        return 2;
    }
    a->load.model = a->model;
    return 0;
}

// Relative error of a measurement against its prediction, percent; NAN
// when there is no prediction.
static double err_pct(double measured, double planned)
{
    return planned > 0 ? 100.0 * (measured - planned) / planned : NAN;
}

typedef struct bench_result {
    double load_s;
    double prefill_tps, decode_tps;
    double plan_prefill_tps, plan_decode_tps;
    uint64_t peak_rss, base_rss;
    uint64_t load_peak_rss; // VmHWM right after loading (conversion scratch shows here)
    uint64_t tok_rss;       // resident growth while loading the tokenizer (its peak)
    bool has_tok;           // the model has a tokenizer, loaded as chat would
    uint64_t plan_total;    // the CPU device's planned total (after loading)
    uint64_t plan_load_peak; // the host's planned peak while loading (plan_host_load_peak)
    uint64_t rss_end;        // VmRSS after the run: what the process holds once loaded
    uint64_t plan_weights, plan_kv, plan_compute, plan_overhead;
    engine_memory mem;     // what the engine says it holds
    uint64_t decode_bytes; // bytes the speed model reads per decode step
    double bandwidth_gbs;  // decode_bytes x decode tok/s, effective
    double calibrated_gbs; // stored: effective / the planner's efficiency
    double calibrated_gflops; // stored: the CPU GFLOPS that predicts the prefill just measured
    double plan_bw_gbs;    // the effective bandwidth the prediction used
    bool plan_bw_measured; // from the measurement cache, not the per-core estimate
    bool saved;
    char save_note[800];
    plan_speed speed; // the prediction (its GPU parts' model times calibrate)
    int64_t n_batch;  // tokens per prefill chunk
    bool warmed;      // a GPU run: one pass of the same prompt before the timing
    double gpu_decode_factor, gpu_prefill_factor; // stored GPU calibration (0: none)
    int gpu_wclass;                               // the weight family it was stored for
    // The GPU shares (engine_gpu.h), when the engine runs blocks on GPUs.
    bool on_gpu;
    int n_gpu;
    engine_gpu_info gpus[ENGINE_GPU_MAX];
    uint64_t gpu_free_starts[ENGINE_GPU_MAX]; // NVML's free memory before the process (0: unknown)
    uint64_t gpu_free_ends[ENGINE_GPU_MAX];   // cudaMemGetInfo after the run (0: unknown)
    // NVML's figure for this process after the run (hw_nvml_process_gpu_memory),
    // known or why not.
    bool gpu_nvml_known[ENGINE_GPU_MAX];
    uint64_t gpu_nvml_proc[ENGINE_GPU_MAX];
    char gpu_nvml_note[ENGINE_GPU_MAX][160];
} bench_result;

// One GPU's figures, as the printers below read them.
typedef struct gpu_view {
    engine_gpu_info gpu;
    uint64_t gpu_free_start, gpu_free_end;
    bool nvml_known;
    uint64_t nvml_proc;
    const char *nvml_note;
} gpu_view;

// Measured GPU use: the engine's allocations as cudaMemGetInfo saw them from
// the CUDA context's creation to the end of the run (cuBLAS workspace and
// graphs included); the context itself: NVML's free memory before the
// process started on the GPU less the free memory once the context existed.
static uint64_t gpu_used(const gpu_view *r)
{
    return r->gpu_free_end && r->gpu.free_before > r->gpu_free_end
               ? r->gpu.free_before - r->gpu_free_end
               : 0;
}
static uint64_t gpu_context(const gpu_view *r)
{
    return r->gpu_free_start > r->gpu.free_before ? r->gpu_free_start - r->gpu.free_before : 0;
}

static void print_gpu_text(const gpu_view *r)
{
    char b1[32], b2[32];
    const engine_gpu_info *g = &r->gpu;
    const uint64_t plan_alloc = g->plan_weights + g->plan_kv + g->plan_compute;
    printf("GPU %d      %s: blocks %lld-%lld\n", g->device, g->name, (long long)g->layer_first,
           (long long)(g->layer_first + g->n_gpu_layers - 1));
    printf("                      measured      planned    error\n");
    printf("  weights       %10s  %11s  %+6.1f%%\n", format_bytes(b1, sizeof b1, g->weights),
           format_bytes(b2, sizeof b2, g->plan_weights),
           err_pct((double)g->weights, (double)g->plan_weights));
    printf("  KV cache      %10s  %11s  %+6.1f%%\n", format_bytes(b1, sizeof b1, g->kv),
           format_bytes(b2, sizeof b2, g->plan_kv), err_pct((double)g->kv, (double)g->plan_kv));
    printf("  compute       %10s  %11s  %+6.1f%%\n", format_bytes(b1, sizeof b1, g->compute),
           format_bytes(b2, sizeof b2, g->plan_compute),
           err_pct((double)g->compute, (double)g->plan_compute));
    printf("  in use        %10s  %11s  %+6.1f%%   (cudaMemGetInfo: context created -> end)\n",
           format_bytes(b1, sizeof b1, gpu_used(r)), format_bytes(b2, sizeof b2, plan_alloc),
           err_pct((double)gpu_used(r), (double)plan_alloc));
    printf("  context       %10s  %11s  %+6.1f%%   (NVML free before -> context created)\n",
           format_bytes(b1, sizeof b1, gpu_context(r)),
           format_bytes(b2, sizeof b2, g->plan_overhead),
           err_pct((double)gpu_context(r), (double)g->plan_overhead));
    printf("  total         %10s  %11s  %+6.1f%%\n",
           format_bytes(b1, sizeof b1, gpu_used(r) + gpu_context(r)),
           format_bytes(b2, sizeof b2, plan_alloc + g->plan_overhead),
           err_pct((double)(gpu_used(r) + gpu_context(r)), (double)(plan_alloc + g->plan_overhead)));
    if (r->nvml_known)
        printf("  NVML process  %10s  %11s  %+6.1f%%   (NVML's memory of this process)\n",
               format_bytes(b1, sizeof b1, r->nvml_proc),
               format_bytes(b2, sizeof b2, plan_alloc + g->plan_overhead),
               err_pct((double)r->nvml_proc, (double)(plan_alloc + g->plan_overhead)));
    else
        printf("  NVML process  unknown: %s\n", r->nvml_note);
}

static void add_gpu_json(cJSON *arr, const gpu_view *r)
{
    const engine_gpu_info *g = &r->gpu;
    cJSON *o = cJSON_CreateObject();
    if (!o) return;
    cJSON_AddItemToArray(arr, o);
    cJSON_AddNumberToObject(o, "device", g->device);
    cJSON_AddNumberToObject(o, "layer_first", (double)g->layer_first);
    cJSON_AddStringToObject(o, "name", g->name);
    cJSON_AddNumberToObject(o, "n_gpu_layers", (double)g->n_gpu_layers);
    cJSON *m = cJSON_AddObjectToObject(o, "measured");
    cJSON_AddNumberToObject(m, "weights_bytes", (double)g->weights);
    cJSON_AddNumberToObject(m, "kv_bytes", (double)g->kv);
    cJSON_AddNumberToObject(m, "compute_bytes", (double)g->compute);
    cJSON_AddNumberToObject(m, "in_use_bytes", (double)gpu_used(r));
    cJSON_AddNumberToObject(m, "context_bytes", (double)gpu_context(r));
    if (r->nvml_known) {
        cJSON_AddNumberToObject(m, "nvml_process_bytes", (double)r->nvml_proc);
    } else {
        cJSON_AddNullToObject(m, "nvml_process_bytes");
        cJSON_AddStringToObject(m, "nvml_process_note", r->nvml_note);
    }
    cJSON *p = cJSON_AddObjectToObject(o, "planned");
    cJSON_AddNumberToObject(p, "weights_bytes", (double)g->plan_weights);
    cJSON_AddNumberToObject(p, "kv_bytes", (double)g->plan_kv);
    cJSON_AddNumberToObject(p, "compute_bytes", (double)g->plan_compute);
    cJSON_AddNumberToObject(p, "overhead_bytes", (double)g->plan_overhead);
    const uint64_t plan_total = g->plan_weights + g->plan_kv + g->plan_compute + g->plan_overhead;
    cJSON_AddNumberToObject(p, "total_bytes", (double)plan_total);
    cJSON *e = cJSON_AddObjectToObject(o, "error_pct");
    double ep = err_pct((double)r->nvml_proc, (double)plan_total);
    if (r->nvml_known && !isnan(ep))
        cJSON_AddNumberToObject(e, "nvml_process", ep);
    else
        cJSON_AddNullToObject(e, "nvml_process");
}

static void print_text(const bench_args *a, const load_plan *lp, const bench_result *r)
{
    char b1[32], b2[32];
    const plan_row *row = &lp->plan->rows[lp->row];
    printf("model      %s\n", a->model);
    printf("loaded     %s (%s), %lld-token context, KV %s, %d threads\n",
           plan_precision_name(row->precision), dtype_name(engine_weight_type(lp->e)),
           (long long)engine_n_ctx(lp->e), dtype_name(lp->eo.kv_type), lp->hw.cpu_threads);
    printf("                      measured      planned    error\n");
    printf("load time        %9.2f s            -\n", r->load_s);
    printf("prefill %5lld   %9.1f tok/s %7.1f tok/s  %+6.1f%%\n", (long long)a->n_prompt,
           r->prefill_tps, r->plan_prefill_tps, err_pct(r->prefill_tps, r->plan_prefill_tps));
    printf("decode  %5lld   %9.1f tok/s %7.1f tok/s  %+6.1f%%\n", (long long)a->n_gen,
           r->decode_tps, r->plan_decode_tps, err_pct(r->decode_tps, r->plan_decode_tps));
    printf("peak memory     %10s  %11s  %+6.1f%%\n", format_bytes(b1, sizeof b1, r->peak_rss),
           format_bytes(b2, sizeof b2, r->plan_load_peak),
           err_pct((double)r->peak_rss, (double)r->plan_load_peak));
    if (r->on_gpu)
        printf("resident        %10s  %11s  %+6.1f%%   (after the run: the GPUs' weights given "
               "back)\n",
               format_bytes(b1, sizeof b1, r->rss_end), format_bytes(b2, sizeof b2, r->plan_total),
               err_pct((double)r->rss_end, (double)r->plan_total));
    printf("  weights       %10s",
           format_bytes(b1, sizeof b1, r->mem.weights - r->mem.weights_released));
    printf("  %11s\n", format_bytes(b2, sizeof b2, r->plan_weights));
    printf("  KV cache      %10s", format_bytes(b1, sizeof b1, r->mem.kv_cache));
    printf("  %11s\n", format_bytes(b2, sizeof b2, r->plan_kv));
    printf("  compute       %10s", format_bytes(b1, sizeof b1, r->mem.activations));
    printf("  %11s\n", format_bytes(b2, sizeof b2, r->plan_compute));
    printf("  process       %10s", format_bytes(b1, sizeof b1, r->base_rss));
    printf("  %11s   (resident before loading; planned: runtime overhead)\n",
           format_bytes(b2, sizeof b2, r->plan_overhead));
    if (r->has_tok)
        printf("  tokenizer     %10s                (peak growth while loading it)\n",
               format_bytes(b1, sizeof b1, r->tok_rss));
    else
        printf("  tokenizer     none                   (the model has none: not counted)\n");
    if (r->on_gpu) {
        bool calibrated = false;
        for (int i = 0; i < r->speed.n_parts; i++)
            calibrated |= r->speed.parts[i].calibrated;
        printf("planned    GPU model from %.0f GB/s effective for float weights (%s)%s\n",
               r->plan_bw_gbs, r->plan_bw_measured ? "measured copy bandwidth" : "spec sheet",
               calibrated ? ", calibrated by an earlier bench" : "");
        if (r->warmed) printf("timed      after one warm-up pass of the same prompt\n");
    } else {
        printf("planned    from %.1f GB/s effective (%s)\n", r->plan_bw_gbs,
               r->plan_bw_measured ? "measured on this machine, from the cache"
                                   : "estimated per core: never measured here");
    }
    printf("bandwidth  %.1f GB/s effective (%s read per token x %.1f tok/s)\n", r->bandwidth_gbs,
           format_bytes(b1, sizeof b1, r->decode_bytes), r->decode_tps);
    printf("           %s\n", r->save_note);
    for (int i = 0; i < r->n_gpu; i++) {
        gpu_view v = {r->gpus[i],           r->gpu_free_starts[i], r->gpu_free_ends[i],
                      r->gpu_nvml_known[i], r->gpu_nvml_proc[i],   r->gpu_nvml_note[i]};
        print_gpu_text(&v);
    }
}

static void print_json(const bench_args *a, const load_plan *lp, const bench_result *r)
{
    const plan_row *row = &lp->plan->rows[lp->row];
    cJSON *j = cJSON_CreateObject();
    if (!j) return;
    cJSON_AddStringToObject(j, "model", a->model);
    cJSON_AddStringToObject(j, "precision", plan_precision_name(row->precision));
    cJSON_AddStringToObject(j, "weight_type", dtype_name(engine_weight_type(lp->e)));
    cJSON_AddNumberToObject(j, "n_ctx", (double)engine_n_ctx(lp->e));
    cJSON_AddStringToObject(j, "kv_type", dtype_name(lp->eo.kv_type));
    cJSON_AddNumberToObject(j, "threads", lp->hw.cpu_threads);
    cJSON_AddNumberToObject(j, "n_prompt", (double)a->n_prompt);
    cJSON_AddNumberToObject(j, "n_gen", (double)a->n_gen);
    cJSON_AddNumberToObject(j, "load_s", r->load_s);
    cJSON *m = cJSON_AddObjectToObject(j, "measured");
    cJSON_AddNumberToObject(m, "prefill_tok_s", r->prefill_tps);
    cJSON_AddNumberToObject(m, "decode_tok_s", r->decode_tps);
    cJSON_AddNumberToObject(m, "peak_rss_bytes", (double)r->peak_rss);
    cJSON_AddNumberToObject(m, "rss_end_bytes", (double)r->rss_end);
    cJSON_AddNumberToObject(m, "base_rss_bytes", (double)r->base_rss);
    cJSON_AddNumberToObject(m, "load_peak_rss_bytes", (double)r->load_peak_rss);
    if (r->has_tok)
        cJSON_AddNumberToObject(m, "tokenizer_peak_bytes", (double)r->tok_rss);
    else
        cJSON_AddNullToObject(m, "tokenizer_peak_bytes");
    cJSON_AddNumberToObject(m, "weights_bytes", (double)(r->mem.weights - r->mem.weights_released));
    cJSON_AddNumberToObject(m, "kv_bytes", (double)r->mem.kv_cache);
    cJSON_AddNumberToObject(m, "compute_bytes", (double)r->mem.activations);
    cJSON_AddNumberToObject(m, "bandwidth_gbs", r->bandwidth_gbs);
    cJSON *p = cJSON_AddObjectToObject(j, "planned");
    cJSON_AddNumberToObject(p, "prefill_tok_s", r->plan_prefill_tps);
    cJSON_AddNumberToObject(p, "decode_tok_s", r->plan_decode_tps);
    cJSON_AddNumberToObject(p, "total_bytes", (double)r->plan_total);
    cJSON_AddNumberToObject(p, "load_peak_bytes", (double)r->plan_load_peak);
    cJSON_AddNumberToObject(p, "bandwidth_gbs", r->plan_bw_gbs);
    cJSON_AddBoolToObject(p, "bandwidth_measured", r->plan_bw_measured);
    cJSON_AddNumberToObject(p, "weights_bytes", (double)r->plan_weights);
    cJSON_AddNumberToObject(p, "kv_bytes", (double)r->plan_kv);
    cJSON_AddNumberToObject(p, "compute_bytes", (double)r->plan_compute);
    cJSON_AddNumberToObject(p, "overhead_bytes", (double)r->plan_overhead);
    cJSON *e = cJSON_AddObjectToObject(j, "error_pct");
    double ep = err_pct(r->prefill_tps, r->plan_prefill_tps);
    double ed = err_pct(r->decode_tps, r->plan_decode_tps);
    double em = err_pct((double)r->peak_rss, (double)r->plan_load_peak);
    double er = err_pct((double)r->rss_end, (double)r->plan_total);
    // JSON has no NaN: null where there is no prediction.
    if (isnan(ep))
        cJSON_AddNullToObject(e, "prefill");
    else
        cJSON_AddNumberToObject(e, "prefill", ep);
    if (isnan(ed))
        cJSON_AddNullToObject(e, "decode");
    else
        cJSON_AddNumberToObject(e, "decode", ed);
    if (isnan(em))
        cJSON_AddNullToObject(e, "memory");
    else
        cJSON_AddNumberToObject(e, "memory", em);
    if (isnan(er))
        cJSON_AddNullToObject(e, "resident");
    else
        cJSON_AddNumberToObject(e, "resident", er);
    if (r->on_gpu) {
        cJSON *arr = cJSON_AddArrayToObject(j, "gpus");
        for (int i = 0; arr && i < r->n_gpu; i++) {
            gpu_view v = {r->gpus[i],           r->gpu_free_starts[i], r->gpu_free_ends[i],
                          r->gpu_nvml_known[i], r->gpu_nvml_proc[i],   r->gpu_nvml_note[i]};
            add_gpu_json(arr, &v);
        }
    }
    cJSON_AddBoolToObject(j, "warmed_up", r->warmed);
    cJSON_AddBoolToObject(j, "bandwidth_saved", r->saved && !r->on_gpu);
    if (r->saved && !r->on_gpu)
        cJSON_AddNumberToObject(j, "bandwidth_saved_gbs", r->calibrated_gbs);
    if (r->saved && r->on_gpu) {
        cJSON *c = cJSON_AddObjectToObject(j, "gpu_calibration_saved");
        cJSON_AddStringToObject(c, "weights", plan_wclass_name((plan_wclass)r->gpu_wclass));
        cJSON_AddNumberToObject(c, "decode_factor", r->gpu_decode_factor);
        cJSON_AddNumberToObject(c, "prefill_factor", r->gpu_prefill_factor);
    }
    if (r->calibrated_gflops > 0) cJSON_AddNumberToObject(j, "gflops_saved", r->calibrated_gflops);
    char *s = cJSON_PrintUnformatted(j);
    if (s) printf("%s\n", s);
    free(s);
    cJSON_Delete(j);
}

// The plan's speed for this run, for the placement the engine loaded (its
// GPUs' blocks, the rest on the CPU), at the context the decode steps see
// on average (the prompt plus half the generated tokens).
static void predict(const load_plan *lp, const bench_args *a, bench_result *r, rs_error *err)
{
    const model_desc *m = lp->m;
    const plan_row *row = &lp->plan->rows[lp->row];
    plan_weights w;
    if (plan_weights_init(&w, m, row->precision, err) != RS_OK) return;
    plan_speed_span spans[ENGINE_GPU_MAX + 1];
    int n = 0;
    int64_t on_gpu = 0;
    for (int i = 0; i < r->n_gpu; i++) {
        int at = 0;
        for (int k = 0; k < lp->hw.n_gpus; k++)
            if (lp->hw.gpus[k].index == r->gpus[i].device) at = k;
        spans[n].gpu_index = lp->hw.n_gpus > 0 ? at : -1;
        spans[n].layer_first = r->gpus[i].layer_first;
        spans[n].layer_last = r->gpus[i].layer_first + r->gpus[i].n_gpu_layers;
        on_gpu += r->gpus[i].n_gpu_layers;
        spans[n].has_output = false;
        n++;
    }
    if (on_gpu < m->n_layer) {
        spans[n] = (plan_speed_span){-1, on_gpu, m->n_layer, true};
        n++;
    } else {
        spans[n - 1].has_output = true;
    }
    int64_t n_batch =
        lp->eo.n_batch > 0 && lp->eo.n_batch < a->n_prompt ? lp->eo.n_batch : a->n_prompt;
    r->n_batch = n_batch;
    plan_speed *sp = &r->speed;
    plan_speed_estimate(m, &lp->hw, &w, spans, n, a->n_prompt + a->n_gen / 2, 1, lp->eo.kv_type,
                        n_batch, sp);
    r->plan_decode_tps = sp->decode_tps;
    r->plan_prefill_tps = sp->prefill_tps;
    r->decode_bytes = 0;
    for (int i = 0; i < sp->n_parts; i++)
        r->decode_bytes += sp->parts[i].decode_bytes;
    r->plan_bw_gbs = sp->n_parts ? sp->parts[0].bandwidth_gbs : 0;
    r->plan_bw_measured = sp->n_parts && sp->parts[0].bandwidth_measured;
    plan_weights_free(&w);
    const plan_device *d = &row->layout.dev[0];
    r->plan_total = d->total;
    r->plan_load_peak = d->total;
    plan_weights pw;
    rs_error e2 = {0};
    if (plan_weights_init(&pw, m, row->precision, &e2) == RS_OK) {
        r->plan_load_peak = plan_host_load_peak(m, &pw, row->precision, &row->layout);
        plan_weights_free(&pw);
    }
    r->plan_weights = d->weights;
    r->plan_kv = d->kv;
    r->plan_compute = d->compute;
    r->plan_overhead = d->overhead;
}

// A run with every block on GPUs calibrates the GPU model: the measured
// time over the model's (plan_gpu_calibration), per card name and the
// weight family of its blocks, in the measurement cache that hw_probe reads
// (hw_load_gpu_calibration), so that later plans predict what was measured.
static void store_gpu_calibration(const load_plan *lp, const bench_args *a, bench_result *r,
                                  const char *path)
{
    const plan_speed *sp = &r->speed;
    for (int i = 0; i < sp->n_parts; i++)
        if (!sp->parts[i].gpu) {
            snprintf(r->save_note, sizeof r->save_note,
                     "not stored: blocks ran on the CPU too (calibrating needs all on GPUs)");
            return;
        }
    double df = 0, pf = 0;
    plan_gpu_calibration(sp, r->decode_tps, a->n_prompt >= 32 ? r->prefill_tps : 0, r->n_batch, &df,
                         &pf);
    if (!(df > 0)) {
        snprintf(r->save_note, sizeof r->save_note, "not stored: no decode time to calibrate");
        return;
    }
    char names[256] = "";
    size_t len = 0;
    for (int i = 0; i < sp->n_parts; i++) {
        const plan_speed_part *p = &sp->parts[i];
        const char *name = lp->hw.gpus[p->gpu_index].name;
        char key[64];
        rs_error e2 = {0};
        if (hw_cache_store_gpu_value(&lp->hw, name,
                                     hw_gpu_calib_key(key, sizeof key, false, p->wclass), df,
                                     &e2) != RS_OK ||
            (pf > 0 && hw_cache_store_gpu_value(&lp->hw, name,
                                                hw_gpu_calib_key(key, sizeof key, true, p->wclass),
                                                pf, &e2) != RS_OK)) {
            snprintf(r->save_note, sizeof r->save_note, "not stored: %.150s", e2.msg);
            return;
        }
        if (!strstr(names, name) && len < sizeof names)
            len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", len ? ", " : "", name);
    }
    r->gpu_decode_factor = df;
    r->gpu_prefill_factor = pf;
    r->gpu_wclass = sp->parts[0].wclass;
    r->saved = true;
    snprintf(r->save_note, sizeof r->save_note,
             "stored for %.200s, %s weights: decode x%.3f, prefill x%.3f of the model (measured / "
             "predicted) for later plans in %.300s",
             names, plan_wclass_name((plan_wclass)r->gpu_wclass), df, pf, path);
}

int cmd_bench(int argc, char **argv)
{
    bench_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    rs_error err = {0};
    rs_status st;
    load_plan lp = {0};
    int32_t *ids = NULL;
    tokenizer *tok = NULL;
    bench_result r;
    memset(&r, 0, sizeof r);

    load_plan_request rq = a.load;
    // The context the run needs, so that the KV cache the plan counts is
    // the one the run fills.
    if (rq.n_ctx <= 0) rq.n_ctx = a.n_prompt + a.n_gen;
    rq.verbose = a.verbose;
    rq.progress = a.verbose || isatty(STDERR_FILENO);

    r.base_rss = load_plan_current_rss();
    if ((st = load_plan_prepare(&rq, &lp, &err)) != RS_OK) goto done;
    // The tokenizer too, as `chat` holds it: the plan's runtime overhead
    // covers it. A model without one is measured without.
    {
        uint64_t before = load_plan_peak_rss();
        rs_error terr = {0};
        rs_status ts = cli_load_tokenizer(lp.m, &tok, &terr);
        r.has_tok = ts == RS_OK;
        uint64_t after = load_plan_peak_rss();
        r.tok_rss = after > before ? after - before : 0;
        // Parsing tokenizer.json leaves tens of MiB of freed heap that
        // the weights would not reuse: give it back before they load.
        malloc_trim(0);
    }
    if ((st = load_plan_load(&rq, &lp, &err)) != RS_OK) goto done;
    r.load_s = lp.load_s;
    r.load_peak_rss = load_plan_peak_rss();
    engine_memory_usage(lp.e, &r.mem);
    r.n_gpu = engine_gpu_devices(lp.e, r.gpus, ENGINE_GPU_MAX);
    r.on_gpu = r.n_gpu > 0;
    predict(&lp, &a, &r, &err);

    // Fixed ids spread over the vocabulary (the same every run).
    int64_t n_vocab = engine_n_vocab(lp.e);
    int64_t n_ids = a.n_prompt + a.n_gen;
    ids = malloc((size_t)n_ids * sizeof *ids);
    if (!ids) {
        st = rs_fail(&err, RS_ERR_RUNTIME, "out of memory");
        goto done;
    }
    for (int64_t i = 0; i < n_ids; i++)
        ids[i] = (int32_t)((1 + (uint64_t)i * 2654435761u) % (uint64_t)n_vocab);

    if (r.on_gpu) {
        // The first pass on a GPU loads kernel modules and picks cuBLAS
        // algorithms (tens of ms): run the same prompt and a decode step
        // once, so that the timing is the steady rate the plan predicts.
        if ((st = engine_prefill(lp.e, ids, a.n_prompt, NULL, &err)) != RS_OK ||
            (st = engine_decode(lp.e, ids[a.n_prompt], &err)) != RS_OK)
            goto done;
        engine_rewind(lp.e, 0);
        r.warmed = true;
    }
    double t0 = clock_now_s();
    if ((st = engine_prefill(lp.e, ids, a.n_prompt, NULL, &err)) != RS_OK) goto done;
    double t_prefill = clock_now_s() - t0;
    double t1 = clock_now_s();
    for (int64_t i = 0; i < a.n_gen; i++)
        if ((st = engine_decode(lp.e, ids[a.n_prompt + i], &err)) != RS_OK) goto done;
    double t_decode = clock_now_s() - t1;
    r.prefill_tps = t_prefill > 0 ? (double)a.n_prompt / t_prefill : 0;
    r.decode_tps = t_decode > 0 ? (double)a.n_gen / t_decode : 0;
    r.peak_rss = load_plan_peak_rss();
    r.rss_end = load_plan_current_rss();
    for (int i = 0; i < r.n_gpu; i++) {
        uint64_t tb = 0;
        rs_error e3 = {0};
        if (engine_gpu_device_memory(r.gpus[i].device, &r.gpu_free_ends[i], &tb, &e3) != RS_OK)
            r.gpu_free_ends[i] = 0;
        for (int k = 0; k < lp.n_probed; k++)
            if (lp.probed_index[k] == r.gpus[i].device) r.gpu_free_starts[i] = lp.probed_free[k];
        rs_error e4 = {0};
        r.gpu_nvml_known[i] =
            hw_nvml_process_gpu_memory(r.gpus[i].device, &r.gpu_nvml_proc[i], &e4) == RS_OK;
        snprintf(r.gpu_nvml_note[i], sizeof r.gpu_nvml_note[i], "%.159s", e4.msg);
    }
    r.bandwidth_gbs = (double)r.decode_bytes * r.decode_tps / 1e9;

    // Calibration: the bandwidth that, at the planner's decode efficiencies,
    // predicts the speed just measured (float weights: effective / 0.80;
    // K-quants at PLAN_EFF_CPU_DECODE_KQUANT: the bandwidth the plan used,
    // scaled by measured / predicted).
    r.calibrated_gbs = r.bandwidth_gbs / PLAN_EFF_CPU_DECODE;
    if (!r.on_gpu && r.plan_decode_tps > 0 && r.decode_tps > 0)
        r.calibrated_gbs = plan_device_bandwidth(&lp.hw, -1, NULL) / PLAN_EFF_CPU_DECODE *
                           r.decode_tps / r.plan_decode_tps;
    char path[512];
    hw_cache_path(path, sizeof path);
    if (!a.save) {
        snprintf(r.save_note, sizeof r.save_note, "not stored (--no-save)");
    } else if (r.on_gpu) {
        store_gpu_calibration(&lp, &a, &r, path);
    } else if (r.decode_bytes < BENCH_MIN_CALIBRATION_BYTES) {
        char b[32];
        snprintf(r.save_note, sizeof r.save_note,
                 "not stored: %s per token is too little to measure memory bandwidth (>= 64 MiB)",
                 format_bytes(b, sizeof b, r.decode_bytes));
    } else {
        rs_error e2 = {0};
        if (hw_cache_store_cpu_bandwidth(&lp.hw, r.calibrated_gbs, &e2) == RS_OK) {
            r.saved = true;
            snprintf(r.save_note, sizeof r.save_note,
                     "stored %.1f GB/s (effective / the plan's efficiency) for later plans in %.500s",
                     r.calibrated_gbs, path);
        } else {
            snprintf(r.save_note, sizeof r.save_note, "not stored: %.150s", e2.msg);
        }
    }
    // The same for prefill: scale the GFLOPS the plan assumed by measured /
    // predicted, so that later plans predict this prefill rate.
    double gflops_used = plan_device_flops(&lp.hw, -1) / (PLAN_EFF_CPU_PREFILL * 1e9);
    if (r.saved && !r.on_gpu && a.n_prompt >= 32 && r.plan_prefill_tps > 0 && r.prefill_tps > 0) {
        r.calibrated_gflops = gflops_used * r.prefill_tps / r.plan_prefill_tps;
        rs_error e3 = {0};
        size_t len = strlen(r.save_note);
        if (hw_cache_store_cpu_gflops(&lp.hw, r.calibrated_gflops, &e3) == RS_OK)
            snprintf(r.save_note + len, sizeof r.save_note - len, "; prefill: %.0f GFLOPS",
                     r.calibrated_gflops);
        else
            r.calibrated_gflops = 0;
    }
    if (a.json)
        print_json(&a, &lp, &r);
    else
        print_text(&a, &lp, &r);

done:
    if (st != RS_OK) {
        fprintf(stderr, "rightsize bench: %s\n", err.msg);
        rc = st == RS_ERR_INPUT ? 2 : 1;
    }
    free(ids);
    tokenizer_free(tok);
    load_plan_free(&lp);
    return rc;
}
