"""Spies for tests of the query path: which thread ran a step."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def thread_names(obj: object, attr: str) -> Iterator[list[str]]:
    """Record the name of the thread of every call of ``obj.attr`` (an instance attribute shadowing the method
    or function for the duration), then restore it."""
    names: list[str] = []
    real = getattr(obj, attr)
    shadowed = attr in vars(obj)

    def spy(*a, **k):
        names.append(threading.current_thread().name)
        return real(*a, **k)

    setattr(obj, attr, spy)
    try:
        yield names
    finally:
        if shadowed:
            setattr(obj, attr, real)
        else:
            delattr(obj, attr)
