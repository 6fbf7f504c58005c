/*
 * abi.h - the structs' ABI promise, kept (faas.h, "Plain-data structures"): the first
 * published layouts written down, and the one copy that reads a caller's sized struct
 * (its leading size says how many bytes it has). Knows their layouts, not their meaning.
 * Never installed.
 */
#ifndef FAAS_ABI_H
#define FAAS_ABI_H

#include <string.h>

#include "internal.h"

/* ---- the first published layouts (0.1.0) ----------------------------------------------
 * What a sized struct's size 0 means: the bytes up to the end of its last 0.1.0 field.
 * Frozen: a field is only ever added after these (and the size then grows past them). */
#define FAAS__ABI_END(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))
#define FAAS__OPTIONS_V1          FAAS__ABI_END(faas_options, journal_segment_bytes)
#define FAAS__GATEWAY_OPTIONS_V1  FAAS__ABI_END(faas_gateway_options, event_done_arg)
#define FAAS__NATS_OPTIONS_V1     FAAS__ABI_END(faas_nats_options, result_deadline_ms)
#define FAAS__SCHEDULE_OPTIONS_V1 FAAS__ABI_END(faas_schedule_options, region)
#define FAAS__WATCH_OPTIONS_V1    FAAS__ABI_END(faas_watch_options, configuration_id)

/* A size this large is no struct of ours: the caller's struct was never initialised. */
#define FAAS__ABI_SIZE_MAX 4096u

/* The numbers, on LP64 (x86-64, aarch64...), as 0.1.0 published them. A change to one of
 * these breaks every program built before it: a field inserted before the end of a sized
 * struct's 0.1.0 layout, or a fixed struct's size changed (a field that takes reserved
 * words must take exactly as many bytes). tests/test_abi.c checks every field's offset. */
#if UINTPTR_MAX == UINT64_MAX && SIZE_MAX == UINT64_MAX
_Static_assert(FAAS__OPTIONS_V1 == 144, "faas_options: the 0.1.0 layout changed");
_Static_assert(FAAS__GATEWAY_OPTIONS_V1 == 112, "faas_gateway_options: 0.1.0 layout");
_Static_assert(FAAS__NATS_OPTIONS_V1 == 116, "faas_nats_options: 0.1.0 layout");
_Static_assert(FAAS__SCHEDULE_OPTIONS_V1 == 40, "faas_schedule_options: 0.1.0 layout");
_Static_assert(FAAS__WATCH_OPTIONS_V1 == 64, "faas_watch_options: 0.1.0 layout");
_Static_assert(sizeof(faas_config) == 136, "faas_config: a fixed size changed");
_Static_assert(sizeof(faas_record) == 152, "faas_record: a fixed size changed");
_Static_assert(sizeof(faas_response) == 232, "faas_response: a fixed size changed");
_Static_assert(sizeof(faas_stats) == 376, "faas_stats: a fixed size changed");
_Static_assert(sizeof(faas_journal_stats) == 184, "faas_journal_stats: a fixed size changed");
_Static_assert(sizeof(faas_nats_stats) == 168, "faas_nats_stats: a fixed size changed");
_Static_assert(sizeof(faas_budget) == 72, "faas_budget: a fixed size changed");
_Static_assert(sizeof(faas_cost_row) == 128, "faas_cost_row: a fixed size changed");
_Static_assert(sizeof(faas_function_info) == 200, "faas_function_info: a fixed size changed");
_Static_assert(sizeof(faas_price_model) == 280, "faas_price_model: a fixed size changed");
_Static_assert(sizeof(faas_clock) == 24, "faas_clock never changes");
_Static_assert(sizeof(faas_update_info) == 624, "faas_update_info: a fixed size changed");
_Static_assert(sizeof(faas_canary_side) == 96, "faas_canary_side: a fixed size changed");
_Static_assert(sizeof(faas_canary) == 232, "faas_canary: a fixed size changed");
#endif
_Static_assert(offsetof(faas_options, size) == 0 && offsetof(faas_gateway_options, size) == 0 &&
               offsetof(faas_nats_options, size) == 0 &&
               offsetof(faas_schedule_options, size) == 0 &&
               offsetof(faas_watch_options, size) == 0, "a sized struct starts with its size");

/* Copy the sized struct a caller passed at src (NULL: none) into dst, the library's own of
 * dst_size bytes: as many bytes as src's size says it has (0: v1, its 0.1.0 layout) and
 * no more; the fields past them are zero, which is their default in every sized struct.
 * dst's size becomes dst_size. A size past dst_size comes from a newer header: its
 * unknown bytes must be zero (FAAS_ENOTSUP if not). WHAT names the caller in messages. */
static inline int faas__abi_copy(void *dst, size_t dst_size, const void *src, size_t v1,
                                 const char *what)
{
    size_t n = 0;
    memset(dst, 0, dst_size);
    if (src != NULL) {
        memcpy(&n, src, sizeof n);
        if (n == 0)
            n = v1;
        if (n < sizeof n || n > FAAS__ABI_SIZE_MAX)
            return faas__fail(FAAS_EINVAL, "%s: the options' size is %zu, which no faas.h "
                              "declares (start from the FAAS_*_INIT macro, or zero them)",
                              what, n);
        for (size_t i = dst_size; i < n; i++)
            if (((const unsigned char *)src)[i] != 0)
                return faas__fail(FAAS_ENOTSUP, "%s: the options set a field past byte %zu, "
                                  "which libfaas %s does not know (built with a newer "
                                  "faas.h?)", what, dst_size, FAAS_VERSION_STRING);
        memcpy(dst, src, n < dst_size ? n : dst_size);
    }
    memcpy(dst, &dst_size, sizeof dst_size);
    return FAAS_OK;
}

/* Whether a fixed struct's reserved words are all zero, as they must be in what a caller
 * passes: set, they are fields of a newer header that this library would ignore. */
static inline bool faas__abi_reserved_zero(const uint64_t *words, size_t bytes)
{
    for (size_t i = 0; i < bytes / sizeof *words; i++)
        if (words[i] != 0)
            return false;
    return true;
}

#endif /* FAAS_ABI_H */
