#!/usr/bin/env python3
"""Writes the tokenizer parity fixtures for tests/test_tok_parity.c.

Usage: /work/venv/bin/python tools/make_tok_fixtures.py [TESTDATA_DIR]

It assembles a deterministic corpus (seeded random mixtures of English,
Chinese, Japanese, Korean, Arabic, Russian, Hindi, emoji with skin-tone
modifiers and ZWJ sequences, code, numbers, whitespace runs, invalid UTF-8
and special-token look-alikes), then encodes every string with Hugging Face
`tokenizers` for each tokenizer in TESTDATA_DIR/tokenizers.

Invalid UTF-8 has a defined meaning in rightsize: each maximal invalid
subsequence becomes U+FFFD. HF receives Python str, so the script feeds it
bytes.decode("utf-8", "replace"), which applies the same rule; the C test
feeds the raw bytes to rightsize.

Files written to tests/fixtures/tok/:
  corpus.hex       one string per line, its raw bytes in hex
  tiny.ids         for the small tokenizer.json files in fuzz/corpus/fuzz_tokenizer_json
                   (Metaspace, Digits, Punctuation, WordPiece, BertNormalizer,
                   ByteLevel prefix, lstrip/rstrip, normalized and single_word
                   added tokens...): per line
                   FILE TAB text hex TAB ids (add_special=False) TAB ids (add_special=True)
                   TAB decode hex (skip_special_tokens=False)
  NAME.ids         a header line "# add_special prefix=IDS suffix=IDS", then
                   per string: ids (add_special=False, special tokens parsed)
                   TAB decode (HF decode(ids, skip_special_tokens=False) in hex,
                   or "=" when it equals the str fed to HF)
                   TAB ids with special tokens not parsed (encode_special_tokens=True),
                   or "=" when equal to the first field
                   TAB decode with skip_special_tokens=True in hex, or "=" when equal
                   to the decode without skipping
"""
import os
import random
import sys

from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "tok")

ENGLISH = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello world", " Hello world", "Hello, y'all! How are you?",
    "I've been 'told he's there, 'RE you sure? 'M not sure I'll make it, 'D you like some tea?",
    "We'Ve a'lL done it; isn't it DON'T", "It's 3:45pm on 2024-05-17, and the temperature is -12.5°C.",
    "E-mail: john.doe@example.com, URL: https://example.org/path?q=1&x=%20y#frag",
    "Supercalifragilisticexpialidocious antidisestablishmentarianism",
    "ALL CAPS SENTENCE WITH NUMBERS 12345 AND SYMBOLS !@#$%^&*()",
    "Mr. Smith's cat—named \"Whiskers\"—isn't fond of the dog's bark…",
    "naïve café résumé coöperate façade jalapeño Zürich Ærø",
    "Straße, Œuvre, Ångström, ﬁnance ﬂow (ligatures), K (Kelvin) Ω (Ohm)",
]
CHINESE = ["我想在apple工作1314151天～", "你好，世界！今天天气很好。", "人工智能正在改变我们的生活方式。",
           "这是一个测试：数字１２３和标点。", "北京欢迎你", "中华人民共和国成立于1949年10月1日。"]
JAPANESE = ["こんにちは、世界！", "東京は日本の首都です。", "カタカナとひらがなと漢字が混ざった文章。",
            "ｶﾀｶﾅ半角テスト", "吾輩は猫である。名前はまだ無い。"]
KOREAN = ["안녕하세요, 세계!", "한국어 문장을 토큰화합니다.", "\u1100\u1161\u11a8 decomposed jamo"]
ARABIC = ["مرحبا بالعالم", "اللغة العربية جميلة جداً.", "السلام عليكم ورحمة الله وبركاته ١٢٣٤",
          "עברית: שלום עולם"]
OTHER = ["нещо на Български", "Привет, мир! Как дела?", "नमस्ते दुनिया", "สวัสดีชาวโลก",
         "កᖁᑎᐱᓕᕐᓂᖅ", "Ελληνικά γράμματα αβγδε", "ខ្ញុំចង់ទៅផ្ទះ", "Tiếng Việt có dấu: Hà Nội",
         "e\u0301 vs \u00e9 (NFC)", "A\u030a\u0301 stacked marks", "\u0000nul\u0000byte", "\u200b zero\u200dwidth \ufeffbom"]
EMOJI = ["🚀 (normal) 😶‍🌫️ (multiple emojis concatenated) ✅ (only emoji that has its own token)",
         "👍🏽👍🏿👋🏻", "👨‍👩‍👧‍👦 family", "🏳️‍🌈 🏴‍☠️", "🇯🇵🇺🇸🇫🇷", "1️⃣ #️⃣ *️⃣", "🦙.cpp 🤗 transformers",
         "👩🏽‍💻👨🏿‍🔬🧑‍🚀", "❤️‍🔥 ❤ ♥️", "😀😃😄😁😆😅😂🤣"]
