/* test_ffi.c - the libffi bridge: signatures accepted and rejected at registration, every
 * C type at its limits through JSON and through faas_invoke_ffi, each argument and result
 * error with its exact message, string ownership, variadic calls, libm and libc for real,
 * lazy loading and cold starts of a library, and symbols of this very program (it is
 * linked with -export-dynamic, so dlsym(RTLD_DEFAULT) finds the ffi_test_* below). */
#include "util.h"

#include <float.h>
#include <inttypes.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>               /* mallinfo2 */
#endif
#include <math.h>
#include <stdbool.h>
#include <sys/types.h>
#include <unistd.h>

static fixture *current;                 /* for the exported functions below */
static faas_function *reenter_fn;

/* ---- symbols this program exports (path NULL) -------------------------------------------- */

int ffi_test_mul(int a, int b);
int ffi_test_advance(int ms);
int ffi_test_reenter(int x);

int ffi_test_mul(int a, int b)
{
    return a * b;
}

/* Moves the fake clock forward while "running": a call that takes ms milliseconds. */
int ffi_test_advance(int ms)
{
    fake_advance(&current->clock, MS(ms));
    return ms;
}

/* Calls reenter_fn through the binary path from inside a call: the status it got. */
int ffi_test_reenter(int x)
{
    int r = 0;
    void *args[] = { &x };
    return faas_invoke_ffi(reenter_fn, args, &r, NULL);
}

/* ---- helpers ------------------------------------------------------------------------------- */

static int setup(void **state)
{
    faas_options o;
    fixture *f = fixture_new(&o);
    current = f;
    *state = f;
    return fixture_start(f, &o, 0);
}

static int teardown(void **state)
{
    int rc = fixture_teardown(state);
    current = NULL;
    return rc;
}

static const char *lib(void)
{
    return test_module("ffi_lib.so");
}

/* Register NAME as SYMBOL of the fixture library with SIG; fails the test otherwise. */
static void reg(fixture *f, const char *name, const char *symbol, const char *sig)
{
    int rc = faas_register_ffi(f->rt, name, lib(), symbol, sig, NULL);
    if (rc != FAAS_OK)
        fail_msg("faas_register_ffi(%s, \"%s\"): %s", symbol, sig, faas_last_error());
}

/* Call NAME with PAYLOAD: status, and the reply or the error message in out. */
static int call(fixture *f, const char *name, const char *payload, char *out, size_t size)
{
    faas_response res;
    int rc = faas_invoke(f->rt, name, payload, strlen(payload), &res);
    assert_int_equal(rc, res.status);
    if (rc == FAAS_OK)
        snprintf(out, size, "%.*s", (int)res.len, (const char *)res.data);
    else
        snprintf(out, size, "%s", res.error_message ? res.error_message : "");
    faas_response_free(&res);
    return rc;
}

static void expect_ok(fixture *f, const char *name, const char *payload, const char *want)
{
    char out[512];
    int rc = call(f, name, payload, out, sizeof out);
    if (rc != FAAS_OK || strcmp(out, want) != 0)
        fail_msg("%s %s: got %s \"%s\", want \"%s\"", name, payload, faas_err_name(rc), out,
                 want);
}

static void expect_err(fixture *f, const char *name, const char *payload, int status,
                       const char *want)
{
    char out[512];
    int rc = call(f, name, payload, out, sizeof out);
    if (rc != status || strcmp(out, want) != 0)
        fail_msg("%s %s: got %s \"%s\", want %s \"%s\"", name, payload, faas_err_name(rc),
                 out, faas_err_name(status), want);
}

/* A decimal integer's text plus one in magnitude: "255" -> "256", "-128" -> "-129". */
static void away_by_one(char *s)
{
    size_t n = strlen(s);
    size_t i = n;
    while (i > 0 && s[i - 1] != '-') {
        if (s[i - 1] != '9') {
            s[i - 1]++;
            return;
        }
        s[--i] = '0';
    }
    memmove(s + i + 1, s + i, n - i + 1);
    s[i] = '1';
}

/* ---- signatures --------------------------------------------------------------------------- */

static void bad_signatures_are_rejected_at_registration(void **state)
{
    fixture *f = *state;
    static const struct { const char *sig, *why; } bad[] = {
        { "double (doubel)", "unknown type \"doubel\" (column 9)" },
        { "int f(int", "unbalanced parentheses: this \"(\" is never closed (column 6)" },
        { "int f(int))", "unbalanced parentheses: this \")\" has no \"(\" (column 11)" },
        { "int f)(int", "unbalanced parentheses: this \")\" has no \"(\" (column 6)" },
        { "struct x f(int)", "\"struct x\": struct types are not supported (only numbers, "
                             "bool and char * strings are) (column 1)" },
        { "int f(struct x)", "\"struct x\": struct types are not supported (only numbers, "
                             "bool and char * strings are) (column 7)" },
        { "int f(union u)", "\"union u\": union types are not supported (only numbers, "
                            "bool and char * strings are) (column 7)" },
        { "int f(int *)", "\"int *\" is a pointer: only strings (char *, const char *) are "
                          "supported (column 7)" },
        { "void *f(void)", "\"void *\" is a pointer: only strings (char *, const char *) "
                           "are supported (column 1)" },
        { "int f(char **)", "\"char **\" is a pointer: only strings (char *, const char *) "
                            "are supported (column 7)" },
        { "int f(unsigned char *)", "\"unsigned char *\" is a pointer: only strings "
                                    "(char *, const char *) are supported (column 7)" },
        { "int f(int a[])", "arrays are not supported (column 12)" },
        { "int f(int (*cb)(int))", "function pointers are not supported (column 11)" },
        { "long double f(void)", "long double is not supported (a JSON number is a "
                                 "double) (column 1)" },
        { "unsigned float f(void)", "\"unsigned float\" is not a C type (column 1)" },
        { "long short f(void)", "\"long short\" is not a C type (column 1)" },
        { "long long long f(void)", "\"long long long\" is not a C type (column 1)" },
        { "int f(void x)", "void must be the only parameter, as in \"(void)\" (column 7)" },
        { "int f(int, void)", "void must be the only parameter, as in \"(void)\" (column 12)" },
        { "int f(...)", "\"...\" needs a named parameter before it (column 7)" },
        { "int f(int, ..., int)", "\"...\" must be the last parameter, got \",\" after it "
                                  "(column 15)" },
        { "int f(int,)", "expected a parameter after \",\" (column 11)" },
        { "int f(int x y)", "expected \",\" or \")\" after the parameter, got \"y\" "
                            "(column 13)" },
        { "int f(int) g", "unexpected \"g\" after the parameter list (column 12)" },
        { "int f", "the parameter list is missing: expected \"(\" (column 6)" },
        { "int f g(int)", "expected \"(\" and the parameters, got \"g\" (column 7)" },
        { "faas_owned int f(void)", "faas_owned applies to char * strings only, not to "
                                    "\"int\" (column 1)" },
        { "size_t int f(void)", "\"int\" cannot follow \"size_t\" (column 8)" },
        { "const f(void)", "unknown type \"f\" (column 7)" },
        { "int f(int) /* never closed", "unterminated comment (column 12)" },
        { "int f(int $)", "expected \",\" or \")\" after the parameter, got \"$\" (column 11)" },
        { "", "the signature is empty: write a C declaration such as \"double cos(double)\"" },
        { "  /* only a comment */ ", "the signature is empty: write a C declaration such as "
                                      "\"double cos(double)\"" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = faas_register_ffi(f->rt, "bad", lib(), "add", bad[i].sig, NULL);
        char want[512];
        snprintf(want, sizeof want, "faas_register_ffi bad: bad signature \"%s\": %s",
                 bad[i].sig, bad[i].why);
        if (rc != FAAS_EINVAL || strcmp(faas_last_error(), want) != 0)
            fail_msg("\"%s\": %s \"%s\"\n  want \"%s\"", bad[i].sig, faas_err_name(rc),
                     faas_last_error(), want);
        assert_null(faas_lookup(f->rt, "bad"));     /* never registered */
    }
    assert_int_equal(faas_register_ffi(f->rt, "bad", lib(), "add", NULL, NULL), FAAS_EINVAL);
    assert_string_equal(faas_last_error(), "faas_register_ffi bad: bad signature \"(null)\": "
                        "the signature is NULL");
    char big[5000];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(faas_register_ffi(f->rt, "bad", lib(), "add", big, NULL), FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "the signature is longer than 4096 bytes"));
    /* 128 parameters: one more than a C compiler must accept. */
    char many[2048] = "int f(int";
    for (int i = 1; i < 128; i++)
        strcat(many, ", int");
    strcat(many, ")");
    assert_int_equal(faas_register_ffi(f->rt, "bad", lib(), "add", many, NULL), FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "more than 127 parameters"));
}

