// Tests src/tok/chat_template.c, chat_render.c and chat_template_load.c:
// family detection from real templates, and rendering byte for byte against
//  - ollama's expected prompts (chat-templates/ollama-template-testdata),
//  - transformers' apply_chat_template on the real Jinja templates
//    (tests/fixtures/chat/*.json, written by tools/make_chat_fixtures.py).
#include "testutil.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <unistd.h>

#include "tok/chat_template.h"

static const char *source_dir(void)
{
    const char *s = getenv("RIGHTSIZE_SOURCE");
    return s && *s ? s : "..";
}

static cJSON *load_fixture(const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/fixtures/chat/%s", source_dir(), name);
    char *text = test_slurp(path, NULL);
    if (!text) fail_msg("fixture missing: %s", path);
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!j) fail_msg("fixture is not JSON: %s", path);
    return j;
}

// Prints where two renders first differ, so a failure is readable.
static bool quiet; // variants: count matches, do not print each difference

static bool same_or_report(const char *what, const char *got, const char *want)
{
    if (strcmp(got, want) == 0) return true;
    if (quiet) return false;
    size_t i = 0;
    while (got[i] && got[i] == want[i])
        i++;
    size_t from = i > 40 ? i - 40 : 0;
    fprintf(stderr, "MISMATCH %s at byte %zu\n  got:  \"%.80s\"\n  want: \"%.80s\"\n", what, i,
            got + from, want + from);
    return false;
}

// ---- conversations of ollama's test data ----

static const chat_message SYS = {"system", "You are a helpful assistant."};
static const chat_message U1 = {"user", "Hello, how are you?"};
static const chat_message A1 = {"assistant", "I'm doing great. How can I help you today?"};
static const chat_message U2 = {"user", "I'd like to show off how chat templating works!"};

// ollama template name -> the family we detect for that model's real HF
// template, the eos text ollama's prompts show, and, where ollama's Go
// template differs from the real one, the family we ship that renders what
// ollama renders (`ollama`) and how the two differ (`differs`). The HF
// families are checked against transformers in test_templates_jsonl; here
// every ollama directory must be matched byte for byte by some family, and
// each HF family that differs must differ exactly as documented.
static const struct ollama_case {
    const char *dir;
    const char *family;
    const char *eos;
    const char *ollama;
    const char *differs;
} ollama_cases[] = {
    {"alfred", "alfred", "</s>", NULL, NULL},
    {"alpaca", "alpaca", "</s>", NULL, NULL},
    {"chatml", "chatml", "<|im_end|>", NULL, NULL},
    {"chatqa", "chatqa", "</s>", NULL, NULL},
    {"codellama-70b-instruct", "codellama-70b", "</s>", NULL, NULL},
    {"command-r", "command-r", "</s>", "command-r-ollama",
     "ollama closes the last user turn twice and ends with a newline; Cohere's template does not"},
    {"falcon-instruct", "falcon", "</s>", NULL, NULL},
    {"gemma-instruct", "gemma", "<eos>", NULL, NULL},
    {"gemma3-instruct", "gemma3", "<eos>", "gemma3-ollama",
     "ollama adds a newline after the generation prompt; Gemma 3's template ends with model\\n"},
    {"granite-instruct", "granite-code", "</s>", NULL, NULL},
    {"llama2-chat", "llama2", "</s>", "llama2-ollama",
     "ollama writes an empty <<SYS>><</SYS>> block in every user turn and ends answers with "
     "\"</s><s>\"; Meta's template writes no empty block and \" </s>\" + bos"},
    {"llama3-instruct", "llama3", "<|eot_id|>", NULL, NULL},
    {"magicoder", "magicoder", "</s>", NULL, NULL},
    {"mistral-instruct", "mistral-v3", "</s>", NULL, NULL},
    {"openchat", "openchat", "</s>", NULL, NULL},
    {"phi-3", "phi3", "<|endoftext|>", NULL, NULL},
    {"solar-instruct", "solar", "</s>", NULL, NULL},
    {"starcoder2-instruct", "starcoder2", "<|endoftext|>", NULL, NULL},
    {"vicuna", "vicuna", "</s>", NULL, NULL},
    {"zephyr", "zephyr", "</s>", NULL, NULL},
};

// Applies the documented ollama difference to the HF family's render (NULL
// when it is not mechanical), so the test proves it is the only difference.
static char *ollama_difference(const char *dir, const char *got)
{
    size_t n = strlen(got);
    char *r = malloc(n + 64);
    assert_non_null(r);
    if (strcmp(dir, "gemma3-instruct") == 0) {
        snprintf(r, n + 64, "%s\n", got);
        return r;
    }
    if (strcmp(dir, "llama2-chat") == 0) {
        // Every "[INST] " not opening a <<SYS>> block gets an empty one, and
        // " </s>" (then bos, omitted here) becomes "</s><s>".
        free(r);
        r = malloc(n * 2 + 64);
        assert_non_null(r);
        size_t o = 0;
        for (const char *p = got; *p;) {
            if (strncmp(p, "[INST] ", 7) == 0 && strncmp(p + 7, "<<SYS>>", 7) != 0) {
                o += (size_t)sprintf(r + o, "[INST] <<SYS>><</SYS>>\n\n");
                p += 7;
            } else if (strncmp(p, " </s>", 5) == 0) {
                o += (size_t)sprintf(r + o, "</s><s>");
                p += 5;
            } else {
                r[o++] = *p++;
            }
        }
        r[o] = '\0';
        return r;
    }
    static const char tail[] = "<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>";
    if (strcmp(dir, "command-r") == 0 && n >= sizeof tail - 1 &&
        strcmp(got + n - (sizeof tail - 1), tail) == 0) {
        snprintf(r, n + 64, "%.*s<|END_OF_TURN_TOKEN|>%s\n", (int)(n - (sizeof tail - 1)), got,
                 tail);
        return r;
    }
    free(r);
    return NULL;
}

