/*
 * userinfo.h - a URL's user information hidden (private; header-only, so that the faas
 * tool, which links only the public API, shares it): what an error message or a log may
 * show of a NATS URL, and what the tool leaves of one on its command line.
 */
#ifndef FAAS_USERINFO_H
#define FAAS_USERINFO_H

#include <string.h>

/* In s, one URL or several separated by commas, each "scheme://USERINFO@" has its
 * USERINFO (user, password or token) overwritten with '*'; s is returned. */
static inline char *faas__hide_userinfo(char *s)
{
    for (char *p = strstr(s, "://"); p != NULL; p = strstr(p, "://")) {
        p += 3;
        size_t n = strcspn(p, "@/,");
        if (p[n] == '@')
            memset(p, '*', n);
        p += n;
    }
    return s;
}

#endif
