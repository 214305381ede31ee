// rightsize template MODEL --system S --user U --assistant A ...: the exact
// prompt the model's chat template makes of a conversation.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "tok/chat_template.h"

static void template_usage(FILE *out)
{
    fprintf(out,
            "usage: rightsize template MODEL [--system S] [--user U] [--assistant A] ...\n"
            "                          [--no-generation-prompt] [--think on|off]\n"
            "                          [--chat-template NAME|FILE.jinja] [--json]\n\n"
            "Prints the prompt the model's chat template makes of the conversation, exactly\n"
            "(no newline added). MODEL: an HF folder (tokenizer_config.json), a GGUF file,\n"
            "or a .jinja file. Messages are taken in the order given.\n\n"
            "  --chat-template NAME   use this family instead of the model's template:\n"
            "                         %s\n",
            chat_family_list());
}

int cmd_template(int argc, char **argv)
{
    const char *model = NULL, *override = NULL;
    bool json = false;
    chat_options opts = chat_default_options();
    chat_message *msgs = calloc((size_t)argc, sizeof *msgs); // at most one message per argument
    size_t n = 0;
    if (!msgs) {
        fprintf(stderr, "rightsize template: out of memory\n");
        return 1;
    }
    int rc = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *role = strcmp(a, "--system") == 0      ? "system"
                           : strcmp(a, "--user") == 0      ? "user"
                           : strcmp(a, "--assistant") == 0 ? "assistant"
                                                           : NULL;
        bool takes_value = role || strcmp(a, "--think") == 0 || strcmp(a, "--chat-template") == 0;
        if (takes_value && i + 1 >= argc) {
            fprintf(stderr, "rightsize template: %s needs a value\n", a);
            goto out;
        }
        if (role) {
            msgs[n].role = role;
            msgs[n++].content = argv[++i];
        } else if (strcmp(a, "--think") == 0) {
            const char *v = argv[++i];
            if (strcmp(v, "on") == 0)
                opts.enable_thinking = 1;
            else if (strcmp(v, "off") == 0)
                opts.enable_thinking = 0;
            else {
                fprintf(stderr, "rightsize template: --think takes on or off, not \"%s\"\n", v);
                goto out;
            }
        } else if (strcmp(a, "--chat-template") == 0) {
            override = argv[++i];
        } else if (strcmp(a, "--no-generation-prompt") == 0) {
            opts.add_generation_prompt = false;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            template_usage(stdout);
            rc = 0;
            goto out;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "rightsize template: unknown option \"%s\"\n", a);
            template_usage(stderr);
            goto out;
        } else if (!model) {
            model = a;
        } else {
            fprintf(stderr, "rightsize template: one MODEL only (got \"%s\" and \"%s\")\n", model,
                    a);
            goto out;
        }
    }
    if (!model) {
        template_usage(stderr);
        goto out;
    }
    if (n == 0) {
        fprintf(stderr,
                "rightsize template: give at least one message (--system, --user, --assistant)\n");
        goto out;
    }

    chat_template_info info;
    rs_error err = {0};
    if (chat_template_load(model, &info, &err) != RS_OK) {
        fprintf(stderr, "rightsize template: %s\n", err.msg);
        rc = err.status == RS_ERR_RUNTIME ? 1 : 2;
        goto out;
    }
    chat_family family;
    char *def_sys = NULL;
    if (chat_template_resolve(&info, override, &family, &def_sys, &err) != RS_OK) {
        fprintf(stderr, "rightsize template: %s\n", err.msg);
        chat_template_info_free(&info);
        goto out;
    }
    opts.default_system = def_sys;
    opts.bos_token = info.bos_token;
    opts.eos_token = info.eos_token;
    if (!chat_family_keeps_system(family))
        for (size_t i = 0; i < n; i++)
            if (strcmp(msgs[i].role, "system") == 0) {
                fprintf(stderr,
                        "rightsize template: warning: the %s template drops system messages; "
                        "the model will not see \"%.40s\"\n",
                        chat_family_name(family), msgs[i].content);
                break;
            }
    char *prompt = NULL;
    if (chat_render(family, msgs, n, &opts, &prompt, &err) != RS_OK) {
        fprintf(stderr, "rightsize template: %s: %s\n", model, err.msg);
        rc = err.status == RS_ERR_RUNTIME ? 1 : 2;
    } else if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "model", model);
        cJSON_AddStringToObject(o, "family", chat_family_name(family));
        cJSON_AddStringToObject(o, "detected_family", chat_template_family_name(info.text));
        if (info.source)
            cJSON_AddStringToObject(o, "template_source", info.source);
        else
            cJSON_AddNullToObject(o, "template_source");
        if (info.bos_token)
            cJSON_AddStringToObject(o, "bos_token", info.bos_token);
        else
            cJSON_AddNullToObject(o, "bos_token");
        if (info.eos_token)
            cJSON_AddStringToObject(o, "eos_token", info.eos_token);
        else
            cJSON_AddNullToObject(o, "eos_token");
        cJSON_AddBoolToObject(o, "add_generation_prompt", opts.add_generation_prompt);
        if (opts.enable_thinking >= 0)
            cJSON_AddBoolToObject(o, "enable_thinking", opts.enable_thinking == 1);
        cJSON_AddStringToObject(o, "prompt", prompt);
        char *s = cJSON_Print(o);
        if (s) printf("%s\n", s);
        free(s);
        cJSON_Delete(o);
        rc = 0;
    } else {
        fwrite(prompt, 1, strlen(prompt), stdout);
        rc = 0;
    }
    free(prompt);
    free(def_sys);
    chat_template_info_free(&info);
out:
    free(msgs);
    return rc;
}
