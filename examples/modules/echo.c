/* echo.c - the smallest function module: replies with its payload.
 * Build: cc -shared -fPIC echo.c -o echo.so $(pkg-config --cflags --libs libfaas) */
#include <faas.h>

/* The exported handler (a prototype keeps -Wmissing-prototypes quiet). */
int echo(faas_ctx *ctx, const void *payload, size_t len);

int echo(faas_ctx *ctx, const void *payload, size_t len)
{
    return faas_reply(ctx, payload, len);
}
