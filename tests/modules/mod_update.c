/* mod_update.c - test fixture of faas_update_code: built three times, as mod_update_a
 * (answers "A"), mod_update_b (answers "B", and fails a "boom" payload) and mod_update_bad
 * (its INIT fails), so that a test can tell which code answered. */
#include <faas.h>
#include <string.h>

#ifndef ANSWER
#define ANSWER "A"
#endif

int faas_init(void **st, const char *function);
void faas_shutdown(void *st);
int answer(faas_ctx *ctx, const void *payload, size_t len);

int faas_init(void **st, const char *function)
{
#ifdef FAIL_INIT
    (void)st;
    faas_fail(NULL, NULL, "update fixture: INIT of %s refuses to start", function);
    return -1;
#else
    static int token;
    (void)function;
    *st = &token;
    return 0;
#endif
}

void faas_shutdown(void *st)
{
    (void)st;
}

int answer(faas_ctx *ctx, const void *payload, size_t len)
{
    if (ANSWER[0] == 'B' && len == 4 && memcmp(payload, "boom", 4) == 0)
        return faas_fail(ctx, "Boom", "code B fails on boom");
    return faas_reply(ctx, ANSWER, strlen(ANSWER));
}
