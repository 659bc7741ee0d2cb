"""A change token that commits bump and waiters sleep on: the in-process half of every
store's ``wait_for_change`` (SQLite and PostgreSQL alike)."""

from __future__ import annotations

import itertools
import threading

__all__ = ["ChangeSignal"]


class ChangeSignal:
    """A counter that commits bump and waiters sleep on (any thread)."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self.token = 0
        self._cond = threading.Condition(threading.Lock())
        self._waiters = 0

    def changed(self) -> None:
        """Say that something was committed: bump the token, wake the waiters."""
        self.token = next(self._counter)  # atomic under the GIL; tokens only grow
        if self._waiters:  # a waiter counts itself (under the lock) before it looks
            with self._cond:
                self._cond.notify_all()

    def wait(self, after: int, timeout: float) -> None:
        """Sleep until the token is not ``after``, or ``timeout`` seconds."""
        with self._cond:
            self._waiters += 1
            try:
                if self.token == after:
                    self._cond.wait(timeout)
            finally:
                self._waiters -= 1
