"""test_versions.py - versions and aliases through `faas serve` with boto3 and the AWS SDK for
JavaScript v3, unchanged but for the endpoint: publish_version, list_versions_by_function,
create_alias with a RoutingConfig, get/update/list/delete alias, invoke with a Qualifier and
ExecutedVersion, and the modelled exceptions of the errors."""
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import CONTROL_TOKEN, MODULES, Server, client
from test_hostile_clients import NPM_DIR, _node_or_skip


def _versioned_server():
    """A server whose function vf is a scratch copy of echo.so: append_code() changes its
    bytes, so that the next publish makes a new version."""
    d = tempfile.mkdtemp(prefix="faas-gw-versions-")
    path = os.path.join(d, "vf.so")
    shutil.copyfile(os.path.abspath(os.path.join(MODULES, "echo.so")), path)
    s = Server("[vf]\nmodule = %s\nsymbol = echo\n" % path,
               env={"FAAS_GATEWAY_TOKEN": CONTROL_TOKEN})
    s.module = path
    s.scratch = d
    return s


def append_code(s, text):
    with open(s.module, "ab") as f:
        f.write(text.encode())


@pytest.fixture
def vserver():
    s = _versioned_server()
    yield s
    rc, err = s.stop()
    shutil.rmtree(s.scratch, ignore_errors=True)
    assert rc == 0, err


def invoke_version(lam, **kw):
    r = lam.invoke(FunctionName="vf", Payload=b'{"k":1}', **kw)
    body = r["Payload"].read()
    assert r["StatusCode"] == 200 and "FunctionError" not in r, (r, body)
    assert json.loads(body) == {"k": 1}, body
    return r["ExecutedVersion"]


