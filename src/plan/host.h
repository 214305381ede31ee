#ifndef RS_PLAN_HOST_H
#define RS_PLAN_HOST_H

#include <stdint.h>

#include "model/model.h"
#include "plan/fit.h"
#include "plan/memory.h"

// Host memory while a layout with GPU blocks loads. The engine loads every
// weight into host memory first (the file mapping, or converted copies on
// the heap), creates each GPU's context and uploads that GPU's share, which
// reorders each matrix of a split-layout type once more in host memory
// (src/engine/cuda/model.cu, upload_stack); then it gives the uploaded
// weights back (model_weights_release_blocks), leaving the CPU device's
// total of the layout. The peak is that total plus the weights the GPUs hold
// plus the largest reordered matrix. Without GPU blocks it is the CPU total.
uint64_t plan_host_load_peak(const model_desc *m, const plan_weights *w, plan_precision p,
                             const plan_layout *l);

// Bytes of the largest matrix on a GPU of the layout whose type the upload
// reorders (Q8_0, Q4_0, Q4_1, Q5_0, Q6_K: payload and scales apart); 0 if none.
uint64_t plan_host_upload_staging(const model_desc *m, plan_precision p, const plan_layout *l);

#endif
