// rightsize inspect MODEL [--json]: the model description, as read from an
// HF folder, a GGUF file or the catalog. The JSON schema is in
// docs/inspect-json.md.
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "model/catalog.h"
#include "model/gguf.h"
#include "model/model.h"
#include "util/format.h"

static const char *source_name(model_source s)
{
    switch (s) {
    case MODEL_SOURCE_HF_FOLDER: return "hf_folder";
    case MODEL_SOURCE_GGUF: return "gguf";
    case MODEL_SOURCE_CATALOG: return "catalog";
    }
    return "?";
}

static const char *rope_scaling_name(rope_scaling_type t)
{
    switch (t) {
    case ROPE_SCALING_NONE: return "none";
    case ROPE_SCALING_LINEAR: return "linear";
    case ROPE_SCALING_DYNAMIC: return "dynamic";
    case ROPE_SCALING_YARN: return "yarn";
    case ROPE_SCALING_LLAMA3: return "llama3";
    case ROPE_SCALING_LONGROPE: return "longrope";
    }
    return "?";
}

// 8030261248 -> "8,030,261,248"
static char *group(char *buf, size_t n, uint64_t v)
{
    char raw[32];
    int len = snprintf(raw, sizeof raw, "%" PRIu64, v);
    size_t o = 0;
    for (int i = 0; i < len && o + 2 < n; i++) {
        if (i > 0 && (len - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = raw[i];
    }
    buf[o] = '\0';
    return buf;
}

typedef struct type_sum {
    uint64_t bytes, params, tensors;
} type_sum;

static void sum_types(const model_desc *m, type_sum *sums)
{
    memset(sums, 0, DTYPE_COUNT * sizeof *sums);
    for (int64_t i = 0; i < m->n_tensors; i++) {
        const model_tensor *t = &m->tensors[i];
        if (!dtype_valid((int)t->type)) continue;
        sums[t->type].bytes += t->nbytes;
        sums[t->type].params += (uint64_t)t->n_elems;
        sums[t->type].tensors++;
    }
}

// tokenizer.ggml.model: "llama" (SentencePiece-style), "gpt2" (byte-level
// BPE), "bert" (WordPiece), ...; NULL when the GGUF has no tokenizer.
static const char *gguf_tokenizer_model(const model_desc *m)
{
    return m->gguf ? gguf_get_str(m->gguf, "tokenizer.ggml.model") : NULL;
}

static int64_t swa_layers(const model_desc *m)
{
    int64_t n = 0;
    for (int64_t i = 0; m->layer_is_swa && i < m->n_layer; i++) n += m->layer_is_swa[i];
    return n;
}

static const char *kind_or_none(const model_desc *m)
{
    return m->chat_template_kind ? m->chat_template_kind : (m->chat_template ? "unknown" : "none");
}

// Prints label then text, wrapped at word boundaries to 80 columns with the
// continuation lines indented under the text.
static void print_wrapped(const char *label, const char *text)
{
    int indent = (int)strlen(label), width = 80 - indent;
    printf("%s", label);
    while (*text) {
        int n = (int)strlen(text);
        if (n > width) {
            n = width;
            while (n > 0 && text[n] != ' ') n--;
            if (n == 0) n = width;
        }
        printf("%.*s\n", n, text);
        text += n;
        while (*text == ' ') text++;
        if (*text) printf("%*s", indent, "");
    }
}

static void print_text(const model_desc *m)
{
    char a[64], b[64], c[64];
    printf("model          %s (%s)\n", m->name ? m->name : "?",
           m->source == MODEL_SOURCE_CATALOG ? "catalog" :
           m->source == MODEL_SOURCE_GGUF ? "GGUF file" : "HF folder");
    if (m->source == MODEL_SOURCE_CATALOG) {
        long i = catalog_find(m->path);
        if (i >= 0 && catalog_source((size_t)i)) printf("source         %s\n", catalog_source((size_t)i));
    }
    printf("architecture   %s%s\n", m->arch_name ? m->arch_name : "?",
           m->arch_rules_known ? "" : " (no rules: figures from the tensors alone)");
    printf("parameters     %s (%s)", group(a, sizeof a, m->n_params),
           format_count(b, sizeof b, m->n_params));
    if (m->n_params_active != m->n_params)
        printf(", active per token %s (%s)", group(c, sizeof c, m->n_params_active),
               format_count(b, sizeof b, m->n_params_active));
    printf("\n");

    type_sum sums[DTYPE_COUNT];
    sum_types(m, sums);
    printf("stored types  ");
    int col = 14, any = 0;
    for (int k = 0; k < DTYPE_COUNT; k++) {
        if (!sums[k].tensors) continue;
        char item[96];
        int len = snprintf(item, sizeof item, " %s %s (%" PRIu64 " tensors)", dtype_name((dtype)k),
                           format_bytes(a, sizeof a, sums[k].bytes), sums[k].tensors);
        if (col + len > 79) {
            printf("\n              ");
            col = 14;
        }
        printf("%s", item);
        col += len;
        any = 1;
    }
    printf("%s\n", any ? "" : " none (no tensors)");

    printf("layers         %" PRId64 "    hidden %" PRId64 "    FFN %" PRId64 "    vocab %" PRId64 "\n",
           m->n_layer, m->n_embd, m->n_ff, m->n_vocab);
    printf("attention      %" PRId64 " heads, %" PRId64 " KV heads, head dim %" PRId64 "%s\n",
           m->n_head, m->n_head_kv, m->head_dim,
           m->kv_lora_rank > 0 ? " (MLA)" :
           m->n_head_kv > 0 && m->n_head_kv < m->n_head ? " (GQA)" : "");
    if (m->kv_lora_rank > 0)
        printf("MLA            q_lora %" PRId64 ", kv_lora %" PRId64 ", nope %" PRId64
               ", rope %" PRId64 ", v %" PRId64 "\n",
               m->q_lora_rank, m->kv_lora_rank, m->qk_nope_head_dim, m->qk_rope_head_dim,
               m->v_head_dim);
    if (m->n_expert > 0) {
        printf("experts        %" PRId64 " routed, %" PRId64 " per token, FFN %" PRId64,
               m->n_expert, m->n_expert_used, m->n_ff_expert);
        if (m->n_ff_shared > 0) printf("; shared %" PRId64, m->n_ff_shared);
        if (m->n_layer_dense_lead > 0) printf("; %" PRId64 " dense first", m->n_layer_dense_lead);
        printf("\n");
    } else {
        printf("experts        none (dense)\n");
    }
    if (m->n_layer_mtp > 0)
        printf("MTP layers     %" PRId64 " (stored, not counted active)\n", m->n_layer_mtp);
    printf("context        %" PRId64 " tokens trained\n", m->n_ctx_train);
    printf("rope           theta %g, %" PRId64 " dims, %s, scaling %s", m->rope_theta, m->rope_dim,
           m->rope_interleaved ? "interleaved pairs" : "halves",
           rope_scaling_name(m->rope_scaling.type));
    if (m->rope_scaling.factor > 0) printf(" x%g", m->rope_scaling.factor);
    printf("\n");
    if (m->sliding_window > 0)
        printf("sliding window %" PRId64 " tokens on %" PRId64 " of %" PRId64 " layers\n",
               m->sliding_window, swa_layers(m), m->n_layer);
    else
        printf("sliding window none\n");
    if (m->vision.n_layer > 0)
        printf("vision tower   %" PRId64 " layers, hidden %" PRId64 ", %" PRId64 "px / %" PRId64
               "px patches\n",
               m->vision.n_layer, m->vision.n_embd, m->vision.image_size, m->vision.patch_size);
    if (m->n_files > 0)
        printf("files          %d, %s (%s bytes)\n", m->n_files,
               format_bytes(a, sizeof a, m->file_bytes), group(b, sizeof b, m->file_bytes));
    else
        printf("files          none: %" PRId64 " tensors synthesized from the config\n",
               m->n_tensors);
    uint64_t kv16 = model_kv_bytes_per_token(m, DTYPE_F16);
    printf("KV cache       %s bytes per token (f16)", group(a, sizeof a, kv16));
    if (m->n_ctx_train > 0)
        printf(", %s at %" PRId64 " tokens", format_bytes(b, sizeof b,
                                                          model_kv_bytes(m, m->n_ctx_train, DTYPE_F16)),
               m->n_ctx_train);
    printf("\n");
    if (m->source == MODEL_SOURCE_GGUF) {
        const char *tm = gguf_tokenizer_model(m);
        if (tm)
            printf("tokenizer      GGUF metadata (%s, %" PRId64 " tokens); chat template %s\n", tm,
                   m->n_vocab, kind_or_none(m));
        else
            printf("tokenizer      none in the GGUF; chat template %s\n", kind_or_none(m));
    }
    else
        printf("tokenizer      tokenizer.json %s, tokenizer_config.json %s; chat template %s\n",
               m->has_tokenizer_json ? "yes" : "no", m->has_tokenizer_config ? "yes" : "no",
               kind_or_none(m));
    if (m->note[0]) print_wrapped("note           ", m->note);
}

static void add_num(cJSON *o, const char *k, double v)
{
    cJSON_AddNumberToObject(o, k, v);
}

static cJSON *to_json(const model_desc *m)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", m->name ? m->name : "");
    cJSON_AddStringToObject(o, "source", source_name(m->source));
    cJSON_AddStringToObject(o, "path", m->path ? m->path : "");
    if (m->source == MODEL_SOURCE_CATALOG) {
        long i = catalog_find(m->path);
        const char *src = i >= 0 ? catalog_source((size_t)i) : NULL;
        if (src) cJSON_AddStringToObject(o, "source_url", src);
        if (i >= 0 && catalog_published_params((size_t)i))
            add_num(o, "published_params", (double)catalog_published_params((size_t)i));
    }
    cJSON_AddStringToObject(o, "architecture", m->arch_name ? m->arch_name : "");
    cJSON_AddBoolToObject(o, "architecture_rules", m->arch_rules_known);
    add_num(o, "params", (double)m->n_params);
    add_num(o, "params_active", (double)m->n_params_active);
    cJSON_AddStringToObject(o, "stored_type", dtype_name(m->stored_type));
    type_sum sums[DTYPE_COUNT];
    sum_types(m, sums);
    cJSON *types = cJSON_AddArrayToObject(o, "types");
    for (int k = 0; k < DTYPE_COUNT; k++) {
        if (!sums[k].tensors) continue;
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "type", dtype_name((dtype)k));
        add_num(t, "tensors", (double)sums[k].tensors);
        add_num(t, "params", (double)sums[k].params);
        add_num(t, "bytes", (double)sums[k].bytes);
        cJSON_AddItemToArray(types, t);
    }
    add_num(o, "n_layer", (double)m->n_layer);
    add_num(o, "n_embd", (double)m->n_embd);
    add_num(o, "n_head", (double)m->n_head);
    add_num(o, "n_head_kv", (double)m->n_head_kv);
    add_num(o, "head_dim", (double)m->head_dim);
    add_num(o, "n_ff", (double)m->n_ff);
    add_num(o, "n_vocab", (double)m->n_vocab);
    add_num(o, "n_ctx_train", (double)m->n_ctx_train);
    add_num(o, "norm_eps", m->norm_eps);
    cJSON *rope = cJSON_AddObjectToObject(o, "rope");
    add_num(rope, "theta", m->rope_theta);
    add_num(rope, "dims", (double)m->rope_dim);
    cJSON_AddBoolToObject(rope, "interleaved", m->rope_interleaved);
    cJSON_AddStringToObject(rope, "scaling", rope_scaling_name(m->rope_scaling.type));
    add_num(rope, "factor", m->rope_scaling.factor);
    add_num(rope, "original_ctx", (double)m->rope_scaling.original_ctx);
    if (m->sliding_window > 0) {
        cJSON *s = cJSON_AddObjectToObject(o, "sliding_window");
        add_num(s, "window", (double)m->sliding_window);
        add_num(s, "layers", (double)swa_layers(m));
    } else {
        cJSON_AddNullToObject(o, "sliding_window");
    }
    if (m->n_expert > 0) {
        cJSON *e = cJSON_AddObjectToObject(o, "moe");
        add_num(e, "experts", (double)m->n_expert);
        add_num(e, "experts_used", (double)m->n_expert_used);
        add_num(e, "experts_shared", (double)m->n_expert_shared);
        add_num(e, "ff_expert", (double)m->n_ff_expert);
        add_num(e, "ff_shared", (double)m->n_ff_shared);
        add_num(e, "dense_lead_layers", (double)m->n_layer_dense_lead);
    } else {
        cJSON_AddNullToObject(o, "moe");
    }
    if (m->kv_lora_rank > 0) {
        cJSON *a = cJSON_AddObjectToObject(o, "mla");
        add_num(a, "q_lora_rank", (double)m->q_lora_rank);
        add_num(a, "kv_lora_rank", (double)m->kv_lora_rank);
        add_num(a, "qk_nope_head_dim", (double)m->qk_nope_head_dim);
        add_num(a, "qk_rope_head_dim", (double)m->qk_rope_head_dim);
        add_num(a, "v_head_dim", (double)m->v_head_dim);
    } else {
        cJSON_AddNullToObject(o, "mla");
    }
    add_num(o, "mtp_layers", (double)m->n_layer_mtp);
    if (m->vision.n_layer > 0) {
        cJSON *v = cJSON_AddObjectToObject(o, "vision");
        add_num(v, "n_layer", (double)m->vision.n_layer);
        add_num(v, "n_embd", (double)m->vision.n_embd);
        add_num(v, "n_ff", (double)m->vision.n_ff);
        add_num(v, "image_size", (double)m->vision.image_size);
        add_num(v, "patch_size", (double)m->vision.patch_size);
    } else {
        cJSON_AddNullToObject(o, "vision");
    }
    cJSON_AddBoolToObject(o, "tied_embeddings", m->tied_embeddings);
    cJSON *files = cJSON_AddArrayToObject(o, "files");
    for (int i = 0; i < m->n_files; i++) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "path", m->files[i].path);
        add_num(f, "bytes", (double)m->files[i].size);
        cJSON_AddItemToArray(files, f);
    }
    add_num(o, "file_bytes", (double)m->file_bytes);
    add_num(o, "tensors", (double)m->n_tensors);
    cJSON_AddBoolToObject(o, "tensors_synthesized", m->tensors_synthesized);
    cJSON *kv = cJSON_AddObjectToObject(o, "kv_bytes_per_token");
    add_num(kv, "f16", (double)model_kv_bytes_per_token(m, DTYPE_F16));
    add_num(kv, "q8_0", (double)model_kv_bytes_per_token(m, DTYPE_Q8_0));
    add_num(kv, "q4_0", (double)model_kv_bytes_per_token(m, DTYPE_Q4_0));
    add_num(o, "kv_bytes_trained_context_f16", (double)model_kv_bytes(m, m->n_ctx_train, DTYPE_F16));
    cJSON *tok = cJSON_AddObjectToObject(o, "tokenizer");
    cJSON_AddBoolToObject(tok, "tokenizer_json", m->has_tokenizer_json);
    cJSON_AddBoolToObject(tok, "tokenizer_config", m->has_tokenizer_config);
    const char *tm = gguf_tokenizer_model(m);
    cJSON_AddBoolToObject(tok, "gguf_metadata", tm != NULL);
    if (tm) cJSON_AddStringToObject(tok, "gguf_model", tm);
    else cJSON_AddNullToObject(tok, "gguf_model");
    cJSON_AddBoolToObject(tok, "chat_template", m->chat_template != NULL);
    cJSON_AddStringToObject(tok, "chat_template_kind", kind_or_none(m));
    cJSON *ids = cJSON_AddObjectToObject(o, "special_tokens");
    add_num(ids, "bos", (double)m->bos_id);
    add_num(ids, "eos", (double)m->eos_id);
    add_num(ids, "eot", (double)m->eot_id);
    add_num(ids, "pad", (double)m->pad_id);
    if (m->note[0]) cJSON_AddStringToObject(o, "note", m->note);
    else cJSON_AddNullToObject(o, "note");
    return o;
}

