"""What a long run tells its user while it runs: bars with rate and ETA, and how long a build takes.

Bars are tqdm's, on stderr. Into a log file (stderr not a terminal) a bar is written every
LOG_INTERVAL_S seconds, so that a long test is never silent there either. The one-line reports
(:func:`say`, printed above any bar) give the rest. A report is any callable taking one line; the
studies pass :func:`say` unless the caller gives its own.
"""
from __future__ import annotations

import contextlib
import sys
import time

from tqdm.auto import tqdm

from . import stopping

#: rough duration of generating and compiling each device's project on 2 cores, said before it
#: starts (measured with objects.h precompiled: the regression network's C++ project in 16 s, MNIST
#: small's in 12 s, DVS cpu's in 16 s, each twice that with another build beside it; runtime's Cython
#: compiles each code object on its first run and caches it)
BUILD_TIME = {"runtime": "up to a minute the first time (Cython, cached afterwards)",
              "cpp_standalone": "about 15-60 s on 2 cores",
              "cuda_standalone": "about 2-5 minutes (nvcc)"}


def say(line: str) -> None:
    """Print one line at once (also into a log file), above any progress bar."""
    tqdm.write(line)


#: seconds between two writes of a bar into a log file
LOG_INTERVAL_S = 30.0


def _interval() -> float:
    return 0.1 if sys.stderr.isatty() else LOG_INTERVAL_S


def bar(total: int, desc: str, unit: str = "sample", initial: int = 0, disable: bool = False) -> tqdm:
    """A progress bar with rate and ETA over ``total`` units."""
    return tqdm(total=total, desc=desc, unit=unit, initial=initial, disable=disable, dynamic_ncols=True,
                smoothing=0.1, mininterval=_interval())


@contextlib.contextmanager
def building(what: str, device: str, report=say):
    """Say what is being generated and compiled and about how long it takes; then the time it took."""
    report(f"building {what} for {device}: {BUILD_TIME.get(device, 'a while')} ...")
    start = time.perf_counter()
    yield
    report(f"built {what} in {time.perf_counter() - start:.0f} s")


def simulation_report(device: str, desc: str = "simulating"):
    """Brian2's ``report`` argument for a run: a bar on runtime, which also stops the run when a signal
    asked for it (:mod:`.stopping`); standalone code prints its own percentage lines (it cannot call
    back into Python)."""
    if device != "runtime":
        return "text"
    state = {"bar": None}

    def update(elapsed, completed, start, duration):
        stopping.check()
        if state["bar"] is None:   # a new bar for each run of the network
            state["bar"] = tqdm(total=100, desc=f"{desc} ({float(duration):g} s simulated)", dynamic_ncols=True,
                                mininterval=_interval(),
                                bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]")
        shown = state["bar"]
        shown.update(round(100 * float(completed)) - shown.n)
        if completed >= 1:
            shown.close()
            state["bar"] = None

    return update
