#ifndef RS_TOK_CHAT_TEMPLATE_H
#define RS_TOK_CHAT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util/error.h"

// Chat templates, rendered in C.
//
// A model's chat template (Jinja text in tokenizer_config.json or GGUF
// metadata) is recognised as one of the families below from telling
// substrings, as llama.cpp's llm_chat_detect_template does, and the family is
// rendered by a small C function that produces exactly what the real Jinja
// template renders (checked against transformers' apply_chat_template in
// tests/fixtures/chat/ and against ollama's expected prompts). Unknown
// templates are never guessed: callers warn and ask for --chat-template NAME.

typedef enum chat_family {
    CHAT_FAMILY_UNKNOWN = 0,
    CHAT_FAMILY_CHATML,        // <|im_start|>role\n...<|im_end|>\n
    CHAT_FAMILY_CHATML_DEFSYS, // ChatML + the template's own default system prompt (Qwen2, DBRX)
    CHAT_FAMILY_QWEN2_5,       // ChatML + "You are Qwen, created by Alibaba Cloud..." default
    CHAT_FAMILY_QWEN3,         // ChatML + <think> handling, enable_thinking
    CHAT_FAMILY_QWQ,           // QwQ-32B: generation prompt opens <think>
    CHAT_FAMILY_SMOLLM3,       // SmolLM3: metadata system block, /think and /no_think
    CHAT_FAMILY_LLAMA3,        // Llama 3: headers, content trimmed
    CHAT_FAMILY_LLAMA3_1,      // Llama 3.1/3.3: system block with knowledge and fixed date
    CHAT_FAMILY_LLAMA3_2,      // Llama 3.2: the same with today's date
    CHAT_FAMILY_LLAMA2,        // Llama 2 chat: [INST] <<SYS>> ... [/INST]
    CHAT_FAMILY_MISTRAL_V0,    // Mistral-7B-Instruct v0.1: "[INST] q [/INST]a</s>", no system
    CHAT_FAMILY_MISTRAL_V1,    // " [INST] " with spaces (Mistral cookbook v1)
    CHAT_FAMILY_MISTRAL_V3,    // "[INST] ...[/INST] answer</s>" (v3, ollama mistral-instruct)
    CHAT_FAMILY_MISTRAL_V3_TEKKEN, // Mistral Nemo: no spaces, system joins the last user turn
    CHAT_FAMILY_MISTRAL_V7,        // [SYSTEM_PROMPT] with spaces
    CHAT_FAMILY_MISTRAL_V7_TEKKEN, // Mistral Small 3.x: [SYSTEM_PROMPT] without spaces
    CHAT_FAMILY_GEMMA,       // Gemma/Gemma 2: <start_of_turn>, system joins the first user turn
    CHAT_FAMILY_GEMMA3,      // Gemma 3: the same with "\n\n" after the system text
    CHAT_FAMILY_PHI3,        // <|user|>\n...<|end|>\n
    CHAT_FAMILY_PHI3_MINI,   // Phi-3 mini: bos, no system turn, <|assistant|> after each user turn
    CHAT_FAMILY_PHI4,        // <|im_start|>role<|im_sep|>...
    CHAT_FAMILY_DEEPSEEK,    // DeepSeek Coder: ### Instruction: / ### Response: / <|EOT|>
    CHAT_FAMILY_DEEPSEEK2,   // DeepSeek V2: User: / Assistant:
    CHAT_FAMILY_DEEPSEEK3,   // DeepSeek V3: <｜User｜> <｜Assistant｜>
    CHAT_FAMILY_DEEPSEEK3_1, // DeepSeek V3.1: <think></think> markers, thinking switch
    CHAT_FAMILY_DEEPSEEK_R1, // DeepSeek R1 (distills): generation prompt opens <think>
    CHAT_FAMILY_DEEPSEEK_R1_TOGGLE, // R1 template with the enable_thinking switch
    CHAT_FAMILY_ZEPHYR,             // <|user|>\n...eos\n
    CHAT_FAMILY_VICUNA,             // USER: / ASSISTANT:
    CHAT_FAMILY_VICUNA_ORCA,        // the same with SYSTEM:
    CHAT_FAMILY_ALPACA,             // ### Instruction: / ### Response:
    CHAT_FAMILY_COMMAND_R,          // <|START_OF_TURN_TOKEN|>
    CHAT_FAMILY_GRANITE,            // Granite 3: <|start_of_role|>
    CHAT_FAMILY_GRANITE_CODE,       // Granite code instruct: Question: / Answer:
    CHAT_FAMILY_FALCON,             // Falcon instruct: User: / Falcon:
    CHAT_FAMILY_FALCON3,            // Falcon 3: <|user|>\n...\n
    CHAT_FAMILY_OPENCHAT,           // GPT4 Correct User:
    CHAT_FAMILY_CHATQA,             // System: / User: / Assistant:
    CHAT_FAMILY_STARCODER2,         // ### Instruction / ### Response
    CHAT_FAMILY_MAGICODER,          // @@ Instruction / @@ Response
    CHAT_FAMILY_CODELLAMA70B,       // Source: role ... <step>
    CHAT_FAMILY_SOLAR,              // ### System: / ### User: / ### Assistant:
    CHAT_FAMILY_ALFRED,             // <start_user>...<end_message>
    CHAT_FAMILY_MONARCH,            // role\ncontent</s>\n with <s> inside history
    CHAT_FAMILY_ORION,              // Human: / Assistant: </s>
    CHAT_FAMILY_CHATGLM3,           // [gMASK]sop<|user|>\n ...
    CHAT_FAMILY_CHATGLM4,           // [gMASK]<sop><|user|>\n...
    CHAT_FAMILY_GLMEDGE,            // <|user|>\n...<|assistant|>
    CHAT_FAMILY_MINICPM,            // <用户>...<AI>
    CHAT_FAMILY_EXAONE3,            // [|system|]...[|endofturn|]
    CHAT_FAMILY_EXAONE4,            // EXAONE 4 (adds [|tool|])
    CHAT_FAMILY_RWKV_WORLD,         // User: / Assistant: with "\n\n" turns
    CHAT_FAMILY_MEGREZ,             // <|role_start|>...<|role_end|>...<|turn_end|>
    CHAT_FAMILY_LLAMA4,             // <|header_start|>...<|header_end|>...<|eot|>
    CHAT_FAMILY_SMOLVLM,            // <|im_start|>User: ...<end_of_utterance>
    CHAT_FAMILY_BAILING,            // <role>HUMAN</role>
    CHAT_FAMILY_DOTS1,              // <|userprompt|>...<|endofuserprompt|>
    // What ollama's own Go templates render where they differ from the
    // model's real template (for prompts identical to ollama's). Chosen by
    // name only (--chat-template llama2-ollama; ollama's names llama2-chat
    // and gemma3-instruct are aliases), never detected from a template text.
    CHAT_FAMILY_LLAMA2_OLLAMA,    // ollama llama2-chat: <<SYS>><</SYS>> in every user turn
    CHAT_FAMILY_COMMAND_R_OLLAMA, // ollama command-r: last turn closed twice, final newline
    CHAT_FAMILY_GEMMA3_OLLAMA,    // ollama gemma3-instruct: newline after the generation prompt
    CHAT_FAMILY_COUNT,
} chat_family;

