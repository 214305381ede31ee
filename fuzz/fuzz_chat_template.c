// libFuzzer target: chat template detection, default-system extraction and
// rendering on arbitrary bytes. The input is split at the first NUL: the part
// before is a template text, the bytes after become message contents (split
// at further NULs), rendered with the detected family and with every family.
// Any crash, leak, over-read or UB is a finding.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tok/chat_template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    const char *text = buf;
    size_t tlen = strlen(buf);

    chat_family detected = chat_family_detect(text);
    (void)chat_template_family_name(text);
    free(chat_template_default_system(text, 1));

    // Messages: system, user, assistant, ... cycling, from the rest.
    static const char *const roles[] = {"system", "user", "assistant", "user", "assistant"};
    chat_message msgs[8];
    size_t n = 0;
    for (size_t off = tlen + 1; off <= size && n < 8; n++) {
        msgs[n].role = roles[n % 5];
        msgs[n].content = buf + off;
        off += strlen(buf + off) + 1;
    }
    chat_options o = chat_default_options();
    o.bos_token = "<s>";
    o.eos_token = "</s>";
    o.default_system = "default";
    o.now = 1741953600;
    o.enable_thinking = (int)(size % 3) - 1;
    o.add_generation_prompt = size % 2 == 0;
    for (int f = 0; f < CHAT_FAMILY_COUNT; f++) {
        if (f != CHAT_FAMILY_UNKNOWN && f != (int)detected && size % 7 != 0) continue;
        char *out = NULL;
        rs_error err;
        if (chat_render((chat_family)f, msgs, n, &o, &out, &err) == RS_OK) free(out);
        // Also starting with a user turn, which alternation checks accept.
        if (n > 1 && chat_render((chat_family)f, msgs + 1, n - 1, &o, &out, &err) == RS_OK)
            free(out);
    }
    free(buf);
    return 0;
}
