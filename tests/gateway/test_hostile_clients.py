"""test_hostile_clients.py - `faas serve` against clients that do not play along: the AWS SDK
for JavaScript v3, which writes a whole body before it reads an answer given from the headers;
500 slow (slowloris) connections from several loopback addresses while a well-behaved client
measures its latency; the per-address connection limit. Loopback only, bounded in count
and time."""
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import Server, functions_text

SRC = os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "..", ".."))
NPM_DIR = os.path.join(SRC, "tests", "npm")


def note(text):
    """A TAP comment: shows in tests/gateway.sh.log."""
    for line in str(text).splitlines():
        sys.stdout.write("# " + line + "\n")
    sys.stdout.flush()


# ---- the AWS SDK for JavaScript v3 ---------------------------------------------------------

def _node_or_skip():
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("node is not installed (apt-get install nodejs npm, then ./quickstart "
                    "installs tests/npm)")
    major = subprocess.run([node, "-p", "process.versions.node.split('.')[0]"],
                           capture_output=True, text=True).stdout.strip()
    if not major.isdigit() or int(major) < 20:
        pytest.skip("node %s is older than 20, which @aws-sdk/client-lambda needs" % major)
    if not os.path.isdir(os.path.join(NPM_DIR, "node_modules", "@aws-sdk", "client-lambda")):
        pytest.skip("@aws-sdk/client-lambda is not installed in tests/npm (./quickstart runs "
                    "npm ci there)")
    return node


def test_js_sdk_gets_answers_given_before_the_body():
    """404 for a 2 MB payload and 413 for a 6 MB + 1 byte one (and an Event of 1 MB + 1) are
    decided from the headers; the SDK writes its whole body before reading, so each answer
    must wait for the body (read and discarded). Every call gets the modelled error, in one
    HTTP request: no EPIPE, no retry."""
    node = _node_or_skip()
    s = Server(functions_text())
    try:
        env = dict(os.environ, NODE_NO_WARNINGS="1", AWS_CONFIG_FILE="/dev/null",
                   AWS_SHARED_CREDENTIALS_FILE="/dev/null")
        r = subprocess.run([node, os.path.join(NPM_DIR, "lambda_early_answers.js"), s.url, "20"],
                           capture_output=True, text=True, env=env, timeout=300)
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        note("@aws-sdk/client-lambda %s on node %s" % (out["sdk"], out["node"]))
        want = {"not_found_2mb": "ResourceNotFoundException",
                "too_large_sync": "RequestEntityTooLargeException",
                "too_large_event": "RequestEntityTooLargeException",
                "ok_1mb": "ok"}
        for res in out["results"]:
            note("%s: %s, %d attempts, %d HTTP requests for %d calls" % (
                res["name"], res["outcomes"], res["attempts"], res["requests"], res["calls"]))
        for res in out["results"]:
            ok = res["outcomes"] == {want[res["name"]]: res["calls"]} and \
                res["attempts"] == res["calls"] and res["requests"] == res["calls"]
            assert ok, "%s: %s" % (res["name"], res)
    finally:
        rc, err = s.stop()
        assert rc == 0, err


# ---- slow clients ------------------------------------------------------------------------------

PARTIAL = (b"POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           b"Content-Length: 2\r\n")


class Slowloris:
    """`count` connections spread over `addrs`, each sending its request line and a header,
    then one more header line every `every` seconds and never the end of the headers. A
    connection the server closes is opened again, so the pressure stays."""

    def __init__(self, port, addrs, count, every=0.5):
        self.port, self.addrs, self.count, self.every = port, addrs, count, every
        self.socks = [None] * count
        self.opened = self.cut = self.refused = 0
        self.stop = threading.Event()
        self.ready = threading.Event()         # every connection opened once
        self.warm = threading.Event()          # and two rounds of trickle (and reopening) done
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self, i):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((self.addrs[i % len(self.addrs)], 0))
            s.settimeout(5)
            s.connect(("127.0.0.1", self.port))
            s.sendall(PARTIAL)
            s.setblocking(False)
            self.socks[i] = s
            self.opened += 1
        except OSError:
            s.close()
            self.socks[i] = None
            self.refused += 1

    def _run(self):
        for i in range(self.count):
            if self.stop.is_set():
                return
            self._open(i)
        self.ready.set()
        n = 0
        while not self.stop.wait(self.every):     # the attacker's pace, not a synchronisation
            n += 1
            for i, s in enumerate(self.socks):
                if self.stop.is_set():
                    break
                alive = s is not None
                if alive:
                    try:
                        if s.recv(4096) == b"":
                            alive = False       # closed by the server
                    except BlockingIOError:
                        pass
                    except OSError:
                        alive = False
                if alive:
                    try:
                        s.send(b"X-Slow-%d: b\r\n" % n)
                    except BlockingIOError:
                        pass
                    except OSError:
                        alive = False
                if not alive:
                    if s is not None:
                        s.close()
                        self.cut += 1
                    self._open(i)
            if n == 2:
                self.warm.set()

    def __enter__(self):
        self.thread.start()
        assert self.ready.wait(120) and self.warm.wait(120), "the attack did not start"
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(60)
        for s in self.socks:
            if s is not None:
                s.close()


