#ifndef RS_CLI_CHAT_SESSION_H
#define RS_CLI_CHAT_SESSION_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "engine/sampler.h"
#include "tok/chat_template.h"
#include "tok/tokenizer.h"
#include "util/error.h"

// A multi-turn conversation over one loaded engine: the messages, rendered
// with the model's chat template each turn, and the tokens the KV cache
// holds. Each turn renders the whole conversation again, tokenizes it, and
// prefills only what differs from the cached tokens (engine_rewind to the
// common prefix), so a turn costs its new text, not the whole history.
// When the conversation outgrows the context, the oldest turns are dropped
// (the system prompt stays) and the caller is told.

typedef struct chat_msg {
    char *role;
    char *content;
} chat_msg;

// Figures of the last turn and of the whole session, for /stats.
typedef struct chat_stats {
    int64_t prompt_tokens;  // the rendered conversation, last turn
    int64_t reused_tokens;  // of which already in the KV cache
    int64_t prefill_tokens; // run through the engine (prompt - reused)
    double prefill_s;
    int64_t gen_tokens;     // answer tokens, last turn
    int64_t decoded_tokens; // of which through engine_decode (the first comes from the prefill)
    double decode_s;        // the answer's wall time after the prefill
    int64_t total_prefill_tokens, total_gen_tokens;
    double total_prefill_s, total_decode_s;
    int64_t total_decoded; // tokens through engine_decode, for the overall decode rate
    int64_t dropped_turns; // turns dropped for the context, whole session
} chat_stats;

// Where the answer goes, piece by piece (valid UTF-8 pieces; the caller
// writes and flushes), and where notices go (one line each, no newline).
typedef void (*chat_emit_fn)(void *ctx, const char *text, size_t len);
typedef void (*chat_notice_fn)(void *ctx, const char *line);

typedef struct chat_session {
    engine *e;
    tokenizer *tok;
    chat_family family;
    chat_options copts;          // bos/eos text, default system, thinking switch
    char *default_system;        // owned, referenced by copts
    char *bos_token, *eos_token; // owned copies
    char *system;                // NULL: none (the template's default, if any, applies)
    chat_msg *msgs;              // (n_msgs) user/assistant turns, oldest first
    size_t n_msgs, cap_msgs;
    int32_t *cached; // (n_cached) the tokens in the KV cache, in order
    int64_t n_cached, cap_cached;
    int32_t stop_token; // the turn-end text as one token, -1 when it is none
    char *stop_text;    // the turn-end text when it is not one token (stop string)
    int64_t max_tokens; // answer length cap; 0: until the context is full
    sampler smp;
    chat_stats stats;
    chat_emit_fn emit;
    chat_notice_fn notice;
    void *cb_ctx;
} chat_session;

typedef struct chat_session_config {
    chat_family family;
    const char *default_system; // from chat_template_resolve (may be NULL)
    const char *bos_token;      // chat_template_info's (may be NULL)
    const char *eos_token;
    int enable_thinking; // -1: the template's default
    sampler_params sampling;
    int64_t max_tokens;
    chat_emit_fn emit;
    chat_notice_fn notice;
    void *cb_ctx;
} chat_session_config;

// The session borrows e and tok (they must outlive it).
rs_status chat_session_init(chat_session *s, engine *e, tokenizer *tok,
                            const chat_session_config *cfg, rs_error *err);
void chat_session_free(chat_session *s);

// Sets (text non-NULL) or clears the system prompt; the conversation stays.
rs_status chat_session_set_system(chat_session *s, const char *text, rs_error *err);
// Forgets every turn (the system prompt stays); the KV cache is reused for
// what still matches at the next turn.
void chat_session_reset(chat_session *s);

// Why an answer ended.
typedef enum chat_stop {
    CHAT_STOP_END,         // the model ended its turn
    CHAT_STOP_INTERRUPTED, // *interrupt became nonzero (Ctrl-C)
    CHAT_STOP_LENGTH,      // max_tokens
    CHAT_STOP_CONTEXT,     // the context is full
} chat_stop;

// One turn: adds the user's text, renders, trims the oldest turns if the
// context would overflow, prefills what the cache lacks, streams the answer
// through emit and keeps it as the assistant's message. *interrupt is
// checked before every token. RS_ERR_INPUT for a message that cannot fit
// the context even alone (the message is dropped, the session stays usable).
rs_status chat_session_reply(chat_session *s, const char *user_text,
                             volatile sig_atomic_t *interrupt, chat_stop *why, rs_error *err);

// The longest common prefix of two token lists.
int64_t chat_common_prefix(const int32_t *a, int64_t na, const int32_t *b, int64_t nb);
// Length of the longest suffix of text[0, len) that is a proper prefix of
// stop (the bytes to hold back while streaming, as they may begin the stop
// string).
size_t chat_stop_holdback(const char *text, size_t len, const char *stop);

#endif
