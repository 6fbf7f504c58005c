#!/bin/sh
# prometheus.sh - the metrics exports pass the real parsers: `promtool check metrics` (the
# Prometheus project's own linter; Debian package prometheus) on faas_metrics_prometheus(),
# and python3's json module on faas_metrics_json(). A missing tool is a reported skip.
. "$top_srcdir/tests/tap.sh"
cd "$top_builddir" || exit 1
tmp=${TMPDIR:-/tmp}/faas-prom-$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
dump=./tests/metrics_dump

if $dump prom >"$tmp/metrics" 2>"$tmp/err"; then ok "metrics_dump prom runs"; else not_ok "metrics_dump prom runs"; sed 's/^/# /' "$tmp/err"; fi
promtool=${PROMTOOL:-$(command -v promtool)}
if [ -n "$promtool" ] && [ -x "$promtool" ]; then
    if out=$("$promtool" check metrics <"$tmp/metrics" 2>&1); then
        ok "promtool check metrics accepts the exposition"
    else
        not_ok "promtool check metrics accepts the exposition"
        printf '%s\n' "$out" | sed 's/^/# /'
    fi
else
    skip "promtool is not installed (apt-get install prometheus)"
fi
for fam in faas_invocations_total faas_cold_starts_total faas_cost_dollars_total \
           faas_retries_total faas_dead_letters_total faas_billed_byte_seconds_total \
           faas_duration_seconds faas_init_duration_seconds faas_queue_wait_seconds \
           faas_instances_live faas_budget_spent_dollars; do
    if grep -q "^# TYPE $fam " "$tmp/metrics"; then ok "exports $fam"; else not_ok "exports $fam"; fi
done
check "a tag with quotes and a backslash is escaped" \
    grep -qF 'faas_cost_dollars_total{function="ok",tag="team \"a\"\\north"}' "$tmp/metrics"
check "a timeout is counted by status" \
    grep -q '^faas_invocations_total{function="slow",status="timeout"} 1$' "$tmp/metrics"
check "a budget refusal is counted by status" \
    grep -q '^faas_invocations_total{function="slow",status="budget"} 1$' "$tmp/metrics"
check "throttles are counted by status" \
    grep -q '^faas_invocations_total{function="nest",status="throttled"} 1$' "$tmp/metrics"
check "histograms end with +Inf, _sum and _count" \
    grep -q '^faas_duration_seconds_bucket{function="ok",le="+Inf"} 55$' "$tmp/metrics"

if $dump json >"$tmp/json" 2>"$tmp/err"; then ok "metrics_dump json runs"; else not_ok "metrics_dump json runs"; sed 's/^/# /' "$tmp/err"; fi
py=${PYTHON3:-/usr/bin/python3}
if [ -x "$py" ]; then
    check "python3 parses the JSON export" "$py" -c '
import json, sys
m = json.load(open(sys.argv[1]))
fns = {f["name"]: f for f in m["functions"]}
assert fns["ok"]["invocations"] == 55, fns["ok"]["invocations"]
assert fns["ok"]["tag"] == "team \"a\"\\north"
assert fns["broken"]["retries"] == 1 and fns["broken"]["dead_letters"] == 1
assert fns["slow"]["status"]["timeout"] == 1 and fns["slow"]["status"]["budget"] == 1
assert fns["ok"]["queue_wait_ms"]["count"] == 5
assert {b["tag"] for b in m["budgets"]} == {"slow", "team \"a\"\\north"}
' "$tmp/json"
else
    skip "python3 is not installed"
fi
done_testing
