/*
 * fuzz_ffi_sig.c - libFuzzer target: the C-signature parser (libfaas/ffi_sig.c) on any
 * bytes. Beyond crashes, leaks and undefined behaviour it checks two properties: every
 * refusal says why, and an accepted signature's normal form parses again to the same
 * form, types and flags.
 */
#include "ffi.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same(const faas__ffi_type *a, const faas__ffi_type *b)
{
    if (a->ft != b->ft || a->cls != b->cls || a->size != b->size || a->owned != b->owned ||
        a->is_const != b->is_const || strcmp(a->name, b->name) != 0 ||
        (a->pname == NULL) != (b->pname == NULL) ||
        (a->pname != NULL && strcmp(a->pname, b->pname) != 0))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';                  /* a NUL inside ends the signature early */
    char err[512] = "";
    faas__ffi_sig *sig;
    int rc = faas__ffi_sig_parse(text, &sig, err, sizeof err);
    if (rc == FAAS_OK) {
        faas__ffi_sig *again;
        char err2[512] = "";
        if (faas__ffi_sig_parse(sig->text, &again, err2, sizeof err2) != FAAS_OK)
            abort();                    /* the normal form must parse */
        if (strcmp(again->text, sig->text) != 0 || again->nparams != sig->nparams ||
            again->variadic != sig->variadic ||
            (again->fname == NULL) != (sig->fname == NULL))
            abort();
        same(&again->ret, &sig->ret);
        for (unsigned i = 0; i < sig->nparams; i++)
            same(&again->params[i], &sig->params[i]);
        faas__ffi_sig_free(again);
        faas__ffi_sig_free(sig);
    } else if ((rc != FAAS_EINVAL && rc != FAAS_ENOMEM) || err[0] == '\0' || sig != NULL) {
        abort();                        /* a refusal is EINVAL with a message */
    }
    free(text);
    return 0;
}
