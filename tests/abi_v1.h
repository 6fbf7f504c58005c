/*
 * abi_v1.h - <faas.h>'s structs as 0.1.0 published them, renamed abi_v1_*: the layouts
 * that programs built with 0.1.0's header pass and receive. Frozen: never edit this file
 * (a later version's structs are compared with it, field by field, by test_abi.c).
 * ABI_V1_<STRUCT>(X) lists each struct's fields but its reserved words, which later
 * fields may take.
 */
#ifndef FAAS_TEST_ABI_V1_H
#define FAAS_TEST_ABI_V1_H

#include <stddef.h>
#include <stdint.h>

#include <faas.h>               /* faas_init_fn, faas_shutdown_fn, faas_callback */

typedef struct abi_v1_clock {
    uint64_t (*mono_ns)(void *arg);
    int64_t  (*wall_ns)(void *arg);
    void      *arg;
} abi_v1_clock;

typedef struct abi_v1_options {
    size_t      size;
    unsigned    workers;
    size_t      queue_capacity;
    const char *price_model;
    void      (*log)(const char *line, void *arg);
    void       *log_arg;
    abi_v1_clock  clock;
    int         manual;
    int         cpu_time;
    size_t      max_payload_sync;
    size_t      max_payload_async;
    unsigned    retry_base_ms;
    unsigned    retry_cap_ms;
    int         idle_spin_us;
    const struct abi_v1_price_model *price;
    int         no_histograms;
    const char *journal_dir;
    size_t      journal_segment_bytes;
} abi_v1_options;

typedef struct abi_v1_config {
    unsigned memory_mb;
    unsigned timeout_ms;
    unsigned max_concurrency;
    unsigned min_warm;
    unsigned keep_alive_ms;
    unsigned max_retries;
    const char *dead_letter;
    const char *tag;
    faas_init_fn init;
    faas_shutdown_fn shutdown;
    int isolation;
    int seccomp;
    int remote;
    unsigned pids_max;
    uint64_t reserved[8];
} abi_v1_config;

typedef struct abi_v1_record {
    char        request_id[37];
    const char *function, *tag;
    int         status;
    int         cold;
    int         attempt;
    uint64_t    init_ns;
    uint64_t    duration_ns;
    uint64_t    cpu_ns;
    uint32_t    billed_ms, memory_mb;
    uint64_t    max_memory_bytes;
    uint64_t    cost_picousd;
    uint64_t    reserved[4];
} abi_v1_record;

typedef struct abi_v1_response {
    int         status;
    void       *data;  size_t len;
    const char *error_type, *error_message;
    const char *log_tail;
    abi_v1_record record;
    uint64_t    reserved[4];
} abi_v1_response;

typedef struct abi_v1_stats {
    uint64_t invocations, errors, throttles, cold_starts, timeouts, retries, dead_letters;
    unsigned instances_live, instances_busy;
    double   p50_ms, p90_ms, p99_ms, max_ms;
    uint64_t cost_picousd;
    double   p999_ms;
    double   init_p50_ms, init_p90_ms, init_p99_ms, init_p999_ms, init_max_ms;
    double   queue_p50_ms, queue_p90_ms, queue_p99_ms, queue_p999_ms, queue_max_ms;
    uint64_t init_count, queue_count;
    uint64_t budget_refusals;
    uint64_t mb_ms;
    uint64_t request_picousd, compute_picousd;
    uint64_t instance_deaths;
    uint64_t reserved[16];
} abi_v1_stats;

typedef struct abi_v1_journal_stats {
    int      enabled;
    int      error;
    uint64_t pending;
    uint64_t live;
    uint64_t unreplayed;
    uint64_t recovered;
    uint64_t appended;
    uint64_t completed;
    uint64_t kept;
    uint64_t syncs;
    uint64_t bytes;
    uint64_t segments;
    uint64_t compactions;
    uint64_t torn_bytes;
    uint64_t corrupt_records;
    uint64_t corrupt_bytes;
    uint64_t reserved[8];
} abi_v1_journal_stats;

