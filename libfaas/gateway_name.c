/*
 * gateway_name.c - the gateway's FunctionName parsing: a name, a name:qualifier, a partial or
 * a full ARN, matched as Lambda's pattern matches it (without a regular expression engine),
 * and the Qualifier parameter's shape. It only says what a string is made of: the 400 or 404
 * a request gets for it is gateway.c's (resolve_name, check_qualifier).
 */
#include "internal.h"

#include "gateway.h"

#include <string.h>

/* The pattern Lambda checks a FunctionName against, for its ValidationException. */
const char faas__gw_name_pattern[] =
    "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?"
    "(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?";

static bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_name_char(char c)
{
    return is_lower(c) || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' || c == '_';
}

static size_t prefix(const char *s, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    return n >= l && memcmp(s, lit, l) == 0 ? l : 0;
}

/* "arn:" ("aws"[a-zA-Z-]*)? ":lambda:" -> its length, or 0. */
static size_t m_arn(const char *s, size_t n)
{
    size_t i = prefix(s, n, "arn:");
    if (i == 0)
        return 0;
    if (prefix(s + i, n - i, "aws")) {
        i += 3;
        while (i < n && (is_lower(s[i]) || (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '-'))
            i++;
    }
    size_t k = prefix(s + i, n - i, ":lambda:");
    return k ? i + k : 0;
}

/* "-"[a-z]+"-"\d":" at s -> its length, or 0. */
static size_t m_region_rest(const char *s, size_t n)
{
    size_t i = 0;
    if (i >= n || s[i] != '-')
        return 0;
    i++;
    size_t w = i;
    while (i < n && is_lower(s[i]))
        i++;
    if (i == w || i + 3 > n || s[i] != '-' || !is_digit(s[i + 1]) || s[i + 2] != ':')
        return 0;
    return i + 3;
}

/* [a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}: -> the lengths it can match (up to 4). */
static int m_region(const char *s, size_t n, size_t out[4])
{
    int k = 0;
    if (n < 2 || !is_lower(s[0]) || !is_lower(s[1]))
        return 0;
    static const char *const mids[] = { "", "-gov", "-iso" };
    for (int m = 0; m < 3; m++) {
        size_t i = 2 + prefix(s + 2, n - 2, mids[m]);
        if (m > 0 && i == 2)
            continue;
        size_t r = m_region_rest(s + i, n - i);
        if (r)
            out[k++] = i + r;
        if (m == 2 && i < n && is_lower(s[i])) {      /* -iso[a-z] */
            r = m_region_rest(s + i + 1, n - i - 1);
            if (r)
                out[k++] = i + 1 + r;
        }
    }
    return k;
}

/* ([a-zA-Z0-9-_.]+)(:($LATEST|[a-zA-Z0-9-_]+))? to the end. */
static bool m_tail(const char *s, size_t n, faas__gw_span *name, faas__gw_span *qual)
{
    size_t i = 0;
    while (i < n && (is_name_char(s[i]) || s[i] == '.'))
        i++;
    if (i == 0)
        return false;
    name->p = s;
    name->n = i;
    qual->p = NULL;
    qual->n = 0;
    if (i == n)
        return true;
    if (s[i] != ':')
        return false;
    const char *q = s + i + 1;
    size_t qn = n - i - 1;
    if (qn == 7 && memcmp(q, "$LATEST", 7) == 0) {
        qual->p = q;
        qual->n = qn;
        return true;
    }
    if (qn == 0)
        return false;
    for (size_t j = 0; j < qn; j++)
        if (!is_name_char(q[j]))
            return false;
    qual->p = q;
    qual->n = qn;
    return true;
}

/* The pattern's optional parts in order, each tried taken then skipped, as a regular
 * expression engine would backtrack. */
static bool m_from(int stage, const char *s, size_t n, faas__gw_span *name,
                   faas__gw_span *qual)
{
    size_t k;
    switch (stage) {
    case 0:
        k = m_arn(s, n);
        if (k && m_from(1, s + k, n - k, name, qual))
            return true;
        return m_from(1, s, n, name, qual);
    case 1: {
        size_t lens[4];
        int c = m_region(s, n, lens);
        for (int i = 0; i < c; i++)
            if (m_from(2, s + lens[i], n - lens[i], name, qual))
                return true;
        return m_from(2, s, n, name, qual);
    }
    case 2:
        k = 0;
        while (k < 12 && k < n && is_digit(s[k]))
            k++;
        if (k == 12 && n > 12 && s[12] == ':' && m_from(3, s + 13, n - 13, name, qual))
            return true;
        return m_from(3, s, n, name, qual);
    case 3:
        k = prefix(s, n, "function:");
        if (k && m_tail(s + k, n - k, name, qual))
            return true;
        return m_tail(s, n, name, qual);
    }
    return false;
}

bool faas__gw_name_parse(const char *s, size_t n, faas__gw_span *name, faas__gw_span *qual)
{
    return m_from(0, s, n, name, qual);
}

bool faas__gw_qualifier_valid(const char *q, size_t n)
{
    bool ok = n >= 1 && n <= 128;
    for (size_t i = 0; ok && i < n; i++)
        ok = is_name_char(q[i]) || q[i] == '$';
    return ok || (n == 17 && memcmp(q, "$LATEST.PUBLISHED", 17) == 0);
}
