// Chat template families: names, detection from the template text, and the
// default system prompt some templates carry in their text.
#include "tok/chat_template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct family_name {
    chat_family family;
    const char *name;
} family_names[] = {
    {CHAT_FAMILY_CHATML, "chatml"},
    {CHAT_FAMILY_CHATML_DEFSYS, "chatml-default-system"},
    {CHAT_FAMILY_QWEN2_5, "qwen2.5"},
    {CHAT_FAMILY_QWEN3, "qwen3"},
    {CHAT_FAMILY_QWQ, "qwq"},
    {CHAT_FAMILY_SMOLLM3, "smollm3"},
    {CHAT_FAMILY_LLAMA3, "llama3"},
    {CHAT_FAMILY_LLAMA3_1, "llama3.1"},
    {CHAT_FAMILY_LLAMA3_2, "llama3.2"},
    {CHAT_FAMILY_LLAMA2, "llama2"},
    {CHAT_FAMILY_MISTRAL_V0, "mistral-v0"},
    {CHAT_FAMILY_MISTRAL_V1, "mistral-v1"},
    {CHAT_FAMILY_MISTRAL_V3, "mistral-v3"},
    {CHAT_FAMILY_MISTRAL_V3_TEKKEN, "mistral-v3-tekken"},
    {CHAT_FAMILY_MISTRAL_V7, "mistral-v7"},
    {CHAT_FAMILY_MISTRAL_V7_TEKKEN, "mistral-v7-tekken"},
    {CHAT_FAMILY_GEMMA, "gemma"},
    {CHAT_FAMILY_GEMMA3, "gemma3"},
    {CHAT_FAMILY_PHI3, "phi3"},
    {CHAT_FAMILY_PHI3_MINI, "phi3-mini"},
    {CHAT_FAMILY_PHI4, "phi4"},
    {CHAT_FAMILY_DEEPSEEK, "deepseek"},
    {CHAT_FAMILY_DEEPSEEK2, "deepseek2"},
    {CHAT_FAMILY_DEEPSEEK3, "deepseek-v3"},
    {CHAT_FAMILY_DEEPSEEK3_1, "deepseek-v3.1"},
    {CHAT_FAMILY_DEEPSEEK_R1, "deepseek-r1"},
    {CHAT_FAMILY_DEEPSEEK_R1_TOGGLE, "deepseek-r1-toggle"},
    {CHAT_FAMILY_ZEPHYR, "zephyr"},
    {CHAT_FAMILY_VICUNA, "vicuna"},
    {CHAT_FAMILY_VICUNA_ORCA, "vicuna-orca"},
    {CHAT_FAMILY_ALPACA, "alpaca"},
    {CHAT_FAMILY_COMMAND_R, "command-r"},
    {CHAT_FAMILY_GRANITE, "granite"},
    {CHAT_FAMILY_GRANITE_CODE, "granite-code"},
    {CHAT_FAMILY_FALCON, "falcon"},
    {CHAT_FAMILY_FALCON3, "falcon3"},
    {CHAT_FAMILY_OPENCHAT, "openchat"},
    {CHAT_FAMILY_CHATQA, "chatqa"},
    {CHAT_FAMILY_STARCODER2, "starcoder2"},
    {CHAT_FAMILY_MAGICODER, "magicoder"},
    {CHAT_FAMILY_CODELLAMA70B, "codellama-70b"},
    {CHAT_FAMILY_SOLAR, "solar"},
    {CHAT_FAMILY_ALFRED, "alfred"},
    {CHAT_FAMILY_MONARCH, "monarch"},
    {CHAT_FAMILY_ORION, "orion"},
    {CHAT_FAMILY_CHATGLM3, "chatglm3"},
    {CHAT_FAMILY_CHATGLM4, "chatglm4"},
    {CHAT_FAMILY_GLMEDGE, "glmedge"},
    {CHAT_FAMILY_MINICPM, "minicpm"},
    {CHAT_FAMILY_EXAONE3, "exaone3"},
    {CHAT_FAMILY_EXAONE4, "exaone4"},
    {CHAT_FAMILY_RWKV_WORLD, "rwkv-world"},
    {CHAT_FAMILY_MEGREZ, "megrez"},
    {CHAT_FAMILY_LLAMA4, "llama4"},
    {CHAT_FAMILY_SMOLVLM, "smolvlm"},
    {CHAT_FAMILY_BAILING, "bailing"},
    {CHAT_FAMILY_DOTS1, "dots1"},
    {CHAT_FAMILY_LLAMA2_OLLAMA, "llama2-ollama"},
    {CHAT_FAMILY_COMMAND_R_OLLAMA, "command-r-ollama"},
    {CHAT_FAMILY_GEMMA3_OLLAMA, "gemma3-ollama"},
};

