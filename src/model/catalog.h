#ifndef RS_MODEL_CATALOG_H
#define RS_MODEL_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

// The catalog of popular open models (data/catalog.json, compiled in): HF
// config facts, the source repository, and the published parameter count.
// A catalog model's tensor list is synthesized by the architecture rules.

size_t catalog_count(void); // 0 if the embedded data failed to parse
const char *catalog_name(size_t i);
const char *catalog_source(size_t i);      // the HF repository URL
uint64_t catalog_published_params(size_t i); // 0 where no exact count is recorded

// Finds an entry by name, alias or HF repo id ("Qwen/Qwen2.5-7B-Instruct"),
// case-insensitively; -1 if none.
long catalog_find(const char *name);

// Fills m from the entry; a miss fails with RS_ERR_INPUT and a "did you
// mean" list.
rs_status catalog_open(const char *name, model_desc *m, rs_error *err);

// Up to max entry names close to name (edit distance, substrings), best first.
size_t catalog_suggest(const char *name, const char **out, size_t max);

#endif
