// rightsize plan MODEL: memory per precision and device, the pick, predicted speed.
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/load_plan.h"
#include "cli/plan_print.h"
#include "cli/plan_train.h"
#include "hw/gpu_table.h"
#include "hw/hw.h"
#include "model/model.h"
#include "plan/fit.h"
#include "plan/plan_json.h"
#include "util/format.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: rightsize plan MODEL [options]\n"
            "  MODEL               HF folder, GGUF file, or catalog name (qwen2.5-7b-instruct)\n"
            "  --ctx N             context tokens per sequence (default 4096, capped at the\n"
            "                      trained context)\n"
            "  --parallel N        sequences decoded together, each with its cache (default 1)\n"
            "  --batch N           prefill chunk in tokens (default 512)\n"
            "  --kv-type T         KV cache type: f16 (default), q8_0, q4_0\n"
            "  --precision P       only this precision: stored, fp32, bf16, fp16, int8, int4,\n"
            "                      or a GGUF type (q6_k, q5_k, ...)\n"
            "  --gpu NAME          what-if GPUs from the table: \"RTX 4090\", \"H100x8\"\n"
            "  --gpus all          for every GPU of the table: does it run the model, how\n"
            "  --ram SIZE          what-if RAM available: 64G\n"
            "  --gpu-mem SIZE      each GPU as if it had at most SIZE free: 10G\n"
            "  --cpu-only          ignore GPUs\n"
            "  --prefer quality|speed   the highest precision that fits (default) or the\n"
            "                      fastest predicted plan\n"
            "  --json              machine-readable output (docs/plan-json.md)\n"
            "  --train ...         training memory (rightsize plan MODEL --train --help)\n");
}

