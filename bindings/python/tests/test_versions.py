"""Versions and aliases from Python (faas_publish_version(3), faas_alias_set(3)): qualified
names in invoke, publish, the versions list, aliases with a weight, and the records say
which version ran."""

import os

import pytest

import faas


def _module(name):
    d = os.environ.get("FAAS_MODULE_DIR")
    path = os.path.join(d, name) if d else None
    if path is None or not os.path.exists(path):
        pytest.skip("no example modules (FAAS_MODULE_DIR)")
    return path


@pytest.fixture
def rt():
    runtime = faas.Runtime()
    yield runtime
    runtime.close()


def test_publish_list_and_invoke_a_version(rt):
    rt.register_module("echo", _module("echo.so"), "echo")
    assert rt.versions("echo") == []
    assert rt.publish_version("echo", "first") == 1
    assert rt.publish_version("echo", "again") == 1         # nothing changed: the same
    (v,) = rt.versions("echo")
    assert v.version == 1 and v.description == "first"
    assert len(v.code_sha256) == 44 and v.code_sha256.endswith("=")
    assert v.published_ns > 0
    assert v.code_size == os.path.getsize(_module("echo.so"))
    assert rt.invoke("echo:1", {"a": 1}) == {"a": 1}
    assert rt.invoke("echo:$LATEST", {"a": 2}) == {"a": 2}
    r = rt.invoke_response("echo:1", {"a": 3})
    assert r.status == 0 and r.record.version == 1 and r.record.function == "echo"
    assert rt.invoke_response("echo", {}).record.version == 0
    with pytest.raises(faas.NotFound) as e:
        rt.invoke("echo:7", {})
    assert "echo:7" in str(e.value)
    assert rt.stats("echo:1").invocations == 2


def test_an_alias_routes_by_weight_and_is_updated_and_deleted(rt):
    rt.register_module("echo", _module("echo.so"), "echo")
    assert rt.publish_version("echo") == 1
    rt.alias_set("echo", "prod", 1)
    a = rt.alias_get("echo", "prod")
    assert (a.version, a.extra_version, a.extra_weight, a.revision) == (1, 0, 0.0, 1)
    seen = []
    rt.on_record(lambda rec: seen.append(rec.version))
    assert rt.invoke("echo:prod", "x") == "x"
    assert rt.invoke_async("echo:prod", "y").result(timeout=30) == "y"
    rt.on_record(None)
    assert seen == [1, 1]
    rt.alias_set("echo", "dev", 0)                          # $LATEST
    assert rt.invoke_response("echo:dev", 1).record.version == 0
    assert rt.alias_get("echo", "prod").revision == 1
    rt.alias_set("echo", "prod", 0)
    assert rt.alias_get("echo", "prod").revision == 2
    with pytest.raises(faas.InvalidArgument):
        rt.alias_set("echo", "prod", 1, 1, 1.5)             # a weight past 1
    rt.alias_delete("echo", "prod")
    with pytest.raises(faas.NotFound):
        rt.alias_get("echo", "prod")
    with pytest.raises(faas.NotFound):
        rt.invoke("echo:prod", {})


def test_weighted_routing_between_two_builds(rt, tmp_path):
    """Two versions with different code: the module file is rebuilt between publishes."""
    live = tmp_path / "greet.so"
    live.write_bytes(open(_module("greet.so"), "rb").read())
    rt.register_module("greet", str(live), "greet")
    assert rt.publish_version("greet", "v1") == 1
    new = tmp_path / "greet.so.new"
    new.write_bytes(open(_module("greet_v2.so"), "rb").read())
    os.rename(new, live)
    assert rt.publish_version("greet", "v2") == 2
    assert rt.invoke("greet:1", {}) == {"greeting": "hello"}
    assert rt.invoke("greet:2", {}) == {"greeting": "Hello!", "version": 2}
    rt.alias_set("greet", "live", 1, 2, 0.25)
    rt.routing_seed(42)
    counts = {1: 0, 2: 0}
    for _ in range(2000):
        r = rt.invoke_response("greet:live", {})
        counts[r.record.version] += 1
        assert r.result == ({"greeting": "hello"} if r.record.version == 1
                            else {"greeting": "Hello!", "version": 2})
    assert 380 <= counts[2] <= 620                          # 500 expected; 99.9 %: +-63
    rt.alias_set("greet", "live", 2)                        # promote
    assert all(rt.invoke_response("greet:live", {}).record.version == 2 for _ in range(50))


def test_update_code_runs_the_new_code_and_reports_status(rt, tmp_path):
    live = tmp_path / "greet.so"
    live.write_bytes(open(_module("greet.so"), "rb").read())
    rt.register_module("greet", str(live), "greet")
    assert rt.invoke("greet", {}) == {"greeting": "hello"}
    assert rt.update_status("greet").status is None             # as registered
    st = rt.update_code("greet", _module("greet_v2.so"))
    assert isinstance(st, faas.UpdateStatus)
    assert st.status == "Successful" and st.updates == 1 and len(st.code_sha256) == 44
    assert rt.invoke("greet", {}) == {"greeting": "Hello!", "version": 2}
    # Code without the handler's symbol: LoadError with the reason, the old code serves.
    with pytest.raises(faas.LoadError):
        rt.update_code("greet", _module("echo.so"))
    st = rt.update_status("greet")
    assert st.status == "Failed" and st.failures == 1 and "greet" in st.reason
    assert rt.invoke("greet", {}) == {"greeting": "Hello!", "version": 2}
    rt.register("host", lambda event, context: 1)
    with pytest.raises(faas.NotSupported):
        rt.update_code("host", _module("echo.so"))
