// libFuzzer target: config.json text -> model_desc, then the architecture
// rules on what parsed (tensor synthesis, parameter and KV figures).
#include <stddef.h>
#include <stdint.h>

#include "model/model_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    model_desc m;
    model_desc_init(&m);
    rs_error err = {0};
    if (hf_config_parse("config.json", (const char *)data, size, &m, &err) == RS_OK) {
        // Keep each run fast: configs of more than ~20k tensors are valid
        // but only slow the search down.
        int64_t per_layer = 32 + 6 * m.n_expert;
        if (m.arch_rules_known && (m.n_layer + m.n_layer_mtp + m.vision.n_layer) * per_layer < 20000 &&
            arch_synthesize(&m, &err) == RS_OK)
            arch_finish(&m);
        (void)model_kv_bytes(&m, 4096, DTYPE_Q8_0);
        (void)model_kv_bytes_per_token(&m, DTYPE_F16);
    }
    model_desc_clear(&m);
    return 0;
}
