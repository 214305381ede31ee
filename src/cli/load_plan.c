#include "cli/load_plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli_args.h"
#include "engine/backend_cuda.h"
#include "plan/memory.h"
#include "util/clock.h"
#include "util/format.h"

void load_plan_request_init(load_plan_request *rq, const char *cmd)
{
    memset(rq, 0, sizeof *rq);
    rq->cmd = cmd;
    rq->kv_type = DTYPE_F16;
    rq->n_gpu_layers = -1;
}

// --kv-type: what the engine keeps the cache in.
static int kv_type_parse(const char *s)
{
    if (strcasecmp(s, "f32") == 0 || strcasecmp(s, "fp32") == 0) return DTYPE_F32;
    int t = plan_kv_type_parse(s);
    return t == DTYPE_F16 || t == DTYPE_Q8_0 ? t : -1;
}

bool load_plan_parse_option(load_plan_request *rq, const char *o, const char *v, bool *ok,
                            rs_error *err)
{
    static const char *const names[] = {"--precision", "--ctx",        "--kv-type", "--threads",
                                        "--device",    "--gpu-layers", "--gpu-mem", "--split"};
    bool known = false;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        known |= strcmp(o, names[k]) == 0;
    if (!known) return false;
    *ok = false;
    if (!v) {
        rs_fail(err, RS_ERR_INPUT, "%s needs a value", o);
        return true;
    }
    int64_t n = 0;
    int t = -1;
    const char *want = NULL; // what a good value looks like, when v is not one
    if (strcmp(o, "--precision") == 0) {
        plan_precision p;
        if (plan_precision_parse(v, &p, err) != RS_OK) return true; // its own line
        rq->precision = v;
    } else if (strcmp(o, "--ctx") == 0) {
        // Two tokens at least: a prompt token and the one it predicts.
        if (!cli_parse_int(v, 2, 1 << 24, &rq->n_ctx)) want = "a token count from 2 to 16777216";
    } else if (strcmp(o, "--kv-type") == 0) {
        if ((t = kv_type_parse(v)) < 0) want = "f16, q8_0 or f32";
        else rq->kv_type = (dtype)t;
    } else if (strcmp(o, "--threads") == 0) {
        if (!cli_parse_int(v, 1, 1024, &n)) want = "a count from 1 to 1024";
        else rq->n_threads = (int)n;
    } else if (strcmp(o, "--device") == 0) {
        if (backend_device_parse(v, &t) != 0) want = "cpu, cuda or cuda:N";
        else rq->device = v;
    } else if (strcmp(o, "--gpu-layers") == 0) {
        if (!cli_parse_int(v, 0, 1 << 20, &rq->n_gpu_layers))
            want = "a block count from 0 to 1048576";
    } else if (strcmp(o, "--gpu-mem") == 0) {
        if ((n = parse_bytes(v)) <= 0) want = "a size such as 10G";
        else rq->gpu_mem = (uint64_t)n;
    } else if (!load_plan_parse_split(v, rq->split, &rq->n_split)) {
        want = "1 to 8 block counts, each at least 1, such as 20,12";
    } else if (!rq->device) {
        rq->device = "cuda"; // --split places blocks on GPUs
    }
    if (want) {
        rs_fail(err, RS_ERR_INPUT, "%s \"%s\": want %s", o, v, want);
        return true;
    }
    *ok = true;
    return true;
}

engine_options load_plan_engine_options(const load_plan_request *rq)
{
    engine_options eo = engine_default_options();
    eo.kv_type = rq->kv_type;
    eo.n_threads = rq->n_threads;
    eo.device = rq->device;
    eo.n_gpu_layers = rq->n_gpu_layers >= 0 ? rq->n_gpu_layers : -1;
    eo.n_split = rq->n_split;
    for (int i = 0; i < rq->n_split && i < 8; i++) eo.split[i] = rq->split[i];
    eo.progress = rq->progress;
    eo.verbose = rq->verbose;
    return eo;
}

rs_status load_plan_open(const load_plan_request *rq, load_plan *lp, rs_error *err)
{
    lp->row = -1;
    rs_status st = model_open(rq->model, &lp->m, err);
    if (st != RS_OK) return st;
    if (lp->m->source == MODEL_SOURCE_CATALOG)
        return rs_fail(err, RS_ERR_INPUT,
                       "%s is a catalog name: it describes the model but holds no weights; give "
                       "an HF folder or a GGUF file (rightsize plan %s plans it)",
                       rq->model, rq->model);
    return RS_OK;
}

