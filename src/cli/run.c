// rightsize run MODEL -p PROMPT -n N: one-shot generation for scripts.
// stdout carries only the generated text (or, with --json, one JSON
// object); everything else goes to stderr, so the output pipes cleanly.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli/cli_args.h"
#include "cli/commands.h"
#include "cli/load_plan.h"
#include "engine/backend_cuda.h"
#include "engine/engine.h"
#include "engine/sampler.h"
#include "model/model.h"
#include "plan/memory.h"
#include "tok/chat_template.h"
#include "tok/tokenizer.h"
#include "util/clock.h"
#include "util/format.h"

typedef struct run_args {
    const char *model;
    const char *prompt;     // NULL or "-": stdin
    const char *prompt_ids; // "1,2,3": token ids instead of text
    const char *system;
    const char *chat_template;
    const char *stop[8]; // --stop strings
    int n_stop;
    // The load options; --gpu-mem (or --device cuda alone) loads as
    // planned, else at --precision (stored when absent) as given.
    load_plan_request load;
    int64_t n_predict;
    bool chat, json, verbose, ignore_eos;
    sampler_params sp;
} run_args;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: rightsize run MODEL [-p PROMPT] [-n N] [options]\n"
            "  MODEL                 HF folder or GGUF file\n"
            "  -p, --prompt TEXT     the prompt (\"-\" or absent: read stdin); raw text unless --chat\n"
            "  --prompt-ids IDS      token ids, comma separated, instead of text\n"
            "  -n, --n-predict N     tokens to generate (default 128)\n"
            "  --chat                wrap the prompt in the model's chat template\n"
            "  --system TEXT         system prompt (with --chat)\n"
            "  --chat-template NAME  a template family or .jinja file instead of the model's\n"
            "  --temp T              temperature (default 0: greedy)\n"
            "  --top-k K, --top-p P, --min-p P, --repeat-penalty R, --seed S\n"
            "  --ignore-eos          keep going past end-of-generation tokens\n"
            "  --stop TEXT           stop before this text (up to 8 times)\n"
            "  --ctx N               context tokens (default: prompt + N, at most the model's)\n"
            "  --precision P         stored (default), fp32, bf16, fp16, int8, int4, or a GGUF type\n"
            "  --kv-type T           f16 (default), q8_0 or f32\n"
            "  --threads N           worker threads (default: one per core)\n"
            "  --device D            cpu (default), cuda or cuda:N (the CPU, with a note, without a GPU)\n"
            "  --gpu-layers N        with --device cuda: the first N blocks on the GPU (default:\n"
            "                        the plan's: one GPU, spread over GPU N on, or a CPU split)\n"
            "  --split A,B           A blocks on GPU N (of --device cuda:N), B on GPU N+1, ...,\n"
            "                        the rest on the CPU\n"
            "  --gpu-mem SIZE        with --device cuda: plan the precision and the GPU blocks as if\n"
            "                        each GPU had at most SIZE free (10G), and load as planned\n"
            "  --json                one JSON object on stdout: text, ids, timings\n"
            "  --verbose             per-tensor conversion error and memory on stderr\n");
}