CODE = [
    "def main():\n    print('hello')\n    return 0\n",
    "for (int i = 0; i < n; ++i) {\n\tsum += a[i] * b[i];\n}\n",
    "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); }",
    "{\"key\": [1, 2.5, null, true], \"nested\": {\"a\": \"b\"}}",
    "SELECT * FROM users WHERE id = 42 AND name LIKE '%smith%';",
    "const f = (x) => x ** 2; // arrow\nconsole.log(f(3));",
    "if x != None and y >= 3:\n        z = x << 2 | y & 0xFF",
    "<div class=\"a\">&lt;p&gt; text &amp; more</div>",
    "$ ls -la | grep '^d' > out.txt 2>&1",
    "fn main() -> Result<(), Box<dyn Error>> { Ok(()) }",
]
NUMBERS = ["3", "33", "333", "3333", "33333", "333333", "3333333", "33333333", "333333333",
           "3.3", "3..3", "3...3", "1,234,567.89", "0.000001", "1e-10", "-42", "+7",
           "123456789012345678901234567890", "2024-01-01T00:00:00Z", "(555) 123-4567",
           "v1.2.3-rc.4", "١٢٣٤٥ ٦٧٨٩", "①②③ ⅣⅤ ½ ¾", "0x1F 0b1010 0o777"]
WHITESPACE = ["", " ", "  ", "   ", "\t", "\n", "\n\n", "\n\n\n", "\t\n", " \n \n", "\r\n", "\r\n\r\n",
              "a" + " " * 40 + "b", " " * 100, "\t" * 20, "\n" * 30, "x \t \n y", "   Hello",
              "    Hello\n    Hello", "\u00a0non-breaking\u00a0space", "\u3000ideographic\u3000space",
              "thin\u2009space", "trailing   ", "\v\f vertical", "line1\nline2\n\nline4   \n"]
SPECIAL = ["<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", "<|im_end", "< |im_end|>",
           "<|im_end|><|im_end|>", "<s>", "</s>", "<unk>", "<s>[INST] hi [/INST]", " <s> x </s> ",
           "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>",
           "<|endoftext|>", "<|eot_id", "<|reserved_special_token_5|>", "<0x0A>", "<0xFF>",
           "▁▁hello▁world", "Ġhello Ċ", "<think>\nok\n</think>", "<tool_call>{}</tool_call>",
           "text<|im_start|>mid<|im_end|>end", "<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>",
           "<<|im_end|>>", "<|<|im_end|>|>", "[CLS] [SEP] [MASK]", "<|vision_start|><|image_pad|>"]
INVALID = [b"\xff", b"\xfe\xff", b"abc\x80def", b"\xc3", b"\xc3(", b"\xe2\x82", b"\xe2\x82(",
           b"\xf0\x9f\x98", b"\xf0\x9f\x98 end", b"\xed\xa0\x80", b"\xc0\xaf", b"\xe0\x80\xaf",
           b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\x80\x80\x80", b"ok\xc2", b"\xc2\xc2\xc2",
           b"mixed \xe4\xbd\xa0\xe5\xa5 half", b"\xf0\x9f\x98\x80\xf0\x9f", b"Hello \xff\xfe world"]

FRAGMENTS = ENGLISH + CHINESE + JAPANESE + KOREAN + ARABIC + OTHER + EMOJI + CODE + NUMBERS + WHITESPACE + SPECIAL


