/*
 * qname.h - what a function name with a qualifier is made of: "NAME", "NAME:$LATEST",
 * "NAME:3", "NAME:prod" (design.md, "Qualifiers"). Only its spelling: whether a version
 * or an alias exists is version.c's. Never installed; tests/test_qname.c and
 * tests/fuzz/fuzz_qname.c compile qname.c in.
 */
#ifndef FAAS_QNAME_H
#define FAAS_QNAME_H

#include <stddef.h>

#define FAAS__QNAME_NAME_MAX 64         /* Lambda's function name: 1-64 */
#define FAAS__QUALIFIER_MAX 128         /* Lambda's Qualifier and alias Name: 1-128 */

enum faas__qkind {
    FAAS__Q_NONE,                 /* "NAME": no colon */
    FAAS__Q_LATEST,               /* "NAME:$LATEST" */
    FAAS__Q_VERSION,              /* "NAME:3": digits (a version, if it was published) */
    FAAS__Q_ALIAS,                /* "NAME:prod": an alias's spelling */
    FAAS__Q_OTHER                 /* well formed for Lambda ("NAME:$x"), but names nothing */
};

typedef struct faas__qname {
    enum faas__qkind kind;
    size_t           name_len;    /* bytes of NAME */
    size_t           len;         /* bytes of the whole string */
} faas__qname;

/* Parse "NAME[:QUALIFIER]": 0 (FAAS_OK) and *q filled, or FAAS_EINVAL when it is
 * malformed: NULL, an empty or over-long NAME or one with a character outside
 * [A-Za-z0-9_-], an empty or over-long qualifier (128) or one with a character outside
 * [A-Za-z0-9_$-] (a second colon, a dot, a space...). Reads the string once, never past
 * its NUL; allocates nothing. */
int faas__qname_parse(const char *s, faas__qname *q);

#endif /* FAAS_QNAME_H */
