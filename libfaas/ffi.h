/*
 * ffi.h - the libffi bridge's private interfaces. Two of them:
 *   - to the core: a FAAS__FFI function gets its handler and instance state from
 *     faas__ffi_instance(), and what registration prepared is freed by faas__ffi_free();
 *   - between the bridge's own files and its fuzzers (tests/fuzz/): the parsed signature
 *     (ffi_sig.c) and the JSON <-> C marshalling (ffi_json.c). ffi.c joins them.
 */
#ifndef FAAS_FFI_H
#define FAAS_FFI_H

#include "internal.h"

#include <ffi.h>
#include <jansson.h>

/* ---- the core's hooks ------------------------------------------------------------------ */

/* Resolve the function's symbol for a new instance (the module, if any, is acquired):
 * sets inst->handler and inst->state (the C function's address). FAAS_ELOAD with the
 * dlerror() text in err if the symbol is missing. */
int  faas__ffi_instance(faas_function *fn, faas__instance *inst, char *err, size_t errlen);
/* Free what registration prepared (fn->ffi). */
void faas__ffi_free(faas_function *fn);
/* Free a prepared call that never became a function (registration failed). NULL ok. */
void faas__ffi_release(void *ffi);

/* ---- signatures (ffi_sig.c) ---------------------------------------------------------------- */

#define FAAS__FFI_SIG_MAX    4096   /* bytes of signature text */
#define FAAS__FFI_PARAMS_MAX  127   /* C11 5.2.4.1: the parameters a compiler must accept */

enum faas__ffi_class {
    FAAS__FFI_VOID,
    FAAS__FFI_BOOL,
    FAAS__FFI_SINT,                 /* every signed integer type, char if it is signed */
    FAAS__FFI_UINT,                 /* every unsigned integer type */
    FAAS__FFI_FLOAT,
    FAAS__FFI_DOUBLE,
    FAAS__FFI_STRING                /* char * or const char *, NUL-terminated */
};

typedef struct faas__ffi_type {
    ffi_type   *ft;                 /* libffi's description */
    const char *name;               /* the C type as messages spell it: "uint8_t",
                                       "unsigned long", "const char *" (static) */
    uint8_t     cls;                /* enum faas__ffi_class */
    uint8_t     size;               /* sizeof the C type, in bytes */
    bool        owned;              /* strings: faas_owned, ownership crosses the call */
    bool        is_const;           /* strings: const char * (passed without a copy) */
    const char *pname;              /* a parameter's name in the signature, or NULL */
} faas__ffi_type;

typedef struct faas__ffi_sig {
    faas__ffi_type  ret;
    faas__ffi_type *params;         /* the named (fixed) parameters */
    unsigned        nparams;
    bool            variadic;       /* ends with ", ..." */
    char           *fname;          /* the function's name in the signature, or NULL */
    char           *text;           /* normalised, e.g. "double pow(double x, double y)" */
    ffi_type      **atypes;         /* the parameters' libffi types */
    ffi_cif         cif;            /* prepared once; for a variadic function it describes
                                       a call with no variadic argument */
} faas__ffi_sig;

/* Parse a C declaration. FAAS_OK and *out, or FAAS_EINVAL with a message naming what is
 * wrong and where (its column) in err. */
int  faas__ffi_sig_parse(const char *text, faas__ffi_sig **out, char *err, size_t errlen);
void faas__ffi_sig_free(faas__ffi_sig *sig);

/* ---- JSON <-> C (ffi_json.c) ------------------------------------------------------------- */

/* One argument's storage: the C object ffi_call reads through avalues[i]. */
typedef union faas__ffi_value {
    int8_t   i8;  uint8_t  u8;
    int16_t  i16; uint16_t u16;
    int32_t  i32; uint32_t u32;
    int64_t  i64; uint64_t u64;
    float    f;
    double   d;
    char    *s;
    ffi_arg  r;                     /* libffi widens small integer results to this */
} faas__ffi_value;

/* How to free an argument's string after the call. */
enum { FAAS__FFI_KEEP = 0,          /* borrowed from the parsed payload */
       FAAS__FFI_FREE = 1,          /* our writable copy: freed after the call */
       FAAS__FFI_GIVE = 2 };        /* faas_owned: the callee's once the call ran */

#define FAAS__FFI_INLINE 8          /* arguments kept in the call struct (no malloc) */

/* The arguments of one call, built from a JSON payload. */
typedef struct faas__ffi_call {
    const faas__ffi_sig *sig;
    ffi_cif         *cif;           /* &sig->cif, or &vcif for a variadic call */
    unsigned         nargs;         /* every argument, variadic ones included */
    void           **avalues;       /* nargs pointers into values */
    faas__ffi_value *values;
    uint8_t         *strs;          /* nargs FAAS__FFI_KEEP/FREE/GIVE */
    ffi_type       **vtypes;        /* variadic: every argument's libffi type */
    ffi_cif          vcif;
    json_t          *root;          /* the parsed payload (strings point into it) */
    json_t         **owned;         /* values parsed one by one (the exact-number path) */
    unsigned         nowned;
    void            *heap;          /* one block for more than FAAS__FFI_INLINE arguments */
    void            *in_avalues[FAAS__FFI_INLINE];
    faas__ffi_value  in_values[FAAS__FFI_INLINE];
    uint8_t          in_strs[FAAS__FFI_INLINE];
    ffi_type        *in_vtypes[FAAS__FFI_INLINE];
} faas__ffi_call;

/* Build the arguments of sig from a JSON array payload (or {"args": [...]}; an empty
 * payload is []). FAAS_OK, or FAAS_EINVAL / FAAS_ENOMEM with the message in err, naming
 * the argument, the C type expected and what was given. Either way, finish with
 * faas__ffi_call_done(). */
int  faas__ffi_json_args(faas__ffi_call *c, const faas__ffi_sig *sig, const void *payload,
                         size_t len, char *err, size_t errlen);
/* The same, always through the path a payload with a number past jansson's integers
 * takes (each value read alone): the fuzzer checks that both paths agree. */
int  faas__ffi_json_args_exact(faas__ffi_call *c, const faas__ffi_sig *sig,
                               const void *payload, size_t len, char *err, size_t errlen);
/* Release the arguments. called: the function ran, so faas_owned strings are its own. */
void faas__ffi_call_done(faas__ffi_call *c, bool called);
/* The JSON text of a result (ffi_call's rvalue): "null" for void. *out is buf (size:
 * at least 48 bytes) for a number, or a malloc'd string the caller frees when *out != buf.
 * An owned string result is freed here, whatever happens. FAAS_EINVAL when JSON cannot
 * carry the value (a non-finite number, a string that is not UTF-8). */
int  faas__ffi_json_result(const faas__ffi_type *t, void *rvalue, char *buf, size_t size,
                           char **out, size_t *outlen, char *err, size_t errlen);
/* A finite number as the shortest JSON number that reads back to it ("1.0", "5e-324");
 * is_float: reads back to the same float. size: at least 32 bytes. */
void faas__ffi_format_real(double v, bool is_float, char *buf, size_t size);

#endif /* FAAS_FFI_H */
