"""test_gateway.py - `faas serve` driven by real AWS clients: boto3 (Debian's, with retries
off) and /usr/bin/aws lambda (CLI v2), plus raw HTTP where a client cannot say it."""
import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import urllib.error
import urllib.request
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import (AWS, FAAS, MODULES, TEST_MODULES, WRAPPER, Gate, Server, aws_cli,
                      client, functions_text, in_thread)

SYNC_LIMIT = 6291456
ASYNC_LIMIT = 1048576


def raw(server, method, path, body=b"", headers=None):
    """One request on a fresh connection: (status, headers dict lower-cased, body)."""
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    h = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, h, data


# ---- Invoke with boto3 ---------------------------------------------------------------------------

def test_sync_echo(lam):
    r = lam.invoke(FunctionName="echo", Payload=b'{"a": [1, 2, "three"]}')
    assert r["StatusCode"] == 200
    assert r["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in r
    assert json.loads(r["Payload"].read()) == {"a": [1, 2, "three"]}
    uuid.UUID(r["ResponseMetadata"]["RequestId"])           # x-amzn-RequestId is a UUID


def test_no_payload_is_empty_object(lam):
    r = lam.invoke(FunctionName="echo")
    assert r["Payload"].read() == b"{}"


def test_event_is_202_and_runs(lam, server, gate):
    r = lam.invoke(FunctionName="hold", InvocationType="Event", Payload=b'{"e":1}')
    assert r["StatusCode"] == 202
    assert r["Payload"].read() == b""
    uuid.UUID(r["ResponseMetadata"]["RequestId"])
    gate.wait_started()                 # a worker is running it now
    gate.release()


def test_seed_article_event_call_unchanged(server, gate, monkeypatch):
    # The article's client code, word for word but for endpoint_url (credentials and
    # region come from the environment, as they would on a developer's machine).
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    import boto3
    response = boto3.client('lambda', endpoint_url=server.url).invoke(
        FunctionName='hold', InvocationType='Event')
    assert response["StatusCode"] == 202
    gate.wait_started()
    gate.release()


def test_dry_run_is_204(lam):
    r = lam.invoke(FunctionName="echo", InvocationType="DryRun", Payload=b"{}")
    assert r["StatusCode"] == 204
    assert r["Payload"].read() == b""


def test_unknown_function(lam):
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.invoke(FunctionName="nope", Payload=b"{}")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope" in \
        e.value.response["Error"]["Message"]
    assert e.value.response["Type"] == "User"


def test_six_mb_is_accepted(lam):
    payload = b'"' + b"a" * (SYNC_LIMIT - 2) + b'"'
    assert len(payload) == SYNC_LIMIT
    r = lam.invoke(FunctionName="echo", Payload=payload)
    assert r["StatusCode"] == 200
    assert r["Payload"].read() == payload


def test_six_mb_and_one_byte_is_413(lam):
    payload = b'"' + b"a" * (SYNC_LIMIT - 1) + b'"'
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="echo", Payload=payload)
    err = e.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert err["Error"]["Code"] == "RequestEntityTooLargeException"
    assert err["Error"]["Message"] == \
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation"


def test_event_over_one_mb_is_413(lam):
    payload = b'"' + b"a" * (ASYNC_LIMIT - 1) + b'"'
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="echo", InvocationType="Event", Payload=payload)
    assert e.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert e.value.response["Error"]["Message"] == \
        "1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)"


def test_function_error_is_unhandled(lam):
    r = lam.invoke(FunctionName="fail", Payload=b"{}")
    assert r["StatusCode"] == 200
    assert r["FunctionError"] == "Unhandled"
    assert json.loads(r["Payload"].read()) == {"errorMessage": "'action'", "errorType": "KeyError"}


def test_log_tail(lam):
    r = lam.invoke(FunctionName="logs", Payload=b'{"k":"v"}', LogType="Tail")
    log = base64.b64decode(r["LogResult"]).decode()
    rid = r["ResponseMetadata"]["RequestId"]
    lines = log.splitlines()
    assert lines[0] == "START RequestId: %s Version: $LATEST" % rid
    assert lines[1] == "handling 9 bytes"
    assert lines[2] == 'payload: {"k":"v"}'
    assert lines[3] == "all good"
    assert lines[4] == "END RequestId: %s" % rid
    assert lines[5].startswith("REPORT RequestId: %s\tDuration: " % rid)
    assert "Billed Duration: " in lines[5] and "Memory Size: 128 MB" in lines[5]
    assert len(lines) == 6


