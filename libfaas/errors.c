/*
 * errors.c - status codes in words, and this thread's last failure (faas_last_error(),
 * the way dlerror() works). Owns nothing else.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>

#define LAST_ERROR_MAX 512

static _Thread_local char last_error[LAST_ERROR_MAX];

char faas__empty[1];

const char *faas_strerror(int status)
{
    /* A switch over the enum, so that -Wswitch names a code added to the table but not
     * here (it cannot happen: both come from FAAS_ERRNO_MAP). */
    switch ((enum faas_status)status) {
#define XX(name, value, text) case FAAS_##name: return text;
    FAAS_ERRNO_MAP(XX)
#undef XX
    }
    return "unknown error";
}

const char *faas_err_name(int status)
{
    switch ((enum faas_status)status) {
#define XX(name, value, text) case FAAS_##name: return "FAAS_" #name;
    FAAS_ERRNO_MAP(XX)
#undef XX
    }
    return "FAAS_EUNKNOWN";
}

const char *faas_last_error(void)
{
    return last_error;
}

int faas__fail(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}