rs_status load_plan_prepare(const load_plan_request *rq, load_plan *lp, rs_error *err)
{
    rs_status st;
    if (!lp->m && (st = load_plan_open(rq, lp, err)) != RS_OK) return st;
    lp->row = -1;
    plan_options o = plan_default_options();
    o.kv_type = rq->kv_type;
    if (rq->precision) {
        st = plan_precision_parse(rq->precision, &o.precision, err);
        if (st != RS_OK) return st;
        o.force_precision = true;
    }
    if ((st = hw_probe(&lp->hw, err)) != RS_OK) return st;
    int cuda = -1;
    if (rq->device && backend_device_parse(rq->device, &cuda) != 0)
        return rs_fail(err, RS_ERR_INPUT, "--device \"%s\": want cpu, cuda or cuda:N", rq->device);
    if (rq->gpu_mem > 0 && cuda < 0)
        return rs_fail(err, RS_ERR_INPUT, "--gpu-mem needs --device cuda (or cuda:N)");
    lp->gpu_plan = false;
    lp->n_probed = lp->hw.n_gpus;
    for (int i = 0; i < lp->hw.n_gpus; i++) {
        lp->probed_index[i] = lp->hw.gpus[i].index;
        lp->probed_free[i] = lp->hw.gpus[i].mem_free;
    }
    if (cuda >= 0) {
        // The engine spreads blocks over consecutive CUDA devices from the
        // --device one (at most as many as --split takes): plan for GPU N
        // and those after it.
        hw_gpu set[HW_MAX_GPUS];
        const int most = (int)(sizeof rq->split / sizeof rq->split[0]);
        int n = 0;
        for (int want = cuda; n < HW_MAX_GPUS && n < most; want++, n++) {
            int at = -1;
            for (int i = 0; i < lp->hw.n_gpus; i++)
                if (lp->hw.gpus[i].index == want) at = i;
            if (at < 0) break;
            set[n] = lp->hw.gpus[at];
        }
        if (n > 0) {
            for (int i = 0; i < n; i++) lp->hw.gpus[i] = set[i];
            lp->hw.n_gpus = n;
            lp->gpu_free_probed = lp->hw.gpus[0].mem_free;
            load_plan_cap_gpu_mem(&lp->hw, rq->gpu_mem);
            lp->gpu_plan = true;
        } else {
            fprintf(stderr, "rightsize %s: no CUDA device %d found%s%s; planning for the CPU\n",
                    rq->cmd, cuda, lp->hw.nvml_note[0] ? ": " : "", lp->hw.nvml_note);
            hw_set_cpu_only(&lp->hw);
        }
    } else if (lp->hw.n_gpus > 0) {
        fprintf(stderr,
                "rightsize %s: %d GPU(s) found; planning for the CPU (--device cuda runs on "
                "the GPU)\n",
                rq->cmd, lp->hw.n_gpus);
        hw_set_cpu_only(&lp->hw);
    }
    if (rq->n_threads > 0 && rq->n_threads != lp->hw.cpu_threads) {
        // The plan sizes per-thread buffers and reads the bandwidth measured
        // at this thread count.
        lp->hw.cpu_threads = rq->n_threads;
        lp->hw.cpu_bandwidth_gbs = hw_cached_cpu_bandwidth(&lp->hw);
    }
    o.n_ctx = rq->n_ctx;
    if (o.n_ctx <= 0 && rq->n_ctx_min > 0) {
        int64_t train = lp->m->n_ctx_train > 0 ? lp->m->n_ctx_train : PLAN_CTX_SEARCH_MAX;
        int64_t def = train < PLAN_DEFAULT_CTX ? train : PLAN_DEFAULT_CTX;
        if (def < rq->n_ctx_min) o.n_ctx = rq->n_ctx_min;
    }
    lp->plan = malloc(sizeof *lp->plan);
    if (!lp->plan) return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
    if ((st = plan_fit(lp->m, &lp->hw, &o, lp->plan, err)) != RS_OK) return st;
    if (lp->plan->chosen < 0)
        return rs_fail(err, RS_ERR_RUNTIME, "%s %s", rq->model, lp->plan->reason);
    lp->row = lp->plan->chosen;
    fprintf(stderr, "rightsize %s: %s\n", rq->cmd, lp->plan->reason);
    return RS_OK;
}

