#include "plan/fit.h"

#include <stdio.h>
#include <string.h>

#include "util/format.h"

const char *plan_placement_name(plan_placement p)
{
    switch (p) {
    case PLAN_PLACE_GPU: return "gpu";
    case PLAN_PLACE_SPLIT: return "split";
    case PLAN_PLACE_CPU: return "cpu";
    default: return "none";
    }
}

plan_options plan_default_options(void)
{
    plan_options o;
    memset(&o, 0, sizeof o);
    o.n_parallel = 1;
    o.n_batch = PLAN_DEFAULT_BATCH;
    o.kv_type = DTYPE_F16;
    o.precision = plan_precision_of(PLAN_PREC_STORED);
    o.prefer = PLAN_PREFER_QUALITY;
    return o;
}

static uint64_t gpu_capacity(const hw_gpu *g)
{
    // Hypothetical cards and old NVML answers without a free figure count as
    // empty cards.
    return g->mem_free > 0 ? g->mem_free : g->mem_total;
}

static bool any_unified(const hw_info *hw)
{
    for (int i = 0; i < hw->n_gpus; i++)
        if (hw->gpus[i].unified_memory) return true;
    return false;
}

static int cpu_threads(const hw_info *hw)
{
    return hw->cpu_threads > 0 ? hw->cpu_threads : hw->cpu_cores > 0 ? hw->cpu_cores : 1;
}

static void device_fill(const model_desc *m, const plan_options *o, const plan_weights *w,
                        const plan_compute *c, int64_t n_ctx, plan_device *d)
{
    d->weights = plan_weights_range(w, d->layer_first, d->layer_last, d->has_embd, d->has_output);
    d->kv = plan_kv_bytes_range(m, d->layer_first, d->layer_last, n_ctx, o->n_parallel,
                                o->kv_type);
    // A device that runs blocks needs the chunk's scratch; the logits live
    // with the output head. The host holds the engine's activations whatever
    // runs there (the residual stream passed between devices, the logits
    // copied back).
    bool host = d->gpu_index < 0;
    bool runs = host || d->layer_last > d->layer_first || d->has_output;
    if (host) {
        d->compute = c->total;
    } else if (runs) {
        // A card's arena, exactly as the CUDA engine carves it for its blocks.
        plan_gpu_arena a;
        plan_compute_gpu(m, w, d->layer_first, d->layer_last, d->has_output, o->n_batch, n_ctx,
                         o->n_parallel, &a);
        d->compute = a.total;
    } else {
        d->compute = 0;
    }
    d->total = d->weights + d->kv + d->compute + d->overhead;
}

// Weights and KV of block l: what moves with it between devices.
static double block_bytes(const model_desc *m, const plan_options *o, const plan_weights *w,
                          int64_t l, int64_t n_ctx)
{
    return (double)(w->layer[l] +
                    plan_kv_bytes_range(m, l, l + 1, n_ctx, o->n_parallel, o->kv_type));
}

// Fills GPU device d (hw->gpus[gpu]) with blocks [first, last).
static void gpu_fill(const model_desc *m, const hw_info *hw, const plan_options *o,
                     const plan_weights *w, int gpu, int64_t first, int64_t last, bool embd,
                     bool output, int64_t n_ctx, plan_device *d)
{
    memset(d, 0, sizeof *d);
    d->gpu_index = gpu;
    d->layer_first = first;
    d->layer_last = last;
    d->has_embd = embd;
    d->has_output = output;
    d->capacity = gpu_capacity(&hw->gpus[gpu]);
    d->usable = plan_usable_gpu(d->capacity);
    d->overhead = plan_overhead_gpu();
    device_fill(m, o, w, NULL, n_ctx, d);
}

