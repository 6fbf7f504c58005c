"""test_process_functions.py - process functions (runtime = provided in the functions file)
through `faas serve`, with boto3 and the aws CLI: AWS's tutorial custom runtime
(tests/runtime/bootstrap + function.sh, unchanged) answering; LogType=Tail; the error paths
(a runtime that exits mid-call, a runtime posting to /error) as FunctionError Unhandled with
the runtime's errorType; REPORT lines and cost records of the same form as a module's; and
max_concurrency = 4 running 4 processes, the 5th call throttled, no process left once the
server stops."""
import base64
import json
import os
import re
import shutil
import tempfile
import threading
import urllib.request

import pytest

from conftest import MODULES, Server, aws_cli, client, in_thread

SRC = os.path.abspath(os.environ.get("top_srcdir", ".."))   # the runtimes run elsewhere
BOOTSTRAP = os.path.join(SRC, "tests", "runtime", "bootstrap")

# A runtime of our own that answers every call through /error, with curl: the error type
# is the event's text (a JSON string, its quotes dropped).
ERRBOOT = r"""API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  H=$(mktemp)
  EVENT=$(curl -sS -D "$H" "$API/invocation/next" | tr -d '"')
  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$H" | tr -d '[:space:]' | cut -d: -f2)
  curl -sS -X POST "$API/invocation/$ID/error" \
    -H 'Lambda-Runtime-Function-Error-Type: Unhandled' \
    -d "{\"errorMessage\":\"refused $EVENT\",\"errorType\":\"$EVENT\"}" >/dev/null
done
"""

HANDLERS = {
    "fail.sh": "function handler () {\n  exit 3\n}\n",
    # says it started (one line through the FIFO), waits for the gate file, answers its
    # instance's PID namespace (its /proc is that namespace's, where the runtime's $$ is
    # 2): one per instance
    "block.sh": "function handler () {\n"
                "  ns=$(readlink /proc/self/ns/pid)\n"
                "  echo $ns > \"$TMPDIR/started\"\n"
                "  while [ ! -e \"$TMPDIR/gate\" ]; do sleep 0.01; done\n  echo $ns\n}\n",
}

FUNCTIONS = """\
[echo]
module = {modules}/echo.so

[tutorial]
runtime = provided
command = bash {bootstrap}
handler = function.handler
cwd = {dir}
writable = {dir}

[environment tutorial]
TMPDIR = {dir}

[crashes]
runtime = provided.al2023
command = bash {bootstrap}
handler = fail.handler
cwd = {dir}
writable = {dir}

[environment crashes]
TMPDIR = {dir}

[errors]
runtime = provided
command = bash {dir}/errboot
cwd = {dir}
writable = {dir}

[environment errors]
TMPDIR = {dir}

[block]
runtime = provided
command = bash {bootstrap}
handler = block.handler
max_concurrency = 4
timeout_ms = 60000
cwd = {dir}
writable = {dir}

[environment block]
TMPDIR = {dir}
"""


def make_dir():
    d = tempfile.mkdtemp(prefix="faas-proc-")
    os.chmod(d, 0o1777)  # the runtime runs as nobody when the tests run as root
    shutil.copy(os.path.join(SRC, "tests", "runtime", "function.sh"), d)
    for name, text in HANDLERS.items():
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    with open(os.path.join(d, "errboot"), "w") as f:
        f.write(ERRBOOT)
    os.mkfifo(os.path.join(d, "started"))
    os.chmod(os.path.join(d, "started"), 0o666)  # the runtime's user writes it
    return d


def start(d):
    """A server of FUNCTIONS whose process functions run in d (the handlers' directory)."""
    text = FUNCTIONS.format(modules=MODULES, bootstrap=BOOTSTRAP, dir=d)
    return Server(text)


@pytest.fixture(scope="module")
def pserver():
    d = make_dir()
    s = start(d)
    yield s, d
    rc, err = s.stop()
    shutil.rmtree(d, ignore_errors=True)
    assert rc == 0, err


