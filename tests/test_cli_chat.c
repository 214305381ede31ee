// The pieces of `chat` and `bench` that are logic rather than I/O: which
// plan a failed load falls back to, the stop-string hold-back while
// streaming, the token prefix shared with the KV cache, and a session on
// stories260K that trims its oldest turns when the context fills.
#include "testutil.h"

#include "cli/chat_session.h"
#include "cli/load_plan.h"
#include "model/model.h"

static void set_row(plan_result *r, int i, plan_precision_kind k, uint64_t weights, bool cand,
                    bool fits)
{
    r->rows[i].precision = plan_precision_of(k);
    r->rows[i].weights = weights;
    r->rows[i].candidate = cand;
    r->rows[i].layout.fits = fits;
}

// Rows as plan_fit lays them out: stored, fp32, bf16, fp16, int8, int4.
// After bf16 (stored) fails, the next is the largest smaller plan that fits
// (fp16 is not smaller; int8 is), then int4, then nothing.
static void test_next_row(void **state)
{
    (void)state;
    plan_result r;
    memset(&r, 0, sizeof r);
    r.n_rows = 6;
    set_row(&r, 0, PLAN_PREC_STORED, 1000, true, true);
    set_row(&r, 1, PLAN_PREC_F32, 2000, false, true);
    set_row(&r, 2, PLAN_PREC_BF16, 1000, true, true);
    set_row(&r, 3, PLAN_PREC_F16, 1000, true, true);
    set_row(&r, 4, PLAN_PREC_INT8, 530, true, true);
    set_row(&r, 5, PLAN_PREC_INT4, 350, true, true);
    assert_int_equal(load_plan_next_row(&r, 0, 0), 4);
    assert_int_equal(load_plan_next_row(&r, 4, 1u << 0), 5);
    assert_int_equal(load_plan_next_row(&r, 5, 1u << 0 | 1u << 4), -1);
    // A row that does not fit, or is not a candidate, is never taken.
    r.rows[4].layout.fits = false;
    assert_int_equal(load_plan_next_row(&r, 0, 0), 5);
    r.rows[5].candidate = false;
    assert_int_equal(load_plan_next_row(&r, 0, 0), -1);
    assert_int_equal(load_plan_next_row(&r, -1, 0), -1);
}

static void test_holdback(void **state)
{
    (void)state;
    const char *stop = "<|im_end|>";
    assert_int_equal(chat_stop_holdback("Paris.", 6, stop), 0);
    assert_int_equal(chat_stop_holdback("Paris.<", 7, stop), 1);
    assert_int_equal(chat_stop_holdback("Paris.<|im_", 11, stop), 5);
    // The whole stop string is found by the caller, not held.
    assert_int_equal(chat_stop_holdback("a<|im_end", 9, stop), 8);
    assert_int_equal(chat_stop_holdback("<", 1, stop), 1);
    assert_int_equal(chat_stop_holdback("x", 1, NULL), 0);
    assert_int_equal(chat_stop_holdback("x", 1, "x"), 0);
}

static void test_common_prefix(void **state)
{
    (void)state;
    int32_t a[] = {1, 2, 3, 4}, b[] = {1, 2, 9}, c[] = {1, 2, 3, 4, 5};
    assert_int_equal(chat_common_prefix(a, 4, b, 3), 2);
    assert_int_equal(chat_common_prefix(a, 4, c, 5), 4);
    assert_int_equal(chat_common_prefix(a, 0, c, 5), 0);
}

// A loader that runs out of memory at the stored precision (as a machine
// whose free memory shrank after planning would), and loads otherwise.
static int fake_calls;
static rs_status oom_when_stored(const model_desc *m, const engine_options *opt, engine **out,
                                 rs_error *err)
{
    fake_calls++;
    if (opt->precision.kind == PLAN_PREC_STORED)
        return rs_fail(err, RS_ERR_RUNTIME, "out of memory (test)");
    return engine_load(m, opt, out, err);
}

static rs_status oom_always(const model_desc *m, const engine_options *opt, engine **out,
                            rs_error *err)
{
    (void)m, (void)opt, (void)out;
    fake_calls++;
    return rs_fail(err, RS_ERR_RUNTIME, "out of memory (test)");
}

