// Engine speed on one model: prefill of N_PP tokens and decode of N_TG
// tokens (from an empty cache, as llama-bench's pp512 / tg128), best of
// REPS, as one JSON line. Built and run by bench/engine_bench.sh:
//   engine_bench MODEL PRECISION THREADS [N_PP N_TG REPS]
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "engine/engine.h"
#include "model/model.h"
#include "plan/memory.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long rss_peak_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: engine_bench MODEL PRECISION THREADS [N_PP N_TG REPS]\n");
        return 2;
    }
    int n_pp = argc > 4 ? atoi(argv[4]) : 512, n_tg = argc > 5 ? atoi(argv[5]) : 128;
    int reps = argc > 6 ? atoi(argv[6]) : 2;
    rs_error err = {0};
    model_desc *m = NULL;
    if (model_open(argv[1], &m, &err) != RS_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    engine_options o = engine_default_options();
    if (plan_precision_parse(argv[2], &o.precision, &err) != RS_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    o.n_threads = atoi(argv[3]);
    o.n_ctx = n_pp + n_tg + 8;
    o.n_batch = n_pp;
    double t0 = now_s();
    engine *e = NULL;
    if (engine_load(m, &o, &e, &err) != RS_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double t_load = now_s() - t0;
    int32_t *toks = malloc((size_t)n_pp * sizeof *toks);
    for (int i = 0; i < n_pp; i++)
        toks[i] = (int32_t)((i * 7919 + 13) % engine_n_vocab(e));
    double best_pp = 0, best_tg = 0;
    for (int r = 0; r < reps; r++) {
        engine_rewind(e, 0);
        double t = now_s();
        if (engine_prefill(e, toks, n_pp, NULL, &err) != RS_OK) return 1;
        double pp = n_pp / (now_s() - t);
        engine_rewind(e, 0);
        t = now_s();
        int32_t tok = toks[0];
        for (int i = 0; i < n_tg; i++) {
            if (engine_decode(e, tok, &err) != RS_OK) return 1;
            tok = toks[(i + 1) % n_pp];
        }
        double tg = n_tg / (now_s() - t);
        if (pp > best_pp) best_pp = pp;
        if (tg > best_tg) best_tg = tg;
    }
    engine_memory mem;
    engine_memory_usage(e, &mem);
    printf("{\"model\":\"%s\",\"precision\":\"%s\",\"weight_type\":\"%s\",\"threads\":%d,"
           "\"load_s\":%.2f,\"pp\":%d,\"pp_tok_s\":%.2f,\"tg\":%d,\"tg_tok_s\":%.2f,"
           "\"weight_bytes\":%llu,\"kv_bytes\":%llu,\"act_bytes\":%llu,\"peak_rss_kb\":%ld}\n",
           argv[1], argv[2], dtype_name(engine_weight_type(e)), o.n_threads, t_load, n_pp,
           best_pp, n_tg, best_tg, (unsigned long long)mem.weights,
           (unsigned long long)mem.kv_cache, (unsigned long long)mem.activations, rss_peak_kb());
    engine_free(e);
    model_free(m);
    free(toks);
    return 0;
}
