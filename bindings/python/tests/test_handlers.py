"""Python handlers with Lambda's signature: registration, events and results, the context
object, the call's log, records and stats, modules."""

import json
import logging
import math
import os
import re

import pytest

import faas


def test_decorator_registers_and_leaves_the_function_callable(rt):
    @rt.function("hello", memory_mb=256, timeout_ms=3000, max_concurrency=4)
    def hello(event, context):
        return {"greeting": "hi " + event["name"]}

    assert rt.invoke("hello", {"name": "x"}) == {"greeting": "hi x"}
    assert hello({"name": "direct"}, None) == {"greeting": "hi direct"}


def test_decorator_without_a_name_uses_the_functions(rt):
    @rt.function()
    def first(event, context):
        return 1

    @rt.function
    def second(event, context):
        return 2

    assert rt.invoke("first") == 1
    assert rt.invoke("second") == 2


def test_register_takes_the_config_as_keywords(rt):
    rt.register("sized", lambda event, context: context.memory_limit_in_mb, memory_mb=512)
    assert rt.invoke("sized") == "512"          # a str, as Lambda's runtime gives it


def test_unknown_setting_or_bad_value_is_refused(rt):
    with pytest.raises(TypeError, match="memory_mbs"):
        rt.register("f", lambda e, c: None, memory_mbs=128)
    with pytest.raises(ValueError):
        rt.register("f", lambda e, c: None, timeout_ms=-1)
    with pytest.raises(faas.InvalidArgument):
        rt.register("f", lambda e, c: None, memory_mb=0)
    with pytest.raises(faas.InvalidArgument):
        rt.register("bad name", lambda e, c: None)
    with pytest.raises(TypeError):
        rt.register("f", "not callable")


def test_a_name_is_registered_once(rt):
    rt.register("once", lambda e, c: None)
    with pytest.raises(faas.AlreadyExists):
        rt.register("once", lambda e, c: None)
    assert rt.invoke("once") is None            # the first registration is untouched


def test_events_are_decoded_json_or_bytes(rt):
    rt.register("what", lambda event, context: repr(event))
    assert rt.invoke("what", {"a": [1, 2.5, None, True]}) == "{'a': [1, 2.5, None, True]}"
    assert rt.invoke("what", "text") == "'text'"
    assert rt.invoke("what", None) == "None"
    assert rt.invoke("what", b'{"raw": 1}') == "{'raw': 1}"    # bytes are sent as they are
    assert rt.invoke("what", b"\x89PNG\r\n") == repr(b"\x89PNG\r\n")  # not JSON: bytes
    assert rt.invoke("what") == "{}"            # no payload: {} (as SAM's emulator)


def test_results_are_json_encoded_or_raw_bytes(rt):
    rt.register("ret", lambda event, context: event["value"])
    assert rt.invoke("ret", {"value": {"k": [1, "é"]}}) == {"k": [1, "é"]}
    assert rt.invoke("ret", {"value": None}) is None
    rt.register("raw", lambda event, context: b"\x00\x01 not json")
    assert rt.invoke("raw") == b"\x00\x01 not json"
    res = rt.invoke_response("ret", {"value": "é"})
    assert res.payload == '"é"'.encode()        # UTF-8, not \u escapes


def test_an_unserialisable_result_is_a_marshal_error(rt):
    rt.register("sets", lambda event, context: {1, 2})
    with pytest.raises(faas.FunctionError) as info:
        rt.invoke("sets")
    assert info.value.error_type == "Runtime.MarshalError"
    assert "Unable to marshal response" in info.value.error_message
    assert "set is not JSON serializable" in info.value.error_message


def test_context_has_lambdas_attributes(rt):
    seen = {}

    @rt.function("ctx", memory_mb=384, timeout_ms=5000)
    def ctx(event, context):
        seen["remaining"] = context.get_remaining_time_in_millis()
        for name in ("aws_request_id", "function_name", "function_version",
                     "memory_limit_in_mb", "invoked_function_arn", "log_group_name",
                     "log_stream_name", "client_context", "identity"):
            seen[name] = getattr(context, name)
        return context.aws_request_id

    res = rt.invoke_response("ctx")
    assert res.result == seen["aws_request_id"] == res.record.request_id
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                        seen["aws_request_id"])
    assert seen["function_name"] == "ctx"
    assert seen["function_version"] == "$LATEST"
    assert seen["memory_limit_in_mb"] == "384"
    assert seen["invoked_function_arn"] == "arn:aws:lambda:us-east-1:000000000000:function:ctx"
    assert seen["log_group_name"] == "/aws/lambda/ctx"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", seen["log_stream_name"])
    assert seen["client_context"] is None and seen["identity"] is None
    assert 0 < seen["remaining"] <= 5000


