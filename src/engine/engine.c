#include "engine/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/backend_cuda.h"
#include "engine/engine_gpu.h"

#include "engine/cpu/matmul.h"
#include "engine/cpu/threadpool.h"
#include "engine/forward.h"
#include "engine/model_weights.h"

struct engine {
    forward_config cfg;
    model_weights w;
    kv_cache kv;
    run_state s;
    thread_pool *pool;
    int64_t pos;        // tokens in the cache
    int64_t last_row;   // row of s.logits holding the last token's logits
    engine_gpu *gpu;    // the first blocks on a CUDA device, or NULL
};

engine_options engine_default_options(void)
{
    engine_options o = {0};
    o.precision = plan_precision_of(PLAN_PREC_STORED);
    o.kv_type = DTYPE_F16;
    o.n_gpu_layers = -1;
    return o;
}

// The fewest tokens for which the output head's matmul keeps f32
// activations (1 when even a single token does, or when no count up to 16
// does).
static int64_t head_rows(const model_weights *w, int64_t n_batch)
{
    for (int64_t k = 1; k <= 16 && k <= n_batch; k++)
        if (!cpu_matmul_quantizes_activations(w->output.type, k)) return k;
    return 1;
}

// Once the GPUs hold their blocks (the first n_gpu, with the embedding, and
// the head when they end the model), the host keeps only what the CPU runs:
// the uploaded weights are given back and the host KV cache shrinks to the
// CPU's blocks, so that the process holds what the plan's CPU device counts.
static rs_status keep_cpu_share(engine *e, int64_t n_ctx, dtype kv_type, rs_error *err)
{
    engine_gpu_info gi;
    engine_gpu_info_get(e->gpu, &gi);
    const int64_t n_gpu = gi.n_gpu_layers;
    model_weights_release_blocks(&e->w, 0, n_gpu, true, n_gpu >= e->cfg.n_layer);
    forward_config rest = e->cfg;
    rest.layer_first = n_gpu;
    kv_cache_free(&e->kv);
    return kv_cache_init(&e->kv, &rest, n_ctx, kv_type, err);
}

rs_status engine_load(const model_desc *m, const engine_options *opt_in, engine **out,
                      rs_error *err)
{
    *out = NULL;
    engine_options opt = opt_in ? *opt_in : engine_default_options();
    engine *e = calloc(1, sizeof *e);
    if (!e) return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
    rs_status st;
    e->pool = thread_pool_init(opt.n_threads);
    if (!e->pool) {
        free(e);
        return rs_fail(err, RS_ERR_RUNTIME, "cannot start the thread pool");
    }
    weights_load_options wo = {
        .precision = opt.precision, .progress = opt.progress, .verbose = opt.verbose};
    if ((st = model_weights_load(m, &wo, e->pool, &e->w, err)) != RS_OK) {
        thread_pool_free(e->pool);
        free(e);
        return st;
    }

    forward_config *c = &e->cfg;
    c->n_layer = m->n_layer;
    c->n_embd = m->n_embd;
    c->n_head = m->n_head;
    c->n_head_kv = m->n_head_kv;
    c->head_dim = m->head_dim;
    c->n_ff = m->n_ff;
    c->n_vocab = m->n_vocab;
    c->rope_dim = m->rope_dim > 0 ? m->rope_dim : m->head_dim;
    c->rope_interleaved = m->rope_interleaved;
    c->norm_eps = (float)m->norm_eps;
    c->sliding_window = m->sliding_window;
    c->layer_swa = m->layer_is_swa;
    if (c->layer_swa) {
        // The description may be freed before the engine: keep a copy.
        uint8_t *swa = malloc((size_t)m->n_layer);
        if (swa) memcpy(swa, m->layer_is_swa, (size_t)m->n_layer);
        c->layer_swa = swa;
    }

    int64_t n_ctx = opt.n_ctx;
    if (n_ctx <= 0) n_ctx = m->n_ctx_train > 0 && m->n_ctx_train < 4096 ? m->n_ctx_train : 4096;
    int64_t n_batch = opt.n_batch > 0 ? opt.n_batch : 512;
    if (n_batch > n_ctx) n_batch = n_ctx;
    dtype kv_type = opt.kv_type == DTYPE_Q8_0 || opt.kv_type == DTYPE_F32 ? opt.kv_type : DTYPE_F16;
    if ((st = kv_cache_init(&e->kv, c, n_ctx, kv_type, err)) != RS_OK ||
        (st = run_state_init(&e->s, c, n_batch, n_ctx, thread_pool_size(e->pool), opt.logits_all,
                             err)) != RS_OK ||
        (st = run_state_set_head_rows(&e->s, c, head_rows(&e->w, n_batch), err)) != RS_OK) {
        engine_free(e);
        return st;
    }
    c->rope_attn_factor = rope_inv_freq(m, e->w.rope_factors, e->s.inv_freq);
    int dev = -1;
    if (backend_device_parse(opt.device, &dev) != 0) {
        engine_free(e);
        return rs_fail(err, RS_ERR_INPUT, "device \"%s\": expected cpu, cuda or cuda:N",
                       opt.device);
    }
    if (dev >= 0 && opt.n_gpu_layers != 0) {
        engine_gpu_params gp = {.device = dev,
                                .precision = opt.precision,
                                .n_gpu_layers = opt.n_gpu_layers,
                                .n_split = opt.n_split,
                                .n_ctx = n_ctx,
                                .n_batch = n_batch,
                                .logits_all = opt.logits_all,
                                .inv_freq = e->s.inv_freq};
        for (int i = 0; i < opt.n_split && i < ENGINE_GPU_MAX; i++) gp.split[i] = opt.split[i];
        char note[600] = "";
        if ((st = engine_gpu_open(m, c, &e->w, &gp, &e->gpu, note, sizeof note, err)) != RS_OK) {
            engine_free(e);
            return st;
        }
        if (!e->gpu) fprintf(stderr, "rightsize: %s; running on the CPU\n", note);
        if (e->gpu && (st = keep_cpu_share(e, n_ctx, kv_type, err)) != RS_OK) {
            engine_free(e);
            return st;
        }
    }
    *out = e;
    return RS_OK;
}

