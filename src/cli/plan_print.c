#include "cli/plan_print.h"

#include <string.h>

#include "plan/speed.h"
#include "util/format.h"

#define BAR_WIDTH 40

static double to_gib(uint64_t b)
{
    return (double)b / (double)(1ull << 30);
}

// Table cells in GiB, or MiB for models under a GiB (stories260K).
static double cell_unit = (double)(1ull << 30);

static void gib_cell(char *buf, size_t n, uint64_t b)
{
    snprintf(buf, n, "%.2f", (double)b / cell_unit);
}

static void tps_cell(char *buf, size_t n, double tps)
{
    if (tps <= 0) snprintf(buf, n, "-");
    else if (tps < 10) snprintf(buf, n, "%.2f", tps);
    else if (tps < 100) snprintf(buf, n, "%.1f", tps);
    else snprintf(buf, n, "%.0f", tps);
}

// Prints text wrapped at 79 columns, continuation lines indented.
static void print_wrapped(FILE *out, const char *lead, const char *text, int indent)
{
    int col = fprintf(out, "%s", lead);
    const char *p = text;
    bool space = false; // a space is owed before the next word on this line
    while (*p) {
        const char *sp = strchr(p, ' ');
        int len = sp ? (int)(sp - p) : (int)strlen(p);
        if (col + space + len > 79 && col > indent) {
            fprintf(out, "\n%*s", indent, "");
            col = indent;
            space = false;
        }
        if (space) {
            fputc(' ', out);
            col++;
        }
        fprintf(out, "%.*s", len, p);
        col += len;
        p += len;
        space = *p == ' ';
        if (space) p++;
    }
    fputc('\n', out);
}

// Prints item (no line break inside it) at column *col, first breaking
// the line, continued at indent, when it would pass column 79.
static void print_item(FILE *out, int *col, const char *item, int indent)
{
    int len = (int)strlen(item);
    if (*col + len > 79 && *col > indent) {
        fprintf(out, "\n%*s", indent, "");
        *col = indent;
        while (*item == ' ') {
            item++;
            len--;
        }
    }
    fputs(item, out);
    *col += len;
}

static void precision_label(char *buf, size_t n, const model_desc *m, const plan_row *row)
{
    if (row->precision.kind == PLAN_PREC_STORED) {
        // "bf16 stored", or the GGUF file's main type.
        const char *t = dtype_name(m->stored_type);
        char low[16];
        size_t i = 0;
        for (; t[i] && i + 1 < sizeof low; i++)
            low[i] = (char)(t[i] >= 'A' && t[i] <= 'Z' ? t[i] - 'A' + 'a' : t[i]);
        low[i] = 0;
        snprintf(buf, n, "%s *", low);
    } else {
        snprintf(buf, n, "%s", plan_precision_name(row->precision));
    }
}

static void device_name(char *buf, size_t n, const plan_device *d)
{
    if (d->gpu_index >= 0) snprintf(buf, n, "GPU%d", d->gpu_index);
    else snprintf(buf, n, "RAM");
}

void plan_bar(char *buf, int width, const plan_device *d)
{
    uint64_t cap = d->capacity > 0 ? d->capacity : 1;
    uint64_t parts[4] = {d->weights, d->kv, d->compute, d->overhead};
    const char sym[4] = {'W', 'K', 'C', 'O'};
    int margin = (int)((double)(cap - (d->usable < cap ? d->usable : cap)) / (double)cap * width + 0.5);
    if (d->usable < cap && margin < 1) margin = 1;
    int pos = 0;
    double acc = 0;
    for (int k = 0; k < 4; k++) {
        if (parts[k] == 0) continue;
        acc += (double)parts[k] / (double)cap * width;
        int end = (int)(acc + 0.5);
        if (end <= pos) end = pos + 1; // every component present shows
        for (; pos < end && pos < width; pos++) buf[pos] = sym[k];
    }
    for (; pos < width - margin; pos++) buf[pos] = '.';
    for (; pos < width; pos++) buf[pos] = '-';
    if (d->total > d->usable) buf[width - 1] = '!';
    buf[width] = 0;
}

