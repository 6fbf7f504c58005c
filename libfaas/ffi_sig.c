/*
 * ffi_sig.c - C declarations as signatures: "double cos(double)" becomes libffi types and
 * an ffi_cif prepared once, or a message that says what is wrong and at which column.
 * It knows the scalar and string types of ffi.h; nothing of functions, JSON or runtimes.
 *
 * Grammar (a C declaration, without structs, arrays or pointers other than strings):
 *
 *   signature  := ["extern"] decl "(" params ")" [";"]
 *   params     := "" | "void" | decl {"," decl} ["," "..."]
 *   decl       := specifiers {"*" {qualifier}} [identifier]
 *   specifiers := any order of C type specifiers (int, unsigned, long, ...), one typedef
 *                 name (int8_t ... uint64_t, size_t, ssize_t, intptr_t, uintptr_t,
 *                 ptrdiff_t), qualifiers (const, volatile, restrict) and faas_owned
 *
 * Comments are skipped, so a prototype pasted from a header works.
 */
#include "ffi.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

_Static_assert(sizeof(bool) == 1, "bool is passed as ffi_type_uint8");
_Static_assert(sizeof(long long) == 8, "long long is passed as ffi_type_sint64");

/* ---- the types ------------------------------------------------------------------------- */

#define TYPE(ft, name, cls, size) { &ft, name, cls, size, false, false, NULL }

static const faas__ffi_type t_void   = TYPE(ffi_type_void, "void", FAAS__FFI_VOID, 0);
static const faas__ffi_type t_bool   = TYPE(ffi_type_uint8, "bool", FAAS__FFI_BOOL, 1);
#if CHAR_MIN < 0
static const faas__ffi_type t_char   = TYPE(ffi_type_sint8, "char", FAAS__FFI_SINT, 1);
#else
static const faas__ffi_type t_char   = TYPE(ffi_type_uint8, "char", FAAS__FFI_UINT, 1);
#endif
static const faas__ffi_type t_schar  = TYPE(ffi_type_schar, "signed char", FAAS__FFI_SINT, 1);
static const faas__ffi_type t_uchar  = TYPE(ffi_type_uchar, "unsigned char", FAAS__FFI_UINT, 1);
static const faas__ffi_type t_short  = TYPE(ffi_type_sshort, "short", FAAS__FFI_SINT,
                                            sizeof(short));
static const faas__ffi_type t_ushort = TYPE(ffi_type_ushort, "unsigned short",
                                            FAAS__FFI_UINT, sizeof(short));
static const faas__ffi_type t_int    = TYPE(ffi_type_sint, "int", FAAS__FFI_SINT,
                                            sizeof(int));
static const faas__ffi_type t_uint   = TYPE(ffi_type_uint, "unsigned int", FAAS__FFI_UINT,
                                            sizeof(int));
static const faas__ffi_type t_long   = TYPE(ffi_type_slong, "long", FAAS__FFI_SINT,
                                            sizeof(long));
static const faas__ffi_type t_ulong  = TYPE(ffi_type_ulong, "unsigned long", FAAS__FFI_UINT,
                                            sizeof(long));
static const faas__ffi_type t_llong  = TYPE(ffi_type_sint64, "long long", FAAS__FFI_SINT, 8);
static const faas__ffi_type t_ullong = TYPE(ffi_type_uint64, "unsigned long long",
                                            FAAS__FFI_UINT, 8);
static const faas__ffi_type t_float  = TYPE(ffi_type_float, "float", FAAS__FFI_FLOAT,
                                            sizeof(float));
static const faas__ffi_type t_double = TYPE(ffi_type_double, "double", FAAS__FFI_DOUBLE,
                                            sizeof(double));