// Other names users type for a family (ollama's and llama.cpp's spellings).
// An ollama template name (template/NAME.gotmpl in ollama) selects the family
// that renders exactly what ollama renders for it: for llama2-chat and
// gemma3-instruct that is the -ollama variant, not the model's real template.
// ollama's "command-r" clashes with our name for Cohere's real template,
// which keeps it; ollama's rendering is "command-r-ollama".
static const struct family_name family_aliases[] = {
    {CHAT_FAMILY_QWEN2_5, "qwen2"},
    {CHAT_FAMILY_QWEN2_5, "qwen"},
    {CHAT_FAMILY_MISTRAL_V3_TEKKEN, "mistral-nemo"},
    {CHAT_FAMILY_MISTRAL_V3, "mistral-instruct"},
    {CHAT_FAMILY_MISTRAL_V3, "mistral"},
    {CHAT_FAMILY_GEMMA, "gemma2"},
    {CHAT_FAMILY_GEMMA, "gemma-instruct"},
    {CHAT_FAMILY_GEMMA3_OLLAMA, "gemma3-instruct"},
    {CHAT_FAMILY_LLAMA3, "llama3-instruct"},
    {CHAT_FAMILY_LLAMA3_1, "llama3.3"},
    {CHAT_FAMILY_LLAMA2_OLLAMA, "llama2-chat"},
    {CHAT_FAMILY_PHI3, "phi-3"},
    {CHAT_FAMILY_PHI4, "phi-4"},
    {CHAT_FAMILY_DEEPSEEK3, "deepseek3"},
    {CHAT_FAMILY_DEEPSEEK3_1, "deepseek3.1"},
    {CHAT_FAMILY_GRANITE_CODE, "granite-instruct"},
    {CHAT_FAMILY_FALCON, "falcon-instruct"},
    {CHAT_FAMILY_STARCODER2, "starcoder2-instruct"},
    {CHAT_FAMILY_CODELLAMA70B, "codellama-70b-instruct"},
    {CHAT_FAMILY_SOLAR, "solar-instruct"},
};

#define N_NAMES   (sizeof family_names / sizeof family_names[0])
#define N_ALIASES (sizeof family_aliases / sizeof family_aliases[0])

const char *chat_family_name(chat_family f)
{
    for (size_t i = 0; i < N_NAMES; i++)
        if (family_names[i].family == f) return family_names[i].name;
    return "unknown";
}

chat_family chat_family_from_name(const char *name)
{
    if (!name) return CHAT_FAMILY_UNKNOWN;
    for (size_t i = 0; i < N_NAMES; i++)
        if (strcmp(family_names[i].name, name) == 0) return family_names[i].family;
    for (size_t i = 0; i < N_ALIASES; i++)
        if (strcmp(family_aliases[i].name, name) == 0) return family_aliases[i].family;
    return CHAT_FAMILY_UNKNOWN;
}

const char *chat_family_list(void)
{
    static char list[2048];
    if (!list[0]) {
        size_t off = 0;
        for (size_t i = 0; i < N_NAMES && off < sizeof list; i++)
            off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "",
                                    family_names[i].name);
    }
    return list;
}

bool chat_family_keeps_system(chat_family f)
{
    return f != CHAT_FAMILY_PHI3_MINI;
}

