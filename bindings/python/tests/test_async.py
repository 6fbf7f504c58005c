"""Asynchronous calls: concurrent.futures futures completed from worker threads, asyncio,
retries and dead letters, draining on exit, shutdown, manual mode; and Python threads."""

import asyncio
import concurrent.futures
import json
import threading

import pytest

import faas
from conftest import scaled


def test_invoke_async_returns_a_future(rt):
    rt.register("double", lambda event, context: event * 2)
    future = rt.invoke_async("double", 21)
    assert isinstance(future, concurrent.futures.Future)
    assert len(future.request_id) == 36
    assert future.result(10) == 42
    assert not future.cancel()                  # an accepted call cannot be withdrawn


def test_async_handlers_run_on_worker_threads(rt):
    main = threading.get_ident()
    rt.register("where", lambda event, context: threading.get_ident())
    assert rt.invoke("where") == main
    assert rt.invoke_async("where").result(10) != main


def test_a_failed_async_call_sets_the_exception(rt):
    def handler(event, context):
        raise RuntimeError("async boom")

    rt.register("boom", handler, max_retries=0)
    future = rt.invoke_async("boom")
    with pytest.raises(faas.FunctionError) as info:
        future.result(10)
    assert info.value.error_type == "RuntimeError"
    assert info.value.request_id == future.request_id
    assert isinstance(future.exception(), faas.FunctionError)


def test_refused_async_calls_raise_at_once(rt):
    with pytest.raises(faas.NotFound):
        rt.invoke_async("nobody")


def test_asyncio_awaits_it(rt):
    rt.register("square", lambda event, context: event["n"] ** 2)

    async def main():
        futures = [asyncio.wrap_future(rt.invoke_async("square", {"n": n})) for n in range(20)]
        return await asyncio.gather(*futures)

    assert asyncio.run(main()) == [n * n for n in range(20)]


def test_the_context_manager_drains_on_exit():
    done = []
    with faas.Runtime(workers=2) as rt:
        rt.register("note", lambda event, context: done.append(event))
        futures = [rt.invoke_async("note", n) for n in range(scaled(200))]
    assert sorted(done) == list(range(scaled(200)))       # all ran before close
    assert all(f.done() and f.exception() is None for f in futures)


def test_close_completes_queued_calls_with_shutdown():
    rt = faas.Runtime(manual=True)                 # nothing runs until run_pending
    rt.register("never", lambda event, context: "ran")
    futures = [rt.invoke_async("never") for _ in range(5)]
    assert not any(f.done() for f in futures)
    rt.close()
    for f in futures:
        with pytest.raises(faas.Shutdown):
            f.result(0)


def test_manual_mode_runs_on_this_thread(manual_rt):
    main = threading.get_ident()
    manual_rt.register("where", lambda event, context: threading.get_ident())
    future = manual_rt.invoke_async("where")
    assert not future.done()
    assert manual_rt.run_pending() == 1
    assert future.result(0) == main


def test_retries_then_the_dead_letter_gets_lambdas_record():
    letters = []
    attempts = []
    with faas.Runtime(manual=True, retry_base_ms=1, retry_cap_ms=2) as rt:
        rt.register("dlq", lambda event, context: letters.append(event))

        def flaky(event, context):
            attempts.append(context.aws_request_id)
            raise ConnectionError("upstream down")

        rt.register("flaky", flaky, max_retries=2, dead_letter="dlq")
        future = rt.invoke_async("flaky", {"order": 7})
        assert rt.drain(10000)
        with pytest.raises(faas.FunctionError):
            future.result(0)
    assert attempts == [future.request_id] * 3            # one id, three attempts
    (letter,) = letters
    assert letter["requestContext"]["condition"] == "RetriesExhausted"
    assert letter["requestContext"]["approximateInvokeCount"] == 3
    assert letter["requestPayload"] == {"order": 7}
    body = letter["responsePayload"]
    assert body["errorType"] == "ConnectionError"
    assert body["stackTrace"] and "in flaky" in body["stackTrace"][0]


def test_four_python_threads_invoking_at_once(rt):
    n = scaled(2000)

    @rt.function("add", max_concurrency=4)
    def add(event, context):
        return event["a"] + event["b"]

    barrier = threading.Barrier(4)
    failures = []

    def worker(t):
        barrier.wait()
        for i in range(n):
            try:
                if rt.invoke("add", {"a": t, "b": i}) != t + i:
                    failures.append((t, i))
            except faas.Throttled:
                pass                     # four callers, four instances: never expected
            except Exception as e:       # noqa: BLE001 - collected, asserted below
                failures.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert failures == []
    s = rt.stats("add")
    assert s.invocations + s.throttles == 4 * n
    assert s.throttles == 0
    assert s.errors == 0 and s.instances_live <= 4


def test_threads_and_workers_together(rt):
    n = scaled(1000)
    rt.register("id", lambda event, context: event)
    results, failures = [], []
    lock = threading.Lock()

    def caller(t):
        try:
            futures = [rt.invoke_async("id", [t, i]) for i in range(n)]
            local = [rt.invoke("id", [t, -i]) for i in range(n)]
            local += [f.result(60) for f in futures]
        except Exception as e:      # noqa: BLE001 - asserted below, with what it was
            with lock:
                failures.append(repr(e))
            return
        with lock:
            results.extend(local)

    threads = [threading.Thread(target=caller, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert failures == []
    assert len(results) == 4 * 2 * n
    assert sorted(map(json.dumps, results)) == sorted(
        json.dumps([t, s * i]) for t in range(4) for i in range(n) for s in (1, -1))


def test_close_from_a_done_callback_is_refused():
    # The callback runs on one of the runtime's workers: freeing the runtime there joined
    # that worker from itself and freed the runtime under it (heap use after free).
    runtime = faas.Runtime(workers=1)
    go = threading.Event()
    runtime.register("f", lambda e, c: go.wait() and 1)
    refused = []

    def close_it(future):
        try:
            runtime.close()
        except RuntimeError as e:
            refused.append(str(e))

    future = runtime.invoke_async("f")
    future.add_done_callback(close_it)     # before it is done: it runs on the worker
    go.set()
    assert future.result(10) == 1
    runtime.drain()
    assert refused == ["faas: rt.close() from inside a callback of the library"]
    assert runtime.invoke("f") == 1
    runtime.close()
