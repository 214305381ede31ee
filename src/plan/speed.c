#include "plan/speed.h"

#include <string.h>

double plan_gpu_copy_bandwidth(const hw_info *hw, int gpu_index, bool *measured)
{
    if (measured) *measured = false;
    if (gpu_index < 0 || gpu_index >= hw->n_gpus) return 0;
    const hw_gpu *g = &hw->gpus[gpu_index];
    if (g->bandwidth_measured_gbs > 0) {
        if (measured) *measured = true;
        return g->bandwidth_measured_gbs;
    }
    return PLAN_GPU_COPY_OF_SPEC * g->bandwidth_gbs;
}

double plan_device_bandwidth_factor(const hw_info *hw, int gpu_index)
{
    if (gpu_index < 0) return PLAN_EFF_CPU_DECODE;
    bool measured = false;
    plan_gpu_copy_bandwidth(hw, gpu_index, &measured);
    return measured ? PLAN_EFF_GPU_FLOAT : PLAN_EFF_GPU_FLOAT * PLAN_GPU_COPY_OF_SPEC;
}

double plan_device_bandwidth(const hw_info *hw, int gpu_index, bool *measured)
{
    if (measured) *measured = false;
    if (gpu_index >= 0)
        return PLAN_EFF_GPU_FLOAT * plan_gpu_copy_bandwidth(hw, gpu_index, measured);
    double bw = hw->cpu_bandwidth_gbs;
    if (bw > 0) {
        if (measured) *measured = true;
    } else {
        int cores = hw->cpu_cores > 0 ? hw->cpu_cores : 1;
        bw = cores * PLAN_CPU_BW_PER_CORE_GBS;
        if (bw > PLAN_CPU_BW_MAX_GBS) bw = PLAN_CPU_BW_MAX_GBS;
    }
    return PLAN_EFF_CPU_DECODE * bw;
}

double plan_device_flops(const hw_info *hw, int gpu_index)
{
    if (gpu_index >= 0) {
        if (gpu_index >= hw->n_gpus) return 0;
        return PLAN_EFF_GPU_PREFILL * hw->gpus[gpu_index].tflops_bf16 * 1e12;
    }
    double gflops = hw->cpu_gflops;
    if (gflops <= 0)
        gflops = (hw->cpu_cores > 0 ? hw->cpu_cores : 1) * PLAN_CPU_GFLOPS_PER_CORE;
    else if (!hw->cpu_gflops_measured && hw->has_avx512f)
        gflops *= PLAN_CPU_AVX512_PREFILL_GAIN; // the estimate's one-pipe figure
    return PLAN_EFF_CPU_PREFILL * gflops * 1e9;
}

static const double gpu_eff[PLAN_WCLASS_N] = {PLAN_EFF_GPU_FLOAT, PLAN_EFF_GPU_INT8,
                                              PLAN_EFF_GPU_KQUANT, PLAN_EFF_GPU_DEQ};

// Attention FLOPs per token and layer at a context of n_kv keys: q.k over
// every key and the weighted sum of values, 2 flops per multiply-add each.
static double attn_flops(const model_desc *m, double n_kv)
{
    double qk = m->kv_lora_rank > 0 ? (double)(m->qk_nope_head_dim + m->qk_rope_head_dim)
                                     : (double)m->head_dim;
    double v = m->kv_lora_rank > 0 ? (double)m->v_head_dim : (double)m->head_dim;
    return 2.0 * (double)m->n_head * (qk + v) * n_kv;
}