static char *render_or_fail(chat_family f, const chat_message *m, size_t n, const chat_options *o,
                            const char *what)
{
    char *got = NULL;
    rs_error err = {0};
    if (chat_render(f, m, n, o, &got, &err) != RS_OK) fail_msg("%s: %s", what, err.msg);
    return got;
}

static void test_ollama_testdata(void **state)
{
    (void)state;
    char dir[4096];
    TESTDATA_PATH(dir, "chat-templates/ollama-template-testdata");
    const chat_message conv_u[] = {U1};
    const chat_message conv_uau[] = {U1, A1, U2};
    const chat_message conv_suau[] = {SYS, U1, A1, U2};
    const struct {
        const char *file;
        const chat_message *m;
        size_t n;
    } convs[] = {{"user", conv_u, 1},
                 {"user-assistant-user", conv_uau, 3},
                 {"system-user-assistant-user", conv_suau, 4}};
    size_t n_cases = sizeof ollama_cases / sizeof ollama_cases[0];
    int dirs = 0, as_hf = 0, as_variant = 0;
    bool failed = false;
    fprintf(stderr, "%-24s %-14s %-18s %s\n", "ollama template", "HF family", "renders ollama",
            "match");
    for (size_t k = 0; k < n_cases; k++) {
        const struct ollama_case *oc = &ollama_cases[k];
        char path[4200];
        snprintf(path, sizeof path, "%s/%s.gotmpl", dir, oc->dir);
        if (access(path, R_OK) != 0) continue; // "where that family is present"
        dirs++;
        chat_family hf = chat_family_from_name(oc->family);
        const char *ollama_name = oc->ollama ? oc->ollama : oc->family;
        chat_family of = chat_family_from_name(ollama_name);
        assert_int_not_equal(hf, CHAT_FAMILY_UNKNOWN);
        assert_int_not_equal(of, CHAT_FAMILY_UNKNOWN);
        // ollama's own name selects the family that renders ollama's prompt,
        // except command-r, our name for Cohere's real template.
        chat_family by_dir = chat_family_from_name(oc->dir);
        if (strcmp(oc->dir, "command-r") == 0)
            assert_int_equal(by_dir, hf);
        else if (by_dir != of)
            fail_msg("--chat-template %s is %s, not %s (which renders ollama's prompt)", oc->dir,
                     chat_family_name(by_dir), ollama_name);
        chat_options o = chat_default_options();
        o.bos_token = ""; // ollama's prompts omit BOS
        o.eos_token = oc->eos;
        int ok = 0;
        for (size_t c = 0; c < 3; c++) {
            snprintf(path, sizeof path, "%s/%s.gotmpl/%s", dir, oc->dir, convs[c].file);
            char *want = test_slurp(path, NULL);
            assert_non_null(want);
            char what[256];
            snprintf(what, sizeof what, "ollama %s/%s (family %s)", oc->dir, convs[c].file,
                     ollama_name);
            char *got = render_or_fail(of, convs[c].m, convs[c].n, &o, what);
            if (same_or_report(what, got, want))
                ok++;
            else
                failed = true;
            free(got);
            if (oc->differs) {
                // The HF-faithful family differs from ollama, exactly as documented.
                snprintf(what, sizeof what, "ollama %s/%s (HF family %s)", oc->dir,
                         convs[c].file, oc->family);
                got = render_or_fail(hf, convs[c].m, convs[c].n, &o, what);
                if (strcmp(got, want) == 0)
                    fail_msg("%s now matches ollama: update the table", what);
                char *expl = ollama_difference(oc->dir, got);
                if (expl && !same_or_report(what, expl, want))
                    fail_msg("%s: %s", what, oc->differs);
                free(expl);
                free(got);
            }
            free(want);
        }
        fprintf(stderr, "%-24s %-14s %-18s %d/3%s%s\n", oc->dir, oc->family, ollama_name, ok,
                oc->differs ? "  HF differs: " : "", oc->differs ? oc->differs : "");
        if (oc->differs)
            as_variant++;
        else
            as_hf++;
    }
    // Every directory present is in the table, so none goes unchecked.
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 8 || strcmp(e->d_name + len - 7, ".gotmpl") != 0) continue;
        bool known = false;
        for (size_t k = 0; k < n_cases; k++)
            known |= strlen(ollama_cases[k].dir) == len - 7 &&
                     strncmp(ollama_cases[k].dir, e->d_name, len - 7) == 0;
        if (!known) {
            fprintf(stderr, "ollama %s: no family in the table\n", e->d_name);
            failed = true;
        }
    }
    closedir(d);
    fprintf(stderr,
            "ollama: %d/%d templates present; all match byte for byte: %d with the HF family, "
            "%d with the -ollama variant\n",
            dirs, (int)n_cases, as_hf, as_variant);
    assert_false(failed);
}