/* The libffi types of the typedefs whose size varies by platform. */
#if SIZE_MAX == UINT64_MAX
# define FT_SIZE ffi_type_uint64
#else
# define FT_SIZE ffi_type_uint32
#endif
#if SSIZE_MAX == INT64_MAX
# define FT_SSIZE ffi_type_sint64
#else
# define FT_SSIZE ffi_type_sint32
#endif
#if INTPTR_MAX == INT64_MAX
# define FT_INTPTR ffi_type_sint64
# define FT_UINTPTR ffi_type_uint64
#else
# define FT_INTPTR ffi_type_sint32
# define FT_UINTPTR ffi_type_uint32
#endif
#if PTRDIFF_MAX == INT64_MAX
# define FT_PTRDIFF ffi_type_sint64
#else
# define FT_PTRDIFF ffi_type_sint32
#endif

/* Typedef names: a complete type each, never combined with another specifier. */
static const faas__ffi_type typedefs[] = {
    TYPE(ffi_type_sint8,  "int8_t",   FAAS__FFI_SINT, 1),
    TYPE(ffi_type_uint8,  "uint8_t",  FAAS__FFI_UINT, 1),
    TYPE(ffi_type_sint16, "int16_t",  FAAS__FFI_SINT, 2),
    TYPE(ffi_type_uint16, "uint16_t", FAAS__FFI_UINT, 2),
    TYPE(ffi_type_sint32, "int32_t",  FAAS__FFI_SINT, 4),
    TYPE(ffi_type_uint32, "uint32_t", FAAS__FFI_UINT, 4),
    TYPE(ffi_type_sint64, "int64_t",  FAAS__FFI_SINT, 8),
    TYPE(ffi_type_uint64, "uint64_t", FAAS__FFI_UINT, 8),
    TYPE(FT_SIZE,         "size_t",   FAAS__FFI_UINT, sizeof(size_t)),
    TYPE(FT_SSIZE,        "ssize_t",  FAAS__FFI_SINT, sizeof(ssize_t)),
    TYPE(FT_INTPTR,       "intptr_t", FAAS__FFI_SINT, sizeof(intptr_t)),
    TYPE(FT_UINTPTR,      "uintptr_t", FAAS__FFI_UINT, sizeof(uintptr_t)),
    TYPE(FT_PTRDIFF,      "ptrdiff_t", FAAS__FFI_SINT, sizeof(ptrdiff_t)),
};

/* The C type specifiers, counted per declaration; they combine as C11 6.7.2 lists. */
enum spec { S_VOID, S_CHAR, S_SHORT, S_INT, S_LONG, S_SIGNED, S_UNSIGNED, S_FLOAT, S_DOUBLE,
            S_BOOL, S_NSPEC };
static const char *const spec_words[S_NSPEC + 1] = {
    "void", "char", "short", "int", "long", "signed", "unsigned", "float", "double", "bool",
    "_Bool",                        /* the same as bool */
};

/* ---- the lexer -------------------------------------------------------------------------- */

enum tok { T_END, T_IDENT, T_LPAREN, T_RPAREN, T_COMMA, T_STAR, T_SEMI, T_ELLIPSIS,
           T_LBRACKET, T_OTHER };

typedef struct token {
    enum tok kind;
    size_t   at, len;               /* byte offset and length in the text */
} token;

typedef struct parser {
    const char *s;
    size_t      n;
    size_t      pos;                /* where the lexer resumes */
    token       tok;                /* the current token */
    char       *err;
    size_t      errlen;
} parser;

/* Write "message (column N)" to err; returns FAAS_EINVAL. */
static int fail_at(parser *p, size_t at, const char *fmt, ...) FAAS_PRINTF(3, 4);
static int fail_at(parser *p, size_t at, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "%s (column %zu)", msg, at + 1);
    return FAAS_EINVAL;
}