def test_log_tail_of_a_failure(lam):
    r = lam.invoke(FunctionName="fail", Payload=b"{}", LogType="Tail")
    log = base64.b64decode(r["LogResult"]).decode()
    assert "about to fail on 2 bytes" in log and "REPORT RequestId" in log
    assert r["FunctionError"] == "Unhandled"


def test_log_tail_is_the_last_4kb(lam):
    r = lam.invoke(FunctionName="logs", Payload=b'"' + b"x" * 10000 + b'"', LogType="Tail")
    log = base64.b64decode(r["LogResult"])
    assert len(log) == 4096                         # cut at a byte, as Lambda's Tail is
    assert not log.startswith(b"START") and log.endswith(b"\t\n")
    assert b'xx"\nall good\nEND RequestId' in log and b"REPORT RequestId" in log


def test_no_tail_without_asking(lam):
    r = lam.invoke(FunctionName="logs", Payload=b"{}")
    assert "LogResult" not in r


def test_concurrency_limit_is_429(lam, gate):
    first = {}
    t = threading.Thread(target=lambda: first.update(
        r=lam.invoke(FunctionName="hold", Payload=b'{"first":true}')))
    t.start()
    try:
        gate.wait_started()             # the only instance allowed is busy now
        with pytest.raises(lam.exceptions.TooManyRequestsException) as e:
            lam.invoke(FunctionName="hold", Payload=b"{}")
        resp = e.value.response
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert resp["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
        assert resp["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "1"
    finally:
        gate.release()
        t.join(30)
    assert first["r"]["StatusCode"] == 200
    assert first["r"]["Payload"].read() == b'{"first":true}'


def test_arn_and_partial_arn(lam):
    for name in ["arn:aws:lambda:us-west-2:123456789012:function:echo",
                 "123456789012:function:echo", "echo:$LATEST",
                 "arn:aws:lambda:us-east-1:000000000000:function:echo:$LATEST"]:
        r = lam.invoke(FunctionName=name, Payload=b"[1]")
        assert r["Payload"].read() == b"[1]", name


def test_qualifier(lam):
    assert lam.invoke(FunctionName="echo", Qualifier="$LATEST", Payload=b"1")["StatusCode"] == 200
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.invoke(FunctionName="echo", Qualifier="prod", Payload=b"1")
    assert e.value.response["Error"]["Message"].endswith(":function:echo:prod")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="echo:v1", Payload=b"1")


def test_invalid_name_is_validation_error(lam):
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="bad name/..", Payload=b"{}")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert "Value 'bad name/..' at 'functionName' failed to satisfy constraint" in \
        e.value.response["Error"]["Message"]


def test_not_json_is_400(lam):
    with pytest.raises(lam.exceptions.InvalidRequestContentException) as e:
        lam.invoke(FunctionName="echo", Payload=b"{not json")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert e.value.response["Error"]["Message"].startswith(
        "Could not parse request body into json")


def test_list_functions(lam):
    fns = lam.list_functions()["Functions"]
    assert [f["FunctionName"] for f in fns] == ["echo", "fail", "hold", "logs"]
    hold = fns[2]
    assert hold["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:hold"
    assert hold["Timeout"] == 600 and hold["MemorySize"] == 128
    assert hold["Version"] == "$LATEST"


def test_list_functions_pages(lam):
    p1 = lam.list_functions(MaxItems=3)
    assert [f["FunctionName"] for f in p1["Functions"]] == ["echo", "fail", "hold"]
    p2 = lam.list_functions(MaxItems=3, Marker=p1["NextMarker"])
    assert [f["FunctionName"] for f in p2["Functions"]] == ["logs"]
    assert "NextMarker" not in p2 or p2["NextMarker"] is None
    names = [f["FunctionName"] for page in lam.get_paginator("list_functions").paginate(
        PaginationConfig={"PageSize": 1}) for f in page["Functions"]]
    assert names == ["echo", "fail", "hold", "logs"]


def test_get_function(lam):
    r = lam.get_function(FunctionName="hold")
    assert r["Configuration"]["FunctionName"] == "hold"
    assert r["Concurrency"]["ReservedConcurrentExecutions"] == 1
    c = lam.get_function_configuration(FunctionName="echo")
    assert c["Handler"] == "echo"
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName="nope")