def test_each_instance_has_its_own_log_stream(rt):
    import threading
    gate, inside = threading.Event(), threading.Event()

    @rt.function("streams")
    def streams(event, context):
        if event.get("hold"):
            inside.set()
            gate.wait(10)
        return context.log_stream_name

    held = rt.invoke_async("streams", {"hold": True})
    assert inside.wait(10)
    other = rt.invoke("streams")                 # a second instance: the first is busy
    gate.set()
    assert held.result(10) != other
    assert rt.invoke("streams") in (held.result(), other)     # a warm one is reused


def test_print_and_logging_go_to_the_calls_log(rt, capsys):
    logger = logging.getLogger("faas-test")
    logger.setLevel(logging.INFO)

    @rt.function("chatty")
    def chatty(event, context):
        print("line one")
        print("partial", end="")
        print(" and the rest")
        logger.info("a %s record", "logging")
        context.log("from context.log\n")
        return "done"

    res = rt.invoke_response("chatty")
    lines = res.log_tail.splitlines()
    assert lines[0] == "line one"
    assert lines[1] == "partial and the rest"
    assert re.fullmatch(r"\[INFO\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t%s\t"
                        r"a logging record" % res.record.request_id, lines[2])
    assert lines[3] == "from context.log"
    assert len(lines) == 4
    print("outside a handler")
    assert capsys.readouterr().out == "outside a handler\n"    # nothing leaked, nothing lost


def test_output_can_be_left_alone():
    with faas.Runtime(workers=1, capture_output=False) as runtime:
        runtime.register("quiet", lambda e, c: c.log("only this") or 1)
        assert runtime.invoke_response("quiet").log_tail == "only this\n"


def test_log_sink_gets_awss_lines():
    lines = []
    with faas.Runtime(workers=1, log=lines.append) as runtime:
        runtime.register("f", lambda e, c: print("hello"))
        rid = runtime.invoke_response("f").record.request_id
    assert lines[0] == "START RequestId: %s Version: $LATEST" % rid
    assert lines[1] == "hello"
    assert lines[2] == "END RequestId: %s" % rid
    assert lines[3].startswith("REPORT RequestId: %s\tDuration: " % rid)


def test_records_are_dataclasses_and_the_hook_sees_each(rt):
    got = []
    rt.on_record(got.append)
    rt.register("rec", lambda e, c: "x", memory_mb=256, tag="team-a")
    rt.invoke("rec")
    rt.invoke("rec")
    rt.on_record(None)
    rt.invoke("rec")
    assert len(got) == 2
    first, second = got
    assert isinstance(first, faas.Record)
    assert (first.function, first.tag, first.memory_mb, first.status) == ("rec", "team-a", 256, 0)
    assert first.cold and not second.cold
    assert first.billed_ms >= 1 and first.cost_picousd > 0 and first.ok
    assert first.report().startswith("REPORT RequestId: %s\tDuration: " % first.request_id)
    assert "Init Duration" in first.report() and "Init Duration" not in second.report()


def test_stats_and_warm(rt):
    rt.register("w", lambda e, c: None, max_concurrency=3)
    rt.warm("w", 2)
    s = rt.stats("w")
    assert isinstance(s, faas.Stats)
    assert (s.instances_live, s.invocations, s.cold_starts) == (2, 0, 0)
    rt.invoke("w")
    s = rt.stats("w")
    assert (s.invocations, s.cold_starts, s.errors) == (1, 0, 0)   # warmed: not cold
    assert rt.stats().invocations >= 1
    with pytest.raises(faas.NotFound):
        rt.stats("nobody")
    with pytest.raises(faas.NotFound):
        rt.warm("nobody", 1)


def test_unregister(rt):
    rt.register("gone", lambda e, c: 1)
    rt.unregister("gone")
    with pytest.raises(faas.NotFound):
        rt.invoke("gone")
    with pytest.raises(faas.NotFound):
        rt.unregister("gone")
    rt.register("gone", lambda e, c: 2)
    assert rt.invoke("gone") == 2


def test_handlers_may_call_each_other(rt):
    rt.register("inner", lambda event, context: event * 2)
    rt.register("outer", lambda event, context: rt.invoke("inner", event) + 1)
    assert rt.invoke("outer", 20) == 41


def test_a_c_module_runs_beside_python_handlers(rt, module_dir):
    rt.register_module("echo", os.path.join(module_dir, "echo.so"), "echo", memory_mb=64)
    assert rt.invoke("echo", {"x": [1]}) == {"x": [1]}
    assert rt.invoke("echo", b"raw \xff") == b"raw \xff"
    rt.register_module("missing", os.path.join(module_dir, "no-such.so"), "f")
    with pytest.raises(faas.LoadError) as info:
        rt.invoke("missing")
    assert info.value.error_type == "Runtime.LoadError"