def test_boto3_versions_and_aliases(vserver):
    lam = client(vserver.url, key=CONTROL_TOKEN)
    v1 = lam.publish_version(FunctionName="vf", Description="first")
    assert v1["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert v1["Version"] == "1" and v1["Description"] == "first"
    assert v1["FunctionArn"].endswith(":function:vf:1")
    assert len(v1["CodeSha256"]) == 44
    assert lam.publish_version(FunctionName="vf")["Version"] == "1"   # nothing changed
    append_code(vserver, "\nversion 2")
    v2 = lam.publish_version(FunctionName="vf", Description="second")
    assert v2["Version"] == "2" and v2["CodeSha256"] != v1["CodeSha256"]

    listed = lam.list_versions_by_function(FunctionName="vf")
    assert [v["Version"] for v in listed["Versions"]] == ["$LATEST", "1", "2"]
    pages = lam.get_paginator("list_versions_by_function").paginate(
        FunctionName="vf", PaginationConfig={"PageSize": 1})
    assert [v["Version"] for p in pages for v in p["Versions"]] == ["$LATEST", "1", "2"]

    assert invoke_version(lam) == "$LATEST"
    assert invoke_version(lam, Qualifier="1") == "1"
    assert invoke_version(lam, Qualifier="$LATEST") == "$LATEST"

    a = lam.create_alias(FunctionName="vf", Name="live", FunctionVersion="1",
                         RoutingConfig={"AdditionalVersionWeights": {"2": 1.0}})
    assert a["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert a["AliasArn"].endswith(":function:vf:live")
    assert a["FunctionVersion"] == "1"
    assert a["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 1.0}}
    assert {invoke_version(lam, Qualifier="live") for _ in range(5)} == {"2"}

    u = lam.update_alias(FunctionName="vf", Name="live", RevisionId=a["RevisionId"],
                         RoutingConfig={"AdditionalVersionWeights": {"2": 0.0}})
    assert u["RevisionId"] != a["RevisionId"]
    assert {invoke_version(lam, Qualifier="live") for _ in range(5)} == {"1"}
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.update_alias(FunctionName="vf", Name="live", FunctionVersion="2",
                         RevisionId=a["RevisionId"])
    u = lam.update_alias(FunctionName="vf", Name="live", FunctionVersion="2",
                         RoutingConfig={})
    assert u["FunctionVersion"] == "2" and "RoutingConfig" not in u
    assert invoke_version(lam, Qualifier="live") == "2"
    assert lam.get_alias(FunctionName="vf", Name="live")["FunctionVersion"] == "2"

    lam.create_alias(FunctionName="vf", Name="beta", FunctionVersion="$LATEST")
    names = [x["Name"] for x in lam.list_aliases(FunctionName="vf")["Aliases"]]
    assert names == ["live", "beta"]
    only = lam.list_aliases(FunctionName="vf", FunctionVersion="$LATEST")["Aliases"]
    assert [x["Name"] for x in only] == ["beta"]

    # The modelled errors reach boto3 as its exceptions.
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.create_alias(FunctionName="vf", Name="live", FunctionVersion="1")
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.create_alias(FunctionName="vf", Name="x", FunctionVersion="9")
    assert e.value.response["Error"]["Message"].endswith(":function:vf:9")
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.create_alias(FunctionName="vf", Name="x", FunctionVersion="$LATEST",
                         RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    assert "$LATEST is not supported" in e.value.response["Error"]["Message"]
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.get_alias(FunctionName="vf", Name="gone")
    assert "Cannot find alias arn:" in e.value.response["Error"]["Message"]
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.invoke(FunctionName="vf", Qualifier="7", Payload=b"{}")
    assert e.value.response["Error"]["Message"].endswith(":function:vf:7")
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.invoke(FunctionName="vf:1", Qualifier="2", Payload=b"{}")
    assert "derived qualifier" in e.value.response["Error"]["Message"]

    lam.delete_alias(FunctionName="vf", Name="live")
    lam.delete_alias(FunctionName="vf", Name="live")        # gone already: 204 again
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="vf", Qualifier="live", Payload=b"{}")
    assert [x["Name"] for x in lam.list_aliases(FunctionName="vf")["Aliases"]] == ["beta"]


def test_boto3_control_plane_needs_the_token():
    path = os.path.abspath(os.path.join(MODULES, "echo.so"))
    s = Server("[vf]\nmodule = %s\nsymbol = echo\n" % path,
               env={"FAAS_GATEWAY_TOKEN": "s3cret-token"})
    try:
        from botocore.exceptions import ClientError
        with pytest.raises(ClientError) as e:
            client(s.url, key="wrong").publish_version(FunctionName="vf")
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        good = client(s.url, key="s3cret-token")
        assert good.publish_version(FunctionName="vf")["Version"] == "1"
        with pytest.raises(ClientError) as e:
            client(s.url, key="wrong").list_aliases(FunctionName="vf")
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    finally:
        rc, err = s.stop()
        assert rc == 0, err


def test_js_sdk_versions_and_aliases(vserver):
    """The same calls from @aws-sdk/client-lambda (tests/npm/lambda_versions.js)."""
    node = _node_or_skip()
    env = dict(os.environ, NODE_NO_WARNINGS="1", AWS_CONFIG_FILE="/dev/null",
               AWS_SHARED_CREDENTIALS_FILE="/dev/null", FAAS_TEST_KEY=CONTROL_TOKEN)
    lam = client(vserver.url, key=CONTROL_TOKEN)
    assert lam.publish_version(FunctionName="vf")["Version"] == "1"
    append_code(vserver, "\nversion 2")
    r = subprocess.run([node, os.path.join(NPM_DIR, "lambda_versions.js"), vserver.url, "vf"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["published"] == "2"
    assert out["versions"] == ["$LATEST", "1", "2"]
    assert out["created"] == {"status": 201, "version": "1", "weights": {"2": 1}}
    assert out["through_alias"] == ["2", "2", "2"]
    assert out["updated_version"] == "2" and out["updated_routing"] is None
    assert out["got"] == "2"
    assert out["aliases"] == ["canary"]
    assert out["qualified"] == "1"
    assert out["errors"] == {"conflict": "ResourceConflictException",
                             "unknown_version": "ResourceNotFoundException",
                             "mismatch": "InvalidParameterValueException"}
    assert out["after_delete"] == []
