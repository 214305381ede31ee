// Chat template rendering, written from each family's real Jinja template
// (the reference each row or function follows is named above it). Families
// that only differ in their strings are rows of the table at the end of the
// file, rendered by render_turns; the others (thinking tags, system-message
// merging, date blocks, ollama's collated turns) are functions, which reuse
// their row's turns where they can. The tests compare every family with
// transformers' rendering of the real template, or with ollama's expected
// prompts.
#include "tok/chat_template.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// ---- a growing string ----

typedef struct sb {
    char *s;
    size_t len, cap;
    bool oom;
} sb;

static void sb_addn(sb *b, const char *s, size_t n)
{
    if (b->oom || !s) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) {
            b->oom = true;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_add(sb *b, const char *s)
{
    if (s) sb_addn(b, s, strlen(s));
}

// Appends every argument up to a NULL.
static void sb_cat(sb *b, ...)
{
    va_list ap;
    va_start(ap, b);
    for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *))
        sb_add(b, s);
    va_end(ap);
}
#define CAT(b, ...) sb_cat((b), __VA_ARGS__, (const char *)NULL)

// ---- Python string methods the templates use ----

// Length of the Unicode whitespace character at s (as Python's str.isspace
// sees it), 0 if s does not start with one.
static size_t space_len(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    if (n == 0) return 0;
    if (u[0] == ' ' || (u[0] >= 0x09 && u[0] <= 0x0d) || (u[0] >= 0x1c && u[0] <= 0x1f)) return 1;
    if (n >= 2 && u[0] == 0xc2 && (u[1] == 0x85 || u[1] == 0xa0)) return 2;
    if (n >= 3 && u[0] == 0xe1 && u[1] == 0x9a && u[2] == 0x80) return 3; // U+1680
    if (n >= 3 && u[0] == 0xe2 && u[1] == 0x80 &&
        ((u[2] >= 0x80 && u[2] <= 0x8a) || u[2] == 0xa8 || u[2] == 0xa9 || u[2] == 0xaf))
        return 3; // U+2000..200A, U+2028, U+2029, U+202F
    if (n >= 3 && u[0] == 0xe2 && u[1] == 0x81 && u[2] == 0x9f) return 3; // U+205F
    if (n >= 3 && u[0] == 0xe3 && u[1] == 0x80 && u[2] == 0x80) return 3; // U+3000
    return 0;
}

// Length of the whitespace character that ends s[0..n), 0 if none.
static size_t space_len_back(const char *s, size_t n)
{
    for (size_t k = 1; k <= 3 && k <= n; k++)
        if (space_len(s + n - k, k) == k) return k;
    return 0;
}

// A view into a string: Python slices without copies.
typedef struct view {
    const char *p;
    size_t n;
} view;

static view vw(const char *s)
{
    return (view){s ? s : "", s ? strlen(s) : 0};
}

// str.strip() / Jinja's trim: Unicode whitespace on both ends.
static view v_strip(view v)
{
    size_t k;
    while ((k = space_len(v.p, v.n)) > 0)
        v.p += k, v.n -= k;
    while ((k = space_len_back(v.p, v.n)) > 0)
        v.n -= k;
    return v;
}

static view v_lstrip_char(view v, char c)
{
    while (v.n && v.p[0] == c)
        v.p++, v.n--;
    return v;
}

static view v_rstrip_char(view v, char c)
{
    while (v.n && v.p[v.n - 1] == c)
        v.n--;
    return v;
}

static view v_rstrip(view v)
{
    size_t k;
    while ((k = space_len_back(v.p, v.n)) > 0)
        v.n -= k;
    return v;
}

static const char *v_find(view v, const char *needle)
{
    size_t m = strlen(needle);
    if (m > v.n) return NULL;
    for (size_t i = 0; i + m <= v.n; i++)
        if (memcmp(v.p + i, needle, m) == 0) return v.p + i;
    return NULL;
}

static const char *v_rfind(view v, const char *needle)
{
    size_t m = strlen(needle);
    if (m > v.n) return NULL;
    for (size_t i = v.n - m + 1; i-- > 0;)
        if (memcmp(v.p + i, needle, m) == 0) return v.p + i;
    return NULL;
}

// s.split(sep)[-1]
static view v_after_last(view v, const char *sep)
{
    const char *f = v_rfind(v, sep);
    if (!f) return v;
    size_t off = (size_t)(f - v.p) + strlen(sep);
    return (view){v.p + off, v.n - off};
}

// s.split(sep)[0]
static view v_before_first(view v, const char *sep)
{
    const char *f = v_find(v, sep);
    return f ? (view){v.p, (size_t)(f - v.p)} : v;
}

// s.split(sep, 1)[1] (the caller checked that sep occurs)
static view v_after_first(view v, const char *sep)
{
    const char *f = v_find(v, sep);
    if (!f) return (view){v.p + v.n, 0};
    size_t off = (size_t)(f - v.p) + strlen(sep);
    return (view){v.p + off, v.n - off};
}

static void sb_view(sb *b, view v)
{
    sb_addn(b, v.p, v.n);
}

// ---- shared helpers ----

// Most families write each message as its role's prefix + content + suffix
// and end with a generation prompt: they differ only in these strings, so
// they are data (the table at the end of the file). Where the real template
// prints eos_token, a string says "{eos}".
enum { ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT, ROLE_COUNT };

typedef enum bos_rule {
    BOS_NONE,
    BOS_FIRST,    // bos before everything
    BOS_IF_TURNS, // bos before the first message (none for an empty conversation)
} bos_rule;

typedef enum skip_rule {
    SKIP_NONE,
    SKIP_SYSTEM,       // system messages are not written
    SKIP_EMPTY_SYSTEM, // nor are empty ones
} skip_rule;

typedef struct turn_format {
    const char *start; // written first, before bos
    bos_rule bos;
    skip_rule skip;
    bool trim;                                      // content stripped (Python's strip())
    const char *pre[ROLE_COUNT], *post[ROLE_COUNT]; // by role; NULL writes nothing
    const char *gen;                                // the generation prompt
    const char *no_gen; // written instead of gen when add_generation_prompt is off
    const char *tail;   // written last whatever add_generation_prompt says
} turn_format;

