/*
 * ffi_json.c - JSON <-> C for the libffi bridge: a payload's arguments become the C
 * objects ffi_call() reads, a result becomes its JSON text. jansson parses, decodes
 * strings and checks UTF-8; an integer jansson cannot hold (json_int_t stops at
 * INT64_MAX) is read from its literal text, so every uint64_t is exact. It knows
 * signatures (ffi.h) and nothing of runtimes, instances or calls.
 */
#include "ffi.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TWO_53 9007199254740992.0   /* beyond it a JSON real may not hold an exact integer */

/* One argument as the payload gave it: a jansson value, or a number jansson could not
 * hold, kept as its literal text. */
typedef struct arg_in {
    const json_t *j;                /* NULL: a number beyond json_int_t or double */
    const char   *lit;              /* that number's literal (not NUL-terminated) */
    size_t        litlen;
    bool          big;              /* lit is an integer in (INT64_MAX, UINT64_MAX]: u */
    uint64_t      u;
} arg_in;

static int failf(char *err, size_t errlen, int status, const char *fmt, ...) FAAS_PRINTF(4, 5);
static int failf(char *err, size_t errlen, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return status;
}

/* ---- numbers as text -------------------------------------------------------------------- */

void faas__ffi_format_real(double v, bool is_float, char *buf, size_t size)
{
    /* The fewest significant digits that read back to the same value. A double needs at
     * most 17 (DBL_DECIMAL_DIG), a float 9. A normal number whose shortest form has fewer
     * than DBL_DIG (FLT_DIG) digits gets exactly that form from %.15g (%.6g): its 15-digit
     * rounding is those digits, then zeros, which %g drops. A denormal has fewer
     * significant bits, so its search starts at one digit ("5e-324"). */
    char tmp[48];
    bool denormal = v != 0 && fabs(v) < (is_float ? FLT_MIN : DBL_MIN);
    int lo = denormal ? 1 : is_float ? FLT_DIG : DBL_DIG, hi = is_float ? 9 : 17;
    for (int prec = lo; prec <= hi; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (is_float ? strtof(tmp, NULL) == (float)v : strtod(tmp, NULL) == v)
            break;
    }
    /* The locale's decimal point (it may be "," or several bytes) becomes ".", and a
     * number without a point or an exponent gets ".0", so that it reads back as a real. */
    size_t o = 0;
    bool real = false, in_point = false;
    for (const char *p = tmp; *p != '\0' && o + 3 < size; p++) {
        char c = *p;
        if ((c >= '0' && c <= '9') || c == '-' || c == '+') {
            buf[o++] = c;
            in_point = false;
        } else if (c == 'e' || c == 'E') {
            buf[o++] = 'e';
            real = true;
            in_point = false;
        } else {
            if (!in_point)
                buf[o++] = '.';
            real = in_point = true;
        }
    }
    if (!real && o + 2 < size) {
        buf[o++] = '.';
        buf[o++] = '0';
    }
    buf[o] = '\0';
}

/* What the payload gave, for a message: "300", "2.5", "a string", "null". */
static const char *describe(const arg_in *a, char *buf, size_t size)
{
    if (a->j == NULL) {
        if (a->litlen > 40)
            snprintf(buf, size, "%.36s...", a->lit);
        else
            snprintf(buf, size, "%.*s", (int)a->litlen, a->lit);
        return buf;
    }
    switch (json_typeof(a->j)) {
    case JSON_OBJECT:  return "an object";
    case JSON_ARRAY:   return "an array";
    case JSON_STRING:  return "a string";
    case JSON_TRUE:    return "true";
    case JSON_FALSE:   return "false";
    case JSON_NULL:    return "null";
    case JSON_INTEGER:
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(a->j));
        return buf;
    case JSON_REAL:
        faas__ffi_format_real(json_real_value(a->j), false, buf, size);
        return buf;
    }
    return "a JSON value";
}

/* "argument 2 (n)", "argument 3 (variadic)". */
static void label(char *buf, size_t size, unsigned i, const faas__ffi_type *t)
{
    if (t == NULL)
        snprintf(buf, size, "argument %u (variadic)", i + 1);
    else if (t->pname != NULL)
        snprintf(buf, size, "argument %u (%.64s)", i + 1, t->pname);
    else
        snprintf(buf, size, "argument %u", i + 1);
}