def check(cond, *why):
    """assert, saying why (pytest's own explanation needs its terminal plugin, which the
    TAP run turns off)."""
    if not cond:
        raise AssertionError(" | ".join(repr(w) for w in why))


def tail(r):
    return base64.b64decode(r["LogResult"]).decode()


ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def form(line):
    """A REPORT line's form: its request id and numbers replaced."""
    return re.sub(r"\d+(\.\d+)?", "N", re.sub(ID, "ID", line))


def report(log):
    lines = [l for l in log.splitlines() if l.startswith("REPORT ")]
    assert len(lines) == 1, log
    return lines[0]


def test_boto3_tutorial_runtime_answers(pserver):
    s, d = pserver
    lam = client(s.url)
    r = lam.invoke(FunctionName="tutorial", Payload=b'{"text":"Hello"}', LogType="Tail")
    assert r["StatusCode"] == 200 and "FunctionError" not in r
    assert r["Payload"].read() == b"Echoing request: '{\"text\":\"Hello\"}'"
    rid = r["ResponseMetadata"]["RequestId"]
    log = tail(r).splitlines()
    assert log[0] == "START RequestId: %s Version: $LATEST" % rid
    assert log[-2] == "END RequestId: %s" % rid
    assert log[-1].startswith("REPORT RequestId: %s\tDuration: " % rid)
    assert "\tInit Duration: " in log[-1]               # the cold start: spawn + INIT
    # what the handler printed (function.sh echoes the event to stderr): this call's
    assert '{"text":"Hello"}' in log[1:-2], log
    r = lam.invoke(FunctionName="tutorial", Payload=b'"warm"', LogType="Tail")
    assert r["Payload"].read() == b"Echoing request: '\"warm\"'"
    log = tail(r)
    assert "Init Duration" not in report(log)
    lines = log.splitlines()
    assert '"warm"' in lines and '{"text":"Hello"}' not in lines, log
    assert '{"status":"OK"}' not in log                 # curl's, after the answer: no call's


def test_report_lines_have_a_modules_form(pserver):
    s, _ = pserver
    lam = client(s.url)
    # cold, then warm, for each: the module's lines and the process function's, the same
    # but for the numbers and ids
    for fn in ("echo", "tutorial"):
        lam.invoke(FunctionName=fn, Payload=b"{}")      # whichever is first, both are warm
    m = report(tail(lam.invoke(FunctionName="echo", Payload=b"{}", LogType="Tail")))
    p = report(tail(lam.invoke(FunctionName="tutorial", Payload=b"{}", LogType="Tail")))
    check(re.fullmatch(r"REPORT RequestId: ID\tDuration: N ms\tBilled Duration: N ms\t"
                       r"Memory Size: N MB\tMax Memory Used: N MB\t", form(m)), m)
    check(form(p) == form(m), p, m)
    check(not p.endswith("Max Memory Used: 0 MB\t"), p)   # the runtime's own VmHWM