typedef struct abi_v1_price_tier {
    uint32_t memory_mb;
    uint32_t milli_units;
} abi_v1_price_tier;

typedef struct abi_v1_price_model {
    const char *name;
    const char *source;
    const char *read_on;
    uint64_t    request_picousd;
    uint64_t    gbs_picousd;
    const char *unit2;
    uint64_t    unit2_picousd;
    abi_v1_price_tier unit2_tiers[12];
    int         time_basis;
    int         memory_basis;
    uint32_t    memory_bucket_mb;
    uint32_t    min_memory_mb;
    uint32_t    quantum_ms;
    uint32_t    min_ms;
    int         bill_init;
    uint64_t    free_requests;
    uint64_t    free_gb_seconds;
    uint64_t    free_unit2_seconds;
    uint64_t    monthly_picousd;
    uint64_t    reserved[8];
} abi_v1_price_model;

typedef struct abi_v1_cost_row {
    const char *model;
    int         group;
    const char *name;
    uint64_t    calls;
    uint64_t    mb_ms;
    uint64_t    unit2_ms;
    uint64_t    request_picousd;
    uint64_t    compute_picousd;
    uint64_t    fixed_picousd;
    uint64_t    free_picousd;
    uint64_t    total_picousd;
    int         cpu_estimated;
    uint64_t    reserved[4];
} abi_v1_cost_row;

typedef struct abi_v1_budget {
    uint64_t limit_picousd;
    uint64_t window_ms;
    uint64_t spent_picousd;
    uint64_t window_left_ms;
    uint64_t refusals;
    uint64_t reserved[4];
} abi_v1_budget;

typedef struct abi_v1_function_info {
    const char *name;
    const char *kind;
    const char *module;
    const char *symbol;
    abi_v1_config config;
    uint64_t    reserved[4];
} abi_v1_function_info;

typedef struct abi_v1_gateway_options {
    size_t      size;
    const char *token;
    unsigned    max_connections;
    size_t      max_body;
    size_t      max_payload_sync;
    size_t      max_payload_async;
    unsigned    idle_timeout_ms;
    unsigned    body_timeout_ms;
    unsigned    drain_timeout_ms;
    unsigned    threads;
    const char *region;
    const char *account;
    unsigned    header_timeout_ms;
    unsigned    max_connections_per_address;
    size_t      max_discard;
    faas_callback event_done;
    void       *event_done_arg;
} abi_v1_gateway_options;

typedef struct abi_v1_schedule_options {
    size_t      size;
    const char *time_zone;
    const char *name;
    const char *account;
    const char *region;
} abi_v1_schedule_options;

typedef struct abi_v1_watch_options {
    size_t      size;
    int         recursive;
    unsigned    events;
    const char *prefix;
    const char *suffix;
    int         existing;
    const char *bucket;
    const char *region;
    const char *configuration_id;
} abi_v1_watch_options;

typedef struct abi_v1_nats_options {
    size_t      size;
    int         role;
    int         publish_all;
    const char *stream;
    const char *subject_prefix;
    const char *durable_prefix;
    const char *const *functions;
    int         replicas;
    int         memory_storage;
    uint64_t    max_age_ms;
    int64_t     max_bytes;
    unsigned    duplicate_window_ms;
    unsigned    ack_wait_ms;
    unsigned    max_inflight;
    unsigned    fetch_batch;
    int64_t     max_ack_pending;
    unsigned    retry_ms;
    unsigned    result_timeout_ms;
    const char *name;
    unsigned    result_deadline_ms;
} abi_v1_nats_options;

