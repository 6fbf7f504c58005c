"""Fixtures of the faas binding's tests: a runtime per test, the stress scale, and the
libfaas example modules' directory. The suite runs with FAAS_LIBRARY pointing at the
libfaas under test (tests/bindings_python.sh sets it)."""

import os

import pytest

import faas


def scaled(n):
    """n scaled by FAAS_STRESS_SCALE (CI lowers it under sanitizers and valgrind)."""
    return max(1, int(n * float(os.environ.get("FAAS_STRESS_SCALE", "1"))))


@pytest.fixture
def rt():
    with faas.Runtime(workers=2) as runtime:
        yield runtime


@pytest.fixture
def manual_rt():
    runtime = faas.Runtime(manual=True)
    yield runtime
    runtime.close()


@pytest.fixture
def module_dir():
    path = os.environ.get("FAAS_MODULE_DIR")
    if not path or not os.path.exists(os.path.join(path, "echo.so")):
        pytest.skip("FAAS_MODULE_DIR does not hold the example modules (echo.so)")
    return path
