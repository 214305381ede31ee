// Heap a loaded tokenizer keeps (mallinfo2 in-use bytes after loading, the
// JSON tree freed) and the process's peak RSS, per vocabulary: the source of
// PLAN_TOKENIZER_BYTES_PER_TOKEN (docs/memory-model.md).
// Build: see bench/cpu_overhead/run.sh.
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "tok/tokenizer.h"

static long status_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0) sscanf(line + n, "%ld", &v);
    if (f) fclose(f);
    return v;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        size_t before = mallinfo2().uordblks;
        tokenizer *t = NULL;
        rs_error err = {0};
        if (tokenizer_load_hf(argv[i], &t, &err) != RS_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        size_t after = mallinfo2().uordblks;
        int32_t n = tokenizer_vocab_size(t);
        printf("%-48s vocab %7d  heap kept %8.1f MiB  %6.0f B/token  peak RSS %6.1f MiB\n",
               argv[i], n, (double)(after - before) / 1048576.0,
               (double)(after - before) / (double)n, (double)status_kib("VmHWM:") / 1024.0);
        tokenizer_free(t);
    }
    printf("process without a tokenizer: VmRSS at exit %.1f MiB\n",
           (double)status_kib("VmRSS:") / 1024.0);
    return 0;
}
