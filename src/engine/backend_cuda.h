#ifndef RS_ENGINE_BACKEND_CUDA_H
#define RS_ENGINE_BACKEND_CUDA_H

#include <stddef.h>

#include "engine/cuda/cuda_api.h"

// Opens librightsize_cuda.so at run time: $RIGHTSIZE_CUDA_LIB, else beside
// the running binary, else the loader's search path. Returns its table, or
// NULL with one line in note saying why (no library, no driver, no GPU), so
// that the caller can go on with the CPU. Opened once per process.
const rs_cuda_api *backend_cuda_open(char *note, size_t note_n);

// Parses a device name: "cpu" (*cuda_index = -1), "cuda" (0) or "cuda:N".
// Returns 0, or -1 for anything else.
int backend_device_parse(const char *s, int *cuda_index);

#endif