def test_client_context_and_get_function_fields():
    """boto3's ClientContext reaches the handler; a bad one is Lambda's 400; GetFunction
    and GetFunctionConfiguration carry the fields SDK users read."""
    so = os.path.join(TEST_MODULES, "mod_gateway.so")
    s = Server("[cc]\nmodule = %s\nsymbol = client_context\nmemory_mb = 256\n" % so)
    try:
        lam = client(s.url)
        sent = {"client": {"app_title": "shop"}, "custom": {"k": "v"}, "env": {"locale": "fr"}}
        cc = base64.b64encode(json.dumps(sent).encode()).decode()
        r = lam.invoke(FunctionName="cc", ClientContext=cc)
        assert json.loads(r["Payload"].read()) == sent
        assert json.loads(lam.invoke(FunctionName="cc")["Payload"].read()) is None
        for bad in ("%%%", base64.b64encode(b"[1]").decode(), base64.b64encode(b"{").decode()):
            with pytest.raises(ClientError) as e:
                lam.invoke(FunctionName="cc", ClientContext=bad)
            assert e.value.response["Error"]["Code"] == "InvalidRequestContentException"
            assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        c = lam.get_function_configuration(FunctionName="cc")
        assert c["Runtime"] == "provided"
        assert c["Handler"] == "client_context"
        assert c["Role"] == "arn:aws:iam::000000000000:role/libfaas-local"
        assert c["State"] == "Active" and c["LastUpdateStatus"] == "Successful"
        assert c["CodeSize"] == os.path.getsize(so)
        digest = base64.b64encode(hashlib.sha256(open(so, "rb").read()).digest()).decode()
        assert c["CodeSha256"] == digest
        uuid.UUID(c["RevisionId"])
        assert c["MemorySize"] == 256 and c["Timeout"] == 3 and c["Version"] == "$LATEST"
        assert c["Architectures"] in (["x86_64"], ["arm64"])
        assert c["FunctionArn"].endswith(":function:cc")
        g = lam.get_function(FunctionName="cc")
        assert g["Configuration"]["RevisionId"] == c["RevisionId"]
    finally:
        rc, err = s.stop()
        assert rc == 0, err


