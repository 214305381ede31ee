#ifndef RS_MODEL_MODEL_PRIV_H
#define RS_MODEL_MODEL_PRIV_H

// Internal to src/model: the steps model_open composes. Each fills a
// zero-initialised model_desc (see model_desc_init) and leaves it freeable by
// model_free on failure.

#include <stddef.h>

#include "model/model.h"

struct cJSON;

// Sets every id to -1 and every optional size to 0.
void model_desc_init(model_desc *m);
// Frees what m owns and re-initialises it (m itself stays).
void model_desc_clear(model_desc *m);

// hf.c: config.json text -> shapes and facts (no tensors). name is used in
// messages ("config.json", "catalog entry \"x\"").
rs_status hf_config_parse(const char *name, const char *buf, size_t len, model_desc *m,
                          rs_error *err);
rs_status hf_config_from_json(const char *name, const struct cJSON *root, model_desc *m,
                              rs_error *err);
// hf.c: a whole HF folder: config, weights headers, tokenizer files.
rs_status hf_open(const char *dir, model_desc *m, rs_error *err);

// gguf_model.c: a GGUF file, kept open in m->gguf.
rs_status gguf_model_open(const char *path, model_desc *m, rs_error *err);

// arch.c
model_arch arch_from_hf_type(const char *model_type);
model_arch arch_from_gguf_name(const char *name);
// Replaces m->tensors with the HF tensor list the config implies.
rs_status arch_synthesize(model_desc *m, rs_error *err);
// Derived figures over m->tensors: n_params, n_params_active, stored_type.
void arch_finish(model_desc *m);
// Frees the tensor list and the arena of its names.
void model_tensors_clear(model_desc *m);
// Appends one tensor (ggml order ne, ne[0] innermost) to m->tensors.
rs_status model_add_tensor(model_desc *m, const char *name, dtype type, int n_dims,
                           const int64_t *ne, int file, uint64_t offset, rs_error *err);

#endif
