#!/bin/sh
# cost_tool.sh - `faas cost`: the comparison table from a records file, --monthly,
# --model (a preset or a model file), --by, and its exit codes.
. "$top_srcdir/tests/tap.sh"
cd "$top_builddir" || exit 1
faas=./tools/faas
tmp=${TMPDIR:-/tmp}/faas-cost-$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

# One call of 120 ms at 512 MB, one cold call of another function, and a throttled one.
cat >"$tmp/calls.jsonl" <<'JSON'
{"request_id":"00000000-0000-4000-8000-000000000001","function":"resize","tag":"team-a","status":0,"cold":false,"attempt":1,"init_ns":0,"duration_ns":120000000,"cpu_ns":0,"billed_ms":120,"memory_mb":512,"max_memory_bytes":3145728,"cost_picousd":1200002}

{"request_id":"00000000-0000-4000-8000-000000000002","function":"resize","tag":"team-a","status":-9,"cold":false,"attempt":1,"init_ns":0,"duration_ns":0,"cpu_ns":0,"billed_ms":0,"memory_mb":512,"max_memory_bytes":0,"cost_picousd":0}
JSON

# 1,000,000 such calls on AWS x86: $0.20 + 60,000 GB-s x $0.0000166667 = $1.200002, all
# of it inside the free tier.
$faas cost --monthly 1M --model aws-lambda-x86 "$tmp/calls.jsonl" >"$tmp/out" 2>&1
rc=$?
if [ $rc -eq 0 ]; then ok "faas cost runs"; else not_ok "faas cost runs (rc $rc)"; sed 's/^/# /' "$tmp/out"; fi
row=$(grep '^aws-lambda-x86 ' "$tmp/out" | head -n 1)
case $row in
*"1,000,000"*"60,000.0"*'$0.20'*'$1.000002'*'-$1.200002'*'$0.00') ok "the issue's figure: \$0.20 + \$1.000002, free tier applied" ;;
*) not_ok "the issue's figure"; sed 's/^/# /' "$tmp/out" ;;
esac
check "2 records, 1 billed call" grep -q "2 records, 1 billed call of 1 function (1 tag)" "$tmp/out"

# Every preset by default; 10M calls leave something to pay on AWS: 9M requests ($1.80) +
# 200,000 GB-s over the free tier ($3.33334).
$faas cost --monthly 10000000 --by none "$tmp/calls.jsonl" >"$tmp/all" 2>&1
for m in aws-lambda-x86 aws-lambda-arm64 gcp-functions-gen1 gcp-cloud-run-functions \
         azure-consumption azure-flex cloudflare-workers; do
    if grep -q "^$m " "$tmp/all"; then ok "prices on $m"; else not_ok "prices on $m"; fi
done
check "AWS x86 at 10M calls a month is \$5.13334" sh -c "grep '^aws-lambda-x86 ' '$tmp/all' | grep -q ' \\\$5.13334\$'"
check "no CPU times: Cloudflare is flagged as estimated" grep -q '^cloudflare-workers .* \*$' "$tmp/all"
check "--by none prints no breakdown" sh -c "! grep -q '^By function' '$tmp/all'"

# A model file, and the breakdowns.
cat >"$tmp/dear.model" <<'MODEL'
base = aws-lambda-x86
name = aws-dear
request_per_million = 0.40
free_requests = 0
free_gb_seconds = 0
MODEL
$faas cost --monthly 1M --model "$tmp/dear.model" --model aws-lambda-arm64 "$tmp/calls.jsonl" >"$tmp/file" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q '^aws-dear .* \$1.400002$' "$tmp/file"; then ok "--model FILE: \$0.40 + \$1.000002"; else not_ok "--model FILE (rc $rc)"; sed 's/^/# /' "$tmp/file"; fi
check "by function" grep -q '^resize  *1,000,000  aws-dear' "$tmp/file"
check "by tag" grep -q '^team-a  *1,000,000  aws-dear' "$tmp/file"