static void print_machine(FILE *out, const hw_info *hw)
{
    char b[32];
    fprintf(out, "Machine: %s, %d cores; RAM %s available%s\n",
            hw->cpu_model[0] ? hw->cpu_model : "CPU", hw->cpu_cores,
            format_bytes(b, sizeof b, hw->ram_available), hw->ram_hypothetical ? " (what-if)" : "");
    if (hw->n_gpus == 0) {
        fprintf(out, "         no GPU%s%s\n", hw->nvml_note[0] ? ": " : "", hw->nvml_note);
        return;
    }
    for (int i = 0; i < hw->n_gpus; i++) {
        const hw_gpu *g = &hw->gpus[i];
        // Eight identical what-if cards read better as one line.
        if (i > 0 && g->hypothetical && strcmp(g->name, hw->gpus[0].name) == 0 &&
            g->mem_free == hw->gpus[0].mem_free)
            continue;
        int same = 1;
        for (int k = i + 1; k < hw->n_gpus; k++)
            if (hw->gpus[k].hypothetical && strcmp(hw->gpus[k].name, g->name) == 0) same++;
        char count[16] = "";
        if (g->hypothetical && same > 1) snprintf(count, sizeof count, " x%d", same);
        fprintf(out, "         GPU%d %s%s, %s free%s\n", i, g->name, count,
                format_bytes(b, sizeof b, g->mem_free > 0 ? g->mem_free : g->mem_total),
                g->hypothetical ? " (what-if)" : "");
    }
}

