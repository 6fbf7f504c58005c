"""test_payloads.py - what a handler receives and what a client gets back, through `faas
serve` and real AWS clients: every payload reaches the handler followed by a NUL byte
(mod_basic's `terminated` fails the call otherwise), and a handler that returns without
replying answers the body `null`, as AWS Lambda does for a function that returns nothing."""
import json

import pytest

from conftest import TEST_MODULES, Server, aws_cli, client

FUNCTIONS = """\
[term]
module = {tests}/mod_basic.so
symbol = terminated

[silent]
module = {tests}/mod_basic.so
symbol = silent
"""


@pytest.fixture(scope="module")
def payload_server():
    s = Server(FUNCTIONS.format(tests=TEST_MODULES))
    yield s
    rc, err = s.stop()
    assert rc == 0, err


@pytest.fixture(scope="module")
def lam2(payload_server):
    return client(payload_server.url)


def test_no_reply_is_null(lam2):
    r = lam2.invoke(FunctionName="silent", Payload=b'{"a":1}')
    assert r["StatusCode"] == 200
    assert "FunctionError" not in r
    body = r["Payload"].read()
    assert body == b"null"
    assert json.loads(body) is None


def test_no_reply_is_null_for_the_cli(payload_server, tmp_path):
    out = tmp_path / "out.json"
    r = aws_cli(payload_server.url, "invoke", "--function-name", "silent", str(out))
    assert r.returncode == 0, r.stderr
    assert "FunctionError" not in json.loads(r.stdout)
    assert out.read_text() == "null"


@pytest.mark.parametrize("size", [1, 14, 200, 5000, 1 << 20])
def test_request_response_payload_is_nul_terminated(lam2, size):
    # A JSON string of `size` bytes: 1 is a digit, the others "aaa...".
    payload = b"7" if size == 1 else b'"' + b"a" * (size - 2) + b'"'
    r = lam2.invoke(FunctionName="term", Payload=payload)
    assert r["StatusCode"] == 200
    body = r["Payload"].read()
    assert "FunctionError" not in r, body[:300]
    assert body == payload


def test_no_payload_is_nul_terminated(lam2):
    r = lam2.invoke(FunctionName="term")
    assert "FunctionError" not in r
    assert r["Payload"].read() == b"{}"