/* What registration accepts, shown by the normalised signature an error message starts
 * with. */
static void signatures_in_c_syntax(void **state)
{
    fixture *f = *state;
    static const struct { const char *sig, *norm; } ok[] = {
        { "int (int, int)", "int (int, int)" },
        { "int add(int a, int b)", "int add(int a, int b)" },
        { "extern int add (int __a, int __b);", "int add(int __a, int __b)" },
        { "signed int add(signed, int)", "int add(int, int)" },
        { "int /* the sum */ add(int a /* left */, int b) // of two\n",
          "int add(int a, int b)" },
        { "long unsigned int id_ulong(unsigned long int)",
          "unsigned long id_ulong(unsigned long)" },
        { "const char *id_str(char const *restrict s)", "const char *id_str(const char *s)" },
        { "unsigned short id_ushort(short unsigned)", "unsigned short id_ushort(unsigned short)" },
        { "long long int id_llong(signed long long)", "long long id_llong(long long)" },
        { "_Bool id_bool(bool)", "bool id_bool(bool)" },
        { "void touch()", "void touch(void)" },
        { "char *faas_owned upper_dup(const char *)", "faas_owned char *upper_dup(const char *)" },
        { "size_t take(char *faas_owned s)", "size_t take(faas_owned char *s)" },
        { "int dprintf(int fd, const char *fmt, ...)", "int dprintf(int fd, const char *fmt, ...)" },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int rc = faas_register_ffi(f->rt, "sig", lib(), NULL, ok[i].sig, NULL);
        if (rc == FAAS_EINVAL && strstr(faas_last_error(), "no symbol") != NULL)
            rc = faas_register_ffi(f->rt, "sig", lib(), "add", ok[i].sig, NULL);
        if (rc != FAAS_OK)
            fail_msg("\"%s\": %s", ok[i].sig, faas_last_error());
        /* An object is never an argument: the message names the function as normalised. */
        char out[512], want[512];
        const char *payload = strstr(ok[i].norm, "(void)") ? "[1]" : "[{}]";
        call(f, "sig", payload, out, sizeof out);
        snprintf(want, sizeof want, "%s: ", ok[i].norm);
        if (strncmp(out, want, strlen(want)) != 0)
            fail_msg("\"%s\": got \"%s\", want it to start with \"%s\"", ok[i].sig, out, want);
        ASSERT_OK(faas_unregister(f->rt, "sig"));
    }
}

static void symbol_and_registration_arguments(void **state)
{
    fixture *f = *state;
    /* The symbol defaults to the name in the signature. */
    ASSERT_OK(faas_register_ffi(f->rt, "plus", lib(), NULL, "int add(int, int)", NULL));
    expect_ok(f, "plus", "[2, 3]", "5");
    ASSERT_OK(faas_register_ffi(f->rt, "plus2", lib(), "", "int add(int, int)", NULL));
    expect_ok(f, "plus2", "[2, 40]", "42");
    assert_int_equal(faas_register_ffi(f->rt, "x", lib(), NULL, "int (int, int)", NULL),
                     FAAS_EINVAL);
    assert_string_equal(faas_last_error(), "faas_register_ffi x: no symbol: give one, or "
                        "name the function in the signature");
    assert_int_equal(faas_register_ffi(f->rt, "x", lib(), "add", "int sub(int, int)", NULL),
                     FAAS_EINVAL);
    assert_string_equal(faas_last_error(), "faas_register_ffi x: the signature declares sub "
                        "but the symbol is add");
    assert_int_equal(faas_register_ffi(f->rt, "x", "", "add", "int (int, int)", NULL),
                     FAAS_EINVAL);
    assert_string_equal(faas_last_error(), "faas_register_ffi x: path is empty (NULL means a "
                        "symbol of the process)");
    faas_config cfg;
    faas_config_init(&cfg);
    cfg.shutdown = free;
    assert_int_equal(faas_register_ffi(f->rt, "x", lib(), "add", "int (int, int)", &cfg),
                     FAAS_EINVAL);
    assert_string_equal(faas_last_error(), "faas_register_ffi x: a C function has no INIT or "
                        "SHUTDOWN hook: init and shutdown must be NULL");
    assert_int_equal(faas_register_ffi(NULL, "x", lib(), "add", "int (int, int)", NULL),
                     FAAS_EINVAL);
    /* The prepared call is freed when registration fails after parsing (ASan, valgrind). */
    assert_int_equal(faas_register_ffi(f->rt, "bad name!", lib(), "add", "int (int, int)",
                                       NULL), FAAS_EINVAL);
    assert_non_null(strstr(faas_last_error(), "invalid function name"));
    assert_int_equal(faas_register_ffi(f->rt, "plus", lib(), "add", "int (int, int)", NULL),
                     FAAS_EEXIST);
    faas_config_init(&cfg);
    cfg.memory_mb = 0;
    assert_int_equal(faas_register_ffi(f->rt, "x", lib(), "add", "int (int, int)", &cfg),
                     FAAS_EINVAL);
    /* The bridge calls in the host process only (and frees its prepared call). */
    faas_config_init(&cfg);
    cfg.isolation = FAAS_ISOLATE_PROCESS;
    assert_int_equal(faas_register_ffi(f->rt, "x", lib(), "add", "int (int, int)", &cfg),
                     FAAS_ENOTSUP);
    assert_string_equal(faas_last_error(), "faas_register_ffi x: isolation is supported for "
                        "modules (faas_register_module) only");
    assert_null(faas_lookup(f->rt, "x"));
}

/* ---- every type at its limits --------------------------------------------------------------- */

