// rightsize plan MODEL --train full|lora|qlora: fine-tuning memory per GPU.
#include "cli/plan_train.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/gpu_table.h"
#include "hw/hw.h"
#include "model/model.h"
#include "plan/train.h"
#include "util/format.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: rightsize plan MODEL --train full|lora|qlora [options] [--json]\n"
            "  --seq N                 tokens per sequence (2048)\n"
            "  --micro-batch N         sequences per step (1)\n"
            "  --grad-accum N          micro-batches per optimizer step (1)\n"
            "  --optim NAME            adamw | adamw-8bit | adafactor | sgd | sgd-momentum\n"
            "  --precision NAME        bf16-mixed | fp16-mixed | fp32 | bf16-pure\n"
            "  --grad-checkpointing    keep only layer inputs, recompute in backward\n"
            "  --no-flash-attention    attention saves seq x seq scores\n"
            "  --lora-rank R           (16)\n"
            "  --lora-targets LIST     q,k,v,o,gate,up,down | all (all)\n"
            "  --zero 0|1|2|3          ZeRO stage across --gpus\n"
            "  --gpus N                GPUs sharing the work (ZeRO)\n"
            "  --offload-optimizer     optimizer states in CPU RAM\n"
            "  --gpu NAME              plan for a card from the table, e.g. \"RTX 4090\", \"H100x8\"\n");
}

static int parse_int(const char *flag, const char *v, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    long long x = v ? strtoll(v, &end, 10) : 0;
    if (!v || *end || x < lo || x > hi) {
        fprintf(stderr, "rightsize plan: %s needs a whole number from %lld to %lld\n", flag,
                (long long)lo, (long long)hi);
        return -1;
    }
    *out = x;
    return 0;
}

typedef struct train_args {
    const char *model;
    const char *gpu;
    bool json;
    train_options opt;
} train_args;

// Returns 0, or 2 after printing why the arguments are wrong.
static int parse_args(int argc, char **argv, train_args *a)
{
    a->opt = train_default_options();
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t n;
#define NEEDS_VALUE                                                                                \
    do {                                                                                           \
        if (!v) {                                                                                  \
            fprintf(stderr, "rightsize plan: %s needs a value\n", s);                             \
            return 2;                                                                              \
        }                                                                                          \
        i++;                                                                                       \
    } while (0)
        if (strcmp(s, "--json") == 0) {
            a->json = true;
        } else if (strcmp(s, "--train") == 0) {
            NEEDS_VALUE;
            if (train_parse_method(v, &a->opt.method)) {
                fprintf(stderr, "rightsize plan: --train takes full, lora or qlora, not \"%s\"\n", v);
                return 2;
            }
        } else if (strcmp(s, "--seq") == 0) {
            NEEDS_VALUE;
            if (parse_int(s, v, 1, 1 << 24, &n)) return 2;
            a->opt.seq = n;
        } else if (strcmp(s, "--micro-batch") == 0) {
            NEEDS_VALUE;
            if (parse_int(s, v, 1, 1 << 16, &n)) return 2;
            a->opt.micro_batch = n;
        } else if (strcmp(s, "--grad-accum") == 0) {
            NEEDS_VALUE;
            if (parse_int(s, v, 1, 1 << 16, &n)) return 2;
            a->opt.grad_accum = n;
        } else if (strcmp(s, "--optim") == 0) {
            NEEDS_VALUE;
            if (train_parse_optim(v, &a->opt.optim)) {
                fprintf(stderr, "rightsize plan: unknown --optim \"%s\" (adamw, adamw-8bit, "
                                "adafactor, sgd, sgd-momentum)\n", v);
                return 2;
            }
        } else if (strcmp(s, "--precision") == 0) {
            NEEDS_VALUE;
            if (train_parse_precision(v, &a->opt.precision)) {
                fprintf(stderr, "rightsize plan: unknown training --precision \"%s\" "
                                "(bf16-mixed, fp16-mixed, fp32, bf16-pure)\n", v);
                return 2;
            }
        } else if (strcmp(s, "--grad-checkpointing") == 0) {
            a->opt.grad_checkpointing = true;
        } else if (strcmp(s, "--flash-attention") == 0) {
            a->opt.flash_attention = true;
        } else if (strcmp(s, "--no-flash-attention") == 0) {
            a->opt.flash_attention = false;
        } else if (strcmp(s, "--lora-rank") == 0) {
            NEEDS_VALUE;
            if (parse_int(s, v, 1, 65536, &n)) return 2;
            a->opt.lora_rank = n;
        } else if (strcmp(s, "--lora-targets") == 0) {
            NEEDS_VALUE;
            if (train_parse_targets(v, &a->opt.lora_targets)) {
                fprintf(stderr, "rightsize plan: --lora-targets \"%s\": use q,k,v,o,gate,up,down "
                                "or all\n", v);
                return 2;
            }
        } else if (strcmp(s, "--zero") == 0) {
            NEEDS_VALUE;
            if (parse_int(s, v, 0, 3, &n)) return 2;
            a->opt.zero_stage = (int)n;
        } else if (strcmp(s, "--gpus") == 0) {
            NEEDS_VALUE;
            if (parse_int(s, v, 1, 1024, &n)) return 2;
            a->opt.n_gpus = (int)n;
        } else if (strcmp(s, "--offload-optimizer") == 0) {
            a->opt.offload_optimizer = true;
        } else if (strcmp(s, "--gpu") == 0) {
            NEEDS_VALUE;
            a->gpu = v;
        } else if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (s[0] == '-') {
            fprintf(stderr, "rightsize plan: unknown training option \"%s\"\n", s);
            usage(stderr);
            return 2;
        } else if (!a->model) {
            a->model = s;
        } else {
            fprintf(stderr, "rightsize plan: unexpected argument \"%s\"\n", s);
            return 2;
        }
#undef NEEDS_VALUE
    }
    if (!a->model) {
        usage(stderr);
        return 2;
    }
    return 0;
}

