// libFuzzer target: gguf_parse on arbitrary bytes, then every accessor on
// what it accepted. Any crash, leak, over-read or UB is a finding.
#include <stddef.h>
#include <stdint.h>

#include "model/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gguf_file *f = NULL;
    rs_error err;
    if (gguf_parse(data, size, "fuzz.gguf", &f, &err) != RS_OK) return 0;
    volatile uint64_t sink = 0;
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const gguf_kv *kv = &f->kv[i];
        int64_t iv;
        double dv;
        sink += gguf_get_int(f, kv->key, &iv) + gguf_get_float(f, kv->key, &dv);
        if (gguf_get_str(f, kv->key)) sink += kv->str_len;
        if (kv->type != GGUF_TYPE_ARRAY) continue;
        for (uint64_t j = 0; j < kv->arr_n && j < 64; j++) {
            if (kv->arr_type == GGUF_TYPE_STRING) {
                uint64_t len;
                const char *s = gguf_arr_str(f, kv, j, &len);
                if (s && len) sink += (uint8_t)s[len - 1]; // the last byte must be readable
            } else {
                sink += (uint64_t)gguf_arr_int(kv, j);
                sink += (uint64_t)(gguf_arr_float(kv, j) != 0);
            }
        }
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor_info *t = &f->tensors[i];
        if (t->nbytes) sink += data[t->offset] + data[t->offset + t->nbytes - 1];
    }
    (void)sink;
    gguf_close(f);
    return 0;
}