static void integers_at_their_limits(void **state)
{
    fixture *f = *state;
    char lo[32], hi[32];
    static const struct { const char *spelled, *name, *symbol; int is_signed, size; } t[] = {
        { "char", "char", "id_char", CHAR_MIN < 0, 1 },
        { "signed char", "signed char", "id_schar", 1, 1 },
        { "unsigned char", "unsigned char", "id_uchar", 0, 1 },
        { "short int", "short", "id_short", 1, sizeof(short) },
        { "unsigned short", "unsigned short", "id_ushort", 0, sizeof(short) },
        { "int", "int", "id_int", 1, sizeof(int) },
        { "unsigned", "unsigned int", "id_uint", 0, sizeof(int) },
        { "long", "long", "id_long", 1, sizeof(long) },
        { "unsigned long", "unsigned long", "id_ulong", 0, sizeof(long) },
        { "long long", "long long", "id_llong", 1, 8 },
        { "unsigned long long", "unsigned long long", "id_ullong", 0, 8 },
        { "int8_t", "int8_t", "id_i8", 1, 1 },
        { "uint8_t", "uint8_t", "id_u8", 0, 1 },
        { "int16_t", "int16_t", "id_i16", 1, 2 },
        { "uint16_t", "uint16_t", "id_u16", 0, 2 },
        { "int32_t", "int32_t", "id_i32", 1, 4 },
        { "uint32_t", "uint32_t", "id_u32", 0, 4 },
        { "int64_t", "int64_t", "id_i64", 1, 8 },
        { "uint64_t", "uint64_t", "id_u64", 0, 8 },
        { "size_t", "size_t", "id_size", 0, sizeof(size_t) },
        { "ssize_t", "ssize_t", "id_ssize", 1, sizeof(ssize_t) },
        { "intptr_t", "intptr_t", "id_intptr", 1, sizeof(intptr_t) },
        { "uintptr_t", "uintptr_t", "id_uintptr", 0, sizeof(uintptr_t) },
        { "ptrdiff_t", "ptrdiff_t", "id_ptrdiff", 1, sizeof(ptrdiff_t) },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char sig[96], name[16], p[64], want[256];
        snprintf(sig, sizeof sig, "%s (%s)", t[i].spelled, t[i].spelled);
        snprintf(name, sizeof name, "t%zu", i);
        reg(f, name, t[i].symbol, sig);
        unsigned bits = 8u * (unsigned)t[i].size;
        if (t[i].is_signed) {
            snprintf(lo, sizeof lo, "%" PRId64, bits == 64 ? INT64_MIN
                                                           : -(INT64_C(1) << (bits - 1)));
            snprintf(hi, sizeof hi, "%" PRId64, bits == 64 ? INT64_MAX
                                                           : (INT64_C(1) << (bits - 1)) - 1);
        } else {
            snprintf(lo, sizeof lo, "0");
            snprintf(hi, sizeof hi, "%" PRIu64, bits == 64 ? UINT64_MAX
                                                           : (UINT64_C(1) << bits) - 1);
        }
        snprintf(p, sizeof p, "[%s]", lo);
        expect_ok(f, name, p, lo);
        snprintf(p, sizeof p, "[%s]", hi);
        expect_ok(f, name, p, hi);
        expect_ok(f, name, "[0]", "0");
        expect_ok(f, name, "[7.0]", "7");         /* a real without a fraction */
        expect_ok(f, name, "[1e2]", "100");

        char below[40], above[40];
        if (t[i].is_signed) {
            snprintf(below, sizeof below, "%s", lo);
            away_by_one(below);
        } else {
            snprintf(below, sizeof below, "-1");
        }
        snprintf(above, sizeof above, "%s", hi);
        away_by_one(above);
        const char *norm = t[i].name;
        snprintf(want, sizeof want, "%s (%s): argument 1: expected %s (%s to %s), got %s",
                 norm, norm, norm, lo, hi, below);
        snprintf(p, sizeof p, "[%s]", below);
        expect_err(f, name, p, FAAS_EINVAL, want);
        snprintf(want, sizeof want, "%s (%s): argument 1: expected %s (%s to %s), got %s",
                 norm, norm, norm, lo, hi, above);
        snprintf(p, sizeof p, "[%s]", above);
        expect_err(f, name, p, FAAS_EINVAL, want);
        snprintf(want, sizeof want, "%s (%s): argument 1: expected %s, got 2.5, which has a "
                 "fraction", norm, norm, norm);
        expect_err(f, name, "[2.5]", FAAS_EINVAL, want);
        snprintf(want, sizeof want, "%s (%s): argument 1: expected %s, got a string", norm,
                 norm, norm);
        expect_err(f, name, "[\"1\"]", FAAS_EINVAL, want);
        snprintf(want, sizeof want, "%s (%s): argument 1: expected %s, got true", norm, norm,
                 norm);
        expect_err(f, name, "[true]", FAAS_EINVAL, want);
    }
    /* Beyond 2^53 a real may already be rounded: refused even when in range. */
    expect_err(f, "t17", "[1e18]", FAAS_EINVAL, "int64_t (int64_t): argument 1: expected "
               "int64_t, got 1e+18 as a real number, which may not be exact past 2^53: write "
               "it as an integer");
    expect_err(f, "t18", "[1e20]", FAAS_EINVAL, "uint64_t (uint64_t): argument 1: expected "
               "uint64_t (0 to 18446744073709551615), got 1e+20");
    expect_ok(f, "t17", "[9007199254740991.0]", "9007199254740991");
    /* Integers past 64 bits, however long. */
    expect_err(f, "t18", "[123456789012345678901234567890123456789012345678901234567890]",
               FAAS_EINVAL, "uint64_t (uint64_t): argument 1: expected uint64_t (0 to "
               "18446744073709551615), got 123456789012345678901234567890123456...");
}

static void bool_and_reals_at_their_limits(void **state)
{
    fixture *f = *state;
    reg(f, "b", "id_bool", "bool (bool)");
    expect_ok(f, "b", "[true]", "true");
    expect_ok(f, "b", "[false]", "false");
    expect_err(f, "b", "[1]", FAAS_EINVAL, "bool (bool): argument 1: expected bool (true or "
               "false), got 1");
    expect_err(f, "b", "[null]", FAAS_EINVAL, "bool (bool): argument 1: expected bool (true "
               "or false), got null");

    reg(f, "d", "id_double", "double (double x)");
    expect_ok(f, "d", "[0]", "0.0");
    expect_ok(f, "d", "[-0.0]", "-0.0");
    expect_ok(f, "d", "[0.1]", "0.1");
    expect_ok(f, "d", "[1]", "1.0");
    expect_ok(f, "d", "[100]", "100.0");
    expect_ok(f, "d", "[1e21]", "1e+21");
    expect_ok(f, "d", "[0.3333333333333333]", "0.3333333333333333");
    expect_ok(f, "d", "[5e-324]", "5e-324");                        /* the least denormal */
    expect_ok(f, "d", "[2.225073858507201e-308]", "2.225073858507201e-308"); /* largest one */
    expect_ok(f, "d", "[2.2250738585072014e-308]", "2.2250738585072014e-308"); /* DBL_MIN */
    expect_ok(f, "d", "[1.7976931348623157e308]", "1.7976931348623157e+308"); /* DBL_MAX */
    expect_ok(f, "d", "[-1.7976931348623157e308]", "-1.7976931348623157e+308");
    expect_ok(f, "d", "[9007199254740993]", "9007199254740992.0");  /* the nearest double */
    expect_ok(f, "d", "[18446744073709551615]", "1.8446744073709552e+19");
    expect_ok(f, "d", "[-9223372036854775809]", "-9.223372036854776e+18");
    expect_ok(f, "d", "[100000000000000000000000000000]", "1e+29");
    expect_err(f, "d", "[1e999]", FAAS_EINVAL, "double (double x): argument 1 (x): expected "
               "double, got 1e999, which is out of its range");
    expect_err(f, "d", "[\"1.5\"]", FAAS_EINVAL, "double (double x): argument 1 (x): "
               "expected double, got a string");

    reg(f, "fl", "id_float", "float (float)");
    expect_ok(f, "fl", "[0.1]", "0.1");
    expect_ok(f, "fl", "[-0.0]", "-0.0");
    expect_ok(f, "fl", "[16777217]", "16777216.0");
    expect_ok(f, "fl", "[3.4028234663852886e38]", "3.4028235e+38");      /* FLT_MAX */
    expect_ok(f, "fl", "[3.4028235e+38]", "3.4028235e+38");  /* its shortest text reads back */
    expect_ok(f, "fl", "[-3.4028235e+38]", "-3.4028235e+38");
    expect_ok(f, "fl", "[1.1754943508222875e-38]", "1.1754944e-38");     /* FLT_MIN */
    expect_ok(f, "fl", "[1.401298464324817e-45]", "1e-45");              /* least denormal */
    expect_ok(f, "fl", "[1e-50]", "0.0");
    expect_err(f, "fl", "[3.5e38]", FAAS_EINVAL, "float (float): argument 1: expected float "
               "(at most 3.40282e+38 in magnitude), got 3.5e+38");
    expect_err(f, "fl", "[-1e300]", FAAS_EINVAL, "float (float): argument 1: expected float "
               "(at most 3.40282e+38 in magnitude), got -1e+300");
}