def test_cost_records_have_a_modules_form(pserver):
    s, _ = pserver
    lam = client(s.url)
    lam.invoke(FunctionName="echo", Payload=b"{}")
    lam.invoke(FunctionName="tutorial", Payload=b"{}")
    with urllib.request.urlopen(s.url + "/console/api/state", timeout=30) as resp:
        state = json.loads(resp.read())

    def find(obj, name):
        if isinstance(obj, dict):
            if obj.get("name") == name and "cost" in obj:
                return obj
            for v in obj.values():
                got = find(v, name)
                if got is not None:
                    return got
        elif isinstance(obj, list):
            for v in obj:
                got = find(v, name)
                if got is not None:
                    return got
        return None

    def shape(obj):
        if isinstance(obj, dict):
            return {k: shape(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [shape(v) for v in obj[:1]]
        return type(obj).__name__

    m, p = find(state, "echo"), find(state, "tutorial")
    check(m is not None and p is not None, state)
    check(shape(m) == shape(p), m, p)
    assert p["invocations"] >= 1 and p["cold_starts"] >= 1
    assert p["cost"]["total_picousd"] > 0 and p["cost"]["compute_picousd"] > 0


def test_boto3_runtime_exit_is_unhandled(pserver):
    s, _ = pserver
    lam = client(s.url)
    r = lam.invoke(FunctionName="crashes", Payload=b"{}", LogType="Tail")
    assert r["StatusCode"] == 200
    assert r["FunctionError"] == "Unhandled"
    body = json.loads(r["Payload"].read())
    assert body["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in body["errorMessage"]
    assert "REPORT RequestId" in tail(r)


def test_boto3_error_route_gives_the_runtimes_error_type(pserver):
    s, _ = pserver
    lam = client(s.url)
    r = lam.invoke(FunctionName="errors", Payload=b'"InvalidEventDataException"')
    assert r["FunctionError"] == "Unhandled"
    body = json.loads(r["Payload"].read())
    assert body == {"errorMessage": "refused InvalidEventDataException",
                    "errorType": "InvalidEventDataException"}


def test_cli_invokes_a_process_function(pserver, tmp_path):
    s, _ = pserver
    out = tmp_path / "out"
    r = aws_cli(s.url, "invoke", "--function-name", "tutorial", "--cli-binary-format",
                "raw-in-base64-out", "--payload", '{"from":"cli"}', "--log-type", "Tail",
                str(out))
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["StatusCode"] == 200 and "FunctionError" not in got
    assert out.read_text() == "Echoing request: '{\"from\":\"cli\"}'"
    assert re.search(r"^REPORT RequestId: %s\tDuration: " % ID,
                     base64.b64decode(got["LogResult"]).decode(), re.M)
    r = aws_cli(s.url, "invoke", "--function-name", "crashes", str(out))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["FunctionError"] == "Unhandled"
    assert json.loads(out.read_text())["errorType"] == "Runtime.ExitError"


def function_processes(name, marker):
    """How many live processes of the process function name there are whose environment
    also has marker (its TMPDIR: this test's, where another program running at the same
    time may have a function of that name; a zombie's environment is empty)."""
    want = {b"AWS_LAMBDA_FUNCTION_NAME=" + name.encode(), marker.encode()}
    n = 0
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % e, "rb") as f:
                n += want <= set(f.read().split(b"\0"))
        except OSError:
            continue
    return n


def test_four_processes_fifth_throttled_none_left():
    d = make_dir()
    s = start(d)
    lam = client(s.url, read_timeout=120)
    got = [None] * 4
    threads = []
    stopped = False
    try:
        for i in range(4):
            def call(i=i):
                got[i] = lam.invoke(FunctionName="block", Payload=b"{}")
            t = threading.Thread(target=call)
            t.start()
            threads.append(t)

        def four_started():
            lines = 0
            while lines < 4:
                with open(os.path.join(d, "started"), "rb") as f:   # blocks for a writer
                    lines += f.read().count(b"\n")
            return lines
        assert in_thread(four_started, timeout=60) == 4
        with pytest.raises(lam.exceptions.TooManyRequestsException) as e:
            lam.invoke(FunctionName="block", Payload=b"{}")
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        open(os.path.join(d, "gate"), "w").close()
        for t in threads:
            t.join(60)
        spaces = []
        for r in got:
            assert r is not None and r["StatusCode"] == 200 and "FunctionError" not in r
            spaces.append(r["Payload"].read())
        assert all(b"pid:[" in ns for ns in spaces)
        assert len(set(spaces)) == 4                        # four instances
        assert function_processes("block", "TMPDIR=" + d) >= 4     # kept warm
        rc, err = s.stop()
        stopped = True
        assert rc == 0, err
        assert function_processes("block", "TMPDIR=" + d) == 0     # and none left behind
    finally:
        if not stopped:
            open(os.path.join(d, "gate"), "w").close()
            s.stop()
        shutil.rmtree(d, ignore_errors=True)