void plan_layout_eval_on(const model_desc *m, const hw_info *hw, const plan_options *o,
                         const plan_weights *w, plan_placement placement, int64_t n_gpu_layers,
                         int gpu_one, int64_t n_ctx, plan_layout *out)
{
    memset(out, 0, sizeof *out);
    out->placement = placement;
    out->n_ctx = n_ctx;
    out->gpu_one = -1;
    int64_t L = w->n_layer;
    plan_compute ccpu; // the CPU's scratch
    plan_compute_bytes(m, o->n_batch, n_ctx, o->n_parallel, cpu_threads(hw), &ccpu);

    plan_device *cpu = &out->dev[out->n_dev++];
    cpu->gpu_index = -1;
    cpu->capacity = hw->ram_available;
    cpu->usable = plan_usable_ram(hw->ram_available);
    cpu->overhead = plan_overhead_cpu(m);
    if (placement == PLAN_PLACE_CPU || hw->n_gpus == 0 || L <= 0) {
        cpu->layer_last = L;
        cpu->has_embd = cpu->has_output = true;
        n_gpu_layers = 0;
    } else {
        if (placement == PLAN_PLACE_GPU) n_gpu_layers = L;
        if (n_gpu_layers > L) n_gpu_layers = L;
        if (n_gpu_layers < 1) n_gpu_layers = 1;
        // The engine runs the first blocks on the GPU(s), the rest and the
        // head on the CPU.
        if (n_gpu_layers < L) {
            cpu->layer_first = n_gpu_layers;
            cpu->layer_last = L;
            cpu->has_output = true;
        }
    }
    device_fill(m, o, w, &ccpu, n_ctx, cpu);
    out->n_gpu_layers = n_gpu_layers;

    if (n_gpu_layers > 0) {
        int gpus[HW_MAX_GPUS], k = 0;
        if (gpu_one >= 0 && gpu_one < hw->n_gpus) {
            gpus[k++] = gpu_one;
            out->gpu_one = gpu_one;
        } else {
            for (int i = 0; i < hw->n_gpus && i < HW_MAX_GPUS; i++) gpus[k++] = i;
        }
        if (k > n_gpu_layers) k = (int)n_gpu_layers; // each card used takes a block
        const bool all = n_gpu_layers == L;
        // What each card has left after its fixed costs (overhead, scratch,
        // the embedding on the first, the head and logits on the last).
        // The arena of every GPU block stands in for each card's (it differs
        // by the dequantization scratch and a few bytes of norms).
        plan_gpu_arena c;
        plan_compute_gpu(m, w, 0, n_gpu_layers, true, o->n_batch, n_ctx, o->n_parallel, &c);
        const uint64_t c_logits = c.bytes[PLAN_GPU_LOGITS];
        double room[HW_MAX_GPUS], sum = 0;
        for (int i = 0; i < k; i++) {
            bool head = all && i == k - 1;
            double fixed = (double)(plan_overhead_gpu() + c.total - c_logits +
                                    (head ? c_logits : 0));
            if (i == 0) fixed += (double)w->embd;
            if (head) fixed += (double)(w->output + w->output_head_tied);
            double u = (double)plan_usable_gpu(gpu_capacity(&hw->gpus[gpus[i]]));
            room[i] = u > fixed ? u - fixed : 0;
            sum += room[i];
        }
        // Boundaries follow bytes, not block counts: DeepSeek's dense
        // leading blocks are a fraction of its MoE blocks.
        double total_bytes = 0;
        for (int64_t l = 0; l < n_gpu_layers; l++) total_bytes += block_bytes(m, o, w, l, n_ctx);
        int64_t bound[HW_MAX_GPUS + 1]; // card i holds [bound[i], bound[i + 1])
        bound[0] = 0;
        double cum = 0, prefix = 0;
        int64_t j = 0;
        for (int i = 0; i < k - 1; i++) {
            cum += room[i];
            double target = sum > 0 ? total_bytes * cum / sum : total_bytes * (i + 1) / k;
            int64_t max_j = n_gpu_layers - (k - 1 - i); // a block for each card after
            while (j < max_j) {
                double b = block_bytes(m, o, w, j, n_ctx);
                if (j > bound[i] && prefix + b / 2 > target) break;
                prefix += b;
                j++;
            }
            bound[i + 1] = j;
        }
        bound[k] = n_gpu_layers;
        plan_device *g = &out->dev[1];
        for (int i = 0; i < k; i++)
            gpu_fill(m, hw, o, w, gpus[i], bound[i], bound[i + 1], i == 0, all && i == k - 1, n_ctx,
                     &g[i]);
        // The rounding can leave a card over its memory by part of a block
        // while a neighbour has room: move boundary blocks until none can.
        for (int64_t step = 0; step < n_gpu_layers * k; step++) {
            bool moved = false;
            for (int i = 0; i < k && !moved; i++) {
                if (g[i].total <= g[i].usable) continue;
                for (int dir = 1; dir >= -1 && !moved; dir -= 2) {
                    int n = i + dir;
                    if (n < 0 || n >= k || g[i].layer_last - g[i].layer_first < 2) continue;
                    int64_t l = dir > 0 ? g[i].layer_last - 1 : g[i].layer_first;
                    uint64_t b = (uint64_t)block_bytes(m, o, w, l, n_ctx);
                    if (g[n].total + b > g[n].usable) continue;
                    if (dir > 0) bound[i + 1]--;
                    else bound[i]++;
                    int lo = dir > 0 ? i : n, hi = dir > 0 ? n : i;
                    for (int t = lo; t <= hi; t++)
                        gpu_fill(m, hw, o, w, gpus[t], bound[t], bound[t + 1], t == 0,
                                 all && t == k - 1, n_ctx, &g[t]);
                    moved = true;
                }
            }
            if (!moved) break;
        }
        out->n_dev += k;
        // Each card's CUDA context holds host memory too (plan_overhead_cuda_host).
        cpu->overhead += (uint64_t)k * plan_overhead_cuda_host();
        cpu->total += (uint64_t)k * plan_overhead_cuda_host();
    }
    out->fits = true;
    for (int i = 0; i < out->n_dev; i++)
        if (out->dev[i].total > out->dev[i].usable) out->fits = false;
}

