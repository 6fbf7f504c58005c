/*
 * text.c - the text a call's words are made of (see text.h): timestamps, error blocks, JSON
 * strings of arbitrary bytes. Owns nothing else; knows nothing of calls or runtimes.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "text.h"

void faas__format_time(int64_t wall_ns, char out[25])
{
    time_t s = (time_t)(wall_ns / 1000000000);
    int ms = (int)((wall_ns % 1000000000) / 1000000);
    if (ms < 0) {
        ms += 1000;
        s -= 1;
    }
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, 25, "%Y-%m-%dT%H:%M:%S", &tm);   /* 19 chars to year 9999 */
    snprintf(out + n, 25 - n, ".%03dZ", ms);
}

char *faas__error_block(const char *type, const char *msg)
{
    size_t tl = strlen(type), ml = strlen(msg);
    char *b = malloc(tl + ml + 2);
    if (b != NULL) {
        memcpy(b, type, tl + 1);
        memcpy(b + tl + 1, msg, ml + 1);
    }
    return b;
}

json_t *faas__json_text(const char *s)
{
    json_t *j = json_string(s);
    if (j != NULL)
        return j;
    char *copy = strdup(s);
    if (copy == NULL)
        return NULL;
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(copy);
    free(copy);
    return j;
}