/* Is [s, s+n) a JSON number literal, -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? ?
 * *integer: it has no fraction and no exponent. */
static bool number_literal(const char *s, size_t n, bool *integer)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n || s[i] < '0' || s[i] > '9')
        return false;
    if (s[i] == '0')
        i++;
    else
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    *integer = true;
    if (i < n && s[i] == '.') {
        *integer = false;
        if (++i >= n || s[i] < '0' || s[i] > '9')
            return false;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        *integer = false;
        if (++i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || s[i] < '0' || s[i] > '9')
            return false;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    return i == n;
}

/* ---- C values from JSON values ------------------------------------------------------------ */

/* The range of an integer type: lo..hi. */
static void bounds(const faas__ffi_type *t, int64_t *lo, uint64_t *hi)
{
    unsigned bits = 8u * t->size;
    if (t->cls == FAAS__FFI_UINT) {
        *lo = 0;
        *hi = bits >= 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
    } else {
        *lo = bits >= 64 ? INT64_MIN : -(INT64_C(1) << (bits - 1));
        *hi = bits >= 64 ? (uint64_t)INT64_MAX : (UINT64_C(1) << (bits - 1)) - 1;
    }
}

/* Store an integer already checked to be in t's range (two's complement bits). */
static void store_int(faas__ffi_value *v, unsigned size, uint64_t bits)
{
    switch (size) {
    case 1: v->u8 = (uint8_t)bits; break;
    case 2: v->u16 = (uint16_t)bits; break;
    case 4: v->u32 = (uint32_t)bits; break;
    default: v->u64 = bits; break;
    }
}

static int range_error(char *err, size_t errlen, const faas__ffi_type *t, const char *got)
{
    int64_t lo;
    uint64_t hi;
    bounds(t, &lo, &hi);
    return failf(err, errlen, FAAS_EINVAL, "expected %s (%" PRId64 " to %" PRIu64
                 "), got %s", t->name, lo, hi, got);
}

static int to_integer(const faas__ffi_type *t, const arg_in *a, faas__ffi_value *v,
                      char *err, size_t errlen)
{
    char got[64];
    int64_t lo;
    uint64_t hi;
    bounds(t, &lo, &hi);
    if (a->j == NULL) {
        if (a->big && a->u <= hi) {
            store_int(v, t->size, a->u);
            return FAAS_OK;
        }
        return range_error(err, errlen, t, describe(a, got, sizeof got));
    }
    int64_t i;
    if (json_is_integer(a->j)) {
        i = json_integer_value(a->j);
    } else if (json_is_real(a->j)) {
        double d = json_real_value(a->j);
        if (d != floor(d))
            return failf(err, errlen, FAAS_EINVAL, "expected %s, got %s, which has a "
                         "fraction", t->name, describe(a, got, sizeof got));
        if (fabs(d) >= TWO_53) {
            /* In range or not, such a real may already have been rounded. */
            bool in = t->cls == FAAS__FFI_UINT ? d >= 0 && d < 18446744073709551616.0
                                               : d >= -9223372036854775808.0 &&
                                                 d < 9223372036854775808.0;
            if (!in || t->size < 8)
                return range_error(err, errlen, t, describe(a, got, sizeof got));
            return failf(err, errlen, FAAS_EINVAL, "expected %s, got %s as a real "
                         "number, which may not be exact past 2^53: write it as an "
                         "integer", t->name, describe(a, got, sizeof got));
        }
        i = (int64_t)d;
    } else {
        return failf(err, errlen, FAAS_EINVAL, "expected %s, got %s", t->name,
                     describe(a, got, sizeof got));
    }
    if (i < lo || (i > 0 && (uint64_t)i > hi))
        return range_error(err, errlen, t, describe(a, got, sizeof got));
    store_int(v, t->size, (uint64_t)i);
    return FAAS_OK;
}

/* 2^128 - 2^103: the smallest double that a float conversion rounds to infinity. Between
 * FLT_MAX and it, the nearest float is FLT_MAX (round to nearest, even). */
#define FLT_ROUNDS_TO_INF 340282356779733661637539395458142568448.0