// Returns 0 on success, 2 on bad usage (after a message).
static int parse_args(int argc, char **argv, run_args *a)
{
    memset(a, 0, sizeof *a);
    load_plan_request_init(&a->load, "run");
    a->n_predict = 128;
    a->sp = sampler_default_params();
    a->sp.seed = (uint64_t)time(NULL);
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true, takes = true;
        rs_error err = {0};
        if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(o, "-p") == 0 || strcmp(o, "--prompt") == 0) a->prompt = v, ok = v;
        else if (strcmp(o, "--prompt-ids") == 0) a->prompt_ids = v, ok = v;
        else if (strcmp(o, "--system") == 0) a->system = v, ok = v;
        else if (strcmp(o, "--chat-template") == 0) a->chat_template = v, ok = v;
        else if (strcmp(o, "--stop") == 0) {
            ok = v && *v && a->n_stop < 8;
            if (ok) a->stop[a->n_stop++] = v;
        }
        else if (strcmp(o, "-n") == 0 || strcmp(o, "--n-predict") == 0)
            ok = cli_parse_int(v, 0, 1 << 24, &a->n_predict);
        else if (cli_parse_sampler_option(o, v, &a->sp, &ok)) {
        } else if (load_plan_parse_option(&a->load, o, v, &ok, &err)) {
        } else {
            takes = false;
            if (strcmp(o, "--chat") == 0) a->chat = true;
            else if (strcmp(o, "--json") == 0) a->json = true;
            else if (strcmp(o, "--verbose") == 0 || strcmp(o, "-v") == 0) a->verbose = true;
            else if (strcmp(o, "--ignore-eos") == 0) a->ignore_eos = true;
            else if (o[0] == '-' && o[1]) {
                fprintf(stderr, "rightsize run: unknown option \"%s\"\n", o);
                usage(stderr);
                return 2;
            } else if (!a->model) a->model = o;
            else {
                fprintf(stderr, "rightsize run: unexpected argument \"%s\"\n", o);
                return 2;
            }
        }
        if (!ok) return cli_bad_value("run", o, v, &err);
        if (takes) i++;
    }
    if (!a->model) {
        fprintf(stderr, "rightsize run: no MODEL given\n");
        usage(stderr);
        return 2;
    }
    return 0;
}

static char *read_stdin(void)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, stdin)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
    }
    buf[n] = 0;
    return buf;
}

static rs_status parse_ids(const char *s, int32_t **ids, int64_t *n, rs_error *err)
{
    int64_t cap = 16;
    *n = 0;
    *ids = malloc((size_t)cap * sizeof **ids);
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 0 || v > INT32_MAX)
            return rs_fail(err, RS_ERR_INPUT, "--prompt-ids: \"%s\" is not a list of token ids", s);
        if (*n == cap) *ids = realloc(*ids, (size_t)(cap *= 2) * sizeof **ids);
        (*ids)[(*n)++] = (int32_t)v;
        s = end;
        while (*s == ',' || *s == ' ')
            s++;
    }
    if (*n == 0) return rs_fail(err, RS_ERR_INPUT, "--prompt-ids: no ids");
    return RS_OK;
}

// The prompt text through the chat template when asked for: the model's
// own, or --chat-template NAME|FILE.
static rs_status render_prompt(const run_args *a, const char *text, char **out, bool *has_bos,
                               rs_error *err)
{
    chat_template_info info = {0}, ov = {0};
    rs_status st = chat_template_load(a->model, &info, err);
    if (st != RS_OK) return st;
    const char *tmpl = info.text;
    chat_family f = CHAT_FAMILY_UNKNOWN;
    if (a->chat_template) {
        f = chat_family_from_name(a->chat_template);
        if (f == CHAT_FAMILY_UNKNOWN && access(a->chat_template, R_OK) == 0) {
            if ((st = chat_template_load(a->chat_template, &ov, err)) != RS_OK) goto done;
            tmpl = ov.text;
            f = chat_family_detect(tmpl);
        }
        if (f == CHAT_FAMILY_UNKNOWN) {
            st = rs_fail(err, RS_ERR_INPUT,
                         "--chat-template \"%s\" is neither a known family nor a template file "
                         "of a known family; families: %s",
                         a->chat_template, chat_family_list());
            goto done;
        }
    } else if (!info.text) {
        st = rs_fail(err, RS_ERR_INPUT,
                     "%s has no chat template; pass --chat-template NAME (one of: %s)", a->model,
                     chat_family_list());
        goto done;
    } else if ((f = chat_family_detect(info.text)) == CHAT_FAMILY_UNKNOWN) {
        st = rs_fail(err, RS_ERR_INPUT,
                     "the chat template in %s is not one rightsize renders; pass --chat-template "
                     "NAME (one of: %s)",
                     info.source ? info.source : a->model, chat_family_list());
        goto done;
    }
    chat_message msgs[2];
    size_t n = 0;
    if (a->system) msgs[n++] = (chat_message){"system", a->system};
    msgs[n++] = (chat_message){"user", text};
    chat_options co = chat_default_options();
    co.bos_token = info.bos_token;
    co.eos_token = info.eos_token;
    char *def_sys = tmpl ? chat_template_default_system(tmpl, 0) : NULL;
    co.default_system = def_sys;
    st = chat_render(f, msgs, n, &co, out, err);
    free(def_sys);
    *has_bos = st == RS_OK && info.bos_token && *info.bos_token &&
               strncmp(*out, info.bos_token, strlen(info.bos_token)) == 0;
done:
    chat_template_info_free(&info);
    chat_template_info_free(&ov);
    return st;
}