typedef struct ctx {
    const chat_message *m;
    size_t n;
    const chat_options *o;
    const char *bos, *eos; // never NULL
    rs_error *err;
    const turn_format *fmt; // the family's turns (the table's entry)
    int variant;            // which variant of a shared renderer (the table's entry)
    const char *system;     // collated families: every system text (NULL when none)
} ctx;

static bool is_role(const chat_message *m, const char *role)
{
    return strcmp(m->role, role) == 0;
}

static bool first_is_system(const ctx *c)
{
    return c->n > 0 && is_role(&c->m[0], "system");
}

// Several templates raise_exception() unless user and assistant alternate,
// starting with user, after an optional first system message.
static rs_status check_alternation(const ctx *c, size_t from, const char *family)
{
    for (size_t i = from; i < c->n; i++) {
        bool want_user = (i - from) % 2 == 0;
        if (is_role(&c->m[i], "user") != want_user || is_role(&c->m[i], "system"))
            return rs_fail(c->err, RS_ERR_INPUT,
                           "chat template %s: message %zu (%s): after the optional system "
                           "message, roles must alternate user/assistant/user/...",
                           family, i + 1, c->m[i].role);
    }
    return RS_OK;
}

static void gen(sb *b, const ctx *c, const char *prompt)
{
    if (c->o->add_generation_prompt) sb_add(b, prompt);
}

// s, with eos in place of every "{eos}"; nothing for NULL.
static void add_with_eos(sb *b, const char *s, const char *eos)
{
    const char *p;
    if (!s) return;
    while ((p = strstr(s, "{eos}"))) {
        sb_addn(b, s, (size_t)(p - s));
        sb_add(b, eos);
        s = p + 5;
    }
    sb_add(b, s);
}

static int role_index(const chat_message *m)
{
    if (is_role(m, "system")) return ROLE_SYSTEM;
    return is_role(m, "user") ? ROLE_USER : ROLE_ASSISTANT;
}

// Messages [from, n) in c->fmt, then the generation prompt and the tail.
static void turns_from(sb *b, const ctx *c, size_t from)
{
    const turn_format *f = c->fmt;
    for (size_t i = from; i < c->n; i++) {
        int r = role_index(&c->m[i]);
        if (r == ROLE_SYSTEM &&
            (f->skip == SKIP_SYSTEM || (f->skip == SKIP_EMPTY_SYSTEM && !c->m[i].content[0])))
            continue;
        add_with_eos(b, f->pre[r], c->eos);
        if (f->trim)
            sb_view(b, v_strip(vw(c->m[i].content)));
        else
            sb_add(b, c->m[i].content);
        add_with_eos(b, f->post[r], c->eos);
    }
    add_with_eos(b, c->o->add_generation_prompt ? f->gen : f->no_gen, c->eos);
    add_with_eos(b, f->tail, c->eos);
}

// A family that is all data.
static rs_status render_turns(sb *b, const ctx *c)
{
    sb_add(b, c->fmt->start);
    if (c->fmt->bos == BOS_FIRST || (c->fmt->bos == BOS_IF_TURNS && c->n > 0)) sb_add(b, c->bos);
    turns_from(b, c, 0);
    return RS_OK;
}

// ---- ChatML and its relatives ----

// Qwen2.5-7B-Instruct (and Qwen2 / DBRX-style defaults): a system turn is
// always written, the template's default when the conversation has none
// (variant 1: Qwen2.5's built-in default).
static rs_status render_chatml_defsys(sb *b, const ctx *c)
{
    const char *builtin =
        c->variant ? "You are Qwen, created by Alibaba Cloud. You are a helpful assistant." : NULL;
    const char *def = c->o->default_system ? c->o->default_system : builtin;
    if (!first_is_system(c)) {
        if (!def)
            return rs_fail(c->err, RS_ERR_INPUT,
                           "chat template chatml-default-system: the template's default system "
                           "prompt is unknown (give one, or a system message)");
        CAT(b, "<|im_start|>system\n", def, "<|im_end|>\n");
    }
    return render_turns(b, c);
}

// Qwen3 (Qwen-Qwen3-0.6B.jinja): reasoning in assistant history is kept only
// after the last user query; enable_thinking=false pre-fills an empty think
// block in the generation prompt.
static rs_status render_qwen3(sb *b, const ctx *c)
{
    if (first_is_system(c)) CAT(b, "<|im_start|>system\n", c->m[0].content, "<|im_end|>\n");
    size_t last_query = c->n ? c->n - 1 : 0;
    for (size_t i = c->n; i-- > 0;) {
        view v = vw(c->m[i].content);
        bool tool_response = v.n >= 15 && strncmp(v.p, "<tool_response>", 15) == 0 && v.n >= 16 &&
                             strcmp(v.p + v.n - 16, "</tool_response>") == 0;
        if (is_role(&c->m[i], "user") && !tool_response) {
            last_query = i;
            break;
        }
    }
    for (size_t i = 0; i < c->n; i++) {
        const chat_message *m = &c->m[i];
        if (is_role(m, "user") || (is_role(m, "system") && i > 0)) {
            CAT(b, "<|im_start|>", m->role, "\n", m->content, "<|im_end|>\n");
        } else if (is_role(m, "assistant")) {
            view content = vw(m->content), reasoning = {"", 0};
            if (v_find(content, "</think>")) {
                view all = content;
                content = v_lstrip_char(v_after_last(all, "</think>"), '\n');
                reasoning = v_rstrip_char(v_before_first(all, "</think>"), '\n');
                reasoning = v_lstrip_char(v_after_last(reasoning, "<think>"), '\n');
            }
            sb_add(b, "<|im_start|>assistant\n");
            if (i > last_query && (i == c->n - 1 || reasoning.n > 0)) {
                sb_add(b, "<think>\n");
                sb_view(b, v_rstrip_char(v_lstrip_char(reasoning, '\n'), '\n'));
                sb_add(b, "\n</think>\n\n");
                sb_view(b, v_lstrip_char(content, '\n'));
            } else {
                sb_view(b, content);
            }
            sb_add(b, "<|im_end|>\n");
        }
    }
    if (c->o->add_generation_prompt) {
        sb_add(b, "<|im_start|>assistant\n");
        if (c->o->enable_thinking == 0) sb_add(b, "<think>\n\n</think>\n\n");
    }
    return RS_OK;
}