def build_corpus():
    rnd = random.Random(20241125)
    corpus = []
    for s in FRAGMENTS:
        corpus.append(s.encode("utf-8"))
    corpus.extend(INVALID)
    # Random mixtures of fragments with random separators.
    seps = ["", " ", "  ", "\n", "\t", " \n", "\n\n", "   "]
    while len(corpus) < 1700:
        k = rnd.randint(1, 5)
        parts = [rnd.choice(FRAGMENTS) for _ in range(k)]
        s = ""
        for p in parts:
            s += rnd.choice(seps) + p
        corpus.append(s.encode("utf-8"))
    # Random code points from many blocks, including combining marks.
    blocks = [(0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF),
              (0x590, 0x6FF), (0x900, 0x97F), (0xE00, 0xE7F), (0x1100, 0x11FF), (0x1E00, 0x1FFF),
              (0x2000, 0x206F), (0x2100, 0x21FF), (0x3000, 0x30FF), (0x4E00, 0x9FFF),
              (0xAC00, 0xD7A3), (0xFB00, 0xFB4F), (0xFF00, 0xFFEF), (0x1F300, 0x1FAFF),
              (0x10000, 0x1007F), (0x1D400, 0x1D7FF)]
    while len(corpus) < 1900:
        n = rnd.randint(1, 30)
        s = ""
        for _ in range(n):
            a, b = rnd.choice(blocks)
            s += chr(rnd.randint(a, b))
            if rnd.random() < 0.2:
                s += " "
        corpus.append(s.encode("utf-8"))
    # Random bytes mixed into text: invalid UTF-8 in context.
    while len(corpus) < 2100:
        base = rnd.choice(FRAGMENTS).encode("utf-8")
        b = bytearray(base)
        for _ in range(rnd.randint(1, 4)):
            pos = rnd.randint(0, len(b))
            b[pos:pos] = bytes(rnd.randint(0x80, 0xFF) for _ in range(rnd.randint(1, 3)))
        corpus.append(bytes(b))
    return corpus


TINY_TEXTS = ["Hello, world! the thing   12.34 <tool> x", " ab  ab a b", "hello HELLO \u00bd 12 <unk>x . . ...",
              "Hello worlds! apple \u4e2d\u56fd \u00c4pfel", " a a b", "the ing thing inging", "<|end|> <tool>the",
              "x  <tool>  y", "", " ", "a\tb\nc", "1234567", "...!!!???", "\u00e9\u0301 caf\u00e9", "[CLS] hello [SEP]",
              "<s>ab</s>", "   leading", "trailing   ", "\ufb01ne \u2126", "AbC dEf", "\U0001f999 x \U0001f44d\U0001f3fd",
              "a <t> b", "a<t>b", "ab b", "xab bx", " ab b", "ba", "a ba b", "aba", "ba.", "\u00e9 ba_", "<s>ab b</s>",
              "\u00e9ba ba\u00e9 \u0660ba"]


def tiny_fixtures():
    d = os.path.join(HERE, "..", "fuzz", "corpus", "fuzz_tokenizer_json")
    lines = []
    for f in sorted(os.listdir(d)):
        tok = Tokenizer.from_file(os.path.join(d, f))
        for s in TINY_TEXTS:
            a = tok.encode(s, add_special_tokens=False).ids
            b = tok.encode(s, add_special_tokens=True).ids
            dec = tok.decode(a, skip_special_tokens=False)
            lines.append("%s\t%s\t%s\t%s\t%s" % (f, s.encode().hex(), " ".join(map(str, a)),
                                                 " ".join(map(str, b)), dec.encode().hex()))
    with open(os.path.join(OUT, "tiny.ids"), "w") as fh:
        fh.write("\n".join(lines) + "\n")


def main():
    testdata = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "shared", "testdata")
    corpus = build_corpus()
    os.makedirs(OUT, exist_ok=True)
    tiny_fixtures()
    with open(os.path.join(OUT, "corpus.hex"), "w") as f:
        for s in corpus:
            f.write(s.hex() + "\n")
    for name in sorted(os.listdir(os.path.join(testdata, "tokenizers"))):
        tok = Tokenizer.from_file(os.path.join(testdata, "tokenizers", name, "tokenizer.json"))
        probe = tok.encode("x", add_special_tokens=False).ids
        full = tok.encode("x", add_special_tokens=True).ids
        i = next(k for k in range(len(full)) if full[k:k + len(probe)] == probe)
        prefix, suffix = full[:i], full[i + len(probe):]
        lines = ["# add_special prefix=%s suffix=%s" % (",".join(map(str, prefix)), ",".join(map(str, suffix)))]
        for raw in corpus:
            text = raw.decode("utf-8", "replace")
            tok.encode_special_tokens = False
            ids = tok.encode(text, add_special_tokens=False).ids
            dec = tok.decode(ids, skip_special_tokens=False)
            tok.encode_special_tokens = True
            ids2 = tok.encode(text, add_special_tokens=False).ids
            dec_skip = tok.decode(ids, skip_special_tokens=True)
            lines.append("%s\t%s\t%s\t%s" % (" ".join(map(str, ids)),
                                             "=" if dec == text else dec.encode("utf-8").hex(),
                                             "=" if ids2 == ids else " ".join(map(str, ids2)),
                                             "=" if dec_skip == dec else dec_skip.encode("utf-8").hex()))
        with open(os.path.join(OUT, name + ".ids"), "w") as f:
            f.write("\n".join(lines) + "\n")
        print(name, len(corpus), "strings")


if __name__ == "__main__":
    main()