void plan_layout_eval(const model_desc *m, const hw_info *hw, const plan_options *o,
                      const plan_weights *w, plan_placement placement, int64_t n_gpu_layers,
                      int64_t n_ctx, plan_layout *out)
{
    plan_layout_eval_on(m, hw, o, w, placement, n_gpu_layers, -1, n_ctx, out);
}

int64_t plan_max_ctx_on(const model_desc *m, const hw_info *hw, const plan_options *o,
                        const plan_weights *w, plan_placement placement, int64_t n_gpu_layers,
                        int gpu_one, int64_t limit)
{
    plan_layout l;
    plan_layout_eval_on(m, hw, o, w, placement, n_gpu_layers, gpu_one, 1, &l);
    if (!l.fits) return 0;
    plan_layout_eval_on(m, hw, o, w, placement, n_gpu_layers, gpu_one, limit, &l);
    if (l.fits) return limit;
    int64_t lo = 1, hi = limit; // fits(lo), !fits(hi)
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        plan_layout_eval_on(m, hw, o, w, placement, n_gpu_layers, gpu_one, mid, &l);
        if (l.fits) lo = mid;
        else hi = mid;
    }
    return lo;
}

int64_t plan_max_ctx(const model_desc *m, const hw_info *hw, const plan_options *o,
                     const plan_weights *w, plan_placement placement, int64_t n_gpu_layers,
                     int64_t limit)
{
    return plan_max_ctx_on(m, hw, o, w, placement, n_gpu_layers, -1, limit);
}

int plan_layout_gpu_split(const plan_layout *l, int *gpu_index, int64_t *blocks, int max)
{
    int n = 0;
    for (int i = 0; i < l->n_dev && n < max; i++) {
        const plan_device *d = &l->dev[i];
        if (d->gpu_index < 0) continue;
        gpu_index[n] = d->gpu_index;
        blocks[n] = d->layer_last - d->layer_first;
        n++;
    }
    return n;
}

void plan_layout_speed(const model_desc *m, const hw_info *hw, const plan_options *o,
                       const plan_weights *w, const plan_layout *l, plan_speed *out)
{
    plan_speed_span spans[PLAN_MAX_DEVICES];
    int n = 0;
    for (int i = 0; i < l->n_dev; i++) {
        const plan_device *d = &l->dev[i];
        if (d->layer_last <= d->layer_first && !d->has_output) continue;
        spans[n].gpu_index = d->gpu_index;
        spans[n].layer_first = d->layer_first;
        spans[n].layer_last = d->layer_last;
        spans[n].has_output = d->has_output;
        n++;
    }
    // In block order: the CPU's blocks of a split come after the GPUs'.
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && spans[j].layer_first < spans[j - 1].layer_first; j--) {
            plan_speed_span t = spans[j];
            spans[j] = spans[j - 1];
            spans[j - 1] = t;
        }
    plan_speed_estimate(m, hw, w, spans, n, l->n_ctx, o->n_parallel, o->kv_type, o->n_batch, out);
}

