/*
 * fuzz_gateway_json.c - the gateway's allocation-free JSON check (faas__gw_json_valid),
 * with jansson as the oracle: what jansson accepts, the check must accept; what the check
 * accepts, jansson must accept too, except where jansson is stricter than RFC 8259
 * (numbers too large for it, \u escapes of lone surrogates or of NUL, in a string or a
 * key) or nests deeper.
 * Inputs with a NUL byte must be refused; jansson may end its input at one.
 *
 * fuzz-requires: FAAS_HAVE_GATEWAY (make fuzz skips it in a build without the gateway)
 */
#include "internal.h"

#include "gateway.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* Does jansson refuse this for a reason RFC 8259 does not have? */
static bool jansson_stricter(const json_error_t *e)
{
    return strstr(e->text, "too big") != NULL || strstr(e->text, "overflow") != NULL ||
           strstr(e->text, "surrogate") != NULL ||
           strstr(e->text, "invalid Unicode") != NULL || strstr(e->text, "\\u0000") != NULL ||
           strstr(e->text, "NUL byte") != NULL ||      /* "\u0000" in a key */
           strstr(e->text, "maximum parsing depth") != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = NULL;
    size_t at = 0;
    bool ours = faas__gw_json_valid(data, size, &why, &at);
    if (!ours && (why == NULL || at > size))
        abort();
    if (memchr(data, '\0', size) != NULL) {
        if (ours)
            abort();                    /* a NUL is never JSON */
        return 0;                       /* and jansson may stop at one: no oracle */
    }
    json_error_t e;
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, &e);
    bool theirs = j != NULL;
    json_decref(j);
    if (theirs && !ours && strcmp(why, "nesting too deep") != 0)
        abort();                        /* a valid document refused */
    if (ours && !theirs && !jansson_stricter(&e))
        abort();                        /* an invalid document let through */
    return 0;
}