typedef struct chat_message {
    const char *role; // "system", "user" or "assistant"
    const char *content;
} chat_message;

typedef struct chat_options {
    bool add_generation_prompt; // end with the assistant's turn header (default true)
    int enable_thinking;        // -1: not given (the template's default), 0: off, 1: on
    // Special-token text read from the model's files by the caller ("" or
    // NULL: none). Templates that print bos_token or eos_token print these.
    const char *bos_token;
    const char *eos_token;
    // The system prompt used when the conversation has none, for families
    // whose template inserts one. NULL: the family's built-in default, which
    // for some families (CHATML_DEFSYS, MISTRAL_V7_TEKKEN) only the template
    // text knows: see chat_template_default_system().
    const char *default_system;
    // "Today" for templates that print the date (Llama 3.2, Mistral Small).
    // 0: the current time.
    time_t now;
} chat_options;

chat_options chat_default_options(void);

// The family of a template text, detected from telling substrings;
// CHAT_FAMILY_UNKNOWN for unrecognised text. A text that is exactly a family
// name (e.g. "chatml") is that family.
chat_family chat_family_detect(const char *template_text);
// "unknown" for unrecognised text, "none" for NULL.
const char *chat_template_family_name(const char *template_text);
const char *chat_family_name(chat_family f);
// Family from its name (also accepts aliases such as "mistral-nemo",
// "qwen2", "gemma2" and ollama's template names: each ollama name renders what
// ollama renders, except "command-r", which is our name for Cohere's real
// template; ollama's is "command-r-ollama"; see docs/chat-templates.md);
// CHAT_FAMILY_UNKNOWN when the name is not known.
chat_family chat_family_from_name(const char *name);
// All family names, comma separated, for usage messages.
const char *chat_family_list(void);
// False for families whose template drops system messages without a word
// (Phi-3 mini), so that callers can warn.
bool chat_family_keeps_system(chat_family f);