static int to_real(const faas__ffi_type *t, const arg_in *a, faas__ffi_value *v,
                   char *err, size_t errlen)
{
    char got[64];
    double d;
    if (a->j == NULL) {
        bool integer = false;
        if (a->big) {
            d = (double)a->u;
        } else if (number_literal(a->lit, a->litlen, &integer) && integer &&
                   a->litlen < 400) {
            /* An integer past 64 bits: digits only, so strtod reads it the same in every
             * locale; past DBL_MAX it is infinite. */
            char text[400];
            memcpy(text, a->lit, a->litlen);
            text[a->litlen] = '\0';
            d = strtod(text, NULL);
        } else {
            d = INFINITY;           /* a real jansson found out of range */
        }
        if (isinf(d))
            return failf(err, errlen, FAAS_EINVAL, "expected %s, got %s, which is out "
                         "of its range", t->name, describe(a, got, sizeof got));
    } else if (json_is_integer(a->j)) {
        d = (double)json_integer_value(a->j);   /* the nearest double, as in C */
    } else if (json_is_real(a->j)) {
        d = json_real_value(a->j);
    } else {
        return failf(err, errlen, FAAS_EINVAL, "expected %s, got %s", t->name,
                     describe(a, got, sizeof got));
    }
    if (t->cls == FAAS__FFI_DOUBLE) {
        v->d = d;
        return FAAS_OK;
    }
    if (fabs(d) >= FLT_ROUNDS_TO_INF)
        return failf(err, errlen, FAAS_EINVAL, "expected float (at most %g in "
                     "magnitude), got %s", (double)FLT_MAX, describe(a, got, sizeof got));
    v->f = fabs(d) <= FLT_MAX ? (float)d : d < 0 ? -FLT_MAX : FLT_MAX;
    return FAAS_OK;
}

/* A C string from a JSON string: not NULL, no NUL inside. */
static int string_of(const arg_in *a, const char *ctype, const char **out,
                     char *err, size_t errlen)
{
    char got[64];
    if (a->j == NULL || !json_is_string(a->j))
        return failf(err, errlen, FAAS_EINVAL, "expected %s, got %s", ctype,
                     describe(a, got, sizeof got));
    const char *s = json_string_value(a->j);
    size_t n = json_string_length(a->j), c = strlen(s);
    if (c != n)
        return failf(err, errlen, FAAS_EINVAL, "expected %s, got a string with a NUL "
                     "byte at offset %zu (a C string ends at its first NUL)", ctype, c);
    *out = s;
    return FAAS_OK;
}

/* One fixed parameter. */
static int to_c(const faas__ffi_type *t, const arg_in *a, faas__ffi_value *v, uint8_t *str,
                char *err, size_t errlen)
{
    char got[64];
    const char *s;
    int rc;
    switch ((enum faas__ffi_class)t->cls) {
    case FAAS__FFI_BOOL:
        if (a->j == NULL || !json_is_boolean(a->j))
            return failf(err, errlen, FAAS_EINVAL, "expected bool (true or false), got "
                         "%s", describe(a, got, sizeof got));
        v->u8 = json_is_true(a->j) ? 1 : 0;
        return FAAS_OK;
    case FAAS__FFI_SINT:
    case FAAS__FFI_UINT:
        return to_integer(t, a, v, err, errlen);
    case FAAS__FFI_FLOAT:
    case FAAS__FFI_DOUBLE:
        return to_real(t, a, v, err, errlen);
    case FAAS__FFI_STRING:
        if ((rc = string_of(a, t->name, &s, err, errlen)) != FAAS_OK)
            return rc;
        if (t->is_const && !t->owned) {
            v->s = (char *)s;   /* borrowed from the payload; the callee promised const */
            return FAAS_OK;
        }
        /* A char * may be written to, and an owned one is the callee's to free(). */
        if ((v->s = strdup(s)) == NULL)
            return failf(err, errlen, FAAS_ENOMEM, "out of memory");
        *str = t->owned ? FAAS__FFI_GIVE : FAAS__FFI_FREE;
        return FAAS_OK;
    case FAAS__FFI_VOID:
        break;
    }
    return failf(err, errlen, FAAS_EINVAL, "a parameter of type void");
}

