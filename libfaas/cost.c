/*
 * cost.c - the table of published price models, custom models (checked, copied, parsed
 * from a model file), the pricing of one record, and per-tag budgets. It prices and
 * limits; counting is metrics.c's, and projections and record files are cost_report.c's.
 * faas_price_model(3) prints the table and documents the model file.
 */
#include "internal.h"
#include "abi.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the presets --------------------------------------------------------------------------
 * One row per plan, us-east-1 / us-central1 / East US, first volume tier only, figures as
 * published (../shared/facts/faas-semantics.md section 4 unless a row says otherwise).
 * Read from the stored copies of the sources named in each row on 2026-11-27. Prices
 * change: re-check before quoting, and keep read_on honest when a row is updated.
 */
#define READ_ON "2026-11-27"

static const faas_price_model presets[] = {
    /* AWS Lambda x86: $0.20 per 1M requests, $0.0000166667 per GB-s (first 6 B GB-s a
     * month; -10% to 15 B, -20% above: not modelled), 1 ms billing of configured memory,
     * INIT billed since 2025-08-01 for on-demand functions; free tier 1M requests +
     * 400,000 GB-s a month (shared with Arm). Sources: aws.amazon.com/lambda/pricing;
     * AWS Compute Blog "Introducing tiered pricing for AWS Lambda" and "AWS Lambda
     * standardizes billing for INIT Phase". */
    { .name = "aws-lambda-x86", .read_on = READ_ON,
      .source = "aws.amazon.com/lambda/pricing (us-east-1, first tier)",
      .request_picousd = 200000u, .gbs_picousd = 16666700u,
      .time_basis = FAAS_TIME_WALL, .memory_basis = FAAS_MEMORY_CONFIGURED,
      .quantum_ms = 1, .min_ms = 1, .bill_init = 1,
      .free_requests = 1000000u, .free_gb_seconds = 400000u },
    /* AWS Lambda Arm (Graviton2): $0.0000133334 per GB-s (first 7.5 B GB-s), the rest as
     * x86. Same sources. */
    { .name = "aws-lambda-arm64", .read_on = READ_ON,
      .source = "aws.amazon.com/lambda/pricing (us-east-1, first tier)",
      .request_picousd = 200000u, .gbs_picousd = 13333400u,
      .time_basis = FAAS_TIME_WALL, .memory_basis = FAAS_MEMORY_CONFIGURED,
      .quantum_ms = 1, .min_ms = 1, .bill_init = 1,
      .free_requests = 1000000u, .free_gb_seconds = 400000u },
    /* Google Cloud Functions 1st gen, Tier 1: $0.40 per 1M invocations, $0.0000025 per
     * GB-s plus $0.0000100 per GHz-s, "measured in 100ms increments, rounded up", "from
     * the time your function receives a request" (INIT not billed); the CPU clock is set
     * by the memory size: 128 MB 0.2 GHz, 256 0.4, 512 0.8, 1024 1.4, 2048 2.4, 4096 and
     * 8192 4.8. Free: 2M invocations, 400,000 GB-s, 200,000 GHz-s a month. Sources:
     * cloud.google.com/functions/pricing (web.archive.org copy of 2021-01-10); the
     * memory-to-GHz table and free tier as transcribed in firebase/firebase-tools
     * src/deploy/functions/pricing.ts (MB_TO_GHZ, V1_RATES, V1_FREE_TIER). */
    { .name = "gcp-functions-gen1", .read_on = READ_ON,
      .source = "cloud.google.com/functions/pricing (1st gen, Tier 1)",
      .request_picousd = 400000u, .gbs_picousd = 2500000u,
      .unit2 = "GHz-s", .unit2_picousd = 10000000u,
      .unit2_tiers = { { 128, 200 }, { 256, 400 }, { 512, 800 }, { 1024, 1400 },
                       { 2048, 2400 }, { 4096, 4800 }, { 8192, 4800 } },
      .time_basis = FAAS_TIME_WALL, .memory_basis = FAAS_MEMORY_CONFIGURED,
      .quantum_ms = 100, .min_ms = 100, .bill_init = 0,
      .free_requests = 2000000u, .free_gb_seconds = 400000u, .free_unit2_seconds = 200000u },
    /* Google Cloud Run functions (2nd gen, renamed Aug 2024), request-based billing,
     * Tier 1: $0.40 per 1M requests, $0.000024 per vCPU-s + $0.0000025 per GiB-s, 100 ms
     * rounding; instances are charged "when they start" too (INIT billed); vCPU by
     * memory: 128 MiB 0.083, 256 0.167, 512 0.333, 1 GiB 0.583, 2 GiB 1, 4 and 8 GiB 2,
     * 16 GiB 4, 32 GiB 8. Free: 2M requests, 360,000 GiB-s, 180,000 vCPU-s a month.
     * Sources: cloud.google.com/run/pricing; cloud.google.com/run/docs/configuring/
     * billing-settings; cloud.google.com/functions/docs/configuring/memory (the vCPU
     * table); firebase-tools pricing.ts (V2_RATES, V2_FREE_TIER). */
    { .name = "gcp-cloud-run-functions", .read_on = READ_ON,
      .source = "cloud.google.com/run/pricing (request-based billing, Tier 1)",
      .request_picousd = 400000u, .gbs_picousd = 2500000u,
      .unit2 = "vCPU-s", .unit2_picousd = 24000000u,
      .unit2_tiers = { { 128, 83 }, { 256, 167 }, { 512, 333 }, { 1024, 583 },
                       { 2048, 1000 }, { 4096, 2000 }, { 8192, 2000 }, { 16384, 4000 },
                       { 32768, 8000 } },
      .time_basis = FAAS_TIME_WALL, .memory_basis = FAAS_MEMORY_CONFIGURED,
      .quantum_ms = 100, .min_ms = 100, .bill_init = 1,
      .free_requests = 2000000u, .free_gb_seconds = 360000u, .free_unit2_seconds = 180000u },
    /* Azure Functions Consumption (legacy): $0.20 per 1M executions, $0.000016 per GB-s
     * of *observed* memory rounded up to 128 MB buckets, 1 ms rounding, at least 100 ms
     * and 128 MB per execution; free 1M executions + 400,000 GB-s a month. INIT is not
     * documented as billed. Sources: azure.microsoft.com/pricing/details/functions;
     * MicrosoftDocs/azure-docs articles/azure-functions/functions-consumption-costs.md;
     * modal.com/blog/azure-function-pricing-guide (2025-05-22). */
    { .name = "azure-consumption", .read_on = READ_ON,
      .source = "azure.microsoft.com/pricing/details/functions (Consumption)",
      .request_picousd = 200000u, .gbs_picousd = 16000000u,
      .time_basis = FAAS_TIME_WALL, .memory_basis = FAAS_MEMORY_OBSERVED,
      .memory_bucket_mb = 128, .min_memory_mb = 128, .quantum_ms = 1, .min_ms = 100,
      .bill_init = 0, .free_requests = 1000000u, .free_gb_seconds = 400000u },
    /* Azure Functions Flex Consumption, on demand: $0.40 per 1M executions, $0.000026 per
     * GB-s of the instance memory provisioned while executing. The 1,000 ms minimum is
     * from a Microsoft Q&A thread (learn.microsoft.com/en-us/answers/a/12389275,
     * 2025-11-26), not the pricing page; Azure applies it per instance's period of
     * activity, so billing it per call errs high for concurrent executions on one
     * instance. The free grant (believed 100,000 GB-s +
     * 250,000 executions) could not be verified and is left out: projections err high.
     * Sources: modal.com (2025-05-22); MicrosoftDocs include
     * functions-flex-consumption-billing-table.md. */
    { .name = "azure-flex", .read_on = READ_ON,
      .source = "azure.microsoft.com/pricing/details/functions (Flex, on demand)",
      .request_picousd = 400000u, .gbs_picousd = 26000000u,
      .time_basis = FAAS_TIME_WALL, .memory_basis = FAAS_MEMORY_CONFIGURED,
      .quantum_ms = 1, .min_ms = 1000, .bill_init = 0 },
    /* Cloudflare Workers Paid (Standard): $5 a month including 10M requests and 30M CPU-ms;
     * then $0.30 per 1M requests and $0.02 per 1M CPU-ms. Billed on CPU time, not wall
     * time, whatever the memory (128 MB per isolate). Per-call CPU time is rounded up to
     * 1 ms here, which errs high for sub-millisecond calls. Sources:
     * developers.cloudflare.com/workers/platform/limits and pricing; rates as read
     * 2026-08-03 in the halideworks/onelight wiki. */
    { .name = "cloudflare-workers", .read_on = READ_ON,
      .source = "developers.cloudflare.com/workers/platform/pricing (Paid, Standard)",
      .request_picousd = 300000u, .gbs_picousd = 20000000u,
      .time_basis = FAAS_TIME_CPU, .memory_basis = FAAS_MEMORY_NONE,
      .quantum_ms = 1, .min_ms = 0, .bill_init = 0,
      .free_requests = 10000000u, .free_gb_seconds = 30000u,
      .monthly_picousd = 5000000000000u },
};
#define NPRESETS (sizeof presets / sizeof presets[0])

