/*
 * cost.c - the table of published price models. Each row cites where its figures were
 * read (../shared/facts/faas-semantics.md section 4, read 2026-11). Prices change: a
 * row's read_on says how old it is; faas_on_record(3) documents how a call is priced.
 */
#include "config.h"

#include <string.h>

#include "cost.h"

static const faas__price presets[] = {
    /* AWS Lambda x86, us-east-1: $0.20 per 1M requests, $0.0000166667 per GB-s (first
     * 6 B GB-s/month tier), 1 ms billing, INIT billed since 2025-08-01.
     * Source: aws.amazon.com/lambda/pricing, AWS Compute Blog "tiered pricing" and
     * "standardizes billing for INIT Phase". */
    { "aws-lambda-x86", 200000u, 16666700u, 1, true, false, "2026-11",
      "aws.amazon.com/lambda/pricing" },
    /* AWS Lambda Arm (Graviton2): $0.20 per 1M requests, $0.0000133334 per GB-s. */
    { "aws-lambda-arm64", 200000u, 13333400u, 1, true, false, "2026-11",
      "aws.amazon.com/lambda/pricing" },
};

const faas__price *faas__price_find(const char *name)
{
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (strcmp(presets[i].name, name) == 0)
            return &presets[i];
    return NULL;
}
