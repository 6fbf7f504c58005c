/* ffi_lib.c - test fixture for the libffi bridge: a plain C library (it does not link
 * libfaas), with a function per C type that returns its argument, string functions that
 * own or hand over memory, results JSON cannot carry, and a call counter that starts over
 * each time the library is loaded again. */
#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define ID(type, name) type name(type v); type name(type v) { return v; }

ID(bool, id_bool)
ID(char, id_char)
ID(signed char, id_schar)
ID(unsigned char, id_uchar)
ID(short, id_short)
ID(unsigned short, id_ushort)
ID(int, id_int)
ID(unsigned int, id_uint)
ID(long, id_long)
ID(unsigned long, id_ulong)
ID(long long, id_llong)
ID(unsigned long long, id_ullong)
ID(int8_t, id_i8)
ID(uint8_t, id_u8)
ID(int16_t, id_i16)
ID(uint16_t, id_u16)
ID(int32_t, id_i32)
ID(uint32_t, id_u32)
ID(int64_t, id_i64)
ID(uint64_t, id_u64)
ID(size_t, id_size)
ID(ssize_t, id_ssize)
ID(intptr_t, id_intptr)
ID(uintptr_t, id_uintptr)
ID(ptrdiff_t, id_ptrdiff)
ID(float, id_float)
ID(double, id_double)
ID(const char *, id_str)

int add(int a, int b);
int calls(void);
char *upper_dup(const char *s);
size_t take(char *s);
size_t take_then(char *s, int n);
size_t scribble(char *s);
const char *not_utf8(void);
const char *null_str(void);
double make_nan(void);
double make_inf(int sign);
float make_finf(void);
void touch(void);
int touched(void);
long sum10(int a, int b, int c, int d, int e, int f, int g, int h, int i, int j);
double mix(int8_t a, uint16_t b, int32_t c, uint64_t d, float e, double f, bool g,
           const char *h);

int add(int a, int b)
{
    return a + b;
}

static int ncalls;              /* 0 again after a dlclose and a new dlopen */

int calls(void)
{
    return ++ncalls;
}

/* A malloc'd result: its caller frees it ("faas_owned char *"). */
char *upper_dup(const char *s)
{
    char *d = strdup(s);
    for (char *p = d; p && *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return d;
}

/* Takes ownership of s ("faas_owned char *"): frees it. */
size_t take(char *s)
{
    size_t n = strlen(s);
    free(s);
    return n;
}

size_t take_then(char *s, int n)
{
    return take(s) + (size_t)n;
}

/* Writes into its argument: it must be given a writable copy. */
size_t scribble(char *s)
{
    if (s[0] != '\0')
        s[0] = 'X';
    return strlen(s);
}

const char *not_utf8(void)
{
    return "ok\xff\xfe";
}

const char *null_str(void)
{
    return NULL;
}

double make_nan(void)
{
    return nan("");
}

double make_inf(int sign)
{
    return sign < 0 ? -INFINITY : INFINITY;
}

float make_finf(void)
{
    return INFINITY;
}

static int ntouched;

void touch(void)
{
    ntouched++;
}

int touched(void)
{
    return ntouched;
}

/* More arguments than the bridge keeps inline. */
long sum10(int a, int b, int c, int d, int e, int f, int g, int h, int i, int j)
{
    return (long)a + b + c + d + e + f + g + h + i + j;
}

/* One of every kind, so a misplaced argument shows. */
double mix(int8_t a, uint16_t b, int32_t c, uint64_t d, float e, double f, bool g,
           const char *h)
{
    return a + b + c + (double)d + e + f + (g ? 1000 : 0) + (double)strlen(h);
}