int load_plan_next_row(const plan_result *r, int failed, uint32_t tried)
{
    if (failed < 0 || failed >= r->n_rows) return -1;
    uint64_t limit = r->rows[failed].weights;
    int best = -1;
    for (int i = 0; i < r->n_rows && i < 32; i++) {
        const plan_row *row = &r->rows[i];
        if (i == failed || (tried >> i & 1u) || !row->candidate || !row->layout.fits) continue;
        if (row->weights >= limit) continue;
        if (best < 0 || row->weights > r->rows[best].weights) best = i;
    }
    return best;
}

rs_status load_plan_load(const load_plan_request *rq, load_plan *lp, rs_error *err)
{
    uint32_t tried = 0;
    for (;;) {
        const plan_row *row = &lp->plan->rows[lp->row];
        engine_options eo = load_plan_engine_options(rq);
        eo.precision = row->precision;
        eo.n_ctx = lp->plan->opts.n_ctx;
        eo.n_batch = lp->plan->opts.n_batch;
        if (lp->gpu_plan && rq->n_gpu_layers < 0 && rq->n_split == 0) {
            // As planned: one GPU (all blocks or the first ones), the GPUs'
            // ranges, or the CPU.
            rs_status pst = load_plan_placement(&row->layout, &lp->hw, lp->m->n_layer, &lp->place,
                                                err);
            if (pst != RS_OK) return pst;
            eo.device = lp->place.device;
            eo.n_gpu_layers = lp->place.n_gpu_layers;
            eo.n_split = lp->place.n_split;
            for (int i = 0; i < lp->place.n_split; i++) eo.split[i] = lp->place.split[i];
            char where[160];
            load_plan_place_describe(&lp->place, lp->m->n_layer, where, sizeof where);
            fprintf(stderr, "rightsize %s: loading %s with %s\n", rq->cmd,
                    plan_precision_name(row->precision), where);
        }
        double t0 = clock_now_s();
        rs_status st = (rq->load ? rq->load : engine_load)(lp->m, &eo, &lp->e, err);
        if (st == RS_OK) {
            lp->load_s = clock_now_s() - t0;
            lp->eo = eo;
            return RS_OK;
        }
        // Bad files stay bad at any precision; only a shortage of memory
        // is worth another plan, and only a plan the user did not force.
        if (st != RS_ERR_RUNTIME || rq->precision) return st;
        tried |= 1u << lp->row;
        int next = load_plan_next_row(lp->plan, lp->row, tried);
        if (next < 0) {
            rs_error_prefix(err, "loading at %s failed and no smaller plan fits",
                            plan_precision_name(row->precision));
            return st;
        }
        char b[32];
        fprintf(stderr,
                "rightsize %s: loading at %s failed (%s); falling back to %s (weights %s)\n",
                rq->cmd, plan_precision_name(row->precision), err->msg,
                plan_precision_name(lp->plan->rows[next].precision),
                format_bytes(b, sizeof b, lp->plan->rows[next].weights));
        rs_error_clear(err);
        lp->row = next;
    }
}

