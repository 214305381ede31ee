#ifndef RS_PLAN_PLAN_JSON_H
#define RS_PLAN_PLAN_JSON_H

#include "hw/hw.h"
#include "model/model.h"
#include "plan/fit.h"

struct cJSON;

// The plan as JSON (schema: docs/plan-json.md). The caller owns the result
// (cJSON_Delete); NULL only when out of memory.
struct cJSON *plan_result_to_json(const model_desc *m, const hw_info *hw, const plan_result *r);

// Pieces reused by the --gpus all table.
struct cJSON *plan_model_to_json(const model_desc *m);
struct cJSON *plan_options_to_json(const plan_options *o);

#endif
