"""A stop asked for by a signal, honoured where a run can stop cleanly.

SIGTERM (a cluster's or a user's kill) and SIGINT (Ctrl-C) only set a flag here. Raising from the
signal handler itself would land wherever Python happens to be, and inside a finalizer (Brian2
keeps weak references with callbacks) Python ignores the exception, so the run went on and
finished. Instead the training loop and the runs call :func:`check` at the points where stopping
loses nothing: between runs, after the checkpoint is saved. :class:`Interrupted` is then raised
from ordinary code, and the command exits with 130.
"""
from __future__ import annotations

import contextlib
import signal

_requested = {"signal": None}


class Interrupted(KeyboardInterrupt):
    """A stop asked for by SIGTERM or SIGINT, raised where the run could stop cleanly."""


def request(signum: int = signal.SIGTERM) -> None:
    """Ask the running study to stop at its next clean point."""
    _requested["signal"] = signum


def requested() -> bool:
    return _requested["signal"] is not None


def clear() -> None:
    _requested["signal"] = None


def check() -> None:
    """Raise Interrupted if a stop was asked for."""
    if requested():
        raise Interrupted(signal.Signals(_requested["signal"]).name)


@contextlib.contextmanager
def on_signals():
    """While inside: SIGTERM and SIGINT ask for a stop (:func:`request`) and raise nothing. Later SIGTERMs
    are ignored (schedulers send it again), also once stopping; a second SIGINT raises KeyboardInterrupt at
    once (a user's Ctrl-C pressed again, during a long compile, say). Otherwise the previous handlers come
    back afterwards."""
    def handle(signum, frame):
        if signum == signal.SIGINT and requested():
            raise KeyboardInterrupt
        request(signum)
    clear()
    previous = {s: signal.signal(s, handle) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    except KeyboardInterrupt:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)   # stopping already: a repeated SIGTERM must not kill
        signal.signal(signal.SIGINT, previous[signal.SIGINT])
        raise
    except BaseException:
        for s, handler in previous.items():
            signal.signal(s, handler)
        raise
    finally:
        clear()
    for s, handler in previous.items():
        signal.signal(s, handler)
