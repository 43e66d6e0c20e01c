"""Figures published no finer than the second: a value as it stood at the last second boundary.

A counter that moves with every tip, polled, times each tip to the moment it was stored. The
public figures are read through ``AsOfSecond``: every change is reported with ``set``, and
``get`` answers the value that held when the current whole second began, so any number of
reads inside one second give one answer, whatever the moment, and it changes only at a
boundary.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["AsOfSecond"]

T = TypeVar("T")


class AsOfSecond(Generic[T]):
    """``get()`` is the value at the start of the current second of ``clock`` (Unix time)."""

    def __init__(self, value: T, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._second: int | None = None  # the second of the latest change
        self._before = value  # what held when that second began (before its first change)
        self._current = value

    def set(self, value: T) -> None:
        with self._lock:
            second = int(self._clock())
            if second != self._second:
                self._before, self._second = self._current, second
            self._current = value

    def get(self) -> T:
        with self._lock:
            if self._second is None or int(self._clock()) > self._second:
                return self._current  # unchanged since before this second began
            return self._before
