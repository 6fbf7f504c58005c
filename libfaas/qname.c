/*
 * qname.c - the parser of qualified function names (qname.h): one pass, no allocation,
 * no lock, nothing but the string. What a qualifier names is version.c's business.
 */
#include "qname.h"

#include <stdbool.h>
#include <string.h>

#include "faas.h"

static inline bool word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

int faas__qname_parse(const char *s, faas__qname *q)
{
    if (s == NULL || q == NULL)
        return FAAS_EINVAL;
    size_t i = 0;
    for (; s[i] != ':' && s[i] != '\0'; i++)
        if (!word_char(s[i]) || i >= FAAS__QNAME_NAME_MAX)
            return FAAS_EINVAL;
    if (i == 0)
        return FAAS_EINVAL;
    q->name_len = i;
    if (s[i] == '\0') {
        q->kind = FAAS__Q_NONE;
        q->len = i;
        return FAAS_OK;
    }
    const char *qual = s + i + 1;
    size_t n = 0;
    bool digits = true, dollar = false;
    for (; qual[n] != '\0'; n++) {
        char c = qual[n];
        if ((!word_char(c) && c != '$') || n >= FAAS__QUALIFIER_MAX)
            return FAAS_EINVAL;         /* a second colon, a dot, a space, too long... */
        digits = digits && c >= '0' && c <= '9';
        dollar = dollar || c == '$';
    }
    if (n == 0)
        return FAAS_EINVAL;
    q->len = i + 1 + n;
    if (n == 7 && memcmp(qual, "$LATEST", 7) == 0)
        q->kind = FAAS__Q_LATEST;
    else if (dollar)
        q->kind = FAAS__Q_OTHER;        /* Lambda's pattern allows it; nothing has it */
    else if (digits)
        q->kind = FAAS__Q_VERSION;      /* "007" and "0" parse, and are never found */
    else
        q->kind = FAAS__Q_ALIAS;
    return FAAS_OK;
}