def test_a_c_handler_sees_a_nul_after_the_payload(rt):
    # The handler ABI: whatever Python passes (bytes, a slice of a bigger buffer, JSON, no
    # event), the C handler finds a NUL byte after the payload (mod_basic's `terminated`
    # fails the call otherwise) and never NULL.
    mods = os.environ.get("FAAS_TEST_MODULES")
    if not mods or not os.path.exists(os.path.join(mods, "mod_basic.so")):
        pytest.skip("FAAS_TEST_MODULES does not hold mod_basic.so")
    rt.register_module("term", os.path.join(mods, "mod_basic.so"), "terminated")
    big = bytearray(b"x" * 5001)
    for event in (b"abc", b"a\x00b", memoryview(big)[:5000], b"y" * 300):
        assert rt.invoke("term", event) == bytes(event)
    assert rt.invoke("term", {"k": "v"}) == {"k": "v"}
    assert rt.invoke("term") is None            # no payload: "" reaches the handler


def test_register_ffi_calls_an_existing_c_function(rt):
    # The libffi bridge (faas_register_ffi(3)): the event is the JSON array of arguments.
    rt.register_ffi("cos", "libm.so.6", "cos", "double (double)")
    assert rt.invoke("cos", [0]) == 1.0
    assert rt.invoke("cos", [math.pi]) == -1.0
    with pytest.raises(faas.InvalidArgument) as info:
        rt.invoke("cos", ["zero"])
    assert "double" in str(info.value)
    rt.register_ffi("strdup", None, "strdup", "faas_owned char *strdup(const char *)")
    assert rt.invoke("strdup", ["h\u00e9llo"]) == "h\u00e9llo"
    assert rt.stats("cos").invocations == 3
    with pytest.raises(faas.InvalidArgument):
        rt.register_ffi("bad", None, "cos", "double (")


def test_versions():
    assert re.fullmatch(r"\d+\.\d+\.\d+", faas.library_version())
    assert faas.__version__ == "0.1.0"


def test_the_error_body_is_lambdas(rt):
    def handler(event, context):
        return event["action"]

    rt.register("keyerror", handler)
    res = rt.invoke_response("keyerror", {})
    body = json.loads(res.payload)
    assert list(body) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert body["errorType"] == "KeyError" and body["errorMessage"] == "'action'"
    assert body["requestId"] == res.record.request_id
    assert len(body["stackTrace"]) == 1
    assert re.fullmatch(r'  File ".*test_handlers\.py", line \d+, in handler\n'
                        r'    return event\["action"\]\n'
                        r'( *[~^]+\n)?',                 # Python 3.11+ marks the spot
                        body["stackTrace"][0])
    assert res.log_tail.startswith("[ERROR] KeyError: 'action'\nTraceback (most recent call")


def test_client_context_is_lambdas_shape(rt):
    @rt.function("cc")
    def cc(event, context):
        c = context.client_context
        if c is None:
            return None
        return {"title": c.client.app_title if c.client else None, "custom": c.custom,
                "env": c.env}

    sent = {"client": {"app_title": "shop", "installation_id": "i-1"},
            "custom": {"tenant": "t1"}, "env": {"locale": "fr"}}
    assert rt.invoke("cc", {}, client_context=sent) == {
        "title": "shop", "custom": {"tenant": "t1"}, "env": {"locale": "fr"}}
    assert rt.invoke("cc", {}, client_context='{"custom": {}}') == {
        "title": None, "custom": {}, "env": None}
    assert rt.invoke("cc", {}) is None
    with pytest.raises(faas.InvalidArgument):
        rt.invoke("cc", {}, client_context="[1]")


def test_environment_through_the_context(rt):
    @rt.function("envfn", memory_mb=256, environment={"GREETING": "hello", "TZ": "Europe/Paris"})
    def envfn(event, context):
        e = context.environ
        return {"name": e["AWS_LAMBDA_FUNCTION_NAME"], "memory": e["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"],
                "greeting": context.getenv("GREETING"), "tz": e.get("TZ"),
                "host": context.getenv("PATH", "none"), "keys": sorted(e)}

    r = rt.invoke("envfn", {})
    assert r["name"] == "envfn" and r["memory"] == "256"
    assert r["greeting"] == "hello" and r["tz"] == "Europe/Paris" and r["host"] == "none"
    assert "GREETING" in r["keys"] and "AWS_REGION" in r["keys"] and "PATH" not in r["keys"]
    with pytest.raises(faas.InvalidArgument):
        rt.register("bad", envfn, environment={"AWS_LAMBDA_FUNCTION_NAME": "x"})