// Beyond ollama's three conversations: the -ollama families collate as
// ollama's template.Execute does (a run of one role becomes one message
// joined by a blank line; all system texts joined into .System), write
// bos_token first (ollama's tokenizer adds BOS), and never trim.
static void test_ollama_variants_collate(void **state)
{
    (void)state;
    const chat_message conv[] = {{"system", "A"},  {"system", "B"}, {"user", " Q1"},
                                 {"user", "Q2 "},  {"assistant", "R"}, {"system", "C"},
                                 {"user", "Q3"}};
    chat_options o = chat_default_options();
    o.bos_token = "<s>";
    static const struct {
        const char *family;
        const char *want;
    } cases[] = {
        // System texts wait for the next user turn; later turns get an empty block.
        {"llama2-ollama", "<s>[INST] <<SYS>>\nA\n\nB\n<</SYS>>\n\n Q1\n\nQ2  [/INST] R</s><s>"
                          "[INST] <<SYS>>\nC\n<</SYS>>\n\nQ3 [/INST]"},
        {"command-r-ollama",
         "<s><|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>A\n\nB\n\nC<|END_OF_TURN_TOKEN|>"
         "<|START_OF_TURN_TOKEN|><|USER_TOKEN|> Q1\n\nQ2 <|END_OF_TURN_TOKEN|>"
         "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>R<|END_OF_TURN_TOKEN|>"
         "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>Q3<|END_OF_TURN_TOKEN|>"
         "<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>\n"},
        {"gemma3-ollama", "<s><start_of_turn>user\nA\n\nB\n\nC\n\n Q1\n\nQ2 <end_of_turn>\n"
                          "<start_of_turn>model\nR<end_of_turn>\n"
                          "<start_of_turn>user\nQ3<end_of_turn>\n<start_of_turn>model\n\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = render_or_fail(chat_family_from_name(cases[i].family), conv, 7, &o,
                                   cases[i].family);
        if (!same_or_report(cases[i].family, got, cases[i].want)) fail_msg("%s", cases[i].family);
        free(got);
    }
    // Without the generation prompt, command-r-ollama and gemma3-ollama stop
    // after the last turn; llama2's prompt has none to drop.
    o.add_generation_prompt = false;
    const chat_message ua[] = {{"user", "Q"}, {"assistant", "R"}};
    char *got = render_or_fail(CHAT_FAMILY_GEMMA3_OLLAMA, ua, 2, &o, "gemma3-ollama");
    assert_string_equal(got, "<s><start_of_turn>user\nQ<end_of_turn>\n"
                             "<start_of_turn>model\nR<end_of_turn>\n");
    free(got);
    got = render_or_fail(CHAT_FAMILY_LLAMA2_OLLAMA, ua, 2, &o, "llama2-ollama");
    assert_string_equal(got, "<s>[INST] <<SYS>><</SYS>>\n\nQ [/INST] R</s><s>[INST] ");
    free(got);
}

// ---- fixtures from transformers ----

// Renders every case of a fixture with family f (default system prompt
// taken from the template text, as the CLI does); returns the number of
// cases that match.
// lenient: where the template raises an error we may render instead (Gemma 2
// rejects a system message; we join it to the first user turn, as ollama does,
// and test that against ollama's prompts).
static int check_cases(const char *label, chat_family f, const char *template_text,
                       const cJSON *cases, bool lenient, int *total)
{
    int ok = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        const cJSON *want = cJSON_GetObjectItem(c, "expected");
        char *def = chat_template_default_system(
            template_text, (time_t)cJSON_GetObjectItem(c, "now")->valuedouble);
        char *got = NULL;
        rs_error err = {0};
        (*total)++;
        // The default system prompt comes from the template text, as in the CLI.
        cJSON *copy = cJSON_Duplicate(c, true);
        rs_status st;
        {
            const cJSON *msgs = cJSON_GetObjectItem(copy, "messages");
            size_t n = (size_t)cJSON_GetArraySize(msgs);
            chat_message m[16];
            for (size_t i = 0; i < n; i++) {
                const cJSON *e = cJSON_GetArrayItem(msgs, (int)i);
                m[i].role = cJSON_GetObjectItem(e, "role")->valuestring;
                m[i].content = cJSON_GetObjectItem(e, "content")->valuestring;
            }
            chat_options o = chat_default_options();
            o.add_generation_prompt = cJSON_IsTrue(cJSON_GetObjectItem(c, "add_generation_prompt"));
            const cJSON *think = cJSON_GetObjectItem(c, "enable_thinking");
            o.enable_thinking = cJSON_IsBool(think) ? cJSON_IsTrue(think) : -1;
            o.bos_token = cJSON_GetObjectItem(c, "bos_token")->valuestring;
            o.eos_token = cJSON_GetObjectItem(c, "eos_token")->valuestring;
            o.now = (time_t)cJSON_GetObjectItem(c, "now")->valuedouble;
            o.default_system = def;
            st = chat_render(f, m, n, &o, &got, &err);
        }
        char what[512];
        snprintf(what, sizeof what, "%s case %s (family %s)", label, name, chat_family_name(f));
        if (!want) {
            // The template raises an error for this conversation: so must we.
            if (st == RS_OK && lenient)
                ok++;
            else if (st == RS_OK && !quiet)
                fprintf(stderr, "MISMATCH %s: the template rejects it (%s), we rendered\n", what,
                        cJSON_GetObjectItem(c, "error")->valuestring);
            else
                ok++;
        } else if (st != RS_OK) {
            if (!quiet) fprintf(stderr, "MISMATCH %s: %s\n", what, err.msg);
        } else if (same_or_report(what, got, want->valuestring)) {
            ok++;
        }
        free(got);
        free(def);
        cJSON_Delete(copy);
    }
    return ok;
}