// QwQ-32B: earlier answers lose their reasoning; the generation prompt opens
// <think>, and closes it again unless enable_thinking is true (the template
// tests `not enable_thinking`, which an undefined value passes).
static rs_status render_qwq(sb *b, const ctx *c)
{
    if (first_is_system(c)) CAT(b, "<|im_start|>system\n", c->m[0].content, "<|im_end|>\n");
    for (size_t i = 0; i < c->n; i++) {
        const chat_message *m = &c->m[i];
        if (is_role(m, "user") || (is_role(m, "system") && i > 0)) {
            CAT(b, "<|im_start|>", m->role, "\n", m->content, "<|im_end|>\n");
        } else if (is_role(m, "assistant")) {
            view content = vw(m->content);
            if (i != c->n - 1) content = v_lstrip_char(v_after_last(content, "</think>"), '\n');
            sb_add(b, "<|im_start|>assistant\n");
            sb_view(b, content);
            sb_add(b, "<|im_end|>\n");
        }
    }
    if (c->o->add_generation_prompt) {
        sb_add(b, "<|im_start|>assistant\n<think>\n");
        if (c->o->enable_thinking != 1) sb_add(b, "</think>");
    }
    return RS_OK;
}

// HuggingFaceTB-SmolLM3-3B: a metadata system block; the reasoning mode
// comes from enable_thinking (default on) or /think and /no_think in the
// system message.
static const char smollm3_think_default[] =
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face. Your role as an "
    "assistant involves thoroughly exploring questions through a systematic thinking process "
    "before providing the final precise and accurate solutions. This requires engaging in a "
    "comprehensive cycle of analysis, summarizing, exploration, reassessment, reflection, "
    "backtracking, and iteration to develop well-considered thinking process. Please structure "
    "your response into two main sections: Thought and Solution using the specified format: "
    "<think> Thought section </think> Solution section. In the Thought section, detail your "
    "reasoning process in steps. Each step should include detailed considerations such as "
    "analysing questions, summarizing relevant findings, brainstorming new ideas, verifying the "
    "accuracy of the current steps, refining any errors, and revisiting previous steps. In the "
    "Solution section, based on various attempts, explorations, and reflections from the Thought "
    "section, systematically present the final solution that you deem correct. The Solution "
    "section should be logical, accurate, and concise and detail necessary steps needed to reach "
    "the conclusion.\n\n";

// Python's s.replace(old, "") into a new buffer.
static char *str_remove_all(const char *s, const char *old)
{
    size_t n = strlen(s), m = strlen(old);
    char *r = malloc(n + 1), *w = r;
    if (!r) return NULL;
    for (const char *p = s; *p;) {
        if (m && strncmp(p, old, m) == 0)
            p += m;
        else
            *w++ = *p++;
    }
    *w = '\0';
    return r;
}

static rs_status render_smollm3(sb *b, const ctx *c)
{
    bool think = c->o->enable_thinking != 0;
    char *custom = NULL;
    if (c->n > 0 && is_role(&c->m[0], "system")) {
        const char *sys = c->m[0].content;
        if (strstr(sys, "/no_think"))
            think = false;
        else if (strstr(sys, "/think"))
            think = true;
        char *a = str_remove_all(sys, "/no_think");
        custom = a ? str_remove_all(a, "/think") : NULL;
        free(a);
        if (!custom) return rs_fail(c->err, RS_ERR_RUNTIME, "chat template smollm3: out of memory");
        view v = v_rstrip(vw(custom));
        custom[v.n] = '\0';
    }
    CAT(b, "<|im_start|>system\n", "## Metadata\n\n", "Knowledge Cutoff Date: June 2025\n",
        "Reasoning Mode: ", think ? "/think" : "/no_think", "\n\n", "## Custom Instructions\n\n");
    if (custom && *custom)
        CAT(b, custom, "\n\n");
    else if (think)
        sb_add(b, smollm3_think_default);
    else
        sb_add(b, "You are a helpful AI assistant named SmolLM, trained by Hugging Face.\n\n");
    free(custom);
    sb_add(b, "<|im_end|>\n");
    for (size_t i = 0; i < c->n; i++) {
        const chat_message *m = &c->m[i];
        if (is_role(m, "user")) {
            CAT(b, "<|im_start|>user\n", m->content, "<|im_end|>\n");
        } else if (is_role(m, "assistant")) {
            sb_add(b, think ? "<|im_start|>assistant\n"
                            : "<|im_start|>assistant\n<think>\n\n</think>\n");
            sb_view(b, v_lstrip_char(vw(m->content), '\n'));
            sb_add(b, "<|im_end|>\n");
        }
    }
    if (c->o->add_generation_prompt)
        sb_add(b,
               think ? "<|im_start|>assistant\n" : "<|im_start|>assistant\n<think>\n\n</think>\n");
    return RS_OK;
}

// ---- Llama ----

// Llama 3.1/3.3 (variant 0: date fixed at "26 Jul 2024") and 3.2 (variant 1:
// today's date): the system turn always carries the knowledge cutoff and the
// date; the other turns are Llama 3's.
static rs_status render_llama3_1(sb *b, const ctx *c)
{
    char date[32] = "26 Jul 2024";
    if (c->variant) {
        struct tm tm;
        time_t t = c->o->now ? c->o->now : time(NULL);
        localtime_r(&t, &tm);
        strftime(date, sizeof date, "%d %b %Y", &tm);
    }
    size_t from = first_is_system(c) ? 1 : 0;
    sb_add(b, c->bos);
    CAT(b, "<|start_header_id|>system<|end_header_id|>\n\n",
        "Cutting Knowledge Date: December 2023\n", "Today Date: ", date, "\n\n");
    if (from) sb_view(b, v_strip(vw(c->m[0].content)));
    sb_add(b, "<|eot_id|>");
    turns_from(b, c, from);
    return RS_OK;
}