def test_js_sdk_client_context_and_get_function():
    """The same from @aws-sdk/client-lambda (tests/npm/lambda_client_context.js)."""
    from test_hostile_clients import NPM_DIR, _node_or_skip
    node = _node_or_skip()
    so = os.path.join(TEST_MODULES, "mod_gateway.so")
    s = Server("[cc]\nmodule = %s\nsymbol = client_context\n" % so)
    try:
        env = dict(os.environ, NODE_NO_WARNINGS="1", AWS_CONFIG_FILE="/dev/null",
                   AWS_SHARED_CREDENTIALS_FILE="/dev/null")
        r = subprocess.run([node, os.path.join(NPM_DIR, "lambda_client_context.js"), s.url,
                            "cc"], capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out["seen"] == {"custom": {"from": "js"}, "env": {"platform": "node"}}
        assert out["bad"] == "InvalidRequestContentException"
        c = out["configuration"]
        assert out["get_function"] == c
        assert c["Runtime"] == "provided" and c["Handler"] == "client_context"
        assert c["Role"] == "arn:aws:iam::000000000000:role/libfaas-local"
        assert c["CodeSize"] == os.path.getsize(so) and len(c["CodeSha256"]) == 44
        uuid.UUID(c["RevisionId"])
        assert c["State"] == "Active" and c["LastUpdateStatus"] == "Successful"
        assert c["MemorySize"] == 128 and c["Timeout"] == 3 and c["Version"] == "$LATEST"
    finally:
        rc, err = s.stop()
        assert rc == 0, err


# ---- the wire, where no client can say it --------------------------------------------------

def test_headers_and_keep_alive(server):
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    ids = set()
    for i in range(3):                  # no Content-Type, as boto3 sends it
        c.request("POST", "/2015-03-31/functions/echo/invocations", body=b'{"i":%d}' % i)
        r = c.getresponse()
        assert r.status == 200 and r.read() == b'{"i":%d}' % i
        assert r.getheader("X-Amz-Executed-Version") == "$LATEST"
        assert r.getheader("Content-Type") == "application/json"
        assert r.getheader("Connection") is None
        ids.add(r.getheader("x-amzn-RequestId"))
    assert len(ids) == 3
    c.close()


def test_error_body_and_header(server):
    st, h, body = raw(server, "POST", "/2015-03-31/functions/nope/invocations", b"{}")
    assert st == 404
    assert h["x-amzn-errortype"] == "ResourceNotFoundException"
    assert json.loads(body) == {
        "Type": "User",
        "Message": "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope"}


def test_sigv4_headers_are_ignored(server):
    st, _, body = raw(server, "POST", "/2015-03-31/functions/echo/invocations", b"[]", {
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/lambda/"
                         "aws4_request, SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
        "X-Amz-Date": "20261126T220040Z", "X-Amz-Security-Token": "whatever"})
    assert st == 200 and body == b"[]"


def test_413_is_sent_before_the_body_is_read(server):
    s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    s.sendall(b"POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              b"Content-Length: 20000000\r\n\r\n")  # and not one byte of the 20 MB
    got = s.recv(4096)
    s.close()
    assert got.startswith(b"HTTP/1.1 413 ")
    assert b"RequestEntityTooLargeException" in got


def test_chunked_body_over_the_limit(server):
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    chunk = b"a" * 65536
    n = ASYNC_LIMIT // len(chunk) + 1
    c.request("POST", "/2015-03-31/functions/echo/invocations", body=iter([chunk] * n),
              headers={"X-Amz-Invocation-Type": "Event"}, encode_chunked=True)
    r = c.getresponse()
    assert r.status == 413
    assert r.getheader("x-amzn-ErrorType") == "RequestEntityTooLargeException"
    c.close()


def test_invocation_type_is_checked(server):
    st, h, _ = raw(server, "POST", "/2015-03-31/functions/echo/invocations", b"{}",
                   {"X-Amz-Invocation-Type": "Sometimes"})
    assert st == 400 and h["x-amzn-errortype"] == "ValidationException"


def test_healthz(server):
    st, _, body = raw(server, "GET", "/healthz")
    assert st == 200 and body == b"ok\n"


def test_metrics(server, lam):
    lam.invoke(FunctionName="echo", Payload=b"{}")
    st, h, body = raw(server, "GET", "/metrics")
    assert st == 200
    assert h["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = body.decode()
    assert "# TYPE faas_invocations_total counter" in text
    ok = [l for l in text.splitlines()
          if l.startswith('faas_invocations_total{function="echo",status="ok"}')]
    assert len(ok) == 1 and float(ok[0].split()[-1]) >= 1
    promtool = shutil.which("promtool")
    if promtool:                        # Prometheus's own linter, when installed
        r = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True)
        assert r.returncode == 0, r.stderr.decode() + r.stdout.decode()


def test_metrics_needs_the_token(token_server):
    st, _, _ = raw(token_server, "GET", "/metrics")
    assert st == 401
    st, _, body = raw(token_server, "GET", "/metrics",
                      headers={"Authorization": "Bearer s3cret-token"})
    assert st == 200 and b"faas_invocations_total" in body


def test_unknown_route(server):
    st, h, _ = raw(server, "GET", "/etc/passwd")
    assert st == 404 and h["x-amzn-errortype"] == "UnknownOperationException"


# ---- tokens ---------------------------------------------------------------------------------------

def test_token_bearer(token_server):
    path = "/2015-03-31/functions/echo/invocations"
    st, h, _ = raw(token_server, "POST", path, b"{}")
    assert st == 401 and h["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    assert h["www-authenticate"].startswith("Bearer")
    st, h, _ = raw(token_server, "POST", path, b"{}", {"Authorization": "Bearer s3cret-tokeN"})
    assert st == 403 and h["x-amzn-errortype"] == "UnrecognizedClientException"
    st, _, _ = raw(token_server, "POST", path, b"{}", {"Authorization": "Bearer s3cret"})
    assert st == 403
    st, _, body = raw(token_server, "POST", path, b"{}", {"Authorization": "Bearer s3cret-token"})
    assert st == 200 and body == b"{}"
    st, _, _ = raw(token_server, "GET", "/healthz")
    assert st == 200                    # probes need no token
    st, _, _ = raw(token_server, "GET", "/2015-03-31/functions/")
    assert st == 401


def test_token_not_in_the_command_line():
    # /proc/PID/cmdline is readable by every process of the machine, a function's included
    # (an isolated instance, a process runtime): --token is wiped from it once read.
    s = Server(functions_text(), args=("--token", "argv-secret-0451"))
    try:
        path = "/2015-03-31/functions/echo/invocations"
        st, _, _ = raw(s, "POST", path, b"{}", {"Authorization": "Bearer argv-secret-0451"})
        assert st == 200
        st, _, _ = raw(s, "POST", path, b"{}")
        assert st == 401
        if not WRAPPER:                 # under valgrind, the program's argv is a copy
            with open("/proc/%d/cmdline" % s.proc.pid, "rb") as f:
                cmdline = f.read()
            assert b"--token" in cmdline
            assert b"argv-secret-0451" not in cmdline
    finally:
        rc, err = s.stop()
    assert rc == 0, err


def test_token_as_boto3_access_key(token_server):
    good = client(token_server.url, key="s3cret-token")
    assert good.invoke(FunctionName="echo", Payload=b"[2]")["Payload"].read() == b"[2]"
    bad = client(token_server.url, key="AKIDEXAMPLE")
    with pytest.raises(ClientError) as e:
        bad.invoke(FunctionName="echo", Payload=b"{}")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert e.value.response["Error"]["Code"] == "UnrecognizedClientException"


# ---- the aws CLI (v2, /usr/bin/aws) -------------------------------------------------------------

def test_cli_invoke(server, tmp_path):
    out = tmp_path / "out.json"
    r = aws_cli(server.url, "invoke", "--function-name", "echo", "--cli-binary-format",
                "raw-in-base64-out", "--payload", '{"from":"cli"}', str(out))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
    assert json.loads(out.read_text()) == {"from": "cli"}


def test_cli_event_dry_run_and_tail(server, tmp_path):
    out = tmp_path / "out.json"
    r = aws_cli(server.url, "invoke", "--function-name", "logs", "--invocation-type", "DryRun",
                str(out))
    assert r.returncode == 0 and json.loads(r.stdout)["StatusCode"] == 204, r.stderr
    r = aws_cli(server.url, "invoke", "--function-name", "logs", "--invocation-type", "Event",
                str(out))
    assert r.returncode == 0 and json.loads(r.stdout)["StatusCode"] == 202, r.stderr
    r = aws_cli(server.url, "invoke", "--function-name", "logs", "--log-type", "Tail", str(out))
    assert r.returncode == 0, r.stderr
    assert "REPORT RequestId" in base64.b64decode(json.loads(r.stdout)["LogResult"]).decode()


def test_cli_function_error_and_not_found(server, tmp_path):
    out = tmp_path / "out.json"
    r = aws_cli(server.url, "invoke", "--function-name", "fail", str(out))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["FunctionError"] == "Unhandled"
    assert json.loads(out.read_text())["errorType"] == "KeyError"
    r = aws_cli(server.url, "invoke", "--function-name", "nope", str(out))
    assert r.returncode == 254
    assert "An error occurred (ResourceNotFoundException) when calling the Invoke operation" \
        in r.stderr


def test_cli_list_functions(server):
    r = aws_cli(server.url, "list-functions")
    assert r.returncode == 0, r.stderr
    names = [f["FunctionName"] for f in json.loads(r.stdout)["Functions"]]
    assert names == ["echo", "fail", "hold", "logs"]


# ---- faas serve itself ------------------------------------------------------------------------------

def test_check_reports_every_error_with_its_line(tmp_path):
    f = tmp_path / "bad.ini"
    f.write_text("[ok]\nmodule = /x.so\n\n[bad name]\nmodule = y.so\n[two]\n"
                 "memory_mb = lots\nretries = 3\nmodule = z.so\n[ok]\n")
    r = subprocess.run([FAAS, "serve", "--check", str(f)], capture_output=True, text=True)
    assert r.returncode == 1
    errs = r.stderr.splitlines()
    assert errs[0].startswith("%s:4: [bad name]: a function name" % f)
    assert errs[1].startswith("%s:7: memory_mb = lots: not a whole number" % f)
    assert errs[2].startswith("%s:8: [two] retries: unknown key" % f)
    assert errs[3].startswith("%s:10: [ok]: already defined at line 1" % f)
    assert len(errs) == 4


def test_check_accepts_the_suite_file(tmp_path):
    f = tmp_path / "good.ini"
    f.write_text(functions_text())
    r = subprocess.run([FAAS, "serve", "--check", str(f)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "4 functions, no error" in r.stdout


def test_ffi_function(tmp_path):
    f = tmp_path / "ffi.ini"
    f.write_text("[cos]\nmodule = libm.so.6\nffi = double (double)\n")
    s = None
    try:
        s = Server(f.read_text())
    except RuntimeError as e:
        # Without the libffi bridge, serve refuses the file and says why.
        assert "[cos]: ffi = double (double) needs the libffi bridge" in str(e)
        return
    try:
        r = client(s.url).invoke(FunctionName="cos", Payload=b"[0]")
        assert r["StatusCode"] == 200 and "FunctionError" not in r
    finally:
        s.stop()


def test_sigterm_drains_a_call_in_progress():
    s = Server(functions_text())
    lam = client(s.url)
    g = Gate(s)
    got = {}
    t = threading.Thread(target=lambda: got.update(
        r=lam.invoke(FunctionName="hold", Payload=b'{"drain":1}')))
    t.start()
    g.wait_started()
    s.proc.send_signal(signal.SIGTERM)
    g.release()                        # the call in progress still gets its answer
    rc, err = s.stop()
    t.join(30)
    assert rc == 0, err
    assert "draining" in err and "stopped" in err
    assert got["r"]["Payload"].read() == b'{"drain":1}'
    # and says what it served: the one call, cold, priced
    assert re.search(r"served 1 call in \d+ s: 0 errors \(0 timeouts\), 0 throttled, "
                     r"1 cold starts, p99 [\d.]+ ms, cost \$0\.\d+", err), err


def test_connection_cap(tmp_path):
    # One slot: a connection still waiting for its request gives it up to a new connection;
    # one whose call is running never does, and the newcomer is refused.
    s = Server(functions_text(), args=["--max-connections", "1",
                                       "--max-connections-per-address", "2"])
    g = Gate(s)
    try:
        idle = socket.create_connection(("127.0.0.1", s.port), timeout=30)
        idle.sendall(b"GET /heal")             # and no more
        busy = socket.create_connection(("127.0.0.1", s.port), timeout=30)
        busy.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert busy.recv(4096).startswith(b"HTTP/1.1 200")
        try:
            assert idle.recv(4096) == b""       # it gave way when busy came
        except ConnectionResetError:
            pass
        idle.close()
        busy.sendall(b"POST /2015-03-31/functions/hold/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Length: 2\r\n\r\n{}")
        g.wait_started()                        # its call is running
        extra = socket.create_connection(("127.0.0.1", s.port), timeout=30)
        extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        try:
            assert extra.recv(4096) == b""      # closed at once, unanswered
        except ConnectionResetError:
            pass
        extra.close()
        g.release()
        assert busy.recv(4096).startswith(b"HTTP/1.1 200")
        busy.close()
    finally:
        s.stop()


def test_thread_pool_model():
    s = Server(functions_text(), args=["--threads", "2"])
    try:
        lam = client(s.url)
        for i in range(4):
            assert lam.invoke(FunctionName="echo", Payload=b"%d" % i)["Payload"].read() == \
                b"%d" % i
        with pytest.raises(lam.exceptions.ResourceNotFoundException):
            lam.invoke(FunctionName="nope")
    finally:
        rc, err = s.stop()
        assert rc == 0, err


def _have_isolation():
    try:
        with open(os.path.join(os.environ.get("top_builddir", "."), "config.h")) as f:
            return "#define FAAS_HAVE_ISOLATION 1" in f.read()
    except OSError:
        return False


@pytest.mark.skipif(not _have_isolation(), reason="built without process isolation")
def test_isolated_crash_is_a_function_error():
    from conftest import TEST_MODULES
    s = Server("[crash]\nmodule = %s/mod_misbehave.so\nsymbol = null_deref\n"
               "isolation = process\nseccomp = no-network\n"
               "[echo]\nmodule = %s/mod_misbehave.so\nisolation = process\n"
               % (TEST_MODULES, TEST_MODULES))
    try:
        lam = client(s.url)
        r = lam.invoke(FunctionName="crash", Payload=b"{}")
        assert r["StatusCode"] == 200 and r["FunctionError"] == "Unhandled"
        err = json.loads(r["Payload"].read())
        assert err["errorType"] == "Runtime.ExitError"
        assert "SIGSEGV" in err["errorMessage"]
        # The server, and the other function, live on.
        assert lam.invoke(FunctionName="echo", Payload=b"[7]")["Payload"].read() == b"[7]"
    finally:
        rc, err = s.stop()
        assert rc == 0, err


def test_watch_key_calls_the_function_for_a_new_file(tmp_path):
    """watch = DIR in the functions file: a file closed in DIR runs the function (the hold
    gate says when), and a bad schedule is refused with its line before serving."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    text = ("[drop]\nmodule = %s/mod_gateway.so\nsymbol = hold\nwatch = %s\n"
            "watch_suffix = .csv\n" % (TEST_MODULES, inbox))
    s = Server(text)
    g = Gate(s)
    (inbox / "skipped.txt").write_bytes(b"not for us\n")     # filtered out by the suffix
    (inbox / "data.csv").write_bytes(b"a,b\n1,2\n")
    g.wait_started()
    g.release()
    rc, err = s.stop()
    assert rc == 0, err

    bad = tmp_path / "bad.ini"
    bad.write_text("[tick]\nmodule = %s/echo.so\nschedule = rate(5 fortnights)\n" % MODULES)
    r = subprocess.run([FAAS, "serve", "--check", str(bad)], capture_output=True, text=True)
    assert r.returncode == 1
    assert "%s:3: schedule = rate(5 fortnights): position" % bad in r.stderr, r.stderr


def test_budget_in_the_functions_file(tmp_path):
    # [budget TAG] in the file is set at start: past it, a call is refused with 402.
    text = ("[echo]\nmodule = {m}/echo.so\ntag = team-a\n\n"
            "[budget team-a]\nlimit_usd = 0.000000000001\nwindow = 1h\n").format(m=MODULES)
    f = tmp_path / "budget.ini"
    f.write_text(text)
    r = subprocess.run([FAAS, "serve", "--check", str(f)], capture_output=True, text=True)
    assert r.returncode == 0 and "1 function, 1 budget, no error" in r.stdout, r.stderr
    s = Server(text)
    try:
        url = s.url + "/2015-03-31/functions/echo/invocations"
        with urllib.request.urlopen(urllib.request.Request(url, data=b"{}")) as first:
            assert first.status == 200           # spends more than its pico-dollar
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(url, data=b"{}"))
        assert refused.value.code == 402
        assert refused.value.headers["X-Amzn-ErrorType"].startswith("BudgetExceededException")
        assert b'tag \\"team-a\\" has spent' in refused.value.read()
    finally:
        rc, err = s.stop()
    assert rc == 0, err


def test_ctrl_c_stops_with_a_summary():
    # SIGINT (Ctrl-C) stops serve as SIGTERM does: drained, summarised, exit 0.
    s = Server(functions_text())
    r = client(s.url).invoke(FunctionName="echo", Payload=b'{"a":1}')
    assert r["Payload"].read() == b'{"a":1}'
    rc, err = s.stop(signal.SIGINT)
    assert rc == 0, err
    assert "SIGINT: draining" in err and "stopped" in err
    assert re.search(r"served 1 call in \d+ s: 0 errors", err), err
