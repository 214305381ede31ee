// Fuzzes tokenizer.json loading from bytes; a tokenizer that loads must
// encode and decode a fixed text without trouble.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tok/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tokenizer *t;
    rs_error err = {0};
    if (tokenizer_load_hf_json((const char *)data, size, NULL, 0, "fuzz", &t, &err) != RS_OK)
        return 0;
    static const char text[] = "Hello wörld 123 <s> \xF0\x9F\xA6\x99 \xFF the\n\n  x";
    int32_t *ids;
    int64_t n;
    if (tokenizer_encode(t, text, sizeof text - 1, true, true, &ids, &n, &err) == RS_OK) {
        for (int64_t i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= tokenizer_vocab_size(t)) abort();
        char *out;
        size_t ol;
        if (tokenizer_decode(t, ids, n, 0, &out, &ol, &err) == RS_OK) free(out);
        free(ids);
    }
    tokenizer_free(t);
    return 0;
}
