/* fuzz_qname.c - libFuzzer target of the qualified-name parser (libfaas/qname.c): any
 * bytes, NUL-terminated; a name that parses must keep the invariants its callers rely on
 * (lengths inside the string, the colon where name_len says, the kind from the spelling). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qname.h"
#include "faas.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    faas__qname q;
    if (faas__qname_parse(s, &q) == FAAS_OK) {
        size_t n = strlen(s);
        if (q.len != n || q.name_len == 0 || q.name_len > 64 || q.name_len > n)
            abort();
        if ((q.kind == FAAS__Q_NONE) != (q.name_len == n))
            abort();
        if (q.kind != FAAS__Q_NONE && (s[q.name_len] != ':' || n - q.name_len - 1 > 128 ||
                                       strchr(s + q.name_len + 1, ':') != NULL))
            abort();
        if (q.kind == FAAS__Q_LATEST && strcmp(s + q.name_len, ":$LATEST") != 0)
            abort();
    }
    free(s);
    return 0;
}
