#!/usr/bin/python3
"""bindings_python.py - the Python binding's warm call against calling the function directly.

Side by side in one process run, round-robin over the cases (rep 1 of every case, then rep
2, ...), the median [min-max] of the reps in microseconds per call and the ratio of
medians to the direct call:

  direct      hello(event, None): the Python function, called directly
  json        the same with the JSON boundary a call has: json.dumps(event), json.loads,
              the call, json.dumps(result), json.loads - the floor of any JSON-speaking call
  invoke      rt.invoke("hello", event): a warm libfaas call of the Python handler
  invoke_c    rt.invoke("echo", event): a warm call of echo.so (C), from Python: the
              binding's cost without a Python handler
  async       rt.invoke_async("hello", event).result(): a worker runs it, one at a time

Run from a build directory with FAAS_LIBRARY=libfaas/.libs/libfaas.so.0 and
PYTHONPATH=SRCDIR/bindings/python (make bench-bindings does this).
  --reps N (default 9), --iters N (default 20000; async: a tenth), --only A,B (cases)
callgrind_bindings.sh counts instructions per call with --only CASE --reps 1.
"""

import argparse
import json
import os
import statistics
import time

import faas


def hello(event, context):
    return {"greeting": "hi " + event["name"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--iters", type=int, default=20000)
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    event = {"name": "x", "n": 1}

    rt = faas.Runtime(workers=1)
    rt.register("hello", hello)
    modules = os.environ.get("FAAS_MODULE_DIR", "examples/modules/.libs")
    echo = os.path.join(modules, "echo.so")
    have_echo = os.path.exists(echo)
    if have_echo:
        rt.register_module("echo", echo, "echo")

    def direct():
        hello(event, None)

    def with_json():
        json.loads(json.dumps(hello(json.loads(json.dumps(event)), None)))

    def invoke():
        rt.invoke("hello", event)

    def invoke_c():
        rt.invoke("echo", event)

    def async_():
        rt.invoke_async("hello", event).result()

    cases = [("direct", direct, 1), ("json", with_json, 1), ("invoke", invoke, 1)]
    if have_echo:
        cases.append(("invoke_c", invoke_c, 1))
    cases.append(("async", async_, 10))
    if args.only:
        cases = [c for c in cases if c[0] in args.only.split(",")]

    for name, fn, div in cases:                 # warm-up: instances, caches, allocator
        for _ in range(max(1, 2000 // div)):
            fn()
    results = {name: [] for name, _, _ in cases}
    for _ in range(args.reps):
        for name, fn, div in cases:
            n = max(1, args.iters // div)
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            results[name].append((time.perf_counter() - t0) / n * 1e6)
    rt.close()

    base = statistics.median(results["direct"]) if "direct" in results else float("nan")
    print("libfaas %s, Python binding %s, %d reps, median [min-max] us per call"
          % (faas.library_version(), faas.__version__, args.reps))
    for name, _, _ in cases:
        r = results[name]
        med = statistics.median(r)
        print("  %-9s %9.3f us [%.3f-%.3f]  %7.1fx direct" % (name, med, min(r), max(r),
                                                            med / base))
    if "invoke" in results and "json" in results:
        print("  invoke - json: %.2f us is the binding and libfaas (ctypes in and out, the "
              "context, the record)" % (statistics.median(results["invoke"]) -
                                        statistics.median(results["json"])))


if __name__ == "__main__":
    main()