// The card with the most usable memory (the first on a tie): where a model
// that fits one card runs.
static int biggest_gpu(const hw_info *hw)
{
    int best = 0;
    for (int i = 1; i < hw->n_gpus && i < HW_MAX_GPUS; i++)
        if (gpu_capacity(&hw->gpus[i]) > gpu_capacity(&hw->gpus[best])) best = i;
    return best;
}

// The best layout of one precision at the context: all on one GPU, else
// all spread over the GPUs, else the split with the most GPU blocks (over
// every GPU), else the CPU.
static void row_layout(const model_desc *m, const hw_info *hw, const plan_options *o,
                       const plan_weights *w, int64_t n_ctx, plan_layout *out)
{
    bool gpus = hw->n_gpus > 0;
    if (gpus) {
        if (hw->n_gpus > 1) {
            plan_layout_eval_on(m, hw, o, w, PLAN_PLACE_GPU, w->n_layer, biggest_gpu(hw), n_ctx,
                                out);
            if (out->fits) return;
        }
        plan_layout_eval(m, hw, o, w, PLAN_PLACE_GPU, w->n_layer, n_ctx, out);
        if (out->fits || o->gpu_only) return;
        // Unified memory is the RAM: splitting it with the CPU gains nothing.
        if (!any_unified(hw)) {
            for (int64_t g = w->n_layer - 1; g >= 1; g--) {
                plan_layout_eval(m, hw, o, w, PLAN_PLACE_SPLIT, g, n_ctx, out);
                if (out->fits) return;
            }
        }
    }
    plan_layout_eval(m, hw, o, w, PLAN_PLACE_CPU, 0, n_ctx, out);
    if (out->fits) return;
    // Nothing fits: show the placement the user would want.
    if (gpus) plan_layout_eval(m, hw, o, w, PLAN_PLACE_GPU, w->n_layer, n_ctx, out);
    out->fits = false;
}

static double bytes_per_param(const model_desc *m, plan_precision p)
{
    switch (p.kind) {
    case PLAN_PREC_F32: return 4;
    case PLAN_PREC_BF16:
    case PLAN_PREC_F16: return 2;
    case PLAN_PREC_INT8: return 1;
    case PLAN_PREC_INT4: return 0.5;
    case PLAN_PREC_GGUF: return dtype_bits_per_weight(p.type) / 8.0;
    case PLAN_PREC_STORED: return dtype_bits_per_weight(m->stored_type) / 8.0;
    }
    return 2;
}

static plan_precision_kind same_kind_as_stored(dtype t)
{
    switch (t) {
    case DTYPE_F32: return PLAN_PREC_F32;
    case DTYPE_BF16: return PLAN_PREC_BF16;
    case DTYPE_F16: return PLAN_PREC_F16;
    case DTYPE_Q8_0: return PLAN_PREC_INT8;
    default: return PLAN_PREC_STORED;
    }
}

// A precision may be chosen when it is the stored one or clearly smaller:
// rightsize never widens weights, and requantizing for a few percent
// (Q4_K_M to Q4_K) loses quality for nothing.
#define PLAN_CANDIDATE_MAX_RATIO 0.9

static bool same_precision(plan_precision a, plan_precision b)
{
    return a.kind == b.kind && (a.kind != PLAN_PREC_GGUF || a.type == b.type);
}

rs_status plan_cache_init(plan_cache *c, const model_desc *m, rs_error *err)
{
    memset(c, 0, sizeof *c);
    return plan_classes_init(&c->classes, m, err);
}

void plan_cache_free(plan_cache *c)
{
    if (!c) return;
    for (int i = 0; i < c->n; i++) plan_weights_free(&c->weights[i]);
    plan_classes_free(&c->classes);
    c->n = 0;
}