typedef struct abi_v1_nats_stats {
    uint64_t published;
    uint64_t republished;
    uint64_t results;
    uint64_t duplicate_results;
    uint64_t fetched;
    uint64_t redelivered;
    uint64_t acked, naked;
    uint64_t dead_letters;
    uint64_t in_progress;
    uint64_t results_resent;
    uint64_t results_undelivered;
    uint64_t reconnects;
    uint64_t reserved[8];
} abi_v1_nats_stats;

#define ABI_V1_CLOCK(X) \
    X(clock, mono_ns) X(clock, wall_ns) X(clock, arg)

#define ABI_V1_OPTIONS(X) \
    X(options, size) X(options, workers) X(options, queue_capacity) X(options, price_model) \
    X(options, log) X(options, log_arg) X(options, clock) X(options, manual) \
    X(options, cpu_time) X(options, max_payload_sync) X(options, max_payload_async) \
    X(options, retry_base_ms) X(options, retry_cap_ms) X(options, idle_spin_us) \
    X(options, price) X(options, no_histograms) X(options, journal_dir) \
    X(options, journal_segment_bytes)

#define ABI_V1_CONFIG(X) \
    X(config, memory_mb) X(config, timeout_ms) X(config, max_concurrency) \
    X(config, min_warm) X(config, keep_alive_ms) X(config, max_retries) \
    X(config, dead_letter) X(config, tag) X(config, init) X(config, shutdown) \
    X(config, isolation) X(config, seccomp) X(config, remote) X(config, pids_max)

#define ABI_V1_RECORD(X) \
    X(record, request_id) X(record, function) X(record, tag) X(record, status) \
    X(record, cold) X(record, attempt) X(record, init_ns) X(record, duration_ns) \
    X(record, cpu_ns) X(record, billed_ms) X(record, memory_mb) X(record, max_memory_bytes) \
    X(record, cost_picousd)

#define ABI_V1_RESPONSE(X) \
    X(response, status) X(response, data) X(response, len) X(response, error_type) \
    X(response, error_message) X(response, log_tail) X(response, record)

#define ABI_V1_STATS(X) \
    X(stats, invocations) X(stats, errors) X(stats, throttles) X(stats, cold_starts) \
    X(stats, timeouts) X(stats, retries) X(stats, dead_letters) X(stats, instances_live) \
    X(stats, instances_busy) X(stats, p50_ms) X(stats, p90_ms) X(stats, p99_ms) \
    X(stats, max_ms) X(stats, cost_picousd) X(stats, p999_ms) X(stats, init_p50_ms) \
    X(stats, init_p90_ms) X(stats, init_p99_ms) X(stats, init_p999_ms) X(stats, init_max_ms) \
    X(stats, queue_p50_ms) X(stats, queue_p90_ms) X(stats, queue_p99_ms) \
    X(stats, queue_p999_ms) X(stats, queue_max_ms) X(stats, init_count) \
    X(stats, queue_count) X(stats, budget_refusals) X(stats, mb_ms) \
    X(stats, request_picousd) X(stats, compute_picousd) X(stats, instance_deaths)

#define ABI_V1_JOURNAL_STATS(X) \
    X(journal_stats, enabled) X(journal_stats, error) X(journal_stats, pending) \
    X(journal_stats, live) X(journal_stats, unreplayed) X(journal_stats, recovered) \
    X(journal_stats, appended) X(journal_stats, completed) X(journal_stats, kept) \
    X(journal_stats, syncs) X(journal_stats, bytes) X(journal_stats, segments) \
    X(journal_stats, compactions) X(journal_stats, torn_bytes) \
    X(journal_stats, corrupt_records) X(journal_stats, corrupt_bytes)

#define ABI_V1_PRICE_TIER(X) \
    X(price_tier, memory_mb) X(price_tier, milli_units)