static void strings_empty_utf8_and_ownership(void **state)
{
    fixture *f = *state;
    reg(f, "s", "id_str", "const char *id_str(const char *s)");
    expect_ok(f, "s", "[\"\"]", "\"\"");
    expect_ok(f, "s", "[\"h\\u00e9llo w\\u00f6rld \\u2713 \\ud83c\\udf89\"]",
              "\"h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xf0\x9f\x8e\x89\"");
    expect_ok(f, "s", "[\"quote \\\" backslash \\\\ tab \\t\"]",
              "\"quote \\\" backslash \\\\ tab \\t\"");
    expect_err(f, "s", "[\"a\\u0000b\"]", FAAS_EINVAL, "const char *id_str(const char *s): "
               "argument 1 (s): expected const char *, got a string with a NUL byte at "
               "offset 1 (a C string ends at its first NUL)");
    expect_err(f, "s", "[null]", FAAS_EINVAL, "const char *id_str(const char *s): argument 1 "
               "(s): expected const char *, got null");
    expect_err(f, "s", "[42]", FAAS_EINVAL, "const char *id_str(const char *s): argument 1 "
               "(s): expected const char *, got 42");
    /* The UTF-8 bytes reach C as they are. */
    ASSERT_OK(faas_register_ffi(f->rt, "len", NULL, "strlen", "size_t (const char *)", NULL));
    expect_ok(f, "len", "[\"\"]", "0");
    expect_ok(f, "len", "[\"\\u00e9\\u2713\\ud83c\\udf89\"]", "9");

    /* A char * may be written to: it gets a writable copy. */
    reg(f, "scribble", "scribble", "size_t scribble(char *)");
    expect_ok(f, "scribble", "[\"abc\"]", "3");
    /* A faas_owned result is freed after its JSON is made (a leak would show under ASan
     * and valgrind), a plain one never (id_str returns the argument: freeing it would be
     * a double free). */
    reg(f, "upper", "upper_dup", "faas_owned char *upper_dup(const char *)");
    expect_ok(f, "upper", "[\"abc \\u00e9\"]", "\"ABC \xc3\xa9\"");
    /* A faas_owned argument is the callee's to free, once the call has run ... */
    reg(f, "take", "take", "size_t take(faas_owned char *)");
    expect_ok(f, "take", "[\"hello\"]", "5");
    /* ... and ours when a later argument stops the call first. */
    reg(f, "take2", "take_then", "size_t take_then(faas_owned char *, int)");
    expect_ok(f, "take2", "[\"hello\", 2]", "7");
    expect_err(f, "take2", "[\"hello\", \"2\"]", FAAS_EINVAL, "size_t take_then(faas_owned "
               "char *, int): argument 2: expected int, got a string");
    /* NULL comes back as null. */
    reg(f, "nul", "null_str", "const char *(void)");
    expect_ok(f, "nul", "[]", "null");
}

/* ---- errors ------------------------------------------------------------------------------- */

static void argument_and_payload_errors(void **state)
{
    fixture *f = *state;
    reg(f, "add", "add", "int add(int a, int b)");
    expect_ok(f, "add", "[1, 2]", "3");
    expect_ok(f, "add", " { \"args\" : [1, 2], \"other\": {\"x\": [1]} } ", "3");
    expect_err(f, "add", "[1]", FAAS_EINVAL, "int add(int a, int b): expected 2 arguments "
               "(int, int), got 1");
    expect_err(f, "add", "[1, 2, 3]", FAAS_EINVAL, "int add(int a, int b): expected 2 "
               "arguments (int, int), got 3");
    expect_err(f, "add", "", FAAS_EINVAL, "int add(int a, int b): expected 2 arguments "
               "(int, int), got 0");
    expect_err(f, "add", "[1, \"2\"]", FAAS_EINVAL, "int add(int a, int b): argument 2 (b): "
               "expected int, got a string");
    expect_err(f, "add", "[[1], 2]", FAAS_EINVAL, "int add(int a, int b): argument 1 (a): "
               "expected int, got an array");
    expect_err(f, "add", "[{}, 2]", FAAS_EINVAL, "int add(int a, int b): argument 1 (a): "
               "expected int, got an object");
    expect_err(f, "add", "[1, null]", FAAS_EINVAL, "int add(int a, int b): argument 2 (b): "
               "expected int, got null");
    expect_err(f, "add", "[1, 3000000000]", FAAS_EINVAL, "int add(int a, int b): argument 2 "
               "(b): expected int (-2147483648 to 2147483647), got 3000000000");
    expect_err(f, "add", "[1.5, 2]", FAAS_EINVAL, "int add(int a, int b): argument 1 (a): "
               "expected int, got 1.5, which has a fraction");
    expect_err(f, "add", "[1, 2", FAAS_EINVAL, "int add(int a, int b): the payload is not "
               "valid JSON: ']' expected near end of file (line 1, column 5)");
    expect_err(f, "add", "3", FAAS_EINVAL, "int add(int a, int b): the payload must be a "
               "JSON array of arguments or {\"args\": [...]}, got a number");
    expect_err(f, "add", "\"x\"", FAAS_EINVAL, "int add(int a, int b): the payload must be "
               "a JSON array of arguments or {\"args\": [...]}, got a string");
    expect_err(f, "add", "{\"arg\": [1, 2]}", FAAS_EINVAL, "int add(int a, int b): the "
               "payload object has no \"args\" array");
    expect_err(f, "add", "{\"args\": 1}", FAAS_EINVAL, "int add(int a, int b): \"args\" "
               "must be an array, got a number");
    /* uint8_t 300, the example. */
    reg(f, "u8", "id_u8", "uint8_t (uint8_t)");
    expect_err(f, "u8", "[300]", FAAS_EINVAL, "uint8_t (uint8_t): argument 1: expected "
               "uint8_t (0 to 255), got 300");
    reg(f, "none", "touch", "void touch(void)");
    expect_err(f, "none", "[1]", FAAS_EINVAL, "void touch(void): expected no arguments, got 1");

    /* The failure is the function's, as Lambda's: a record, counted, Lambda's body. */
    faas_response res;
    assert_int_equal(faas_invoke(f->rt, "add", "[1]", 3, &res), FAAS_EINVAL);
    assert_string_equal(res.error_type, "InvalidParameterValueException");
    assert_string_equal((char *)res.data, "{\"errorMessage\":\"int add(int a, int b): "
                        "expected 2 arguments (int, int), got 1\",\"errorType\":"
                        "\"InvalidParameterValueException\"}");
    assert_int_equal(res.record.status, FAAS_EINVAL);
    assert_string_equal(faas_last_error(), "InvalidParameterValueException: int add(int a, "
                        "int b): expected 2 arguments (int, int), got 1");
    faas_response_free(&res);
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "add", &st));
    assert_true(st.errors >= 1 && st.invocations > st.errors);
}