// The generated text: all of it for --json and stop strings, and how much
// has gone to stdout. Text that may be the start of a stop string is held
// back until the next token shows whether it is.
typedef struct gen_text {
    char *buf;
    size_t len, cap;
    size_t printed; // bytes already written to stdout
    size_t safe;    // bytes that can no longer turn into a stop string
} gen_text;

static int text_append(gen_text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2;
        char *b = realloc(t->buf, cap);
        if (!b) return -1;
        t->buf = b;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = 0;
    return 0;
}

// True when a stop string occurs: the text is cut before it. Otherwise
// t->safe is moved past what cannot start a stop string.
static bool stop_check(gen_text *t, const run_args *a)
{
    size_t hold = 0;
    for (int i = 0; i < a->n_stop; i++) {
        const char *hit = strstr(t->buf ? t->buf : "", a->stop[i]);
        if (hit) {
            t->len = (size_t)(hit - t->buf);
            t->buf[t->len] = 0;
            t->safe = t->len;
            return true;
        }
        // The longest tail of the text that begins this stop string.
        size_t sl = strlen(a->stop[i]);
        for (size_t k = sl - 1; k > hold; k--)
            if (k <= t->len && memcmp(t->buf + t->len - k, a->stop[i], k) == 0) {
                hold = k;
                break;
            }
    }
    t->safe = t->len - hold;
    return false;
}

static void text_emit(gen_text *t, const run_args *a)
{
    (void)a;
    if (t->safe > t->printed) {
        fwrite(t->buf + t->printed, 1, t->safe - t->printed, stdout);
        fflush(stdout);
        t->printed = t->safe;
    }
}