// meta-llama/Llama-2-7b-chat-hf: the system text joins the first user turn
// inside <<SYS>>; every user turn starts with bos, every answer ends with
// " " + eos. There is no generation prompt: the prompt ends with [/INST].
static rs_status render_llama2(sb *b, const ctx *c)
{
    size_t from = first_is_system(c) ? 1 : 0;
    for (size_t i = from; i < c->n; i++) {
        const chat_message *m = &c->m[i];
        sb content = {0};
        if (i == from && from)
            CAT(&content, "<<SYS>>\n", c->m[0].content, "\n<</SYS>>\n\n", m->content);
        else
            sb_add(&content, m->content);
        if (content.oom)
            return rs_fail(c->err, RS_ERR_RUNTIME, "chat template llama2: out of memory");
        view v = v_strip(vw(content.s));
        if (is_role(m, "user")) {
            CAT(b, c->bos, "[INST] ");
            sb_view(b, v);
            sb_add(b, " [/INST]");
        } else {
            sb_add(b, " ");
            sb_view(b, v);
            CAT(b, " ", c->eos);
        }
        free(content.s);
    }
    return RS_OK;
}

// ---- Mistral ----

// Mistral-7B-Instruct-v0.1: bos, "[INST] q [/INST]" then the answer and eos;
// the template rejects system messages and roles out of turn.
static rs_status render_mistral_v0(sb *b, const ctx *c)
{
    if (first_is_system(c))
        return rs_fail(c->err, RS_ERR_INPUT,
                       "chat template mistral-v0: the template supports only user and assistant "
                       "roles (no system message)");
    rs_status st = check_alternation(c, 0, "mistral-v0");
    if (st != RS_OK) return st;
    return render_turns(b, c);
}

// mistralai/Mistral-Small-3.2-24B-Instruct-2506: the system prompt (the
// template's long default, with today's date, when there is none) comes
// first; no generation prompt.
static rs_status render_mistral_v7_tekken(sb *b, const ctx *c)
{
    size_t from = first_is_system(c) ? 1 : 0;
    const char *sys = from ? c->m[0].content : c->o->default_system;
    sb_add(b, c->bos);
    if (sys) CAT(b, "[SYSTEM_PROMPT]", sys, "[/SYSTEM_PROMPT]");
    turns_from(b, c, from);
    return RS_OK;
}

// Mistral cookbook v1 and v3 (llama.cpp's rendering, which ollama's
// mistral-instruct matches): the system text opens the first [INST].
static rs_status render_mistral_v1_v3(sb *b, const ctx *c)
{
    bool v1 = c->variant;
    const char *lead = v1 ? " " : "";
    bool inside = false;
    sb_add(b, c->bos);
    for (size_t i = 0; i < c->n; i++) {
        const chat_message *m = &c->m[i];
        if (!inside) {
            CAT(b, lead, "[INST] ");
            inside = true;
        }
        if (is_role(m, "system")) {
            CAT(b, m->content, "\n\n");
        } else if (is_role(m, "user")) {
            CAT(b, m->content, lead, "[/INST]");
        } else {
            sb_add(b, " ");
            if (v1)
                sb_add(b, m->content);
            else
                sb_view(b, v_strip(vw(m->content)));
            sb_add(b, "</s>");
            inside = false;
        }
    }
    return RS_OK;
}

// mistralai/Mistral-Nemo-Instruct-2407: no spaces around [INST]; the system
// text joins the user turn that is the last message of the conversation.
static rs_status render_mistral_v3_tekken(sb *b, const ctx *c)
{
    size_t from = first_is_system(c) ? 1 : 0;
    sb_add(b, c->bos);
    for (size_t i = from; i < c->n; i++) {
        const chat_message *m = &c->m[i];
        if (is_role(m, "user")) {
            if (i == c->n - 1 && from)
                CAT(b, "[INST]", c->m[0].content, "\n\n", m->content, "[/INST]");
            else
                CAT(b, "[INST]", m->content, "[/INST]");
        } else {
            CAT(b, m->content, c->eos);
        }
    }
    return RS_OK;
}

// ---- Gemma ----

// google/gemma-2-2b-it: assistant is "model", content trimmed. The real
// template rejects a system message; like ollama's gemma-instruct, the
// system text joins the first user turn, followed by "\n" (Gemma 3's template
// uses "\n\n" and keeps the system text as is).
static rs_status render_gemma(sb *b, const ctx *c)
{
    bool gemma3 = c->variant;
    size_t from = first_is_system(c) ? 1 : 0;
    sb_add(b, c->bos);
    for (size_t i = from; i < c->n; i++) {
        const chat_message *m = &c->m[i];
        CAT(b, "<start_of_turn>", is_role(m, "assistant") ? "model" : m->role, "\n");
        if (i == from && from) {
            if (gemma3)
                CAT(b, c->m[0].content, "\n\n");
            else {
                sb_view(b, v_strip(vw(c->m[0].content)));
                sb_add(b, "\n");
            }
        }
        sb_view(b, v_strip(vw(m->content)));
        sb_add(b, "<end_of_turn>\n");
    }
    gen(b, c, "<start_of_turn>model\n");
    return RS_OK;
}

// ---- Phi ----

// ---- DeepSeek ----

// DeepSeek-R1 distills (and V3): bos, the last system text, then turns; an
// answer keeps only what follows its last </think>.
static rs_status render_deepseek_r1(sb *b, const ctx *c)
{
    int think_gen = c->variant;
    const char *sys = "";
    for (size_t i = 0; i < c->n; i++)
        if (is_role(&c->m[i], "system")) sys = c->m[i].content;
    CAT(b, c->bos, sys);
    for (size_t i = 0; i < c->n; i++) {
        const chat_message *m = &c->m[i];
        if (is_role(m, "user")) {
            CAT(b, "<｜User｜>", m->content);
        } else if (is_role(m, "assistant")) {
            sb_add(b, "<｜Assistant｜>");
            sb_view(b, v_after_last(vw(m->content), "</think>"));
            sb_add(b, "<｜end▁of▁sentence｜>");
        }
    }
    if (c->o->add_generation_prompt) {
        // 0: V3 (no think), 1: R1, 2: R1 with the enable_thinking switch,
        // which closes the block unless thinking is asked for.
        sb_add(b, think_gen == 0 ? "<｜Assistant｜>" : "<｜Assistant｜><think>\n");
        if (think_gen == 2 && c->o->enable_thinking != 1) sb_add(b, "</think>");
    }
    return RS_OK;
}