const char *chat_family_turn_end(chat_family f, const char *eos)
{
    switch (f) {
    case CHAT_FAMILY_CHATML:
    case CHAT_FAMILY_CHATML_DEFSYS:
    case CHAT_FAMILY_QWEN2_5:
    case CHAT_FAMILY_QWEN3:
    case CHAT_FAMILY_QWQ:
    case CHAT_FAMILY_SMOLLM3:
    case CHAT_FAMILY_PHI4:
        return "<|im_end|>";
    case CHAT_FAMILY_LLAMA3:
    case CHAT_FAMILY_LLAMA3_1:
    case CHAT_FAMILY_LLAMA3_2:
        return "<|eot_id|>";
    case CHAT_FAMILY_LLAMA4:
        return "<|eot|>";
    case CHAT_FAMILY_GEMMA:
    case CHAT_FAMILY_GEMMA3:
    case CHAT_FAMILY_GEMMA3_OLLAMA:
        return "<end_of_turn>";
    case CHAT_FAMILY_PHI3:
    case CHAT_FAMILY_PHI3_MINI:
        return "<|end|>";
    case CHAT_FAMILY_DEEPSEEK:
        return "<|EOT|>";
    case CHAT_FAMILY_DEEPSEEK3:
    case CHAT_FAMILY_DEEPSEEK3_1:
    case CHAT_FAMILY_DEEPSEEK_R1:
    case CHAT_FAMILY_DEEPSEEK_R1_TOGGLE:
        return "<｜end▁of▁sentence｜>";
    case CHAT_FAMILY_COMMAND_R:
    case CHAT_FAMILY_COMMAND_R_OLLAMA:
        return "<|END_OF_TURN_TOKEN|>";
    case CHAT_FAMILY_GRANITE:
        return "<|end_of_text|>";
    case CHAT_FAMILY_OPENCHAT:
        return "<|end_of_turn|>";
    case CHAT_FAMILY_CODELLAMA70B:
        return "<step>";
    case CHAT_FAMILY_ALFRED:
        return "<end_message>";
    case CHAT_FAMILY_EXAONE3:
    case CHAT_FAMILY_EXAONE4:
        return "[|endofturn|]";
    case CHAT_FAMILY_MEGREZ:
        return "<|turn_end|>";
    case CHAT_FAMILY_SMOLVLM:
        return "<end_of_utterance>";
    case CHAT_FAMILY_DOTS1:
        return "<|endofresponse|>";
    case CHAT_FAMILY_RWKV_WORLD:
        return "\n\n";
    // GLM models answer until the next role header.
    case CHAT_FAMILY_CHATGLM3:
    case CHAT_FAMILY_CHATGLM4:
    case CHAT_FAMILY_GLMEDGE:
        return "<|user|>";
    // These write a literal </s> after answers.
    case CHAT_FAMILY_VICUNA:
    case CHAT_FAMILY_VICUNA_ORCA:
    case CHAT_FAMILY_MONARCH:
    case CHAT_FAMILY_ORION:
    case CHAT_FAMILY_MISTRAL_V1:
    case CHAT_FAMILY_MISTRAL_V3:
    case CHAT_FAMILY_MISTRAL_V7:
    case CHAT_FAMILY_LLAMA2_OLLAMA:
        return "</s>";
    default:
        return eos && *eos ? eos : NULL;
    }
}

chat_options chat_default_options(void)
{
    return (chat_options){.add_generation_prompt = true, .enable_thinking = -1};
}

static bool has(const char *t, const char *s)
{
    return strstr(t, s) != NULL;
}

