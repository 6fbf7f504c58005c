/* greet.c - the function `faas demo` publishes twice: built as greet.so (version 1) and,
 * with -DGREET_V2, as greet_v2.so (version 2, a rebuilt module with the same symbol).
 * Build: cc -shared -fPIC greet.c -o greet.so $(pkg-config --cflags --libs libfaas) */
#include <faas.h>

#include <stdio.h>

int greet(faas_ctx *ctx, const void *payload, size_t len);

int greet(faas_ctx *ctx, const void *payload, size_t len)
{
    (void)payload; (void)len;
    char reply[64];
#ifdef GREET_V2
    int n = snprintf(reply, sizeof reply, "{\"greeting\":\"Hello!\",\"version\":2}");
#else
    int n = snprintf(reply, sizeof reply, "{\"greeting\":\"hello\"}");
#endif
    return faas_reply(ctx, reply, (size_t)n);
}