/* A variadic argument: its C type follows the JSON value, as after C's default argument
 * promotions. An integer is an int when it fits, else a long long (an unsigned long long
 * past INT64_MAX); a real is a double; a string a const char *; true and false an int. */
static int to_variadic(const arg_in *a, faas__ffi_value *v, ffi_type **ft,
                       char *err, size_t errlen)
{
    char got[64];
    const char *s;
    if (a->j == NULL) {
        if (!a->big)
            return failf(err, errlen, FAAS_EINVAL, "%s is out of range of long long "
                         "and unsigned long long", describe(a, got, sizeof got));
        v->u64 = a->u;
        *ft = &ffi_type_uint64;
        return FAAS_OK;
    }
    switch (json_typeof(a->j)) {
    case JSON_INTEGER: {
        json_int_t i = json_integer_value(a->j);
        if (i >= INT_MIN && i <= INT_MAX) {
            v->i32 = (int32_t)i;
            *ft = &ffi_type_sint;
        } else {
            v->i64 = (int64_t)i;
            *ft = &ffi_type_sint64;
        }
        return FAAS_OK;
    }
    case JSON_REAL:
        v->d = json_real_value(a->j);
        *ft = &ffi_type_double;
        return FAAS_OK;
    case JSON_TRUE:
    case JSON_FALSE:
        v->i32 = json_is_true(a->j);
        *ft = &ffi_type_sint;
        return FAAS_OK;
    case JSON_STRING: {
        int rc = string_of(a, "const char *", &s, err, errlen);
        if (rc != FAAS_OK)
            return rc;
        v->s = (char *)s;
        *ft = &ffi_type_pointer;
        return FAAS_OK;
    }
    default:
        return failf(err, errlen, FAAS_EINVAL, "expected a number, a string, true or "
                     "false, got %s", describe(a, got, sizeof got));
    }
}

/* ---- the payload ---------------------------------------------------------------------------- */

static const char *kind_of(const json_t *j)
{
    arg_in a = { .j = j };
    char unused[8];
    return json_is_number(j) ? "a number" : describe(&a, unused, sizeof unused);
}

/* The exact path, for a payload with a number jansson cannot hold: find the argument
 * values in the text, then let jansson read each one alone. The scanner only finds the
 * boundaries of values; jansson (or number_literal) checks every byte of each. */

static const char *ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static const char *skip_string(const char *p, const char *e)
{
    for (p++; p < e; p++) {
        if (*p == '\\') {
            if (++p == e)
                return NULL;
        } else if (*p == '"') {
            return p + 1;
        }
    }
    return NULL;
}

/* The end of the value at p, or NULL. Brackets are counted, not matched: a mismatch
 * is caught when jansson reads the value. */