const faas_price_model *faas_price_model_preset(size_t index)
{
    return index < NPRESETS ? &presets[index] : NULL;
}

const faas_price_model *faas_price_model_find(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < NPRESETS; i++)
        if (strcmp(presets[i].name, name) == 0)
            return &presets[i];
    return NULL;
}

/* ---- checking and copying ----------------------------------------------------------------- */

#define MODEL_NAME_MAX 63
#define MODEL_TEXT_MAX 256      /* source, read_on, unit2 */

static bool valid_model_name(const char *s)
{
    size_t n = 0;
    if (s == NULL)
        return false;
    for (; s[n]; n++) {
        char c = s[n];
        if (!isalnum((unsigned char)c) && c != '_' && c != '-' && c != '.')
            return false;
    }
    return n > 0 && n <= MODEL_NAME_MAX;
}

static bool valid_text(const char *s)
{
    if (s == NULL)
        return true;
    size_t n = strlen(s);
    if (n > MODEL_TEXT_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

int faas__price_check(const faas_price_model *m)
{
    if (m == NULL)
        return faas__fail(FAAS_EINVAL, "price model is NULL");
    if (!faas__abi_reserved_zero(m->reserved, sizeof m->reserved))
        return faas__fail(FAAS_ENOTSUP, "price model: a field libfaas %s does not know is "
                          "set (reserved is not zero)", FAAS_VERSION_STRING);
    if (!valid_model_name(m->name))
        return faas__fail(FAAS_EINVAL, "price model name \"%.80s\": 1-%d characters of "
                          "[A-Za-z0-9_.-]", m->name ? m->name : "(null)", MODEL_NAME_MAX);
    if (!valid_text(m->source) || !valid_text(m->read_on) || !valid_text(m->unit2) ||
        (m->unit2 != NULL && m->unit2[0] == '\0'))
        return faas__fail(FAAS_EINVAL, "price model %s: source, read_on and unit2 must be "
                          "at most %d printable characters", m->name, MODEL_TEXT_MAX);
    if (m->time_basis != FAAS_TIME_WALL && m->time_basis != FAAS_TIME_CPU)
        return faas__fail(FAAS_EINVAL, "price model %s: time_basis %d is not "
                          "FAAS_TIME_WALL or FAAS_TIME_CPU", m->name, m->time_basis);
    if (m->memory_basis < FAAS_MEMORY_CONFIGURED || m->memory_basis > FAAS_MEMORY_NONE)
        return faas__fail(FAAS_EINVAL, "price model %s: memory_basis %d is not a "
                          "FAAS_MEMORY_* value", m->name, m->memory_basis);
    if (m->bill_init != 0 && m->bill_init != 1)
        return faas__fail(FAAS_EINVAL, "price model %s: bill_init must be 0 or 1", m->name);
    /* Bounds that keep every per-call product far inside 64 bits before the 128-bit
     * fallback is even needed: $1 per request or GB-s is 1e12 pico-dollars. */
    if (m->request_picousd > UINT64_C(1000000000000) ||
        m->gbs_picousd > UINT64_C(1000000000000) ||
        m->unit2_picousd > UINT64_C(1000000000000))
        return faas__fail(FAAS_EINVAL, "price model %s: a price above $1 per request or "
                          "per unit-second is not a FaaS price", m->name);
    if (m->quantum_ms > 3600000u || m->min_ms > 3600000u)
        return faas__fail(FAAS_EINVAL, "price model %s: quantum_ms and min_ms must be at "
                          "most one hour", m->name);
    if (m->memory_bucket_mb > (1u << 20) || m->min_memory_mb > (1u << 20))
        return faas__fail(FAAS_EINVAL, "price model %s: memory_bucket_mb and "
                          "min_memory_mb must be at most 1 TB", m->name);
    uint32_t last = 0;
    size_t tiers = 0;
    for (size_t i = 0; i < FAAS_PRICE_TIERS; i++) {
        const faas_price_tier *t = &m->unit2_tiers[i];
        if (t->memory_mb == 0) {
            for (size_t j = i; j < FAAS_PRICE_TIERS; j++)
                if (m->unit2_tiers[j].memory_mb != 0 || m->unit2_tiers[j].milli_units != 0)
                    return faas__fail(FAAS_EINVAL, "price model %s: unit2_tiers has a "
                                      "gap at row %zu", m->name, i);
            break;
        }
        if (t->memory_mb <= last)
            return faas__fail(FAAS_EINVAL, "price model %s: unit2_tiers must be in "
                              "ascending memory order", m->name);
        if (t->milli_units > 1000000u)
            return faas__fail(FAAS_EINVAL, "price model %s: a tier of more than 1,000 "
                              "units", m->name);
        last = t->memory_mb;
        tiers++;
    }
    if ((m->unit2 != NULL) != (tiers > 0))
        return faas__fail(FAAS_EINVAL, "price model %s: a second dimension needs both a "
                          "unit2 name and unit2_tiers", m->name);
    return FAAS_OK;
}

faas_price_model *faas__price_dup(const faas_price_model *m)
{
    const char *strs[4] = { m->name, m->source, m->read_on, m->unit2 };
    size_t room = 0;
    for (int i = 0; i < 4; i++)
        room += strs[i] ? strlen(strs[i]) + 1 : 0;
    faas_price_model *c = malloc(sizeof *c + room);
    if (c == NULL)
        return NULL;
    *c = *m;
    char *p = (char *)(c + 1);
    const char **dst[4] = { &c->name, &c->source, &c->read_on, &c->unit2 };
    for (int i = 0; i < 4; i++) {
        if (strs[i] == NULL) {
            *dst[i] = NULL;
            continue;
        }
        size_t n = strlen(strs[i]) + 1;
        memcpy(p, strs[i], n);
        *dst[i] = p;
        p += n;
    }
    return c;
}

void faas_price_model_free(faas_price_model *model)
{
    free(model);
}

void faas__price_fn(const faas_price_model *m, uint32_t memory_mb, faas__fnprice *out)
{
    uint64_t mb = memory_mb;
    if (m->memory_basis == FAAS_MEMORY_NONE) {
        mb = 1024;
    } else {
        uint64_t b = m->memory_bucket_mb;
        if (b > 1)
            mb = (mb + b - 1) / b * b;
        if (mb < m->min_memory_mb)
            mb = m->min_memory_mb;
    }
    out->billed_mb = (uint32_t)mb;
    out->mem_price = mb * m->gbs_picousd;
    out->milli_units = 0;
    out->unit2_price = 0;
    if (m->unit2 != NULL) {
        /* The first tier whose memory fits, else the largest. */
        uint32_t units = 0;
        for (size_t i = 0; i < FAAS_PRICE_TIERS && m->unit2_tiers[i].memory_mb; i++) {
            units = m->unit2_tiers[i].milli_units;
            if (memory_mb <= m->unit2_tiers[i].memory_mb)
                break;
        }
        out->milli_units = units;
        out->unit2_price = (uint64_t)units * m->unit2_picousd;
    }
}

int faas_price_record(const faas_price_model *model, faas_record *rec)
{
    if (model == NULL || rec == NULL)
        return faas__fail(FAAS_EINVAL, "faas_price_record: NULL argument");
    int rc = faas__price_check(model);
    if (rc != FAAS_OK)
        return rc;
    if (rec->status == FAAS_ETHROTTLED || rec->status == FAAS_EBUDGET) {
        rec->billed_ms = 0;                     /* no handler ran: nothing to bill */
        rec->cost_picousd = 0;
        return FAAS_OK;
    }
    faas__fnprice fp;
    faas__price_fn(model, rec->memory_mb, &fp);
    faas__bill b;
    faas__bill_call(model, &fp, rec, &b);
    rec->billed_ms = b.billed_ms;
    rec->cost_picousd = model->request_picousd + b.compute_pusd;
    return FAAS_OK;
}

/* ---- the model file ----------------------------------------------------------------------- */

/* "0.0000166667" or "$0.20" as pico-dollars, exactly; more than 12 decimals that are not
 * zeros is an error, never a silent rounding. */
static bool parse_usd(const char *s, uint64_t *out)
{
    if (*s == '$')
        s++;
    if (!isdigit((unsigned char)*s) && *s != '.')
        return false;
    uint64_t whole = 0;
    for (; isdigit((unsigned char)*s); s++) {
        if (whole > UINT64_C(1000000))          /* a million dollars is no FaaS price */
            return false;
        whole = whole * 10 + (uint64_t)(*s - '0');
    }
    uint64_t frac = 0;
    int digits = 0;
    if (*s == '.') {
        for (s++; isdigit((unsigned char)*s); s++) {
            if (digits < 12) {
                frac = frac * 10 + (uint64_t)(*s - '0');
                digits++;
            } else if (*s != '0') {
                return false;
            }
        }
    }
    if (*s != '\0')
        return false;
    while (digits++ < 12)
        frac *= 10;
    *out = whole * UINT64_C(1000000000000) + frac;
    return true;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!isdigit((unsigned char)*s))
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return false;
    *out = v;
    return true;
}

/* "0.583" as thousandths, 583. */
static bool parse_milli(const char *s, uint32_t *out)
{
    uint64_t pusd;
    if (*s == '$' || !parse_usd(s, &pusd) || pusd % 1000000000u != 0 ||
        pusd / 1000000000u > 1000000u)
        return false;
    *out = (uint32_t)(pusd / 1000000000u);
    return true;
}

/* What parsing builds: the model, and its strings (copied by faas__price_dup at the end). */
typedef struct parse_state {
    faas_price_model m;
    char name[MODEL_NAME_MAX + 1];
    char source[MODEL_TEXT_MAX + 1], read_on[MODEL_TEXT_MAX + 1], unit2[MODEL_TEXT_MAX + 1];
    size_t tiers;
    bool have_name, any_key;
} parse_state;

static int set_string(char *dst, size_t size, const char **field, const char *value,
                      unsigned line)
{
    if (strlen(value) >= size)
        return faas__fail(FAAS_EINVAL, "price model, line %u: value too long", line);
    memcpy(dst, value, strlen(value) + 1);
    *field = dst;
    return FAAS_OK;
}

static int parse_key(parse_state *ps, const char *key, const char *val, unsigned line)
{
    faas_price_model *m = &ps->m;
    uint64_t v;
    if (strcmp(key, "base") == 0) {
        const faas_price_model *p = faas_price_model_find(val);
        if (p == NULL)
            return faas__fail(FAAS_EINVAL, "price model, line %u: no preset named \"%.80s\"",
                              line, val);
        if (ps->any_key)
            return faas__fail(FAAS_EINVAL, "price model, line %u: base must come first",
                              line);
        *m = *p;
        ps->tiers = 0;
        while (ps->tiers < FAAS_PRICE_TIERS && m->unit2_tiers[ps->tiers].memory_mb)
            ps->tiers++;
        /* The preset's strings are static; the name must be the file's own. */
        if (m->unit2 != NULL)
            set_string(ps->unit2, sizeof ps->unit2, &m->unit2, p->unit2, line);
        m->name = NULL;
    } else if (strcmp(key, "name") == 0) {
        if (set_string(ps->name, sizeof ps->name, &m->name, val, line) != FAAS_OK)
            return FAAS_EINVAL;
        ps->have_name = true;
    } else if (strcmp(key, "source") == 0) {
        return set_string(ps->source, sizeof ps->source, &m->source, val, line);
    } else if (strcmp(key, "read_on") == 0) {
        return set_string(ps->read_on, sizeof ps->read_on, &m->read_on, val, line);
    } else if (strcmp(key, "unit2") == 0) {
        if (strcmp(val, "none") == 0) {
            m->unit2 = NULL;
            m->unit2_picousd = 0;
            memset(m->unit2_tiers, 0, sizeof m->unit2_tiers);
            ps->tiers = 0;
            return FAAS_OK;
        }
        return set_string(ps->unit2, sizeof ps->unit2, &m->unit2, val, line);
    } else if (strcmp(key, "request") == 0 || strcmp(key, "gb_second") == 0 ||
               strcmp(key, "unit2_second") == 0 || strcmp(key, "monthly") == 0 ||
               strcmp(key, "request_per_million") == 0) {
        if (!parse_usd(val, &v))
            return faas__fail(FAAS_EINVAL, "price model, line %u: %s wants dollars with at "
                              "most 12 decimals, not \"%.80s\"", line, key, val);
        if (strcmp(key, "request") == 0)
            m->request_picousd = v;
        else if (strcmp(key, "request_per_million") == 0) {
            if (v % 1000000u != 0)
                return faas__fail(FAAS_EINVAL, "price model, line %u: request_per_million "
                                  "below a pico-dollar per request", line);
            m->request_picousd = v / 1000000u;
        } else if (strcmp(key, "gb_second") == 0)
            m->gbs_picousd = v;
        else if (strcmp(key, "unit2_second") == 0)
            m->unit2_picousd = v;
        else
            m->monthly_picousd = v;
    } else if (strcmp(key, "unit2_tier") == 0) {
        char mem[32], units[32], extra[2];
        uint32_t milli;
        if (ps->tiers == FAAS_PRICE_TIERS)
            return faas__fail(FAAS_EINVAL, "price model, line %u: more than %d tiers", line,
                              FAAS_PRICE_TIERS);
        if (sscanf(val, "%31s %31s %1s", mem, units, extra) != 2 ||
            !parse_u64(mem, 1u << 20, &v) || v == 0 || !parse_milli(units, &milli))
            return faas__fail(FAAS_EINVAL, "price model, line %u: unit2_tier wants "
                              "\"MEMORY_MB UNITS\", e.g. \"1024 1.4\"", line);
        m->unit2_tiers[ps->tiers].memory_mb = (uint32_t)v;
        m->unit2_tiers[ps->tiers++].milli_units = milli;
    } else if (strcmp(key, "time") == 0) {
        if (strcmp(val, "wall") == 0)
            m->time_basis = FAAS_TIME_WALL;
        else if (strcmp(val, "cpu") == 0)
            m->time_basis = FAAS_TIME_CPU;
        else
            return faas__fail(FAAS_EINVAL, "price model, line %u: time is wall or cpu", line);
    } else if (strcmp(key, "memory") == 0) {
        if (strcmp(val, "configured") == 0)
            m->memory_basis = FAAS_MEMORY_CONFIGURED;
        else if (strcmp(val, "observed") == 0)
            m->memory_basis = FAAS_MEMORY_OBSERVED;
        else if (strcmp(val, "none") == 0)
            m->memory_basis = FAAS_MEMORY_NONE;
        else
            return faas__fail(FAAS_EINVAL, "price model, line %u: memory is configured, "
                              "observed or none", line);
    } else if (strcmp(key, "bill_init") == 0) {
        if (strcmp(val, "yes") == 0)
            m->bill_init = 1;
        else if (strcmp(val, "no") == 0)
            m->bill_init = 0;
        else
            return faas__fail(FAAS_EINVAL, "price model, line %u: bill_init is yes or no",
                              line);
    } else {
        static const struct { const char *key; size_t off; uint64_t max; int u32; } nums[] = {
            { "memory_bucket_mb", offsetof(faas_price_model, memory_bucket_mb), 1u << 20, 1 },
            { "min_memory_mb", offsetof(faas_price_model, min_memory_mb), 1u << 20, 1 },
            { "quantum_ms", offsetof(faas_price_model, quantum_ms), 3600000u, 1 },
            { "min_ms", offsetof(faas_price_model, min_ms), 3600000u, 1 },
            { "free_requests", offsetof(faas_price_model, free_requests), UINT64_MAX, 0 },
            { "free_gb_seconds", offsetof(faas_price_model, free_gb_seconds), UINT64_MAX, 0 },
            { "free_unit2_seconds", offsetof(faas_price_model, free_unit2_seconds),
              UINT64_MAX, 0 },
        };
        for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
            if (strcmp(key, nums[i].key) != 0)
                continue;
            if (!parse_u64(val, nums[i].max, &v))
                return faas__fail(FAAS_EINVAL, "price model, line %u: %s wants a whole "
                                  "number up to %llu, not \"%.80s\"", line, key,
                                  (unsigned long long)nums[i].max, val);
            if (nums[i].u32)
                *(uint32_t *)(void *)((char *)m + nums[i].off) = (uint32_t)v;
            else
                *(uint64_t *)(void *)((char *)m + nums[i].off) = v;
            return FAAS_OK;
        }
        return faas__fail(FAAS_EINVAL, "price model, line %u: unknown key \"%.80s\"", line,
                          key);
    }
    return FAAS_OK;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

int faas_price_model_parse(const char *text, size_t len, faas_price_model **out)
{
    if (out == NULL)
        return faas__fail(FAAS_EINVAL, "faas_price_model_parse: out is NULL");
    *out = NULL;
    if (text == NULL && len > 0)
        return faas__fail(FAAS_EINVAL, "faas_price_model_parse: text is NULL");
    parse_state *ps = calloc(1, sizeof *ps);
    if (ps == NULL)
        return faas__fail(FAAS_ENOMEM, "faas_price_model_parse: out of memory");
    int rc = FAAS_OK;
    unsigned lineno = 0;
    size_t pos = 0;
    char line[1024];
    while (rc == FAAS_OK && pos < len) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        lineno++;
        size_t n = end - pos;
        if (n >= sizeof line) {
            rc = faas__fail(FAAS_EINVAL, "price model, line %u: longer than %zu bytes",
                            lineno, sizeof line - 1);
            break;
        }
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos = end + 1;
        if (memchr(line, '\0', n) != NULL) {
            rc = faas__fail(FAAS_EINVAL, "price model, line %u: a NUL byte", lineno);
            break;
        }
        char *hash = strchr(line, '#');
        if (hash != NULL)
            *hash = '\0';
        char *s = trim(line);
        if (*s == '\0')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            rc = faas__fail(FAAS_EINVAL, "price model, line %u: expected KEY = VALUE",
                            lineno);
            break;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        rc = parse_key(ps, key, val, lineno);
        ps->any_key = true;
    }
    if (rc == FAAS_OK && !ps->have_name)
        rc = faas__fail(FAAS_EINVAL, "price model: no name = line");
    if (rc == FAAS_OK)
        rc = faas__price_check(&ps->m);
    if (rc == FAAS_OK) {
        *out = faas__price_dup(&ps->m);
        if (*out == NULL)
            rc = faas__fail(FAAS_ENOMEM, "faas_price_model_parse: out of memory");
    }
    free(ps);
    return rc;
}