$faas cost "$tmp/missing.jsonl" >/dev/null 2>&1; rc=$?
if [ $rc -eq 1 ]; then ok "a missing records file exits 1"; else not_ok "a missing records file exits 1 (got $rc)"; fi
echo '{"function": 12}' >"$tmp/bad.jsonl"
$faas cost "$tmp/bad.jsonl" >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc -eq 1 ] && grep -q "bad.jsonl:1" "$tmp/err"; then ok "a bad line is named"; else not_ok "a bad line (rc $rc)"; sed 's/^/# /' "$tmp/err"; fi
for args in "--monthly lots x" "--model nope x" "--by colour x" "" "a b"; do
    # shellcheck disable=SC2086
    $faas cost $args >/dev/null 2>&1; rc=$?
    if [ $rc -eq 2 ]; then ok "usage error exits 2: faas cost $args"; else not_ok "usage error exits 2: faas cost $args (got $rc)"; fi
done

# Progress on a terminal, over a large file: 200,000 records (about 50 MB).
awk 'BEGIN { for (i = 0; i < 200000; i++)
    printf "{\"request_id\":\"00000000-0000-4000-8000-%012d\",\"function\":\"fn%d\",\"tag\":\"team-%d\",\"status\":0,\"cold\":%s,\"attempt\":1,\"init_ns\":0,\"duration_ns\":%d,\"cpu_ns\":0,\"billed_ms\":%d,\"memory_mb\":512,\"max_memory_bytes\":3145728,\"cost_picousd\":1200002}\n",
        i, i % 7, i % 3, (i % 100 ? "false" : "true"), (i % 500 + 1) * 1000000, i % 500 + 1 }' >"$tmp/big.jsonl"
$faas cost "$tmp/big.jsonl" >"$tmp/big.plain" 2>"$tmp/big.err"; rc=$?
if [ $rc -eq 0 ] && [ ! -s "$tmp/big.err" ] && grep -q "200,000 records" "$tmp/big.plain"
then ok "no terminal: the table, and nothing on stderr"
else not_ok "no terminal (rc $rc)"; sed 's/^/# /' "$tmp/big.err"; fi
py=${PYTHON3:-python3}
if ! command -v "$py" >/dev/null 2>&1; then
    skip "progress on a terminal: python3 (for a pseudo-terminal) is not installed"
    skip "Ctrl-C on a terminal: python3 is not installed"
    done_testing
fi
pty="$py $top_srcdir/tests/pty_run.py"
$pty "$tmp/big.tty" "exec $faas cost '$tmp/big.jsonl' >'$tmp/big.table'"; rc=$?
if [ $rc -eq 0 ] && grep -q "big.jsonl: [0-9.]* MB read, [0-9,]* lines ([0-9]*%)" "$tmp/big.tty" &&
   grep -q "(100%)" "$tmp/big.tty" && grep -q "pricing 200,000 records" "$tmp/big.tty"
then ok "a terminal: the progress line, with a percent, up to 100%"
else not_ok "progress on a terminal (rc $rc)"; tr '\r' '\n' <"$tmp/big.tty" | tail -n 5 | sed 's/^/# /'; fi
if cmp -s "$tmp/big.table" "$tmp/big.plain"; then ok "a terminal: the same table"
else not_ok "a terminal: the same table"; diff "$tmp/big.plain" "$tmp/big.table" | head | sed 's/^/# /'; fi
# The line is erased: the terminal's last bytes are the erase sequence, not progress.
if [ "$(tail -c 4 "$tmp/big.tty" | od -An -c | tr -d ' ')" = '\r033[K' ]
then ok "a terminal: the progress line is erased at the end"
else not_ok "the progress line is erased"; tail -c 40 "$tmp/big.tty" | od -c | sed 's/^/# /'; fi
$pty "$tmp/bad.tty" "exec $faas cost '$tmp/bad.jsonl' >/dev/null"; rc=$?
if [ $rc -eq 1 ] && grep -q "bad.jsonl:1" "$tmp/bad.tty" && ! grep -q "/dev/fd" "$tmp/bad.tty"
then ok "a terminal: a bad line is named in the file, not in the pipe"
else not_ok "a bad line on a terminal (rc $rc)"; tr '\r' '\n' <"$tmp/bad.tty" | sed 's/^/# /'; fi

$pty --interrupt '%' "$tmp/int.tty" "exec $faas cost '$tmp/big.jsonl' >'$tmp/int.table'"; rc=$?
if [ $rc -eq 130 ] && [ ! -s "$tmp/int.table" ] && grep -q '%' "$tmp/int.tty"
then ok "Ctrl-C while loading: exit 130, no partial table"
else not_ok "Ctrl-C while loading (rc $rc)"; head -c 300 "$tmp/int.table" | sed 's/^/# /'; fi
done_testing