// One line per tensor: type, shape (ggml order, innermost first), bytes,
// file index and name (last, so long names do not push the columns).
static void print_tensors(const model_desc *m)
{
    char b[32];
    for (int64_t i = 0; i < m->n_tensors; i++) {
        const model_tensor *t = &m->tensors[i];
        char shape[96];
        size_t o = 0;
        shape[0] = '\0';
        for (int d = 0; d < t->n_dims && o < sizeof shape; d++)
            o += (size_t)snprintf(shape + o, sizeof shape - o, "%s%" PRId64, d ? " x " : "", t->ne[d]);
        printf("%-8s %-22s %10s  %s\n", dtype_name(t->type), shape,
               format_bytes(b, sizeof b, t->nbytes), t->name);
    }
}

static void list_catalog(void)
{
    char a[32];
    size_t n = catalog_count();
    for (size_t i = 0; i < n; i++) {
        uint64_t p = catalog_published_params(i);
        printf("%-32s %8s  %s\n", catalog_name(i), p ? format_count(a, sizeof a, p) : "-",
               catalog_source(i));
    }
}

static void usage(FILE *out)
{
    fprintf(out, "usage: rightsize inspect MODEL [--json]   (MODEL: HF folder, GGUF file, or "
                 "catalog name)\n       rightsize inspect MODEL --tensors   (type, shape in ggml "
                 "order, bytes, name)\n       rightsize inspect --list     (the catalog)\n");
}