static const char *gib(char *buf, uint64_t bytes)
{
    snprintf(buf, 32, "%.2f GiB", (double)bytes / (1024.0 * 1024 * 1024));
    return buf;
}

static void print_targets(unsigned t, char *buf, size_t n)
{
    static const char *names[] = {"q", "k", "v", "o", "gate", "up", "down"};
    buf[0] = '\0';
    for (int i = 0; i < 7; i++)
        if (t & (1u << i)) {
            size_t len = strlen(buf);
            snprintf(buf + len, n - len, "%s%s", len ? "," : "", names[i]);
        }
}

static void print_text(const model_desc *m, const train_options *o, const train_memory *mem,
                       const hw_info *hw, uint64_t capacity, const char *where)
{
    char a[32], b[32], c[32], targets[64];
    char count[32];
    printf("Training %s (%s, %s params)\n", m->name ? m->name : m->path,
           m->arch_name ? m->arch_name : "?", format_count(count, sizeof count, mem->params.total));
    if (o->method == TRAIN_FULL) {
        printf("  full fine-tuning, every parameter trainable\n");
    } else {
        print_targets(o->lora_targets, targets, sizeof targets);
        printf("  %s, rank %lld on %s: %s trainable\n", train_method_name(o->method),
               (long long)o->lora_rank, targets,
               format_count(count, sizeof count, mem->params.adapters));
    }
    printf("  seq %lld x micro-batch %lld x grad-accum %lld, %s, %s%s%s\n", (long long)o->seq,
           (long long)o->micro_batch, (long long)o->grad_accum, train_precision_name(o->precision),
           train_optim_name(o->optim), o->grad_checkpointing ? ", grad checkpointing" : "",
           o->flash_attention ? ", flash attention" : ", eager attention");
    if (o->zero_stage || o->n_gpus > 1 || o->offload_optimizer)
        printf("  ZeRO stage %d over %d GPU(s)%s\n", o->zero_stage, o->n_gpus,
               o->offload_optimizer ? ", optimizer offloaded to CPU" : "");
    printf("\nMemory per GPU\n");
    const char *wlabel = o->method == TRAIN_FULL ? "weights" : o->method == TRAIN_LORA
                                                                    ? "frozen base + adapters"
                                                                    : "4-bit base + adapters";
    printf("  %-34s %12s\n", wlabel, gib(a, mem->weights));
    if (mem->weight_casts) printf("  %-34s %12s\n", "half-precision weight copies", gib(a, mem->weight_casts));
    printf("  %-34s %12s\n", "gradients", gib(a, mem->gradients));
    printf("  %-34s %12s\n", "optimizer states", gib(a, mem->optimizer));
    printf("  %-34s %12s\n", "activations (saved for backward)", gib(a, mem->activations));
    printf("  %-34s %12s\n", "logits and loss buffers", gib(a, mem->logits));
    if (mem->step_temporary) printf("  %-34s %12s\n", "optimizer step temporaries", gib(a, mem->step_temporary));
    if (mem->backward_temporary) printf("  %-34s %12s\n", "backward temporaries", gib(a, mem->backward_temporary));
    char peak_label[64];
    snprintf(peak_label, sizeof peak_label, "peak allocated (%s)", mem->peak_phase);
    printf("  %-34s %12s\n", peak_label, gib(a, mem->peak_allocated));
    printf("  %-34s %12s\n", "CUDA context", gib(a, mem->cuda_context));
    printf("  %-34s %12s\n", "total", gib(a, mem->total));
    if (mem->cpu_ram) printf("  %-34s %12s\n", "CPU RAM (offloaded)", gib(a, mem->cpu_ram));

    printf("\nRules of thumb, for comparison\n");
    printf("  %-34s %12s\n", "seed post (params x 2 bytes x 3)", gib(a, train_seed_rule_bytes(m)));
    printf("  %-34s %12s\n", "accelerate estimate-memory (Adam)",
           gib(b, train_accelerate_rule_bytes(m, o->precision != TRAIN_PRECISION_FP32)));

    if (!capacity) {
        printf("\nNo GPU here: %s.\nPlan for one with --gpu NAME, e.g. --gpu \"RTX 4090\".\n",
               hw->nvml_note[0] ? hw->nvml_note : "none detected");
        return;
    }
    bool fits = mem->total <= capacity;
    printf("\n%s\n  needs %s of %s available -> %s\n", where, gib(a, mem->total),
           gib(b, capacity), fits ? "fits" : "does not fit");
    if (mem->cpu_ram && hw->ram_available && mem->cpu_ram > hw->ram_available)
        printf("  CPU RAM: offloading needs %s, %s available -> does not fit\n",
               gib(a, mem->cpu_ram), gib(b, hw->ram_available));
    int64_t mb = train_max_micro_batch(m, o, capacity), seq = train_max_seq(m, o, capacity);
    printf("  largest micro-batch at seq %lld: %lld; largest seq at micro-batch %lld: %lld\n",
           (long long)o->seq, (long long)mb, (long long)o->micro_batch, (long long)seq);
    train_suggestion sug[8];
    int n = train_suggest(m, o, sug, 8);
    if (n) printf("\n%s\n", fits ? "To save memory:" : "To make it fit:");
    for (int i = 0; i < n; i++)
        printf("  %-38s saves %10s -> %s%s\n", sug[i].change, gib(a, (uint64_t)sug[i].saved),
               gib(c, sug[i].total), sug[i].total <= capacity ? " (fits)" : "");
}