#define ABI_V1_PRICE_MODEL(X) \
    X(price_model, name) X(price_model, source) X(price_model, read_on) \
    X(price_model, request_picousd) X(price_model, gbs_picousd) X(price_model, unit2) \
    X(price_model, unit2_picousd) X(price_model, unit2_tiers) X(price_model, time_basis) \
    X(price_model, memory_basis) X(price_model, memory_bucket_mb) \
    X(price_model, min_memory_mb) X(price_model, quantum_ms) X(price_model, min_ms) \
    X(price_model, bill_init) X(price_model, free_requests) X(price_model, free_gb_seconds) \
    X(price_model, free_unit2_seconds) X(price_model, monthly_picousd)

#define ABI_V1_COST_ROW(X) \
    X(cost_row, model) X(cost_row, group) X(cost_row, name) X(cost_row, calls) \
    X(cost_row, mb_ms) X(cost_row, unit2_ms) X(cost_row, request_picousd) \
    X(cost_row, compute_picousd) X(cost_row, fixed_picousd) X(cost_row, free_picousd) \
    X(cost_row, total_picousd) X(cost_row, cpu_estimated)

#define ABI_V1_BUDGET(X) \
    X(budget, limit_picousd) X(budget, window_ms) X(budget, spent_picousd) \
    X(budget, window_left_ms) X(budget, refusals)

#define ABI_V1_FUNCTION_INFO(X) \
    X(function_info, name) X(function_info, kind) X(function_info, module) \
    X(function_info, symbol) X(function_info, config)

#define ABI_V1_GATEWAY_OPTIONS(X) \
    X(gateway_options, size) X(gateway_options, token) X(gateway_options, max_connections) \
    X(gateway_options, max_body) X(gateway_options, max_payload_sync) \
    X(gateway_options, max_payload_async) X(gateway_options, idle_timeout_ms) \
    X(gateway_options, body_timeout_ms) X(gateway_options, drain_timeout_ms) \
    X(gateway_options, threads) X(gateway_options, region) X(gateway_options, account) \
    X(gateway_options, header_timeout_ms) X(gateway_options, max_connections_per_address) \
    X(gateway_options, max_discard) X(gateway_options, event_done) \
    X(gateway_options, event_done_arg)

#define ABI_V1_SCHEDULE_OPTIONS(X) \
    X(schedule_options, size) X(schedule_options, time_zone) X(schedule_options, name) \
    X(schedule_options, account) X(schedule_options, region)

#define ABI_V1_WATCH_OPTIONS(X) \
    X(watch_options, size) X(watch_options, recursive) X(watch_options, events) \
    X(watch_options, prefix) X(watch_options, suffix) X(watch_options, existing) \
    X(watch_options, bucket) X(watch_options, region) X(watch_options, configuration_id)

#define ABI_V1_NATS_OPTIONS(X) \
    X(nats_options, size) X(nats_options, role) X(nats_options, publish_all) \
    X(nats_options, stream) X(nats_options, subject_prefix) X(nats_options, durable_prefix) \
    X(nats_options, functions) X(nats_options, replicas) X(nats_options, memory_storage) \
    X(nats_options, max_age_ms) X(nats_options, max_bytes) \
    X(nats_options, duplicate_window_ms) X(nats_options, ack_wait_ms) \
    X(nats_options, max_inflight) X(nats_options, fetch_batch) \
    X(nats_options, max_ack_pending) X(nats_options, retry_ms) \
    X(nats_options, result_timeout_ms) X(nats_options, name) \
    X(nats_options, result_deadline_ms)

#define ABI_V1_NATS_STATS(X) \
    X(nats_stats, published) X(nats_stats, republished) X(nats_stats, results) \
    X(nats_stats, duplicate_results) X(nats_stats, fetched) X(nats_stats, redelivered) \
    X(nats_stats, acked) X(nats_stats, naked) X(nats_stats, dead_letters) \
    X(nats_stats, in_progress) X(nats_stats, results_resent) \
    X(nats_stats, results_undelivered) X(nats_stats, reconnects)

#endif /* FAAS_TEST_ABI_V1_H */