// Each llama.cpp model template, its expected family.
static const struct {
    const char *stem;
    const char *family;
} jinja_families[] = {
    {"HuggingFaceTB-SmolLM3-3B", "smollm3"},
    {"Mistral-Small-3.2-24B-Instruct-2506", "mistral-v7-tekken"},
    {"Qwen-QwQ-32B", "qwq"},
    {"Qwen-Qwen2.5-7B-Instruct", "qwen2.5"},
    {"Qwen-Qwen3-0.6B", "qwen3"},
    {"deepseek-ai-DeepSeek-R1-Distill-Llama-8B", "deepseek-r1"},
    {"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", "deepseek-r1-toggle"},
    {"deepseek-ai-DeepSeek-V3.1", "deepseek-v3.1"},
    {"google-gemma-2-2b-it", "gemma"},
    {"meta-llama-Llama-3.1-8B-Instruct", "llama3.1"},
    {"meta-llama-Llama-3.2-3B-Instruct", "llama3.2"},
    {"meta-llama-Llama-3.3-70B-Instruct", "llama3.1"},
    {"microsoft-Phi-3.5-mini-instruct", "phi3"},
    {"mistralai-Mistral-Nemo-Instruct-2407", "mistral-v3-tekken"},
};

static void test_llama_cpp_templates(void **state)
{
    (void)state;
    char dir[4096];
    TESTDATA_PATH(dir, "chat-templates/llama.cpp-models-templates");
    int all_ok = 0, all_total = 0;
    bool failed = false;
    for (size_t k = 0; k < sizeof jinja_families / sizeof jinja_families[0]; k++) {
        char path[4200], name[512];
        snprintf(path, sizeof path, "%s/%s.jinja", dir, jinja_families[k].stem);
        char *text = test_slurp(path, NULL);
        assert_non_null(text);
        const char *fam = chat_template_family_name(text);
        if (strcmp(fam, jinja_families[k].family) != 0) {
            fprintf(stderr, "DETECT %s: got %s, want %s\n", jinja_families[k].stem, fam,
                    jinja_families[k].family);
            failed = true;
        }
        snprintf(name, sizeof name, "%s.json", jinja_families[k].stem);
        cJSON *fx = load_fixture(name);
        int total = 0;
        int ok = check_cases(jinja_families[k].stem, chat_family_detect(text), text,
                             cJSON_GetObjectItem(fx, "cases"), strcmp(fam, "gemma") == 0, &total);
        fprintf(stderr, "%-44s %-18s %2d/%2d cases match transformers\n", jinja_families[k].stem,
                fam, ok, total);
        if (ok != total) failed = true;
        all_ok += ok;
        all_total += total;
        cJSON_Delete(fx);
        free(text);
    }
    fprintf(stderr, "llama.cpp templates: %d/%d cases match\n", all_ok, all_total);
    assert_false(failed);
}

// Real templates of models not in the shared test data (fixtures carry the
// template text, read from the model's GGUF by tools/make_chat_fixtures.py):
// detection, the default system prompt read from the text, and the render
// of every case against transformers. Needs no test data.
static const struct {
    const char *fixture;
    const char *family;
} gguf_fixtures[] = {
    // SmolLM2: ChatML with its own default system prompt ("...named SmolLM...").
    {"SmolLM2-135M-Instruct.json", "chatml-default-system"},
};

static void test_gguf_template_fixtures(void **state)
{
    (void)state;
    bool failed = false;
    for (size_t k = 0; k < sizeof gguf_fixtures / sizeof gguf_fixtures[0]; k++) {
        cJSON *fx = load_fixture(gguf_fixtures[k].fixture);
        const char *text = cJSON_GetObjectItem(fx, "template_text")->valuestring;
        const char *fam = chat_template_family_name(text);
        if (strcmp(fam, gguf_fixtures[k].family) != 0) {
            fprintf(stderr, "DETECT %s: got %s, want %s\n", gguf_fixtures[k].fixture, fam,
                    gguf_fixtures[k].family);
            failed = true;
        }
        int total = 0;
        int ok = check_cases(gguf_fixtures[k].fixture, chat_family_detect(text), text,
                             cJSON_GetObjectItem(fx, "cases"), false, &total);
        fprintf(stderr, "%-44s %-22s %2d/%2d cases match transformers\n",
                gguf_fixtures[k].fixture, fam, ok, total);
        if (ok != total) failed = true;
        cJSON_Delete(fx);
    }
    assert_false(failed);
}

