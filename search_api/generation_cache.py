"""A value computed once per index generation — the link graph, the document centroids — shared by the
background warm-up and the requests.

Keyed weakly by the generation's ``IndexStore``, so a retired generation's values go with it. Built at most once
per generation: when a request asks while the warm-up (or another request) is building, it waits for that build
instead of starting a second one.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class PerGeneration(Generic[T]):
    """``get(svc)``: ``build(svc)`` for the service's current generation, computed once."""

    def __init__(self, build: Callable[[Any], T]) -> None:
        self._build = build
        self._values: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._building: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # store → its build lock
        self._lock = threading.Lock()
        self.builds = 0  # how many times a value was built (tests check that a warm request builds nothing)

    def get(self, svc: Any) -> T:
        store = svc.store
        with self._lock:
            if store in self._values:
                return self._values[store]
            flight = self._building.setdefault(store, threading.Lock())
        with flight:
            with self._lock:
                if store in self._values:
                    return self._values[store]
            value = self._build(svc)
            with self._lock:
                self._values[store] = value
                self.builds += 1
            return value

    def ready(self, svc: Any) -> bool:
        """Whether the current generation's value is already built."""
        with self._lock:
            return svc.store in self._values
