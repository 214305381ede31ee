#ifndef RS_CLI_PLAN_PRINT_H
#define RS_CLI_PLAN_PRINT_H

#include <stdio.h>

#include "hw/gpu_table.h"
#include "hw/hw.h"
#include "model/model.h"
#include "plan/fit.h"

// The readable plan, 80 columns: the model and machine, a table per
// precision, a memory bar per device, and the decision in one line.
void plan_print(FILE *out, const model_desc *m, const hw_info *hw, const plan_result *r);

// One card of the table for `plan --gpus all`.
typedef struct plan_gpu_verdict {
    const gpu_spec *spec;
    bool runs;
    plan_precision precision;
    int64_t max_ctx;
    double decode_tps;
    uint64_t total; // planned GPU bytes when it runs; the smallest need when not
} plan_gpu_verdict;

void plan_print_gpus_all(FILE *out, const model_desc *m, const plan_options *o,
                         const plan_gpu_verdict *v, int n);

// A memory bar of `width` cells: W weights, K KV cache, C compute, O
// overhead, '.' free, '-' the margin; '!' in the last cell when over.
void plan_bar(char *buf, int width, const plan_device *d);

#endif
