// Tokenizer throughput: encodes a deterministic ~10 MB mixed-language text
// (English, pseudo-words, Chinese, Japanese, Russian, Arabic, code, numbers,
// emoji) with one thread and reports MB/s. tools/tok_bench_hf.py runs HF
// `tokenizers` on the same bytes (written with --write-text).
//
// Build and run: bench/run_tok_bench.sh TOKENIZER... (needs `make build`).
//   tok_bench [--mb N] [--write-text PATH] [--reps N] TOKENIZER...
// TOKENIZER: an HF folder / tokenizer.json, or a GGUF file.
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/gguf.h"
#include "tok/tokenizer.h"

static const char *const sentences[] = {
    "The quick brown fox jumps over the lazy dog. ",
    "In 1969, Apollo 11 landed on the Moon; Neil Armstrong stepped out first. ",
    "Machine learning models are trained on large datasets to recognise patterns. ",
    "She said, \"I'll be there by 7:30pm,\" but didn't arrive until 9. ",
    "人工智能正在改变我们的生活方式，尤其是在医疗和教育领域。",
    "我们明天早上九点在北京站见面，然后一起去长城。",
    "東京は日本の首都であり、世界最大級の都市圏を持つ。",
    "カタカナとひらがなと漢字が混ざった文章を処理します。",
    "Привет, мир! Сегодня мы изучаем токенизацию текста. ",
    "Москва — столица России и крупнейший город страны. ",
    "مرحبا بالعالم، اللغة العربية جميلة جداً. ",
    "안녕하세요, 오늘 날씨가 정말 좋네요. ",
    "def tokenize(text):\n    return [t for t in text.split() if t]\n\n",
    "for (int i = 0; i < n; ++i) {\n\tsum += a[i] * b[i];\n}\n",
    "{\"id\": 12345, \"name\": \"widget\", \"price\": 19.99, \"tags\": [\"a\", \"b\"]}\n",
    "Emoji: 👍🏽 🚀 😶‍🌫️ 👨‍👩‍👧‍👦 🇯🇵 — mixed in text. ",
    "\n\n",
    "    indented line with trailing spaces   \n",
};

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint32_t rnd(void)
{
    // xorshift64*: fixed seed, so every run writes the same text.
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    o[0] = (char)(0xE0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
}

// Text of about `bytes` bytes (NUL-terminated, malloc'd).
static char *make_text(size_t bytes, size_t *len)
{
    char *t = malloc(bytes + 256);
    if (!t) return NULL;
    static const char *const syl[] = {"ka", "lo", "mi", "ren", "to", "sha", "vi",  "str", "an",
                                      "el", "qu", "or", "ix",  "pe", "dun", "gra", "th",  "ou"};
    size_t n = 0;
    while (n < bytes) {
        uint32_t r = rnd() % 100;
        if (r < 45) { // a real sentence
            const char *s = sentences[rnd() % (sizeof sentences / sizeof sentences[0])];
            size_t l = strlen(s);
            memcpy(t + n, s, l);
            n += l;
        } else if (r < 75) { // pseudo-words: a long tail the word cache has not seen
            int words = 1 + (int)(rnd() % 8);
            for (int w = 0; w < words; w++) {
                int k = 1 + (int)(rnd() % 4);
                if (rnd() % 7 == 0) t[n++] = (char)('A' + rnd() % 26);
                for (int i = 0; i < k; i++) {
                    const char *s = syl[rnd() % (sizeof syl / sizeof syl[0])];
                    size_t l = strlen(s);
                    memcpy(t + n, s, l);
                    n += l;
                }
                t[n++] = rnd() % 10 == 0 ? ',' : ' ';
                if (t[n - 1] == ',') t[n++] = ' ';
            }
        } else if (r < 85) { // common CJK characters
            int k = 2 + (int)(rnd() % 12);
            for (int i = 0; i < k; i++)
                n += put_utf8(t + n, 0x4E00 + rnd() % 3000);
            n += put_utf8(t + n, 0x3002);
        } else if (r < 92) { // numbers
            n += (size_t)sprintf(t + n, "%u.%02u ", rnd() % 100000, rnd() % 100);
        } else if (r < 96) { // Cyrillic pseudo-words
            int k = 3 + (int)(rnd() % 8);
            for (int i = 0; i < k; i++)
                n += put_utf8(t + n, 0x430 + rnd() % 32);
            t[n++] = ' ';
        } else { // whitespace runs
            int k = 1 + (int)(rnd() % 12);
            for (int i = 0; i < k; i++)
                t[n++] = " \n\t"[rnd() % 3];
        }
    }
    t[n] = 0;
    *len = n;
    return t;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static rs_status load(const char *path, tokenizer **tok, rs_error *err)
{
    size_t n = strlen(path);
    if (n > 5 && strcmp(path + n - 5, ".gguf") == 0) {
        gguf_file *g;
        rs_status s = gguf_open(path, &g, err);
        if (s) return s;
        s = tokenizer_load_gguf(g, tok, err);
        gguf_close(g);
        return s;
    }
    return tokenizer_load_hf(path, tok, err);
}

int main(int argc, char **argv)
{
    double mb = 10;
    int reps = 3;
    const char *write_path = NULL;
    int first = 1;
    for (; first < argc && argv[first][0] == '-' && argv[first][1] == '-'; first++) {
        if (strcmp(argv[first], "--mb") == 0 && first + 1 < argc)
            mb = atof(argv[++first]);
        else if (strcmp(argv[first], "--reps") == 0 && first + 1 < argc)
            reps = atoi(argv[++first]);
        else if (strcmp(argv[first], "--write-text") == 0 && first + 1 < argc)
            write_path = argv[++first];
        else {
            fprintf(stderr, "tok_bench: unknown option %s\n", argv[first]);
            return 2;
        }
    }
    size_t len;
    char *text = make_text((size_t)(mb * 1e6), &len);
    if (!text) return 1;
    if (write_path) {
        FILE *f = fopen(write_path, "wb");
        if (!f || fwrite(text, 1, len, f) != len) {
            perror(write_path);
            return 1;
        }
        fclose(f);
    }
    printf("text: %zu bytes (%.2f MB), deterministic mix; 1 thread\n", len, (double)len / 1e6);
    for (int a = first; a < argc; a++) {
        tokenizer *tok;
        rs_error err = {0};
        double t0 = now();
        if (load(argv[a], &tok, &err)) {
            fprintf(stderr, "tok_bench: %s\n", err.msg);
            return 1;
        }
        double t1 = now();
        double best = 1e30, firstpass = 0;
        int64_t n = 0;
        for (int r = 0; r < reps; r++) {
            // A fresh tokenizer state each time would include load; the
            // first pass starts with an empty word cache, later ones reuse it.
            int32_t *ids;
            double s = now();
            if (tokenizer_encode(tok, text, len, false, true, &ids, &n, &err)) {
                fprintf(stderr, "tok_bench: %s\n", err.msg);
                return 1;
            }
            double e = now() - s;
            if (r == 0) firstpass = e;
            if (e < best) best = e;
            free(ids);
        }
        printf("rightsize %-40s load %.2f s  %lld tokens  first pass %.2f MB/s  best of %d %.2f "
               "MB/s\n",
               argv[a], t1 - t0, (long long)n, (double)len / 1e6 / firstpass, reps,
               (double)len / 1e6 / best);
        // The same text line by line (each line with its '\n'), as a server
        // sees many short prompts rather than one 10 MB string.
        double lbest = 1e30;
        int64_t ltok = 0;
        for (int r = 0; r < reps; r++) {
            double s = now();
            ltok = 0;
            for (size_t i = 0; i < len;) {
                const char *nl = memchr(text + i, '\n', len - i);
                size_t e = nl ? (size_t)(nl - text) + 1 : len;
                int32_t *ids;
                int64_t k;
                if (tokenizer_encode(tok, text + i, e - i, false, true, &ids, &k, &err)) {
                    fprintf(stderr, "tok_bench: %s\n", err.msg);
                    return 1;
                }
                ltok += k;
                free(ids);
                i = e;
            }
            double e = now() - s;
            if (e < lbest) lbest = e;
        }
        printf("rightsize %-40s line by line: %lld tokens  best of %d %.2f MB/s\n", argv[a],
               (long long)ltok, reps, (double)len / 1e6 / lbest);
        tokenizer_free(tok);
    }
    free(text);
    return 0;
}
