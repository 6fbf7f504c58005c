/*
 * gateway_json.c - the gateway's JSON check: is an Invoke payload one JSON value (RFC 8259,
 * strict UTF-8, at most FAAS__GW_JSON_DEPTH levels)? It allocates nothing and parses nothing
 * into values: the payload goes to the function as it came. Its own fuzz target, with
 * jansson as the oracle, is tests/fuzz/fuzz_gateway_json.c.
 */
#include "internal.h"

#include "gateway.h"

#include <string.h>

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

typedef struct jscan {
    const unsigned char *p;
    size_t n, i;
    const char *why;
} jscan;

static bool j_fail(jscan *j, const char *why)
{
    j->why = why;
    return false;
}

static void j_ws(jscan *j)
{
    while (j->i < j->n && (j->p[j->i] == ' ' || j->p[j->i] == '\t' || j->p[j->i] == '\n' ||
                           j->p[j->i] == '\r'))
        j->i++;
}

/* One UTF-8 sequence starting at j->i (a byte >= 0x80): no overlong forms, no
 * surrogates, nothing past U+10FFFF. */
static bool j_utf8(jscan *j)
{
    const unsigned char *p = j->p + j->i;
    size_t left = j->n - j->i;
    unsigned c = p[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xbf;      /* the second byte's range */
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return j_fail(j, "invalid UTF-8");
    if (left < len || p[1] < lo || p[1] > hi)
        return j_fail(j, "invalid UTF-8");
    for (size_t k = 2; k < len; k++)
        if (p[k] < 0x80 || p[k] > 0xbf)
            return j_fail(j, "invalid UTF-8");
    j->i += len;
    return true;
}

static bool j_string(jscan *j)
{
    j->i++;                             /* the opening quote */
    while (j->i < j->n) {
        unsigned char c = j->p[j->i];
        if (c == '"') {
            j->i++;
            return true;
        }
        if (c < 0x20)
            return j_fail(j, "control character in a string");
        if (c == '\\') {
            if (j->i + 1 >= j->n)
                break;
            unsigned char e = j->p[j->i + 1];
            if (e == 'u') {
                if (j->i + 6 > j->n)
                    break;
                for (size_t k = 2; k < 6; k++)
                    if (faas__gw_hexval((char)j->p[j->i + k]) < 0)
                        return j_fail(j, "invalid \\u escape");
                j->i += 6;
            } else if (strchr("\"\\/bfnrt", e) != NULL && e != '\0') {
                j->i += 2;
            } else {
                return j_fail(j, "invalid escape");
            }
        } else if (c >= 0x80) {
            if (!j_utf8(j))
                return false;
        } else {
            j->i++;
        }
    }
    return j_fail(j, "unterminated string");
}

static bool j_digits(jscan *j)
{
    size_t s = j->i;
    while (j->i < j->n && is_digit((char)j->p[j->i]))
        j->i++;
    return j->i > s;
}

static bool j_number(jscan *j)
{
    if (j->p[j->i] == '-')
        j->i++;
    if (j->i < j->n && j->p[j->i] == '0')
        j->i++;
    else if (!j_digits(j))
        return j_fail(j, "invalid number");
    if (j->i < j->n && j->p[j->i] == '.') {
        j->i++;
        if (!j_digits(j))
            return j_fail(j, "invalid number");
    }
    if (j->i < j->n && (j->p[j->i] == 'e' || j->p[j->i] == 'E')) {
        j->i++;
        if (j->i < j->n && (j->p[j->i] == '+' || j->p[j->i] == '-'))
            j->i++;
        if (!j_digits(j))
            return j_fail(j, "invalid number");
    }
    return true;
}

static bool j_literal(jscan *j, const char *lit)
{
    size_t l = strlen(lit);
    if (j->n - j->i < l || memcmp(j->p + j->i, lit, l) != 0)
        return j_fail(j, "unrecognized token");
    j->i += l;
    return true;
}

/* Iterative, so that nesting cannot exhaust the stack: one bit per open container. */
bool faas__gw_json_valid(const void *data, size_t n, const char **why, size_t *at)
{
    jscan j = { data, n, 0, NULL };
    unsigned char stack[(FAAS__GW_JSON_DEPTH + 7) / 8];
    size_t depth = 0;
    enum { VALUE, VALUE_OR_CLOSE, KEY, KEY_OR_CLOSE, AFTER } st = VALUE;
    bool ok = true;
    for (;;) {
        j_ws(&j);
        if (st == AFTER) {
            if (depth == 0) {
                if (j.i != j.n)
                    ok = j_fail(&j, "unexpected data after the value");
                break;
            }
            if (j.i == j.n) {
                ok = j_fail(&j, "unexpected end of input");
                break;
            }
            bool obj = stack[(depth - 1) / 8] & (1u << ((depth - 1) % 8));
            unsigned char c = j.p[j.i++];
            if (c == ',') {
                st = obj ? KEY : VALUE;
            } else if (c == (obj ? '}' : ']')) {
                depth--;
            } else {
                j.i--;
                ok = j_fail(&j, obj ? "expected ',' or '}'" : "expected ',' or ']'");
                break;
            }
            continue;
        }
        if (j.i == j.n) {
            ok = j_fail(&j, "unexpected end of input");
            break;
        }
        unsigned char c = j.p[j.i];
        if (st == KEY_OR_CLOSE || st == VALUE_OR_CLOSE) {
            if (c == (st == KEY_OR_CLOSE ? '}' : ']')) {
                j.i++;
                depth--;
                st = AFTER;
                continue;
            }
            st = st == KEY_OR_CLOSE ? KEY : VALUE;
        }
        if (st == KEY) {
            if (c != '"') {
                ok = j_fail(&j, "expected a string key");
                break;
            }
            if (!(ok = j_string(&j)))
                break;
            j_ws(&j);
            if (j.i == j.n || j.p[j.i] != ':') {
                ok = j_fail(&j, "expected ':'");
                break;
            }
            j.i++;
            st = VALUE;
            continue;
        }
        /* st == VALUE */
        if (c == '{' || c == '[') {
            if (depth == FAAS__GW_JSON_DEPTH) {
                ok = j_fail(&j, "nesting too deep");
                break;
            }
            if (c == '{')
                stack[depth / 8] |= (unsigned char)(1u << (depth % 8));
            else
                stack[depth / 8] &= (unsigned char)~(1u << (depth % 8));
            depth++;
            j.i++;
            st = c == '{' ? KEY_OR_CLOSE : VALUE_OR_CLOSE;
            continue;
        }
        if (c == '"')
            ok = j_string(&j);
        else if (c == '-' || is_digit((char)c))
            ok = j_number(&j);
        else if (c == 't')
            ok = j_literal(&j, "true");
        else if (c == 'f')
            ok = j_literal(&j, "false");
        else if (c == 'n')
            ok = j_literal(&j, "null");
        else
            ok = j_fail(&j, "unexpected character");
        if (!ok)
            break;
        st = AFTER;
    }
    *why = j.why;
    *at = j.i;
    return ok;
}
