#!/bin/sh
# console_browser.sh - the web console of `faas serve` (GET /console) in a real browser:
# Debian's headless Chromium loads the page from a `faas serve` started here, with a token
# in the URL fragment and load applied first, and the DOM it dumps must show the functions
# of the file with their counters, version and idle instances, charts that moved (calls,
# duration, cold starts, concurrency against a limit), a Test-tab invoke (a deep link with
# &invoke=1) with its response and decoded log tail, and a Cost tab (#tab=cost) with a row
# per price preset, what was spent per function and tag, and the budgets; the page must log
# nothing to the browser console (a script error or a blocked fetch would). Screenshots,
# one per tab, are kept in tests/console_browser/ of the build directory. Skips, and says why, without the gateway,
# curl or Chromium (CHROMIUM names another binary).
. "$top_srcdir/tests/tap.sh"
cd "$top_builddir" || exit 1
if ! grep -q '^#define FAAS_HAVE_GATEWAY 1' config.h 2>/dev/null; then
    echo "1..0 # SKIP built without the HTTP gateway (libmicrohttpd)"
    exit 0
fi
chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$chromium" ] || [ ! -x "$chromium" ]; then
    echo "1..0 # SKIP no Chromium to drive (apt-get install chromium, or set CHROMIUM)"
    exit 0
fi
if ! command -v curl >/dev/null 2>&1; then
    echo "1..0 # SKIP curl is missing (apt-get install curl)"
    exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/faas-console.XXXXXX") || exit 1
art=$top_builddir/tests/console_browser
mkdir -p "$art"
rm -f "$art"/*.png
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    exec 3<&- 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

cat >"$tmp/functions.ini" <<EOF
[echo]
module = $FAAS_MODULE_DIR/echo.so
tag = team-a
max_concurrency = 4

[logs]
module = $FAAS_TEST_MODULES/mod_gateway.so
memory_mb = 256

[fail]
module = $FAAS_TEST_MODULES/mod_gateway.so
symbol = fail_logged

[budget team-a]
limit_usd = 0.01
window = 1h
EOF

# The server's first line says where it listens; it is read through a FIFO (no polling).
mkfifo "$tmp/out"
./tools/faas serve --no-spool --token console-tok --listen 127.0.0.1:0 "$tmp/functions.ini" \
    >"$tmp/out" 2>"$tmp/serve.err" &
pid=$!
exec 3<"$tmp/out"
read -r line <&3 || line=
case $line in
*serving*) url=${line##* on } ;;
*) not_ok "faas serve starts"; sed 's/^/# /' "$tmp/serve.err"; done_testing ;;
esac
ok "faas serve starts ($url)"

# Load first: 12 calls of echo, 2 failing calls of fail.
i=0
while [ $i -lt 12 ]; do
    curl -sf -o /dev/null -H 'Authorization: Bearer console-tok' \
        -d "{\"n\":$i}" "$url/2015-03-31/functions/echo/invocations" || break
    i=$((i + 1))
done
curl -s -o /dev/null -H 'Authorization: Bearer console-tok' -d '{}' \
    "$url/2015-03-31/functions/fail/invocations"
curl -s -o /dev/null -H 'Authorization: Bearer console-tok' -d '{}' \
    "$url/2015-03-31/functions/fail/invocations"
[ $i -eq 12 ] && ok "load applied" || not_ok "load applied (echo failed after $i calls)"

# browse NAME FRAGMENT [EXTRA...]: Chromium on /console#FRAGMENT, the DOM after the
# scripts ran (virtual time: its polls come at once) in $tmp/NAME.html, its log in .err.
browse() {
    name=$1 frag=$2
    shift 2
    timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --no-first-run \
        --disable-extensions --disable-background-networking --disable-sync \
        --user-data-dir="$tmp/profile-$name" --enable-logging=stderr --v=0 \
        --virtual-time-budget=8000 --window-size=1280,860 "$@" \
        "$url/console#$frag" >"$tmp/$name.html" 2>"$tmp/$name.err"
}
# has NAME TEXT: the dumped DOM of NAME contains TEXT (fixed string).
has() { grep -qF -- "$2" "$tmp/$1.html"; }
# The page's own console messages (CONSOLE lines of Chromium's log about this origin).
console_lines() { grep -F ':CONSOLE' "$tmp/$1.err" | grep -F "$url" ; }

event='%7B%22x%22%3A%201%7D'       # {"x": 1}
if browse test "token=console-tok&tab=test&fn=logs&event=$event&invoke=1" --dump-dom; then
    ok "chromium loads /console"
else
    not_ok "chromium loads /console"; sed 's/^/# /' "$tmp/test.err" | tail -20
fi
lines=$(console_lines test)
if [ -z "$lines" ]; then ok "no message on the browser console"
else not_ok "no message on the browser console"; printf '%s\n' "$lines" | sed 's/^/# /'; fi

# The functions of the file, with what the load did to them.
for f in echo fail logs; do
    has test "<tr data-function=\"$f\" class=\"fn\" tabindex=\"0\" aria-expanded=\"false\"><td>$f</td><td class=\"l\">module</td><td class=\"l\">\$LATEST</td>" &&
        ok "the table shows $f, its kind and version" ||
        not_ok "the table shows $f, its kind and version"
done
has test '<td class="l">team-a</td><td>128</td>' && has test '<td class="l"></td><td>256</td>' &&
    ok "tags and memory come from the file" || not_ok "tags and memory come from the file"
row=$(sed -n 's/.*\(<tr data-function="echo"[^>]*>.*\)/\1/p' "$tmp/test.html" | sed 's|</tr>.*||')
case $row in
*'<td>1</td><td>0</td><td class="idle">1</td><td class="inv">12</td><td>0</td><td>0</td><td>1</td>'*)
    ok "echo: 1 live, 0 busy, 1 idle, 12 calls, 0 errors, 0 throttles, 1 cold start" ;;
*) not_ok "echo: 1 live, 0 busy, 1 idle, 12 calls, 0 errors, 0 throttles, 1 cold start"
   echo "# $row" ;;
esac
row=$(sed -n 's/.*\(<tr data-function="fail"[^>]*>.*\)/\1/p' "$tmp/test.html" | sed 's|</tr>.*||')
case $row in
*'<td class="inv">2</td><td class="err">2</td>'*) ok "fail: 2 calls, 2 errors" ;;
*) not_ok "fail: 2 calls, 2 errors"; echo "# $row" ;;
esac
has test '<span id="status" class="ok">live' && ok "the state is polled with the token" ||
    not_ok "the state is polled with the token"

# The Test tab: the invoke of the deep link, its response and its log tail.
has test '<section id="test" class="on"' && ok "the Test tab is open" || not_ok "the Test tab is open"
has test '<span id="result-status" class="ok">succeeded' && ok "the invoke succeeded" ||
    not_ok "the invoke succeeded"
sed -n '/id="result-body"/,/<\/pre>/p' "$tmp/test.html" | grep -q '"x": 1' &&
    ok "the response is shown" || not_ok "the response is shown"
has test 'payload: {"x": 1}' && has test 'START RequestId: ' && has test 'END RequestId: ' &&
    ok "the decoded log tail is shown" || not_ok "the decoded log tail is shown"
sed -n '/id="result-report"/,/<\/pre>/p' "$tmp/test.html" | grep -q 'Billed Duration: ' &&
    ok "the REPORT figures are shown" || not_ok "the REPORT figures are shown"

# The charts. attr NAME ID ATTR: the value of ATTR on the element of id ID in NAME's DOM.
attr() {
    sed -n "s/.*<[a-z]* id=\"$2\"[^>]*\ $3=\"\([^\"]*\)\".*/\1/p" "$tmp/$1.html" | head -n 1
}
# positive V: V is a number above 0.
positive() { awk -v v="$1" 'BEGIN { exit !(v != "" && v + 0 > 0) }'; }
# The invoke above came between two polls, so the calls line rose.
peak=$(attr test chart data-peak) points=$(attr test line-inv data-points)
positive "$peak" && ok "the calls chart moved (peak $peak calls/s, $points points)" ||
    not_ok "the calls chart moved (peak '$peak' calls/s, $points points)"
