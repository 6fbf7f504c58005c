/* wordcount.c - counts the words of a JSON string payload ("some text") or of raw text,
 * and replies {"words":N,"chars":M}. Shows faas_fail() for bad input and the call arena. */
#include <faas.h>
#include <stdio.h>
#include <string.h>

int wordcount(faas_ctx *ctx, const void *payload, size_t len);

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int wordcount(faas_ctx *ctx, const void *payload, size_t len)
{
    const unsigned char *p = payload;
    /* A JSON string: count what is between the quotes (escapes count as characters). */
    if (len > 0 && p[0] == '"') {
        if (len < 2 || p[len - 1] != '"')
            return faas_fail(ctx, "InvalidInput", "payload starts a JSON string "
                             "but does not end one");
        p++;
        len -= 2;
    } else if (len > 0 && (p[0] == '{' || p[0] == '[')) {
        return faas_fail(ctx, "InvalidInput", "expected a JSON string or plain text, "
                         "got a JSON %s", p[0] == '{' ? "object" : "array");
    }
    unsigned long words = 0;
    int in_word = 0;
    for (size_t i = 0; i < len; i++) {
        if (is_space(p[i])) {
            in_word = 0;
        } else if (!in_word) {
            in_word = 1;
            words++;
        }
    }
    char *out = faas_ctx_alloc(ctx, 64);   /* freed when the call ends */
    if (out == NULL)
        return -1;
    int n = snprintf(out, 64, "{\"words\":%lu,\"chars\":%zu}", words, len);
    faas_ctx_log(ctx, "counted %lu words", words);
    return faas_reply(ctx, out, (size_t)n);
}