static bool is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident_char(char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

/* Skip blanks and comments. FAAS_EINVAL for a comment that never ends. */
static int skip_blanks(parser *p)
{
    for (;;) {
        while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                                 p->s[p->pos] == '\n' || p->s[p->pos] == '\r' ||
                                 p->s[p->pos] == '\f' || p->s[p->pos] == '\v'))
            p->pos++;
        if (p->pos + 1 < p->n && p->s[p->pos] == '/' && p->s[p->pos + 1] == '*') {
            const char *end = NULL;
            for (size_t i = p->pos + 2; i + 1 < p->n; i++)
                if (p->s[i] == '*' && p->s[i + 1] == '/') {
                    end = p->s + i;
                    break;
                }
            if (end == NULL)
                return fail_at(p, p->pos, "unterminated comment");
            p->pos = (size_t)(end - p->s) + 2;
        } else if (p->pos + 1 < p->n && p->s[p->pos] == '/' && p->s[p->pos + 1] == '/') {
            while (p->pos < p->n && p->s[p->pos] != '\n')
                p->pos++;
        } else {
            return FAAS_OK;
        }
    }
}

/* Move to the next token. */
static int next(parser *p)
{
    int rc = skip_blanks(p);
    if (rc != FAAS_OK)
        return rc;
    token *t = &p->tok;
    t->at = p->pos;
    t->len = 1;
    if (p->pos >= p->n) {
        t->kind = T_END;
        t->len = 0;
        return FAAS_OK;
    }
    char c = p->s[p->pos];
    if (is_ident_start(c)) {
        size_t e = p->pos + 1;
        while (e < p->n && is_ident_char(p->s[e]))
            e++;
        t->kind = T_IDENT;
        t->len = e - p->pos;
    } else if (c == '.' && p->pos + 2 < p->n && p->s[p->pos + 1] == '.' &&
               p->s[p->pos + 2] == '.') {
        t->kind = T_ELLIPSIS;
        t->len = 3;
    } else {
        switch (c) {
        case '(': t->kind = T_LPAREN; break;
        case ')': t->kind = T_RPAREN; break;
        case ',': t->kind = T_COMMA; break;
        case '*': t->kind = T_STAR; break;
        case ';': t->kind = T_SEMI; break;
        case '[': t->kind = T_LBRACKET; break;
        default:  t->kind = T_OTHER; break;
        }
    }
    p->pos += t->len;
    return FAAS_OK;
}

static bool tok_is(const parser *p, const char *word)
{
    size_t n = strlen(word);
    return p->tok.kind == T_IDENT && p->tok.len == n && memcmp(p->s + p->tok.at, word, n) == 0;
}

/* The current token for a message: "the end", "\"foo\"" or a byte. */
static const char *tok_text(const parser *p, char *buf, size_t size)
{
    const token *t = &p->tok;
    if (t->kind == T_END)
        return "the end";
    unsigned char c = (unsigned char)p->s[t->at];
    if (t->kind == T_OTHER && (c < 0x20 || c >= 0x7f))
        snprintf(buf, size, "byte 0x%02x", c);
    else
        snprintf(buf, size, "\"%.*s\"", (int)(t->len > 40 ? 40 : t->len), p->s + t->at);
    return buf;
}

/* Every "(" has its ")": checked first, so that the message says so plainly. */
static int check_parens(parser *p)
{
    size_t depth = 0, outer_open = 0;
    int rc;
    while ((rc = next(p)) == FAAS_OK && p->tok.kind != T_END) {
        if (p->tok.kind == T_LPAREN) {
            if (depth++ == 0)
                outer_open = p->tok.at;   /* depth never returns to 0 after an unclosed one */
        } else if (p->tok.kind == T_RPAREN) {
            if (depth == 0)
                return fail_at(p, p->tok.at, "unbalanced parentheses: this \")\" has no \"(\"");
            depth--;
        }
    }
    if (rc != FAAS_OK)
        return rc;
    if (depth > 0)
        return fail_at(p, outer_open, "unbalanced parentheses: this \"(\" is never closed");
    p->pos = 0;
    return FAAS_OK;
}

/* ---- declarations ------------------------------------------------------------------------- */

