#include "engine/engine_gpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/backend_cuda.h"
#include "hw/hw.h"
#include "plan/memory.h"

// One device's share: blocks [first, first + n) (engine_gpu.h).
typedef struct gpu_part {
    rs_cuda_ctx *ctx;
    engine_gpu_info info;
} gpu_part;

struct engine_gpu {
    const rs_cuda_api *api;
    int n_parts;
    gpu_part part[ENGINE_GPU_MAX];
    int64_t n_gpu_layers; // over all parts
    engine_gpu_info info; // part 0's, with n_gpu_layers over all parts
};

static rs_cuda_weight cw(const weight *w)
{
    rs_cuda_weight r = {w->data, (int)w->type, w->n_in, w->n_out};
    return r;
}

// Creates the context of blocks [first, first + n) on `device`, filling in
// with the plan's figures and the allocations.
static rs_status open_part(const engine_gpu *g, const model_desc *m, const forward_config *cfg,
                           const model_weights *w, const engine_gpu_params *p,
                           const rs_cuda_layer *layers, int device, int64_t first, int64_t n,
                           gpu_part *out, rs_error *err)
{
    const rs_cuda_api *api = g->api;
    const int64_t L = cfg->n_layer;
    const bool with_embd = first == 0, with_output = first + n == L;
    char cerr[512] = "";
    rs_cuda_model cm = {0};
    cm.device = device;
    cm.layer_first = first;
    cm.n_layer = n;
    cm.n_embd = cfg->n_embd;
    cm.n_head = cfg->n_head;
    cm.n_head_kv = cfg->n_head_kv;
    cm.head_dim = cfg->head_dim;
    cm.n_ff = cfg->n_ff;
    cm.n_vocab = cfg->n_vocab;
    cm.rope_dim = cfg->rope_dim;
    cm.rope_interleaved = cfg->rope_interleaved;
    cm.rope_attn_factor = cfg->rope_attn_factor;
    cm.norm_eps = cfg->norm_eps;
    cm.sliding_window = cfg->sliding_window;
    cm.layer_swa = cfg->layer_swa ? cfg->layer_swa + first : NULL;
    cm.inv_freq = p->inv_freq;
    cm.n_ctx = p->n_ctx;
    cm.n_batch = p->n_batch;
    cm.logits_all = p->logits_all;
    cm.with_embd = with_embd;
    cm.with_output = with_output;
    if (with_embd) cm.tok_embd = cw(&w->tok_embd);
    if (with_output) {
        cm.output = cw(&w->output);
        cm.out_norm = w->out_norm;
    }
    cm.layers = layers + first;

    // The plan's figures for this device (the engine's KV is f16 on the GPU):
    // the compute arena is plan_compute_gpu's, the function the device
    // sizes its own arena with (plan/gpu_arena.h).
    engine_gpu_info *in = &out->info;
    plan_weights pw;
    if (plan_weights_init(&pw, m, p->precision, err) != RS_OK) return RS_ERR_INPUT;
    plan_gpu_arena arena;
    plan_compute_gpu(m, &pw, first, first + n, with_output, p->n_batch, p->n_ctx,
                     p->logits_all ? p->n_batch : 1, &arena);
    in->plan_weights = plan_weights_range(&pw, first, first + n, with_embd, with_output);
    plan_weights_free(&pw);
    cm.compute_bytes_planned = arena.total;
    cm.kv_bytes_planned = plan_kv_bytes_range(m, first, first + n, p->n_ctx, 1, DTYPE_F16);
    in->plan_compute = arena.total;
    in->plan_kv = cm.kv_bytes_planned;
    in->plan_overhead = plan_overhead_gpu();

    if (api->create(&cm, &out->ctx, cerr, sizeof cerr) != 0)
        return rs_fail(err, RS_ERR_RUNTIME, "CUDA device %d: %s", device, cerr);
    rs_cuda_mem mem;
    api->memory(out->ctx, &mem);
    in->device = device;
    in->layer_first = first;
    in->n_gpu_layers = n;
    in->weights = mem.weights;
    in->kv = mem.kv;
    in->compute = mem.compute;
    in->free_before = mem.free_before;
    in->free_after = mem.free_after;
    in->total = mem.total;
    uint64_t fb = 0, tb = 0;
    api->device_info(device, in->name, sizeof in->name, &fb, &tb, cerr, sizeof cerr);
    return RS_OK;
}