// templates.jsonl: line -> expected family, and whether our render of that
// family matches transformers' render of that exact template. Templates
// marked with a reason are variants our family does not copy (a different
// default system prompt or spacing); detection must still be right.
static const struct {
    int line;
    const char *family;
    const char *variant;
} jsonl_families[] = {
    {1, "chatml", "puts the system text before the first turn without a ChatML header"},
    {2, "chatml", NULL},
    {3, "zephyr", NULL},
    {4, "chatml", "writes bos_token first"},
    {5, "openchat", NULL},
    {6, "chatml", "writes bos_token first"},
    {7, "chatml", NULL},
    {8, "chatml-default-system", NULL},
    {9, "chatml-default-system", NULL},
    {10, "zephyr", "user turns without eos"},
    {11, "mistral-v0", NULL},
    {12, "starcoder2", "adds its own default system prompt"},
    {13, "llama2", NULL},
    {14, "codellama-70b", NULL},
    {15, "mistral-v0", "a space after eos"},
    {16, "chatml", NULL},
    {17, "chatml", NULL},
    {18, "chatml-default-system", NULL},
    {19, "chatml-default-system", "DBRX: no newline after the last turn"},
    {20, "deepseek", "DeepSeek Coder: default system prompt"},
    {21, "deepseek2", NULL},
    {22, "gemma", NULL},
    {23, "llama3", NULL},
    {24, "granite-code", NULL},
    {25, "magicoder", "adds its own default system prompt"},
    {26, "alfred", NULL},
    {27, "llama2", NULL},
    {28, "phi3-mini", NULL},
    {29, "phi3-mini", NULL},
    {30, "phi3", NULL},
    {31, "chatqa", "ChatQA 1.5: default system prompt"},
    {32, "falcon", "writes \"User: \\n\""},
    {33, "falcon", "writes \"User: \" on one line"},
    {34, "solar", "no eos after answers"},
    {35, "chatml-default-system", NULL},
};

static void test_templates_jsonl(void **state)
{
    (void)state;
    char path[4096];
    TESTDATA_PATH(path, "chat-templates/ollama-template-testdata/templates.jsonl");
    char *all = test_slurp(path, NULL);
    assert_non_null(all);
    cJSON *fx = load_fixture("templates-jsonl.json");
    const cJSON *entries = cJSON_GetObjectItem(fx, "entries");
    bool failed = false;
    int exact = 0, variants = 0;
    char *line = all;
    for (size_t k = 0; k < sizeof jsonl_families / sizeof jsonl_families[0]; k++) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        cJSON *obj = cJSON_Parse(line);
        assert_non_null(obj);
        const char *text = obj->child->valuestring;
        const char *fam = chat_template_family_name(text);
        if (strcmp(fam, jsonl_families[k].family) != 0) {
            fprintf(stderr, "DETECT templates.jsonl line %d (%s): got %s, want %s\n",
                    jsonl_families[k].line, obj->child->string, fam, jsonl_families[k].family);
            failed = true;
        }
        const cJSON *entry = cJSON_GetArrayItem(entries, (int)k);
        assert_int_equal(cJSON_GetObjectItem(entry, "line")->valueint, jsonl_families[k].line);
        char label[128];
        snprintf(label, sizeof label, "templates.jsonl line %d (%s)", jsonl_families[k].line,
                 obj->child->string);
        int total = 0;
        quiet = jsonl_families[k].variant != NULL;
        int ok =
            check_cases(label, chat_family_from_name(jsonl_families[k].family), text,
                        cJSON_GetObjectItem(entry, "cases"), strcmp(fam, "gemma") == 0, &total);
        if (jsonl_families[k].variant) {
            fprintf(stderr, "%-44s %-22s variant (%s): %d/%d cases match\n", label, fam,
                    jsonl_families[k].variant, ok, total);
            variants++;
        } else {
            fprintf(stderr, "%-44s %-22s %d/%d cases match transformers\n", label, fam, ok, total);
            if (ok != total) failed = true;
            exact++;
        }
        quiet = false;
        cJSON_Delete(obj);
        line = nl ? nl + 1 : line + strlen(line);
    }
    fprintf(stderr,
            "templates.jsonl: %d templates render exactly, %d are variants (detected only)\n",
            exact, variants);
    cJSON_Delete(fx);
    free(all);
    assert_false(failed);
}

// ---- detection and options ----

static void test_detect_basics(void **state)
{
    (void)state;
    assert_string_equal(chat_template_family_name(NULL), "none");
    assert_string_equal(chat_template_family_name("Hello {{ messages }}"), "unknown");
    assert_string_equal(chat_template_family_name(""), "unknown");
    assert_string_equal(chat_template_family_name("chatml"), "chatml");
    assert_int_equal(chat_family_from_name("mistral-nemo"), CHAT_FAMILY_MISTRAL_V3_TEKKEN);
    assert_int_equal(chat_family_from_name("no-such-family"), CHAT_FAMILY_UNKNOWN);
    // Every family has a distinct name that maps back to it.
    for (int f = 1; f < CHAT_FAMILY_COUNT; f++)
        assert_int_equal(chat_family_from_name(chat_family_name((chat_family)f)), f);
}

