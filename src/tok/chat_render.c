// Chat template rendering: one small function per family, each written from
// the family's real Jinja template (the reference each function follows is
// named above it). The tests compare every function with transformers'
// rendering of the real template, or with ollama's expected prompts.
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

typedef struct ctx {
    const chat_message *m;
    size_t n;
    const chat_options *o;
    const char *bos, *eos; // never NULL
    rs_error *err;
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

// ---- ChatML and its relatives ----

// Generic ChatML (ollama chatml; Qwen-style templates without extras).
static rs_status render_chatml(sb *b, const ctx *c)
{
    for (size_t i = 0; i < c->n; i++)
        CAT(b, "<|im_start|>", c->m[i].role, "\n", c->m[i].content, "<|im_end|>\n");
    gen(b, c, "<|im_start|>assistant\n");
    return RS_OK;
}

// Qwen2.5-7B-Instruct (and Qwen2 / DBRX-style defaults): a system turn is
// always written, the template's default when the conversation has none.
static rs_status render_chatml_defsys(sb *b, const ctx *c, const char *builtin)
{
    const char *def = c->o->default_system ? c->o->default_system : builtin;
    if (!first_is_system(c)) {
        if (!def)
            return rs_fail(c->err, RS_ERR_INPUT,
                           "chat template chatml-default-system: the template's default system "
                           "prompt is unknown (give one, or a system message)");
        CAT(b, "<|im_start|>system\n", def, "<|im_end|>\n");
    }
    return render_chatml(b, c);
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

// microsoft/phi-4: ChatML with <|im_sep|> and no newlines (llama.cpp).
static rs_status render_phi4(sb *b, const ctx *c)
{
    for (size_t i = 0; i < c->n; i++)
        CAT(b, "<|im_start|>", c->m[i].role, "<|im_sep|>", c->m[i].content, "<|im_end|>");
    gen(b, c, "<|im_start|>assistant<|im_sep|>");
    return RS_OK;
}

// ---- Llama ----

static void llama3_turn(sb *b, const char *role, const char *content)
{
    CAT(b, "<|start_header_id|>", role, "<|end_header_id|>\n\n");
    sb_view(b, v_strip(vw(content)));
    sb_add(b, "<|eot_id|>");
}

// Meta-Llama-3-8B-Instruct: bos before the first turn, content trimmed.
static rs_status render_llama3(sb *b, const ctx *c)
{
    for (size_t i = 0; i < c->n; i++) {
        if (i == 0) sb_add(b, c->bos);
        llama3_turn(b, c->m[i].role, c->m[i].content);
    }
    gen(b, c, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    return RS_OK;
}

// Llama 3.1/3.3 (date fixed at "26 Jul 2024") and 3.2 (today's date): the
// system turn always carries the knowledge cutoff and the date.
static rs_status render_llama3_1(sb *b, const ctx *c, bool today)
{
    char date[32] = "26 Jul 2024";
    if (today) {
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
    for (size_t i = from; i < c->n; i++)
        llama3_turn(b, c->m[i].role, c->m[i].content);
    gen(b, c, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    return RS_OK;
}

// meta-llama/Llama-2-7b-chat-hf: the system text joins the first user turn
// inside <<SYS>>; every user turn starts with bos, every answer ends with
// " " + eos. There is no generation prompt: the prompt ends with [/INST].
static rs_status render_llama2(sb *b, const ctx *c)
{
    size_t from = first_is_system(c) ? 1 : 0;
    rs_status st = check_alternation(c, from, "llama2");
    if (st != RS_OK) return st;
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

// Meta Llama 4 (llama.cpp's rendering).
static rs_status render_llama4(sb *b, const ctx *c)
{
    for (size_t i = 0; i < c->n; i++) {
        CAT(b, "<|header_start|>", c->m[i].role, "<|header_end|>\n\n");
        sb_view(b, v_strip(vw(c->m[i].content)));
        sb_add(b, "<|eot|>");
    }
    gen(b, c, "<|header_start|>assistant<|header_end|>\n\n");
    return RS_OK;
}

// ---- Mistral ----

// Mistral cookbook v1 and v3 (llama.cpp's rendering, which ollama's
// mistral-instruct matches): the system text opens the first [INST].
static rs_status render_mistral_v1_v3(sb *b, const ctx *c, bool v1)
{
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
    rs_status st = check_alternation(c, from, "mistral-v3-tekken");
    if (st != RS_OK) return st;
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
    sb_add(b, c->bos);
    for (size_t i = 0; i < c->n; i++) {
        if (is_role(&c->m[i], "user"))
            CAT(b, "[INST] ", c->m[i].content, " [/INST]");
        else
            CAT(b, c->m[i].content, c->eos);
    }
    return RS_OK;
}

// Mistral v7 (Mistral Large 2411; llama.cpp's rendering).
static rs_status render_mistral_v7(sb *b, const ctx *c)
{
    sb_add(b, c->bos);
    for (size_t i = 0; i < c->n; i++) {
        const chat_message *m = &c->m[i];
        if (is_role(m, "system"))
            CAT(b, "[SYSTEM_PROMPT] ", m->content, "[/SYSTEM_PROMPT]");
        else if (is_role(m, "user"))
            CAT(b, "[INST] ", m->content, "[/INST]");
        else
            CAT(b, " ", m->content, "</s>");
    }
    return RS_OK;
}

// mistralai/Mistral-Small-3.2-24B-Instruct-2506: the system prompt (the
// template's long default, with today's date, when there is none) comes
// first; no generation prompt.
static rs_status render_mistral_v7_tekken(sb *b, const ctx *c)
{
    size_t from = first_is_system(c) ? 1 : 0;
    rs_status st = check_alternation(c, from, "mistral-v7-tekken");
    if (st != RS_OK) return st;
    const char *sys = from ? c->m[0].content : c->o->default_system;
    sb_add(b, c->bos);
    if (sys) CAT(b, "[SYSTEM_PROMPT]", sys, "[/SYSTEM_PROMPT]");
    for (size_t i = from; i < c->n; i++) {
        const chat_message *m = &c->m[i];
        if (is_role(m, "user"))
            CAT(b, "[INST]", m->content, "[/INST]");
        else
            CAT(b, m->content, c->eos);
    }
    return RS_OK;
}

// ---- Gemma ----

// google/gemma-2-2b-it: assistant is "model", content trimmed. The real
// template rejects a system message; like ollama's gemma-instruct, the
// system text joins the first user turn, followed by "\n" (Gemma 3's template
// uses "\n\n" and keeps the system text as is).
static rs_status render_gemma(sb *b, const ctx *c, bool gemma3)
{
    size_t from = first_is_system(c) ? 1 : 0;
    rs_status st = check_alternation(c, from, gemma3 ? "gemma3" : "gemma");
    if (st != RS_OK) return st;
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

// microsoft/Phi-3.5-mini-instruct: an empty system message is skipped;
// without a generation prompt the text ends with eos.
static rs_status render_phi3(sb *b, const ctx *c)
{
    for (size_t i = 0; i < c->n; i++) {
        const chat_message *m = &c->m[i];
        if (is_role(m, "system") && !m->content[0]) continue;
        CAT(b, "<|", m->role, "|>\n", m->content, "<|end|>\n");
    }
    if (c->o->add_generation_prompt)
        sb_add(b, "<|assistant|>\n");
    else
        sb_add(b, c->eos);
    return RS_OK;
}

// microsoft/Phi-3-mini-4k-instruct: bos, then each user turn followed by
// the assistant header whatever add_generation_prompt says; the template
// ignores system messages.
static rs_status render_phi3_mini(sb *b, const ctx *c)
{
    sb_add(b, c->bos);
    for (size_t i = 0; i < c->n; i++) {
        const chat_message *m = &c->m[i];
        if (is_role(m, "user"))
            CAT(b, "<|user|>\n", m->content, "<|end|>\n<|assistant|>\n");
        else if (is_role(m, "assistant"))
            CAT(b, m->content, "<|end|>\n");
    }
    return RS_OK;
}

// ---- DeepSeek ----

// DeepSeek-R1 distills (and V3): bos, the last system text, then turns; an
// answer keeps only what follows its last </think>.
static rs_status render_deepseek_r1(sb *b, const ctx *c, int think_gen)
{
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

// deepseek-coder-instruct (llama.cpp's rendering).
static rs_status render_deepseek(sb *b, const ctx *c)
{
    for (size_t i = 0; i < c->n; i++) {
        const chat_message *m = &c->m[i];
        if (is_role(m, "system"))
            sb_add(b, m->content);
        else if (is_role(m, "user"))
            CAT(b, "### Instruction:\n", m->content, "\n");
        else
            CAT(b, "### Response:\n", m->content, "\n<|EOT|>\n");
    }
    gen(b, c, "### Response:\n");
    return RS_OK;
}

// DeepSeek-V2 chat (llama.cpp's rendering; eos is <｜end▁of▁sentence｜>).
// NVIDIA's ChatQA template writes the same turns.
static rs_status render_deepseek2(sb *b, const ctx *c)
{
    for (size_t i = 0; i < c->n; i++) {
        const chat_message *m = &c->m[i];
        if (is_role(m, "system"))
            CAT(b, m->content, "\n\n");
        else if (is_role(m, "user"))
            CAT(b, "User: ", m->content, "\n\n");
        else
            CAT(b, "Assistant: ", m->content, c->eos);
    }
    gen(b, c, "Assistant:");
    return RS_OK;
}

// ---- simple turn formats ----

// Formats that write each role as prefix + content + suffix and end with a
// generation prompt: Zephyr, Alpaca, ChatQA, StarCoder2, ... Where the real
// template prints eos_token, the suffix says "{eos}".
typedef struct turn_format {
    const char *system_pre, *system_post;
    const char *user_pre, *user_post;
    const char *asst_pre, *asst_post;
    const char *gen;
    bool bos_first; // bos before everything
} turn_format;

static void add_with_eos(sb *b, const char *s, const char *eos)
{
    const char *p;
    while ((p = strstr(s, "{eos}"))) {
        sb_addn(b, s, (size_t)(p - s));
        sb_add(b, eos);
        s = p + 5;
    }
    sb_add(b, s);
}

static rs_status render_turns(sb *b, const ctx *c, const turn_format *f)
{
    if (f->bos_first) sb_add(b, c->bos);
    for (size_t i = 0; i < c->n; i++) {
        const chat_message *m = &c->m[i];
        const char *pre = f->asst_pre, *post = f->asst_post;
        if (is_role(m, "system")) pre = f->system_pre, post = f->system_post;
        if (is_role(m, "user")) pre = f->user_pre, post = f->user_post;
        add_with_eos(b, pre, c->eos);
        sb_add(b, m->content);
        add_with_eos(b, post, c->eos);
    }
    if (c->o->add_generation_prompt) add_with_eos(b, f->gen, c->eos);
    return RS_OK;
}

static const turn_format fmt_zephyr = {"<|system|>\n",    "{eos}\n", "<|user|>\n",      "{eos}\n",
                                       "<|assistant|>\n", "{eos}\n", "<|assistant|>\n", false};
static const turn_format fmt_vicuna = {
    "", "\n\n", "USER: ", "\n", "ASSISTANT: ", "</s>\n", "ASSISTANT:", false};
static const turn_format fmt_vicuna_orca = {"SYSTEM: ",    "\n",     "USER: ",     "\n",
                                            "ASSISTANT: ", "</s>\n", "ASSISTANT:", false};
static const turn_format fmt_alpaca = {
    "", "\n\n", "### Instruction:\n", "\n\n", "### Response:\n", "\n\n", "### Response:\n", false};
static const turn_format fmt_chatqa = {"System: ",    "\n\n", "User: ",     "\n\n",
                                       "Assistant: ", "\n\n", "Assistant:", false};
static const turn_format fmt_granite_code = {"System:\n", "\n\n", "Question:\n", "\n\n",
                                             "Answer:\n", "\n\n", "Answer:\n",   false};
static const turn_format fmt_falcon = {"System: ",  "\n", "User:\n",   "\n",
                                       "Falcon:\n", "\n", "Falcon:\n", false};
static const turn_format fmt_falcon3 = {"<|system|>\n",    "\n", "<|user|>\n",      "\n",
                                        "<|assistant|>\n", "\n", "<|assistant|>\n", false};
static const turn_format fmt_starcoder2 = {
    "",   "\n\n", "### Instruction\n", "\n\n", "### Response\n", "{eos}\n\n", "### Response\n",
    false};
static const turn_format fmt_magicoder = {
    "", "\n\n", "@@ Instruction\n", "\n\n", "@@ Response\n", "\n\n", "@@ Response\n", false};
static const turn_format fmt_solar = {"### System:\n",    "\n\n",      "### User:\n",      "\n\n",
                                      "### Assistant:\n", "{eos}\n\n", "### Assistant:\n", false};
static const turn_format fmt_alfred = {
    "<start_system>",    "<end_message>", "<start_user>",      "<end_message>",
    "<start_assistant>", "<end_message>", "<start_assistant>", false};
static const turn_format fmt_openchat = {
    "GPT4 Correct System: ",    "<|end_of_turn|>", "GPT4 Correct User: ",     "<|end_of_turn|>",
    "GPT4 Correct Assistant: ", "<|end_of_turn|>", "GPT4 Correct Assistant:", true};
static const turn_format fmt_granite = {
    "<|start_of_role|>system<|end_of_role|>",      "<|end_of_text|>\n",
    "<|start_of_role|>user<|end_of_role|>",        "<|end_of_text|>\n",
    "<|start_of_role|>assistant<|end_of_role|>",   "<|end_of_text|>\n",
    "<|start_of_role|>assistant<|end_of_role|>\n", false};
static const turn_format fmt_chatglm4 = {"<|system|>\n",    "", "<|user|>\n",      "",
                                         "<|assistant|>\n", "", "<|assistant|>\n", false};
static const turn_format fmt_glmedge = {"<|system|>\n",    "", "<|user|>\n",    "",
                                        "<|assistant|>\n", "", "<|assistant|>", false};
static const turn_format fmt_chatglm3 = {"<|system|>\n ",    "", "<|user|>\n ",   "",
                                         "<|assistant|>\n ", "", "<|assistant|>", false};
static const turn_format fmt_megrez = {"<|role_start|>system<|role_end|>",    "<|turn_end|>",
                                       "<|role_start|>user<|role_end|>",      "<|turn_end|>",
                                       "<|role_start|>assistant<|role_end|>", "<|turn_end|>",
                                       "<|role_start|>assistant<|role_end|>", false};
static const turn_format fmt_bailing = {
    "<role>SYSTEM</role>",    "", "<role>HUMAN</role>",     "",
    "<role>ASSISTANT</role>", "", "<role>ASSISTANT</role>", false};
static const turn_format fmt_dots1 = {
    "<|system|>",   "<|endofsystem|>",   "<|userprompt|>", "<|endofuserprompt|>",
    "<|response|>", "<|endofresponse|>", "<|response|>",   false};

// Formats whose content is trimmed (Python's strip()).
static rs_status render_trimmed_turns(sb *b, const ctx *c, const turn_format *f)
{
    if (f->bos_first) sb_add(b, c->bos);
    for (size_t i = 0; i < c->n; i++) {
        const chat_message *m = &c->m[i];
        const char *pre = f->asst_pre, *post = f->asst_post;
        if (is_role(m, "system")) pre = f->system_pre, post = f->system_post;
        if (is_role(m, "user")) pre = f->user_pre, post = f->user_post;
        sb_add(b, pre);
        sb_view(b, v_strip(vw(m->content)));
        sb_add(b, post);
    }
    gen(b, c, f->gen);
    return RS_OK;
}

// CohereForAI/c4ai-command-r-v01 and -plus ("default" template): bos, the
// system text as given, then user and chatbot turns stripped; roles must
// alternate.
static rs_status render_command_r(sb *b, const ctx *c)
{
    size_t from = first_is_system(c) ? 1 : 0;
    rs_status st = check_alternation(c, from, "command-r");
    if (st != RS_OK) return st;
    sb_add(b, c->bos);
    if (from)
        CAT(b, "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>", c->m[0].content, "<|END_OF_TURN_TOKEN|>");
    for (size_t i = from; i < c->n; i++) {
        sb_add(b, is_role(&c->m[i], "user") ? "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>"
                                            : "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>");
        sb_view(b, v_strip(vw(c->m[i].content)));
        sb_add(b, "<|END_OF_TURN_TOKEN|>");
    }
    gen(b, c, "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>");
    return RS_OK;
}

static const turn_format fmt_exaone = {"[|system|]",    "[|endofturn|]\n", "[|user|]",      "\n",
                                       "[|assistant|]", "[|endofturn|]\n", "[|assistant|]", false};

// codellama/CodeLlama-70b-Instruct-hf: "<s>" (bos) then "Source: role\n\n "
// + trimmed content + " <step> " per turn; the generation prompt is always
// written.
static rs_status render_codellama70b(sb *b, const ctx *c)
{
    sb_add(b, c->bos);
    for (size_t i = 0; i < c->n; i++) {
        CAT(b, "Source: ", c->m[i].role, "\n\n ");
        sb_view(b, v_strip(vw(c->m[i].content)));
        sb_add(b, " <step> ");
    }
    sb_add(b, "Source: assistant\nDestination: user\n\n ");
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

// MiniCPM (llama.cpp's rendering).
static rs_status render_minicpm(sb *b, const ctx *c)
{
    for (size_t i = 0; i < c->n; i++) {
        const chat_message *m = &c->m[i];
        if (is_role(m, "user")) sb_add(b, "<用户>");
        sb_view(b, v_strip(vw(m->content)));
        if (is_role(m, "user")) sb_add(b, "<AI>");
    }
    return RS_OK;
}

// RWKV world (llama.cpp's rendering): "Assistant:" follows a final user turn.
static rs_status render_rwkv_world(sb *b, const ctx *c)
{
    for (size_t i = 0; i < c->n; i++) {
        const chat_message *m = &c->m[i];
        const char *pre = is_role(m, "system") ? "System: "
                          : is_role(m, "user") ? "User: "
                                               : "Assistant: ";
        sb_add(b, pre);
        sb_view(b, v_strip(vw(m->content)));
        sb_add(b, "\n\n");
        if (is_role(m, "user") && i == c->n - 1) sb_add(b, "Assistant:");
    }
    return RS_OK;
}

// SmolVLM (llama.cpp's rendering).
static rs_status render_smolvlm(sb *b, const ctx *c)
{
    sb_add(b, "<|im_start|>");
    for (size_t i = 0; i < c->n; i++) {
        const chat_message *m = &c->m[i];
        if (is_role(m, "system"))
            CAT(b, m->content, "\n\n");
        else if (is_role(m, "user"))
            CAT(b, "User: ", m->content, "<end_of_utterance>\n");
        else
            CAT(b, "Assistant: ", m->content, "<end_of_utterance>\n");
    }
    gen(b, c, "Assistant:");
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
    collated t;
    rs_status st = ollama_collate(c, &t, "llama2-ollama");
    if (st != RS_OK) return st;
    sb sys = {0}; // system text waiting for the next user turn
    CAT(b, c->bos, "[INST] ");
    for (size_t i = 0; i < t.n; i++) {
        const chat_message *m = &t.m[i];
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
    collated_free(&t);
    if (oom) return rs_fail(c->err, RS_ERR_RUNTIME, "chat template llama2-ollama: out of memory");
    return RS_OK;
}

// ollama's command-r.gotmpl without tools: one system turn with .System, the
// turns as given (not trimmed), and a generation prompt that closes the last
// turn a second time and ends with a newline. Cohere's template (command-r)
// does neither.
static rs_status render_command_r_ollama(sb *b, const ctx *c)
{
    collated t;
    rs_status st = ollama_collate(c, &t, "command-r-ollama");
    if (st != RS_OK) return st;
    sb_add(b, c->bos);
    if (t.system.len)
        CAT(b, "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>", t.system.s, "<|END_OF_TURN_TOKEN|>");
    for (size_t i = 0; i < t.n; i++) {
        const chat_message *m = &t.m[i];
        if (is_role(m, "system")) continue;
        CAT(b, "<|START_OF_TURN_TOKEN|>", is_role(m, "user") ? "<|USER_TOKEN|>" : "<|CHATBOT_TOKEN|>",
            m->content, "<|END_OF_TURN_TOKEN|>");
    }
    gen(b, c, "<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>\n");
    collated_free(&t);
    return RS_OK;
}

// ollama's gemma3-instruct.gotmpl as its expected prompts show: Gemma 3's
// turns, not trimmed, .System and a blank line opening the first user turn,
// and a newline after the generation prompt, which Gemma 3's template
// (gemma3) does not write.
static rs_status render_gemma3_ollama(sb *b, const ctx *c)
{
    collated t;
    rs_status st = ollama_collate(c, &t, "gemma3-ollama");
    if (st != RS_OK) return st;
    sb_add(b, c->bos);
    bool first_user = true;
    for (size_t i = 0; i < t.n; i++) {
        const chat_message *m = &t.m[i];
        if (is_role(m, "system")) continue;
        if (is_role(m, "user")) {
            sb_add(b, "<start_of_turn>user\n");
            if (first_user && t.system.len) CAT(b, t.system.s, "\n\n");
            first_user = false;
        } else {
            sb_add(b, "<start_of_turn>model\n");
        }
        CAT(b, m->content, "<end_of_turn>\n");
    }
    gen(b, c, "<start_of_turn>model\n\n");
    collated_free(&t);
    return RS_OK;
}

static rs_status render_family(sb *b, chat_family f, const ctx *c)
{
    switch (f) {
    case CHAT_FAMILY_CHATML:
        return render_chatml(b, c);
    case CHAT_FAMILY_CHATML_DEFSYS:
        return render_chatml_defsys(b, c, NULL);
    case CHAT_FAMILY_QWEN2_5:
        return render_chatml_defsys(
            b, c, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
    case CHAT_FAMILY_QWEN3:
        return render_qwen3(b, c);
    case CHAT_FAMILY_QWQ:
        return render_qwq(b, c);
    case CHAT_FAMILY_SMOLLM3:
        return render_smollm3(b, c);
    case CHAT_FAMILY_LLAMA3:
        return render_llama3(b, c);
    case CHAT_FAMILY_LLAMA3_1:
        return render_llama3_1(b, c, false);
    case CHAT_FAMILY_LLAMA3_2:
        return render_llama3_1(b, c, true);
    case CHAT_FAMILY_LLAMA2:
        return render_llama2(b, c);
    case CHAT_FAMILY_MISTRAL_V0:
        return render_mistral_v0(b, c);
    case CHAT_FAMILY_MISTRAL_V1:
        return render_mistral_v1_v3(b, c, true);
    case CHAT_FAMILY_MISTRAL_V3:
        return render_mistral_v1_v3(b, c, false);
    case CHAT_FAMILY_MISTRAL_V3_TEKKEN:
        return render_mistral_v3_tekken(b, c);
    case CHAT_FAMILY_MISTRAL_V7:
        return render_mistral_v7(b, c);
    case CHAT_FAMILY_MISTRAL_V7_TEKKEN:
        return render_mistral_v7_tekken(b, c);
    case CHAT_FAMILY_GEMMA:
        return render_gemma(b, c, false);
    case CHAT_FAMILY_GEMMA3:
        return render_gemma(b, c, true);
    case CHAT_FAMILY_PHI3:
        return render_phi3(b, c);
    case CHAT_FAMILY_PHI3_MINI:
        return render_phi3_mini(b, c);
    case CHAT_FAMILY_PHI4:
        return render_phi4(b, c);
    case CHAT_FAMILY_DEEPSEEK:
        return render_deepseek(b, c);
    case CHAT_FAMILY_DEEPSEEK2:
        return render_deepseek2(b, c);
    case CHAT_FAMILY_DEEPSEEK3:
        return render_deepseek_r1(b, c, 0);
    case CHAT_FAMILY_DEEPSEEK3_1:
        return render_deepseek3_1(b, c);
    case CHAT_FAMILY_DEEPSEEK_R1:
        return render_deepseek_r1(b, c, 1);
    case CHAT_FAMILY_DEEPSEEK_R1_TOGGLE:
        return render_deepseek_r1(b, c, 2);
    case CHAT_FAMILY_ZEPHYR:
        return render_turns(b, c, &fmt_zephyr);
    case CHAT_FAMILY_VICUNA:
        return render_turns(b, c, &fmt_vicuna);
    case CHAT_FAMILY_VICUNA_ORCA:
        return render_turns(b, c, &fmt_vicuna_orca);
    case CHAT_FAMILY_ALPACA:
        return render_turns(b, c, &fmt_alpaca);
    case CHAT_FAMILY_COMMAND_R:
        return render_command_r(b, c);
    case CHAT_FAMILY_GRANITE:
        return render_turns(b, c, &fmt_granite);
    case CHAT_FAMILY_GRANITE_CODE:
        return render_turns(b, c, &fmt_granite_code);
    case CHAT_FAMILY_FALCON:
        return render_turns(b, c, &fmt_falcon);
    case CHAT_FAMILY_FALCON3:
        return render_turns(b, c, &fmt_falcon3);
    case CHAT_FAMILY_OPENCHAT:
        return render_turns(b, c, &fmt_openchat);
    case CHAT_FAMILY_CHATQA:
        return render_turns(b, c, &fmt_chatqa);
    case CHAT_FAMILY_STARCODER2:
        return render_turns(b, c, &fmt_starcoder2);
    case CHAT_FAMILY_MAGICODER:
        return render_turns(b, c, &fmt_magicoder);
    case CHAT_FAMILY_CODELLAMA70B:
        return render_codellama70b(b, c);
    case CHAT_FAMILY_SOLAR:
        return render_turns(b, c, &fmt_solar);
    case CHAT_FAMILY_ALFRED:
        return render_turns(b, c, &fmt_alfred);
    case CHAT_FAMILY_MONARCH:
        return render_monarch(b, c);
    case CHAT_FAMILY_ORION:
        return render_orion(b, c);
    case CHAT_FAMILY_CHATGLM3:
        sb_add(b, "[gMASK]sop");
        return render_turns(b, c, &fmt_chatglm3);
    case CHAT_FAMILY_CHATGLM4:
        sb_add(b, "[gMASK]<sop>");
        return render_turns(b, c, &fmt_chatglm4);
    case CHAT_FAMILY_GLMEDGE:
        return render_turns(b, c, &fmt_glmedge);
    case CHAT_FAMILY_MINICPM:
        return render_minicpm(b, c);
    case CHAT_FAMILY_EXAONE3:
    case CHAT_FAMILY_EXAONE4:
        return render_trimmed_turns(b, c, &fmt_exaone);
    case CHAT_FAMILY_RWKV_WORLD:
        return render_rwkv_world(b, c);
    case CHAT_FAMILY_MEGREZ:
        return render_turns(b, c, &fmt_megrez);
    case CHAT_FAMILY_LLAMA4:
        return render_llama4(b, c);
    case CHAT_FAMILY_SMOLVLM:
        return render_smolvlm(b, c);
    case CHAT_FAMILY_BAILING:
        return render_turns(b, c, &fmt_bailing);
    case CHAT_FAMILY_DOTS1:
        return render_turns(b, c, &fmt_dots1);
    case CHAT_FAMILY_LLAMA2_OLLAMA:
        return render_llama2_ollama(b, c);
    case CHAT_FAMILY_COMMAND_R_OLLAMA:
        return render_command_r_ollama(b, c);
    case CHAT_FAMILY_GEMMA3_OLLAMA:
        return render_gemma3_ollama(b, c);
    case CHAT_FAMILY_UNKNOWN:
    case CHAT_FAMILY_COUNT:
        break;
    }
    return rs_fail(c->err, RS_ERR_INPUT,
                   "chat template: unknown family; pick one with --chat-template NAME (%s)",
                   chat_family_list());
}

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
    ctx c = {msgs,
             n,
             opts,
             opts->bos_token ? opts->bos_token : "",
             opts->eos_token ? opts->eos_token : "",
             err};
    sb b = {0};
    rs_status st = render_family(&b, f, &c);
    if (st == RS_OK && b.oom) st = rs_fail(err, RS_ERR_RUNTIME, "chat template: out of memory");
    if (st != RS_OK) {
        free(b.s);
        return st;
    }
    *out = b.s ? b.s : calloc(1, 1);
    if (!*out) return rs_fail(err, RS_ERR_RUNTIME, "chat template: out of memory");
    return RS_OK;
}
