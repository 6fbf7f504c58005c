"""test_nats_serve.py - `faas serve --nats URL` and `faas worker --nats URL FILE` with a real
nats-server (JetStream) on a free loopback port: an Event call made with boto3 to the
gateway is published to the stream and run by the worker process, which registered its
functions from a functions file. Skipped when the build has no NATS or the machine no
nats-server."""
import os
import socket
import subprocess
import tempfile

import pytest

from conftest import BUILD, FAAS, TEST_MODULES, Gate, Server, client, in_thread

NATS_SERVER = os.environ.get("NATS_SERVER", "/usr/sbin/nats-server")


def have_nats():
    try:
        with open(os.path.join(BUILD, "config.h")) as f:
            built = "#define FAAS_HAVE_NATS 1" in f.read()
    except OSError:
        built = False
    return built and os.access(NATS_SERVER, os.X_OK)


pytestmark = pytest.mark.skipif(not have_nats(), reason="no NATS in this build or no nats-server")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NatsServer:
    """nats-server -js on 127.0.0.1 with max_payload raised, in its own directory."""

    def __init__(self, auth=None):
        self.dir = tempfile.mkdtemp(prefix="faas-nats-")
        self.port = free_port()
        self.url = "nats://%s127.0.0.1:%d" % ("%s:%s@" % auth if auth else "", self.port)
        conf = os.path.join(self.dir, "server.conf")
        with open(conf, "w") as f:
            f.write("listen: 127.0.0.1:%d\nmax_payload: 8MB\njetstream {\n"
                    "  store_dir: \"%s/js\"\n  max_memory_store: 64MB\n"
                    "  max_file_store: 256MB\n}\n" % (self.port, self.dir))
            if auth:
                f.write("authorization {\n  user: %s\n  password: %s\n}\n" % auth)
        self.proc = subprocess.Popen([NATS_SERVER, "-c", conf], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)

        def ready():
            for line in self.proc.stdout:
                if "Server is ready" in line:
                    return True
            return False
        assert in_thread(ready, timeout=20), "nats-server did not start"

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def test_event_call_runs_on_a_worker_process():
    nats = NatsServer()
    gate_dir = tempfile.mkdtemp(prefix="faas-gate-")
    gate = os.path.join(gate_dir, "gate")
    os.mkfifo(gate + ".started")
    os.mkfifo(gate + ".release")
    fns = os.path.join(gate_dir, "worker.ini")
    with open(fns, "w") as f:
        f.write("[work]\nmodule = %s/mod_gateway.so\nsymbol = hold\ntimeout_ms = 30000\n"
                % TEST_MODULES)
    env = dict(os.environ, FAAS_TEST_GATE=gate)
    worker = subprocess.Popen([FAAS, "worker", "--nats", nats.url, "--concurrency", "1", fns],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env)
    try:
        line = in_thread(worker.stdout.readline, timeout=30)
        assert "ready: 1 function from " + nats.url in line, line + worker.stderr.read()
        # The gateway's host has the function too (a 404 is decided here) but never runs
        # its Event calls: a hold there would block on a gate nobody opens.
        s = Server("[work]\nmodule = %s/mod_gateway.so\nsymbol = hold\n" % TEST_MODULES,
                   args=("--nats", nats.url))
        try:
            lam = client(s.url)
            r = lam.invoke(FunctionName="work", InvocationType="Event", Payload=b'{"n":1}')
            assert r["StatusCode"] == 202
            g = Gate(s)
            g.base = gate                      # the worker's gate, not the server's
            g.wait_started()                   # the worker process runs the call
            g.release()
        finally:
            rc, err = s.stop()
            assert rc == 0, err
        # The call was in the spool until the stream stored it, not after.
        from test_spool import spool_live
        assert spool_live(s.file + ".spool") == set()
    finally:
        worker.terminate()
        out, err = worker.communicate(timeout=30)
        nats.stop()
    assert worker.returncode == 0, err
    assert "fetched 1," in out and "acked 1," in out, out


def cmdline(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return f.read()


def test_nats_credentials_are_not_shown():
    """A NATS URL's password is wiped from `faas worker`'s and `faas serve`'s command lines
    (/proc/PID/cmdline: every process of the machine may read it, functions included) and
    left out of what they print; they still connect with it."""
    nats = NatsServer(auth=("faas", "nats-secret-0451"))
    d = tempfile.mkdtemp(prefix="faas-natspw-")
    fns = os.path.join(d, "worker.ini")
    with open(fns, "w") as f:
        f.write("[work]\nmodule = %s/mod_gateway.so\nsymbol = hold\n" % TEST_MODULES)
    worker = subprocess.Popen([FAAS, "worker", "--nats", nats.url, "--concurrency", "1", fns],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = in_thread(worker.stdout.readline, timeout=30)
        assert "ready: 1 function from nats://*********************@127.0.0.1:" in line, line
        assert b"nats-secret-0451" not in cmdline(worker.pid)
        s = Server("[work]\nmodule = %s/mod_gateway.so\nsymbol = hold\n" % TEST_MODULES,
                   args=("--nats", nats.url))
        try:
            assert b"nats-secret-0451" not in cmdline(s.proc.pid)
            assert b"nats://*" in cmdline(s.proc.pid)
        finally:
            rc, err = s.stop()
            assert rc == 0, err
        # a wrong password: the error names the server, not the password
        bad = subprocess.run([FAAS, "worker", "--nats", nats.url.replace("0451", "0452"),
                              fns], capture_output=True, text=True, timeout=60)
        assert bad.returncode != 0
        assert "cannot connect to nats://****" in bad.stderr, bad.stderr
        assert "nats-secret" not in bad.stderr + bad.stdout
    finally:
        worker.terminate()
        worker.communicate(timeout=30)
        nats.stop()