int cmd_run(int argc, char **argv)
{
    run_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    rs_error err = {0};
    rs_status st = RS_OK;
    model_desc *m = NULL;
    tokenizer *tok = NULL;
    engine *e = NULL;
    sampler smp = {0};
    int32_t *ids = NULL;
    int64_t n_prompt = 0;
    char *text = NULL, *rendered = NULL;
    gen_text out = {0};
    tokenizer_decoder dec = {0};
    bool have_dec = false;
    const char *stop_reason = "length";

    load_plan_request *rq = &a.load;
    rq->verbose = a.verbose;
    rq->progress = a.verbose || isatty(STDERR_FILENO);
    engine_options eo = load_plan_engine_options(rq);
    // Without the planner, the files' own precision unless --precision.
    if ((st = plan_precision_parse(rq->precision ? rq->precision : "stored", &eo.precision,
                                   &err)) != RS_OK)
        goto done;

    if ((st = model_open(a.model, &m, &err)) != RS_OK) goto done;
    // Token ids need no tokenizer, but the output reads better with one.
    st = cli_load_tokenizer(m, &tok, &err);
    if (st != RS_OK && !a.prompt_ids) goto done;
    if (st != RS_OK) {
        fprintf(stderr, "rightsize run: no tokenizer (%s); printing token ids\n", err.msg);
        tok = NULL;
        st = RS_OK;
    }

    if (a.prompt_ids) {
        if ((st = parse_ids(a.prompt_ids, &ids, &n_prompt, &err)) != RS_OK) goto done;
    } else {
        if (!a.prompt || strcmp(a.prompt, "-") == 0) {
            text = read_stdin();
            if (!text) {
                st = rs_fail(&err, RS_ERR_RUNTIME, "cannot read the prompt from stdin");
                goto done;
            }
            // `echo TEXT |` ends the prompt with a newline nobody meant.
            size_t tl = strlen(text);
            if (tl && text[tl - 1] == '\n') text[--tl] = 0;
            if (tl && text[tl - 1] == '\r') text[--tl] = 0;
        } else {
            text = strdup(a.prompt);
        }
        bool has_bos = false;
        const char *p = text;
        if (a.chat) {
            if ((st = render_prompt(&a, text, &rendered, &has_bos, &err)) != RS_OK) goto done;
            p = rendered;
        }
        // Raw text gets the tokenizer's BOS; a rendered chat prompt already
        // spells its special tokens (parsed as such).
        bool add_special = a.chat ? !has_bos && tokenizer_add_bos(tok) : true;
        if ((st = tokenizer_encode(tok, p, strlen(p), add_special, a.chat, &ids, &n_prompt,
                                   &err)) != RS_OK)
            goto done;
        if (n_prompt == 0) {
            st = rs_fail(&err, RS_ERR_INPUT, "the prompt is empty");
            goto done;
        }
    }

    int64_t train = m->n_ctx_train > 0 ? m->n_ctx_train : 4096;
    eo.n_ctx = rq->n_ctx > 0 ? rq->n_ctx : n_prompt + (a.n_predict > 0 ? a.n_predict : 1);
    if (rq->n_ctx <= 0 && eo.n_ctx > train) eo.n_ctx = train;
    if (n_prompt >= eo.n_ctx) {
        st = rs_fail(&err, RS_ERR_INPUT, "the prompt (%lld tokens) does not fit the context (%lld)",
                     (long long)n_prompt, (long long)eo.n_ctx);
        goto done;
    }
    double t0 = clock_now_s();
    // --device cuda without --gpu-layers or --split loads as planned, like
    // --gpu-mem: one decision for the precision and the GPU blocks.
    int cuda_dev = -1;
    bool planned = rq->gpu_mem > 0 || (backend_device_parse(rq->device, &cuda_dev) == 0 &&
                                       cuda_dev >= 0 && rq->n_gpu_layers < 0 && rq->n_split == 0);
    if (planned) {
        // Auto-fit: the planner picks the precision (unless --precision) and
        // the GPU blocks for the GPUs (each at most --gpu-mem free), as chat
        // does.
        rq->model = a.model;
        rq->n_ctx = eo.n_ctx;
        load_plan lp = {0};
        lp.m = m; // ours: taken back below
        st = load_plan_prepare(rq, &lp, &err);
        if (st == RS_OK) st = load_plan_load(rq, &lp, &err);
        if (st == RS_OK) {
            e = lp.e, eo = lp.eo;
            lp.e = NULL;
        }
        lp.m = NULL;
        load_plan_free(&lp);
        if (st != RS_OK) goto done;
    } else if ((st = engine_load(m, &eo, &e, &err)) != RS_OK) {
        goto done;
    }
    double t_load = clock_now_s() - t0;
    if (a.verbose) {
        engine_memory mem;
        engine_memory_usage(e, &mem);
        char b1[32], b2[32], b3[32];
        fprintf(stderr, "loaded %s at %s in %.2f s: weights %s (%s), KV cache %s (%lld tokens)\n",
                a.model, plan_precision_name(eo.precision), t_load,
                format_bytes(b1, sizeof b1, mem.weights),
                dtype_name(engine_weight_type(e)), format_bytes(b2, sizeof b2, mem.kv_cache),
                (long long)engine_n_ctx(e));
        fprintf(stderr, "activations %s\n", format_bytes(b3, sizeof b3, mem.activations));
    }
    if ((st = sampler_init(&smp, &a.sp, engine_n_vocab(e), &err)) != RS_OK) goto done;

    // All ids so far: prompt then output (for the repetition penalty).
    int64_t n_total_cap = n_prompt + a.n_predict + 1;
    int32_t *hist = realloc(ids, (size_t)n_total_cap * sizeof *hist);
    if (!hist) {
        st = rs_fail(&err, RS_ERR_RUNTIME, "out of memory");
        goto done;
    }
    ids = hist;
    int64_t n_hist = n_prompt;

    double t1 = clock_now_s();
    if ((st = engine_prefill(e, ids, n_prompt, NULL, &err)) != RS_OK) goto done;
    double t_prefill = clock_now_s() - t1;

    if (tok) {
        tokenizer_decoder_init(&dec, tok, TOKENIZER_DECODE_SKIP_SPECIAL);
        have_dec = true;
    }
    double t2 = clock_now_s();
    int64_t n_gen = 0;
    while (n_gen < a.n_predict) {
        int32_t next = sampler_sample(&smp, engine_logits(e), ids, n_hist);
        if (tok && !a.ignore_eos && tokenizer_is_eog(tok, next)) {
            stop_reason = "eos";
            break;
        }
        ids[n_hist++] = next;
        n_gen++;
        size_t len = 0;
        const char *piece = NULL;
        char idbuf[24];
        if (have_dec) {
            piece = tokenizer_decoder_feed(&dec, next, &len);
        } else {
            len = (size_t)snprintf(idbuf, sizeof idbuf, "%s%d", n_gen > 1 ? " " : "", next);
            piece = idbuf;
        }
        if (len && text_append(&out, piece, len) != 0) {
            st = rs_fail(&err, RS_ERR_RUNTIME, "out of memory");
            goto done;
        }
        if (stop_check(&out, &a)) {
            stop_reason = "stop";
            break;
        }
        if (!a.json) text_emit(&out, &a);
        if (n_gen == a.n_predict) break;
        if (engine_pos(e) >= engine_n_ctx(e)) {
            stop_reason = "context";
            break;
        }
        if ((st = engine_decode(e, next, &err)) != RS_OK) goto done;
    }
    double t_decode = clock_now_s() - t2;
    if (have_dec && strcmp(stop_reason, "stop") != 0) {
        size_t len = 0;
        const char *rest = tokenizer_decoder_flush(&dec, &len);
        if (len && text_append(&out, rest, len) != 0) {
            st = rs_fail(&err, RS_ERR_RUNTIME, "out of memory");
            goto done;
        }
        if (stop_check(&out, &a)) stop_reason = "stop";
    }
    out.safe = out.len; // the end of the stream: nothing more to hold back
    if (!a.json) text_emit(&out, &a);
    // Decode speed counts the tokens that went through engine_decode: the
    // first generated token came from the prefill's logits.
    int64_t n_decoded = n_gen > 1 ? n_gen - 1 : 0;
    double prefill_tps = t_prefill > 0 ? (double)n_prompt / t_prefill : 0;
    double decode_tps = t_decode > 0 && n_decoded ? (double)n_decoded / t_decode : 0;
    if (a.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", a.model);
        cJSON_AddStringToObject(j, "precision", plan_precision_name(eo.precision));
        cJSON_AddStringToObject(j, "text", out.buf ? out.buf : "");
        cJSON *arr = cJSON_AddArrayToObject(j, "ids");
        for (int64_t i = n_prompt; i < n_hist; i++)
            cJSON_AddItemToArray(arr, cJSON_CreateNumber(ids[i]));
        cJSON_AddNumberToObject(j, "n_prompt", (double)n_prompt);
        cJSON_AddNumberToObject(j, "n_generated", (double)n_gen);
        cJSON_AddStringToObject(j, "stop", stop_reason);
        cJSON_AddNumberToObject(j, "load_s", t_load);
        cJSON_AddNumberToObject(j, "prefill_tok_s", prefill_tps);
        cJSON_AddNumberToObject(j, "decode_tok_s", decode_tps);
        char *s = cJSON_PrintUnformatted(j);
        printf("%s\n", s);
        free(s);
        cJSON_Delete(j);
    } else {
        if (out.len) printf("\n");
        fprintf(stderr, "prompt %lld tokens at %.1f tok/s, generated %lld at %.1f tok/s (%s)\n",
                (long long)n_prompt, prefill_tps, (long long)n_gen, decode_tps, stop_reason);
    }

done:
    if (st != RS_OK) fprintf(stderr, "rightsize run: %s\n", err.msg);
    if (have_dec) tokenizer_decoder_free(&dec);
    sampler_free(&smp);
    engine_free(e);
    tokenizer_free(tok);
    model_free(m);
    free(ids);
    free(text);
    free(rendered);
    free(out.buf);
    return st == RS_OK ? 0 : (st == RS_ERR_INPUT ? 2 : 1);
}
