"""Failures: exceptions become Lambda's error body; each status raises its own class; a
handler that raises (even SystemExit) never takes the host down."""

import os
import threading
import time

import pytest

import faas


class ValidationError(Exception):
    pass


def test_an_exception_is_a_function_error_with_its_trace(rt):
    def check(event):
        if "id" not in event:
            raise ValidationError("id is required")

    def handler(event, context):
        check(event)
        return "ok"

    rt.register("validate", handler)
    with pytest.raises(faas.FunctionError) as info:
        rt.invoke("validate", {"name": "x"})
    e = info.value
    assert type(e) is faas.FunctionError
    assert (e.status, e.code) == (-7, "EHANDLER")
    assert e.error_type == "ValidationError"
    assert e.error_message == "id is required"
    assert [line.split(", in ")[1].split("\n")[0] for line in e.stack_trace] == ["handler",
                                                                                 "check"]
    assert e.body["errorType"] == "ValidationError"
    assert e.record.status == -7 and e.request_id == e.record.request_id
    assert "[ERROR] ValidationError: id is required" in e.log_tail
    assert "ValidationError: id is required" in str(e) and "in check" in str(e)
    assert rt.invoke("validate", {"id": 1}) == "ok"      # the next call is fine


def test_messages_are_str_of_the_exception(rt):
    def handler(event, context):
        raise ValueError(42)

    rt.register("v", handler)
    with pytest.raises(faas.FunctionError) as info:
        rt.invoke("v")
    assert (info.value.error_type, info.value.error_message) == ("ValueError", "42")


@pytest.mark.parametrize("exc", [SystemExit(3), KeyboardInterrupt(), GeneratorExit()])
def test_even_base_exceptions_do_not_take_the_host_down(rt, exc):
    def handler(event, context):
        raise exc

    rt.register("bye", handler)
    with pytest.raises(faas.FunctionError) as info:
        rt.invoke("bye")
    assert info.value.error_type == type(exc).__name__
    with pytest.raises(faas.FunctionError):
        rt.invoke_async("bye").result(10)                  # on a worker thread too
    assert threading.active_count() >= 1


def test_timeout(rt):
    @rt.function("slow", timeout_ms=10)
    def slow(event, context):
        end = time.monotonic() + 0.03                      # the work overruns its deadline
        while time.monotonic() < end:
            pass
        return "too late"

    with pytest.raises(faas.Timeout) as info:
        rt.invoke("slow")
    e = info.value
    assert isinstance(e, faas.FunctionError)
    assert e.error_type == "Sandbox.Timedout"
    assert e.error_message == "Task timed out after 0.01 seconds"
    assert rt.stats("slow").timeouts == 1
    res = rt.invoke_response("slow")                       # its instance was retired:
    assert res.record.cold                                 # the next call is cold


def test_throttled_at_max_concurrency(rt):
    gate, inside = threading.Event(), threading.Event()

    @rt.function("single", max_concurrency=1)
    def single(event, context):
        inside.set()
        gate.wait(10)
        return "held"

    held = rt.invoke_async("single")
    assert inside.wait(10)
    with pytest.raises(faas.Throttled) as info:
        rt.invoke("single")
    assert info.value.code == "ETHROTTLED"
    assert "concurrency limit of 1" in info.value.message
    gate.set()
    assert held.result(10) == "held"
    assert rt.stats("single").throttles == 1


def test_service_errors(rt):
    with pytest.raises(faas.NotFound) as info:
        rt.invoke("nobody")
    assert isinstance(info.value, LookupError)
    with pytest.raises(faas.InvalidArgument):
        rt.invoke("no/slashes")
    with pytest.raises(faas.InvalidArgument):
        faas.Runtime(price_model="no-such-cloud")


def test_payload_and_reply_limits():
    with faas.Runtime(workers=1, max_payload_sync=100, max_payload_async=50) as rt:
        rt.register("echo", lambda event, context: event)
        with pytest.raises(faas.TooLarge):
            rt.invoke("echo", "x" * 200)
        with pytest.raises(faas.TooLarge):
            rt.invoke_async("echo", "x" * 60)
        rt.register("big", lambda event, context: "y" * 200)
        with pytest.raises(faas.FunctionError) as info:
            rt.invoke("big")
        assert info.value.error_type == "Function.ResponseSizeTooLarge"


def test_a_closed_runtime_refuses_calls():
    rt = faas.Runtime(workers=1)
    rt.register("f", lambda e, c: 1)
    rt.close()
    rt.close()                                              # twice is harmless
    with pytest.raises(faas.Shutdown):
        rt.invoke("f")
    with pytest.raises(faas.Shutdown):
        rt.register("g", lambda e, c: 1)


def test_one_class_per_status():
    classes = [faas.FunctionError, faas.Timeout, faas.OutOfMemory, faas.Crashed,
               faas.LoadError, faas.InitError, faas.InvalidArgument, faas.NoMemory,
               faas.NotFound, faas.AlreadyExists, faas.Throttled, faas.TooLarge, faas.Busy,
               faas.Shutdown, faas.BudgetExceeded, faas.NotSupported]
    assert len({c.status for c in classes}) == len(classes)
    assert all(issubclass(c, faas.FaasError) for c in classes)
    assert all(c.status < 0 for c in classes)


def test_an_init_failure_of_a_module(rt):
    mods = os.environ.get("FAAS_TEST_MODULES")
    if not mods or not os.path.exists(os.path.join(mods, "mod_initfail.so")):
        pytest.skip("FAAS_TEST_MODULES does not hold mod_initfail.so")
    rt.register_module("initfail", os.path.join(mods, "mod_initfail.so"), "handler")
    with pytest.raises(faas.InitError) as info:
        rt.invoke("initfail")
    assert info.value.error_type == "Runtime.InitError"


def isolated_fixture():
    mods = os.environ.get("FAAS_TEST_MODULES")
    path = mods and os.path.join(mods, "mod_misbehave.so")
    if not path or not os.path.exists(path):
        pytest.skip("FAAS_TEST_MODULES does not hold mod_misbehave.so")
    return path


def test_an_isolated_module_that_crashes_is_faas_crashed(rt):
    path = isolated_fixture()
    try:
        rt.register_module("crash", path, "null_deref", isolation="process")
    except faas.NotSupported:
        pytest.skip("libfaas was built without process isolation")
    with pytest.raises(faas.Crashed) as info:
        rt.invoke("crash")
    assert isinstance(info.value, faas.FunctionError)
    assert info.value.error_type == "Runtime.ExitError"
    rt.register_module("echo_iso", path, "echo", isolation="process", seccomp="strict")
    assert rt.invoke("echo_iso", {"a": [1]}) == {"a": [1]}     # the host lives on


def test_isolation_settings_are_named():
    with faas.Runtime(workers=1) as rt:
        with pytest.raises(ValueError, match="isolation must be one of"):
            rt.register_module("x", "x.so", "x", isolation="vm")
        with pytest.raises(ValueError, match="seccomp must be one of"):
            rt.register_module("x", "x.so", "x", seccomp="lenient")