/* The exact path: a payload with a number jansson cannot hold is read value by value. */
static void numbers_past_64_bits(void **state)
{
    fixture *f = *state;
    reg(f, "u64", "id_u64", "uint64_t (uint64_t)");
    expect_ok(f, "u64", " [ 18446744073709551615 ] ", "18446744073709551615");
    expect_ok(f, "u64", "{\"args\": [18446744073709551615]}", "18446744073709551615");
    expect_ok(f, "u64", "{\"x\": 1, \"args\": [1], \"\\u0061rgs\": [18446744073709551615]}",
              "18446744073709551615");        /* the last "args" wins, as in jansson */
    /* jansson keeps no NUL in an object key: refused on both paths alike. */
    expect_err(f, "u64", "{\"args\": [18446744073709551615], \"\\u0000\": 1}", FAAS_EINVAL,
               "uint64_t (uint64_t): the payload is not valid JSON (at byte 33)");
    expect_err(f, "u64", "[18446744073709551615, 1]", FAAS_EINVAL, "uint64_t (uint64_t): "
               "expected 1 argument (uint64_t), got 2");
    expect_err(f, "u64", "[18446744073709551615", FAAS_EINVAL, "uint64_t (uint64_t): the "
               "payload is not valid JSON (at byte 21)");
    expect_err(f, "u64", "[18446744073709551615] x", FAAS_EINVAL, "uint64_t (uint64_t): the "
               "payload is not valid JSON (at byte 23)");
    expect_err(f, "u64", "{\"y\": 18446744073709551615}", FAAS_EINVAL, "uint64_t (uint64_t): "
               "the payload object has no \"args\" array");
    /* Every value is checked, also one a later "args" replaces (found by fuzz_ffi_json). */
    expect_err(f, "u64", "{\"args\": [18446744073709551615, }], \"args\": [1]}", FAAS_EINVAL,
               "uint64_t (uint64_t): the payload is not valid JSON (at byte 9)");
    expect_err(f, "u64", "{\"args\": [18446744073709551615], \"x\": [}]}", FAAS_EINVAL,
               "uint64_t (uint64_t): the payload is not valid JSON (at byte 38)");
    reg(f, "add", "add", "int add(int a, int b)");
    expect_err(f, "add", "[[18446744073709551616], 1]", FAAS_EINVAL, "int add(int a, int b): "
               "argument 1 (a): expected int, got an array");
    expect_err(f, "add", "[18446744073709551616, tru]", FAAS_EINVAL, "int add(int a, int b): "
               "argument 2 is not valid JSON: invalid token near 'tru'");
    expect_err(f, "add", "[1e400, 1]", FAAS_EINVAL, "int add(int a, int b): argument 1 (a): "
               "expected int (-2147483648 to 2147483647), got 1e400");
}

static void results_json_cannot_carry(void **state)
{
    fixture *f = *state;
    reg(f, "nan", "make_nan", "double make_nan(void)");
    expect_err(f, "nan", "[]", FAAS_EINVAL, "double make_nan(void): the result, double nan, "
               "cannot be carried in JSON, which has no infinities and no NaN");
    reg(f, "inf", "make_inf", "double make_inf(int)");
    expect_err(f, "inf", "[1]", FAAS_EINVAL, "double make_inf(int): the result, double inf, "
               "cannot be carried in JSON, which has no infinities and no NaN");
    expect_err(f, "inf", "[-1]", FAAS_EINVAL, "double make_inf(int): the result, double -inf, "
               "cannot be carried in JSON, which has no infinities and no NaN");
    reg(f, "finf", "make_finf", "float make_finf(void)");
    expect_err(f, "finf", "", FAAS_EINVAL, "float make_finf(void): the result, float inf, "
               "cannot be carried in JSON, which has no infinities and no NaN");
    reg(f, "bytes", "not_utf8", "const char *not_utf8(void)");
    expect_err(f, "bytes", "[]", FAAS_EINVAL, "const char *not_utf8(void): the result, a "
               "const char *, is not valid UTF-8 (near byte 2), which JSON cannot carry");
    /* The binary path carries all of them. */
    faas_function *fn = faas_lookup(f->rt, "inf");
    int sign = -1;
    double d = 0;
    void *args[] = { &sign };
    ASSERT_OK(faas_invoke_ffi(fn, args, &d, NULL));
    assert_true(isinf(d) && d < 0);
}

/* ---- variadic calls --------------------------------------------------------------------------- */

static void variadic_dprintf_into_a_pipe(void **state)
{
    fixture *f = *state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    ASSERT_OK(faas_register_ffi(f->rt, "dprintf", NULL, NULL,
                                "int dprintf(int fd, const char *format, ...)", NULL));
    char payload[512], out[512];
    snprintf(payload, sizeof payload, "[%d, \"%%d|%%s|%%.3f|%%lld|%%llu|%%c|%%d|%%s\", 42, "
             "\"h\\u00e9llo\", 2.5, -9007199254740993, 18446744073709551615, 65, true, \"\"]",
             fds[1]);
    const char *want = "42|h\xc3\xa9llo|2.500|-9007199254740993|18446744073709551615|A|1|";
    char n[16];
    snprintf(n, sizeof n, "%zu", strlen(want));
    expect_ok(f, "dprintf", payload, n);
    ssize_t got = read(fds[0], out, sizeof out - 1);
    assert_true(got >= 0);
    out[got] = '\0';
    assert_string_equal(out, want);
    /* Only the fixed arguments. */
    snprintf(payload, sizeof payload, "{\"args\": [%d, \"plain\"]}", fds[1]);
    expect_ok(f, "dprintf", payload, "5");
    got = read(fds[0], out, sizeof out - 1);
    assert_int_equal(got, 5);

    expect_err(f, "dprintf", "[1]", FAAS_EINVAL, "int dprintf(int fd, const char *format, "
               "...): expected at least 2 arguments (int, const char *, ...), got 1");
    snprintf(payload, sizeof payload, "[%d, \"%%s\", null]", fds[1]);
    expect_err(f, "dprintf", payload, FAAS_EINVAL, "int dprintf(int fd, const char *format, "
               "...): argument 3 (variadic): expected a number, a string, true or false, "
               "got null");
    snprintf(payload, sizeof payload, "[%d, \"%%d\", 18446744073709551616]", fds[1]);
    expect_err(f, "dprintf", payload, FAAS_EINVAL, "int dprintf(int fd, const char *format, "
               "...): argument 3 (variadic): 18446744073709551616 is out of range of long "
               "long and unsigned long long");
    /* 127 arguments is C's limit for one call. */
    size_t o = (size_t)snprintf(payload, sizeof payload, "[%d, \"\"", fds[1]);
    for (int i = 0; i < 126; i++)
        o += (size_t)snprintf(payload + o, sizeof payload - o, ",1");
    snprintf(payload + o, sizeof payload - o, "]");
    expect_err(f, "dprintf", payload, FAAS_EINVAL, "int dprintf(int fd, const char *format, "
               "...): expected at least 2 arguments (int, const char *, ...), got more than "
               "127 (C's limit of arguments in a call)");
    /* The binary path has no types for variadic arguments. */
    faas_response res;
    void *args[] = { &fds[1], &(const char *){ "x" } };
    assert_int_equal(faas_invoke_ffi(faas_lookup(f->rt, "dprintf"), args, NULL, &res),
                     FAAS_EINVAL);
    assert_non_null(strstr(res.error_message, "a variadic function takes its arguments as "
                           "JSON"));
    faas_response_free(&res);
    close(fds[0]);
    close(fds[1]);
}

