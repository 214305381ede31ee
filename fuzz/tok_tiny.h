#ifndef RS_FUZZ_TOK_TINY_H
#define RS_FUZZ_TOK_TINY_H

// Two tiny tokenizer.json texts for fuzzing (built in memory: fuzzers run
// in a scratch directory): a byte-level BPE with the Llama 3 split regex, NFC
// and two added tokens, and a ▁-style BPE with byte fallback like Mistral's.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t tiny_put_cp(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

// GPT-2's char for byte b (see tok_byte_to_cp), as JSON-safe UTF-8.
static size_t tiny_byte_char(char *o, int b)
{
    int printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    unsigned cp = printable   ? (unsigned)b
                  : b <= 0x20 ? 256u + (unsigned)b
                  : b <= 0xA0 ? 256u + 33 + (unsigned)(b - 0x7F)
                              : 256u + 67;
    if (cp == '"' || cp == '\\') {
        o[0] = '\\';
        o[1] = (char)cp;
        return 2;
    }
    return tiny_put_cp(o, cp);
}

// Caller frees.
static char *tiny_byte_level_json(void)
{
    size_t cap = 1 << 16, n = 0;
    char *j = malloc(cap);
    if (!j) return NULL;
    n += (size_t)snprintf(
        j + n, cap - n,
        "{\"added_tokens\":[{\"id\":262,\"content\":\"<|end|>\",\"special\":true,\"single_word\":"
        "false,"
        "\"lstrip\":false,\"rstrip\":false,\"normalized\":false},"
        "{\"id\":263,\"content\":\"<tool>\",\"special\":false,\"lstrip\":true,"
        "\"rstrip\":true,\"single_word\":false,\"normalized\":false}],\"normalizer\":{\"type\":"
        "\"NFC\"},"
        "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":"
        "\"Split\",\"pattern\":{\"Regex\":\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r"
        "\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+"
        "[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},\"behavior\":"
        "\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\",\"use_regex\":false,"
        "\"add_prefix_space\":false,\"trim_offsets\":false}]},"
        "\"decoder\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"
        "\"trim_offsets\":false,\"use_regex\":false},\"model\":{\"type\":\"BPE\","
        "\"ignore_merges\":true,\"vocab\":{");
    for (int b = 0; b < 256; b++) {
        j[n++] = '"';
        n += tiny_byte_char(j + n, b);
        n += (size_t)snprintf(j + n, cap - n, "\":%d,", b);
    }
    // Merged tokens 256..: "th", "the", "Ġt", "Ġthe", "in", "ing"
    n += (size_t)snprintf(j + n, cap - n,
                          "\"th\":256,\"the\":257,\"\xC4\xA0t\":258,\"\xC4\xA0the\":259,"
                          "\"in\":260,\"ing\":261},\"merges\":[[\"t\",\"h\"],[\"th\",\"e\"],"
                          "[\"\xC4\xA0\",\"t\"],[\"\xC4\xA0\",\"the\"],"
                          "[\"i\",\"n\"],[\"in\",\"g\"]]}}");
    return j;
}

static char *tiny_spm_json(void)
{
    size_t cap = 1 << 15, n = 0;
    char *j = malloc(cap);
    if (!j) return NULL;
    n += (size_t)snprintf(
        j + n, cap - n,
        "{\"added_tokens\":[{\"id\":0,\"content\":\"<unk>\",\"special\":true,\"single_word\":false,"
        "\"lstrip\":false,\"rstrip\":false,\"normalized\":false},{\"id\":1,"
        "\"content\":\"<s>\",\"special\":true,\"single_word\":false,\"lstrip\":false,\"rstrip\":"
        "false,\"normalized\":false},{\"id\":2,\"content\":\"</"
        "s>\",\"special\":true,\"single_word\":false,\"lstrip\":false,\"rstrip\":false,"
        "\"normalized\":false}],"
        "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":"
        "\"\xE2\x96\x81\"},{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":"
        "\"\xE2\x96\x81\"}]},\"pre_tokenizer\":null,\"post_processor\":{\"type\":"
        "\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},"
        "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"pair\":[{\"Sequence\":{\"id\":"
        "\"A\",\"type_id\":0}}],\"special_tokens\":{\"<s>\":{\"id\":\"<s>\","
        "\"ids\":[1],\"tokens\":[\"<s>\"]}}},\"decoder\":{\"type\":\"Sequence\",\"decoders\":["
        "{\"type\":\"Replace\",\"pattern\":{\"String\":\"\xE2\x96\x81\"},\"content\":\" \"},"
        "{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \","
        "\"start\":1,\"stop\":0}]},\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\","
        "\"fuse_unk\":true,\"byte_fallback\":true,\"vocab\":{\"<unk>\":0,\"<s>\":1,\"</s>\":2,");
    for (int b = 0; b < 256; b++)
        n += (size_t)snprintf(j + n, cap - n, "\"<0x%02X>\":%d,", b, 3 + b);
    n += (size_t)snprintf(j + n, cap - n,
                          "\"\xE2\x96\x81\":259,\"a\":260,\"b\":261,\"\xE2\x96\x81"
                          "a\":262,"
                          "\"ab\":263,\"\xE2\x96\x81"
                          "ab\":264,\"\xE2\x96\x81\xE2\x96\x81\":265},"
                          "\"merges\":[\"\xE2\x96\x81 a\",\"a b\",\"\xE2\x96\x81"
                          "a b\","
                          "\"\xE2\x96\x81 \xE2\x96\x81\"]}}");
    return j;
}

#endif
