#include "plan/plan_json.h"

#include <cjson/cJSON.h>
#include <stdio.h>

static const char *prefer_name(plan_prefer p)
{
    return p == PLAN_PREFER_SPEED ? "speed" : "quality";
}

cJSON *plan_model_to_json(const model_desc *m)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddStringToObject(j, "name", m->name ? m->name : "");
    cJSON_AddStringToObject(j, "path", m->path ? m->path : "");
    cJSON_AddStringToObject(j, "arch", m->arch_name ? m->arch_name : model_arch_name(m->arch));
    cJSON_AddNumberToObject(j, "n_params", (double)m->n_params);
    cJSON_AddNumberToObject(j, "n_params_active", (double)m->n_params_active);
    cJSON_AddStringToObject(j, "stored_type", dtype_name(m->stored_type));
    cJSON_AddNumberToObject(j, "n_layer", (double)m->n_layer);
    cJSON_AddNumberToObject(j, "n_ctx_train", (double)m->n_ctx_train);
    return j;
}

cJSON *plan_options_to_json(const plan_options *o)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddNumberToObject(j, "n_ctx", (double)o->n_ctx);
    cJSON_AddNumberToObject(j, "n_parallel", (double)o->n_parallel);
    cJSON_AddNumberToObject(j, "n_batch", (double)o->n_batch);
    cJSON_AddStringToObject(j, "kv_type", dtype_name(o->kv_type));
    cJSON_AddStringToObject(j, "prefer", prefer_name(o->prefer));
    if (o->force_precision)
        cJSON_AddStringToObject(j, "precision", plan_precision_name(o->precision));
    else
        cJSON_AddNullToObject(j, "precision");
    cJSON_AddBoolToObject(j, "gpu_only", o->gpu_only);
    return j;
}

static cJSON *hw_json(const hw_info *hw)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddStringToObject(j, "cpu_model", hw->cpu_model);
    cJSON_AddNumberToObject(j, "cpu_cores", hw->cpu_cores);
    cJSON_AddNumberToObject(j, "ram_available", (double)hw->ram_available);
    cJSON_AddBoolToObject(j, "ram_hypothetical", hw->ram_hypothetical);
    cJSON *gpus = cJSON_AddArrayToObject(j, "gpus");
    for (int i = 0; i < hw->n_gpus && gpus; i++) {
        const hw_gpu *g = &hw->gpus[i];
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        cJSON_AddNumberToObject(o, "index", i);
        cJSON_AddStringToObject(o, "name", g->name);
        cJSON_AddNumberToObject(o, "mem_total", (double)g->mem_total);
        cJSON_AddNumberToObject(o, "mem_free", (double)g->mem_free);
        cJSON_AddNumberToObject(o, "bandwidth_gbs", g->bandwidth_gbs);
        cJSON_AddNumberToObject(o, "bandwidth_measured_gbs", g->bandwidth_measured_gbs);
        cJSON_AddNumberToObject(o, "tflops_bf16", g->tflops_bf16);
        cJSON_AddBoolToObject(o, "hypothetical", g->hypothetical);
        cJSON_AddItemToArray(gpus, o);
    }
    return j;
}

static cJSON *device_json(const plan_device *d)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    char name[16];
    if (d->gpu_index >= 0) snprintf(name, sizeof name, "gpu%d", d->gpu_index);
    else snprintf(name, sizeof name, "cpu");
    cJSON_AddStringToObject(j, "device", name);
    cJSON_AddNumberToObject(j, "layer_first", (double)d->layer_first);
    cJSON_AddNumberToObject(j, "layer_last", (double)d->layer_last);
    cJSON_AddBoolToObject(j, "has_embd", d->has_embd);
    cJSON_AddBoolToObject(j, "has_output", d->has_output);
    cJSON_AddNumberToObject(j, "weights", (double)d->weights);
    cJSON_AddNumberToObject(j, "kv", (double)d->kv);
    cJSON_AddNumberToObject(j, "compute", (double)d->compute);
    cJSON_AddNumberToObject(j, "overhead", (double)d->overhead);
    cJSON_AddNumberToObject(j, "total", (double)d->total);
    cJSON_AddNumberToObject(j, "capacity", (double)d->capacity);
    cJSON_AddNumberToObject(j, "usable", (double)d->usable);
    cJSON_AddBoolToObject(j, "fits", d->total <= d->usable);
    return j;
}