static const char *skip_value(const char *p, const char *e)
{
    if (p >= e)
        return NULL;
    if (*p == '"')
        return skip_string(p, e);
    if (*p == '[' || *p == '{') {
        size_t depth = 0;
        while (p < e) {
            if (*p == '"') {
                if ((p = skip_string(p, e)) == NULL)
                    return NULL;
                continue;
            }
            if (*p == '[' || *p == '{')
                depth++;
            else if ((*p == ']' || *p == '}') && --depth == 0)
                return p + 1;
            p++;
        }
        return NULL;
    }
    const char *s = p;
    while (p < e && *p != ',' && *p != ']' && *p != '}' && *p != ':' && *p != '"' &&
           *p != '[' && *p != '{' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
        p++;
    return p > s ? p : NULL;
}

typedef struct span {
    const char *s;
    size_t      n;
} span;

static int not_json(const char *start, const char *at, char *err, size_t errlen)
{
    return failf(err, errlen, FAAS_EINVAL, "the payload is not valid JSON (at byte %zu)",
                 (size_t)(at - start));
}

/* The elements of the array at p ('['): all are counted in *n, the first max kept in
 * out; *end: past its ']'. */
static int split_array(const char *start, const char *p, const char *e, span *out,
                       size_t max, size_t *n, const char **end, char *err, size_t errlen)
{
    *n = 0;
    p = ws(p + 1, e);
    if (p < e && *p == ']') {
        *end = p + 1;
        return FAAS_OK;
    }
    for (;;) {
        const char *v = skip_value(p, e);
        if (v == NULL)
            return not_json(start, p, err, errlen);
        if (*n < max)
            out[*n] = (span){ p, (size_t)(v - p) };
        (*n)++;
        p = ws(v, e);
        if (p < e && *p == ']') {
            *end = p + 1;
            return FAAS_OK;
        }
        if (p >= e || *p != ',')
            return not_json(start, p, err, errlen);
        p = ws(p + 1, e);
    }
}

/* Read one value alone into a; c keeps the reference. */
static int read_one(faas__ffi_call *c, span sp, arg_in *a, unsigned i, char *err,
                    size_t errlen)
{
    json_error_t je;
    memset(a, 0, sizeof *a);
    json_t *j = json_loadb(sp.s, sp.n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (j != NULL) {
        c->owned[c->nowned++] = j;
        a->j = j;
        return FAAS_OK;
    }
    bool integer;
    if (json_error_code(&je) == json_error_numeric_overflow &&
        number_literal(sp.s, sp.n, &integer)) {
        a->lit = sp.s;
        a->litlen = sp.n;
        if (integer && sp.s[0] != '-' && sp.n <= 20) {
            char text[24];
            memcpy(text, sp.s, sp.n);
            text[sp.n] = '\0';
            errno = 0;
            unsigned long long u = strtoull(text, NULL, 10);
            if (errno == 0) {
                a->big = true;
                a->u = (uint64_t)u;
            }
        }
        return FAAS_OK;
    }
    if (json_error_code(&je) == json_error_numeric_overflow && (sp.s[0] == '[' ||
                                                               sp.s[0] == '{')) {
        /* A container (never a valid argument) holding a huge number: say what it is. */
        json_t *k = sp.s[0] == '[' ? json_array() : json_object();
        if (k == NULL)
            return failf(err, errlen, FAAS_ENOMEM, "out of memory");
        c->owned[c->nowned++] = k;
        a->j = k;
        return FAAS_OK;
    }
    return failf(err, errlen, FAAS_EINVAL, "argument %u is not valid JSON: %s", i + 1,
                 je.text);
}

/* max: the most arguments the signature takes; with more, only *n is set (the count
 * check reports it). */
static int exact_path(faas__ffi_call *c, const char *payload, size_t len, arg_in *in,
                      size_t max, size_t *n, char *err, size_t errlen)
{
    span spans[FAAS__FFI_PARAMS_MAX];
    const char *e = payload + len, *p = ws(payload, e), *end = NULL;
    int rc;
    if (p < e && *p == '[') {
        rc = split_array(payload, p, e, spans, FAAS__FFI_PARAMS_MAX, n, &end, err, errlen);
    } else if (p < e && *p == '{') {
        /* {"args": [...], ...}: the last "args" wins, as in jansson. */
        const char *args = NULL;
        p = ws(p + 1, e);
        if (p < e && *p == '}')
            p++;
        else
            for (;;) {
                const char *k = p, *ke = p < e && *p == '"' ? skip_string(p, e) : NULL;
                if (ke == NULL)
                    return not_json(payload, p, err, errlen);
                p = ws(ke, e);
                if (p >= e || *p != ':')
                    return not_json(payload, p, err, errlen);
                p = ws(p + 1, e);
                const char *v = skip_value(p, e);
                if (v == NULL)
                    return not_json(payload, p, err, errlen);
                /* Read alone, a key is a string; jansson refuses a NUL in a key (it
                 * keeps keys as C strings), and so does this path. */
                json_t *key = json_loadb(k, (size_t)(ke - k),
                                         JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
                if (key == NULL || strlen(json_string_value(key)) != json_string_length(key)) {
                    json_decref(key);
                    return not_json(payload, k, err, errlen);
                }
                if (json_string_length(key) == 4 && strcmp(json_string_value(key), "args") == 0)
                    args = p;
                json_decref(key);
                /* Every value is checked, as a whole-payload parse checks it: other keys'
                 * and an "args" a later one replaces, which are then ignored. A number
                 * too large for jansson is not an error here. */
                json_error_t je;
                json_t *val = json_loadb(p, (size_t)(v - p), JSON_DECODE_ANY |
                                         JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je);
                if (val == NULL && json_error_code(&je) != json_error_numeric_overflow)
                    return not_json(payload, p, err, errlen);
                json_decref(val);
                p = ws(v, e);
                if (p < e && *p == '}') {
                    p++;
                    break;
                }
                if (p >= e || *p != ',')
                    return not_json(payload, p, err, errlen);
                p = ws(p + 1, e);
            }
        end = p;
        if (args == NULL)
            return failf(err, errlen, FAAS_EINVAL, "the payload object has no \"args\" "
                         "array");
        if (*args != '[')
            return failf(err, errlen, FAAS_EINVAL, "\"args\" must be an array");
        const char *unused;
        rc = split_array(payload, args, e, spans, FAAS__FFI_PARAMS_MAX, n, &unused, err,
                         errlen);
    } else {
        return not_json(payload, p, err, errlen);
    }
    if (rc != FAAS_OK)
        return rc;
    if (ws(end, e) != e)
        return not_json(payload, ws(end, e), err, errlen);
    if (*n > max)
        return FAAS_OK;
    if ((c->owned = calloc(*n ? *n : 1, sizeof *c->owned)) == NULL)
        return failf(err, errlen, FAAS_ENOMEM, "out of memory");
    for (size_t i = 0; i < *n; i++)
        if ((rc = read_one(c, spans[i], &in[i], (unsigned)i, err, errlen)) != FAAS_OK)
            return rc;
    return FAAS_OK;
}

/* The number of arguments the signature takes, in words: "2 arguments (int, int)". */
static void expected(const faas__ffi_sig *sig, char *buf, size_t size)
{
    size_t o = (size_t)snprintf(buf, size, "%s%u argument%s (", sig->variadic ? "at least "
                                : "", sig->nparams, sig->nparams == 1 ? "" : "s");
    for (unsigned i = 0; i < sig->nparams && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? ", " : "", sig->params[i].name);
    if (o < size)
        snprintf(buf + o, size - o, "%s)", sig->variadic ? ", ..." : "");
}

/* The arguments of the payload into in[]; *n how many. */
static int read_payload(faas__ffi_call *c, const void *payload, size_t len, arg_in *in,
                        size_t *n, bool exact, char *err, size_t errlen)
{
    const faas__ffi_sig *sig = c->sig;
    size_t max = sig->variadic ? FAAS__FFI_PARAMS_MAX : sig->nparams;
    *n = 0;
    if (len == 0)
        return FAAS_OK;             /* no payload: no arguments */
    if (exact)
        return exact_path(c, payload, len, in, max, n, err, errlen);
    json_error_t je;
    c->root = json_loadb(payload, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (c->root == NULL) {
        if (json_error_code(&je) == json_error_numeric_overflow)
            return exact_path(c, payload, len, in, max, n, err, errlen);
        return failf(err, errlen, FAAS_EINVAL, "the payload is not valid JSON: %s (line %d, "
                     "column %d)", je.text, je.line, je.column);
    }
    const json_t *arr = c->root;
    if (json_is_object(arr)) {
        arr = json_object_get(arr, "args");
        if (arr == NULL)
            return failf(err, errlen, FAAS_EINVAL, "the payload object has no \"args\" "
                         "array");
        if (!json_is_array(arr))
            return failf(err, errlen, FAAS_EINVAL, "\"args\" must be an array, got %s",
                         kind_of(arr));
    } else if (!json_is_array(arr)) {
        return failf(err, errlen, FAAS_EINVAL, "the payload must be a JSON array of "
                     "arguments or {\"args\": [...]}, got %s", kind_of(arr));
    }
    *n = json_array_size(arr);
    if (*n > max)
        return FAAS_OK;             /* the count check says so */
    for (size_t i = 0; i < *n; i++) {
        memset(&in[i], 0, sizeof in[i]);
        in[i].j = json_array_get(arr, i);
    }
    return FAAS_OK;
}

static int json_args(faas__ffi_call *c, const faas__ffi_sig *sig, const void *payload,
                     size_t len, bool exact, char *err, size_t errlen)
{
    c->sig = sig;
    c->cif = (ffi_cif *)&sig->cif;
    c->nargs = 0;
    c->avalues = c->in_avalues;
    c->values = c->in_values;
    c->strs = c->in_strs;
    c->vtypes = c->in_vtypes;
    c->root = NULL;
    c->owned = NULL;
    c->nowned = 0;
    c->heap = NULL;
    if (payload == NULL && len > 0)
        return failf(err, errlen, FAAS_EINVAL, "the payload is NULL");

    arg_in in[FAAS__FFI_PARAMS_MAX];
    size_t n;
    int rc = read_payload(c, payload, len, in, &n, exact, err, errlen);
    if (rc != FAAS_OK)
        return rc;
    if (n < sig->nparams || (n > sig->nparams && !sig->variadic) ||
        n > FAAS__FFI_PARAMS_MAX) {
        char want[256];
        expected(sig, want, sizeof want);
        if (sig->nparams == 0 && !sig->variadic)
            return failf(err, errlen, FAAS_EINVAL, "expected no arguments, got %zu", n);
        if (n > FAAS__FFI_PARAMS_MAX)
            return failf(err, errlen, FAAS_EINVAL, "expected %s, got more than %d (C's "
                         "limit of arguments in a call)", want, FAAS__FFI_PARAMS_MAX);
        return failf(err, errlen, FAAS_EINVAL, "expected %s, got %zu", want, n);
    }
    if (n > FAAS__FFI_INLINE) {
        /* One block: avalues, vtypes, values, then the string flags. */
        size_t bytes = n * (sizeof(void *) + sizeof(ffi_type *) + sizeof(faas__ffi_value) + 1);
        char *h = malloc(bytes);
        if (h == NULL)
            return failf(err, errlen, FAAS_ENOMEM, "out of memory for %zu arguments", n);
        c->heap = h;
        c->avalues = (void **)(void *)h;
        c->vtypes = (ffi_type **)(void *)(h + n * sizeof(void *));
        c->values = (faas__ffi_value *)(void *)(h + n * (sizeof(void *) + sizeof(ffi_type *)));
        c->strs = (uint8_t *)(h + n * (sizeof(void *) + sizeof(ffi_type *) +
                                       sizeof(faas__ffi_value)));
    }
    memset(c->strs, FAAS__FFI_KEEP, n);
    for (size_t i = 0; i < n; i++) {
        const faas__ffi_type *t = i < sig->nparams ? &sig->params[i] : NULL;
        c->values[i].u64 = 0;
        c->avalues[i] = &c->values[i];
        c->nargs = (unsigned)i + 1;     /* from here on, done() looks at this one */
        if (t != NULL) {
            c->vtypes[i] = t->ft;
            rc = to_c(t, &in[i], &c->values[i], &c->strs[i], err, errlen);
        } else {
            rc = to_variadic(&in[i], &c->values[i], &c->vtypes[i], err, errlen);
        }
        if (rc != FAAS_OK) {
            /* The argument's label goes in front only now: made for every argument, it
             * cost a snprintf each (~800 instructions) on calls that succeed. */
            char why[400], lab[96];
            snprintf(why, sizeof why, "%s", err);
            label(lab, sizeof lab, (unsigned)i, t);
            snprintf(err, errlen, "%s: %s", lab, why);
            return rc;
        }
    }
    if (sig->variadic) {
        ffi_status st = ffi_prep_cif_var(&c->vcif, FFI_DEFAULT_ABI, sig->nparams,
                                         (unsigned)n, sig->ret.ft, c->vtypes);
        if (st != FFI_OK)
            return failf(err, errlen, FAAS_EINVAL, "libffi cannot prepare this variadic "
                         "call (ffi_status %d)", (int)st);
        c->cif = &c->vcif;
    }
    return FAAS_OK;
}

int faas__ffi_json_args(faas__ffi_call *c, const faas__ffi_sig *sig, const void *payload,
                        size_t len, char *err, size_t errlen)
{
    return json_args(c, sig, payload, len, false, err, errlen);
}

int faas__ffi_json_args_exact(faas__ffi_call *c, const faas__ffi_sig *sig,
                              const void *payload, size_t len, char *err, size_t errlen)
{
    return json_args(c, sig, payload, len, true, err, errlen);
}

void faas__ffi_call_done(faas__ffi_call *c, bool called)
{
    for (unsigned i = 0; i < c->nargs; i++)
        if (c->strs[i] == FAAS__FFI_FREE || (c->strs[i] == FAAS__FFI_GIVE && !called))
            free(c->values[i].s);
    c->nargs = 0;
    for (unsigned i = 0; i < c->nowned; i++)
        json_decref(c->owned[i]);
    free(c->owned);
    c->owned = NULL;
    c->nowned = 0;
    json_decref(c->root);
    c->root = NULL;
    free(c->heap);
    c->heap = NULL;
}

/* ---- results --------------------------------------------------------------------------------- */

/* An integer result: libffi widens one narrower than ffi_arg to a full ffi_arg. */
static uint64_t int_result(const faas__ffi_type *t, const void *rvalue)
{
    if (t->size < sizeof(ffi_arg)) {
        if (t->cls == FAAS__FFI_SINT)
            return (uint64_t)(int64_t)*(const ffi_sarg *)rvalue;
        return (uint64_t)*(const ffi_arg *)rvalue;
    }
    uint64_t u = 0;
    if (t->size == 8)
        u = *(const uint64_t *)rvalue;
    else if (t->cls == FAAS__FFI_SINT)
        u = (uint64_t)(int64_t)*(const int32_t *)rvalue;
    else
        u = *(const uint32_t *)rvalue;
    return u;
}

/* Decimal text of an integer into buf (at least 21 bytes): snprintf would cost ~600
 * instructions, more than the rest of a one-argument call's marshalling. */
static void format_int(char *buf, uint64_t mag, bool neg)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + mag % 10);
        mag /= 10;
    } while (mag != 0);
    char *p = buf;
    if (neg)
        *p++ = '-';
    while (n > 0)
        *p++ = tmp[--n];
    *p = '\0';
}

int faas__ffi_json_result(const faas__ffi_type *t, void *rvalue, char *buf, size_t size,
                          char **out, size_t *outlen, char *err, size_t errlen)
{
    *out = buf;
    switch ((enum faas__ffi_class)t->cls) {
    case FAAS__FFI_VOID:
        snprintf(buf, size, "null");
        break;
    case FAAS__FFI_BOOL:
        snprintf(buf, size, "%s", (uint8_t)*(const ffi_arg *)rvalue ? "true" : "false");
        break;
    case FAAS__FFI_SINT: {
        int64_t v = (int64_t)int_result(t, rvalue);
        /* The magnitude of INT64_MIN does not fit an int64_t: negate in unsigned. */
        format_int(buf, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, v < 0);
        break;
    }
    case FAAS__FFI_UINT:
        format_int(buf, int_result(t, rvalue), false);
        break;
    case FAAS__FFI_FLOAT:
    case FAAS__FFI_DOUBLE: {
        bool f = t->cls == FAAS__FFI_FLOAT;
        double d = f ? (double)*(const float *)rvalue : *(const double *)rvalue;
        if (!isfinite(d))
            return failf(err, errlen, FAAS_EINVAL, "the result, %s %s, cannot be carried in "
                         "JSON, which has no infinities and no NaN", t->name,
                         isnan(d) ? "nan" : d > 0 ? "inf" : "-inf");
        faas__ffi_format_real(d, f, buf, size);
        break;
    }
    case FAAS__FFI_STRING: {
        char *s = *(char **)rvalue;
        if (s == NULL) {
            snprintf(buf, size, "null");
            break;
        }
        json_t *j = json_string(s);     /* checks UTF-8 */
        char *text = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        size_t bad = 0;
        if (j == NULL)
            for (; s[bad] != '\0' && (unsigned char)s[bad] < 0x80; bad++)
                ;
        json_decref(j);
        if (t->owned)
            free(s);
        if (j == NULL)
            return failf(err, errlen, FAAS_EINVAL, "the result, a %s, is not valid UTF-8 "
                         "(near byte %zu), which JSON cannot carry", t->name, bad);
        if (text == NULL)
            return failf(err, errlen, FAAS_ENOMEM, "out of memory for the result");
        *out = text;
        *outlen = strlen(text);
        return FAAS_OK;
    }
    }
    *outlen = strlen(buf);
    return FAAS_OK;
}
