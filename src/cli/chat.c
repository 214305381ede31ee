// rightsize chat MODEL: plan, load at the chosen precision, and chat.
//
// One line states the plan's decision and its reason, the weights load
// (with a progress bar where they are converted), then a multi-turn chat
// with the model's chat template, streaming the answer to stdout. Without a
// terminal on stdin (a pipe, a test), lines are read plainly and each one
// is echoed after "> " so the transcript reads as a conversation; with one,
// libedit gives line editing and history. Ctrl-C stops the current answer.
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <editline/readline.h>

#include "cli/chat_session.h"
#include "cli/cli_args.h"
#include "cli/commands.h"
#include "cli/load_plan.h"
#include "plan/memory.h"
#include "tok/chat_template.h"
#include "tok/tokenizer.h"
#include "util/format.h"

typedef struct chat_args {
    const char *model;
    load_plan_request load; // the load options
    const char *system;
    const char *chat_template;
    int64_t max_tokens;
    int think; // -1: the template's default
    bool verbose;
    sampler_params sp;
} chat_args;

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: rightsize chat MODEL [options]\n"
        "  MODEL                 HF folder or GGUF file\n"
        "  --device D            cpu (default), cuda or cuda:N (the CPU, with a note, without a "
        "GPU)\n"
        "  --gpu-layers N        with --device cuda: the first N blocks on the GPU (default: the plan's)\n"
        "  --split A,B           A blocks on GPU N (of --device cuda:N), B on GPU N+1, ...\n"
        "  --gpu-mem SIZE        with --device cuda: plan as if each GPU had at most SIZE free (10G)\n"
        "  --precision P         stored, fp32, bf16, fp16, int8, int4, or a GGUF type\n"
        "                        (default: the plan's pick for this machine)\n"
        "  --ctx N               context tokens (default: the plan's, 4096 at most)\n"
        "  --kv-type T           f16 (default), q8_0 or f32\n"
        "  --system TEXT         system prompt\n"
        "  --chat-template NAME  a template family or .jinja file instead of the model's\n"
        "  --think on|off        reasoning models: thinking switch of the template\n"
        "  --temp T              temperature (default 0.8; 0: greedy)\n"
        "  --top-k K             (default 40)   --top-p P (default 0.95)\n"
        "  --min-p P             (default 0.05) --repeat-penalty R (default 1: off)\n"
        "  --seed S              sampling seed (default: the time)\n"
        "  --max-tokens N        longest answer (default 0: until the context is full)\n"
        "  --threads N           worker threads (default: one per core)\n"
        "  --verbose             per-turn token counts and speeds, conversion error\n"
        "In the chat: /reset, /system [TEXT], /stats, /help, /exit. Ctrl-C stops an answer;\n"
        "a line ending in \\ continues on the next.\n");
}

// 0: parsed; 2: bad usage (after one line on stderr); -1: --help shown.
static int parse_args(int argc, char **argv, chat_args *a)
{
    memset(a, 0, sizeof *a);
    load_plan_request_init(&a->load, "chat");
    a->think = -1;
    a->sp = sampler_default_params();
    a->sp.temperature = 0.8f;
    a->sp.top_k = 40;
    a->sp.top_p = 0.95f;
    a->sp.min_p = 0.05f;
    a->sp.seed = (uint64_t)time(NULL);
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true, takes = true;
        rs_error err = {0};
        if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
            usage(stdout);
            return -1;
        } else if (load_plan_parse_option(&a->load, o, v, &ok, &err)) {
        } else if (strcmp(o, "--system") == 0)
            a->system = v, ok = v;
        else if (strcmp(o, "--chat-template") == 0)
            a->chat_template = v, ok = v;
        else if (strcmp(o, "--max-tokens") == 0 || strcmp(o, "-n") == 0)
            ok = cli_parse_int(v, 0, 1 << 24, &a->max_tokens);
        else if (strcmp(o, "--think") == 0) {
            ok = v && (strcmp(v, "on") == 0 || strcmp(v, "off") == 0);
            if (ok) a->think = strcmp(v, "on") == 0;
        } else if (cli_parse_sampler_option(o, v, &a->sp, &ok)) {
        } else {
            takes = false;
            if (strcmp(o, "--verbose") == 0 || strcmp(o, "-v") == 0)
                a->verbose = true;
            else if (cli_take_model("chat", o, &a->model) != 0)
                return 2;
        }
        if (!ok) return cli_bad_value("chat", o, v, &err);
        if (takes) i++;
    }
    if (!a->model) {
        fprintf(stderr, "rightsize chat: no MODEL given (rightsize chat --help)\n");
        return 2;
    }
    a->load.model = a->model;
    return 0;
}