void engine_free(engine *e)
{
    if (!e) return;
    engine_gpu_free(e->gpu);
    run_state_free(&e->s);
    kv_cache_free(&e->kv);
    model_weights_free(&e->w);
    thread_pool_free(e->pool);
    free((void *)e->cfg.layer_swa);
    free(e);
}

static rs_status check_tokens(const engine *e, const int32_t *tokens, int64_t n, rs_error *err)
{
    if (n <= 0) return rs_fail(err, RS_ERR_INPUT, "no tokens to run");
    if (n > e->kv.n_ctx - e->pos)
        return rs_fail(err, RS_ERR_INPUT,
                       "context full: %lld tokens in the cache + %lld new > n_ctx %lld",
                       (long long)e->pos, (long long)n, (long long)e->kv.n_ctx);
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= e->cfg.n_vocab)
            return rs_fail(err, RS_ERR_INPUT, "token id %d at %lld is outside the vocabulary (%lld)",
                           tokens[i], (long long)i, (long long)e->cfg.n_vocab);
    return RS_OK;
}

rs_status engine_prefill(engine *e, const int32_t *tokens, int64_t n, float *logits_out,
                         rs_error *err)
{
    rs_status st = check_tokens(e, tokens, n, err);
    if (st != RS_OK) return st;
    const int64_t V = e->cfg.n_vocab;
    for (int64_t i = 0; i < n; i += e->s.n_batch) {
        int64_t nb = n - i < e->s.n_batch ? n - i : e->s.n_batch;
        // Only the last chunk's logits are kept, unless every token's are.
        e->s.skip_logits = i + nb < n && !(logits_out && e->s.logits_rows >= nb);
        if (e->gpu) {
            st = engine_gpu_forward(e->gpu, &e->cfg, &e->w, &e->kv, &e->s, e->pool, tokens + i, nb,
                                    e->pos, err);
            if (st != RS_OK) return st;
        } else {
            forward_batch(&e->cfg, &e->w, &e->kv, &e->s, e->pool, tokens + i, nb, e->pos);
        }
        e->pos += nb;
        bool all = e->s.logits_rows >= nb;
        if (logits_out && all) memcpy(logits_out + i * V, e->s.logits, (size_t)(nb * V) * sizeof(float));
        e->last_row = e->s.last_row;
        if (e->gpu) {
            // A GPU that ran every block computed the head itself.
            engine_gpu_info gi;
            engine_gpu_info_get(e->gpu, &gi);
            if (gi.n_gpu_layers >= e->cfg.n_layer) e->last_row = all ? nb - 1 : 0;
        }
    }
    return RS_OK;
}

rs_status engine_decode(engine *e, int32_t token, rs_error *err)
{
    return engine_prefill(e, &token, 1, NULL, err);
}

const float *engine_logits(const engine *e)
{
    return e->s.logits + e->last_row * e->cfg.n_vocab;
}

int64_t engine_n_vocab(const engine *e)
{
    return e->cfg.n_vocab;
}

int64_t engine_n_ctx(const engine *e)
{
    return e->kv.n_ctx;
}

int64_t engine_pos(const engine *e)
{
    return e->pos;
}

int64_t engine_rewind(engine *e, int64_t pos)
{
    if (pos < 0) pos = 0;
    if (pos >= e->pos) return e->pos;
    // A sliding-window ring that has wrapped has overwritten the positions a
    // token at pos would need, unless pos is the last one or later.
    for (int64_t l = 0; l < e->cfg.n_layer; l++)
        if (e->kv.rows[l] < e->kv.n_ctx && e->pos > e->kv.rows[l] && pos < e->pos - 1) pos = 0;
    e->pos = pos;
    return pos;
}

void engine_memory_usage(const engine *e, engine_memory *out)
{
    out->weights = e->w.bytes_total;
    out->weights_converted = e->w.bytes_converted;
    out->weights_released = e->w.bytes_released;
    out->kv_cache = e->kv.bytes;
    out->activations = e->s.bytes;
}

dtype engine_weight_type(const engine *e)
{
    return e->w.main_type;
}

int engine_gpu_devices(const engine *e, engine_gpu_info *out, int max)
{
    return e->gpu ? engine_gpu_parts(e->gpu, out, max) : 0;
}

bool engine_on_gpu(const engine *e, engine_gpu_info *out)
{
    if (!e->gpu) return false;
    if (out) engine_gpu_info_get(e->gpu, out);
    return true;
}
