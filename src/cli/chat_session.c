#include "cli/chat_session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

int64_t chat_common_prefix(const int32_t *a, int64_t na, const int32_t *b, int64_t nb)
{
    int64_t n = na < nb ? na : nb, i = 0;
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

size_t chat_stop_holdback(const char *text, size_t len, const char *stop)
{
    size_t sl = stop ? strlen(stop) : 0;
    if (sl < 2) return 0;
    size_t k = sl - 1 < len ? sl - 1 : len;
    for (; k > 0; k--)
        if (memcmp(text + len - k, stop, k) == 0) return k;
    return 0;
}

static void notice(chat_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void notice(chat_session *s, const char *fmt, ...)
{
    if (!s->notice) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->notice(s->cb_ctx, line);
}

rs_status chat_session_init(chat_session *s, engine *e, tokenizer *tok,
                            const chat_session_config *cfg, rs_error *err)
{
    memset(s, 0, sizeof *s);
    s->e = e;
    s->tok = tok;
    s->family = cfg->family;
    s->max_tokens = cfg->max_tokens;
    s->emit = cfg->emit;
    s->notice = cfg->notice;
    s->cb_ctx = cfg->cb_ctx;
    s->default_system = dup_or_null(cfg->default_system);
    s->bos_token = dup_or_null(cfg->bos_token);
    s->eos_token = dup_or_null(cfg->eos_token);
    s->copts = chat_default_options();
    s->copts.add_generation_prompt = true;
    s->copts.enable_thinking = cfg->enable_thinking;
    s->copts.bos_token = s->bos_token;
    s->copts.eos_token = s->eos_token;
    s->copts.default_system = s->default_system;
    // The text that ends an answer, from the template family (Llama 3:
    // <|eot_id|>, not its eos). One token in the vocabulary: stop on its id;
    // otherwise watch the text for it.
    s->stop_token = -1;
    const char *end = chat_family_turn_end(s->family, s->eos_token);
    if (end && *end) {
        s->stop_token = tokenizer_find(tok, end, strlen(end));
        if (s->stop_token < 0) s->stop_text = strdup(end);
    }
    s->cap_cached = engine_n_ctx(e) + 1;
    s->cached = malloc((size_t)s->cap_cached * sizeof *s->cached);
    if (!s->cached || (cfg->default_system && !s->default_system))
        return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
    s->n_cached = 0;
    engine_rewind(e, 0);
    return sampler_init(&s->smp, &cfg->sampling, engine_n_vocab(e), err);
}

static void drop_msgs(chat_session *s, size_t n)
{
    if (n > s->n_msgs) n = s->n_msgs;
    if (n == 0) return;
    for (size_t i = 0; i < n; i++) {
        free(s->msgs[i].role);
        free(s->msgs[i].content);
    }
    memmove(s->msgs, s->msgs + n, (s->n_msgs - n) * sizeof *s->msgs);
    s->n_msgs -= n;
}

void chat_session_free(chat_session *s)
{
    drop_msgs(s, s->n_msgs);
    free(s->msgs);
    free(s->cached);
    free(s->system);
    free(s->stop_text);
    free(s->default_system);
    free(s->bos_token);
    free(s->eos_token);
    sampler_free(&s->smp);
    memset(s, 0, sizeof *s);
}

rs_status chat_session_set_system(chat_session *s, const char *text, rs_error *err)
{
    char *copy = NULL;
    if (text && !(copy = strdup(text))) return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
    free(s->system);
    s->system = copy;
    return RS_OK;
}

void chat_session_reset(chat_session *s)
{
    drop_msgs(s, s->n_msgs);
}

static rs_status push_msg(chat_session *s, const char *role, const char *content, size_t len,
                          rs_error *err)
{
    if (s->n_msgs == s->cap_msgs) {
        size_t cap = s->cap_msgs ? s->cap_msgs * 2 : 16;
        chat_msg *m = realloc(s->msgs, cap * sizeof *m);
        if (!m) return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
        s->msgs = m;
        s->cap_msgs = cap;
    }
    chat_msg *m = &s->msgs[s->n_msgs];
    m->role = strdup(role);
    m->content = malloc(len + 1);
    if (!m->role || !m->content) {
        free(m->role);
        free(m->content);
        return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
    }
    memcpy(m->content, content, len);
    m->content[len] = 0;
    s->n_msgs++;
    return RS_OK;
}

// The conversation through the template, tokenized as transformers'
// apply_chat_template(tokenize=True) does: special tokens parsed, BOS only
// where the template did not write it.
static rs_status render_tokens(chat_session *s, int32_t **ids, int64_t *n, rs_error *err)
{
    chat_message *arr = malloc((s->n_msgs + 1) * sizeof *arr);
    if (!arr) return rs_fail(err, RS_ERR_RUNTIME, "out of memory");
    size_t k = 0;
    if (s->system) arr[k++] = (chat_message){"system", s->system};
    for (size_t i = 0; i < s->n_msgs; i++)
        arr[k++] = (chat_message){s->msgs[i].role, s->msgs[i].content};
    char *text = NULL;
    rs_status st = chat_render(s->family, arr, k, &s->copts, &text, err);
    free(arr);
    if (st != RS_OK) return st;
    bool has_bos =
        s->bos_token && *s->bos_token && strncmp(text, s->bos_token, strlen(s->bos_token)) == 0;
    bool add_special = !has_bos && tokenizer_add_bos(s->tok);
    st = tokenizer_encode(s->tok, text, strlen(text), add_special, true, ids, n, err);
    free(text);
    return st;
}

// Index just past the oldest turn (a user message and the answers after it)
// when it is not the last user message; 0 when there is nothing to drop.
static size_t oldest_turn_end(const chat_session *s)
{
    if (s->n_msgs < 2) return 0;
    size_t i = 1;
    while (i < s->n_msgs && strcmp(s->msgs[i].role, "user") != 0)
        i++;
    return i < s->n_msgs ? i : 0;
}

// Renders the conversation with the new user message, dropping the oldest
// turns until the prompt leaves room for an answer.
static rs_status fit_prompt(chat_session *s, int32_t **ids, int64_t *n, rs_error *err)
{
    int64_t n_ctx = engine_n_ctx(s->e);
    // Room kept for the answer: a quarter of the context, at most 512
    // tokens (or max_tokens when it is smaller).
    int64_t reserve = n_ctx / 4 < 512 ? n_ctx / 4 : 512;
    if (s->max_tokens > 0 && s->max_tokens < reserve) reserve = s->max_tokens;
    if (reserve < 1) reserve = 1;
    int dropped = 0;
    for (;;) {
        rs_status st = render_tokens(s, ids, n, err);
        if (st != RS_OK) return st;
        if (*n + reserve <= n_ctx) break;
        size_t cut = oldest_turn_end(s);
        if (cut == 0) {
            if (*n < n_ctx) break; // alone it fits, with less room to answer
            int64_t got = *n;
            free(*ids);
            *ids = NULL;
            return rs_fail(err, RS_ERR_INPUT,
                           "the message makes a prompt of %lld tokens; the context holds %lld "
                           "(--ctx)",
                           (long long)got, (long long)n_ctx);
        }
        free(*ids);
        *ids = NULL;
        drop_msgs(s, cut);
        dropped++;
    }
    if (dropped) {
        s->stats.dropped_turns += dropped;
        notice(s, "context full: dropped the oldest %s (%d); the prompt is now %lld of %lld tokens",
               dropped == 1 ? "turn" : "turns", dropped, (long long)*n, (long long)n_ctx);
    }
    return RS_OK;
}

typedef struct text_buf {
    char *p;
    size_t len, cap;
} text_buf;

static bool text_append(text_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) return false;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return true;
}

static void emit(chat_session *s, const char *p, size_t n)
{
    if (n && s->emit) s->emit(s->cb_ctx, p, n);
}

rs_status chat_session_reply(chat_session *s, const char *user_text,
                             volatile sig_atomic_t *interrupt, chat_stop *why, rs_error *err)
{
    *why = CHAT_STOP_END;
    rs_status st = push_msg(s, "user", user_text, strlen(user_text), err);
    if (st != RS_OK) return st;
    int32_t *ids = NULL;
    int64_t n = 0;
    if ((st = fit_prompt(s, &ids, &n, err)) != RS_OK) {
        // The session stays as it was before the message.
        free(s->msgs[s->n_msgs - 1].role);
        free(s->msgs[s->n_msgs - 1].content);
        s->n_msgs--;
        return st;
    }
    chat_stats *t = &s->stats;
    // Only what differs from the cache is run: the prefix is reused, and at
    // least the last token runs again for its logits.
    int64_t common = chat_common_prefix(s->cached, s->n_cached, ids, n);
    if (common >= n) common = n - 1;
    int64_t kept = engine_rewind(s->e, common);
    memcpy(s->cached, ids, (size_t)n * sizeof *ids);
    s->n_cached = kept; // until the prefill succeeds
    t->prompt_tokens = n;
    t->reused_tokens = kept;
    t->prefill_tokens = n - kept;
    double t0 = clock_now_s();
    st = engine_prefill(s->e, ids + kept, n - kept, NULL, err);
    free(ids);
    if (st != RS_OK) {
        s->n_cached = engine_pos(s->e);
        return st;
    }
    s->n_cached = n;
    t->prefill_s = clock_now_s() - t0;
    t->total_prefill_tokens += t->prefill_tokens;
    t->total_prefill_s += t->prefill_s;

    int64_t n_ctx = engine_n_ctx(s->e);
    tokenizer_decoder dec;
    tokenizer_decoder_init(&dec, s->tok,
                           TOKENIZER_DECODE_SKIP_SPECIAL | TOKENIZER_DECODE_STRIP_LEADING);
    text_buf text = {0};
    size_t shown = 0;       // bytes of text already emitted
    bool stop_seen = false; // the stop string ended the answer
    int64_t n_gen = 0, n_decoded = 0;
    double t1 = clock_now_s();
    for (;;) {
        if (interrupt && *interrupt) {
            *why = CHAT_STOP_INTERRUPTED;
            break;
        }
        if (s->max_tokens > 0 && n_gen >= s->max_tokens) {
            *why = CHAT_STOP_LENGTH;
            break;
        }
        int32_t next = sampler_sample(&s->smp, engine_logits(s->e), s->cached, s->n_cached);
        if (next == s->stop_token || tokenizer_is_eog(s->tok, next)) break;
        n_gen++;
        size_t len = 0;
        const char *piece = tokenizer_decoder_feed(&dec, next, &len);
        if (len && !text_append(&text, piece, len)) {
            st = rs_fail(err, RS_ERR_RUNTIME, "out of memory");
            break;
        }
        if (s->stop_text) {
            char *hit =
                text.len ? memmem(text.p, text.len, s->stop_text, strlen(s->stop_text)) : NULL;
            if (hit) {
                text.len = (size_t)(hit - text.p);
                text.p[text.len] = 0;
                stop_seen = true;
                break;
            }
            size_t hold = chat_stop_holdback(text.p, text.len, s->stop_text);
            emit(s, text.p + shown, text.len - hold - shown);
            shown = text.len - hold;
        } else {
            emit(s, text.p + shown, text.len - shown);
            shown = text.len;
        }
        if (s->n_cached >= n_ctx) {
            *why = CHAT_STOP_CONTEXT;
            break;
        }
        if ((st = engine_decode(s->e, next, err)) != RS_OK) break;
        s->cached[s->n_cached++] = next;
        n_decoded++;
    }
    t->decode_s = clock_now_s() - t1;
    if (!stop_seen) {
        size_t len = 0;
        const char *rest = tokenizer_decoder_flush(&dec, &len);
        if (len) text_append(&text, rest, len);
    }
    if (text.len > shown) emit(s, text.p + shown, text.len - shown);
    tokenizer_decoder_free(&dec);
    t->gen_tokens = n_gen;
    t->total_gen_tokens += n_gen;
    t->total_decode_s += t->decode_s;
    t->total_decoded += n_decoded;
    t->decoded_tokens = n_decoded;
    if (st == RS_OK) st = push_msg(s, "assistant", text.p ? text.p : "", text.len, err);
    free(text.p);
    return st;
}
