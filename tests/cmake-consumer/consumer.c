/* consumer.c - registers a function, calls it, and checks that the <faas.h> it was compiled
 * against is the library it runs with; prints the reply and the version. */
#include <faas.h>
#include <faas/version.h>
#include <stdio.h>
#include <string.h>

static int twice(faas_ctx *ctx, const void *payload, size_t len)
{
    char out[64];
    int n = snprintf(out, sizeof out, "%.*s%.*s", (int)len, (const char *)payload, (int)len,
                     (const char *)payload);
    return faas_reply(ctx, out, (size_t)n);
}

int main(void)
{
    faas_runtime *rt;
    faas_response res;
    int rc;

    if (faas_version_number() != FAAS_VERSION_HEX) {
        fprintf(stderr, "header %s, library %s\n", FAAS_VERSION_STRING, faas_version());
        return 1;
    }
    if ((rc = faas_runtime_new(&rt, NULL)) != FAAS_OK ||
        (rc = faas_register(rt, "twice", twice, NULL)) != FAAS_OK) {
        fprintf(stderr, "setup: %s\n", faas_strerror(rc));
        return 1;
    }
    rc = faas_invoke(rt, "twice", "\"ab\"", 4, &res);
    if (rc == FAAS_OK)
        printf("%.*s %s\n", (int)res.len, (const char *)res.data, faas_version());
    else
        fprintf(stderr, "invoke: %s\n", faas_strerror(rc));
    faas_response_free(&res);
    faas_runtime_free(rt);
    return rc == FAAS_OK ? 0 : 1;
}
