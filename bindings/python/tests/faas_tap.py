"""A pytest plugin: writes one TAP line per test case to --tap-file (for automake's TAP
driver, through tests/bindings_python.sh), so that each pytest case counts as one test.

A case is "not ok" if its setup, call or teardown failed, "ok ... # SKIP" if it was skipped,
and "ok" otherwise; a module that failed to import is one "not ok" case."""

import collections

import pytest


def pytest_addoption(parser):
    parser.addoption("--tap-file", default=None, help="write TAP results to this file")


class _Tap:
    def __init__(self, path):
        self.path = path
        self.results = collections.OrderedDict()    # nodeid -> (state, detail)

    def _set(self, nodeid, state, detail=""):
        old = self.results.get(nodeid)
        if old is not None and old[0] == "fail":
            return                                  # a failure is never overwritten
        self.results[nodeid] = (state, detail)

    @pytest.hookimpl
    def pytest_collectreport(self, report):
        if report.failed:
            self._set("collect " + report.nodeid, "fail", str(report.longrepr))

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report):
        if report.failed:
            self._set(report.nodeid, "fail", str(report.longrepr))
        elif report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
            self._set(report.nodeid, "skip", reason)
        elif report.when == "call":
            self._set(report.nodeid, "pass")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session):
        lines = []
        for n, (nodeid, (state, detail)) in enumerate(self.results.items(), 1):
            name = nodeid.replace("#", "")
            if state == "pass":
                lines.append("ok %d - %s" % (n, name))
            elif state == "skip":
                lines.append("ok %d - %s # SKIP %s" % (n, name, detail.replace("\n", " ")))
            else:
                lines.append("not ok %d - %s" % (n, name))
                lines.extend("# " + line for line in detail.splitlines())
        lines.append("1..%d" % len(self.results))
        with open(self.path, "w") as f:
            f.write("\n".join(lines) + "\n")


def pytest_configure(config):
    path = config.getoption("--tap-file")
    if path:
        config.pluginmanager.register(_Tap(path), "faas-tap-writer")