// The weights of a precision, sized once per model.
static rs_status cache_weights(const model_desc *m, plan_cache *c, plan_precision p,
                               const plan_weights **out, rs_error *err)
{
    for (int i = 0; i < c->n; i++)
        if (same_precision(c->precision[i], p)) {
            *out = &c->weights[i];
            return RS_OK;
        }
    if (c->n >= PLAN_CACHE_MAX) return rs_fail(err, RS_ERR_RUNTIME, "plan: precision cache full");
    rs_status st = plan_weights_init_classes(&c->weights[c->n], m, &c->classes, p, err);
    if (st != RS_OK) return st;
    c->precision[c->n] = p;
    *out = &c->weights[c->n++];
    return RS_OK;
}

static rs_status add_row(const model_desc *m, plan_cache *cache, const hw_info *hw,
                         const plan_options *o, plan_result *r, plan_precision p,
                         uint64_t stored_bytes, rs_error *err)
{
    plan_row *row = &r->rows[r->n_rows];
    memset(row, 0, sizeof *row);
    row->precision = p;
    const plan_weights *wp = NULL;
    rs_status st = cache_weights(m, cache, p, &wp, err);
    if (st != RS_OK) return st;
    const plan_weights *wv = wp;
    plan_weights w = *wv; // a view: the arrays stay the cache's
    row->weights = w.total;
    row->kv = plan_kv_bytes(m, o->n_ctx, o->n_parallel, o->kv_type);
    if (hw->n_gpus > 0) {
        plan_gpu_arena a; // the whole model on one card
        plan_compute_gpu(m, &w, 0, w.n_layer, true, o->n_batch, o->n_ctx, o->n_parallel, &a);
        row->compute = a.total;
    } else {
        plan_compute c;
        plan_compute_bytes(m, o->n_batch, o->n_ctx, o->n_parallel, cpu_threads(hw), &c);
        row->compute = c.total;
    }
    row->seed_rule = plan_seed_rule_bytes(m->n_params, bytes_per_param(m, p));
    row->candidate = p.kind == PLAN_PREC_STORED || o->force_precision ||
                     (double)row->weights <= PLAN_CANDIDATE_MAX_RATIO * (double)stored_bytes;
    if (hw->n_gpus > 0) {
        plan_layout g;
        plan_layout_eval(m, hw, o, &w, PLAN_PLACE_GPU, w.n_layer, o->n_ctx, &g);
        for (int i = 1; i < g.n_dev; i++) {
            row->gpu_need += g.dev[i].total;
            row->gpu_usable += g.dev[i].usable;
        }
        if (hw->n_gpus > 1) {
            plan_layout_eval_on(m, hw, o, &w, PLAN_PLACE_GPU, w.n_layer, biggest_gpu(hw), o->n_ctx,
                                &g);
            row->one_gpu_need = g.dev[1].total;
            row->one_gpu_usable = g.dev[1].usable;
        }
    }
    row_layout(m, hw, o, &w, o->n_ctx, &row->layout);
    if (row->layout.fits) {
        row->max_ctx = plan_max_ctx_on(m, hw, o, &w, row->layout.placement,
                                       row->layout.n_gpu_layers, row->layout.gpu_one,
                                       r->ctx_limit);
    } else {
        // Too big at this context: the largest context that would fit.
        plan_placement tiers[2] = {hw->n_gpus > 0 ? PLAN_PLACE_GPU : PLAN_PLACE_CPU,
                                   PLAN_PLACE_CPU};
        for (int i = 0; i < (o->gpu_only ? 1 : 2) && row->max_ctx == 0; i++) {
            row->max_ctx = plan_max_ctx(m, hw, o, &w, tiers[i], w.n_layer, r->ctx_limit);
            if (row->max_ctx > 0 && tiers[i] != row->layout.placement)
                plan_layout_eval(m, hw, o, &w, tiers[i], w.n_layer, o->n_ctx, &row->layout);
        }
    }
    plan_layout_speed(m, hw, o, &w, &row->layout, &row->speed);
    r->n_rows++;
    return RS_OK;
}