// Every family can be detected: a minimal text with the markers each rule
// looks for (taken from the real templates) maps to that family, so no rule
// is shadowed by an earlier one.
static void test_detect_every_family(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *family;
    } cases[] = {
        {"{{ '<|im_start|>' + m }}", "chatml"},
        {"{{ '<|im_start|>system\\nBe nice.<|im_end|>\\n' }}", "chatml-default-system"},
        {"<|im_start|>You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
         "qwen2.5"},
        {"<|im_start|> reasoning_content enable_thinking", "qwen3"},
        {"{{ '<|im_start|>assistant\\n<think>\\n' }}", "qwq"},
        {"<|im_start|> Reasoning Mode /no_think", "smollm3"},
        {"<|start_header_id|><|end_header_id|>", "llama3"},
        {"<|start_header_id|><|end_header_id|> Cutting Knowledge Date", "llama3.1"},
        {"<|start_header_id|><|end_header_id|> Cutting Knowledge Date strftime_now", "llama3.2"},
        {"[INST] <<SYS>>", "llama2"},
        {"{{ '[INST] ' + message['content'] + ' [/INST]' }}", "mistral-v0"},
        {"{{ ' [INST] ' + system_message }}", "mistral-v1"},
        {"[AVAILABLE_TOOLS]{{ '[INST]' }}", "mistral-v3"},
        {"[AVAILABLE_TOOLS]{{ \"[INST]\" }}", "mistral-v3-tekken"},
        {"[SYSTEM_PROMPT]{{ '[INST] ' }}", "mistral-v7"},
        {"[SYSTEM_PROMPT]{{ '[INST]' }}", "mistral-v7-tekken"},
        {"<start_of_turn>", "gemma"},
        {"<start_of_turn> first_user_prefix", "gemma3"},
        {"<|assistant|><|end|>", "phi3"},
        {"{{ '<|user|>' + '<|end|>' + '<|assistant|>' + '\\n' }}", "phi3-mini"},
        {"<|im_start|><|im_sep|>", "phi4"},
        {"### Instruction: <|EOT|>", "deepseek"},
        {"{{ 'Assistant: ' + message['content'] + eos_token }}", "deepseek2"},
        {"<｜Assistant｜><｜User｜><｜end▁of▁sentence｜>", "deepseek-v3"},
        {"<｜Assistant｜><｜User｜><｜end▁of▁sentence｜><think></think>", "deepseek-v3.1"},
        {"<｜User｜><｜end▁of▁sentence｜>{{'<｜Assistant｜><think>\\n'}}", "deepseek-r1"},
        {"<｜User｜><｜end▁of▁sentence｜>{{'<｜Assistant｜><think>\\n'}} enable_thinking",
         "deepseek-r1-toggle"},
        {"<|user|><|assistant|>{{ eos_token }}", "zephyr"},
        {"USER: ASSISTANT: ", "vicuna"},
        {"SYSTEM: USER: ASSISTANT: ", "vicuna-orca"},
        {"### Instruction:\n### Response:", "alpaca"},
        {"<|START_OF_TURN_TOKEN|><|USER_TOKEN|>", "command-r"},
        {"<|start_of_role|>", "granite"},
        {"Question:\nAnswer:", "granite-code"},
        {"User:\nFalcon:", "falcon"},
        {"<|user|><|assistant|></s>", "falcon3"},
        {"GPT4 Correct ", "openchat"},
        {"User: Assistant:", "chatqa"},
        {"### Instruction\n### Response\n", "starcoder2"},
        {"@@ Instruction", "magicoder"},
        {"Source: assistant <step>", "codellama-70b"},
        {"### User: ### Assistant:", "solar"},
        {"<start_user><start_assistant>", "alfred"},
        {"{{ bos_token + message['role'] }}", "monarch"},
        {"{{ '\\n\\nAssistant: ' + eos_token }}", "orion"},
        {"[gMASK]sop", "chatglm3"},
        {"[gMASK]<sop>", "chatglm4"},
        {"<|user|><|assistant|>", "glmedge"},
        {"<用户>", "minicpm"},
        {"[|system|][|assistant|][|endofturn|]", "exaone3"},
        {"[|system|][|assistant|][|endofturn|][|tool|]", "exaone4"},
        {"rwkv-world", "rwkv-world"},
        {"<|role_start|>", "megrez"},
        {"<|header_start|><|header_end|>", "llama4"},
        {"<|im_start|><end_of_utterance>", "smolvlm"},
        {"<role>ASSISTANT</role> 'HUMAN'", "bailing"},
        {"<|endofuserprompt|>", "dots1"},
        // ollama's renderings are chosen by name, never detected from a template.
        {"llama2-ollama", "llama2-ollama"},
        {"command-r-ollama", "command-r-ollama"},
        {"gemma3-ollama", "gemma3-ollama"},
    };
    bool seen[CHAT_FAMILY_COUNT] = {false};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = chat_template_family_name(cases[i].text);
        if (strcmp(got, cases[i].family) != 0)
            fail_msg("detect \"%s\": got %s, want %s", cases[i].text, got, cases[i].family);
        seen[chat_family_detect(cases[i].text)] = true;
    }
    for (int f = 1; f < CHAT_FAMILY_COUNT; f++)
        if (!seen[f]) fail_msg("no detection case for family %s", chat_family_name((chat_family)f));
}

