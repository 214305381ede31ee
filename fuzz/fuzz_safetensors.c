// libFuzzer target: the input is parsed twice, as a whole safetensors file
// image (8-byte length + header + data) and as a bare JSON header of a file
// with some data after it. Any crash, leak, over-read or UB is a finding.
#include <stddef.h>
#include <stdint.h>

#include "model/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void touch(const st_file *f)
{
    volatile uint64_t sink = 0;
    for (int64_t i = 0; i < f->n_tensors; i++) {
        const st_tensor *t = &f->tensors[i];
        // Invariants the reader promises.
        if (t->begin > t->end || t->end > f->file_size || t->begin < f->data_offset ||
            t->n_dims < 0 || t->n_dims > ST_MAX_DIMS || t->n_elems < 0)
            __builtin_trap();
        sink += (uint64_t)t->name[0] + (uint64_t)(st_find(f, t->name) != NULL);
    }
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_file *f = NULL;
    rs_error err;
    if (st_parse_image("fuzz.safetensors", data, size, &f, &err) == RS_OK) {
        touch(f);
        st_close(f);
    }
    if (st_parse_header("fuzz-header", (const char *)data, size, 8 + (uint64_t)size + 4096, &f,
                        &err) == RS_OK) {
        touch(f);
        st_close(f);
    }
    return 0;
}