static cJSON *memory_json(const train_memory *mem)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "weights", (double)mem->weights);
    cJSON_AddNumberToObject(o, "weight_casts", (double)mem->weight_casts);
    cJSON_AddNumberToObject(o, "gradients", (double)mem->gradients);
    cJSON_AddNumberToObject(o, "optimizer", (double)mem->optimizer);
    cJSON_AddNumberToObject(o, "activations", (double)mem->activations);
    cJSON_AddNumberToObject(o, "logits", (double)mem->logits);
    cJSON_AddNumberToObject(o, "step_temporary", (double)mem->step_temporary);
    cJSON_AddNumberToObject(o, "backward_temporary", (double)mem->backward_temporary);
    cJSON_AddNumberToObject(o, "framework", (double)mem->framework);
    cJSON_AddNumberToObject(o, "cuda_context", (double)mem->cuda_context);
    cJSON_AddNumberToObject(o, "peak_forward", (double)mem->peak_forward);
    cJSON_AddNumberToObject(o, "peak_backward_start", (double)mem->peak_backward_start);
    cJSON_AddNumberToObject(o, "peak_backward_end", (double)mem->peak_backward_end);
    cJSON_AddNumberToObject(o, "peak_step", (double)mem->peak_step);
    cJSON_AddNumberToObject(o, "peak_allocated", (double)mem->peak_allocated);
    cJSON_AddStringToObject(o, "peak_phase", mem->peak_phase);
    cJSON_AddNumberToObject(o, "total", (double)mem->total);
    cJSON_AddNumberToObject(o, "cpu_ram", (double)mem->cpu_ram);
    return o;
}

