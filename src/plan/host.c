#include "plan/host.h"

// The types whose blocks the CUDA upload splits into a payload and a header
// array (split_layout_of in src/engine/cuda/common.cuh), through a host copy
// of the whole matrix.
static bool upload_reorders(dtype t)
{
    return t == DTYPE_Q8_0 || t == DTYPE_Q4_0 || t == DTYPE_Q4_1 || t == DTYPE_Q5_0 ||
           t == DTYPE_Q6_K;
}

// Whether a tensor of this role (block `layer`) lies on a GPU of the layout.
static bool on_gpu(const plan_layout *l, plan_tensor_role role, int64_t layer)
{
    for (int i = 0; i < l->n_dev; i++) {
        const plan_device *d = &l->dev[i];
        if (d->gpu_index < 0) continue;
        if (role == PLAN_ROLE_LAYER && layer >= d->layer_first && layer < d->layer_last)
            return true;
        if (role == PLAN_ROLE_EMBD && d->has_embd) return true;
        if (role == PLAN_ROLE_OUTPUT && d->has_output) return true;
    }
    return false;
}

uint64_t plan_host_upload_staging(const model_desc *m, plan_precision p, const plan_layout *l)
{
    uint64_t most = 0;
    for (int64_t i = 0; i < m->n_tensors; i++) {
        const model_tensor *t = &m->tensors[i];
        if (t->n_dims != 2) continue;
        int64_t layer = -1;
        plan_tensor_role role = plan_tensor_role_of(m, t, &layer);
        if (role == PLAN_ROLE_SKIP || !on_gpu(l, role, layer)) continue;
        if (!upload_reorders(plan_model_tensor_type(m, t, p))) continue;
        uint64_t b = plan_tensor_bytes(m, t, p);
        if (b > most) most = b;
    }
    return most;
}

uint64_t plan_host_load_peak(const model_desc *m, const plan_weights *w, plan_precision p,
                             const plan_layout *l)
{
    if (l->n_dev < 1 || l->dev[0].gpu_index >= 0) return 0;
    const plan_device *cpu = &l->dev[0];
    if (l->n_dev == 1) return cpu->total;
    // Before the upload the host holds every weight once (a tied table too).
    uint64_t gpu_share = w->total > cpu->weights ? w->total - cpu->weights : 0;
    return cpu->total + gpu_share + plan_host_upload_staging(m, p, l);
}