void plan_print(FILE *out, const model_desc *m, const hw_info *hw, const plan_result *r)
{
    char b1[32], b2[32];
    const plan_options *o = &r->opts;
    // One line where it fits in 80 columns (long names and MoE models wrap).
    char item[512];
    int col = 0;
    snprintf(item, sizeof item, "%s (%s): %s parameters", m->name ? m->name : m->path,
             m->arch_name ? m->arch_name : model_arch_name(m->arch),
             format_count(b1, sizeof b1, m->n_params));
    print_item(out, &col, item, 2);
    if (m->n_params_active && m->n_params_active < m->n_params) {
        snprintf(item, sizeof item, " (%s active),", format_count(b2, sizeof b2, m->n_params_active));
        print_item(out, &col, item, 2);
    } else {
        print_item(out, &col, ",", 2);
    }
    snprintf(item, sizeof item, " stored %s,", dtype_name(m->stored_type));
    print_item(out, &col, item, 2);
    snprintf(item, sizeof item, " %lld layers", (long long)m->n_layer);
    print_item(out, &col, item, 2);
    fputc('\n', out);
    fprintf(out, "Plan: %lld-token context x %lld sequence%s, KV %s, prefill chunks of %lld\n",
            (long long)o->n_ctx, (long long)o->n_parallel, o->n_parallel > 1 ? "s" : "",
            dtype_name(o->kv_type), (long long)o->n_batch);
    if (m->n_ctx_train > 0 && o->n_ctx > m->n_ctx_train)
        fprintf(out, "Note: %lld tokens is beyond the model's trained context (%lld)\n",
                (long long)o->n_ctx, (long long)m->n_ctx_train);
    print_machine(out, hw);
    fprintf(out, "\n");

    uint64_t biggest = 0;
    for (int i = 0; i < r->n_rows; i++)
        for (int d = 0; d < r->rows[i].layout.n_dev; d++)
            if (r->rows[i].layout.dev[d].total > biggest) biggest = r->rows[i].layout.dev[d].total;
    bool mib = biggest < (1ull << 30);
    cell_unit = (double)(mib ? 1ull << 20 : 1ull << 30);
    fprintf(out, "                ------------------ %s ------------------\n", mib ? "MiB" : "GiB");
    fprintf(out, "  %-12s%8s%7s%9s%9s%8s  %-6s%9s%7s\n", "precision", "weights", "KV", "compute",
            "overhead", "total", "fits", "max ctx", "tok/s");
    bool spread = false;
    for (int i = 0; i < r->n_rows; i++) {
        const plan_row *row = &r->rows[i];
        const plan_layout *l = &row->layout;
        uint64_t w = 0, kv = 0, c = 0, ov = 0, t = 0;
        for (int d = 0; d < l->n_dev; d++) {
            w += l->dev[d].weights;
            kv += l->dev[d].kv;
            c += l->dev[d].compute;
            ov += l->dev[d].overhead;
            t += l->dev[d].total;
        }
        char name[24], cw[32], ckv[32], cc[32], co[32], ct[32], fits[48], ctx[32], tps[32];
        precision_label(name, sizeof name, m, row);
        gib_cell(cw, sizeof cw, w);
        gib_cell(ckv, sizeof ckv, kv);
        gib_cell(cc, sizeof cc, c);
        gib_cell(co, sizeof co, ov);
        gib_cell(ct, sizeof ct, t);
        int n_gpu = l->n_dev - 1; // the cards the layout uses
        if (!l->fits) snprintf(fits, sizeof fits, "no");
        else if (l->placement == PLAN_PLACE_GPU && n_gpu > 1) {
            snprintf(fits, sizeof fits, "GPUx%d", n_gpu);
            spread = true;
        } else if (l->placement == PLAN_PLACE_GPU) snprintf(fits, sizeof fits, "GPU");
        else if (l->placement == PLAN_PLACE_CPU) snprintf(fits, sizeof fits, "CPU");
        else snprintf(fits, sizeof fits, "%lld/%lld", (long long)l->n_gpu_layers,
                      (long long)m->n_layer);
        if (row->max_ctx > 0) snprintf(ctx, sizeof ctx, "%lld", (long long)row->max_ctx);
        else snprintf(ctx, sizeof ctx, "-");
        tps_cell(tps, sizeof tps, l->fits ? row->speed.decode_tps : 0);
        char mark = i == r->chosen ? '>' : row->candidate ? ' ' : ' ';
        fprintf(out, "%c %-12s%8s%7s%9s%9s%8s  %-6s%9s%7s\n", mark, name, cw, ckv, cc, co, ct,
                fits, ctx, tps);
    }
    fprintf(out, "  * stored precision; > the pick; fits: GPU, CPU, or layers on GPU/all (split)\n");
    if (spread) fprintf(out, "  GPUxN: blocks spread over N GPUs (the model does not fit one)\n");
    fprintf(out, "  tok/s: predicted decode of one sequence at %lld tokens\n", (long long)o->n_ctx);
    // The seed's rule of thumb beside the exact figures.
    col = fprintf(out, "  rule of thumb (params x bytes x 1.2):");
    for (int i = 0; i < r->n_rows; i++) {
        const plan_row *row = &r->rows[i];
        if (row->precision.kind == PLAN_PREC_F32 || row->precision.kind == PLAN_PREC_F16) continue;
        char name[24];
        precision_label(name, sizeof name, m, row);
        snprintf(item, sizeof item, " %s %.2f", name, to_gib(row->seed_rule));
        print_item(out, &col, item, 4);
    }
    fprintf(out, "\n\n");

    const plan_row *show = r->chosen >= 0 ? &r->rows[r->chosen] : &r->rows[0];
    const plan_layout *l = &show->layout;
    fprintf(out, "Memory, %s%s:\n",
            show->precision.kind == PLAN_PREC_STORED ? "stored precision"
                                                     : plan_precision_name(show->precision),
            r->chosen >= 0 ? "" : " (does not fit)");
    for (int d = 0; d < l->n_dev; d++) {
        const plan_device *dev = &l->dev[d];
        char bar[BAR_WIDTH + 1], dn[16], what[64] = "";
        plan_bar(bar, BAR_WIDTH, dev);
        device_name(dn, sizeof dn, dev);
        if (dev->layer_last > dev->layer_first)
            snprintf(what, sizeof what, " layers %lld-%lld", (long long)dev->layer_first,
                     (long long)dev->layer_last - 1);
        fprintf(out, "  %-4s [%s] %5.1f/%.1f GiB%s\n", dn, bar, to_gib(dev->total),
                to_gib(dev->capacity), what);
    }
    // The cards the layout leaves idle (a model that fits one card), as
    // ranges: "idle: GPU1-7".
    char idle[160] = "";
    int ni = 0;
    for (int g = 0; g < hw->n_gpus && ni < (int)sizeof idle - 16; g++) {
        bool used = false;
        for (int d = 0; d < l->n_dev; d++) used = used || l->dev[d].gpu_index == g;
        if (used) continue;
        int e = g;
        for (;;) {
            bool next_used = e + 1 >= hw->n_gpus;
            for (int d = 0; d < l->n_dev && !next_used; d++)
                next_used = l->dev[d].gpu_index == e + 1;
            if (next_used) break;
            e++;
        }
        ni += e > g ? snprintf(idle + ni, sizeof idle - (size_t)ni, "%sGPU%d-%d", ni ? ", " : "", g, e)
                    : snprintf(idle + ni, sizeof idle - (size_t)ni, "%sGPU%d", ni ? ", " : "", g);
        g = e;
    }
    if (ni) fprintf(out, "  idle: %s\n", idle);
    fprintf(out, "        W weights  K KV cache  C compute  O overhead  . free  - margin\n\n");

    print_wrapped(out, "Decision: ", r->reason, 10);
    if (r->chosen >= 0) {
        const plan_speed *s = &show->speed;
        char line[400], dec[16], pre[16];
        tps_cell(dec, sizeof dec, s->decode_tps);
        tps_cell(pre, sizeof pre, s->prefill_tps);
        int n = snprintf(line, sizeof line, "%s tok/s decode, %s tok/s prefill;", dec, pre);
        // One entry for the CPU and one for the GPUs (identical cards read
        // as a range).
        for (int i = 0; i < s->n_parts && n < (int)sizeof line; i++) {
            const plan_speed_part *p = &s->parts[i];
            int j = i;
            while (p->gpu && j + 1 < s->n_parts && s->parts[j + 1].gpu &&
                   s->parts[j + 1].bandwidth_gbs == p->bandwidth_gbs)
                j++;
            char dn[32], how[48];
            snprintf(how, sizeof how, "%s x %.2g%s",
                     p->bandwidth_measured ? "measured" : p->gpu ? "spec" : "estimated",
                     plan_device_bandwidth_factor(hw, p->gpu_index),
                     p->calibrated ? ", calibrated by bench" : "");
            if (!p->gpu) snprintf(dn, sizeof dn, "CPU");
            else if (j > i)
                snprintf(dn, sizeof dn, "GPU%d-%d", p->gpu_index, s->parts[j].gpu_index);
            else snprintf(dn, sizeof dn, "GPU%d", p->gpu_index);
            n += snprintf(line + n, sizeof line - (size_t)n, "%s %s %.0f GB/s effective%s (%s)",
                          i ? "," : "", dn, p->bandwidth_gbs, j > i ? " each" : "", how);
            i = j;
        }
        if (s->n_hops > 0 && n < (int)sizeof line)
            snprintf(line + n, sizeof line - (size_t)n, "; %d hop%s between devices, %.0f us per token",
                     s->n_hops, s->n_hops > 1 ? "s" : "", s->hop_s * 1e6);
        print_wrapped(out, "Predicted: ", line, 11);
    }
}

