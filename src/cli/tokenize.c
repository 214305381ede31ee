#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "tok/tokenizer.h"
#include "util/clock.h"

// rightsize tokenize MODEL TEXT: the ids (and pieces) a model's tokenizer
// gives for TEXT. MODEL is an HF folder, a tokenizer.json, or a GGUF file.

static void usage(FILE *f)
{
    fprintf(f,
            "usage: rightsize tokenize MODEL TEXT [--ids|--pieces|--json] [--add-special]\n"
            "                          [--no-parse-special] [--bench]\n"
            "  MODEL  HF model folder, folder or path of tokenizer.json, or a .gguf file\n"
            "  TEXT   the text; \"-\" reads stdin\n"
            "  --ids               ids only, one line (default: id and piece per line)\n"
            "  --pieces            pieces only, one per line\n"
            "  --json              {\"ids\": [...], \"pieces\": [...]}\n"
            "  --add-special       add BOS/EOS as the tokenizer says (default: none)\n"
            "  --no-parse-special  treat special-token text as plain text\n"
            "  --bench             encode TEXT (a file path, or - for stdin) once, print MB/s\n");
}

static char *read_all(FILE *f, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
        if (n == cap) {
            char *p = realloc(buf, cap * 2);
            if (!p) {
                free(buf);
                return NULL;
            }
            buf = p;
            cap *= 2;
        }
    }
    *len = n;
    return buf;
}

// Loads a tokenizer from a folder, tokenizer.json or GGUF.
static rs_status load_any(const char *path, tokenizer **tok, rs_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0) return rs_fail(err, RS_ERR_INPUT, "%s: %s", path, strerror(errno));
    size_t n = strlen(path);
    if (!S_ISDIR(st.st_mode) && !(n >= 5 && strcmp(path + n - 5, ".json") == 0)) {
        gguf_file *g;
        rs_status s = gguf_open(path, &g, err);
        if (s) return s;
        s = tokenizer_load_gguf(g, tok, err);
        gguf_close(g);
        return s;
    }
    return tokenizer_load_hf(path, tok, err);
}

// Writes s as a JSON string body.
static void json_str(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

// A piece for display: control bytes escaped, invalid UTF-8 as \xNN.
static void show_piece(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c < 0x20 || c == 0x7f || c >= 0x80)
            fprintf(f, c >= 0x80 ? "%c" : "\\x%02x", c);
        else
            fputc(c, f);
    }
}

int cmd_tokenize(int argc, char **argv)
{
    const char *model = NULL, *text = NULL;
    enum { OUT_BOTH, OUT_IDS, OUT_PIECES, OUT_JSON } mode = OUT_BOTH;
    bool add_special = false, parse_special = true, bench = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--ids") == 0)
            mode = OUT_IDS;
        else if (strcmp(a, "--pieces") == 0)
            mode = OUT_PIECES;
        else if (strcmp(a, "--json") == 0)
            mode = OUT_JSON;
        else if (strcmp(a, "--add-special") == 0)
            add_special = true;
        else if (strcmp(a, "--no-parse-special") == 0)
            parse_special = false;
        else if (strcmp(a, "--bench") == 0)
            bench = true;
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "rightsize tokenize: unknown option %s\n", a);
            usage(stderr);
            return 2;
        } else if (!model)
            model = a;
        else if (!text)
            text = a;
        else {
            fprintf(stderr, "rightsize tokenize: unexpected argument %s\n", a);
            return 2;
        }
    }
    if (!model || !text) {
        usage(stderr);
        return 2;
    }

    char *buf = NULL;
    size_t len = 0;
    if (strcmp(text, "-") == 0 || bench) {
        FILE *f = strcmp(text, "-") == 0 ? stdin : fopen(text, "rb");
        if (!f) {
            fprintf(stderr, "rightsize tokenize: %s: %s\n", text, strerror(errno));
            return 2;
        }
        buf = read_all(f, &len);
        if (f != stdin) fclose(f);
        if (!buf) {
            fprintf(stderr, "rightsize tokenize: out of memory reading the text\n");
            return 1;
        }
        text = buf;
    } else {
        len = strlen(text);
    }

    rs_error err = {0};
    tokenizer *tok = NULL;
    const double t0 = clock_now_s();
    if (load_any(model, &tok, &err)) {
        fprintf(stderr, "rightsize tokenize: %s\n", err.msg);
        free(buf);
        return err.status == RS_ERR_RUNTIME ? 1 : 2;
    }
    const double t1 = clock_now_s();
    int32_t *ids = NULL;
    int64_t n = 0;
    if (tokenizer_encode(tok, text, len, add_special, parse_special, &ids, &n, &err)) {
        fprintf(stderr, "rightsize tokenize: %s\n", err.msg);
        tokenizer_free(tok);
        free(buf);
        return 1;
    }
    const double t2 = clock_now_s();

    if (bench) {
        const double load_s = t1 - t0, enc_s = t2 - t1;
        printf("load %.3f s, encode %zu bytes -> %lld tokens in %.3f s: %.2f MB/s (1 thread)\n",
               load_s, len, (long long)n, enc_s, (double)len / 1e6 / enc_s);
    } else if (mode == OUT_IDS) {
        for (int64_t i = 0; i < n; i++)
            printf(i ? " %d" : "%d", ids[i]);
        printf("\n");
    } else if (mode == OUT_JSON) {
        printf("{\"ids\": [");
        for (int64_t i = 0; i < n; i++)
            printf(i ? ", %d" : "%d", ids[i]);
        printf("], \"pieces\": [");
        for (int64_t i = 0; i < n; i++) {
            size_t pl;
            const char *p = tokenizer_token_piece(tok, ids[i], &pl);
            if (i) printf(", ");
            json_str(stdout, p, pl);
        }
        printf("]}\n");
    } else {
        for (int64_t i = 0; i < n; i++) {
            size_t pl;
            const char *p = tokenizer_token_piece(tok, ids[i], &pl);
            if (mode == OUT_BOTH) printf("%d\t", ids[i]);
            show_piece(stdout, p, pl);
            printf("\n");
        }
    }
    free(ids);
    tokenizer_free(tok);
    free(buf);
    return 0;
}
