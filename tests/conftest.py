import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from brian_decolle import compile_cache, devices


@pytest.fixture(autouse=True)
def runtime_numpy():
    """Every test starts on Brian2's runtime device with the numpy target (no compile wait)."""
    devices.select("runtime", codegen_target="numpy")
    yield


#: the mark of the tests that read the ``trained`` run below: they run on one worker, which trains it once
SHARES_TRAINED = pytest.mark.xdist_group("trained")


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """One uninterrupted run of test_classification.py's stripes task on the runtime device (its output folder,
    read only), which the resume and checkpoint tests compare with and copy. A session fixture: a module fixture
    is built again whenever a worker's order interleaves modules. Tests that read it carry SHARES_TRAINED."""
    from test_classification import CFG, RUNTIME, SCHEDULE, Stripes

    from brian_decolle.training import train_and_test

    out = tmp_path_factory.mktemp("trained")
    train_and_test(CFG, SCHEDULE, Stripes(), out, target=RUNTIME, report=lambda line: None)
    return out


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def poisson(rng, n_steps, n_inputs, p=0.1):
    return (rng.random((n_steps, n_inputs)) < p).astype(float)


def pytest_collection_modifyitems(config, items):
    """The slowest tests (tests/slowest.txt) start first: pytest-xdist hands tests to the workers in this
    order, and a long test started last keeps one core busy alone after the other has finished."""
    lines = (Path(__file__).parent / "slowest.txt").read_text().splitlines()
    first = {name: k for k, name in enumerate(line for line in lines if line and not line.startswith("#"))}
    # (pytest's durations cut an id at its first space; a stable sort: the rest keep their order)
    items.sort(key=lambda item: first.get(item.nodeid.split(" ")[0], len(first)))


def pytest_configure(config):
    """The suite's builds share a cache of compiled objects of their own (brian_decolle.compile_cache), empty
    at the start of every run: a test never reads objects of an earlier run or of the user's studies. The
    environment variable reaches pytest-xdist's workers (started after this) and the studies' subprocesses."""
    if compile_cache.ENVIRONMENT not in os.environ:
        config.compile_cache = tempfile.mkdtemp(prefix="brian-decolle-test-objects-")
        os.environ[compile_cache.ENVIRONMENT] = config.compile_cache


def pytest_unconfigure(config):
    if getattr(config, "compile_cache", None):
        shutil.rmtree(config.compile_cache, ignore_errors=True)
        del os.environ[compile_cache.ENVIRONMENT]


def pytest_sessionfinish(session, exitstatus):
    """Collecting no test at all is a failure, never a pass."""
    if exitstatus == 5:
        session.exitstatus = 1


ROOT = Path(__file__).resolve().parent.parent


def run_study(name, *args, timeout=900):
    """Run studies/<name>.py as a user would, from the repository root."""
    return subprocess.run([sys.executable, str(ROOT / "studies" / f"{name}.py"), *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)