static bool word_in(const parser *p, const char *const *words, size_t n, size_t *which)
{
    for (size_t i = 0; i < n; i++)
        if (tok_is(p, words[i])) {
            if (which != NULL)
                *which = i;
            return true;
        }
    return false;
}

static const char *const qualifiers[] = {
    "const", "volatile", "restrict", "__restrict", "__restrict__", "faas_owned",
};
#define NQUAL (sizeof qualifiers / sizeof qualifiers[0])

/* Is the current token a word that can only be part of a type? */
static bool type_word(const parser *p)
{
    if (word_in(p, spec_words, S_NSPEC + 1, NULL) || word_in(p, qualifiers, NQUAL, NULL))
        return true;
    for (size_t i = 0; i < sizeof typedefs / sizeof typedefs[0]; i++)
        if (tok_is(p, typedefs[i].name))
            return true;
    return tok_is(p, "struct") || tok_is(p, "union") || tok_is(p, "enum");
}

/* The type the specifier counts name, or NULL if C has no such combination. */
static const faas__ffi_type *combine(const unsigned c[S_NSPEC], bool *long_double)
{
    unsigned total = 0;
    for (int i = 0; i < S_NSPEC; i++)
        total += c[i];
    *long_double = false;
    if (c[S_SIGNED] + c[S_UNSIGNED] > 1 || c[S_LONG] > 2)
        return NULL;
    for (int i = 0; i < S_NSPEC; i++)
        if (i != S_LONG && c[i] > 1)
            return NULL;
    bool u = c[S_UNSIGNED] != 0;
    unsigned sign = c[S_SIGNED] + c[S_UNSIGNED];
    if (c[S_VOID] || c[S_BOOL] || c[S_FLOAT])
        return total == 1 ? (c[S_VOID] ? &t_void : c[S_BOOL] ? &t_bool : &t_float) : NULL;
    if (c[S_DOUBLE]) {
        if (total == 1)
            return &t_double;
        *long_double = total == 2 && c[S_LONG] == 1;
        return NULL;
    }
    if (c[S_CHAR])
        return total != 1 + sign ? NULL
               : c[S_UNSIGNED] ? &t_uchar : c[S_SIGNED] ? &t_schar : &t_char;
    if (c[S_SHORT])
        return c[S_LONG] ? NULL : u ? &t_ushort : &t_short;
    if (c[S_LONG] == 2)
        return u ? &t_ullong : &t_llong;
    if (c[S_LONG] == 1)
        return u ? &t_ulong : &t_long;
    return u ? &t_uint : &t_int;    /* int, signed, unsigned, with or without int */
}

/* Parse one declaration into *t; *name and *name_len: the declarator's identifier, if any.
 * what: "the return type" or "a parameter type", for messages. */