// deepseek-ai/DeepSeek-V3.1: system texts joined by "\n\n"; an answer right
// after a user turn is opened with <think></think>; `thinking` (default off)
// picks <think> or <think></think> for the generation prompt.
static rs_status render_deepseek3_1(sb *b, const ctx *c)
{
    bool thinking = c->o->enable_thinking == 1;
    sb_add(b, c->bos);
    bool first_sys = true;
    for (size_t i = 0; i < c->n; i++)
        if (is_role(&c->m[i], "system")) {
            if (!first_sys) sb_add(b, "\n\n");
            sb_add(b, c->m[i].content);
            first_sys = false;
        }
    bool last_user = false;
    for (size_t i = 0; i < c->n; i++) {
        const chat_message *m = &c->m[i];
        if (is_role(m, "user")) {
            CAT(b, "<｜User｜>", m->content);
            last_user = true;
        } else if (is_role(m, "assistant")) {
            if (last_user) sb_add(b, "<｜Assistant｜><think></think>");
            last_user = false;
            view v = vw(m->content);
            if (v_find(v, "</think>")) v = v_after_first(v, "</think>");
            sb_view(b, v);
            sb_add(b, "<｜end▁of▁sentence｜>");
        }
    }
    if (c->o->add_generation_prompt && last_user)
        sb_add(b, thinking ? "<｜Assistant｜><think>" : "<｜Assistant｜><think></think>");
    return RS_OK;
}

// ---- other families ----

// CohereForAI/c4ai-command-r-v01 and -plus ("default" template): bos, the
// system text as given, then user and chatbot turns stripped; roles must
// alternate.
static rs_status render_command_r(sb *b, const ctx *c)
{
    size_t from = first_is_system(c) ? 1 : 0;
    sb_add(b, c->bos);
    if (from)
        CAT(b, "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>", c->m[0].content, "<|END_OF_TURN_TOKEN|>");
    turns_from(b, c, from);
    return RS_OK;
}

// mlabonne/AlphaMonarch-7B (llama.cpp's rendering).
static rs_status render_monarch(sb *b, const ctx *c)
{
    for (size_t i = 0; i < c->n; i++)
        CAT(b, i ? "<s>" : "", c->m[i].role, "\n", c->m[i].content, "</s>\n");
    gen(b, c, "<s>assistant\n");
    return RS_OK;
}

// OrionStarAI/Orion-14B-Chat (llama.cpp's rendering): the system text joins
// the next user turn.
static rs_status render_orion(sb *b, const ctx *c)
{
    sb sys = {0};
    for (size_t i = 0; i < c->n; i++) {
        const chat_message *m = &c->m[i];
        if (is_role(m, "system")) {
            sb_add(&sys, m->content);
        } else if (is_role(m, "user")) {
            sb_add(b, "Human: ");
            if (sys.len) {
                CAT(b, sys.s, "\n\n");
                sys.len = 0;
            }
            CAT(b, m->content, "\n\nAssistant: </s>");
        } else {
            CAT(b, m->content, "</s>");
        }
    }
    free(sys.s);
    return RS_OK;
}

// RWKV world (llama.cpp's rendering): "Assistant:" follows a final user turn.
static rs_status render_rwkv_world(sb *b, const ctx *c)
{
    render_turns(b, c);
    if (c->n > 0 && is_role(&c->m[c->n - 1], "user")) sb_add(b, "Assistant:");
    return RS_OK;
}

// ---- ollama's Go templates, where they differ from the real ones ----

// ollama's template.Execute collates a conversation before its Go template
// sees it: a run of consecutive messages of one role becomes one message,
// the texts joined by a blank line, and the texts of all system messages,
// joined the same way, are .System. The -ollama families render the
// collated turns, as ollama does, instead of rejecting non-alternating roles.
typedef struct collated {
    chat_message *m; // [n] merged turns; each content is owned
    size_t n;
    sb system; // every system text joined by "\n\n"; len 0 when none
} collated;

static void collated_free(collated *t)
{
    for (size_t i = 0; i < t->n; i++)
        free((char *)t->m[i].content);
    free(t->m);
    free(t->system.s);
}

static rs_status ollama_collate(const ctx *c, collated *t, const char *family)
{
    *t = (collated){0};
    t->m = calloc(c->n ? c->n : 1, sizeof *t->m);
    if (!t->m) return rs_fail(c->err, RS_ERR_RUNTIME, "chat template %s: out of memory", family);
    bool oom = false;
    for (size_t i = 0; i < c->n;) {
        const char *role = c->m[i].role;
        sb run = {0};
        sb_add(&run, "");
        sb_add(&run, c->m[i].content);
        for (i++; i < c->n && strcmp(c->m[i].role, role) == 0; i++)
            CAT(&run, "\n\n", c->m[i].content);
        t->m[t->n].role = role;
        t->m[t->n].content = run.s;
        t->n++;
        oom |= run.oom;
        if (strcmp(role, "system") == 0) {
            if (t->system.len) sb_add(&t->system, "\n\n");
            sb_add(&t->system, run.s);
        }
    }
    if (oom || t->system.oom) {
        collated_free(t);
        return rs_fail(c->err, RS_ERR_RUNTIME, "chat template %s: out of memory", family);
    }
    return RS_OK;
}

// ollama's llama2-chat.gotmpl as its expected prompts show (ollama commit
// fb30760): the prompt opens "[INST] "; system texts wait for the next user
// turn, whose <<SYS>> block is written even when empty; an answer is
// " answer</s><s>[INST] ". Content is not trimmed. Meta's template (llama2)
// writes no empty <<SYS>> blocks.
static rs_status render_llama2_ollama(sb *b, const ctx *c)
{
    sb sys = {0}; // system text waiting for the next user turn
    CAT(b, c->bos, "[INST] ");
    for (size_t i = 0; i < c->n; i++) {
        const chat_message *m = &c->m[i];
        if (is_role(m, "system")) {
            if (sys.len) sb_add(&sys, "\n\n");
            sb_add(&sys, m->content);
        } else if (is_role(m, "user")) {
            sb_add(b, "<<SYS>>");
            if (sys.len) CAT(b, "\n", sys.s, "\n");
            CAT(b, "<</SYS>>\n\n", m->content, " [/INST]");
            sys.len = 0;
        } else {
            CAT(b, " ", m->content, "</s><s>[INST] ");
        }
    }
    bool oom = sys.oom;
    free(sys.s);
    if (oom) return rs_fail(c->err, RS_ERR_RUNTIME, "chat template llama2-ollama: out of memory");
    return RS_OK;
}

