"""No reference or memory leaks across many calls (FAAS_STRESS_SCALE x 100,000): the objects
a call touches keep their reference counts, and traced Python memory does not grow with the
number of calls, on the success, error and asynchronous paths."""

import gc
import sys
import threading
import time
import tracemalloc
import weakref

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


def test_refused_async_calls_leave_no_future_behind():
    runtime = faas.Runtime(workers=1)
    runtime.register("f", lambda e, c: 1)
    with pytest.raises(TypeError):
        runtime.invoke_async(b"f")              # a name is a str
    with pytest.raises(faas.NotFound):
        runtime.invoke_async("missing")
    runtime.close()
    with pytest.raises(faas.Shutdown):
        runtime.invoke_async("f")
    assert runtime._core.pending == {}


def test_a_dropped_runtime_is_freed():
    runtime = faas.Runtime(workers=1)
    runtime.register("f", lambda e, c: 1)
    core = weakref.ref(runtime._core)
    del runtime
    gc.collect()
    assert core() is None


class _CollectingClock:
    """The system clocks; once armed, the first read on a thread other than this one runs
    a garbage collection there (as an allocation inside any callback may)."""

    def __init__(self):
        self.armed = False
        self.collected = threading.Event()
        self._main = threading.get_ident()

    def monotonic_ns(self):
        if self.armed and threading.get_ident() != self._main:
            self.armed = False
            gc.collect()
            self.collected.set()
        return time.monotonic_ns()

    def time_ns(self):
        return time.time_ns()


def test_a_runtime_collected_on_its_own_worker_is_freed_elsewhere():
    # A runtime in a reference cycle (its handler refers to it) is freed by the garbage
    # collector on whichever thread it runs: here one of the runtime's own workers, in a
    # callback (the clock read after the handler returns). Freed there, it waited for
    # itself and the call never completed.
    clock = _CollectingClock()
    go = threading.Event()
    gc.disable()                        # only the collection on the worker
    try:
        runtime = faas.Runtime(workers=1, clock=clock)

        def handler(event, context, runtime=runtime):
            go.wait()
            return 7

        runtime.register("f", handler)
        core = weakref.ref(runtime._core)
        future = runtime.invoke_async("f")
        del runtime, handler
        clock.armed = True
        go.set()
        assert future.result(10) == 7
        assert clock.collected.is_set()
    finally:
        gc.enable()
    faas.Runtime(workers=1).close()     # frees what was dropped where it could not be
    gc.collect()
    assert core() is None