int cmd_inspect(int argc, char **argv)
{
    bool json = false, list = false, tensors = false;
    const char *model = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = true;
        else if (strcmp(argv[i], "--list") == 0) list = true;
        else if (strcmp(argv[i], "--tensors") == 0) tensors = true;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "rightsize inspect: unknown option \"%s\"\n", argv[i]);
            return 2;
        } else if (model) {
            fprintf(stderr, "rightsize inspect: one model at a time (\"%s\" and \"%s\")\n", model,
                    argv[i]);
            return 2;
        } else {
            model = argv[i];
        }
    }
    if (list) {
        list_catalog();
        return 0;
    }
    if (!model) {
        fprintf(stderr, "rightsize inspect: name a model (HF folder, GGUF file or catalog name); "
                        "--list shows the catalog\n");
        return 2;
    }
    model_desc *m;
    rs_error err = {0};
    rs_status st = model_open(model, &m, &err);
    if (st != RS_OK) {
        fprintf(stderr, "rightsize inspect: %s\n", err.msg);
        return st == RS_ERR_INPUT ? 2 : 1;
    }
    if (tensors && !json) {
        print_tensors(m);
    } else if (json) {
        cJSON *o = to_json(m);
        char *s = cJSON_Print(o);
        if (s) printf("%s\n", s);
        free(s);
        cJSON_Delete(o);
    } else {
        print_text(m);
    }
    model_free(m);
    return 0;
}