// ollama's command-r.gotmpl without tools: one system turn with .System, the
// turns as given (not trimmed), and a generation prompt that closes the last
// turn a second time and ends with a newline. Cohere's template (command-r)
// does neither.
static rs_status render_command_r_ollama(sb *b, const ctx *c)
{
    sb_add(b, c->bos);
    if (c->system)
        CAT(b, "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>", c->system, "<|END_OF_TURN_TOKEN|>");
    turns_from(b, c, 0);
    return RS_OK;
}

// ollama's gemma3-instruct.gotmpl as its expected prompts show: Gemma 3's
// turns, not trimmed, .System and a blank line opening the first user turn,
// and a newline after the generation prompt, which Gemma 3's template
// (gemma3) does not write.
static rs_status render_gemma3_ollama(sb *b, const ctx *c)
{
    sb_add(b, c->bos);
    bool first_user = true;
    for (size_t i = 0; i < c->n; i++) {
        const chat_message *m = &c->m[i];
        if (is_role(m, "system")) continue;
        if (is_role(m, "user")) {
            sb_add(b, "<start_of_turn>user\n");
            if (first_user && c->system) CAT(b, c->system, "\n\n");
            first_user = false;
        } else {
            sb_add(b, "<start_of_turn>model\n");
        }
        CAT(b, m->content, "<end_of_turn>\n");
    }
    gen(b, c, "<start_of_turn>model\n\n");
    return RS_OK;
}

// ---- the families ----

typedef struct family_renderer {
    rs_status (*render)(sb *b, const ctx *c);
    int variant;     // c->variant
    turn_format fmt; // c->fmt
    bool collate;    // renders ollama's collated turns (c->m, c->n and c->system)
    bool alternate;  // the template rejects roles out of turn (check_alternation)
} family_renderer;

// clang-format off
// {pre "system" post, pre "user" post, pre "assistant" post}
#define BY_ROLE(pre, post) {pre "system" post, pre "user" post, pre "assistant" post}
#define ALL3(s)            {s, s, s}
// A family that is all data; one whose renderer uses the data.
#define TURNS(...)               {.render = render_turns, .fmt = {__VA_ARGS__}}
#define RENDER(fn, v, ...)       {.render = fn, .variant = v, .fmt = {__VA_ARGS__}}
#define RENDER_COLLATED(fn, ...) {.render = fn, .fmt = {__VA_ARGS__}, .collate = true}
// clang-format on

// Rows that several families share.
#define FMT_CHATML                                                                                 \
    .pre = BY_ROLE("<|im_start|>", "\n"), .post = ALL3("<|im_end|>\n"),                            \
    .gen = "<|im_start|>assistant\n"
// Meta-Llama-3-8B-Instruct: bos before the first turn, content trimmed.
#define FMT_LLAMA3                                                                                 \
    .bos = BOS_IF_TURNS, .trim = true,                                                             \
    .pre = BY_ROLE("<|start_header_id|>", "<|end_header_id|>\n\n"), .post = ALL3("<|eot_id|>"),    \
    .gen = "<|start_header_id|>assistant<|end_header_id|>\n\n"
#define FMT_EXAONE                                                                                 \
    .trim = true, .pre = {"[|system|]", "[|user|]", "[|assistant|]"},                              \
    .post = {"[|endofturn|]\n", "\n", "[|endofturn|]\n"}, .gen = "[|assistant|]"

