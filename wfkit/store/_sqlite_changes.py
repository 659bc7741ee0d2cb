"""Change notification of the SQLite store: ``wait_for_change`` without a tight poll.

Every write transaction this process commits on a store file bumps a counter shared by
all the :class:`~wfkit.store.sqlite.SqliteStore` objects of this process on that file
(:func:`signal_for`) and wakes their waiters at once. Commits of other processes are
seen by ``PRAGMA data_version`` (which changes when another connection has committed),
read on a connection kept for it, at most every :data:`CHANGE_POLL` seconds while
someone waits. The token is a number that only grows; a change seen twice (by the
counter and by ``data_version``) only wakes a waiter twice, which is allowed: a token
that moved says "look again", never what changed.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable

from wfkit.store._change_signal import ChangeSignal

__all__ = ["CHANGE_POLL", "ChangeSignal", "ChangeWatch", "signal_for"]

CHANGE_POLL = 0.05
"""Seconds between two looks at ``PRAGMA data_version`` while a waiter waits (the same
interval as the engine's poll of versions)."""


_signals: weakref.WeakValueDictionary[str, ChangeSignal] = weakref.WeakValueDictionary()
_signals_lock = threading.Lock()


def signal_for(path: str) -> ChangeSignal:
    """The signal of the store file ``path``, shared by this process's stores on it
    (a new one for ``:memory:``, whose database is the store's own)."""
    if path == ":memory:":
        return ChangeSignal()
    key = os.path.realpath(path)
    with _signals_lock:
        found = _signals.get(key)
        if found is None:
            found = _signals[key] = ChangeSignal()
        return found


class ChangeWatch:
    """Tells a store's waiters of commits: at once for this process's, within
    :data:`CHANGE_POLL` seconds for other processes' (``None`` factory: no others)."""

    def __init__(
        self, signal: ChangeSignal, factory: Callable[[], sqlite3.Connection] | None
    ) -> None:
        self.signal = signal
        self._factory = factory
        self._conn: sqlite3.Connection | None = None
        self._seen: int | None = None
        self._lock = threading.Lock()
        self._closed = False

    def _look(self) -> None:
        """Read ``data_version``; bump the signal when another connection committed."""
        if self._factory is None:
            return
        with self._lock:
            if self._closed:  # a waiter that outlived the store: never reopen it
                raise sqlite3.ProgrammingError("the store is closed")
            if self._conn is None:
                self._conn = self._factory()
            (version,) = self._conn.execute("PRAGMA data_version").fetchone()
            if self._seen is not None and version != self._seen:
                self.signal.changed()
            self._seen = version

    def wait_for_change(self, timeout: float, after: int | None) -> int:
        """The token now (``after`` None), or once it differs from ``after``, or after
        ``timeout`` seconds (then it may equal ``after``)."""
        self._look()
        if after is None:
            return self.signal.token
        deadline = time.monotonic() + max(0.0, timeout)
        while self.signal.token == after:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.signal.wait(after, min(left, CHANGE_POLL) if self._factory else left)
            self._look()
        return self.signal.token

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None
