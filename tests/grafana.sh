#!/bin/sh
# grafana.sh - examples/grafana/libfaas-dashboard.json cannot drift from the metrics: every
# metric a query names is a family faas_metrics_prometheus() exports (a _bucket only of a
# histogram), every label a query or legend uses is one those series carry, and every query
# is PromQL that Prometheus' own parser accepts (`promtool check rules`).
. "$top_srcdir/tests/tap.sh"
cd "$top_builddir" || exit 1
tmp=${TMPDIR:-/tmp}/faas-grafana-$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
board=$top_srcdir/examples/grafana/libfaas-dashboard.json
py=${PYTHON3:-/usr/bin/python3}
if [ ! -x "$py" ]; then skip "python3 is not installed"; done_testing; fi

if ./tests/metrics_dump prom >"$tmp/metrics" 2>"$tmp/err"; then ok "metrics_dump prom runs"
else not_ok "metrics_dump prom runs"; sed 's/^/# /' "$tmp/err"; fi

# One verdict per query ("ok|not_ok<TAB>what"), and the queries as recording rules for promtool.
"$py" - "$board" "$tmp/metrics" "$tmp/rules.yml" >"$tmp/verdicts" 2>"$tmp/err" <<'PY'
import json, re, sys
board, metrics, rules = sys.argv[1:4]
d = json.load(open(board))
types, labels = {}, {}
for line in open(metrics):
    m = re.match(r'# TYPE (\w+) (\w+)', line)
    if m:
        types[m.group(1)] = m.group(2)
        continue
    m = re.match(r'(\w+)(?:\{(.*)\})? ', line)
    if m and not line.startswith('#'):
        labels.setdefault(m.group(1), set()).update(re.findall(r'(\w+)="', m.group(2) or ''))
queries = [(p['title'] + (' [%s]' % t['legendFormat'] if t.get('legendFormat') else ''),
            t['expr'], t.get('legendFormat', ''))
           for p in d['panels'] for t in p['targets']]
queries += [('variable ' + v['name'], v['query']['query'], '') for v in d['templating']['list']]
n = 0
out = open(rules, 'w')
out.write('groups:\n- name: dashboard\n  rules:\n')
for i, (title, expr, legend) in enumerate(queries):
    bad = []
    names = set(re.findall(r'\b(faas_[a-z_]+)\b', expr))
    for name in names:
        fam = re.sub(r'_(bucket|sum|count)$', '', name)
        if name in types:
            continue
        if fam in types and types[fam] == 'histogram':
            continue
        bad.append('%s is not exported' % name)
    used = set(re.findall(r'(\w+)\s*(?:=~|!~|!=|=)\s*"', expr))
    for by in re.findall(r'\bby\s*\(([^)]*)\)', expr):
        used.update(x.strip() for x in by.split(',') if x.strip())
    used.update(re.findall(r'\{\{\s*(\w+)\s*\}\}', legend))
    m = re.match(r'label_values\(\s*\w+\s*,\s*(\w+)\s*\)', expr)
    if m:
        used.add(m.group(1))
    have = set()
    for name in names:
        have |= labels.get(name, set())
    for lab in sorted(used - have):
        bad.append('label %s is on none of %s' % (lab, ', '.join(sorted(names))))
    if not names:
        bad.append('names no faas_ metric')
    n += 1
    if bad:
        print('not_ok\t%s: %s' % (title, '; '.join(bad)))
    else:
        print('ok\t%s: its metrics and labels are exported' % title)
    if not expr.startswith('label_values'):
        e = expr.replace('$__rate_interval', '5m').replace('$function', '.*')
        out.write('  - record: dashboard:q%d\n    expr: %s\n' % (i, json.dumps(e)))
print('%s\tthe dashboard has %d queries (at least 10)' % ('ok' if n >= 10 else 'not_ok', n))
PY
[ $? -eq 0 ] || { not_ok "the dashboard parses as JSON of the expected shape"; sed 's/^/# /' "$tmp/err"; }
while IFS='	' read -r verdict what; do
    $verdict "$what"
done <"$tmp/verdicts"

promtool=${PROMTOOL:-$(command -v promtool)}
if [ -n "$promtool" ] && [ -x "$promtool" ]; then
    check "promtool parses every query" "$promtool" check rules "$tmp/rules.yml"
else
    skip "promtool is not installed (apt-get install prometheus)"
fi
done_testing
