#include "plan/memory.h"

// The KV cache comes from the architecture rules (model_kv_bytes), which know
// GQA, head_dim, sliding-window layers and MLA's latent cache. For a range of
// blocks the planner asks the same function about a view of the model that
// holds just those blocks, so a layer split sums exactly to the whole.
uint64_t plan_kv_bytes_range(const model_desc *m, int64_t first, int64_t last, int64_t n_ctx,
                             int64_t n_seq, dtype kv_type)
{
    if (first < 0) first = 0;
    if (last > m->n_layer) last = m->n_layer;
    if (last <= first || n_ctx <= 0) return 0;
    if (n_seq < 1) n_seq = 1;
    model_desc view = *m;
    view.n_layer = last - first;
    view.layer_is_swa = m->layer_is_swa ? m->layer_is_swa + first : NULL;
    return model_kv_bytes(&view, n_ctx, kv_type) * (uint64_t)n_seq;
}

uint64_t plan_kv_bytes(const model_desc *m, int64_t n_ctx, int64_t n_seq, dtype kv_type)
{
    return plan_kv_bytes_range(m, 0, m->n_layer, n_ctx, n_seq, kv_type);
}
