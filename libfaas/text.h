/*
 * text.h - the text a call's words are made of, shared by the core and the optional parts:
 * a timestamp as the log lines write it, an error's "type\0message" block, a JSON string
 * of arbitrary bytes. Owns nothing else; knows nothing of calls or runtimes.
 */
#ifndef FAAS_TEXT_H
#define FAAS_TEXT_H

#include <stdint.h>

struct json_t;

/* Format the wall time (ns since the epoch) as 2026-11-26T22:00:00.123Z into out[25]. */
void faas__format_time(int64_t wall_ns, char out[25]);
/* A malloc'd "type\0message\0" block: a response's error_type points at its start,
 * error_message after the first NUL, and faas_response_free() frees it through
 * error_type. NULL without memory. */
char *faas__error_block(const char *type, const char *msg);
/* A JSON string (jansson's json_t) of arbitrary bytes: invalid UTF-8 becomes '?', never an
 * error; NULL only without memory. */
struct json_t *faas__json_text(const char *s);

#endif
