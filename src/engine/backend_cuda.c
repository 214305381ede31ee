#include "engine/backend_cuda.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CUDA_LIB_NAME "librightsize_cuda.so"

static void *try_open(const char *path, char *why, size_t why_n)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h && why[0] == 0) {
        const char *e = dlerror();
        snprintf(why, why_n, "%.300s", e ? e : path);
    }
    return h;
}

const rs_cuda_api *backend_cuda_open(char *note, size_t note_n)
{
    static const rs_cuda_api *api;
    static char saved[512];
    static int tried;
    if (tried) {
        if (!api) snprintf(note, note_n, "%.500s", saved);
        return api;
    }
    tried = 1;
    char why[400] = "";
    void *h = NULL;
    const char *env = getenv("RIGHTSIZE_CUDA_LIB");
    if (env && env[0]) h = try_open(env, why, sizeof why);
    if (!h) {
        // Beside the binary: the build folder and an install keep them together.
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n > 0) {
            exe[n] = 0;
            char *slash = strrchr(exe, '/');
            if (slash && (size_t)(slash - exe) + sizeof CUDA_LIB_NAME + 1 < sizeof exe) {
                strcpy(slash + 1, CUDA_LIB_NAME);
                if (access(exe, F_OK) == 0) {
                    why[0] = 0;
                    h = try_open(exe, why, sizeof why);
                }
            }
        }
    }
    if (!h && !why[0]) h = try_open(CUDA_LIB_NAME, why, sizeof why);
    if (!h) {
        snprintf(saved, sizeof saved, "CUDA backend not available (%.400s)", why);
        snprintf(note, note_n, "%.500s", saved);
        return NULL;
    }
    rs_cuda_get_api_fn get = NULL;
    *(void **)&get = dlsym(h, "rs_cuda_get_api");
    const rs_cuda_api *a = get ? get() : NULL;
    if (!a || a->version != RS_CUDA_API_VERSION) {
        snprintf(saved, sizeof saved, "%s: API version %d, this binary needs %d", CUDA_LIB_NAME,
                 a ? a->version : -1, RS_CUDA_API_VERSION);
        snprintf(note, note_n, "%.500s", saved);
        dlclose(h);
        return NULL;
    }
    int n_dev = 0;
    char err[256] = "";
    if (a->device_count(&n_dev, err, sizeof err) != 0 || n_dev <= 0) {
        snprintf(saved, sizeof saved, "no CUDA device (%.250s)", err[0] ? err : "the driver shows none");
        snprintf(note, note_n, "%.500s", saved);
        return NULL; // the library stays open: unloading CUDA runtimes is fragile
    }
    api = a;
    return api;
}

int backend_device_parse(const char *s, int *cuda_index)
{
    if (!s || strcmp(s, "cpu") == 0) {
        *cuda_index = -1;
        return 0;
    }
    if (strcmp(s, "cuda") == 0) {
        *cuda_index = 0;
        return 0;
    }
    if (strncmp(s, "cuda:", 5) == 0 && s[5] >= '0' && s[5] <= '9') {
        char *end = NULL;
        long v = strtol(s + 5, &end, 10);
        if (*end == 0 && v >= 0 && v < 1024) {
            *cuda_index = (int)v;
            return 0;
        }
    }
    return -1;
}