/* ---- real libraries --------------------------------------------------------------------------- */

static void libm_and_libc_for_real(void **state)
{
    fixture *f = *state;
    ASSERT_OK(faas_register_ffi(f->rt, "cos", "libm.so.6", "cos", "double (double)", NULL));
    expect_ok(f, "cos", "[0]", "1.0");
    ASSERT_OK(faas_register_ffi(f->rt, "pow", "libm.so.6", NULL, "double pow(double, double)",
                                NULL));
    expect_ok(f, "pow", "[2, 10]", "1024.0");
    expect_ok(f, "pow", "[2, 0.5]", "1.4142135623730951");
    ASSERT_OK(faas_register_ffi(f->rt, "sqrtf", "libm.so.6", NULL, "float sqrtf(float)", NULL));
    expect_ok(f, "sqrtf", "[2]", "1.4142135");
    ASSERT_OK(faas_register_ffi(f->rt, "labs", NULL, NULL, "long labs(long)", NULL));
    expect_ok(f, "labs", "[-9223372036854775807]", "9223372036854775807");
    ASSERT_OK(faas_register_ffi(f->rt, "atoi", NULL, NULL, "int atoi(const char *)", NULL));
    expect_ok(f, "atoi", "[\"  -17apples\"]", "-17");
    ASSERT_OK(faas_register_ffi(f->rt, "toupper", NULL, NULL, "int toupper(int)", NULL));
    expect_ok(f, "toupper", "[97]", "65");
    ASSERT_OK(faas_register_ffi(f->rt, "strdup", NULL, NULL,
                                "faas_owned char *strdup(const char *)", NULL));
    expect_ok(f, "strdup", "[\"copied\"]", "\"copied\"");
    ASSERT_OK(faas_register_ffi(f->rt, "getenv", NULL, NULL, "char *getenv(const char *)",
                                NULL));
    setenv("FAAS_TEST_FFI_VAR", "v\xc3\xa4lue", 1);
    expect_ok(f, "getenv", "[\"FAAS_TEST_FFI_VAR\"]", "\"v\xc3\xa4lue\"");
    unsetenv("FAAS_TEST_FFI_VAR");
    expect_ok(f, "getenv", "[\"FAAS_TEST_FFI_VAR\"]", "null");
    ASSERT_OK(faas_register_ffi(f->rt, "strcmp", NULL, NULL,
                                "int strcmp(const char *, const char *)", NULL));
    expect_ok(f, "strcmp", "[\"abc\", \"abc\"]", "0");
    /* A result that points into an argument is read before the arguments are released. */
    ASSERT_OK(faas_register_ffi(f->rt, "strchr", NULL, NULL,
                                "char *strchr(const char *, int)", NULL));
    expect_ok(f, "strchr", "[\"hello\", 108]", "\"llo\"");
    expect_ok(f, "strchr", "[\"hello\", 122]", "null");
}

/* ---- loading ---------------------------------------------------------------------------------- */

static void a_library_is_loaded_lazily_and_unloaded_at_scale_to_zero(void **state)
{
    fixture *f = *state;
    faas_config cfg;
    faas_config_init(&cfg);
    cfg.keep_alive_ms = 1000;
    assert_int_equal(module_mapped("ffi_lib.so"), 0);
    ASSERT_OK(faas_register_ffi(f->rt, "calls", lib(), NULL, "int calls(void)", &cfg));
    assert_int_equal(module_mapped("ffi_lib.so"), 0);           /* registration loads nothing */

    faas_response res;
    ASSERT_OK(faas_invoke(f->rt, "calls", "[]", 2, &res));
    assert_int_equal(res.record.cold, 1);
    assert_string_equal((char *)res.data, "1");
    assert_int_equal(module_mapped("ffi_lib.so"), 1);
    faas_response_free(&res);
    ASSERT_OK(faas_invoke(f->rt, "calls", NULL, 0, &res));
    assert_int_equal(res.record.cold, 0);
    assert_string_equal((char *)res.data, "2");
    faas_response_free(&res);

    fake_advance(&f->clock, MS(1001));                          /* keep-alive passes */
    faas_run_pending(f->rt);
    assert_int_equal(module_mapped("ffi_lib.so"), 0);           /* scaled to zero, unloaded */
    ASSERT_OK(faas_invoke(f->rt, "calls", "[]", 2, &res));
    assert_int_equal(res.record.cold, 1);
    assert_string_equal((char *)res.data, "1");                 /* a fresh load */
    faas_response_free(&res);

    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "calls", &st));
    assert_int_equal(st.invocations, 3);
    assert_int_equal(st.cold_starts, 2);
    /* faas_warm makes an instance: the next call is warm. */
    ASSERT_OK(faas_register_ffi(f->rt, "add", lib(), NULL, "int add(int, int)", NULL));
    ASSERT_OK(faas_warm(f->rt, "add", 1));
    ASSERT_OK(faas_invoke(f->rt, "add", "[1, 1]", 6, &res));
    assert_int_equal(res.record.cold, 0);
    faas_response_free(&res);
    ASSERT_OK(faas_unregister(f->rt, "calls"));
    ASSERT_OK(faas_unregister(f->rt, "add"));
    assert_int_equal(module_mapped("ffi_lib.so"), 0);
}

static void missing_library_or_symbol_is_a_load_error(void **state)
{
    fixture *f = *state;
    const char *missing = test_module("no_such_lib.so");
    ASSERT_OK(faas_register_ffi(f->rt, "ghost", missing, "f", "int (void)", NULL));
    faas_response res;
    assert_int_equal(faas_invoke(f->rt, "ghost", "[]", 2, &res), FAAS_ELOAD);
    assert_string_equal(res.error_type, "Runtime.LoadError");
    assert_non_null(strstr(res.error_message, "No such file"));
    faas_response_free(&res);

    ASSERT_OK(faas_register_ffi(f->rt, "nosym", lib(), "no_such_function", "int (void)", NULL));
    assert_int_equal(faas_invoke(f->rt, "nosym", "[]", 2, &res), FAAS_ELOAD);
    assert_non_null(strstr(res.error_message, "dlsym("));
    assert_non_null(strstr(res.error_message, "no_such_function"));
    faas_response_free(&res);

    ASSERT_OK(faas_register_ffi(f->rt, "nosym2", NULL, "ffi_test_no_such", "int (void)", NULL));
    assert_int_equal(faas_invoke(f->rt, "nosym2", "[]", 2, &res), FAAS_ELOAD);
    assert_non_null(strstr(res.error_message, "dlsym(RTLD_DEFAULT, \"ffi_test_no_such\")"));
    faas_response_free(&res);
    /* The binary path reports the same. */
    assert_int_equal(faas_invoke_ffi(faas_lookup(f->rt, "nosym2"), NULL, NULL, &res),
                     FAAS_ELOAD);
    assert_string_equal(res.error_type, "Runtime.LoadError");
    faas_response_free(&res);
}

