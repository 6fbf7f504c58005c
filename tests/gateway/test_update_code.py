"""test_update_code.py - UpdateFunctionCode through `faas serve` with boto3 and the AWS SDK for
JavaScript v3, unchanged but for the endpoint: the code from a local path (S3Bucket "file",
S3Key the .so's path) and from ZipFile (the .so's bytes), RevisionId, Publish, DryRun, an INIT
that fails (200, LastUpdateStatus Failed, the old code still serving), and the modelled
exceptions of the errors."""
import io
import json
import os
import subprocess
import zipfile

import pytest
from botocore.exceptions import ClientError

from conftest import CONTROL_TOKEN, TEST_MODULES, Server, client
from test_hostile_clients import NPM_DIR, _node_or_skip


def module(name):
    return os.path.abspath(os.path.join(TEST_MODULES, name))


@pytest.fixture
def userver():
    s = Server("[uf]\nmodule = %s\nsymbol = answer\n" % module("mod_update_a.so"),
               env={"FAAS_GATEWAY_TOKEN": CONTROL_TOKEN})
    yield s
    rc, err = s.stop()
    assert rc == 0, err


def answer(lam, **kw):
    r = lam.invoke(FunctionName="uf", Payload=b"{}", **kw)
    body = r["Payload"].read()
    assert r["StatusCode"] == 200 and "FunctionError" not in r, (r, body)
    return body.decode()


def test_boto3_update_function_code(userver):
    lam = client(userver.url, key=CONTROL_TOKEN)
    assert answer(lam) == "A"
    r = lam.update_function_code(FunctionName="uf", S3Bucket="file",
                                 S3Key=module("mod_update_b.so"))
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert r["LastUpdateStatus"] == "Successful" and r["Version"] == "$LATEST"
    assert len(r["CodeSha256"]) == 44 and r["CodeSize"] > 0
    assert answer(lam) == "B"

    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.update_function_code(FunctionName="uf", S3Bucket="file",
                                 S3Key=module("mod_update_a.so"), RevisionId="stale")
    dry = lam.update_function_code(FunctionName="uf", S3Bucket="file",
                                   S3Key=module("mod_update_a.so"), DryRun=True)
    assert dry["RevisionId"] == r["RevisionId"]
    assert answer(lam) == "B"

    with open(module("mod_update_a.so"), "rb") as f:
        code = f.read()
    p = lam.update_function_code(FunctionName="uf", ZipFile=code, Publish=True,
                                 RevisionId=r["RevisionId"])
    assert p["Version"] == "1" and p["CodeSize"] == len(code)
    assert p["FunctionArn"].endswith(":function:uf:1")
    assert answer(lam) == "A" and answer(lam, Qualifier="1") == "A"

    bad = lam.update_function_code(FunctionName="uf", S3Bucket="file",
                                   S3Key=module("mod_update_bad.so"))
    assert bad["LastUpdateStatus"] == "Failed"
    assert bad["LastUpdateStatusReasonCode"] == "FunctionError"
    assert "refuses to start" in bad["LastUpdateStatusReason"]
    assert answer(lam) == "A"

    # The modelled errors reach boto3 as its exceptions.
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.update_function_code(FunctionName="nope", ZipFile=code)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("uf.so", code)
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.update_function_code(FunctionName="uf", ZipFile=archive.getvalue())
    assert "zip archive" in e.value.response["Error"]["Message"]
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.update_function_code(FunctionName="uf", ZipFile=b"not a shared object")
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.update_function_code(FunctionName="uf", S3Bucket="file", S3Key="/nonexistent.so")
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.update_function_code(FunctionName="uf", S3Bucket="a-real-bucket", S3Key="k.zip")
    assert answer(lam) == "A"


def test_js_sdk_update_function_code(userver):
    """The same calls from @aws-sdk/client-lambda (tests/npm/lambda_update_code.js)."""
    node = _node_or_skip()
    env = dict(os.environ, NODE_NO_WARNINGS="1", AWS_CONFIG_FILE="/dev/null",
               AWS_SHARED_CREDENTIALS_FILE="/dev/null", FAAS_TEST_KEY=CONTROL_TOKEN)
    r = subprocess.run([node, os.path.join(NPM_DIR, "lambda_update_code.js"), userver.url,
                        "uf", module("mod_update_b.so"), module("mod_update_a.so"),
                        module("mod_update_bad.so")],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["from_path"] == {"status": "Successful", "version": "$LATEST", "answer": "B"}
    assert out["from_zip"] == {"status": "Successful", "version": "1", "answer": "A"}
    assert out["failed"]["status"] == "Failed"
    assert out["failed"]["code"] == "FunctionError"
    assert out["failed"]["answer"] == "A"
    assert out["errors"] == {"stale": "PreconditionFailedException",
                             "unknown": "ResourceNotFoundException",
                             "not_elf": "InvalidParameterValueException"}


def test_without_a_token_functions_run_but_do_not_change():
    """A gateway without a token answers any local process, a function's runtime or
    isolated instance included: it runs functions, but refuses (403 AccessDeniedException)
    what would change one, and does not show their environments. A module's new code is
    loaded into the host: a function that could send it would run its own code there."""
    s = Server("[uf]\nmodule = %s\nsymbol = answer\n[environment uf]\nDB_PASSWORD = s3\n"
               % module("mod_update_a.so"))
    try:
        lam = client(s.url)
        assert answer(lam) == "A"
        # its variables (secrets, maybe) are not shown either
        assert "Environment" not in lam.get_function_configuration(FunctionName="uf")
        assert "Environment" not in lam.get_function(FunctionName="uf")["Configuration"]
        with open(module("mod_update_b.so"), "rb") as f:
            code = f.read()
        attempts = [
            lambda: lam.update_function_code(FunctionName="uf", ZipFile=code),
            lambda: lam.update_function_code(FunctionName="uf", S3Bucket="file",
                                             S3Key=module("mod_update_b.so")),
            lambda: lam.publish_version(FunctionName="uf"),
            lambda: lam.create_alias(FunctionName="uf", Name="live", FunctionVersion="$LATEST"),
            lambda: lam.update_alias(FunctionName="uf", Name="live", FunctionVersion="1"),
            lambda: lam.delete_alias(FunctionName="uf", Name="live"),
        ]
        for attempt in attempts:
            with pytest.raises(ClientError) as e:
                attempt()
            assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
            assert e.value.response["Error"]["Code"] == "AccessDeniedException"
            assert "has no token" in e.value.response["Error"]["Message"]
        assert answer(lam) == "A"                        # its code unchanged
        assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="uf")
                ["Versions"]] == ["$LATEST"]             # reading is open, as invoking
    finally:
        rc, err = s.stop()
        assert rc == 0, err
