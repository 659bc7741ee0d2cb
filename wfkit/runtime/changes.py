"""Telling followers of instances (notebook widgets) that their instance changed, from
the store's change notification instead of a poll: :class:`InstanceChanges`.

One per runtime (:attr:`Runtime.changes <wfkit.runtime.api.Runtime.changes>`), shared by
every follower: one thread blocks in ``store.wait_for_change`` (PostgreSQL's ``NOTIFY``,
SQLite's ``data_version``) while anyone follows. When the token moves, it reads the
versions of the followed instances in one query and calls back only the followers whose
instance's version differs from the one they last drew; an idle store costs no read at
all. The thread stops when the last follower leaves.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from wfkit.engine.loop.changes import ChangeWatcher
from wfkit.engine.protocols import Store

__all__ = ["Follower", "InstanceChanges"]

_log = logging.getLogger(__name__)

_GAP = 0.1
"""Seconds the watcher rests after a call back: at most ten version reads a second,
however busy the store (widgets redraw at most five times a second anyway)."""


class Follower:
    """One follower of one instance: ``seen()`` gives the version it last drew,
    ``changed()`` is called (from the watcher's thread) when the store holds another."""

    def __init__(
        self, instance_id: str, seen: Callable[[], int], changed: Callable[[], None]
    ) -> None:
        self.instance_id = instance_id
        self.seen = seen
        self.changed = changed


class InstanceChanges:
    """Calls followers back when their instance's version moves in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        #: How many times the versions of the followed instances were read.
        self.looks = 0
        self._followers: list[Follower] = []
        self._lock = threading.Lock()
        self._watcher: ChangeWatcher | None = None

    def follow(self, follower: Follower) -> None:
        """Start calling ``follower`` back (starts the watcher's thread if needed)."""
        with self._lock:
            self._followers.append(follower)
            if self._watcher is None:
                self._watcher = ChangeWatcher(self.store, self._look, _GAP)
                self._watcher.start()

    def leave(self, follower: Follower) -> None:
        """Stop calling ``follower`` back; the thread stops with the last follower."""
        with self._lock:
            if follower in self._followers:
                self._followers.remove(follower)
            if not self._followers and self._watcher is not None:
                self._watcher.stop()
                self._watcher = None

    @property
    def watching(self) -> bool:
        """True while the watcher's thread runs (someone follows)."""
        return self._watcher is not None

    def close(self) -> None:
        """Drop every follower and stop the thread."""
        with self._lock:
            self._followers.clear()
            if self._watcher is not None:
                self._watcher.stop()
                self._watcher = None

    def _look(self) -> None:
        with self._lock:
            followers = tuple(self._followers)
        if not followers:
            return
        ids = sorted({f.instance_id for f in followers})
        try:
            versions = self.store.versions(ids)
        except Exception:  # an outage: the next change (or the store's return) looks again
            _log.debug("reading versions of followed instances failed", exc_info=True)
            return
        self.looks += 1
        for follower in followers:
            version = versions.get(follower.instance_id)
            if version is None or version == follower.seen():
                continue
            try:
                follower.changed()
            except Exception:  # a broken follower never stops the others
                _log.exception("a wfkit change follower failed (ignored)")
