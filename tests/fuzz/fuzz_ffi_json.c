/*
 * fuzz_ffi_json.c - libFuzzer target: JSON -> C marshalling and C -> JSON results
 * (libfaas/ffi_json.c). The input is "SIGNATURE\nPAYLOAD"; when its first line is not a
 * signature, one of a fixed set is chosen by the first byte and the whole input is the
 * payload. The arguments are built as for a call (never made) and released as when a call
 * did not happen; then a result made of the input's bytes is turned into JSON, which must
 * parse and read back to the same value.
 */
#include "ffi.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fixed[] = {
    "int add(int a, int b)",
    "uint64_t (uint64_t)",
    "int8_t (uint8_t, int16_t, uint16_t, int32_t, uint32_t, int64_t)",
    "double (float, double)",
    "float (double)",
    "bool (bool)",
    "const char *(const char *, char *)",
    "faas_owned char *(faas_owned char *, int)",
    "int dprintf(int, const char *, ...)",
    "void (void)",
    ("size_t (size_t, ssize_t, long, unsigned long, long long, unsigned long long, char, "
     "signed char, unsigned char, short, unsigned short, intptr_t, uintptr_t, ptrdiff_t)"),
};
#define NFIXED (sizeof fixed / sizeof fixed[0])

/* The result's JSON must be JSON, and say the value it was made from. */
static void check_result(const faas__ffi_type *t, const faas__ffi_value *r, const char *s,
                         const char *out, size_t len)
{
    if (strlen(out) != len)
        abort();
    json_error_t je;
    json_t *j = json_loadb(out, len, JSON_DECODE_ANY, &je);
    if (j == NULL) {
        /* Past INT64_MAX jansson has no integer: only an unsigned type may print one. */
        if (t->cls == FAAS__FFI_UINT && json_error_code(&je) == json_error_numeric_overflow)
            return;
        abort();
    }
    switch ((enum faas__ffi_class)t->cls) {
    case FAAS__FFI_VOID:
        if (!json_is_null(j))
            abort();
        break;
    case FAAS__FFI_BOOL:
        if (!json_is_boolean(j) || json_is_true(j) != ((uint8_t)r->r != 0))
            abort();
        break;
    case FAAS__FFI_SINT:
    case FAAS__FFI_UINT:
        if (!json_is_integer(j))
            abort();
        break;
    case FAAS__FFI_FLOAT:
    case FAAS__FFI_DOUBLE: {
        if (!json_is_real(j))
            abort();                    /* "1.0", never "1" */
        double want = t->cls == FAAS__FFI_FLOAT ? (double)r->f : r->d;
        double got = json_real_value(j);
        if (t->cls == FAAS__FFI_FLOAT ? strtof(out, NULL) != r->f : got != want)
            abort();
        if (signbit(got) != signbit(want))
            abort();                    /* -0.0 stays negative */
        break;
    }
    case FAAS__FFI_STRING:
        if (s == NULL ? !json_is_null(j) : !json_is_string(j) ||
            strcmp(json_string_value(j), s) != 0)
            abort();
        break;
    }
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    faas__ffi_sig *sig = NULL;
    const char *payload = (const char *)data;
    size_t len = size;
    const uint8_t *nl = memchr(data, '\n', size);
    if (nl != NULL && (size_t)(nl - data) <= FAAS__FFI_SIG_MAX) {
        char line[FAAS__FFI_SIG_MAX + 1];
        memcpy(line, data, (size_t)(nl - data));
        line[nl - data] = '\0';
        if (faas__ffi_sig_parse(line, &sig, err, sizeof err) == FAAS_OK) {
            payload = (const char *)nl + 1;
            len = size - (size_t)(nl - data) - 1;
        }
    }
    if (sig == NULL &&
        faas__ffi_sig_parse(fixed[size ? data[0] % NFIXED : 0], &sig, err, sizeof err) != FAAS_OK)
        abort();

    faas__ffi_call c;
    err[0] = '\0';
    int rc = faas__ffi_json_args(&c, sig, payload, len, err, sizeof err);
    if (rc == FAAS_OK) {
        if (c.nargs < sig->nparams || (!sig->variadic && c.nargs != sig->nparams))
            abort();
        if (c.cif != (sig->variadic ? &c.vcif : &sig->cif))
            abort();
        for (unsigned i = 0; i < c.nargs; i++) {
            if (c.avalues[i] != &c.values[i])
                abort();
            ffi_type *ft = sig->variadic ? c.vtypes[i] : sig->params[i].ft;
            if (ft == &ffi_type_pointer && strlen(c.values[i].s) > len)
                abort();                /* a string argument is read whole (ASan) */
        }
    } else if ((rc != FAAS_EINVAL && rc != FAAS_ENOMEM) || err[0] == '\0') {
        abort();
    }

    /* The exact path (each value read alone) must agree with the whole-payload parse:
     * the same verdict, the same C values. */
    faas__ffi_call x;
    char xerr[512] = "";
    int xrc = faas__ffi_json_args_exact(&x, sig, payload, len, xerr, sizeof xerr);
    if (xrc != rc) {
        fprintf(stderr, "paths disagree: %s (%s) vs exact %s (%s)\n", faas_err_name(rc), err,
                faas_err_name(xrc), xerr);
        abort();
    }
    if (rc == FAAS_OK) {
        if (x.nargs != c.nargs)
            abort();
        for (unsigned i = 0; i < c.nargs; i++) {
            ffi_type *ft = sig->variadic ? c.vtypes[i] : sig->params[i].ft;
            if (ft != (sig->variadic ? x.vtypes[i] : ft))
                abort();
            if (ft == &ffi_type_pointer ? strcmp(c.values[i].s, x.values[i].s) != 0
                                        : memcmp(&c.values[i], &x.values[i], ft->size) != 0)
                abort();
        }
    }
    faas__ffi_call_done(&x, false);
    faas__ffi_call_done(&c, false);

    /* A result made of the input's bytes. */
    faas__ffi_value r;
    memset(&r, 0, sizeof r);
    memcpy(&r, data, size < sizeof r ? size : sizeof r);
    char *s = NULL;
    if (sig->ret.cls == FAAS__FFI_STRING) {
        if (size > 0 && data[0] & 1) {
            s = malloc(len + 1);        /* the payload's bytes: often not UTF-8 */
            if (s == NULL)
                abort();
            memcpy(s, payload, len);
            s[len] = '\0';
        }
        r.s = sig->ret.owned && s != NULL ? strdup(s) : s;   /* an owned one is freed */
    }
    char buf[64], *out;
    size_t outlen;
    err[0] = '\0';
    rc = faas__ffi_json_result(&sig->ret, &r, buf, sizeof buf, &out, &outlen, err, sizeof err);
    if (rc == FAAS_OK) {
        check_result(&sig->ret, &r, s, out, outlen);
        if (out != buf)
            free(out);
    } else if ((rc != FAAS_EINVAL && rc != FAAS_ENOMEM) || err[0] == '\0') {
        abort();
    }
    free(s);
    faas__ffi_sig_free(sig);
    return 0;
}