// A GPU's decode step and prefill chunk (the model in speed.h), then its
// bench calibration for the family holding most of its weights.
static void gpu_times(const model_desc *m, const hw_info *hw, const plan_weights *w,
                      const plan_speed_span *sp, uint64_t kv, int64_t n_batch, plan_speed_part *p)
{
    bool measured = false;
    const double bw = plan_gpu_copy_bandwidth(hw, sp->gpu_index, &measured) * 1e9;
    double bytes[PLAN_WCLASS_N] = {0};
    double quant = 0, chunked = 0, params = 0, wall = 0;
    int64_t blocks = 0, int8_blocks = 0;
    for (int64_t l = sp->layer_first; l < sp->layer_last && l < w->n_layer; l++) {
        const uint64_t *lc = w->layer_class + l * PLAN_WCLASS_N;
        for (int c = 0; c < PLAN_WCLASS_N; c++)
            bytes[c] += (double)lc[c];
        blocks++;
        if (lc[PLAN_WCLASS_INT8] + lc[PLAN_WCLASS_KQUANT] > 0) int8_blocks++;
        quant += (double)w->layer_quant_params[l];
        chunked += (double)w->layer_chunked_params[l];
        params += (double)w->layer_active_params[l];
        wall += (double)w->layer[l];
    }
    if (sp->has_output) {
        for (int c = 0; c < PLAN_WCLASS_N; c++)
            bytes[c] += (double)w->output_class[c];
        wall += (double)(w->output + w->output_head_tied);
    }
    p->wclass = PLAN_WCLASS_FLOAT;
    for (int c = 1; c < PLAN_WCLASS_N; c++)
        if (bytes[c] > bytes[p->wclass]) p->wclass = c;
    bytes[PLAN_WCLASS_FLOAT] += (double)kv; // attention reads the f16 cache
    if (bw <= 0) return;

    double t = (double)(PLAN_GPU_LAUNCHES_PER_BLOCK * blocks + PLAN_GPU_LAUNCHES_PER_STEP) *
                   PLAN_GPU_LAUNCH_S +
               (double)(PLAN_GPU_QUANT_LAUNCHES_PER_BLOCK * int8_blocks) * PLAN_GPU_QUANT_LAUNCH_S;
    for (int c = 0; c < PLAN_WCLASS_N; c++)
        t += bytes[c] / (bw * gpu_eff[c]);
    p->decode_model_s = t;

    // Prefill of a chunk from an empty cache; the head runs for the last
    // token only (a matrix-vector product: its bytes).
    const double peak = hw->gpus[sp->gpu_index].tflops_bf16 * 1e12, n = (double)n_batch;
    if (peak > 0) {
        double attn = (double)blocks * attn_flops(m, n / 2.0) * n; // causal: n/2 keys on average
        double tp = 2.0 * (params - chunked) * n / (PLAN_EFF_GPU_PREFILL * peak) +
                    2.0 * chunked * n / (PLAN_EFF_GPU_PREFILL_SLABS * peak) +
                    attn / (PLAN_EFF_GPU_PREFILL_ATTN * peak) +
                    (double)blocks * n * PLAN_GPU_PREFILL_TOKEN_S +
                    2.0 * quant / (PLAN_EFF_GPU_DEQUANT * bw);
        if (sp->has_output) {
            double head = 0;
            for (int c = 0; c < PLAN_WCLASS_N; c++)
                head += (double)w->output_class[c] / (bw * gpu_eff[c]);
            tp += head;
        }
        // Never faster than reading every weight once.
        double tb = wall / (bw * PLAN_EFF_GPU_FLOAT);
        p->prefill_model_s = tp > tb ? tp : tb;
    }
    const hw_gpu *g = &hw->gpus[sp->gpu_index];
    double dc = g->decode_calib[p->wclass], pc = g->prefill_calib[p->wclass];
    p->calibrated = dc > 0 || pc > 0;
    p->decode_s = p->decode_model_s * (dc > 0 ? dc : 1.0);
    p->prefill_s = p->prefill_model_s * (pc > 0 ? pc : 1.0);
}