int faas_price_model_load(const char *path, faas_price_model **out)
{
    if (out == NULL || path == NULL)
        return faas__fail(FAAS_EINVAL, "faas_price_model_load: NULL argument");
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return faas__fail(FAAS_ENOTFOUND, "faas_price_model_load: %s: %s", path,
                          strerror(errno));
    enum { MAX_FILE = 65536 };
    char *buf = malloc(MAX_FILE);
    if (buf == NULL) {
        fclose(f);
        return faas__fail(FAAS_ENOMEM, "faas_price_model_load: out of memory");
    }
    size_t n = fread(buf, 1, MAX_FILE, f);
    int err = ferror(f), more = !feof(f) && fgetc(f) != EOF;
    fclose(f);
    int rc;
    if (err)
        rc = faas__fail(FAAS_EINVAL, "faas_price_model_load: %s: read error", path);
    else if (more)
        rc = faas__fail(FAAS_ETOOLARGE, "faas_price_model_load: %s: larger than %d bytes",
                        path, MAX_FILE);
    else
        rc = faas_price_model_parse(buf, n, out);
    free(buf);
    if (rc == FAAS_EINVAL && !err) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s", faas_last_error());
        faas__fail(rc, "%s: %s", path, msg);
    }
    return rc;
}


/* ---- budgets ------------------------------------------------------------------------------ */

