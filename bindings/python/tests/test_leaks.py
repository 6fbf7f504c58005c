"""No reference or memory leaks across many calls (FAAS_STRESS_SCALE x 100,000): the objects
a call touches keep their reference counts, and traced Python memory does not grow with the
number of calls, on the success, error and asynchronous paths."""

import gc
import sys
import tracemalloc

import pytest

import faas
from conftest import scaled


def measure(calls, run):
    """Python memory (bytes) that CALLS more calls leave behind, after a warm-up."""
    for _ in range(1000):
        run()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(calls):
            run()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def budget(calls):
    # A leak of one small object a call (an int is 28 bytes) is 14x this; noise is a few KB.
    return 8192 + 2 * calls


def test_sync_calls_leak_nothing(rt):
    event = {"k": [1, 2, 3], "s": "text"}
    result = {"ok": True}

    def handler(e, context):
        context.aws_request_id
        return result

    rt.register("leak", handler)
    refs = [sys.getrefcount(o) for o in (event, result, handler)]
    n = scaled(100000)
    grown = measure(n, lambda: rt.invoke("leak", event))
    assert [sys.getrefcount(o) for o in (event, result, handler)] == refs
    assert grown < budget(n), "%d bytes left by %d calls" % (grown, n)


def test_failing_calls_leak_nothing(rt):
    def handler(event, context):
        raise KeyError("missing")

    rt.register("fails", handler)

    def run():
        try:
            rt.invoke("fails")
        except faas.FunctionError:
            pass

    n = scaled(5000)            # a traceback each: slow under tracemalloc
    grown = measure(n, run)
    assert grown < budget(n), "%d bytes left by %d failing calls" % (grown, n)


def test_async_calls_leak_nothing(rt):
    rt.register("a", lambda event, context: event)
    n = scaled(10000)
    grown = measure(n, lambda: rt.invoke_async("a", 1).result(10))
    assert grown < budget(n), "%d bytes left by %d async calls" % (grown, n)
    assert rt._core.pending == {}


def test_a_dropped_runtime_is_freed():
    import weakref
    runtime = faas.Runtime(workers=1)
    runtime.register("f", lambda e, c: 1)
    core = weakref.ref(runtime._core)
    del runtime
    gc.collect()
    assert core() is None