static void a_symbol_of_this_program(void **state)
{
    fixture *f = *state;
    ASSERT_OK(faas_register_ffi(f->rt, "mul", NULL, NULL, "int ffi_test_mul(int, int)", NULL));
    expect_ok(f, "mul", "[6, 7]", "42");
    expect_ok(f, "mul", "[-7, 6]", "-42");
}

/* ---- the binary path ------------------------------------------------------------------------------ */

/* Bytes the C library's allocator has handed out (0 where it cannot say). */
static size_t heap_in_use(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
#else
    return 0;
#endif
}

static void binary_path_values_and_records(void **state)
{
    fixture *f = *state;
    reg(f, "add", "add", "int add(int, int)");
    faas_function *fn = faas_lookup(f->rt, "add");
    int a = INT_MAX - 1, b = 1, r = 0;
    void *args[] = { &a, &b };
    faas_response res;
    ASSERT_OK(faas_invoke_ffi(fn, args, &r, &res));
    assert_int_equal(r, INT_MAX);
    assert_int_equal(res.len, 0);
    assert_string_equal((char *)res.data, "");
    assert_int_equal(res.record.cold, 1);
    assert_string_equal(res.record.function, "add");
    assert_true(res.record.cost_picousd > 0);
    faas_response_free(&res);
    ASSERT_OK(faas_invoke_ffi(fn, args, NULL, NULL));         /* result discarded */
    ASSERT_OK(faas_invoke_ffi(fn, args, &r, &res));
    assert_int_equal(res.record.cold, 0);
    faas_response_free(&res);
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "add", &st));
    assert_int_equal(st.invocations, 3);

    /* A narrow result is stored in exactly its size. */
    reg(f, "u8", "id_u8", "uint8_t (uint8_t)");
    struct { uint8_t v; uint8_t guard[7]; } out;
    memset(&out, 0xaa, sizeof out);
    uint8_t in8 = 255;
    void *a8[] = { &in8 };
    ASSERT_OK(faas_invoke_ffi(faas_lookup(f->rt, "u8"), a8, &out.v, NULL));
    assert_int_equal(out.v, 255);
    for (int i = 0; i < 7; i++)
        assert_int_equal(out.guard[i], 0xaa);
    reg(f, "i16", "id_i16", "int16_t (int16_t)");
    struct { int16_t v; uint8_t guard[6]; } o16;
    memset(&o16, 0xaa, sizeof o16);
    int16_t in16 = INT16_MIN;
    void *a16[] = { &in16 };
    ASSERT_OK(faas_invoke_ffi(faas_lookup(f->rt, "i16"), a16, &o16.v, NULL));
    assert_int_equal(o16.v, INT16_MIN);
    assert_int_equal(o16.guard[0], 0xaa);
    reg(f, "bool", "id_bool", "bool (bool)");
    bool bin = true, bout = false;
    void *ab[] = { &bin };
    ASSERT_OK(faas_invoke_ffi(faas_lookup(f->rt, "bool"), ab, &bout, NULL));
    assert_true(bout);

    /* Every 64-bit extreme, -0.0, NaN. */
    reg(f, "i64", "id_i64", "int64_t (int64_t)");
    int64_t i64 = INT64_MIN, o64 = 0;
    void *ai64[] = { &i64 };
    ASSERT_OK(faas_invoke_ffi(faas_lookup(f->rt, "i64"), ai64, &o64, NULL));
    assert_true(o64 == INT64_MIN);
    reg(f, "u64", "id_u64", "uint64_t (uint64_t)");
    uint64_t u64 = UINT64_MAX, ou64 = 0;
    void *au64[] = { &u64 };
    ASSERT_OK(faas_invoke_ffi(faas_lookup(f->rt, "u64"), au64, &ou64, NULL));
    assert_true(ou64 == UINT64_MAX);
    reg(f, "d", "id_double", "double (double)");
    double dz = -0.0, dout = 1;
    void *ad[] = { &dz };
    ASSERT_OK(faas_invoke_ffi(faas_lookup(f->rt, "d"), ad, &dout, NULL));
    assert_true(dout == 0 && signbit(dout));
    double dn = NAN;
    ad[0] = &dn;
    ASSERT_OK(faas_invoke_ffi(faas_lookup(f->rt, "d"), ad, &dout, NULL));
    assert_true(isnan(dout));
    reg(f, "fl", "id_float", "float (float)");
    float fmin = FLT_TRUE_MIN, fout = 0;
    void *af[] = { &fmin };
    ASSERT_OK(faas_invoke_ffi(faas_lookup(f->rt, "fl"), af, &fout, NULL));
    assert_true(fout == FLT_TRUE_MIN);

    /* Strings: the pointer goes in as it is; an owned result is the caller's. */
    reg(f, "s", "id_str", "const char *(const char *)");
    const char *text = "h\xc3\xa9llo", *sout = NULL;
    void *as[] = { &text };
    ASSERT_OK(faas_invoke_ffi(faas_lookup(f->rt, "s"), as, &sout, NULL));
    assert_ptr_equal(sout, text);
    reg(f, "upper", "upper_dup", "faas_owned char *(const char *)");
    char *up = NULL;
    ASSERT_OK(faas_invoke_ffi(faas_lookup(f->rt, "upper"), as, &up, NULL));
    assert_string_equal(up, "H\xc3\xa9LLO");
    free(up);

    /* An owned result with ret NULL is discarded, so libfaas frees it: nobody else holds
     * it. 32 results of 1 MiB each would stay allocated (glibc's mallinfo2 shows them;
     * under ASan, LeakSanitizer does). */
    size_t mib = (size_t)1 << 20;
    char *big = malloc(mib + 1);
    assert_non_null(big);
    memset(big, 'a', mib);
    big[mib] = '\0';
    void *abig[] = { &big };
    ASSERT_OK(faas_invoke_ffi(faas_lookup(f->rt, "upper"), abig, NULL, NULL));
    size_t before = heap_in_use();
    for (int i = 0; i < 32; i++)
        ASSERT_OK(faas_invoke_ffi(faas_lookup(f->rt, "upper"), abig, NULL, NULL));
    size_t after = heap_in_use();
    if (after > before + 8 * mib)
        fail_msg("32 discarded owned results of 1 MiB: the heap grew by %zu bytes",
                 after - before);
    free(big);

    /* More arguments than kept inline, of mixed kinds. */
    reg(f, "sum10", "sum10", "long sum10(int, int, int, int, int, int, int, int, int, int)");
    expect_ok(f, "sum10", "[1,2,3,4,5,6,7,8,9,10]", "55");
    int v[10];
    void *av[10];
    for (int i = 0; i < 10; i++) {
        v[i] = i + 1;
        av[i] = &v[i];
    }
    long lout = 0;
    ASSERT_OK(faas_invoke_ffi(faas_lookup(f->rt, "sum10"), av, &lout, NULL));
    assert_int_equal(lout, 55);
    reg(f, "mix", "mix", "double mix(int8_t, uint16_t, int32_t, uint64_t, float, double, "
        "bool, const char *)");
    expect_ok(f, "mix", "[-1, 2, 3, 4, 0.5, 0.25, true, \"abc\"]", "1011.75");
}