// The plan for stories260K picks its stored F32; when that load fails for
// memory, the next smaller plan that fits (bf16, half the bytes) loads
// instead. With nothing left, the error says so; with a forced precision,
// nothing else is tried; bad files are not retried.
static void test_fallback_load(void **state)
{
    (void)state;
    char path[4096];
    TESTDATA_PATH(path, "models/stories260K/stories260K.gguf");
    load_plan_request rq = {0};
    rq.cmd = "test";
    rq.model = path;
    rq.kv_type = DTYPE_F16;
    rq.n_ctx = 64;
    rq.n_threads = 1;
    rq.load = oom_when_stored;
    load_plan lp = {0};
    rs_error err = {0};
    assert_int_equal(load_plan_prepare(&rq, &lp, &err), RS_OK);
    assert_int_equal(lp.plan->rows[lp.row].precision.kind, PLAN_PREC_STORED);
    fake_calls = 0;
    assert_int_equal(load_plan_load(&rq, &lp, &err), RS_OK);
    assert_int_equal(fake_calls, 2);
    assert_int_equal(lp.plan->rows[lp.row].precision.kind, PLAN_PREC_BF16);
    assert_int_equal(engine_weight_type(lp.e), DTYPE_BF16);
    load_plan_free(&lp);

    // Every plan fails: stored, bf16, int8, int4 (fp16 is not smaller than
    // bf16), then the error names the last.
    rq.load = oom_always;
    memset(&lp, 0, sizeof lp);
    assert_int_equal(load_plan_prepare(&rq, &lp, &err), RS_OK);
    fake_calls = 0;
    assert_int_equal(load_plan_load(&rq, &lp, &err), RS_ERR_RUNTIME);
    assert_int_equal(fake_calls, 4);
    assert_non_null(strstr(err.msg, "no smaller plan fits"));
    load_plan_free(&lp);

    // Forced: one try only.
    rq.precision = "stored";
    memset(&lp, 0, sizeof lp);
    assert_int_equal(load_plan_prepare(&rq, &lp, &err), RS_OK);
    fake_calls = 0;
    assert_int_equal(load_plan_load(&rq, &lp, &err), RS_ERR_RUNTIME);
    assert_int_equal(fake_calls, 1);
    load_plan_free(&lp);
}

typedef struct capture {
    char text[4096];
    size_t len;
    int notices;
} capture;

static void cap_emit(void *ctx, const char *t, size_t n)
{
    capture *c = ctx;
    if (c->len + n < sizeof c->text) {
        memcpy(c->text + c->len, t, n);
        c->len += n;
        c->text[c->len] = 0;
    }
}

static void cap_notice(void *ctx, const char *line)
{
    (void)line;
    ((capture *)ctx)->notices++;
}

// stories260K through the ChatML renderer, a 160-token context: turns reuse
// the cache (the second prompt starts with the first turn), the cache
// always mirrors the engine, and the oldest turns go when the context
// fills, with a notice.
static void test_session_stories(void **state)
{
    (void)state;
    char path[4096];
    TESTDATA_PATH(path, "models/stories260K/stories260K.gguf");
    model_desc *m = NULL;
    rs_error err = {0};
    assert_int_equal(model_open(path, &m, &err), RS_OK);
    tokenizer *tok = NULL;
    assert_int_equal(tokenizer_load_gguf(m->gguf, &tok, &err), RS_OK);
    engine_options o = engine_default_options();
    o.n_ctx = 160;
    o.n_threads = 1;
    engine *e = NULL;
    assert_int_equal(engine_load(m, &o, &e, &err), RS_OK);
    capture cap = {0};
    chat_session_config cfg = {0};
    cfg.family = CHAT_FAMILY_CHATML;
    cfg.enable_thinking = -1;
    cfg.sampling = sampler_default_params();
    cfg.max_tokens = 12;
    cfg.emit = cap_emit;
    cfg.notice = cap_notice;
    cfg.cb_ctx = &cap;
    chat_session s;
    assert_int_equal(chat_session_init(&s, e, tok, &cfg, &err), RS_OK);
    // ChatML's <|im_end|> is no token of this vocabulary: a stop string.
    assert_int_equal(s.stop_token, -1);
    assert_non_null(s.stop_text);
    chat_stop why;
    assert_int_equal(chat_session_reply(&s, "Once upon a time", NULL, &why, &err), RS_OK);
    assert_int_equal(why, CHAT_STOP_LENGTH);
    assert_true(cap.len > 0);
    int64_t p1 = s.stats.prompt_tokens;
    assert_int_equal(s.stats.reused_tokens, 0);
    assert_int_equal(engine_pos(e), s.n_cached);
    assert_int_equal(s.n_msgs, 2);
    assert_int_equal(chat_session_reply(&s, "The dog ran", NULL, &why, &err), RS_OK);
    assert_true(s.stats.reused_tokens >= p1);
    assert_int_equal(engine_pos(e), s.n_cached);
    assert_int_equal(cap.notices, 0);
    for (int i = 0; i < 8 && cap.notices == 0; i++)
        assert_int_equal(chat_session_reply(&s, "Then the sun came out", NULL, &why, &err), RS_OK);
    assert_true(cap.notices > 0);
    assert_true(s.stats.dropped_turns > 0);
    assert_true(engine_pos(e) <= 160);
    // /reset keeps nothing but the system prompt.
    chat_session_reset(&s);
    assert_int_equal(s.n_msgs, 0);
    assert_int_equal(chat_session_reply(&s, "Once upon a time", NULL, &why, &err), RS_OK);
    assert_int_equal(s.stats.prompt_tokens, p1);
    // An interrupt before the first token stops at once.
    volatile sig_atomic_t stop = 1;
    assert_int_equal(chat_session_reply(&s, "Hi", &stop, &why, &err), RS_OK);
    assert_int_equal(why, CHAT_STOP_INTERRUPTED);
    assert_int_equal(s.stats.gen_tokens, 0);
    chat_session_free(&s);
    engine_free(e);
    tokenizer_free(tok);
    model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_row),        cmocka_unit_test(test_fallback_load),
        cmocka_unit_test(test_holdback),        cmocka_unit_test(test_common_prefix),
        cmocka_unit_test(test_session_stories),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
