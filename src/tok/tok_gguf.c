#include "tok/tok_internal.h"

rs_status tokenizer_load_gguf(const gguf_file *f, tokenizer **out, rs_error *err)
{
    (void)f;
    *out = NULL;
    return rs_fail(err, RS_ERR_INPUT, "GGUF tokenizers: loader in progress");
}
