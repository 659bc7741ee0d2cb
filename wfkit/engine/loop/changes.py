"""Waking an engine's loop when the store tells of a commit, instead of polling it.

:class:`ChangeWatcher` is a small thread that blocks in ``store.wait_for_change`` and
calls back when the token moves: another process (or another store object of this one)
has committed something, so the engine's loop should look at the versions of its
instances and for free instances now. An idle engine then reads the store only when
someone writes to it, plus a slow safety poll (:attr:`EngineSettings.safety_poll_interval`).

The engine's own commits move the token too. After each call back the watcher pauses
``poll_interval`` seconds before it waits again, so a busy engine is woken at most once
per poll interval, as often as its loop polled before, and never spins on its own
commits.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from wfkit.engine.protocols import Store

__all__ = ["ChangeWatcher"]

_log = logging.getLogger(__name__)

_SLICE = 0.5
"""Seconds of one wait on the store: how long a stopped watcher may linger (it is not
joined, so that stopping an engine does not wait for it)."""


class ChangeWatcher:
    """Calls ``changed()`` (from its own thread) when the store's change token moves,
    at most once every ``gap`` seconds, until :meth:`stop`."""

    def __init__(self, store: Store, changed: Callable[[], None], gap: float) -> None:
        self.store = store
        self.changed = changed
        self.gap = gap
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start watching (idempotent); the first token is read here, before returning."""
        if self._thread is not None:
            return
        token = self.store.wait_for_change(0)
        self._thread = threading.Thread(
            target=self._watch, args=(token, self._stop), name="wfkit-changes", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop watching; the thread ends within one slice of its wait, unjoined."""
        self._stop.set()
        self._stop = threading.Event()
        self._thread = None

    def _watch(self, token: int, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                moved = self.store.wait_for_change(_SLICE, after=token)
            except Exception:  # closed under us on stop, or a store outage: try later
                if stop.wait(_SLICE):
                    return
                _log.debug("waiting for store changes failed; retrying", exc_info=True)
                continue
            if moved == token or stop.is_set():
                continue
            token = moved
            self.changed()
            stop.wait(self.gap)  # at most one wake per gap, however busy the store