# The durations are the quantiles since start: the echo calls of the load make a p99.
peak=$(attr test chart-duration data-peak-p99)
positive "$peak" && positive "$(attr test line-p99 data-points)" &&
    ok "the duration chart shows a p99 ($peak ms)" ||
    not_ok "the duration chart shows a p99 ('$peak' ms)"
# The invoke of logs was its first call: a cold start, all of that second's calls; the
# cold start of echo in the load gives an init p50.
peak=$(attr test chart-cold data-peak-share)
positive "$peak" && ok "the cold-start share rose ($peak %)" ||
    not_ok "the cold-start share rose ('$peak' %)"
peak=$(attr test chart-cold data-peak-init)
positive "$peak" && ok "the init p50 is drawn ($peak ms)" || not_ok "the init p50 is drawn ('$peak' ms)"
# Nothing was running at a poll (busy is 0, honestly), but instances live: the concurrency
# chart counts them, without a limit for every function together.
peak=$(attr test chart-busy data-peak-live)
positive "$peak" && [ "$(attr test chart-busy data-peak-busy)" = 0 ] && ! has test 'id="line-limit"' &&
    ok "the concurrency chart counts the live instances ($peak)" ||
    not_ok "the concurrency chart counts the live instances ('$peak')"

# One function (#filter=echo): its limit (max_concurrency = 4) as a dashed line; its row's
# detail (#open=echo) lists its idle instance, which served the 12 calls of the load.
browse echo "token=console-tok&filter=echo&open=echo" --dump-dom
[ "$(attr echo line-limit data-points)" != "" ] && [ "$(attr echo chart-busy data-peak-limit)" = 4 ] &&
    has echo 'stroke-dasharray' && ok "one function: its concurrency limit, dashed" ||
    not_ok "one function: its concurrency limit, dashed"
