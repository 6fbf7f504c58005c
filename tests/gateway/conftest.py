"""conftest.py - the gateway suite's fixtures (a `faas serve` on a free loopback port,
boto3 clients with retries off, FIFO gates) and its TAP output: every pytest case is one
TAP case, so the automake harness counts them (run with -s -p no:terminal, as
tests/gateway.sh does)."""
import os
import signal
import subprocess
import sys
import tempfile
import threading

import pytest

# ---- TAP ------------------------------------------------------------------------------------

_tap = {"n": 0}


def _emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _comment(text):
    for line in str(text).splitlines():
        _emit("# " + line)


def pytest_runtest_logreport(report):
    name = report.nodeid.split("::", 1)[-1]
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _tap["n"] += 1
        n = _tap["n"]
        if report.passed:
            _emit("ok %d - %s" % (n, name))
        elif report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
            _emit("ok %d - %s # SKIP %s" % (n, name, reason))
        else:
            _emit("not ok %d - %s%s" % (n, name, " (setup)" if report.when == "setup" else ""))
            _comment(report.longreprtext)
    elif report.when == "teardown" and report.failed:
        _tap["n"] += 1
        _emit("not ok %d - %s (teardown)" % (_tap["n"], name))
        _comment(report.longreprtext)


def pytest_collectreport(report):
    if report.failed:
        _tap["n"] += 1
        _emit("not ok %d - collecting %s" % (_tap["n"], report.nodeid or "the suite"))
        _comment(report.longreprtext)


def pytest_sessionfinish(session, exitstatus):
    _emit("1..%d" % _tap["n"])


# ---- the server -------------------------------------------------------------------------------

BUILD = os.environ.get("top_builddir", ".")
FAAS = os.path.join(BUILD, "tools", "faas")
MODULES = os.environ.get("FAAS_MODULE_DIR", os.path.join(BUILD, "examples/modules/.libs"))
TEST_MODULES = os.environ.get("FAAS_TEST_MODULES", os.path.join(BUILD, "tests/modules/.libs"))
AWS = "/usr/bin/aws"
# FAAS_TEST_WRAPPER runs `faas serve` under a tool, e.g. "valgrind -q --error-exitcode=99"
# (the server's exit status is checked, so the tool's verdict counts).
WRAPPER = os.environ.get("FAAS_TEST_WRAPPER", "").split()

FUNCTIONS = """\
# the gateway suite's functions
[echo]
module = {modules}/echo.so

[logs]
module = {tests}/mod_gateway.so

[fail]
module = {tests}/mod_gateway.so
symbol = fail_logged

[hold]
module = {tests}/mod_gateway.so
timeout_ms = 600000
max_concurrency = 1
"""


class Server:
    """A `faas serve` process; .url once it is listening."""

    def __init__(self, functions, args=(), env=None):
        self.dir = tempfile.mkdtemp(prefix="faas-gw-")
        self.file = os.path.join(self.dir, "functions.ini")
        with open(self.file, "w") as f:
            f.write(functions)
        self.gate = os.path.join(self.dir, "gate")
        os.mkfifo(self.gate + ".started")
        os.mkfifo(self.gate + ".release")
        e = dict(os.environ)
        e["FAAS_TEST_GATE"] = self.gate
        e.pop("FAAS_GATEWAY_TOKEN", None)
        e.update(env or {})
        self.proc = subprocess.Popen(
            [*WRAPPER, FAAS, "serve", "--listen", "127.0.0.1:0", *args, self.file],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e, text=True)
        line = self.proc.stdout.readline()
        if "serving" not in line:
            self.proc.kill()
            raise RuntimeError("faas serve did not start: %r %s" % (line, self.proc.stderr.read()))
        self.url = line.split(" on ", 1)[1].strip()
        self.port = int(self.url.rsplit(":", 1)[1])

    def stop(self, sig=signal.SIGTERM):
        """Signal it and wait: its exit status and stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return self.proc.returncode, err


def in_thread(fn, timeout=30):
    """Run fn in a thread and wait at most timeout seconds: a hung gate fails the test."""
    out = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as e:  # reported to the test
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise AssertionError("timed out after %ss" % timeout)
    if "error" in out:
        raise out["error"]
    return out.get("value")


class Gate:
    """The hold function's two FIFOs: wait until it runs, then let it go."""

    def __init__(self, server):
        self.base = server.gate

    def wait_started(self):
        def read():
            with open(self.base + ".started", "rb") as f:
                return f.read(1)
        assert in_thread(read) == b"s"

    def release(self):
        def write():
            with open(self.base + ".release", "wb") as f:
                f.write(b"r")
        in_thread(write)


def functions_text():
    return FUNCTIONS.format(modules=MODULES, tests=TEST_MODULES)


@pytest.fixture(scope="session")
def server():
    s = Server(functions_text())
    yield s
    rc, err = s.stop()
    assert rc == 0, err


@pytest.fixture(scope="session")
def token_server():
    s = Server(functions_text(), env={"FAAS_GATEWAY_TOKEN": "s3cret-token"})
    yield s
    rc, err = s.stop()
    assert rc == 0, err


@pytest.fixture
def gate(server):
    return Gate(server)


# The token of the servers whose tests change functions (code, versions, aliases): a
# gateway without one refuses those calls (any local process, a function's included, could
# reach it).
CONTROL_TOKEN = "control-token"


def client(url, key="x", **config):
    import boto3
    from botocore.config import Config
    config.setdefault("retries", {"max_attempts": 0})
    return boto3.client("lambda", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key="x",
                        config=Config(**config))


@pytest.fixture(scope="session")
def lam(server):
    return client(server.url)


def aws_cli(url, *args, env=None):
    """Run /usr/bin/aws lambda ... against url with fake keys and no config file."""
    e = dict(os.environ)
    e.update({"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
              "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
              "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": ""})
    e.update(env or {})
    return subprocess.run([AWS, "lambda", *args, "--endpoint-url", url],
                          capture_output=True, text=True, env=e, timeout=120)