void faas__budget_roll(faas__budget *b, uint64_t now)
{
    pthread_mutex_lock(&b->roll);
    uint64_t w = atomic_load_explicit(&b->window_ns, memory_order_relaxed);
    uint64_t origin = atomic_load_explicit(&b->origin_ns, memory_order_relaxed);
    /* Only forward, and only once per window: a call that read the clock before another
     * thread moved the window does not move it again. */
    if (w != 0 && now >= atomic_load_explicit(&b->next_ns, memory_order_relaxed)) {
        uint64_t idx = now > origin ? (now - origin) / w : 0;
        atomic_store_explicit(&b->spent, 0, memory_order_relaxed);
        atomic_store_explicit(&b->window, idx, memory_order_relaxed);
        atomic_store_explicit(&b->next_ns, origin + (idx + 1) * w, memory_order_relaxed);
    }
    pthread_mutex_unlock(&b->roll);
}

/* Requires rt->budget_lock. */
static faas__budget *budget_find(faas_runtime *rt, const char *tag)
{
    for (faas__budget *b = rt->budgets; b != NULL; b = b->next)
        if (strcmp(b->tag, tag) == 0)
            return b;
    return NULL;
}

static int check_tag(const char *fn, const char *tag)
{
    if (tag == NULL || tag[0] == '\0' || strlen(tag) > FAAS__TAG_MAX)
        return faas__fail(FAAS_EINVAL, "%s: tag must be 1 to %d bytes", fn, FAAS__TAG_MAX);
    return FAAS_OK;
}