static cJSON *row_json(const model_desc *m, const plan_row *row)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    const plan_layout *l = &row->layout;
    cJSON_AddStringToObject(j, "precision", plan_precision_name(row->precision));
    if (row->precision.kind == PLAN_PREC_STORED)
        cJSON_AddStringToObject(j, "stored_type", dtype_name(m->stored_type));
    cJSON_AddBoolToObject(j, "candidate", row->candidate);
    cJSON_AddBoolToObject(j, "fits", l->fits);
    cJSON_AddStringToObject(j, "placement", plan_placement_name(l->fits ? l->placement
                                                                         : PLAN_PLACE_NONE));
    cJSON_AddStringToObject(j, "layout", plan_placement_name(l->placement));
    cJSON_AddNumberToObject(j, "n_gpu_layers", (double)l->n_gpu_layers);
    uint64_t w = 0, kv = 0, c = 0, ov = 0, t = 0;
    for (int i = 0; i < l->n_dev; i++) {
        w += l->dev[i].weights;
        kv += l->dev[i].kv;
        c += l->dev[i].compute;
        ov += l->dev[i].overhead;
        t += l->dev[i].total;
    }
    cJSON_AddNumberToObject(j, "weights_one_device", (double)row->weights);
    cJSON_AddNumberToObject(j, "weights", (double)w);
    cJSON_AddNumberToObject(j, "kv", (double)kv);
    cJSON_AddNumberToObject(j, "compute", (double)c);
    cJSON_AddNumberToObject(j, "overhead", (double)ov);
    cJSON_AddNumberToObject(j, "total", (double)t);
    cJSON_AddNumberToObject(j, "seed_rule", (double)row->seed_rule);
    cJSON_AddNumberToObject(j, "max_ctx", (double)row->max_ctx);
    cJSON_AddNumberToObject(j, "decode_tps", row->speed.decode_tps);
    cJSON_AddNumberToObject(j, "decode_tps_total", row->speed.decode_tps_total);
    cJSON_AddNumberToObject(j, "prefill_tps", row->speed.prefill_tps);
    cJSON_AddNumberToObject(j, "n_hops", row->speed.n_hops);
    cJSON_AddNumberToObject(j, "hop_s", row->speed.hop_s);
    cJSON *devs = cJSON_AddArrayToObject(j, "devices");
    for (int i = 0; i < l->n_dev && devs; i++) cJSON_AddItemToArray(devs, device_json(&l->dev[i]));
    return j;
}

cJSON *plan_result_to_json(const model_desc *m, const hw_info *hw, const plan_result *r)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddItemToObject(j, "model", plan_model_to_json(m));
    cJSON_AddItemToObject(j, "options", plan_options_to_json(&r->opts));
    cJSON_AddItemToObject(j, "hardware", hw_json(hw));
    cJSON *rows = cJSON_AddArrayToObject(j, "rows");
    for (int i = 0; i < r->n_rows && rows; i++) cJSON_AddItemToArray(rows, row_json(m, &r->rows[i]));
    cJSON *d = cJSON_AddObjectToObject(j, "decision");
    if (d) {
        cJSON_AddBoolToObject(d, "fits", r->chosen >= 0);
        if (r->chosen >= 0) {
            const plan_row *row = &r->rows[r->chosen];
            cJSON_AddNumberToObject(d, "row", r->chosen);
            cJSON_AddStringToObject(d, "precision", plan_precision_name(row->precision));
            cJSON_AddStringToObject(d, "placement", plan_placement_name(row->layout.placement));
            cJSON_AddNumberToObject(d, "n_gpu_layers", (double)row->layout.n_gpu_layers);
            // The GPUs in block order and their block counts: what
            // `--device cuda:N --split A,B` loads.
            int gi[HW_MAX_GPUS];
            int64_t gb[HW_MAX_GPUS];
            int k = plan_layout_gpu_split(&row->layout, gi, gb, HW_MAX_GPUS);
            cJSON *gpus = cJSON_AddArrayToObject(d, "gpus");
            cJSON *split = cJSON_AddArrayToObject(d, "gpu_split");
            for (int i = 0; i < k && gpus && split; i++) {
                cJSON_AddItemToArray(gpus, cJSON_CreateNumber(gi[i]));
                cJSON_AddItemToArray(split, cJSON_CreateNumber((double)gb[i]));
            }
            cJSON_AddNumberToObject(d, "decode_tps", row->speed.decode_tps);
            cJSON_AddNumberToObject(d, "prefill_tps", row->speed.prefill_tps);
        } else {
            cJSON_AddNumberToObject(d, "needed", (double)r->needed);
            cJSON_AddNumberToObject(d, "available", (double)r->available);
        }
        cJSON_AddStringToObject(d, "reason", r->reason);
    }
    return j;
}