rs_status engine_gpu_open(const model_desc *m, const forward_config *cfg, const model_weights *w,
                          const engine_gpu_params *p, engine_gpu **out, char *note, size_t note_n,
                          rs_error *err)
{
    *out = NULL;
    const rs_cuda_api *api = backend_cuda_open(note, note_n);
    if (!api) return RS_OK;
    int n_dev = 0;
    char cerr[512] = "";
    api->device_count(&n_dev, cerr, sizeof cerr);
    const int64_t L = cfg->n_layer;
    // Blocks per device: the split (consecutive devices from p->device), or
    // the first n_gpu_layers on one.
    int64_t counts[ENGINE_GPU_MAX];
    int n_parts = 1;
    if (p->n_split > 0) {
        if (p->n_split > ENGINE_GPU_MAX)
            return rs_fail(err, RS_ERR_INPUT, "--split: at most %d GPUs", ENGINE_GPU_MAX);
        int64_t sum = 0;
        for (int i = 0; i < p->n_split; i++) {
            if (p->split[i] < 1)
                return rs_fail(err, RS_ERR_INPUT, "--split: every GPU takes at least one block");
            counts[i] = p->split[i];
            sum += p->split[i];
        }
        if (sum > L)
            return rs_fail(err, RS_ERR_INPUT, "--split: %lld blocks, the model has %lld",
                           (long long)sum, (long long)L);
        n_parts = p->n_split;
    } else {
        counts[0] = p->n_gpu_layers < 0 || p->n_gpu_layers > L ? L : p->n_gpu_layers;
    }
    if (p->device + n_parts > n_dev)
        return rs_fail(err, RS_ERR_INPUT,
                       "--device cuda:%d%s: this machine has %d CUDA device(s)", p->device,
                       n_parts > 1 ? " with a split over several GPUs" : "", n_dev);
    int64_t n_gpu = 0;
    for (int i = 0; i < n_parts; i++) n_gpu += counts[i];

    engine_gpu *g = calloc(1, sizeof *g);
    rs_cuda_layer *layers = calloc((size_t)(n_gpu > 0 ? n_gpu : 1), sizeof *layers);
    if (!g || !layers) {
        free(g);
        free(layers);
        return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
    }
    g->api = api;
    for (int64_t l = 0; l < n_gpu; l++) {
        const layer_weights *s = &w->layers[l];
        rs_cuda_layer *d = &layers[l];
        d->attn_norm = s->attn_norm;
        d->ffn_norm = s->ffn_norm;
        d->bq = s->bq, d->bk = s->bk, d->bv = s->bv;
        d->q_norm = s->q_norm, d->k_norm = s->k_norm;
        d->wq = cw(&s->wq), d->wk = cw(&s->wk), d->wv = cw(&s->wv), d->wo = cw(&s->wo);
        d->w_gate = cw(&s->w_gate), d->w_up = cw(&s->w_up), d->w_down = cw(&s->w_down);
    }
    rs_status st = RS_OK;
    int64_t first = 0;
    for (int i = 0; i < n_parts && st == RS_OK; i++) {
        st = open_part(g, m, cfg, w, p, layers, p->device + i, first, counts[i], &g->part[i], err);
        if (st == RS_OK) g->n_parts++;
        first += counts[i];
    }
    free(layers);
    if (st != RS_OK) {
        engine_gpu_free(g);
        return st;
    }
    g->n_gpu_layers = n_gpu;
    g->info = g->part[0].info;
    g->info.n_gpu_layers = n_gpu;
    *out = g;
    return RS_OK;
}

void engine_gpu_free(engine_gpu *g)
{
    if (!g) return;
    for (int i = 0; i < g->n_parts; i++)
        if (g->part[i].ctx) g->api->destroy(g->part[i].ctx);
    free(g);
}

rs_status engine_gpu_forward(engine_gpu *g, const forward_config *cfg, const model_weights *w,
                             kv_cache *kv, run_state *s, thread_pool *pool, const int32_t *tokens,
                             int64_t n, int64_t pos, rs_error *err)
{
    char cerr[512] = "";
    const bool all = g->n_gpu_layers == cfg->n_layer;
    // Device i takes the residual stream device i - 1 left in s->x (host
    // memory: the activations of one chunk, n x n_embd floats).
    for (int i = 0; i < g->n_parts; i++) {
        const gpu_part *pt = &g->part[i];
        const bool head = all && i == g->n_parts - 1;
        if (g->api->forward(pt->ctx, i == 0 ? tokens : NULL, i == 0 ? NULL : s->x, n, pos,
                            head ? NULL : s->x, head ? s->logits : NULL, s->logits_rows, cerr,
                            sizeof cerr) != 0)
            return rs_fail(err, RS_ERR_RUNTIME, "CUDA device %d: %s", pt->info.device, cerr);
    }
    if (!all) {
        // The GPUs left the residual stream of the first blocks in s->x.
        forward_config rest = *cfg;
        rest.layer_first = g->n_gpu_layers;
        forward_batch(&rest, w, kv, s, pool, tokens, n, pos);
    }
    return RS_OK;
}

void engine_gpu_info_get(const engine_gpu *g, engine_gpu_info *out)
{
    *out = g->info;
}

int engine_gpu_parts(const engine_gpu *g, engine_gpu_info *out, int max)
{
    int n = 0;
    for (; n < g->n_parts && n < max; n++) out[n] = g->part[n].info;
    return n;
}

rs_status engine_gpu_device_memory(int device, uint64_t *free_b, uint64_t *total_b, rs_error *err)
{
    char note[600] = "", cerr[512] = "", name[96] = "";
    const rs_cuda_api *api = backend_cuda_open(note, sizeof note);
    if (!api) return rs_fail(err, RS_ERR_RUNTIME, "%s", note);
    if (api->device_info(device, name, sizeof name, free_b, total_b, cerr, sizeof cerr) != 0)
        return rs_fail(err, RS_ERR_RUNTIME, "CUDA device %d: %s", device, cerr);
    return RS_OK;
}

rs_status engine_gpu_measure_bandwidth(int device, double *gbs, rs_error *err)
{
    char note[600] = "", cerr[512] = "", name[96] = "";
    const rs_cuda_api *api = backend_cuda_open(note, sizeof note);
    if (!api) return rs_fail(err, RS_ERR_RUNTIME, "%s", note);
    if (api->measure_copy(device, 1ull << 30, 20, gbs, cerr, sizeof cerr) != 0)
        return rs_fail(err, RS_ERR_RUNTIME, "CUDA device %d: %s", device, cerr);
    uint64_t fb = 0, tb = 0;
    api->device_info(device, name, sizeof name, &fb, &tb, cerr, sizeof cerr);
    hw_info hw;
    rs_error e2;
    // The cache feeds the speed model; failing to write it loses nothing else.
    if (hw_probe(&hw, &e2) == RS_OK) hw_cache_store_gpu_bandwidth(&hw, name, *gbs, &e2);
    return RS_OK;
}