faas__budget *faas__budget_for(faas_runtime *rt, const char *tag)
{
    if (tag == NULL)
        return NULL;
    pthread_mutex_lock(&rt->budget_lock);
    faas__budget *b = budget_find(rt, tag);
    faas__budget *active = b != NULL && b->active ? b : NULL;
    pthread_mutex_unlock(&rt->budget_lock);
    return active;
}

int faas_budget_set(faas_runtime *rt, const char *tag, uint64_t limit_picousd,
                    uint64_t window_ms)
{
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_budget_set: runtime is NULL");
    int rc = check_tag("faas_budget_set", tag);
    if (rc != FAAS_OK)
        return rc;
    if (window_ms > UINT64_MAX / 1000000u)
        return faas__fail(FAAS_EINVAL, "faas_budget_set: window_ms %llu is too long",
                          (unsigned long long)window_ms);
    uint64_t now = faas__now(rt);
    /* The registry lock first (lock order): functions of this tag get the pointer while
     * no registration can slip in between. */
    pthread_rwlock_rdlock(&rt->reg_lock);
    pthread_mutex_lock(&rt->budget_lock);
    faas__budget *b = budget_find(rt, tag);
    if (b == NULL) {
        b = calloc(1, sizeof *b);
        char *copy = strdup(tag);
        if (b == NULL || copy == NULL) {
            free(b);
            free(copy);
            pthread_mutex_unlock(&rt->budget_lock);
            pthread_rwlock_unlock(&rt->reg_lock);
            return faas__fail(FAAS_ENOMEM, "faas_budget_set: out of memory");
        }
        b->tag = copy;
        pthread_mutex_init(&b->roll, NULL);
        b->next = rt->budgets;
        rt->budgets = b;
    }
    pthread_mutex_lock(&b->roll);
    atomic_store(&b->limit, limit_picousd);
    atomic_store(&b->window_ns, window_ms * 1000000u);
    atomic_store(&b->origin_ns, now);
    atomic_store(&b->window, 0);
    atomic_store(&b->next_ns, window_ms ? now + window_ms * 1000000u : UINT64_MAX);
    atomic_store(&b->spent, 0);
    pthread_mutex_unlock(&b->roll);
    b->active = true;
    faas_function *fn, *tmp;
    HASH_ITER(hh, rt->fns, fn, tmp)
        if (fn->name->tag != NULL && strcmp(fn->name->tag, tag) == 0)
            atomic_store_explicit(&fn->budget, b, memory_order_release);
    pthread_mutex_unlock(&rt->budget_lock);
    pthread_rwlock_unlock(&rt->reg_lock);
    return FAAS_OK;
}