// The default system prompt written in the template text itself (Qwen2's
// "You are a helpful assistant.", Mistral Small's long prompt with today's
// date), or NULL when the text has none. Caller frees.
char *chat_template_default_system(const char *template_text, time_t now);

// The text that ends an assistant turn in family f: generation stops when
// the model emits it (the token for "<|eot_id|>", "<|im_end|>", ...), which
// is not always the tokenizer's eos (Llama 3's is <|end_of_text|>). Families
// that end answers with eos_token return eos_token; NULL when neither.
const char *chat_family_turn_end(chat_family f, const char *eos_token);

// Renders msgs with family f into *out (NUL-terminated, caller frees).
// Tokenize the result with special tokens parsed and without adding BOS: the
// template writes bos_token where the model wants it, as transformers'
// apply_chat_template(tokenize=True) assumes. A chat that re-renders the
// whole conversation each turn must compare tokens to reuse its KV cache:
// some templates rewrite history (Qwen3 drops earlier reasoning).
// Fails with RS_ERR_INPUT for an unknown role, for a conversation the
// template itself rejects (roles that must alternate), or for a family
// that needs a default system prompt nobody supplied.
rs_status chat_render(chat_family f, const chat_message *msgs, size_t n, const chat_options *opts,
                      char **out, rs_error *err);

// The chat template of a model and the special tokens it prints.
typedef struct chat_template_info {
    char *text;      // the Jinja text (NULL when the model has none)
    char *source;    // where it was read: "dir/tokenizer_config.json", "file.gguf", ...
    char *bos_token; // from tokenizer_config.json or the GGUF vocabulary; NULL if none
    char *eos_token;
} chat_template_info;

// Reads the template for a model path: an HF folder (tokenizer_config.json
// "chat_template", a string or a list of {name, template} of which "default"
// is taken; else chat_template.jinja), a GGUF file (tokenizer.chat_template),
// or a .jinja file. A model without a template is not an error: text is NULL.
rs_status chat_template_load(const char *path, chat_template_info *out, rs_error *err);
void chat_template_info_free(chat_template_info *info);

// Picks the family to render a model's conversations with: `override` (a
// family name or a template file, from --chat-template) when not NULL, else
// the family detected from info->text. A model without a template, or with
// one no family matches, is an RS_ERR_INPUT error whose message asks for
// --chat-template NAME: rightsize never guesses a format. *default_system
// (caller frees; NULL when none) is the default system prompt written in the
// template text; put it in chat_options.default_system.
rs_status chat_template_resolve(const chat_template_info *info, const char *override,
                                chat_family *family, char **default_system, rs_error *err);

#endif