static int parse_decl(parser *p, faas__ffi_type *t, const char **name, size_t *name_len,
                      const char *what)
{
    unsigned count[S_NSPEC] = {0};
    const faas__ffi_type *tdef = NULL;
    bool any = false, is_const = false, owned = false;
    size_t start = p->tok.at, end = p->tok.at;
    int rc;
    char buf[64];
    *name = NULL;
    *name_len = 0;

    while (p->tok.kind == T_IDENT) {
        size_t which;
        if (word_in(p, qualifiers, NQUAL, &which)) {
            if (which == 0)
                is_const = true;
            else if (which == NQUAL - 1)
                owned = true;
        } else if (tok_is(p, "struct") || tok_is(p, "union") || tok_is(p, "enum")) {
            size_t at = p->tok.at;
            int kw = (int)p->tok.len;
            if ((rc = next(p)) != FAAS_OK)
                return rc;
            int tag = p->tok.kind == T_IDENT ? (int)p->tok.len : 0;
            return fail_at(p, at, "\"%.*s%s%.*s\": %s types are not supported (only "
                           "numbers, bool and char * strings are)", kw, p->s + at,
                           tag ? " " : "", tag, p->s + p->tok.at, kw == 4 ? "enum"
                           : kw == 5 ? "union" : "struct");
        } else if (word_in(p, spec_words, S_NSPEC + 1, &which)) {
            if (tdef != NULL)
                break;                  /* "size_t int": the name check below says so */
            count[which == S_NSPEC ? S_BOOL : which]++;
            any = true;
        } else {
            const faas__ffi_type *td = NULL;
            for (size_t i = 0; i < sizeof typedefs / sizeof typedefs[0]; i++)
                if (tok_is(p, typedefs[i].name))
                    td = &typedefs[i];
            if (td == NULL && !any && tdef == NULL)
                return fail_at(p, p->tok.at, "unknown type \"%.*s\"",
                               (int)(p->tok.len > 64 ? 64 : p->tok.len), p->s + p->tok.at);
            if (td == NULL || any || tdef != NULL)
                break;                  /* the declarator's name (checked below) */
            tdef = td;
        }
        end = p->tok.at + p->tok.len;
        if ((rc = next(p)) != FAAS_OK)
            return rc;
    }
    if (!any && tdef == NULL) {
        if (p->tok.kind == T_END && end > start)   /* only qualifiers */
            return fail_at(p, start, "\"%.*s\" has no type", (int)(end - start), p->s + start);
        return fail_at(p, p->tok.at, "expected %s, got %s", what,
                       tok_text(p, buf, sizeof buf));
    }
    const faas__ffi_type *base = tdef;
    if (base == NULL) {
        bool long_double;
        base = combine(count, &long_double);
        if (long_double)
            return fail_at(p, start, "long double is not supported (a JSON number is a "
                           "double)");
        if (base == NULL)
            return fail_at(p, start, "\"%.*s\" is not a C type", (int)(end - start),
                           p->s + start);
    }

    unsigned stars = 0;
    while (p->tok.kind == T_STAR) {
        stars++;
        end = p->tok.at + 1;
        if ((rc = next(p)) != FAAS_OK)
            return rc;
        size_t which;
        while (word_in(p, qualifiers, NQUAL, &which)) {
            if (which == NQUAL - 1)
                owned = true;          /* "char *faas_owned": the pointer's ownership */
            end = p->tok.at + p->tok.len;
            if ((rc = next(p)) != FAAS_OK)
                return rc;
        }
    }
    *t = *base;
    if (stars > 0) {
        if (stars > 1 || base != &t_char)
            return fail_at(p, start, "\"%.*s\" is a pointer: only strings (char *, const "
                           "char *) are supported", (int)(end - start), p->s + start);
        t->ft = &ffi_type_pointer;
        t->cls = FAAS__FFI_STRING;
        t->size = sizeof(char *);
        t->is_const = is_const;
        t->name = is_const ? "const char *" : "char *";
    }
    t->owned = owned;
    if (owned && t->cls != FAAS__FFI_STRING)
        return fail_at(p, start, "faas_owned applies to char * strings only, not to \"%s\"",
                       t->name);

    if (p->tok.kind == T_IDENT) {
        if (type_word(p))
            return fail_at(p, p->tok.at, "\"%.*s\" cannot follow \"%.*s\"", (int)p->tok.len,
                           p->s + p->tok.at, (int)(end - start), p->s + start);
        *name = p->s + p->tok.at;
        *name_len = p->tok.len;
        if ((rc = next(p)) != FAAS_OK)
            return rc;
    }
    if (p->tok.kind == T_LBRACKET)
        return fail_at(p, p->tok.at, "arrays are not supported");
    return FAAS_OK;
}

/* ---- the normalised text ------------------------------------------------------------------ */