// ChatML templates differ in what they add around the turns; the telling
// substrings below come from the real templates (Qwen2.5, Qwen3, QwQ,
// SmolLM3, Phi-4, SmolVLM).
static chat_family detect_chatml(const char *t)
{
    if (has(t, "<|im_sep|>")) return CHAT_FAMILY_PHI4;
    if (has(t, "<end_of_utterance>")) return CHAT_FAMILY_SMOLVLM;
    if (has(t, "Reasoning Mode") && has(t, "/no_think")) return CHAT_FAMILY_SMOLLM3;
    if (has(t, "reasoning_content") && has(t, "enable_thinking")) return CHAT_FAMILY_QWEN3;
    if (has(t, "'<|im_start|>assistant\\n<think>\\n'")) return CHAT_FAMILY_QWQ;
    if (has(t, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."))
        return CHAT_FAMILY_QWEN2_5;
    char *def = chat_template_default_system(t, 1);
    if (def) {
        free(def);
        return CHAT_FAMILY_CHATML_DEFSYS;
    }
    return CHAT_FAMILY_CHATML;
}

static chat_family detect_mistral_or_llama2(const char *t)
{
    if (has(t, "[SYSTEM_PROMPT]"))
        return has(t, "'[INST] '") || has(t, "\"[INST] \"") ? CHAT_FAMILY_MISTRAL_V7
                                                            : CHAT_FAMILY_MISTRAL_V7_TEKKEN;
    // The official Mistral v1, v3 and v3-tekken templates (Mistral cookbook).
    if (has(t, "' [INST] ' + system_message") || has(t, "[AVAILABLE_TOOLS]")) {
        if (has(t, " [INST]")) return CHAT_FAMILY_MISTRAL_V1;
        if (has(t, "\"[INST]\"")) return CHAT_FAMILY_MISTRAL_V3_TEKKEN;
        return CHAT_FAMILY_MISTRAL_V3;
    }
    // Llama 2 chat and the Mistral v0.1/v0.2 templates that copy its turns.
    if (has(t, "<<SYS>>")) return CHAT_FAMILY_LLAMA2;
    // Mistral-7B-Instruct v0.1/v0.2: "[INST] " + content + " [/INST]".
    if (has(t, "'[INST] ' + message['content'] + ' [/INST]'")) return CHAT_FAMILY_MISTRAL_V0;
    return CHAT_FAMILY_UNKNOWN;
}

static chat_family detect_deepseek(const char *t)
{
    if (has(t, "set thinking") || has(t, "<think></think>")) return CHAT_FAMILY_DEEPSEEK3_1;
    if (has(t, "<｜Assistant｜><think>\\n"))
        return has(t, "enable_thinking") ? CHAT_FAMILY_DEEPSEEK_R1_TOGGLE : CHAT_FAMILY_DEEPSEEK_R1;
    return CHAT_FAMILY_DEEPSEEK3;
}

chat_family chat_family_detect(const char *t)
{
    if (!t) return CHAT_FAMILY_UNKNOWN;
    chat_family named = chat_family_from_name(t);
    if (named != CHAT_FAMILY_UNKNOWN) return named;

    // The order matters: several families share markers, and the checks run
    // from the most telling to the least, as in llama.cpp's detector.
    if (has(t, "<|im_start|>")) return detect_chatml(t);
    if (strncmp(t, "mistral", 7) == 0 || has(t, "[INST]")) return detect_mistral_or_llama2(t);
    if (has(t, "<|assistant|>") && has(t, "<|end|>"))
        return has(t, "+ '<|assistant|>' +") ? CHAT_FAMILY_PHI3_MINI : CHAT_FAMILY_PHI3;
    if (has(t, "[gMASK]<sop>")) return CHAT_FAMILY_CHATGLM4;
    if (has(t, "<|assistant|>") && has(t, "<|user|>")) {
        // Zephyr prints eos_token after each turn; Falcon 3 writes </s>.
        if (has(t, "eos_token") && !has(t, "</s>")) return CHAT_FAMILY_ZEPHYR;
        return has(t, "</s>") ? CHAT_FAMILY_FALCON3 : CHAT_FAMILY_GLMEDGE;
    }
    if (has(t, "<|{{ item['role'] }}|>") && has(t, "<|begin_of_image|>"))
        return CHAT_FAMILY_GLMEDGE;
    if (has(t, "<|user|>") && has(t, "<|endoftext|>")) return CHAT_FAMILY_ZEPHYR;
    if (has(t, "bos_token + message['role']")) return CHAT_FAMILY_MONARCH;
    if (has(t, "<start_of_turn>"))
        return has(t, "first_user_prefix") ? CHAT_FAMILY_GEMMA3 : CHAT_FAMILY_GEMMA;
    if (has(t, "'\\n\\nAssistant: ' + eos_token")) return CHAT_FAMILY_ORION;
    if (has(t, "GPT4 Correct ")) return CHAT_FAMILY_OPENCHAT;
    if (has(t, "USER: ") && has(t, "ASSISTANT: "))
        return has(t, "SYSTEM: ") ? CHAT_FAMILY_VICUNA_ORCA : CHAT_FAMILY_VICUNA;
    if (has(t, "### Instruction:") && has(t, "<|EOT|>")) return CHAT_FAMILY_DEEPSEEK;
    if (has(t, "<|START_OF_TURN_TOKEN|>") && has(t, "<|USER_TOKEN|>")) return CHAT_FAMILY_COMMAND_R;
    if (has(t, "<|start_header_id|>") && has(t, "<|end_header_id|>")) {
        if (!has(t, "Cutting Knowledge Date")) return CHAT_FAMILY_LLAMA3;
        return has(t, "strftime_now") ? CHAT_FAMILY_LLAMA3_2 : CHAT_FAMILY_LLAMA3_1;
    }
    if (has(t, "[gMASK]sop")) return CHAT_FAMILY_CHATGLM3;
    if (has(t, "<用户>")) return CHAT_FAMILY_MINICPM;
    if (has(t, "'Assistant: ' + message['content'] + eos_token")) return CHAT_FAMILY_DEEPSEEK2;
    if (has(t, "<｜Assistant｜>") && has(t, "<｜User｜>") && has(t, "<｜end▁of▁sentence｜>"))
        return detect_deepseek(t);
    if (has(t, "[|system|]") && has(t, "[|assistant|]") && has(t, "[|endofturn|]"))
        return has(t, "[|tool|]") ? CHAT_FAMILY_EXAONE4 : CHAT_FAMILY_EXAONE3;
    if (has(t, "rwkv-world") || has(t, "{{- 'User: ' + message['content']|trim + '\\n\\n' -}}"))
        return CHAT_FAMILY_RWKV_WORLD;
    if (has(t, "<|start_of_role|>")) return CHAT_FAMILY_GRANITE;
    if (has(t, "<|role_start|>")) return CHAT_FAMILY_MEGREZ;
    if (has(t, "<role>ASSISTANT</role>") && has(t, "'HUMAN'")) return CHAT_FAMILY_BAILING;
    if (has(t, "<|header_start|>") && has(t, "<|header_end|>")) return CHAT_FAMILY_LLAMA4;
    if (has(t, "<|endofuserprompt|>")) return CHAT_FAMILY_DOTS1;
    // Families llama.cpp does not detect; their markers are ollama's and the
    // HF templates' (see tests/test_chat_template.c).
    if (has(t, "<start_user>") && has(t, "<start_assistant>")) return CHAT_FAMILY_ALFRED;
    if (has(t, "Source: assistant") && has(t, "<step>")) return CHAT_FAMILY_CODELLAMA70B;
    if (has(t, "@@ Instruction")) return CHAT_FAMILY_MAGICODER;
    if (has(t, "### Instruction\\n") || has(t, "### Instruction\n")) return CHAT_FAMILY_STARCODER2;
    if (has(t, "### User:") && has(t, "### Assistant:")) return CHAT_FAMILY_SOLAR;
    if (has(t, "Question:") && has(t, "Answer:")) return CHAT_FAMILY_GRANITE_CODE;
    if (has(t, "Falcon:")) return CHAT_FAMILY_FALCON;
    if (has(t, "User: ") && has(t, "Assistant:")) return CHAT_FAMILY_CHATQA;
    if (has(t, "### Instruction:") && has(t, "### Response:")) return CHAT_FAMILY_ALPACA;
    return CHAT_FAMILY_UNKNOWN;
}

const char *chat_template_family_name(const char *template_text)
{
    if (!template_text) return "none";
    return chat_family_name(chat_family_detect(template_text));
}

// ---- default system prompts written in the template text ----

// Parses one Jinja string literal at *p ('...' or "..."), appending its value
// to buf; returns false when *p is not a literal. Escapes as Python's.
static bool parse_literal(const char **p, char **buf, size_t *len, size_t *cap)
{
    const char *s = *p;
    char q = *s;
    if (q != '\'' && q != '"') return false;
    s++;
    while (*s && *s != q) {
        char c = *s++;
        if (c == '\\' && *s) {
            char e = *s++;
            switch (e) {
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case 'r':
                c = '\r';
                break;
            default:
                c = e;
                break; // \\, \', \"
            }
        }
        if (*len + 2 > *cap) {
            size_t ncap = *cap ? *cap * 2 : 256;
            char *nb = realloc(*buf, ncap);
            if (!nb) return false;
            *buf = nb;
            *cap = ncap;
        }
        (*buf)[(*len)++] = c;
        (*buf)[*len] = '\0';
    }
    if (*s != q) return false;
    *p = s + 1;
    return true;
}

static const char *skip_space(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n')
        s++;
    return s;
}

// Reads an expression of string literals joined by '+', where the name
// `today` stands for the date (Mistral Small). Returns NULL when the
// expression holds anything else (a variable, a filter).
static char *parse_concat(const char *s, time_t now)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        s = skip_space(s);
        if (strncmp(s, "today", 5) == 0) {
            char date[32];
            struct tm tm;
            time_t t = now ? now : time(NULL);
            localtime_r(&t, &tm);
            strftime(date, sizeof date, "%Y-%m-%d", &tm);
            for (const char *d = date; *d; d++) {
                if (len + 2 > cap) {
                    size_t ncap = cap ? cap * 2 : 256;
                    char *nb = realloc(buf, ncap);
                    if (!nb) goto fail;
                    buf = nb;
                    cap = ncap;
                }
                buf[len++] = *d;
                buf[len] = '\0';
            }
            s += 5;
        } else if (!parse_literal(&s, &buf, &len, &cap)) {
            goto fail;
        }
        s = skip_space(s);
        if (*s != '+') break;
        s++;
    }
    if (strncmp(s, "%}", 2) != 0 && strncmp(s, "-%}", 3) != 0 && strncmp(s, "}}", 2) != 0 &&
        strncmp(s, "-}}", 3) != 0)
        goto fail;
    if (!buf) buf = calloc(1, 1);
    return buf;
fail:
    free(buf);
    return NULL;
}

