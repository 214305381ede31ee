#ifndef RS_HW_GPU_TABLE_H
#define RS_HW_GPU_TABLE_H

#include <stdbool.h>

#include "hw/hw.h"
#include "util/error.h"

// The GPU and accelerator table (data/gpus.json, compiled in): what a card
// has, for what-if plans (--gpu "RTX 4090x2") and to fill in what NVML does
// not report (TFLOPS). Each row names its source.
typedef struct gpu_spec {
    const char *name;       // "NVIDIA GeForce RTX 4090"
    const char *key;        // short lookup key: "rtx4090"
    double mem_gib;         // memory, GiB
    double bandwidth_gbs;   // GB/s
    double tflops_bf16;     // dense bf16/fp16 tensor TFLOPS (no sparsity)
    bool unified_memory;    // Apple silicon
    const char *vendor;     // "nvidia", "amd", "apple"
    const char *source;     // where the figures come from (URL)
    const char *note;       // how a figure was derived, "" when taken as printed
    int cc_major, cc_minor; // CUDA compute capability, 0 for non-NVIDIA
} gpu_spec;

int gpu_table_count(void);
const gpu_spec *gpu_table_get(int i);

// Finds a card by a user's spelling: "RTX 4090", "rtx4090", "H100",
// "H100 SXM", "A100 80GB", "M2 Max", or an NVML name. NULL if none matches.
const gpu_spec *gpu_table_find(const char *name);

// Replaces the GPUs of hw with hypothetical ones from a --gpu argument:
// "RTX 4090", "H100x8", "RTX 4090x2", "A100 80GB x4". Bad names fail with
// RS_ERR_INPUT and the list of close matches.
// Several kinds join with commas: "H100x2,RTX 4090". A trailing memory size
// overrides the table's ("M2 Max 64GB"). Hypothetical cards have mem_free =
// mem_total. For unified-memory parts (Apple, MI300A) the card's memory is
// also the machine's RAM, so ram_total/ram_available become it
// (ram_hypothetical) unless hw_set_hypothetical_ram set the RAM already.
rs_status hw_set_hypothetical_gpus(hw_info *hw, const char *arg, rs_error *err);

// Up to max_out table rows nearest to a misspelled name (edit distance on
// lower-case letters and digits), for "did you mean" messages.
int gpu_table_close_matches(const char *name, const gpu_spec **out, int max_out);

#endif