typedef struct sbuf {
    char  *s;
    size_t len, cap;
    bool   oom;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *s2 = realloc(b->s, cap);
        if (s2 == NULL) {
            b->oom = true;
            return;
        }
        b->s = s2;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void puts_(sbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* "faas_owned char *name", "int name", or without a name. */
static void put_decl(sbuf *b, const faas__ffi_type *t, const char *name)
{
    if (t->owned)
        puts_(b, "faas_owned ");
    puts_(b, t->name);
    if (name != NULL) {
        if (t->cls != FAAS__FFI_STRING)
            puts_(b, " ");
        puts_(b, name);
    }
}

static char *normalise(const faas__ffi_sig *sig)
{
    sbuf b = {0};
    put_decl(&b, &sig->ret, NULL);
    if (sig->ret.cls != FAAS__FFI_STRING)
        puts_(&b, " ");
    if (sig->fname != NULL)
        puts_(&b, sig->fname);
    puts_(&b, "(");
    for (unsigned i = 0; i < sig->nparams; i++) {
        if (i > 0)
            puts_(&b, ", ");
        put_decl(&b, &sig->params[i], sig->params[i].pname);
    }
    if (sig->variadic)
        puts_(&b, ", ...");
    else if (sig->nparams == 0)
        puts_(&b, "void");
    puts_(&b, ")");
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

/* ---- signatures ----------------------------------------------------------------------------- */

void faas__ffi_sig_free(faas__ffi_sig *sig)
{
    if (sig == NULL)
        return;
    for (unsigned i = 0; i < sig->nparams; i++)
        free((char *)sig->params[i].pname);
    free(sig->params);
    free(sig->atypes);
    free(sig->fname);
    free(sig->text);
    free(sig);
}

static int oom(parser *p)
{
    snprintf(p->err, p->errlen, "out of memory");
    return FAAS_ENOMEM;
}

static int parse(parser *p, faas__ffi_sig *sig)
{
    int rc;
    char buf[64];
    const char *name;
    size_t name_len;
    if ((rc = check_parens(p)) != FAAS_OK || (rc = next(p)) != FAAS_OK)
        return rc;
    if (p->tok.kind == T_END) {
        snprintf(p->err, p->errlen, "the signature is empty: write a C declaration such as "
                 "\"double cos(double)\"");
        return FAAS_EINVAL;
    }
    if (tok_is(p, "extern") && (rc = next(p)) != FAAS_OK)
        return rc;
    if ((rc = parse_decl(p, &sig->ret, &name, &name_len, "the return type")) != FAAS_OK)
        return rc;
    if (name != NULL && (sig->fname = strndup(name, name_len)) == NULL)
        return oom(p);
    if (p->tok.kind != T_LPAREN) {
        if (p->tok.kind == T_END)
            return fail_at(p, p->tok.at, "the parameter list is missing: expected \"(\"");
        return fail_at(p, p->tok.at, "expected \"(\" and the parameters, got %s",
                       tok_text(p, buf, sizeof buf));
    }
    if ((rc = next(p)) != FAAS_OK)
        return rc;

    unsigned cap = 0;
    while (p->tok.kind != T_RPAREN) {       /* "()" is "(void)", as in C23 */
        if (p->tok.kind == T_ELLIPSIS) {
            if (sig->nparams == 0)
                return fail_at(p, p->tok.at, "\"...\" needs a named parameter before it");
            sig->variadic = true;
            if ((rc = next(p)) != FAAS_OK)
                return rc;
            if (p->tok.kind != T_RPAREN)
                return fail_at(p, p->tok.at, "\"...\" must be the last parameter, got %s "
                               "after it", tok_text(p, buf, sizeof buf));
            break;
        }
        size_t at = p->tok.at;
        faas__ffi_type t;
        if ((rc = parse_decl(p, &t, &name, &name_len, "a parameter type")) != FAAS_OK)
            return rc;
        if (t.cls == FAAS__FFI_VOID) {
            if (sig->nparams == 0 && name == NULL && p->tok.kind == T_RPAREN)
                break;                      /* (void) */
            return fail_at(p, at, "void must be the only parameter, as in \"(void)\"");
        }
        if (sig->nparams == FAAS__FFI_PARAMS_MAX)
            return fail_at(p, at, "more than %d parameters", FAAS__FFI_PARAMS_MAX);
        if (sig->nparams == cap) {
            cap = cap ? cap * 2 : 4;
            faas__ffi_type *grown = realloc(sig->params, cap * sizeof *grown);
            if (grown == NULL)
                return oom(p);
            sig->params = grown;
        }
        t.pname = NULL;
        if (name != NULL && (t.pname = strndup(name, name_len)) == NULL)
            return oom(p);
        sig->params[sig->nparams++] = t;
        if (p->tok.kind == T_LPAREN)
            return fail_at(p, p->tok.at, "function pointers are not supported");
        if (p->tok.kind == T_COMMA) {
            if ((rc = next(p)) != FAAS_OK)
                return rc;
            if (p->tok.kind == T_RPAREN)
                return fail_at(p, p->tok.at, "expected a parameter after \",\"");
        } else if (p->tok.kind != T_RPAREN) {
            return fail_at(p, p->tok.at, "expected \",\" or \")\" after the parameter, got %s",
                           tok_text(p, buf, sizeof buf));
        }
    }
    if ((rc = next(p)) != FAAS_OK)          /* past ")" */
        return rc;
    if (p->tok.kind == T_SEMI && (rc = next(p)) != FAAS_OK)
        return rc;
    if (p->tok.kind != T_END)
        return fail_at(p, p->tok.at, "unexpected %s after the parameter list",
                       tok_text(p, buf, sizeof buf));
    return FAAS_OK;
}

int faas__ffi_sig_parse(const char *text, faas__ffi_sig **out, char *err, size_t errlen)
{
    *out = NULL;
    if (text == NULL) {
        snprintf(err, errlen, "the signature is NULL");
        return FAAS_EINVAL;
    }
    size_t n = strnlen(text, FAAS__FFI_SIG_MAX + 1);
    if (n > FAAS__FFI_SIG_MAX) {
        snprintf(err, errlen, "the signature is longer than %d bytes", FAAS__FFI_SIG_MAX);
        return FAAS_EINVAL;
    }
    faas__ffi_sig *sig = calloc(1, sizeof *sig);
    if (sig == NULL) {
        snprintf(err, errlen, "out of memory");
        return FAAS_ENOMEM;
    }
    parser p = { .s = text, .n = n, .err = err, .errlen = errlen };
    int rc = parse(&p, sig);
    if (rc == FAAS_OK) {
        sig->text = normalise(sig);
        sig->atypes = malloc((sig->nparams ? sig->nparams : 1) * sizeof *sig->atypes);
        if (sig->text == NULL || sig->atypes == NULL)
            rc = oom(&p);
    }
    /* The normal form is what is shown and parsed again (a published version, the
     * gateway): one longer than the limit, which spacing can make of one within it, could
     * not be. Found by fuzz_ffi_sig (a 4,090-byte signature). */
    if (rc == FAAS_OK && strlen(sig->text) > FAAS__FFI_SIG_MAX) {
        snprintf(err, errlen, "the signature is longer than %d bytes once written in its "
                 "normal form", FAAS__FFI_SIG_MAX);
        rc = FAAS_EINVAL;
    }
    if (rc == FAAS_OK) {
        for (unsigned i = 0; i < sig->nparams; i++)
            sig->atypes[i] = sig->params[i].ft;
        ffi_status st = sig->variadic
            ? ffi_prep_cif_var(&sig->cif, FFI_DEFAULT_ABI, sig->nparams, sig->nparams,
                               sig->ret.ft, sig->atypes)
            : ffi_prep_cif(&sig->cif, FFI_DEFAULT_ABI, sig->nparams, sig->ret.ft,
                           sig->atypes);
        if (st != FFI_OK) {
            snprintf(err, errlen, "libffi cannot prepare a call of \"%s\" (ffi_status %d)",
                     sig->text, (int)st);
            rc = FAAS_EINVAL;
        }
    }
    if (rc != FAAS_OK) {
        faas__ffi_sig_free(sig);
        return rc;
    }
    *out = sig;
    return FAAS_OK;
}