rs_status load_plan_placement(const plan_layout *l, const hw_info *hw, int64_t n_layer,
                              load_plan_place *out, rs_error *err)
{
    memset(out, 0, sizeof *out);
    int gi[HW_MAX_GPUS];
    int64_t gb[HW_MAX_GPUS];
    int k = l->placement == PLAN_PLACE_CPU ? 0 : plan_layout_gpu_split(l, gi, gb, HW_MAX_GPUS);
    if (k == 0) {
        snprintf(out->device, sizeof out->device, "cpu");
        return RS_OK;
    }
    if (k > 8) return rs_fail(err, RS_ERR_RUNTIME, "plan: %d GPUs, the engine spreads over 8", k);
    int64_t sum = 0;
    for (int i = 0; i < k; i++) {
        if (gi[i] < 0 || gi[i] >= hw->n_gpus)
            return rs_fail(err, RS_ERR_RUNTIME, "plan: GPU %d is not on this machine", gi[i]);
        if (hw->gpus[gi[i]].index != hw->gpus[gi[0]].index + i)
            return rs_fail(err, RS_ERR_RUNTIME,
                           "plan: GPUs %d and %d are not consecutive CUDA devices",
                           hw->gpus[gi[0]].index, hw->gpus[gi[i]].index);
        if (gb[i] < 1)
            return rs_fail(err, RS_ERR_RUNTIME, "plan: GPU %d holds no block",
                           hw->gpus[gi[i]].index);
        sum += gb[i];
    }
    // The engine runs the first blocks on the GPUs, the rest on the CPU.
    if (sum != l->n_gpu_layers || sum > n_layer || l->dev[1].layer_first != 0)
        return rs_fail(err, RS_ERR_RUNTIME,
                       "plan: GPU blocks %lld (of %lld) do not start the model",
                       (long long)sum, (long long)n_layer);
    snprintf(out->device, sizeof out->device, "cuda:%d", hw->gpus[gi[0]].index);
    if (k == 1) {
        out->n_gpu_layers = sum == n_layer ? -1 : sum;
        return RS_OK;
    }
    out->n_gpu_layers = sum;
    out->n_split = k;
    for (int i = 0; i < k; i++) out->split[i] = gb[i];
    return RS_OK;
}

void load_plan_place_describe(const load_plan_place *p, int64_t n_layer, char *buf, size_t n)
{
    if (strcmp(p->device, "cpu") == 0) {
        snprintf(buf, n, "every block on the CPU");
        return;
    }
    int dev = 0;
    backend_device_parse(p->device, &dev);
    if (p->n_split == 0) {
        if (p->n_gpu_layers < 0)
            snprintf(buf, n, "every block on the GPU (%s)", p->device);
        else
            snprintf(buf, n, "%lld of %lld blocks on the GPU (%s), the rest on the CPU",
                     (long long)p->n_gpu_layers, (long long)n_layer, p->device);
        return;
    }
    char counts[96] = "", list[96] = "";
    int64_t sum = 0;
    for (int i = 0, a = 0, c = 0; i < p->n_split && a < (int)sizeof counts &&
                                  c < (int)sizeof list; i++) {
        a += snprintf(counts + a, sizeof counts - (size_t)a, "%s%lld", i ? "+" : "",
                      (long long)p->split[i]);
        c += snprintf(list + c, sizeof list - (size_t)c, "%s%lld", i ? "," : "",
                      (long long)p->split[i]);
        sum += p->split[i];
    }
    snprintf(buf, n, "%s blocks on GPUs %d-%d (as --split %s)%s", counts, dev,
             dev + p->n_split - 1, list, sum < n_layer ? ", the rest on the CPU" : "");
}

void load_plan_cap_gpu_mem(hw_info *hw, uint64_t bytes)
{
    if (bytes == 0) return;
    for (int i = 0; i < hw->n_gpus; i++) {
        hw_gpu *g = &hw->gpus[i];
        if (g->mem_free > bytes) g->mem_free = bytes;
        if (g->mem_total > bytes) g->mem_total = bytes;
        g->mem_used = 0;
    }
}

bool load_plan_parse_split(const char *s, int64_t *split, int *n_split)
{
    *n_split = 0;
    if (!s || !*s) return false;
    for (;;) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || end == s || v < 1 || v > (1 << 20) || *n_split == 8) return false;
        split[(*n_split)++] = v;
        if (*end == 0) return true;
        if (*end != ',') return false;
        s = end + 1;
    }
}

bool load_plan_on_gpu(const load_plan *lp)
{
    return lp->gpu_plan;
}

void load_plan_free(load_plan *lp)
{
    engine_free(lp->e);
    model_free(lp->m);
    free(lp->plan);
    memset(lp, 0, sizeof *lp);
    lp->row = -1;
}

static uint64_t status_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    size_t kl = strlen(key);
    uint64_t v = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtoull(line + kl + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v * 1024;
}

uint64_t load_plan_peak_rss(void)
{
    return status_kib("VmHWM");
}
uint64_t load_plan_current_rss(void)
{
    return status_kib("VmRSS");
}