// Ctrl-C: the answer in progress stops at the next token.
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void emit_stdout(void *ctx, const char *text, size_t len)
{
    (void)ctx;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
}

static void notice_stderr(void *ctx, const char *line)
{
    (void)ctx;
    fflush(stdout);
    fprintf(stderr, "rightsize chat: %s\n", line);
}

static double rate(int64_t n, double s)
{
    return s > 0 && n > 0 ? (double)n / s : 0;
}

static void print_stats(const chat_session *s, FILE *out)
{
    const chat_stats *t = &s->stats;
    int64_t used = engine_pos(s->e), n_ctx = engine_n_ctx(s->e);
    fprintf(out, "context  %lld of %lld tokens used (%.1f%%)", (long long)used, (long long)n_ctx,
            100.0 * (double)used / (double)n_ctx);
    if (t->dropped_turns) fprintf(out, ", %lld old turns dropped", (long long)t->dropped_turns);
    fprintf(out, "\n");
    if (t->prompt_tokens) {
        fprintf(out,
                "last     prompt %lld tokens (%lld reused from the cache, %lld prefilled at "
                "%.1f tok/s); answer %lld tokens at %.1f tok/s\n",
                (long long)t->prompt_tokens, (long long)t->reused_tokens,
                (long long)t->prefill_tokens, rate(t->prefill_tokens, t->prefill_s),
                (long long)t->gen_tokens, rate(t->decoded_tokens, t->decode_s));
        fprintf(out, "session  prefilled %lld tokens at %.1f tok/s, generated %lld at %.1f tok/s\n",
                (long long)t->total_prefill_tokens,
                rate(t->total_prefill_tokens, t->total_prefill_s), (long long)t->total_gen_tokens,
                rate(t->total_decoded, t->total_decode_s));
    } else {
        fprintf(out, "no turns yet\n");
    }
    fflush(out);
}

// Reads one message: readline on a terminal, a plain line otherwise. A line
// ending in a backslash continues on the next. NULL at end of input;
// *was_interrupted when Ctrl-C cut the line short.
static char *read_message(bool tty, bool *was_interrupted)
{
    *was_interrupted = false;
    char *msg = NULL;
    size_t mlen = 0;
    for (;;) {
        char *line = NULL;
        if (tty) {
            line = readline(msg ? ". " : "> ");
            if (!line && interrupted) {
                interrupted = 0;
                *was_interrupted = true;
                free(msg);
                return NULL;
            }
        } else {
            size_t cap = 0;
            ssize_t got = getline(&line, &cap, stdin);
            if (got < 0) {
                free(line);
                line = NULL;
            } else {
                while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
                    line[--got] = 0;
            }
        }
        if (!line) return msg; // end of input: what was read so far
        size_t ll = strlen(line);
        bool more = ll > 0 && line[ll - 1] == '\\';
        if (more) line[--ll] = 0;
        char *nm = realloc(msg, mlen + ll + 2);
        if (!nm) {
            free(line);
            free(msg);
            return NULL;
        }
        msg = nm;
        if (mlen) msg[mlen++] = '\n';
        memcpy(msg + mlen, line, ll + 1);
        mlen += ll;
        free(line);
        if (!more) return msg;
    }
}

static void help(void)
{
    printf("/reset          forget the conversation (the system prompt stays)\n"
           "/system TEXT    set the system prompt (/system alone shows it, /system - clears it)\n"
           "/stats          tokens, context used, prefill and decode speed\n"
           "/exit, /quit    leave (Ctrl-D too); Ctrl-C stops an answer\n");
    fflush(stdout);
}

