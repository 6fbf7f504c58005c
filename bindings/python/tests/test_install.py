"""pip installs the package offline (a venv that sees Debian's setuptools, no index), and the
installed package finds libfaas at FAAS_LIBRARY; a FAAS_LIBRARY that is not libfaas is an
ImportError that says what to do."""

import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "LD_PRELOAD", "PIP_INDEX_URL", "PIP_FIND_LINKS")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
    return env


def test_pip_installs_it_offline(tmp_path):
    if subprocess.run([sys.executable, "-c", "import setuptools, venv, ensurepip"],
                      capture_output=True).returncode != 0:
        pytest.skip("needs python3-venv and python3-setuptools")
    # A copy: pip builds in the source directory, which may be read-only (make distcheck).
    src = tmp_path / "src"
    shutil.copytree(HERE, src, ignore=shutil.ignore_patterns("tests", "__pycache__",
                                                             "build", "*.egg-info"))
    venv = tmp_path / "venv"
    env = clean_env()
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                   check=True, env=env, capture_output=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-index",
                          "--no-build-isolation", str(src)],
                         env=env, capture_output=True, text=True, cwd=str(tmp_path))
    assert pip.returncode == 0, pip.stdout + pip.stderr
    # The installed copy, not the source tree: no PYTHONPATH, run from elsewhere.
    env = clean_env(FAAS_LIBRARY=os.environ["FAAS_LIBRARY"])
    if os.environ.get("LD_PRELOAD"):
        env["LD_PRELOAD"] = os.environ["LD_PRELOAD"]        # a sanitizer build's libfaas
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import faas; rt = faas.Runtime(workers=1); "
         "rt.register('f', lambda e, c: e['x'] + 1); "
         "print(faas.__file__); print(rt.invoke('f', {'x': 41})); rt.close()"],
        env=env, capture_output=True, text=True, cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr
    path, answer = out.stdout.split()
    assert path.startswith(str(venv)) and answer == "42"


def test_faas_library_that_is_not_libfaas(tmp_path):
    env = clean_env(FAAS_LIBRARY=str(tmp_path / "nowhere.so"),
                    PYTHONPATH=HERE)
    out = subprocess.run([sys.executable, "-c", "import faas"], env=env,
                         capture_output=True, text=True)
    assert out.returncode != 0
    assert "ImportError" in out.stderr and "FAAS_LIBRARY" in out.stderr