// The turn end of every family is what its renderer writes right after an
// answer (or, for GLM, the next turn's header), so a chat stops where the
// template would close the turn.
static void test_turn_end(void **state)
{
    (void)state;
    const chat_message conv[] = {{"user", "Q1"}, {"assistant", "ANSWER"}, {"user", "Q2"}};
    chat_options o = chat_default_options();
    o.bos_token = "<s>";
    o.eos_token = "<EOS>";
    o.default_system = "D";
    int bad = 0;
    for (int f = 1; f < CHAT_FAMILY_COUNT; f++) {
        const char *end = chat_family_turn_end((chat_family)f, o.eos_token);
        const char *name = chat_family_name((chat_family)f);
        assert_non_null(end);
        char *out = NULL;
        rs_error err = {0};
        if (chat_render((chat_family)f, conv, 3, &o, &out, &err) != RS_OK)
            fail_msg("%s: %s", name, err.msg);
        const char *a = strstr(out, "ANSWER");
        if (!a) fail_msg("%s: answer missing", name);
        a += strlen("ANSWER");
        // Formats may put a space or newline between answer and marker.
        while (*a == ' ' || *a == '\n')
            a++;
        // Plain-text formats write nothing after an answer: the model ends
        // it with eos, which the history does not show.
        static const char *const implicit[] = {"alpaca", "granite-code", "falcon",  "falcon3",
                                               "chatqa", "magicoder",    "minicpm", "bailing"};
        bool silent = false;
        for (size_t k = 0; k < sizeof implicit / sizeof implicit[0]; k++)
            silent |= strcmp(name, implicit[k]) == 0;
        if (silent) {
            assert_string_equal(end, o.eos_token);
            free(out);
            continue;
        }
        bool found = strncmp(a, end, strlen(end)) == 0 ||
                     (strcmp(end, "\n\n") == 0 && strncmp(a - 2, "\n\n", 2) == 0);
        if (!found) {
            fprintf(stderr, "%s: after the answer comes \"%.20s\", not the turn end \"%s\"\n", name,
                    a, end);
            bad++;
        }
        free(out);
    }
    assert_int_equal(bad, 0);
    assert_string_equal(chat_family_turn_end(CHAT_FAMILY_LLAMA3, "<|end_of_text|>"), "<|eot_id|>");
    assert_null(chat_family_turn_end(CHAT_FAMILY_ALPACA, NULL));
}

static void test_render_errors(void **state)
{
    (void)state;
    char *out = (char *)1;
    rs_error err = {0};
    const chat_message bad_role[] = {{"tool", "x"}};
    assert_int_equal(chat_render(CHAT_FAMILY_CHATML, bad_role, 1, NULL, &out, &err), RS_ERR_INPUT);
    assert_null(out);
    assert_non_null(strstr(err.msg, "tool"));
    const chat_message two_users[] = {U1, U2};
    assert_int_equal(chat_render(CHAT_FAMILY_LLAMA2, two_users, 2, NULL, &out, &err), RS_ERR_INPUT);
    assert_non_null(strstr(err.msg, "alternate"));
    assert_int_equal(chat_render(CHAT_FAMILY_UNKNOWN, two_users, 2, NULL, &out, &err),
                     RS_ERR_INPUT);
    assert_non_null(strstr(err.msg, "--chat-template"));
    // chatml-default-system without a default to insert is an error, not a guess.
    assert_int_equal(chat_render(CHAT_FAMILY_CHATML_DEFSYS, &U1, 1, NULL, &out, &err),
                     RS_ERR_INPUT);
    // Command R: bos, the system text as given, turns stripped.
    const chat_message cr[] = {{"system", " Be nice. "}, {"user", " Hi "}};
    chat_options o = chat_default_options();
    o.bos_token = "<BOS_TOKEN>";
    assert_int_equal(chat_render(CHAT_FAMILY_COMMAND_R, cr, 2, &o, &out, &err), RS_OK);
    assert_string_equal(out, "<BOS_TOKEN><|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|> Be nice. "
                             "<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Hi"
                             "<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>");
    free(out);
    // An empty conversation renders just the generation prompt.
    assert_int_equal(chat_render(CHAT_FAMILY_CHATML, NULL, 0, NULL, &out, &err), RS_OK);
    assert_string_equal(out, "<|im_start|>assistant\n");
    free(out);
}

static void test_qwen_defaults(void **state)
{
    (void)state;
    char *out;
    rs_error err = {0};
    chat_options o = chat_default_options();
    assert_int_equal(chat_render(CHAT_FAMILY_QWEN2_5, &U1, 1, &o, &out, &err), RS_OK);
    assert_string_equal(out,
                        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a "
                        "helpful assistant.<|im_end|>\n<|im_start|>user\nHello, how are "
                        "you?<|im_end|>\n<|im_start|>assistant\n");
    free(out);
    o.default_system = "Be brief.";
    assert_int_equal(chat_render(CHAT_FAMILY_QWEN2_5, &U1, 1, &o, &out, &err), RS_OK);
    assert_non_null(strstr(out, "<|im_start|>system\nBe brief.<|im_end|>\n"));
    free(out);
    o = chat_default_options();
    o.enable_thinking = 0;
    assert_int_equal(chat_render(CHAT_FAMILY_QWEN3, &U1, 1, &o, &out, &err), RS_OK);
    assert_string_equal(out, "<|im_start|>user\nHello, how are you?<|im_end|>\n"
                             "<|im_start|>assistant\n<think>\n\n</think>\n\n");
    free(out);
    char *def = chat_template_default_system(
        "{% else %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}", 0);
    assert_string_equal(def, "You are a helpful assistant.");
    free(def);
    assert_null(chat_template_default_system("{{ '<|im_start|>system\\n' + m }}", 0));
}