static int host_handler(faas_ctx *ctx, const void *payload, size_t len)
{
    return faas_reply(ctx, payload, len);
}

static void binary_path_errors(void **state)
{
    fixture *f = *state;
    faas_response res;
    assert_int_equal(faas_invoke_ffi(NULL, NULL, NULL, &res), FAAS_EINVAL);
    assert_string_equal(res.error_message, "faas_invoke_ffi: function is NULL");
    faas_response_free(&res);
    assert_int_equal(faas_invoke_ffi(NULL, NULL, NULL, NULL), FAAS_EINVAL);
    ASSERT_OK(faas_register(f->rt, "host", host_handler, NULL));
    assert_int_equal(faas_invoke_ffi(faas_lookup(f->rt, "host"), NULL, NULL, &res),
                     FAAS_EINVAL);
    assert_string_equal(res.error_message, "faas_invoke_ffi: not a function registered with "
                        "faas_register_ffi");
    faas_response_free(&res);
    reg(f, "add", "add", "int add(int, int)");
    assert_int_equal(faas_invoke_ffi(faas_lookup(f->rt, "add"), NULL, NULL, &res),
                     FAAS_EINVAL);
    assert_string_equal(res.error_message, "faas_invoke_ffi: args is NULL");
    faas_response_free(&res);
    reg(f, "touch", "touch", "void touch(void)");
    ASSERT_OK(faas_invoke_ffi(faas_lookup(f->rt, "touch"), NULL, NULL, NULL));
}

/* The deadline and the concurrency limit hold on both paths. */
static void timeouts_and_throttles(void **state)
{
    fixture *f = *state;
    faas_config cfg;
    faas_config_init(&cfg);
    cfg.timeout_ms = 100;
    ASSERT_OK(faas_register_ffi(f->rt, "slow", NULL, "ffi_test_advance", "int (int)", &cfg));
    expect_ok(f, "slow", "[50]", "50");
    expect_err(f, "slow", "[150]", FAAS_ETIMEOUT, "Task timed out after 0.10 seconds");
    faas_function *fn = faas_lookup(f->rt, "slow");
    int ms = 150, r = 0;
    void *args[] = { &ms };
    faas_response res;
    assert_int_equal(faas_invoke_ffi(fn, args, &r, &res), FAAS_ETIMEOUT);
    assert_string_equal(res.error_type, "Sandbox.Timedout");
    assert_int_equal(res.record.cold, 1);       /* the instance that timed out was retired */
    faas_response_free(&res);

    faas_config_init(&cfg);
    cfg.max_concurrency = 1;
    ASSERT_OK(faas_register_ffi(f->rt, "reenter", NULL, "ffi_test_reenter", "int (int)", &cfg));
    reenter_fn = faas_lookup(f->rt, "reenter");
    /* Inside the call, its only instance is busy: the inner binary call is throttled. */
    char want[16];
    snprintf(want, sizeof want, "%d", FAAS_ETHROTTLED);
    expect_ok(f, "reenter", "[1]", want);
    int one = 1;
    void *a1[] = { &one };
    ASSERT_OK(faas_invoke_ffi(reenter_fn, a1, &r, NULL));
    assert_int_equal(r, FAAS_ETHROTTLED);
    faas_stats st;
    ASSERT_OK(faas_stats_get(f->rt, "reenter", &st));
    assert_int_equal(st.throttles, 2);
}

/* An ffi function is a function like any other: asynchronous calls work too. */
static void asynchronous_calls(void **state)
{
    fixture *f = *state;
    reg(f, "add", "add", "int add(int, int)");
    faas_future *fut;
    ASSERT_OK(faas_invoke_future(f->rt, "add", "[20, 22]", 8, &fut));
    faas_run_pending(f->rt);
    faas_response res;
    ASSERT_OK(faas_future_wait(fut, 0, &res));
    assert_int_equal(res.status, FAAS_OK);
    assert_string_equal((char *)res.data, "42");
    faas_response_free(&res);
    faas_future_free(fut);
}

/* Several threads call the same functions at once, through both paths: the prepared
 * call is shared, each call's arguments are its own (TSan runs this). */
typedef struct worker {
    faas_runtime *rt;
    faas_function *add, *upper;
    unsigned n, bad;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    for (unsigned i = 0; i < w->n; i++) {
        char payload[64], want[32];
        int a = (int)i, b = (int)(i * 3);
        snprintf(payload, sizeof payload, "[%d, %d]", a, b);
        snprintf(want, sizeof want, "%d", a + b);
        faas_response res;
        if (faas_invoke(w->rt, "add", payload, strlen(payload), &res) != FAAS_OK ||
            strcmp((char *)res.data, want) != 0)
            w->bad++;
        faas_response_free(&res);
        int r = 0;
        void *args[] = { &a, &b };
        if (faas_invoke_ffi(w->add, args, &r, NULL) != FAAS_OK || r != a + b)
            w->bad++;
        if (faas_invoke_fn(w->upper, "[\"abc\"]", 7, &res) != FAAS_OK ||
            strcmp((char *)res.data, "\"ABC\"") != 0)
            w->bad++;
        faas_response_free(&res);
    }
    return NULL;
}

static void concurrent_calls(void **state)
{
    (void)state;
    faas_runtime *rt;
    ASSERT_OK(faas_runtime_new(&rt, NULL));             /* real threads and clocks */
    ASSERT_OK(faas_register_ffi(rt, "add", lib(), NULL, "int add(int, int)", NULL));
    ASSERT_OK(faas_register_ffi(rt, "upper", lib(), NULL,
                                "faas_owned char *upper_dup(const char *)", NULL));
    enum { THREADS = 4 };
    worker w[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){ rt, faas_lookup(rt, "add"), faas_lookup(rt, "upper"),
                         scaled(2000), 0 };
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    unsigned total = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].bad, 0);
        total += w[i].n;
    }
    faas_stats st;
    ASSERT_OK(faas_stats_get(rt, "add", &st));
    assert_int_equal(st.invocations, 2 * total);
    assert_int_equal(st.errors, 0);
    ASSERT_OK(faas_stats_get(rt, "upper", &st));
    assert_int_equal(st.invocations, total);
    faas_runtime_free(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(bad_signatures_are_rejected_at_registration, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(signatures_in_c_syntax, setup, teardown),
        cmocka_unit_test_setup_teardown(symbol_and_registration_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(integers_at_their_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(bool_and_reals_at_their_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(strings_empty_utf8_and_ownership, setup, teardown),
        cmocka_unit_test_setup_teardown(argument_and_payload_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(numbers_past_64_bits, setup, teardown),
        cmocka_unit_test_setup_teardown(results_json_cannot_carry, setup, teardown),
        cmocka_unit_test_setup_teardown(variadic_dprintf_into_a_pipe, setup, teardown),
        cmocka_unit_test_setup_teardown(libm_and_libc_for_real, setup, teardown),
        cmocka_unit_test_setup_teardown(
            a_library_is_loaded_lazily_and_unloaded_at_scale_to_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_library_or_symbol_is_a_load_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_symbol_of_this_program, setup, teardown),
        cmocka_unit_test_setup_teardown(binary_path_values_and_records, setup, teardown),
        cmocka_unit_test_setup_teardown(binary_path_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(timeouts_and_throttles, setup, teardown),
        cmocka_unit_test_setup_teardown(asynchronous_calls, setup, teardown),
        cmocka_unit_test(concurrent_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