// Runs the chat until /exit or end of input; returns the exit status.
// Where the line history lives between sessions: $XDG_CACHE_HOME/rightsize
// (or ~/.cache/rightsize)/chat_history; "" when neither is set.
static void history_path(char *buf, size_t n)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    buf[0] = 0;
    if (xdg && *xdg)
        snprintf(buf, n, "%s/rightsize/chat_history", xdg);
    else if (home && *home)
        snprintf(buf, n, "%s/.cache/rightsize/chat_history", home);
}

static int chat_loop(chat_session *s, const chat_args *a)
{
    char hist[1024];
    history_path(hist, sizeof hist);
    bool tty = isatty(STDIN_FILENO);
    if (tty) {
        using_history();
        stifle_history(500);
        if (*hist) read_history(hist); // absent the first time: nothing to read
        fprintf(stderr, "Type a message; /help lists commands. Ctrl-C stops an answer, Ctrl-D "
                        "or /exit quits.\n");
    }
    int rc = 0;
    for (;;) {
        bool cut = false;
        char *msg = read_message(tty, &cut);
        if (!msg) {
            if (cut) {
                fprintf(stderr, "\n");
                continue;
            }
            break;
        }
        // Blank lines are not messages.
        const char *p = msg;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p) {
            free(msg);
            continue;
        }
        if (tty)
            add_history(msg);
        else {
            printf("> %s\n", msg);
            fflush(stdout);
        }
        if (*p == '/') {
            char cmd[16] = "";
            size_t cl = strcspn(p, " \t\n");
            if (cl < sizeof cmd) memcpy(cmd, p, cl), cmd[cl] = 0;
            const char *arg = p + cl;
            while (*arg == ' ' || *arg == '\t')
                arg++;
            bool quit = false;
            if (strcmp(cmd, "/exit") == 0 || strcmp(cmd, "/quit") == 0 || strcmp(cmd, "/bye") == 0)
                quit = true;
            else if (strcmp(cmd, "/reset") == 0 || strcmp(cmd, "/clear") == 0) {
                chat_session_reset(s);
                fprintf(stderr, "rightsize chat: conversation cleared\n");
            } else if (strcmp(cmd, "/system") == 0) {
                rs_error err = {0};
                if (!*arg) {
                    printf("system: %s\n", s->system ? s->system
                                           : s->default_system
                                               ? "(none; the template's default applies)"
                                               : "(none)");
                    fflush(stdout);
                } else if (chat_session_set_system(s, strcmp(arg, "-") == 0 ? NULL : arg, &err) !=
                           RS_OK) {
                    fprintf(stderr, "rightsize chat: %s\n", err.msg);
                } else {
                    if (s->system && !chat_family_keeps_system(s->family))
                        fprintf(stderr,
                                "rightsize chat: warning: the %s template drops system "
                                "messages\n",
                                chat_family_name(s->family));
                    fprintf(stderr, "rightsize chat: system prompt %s\n",
                            s->system ? "set" : "cleared");
                }
            } else if (strcmp(cmd, "/stats") == 0) {
                print_stats(s, stdout);
            } else if (strcmp(cmd, "/help") == 0 || strcmp(cmd, "/?") == 0) {
                help();
            } else {
                fprintf(stderr, "rightsize chat: unknown command \"%.*s\" (/help lists them)\n",
                        (int)cl, p);
            }
            free(msg);
            if (quit) break;
            continue;
        }
        interrupted = 0;
        chat_stop why;
        rs_error err = {0};
        rs_status st = chat_session_reply(s, msg, &interrupted, &why, &err);
        free(msg);
        if (st == RS_ERR_INPUT) {
            fprintf(stderr, "rightsize chat: %s\n", err.msg);
            continue;
        }
        printf("\n");
        fflush(stdout);
        if (st != RS_OK) {
            fprintf(stderr, "rightsize chat: %s\n", err.msg);
            rc = 1;
            break;
        }
        if (why == CHAT_STOP_INTERRUPTED)
            fprintf(stderr, "rightsize chat: [stopped]\n");
        else if (why == CHAT_STOP_LENGTH)
            fprintf(stderr, "rightsize chat: [answer cut at --max-tokens %lld]\n",
                    (long long)a->max_tokens);
        else if (why == CHAT_STOP_CONTEXT)
            fprintf(stderr, "rightsize chat: [the context is full; /reset starts over]\n");
        interrupted = 0;
        if (a->verbose) {
            const chat_stats *t = &s->stats;
            fprintf(stderr,
                    "rightsize chat: prompt %lld tokens, %lld reused, %lld prefilled at %.1f "
                    "tok/s; answer %lld tokens at %.1f tok/s; context %lld/%lld\n",
                    (long long)t->prompt_tokens, (long long)t->reused_tokens,
                    (long long)t->prefill_tokens, rate(t->prefill_tokens, t->prefill_s),
                    (long long)t->gen_tokens, rate(t->decoded_tokens, t->decode_s),
                    (long long)engine_pos(s->e), (long long)engine_n_ctx(s->e));
        }
    }
    // The history goes beside the bandwidth cache (the folder is made if
    // its parent exists; without it, no history is kept).
    if (tty && *hist) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s", hist);
        char *slash = strrchr(dir, '/');
        if (slash) {
            *slash = 0;
            mkdir(dir, 0755);
        }
        write_history(hist);
    }
    return rc;
}

