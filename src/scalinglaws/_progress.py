"""Progress of long computations (bootstraps, backtests, ``--law auto``, grouped fits), told to
whoever listens: the CLI draws bars or prints a line per stage; the library alone tells no one.

A listener is installed for a block of code (`listen`); the code marks its stages (`stage`) and
counts what it finishes. A stage opened with ``lanes=True`` is advanced by the batched engine as
its lanes (the bootstrap's replicates) finish. Listeners live in a context variable, so threads
(a web server's requests) do not see each other's.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import Protocol


class Listener(Protocol):
    """``start`` returns a handle for the stage; ``end``'s ``ok`` is False when the stage raised."""

    def start(self, name: str, total: int | None) -> object: ...
    def update(self, handle: object, done: int) -> None: ...
    def end(self, handle: object, done: int, ok: bool) -> None: ...


_listener: ContextVar[Listener | None] = ContextVar("scalinglaws_progress", default=None)
_lanes: ContextVar = ContextVar("scalinglaws_progress_lanes", default=None)
_current: ContextVar = ContextVar("scalinglaws_progress_current", default=None)


@contextlib.contextmanager
def listen(listener: Listener):
    """Tell ``listener`` of the stages run inside this block."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


@contextlib.contextmanager
def stage(name: str, total: int | None = None, *, lanes: bool = False):
    """A stage of ``total`` things; yields ``advance(k=1)``. ``lanes``: the engine's finished lanes
    advance it (nested stages and lanes of other solves do not)."""
    listener = _listener.get()
    if listener is None:
        yield lambda k=1: None
        return
    done = [0]
    handle = listener.start(name, total)

    def advance(k: int = 1) -> None:
        done[0] += int(k)
        listener.update(handle, done[0])

    tokens = _lanes.set(advance if lanes else None), _current.set(advance)
    try:
        yield advance
    except BaseException:
        listener.end(handle, done[0], False)
        raise
    else:
        listener.end(handle, done[0], True)
    finally:
        _lanes.reset(tokens[0])
        _current.reset(tokens[1])


def step(k: int = 1) -> None:
    """``k`` more things of the innermost open stage are done."""
    advance = _current.get()
    if advance is not None:
        advance(k)


def lanes_finished(k: int) -> None:
    """The batched engine: ``k`` more lanes of the current counted solve finished."""
    advance = _lanes.get()
    if advance is not None and k:
        advance(k)


@contextlib.contextmanager
def uncounted():
    """Lanes finished inside this block count toward no stage (a second pass over the same lanes)."""
    token = _lanes.set(None)
    try:
        yield
    finally:
        _lanes.reset(token)