static int tier(const plan_row *row)
{
    if (!row->layout.fits) return 99;
    return row->layout.placement == PLAN_PLACE_GPU ? 0
           : row->layout.placement == PLAN_PLACE_SPLIT ? 1
                                                       : 2;
}

static void gib(char *buf, size_t n, uint64_t b)
{
    snprintf(buf, n, "%.1f GiB", (double)b / (double)(1ull << 30));
}

static void explain(const model_desc *m, const hw_info *hw, plan_result *r)
{
    char a[32], b[32];
    const plan_options *o = &r->opts;
    if (r->chosen < 0) {
        // The smallest need among the candidates, against everything the
        // machine could lend (after margins).
        uint64_t need = UINT64_MAX;
        const char *pname = "?";
        for (int i = 0; i < r->n_rows; i++) {
            const plan_row *row = &r->rows[i];
            if (!row->candidate) continue;
            uint64_t t = row->weights + row->kv + row->compute +
                         (o->gpu_only && hw->n_gpus > 0 ? plan_overhead_gpu() : plan_overhead_cpu(m));
            if (t < need) {
                need = t;
                pname = plan_precision_name(row->precision);
            }
        }
        uint64_t ram = o->gpu_only && hw->n_gpus > 0 ? 0 : plan_usable_ram(hw->ram_available);
        uint64_t gpu = 0;
        for (int i = 0; i < hw->n_gpus; i++) gpu += plan_usable_gpu(gpu_capacity(&hw->gpus[i]));
        // Unified memory is the RAM: count it once.
        uint64_t have = any_unified(hw) ? gpu : ram + gpu;
        r->needed = need;
        r->available = have;
        gib(a, sizeof a, need);
        gib(b, sizeof b, have);
        snprintf(r->reason, sizeof r->reason,
                 "does not fit: needs %s (%s, %lld-token context), this machine has %s available "
                 "after margins",
                 a, pname, (long long)o->n_ctx, b);
        return;
    }
    const plan_row *row = &r->rows[r->chosen];
    const plan_layout *l = &row->layout;
    const char *pn = plan_precision_name(row->precision);
    char prec[48];
    if (row->precision.kind == PLAN_PREC_STORED)
        snprintf(prec, sizeof prec, "%s (stored)", dtype_name(m->stored_type));
    else
        snprintf(prec, sizeof prec, "%s", pn);
    char why[200] = "";
    if (o->force_precision)
        snprintf(why, sizeof why, "--precision %s as asked", plan_precision_name(o->precision));
    else if (o->prefer == PLAN_PREFER_SPEED)
        snprintf(why, sizeof why, "fastest predicted decode among the plans that fit");
    else if (!r->stored_runnable && row->precision.kind != PLAN_PREC_STORED)
        snprintf(why, sizeof why,
                 "the engine does not compute with the stored %s; %s is the best that fits",
                 dtype_name(r->unrunnable), pn);
    else if (row->precision.kind == PLAN_PREC_STORED && l->placement == PLAN_PLACE_GPU &&
             l->n_dev > 2) {
        // Spread: say why one card does not do.
        gib(a, sizeof a, row->one_gpu_need);
        gib(b, sizeof b, row->one_gpu_usable);
        snprintf(why, sizeof why,
                 "the model's own precision fits; one card would need %s where %s is usable", a,
                 b);
    } else if (row->precision.kind == PLAN_PREC_STORED && l->placement == PLAN_PLACE_GPU)
        snprintf(why, sizeof why, "the model's own precision fits");
    else if (row->precision.kind == PLAN_PREC_STORED)
        snprintf(why, sizeof why,
                 hw->n_gpus ? "the model's own precision fits, but not on the GPU alone"
                            : "the model's own precision fits in RAM (no GPU)");
    else {
        // Name what did not fit: the stored precision.
        const plan_row *st = &r->rows[0];
        uint64_t need = hw->n_gpus > 0 ? st->gpu_need : st->layout.dev[0].total;
        uint64_t usable = hw->n_gpus > 0 ? st->gpu_usable : st->layout.dev[0].usable;
        gib(a, sizeof a, need);
        gib(b, sizeof b, usable);
        if (need > usable)
            snprintf(why, sizeof why, "%s needs %s on the %s where %s is usable; %s is the best "
                     "that fits",
                     dtype_name(m->stored_type), a,
                     hw->n_gpus > 1 ? "GPUs" : hw->n_gpus ? "GPU" : "CPU", b, pn);
        else
            snprintf(why, sizeof why, "%s is the best precision that fits", pn);
    }
    // Blocks per GPU in layer order: "40+40".
    int gi[HW_MAX_GPUS];
    int64_t gb[HW_MAX_GPUS];
    int k = plan_layout_gpu_split(l, gi, gb, HW_MAX_GPUS);
    char counts[48] = "";
    for (int i = 0, n = 0; i < k && n < (int)sizeof counts; i++)
        n += snprintf(counts + n, sizeof counts - (size_t)n, "%s%lld", i ? "+" : "",
                      (long long)gb[i]);
    char where[120];
    if (l->placement == PLAN_PLACE_GPU) {
        if (k > 1)
            snprintf(where, sizeof where, "on %d GPUs (%s of %lld layers)", k, counts,
                     (long long)l->n_gpu_layers);
        else
            // The CUDA index (the position in hw when nothing filters them).
            snprintf(where, sizeof where, "on GPU%d (all %lld layers)",
                     k ? hw->gpus[gi[0]].index : 0, (long long)l->n_gpu_layers);
    } else if (l->placement == PLAN_PLACE_SPLIT) {
        if (k > 1)
            snprintf(where, sizeof where, "split: %s layers on %d GPUs, %lld on CPU", counts, k,
                     (long long)(m->n_layer - l->n_gpu_layers));
        else
            snprintf(where, sizeof where, "split: %lld layers on GPU, %lld on CPU",
                     (long long)l->n_gpu_layers, (long long)(m->n_layer - l->n_gpu_layers));
    } else
        snprintf(where, sizeof where, "on the CPU");
    snprintf(r->reason, sizeof r->reason, "%s %s, %lld-token context: %s", prec, where,
             (long long)o->n_ctx, why);
}