int faas_budget_remove(faas_runtime *rt, const char *tag)
{
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_budget_remove: runtime is NULL");
    int rc = check_tag("faas_budget_remove", tag);
    if (rc != FAAS_OK)
        return rc;
    pthread_rwlock_rdlock(&rt->reg_lock);
    pthread_mutex_lock(&rt->budget_lock);
    faas__budget *b = budget_find(rt, tag);
    if (b != NULL && b->active) {
        b->active = false;
        faas_function *fn, *tmp;
        HASH_ITER(hh, rt->fns, fn, tmp)
            if (atomic_load_explicit(&fn->budget, memory_order_relaxed) == b)
                atomic_store_explicit(&fn->budget, NULL, memory_order_release);
    } else {
        rc = faas__fail(FAAS_ENOTFOUND, "faas_budget_remove: tag \"%.80s\" has no budget",
                        tag);
    }
    pthread_mutex_unlock(&rt->budget_lock);
    pthread_rwlock_unlock(&rt->reg_lock);
    return rc;
}

int faas_budget_get(faas_runtime *rt, const char *tag, faas_budget *out)
{
    if (rt == NULL)
        return faas__fail(FAAS_EINVAL, "faas_budget_get: runtime is NULL");
    if (out == NULL)
        return faas__fail(FAAS_EINVAL, "faas_budget_get: out is NULL");
    int rc = check_tag("faas_budget_get", tag);
    if (rc != FAAS_OK)
        return rc;
    memset(out, 0, sizeof *out);
    uint64_t now = faas__now(rt);
    pthread_mutex_lock(&rt->budget_lock);
    faas__budget *b = budget_find(rt, tag);
    if (b != NULL && b->active) {
        faas__budget_sync(b, now);
        out->limit_picousd = atomic_load(&b->limit);
        uint64_t w = atomic_load(&b->window_ns);
        out->window_ms = w / 1000000u;
        out->spent_picousd = atomic_load(&b->spent);
        if (w != 0) {
            uint64_t end = atomic_load(&b->next_ns);
            out->window_left_ms = end > now ? (end - now + 999999u) / 1000000u : 0;
        }
        out->refusals = atomic_load(&b->refusals);
    } else {
        rc = faas__fail(FAAS_ENOTFOUND, "faas_budget_get: tag \"%.80s\" has no budget", tag);
    }
    pthread_mutex_unlock(&rt->budget_lock);
    return rc;
}

void faas__budgets_free(faas_runtime *rt)
{
    faas__budget *b = rt->budgets;
    while (b != NULL) {
        faas__budget *next = b->next;
        pthread_mutex_destroy(&b->roll);
        free(b->tag);
        free(b);
        b = next;
    }
    rt->budgets = NULL;
}
