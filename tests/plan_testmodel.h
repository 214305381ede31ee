#ifndef RS_TESTS_PLAN_TESTMODEL_H
#define RS_TESTS_PLAN_TESTMODEL_H

// A hand-built model for the planner tests, sized so that device totals are
// easy to compute by hand (MiB in the comments):
//   10 blocks, each one bf16 matrix of 4096 x 65536  = 512 MiB (int8 272, int4 144)
//   token_embd 4096 x 32768 bf16                      = 256 MiB (int8 136, int4 Q4_K 72)
//   output     4096 x 32768 bf16                      = 256 MiB (int8 136, int4 Q6_K 105)
//   GQA: 32 heads, 8 KV heads of 128: KV f16 4 KiB per token and block
//   GPU compute at ctx 4096, batch 512: 142.3 MiB, +32 MiB quantized (test_plan_fit)
#include <string.h>

#include "hw/hw.h"
#include "model/model.h"

static model_tensor toy_tensors[12];
static char toy_names[12][32];

static model_desc toy_model(void)
{
    memset(toy_tensors, 0, sizeof toy_tensors);
    for (int i = 0; i < 12; i++) {
        model_tensor *t = &toy_tensors[i];
        if (i < 10) snprintf(toy_names[i], sizeof toy_names[i], "blk.%d.ffn_up.weight", i);
        else snprintf(toy_names[i], sizeof toy_names[i], i == 10 ? "token_embd.weight" : "output.weight");
        t->name = toy_names[i];
        t->n_dims = 2;
        t->ne[0] = 4096;
        t->ne[1] = i < 10 ? 65536 : 32768;
        t->n_elems = t->ne[0] * t->ne[1];
        t->type = DTYPE_BF16;
        t->file = -1;
    }
    model_desc m;
    memset(&m, 0, sizeof m);
    m.path = "toy";
    m.n_layer = 10;
    m.n_embd = 4096;
    m.n_head = 32;
    m.n_head_kv = 8;
    m.head_dim = 128;
    m.n_ff = 14336;
    m.n_vocab = 32768;
    m.n_ctx_train = 131072;
    m.tensors = toy_tensors;
    m.n_tensors = 12;
    m.stored_type = DTYPE_BF16;
    m.n_params = 10ull * 4096 * 65536 + 2ull * 4096 * 32768;
    m.n_params_active = m.n_params;
    return m;
}

#define MiB (1ull << 20)
#define GiB (1ull << 30)

// One hypothetical GPU (or none) and some RAM.
static hw_info toy_hw(int n_gpus, const uint64_t *gpu_free, uint64_t ram)
{
    hw_info hw;
    memset(&hw, 0, sizeof hw);
    hw.cpu_cores = 2;
    hw.cpu_threads = 2;
    hw.cpu_bandwidth_gbs = 50;
    hw.cpu_gflops = 200;
    hw.ram_total = hw.ram_available = ram;
    hw.n_gpus = n_gpus;
    for (int i = 0; i < n_gpus; i++) {
        snprintf(hw.gpus[i].name, sizeof hw.gpus[i].name, "Test GPU %d", i);
        hw.gpus[i].index = i;
        hw.gpus[i].mem_total = hw.gpus[i].mem_free = gpu_free[i];
        hw.gpus[i].bandwidth_gbs = 1000;
        hw.gpus[i].tflops_bf16 = 100;
        hw.gpus[i].hypothetical = true;
    }
    return hw;
}

#endif