[ "$(attr echo chart-busy data-peak-live)" = 1 ] &&
    ok "one function: the charts are that function's (1 live instance of 3)" ||
    not_ok "one function: the charts are that function's ('$(attr echo chart-busy data-peak-live)' live)"
detail=$(sed -n 's/.*\(<tr class="detail" data-detail="echo">.*\)/\1/p' "$tmp/echo.html" |
         sed 's|</td></tr></tbody></table></td></tr>.*|</td></tr>|')
case $detail in
*'aria-expanded="true"'*) not_ok "echo's detail is open" ;;
*'<b>4</b>'*'calls served'*'<td>#1</td><td>'*' s</td><td>'*'</td><td>12</td></tr>'*)
    ok "echo's detail: its limit and its idle instance, age, idle time and 12 calls served" ;;
*) not_ok "echo's detail: its limit and its idle instance, age, idle time and 12 calls served"
   echo "# $detail" ;;
esac
lines=$(console_lines echo)
[ -z "$lines" ] && ok "one function: no message on the browser console" ||
    { not_ok "one function: no message on the browser console"; printf '%s\n' "$lines" | sed 's/^/# /'; }

# The Cost tab (#tab=cost): what GET /console/api/cost answers, shown.
curl -s -H 'Authorization: Bearer console-tok' "$url/console/api/cost" >"$tmp/cost.json"
browse cost "token=console-tok&tab=cost" --dump-dom
has cost '<section id="cost" class="on"' && ok "the Cost tab is open" || not_ok "the Cost tab is open"
lines=$(console_lines cost)
[ -z "$lines" ] && ok "cost: no message on the browser console" ||
    { not_ok "cost: no message on the browser console"; printf '%s\n' "$lines" | sed 's/^/# /'; }
# A row per price preset (faas_price_model(3)'s list), as many as the server priced.
presets=$(sed -n 's/^\.It \([a-z0-9-]*\) Ta \$.*/\1/p' "$top_srcdir/man/man3/faas_price_model.3")
npresets=$(printf '%s\n' "$presets" | grep -c .)
nserver=$(grep -o '"compute_usd"' "$tmp/cost.json" | wc -l)
nrows=$(grep -o ' data-model="' "$tmp/cost.html" | wc -l)
missing=
for p in $presets; do has cost " data-model=\"$p\"" || missing="$missing $p"; done
[ "$npresets" -ge 4 ] && [ "$nrows" -eq "$npresets" ] && [ "$nserver" -eq "$npresets" ] && [ -z "$missing" ] &&
    ok "the projection has a row per preset ($nrows rows, $nserver from the server, $npresets presets)" ||
    not_ok "the projection has a row per preset ($nrows rows, $nserver from the server, $npresets presets; missing:$missing)"
has cost 'Measured: <b>' && has cost 'Modelled: ' && has cost 'calls a month</b>' &&
    ok "the Cost tab says what is measured and what is modelled" ||
    not_ok "the Cost tab says what is measured and what is modelled"
has cost '<td>echo</td><td>12</td><td>$0.' && has cost '<td>team-a</td><td>12</td><td>$0.' &&
    ok "spent so far: echo's 12 calls, and its tag team-a" ||
    not_ok "spent so far: echo's 12 calls, and its tag team-a"
sed -n '/id="projfn-rows"/,/<\/tbody>/p' "$tmp/cost.html" | grep -q '<tr data-function="echo"><td>echo</td><td>\$' &&
    ok "the projection per function" || not_ok "the projection per function"
# The budget of the file: team-a's, with its bar, limit and window.
brow=$(sed -n '/id="budget-rows"/,/<\/tbody>/p' "$tmp/cost.html" | tr -d '\n')
case $brow in
*'<tr data-tag="team-a"><td>team-a</td>'*'role="progressbar"'*'$0.01'*'1 h'*) ok "the budgets card: team-a's budget from the file" ;;
*) not_ok "the budgets card: team-a's budget from the file"; echo "# $brow" | cut -c1-600 ;;
esac

# Without the token the page says how to give it, and shows nothing.
browse notoken "" --dump-dom
has notoken 'class="bad">HTTP 401: open this page as /console#token=' &&
    ! has notoken '<tr data-function=' && ok "no token: the page says how to give one" ||
    not_ok "no token: the page says how to give one"

# Screenshots, kept as artifacts.
browse shot1 "token=console-tok&open=echo" --window-size=1280,1100 --screenshot="$art/functions.png"
browse shot2 "token=console-tok&tab=test&fn=logs&event=$event&invoke=1" \
    --screenshot="$art/test.png"
browse shot3 "token=console-tok&tab=cost" --window-size=1280,1100 --screenshot="$art/cost.png"
for s in functions test cost; do
    if [ -s "$art/$s.png" ] && [ "$(head -c 4 "$art/$s.png" | od -An -c | tr -d ' ')" = '211PNG' ]; then
        ok "screenshot $art/$s.png"
    else
        not_ok "screenshot $art/$s.png"
    fi
done
done_testing