int cmd_chat(int argc, char **argv)
{
    chat_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    rs_error err = {0};
    rs_status st;
    chat_template_info info = {0};
    chat_family family = CHAT_FAMILY_UNKNOWN;
    char *def_sys = NULL;
    load_plan lp = {0};
    tokenizer *tok = NULL;
    chat_session s;
    bool have_session = false;

    load_plan_request rq = a.load;
    rq.verbose = a.verbose;
    rq.progress = a.verbose || isatty(STDERR_FILENO);

    // The template before the plan: a model we cannot prompt correctly is
    // refused before anything else is said or read.
    if ((st = load_plan_open(&rq, &lp, &err)) != RS_OK) goto done;
    if ((st = chat_template_load(a.model, &info, &err)) != RS_OK) goto done;
    if ((st = chat_template_resolve(&info, a.chat_template, &family, &def_sys, &err)) != RS_OK)
        goto done;
    if (a.system && !chat_family_keeps_system(family))
        fprintf(stderr, "rightsize chat: warning: the %s template drops system messages\n",
                chat_family_name(family));

    if ((st = load_plan_prepare(&rq, &lp, &err)) != RS_OK) goto done;
    if ((st = cli_load_tokenizer(lp.m, &tok, &err)) != RS_OK) goto done;
    // Parsing tokenizer.json leaves tens of MiB of freed heap that the
    // weights would not reuse: give it back before they load.
    malloc_trim(0);
    if ((st = load_plan_load(&rq, &lp, &err)) != RS_OK) goto done;
    {
        engine_memory mem;
        engine_memory_usage(lp.e, &mem);
        char b1[32], b2[32];
        fprintf(stderr,
                "rightsize chat: loaded in %.2f s: weights %s (%s), KV cache %s for %lld "
                "tokens; template %s\n",
                lp.load_s, format_bytes(b1, sizeof b1, mem.weights),
                plan_precision_name(lp.plan->rows[lp.row].precision),
                format_bytes(b2, sizeof b2, mem.kv_cache), (long long)engine_n_ctx(lp.e),
                chat_family_name(family));
    }

    chat_session_config cfg = {0};
    cfg.family = family;
    cfg.default_system = def_sys;
    cfg.bos_token = info.bos_token;
    cfg.eos_token = info.eos_token;
    cfg.enable_thinking = a.think;
    cfg.sampling = a.sp;
    cfg.max_tokens = a.max_tokens;
    cfg.emit = emit_stdout;
    cfg.notice = notice_stderr;
    if ((st = chat_session_init(&s, lp.e, tok, &cfg, &err)) != RS_OK) goto done;
    have_session = true;
    if (a.system && (st = chat_session_set_system(&s, a.system, &err)) != RS_OK) goto done;

    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESTART; // reads and writes carry on; the flag is polled
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    rc = chat_loop(&s, &a);
    sigaction(SIGINT, &old, NULL);

done:
    if (st != RS_OK) {
        fprintf(stderr, "rightsize chat: %s\n", err.msg);
        rc = st == RS_ERR_INPUT ? 2 : 1;
    }
    if (have_session) chat_session_free(&s);
    tokenizer_free(tok);
    load_plan_free(&lp);
    chat_template_info_free(&info);
    free(def_sys);
    return rc;
}