void plan_print_gpus_all(FILE *out, const model_desc *m, const plan_options *o,
                         const plan_gpu_verdict *v, int n)
{
    char b1[32];
    char item[512];
    int col = 0;
    snprintf(item, sizeof item, "%s: %s parameters,", m->name ? m->name : m->path,
             format_count(b1, sizeof b1, m->n_params));
    print_item(out, &col, item, 2);
    snprintf(item, sizeof item, " stored %s;", dtype_name(m->stored_type));
    print_item(out, &col, item, 2);
    snprintf(item, sizeof item, " %lld-token context,", (long long)o->n_ctx);
    print_item(out, &col, item, 2);
    snprintf(item, sizeof item, " KV %s", dtype_name(o->kv_type));
    print_item(out, &col, item, 2);
    fputc('\n', out);
    fprintf(out, "Each card alone, whole model on the card (free = total):\n\n");
    fprintf(out, "%-32s%6s  %-4s %-10s%8s%9s%8s\n", "GPU", "GiB", "runs", "precision", "needs",
            "max ctx", "tok/s");
    int runs = 0;
    for (int i = 0; i < n; i++) {
        char prec[24] = "-", ctx[32] = "-", tps[32] = "-", name[40];
        if (v[i].runs) {
            runs++;
            if (v[i].precision.kind == PLAN_PREC_STORED) {
                const char *t = dtype_name(m->stored_type);
                snprintf(prec, sizeof prec, "%s", t);
            } else {
                snprintf(prec, sizeof prec, "%s", plan_precision_name(v[i].precision));
            }
            snprintf(ctx, sizeof ctx, "%lld", (long long)v[i].max_ctx);
            tps_cell(tps, sizeof tps, v[i].decode_tps);
        }
        snprintf(name, sizeof name, "%.31s", v[i].spec->name);
        fprintf(out, "%-32s%6.0f  %-4s %-10s%8.1f%9s%8s\n", name, v[i].spec->mem_gib,
                v[i].runs ? "yes" : "no", prec, to_gib(v[i].total), ctx, tps);
    }
    fprintf(out, "\n%d of %d cards run it. needs: planned GiB on the card (or the smallest need,\n"
                 "int4, when it does not run); tok/s: predicted decode at %lld tokens.\n",
            runs, n, (long long)o->n_ctx);
}