static int bad(const char *fmt, const char *arg)
{
    fprintf(stderr, "rightsize plan: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    return 2;
}

static bool parse_count(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    // Accept a binary "k" suffix for contexts: --ctx 32k.
    if (*end == 'k' || *end == 'K') {
        if (v > INT64_MAX / 1024) return false;
        v *= 1024;
        end++;
    }
    if (errno || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

typedef struct plan_cli {
    const char *model;
    const char *gpu;
    bool gpus_all, cpu_only, json;
    int64_t ram; // -1: detected
    int64_t gpu_mem; // --gpu-mem: each GPU as if it had at most this free; 0: as found
    plan_options opts;
} plan_cli;

static int parse_args(int argc, char **argv, plan_cli *c)
{
    memset(c, 0, sizeof *c);
    c->ram = -1;
    c->opts = plan_default_options();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VALUE()                                                                               \
    do {                                                                                           \
        if (!v) return bad("%s needs a value", a);                                                 \
        i++;                                                                                       \
    } while (0)
        if (strcmp(a, "--json") == 0) c->json = true;
        else if (strcmp(a, "--cpu-only") == 0) c->cpu_only = true;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return -1;
        } else if (strcmp(a, "--ctx") == 0) {
            NEED_VALUE();
            if (!parse_count(v, 1, 1ll << 26, &c->opts.n_ctx))
                return bad("--ctx \"%s\": want a token count from 1 to 67108864", v);
        } else if (strcmp(a, "--parallel") == 0) {
            NEED_VALUE();
            if (!parse_count(v, 1, 4096, &c->opts.n_parallel))
                return bad("--parallel \"%s\": want a count from 1 to 4096", v);
        } else if (strcmp(a, "--batch") == 0) {
            NEED_VALUE();
            if (!parse_count(v, 1, 65536, &c->opts.n_batch))
                return bad("--batch \"%s\": want a token count from 1 to 65536", v);
        } else if (strcmp(a, "--kv-type") == 0) {
            NEED_VALUE();
            int t = plan_kv_type_parse(v);
            if (t < 0) return bad("--kv-type \"%s\": want f16, q8_0 or q4_0", v);
            c->opts.kv_type = (dtype)t;
        } else if (strcmp(a, "--precision") == 0) {
            NEED_VALUE();
            rs_error err = {0};
            if (plan_precision_parse(v, &c->opts.precision, &err) != RS_OK) {
                fprintf(stderr, "rightsize plan: %s\n", err.msg);
                return 2;
            }
            c->opts.force_precision = true;
        } else if (strcmp(a, "--gpu") == 0) {
            NEED_VALUE();
            c->gpu = v;
        } else if (strcmp(a, "--gpus") == 0) {
            NEED_VALUE();
            if (strcmp(v, "all") != 0) return bad("--gpus \"%s\": only \"all\" is known", v);
            c->gpus_all = true;
        } else if (strcmp(a, "--ram") == 0) {
            NEED_VALUE();
            c->ram = parse_bytes(v);
            if (c->ram <= 0) return bad("--ram \"%s\": want a size such as 64G or 512M", v);
        } else if (strcmp(a, "--gpu-mem") == 0) {
            NEED_VALUE();
            c->gpu_mem = parse_bytes(v);
            if (c->gpu_mem <= 0) return bad("--gpu-mem \"%s\": want a size such as 10G", v);
        } else if (strcmp(a, "--prefer") == 0) {
            NEED_VALUE();
            if (strcmp(v, "quality") == 0) c->opts.prefer = PLAN_PREFER_QUALITY;
            else if (strcmp(v, "speed") == 0) c->opts.prefer = PLAN_PREFER_SPEED;
            else return bad("--prefer \"%s\": want quality or speed", v);
        } else if (a[0] == '-' && a[1]) {
            return bad("unknown option \"%s\" (rightsize plan --help)", a);
        } else if (!c->model) {
            c->model = a;
        } else {
            return bad("one model at a time; \"%s\" is extra", a);
        }
#undef NEED_VALUE
    }
    if (!c->model) {
        usage(stderr);
        return 2;
    }
    if (c->gpu && c->cpu_only) return bad("%s", "--gpu and --cpu-only contradict each other");
    return 0;
}

// Builds the machine: detected, then the what-if options on top.
static int machine(const plan_cli *c, hw_info *hw)
{
    rs_error err = {0};
    if (hw_probe(hw, &err) != RS_OK) {
        fprintf(stderr, "rightsize plan: %s\n", err.msg);
        return err.status == RS_ERR_INPUT ? 2 : 1;
    }
    if (c->gpu && hw_set_hypothetical_gpus(hw, c->gpu, &err) != RS_OK) {
        fprintf(stderr, "rightsize plan: %s\n", err.msg);
        return 2;
    }
    if (c->ram > 0) {
        hw->ram_total = hw->ram_available = (uint64_t)c->ram;
        hw->cgroup_limit = 0;
        hw->ram_hypothetical = true;
    }
    if (c->cpu_only) hw->n_gpus = 0;
    load_plan_cap_gpu_mem(hw, (uint64_t)(c->gpu_mem > 0 ? c->gpu_mem : 0));
    return 0;
}

static int print_json(cJSON *j)
{
    if (!j) {
        fprintf(stderr, "rightsize plan: out of memory\n");
        return 1;
    }
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    if (!s) {
        fprintf(stderr, "rightsize plan: out of memory\n");
        return 1;
    }
    printf("%s\n", s);
    free(s);
    return 0;
}

// --gpus all: every card of the table on its own, GPU placements only.
static int gpus_all(const plan_cli *c, const model_desc *m, const hw_info *base)
{
    int n = gpu_table_count();
    plan_gpu_verdict *v = calloc((size_t)(n > 0 ? n : 1), sizeof *v);
    if (!v) {
        fprintf(stderr, "rightsize plan: out of memory\n");
        return 1;
    }
    plan_options o = c->opts;
    o.gpu_only = true;
    plan_result *r = malloc(sizeof *r);
    plan_cache *cache = malloc(sizeof *cache);
    rs_error cerr = {0};
    if (!r || !cache || plan_cache_init(cache, m, &cerr) != RS_OK) {
        free(cache);
        free(r);
        free(v);
        fprintf(stderr, "rightsize plan: %s\n", cerr.msg[0] ? cerr.msg : "out of memory");
        return 1;
    }
    for (int i = 0; i < n; i++) {
        const gpu_spec *s = gpu_table_get(i);
        hw_info hw = *base;
        hw.n_gpus = 1;
        hw_gpu *g = &hw.gpus[0];
        memset(g, 0, sizeof *g);
        snprintf(g->name, sizeof g->name, "%s", s->name);
        g->mem_total = g->mem_free = (uint64_t)(s->mem_gib * 1024.0 * 1024.0 * 1024.0);
        g->bandwidth_gbs = s->bandwidth_gbs;
        g->tflops_bf16 = s->tflops_bf16;
        g->unified_memory = s->unified_memory;
        g->hypothetical = true;
        rs_error err = {0};
        if (plan_fit_cached(m, cache, &hw, &o, r, &err) != RS_OK) {
            fprintf(stderr, "rightsize plan: %s\n", err.msg);
            plan_cache_free(cache);
            free(cache);
            free(r);
            free(v);
            return err.status == RS_ERR_RUNTIME ? 1 : 2;
        }
        v[i].spec = s;
        v[i].runs = r->chosen >= 0;
        if (v[i].runs) {
            const plan_row *row = &r->rows[r->chosen];
            v[i].precision = row->precision;
            v[i].max_ctx = row->max_ctx;
            v[i].decode_tps = row->speed.decode_tps;
            v[i].total = 0;
            for (int d = 0; d < row->layout.n_dev; d++)
                if (row->layout.dev[d].gpu_index >= 0) v[i].total += row->layout.dev[d].total;
        } else {
            v[i].total = r->needed;
        }
        if (i == 0) o = r->opts; // resolved context for the header
    }
    int rc = 0;
    if (c->json) {
        cJSON *j = cJSON_CreateObject();
        if (j) {
            cJSON_AddItemToObject(j, "model", plan_model_to_json(m));
            cJSON_AddItemToObject(j, "options", plan_options_to_json(&o));
            cJSON *a = cJSON_AddArrayToObject(j, "gpus");
            for (int i = 0; i < n && a; i++) {
                cJSON *e = cJSON_CreateObject();
                if (!e) break;
                cJSON_AddStringToObject(e, "name", v[i].spec->name);
                cJSON_AddNumberToObject(e, "mem_bytes", v[i].spec->mem_gib * 1073741824.0);
                cJSON_AddBoolToObject(e, "runs", v[i].runs);
                if (v[i].runs) {
                    cJSON_AddStringToObject(e, "precision", plan_precision_name(v[i].precision));
                    cJSON_AddNumberToObject(e, "max_ctx", (double)v[i].max_ctx);
                    cJSON_AddNumberToObject(e, "decode_tps", v[i].decode_tps);
                    cJSON_AddNumberToObject(e, "total", (double)v[i].total);
                } else {
                    cJSON_AddNumberToObject(e, "needed", (double)v[i].total);
                }
                cJSON_AddItemToArray(a, e);
            }
        }
        rc = print_json(j);
    } else {
        plan_print_gpus_all(stdout, m, &o, v, n);
    }
    plan_cache_free(cache);
    free(cache);
    free(r);
    free(v);
    return rc;
}

int cmd_plan(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--train") == 0) return cmd_plan_train(argc, argv);
    plan_cli c;
    int rc = parse_args(argc, argv, &c);
    if (rc) return rc < 0 ? 0 : rc;

    model_desc *m = NULL;
    rs_error err = {0};
    if (model_open(c.model, &m, &err) != RS_OK) {
        fprintf(stderr, "rightsize plan: %s\n", err.msg);
        return err.status == RS_ERR_RUNTIME ? 1 : 2;
    }
    hw_info *hw = calloc(1, sizeof *hw);
    if (!hw) {
        model_free(m);
        fprintf(stderr, "rightsize plan: out of memory\n");
        return 1;
    }
    rc = machine(&c, hw);
    if (rc == 0 && c.gpus_all) {
        rc = gpus_all(&c, m, hw);
    } else if (rc == 0) {
        plan_result *r = malloc(sizeof *r);
        if (!r) {
            fprintf(stderr, "rightsize plan: out of memory\n");
            rc = 1;
        } else if (plan_fit(m, hw, &c.opts, r, &err) != RS_OK) {
            fprintf(stderr, "rightsize plan: %s\n", err.msg);
            rc = err.status == RS_ERR_RUNTIME ? 1 : 2;
        } else if (c.json) {
            rc = print_json(plan_result_to_json(m, hw, r));
        } else {
            plan_print(stdout, m, hw, r);
        }
        free(r);
    }
    free(hw);
    model_free(m);
    return rc;
}