static void test_load(void **state)
{
    (void)state;
    char dir[4096];
    TESTDATA_PATH(dir, "tokenizers/qwen3");
    chat_template_info info;
    rs_error err = {0};
    assert_int_equal(chat_template_load(dir, &info, &err), RS_OK);
    assert_non_null(info.text);
    assert_string_equal(chat_template_family_name(info.text), "qwen3");
    assert_null(info.bos_token); // Qwen3's config has "bos_token": null
    assert_string_equal(info.eos_token, "<|im_end|>");
    chat_template_info_free(&info);

    TESTDATA_PATH(dir, "tokenizers/llama3");
    assert_int_equal(chat_template_load(dir, &info, &err), RS_OK);
    assert_string_equal(info.bos_token, "<|begin_of_text|>");
    assert_string_equal(chat_template_family_name(info.text), "llama3"); // Llama 3 (no date block)
    chat_template_info_free(&info);

    TESTDATA_PATH(dir, "tokenizers/mistral-7b-v0.1");
    assert_int_equal(chat_template_load(dir, &info, &err), RS_OK);
    assert_null(info.text); // no template: the caller must ask for --chat-template
    assert_string_equal(info.bos_token, "<s>");
    chat_template_info_free(&info);

    // A GGUF without a template, and a list-style tokenizer_config.json.
    TESTDATA_PATH(dir, "models/stories260K/stories260K.gguf");
    assert_int_equal(chat_template_load(dir, &info, &err), RS_OK);
    assert_null(info.text);
    assert_non_null(info.bos_token);
    chat_template_info_free(&info);

    // llama.cpp's Phi-3 vocabulary GGUF carries Phi-3 mini's template.
    TESTDATA_PATH(dir, "vocab-tests/ggml-vocab-phi-3.gguf");
    assert_int_equal(chat_template_load(dir, &info, &err), RS_OK);
    assert_non_null(info.text);
    assert_string_equal(chat_template_family_name(info.text), "phi3-mini");
    assert_string_equal(info.bos_token, "<s>");
    assert_string_equal(info.eos_token, "<|endoftext|>");
    chat_template_info_free(&info);

    const char cfg[] = "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"x\"},"
                       " {\"name\": \"default\", \"template\": \"{{ '<|im_start|>' }}\"}],"
                       " \"eos_token\": {\"content\": \"<|im_end|>\", \"special\": true}}";
    char p[4096];
    test_write_file(p, sizeof p, "tokenizer_config.json", cfg, sizeof cfg - 1);
    assert_int_equal(chat_template_load(p, &info, &err), RS_OK);
    assert_string_equal(info.text, "{{ '<|im_start|>' }}");
    assert_string_equal(info.eos_token, "<|im_end|>");
    chat_template_info_free(&info);

    // A processor's chat_template.json, when the tokenizer config has none.
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/vlm", test_tmpdir());
    mkdir(sub, 0755);
    const char tc[] = "{\"eos_token\": \"<end_of_turn>\"}";
    const char ct[] = "{\"chat_template\": \"{{ '<start_of_turn>' }}\"}";
    test_write_file(p, sizeof p, "vlm/tokenizer_config.json", tc, sizeof tc - 1);
    test_write_file(p, sizeof p, "vlm/chat_template.json", ct, sizeof ct - 1);
    assert_int_equal(chat_template_load(sub, &info, &err), RS_OK);
    assert_string_equal(info.text, "{{ '<start_of_turn>' }}");
    assert_non_null(strstr(info.source, "chat_template.json"));
    assert_string_equal(info.eos_token, "<end_of_turn>");
    chat_template_info_free(&info);

    const char bad[] = "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"x\"}]}";
    test_write_file(p, sizeof p, "tokenizer_config.json", bad, sizeof bad - 1);
    assert_int_equal(chat_template_load(p, &info, &err), RS_ERR_INPUT);
    assert_non_null(strstr(err.msg, "default"));
    assert_int_equal(chat_template_load("/nonexistent/model", &info, &err), RS_ERR_INPUT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect_basics),
        cmocka_unit_test(test_detect_every_family),
        cmocka_unit_test(test_turn_end),
        cmocka_unit_test(test_render_errors),
        cmocka_unit_test(test_qwen_defaults),
        cmocka_unit_test(test_ollama_testdata),
        cmocka_unit_test(test_ollama_variants_collate),
        cmocka_unit_test(test_llama_cpp_templates),
        cmocka_unit_test(test_gguf_template_fixtures),
        cmocka_unit_test(test_templates_jsonl),
        cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