static void print_json(const model_desc *m, const train_options *o, const train_memory *mem,
                       uint64_t capacity)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model", m->name ? m->name : m->path);
    cJSON *opt = cJSON_AddObjectToObject(root, "options");
    cJSON_AddStringToObject(opt, "method", train_method_name(o->method));
    cJSON_AddNumberToObject(opt, "seq", (double)o->seq);
    cJSON_AddNumberToObject(opt, "micro_batch", (double)o->micro_batch);
    cJSON_AddNumberToObject(opt, "grad_accum", (double)o->grad_accum);
    cJSON_AddStringToObject(opt, "optim", train_optim_name(o->optim));
    cJSON_AddStringToObject(opt, "precision", train_precision_name(o->precision));
    cJSON_AddBoolToObject(opt, "grad_checkpointing", o->grad_checkpointing);
    cJSON_AddBoolToObject(opt, "flash_attention", o->flash_attention);
    cJSON_AddNumberToObject(opt, "lora_rank", (double)o->lora_rank);
    cJSON_AddNumberToObject(opt, "zero_stage", o->zero_stage);
    cJSON_AddNumberToObject(opt, "gpus", o->n_gpus);
    cJSON_AddBoolToObject(opt, "offload_optimizer", o->offload_optimizer);
    cJSON *p = cJSON_AddObjectToObject(root, "params");
    cJSON_AddNumberToObject(p, "total", (double)mem->params.total);
    cJSON_AddNumberToObject(p, "trainable", (double)mem->params.trainable);
    cJSON_AddNumberToObject(p, "adapters", (double)mem->params.adapters);
    cJSON_AddItemToObject(root, "memory", memory_json(mem));
    cJSON_AddNumberToObject(root, "seed_rule_bytes", (double)train_seed_rule_bytes(m));
    cJSON_AddNumberToObject(root, "accelerate_rule_bytes",
                            (double)train_accelerate_rule_bytes(m, o->precision != TRAIN_PRECISION_FP32));
    cJSON_AddNumberToObject(root, "gpu_capacity", (double)capacity);
    if (capacity) {
        cJSON_AddBoolToObject(root, "fits", mem->total <= capacity);
        cJSON_AddNumberToObject(root, "max_micro_batch", (double)train_max_micro_batch(m, o, capacity));
        cJSON_AddNumberToObject(root, "max_seq", (double)train_max_seq(m, o, capacity));
    }
    cJSON *sugs = cJSON_AddArrayToObject(root, "suggestions");
    train_suggestion sug[8];
    int n = train_suggest(m, o, sug, 8);
    for (int i = 0; i < n; i++) {
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "change", sug[i].change);
        cJSON_AddNumberToObject(s, "saves", (double)sug[i].saved);
        cJSON_AddNumberToObject(s, "total", (double)sug[i].total);
        cJSON_AddItemToArray(sugs, s);
    }
    char *text = cJSON_Print(root);
    printf("%s\n", text);
    free(text);
    cJSON_Delete(root);
}

int cmd_plan_train(int argc, char **argv)
{
    train_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;

    rs_error err = {0};
    model_desc *m = NULL;
    if (model_open(a.model, &m, &err) != RS_OK) {
        fprintf(stderr, "rightsize plan: %s\n", err.msg);
        return err.status == RS_ERR_RUNTIME ? 1 : 2;
    }
    hw_info hw;
    if (hw_probe(&hw, &err) != RS_OK) {
        fprintf(stderr, "rightsize plan: %s\n", err.msg);
        model_free(m);
        return 1;
    }
    if (a.gpu && hw_set_hypothetical_gpus(&hw, a.gpu, &err) != RS_OK) {
        fprintf(stderr, "rightsize plan: %s\n", err.msg);
        model_free(m);
        return 2;
    }
    // With several GPUs and no --gpus, ZeRO spreads over all of them.
    if (a.opt.n_gpus == 1 && hw.n_gpus > 1 && a.opt.zero_stage > 0) a.opt.n_gpus = hw.n_gpus;

    train_memory mem;
    train_plan_memory(m, &a.opt, &mem);
    // The smallest GPU bounds the plan: every GPU holds its share.
    uint64_t capacity = 0;
    char where[160] = "";
    for (int i = 0; i < hw.n_gpus; i++) {
        uint64_t avail = hw.gpus[i].hypothetical ? hw.gpus[i].mem_total : hw.gpus[i].mem_free;
        if (i == 0 || avail < capacity) {
            capacity = avail;
            snprintf(where, sizeof where, "GPU %d (%s%s)", hw.gpus[i].index, hw.gpus[i].name,
                     hw.gpus[i].hypothetical ? ", from the table" : ", free memory");
        }
    }
    if (a.json)
        print_json(m, &a.opt, &mem, capacity);
    else
        print_text(m, &a.opt, &mem, &hw, capacity, where);
    model_free(m);
    return 0;
}