def good_call(port, i, timeout):
    """One Invoke on a new connection from 127.0.0.1: (latency in seconds, None), or
    (None, what went wrong)."""
    t0 = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError as e:
        return None, "connect: %r" % e
    got = b""
    try:
        body = b'{"i":%d}' % i
        s.sendall(b"POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
    except OSError as e:
        return None, "after %.3f s, %r (got %r)" % (time.monotonic() - t0, e, got[:40])
    finally:
        s.close()
    if not got.startswith(b"HTTP/1.1 200 ") or not got.endswith(body):
        return None, "after %.3f s, got %r" % (time.monotonic() - t0, got[:60])
    return time.monotonic() - t0, None


def percentile(xs, p):
    xs = sorted(xs)
    return xs[max(0, math.ceil(p / 100.0 * len(xs)) - 1)]  # nearest rank


def test_slowloris_does_not_starve_a_good_client():
    """500 connections from 127.0.0.2-6 trickle headers and never finish them, and reopen
    at once what the server cuts; a client on 127.0.0.1 makes 200 calls, each on a new
    connection, while they do. With the defaults, every call is answered, quickly.
    (Before: the 256 slots were full and the good client waited in the listen queue until
    the 30 s header deadline freed one.)"""
    s = Server(functions_text())
    try:
        addrs = ["127.0.0.%d" % i for i in range(2, 7)]
        lat, failed, retried = [], 0, 0
        with Slowloris(s.port, addrs, 500) as attack:
            t_end = time.monotonic() + 120
            for i in range(200):
                if failed >= 3 or time.monotonic() > t_end:
                    break
                d, why = good_call(s.port, i, timeout=5)
                for attempt in range(3):
                    if d is not None or "ConnectionResetError" not in why or \
                            "(got b'')" not in why:
                        break
                    # Reset before any byte of an answer: libmicrohttpd closes what it
                    # accepts past its own cap (1.5x max_connections + 16, the rest of the
                    # descriptors), reached for a moment when the attack's cut connections
                    # close late on a loaded machine. A real client (the AWS SDKs: 3
                    # attempts, backing off) retries such a request; so does this one, and
                    # each retry is counted.
                    retried += 1
                    note("good call %d reset before its answer, retried: %s" % (i, why))
                    time.sleep(0.05 * 2 ** attempt)     # the client's back-off, not a sync
                    d, why = good_call(s.port, i, timeout=5)
                if d is None:
                    failed += 1
                    note("good call %d failed: %s" % (i, why))
                else:
                    lat.append(d)
                # The good client's pace: 200 calls over some 5 s, while the attack reopens
                # what the server cuts (this is pacing, not a synchronisation).
                time.sleep(0.02)
        note("slowloris: %d connections opened, %d cut by the server, %d refused" % (
            attack.opened, attack.cut, attack.refused))
        if lat:
            note("good client: %d calls answered, %d failed; p50 %.1f ms, p99 %.1f ms, "
                 "max %.1f ms" % (len(lat), failed, 1000 * percentile(lat, 50),
                                  1000 * percentile(lat, 99), 1000 * max(lat)))
        ok = failed == 0 and len(lat) == 200 and retried <= 10
        assert ok, "%d calls failed, %d answered, %d retried" % (failed, len(lat), retried)
        # Generous for 2 noisy cores; the target is 100 ms (see the note above).
        p99 = percentile(lat, 99)
        assert p99 < 1.0, "p99 %.3f s" % p99
    finally:
        rc, err = s.stop()
        assert rc == 0, err


def _served(sock):
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    return sock.recv(4096).startswith(b"HTTP/1.1 200")


def _refused(sock):
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        return sock.recv(4096) == b""           # closed at once, unanswered
    except (ConnectionResetError, BrokenPipeError):
        return True


def _connect_from(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((addr, 0))
    s.settimeout(30)
    s.connect(("127.0.0.1", port))
    return s


def test_per_address_limit():
    s = Server(functions_text(), args=["--max-connections-per-address", "3"])
    held = []
    try:
        held = [_connect_from("127.0.0.2", s.port) for _ in range(3)]
        assert all(_served(h) for h in held)
        extra = _connect_from("127.0.0.2", s.port)
        assert _refused(extra)
        extra.close()
        other = _connect_from("127.0.0.3", s.port)     # another address is let in
        assert _served(other)
        other.close()
        assert all(_served(h) for h in held)
    finally:
        for h in held:
            h.close()
        rc, err = s.stop()
        assert rc == 0, err