char *chat_template_default_system(const char *t, time_t now)
{
    if (!t) return NULL;
    // Mistral Small: {%- set default_system_message = "..." + today + "..." %}
    // Qwen1.5, DBRX: {% else %}{% set system_message = 'You are ...' %}
    static const char *const sets[] = {"set default_system_message =", "set system_message ="};
    const char *p;
    for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++)
        for (p = strstr(t, sets[k]); p; p = strstr(p + 1, sets[k])) {
            char *def = parse_concat(p + strlen(sets[k]), now);
            if (def) return def;
        }

    // ChatML with a default: the branch taken when messages[0] is not a
    // system message writes a literal system turn, e.g. Qwen2's
    //   {{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}
    // The opener may spell the newline as \n or write it literally.
    static const char *const openers[] = {"'<|im_start|>system\\n", "\"<|im_start|>system\\n",
                                          "'<|im_start|>system\n", "\"<|im_start|>system\n"};
    for (size_t k = 0; k < sizeof openers / sizeof openers[0]; k++) {
        for (p = strstr(t, openers[k]); p; p = strstr(p + 1, openers[k])) {
            const char *lit = p;
            char *buf = NULL;
            size_t len = 0, cap = 0;
            if (!parse_literal(&lit, &buf, &len, &cap)) {
                free(buf);
                continue;
            }
            // A literal holding the whole turn: system\n<text><|im_end|>\n
            const char *body = buf ? buf + strlen("<|im_start|>system\n") : NULL;
            const char *end = body ? strstr(body, "<|im_end|>") : NULL;
            if (end && end > body) {
                char *def = strndup(body, (size_t)(end - body));
                free(buf);
                return def;
            }
            free(buf);
        }
    }
    return NULL;
}