static const family_renderer families[CHAT_FAMILY_COUNT] = {
    // Generic ChatML (ollama chatml; Qwen-style templates without extras).
    [CHAT_FAMILY_CHATML] = TURNS(FMT_CHATML),
    [CHAT_FAMILY_CHATML_DEFSYS] = RENDER(render_chatml_defsys, 0, FMT_CHATML),
    [CHAT_FAMILY_QWEN2_5] = RENDER(render_chatml_defsys, 1, FMT_CHATML),
    [CHAT_FAMILY_QWEN3] = {.render = render_qwen3},
    [CHAT_FAMILY_QWQ] = {.render = render_qwq},
    [CHAT_FAMILY_SMOLLM3] = {.render = render_smollm3},
    [CHAT_FAMILY_LLAMA3] = TURNS(FMT_LLAMA3),
    [CHAT_FAMILY_LLAMA3_1] = RENDER(render_llama3_1, 0, FMT_LLAMA3),
    [CHAT_FAMILY_LLAMA3_2] = RENDER(render_llama3_1, 1, FMT_LLAMA3),
    [CHAT_FAMILY_LLAMA2] = {.render = render_llama2, .alternate = true},
    [CHAT_FAMILY_MISTRAL_V0] =
        RENDER(render_mistral_v0, 0, .bos = BOS_FIRST, .pre = {NULL, "[INST] ", NULL},
               .post = {NULL, " [/INST]", "{eos}"}),
    [CHAT_FAMILY_MISTRAL_V1] = {.render = render_mistral_v1_v3, .variant = 1},
    [CHAT_FAMILY_MISTRAL_V3] = {.render = render_mistral_v1_v3},
    [CHAT_FAMILY_MISTRAL_V3_TEKKEN] = {.render = render_mistral_v3_tekken, .alternate = true},
    // Mistral v7 (Mistral Large 2411; llama.cpp's rendering).
    [CHAT_FAMILY_MISTRAL_V7] = TURNS(.bos = BOS_FIRST, .pre = {"[SYSTEM_PROMPT] ", "[INST] ", " "},
                                     .post = {"[/SYSTEM_PROMPT]", "[/INST]", "</s>"}),
    [CHAT_FAMILY_MISTRAL_V7_TEKKEN] = {.render = render_mistral_v7_tekken,
                                       .alternate = true,
                                       .fmt = {.pre = {NULL, "[INST]", NULL},
                                               .post = {NULL, "[/INST]", "{eos}"}}},
    [CHAT_FAMILY_GEMMA] = {.render = render_gemma, .alternate = true},
    [CHAT_FAMILY_GEMMA3] = {.render = render_gemma, .variant = 1, .alternate = true},
    // microsoft/Phi-3.5-mini-instruct: an empty system message is skipped;
    // without a generation prompt the text ends with eos.
    [CHAT_FAMILY_PHI3] =
        TURNS(.skip = SKIP_EMPTY_SYSTEM, .pre = BY_ROLE("<|", "|>\n"), .post = ALL3("<|end|>\n"),
              .gen = "<|assistant|>\n", .no_gen = "{eos}"),
    // microsoft/Phi-3-mini-4k-instruct: bos, then each user turn followed by
    // the assistant header whatever add_generation_prompt says; the template
    // ignores system messages.
    [CHAT_FAMILY_PHI3_MINI] =
        TURNS(.bos = BOS_FIRST, .skip = SKIP_SYSTEM, .pre = {NULL, "<|user|>\n", NULL},
              .post = {NULL, "<|end|>\n<|assistant|>\n", "<|end|>\n"}),
    // microsoft/phi-4: ChatML with <|im_sep|> and no newlines (llama.cpp).
    [CHAT_FAMILY_PHI4] =
        TURNS(.pre = BY_ROLE("<|im_start|>", "<|im_sep|>"), .post = ALL3("<|im_end|>"),
              .gen = "<|im_start|>assistant<|im_sep|>"),
    // deepseek-coder-instruct (llama.cpp's rendering).
    [CHAT_FAMILY_DEEPSEEK] = TURNS(.pre = {"", "### Instruction:\n", "### Response:\n"},
                                   .post = {"", "\n", "\n<|EOT|>\n"}, .gen = "### Response:\n"),
    // DeepSeek-V2 chat (llama.cpp's rendering; eos is <｜end▁of▁sentence｜>).
    [CHAT_FAMILY_DEEPSEEK2] = TURNS(.pre = {"", "User: ", "Assistant: "},
                                    .post = {"\n\n", "\n\n", "{eos}"}, .gen = "Assistant:"),
    [CHAT_FAMILY_DEEPSEEK3] = {.render = render_deepseek_r1},
    [CHAT_FAMILY_DEEPSEEK3_1] = {.render = render_deepseek3_1},
    [CHAT_FAMILY_DEEPSEEK_R1] = {.render = render_deepseek_r1, .variant = 1},
    [CHAT_FAMILY_DEEPSEEK_R1_TOGGLE] = {.render = render_deepseek_r1, .variant = 2},
    [CHAT_FAMILY_ZEPHYR] = TURNS(.pre = {"<|system|>\n", "<|user|>\n", "<|assistant|>\n"},
                                 .post = ALL3("{eos}\n"), .gen = "<|assistant|>\n"),
    [CHAT_FAMILY_VICUNA] = TURNS(.pre = {"", "USER: ", "ASSISTANT: "},
                                 .post = {"\n\n", "\n", "</s>\n"}, .gen = "ASSISTANT:"),
    [CHAT_FAMILY_VICUNA_ORCA] = TURNS(.pre = {"SYSTEM: ", "USER: ", "ASSISTANT: "},
                                      .post = {"\n", "\n", "</s>\n"}, .gen = "ASSISTANT:"),
    [CHAT_FAMILY_ALPACA] = TURNS(.pre = {"", "### Instruction:\n", "### Response:\n"},
                                 .post = ALL3("\n\n"), .gen = "### Response:\n"),
    [CHAT_FAMILY_COMMAND_R] = {.render = render_command_r,
                               .alternate = true,
                               .fmt = {.trim = true,
                                       .pre = {NULL, "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>",
                                               "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>"},
                                       .post = ALL3("<|END_OF_TURN_TOKEN|>"),
                                       .gen = "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>"}},
    [CHAT_FAMILY_GRANITE] = TURNS(.pre = BY_ROLE("<|start_of_role|>", "<|end_of_role|>"),
                                  .post = ALL3("<|end_of_text|>\n"),
                                  .gen = "<|start_of_role|>assistant<|end_of_role|>\n"),
    [CHAT_FAMILY_GRANITE_CODE] = TURNS(.pre = {"System:\n", "Question:\n", "Answer:\n"},
                                       .post = ALL3("\n\n"), .gen = "Answer:\n"),
    [CHAT_FAMILY_FALCON] =
        TURNS(.pre = {"System: ", "User:\n", "Falcon:\n"}, .post = ALL3("\n"), .gen = "Falcon:\n"),
    [CHAT_FAMILY_FALCON3] = TURNS(.pre = {"<|system|>\n", "<|user|>\n", "<|assistant|>\n"},
                                  .post = ALL3("\n"), .gen = "<|assistant|>\n"),
    [CHAT_FAMILY_OPENCHAT] =
        TURNS(.bos = BOS_FIRST,
              .pre = {"GPT4 Correct System: ", "GPT4 Correct User: ", "GPT4 Correct Assistant: "},
              .post = ALL3("<|end_of_turn|>"), .gen = "GPT4 Correct Assistant:"),
    [CHAT_FAMILY_CHATQA] = TURNS(.pre = {"System: ", "User: ", "Assistant: "}, .post = ALL3("\n\n"),
                                 .gen = "Assistant:"),
    [CHAT_FAMILY_STARCODER2] =
        TURNS(.pre = {"", "### Instruction\n", "### Response\n"},
              .post = {"\n\n", "\n\n", "{eos}\n\n"}, .gen = "### Response\n"),
    [CHAT_FAMILY_MAGICODER] = TURNS(.pre = {"", "@@ Instruction\n", "@@ Response\n"},
                                    .post = ALL3("\n\n"), .gen = "@@ Response\n"),
    // codellama/CodeLlama-70b-Instruct-hf: "<s>" (bos) then "Source: role\n\n "
    // + trimmed content + " <step> " per turn; the generation prompt is
    // always written.
    [CHAT_FAMILY_CODELLAMA70B] =
        TURNS(.bos = BOS_FIRST, .trim = true, .pre = BY_ROLE("Source: ", "\n\n "),
              .post = ALL3(" <step> "), .tail = "Source: assistant\nDestination: user\n\n "),
    [CHAT_FAMILY_SOLAR] = TURNS(.pre = {"### System:\n", "### User:\n", "### Assistant:\n"},
                                .post = {"\n\n", "\n\n", "{eos}\n\n"}, .gen = "### Assistant:\n"),
    [CHAT_FAMILY_ALFRED] = TURNS(.pre = {"<start_system>", "<start_user>", "<start_assistant>"},
                                 .post = ALL3("<end_message>"), .gen = "<start_assistant>"),
    [CHAT_FAMILY_MONARCH] = {.render = render_monarch},
    [CHAT_FAMILY_ORION] = {.render = render_orion},
    [CHAT_FAMILY_CHATGLM3] =
        TURNS(.start = "[gMASK]sop", .pre = {"<|system|>\n ", "<|user|>\n ", "<|assistant|>\n "},
              .gen = "<|assistant|>"),
    [CHAT_FAMILY_CHATGLM4] =
        TURNS(.start = "[gMASK]<sop>", .pre = {"<|system|>\n", "<|user|>\n", "<|assistant|>\n"},
              .gen = "<|assistant|>\n"),
    [CHAT_FAMILY_GLMEDGE] =
        TURNS(.pre = {"<|system|>\n", "<|user|>\n", "<|assistant|>\n"}, .gen = "<|assistant|>"),
    // MiniCPM (llama.cpp's rendering).
    [CHAT_FAMILY_MINICPM] =
        TURNS(.trim = true, .pre = {NULL, "<用户>", NULL}, .post = {NULL, "<AI>", NULL}),
    [CHAT_FAMILY_EXAONE3] = TURNS(FMT_EXAONE),
    [CHAT_FAMILY_EXAONE4] = TURNS(FMT_EXAONE),
    [CHAT_FAMILY_RWKV_WORLD] =
        RENDER(render_rwkv_world, 0, .trim = true, .pre = {"System: ", "User: ", "Assistant: "},
               .post = ALL3("\n\n")),
    [CHAT_FAMILY_MEGREZ] =
        TURNS(.pre = BY_ROLE("<|role_start|>", "<|role_end|>"), .post = ALL3("<|turn_end|>"),
              .gen = "<|role_start|>assistant<|role_end|>"),
    // Meta Llama 4 (llama.cpp's rendering).
    [CHAT_FAMILY_LLAMA4] =
        TURNS(.trim = true, .pre = BY_ROLE("<|header_start|>", "<|header_end|>\n\n"),
              .post = ALL3("<|eot|>"), .gen = "<|header_start|>assistant<|header_end|>\n\n"),
    // SmolVLM (llama.cpp's rendering).
    [CHAT_FAMILY_SMOLVLM] = TURNS(.start = "<|im_start|>", .pre = {"", "User: ", "Assistant: "},
                                  .post = {"\n\n", "<end_of_utterance>\n", "<end_of_utterance>\n"},
                                  .gen = "Assistant:"),
    [CHAT_FAMILY_BAILING] =
        TURNS(.pre = {"<role>SYSTEM</role>", "<role>HUMAN</role>", "<role>ASSISTANT</role>"},
              .gen = "<role>ASSISTANT</role>"),
    [CHAT_FAMILY_DOTS1] =
        TURNS(.pre = {"<|system|>", "<|userprompt|>", "<|response|>"},
              .post = {"<|endofsystem|>", "<|endofuserprompt|>", "<|endofresponse|>"},
              .gen = "<|response|>"),
    [CHAT_FAMILY_LLAMA2_OLLAMA] = {.render = render_llama2_ollama, .collate = true},
    [CHAT_FAMILY_COMMAND_R_OLLAMA] =
        RENDER_COLLATED(render_command_r_ollama, .skip = SKIP_SYSTEM,
                        .pre = {NULL, "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>",
                                "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>"},
                        .post = ALL3("<|END_OF_TURN_TOKEN|>"),
                        .gen = "<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|>"
                               "<|CHATBOT_TOKEN|>\n"),
    [CHAT_FAMILY_GEMMA3_OLLAMA] = {.render = render_gemma3_ollama, .collate = true},
};

