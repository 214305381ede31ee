// libFuzzer target: the --gpu argument parser and the GPU table lookup on
// arbitrary bytes ("RTX 4090x2", "8x H100", "M2 Max 64GB", "H100,A100"...).
// The parsing walks strings by hand, so any over-read, overflow or UB is a
// finding; a success must describe 1..HW_MAX_GPUS cards with memory.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hw/gpu_table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    char *arg = malloc(size + 1);
    if (!arg) return 0;
    memcpy(arg, data, size);
    arg[size] = '\0';

    (void)gpu_table_find(arg);
    const gpu_spec *close[5];
    int n = gpu_table_close_matches(arg, close, 5);
    if (n < 0 || n > 5) abort();

    hw_info hw;
    memset(&hw, 0, sizeof hw);
    rs_error err = {0};
    if (hw_set_hypothetical_gpus(&hw, arg, &err) == RS_OK) {
        if (hw.n_gpus < 1 || hw.n_gpus > HW_MAX_GPUS) abort();
        for (int i = 0; i < hw.n_gpus; i++)
            if (hw.gpus[i].mem_total == 0 || !hw.gpus[i].hypothetical) abort();
    } else if (err.msg[0] == '\0') {
        abort(); // a failure always says why
    }
    free(arg);
    return 0;
}
