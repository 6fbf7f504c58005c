/*
 * ffi.c - the libffi bridge: faas_register_ffi() parses a C function's signature and
 * prepares its call once; each instance resolves the symbol; one handler serves both the
 * JSON payload path and faas_invoke_ffi()'s binary path. Parsing is ffi_sig.c's and
 * marshalling ffi_json.c's; loading, instances and accounting stay the core's.
 */
#include "ffi.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What faas_invoke_ffi() hands the handler, through the call's ctx->call_data. */
typedef struct binary_call {
    void **args;
    void  *ret;
} binary_call;

/* Copy a result to the caller's object of the declared type: libffi widened an integer
 * narrower than ffi_arg to a whole ffi_arg, which the caller's object may not hold. */
static inline void store_result(const faas__ffi_type *t, const faas__ffi_value *r, void *ret)
{
    if ((t->cls == FAAS__FFI_SINT || t->cls == FAAS__FFI_UINT || t->cls == FAAS__FFI_BOOL) &&
        t->size < sizeof(ffi_arg)) {
        ffi_arg a = r->r;
        switch (t->size) {
        case 1: *(uint8_t *)ret = (uint8_t)a; break;
        case 2: *(uint16_t *)ret = (uint16_t)a; break;
        default: *(uint32_t *)ret = (uint32_t)a; break;
        }
        return;
    }
    memcpy(ret, r, t->size);
}

/* The handler of every FFI function; the instance's state is the C function. */
static int ffi_handler(faas_ctx *ctx, const void *payload, size_t len)
{
    const faas__ffi_sig *sig = ctx->fn->ffi;
    void (*cfn)(void) = FFI_FN(ctx->inst->state);
    faas__ffi_value r;

    if (ctx->call_data != NULL) {                  /* faas_invoke_ffi: no JSON at all */
        const binary_call *b = ctx->call_data;
        ffi_call((ffi_cif *)&sig->cif, cfn, &r, b->args);
        if (b->ret != NULL && sig->ret.cls != FAAS__FFI_VOID)
            store_result(&sig->ret, &r, b->ret);
        else if (sig->ret.owned)
            free(r.s);      /* discarded: no caller holds the string the function gave */
        return 0;
    }

    char err[512];
    faas__ffi_call call;
    int rc = faas__ffi_json_args(&call, sig, payload, len, err, sizeof err);
    if (rc != FAAS_OK) {
        faas__ffi_call_done(&call, false);
        return faas__ctx_fail(ctx, rc, rc == FAAS_ENOMEM ? "Runtime.OutOfMemory"
                                                         : "InvalidParameterValueException",
                              "%s: %s", sig->text, err);
    }
    ffi_call(call.cif, cfn, &r, call.avalues);

    /* The result first: a string result may point into an argument (strchr), which
     * lives in the parsed payload until the arguments are released. */
    char buf[64], *out;
    size_t n;
    rc = faas__ffi_json_result(&sig->ret, &r, buf, sizeof buf, &out, &n, err, sizeof err);
    faas__ffi_call_done(&call, true);
    if (rc != FAAS_OK)
        return faas__ctx_fail(ctx, rc, rc == FAAS_ENOMEM ? "Runtime.OutOfMemory"
                                                         : "InvalidParameterValueException",
                              "%s: %s", sig->text, err);
    rc = faas_reply(ctx, out, n);
    if (out != buf)
        free(out);
    return rc;
}

/* ---- the core's hooks ------------------------------------------------------------------ */

int faas__ffi_instance(faas_function *fn, faas__instance *inst, char *err, size_t errlen)
{
    void *sym;
    if (fn->mod != NULL) {
        sym = faas__module_sym(fn->mod, fn->symbol, err, errlen);
    } else {
        dlerror();                                  /* clear a stale message */
        sym = dlsym(RTLD_DEFAULT, fn->symbol);
        if (sym == NULL) {
            const char *why = dlerror();            /* copied at once */
            snprintf(err, errlen, "dlsym(RTLD_DEFAULT, \"%s\"): %s", fn->symbol,
                     why ? why : "the symbol is NULL");
        }
    }
    if (sym == NULL)
        return FAAS_ELOAD;
    inst->handler = ffi_handler;
    inst->state = sym;
    return FAAS_OK;
}

void faas__ffi_release(void *ffi)
{
    faas__ffi_sig_free(ffi);
}

void faas__ffi_free(faas_function *fn)
{
    faas__ffi_release(fn->ffi);
    fn->ffi = NULL;
}

/* ---- the public API ------------------------------------------------------------------- */

int faas_register_ffi(faas_runtime *rt, const char *name, const char *path,
                      const char *symbol, const char *signature, const faas_config *cfg)
{
    const char *who = name ? name : "(null)";
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_register_ffi: runtime is NULL");
    if (path != NULL && path[0] == '\0')
        return faas__fail(FAAS_EINVAL, "faas_register_ffi %.80s: path is empty (NULL means "
                          "a symbol of the process)", who);
    if (cfg != NULL && (cfg->init != NULL || cfg->shutdown != NULL))
        return faas__fail(FAAS_EINVAL, "faas_register_ffi %.80s: a C function has no INIT "
                          "or SHUTDOWN hook: init and shutdown must be NULL", who);
    faas__ffi_sig *sig;
    char err[512];
    int rc = faas__ffi_sig_parse(signature, &sig, err, sizeof err);
    if (rc != FAAS_OK)
        return faas__fail(rc, "faas_register_ffi %.80s: bad signature \"%.200s\": %s", who,
                          signature ? signature : "(null)", err);
    if (symbol == NULL || symbol[0] == '\0') {
        symbol = sig->fname;
        if (symbol == NULL) {
            faas__ffi_sig_free(sig);
            return faas__fail(FAAS_EINVAL, "faas_register_ffi %.80s: no symbol: give one, or "
                              "name the function in the signature", who);
        }
    } else if (sig->fname != NULL && strcmp(sig->fname, symbol) != 0) {
        rc = faas__fail(FAAS_EINVAL, "faas_register_ffi %.80s: the signature declares "
                        "%.80s but the symbol is %.80s", who, sig->fname, symbol);
        faas__ffi_sig_free(sig);
        return rc;
    }
    /* The registry owns sig from here, on failure too. */
    return faas__register_prepared(rt, name, cfg, path, symbol, sig, NULL);
}

int faas_invoke_ffi(faas_function *fn, void **args, void *ret, faas_response *res)
{
    const char *why = NULL;
    if (fn == NULL)
        why = "function is NULL";
    else if (fn->kind != FAAS__FFI)
        why = "not a function registered with faas_register_ffi";
    else if (((const faas__ffi_sig *)fn->ffi)->variadic)
        why = "a variadic function takes its arguments as JSON (faas_invoke): their types "
              "come from the values";
    else if (args == NULL && ((const faas__ffi_sig *)fn->ffi)->nparams > 0)
        why = "args is NULL";
    if (why != NULL) {
        faas_response discard;
        faas_response *out = res ? res : &discard;
        int rc = faas__response_service_error(out, FAAS_EINVAL, NULL, NULL,
                                              "faas_invoke_ffi: %s", why);
        if (res == NULL)
            faas_response_free(&discard);
        return rc;
    }
    binary_call b = { args, ret };
    return faas__invoke_data(fn, &b, res);
}
