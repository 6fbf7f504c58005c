"""test_process_versions.py - versions and aliases of a process function through `faas serve`,
with boto3: the functions file publishes AWS's tutorial runtime (bootstrap and function.sh,
unchanged, in the task root) as version 1 ([version tut:1]) with an alias ([alias tut:live]);
GetFunction reports $LATEST's and version 1's CodeSha256 (the digest of the task root that
faas_publish_version(3) documents, computed here independently) and CodeSize; after
function.sh changes on disk, $LATEST answers with the new code while version 1 and the alias
answer with the old; PublishVersion makes version 2 with the new digest, and publishing again
returns it; ListVersionsByFunction lists them; the frozen copies are gone once the server
stops."""
import base64
import hashlib
import os
import shutil
import stat
import tempfile

from conftest import CONTROL_TOKEN, Server, client

SRC = os.path.abspath(os.environ.get("top_srcdir", ".."))

FUNCTIONS = """\
[tut]
runtime = provided
command = bash {dir}/bootstrap
handler = function.handler
cwd = {dir}
writable = {tmp}

[environment tut]
TMPDIR = {tmp}

[version tut:1]
description = the tutorial

[alias tut:live]
version = 1
"""

ROOT_HANDLER = """function handler () {
  echo "New code: $1 $AWS_LAMBDA_FUNCTION_VERSION $LAMBDA_TASK_ROOT"
}
"""


def digest(d):
    """CodeSha256 and CodeSize of a task root of regular files, as faas_publish_version(3)
    documents it: per file in byte order of names, b'F' name NUL, b'x' or b'-', the size as
    8 bytes big-endian, the bytes; SHA-256 in base64."""
    h = hashlib.sha256()
    size = 0
    for name in sorted(os.listdir(d), key=os.fsencode):
        p = os.path.join(d, name)
        st = os.lstat(p)
        assert stat.S_ISREG(st.st_mode), p
        data = open(p, "rb").read()
        h.update(b"F" + os.fsencode(name) + b"\0")
        h.update(b"x" if st.st_mode & 0o111 else b"-")
        h.update(len(data).to_bytes(8, "big") + data)
        size += len(data)
    return base64.b64encode(h.digest()).decode(), size


def invoke(lam, **kw):
    r = lam.invoke(FunctionName="tut", Payload=b'"e"', **kw)
    assert r["StatusCode"] == 200 and "FunctionError" not in r, r
    return r["Payload"].read().decode(), r["ExecutedVersion"]


def test_versions_of_a_process_function():
    root = tempfile.mkdtemp(prefix="faas-pv-root-")
    tmp = tempfile.mkdtemp(prefix="faas-pv-tmp-")
    for d in (root, tmp):
        os.chmod(d, 0o1777)  # the runtime runs as nobody when the tests run as root
    for name in ("bootstrap", "function.sh"):
        shutil.copy(os.path.join(SRC, "tests", "runtime", name), root)
    os.chmod(os.path.join(root, "bootstrap"), 0o755)
    os.chmod(os.path.join(root, "function.sh"), 0o644)
    sha1, size1 = digest(root)
    s = Server(FUNCTIONS.format(dir=root, tmp=tmp),
               env={"TMPDIR": tmp, "FAAS_GATEWAY_TOKEN": CONTROL_TOKEN})
    try:
        lam = client(s.url, key=CONTROL_TOKEN)
        latest = lam.get_function(FunctionName="tut")["Configuration"]
        assert latest["Version"] == "$LATEST" and latest["Runtime"] == "provided.al2023"
        assert latest["CodeSha256"] == sha1 and latest["CodeSize"] == size1, (latest, sha1)
        v1 = lam.get_function(FunctionName="tut", Qualifier="1")["Configuration"]
        assert v1["Version"] == "1" and v1["Description"] == "the tutorial"
        assert v1["CodeSha256"] == sha1 and v1["CodeSize"] == size1, v1
        assert v1["FunctionArn"].endswith(":function:tut:1")
        assert v1["Handler"] == "function.handler"

        # function.sh changes on disk: $LATEST (a new process) runs it, 1 and live do not.
        with open(os.path.join(root, "function.sh"), "w") as f:
            f.write(ROOT_HANDLER)
        sha2, size2 = digest(root)
        assert lam.get_function(FunctionName="tut")["Configuration"]["CodeSha256"] == sha2
        assert invoke(lam) == ('New code: "e" $LATEST %s' % root, "$LATEST")
        assert invoke(lam, Qualifier="1") == ("Echoing request: '\"e\"'", "1")
        assert invoke(lam, Qualifier="live") == ("Echoing request: '\"e\"'", "1")

        p = lam.publish_version(FunctionName="tut", Description="new")
        assert p["Version"] == "2" and p["CodeSha256"] == sha2 and p["CodeSize"] == size2, p
        assert lam.publish_version(FunctionName="tut")["Version"] == "2"   # nothing changed
        out, ran = invoke(lam, Qualifier="2")
        assert ran == "2" and out.startswith('New code: "e" 2 %s/faas-code-tut-' % tmp), out
        snapshot = out.rsplit(" ", 1)[1]
        assert os.path.isdir(snapshot)
        vs = lam.list_versions_by_function(FunctionName="tut")["Versions"]
        assert [(v["Version"], v["CodeSha256"]) for v in vs] == \
            [("$LATEST", sha2), ("1", sha1), ("2", sha2)], vs
    finally:
        rc, err = s.stop()
    assert rc == 0, err
    assert not os.path.exists(snapshot)
    assert [n for n in os.listdir(tmp) if n.startswith("faas-code-")] == []
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(tmp, ignore_errors=True)