rs_status chat_render(chat_family f, const chat_message *msgs, size_t n, const chat_options *opts,
                      char **out, rs_error *err)
{
    *out = NULL;
    chat_options defaults = chat_default_options();
    if (!opts) opts = &defaults;
    for (size_t i = 0; i < n; i++) {
        const char *r = msgs[i].role;
        if (!r || !msgs[i].content)
            return rs_fail(err, RS_ERR_INPUT, "chat message %zu: role or content missing", i + 1);
        if (strcmp(r, "system") != 0 && strcmp(r, "user") != 0 && strcmp(r, "assistant") != 0)
            return rs_fail(err, RS_ERR_INPUT,
                           "chat message %zu: role \"%s\" is not system, user or assistant", i + 1,
                           r);
    }
    const family_renderer *r = (unsigned)f < CHAT_FAMILY_COUNT ? &families[f] : NULL;
    if (!r || !r->render)
        return rs_fail(err, RS_ERR_INPUT,
                       "chat template: unknown family; pick one with --chat-template NAME (%s)",
                       chat_family_list());
    ctx c = {msgs,
             n,
             opts,
             opts->bos_token ? opts->bos_token : "",
             opts->eos_token ? opts->eos_token : "",
             err,
             &r->fmt,
             r->variant,
             NULL};
    collated t = {0};
    if (r->collate) {
        rs_status st = ollama_collate(&c, &t, chat_family_name(f));
        if (st != RS_OK) return st;
        c.m = t.m;
        c.n = t.n;
        c.system = t.system.len ? t.system.s : NULL;
    }
    if (r->alternate) {
        rs_status st = check_alternation(&c, first_is_system(&c) ? 1 : 0, chat_family_name(f));
        if (st != RS_OK) return st;
    }
    sb b = {0};
    rs_status st = r->render(&b, &c);
    collated_free(&t);
    if (st == RS_OK && b.oom) st = rs_fail(err, RS_ERR_RUNTIME, "chat template: out of memory");
    if (st != RS_OK) {
        free(b.s);
        return st;
    }
    *out = b.s ? b.s : calloc(1, 1);
    if (!*out) return rs_fail(err, RS_ERR_RUNTIME, "chat template: out of memory");
    return RS_OK;
}