rs_status plan_fit(const model_desc *m, const hw_info *hw, const plan_options *opts,
                   plan_result *r, rs_error *err)
{
    plan_cache c;
    rs_status st = plan_cache_init(&c, m, err);
    if (st != RS_OK) {
        memset(r, 0, sizeof *r);
        return st;
    }
    st = plan_fit_cached(m, &c, hw, opts, r, err);
    plan_cache_free(&c);
    return st;
}

rs_status plan_fit_cached(const model_desc *m, plan_cache *cache, const hw_info *hw,
                          const plan_options *opts, plan_result *r, rs_error *err)
{
    memset(r, 0, sizeof *r);
    r->opts = opts ? *opts : plan_default_options();
    plan_options *o = &r->opts;
    if (m->n_layer <= 0 || m->n_embd <= 0) {
        // Name the file and the field the figure comes from.
        const char *path = m->path ? m->path : "model";
        bool layers = m->n_layer <= 0;
        if (m->source == MODEL_SOURCE_HF_FOLDER) {
            size_t n = strlen(path);
            bool is_config = n >= 11 && strcmp(path + n - 11, "config.json") == 0;
            return rs_fail(err, RS_ERR_INPUT, "%s%s: field \"%s\" is missing: nothing to plan with",
                           path, is_config ? "" : "/config.json",
                           layers ? "num_hidden_layers" : "hidden_size");
        }
        if (m->source == MODEL_SOURCE_GGUF)
            return rs_fail(err, RS_ERR_INPUT, "%s: key \"%s.%s\" is missing: nothing to plan with",
                           path, m->arch_name ? m->arch_name : "?",
                           layers ? "block_count" : "embedding_length");
        return rs_fail(err, RS_ERR_INPUT, "%s: no layer count or hidden size to plan with", path);
    }
    if (m->n_tensors <= 0 || m->n_params == 0)
        return rs_fail(err, RS_ERR_INPUT,
                       "%s: no weight tensors to plan (a vocabulary-only file?)",
                       m->path ? m->path : "model");
    if (o->n_parallel < 1) o->n_parallel = 1;
    if (o->n_batch < 1) o->n_batch = PLAN_DEFAULT_BATCH;
    r->ctx_limit = m->n_ctx_train > 0 ? m->n_ctx_train : PLAN_CTX_SEARCH_MAX;
    if (o->n_ctx <= 0) o->n_ctx = r->ctx_limit < PLAN_DEFAULT_CTX ? r->ctx_limit : PLAN_DEFAULT_CTX;
    if (o->n_ctx > r->ctx_limit) r->ctx_limit = o->n_ctx;

    const plan_classes *pc = &cache->classes;
    rs_status st = add_row(m, cache, hw, o, r, plan_precision_of(PLAN_PREC_STORED), UINT64_MAX,
                           err);
    if (st != RS_OK) return st;
    uint64_t stored = r->rows[0].weights;
    r->stored_runnable = pc->stored_runnable;
    r->unrunnable = pc->unrunnable;
    if (!pc->stored_runnable) {
        // The engine cannot compute with the stored type (FP8): like
        // llama.cpp's converter, it widens to bf16 at most.
        r->rows[0].candidate = o->force_precision;
        const plan_weights *bw = NULL;
        st = cache_weights(m, cache, plan_precision_of(PLAN_PREC_BF16), &bw, err);
        if (st != RS_OK) return st;
        stored = (uint64_t)((double)bw->total / PLAN_CANDIDATE_MAX_RATIO) + 1;
    }
    plan_precision_kind same = same_kind_as_stored(m->stored_type);
    for (int i = 0; i < PLAN_N_STANDARD; i++) {
        plan_precision_kind k = plan_standard_precisions[i];
        if (k == same) continue; // the stored row already is this one
        plan_options oo = *o;
        oo.force_precision = false;
        st = add_row(m, cache, hw, &oo, r, plan_precision_of(k), stored, err);
        if (st != RS_OK) break;
    }
    if (st == RS_OK && o->force_precision && o->precision.kind == PLAN_PREC_GGUF)
        st = add_row(m, cache, hw, o, r, o->precision, stored, err);
    if (st != RS_OK) return st;

    r->chosen = -1;
    if (o->force_precision) {
        for (int i = 0; i < r->n_rows; i++) {
            plan_precision p = r->rows[i].precision;
            bool match = p.kind == o->precision.kind &&
                         (p.kind != PLAN_PREC_GGUF || p.type == o->precision.type);
            // --precision bf16 on a bf16 model is the stored row.
            if (!match && i == 0 && o->precision.kind == same) match = true;
            if (match) {
                r->rows[i].candidate = true;
                if (r->rows[i].layout.fits) r->chosen = i;
                for (int j = 0; j < r->n_rows; j++)
                    if (j != i) r->rows[j].candidate = false;
                break;
            }
        }
    } else if (o->prefer == PLAN_PREFER_SPEED) {
        double best = -1;
        for (int i = 0; i < r->n_rows; i++) {
            const plan_row *row = &r->rows[i];
            if (!row->candidate || !row->layout.fits) continue;
            if (row->speed.decode_tps > best * 1.0001) {
                best = row->speed.decode_tps;
                r->chosen = i;
            }
        }
    } else {
        int best = 99;
        for (int i = 0; i < r->n_rows; i++) {
            if (!r->rows[i].candidate) continue;
            int t = tier(&r->rows[i]);
            if (t < best) {
                best = t;
                r->chosen = i;
            }
        }
        if (best == 99) r->chosen = -1;
        if (best == 1) {
            // Nothing fits on the GPU(s) alone. A split decodes at the pace
            // of its CPU blocks, so the precision that leaves the CPU the
            // fewest blocks wins (the earlier, higher precision on a tie):
            // int4 with 4 of 28 blocks on a 2 GiB card rather than int8
            // with 1, which runs at nearly CPU-only speed.
            for (int i = 0; i < r->n_rows; i++) {
                const plan_row *row = &r->rows[i];
                if (row->candidate && tier(row) == 1 &&
                    row->layout.n_gpu_layers > r->rows[r->chosen].layout.n_gpu_layers)
                    r->chosen = i;
            }
        }
    }
    explain(m, hw, r);
    return RS_OK;
}