void plan_speed_estimate(const model_desc *m, const hw_info *hw, const plan_weights *w,
                         const plan_speed_span *spans, int n_spans, int64_t n_ctx, int64_t n_seq,
                         dtype kv_type, int64_t n_batch, plan_speed *out)
{
    memset(out, 0, sizeof *out);
    if (n_seq < 1) n_seq = 1;
    if (n_batch < 1) n_batch = PLAN_DEFAULT_BATCH;
    if (n_spans > HW_MAX_GPUS + 1) n_spans = HW_MAX_GPUS + 1;
    double decode_s = 0, prefill_s = 0;
    bool prefill_known = true;
    for (int i = 0; i < n_spans; i++) {
        const plan_speed_span *sp = &spans[i];
        plan_speed_part *p = &out->parts[out->n_parts++];
        p->gpu = sp->gpu_index >= 0;
        p->gpu_index = sp->gpu_index;
        p->bandwidth_gbs = plan_device_bandwidth(hw, sp->gpu_index, &p->bandwidth_measured);
        p->flops = plan_device_flops(hw, sp->gpu_index);

        // Decode: one step of n_seq tokens reads the active weights once and
        // each sequence's cache. The embedding lookup reads one row: nothing.
        uint64_t wbytes = 0, wall = 0;
        double params = 0, kquant = 0;
        for (int64_t l = sp->layer_first; l < sp->layer_last && l < w->n_layer; l++) {
            wbytes += w->layer_active[l];
            wall += w->layer[l];
            params += (double)w->layer_active_params[l];
            kquant += (double)w->layer_class[l * PLAN_WCLASS_N + PLAN_WCLASS_KQUANT];
        }
        if (sp->has_output) {
            wbytes += w->output + w->output_head_tied;
            wall += w->output + w->output_head_tied;
            kquant += (double)w->output_class[PLAN_WCLASS_KQUANT];
        }
        uint64_t kv = plan_kv_bytes_range(m, sp->layer_first, sp->layer_last, n_ctx, n_seq,
                                          kv_type);
        p->decode_bytes = wbytes + kv;
        if (p->gpu) {
            gpu_times(m, hw, w, sp, kv, n_batch, p);
            decode_s += p->decode_s;
            if (p->flops <= 0) prefill_known = false;
            prefill_s += p->prefill_s;
            continue;
        }
        if (p->bandwidth_gbs > 0) {
            // K-quant bytes (active ones, like layer_active) at their own
            // efficiency.
            double bw = p->bandwidth_gbs * 1e9;
            if (kquant > (double)wbytes) kquant = (double)wbytes;
            p->decode_s = ((double)p->decode_bytes - kquant) / bw +
                          kquant / (bw * PLAN_EFF_CPU_DECODE_KQUANT / PLAN_EFF_CPU_DECODE);
        }
        decode_s += p->decode_s;

        // Prefill of a chunk from an empty cache: FLOPS-bound (the head runs
        // for the last row only), but never faster than reading every weight
        // of the span once.
        int64_t n_layers = sp->layer_last - sp->layer_first;
        double flops = 2.0 * params * (double)n_batch +
                       (double)n_layers * attn_flops(m, (double)n_batch / 2.0) * (double)n_batch;
        if (sp->has_output) flops += 2.0 * (double)w->head_params;
        double t_flops = p->flops > 0 ? flops / p->flops : 0;
        double t_bytes = p->bandwidth_gbs > 0 ? (double)wall / (p->bandwidth_gbs * 1e9) : 0;
        if (p->flops <= 0) prefill_known = false;
        p->prefill_s = t_flops > t_bytes ? t_flops : t_bytes;
        prefill_s += p->prefill_s;
    }
    if (n_spans > 1 && decode_s > 0) {
        // The hops between devices (PLAN_HOP_LATENCY_S).
        out->n_hops = n_spans - 1;
        double link = PLAN_HOST_LINK_GBS * 1e9, row = (double)m->n_embd * sizeof(float);
        out->hop_s = out->n_hops * (PLAN_HOP_LATENCY_S + 2.0 * row * (double)n_seq / link);
        decode_s += out->hop_s;
        if (prefill_s > 0)
            prefill_s += out->n_hops * (PLAN_HOP_LATENCY_S + 2.0 * row * (double)n_batch / link);
    }
    if (decode_s > 0) {
        out->decode_tps = 1.0 / decode_s;
        out->decode_tps_total = (double)n_seq / decode_s;
    }
    if (prefill_known && prefill_s > 0) out->prefill_tps = (double)n_batch / prefill_s;
}

void plan_gpu_calibration(const plan_speed *s, double decode_tps, double prefill_tps,
                          int64_t n_batch, double *decode_factor, double *prefill_factor)
{
    *decode_factor = *prefill_factor = 0;
    double gd = 0, gp = 0, other_d = s->hop_s, other_p = 0, parts = 0;
    for (int i = 0; i < s->n_parts; i++) {
        const plan_speed_part *p = &s->parts[i];
        parts += p->prefill_s;
        if (p->gpu) {
            gd += p->decode_model_s;
            gp += p->prefill_model_s;
        } else {
            other_d += p->decode_s;
            other_p += p->prefill_s;
        }
    }
    if (s->n_hops > 0 && s->prefill_tps > 0 && n_batch > 0) {
        // The hops' share of the prefill: what the estimate added to the parts.
        double total = (double)n_batch / s->prefill_tps;
        if (total > parts) other_p += total - parts;
    }
    if (decode_tps > 0 && gd > 0) {
        double t = 1.0 / decode_tps - other_d;
        if (t > 0) *decode_factor = t / gd;
    }
    if (prefill_tps > 0 && gp > 0 && n_batch > 0) {
        double t = (double)n_batch / prefill_tps - other_p;
        if (t > 0) *prefill_factor = t / gp;
    }
}
