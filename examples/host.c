/* host.c - a host program: registers a function of its own and one from a module, calls
 * both, and prints what each call cost. Run: ./host [MODULE_DIR] */
#include <faas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A host function: replies "hello, <payload>". */
static int greet(faas_ctx *ctx, const void *payload, size_t len)
{
    char *out = faas_ctx_alloc(ctx, len + 8);       /* freed when the call ends */
    if (out == NULL)
        return faas_fail(ctx, "TooLarge", "%zu bytes will not fit", len);
    memcpy(out, "hello, ", 7);
    memcpy(out + 7, payload, len);
    return faas_reply(ctx, out, len + 7);
}

static int show(faas_runtime *rt, const char *name, const char *payload)
{
    faas_response res;
    int rc = faas_invoke(rt, name, payload, strlen(payload), &res);
    if (rc == FAAS_OK)
        printf("%-10s -> %s (%s, %u ms billed, %llu pico-dollars)\n", name,
               (const char *)res.data, res.record.cold ? "cold" : "warm", res.record.billed_ms,
               (unsigned long long)res.record.cost_picousd);
    else
        fprintf(stderr, "%s failed: %s: %s\n", name, faas_strerror(rc), res.error_message);
    faas_response_free(&res);
    return rc;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : getenv("FAAS_MODULE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/wordcount.so", dir ? dir : ".");

    faas_runtime *rt;
    if (faas_runtime_new(&rt, NULL) != FAAS_OK) {
        fprintf(stderr, "faas_runtime_new: %s\n", faas_last_error());
        return 1;
    }
    int rc = faas_register(rt, "greet", greet, NULL);
    if (rc == FAAS_OK)
        rc = faas_register_module(rt, "wordcount", path, "wordcount", NULL);
    if (rc != FAAS_OK) {
        fprintf(stderr, "register: %s\n", faas_last_error());
        faas_runtime_free(rt);
        return 1;
    }
    int failed = 0;
    failed |= show(rt, "greet", "world") != FAAS_OK;
    failed |= show(rt, "greet", "again") != FAAS_OK;
    failed |= show(rt, "wordcount", "\"one two three\"") != FAAS_OK;
    failed |= show(rt, "wordcount", "\"four five\"") != FAAS_OK;

    faas_stats st;
    if (faas_stats_get(rt, NULL, &st) == FAAS_OK)
        printf("%llu calls, %llu cold, %llu pico-dollars in all\n",
               (unsigned long long)st.invocations, (unsigned long long)st.cold_starts,
               (unsigned long long)st.cost_picousd);
    faas_runtime_free(rt);
    return failed;
}
